/* The boot MSR list: every MSR volt promises, with its value, once. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "arch/x86/msr.h"

static const struct {
	__u32 index;
	__u64 data;
	const char *name;
} expected[] = {
	{ 0x174, 0, "IA32_SYSENTER_CS" },
	{ 0x175, 0, "IA32_SYSENTER_ESP" },
	{ 0x176, 0, "IA32_SYSENTER_EIP" },
	{ 0xc0000081, 0, "STAR" },
	{ 0xc0000082, 0, "LSTAR" },
	{ 0xc0000083, 0, "CSTAR" },
	{ 0xc0000084, 0, "SYSCALL_MASK" },
	{ 0xc0000102, 0, "KERNEL_GS_BASE" },
	{ 0x10, 0, "IA32_TSC" },
	{ 0x1a0, 1, "IA32_MISC_ENABLE: fast strings" },
	{ 0x2ff, (1 << 11) | 6, "MTRRdefType: enabled, write-back" },
};

#define NEXPECTED (sizeof(expected) / sizeof(expected[0]))

Test(msr, numbers_are_the_architectural_ones)
{
	cr_assert_eq(MSR_IA32_TSC, 0x10);
	cr_assert_eq(MSR_IA32_SYSENTER_CS, 0x174);
	cr_assert_eq(MSR_IA32_SYSENTER_ESP, 0x175);
	cr_assert_eq(MSR_IA32_SYSENTER_EIP, 0x176);
	cr_assert_eq(MSR_IA32_MISC_ENABLE, 0x1a0);
	cr_assert_eq(MSR_MTRRdefType, 0x2ff);
	cr_assert_eq(MSR_STAR, 0xc0000081);
	cr_assert_eq(MSR_LSTAR, 0xc0000082);
	cr_assert_eq(MSR_CSTAR, 0xc0000083);
	cr_assert_eq(MSR_SYSCALL_MASK, 0xc0000084);
	cr_assert_eq(MSR_KERNEL_GS_BASE, 0xc0000102);
}

Test(msr, list_has_every_boot_msr_with_its_value)
{
	struct kvm_msr_entry e[32];
	int n;

	memset(e, 0xa5, sizeof(e));
	n = boot_msrs(e, 32);
	cr_assert_eq(n, (int)NEXPECTED);
	cr_assert_eq(n, BOOT_MSRS_COUNT);
	for (size_t i = 0; i < NEXPECTED; i++) {
		int found = 0;

		for (int j = 0; j < n; j++) {
			if (e[j].index != expected[i].index)
				continue;
			found++;
			cr_assert_eq(e[j].data, expected[i].data, "%s = 0x%llx", expected[i].name,
				     (unsigned long long)e[j].data);
			cr_assert_eq(e[j].reserved, 0, "%s: reserved not zeroed", expected[i].name);
		}
		cr_assert_eq(found, 1, "%s listed %d times", expected[i].name, found);
	}
	/* Entries past the list are left alone. */
	cr_assert_eq(e[n].index, 0xa5a5a5a5);
}

Test(msr, no_duplicates)
{
	struct kvm_msr_entry e[BOOT_MSRS_COUNT];
	int n = boot_msrs(e, BOOT_MSRS_COUNT);

	cr_assert_eq(n, BOOT_MSRS_COUNT, "an exact-size array is enough");
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			cr_assert_neq(e[i].index, e[j].index, "0x%x twice", e[i].index);
}

Test(msr, too_small_an_array_is_e2big_not_a_partial_list)
{
	struct kvm_msr_entry e[BOOT_MSRS_COUNT];

	memset(e, 0, sizeof(e));
	cr_assert_eq(boot_msrs(e, BOOT_MSRS_COUNT - 1), -E2BIG);
	cr_assert_eq(boot_msrs(e, 0), -E2BIG);
	cr_assert_eq(e[0].index, 0, "nothing written");
}
