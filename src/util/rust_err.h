/* An OS error in the words of Rust's io::Error as Firecracker prints it:
 * "No file descriptors available (os error 24)". Firecracker's releases
 * are linked with musl, whose strerror words differ from glibc's for some
 * errors (EMFILE, ELOOP, EBUSY, EXDEV...); clients and Firecracker's own
 * tests match on them, so the Firecracker-compatible messages use these. */
#ifndef VOLT_UTIL_RUST_ERR_H
#define VOLT_UTIL_RUST_ERR_H

#include <stddef.h>

/* musl's words for errno e (a positive errno value). */
const char *musl_strerror(int e);
/* "<musl_strerror(e)> (os error <e>)" in buf; returns buf. */
const char *rust_io_error(int e, char *buf, size_t size);

#endif
