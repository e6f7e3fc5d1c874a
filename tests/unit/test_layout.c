/* The fixed layout and the boot page tables, for every RAM size volt allows. */
#include <criterion/criterion.h>
#include <errno.h>

#include "arch/x86/layout.h"
#include "arch/x86/pagetables.h"

static const uint64_t MiB = 1ULL << 20;

/* Power-of-two and odd sizes across 2 MiB..16 GiB, the hole's edges included. */
static const uint64_t sizes[] = {
	2 * MiB,    3 * MiB,	64 * MiB,    127 * MiB,	  128 * 1024 * 1024ULL,
	129 * MiB,  255 * MiB,	256 * MiB,   1000 * MiB,  1024 * MiB,
	3071 * MiB, 3072 * MiB, 3073 * MiB,  4095 * MiB,  4096 * MiB,
	5000 * MiB, 8192 * MiB, 12345 * MiB, 16383 * MiB, 16384 * MiB
};

Test(layout, no_overlap_and_all_in_ram_for_every_size)
{
	char why[128];
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		cr_assert_eq(layout_check(sizes[i], why, sizeof(why)), 0, "%llu MiB: %s",
			     (unsigned long long)(sizes[i] >> 20), why);
	for (uint64_t s = 128 * MiB; s <= 16384 * MiB; s += 97 * MiB)
		cr_assert_eq(layout_check(s, why, sizeof(why)), 0, "%llu MiB: %s",
			     (unsigned long long)(s >> 20), why);
}

Test(layout, rejects_sizes_out_of_range)
{
	char why[128];

	cr_assert_eq(LAYOUT_MEM_MIN, 2 * MiB);
	cr_assert_eq(layout_check(1 * MiB, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "memory size 1 MiB outside 2..65536 MiB");
	cr_assert_eq(layout_check(0, why, sizeof(why)), -EINVAL);
	/* Below the minimum the kernel area would not be RAM. */
	cr_assert_eq(LAYOUT_KERNEL_MIN + 0x1000 > 1 * MiB, true);
	cr_assert_eq(layout_check(LAYOUT_MEM_MAX + MiB, why, sizeof(why)), -EINVAL);
}

Test(layout, fixed_addresses_are_the_documented_ones)
{
	cr_assert_eq(LAYOUT_GDT, 0x500);
	cr_assert_eq(LAYOUT_PML4, 0x1000);
	cr_assert_eq(LAYOUT_PDPT_LOW, 0x2000);
	cr_assert_eq(LAYOUT_PDPT_HIGH, 0x3000);
	cr_assert_eq(LAYOUT_PD_IDENT, 0x4000);
	cr_assert_eq(LAYOUT_PD_HIGH + LAYOUT_PD_HIGH_COUNT * 0x1000, 0xA000);
	cr_assert_eq(LAYOUT_STACK, 0x1FFF0);
	cr_assert_eq(LAYOUT_ZERO_PAGE, 0x20000);
	cr_assert_eq(LAYOUT_PVH_START_INFO, 0x21000);
	cr_assert_eq(LAYOUT_E820, 0x22000);
	cr_assert_eq(LAYOUT_CMDLINE, 0x30000);
}

static void check_walks(uint64_t size)
{
	struct guest_mem m;
	uint64_t pa, va;

	cr_assert_eq(layout_guest_mem_init(&m, size), 0);
	cr_assert_eq(pagetables_build(&m), 0);
	/* Identity: every 2 MiB page of 0-4 GiB, at a few offsets. */
	for (va = 0; va < (4ULL << 30); va += 2 * MiB + 4096 * 7) {
		cr_assert_eq(pagetables_walk(&m, LAYOUT_PML4, va, &pa), 0, "va %#llx",
			     (unsigned long long)va);
		cr_assert_eq(pa, va);
	}
	cr_assert_eq(pagetables_walk(&m, LAYOUT_PML4, 0xffffffff81000000ULL, &pa), 0);
	cr_assert_eq(pa, 0x1000000);
	cr_assert_eq(pagetables_walk(&m, LAYOUT_PML4, LAYOUT_HIGH_HALF_BASE, &pa), 0);
	cr_assert_eq(pa, 0);
	cr_assert_eq(pagetables_walk(&m, LAYOUT_PML4, 0xffffffffbfffffffULL, &pa), 0);
	cr_assert_eq(pa, 0x3fffffff);
	cr_assert_eq(pagetables_walk(&m, LAYOUT_PML4, 0xfffffffffffff000ULL, &pa), 0);
	cr_assert_eq(pa, 0x7ffff000);
	/* Nothing else is mapped. */
	cr_assert_eq(pagetables_walk(&m, LAYOUT_PML4, 4ULL << 30, &pa), -ENOENT);
	cr_assert_eq(pagetables_walk(&m, LAYOUT_PML4, 0xffff800000000000ULL, &pa), -ENOENT);
	cr_assert_eq(pagetables_walk(&m, LAYOUT_PML4, 0xffffffff7fffffffULL, &pa), -ENOENT);
	/* A root outside RAM is a fault, not a crash. */
	cr_assert_eq(pagetables_walk(&m, 0xF0000000ULL, 0, &pa), -EFAULT);
	guest_mem_free(&m);
}

Test(pagetables, walk_resolves_identity_and_high_half_for_all_sizes)
{
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		check_walks(sizes[i]);
}
