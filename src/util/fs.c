#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int path_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	char *p;

	if (path_fmt(tmp, sizeof(tmp), "%s", path))
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP ? rmdir(path) : unlink(path))
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

int rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) ? -errno : 0;
	return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

#define RM_TREE_DEPTH_MAX 64

static int rm_tree_depth(int parent, const char *name, int depth)
{
	int fd, pass, err = 0;
	struct dirent *e;
	DIR *d;

	if (!unlinkat(parent, name, 0) || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return -errno;
	if (depth >= RM_TREE_DEPTH_MAX)
		return -ELOOP;
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	/* Entries may come while it is emptied (its owner adds them): a few
	 * passes, then what is left stays. */
	for (pass = 0; pass < 3; pass++) {
		err = 0;
		rewinddir(d);
		while ((e = readdir(d))) {
			int r;

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			r = rm_tree_depth(dirfd(d), e->d_name, depth + 1);
			if (r && !err)
				err = r;
		}
		if (err) /* what is below stays: so does this */
			break;
		if (!unlinkat(parent, name, AT_REMOVEDIR) || errno == ENOENT)
			break;
		err = -errno;
		if (errno != ENOTEMPTY)
			break;
	}
	closedir(d);
	return err;
}

int rm_tree_at(int parent, const char *name)
{
	return rm_tree_depth(parent, name, 0);
}

const char *file_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFDIR:
		return "a directory";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	case S_IFLNK:
		return "a symbolic link";
	default:
		return "a file of unknown type";
	}
}

static const char *kinds_name(unsigned int kinds)
{
	switch (kinds) {
	case INPUT_FILE:
		return "a regular file";
	case INPUT_FILE | INPUT_BLOCK:
		return "a regular file or block device";
	case INPUT_FILE | INPUT_FIFO:
		return "a regular file or FIFO";
	case INPUT_BLOCK:
		return "a block device";
	case INPUT_FIFO:
		return "a FIFO";
	case INPUT_FILE | INPUT_FIFO | INPUT_CHR:
		return "a regular file, FIFO or character device";
	default:
		return "a regular file, block device or FIFO";
	}
}

static bool kind_ok(mode_t mode, unsigned int kinds)
{
	return ((kinds & INPUT_FILE) && S_ISREG(mode)) ||
	       ((kinds & INPUT_BLOCK) && S_ISBLK(mode)) ||
	       ((kinds & INPUT_FIFO) && S_ISFIFO(mode)) || ((kinds & INPUT_CHR) && S_ISCHR(mode));
}

static void say(char *why, size_t why_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(char *why, size_t why_size, const char *fmt, ...)
{
	va_list ap;

	if (!why || !why_size)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_size, fmt, ap);
	va_end(ap);
}

/* The file path names, opened only once its kind is known to be one of
 * kinds: opening a device can act (a watchdog starts counting, a tape
 * rewinds), and root opens the paths a user names (the jailer). O_PATH opens
 * nothing; the file is then opened through /proc's link to that descriptor,
 * the same file whatever the path names by then. 0: *f is it; 1: no answer
 * this way (no such file yet, no /proc, Landlock: the caller opens the path,
 * and checks what it opened); -errno: its kind is refused (why says so).
 * O_NOCTTY on both opens: the VMM's seccomp lists allow openat with it. */
static int open_known(const char *path, int flags, unsigned int kinds, int *f, char *why,
		      size_t why_size)
{
	char proc[32];
	struct stat sb;
	int pf = open(path, O_PATH | O_CLOEXEC | O_NOCTTY | (flags & O_NOFOLLOW));

	*f = -1;
	if (pf < 0)
		return 1;
	if (fstat(pf, &sb)) {
		close(pf);
		return 1;
	}
	if (!kind_ok(sb.st_mode, kinds)) {
		close(pf);
		say(why, why_size, "is %s, not %s", file_type_name(sb.st_mode), kinds_name(kinds));
		return S_ISDIR(sb.st_mode) ? -EISDIR : S_ISSOCK(sb.st_mode) ? -ENXIO : -EINVAL;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pf);
	*f = open(proc, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
	close(pf);
	return *f < 0;
}

int open_input(const char *path, int flags, unsigned int kinds, int *fd, struct stat *st, char *why,
	       size_t why_size)
{
	struct stat sb;
	int f, err;

	*fd = -1;
	err = open_known(path, flags, kinds, &f, why, why_size);
	if (err < 0)
		return err;
	/* O_NONBLOCK: opening a FIFO waits for the other end, and a tty or
	 * modem line for its carrier, otherwise. */
	if (err)
		f = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
	if (f < 0) {
		err = -errno;
		/* A socket (and a FIFO opened for writing without a reader)
		 * gives ENXIO, which tells nobody anything: say what it is.
		 * This stat() only words the message; nothing is opened. */
		bool known = err == -ENXIO && !stat(path, &sb);

		if (known && !kind_ok(sb.st_mode, kinds))
			say(why, why_size, "is %s, not %s", file_type_name(sb.st_mode),
			    kinds_name(kinds));
		else if (known && S_ISFIFO(sb.st_mode))
			say(why, why_size, "is a FIFO that nobody reads");
		else if (err == -EISDIR) /* opened for writing */
			say(why, why_size, "is a directory, not %s", kinds_name(kinds));
		else
			say(why, why_size, "%s", strerror(-err));
		return err;
	}
	/* What was opened, not what the path named a moment before. */
	if (fstat(f, &sb)) {
		err = -errno;
		say(why, why_size, "%s", strerror(-err));
		goto fail;
	}
	if (!kind_ok(sb.st_mode, kinds)) {
		err = S_ISDIR(sb.st_mode) ? -EISDIR : -EINVAL;
		say(why, why_size, "is %s, not %s", file_type_name(sb.st_mode), kinds_name(kinds));
		goto fail;
	}
	/* Reads of files and disks are meant to wait for the data; a FIFO or a
	 * terminal nobody drains must not stall a writer. */
	if (!S_ISFIFO(sb.st_mode) && !S_ISCHR(sb.st_mode) &&
	    fcntl(f, F_SETFL, fcntl(f, F_GETFL) & ~O_NONBLOCK)) {
		err = -errno;
		say(why, why_size, "%s", strerror(-err));
		goto fail;
	}
	if (st)
		*st = sb;
	*fd = f;
	return 0;
fail:
	close(f);
	return err;
}

/* procfs, sysfs and cgroupfs files say they are 0 bytes long and hold some
 * (cgroup.controllers, cpuset.cpus): those are read to their end, into a
 * buffer that grows as far as max. */
static int read_pseudo(int fd, size_t max, char **out, size_t *len, char *why, size_t why_size)
{
	size_t got = 0, cap = max < 4096 ? max : 4096;
	char *buf = malloc(cap + 1), *more, probe;
	ssize_t n;

	if (!buf)
		goto nomem;
	for (;;) {
		if (got == cap && cap == max) {
			/* Full: one more byte says whether it ends here. */
			n = read(fd, &probe, 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n > 0) {
				free(buf);
				say(why, why_size, "is larger than %zu bytes", max);
				return -EFBIG;
			}
		} else {
			if (got == cap) {
				cap = cap > max / 2 ? max : cap * 2;
				more = realloc(buf, cap + 1);
				if (!more)
					goto nomem;
				buf = more;
			}
			n = read(fd, buf + got, cap - got);
			if (n < 0 && errno == EINTR)
				continue;
		}
		if (n < 0) {
			int err = -errno;

			free(buf);
			say(why, why_size, "%s", strerror(-err));
			return err;
		}
		if (!n)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	if (len)
		*len = got;
	return 0;
nomem:
	free(buf);
	say(why, why_size, "%s", strerror(ENOMEM));
	return -ENOMEM;
}

int read_input(const char *path, size_t max, char **out, size_t *len, char *why, size_t why_size)
{
	return read_input_stat(path, max, out, len, NULL, why, why_size);
}

int read_input_stat(const char *path, size_t max, char **out, size_t *len, struct stat *st_out,
		    char *why, size_t why_size)
{
	struct stat st = { 0 };
	char *buf;
	size_t got = 0;
	int fd, err = 0;

	err = open_input(path, O_RDONLY, INPUT_FILE, &fd, &st, why, why_size);
	if (err)
		return err;
	if (!st.st_size) {
		err = read_pseudo(fd, max, out, len, why, why_size);
		goto out;
	}
	if ((size_t)st.st_size > max) {
		err = -EFBIG;
		say(why, why_size, "is larger than %zu bytes", max);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		err = -ENOMEM;
		say(why, why_size, "%s", strerror(-err));
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			say(why, why_size, "%s", n < 0 ? strerror(-err) : "shrank while read");
			free(buf);
			goto out;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	if (len)
		*len = got;
out:
	if (!err && st_out)
		*st_out = st;
	close(fd);
	return err;
}

int read_file(const char *path, size_t max, char **out, size_t *len)
{
	return read_input(path, max, out, len, NULL, 0);
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO; /* 0: no progress, never a loop */
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int pwrite_all(int fd, const void *buf, uint64_t len, off_t off)
{
	const char *p = buf;

	while (len) {
		size_t n = len < (1ULL << 30) ? (size_t)len : (size_t)1 << 30;
		ssize_t done = pwrite(fd, p, n, off);

		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0)
			return done < 0 ? -errno : -EIO;
		p += done;
		len -= (uint64_t)done;
		off += done;
	}
	return 0;
}

int write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd, err;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	err = write_all(fd, buf, len);
	if (close(fd) && !err)
		err = -errno;
	return err;
}

int open_parent_dir(const char *path, char *dir, size_t dir_size)
{
	char *slash;
	int fd;

	if (path_fmt(dir, dir_size, "%s", path))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, dir_size, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Bytes [off, end) of in to the same offsets of out; stops early at in's
 * end (a file that shrank). *plain: copy_file_range does not work here. */
static int copy_run(int in, int out, loff_t off, loff_t end, bool *plain)
{
	char buf[65536];

	while (off < end) {
		size_t want = end - off < (loff_t)(1 << 30) ? (size_t)(end - off) : (size_t)1 << 30;
		loff_t to = off;
		ssize_t n;

		if (!*plain) {
			/* Shares the blocks (a reflink) where the file system can. */
			n = copy_file_range(in, &off, out, &to, want, 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
				      errno == EOPNOTSUPP)) {
				*plain = true;
				continue;
			}
		} else {
			n = pread(in, buf, want < sizeof(buf) ? want : sizeof(buf), off);
			if (n > 0) {
				int err = pwrite_all(out, buf, (uint64_t)n, off);

				if (err)
					return err;
				off += n;
			}
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
	}
	return 0;
}

int copy_fd_data(int in, int out)
{
	struct stat st;
	loff_t off = 0;
	bool plain = false;
	int err;

	if (fstat(in, &st))
		return -errno;
	/* Only the runs of data: a sparse image (a 64 GiB root file system
	 * that holds 1 GiB) stays sparse instead of filling the disk. */
	while (off < st.st_size) {
		loff_t data = lseek(in, off, SEEK_DATA), hole;

		if (data < 0 && errno == ENXIO)
			break; /* a hole to the end */
		if (data < 0)  /* no SEEK_DATA here: all of it */
			data = off, hole = st.st_size;
		else if ((hole = lseek(in, data, SEEK_HOLE)) < 0)
			hole = st.st_size;
		err = copy_run(in, out, data, hole, &plain);
		if (err)
			return err;
		off = hole;
	}
	return ftruncate(out, st.st_size) ? -errno : 0;
}

int copy_file(const char *src, const char *dst, mode_t mode)
{
	int in, out, err = 0;

	err = open_input(src, O_RDONLY, INPUT_FILE, &in, NULL, NULL, 0);
	if (err)
		return err;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0) {
		err = -errno;
		close(in);
		return err;
	}
	err = copy_fd_data(in, out);
	close(in);
	if (close(out) && !err)
		err = -errno;
	return err;
}

bool path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}
