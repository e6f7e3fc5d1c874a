/* MMDS, Firecracker's microVM metadata service: a JSON store the API writes
 * (PUT/PATCH /mmds) and the guest reads over HTTP at one IPv4 address
 * (default 169.254.169.254) on the virtio-net interfaces that
 * PUT /mmds/config names. This header is the contract between three parts:
 *  - the store, its tokens and the guest's HTTP answers (mmds_store.c,
 *    mmds_token.c, mmds_http.c): any thread, a mutex inside;
 *  - the network stack (mmds_stack.h): ARP, IPv4 and TCP for that address
 *    only, one per MMDS-enabled interface, run on the device thread;
 *  - the API and configuration (api/, vmm/), which create one struct mmds per
 *    VM and hand it to the interfaces through struct virtio_env.mmds.
 * Everything the guest sends is hostile: lengths bounded, no allocation
 * proportional to guest input beyond the documented per-connection limits. */
#ifndef VOLT_DEVICES_MMDS_MMDS_H
#define VOLT_DEVICES_MMDS_MMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Firecracker's default data store limit (its --mmds-size-limit default is
 * its HTTP payload limit, 51200 bytes). */
#define MMDS_DEFAULT_SIZE_LIMIT 51200
#define MMDS_DEFAULT_IPV4	0xa9fea9feu /* 169.254.169.254, host order */
/* V2 token TTL bounds (X-metadata-token-ttl-seconds), Firecracker's. */
#define MMDS_TOKEN_TTL_MIN 1
#define MMDS_TOKEN_TTL_MAX 21600

enum mmds_version { MMDS_V1 = 1, MMDS_V2 = 2 };

struct mmds_config {
	enum mmds_version version;
	uint32_t ipv4; /* host byte order */
	bool imds_compat;
};

struct mmds;

/* A store of size_limit bytes at most (the JSON text, as Firecracker counts
 * it), empty, version V1, MMDS_DEFAULT_IPV4. 0 or -errno. */
int mmds_create(struct mmds **out, size_t size_limit);
void mmds_destroy(struct mmds *m);

void mmds_set_config(struct mmds *m, const struct mmds_config *c);
void mmds_get_config(struct mmds *m, struct mmds_config *c);

/* The API's operations. put replaces the store with the JSON text (any
 * JSON value, as Firecracker's serde_json::Value); patch applies it as a
 * JSON merge patch (RFC 7396). -EFBIG: the result would exceed the limit
 * (the API answers 413 with Firecracker's message); -EINVAL: not JSON (why
 * says so); -ENOENT: a patch on a store never put (Firecracker's "not
 * initialized"). The store is unchanged on error. */
int mmds_put(struct mmds *m, const char *json, size_t len, char *why, size_t why_size);
int mmds_patch(struct mmds *m, const char *json, size_t len, char *why, size_t why_size);
/* Whether put or patch would read the text as JSON: 0 or -EINVAL (why). */
int mmds_json_check(const char *json, size_t len, char *why, size_t why_size);
/* The store as compact JSON text, malloc'd ("{}" when empty); NULL: ENOMEM. */
char *mmds_get_json(struct mmds *m);

/* The guest's side: in holds the bytes a TCP connection has received and not
 * consumed yet. Returns 0 when they do not yet hold a whole request (wait for
 * more; the stack bounds what it buffers at MMDS_HTTP_REQUEST_MAX and, over
 * that, calls again with final = true). Otherwise *consumed is how many bytes
 * the request took, *out is the whole HTTP/1.1 answer (malloc'd, *out_len
 * bytes; the caller frees it) and the return is 1 to keep the connection or
 * 2 to close it after the answer. Malformed input is answered (400 etc.) and
 * closed. -ENOMEM only. Tokens expire by CLOCK_MONOTONIC. */
#define MMDS_HTTP_REQUEST_MAX 4096
int mmds_http_serve(struct mmds *m, const uint8_t *in, size_t len, bool final, size_t *consumed,
		    uint8_t **out, size_t *out_len);

#endif
