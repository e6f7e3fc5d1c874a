/* The snapshot state file (core/snap.h): round trips in memory and on disk,
 * and every kind of damaged file refused as a whole. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/snap.h"
#include "helpers.h"
#include "util/log.h"
#include "util/sha256.h"

static uint8_t img[4096];
static size_t img_len;

/* A small state: two scoped records, a u64, an empty one. */
static void build(void)
{
	struct snap_writer w;
	const uint8_t *out;
	size_t len;

	snap_writer_init(&w);
	cr_assert_eq(snap_writer_scope(&w, "vcpu%d", 0), 0);
	cr_assert_eq(snap_put(&w, "regs", "0123456789abcdef", 16), 0);
	cr_assert_eq(snap_put(&w, "empty", NULL, 0), 0);
	cr_assert_eq(snap_writer_scope(&w, NULL), 0);
	cr_assert_eq(snap_put_u64(&w, "vm/ncpus", 0x1122334455667788ULL), 0);
	cr_assert_eq(snap_put(&w, "dev/serial", "uart", 4), 0);
	cr_assert_eq(snap_finish(&w, &out, &len), 0);
	cr_assert_leq(len, sizeof(img));
	memcpy(img, out, len);
	img_len = len;
	snap_writer_free(&w);
}

/* Recomputes the checksum after an edit of the body. */
static void resign(uint8_t *b, size_t len)
{
	struct sha256 s;

	sha256_init(&s);
	sha256_update(&s, b + SNAP_HEADER_SIZE, len - SNAP_HEADER_SIZE);
	sha256_final(&s, b + 24);
}

static int open_img(const uint8_t *b, size_t len)
{
	struct snap_reader r;
	int err = snap_read_mem(&r, b, len, "test");

	if (err)
		cr_assert_eq(r.nrecs, 0, "a refused file leaves nothing to read");
	snap_reader_free(&r);
	return err;
}

static void quiet(void)
{
	log_set_level(LOG_OFF);
	build();
}

TestSuite(snap, .init = quiet);

Test(snap, round_trip)
{
	struct snap_reader r;
	char buf[16], var[32];
	uint64_t v;
	size_t len;

	cr_assert_eq(snap_read_mem(&r, img, img_len, "test"), 0);
	cr_assert_eq(r.nrecs, 4);
	cr_assert_str_eq(snap_unread(&r), "vcpu0/regs");
	cr_assert_eq(snap_reader_scope(&r, "vcpu0"), 0);
	cr_assert_eq(snap_get(&r, "regs", buf, sizeof(buf)), 0);
	cr_assert_arr_eq(buf, "0123456789abcdef", 16);
	cr_assert(snap_has(&r, "empty"));
	cr_assert_eq(snap_get(&r, "empty", buf, 0), 0);
	cr_assert_eq(snap_reader_scope(&r, NULL), 0);
	cr_assert_eq(snap_get_u64(&r, "vm/ncpus", &v), 0);
	cr_assert_eq(v, 0x1122334455667788ULL);
	cr_assert_eq(snap_get_var(&r, "dev/serial", var, sizeof(var), &len), 0);
	cr_assert_eq(len, 4);
	cr_assert_arr_eq(var, "uart", 4);
	cr_assert_null(snap_unread(&r));
	snap_reader_free(&r);
}

Test(snap, missing_and_wrong_size_records_copy_nothing)
{
	struct snap_reader r;
	char buf[32];
	size_t len = 99;

	cr_assert_eq(snap_read_mem(&r, img, img_len, "test"), 0);
	memset(buf, 'x', sizeof(buf));
	cr_assert_eq(snap_get(&r, "vcpu1/regs", buf, 16), -ENOENT);
	cr_assert_eq(snap_get(&r, "vcpu0/regs", buf, 15), -EMSGSIZE);
	cr_assert_eq(snap_get(&r, "vcpu0/regs", buf, 17), -EMSGSIZE);
	cr_assert_eq(snap_get_var(&r, "vcpu0/regs", buf, 8, &len), -EMSGSIZE);
	cr_assert_eq(len, 99);
	for (size_t i = 0; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 'x', "a failed get wrote byte %zu", i);
	cr_assert_eq(snap_get(&r, "../etc", buf, 1), -ENOENT);
	snap_reader_free(&r);
}

Test(snap, writer_refuses_bad_names_and_duplicates)
{
	struct snap_writer w;
	const uint8_t *out;
	size_t len;

	snap_writer_init(&w);
	cr_assert_eq(snap_put(&w, "a b", "x", 1), -EINVAL);
	cr_assert_eq(snap_finish(&w, &out, &len), -EINVAL, "errors are sticky");
	snap_writer_free(&w);

	snap_writer_init(&w);
	cr_assert_eq(snap_put(&w, "x", "1", 1), 0);
	cr_assert_eq(snap_put(&w, "x", "2", 1), -EEXIST);
	cr_assert_eq(snap_put(&w, "y", "2", 1), -EEXIST);
	snap_writer_free(&w);

	snap_writer_init(&w);
	cr_assert_eq(snap_put(&w, "", "1", 1), -EINVAL);
	snap_writer_free(&w);
}

Test(snap, wrong_magic)
{
	img[0] = 'X';
	cr_assert_eq(open_img(img, img_len), -EINVAL);
}

/* Shorter than the header and its checksum, magic or not (Firecracker's
 * "File too short to contain CRC"). */
Test(snap, too_short_for_the_checksum)
{
	cr_assert_eq(open_img(img, 0), -EBADMSG);
	cr_assert_eq(open_img((const uint8_t *)"VOLTSNA", 7), -EBADMSG);
	cr_assert_eq(open_img(img, SNAP_HEADER_SIZE - 1), -EBADMSG);
}

Test(snap, other_format_version)
{
	img[8] = SNAP_FORMAT_VERSION + 1;
	cr_assert_eq(open_img(img, img_len), -EPROTONOSUPPORT);
}

Test(snap, every_truncation_refused)
{
	for (size_t n = 8; n < img_len; n++)
		cr_assert_eq(open_img(img, n), -EBADMSG, "cut at %zu of %zu", n, img_len);
	cr_assert_eq(open_img(img, img_len), 0);
}

Test(snap, trailing_bytes_refused)
{
	img[img_len] = 0;
	cr_assert_eq(open_img(img, img_len + 1), -EBADMSG);
}

Test(snap, every_flipped_body_byte_refused)
{
	for (size_t i = SNAP_HEADER_SIZE; i < img_len; i++) {
		img[i] ^= 0x01;
		cr_assert_eq(open_img(img, img_len), -EBADMSG, "byte %zu", i);
		img[i] ^= 0x01;
	}
	img[30] ^= 0x80; /* in the checksum itself */
	cr_assert_eq(open_img(img, img_len), -EBADMSG);
}

Test(snap, header_fields_checked)
{
	img[12] = 63; /* header size */
	cr_assert_eq(open_img(img, img_len), -EBADMSG);
	img[12] = SNAP_HEADER_SIZE;
	img[23] = 0x80; /* body length, huge */
	cr_assert_eq(open_img(img, img_len), -EBADMSG);
}

/* Records with a valid checksum but lengths or names that do not fit. */
Test(snap, malformed_records_refused)
{
	uint8_t b[4096];
	size_t first = SNAP_HEADER_SIZE;

	memcpy(b, img, img_len);
	b[first + 4] = 0xff; /* data length past the end */
	b[first + 5] = 0xff;
	resign(b, img_len);
	cr_assert_eq(open_img(b, img_len), -EBADMSG);

	memcpy(b, img, img_len);
	b[first] = 0xff; /* name length past the end */
	resign(b, img_len);
	cr_assert_eq(open_img(b, img_len), -EBADMSG);

	memcpy(b, img, img_len);
	b[first + 2] = 1; /* reserved */
	resign(b, img_len);
	cr_assert_eq(open_img(b, img_len), -EBADMSG);

	memcpy(b, img, img_len);
	b[first + 8] = '\n'; /* a name character */
	resign(b, img_len);
	cr_assert_eq(open_img(b, img_len), -EBADMSG);

	memcpy(b, img, img_len);
	b[first] = 0; /* an empty name */
	resign(b, img_len);
	cr_assert_eq(open_img(b, img_len), -EBADMSG);

	/* The body cut inside a record header, with the length fixed to match. */
	memcpy(b, img, img_len);
	b[16] = 4;
	for (int i = 17; i < 24; i++)
		b[i] = 0;
	resign(b, SNAP_HEADER_SIZE + 4);
	cr_assert_eq(open_img(b, SNAP_HEADER_SIZE + 4), -EBADMSG);
}

Test(snap, duplicate_names_refused)
{
	struct snap_writer w;
	const uint8_t *out;
	size_t len;
	uint8_t b[256];

	snap_writer_init(&w);
	cr_assert_eq(snap_put(&w, "ab", "1", 1), 0);
	cr_assert_eq(snap_put(&w, "ac", "2", 1), 0);
	cr_assert_eq(snap_finish(&w, &out, &len), 0);
	memcpy(b, out, len);
	snap_writer_free(&w);
	b[len - 2] = 'b'; /* "ac" becomes "ab" */
	resign(b, len);
	cr_assert_eq(open_img(b, len), -EBADMSG);
}

/* A file of many tiny records: SNAP_MAX_RECORDS read, one more refused at
 * once (the duplicate check compares each name with those before it). */
Test(snap, record_count_bounded)
{
	struct snap_writer w;
	const uint8_t *out;
	size_t len;
	char name[16];
	int i;

	for (int extra = 0; extra < 2; extra++) {
		snap_writer_init(&w);
		for (i = 0; i < SNAP_MAX_RECORDS + extra; i++) {
			snprintf(name, sizeof(name), "r%d", i);
			cr_assert_eq(snap_put(&w, name, NULL, 0), 0);
		}
		cr_assert_eq(snap_finish(&w, &out, &len), 0);
		cr_assert_eq(open_img(out, len), extra ? -EBADMSG : 0, "%d records",
			     SNAP_MAX_RECORDS + extra);
		snap_writer_free(&w);
	}
}

Test(snap, empty_body_is_a_valid_file)
{
	struct snap_writer w;
	const uint8_t *out;
	size_t len;

	snap_writer_init(&w);
	cr_assert_eq(snap_finish(&w, &out, &len), 0);
	cr_assert_eq(len, SNAP_HEADER_SIZE);
	cr_assert_eq(open_img(out, len), 0);
	snap_writer_free(&w);
}

Test(snap, file_round_trip_0600_no_temp_left)
{
	char *dir = test_tmpdir();
	char path[256];
	struct snap_writer w;
	struct snap_reader r;
	struct stat st;
	struct dirent *e;
	DIR *d;
	int files = 0;
	uint64_t v;

	snprintf(path, sizeof(path), "%s/state", dir);
	snap_writer_init(&w);
	cr_assert_eq(snap_put_u64(&w, "x", 7), 0);
	cr_assert_eq(snap_write_file(&w, path), 0);
	snap_writer_free(&w);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	d = opendir(dir);
	while ((e = readdir(d)))
		files += e->d_name[0] != '.';
	closedir(d);
	cr_assert_eq(files, 1);
	cr_assert_eq(snap_read_file(&r, path), 0);
	cr_assert_eq(snap_get_u64(&r, "x", &v), 0);
	cr_assert_eq(v, 7);
	snap_reader_free(&r);

	/* A truncated file on disk: refused. */
	cr_assert_eq(truncate(path, (off_t)st.st_size - 1), 0);
	cr_assert_eq(snap_read_file(&r, path), -EBADMSG);
	snap_reader_free(&r);
	cr_assert_eq(snap_read_file(&r, dir), -EISDIR);
	rm_rf(dir);
}
