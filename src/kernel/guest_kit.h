/* The guest kit as a whole: the default kernel (kernel.h) and the busybox
 * root filesystem (rootfs.h), as the front-ends use them when no --kernel is
 * given. */
#ifndef VOLT_KERNEL_GUEST_KIT_H
#define VOLT_KERNEL_GUEST_KIT_H

#include <stdbool.h>
#include <stddef.h>

/* The guest kit's vmlinux into kernel and, unless initrd is NULL, its
 * initramfs into initrd (built on first use). A kernel not built yet is built
 * when build is set (a line on stderr says so, it takes minutes); otherwise
 * it is an error, logged with the command that builds it. 0 or -errno. */
int guest_kit_paths(bool build, char *kernel, size_t ksize, char *initrd, size_t isize);

#endif
