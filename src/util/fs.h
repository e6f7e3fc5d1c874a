/* Small filesystem helpers. All return 0 (or a count) on success, -errno on failure. */
#ifndef VOLT_UTIL_FS_H
#define VOLT_UTIL_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* snprintf into buf; -ENAMETOOLONG when it does not fit. */
int path_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int mkdir_p(const char *path, mode_t mode);
/* Removes path and everything below it, never following symlinks; missing is fine. */
int rm_rf(const char *path);
/* Reads a whole regular file (at most max bytes, else -EFBIG; not a regular file:
 * -EINVAL, a directory -EISDIR, never waiting on a FIFO) into a NUL-terminated
 * malloc'd buffer. */
int read_file(const char *path, size_t max, char **out, size_t *len);
int write_all(int fd, const void *buf, size_t len);
/* Creates or truncates path with mode and writes buf to it. */
int write_file(const char *path, const void *buf, size_t len, mode_t mode);
int copy_file(const char *src, const char *dst, mode_t mode);
bool path_exists(const char *path);

#endif
