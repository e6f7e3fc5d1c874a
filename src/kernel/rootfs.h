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

/* Which of busybox's applets get a link. MINIMAL: /bin/sh and /usr/bin/env
 * only, the names scripts give by path; busybox's shell and the applets that
 * run others (env, xargs, setsid, find -exec) find applets by name without
 * links. Unpacking ~270 symlinks cost 6-9 s of a boot where guest ring 0 is
 * emulated (docs/boot-time.md). DEFAULT: MINIMAL for an initramfs on a PVM
 * host, else ALL. */
enum rootfs_links { ROOTFS_LINKS_DEFAULT, ROOTFS_LINKS_ALL, ROOTFS_LINKS_MINIMAL };

struct rootfs_opts {
	enum rootfs_format format;
	uint64_t ext4_size;  /* bytes, for ROOTFS_EXT4 */
	const char *busybox; /* NULL: ROOTFS_DEFAULT_BUSYBOX */
	enum rootfs_links links;
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
