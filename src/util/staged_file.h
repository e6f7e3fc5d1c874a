/* Files that appear whole or not at all, and sets of them that appear
 * together or not at all (a snapshot's state and memory files): each is
 * written in full under a temporary name beside its path, then
 * staged_commit() renames the set into place. When one rename fails, those
 * already done are taken back (renameat2's RENAME_EXCHANGE keeps the file
 * each one replaced, so that it can be put back), and every path holds what
 * it held before. A file system without renameat2's flags (NFS) gets plain
 * renames, which cannot be taken back.
 *
 * Only unlink, rename and renameat2 are used on the paths: what the VMM's
 * seccomp filter allows for snapshots (sandbox/seccomp_lists.c). */
#ifndef VOLT_UTIL_STAGED_FILE_H
#define VOLT_UTIL_STAGED_FILE_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

struct staged_file {
	char tmp[PATH_MAX]; /* the temporary name; "" once nothing is left there */
	const char *path;   /* the caller's, until staged_commit() or staged_discard() */
	int dfd;	    /* path's directory: its fsync makes the rename last */
	int placed;	    /* staged_commit()'s own */
};

/* Creates f's temporary file (mode 0600) beside path: its fd (the caller
 * writes and fsyncs it, then closes it), or -errno with nothing left behind.
 * dir receives path's directory, for messages. */
int staged_open(struct staged_file *f, const char *path, char *dir, size_t dir_size);
/* staged_open(), then buf written and fsync'd (mode: the file's, where it
 * is not 0600): 0 with f staged, or -errno with nothing left behind. */
int staged_write(struct staged_file *f, const char *path, const void *buf, size_t len, mode_t mode);
/* Puts f[0..n) in place, replacing what is at each path, then fsyncs their
 * directories; all or none. 0, or -errno with *failed set to the index of
 * the file whose rename or directory fsync failed. Either way the set is
 * discarded afterwards. */
int staged_commit(struct staged_file *f, int n, int *failed);
/* Removes f's temporary file, if any, and closes its directory. */
void staged_discard(struct staged_file *f);
/* staged_write() and staged_commit() of that one file: a reader sees the old
 * file or the whole new one, never a torn one, even after a crash. */
int write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode);

#endif
