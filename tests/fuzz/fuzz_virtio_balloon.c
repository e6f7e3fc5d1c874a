/* libFuzzer target: the whole virtio-balloon device driven through its
 * registers by a hostile driver: inflate and deflate PFN arrays, the
 * statistics buffer (kept by the device, handed back by its timer), writes
 * to the config space, new targets from the host, free page hints (command
 * ids and ranges, runs started and stopped by the host) and free page
 * reports.
 *
 * The input is a header (flags, queue sizes and ring addresses, a script of
 * up to 16 steps) and then the guest memory image (fuzz_mem.h), whole pages
 * here because inflated pages really go back with madvise(MADV_DONTNEED).
 * Three devices are made once: one with the statistics queue (and its
 * timer), one with deflate-on-OOM only, and one with statistics, hinting and
 * reporting (five queues); the input picks one. Each input starts with a
 * device reset. Checked besides crashes: the counters only grow, failures
 * never outnumber ranges, the driver's `actual` is what it wrote, the target
 * is what the host last set, and the hinting command id in the config space
 * is the device's: STOP, DONE or the last run the host started. */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "devices/virtio/virtio_balloon.h"
#include "fuzz_mem.h"
#include "util/log.h"

#define MAX_STEPS    16
#define PRETEND_MIB  64 /* guest memory the devices are told of at creation */
#define BALLOON_BASE 0xd0000000ULL

struct fuzz_hdr {
	uint8_t flags;
	uint8_t nsteps;
	uint8_t steps[MAX_STEPS];
	uint32_t value;		/* for config writes and new targets */
	struct fuzz_queue q[5]; /* inflate, deflate, statistics, hints, reports */
} __attribute__((packed));

enum {
	F_INDIRECT = 1 << 0,
	F_EVENT_IDX = 1 << 1,
	F_TWO_REGIONS = 1 << 2,
	F_STATS = 1 << 3, /* the device with the statistics queue */
	F_EARLY = 1 << 4, /* steps before DRIVER_OK (Linux primes the stats queue so) */
	F_NO_FEATURES = 1 << 5,
	F_FREE = 1 << 6, /* the device with hinting and reporting (before F_STATS) */
};

/* S_KICK: queue 2 + arg % 3 (statistics, hints, reports), where it exists.
 * S_TIMER: arg % 4: the statistics timer, a hinting run started with and
 * without acknowledgement, the host's stop. */
enum { S_INFLATE, S_DEFLATE, S_KICK, S_TIMER, S_CONFIG, S_TARGET, S_DRIVER_OK, S_PUMP };

struct dev {
	struct virtio_balloon *b;
	struct virtio_dev *d;
	struct event_source *timer; /* the statistics timer's event source */
	unsigned int nq;
	uint32_t last_run; /* the last hinting run started (0: none) */
};

static struct fuzz_rig rig;
static struct dev devs[3];

static bool is_timerfd(int fd)
{
	char path[64], target[64] = "";

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return readlink(path, target, sizeof(target) - 1) > 0 && strstr(target, "timerfd");
}

/* The statistics timer is the last source the device just created added. */
static struct event_source *last_timer(void)
{
	int i;

	for (i = EVENT_LOOP_MAX_SOURCES - 1; i >= 0 && rig.loop.sources[i].fd < 0; i--)
		;
	if (i < 0 || !is_timerfd(rig.loop.sources[i].fd))
		abort();
	return &rig.loop.sources[i];
}

static void init(void)
{
	struct balloon_config plain = { .mib = 16, .deflate_on_oom = true };
	struct balloon_config stats = { .mib = 16, .stats_seconds = 1 };
	struct balloon_config free_pages = { .mib = 16,
					     .stats_seconds = 1,
					     .free_page_hinting = true,
					     .free_page_reporting = true };
	int i;

	/* VOLT_FUZZ_LOG=1 shows what the device logs, to follow one input. */
	log_set_level(getenv("VOLT_FUZZ_LOG") ? LOG_DEBUG : LOG_ERROR);
	fuzz_rig_init(&rig, (uint64_t)PRETEND_MIB << 20);
	if (virtio_balloon_create(&devs[0].b, &plain, &rig.env, BALLOON_BASE, 5) ||
	    virtio_balloon_create(&devs[1].b, &stats, &rig.env, BALLOON_BASE + 0x1000, 6))
		abort();
	devs[1].timer = last_timer();
	if (virtio_balloon_create(&devs[2].b, &free_pages, &rig.env, BALLOON_BASE + 0x2000, 7))
		abort();
	devs[2].timer = last_timer();
	for (i = 0; i < 3; i++)
		devs[i].d = virtio_balloon_dev(devs[i].b);
	devs[0].nq = 2;
	devs[1].nq = 3;
	devs[2].nq = 5;
}

static void check(const struct balloon_stats *before, const struct balloon_stats *after)
{
	if (after->inflated_pages < before->inflated_pages ||
	    after->deflated_pages < before->deflated_pages || after->bad_pfns < before->bad_pfns ||
	    after->bad_pfns > after->inflated_pages || after->stats_updates < before->stats_updates)
		abort();
	if (after->valid >> BALLOON_STAT_TAGS)
		abort(); /* a tag the array has no room for */
	if (after->hint_ranges < before->hint_ranges || after->hint_freed < before->hint_freed ||
	    after->hint_ignored < before->hint_ignored ||
	    after->report_ranges < before->report_ranges ||
	    after->report_freed < before->report_freed || after->hint_fails > after->hint_ranges ||
	    after->report_fails > after->report_ranges)
		abort();
}

/* The command id the driver reads is the device's, and one the host set. */
static void check_hinting(struct dev *x)
{
	struct balloon_hint_status hs;
	uint32_t cfg;

	if (virtio_balloon_hint_status(x->b, &hs)) {
		if (x->nq == 5)
			abort();
		return;
	}
	cfg = fuzz_rd(x->d, VIRTIO_MMIO_CONFIG +
				    offsetof(struct virtio_balloon_config, free_page_hint_cmd_id));
	if (le32toh(cfg) != hs.host_cmd)
		abort();
	if (hs.host_cmd > VIRTIO_BALLOON_CMD_ID_DONE && hs.host_cmd != x->last_run)
		abort();
}

static void hinting(struct dev *x, unsigned int op)
{
	int err;

	if (op == 3) {
		err = virtio_balloon_hint_stop(x->b);
	} else {
		err = virtio_balloon_hint_start(x->b, op == 1);
		if (!err)
			x->last_run = x->last_run < 2 ? 2 : x->last_run + 1;
	}
	if (err && (x->nq == 5 ? err != -EAGAIN : err != -EOPNOTSUPP))
		abort();
}

static void step(struct dev *x, const struct fuzz_hdr *h, uint8_t s, uint32_t *target)
{
	unsigned int arg = s >> 3;
	uint32_t v = h->value ^ arg;

	switch (s & 7) {
	case S_INFLATE:
	case S_DEFLATE:
		virtio_kick(x->d, s & 7);
		break;
	case S_KICK:
		if (2 + arg % 3 < x->nq)
			virtio_kick(x->d, 2 + arg % 3);
		break;
	case S_TIMER:
		if (arg % 4)
			hinting(x, arg % 4);
		else if (x->timer)
			x->timer->fn(x->timer->ctx, EPOLLIN);
		break;
	case S_CONFIG: {
		/* Any width at any offset: only `actual` is the driver's. */
		uint32_t len = 1u << (arg % 3), off = ((arg >> 2) + (v >> 24)) % 16;

		virtio_mmio_io(x->d, VIRTIO_MMIO_CONFIG + off, (uint8_t *)&v, len, true);
		break;
	}
	case S_TARGET:
		if (!virtio_balloon_set_target(x->b, v % (2 * PRETEND_MIB)))
			*target = v % (2 * PRETEND_MIB);
		break;
	case S_DRIVER_OK:
		fuzz_wr(x->d, VIRTIO_MMIO_STATUS,
			fuzz_rd(x->d, VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
		break;
	case S_PUMP:
		fuzz_pump(&rig, 1 + arg % 4);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct balloon_stats before, after;
	struct fuzz_hdr h;
	struct dev *x;
	uint32_t target, actual;
	uint64_t want = 0;
	unsigned int i;

	if (!rig.ready)
		init();
	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	data += sizeof(h);
	size -= sizeof(h);
	x = &devs[h.flags & F_FREE ? 2 : !!(h.flags & F_STATS)];
	fuzz_mem_set(&rig.mem, data, size, h.flags & F_TWO_REGIONS, 1);
	if (h.flags & F_INDIRECT)
		want |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (h.flags & F_EVENT_IDX)
		want |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (!(h.flags & F_NO_FEATURES))
		want |= (1ULL << VIRTIO_BALLOON_F_STATS_VQ) |
			(1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM) |
			(1ULL << VIRTIO_BALLOON_F_FREE_PAGE_HINT) |
			(1ULL << VIRTIO_BALLOON_F_REPORTING);
	fuzz_driver_setup(x->d, want, h.q, x->nq, h.flags & F_EARLY);
	virtio_balloon_get_stats(x->b, &before);
	target = before.target_pages / 256;
	for (i = 0; i < h.nsteps % (MAX_STEPS + 1); i++)
		step(x, &h, h.steps[i], &target);
	fuzz_pump(&rig, 4);
	virtio_balloon_get_stats(x->b, &after);
	check(&before, &after);
	if (after.target_pages != target * 256)
		abort();
	actual = fuzz_rd(x->d, VIRTIO_MMIO_CONFIG + offsetof(struct virtio_balloon_config, actual));
	if (le32toh(actual) != after.actual_pages)
		abort();
	check_hinting(x);
	return 0;
}
