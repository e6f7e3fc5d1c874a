/* Assembling and running a microVM. */
#include "vmm/vm.h"

#include "devices/device_table.h"

#include "arch/x86/cpuid.h"
#include "arch/x86/custom_template.h"
#include "arch/x86/gdt.h"
#include "arch/x86/layout.h"
#include "arch/x86/mptable.h"
#include "arch/x86/pagetables.h"
#include "core/kvm.h"
#include "core/metrics.h"
#include "util/fs.h"
#include "util/cmdline.h"
#include "util/deadline.h"
#include "util/log.h"
#include "util/startup_trace.h"
#include "vmm/console.h"
#include "vmm/signals.h"
#include "vmm/vcpu.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define KERNEL_MAX_SIZE	 (512ULL << 20)
#define BOOT_TIMER_PORT	 0x3f0
#define BOOT_TIMER_MAGIC 123
/* Firecracker's boot timer: a byte write at the first MMIO window, which its
 * guests' init (resources/overlay/usr/local/bin/init.c) writes through
 * /dev/mem. With --boot-timer it takes that window, as in Firecracker, and
 * the virtio devices start one window later. */
#define BOOT_TIMER_MMIO LAYOUT_VIRTIO_MMIO
#define POST_PORT	0x80
/* Appended on PVM hosts: features CPUID cannot hide there (core/host.h). */
#define PVM_CMDLINE "noxsave clearcpuid=popcnt,smap,erms,fsrm noapic"
/*
 * Also appended on PVM hosts unless the command line sets GLIBC_TUNABLES: the
 * kernel hands it to init as an environment variable. Guest user mode runs
 * natively there with the host's XCR0 (AVX and AVX-512 enabled) and sees the
 * host's CPUID, but a guest kernel booted with noxsave (the emulator cannot
 * run xsave*) saves only the x87/SSE registers when it switches tasks, so
 * guest processes using AVX registers clobber each other's (issue #11:
 * glibc's AVX string functions then corrupt memory and processes die). This
 * keeps glibc's string functions on SSE2; other AVX users stay exposed.
 */
#define PVM_CMDLINE_ENV                                                            \
	"GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX,-AVX2,-AVX512F,-AVX512VL,-AVX512BW," \
	"-AVX512DQ,-AVX512CD,-AVX_Fast_Unaligned_Load,-FMA,-F16C"

static void request_vcpus(struct vm *vm, enum vcpu_request r)
{
	int i;

	for (i = 0; i < vm->nvcpus; i++)
		vcpu_request(vm->vcpus[i], r);
}

void vm_stop(struct vm *vm, int code, const char *fmt, ...)
{
	uint64_t one = 1;
	va_list ap;

	pthread_mutex_lock(&vm->stop_lock);
	if (!atomic_load(&vm->stopping)) {
		vm->exit_code = code;
		va_start(ap, fmt);
		vsnprintf(vm->exit_reason, sizeof(vm->exit_reason), fmt, ap);
		va_end(ap);
		atomic_store(&vm->stopping, true);
		if (write(vm->stop_fd, &one, sizeof(one)) < 0)
			pr_warn("cannot signal the VM to stop: %s", strerror(errno));
	}
	pthread_mutex_unlock(&vm->stop_lock);
	request_vcpus(vm, VCPU_FINISH);
}

/* vcpu_env.stop: the vCPU has formatted its reason. */
static void vcpu_stops_vm(void *ctx, int code, const char *reason)
{
	vm_stop(ctx, code, "%s", reason);
}

static bool guest_reset_requested(void *ctx)
{
	struct vm *vm = ctx;

	return atomic_load(&vm->reset_requested);
}

static uint64_t monotonic_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

void vm_limit_serial(struct vm *vm, const struct rl_bucket_config *b)
{
	vm->serial_limited = token_bucket_init(&vm->serial_bucket, b->size, b->one_time_burst,
					       b->refill_time, monotonic_ns());
}

/* As Firecracker's SerialOut: a byte the bucket cannot pay for is dropped. */
static bool serial_byte_allowed(struct vm *vm)
{
	return token_bucket_reduce(&vm->serial_bucket, 1, monotonic_ns(), NULL) == BUCKET_SUCCESS;
}

/* One byte of the guest's serial output, from its vCPU thread, which must
 * never wait for the reader (Firecracker's rule: a vCPU blocked here would
 * hang the guest): a byte the output cannot take now (EAGAIN) is lost and
 * counted, the next ones go out when the reader catches up; any other error
 * ends the output (nobody is reading) and the guest runs on. */
static void console_put(struct vm *vm, uint8_t byte)
{
	ssize_t n;

	if (vm->console_out < 0) {
		METRICS_INC(uart.missed_write_count);
		return;
	}
	do
		n = write(vm->console_out, &byte, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		return;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		METRICS_INC(uart.missed_write_count);
		return;
	}
	METRICS_INC(uart.error_count);
	vm->console_out = -1;
}

/* stdout as the console's output, without blocking: a description of its
 * own with O_NONBLOCK (setting the flag on the inherited one would change it
 * for every process sharing it, the shell's terminal included). A regular
 * file never blocks and is kept (another description would write from
 * offset 0), as is a socket (it cannot be reopened), stdout that already
 * does not block, and a terminal that the output waits for
 * (cfg.terminal_output_waits); without /proc (a jail) stdout stays as it
 * is. -1: keep STDOUT_FILENO. */
static int console_nonblocking_stdout(const struct vm_config *cfg)
{
	struct stat st;
	int fl;

	if (fstat(STDOUT_FILENO, &st) || !(S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)))
		return -1;
	if (cfg->terminal_output_waits && isatty(STDOUT_FILENO))
		return -1;
	fl = fcntl(STDOUT_FILENO, F_GETFL);
	if (fl < 0 || (fl & O_NONBLOCK))
		return -1;
	return open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
}

static void serial_out(void *ctx, uint8_t byte)
{
	static const char marker[] = VM_SHELL_MARKER;
	struct vm *vm = ctx;

	startup_mark_once("first guest byte on the console");
	/* vCPU thread, inside the guest's write: the VM parks right after it. */
	if (vm->on_ready && vm->ready_wanted == VM_READY_SHELL) {
		vm->shell_match = byte == (uint8_t)marker[vm->shell_match] ? vm->shell_match + 1
				  : byte == (uint8_t)marker[0]		   ? 1
									   : 0;
		if (vm->shell_match == sizeof(marker) - 1) {
			vm->shell_match = 0;
			vm_guest_ready(vm, VM_READY_SHELL);
		}
	}
	if (vm->serial_limited && !serial_byte_allowed(vm))
		METRICS_INC(uart.rate_limiter_dropped_bytes);
	else
		console_put(vm, byte);
}

static void serial_irq(void *ctx, bool level)
{
	struct vm *vm = ctx;
	struct kvm_irq_level irq = { .irq = SERIAL_COM1_IRQ, .level = level };

	if (level)
		METRICS_INC(interrupts.triggers);
	ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq);
}

static void guest_reset(void *ctx)
{
	struct vm *vm = ctx;

	startup_mark("guest reset");
	atomic_store(&vm->reset_requested, true);
	vm_stop(vm, 0, "the guest reset");
}

/* An edge on IRQ 1: the PIC and I/O APIC latch it, one per keyboard byte. */
static void keyboard_irq(void *ctx)
{
	struct vm *vm = ctx;
	struct kvm_irq_level irq = { .irq = I8042_IRQ, .level = 1 };

	METRICS_INC(interrupts.triggers);
	ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq);
	irq.level = 0;
	ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq);
}

static void boot_timer_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct vm *vm = dev;
	uint64_t us, cpu_us;

	if (!is_write) {
		memset(data, 0xff, len);
		return;
	}
	if (len != 1 || offset != 0 || data[0] != BOOT_TIMER_MAGIC)
		return;
	us = metrics_us_since(&vm->cfg.started);
	cpu_us = metrics_clock_us(CLOCK_PROCESS_CPUTIME_ID);
	/* Firecracker's line, word for word: its tools read the boot time from
	 * the log (tests/integration_tests/performance/test_boottime.py). */
	pr_info("Guest-boot-time = %6" PRIu64 " us %" PRIu64 " ms, %6" PRIu64 " CPU us %" PRIu64
		" CPU ms",
		us, us / 1000, cpu_us, cpu_us / 1000);
}

static void sink_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	(void)dev;
	(void)offset;
	if (!is_write)
		memset(data, 0xff, len);
}

/* On PVM hosts a halted vCPU's thread must not poll for its wake-up: the poll
 * spins on a host CPU that another vCPU's emulated ring 0 needs where vCPUs
 * share the host's few CPUs (a 2-vCPU guest kit on a 2-CPU host booted in ~9 %
 * less CPU and ~1.7 s sooner without it; with a CPU per vCPU, no change:
 * docs/boot-time.md). Real KVM keeps its default, as Firecracker does. Kernels
 * without the capability (before 5.15) keep polling. */
static void halt_polling_off(struct vm *vm)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_HALT_POLL, .args = { 0 } };

	if (ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_HALT_POLL) > 0 &&
	    ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap))
		pr_debug("KVM_CAP_HALT_POLL: %s", strerror(errno));
}

static int setup_kvm(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t identity = LAYOUT_KVM_IDENTITY;
	int i, err;

	vm->kvm_fd = kvm_open();
	if (vm->kvm_fd < 0)
		return vm->kvm_fd;
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size < (int)sizeof(struct kvm_run)) {
		pr_err("KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(errno));
		return -EIO;
	}
	startup_mark("/dev/kvm opened");
	if (vm->cfg.cpu_template) {
		char why[256];

		if (cpuid_template_host_check(cpuid_template_find(vm->cfg.cpu_template), why,
					      sizeof(why))) {
			pr_err("%s", why);
			return -ENOTSUP;
		}
	}
	if (vm->cfg.custom_template) {
		uint32_t cap = 0;

		/* Firecracker's message for the capabilities it checks. */
		if (ct_check_caps(vm->cfg.custom_template, vm->kvm_fd, &cap)) {
			pr_err("Missing KVM capabilities: %#x (cpu-config's kvm_capabilities)",
			       cap);
			return -ENOTSUP;
		}
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		pr_err("KVM_CREATE_VM failed: %s", strerror(errno));
		return -errno;
	}
	startup_mark("KVM_CREATE_VM");
	if (vm->cfg.pvm_host)
		halt_polling_off(vm);
	/* Memory before the irqchip and the PIT, as Firecracker orders it: a slot
	 * added after them slept ~5 ms in the ioctl here (a grace period; the
	 * start-up's longest step), one added first does not (docs/benchmarks.md). */
	for (i = 0; i < vm->mem.nregions; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = (uint32_t)i,
			.flags = vm->mem.track_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			.guest_phys_addr = vm->mem.regions[i].gpa,
			.memory_size = vm->mem.regions[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)vm->mem.regions[i].hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r)) {
			pr_err("cannot give guest memory to KVM: %s", strerror(errno));
			return -errno;
		}
	}
	startup_mark("KVM_SET_USER_MEMORY_REGION");
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS) ||
	    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity)) {
		pr_err("cannot place KVM's TSS and identity map: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) || ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit)) {
		pr_err("cannot create the in-kernel irqchip and PIT: %s", strerror(errno));
		return -errno;
	}
	startup_mark("TSS, irqchip, PIT");
	err = cpuid_kvm_supported(vm->kvm_fd, &vm->cpuid, &vm->cpuid_max);
	startup_mark("KVM_GET_SUPPORTED_CPUID");
	if (err)
		pr_err("KVM_GET_SUPPORTED_CPUID failed: %s", strerror(-err));
	return err;
}

/* The kit port's READY magic: the guest kit's ready point. */
static void kit_ready(void *vm)
{
	vm_guest_ready(vm, VM_READY_KIT_PORT);
}

static int setup_devices(struct vm *vm)
{
	int err;

	vm->pio.kind = "port";
	vm->mmio.kind = "mmio";
	serial_init(&vm->serial, serial_out, serial_irq, vm);
	i8042_init(&vm->i8042, guest_reset, keyboard_irq, vm);
	err = io_bus_register(&vm->pio, SERIAL_COM1_BASE, 8, serial_io, &vm->serial, "serial");
	if (!err)
		err = io_bus_register(&vm->pio, I8042_DATA_PORT, 5, i8042_io, &vm->i8042, "i8042");
	if (!err)
		err = io_bus_register(&vm->pio, CMOS_PORT, 2, cmos_io, &vm->cmos, "cmos");
	/* Linux's I/O delay writes here; ignore it without logging each one. */
	if (!err)
		err = io_bus_register(&vm->pio, POST_PORT, 1, sink_io, NULL, "post");
	if (!err && vm->cfg.boot_timer)
		err = io_bus_register(&vm->pio, BOOT_TIMER_PORT, 1, boot_timer_io, vm,
				      "boot-timer");
	if (!err && vm->cfg.boot_timer)
		err = io_bus_register(&vm->mmio, BOOT_TIMER_MMIO, VIRTIO_MMIO_WINDOW, boot_timer_io,
				      vm, "boot-timer");
	if (!err && vm->cfg.kit_cmd) {
		kit_port_init(&vm->kit, kit_ready, vm);
		err = kit_port_set_command(&vm->kit, vm->cfg.kit_cmd);
		if (!err)
			err = io_bus_register(&vm->pio, KIT_PORT, 1, kit_port_io, &vm->kit, "kit");
	}
	if (err)
		pr_err("cannot register the legacy devices: %s", strerror(-err));
	return err;
}

/* ISA interrupts the 8259 can deliver, for guests booted with noapic (PVM
 * hosts), then I/O APIC pins. */
static const uint32_t virtio_irqs[] = { 5,  6,	7,  9,	10, 11, 12, 14, 15,
					16, 17, 18, 19, 20, 21, 22, 23 };
#define PIC_IRQS 9

#define NELEM_IRQS ((int)(sizeof(virtio_irqs) / sizeof(virtio_irqs[0])))

/* Every line fits the arrays, and each device's window fits the layout (one
 * more for the boot timer's). */
_Static_assert(NELEM_IRQS <= VM_MAX_VIRTIO, "vm.h's arrays hold a device per line");
_Static_assert(LAYOUT_VIRTIO_MMIO + (NELEM_IRQS + 1) * VIRTIO_MMIO_WINDOW <= LAYOUT_VIRTIO_MMIO_END,
	       "a virtio-mmio window per line");
/* The metrics line has room for each configured device's own section
 * (core/metrics.h: the kinds' fewer than 16 sections and 512 counters). */
_Static_assert(16 + VM_MAX_VIRTIO <= METRICS_MAX_SECTIONS, "a metrics section per device");
_Static_assert(512 + VM_MAX_VIRTIO * 64 <= METRICS_MAX_COUNTERS, "64 counters per device");

int vm_virtio_lines(bool pvm_host)
{
	return pvm_host ? PIC_IRQS : NELEM_IRQS;
}

/* Firecracker's words, then volt's count and the host's lines. */
static void no_line(char *why, size_t why_size, int ndevices, bool pvm_host)
{
	snprintf(why, why_size,
		 VM_NO_GSI " (%d virtio devices configured; this host has %d interrupt lines "
			   "for them%s)",
		 ndevices, vm_virtio_lines(pvm_host),
		 pvm_host ? ": a PVM host's guest runs without an I/O APIC, on the 8259's "
			    "ISA lines"
			  : "");
}

/* The next virtio-mmio window and its interrupt. */
static int virtio_slot(struct vm *vm, uint64_t *base, uint32_t *irq)
{
	int window = vm->nvirtio + (vm->cfg.boot_timer ? 1 : 0);

	if (vm->nvirtio >= vm_virtio_lines(vm->cfg.pvm_host)) {
		char why[256];

		no_line(why, sizeof(why), vm->cfg.ndevices, vm->cfg.pvm_host);
		pr_err("%s", why);
		return -ENOSPC;
	}
	*base = LAYOUT_VIRTIO_MMIO + (uint64_t)window * VIRTIO_MMIO_WINDOW;
	*irq = virtio_irqs[vm->nvirtio];
	vm->virtio_base[vm->nvirtio] = *base;
	vm->virtio_irq[vm->nvirtio] = *irq;
	vm->nvirtio++;
	return 0;
}

/* The virtio transport's kicks and interrupts go through KVM, not volt. */
static int virtio_route_kick(void *ctx, int kick_fd, uint64_t addr, uint32_t q)
{
	return kvm_ioeventfd(((struct vm *)ctx)->vm_fd, kick_fd, addr, q);
}

static int virtio_route_irq(void *ctx, int irq_fd, uint32_t irq)
{
	return kvm_irqfd(((struct vm *)ctx)->vm_fd, irq_fd, irq);
}

/* Device memory goes above RAM and the 32-bit hole, where no e820 entry,
 * MMIO window or fixed structure is, and below 1 TiB and the host's (and so
 * the guest's) physical address width. */
#define DEV_MEM_ALIGN (2ULL << 20)
#define DEV_MEM_LIMIT (1ULL << 40)

/* Room for size bytes at or after from (raised to the hole's end), aligned to
 * align (a power of two): *at; *limit the first address past the guest's
 * physical space. 0 or -E2BIG. Shared by device memory and hotpluggable
 * memory. */
static int dev_mem_place(uint64_t from, uint64_t size, uint64_t align, uint64_t *at,
			 uint64_t *limit)
{
	unsigned int bits = cpuid_host_phys_bits();

	if (from < LAYOUT_MMIO_HOLE_END)
		from = LAYOUT_MMIO_HOLE_END;
	*at = (from + align - 1) & ~(align - 1);
	*limit = bits < 40 ? 1ULL << bits : DEV_MEM_LIMIT;
	return *at >= *limit || size > *limit - *at ? -E2BIG : 0;
}

static int vm_map_memory(void *ctx, void *hva, uint64_t size, bool read_only, uint64_t *gpa)
{
	struct vm *vm = ctx;
	const struct guest_mem_region *last = &vm->mem.regions[vm->mem.nregions - 1];
	uint64_t at = last->gpa + last->size, limit;
	struct kvm_userspace_memory_region r;
	int i = vm->ndev_mem;

	if (i >= VM_MAX_VIRTIO)
		return -ENOSPC;
	if (read_only && ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0)
		return -ENOTSUP;
	if (at < vm->dev_mem_end)
		at = vm->dev_mem_end;
	if (!size || size % DEV_MEM_ALIGN || dev_mem_place(at, size, DEV_MEM_ALIGN, &at, &limit))
		return -E2BIG;
	r = (struct kvm_userspace_memory_region){
		.slot = (uint32_t)(vm->mem.nregions + i),
		.flags = read_only ? KVM_MEM_READONLY : 0,
		.guest_phys_addr = at,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r))
		return -errno;
	vm->dev_mem_end = at + size;
	vm->ndev_mem++;
	*gpa = at;
	return 0;
}

/* virtio-mem's plugs and unplugs (device thread): the blocks' state and
 * KVM's slots. */
static int vm_hotplug_update(void *ctx, uint64_t first, uint64_t n, bool plug)
{
	struct vm *vm = ctx;

	return guest_mem_hp_set(&vm->mem, vm->vm_fd, first, n, plug);
}

/* Hotpluggable memory goes first above RAM and the 32-bit hole, aligned to a
 * Linux memory block (128 MiB, Firecracker's) and to its own block size;
 * device memory (pmem) follows it. The same configuration gives the same
 * place, which a restore relies on. */
#define HP_ALIGN (128ULL << 20)

static int hotplug_layout(const struct vm_config *cfg, struct guest_mem_hp_layout *l, char *why,
			  size_t why_size)
{
	uint64_t ram_end = cfg->mem_size, limit;
	int i;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < cfg->ndevices; i++)
		if (cfg->devices[i].kind->hotplug_memory)
			cfg->devices[i].kind->hotplug_memory(cfg->devices[i].data, l);
	if (!l->size)
		return 0;
	/* RAM is not mapped yet: its end from its size and the hole. */
	if (ram_end > LAYOUT_MMIO_HOLE_START)
		ram_end += LAYOUT_MMIO_HOLE_END - LAYOUT_MMIO_HOLE_START;
	if (dev_mem_place(ram_end, l->size, l->block_size > HP_ALIGN ? l->block_size : HP_ALIGN,
			  &l->gpa, &limit)) {
		snprintf(why, why_size,
			 "memory-hotplug: %llu MiB at %#llx do not fit below the guest's physical "
			 "address limit %#llx",
			 (unsigned long long)(l->size >> 20), (unsigned long long)l->gpa,
			 (unsigned long long)limit);
		return -E2BIG;
	}
	return 0;
}

static int setup_virtio(struct vm *vm)
{
	int i, k, err;

	if (vm->mem.hp.nslots) {
		int slots = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);

		if (slots > 0 && (uint64_t)slots < GUEST_MEM_HP_SLOT0 + vm->mem.hp.nslots) {
			pr_err("memory-hotplug: %llu slots need KVM slots up to %llu, this KVM "
			       "has %d",
			       (unsigned long long)vm->mem.hp.nslots,
			       (unsigned long long)(GUEST_MEM_HP_SLOT0 + vm->mem.hp.nslots), slots);
			return -ENOSPC;
		}
	}

	err = event_loop_init(&vm->loop);
	if (err) {
		pr_err("cannot create the device thread's event loop: %s", strerror(-err));
		return err;
	}
	vm->loop_ready = true;
	vm->venv = (struct virtio_env){
		.mem = &vm->mem,
		.loop = &vm->loop,
		.mmio = &vm->mmio,
		.route_kick = virtio_route_kick,
		.route_irq = virtio_route_irq,
		.map_memory = vm_map_memory,
		.hotplug_update = vm->mem.hp.l.size ? vm_hotplug_update : NULL,
		.ctx = vm,
		.mmds = vm->cfg.mmds,
	};
	/* By table order, so the guest sees drives first whatever the order of
	 * the options or requests was. */
	for (k = 0; k < device_table_len; k++)
		for (i = 0; i < vm->cfg.ndevices; i++) {
			const struct device_config *c = &vm->cfg.devices[i];
			struct device_env env = { .venv = &vm->venv, .id = c->id };

			if (c->kind != device_table[k])
				continue;
			err = virtio_slot(vm, &env.base, &env.irq);
			if (err)
				return err;
			/* Counted even when create fails: destroy takes what it left. */
			vm->devices[vm->ndevices].kind = c->kind;
			err = c->kind->create(&vm->devices[vm->ndevices++].dev, c->data, &env);
			if (err) {
				vm->failed_device = c;
				return err;
			}
		}
	return 0;
}

void *vm_device(struct vm *vm, const struct device_kind *k, int index)
{
	int i;

	for (i = 0; i < vm->ndevices; i++)
		if (vm->devices[i].kind == k && !index--)
			return vm->devices[i].dev;
	return NULL;
}

static int load_kernel(struct vm *vm)
{
	char why[256] = "";
	char *image;
	size_t size;
	int err;

	/* read_input: a FIFO, /dev/zero or a directory named as the kernel is
	 * refused with what it is, instead of blocking or reading forever. */
	err = read_input(vm->cfg.kernel, KERNEL_MAX_SIZE, &image, &size, why, sizeof(why));
	if (err) {
		pr_err("kernel '%s': %s", vm->cfg.kernel,
		       err == -EFBIG ? "is larger than 512 MiB" : why);
		return err;
	}
	why[0] = '\0';
	err = boot_load_kernel(&vm->mem, image, size, vm->cfg.protocol, &vm->kernel, why,
			       sizeof(why));
	free(image);
	if (err) {
		pr_err("cannot load kernel %s: %s", vm->cfg.kernel, why[0] ? why : strerror(-err));
		return err;
	}
	/* Firecracker's words (its test_bzimage_boot looks for "(bzImage)"). */
	pr_debug("Kernel loaded using %s%s",
		 vm->kernel.protocol == BOOT_PROTOCOL_PVH ? "PVH boot protocol"
							  : "Linux 64-bit boot protocol",
		 vm->kernel.format == KERNEL_FORMAT_BZIMAGE ? " (bzImage)" : "");
	return 0;
}

/* Streams the initrd straight into guest memory; *gpa and *size describe it. */
static int load_initrd(struct vm *vm, uint64_t *gpa, uint64_t *size)
{
	char why[256];
	struct stat st;
	uint8_t *dst;
	uint64_t got = 0;
	int fd, err = 0;

	*gpa = *size = 0;
	if (!vm->cfg.initrd)
		return 0;
	err = open_input(vm->cfg.initrd, O_RDONLY, INPUT_FILE, &fd, &st, why, sizeof(why));
	if (err) {
		pr_err("initrd '%s': %s", vm->cfg.initrd, why);
		goto out;
	}
	if (st.st_size == 0) {
		pr_err("initrd '%s': is empty", vm->cfg.initrd);
		err = -EINVAL;
		goto out;
	}
	err = boot_place_initrd(&vm->mem, &vm->kernel, (uint64_t)st.st_size, gpa);
	if (err) {
		pr_err("initrd %s (%lld MiB) does not fit in guest memory below the kernel's "
		       "limit; give the guest more memory",
		       vm->cfg.initrd, (long long)(st.st_size >> 20));
		goto out;
	}
	dst = gpa_to_hva(&vm->mem, *gpa, (uint64_t)st.st_size);
	while (dst && got < (uint64_t)st.st_size) {
		ssize_t n = read(fd, dst + got, (size_t)((uint64_t)st.st_size - got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			pr_err("cannot read initrd %s: %s", vm->cfg.initrd,
			       n < 0 ? strerror(errno) : "file shrank while reading");
			goto out;
		}
		got += (uint64_t)n;
	}
	*size = got;
out:
	if (fd >= 0)
		close(fd);
	return err;
}

/* The guest's command line: the configured one, its virtio devices, and what
 * this host needs; the kernel parameters volt adds go before init's
 * arguments (after a "--"), which stay last. */
static int build_cmdline(const struct vm *vm, char *buf, size_t size)
{
	char param[64];
	int i, err = 0;

	if (snprintf(buf, size, "%s", vm->cfg.cmdline ? vm->cfg.cmdline : "") >= (int)size)
		return -E2BIG;
	for (i = 0; !err && i < vm->nvirtio; i++) {
		snprintf(param, sizeof(param), "virtio_mmio.device=4K@%#llx:%u",
			 (unsigned long long)vm->virtio_base[i], vm->virtio_irq[i]);
		err = cmdline_add(buf, size, param, strlen(param));
	}
	if (!err && vm->cfg.pvm_host && !strstr(buf, "clearcpuid="))
		err = cmdline_add(buf, size, PVM_CMDLINE, strlen(PVM_CMDLINE));
	if (!err && vm->cfg.pvm_host && !strstr(buf, "GLIBC_TUNABLES="))
		err = cmdline_add(buf, size, PVM_CMDLINE_ENV, strlen(PVM_CMDLINE_ENV));
	return err ? err : (int)strlen(buf);
}

static int setup_boot(struct vm *vm)
{
	char cmdline[LAYOUT_CMDLINE_MAX + 1];
	uint64_t initrd_gpa, initrd_size;
	int len, err;

	err = load_kernel(vm);
	if (err)
		return err;
	err = load_initrd(vm, &initrd_gpa, &initrd_size);
	if (err)
		return err;
	len = build_cmdline(vm, cmdline, sizeof(cmdline));
	if (len < 0 || boot_write_cmdline(&vm->mem, cmdline)) {
		size_t own = vm->cfg.cmdline ? strlen(vm->cfg.cmdline) : 0;

		/* Say whose bytes did not fit: a command line that fits on its
		 * own may not once volt has added its virtio devices. */
		if (own >= LAYOUT_CMDLINE_MAX)
			pr_err("the kernel command line is %zu bytes long; at most %llu fit", own,
			       LAYOUT_CMDLINE_MAX - 1);
		else
			pr_err("the kernel command line (%zu bytes) and what volt adds to it "
			       "(virtio_mmio.device= for %d devices%s) are longer than %llu "
			       "bytes: shorten the command line",
			       own, vm->nvirtio, vm->cfg.pvm_host ? ", the PVM host's options" : "",
			       LAYOUT_CMDLINE_MAX - 1);
		return -E2BIG;
	}
	pr_debug("kernel command line: %s", cmdline);
	err = pagetables_build(&vm->mem);
	if (!err)
		err = gdt_write(&vm->mem);
	if (!err)
		err = mptable_write(&vm->mem, vm->cfg.ncpus);
	if (!err && vm->kernel.protocol == BOOT_PROTOCOL_PVH)
		err = boot_write_pvh_start_info(&vm->mem, (uint32_t)len, initrd_gpa, initrd_size);
	else if (!err)
		err = boot_write_zero_page(&vm->mem, &vm->kernel, (uint32_t)len, initrd_gpa,
					   initrd_size);
	if (err)
		pr_err("cannot write the boot structures: %s", strerror(-err));
	return err;
}

static int create_vcpus(struct vm *vm)
{
	const struct vcpu_env env = {
		.vm_fd = vm->vm_fd,
		.run_size = vm->run_size,
		.mem = &vm->mem,
		.pio = &vm->pio,
		.mmio = &vm->mmio,
		.pvm_host = vm->cfg.pvm_host,
		.stop = vcpu_stops_vm,
		.reset_requested = guest_reset_requested,
		.ctx = vm,
		.profiler = vm->cfg.profiler,
		.profile_hz = vm->cfg.profile_hz,
	};
	const bool pvh = vm->kernel.protocol == BOOT_PROTOCOL_PVH;
	struct vcpu_setup setup = {
		.cpuid = vm->cpuid,
		.cpuid_max = vm->cpuid_max,
		.cpu_template = vm->cfg.cpu_template,
		.custom_template = vm->cfg.custom_template,
		.ncpus = vm->cfg.ncpus,
		.smt = vm->cfg.smt,
		.long_mode = !pvh,
		.entry = vm->kernel.entry,
		.boot_info = pvh ? LAYOUT_PVH_START_INFO : LAYOUT_ZERO_PAGE,
	};
	int i, err = 0;

	for (i = 0; !err && i < vm->cfg.ncpus; i++) {
		err = vcpu_create(&vm->vcpus[i], i, &env, &setup);
		if (!err)
			vm->nvcpus++;
	}
	return err;
}

/* The device slots are most of a vm_config (16 of ~4.6 KiB, a drive's path
 * inline) and nothing reads one past cfg.ndevices: left alone, the unused
 * ones are never written, which spares a VM's start a page fault for each of
 * their pages (~70 KiB; issue #15). */
#define CFG_DEVICES_END \
	(offsetof(struct vm_config, devices) + sizeof(((struct vm_config *)0)->devices))

static void config_copy(struct vm_config *dst, const struct vm_config *src)
{
	memcpy(dst, src, offsetof(struct vm_config, devices));
	memcpy(dst->devices, src->devices, (size_t)src->ndevices * sizeof(src->devices[0]));
	memcpy((char *)dst + CFG_DEVICES_END, (const char *)src + CFG_DEVICES_END,
	       sizeof(*src) - CFG_DEVICES_END);
}

void vm_clear(struct vm *vm)
{
	char *end = (char *)&vm->cfg + CFG_DEVICES_END;

	memset(vm, 0, offsetof(struct vm, cfg) + offsetof(struct vm_config, devices));
	memset(end, 0, (size_t)((char *)(vm + 1) - end));
	vm->kvm_fd = vm->vm_fd = vm->stop_fd = vm->ready_fd = vm->console_file = -1;
	vm->stop_signal_fd = -1;
	vm->console_own = -1;
}

/* vm_create() and vm_create_restored(): src NULL is a boot. */
static int create(struct vm *vm, const struct vm_config *cfg, const struct guest_mem_source *src,
		  char *why, size_t why_size)
{
	struct guest_mem_source msrc = { .kind = GUEST_MEM_ANON };
	char lwhy[128];
	int err;

	vm_clear(vm);
	if (cfg->ndevices < 0 || cfg->ndevices > VM_MAX_VIRTIO) {
		snprintf(why, why_size, "%d devices: volt holds at most %d", cfg->ndevices,
			 VM_MAX_VIRTIO);
		return -EINVAL;
	}
	config_copy(&vm->cfg, cfg);
	if (cfg->cpu_template) {
		snprintf(vm->cpu_template, sizeof(vm->cpu_template), "%s", cfg->cpu_template);
		vm->cfg.cpu_template = vm->cpu_template;
	}
	vm->console_own = console_nonblocking_stdout(cfg);
	vm->console_out = vm->console_own >= 0 ? vm->console_own : STDOUT_FILENO;
	pthread_mutex_init(&vm->stop_lock, NULL);
	if (!vm->cfg.started.tv_sec)
		clock_gettime(CLOCK_MONOTONIC, &vm->cfg.started);
	if (cfg->ncpus < 1 || cfg->ncpus > VM_MAX_CPUS) {
		snprintf(why, why_size, "%d vCPUs: volt runs 1 to %d", cfg->ncpus, VM_MAX_CPUS);
		return -EINVAL;
	}
	if (cfg->smt && cfg->ncpus > 1 && cfg->ncpus % 2) {
		snprintf(why, why_size, "%d vCPUs with smt: the vCPUs must be 1 or an even number",
			 cfg->ncpus);
		return -EINVAL;
	}
	/* Before anything is mapped or opened: each virtio device needs a line. */
	if (cfg->ndevices > vm_virtio_lines(cfg->pvm_host)) {
		no_line(why, why_size, cfg->ndevices, cfg->pvm_host);
		return -ENOSPC;
	}
	if (layout_check(cfg->mem_size, lwhy, sizeof(lwhy))) {
		snprintf(why, why_size, "guest memory: %s", lwhy);
		return -EINVAL;
	}
	if (cfg->serial_out_path) {
		/* As Firecracker: created if need be, not truncated, non-blocking
		 * (a full pipe loses output rather than stopping the guest). */
		vm->console_file = open(cfg->serial_out_path,
					O_RDWR | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0666);
		if (vm->console_file < 0) {
			err = -errno;
			snprintf(why, why_size, "serial_out_path: cannot open '%s': %s",
				 cfg->serial_out_path, strerror(errno));
			return err;
		}
		vm->console_out = vm->console_file;
	}
	vm_limit_serial(vm, &cfg->serial_rate_limiter);
	vm->stop_fd = eventfd(0, EFD_CLOEXEC);
	vm->ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0 || vm->ready_fd < 0)
		return -errno;
	if (src)
		msrc = *src;
	err = hotplug_layout(cfg, &msrc.hotplug, why, why_size);
	if (err)
		return err;
	msrc.hugetlb_2m = cfg->huge_pages == VM_HUGE_2M;
	err = layout_guest_mem_init_from(&vm->mem, cfg->mem_size, &msrc, why, why_size);
	if (err && !src && !msrc.hotplug.size && !msrc.hugetlb_2m)
		snprintf(why, why_size, "cannot map %llu MiB of guest memory: %s",
			 (unsigned long long)(cfg->mem_size >> 20), strerror(-err));
	if (err)
		return err;
	/* Anonymous RAM only: a restore's RAM is the memory file's mapping. */
	if (cfg->huge_pages == VM_HUGE_THP && !src && (err = guest_mem_advise_huge(&vm->mem))) {
		snprintf(why, why_size, "huge_pages: cannot ask for transparent huge pages: %s",
			 strerror(-err));
		return err;
	}
	vm->dev_mem_end = msrc.hotplug.gpa + msrc.hotplug.size;
	startup_mark("guest memory mapped");
	if (cfg->track_dirty_pages && (err = guest_mem_dirty_enable(&vm->mem))) {
		snprintf(why, why_size, "cannot track dirty pages: %s", strerror(-err));
		return err;
	}
	err = setup_kvm(vm);
	if (!err)
		err = setup_devices(vm);
	if (!err)
		err = setup_virtio(vm);
	startup_mark("devices (legacy, event loop, virtio)");
	if (!err && !src)
		err = setup_boot(vm);
	/* The kernel and the boot structures were copied in without marks: the
	 * first Diff of a booted VM holds every page touched since RAM was
	 * mapped, as Firecracker's holds what its loader wrote, so that it
	 * restores alone and a later Diff merges onto it. A restored VM's Diffs
	 * hold what changed since its snapshot. */
	if (!err && !src)
		vm->mem.unmarked_writes = vm->mem.track_dirty;
	startup_mark("kernel and boot structures loaded");
	if (!err)
		err = create_vcpus(vm);
	startup_mark("vCPUs created");
	return err;
}

int vm_create(struct vm *vm, const struct vm_config *cfg)
{
	char why[256] = "";
	int err = create(vm, cfg, NULL, why, sizeof(why));

	if (err && why[0])
		pr_err("%s", why);
	return err;
}

int vm_create_restored(struct vm *vm, const struct vm_config *cfg,
		       const struct guest_mem_source *src, char *why, size_t why_size)
{
	why[0] = '\0';
	return create(vm, cfg, src, why, why_size);
}

/* Hands buffered console input to the UART as it makes room. */
static void feed_serial(struct vm *vm, struct console *c)
{
	if (c->len > c->off) {
		c->off += serial_receive(&vm->serial, c->buf + c->off,
					 (unsigned int)(c->len - c->off));
		if (c->off == c->len)
			c->len = c->off = 0;
	}
}

int vm_start(struct vm *vm, const struct thread_hooks *hooks)
{
	struct timespec until;
	int i, err;

	if (vm->started)
		return -EALREADY;
	vm->started = true;
	if (hooks)
		vm->hooks = *hooks;
	err = thread_hooks_before(&vm->hooks);
	if (err)
		return err;
	err = metrics_attach(&vm->loop);
	if (err)
		return err;
	startup_mark("metrics attached");
	vm->loop.hooks = (struct thread_hooks){ .thread_start = vm->hooks.thread_start,
						.ctx = vm->hooks.ctx };
	/* Sources come from the devices and the metrics timer, all registered
	 * by now (nothing is hot-plugged): a VM without any (the hello guest)
	 * starts no device thread, which cost it 0.3 CPU-ms (issue #15). The
	 * loop's pause and stop take a loop that never started. */
	err = vm->ndevices || event_loop_has_sources(&vm->loop) ? event_loop_start(&vm->loop) : 0;
	if (err) {
		pr_err("cannot start the device thread: %s", strerror(-err));
		return err;
	}
	startup_mark("device thread started (when there are devices)");
	/* A restored VM waits for a resume: parked before its first KVM_RUN. */
	if (vm->start_paused)
		request_vcpus(vm, VCPU_PAUSE);
	for (i = 0; i < vm->nvcpus && !err; i++)
		err = vcpu_start(vm->vcpus[i], &vm->hooks);
	startup_mark("vCPU threads started and confined");
	until = deadline_after_ms(VCPU_PAUSE_TIMEOUT_MS);
	for (i = 0; vm->start_paused && i < vm->nvcpus && !err; i++)
		if (vcpu_wait_paused(vm->vcpus[i], &until))
			err = -EINVAL;
	if (!err && vm->start_paused)
		vm->paused = true;
	return err;
}

void vm_block_stop_signals(sigset_t *sigs)
{
	int err;

	sigemptyset(sigs);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGTERM);
	sigaddset(sigs, SIGHUP);
	sigaddset(sigs, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, sigs, NULL);
	err = signals_install();
	if (err)
		pr_warn("cannot make the fatal signals' eventfd: %s; they end volt as by default",
			strerror(-err));
}

void vm_guest_ready(struct vm *vm, enum vm_ready_point point)
{
	uint64_t one = 1;

	if (!vm->on_ready || point != vm->ready_wanted)
		return;
	request_vcpus(vm, VCPU_PAUSE);
	if (write(vm->ready_fd, &one, sizeof(one)) != sizeof(one))
		pr_warn("cannot signal the guest's ready point: %s", strerror(errno));
}

/* The serving thread's half of vm_guest_ready(). */
static void serve_ready(struct vm *vm)
{
	uint64_t n;

	if (read(vm->ready_fd, &n, sizeof(n)) != sizeof(n))
		return;
	if (vm_pause(vm)) /* the VM is stopping */
		return;
	vm->on_ready(vm, vm->on_ready_ctx);
	vm_resume(vm);
}

int vm_serve(struct vm *vm, const struct vm_ctl *ctl)
{
	struct timespec until;
	struct console con;
	sigset_t sigs;
	int sfd, i, err;

	vm_block_stop_signals(&sigs);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	vm->stop_signal_fd = sfd;
	console_init(&con, STDIN_FILENO);
	err = thread_hooks_start(&vm->hooks, THREAD_KIND_MAIN);
	if (err)
		vm_stop(vm, 1, "cannot confine the main thread (seccomp): %s", strerror(-err));
	startup_mark("main thread confined, serving");
	while (!atomic_load(&vm->stopping)) {
		struct pollfd p[6] = {
			{ .fd = vm->stop_fd, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
			{ .fd = (con.eof || con.len) ? -1 : con.in_fd, .events = POLLIN },
			{ .fd = ctl ? ctl->fd : -1, .events = POLLIN },
			{ .fd = vm->ready_fd, .events = POLLIN },
			{ .fd = signals_fd(), .events = POLLIN },
		};
		int signo, code, fatal;

		/* While the UART's FIFO is full, look again soon. */
		if (poll(p, 6, con.len ? 10 : -1) < 0 && errno != EINTR)
			break;
		if ((p[5].revents & POLLIN) && (fatal = signals_take(&signo, &code)))
			vm_stop(vm, fatal, SIGNALS_SHUTDOWN_FMT, signo, code);
		if (p[4].revents & POLLIN)
			serve_ready(vm);
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP) /* Firecracker's sighup_handler */
					METRICS_SET(signals.sighup, 1);
				if (si.ssi_signo == SIGHUP)
					vm_stop(vm, VM_EXIT_SIGHUP, SIGNALS_SHUTDOWN_FMT, SIGHUP,
						si.ssi_code);
				else
					vm_stop(vm, 128 + (int)si.ssi_signo, "stopped by signal %s",
						strsignal((int)si.ssi_signo));
			}
		}
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR) && console_read(&con))
			vm_stop(vm, 0, "ended from the console (Ctrl-A x)");
		feed_serial(vm, &con);
		if (ctl && (p[3].revents & POLLIN))
			ctl->fn(ctl->ctx);
	}
	/* Firecracker's Vmm::stop line, which its tests look for after a guest's
	 * reboot: the log file's only (volt's reason follows once the VM is
	 * down, on the console too). */
	pr_file(LOG_INFO, "Vmm is stopping.");
	request_vcpus(vm, VCPU_FINISH);
	/* A thread that does not end (stuck in the host kernel) is left to the
	 * process's exit, and so is everything it may still use. */
	until = deadline_after_ms(VCPU_FINISH_TIMEOUT_MS);
	for (i = 0; i < vm->nvcpus; i++) {
		if (vcpu_join(vm->vcpus[i], &until)) {
			pr_err("vCPU %d did not end within %u s (its thread is stuck in the host "
			       "kernel, e.g. on guest memory its page-fault handler does not "
			       "serve); "
			       "volt ends without it",
			       i, VCPU_FINISH_TIMEOUT_MS / 1000);
			vm->stuck = true;
		} else if (vm->exit_code && log_get_level() >= LOG_DEBUG) {
			vcpu_log_state(vm->vcpus[i]);
		}
	}
	startup_mark("vCPU threads joined");
	if (event_loop_stop(&vm->loop))
		vm->stuck = true;
	startup_mark("device thread stopped");
	metrics_flush(); /* a last line, when a metrics file is open */
	console_restore();
	if (sfd >= 0)
		close(sfd);
	vm->stop_signal_fd = -1;
	if (vm->exit_code)
		pr_err("%s", vm->exit_reason);
	else
		pr_info("%s", vm->exit_reason);
	return vm->exit_code;
}

int vm_run(struct vm *vm, const struct thread_hooks *hooks)
{
	int err = vm_start(vm, hooks);

	if (err)
		vm_stop(vm, 1, "cannot start the VM: %s", strerror(-err));
	return vm_serve(vm, NULL);
}

/* A stop signal (SIGTERM...) or a fatal one waits to be read by the
 * serving thread, which is the one waiting here. */
static bool stop_signal_pending(const struct vm *vm)
{
	struct pollfd p[2] = { { .fd = vm->stop_signal_fd, .events = POLLIN },
			       { .fd = signals_fd(), .events = POLLIN } };

	return poll(p, 2, 0) > 0;
}

/* vcpu_wait_paused() until until, in slices: a stop signal ends the wait
 * (-EINTR), so that SIGTERM ends volt while a stuck vCPU would keep a pause
 * waiting for its whole bound. */
static int wait_paused(const struct vm *vm, struct vcpu *v, const struct timespec *until)
{
	for (;;) {
		struct timespec slice = deadline_after_ms(100);
		bool last = !deadline_before(&slice, until);
		int e = vcpu_wait_paused(v, last ? until : &slice);

		if (e != -ETIMEDOUT || last)
			return e;
		if (stop_signal_pending(vm))
			return -EINTR;
	}
}

int vm_pause(struct vm *vm)
{
	struct timespec until;
	int i, err = 0;

	if (!vm->started || atomic_load(&vm->stopping))
		return -EINVAL;
	if (vm->paused)
		return 0;
	request_vcpus(vm, VCPU_PAUSE);
	until = deadline_after_ms(VCPU_PAUSE_TIMEOUT_MS);
	for (i = 0; i < vm->nvcpus; i++) {
		int e = wait_paused(vm, vm->vcpus[i], &until);

		if (e == -ETIMEDOUT)
			pr_err("vCPU %d did not pause within %u s (its thread is stuck in the host "
			       "kernel, e.g. on guest memory its page-fault handler does not "
			       "serve)",
			       i, VCPU_PAUSE_TIMEOUT_MS / 1000);
		if (e && !err)
			err = e == -ETIMEDOUT || e == -EINTR ? e : -EINVAL;
		if (e == -EINTR)
			break;
	}
	vm->paused = !err && !atomic_load(&vm->stopping);
	if ((err == -ETIMEDOUT || err == -EINTR) && !atomic_load(&vm->stopping))
		request_vcpus(vm, VCPU_RUN); /* the pause failed: the others go on */
	return vm->paused ? 0 : err ? err : -EINVAL;
}

int vm_resume(struct vm *vm)
{
	if (!vm->started || atomic_load(&vm->stopping))
		return -EINVAL;
	request_vcpus(vm, VCPU_RUN);
	vm->paused = false;
	return 0;
}

bool vm_is_paused(struct vm *vm)
{
	return vm->paused;
}

int vm_ctrl_alt_del(struct vm *vm)
{
	if (!vm->started || atomic_load(&vm->stopping))
		return -EINVAL;
	return i8042_ctrl_alt_del(&vm->i8042);
}

void vm_destroy(struct vm *vm)
{
	int i;

	/* A stuck thread may still use guest memory, its vCPU or device: all
	 * of it goes with the process, which ends next. */
	if (vm->stuck)
		return;
	for (i = 0; i < vm->nvcpus; i++)
		vcpu_destroy(vm->vcpus[i]);
	if (vm->loop_ready)
		event_loop_destroy(&vm->loop);
	for (i = 0; i < vm->ndevices; i++)
		vm->devices[i].kind->destroy(vm->devices[i].dev);
	vm->ndevices = 0;
	free(vm->cpuid);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	if (vm->ready_fd >= 0)
		close(vm->ready_fd);
	if (vm->console_file > STDERR_FILENO)
		close(vm->console_file);
	if (vm->console_own > STDERR_FILENO)
		close(vm->console_own);
	vm->console_file = vm->console_own = -1;
	guest_mem_free(&vm->mem);
	startup_mark("VM destroyed (fds closed, memory unmapped)");
}
