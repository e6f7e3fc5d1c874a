/* Initial vCPU state for the two entry protocols: 64-bit Linux (long mode,
 * paging on through volt's tables, RSI = zero page) and PVH (32-bit protected
 * mode, paging off, EBX = start_info). The *_fill functions are pure. */
#ifndef VOLT_ARCH_X86_REGS_H
#define VOLT_ARCH_X86_REGS_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#define X86_CR0_PE  (1ULL << 0)
#define X86_CR0_ET  (1ULL << 4)
#define X86_CR0_PG  (1ULL << 31)
#define X86_CR4_PAE (1ULL << 5)
#define EFER_SCE    (1ULL << 0)
#define EFER_LME    (1ULL << 8)
#define EFER_LMA    (1ULL << 10)

void regs_fill_sregs(struct kvm_sregs *s, bool long_mode);
void regs_fill_regs(struct kvm_regs *r, bool long_mode, uint64_t entry, uint64_t boot_info);
/* Applies both plus the FPU defaults to the vCPU. */
int regs_setup_boot_cpu(int vcpu_fd, bool long_mode, uint64_t entry, uint64_t boot_info);
int regs_setup_fpu(int vcpu_fd);

#endif
