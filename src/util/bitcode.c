/* bitcode 0.6's serde encoding of a HashMap<String, Vec<u64>> (bitcode.h):
 * read column by column in the order the crate's serializer wrote them. */
#include "util/bitcode.h"
#include "util/parse.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* bitcode's length.rs: a length this large is refused ("huge length"). */
#define HUGE_LEN (UINT64_C(0x7FFFFFFFFFFFFFFF) / 4096)

struct in {
	const uint8_t *p;
	size_t left, len;
	const char *err; /* the first error, where it was found */
	size_t err_at;
};

static int fail(struct in *in, const char *what)
{
	if (!in->err) {
		in->err = what;
		in->err_at = in->len - in->left;
	}
	return -EINVAL;
}

/* what, about the byte at: its offset is the one shown. */
static int fail_at(struct in *in, const char *what, const uint8_t *at)
{
	int err = fail(in, what);

	if (in->err == what)
		in->err_at = (size_t)(at - (in->p - (in->len - in->left)));
	return err;
}

/* The next n bytes of the input, or NULL (EOF) when it has fewer. */
static const uint8_t *take(struct in *in, size_t n)
{
	const uint8_t *at = in->p;

	if (n > in->left) {
		fail(in, "EOF");
		return NULL;
	}
	in->p += n;
	in->left -= n;
	return at ? at : (const uint8_t *)""; /* an empty input may have no buffer */
}

/* A packing byte v: the packing (v + 1) / 2, which must be below kinds,
 * and whether a minimum follows (v odd). */
static int packing(struct in *in, unsigned int kinds, unsigned int *p, bool *with_min)
{
	const uint8_t *v;

	if (!(v = take(in, 1)))
		return -EINVAL;
	*p = (*v + 1u) / 2;
	if (*p >= kinds)
		return fail_at(in, "invalid packing", v);
	*with_min = *v & 1;
	return 0;
}

/* pack.rs's unpack_bytes: up to 2 bytes as they are; else a packing byte
 * (how many values share a byte, and whether a minimum byte follows, added
 * to each), then the bytes. Values in a shared byte are its digits in base
 * factor, least significant first. *out is malloc'ed once the input is
 * known to hold n values (so n is at most 8 per byte of it). */
static int unpack_bytes(struct in *in, size_t n, uint8_t **out)
{
	static const uint8_t factor[] = { 0, 16, 6, 4, 3, 2 };
	static const uint8_t per_byte[] = { 1, 2, 3, 4, 5, 8 };
	const uint8_t *src;
	unsigned int p = 0;
	uint8_t min = 0;
	size_t i;

	if (n > 2) {
		bool with_min = false;

		if (packing(in, sizeof(factor), &p, &with_min))
			return -EINVAL;
		if (with_min) {
			const uint8_t *m;

			if (!(m = take(in, 1)))
				return -EINVAL;
			min = *m;
		}
	}
	if (!(src = take(in, n / per_byte[p] + (n % per_byte[p] != 0))))
		return -EINVAL;
	*out = malloc(n + 1);
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		unsigned int b = src[i / per_byte[p]];
		size_t k;

		if (!p) {
			(*out)[i] = (uint8_t)b;
			continue;
		}
		for (k = i % per_byte[p]; k; k--)
			b /= factor[p];
		(*out)[i] = (uint8_t)(b % factor[p] + min);
	}
	return 0;
}

/* pack_ints.rs's unpack_ints for u64: a packing byte (the width each value
 * takes: 8, 4, 2 bytes or packed bytes, and whether a u64 minimum follows,
 * added to each), then the values, little-endian. Nothing for n == 0.
 * *out is malloc'ed as unpack_bytes()'s is. */
static int unpack_u64s(struct in *in, size_t n, uint64_t **out)
{
	static const uint8_t width[] = { 8, 4, 2, 1 };
	const uint8_t *src = NULL;
	uint8_t *bytes = NULL;
	uint64_t min = 0;
	unsigned int p = 0;
	size_t i, b;
	bool with_min = false;

	*out = NULL;
	if (!n)
		return 0;
	if (packing(in, sizeof(width), &p, &with_min))
		return -EINVAL;
	if (with_min) {
		if (!(src = take(in, 8)))
			return -EINVAL;
		for (b = 0; b < 8; b++)
			min |= (uint64_t)src[b] << (8 * b);
	}
	if (width[p] == 1) {
		int err = unpack_bytes(in, n, &bytes);

		if (err)
			return err;
	} else if (n > in->left / width[p] || !(src = take(in, n * width[p]))) {
		return fail(in, "EOF");
	}
	*out = malloc(n * sizeof(**out));
	if (!*out) {
		free(bytes);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		uint64_t x = 0;

		if (bytes)
			x = bytes[i];
		for (b = 0; !bytes && b < width[p]; b++)
			x |= (uint64_t)src[i * width[p] + b] << (8 * b);
		(*out)[i] = x + min; /* wrapping, as the crate adds it */
	}
	free(bytes);
	return 0;
}

/* length.rs: n lengths as bytes, 255 marking one that follows among the
 * u64s after them; *sum is their total. *out is malloc'ed (n > 0). */
static int lengths(struct in *in, size_t n, uint64_t **out, uint64_t *sum)
{
	uint8_t *small = NULL;
	uint64_t *lens = NULL, *large = NULL, s = 0;
	size_t i, j = 0, nlarge = 0;
	int err;

	err = unpack_bytes(in, n, &small);
	for (i = 0; !err && i < n; i++) {
		s += small[i];
		nlarge += small[i] == 255;
	}
	if (!err && s >= 255) {
		/* Only now are there 255s to stand for larger lengths. */
		err = unpack_u64s(in, nlarge, &large);
		s -= 255 * (uint64_t)nlarge;
		for (j = 0; !err && j < nlarge; j++)
			if (__builtin_add_overflow(s, large[j], &s))
				err = fail(in, "length overflow");
		if (!err && s >= HUGE_LEN)
			err = fail(in, "huge length");
	}
	if (!err && !(lens = malloc(n * sizeof(*lens))))
		err = -ENOMEM;
	for (i = j = 0; !err && i < n; i++)
		lens[i] = small[i] < 255 || !large ? small[i] : large[j++];
	free(small);
	free(large);
	if (err) {
		free(lens);
		return err;
	}
	*out = lens;
	*sum = s;
	return 0;
}

void bitcode_map_free(struct bitcode_map *m)
{
	size_t i;

	for (i = 0; m->e && i < m->n; i++) {
		free(m->e[i].key);
		free(m->e[i].vals);
	}
	free(m->e);
	m->e = NULL;
	m->n = 0;
}

/* The columns of a non-empty map, into out. */
static int decode_entries(struct in *in, size_t n, struct bitcode_map *out)
{
	uint64_t *klen = NULL, *vlen = NULL, *vals = NULL, ksum = 0, vsum = 0, voff = 0;
	const uint8_t *keys = NULL;
	size_t i, koff = 0;
	int err;

	err = lengths(in, n, &klen, &ksum);
	if (!err)
		err = (keys = take(in, ksum)) ? 0 : -EINVAL;
	if (!err)
		err = lengths(in, n, &vlen, &vsum);
	if (!err)
		err = unpack_u64s(in, vsum, &vals);
	if (!err && in->left)
		err = fail(in, "Expected EOF");
	if (!err && !(out->e = calloc(n, sizeof(*out->e))))
		err = -ENOMEM;
	for (i = 0; !err && i < n; i++) {
		struct bitcode_entry *e = &out->e[i];

		out->n = i + 1;
		if (!utf8_valid(keys + koff, klen[i])) {
			err = fail(in, "invalid utf8");
			break;
		}
		e->key = malloc(klen[i] + 1);
		e->vals = malloc(vlen[i] * sizeof(*e->vals) + 1);
		if (!e->key || !e->vals) {
			err = -ENOMEM;
			break;
		}
		memcpy(e->key, keys + koff, klen[i]);
		e->key[klen[i]] = '\0';
		e->key_len = klen[i];
		if (vlen[i])
			memcpy(e->vals, vals + voff, vlen[i] * sizeof(*e->vals));
		e->nvals = vlen[i];
		koff += klen[i];
		voff += vlen[i];
	}
	free(klen);
	free(vlen);
	free(vals);
	return err;
}

int bitcode_decode(const uint8_t *buf, size_t len, struct bitcode_map *out, char *why,
		   size_t why_size)
{
	struct in in = { .p = buf, .left = len, .len = len };
	uint64_t *mlen = NULL, n = 0;
	int err;

	*out = (struct bitcode_map){ 0 };
	err = lengths(&in, 1, &mlen, &n);
	free(mlen);
	if (!err && n)
		err = decode_entries(&in, n, out);
	else if (!err && in.left)
		err = fail(&in, "Expected EOF");
	if (err) {
		bitcode_map_free(out);
		if (in.err)
			snprintf(why, why_size, "%s at byte %zu", in.err, in.err_at);
		else
			snprintf(why, why_size, "%s", strerror(-err));
	}
	return err;
}
