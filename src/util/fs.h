/* Small filesystem helpers. All return 0 (or a count) on success, -errno on failure. */
#ifndef VOLT_UTIL_FS_H
#define VOLT_UTIL_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* snprintf into buf; -ENAMETOOLONG when it does not fit. */
int path_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The directory path lives in ("." for a bare name) opened O_RDONLY |
 * O_DIRECTORY, to fsync it after a rename (what a VMM confined by seccomp
 * may open: sandbox/seccomp_lists.c); dir gets its name for messages. The
 * fd, or -errno. */
int open_parent_dir(const char *path, char *dir, size_t dir_size);
int mkdir_p(const char *path, mode_t mode);
/* Removes path and everything below it, never following symlinks; missing is fine. */
int rm_rf(const char *path);
/* Removes name in the directory parent and, when it is a directory, what it
 * holds, through descriptors alone (openat O_NOFOLLOW, unlinkat): a tree
 * another user can write (a jail's root) cannot redirect it elsewhere, as it
 * can a walk by path. Missing is fine; deeper than 64 levels is -ELOOP. */
int rm_tree_at(int parent, const char *name);
/* What open_input() accepts (a mask). */
enum input_kind {
	INPUT_FILE = 1,	 /* a regular file */
	INPUT_BLOCK = 2, /* a block device */
	INPUT_FIFO = 4,	 /* a FIFO (kept non-blocking) */
	INPUT_CHR = 8,	 /* a character device (kept non-blocking): /dev/null, a tty */
};
/* Opens a path a user named so that the open itself cannot block (a FIFO
 * without a writer, a tty): flags (O_RDONLY, O_RDWR, O_WRONLY, maybe O_APPEND)
 * plus O_NONBLOCK | O_CLOEXEC | O_NOCTTY, then fstat()s what was opened (no
 * stat-then-open race) and accepts it only when its type is one of kinds.
 * O_NONBLOCK is cleared again on anything but a FIFO; O_CREAT creates 0644. 0 with *fd (and *st
 * when not NULL); -errno (-EINVAL: the wrong type) with a reason in why, such as "is a FIFO, not a
 * regular file", for "<what> '<path>': <why>" messages. */
int open_input(const char *path, int flags, unsigned int kinds, int *fd, struct stat *st, char *why,
	       size_t why_size);
/* "a FIFO", "a directory"...: what st_mode is, for messages. */
const char *file_type_name(mode_t mode);
/* Reads a whole regular file (at most max bytes, else -EFBIG) into a
 * NUL-terminated malloc'd buffer; opened by open_input(), so a FIFO or a
 * device is refused (-EINVAL; -EISDIR for a directory) instead of blocking or
 * reading forever. why (may be NULL) receives the reason as open_input's. */
int read_input(const char *path, size_t max, char **out, size_t *len, char *why, size_t why_size);
/* read_input(), and *st (when not NULL) what was read (its owner and mode:
 * whose the content is). */
int read_input_stat(const char *path, size_t max, char **out, size_t *len, struct stat *st,
		    char *why, size_t why_size);
/* read_input() without a reason. */
int read_file(const char *path, size_t max, char **out, size_t *len);
/* All of buf, retried on EINTR and short writes: 0 or -errno (-EIO when a
 * write makes no progress). */
int write_all(int fd, const void *buf, size_t len);
/* write_all() at offset off (pwrite, at most 1 GiB a call). */
int pwrite_all(int fd, const void *buf, uint64_t len, off_t off);
/* Creates or truncates path with mode and writes buf to it. */
int write_file(const char *path, const void *buf, size_t len, mode_t mode);
/* Copies what in (a regular file) holds to the same offsets of out (a new,
 * empty one), its holes left holes: 0 or -errno. copy_file_range (a reflink
 * where the file system can), else pread/pwrite. */
int copy_fd_data(int in, int out);
/* Copies the regular file src (opened by open_input()) to dst. */
int copy_file(const char *src, const char *dst, mode_t mode);
bool path_exists(const char *path);

#endif
