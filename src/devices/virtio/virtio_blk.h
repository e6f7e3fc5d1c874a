/* virtio-blk (virtio 1.x, 5.2) over a host file: IN, OUT, FLUSH, GET_ID,
 * DISCARD and WRITE_ZEROES. Requests are checked against the disk's size;
 * a read-only drive answers writes with VIRTIO_BLK_S_IOERR. Writes are durable
 * after FLUSH unless cache=unsafe. */
#ifndef VOLT_DEVICES_VIRTIO_VIRTIO_BLK_H
#define VOLT_DEVICES_VIRTIO_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/fields.h"
#include "core/rate_limiter.h"
#include "devices/virtio/virtio_mmio.h"
#include "util/id_pool.h"
#include "util/parse.h"

enum blk_engine { BLK_ENGINE_SYNC, BLK_ENGINE_IO_URING };
enum blk_cache { BLK_CACHE_WRITEBACK, BLK_CACHE_UNSAFE };

struct blk_config {
	char path[4096];
	/* An id handle (util/id_pool.h), NULL: none; GET_ID answers its first 20
	 * bytes. */
	const char *id;
	bool read_only;
	enum blk_engine engine;
	enum blk_cache cache;
	/* bandwidth: the data bytes of reads and writes; ops: every request. */
	struct rl_config rate_limiter;
};

/* The Firecracker API's keys of a drive (blk_api_keys): the root device, whose
 * root= api/ writes on the kernel command line. */
struct blk_api_keys {
	bool root;	       /* is_root_device */
	char partuuid[64 + 1]; /* "" when none */
};

/* The fields (core/fields.h): path, ro, id, engine, cache, bw, ops on the
 * CLI; path_on_host, is_read_only, drive_id, io_engine, cache_type,
 * rate_limiter in JSON. */
extern const struct field_set blk_fields;
struct device_kind;
extern const struct device_kind virtio_blk_kind;

struct virtio_blk;

/* Opens the file (logging errors) and plugs the device in. */
int virtio_blk_create(struct virtio_blk **out, const struct blk_config *c,
		      const struct virtio_env *env, uint64_t base, uint32_t irq);
void virtio_blk_destroy(struct virtio_blk *b);
struct virtio_dev *virtio_blk_dev(struct virtio_blk *b);
/* PATCH /drives/{id} after boot (any thread): the buckets c gives replace
 * the running ones (rate_limiter_update). */
void virtio_blk_update_rate_limiter(struct virtio_blk *b, const struct rl_config *c);
/* PATCH /drives/{id} path_on_host after boot (any thread): the drive's file
 * becomes path, opened as the first was (read-only or not); requests in
 * flight on the old file finish there first; the driver is told (config
 * change) and reads the new size. Counted in update_count/update_fails.
 * 0, or -errno with why saying what failed (not naming the path). */
int virtio_blk_update_file(struct virtio_blk *b, const char *path, char *why, size_t why_size);

/* Snapshots (the kind's save/restore; contract in virtio_mmio.h). save first
 * waits for every io_uring request in flight and completes it into the used
 * ring (with an interrupt if the driver wants one), so no request is half
 * done in the snapshot. The drive has no state of its own beyond the
 * transport: its id and flush mode are configuration. restore takes the
 * capacity of the file as it is now; when it differs from the saved config
 * space it warns and tells the driver (config change). 0 or -errno. */
struct snap_writer;
struct snap_reader;
int virtio_blk_save(struct virtio_blk *b, struct snap_writer *w);
int virtio_blk_restore(struct virtio_blk *b, struct snap_reader *r);

/* The request parser on its own, for tests and fuzzing: handles one chain
 * against fd and returns the used length, the status written into the chain. */
struct virtq_elem;
uint32_t virtio_blk_handle(int fd, uint64_t capacity_sectors, const struct blk_config *c,
			   struct virtq_elem *e);

#endif
