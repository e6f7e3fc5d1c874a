#include "arch/x86/layout.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

struct region {
	const char *name;
	uint64_t start, end; /* [start, end) */
};

int layout_check(uint64_t mem_size, char *why, int why_size)
{
	const struct region r[] = {
		{ "GDT", LAYOUT_GDT, LAYOUT_GDT + LAYOUT_GDT_SIZE },
		{ "PML4", LAYOUT_PML4, LAYOUT_PML4 + 0x1000 },
		{ "PDPT low", LAYOUT_PDPT_LOW, LAYOUT_PDPT_LOW + 0x1000 },
		{ "PDPT high", LAYOUT_PDPT_HIGH, LAYOUT_PDPT_HIGH + 0x1000 },
		{ "identity PDs", LAYOUT_PD_IDENT,
		  LAYOUT_PD_IDENT + LAYOUT_PD_IDENT_COUNT * 0x1000 },
		{ "high-half PDs", LAYOUT_PD_HIGH, LAYOUT_PD_HIGH + LAYOUT_PD_HIGH_COUNT * 0x1000 },
		{ "boot stack", LAYOUT_STACK_BOTTOM, LAYOUT_STACK + 0x10 },
		{ "zero page", LAYOUT_ZERO_PAGE, LAYOUT_ZERO_PAGE + 0x1000 },
		{ "PVH start_info", LAYOUT_PVH_START_INFO, LAYOUT_PVH_START_INFO + 0x1000 },
		{ "e820 map", LAYOUT_E820, LAYOUT_E820 + LAYOUT_E820_SIZE },
		{ "command line", LAYOUT_CMDLINE, LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX },
		{ "kernel area", LAYOUT_KERNEL_MIN, LAYOUT_KERNEL_MIN + 0x1000 },
	};
	const int n = (int)(sizeof(r) / sizeof(r[0]));
	uint64_t low_ram = mem_size < LAYOUT_MMIO_HOLE_START ? mem_size : LAYOUT_MMIO_HOLE_START;
	int i, j;

	if (mem_size < LAYOUT_MEM_MIN || mem_size > LAYOUT_MEM_MAX) {
		snprintf(why, (size_t)why_size, "memory size %llu MiB outside %llu..%llu MiB",
			 (unsigned long long)(mem_size >> 20), LAYOUT_MEM_MIN >> 20,
			 LAYOUT_MEM_MAX >> 20);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		bool in_base = r[i].end <= LAYOUT_EBDA_START;
		bool in_high = r[i].start >= LAYOUT_HIMEM_START && r[i].end <= low_ram;

		if (r[i].start >= r[i].end || !(in_base || in_high)) {
			snprintf(why, (size_t)why_size, "%s [%#llx, %#llx) is not in RAM",
				 r[i].name, (unsigned long long)r[i].start,
				 (unsigned long long)r[i].end);
			return -EINVAL;
		}
		for (j = i + 1; j < n; j++) {
			if (r[i].start < r[j].end && r[j].start < r[i].end) {
				snprintf(why, (size_t)why_size, "%s overlaps %s", r[i].name,
					 r[j].name);
				return -EINVAL;
			}
		}
	}
	/* The MP table sits in the EBDA window below 1 MiB, which e820 leaves out of RAM. */
	if (LAYOUT_MPTABLE < LAYOUT_EBDA_START || LAYOUT_MPTABLE + LAYOUT_MPTABLE_MAX > 0xA0000) {
		snprintf(why, (size_t)why_size, "MP table outside the EBDA window");
		return -EINVAL;
	}
	return 0;
}

int layout_guest_mem_init(struct guest_mem *m, uint64_t mem_size)
{
	if (mem_size < LAYOUT_MEM_MIN || mem_size > LAYOUT_MEM_MAX)
		return -EINVAL;
	return guest_mem_map(m, mem_size, LAYOUT_MMIO_HOLE_START, LAYOUT_MMIO_HOLE_END);
}

int layout_guest_mem_init_from(struct guest_mem *m, uint64_t mem_size,
			       const struct guest_mem_source *src, char *why, size_t why_size)
{
	if (mem_size < LAYOUT_MEM_MIN || mem_size > LAYOUT_MEM_MAX || (mem_size & 0xfff)) {
		snprintf(why, why_size,
			 "memory size %llu bytes outside %llu..%llu MiB (whole pages)",
			 (unsigned long long)mem_size, LAYOUT_MEM_MIN >> 20, LAYOUT_MEM_MAX >> 20);
		return -EINVAL;
	}
	return guest_mem_map_from(m, mem_size, LAYOUT_MMIO_HOLE_START, LAYOUT_MMIO_HOLE_END, src,
				  why, why_size);
}
