/* The API front-end's option table (cli/api_opts.h). */
#include "cli/api_opts.h"

#include "cli/common_opts.h"

const struct cli_opt api_opts[] = {
	{ .name = "api-sock",
	  .code = API_O_API_SOCK,
	  .value = true,
	  .arg = "PATH",
	  .path = CLI_PATH_SOCK },
	{ .name = "id", .code = API_O_ID, .value = true, .arg = "ID" },
	{ .name = "config-file",
	  .code = API_O_CONFIG,
	  .value = true,
	  .arg = "FILE",
	  .path = CLI_PATH_CONFIG },
	{ .name = "no-api", .code = API_O_NO_API },
	CLI_COMMON_LOG_LEVEL,
	/* Firecracker's name for --log-level. */
	{ .name = "level", .code = CLI_O_LOG_LEVEL, .value = true, .arg = "LEVEL" },
	{ .name = "log-path",
	  .code = API_O_LOG_PATH,
	  .value = true,
	  .arg = "PATH",
	  .path = CLI_PATH_OUT },
	{ .name = "show-level", .code = API_O_SHOW_LEVEL },
	{ .name = "show-log-origin", .code = API_O_SHOW_ORIGIN },
	{ .name = "metrics-path",
	  .code = API_O_METRICS,
	  .value = true,
	  .arg = "PATH",
	  .path = CLI_PATH_OUT },
	{ .name = "snapshot-dir",
	  .code = API_O_SNAPSHOT_DIR,
	  .value = true,
	  .arg = "DIR",
	  .path = CLI_PATH_DIR,
	  .help = "PUT /snapshot/create may write its files under DIR (Landlock)" },
	CLI_COMMON_BOOT_TIMER,
	CLI_COMMON_SECCOMP,
	CLI_COMMON_NO_SECCOMP,
	CLI_COMMON_LANDLOCK,
	/* The jailer's timing options: accepted, not used. */
	{ .name = "start-time-us",
	  .code = API_O_IGNORED,
	  .value = true,
	  .arg = "US",
	  .hidden = true },
	{ .name = "start-time-cpu-us",
	  .code = API_O_IGNORED,
	  .value = true,
	  .arg = "US",
	  .hidden = true },
	{ .name = "parent-cpu-time-us",
	  .code = API_O_IGNORED,
	  .value = true,
	  .arg = "US",
	  .hidden = true },
	{ .name = "version", .code = API_O_VERSION, .hidden = true },
	{ .name = "help", .code = API_O_HELP, .hidden = true },
	{ .name = NULL },
};

void api_usage(FILE *f)
{
	cli_opt_usage(f,
		      "--api-sock PATH [--id ID] [--config-file FILE]\n"
		      "       volt --config-file FILE --no-api [--id ID]\n"
		      "  options:",
		      api_opts,
		      "Firecracker's REST API on a Unix socket (docs/api.md), or a boot from its "
		      "JSON\nconfiguration file. The guest's serial console is stdin/stdout.\n");
}
