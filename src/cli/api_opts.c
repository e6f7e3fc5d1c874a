/* The API front-end's option table (cli/api_opts.h). */
#include "cli/api_opts.h"

#include "cli/common_opts.h"

#include <string.h>

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
	{ .name = "metadata",
	  .code = API_O_METADATA,
	  .value = true,
	  .arg = "FILE",
	  .path = CLI_PATH_IN,
	  .help = "the MMDS data store's first content (JSON), as a PUT /mmds" },
	{ .name = "http-api-max-payload-size",
	  .code = API_O_MAX_PAYLOAD,
	  .value = true,
	  .arg = "BYTES",
	  .help = "the largest request body the API reads (default 51200); also the "
		  "MMDS data store's limit without --mmds-size-limit" },
	{ .name = "mmds-size-limit",
	  .code = API_O_MMDS_SIZE_LIMIT,
	  .value = true,
	  .arg = "BYTES",
	  .help = "the MMDS data store's limit (default 51200)" },
	CLI_COMMON_BOOT_TIMER,
	CLI_COMMON_SECCOMP,
	CLI_COMMON_NO_SECCOMP,
	CLI_COMMON_LANDLOCK,
	/* The options a jailer adds: the VMM is in a jail; the start-up times in the metrics. */
	{ .name = "start-time-us",
	  .code = API_O_JAILER_STAMP,
	  .value = true,
	  .arg = "US",
	  .hidden = true },
	{ .name = "start-time-cpu-us",
	  .code = API_O_JAILER_STAMP,
	  .value = true,
	  .arg = "US",
	  .hidden = true },
	{ .name = "parent-cpu-time-us",
	  .code = API_O_JAILER_STAMP,
	  .value = true,
	  .arg = "US",
	  .hidden = true },
	/* Firecracker's other flags (docs/security.md, "Firecracker's jailer"). */
	{ .name = "seccomp-filter",
	  .code = API_O_SECCOMP_FILTER,
	  .value = true,
	  .arg = "FILE",
	  .help = "Firecracker's seccompiler output: its filters apply as well as volt's",
	  .path = CLI_PATH_IN },
	{ .name = "module",
	  .code = API_O_FC_IGNORED,
	  .value = true,
	  .arg = "MODULE",
	  .hidden = true },

	{ .name = "enable-pci", .code = API_O_FC_IGNORED, .hidden = true },

	{ .name = "describe-snapshot",
	  .code = API_O_FC_UNSUPPORTED,
	  .value = true,
	  .arg = "FILE",
	  .hidden = true },
	{ .name = "snapshot-version", .code = API_O_FC_UNSUPPORTED, .hidden = true },
	{ .name = "version", .code = API_O_VERSION, .hidden = true },
	{ .name = "help", .code = API_O_HELP, .hidden = true },
	{ .name = NULL },
};

const char *api_fc_flag_note(const char *name)
{
	if (!strcmp(name, "enable-pci"))
		return "volt's devices are virtio-mmio; the guest finds them on its command line";
	if (!strcmp(name, "describe-snapshot") || !strcmp(name, "snapshot-version"))
		return "volt's snapshots have their own format (docs/snapshots.md)";
	return "volt does not use it";
}

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
