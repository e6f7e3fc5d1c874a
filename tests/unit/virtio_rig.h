/* A virtio device driven like a driver would, through its MMIO registers and
 * split queues in real guest memory, on the transport's plain eventfds (no
 * /dev/kvm): the event loop serves kicks, timers and backends as in a VM. */
#ifndef VOLT_TESTS_VIRTIO_RIG_H
#define VOLT_TESTS_VIRTIO_RIG_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <string.h>
#include <time.h>

#include "arch/x86/layout.h"
#include "core/event_loop.h"
#include "core/guest_mem.h"
#include "core/io_bus.h"
#include "core/metrics.h"
#include "devices/virtio/virtio_mmio.h"

#define RIG_QSIZE    64
#define RIG_QBASE(q) (0x100000ULL + (q)*0x4000ULL)
#define RIG_DATA     0x400000ULL /* data buffers from here */
#define RIG_BASE     0xd0000000ULL

struct rig {
	struct guest_mem mem;
	struct event_loop loop;
	struct io_bus mmio;
	struct virtio_env env;
	struct virtio_dev *d;
	uint16_t next_desc[4];
};

/* rig_init() without assertions (a sandboxed child makes none): 0 or -1. */
static inline int rig_init_quiet(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	if (layout_guest_mem_init(&r->mem, 128 << 20) || event_loop_init(&r->loop))
		return -1;
	r->mmio.kind = "mmio";
	r->env = (struct virtio_env){ .mem = &r->mem, .loop = &r->loop, .mmio = &r->mmio };
	return 0;
}

static inline void rig_init(struct rig *r)
{
	cr_assert_eq(rig_init_quiet(r), 0);
}

static inline void rig_wr(struct rig *r, uint64_t off, uint32_t v)
{
	virtio_mmio_io(r->d, off, (uint8_t *)&v, 4, true);
}

static inline uint32_t rig_rd(struct rig *r, uint64_t off)
{
	uint32_t v;

	virtio_mmio_io(r->d, off, (uint8_t *)&v, 4, false);
	return v;
}

#define RIG_STATUS_FEATURES_OK \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK)

/* VERSION_1 only, nq queues of RIG_QSIZE set up and READY, short of
 * DRIVER_OK; no assertion (a sandboxed child calls it too). */
static inline void rig_queues_ready(struct rig *r, unsigned int nq)
{
	rig_wr(r, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	rig_wr(r, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	rig_wr(r, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	rig_wr(r, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	rig_wr(r, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	rig_wr(r, VIRTIO_MMIO_STATUS, RIG_STATUS_FEATURES_OK);
	for (unsigned int q = 0; q < nq; q++) {
		rig_wr(r, VIRTIO_MMIO_QUEUE_SEL, q);
		rig_wr(r, VIRTIO_MMIO_QUEUE_NUM, RIG_QSIZE);
		rig_wr(r, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)RIG_QBASE(q));
		rig_wr(r, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		rig_wr(r, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)RIG_QBASE(q) + 0x1000);
		rig_wr(r, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
		rig_wr(r, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)RIG_QBASE(q) + 0x2000);
		rig_wr(r, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
		rig_wr(r, VIRTIO_MMIO_QUEUE_READY, 1);
	}
}

/* rig_queues_ready, DRIVER_OK; starts the loop. */
static inline void rig_driver_ok(struct rig *r, unsigned int nq)
{
	rig_queues_ready(r, nq);
	cr_assert(rig_rd(r, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
	rig_wr(r, VIRTIO_MMIO_STATUS, RIG_STATUS_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	cr_assert_eq(rig_rd(r, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	cr_assert_eq(event_loop_start(&r->loop), 0);
}

/* Adds a chain of n segments ([gpa, len, writable]) to queue q (not yet
 * visible: rig_publish). */
struct rig_seg {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

static inline void rig_chain(struct rig *r, unsigned int q, const struct rig_seg *s, unsigned int n,
			     bool publish)
{
	struct vring_desc *desc = gpa_to_hva(&r->mem, RIG_QBASE(q), 16 * RIG_QSIZE);
	struct vring_avail *avail = gpa_to_hva(&r->mem, RIG_QBASE(q) + 0x1000, 6 + 2 * RIG_QSIZE);
	uint16_t head = r->next_desc[q];
	uint16_t idx = avail->idx;

	for (unsigned int i = 0; i < n; i++) {
		uint16_t d = (uint16_t)((head + i) % RIG_QSIZE);

		desc[d] = (struct vring_desc){
			.addr = s[i].gpa,
			.len = s[i].len,
			.flags = (uint16_t)((s[i].writable ? VRING_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			.next = (uint16_t)((d + 1) % RIG_QSIZE),
		};
	}
	r->next_desc[q] = (uint16_t)((head + n) % RIG_QSIZE);
	avail->ring[idx % RIG_QSIZE] = head;
	__atomic_store_n(&avail->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
	if (publish)
		rig_wr(r, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

static inline void rig_kick(struct rig *r, unsigned int q)
{
	rig_wr(r, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

static inline uint16_t rig_used(struct rig *r, unsigned int q)
{
	struct vring_used *used = gpa_to_hva(&r->mem, RIG_QBASE(q) + 0x2000, 6 + 8 * RIG_QSIZE);

	return __atomic_load_n(&used->idx, __ATOMIC_ACQUIRE);
}

static inline uint64_t rig_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline void rig_sleep_ms(unsigned int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&t, NULL);
}

/* Waits until queue q's used index reaches want (at most ms); whether it did. */
static inline bool rig_wait_used(struct rig *r, unsigned int q, uint16_t want, int ms)
{
	for (; ms > 0; ms -= 2) {
		if (rig_used(r, q) == want)
			return true;
		rig_sleep_ms(2);
	}
	return rig_used(r, q) == want;
}

/* Stop the loop before destroying the device, then rig_free(). */
static inline void rig_stop(struct rig *r)
{
	event_loop_stop(&r->loop);
}

static inline void rig_free(struct rig *r)
{
	event_loop_destroy(&r->loop);
	guest_mem_free(&r->mem);
}

/* The metrics line a flush would write now, parsed (the caller decrefs it),
 * with the rig's device's own section (own_name, returned in *own) checked
 * against its kind's: the only device of its kind, so the same fields with
 * the same counts. */
static inline json_t *rig_own_metrics(const char *own_name, const char *kind_name, json_t **own)
{
	char *line = metrics_render();
	json_t *j, *kind;

	cr_assert_not_null(line);
	j = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	free(line);
	cr_assert_not_null(j);
	*own = json_object_get(j, own_name);
	kind = json_object_get(j, kind_name);
	cr_assert_not_null(*own, "the device's own section %s", own_name);
	cr_assert(json_equal(*own, kind), "one device: the same counts as %s's", kind_name);
	cr_assert_eq(json_object_size(*own), json_object_size(kind), "the same fields");
	return j;
}

#endif
