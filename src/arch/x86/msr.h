/* The MSRs volt sets on every vCPU before it runs (Firecracker's boot list):
 * the system-call entry MSRs zeroed for the guest kernel to fill in, the TSC
 * at 0, fast strings on and MTRRs enabled with write-back as the default type,
 * which Linux needs to map RAM cacheable. */
#ifndef VOLT_ARCH_X86_MSR_H
#define VOLT_ARCH_X86_MSR_H

#include <linux/kvm.h>

/* Architectural MSR numbers (Intel SDM vol. 4; AMD APM vol. 2 for the
 * 0xc00000xx ones). There is no UAPI header for them. */
#define MSR_IA32_TSC	      0x00000010 /* time-stamp counter */
#define MSR_IA32_SYSENTER_CS  0x00000174 /* SYSENTER target code segment */
#define MSR_IA32_SYSENTER_ESP 0x00000175 /* SYSENTER stack pointer */
#define MSR_IA32_SYSENTER_EIP 0x00000176 /* SYSENTER entry point */
#define MSR_IA32_MISC_ENABLE  0x000001a0 /* bit 0: fast-string operations */
#define MSR_MTRRdefType	      0x000002ff /* bit 11: MTRRs on; bits 7:0 default type */
#define MSR_EFER	      0xc0000080 /* set through KVM_SET_SREGS, not here */
#define MSR_STAR	      0xc0000081 /* SYSCALL/SYSRET segment selectors */
#define MSR_LSTAR	      0xc0000082 /* 64-bit SYSCALL entry point */
#define MSR_CSTAR	      0xc0000083 /* compatibility-mode SYSCALL entry point */
#define MSR_SYSCALL_MASK      0xc0000084 /* RFLAGS bits SYSCALL clears (SFMASK) */
#define MSR_KERNEL_GS_BASE    0xc0000102 /* GS base SWAPGS exchanges */

#define MSR_IA32_MISC_ENABLE_FAST_STRING (1ULL << 0)
#define MTRR_DEF_TYPE_E			 (1ULL << 11) /* MTRRs enabled */
#define MTRR_TYPE_WRBACK		 6ULL

/* How many MSRs boot_msrs() sets. */
#define BOOT_MSRS_COUNT 11

/* Fills e with the boot MSRs (index and data, the rest zeroed). Returns the
 * count (BOOT_MSRS_COUNT), or -E2BIG when max is smaller: a partial list
 * would boot a vCPU with stale MSRs. */
int boot_msrs(struct kvm_msr_entry *e, int max);

#endif
