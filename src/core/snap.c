#include "core/snap.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"
#include "util/log.h"
#include "util/sha256.h"

#define REC_HEADER 8 /* u16 name length, u16 zero, u32 data length */

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static bool name_ok(const char *s, size_t len)
{
	if (len == 0 || len >= SNAP_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '/' || c == '-'))
			return false;
	}
	return true;
}

static int set_scope(char *scope, const char *fmt, va_list ap)
{
	char tmp[SNAP_NAME_MAX];
	int n;

	if (!fmt) {
		scope[0] = '\0';
		return 0;
	}
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	if (n < 0 || (size_t)n >= sizeof(tmp) || !name_ok(tmp, (size_t)n))
		return -EINVAL;
	memcpy(scope, tmp, (size_t)n + 1);
	return 0;
}

/* "<scope>/<name>" or name into full; -EINVAL when it is not a valid name. */
static int full_name(const char *scope, const char *name, char full[SNAP_NAME_MAX])
{
	int n = scope[0] ? snprintf(full, SNAP_NAME_MAX, "%s/%s", scope, name)
			 : snprintf(full, SNAP_NAME_MAX, "%s", name);

	if (n < 0 || n >= SNAP_NAME_MAX || !name_ok(full, (size_t)n))
		return -EINVAL;
	return 0;
}

void snap_writer_init(struct snap_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void snap_writer_free(struct snap_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

int snap_writer_scope(struct snap_writer *w, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = set_scope(w->scope, fmt, ap);
	va_end(ap);
	if (err && !w->err)
		w->err = err;
	return err;
}

static int reserve(struct snap_writer *w, size_t more)
{
	size_t cap = w->cap ? w->cap : 4096;
	uint8_t *p;

	if (w->len == 0)
		w->len = SNAP_HEADER_SIZE;
	if (more > SNAP_MAX_BODY || w->len - SNAP_HEADER_SIZE + more > SNAP_MAX_BODY)
		return -EFBIG;
	while (cap < w->len + more)
		cap *= 2;
	if (cap == w->cap)
		return 0;
	p = realloc(w->buf, cap);
	if (!p)
		return -ENOMEM;
	if (!w->buf)
		memset(p, 0, SNAP_HEADER_SIZE);
	w->buf = p;
	w->cap = cap;
	return 0;
}

/* Whether the body already holds a record called name (a put is rare enough
 * for a walk of the body: a few hundred records at most). */
static bool writer_has(const struct snap_writer *w, const char *name, size_t nlen)
{
	size_t off = SNAP_HEADER_SIZE;

	while (w->buf && off < w->len) {
		size_t l = get_le(w->buf + off, 2), dl = get_le(w->buf + off + 4, 4);

		if (l == nlen && !memcmp(w->buf + off + REC_HEADER, name, nlen))
			return true;
		off += REC_HEADER + l + dl;
	}
	return false;
}

int snap_put(struct snap_writer *w, const char *name, const void *data, size_t len)
{
	char full[SNAP_NAME_MAX];
	size_t nlen;
	uint8_t *p;
	int err;

	if (w->err)
		return w->err;
	err = full_name(w->scope, name, full);
	if (err) {
		pr_err("snapshot: invalid record name '%s/%s'", w->scope, name);
		return w->err = err;
	}
	nlen = strlen(full);
	if (writer_has(w, full, nlen)) {
		pr_err("snapshot: record '%s' written twice", full);
		return w->err = -EEXIST;
	}
	if (len > UINT32_MAX)
		return w->err = -EFBIG;
	err = reserve(w, REC_HEADER + nlen + len);
	if (err)
		return w->err = err;
	p = w->buf + w->len;
	put_le(p, nlen, 2);
	put_le(p + 2, 0, 2);
	put_le(p + 4, len, 4);
	memcpy(p + REC_HEADER, full, nlen);
	if (len)
		memcpy(p + REC_HEADER + nlen, data, len);
	w->len += REC_HEADER + nlen + len;
	return 0;
}

int snap_put_u64(struct snap_writer *w, const char *name, uint64_t v)
{
	uint8_t b[8];

	put_le(b, v, 8);
	return snap_put(w, name, b, sizeof(b));
}

int snap_finish(struct snap_writer *w, const uint8_t **out, size_t *len)
{
	struct sha256 s;
	int err;

	if (w->err)
		return w->err;
	err = reserve(w, 0);
	if (err)
		return w->err = err;
	memset(w->buf, 0, SNAP_HEADER_SIZE);
	memcpy(w->buf, SNAP_MAGIC, 8);
	put_le(w->buf + 8, SNAP_FORMAT_VERSION, 4);
	put_le(w->buf + 12, SNAP_HEADER_SIZE, 4);
	put_le(w->buf + 16, w->len - SNAP_HEADER_SIZE, 8);
	sha256_init(&s);
	sha256_update(&s, w->buf + SNAP_HEADER_SIZE, w->len - SNAP_HEADER_SIZE);
	sha256_final(&s, w->buf + 24);
	*out = w->buf;
	*len = w->len;
	return 0;
}

int snap_stage_file(struct snap_writer *w, const char *path, struct staged_file *f)
{
	const uint8_t *img;
	size_t len;
	int err = snap_finish(w, &img, &len);

	if (err) {
		pr_err("snapshot %s: not written: %s", path, strerror(-err));
		return err;
	}
	err = staged_write(f, path, img, len, 0600);
	if (err)
		pr_err("snapshot %s: cannot write it: %s", path, strerror(-err));
	return err;
}

int snap_write_file(struct snap_writer *w, const char *path)
{
	struct staged_file f;
	int failed, err = snap_stage_file(w, path, &f);

	if (!err) {
		err = staged_commit(&f, 1, &failed);
		if (err)
			pr_err("snapshot %s: cannot put it in place: %s", path, strerror(-err));
	}
	return err;
}

/* Refuses the image with a message; r is left empty. */
static int refuse(struct snap_reader *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int refuse(struct snap_reader *r, int err, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pr_err("snapshot %s: %s", r->origin, why);
	free(r->buf);
	free(r->recs);
	r->buf = NULL;
	r->recs = NULL;
	r->len = r->nrecs = 0;
	return err;
}

static int check_header(struct snap_reader *r, uint64_t *body_len)
{
	const uint8_t *h = r->buf;
	uint64_t version, hsize;

	/* Firecracker's words for a file that cannot hold its checksum (its
	 * tests match them); the header holds volt's. */
	if (r->len < SNAP_HEADER_SIZE)
		return refuse(r, -EBADMSG,
			      "IO Error: File too short to contain CRC: %zu bytes, the header "
			      "with the checksum alone is %d",
			      r->len, SNAP_HEADER_SIZE);
	if (memcmp(h, SNAP_MAGIC, 8))
		return refuse(r, -EINVAL, "not a volt state file (no %s magic)", SNAP_MAGIC);
	version = get_le(h + 8, 4);
	if (version != SNAP_FORMAT_VERSION)
		return refuse(r, -EPROTONOSUPPORT,
			      "format version %llu, this volt reads version %d only",
			      (unsigned long long)version, SNAP_FORMAT_VERSION);
	hsize = get_le(h + 12, 4);
	if (hsize != SNAP_HEADER_SIZE)
		return refuse(r, -EBADMSG, "header size %llu, expected %d",
			      (unsigned long long)hsize, SNAP_HEADER_SIZE);
	*body_len = get_le(h + 16, 8);
	if (*body_len > SNAP_MAX_BODY)
		return refuse(r, -EBADMSG, "body of %llu bytes, more than the %u allowed",
			      (unsigned long long)*body_len, SNAP_MAX_BODY);
	if (*body_len > r->len - SNAP_HEADER_SIZE)
		return refuse(r, -EBADMSG,
			      "truncated (torn write?): %zu bytes, the header says %llu", r->len,
			      (unsigned long long)(*body_len + SNAP_HEADER_SIZE));
	if (*body_len < r->len - SNAP_HEADER_SIZE)
		return refuse(r, -EBADMSG, "%llu bytes after the end the header gives",
			      (unsigned long long)(r->len - SNAP_HEADER_SIZE - *body_len));
	return 0;
}

/* Walks the body twice: counts, then indexes. Every length is checked
 * against what is left of the body before it is used. */
static int parse_records(struct snap_reader *r, int pass)
{
	size_t off = SNAP_HEADER_SIZE, n = 0;

	while (off < r->len) {
		size_t left = r->len - off, nlen, dlen;
		const uint8_t *p = r->buf + off;

		if (left < REC_HEADER)
			return refuse(r, -EBADMSG, "record %zu: cut off in its header", n);
		nlen = get_le(p, 2);
		dlen = get_le(p + 4, 4);
		if (get_le(p + 2, 2))
			return refuse(r, -EBADMSG, "record %zu: reserved bits set", n);
		if (nlen > left - REC_HEADER || dlen > left - REC_HEADER - nlen)
			return refuse(r, -EBADMSG, "record %zu: longer than the rest of the file",
				      n);
		if (!name_ok((const char *)p + REC_HEADER, nlen))
			return refuse(r, -EBADMSG, "record %zu: invalid name", n);
		if (n == SNAP_MAX_RECORDS)
			return refuse(r, -EBADMSG, "more than %d records", SNAP_MAX_RECORDS);
		if (pass == 1) {
			struct snap_record *rec = &r->recs[n];

			memcpy(rec->name, p + REC_HEADER, nlen);
			rec->name[nlen] = '\0';
			rec->off = off + REC_HEADER + nlen;
			rec->len = dlen;
			for (size_t i = 0; i < n; i++)
				if (!strcmp(r->recs[i].name, rec->name))
					return refuse(r, -EBADMSG, "record '%s' appears twice",
						      rec->name);
		}
		off += REC_HEADER + nlen + dlen;
		n++;
	}
	if (pass == 0) {
		r->recs = calloc(n ? n : 1, sizeof(*r->recs));
		if (!r->recs)
			return refuse(r, -ENOMEM, "out of memory");
		r->nrecs = n;
	}
	return 0;
}

static int parse(struct snap_reader *r)
{
	uint8_t sum[32];
	struct sha256 s;
	uint64_t body_len = 0;
	int err = check_header(r, &body_len);

	if (err)
		return err;
	sha256_init(&s);
	sha256_update(&s, r->buf + SNAP_HEADER_SIZE, body_len);
	sha256_final(&s, sum);
	if (memcmp(sum, r->buf + 24, sizeof(sum)))
		return refuse(r, -EBADMSG, "checksum mismatch: the file is corrupt");
	err = parse_records(r, 0);
	return err ? err : parse_records(r, 1);
}

static void reader_init(struct snap_reader *r, const char *origin)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->origin, sizeof(r->origin), "%s", origin ? origin : "(memory)");
}

int snap_read_file(struct snap_reader *r, const char *path)
{
	char *data;
	size_t len;
	int err;

	reader_init(r, path);
	/* read_input: a FIFO or a device is refused at once, saying what it is. */
	err = read_input(path, SNAP_HEADER_SIZE + (size_t)SNAP_MAX_BODY, &data, &len, r->read_why,
			 sizeof(r->read_why));
	if (err) {
		pr_err("snapshot %s: cannot read it: %s", path,
		       err == -EFBIG ? "larger than a state file can be" : r->read_why);
		r->read_err = err;
		return err;
	}
	r->buf = (uint8_t *)data;
	r->len = len;
	return parse(r);
}

int snap_read_mem(struct snap_reader *r, const void *data, size_t len, const char *origin)
{
	reader_init(r, origin);
	if (len > SNAP_HEADER_SIZE + (size_t)SNAP_MAX_BODY)
		return refuse(r, -EFBIG, "larger than a state file can be");
	r->buf = malloc(len ? len : 1);
	if (!r->buf)
		return -ENOMEM;
	if (len)
		memcpy(r->buf, data, len);
	r->len = len;
	return parse(r);
}

void snap_reader_free(struct snap_reader *r)
{
	free(r->buf);
	free(r->recs);
	memset(r, 0, sizeof(*r));
}

int snap_reader_scope(struct snap_reader *r, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = set_scope(r->scope, fmt, ap);
	va_end(ap);
	return err;
}

static struct snap_record *lookup(struct snap_reader *r, const char *name, char *full)
{
	if (full_name(r->scope, name, full))
		return NULL;
	for (size_t i = 0; i < r->nrecs; i++)
		if (!strcmp(r->recs[i].name, full))
			return &r->recs[i];
	return NULL;
}

bool snap_has(struct snap_reader *r, const char *name)
{
	char full[SNAP_NAME_MAX];

	return lookup(r, name, full) != NULL;
}

int snap_find(struct snap_reader *r, const char *name, const void **data, size_t *len)
{
	char full[SNAP_NAME_MAX];
	struct snap_record *rec = lookup(r, name, full);

	if (!rec) {
		pr_err("snapshot %s: no record '%s%s%s'", r->origin, r->scope,
		       r->scope[0] ? "/" : "", name);
		return -ENOENT;
	}
	rec->read = true;
	*data = r->buf + rec->off;
	*len = rec->len;
	return 0;
}

int snap_get_var(struct snap_reader *r, const char *name, void *buf, size_t max, size_t *len)
{
	const void *data;
	size_t n;
	int err = snap_find(r, name, &data, &n);

	if (err)
		return err;
	if (n > max) {
		pr_err("snapshot %s: record '%s%s%s' has %zu bytes, at most %zu expected",
		       r->origin, r->scope, r->scope[0] ? "/" : "", name, n, max);
		return -EMSGSIZE;
	}
	if (n)
		memcpy(buf, data, n);
	*len = n;
	return 0;
}

int snap_get(struct snap_reader *r, const char *name, void *buf, size_t len)
{
	const void *data;
	size_t n;
	int err = snap_find(r, name, &data, &n);

	if (err)
		return err;
	if (n != len) {
		pr_err("snapshot %s: record '%s%s%s' has %zu bytes, %zu expected", r->origin,
		       r->scope, r->scope[0] ? "/" : "", name, n, len);
		return -EMSGSIZE;
	}
	if (n)
		memcpy(buf, data, n);
	return 0;
}

int snap_get_u64(struct snap_reader *r, const char *name, uint64_t *v)
{
	uint8_t b[8];
	int err = snap_get(r, name, b, sizeof(b));

	if (!err)
		*v = get_le(b, 8);
	return err;
}

const char *snap_unread(const struct snap_reader *r)
{
	for (size_t i = 0; i < r->nrecs; i++)
		if (!r->recs[i].read)
			return r->recs[i].name;
	return NULL;
}
