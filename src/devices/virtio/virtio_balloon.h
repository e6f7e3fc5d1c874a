/* virtio-balloon (virtio 1.x, 5.5): inflated pages go back to the host
 * (guest_mem_discard: zeros from then on); optional deflate-on-OOM, a statistics queue, free
 * page hinting and free page reporting (Firecracker's semantics).
 *
 * Queues: inflate (0), deflate (1), then, each only when configured and in
 * this order with no gaps (what Linux's driver expects): statistics, free
 * page hints, free page reports.
 *
 * Reporting: every buffer the driver reports is a free range; the whole
 * pages inside it go back to the host, and the chain goes back used.
 * Hinting: the API starts a run (a new command id in the config space, 2 and
 * up), the driver sends the run's id then free ranges on the hint queue,
 * which are discarded while the run is on, then STOP. The API's stop, or the
 * driver's STOP when the run was started with acknowledge_on_stop, sets DONE,
 * which lets the driver use the hinted pages again.
 * Every range is checked to lie in one RAM region; only whole pages are
 * discarded.
 * The target (config num_pages) is set at creation and later through
 * virtio_balloon_set_target(); the driver reports what it holds in `actual`.
 * Every PFN the driver hands over is checked against guest RAM; one that is
 * not RAM is skipped. The driver's statistics buffer is kept by the device and
 * handed back every SECONDS to ask for fresh values. */
#ifndef VOLT_DEVICES_VIRTIO_VIRTIO_BALLOON_H
#define VOLT_DEVICES_VIRTIO_VIRTIO_BALLOON_H

#include <linux/virtio_balloon.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/fields.h"
#include "devices/virtio/virtio_mmio.h"

struct balloon_config {
	uint32_t mib; /* target size */
	bool deflate_on_oom;
	uint32_t stats_seconds; /* 0: no statistics */
	bool free_page_hinting;
	bool free_page_reporting;
};

#define BALLOON_USAGE \
	"MiB[,deflate-on-oom][,stats=SECONDS][,free-page-hinting][,free-page-reporting]"

/* The fields (core/fields.h): BALLOON_USAGE on the CLI; amount_mib,
 * deflate_on_oom, stats_polling_interval_s, free_page_hinting,
 * free_page_reporting in JSON. */
extern const struct field_set balloon_fields;
struct device_kind;
extern const struct device_kind virtio_balloon_kind;

/* The statistics interval rule of every front-end: 0 (none) to 65535 seconds
 * (Firecracker's u16). -EINVAL with the reason in why. */
#define BALLOON_STATS_MAX 65535U
int balloon_stats_check(uint64_t seconds, char *why, size_t why_size);

/* The balloon size rule of every front-end: less than the guest's memory
 * (mem_size bytes). -EINVAL with the reason in why (may be NULL). */
int balloon_size_check(uint64_t mib, uint64_t mem_size, char *why, size_t why_size);

struct virtio_balloon;

/* Fails (-EINVAL, logged) unless the target is less than the guest's memory. */
int virtio_balloon_create(struct virtio_balloon **out, const struct balloon_config *c,
			  const struct virtio_env *env, uint64_t base, uint32_t irq);
void virtio_balloon_destroy(struct virtio_balloon *b);

/* What the device knows about the balloon and the guest's last statistics. */
/* The statistics tags read: Linux 6.12's (VIRTIO_BALLOON_S_OOM_KILL 10 to
 * VIRTIO_BALLOON_S_DIRECT_RECLAIM 15, which Firecracker reports too), whatever
 * the build's kernel header knows; later ones are counted as unknown. */
#define BALLOON_STAT_TAGS 16
_Static_assert(VIRTIO_BALLOON_S_NR <= BALLOON_STAT_TAGS, "BALLOON_STAT_TAGS");

struct balloon_stats {
	uint32_t target_pages; /* num_pages: what the host asks for (4 KiB pages) */
	uint32_t actual_pages; /* what the driver says it holds */
	uint64_t inflated_pages, deflated_pages; /* PFNs received, valid or not */
	uint64_t bad_pfns;			 /* skipped: not guest RAM */
	uint64_t stats_updates;			 /* statistics buffers received */
	uint32_t valid;				 /* bit t: val[t] was reported (tag t) */
	uint64_t val[BALLOON_STAT_TAGS];	 /* by VIRTIO_BALLOON_S_* tag */
	/* Free page hinting and reporting: ranges discarded, bytes freed,
	 * ranges refused (not RAM, madvise failed), hint ranges ignored (no
	 * run on, or one of another run). */
	uint64_t hint_ranges, hint_freed, hint_fails, hint_ignored;
	uint64_t report_ranges, report_freed, report_fails;
};

/* Firecracker's GET /balloon/hinting/status: the last command id the host
 * set (STOP 0, DONE 1, or a run's id) and the last one the driver sent. */
struct balloon_hint_status {
	uint32_t host_cmd;
	uint32_t guest_cmd;
	bool guest_cmd_valid; /* false: the driver sent none yet (null) */
};

/* For the API: a new target in MiB (less than guest memory, else -EINVAL);
 * the driver is told through a configuration change interrupt. -EAGAIN
 * before the driver started the device (Firecracker's "not activated"). */
int virtio_balloon_set_target(struct virtio_balloon *b, uint32_t mib);
/* Changes the statistics period (only when created with statistics); 0 or
 * -EOPNOTSUPP/-errno. */
int virtio_balloon_set_stats_interval(struct virtio_balloon *b, uint32_t seconds);
/* Fills *s with a consistent snapshot. */
int virtio_balloon_get_stats(struct virtio_balloon *b, struct balloon_stats *s);

/* Free page hinting, for the API. Start: a new run (the next command id);
 * with ack_on_stop the driver's STOP is answered with DONE. Stop: DONE.
 * -ENODEV no device, -EOPNOTSUPP created without hinting, -EAGAIN the
 * driver has not started it (no DRIVER_OK). Status: -EOPNOTSUPP likewise. */
int virtio_balloon_hint_start(struct virtio_balloon *b, bool ack_on_stop);
int virtio_balloon_hint_stop(struct virtio_balloon *b);
int virtio_balloon_hint_status(struct virtio_balloon *b, struct balloon_hint_status *s);

/* Snapshots (the kind's save/restore; contract in virtio_mmio.h). Record
 * "balloon": the target (which the API may have changed since creation),
 * what the driver holds, the statistics interval, the statistics buffer the
 * device holds (its head: the buffer stays the device's across the restore)
 * and the last statistics with their counters. With hinting or reporting,
 * record "balloon_free_pages" too: the features, the hinting command ids
 * and flags, the counters. restore refuses a target not
 * less than guest memory, an interval where the device created has no
 * statistics queue (or none where it has), a held head outside its queue;
 * it restarts the statistics timer at the saved interval. 0 or -errno. */
struct snap_writer;
struct snap_reader;
int virtio_balloon_save(struct virtio_balloon *b, struct snap_writer *w);
int virtio_balloon_restore(struct virtio_balloon *b, struct snap_reader *r);

/* The pieces on their own, for tests and fuzzing. */

/* PFNs one inflate chain may give back (Linux sends 256 at most): those
 * past it are skipped, as bad ones. */
#define BALLOON_PFNS_PER_CHAIN_MAX 4096
/* Gives back to the host each page of the little-endian 32-bit PFNs in
 * iov[0..n) (4 KiB pages; a trailing partial PFN is ignored), the first
 * BALLOON_PFNS_PER_CHAIN_MAX of them. Returns the number of PFNs read; *bad
 * (may be NULL) counts the ones skipped because they are not guest RAM or
 * past that bound. */
uint64_t balloon_release_pfns(const struct guest_mem *m, const struct iovec *iov, unsigned int n,
			      uint64_t *bad);
/* Gives back to the host the whole 4 KiB pages inside one buffer of a chain
 * (seg: host address and length, as virtq_pop() mapped it). 0 with *freed
 * the bytes given back (0 for a range holding no whole page); -EFAULT unless
 * all of seg lies in one RAM region; -errno of madvise. */
int balloon_discard(const struct guest_mem *m, const struct iovec *seg, uint64_t *freed);
/* Records the struct virtio_balloon_stat entries in iov[0..n) into s (val and
 * valid; unknown tags and a trailing partial entry are ignored). Returns the
 * number of known tags recorded. */
unsigned int balloon_stats_parse(const struct iovec *iov, unsigned int n, struct balloon_stats *s);
/* The transport side of the device, to drive it like a driver would. */
struct virtio_dev *virtio_balloon_dev(struct virtio_balloon *b);

#endif
