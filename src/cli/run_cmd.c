/* `volt run`: the friendly CLI over vm_create()/vm_run(). */
#include "cli/commands.h"

#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "cli/common_opts.h"
#include "cli/run_opts.h"
#include "core/host.h"
#include "devices/device_table.h"
#include "kernel/guest_kit.h"
#include "sandbox/sandbox.h"
#include "util/id_pool.h"
#include "util/log.h"
#include "util/startup_trace.h"
#include "util/parse.h"
#include "vmm/vm.h"
#include "vmm/profiler.h"
#include "vmm/vm_snapshot.h"
#include "cli/kit_snapshot.h"
#include "util/fs.h"
#include "util/zpages.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Firecracker's default, so guests configured for it behave the same. */
#define DEFAULT_CMDLINE \
	"console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd"
#define DEFAULT_MEM_MIB 128
/* The guest kit's default: a clean console (every character costs an exit on
 * PVM hosts); --cmdline without `quiet` shows the kernel's log. */
#define KIT_DEFAULT_CMDLINE DEFAULT_CMDLINE " quiet"

/* The command line and command of a guest kit run, when the command goes
 * through the kit port. */
struct kit_args {
	char cmdline[4096];
	char cmd[KIT_PORT_CMD_MAX + 1];
};

/* Fills in the guest kit where no kernel was given. With the kit's own
 * initramfs too, volt.cmd= moves from the command line to the kit port, so
 * that the kernel command line no longer depends on the command (a snapshot
 * taken at the kit's ready point then serves every command). A --initrd may
 * hold another init: it keeps reading volt.cmd= from the command line. */
static int use_guest_kit(struct vm_config *cfg, char *kernel, size_t ksize, char *initrd,
			 size_t isize, bool boot_log, struct kit_args *ka)
{
	int err = guest_kit_paths(true, kernel, ksize, cfg->initrd ? NULL : initrd, isize);

	if (err)
		return err;
	cfg->kernel = kernel;
	if (cfg->initrd)
		return 0;
	cfg->initrd = initrd;
	if (!strcmp(cfg->cmdline, DEFAULT_CMDLINE) && !boot_log)
		cfg->cmdline = KIT_DEFAULT_CMDLINE;
	if (snprintf(ka->cmdline, sizeof(ka->cmdline), "%s", cfg->cmdline) >=
	    (int)sizeof(ka->cmdline)) {
		pr_err("--cmdline: longer than %zu bytes", sizeof(ka->cmdline) - 1);
		return -E2BIG;
	}
	if (kit_cmdline_take(ka->cmdline, ka->cmd, sizeof(ka->cmd)) < 0) {
		pr_err("--cmdline: volt.cmd is longer than %d bytes", KIT_PORT_CMD_MAX);
		return -E2BIG;
	}
	if ((unsigned char)ka->cmd[0] == 0xff) {
		pr_err("--cmdline: volt.cmd cannot start with the byte 0xff");
		return -EINVAL;
	}
	if (guest_kit_cmdline_append(ka->cmdline, sizeof(ka->cmdline), cfg->pvm_host)) {
		pr_err("--cmdline: longer than %zu bytes", sizeof(ka->cmdline) - 1);
		return -E2BIG;
	}
	cfg->cmdline = ka->cmdline;
	cfg->kit_cmd = ka->cmd;
	return 0;
}

/* --profile: the sample buffers and the kernel's symbols, loaded now, before
 * the sandbox; NULL (logged) when it cannot be. */
static struct profiler *profile_begin(const struct vm_config *cfg, unsigned int hz, const char *out,
				      int *out_fd)
{
	struct profiler *p = profiler_new(cfg->ncpus, hz);
	char where[PATH_MAX + 64];
	int err;

	if (!p) {
		pr_err("--profile: out of memory for the sample buffers");
		return NULL;
	}
	/* A regular file: a FIFO nobody reads would block the open (and a
	 * device take the samples nowhere). */
	if (out && open_input(out, O_WRONLY | O_CREAT | O_TRUNC, INPUT_FILE, out_fd, NULL, where,
			      sizeof(where))) {
		pr_err("--profile-out '%s': %s", out, where);
		profiler_free(p);
		return NULL;
	}
	err = profiler_load_symbols(p, cfg->kernel, where, sizeof(where));
	if (err)
		pr_warn("--profile: no symbols for %s (no ELF .symtab, no System.map beside it: "
			"%s); samples show as [unknown]",
			cfg->kernel, strerror(-err));
	else
		pr_info("--profile: %u Hz, symbols from %s", hz, where);
	return p;
}

/* A device option (--drive, --net...): a device of kind k, parsed through
 * its fields (devices/device_table.h). */
static int device_option(struct vm_config *cfg, const struct device_kind *k, const char *spec)
{
	struct device_config *d;
	char why[256];
	int err;

	d = malloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	err = device_config_from_spec(k, spec, d, why, sizeof(why));
	if (!err)
		err = device_list_add(cfg->devices, &cfg->ndevices, VM_MAX_VIRTIO, d, why,
				      sizeof(why));
	free(d);
	/* A spec past a log line (an id has no length limit) is cut, so that the
	 * reason still shows. */
	if (err && spec)
		pr_err("--%s '%.512s%s': %s", k->option, spec, strlen(spec) > 512 ? "..." : "",
		       why);
	else if (err)
		pr_err("--%s: %s", k->option, why);
	return err;
}

/* --net-override ID=TAP. */
static int net_override(struct snapshot_load_req *req, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct net_override *o = &req->net[req->nnet];

	if (req->nnet == VM_MAX_NETS) {
		pr_err("--net-override: at most %d", VM_MAX_NETS);
		return -EINVAL;
	}
	if (!eq || eq == arg || !eq[1] || strlen(eq + 1) >= sizeof(o->host_dev_name)) {
		pr_err("--net-override: '%s' is not ID=TAP (an interface id of the snapshot and "
		       "a TAP device name of at most %zu characters)",
		       arg, sizeof(o->host_dev_name) - 1);
		return -EINVAL;
	}
	o->iface_id = id_intern_len(arg, (size_t)(eq - arg));
	if (!o->iface_id)
		return -ENOMEM;
	snprintf(o->host_dev_name, sizeof(o->host_dev_name), "%s", eq + 1);
	req->nnet++;
	return 0;
}

/* `volt run --restore DIR`: the VM comes from DIR/state and DIR/mem. */
static int run_restored(const char *dir, const struct snapshot_load_req *opts)
{
	struct snapshot_load_req r = *opts, *req = &r;
	char state[PATH_MAX], mem[PATH_MAX], why[512];
	struct vm *vm;
	int err;

	if (snprintf(state, sizeof(state), "%s/state", dir) >= (int)sizeof(state) ||
	    snprintf(mem, sizeof(mem), "%s/mem", dir) >= (int)sizeof(mem)) {
		pr_err("--restore: '%s' is too long a path", dir);
		return -ENAMETOOLONG;
	}
	req->state_path = state;
	req->backend = MEM_BACKEND_FILE;
	req->backend_path = mem;
	req->resume_vm = true;
	vm = zpages_alloc(sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	err = vm_restore(vm, req, why, sizeof(why));
	if (err) {
		pr_err("--restore %s: %s", dir, why);
	} else {
		struct thread_hooks sandbox = sandbox_vm_hooks(&vm->cfg);

		err = vm_run(vm, &sandbox);
	}
	vm_destroy(vm);
	zpages_free(vm, sizeof(*vm));
	return err;
}

static int run_with(struct vm_config *cfg, int argc, char **argv, const struct timespec *started)
{
	struct snapshot_load_req restore = { .started = *started, .terminal_output_waits = true };
	const char *restore_dir = NULL;
	bool configured = false, fresh = false, boot_log = false;
	struct kit_snapshot ks;
	bool use_ks = false, keep = false;
	struct option longopts[CLI_OPT_MAX + 1];
	struct cli_common common = { 0 };
	char kernel[PATH_MAX], initrd[PATH_MAX];
	struct kit_args *kit = NULL;
	unsigned int ncpus, profile_hz = 0;
	const char *profile_out = NULL;
	int profile_fd = -1;
	const struct device_config *bad;
	char why[256];
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
		if (c >= CLI_DEVICE_CODE && c < CLI_DEVICE_CODE + device_table_len) {
			if (device_option(cfg, device_table[c - CLI_DEVICE_CODE], optarg))
				return -EINVAL;
			configured = true;
			continue;
		}
		if (c > 0 && c < 128 && strchr("kicmnSptH", c))
			configured = true;
		switch (c) {
		case 'R':
			restore_dir = optarg;
			break;
		case 'F':
			fresh = true;
			break;
		case 'B': /* a restored snapshot has no boot to show */
			boot_log = fresh = true;
			break;
		case 'P': /* --profile-hz alone profiles too */
			if (!profile_hz)
				profile_hz = PROFILER_DEFAULT_HZ;
			break;
		case 'Q':
			profile_out = optarg;
			if (!profile_hz)
				profile_hz = PROFILER_DEFAULT_HZ;
			break;
		case 'Z':
			if (parse_uint(optarg, 1, PROFILER_MAX_HZ, &profile_hz)) {
				pr_err("--profile-hz: '%s' is not a number from 1 to %d", optarg,
				       PROFILER_MAX_HZ);
				return -EINVAL;
			}
			break;
		case 'O':
			if (net_override(&restore, optarg))
				return -EINVAL;
			break;
		case 'k':
			cfg->kernel = optarg;
			break;
		case 'i':
			cfg->initrd = optarg;
			break;
		case 'c':
			cfg->cmdline = optarg;
			break;
		case 'm':
			if (parse_size(optarg, 1ULL << 20, &cfg->mem_size) ||
			    cfg->mem_size < LAYOUT_MEM_MIN || cfg->mem_size > LAYOUT_MEM_MAX ||
			    (cfg->mem_size & ((1ULL << 20) - 1))) {
				pr_err("--mem: '%s' is not a whole number of MiB from %llu to %llu",
				       optarg, LAYOUT_MEM_MIN >> 20, LAYOUT_MEM_MAX >> 20);
				return -EINVAL;
			}
			break;
		case 'S':
			cfg->smt = true;
			break;
		case 'H':
			if (!strcmp(optarg, "none"))
				cfg->huge_pages = VM_HUGE_NONE;
			else if (!strcmp(optarg, "transparent"))
				cfg->huge_pages = VM_HUGE_THP;
			else if (!strcmp(optarg, "2M"))
				cfg->huge_pages = VM_HUGE_2M;
			else {
				pr_err("--huge-pages: '%s' is not none, transparent or 2M", optarg);
				return -EINVAL;
			}
			break;
		case 'n':
			if (parse_uint(optarg, 1, VM_MAX_CPUS, &ncpus)) {
				pr_err("--cpus: '%s' is not a number from 1 to %d", optarg,
				       VM_MAX_CPUS);
				return -EINVAL;
			}
			cfg->ncpus = (int)ncpus;
			break;
		case 't':
			if (!cpuid_template_find(optarg)) {
				pr_err("--cpu-template: unknown template '%s' (known: %s)", optarg,
				       cpuid_template_names());
				return -EINVAL;
			}
			if (cpuid_template_host_check(cpuid_template_find(optarg), why,
						      sizeof(why))) {
				pr_err("--cpu-template: %s", why);
				return -EINVAL;
			}
			cfg->cpu_template = optarg;
			break;
		case 'p':
			if (!strcmp(optarg, "auto"))
				cfg->protocol = BOOT_PROTOCOL_AUTO;
			else if (!strcmp(optarg, "linux"))
				cfg->protocol = BOOT_PROTOCOL_LINUX;
			else if (!strcmp(optarg, "pvh"))
				cfg->protocol = BOOT_PROTOCOL_PVH;
			else {
				pr_err("--boot-protocol: '%s' is not auto, linux or pvh", optarg);
				return -EINVAL;
			}
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
	cfg->boot_timer = common.boot_timer;
	cfg->terminal_output_waits = true; /* the user's terminal: lossless */
	startup_mark("options parsed");
	if (restore.nnet && !restore_dir) {
		pr_err("--net-override: only with --restore");
		return -EINVAL;
	}
	if (restore_dir && configured) {
		pr_err("--restore: the VM's kernel, memory, vCPUs and devices come from the "
		       "snapshot; give no --kernel, --mem, --cpus, device... options with it");
		return -EINVAL;
	}
	if (boot_log && (restore_dir || cfg->kernel || strcmp(cfg->cmdline, DEFAULT_CMDLINE))) {
		pr_err("--boot-log: shows the guest kit's boot with its default command line; "
		       "with --restore, --kernel or --cmdline, leave `quiet` out of the command "
		       "line instead");
		return -EINVAL;
	}
	if (restore_dir && profile_hz) {
		pr_err("--profile: profiles a boot; not with --restore");
		return -EINVAL;
	}
	if (restore_dir) {
		return run_restored(restore_dir, &restore);
	}
	/* Firecracker's rule: 2 MiB pages want RAM a multiple of 2 MiB. */
	if (cfg->huge_pages == VM_HUGE_2M && (cfg->mem_size >> 20) % 2) {
		pr_err("--huge-pages 2M: --mem %llu is not a whole number of 2 MiB pages",
		       (unsigned long long)(cfg->mem_size >> 20));
		return -EINVAL;
	}
	if (device_list_validate(cfg->devices, cfg->ndevices,
				 &(struct device_vm_facts){ .mem_size = cfg->mem_size }, &bad, why,
				 sizeof(why))) {
		pr_err("--%s: %s (--mem)", bad->kind->option, why);
		return -EINVAL;
	}
	if (!cfg->kernel) {
		kit = calloc(1, sizeof(*kit));
		if (!kit)
			return -ENOMEM;
		err = use_guest_kit(cfg, kernel, sizeof(kernel), initrd, sizeof(initrd), boot_log,
				    kit);
		if (err) {
			free(kit);
			return err;
		}
	}
	if (profile_hz) {
		fresh = true; /* a boot to profile, not the kit's snapshot */
		if (!(cfg->profiler = profile_begin(cfg, profile_hz, profile_out, &profile_fd))) {
			free(kit);
			return -EIO;
		}
		cfg->profile_hz = profile_hz;
	}
	if (cfg->pvm_host)
		pr_debug("PVM host: applying its workarounds");
	/* The guest kit starts from its snapshot when there is one. */
	if (kit && !fresh && kit_snapshot_init(&ks, cfg, started))
		kit_snapshot_free(&ks); /* not a run to cache (a drive) */
	else if (kit && !fresh) {
		int status;

		use_ks = true;
		err = kit_snapshot_restore_run(&ks, kit->cmd, &status);
		if (!err) {
			kit_snapshot_free(&ks);
			free(kit);
			return status;
		}
		/* One that cannot be restored (logged), or an incomplete or
		 * unreadable leftover (its commit would find the name taken), is
		 * replaced by this boot's; a host that cannot restore now keeps it
		 * and takes none. */
		if (err != -EAGAIN) {
			snapshot_cache_rm(ks.key);
			keep = !kit_snapshot_arm(&ks, cfg);
		}
	}
	startup_mark("run configured");
	if (kit && cfg->kit_cmd)
		kit_boot_notice(cfg, keep, boot_log);
	vm = zpages_alloc(sizeof(*vm));
	if (!vm) {
		if (profile_fd >= 0)
			close(profile_fd);
		profiler_free(cfg->profiler);
		free(kit);
		return -ENOMEM;
	}
	err = vm_create(vm, cfg);
	if (!err) {
		struct thread_hooks sandbox = sandbox_vm_hooks(cfg);

		if (use_ks && cfg->snapshot_dir)
			kit_snapshot_attach(&ks, vm);
		err = vm_run(vm, &sandbox);
	} else if (use_ks && keep) {
		/* Not sandboxed yet: the snapshot's directory goes now (once the VM
		 * ran, the next run's snapshot_cache_begin() removes it). */
		snapshot_cache_abort(ks.tmpdir);
	}
	vm_destroy(vm);
	zpages_free(vm, sizeof(*vm));
	if (cfg->profiler) {
		profiler_report(cfg->profiler, stderr, PROFILER_DEFAULT_TOP);
		if (profile_fd >= 0 && profiler_write_samples(cfg->profiler, profile_fd)) {
			pr_err("--profile-out %s: cannot write the samples", profile_out);
			if (!err)
				err = 1;
		}
		if (profile_fd >= 0)
			close(profile_fd);
		profiler_free(cfg->profiler);
	}
	if (use_ks)
		kit_snapshot_free(&ks);
	free(kit);
	/* The guest's own exit status already went through vm_run's message. */
	return err;
}

int run_cmd(int argc, char **argv, const struct timespec *started)
{
	/* Not on the stack: zeroed there, each page of its ~74 KiB (util/zpages.h)
	 * cost a page fault at every start. */
	struct vm_config *cfg = zpages_alloc(sizeof(*cfg));
	int err;

	if (!cfg)
		return -ENOMEM;
	cfg->cmdline = DEFAULT_CMDLINE;
	cfg->mem_size = (uint64_t)DEFAULT_MEM_MIB << 20;
	cfg->ncpus = 1;
	cfg->protocol = BOOT_PROTOCOL_AUTO;
	cfg->pvm_host = host_is_pvm();
	cfg->started = *started;
	err = run_with(cfg, argc, argv, started);
	zpages_free(cfg, sizeof(*cfg));
	return err;
}
