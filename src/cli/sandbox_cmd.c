/* `volt sandbox --print [--thread vmm|vcpu|api]`: the seccomp lists as text. */
#include "cli/commands.h"

#include "cli/opt.h"
#include "sandbox/sandbox.h"
#include "util/log.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>

static const struct cli_opt sandbox_opts[] = {
	{ .name = "print", .code = 'p' },
	{ .name = "thread", .code = 't', .value = true, .arg = "vmm|vcpu|api" },
	{ .name = "help", .code = 'h', .hidden = true },
	{ .name = NULL },
};

static void usage(FILE *f)
{
	cli_opt_usage(
		f, "sandbox --print", sandbox_opts,
		"Lists the system calls each kind of volt thread may make once it serves the "
		"guest,\n"
		"with the conditions on their arguments. Any other system call kills volt\n"
		"(run --seccomp=log allows and logs them instead; --no-seccomp turns the filters "
		"off).\n");
}

int sandbox_cmd(int argc, char **argv)
{
	struct option longopts[CLI_OPT_MAX + 1];
	int kind = -1, c;
	bool print = false;

	if (cli_opt_longopts(sandbox_opts, longopts))
		return -E2BIG;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			print = true;
			break;
		case 't':
			kind = sandbox_thread_find(optarg);
			if (kind < 0) {
				pr_err("--thread '%s': not vmm, vcpu or api", optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (!print || optind < argc) {
		usage(stderr);
		return -EINVAL;
	}
	return sandbox_print_lists(kind);
}
