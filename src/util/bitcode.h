/* A map of strings to lists of u64 as the Rust crate bitcode 0.6 serializes
 * one with serde (bitcode::serialize of a HashMap<String, Vec<u64>>): the
 * format of Firecracker's seccomp filter files (its seccompiler writes them,
 * --seccomp-filter reads them). Only that one shape is decoded.
 *
 * The format is columnar: the map's length, every key's length, the keys'
 * bytes, every list's length, then every u64 of every list; lengths and
 * integers are packed (narrower integers, an offset, several small values to
 * a byte), as bitcode's pack.rs and pack_ints.rs write them. Nothing in the
 * input is trusted: every count is bounded by the bytes left to hold it
 * before anything is allocated, keys must be UTF-8, and the input must end
 * where the map does. bitcode_decode() fills *out (free with
 * bitcode_map_free()) and returns 0, or -EINVAL with what is wrong in why
 * ("EOF", "invalid packing", ... with the byte offset). */
#ifndef VOLT_UTIL_BITCODE_H
#define VOLT_UTIL_BITCODE_H

#include <stddef.h>
#include <stdint.h>

struct bitcode_entry {
	char *key; /* NUL-terminated copy; key_len bytes (may hold NULs) */
	size_t key_len;
	uint64_t *vals;
	size_t nvals;
};

struct bitcode_map {
	struct bitcode_entry *e;
	size_t n; /* in the file's order; a key may repeat */
};

int bitcode_decode(const uint8_t *buf, size_t len, struct bitcode_map *out, char *why,
		   size_t why_size);
void bitcode_map_free(struct bitcode_map *m);

#endif
