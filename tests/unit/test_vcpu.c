/* The vCPU's lifecycle through vmm/vcpu.h alone, on a few bytes of guest code
 * instead of a kernel: start hooks, pause (the guest stops making exits),
 * resume, finish while paused, a triple fault with and without a reset request. Skipped without
 * /dev/kvm. */
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
#include "arch/x86/pagetables.h"
#include "vmm/vcpu.h"

#define CODE_GPA  LAYOUT_HIMEM_START
#define LOOP_PORT 0x80

/* out %al, $0x80; jmp back to it: an exit per iteration. */
static const uint8_t out_loop[] = { 0xe6, LOOP_PORT, 0xeb, 0xfc };
/* jmp to itself: no exit unless the vCPU is kicked. */
static const uint8_t spin[] = { 0xeb, 0xfe };
/* lidt of an empty IDT, then ud2: #UD, #DF, a triple fault. */
static const uint8_t triple_fault[] = { 0x0f, 0x01, 0x1d, 0x02, 0x00, 0x00, 0x00, 0x0f, 0x0b, 0x00,
					0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };

struct rig {
	int kvm_fd, vm_fd;
	struct guest_mem mem;
	struct io_bus pio, mmio;
	struct kvm_cpuid2 *cpuid;
	unsigned int cpuid_max;
	struct vcpu *v;
	atomic_int outs;
	atomic_int stops, stop_code, hook_kind;
	char reason[512];
	int hook_err;
	long hook_ms;	       /* the start hook takes this long */
	atomic_bool hook_done; /* and then sets this */
	bool reset_requested;
};

static void count_out(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct rig *r = dev;

	(void)offset;
	(void)data;
	(void)len;
	if (is_write)
		atomic_fetch_add(&r->outs, 1);
}

static void on_stop(void *ctx, int code, const char *reason)
{
	struct rig *r = ctx;

	if (atomic_fetch_add(&r->stops, 1) == 0) {
		snprintf(r->reason, sizeof(r->reason), "%s", reason);
		atomic_store(&r->stop_code, code);
	}
	vcpu_request(r->v, VCPU_FINISH); /* what vm_stop() does */
}

static bool on_reset_requested(void *ctx)
{
	return ((struct rig *)ctx)->reset_requested;
}

static int on_thread_start(void *ctx, enum thread_kind kind)
{
	struct rig *r = ctx;

	atomic_store(&r->hook_kind, (int)kind);
	if (r->hook_ms) {
		struct timespec ts = { r->hook_ms / 1000, (r->hook_ms % 1000) * 1000000 };

		nanosleep(&ts, NULL);
	}
	atomic_store(&r->hook_done, true);
	return r->hook_err;
}

/* A VM with 128 MiB, volt's page tables and GDT, code at 1 MiB, one vCPU. */
static void rig_init(struct rig *r, const uint8_t *code, size_t len)
{
	int run_size;

	memset(r, 0, sizeof(*r));
	run_size = test_kvm_vm(&r->kvm_fd, &r->vm_fd, &r->mem, 128ULL << 20, CODE_GPA, code, len);
	cr_assert_eq(io_bus_register(&r->pio, LOOP_PORT, 1, count_out, r, "loop"), 0);
	cr_assert_eq(cpuid_kvm_supported(r->kvm_fd, &r->cpuid, &r->cpuid_max), 0);
	atomic_store(&r->hook_kind, -1);

	const struct vcpu_env env = {
		.vm_fd = r->vm_fd,
		.run_size = run_size,
		.mem = &r->mem,
		.pio = &r->pio,
		.mmio = &r->mmio,
		.stop = on_stop,
		.reset_requested = on_reset_requested,
		.ctx = r,
	};
	const struct vcpu_setup setup = {
		.cpuid = r->cpuid,
		.cpuid_max = r->cpuid_max,
		.ncpus = 1,
		.long_mode = true,
		.entry = CODE_GPA,
		.boot_info = LAYOUT_ZERO_PAGE,
	};
	cr_assert_eq(vcpu_create(&r->v, 0, &env, &setup), 0);
}

static void rig_start(struct rig *r)
{
	struct thread_hooks hooks = { .thread_start = on_thread_start, .ctx = r };

	cr_assert_eq(vcpu_start(r->v, &hooks), 0);
}

static void rig_free(struct rig *r)
{
	vcpu_destroy(r->v);
	free(r->cpuid);
	guest_mem_free(&r->mem);
	close(r->vm_fd);
	close(r->kvm_fd);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Waits up to 10 s for the guest to make more than `than` exits. */
static int outs_beyond(struct rig *r, int than)
{
	int i;

	for (i = 0; i < 1000 && atomic_load(&r->outs) <= than; i++)
		sleep_ms(10);
	return atomic_load(&r->outs);
}

Test(vcpu, pause_parks_resume_runs_finish_ends_a_paused_vcpu, .timeout = 60)
{
	struct rig r;
	int n;

	rig_init(&r, out_loop, sizeof(out_loop));
	rig_start(&r);
	cr_assert_gt(outs_beyond(&r, 10), 10, "the guest never ran");
	cr_assert_eq(atomic_load(&r.hook_kind), THREAD_KIND_VCPU, "the start hook ran as a vCPU");

	vcpu_request(r.v, VCPU_PAUSE);
	cr_assert_eq(vcpu_wait_paused(r.v, in_10s()), 0);
	n = atomic_load(&r.outs);
	sleep_ms(100);
	cr_assert_eq(atomic_load(&r.outs), n, "the guest ran while paused");
	vcpu_request(r.v, VCPU_PAUSE); /* twice: still one answer */
	cr_assert_eq(vcpu_wait_paused(r.v, in_10s()), 0);

	vcpu_request(r.v, VCPU_RUN);
	cr_assert_gt(outs_beyond(&r, n + 10), n + 10, "no exit after resume");

	vcpu_request(r.v, VCPU_PAUSE);
	cr_assert_eq(vcpu_wait_paused(r.v, in_10s()), 0);
	vcpu_request(r.v, VCPU_FINISH);
	vcpu_join(r.v, in_10s());
	vcpu_request(r.v, VCPU_RUN); /* after finish: ignored */
	cr_assert_eq(vcpu_wait_paused(r.v, in_10s()), -ECANCELED, "an ended vCPU is not paused");
	cr_assert_eq(atomic_load(&r.stops), 0, "nothing stopped the VM");
	rig_free(&r);
}

Test(vcpu, a_pause_kicks_a_vcpu_that_makes_no_exits, .timeout = 60)
{
	struct rig r;

	rig_init(&r, spin, sizeof(spin));
	rig_start(&r);
	sleep_ms(50);
	vcpu_request(r.v, VCPU_PAUSE);
	cr_assert_eq(vcpu_wait_paused(r.v, in_10s()), 0);
	vcpu_request(r.v, VCPU_RUN);
	sleep_ms(50);
	vcpu_request(r.v, VCPU_FINISH);
	vcpu_join(r.v, in_10s());
	cr_assert_eq(atomic_load(&r.stops), 0);
	rig_free(&r);
}

Test(vcpu, finish_takes_a_running_vcpu_out_of_kvm_run, .timeout = 60)
{
	struct rig r;

	rig_init(&r, out_loop, sizeof(out_loop));
	rig_start(&r);
	outs_beyond(&r, 10);
	vcpu_request(r.v, VCPU_FINISH);
	vcpu_join(r.v, in_10s());
	vcpu_request(r.v, VCPU_PAUSE);
	cr_assert_eq(vcpu_wait_paused(r.v, in_10s()), -ECANCELED);
	rig_free(&r);
}

Test(vcpu, a_triple_fault_is_a_crash_unless_the_guest_asked_for_a_reset, .timeout = 60)
{
	struct rig r;

	rig_init(&r, triple_fault, sizeof(triple_fault));
	rig_start(&r);
	vcpu_join(r.v, in_10s());
	cr_assert_eq(atomic_load(&r.stops), 1);
	cr_assert_eq(atomic_load(&r.stop_code), 1);
	cr_assert_str_eq(r.reason, "vCPU 0: triple fault (guest crashed)");
	rig_free(&r);

	rig_init(&r, triple_fault, sizeof(triple_fault));
	r.reset_requested = true;
	rig_start(&r);
	vcpu_join(r.v, in_10s());
	cr_assert_eq(atomic_load(&r.stop_code), 0);
	cr_assert_str_eq(r.reason, "the guest reset");
	rig_free(&r);
}

Test(vcpu, a_failing_start_hook_stops_the_vm_before_the_guest_runs, .timeout = 60)
{
	struct rig r;

	rig_init(&r, out_loop, sizeof(out_loop));
	r.hook_err = -EPERM;
	rig_start(&r);
	vcpu_join(r.v, in_10s());
	cr_assert_eq(atomic_load(&r.outs), 0, "the guest ran without its confinement");
	cr_assert_eq(atomic_load(&r.stop_code), 1);
	cr_assert(strstr(r.reason, "vCPU 0: cannot confine its thread"), "%s", r.reason);
	cr_assert(strstr(r.reason, strerror(EPERM)), "%s", r.reason);
	rig_free(&r);
}

/* The starter confines itself after its vCPU threads (vm_start()): two
 * seccomp installs at once slowed each other on PVM hosts. */
Test(vcpu, start_returns_once_the_thread_is_confined, .timeout = 60)
{
	struct rig r;

	rig_init(&r, out_loop, sizeof(out_loop));
	r.hook_ms = 200;
	rig_start(&r);
	cr_assert(atomic_load(&r.hook_done), "vcpu_start() returned before the start hook did");
	rig_free(&r);
}

Test(vcpu, a_pause_before_the_first_kvm_run_is_answered, .timeout = 60)
{
	struct rig r;

	rig_init(&r, out_loop, sizeof(out_loop));
	vcpu_request(r.v, VCPU_PAUSE);
	rig_start(&r);
	cr_assert_eq(vcpu_wait_paused(r.v, in_10s()), 0);
	cr_assert_eq(atomic_load(&r.outs), 0, "the guest ran before the pause was served");
	rig_free(&r); /* finishes the parked thread */
}
