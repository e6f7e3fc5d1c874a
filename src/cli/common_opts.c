/* The one parser of the options the front-ends share (cli/common_opts.h).
 * The messages are the ones `volt run` and the API front-end always gave. */
#include "cli/common_opts.h"

#include "sandbox/sandbox.h"
#include "util/log.h"

#include <errno.h>

int cli_common_option(int code, const char *arg, struct cli_common *c)
{
	enum sandbox_landlock_mode landlock;
	enum sandbox_seccomp_mode seccomp;

	switch (code) {
	case CLI_O_LOG_LEVEL:
		return log_level_option(arg) ? -EINVAL : 0;
	case CLI_O_SECCOMP:
		if (sandbox_seccomp_mode_parse(arg, &seccomp)) {
			pr_err("--seccomp: '%s' is not kill, log or off", arg);
			return -EINVAL;
		}
		/* sandbox_seccomp_prepare() warns when it is off. */
		sandbox_set_seccomp_mode(seccomp);
		return 0;
	case CLI_O_NO_SECCOMP:
		sandbox_set_seccomp_mode(SANDBOX_SECCOMP_OFF);
		return 0;
	case CLI_O_LANDLOCK:
		if (sandbox_landlock_mode_parse(arg, &landlock)) {
			pr_err("--landlock: '%s' is not auto, require or off", arg);
			return -EINVAL;
		}
		sandbox_set_landlock_mode(landlock);
		return 0;
	case CLI_O_BOOT_TIMER:
		c->boot_timer = true;
		return 0;
	default:
		return 1;
	}
}
