#include "arch/x86/mptable.h"

#include "arch/x86/layout.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define APIC_VERSION   0x14
#define IOAPIC_VERSION 0x11
#define ISA_IRQS       16

struct mpf_intel {
	char signature[4]; /* "_MP_" */
	uint32_t physptr;
	uint8_t length; /* in 16-byte units */
	uint8_t specification;
	uint8_t checksum;
	uint8_t feature[5];
} __attribute__((packed));

struct mpc_table {
	char signature[4]; /* "PCMP" */
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount;
	uint32_t lapic;
	uint32_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;
	uint32_t cpufeature;
	uint32_t featureflag;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type;
	uint8_t busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;
	uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc { /* also the local interrupt entry */
	uint8_t type;
	uint8_t irqtype;
	uint16_t irqflag;
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
} __attribute__((packed));

enum { MP_PROCESSOR, MP_BUS, MP_IOAPIC, MP_INTSRC, MP_LINTSRC };
enum { MP_IRQ_INT = 0, MP_IRQ_NMI = 1, MP_IRQ_EXTINT = 3 };

static uint8_t checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *b++);
	return (uint8_t)-sum;
}

int mptable_write(struct guest_mem *m, int ncpus)
{
	const size_t size = sizeof(struct mpf_intel) + sizeof(struct mpc_table) +
			    (size_t)ncpus * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) +
			    sizeof(struct mpc_ioapic) + (ISA_IRQS + 2) * sizeof(struct mpc_intsrc);
	uint8_t *base, *p;
	struct mpf_intel *mpf;
	struct mpc_table *mpc;
	uint8_t ioapic_id = (uint8_t)ncpus;
	int i, entries = 0;

	if (ncpus < 1 || ncpus > MPTABLE_MAX_CPUS)
		return -EINVAL;
	_Static_assert(16 + 44 + MPTABLE_MAX_CPUS * 20 + 8 + 8 + 18 * 8 <= LAYOUT_MPTABLE_MAX,
		       "MP table does not fit its slot");
	/* The EBDA window is not RAM in the e820 map but is backed by guest memory. */
	base = gpa_to_hva(m, LAYOUT_MPTABLE, LAYOUT_MPTABLE_MAX);
	if (!base)
		return -EFAULT;
	memset(base, 0, LAYOUT_MPTABLE_MAX);
	mpf = (struct mpf_intel *)base;
	mpc = (struct mpc_table *)(base + sizeof(*mpf));
	p = (uint8_t *)(mpc + 1);

	for (i = 0; i < ncpus; i++, entries++) {
		struct mpc_cpu *c = (struct mpc_cpu *)p;

		c->type = MP_PROCESSOR;
		c->apicid = (uint8_t)i;
		c->apicver = APIC_VERSION;
		c->cpuflag = 1 | (i == 0 ? 2 : 0);    /* enabled, bootstrap processor */
		c->cpufeature = 0x600;		      /* family 6 */
		c->featureflag = (1 << 0) | (1 << 9); /* FPU, on-chip APIC */
		p += sizeof(*c);
	}
	{
		struct mpc_bus *b = (struct mpc_bus *)p;

		b->type = MP_BUS;
		b->busid = 0;
		memcpy(b->bustype, "ISA   ", 6);
		p += sizeof(*b);
		entries++;
	}
	{
		struct mpc_ioapic *io = (struct mpc_ioapic *)p;

		io->type = MP_IOAPIC;
		io->apicid = ioapic_id;
		io->apicver = IOAPIC_VERSION;
		io->flags = 1;
		io->apicaddr = (uint32_t)LAYOUT_IOAPIC;
		p += sizeof(*io);
		entries++;
	}
	for (i = 0; i < ISA_IRQS; i++, entries++) {
		struct mpc_intsrc *s = (struct mpc_intsrc *)p;

		/*
		 * ISA IRQ n on I/O APIC pin n, IRQ 0 included: KVM's default routing
		 * wires the PIT to pin 0. An ExtINT pin 0 left Linux's check_timer()
		 * without IRQ 0 (NULL irq_data: an oops in setup_IO_APIC on VT hosts).
		 */
		s->type = MP_INTSRC;
		s->irqtype = MP_IRQ_INT;
		s->srcbus = 0;
		s->srcbusirq = (uint8_t)i;
		s->dstapic = ioapic_id;
		s->dstirq = (uint8_t)i;
		p += sizeof(*s);
	}
	for (i = 0; i < 2; i++, entries++) {
		struct mpc_intsrc *l = (struct mpc_intsrc *)p;

		/* LINT0 takes the 8259's ExtINT, LINT1 the NMI, on every local APIC. */
		l->type = MP_LINTSRC;
		l->irqtype = i == 0 ? MP_IRQ_EXTINT : MP_IRQ_NMI;
		l->dstapic = 0xff;
		l->dstirq = (uint8_t)i;
		p += sizeof(*l);
	}

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = (uint16_t)(size - sizeof(*mpf));
	mpc->spec = 4;
	memcpy(mpc->oem, "VOLT    ", 8);
	memcpy(mpc->productid, "MICROVM     ", 12);
	mpc->oemcount = (uint16_t)entries;
	mpc->lapic = (uint32_t)LAYOUT_LAPIC;
	mpc->checksum = checksum(mpc, mpc->length);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->physptr = (uint32_t)(LAYOUT_MPTABLE + sizeof(*mpf));
	mpf->length = 1;
	mpf->specification = 4;
	mpf->checksum = checksum(mpf, sizeof(*mpf));
	return 0;
}
