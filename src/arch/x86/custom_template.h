/* Firecracker's custom CPU template (PUT /cpu-config): KVM capabilities to
 * check, CPUID modifiers and MSR modifiers. A modifier is Firecracker's
 * RegisterValueFilter: the bits of filter are set to those of value, the
 * others kept: new = (old & ~filter) | value. Parsing is in
 * api/cpu_config_json.c; this is the data and its application. */
#ifndef VOLT_ARCH_X86_CUSTOM_TEMPLATE_H
#define VOLT_ARCH_X86_CUSTOM_TEMPLATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CT_MAX_CAPS	64
#define CT_MAX_LEAVES	128
#define CT_MAX_REG_MODS 8 /* register modifiers of one leaf */
#define CT_MAX_MSRS	128

struct ct_kvm_cap {
	uint32_t cap;
	bool remove; /* "!N" */
};

struct ct_reg_mod {
	uint8_t reg; /* CPUID_EAX... (arch/x86/cpuid.h) */
	uint32_t filter, value;
};

struct ct_cpuid_mod {
	uint32_t leaf, subleaf, flags;
	unsigned int nmods;
	struct ct_reg_mod mods[CT_MAX_REG_MODS];
};

struct ct_msr_mod {
	uint32_t addr;
	uint64_t filter, value;
};

struct custom_cpu_template {
	unsigned int ncaps, nleaves, nmsrs;
	struct ct_kvm_cap caps[CT_MAX_CAPS];
	struct ct_cpuid_mod leaves[CT_MAX_LEAVES];
	struct ct_msr_mod msrs[CT_MAX_MSRS];
};

static inline uint32_t ct_apply32(uint32_t old, uint32_t filter, uint32_t value)
{
	return (old & ~filter) | value;
}

static inline uint64_t ct_apply64(uint64_t old, uint64_t filter, uint64_t value)
{
	return (old & ~filter) | value;
}

/* Firecracker's apply_template_to_cpuid: each modifier's (leaf, subleaf) must
 * be in c; its flags replace the entry's, its register modifiers are applied
 * in order. Returns 0, or -ENOENT with the missing leaf's index in *bad
 * (c is then partly modified). */
int ct_apply_cpuid(const struct custom_cpu_template *t, struct kvm_cpuid2 *c, unsigned int *bad);

/* The capabilities Firecracker would add to its check list ("N", not "!N",
 * a later "!N" cancelling an earlier "N"): the first one KVM_CHECK_EXTENSION
 * on kvm_fd answers 0 for, in *missing. 0, or -ENOTSUP. */
int ct_check_caps(const struct custom_cpu_template *t, int kvm_fd, uint32_t *missing);

/* Applies the MSR modifiers on a vCPU: each MSR is read (KVM_GET_MSRS), its
 * modifier applied, and written back (KVM_SET_MSRS). 0, or -ENOENT (KVM does
 * not read that MSR) / -EPERM (KVM refuses the value) with the modifier's
 * index in *bad. */
int ct_apply_msrs(const struct custom_cpu_template *t, int vcpu_fd, unsigned int *bad);

#endif
