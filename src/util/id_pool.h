/* Ids of any length (Firecracker's drive_id, iface_id, vsock_id: no cap) as
 * shared, immutable strings. A configuration holds `const char *` handles
 * from id_intern(): a struct holding them may be copied byte for byte (the
 * API's scratch configurations, a device's data blob) without owning,
 * copying or freeing anything. Equal ids share one string.
 *
 * The pool keeps each string until a sweep: id_pool_sweep_begin(), then
 * id_pool_mark() for every handle still held by a live configuration, then
 * id_pool_sweep_end() frees the rest (the API server does so after each
 * request, so a client's many ids do not pile up). A handle not marked is
 * dangling after the sweep. id_pool_clear() frees everything (at exit).
 * Every function takes the pool's lock; handles themselves are read without
 * it (the strings never change). NULL is "no id" and reads as "". */
#ifndef VOLT_UTIL_ID_POOL_H
#define VOLT_UTIL_ID_POOL_H

#include <stddef.h>

/* The pool's string equal to s (len bytes, no NUL among them), made when
 * there is none; "" for an empty s; NULL when out of memory. */
const char *id_intern_len(const char *s, size_t len);
const char *id_intern(const char *s);
/* An id handle as a C string: NULL (no id) reads as "". */
static inline const char *id_str(const char *id)
{
	return id ? id : "";
}

void id_pool_sweep_begin(void);
/* Keeps id (a handle from id_intern, "", or NULL) through the next sweep. */
void id_pool_mark(const char *id);
void id_pool_sweep_end(void);
/* How many strings the pool holds (tests). */
size_t id_pool_count(void);
void id_pool_clear(void);

#endif
