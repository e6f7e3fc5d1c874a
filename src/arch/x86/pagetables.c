#include "arch/x86/pagetables.h"

#include "arch/x86/layout.h"

#include <errno.h>
#include <string.h>

#define PTE_P	  (1ULL << 0)
#define PTE_RW	  (1ULL << 1)
#define PTE_PS	  (1ULL << 7)
#define ADDR_MASK 0x000FFFFFFFFFF000ULL

int pagetables_build(struct guest_mem *m)
{
	uint64_t *pml4 = gpa_to_hva(m, LAYOUT_PML4, 0x1000);
	uint64_t *pdpt_low = gpa_to_hva(m, LAYOUT_PDPT_LOW, 0x1000);
	uint64_t *pdpt_high = gpa_to_hva(m, LAYOUT_PDPT_HIGH, 0x1000);
	uint64_t *pd_ident = gpa_to_hva(m, LAYOUT_PD_IDENT, LAYOUT_PD_IDENT_COUNT * 0x1000);
	uint64_t *pd_high = gpa_to_hva(m, LAYOUT_PD_HIGH, LAYOUT_PD_HIGH_COUNT * 0x1000);
	uint64_t i;

	if (!pml4 || !pdpt_low || !pdpt_high || !pd_ident || !pd_high)
		return -EFAULT;
	memset(pml4, 0, 0x1000);
	memset(pdpt_low, 0, 0x1000);
	memset(pdpt_high, 0, 0x1000);
	pml4[0] = LAYOUT_PDPT_LOW | PTE_P | PTE_RW;
	pml4[511] = LAYOUT_PDPT_HIGH | PTE_P | PTE_RW;
	for (i = 0; i < LAYOUT_PD_IDENT_COUNT; i++)
		pdpt_low[i] = (LAYOUT_PD_IDENT + i * 0x1000) | PTE_P | PTE_RW;
	for (i = 0; i < 512 * LAYOUT_PD_IDENT_COUNT; i++)
		pd_ident[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
	/* 0xffffffff80000000 is PML4 slot 511, PDPT slot 510. */
	for (i = 0; i < LAYOUT_PD_HIGH_COUNT; i++)
		pdpt_high[510 + i] = (LAYOUT_PD_HIGH + i * 0x1000) | PTE_P | PTE_RW;
	for (i = 0; i < 512 * LAYOUT_PD_HIGH_COUNT; i++)
		pd_high[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

int pagetables_walk(const struct guest_mem *m, uint64_t cr3, uint64_t va, uint64_t *pa)
{
	uint64_t table = cr3 & ADDR_MASK;
	int level;

	for (level = 3; level >= 0; level--) {
		unsigned int shift = 12 + 9 * (unsigned int)level;
		uint64_t entry;

		if (guest_read(m, table + ((va >> shift) & 511) * 8, &entry, sizeof(entry)))
			return -EFAULT;
		if (!(entry & PTE_P))
			return -ENOENT;
		if (level == 0 || (level <= 2 && (entry & PTE_PS))) {
			uint64_t page_mask = (1ULL << shift) - 1;

			*pa = (entry & ADDR_MASK & ~page_mask) | (va & page_mask);
			return 0;
		}
		table = entry & ADDR_MASK;
	}
	return -ENOENT;
}
