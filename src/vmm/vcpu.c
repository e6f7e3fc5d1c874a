/* vCPU threads: set up, run, and handle exits. Port I/O and MMIO go to the
 * buses; emulation failures that PVM hosts produce for int3 and fwait are
 * resolved here (see core/host.h); anything else stops the VM with the
 * instruction bytes in the message. */
#include "vmm/vm.h"

#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "arch/x86/msr.h"
#include "arch/x86/regs.h"
#include "core/metrics.h"
#include "sandbox/sandbox.h"
#include "util/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define VCPU_KICK_SIGNAL SIGUSR1
#define APIC_LVT0	 0x350
#define APIC_LVT1	 0x360
#define APIC_MODE_NMI	 0x4
#define APIC_MODE_EXTINT 0x7

static void kick_handler(int sig)
{
	(void)sig; /* only there to interrupt KVM_RUN */
}

static int setup_cpuid(struct vcpu *v)
{
	struct vm *vm = v->vm;
	unsigned int max = vm->cpuid_max;
	struct kvm_cpuid2 *c = cpuid_alloc(max);
	const struct cpuid_template *t =
		cpuid_template_find(vm->cfg.cpu_template ? vm->cfg.cpu_template : "none");
	int err;

	if (!c)
		return -ENOMEM;
	memcpy(c, vm->cpuid, sizeof(*c) + vm->cpuid->nent * sizeof(c->entries[0]));
	err = cpuid_normalize(c, max, (unsigned int)v->index, (unsigned int)vm->nvcpus, t,
			      vm->cfg.pvm_host);
	if (!err && ioctl(v->fd, KVM_SET_CPUID2, c))
		err = -errno;
	free(c);
	return err;
}

static int setup_msrs(struct vcpu *v)
{
	struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) + 32 * sizeof(msrs->entries[0]));
	int n, err = 0;

	if (!msrs)
		return -ENOMEM;
	n = boot_msrs(msrs->entries, 32);
	if (n < 0) {
		err = n;
	} else {
		msrs->nmsrs = (unsigned int)n;
		if (ioctl(v->fd, KVM_SET_MSRS, msrs) != n)
			err = -EIO;
	}
	free(msrs);
	return err;
}

/* Wires LINT0 to the 8259 (ExtINT) and LINT1 to NMI, as firmware would. */
static int setup_lapic(struct vcpu *v)
{
	struct kvm_lapic_state la;
	uint32_t *lvt0 = (uint32_t *)&la.regs[APIC_LVT0];
	uint32_t *lvt1 = (uint32_t *)&la.regs[APIC_LVT1];

	if (ioctl(v->fd, KVM_GET_LAPIC, &la))
		return -errno;
	*lvt0 = (*lvt0 & ~0x700u) | (APIC_MODE_EXTINT << 8);
	*lvt1 = (*lvt1 & ~0x700u) | (APIC_MODE_NMI << 8);
	return ioctl(v->fd, KVM_SET_LAPIC, &la) ? -errno : 0;
}

int vcpu_create(struct vm *vm, int index)
{
	struct vcpu *v = &vm->vcpus[index];
	const char *what;
	int err;

	v->vm = vm;
	v->index = index;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, index);
	if (v->fd < 0) {
		err = -errno;
		pr_err("cannot create vCPU %d: %s", index, strerror(errno));
		return err;
	}
	v->run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		err = -errno;
		pr_err("cannot map vCPU %d's kvm_run: %s", index, strerror(errno));
		return err;
	}
	if ((err = setup_cpuid(v))) {
		what = "set its CPUID";
	} else if ((err = setup_msrs(v))) {
		what = "set its boot MSRs";
	} else if ((err = setup_lapic(v))) {
		what = "set up its local APIC";
	} else if ((err = regs_setup_fpu(v->fd))) {
		what = "set up its FPU";
	} else if (index == 0 &&
		   (err = regs_setup_boot_cpu(
			    v->fd, vm->kernel.protocol != BOOT_PROTOCOL_PVH, vm->kernel.entry,
			    vm->kernel.protocol == BOOT_PROTOCOL_PVH ? LAYOUT_PVH_START_INFO
								     : LAYOUT_ZERO_PAGE))) {
		what = "set its boot registers";
	} else {
		return 0;
	}
	pr_err("vCPU %d: cannot %s: %s", index, what, strerror(-err));
	return err;
}

static const char *cpu_mode(const struct kvm_sregs *s)
{
	if (!(s->cr0 & X86_CR0_PE))
		return "real mode";
	if ((s->efer & EFER_LMA) && s->cs.l)
		return "64-bit mode";
	return s->cs.db ? "32-bit protected mode" : "16-bit protected mode";
}

/* Fetches up to 15 instruction bytes at RIP: from the exit's data when KVM
 * supplies them, else through KVM_TRANSLATE and guest memory. */
static int fetch_insn(struct vcpu *v, const struct kvm_regs *r, const struct kvm_sregs *s,
		      uint8_t *buf)
{
	const struct kvm_run *run = v->run;
	int n = 0;

	if (run->internal.ndata >= 2 &&
	    (run->internal.data[0] & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		uint64_t size = run->internal.data[1];

		if (size > 15 || size > (run->internal.ndata - 2) * 8)
			size = 0;
		memcpy(buf, &run->internal.data[2], size);
		if (size)
			return (int)size;
	}
	while (n < 15) {
		struct kvm_translation tr = { .linear_address = s->cs.base + r->rip + (uint64_t)n };
		const uint8_t *p;

		if (ioctl(v->fd, KVM_TRANSLATE, &tr) || !tr.valid)
			break;
		p = gpa_to_hva(&v->vm->mem, tr.physical_address, 1);
		if (!p)
			break;
		buf[n++] = *p;
	}
	return n;
}

static int inject_breakpoint(struct vcpu *v)
{
	struct kvm_vcpu_events ev;

	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev))
		return -errno;
	ev.exception.injected = 1;
	ev.exception.nr = 3; /* #BP */
	ev.exception.has_error_code = 0;
	ev.exception.error_code = 0;
	return ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) ? -errno : 0;
}

/* KVM's emulator gave up on an instruction (what PVM hosts do for int3 and
 * fwait in ring 0). Returns 0 when the guest may go on. */
static int handle_emulation_failure(struct vcpu *v)
{
	char bytes[15 * 3 + 1] = "";
	struct kvm_sregs s;
	struct kvm_regs r;
	uint8_t insn[15];
	int n, i, err;

	if (ioctl(v->fd, KVM_GET_REGS, &r) || ioctl(v->fd, KVM_GET_SREGS, &s))
		return -errno;
	n = fetch_insn(v, &r, &s, insn);
	if (v->vm->cfg.pvm_host && n >= 1 && (insn[0] == 0xcc || insn[0] == 0x9b)) {
		/* int3 traps with RIP after it; fwait only checks for x87 errors. */
		pr_debug("vCPU %d: %s at RIP %#llx", v->index,
			 insn[0] == 0xcc ? "reflecting int3 as #BP" : "stepping over fwait",
			 (unsigned long long)r.rip);
		r.rip += 1;
		if (ioctl(v->fd, KVM_SET_REGS, &r))
			return -errno;
		if (insn[0] == 0xcc && (err = inject_breakpoint(v)))
			return err;
		return 0;
	}
	for (i = 0; i < n; i++)
		snprintf(bytes + 3 * i, 4, "%02x ", insn[i]);
	vm_stop(v->vm, 1,
		"vCPU %d: KVM could not emulate the instruction at RIP %#llx (%s, CPL %u): "
		"%s(suberror %u)",
		v->index, (unsigned long long)r.rip, cpu_mode(&s), s.cs.dpl,
		n ? bytes : "bytes unreadable ", v->run->internal.suberror);
	return -EIO;
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t i;

	/* data_offset and size*count come from KVM, but stay inside the page anyway. */
	if (run->io.data_offset + (uint64_t)run->io.size * run->io.count >
	    (uint64_t)v->vm->run_size)
		return;
	if (run->io.direction == KVM_EXIT_IO_OUT)
		METRICS_INC(vcpu.exit_io_out);
	else
		METRICS_INC(vcpu.exit_io_in);
	for (i = 0; i < run->io.count; i++, data += run->io.size)
		io_bus_access(&v->vm->pio, run->io.port, data, run->io.size,
			      run->io.direction == KVM_EXIT_IO_OUT);
}

/* Waits outside KVM_RUN while the VM is paused. KVM_KVMCLOCK_CTRL marks the
 * guest's clock as stopped so its watchdogs do not report the gap as a
 * lockup (EINVAL when the guest does not use kvmclock: nothing to do). */
static void vcpu_park(struct vcpu *v)
{
	struct vm *vm = v->vm;

	pthread_mutex_lock(&vm->pause_lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->parked_cond);
	ioctl(v->fd, KVM_KVMCLOCK_CTRL, 0);
	while (atomic_load(&vm->pause_requested) && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->resume_cond, &vm->pause_lock);
	vm->parked--;
	pthread_mutex_unlock(&vm->pause_lock);
}

void vcpu_wake_parked(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->resume_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	char name[16];
	int err;

	snprintf(name, sizeof(name), "volt-vcpu%d", v->index);
	pthread_setname_np(pthread_self(), name);
	err = sandbox_seccomp_enter(SANDBOX_THREAD_VCPU);
	if (err) {
		vm_stop(vm, 1, "vCPU %d: cannot install its seccomp filter: %s", v->index,
			strerror(-err));
		return NULL;
	}
	while (!atomic_load(&vm->stopping)) {
		struct kvm_run *run = v->run;

		if (atomic_load(&vm->pause_requested)) {
			vcpu_park(v);
			continue;
		}

		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				run->immediate_exit = 0;
				continue;
			}
			METRICS_INC(vcpu.failures);
			vm_stop(vm, 1, "vCPU %d: KVM_RUN failed: %s", v->index, strerror(errno));
			break;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			handle_io(v);
			break;
		case KVM_EXIT_MMIO:
			if (run->mmio.is_write)
				METRICS_INC(vcpu.exit_mmio_write);
			else
				METRICS_INC(vcpu.exit_mmio_read);
			io_bus_access(&vm->mmio, run->mmio.phys_addr, run->mmio.data,
				      run->mmio.len > 8 ? 8 : run->mmio.len, run->mmio.is_write);
			break;
		case KVM_EXIT_HLT:
			vm_stop(vm, 0, "the guest halted");
			break;
		case KVM_EXIT_SHUTDOWN:
			/* A triple fault: how some guests reset after asking to. */
			if (atomic_load(&vm->reset_requested))
				vm_stop(vm, 0, "the guest reset");
			else
				vm_stop(vm, 1, "vCPU %d: triple fault (guest crashed)", v->index);
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			vm_stop(vm, 0, "the guest %s",
				run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN ? "powered off"
										    : "reset");
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION) {
				handle_emulation_failure(v);
				break;
			}
			METRICS_INC(vcpu.failures);
			vm_stop(vm, 1, "vCPU %d: KVM internal error, suberror %u", v->index,
				run->internal.suberror);
			break;
		case KVM_EXIT_FAIL_ENTRY:
			METRICS_INC(vcpu.failures);
			vm_stop(vm, 1, "vCPU %d: VM entry failed (reason %#llx)", v->index,
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			break;
		case KVM_EXIT_INTR:
			break;
		default:
			METRICS_INC(vcpu.failures);
			vm_stop(vm, 1, "vCPU %d: unexpected KVM exit %u", v->index,
				run->exit_reason);
			break;
		}
	}
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	sigset_t block, old;
	int err;

	/* No SA_RESTART: the kick must make KVM_RUN return. */
	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
	sigfillset(&block);
	sigdelset(&block, VCPU_KICK_SIGNAL);
	sigdelset(&block, SIGSEGV);
	sigdelset(&block, SIGBUS);
	sigdelset(&block, SIGFPE);
	sigdelset(&block, SIGILL);
	/* vCPU threads take only the kick; the main thread handles the rest. */
	pthread_sigmask(SIG_SETMASK, &block, &old);
	err = pthread_create(&v->thread, NULL, vcpu_thread, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pr_err("cannot start vCPU %d's thread: %s", v->index, strerror(err));
		return -err;
	}
	v->thread_started = true;
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	if (v->run)
		v->run->immediate_exit = 1;
	if (v->thread_started)
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *v)
{
	if (v->thread_started) {
		pthread_join(v->thread, NULL);
		v->thread_started = false;
	}
}

void vcpu_log_state(struct vcpu *v)
{
	struct kvm_mp_state mp = { 0 };
	struct kvm_sregs s;
	struct kvm_regs r;

	if (ioctl(v->fd, KVM_GET_REGS, &r) || ioctl(v->fd, KVM_GET_SREGS, &s))
		return;
	ioctl(v->fd, KVM_GET_MP_STATE, &mp);
	pr_debug("vCPU %d: RIP %#llx RSP %#llx (%s, CPL %u), CR3 %#llx, RFLAGS %#llx, MP state %u",
		 v->index, (unsigned long long)r.rip, (unsigned long long)r.rsp, cpu_mode(&s),
		 s.cs.dpl, (unsigned long long)s.cr3, (unsigned long long)r.rflags, mp.mp_state);
}

void vcpu_destroy(struct vcpu *v)
{
	vcpu_join(v);
	if (v->run)
		munmap(v->run, (size_t)v->vm->run_size);
	if (v->fd > 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}
