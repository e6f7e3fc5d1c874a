/* A bare VM for the vCPU tests: /dev/kvm (the test is skipped without it), a
 * VM with its TSS, identity map and irqchip, volt's guest memory of mem_size
 * with volt's page tables and GDT, and code at code_gpa. What else a test
 * needs (a PIT, buses, vCPUs) it adds itself. */
#ifndef VOLT_TESTS_UNIT_KVM_VM_H
#define VOLT_TESTS_UNIT_KVM_VM_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "arch/x86/gdt.h"
#include "arch/x86/layout.h"
#include "arch/x86/pagetables.h"
#include "core/guest_mem.h"
#include "util/deadline.h"

/* The deadline of a wait on a vCPU thread that should end long before it. */
static inline const struct timespec *in_10s(void)
{
	static __thread struct timespec t;

	t = deadline_after_ms(10000);
	return &t;
}

/* Returns KVM's vCPU mmap size. */
static inline int test_kvm_vm(int *kvm_fd, int *vm_fd, struct guest_mem *mem, uint64_t mem_size,
			      uint64_t code_gpa, const void *code, size_t code_len)
{
	struct kvm_userspace_memory_region region;
	uint64_t identity = LAYOUT_KVM_IDENTITY;
	int run_size;

	*kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (*kvm_fd < 0)
		cr_skip_test("no /dev/kvm");
	run_size = ioctl(*kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	*vm_fd = ioctl(*kvm_fd, KVM_CREATE_VM, 0);
	cr_assert_geq(*vm_fd, 0);
	cr_assert_eq(ioctl(*vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS), 0);
	cr_assert_eq(ioctl(*vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity), 0);
	cr_assert_eq(ioctl(*vm_fd, KVM_CREATE_IRQCHIP, 0), 0);
	cr_assert_eq(layout_guest_mem_init(mem, mem_size), 0);
	region = (struct kvm_userspace_memory_region){
		.memory_size = mem->regions[0].size,
		.userspace_addr = (uint64_t)(uintptr_t)mem->regions[0].hva,
	};
	cr_assert_eq(ioctl(*vm_fd, KVM_SET_USER_MEMORY_REGION, &region), 0);
	cr_assert_eq(pagetables_build(mem), 0);
	cr_assert_eq(gdt_write(mem), 0);
	cr_assert_eq(guest_write(mem, code_gpa, code, code_len), 0);
	return run_size;
}

#endif
