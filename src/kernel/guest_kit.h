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

/* What the guest kit's command line gets appended, each unless the command
 * line already sets that parameter: on every host clocksource=kvm-clock
 * (kvmclock, restored with a snapshot, keeps a restored guest's clock from
 * jumping: docs/snapshots.md); on PVM hosts, where guest ring 0 is emulated,
 * GUEST_KIT_PVM_CMDLINE, boot-time cuts that cost seconds there and buy
 * nothing that matters on real KVM (docs/boot-time.md). 0, or -E2BIG when
 * cmdline (size bytes) cannot hold them. */
#define GUEST_KIT_CMDLINE "clocksource=kvm-clock"
#define GUEST_KIT_PVM_CMDLINE \
	"percpu_alloc=page noreplace-smp rcupdate.rcu_cpu_stall_suppress=1 rodata=off"
int guest_kit_cmdline_append(char *cmdline, size_t size, bool pvm_host);

#endif
