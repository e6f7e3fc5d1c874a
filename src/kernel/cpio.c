#include "kernel/cpio.h"

#include "util/fs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void cpio_init(struct cpio *c, int fd)
{
	c->fd = fd;
	c->ino = 1;
	c->offset = 0;
}

static int put(struct cpio *c, const void *data, size_t len)
{
	static const char zeros[4];
	size_t pad = (4 - ((c->offset + len) & 3)) & 3;
	int err = write_all(c->fd, data, len);

	if (!err && pad)
		err = write_all(c->fd, zeros, pad);
	c->offset += len + pad;
	return err;
}

int cpio_add(struct cpio *c, const char *name, uint32_t mode, uint32_t rdev_major,
	     uint32_t rdev_minor, const void *data, size_t size)
{
	char head[111];
	size_t nlen = strlen(name) + 1;
	int err;

	if (size > UINT32_MAX || nlen > 4096)
		return -EFBIG;
	/* magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
	 * rdevmajor, rdevminor, namesize, check */
	snprintf(head, sizeof(head), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 c->ino++, mode, 0, 0, S_ISDIR(mode) ? 2 : 1, 0, (uint32_t)size, 0, 0, rdev_major,
		 rdev_minor, (uint32_t)nlen, 0);
	/* The header (110 bytes) and the name are padded together to 4 bytes. */
	err = write_all(c->fd, head, 110);
	if (err)
		return err;
	c->offset += 110;
	err = put(c, name, nlen);
	if (!err && size)
		err = put(c, data, size);
	return err;
}

int cpio_finish(struct cpio *c)
{
	static const char zeros[512];
	int err = cpio_add(c, "TRAILER!!!", 0, 0, 0, NULL, 0);

	/* Pad to 512 bytes as cpio(1) does, so tools reading blocks are happy. */
	if (!err && (c->offset & 511))
		err = write_all(c->fd, zeros, 512 - (c->offset & 511));
	return err;
}
