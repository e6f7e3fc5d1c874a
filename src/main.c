/* volt: command-line entry. Subcommands live in their modules; main only
 * dispatches and turns their -errno into an exit status. */
#include "api/api.h"
#include "arch/x86/cpuid.h"
#include "kernel/kernel.h"
#include "kernel/rootfs.h"
#include "sandbox/sandbox.h"
#include "util/log.h"
#include "vmm/vm.h"
#include "volt-config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char usage[] =
	"usage: volt <command> [options]\n"
	"\n"
	"commands:\n"
	"  run                         boot a microVM (the guest kit by default)\n"
	"  --api-sock PATH [--id ID]   wait for configuration on a Firecracker-style API\n"
	"  --config-file FILE          boot from a Firecracker-style JSON configuration\n"
	"  jail                        run a VMM in a chroot jail as an unprivileged user\n"
	"  sandbox --print             list each thread's allowed system calls\n"
	"  kernel build|list|path|rm   build, cache and select guest kernels\n"
	"  rootfs build|path           build the busybox guest root filesystem\n"
	"  cpuid                       show the CPUID table a vCPU gets\n"
	"  version                     print the version\n"
	"\n"
	"'volt <command> --help' describes each command.\n";

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	struct timespec started;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &started);

	if (!cmd) {
		fputs(usage, stderr);
		return 2;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("volt %s\n", VOLT_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "run"))
		err = run_cmd(argc - 1, argv + 1, &started);
	else if (!strncmp(cmd, "--", 2))
		err = api_main(argc - 1, argv + 1, &started);
	else if (!strcmp(cmd, "jail"))
		err = jail_cmd(argc - 1, argv + 1);
	else if (!strcmp(cmd, "sandbox"))
		err = sandbox_cmd(argc - 1, argv + 1);
	else if (!strcmp(cmd, "kernel"))
		err = kernel_cmd(argc - 1, argv + 1);
	else if (!strcmp(cmd, "cpuid"))
		err = cpuid_cmd(argc - 1, argv + 1);
	else if (!strcmp(cmd, "rootfs"))
		err = rootfs_cmd(argc - 1, argv + 1);
	else {
		pr_err("unknown command '%s'", cmd);
		fputs(usage, stderr);
		return 2;
	}
	/* run and the API return the guest's exit status (0, 1, 128+signal), others -errno. */
	if (err > 0)
		return err;
	return err ? 1 : 0;
}
