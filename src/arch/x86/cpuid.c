/* CPUID normalization for volt's vCPUs.
 *
 * cpuid_normalize() turns KVM_GET_SUPPORTED_CPUID into the table one vCPU
 * gets, in a fixed order:
 *   1. add the leaves a guest needs and KVM left out (all before any change,
 *      so -E2BIG leaves the table untouched);
 *   2. the base rules (a table of bits to clear and set per leaf);
 *   3. the template's rules (same shape: templates only narrow the features);
 *   4. the PVM host rules;
 *   5. per-leaf functions for what depends on the vCPU: APIC ids, topology,
 *      cache sharing and the KVM signature. They run last so that no template
 *      can break the topology the guest is told about.
 * Everything here is pure computation on the table except cpuid_kvm_supported(). */
#include "arch/x86/cpuid.h"
#include "arch/x86/fc_templates.h"

#include <asm/kvm_para.h>
#include <cpuid.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>

#define ALL (~0u)

/* The rule applies to every subleaf of the function, not only to index. */
#define RULE_ANY_INDEX (1u << 0)

struct cpuid_rule {
	__u32 function, index;
	__u8 flags;
	__u32 clear[4], set[4]; /* by CPUID_EAX..CPUID_EDX; clear is applied first */
};

struct cpuid_template {
	const char *name;
	const struct cpuid_rule *rules;
	size_t nrules;
	/* Firecracker's static templates: its modifiers, applied after the
	 * rules, and the host vendor it is for. */
	const struct custom_cpu_template *fc;
	const char *vendor;
};

#define RULES(r) r, sizeof(r) / sizeof((r)[0])

/* The rules every vCPU gets. Leaf 0x1 loses what a guest must never try:
 * nested VMX/SMX, the debug store and MONITOR/MWAIT (KVM does not let guests
 * MWAIT unless asked to). */
static const struct cpuid_rule base_rules[] = {
	{ 0x1, 0, 0,
	  .clear = { [CPUID_ECX] = CPUID_1_ECX_VMX | CPUID_1_ECX_SMX | CPUID_1_ECX_DTES64 |
				   CPUID_1_ECX_MONITOR | CPUID_1_ECX_DS_CPL },
	  .set = { [CPUID_ECX] = CPUID_1_ECX_HYPERVISOR } },
	/* Thermal/power management and architectural perfmon are not virtualized. */
	{ 0x6, 0, RULE_ANY_INDEX, .clear = { ALL, ALL, ALL, ALL } },
	{ 0xa, 0, RULE_ANY_INDEX, .clear = { ALL, ALL, ALL, ALL } },
	/* TSX aborts on many hosts, MPX is gone from Linux, RDT has no backing. */
	{ 0x7, 0, 0,
	  .clear = { [CPUID_EBX] = CPUID_7_EBX_HLE | CPUID_7_EBX_RTM | CPUID_7_EBX_MPX |
				   CPUID_7_EBX_PQM | CPUID_7_EBX_PQE } },
	/* A 64-bit guest cannot boot without these. */
	{ 0x80000001, 0, 0,
	  .set = { [CPUID_EDX] = CPUID_80000001_EDX_SYSCALL | CPUID_80000001_EDX_NX |
				 CPUID_80000001_EDX_LM } },
	/* Power management: only the invariant TSC means something to a guest. */
	{ 0x80000007, 0, 0, .clear = { ALL, ALL, ALL, ~CPUID_80000007_EDX_INVTSC } },
};

/* cmpxchg16b in guest ring 0 fails in PVM's instruction emulator; the other
 * features PVM cannot hide are left to kernel parameters. The PV IPI, yield
 * and unhalt hypercalls never return on PVM hosts (the vCPU hangs in vmcall
 * and its siblings spin on the locks it holds), so an SMP guest must not use
 * them. */
static const struct cpuid_rule pvm_rules[] = {
	{ 0x1, 0, 0, .clear = { [CPUID_ECX] = CPUID_1_ECX_CX16 } },
	{ 0x40000001, 0, 0,
	  .clear = { [CPUID_EAX] = (1u << KVM_FEATURE_PV_SEND_IPI) |
				   (1u << KVM_FEATURE_PV_SCHED_YIELD) |
				   (1u << KVM_FEATURE_PV_UNHALT) } },
};

/* IA32_ARCH_CAPABILITIES does not exist on AMD, but KVM advertises it. */
static const struct cpuid_rule amd_rules[] = {
	{ 0x7, 0, 0, .clear = { [CPUID_EDX] = 1u << 29 } },
};

/* minimal: a baseline x86-64 machine (SSE up to SSE4.2, x2APIC, TSC-deadline)
 * and nothing newer: no AVX, XSAVE, AES, leaf 7 features or AMD extensions.
 * For guests that must not depend on host features at all. */
static const struct cpuid_rule minimal_rules[] = {
	/* ECX keeps SSE3, SSSE3, SSE4.1, SSE4.2, x2APIC, TSC-deadline, hypervisor;
	 * EDX keeps the classic PC features up to SSE2 and HTT. */
	{ 0x1, 0, 0,
	  .clear = { [CPUID_ECX] = ~((1u << 0) | (1u << 9) | (1u << 19) | (1u << 20) |
				     CPUID_1_ECX_X2APIC | CPUID_1_ECX_TSC_DEADLINE |
				     CPUID_1_ECX_HYPERVISOR),
		     [CPUID_EDX] = (1u << 18) | (1u << 21) | (1u << 22) | (1u << 27) | (1u << 29) |
				   (1u << 30) | (1u << 31) } },
	/* EAX of subleaf 0 is the highest subleaf; the rest are features. */
	{ 0x7, 0, 0, .clear = { [CPUID_EBX] = ALL, [CPUID_ECX] = ALL, [CPUID_EDX] = ALL } },
	{ 0x7, 1, RULE_ANY_INDEX, .clear = { ALL, ALL, ALL, ALL } },
	{ 0xd, 0, RULE_ANY_INDEX, .clear = { ALL, ALL, ALL, ALL } },
	{ 0x80000001, 0, 0,
	  .clear = { [CPUID_ECX] = ~(1u << 0),
		     [CPUID_EDX] = (1u << 22) | (1u << 25) | (1u << 26) | (1u << 27) | (1u << 30) |
				   (1u << 31) } },
	/* CLZERO, IRPERF, XSAVEERPTR, RDPRU, MCOMMIT, WBNOINVD; the
	 * speculation-control bits stay for the guest's mitigations. */
	{ 0x80000008, 0, 0, .clear = { [CPUID_EBX] = 0x317 } },
};

#define INTEL "GenuineIntel"
#define AMD   "AuthenticAMD"

static const struct cpuid_template templates[] = {
	{ "none", NULL, 0, NULL, NULL },
	/* Firecracker's, bit for bit (fc_templates.h). */
	{ "C3", NULL, 0, &fc_template_c3, INTEL },
	{ "T2", NULL, 0, &fc_template_t2, INTEL },
	{ "T2S", NULL, 0, &fc_template_t2s, INTEL },
	{ "T2CL", NULL, 0, &fc_template_t2cl, INTEL },
	{ "T2A", NULL, 0, &fc_template_t2a, AMD },
	{ "minimal", RULES(minimal_rules), NULL, NULL },
};

#define NTEMPLATES (sizeof(templates) / sizeof(templates[0]))

const struct cpuid_template *cpuid_template_find(const char *name)
{
	for (size_t i = 0; i < NTEMPLATES; i++)
		if (name && !strcasecmp(name, templates[i].name))
			return &templates[i];
	return NULL;
}

const char *cpuid_template_names(void)
{
	return "none, C3, T2, T2S, T2CL, T2A, minimal";
}

const struct custom_cpu_template *cpuid_template_fc(const struct cpuid_template *t)
{
	return t ? t->fc : NULL;
}

const char *cpuid_template_vendor(const struct cpuid_template *t)
{
	return t ? t->vendor : NULL;
}

unsigned int cpuid_host_phys_bits(void)
{
	unsigned int a = 0, b = 0, c = 0, d = 0;

	/* 36: the architecture's floor when the leaf is missing. */
	if (!__get_cpuid(0x80000008, &a, &b, &c, &d) || !(a & 0xff))
		return 36;
	return a & 0xff;
}

void cpuid_host_vendor(char vendor[13])
{
	unsigned int a = 0, b = 0, c = 0, d = 0;

	__get_cpuid(0, &a, &b, &c, &d);
	memcpy(vendor, &b, 4);
	memcpy(vendor + 4, &d, 4);
	memcpy(vendor + 8, &c, 4);
	vendor[12] = '\0';
}

int cpuid_template_host_check(const struct cpuid_template *t, char *why, size_t why_size)
{
	char host[13];

	if (!t || !t->vendor)
		return 0;
	cpuid_host_vendor(host);
	if (!strcmp(host, t->vendor))
		return 0;
	snprintf(why, why_size,
		 "CPU vendor mismatched between actual CPU and CPU template. (%s is for %s "
		 "hosts, this one is %s)",
		 t->name, t->vendor, host);
	return -ENOTSUP;
}

const char *cpuid_template_name(const struct cpuid_template *t)
{
	return t ? t->name : templates[0].name;
}

struct kvm_cpuid2 *cpuid_alloc(unsigned int max_entries)
{
	struct kvm_cpuid2 *c;

	c = calloc(1, sizeof(*c) + (size_t)max_entries * sizeof(c->entries[0]));
	return c;
}

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, __u32 function, __u32 index)
{
	for (__u32 i = 0; i < c->nent; i++)
		if (c->entries[i].function == function && c->entries[i].index == index)
			return &c->entries[i];
	return NULL;
}

/* The leaves whose subleaf (ECX) selects what they return. */
static bool index_significant(__u32 function)
{
	switch (function) {
	case 0x4:
	case 0x7:
	case 0xb:
	case 0xd:
	case 0xf:
	case 0x10:
	case 0x12:
	case 0x14:
	case 0x17:
	case 0x18:
	case 0x1d:
	case 0x1e:
	case 0x1f:
	case 0x20:
	case 0x23:
	case 0x24:
	case 0x8000001d:
	case 0x80000020:
	case 0x80000026:
		return true;
	default:
		return false;
	}
}

static __u32 *reg(struct kvm_cpuid_entry2 *e, int r)
{
	switch (r) {
	case CPUID_EAX:
		return &e->eax;
	case CPUID_EBX:
		return &e->ebx;
	case CPUID_ECX:
		return &e->ecx;
	default:
		return &e->edx;
	}
}

static void apply_rules(struct kvm_cpuid2 *c, const struct cpuid_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct cpuid_rule *r = &rules[i];

		for (__u32 j = 0; j < c->nent; j++) {
			struct kvm_cpuid_entry2 *e = &c->entries[j];

			if (e->function != r->function)
				continue;
			if (!(r->flags & RULE_ANY_INDEX) && e->index != r->index)
				continue;
			for (int k = CPUID_EAX; k <= CPUID_EDX; k++)
				*reg(e, k) = (*reg(e, k) & ~r->clear[k]) | r->set[k];
		}
	}
}

/* Inserts a zeroed (function, index) in order among the entries of its range
 * (0x0, 0x4000xxxx, 0x8000xxxx), which KVM lists in ascending order though
 * not always the ranges themselves (0x4000xxxx may come last). */
static struct kvm_cpuid_entry2 *insert_entry(struct kvm_cpuid2 *c, __u32 function, __u32 index)
{
	__u32 pos = c->nent;
	struct kvm_cpuid_entry2 *e;

	for (__u32 i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *o = &c->entries[i];

		if ((o->function & 0xffff0000) == (function & 0xffff0000) &&
		    (o->function > function || (o->function == function && o->index > index))) {
			pos = i;
			break;
		}
	}
	if (pos == c->nent) {
		/* No later entry in the same range: go after the range's last one,
		 * or before the first higher range when the range is empty. */
		bool in_range = false;

		for (__u32 i = 0; i < c->nent; i++)
			if ((c->entries[i].function & 0xffff0000) == (function & 0xffff0000)) {
				pos = i + 1;
				in_range = true;
			}
		for (__u32 i = 0; !in_range && i < c->nent; i++)
			if (c->entries[i].function > function) {
				pos = i;
				break;
			}
	}
	memmove(&c->entries[pos + 1], &c->entries[pos], (c->nent - pos) * sizeof(*e));
	e = &c->entries[pos];
	memset(e, 0, sizeof(*e));
	e->function = function;
	e->index = index;
	if (index_significant(function))
		e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	c->nent++;
	return e;
}

static __u32 max_basic_leaf(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0, 0);

	return e ? e->eax : 0;
}

/* The (function, index) pairs a guest needs that c lacks, in want[]. */
static unsigned int missing_leaves(struct kvm_cpuid2 *c, __u32 want[][2], unsigned int max)
{
	static const __u32 required[][2] = {
		{ 0x40000000, 0 }, /* KVM signature: guests look for paravirt features */
		{ 0x80000000, 0 }, /* range for 0x80000001 */
		{ 0x80000001, 0 }, /* SYSCALL, NX, LM */
	};
	/* Linux finds the core level of 0xB by walking subleaves up to the first
	 * invalid one; PVM's KVM reports subleaf 0 only. */
	static const __u32 topology[][2] = { { 0xb, 0 }, { 0xb, 1 }, { 0xb, 2 } };
	unsigned int n = 0;

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]) && n < max; i++)
		if (!cpuid_find(c, required[i][0], required[i][1])) {
			want[n][0] = required[i][0];
			want[n++][1] = required[i][1];
		}
	if (max_basic_leaf(c) < 0xb)
		return n;
	for (size_t i = 0; i < sizeof(topology) / sizeof(topology[0]) && n < max; i++)
		if (!cpuid_find(c, topology[i][0], topology[i][1])) {
			want[n][0] = topology[i][0];
			want[n++][1] = topology[i][1];
		}
	return n;
}

/* Bits of an APIC id that number ncpus cores: ceil(log2(ncpus)). */
static __u32 order(unsigned int ncpus)
{
	__u32 bits = 0;

	while ((1u << bits) < ncpus)
		bits++;
	return bits;
}

static bool vendor_is(struct kvm_cpuid2 *c, const char *vendor)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0, 0);
	char v[12];

	if (!e)
		return false;
	memcpy(v, &e->ebx, 4);
	memcpy(v + 4, &e->edx, 4);
	memcpy(v + 8, &e->ecx, 4);
	return !memcmp(v, vendor, 12);
}

static bool is_amd(struct kvm_cpuid2 *c)
{
	return vendor_is(c, "AuthenticAMD") || vendor_is(c, "HygonGenuine");
}

/* Leaf 0x1: initial APIC id, logical processor count and HTT (which tells the
 * guest that the count is meaningful). CLFLUSH size and brand index stay. */
static void topo_leaf1(struct kvm_cpuid_entry2 *e, unsigned int cpu, unsigned int ncpus)
{
	e->ebx = (e->ebx & 0x0000ffffu) | (cpu << 24) | (ncpus << 16);
	if (ncpus > 1)
		e->edx |= CPUID_1_EDX_HTT;
	else
		e->edx &= ~CPUID_1_EDX_HTT;
}

/* The vCPUs' layout: ncpus in one package, threads (1, or 2 with smt) per
 * core; vCPU i is thread i % threads of core i / threads (x2APIC id i). */
struct topo {
	unsigned int cpu, ncpus, threads;
};

/* Leaf 0x4 (Intel) and 0x8000001D (AMD), one subleaf per cache: a core's
 * threads share L1 and L2, the whole package shares L3. The cores-per-package
 * field exists in 0x4 only. */
static void topo_cache(struct kvm_cpuid_entry2 *e, const struct topo *t, bool cores_field)
{
	__u32 level = (e->eax >> 5) & 7;
	__u32 sharing = level >= 3 ? t->ncpus : t->threads;

	if (!(e->eax & 0x1f)) /* cache type 0: no more caches */
		return;
	e->eax = (e->eax & ~(0xfffu << 14)) | ((sharing - 1) << 14);
	if (cores_field)
		e->eax = (e->eax & ~(0x3fu << 26)) | ((t->ncpus / t->threads - 1) << 26);
}

/* Leaf 0xB and 0x1F: subleaf 0 is the SMT level (a core's threads), subleaf
 * 1 the core level (all vCPUs in one package), the rest invalid. EAX is the
 * shift of the x2APIC id to the next level's id; EDX the x2APIC id itself. */
static void topo_ext(struct kvm_cpuid_entry2 *e, const struct topo *t)
{
	unsigned int ncpus = t->ncpus;

	switch (e->index) {
	case 0:
		e->eax = order(t->threads);
		e->ebx = t->threads;
		e->ecx = 1u << 8;
		break;
	case 1:
		e->eax = order(ncpus);
		e->ebx = ncpus;
		e->ecx = (2u << 8) | 1;
		break;
	default:
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index & 0xff;
		break;
	}
	e->edx = t->cpu;
}

/* Leaf 0x40000000: the KVM signature and the highest hypervisor leaf. */
static void hypervisor_leaf(struct kvm_cpuid2 *c, struct kvm_cpuid_entry2 *e)
{
	static const char sig[12] = "KVMKVMKVM\0\0\0";
	__u32 max = 0x40000000;

	for (__u32 i = 0; i < c->nent; i++) {
		__u32 f = c->entries[i].function;

		if ((f & 0xffffff00) == 0x40000000 && f > max)
			max = f;
	}
	e->eax = max;
	memcpy(&e->ebx, sig, 4);
	memcpy(&e->ecx, sig + 4, 4);
	memcpy(&e->edx, sig + 8, 4);
}

/* AMD's leaves: 0x80000008 ECX (NC and the APIC id bits for a core) and
 * 0x8000001E (extended APIC id, compute unit = core, one node). */
static void topo_amd(struct kvm_cpuid_entry2 *e, const struct topo *t)
{
	if (e->function == 0x80000008) {
		e->ecx = (e->ecx & ~0xf0ffu) | (order(t->ncpus) << 12) | (t->ncpus - 1);
	} else if (e->function == 0x8000001e) {
		e->eax = t->cpu;
		/* Threads per compute unit - 1, and the compute unit's id. */
		e->ebx = ((t->threads - 1) << 8) | ((t->cpu / t->threads) & 0xff);
		e->ecx = 0; /* node 0, one node per processor */
		e->edx = 0;
	} else if (e->function == 0x8000001d) {
		topo_cache(e, t, false);
	}
}

int cpuid_normalize(struct kvm_cpuid2 *c, unsigned int max_entries, unsigned int cpu_index,
		    unsigned int ncpus, bool smt, const struct cpuid_template *t, bool pvm_host)
{
	/* Firecracker's rule: SMT pairs threads only when there is a pair. */
	const struct topo topo = { cpu_index, ncpus, smt && ncpus > 1 ? 2 : 1 };
	__u32 want[8][2];
	unsigned int nwant;
	bool amd;

	if (ncpus < 1 || ncpus > CPUID_MAX_CPUS || cpu_index >= ncpus || ncpus % topo.threads ||
	    c->nent > max_entries)
		return -EINVAL;
	nwant = missing_leaves(c, want, sizeof(want) / sizeof(want[0]));
	if (c->nent + nwant > max_entries)
		return -E2BIG;
	for (unsigned int i = 0; i < nwant; i++)
		insert_entry(c, want[i][0], want[i][1]);

	amd = is_amd(c);
	apply_rules(c, base_rules, sizeof(base_rules) / sizeof(base_rules[0]));
	if (t)
		apply_rules(c, t->rules, t->nrules);
	/* A leaf Firecracker's template changes is one KVM reports: the table
	 * may have been modified up to there (Firecracker fails the same). */
	if (t && t->fc && ct_apply_cpuid(t->fc, c, NULL))
		return -ENOENT;
	if (pvm_host)
		apply_rules(c, pvm_rules, sizeof(pvm_rules) / sizeof(pvm_rules[0]));
	if (amd)
		apply_rules(c, amd_rules, sizeof(amd_rules) / sizeof(amd_rules[0]));

	for (__u32 i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 0x1:
			topo_leaf1(e, cpu_index, ncpus);
			break;
		case 0x4:
			topo_cache(e, &topo, true);
			break;
		case 0xb:
		case 0x1f:
			topo_ext(e, &topo);
			break;
		case 0x40000000:
			hypervisor_leaf(c, e);
			break;
		case 0x80000000:
			/* An added 0x80000001 must be in range. */
			if (e->eax < 0x80000001)
				e->eax = 0x80000001;
			break;
		case 0x80000008:
		case 0x8000001d:
		case 0x8000001e:
			if (amd)
				topo_amd(e, &topo);
			break;
		}
	}
	return 0;
}

/* Enough for every leaf KVM reports today; the loop below grows it anyway. */
#define SUPPORTED_START 128
#define SUPPORTED_MAX	4096
/* Room for the leaves cpuid_normalize may add. */
#define SUPPORTED_SPARE 8

int cpuid_kvm_supported(int kvm_fd, struct kvm_cpuid2 **out, unsigned int *max_entries)
{
	unsigned int n = SUPPORTED_START;
	struct kvm_cpuid2 *c, *grown;

	for (;;) {
		c = cpuid_alloc(n);
		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (!ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c))
			break;
		free(c);
		if (errno != E2BIG || n >= SUPPORTED_MAX)
			return -errno;
		n *= 2;
	}
	if (n - c->nent < SUPPORTED_SPARE) {
		grown = realloc(c, sizeof(*c) + (size_t)(c->nent + SUPPORTED_SPARE) *
							sizeof(c->entries[0]));
		if (!grown) {
			free(c);
			return -ENOMEM;
		}
		c = grown;
		n = c->nent + SUPPORTED_SPARE;
	}
	*out = c;
	*max_entries = n;
	return 0;
}

void cpuid_fprint(FILE *f, const struct kvm_cpuid2 *c)
{
	for (__u32 i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];

		fprintf(f, "0x%08x 0x%02x eax=0x%08x ebx=0x%08x ecx=0x%08x edx=0x%08x\n",
			e->function, e->index, e->eax, e->ebx, e->ecx, e->edx);
	}
}

/* "0x" and 1 to 8 hex digits, nothing else; advances *p past them. */
static int parse_hex32(const char **p, __u32 *out)
{
	const char *s = *p;
	__u32 v = 0;
	int digits = 0;

	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return -EINVAL;
	for (s += 2;; s++, digits++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (digits == 8)
			return -EINVAL;
		v = (v << 4) | (__u32)d;
	}
	if (!digits)
		return -EINVAL;
	*p = s;
	*out = v;
	return 0;
}

static const char *skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* One entry line, without its newline (s ends at end). */
static int parse_line(const char *s, const char *end, struct kvm_cpuid_entry2 *e)
{
	static const char *const names[] = { "eax=", "ebx=", "ecx=", "edx=" };
	__u32 v[4];

	memset(e, 0, sizeof(*e));
	if (parse_hex32(&s, &e->function))
		return -EINVAL;
	if (*s != ' ' && *s != '\t')
		return -EINVAL;
	s = skip_blanks(s);
	if (parse_hex32(&s, &e->index))
		return -EINVAL;
	for (int k = 0; k < 4; k++) {
		if (*s != ' ' && *s != '\t')
			return -EINVAL;
		s = skip_blanks(s);
		if (strncmp(s, names[k], 4))
			return -EINVAL;
		s += 4;
		if (parse_hex32(&s, &v[k]))
			return -EINVAL;
	}
	s = skip_blanks(s);
	if (s != end && !(s + 1 == end && *s == '\r'))
		return -EINVAL;
	e->eax = v[0];
	e->ebx = v[1];
	e->ecx = v[2];
	e->edx = v[3];
	if (index_significant(e->function))
		e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	return 0;
}

int cpuid_parse(const char *text, struct kvm_cpuid2 *c, unsigned int max_entries, int *line)
{
	const char *s = text;
	int lineno = 0;

	c->nent = 0;
	while (*s) {
		const char *end = strchr(s, '\n');
		const char *p;
		struct kvm_cpuid_entry2 e;

		if (!end)
			end = s + strlen(s);
		lineno++;
		if (line)
			*line = lineno;
		p = skip_blanks(s);
		if (p != end && *p != '#' && !(*p == '\r' && p + 1 == end)) {
			if (parse_line(p, end, &e) || cpuid_find(c, e.function, e.index))
				return -EINVAL;
			if (c->nent >= max_entries)
				return -E2BIG;
			c->entries[c->nent++] = e;
		}
		s = *end ? end + 1 : end;
	}
	if (line)
		*line = 0;
	return 0;
}
