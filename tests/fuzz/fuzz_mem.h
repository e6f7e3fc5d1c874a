/* Shared by the device fuzz targets: guest RAM made from the input and the
 * driver's side of a virtio-mmio device.
 *
 * Guest RAM is one or two regions laid over the input's image, each ending
 * exactly at a PROT_NONE guard page, so that any access past the end of RAM
 * faults (ASan reports it); a region starts page aligned, which the balloon's
 * madvise() needs. The device targets (vsock, balloon) create their device
 * once per process on the transport's plain eventfds (no /dev/kvm), with an
 * event loop that is never started: fuzz_pump() serves its sources on the
 * fuzzing thread, as the device thread would. Every input begins with a device reset
 * and a fresh feature negotiation and queue setup through the registers. */
#ifndef VOLT_TESTS_FUZZ_FUZZ_MEM_H
#define VOLT_TESTS_FUZZ_FUZZ_MEM_H

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/event_loop.h"
#include "core/guest_mem.h"
#include "core/io_bus.h"
#include "devices/virtio/virtio_mmio.h"

#define FUZZ_HIGH_GPA  0x100000000ULL /* a second region, as above the MMIO hole */
#define FUZZ_MAX_IMAGE (64 * 1024)
#define FUZZ_PAGE      4096UL

/* Sanitizer builds stop at the first UBSan report too, not only ASan's. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

struct fuzz_region {
	uint8_t *map; /* FUZZ_MAX_IMAGE bytes, then a guard page */
};

static struct fuzz_region fuzz_regions[2];

static uint8_t *fuzz_region_map(void)
{
	uint8_t *p = mmap(NULL, FUZZ_MAX_IMAGE + FUZZ_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || mprotect(p + FUZZ_MAX_IMAGE, FUZZ_PAGE, PROT_NONE))
		abort();
	return p;
}

/* Lays img bytes of data over guest RAM in m: all at GPA 0, or (two) half at 0
 * and half at FUZZ_HIGH_GPA. A region's length is rounded up (zero filled)
 * to 16 bytes, or to whole pages when page is set. */
static inline void fuzz_mem_set(struct guest_mem *m, const uint8_t *data, size_t img, int two,
				int page)
{
	size_t len[2], off = 0, align = page ? FUZZ_PAGE : 16;
	int i, n = two ? 2 : 1;

	if (img > FUZZ_MAX_IMAGE)
		img = FUZZ_MAX_IMAGE;
	len[0] = two ? img / 2 : img;
	len[1] = img - len[0];
	memset(m, 0, sizeof(*m));
	for (i = 0; i < n; i++) {
		size_t room = len[i];
		uint8_t *hva;

		if (!fuzz_regions[i].map)
			fuzz_regions[i].map = fuzz_region_map();
		/* Guest RAM starts page aligned; the rings need 16 bytes at least. */
		room = (room + align - 1) & ~(align - 1);
		hva = fuzz_regions[i].map + FUZZ_MAX_IMAGE - room;
		memset(hva, 0, room);
		memcpy(hva, data + off, len[i]);
		off += len[i];
		m->regions[i] = (struct guest_mem_region){
			.gpa = i ? FUZZ_HIGH_GPA : 0,
			.size = room,
			.hva = hva,
		};
		m->size += room;
	}
	m->base = m->regions[0].hva;
	m->nregions = n;
}

/* --- a device with no VM --------------------------------------------------- */

struct fuzz_rig {
	bool ready;
	struct event_loop loop;
	struct io_bus mmio;
	struct guest_mem mem;
	struct virtio_env env;
};

/* The (unstarted) event loop and an environment that routes nothing: kicks
 * and interrupts stay on the transport's eventfds. */
static inline void fuzz_rig_init(struct fuzz_rig *r, uint64_t pretend_mem)
{
	memset(r, 0, sizeof(*r));
	if (event_loop_init(&r->loop))
		abort();
	r->mmio.kind = "mmio";
	/* What the device sees at creation (a balloon checks its size against it). */
	r->mem.size = pretend_mem;
	r->env = (struct virtio_env){ .mem = &r->mem, .loop = &r->loop, .mmio = &r->mmio };
	r->ready = true;
}

/* Serves what the device thread would: kicks requeued by a device, host
 * sockets, timers. Bounded: a device that keeps itself busy for ever is
 * reported by the caller's own checks, not hung here. */
static inline void fuzz_pump(struct fuzz_rig *r, unsigned int rounds)
{
	struct epoll_event evs[32];

	while (rounds--) {
		int n = epoll_wait(r->loop.epfd, evs, 32, 0), i;

		if (n <= 0)
			return;
		for (i = 0; i < n; i++) {
			struct event_source *s = evs[i].data.ptr;

			if (s && s->fd >= 0)
				s->fn(s->ctx, evs[i].events);
		}
	}
}

static inline void fuzz_wr(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	virtio_mmio_io(d, off, (uint8_t *)&v, 4, true);
}

static inline uint32_t fuzz_rd(struct virtio_dev *d, uint64_t off)
{
	uint32_t v;

	virtio_mmio_io(d, off, (uint8_t *)&v, 4, false);
	return v;
}

/* One queue as the input places it. */
struct fuzz_queue {
	uint8_t size_log2; /* 1 << (size_log2 % 11); 0x80 set: leave the queue off */
	uint64_t desc, avail, used;
} __attribute__((packed));

/* Resets the device and sets it up as a driver would, with the offered
 * features that want asks for (VERSION_1 always), and DRIVER_OK unless
 * early is set (queues kicked before DRIVER_OK, as Linux's balloon does).
 * Returns the device status. */
static inline uint32_t fuzz_driver_setup(struct virtio_dev *d, uint64_t want,
					 const struct fuzz_queue *qs, unsigned int nq, int early)
{
	uint32_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	uint64_t f;
	unsigned int q;

	fuzz_wr(d, VIRTIO_MMIO_STATUS, 0);
	fuzz_wr(d, VIRTIO_MMIO_STATUS, s);
	fuzz_wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f = fuzz_rd(d, VIRTIO_MMIO_DEVICE_FEATURES);
	fuzz_wr(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f |= (uint64_t)fuzz_rd(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	f &= want | (1ULL << VIRTIO_F_VERSION_1);
	f |= 1ULL << VIRTIO_F_VERSION_1;
	fuzz_wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	fuzz_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	fuzz_wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	fuzz_wr(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	s |= VIRTIO_CONFIG_S_FEATURES_OK;
	fuzz_wr(d, VIRTIO_MMIO_STATUS, s);
	for (q = 0; q < nq; q++) {
		if (qs[q].size_log2 & 0x80)
			continue;
		fuzz_wr(d, VIRTIO_MMIO_QUEUE_SEL, q);
		fuzz_wr(d, VIRTIO_MMIO_QUEUE_NUM, 1u << (qs[q].size_log2 % 11));
		fuzz_wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)qs[q].desc);
		fuzz_wr(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(qs[q].desc >> 32));
		fuzz_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)qs[q].avail);
		fuzz_wr(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(qs[q].avail >> 32));
		fuzz_wr(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)qs[q].used);
		fuzz_wr(d, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(qs[q].used >> 32));
		fuzz_wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	if (!early)
		fuzz_wr(d, VIRTIO_MMIO_STATUS, s | VIRTIO_CONFIG_S_DRIVER_OK);
	return fuzz_rd(d, VIRTIO_MMIO_STATUS);
}

#endif
