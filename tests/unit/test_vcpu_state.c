/* vCPU and VM state through a snapshot (vmm/vcpu_state.h, vmm/vm_state.h),
 * on a few bytes of 64-bit guest code instead of a kernel: state set on one
 * VM reads back the same from a second one; a guest paused mid-way goes on
 * in a second VM from the next instruction (its port writes count on); a
 * state with a record missing, from another vCPU count or another CPU is
 * refused. Skipped without /dev/kvm. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/cpuid.h"
#include "kvm_vm.h"
#include "arch/x86/gdt.h"
#include "arch/x86/layout.h"
#include "arch/x86/msr.h"
#include "arch/x86/pagetables.h"
#include "core/snap.h"
#include "util/log.h"
#include "vmm/vcpu.h"
#include "vmm/vcpu_msrs.h"
#include "vmm/vcpu_state.h"
#include "vmm/vm_state.h"

#define CODE_GPA  LAYOUT_HIMEM_START
#define PORT	  0x80
#define PAUSE_AT  5
#define COPY_SIZE (2ULL << 20) /* page tables, GDT, stack and code */

#define MMIO_GPA 0x40000000U /* past RAM, below 2 GiB (the disp32 is sign-extended) */

/* inc %eax; out %eax, $0x80; jmp back: the port sees 1, 2, 3... */
static const uint8_t counter[] = { 0xff, 0xc0, 0xe7, PORT, 0xeb, 0xfa };
/* mov MMIO_GPA, %eax; out %eax, $0x80; jmp back: the port sees what the MMIO read gave. */
static const uint8_t mmio_read[] = { 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00,
				     0x40, 0xe7, PORT, 0xeb, 0xf5 };

struct rig {
	int kvm_fd, vm_fd;
	struct guest_mem mem;
	struct io_bus pio, mmio;
	struct kvm_cpuid2 *cpuid;
	unsigned int cpuid_max;
	struct vcpu *v;	 /* vCPU 0 */
	struct vcpu *ap; /* vCPU 1 where ncpus is 2: never started */
	int ncpus;
	atomic_uint last, first, outs;
	atomic_int stops;
	atomic_int asked;      /* the handler requested the pause */
	unsigned int pause_at; /* the handler pauses the vCPU after this value; 0: first */
	uint32_t mmio_value;   /* what an MMIO read returns */
	bool pause_on_mmio;
};

static void on_mmio(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct rig *r = dev;

	(void)offset;
	if (is_write || len != 4)
		return;
	memcpy(data, &r->mmio_value, 4);
	if (r->pause_on_mmio) {
		vcpu_request(r->v, VCPU_PAUSE);
		atomic_store(&r->asked, 1);
	}
}

static void on_out(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct rig *r = dev;
	uint32_t v = 0;

	(void)offset;
	if (!is_write || len != 4)
		return;
	memcpy(&v, data, 4);
	if (atomic_fetch_add(&r->outs, 1) == 0)
		atomic_store(&r->first, v);
	atomic_store(&r->last, v);
	if (r->pause_at == 0 || v == r->pause_at) {
		vcpu_request(r->v, VCPU_PAUSE); /* from the vCPU's own thread: parks next */
		atomic_store(&r->asked, 1);
	}
}

static void on_stop(void *ctx, int code, const char *reason)
{
	struct rig *r = ctx;

	(void)code;
	(void)reason;
	atomic_fetch_add(&r->stops, 1);
	vcpu_request(r->v, VCPU_FINISH);
}

static bool no_reset(void *ctx)
{
	(void)ctx;
	return false;
}

/* A VM with volt's page tables and GDT, the counter at 1 MiB, an irqchip,
 * a PIT and one vCPU made by vcpu_create(). */
static void rig_init_cpus(struct rig *r, const uint8_t *code, size_t code_len, int ncpus)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int run_size;

	memset(r, 0, sizeof(*r));
	log_set_level(LOG_OFF);
	run_size =
		test_kvm_vm(&r->kvm_fd, &r->vm_fd, &r->mem, 128ULL << 20, CODE_GPA, code, code_len);
	cr_assert_eq(ioctl(r->vm_fd, KVM_CREATE_PIT2, &pit), 0);
	cr_assert_eq(io_bus_register(&r->pio, PORT, 4, on_out, r, "counter"), 0);
	cr_assert_eq(io_bus_register(&r->mmio, MMIO_GPA, 4, on_mmio, r, "mmio"), 0);
	cr_assert_eq(cpuid_kvm_supported(r->kvm_fd, &r->cpuid, &r->cpuid_max), 0);

	const struct vcpu_env env = {
		.vm_fd = r->vm_fd,
		.run_size = run_size,
		.mem = &r->mem,
		.pio = &r->pio,
		.mmio = &r->mmio,
		.stop = on_stop,
		.reset_requested = no_reset,
		.ctx = r,
	};
	const struct vcpu_setup setup = {
		.cpuid = r->cpuid,
		.cpuid_max = r->cpuid_max,
		.ncpus = ncpus,
		.long_mode = true,
		.entry = CODE_GPA,
		.boot_info = LAYOUT_ZERO_PAGE,
	};
	r->ncpus = ncpus;
	cr_assert_eq(vcpu_create(&r->v, 0, &env, &setup), 0);
	if (ncpus == 2)
		cr_assert_eq(vcpu_create(&r->ap, 1, &env, &setup), 0);
}

static void rig_init_code(struct rig *r, const uint8_t *code, size_t code_len)
{
	rig_init_cpus(r, code, code_len, 1);
}

static void rig_init(struct rig *r)
{
	rig_init_code(r, counter, sizeof(counter));
}

static void rig_free(struct rig *r)
{
	vcpu_destroy(r->ap);
	vcpu_destroy(r->v);
	free(r->cpuid);
	guest_mem_free(&r->mem);
	close(r->vm_fd);
	close(r->kvm_fd);
}

/* Waits (up to 10 s) for the handler to ask for the pause, then for the pause. */
static void rig_wait_pause(struct rig *r)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 10000 && !atomic_load(&r->asked) && !atomic_load(&r->stops); i++)
		nanosleep(&ms, NULL);
	atomic_store(&r->asked, 0);
	cr_assert_eq(vcpu_wait_paused(r->v, in_10s()), 0, "the vCPU never paused (stops: %d)",
		     atomic_load(&r->stops));
}

/* Runs the vCPU until its handler pauses it. */
static void rig_run_to_pause(struct rig *r)
{
	static const struct thread_hooks none;

	cr_assert_eq(vcpu_start(r->v, &none), 0);
	rig_wait_pause(r);
}

/* vm_state_save + vcpu_state_save of a rig into an image (malloc'd). */
static uint8_t *save(struct rig *r, size_t *len)
{
	struct snap_writer w;
	const uint8_t *out;
	uint8_t *copy;

	snap_writer_init(&w);
	cr_assert_eq(vm_state_save(r->vm_fd, r->ncpus, &w), 0);
	cr_assert_eq(vcpu_state_save(vcpu_fd(r->v), r->kvm_fd, true, &w, 0), 0);
	if (r->ap)
		cr_assert_eq(vcpu_state_save(vcpu_fd(r->ap), r->kvm_fd, true, &w, 1), 0);
	cr_assert_eq(snap_finish(&w, &out, len), 0);
	copy = malloc(*len);
	memcpy(copy, out, *len);
	snap_writer_free(&w);
	return copy;
}

/* The load's clock_realtime for restore(). */
static bool restore_realtime;

/* What a restore does: check, the vCPU, then the VM; 0 or the first error. */
static int restore(struct rig *r, const uint8_t *img, size_t len, int ncpus)
{
	struct snap_reader rd;
	int err = snap_read_mem(&rd, img, len, "test");

	if (!err)
		err = vm_state_check(&rd, ncpus);
	if (!err)
		err = vcpu_state_restore(vcpu_fd(r->v), r->kvm_fd, &rd, 0);
	if (!err && r->ap)
		err = vcpu_state_restore(vcpu_fd(r->ap), r->kvm_fd, &rd, 1);
	if (!err)
		err = vm_state_restore(r->vm_fd, &rd, restore_realtime);
	if (!err && snap_unread(&rd))
		cr_assert_fail("record %s was not restored", snap_unread(&rd));
	snap_reader_free(&rd);
	return err;
}

/* save(), the kvmclock it saved, then a gap of wall-clock time. */
static uint8_t *save_then_wait(struct rig *r, size_t *len, struct kvm_clock_data *saved,
			       const struct timespec *gap)
{
	struct snap_reader rd;
	uint8_t *img = save(r, len);

	cr_assert_eq(snap_read_mem(&rd, img, *len, "test"), 0);
	cr_assert_eq(snap_get(&rd, "vm/clock", saved, sizeof(*saved)), 0);
	snap_reader_free(&rd);
	nanosleep(gap, NULL);
	return img;
}

/* One MSR: the header's flexible array inside a union, not a struct member
 * after it (clang's fuzz build refuses that GNU extension). */
union one_msr {
	struct kvm_msrs h;
	unsigned char buf[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
};

static uint64_t msr_get(int fd, uint32_t index)
{
	union one_msr m = { .h.nmsrs = 1 };

	m.h.entries[0].index = index;
	cr_assert_eq(ioctl(fd, KVM_GET_MSRS, &m), 1, "MSR %#x", index);
	return m.h.entries[0].data;
}

static void msr_set(int fd, uint32_t index, uint64_t data)
{
	union one_msr m = { .h.nmsrs = 1 };

	m.h.entries[0].index = index;
	m.h.entries[0].data = data;
	cr_assert_eq(ioctl(fd, KVM_SET_MSRS, &m), 1, "MSR %#x", index);
}

#define APIC_TASKPRI 0x80
#define APIC_SPIV    0xf0

/* Every test has the same timeout: criterion 2.4's runner leaks 48 bytes
 * (LeakSanitizer fails `make test-unit-debug`) when a suite mixes them. */
Test(vcpu_state, what_is_set_on_one_vm_reads_back_from_another, .timeout = 60)
{
	struct rig a, b;
	struct kvm_regs regs, got;
	struct kvm_sregs sregs, sgot;
	struct kvm_lapic_state lapic, lgot;
	struct kvm_msr_entry *msrs;
	uint8_t *img;
	size_t len;
	int fd, n;

	rig_init(&a);
	fd = vcpu_fd(a.v);
	cr_assert_eq(ioctl(fd, KVM_GET_REGS, &regs), 0);
	regs.rax = 0x1111222233334444ULL;
	regs.r15 = 0xfeedfacecafebeefULL;
	regs.rsp = 0x1f000;
	cr_assert_eq(ioctl(fd, KVM_SET_REGS, &regs), 0);
	cr_assert_eq(ioctl(fd, KVM_GET_SREGS, &sregs), 0);
	sregs.idt.base = 0x7000;
	sregs.idt.limit = 0xfff;
	sregs.cr2 = 0xdead000;
	cr_assert_eq(ioctl(fd, KVM_SET_SREGS, &sregs), 0);
	msr_set(fd, MSR_LSTAR, 0xffffffff81234560ULL);
	msr_set(fd, MSR_KERNEL_GS_BASE, 0xffff888001234000ULL);
	msr_set(fd, MSR_IA32_SYSENTER_EIP, 0xabcdef);
	msr_set(fd, MSR_MTRRdefType, MTRR_DEF_TYPE_E | MTRR_TYPE_WRBACK);
	cr_assert_eq(ioctl(fd, KVM_GET_LAPIC, &lapic), 0);
	lapic.regs[APIC_TASKPRI] = 0x20;
	cr_assert_eq(ioctl(fd, KVM_SET_LAPIC, &lapic), 0);
	n = vcpu_msrs_read(fd, a.kvm_fd, &msrs);
	cr_assert_gt(n, 10);
	img = save(&a, &len);
	fprintf(stderr, "vcpu_state: state of 1 vCPU: %zu bytes, %d MSRs saved\n", len, n);

	if (getenv("VOLT_TEST_LIST_RECORDS")) {
		struct snap_reader rd;

		cr_assert_eq(snap_read_mem(&rd, img, len, "test"), 0);
		for (size_t i = 0; i < rd.nrecs; i++)
			fprintf(stderr, "  %-20s %zu\n", rd.recs[i].name, rd.recs[i].len);
		snap_reader_free(&rd);
	}

	rig_init(&b);
	cr_assert_eq(restore(&b, img, len, 1), 0);
	fd = vcpu_fd(b.v);
	cr_assert_eq(ioctl(fd, KVM_GET_REGS, &got), 0);
	cr_assert_eq(got.rax, regs.rax);
	cr_assert_eq(got.r15, regs.r15);
	cr_assert_eq(got.rsp, regs.rsp);
	cr_assert_eq(got.rip, regs.rip);
	cr_assert_eq(ioctl(fd, KVM_GET_SREGS, &sgot), 0);
	cr_assert_eq(sgot.idt.base, 0x7000);
	cr_assert_eq(sgot.idt.limit, 0xfff);
	cr_assert_eq(sgot.cr2, 0xdead000);
	cr_assert_eq(sgot.cr3, sregs.cr3);
	cr_assert_eq(sgot.efer, sregs.efer);
	cr_assert_eq(sgot.cs.selector, sregs.cs.selector);
	cr_assert_eq(msr_get(fd, MSR_LSTAR), 0xffffffff81234560ULL);
	cr_assert_eq(msr_get(fd, MSR_KERNEL_GS_BASE), 0xffff888001234000ULL);
	cr_assert_eq(msr_get(fd, MSR_IA32_SYSENTER_EIP), 0xabcdef);
	cr_assert_eq(msr_get(fd, MSR_MTRRdefType), MTRR_DEF_TYPE_E | MTRR_TYPE_WRBACK);
	/* Every MSR saved reads back as saved, but for the clocks that run on. */
	for (int i = 0; i < n; i++) {
		if (msrs[i].index == MSR_IA32_TSC || msrs[i].index == MSR_IA32_TSC_DEADLINE)
			continue;
		cr_expect_eq(msr_get(fd, msrs[i].index), msrs[i].data, "MSR %#x", msrs[i].index);
	}
	cr_assert_eq(ioctl(fd, KVM_GET_LAPIC, &lgot), 0);
	cr_assert_eq(lgot.regs[APIC_TASKPRI], 0x20);
	cr_assert_arr_eq(&lgot.regs[APIC_SPIV], &lapic.regs[APIC_SPIV], 4);
	free(msrs);
	free(img);
	rig_free(&a);
	rig_free(&b);
}

Test(vcpu_state, a_guest_paused_mid_way_goes_on_in_a_second_vm, .timeout = 60)
{
	struct rig a, b;
	uint8_t *img;
	size_t len;

	rig_init(&a);
	a.pause_at = PAUSE_AT;
	rig_run_to_pause(&a);
	cr_assert_eq(atomic_load(&a.last), PAUSE_AT);
	img = save(&a, &len);

	rig_init(&b);
	memcpy(b.mem.regions[0].hva, a.mem.regions[0].hva, COPY_SIZE);
	cr_assert_eq(restore(&b, img, len, 1), 0);
	b.pause_at = 0;
	rig_run_to_pause(&b);
	/* PAUSE_AT again would mean the OUT ran twice: its exit was not completed. */
	cr_assert_eq(atomic_load(&b.first), PAUSE_AT + 1, "the restored guest wrote %u",
		     atomic_load(&b.first));

	/* The source goes on as well, from the same point. */
	a.pause_at = 0;
	atomic_store(&a.outs, 0);
	vcpu_request(a.v, VCPU_RUN);
	rig_wait_pause(&a);
	cr_assert_eq(atomic_load(&a.first), PAUSE_AT + 1);
	cr_assert_eq(atomic_load(&a.stops) + atomic_load(&b.stops), 0);
	free(img);
	rig_free(&a);
	rig_free(&b);
}

/* The irqchip and PIT come back as set; kvmclock goes on from the value it
 * had when saved, not from the wall clock (flags 0: no time passes in the
 * gap between save and restore). */
Test(vcpu_state, irqchip_pit_and_a_frozen_clock, .timeout = 60)
{
	struct kvm_irqchip pic = { .chip_id = KVM_IRQCHIP_PIC_MASTER }, pgot = pic;
	struct kvm_irqchip io = { .chip_id = KVM_IRQCHIP_IOAPIC }, igot = io;
	struct kvm_pit_state2 pit, tgot;
	struct kvm_clock_data saved, now;
	struct timespec gap = { 0, 200 * 1000000 };
	struct rig a, b;
	uint8_t *img;
	size_t len;

	rig_init(&a);
	cr_assert_eq(ioctl(a.vm_fd, KVM_GET_IRQCHIP, &pic), 0);
	pic.chip.pic.imr = 0xa5;
	pic.chip.pic.irq_base = 0x20;
	cr_assert_eq(ioctl(a.vm_fd, KVM_SET_IRQCHIP, &pic), 0);
	cr_assert_eq(ioctl(a.vm_fd, KVM_GET_IRQCHIP, &io), 0);
	io.chip.ioapic.redirtbl[3].bits = 0x10000 | 0x33; /* masked, vector 0x33 */
	cr_assert_eq(ioctl(a.vm_fd, KVM_SET_IRQCHIP, &io), 0);
	cr_assert_eq(ioctl(a.vm_fd, KVM_GET_PIT2, &pit), 0);
	pit.channels[2].count = 0x1234;
	pit.channels[2].mode = 3;
	cr_assert_eq(ioctl(a.vm_fd, KVM_SET_PIT2, &pit), 0);
	img = save_then_wait(&a, &len, &saved, &gap);

	rig_init(&b);
	cr_assert_eq(restore(&b, img, len, 1), 0);
	cr_assert_eq(ioctl(b.vm_fd, KVM_GET_IRQCHIP, &pgot), 0);
	cr_assert_eq(pgot.chip.pic.imr, 0xa5);
	cr_assert_eq(pgot.chip.pic.irq_base, 0x20);
	cr_assert_eq(ioctl(b.vm_fd, KVM_GET_IRQCHIP, &igot), 0);
	cr_assert_eq(igot.chip.ioapic.redirtbl[3].bits, io.chip.ioapic.redirtbl[3].bits);
	cr_assert_eq(ioctl(b.vm_fd, KVM_GET_PIT2, &tgot), 0);
	cr_assert_eq(tgot.channels[2].count, 0x1234);
	cr_assert_eq(tgot.channels[2].mode, 3);
	cr_assert_eq(ioctl(b.vm_fd, KVM_GET_CLOCK, &now), 0);
	cr_assert_geq(now.clock, saved.clock);
	cr_assert_lt(now.clock - saved.clock, 150ULL * 1000000,
		     "kvmclock advanced by %llu ns over a 200 ms gap",
		     (unsigned long long)(now.clock - saved.clock));
	free(img);
	rig_free(&a);
	rig_free(&b);
}

/* clock_realtime: kvmclock moves on by the wall-clock gap, where KVM saved
 * a wall-clock reading (a host whose clock source is the TSC); elsewhere it
 * goes on from its saved value, as without the option. */
Test(vcpu_state, clock_realtime_moves_the_clock_by_the_gap, .timeout = 60)
{
	struct kvm_clock_data saved, now;
	struct timespec gap = { 0, 300 * 1000000 };
	struct rig a, b;
	uint8_t *img;
	size_t len;

	rig_init(&a);
	img = save_then_wait(&a, &len, &saved, &gap);
	rig_init(&b);
	restore_realtime = true;
	cr_assert_eq(restore(&b, img, len, 1), 0);
	cr_assert_eq(ioctl(b.vm_fd, KVM_GET_CLOCK, &now), 0);
	cr_assert_geq(now.clock, saved.clock);
	if (saved.flags & KVM_CLOCK_REALTIME)
		cr_assert_geq(now.clock - saved.clock, 250ULL * 1000000,
			      "kvmclock advanced by %llu ns over a 300 ms gap",
			      (unsigned long long)(now.clock - saved.clock));
	else
		cr_assert_lt(now.clock - saved.clock, 250ULL * 1000000,
			     "no wall-clock reading, yet kvmclock advanced by %llu ns",
			     (unsigned long long)(now.clock - saved.clock));
	free(img);
	rig_free(&a);
	rig_free(&b);
}

/* A vCPU paused on an MMIO read exit has not got the value into its
 * register yet (KVM does that on the next KVM_RUN): the save must finish it,
 * or the restored guest would read the device again. */
Test(vcpu_state, an_mmio_read_the_vcpu_paused_on_completes_before_the_save, .timeout = 60)
{
	struct rig a, b;
	uint8_t *img;
	size_t len;

	rig_init_code(&a, mmio_read, sizeof(mmio_read));
	a.mmio_value = 0x1234;
	a.pause_on_mmio = true;
	rig_run_to_pause(&a);
	img = save(&a, &len);

	rig_init_code(&b, mmio_read, sizeof(mmio_read));
	memcpy(b.mem.regions[0].hva, a.mem.regions[0].hva, COPY_SIZE);
	cr_assert_eq(restore(&b, img, len, 1), 0);
	b.mmio_value = 0x9999;
	b.pause_at = 0;
	rig_run_to_pause(&b);
	cr_assert_eq(atomic_load(&b.first), 0x1234, "the restored guest wrote %#x",
		     atomic_load(&b.first));
	free(img);
	rig_free(&a);
	rig_free(&b);
}

/* An image of all records of img but the one called skip. */
static uint8_t *without(const uint8_t *img, size_t len, const char *skip, size_t *out_len)
{
	struct snap_reader r;
	struct snap_writer w;
	const uint8_t *out;
	uint8_t *copy;

	cr_assert_eq(snap_read_mem(&r, img, len, "test"), 0);
	snap_writer_init(&w);
	for (size_t i = 0; i < r.nrecs; i++)
		if (strcmp(r.recs[i].name, skip))
			cr_assert_eq(
				snap_put(&w, r.recs[i].name, r.buf + r.recs[i].off, r.recs[i].len),
				0);
	cr_assert_eq(snap_finish(&w, &out, out_len), 0);
	copy = malloc(*out_len);
	memcpy(copy, out, *out_len);
	snap_writer_free(&w);
	snap_reader_free(&r);
	return copy;
}

Test(vcpu_state, a_missing_record_fails_the_restore, .timeout = 60)
{
	/* Records a VM may lack (no PIT, no irqchip) are restored when present. */
	static const char *const optional[] = { "vm/pit", "vm/irqchip/pic0", "vm/irqchip/pic1",
						"vm/irqchip/ioapic" };
	struct snap_reader r;
	struct rig a;
	uint8_t *img;
	size_t len;

	rig_init(&a);
	img = save(&a, &len);
	cr_assert_eq(snap_read_mem(&r, img, len, "test"), 0);
	for (size_t i = 0; i < r.nrecs; i++) {
		bool opt = false;
		struct rig b;
		uint8_t *cut;
		size_t cut_len;

		for (size_t k = 0; k < sizeof(optional) / sizeof(optional[0]); k++)
			opt |= !strcmp(r.recs[i].name, optional[k]);
		if (opt)
			continue;
		cut = without(img, len, r.recs[i].name, &cut_len);
		rig_init(&b);
		cr_assert_neq(restore(&b, cut, cut_len, 1), 0, "restored without %s",
			      r.recs[i].name);
		rig_free(&b);
		free(cut);
	}
	snap_reader_free(&r);
	free(img);
	rig_free(&a);
}

/* Each vCPU's state goes to the vCPU of its index: the AP's own registers
 * and its MP state (waiting for INIT/SIPI) come back; a 2-vCPU state does
 * not go into a 1-vCPU VM. */
Test(vcpu_state, two_vcpus_each_restored_to_its_own, .timeout = 60)
{
	struct kvm_regs regs, got;
	struct kvm_mp_state mp, mgot;
	struct rig a, b, c;
	uint8_t *img;
	size_t len;

	rig_init_cpus(&a, counter, sizeof(counter), 2);
	cr_assert_eq(ioctl(vcpu_fd(a.ap), KVM_GET_REGS, &regs), 0);
	regs.rbx = 0xa9a9a9a9;
	cr_assert_eq(ioctl(vcpu_fd(a.ap), KVM_SET_REGS, &regs), 0);
	cr_assert_eq(ioctl(vcpu_fd(a.ap), KVM_GET_MP_STATE, &mp), 0);
	img = save(&a, &len);

	rig_init_cpus(&b, counter, sizeof(counter), 2);
	cr_assert_eq(restore(&b, img, len, 2), 0);
	cr_assert_eq(ioctl(vcpu_fd(b.ap), KVM_GET_REGS, &got), 0);
	cr_assert_eq(got.rbx, 0xa9a9a9a9);
	cr_assert_eq(ioctl(vcpu_fd(b.v), KVM_GET_REGS, &got), 0);
	cr_assert_neq(got.rbx, 0xa9a9a9a9);
	cr_assert_eq(ioctl(vcpu_fd(b.ap), KVM_GET_MP_STATE, &mgot), 0);
	cr_assert_eq(mgot.mp_state, mp.mp_state);

	rig_init(&c);
	cr_assert_eq(restore(&c, img, len, 1), -EINVAL);
	free(img);
	rig_free(&a);
	rig_free(&b);
	rig_free(&c);
}

Test(vcpu_state, another_vcpu_count_or_cpu_refused, .timeout = 60)
{
	struct cpu_signature s;
	struct snap_writer w;
	struct snap_reader r;
	const uint8_t *out;
	uint8_t rec[24] = { 0 };
	size_t len;

	log_set_level(LOG_OFF);
	cpu_signature_host(&s);
	cr_assert_eq(strlen(s.vendor), 12);
	memcpy(rec, strcmp(s.vendor, "AuthenticAMD") ? "AuthenticAMD" : "GenuineIntel", 12);
	memcpy(rec + 12, &s.family, 4);
	memcpy(rec + 16, &s.model, 4);
	snap_writer_init(&w);
	cr_assert_eq(snap_put(&w, "vm/cpu", rec, sizeof(rec)), 0);
	cr_assert_eq(snap_put_u64(&w, "vm/ncpus", 1), 0);
	cr_assert_eq(snap_finish(&w, &out, &len), 0);
	cr_assert_eq(snap_read_mem(&r, out, len, "test"), 0);
	cr_assert_eq(vm_state_check(&r, 1), -EXDEV);
	snap_reader_free(&r);
	snap_writer_free(&w);

	memcpy(rec, s.vendor, 12);
	snap_writer_init(&w);
	cr_assert_eq(snap_put(&w, "vm/cpu", rec, sizeof(rec)), 0);
	cr_assert_eq(snap_put_u64(&w, "vm/ncpus", 2), 0);
	cr_assert_eq(snap_finish(&w, &out, &len), 0);
	cr_assert_eq(snap_read_mem(&r, out, len, "test"), 0);
	cr_assert_eq(vm_state_check(&r, 1), -EINVAL);
	cr_assert_eq(vm_state_check(&r, 2), 0);
	snap_reader_free(&r);
	snap_writer_free(&w);
}
