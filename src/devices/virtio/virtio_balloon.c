#include "devices/virtio/virtio_balloon.h"

#include "core/metrics.h"
#include "core/snap.h"
#include "devices/device_kind.h"
#include "util/log.h"
#include "util/parse.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

struct balloon_metrics {
	metric_t inflate_count; /* page frames */
	metric_t deflate_count; /* page frames */
	metric_t stats_updates_count;
	/* Firecracker's names: ranges (descriptors) discarded, bytes freed and
	 * ranges that could not be discarded (not RAM, or madvise failed). */
	metric_t free_page_report_count;
	metric_t free_page_report_freed;
	metric_t free_page_report_fails;
	metric_t free_page_hint_count;
	metric_t free_page_hint_freed;
	metric_t free_page_hint_fails;
	metric_t activate_fails;     /* volt's balloon has no activate() that can fail: 0 */
	metric_t stats_update_fails; /* statistics with a tag volt does not know (skipped) */
	/* Reading a queue's kick eventfd or the statistics timer failed. */
	metric_t event_fails;
};

static struct balloon_metrics balloon_metrics;

static const struct metric_field balloon_metrics_fields[] = {
	METRIC_DELTA(struct balloon_metrics, inflate_count),
	METRIC_DELTA(struct balloon_metrics, deflate_count),
	METRIC_DELTA(struct balloon_metrics, stats_updates_count),
	METRIC_DELTA(struct balloon_metrics, free_page_report_count),
	METRIC_DELTA(struct balloon_metrics, free_page_report_freed),
	METRIC_DELTA(struct balloon_metrics, free_page_report_fails),
	METRIC_DELTA(struct balloon_metrics, free_page_hint_count),
	METRIC_DELTA(struct balloon_metrics, free_page_hint_freed),
	METRIC_DELTA(struct balloon_metrics, free_page_hint_fails),
	METRIC_DELTA(struct balloon_metrics, activate_fails),
	METRIC_DELTA(struct balloon_metrics, stats_update_fails),
	METRIC_DELTA(struct balloon_metrics, event_fails),
};

/* A counter in the struct but not in the table would never be written. */
_Static_assert(sizeof(balloon_metrics_fields) / sizeof(balloon_metrics_fields[0]) *
			       sizeof(metric_t) ==
		       sizeof(struct balloon_metrics),
	       "every counter needs a line in the table");

/* The "balloon" section of the metrics line, for the device table; the
 * counters are aggregated over every device of the kind. */
static const struct metrics_section balloon_metrics_section = {
	.name = "balloon",
	.base = &balloon_metrics,
	.fields = balloon_metrics_fields,
	.n = sizeof(balloon_metrics_fields) / sizeof(balloon_metrics_fields[0]),
};

#define PAGE_SHIFT    VIRTIO_BALLOON_PFN_SHIFT
#define PAGE_SIZE     (1ULL << PAGE_SHIFT)
#define PAGES_PER_MIB (1U << (20 - PAGE_SHIFT))
#define MAX_MIB	      (UINT32_MAX / PAGES_PER_MIB) /* num_pages is 32-bit */
#define QUEUE_SIZE    128
#define Q_INFLATE     0
#define Q_DEFLATE     1
#define Q_NONE	      -1
/* Linux sends one entry per tag it knows; a longer buffer is cut here so a
 * hostile driver cannot keep the device thread busy. */
#define MAX_STAT_ENTRIES 256

struct virtio_balloon {
	struct virtio_dev dev;
	struct virtio_dev_ops ops; /* num_queues depends on the features */
	struct balloon_config cfg;
	uint64_t mem_size;
	int timer_fd;
	/* Queue indexes; Q_NONE when the feature is off. The driver finds the
	 * queues of the features it accepted in this order, with no gaps
	 * (Linux's init_vqs). */
	int q_stats, q_hint, q_report;
	bool stats_held; /* the driver's statistics buffer, waiting to be used */
	uint16_t stats_head;
	struct balloon_stats st;       /* target/actual mirror the config space */
	struct balloon_hint_status hs; /* host_cmd mirrors the config space */
	uint32_t last_cmd_id;	       /* the last run started (0: none yet) */
	bool ack_on_stop;
	bool hint_complete; /* the driver sent STOP in the chains just served */
	struct virtq_elem elem;
};

/* VIRTIO_BALLOON_S_NAMES, as Linux 6.12 names tags 10-15. */
static const char *const stat_names[BALLOON_STAT_TAGS] = {
	"swap-in",	    "swap-out",	    "major-faults",
	"minor-faults",	    "free-memory",  "total-memory",
	"available-memory", "disk-caches",  "hugetlb-allocations",
	"hugetlb-failures", "oom-kills",    "alloc-stalls",
	"async-scans",	    "direct-scans", "async-reclaims",
	"direct-reclaims",
};

int balloon_stats_check(uint64_t seconds, char *why, size_t why_size)
{
	if (seconds <= BALLOON_STATS_MAX)
		return 0;
	snprintf(why, why_size, "%llu is more than %u seconds", (unsigned long long)seconds,
		 BALLOON_STATS_MAX);
	return -EINVAL;
}

int balloon_size_check(uint64_t mib, uint64_t mem_size, char *why, size_t why_size)
{
	if (mib <= MAX_MIB && (mib << 20) < mem_size)
		return 0;
	if (why)
		snprintf(why, why_size,
			 "a %llu MiB balloon must be smaller than the guest's %llu MiB of memory",
			 (unsigned long long)mib, (unsigned long long)(mem_size >> 20));
	return -EINVAL;
}

/* Any number parses; the rule says which are seconds, in every syntax. */
static int stats_rule(const char *unused, uint64_t seconds, char *why, size_t why_size)
{
	(void)unused;
	return balloon_stats_check(seconds, why, why_size);
}

static const struct field balloon_field_list[] = {
	{ .cli = "",
	  .json = "amount_mib",
	  .type = FIELD_MIB,
	  .offset = offsetof(struct balloon_config, mib),
	  .has = FIELD_NO_HAS,
	  .max = MAX_MIB,
	  .required = true,
	  .missing = "no size (want " BALLOON_USAGE ")" },
	{ .cli = "deflate-on-oom",
	  .json = "deflate_on_oom",
	  .type = FIELD_FLAG,
	  .offset = offsetof(struct balloon_config, deflate_on_oom),
	  .has = FIELD_NO_HAS,
	  /* Firecracker's BalloonDeviceConfig has no serde default for it. */
	  .json_required = true },
	{ .cli = "stats",
	  .json = "stats_polling_interval_s",
	  .no_null = true,
	  .type = FIELD_U32,
	  .offset = offsetof(struct balloon_config, stats_seconds),
	  .has = FIELD_NO_HAS,
	  .max = UINT64_MAX,
	  .check = stats_rule,
	  .check_is_bad = true,
	  .bad = "stats='{}' is not a number of seconds (0 to 65535)" },
	{ .cli = "free-page-hinting",
	  .json = "free_page_hinting",
	  .no_null = true,
	  .type = FIELD_FLAG,
	  .offset = offsetof(struct balloon_config, free_page_hinting),
	  .has = FIELD_NO_HAS },
	{ .cli = "free-page-reporting",
	  .json = "free_page_reporting",
	  .no_null = true,
	  .type = FIELD_FLAG,
	  .offset = offsetof(struct balloon_config, free_page_reporting),
	  .has = FIELD_NO_HAS },
};

_Static_assert(BALLOON_STATS_MAX == 65535, "the stats= message names the limit");

const struct field_set balloon_fields = {
	.name = "balloon",
	.fields = balloon_field_list,
	.n = sizeof(balloon_field_list) / sizeof(balloon_field_list[0]),
	.size = sizeof(struct balloon_config),
	.unknown = "unknown option '{}' (want " BALLOON_USAGE ")",
};

static uint64_t iov_total(const struct iovec *iov, unsigned int n)
{
	uint64_t t = 0;

	while (n--)
		t += iov[n].iov_len;
	return t;
}

/* The pages are freed and read back as zeros, which is what a deflated page
 * may hold. */
static void release(const struct guest_mem *m, uint8_t *hva, uint64_t len)
{
	static bool warned;
	int err = guest_mem_discard(m, hva, len);

	if (err && !warned) {
		warned = true;
		pr_warn("virtio-balloon: madvise(MADV_DONTNEED): %s", strerror(-err));
	}
}

uint64_t balloon_release_pfns(const struct guest_mem *m, const struct iovec *iov, unsigned int n,
			      uint64_t *bad)
{
	uint64_t npfns = iov_total(iov, n) / sizeof(uint32_t), i, skipped = 0;
	uint8_t *run = NULL;
	uint64_t run_len = 0;
	uint32_t pfns[256];

	/* A chain's work is bounded: each entry may cost a system call, and a
	 * guest's chain of 1024 descriptors as large as its RAM would hold the
	 * device thread (and the device's lock) for days. */
	if (npfns > BALLOON_PFNS_PER_CHAIN_MAX) {
		skipped = npfns - BALLOON_PFNS_PER_CHAIN_MAX;
		npfns = BALLOON_PFNS_PER_CHAIN_MAX;
	}
	for (i = 0; i < npfns; i++) {
		uint64_t gpa;
		uint8_t *hva;

		if (i % 256 == 0) {
			uint64_t left = npfns - i;
			size_t chunk = left < 256 ? (size_t)left : 256;

			iov_to_buf(iov, n, i * sizeof(uint32_t), pfns, chunk * sizeof(uint32_t));
		}
		gpa = (uint64_t)le32toh(pfns[i % 256]) << PAGE_SHIFT;
		hva = gpa_to_hva(m, gpa, PAGE_SIZE);
		if (!hva) {
			skipped++;
			continue;
		}
		guest_mem_mark_dirty(m, gpa, PAGE_SIZE); /* zero from now on (snapshots) */
		/* Neighbouring pages go back in one call: a syscall per page is slow. */
		if (run && hva == run + run_len) {
			run_len += PAGE_SIZE;
			continue;
		}
		release(m, run, run_len);
		run = hva;
		run_len = PAGE_SIZE;
	}
	release(m, run, run_len);
	if (skipped)
		pr_debug("virtio-balloon: skipped %" PRIu64 " PFNs outside guest RAM", skipped);
	if (bad)
		*bad += skipped;
	return npfns;
}

/* The region holding all of [hva, hva + len): RAM's, or the hotpluggable
 * one while that range of it is plugged (into *hp); NULL: neither. */
static const struct guest_mem_region *region_of(const struct guest_mem *m, const uint8_t *hva,
						uint64_t len, struct guest_mem_region *hp)
{
	*hp = (struct guest_mem_region){ m->hp.l.gpa, m->hp.l.size, m->hp.hva };
	for (int i = 0; i <= m->nregions; i++) {
		const struct guest_mem_region *r = i < m->nregions ? &m->regions[i] : hp;

		if (r->hva && hva >= r->hva && (uint64_t)(hva - r->hva) <= r->size &&
		    len <= r->size - (uint64_t)(hva - r->hva))
			return r != hp || gpa_to_hva(m, r->gpa + (uint64_t)(hva - r->hva), len)
				       ? r
				       : NULL;
	}
	return NULL;
}

int balloon_discard(const struct guest_mem *m, const struct iovec *seg, uint64_t *freed)
{
	const uint8_t *hva = seg->iov_base;
	struct guest_mem_region hp;
	const struct guest_mem_region *r = region_of(m, hva, seg->iov_len, &hp);
	uint64_t gpa, first, end;
	int err;

	*freed = 0;
	if (!r)
		return -EFAULT;
	/* Only the whole pages inside the range: the rest of a partly covered
	 * page may be memory the guest still uses. */
	gpa = r->gpa + (uint64_t)(hva - r->hva);
	first = (gpa + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	end = (gpa + seg->iov_len) & ~(PAGE_SIZE - 1);
	if (first >= end)
		return 0;
	err = guest_mem_discard(m, r->hva + (first - r->gpa), end - first);
	if (err)
		return err;
	guest_mem_mark_dirty(m, first, end - first); /* zero from now on (snapshots) */
	*freed = end - first;
	return 0;
}

unsigned int balloon_stats_parse(const struct iovec *iov, unsigned int n, struct balloon_stats *s)
{
	uint64_t total = iov_total(iov, n), off;
	unsigned int known = 0, entries = 0;
	struct virtio_balloon_stat e;

	_Static_assert(sizeof(e) == 10, "struct virtio_balloon_stat must be packed");
	for (off = 0; off + sizeof(e) <= total && entries < MAX_STAT_ENTRIES;
	     off += sizeof(e), entries++) {
		uint16_t tag;

		iov_to_buf(iov, n, off, &e, sizeof(e));
		tag = le16toh(e.tag);
		if (tag >= BALLOON_STAT_TAGS) {
			METRIC_INC(balloon_metrics.stats_update_fails);
			continue; /* a newer driver's statistic */
		}
		s->val[tag] = le64toh(e.val);
		s->valid |= 1U << tag;
		known++;
	}
	if (total % sizeof(e))
		pr_debug("virtio-balloon: statistics buffer of %" PRIu64 " bytes: %" PRIu64
			 " trailing bytes ignored",
			 total, total % sizeof(e));
	return known;
}

static void log_stats(const struct balloon_stats *s)
{
	char line[512];
	size_t used = 0;
	int t;

	if (log_get_level() < LOG_DEBUG)
		return;
	for (t = 0; t < BALLOON_STAT_TAGS && used < sizeof(line); t++)
		if (s->valid & (1U << t))
			used += (size_t)snprintf(line + used, sizeof(line) - used, " %s=%" PRIu64,
						 stat_names[t], s->val[t]);
	pr_debug("virtio-balloon: stats:%s", used ? line : " none");
}

static struct virtio_balloon_config *config(struct virtio_balloon *b)
{
	return (struct virtio_balloon_config *)b->dev.config;
}

static void return_stats_buffer(struct virtio_balloon *b)
{
	virtq_push(&b->dev.vq[b->q_stats], b->stats_head, 0);
	b->stats_held = false;
}

/* The driver's buffer stays with the device until the timer asks for fresh
 * values by handing it back. One buffer is the protocol: an older one goes
 * back unread. */
static uint32_t take_stats(void *ctx, struct virtq_elem *e)
{
	struct virtio_balloon *b = ctx;

	if (b->stats_held)
		return_stats_buffer(b);
	balloon_stats_parse(e->iov, e->out_num, &b->st);
	b->st.stats_updates++;
	METRIC_INC(balloon_metrics.stats_updates_count);
	b->stats_held = true;
	b->stats_head = e->head;
	log_stats(&b->st);
	return VIRTIO_USED_DEFERRED;
}

/* Through virtio_serve_queue's budget: a guest that posts buffers again as
 * fast as they come back cannot keep the device thread here. */
static void serve_stats(struct virtio_balloon *b)
{
	unsigned int qi = (unsigned int)b->q_stats;

	virtio_serve_queue(&b->dev, qi, &b->elem, take_stats, b);
	virtio_notify_queue(&b->dev, qi);
}

static uint32_t inflate(void *ctx, struct virtq_elem *e)
{
	struct virtio_balloon *b = ctx;
	uint64_t n = balloon_release_pfns(b->dev.env.mem, e->iov, e->out_num, &b->st.bad_pfns);

	b->st.inflated_pages += n;
	METRIC_ADD(balloon_metrics.inflate_count, n);
	return 0;
}

/* The pages come back zero-filled when the guest touches them: nothing to do. */
static uint32_t deflate(void *ctx, struct virtq_elem *e)
{
	struct virtio_balloon *b = ctx;
	uint64_t n = iov_total(e->iov, e->out_num) / sizeof(uint32_t);

	b->st.deflated_pages += n;
	METRIC_ADD(balloon_metrics.deflate_count, n);
	return 0;
}

/* Free page reporting: every buffer of the chain is a free range the host
 * may take back; the driver gets it back used, after which it may allocate
 * the pages again (they read as zeros, or the memory file's content). */
static uint32_t report(void *ctx, struct virtq_elem *e)
{
	struct virtio_balloon *b = ctx;

	for (unsigned int i = 0; i < e->out_num + e->in_num; i++) {
		uint64_t freed;

		b->st.report_ranges++;
		METRIC_INC(balloon_metrics.free_page_report_count);
		if (balloon_discard(b->dev.env.mem, &e->iov[i], &freed)) {
			b->st.report_fails++;
			METRIC_INC(balloon_metrics.free_page_report_fails);
			continue;
		}
		b->st.report_freed += freed;
		METRIC_ADD(balloon_metrics.free_page_report_freed, freed);
	}
	return 0;
}

static bool hint_run_active(const struct virtio_balloon *b)
{
	return b->hs.host_cmd != VIRTIO_BALLOON_CMD_ID_STOP &&
	       b->hs.host_cmd != VIRTIO_BALLOON_CMD_ID_DONE;
}

/* Sets the command id the driver reads, and tells it. d->lock held. */
static void set_host_cmd(struct virtio_balloon *b, uint32_t cmd)
{
	b->hs.host_cmd = cmd;
	config(b)->free_page_hint_cmd_id = htole32(cmd);
	virtio_config_changed(&b->dev);
}

/* Free page hinting (virtio 1.2, 5.5.6.4): a 4-byte buffer carries the
 * driver's command id (the run it hints for, or STOP when it has no more);
 * every other buffer is a free range, discarded when it belongs to the run
 * the host asked for and that run is still on. As Firecracker does, a chain
 * is read in order, so a command id applies to the ranges after it. */
static uint32_t hint(void *ctx, struct virtq_elem *e)
{
	struct virtio_balloon *b = ctx;

	for (unsigned int i = 0; i < e->out_num + e->in_num; i++) {
		uint64_t freed;
		uint32_t cmd;

		if (e->iov[i].iov_len == sizeof(cmd)) {
			memcpy(&cmd, e->iov[i].iov_base, sizeof(cmd));
			cmd = le32toh(cmd);
			b->hs.guest_cmd = cmd;
			b->hs.guest_cmd_valid = true;
			/* DONE is the host's word; from the driver it ends the run too. */
			if (cmd == VIRTIO_BALLOON_CMD_ID_STOP || cmd == VIRTIO_BALLOON_CMD_ID_DONE)
				b->hint_complete = true;
			else
				b->hint_complete = false;
			continue;
		}
		/* After a stop the driver's ranges in flight are the guest's again. */
		if (!hint_run_active(b) || !b->hs.guest_cmd_valid ||
		    b->hs.guest_cmd != b->hs.host_cmd) {
			b->st.hint_ignored++;
			continue;
		}
		b->st.hint_ranges++;
		METRIC_INC(balloon_metrics.free_page_hint_count);
		if (balloon_discard(b->dev.env.mem, &e->iov[i], &freed)) {
			b->st.hint_fails++;
			METRIC_INC(balloon_metrics.free_page_hint_fails);
			continue;
		}
		b->st.hint_freed += freed;
		METRIC_ADD(balloon_metrics.free_page_hint_freed, freed);
	}
	return 0;
}

static void balloon_notify(struct virtio_dev *d, unsigned int q)
{
	struct virtio_balloon *b = d->priv;

	if (q == Q_INFLATE)
		virtio_serve_queue(d, q, &b->elem, inflate, b);
	else if (q == Q_DEFLATE)
		virtio_serve_queue(d, q, &b->elem, deflate, b);
	else if ((int)q == b->q_stats)
		serve_stats(b);
	else if ((int)q == b->q_report)
		virtio_serve_queue(d, q, &b->elem, report, b);
	else if ((int)q == b->q_hint) {
		b->hint_complete = false;
		virtio_serve_queue(d, q, &b->elem, hint, b);
		/* The driver's STOP ends the run: acknowledged with DONE when the
		 * run was started so, which lets the driver free the hinted pages. */
		if (b->hint_complete && b->ack_on_stop && !d->failed &&
		    b->hs.host_cmd != VIRTIO_BALLOON_CMD_ID_DONE)
			set_host_cmd(b, VIRTIO_BALLOON_CMD_ID_DONE);
	}
}

/* Only `actual` is the driver's to write; num_pages is the host's. */
static void balloon_config_write(struct virtio_dev *d, uint32_t offset, const uint8_t *data,
				 uint32_t len)
{
	struct virtio_balloon *b = d->priv;
	const uint32_t lo = offsetof(struct virtio_balloon_config, actual), hi = lo + 4;
	uint32_t from = offset > lo ? offset : lo, to = offset + len < hi ? offset + len : hi;
	uint32_t actual;

	if (from >= to)
		return;
	memcpy(d->config + from, data + (from - offset), to - from);
	actual = le32toh(config(b)->actual);
	if (actual == b->st.actual_pages)
		return;
	b->st.actual_pages = actual;
	pr_debug("virtio-balloon: the guest holds %u pages (%u MiB) of %u", actual,
		 actual / PAGES_PER_MIB, b->st.target_pages);
}

static void balloon_reset(struct virtio_dev *d)
{
	struct virtio_balloon *b = d->priv;

	/* A reset driver starts over with an empty balloon and a new buffer. */
	b->stats_held = false;
	config(b)->actual = 0;
	b->st.actual_pages = 0;
}

static const struct virtio_dev_ops balloon_ops = {
	.name = "balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.num_queues = 2,
	.queue_max = QUEUE_SIZE,
	.config_write = balloon_config_write,
	.notify = balloon_notify,
	.reset = balloon_reset,
	.activate_fails = &balloon_metrics.activate_fails,
	/* Whichever queues this balloon has (inflate, deflate, then optional ones). */
	.event_fails = { [0 ... VIRTIO_MAX_QUEUES - 1] = &balloon_metrics.event_fails },
};

/* Every SECONDS: hand the statistics buffer back, which asks for a refill. */
static void on_stats_timer(void *ctx, uint32_t events)
{
	struct virtio_balloon *b = ctx;
	struct virtio_dev *d = &b->dev;
	uint64_t ticks;

	(void)events;
	if (read(b->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN) {
		METRIC_INC(balloon_metrics.event_fails);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (b->stats_held && d->vq[b->q_stats].ready && !d->failed &&
	    (d->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
		return_stats_buffer(b);
		virtio_notify_queue(d, (unsigned int)b->q_stats);
	}
	pthread_mutex_unlock(&d->lock);
}

static int start_stats_timer(struct virtio_balloon *b, const struct virtio_env *env)
{
	struct itimerspec its = {
		.it_value.tv_sec = b->cfg.stats_seconds,
		.it_interval.tv_sec = b->cfg.stats_seconds,
	};

	b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (b->timer_fd < 0)
		return -errno;
	if (timerfd_settime(b->timer_fd, 0, &its, NULL))
		return -errno;
	return event_loop_add(env->loop, b->timer_fd, EPOLLIN, on_stats_timer, b);
}

static void fill_config(struct virtio_balloon *b)
{
	struct virtio_balloon_config *cfg = config(b);

	_Static_assert(sizeof(*cfg) <= VIRTIO_CONFIG_MAX, "balloon config too large");
	memset(cfg, 0, sizeof(*cfg));
	cfg->num_pages = htole32(b->st.target_pages);
	cfg->free_page_hint_cmd_id = htole32(b->hs.host_cmd);
	b->dev.config_size = sizeof(*cfg);
}

int virtio_balloon_create(struct virtio_balloon **out, const struct balloon_config *c,
			  const struct virtio_env *env, uint64_t base, uint32_t irq)
{
	uint64_t features = 0, mem = env->mem->size;
	struct virtio_balloon *b;
	char why[128];
	int err;

	if (balloon_size_check(c->mib, mem, why, sizeof(why))) {
		pr_err("balloon: %s", why);
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->cfg = *c;
	b->mem_size = mem;
	b->timer_fd = -1;
	b->st.target_pages = c->mib * PAGES_PER_MIB;
	b->hs.host_cmd = VIRTIO_BALLOON_CMD_ID_STOP;
	b->ops = balloon_ops;
	b->q_stats = b->q_hint = b->q_report = Q_NONE;
	if (c->deflate_on_oom)
		features |= 1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
	if (c->stats_seconds) {
		features |= 1ULL << VIRTIO_BALLOON_F_STATS_VQ;
		b->q_stats = (int)b->ops.num_queues++;
	}
	if (c->free_page_hinting) {
		features |= 1ULL << VIRTIO_BALLOON_F_FREE_PAGE_HINT;
		b->q_hint = (int)b->ops.num_queues++;
	}
	if (c->free_page_reporting) {
		features |= 1ULL << VIRTIO_BALLOON_F_REPORTING;
		b->q_report = (int)b->ops.num_queues++;
	}
	err = virtio_mmio_init(&b->dev, &b->ops, b, features, env, base, irq);
	if (err) {
		pr_err("cannot plug in virtio-balloon: %s", strerror(-err));
		goto fail;
	}
	fill_config(b);
	if (c->stats_seconds) {
		err = start_stats_timer(b, env);
		if (err) {
			pr_err("virtio-balloon: cannot start the statistics timer: %s",
			       strerror(-err));
			goto fail;
		}
	}
	pr_debug("virtio-balloon: target %u MiB%s, statistics %s%s%s", c->mib,
		 c->deflate_on_oom ? ", deflate on OOM" : "", c->stats_seconds ? "on" : "off",
		 c->free_page_hinting ? ", free page hinting" : "",
		 c->free_page_reporting ? ", free page reporting" : "");
	*out = b;
	return 0;
fail:
	virtio_balloon_destroy(b);
	return err;
}

void virtio_balloon_destroy(struct virtio_balloon *b)
{
	if (!b)
		return;
	if (b->timer_fd >= 0) {
		/* The loop may be gone already (the VM stops it first): harmless then. */
		event_loop_del(b->dev.env.loop, b->timer_fd);
		close(b->timer_fd);
	}
	virtio_mmio_destroy(&b->dev);
	free(b);
}

int virtio_balloon_set_target(struct virtio_balloon *b, uint32_t mib)
{
	struct virtio_dev *d;

	if (!b)
		return -ENODEV;
	d = &b->dev;
	if (balloon_size_check(mib, b->mem_size, NULL, 0))
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	/* Firecracker's Balloon::update_size: refused until the driver started
	 * the device (its client retries). */
	if (!(d->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
		pthread_mutex_unlock(&d->lock);
		return -EAGAIN;
	}
	b->st.target_pages = mib * PAGES_PER_MIB;
	config(b)->num_pages = htole32(b->st.target_pages);
	virtio_config_changed(d);
	pthread_mutex_unlock(&d->lock);
	pr_debug("virtio-balloon: new target %u MiB", mib);
	return 0;
}

int virtio_balloon_set_stats_interval(struct virtio_balloon *b, uint32_t seconds)
{
	struct itimerspec its = { .it_value.tv_sec = seconds, .it_interval.tv_sec = seconds };

	if (!b)
		return -ENODEV;
	/* The statistics queue exists or not from creation: only the period changes. */
	if (b->timer_fd < 0 || !seconds)
		return -EOPNOTSUPP;
	if (timerfd_settime(b->timer_fd, 0, &its, NULL))
		return -errno;
	pthread_mutex_lock(&b->dev.lock);
	b->cfg.stats_seconds = seconds;
	pthread_mutex_unlock(&b->dev.lock);
	return 0;
}

int virtio_balloon_get_stats(struct virtio_balloon *b, struct balloon_stats *s)
{
	if (!b || !s)
		return -EINVAL;
	pthread_mutex_lock(&b->dev.lock);
	*s = b->st;
	pthread_mutex_unlock(&b->dev.lock);
	return 0;
}

/* The driver reads the command id only once it runs (Firecracker: "Device
 * not activated yet" before). */
static int hint_cmd_check(struct virtio_balloon *b)
{
	if (!b)
		return -ENODEV;
	if (b->q_hint == Q_NONE)
		return -EOPNOTSUPP;
	if (!(b->dev.status & VIRTIO_CONFIG_S_DRIVER_OK))
		return -EAGAIN;
	return 0;
}

int virtio_balloon_hint_start(struct virtio_balloon *b, bool ack_on_stop)
{
	uint32_t id;
	int err;

	if (!b)
		return -ENODEV;
	pthread_mutex_lock(&b->dev.lock);
	err = hint_cmd_check(b);
	if (!err) {
		/* STOP (0) and DONE (1) are no run's id. */
		id = b->last_cmd_id + 1;
		if (id <= VIRTIO_BALLOON_CMD_ID_DONE)
			id = VIRTIO_BALLOON_CMD_ID_DONE + 1;
		b->last_cmd_id = id;
		b->ack_on_stop = ack_on_stop;
		set_host_cmd(b, id);
	}
	pthread_mutex_unlock(&b->dev.lock);
	return err;
}

int virtio_balloon_hint_stop(struct virtio_balloon *b)
{
	int err;

	if (!b)
		return -ENODEV;
	pthread_mutex_lock(&b->dev.lock);
	err = hint_cmd_check(b);
	/* DONE, as Firecracker: the run ends and the driver may use the hinted
	 * pages again (STOP would leave them in the driver's hands). */
	if (!err)
		set_host_cmd(b, VIRTIO_BALLOON_CMD_ID_DONE);
	pthread_mutex_unlock(&b->dev.lock);
	return err;
}

int virtio_balloon_hint_status(struct virtio_balloon *b, struct balloon_hint_status *s)
{
	if (!b || !s)
		return -ENODEV;
	if (b->q_hint == Q_NONE)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&b->dev.lock);
	*s = b->hs;
	pthread_mutex_unlock(&b->dev.lock);
	return 0;
}

struct virtio_dev *virtio_balloon_dev(struct virtio_balloon *b)
{
	return &b->dev;
}

/* --- snapshots ------------------------------------------------------------- */

#define BALLOON_STATE_VERSION 1
#define BALLOON_STATE_TAGS    16 /* room for the statistics tags of any kernel header */

_Static_assert(BALLOON_STAT_TAGS <= BALLOON_STATE_TAGS, "BALLOON_STATE_TAGS");

struct balloon_state_rec {
	uint32_t version;
	uint32_t target_pages, actual_pages;
	uint32_t stats_seconds;
	uint8_t stats_held;
	uint8_t reserved;
	uint16_t stats_head;
	uint32_t valid;
	uint64_t inflated_pages, deflated_pages, bad_pfns, stats_updates;
	uint64_t val[BALLOON_STATE_TAGS];
} __attribute__((packed));

_Static_assert(sizeof(struct balloon_state_rec) == 56 + 8 * BALLOON_STATE_TAGS,
	       "fixed record size");

/* Record "balloon_free_pages", only for a device with hinting or reporting
 * (a snapshot of an older volt has none and needs none). */
#define FREE_PAGES_STATE_VERSION 1

struct free_pages_state_rec {
	uint32_t version;
	uint8_t hinting, reporting; /* what the saved device offered */
	uint8_t guest_cmd_valid, ack_on_stop;
	uint32_t host_cmd, last_cmd_id, guest_cmd;
	uint32_t reserved;
	uint64_t hint_ranges, hint_freed, hint_fails, hint_ignored;
	uint64_t report_ranges, report_freed, report_fails;
} __attribute__((packed));

_Static_assert(sizeof(struct free_pages_state_rec) == 24 + 7 * 8, "fixed record size");

static bool has_free_page_queues(const struct virtio_balloon *b)
{
	return b->q_hint != Q_NONE || b->q_report != Q_NONE;
}

static int save_free_pages(struct virtio_balloon *b, struct snap_writer *w)
{
	struct free_pages_state_rec st;

	memset(&st, 0, sizeof(st));
	pthread_mutex_lock(&b->dev.lock);
	st.version = FREE_PAGES_STATE_VERSION;
	st.hinting = b->q_hint != Q_NONE;
	st.reporting = b->q_report != Q_NONE;
	st.guest_cmd_valid = b->hs.guest_cmd_valid;
	st.ack_on_stop = b->ack_on_stop;
	st.host_cmd = b->hs.host_cmd;
	st.last_cmd_id = b->last_cmd_id;
	st.guest_cmd = b->hs.guest_cmd;
	st.hint_ranges = b->st.hint_ranges;
	st.hint_freed = b->st.hint_freed;
	st.hint_fails = b->st.hint_fails;
	st.hint_ignored = b->st.hint_ignored;
	st.report_ranges = b->st.report_ranges;
	st.report_freed = b->st.report_freed;
	st.report_fails = b->st.report_fails;
	pthread_mutex_unlock(&b->dev.lock);
	return snap_put(w, "balloon_free_pages", &st, sizeof(st));
}

/* The file is hostile: the features must be the created device's, the
 * flags booleans, and a host command a run's id only if it is the last run
 * started (what the API could have set). */
static int restore_free_pages(struct virtio_balloon *b, struct snap_reader *r)
{
	struct free_pages_state_rec st;
	int err;

	if (!has_free_page_queues(b)) {
		if (snap_has(r, "balloon_free_pages")) {
			pr_err("restore %s: free page hinting or reporting state for a balloon "
			       "created without them",
			       r->scope);
			return -EINVAL;
		}
		return 0;
	}
	err = snap_get(r, "balloon_free_pages", &st, sizeof(st));
	if (err)
		return err;
	if (st.version != FREE_PAGES_STATE_VERSION || st.reserved) {
		pr_err("restore %s: free page state version %u (reserved %u), this volt reads %d",
		       r->scope, st.version, st.reserved, FREE_PAGES_STATE_VERSION);
		return -EINVAL;
	}
	if (st.hinting != (b->q_hint != Q_NONE) || st.reporting != (b->q_report != Q_NONE)) {
		pr_err("restore %s: free page hinting %u and reporting %u saved, the device "
		       "created has %d and %d",
		       r->scope, st.hinting, st.reporting, b->q_hint != Q_NONE,
		       b->q_report != Q_NONE);
		return -EINVAL;
	}
	if (st.guest_cmd_valid > 1 || st.ack_on_stop > 1 ||
	    (st.host_cmd > VIRTIO_BALLOON_CMD_ID_DONE && st.host_cmd != st.last_cmd_id) ||
	    (!st.hinting && (st.host_cmd || st.last_cmd_id || st.guest_cmd_valid))) {
		pr_err("restore %s: free page hinting command %u (last run %u, flags %u %u) "
		       "is not one the device can be in",
		       r->scope, st.host_cmd, st.last_cmd_id, st.guest_cmd_valid, st.ack_on_stop);
		return -EINVAL;
	}
	pthread_mutex_lock(&b->dev.lock);
	b->hs.host_cmd = st.host_cmd;
	b->hs.guest_cmd = st.guest_cmd;
	b->hs.guest_cmd_valid = st.guest_cmd_valid;
	b->last_cmd_id = st.last_cmd_id;
	b->ack_on_stop = st.ack_on_stop;
	config(b)->free_page_hint_cmd_id = htole32(st.host_cmd);
	b->st.hint_ranges = st.hint_ranges;
	b->st.hint_freed = st.hint_freed;
	b->st.hint_fails = st.hint_fails;
	b->st.hint_ignored = st.hint_ignored;
	b->st.report_ranges = st.report_ranges;
	b->st.report_freed = st.report_freed;
	b->st.report_fails = st.report_fails;
	pthread_mutex_unlock(&b->dev.lock);
	return 0;
}

int virtio_balloon_save(struct virtio_balloon *b, struct snap_writer *w)
{
	struct balloon_state_rec st;
	int err;

	memset(&st, 0, sizeof(st));
	pthread_mutex_lock(&b->dev.lock);
	st.version = BALLOON_STATE_VERSION;
	st.target_pages = b->st.target_pages;
	st.actual_pages = b->st.actual_pages;
	st.stats_seconds = b->cfg.stats_seconds;
	st.stats_held = b->stats_held;
	st.stats_head = b->stats_head;
	st.valid = b->st.valid;
	st.inflated_pages = b->st.inflated_pages;
	st.deflated_pages = b->st.deflated_pages;
	st.bad_pfns = b->st.bad_pfns;
	st.stats_updates = b->st.stats_updates;
	for (int t = 0; t < BALLOON_STAT_TAGS; t++)
		st.val[t] = b->st.val[t];
	pthread_mutex_unlock(&b->dev.lock);
	/* The held statistics buffer stays popped: it is state, saved as its head. */
	err = virtio_mmio_save(&b->dev, w);
	if (!err)
		err = snap_put(w, "balloon", &st, sizeof(st));
	return err || !has_free_page_queues(b) ? err : save_free_pages(b, w);
}

static int check_state(struct virtio_balloon *b, struct snap_reader *r,
		       const struct balloon_state_rec *st)
{
	const struct virtq *q = &b->dev.vq[b->q_stats == Q_NONE ? Q_INFLATE : b->q_stats];

	if (st->version != BALLOON_STATE_VERSION || st->reserved) {
		pr_err("restore %s: balloon state version %u (reserved %u), this volt reads %d",
		       r->scope, st->version, st->reserved, BALLOON_STATE_VERSION);
		return -EINVAL;
	}
	if (st->target_pages % PAGES_PER_MIB ||
	    balloon_size_check(st->target_pages / PAGES_PER_MIB, b->mem_size, NULL, 0)) {
		pr_err("restore %s: target of %u pages, not whole MiB less than guest memory",
		       r->scope, st->target_pages);
		return -EINVAL;
	}
	if ((st->stats_seconds == 0) != (b->cfg.stats_seconds == 0) ||
	    st->stats_seconds > BALLOON_STATS_MAX) {
		pr_err("restore %s: statistics every %u s, the device created %s them", r->scope,
		       st->stats_seconds, b->cfg.stats_seconds ? "has" : "has no queue for");
		return -EINVAL;
	}
	if (st->stats_held > 1 ||
	    (st->stats_held && (b->q_stats == Q_NONE || !q->ready || st->stats_head >= q->size))) {
		pr_err("restore %s: statistics buffer %u held (flag %u) in a queue of %u", r->scope,
		       st->stats_head, st->stats_held, q->size);
		return -EINVAL;
	}
	return 0;
}

int virtio_balloon_restore(struct virtio_balloon *b, struct snap_reader *r)
{
	struct balloon_state_rec st;
	int err = snap_get(r, "balloon", &st, sizeof(st));

	if (!err)
		err = virtio_mmio_restore(&b->dev, r);
	if (!err)
		err = restore_free_pages(b, r);
	if (err)
		return err;
	pthread_mutex_lock(&b->dev.lock);
	err = check_state(b, r, &st);
	if (!err) {
		b->st.target_pages = st.target_pages;
		b->st.actual_pages = st.actual_pages;
		config(b)->num_pages = htole32(st.target_pages);
		config(b)->actual = htole32(st.actual_pages);
		b->stats_held = st.stats_held;
		b->stats_head = st.stats_head;
		b->st.valid = st.valid & ((1U << BALLOON_STAT_TAGS) - 1);
		b->st.inflated_pages = st.inflated_pages;
		b->st.deflated_pages = st.deflated_pages;
		b->st.bad_pfns = st.bad_pfns;
		b->st.stats_updates = st.stats_updates;
		for (int t = 0; t < BALLOON_STAT_TAGS; t++)
			b->st.val[t] = st.val[t];
	}
	pthread_mutex_unlock(&b->dev.lock);
	/* The period starts over from the restore, at the saved interval. */
	if (!err && st.stats_seconds)
		err = virtio_balloon_set_stats_interval(b, st.stats_seconds);
	return err;
}

/* --- the device kind ------------------------------------------------------- */

static int balloon_validate(const void *cfg, const struct device_vm_facts *vm, char *why,
			    size_t why_size)
{
	return balloon_size_check(((const struct balloon_config *)cfg)->mib, vm->mem_size, why,
				  why_size);
}

static int balloon_create(void **dev, const void *cfg, const struct device_env *env)
{
	struct virtio_balloon *b = NULL;
	int err = virtio_balloon_create(&b, cfg, env->venv, env->base, env->irq);

	*dev = b;
	return err;
}

static void balloon_destroy(void *dev)
{
	virtio_balloon_destroy(dev);
}

static int balloon_save(void *dev, struct snap_writer *w)
{
	return virtio_balloon_save(dev, w);
}

static int balloon_restore(void *dev, struct snap_reader *r)
{
	return virtio_balloon_restore(dev, r);
}

_Static_assert(sizeof(struct balloon_config) <= DEVICE_CONFIG_MAX, "DEVICE_CONFIG_MAX");

const struct device_kind virtio_balloon_kind = {
	.name = "balloon",
	.option = "balloon",
	.usage = BALLOON_USAGE,
	.api_path = "balloon",
	.config_key = "balloon",
	.metrics = &balloon_metrics_section,
	.max = 1,
	.too_many = "only one balloon",
	.fields = &balloon_fields,
	.validate = balloon_validate,
	.create = balloon_create,
	.destroy = balloon_destroy,
	.save = balloon_save,
	.restore = balloon_restore,
	.api = { .rank = 5, .validate_key = "amount_mib" },
};
