/* CPUID normalization against recorded KVM_GET_SUPPORTED_CPUID tables: this
 * host's (AMD EPYC under PVM) and a synthesized Intel one (see the comments
 * in tests/unit/data/cpuid-*.txt). Each rule is checked per leaf for several
 * vCPU counts, then the PVM rule, the templates, the added leaves and the
 * parser that reads the dumps. */
#include <asm/kvm_para.h>
#include <stdint.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/cpuid.h"
#include "arch/x86/custom_template.h"
#include "util/fs.h"

#define DATA	   TEST_SOURCE_DIR "/tests/unit/data/"
#define AMD_DUMP   DATA "cpuid-amd-epyc.txt"
#define INTEL_DUMP DATA "cpuid-intel.txt"
#define CAP	   256

static struct kvm_cpuid2 *load(const char *path)
{
	struct kvm_cpuid2 *c = cpuid_alloc(CAP);
	char *text;
	size_t len;
	int line = -1;

	cr_assert_not_null(c);
	cr_assert_eq(read_file(path, 1 << 20, &text, &len), 0, "cannot read %s", path);
	cr_assert_eq(cpuid_parse(text, c, CAP, &line), 0, "%s:%d: does not parse", path, line);
	free(text);
	return c;
}

static struct kvm_cpuid2 *copy(const struct kvm_cpuid2 *c)
{
	struct kvm_cpuid2 *d = cpuid_alloc(CAP);

	cr_assert_not_null(d);
	memcpy(d, c, sizeof(*c) + c->nent * sizeof(c->entries[0]));
	return d;
}

static struct kvm_cpuid_entry2 *get(struct kvm_cpuid2 *c, __u32 function, __u32 index)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, function, index);

	cr_assert_not_null(e, "leaf 0x%x subleaf %u is missing", function, index);
	return e;
}

/* Removes (function, index) from c, keeping the order. */
static void drop(struct kvm_cpuid2 *c, __u32 function, __u32 index)
{
	struct kvm_cpuid_entry2 *e = get(c, function, index);
	size_t pos = (size_t)(e - c->entries);

	memmove(e, e + 1, (c->nent - pos - 1) * sizeof(*e));
	c->nent--;
}

static __u32 order_of(unsigned int n)
{
	__u32 bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

static bool same_regs(const struct kvm_cpuid_entry2 *a, const struct kvm_cpuid_entry2 *b)
{
	return a->eax == b->eax && a->ebx == b->ebx && a->ecx == b->ecx && a->edx == b->edx;
}

/* The functions the base rules and the per-vCPU functions may change. */
static bool touched(__u32 f)
{
	static const __u32 list[] = { 0x1,	  0x4,	      0x6,	  0x7,	      0xa,
				      0xb,	  0x1f,	      0x40000000, 0x80000000, 0x80000001,
				      0x80000007, 0x80000008, 0x8000001d, 0x8000001e };

	for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)
		if (list[i] == f)
			return true;
	return false;
}

/* Every base rule, checked on n (normalized from orig for cpu of ncpus). */
static void check_base(struct kvm_cpuid2 *orig, struct kvm_cpuid2 *n, unsigned int cpu,
		       unsigned int ncpus, bool amd)
{
	struct kvm_cpuid_entry2 *e, *o;

	/* 0x0: vendor and highest leaf pass through. */
	cr_assert(same_regs(get(n, 0, 0), get(orig, 0, 0)));

	/* 0x1: stripped bits, hypervisor bit, APIC id, count, HTT, CLFLUSH kept. */
	e = get(n, 1, 0);
	o = get(orig, 1, 0);
	cr_assert_eq(e->ecx & (CPUID_1_ECX_VMX | CPUID_1_ECX_SMX | CPUID_1_ECX_DTES64 |
			       CPUID_1_ECX_MONITOR | CPUID_1_ECX_DS_CPL),
		     0, "ecx=0x%08x", e->ecx);
	cr_assert(e->ecx & CPUID_1_ECX_HYPERVISOR);
	cr_assert_eq(e->ebx >> 24, cpu, "APIC id %u for cpu %u", e->ebx >> 24, cpu);
	cr_assert_eq((e->ebx >> 16) & 0xff, ncpus);
	cr_assert_eq((e->ebx >> 8) & 0xff, (o->ebx >> 8) & 0xff, "CLFLUSH size changed");
	cr_assert_eq(!!(e->edx & CPUID_1_EDX_HTT), ncpus > 1, "HTT for %u cpus", ncpus);
	cr_assert_eq(e->eax, o->eax);
	cr_assert_eq(e->edx & ~CPUID_1_EDX_HTT, o->edx & ~CPUID_1_EDX_HTT);

	/* 0x4: cores per package and cache sharing, every real cache. */
	for (__u32 i = 0; i < n->nent; i++) {
		__u32 level, want;

		e = &n->entries[i];
		if (e->function != 4)
			continue;
		o = get(orig, 4, e->index);
		cr_assert(same_regs(e, o) || (e->eax & 0x1f), "a null subleaf was changed");
		if (!(e->eax & 0x1f))
			continue;
		level = (e->eax >> 5) & 7;
		want = level >= 3 ? ncpus - 1 : 0;
		cr_assert_eq(e->eax >> 26, ncpus - 1, "0x4/%u cores", e->index);
		cr_assert_eq((e->eax >> 14) & 0xfff, want, "0x4/%u L%u sharing", e->index, level);
		cr_assert_eq(e->eax & 0x3fff, o->eax & 0x3fff);
		cr_assert(e->ebx == o->ebx && e->ecx == o->ecx && e->edx == o->edx);
	}

	/* 0x6 and 0xA: cleared. */
	e = get(n, 6, 0);
	cr_assert(!e->eax && !e->ebx && !e->ecx && !e->edx);
	e = get(n, 0xa, 0);
	cr_assert(!e->eax && !e->ebx && !e->ecx && !e->edx);

	/* 0x7/0: TSX, MPX and RDT stripped, the rest of EBX kept. */
	e = get(n, 7, 0);
	o = get(orig, 7, 0);
	{
		__u32 strip = CPUID_7_EBX_HLE | CPUID_7_EBX_RTM | CPUID_7_EBX_MPX |
			      CPUID_7_EBX_PQM | CPUID_7_EBX_PQE;

		cr_assert_eq(e->ebx & strip, 0, "ebx=0x%08x", e->ebx);
		cr_assert_eq(e->ebx, o->ebx & ~strip);
		cr_assert_eq(e->ecx, o->ecx);
		cr_assert_eq(e->edx, amd ? o->edx & ~(1u << 29) : o->edx);
	}

	/* 0xB: SMT level of one thread, core level of ncpus, then invalid. */
	if (get(n, 0, 0)->eax >= 0xb) {
		e = get(n, 0xb, 0);
		cr_assert(e->eax == 0 && e->ebx == 1 && e->ecx == 0x100 && e->edx == cpu);
		e = get(n, 0xb, 1);
		cr_assert_eq(e->eax, order_of(ncpus));
		cr_assert(e->ebx == ncpus && e->ecx == 0x201 && e->edx == cpu);
		e = get(n, 0xb, 2);
		cr_assert(e->eax == 0 && e->ebx == 0 && e->ecx == 2 && e->edx == cpu);
	}

	/* 0x40000000: KVM's signature, highest leaf 0x40000001 (kept as KVM has it). */
	e = get(n, 0x40000000, 0);
	cr_assert_eq(e->eax, 0x40000001);
	cr_assert_eq(memcmp(&e->ebx, "KVMK", 4), 0);
	cr_assert_eq(memcmp(&e->ecx, "VMKV", 4), 0);
	cr_assert_eq(memcmp(&e->edx, "M\0\0\0", 4), 0);
	cr_assert(same_regs(get(n, 0x40000001, 0), get(orig, 0x40000001, 0)));

	/* 0x80000001: 64-bit essentials. */
	e = get(n, 0x80000001, 0);
	cr_assert_eq(e->edx & (CPUID_80000001_EDX_SYSCALL | CPUID_80000001_EDX_NX |
			       CPUID_80000001_EDX_LM),
		     CPUID_80000001_EDX_SYSCALL | CPUID_80000001_EDX_NX | CPUID_80000001_EDX_LM);

	/* 0x80000007: invariant TSC only. */
	e = get(n, 0x80000007, 0);
	cr_assert(!e->eax && !e->ebx && !e->ecx);
	cr_assert_eq(e->edx, get(orig, 0x80000007, 0)->edx & CPUID_80000007_EDX_INVTSC);

	/* Leaves no rule names are left alone. */
	for (__u32 i = 0; i < orig->nent; i++) {
		o = &orig->entries[i];
		if (touched(o->function))
			continue;
		e = get(n, o->function, o->index);
		cr_assert(same_regs(e, o), "leaf 0x%x/%u changed", o->function, o->index);
		cr_assert_eq(e->flags, o->flags);
	}
}

static void check_amd(struct kvm_cpuid2 *orig, struct kvm_cpuid2 *n, unsigned int cpu,
		      unsigned int ncpus)
{
	struct kvm_cpuid_entry2 *e, *o;

	e = get(n, 0x80000008, 0);
	o = get(orig, 0x80000008, 0);
	cr_assert_eq(e->ecx & 0xff, ncpus - 1, "NC");
	cr_assert_eq((e->ecx >> 12) & 0xf, order_of(ncpus), "ApicIdSize");
	cr_assert_eq(e->ecx & ~0xf0ffu, o->ecx & ~0xf0ffu);
	cr_assert(e->eax == o->eax && e->ebx == o->ebx && e->edx == o->edx);

	e = get(n, 0x8000001e, 0);
	cr_assert_eq(e->eax, cpu, "extended APIC id");
	cr_assert_eq(e->ebx, cpu, "compute unit id, one thread per unit");
	cr_assert_eq(e->ecx, 0, "node 0 of 1");
	cr_assert_eq(e->edx, 0);

	for (__u32 i = 0; i < n->nent; i++) {
		__u32 level;

		e = &n->entries[i];
		if (e->function != 0x8000001d)
			continue;
		o = get(orig, 0x8000001d, e->index);
		if (!(o->eax & 0x1f)) {
			cr_assert(same_regs(e, o));
			continue;
		}
		level = (e->eax >> 5) & 7;
		cr_assert_eq((e->eax >> 14) & 0xfff, level >= 3 ? ncpus - 1 : 0,
			     "0x8000001d/%u L%u sharing", e->index, level);
		cr_assert_eq(e->eax & ~(0xfffu << 14), o->eax & ~(0xfffu << 14));
		cr_assert(e->ebx == o->ebx && e->ecx == o->ecx && e->edx == o->edx);
	}
}

static const unsigned int topologies[][2] = { { 0, 1 }, { 1, 2 }, { 3, 4 } };

static void check_dump(const char *path, bool amd)
{
	struct kvm_cpuid2 *orig = load(path);

	for (size_t i = 0; i < sizeof(topologies) / sizeof(topologies[0]); i++) {
		struct kvm_cpuid2 *n = copy(orig);
		unsigned int cpu = topologies[i][0], ncpus = topologies[i][1];

		cr_assert_eq(cpuid_normalize(n, CAP, cpu, ncpus, false, NULL, false), 0);
		check_base(orig, n, cpu, ncpus, amd);
		if (amd)
			check_amd(orig, n, cpu, ncpus);
		cr_assert_eq(get(n, 1, 0)->ecx & CPUID_1_ECX_CX16,
			     get(orig, 1, 0)->ecx & CPUID_1_ECX_CX16, "CX16 touched off PVM");
		free(n);
	}
	free(orig);
}

Test(cpuid, amd_dump_follows_every_rule)
{
	check_dump(AMD_DUMP, true);
}

Test(cpuid, intel_dump_follows_every_rule)
{
	struct kvm_cpuid2 *orig = load(INTEL_DUMP), *n = copy(orig);

	check_dump(INTEL_DUMP, false);
	/* AMD's leaves mean nothing on Intel: 0x80000008 ECX stays 0. */
	cr_assert_eq(cpuid_normalize(n, CAP, 1, 2, false, NULL, false), 0);
	cr_assert(same_regs(get(n, 0x80000008, 0), get(orig, 0x80000008, 0)));
	/* The Intel table has every subleaf of 0xB already: nothing is added. */
	cr_assert_eq(n->nent, orig->nent);
	free(n);
	free(orig);
}

Test(cpuid, dumps_have_the_bits_the_rules_act_on)
{
	struct kvm_cpuid2 *intel = load(INTEL_DUMP), *amd = load(AMD_DUMP);

	/* Otherwise the stripping checks above would prove nothing. */
	cr_assert_eq(get(intel, 1, 0)->ecx & 0x7c, 0x7c);
	cr_assert_eq(get(intel, 7, 0)->ebx & 0xd810, 0xd810);
	cr_assert_neq(get(intel, 0xa, 0)->eax, 0);
	cr_assert(get(intel, 1, 0)->ecx & CPUID_1_ECX_CX16);
	cr_assert(get(amd, 1, 0)->ecx & CPUID_1_ECX_CX16);
	cr_assert(get(amd, 7, 0)->edx & (1u << 29));
	cr_assert_null(cpuid_find(amd, 0xb, 1), "the PVM table has only 0xB subleaf 0");
	free(intel);
	free(amd);
}

Test(cpuid, added_topology_subleaves_keep_the_order)
{
	struct kvm_cpuid2 *c = load(AMD_DUMP);
	unsigned int nent = c->nent;
	struct kvm_cpuid_entry2 *e;

	cr_assert_eq(cpuid_normalize(c, CAP, 0, 1, false, NULL, false), 0);
	cr_assert_eq(c->nent, nent + 2);
	e = get(c, 0xb, 0);
	cr_assert(e[1].function == 0xb && e[1].index == 1);
	cr_assert(e[2].function == 0xb && e[2].index == 2);
	cr_assert_eq(e[3].function, 0xc);
	cr_assert_eq(e[1].flags, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
	free(c);
}

Test(cpuid, polluted_leaves_are_cleaned)
{
	struct kvm_cpuid2 *c = load(INTEL_DUMP);
	struct kvm_cpuid_entry2 *e;

	e = get(c, 0x80000007, 0);
	e->eax = e->ebx = e->ecx = e->edx = ~0u;
	get(c, 0x80000001, 0)->edx = 0;
	get(c, 6, 0)->ebx = 0x1234;
	cr_assert_eq(cpuid_normalize(c, CAP, 0, 1, false, NULL, false), 0);
	e = get(c, 0x80000007, 0);
	cr_assert(!e->eax && !e->ebx && !e->ecx && e->edx == CPUID_80000007_EDX_INVTSC);
	cr_assert_eq(get(c, 0x80000001, 0)->edx,
		     CPUID_80000001_EDX_SYSCALL | CPUID_80000001_EDX_NX | CPUID_80000001_EDX_LM);
	cr_assert_eq(get(c, 6, 0)->ebx, 0);
	free(c);
}

Test(cpuid, pvm_host_clears_cx16_and_pv_hypercalls_only_there)
{
	const char *dumps[] = { AMD_DUMP, INTEL_DUMP };
	const uint32_t pv = (1u << KVM_FEATURE_PV_SEND_IPI) | (1u << KVM_FEATURE_PV_SCHED_YIELD) |
			    (1u << KVM_FEATURE_PV_UNHALT);

	for (size_t i = 0; i < 2; i++) {
		struct kvm_cpuid2 *vt = load(dumps[i]), *pvm = copy(vt);
		struct kvm_cpuid_entry2 *a, *b;

		cr_assert_eq(cpuid_normalize(vt, CAP, 0, 2, false, NULL, false), 0);
		cr_assert_eq(cpuid_normalize(pvm, CAP, 0, 2, false, NULL, true), 0);
		a = get(vt, 1, 0);
		b = get(pvm, 1, 0);
		cr_assert(a->ecx & CPUID_1_ECX_CX16);
		cr_assert_eq(b->ecx & CPUID_1_ECX_CX16, 0);
		cr_assert_eq(a->ecx & ~CPUID_1_ECX_CX16, b->ecx);
		/* The PV IPI, yield and unhalt hypercalls hang PVM hosts. */
		a = get(vt, 0x40000001, 0);
		b = get(pvm, 0x40000001, 0);
		cr_assert_eq(a->eax & pv, pv, "the dump offers them");
		cr_assert_eq(b->eax & pv, 0);
		cr_assert_eq(a->eax & ~pv, b->eax);
		/* Nothing else differs. */
		b->eax |= pv;
		get(pvm, 1, 0)->ecx |= CPUID_1_ECX_CX16;
		cr_assert_eq(vt->nent, pvm->nent);
		cr_assert_eq(memcmp(vt->entries, pvm->entries, vt->nent * sizeof(vt->entries[0])),
			     0);
		free(vt);
		free(pvm);
	}
}

/* smt: vCPU 3 of 4 is thread 1 of core 1; L1/L2 shared by a core's two
 * threads, L3 by all; 0xB's SMT level one bit wide with two threads. */
Test(cpuid, smt_pairs_threads_into_cores)
{
	const char *dumps[] = { INTEL_DUMP, AMD_DUMP };

	for (size_t i = 0; i < 2; i++) {
		struct kvm_cpuid2 *c = load(dumps[i]);
		struct kvm_cpuid_entry2 *e;

		cr_assert_eq(cpuid_normalize(c, CAP, 3, 4, true, NULL, false), 0);
		e = get(c, 0xb, 0);
		cr_assert(e->eax == 1 && e->ebx == 2 && e->edx == 3, "SMT level");
		e = get(c, 0xb, 1);
		cr_assert(e->eax == 2 && e->ebx == 4 && e->edx == 3, "core level");
		cr_assert_eq((get(c, 1, 0)->ebx >> 16) & 0xff, 4);
		for (unsigned int sub = 0; i == 0 && (e = cpuid_find(c, 4, sub)) && (e->eax & 0x1f);
		     sub++) {
			unsigned int level = (e->eax >> 5) & 7;

			cr_assert_eq(((e->eax >> 14) & 0xfff) + 1, level >= 3 ? 4u : 2u);
			cr_assert_eq((e->eax >> 26) + 1, 2, "two cores");
		}
		if (i == 1) {
			e = get(c, 0x8000001e, 0);
			cr_assert_eq(e->ebx, (1u << 8) | 1, "two threads, compute unit 1");
		}
		free(c);
	}
}

Test(cpuid, smt_needs_one_or_an_even_number_of_vcpus)
{
	struct kvm_cpuid2 *c = load(INTEL_DUMP), *d = copy(c);

	cr_assert_eq(cpuid_normalize(c, CAP, 0, 3, true, NULL, false), -EINVAL);
	cr_assert_eq(memcmp(c->entries, d->entries, c->nent * sizeof(c->entries[0])), 0);
	/* One vCPU: nothing to pair, as in Firecracker. */
	cr_assert_eq(cpuid_normalize(c, CAP, 0, 1, true, NULL, false), 0);
	cr_assert_eq(get(c, 0xb, 0)->ebx, 1);
	free(c);
	free(d);
}

Test(cpuid, normalizing_twice_changes_nothing)
{
	struct kvm_cpuid2 *c = load(INTEL_DUMP), *d;

	cr_assert_eq(cpuid_normalize(c, CAP, 2, 3, false, cpuid_template_find("T2"), true), 0);
	d = copy(c);
	cr_assert_eq(cpuid_normalize(d, CAP, 2, 3, false, cpuid_template_find("T2"), true), 0);
	cr_assert_eq(c->nent, d->nent);
	cr_assert_eq(memcmp(c->entries, d->entries, c->nent * sizeof(c->entries[0])), 0);
	free(c);
	free(d);
}

Test(cpuid, template_lookup)
{
	const char *names = cpuid_template_names();

	cr_assert_not_null(cpuid_template_find("none"));
	cr_assert_not_null(cpuid_template_find("T2"));
	cr_assert_eq(cpuid_template_find("t2"), cpuid_template_find("T2"));
	cr_assert_not_null(cpuid_template_find("minimal"));
	cr_assert_null(cpuid_template_find("bogus"));
	cr_assert_null(cpuid_template_find(""));
	cr_assert_null(cpuid_template_find("T2 "));
	cr_assert_null(cpuid_template_find(NULL));
	cr_assert_str_eq(cpuid_template_name(cpuid_template_find("t2")), "T2");
	cr_assert_str_eq(cpuid_template_name(NULL), "none");
	cr_assert_str_eq(names, "none, C3, T2, T2S, T2CL, T2A, minimal");
}

Test(cpuid, template_none_is_the_base_rules)
{
	struct kvm_cpuid2 *a = load(INTEL_DUMP), *b = copy(a);

	cr_assert_eq(cpuid_normalize(a, CAP, 0, 1, false, NULL, false), 0);
	cr_assert_eq(cpuid_normalize(b, CAP, 0, 1, false, cpuid_template_find("none"), false), 0);
	cr_assert_eq(memcmp(a->entries, b->entries, a->nent * sizeof(a->entries[0])), 0);
	free(a);
	free(b);
}

/* A template only narrows: the base rules still hold under it, and every
 * register is a subset of what "none" gives (topology fields aside). */
static void check_template_narrows(const char *path, const char *name, bool amd)
{
	const struct cpuid_template *t = cpuid_template_find(name);
	struct kvm_cpuid2 *orig = load(path), *base = copy(orig), *n = copy(orig);

	cr_assert_not_null(t);
	cr_assert_eq(cpuid_normalize(base, CAP, 1, 2, false, NULL, false), 0);
	cr_assert_eq(cpuid_normalize(n, CAP, 1, 2, false, t, false), 0);
	cr_assert_eq(n->nent, base->nent);
	for (__u32 i = 0; i < n->nent; i++) {
		struct kvm_cpuid_entry2 *e = &n->entries[i], *b = &base->entries[i];

		cr_assert(e->function == b->function && e->index == b->index);
		if (e->function == 0x40000000 || e->function == 0x80000000)
			continue; /* signature and highest leaf, not features */
		cr_assert_eq(e->eax & ~b->eax, 0, "%s adds eax bits to 0x%x", name, e->function);
		cr_assert_eq(e->ebx & ~b->ebx, 0, "%s adds ebx bits to 0x%x", name, e->function);
		cr_assert_eq(e->ecx & ~b->ecx, 0, "%s adds ecx bits to 0x%x", name, e->function);
		cr_assert_eq(e->edx & ~b->edx, 0, "%s adds edx bits to 0x%x", name, e->function);
	}
	/* What the guest must keep: hypervisor bit, topology, 64-bit mode. */
	cr_assert(get(n, 1, 0)->ecx & CPUID_1_ECX_HYPERVISOR);
	cr_assert_eq(get(n, 1, 0)->ebx >> 16, (1u << 8) | 2);
	cr_assert(get(n, 1, 0)->edx & CPUID_1_EDX_HTT);
	cr_assert(get(n, 0x80000001, 0)->edx & CPUID_80000001_EDX_LM);
	cr_assert(get(n, 0x80000001, 0)->edx & CPUID_80000001_EDX_NX);
	cr_assert(get(n, 0x80000001, 0)->edx & CPUID_80000001_EDX_SYSCALL);
	cr_assert_eq(get(n, 0xb, 1)->ebx, 2);
	if (amd)
		cr_assert_eq(get(n, 0x8000001e, 0)->eax, 1);
	free(orig);
	free(base);
	free(n);
}

Test(cpuid, templates_only_narrow)
{
	check_template_narrows(INTEL_DUMP, "minimal", false);
	check_template_narrows(AMD_DUMP, "minimal", true);
}

/* Firecracker's static templates, bit for bit: after cpuid_normalize every
 * modifier's '0' and '1' bits hold, on either vendor's table (the vCPU is
 * refused the other vendor's template; the table itself does not care), and
 * what the guest must keep (hypervisor bit, topology, 64-bit mode) stays. */
static void check_fc_template(const char *path, const char *name, bool amd)
{
	const struct cpuid_template *t = cpuid_template_find(name);
	const struct custom_cpu_template *fc = cpuid_template_fc(t);
	struct kvm_cpuid2 *c = load(path);

	cr_assert_not_null(fc, "%s", name);
	cr_assert_eq(cpuid_normalize(c, CAP, 1, 2, false, t, false), 0, "%s on %s", name, path);
	for (unsigned int i = 0; i < fc->nleaves; i++) {
		const struct ct_cpuid_mod *m = &fc->leaves[i];
		struct kvm_cpuid_entry2 *e = get(c, m->leaf, m->subleaf);
		__u32 regs[4];

		regs[CPUID_EAX] = e->eax;
		regs[CPUID_EBX] = e->ebx;
		regs[CPUID_ECX] = e->ecx;
		regs[CPUID_EDX] = e->edx;
		for (unsigned int k = 0; k < m->nmods; k++) {
			__u32 filter = m->mods[k].filter;

			/* volt clears IA32_ARCH_CAPABILITIES on AMD after the templates */
			if (amd && m->leaf == 7 && m->mods[k].reg == CPUID_EDX)
				filter &= ~(1u << 29);
			cr_assert_eq(regs[m->mods[k].reg] & filter, m->mods[k].value & filter,
				     "%s: leaf 0x%x.%u reg %u = 0x%08x", name, m->leaf, m->subleaf,
				     m->mods[k].reg, regs[m->mods[k].reg]);
		}
	}
	cr_assert(get(c, 1, 0)->ecx & CPUID_1_ECX_HYPERVISOR);
	cr_assert_eq(get(c, 1, 0)->ebx >> 16, (1u << 8) | 2);
	cr_assert(get(c, 0x80000001, 0)->edx & CPUID_80000001_EDX_LM);
	cr_assert_eq(get(c, 0xb, 1)->ebx, 2);
	free(c);
}

Test(cpuid, firecracker_templates_bit_for_bit)
{
	static const char *const names[] = { "C3", "T2", "T2S", "T2CL", "T2A" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		check_fc_template(INTEL_DUMP, names[i], false);
		check_fc_template(AMD_DUMP, names[i], true);
	}
	/* Firecracker's T2 is a Haswell: family 6, model 0x3f, stepping 2. */
	{
		struct kvm_cpuid2 *c = load(INTEL_DUMP);

		cr_assert_eq(cpuid_normalize(c, CAP, 0, 1, false, cpuid_template_find("T2"), false),
			     0);
		cr_assert_eq(get(c, 1, 0)->eax & 0x0fff3fff, 0x000306f2);
		cr_assert_eq(get(c, 0xd, 0)->eax & 0x2f8, 0, "no MPX, AVX-512 or PKRU state");
		free(c);
	}
}

Test(cpuid, firecracker_template_vendors)
{
	char host[13], why[256];

	cr_assert_str_eq(cpuid_template_vendor(cpuid_template_find("T2A")), "AuthenticAMD");
	cr_assert_str_eq(cpuid_template_vendor(cpuid_template_find("c3")), "GenuineIntel");
	cr_assert_str_eq(cpuid_template_vendor(cpuid_template_find("T2CL")), "GenuineIntel");
	cr_assert_null(cpuid_template_vendor(cpuid_template_find("minimal")));
	cr_assert_null(cpuid_template_fc(cpuid_template_find("minimal")));
	cpuid_host_vendor(host);
	cr_assert_eq(cpuid_template_host_check(cpuid_template_find("minimal"), why, sizeof(why)),
		     0);
	if (!strcmp(host, "AuthenticAMD")) {
		cr_assert_eq(cpuid_template_host_check(cpuid_template_find("T2A"), why, 256), 0);
		cr_assert_eq(cpuid_template_host_check(cpuid_template_find("T2"), why, 256),
			     -ENOTSUP);
		cr_assert_str_eq(why, "CPU vendor mismatched between actual CPU and CPU template. "
				      "(T2 is for GenuineIntel hosts, this one is AuthenticAMD)");
	} else if (!strcmp(host, "GenuineIntel")) {
		cr_assert_eq(cpuid_template_host_check(cpuid_template_find("T2S"), why, 256), 0);
		cr_assert_eq(cpuid_template_host_check(cpuid_template_find("T2A"), why, 256),
			     -ENOTSUP);
		cr_assert_str_eq(why, "CPU vendor mismatched between actual CPU and CPU template. "
				      "(T2A is for AuthenticAMD hosts, this one is GenuineIntel)");
	}
}

Test(cpuid, template_minimal)
{
	struct kvm_cpuid2 *c = load(INTEL_DUMP);
	struct kvm_cpuid_entry2 *e;

	cr_assert_eq(cpuid_normalize(c, CAP, 0, 1, false, cpuid_template_find("minimal"), false),
		     0);
	e = get(c, 1, 0);
	cr_assert_eq(e->ecx,
		     0x1 | 0x200 | 0x80000 | 0x100000 | CPUID_1_ECX_X2APIC |
			     CPUID_1_ECX_TSC_DEADLINE | CPUID_1_ECX_HYPERVISOR,
		     "ecx=0x%08x", e->ecx);
	cr_assert_eq(e->edx & ((1u << 18) | (1u << 21) | (1u << 22) | (1u << 27) | (1u << 29)), 0);
	e = get(c, 7, 0);
	cr_assert(!e->ebx && !e->ecx && !e->edx);
	cr_assert_eq(e->eax, 0, "the highest subleaf is kept");
	for (__u32 i = 0; i < c->nent; i++)
		if (c->entries[i].function == 0xd)
			cr_assert(!c->entries[i].eax && !c->entries[i].ebx);
	e = get(c, 0x80000001, 0);
	cr_assert_eq(e->ecx, 0x1, "LAHF/SAHF only");
	cr_assert_eq(e->edx,
		     CPUID_80000001_EDX_SYSCALL | CPUID_80000001_EDX_NX | CPUID_80000001_EDX_LM);
	free(c);
}

Test(cpuid, missing_hypervisor_leaf_is_added_in_place)
{
	struct kvm_cpuid2 *c = load(INTEL_DUMP);
	unsigned int nent;
	struct kvm_cpuid_entry2 *e;

	drop(c, 0x40000000, 0);
	drop(c, 0x40000001, 0);
	nent = c->nent;
	cr_assert_eq(cpuid_normalize(c, nent + 1, 0, 1, false, NULL, false), 0);
	cr_assert_eq(c->nent, nent + 1);
	e = get(c, 0x40000000, 0);
	cr_assert_eq(e->eax, 0x40000000, "no KVM feature leaf, so the highest is itself");
	cr_assert_eq(memcmp(&e->ebx, "KVMKVMKVM\0\0\0", 12), 0);
	cr_assert_eq(e[-1].function, 0x16);
	cr_assert_eq(e[1].function, 0x80000000);
	cr_assert_eq(e->flags, 0);
	free(c);
}

Test(cpuid, missing_leaf_without_room_is_e2big_and_changes_nothing)
{
	struct kvm_cpuid2 *c = load(AMD_DUMP), *before;

	drop(c, 0x40000000, 0);
	drop(c, 0xb, 0);
	get(c, 0, 0)->eax = 0xa; /* no topology leaf to add: only 0x40000000 missing */
	before = copy(c);
	cr_assert_eq(cpuid_normalize(c, c->nent, 0, 1, false, NULL, false), -E2BIG);
	cr_assert_eq(c->nent, before->nent);
	cr_assert_eq(memcmp(c->entries, before->entries, c->nent * sizeof(c->entries[0])), 0);
	cr_assert_eq(cpuid_normalize(c, c->nent + 1, 0, 1, false, NULL, false), 0);
	cr_assert_not_null(cpuid_find(c, 0x40000000, 0));
	free(c);
	free(before);
}

Test(cpuid, topology_subleaves_need_room_too)
{
	struct kvm_cpuid2 *c = load(AMD_DUMP);
	unsigned int nent = c->nent;

	/* The PVM table lacks 0xB subleaves 1 and 2. */
	cr_assert_eq(cpuid_normalize(c, nent + 1, 0, 1, false, NULL, false), -E2BIG);
	cr_assert_eq(c->nent, nent);
	cr_assert_eq(cpuid_normalize(c, nent + 2, 0, 1, false, NULL, false), 0);
	free(c);
}

Test(cpuid, missing_extended_leaves_are_added_with_their_range)
{
	struct kvm_cpuid2 *c = load(INTEL_DUMP);

	/* Drop the whole 0x8000xxxx range. */
	while (c->entries[c->nent - 1].function >= 0x80000000)
		c->nent--;
	cr_assert_eq(cpuid_normalize(c, CAP, 0, 1, false, NULL, false), 0);
	cr_assert_geq(get(c, 0x80000000, 0)->eax, 0x80000001);
	cr_assert_eq(get(c, 0x80000001, 0)->edx,
		     CPUID_80000001_EDX_SYSCALL | CPUID_80000001_EDX_NX | CPUID_80000001_EDX_LM);
	cr_assert_eq(c->entries[c->nent - 1].function, 0x80000001);
	free(c);
}

Test(cpuid, leaf_1f_is_normalized_like_0xb)
{
	struct kvm_cpuid2 *c = load(INTEL_DUMP);
	struct kvm_cpuid_entry2 *e;

	get(c, 0, 0)->eax = 0x1f;
	for (__u32 i = 0; i < 3; i++) {
		e = &c->entries[c->nent++];
		memset(e, 0, sizeof(*e));
		e->function = 0x1f;
		e->index = i;
		e->eax = 7;
		e->ebx = 0x30;
		e->ecx = ((i + 1) << 8) | i; /* SMT, core, die */
		e->edx = 5;
	}
	cr_assert_eq(cpuid_normalize(c, CAP, 3, 4, false, NULL, false), 0);
	e = get(c, 0x1f, 0);
	cr_assert(e->eax == 0 && e->ebx == 1 && e->ecx == 0x100 && e->edx == 3);
	e = get(c, 0x1f, 1);
	cr_assert(e->eax == 2 && e->ebx == 4 && e->ecx == 0x201 && e->edx == 3);
	e = get(c, 0x1f, 2);
	cr_assert(e->eax == 0 && e->ebx == 0 && e->ecx == 2 && e->edx == 3);
	free(c);
}

Test(cpuid, bad_topology_is_einval)
{
	struct kvm_cpuid2 *c = load(INTEL_DUMP), *before = copy(c);

	cr_assert_eq(cpuid_normalize(c, CAP, 0, 0, false, NULL, false), -EINVAL);
	cr_assert_eq(cpuid_normalize(c, CAP, 1, 1, false, NULL, false), -EINVAL);
	cr_assert_eq(cpuid_normalize(c, CAP, 4, 4, false, NULL, false), -EINVAL);
	cr_assert_eq(cpuid_normalize(c, CAP, 0, CPUID_MAX_CPUS + 1, false, NULL, false), -EINVAL);
	cr_assert_eq(cpuid_normalize(c, c->nent - 1, 0, 1, false, NULL, false), -EINVAL);
	cr_assert_eq(memcmp(c->entries, before->entries, c->nent * sizeof(c->entries[0])), 0);
	cr_assert_eq(
		cpuid_normalize(c, CAP, CPUID_MAX_CPUS - 1, CPUID_MAX_CPUS, false, NULL, false), 0);
	cr_assert_eq(get(c, 1, 0)->ebx >> 24, CPUID_MAX_CPUS - 1);
	cr_assert_eq(get(c, 4, 3)->eax >> 26, CPUID_MAX_CPUS - 1);
	free(c);
	free(before);
}

/* --- the dump format --- */

Test(cpuid, parse_reads_entries_and_marks_indexed_leaves)
{
	struct kvm_cpuid2 *c = load(AMD_DUMP);
	struct kvm_cpuid_entry2 *e;

	cr_assert_eq(c->nent, 56);
	e = get(c, 0x8000001d, 3);
	cr_assert(e->eax == 0x4163 && e->ebx == 0x03c0003f && e->ecx == 0x7fff && e->edx == 1);
	cr_assert_eq(e->flags, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
	cr_assert_eq(get(c, 0xd, 2)->flags, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
	cr_assert_eq(get(c, 0x80000008, 0)->flags, 0);
	cr_assert_eq(get(c, 1, 0)->flags, 0);
	free(c);
}

Test(cpuid, print_then_parse_round_trips)
{
	struct kvm_cpuid2 *c = load(INTEL_DUMP), *d = cpuid_alloc(CAP);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	cpuid_fprint(f, c);
	fclose(f);
	cr_assert(strstr(buf, "0x00000004 0x03 eax=0x7c0fc163 ebx=0x0280003f ecx=0x0000dfff "
			      "edx=0x00000004\n"),
		  "%s", buf);
	cr_assert_eq(cpuid_parse(buf, d, CAP, NULL), 0);
	cr_assert_eq(d->nent, c->nent);
	cr_assert_eq(memcmp(c->entries, d->entries, c->nent * sizeof(c->entries[0])), 0);
	free(buf);
	free(c);
	free(d);
}

Test(cpuid, parse_skips_comments_blanks_and_crlf)
{
	struct kvm_cpuid2 *c = cpuid_alloc(4);
	const char *text = "# comment\n"
			   "\n"
			   "   \t\n"
			   "  # indented comment\n"
			   "0x1 0x0 eax=0x1 ebx=0x2 ecx=0x3 edx=0x4\r\n"
			   "0x00000007\t0x01  eax=0xAbCdEf01 ebx=0x0 ecx=0x0 edx=0xffffffff  ";

	cr_assert_eq(cpuid_parse(text, c, 4, NULL), 0);
	cr_assert_eq(c->nent, 2);
	cr_assert(c->entries[0].function == 1 && c->entries[0].edx == 4);
	cr_assert(c->entries[1].function == 7 && c->entries[1].index == 1);
	cr_assert_eq(c->entries[1].eax, 0xabcdef01);
	cr_assert_eq(c->entries[1].edx, 0xffffffff);
	cr_assert_eq(cpuid_parse("", c, 4, NULL), 0);
	cr_assert_eq(c->nent, 0);
	free(c);
}

Test(cpuid, parse_rejects_malformed_lines_with_their_number)
{
	static const char *const bad[] = {
		"1 0x0 eax=0x1 ebx=0x2 ecx=0x3 edx=0x4",	   /* no 0x */
		"0x 0x0 eax=0x1 ebx=0x2 ecx=0x3 edx=0x4",	   /* no digits */
		"0x1 0x0 eax=0x123456789 ebx=0x2 ecx=0x3 edx=0x4", /* 9 digits */
		"0x1 0x0 eax=0x1 ebx=0x2 ecx=0x3",		   /* edx missing */
		"0x1 0x0 ebx=0x2 eax=0x1 ecx=0x3 edx=0x4",	   /* order */
		"0x1 0x0 eax=0x1 ebx=0x2 ecx=0x3 edx=0x4 extra",   /* trailing */
		"0x1 0x0 eax=0x1 ebx=0x2 ecx=0x3 edx=0x4g",	   /* not hex */
		"0x1 0x0 eax=-0x1 ebx=0x2 ecx=0x3 edx=0x4",	   /* sign */
		"0x1 0x0 eax= 0x1 ebx=0x2 ecx=0x3 edx=0x4",	   /* space */
		"0x10x0 eax=0x1 ebx=0x2 ecx=0x3 edx=0x4",	   /* no separator */
		"0x1 0x0 eax=0x1ebx=0x2 ecx=0x3 edx=0x4",	   /* no separator */
		"0x1 0x0 EAX=0x1 ebx=0x2 ecx=0x3 edx=0x4",	   /* case of names */
		"garbage",
	};
	struct kvm_cpuid2 *c = cpuid_alloc(8);
	char text[256];
	int line;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "# ok\n0x0 0x0 eax=0x1 ebx=0x0 ecx=0x0 edx=0x0\n%s\n",
			 bad[i]);
		line = 0;
		cr_assert_eq(cpuid_parse(text, c, 8, &line), -EINVAL, "accepted: %s", bad[i]);
		cr_assert_eq(line, 3, "line %d for: %s", line, bad[i]);
	}
	free(c);
}

Test(cpuid, parse_rejects_duplicates_and_overflow)
{
	struct kvm_cpuid2 *c = cpuid_alloc(2);
	const char *dup = "0x7 0x0 eax=0x0 ebx=0x0 ecx=0x0 edx=0x0\n"
			  "0x7 0x1 eax=0x0 ebx=0x0 ecx=0x0 edx=0x0\n"
			  "0x7 0x0 eax=0x1 ebx=0x0 ecx=0x0 edx=0x0\n";
	const char *three = "0x1 0x0 eax=0x0 ebx=0x0 ecx=0x0 edx=0x0\n"
			    "0x2 0x0 eax=0x0 ebx=0x0 ecx=0x0 edx=0x0\n"
			    "0x3 0x0 eax=0x0 ebx=0x0 ecx=0x0 edx=0x0\n";
	int line = 0;

	cr_assert_eq(cpuid_parse(dup, c, 2, &line), -EINVAL);
	cr_assert_eq(line, 3);
	cr_assert_eq(cpuid_parse(three, c, 2, &line), -E2BIG);
	cr_assert_eq(line, 3);
	free(c);
}
