/* open_input(): every path a user names is opened without blocking and
 * checked by fstat() on what was opened. Each case here used to hang (FIFO) or
 * read forever (/dev/zero), or said only "Invalid argument". */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/staged_file.h"

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/volt-test-fs.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void drop_dir(void)
{
	rm_rf(dir);
}

static const char *at(const char *name)
{
	static char p[128];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

TestSuite(fs, .init = make_dir, .fini = drop_dir, .timeout = 10);

Test(fs, regular_file_opens_blocking)
{
	struct stat st;
	char why[128];
	int fd;

	cr_assert_eq(write_file(at("f"), "abc", 3, 0644), 0);
	cr_assert_eq(open_input(at("f"), O_RDONLY, INPUT_FILE, &fd, &st, why, sizeof(why)), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_size, 3);
	cr_assert_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0, "reads of a file wait for the data");
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

Test(fs, fifo_is_refused_without_blocking)
{
	char why[128];
	int fd = 7;

	cr_assert_eq(mkfifo(at("fifo"), 0600), 0);
	cr_assert_eq(open_input(at("fifo"), O_RDONLY, INPUT_FILE, &fd, NULL, why, sizeof(why)),
		     -EINVAL);
	cr_assert_eq(fd, -1);
	cr_assert_str_eq(why, "is a FIFO, not a regular file");
}

Test(fs, symlink_to_fifo_is_what_it_points_to)
{
	char why[128];
	int fd;

	cr_assert_eq(mkfifo(at("fifo"), 0600), 0);
	cr_assert_eq(symlink("fifo", at("link")), 0);
	cr_assert_eq(open_input(at("link"), O_RDONLY, INPUT_FILE | INPUT_BLOCK, &fd, NULL, why,
				sizeof(why)),
		     -EINVAL);
	cr_assert_str_eq(why, "is a FIFO, not a regular file or block device");
}

Test(fs, character_device_is_named)
{
	char why[128];
	int fd;

	cr_assert_eq(open_input("/dev/zero", O_RDONLY, INPUT_FILE, &fd, NULL, why, sizeof(why)),
		     -EINVAL);
	cr_assert_str_eq(why, "is a character device, not a regular file");
}

Test(fs, directory_and_missing)
{
	char why[128];
	int fd;

	cr_assert_eq(open_input(dir, O_RDONLY, INPUT_FILE, &fd, NULL, why, sizeof(why)), -EISDIR);
	cr_assert_str_eq(why, "is a directory, not a regular file");
	cr_assert_eq(open_input(at("none"), O_RDONLY, INPUT_FILE, &fd, NULL, why, sizeof(why)),
		     -ENOENT);
	cr_assert_str_eq(why, strerror(ENOENT));
}

Test(fs, socket_is_named)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char why[128];
	int s = socket(AF_UNIX, SOCK_STREAM, 0), fd;

	cr_assert_lt(strlen(at("sock")), sizeof(sa.sun_path));
	memcpy(sa.sun_path, at("sock"), strlen(at("sock")) + 1);
	cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_lt(open_input(at("sock"), O_RDONLY, INPUT_FILE, &fd, NULL, why, sizeof(why)), 0);
	cr_assert_str_eq(why, "is a socket, not a regular file");
	close(s);
}

Test(fs, fifo_allowed_stays_nonblocking)
{
	int fd;

	cr_assert_eq(mkfifo(at("fifo"), 0600), 0);
	/* Read-write: no writer or reader is needed for the open. */
	cr_assert_eq(open_input(at("fifo"), O_RDWR, INPUT_FIFO, &fd, NULL, NULL, 0), 0);
	cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK, "a FIFO must never block volt later");
	close(fd);
	/* Write-only with no reader: ENXIO at once, not a hang. */
	cr_assert_eq(open_input(at("fifo"), O_WRONLY, INPUT_FIFO, &fd, NULL, NULL, 0), -ENXIO);
}

Test(fs, read_input_refuses_fifo_and_dev_zero)
{
	char why[128], *buf = NULL;
	size_t len;

	cr_assert_eq(mkfifo(at("fifo"), 0600), 0);
	cr_assert_eq(read_input(at("fifo"), 1 << 20, &buf, &len, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "is a FIFO, not a regular file");
	cr_assert_eq(read_input("/dev/zero", 1 << 20, &buf, &len, why, sizeof(why)), -EINVAL);
	cr_assert_eq(read_file(at("fifo"), 1 << 20, &buf, &len), -EINVAL);
	cr_assert_null(buf);
	cr_assert_eq(write_file(at("big"), "0123456789", 10, 0644), 0);
	cr_assert_eq(read_input(at("big"), 4, &buf, &len, why, sizeof(why)), -EFBIG);
	cr_assert_eq(read_input(at("big"), 10, &buf, &len, why, sizeof(why)), 0);
	cr_assert_eq(len, 10);
	free(buf);
}

/* procfs and cgroupfs files report st_size 0 and hold text (the jailer reads
 * cgroup.controllers and cpuset.cpus): they are read to their end, as far as
 * max. An empty regular file is still empty. */
Test(fs, read_input_reads_zero_size_pseudo_files)
{
	char why[128], *buf = NULL;
	size_t len = 99;

	cr_assert_eq(read_input("/proc/self/status", 1 << 20, &buf, &len, why, sizeof(why)), 0);
	cr_assert(len > 100, "read %zu bytes", len);
	cr_assert_eq(strncmp(buf, "Name:", 5), 0, "%s", buf);
	cr_assert_eq(strlen(buf), len);
	free(buf);
	/* Longer than the first 4096-byte buffer: it grows. */
	cr_assert_eq(read_input("/proc/self/smaps", 1 << 24, &buf, &len, why, sizeof(why)), 0);
	cr_assert(len > 4096 && strlen(buf) == len, "read %zu bytes", len);
	free(buf);
	/* Past max: refused. */
	cr_assert_eq(read_input("/proc/self/status", 16, &buf, &len, why, sizeof(why)), -EFBIG);
	cr_assert_str_eq(why, "is larger than 16 bytes");
	cr_assert_eq(write_file(at("empty"), "", 0, 0644), 0);
	cr_assert_eq(read_input(at("empty"), 10, &buf, &len, why, sizeof(why)), 0);
	cr_assert_eq(len, 0);
	cr_assert_str_eq(buf, "");
	free(buf);
}

/* A sparse file's copy holds the same bytes and stays sparse: its holes (the
 * middle, the end) are not written. */
Test(fs, copy_keeps_holes)
{
	static const char head[] = "head", mid[] = "middle";
	struct stat a, b;
	char buf[16], src[128], dst[128];
	int fd;

	snprintf(src, sizeof(src), "%s", at("sparse")); /* at() has one buffer */
	snprintf(dst, sizeof(dst), "%s", at("copy"));
	fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, head, 4, 0), 4);
	cr_assert_eq(pwrite(fd, mid, 6, 64 << 20), 6);
	cr_assert_eq(ftruncate(fd, 256 << 20), 0);
	close(fd);
	cr_assert_eq(copy_file(src, dst, 0600), 0);
	cr_assert_eq(stat(src, &a), 0);
	cr_assert_eq(stat(dst, &b), 0);
	cr_assert_eq(b.st_size, a.st_size);
	cr_assert_leq(b.st_blocks, a.st_blocks + 16, "%lld blocks for %lld", (long long)b.st_blocks,
		      (long long)a.st_blocks);
	fd = open(dst, O_RDONLY);
	cr_assert_eq(pread(fd, buf, 4, 0), 4);
	cr_assert_eq(memcmp(buf, head, 4), 0);
	cr_assert_eq(pread(fd, buf, 6, 64 << 20), 6);
	cr_assert_eq(memcmp(buf, mid, 6), 0);
	cr_assert_eq(pread(fd, buf, 4, 128 << 20), 4);
	cr_assert_eq(memcmp(buf, "\0\0\0\0", 4), 0);
	close(fd);
}

Test(fs, copy_file_refuses_fifo)
{
	cr_assert_eq(mkfifo(at("fifo"), 0600), 0);
	cr_assert_eq(copy_file(at("fifo"), at("copy"), 0600), -EINVAL);
}

#include "util/log.h"

Test(fs, log_sink_fifo_without_reader_and_char_devices)
{
	char why[128];
	bool fifo;
	int fd;

	cr_assert_eq(mkfifo(at("fifo"), 0600), 0);
	cr_assert_eq(log_open_sink(at("fifo"), &fd, &fifo, NULL, 0), 0,
		     "no reader: no hang, no ENXIO");
	cr_assert(fifo);
	cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
	/* Firecracker opens any path there: /dev/null, a terminal; non-blocking. */
	cr_assert_eq(log_open_sink("/dev/null", &fd, &fifo, why, sizeof(why)), 0);
	cr_assert_not(fifo);
	cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
	cr_assert_eq(log_open_sink(dir, &fd, &fifo, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "is a directory, not a regular file, FIFO or character device");
	cr_assert_eq(log_open_sink(at("new.log"), &fd, &fifo, NULL, 0), 0,
		     "a missing file is created");
	cr_assert_not(fifo);
	close(fd);
}

Test(fs, directory_opened_for_writing_is_named)
{
	char why[128];
	int fd;

	cr_assert_eq(open_input(dir, O_RDWR, INPUT_FILE | INPUT_BLOCK, &fd, NULL, why, sizeof(why)),
		     -EISDIR);
	cr_assert_str_eq(why, "is a directory, not a regular file or block device");
}

/* The new content replaces the old whole, with the mode asked for, and no
 * temporary file stays behind; a path in a missing directory fails cleanly. */
Test(fs, write_file_atomic_replaces_and_leaves_no_temp)
{
	char path[128], *text = NULL;
	struct stat st;
	size_t len;

	snprintf(path, sizeof(path), "%s", at("state"));
	cr_assert_eq(write_file(path, "old contents", 12, 0644), 0);
	cr_assert_eq(write_file_atomic(path, "new", 3, 0600), 0);
	cr_assert_eq(read_file(path, 100, &text, &len), 0);
	cr_assert_eq(len, 3);
	cr_assert_str_eq(text, "new");
	free(text);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(rm_rf(path), 0);
	cr_assert_eq(rmdir(dir), 0, "a temporary file was left in %s", dir);
	cr_assert_eq(write_file_atomic(path, "x", 1, 0600), -ENOENT);
}

static void expect_contents(const char *path, const char *want)
{
	char *text = NULL;
	size_t len;

	cr_assert_eq(read_file(path, 100, &text, &len), 0, "%s", path);
	cr_assert_str_eq(text, want, "%s", path);
	free(text);
}

static int entries_in(const char *d)
{
	struct dirent *e;
	DIR *dp = opendir(d);
	int n = 0;

	cr_assert_not_null(dp, "%s", d);
	while ((e = readdir(dp)))
		n += e->d_name[0] != '.';
	closedir(dp);
	return n;
}

/* A snapshot's two files: the state file at a, the memory file at sub/b.
 * Staged, then sub is renamed away (the memory file's rename fails), or
 * not. */
static int commit_two(bool lose_sub, int *failed)
{
	struct staged_file f[2];
	char a[128], b[128], sub[128], gone[128];

	snprintf(a, sizeof(a), "%s", at("a"));
	snprintf(sub, sizeof(sub), "%s", at("sub"));
	snprintf(b, sizeof(b), "%s", at("sub/b"));
	snprintf(gone, sizeof(gone), "%s", at("gone"));
	cr_assert_eq(staged_write(&f[0], a, "A2", 2, 0600), 0);
	cr_assert_eq(staged_write(&f[1], b, "B2", 2, 0600), 0);
	if (lose_sub)
		cr_assert_eq(rename(sub, gone), 0);
	return staged_commit(f, 2, failed);
}

/* The second file cannot go in place: the first gets back what it replaced,
 * and nothing of the new set stays beside the old one. */
Test(fs, staged_commit_takes_the_first_file_back)
{
	int failed = -1;

	cr_assert_eq(mkdir(at("sub"), 0700), 0);
	cr_assert_eq(write_file(at("a"), "A1", 2, 0600), 0);
	cr_assert_eq(write_file(at("sub/b"), "B1", 2, 0600), 0);
	cr_assert_eq(commit_two(true, &failed), -ENOENT);
	cr_assert_eq(failed, 1);
	expect_contents(at("a"), "A1");
	expect_contents(at("gone/b"), "B1");
	cr_assert_eq(entries_in(dir), 2, "a temporary file was left in %s", dir); /* a, gone */
}

/* Where there was no file, there is none again. */
Test(fs, staged_commit_removes_a_new_file_again)
{
	int failed = -1;

	cr_assert_eq(mkdir(at("sub"), 0700), 0);
	cr_assert_eq(commit_two(true, &failed), -ENOENT);
	cr_assert_eq(failed, 1);
	cr_assert_eq(access(at("a"), F_OK), -1, "the new state file stayed");
	cr_assert_eq(entries_in(dir), 1); /* gone */
}

Test(fs, staged_commit_replaces_both)
{
	int failed = -1;

	cr_assert_eq(mkdir(at("sub"), 0700), 0);
	cr_assert_eq(write_file(at("a"), "A1", 2, 0600), 0);
	cr_assert_eq(commit_two(false, &failed), 0);
	expect_contents(at("a"), "A2");
	expect_contents(at("sub/b"), "B2");
	cr_assert_eq(entries_in(dir), 2);
	cr_assert_eq(entries_in(at("sub")), 1);
}

/* A directory put where the file goes after it was staged: swapped in, it
 * goes back, and the commit fails as a rename over it would. */
Test(fs, staged_commit_puts_a_directory_back)
{
	struct staged_file f;
	int failed = -1;
	char a[128];

	snprintf(a, sizeof(a), "%s", at("a")); /* f holds the pointer */
	cr_assert_eq(staged_write(&f, a, "A2", 2, 0600), 0);
	cr_assert_eq(mkdir(at("a"), 0700), 0);
	cr_assert_eq(write_file(at("a/x"), "x", 1, 0600), 0);
	cr_assert_eq(staged_commit(&f, 1, &failed), -EISDIR);
	cr_assert_eq(failed, 0);
	expect_contents(at("a/x"), "x");
	cr_assert_eq(entries_in(dir), 1);
}

/* A jail's root belongs to its uid when a failed jail is removed: a symlink
 * there (a directory swapped for one) is removed, never followed. */
Test(fs, rm_tree_at_never_follows_a_symlink)
{
	char outside[128], deep[8];
	int fd, i;

	snprintf(outside, sizeof(outside), "%s", at("outside"));
	cr_assert_eq(mkdir(outside, 0700), 0);
	cr_assert_eq(write_file(at("outside/keep"), "k", 1, 0600), 0);
	cr_assert_eq(mkdir(at("jail"), 0700), 0);
	cr_assert_eq(mkdir(at("jail/dev"), 0700), 0);
	cr_assert_eq(write_file(at("jail/dev/f"), "f", 1, 0600), 0);
	cr_assert_eq(symlink(outside, at("jail/dev/zz")), 0);
	cr_assert_eq(symlink(outside, at("jail/link")), 0);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(rm_tree_at(fd, "jail"), 0);
	cr_assert_eq(access(at("jail"), F_OK), -1);
	expect_contents(at("outside/keep"), "k");
	cr_assert_eq(rm_tree_at(fd, "jail"), 0, "missing is fine");
	/* A tree deeper than the bound is refused, not walked without end. */
	snprintf(deep, sizeof(deep), "deep");
	cr_assert_eq(mkdir(at(deep), 0700), 0);
	for (i = 0; i < 70; i++) {
		int sub = openat(fd, deep, O_RDONLY | O_DIRECTORY);

		cr_assert_geq(sub, 0);
		cr_assert_eq(mkdirat(sub, "d", 0700), 0);
		close(fd);
		fd = sub;
		snprintf(deep, sizeof(deep), "d");
	}
	close(fd);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert_eq(rm_tree_at(fd, "deep"), -ELOOP);
	close(fd);
}

/* What is not of the kinds asked for is refused before it is opened: root
 * opening a device a user named can act (a watchdog starts counting). */
Test(fs, wrong_kind_is_never_opened)
{
	char buf[256];
	struct stat st;
	int in, wd, fd = -1;

	cr_assert_eq(mkfifo(at("fifo"), 0600), 0);
	in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	cr_assert_geq(in, 0);
	wd = inotify_add_watch(in, at("fifo"), IN_OPEN);
	cr_assert_geq(wd, 0);
	cr_assert_eq(open_input(at("fifo"), O_RDONLY, INPUT_FILE, &fd, &st, NULL, 0), -EINVAL);
	cr_assert_eq(fd, -1);
	cr_assert_eq(read(in, buf, sizeof(buf)), -1, "the FIFO was opened");
	cr_assert_eq(errno, EAGAIN);
	close(in);
}
