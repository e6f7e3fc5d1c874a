/* `volt run`: the friendly CLI over vm_create()/vm_run(). */
#include "vmm/vm.h"

#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "cli/common_opts.h"
#include "cli/run_opts.h"
#include "core/host.h"
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

int run_cmd(int argc, char **argv, const struct timespec *started)
{
	struct option longopts[CLI_OPT_MAX + 1];
	struct cli_common common = { 0 };
	struct vm_config cfg = {
		.cmdline = DEFAULT_CMDLINE,
		.mem_size = (uint64_t)DEFAULT_MEM_MIB << 20,
		.ncpus = 1,
		.protocol = BOOT_PROTOCOL_AUTO,
		.pvm_host = host_is_pvm(),
		.started = *started,
	};
	char kernel[PATH_MAX], initrd[PATH_MAX];
	unsigned int ncpus;
	char why[160];
	struct vm *vm;
	int c, err;

	err = cli_opt_longopts(run_opts, longopts);
	if (err)
		return err;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		err = cli_common_option(c, optarg, &common);
		if (err <= 0) {
			if (err)
				return err;
			continue;
		}
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
		case 'd':
			if (cfg.ndrives == VM_MAX_DRIVES) {
				pr_err("--drive: at most %d drives", VM_MAX_DRIVES);
				return -EINVAL;
			}
			if (blk_config_parse(optarg, &cfg.drives[cfg.ndrives], why, sizeof(why))) {
				pr_err("--drive '%s': %s", optarg, why);
				return -EINVAL;
			}
			/* Ids name drives, as the API's drive_id does: one each. */
			for (int i = 0; cfg.drives[cfg.ndrives].id[0] && i < cfg.ndrives; i++)
				if (!strcmp(cfg.drives[i].id, cfg.drives[cfg.ndrives].id)) {
					pr_err("--drive '%s': id '%s' is already another --drive's",
					       optarg, cfg.drives[i].id);
					return -EINVAL;
				}
			cfg.ndrives++;
			break;
		case 'r':
			cfg.rng = true;
			break;
		case 'N':
			if (cfg.nnets == VM_MAX_NETS) {
				pr_err("--net: at most %d network interfaces", VM_MAX_NETS);
				return -EINVAL;
			}
			if (net_config_parse(optarg, &cfg.nets[cfg.nnets], why, sizeof(why))) {
				pr_err("--net '%s': %s", optarg, why);
				return -EINVAL;
			}
			cfg.nnets++;
			break;
		case 'V':
			if (cfg.has_vsock ||
			    vsock_config_parse(optarg, &cfg.vsock, why, sizeof(why))) {
				pr_err("--vsock '%s': %s", optarg,
				       cfg.has_vsock ? "only one vsock device" : why);
				return -EINVAL;
			}
			cfg.has_vsock = true;
			break;
		case 'B':
			if (cfg.has_balloon ||
			    balloon_config_parse(optarg, &cfg.balloon, why, sizeof(why))) {
				pr_err("--balloon '%s': %s", optarg,
				       cfg.has_balloon ? "only one balloon" : why);
				return -EINVAL;
			}
			cfg.has_balloon = true;
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		default:
			run_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		run_usage(stderr);
		return -EINVAL;
	}
	cfg.boot_timer = common.boot_timer;
	if (cfg.has_balloon &&
	    balloon_size_check(cfg.balloon.mib, cfg.mem_size, why, sizeof(why))) {
		pr_err("--balloon: %s (--mem)", why);
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
