/* `volt run` of the guest kit from its snapshot (issue #13): the first run
 * of a given kit, shape and command line boots and takes a snapshot at the
 * kit's ready point (kernel/snapshot_cache.h); later runs restore it and hand
 * their command to the kit port. Runs with a drive boot every time: the
 * guest's caches of a drive would not match a file that changed since. */
#ifndef VOLT_CLI_KIT_SNAPSHOT_H
#define VOLT_CLI_KIT_SNAPSHOT_H

#include <limits.h>
#include <stdbool.h>
#include <time.h>

#include "kernel/snapshot_cache.h"
#include "vmm/vm.h"

struct kit_snapshot {
	char key[SNAPSHOT_CACHE_KEY_LEN + 1];
	struct snapshot_cache_inputs in;
	char kernel_key[80], rootfs_key[80], cpu[96];
	char *devices_json;
	char root[PATH_MAX], tmpdir[PATH_MAX];
	struct timespec started;
	bool taken;
	/* No command: the snapshot is of the login shell about to prompt. */
	bool shell;
};

/* The cache key of a guest kit run cfg (its kernel, initrd, shape, devices
 * and command line). -EOPNOTSUPP when the run is not one to cache. */
int kit_snapshot_init(struct kit_snapshot *ks, const struct vm_config *cfg,
		      const struct timespec *started);
/* When the cache has the snapshot: restores it, gives the kit port cmd and
 * runs the VM to its end (*status: vm_run's); returns 0. -ENOENT when there
 * is none (an incomplete or unreadable entry is none: the caller drops it);
 * -EAGAIN when this host cannot restore now (no usable /dev/kvm, no memory:
 * logged, the entry is kept); another -errno when the snapshot could not be
 * restored (logged, dropped; the caller boots instead). */
int kit_snapshot_restore_run(struct kit_snapshot *ks, const char *cmd, int *status);
/* For a cold boot: prepares the entry's temporary directory, lets Landlock
 * allow it (cfg->snapshot_dir) and sets vm's on_ready to take the snapshot. */
int kit_snapshot_arm(struct kit_snapshot *ks, struct vm_config *cfg);
void kit_snapshot_attach(struct kit_snapshot *ks, struct vm *vm);
void kit_snapshot_free(struct kit_snapshot *ks);
/* The one line `volt run` prints before a cold boot of the guest kit: which
 * cached kernel boots and about how long it takes here (the newest cached
 * snapshot's first boot, else a rough figure for the host), whether a
 * snapshot will spare later runs the wait, and how to see the kernel's log
 * (the kit boots with `quiet`; boot_log: it is shown). */
void kit_boot_notice(const struct vm_config *cfg, bool snapshot, bool boot_log);

#endif
