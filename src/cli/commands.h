/* volt's commands, one table (kvmtool's kvm_commands[] is the model): each
 * has a name, the synopsis and one line of help the top-level usage shows,
 * and a handler. main() only dispatches through cli_main(). Handlers return
 * an exit status > 0 (a guest's), 0, or -errno. */
#ifndef VOLT_CLI_COMMANDS_H
#define VOLT_CLI_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct cli_command {
	const char *name;     /* argv[1]; NULL for a usage line of the entry before */
	const char *alias;    /* another spelling of name, or NULL */
	bool options;	      /* also takes any argv[1] starting with "--" */
	const char *synopsis; /* the usage's left column */
	const char *help;
	/* argv[0] is the command's name (or, for options, the first option). */
	int (*fn)(int argc, char **argv, const struct timespec *started);
};

extern const struct cli_command cli_commands[];

/* The whole of volt's main(): picks the command and returns the exit status.
 * Run as `jailer...` (a link or copy named so) it is `volt jailer`; as
 * `firecracker...` it is the API front end, its socket by default
 * Firecracker's /run/firecracker.socket. */
int cli_main(int argc, char **argv, const struct timespec *started);

/* `--version`, in every front end: Firecracker's first line, "Firecracker
 * v<semver>", which tools built for Firecracker parse and compare (its test
 * framework, Kata Containers' minimum version), with the release volt
 * follows and volt's own version as build metadata; then volt's. */
void cli_print_version(void);

/* A cache listing's date of secs since the epoch, local time; "?" for one
 * the C library cannot convert (a cache file's number is anything). */
void cli_format_date(uint64_t secs, char *buf, size_t size);

/* The front-ends that live in cli/. */
/* `volt run`; started is when the process began (cli/run_cmd.c). */
int run_cmd(int argc, char **argv, const struct timespec *started);
/* `volt --api-sock PATH` / `volt --config-file FILE` (cli/api_cmd.c);
 * argv[0] is the first option. */
int api_main(int argc, char **argv, const struct timespec *started);
/* api_main() run as Firecracker's binary (a link named firecracker): what it
 * does differently is Firecracker's own rule where volt's is kinder (an API
 * socket left at the path is refused, not replaced when stale). */
int api_main_as_firecracker(int argc, char **argv, const struct timespec *started);
/* `volt jail` (cli/jail_cmd.c). */
int jail_cmd(int argc, char **argv);
/* `volt jailer`: Firecracker's jailer's command line (cli/jailer_cmd.c);
 * argv[0] is "jailer". */
int jailer_cmd(int argc, char **argv, const struct timespec *started);
/* `volt kernel build|list|path|rm` (cli/kernel_cmd.c). */
int kernel_cmd(int argc, char **argv);
/* `volt rootfs build|path` (cli/rootfs_cmd.c). */
int rootfs_cmd(int argc, char **argv);
/* `volt cpuid`: prints the supported or the normalized table a vCPU gets
 * (cli/cpuid_cmd.c). */
int cpuid_cmd(int argc, char **argv);
/* `volt sandbox --print` (cli/sandbox_cmd.c). */
int sandbox_cmd(int argc, char **argv);
/* `volt snapshot create|...` (cli/snapshot_cmd.c). */
int snapshot_cmd(int argc, char **argv);

#endif
