/* What the MMDS's own files (mmds_store.c, mmds_token.c, mmds_http.c) and
 * its unit tests share besides the public contract (mmds.h): the store's
 * struct, a growable byte buffer, serde_json's text form of a JSON value,
 * and the V2 session tokens. Not for other layers. */
#ifndef VOLT_DEVICES_MMDS_MMDS_PRIV_H
#define VOLT_DEVICES_MMDS_MMDS_PRIV_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/mmds/mmds.h"

#define MMDS_TOKEN_KEY_LEN 32
/* A token's text: base64 of 36 bytes (Firecracker's length: 48). */
#define MMDS_TOKEN_TEXT_MAX 64

struct mmds {
	pthread_mutex_t lock;
	/* Firecracker's data_store: JSON null until the first PUT, which sets
	 * initialized (a PATCH needs it). */
	json_t *data;
	bool initialized;
	size_t limit;
	struct mmds_config cfg;
	/* The tokens' HMAC key, random per store: a token from another process
	 * (a snapshot's source VM) is not valid here, as in Firecracker. */
	uint8_t key[MMDS_TOKEN_KEY_LEN];
	uint64_t tokens_made; /* makes every token's text different */
	/* The tokens' clock in milliseconds (CLOCK_MONOTONIC); the unit tests
	 * replace it. */
	uint64_t (*now_ms)(void *ctx);
	void *now_ctx;
};

/* The unit tests' clock. */
void mmds_set_clock(struct mmds *m, uint64_t (*now_ms)(void *ctx), void *ctx);

struct mmds_buf {
	char *p;
	size_t len, cap;
	bool oom; /* an append failed: p holds what fitted before */
};

void mmds_buf_add(struct mmds_buf *b, const void *data, size_t len);
void mmds_buf_str(struct mmds_buf *b, const char *s);
void mmds_buf_printf(struct mmds_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* v as serde_json's to_string() writes it (Firecracker's JSON answers and
 * its size limit): compact, object keys in byte order (serde_json's
 * BTreeMap), strings escaped as serde does, floats in their shortest
 * round-trip form ("1.0", "1e300"). */
void mmds_json_dump(const json_t *v, struct mmds_buf *b);
/* An object's keys in byte order, malloc'd (NULL: an empty object, *n 0,
 * or no memory). */
const char **mmds_sorted_keys(const json_t *obj, size_t *n);
/* Parses any JSON value as serde_json::from_slice does (duplicate keys: the
 * last wins; at most 127 nested arrays or objects; an integer above i64's
 * range kept exactly up to 2^64-1, a real beyond, as serde_json's Value
 * keeps it); NULL with why set. */
json_t *mmds_json_parse(const char *text, size_t len, char *why, size_t why_size);
/* An integer above i64's range (jansson's): kept as a string of 0xff and its
 * digits, which no parsed text can give (jansson's strings are UTF-8).
 * mmds_json_dump() writes it as the number; it is no string to anything
 * else. */
bool mmds_is_big_integer(const json_t *v);
/* serde_json's Value::pointer(): "" is v itself, "/a/0" a member then an
 * element ("~1" is '/', "~0" '~'); NULL when there is no such value. */
const json_t *mmds_json_pointer(const json_t *v, const char *ptr, size_t len);

/* V2 session tokens (mmds_token.c), m->lock held. Stateless: the text
 * carries its expiry and an HMAC-SHA256 tag under m->key, so nothing grows
 * with the number of tokens. new: -EINVAL when ttl is outside
 * MMDS_TOKEN_TTL_MIN..MMDS_TOKEN_TTL_MAX. */
int mmds_token_new(struct mmds *m, uint32_t ttl_seconds, char out[MMDS_TOKEN_TEXT_MAX]);
bool mmds_token_valid(struct mmds *m, const char *token, size_t len);
uint64_t mmds_now_ms(struct mmds *m);

/* HMAC-SHA256 (RFC 2104). */
void mmds_hmac_sha256(const uint8_t *key, size_t key_len, const void *msg, size_t msg_len,
		      uint8_t out[32]);

#endif
