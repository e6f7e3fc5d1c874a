/* The command table and the top-level usage built from it (cli/commands.h). */
#include "cli/commands.h"

#include "cli/api_opts.h"
#include "cli/jailer.h"

#include "arch/x86/cpuid.h"
#include "kernel/kernel.h"
#include "kernel/rootfs.h"
#include "sandbox/sandbox.h"
#include "util/log.h"
#include "vmm/vm.h"
#include "volt-config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The handlers that do not need the start time. */
static int cmd_jail(int argc, char **argv, const struct timespec *started)
{
	(void)started;
	return jail_cmd(argc, argv);
}

static int cmd_sandbox(int argc, char **argv, const struct timespec *started)
{
	(void)started;
	return sandbox_cmd(argc, argv);
}

static int cmd_kernel(int argc, char **argv, const struct timespec *started)
{
	(void)started;
	return kernel_cmd(argc, argv);
}

static int cmd_rootfs(int argc, char **argv, const struct timespec *started)
{
	(void)started;
	return rootfs_cmd(argc, argv);
}

static int cmd_cpuid(int argc, char **argv, const struct timespec *started)
{
	(void)started;
	return cpuid_cmd(argc, argv);
}

static int cmd_snapshot(int argc, char **argv, const struct timespec *started)
{
	(void)started;
	return snapshot_cmd(argc, argv);
}

void cli_format_date(uint64_t secs, char *buf, size_t size)
{
	time_t t = (time_t)secs;
	struct tm tm;

	if (secs > (uint64_t)INT64_MAX || !localtime_r(&t, &tm) ||
	    !strftime(buf, size, "%Y-%m-%d %H:%M", &tm))
		snprintf(buf, size, "?");
}

void cli_print_version(void)
{
	printf("Firecracker v%s\n\nvolt %s, following Firecracker %s's API and command line\n",
	       VOLT_FC_VERSION, VOLT_VERSION, FC_COMPAT_VERSION);
}

static int cmd_version(int argc, char **argv, const struct timespec *started)
{
	(void)argc;
	(void)argv;
	(void)started;
	cli_print_version();
	return 0;
}

const struct cli_command cli_commands[] = {
	{ "run", NULL, false, "run", "boot a microVM (the guest kit by default)", run_cmd },
	{ "--api-sock", NULL, true, "--api-sock PATH [--id ID]",
	  "wait for configuration on a Firecracker-style API", api_main },
	{ NULL, NULL, false, "--config-file FILE",
	  "boot from a Firecracker-style JSON configuration", NULL },
	{ "jail", NULL, false, "jail", "run a VMM in a chroot jail as an unprivileged user",
	  cmd_jail },
	{ "jailer", NULL, false, "jailer --id ID ...",
	  "Firecracker's jailer (also run as `jailer`)", jailer_cmd },
	{ "sandbox", NULL, false, "sandbox --print", "list each thread's allowed system calls",
	  cmd_sandbox },
	{ "kernel", NULL, false, "kernel build|list|path|rm",
	  "build, cache and select guest kernels", cmd_kernel },
	{ "rootfs", NULL, false, "rootfs build|path", "build the busybox guest root filesystem",
	  cmd_rootfs },
	{ "cpuid", NULL, false, "cpuid", "show the CPUID table a vCPU gets", cmd_cpuid },
	{ "snapshot", NULL, false, "snapshot create", "snapshot a running microVM through its API",
	  cmd_snapshot },
	{ "version", "--version", false, "version", "print the version", cmd_version },
	{ NULL, NULL, false, NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	const struct cli_command *c;

	fputs("usage: volt <command> [options]\n\ncommands:\n", f);
	for (c = cli_commands; c->synopsis; c++)
		fprintf(f, "  %-27s %s\n", c->synopsis, c->help);
	fputs("\n'volt <command> --help' describes each command.\n", f);
}

static const struct cli_command *find(const char *cmd)
{
	const struct cli_command *c;

	for (c = cli_commands; c->synopsis; c++)
		if (c->name && (!strcmp(cmd, c->name) || (c->alias && !strcmp(cmd, c->alias))))
			return c;
	/* Options first: the API front-end (`volt --config-file F`, `volt --id X ...`). */
	for (c = cli_commands; c->synopsis; c++)
		if (c->options && !strncmp(cmd, "--", 2))
			return c;
	return NULL;
}

static int exit_status(int err)
{
	/* run and the API return the guest's exit status (0, 1, 128+signal), others -errno. */
	if (err > 0)
		return err;
	return err ? 1 : 0;
}

/* The program's name without its directory. */
static const char *prog_name(const char *argv0)
{
	const char *s = argv0 ? strrchr(argv0, '/') : NULL;

	return s ? s + 1 : argv0 ? argv0 : "";
}

/* Run as `firecracker`: the API front end, as Firecracker's binary takes its
 * arguments; the socket defaults to Firecracker's. */
static int firecracker_main(int argc, char **argv, const struct timespec *started)
{
	bool has_sock = false, help = false, version = false;
	char **args;
	int i, n = 0, end, err;

	/* Firecracker's arg_parser: what follows "--" is extra arguments, which
	 * its main ignores; --help (or -h), then --version, anywhere before it
	 * win over every other argument, valid or not. */
	for (end = 1; end < argc && strcmp(argv[end], "--"); end++) {
		help |= !strcmp(argv[end], "--help") || !strcmp(argv[end], "-h");
		version |= !strcmp(argv[end], "--version");
		if (!strcmp(argv[end], "--api-sock") || !strncmp(argv[end], "--api-sock=", 11) ||
		    !strcmp(argv[end], "--no-api"))
			has_sock = true;
	}
	if (help) {
		printf("Firecracker v%s\n\n", VOLT_FC_VERSION);
		api_usage(stdout);
		return 0;
	}
	if (version) {
		cli_print_version();
		return 0;
	}
	args = calloc((size_t)argc + 2, sizeof(*args));
	if (!args)
		return -ENOMEM;
	for (i = 1; i < end; i++)
		args[n++] = argv[i];
	if (!has_sock) {
		args[n++] = "--api-sock";
		args[n++] = FIRECRACKER_DEFAULT_API_SOCK;
	}
	err = api_main_as_firecracker(n, args, started);
	free(args);
	return err;
}

int cli_main(int argc, char **argv, const struct timespec *started)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	const char *prog = prog_name(argc ? argv[0] : NULL);
	const struct cli_command *c;
	int err;

	/* A link or copy named jailer (jailer-v1.10-x86_64...) or firecracker. */
	if (!strncmp(prog, "jailer", 6))
		return exit_status(jailer_cmd(argc, argv, started));
	if (!strncmp(prog, "firecracker", 11))
		return exit_status(firecracker_main(argc, argv, started));

	if (!cmd) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	c = find(cmd);
	if (!c) {
		pr_err("unknown command '%s'", cmd);
		usage(stderr);
		return 2;
	}
	err = c->fn(argc - 1, argv + 1, started);
	return exit_status(err);
}
