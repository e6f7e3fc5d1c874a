/* The PVH boot ABI: what a PVH guest finds at EBX when it enters its
 * XEN_ELFNOTE_PHYS32_ENTRY. Not in any UAPI header; the layout is Xen's
 * public ABI, xen/include/public/arch-x86/hvm/start_info.h (Linux keeps a copy
 * in include/xen/interface/hvm/start_info.h). Version 1 adds the memory map. */
#ifndef VOLT_BOOT_PVH_H
#define VOLT_BOOT_PVH_H

#include <stdint.h>

#define XEN_HVM_START_MAGIC_VALUE 0x336ec578
#define XEN_HVM_MEMMAP_TYPE_RAM	  1
#define XEN_ELFNOTE_PHYS32_ENTRY  18

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr; /* array of struct hvm_modlist_entry */
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr; /* array of struct hvm_memmap_table_entry (version 1) */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info is 56 bytes in the ABI");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry is 32 bytes");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry is 24 bytes");

#endif
