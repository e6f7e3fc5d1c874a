/* The guest kit's root filesystem: busybox-static plus volt's /init, as a
 * newc initramfs (optionally gzip'ed) or an ext4 image made by mke2fs -d
 * (no mounts, no loop devices, no root needed). Cached like kernels under
 * <cache>/rootfs/<key>/, the key hashing busybox, /init and the format. */
#ifndef VOLT_KERNEL_ROOTFS_H
#define VOLT_KERNEL_ROOTFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROOTFS_DEFAULT_BUSYBOX "/bin/busybox"
#define ROOTFS_READY_MARKER    "VOLT-GUEST-READY"

enum rootfs_format { ROOTFS_CPIO, ROOTFS_CPIO_GZ, ROOTFS_EXT4 };

struct rootfs_opts {
	enum rootfs_format format;
	uint64_t ext4_size;  /* bytes, for ROOTFS_EXT4 */
	const char *busybox; /* NULL: ROOTFS_DEFAULT_BUSYBOX */
	bool force;
	bool no_build; /* only look the image up */
};

/* Uncompressed on PVM hosts (gunzip in an emulated guest kernel costs about a
 * minute), gzip elsewhere. */
enum rootfs_format rootfs_default_format(void);
/* Finds or builds the image; writes its path. Errors are logged. */
int rootfs_get(const struct rootfs_opts *o, char *path, size_t size);
/* Checks that an ELF file has no PT_INTERP (a static executable). */
int elf_is_static(const void *image, size_t size);

#endif
