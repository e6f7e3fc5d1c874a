/* Snapshots and restores of a VM (vmm/vm_snapshot.h, docs/snapshots.md).
 *
 * The state file's records: "vm/config" (the configuration a restore builds
 * the VM from, as JSON), "api/config" (the front end's, opaque here; absent
 * from snapshots of volt before it and of `volt run`), "vcpu<N>/..." (vmm/vcpu_state.c), "vm/..."
 * (vmm/vm_state.c), "dev/serial", "dev/i8042", "dev/cmos" and one scope per
 * virtio device, "dev/<kind><index>" (its kind's save/restore). */
#include "vmm/vm_snapshot.h"

#include "core/host.h"
#include "core/mem_file.h"
#include "core/snap.h"
#include "devices/device_table.h"
#include "devices/mmds/mmds.h"
#include "devices/virtio/virtio_net.h"
#include "util/fs.h"
#include "util/id_pool.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/rust_err.h"
#include "vmm/vcpu.h"
#include "vmm/vcpu_state.h"
#include "vmm/vm_state.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_RECORD	  "vm/config"
#define API_CONFIG_RECORD "api/config"
#define CONFIG_MAX	  (256u << 10)

/* The scope of the index-th device of vm->devices: "dev/blk0". */
static int device_scope(const struct vm *vm, int i, char *buf, size_t size)
{
	int j, n = 0;

	for (j = 0; j < i; j++)
		n += vm->devices[j].kind == vm->devices[i].kind;
	return snprintf(buf, size, "dev/%s%d", vm->devices[i].kind->name, n) < (int)size
		       ? 0
		       : -ENAMETOOLONG;
}

static bool net_serves_mmds(const struct vm *vm, const struct device_config *c)
{
	return vm->cfg.mmds && c->kind == &virtio_net_kind &&
	       ((const struct net_config *)(const void *)c->data)->mmds;
}

/* The configuration a restore needs, as JSON: the machine, the devices in
 * the VM's order (with their API ids; "mmds" for the interfaces serving
 * MMDS), the MMIO windows they had, the MMDS configuration. */
static json_t *config_to_json(const struct vm *vm)
{
	json_t *j = json_object(), *devs = json_array(), *slots = json_array();
	int i;

	if (!j || !devs || !slots)
		goto fail;
	json_object_set_new(j, "mem_size", json_integer((json_int_t)vm->cfg.mem_size));
	json_object_set_new(j, "vcpus", json_integer(vm->cfg.ncpus));
	/* The vCPUs' CPUID comes back from their state; this is what GET
	 * /vm/config says of it after a restore. */
	json_object_set_new(j, "smt", json_boolean(vm->cfg.smt));
	json_object_set_new(j, "pvm_host", json_boolean(vm->cfg.pvm_host));
	json_object_set_new(j, "track_dirty_pages", json_boolean(vm->cfg.track_dirty_pages));
	/* What GET /vm/config says after a restore (its RAM is the file's). */
	if (vm->cfg.huge_pages == VM_HUGE_THP)
		json_object_set_new(j, "huge_pages_thp", json_true());
	if (vm->cfg.huge_pages == VM_HUGE_2M)
		json_object_set_new(j, "huge_pages_2m", json_true());
	/* The guest kit's command port: a restore plugs it in again, empty. */
	json_object_set_new(j, "kit_port", json_boolean(vm->cfg.kit_cmd != NULL));
	/* It moves the virtio windows (vm.c): a restore keeps it as it was. */
	json_object_set_new(j, "boot_timer", json_boolean(vm->cfg.boot_timer));
	if (vm->cfg.cpu_template)
		json_object_set_new(j, "cpu_template", json_string(vm->cfg.cpu_template));
	for (i = 0; i < vm->cfg.ndevices; i++) {
		const struct device_config *c = &vm->cfg.devices[i];
		json_t *d = json_object(), *cj = device_config_to_json(c);

		if (!d || !cj) {
			json_decref(d);
			json_decref(cj);
			goto fail;
		}
		json_object_set_new(d, "kind", json_string(c->kind->name));
		json_object_set_new(d, "id", json_string(id_str(c->id)));
		json_object_set_new(d, "config", cj);
		if (net_serves_mmds(vm, c))
			json_object_set_new(d, "mmds", json_true());
		json_array_append_new(devs, d);
	}
	/* As Firecracker's snapshots: the MMDS configuration, not its data. */
	if (vm->cfg.mmds) {
		struct mmds_config mc;

		mmds_get_config(vm->cfg.mmds, &mc);
		json_object_set_new(j, "mmds",
				    json_pack("{s:i,s:I,s:b}", "version", (int)mc.version, "ipv4",
					      (json_int_t)mc.ipv4, "imds_compat", mc.imds_compat));
	}
	for (i = 0; i < vm->nvirtio; i++)
		json_array_append_new(slots, json_pack("[I,i]", (json_int_t)vm->virtio_base[i],
						       (int)vm->virtio_irq[i]));
	json_object_set_new(j, "devices", devs);
	json_object_set_new(j, "virtio", slots);
	return j;
fail:
	json_decref(j);
	json_decref(devs);
	json_decref(slots);
	return NULL;
}

static int save_config(const struct vm *vm, struct snap_writer *w)
{
	json_t *j = config_to_json(vm);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	int err = text ? snap_put(w, CONFIG_RECORD, text, strlen(text)) : -ENOMEM;

	free(text);
	json_decref(j);
	return err;
}

static int save_devices(struct vm *vm, struct snap_writer *w, char *why, size_t why_size)
{
	char scope[SNAP_NAME_MAX];
	int i, err;

	err = snap_writer_scope(w, "dev/serial");
	if (!err)
		err = serial_save(&vm->serial, w);
	if (!err)
		err = snap_writer_scope(w, "dev/i8042");
	if (!err)
		err = i8042_save(&vm->i8042, w);
	if (!err)
		err = snap_writer_scope(w, "dev/cmos");
	if (!err)
		err = cmos_save(&vm->cmos, w);
	if (!err && vm->cfg.kit_cmd)
		err = snap_writer_scope(w, "dev/kit");
	if (!err && vm->cfg.kit_cmd)
		err = kit_port_save(&vm->kit, w);
	if (err) {
		snprintf(why, why_size, "cannot save the legacy devices: %s", strerror(-err));
		goto out;
	}
	for (i = 0; i < vm->ndevices; i++) {
		const struct device_kind *k = vm->devices[i].kind;

		if (!k->save) {
			snprintf(why, why_size, "a %s device cannot be saved in a snapshot",
				 k->name);
			err = -EOPNOTSUPP;
			goto out;
		}
		err = device_scope(vm, i, scope, sizeof(scope));
		if (!err)
			err = snap_writer_scope(w, "%s", scope);
		if (!err)
			err = k->save(vm->devices[i].dev, w);
		if (err) {
			snprintf(why, why_size, "cannot save %s: %s", scope, strerror(-err));
			goto out;
		}
	}
out:
	snap_writer_scope(w, NULL);
	return err;
}

/* The state file in memory: configuration, vCPUs, VM, devices. */
static int save_state(struct vm *vm, const struct snapshot_create_req *req, struct snap_writer *w,
		      char *why, size_t why_size)
{
	int i, err = save_config(vm, w);

	if (!err && req->api_config)
		err = snap_put(w, API_CONFIG_RECORD, req->api_config, strlen(req->api_config));

	for (i = 0; !err && i < vm->nvcpus; i++)
		err = vcpu_state_save(vcpu_fd(vm->vcpus[i]), vm->kvm_fd, false, w, i);
	if (!err)
		err = vm_state_save(vm->vm_fd, vm->nvcpus, w);
	if (err) {
		snprintf(why, why_size, "cannot save the KVM state: %s", strerror(-err));
		return err;
	}
	return save_devices(vm, w, why, why_size);
}

/* *pages: the dirty pages collected (NULL when not tracking), for the caller to
 * give back (guest_mem_dirty_restore) when the snapshot fails after all. The
 * file is staged (mem_file_stage): the caller commits or discards it. */
/* The directory part of path ("." for none) and its identity. */
static int parent_of(const char *path, struct stat *st)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return -ENAMETOOLONG;
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	return stat(dir, st) ? -errno : 0;
}

/* Refused before anything is written: a target that exists and is not a
 * regular file (a directory, the API's socket...: a rename would fail on it,
 * or swap it away), and two paths naming one file (the memory file would
 * overwrite the state). */
static int check_targets(const struct snapshot_create_req *req, char *why, size_t why_size)
{
	const char *paths[2] = { req->state_path, req->mem_path };
	const char *keys[2] = { "snapshot_path", "mem_file_path" };
	struct stat dir[2], st;
	const char *base[2];
	int i;

	for (i = 0; i < 2; i++) {
		if (!stat(paths[i], &st) && !S_ISREG(st.st_mode)) {
			snprintf(why, why_size, "%s '%s' is %s, not a regular file", keys[i],
				 paths[i], file_type_name(st.st_mode));
			return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		}
		base[i] = strrchr(paths[i], '/') ? strrchr(paths[i], '/') + 1 : paths[i];
		if (!*base[i]) {
			snprintf(why, why_size, "%s '%s' names a directory, not a file", keys[i],
				 paths[i]);
			return -EISDIR;
		}
	}
	if (!strcmp(paths[0], paths[1]) ||
	    (!parent_of(paths[0], &dir[0]) && !parent_of(paths[1], &dir[1]) &&
	     dir[0].st_dev == dir[1].st_dev && dir[0].st_ino == dir[1].st_ino &&
	     !strcmp(base[0], base[1]))) {
		snprintf(why, why_size, "snapshot_path and mem_file_path name the same file '%s'",
			 paths[1]);
		return -EINVAL;
	}
	return 0;
}

static int save_memory(struct vm *vm, const struct snapshot_create_req *req, uint64_t **pages,
		       struct staged_file *staged, char *why, size_t why_size)
{
	int err;

	/* Every snapshot starts a new dirty interval: a Diff after it holds what
	 * changed since this one, whichever kind this one is. */
	if (vm->mem.track_dirty || req->type == SNAPSHOT_DIFF) {
		*pages = calloc((guest_mem_pages(&vm->mem) + 63) / 64, sizeof(**pages));
		if (!*pages)
			return -ENOMEM;
	}
	if (vm->mem.track_dirty) {
		err = guest_mem_dirty_collect(&vm->mem, vm->vm_fd, *pages);
		if (err) {
			snprintf(why, why_size, "cannot read the dirty page log: %s",
				 strerror(-err));
			return err;
		}
	} else if (req->type == SNAPSHOT_DIFF) {
		/* No dirty log: Firecracker's Diff holds the resident pages. */
		err = guest_mem_resident(&vm->mem, *pages);
		if (err) {
			snprintf(why, why_size, "mincore of guest memory: %s", strerror(-err));
			return err;
		}
	}
	return mem_file_stage(&vm->mem, req->mem_path, req->type == SNAPSHOT_DIFF ? *pages : NULL,
			      staged, why, why_size);
}

int vm_snapshot_create(struct vm *vm, const struct snapshot_create_req *req, char *why,
		       size_t why_size)
{
	struct snap_writer w;
	struct staged_file files[2]; /* the state file, the memory file */
	uint64_t *pages = NULL;
	int failed, err;

	why[0] = '\0';
	if (!vm->started || !vm->paused) {
		snprintf(why, why_size, "the microVM must be paused to take a snapshot");
		return -EINVAL;
	}
	err = check_targets(req, why, why_size);
	if (!err)
		err = guest_mem_file_check(&vm->mem, why, why_size);
	if (err)
		return err;
	snap_writer_init(&w);
	/* Devices and guest memory hold still while they are saved. */
	err = event_loop_pause(&vm->loop);
	if (err) {
		snprintf(why, why_size, "the device thread did not pause within %u s",
			 EVENT_LOOP_PAUSE_TIMEOUT_MS / 1000);
		snap_writer_free(&w);
		return err;
	}
	err = save_state(vm, req, &w, why, why_size);
	if (!err)
		err = save_memory(vm, req, &pages, &files[1], why, why_size);
	if (!err) {
		err = snap_stage_file(&w, req->state_path, &files[0]);
		if (err) {
			snprintf(why, why_size, "cannot write the snapshot file %s: %s",
				 req->state_path, strerror(-err));
			staged_discard(&files[1]);
		}
	}
	if (!err) {
		/* Both files go in place, or neither: a failure leaves both paths
		 * as they were (a Diff's base too), never a new state file beside
		 * an old memory file, which a load would accept. */
		err = staged_commit(files, 2, &failed);
		if (err)
			snprintf(why, why_size,
				 "cannot put the %s %s in place: %s (both files are as they were)",
				 failed ? "memory file" : "snapshot file",
				 failed ? req->mem_path : req->state_path, strerror(-err));
	}
	/* A failed snapshot (a full disk) took the dirty log: the next Diff
	 * must still hold those pages (Firecracker's store_dirty_bitmap). */
	if (err && pages)
		guest_mem_dirty_restore(&vm->mem, pages);
	free(pages);
	event_loop_resume(&vm->loop);
	snap_writer_free(&w);
	if (err && !why[0])
		snprintf(why, why_size, "%s", strerror(-err));
	if (err == -EACCES) {
		size_t n = strlen(why);

		/* Landlock: the VM may write only where it was told at start. */
		snprintf(why + n, why_size - n,
			 vm->cfg.snapshot_dir ? " (snapshots go under %s)"
					      : " (start volt with --snapshot-dir DIR to "
						"allow snapshots there%s)",
			 vm->cfg.snapshot_dir ? vm->cfg.snapshot_dir : "");
	}
	return err;
}

/* Applies network_overrides and vsock_override to a device's saved object;
 * used[i] for network override i, used[VM_MAX_NETS] for the vsock's. */
static int apply_overrides(const struct snapshot_load_req *req, const char *kind, const char *id,
			   json_t *cfg, bool *used)
{
	int i;

	if (!strcmp(kind, "net"))
		for (i = 0; i < req->nnet; i++)
			if (!strcmp(req->net[i].iface_id, id)) {
				used[i] = true;
				return json_object_set_new(cfg, "host_dev_name",
							   json_string(req->net[i].host_dev_name));
			}
	if (!strcmp(kind, "vsock") && req->vsock_uds_path) {
		used[VM_MAX_NETS] = true;
		return json_object_set_new(cfg, "uds_path", json_string(req->vsock_uds_path));
	}
	return 0;
}

/* The saved MMDS configuration goes to the caller's store; without one
 * (`volt run --restore`: nothing could fill it) the interfaces serve none. */
static int mmds_from_state(json_t *o, const struct snapshot_load_req *req, struct vm_config *cfg,
			   char *why, size_t why_size)
{
	struct mmds_config mc = { 0 };
	json_int_t ipv4 = 0;
	int version = 0, compat = 0;

	if (json_unpack(o, "{s:i,s:I,s:b}", "version", &version, "ipv4", &ipv4, "imds_compat",
			&compat) ||
	    (version != MMDS_V1 && version != MMDS_V2) || ipv4 < 0 || ipv4 > UINT32_MAX) {
		snprintf(why, why_size, "the snapshot's MMDS configuration is malformed");
		return -EBADMSG;
	}
	if (!req->mmds) {
		pr_warn("the snapshot's interfaces served MMDS: not this restore's (no store)");
		return 0;
	}
	mc.version = (enum mmds_version)version;
	mc.ipv4 = (uint32_t)ipv4;
	mc.imds_compat = compat;
	mmds_set_config(req->mmds, &mc);
	cfg->mmds = req->mmds;
	return 0;
}

/* vm/config back into a vm_config (cfg->devices filled in). */
static int config_from_state(struct snap_reader *r, const struct snapshot_load_req *req,
			     struct vm_config *cfg, char *tmpl, size_t tmpl_size, char *why,
			     size_t why_size)
{
	bool used[VM_MAX_NETS + 1] = { false };
	const void *text;
	json_t *j, *devs, *d;
	json_error_t jerr;
	size_t len, i;
	json_int_t mem = 0;
	int vcpus = 0, pvm = 0, dirty = 0, timer = 0, kit = 0, smt = 0, thp = 0, h2m = 0, err = 0;
	const char *t = NULL;
	json_t *mmds = NULL;

	err = snap_find(r, CONFIG_RECORD, &text, &len);
	if (err) {
		snprintf(why, why_size, "the snapshot has no VM configuration");
		return err;
	}
	j = json_loadb(text, len, 0, &jerr);
	if (!j ||
	    json_unpack_ex(j, &jerr, 0, "{s:I,s:i,s?b,s:b,s?b,s?b,s?b,s?s,s:o,s?o,s?b,s?b}",
			   "mem_size", &mem, "vcpus", &vcpus, "smt", &smt, "pvm_host", &pvm,
			   "track_dirty_pages", &dirty, "boot_timer", &timer, "kit_port", &kit,
			   "cpu_template", &t, "devices", &devs, "mmds", &mmds, "huge_pages_thp",
			   &thp, "huge_pages_2m", &h2m) ||
	    !json_is_array(devs)) {
		snprintf(why, why_size, "the snapshot's VM configuration is malformed: %s",
			 jerr.text);
		json_decref(j);
		return -EBADMSG;
	}
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = (uint64_t)mem;
	cfg->ncpus = vcpus;
	cfg->smt = smt;
	cfg->pvm_host = host_is_pvm();
	cfg->track_dirty_pages = req->track_dirty_pages;
	cfg->boot_timer = timer;
	/* The request's, or the snapshot's (2M first, whatever a crafted
	 * record says). */
	cfg->huge_pages = req->huge_pages == SNAP_HUGE_NONE  ? VM_HUGE_NONE
			  : req->huge_pages == SNAP_HUGE_THP ? VM_HUGE_THP
			  : req->huge_pages == SNAP_HUGE_2M  ? VM_HUGE_2M
			  : h2m				     ? VM_HUGE_2M
			  : thp				     ? VM_HUGE_THP
							     : VM_HUGE_NONE;
	/* The command comes after the restore (kit_port_set_command). */
	cfg->kit_cmd = kit ? "" : NULL;
	cfg->started = req->started;
	cfg->terminal_output_waits = req->terminal_output_waits;
	if (t) {
		snprintf(tmpl, tmpl_size, "%s", t);
		cfg->cpu_template = tmpl;
	}
	if (cfg->pvm_host != (bool)pvm) {
		snprintf(why, why_size, "the snapshot was taken on a host %s PVM and this one %s",
			 pvm ? "with" : "without", cfg->pvm_host ? "has it" : "has none");
		json_decref(j);
		return -EXDEV;
	}
	err = mmds ? mmds_from_state(mmds, req, cfg, why, why_size) : 0;
	json_array_foreach(devs, i, d)
	{
		const char *kind = NULL, *id = "";
		const struct device_kind *k;
		json_t *c = NULL;
		int serves = 0;

		if (err)
			break;
		if (json_unpack(d, "{s:s,s?s,s:o,s?b}", "kind", &kind, "id", &id, "config", &c,
				"mmds", &serves) ||
		    !(k = device_kind_by_name(kind)) || i >= VM_MAX_VIRTIO) {
			snprintf(why, why_size, "the snapshot's device %zu is malformed or unknown",
				 i);
			err = -EBADMSG;
			break;
		}
		c = json_deep_copy(c);
		if (!c || apply_overrides(req, kind, id, c, used)) {
			json_decref(c);
			err = -ENOMEM;
			break;
		}
		err = device_config_from_json(k, kind, c, NULL, &cfg->devices[cfg->ndevices], why,
					      why_size);
		json_decref(c);
		if (err)
			break;
		/* Any length: the record is a JSON string (no format change). */
		cfg->devices[cfg->ndevices].id = id ? id_intern(id) : NULL;
		if (id && !cfg->devices[cfg->ndevices].id) {
			err = -ENOMEM;
			break;
		}
		if (serves && cfg->mmds && k == &virtio_net_kind)
			((struct net_config *)(void *)cfg->devices[cfg->ndevices].data)->mmds =
				true;
		cfg->ndevices++;
	}
	json_decref(j);
	for (i = 0; !err && i < (size_t)req->nnet; i++)
		if (!used[i]) {
			snprintf(why, why_size,
				 "Unknown Network Device. (network_overrides: the snapshot has no "
				 "network interface '" PARSE_ID_FMT "')",
				 PARSE_ID_ARG(req->net[i].iface_id));
			err = -EINVAL;
		}
	/* Firecracker's words for both, which its tests match. */
	if (!err && req->vsock_uds_path && !used[VM_MAX_NETS]) {
		snprintf(
			why, why_size,
			"Unknown Vsock Device. (vsock_override: the snapshot has no vsock device)");
		err = -EINVAL;
	}
	return err;
}

/* The front end's record, copied out for it (an older snapshot has none). */
static int api_config_from_state(struct snap_reader *r, const struct snapshot_load_req *req,
				 char *why, size_t why_size)
{
	const void *data;
	size_t len;
	char *copy;

	/* snap_has first: snap_find logs a missing record as an error. */
	if (!snap_has(r, API_CONFIG_RECORD) || snap_find(r, API_CONFIG_RECORD, &data, &len))
		return 0;
	if (!req->api_config_out)
		return 0;
	if (len > CONFIG_MAX) {
		snprintf(why, why_size, "the snapshot's API configuration is too large (%zu bytes)",
			 len);
		return -EBADMSG;
	}
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, len);
	copy[len] = '\0';
	*req->api_config_out = copy;
	return 0;
}

/* The MMIO windows must be where the guest's drivers found them. */
static int check_slots(struct snap_reader *r, const struct vm *vm, char *why, size_t why_size)
{
	const void *text;
	json_t *j, *slots, *s;
	size_t len, i;
	int err = 0;

	if (snap_find(r, CONFIG_RECORD, &text, &len))
		return -EBADMSG;
	j = json_loadb(text, len, 0, NULL);
	slots = json_object_get(j, "virtio");
	if (!json_is_array(slots) || json_array_size(slots) != (size_t)vm->nvirtio)
		err = -EBADMSG;
	json_array_foreach(slots, i, s)
	{
		json_int_t base = -1;
		int irq = -1;

		if (err || i >= (size_t)vm->nvirtio || json_unpack(s, "[I,i]", &base, &irq) ||
		    (uint64_t)base != vm->virtio_base[i] || (uint32_t)irq != vm->virtio_irq[i]) {
			err = -EBADMSG;
			break;
		}
	}
	json_decref(j);
	if (err)
		snprintf(why, why_size,
			 "the snapshot's virtio devices sat at other addresses than this "
			 "volt gives them");
	return err;
}

static int restore_devices(struct vm *vm, struct snap_reader *r, char *why, size_t why_size)
{
	char scope[SNAP_NAME_MAX];
	int i, err;

	err = snap_reader_scope(r, "dev/serial");
	if (!err)
		err = serial_restore(&vm->serial, r);
	if (!err)
		err = snap_reader_scope(r, "dev/i8042");
	if (!err)
		err = i8042_restore(&vm->i8042, r);
	if (!err)
		err = snap_reader_scope(r, "dev/cmos");
	if (!err)
		err = cmos_restore(&vm->cmos, r);
	if (!err && vm->cfg.kit_cmd)
		err = snap_reader_scope(r, "dev/kit");
	if (!err && vm->cfg.kit_cmd)
		err = kit_port_restore(&vm->kit, r);
	if (err) {
		snprintf(why, why_size, "cannot restore the legacy devices: %s", strerror(-err));
		goto out;
	}
	for (i = 0; i < vm->ndevices; i++) {
		const struct device_kind *k = vm->devices[i].kind;

		err = device_scope(vm, i, scope, sizeof(scope));
		if (!err)
			err = snap_reader_scope(r, "%s", scope);
		if (!err)
			err = k->restore ? k->restore(vm->devices[i].dev, r) : -EOPNOTSUPP;
		if (err) {
			snprintf(why, why_size, "cannot restore %s: %s", scope, strerror(-err));
			goto out;
		}
	}
out:
	snap_reader_scope(r, NULL);
	return err;
}

/* A device whose host file cannot be opened (or sized) again, in Firecracker's
 * chain of errors where its kind has Firecracker's words for it (a drive:
 * test_negative_snapshot_permissions matches them): true with why filled.
 * Other failures keep volt's words (the log's last error). */
static bool device_failure(const struct vm *vm, int err, char *why, size_t why_size)
{
	const struct device_config *c = vm->failed_device;
	struct device_path path;
	char e[96];

	/* -EINVAL: not a file or a disk (open_input), volt's words say which. */
	if (!c || !c->kind->restore_open_error || !c->kind->host_paths || err == -EINVAL ||
	    c->kind->host_paths(c->data, &path, 1) < 1)
		return false;
	snprintf(why, why_size,
		 "Failed to build microVM from snapshot: Failed to restore devices: Error "
		 "restoring MMIO devices: %s: %s %s",
		 c->kind->restore_open_error, rust_io_error(-err, e, sizeof(e)), path.path);
	return true;
}

int vm_restore(struct vm *vm, const struct snapshot_load_req *req, char *why, size_t why_size)
{
	struct guest_mem_source src = {
		.kind = req->backend == MEM_BACKEND_UFFD ? GUEST_MEM_UFFD : GUEST_MEM_FILE,
		.path = req->backend_path,
	};
	struct snap_reader r = { 0 };
	struct vm_config *cfg;
	char tmpl[32];
	const char *left;
	int i, err;

	why[0] = '\0';
	if (req->api_config_out)
		*req->api_config_out = NULL;
	vm_clear(vm);
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	err = snap_read_file(&r, req->state_path);
	if (err && r.read_err && err != -EFBIG) {
		/* Firecracker's chain of errors (its tests match it), then the path. */
		/* A FIFO or a device gives EINVAL: the path's kind says more. */
		bool more = r.read_why[0] && strcmp(r.read_why, strerror(-err));

		snprintf(why, why_size,
			 "Failed to get snapshot state from file: Failed to open snapshot file: "
			 "%s (os error %d) (%s%s%s)",
			 musl_strerror(-err), -err, req->state_path, more ? ": " : "",
			 more ? r.read_why : "");
		goto out;
	}
	if (err) {
		snprintf(why, why_size, "cannot load the snapshot file %s: %s", req->state_path,
			 log_last_error()[0] ? log_last_error() : strerror(-err));
		goto out;
	}
	err = config_from_state(&r, req, cfg, tmpl, sizeof(tmpl), why, why_size);
	if (!err)
		err = api_config_from_state(&r, req, why, why_size);
	if (!err && (err = vm_state_check(&r, cfg->ncpus)))
		snprintf(why, why_size, "%s",
			 log_last_error()[0] ? log_last_error() : "the snapshot does not fit");
	if (err)
		goto out;
	err = vm_create_restored(vm, cfg, &src, why, why_size);
	if (err && !why[0] && device_failure(vm, err, why, why_size))
		goto out;
	if (err) {
		if (!why[0])
			snprintf(why, why_size, "%s",
				 log_last_error()[0] ? log_last_error() : strerror(-err));
		goto out;
	}
	err = check_slots(&r, vm, why, why_size);
	for (i = 0; !err && i < vm->nvcpus; i++)
		err = vcpu_state_restore(vcpu_fd(vm->vcpus[i]), vm->kvm_fd, &r, i);
	if (!err)
		err = vm_state_restore(vm->vm_fd, &r, req->clock_realtime);
	if (err && !why[0])
		snprintf(why, why_size, "cannot restore the KVM state: %s",
			 log_last_error()[0] ? log_last_error() : strerror(-err));
	/* After the irqchip: a device may raise its interrupt line again. */
	if (!err)
		err = restore_devices(vm, &r, why, why_size);
	if (!err && (left = snap_unread(&r))) {
		snprintf(why, why_size, "the snapshot holds state this volt cannot restore: %s",
			 left);
		err = -EPROTONOSUPPORT;
	}
	vm->start_paused = !req->resume_vm;
out:
	snap_reader_free(&r);
	free(cfg);
	if (err && req->api_config_out) {
		free(*req->api_config_out);
		*req->api_config_out = NULL;
	}
	if (err && !why[0])
		snprintf(why, why_size, "%s", strerror(-err));
	return err;
}
