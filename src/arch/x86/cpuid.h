/* Firecracker-style CPUID normalization: start from KVM_GET_SUPPORTED_CPUID
 * and apply data-driven per-leaf rules (strip, set, per-vCPU topology), then
 * a named template's modifications. On a PVM host, only CX16 (plus x2APIC,
 * TSC-deadline and the hypervisor bit) can really be hidden from the guest's
 * ring 0; the rest is hidden through kernel parameters (see vmm/host.h). */
#ifndef VOLT_ARCH_X86_CPUID_H
#define VOLT_ARCH_X86_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>

struct cpuid_template;

/* "none" (default: only the base rules) or a named template; NULL when unknown. */
const struct cpuid_template *cpuid_template_find(const char *name);
/* Comma-separated names of the known templates, for messages. */
const char *cpuid_template_names(void);

/* Normalizes c (as returned by KVM_GET_SUPPORTED_CPUID) in place for vCPU
 * cpu_index of ncpus. Returns 0 or -errno (-E2BIG when an entry must be added
 * and c->nent has reached max_entries). */
int cpuid_normalize(struct kvm_cpuid2 *c, unsigned int max_entries, unsigned int cpu_index,
		    unsigned int ncpus, const struct cpuid_template *t, bool pvm_host);

/* `volt cpuid`: prints the supported or the normalized table a vCPU gets. */
int cpuid_cmd(int argc, char **argv);

#endif
