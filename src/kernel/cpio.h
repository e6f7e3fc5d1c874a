/* Writer for the "newc" cpio format the kernel unpacks as an initramfs.
 * Entries get fixed owners (root) and mtimes (0) so archives are reproducible,
 * and device nodes need no privileges to create. */
#ifndef VOLT_KERNEL_CPIO_H
#define VOLT_KERNEL_CPIO_H

#include <stddef.h>
#include <stdint.h>

struct cpio {
	int fd;
	uint32_t ino;
	uint64_t offset;
};

void cpio_init(struct cpio *c, int fd);
/* mode carries the file type (S_IFREG, S_IFDIR, S_IFLNK with the target as
 * data, S_IFCHR/S_IFBLK with rdev). */
int cpio_add(struct cpio *c, const char *name, uint32_t mode, uint32_t rdev_major,
	     uint32_t rdev_minor, const void *data, size_t size);
int cpio_finish(struct cpio *c);

#endif
