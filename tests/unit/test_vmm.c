/* Guest memory, the I/O bus, GDT/register setup, the MP table and the console escape. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "arch/x86/gdt.h"
#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"
#include "arch/x86/regs.h"
#include "core/guest_mem.h"
#include "core/io_bus.h"
#include "devices/virtio/virtio_net.h"
#include "util/log.h"
#include "vmm/console.h"
#include "vmm/vm.h"

Test(guest_mem, regions_around_the_hole)
{
	struct guest_mem m;

	cr_assert_eq(layout_guest_mem_init(&m, 1ULL << 30), 0);
	cr_assert_eq(m.nregions, 1);
	cr_assert_eq(guest_mem_end(&m), 1ULL << 30);
	guest_mem_free(&m);
	cr_assert_eq(layout_guest_mem_init(&m, 5ULL << 30), 0);
	cr_assert_eq(m.nregions, 2);
	cr_assert_eq(guest_mem_low_end(&m), LAYOUT_MMIO_HOLE_START);
	cr_assert_eq(m.regions[1].gpa, LAYOUT_MMIO_HOLE_END);
	cr_assert_eq(guest_mem_end(&m), LAYOUT_MMIO_HOLE_END + (2ULL << 30));
	cr_assert_eq(m.regions[1].hva, m.base + LAYOUT_MMIO_HOLE_START);
	guest_mem_free(&m);
	cr_assert_eq(layout_guest_mem_init(&m, 1ULL << 20), -EINVAL); /* under LAYOUT_MEM_MIN */
	cr_assert_eq(layout_guest_mem_init(&m, 100ULL << 20), 0);
	guest_mem_free(&m);
	cr_assert_eq(layout_guest_mem_init(&m, (128ULL << 20) + 1), -EINVAL);
}

Test(guest_mem, gpa_to_hva_checks_every_byte)
{
	struct guest_mem m;
	uint64_t end;
	char buf[8];

	cr_assert_eq(layout_guest_mem_init(&m, 5ULL << 30), 0);
	end = guest_mem_end(&m);
	cr_assert_eq(gpa_to_hva(&m, 0, 16), m.base);
	cr_assert_not_null(gpa_to_hva(&m, LAYOUT_MMIO_HOLE_START - 8, 8));
	cr_assert_null(gpa_to_hva(&m, LAYOUT_MMIO_HOLE_START - 8, 9), "range into the hole");
	cr_assert_null(gpa_to_hva(&m, LAYOUT_MMIO_HOLE_START, 1), "the hole is not RAM");
	cr_assert_not_null(gpa_to_hva(&m, end - 1, 1));
	cr_assert_null(gpa_to_hva(&m, end - 1, 2));
	cr_assert_null(gpa_to_hva(&m, UINT64_MAX, 1));
	cr_assert_null(gpa_to_hva(&m, 16, UINT64_MAX), "length wraps");
	cr_assert_null(gpa_to_hva(&m, UINT64_MAX - 4, 8), "address wraps");
	cr_assert_eq(guest_write(&m, end - 4, "abcdefgh", 8), -EFAULT);
	cr_assert_eq(guest_read(&m, LAYOUT_MMIO_HOLE_START, buf, 1), -EFAULT);
	cr_assert_eq(guest_write(&m, 0x1000, "abcdefgh", 8), 0);
	cr_assert_eq(guest_read(&m, 0x1000, buf, 8), 0);
	cr_assert_eq(memcmp(buf, "abcdefgh", 8), 0);
	guest_mem_free(&m);
}

static int calls;
static uint64_t last_offset;

static void count_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	(void)dev;
	calls++;
	last_offset = offset;
	if (!is_write)
		memset(data, 0x42, len);
}

Test(io_bus, dispatch_overlap_and_unhandled)
{
	struct io_bus b = { .kind = "port" };
	uint8_t data[4];

	cr_assert_eq(io_bus_register(&b, 0x3f8, 8, count_io, NULL, "a"), 0);
	cr_assert_eq(io_bus_register(&b, 0x3fc, 8, count_io, NULL, "b"), -EEXIST);
	cr_assert_eq(io_bus_register(&b, 0x3f0, 8, count_io, NULL, "c"), 0);
	cr_assert_eq(io_bus_register(&b, UINT64_MAX, 2, count_io, NULL, "wrap"), -EINVAL);
	cr_assert(io_bus_access(&b, 0x3fa, data, 1, false));
	cr_assert_eq(last_offset, 2);
	cr_assert_eq(data[0], 0x42);
	/* An access straddling the end of a range is not the device's. */
	cr_assert_not(io_bus_access(&b, 0x3ff, data, 2, false));
	cr_assert_eq(data[0], 0xff);
	cr_assert_eq(data[1], 0xff);
	cr_assert_not(io_bus_access(&b, 0x80, data, 4, false));
	cr_assert_eq(memcmp(data, "\xff\xff\xff\xff", 4), 0);
	cr_assert_not(io_bus_access(&b, 0x80, data, 1, true));
	cr_assert_eq(calls, 1);
}

Test(io_bus, register_edges)
{
	struct io_bus b = { .kind = "port" };
	int i;

	cr_assert_eq(io_bus_register(&b, 0x100, 0, count_io, NULL, "empty"), -EINVAL);
	cr_assert_eq(io_bus_register(&b, 0x100, 0x10, count_io, NULL, "a"), 0);
	cr_assert_eq(io_bus_register(&b, 0xf0, 0x11, count_io, NULL, "first byte"), -EEXIST);
	/* Touching on either side is no overlap; covering or inside is. */
	cr_assert_eq(io_bus_register(&b, 0xf0, 0x10, count_io, NULL, "below"), 0);
	cr_assert_eq(io_bus_register(&b, 0x110, 0x10, count_io, NULL, "above"), 0);
	cr_assert_eq(io_bus_register(&b, 0x10f, 1, count_io, NULL, "last byte"), -EEXIST);
	cr_assert_eq(io_bus_register(&b, 0x104, 2, count_io, NULL, "inside"), -EEXIST);
	cr_assert_eq(io_bus_register(&b, 0, 0x1000, count_io, NULL, "around"), -EEXIST);
	cr_assert_eq(b.n, 3);
	/* The table is full at IO_BUS_MAX: the next is refused, not written past it. */
	for (i = 3; i < IO_BUS_MAX; i++)
		cr_assert_eq(io_bus_register(&b, 0x1000 + 0x10 * (uint64_t)i, 0x10, count_io, NULL,
					     "more"),
			     0);
	cr_assert_eq(io_bus_register(&b, 0x9000, 0x10, count_io, NULL, "one too many"), -ENOSPC);
	cr_assert_eq(b.n, IO_BUS_MAX);
}

Test(gdt, segments_decode_the_table)
{
	struct kvm_segment cs = gdt_segment(GDT_CODE64), ds = gdt_segment(GDT_DATA);
	struct kvm_segment cs32 = gdt_segment(GDT_CODE32), tr = gdt_segment(GDT_TSS);

	cr_assert_eq(cs.selector, 0x08);
	cr_assert_eq(cs.l, 1);
	cr_assert_eq(cs.db, 0);
	cr_assert_eq(cs.type, 0xb);
	cr_assert_eq(cs.present, 1);
	cr_assert_eq(cs.s, 1);
	cr_assert_eq(cs.g, 1);
	cr_assert_eq(cs.limit, 0xffffffff);
	cr_assert_eq(cs.base, 0);
	cr_assert_eq(ds.selector, 0x10);
	cr_assert_eq(ds.type, 0x3);
	cr_assert_eq(ds.db, 1);
	cr_assert_eq(cs32.l, 0);
	cr_assert_eq(cs32.db, 1);
	cr_assert_eq(tr.selector, 0x18);
	cr_assert_eq(tr.type, 0xb);
	cr_assert_eq(tr.s, 0);
}

Test(regs, long_mode_and_pvh_entry_state)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	memset(&s, 0, sizeof(s));
	regs_fill_sregs(&s, true);
	cr_assert_eq(s.cr0 & (X86_CR0_PE | X86_CR0_PG), X86_CR0_PE | X86_CR0_PG);
	cr_assert_eq(s.cr3, LAYOUT_PML4);
	cr_assert(s.cr4 & X86_CR4_PAE);
	cr_assert_eq(s.efer & (EFER_LME | EFER_LMA), EFER_LME | EFER_LMA);
	cr_assert_eq(s.cs.l, 1);
	cr_assert_eq(s.gdt.base, LAYOUT_GDT);
	regs_fill_regs(&r, true, 0x1000000, LAYOUT_ZERO_PAGE);
	cr_assert_eq(r.rip, 0x1000000);
	cr_assert_eq(r.rsi, LAYOUT_ZERO_PAGE);
	cr_assert_eq(r.rsp, LAYOUT_STACK);
	cr_assert_eq(r.rflags, 2);

	regs_fill_sregs(&s, false);
	cr_assert_eq(s.cr0 & X86_CR0_PG, 0);
	cr_assert(s.cr0 & X86_CR0_PE);
	cr_assert_eq(s.efer, 0);
	cr_assert_eq(s.cs.db, 1);
	cr_assert_eq(s.cs.l, 0);
	regs_fill_regs(&r, false, 0x100040, LAYOUT_PVH_START_INFO);
	cr_assert_eq(r.rbx, LAYOUT_PVH_START_INFO);
	cr_assert_eq(r.rsi, 0);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* The floating pointer's checked signature and checksum, the configuration
 * table it points to, with its length and entry count. */
static const uint8_t *mp_config(struct guest_mem *m, uint16_t *len, uint16_t *count)
{
	const uint8_t *mpf = gpa_to_hva(m, LAYOUT_MPTABLE, 16), *mpc;

	cr_assert_eq(memcmp(mpf, "_MP_", 4), 0);
	cr_assert_eq(sum(mpf, 16), 0, "floating pointer checksum");
	mpc = gpa_to_hva(m, *(const uint32_t *)(mpf + 4), 44);
	cr_assert_eq(memcmp(mpc, "PCMP", 4), 0);
	memcpy(len, mpc + 4, 2);
	memcpy(count, mpc + 34, 2);
	return mpc;
}

Test(mptable, checksums_cpus_and_limits)
{
	struct guest_mem m;
	const uint8_t *mpc;
	int n;

	cr_assert_eq(layout_guest_mem_init(&m, 128ULL << 20), 0);
	for (n = 1; n <= MPTABLE_MAX_CPUS; n++) {
		uint16_t len, count;
		const uint8_t *e;
		int cpus = 0, bsp = 0, i;

		cr_assert_eq(mptable_write(&m, n), 0);
		mpc = mp_config(&m, &len, &count);
		cr_assert_leq(16 + len, LAYOUT_MPTABLE_MAX);
		cr_assert_eq(sum(mpc, len), 0, "config table checksum");
		for (e = mpc + 44, i = 0; i < count; i++) {
			if (e[0] == 0) {
				cpus++;
				bsp += (e[3] & 2) ? 1 : 0;
				cr_assert_eq(e[1], cpus - 1, "APIC ids in order");
				e += 20;
			} else {
				e += 8;
			}
		}
		cr_assert_eq(e, mpc + len);
		cr_assert_eq(cpus, n);
		cr_assert_eq(bsp, 1);
	}
	cr_assert_eq(mptable_write(&m, 0), -EINVAL);
	cr_assert_eq(mptable_write(&m, MPTABLE_MAX_CPUS + 1), -EINVAL);
	guest_mem_free(&m);
}

/* Linux's check_timer() routes the PIT through the I/O APIC pin that an
 * INT entry names for ISA IRQ 0: KVM wires it to pin 0, so every ISA IRQ n is
 * an INT entry on pin n (an ExtINT IRQ 0 oopsed setup_IO_APIC on VT hosts). */
Test(mptable, isa_irqs_reach_their_own_ioapic_pin)
{
	struct guest_mem m;
	const uint8_t *mpc, *e;
	uint16_t len, count;
	int i, seen = 0, ioapic = -1;

	cr_assert_eq(layout_guest_mem_init(&m, 128ULL << 20), 0);
	cr_assert_eq(mptable_write(&m, 2), 0);
	mpc = mp_config(&m, &len, &count);
	for (e = mpc + 44, i = 0; i < count; i++) {
		if (e[0] == 2)
			ioapic = e[1];
		if (e[0] == 3) { /* I/O interrupt: type, irqtype, flags, bus, bus IRQ, APIC, pin */
			cr_assert_eq(e[1], 0, "IRQ %d is an INT entry", e[5]);
			cr_assert_eq(e[6], ioapic, "IRQ %d goes to the I/O APIC", e[5]);
			cr_assert_eq(e[7], e[5], "IRQ %d on pin %d", e[5], e[7]);
			cr_assert_eq(e[5], seen++);
		}
		e += e[0] == 0 ? 20 : 8;
	}
	cr_assert_eq(seen, 16);
	guest_mem_free(&m);
}

Test(console, escape_filter)
{
	uint8_t out[16];
	bool esc = false;

	cr_assert_eq(console_filter(&esc, (const uint8_t *)"ab", 2, out), 2);
	cr_assert_eq(memcmp(out, "ab", 2), 0);
	cr_assert_eq(console_filter(&esc, (const uint8_t *)"a\001", 2, out), 1);
	cr_assert(esc);
	cr_assert_eq(console_filter(&esc, (const uint8_t *)"x", 1, out), -1, "split escape");
	esc = false;
	cr_assert_eq(console_filter(&esc, (const uint8_t *)"\001\001z", 3, out), 2);
	cr_assert_eq(memcmp(out, "\001z", 2), 0);
	cr_assert_eq(console_filter(&esc, (const uint8_t *)"\001c", 2, out), 2);
	cr_assert_eq(memcmp(out, "\001c", 2), 0);
	cr_assert_eq(console_filter(&esc, (const uint8_t *)"q\001X", 3, out), -1);
}

/* Each virtio device needs an interrupt line: 17 with an I/O APIC, as
 * Firecracker on x86 (19 lines less its VMGenID's and VMClock's), 9 on a
 * PVM host (noapic: the 8259's). One device more fails vm_create() with
 * Firecracker's InstanceStart message, before anything is mapped or opened. */
Test(vm, devices_past_the_interrupt_lines)
{
	static struct vm vm;
	static struct vm_config cfg;
	const char *msg;

	cr_assert_eq(vm_virtio_lines(false), 17);
	cr_assert_eq(vm_virtio_lines(true), 9);
	log_set_level(LOG_OFF);
	cfg.ncpus = 1;
	cfg.mem_size = 128ULL << 20;
	cfg.pvm_host = true;
	cfg.ndevices = 10;
	for (int i = 0; i < cfg.ndevices; i++)
		cfg.devices[i].kind = &virtio_net_kind;
	log_clear_last_error();
	cr_assert_eq(vm_create(&vm, &cfg), -ENOSPC);
	msg = log_last_error();
	cr_assert(strstr(msg, VM_NO_GSI), "%s", msg);
	cr_assert(strstr(msg, "10 virtio devices configured; this host has 9 interrupt lines"),
		  "%s", msg);
	vm_destroy(&vm);

	cfg.pvm_host = false;
	cfg.ndevices = 18;
	for (int i = 0; i < cfg.ndevices; i++)
		cfg.devices[i].kind = &virtio_net_kind;
	cr_assert_eq(vm_create(&vm, &cfg), -ENOSPC);
	cr_assert(strstr(log_last_error(), "18 virtio devices configured; this host has 17 "), "%s",
		  log_last_error());
	vm_destroy(&vm);

	cfg.ndevices = VM_MAX_VIRTIO + 1; /* a hostile caller: refused, nothing copied */
	cr_assert_eq(vm_create(&vm, &cfg), -EINVAL);
	vm_destroy(&vm);
}
