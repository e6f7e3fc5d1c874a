/* `volt run`'s option table (cli/run_opts.h). */
#include "cli/run_opts.h"

#include "cli/common_opts.h"
#include "cli/device_paths.h"
#include "devices/device_table.h"

/* Before the device options. */
static const struct cli_opt before[] = {
	{ .name = "kernel", .code = 'k', .value = true, .arg = "PATH", .path = CLI_PATH_IN },
	{ .name = "initrd", .code = 'i', .value = true, .arg = "PATH", .path = CLI_PATH_IN },
	{ .name = "cmdline", .code = 'c', .value = true, .arg = "STR" },
	{ .name = "mem", .code = 'm', .value = true, .arg = "MiB" },
	{ .name = "cpus", .code = 'n', .value = true, .arg = "N" },
	{ .name = "smt",
	  .code = 'S',
	  .help = "two threads per core in the vCPUs' topology (Firecracker's smt; "
		  "--cpus must then be 1 or even)" },
	{ .name = "cpu-template", .code = 't', .value = true, .arg = "NAME" },
	{ .name = "huge-pages",
	  .code = 'H',
	  .value = true,
	  .arg = "none|transparent|2M",
	  .help = "back guest memory with huge pages: transparent (THP, madvise) or 2M "
		  "(hugetlbfs, from the host's pool: vm.nr_hugepages); Firecracker's "
		  "huge_pages" },
	{ .name = "boot-protocol", .code = 'p', .value = true, .arg = "auto|linux|pvh" },
	CLI_COMMON_BOOT_TIMER,
	{ .name = "profile",
	  .code = 'P',
	  .help = "sample the vCPUs' RIP while the guest runs; at exit, print the top "
		  "functions and initcalls (docs/profiling.md)" },
	{ .name = "profile-hz",
	  .code = 'Z',
	  .value = true,
	  .arg = "HZ",
	  .help = "--profile's samples per second and vCPU (default 1000)" },
	{ .name = "profile-out",
	  .code = 'Q',
	  .value = true,
	  .arg = "FILE",
	  .path = CLI_PATH_OUT,
	  .help = "--profile: every sample to FILE too, a line each (implies --profile)" },
	{ .name = "restore",
	  .code = 'R',
	  .value = true,
	  .arg = "DIR",
	  .path = CLI_PATH_DIR,
	  .help = "start from the snapshot in DIR (state, mem: `volt snapshot create`)" },
	{ .name = "fresh",
	  .code = 'F',
	  .help = "boot the guest kit instead of starting from its snapshot (and keep none)" },
	{ .name = "boot-log",
	  .code = 'B',
	  .help = "show the guest kit kernel's boot messages (it boots with `quiet` "
		  "otherwise); implies --fresh" },
	{ .name = "net-override",
	  .code = 'O',
	  .value = true,
	  .repeat = true,
	  .arg = "ID=TAP",
	  .help = "with --restore: the interface ID gets the TAP device TAP" },
};

/* After the device options. */
static const struct cli_opt after[] = {
	CLI_COMMON_SECCOMP,
	CLI_COMMON_NO_SECCOMP,
	CLI_COMMON_LANDLOCK,
	CLI_COMMON_LOG_LEVEL,
	{ .name = "help", .code = 'h', .hidden = true },
	{ .name = NULL },
};

struct cli_opt run_opts[CLI_OPT_MAX + 1];

/* One option per device kind, from the device table: a new kind needs no
 * line here. Built before main() so that every user of run_opts[] (run_cmd,
 * the jailer, the tests) sees the whole table. */
__attribute__((constructor)) static void run_opts_build(void)
{
	size_t n = 0, i;

	for (i = 0; i < sizeof(before) / sizeof(before[0]); i++)
		run_opts[n++] = before[i];
	for (i = 0; i < (size_t)device_table_len; i++) {
		const struct device_kind *k = device_table[i];

		run_opts[n++] = (struct cli_opt){
			.name = k->option,
			.code = CLI_DEVICE_CODE + (int)i,
			/* A kind takes a value when it documents one (--rng's
			 * fields are the API's only). */
			.value = k->fields != NULL && k->usage != NULL,
			.repeat = k->max > 1,
			.arg = k->usage,
			.spec_paths = k->fields && k->usage ? cli_device_spec_paths : NULL,
		};
	}
	for (i = 0; i < sizeof(after) / sizeof(after[0]); i++)
		run_opts[n++] = after[i];
}

void run_usage(FILE *f)
{
	cli_opt_usage(f, "run", run_opts,
		      "Without --kernel, the guest kit's kernel and busybox initramfs are used "
		      "(built and\n"
		      "cached on first use). The console is stdin/stdout; Ctrl-A x ends the VM.\n"
		      "Exit status: 0 when the guest reboots or powers off, non-zero on a VMM "
		      "failure.\n");
}
