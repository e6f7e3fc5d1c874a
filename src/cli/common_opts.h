/* The options several front-ends share (log level, seccomp, Landlock, boot
 * timer): their table entries and the one parser for them. A front-end puts
 * the CLI_COMMON_* entries it accepts into its own table (cli/opt.h) and
 * hands every getopt_long code to cli_common_option() before its own switch. */
#ifndef VOLT_CLI_COMMON_OPTS_H
#define VOLT_CLI_COMMON_OPTS_H

#include "cli/opt.h"

#include <stdbool.h>

/* getopt_long codes of the shared options: above any character a
 * front-end's own switch uses. */
enum {
	CLI_O_LOG_LEVEL = 0x1000,
	CLI_O_SECCOMP,
	CLI_O_NO_SECCOMP,
	CLI_O_LANDLOCK,
	CLI_O_BOOT_TIMER,
};

/* clang-format off */
#define CLI_COMMON_LOG_LEVEL \
	{ .name = "log-level", .code = CLI_O_LOG_LEVEL, .value = true, .arg = "error|warn|info|debug" }
#define CLI_COMMON_SECCOMP \
	{ .name = "seccomp", .code = CLI_O_SECCOMP, .value = true, .arg = "kill|log|off" }
#define CLI_COMMON_NO_SECCOMP { .name = "no-seccomp", .code = CLI_O_NO_SECCOMP }
#define CLI_COMMON_LANDLOCK \
	{ .name = "landlock", .code = CLI_O_LANDLOCK, .value = true, .arg = "auto|require|off" }
#define CLI_COMMON_BOOT_TIMER { .name = "boot-timer", .code = CLI_O_BOOT_TIMER }
/* clang-format on */

/* What the shared options set that the front-end itself uses. */
struct cli_common {
	bool boot_timer;
};

/* 1 when code is none of the shared options; 0 when it was one and is
 * applied (the log level and sandbox modes are set at once); -EINVAL, with
 * the message printed, for a bad value. */
int cli_common_option(int code, const char *arg, struct cli_common *c);

#endif
