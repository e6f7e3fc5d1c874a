/* The MSRs volt sets on every vCPU before it runs (Firecracker's boot list). */
#ifndef VOLT_ARCH_X86_MSR_H
#define VOLT_ARCH_X86_MSR_H

#include <linux/kvm.h>

/* Fills up to max entries; returns the count. */
int boot_msrs(struct kvm_msr_entry *e, int max);

#endif
