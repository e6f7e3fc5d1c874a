/* The PVH start of day: struct hvm_start_info at LAYOUT_PVH_START_INFO, the
 * initrd as its only module right after it in the same page, and the memory
 * map (the same ranges as e820) at LAYOUT_E820. Layouts in boot/pvh.h. */
#include "boot/boot.h"

#include "arch/x86/layout.h"
#include "boot/pvh.h"

#include <errno.h>
#include <string.h>

#define PVH_MEMMAP_MAX (LAYOUT_E820_SIZE / sizeof(struct hvm_memmap_table_entry))
/* The module list sits 8-aligned right after start_info. */
#define PVH_MODLIST (LAYOUT_PVH_START_INFO + ((sizeof(struct hvm_start_info) + 7) & ~7ULL))

_Static_assert(sizeof(struct hvm_start_info) + sizeof(struct hvm_modlist_entry) <= 0x1000,
	       "start_info and the module list share one page");

int boot_write_pvh_start_info(struct guest_mem *m, uint32_t cmdline_len, uint64_t initrd_gpa,
			      uint64_t initrd_size)
{
	struct boot_e820_entry e820[PVH_MEMMAP_MAX];
	struct hvm_memmap_table_entry map[PVH_MEMMAP_MAX];
	struct hvm_start_info si;
	struct hvm_modlist_entry mod;
	int i, n, err;

	/* PVH passes no length: the NUL at LAYOUT_CMDLINE ends it. */
	if (cmdline_len >= LAYOUT_CMDLINE_MAX)
		return -E2BIG;
	if (initrd_size && !gpa_to_hva(m, initrd_gpa, initrd_size))
		return -EFAULT;
	n = e820_build(m, e820, (int)PVH_MEMMAP_MAX);
	if (n < 0)
		return n;
	memset(map, 0, sizeof(map));
	for (i = 0; i < n; i++) {
		map[i].addr = e820[i].addr;
		map[i].size = e820[i].size;
		map[i].type = e820[i].type;
	}

	memset(&si, 0, sizeof(si));
	si.magic = XEN_HVM_START_MAGIC_VALUE;
	si.version = 1;
	si.cmdline_paddr = LAYOUT_CMDLINE;
	si.memmap_paddr = LAYOUT_E820;
	si.memmap_entries = (uint32_t)n;
	memset(&mod, 0, sizeof(mod));
	if (initrd_size) {
		si.nr_modules = 1;
		si.modlist_paddr = PVH_MODLIST;
		mod.paddr = initrd_gpa;
		mod.size = initrd_size;
	}

	err = guest_write(m, LAYOUT_E820, map, (uint64_t)n * sizeof(map[0]));
	if (!err)
		err = guest_write(m, PVH_MODLIST, &mod, sizeof(mod));
	if (!err)
		err = guest_write(m, LAYOUT_PVH_START_INFO, &si, sizeof(si));
	return err;
}
