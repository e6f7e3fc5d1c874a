/* libFuzzer target: the whole virtio-balloon device driven through its
 * registers by a hostile driver: inflate and deflate PFN arrays, the
 * statistics buffer (kept by the device, handed back by its timer), writes
 * to the config space, new targets from the host.
 *
 * The input is a header (flags, queue sizes and ring addresses, a script of
 * up to 16 steps) and then the guest memory image (fuzz_mem.h), whole pages
 * here because inflated pages really go back with madvise(MADV_DONTNEED).
 * Two devices are made once: one with the statistics queue (and its timer)
 * and one with deflate-on-OOM only; the input picks one. Each input starts
 * with a device reset. Checked besides crashes: the statistics counters only
 * grow, the driver's `actual` is what it wrote, and the target is what the
 * host last set. */
#include <endian.h>
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
	struct fuzz_queue q[3]; /* inflate, deflate, statistics */
} __attribute__((packed));

enum {
	F_INDIRECT = 1 << 0,
	F_EVENT_IDX = 1 << 1,
	F_TWO_REGIONS = 1 << 2,
	F_STATS = 1 << 3, /* the device with the statistics queue */
	F_EARLY = 1 << 4, /* steps before DRIVER_OK (Linux primes the stats queue so) */
	F_NO_FEATURES = 1 << 5,
};

enum { S_INFLATE, S_DEFLATE, S_STATS, S_TIMER, S_CONFIG, S_TARGET, S_DRIVER_OK, S_PUMP };

struct dev {
	struct virtio_balloon *b;
	struct virtio_dev *d;
	struct event_source *timer; /* the statistics timer's event source */
};

static struct fuzz_rig rig;
static struct dev devs[2];

static bool is_timerfd(int fd)
{
	char path[64], target[64] = "";

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return readlink(path, target, sizeof(target) - 1) > 0 && strstr(target, "timerfd");
}

static void init(void)
{
	struct balloon_config plain = { .mib = 16, .deflate_on_oom = true };
	struct balloon_config stats = { .mib = 16, .stats_seconds = 1 };
	int i;

	/* VOLT_FUZZ_LOG=1 shows what the device logs, to follow one input. */
	log_set_level(getenv("VOLT_FUZZ_LOG") ? LOG_DEBUG : LOG_ERROR);
	fuzz_rig_init(&rig, (uint64_t)PRETEND_MIB << 20);
	if (virtio_balloon_create(&devs[0].b, &plain, &rig.env, BALLOON_BASE, 5) ||
	    virtio_balloon_create(&devs[1].b, &stats, &rig.env, BALLOON_BASE + 0x1000, 6))
		abort();
	for (i = 0; i < 2; i++)
		devs[i].d = virtio_balloon_dev(devs[i].b);
	/* The statistics timer is the last source the second device added. */
	for (i = EVENT_LOOP_MAX_SOURCES - 1; i >= 0 && rig.loop.sources[i].fd < 0; i--)
		;
	if (i < 0 || !is_timerfd(rig.loop.sources[i].fd))
		abort();
	devs[1].timer = &rig.loop.sources[i];
}

static void check(const struct balloon_stats *before, const struct balloon_stats *after)
{
	if (after->inflated_pages < before->inflated_pages ||
	    after->deflated_pages < before->deflated_pages || after->bad_pfns < before->bad_pfns ||
	    after->bad_pfns > after->inflated_pages || after->stats_updates < before->stats_updates)
		abort();
	if (after->valid >> VIRTIO_BALLOON_S_NR)
		abort(); /* a tag the array has no room for */
}

static void step(struct dev *x, const struct fuzz_hdr *h, uint8_t s, uint32_t *target)
{
	unsigned int arg = s >> 3;
	uint32_t v = h->value ^ arg;

	switch (s & 7) {
	case S_INFLATE:
	case S_DEFLATE:
	case S_STATS:
		virtio_kick(x->d, s & 7);
		break;
	case S_TIMER:
		if (x->timer)
			x->timer->fn(x->timer->ctx, EPOLLIN);
		break;
	case S_CONFIG: {
		/* Any width at any offset: only `actual` is the driver's. */
		uint32_t len = 1u << (arg % 3), off = (arg >> 2) % 10;

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
	x = &devs[!!(h.flags & F_STATS)];
	fuzz_mem_set(&rig.mem, data, size, h.flags & F_TWO_REGIONS, 1);
	if (h.flags & F_INDIRECT)
		want |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (h.flags & F_EVENT_IDX)
		want |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (!(h.flags & F_NO_FEATURES))
		want |= (1ULL << VIRTIO_BALLOON_F_STATS_VQ) |
			(1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	fuzz_driver_setup(x->d, want, h.q, 3, h.flags & F_EARLY);
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
	return 0;
}
