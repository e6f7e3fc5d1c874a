/* `volt run`: the friendly CLI over vm_create()/vm_run(). */
#include "vmm/vm.h"

#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "core/host.h"
#include "devices/device_table.h"
#include "kernel/kernel.h"
#include "kernel/rootfs.h"
#include "sandbox/sandbox.h"
#include "util/log.h"
#include "util/parse.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Firecracker's default, so guests configured for it behave the same. */
#define DEFAULT_CMDLINE \
	"console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd"
#define DEFAULT_MEM_MIB 128

static const char usage[] =
	"usage: volt run [--kernel PATH] [--initrd PATH] [--cmdline STR] [--mem MiB] [--cpus N]\n"
	"                [--cpu-template NAME] [--boot-protocol auto|linux|pvh] [--boot-timer]\n"
	"                [--drive "
	"path=FILE[,ro][,id=ID][,engine=sync|io_uring][,cache=unsafe|writeback]]...\n"
	"                [--net tap=NAME[,mac=MAC]]... [--vsock cid=N,uds=PATH]\n"
	"                [--balloon MiB[,deflate-on-oom][,stats=SECONDS]] [--rng]\n"
	"                [--seccomp kill|log|off] [--no-seccomp] [--landlock auto|require|off]\n"
	"                [--log-level error|warn|info|debug]\n"
	"Without --kernel, the guest kit's kernel and busybox initramfs are used (built and\n"
	"cached on first use). The console is stdin/stdout; Ctrl-A x ends the VM.\n"
	"Exit status: 0 when the guest reboots or powers off, non-zero on a VMM failure.\n";

/* Fills in the guest kit where no kernel was given. */
static int use_guest_kit(struct vm_config *cfg, char *kernel, size_t ksize, char *initrd,
			 size_t isize)
{
	struct kernel_build_opts bo = { 0 };
	struct rootfs_opts ro = { .format = rootfs_default_format() };
	struct kernel_spec spec;
	struct kernel_entry e;
	int err;

	err = kernel_spec_resolve(&spec, NULL, NULL, NULL, false);
	if (err)
		return err;
	err = kernel_find(&spec, &e);
	if (err) {
		fprintf(stderr, "[volt] building the guest kit's kernel first (once)\n");
		kernel_spec_free(&spec);
		err = kernel_spec_resolve(&spec, NULL, NULL, NULL, true);
		if (!err)
			err = kernel_build(&spec, &bo, &e);
	}
	kernel_spec_free(&spec);
	if (err || kernel_entry_path(&e, "vmlinux", kernel, ksize))
		return err ? err : -ENAMETOOLONG;
	cfg->kernel = kernel;
	if (!cfg->initrd) {
		err = rootfs_get(&ro, initrd, isize);
		if (err)
			return err;
		cfg->initrd = initrd;
	}
	return 0;
}

/* A device option (--drive, --net...): a device of the kind whose option
 * this is (devices/device_table.h), parsed through its fields. */
static int device_option(struct vm_config *cfg, const char *option, const char *spec)
{
	const struct device_kind *k = device_kind_by_option(option);
	struct device_config *d;
	char why[256];
	int err;

	if (!k)
		return -EINVAL;
	d = malloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	err = device_config_from_spec(k, spec, d, why, sizeof(why));
	if (!err)
		err = device_list_add(cfg->devices, &cfg->ndevices, VM_MAX_VIRTIO, d, why,
				      sizeof(why));
	free(d);
	if (err && spec)
		pr_err("--%s '%s': %s", option, spec, why);
	else if (err)
		pr_err("--%s: %s", option, why);
	return err;
}

#define DEVICE_OPTION	   0x100 /* getopt's value for every device option */
#define DEVICE_OPTIONS_MAX 16

/* base (n entries, the last all NULL) followed by one option per kind. */
static void device_options(struct option *out, const struct option *base, size_t n)
{
	int i, k = 0;

	memcpy(out, base, (n - 1) * sizeof(*out));
	for (i = 0; i < device_table_len && i < DEVICE_OPTIONS_MAX; i++, k++)
		out[n - 1 + (size_t)k] = (struct option){
			device_table[i]->option,
			device_table[i]->fields ? required_argument : no_argument,
			NULL,
			DEVICE_OPTION,
		};
	out[n - 1 + (size_t)k] = base[n - 1];
}

int run_cmd(int argc, char **argv, const struct timespec *started)
{
	static const struct option base_opts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'n' },
		{ "cpu-template", required_argument, NULL, 't' },
		{ "boot-protocol", required_argument, NULL, 'p' },
		{ "boot-timer", no_argument, NULL, 'b' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "seccomp", required_argument, NULL, 'S' },
		{ "no-seccomp", no_argument, NULL, 's' },
		{ "landlock", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* Then one option per device kind: --drive, --net... (devices/device_table.h). */
	struct option longopts[sizeof(base_opts) / sizeof(base_opts[0]) + DEVICE_OPTIONS_MAX];
	struct vm_config cfg = {
		.cmdline = DEFAULT_CMDLINE,
		.mem_size = (uint64_t)DEFAULT_MEM_MIB << 20,
		.ncpus = 1,
		.protocol = BOOT_PROTOCOL_AUTO,
		.pvm_host = host_is_pvm(),
		.started = *started,
	};
	char kernel[PATH_MAX], initrd[PATH_MAX];
	enum sandbox_landlock_mode landlock;
	enum sandbox_seccomp_mode seccomp;
	unsigned int ncpus;
	const struct device_config *bad;
	char why[256];
	struct vm *vm;
	int c, err, idx = 0;

	device_options(longopts, base_opts, sizeof(base_opts) / sizeof(base_opts[0]));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
		switch (c) {
		case 'k':
			cfg.kernel = optarg;
			break;
		case 'i':
			cfg.initrd = optarg;
			break;
		case 'c':
			cfg.cmdline = optarg;
			break;
		case 'm':
			if (parse_size(optarg, 1ULL << 20, &cfg.mem_size) ||
			    cfg.mem_size < LAYOUT_MEM_MIN || cfg.mem_size > LAYOUT_MEM_MAX ||
			    (cfg.mem_size & ((1ULL << 20) - 1))) {
				pr_err("--mem: '%s' is not a whole number of MiB from %llu to %llu",
				       optarg, LAYOUT_MEM_MIN >> 20, LAYOUT_MEM_MAX >> 20);
				return -EINVAL;
			}
			break;
		case 'n':
			if (parse_uint(optarg, 1, VM_MAX_CPUS, &ncpus)) {
				pr_err("--cpus: '%s' is not a number from 1 to %d", optarg,
				       VM_MAX_CPUS);
				return -EINVAL;
			}
			cfg.ncpus = (int)ncpus;
			break;
		case 't':
			if (!cpuid_template_find(optarg)) {
				pr_err("--cpu-template: unknown template '%s' (known: %s)", optarg,
				       cpuid_template_names());
				return -EINVAL;
			}
			cfg.cpu_template = optarg;
			break;
		case 'p':
			if (!strcmp(optarg, "auto"))
				cfg.protocol = BOOT_PROTOCOL_AUTO;
			else if (!strcmp(optarg, "linux"))
				cfg.protocol = BOOT_PROTOCOL_LINUX;
			else if (!strcmp(optarg, "pvh"))
				cfg.protocol = BOOT_PROTOCOL_PVH;
			else {
				pr_err("--boot-protocol: '%s' is not auto, linux or pvh", optarg);
				return -EINVAL;
			}
			break;
		case 'b':
			cfg.boot_timer = true;
			break;
		case DEVICE_OPTION:
			if (device_option(&cfg, longopts[idx].name, optarg))
				return -EINVAL;
			break;
		case 'S':
			if (sandbox_seccomp_mode_parse(optarg, &seccomp)) {
				pr_err("--seccomp: '%s' is not kill, log or off", optarg);
				return -EINVAL;
			}
			sandbox_set_seccomp_mode(seccomp);
			break;
		case 's':
			sandbox_set_seccomp_mode(SANDBOX_SECCOMP_OFF);
			break;
		case 'L':
			if (sandbox_landlock_mode_parse(optarg, &landlock)) {
				pr_err("--landlock: '%s' is not auto, require or off", optarg);
				return -EINVAL;
			}
			sandbox_set_landlock_mode(landlock);
			break;
		case 'l':
			if (log_level_option(optarg))
				return -EINVAL;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		fputs(usage, stderr);
		return -EINVAL;
	}
	if (device_list_validate(cfg.devices, cfg.ndevices,
				 &(struct device_vm_facts){ .mem_size = cfg.mem_size }, &bad, why,
				 sizeof(why))) {
		pr_err("--%s: %s (--mem)", bad->kind->option, why);
		return -EINVAL;
	}
	if (!cfg.kernel &&
	    (err = use_guest_kit(&cfg, kernel, sizeof(kernel), initrd, sizeof(initrd))))
		return err;
	if (cfg.pvm_host)
		pr_debug("PVM host: applying its workarounds");
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	err = vm_create(vm, &cfg);
	if (!err) {
		struct thread_hooks sandbox = sandbox_vm_hooks(&cfg);

		err = vm_run(vm, &sandbox);
	}
	vm_destroy(vm);
	free(vm);
	/* The guest's own exit status already went through vm_run's message. */
	return err;
}
