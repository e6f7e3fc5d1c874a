/* The boot MSR list (see msr.h); a table so that tests can walk it. */
#include "arch/x86/msr.h"

#include <errno.h>
#include <string.h>

static const struct {
	__u32 index;
	__u64 data;
} boot_list[BOOT_MSRS_COUNT] = {
	{ MSR_IA32_SYSENTER_CS, 0 },
	{ MSR_IA32_SYSENTER_ESP, 0 },
	{ MSR_IA32_SYSENTER_EIP, 0 },
	{ MSR_STAR, 0 },
	{ MSR_CSTAR, 0 },
	{ MSR_KERNEL_GS_BASE, 0 },
	{ MSR_SYSCALL_MASK, 0 },
	{ MSR_LSTAR, 0 },
	{ MSR_IA32_TSC, 0 },
	{ MSR_IA32_MISC_ENABLE, MSR_IA32_MISC_ENABLE_FAST_STRING },
	{ MSR_MTRRdefType, MTRR_DEF_TYPE_E | MTRR_TYPE_WRBACK },
};

int boot_msrs(struct kvm_msr_entry *e, int max)
{
	if (max < BOOT_MSRS_COUNT)
		return -E2BIG;
	for (int i = 0; i < BOOT_MSRS_COUNT; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		e[i].index = boot_list[i].index;
		e[i].data = boot_list[i].data;
	}
	return BOOT_MSRS_COUNT;
}
