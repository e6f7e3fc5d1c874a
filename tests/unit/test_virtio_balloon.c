/* virtio-balloon: option parsing, PFN validation and the MADV_DONTNEED release on real
 * guest memory (checked with mincore), statistics parsing of hostile buffers, and the
 * device driven through its MMIO registers and queues like a driver would, on
 * the transport's plain eventfds (no /dev/kvm). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "devices/virtio/virtio_balloon.h"
#include "util/log.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

/* --- option parsing ---------------------------------------------------------- */

Test(balloon_config, accepts_the_documented_forms)
{
	struct balloon_config c;
	char why[256] = "";

	cr_assert_eq(fields_parse_spec(&balloon_fields, "64", &c, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(c.mib, 64);
	cr_assert_not(c.deflate_on_oom);
	cr_assert_eq(c.stats_seconds, 0);
	cr_assert_eq(fields_parse_spec(&balloon_fields, "0", &c, why, sizeof(why)), 0);
	cr_assert_eq(c.mib, 0);
	cr_assert_eq(fields_parse_spec(&balloon_fields, "128,deflate-on-oom,stats=5", &c, why,
				       sizeof(why)),
		     0);
	cr_assert_eq(c.mib, 128);
	cr_assert(c.deflate_on_oom);
	cr_assert_eq(c.stats_seconds, 5);
	cr_assert_eq(fields_parse_spec(&balloon_fields, "1G,stats=0", &c, why, sizeof(why)), 0);
	cr_assert_eq(c.mib, 1024);
	cr_assert_eq(c.stats_seconds, 0);
	cr_assert_eq(fields_parse_spec(&balloon_fields, "512MiB,stats=65535", &c, why, sizeof(why)),
		     0);
	cr_assert_eq(c.mib, 512);
}

Test(balloon_config, refuses_bad_input_with_a_reason)
{
	static const struct {
		const char *spec, *why;
	} bad[] = {
		{ "", "no size" },
		{ "abc", "'abc' is not a size in MiB" },
		{ "-1", "is not a size" },
		{ "64x", "is not a size" },
		{ "1.5", "is not a size" },
		{ "64K", "not a whole number of MiB" },
		{ "16T", "is more than" },
		{ "99999999999999999999", "is not a size" },
		{ "64,foo", "unknown option 'foo'" },
		{ "64,deflate-on-oom=1", "unknown option" },
		{ "64,statsx=1", "unknown option" },
		{ "64,stats", "unknown option" },
		{ "64,stats=0x", "stats='0x' is not a number of seconds" },
		{ "64,stats=", "is not a number of seconds" },
		{ "64,stats=-1", "is not a number of seconds" },
		{ "64,stats=65536", "is not a number of seconds (0 to 65535)" },
		{ "deflate-on-oom", "is not a size" },
	};
	struct balloon_config c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char why[256] = "";

		cr_assert_eq(fields_parse_spec(&balloon_fields, bad[i].spec, &c, why, sizeof(why)),
			     -EINVAL, "'%s' was accepted", bad[i].spec);
		cr_assert(strstr(why, bad[i].why), "'%s': got '%s', want '%s'", bad[i].spec, why,
			  bad[i].why);
	}
}

/* --- PFNs and the release ------------------------------------------------------ */

static bool resident(const void *p)
{
	unsigned char v = 0;

	cr_assert_eq(mincore((void *)p, 4096, &v), 0, "mincore: %s", strerror(errno));
	return v & 1;
}

static uint8_t *page(const struct guest_mem *m, uint32_t pfn)
{
	uint8_t *p = gpa_to_hva(m, (uint64_t)pfn << 12, 4096);

	cr_assert_not_null(p, "PFN %#x is not RAM", pfn);
	return p;
}

Test(balloon_pfns, touched_pages_are_released_and_read_back_zero)
{
	/* Scattered pages and a contiguous run (released in one call). */
	uint32_t pfns[] = { 0x100, 0x102, 0x200, 0x201, 0x202, 0x203, 0x150 };
	struct iovec iov = { pfns, sizeof(pfns) };
	struct guest_mem m;
	uint64_t bad = 0;
	size_t i;

	cr_assert_eq(layout_guest_mem_init(&m, 128 * MIB), 0);
	for (i = 0; i < sizeof(pfns) / sizeof(pfns[0]); i++)
		memset(page(&m, pfns[i]), 0xa5, 4096);
	memset(page(&m, 0x101), 0x5a, 4096);
	for (i = 0; i < sizeof(pfns) / sizeof(pfns[0]); i++)
		cr_assert(resident(page(&m, pfns[i])));

	cr_assert_eq(balloon_release_pfns(&m, &iov, 1, &bad), 7);
	cr_assert_eq(bad, 0);
	for (i = 0; i < sizeof(pfns) / sizeof(pfns[0]); i++) {
		cr_assert_not(resident(page(&m, pfns[i])), "PFN %#x still resident", pfns[i]);
		cr_assert_eq(page(&m, pfns[i])[100], 0);
	}
	/* The page between two ballooned ones keeps its data. */
	cr_assert(resident(page(&m, 0x101)));
	cr_assert_eq(page(&m, 0x101)[4095], 0x5a);
	guest_mem_free(&m);
}

Test(balloon_pfns, pfns_outside_ram_are_skipped)
{
	/* 5 GiB: RAM is [0, 3 GiB) and [4 GiB, 6 GiB); the MMIO hole lies between. */
	uint32_t pfns[] = {
		0x00000,    /* first page: RAM */
		0xbffff,    /* last page below the hole */
		0xc0000,    /* first page of the hole */
		0xd0000,    /* virtio-mmio windows */
		0xfffff,    /* last page of the hole */
		0x100000,   /* first page above 4 GiB */
		0x17ffff,   /* last page of RAM */
		0x180000,   /* one past the end */
		0xffffffff, /* 16 TiB */
	};
	bool ram[] = { true, true, false, false, false, true, true, false, false };
	struct iovec iov[2] = { { pfns, 6 }, { (uint8_t *)pfns + 6, sizeof(pfns) - 6 } };
	struct guest_mem m;
	uint64_t bad = 3; /* added to, not reset */
	size_t i;

	cr_assert_eq(layout_guest_mem_init(&m, 5 * GIB), 0);
	for (i = 0; i < sizeof(pfns) / sizeof(pfns[0]); i++)
		if (ram[i])
			page(&m, pfns[i])[0] = 1;
	/* Split mid-PFN across two segments: the reader must join them. */
	cr_assert_eq(balloon_release_pfns(&m, iov, 2, &bad), 9);
	cr_assert_eq(bad, 3 + 5);
	for (i = 0; i < sizeof(pfns) / sizeof(pfns[0]); i++)
		if (ram[i])
			cr_assert_not(resident(page(&m, pfns[i])), "PFN %#x", pfns[i]);
	guest_mem_free(&m);
}

Test(balloon_pfns, trailing_bytes_and_empty_buffers)
{
	uint8_t buf[10] = { 0x10, 0, 0, 0, 0x11, 0, 0, 0, 0x12, 0 }; /* 2.5 PFNs */
	struct iovec iov = { buf, sizeof(buf) };
	struct guest_mem m;

	cr_assert_eq(layout_guest_mem_init(&m, 128 * MIB), 0);
	page(&m, 0x10)[0] = page(&m, 0x11)[0] = page(&m, 0x12)[0] = 1;
	cr_assert_eq(balloon_release_pfns(&m, &iov, 1, NULL), 2);
	cr_assert_not(resident(page(&m, 0x11)));
	cr_assert(resident(page(&m, 0x12)), "a partial PFN was used");
	cr_assert_eq(balloon_release_pfns(&m, NULL, 0, NULL), 0);
	guest_mem_free(&m);
}

Test(balloon_pfns, more_than_one_chunk)
{
	static uint32_t pfns[1000];
	struct iovec iov = { pfns, sizeof(pfns) };
	struct guest_mem m;
	uint64_t bad = 0;
	unsigned int i;

	cr_assert_eq(layout_guest_mem_init(&m, 128 * MIB), 0);
	for (i = 0; i < 1000; i++) {
		pfns[i] = 0x1000 + 2 * i;
		page(&m, pfns[i])[0] = 1;
	}
	pfns[999] = 0xc0000;
	cr_assert_eq(balloon_release_pfns(&m, &iov, 1, &bad), 1000);
	cr_assert_eq(bad, 1);
	for (i = 0; i < 999; i++)
		cr_assert_not(resident(page(&m, pfns[i])), "PFN %#x", pfns[i]);
	guest_mem_free(&m);
}

/* One chain's work is bounded: a guest's chain of descriptors as large as
 * its RAM, one repeated PFN each entry, held the device thread for days. */
Test(balloon, a_chain_gives_back_a_bounded_number_of_pfns)
{
	static uint32_t pfns[BALLOON_PFNS_PER_CHAIN_MAX + 904];
	struct iovec iov = { pfns, sizeof(pfns) };
	struct guest_mem m;
	uint64_t bad = 0;

	cr_assert_eq(layout_guest_mem_init(&m, 128 * MIB), 0);
	cr_assert_eq(balloon_release_pfns(&m, &iov, 1, &bad), BALLOON_PFNS_PER_CHAIN_MAX);
	cr_assert_eq(bad, 904);
	guest_mem_free(&m);
}

/* --- statistics ------------------------------------------------------------------ */

static size_t put_stat(uint8_t *p, uint16_t tag, uint64_t val)
{
	struct virtio_balloon_stat s = { .tag = tag, .val = val };

	memcpy(p, &s, sizeof(s));
	return sizeof(s);
}

Test(balloon_stats, known_tags_are_kept_unknown_ones_ignored)
{
	uint8_t buf[96];
	size_t n = 0;
	struct iovec iov;
	struct balloon_stats s = { 0 };

	n += put_stat(buf + n, VIRTIO_BALLOON_S_MEMFREE, 1000);
	n += put_stat(buf + n, 0x8000, 7); /* unknown */
	n += put_stat(buf + n, VIRTIO_BALLOON_S_MEMTOT, 0x123456789aULL);
	/* Linux 6.12's oom_kill and direct_reclaim (10 and 15), which
	 * Firecracker reports; 16 is one past them. */
	n += put_stat(buf + n, 10, 3);
	n += put_stat(buf + n, 15, 4);
	n += put_stat(buf + n, BALLOON_STAT_TAGS, 9);
	n += put_stat(buf + n, VIRTIO_BALLOON_S_MEMFREE, 2000); /* repeated: last wins */
	iov = (struct iovec){ buf, n };
	cr_assert_eq(balloon_stats_parse(&iov, 1, &s), 5);
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_MEMFREE], 2000);
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_MEMTOT], 0x123456789aULL);
	cr_assert_eq(s.val[10], 3);
	cr_assert_eq(s.val[15], 4);
	cr_assert_eq(s.valid, (1U << VIRTIO_BALLOON_S_MEMFREE) | (1U << VIRTIO_BALLOON_S_MEMTOT) |
				      (1U << 10) | (1U << 15));
}

Test(balloon_stats, odd_lengths_and_split_segments)
{
	uint8_t buf[64];
	size_t n = 0;
	struct balloon_stats s = { 0 };

	n += put_stat(buf + n, VIRTIO_BALLOON_S_AVAIL, 42);
	n += put_stat(buf + n, VIRTIO_BALLOON_S_CACHES, 43);
	n += put_stat(buf + n, VIRTIO_BALLOON_S_MINFLT, 44);
	{
		/* 2.7 entries, cut in three odd places. */
		struct iovec iov[3] = { { buf, 3 }, { buf + 3, 14 }, { buf + 17, 10 } };

		cr_assert_eq(balloon_stats_parse(iov, 3, &s), 2);
		cr_assert_eq(s.val[VIRTIO_BALLOON_S_AVAIL], 42);
		cr_assert_eq(s.val[VIRTIO_BALLOON_S_CACHES], 43);
		cr_assert_eq(s.valid & (1U << VIRTIO_BALLOON_S_MINFLT), 0);
	}
	{
		struct iovec iov = { buf, 9 };
		struct balloon_stats e = { 0 };

		cr_assert_eq(balloon_stats_parse(&iov, 1, &e), 0);
		cr_assert_eq(balloon_stats_parse(NULL, 0, &e), 0);
		cr_assert_eq(e.valid, 0);
	}
}

Test(balloon_stats, a_huge_buffer_is_cut)
{
	static uint8_t buf[1000 * 10];
	struct iovec iov = { buf, sizeof(buf) };
	struct balloon_stats s = { 0 };
	unsigned int i;

	for (i = 0; i < 1000; i++)
		put_stat(buf + 10 * i, VIRTIO_BALLOON_S_MAJFLT, i);
	cr_assert_eq(balloon_stats_parse(&iov, 1, &s), 256);
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_MAJFLT], 255);
}

/* --- the device, driven like a driver ---------------------------------------------- */

#define QSIZE	   8
#define QBASE(q)   (0x100000ULL + (q)*0x4000ULL)
#define DATA(q)	   (0x200000ULL + (q)*0x10000ULL)
#define BASE	   0xd0000000ULL
#define MEM_SIZE   (128 * MIB)
#define PAGES(mib) ((mib)*256U)

struct rig {
	struct guest_mem mem;
	struct event_loop loop;
	struct io_bus mmio;
	struct virtio_env env;
	struct virtio_balloon *b;
	struct virtio_dev *d;
};

static void rig_init(struct rig *r, const struct balloon_config *c)
{
	memset(r, 0, sizeof(*r));
	cr_assert_eq(layout_guest_mem_init(&r->mem, MEM_SIZE), 0);
	cr_assert_eq(event_loop_init(&r->loop), 0);
	r->mmio.kind = "mmio";
	r->env = (struct virtio_env){ .mem = &r->mem, .loop = &r->loop, .mmio = &r->mmio };
	cr_assert_eq(virtio_balloon_create(&r->b, c, &r->env, BASE, 5), 0);
	r->d = virtio_balloon_dev(r->b);
	cr_assert_eq(event_loop_start(&r->loop), 0);
}

static void rig_free(struct rig *r)
{
	event_loop_destroy(&r->loop);
	virtio_balloon_destroy(r->b);
	guest_mem_free(&r->mem);
}

static void wr(struct rig *r, uint64_t off, uint32_t v)
{
	virtio_mmio_io(r->d, off, (uint8_t *)&v, 4, true);
}

static uint32_t rd(struct rig *r, uint64_t off)
{
	uint32_t v;

	virtio_mmio_io(r->d, off, (uint8_t *)&v, 4, false);
	return v;
}

/* Feature negotiation and queue setup, stopping short of DRIVER_OK. */
static void driver_setup(struct rig *r, unsigned int nq)
{
	uint32_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	unsigned int q;

	wr(r, VIRTIO_MMIO_STATUS, s);
	wr(r, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	wr(r, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(r, VIRTIO_MMIO_DRIVER_FEATURES,
	   rd(r, VIRTIO_MMIO_DEVICE_FEATURES) &
		   ((1U << VIRTIO_BALLOON_F_STATS_VQ) | (1U << VIRTIO_BALLOON_F_DEFLATE_ON_OOM)));
	wr(r, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(r, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VIRTIO_F_VERSION_1 */
	s |= VIRTIO_CONFIG_S_FEATURES_OK;
	wr(r, VIRTIO_MMIO_STATUS, s);
	cr_assert(rd(r, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
	for (q = 0; q < nq; q++) {
		wr(r, VIRTIO_MMIO_QUEUE_SEL, q);
		cr_assert_gt(rd(r, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "queue %u", q);
		wr(r, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
		wr(r, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)QBASE(q));
		wr(r, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		wr(r, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)QBASE(q) + 0x1000);
		wr(r, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
		wr(r, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)QBASE(q) + 0x2000);
		wr(r, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
		wr(r, VIRTIO_MMIO_QUEUE_READY, 1);
		cr_assert_eq(rd(r, VIRTIO_MMIO_QUEUE_READY), 1, "queue %u", q);
	}
	wr(r, VIRTIO_MMIO_QUEUE_SEL, nq);
	cr_assert_eq(rd(r, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "queue %u should not exist", nq);
}

static void driver_ok(struct rig *r)
{
	wr(r, VIRTIO_MMIO_STATUS, rd(r, VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	cr_assert_eq(rd(r, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

/* Offers the device-readable buffer [gpa, gpa + len) on queue q. */
static void add_buf(struct rig *r, unsigned int q, uint64_t gpa, uint32_t len)
{
	struct vring_desc *desc = gpa_to_hva(&r->mem, QBASE(q), 16 * QSIZE);
	struct vring_avail *avail = gpa_to_hva(&r->mem, QBASE(q) + 0x1000, 6 + 2 * QSIZE);
	uint16_t idx = avail->idx, slot = idx % QSIZE;

	desc[slot] = (struct vring_desc){ .addr = gpa, .len = len };
	avail->ring[slot] = slot;
	__atomic_store_n(&avail->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
}

static uint16_t used_idx(struct rig *r, unsigned int q)
{
	struct vring_used *used = gpa_to_hva(&r->mem, QBASE(q) + 0x2000, 6 + 8 * QSIZE);

	return __atomic_load_n(&used->idx, __ATOMIC_ACQUIRE);
}

static uint32_t cfg32(struct rig *r, uint32_t off)
{
	return rd(r, VIRTIO_MMIO_CONFIG + off);
}

static void stats_now(struct rig *r, struct balloon_stats *s)
{
	cr_assert_eq(virtio_balloon_get_stats(r->b, s), 0);
}

Test(balloon_device, create_refuses_a_balloon_not_smaller_than_memory)
{
	struct guest_mem m;
	struct virtio_env env = { .mem = &m };
	struct balloon_config c = { .mib = 128 };
	struct virtio_balloon *b = NULL;

	log_set_level(LOG_ERROR);
	cr_assert_eq(layout_guest_mem_init(&m, MEM_SIZE), 0);
	cr_assert_eq(virtio_balloon_create(&b, &c, &env, BASE, 5), -EINVAL);
	c.mib = 4096;
	cr_assert_eq(virtio_balloon_create(&b, &c, &env, BASE, 5), -EINVAL);
	cr_assert_null(b);
	virtio_balloon_destroy(NULL);
	cr_assert_eq(virtio_balloon_set_target(NULL, 1), -ENODEV);
	guest_mem_free(&m);
}

Test(balloon_device, config_space_target_and_actual)
{
	struct balloon_config c = { .mib = 16, .deflate_on_oom = true };
	struct balloon_stats s;
	struct rig r;
	uint32_t gen, v;
	uint16_t half = 0x0001;

	rig_init(&r, &c);
	cr_assert_eq(rd(&r, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BALLOON);
	wr(&r, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	v = rd(&r, VIRTIO_MMIO_DEVICE_FEATURES);
	cr_assert(v & (1U << VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	cr_assert_not(v & (1U << VIRTIO_BALLOON_F_STATS_VQ));
	cr_assert_not(v & (1U << VIRTIO_BALLOON_F_MUST_TELL_HOST));
	cr_assert_eq(cfg32(&r, 0), PAGES(16));
	cr_assert_eq(cfg32(&r, 4), 0);

	driver_setup(&r, 2);
	driver_ok(&r);
	/* The driver owns actual only: its writes to num_pages are ignored. */
	wr(&r, VIRTIO_MMIO_CONFIG + 0, 7);
	cr_assert_eq(cfg32(&r, 0), PAGES(16));
	wr(&r, VIRTIO_MMIO_CONFIG + 4, 1000);
	cr_assert_eq(cfg32(&r, 4), 1000);
	virtio_mmio_io(r.d, VIRTIO_MMIO_CONFIG + 6, (uint8_t *)&half, 2, true);
	cr_assert_eq(cfg32(&r, 4), 1000 + 0x10000);
	stats_now(&r, &s);
	cr_assert_eq(s.actual_pages, 1000 + 0x10000);
	cr_assert_eq(s.target_pages, PAGES(16));

	gen = rd(&r, VIRTIO_MMIO_CONFIG_GENERATION);
	cr_assert_eq(virtio_balloon_set_target(r.b, 100), 0);
	cr_assert_eq(cfg32(&r, 0), PAGES(100));
	cr_assert_neq(rd(&r, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	cr_assert(rd(&r, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	cr_assert_eq(virtio_balloon_set_target(r.b, 128), -EINVAL);
	cr_assert_eq(virtio_balloon_set_target(r.b, UINT32_MAX), -EINVAL);
	cr_assert_eq(cfg32(&r, 0), PAGES(100));
	cr_assert_eq(virtio_balloon_set_target(r.b, 0), 0);
	stats_now(&r, &s);
	cr_assert_eq(s.target_pages, 0);

	/* A reset driver starts over with an empty balloon. */
	wr(&r, VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(cfg32(&r, 4), 0);
	rig_free(&r);
}

Test(balloon_device, inflate_and_deflate_queues)
{
	struct balloon_config c = { .mib = 8 };
	uint32_t pfns[] = { 0x400, 0x401, 0xc0000, 0x7000, 0xffffffff };
	struct balloon_stats s;
	struct rig r;
	size_t i;

	rig_init(&r, &c);
	driver_setup(&r, 2);
	driver_ok(&r);
	for (i = 0; i < 5; i++)
		if (pfns[i] < 0x8000)
			memset(page(&r.mem, pfns[i]), 0xee, 4096);
	cr_assert_eq(guest_write(&r.mem, DATA(0), pfns, sizeof(pfns)), 0);
	add_buf(&r, 0, DATA(0), sizeof(pfns));
	virtio_kick(r.d, 0);
	cr_assert_eq(used_idx(&r, 0), 1);
	for (i = 0; i < 5; i++)
		if (pfns[i] < 0x8000)
			cr_assert_not(resident(page(&r.mem, pfns[i])), "PFN %#x", pfns[i]);
	stats_now(&r, &s);
	cr_assert_eq(s.inflated_pages, 5);
	cr_assert_eq(s.bad_pfns, 2);

	add_buf(&r, 1, DATA(0), 8);
	virtio_kick(r.d, 1);
	cr_assert_eq(used_idx(&r, 1), 1);
	stats_now(&r, &s);
	cr_assert_eq(s.deflated_pages, 2);

	/* A buffer outside RAM breaks the queue, not volt. */
	add_buf(&r, 0, MEM_SIZE - 4, 8);
	virtio_kick(r.d, 0);
	cr_assert(rd(&r, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	rig_free(&r);
}

static bool wait_used(struct rig *r, unsigned int q, uint16_t want, int ms)
{
	struct timespec t = { 0, 10 * 1000 * 1000 };

	for (; ms > 0; ms -= 10) {
		if (used_idx(r, q) == want)
			return true;
		nanosleep(&t, NULL);
	}
	return used_idx(r, q) == want;
}

Test(balloon_device, statistics_are_kept_and_requested_again, .timeout = 20)
{
	struct balloon_config c = { .mib = 8, .stats_seconds = 1 };
	uint8_t buf[40];
	size_t n = 0;
	struct balloon_stats s;
	struct rig r;
	uint32_t v;

	rig_init(&r, &c);
	wr(&r, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	v = rd(&r, VIRTIO_MMIO_DEVICE_FEATURES);
	cr_assert(v & (1U << VIRTIO_BALLOON_F_STATS_VQ));
	cr_assert_not(v & (1U << VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	driver_setup(&r, 3);

	/* Like Linux: the buffer is primed and kicked before DRIVER_OK. */
	n += put_stat(buf + n, VIRTIO_BALLOON_S_MEMFREE, 111 * MIB);
	n += put_stat(buf + n, VIRTIO_BALLOON_S_MEMTOT, 120 * MIB);
	n += put_stat(buf + n, 77, 1); /* unknown */
	buf[n++] = 0xff;	       /* odd length */
	cr_assert_eq(guest_write(&r.mem, DATA(2), buf, n), 0);
	add_buf(&r, 2, DATA(2), (uint32_t)n);
	virtio_kick(r.d, 2);
	stats_now(&r, &s);
	cr_assert_eq(s.stats_updates, 0);
	driver_ok(&r);
	/* Taken by the device thread, which DRIVER_OK kicks (the vCPU's write
	 * does no device's work). */
	for (int ms = 0; ms < 3000; ms += 5) {
		stats_now(&r, &s);
		if (s.stats_updates)
			break;
		usleep(5000);
	}
	cr_assert_eq(s.stats_updates, 1);
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_MEMFREE], 111 * MIB);
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_MEMTOT], 120 * MIB);
	cr_assert_eq(s.valid, (1U << VIRTIO_BALLOON_S_MEMFREE) | (1U << VIRTIO_BALLOON_S_MEMTOT));
	/* The device keeps the buffer until the timer asks for new values. */
	cr_assert_eq(used_idx(&r, 2), 0);
	cr_assert(wait_used(&r, 2, 1, 3000), "the buffer never came back");

	put_stat(buf, VIRTIO_BALLOON_S_MEMFREE, 99 * MIB);
	cr_assert_eq(guest_write(&r.mem, DATA(2), buf, 10), 0);
	add_buf(&r, 2, DATA(2), 10);
	virtio_kick(r.d, 2);
	stats_now(&r, &s);
	cr_assert_eq(s.stats_updates, 2);
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_MEMFREE], 99 * MIB);
	cr_assert_eq(s.val[VIRTIO_BALLOON_S_MEMTOT], 120 * MIB);
	cr_assert(wait_used(&r, 2, 2, 3000));

	/* Two buffers at once: the older one goes straight back. */
	add_buf(&r, 2, DATA(2), 10);
	add_buf(&r, 2, DATA(2), 10);
	virtio_kick(r.d, 2);
	cr_assert_geq(used_idx(&r, 2), 3);
	cr_assert(wait_used(&r, 2, 4, 3000));

	/* After a reset nothing held is handed back into a dead queue. */
	add_buf(&r, 2, DATA(2), 10);
	virtio_kick(r.d, 2);
	wr(&r, VIRTIO_MMIO_STATUS, 0);
	sleep(2);
	cr_assert_eq(used_idx(&r, 2), 4);
	rig_free(&r);
}

/* The one statistics interval rule of --balloon stats=, the API and the file. */
Test(balloon_config, stats_check_is_the_rule_everywhere)
{
	struct balloon_config c;
	char why[160];

	cr_assert_eq(balloon_stats_check(0, why, sizeof(why)), 0);
	cr_assert_eq(balloon_stats_check(3601, why, sizeof(why)), 0);
	cr_assert_eq(balloon_stats_check(65535, why, sizeof(why)), 0);
	cr_assert_eq(balloon_stats_check(65536, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "65536 is more than 65535 seconds");
	cr_assert_eq(fields_parse_spec(&balloon_fields, "64,stats=70000", &c, why, sizeof(why)),
		     -EINVAL, "the CLI took up to 86400");
}

/* --- free page hinting and reporting ------------------------------------------------ */

#define HINT_FEATURES                                                                  \
	((1U << VIRTIO_BALLOON_F_STATS_VQ) | (1U << VIRTIO_BALLOON_F_FREE_PAGE_HINT) | \
	 (1U << VIRTIO_BALLOON_F_REPORTING))

static void touch(struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	memset(gpa_to_hva(m, gpa, len), 0xaa, len);
}

static bool range_resident(struct guest_mem *m, uint64_t gpa, uint64_t len, bool want)
{
	for (uint64_t o = 0; o < len; o += 4096)
		if (resident(gpa_to_hva(m, gpa + o, 4096)) != want)
			return false;
	return true;
}

Test(balloon_discard, whole_pages_inside_one_ram_region_only)
{
	struct guest_mem m;
	uint64_t freed = 7;
	uint8_t host[64];
	struct iovec seg;

	cr_assert_eq(layout_guest_mem_init(&m, 5 * GIB), 0);
	touch(&m, 0x100000, 0x10000);
	/* Aligned: every page goes. */
	seg = (struct iovec){ gpa_to_hva(&m, 0x100000, 0x4000), 0x4000 };
	cr_assert_eq(balloon_discard(&m, &seg, &freed), 0);
	cr_assert_eq(freed, 0x4000);
	cr_assert(range_resident(&m, 0x100000, 0x4000, false));
	/* Misaligned at both ends: the partly covered pages stay. */
	seg = (struct iovec){ gpa_to_hva(&m, 0x104800, 0x3000), 0x3000 };
	cr_assert_eq(balloon_discard(&m, &seg, &freed), 0);
	cr_assert_eq(freed, 0x2000);
	cr_assert(range_resident(&m, 0x104000, 0x1000, true));
	cr_assert(range_resident(&m, 0x105000, 0x2000, false));
	cr_assert(range_resident(&m, 0x107000, 0x1000, true));
	/* No whole page, or nothing: nothing freed, no error. */
	seg = (struct iovec){ gpa_to_hva(&m, 0x108010, 0xff0), 0xff0 };
	cr_assert_eq(balloon_discard(&m, &seg, &freed), 0);
	cr_assert_eq(freed, 0);
	seg.iov_len = 0;
	cr_assert_eq(balloon_discard(&m, &seg, &freed), 0);
	cr_assert(range_resident(&m, 0x108000, 0x1000, true));
	/* Not guest memory, or over the end of a region (the mapping goes on
	 * into the next region in the host, not in the guest). */
	seg = (struct iovec){ host, sizeof(host) };
	cr_assert_eq(balloon_discard(&m, &seg, &freed), -EFAULT);
	seg = (struct iovec){ gpa_to_hva(&m, 3 * GIB - 4096, 4096), 8192 };
	cr_assert_eq(balloon_discard(&m, &seg, &freed), -EFAULT);
	seg = (struct iovec){ gpa_to_hva(&m, 6 * GIB - 4096, 4096), 8192 };
	cr_assert_eq(balloon_discard(&m, &seg, &freed), -EFAULT);
	seg = (struct iovec){ gpa_to_hva(&m, 6 * GIB - 4096, 4096), 4096 };
	cr_assert_eq(balloon_discard(&m, &seg, &freed), 0);
	cr_assert_eq(freed, 4096);
	guest_mem_free(&m);
}

/* Feature negotiation of want among what is offered, then nq queues. */
static void driver_setup_want(struct rig *r, unsigned int nq, uint32_t want)
{
	uint32_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	unsigned int q;

	wr(r, VIRTIO_MMIO_STATUS, s);
	wr(r, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	wr(r, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(r, VIRTIO_MMIO_DRIVER_FEATURES, rd(r, VIRTIO_MMIO_DEVICE_FEATURES) & want);
	wr(r, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(r, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VIRTIO_F_VERSION_1 */
	s |= VIRTIO_CONFIG_S_FEATURES_OK;
	wr(r, VIRTIO_MMIO_STATUS, s);
	cr_assert(rd(r, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
	for (q = 0; q < nq; q++) {
		wr(r, VIRTIO_MMIO_QUEUE_SEL, q);
		wr(r, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
		wr(r, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)QBASE(q));
		wr(r, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		wr(r, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)QBASE(q) + 0x1000);
		wr(r, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
		wr(r, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)QBASE(q) + 0x2000);
		wr(r, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
		wr(r, VIRTIO_MMIO_QUEUE_READY, 1);
		cr_assert_eq(rd(r, VIRTIO_MMIO_QUEUE_READY), 1, "queue %u", q);
	}
}

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

/* Offers a chain of n segments on queue q; descriptors from slot 0 each time
 * (the caller waits for the chain to be used first). */
static void add_chain(struct rig *r, unsigned int q, const struct seg *s, unsigned int n)
{
	struct vring_desc *desc = gpa_to_hva(&r->mem, QBASE(q), 16 * QSIZE);
	struct vring_avail *avail = gpa_to_hva(&r->mem, QBASE(q) + 0x1000, 6 + 2 * QSIZE);
	uint16_t idx = avail->idx;

	for (unsigned int i = 0; i < n; i++)
		desc[i] = (struct vring_desc){
			.addr = s[i].gpa,
			.len = s[i].len,
			.flags = (uint16_t)((s[i].writable ? VRING_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			.next = (uint16_t)(i + 1),
		};
	avail->ring[idx % QSIZE] = 0;
	__atomic_store_n(&avail->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
}

/* A command id as the driver sends it: a 4-byte readable buffer. */
static struct seg cmd_seg(struct rig *r, uint64_t gpa, uint32_t id)
{
	cr_assert_eq(guest_write(&r->mem, gpa, &id, 4), 0);
	return (struct seg){ gpa, 4, false };
}

Test(balloon_free_pages, queues_follow_the_features_in_linux_order)
{
	static const struct {
		struct balloon_config c;
		unsigned int nq;
		uint32_t features;
	} cases[] = {
		{ { .mib = 1 }, 2, 0 },
		{ { .mib = 1, .free_page_reporting = true }, 3, 1U << VIRTIO_BALLOON_F_REPORTING },
		{ { .mib = 1, .free_page_hinting = true },
		  3,
		  1U << VIRTIO_BALLOON_F_FREE_PAGE_HINT },
		{ { .mib = 1,
		    .stats_seconds = 9,
		    .free_page_hinting = true,
		    .free_page_reporting = true },
		  5,
		  HINT_FEATURES },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rig r;
		uint32_t f;

		rig_init(&r, &cases[i].c);
		wr(&r, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
		f = rd(&r, VIRTIO_MMIO_DEVICE_FEATURES);
		cr_assert_eq(f & HINT_FEATURES, cases[i].features, "case %zu: %#x", i, f);
		for (unsigned int q = 0; q < 8; q++) {
			wr(&r, VIRTIO_MMIO_QUEUE_SEL, q);
			cr_assert_eq(rd(&r, VIRTIO_MMIO_QUEUE_NUM_MAX) != 0, q < cases[i].nq,
				     "case %zu queue %u", i, q);
		}
		/* The command id starts at STOP. */
		cr_assert_eq(cfg32(&r, 8), VIRTIO_BALLOON_CMD_ID_STOP);
		rig_free(&r);
	}
}

Test(balloon_free_pages, reported_ranges_go_back_to_the_host)
{
	struct balloon_config c = { .mib = 1, .free_page_reporting = true };
	struct seg chain[3] = {
		{ 0x400000, 0x200000, true },
		{ 0x800000, 0x200000, true },
		{ 0xc00800, 0x2000, true }, /* misaligned: one whole page inside */
	};
	struct balloon_stats s;
	struct rig r;

	rig_init(&r, &c);
	driver_setup_want(&r, 3, HINT_FEATURES);
	driver_ok(&r);
	touch(&r.mem, 0x400000, 0x200000);
	touch(&r.mem, 0x800000, 0x200000);
	touch(&r.mem, 0xc00000, 0x3000);
	add_chain(&r, 2, chain, 3);
	virtio_kick(r.d, 2);
	cr_assert_eq(used_idx(&r, 2), 1);
	cr_assert(range_resident(&r.mem, 0x400000, 0x200000, false));
	cr_assert(range_resident(&r.mem, 0x800000, 0x200000, false));
	cr_assert(range_resident(&r.mem, 0xc00000, 0x1000, true));
	cr_assert(range_resident(&r.mem, 0xc01000, 0x1000, false));
	cr_assert(range_resident(&r.mem, 0xc02000, 0x1000, true));
	stats_now(&r, &s);
	cr_assert_eq(s.report_ranges, 3);
	cr_assert_eq(s.report_freed, 0x401000);
	cr_assert_eq(s.report_fails, 0);
	cr_assert_eq(s.inflated_pages, 0, "reports are not inflations");

	/* A range reaching past RAM breaks the queue, not volt (virtq checks). */
	chain[0] = (struct seg){ MEM_SIZE - 0x1000, 0x2000, true };
	add_chain(&r, 2, chain, 1);
	virtio_kick(r.d, 2);
	cr_assert(rd(&r, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert_eq(used_idx(&r, 2), 1);
	rig_free(&r);
}

Test(balloon_free_pages, hostile_report_chains)
{
	struct balloon_config c = { .mib = 1, .free_page_reporting = true };
	static const struct seg bad[] = {
		{ 0xc0000000ULL, 0x1000, true },	  /* the MMIO hole, not RAM */
		{ 0xffffffffffff0000ULL, 0x20000, true }, /* wraps around */
		{ 0, 0, true },				  /* empty */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct balloon_stats s;
		struct rig r;

		rig_init(&r, &c);
		driver_setup_want(&r, 3, HINT_FEATURES);
		driver_ok(&r);
		add_chain(&r, 2, &bad[i], 1);
		virtio_kick(r.d, 2);
		stats_now(&r, &s);
		cr_assert_eq(s.report_freed, 0, "case %zu", i);
		rig_free(&r);
	}
}

Test(balloon_free_pages, hinting_runs_by_command_id)
{
	struct balloon_config c = { .mib = 1, .free_page_hinting = true };
	struct balloon_hint_status hs;
	struct balloon_stats s;
	struct seg chain[3];
	struct rig r;
	uint16_t used = 0;

	log_set_level(LOG_ERROR);
	rig_init(&r, &c);
	cr_assert_eq(virtio_balloon_hint_status(r.b, &hs), 0);
	cr_assert_eq(hs.host_cmd, VIRTIO_BALLOON_CMD_ID_STOP);
	cr_assert_not(hs.guest_cmd_valid);
	/* Before the driver runs there is no one to read a command id. */
	cr_assert_eq(virtio_balloon_hint_start(r.b, true), -EAGAIN);
	cr_assert_eq(virtio_balloon_hint_stop(r.b), -EAGAIN);
	driver_setup_want(&r, 3, HINT_FEATURES);
	driver_ok(&r);

	/* A range before any run: ignored. */
	touch(&r.mem, 0x400000, 0x400000);
	chain[0] = (struct seg){ 0x400000, 0x400000, true };
	add_chain(&r, 2, chain, 1);
	virtio_kick(r.d, 2);
	cr_assert_eq(used_idx(&r, 2), ++used);
	cr_assert(range_resident(&r.mem, 0x400000, 0x400000, true));

	/* Run 2, acknowledged on the driver's STOP. */
	(void)rd(&r, VIRTIO_MMIO_INTERRUPT_STATUS);
	wr(&r, VIRTIO_MMIO_INTERRUPT_ACK, 3);
	cr_assert_eq(virtio_balloon_hint_start(r.b, true), 0);
	cr_assert_eq(cfg32(&r, 8), 2);
	cr_assert(rd(&r, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	chain[0] = cmd_seg(&r, DATA(2), 2);
	chain[1] = (struct seg){ 0x400000, 0x400000, true };
	add_chain(&r, 2, chain, 2);
	virtio_kick(r.d, 2);
	cr_assert_eq(used_idx(&r, 2), ++used);
	cr_assert(range_resident(&r.mem, 0x400000, 0x400000, false));
	cr_assert_eq(virtio_balloon_hint_status(r.b, &hs), 0);
	cr_assert_eq(hs.host_cmd, 2);
	cr_assert(hs.guest_cmd_valid);
	cr_assert_eq(hs.guest_cmd, 2);
	chain[0] = cmd_seg(&r, DATA(2), VIRTIO_BALLOON_CMD_ID_STOP);
	add_chain(&r, 2, chain, 1);
	virtio_kick(r.d, 2);
	cr_assert_eq(used_idx(&r, 2), ++used);
	cr_assert_eq(cfg32(&r, 8), VIRTIO_BALLOON_CMD_ID_DONE, "acknowledged");
	cr_assert_eq(virtio_balloon_hint_status(r.b, &hs), 0);
	cr_assert_eq(hs.host_cmd, VIRTIO_BALLOON_CMD_ID_DONE);
	cr_assert_eq(hs.guest_cmd, VIRTIO_BALLOON_CMD_ID_STOP);

	/* Run 3 without acknowledgement: a stale id's ranges are ignored, the
	 * driver's STOP leaves the run's id, the API's stop sets DONE, and
	 * ranges in flight after it are ignored. */
	cr_assert_eq(virtio_balloon_hint_start(r.b, false), 0);
	cr_assert_eq(cfg32(&r, 8), 3);
	touch(&r.mem, 0x800000, 0x400000);
	chain[0] = cmd_seg(&r, DATA(2), 2);
	chain[1] = (struct seg){ 0x800000, 0x400000, true };
	add_chain(&r, 2, chain, 2);
	virtio_kick(r.d, 2);
	cr_assert_eq(used_idx(&r, 2), ++used);
	cr_assert(range_resident(&r.mem, 0x800000, 0x400000, true));
	chain[0] = cmd_seg(&r, DATA(2), 3);
	chain[1] = (struct seg){ 0x800000, 0x200000, true };
	add_chain(&r, 2, chain, 2);
	virtio_kick(r.d, 2);
	cr_assert_eq(used_idx(&r, 2), ++used);
	chain[0] = cmd_seg(&r, DATA(2), VIRTIO_BALLOON_CMD_ID_STOP);
	add_chain(&r, 2, chain, 1);
	virtio_kick(r.d, 2);
	cr_assert_eq(used_idx(&r, 2), ++used);
	cr_assert(range_resident(&r.mem, 0x800000, 0x200000, false));
	cr_assert(range_resident(&r.mem, 0xa00000, 0x200000, true));
	cr_assert_eq(cfg32(&r, 8), 3, "no acknowledgement asked for");
	cr_assert_eq(virtio_balloon_hint_stop(r.b), 0);
	cr_assert_eq(cfg32(&r, 8), VIRTIO_BALLOON_CMD_ID_DONE);
	chain[0] = cmd_seg(&r, DATA(2), 3);
	chain[1] = (struct seg){ 0xa00000, 0x200000, true };
	add_chain(&r, 2, chain, 2);
	virtio_kick(r.d, 2);
	cr_assert_eq(used_idx(&r, 2), ++used);
	cr_assert(range_resident(&r.mem, 0xa00000, 0x200000, true));
	stats_now(&r, &s);
	cr_assert_eq(s.hint_ranges, 2);
	cr_assert_eq(s.hint_freed, 0x600000);
	cr_assert_eq(s.hint_ignored, 3);
	cr_assert_eq(s.hint_fails, 0);

	/* The driver's own DONE ends the run like STOP; ids keep counting up. */
	cr_assert_eq(virtio_balloon_hint_start(r.b, true), 0);
	cr_assert_eq(cfg32(&r, 8), 4);
	chain[0] = cmd_seg(&r, DATA(2), VIRTIO_BALLOON_CMD_ID_DONE);
	add_chain(&r, 2, chain, 1);
	virtio_kick(r.d, 2);
	cr_assert_eq(cfg32(&r, 8), VIRTIO_BALLOON_CMD_ID_DONE);

	/* A chain with a hostile range fails the device, nothing else. */
	chain[0] = (struct seg){ 0xfffffffffffff000ULL, 0x2000, true };
	add_chain(&r, 2, chain, 1);
	virtio_kick(r.d, 2);
	cr_assert(rd(&r, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	rig_free(&r);
}

Test(balloon_free_pages, hinting_off_is_refused)
{
	struct balloon_config c = { .mib = 1, .free_page_reporting = true };
	struct balloon_hint_status hs;
	struct rig r;

	rig_init(&r, &c);
	driver_setup_want(&r, 3, HINT_FEATURES);
	driver_ok(&r);
	cr_assert_eq(virtio_balloon_hint_start(r.b, true), -EOPNOTSUPP);
	cr_assert_eq(virtio_balloon_hint_stop(r.b), -EOPNOTSUPP);
	cr_assert_eq(virtio_balloon_hint_status(r.b, &hs), -EOPNOTSUPP);
	cr_assert_eq(virtio_balloon_hint_start(NULL, true), -ENODEV);
	cr_assert_eq(cfg32(&r, 8), VIRTIO_BALLOON_CMD_ID_STOP);
	rig_free(&r);
}

Test(balloon_config, free_page_options)
{
	struct balloon_config c;
	char why[256] = "";

	cr_assert_eq(fields_parse_spec(&balloon_fields, "64,free-page-hinting,free-page-reporting",
				       &c, why, sizeof(why)),
		     0, "%s", why);
	cr_assert(c.free_page_hinting);
	cr_assert(c.free_page_reporting);
	cr_assert_eq(fields_parse_spec(&balloon_fields, "64", &c, why, sizeof(why)), 0);
	cr_assert_not(c.free_page_hinting);
	cr_assert_not(c.free_page_reporting);
	cr_assert_eq(fields_parse_spec(&balloon_fields, "64,free-page-hint", &c, why, sizeof(why)),
		     -EINVAL);
	cr_assert(strstr(why, "free-page-hinting"), "%s", why);
}
