/* SHA-256 (FIPS 180-4), used for cache keys; not for anything secret. */
#ifndef VOLT_UTIL_SHA256_H
#define VOLT_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t fill;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, uint8_t out[32]);
/* Lower-case hex of the digest; out must hold 65 bytes. */
void sha256_hex(struct sha256 *s, char out[65]);

#endif
