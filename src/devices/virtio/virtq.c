#include "devices/virtio/virtq.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define INVALID(...) (snprintf(why, why_size, __VA_ARGS__), -EINVAL)

static uint16_t load_acquire16(const volatile uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_release16(volatile uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* Whether [addr, addr + len) touches one of the queue's rings. */
static bool hits_rings(const struct virtq *q, uint64_t addr, uint64_t len)
{
	uint64_t n = q->size;

	return overlap(addr, len, q->desc_gpa, 16 * n) ||
	       overlap(addr, len, q->avail_gpa, 6 + 2 * n) ||
	       overlap(addr, len, q->used_gpa, 6 + 8 * n);
}

int virtq_setup(struct virtq *q, const struct guest_mem *m, uint16_t max, char *why,
		size_t why_size)
{
	uint64_t n = q->size;
	uint64_t avail_len = 6 + 2 * n, used_len = 6 + 8 * n; /* event fields included */

	if (!n || n > max || (n & (n - 1)))
		return INVALID("queue size %u is not a power of two up to %u", q->size, max);
	/* Alignments from the spec (2.6): 16 for descriptors, 2 avail, 4 used. */
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return INVALID("misaligned ring (desc %#llx, avail %#llx, used %#llx)",
			       (unsigned long long)q->desc_gpa, (unsigned long long)q->avail_gpa,
			       (unsigned long long)q->used_gpa);
	q->desc = gpa_to_hva(m, q->desc_gpa, 16 * n);
	q->avail = gpa_to_hva(m, q->avail_gpa, avail_len);
	q->used = gpa_to_hva(m, q->used_gpa, used_len);
	if (!q->desc || !q->avail || !q->used)
		return INVALID("a ring of the queue lies outside guest RAM");
	/* Overlapping rings would let the device's own writes (used entries,
	 * flags, event indexes) change what it reads next, for ever. */
	if (overlap(q->desc_gpa, 16 * n, q->avail_gpa, avail_len) ||
	    overlap(q->desc_gpa, 16 * n, q->used_gpa, used_len) ||
	    overlap(q->avail_gpa, avail_len, q->used_gpa, used_len))
		return INVALID("the rings of the queue overlap");
	q->mem = m;
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_valid = false;
	q->ready = true;
	return 0;
}

void virtq_reset(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

/* Adds [addr, addr+len) as a segment; the direction order is checked here. */
static int add_seg(struct virtq *q, struct virtq_elem *e, uint64_t addr, uint32_t len,
		   bool writable, char *why, size_t why_size)
{
	unsigned int i = e->out_num + e->in_num;
	void *p;

	if (i == VIRTQ_MAX_SEGS)
		return INVALID("chain longer than %d segments", VIRTQ_MAX_SEGS);
	if (!writable && e->in_num)
		return INVALID("readable descriptor after a writable one");
	p = gpa_to_hva(q->mem, addr, len);
	if (!p)
		return INVALID("buffer [%#llx, +%u) outside guest RAM", (unsigned long long)addr,
			       len);
	/* What the device writes must not rewrite the rings it is reading. */
	if (writable && hits_rings(q, addr, len))
		return INVALID("writable buffer [%#llx, +%u) overlaps the queue's rings",
			       (unsigned long long)addr, len);
	e->iov[i].iov_base = p;
	e->iov[i].iov_len = len;
	if (writable) {
		e->in_num++;
		e->in_len += len;
	} else {
		e->out_num++;
		e->out_len += len;
	}
	return 0;
}

static int walk_indirect(struct virtq *q, struct virtq_elem *e, const struct vring_desc *d,
			 char *why, size_t why_size)
{
	const uint8_t *table; /* any alignment: the guest places it */
	uint32_t n = d->len / 16, i = 0, steps = 0;
	int err;

	if (!q->indirect)
		return INVALID("indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC");
	if (d->len == 0 || d->len % 16 || n > VIRTQ_MAX_SEGS)
		return INVALID("indirect table of %u bytes", d->len);
	table = gpa_to_hva(q->mem, d->addr, d->len);
	if (!table)
		return INVALID("indirect table outside guest RAM");
	for (;;) {
		struct vring_desc t;

		memcpy(&t, table + (size_t)i * sizeof(t), sizeof(t));

		if (++steps > n)
			return INVALID("loop in an indirect table");
		if (t.flags & VRING_DESC_F_INDIRECT)
			return INVALID("nested indirect table");
		err = add_seg(q, e, t.addr, t.len, t.flags & VRING_DESC_F_WRITE, why, why_size);
		if (err)
			return err;
		if (!(t.flags & VRING_DESC_F_NEXT))
			return 0;
		if (t.next >= n)
			return INVALID("indirect next %u beyond its table of %u", t.next, n);
		i = t.next;
	}
}

int virtq_pop(struct virtq *q, struct virtq_elem *e, char *why, size_t why_size)
{
	uint16_t avail_idx, head, i;
	unsigned int steps = 0;
	int err;

	if (!q->ready)
		return 0;
	avail_idx = load_acquire16(&q->avail->idx);
	if (avail_idx == q->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return INVALID("avail idx %u is %u entries ahead of %u in a queue of %u", avail_idx,
			       (uint16_t)(avail_idx - q->last_avail), q->last_avail, q->size);
	head = q->avail->ring[q->last_avail % q->size];
	if (head >= q->size)
		return INVALID("head descriptor %u beyond queue size %u", head, q->size);
	e->head = head;
	e->out_num = e->in_num = 0;
	e->out_len = e->in_len = 0;
	for (i = head;;) {
		struct vring_desc d = q->desc[i];

		if (++steps > q->size)
			return INVALID("descriptor chain loops (from head %u)", head);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (d.flags & VRING_DESC_F_NEXT)
				return INVALID("indirect descriptor with NEXT set");
			err = walk_indirect(q, e, &d, why, why_size);
		} else {
			err = add_seg(q, e, d.addr, d.len, d.flags & VRING_DESC_F_WRITE, why,
				      why_size);
		}
		if (err)
			return err;
		if (!(d.flags & VRING_DESC_F_NEXT) || (d.flags & VRING_DESC_F_INDIRECT))
			break;
		if (d.next >= q->size)
			return INVALID("next descriptor %u beyond queue size %u", d.next, q->size);
		i = d.next;
	}
	q->last_avail++;
	return 1;
}

/* Dirty tracking (snapshots): marks the writable segments of the chain at
 * head, walked again from the descriptor table as virtq_pop() did. A chain the
 * driver changed meanwhile only misleads the tracking of its own memory; the
 * walk is bounded like virtq_pop()'s and marks nothing outside RAM. */
static void mark_chain(const struct virtq *q, uint16_t head)
{
	const struct guest_mem *m = q->mem;
	unsigned int steps = 0;
	uint16_t i = head;

	if (head >= q->size)
		return;
	for (;;) {
		struct vring_desc d = q->desc[i];

		if (++steps > q->size)
			return;
		if (d.flags & VRING_DESC_F_INDIRECT) {
			const uint8_t *table = gpa_to_hva(m, d.addr, d.len);
			uint32_t n = d.len / 16, j = 0, k;

			for (k = 0; table && n <= VIRTQ_MAX_SEGS && k < n; k++) {
				struct vring_desc t;

				memcpy(&t, table + (size_t)j * sizeof(t), sizeof(t));
				if (t.flags & VRING_DESC_F_WRITE)
					guest_mem_mark_dirty(m, t.addr, t.len);
				if (!(t.flags & VRING_DESC_F_NEXT) || t.next >= n)
					break;
				j = t.next;
			}
			return;
		}
		if (d.flags & VRING_DESC_F_WRITE)
			guest_mem_mark_dirty(m, d.addr, d.len);
		if (!(d.flags & VRING_DESC_F_NEXT) || d.next >= q->size)
			return;
		i = d.next;
	}
}

void virtq_push_many(struct virtq *q, const struct vring_used_elem *u, unsigned int n)
{
	unsigned int i;

	if (q->mem && q->mem->track_dirty) {
		for (i = 0; i < n; i++)
			mark_chain(q, (uint16_t)u[i].id);
		guest_mem_mark_dirty(q->mem, q->used_gpa, 6 + 8ULL * q->size);
	}
	for (i = 0; i < n; i++)
		q->used->ring[(uint16_t)(q->used_idx + i) % q->size] = u[i];
	q->used_idx = (uint16_t)(q->used_idx + n);
	/* The elements are written before the index that publishes them. */
	store_release16(&q->used->idx, q->used_idx);
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	struct vring_used_elem u = { .id = head, .len = len };

	virtq_push_many(q, &u, 1);
}

bool virtq_should_notify(struct virtq *q)
{
	uint16_t old = q->signalled_used, now = q->used_idx;
	bool valid = q->signalled_valid;

	/* The driver's flags/event are read after our used index is visible. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->signalled_used = now;
	q->signalled_valid = true;
	if (!q->event_idx)
		return !(load_acquire16(&q->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	/* used_event sits after the avail ring. */
	return !valid || vring_need_event(load_acquire16(&q->avail->ring[q->size]), now, old);
}

bool virtq_enable_notify(struct virtq *q)
{
	if (q->mem)
		guest_mem_mark_dirty(q->mem, q->used_gpa, 6 + 8ULL * q->size);
	if (q->event_idx)
		/* avail_event sits after the used ring. */
		store_release16((uint16_t *)&q->used->ring[q->size], q->last_avail);
	else
		store_release16(&q->used->flags, 0);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load_acquire16(&q->avail->idx) != q->last_avail;
}

uint16_t virtq_avail_pending(struct virtq *q)
{
	uint16_t n;

	if (!q->avail)
		return 0;
	n = (uint16_t)(load_acquire16(&q->avail->idx) - q->last_avail);
	return n > q->size ? 0 : n; /* a malformed index: virtq_pop fails the queue */
}

void virtq_disable_notify(struct virtq *q)
{
	if (!q->event_idx) {
		if (q->mem)
			guest_mem_mark_dirty(q->mem, q->used_gpa, 2);
		store_release16(&q->used->flags, VRING_USED_F_NO_NOTIFY);
	}
}

/* Copies between segments and a flat buffer, skip bytes into the segments. */
static size_t iov_copy(const struct iovec *iov, unsigned int n, size_t skip, void *buf, size_t len,
		       bool to_iov)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;
		char *seg = (char *)iov[i].iov_base;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len - done)
			l = len - done;
		if (to_iov)
			memcpy(seg + skip, (char *)buf + done, l);
		else
			memcpy((char *)buf + done, seg + skip, l);
		done += l;
		skip = 0;
	}
	return done;
}

size_t iov_to_buf(const struct iovec *iov, unsigned int n, size_t skip, void *buf, size_t len)
{
	return iov_copy(iov, n, skip, buf, len, false);
}

size_t iov_from_buf(const struct iovec *iov, unsigned int n, size_t skip, const void *buf,
		    size_t len)
{
	return iov_copy(iov, n, skip, (void *)buf, len, true);
}
