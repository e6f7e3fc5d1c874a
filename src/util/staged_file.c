#include "util/staged_file.h"

#include "util/fault_files.h"
#include "util/fs.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

enum {
	STAGED_PENDING,	 /* still at tmp */
	STAGED_NEW,	 /* at path, where there was no file */
	STAGED_SWAPPED,	 /* at path; the file it replaced is at tmp */
	STAGED_REPLACED, /* at path by a plain rename: what it replaced is gone */
};

int staged_open(struct staged_file *f, const char *path, char *dir, size_t dir_size)
{
	int fd;

	f->path = path;
	f->placed = STAGED_PENDING;
	f->tmp[0] = '\0';
	f->dfd = -1;
	if (path_fmt(f->tmp, sizeof(f->tmp), "%s.tmp-XXXXXX", path)) {
		f->tmp[0] = '\0';
		snprintf(dir, dir_size, "?");
		return -ENAMETOOLONG;
	}
	/* Opened, not stat()ed: the seccomp filter allows openat with
	 * O_DIRECTORY, and the descriptor serves the fsync. */
	f->dfd = open_parent_dir(path, dir, dir_size);
	if (f->dfd < 0) {
		fd = f->dfd;
		f->dfd = -1;
		f->tmp[0] = '\0';
		return fd;
	}
	fd = mkostemp(f->tmp, O_CLOEXEC); /* 0600, O_EXCL */
	if (fd < 0) {
		fd = -errno;
		f->tmp[0] = '\0';
		staged_discard(f);
		return fd;
	}
	/* A memory file is a copy of guest RAM: not left behind by a fault
	 * that ends volt while it is written (a memory file cut under it). */
	fault_files_temp_add(f->tmp);
	return fd;
}

int staged_write(struct staged_file *f, const char *path, const void *buf, size_t len, mode_t mode)
{
	char dir[PATH_MAX];
	int fd = staged_open(f, path, dir, sizeof(dir)), err;

	if (fd < 0)
		return fd;
	err = write_all(fd, buf, len);
	/* mkostemp made it 0600: a confined VMM (seccomp) saves its state
	 * there without fchmod. */
	if (!err && mode != 0600 && fchmod(fd, mode))
		err = -errno;
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (err)
		staged_discard(f);
	return err;
}

/* Puts back what f replaced; f's own file is then at tmp (or gone). */
static void take_back(struct staged_file *f)
{
	if (f->placed == STAGED_NEW && unlink(f->path))
		pr_warn("%s: cannot remove it again: %s", f->path, strerror(errno));
	else if (f->placed == STAGED_SWAPPED &&
		 renameat2(AT_FDCWD, f->tmp, AT_FDCWD, f->path, RENAME_EXCHANGE))
		pr_warn("%s: cannot put the file it replaced back: %s", f->path, strerror(errno));
	else if (f->placed == STAGED_REPLACED)
		pr_warn("%s: replaced by a plain rename (its file system has no "
			"RENAME_EXCHANGE): what it held is gone",
			f->path);
	f->placed = STAGED_PENDING;
}

static int place(struct staged_file *f)
{
	if (!renameat2(AT_FDCWD, f->tmp, AT_FDCWD, f->path, RENAME_NOREPLACE)) {
		f->placed = STAGED_NEW;
		fault_files_temp_del(f->tmp);
		f->tmp[0] = '\0';
		return 0;
	}
	if (errno == EEXIST) {
		struct stat st;

		if (!renameat2(AT_FDCWD, f->tmp, AT_FDCWD, f->path, RENAME_EXCHANGE)) {
			f->placed = STAGED_SWAPPED;
			/* A directory (or anything but a file) swapped away could
			 * not be removed: it goes back, and the commit fails as a
			 * rename over it would have. stat, not lstat: what the
			 * seccomp filter allows; a symlink is judged by its target,
			 * as the snapshot's check of its targets does. */
			if (stat(f->tmp, &st) || S_ISREG(st.st_mode))
				return 0;
			take_back(f);
			return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		}
	}
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* The file system knows neither flag. */
	if (rename(f->tmp, f->path))
		return -errno;
	f->placed = STAGED_REPLACED;
	fault_files_temp_del(f->tmp);
	f->tmp[0] = '\0';
	return 0;
}

int staged_commit(struct staged_file *f, int n, int *failed)
{
	int i, err = 0;

	for (i = 0; i < n && !err; i++) {
		err = place(&f[i]);
		if (err)
			*failed = i;
	}
	/* The renames last only once their directories are on disk. */
	for (i = 0; i < n && !err; i++) {
		if (fsync(f[i].dfd)) {
			err = -errno;
			*failed = i;
		}
	}
	for (i = n - 1; i >= 0 && err; i--)
		take_back(&f[i]);
	for (i = 0; i < n; i++)
		staged_discard(&f[i]);
	return err;
}

void staged_discard(struct staged_file *f)
{
	if (f->tmp[0]) {
		fault_files_temp_del(f->tmp);
		unlink(f->tmp);
	}
	f->tmp[0] = '\0';
	if (f->dfd >= 0)
		close(f->dfd);
	f->dfd = -1;
}

int write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
	struct staged_file f;
	int failed, err = staged_write(&f, path, buf, len, mode);

	return err ? err : staged_commit(&f, 1, &failed);
}
