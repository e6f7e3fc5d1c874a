/* MMDS V2 session tokens (mmds_priv.h). Firecracker seals the expiry with
 * AES-GCM under a random key; volt signs it: a token is base64 of a 12-byte
 * nonce, the expiry (milliseconds of CLOCK_MONOTONIC, little endian) and 16
 * bytes of HMAC-SHA256 over both under the store's random key. Same length
 * as Firecracker's (48 characters), nothing kept per token, and a token that
 * was not made by this store (forged, altered, from another process) fails
 * the tag. The guest may read its expiry: it chose the TTL. */
#include "devices/mmds/mmds_priv.h"

#include "util/sha256.h"

#include <errno.h>
#include <string.h>

#define NONCE_LEN 12
#define TAG_LEN	  16
#define RAW_LEN	  (NONCE_LEN + 8 + TAG_LEN)
#define TEXT_LEN  (RAW_LEN / 3 * 4)
/* Firecracker's TOKEN_LENGTH_LIMIT: longer texts are not even decoded. */
#define TOKEN_LENGTH_LIMIT 70

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void mmds_hmac_sha256(const uint8_t *key, size_t key_len, const void *msg, size_t msg_len,
		      uint8_t out[32])
{
	uint8_t k[64] = { 0 }, pad[64], inner[32];
	struct sha256 s;
	size_t i;

	if (key_len > sizeof(k)) {
		sha256_init(&s);
		sha256_update(&s, key, key_len);
		sha256_final(&s, k);
	} else {
		memcpy(k, key, key_len);
	}
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	sha256_init(&s);
	sha256_update(&s, pad, sizeof(pad));
	sha256_update(&s, msg, msg_len);
	sha256_final(&s, inner);
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	sha256_init(&s);
	sha256_update(&s, pad, sizeof(pad));
	sha256_update(&s, inner, sizeof(inner));
	sha256_final(&s, out);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The tag of raw's nonce and expiry. */
static void tag_of(const struct mmds *m, const uint8_t *raw, uint8_t tag[32])
{
	uint8_t msg[16 + NONCE_LEN + 8];

	memcpy(msg, "volt-mmds-token1", 16);
	memcpy(msg + 16, raw, NONCE_LEN + 8);
	mmds_hmac_sha256(m->key, sizeof(m->key), msg, sizeof(msg), tag);
}

int mmds_token_new(struct mmds *m, uint32_t ttl_seconds, char out[MMDS_TOKEN_TEXT_MAX])
{
	uint8_t raw[RAW_LEN], h[32], ctr[8 + 5];
	size_t i, o = 0;

	if (ttl_seconds < MMDS_TOKEN_TTL_MIN || ttl_seconds > MMDS_TOKEN_TTL_MAX)
		return -EINVAL;
	/* A nonce no guest can predict, different for every token. */
	memcpy(ctr, "nonce", 5);
	put_le64(ctr + 5, m->tokens_made++);
	mmds_hmac_sha256(m->key, sizeof(m->key), ctr, sizeof(ctr), h);
	memcpy(raw, h, NONCE_LEN);
	put_le64(raw + NONCE_LEN, mmds_now_ms(m) + (uint64_t)ttl_seconds * 1000);
	tag_of(m, raw, h);
	memcpy(raw + NONCE_LEN + 8, h, TAG_LEN);
	for (i = 0; i < RAW_LEN; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];

		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
		out[o++] = b64[v & 63];
	}
	out[o] = '\0';
	return 0;
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

bool mmds_token_valid(struct mmds *m, const char *token, size_t len)
{
	uint8_t raw[RAW_LEN], tag[32], diff = 0;
	size_t i, o = 0;

	if (len > TOKEN_LENGTH_LIMIT || len != TEXT_LEN)
		return false;
	for (i = 0; i < len; i += 4) {
		uint32_t v = 0;

		for (int j = 0; j < 4; j++) {
			int d = b64_value(token[i + (size_t)j]);

			if (d < 0)
				return false;
			v = v << 6 | (uint32_t)d;
		}
		raw[o++] = (uint8_t)(v >> 16);
		raw[o++] = (uint8_t)(v >> 8);
		raw[o++] = (uint8_t)v;
	}
	tag_of(m, raw, tag);
	for (i = 0; i < TAG_LEN; i++)
		diff |= tag[i] ^ raw[NONCE_LEN + 8 + i];
	return !diff && get_le64(raw + NONCE_LEN) > mmds_now_ms(m);
}
