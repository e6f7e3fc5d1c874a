/* `volt run`'s option table (cli/run_opts.h). */
#include "cli/run_opts.h"

#include "cli/common_opts.h"
#include "cli/device_paths.h"

const struct cli_opt run_opts[] = {
	{ .name = "kernel", .code = 'k', .value = true, .arg = "PATH", .path = CLI_PATH_IN },
	{ .name = "initrd", .code = 'i', .value = true, .arg = "PATH", .path = CLI_PATH_IN },
	{ .name = "cmdline", .code = 'c', .value = true, .arg = "STR" },
	{ .name = "mem", .code = 'm', .value = true, .arg = "MiB" },
	{ .name = "cpus", .code = 'n', .value = true, .arg = "N" },
	{ .name = "cpu-template", .code = 't', .value = true, .arg = "NAME" },
	{ .name = "boot-protocol", .code = 'p', .value = true, .arg = "auto|linux|pvh" },
	CLI_COMMON_BOOT_TIMER,
	{ .name = "drive",
	  .code = 'd',
	  .value = true,
	  .repeat = true,
	  .arg = "path=FILE[,ro][,id=ID][,engine=sync|io_uring][,cache=unsafe|writeback]",
	  .spec_paths = cli_device_spec_paths },
	{ .name = "net",
	  .code = 'N',
	  .value = true,
	  .repeat = true,
	  .arg = "tap=NAME[,mac=MAC]",
	  .spec_paths = cli_device_spec_paths },
	{ .name = "vsock",
	  .code = 'V',
	  .value = true,
	  .arg = "cid=N,uds=PATH",
	  .spec_paths = cli_device_spec_paths },
	{ .name = "balloon",
	  .code = 'B',
	  .value = true,
	  .arg = "MiB[,deflate-on-oom][,stats=SECONDS]",
	  .spec_paths = cli_device_spec_paths },
	{ .name = "rng", .code = 'r' },
	CLI_COMMON_SECCOMP,
	CLI_COMMON_NO_SECCOMP,
	CLI_COMMON_LANDLOCK,
	CLI_COMMON_LOG_LEVEL,
	{ .name = "help", .code = 'h', .hidden = true },
	{ .name = NULL },
};

void run_usage(FILE *f)
{
	cli_opt_usage(f, "run", run_opts,
		      "Without --kernel, the guest kit's kernel and busybox initramfs are used "
		      "(built and\n"
		      "cached on first use). The console is stdin/stdout; Ctrl-A x ends the VM.\n"
		      "Exit status: 0 when the guest reboots or powers off, non-zero on a VMM "
		      "failure.\n");
}
