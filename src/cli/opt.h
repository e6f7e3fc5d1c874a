/* Command-line options as data. Each front-end describes its long options
 * once, in a table of struct cli_opt ending with an entry whose name is NULL;
 * getopt_long's struct option[] and the option part of the usage text are
 * built from it, and the jailer reads the same table to learn which
 * arguments take a value and which name host files (and how), so that no
 * list of options is kept twice. Functions return 0 or -errno. */
#ifndef VOLT_CLI_OPT_H
#define VOLT_CLI_OPT_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* What an option's value names on the host. */
enum cli_path {
	CLI_PATH_NONE,
	CLI_PATH_IN,	     /* a file the VMM reads (a kernel) */
	CLI_PATH_INOUT,	     /* a file the VMM reads and writes (a writable pmem file) */
	CLI_PATH_DISK_IN,    /* a read-only drive: a regular file or a block device */
	CLI_PATH_DISK_INOUT, /* a writable drive: a regular file or a block device */
	CLI_PATH_OUT,	     /* a file the VMM writes or creates (a log; a FIFO is fine) */
	CLI_PATH_SOCK,	     /* a Unix socket the VMM creates */
	CLI_PATH_DIR,	     /* a directory */
	CLI_PATH_CONFIG,     /* a configuration file read, whose contents name more files */
};

/* Called for each host path inside a value: *jail_path (malloc'd) is what
 * the value should say instead. */
typedef int (*cli_path_fn)(void *ctx, enum cli_path kind, const char *host_path, char **jail_path,
			   char *why, size_t why_size);

/* A value holding host paths among other things ("path=FILE,ro"): calls fn
 * for each and returns the value rewritten in *out (malloc'd). why gets the
 * whole message ("--drive 'x': ..."). */
typedef int (*cli_spec_paths_fn)(const char *opt, const char *val, cli_path_fn fn, void *ctx,
				 char **out, char *why, size_t why_size);

struct cli_opt {
	const char *name; /* without "--"; NULL ends the table */
	int code;	  /* getopt_long's val: what the front-end's switch sees */
	bool value;	  /* takes a value (required_argument) */
	bool repeat;	  /* may be given more than once (the usage says "...") */
	bool hidden;	  /* accepted, not shown in the usage */
	const char *arg;  /* the value in the usage: "PATH", "kill|log|off" */
	const char *help; /* one line under the synopsis, or NULL */
	enum cli_path path;
	cli_spec_paths_fn spec_paths; /* set when the value holds host paths inside */
};

/* The most options one table holds (the getopt array is built on the stack). */
#define CLI_OPT_MAX 48

/* out (CLI_OPT_MAX + 1 entries) becomes the table as getopt_long's array. */
int cli_opt_longopts(const struct cli_opt *t, struct option *out);
/* The entry for the option named by name's first len characters, or NULL. */
const struct cli_opt *cli_opt_find(const struct cli_opt *t, const char *name, size_t len);
/* "usage: volt <synopsis>" and every shown option as "[--name ARG]",
 * wrapped under the synopsis; then "  --name ARG   help" for each option
 * with help, and the text after it (epilogue). */
void cli_opt_usage(FILE *f, const char *synopsis, const struct cli_opt *t, const char *epilogue);

#endif
