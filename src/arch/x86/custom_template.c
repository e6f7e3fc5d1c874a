/* Firecracker's custom CPU template: its application (custom_template.h). */
#include "arch/x86/custom_template.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/cpuid.h"

int ct_apply_cpuid(const struct custom_cpu_template *t, struct kvm_cpuid2 *c, unsigned int *bad)
{
	unsigned int i, k;

	for (i = 0; i < t->nleaves; i++) {
		const struct ct_cpuid_mod *m = &t->leaves[i];
		struct kvm_cpuid_entry2 *e = NULL;

		/* Firecracker's CpuidKey: leaf and subleaf, whatever the flags. */
		for (k = 0; k < c->nent && !e; k++)
			if (c->entries[k].function == m->leaf && c->entries[k].index == m->subleaf)
				e = &c->entries[k];
		if (!e) {
			if (bad)
				*bad = i;
			return -ENOENT;
		}
		e->flags = m->flags;
		for (k = 0; k < m->nmods; k++) {
			const struct ct_reg_mod *r = &m->mods[k];
			__u32 *reg = r->reg == CPUID_EAX   ? &e->eax
				     : r->reg == CPUID_EBX ? &e->ebx
				     : r->reg == CPUID_ECX ? &e->ecx
							   : &e->edx;

			*reg = ct_apply32(*reg, r->filter, r->value);
		}
	}
	return 0;
}

int ct_check_caps(const struct custom_cpu_template *t, int kvm_fd, uint32_t *missing)
{
	uint32_t list[CT_MAX_CAPS];
	unsigned int n = 0, i, k;

	/* Firecracker's combine_capabilities over an empty base list: volt's
	 * own required capabilities are checked where they are used. */
	for (i = 0; i < t->ncaps; i++) {
		for (k = 0; k < n && list[k] != t->caps[i].cap; k++)
			;
		if (!t->caps[i].remove && k == n)
			list[n++] = t->caps[i].cap;
		else if (t->caps[i].remove && k < n)
			list[k] = list[--n];
	}
	for (i = 0; i < n; i++)
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, (unsigned long)list[i]) <= 0) {
			if (missing)
				*missing = list[i];
			return -ENOTSUP;
		}
	return 0;
}

int ct_apply_msrs(const struct custom_cpu_template *t, int vcpu_fd, unsigned int *bad)
{
	/* One entry after the header (kvm_msrs ends in a flexible array). */
	union {
		struct kvm_msrs h;
		uint8_t buf[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} m;
	struct kvm_msr_entry *e = m.h.entries;
	unsigned int i;

	for (i = 0; i < t->nmsrs; i++) {
		const struct ct_msr_mod *mod = &t->msrs[i];

		memset(&m, 0, sizeof(m));
		m.h.nmsrs = 1;
		e->index = mod->addr;
		if (ioctl(vcpu_fd, KVM_GET_MSRS, &m) != 1) {
			if (bad)
				*bad = i;
			return -ENOENT;
		}
		e->data = ct_apply64(e->data, mod->filter, mod->value);
		if (ioctl(vcpu_fd, KVM_SET_MSRS, &m) != 1) {
			if (bad)
				*bad = i;
			return -EPERM;
		}
	}
	return 0;
}
