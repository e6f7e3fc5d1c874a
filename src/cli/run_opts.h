/* `volt run`'s options, described once (cli/opt.h): run_cmd() builds its
 * getopt array and usage from them, the jailer plans with them. The codes
 * are the characters run_cmd()'s switch has always used; the shared
 * options carry the CLI_O_* codes of cli/common_opts.h. */
#ifndef VOLT_CLI_RUN_OPTS_H
#define VOLT_CLI_RUN_OPTS_H

#include "cli/opt.h"

/* The device options (--drive, --net...) come from the device table: kind i
 * of device_table[] has the code CLI_DEVICE_CODE + i. */
#define CLI_DEVICE_CODE 0x2000

extern struct cli_opt run_opts[];

/* "usage: volt run ..." on f. */
void run_usage(FILE *f);

#endif
