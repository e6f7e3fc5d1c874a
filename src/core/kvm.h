/* Opening /dev/kvm and checking, with a message naming what is missing, that
 * it offers the API version and every capability volt relies on; routing
 * eventfds into a VM (the virtio transport's kicks and interrupts); reading a
 * vCPU's CPUID table back. */
#ifndef VOLT_CORE_KVM_H
#define VOLT_CORE_KVM_H

#include <linux/kvm.h>
#include <stdint.h>

#define KVM_DEVICE "/dev/kvm"

/* Returns the KVM_DEVICE fd or -errno (logged). */
int kvm_open(void);

/* A 4-byte guest write of datamatch to MMIO address addr signals fd in the
 * kernel, without a VM exit to volt. 0 or -errno. */
int kvm_ioeventfd(int vm_fd, int fd, uint64_t addr, uint32_t datamatch);
/* A signal of fd asserts the guest's interrupt line gsi. 0 or -errno. */
int kvm_irqfd(int vm_fd, int fd, uint32_t gsi);
/* KVM_GET_CPUID2 into out (room for max entries), with out->nent the number
 * of entries the vCPU holds: kernels before 6.6 leave nent as the caller set it
 * when the call succeeds. 0 or -errno (-E2BIG: more than max). */
int kvm_get_cpuid2(int vcpu_fd, struct kvm_cpuid2 *out, unsigned int max);

#endif
