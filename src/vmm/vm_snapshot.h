/* Snapshots of a running VM and VMs restored from them (issue #13,
 * docs/snapshots.md). A snapshot is two files: the state file (core/snap.h:
 * the VM's configuration, every vCPU's and the VM's KVM state, every device's
 * state) and the memory file (guest RAM, one byte per byte of RAM in the
 * order of the mapping, zero pages as holes: core/mem_file.h).
 *
 * vm_snapshot_create() runs on the serving thread of a paused VM (vm_pause):
 * it parks the device thread, saves, and lets the device thread go on; the
 * VM stays paused. A failure leaves no file at either path (nothing half
 * written) and the VM as it was.
 *
 * vm_restore() builds a VM in a fresh struct vm from a snapshot instead of
 * vm_create(): it checks the whole state file first (format, host CPU, vCPU
 * count), maps guest RAM from the memory file (MAP_PRIVATE: the file is never
 * written) or from an external page-fault handler (Uffd), creates the devices
 * from the saved configuration (with the overrides), restores the vCPUs, the
 * VM and the devices, and returns a VM that vm_start() starts; it starts
 * paused unless req->resume_vm. On failure the caller vm_destroy()s it.
 * Both return 0 or -errno with a one-line reason in why. */
#ifndef VOLT_VMM_VM_SNAPSHOT_H
#define VOLT_VMM_VM_SNAPSHOT_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#include "vmm/vm.h"

enum snapshot_type {
	SNAPSHOT_FULL,
	SNAPSHOT_DIFF, /* pages dirtied since the last snapshot only (track_dirty_pages) */
};

struct snapshot_create_req {
	enum snapshot_type type;
	const char *state_path; /* Firecracker's snapshot_path */
	const char *mem_path;	/* mem_file_path */
	/* The front end's own configuration (api/: the boot source, the API's
	 * keys of the devices), saved as it is in the record "api/config";
	 * NULL: none. The VM neither reads nor checks it. */
	const char *api_config;
};

enum mem_backend_type {
	MEM_BACKEND_FILE, /* MAP_PRIVATE from the memory file */
	MEM_BACKEND_UFFD, /* a page-fault handler listening on a Unix socket */
};

/* network_overrides[]: the interface with this id gets another TAP. */
struct net_override {
	const char *iface_id; /* any length: an id handle (util/id_pool.h) */
	char host_dev_name[IFNAMSIZ];
};

struct snapshot_load_req {
	const char *state_path;
	enum mem_backend_type backend;
	const char *backend_path; /* the memory file, or the handler's socket */
	bool track_dirty_pages;
	bool resume_vm;
	/* Firecracker's clock_realtime: kvmclock moves on by the wall-clock time
	 * since the snapshot (KVM_CLOCK_REALTIME) instead of going on from its
	 * saved value. */
	bool clock_realtime;
	/* Firecracker's huge_pages: "Snapshot" (the snapshot's), "None",
	 * "Transparent" (the restored machine's setting, kept in its next
	 * snapshot; a memory file's RAM gets no advice either way) or "2M"
	 * (hugetlbfs pages: through a page-fault handler only, as in
	 * Firecracker; a memory file is refused). */
	enum snapshot_huge_pages {
		SNAP_HUGE_SNAPSHOT,
		SNAP_HUGE_NONE,
		SNAP_HUGE_THP,
		SNAP_HUGE_2M
	} huge_pages;
	struct net_override net[VM_MAX_NETS];
	int nnet;
	const char *vsock_uds_path; /* vsock_override; NULL: the snapshot's */
	/* The store the snapshot's MMDS interfaces serve (it takes the saved
	 * MMDS configuration; its data is not in a snapshot, as in
	 * Firecracker); NULL: they serve none. */
	struct mmds *mmds;
	/* The process's start, for the boot timer's and metrics' clocks. */
	struct timespec started;
	bool terminal_output_waits; /* vm_config's, not in a snapshot */
	/* Receives a copy of the snapshot's "api/config" record (NUL-terminated,
	 * malloc'd, the caller frees it; NULL when the snapshot has none: one
	 * from before the record, or not taken through the API). Untrusted: the
	 * caller checks it as a request body. NULL: not wanted (the record is
	 * still accepted). */
	char **api_config_out;
};

int vm_snapshot_create(struct vm *vm, const struct snapshot_create_req *req, char *why,
		       size_t why_size);
int vm_restore(struct vm *vm, const struct snapshot_load_req *req, char *why, size_t why_size);

#endif
