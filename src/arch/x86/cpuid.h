/* Firecracker-style CPUID normalization: start from KVM_GET_SUPPORTED_CPUID
 * and apply data-driven per-leaf rules (strip, set, per-vCPU topology), then
 * a named template's modifications. On a PVM host, only CX16 (plus x2APIC,
 * TSC-deadline and the hypervisor bit) can really be hidden from the guest's
 * ring 0; the rest is hidden through kernel parameters (see core/host.h).
 *
 * Tables are printed and parsed as one line per entry:
 *   0x00000001 0x00 eax=0x000806f8 ebx=0x00020800 ecx=0xf6f83203 edx=0x0789fbff
 * (lines starting with '#' are comments), the format of `volt cpuid` and of
 * the recorded dumps in tests/unit/data. */
#ifndef VOLT_ARCH_X86_CPUID_H
#define VOLT_ARCH_X86_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The most vCPUs the topology leaves can describe (0x4 EAX[31:26] is 6 bits). */
#define CPUID_MAX_CPUS 64

/* Register order in rule tables. */
enum { CPUID_EAX, CPUID_EBX, CPUID_ECX, CPUID_EDX };

/* The feature bits the base rules touch (tests check them by these names). */
#define CPUID_1_ECX_DTES64	   (1u << 2)
#define CPUID_1_ECX_MONITOR	   (1u << 3)
#define CPUID_1_ECX_DS_CPL	   (1u << 4)
#define CPUID_1_ECX_VMX		   (1u << 5)
#define CPUID_1_ECX_SMX		   (1u << 6)
#define CPUID_1_ECX_CX16	   (1u << 13)
#define CPUID_1_ECX_X2APIC	   (1u << 21)
#define CPUID_1_ECX_TSC_DEADLINE   (1u << 24)
#define CPUID_1_ECX_XSAVE	   (1u << 26)
#define CPUID_1_ECX_AVX		   (1u << 28)
#define CPUID_1_ECX_HYPERVISOR	   (1u << 31)
#define CPUID_1_EDX_HTT		   (1u << 28)
#define CPUID_7_EBX_HLE		   (1u << 4)
#define CPUID_7_EBX_RTM		   (1u << 11)
#define CPUID_7_EBX_PQM		   (1u << 12)
#define CPUID_7_EBX_MPX		   (1u << 14)
#define CPUID_7_EBX_PQE		   (1u << 15)
#define CPUID_7_EBX_AVX512F	   (1u << 16)
#define CPUID_80000001_EDX_SYSCALL (1u << 11)
#define CPUID_80000001_EDX_NX	   (1u << 20)
#define CPUID_80000001_EDX_LM	   (1u << 29)
#define CPUID_80000007_EDX_INVTSC  (1u << 8)

struct cpuid_template;
struct custom_cpu_template;

/* "none" (default: only the base rules) or a named template, matched without
 * regard to case; NULL when unknown. */
const struct cpuid_template *cpuid_template_find(const char *name);
/* Comma-separated names of the known templates, for messages. */
const char *cpuid_template_names(void);
const char *cpuid_template_name(const struct cpuid_template *t);
/* Firecracker's static templates (C3, T2, T2S, T2CL, T2A: fc_templates.h):
 * their modifiers (cpuid_normalize applies the CPUID ones, the vCPU the MSR
 * ones), NULL for volt's own; and the host vendor each is for ("GenuineIntel",
 * "AuthenticAMD"), NULL when any. */
const struct custom_cpu_template *cpuid_template_fc(const struct cpuid_template *t);
const char *cpuid_template_vendor(const struct cpuid_template *t);
/* This machine's CPUID vendor string. */
void cpuid_host_vendor(char vendor[13]);
/* The host's physical address width (CPUID 0x80000008 EAX[7:0]), which KVM
 * gives the guest: guest-physical addresses must stay below 1 << it. */
unsigned int cpuid_host_phys_bits(void);
/* 0, or -ENOTSUP with Firecracker's "CPU vendor mismatched between actual CPU
 * and CPU template." (and which vendor is which) in why when t is for the
 * other vendor. */
int cpuid_template_host_check(const struct cpuid_template *t, char *why, size_t why_size);

/* Normalizes c (as returned by KVM_GET_SUPPORTED_CPUID) in place for vCPU
 * cpu_index of ncpus (1..CPUID_MAX_CPUS), all in one package: each vCPU its
 * own core, or with smt two threads per core (Firecracker's `smt`; ncpus 1 or
 * even); t NULL means "none". Leaves a guest needs and c lacks are inserted
 * in order. Returns 0 or -errno: -EINVAL for a bad cpu_index/ncpus (or an odd
 * ncpus above 1 with smt), -E2BIG when an entry must be added and c->nent has
 * reached max_entries (c is left unchanged on either error), -ENOENT when a
 * Firecracker template changes a leaf c lacks. */
int cpuid_normalize(struct kvm_cpuid2 *c, unsigned int max_entries, unsigned int cpu_index,
		    unsigned int ncpus, bool smt, const struct cpuid_template *t, bool pvm_host);

/* A zeroed table with room for max_entries (free() it); NULL without memory. */
struct kvm_cpuid2 *cpuid_alloc(unsigned int max_entries);
/* The entry for (function, index), or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, __u32 function, __u32 index);

/* KVM_GET_SUPPORTED_CPUID on a /dev/kvm fd, growing the buffer while KVM says
 * E2BIG. *out (free() it) keeps a few spare entries for cpuid_normalize;
 * *max_entries is its capacity. */
int cpuid_kvm_supported(int kvm_fd, struct kvm_cpuid2 **out, unsigned int *max_entries);

/* Prints one line per entry, in the format above. */
void cpuid_fprint(FILE *f, const struct kvm_cpuid2 *c);
/* Parses that format into c (capacity max_entries); flags get
 * KVM_CPUID_FLAG_SIGNIFCANT_INDEX for the leaves that have subleaves.
 * Returns 0, -EINVAL for a malformed line or a duplicate entry (its 1-based
 * number in *line when line is not NULL), -E2BIG past max_entries. */
int cpuid_parse(const char *text, struct kvm_cpuid2 *c, unsigned int max_entries, int *line);

#endif
