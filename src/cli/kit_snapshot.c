/* The guest kit's snapshot in `volt run` (cli/kit_snapshot.h). */
#include "cli/kit_snapshot.h"

#include "core/kvm.h"
#include "devices/device_table.h"
#include "devices/virtio/virtio_blk.h"
#include "sandbox/sandbox.h"
#include "util/fs.h"
#include "util/log.h"
#include "vmm/vm_snapshot.h"
#include "util/zpages.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)((now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000);
}

/* The devices as the key sees them: kind and configuration, in order, the
 * CLI-only fields included (virtio-mem's requested=: two runs that differ
 * there must not share a snapshot). */
static char *devices_json(const struct vm_config *cfg)
{
	json_t *a = json_array();
	char *text;
	int i;

	for (i = 0; a && i < cfg->ndevices; i++) {
		json_t *c = device_config_to_json_all(&cfg->devices[i]);

		if (!c ||
		    json_array_append_new(a, json_pack("{s:s,s:o}", "kind",
						       cfg->devices[i].kind->name, "config", c))) {
			json_decref(a);
			return NULL;
		}
	}
	text = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return text;
}

int kit_snapshot_init(struct kit_snapshot *ks, const struct vm_config *cfg,
		      const struct timespec *started)
{
	int err;

	memset(ks, 0, sizeof(*ks));
	ks->started = *started;
	ks->shell = cfg->kit_cmd && !cfg->kit_cmd[0];
	/* Huge pages: the cache's snapshots are small pages restored from a file
	 * (hugetlbfs ones restore through a page-fault handler only). */
	if (!cfg->kit_cmd || device_list_count(cfg->devices, cfg->ndevices, &virtio_blk_kind) ||
	    cfg->huge_pages != VM_HUGE_NONE)
		return -EOPNOTSUPP;
	err = snapshot_cache_file_key(cfg->kernel, ks->kernel_key, sizeof(ks->kernel_key));
	if (!err)
		err = snapshot_cache_file_key(cfg->initrd, ks->rootfs_key, sizeof(ks->rootfs_key));
	if (!err)
		err = snapshot_cache_cpu_signature(ks->cpu, sizeof(ks->cpu));
	if (!err && !(ks->devices_json = devices_json(cfg)))
		err = -ENOMEM;
	if (!err)
		err = snapshot_cache_root(ks->root, sizeof(ks->root));
	if (err)
		return err;
	ks->in = (struct snapshot_cache_inputs){
		.kernel_key = ks->kernel_key,
		.rootfs_key = ks->rootfs_key,
		.mem_size = cfg->mem_size,
		.ncpus = cfg->ncpus,
		.devices_json = ks->devices_json,
		.cmdline = cfg->cmdline,
		.cpu_signature = ks->cpu,
		.ready_point = ks->shell ? "shell" : "kit-port",
		.boot_timer = cfg->boot_timer,
		.smt = cfg->smt,
	};
	return snapshot_cache_key(&ks->in, ks->key);
}

int kit_snapshot_restore_run(struct kit_snapshot *ks, const char *cmd, int *status)
{
	struct snapshot_cache_info info;
	char dir[PATH_MAX], state[PATH_MAX], mem[PATH_MAX], why[512];
	struct snapshot_load_req req = { .started = ks->started,
					 .resume_vm = true,
					 .terminal_output_waits = true };
	struct vm *vm;
	int err;

	err = snapshot_cache_lookup(ks->key, &info);
	if (err)
		return err == -EBADMSG ? -ENOENT : err;
	/* The host's trouble, not the snapshot's: it stays for a later run. */
	if (access(KVM_DEVICE, R_OK | W_OK)) {
		err = -errno;
		pr_warn("the guest kit's snapshot %s is kept: " KVM_DEVICE ": %s", ks->key,
			strerror(-err));
		return -EAGAIN;
	}
	if (snapshot_cache_dir(ks->key, dir, sizeof(dir)) ||
	    path_fmt(state, sizeof(state), "%s/state", dir) ||
	    path_fmt(mem, sizeof(mem), "%s/mem", dir))
		return -ENAMETOOLONG;
	req.state_path = state;
	req.backend = MEM_BACKEND_FILE;
	req.backend_path = mem;
	vm = zpages_alloc(sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	err = vm_restore(vm, &req, why, sizeof(why));
	if (!err && !vm->cfg.kit_cmd) {
		snprintf(why, sizeof(why), "it has no kit port");
		err = -EINVAL;
	}
	/* At the shell's ready point the port has served its (empty) command. */
	if (!err && !ks->shell)
		err = kit_port_set_command(&vm->kit, cmd);
	if (err == -ENOMEM || err == -EAGAIN || err == -EMFILE || err == -ENFILE) {
		pr_warn("the guest kit's snapshot %s cannot be restored now (%s): booting instead "
			"(the entry is kept)",
			ks->key, why[0] ? why : strerror(-err));
		err = -EAGAIN;
	} else if (err) {
		/* Dropped, or it would stay under its key and every run would boot:
		 * a volt whose devices changed (features offered), a damaged file.
		 * This boot keeps a new one. */
		pr_warn("the guest kit's snapshot %s cannot be restored (%s): booting instead%s",
			ks->key, why[0] ? why : strerror(-err),
			snapshot_cache_rm(ks->key) ? "" : " (the entry is dropped)");
	}
	if (err) {
		vm_destroy(vm);
		zpages_free(vm, sizeof(*vm));
		return err;
	}
	pr_info("restored from snapshot %s (first boot took %.1f s; `volt run --fresh` boots)",
		ks->key, (double)info.first_boot_ms / 1000.0);
	{
		struct thread_hooks sandbox = sandbox_vm_hooks(&vm->cfg);

		*status = vm_run(vm, &sandbox);
	}
	vm_destroy(vm);
	zpages_free(vm, sizeof(*vm));
	return 0;
}

/* vm->on_ready: the guest kit reached its ready point on its first boot. */
static void take_snapshot(struct vm *vm, void *ctx)
{
	struct kit_snapshot *ks = ctx;
	char state[PATH_MAX], mem[PATH_MAX], why[512] = "";
	uint64_t boot_ms = ms_since(&ks->started);
	struct timespec t0;
	struct stat st = { 0 };
	int err;

	if (ks->taken)
		return;
	ks->taken = true;
	err = path_fmt(state, sizeof(state), "%s/state", ks->tmpdir) ||
			      path_fmt(mem, sizeof(mem), "%s/mem", ks->tmpdir)
		      ? -ENAMETOOLONG
		      : 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!err)
		err = vm_snapshot_create(vm,
					 &(struct snapshot_create_req){ .type = SNAPSHOT_FULL,
									.state_path = state,
									.mem_path = mem },
					 why, sizeof(why));
	if (!err)
		err = snapshot_cache_write_info(ks->tmpdir, ks->key, &ks->in, boot_ms);
	if (!err)
		err = snapshot_cache_commit_synced(ks->tmpdir, ks->key);
	if (err && err != -EEXIST)
		pr_warn("the guest kit's snapshot was not kept: %s", why[0] ? why : strerror(-err));
	else if (!err) {
		char dir[PATH_MAX];

		/* Renamed with its directory; the numbers only. */
		if (!snapshot_cache_dir(ks->key, dir, sizeof(dir)) &&
		    !path_fmt(mem, sizeof(mem), "%s/mem", dir))
			stat(mem, &st);
		pr_info("guest kit ready after %.1f s; snapshot %s kept (taken in %llu ms, memory "
			"%llu MiB on disk): later runs start from it",
			(double)boot_ms / 1000.0, ks->key, (unsigned long long)ms_since(&t0),
			(unsigned long long)((uint64_t)st.st_blocks * 512 >> 20));
	}
}

int kit_snapshot_arm(struct kit_snapshot *ks, struct vm_config *cfg)
{
	int err = snapshot_cache_begin(ks->key, ks->tmpdir, sizeof(ks->tmpdir));

	if (err) {
		pr_warn("no snapshot of the guest kit this time: cannot create its directory "
			"under %s: %s",
			ks->root, strerror(-err));
		return err;
	}
	cfg->snapshot_dir = ks->root;
	return 0;
}

void kit_snapshot_attach(struct kit_snapshot *ks, struct vm *vm)
{
	vm->on_ready = take_snapshot;
	vm->on_ready_ctx = ks;
	vm->ready_wanted = ks->shell ? VM_READY_SHELL : VM_READY_KIT_PORT;
}

/* snapshot_cache_list(): the newest entry's first boot. */
static int newest_boot(const struct snapshot_cache_info *info, void *ctx)
{
	struct snapshot_cache_info *newest = ctx;

	if (info->first_boot_ms && info->created >= newest->created)
		*newest = *info;
	return 0;
}

void kit_boot_notice(const struct vm_config *cfg, bool snapshot, bool boot_log)
{
	struct snapshot_cache_info newest = { .created = -1 };
	char kernel[80] = "", took[64];

	snapshot_cache_file_key(cfg->kernel, kernel, sizeof(kernel));
	snapshot_cache_list(newest_boot, &newest);
	if (newest.first_boot_ms)
		snprintf(took, sizeof(took), "the last first boot here took %.0f s",
			 (double)newest.first_boot_ms / 1000.0);
	else /* docs/boot-time.md */
		snprintf(took, sizeof(took), "%s",
			 cfg->pvm_host ? "about 10-30 s on this host (its guest ring 0 is emulated)"
				       : "about a second");
	pr_info("booting the guest kit (cached kernel %.8s): %s%s%s", kernel[0] ? kernel : "?",
		took, snapshot ? "; later runs start from its snapshot" : "",
		boot_log ? "" : "; --boot-log shows the kernel's messages");
}

void kit_snapshot_free(struct kit_snapshot *ks)
{
	free(ks->devices_json);
	ks->devices_json = NULL;
}
