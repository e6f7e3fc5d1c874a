/* The e820 RAM map and the Linux zero page (struct boot_params) at
 * LAYOUT_ZERO_PAGE. The zero page starts from zeros, takes a bzImage's own
 * setup header (the protocol asks loaders to keep its fields), then gets what
 * the loader must fill in: loader type, command line, initrd, memory map. */
#include "boot/boot.h"

#include "arch/x86/layout.h"

#include <errno.h>
#include <string.h>

#ifndef E820_RAM
#define E820_RAM 1
#endif

#define LOADER_TYPE_UNDEFINED 0xff /* boot.rst: "Undefined", for loaders without an ID */
#define BOOT_FLAG_MAGIC	      0xAA55
#define HDRS_MAGIC	      0x53726448 /* "HdrS" */
/* What Linux's own PVH entry claims for the boot_params it builds. */
#define ELF_PROTOCOL_VERSION 0x020c
#define ELF_KERNEL_ALIGNMENT 0x1000000
/* boot.rst: heap_end_ptr is relative to the setup code, minus 0x200. */
#define HEAP_END_PTR 0xfe00

int e820_build(const struct guest_mem *m, struct boot_e820_entry *e, int max)
{
	struct boot_e820_entry map[3];
	uint64_t low_end = guest_mem_low_end(m);
	int n = 0;

	map[n++] =
		(struct boot_e820_entry){ .addr = 0, .size = LAYOUT_EBDA_START, .type = E820_RAM };
	if (low_end > LAYOUT_HIMEM_START)
		map[n++] = (struct boot_e820_entry){ .addr = LAYOUT_HIMEM_START,
						     .size = low_end - LAYOUT_HIMEM_START,
						     .type = E820_RAM };
	if (guest_mem_end(m) > LAYOUT_MMIO_HOLE_END)
		map[n++] =
			(struct boot_e820_entry){ .addr = LAYOUT_MMIO_HOLE_END,
						  .size = guest_mem_end(m) - LAYOUT_MMIO_HOLE_END,
						  .type = E820_RAM };
	if (max < n)
		return -E2BIG;
	memcpy(e, map, (size_t)n * sizeof(*e));
	return n;
}

int boot_write_zero_page(struct guest_mem *m, const struct boot_kernel *k, uint32_t cmdline_len,
			 uint64_t initrd_gpa, uint64_t initrd_size)
{
	struct boot_params bp;
	int n;

	if (cmdline_len >= LAYOUT_CMDLINE_MAX)
		return -E2BIG;
	if (initrd_size && !gpa_to_hva(m, initrd_gpa, initrd_size))
		return -EFAULT;

	memset(&bp, 0, sizeof(bp));
	if (k->has_setup_header) {
		bp.hdr = k->setup;
		/* A pointer the image chose would send the kernel to walk our memory. */
		bp.hdr.setup_data = 0;
		bp.hdr.loadflags |= CAN_USE_HEAP;
		bp.hdr.heap_end_ptr = HEAP_END_PTR;
	} else {
		bp.hdr.version = ELF_PROTOCOL_VERSION;
		bp.hdr.kernel_alignment = ELF_KERNEL_ALIGNMENT;
	}
	bp.hdr.type_of_loader = LOADER_TYPE_UNDEFINED;
	bp.hdr.boot_flag = BOOT_FLAG_MAGIC;
	bp.hdr.header = HDRS_MAGIC;
	bp.hdr.loadflags |= LOADED_HIGH;
	bp.hdr.hardware_subarch = X86_SUBARCH_PC;
	bp.hdr.hardware_subarch_data = 0;
	bp.hdr.cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
	bp.ext_cmd_line_ptr = (uint32_t)(LAYOUT_CMDLINE >> 32);
	bp.hdr.cmdline_size = cmdline_len;
	if (initrd_size) {
		bp.hdr.ramdisk_image = (uint32_t)initrd_gpa;
		bp.ext_ramdisk_image = (uint32_t)(initrd_gpa >> 32);
		bp.hdr.ramdisk_size = (uint32_t)initrd_size;
		bp.ext_ramdisk_size = (uint32_t)(initrd_size >> 32);
	}
	n = e820_build(m, bp.e820_table, E820_MAX_ENTRIES_ZEROPAGE);
	if (n < 0)
		return n;
	bp.e820_entries = (uint8_t)n;
	return guest_write(m, LAYOUT_ZERO_PAGE, &bp, sizeof(bp));
}
