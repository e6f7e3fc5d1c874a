/* virtio-blk's request parser on its own: hand-built chains (iovecs into test
 * buffers, readable segments first) against a temporary disk file, and the
 * --drive option parser. Every malformed request must end in a status byte
 * (IOERR or UNSUPP), never a crash or a write outside the chain. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/virtio_blk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtq.h"
#include "util/log.h"

#define CAP	 2048ULL /* sectors: a 1 MiB disk */
#define DISK_LEN (CAP * 512)
#define UNSET	 0xee /* a status byte the device has not written */

static struct virtq_elem e;
static struct blk_config cfg;
static int fd = -1;
static uint8_t status;

/* A fresh sparse disk file (unlinked at once) on a filesystem with holes. */
static void disk(void)
{
	char path[] = "/var/tmp/volt-blk-XXXXXX";

	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	unlink(path);
	cr_assert_eq(ftruncate(fd, DISK_LEN), 0);
	memset(&cfg, 0, sizeof(cfg));
}

static void fill_disk(uint8_t byte)
{
	static uint8_t buf[DISK_LEN];

	memset(buf, byte, sizeof(buf));
	cr_assert_eq(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	cr_assert_eq(fsync(fd), 0);
}

static void chain(void)
{
	e.head = 0;
	e.out_num = e.in_num = 0;
	e.out_len = e.in_len = 0;
	status = UNSET;
}

/* Appends a segment; readable ones must all come before writable ones. */
static void seg(void *p, size_t len, bool writable)
{
	unsigned int i = e.out_num + e.in_num;

	cr_assert_lt(i, VIRTQ_MAX_SEGS);
	cr_assert(writable || !e.in_num, "test bug: readable after writable");
	e.iov[i].iov_base = p;
	e.iov[i].iov_len = len;
	if (writable) {
		e.in_num++;
		e.in_len += len;
	} else {
		e.out_num++;
		e.out_len += len;
	}
}

static struct virtio_blk_outhdr *hdr(uint32_t type, uint64_t sector)
{
	static struct virtio_blk_outhdr h[4];
	static int n;
	struct virtio_blk_outhdr *p = &h[n++ % 4];

	p->type = type;
	p->ioprio = 0;
	p->sector = sector;
	return p;
}

/* hdr, then the data (readable or writable as type wants), then the status byte. */
static uint32_t simple(uint32_t type, uint64_t sector, void *data, size_t len)
{
	chain();
	seg(hdr(type, sector), 16, false);
	if (len)
		seg(data, len,
		    type != VIRTIO_BLK_T_OUT && type != VIRTIO_BLK_T_DISCARD &&
			    type != VIRTIO_BLK_T_WRITE_ZEROES);
	seg(&status, 1, true);
	return virtio_blk_handle(fd, CAP, &cfg, &e);
}

static void pattern(uint8_t *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed + (i >> 9));
}

static void expect_disk(uint64_t off, const void *want, size_t len)
{
	uint8_t *got = malloc(len);

	cr_assert_eq(pread(fd, got, len, (off_t)off), (ssize_t)len);
	cr_assert_eq(memcmp(got, want, len), 0, "disk contents at %llu", (unsigned long long)off);
	free(got);
}

static void expect_disk_byte(uint64_t off, size_t len, uint8_t byte)
{
	uint8_t *want = malloc(len);

	memset(want, byte, len);
	expect_disk(off, want, len);
	free(want);
}

/* Splits buf into segments of the sizes in sizes[] (cycled) until len is used up. */
static void split(uint8_t *buf, size_t len, const size_t *sizes, size_t nsizes, bool writable)
{
	size_t off = 0, k = 0;

	while (off < len) {
		size_t l = sizes[k++ % nsizes];

		if (l > len - off)
			l = len - off;
		seg(buf + off, l, writable);
		off += l;
	}
}

Test(virtio_blk, out_and_in_over_many_segments)
{
	static uint8_t data[8192], back[8192];
	static const size_t wsizes[] = { 1, 511, 7, 1000, 3, 0, 64 };
	static const size_t rsizes[] = { 13, 2000, 1, 1, 512 };

	disk();
	pattern(data, sizeof(data), 1);
	chain();
	seg(hdr(VIRTIO_BLK_T_OUT, 100), 16, false);
	split(data, sizeof(data), wsizes, 7, false);
	seg(&status, 1, true);
	cr_assert_gt(e.out_num, 20);
	cr_assert_eq(virtio_blk_handle(fd, CAP, &cfg, &e), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	expect_disk(100 * 512, data, sizeof(data));
	expect_disk_byte(99 * 512, 512, 0);
	expect_disk_byte(116 * 512, 512, 0);

	chain();
	seg(hdr(VIRTIO_BLK_T_IN, 100), 16, false);
	split(back, sizeof(back), rsizes, 5, true);
	seg(&status, 1, true);
	cr_assert_eq(virtio_blk_handle(fd, CAP, &cfg, &e), sizeof(back) + 1, "data + status");
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	cr_assert_eq(memcmp(data, back, sizeof(data)), 0);
}

Test(virtio_blk, header_data_and_status_sharing_segments)
{
	static uint8_t out[16 + 1024], in[1024 + 1];
	struct virtio_blk_outhdr *h = (struct virtio_blk_outhdr *)out;

	disk();
	/* OUT: header and data in one readable segment. */
	h->type = VIRTIO_BLK_T_OUT;
	h->ioprio = 0;
	h->sector = 7;
	pattern(out + 16, 1024, 2);
	chain();
	seg(out, sizeof(out), false);
	seg(&status, 1, true);
	cr_assert_eq(virtio_blk_handle(fd, CAP, &cfg, &e), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	expect_disk(7 * 512, out + 16, 1024);

	/* IN: the header split in two, data and status in one writable segment. */
	memset(in, UNSET, sizeof(in));
	chain();
	seg(hdr(VIRTIO_BLK_T_IN, 7), 5, false);
	seg((uint8_t *)hdr(VIRTIO_BLK_T_IN, 7) + 5, 11, false);
	seg(in, sizeof(in), true);
	cr_assert_eq(virtio_blk_handle(fd, CAP, &cfg, &e), sizeof(in));
	cr_assert_eq(in[1024], VIRTIO_BLK_S_OK, "the status is the last writable byte");
	cr_assert_eq(memcmp(in, out + 16, 1024), 0);
}

Test(virtio_blk, the_most_segments_a_chain_has)
{
	static uint8_t data[(VIRTQ_MAX_SEGS - 2) * 512], back[sizeof(data)];
	static const size_t sizes[] = { 512 };

	disk();
	pattern(data, sizeof(data), 3);
	chain();
	seg(hdr(VIRTIO_BLK_T_OUT, 3), 16, false);
	split(data, sizeof(data), sizes, 1, false);
	seg(&status, 1, true);
	cr_assert_eq(e.out_num + e.in_num, VIRTQ_MAX_SEGS);
	cr_assert_eq(virtio_blk_handle(fd, CAP, &cfg, &e), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	expect_disk(3 * 512, data, sizeof(data));

	chain();
	seg(hdr(VIRTIO_BLK_T_IN, 3), 16, false);
	split(back, sizeof(back), sizes, 1, true);
	seg(&status, 1, true);
	cr_assert_eq(virtio_blk_handle(fd, CAP, &cfg, &e), sizeof(back) + 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	cr_assert_eq(memcmp(data, back, sizeof(data)), 0);
}

Test(virtio_blk, last_sector_and_beyond)
{
	static uint8_t buf[1024];

	disk();
	memset(buf, 0x77, sizeof(buf));
	cr_assert_eq(simple(VIRTIO_BLK_T_OUT, CAP - 1, buf, 512), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK, "the last sector");
	expect_disk_byte((CAP - 1) * 512, 512, 0x77);
	cr_assert_eq(simple(VIRTIO_BLK_T_IN, CAP - 1, buf, 512), 513);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);

	cr_assert_eq(simple(VIRTIO_BLK_T_IN, CAP - 1, buf, 1024), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple(VIRTIO_BLK_T_OUT, CAP - 1, buf, 1024), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple(VIRTIO_BLK_T_OUT, CAP, buf, 512), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple(VIRTIO_BLK_T_IN, CAP + 1, buf, 512), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	/* Sectors whose byte offset overflows 64 bits. */
	cr_assert_eq(simple(VIRTIO_BLK_T_OUT, UINT64_MAX, buf, 512), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple(VIRTIO_BLK_T_IN, (UINT64_MAX / 512) + 1, buf, 512), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple(VIRTIO_BLK_T_OUT, UINT64_MAX - 1, buf, 1024), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	/* The file did not grow. */
	cr_assert_eq(lseek(fd, 0, SEEK_END), (off_t)DISK_LEN);
}

Test(virtio_blk, partial_sectors)
{
	static uint8_t buf[1024];

	disk();
	memset(buf, 0x55, sizeof(buf));
	cr_assert_eq(simple(VIRTIO_BLK_T_OUT, 0, buf, 513), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple(VIRTIO_BLK_T_OUT, 0, buf, 100), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	expect_disk_byte(0, 1024, 0);
	cr_assert_eq(simple(VIRTIO_BLK_T_IN, 0, buf, 511), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(buf[0], 0x55, "nothing read");
}

Test(virtio_blk, read_only_drive)
{
	static uint8_t buf[512];
	struct virtio_blk_discard_write_zeroes dz = { .sector = 0, .num_sectors = 8 };

	disk();
	fill_disk(0x33);
	cfg.read_only = true;
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(simple(VIRTIO_BLK_T_OUT, 0, buf, 512), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple(VIRTIO_BLK_T_DISCARD, 0, &dz, sizeof(dz)), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple(VIRTIO_BLK_T_WRITE_ZEROES, 0, &dz, sizeof(dz)), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	dz.flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	cr_assert_eq(simple(VIRTIO_BLK_T_WRITE_ZEROES, 0, &dz, sizeof(dz)), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	expect_disk_byte(0, 8 * 512, 0x33);

	/* Reads, flushes and GET_ID still work. */
	cr_assert_eq(simple(VIRTIO_BLK_T_IN, 0, buf, 512), 513);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	cr_assert_eq(buf[511], 0x33);
	cr_assert_eq(simple(VIRTIO_BLK_T_FLUSH, 0, NULL, 0), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	cr_assert_eq(simple(VIRTIO_BLK_T_GET_ID, 0, buf, 20), 21);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
}

Test(virtio_blk, flush)
{
	disk();
	cr_assert_eq(simple(VIRTIO_BLK_T_FLUSH, 0, NULL, 0), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	/* The sector field means nothing to FLUSH. */
	cr_assert_eq(simple(VIRTIO_BLK_T_FLUSH, UINT64_MAX, NULL, 0), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	/* A failing fdatasync is an I/O error; cache=unsafe does not sync at all. */
	close(fd);
	fd = -1;
	cr_assert_eq(simple(VIRTIO_BLK_T_FLUSH, 0, NULL, 0), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	cfg.cache = BLK_CACHE_UNSAFE;
	cr_assert_eq(simple(VIRTIO_BLK_T_FLUSH, 0, NULL, 0), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
}

Test(virtio_blk, get_id)
{
	uint8_t buf[64], want[64];

	disk();
	cfg.id = "volt0";
	memset(buf, UNSET, sizeof(buf));
	cr_assert_eq(simple(VIRTIO_BLK_T_GET_ID, 0, buf, 20), 21);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	memset(want, 0, sizeof(want));
	memcpy(want, "volt0", 5);
	cr_assert_eq(memcmp(buf, want, 20), 0, "NUL padded to 20 bytes");

	/* A larger buffer: still 20 bytes, the rest untouched. */
	memset(buf, UNSET, sizeof(buf));
	cr_assert_eq(simple(VIRTIO_BLK_T_GET_ID, 0, buf, 64), 21);
	cr_assert_eq(memcmp(buf, want, 20), 0);
	cr_assert_eq(buf[20], UNSET);
	cr_assert_eq(buf[63], UNSET);

	/* A smaller one: truncated. */
	memset(buf, UNSET, sizeof(buf));
	cr_assert_eq(simple(VIRTIO_BLK_T_GET_ID, 0, buf, 3), 4);
	cr_assert_eq(memcmp(buf, "vol", 3), 0);
	cr_assert_eq(buf[3], UNSET);
	cr_assert_eq(simple(VIRTIO_BLK_T_GET_ID, 0, NULL, 0), 1, "only a status byte");
	cr_assert_eq(status, VIRTIO_BLK_S_OK);

	/* Exactly 20 characters: no NUL; id and status sharing a segment. */
	cfg.id = "ABCDEFGHIJKLMNOPQRST";
	memset(buf, UNSET, sizeof(buf));
	chain();
	seg(hdr(VIRTIO_BLK_T_GET_ID, 0), 16, false);
	seg(buf, 21, true);
	cr_assert_eq(virtio_blk_handle(fd, CAP, &cfg, &e), 21);
	cr_assert_eq(memcmp(buf, "ABCDEFGHIJKLMNOPQRST", 20), 0);
	cr_assert_eq(buf[20], VIRTIO_BLK_S_OK);

	/* Longer than 20: its first 20 bytes. */
	cfg.id = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	memset(buf, UNSET, sizeof(buf));
	cr_assert_eq(simple(VIRTIO_BLK_T_GET_ID, 0, buf, 64), 21);
	cr_assert_eq(memcmp(buf, "ABCDEFGHIJKLMNOPQRST", 20), 0);
	cr_assert_eq(buf[20], UNSET);

	/* No id configured: 20 NULs. */
	cfg.id = NULL;
	memset(buf, UNSET, sizeof(buf));
	cr_assert_eq(simple(VIRTIO_BLK_T_GET_ID, 0, buf, 20), 21);
	memset(want, 0, sizeof(want));
	cr_assert_eq(memcmp(buf, want, 20), 0);
}

static blkcnt_t blocks(void)
{
	struct stat st;

	cr_assert_eq(fstat(fd, &st), 0);
	return st.st_blocks;
}

/* Hole and zero-range tests need a filesystem that has them (ext4, xfs,
 * btrfs; tmpfs lacks FALLOC_FL_ZERO_RANGE): probed on a file of its own. */
static void need_fallocate(int mode)
{
	char path[] = "/var/tmp/volt-blk-probe-XXXXXX";
	int p = mkstemp(path), err = 0;

	cr_assert_geq(p, 0);
	unlink(path);
	if (ftruncate(p, 8192) || fallocate(p, mode | FALLOC_FL_KEEP_SIZE, 0, 4096))
		err = errno;
	close(p);
	if (err)
		cr_skip_test("the filesystem of /var/tmp lacks fallocate mode %#x: %s", mode,
			     strerror(err));
}

Test(virtio_blk, discard_punches_a_hole)
{
	struct virtio_blk_discard_write_zeroes dz[2] = {
		{ .sector = 64, .num_sectors = 128 },
		{ .sector = 1024, .num_sectors = 8 },
	};
	blkcnt_t before;

	disk();
	need_fallocate(FALLOC_FL_PUNCH_HOLE);
	fill_disk(0x5a);
	before = blocks();
	cr_assert_geq(before, (blkcnt_t)CAP, "fully allocated");
	cr_assert_eq(lseek(fd, 0, SEEK_HOLE), (off_t)DISK_LEN, "no hole yet");
	cr_assert_eq(simple(VIRTIO_BLK_T_DISCARD, 0, dz, sizeof(dz)), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	cr_assert_eq(blocks(), before - 136);
	cr_assert_eq(lseek(fd, 0, SEEK_HOLE), 64 * 512);
	cr_assert_eq(lseek(fd, 64 * 512, SEEK_DATA), 192 * 512);
	cr_assert_eq(lseek(fd, 192 * 512, SEEK_HOLE), 1024 * 512);
	expect_disk_byte(63 * 512, 512, 0x5a);
	expect_disk_byte(64 * 512, 128 * 512, 0);
	expect_disk_byte(192 * 512, 512, 0x5a);
	expect_disk_byte(1024 * 512, 8 * 512, 0);
	cr_assert_eq(lseek(fd, 0, SEEK_END), (off_t)DISK_LEN, "the size is kept");

	/* Segments split across descriptors anywhere, and a zero-length one. */
	dz[0] = (struct virtio_blk_discard_write_zeroes){ .sector = 512, .num_sectors = 8 };
	dz[1] = (struct virtio_blk_discard_write_zeroes){ .sector = 0, .num_sectors = 0 };
	chain();
	seg(hdr(VIRTIO_BLK_T_DISCARD, 0), 10, false);
	seg((uint8_t *)hdr(VIRTIO_BLK_T_DISCARD, 0) + 10, 6, false);
	seg(dz, 5, false);
	seg((uint8_t *)dz + 5, sizeof(dz) - 5, false);
	seg(&status, 1, true);
	cr_assert_eq(virtio_blk_handle(fd, CAP, &cfg, &e), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	expect_disk_byte(512 * 512, 8 * 512, 0);
	expect_disk_byte(0, 512, 0x5a);
}

Test(virtio_blk, write_zeroes)
{
	struct virtio_blk_discard_write_zeroes dz = { .sector = 16, .num_sectors = 16 };
	blkcnt_t before;

	disk();
	need_fallocate(FALLOC_FL_PUNCH_HOLE);
	need_fallocate(FALLOC_FL_ZERO_RANGE);
	fill_disk(0xa5);
	before = blocks();
	cr_assert_eq(simple(VIRTIO_BLK_T_WRITE_ZEROES, 0, &dz, sizeof(dz)), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	expect_disk_byte(15 * 512, 512, 0xa5);
	expect_disk_byte(16 * 512, 16 * 512, 0);
	expect_disk_byte(32 * 512, 512, 0xa5);
	cr_assert_eq(blocks(), before, "without UNMAP the blocks stay allocated");

	/* With UNMAP the device may (and here does) deallocate. */
	dz.sector = 256;
	dz.num_sectors = 64;
	dz.flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	cr_assert_eq(simple(VIRTIO_BLK_T_WRITE_ZEROES, 0, &dz, sizeof(dz)), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	expect_disk_byte(256 * 512, 64 * 512, 0);
	expect_disk_byte(320 * 512, 512, 0xa5);
	cr_assert_eq(blocks(), before - 64);
	cr_assert_eq(lseek(fd, 0, SEEK_END), (off_t)DISK_LEN);
}

Test(virtio_blk, bad_discard_and_write_zeroes_segments)
{
	static struct virtio_blk_discard_write_zeroes dz[33];
	static const uint32_t types[] = { VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES };

	disk();
	fill_disk(0x11);
	for (int t = 0; t < 2; t++) {
		uint32_t type = types[t];

		memset(dz, 0, sizeof(dz));
		cr_assert_eq(simple(type, 0, NULL, 0), 1);
		cr_assert_eq(status, VIRTIO_BLK_S_UNSUPP, "no segment");
		cr_assert_eq(simple(type, 0, dz, 15), 1);
		cr_assert_eq(status, VIRTIO_BLK_S_UNSUPP, "not a whole segment");
		cr_assert_eq(simple(type, 0, dz, 17), 1);
		cr_assert_eq(status, VIRTIO_BLK_S_UNSUPP);
		cr_assert_eq(simple(type, 0, dz, 33 * sizeof(dz[0])), 1);
		cr_assert_eq(status, VIRTIO_BLK_S_UNSUPP, "more than max_discard_seg");
		cr_assert_eq(simple(type, 0, dz, 32 * sizeof(dz[0])), 1);
		cr_assert_eq(status, VIRTIO_BLK_S_OK, "32 empty segments");

		dz[0] = (struct virtio_blk_discard_write_zeroes){ .sector = 0,
								  .num_sectors = 1,
								  .flags = 2 };
		cr_assert_eq(simple(type, 0, dz, sizeof(dz[0])), 1);
		cr_assert_eq(status, VIRTIO_BLK_S_IOERR, "reserved flag bits");
		dz[0].flags = 0;
		dz[0].num_sectors = (1U << 22) + 1;
		cr_assert_eq(simple(type, 0, dz, sizeof(dz[0])), 1);
		cr_assert_eq(status, VIRTIO_BLK_S_IOERR, "more than max_discard_sectors");
		dz[0].sector = CAP - 1;
		dz[0].num_sectors = 2;
		cr_assert_eq(simple(type, 0, dz, sizeof(dz[0])), 1);
		cr_assert_eq(status, VIRTIO_BLK_S_IOERR, "past the end");
		dz[0].sector = UINT64_MAX;
		dz[0].num_sectors = 1;
		cr_assert_eq(simple(type, 0, dz, sizeof(dz[0])), 1);
		cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
		dz[0].sector = UINT64_MAX / 512 + 1;
		cr_assert_eq(simple(type, 0, dz, sizeof(dz[0])), 1);
		cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	}
	/* DISCARD with the unmap flag: unsupported (5.2.6.2). */
	dz[0] = (struct virtio_blk_discard_write_zeroes){
		.sector = 0, .num_sectors = 1, .flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP
	};
	cr_assert_eq(simple(VIRTIO_BLK_T_DISCARD, 0, dz, sizeof(dz[0])), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_UNSUPP);
	expect_disk_byte(0, DISK_LEN, 0x11);
}

Test(virtio_blk, unknown_requests)
{
	static uint8_t buf[512];
	static const uint32_t types[] = { VIRTIO_BLK_T_SCSI_CMD,
					  3,
					  99,
					  VIRTIO_BLK_T_SECURE_ERASE,
					  VIRTIO_BLK_T_IN | VIRTIO_BLK_T_BARRIER,
					  0xffffffff };

	disk();
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		memset(buf, UNSET, sizeof(buf));
		chain();
		seg(hdr(types[i], 0), 16, false);
		seg(buf, sizeof(buf), true);
		seg(&status, 1, true);
		cr_assert_eq(virtio_blk_handle(fd, CAP, &cfg, &e), 1, "type %#x", types[i]);
		cr_assert_eq(status, VIRTIO_BLK_S_UNSUPP, "type %#x", types[i]);
		cr_assert_eq(buf[0], UNSET);
	}
}

Test(virtio_blk, no_room_for_a_status)
{
	static uint8_t buf[512], zero;

	disk();
	memset(buf, UNSET, sizeof(buf));
	/* Nothing writable at all. */
	chain();
	seg(hdr(VIRTIO_BLK_T_IN, 0), 16, false);
	seg(buf, sizeof(buf), false);
	cr_assert_eq(virtio_blk_handle(fd, CAP, &cfg, &e), 0);
	cr_assert_eq(buf[0], UNSET);
	/* Only a zero-length writable segment at the end. */
	chain();
	seg(hdr(VIRTIO_BLK_T_IN, 0), 16, false);
	seg(buf, sizeof(buf), true);
	seg(&zero, 0, true);
	cr_assert_eq(virtio_blk_handle(fd, CAP, &cfg, &e), 0);
	cr_assert_eq(buf[0], UNSET);
	/* An empty chain. */
	chain();
	cr_assert_eq(virtio_blk_handle(fd, CAP, &cfg, &e), 0);
}

Test(virtio_blk, short_header)
{
	static uint8_t buf[512];

	disk();
	memset(buf, UNSET, sizeof(buf));
	chain();
	seg(hdr(VIRTIO_BLK_T_IN, 0), 8, false);
	seg(buf, sizeof(buf), true);
	seg(&status, 1, true);
	cr_assert_eq(virtio_blk_handle(fd, CAP, &cfg, &e), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(buf[0], UNSET);
	/* 15 bytes over two segments. */
	chain();
	seg(hdr(VIRTIO_BLK_T_OUT, 0), 8, false);
	seg((uint8_t *)hdr(VIRTIO_BLK_T_OUT, 0) + 8, 7, false);
	seg(&status, 1, true);
	cr_assert_eq(virtio_blk_handle(fd, CAP, &cfg, &e), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	/* No readable part at all: the status byte alone. */
	chain();
	seg(&status, 1, true);
	cr_assert_eq(virtio_blk_handle(fd, CAP, &cfg, &e), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
}

/* The --drive option. */

static struct blk_config pc;
static char why[256];

static int parse(const char *spec)
{
	strcpy(why, "");
	return fields_parse_spec(&blk_fields, spec, &pc, why, sizeof(why));
}

static void expect_parse_error(const char *spec, const char *reason)
{
	cr_assert_eq(parse(spec), -EINVAL, "'%s' accepted", spec);
	cr_assert_not_null(strstr(why, reason), "'%s': reason '%s', expected '%s'", spec, why,
			   reason);
}

Test(blk_config, defaults)
{
	cr_assert_eq(parse("path=/var/lib/disk.img"), 0, "%s", why);
	cr_assert_str_eq(pc.path, "/var/lib/disk.img");
	cr_assert_not(pc.read_only);
	cr_assert_null(pc.id, "no id");
	cr_assert_eq(pc.engine, BLK_ENGINE_SYNC);
	cr_assert_eq(pc.cache, BLK_CACHE_WRITEBACK);
}

Test(blk_config, every_option)
{
	cr_assert_eq(parse("path=/d/x.img,ro,id=disk_0,engine=io_uring,cache=unsafe"), 0, "%s",
		     why);
	cr_assert_str_eq(pc.path, "/d/x.img");
	cr_assert(pc.read_only);
	cr_assert_str_eq(pc.id, "disk_0");
	cr_assert_eq(pc.engine, BLK_ENGINE_IO_URING);
	cr_assert_eq(pc.cache, BLK_CACHE_UNSAFE);

	/* Any order; an option given twice is refused (which one was meant?). */
	cr_assert_eq(parse("cache=writeback,engine=sync,id=a,path=/x"), 0, "%s", why);
	cr_assert_str_eq(pc.path, "/x");
	cr_assert_str_eq(pc.id, "a");
	cr_assert_eq(pc.engine, BLK_ENGINE_SYNC);
	cr_assert_eq(pc.cache, BLK_CACHE_WRITEBACK);
	cr_assert_eq(parse("cache=unsafe,engine=io_uring,path=/x,engine=sync"), -EINVAL);
	cr_assert_str_eq(why, "engine= given twice");
	cr_assert_eq(parse("path=/x,path=/y"), -EINVAL);
	cr_assert_str_eq(why, "path= given twice");

	/* A path with '=' in it, empty tokens. */
	cr_assert_eq(parse("path=/a=b,,ro"), 0, "%s", why);
	cr_assert_str_eq(pc.path, "/a=b");
	cr_assert(pc.read_only);
}

Test(blk_config, ro_values)
{
	static const char *const on[] = { "path=/x,ro", "path=/x,ro=on", "path=/x,ro=true",
					  "path=/x,ro=1" };
	static const char *const off[] = { "path=/x", "path=/x,ro=off", "path=/x,ro=false",
					   "path=/x,ro=0" };

	for (int i = 0; i < 4; i++) {
		cr_assert_eq(parse(on[i]), 0, "%s: %s", on[i], why);
		cr_assert(pc.read_only, "%s", on[i]);
		cr_assert_eq(parse(off[i]), 0, "%s: %s", off[i], why);
		cr_assert_not(pc.read_only, "%s", off[i]);
	}
}

Test(blk_config, id_length)
{
	static char spec[20100];

	/* The API's drive_id rule (parse_id_check): [A-Za-z0-9_], any length
	 * (Firecracker's); the guest's GET_ID sees the first 20 bytes. */
	snprintf(spec, sizeof(spec), "path=/x,id=%064d", 7);
	cr_assert_eq(parse(spec), 0, "%s", why);
	cr_assert_eq(strlen(pc.id), 64);
	snprintf(spec, sizeof(spec), "path=/x,id=%020000d", 7);
	cr_assert_eq(parse(spec), 0, "%s", why);
	cr_assert_eq(strlen(pc.id), 20000);
	cr_assert_eq(pc.id, id_intern(spec + strlen("path=/x,id=")), "one string per id");
	expect_parse_error("path=/x,id=", "id: must not be empty");
	expect_parse_error("path=/x,id=../x", "id: '../x' may only hold letters, digits and '_'");
	expect_parse_error("path=/x,id=a-b", "may only hold");
	expect_parse_error("path=/x,id=a\tb", "may only hold");
}

Test(blk_config, errors)
{
	char longpath[5000];

	expect_parse_error("", "no path");
	expect_parse_error("ro", "no path");
	expect_parse_error("id=x,cache=unsafe", "no path");
	expect_parse_error("path=", "'path='");
	expect_parse_error("path", "'path'");
	expect_parse_error("path=/x,id", "'id'");
	expect_parse_error("path=/x,engine=aio", "'engine=aio'");
	expect_parse_error("path=/x,engine", "'engine'");
	expect_parse_error("path=/x,cache=none", "'cache=none'");
	expect_parse_error("path=/x,cache=", "'cache='");
	expect_parse_error("path=/x,readonly", "'readonly'");
	expect_parse_error("path=/x,bogus=1", "'bogus=1'");
	cr_assert_eq(parse("path=/x,ro=maybe"), -EINVAL);

	memset(longpath, 'a', sizeof(longpath));
	memcpy(longpath, "path=/", 6);
	longpath[sizeof(longpath) - 1] = '\0';
	expect_parse_error(longpath, "too long");
}

Test(virtio_blk, host_io_errors)
{
	static uint8_t buf[1024];
	struct virtio_blk_discard_write_zeroes dz = { .sector = 0, .num_sectors = 8 };
	char path[] = "/var/tmp/volt-blk-XXXXXX";
	int rw;

	/* A file that shrank below the capacity the guest was told: reads
	 * past its end end short, then at EOF. */
	disk();
	fill_disk(0x42);
	cr_assert_eq(ftruncate(fd, 1000 * 512 + 100), 0);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(simple(VIRTIO_BLK_T_IN, 999, buf, 1024), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple(VIRTIO_BLK_T_IN, 1500, buf, 512), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple(VIRTIO_BLK_T_IN, 998, buf, 1024), 1025, "still inside the file");
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
	cr_assert_eq(buf[1023], 0x42);
	close(fd);

	/* A host fd that cannot write: the errors become IOERR. */
	rw = mkstemp(path);
	cr_assert_geq(rw, 0);
	cr_assert_eq(ftruncate(rw, DISK_LEN), 0);
	fd = open(path, O_RDONLY);
	unlink(path);
	close(rw);
	cr_assert_geq(fd, 0);
	memset(&cfg, 0, sizeof(cfg));
	cr_assert_eq(simple(VIRTIO_BLK_T_OUT, 0, buf, 512), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple(VIRTIO_BLK_T_DISCARD, 0, &dz, sizeof(dz)), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple(VIRTIO_BLK_T_WRITE_ZEROES, 0, &dz, sizeof(dz)), 1);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple(VIRTIO_BLK_T_IN, 0, buf, 512), 513, "reads still work");
	cr_assert_eq(status, VIRTIO_BLK_S_OK);
}

/* --- the rate limiter, on the device driven like a driver ------------------------ */

#include "virtio_rig.h"

/* Request i: a header, 512 bytes of data (a write of sector i, or a read of
 * it), a status byte; in guest memory at RIG_DATA + i * 1024. */
static void blk_req(struct rig *r, unsigned int i, uint32_t type, bool publish)
{
	uint64_t gpa = RIG_DATA + i * 1024ULL;
	struct virtio_blk_outhdr *h = gpa_to_hva(&r->mem, gpa, 16);
	uint8_t *data = gpa_to_hva(&r->mem, gpa + 16, 512), *st = gpa_to_hva(&r->mem, gpa + 528, 1);
	struct rig_seg s[3] = {
		{ gpa, 16, false },
		{ gpa + 16, 512, type == VIRTIO_BLK_T_IN },
		{ gpa + 528, 1, true },
	};

	*h = (struct virtio_blk_outhdr){ .type = type, .sector = i };
	memset(data, (int)(0x10 + i), 512);
	*st = UNSET;
	rig_chain(r, 0, s, 3, publish);
}

static uint8_t blk_status(struct rig *r, unsigned int i)
{
	return *(uint8_t *)gpa_to_hva(&r->mem, RIG_DATA + i * 1024ULL + 528, 1);
}

static struct virtio_blk *blk_rig_engine(struct rig *r, const struct rl_config *rl,
					 enum blk_engine engine)
{
	char path[] = "/var/tmp/volt-blk-rl-XXXXXX";
	struct blk_config c = { 0 };
	struct virtio_blk *b = NULL;
	int tfd = mkstemp(path);

	cr_assert_geq(tfd, 0);
	cr_assert_eq(ftruncate(tfd, DISK_LEN), 0);
	close(tfd);
	snprintf(c.path, sizeof(c.path), "%s", path);
	c.id = "rl";
	c.rate_limiter = *rl;
	c.engine = engine;
	rig_init(r);
	cr_assert_eq(virtio_blk_create(&b, &c, &r->env, RIG_BASE, 5), 0);
	unlink(path);
	r->d = virtio_blk_dev(b);
	rig_driver_ok(r, 1);
	return b;
}

static struct virtio_blk *blk_rig(struct rig *r, const struct rl_config *rl)
{
	return blk_rig_engine(r, rl, BLK_ENGINE_SYNC);
}

#define N 4

Test(blk_rate_limit, ops_park_the_queue_until_the_timer, .timeout = 20)
{
	/* A refill every 500 ms: far longer than the 40 ms looked at below, even
	 * on a loaded machine (ASan, other jobs). */
	struct rl_config rl = { .ops = { N, 0, 500 } };
	struct rig r;
	struct virtio_blk *b = blk_rig(&r, &rl);
	uint64_t t0;

	for (unsigned int i = 0; i < 3 * N; i++)
		blk_req(&r, i, VIRTIO_BLK_T_OUT, false);
	t0 = rig_ms();
	rig_kick(&r, 0);
	/* The bucket starts full: N at once, the rest wait for the timer. */
	cr_assert(rig_wait_used(&r, 0, N, 1000));
	rig_sleep_ms(40);
	cr_assert_eq(rig_used(&r, 0), N, "only %d at first", N);
	for (unsigned int i = N; i < 3 * N; i++)
		cr_assert_eq(blk_status(&r, i), UNSET, "request %u was not taken", i);
	/* One refill (500 ms) per N more: all of them, none lost. */
	cr_assert(rig_wait_used(&r, 0, 3 * N, 6000), "used %u", rig_used(&r, 0));
	cr_assert_geq(rig_ms() - t0, 900, "took %llu ms", (unsigned long long)(rig_ms() - t0));
	for (unsigned int i = 0; i < 3 * N; i++)
		cr_assert_eq(blk_status(&r, i), VIRTIO_BLK_S_OK, "request %u", i);
	rig_stop(&r);
	virtio_blk_destroy(b);
	rig_free(&r);
}

Test(blk_rate_limit, bandwidth_counts_data_bytes, .timeout = 20)
{
	/* 1024 bytes per 100 ms: two 512-byte reads at once, then two per refill. */
	struct rl_config rl = { .bandwidth = { 1024, 0, 100 } };
	struct rig r;
	struct virtio_blk *b = blk_rig(&r, &rl);

	for (unsigned int i = 0; i < 6; i++)
		blk_req(&r, i, VIRTIO_BLK_T_IN, false);
	rig_kick(&r, 0);
	cr_assert(rig_wait_used(&r, 0, 2, 1000));
	rig_sleep_ms(40);
	cr_assert_eq(rig_used(&r, 0), 2);
	cr_assert(rig_wait_used(&r, 0, 6, 3000), "used %u", rig_used(&r, 0));
	for (unsigned int i = 0; i < 6; i++)
		cr_assert_eq(blk_status(&r, i), VIRTIO_BLK_S_OK, "request %u", i);
	rig_stop(&r);
	virtio_blk_destroy(b);
	rig_free(&r);
}

/* The same with io_uring (or the sync engine where io_uring is unavailable):
 * the limiter acts before a request is submitted. */
Test(blk_rate_limit, ops_with_io_uring, .timeout = 20)
{
	struct rl_config rl = { .ops = { N, 0, 100 } };
	struct rig r;
	struct virtio_blk *b;

	log_set_level(LOG_OFF);
	b = blk_rig_engine(&r, &rl, BLK_ENGINE_IO_URING);
	for (unsigned int i = 0; i < 3 * N; i++)
		blk_req(&r, i, i % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT, false);
	rig_kick(&r, 0);
	cr_assert(rig_wait_used(&r, 0, N, 1000));
	rig_sleep_ms(40);
	cr_assert_eq(rig_used(&r, 0), N);
	cr_assert(rig_wait_used(&r, 0, 3 * N, 3000), "used %u", rig_used(&r, 0));
	for (unsigned int i = 0; i < 3 * N; i++)
		cr_assert_eq(blk_status(&r, i), VIRTIO_BLK_S_OK, "request %u", i);
	rig_stop(&r);
	virtio_blk_destroy(b);
	rig_free(&r);
}

Test(blk_rate_limit, an_update_lifts_the_limit, .timeout = 20)
{
	struct rl_config rl = { .ops = { 1, 0, 100000 } }, none = { .given_ops = true };
	struct rig r;
	struct virtio_blk *b = blk_rig(&r, &rl);

	for (unsigned int i = 0; i < 3; i++)
		blk_req(&r, i, VIRTIO_BLK_T_OUT, false);
	rig_kick(&r, 0);
	cr_assert(rig_wait_used(&r, 0, 1, 1000));
	rig_sleep_ms(30);
	cr_assert_eq(rig_used(&r, 0), 1);
	/* The PATCH: no ops bucket. The parked queue resumes at the timer. */
	virtio_blk_update_rate_limiter(b, &none);
	cr_assert(rig_wait_used(&r, 0, 3, 2000), "used %u", rig_used(&r, 0));
	rig_stop(&r);
	virtio_blk_destroy(b);
	rig_free(&r);
}

Test(blk_config, rate_limiter_on_the_cli)
{
	cr_assert_eq(parse("path=/x,bw=10M/1000+1M,ops=100/1000"), 0, "%s", why);
	cr_assert_eq(pc.rate_limiter.bandwidth.size, 10 << 20);
	cr_assert_eq(pc.rate_limiter.bandwidth.refill_time, 1000);
	cr_assert_eq(pc.rate_limiter.bandwidth.one_time_burst, 1 << 20);
	cr_assert_eq(pc.rate_limiter.ops.size, 100);
	cr_assert_eq(parse("path=/x,ops=off"), 0, "%s", why);
	cr_assert_not(rl_config_enabled(&pc.rate_limiter));
	expect_parse_error("path=/x,ops=100", "ops='100': expected SIZE/MS");
	expect_parse_error("path=/x,bw=1/0", "bw='1/0'");
}

/* --- metrics: the kind's section and the drive's own ------------------------------ */

#include "core/metrics.h"
#include "devices/device_kind.h"

#include <jansson.h>

/* The counter sec.name of the line a flush would write now (deltas reset);
 * -1: no such section. */
static json_int_t line_counter(const char *sec, const char *name)
{
	char *line = metrics_render();
	json_t *j, *s;
	json_int_t v = -1;

	cr_assert_not_null(line);
	j = json_loads(line, 0, NULL);
	free(line);
	cr_assert_not_null(j);
	s = json_object_get(j, sec);
	if (s) {
		cr_assert(json_is_integer(json_object_get(s, name)), "%s.%s", sec, name);
		v = json_integer_value(json_object_get(s, name));
	}
	json_decref(j);
	return v;
}

/* Firecracker's "block_<drive_id>": the kind's fields, counting that drive
 * alone, from its creation to its destruction; "block" counts every drive. */
Test(blk_metrics, the_drive_counts_in_its_own_section_and_the_kinds, .timeout = 20)
{
	struct rl_config none = { 0 };
	struct rig r;
	struct virtio_blk *b;
	json_t *j, *own;

	log_set_level(LOG_OFF);
	cr_assert_eq(metrics_register(virtio_blk_kind.metrics), 0);
	b = blk_rig(&r, &none); /* drive_id "rl" */
	blk_req(&r, 0, VIRTIO_BLK_T_OUT, false);
	blk_req(&r, 1, VIRTIO_BLK_T_IN, false);
	rig_kick(&r, 0);
	cr_assert(rig_wait_used(&r, 0, 2, 2000));
	rig_stop(&r);
	j = rig_own_metrics("block_rl", "block", &own);
	cr_assert_eq(json_integer_value(json_object_get(own, "write_count")), 1);
	cr_assert_eq(json_integer_value(json_object_get(own, "read_count")), 1);
	cr_assert_eq(json_integer_value(json_object_get(own, "write_bytes")), 512);
	cr_assert_eq(json_integer_value(json_object_get(own, "read_bytes")), 512);
	cr_assert_geq(json_integer_value(json_object_get(own, "queue_event_count")), 1);
	json_decref(j);

	virtio_blk_destroy(b);
	rig_free(&r);
	cr_assert_eq(line_counter("block_rl", "write_count"), -1, "gone with the drive");
	cr_assert_eq(line_counter("block", "write_count"), 0, "the kind's stays");
}

/* The transport's counters (cfg_fails: a write to the read-only config)
 * count for the drive too. */
Test(blk_metrics, transport_counters_count_for_the_drive, .timeout = 20)
{
	struct rl_config none = { 0 };
	uint8_t data[4] = { 0 };
	struct rig r;
	struct virtio_blk *b;

	log_set_level(LOG_OFF);
	cr_assert_eq(metrics_register(virtio_blk_kind.metrics), 0);
	b = blk_rig(&r, &none);
	virtio_mmio_io(r.d, 0x100, data, 4, true);
	cr_assert_eq(line_counter("block_rl", "cfg_fails"), 1);
	rig_stop(&r);
	virtio_blk_destroy(b);
	rig_free(&r);
}

/* --- a new file after boot (PATCH /drives path_on_host) ------------------------ */

static uint64_t blk_capacity(struct rig *r)
{
	return rig_rd(r, VIRTIO_MMIO_CONFIG) | (uint64_t)rig_rd(r, VIRTIO_MMIO_CONFIG + 4) << 32;
}

/* The drive serves the new file from the next request on, the driver is told
 * (a config interrupt, a new generation, the new capacity), and a file it
 * cannot take changes nothing. On both engines. */
static void new_file(enum blk_engine engine)
{
	char path[] = "/var/tmp/volt-blk-new-XXXXXX", dir[] = "/var/tmp/volt-blk-dir-XXXXXX";
	struct rl_config none = { 0 };
	static uint8_t buf[2 * DISK_LEN];
	uint32_t gen;
	struct rig r;
	struct virtio_blk *b;
	json_t *j, *own;
	char why[256];
	int nfd;

	log_set_level(LOG_OFF);
	cr_assert_eq(metrics_register(virtio_blk_kind.metrics), 0);
	b = blk_rig_engine(&r, &none, engine); /* drive_id "rl", DISK_LEN */
	cr_assert_eq(blk_capacity(&r), DISK_LEN / 512);
	gen = rig_rd(&r, VIRTIO_MMIO_CONFIG_GENERATION);
	nfd = mkstemp(path);
	cr_assert_geq(nfd, 0);
	memset(buf, 0x77, sizeof(buf));
	cr_assert_eq(pwrite(nfd, buf, sizeof(buf) - 100, 0), (ssize_t)sizeof(buf) - 100);

	cr_assert_eq(virtio_blk_update_file(b, path, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(blk_capacity(&r), (2 * DISK_LEN - 512) / 512, "whole sectors only");
	cr_assert_neq(rig_rd(&r, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	cr_assert(rig_rd(&r, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	rig_wr(&r, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);

	/* Sector 2 reads the new file's bytes; sector 3's write lands in it. */
	blk_req(&r, 2, VIRTIO_BLK_T_IN, false);
	blk_req(&r, 3, VIRTIO_BLK_T_OUT, false);
	rig_kick(&r, 0);
	cr_assert(rig_wait_used(&r, 0, 2, 2000));
	cr_assert_eq(blk_status(&r, 2), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk_status(&r, 3), VIRTIO_BLK_S_OK);
	cr_assert_eq(*(uint8_t *)gpa_to_hva(&r.mem, RIG_DATA + 2 * 1024 + 16 + 511, 1), 0x77);
	cr_assert_eq(pread(nfd, buf, 512, 3 * 512), 512);
	cr_assert_eq(buf[0], 0x13, "the write went to the new file");

	/* Files it cannot take: nothing changes, the failure is counted. */
	gen = rig_rd(&r, VIRTIO_MMIO_CONFIG_GENERATION);
	cr_assert_eq(virtio_blk_update_file(b, "/nonexistent/volt", why, sizeof(why)), -ENOENT);
	cr_assert_str_eq(why, strerror(ENOENT));
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_lt(virtio_blk_update_file(b, dir, why, sizeof(why)), 0);
	cr_assert_not_null(strstr(why, "directory"), "%s", why);
	cr_assert_eq(rmdir(dir), 0);
	cr_assert_eq(rig_rd(&r, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	cr_assert_eq(blk_capacity(&r), (2 * DISK_LEN - 512) / 512);
	blk_req(&r, 4, VIRTIO_BLK_T_OUT, true);
	cr_assert(rig_wait_used(&r, 0, 3, 2000));
	cr_assert_eq(pread(nfd, buf, 512, 4 * 512), 512);
	cr_assert_eq(buf[0], 0x14, "still the new file");

	rig_stop(&r);
	j = rig_own_metrics("block_rl", "block", &own);
	cr_assert_eq(json_integer_value(json_object_get(own, "update_count")), 1);
	cr_assert_eq(json_integer_value(json_object_get(own, "update_fails")), 2);
	json_decref(j);
	virtio_blk_destroy(b);
	rig_free(&r);
	unlink(path);
	close(nfd);
}

Test(virtio_blk, a_new_file_after_boot_sync, .timeout = 20)
{
	new_file(BLK_ENGINE_SYNC);
}

Test(virtio_blk, a_new_file_after_boot_io_uring, .timeout = 20)
{
	new_file(BLK_ENGINE_IO_URING);
}

/* The look at the ready queue when the driver sets DRIVER_OK is no queue
 * event (Firecracker counts the driver's notifications): only a kick counts,
 * and a kick that finds nothing is a no_avail_buffer. */
Test(blk_metrics, driver_ok_is_no_queue_event, .timeout = 20)
{
	struct rl_config none = { 0 };
	struct rig r;
	struct virtio_blk *b;
	json_int_t events = 0, empty = 0;
	json_t *j, *own;

	log_set_level(LOG_OFF);
	cr_assert_eq(metrics_register(virtio_blk_kind.metrics), 0);
	b = blk_rig(&r, &none);
	rig_sleep_ms(50);
	j = rig_own_metrics("block_rl", "block", &own);
	cr_assert_eq(json_integer_value(json_object_get(own, "queue_event_count")), 0);
	cr_assert_eq(json_integer_value(json_object_get(own, "no_avail_buffer")), 0);
	json_decref(j);
	rig_kick(&r, 0);
	/* Each line holds the counts since the one before: add them up. */
	for (int ms = 0; ms < 2000 && !events; ms += 10) {
		rig_sleep_ms(10);
		j = rig_own_metrics("block_rl", "block", &own);
		events += json_integer_value(json_object_get(own, "queue_event_count"));
		empty += json_integer_value(json_object_get(own, "no_avail_buffer"));
		json_decref(j);
	}
	cr_assert_eq(events, 1);
	cr_assert_eq(empty, 1);
	rig_stop(&r);
	virtio_blk_destroy(b);
	rig_free(&r);
}

/* Firecracker offers VIRTIO_BLK_F_FLUSH only with cache_type Writeback: with
 * Unsafe the guest sends no flush at all (test_no_flush: flush_count 0). */
Test(virtio_blk, flush_offered_for_a_write_back_cache_only)
{
	static const enum blk_cache caches[] = { BLK_CACHE_WRITEBACK, BLK_CACHE_UNSAFE };

	for (unsigned int i = 0; i < 2; i++) {
		char path[] = "/var/tmp/volt-blk-flush-XXXXXX";
		struct blk_config c = { .id = "flush", .cache = caches[i] };
		struct virtio_blk *b = NULL;
		struct rig r;
		int tfd = mkstemp(path);

		cr_assert_geq(tfd, 0);
		cr_assert_eq(ftruncate(tfd, DISK_LEN), 0);
		close(tfd);
		snprintf(c.path, sizeof(c.path), "%s", path);
		rig_init(&r);
		cr_assert_eq(virtio_blk_create(&b, &c, &r.env, RIG_BASE, 5), 0);
		unlink(path);
		r.d = virtio_blk_dev(b);
		rig_wr(&r, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
		cr_assert_eq(
			!!(rig_rd(&r, VIRTIO_MMIO_DEVICE_FEATURES) & (1U << VIRTIO_BLK_F_FLUSH)),
			caches[i] == BLK_CACHE_WRITEBACK, "cache %u", caches[i]);
		virtio_blk_destroy(b);
		rig_free(&r);
	}
}
