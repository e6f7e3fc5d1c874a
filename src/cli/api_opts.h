/* The API front-end's options (`volt --api-sock PATH`, `volt --config-file
 * FILE`), described once (cli/opt.h): api_main() builds its getopt array
 * and usage from them, the jailer plans with them. */
#ifndef VOLT_CLI_API_OPTS_H
#define VOLT_CLI_API_OPTS_H

#include "cli/opt.h"

/* getopt_long codes of the API front-end's own options. */
enum {
	API_O_API_SOCK = 256,
	API_O_ID,
	API_O_CONFIG,
	API_O_NO_API,
	API_O_LOG_PATH,
	API_O_SHOW_LEVEL,
	API_O_SHOW_ORIGIN,
	API_O_METRICS,
	/* The options a jailer adds (Firecracker's --start-time-us...): the
	 * VMM runs in its jail (vm_config.in_jail); their values are unused. */
	API_O_JAILER_STAMP,
	API_O_SNAPSHOT_DIR,
	API_O_VERSION,
	API_O_HELP,
	API_O_METADATA,
	API_O_MMDS_SIZE_LIMIT,
	API_O_MAX_PAYLOAD,
	API_O_SECCOMP_FILTER,
	/* Firecracker's flags volt accepts and does not use: a warning. */
	API_O_FC_IGNORED,
	/* Firecracker's flags volt cannot honour: refused with the reason. */
	API_O_FC_UNSUPPORTED,
};

/* The socket when neither --api-sock nor --no-api is given (Firecracker's). */
#define API_DEFAULT_SOCK "/run/volt.socket"

extern const struct cli_opt api_opts[];

/* Why a Firecracker flag (API_O_FC_IGNORED or API_O_FC_UNSUPPORTED, its
 * name without "--") is ignored or refused. */
const char *api_fc_flag_note(const char *name);

/* "usage: volt --api-sock PATH ..." on f. */
void api_usage(FILE *f);

#endif
