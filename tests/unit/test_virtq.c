/* The split virtqueue as a device sees it. Each test plays the driver: it lays
 * out the descriptor table, avail and used rings in real guest memory
 * (guest_mem) and checks what virtq_pop() makes of them. Every malformed
 * queue must give -EINVAL with a reason, never a crash or an out-of-RAM
 * pointer. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "core/guest_mem.h"
#include "devices/virtio/virtq.h"

#define RAM	  (128ULL << 20)
#define DESC_GPA  0x1000ULL
#define AVAIL_GPA 0x6000ULL
#define USED_GPA  0x8000ULL
#define DATA_GPA  0x100000ULL /* buffers the requests point at */
#define TABLE_GPA 0x200000ULL /* indirect tables */

static struct guest_mem m;
static struct virtq q;
static struct virtq_elem e;
static char why[256];
static uint16_t avail_idx; /* the driver's private copy */

static struct vring_desc *desc(uint16_t i)
{
	return (struct vring_desc *)gpa_to_hva(&m, DESC_GPA, 16ULL * q.size) + i;
}

static struct vring_avail *avail(void)
{
	return gpa_to_hva(&m, AVAIL_GPA, 6 + 2ULL * q.size);
}

static struct vring_used *used(void)
{
	return gpa_to_hva(&m, USED_GPA, 6 + 8ULL * q.size);
}

static void set_desc(struct vring_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static void *hva(uint64_t gpa)
{
	return gpa_to_hva(&m, gpa, 1);
}

/* A queue of size entries at the usual addresses, set up as the transport would. */
static void setup_mem(uint64_t ram, uint16_t size, bool indirect, bool event_idx)
{
	cr_assert_eq(layout_guest_mem_init(&m, ram), 0);
	memset(&q, 0, sizeof(q));
	q.size = size;
	q.desc_gpa = DESC_GPA;
	q.avail_gpa = AVAIL_GPA;
	q.used_gpa = USED_GPA;
	q.indirect = indirect;
	q.event_idx = event_idx;
	why[0] = '\0';
	cr_assert_eq(virtq_setup(&q, &m, VIRTQ_MAX_SIZE, why, sizeof(why)), 0, "%s", why);
	cr_assert(q.ready);
	avail_idx = 0;
}

static void setup(uint16_t size, bool indirect, bool event_idx)
{
	setup_mem(RAM, size, indirect, event_idx);
}

/* Makes head available, as a driver would: ring entry, then the index. */
static void post(uint16_t head)
{
	avail()->ring[avail_idx % q.size] = head;
	avail_idx++;
	__atomic_store_n(&avail()->idx, avail_idx, __ATOMIC_RELEASE);
}

/* The malformed-queue outcome: -EINVAL, a reason naming the fault, nothing consumed. */
static void expect_bad(const char *reason)
{
	uint16_t before = q.last_avail;

	why[0] = '\0';
	cr_assert_eq(virtq_pop(&q, &e, why, sizeof(why)), -EINVAL, "accepted; expected '%s'",
		     reason);
	cr_assert_not_null(strstr(why, reason), "reason '%s', expected '%s'", why, reason);
	cr_assert_eq(q.last_avail, before, "a rejected chain is not consumed");
}

static void expect_pop(void)
{
	why[0] = '\0';
	cr_assert_eq(virtq_pop(&q, &e, why, sizeof(why)), 1, "pop failed: %s", why);
}

Test(virtq, setup_maps_the_rings)
{
	setup(256, false, false);
	cr_assert_eq((void *)q.desc, m.base + DESC_GPA);
	cr_assert_eq((void *)q.avail, m.base + AVAIL_GPA);
	cr_assert_eq((void *)q.used, m.base + USED_GPA);
	cr_assert_eq(q.mem, &m);
	cr_assert_eq(q.last_avail, 0);
	cr_assert_eq(q.used_idx, 0);
	virtq_reset(&q);
	cr_assert_not(q.ready);
	cr_assert_eq(virtq_pop(&q, &e, why, sizeof(why)), 0, "a queue not ready has nothing");
}

static void expect_setup_fails(uint16_t size, uint16_t max, uint64_t desc_gpa, uint64_t avail_gpa,
			       uint64_t used_gpa, const char *reason)
{
	struct virtq v = {
		.size = size, .desc_gpa = desc_gpa, .avail_gpa = avail_gpa, .used_gpa = used_gpa
	};

	why[0] = '\0';
	cr_assert_eq(virtq_setup(&v, &m, max, why, sizeof(why)), -EINVAL,
		     "size %u desc %#llx avail %#llx used %#llx accepted", size,
		     (unsigned long long)desc_gpa, (unsigned long long)avail_gpa,
		     (unsigned long long)used_gpa);
	cr_assert_not_null(strstr(why, reason), "reason '%s', expected '%s'", why, reason);
	cr_assert_not(v.ready);
}

Test(virtq, setup_rejects_bad_queues)
{
	uint64_t end = RAM;

	cr_assert_eq(layout_guest_mem_init(&m, RAM), 0);
	expect_setup_fails(0, 256, DESC_GPA, AVAIL_GPA, USED_GPA, "power of two");
	expect_setup_fails(3, 256, DESC_GPA, AVAIL_GPA, USED_GPA, "power of two");
	expect_setup_fails(100, 256, DESC_GPA, AVAIL_GPA, USED_GPA, "power of two");
	expect_setup_fails(512, 256, DESC_GPA, AVAIL_GPA, USED_GPA, "power of two");
	expect_setup_fails(32768, VIRTQ_MAX_SIZE, DESC_GPA, AVAIL_GPA, USED_GPA, "power of two");
	/* Each ring just past the end of RAM, straddling it, in the MMIO hole, wrapping. */
	expect_setup_fails(256, 256, end - 0x800, AVAIL_GPA, USED_GPA, "outside guest RAM");
	expect_setup_fails(256, 256, DESC_GPA, end - 6, USED_GPA, "outside guest RAM");
	expect_setup_fails(256, 256, DESC_GPA, AVAIL_GPA, end - 8 * 256, "outside guest RAM");
	expect_setup_fails(256, 256, DESC_GPA, AVAIL_GPA, 0xc0000000, "outside guest RAM");
	expect_setup_fails(256, 256, UINT64_MAX - 0xf, AVAIL_GPA, USED_GPA, "outside guest RAM");
	expect_setup_fails(256, 256, DESC_GPA, UINT64_MAX - 1, USED_GPA, "outside guest RAM");
	expect_setup_fails(256, 256, DESC_GPA, AVAIL_GPA, UINT64_MAX - 3, "outside guest RAM");
	/* Alignment: 16 for the table, 2 for avail, 4 for used. */
	expect_setup_fails(256, 256, DESC_GPA + 8, AVAIL_GPA, USED_GPA, "misaligned");
	expect_setup_fails(256, 256, DESC_GPA, AVAIL_GPA + 1, USED_GPA, "misaligned");
	expect_setup_fails(256, 256, DESC_GPA, AVAIL_GPA, USED_GPA + 2, "misaligned");
}

Test(virtq, setup_rejects_overlapping_rings)
{
	/* Size 8: table 128 bytes, avail 6 + 16, used 6 + 64 (event fields included). */
	cr_assert_eq(layout_guest_mem_init(&m, RAM), 0);
	expect_setup_fails(8, 256, DESC_GPA, DESC_GPA + 126, USED_GPA, "overlap");
	expect_setup_fails(8, 256, DESC_GPA, AVAIL_GPA, DESC_GPA + 124, "overlap");
	expect_setup_fails(8, 256, DESC_GPA, AVAIL_GPA, AVAIL_GPA + 20, "overlap");
	expect_setup_fails(8, 256, USED_GPA + 64, AVAIL_GPA, USED_GPA, "overlap");
	expect_setup_fails(8, 256, DESC_GPA, USED_GPA + 68, USED_GPA, "overlap");
	expect_setup_fails(8, 256, DESC_GPA, AVAIL_GPA, AVAIL_GPA, "overlap");
}

Test(virtq, setup_accepts_rings_that_touch)
{
	/* Each ring starting on the byte after the one before it. */
	struct virtq v = { .size = 8,
			   .desc_gpa = DESC_GPA,
			   .avail_gpa = DESC_GPA + 128,
			   .used_gpa = DESC_GPA + 128 + 24 };

	cr_assert_eq(layout_guest_mem_init(&m, RAM), 0);
	cr_assert_eq(virtq_setup(&v, &m, 256, why, sizeof(why)), 0, "%s", why);
	v = (struct virtq){ .size = 8,
			    .desc_gpa = DESC_GPA + 80,
			    .avail_gpa = DESC_GPA + 208,
			    .used_gpa = DESC_GPA + 8 };
	cr_assert_eq(virtq_setup(&v, &m, 256, why, sizeof(why)), 0, "%s", why);
}

Test(virtq, setup_again_starts_afresh)
{
	/* A driver that sets a queue up again (after a reset of its own) starts
	 * at index 0, and its first interrupt is not suppressed by the old state. */
	setup(8, false, true);
	set_desc(desc(0), DATA_GPA, 1, 0, 0);
	post(0);
	expect_pop();
	virtq_push(&q, e.head, 0);
	cr_assert(virtq_should_notify(&q));
	cr_assert_eq(q.last_avail, 1);
	cr_assert_eq(virtq_setup(&q, &m, VIRTQ_MAX_SIZE, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(q.last_avail, 0);
	cr_assert_eq(q.used_idx, 0);
	memset(avail(), 0, 6 + 2 * 8);
	memset(used(), 0, 6 + 8 * 8);
	avail_idx = 0;
	avail()->ring[8] = 5; /* used_event: far ahead */
	post(0);
	expect_pop();
	virtq_push(&q, e.head, 0);
	cr_assert_eq(used()->idx, 1);
	cr_assert(virtq_should_notify(&q), "the first interrupt after setup is always sent");
}

Test(virtq, setup_accepts_the_limits)
{
	struct virtq v = { .size = 1, .desc_gpa = 0, .avail_gpa = 0x10, .used_gpa = 0x20 };

	cr_assert_eq(layout_guest_mem_init(&m, RAM), 0);
	cr_assert_eq(virtq_setup(&v, &m, 1, why, sizeof(why)), 0, "%s", why);
	/* The largest queue, its descriptor table ending exactly at the end of RAM. */
	v = (struct virtq){ .size = VIRTQ_MAX_SIZE,
			    .desc_gpa = RAM - 16 * VIRTQ_MAX_SIZE,
			    .avail_gpa = RAM - 0x5000,
			    .used_gpa = RAM - 0x8000 };
	cr_assert_eq(virtq_setup(&v, &m, VIRTQ_MAX_SIZE, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq((uint8_t *)v.desc + 16 * VIRTQ_MAX_SIZE, m.base + RAM);
}

Test(virtq, empty_ring)
{
	setup(8, false, false);
	cr_assert_eq(virtq_pop(&q, &e, why, sizeof(why)), 0);
	cr_assert_not(virtq_enable_notify(&q), "nothing arrived");
}

Test(virtq, single_descriptor)
{
	setup(8, false, false);
	set_desc(desc(5), DATA_GPA, 100, 0, 0);
	post(5);
	expect_pop();
	cr_assert_eq(e.head, 5);
	cr_assert_eq(e.out_num, 1);
	cr_assert_eq(e.in_num, 0);
	cr_assert_eq(e.out_len, 100);
	cr_assert_eq(e.in_len, 0);
	cr_assert_eq(e.iov[0].iov_base, hva(DATA_GPA));
	cr_assert_eq(e.iov[0].iov_len, 100);
	cr_assert_eq(virtq_pop(&q, &e, why, sizeof(why)), 0, "one chain only");

	/* One writable descriptor alone is a chain too. */
	set_desc(desc(2), DATA_GPA + 0x1000, 7, VRING_DESC_F_WRITE, 0);
	post(2);
	expect_pop();
	cr_assert_eq(e.head, 2);
	cr_assert_eq(e.out_num, 0);
	cr_assert_eq(e.in_num, 1);
	cr_assert_eq(e.in_len, 7);
}

Test(virtq, readable_then_writable_chain)
{
	setup(16, false, false);
	/* Descriptors in no particular order, as a driver's free list leaves them. */
	set_desc(desc(3), DATA_GPA, 16, VRING_DESC_F_NEXT, 9);
	set_desc(desc(9), DATA_GPA + 0x100, 512, VRING_DESC_F_NEXT, 0);
	set_desc(desc(0), DATA_GPA + 0x1000, 4096, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 15);
	set_desc(desc(15), DATA_GPA + 0x3000, 1, VRING_DESC_F_WRITE, 0);
	post(3);
	expect_pop();
	cr_assert_eq(e.head, 3);
	cr_assert_eq(e.out_num, 2);
	cr_assert_eq(e.in_num, 2);
	cr_assert_eq(e.out_len, 528);
	cr_assert_eq(e.in_len, 4097);
	cr_assert_eq(e.iov[0].iov_base, hva(DATA_GPA));
	cr_assert_eq(e.iov[1].iov_base, hva(DATA_GPA + 0x100));
	cr_assert_eq(e.iov[1].iov_len, 512);
	cr_assert_eq(e.iov[2].iov_base, hva(DATA_GPA + 0x1000));
	cr_assert_eq(e.iov[3].iov_base, hva(DATA_GPA + 0x3000));
	cr_assert_eq(e.iov[3].iov_len, 1);
}

Test(virtq, chain_as_long_as_the_queue)
{
	uint16_t i;

	setup(8, false, false);
	for (i = 0; i < 8; i++)
		set_desc(desc(i), DATA_GPA + i * 0x10, 0x10, i < 7 ? VRING_DESC_F_NEXT : 0, i + 1);
	post(0);
	expect_pop();
	cr_assert_eq(e.out_num, 8);
	cr_assert_eq(e.out_len, 128);
}

Test(virtq, zero_length_descriptor)
{
	setup(8, false, false);
	set_desc(desc(0), DATA_GPA, 0, VRING_DESC_F_NEXT, 1);
	set_desc(desc(1), DATA_GPA, 0, VRING_DESC_F_WRITE, 0);
	post(0);
	expect_pop();
	cr_assert_eq(e.out_num + e.in_num, 2);
	cr_assert_eq(e.out_len + e.in_len, 0);
}

Test(virtq, push_fills_the_used_ring)
{
	uint16_t h;

	setup(4, false, false);
	for (h = 0; h < 4; h++) {
		set_desc(desc(h), DATA_GPA + h * 0x100, 0x100, VRING_DESC_F_WRITE, 0);
		post(h);
	}
	/* Completed out of order: the used ring records what was pushed, in order. */
	expect_pop();
	expect_pop();
	virtq_push(&q, 1, 11);
	virtq_push(&q, 0, 10);
	cr_assert_eq(used()->idx, 2);
	cr_assert_eq(used()->ring[0].id, 1);
	cr_assert_eq(used()->ring[0].len, 11);
	cr_assert_eq(used()->ring[1].id, 0);
	cr_assert_eq(used()->ring[1].len, 10);
	expect_pop();
	cr_assert_eq(e.head, 2);
	expect_pop();
	cr_assert_eq(e.head, 3);
	cr_assert_eq(virtq_pop(&q, &e, why, sizeof(why)), 0);
	virtq_push(&q, 3, 0);
	virtq_push(&q, 2, 0xffffffff);
	cr_assert_eq(used()->idx, 4);
	cr_assert_eq(used()->ring[3].id, 2);
	cr_assert_eq(used()->ring[3].len, 0xffffffff);
}

/* Runs n requests through a queue whose indices start at start; checks that
 * each avail/used slot is the index modulo the size across 65535 -> 0. */
static void run_from(uint16_t start, unsigned int n)
{
	unsigned int done = 0;

	q.last_avail = q.used_idx = start;
	avail_idx = start;
	avail()->idx = start;
	used()->idx = start;
	while (done < n) {
		uint16_t k, batch = q.size;

		for (k = 0; k < batch; k++) {
			uint16_t h = (uint16_t)((done + k) % q.size);

			set_desc(desc(h), DATA_GPA + h * 0x10, 0x10 + k, 0, 0);
			post(h);
		}
		/* Plain checks, one assertion each: --full-stats reports every
		 * assertion and this runs tens of thousands of requests. */
		for (k = 0; k < batch; k++) {
			uint16_t slot = (uint16_t)(start + done + k);
			int r = virtq_pop(&q, &e, why, sizeof(why));

			if (r != 1 || e.head != (done + k) % q.size || e.out_len != 0x10u + k)
				cr_assert_fail("request %u: pop %d (%s), head %u, len %llu",
					       done + k, r, why, e.head,
					       (unsigned long long)e.out_len);
			virtq_push(&q, e.head, k);
			if (used()->idx != (uint16_t)(slot + 1) ||
			    used()->ring[slot % q.size].id != e.head ||
			    used()->ring[slot % q.size].len != k)
				cr_assert_fail("request %u: used idx %u, slot %u holds %u/%u",
					       done + k, used()->idx, slot % q.size,
					       used()->ring[slot % q.size].id,
					       used()->ring[slot % q.size].len);
		}
		if (virtq_pop(&q, &e, why, sizeof(why)) != 0)
			cr_assert_fail("more than was posted after request %u", done + batch);
		done += batch;
	}
}

Test(virtq, push_many_fills_in_order_across_the_wrap)
{
	const struct vring_used_elem u[3] = { { 7, 70 }, { 5, 50 }, { 6, 60 } };

	setup(4, false, false);
	virtq_push(&q, 0, 1);
	virtq_push(&q, 1, 2);
	virtq_push(&q, 2, 3);
	/* Entries 3, 0 and 1 of the ring, published by one index update. */
	virtq_push_many(&q, u, 3);
	cr_assert_eq(used()->idx, 6);
	cr_assert_eq(q.used_idx, 6);
	cr_assert_eq(used()->ring[3].id, 7);
	cr_assert_eq(used()->ring[3].len, 70);
	cr_assert_eq(used()->ring[0].id, 5);
	cr_assert_eq(used()->ring[0].len, 50);
	cr_assert_eq(used()->ring[1].id, 6);
	cr_assert_eq(used()->ring[1].len, 60);
	cr_assert_eq(used()->ring[2].id, 2, "an entry not pushed over stays");
}

Test(virtq, indices_wrap_around)
{
	setup(8, false, false);
	run_from(65530, 32);
	cr_assert_eq(q.last_avail, (uint16_t)(65530 + 32));
	cr_assert_eq(q.used_idx, (uint16_t)(65530 + 32));
	cr_assert_lt(q.last_avail, 65530, "went past 65535");
}

Test(virtq, indices_wrap_after_many_requests)
{
	/* From a fresh setup, as a long-running guest gets there. */
	setup(4, false, false);
	run_from(0, 70000);
	cr_assert_eq(q.last_avail, (uint16_t)70000);
}

Test(virtq, avail_index_ahead_across_the_wrap)
{
	setup(8, false, false);
	q.last_avail = 65534;
	avail_idx = 65534;
	/* Eight entries ahead spanning the wrap is fine; nine is not. */
	for (uint16_t i = 0; i < 8; i++) {
		set_desc(desc(i), DATA_GPA, 1, 0, 0);
		post(i);
	}
	cr_assert_eq(avail()->idx, 6);
	expect_pop();
	q.last_avail = 65533;
	expect_bad("entries ahead");
}

Test(virtq, avail_index_too_far_ahead)
{
	setup(8, false, false);
	set_desc(desc(0), DATA_GPA, 1, 0, 0);
	avail()->idx = 9;
	expect_bad("9 entries ahead");
	/* A driver moving the index backwards looks the same: 65535 ahead. */
	avail()->idx = 0xffff;
	expect_bad("entries ahead");
}

Test(virtq, indirect_table)
{
	struct vring_desc *t;

	setup(8, true, false);
	t = hva(TABLE_GPA);
	/* Table entries chained out of order: 0 -> 2 -> 1 -> 3. */
	set_desc(&t[0], DATA_GPA, 16, VRING_DESC_F_NEXT, 2);
	set_desc(&t[2], DATA_GPA + 0x100, 512, VRING_DESC_F_NEXT, 1);
	set_desc(&t[1], DATA_GPA + 0x1000, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
	set_desc(&t[3], DATA_GPA + 0x2000, 1, VRING_DESC_F_WRITE, 0);
	set_desc(desc(6), TABLE_GPA, 4 * 16, VRING_DESC_F_INDIRECT, 0);
	post(6);
	expect_pop();
	cr_assert_eq(e.head, 6);
	cr_assert_eq(e.out_num, 2);
	cr_assert_eq(e.in_num, 2);
	cr_assert_eq(e.out_len, 528);
	cr_assert_eq(e.in_len, 513);
	cr_assert_eq(e.iov[0].iov_base, hva(DATA_GPA));
	cr_assert_eq(e.iov[1].iov_base, hva(DATA_GPA + 0x100));
	cr_assert_eq(e.iov[2].iov_base, hva(DATA_GPA + 0x1000));
	cr_assert_eq(e.iov[3].iov_base, hva(DATA_GPA + 0x2000));
}

Test(virtq, indirect_table_stops_without_next)
{
	struct vring_desc *t;

	/* A table may hold more entries than the chain uses. */
	setup(8, true, false);
	t = hva(TABLE_GPA);
	set_desc(&t[0], DATA_GPA, 16, 0, 5);
	set_desc(desc(0), TABLE_GPA, 8 * 16, VRING_DESC_F_INDIRECT, 0);
	post(0);
	expect_pop();
	cr_assert_eq(e.out_num, 1);
	cr_assert_eq(e.in_num, 0);
}

Test(virtq, indirect_table_of_the_maximum_size)
{
	struct vring_desc *t;
	unsigned int i;

	setup(8, true, false);
	t = hva(TABLE_GPA);
	for (i = 0; i < VIRTQ_MAX_SEGS; i++)
		set_desc(&t[i], DATA_GPA + i, 1,
			 (i + 1 < VIRTQ_MAX_SEGS ? VRING_DESC_F_NEXT : 0) |
				 (i >= VIRTQ_MAX_SEGS / 2 ? VRING_DESC_F_WRITE : 0),
			 (uint16_t)(i + 1));
	set_desc(desc(0), TABLE_GPA, 16 * VIRTQ_MAX_SEGS, VRING_DESC_F_INDIRECT, 0);
	post(0);
	expect_pop();
	cr_assert_eq(e.out_num, VIRTQ_MAX_SEGS / 2);
	cr_assert_eq(e.in_num, VIRTQ_MAX_SEGS / 2);
}

Test(virtq, indirect_without_the_feature)
{
	struct vring_desc *t;

	setup(8, false, false);
	t = hva(TABLE_GPA);
	set_desc(&t[0], DATA_GPA, 16, 0, 0);
	set_desc(desc(0), TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	post(0);
	expect_bad("VIRTIO_RING_F_INDIRECT_DESC");
}

Test(virtq, bad_indirect_tables)
{
	struct vring_desc *t;

	setup(8, true, false);
	t = hva(TABLE_GPA);
	set_desc(&t[0], DATA_GPA, 16, 0, 0);
	post(0);

	set_desc(desc(0), TABLE_GPA, 0, VRING_DESC_F_INDIRECT, 0);
	expect_bad("indirect table of 0 bytes");
	set_desc(desc(0), TABLE_GPA, 24, VRING_DESC_F_INDIRECT, 0);
	expect_bad("indirect table of 24 bytes");
	set_desc(desc(0), TABLE_GPA, 15, VRING_DESC_F_INDIRECT, 0);
	expect_bad("indirect table of 15 bytes");
	set_desc(desc(0), TABLE_GPA, 16 * (VIRTQ_MAX_SEGS + 1), VRING_DESC_F_INDIRECT, 0);
	expect_bad("indirect table of");
	set_desc(desc(0), TABLE_GPA, 0xfffffff0, VRING_DESC_F_INDIRECT, 0);
	expect_bad("indirect table of");
	set_desc(desc(0), RAM - 16, 32, VRING_DESC_F_INDIRECT, 0);
	expect_bad("indirect table outside guest RAM");
	set_desc(desc(0), UINT64_MAX - 15, 32, VRING_DESC_F_INDIRECT, 0);
	expect_bad("indirect table outside guest RAM");
	set_desc(desc(0), TABLE_GPA, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	expect_bad("indirect descriptor with NEXT set");

	/* Entries of the table itself. */
	set_desc(desc(0), TABLE_GPA, 2 * 16, VRING_DESC_F_INDIRECT, 0);
	set_desc(&t[0], TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	expect_bad("nested indirect table");
	set_desc(&t[0], DATA_GPA, 16, VRING_DESC_F_NEXT, 1);
	set_desc(&t[1], DATA_GPA, 16, VRING_DESC_F_NEXT, 0);
	expect_bad("loop in an indirect table");
	set_desc(&t[1], DATA_GPA, 16, VRING_DESC_F_NEXT, 1);
	expect_bad("loop in an indirect table");
	set_desc(&t[1], DATA_GPA, 16, VRING_DESC_F_NEXT, 2);
	expect_bad("indirect next 2 beyond its table of 2");
	set_desc(&t[1], RAM - 8, 16, 0, 0);
	expect_bad("outside guest RAM");
	set_desc(&t[0], DATA_GPA, 16, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	set_desc(&t[1], DATA_GPA, 16, 0, 0);
	expect_bad("readable descriptor after a writable one");

	/* Still usable once the driver fixes it. */
	set_desc(&t[1], DATA_GPA, 16, VRING_DESC_F_WRITE, 0);
	expect_pop();
	cr_assert_eq(e.in_num, 2);
}

Test(virtq, chain_longer_than_max_segs_through_indirect)
{
	struct vring_desc *t;
	unsigned int i;

	setup(8, true, false);
	t = hva(TABLE_GPA);
	for (i = 0; i < VIRTQ_MAX_SEGS; i++)
		set_desc(&t[i], DATA_GPA, 1, i + 1 < VIRTQ_MAX_SEGS ? VRING_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	/* A direct descriptor, then a full table: one segment too many. */
	set_desc(desc(0), DATA_GPA, 1, VRING_DESC_F_NEXT, 1);
	set_desc(desc(1), TABLE_GPA, 16 * VIRTQ_MAX_SEGS, VRING_DESC_F_INDIRECT, 0);
	post(0);
	expect_bad("chain longer than");
}

Test(virtq, descriptor_index_beyond_the_queue)
{
	setup(8, false, false);
	set_desc(desc(0), DATA_GPA, 1, 0, 0);
	post(8);
	expect_bad("head descriptor 8 beyond queue size 8");
	avail()->ring[0] = 0xffff;
	expect_bad("head descriptor 65535");
	avail()->ring[0] = 0;
	set_desc(desc(0), DATA_GPA, 1, VRING_DESC_F_NEXT, 8);
	expect_bad("next descriptor 8 beyond queue size 8");
	set_desc(desc(0), DATA_GPA, 1, VRING_DESC_F_NEXT, 0xffff);
	expect_bad("next descriptor 65535");
}

Test(virtq, buffers_outside_ram)
{
	setup(8, false, false);
	post(0);
	set_desc(desc(0), RAM, 1, 0, 0);
	expect_bad("outside guest RAM");
	set_desc(desc(0), RAM - 1, 2, 0, 0);
	expect_bad("outside guest RAM");
	set_desc(desc(0), 0, 0xffffffff, 0, 0);
	expect_bad("outside guest RAM");
	set_desc(desc(0), UINT64_MAX, 1, 0, 0);
	expect_bad("outside guest RAM");
	set_desc(desc(0), UINT64_MAX - 8, 16, VRING_DESC_F_WRITE, 0);
	expect_bad("outside guest RAM");
	set_desc(desc(0), 0xc0000000, 16, 0, 0);
	expect_bad("outside guest RAM");
	/* A bad buffer later in the chain. */
	set_desc(desc(0), DATA_GPA, 16, VRING_DESC_F_NEXT, 1);
	set_desc(desc(1), RAM - 15, 16, VRING_DESC_F_WRITE, 0);
	expect_bad("outside guest RAM");
	/* The last byte of RAM is fine. */
	set_desc(desc(1), RAM - 16, 16, VRING_DESC_F_WRITE, 0);
	expect_pop();
	cr_assert_eq(e.iov[1].iov_base, m.base + RAM - 16);
}

Test(virtq, buffers_around_the_mmio_hole)
{
	struct vring_desc *t;
	const uint64_t hole = 0xc0000000, high = 0x100000000;

	/* 3 GiB + 64 MiB: RAM is [0, 3 GiB) and [4 GiB, 4 GiB + 64 MiB). */
	setup_mem(hole + (64ULL << 20), 8, true, false);
	post(0);
	set_desc(desc(0), hole - 8, 16, 0, 0);
	expect_bad("outside guest RAM");
	set_desc(desc(0), hole, 16, 0, 0);
	expect_bad("outside guest RAM");
	set_desc(desc(0), high - 16, 32, 0, 0);
	expect_bad("outside guest RAM");
	set_desc(desc(0), hole, 16, VRING_DESC_F_INDIRECT, 0);
	expect_bad("indirect table outside guest RAM");
	set_desc(desc(0), high + (64ULL << 20) - 8, 16, 0, 0);
	expect_bad("outside guest RAM");
	/* Just below and above the hole is RAM; a table above it works. */
	t = gpa_to_hva(&m, high, 32);
	cr_assert_not_null(t);
	set_desc(&t[0], hole - 16, 16, VRING_DESC_F_NEXT, 1);
	set_desc(&t[1], high + 0x1000, 16, VRING_DESC_F_WRITE, 0);
	set_desc(desc(0), high, 32, VRING_DESC_F_INDIRECT, 0);
	expect_pop();
	cr_assert_eq(e.iov[0].iov_base, m.base + hole - 16);
	cr_assert_eq(e.iov[1].iov_base, m.base + hole + 0x1000);
}

Test(virtq, writable_buffers_never_cover_the_rings)
{
	struct vring_desc *t;

	/* The device writes into writable buffers: over a ring, that would let a
	 * request rewrite the queue the device is reading. */
	setup(8, true, false);
	post(0);
	set_desc(desc(0), DESC_GPA, 16, VRING_DESC_F_WRITE, 0);
	expect_bad("overlaps the queue's rings");
	set_desc(desc(0), DESC_GPA + 127, 1, VRING_DESC_F_WRITE, 0);
	expect_bad("overlaps the queue's rings");
	set_desc(desc(0), AVAIL_GPA - 4, 5, VRING_DESC_F_WRITE, 0);
	expect_bad("overlaps the queue's rings");
	set_desc(desc(0), AVAIL_GPA + 21, 1, VRING_DESC_F_WRITE, 0); /* used_event */
	expect_bad("overlaps the queue's rings");
	set_desc(desc(0), USED_GPA + 4, 4, VRING_DESC_F_WRITE, 0);
	expect_bad("overlaps the queue's rings");
	set_desc(desc(0), USED_GPA + 69, 1, VRING_DESC_F_WRITE, 0); /* avail_event */
	expect_bad("overlaps the queue's rings");
	set_desc(desc(0), 0, 0x100000, VRING_DESC_F_WRITE, 0); /* all three */
	expect_bad("overlaps the queue's rings");
	/* Through an indirect table too. */
	t = hva(TABLE_GPA);
	set_desc(&t[0], USED_GPA, 8, VRING_DESC_F_WRITE, 0);
	set_desc(desc(0), TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	expect_bad("overlaps the queue's rings");

	/* Reading the rings harms nothing; the bytes just past them are free. */
	set_desc(desc(0), DESC_GPA, 128, VRING_DESC_F_NEXT, 1);
	set_desc(desc(1), USED_GPA + 70, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	set_desc(desc(2), DESC_GPA + 128, 8, VRING_DESC_F_WRITE, 0);
	expect_pop();
	cr_assert_eq(e.out_num, 1);
	cr_assert_eq(e.in_num, 2);
}

Test(virtq, chain_loops)
{
	setup(8, false, false);
	post(0);
	set_desc(desc(0), DATA_GPA, 1, VRING_DESC_F_NEXT, 0);
	expect_bad("loops");
	set_desc(desc(0), DATA_GPA, 1, VRING_DESC_F_NEXT, 1);
	set_desc(desc(1), DATA_GPA, 1, VRING_DESC_F_NEXT, 2);
	set_desc(desc(2), DATA_GPA, 1, VRING_DESC_F_NEXT, 1);
	expect_bad("loops");
	/* Even when every buffer is writable (the loop is found, not the direction). */
	for (uint16_t i = 0; i < 8; i++)
		set_desc(desc(i), DATA_GPA, 1, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
			 (uint16_t)((i + 1) % 8));
	expect_bad("loops");
}

Test(virtq, readable_after_writable)
{
	setup(8, false, false);
	post(0);
	set_desc(desc(0), DATA_GPA, 1, VRING_DESC_F_NEXT, 1);
	set_desc(desc(1), DATA_GPA, 1, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	set_desc(desc(2), DATA_GPA, 1, 0, 0);
	expect_bad("readable descriptor after a writable one");
}

Test(virtq, event_idx_used_event)
{
	uint16_t *used_event;

	setup(8, false, true);
	used_event = &avail()->ring[8];
	for (uint16_t h = 0; h < 8; h++)
		set_desc(desc(h), DATA_GPA, 1, 0, 0);
	for (uint16_t h = 0; h < 8; h++)
		post(h);
	/* The flags field does not count with event index. */
	avail()->flags = VRING_AVAIL_F_NO_INTERRUPT;

	expect_pop();
	virtq_push(&q, e.head, 0);
	cr_assert(virtq_should_notify(&q), "the first interrupt is always sent");

	/* The driver wants an interrupt once used idx passes 3. */
	*used_event = 3;
	expect_pop();
	virtq_push(&q, e.head, 0); /* used 2 */
	cr_assert_not(virtq_should_notify(&q));
	expect_pop();
	virtq_push(&q, e.head, 0); /* used 3 */
	cr_assert_not(virtq_should_notify(&q));
	expect_pop();
	virtq_push(&q, e.head, 0); /* used 4: entry 3 is out */
	cr_assert(virtq_should_notify(&q));
	expect_pop();
	virtq_push(&q, e.head, 0); /* used 5 */
	cr_assert_not(virtq_should_notify(&q), "used_event is behind");

	/* Several pushes between checks: any of them crossing used_event counts. */
	*used_event = 5;
	expect_pop();
	virtq_push(&q, e.head, 0);
	expect_pop();
	virtq_push(&q, e.head, 0); /* used 7: entries 5 and 6 */
	cr_assert(virtq_should_notify(&q));
	cr_assert_not(virtq_should_notify(&q), "nothing new since");
}

Test(virtq, event_idx_used_event_wraps)
{
	setup(8, false, true);
	q.last_avail = q.used_idx = 65534;
	avail_idx = 65534;
	for (uint16_t h = 0; h < 4; h++) {
		set_desc(desc(h), DATA_GPA, 1, 0, 0);
		post(h);
	}
	expect_pop();
	virtq_push(&q, e.head, 0); /* used 65535 */
	cr_assert(virtq_should_notify(&q));
	avail()->ring[8] = 0; /* interrupt when entry 0 (after 65535) is used */
	expect_pop();
	virtq_push(&q, e.head, 0); /* used 0 */
	cr_assert_not(virtq_should_notify(&q));
	expect_pop();
	virtq_push(&q, e.head, 0); /* used 1 */
	cr_assert(virtq_should_notify(&q));
}

Test(virtq, event_idx_avail_event)
{
	uint16_t *avail_event;

	setup(8, false, true);
	avail_event = (uint16_t *)&used()->ring[8];
	*avail_event = 0x5555;
	used()->flags = 0;
	virtq_disable_notify(&q);
	cr_assert_eq(used()->flags, 0, "event index does not use the flags");
	cr_assert_not(virtq_enable_notify(&q));
	cr_assert_eq(*avail_event, 0, "re-armed at the next entry to take");

	set_desc(desc(0), DATA_GPA, 1, 0, 0);
	set_desc(desc(1), DATA_GPA, 1, 0, 0);
	post(0);
	post(1);
	cr_assert(virtq_enable_notify(&q), "buffers arrived meanwhile");
	cr_assert_eq(*avail_event, 0);
	expect_pop();
	cr_assert(virtq_enable_notify(&q));
	cr_assert_eq(*avail_event, 1);
	expect_pop();
	cr_assert_not(virtq_enable_notify(&q));
	cr_assert_eq(*avail_event, 2);
	cr_assert_eq(used()->flags, 0);
}

Test(virtq, flags_without_event_idx)
{
	setup(8, false, false);
	for (uint16_t h = 0; h < 3; h++) {
		set_desc(desc(h), DATA_GPA, 1, 0, 0);
		post(h);
	}
	expect_pop();
	virtq_push(&q, e.head, 0);
	avail()->flags = VRING_AVAIL_F_NO_INTERRUPT;
	cr_assert_not(virtq_should_notify(&q));
	avail()->ring[8] = 0; /* used_event means nothing here */
	expect_pop();
	virtq_push(&q, e.head, 0);
	avail()->flags = 0;
	cr_assert(virtq_should_notify(&q));
	cr_assert(virtq_should_notify(&q), "without event index every check may interrupt");

	virtq_disable_notify(&q);
	cr_assert_eq(used()->flags, VRING_USED_F_NO_NOTIFY);
	cr_assert(virtq_enable_notify(&q), "one chain is still waiting");
	cr_assert_eq(used()->flags, 0);
	expect_pop();
	cr_assert_not(virtq_enable_notify(&q));
}

Test(virtq, iov_copies_with_skip)
{
	char a[3], b[5], c[7], out[32];
	struct iovec iov[] = {
		{ a, sizeof(a) },
		{ NULL, 0 },
		{ b, sizeof(b) },
		{ c, sizeof(c) },
	};
	const char *src = "ABCDEFGHIJKLMNO"; /* 15 bytes, the total of the segments */

	memset(a, '.', sizeof(a));
	memset(b, '.', sizeof(b));
	memset(c, '.', sizeof(c));
	/* Into the segments: skip 2 (inside a), 9 bytes: a[2], b[0..4], c[0..2]. */
	cr_assert_eq(iov_from_buf(iov, 4, 2, src, 9), 9);
	cr_assert_eq(memcmp(a, "..A", 3), 0);
	cr_assert_eq(memcmp(b, "BCDEF", 5), 0);
	cr_assert_eq(memcmp(c, "GHI....", 7), 0);
	/* Skip exactly a whole segment and the empty one. */
	cr_assert_eq(iov_from_buf(iov, 4, 3, "xy", 2), 2);
	cr_assert_eq(memcmp(b, "xyDEF", 5), 0);
	/* More than fits: clipped at the end of the last segment. */
	cr_assert_eq(iov_from_buf(iov, 4, 10, src, 15), 5);
	cr_assert_eq(memcmp(c, "GHABCDE", 7), 0);
	cr_assert_eq(iov_from_buf(iov, 4, 15, src, 1), 0, "skip past the end");
	cr_assert_eq(iov_from_buf(iov, 4, 1000, src, 1), 0);
	cr_assert_eq(iov_from_buf(iov, 0, 0, src, 1), 0);

	/* Out of the segments: a b c = "..A" "xyDEF" "GHABCDE". */
	memset(out, 0, sizeof(out));
	cr_assert_eq(iov_to_buf(iov, 4, 0, out, sizeof(out)), 15);
	cr_assert_str_eq(out, "..AxyDEFGHABCDE");
	memset(out, 0, sizeof(out));
	cr_assert_eq(iov_to_buf(iov, 4, 4, out, 6), 6);
	cr_assert_str_eq(out, "yDEFGH");
	memset(out, 0, sizeof(out));
	cr_assert_eq(iov_to_buf(iov, 4, 14, out, 5), 1);
	cr_assert_str_eq(out, "E");
	cr_assert_eq(iov_to_buf(iov, 4, 15, out, 5), 0);
	cr_assert_eq(iov_to_buf(iov, 4, 0, out, 0), 0);
	cr_assert_eq(iov_to_buf(iov, 2, 0, out, 10), 3, "only the first two segments");
}

Test(virtq, misaligned_indirect_table)
{
	struct vring_desc t[2];

	/* virtio 1.2 2.7.5.3 lets the driver put an indirect table "anywhere in
	 * memory" and sets no alignment for it (the alignments in 2.7 are the
	 * rings'), so a table at an odd address is valid and is read in full;
	 * the device reads it by copies, never through a misaligned pointer (the
	 * sanitizer build's -fsanitize=alignment would stop that). */
	setup(8, true, false);
	set_desc(&t[0], DATA_GPA + 0x10, 16, VRING_DESC_F_NEXT, 1);
	set_desc(&t[1], DATA_GPA + 0x100, 1, VRING_DESC_F_WRITE, 0);
	memcpy(hva(TABLE_GPA + 3), t, sizeof(t));
	set_desc(desc(0), TABLE_GPA + 3, sizeof(t), VRING_DESC_F_INDIRECT, 0);
	post(0);
	cr_assert_eq(virtq_pop(&q, &e, why, sizeof(why)), 1, "%s", why);
	cr_assert_eq(e.head, 0);
	cr_assert_eq(e.out_num, 1);
	cr_assert_eq(e.in_num, 1);
	cr_assert_eq(e.iov[0].iov_base, hva(DATA_GPA + 0x10));
	cr_assert_eq(e.iov[0].iov_len, 16);
	cr_assert_eq(e.iov[1].iov_base, hva(DATA_GPA + 0x100));
	cr_assert_eq(e.iov[1].iov_len, 1);
	cr_assert_eq(e.out_len, 16);
	cr_assert_eq(e.in_len, 1);
	cr_assert_eq(q.last_avail, 1);
}
