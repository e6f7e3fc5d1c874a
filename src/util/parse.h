/* Parsing what users and files hand volt: numbers, sizes, key=value lines.
 * Each returns 0 or -EINVAL/-ERANGE and leaves the message to the caller, who
 * knows which option or file the text came from. */
#ifndef VOLT_UTIL_PARSE_H
#define VOLT_UTIL_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A decimal number in [min, max], nothing else (no sign, no spaces). */
int parse_uint(const char *s, unsigned int min, unsigned int max, unsigned int *out);
/* Human sizes: "512", "64K", "128M", "2G" (powers of 1024; an optional trailing
 * "iB" or "B" is accepted). */
/* default_unit applies to a bare number (1 for bytes, 1 << 20 for MiB). */
int parse_size(const char *s, uint64_t default_unit, uint64_t *bytes);
/* Firecracker's rule for the ids of devices (its checked_id): at least one
 * character, each of [A-Za-z0-9_], no length limit (volt's letters and digits
 * are ASCII; Firecracker's are Unicode's). The one check behind FIELD_ID
 * (`volt run --drive id=`, the API's drive_id...), the ids in API paths and
 * the config file's: -EINVAL with the reason in why (the caller names the
 * field in its own words; a message shows at most PARSE_ID_SHOWN bytes of
 * the id). */
#define PARSE_ID_SHOWN 64
/* An id in a message: printf("'" PARSE_ID_FMT "'", PARSE_ID_ARG(id)) shows
 * its first PARSE_ID_SHOWN characters, then "..." when there are more. */
#define PARSE_ID_FMT	 "%.*s%s"
#define PARSE_ID_ARG(id) PARSE_ID_SHOWN, (id), strlen(id) > PARSE_ID_SHOWN ? "..." : ""
int parse_id_check(const char *id, char *why, size_t why_size);
/* 0-15 for a hex digit, else -1. */
int parse_hex_digit(char c);
/* Copies in to out (NUL-terminated, cut to fit size, never inside a UTF-8
 * sequence) with control bytes as \n, \t, \r or \xNN, and with utf8_only
 * also the bytes that are no valid UTF-8 (valid sequences kept: a JSON
 * string's, as Firecracker's messages show them): what a user or client
 * sent, shown without letting it forge lines or bytes. */
void escape_controls(const char *in, char *out, size_t size, bool utf8_only);
/* UTF-8 as Rust's str takes it (no overlong forms, no surrogates, nothing
 * past U+10FFFF): utf8_len() is the length of the sequence at s (n bytes
 * left; n > 0), 0 when it is not a valid one or is cut; utf8_valid() says
 * whether all n bytes are. */
size_t utf8_len(const unsigned char *s, size_t n);
bool utf8_valid(const void *s, size_t n);
/* The value of the first "key=value" line of text (truncated to size). */
bool text_value(const char *text, const char *key, char *val, size_t size);

#endif
