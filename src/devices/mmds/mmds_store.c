/* The MMDS data store (devices/mmds/mmds.h): Firecracker's Mmds with its
 * rules (PUT replaces, PATCH is an RFC 7396 merge patch on a store that was
 * PUT, both refused past the limit counted on serde_json's compact text),
 * and the JSON text helpers the guest's answers share (mmds_priv.h). */
#include "devices/mmds/mmds_priv.h"

#include "util/why.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* serde_json's recursion limit: 128 levels less the one it starts with. */
#define JSON_DEPTH_MAX 127

/* --- the buffer ---------------------------------------------------------- */

void mmds_buf_add(struct mmds_buf *b, const void *data, size_t len)
{
	if (b->oom || !len)
		return;
	if (len > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap - b->len < len) {
			if (cap > SIZE_MAX / 2) {
				b->oom = true;
				return;
			}
			cap *= 2;
		}
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

void mmds_buf_str(struct mmds_buf *b, const char *s)
{
	mmds_buf_add(b, s, strlen(s));
}

void mmds_buf_printf(struct mmds_buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->oom = true;
		return;
	}
	mmds_buf_add(b, tmp, (size_t)n);
}

/* --- serde_json's text --------------------------------------------------- */

static void dump_string(const char *s, size_t len, struct mmds_buf *b)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	mmds_buf_add(b, "\"", 1);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = { '\\', 0 };
		size_t n = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		mmds_buf_add(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		mmds_buf_add(b, esc, n);
	}
	mmds_buf_add(b, s + run, len - run);
	mmds_buf_add(b, "\"", 1);
}

/* ryu's format (serde_json's f64): the shortest digits that read back as
 * d, as 12.34, 1000.0, 0.001234, 1e30 or 1.234e33. */
static void dump_real(double d, struct mmds_buf *b)
{
	char e[40], digits[24] = { '0' }, out[48];
	int prec, exp10, n = 0, kk, i, o = 0;
	const char *p;

	if (d == 0) {
		mmds_buf_str(b, signbit(d) ? "-0.0" : "0.0");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, d);
		if (strtod(e, NULL) == d)
			break;
	}
	p = e;
	if (*p == '-')
		out[o++] = *p++;
	for (; *p && *p != 'e'; p++)
		if (*p != '.')
			digits[n++] = *p;
	while (n > 1 && digits[n - 1] == '0')
		n--;
	exp10 = atoi(p + 1);
	kk = exp10 + 1; /* 10^(kk-1) <= |d| < 10^kk */
	if (kk >= n && kk <= 16) {
		memcpy(out + o, digits, (size_t)n);
		o += n;
		for (i = n; i < kk; i++)
			out[o++] = '0';
		out[o++] = '.';
		out[o++] = '0';
	} else if (kk > 0 && kk <= 16) {
		memcpy(out + o, digits, (size_t)kk);
		o += kk;
		out[o++] = '.';
		memcpy(out + o, digits + kk, (size_t)(n - kk));
		o += n - kk;
	} else if (kk > -5 && kk <= 0) {
		out[o++] = '0';
		out[o++] = '.';
		for (i = 0; i < -kk; i++)
			out[o++] = '0';
		memcpy(out + o, digits, (size_t)n);
		o += n;
	} else {
		out[o++] = digits[0];
		if (n > 1) {
			out[o++] = '.';
			memcpy(out + o, digits + 1, (size_t)(n - 1));
			o += n - 1;
		}
		o += snprintf(out + o, sizeof(out) - (size_t)o, "e%d", kk - 1);
	}
	mmds_buf_add(b, out, (size_t)o);
}

/* Keys in byte order (strcmp: keys hold no NUL). A merge sort of volt's
 * own: glibc's qsort may call sysinfo(), which the seccomp filters kill. */
static void sort_keys(const char **k, const char **tmp, size_t n)
{
	size_t mid = n / 2, i = 0, j = mid, o = 0;

	if (n < 2)
		return;
	sort_keys(k, tmp, mid);
	sort_keys(k + mid, tmp, n - mid);
	while (i < mid && j < n)
		tmp[o++] = strcmp(k[i], k[j]) <= 0 ? k[i++] : k[j++];
	while (i < mid)
		tmp[o++] = k[i++];
	while (j < n)
		tmp[o++] = k[j++];
	memcpy(k, tmp, n * sizeof(*k));
}

const char **mmds_sorted_keys(const json_t *obj, size_t *n)
{
	const char **k, **tmp, *key;
	size_t i = 0;
	json_t *v;

	*n = json_object_size(obj);
	if (!*n)
		return NULL;
	k = calloc(*n * 2, sizeof(*k));
	if (!k)
		return NULL;
	tmp = k + *n;
	json_object_foreach((json_t *)obj, key, v)
	{
		if (i < *n)
			k[i++] = key;
	}
	*n = i;
	sort_keys(k, tmp, i);
	return k;
}

void mmds_json_dump(const json_t *v, struct mmds_buf *b)
{
	const char **keys;
	size_t i, n;

	switch (json_typeof(v)) {
	case JSON_NULL:
		mmds_buf_str(b, "null");
		return;
	case JSON_TRUE:
		mmds_buf_str(b, "true");
		return;
	case JSON_FALSE:
		mmds_buf_str(b, "false");
		return;
	case JSON_INTEGER:
		mmds_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	case JSON_REAL:
		dump_real(json_real_value(v), b);
		return;
	case JSON_STRING:
		if (mmds_is_big_integer(v))
			mmds_buf_add(b, json_string_value(v) + 1, json_string_length(v) - 1);
		else
			dump_string(json_string_value(v), json_string_length(v), b);
		return;
	case JSON_ARRAY:
		mmds_buf_add(b, "[", 1);
		for (i = 0; i < json_array_size(v); i++) {
			if (i)
				mmds_buf_add(b, ",", 1);
			mmds_json_dump(json_array_get(v, i), b);
		}
		mmds_buf_add(b, "]", 1);
		return;
	case JSON_OBJECT:
		keys = mmds_sorted_keys(v, &n);
		if (n && !keys) {
			b->oom = true;
			return;
		}
		mmds_buf_add(b, "{", 1);
		for (i = 0; i < n; i++) {
			if (i)
				mmds_buf_add(b, ",", 1);
			dump_string(keys[i], strlen(keys[i]), b);
			mmds_buf_add(b, ":", 1);
			mmds_json_dump(json_object_get(v, keys[i]), b);
		}
		mmds_buf_add(b, "}", 1);
		free(keys);
		return;
	}
}

static size_t depth(const json_t *v)
{
	size_t i, d = 0, e;
	const char *k;
	json_t *m;

	if (json_is_array(v))
		for (i = 0; i < json_array_size(v); i++) {
			e = depth(json_array_get(v, i));
			d = e > d ? e : d;
			if (d > JSON_DEPTH_MAX)
				break;
		}
	else if (json_is_object(v))
		json_object_foreach((json_t *)v, k, m)
		{
			e = depth(m);
			d = e > d ? e : d;
			if (d > JSON_DEPTH_MAX)
				break;
		}
	else
		return 0;
	return d + 1;
}

/* serde's words for a text cut short ("EOF while parsing an object"), which
 * Firecracker's tests look for, out of jansson's ("'}' expected near end of
 * file"); NULL for any other error. */
static const char *eof_words(const json_error_t *e)
{
	if (json_error_code(e) != json_error_premature_end_of_input)
		return NULL;
	if (strstr(e->text, "'}' expected"))
		return "EOF while parsing an object";
	if (strstr(e->text, "']' expected"))
		return "EOF while parsing a list";
	if (strstr(e->text, "near '\""))
		return "EOF while parsing a string";
	return "EOF while parsing a value";
}

/* --- integers past i64 ------------------------------------------------------ */

#define BIG_INTEGER_MARK '\xff'

bool mmds_is_big_integer(const json_t *v)
{
	return json_is_string(v) && json_string_length(v) > 1 &&
	       json_string_value(v)[0] == BIG_INTEGER_MARK;
}

/* Whether the digits s[0..n) (no sign, no leading zero) exceed limit's. */
static bool digits_over(const char *s, size_t n, const char *limit)
{
	size_t ln = strlen(limit);

	return n != ln ? n > ln : memcmp(s, limit, n) > 0;
}

/* Whether text holds the escape \u00XX of control byte c (in either case):
 * the only way a JSON string can hold it. A "\\u00.." (an escaped
 * backslash) counts too: it only makes another byte be chosen. */
static bool has_escape_of(const char *text, size_t len, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	const char *p = text, *end = text + len;

	while ((p = memmem(p, (size_t)(end - p), "\\u00", 4)) && end - p >= 6) {
		if (p[4] == hex[c >> 4] && (p[5] | 0x20) == hex[c & 15])
			return true;
		p += 4;
	}
	return false;
}

/* The text with each integer jansson cannot hold rewritten (the caller
 * frees it; *out_len its length): one of u64's range as a string of mark
 * and its digits, a larger (or more negative) one with ".0" after it, a real
 * that rounds as serde_json's f64 does; and -0 as -0.0, the f64 serde_json
 * makes of it (jansson's integer 0 would lose the sign). NULL: no memory. */
static char *rewrite_big_integers(const char *text, size_t len, char mark, size_t *out_len)
{
	struct mmds_buf b = { 0 };
	size_t i = 0, run = 0;

	while (i < len) {
		size_t s = i, d;
		bool neg;

		if (text[i] == '"') { /* a string: up to its unescaped quote */
			for (i++; i < len && text[i] != '"'; i++)
				i += text[i] == '\\';
			i++;
			continue;
		}
		if (text[i] != '-' && (text[i] < '0' || text[i] > '9')) {
			i++;
			continue;
		}
		neg = text[i] == '-';
		d = i + neg;
		for (i = d; i < len && text[i] >= '0' && text[i] <= '9'; i++)
			;
		if (i == d || (text[d] == '0' && i - d > 1) ||
		    (i < len && strchr(".eE", text[i]))) {
			while (i < len && strchr("0123456789.eE+-", text[i]))
				i++;
			continue; /* a real, or no number jansson takes */
		}
		if (neg && i - d == 1 && text[d] == '0') {
			mmds_buf_add(&b, text + run, s - run);
			mmds_buf_add(&b, "-0.0", 4);
			run = i;
			continue;
		}
		if (!digits_over(text + d, i - d,
				 neg ? "9223372036854775808" : "9223372036854775807"))
			continue;
		mmds_buf_add(&b, text + run, s - run);
		if (!neg && !digits_over(text + d, i - d, "18446744073709551615")) {
			mmds_buf_printf(&b, "\"\\u00%02x", (unsigned char)mark);
			mmds_buf_add(&b, text + d, i - d);
			mmds_buf_add(&b, "\"", 1);
		} else {
			mmds_buf_add(&b, text + s, i - s);
			mmds_buf_add(&b, ".0", 2);
		}
		run = i;
	}
	mmds_buf_add(&b, text + run, len - run);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*out_len = b.len;
	return b.p;
}

/* v itself when it is no rewritten integer (a string that starts with mark:
 * no other can), else a new big integer (NULL: no memory). */
static json_t *big_integer_of(json_t *v, char mark)
{
	char digits[24];

	if (!json_is_string(v) || json_string_value(v)[0] != mark)
		return v;
	snprintf(digits, sizeof(digits), "%c%s", BIG_INTEGER_MARK, json_string_value(v) + 1);
	return json_string_nocheck(digits);
}

/* Every rewritten integer in v made a big integer. */
static int mark_big_integers(json_t *v, char mark)
{
	const char *k;
	json_t *m, *n;
	size_t i;

	if (json_is_array(v)) {
		for (i = 0; i < json_array_size(v); i++) {
			m = json_array_get(v, i);
			n = big_integer_of(m, mark);
			if (n != m ? json_array_set_new(v, i, n) : mark_big_integers(m, mark))
				return -ENOMEM;
		}
		return 0;
	}
	if (!json_is_object(v))
		return 0;
	/* Replacing a member's value is safe while iterating (its slot
	 * stays); removing one would not be. */
	json_object_foreach(v, k, m)
	{
		n = big_integer_of(m, mark);
		if (n != m ? json_object_set_new(v, k, n) : mark_big_integers(m, mark))
			return -ENOMEM;
	}
	return 0;
}

/* The text again, its big integers rewritten, when jansson refused one or
 * it may hold a -0: a mark byte the text has no escape of (so no string of it
 * holds one), else the first refusal stands (or, for -0, the first load). */
static json_t *load_big_integers(const char *text, size_t len, json_error_t *e)
{
	static const char marks[] = "\x01\x02\x03\x04\x05\x06\x07\x0b\x0e\x0f\x10\x11"
				    "\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f";
	json_error_t again;
	const char *mark;
	size_t copy_len;
	char *copy;
	json_t *j;

	for (mark = marks; *mark && has_escape_of(text, len, (unsigned char)*mark); mark++)
		;
	/* Not empty: it holds the integer jansson refused. */
	if (!*mark || !(copy = rewrite_big_integers(text, len, *mark, &copy_len)))
		return NULL;
	j = json_loadb(copy, copy_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &again);
	free(copy);
	if (!j && json_error_code(&again) != json_error_numeric_overflow) {
		/* Another fault: its column and what it is near are the
		 * rewritten text's, so only its line and reason are told. */
		char *near = strstr(again.text, " near ");

		if (near)
			*near = '\0';
		*e = again;
		e->column = -1;
	}
	if (j && depth(j) <= JSON_DEPTH_MAX) {
		json_t *top = big_integer_of(j, *mark);

		if (top != j) { /* the text is one big integer */
			json_decref(j);
			return top;
		}
		if (mark_big_integers(j, *mark)) {
			json_decref(j);
			return NULL;
		}
	}
	return j;
}

json_t *mmds_json_parse(const char *text, size_t len, char *why, size_t why_size)
{
	json_error_t e;
	json_t *j;

	/* jansson's own nesting limit (2048) bounds depth()'s recursion. */
	j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (!j && json_error_code(&e) == json_error_numeric_overflow) {
		j = load_big_integers(text, len, &e);
	} else if (j && memmem(text, len, "-0", 2)) {
		/* Maybe a -0 (or "-0" in a string: loaded alike again). */
		json_t *again = load_big_integers(text, len, &e);

		if (again) {
			json_decref(j);
			j = again;
		}
	}
	if (!j) {
		const char *eof = eof_words(&e);
		char at[64];

		if (e.column < 0)
			snprintf(at, sizeof(at), "line %d", e.line);
		else
			snprintf(at, sizeof(at), "line %d, column %d", e.line, e.column);
		if (eof)
			why_fail(why, why_size, -EINVAL, "invalid JSON at %s: %s (%s)", at, eof,
				 e.text);
		else
			why_fail(why, why_size, -EINVAL, "invalid JSON at %s: %s", at, e.text);
		return NULL;
	}
	if (depth(j) > JSON_DEPTH_MAX) {
		json_decref(j);
		why_fail(why, why_size, -EINVAL, "recursion limit exceeded (at most %d levels)",
			 JSON_DEPTH_MAX);
		return NULL;
	}
	return j;
}

int mmds_json_check(const char *json, size_t len, char *why, size_t why_size)
{
	json_t *j = mmds_json_parse(json, len, why, why_size);

	json_decref(j);
	return j ? 0 : -EINVAL;
}

/* serde_json's parse_index: decimal, no sign, no leading zero. */
static bool parse_index(const char *s, size_t *out)
{
	size_t v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (SIZE_MAX - 9) / 10)
			return false;
		v = v * 10 + (size_t)(*s - '0');
	}
	*out = v;
	return true;
}

/* "~1" then "~0" replaced, in serde's order (so "~01" is "~1"): src's n
 * bytes into dst, NUL-terminated (dst holds n + 1). */
static void unescape(const char *src, size_t n, char *dst)
{
	size_t i, o = 0, w = 0;

	for (i = 0; i < n; i++) {
		bool one = src[i] == '~' && i + 1 < n && src[i + 1] == '1';

		dst[o++] = one ? '/' : src[i];
		i += one;
	}
	for (i = 0; i < o; i++) {
		bool zero = dst[i] == '~' && i + 1 < o && dst[i + 1] == '0';

		dst[w++] = dst[i];
		i += zero;
	}
	dst[w] = '\0';
}

const json_t *mmds_json_pointer(const json_t *v, const char *ptr, size_t len)
{
	size_t i = 0;
	char *tok;

	if (!len)
		return v;
	/* A key never holds NUL (jansson's keys cannot). */
	if (ptr[0] != '/' || memchr(ptr, '\0', len))
		return NULL;
	tok = malloc(2 * (len + 1));
	if (!tok)
		return NULL;
	while (v && i < len) {
		char *raw = tok + len + 1;
		size_t n = 0, idx;

		/* One token: up to the next '/'. */
		for (i++; i < len && ptr[i] != '/'; i++)
			raw[n++] = ptr[i];
		unescape(raw, n, tok);
		if (json_is_object(v))
			v = json_object_get(v, tok);
		else if (json_is_array(v) && parse_index(tok, &idx))
			v = json_array_get(v, idx);
		else
			v = NULL;
	}
	free(tok);
	return v;
}

/* --- the store ------------------------------------------------------------ */

static uint64_t monotonic_ms(void *ctx)
{
	struct timespec t;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

int mmds_create(struct mmds **out, size_t size_limit)
{
	struct mmds *m = calloc(1, sizeof(*m));
	size_t got = 0;

	*out = NULL;
	if (!m)
		return -ENOMEM;
	while (got < sizeof(m->key)) {
		ssize_t n = getrandom(m->key + got, sizeof(m->key) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(m);
			return n < 0 ? -errno : -EIO;
		}
		got += (size_t)n;
	}
	m->data = json_null();
	m->limit = size_limit;
	m->cfg = (struct mmds_config){ .version = MMDS_V1, .ipv4 = MMDS_DEFAULT_IPV4 };
	m->now_ms = monotonic_ms;
	pthread_mutex_init(&m->lock, NULL);
	*out = m;
	return 0;
}

void mmds_destroy(struct mmds *m)
{
	if (!m)
		return;
	json_decref(m->data);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void mmds_set_clock(struct mmds *m, uint64_t (*now_ms)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&m->lock);
	m->now_ms = now_ms ? now_ms : monotonic_ms;
	m->now_ctx = ctx;
	pthread_mutex_unlock(&m->lock);
}

uint64_t mmds_now_ms(struct mmds *m)
{
	return m->now_ms(m->now_ctx);
}

void mmds_set_config(struct mmds *m, const struct mmds_config *c)
{
	pthread_mutex_lock(&m->lock);
	m->cfg = *c;
	pthread_mutex_unlock(&m->lock);
}

void mmds_get_config(struct mmds *m, struct mmds_config *c)
{
	pthread_mutex_lock(&m->lock);
	*c = m->cfg;
	pthread_mutex_unlock(&m->lock);
}

/* v fits the limit as Firecracker counts it (serde_json::to_vec's length). */
static int fits(const struct mmds *m, const json_t *v)
{
	struct mmds_buf b = { 0 };
	int err;

	mmds_json_dump(v, &b);
	err = b.oom ? -ENOMEM : b.len > m->limit ? -EFBIG : 0;
	free(b.p);
	return err;
}

int mmds_put(struct mmds *m, const char *json, size_t len, char *why, size_t why_size)
{
	json_t *v = mmds_json_parse(json, len, why, why_size);
	int err;

	if (!v)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	err = fits(m, v);
	if (!err) {
		json_decref(m->data);
		m->data = v;
		m->initialized = true;
		v = NULL;
	}
	pthread_mutex_unlock(&m->lock);
	json_decref(v);
	if (err == -EFBIG)
		why_fail(why, why_size, err, "The MMDS patch request doesn't fit.");
	return err;
}

/* Firecracker's json_patch() on an object: null removes, an object merges
 * into the member (made an object if it was not), anything else replaces. */
static int merge_into(json_t *obj, const json_t *patch)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)patch, k, v)
	{
		json_t *t;

		if (json_is_null(v)) {
			json_object_del(obj, k);
			continue;
		}
		if (!json_is_object(v)) {
			if (json_object_set_new(obj, k, json_deep_copy(v)))
				return -ENOMEM;
			continue;
		}
		t = json_object_get(obj, k);
		if (!json_is_object(t)) {
			t = json_object();
			if (json_object_set_new(obj, k, t))
				return -ENOMEM;
		}
		if (merge_into(t, v))
			return -ENOMEM;
	}
	return 0;
}

int mmds_patch(struct mmds *m, const char *json, size_t len, char *why, size_t why_size)
{
	json_t *p = mmds_json_parse(json, len, why, why_size), *next = NULL;
	int err = 0;

	if (!p)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	if (!m->initialized) {
		err = why_fail(why, why_size, -ENOENT, "The MMDS data store is not initialized.");
	} else if (json_is_object(p)) {
		next = json_is_object(m->data) ? json_deep_copy(m->data) : json_object();
		err = next ? merge_into(next, p) : -ENOMEM;
	} else {
		next = json_incref(p);
	}
	if (!err && (err = fits(m, next)) == -EFBIG)
		why_fail(why, why_size, err, "The MMDS patch request doesn't fit.");
	if (!err) {
		json_decref(m->data);
		m->data = next;
		next = NULL;
	}
	pthread_mutex_unlock(&m->lock);
	json_decref(next);
	json_decref(p);
	if (err == -ENOMEM)
		why_fail(why, why_size, err, "out of memory");
	return err;
}

char *mmds_get_json(struct mmds *m)
{
	struct mmds_buf b = { 0 };

	pthread_mutex_lock(&m->lock);
	/* Firecracker's GET /mmds answers {} for a store never PUT. */
	if (json_is_null(m->data))
		mmds_buf_str(&b, "{}");
	else
		mmds_json_dump(m->data, &b);
	pthread_mutex_unlock(&m->lock);
	mmds_buf_add(&b, "", 1);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
