/* volt's fixed guest-physical memory layout (x86-64). Every address the VMM
 * writes into guest memory before boot is named here; layout_check() proves
 * for a RAM size that none of them overlap or fall outside RAM.
 *
 *   0x00500  GDT                     0x20000  Linux zero page (boot_params)
 *   0x01000  PML4                    0x21000  PVH hvm_start_info
 *   0x02000  PDPT, identity 0-4 GiB  0x22000  e820 / PVH memory map
 *   0x03000  PDPT, high half         0x30000  kernel command line
 *   0x04000  4 PDs, 0-4 GiB (2 MiB)  0x9fc00  MP table (EBDA area, not RAM)
 *   0x08000  2 PDs, high half        0x100000 kernel (its ELF physical addresses)
 *   0x1fff0  boot stack top          3-4 GiB  MMIO hole (no RAM; RAM continues at 4 GiB)
 */
#ifndef VOLT_ARCH_X86_LAYOUT_H
#define VOLT_ARCH_X86_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"

#define LAYOUT_GDT	       0x500ULL
#define LAYOUT_GDT_SIZE	       0x40ULL
#define LAYOUT_PML4	       0x1000ULL
#define LAYOUT_PDPT_LOW	       0x2000ULL
#define LAYOUT_PDPT_HIGH       0x3000ULL
#define LAYOUT_PD_IDENT	       0x4000ULL /* 4 pages: 0-4 GiB */
#define LAYOUT_PD_IDENT_COUNT  4
#define LAYOUT_PD_HIGH	       0x8000ULL /* 2 pages: 0xffffffff80000000 + 2 GiB */
#define LAYOUT_PD_HIGH_COUNT   2
#define LAYOUT_PAGE_TABLES_END 0xA000ULL
#define LAYOUT_STACK	       0x1FFF0ULL /* initial RSP (grows down below it) */
#define LAYOUT_STACK_BOTTOM    0x1E000ULL /* what the boot stack may use */
#define LAYOUT_ZERO_PAGE       0x20000ULL
#define LAYOUT_PVH_START_INFO  0x21000ULL
#define LAYOUT_E820	       0x22000ULL
#define LAYOUT_E820_SIZE       0x1000ULL
#define LAYOUT_CMDLINE	       0x30000ULL
#define LAYOUT_CMDLINE_MAX     2048ULL	  /* x86 COMMAND_LINE_SIZE, NUL included */
#define LAYOUT_EBDA_START      0x9FC00ULL /* RAM below 1 MiB ends here */
#define LAYOUT_MPTABLE	       LAYOUT_EBDA_START
#define LAYOUT_MPTABLE_MAX     0x400ULL
#define LAYOUT_HIMEM_START     0x100000ULL /* 1 MiB */
#define LAYOUT_KERNEL_MIN      LAYOUT_HIMEM_START

#define LAYOUT_HIGH_HALF_BASE 0xFFFFFFFF80000000ULL /* maps to guest-physical 0 */

#define LAYOUT_MMIO_HOLE_START 0xC0000000ULL  /* 3 GiB */
#define LAYOUT_MMIO_HOLE_END   0x100000000ULL /* 4 GiB */
#define LAYOUT_VIRTIO_MMIO     0xD0000000ULL  /* virtio-mmio windows, 4 KiB each */
#define LAYOUT_VIRTIO_MMIO_END 0xE0000000ULL
#define LAYOUT_IOAPIC	       0xFEC00000ULL
#define LAYOUT_LAPIC	       0xFEE00000ULL
#define LAYOUT_KVM_IDENTITY    0xFFFBC000ULL /* KVM_SET_IDENTITY_MAP_ADDR: 1 page */
#define LAYOUT_KVM_TSS	       0xFFFBD000ULL /* KVM_SET_TSS_ADDR: 3 pages */

/* The least RAM the fixed layout fits in: the boot structures below 1 MiB
 * and the first page of the kernel area at 1 MiB, in whole MiB (Firecracker
 * takes any non-zero size, but loads its kernel at 1 MiB too). Whether the
 * kernel and an initrd fit is the loaders' check, with its own message. */
#define LAYOUT_MEM_MIN (2ULL << 20)
#define LAYOUT_MEM_MAX (64ULL << 30)

/* 0 when every fixed region lies in RAM and none overlaps another for a
 * guest of mem_size bytes; -EINVAL otherwise (with the pair named in why). */
int layout_check(uint64_t mem_size, char *why, int why_size);
/* Guest RAM of mem_size bytes (LAYOUT_MEM_MIN..LAYOUT_MEM_MAX, whole pages)
 * around the 32-bit MMIO hole; -EINVAL outside that, or -errno. */
int layout_guest_mem_init(struct guest_mem *m, uint64_t mem_size);
/* The same RAM backed as src says (guest_mem_map_from(): a snapshot's memory
 * file or a page-fault handler); 0 or -errno with a reason in why. */
int layout_guest_mem_init_from(struct guest_mem *m, uint64_t mem_size,
			       const struct guest_mem_source *src, char *why, size_t why_size);

#endif
