/* The newc writer, checked by an independent little reader. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "kernel/cpio.h"

static unsigned long field(const char *h, int i)
{
	char buf[9];

	memcpy(buf, h + 6 + 8 * i, 8);
	buf[8] = '\0';
	return strtoul(buf, NULL, 16);
}

Test(cpio, entries_are_aligned_and_readable)
{
	char *dir = test_tmpdir(), path[PATH_MAX], *img;
	size_t len, off = 0;
	struct cpio c;
	int fd, n = 0;
	const char *names[] = { "dev", "dev/console", "init", "bin/sh", "TRAILER!!!" };

	path_fmt(path, sizeof(path), "%s/a.cpio", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cpio_init(&c, fd);
	cr_assert_eq(cpio_add(&c, "dev", S_IFDIR | 0755, 0, 0, NULL, 0), 0);
	cr_assert_eq(cpio_add(&c, "dev/console", S_IFCHR | 0600, 5, 1, NULL, 0), 0);
	cr_assert_eq(cpio_add(&c, "init", S_IFREG | 0755, 0, 0, "#!/bin/sh\n", 10), 0);
	cr_assert_eq(cpio_add(&c, "bin/sh", S_IFLNK | 0777, 0, 0, "/bin/busybox", 12), 0);
	cr_assert_eq(cpio_finish(&c), 0);
	close(fd);
	cr_assert_eq(read_file(path, 1 << 20, &img, &len), 0);
	cr_assert_eq(len % 512, 0);
	while (n < 5) {
		const char *h = img + off;
		unsigned long namesize = field(h, 11), filesize = field(h, 6);

		cr_assert(off + 110 <= len);
		cr_assert_eq(memcmp(h, "070701", 6), 0, "bad magic at %zu", off);
		cr_assert_str_eq(h + 110, names[n]);
		cr_assert_eq(namesize, strlen(names[n]) + 1);
		if (n == 1) {
			cr_assert_eq(field(h, 1), S_IFCHR | 0600);
			cr_assert_eq(field(h, 9), 5);
			cr_assert_eq(field(h, 10), 1);
		}
		off = (off + 110 + namesize + 3) & ~3UL;
		if (n == 2)
			cr_assert_eq(memcmp(img + off, "#!/bin/sh\n", 10), 0);
		off = (off + filesize + 3) & ~3UL;
		n++;
	}
	free(img);
	rm_rf(dir);
}

Test(cpio, cpio_tool_lists_the_archive)
{
	char *dir = test_tmpdir(), path[PATH_MAX], cmd[PATH_MAX + 64];
	struct cpio c;
	int fd;

	path_fmt(path, sizeof(path), "%s/b.cpio", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cpio_init(&c, fd);
	cpio_add(&c, "a", S_IFREG | 0644, 0, 0, "x", 1);
	cpio_add(&c, "bb", S_IFREG | 0644, 0, 0, "yy", 2);
	cpio_finish(&c);
	close(fd);
	path_fmt(cmd, sizeof(cmd), "cpio -it --quiet < %s | tr '\\n' ' ' | grep -qx 'a bb '", path);
	cr_assert_eq(system(cmd), 0);
	rm_rf(dir);
}

Test(cpio, refuses_what_newc_cannot_hold)
{
	char *dir = test_tmpdir(), path[PATH_MAX], name[4097];
	struct cpio c;
	struct stat st;
	int fd;

	path_fmt(path, sizeof(path), "%s/big.cpio", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cpio_init(&c, fd);
	/* Sizes are 8 hex digits; the kernel takes names up to PATH_MAX. */
	cr_assert_eq(cpio_add(&c, "big", S_IFREG | 0644, 0, 0, "", (size_t)UINT32_MAX + 1), -EFBIG);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	cr_assert_eq(cpio_add(&c, name, S_IFREG | 0644, 0, 0, NULL, 0), -EFBIG);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, 0, "nothing written for a refused entry");
	/* The longest name that fits. */
	name[4095] = '\0';
	cr_assert_eq(cpio_add(&c, name, S_IFREG | 0644, 0, 0, NULL, 0), 0);
	close(fd);
	rm_rf(dir);
}
