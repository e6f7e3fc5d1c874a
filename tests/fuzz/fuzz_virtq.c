/* libFuzzer target: the split virtqueue against a hostile driver. The input is
 * a header (queue size, ring addresses, features, starting indices) followed
 * by a guest memory image; the target sets the queue up over that memory and
 * serves it as virtio_serve_queue() does (pop; push or push_many; notify
 * decisions) until it is empty or malformed. Each RAM region is its own heap
 * block of the exact size, so ASan catches any access outside guest RAM;
 * every segment a pop returns is also checked to lie inside one region. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/guest_mem.h"
#include "devices/virtio/virtq.h"

#define HIGH_GPA  0x100000000ULL /* where a second region starts, as above the MMIO hole */
#define MAX_IMAGE (64 * 1024)

/* The header at the start of the input, little-endian. */
struct fuzz_hdr {
	uint8_t flags;
	uint8_t size_log2; /* queue size 1 << (size_log2 % 11) unless F_RAW_SIZE */
	uint16_t raw_size;
	uint16_t start;	   /* last_avail and used_idx after setup: index wrap-around */
	uint16_t max;	   /* the device's queue_max; 0 means VIRTQ_MAX_SIZE */
	uint32_t used_len; /* what each push reports; the low bits vary per chain */
	uint64_t desc, avail, used;
} __attribute__((packed));

enum {
	F_INDIRECT = 1 << 0,
	F_EVENT_IDX = 1 << 1,
	F_RAW_SIZE = 1 << 2,
	F_TWO_REGIONS = 1 << 3, /* the image's second half is RAM at HIGH_GPA */
	F_NO_START = 1 << 4,	/* keep the indices setup gives (0) */
	F_PUSH_MANY = 1 << 5,	/* complete each round's chains with one virtq_push_many() */
};

/* Sanitizer builds stop at the first UBSan report too, not only ASan's. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static struct virtq_elem elem;
static struct vring_used_elem batch[VIRTQ_MAX_SIZE];

static int in_region(const struct guest_mem *m, const struct iovec *v)
{
	for (int i = 0; i < m->nregions; i++) {
		const struct guest_mem_region *r = &m->regions[i];
		uintptr_t p = (uintptr_t)v->iov_base, base = (uintptr_t)r->hva;

		if (p >= base && p - base <= r->size && v->iov_len <= r->size - (p - base))
			return 1;
	}
	return 0;
}

static void check_elem(const struct guest_mem *m, const struct virtq *q, const struct virtq_elem *e)
{
	uint64_t out = 0, in = 0;
	unsigned int i;

	if (e->head >= q->size || e->out_num + e->in_num > VIRTQ_MAX_SEGS)
		abort();
	for (i = 0; i < e->out_num + e->in_num; i++) {
		if (!in_region(m, &e->iov[i]))
			abort();
		if (i < e->out_num)
			out += e->iov[i].iov_len;
		else
			in += e->iov[i].iov_len;
	}
	if (out != e->out_len || in != e->in_len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_hdr h;
	struct guest_mem m;
	struct virtq q;
	uint8_t *lo = NULL, *hi = NULL;
	size_t img, lo_len, hi_len;
	char why[256];
	unsigned int pops = 0, idle = 0, nbatch, limit, max;
	int r = 0;

	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	data += sizeof(h);
	img = size - sizeof(h);
	if (img > MAX_IMAGE)
		img = MAX_IMAGE;
	lo_len = (h.flags & F_TWO_REGIONS) ? img / 2 : img;
	hi_len = img - lo_len;
	/* malloc(0) is a real (empty) block: ASan flags any access to it. */
	lo = malloc(lo_len);
	hi = malloc(hi_len);
	if (!lo || !hi)
		goto out;
	memcpy(lo, data, lo_len);
	memcpy(hi, data + lo_len, hi_len);

	memset(&m, 0, sizeof(m));
	m.base = lo;
	m.size = img;
	m.regions[0] = (struct guest_mem_region){ .gpa = 0, .size = lo_len, .hva = lo };
	m.nregions = 1;
	if (h.flags & F_TWO_REGIONS) {
		m.regions[1] =
			(struct guest_mem_region){ .gpa = HIGH_GPA, .size = hi_len, .hva = hi };
		m.nregions = 2;
	}

	memset(&q, 0, sizeof(q));
	q.size = (h.flags & F_RAW_SIZE) ? h.raw_size : (uint16_t)(1u << (h.size_log2 % 11));
	q.desc_gpa = h.desc;
	q.avail_gpa = h.avail;
	q.used_gpa = h.used;
	q.indirect = h.flags & F_INDIRECT;
	q.event_idx = h.flags & F_EVENT_IDX;
	/* A device offers at most VIRTQ_MAX_SIZE entries. */
	max = h.max && h.max < VIRTQ_MAX_SIZE ? h.max : VIRTQ_MAX_SIZE;
	if (virtq_setup(&q, &m, (uint16_t)max, why, sizeof(why)))
		goto out;
	if (!q.size || q.size > max || (q.size & (q.size - 1)))
		abort(); /* setup let a bad size through */
	if (!(h.flags & F_NO_START))
		q.last_avail = q.used_idx = h.start;

	/* What virtio_serve_queue() does. Nothing else writes guest memory
	 * here, so only the device's own writes (used ring, flags, event
	 * index, data) can make more chains appear: legal for a while when
	 * the rings overlap, so pops stop at limit. But rounds in which
	 * virtq_enable_notify() reports new chains and virtq_pop() then finds
	 * none would repeat for ever: the serving loop would hang. */
	limit = 2u * q.size + 16;
	nbatch = 0;
	do {
		unsigned int before = pops;

		virtq_disable_notify(&q);
		while (pops < limit && (r = virtq_pop(&q, &elem, why, sizeof(why))) > 0) {
			check_elem(&m, &q, &elem);
			/* A device reads and writes the segments: touch both ends. */
			if (elem.out_num + elem.in_num) {
				uint8_t sum = 0;

				for (unsigned int i = 0; i < elem.out_num + elem.in_num; i++)
					if (elem.iov[i].iov_len) {
						sum ^= ((uint8_t *)elem.iov[i].iov_base)[0];
						sum ^= ((uint8_t *)elem.iov[i]
								.iov_base)[elem.iov[i].iov_len - 1];
					}
				if (elem.in_num && elem.iov[elem.out_num].iov_len)
					*(uint8_t *)elem.iov[elem.out_num].iov_base = sum;
			}
			if (h.flags & F_PUSH_MANY) {
				batch[nbatch].id = elem.head;
				batch[nbatch].len = h.used_len ^ pops;
				nbatch++;
			} else {
				virtq_push(&q, elem.head, h.used_len ^ pops);
				virtq_should_notify(&q);
			}
			pops++;
			/* A batch never holds more than the ring has room for. */
			if (nbatch == q.size) {
				virtq_push_many(&q, batch, nbatch);
				nbatch = 0;
			}
		}
		if (nbatch) {
			virtq_push_many(&q, batch, nbatch);
			nbatch = 0;
			virtq_should_notify(&q);
		}
		if (r < 0 || pops >= limit)
			break;
		if (pops == before && ++idle > 16) {
			fprintf(stderr,
				"fuzz_virtq: virtq_enable_notify() keeps reporting new "
				"chains that virtq_pop() does not find (last_avail %u): "
				"virtio_serve_queue() would spin for ever\n",
				q.last_avail);
			abort();
		}
	} while (virtq_enable_notify(&q));
	virtq_should_notify(&q);
out:
	free(lo);
	free(hi);
	return 0;
}
