/* The cache of guest kit snapshots taken at the kit's ready point (issue #13):
 * a later `volt run` of the same kit, shape and command line restores one
 * instead of booting. A snapshot is only valid for exactly the inputs that
 * shaped it, so its key hashes all of them; anything else (the command) goes
 * through the kit port after the restore point (devices/legacy/kit_port.h).
 *
 * Layout, under volt's cache (util/paths.h, next to kernels/ and rootfs/):
 *   snapshots/<key>/state       the state file (core/snap.h)
 *   snapshots/<key>/mem         the memory file
 *   snapshots/<key>/info.json   the key's inputs in readable form, "created"
 *                               (Unix seconds and UTC text), "first_boot_ms"
 *   snapshots/.tmp-<key>-<pid>-<n>   a snapshot being written
 * An entry is complete when its three files exist. Writers fill a temporary
 * directory and rename it into place (after fsyncing it), so a crash never
 * leaves a partial entry under a key; of two concurrent writers the second
 * finds the first's entry and drops its own. Keys are 16 lower-case hex
 * digits, checked before they name a path.
 *
 * No VM code here: files and logic only. Functions return 0 or -errno. */
#ifndef VOLT_KERNEL_SNAPSHOT_CACHE_H
#define VOLT_KERNEL_SNAPSHOT_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAPSHOT_CACHE_KEY_LEN 16

/* Everything that shapes a snapshot. Strings may be NULL (hashed apart from
 * ""), except kernel_key. */
struct snapshot_cache_inputs {
	const char *kernel_key; /* kernels/<key> (kernel/kstore.c) */
	const char *rootfs_key; /* rootfs/<key> (kernel/rootfs.c) */
	uint64_t mem_size;	/* bytes */
	int ncpus;
	const char *devices_json;  /* the devices' configurations, as the caller prints them */
	const char *cmdline;	   /* the kernel command line as the guest gets it */
	unsigned int snap_format;  /* 0: SNAP_FORMAT_VERSION (core/snap.h) */
	const char *cpu_signature; /* host vendor/family/model/stepping */
	const char *volt_version;  /* NULL: VOLT_VERSION */
	const char *ready_point;   /* where it was taken: "kit-port", "shell" */
	bool boot_timer;	   /* --boot-timer: its device moves the virtio windows */
	bool smt;		   /* two threads per core: another CPUID topology */
};

/* What info.json says of a complete entry, for lookups and listings. */
struct snapshot_cache_info {
	char key[SNAPSHOT_CACHE_KEY_LEN + 1];
	uint64_t mem_size;
	int ncpus;
	int64_t created;	/* Unix seconds */
	uint64_t first_boot_ms; /* the cold boot that made it, to the ready point */
	uint64_t disk_bytes;	/* allocated, holes excluded */
	char cmdline[1024];	/* truncated if longer */
};

/* The 16 hex digits of the SHA-256 over all inputs. -EINVAL without
 * kernel_key, mem_size or ncpus. */
int snapshot_cache_key(const struct snapshot_cache_inputs *in,
		       char key[SNAPSHOT_CACHE_KEY_LEN + 1]);
/* For the caller's inputs: the host CPU as "<vendor> <family>/<model>/<stepping>"
 * (CPUID leaves 0 and 1, extended family and model folded in), and the
 * cache key of a cached kernel's or root filesystem's file: the name of the
 * directory it sits in (kernels/<key>/vmlinux, rootfs/<key>/initramfs.cpio). */
int snapshot_cache_cpu_signature(char *buf, size_t size);
int snapshot_cache_file_key(const char *path, char *key, size_t size);
/* true for 16 lower-case hex digits. */
bool snapshot_cache_key_valid(const char *key);
/* <cache>/snapshots, and <cache>/snapshots/<key>. */
int snapshot_cache_root(char *buf, size_t size);
int snapshot_cache_dir(const char *key, char *buf, size_t size);
/* 0 and *info (may be NULL) when the entry is complete; -ENOENT when it is
 * missing or incomplete; -EBADMSG when info.json cannot be read. */
int snapshot_cache_lookup(const char *key, struct snapshot_cache_info *info);
/* Makes a fresh temporary directory for key's entry (tmpdir, PATH_MAX): the
 * caller writes state and mem there, then snapshot_cache_write_info(). */
int snapshot_cache_begin(const char *key, char *tmpdir, size_t size);
/* Writes tmpdir/info.json: the inputs (whose key must be key), now, and
 * first_boot_ms. */
int snapshot_cache_write_info(const char *tmpdir, const char *key,
			      const struct snapshot_cache_inputs *in, uint64_t first_boot_ms);
/* Checks tmpdir holds the three files, fsyncs them, renames tmpdir to the
 * key's entry. 0 when a complete entry is in place, ours or a concurrent
 * writer's (then tmpdir is removed); an incomplete leftover entry is
 * replaced. tmpdir is gone on success; on failure the caller aborts. */
int snapshot_cache_commit(const char *tmpdir, const char *key);
/* Removes a temporary directory (failed or abandoned writes). */
void snapshot_cache_abort(const char *tmpdir);
/* Calls fn for each complete entry, by key order; fn returning non-zero
 * stops the walk with that value. 0 when there is no snapshots/ at all. */
/* The same from a VMM confined by its sandbox (cli/kit_snapshot.c): the files
 * were fsync'd by their writers, and nothing is removed (an entry already
 * there, complete or not, makes it -EEXIST; tmpdir is then left for
 * snapshot_cache_rm("all")): it opens no file for reading and removes no
 * directory, which the seccomp lists refuse. */
int snapshot_cache_commit_synced(const char *tmpdir, const char *key);
int snapshot_cache_list(int (*fn)(const struct snapshot_cache_info *info, void *ctx), void *ctx);
/* Removes one entry (-ENOENT when missing, -EINVAL a malformed key) or, with
 * "all", every entry and the temporary directories of writers that are gone. */
int snapshot_cache_rm(const char *key);

#endif
