#include "arch/x86/gdt.h"

#include "arch/x86/layout.h"

#include <errno.h>

/* Flat descriptors: limit 0xfffff, base 0. Access bytes: 0x9b code, 0x93 data,
 * 0x8b busy TSS; flags: 0xa = 4 KiB granularity + long mode, 0xc = 4 KiB + 32-bit. */
#define DESC(flags, access)                                                                     \
	((((uint64_t)(flags)&0xf) << 52) | ((uint64_t)0xf << 48) | ((uint64_t)(access) << 40) | \
	 0xffffULL)

const uint64_t gdt_table[GDT_ENTRIES] = {
	[GDT_NULL] = 0,
	[GDT_CODE64] = DESC(0xa, 0x9b),
	[GDT_DATA] = DESC(0xc, 0x93),
	[GDT_TSS] = DESC(0x8, 0x8b),
	[GDT_CODE32] = DESC(0xc, 0x9b),
};

int gdt_write(struct guest_mem *m)
{
	_Static_assert(sizeof(gdt_table) <= LAYOUT_GDT_SIZE, "GDT larger than its slot");
	return guest_write(m, LAYOUT_GDT, gdt_table, sizeof(gdt_table));
}

struct kvm_segment gdt_segment(enum gdt_index i)
{
	uint64_t d = gdt_table[i];
	struct kvm_segment s = {
		.base = (d >> 16 & 0xffffff) | (d >> 32 & 0xff000000),
		.limit = (uint32_t)((d & 0xffff) | (d >> 32 & 0xf0000)),
		.selector = GDT_SELECTOR(i),
		.type = (uint8_t)(d >> 40 & 0xf),
		.present = (uint8_t)(d >> 47 & 1),
		.dpl = (uint8_t)(d >> 45 & 3),
		.db = (uint8_t)(d >> 54 & 1),
		.s = (uint8_t)(d >> 44 & 1),
		.l = (uint8_t)(d >> 53 & 1),
		.g = (uint8_t)(d >> 55 & 1),
		.avl = (uint8_t)(d >> 52 & 1),
	};

	/* With 4 KiB granularity the limit counts pages: KVM wants bytes. */
	if (s.g)
		s.limit = (s.limit << 12) | 0xfff;
	s.unusable = !s.present;
	return s;
}
