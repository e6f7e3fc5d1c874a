/* vCPU threads: set up, run, handle exits, and park on request. Emulation
 * failures that PVM hosts produce for int3 and fwait are resolved here (see
 * core/host.h); any other stops the VM with the instruction bytes in the
 * message. */
#include "vmm/vcpu.h"

#include "arch/x86/cpuid.h"
#include "arch/x86/custom_template.h"
#include "arch/x86/msr.h"
#include "arch/x86/regs.h"
#include "core/metrics.h"
#include "vmm/profiler.h"
#include "util/deadline.h"
#include "util/fault_files.h"
#include "util/log.h"
#include "util/startup_trace.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
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

enum vcpu_state {
	VCPU_STATE_NEW,	    /* no thread yet */
	VCPU_STATE_RUNNING, /* its thread runs the guest (or is about to) */
	VCPU_STATE_PAUSED,  /* parked outside KVM_RUN */
	VCPU_STATE_EXITED,  /* its thread ended */
};

struct vcpu {
	int index;
	int fd;
	struct kvm_run *run;
	struct vcpu_env env;
	struct thread_hooks hooks;
	pthread_t thread;
	atomic_bool thread_started; /* thread is valid: other threads kick it */
	/* request is read without the lock on every exit; lock and cond order
	 * the hand-over between the thread and whoever sends requests. */
	atomic_int request; /* enum vcpu_request */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* request or state changed */
	enum vcpu_state state;
	/* The thread has its name and its sandbox (or failed to get it):
	 * vcpu_start() waits for it, so that whoever looks for "fc_vcpu N" once
	 * the VM runs finds it (Firecracker's InstanceStart returns after its
	 * vCPUs answered), and so that the starter installs its own seccomp
	 * filter only after this one: two installs at once on a nested (PVM)
	 * host slowed each other, the vCPU's first KVM_RUN by ~0.1 ms
	 * (docs/benchmarks.md). Under lock. */
	bool confined;
	/* A wait for the thread ran out: it is stuck in the host kernel, and
	 * vcpu_destroy() leaves it and what it may still use (the process ends). */
	bool stuck;
};

static void kick_handler(int sig)
{
	(void)sig; /* only there to interrupt KVM_RUN */
}

/* --profile: set by the thread's own timer, cleared when it samples. */
static __thread volatile sig_atomic_t profile_tick;

static void profile_handler(int sig)
{
	(void)sig;
	profile_tick = 1;
}

/* One sample: RIP, [user] at CPL 3, or a vCPU the guest has not started
 * (real mode: an AP waiting for INIT-SIPI). Two ioctls, no allocation. */
static void profile_sample(struct vcpu *v)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	profile_tick = 0;
	if (ioctl(v->fd, KVM_GET_REGS, &r) || ioctl(v->fd, KVM_GET_SREGS, &s))
		return;
	profiler_record(v->env.profiler, v->index,
			!(s.cr0 & X86_CR0_PE)	   ? PROFILER_UNSTARTED
			: (s.cs.selector & 3) == 3 ? PROFILER_USER
						   : r.rip);
}

/* Ends the VM with a reason formatted here, on the vCPU's own stack. */
static void stop_vm(struct vcpu *v, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void stop_vm(struct vcpu *v, int code, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	v->env.stop(v->env.ctx, code, reason);
}

/* A custom template's refusal goes into detail. */
static int setup_cpuid(struct vcpu *v, const struct vcpu_setup *setup, char *detail,
		       size_t detail_size)
{
	unsigned int max = setup->cpuid_max;
	struct kvm_cpuid2 *c = cpuid_alloc(max);
	const struct cpuid_template *t =
		cpuid_template_find(setup->cpu_template ? setup->cpu_template : "none");
	int err;

	if (!c)
		return -ENOMEM;
	memcpy(c, setup->cpuid, sizeof(*c) + setup->cpuid->nent * sizeof(c->entries[0]));
	err = cpuid_normalize(c, max, (unsigned int)v->index, (unsigned int)setup->ncpus,
			      setup->smt, t, v->env.pvm_host);
	if (err == -ENOENT)
		snprintf(detail, detail_size,
			 "the %s template changes a CPUID leaf KVM does not report",
			 cpuid_template_name(t));
	if (!err && setup->custom_template) {
		unsigned int bad = 0;

		err = ct_apply_cpuid(setup->custom_template, c, &bad);
		if (err)
			snprintf(detail, detail_size,
				 "Template changes a CPUID entry not supported by KVM: Leaf: %x, "
				 "Subleaf: %x",
				 setup->custom_template->leaves[bad].leaf,
				 setup->custom_template->leaves[bad].subleaf);
	}
	if (!err && ioctl(v->fd, KVM_SET_CPUID2, c))
		err = -errno;
	free(c);
	return err;
}

/* The custom template's MSRs, after volt's boot MSRs. */
static int setup_template_msrs(struct vcpu *v, const struct custom_cpu_template *t, char *detail,
			       size_t detail_size)
{
	unsigned int bad = 0;
	int err = ct_apply_msrs(t, v->fd, &bad);

	if (err == -ENOENT)
		snprintf(detail, detail_size,
			 "Template changes an MSR entry not supported by KVM: Register Address: %x",
			 t->msrs[bad].addr);
	else if (err)
		snprintf(detail, detail_size,
			 "KVM refuses the value the CPU template gives MSR %#x", t->msrs[bad].addr);
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

static int create(struct vcpu *v, int index, const struct vcpu_setup *setup)
{
	/* Firecracker's static templates have MSR modifiers too. */
	const struct custom_cpu_template *static_msrs =
		setup->cpu_template ? cpuid_template_fc(cpuid_template_find(setup->cpu_template))
				    : NULL;
	char detail[192] = "";
	const char *what;
	int err;

	v->fd = ioctl(v->env.vm_fd, KVM_CREATE_VCPU, index);
	if (v->fd < 0) {
		err = -errno;
		pr_err("cannot create vCPU %d: %s", index, strerror(errno));
		return err;
	}
	v->run = mmap(NULL, (size_t)v->env.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		err = -errno;
		pr_err("cannot map vCPU %d's kvm_run: %s", index, strerror(errno));
		return err;
	}
	if ((err = setup_cpuid(v, setup, detail, sizeof(detail)))) {
		what = "set its CPUID";
	} else if ((err = setup_msrs(v))) {
		what = "set its boot MSRs";
	} else if (static_msrs &&
		   (err = setup_template_msrs(v, static_msrs, detail, sizeof(detail)))) {
		what = "set the CPU template's MSRs";
	} else if (setup->custom_template &&
		   (err = setup_template_msrs(v, setup->custom_template, detail, sizeof(detail)))) {
		what = "set the CPU template's MSRs";
	} else if ((err = setup_lapic(v))) {
		what = "set up its local APIC";
	} else if ((err = regs_setup_fpu(v->fd))) {
		what = "set up its FPU";
	} else if (index == 0 && (err = regs_setup_boot_cpu(v->fd, setup->long_mode, setup->entry,
							    setup->boot_info))) {
		what = "set its boot registers";
	} else {
		return 0;
	}
	pr_err("vCPU %d: cannot %s: %s", index, what, detail[0] ? detail : strerror(-err));
	return err;
}

int vcpu_create(struct vcpu **out, int index, const struct vcpu_env *env,
		const struct vcpu_setup *setup)
{
	struct vcpu *v = calloc(1, sizeof(*v));
	int err;

	*out = NULL;
	if (!v)
		return -ENOMEM;
	v->index = index;
	v->env = *env;
	v->fd = -1;
	atomic_init(&v->request, VCPU_RUN);
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	err = create(v, index, setup);
	if (err) {
		vcpu_destroy(v);
		return err;
	}
	*out = v;
	return 0;
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
		p = gpa_to_hva(v->env.mem, tr.physical_address, 1);
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
	if (v->env.pvm_host && n >= 1 && (insn[0] == 0xcc || insn[0] == 0x9b)) {
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
	stop_vm(v, 1,
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
	bool out = run->io.direction == KVM_EXIT_IO_OUT;
	uint64_t t0 = metrics_clock_us(CLOCK_MONOTONIC);
	uint32_t i;

	/* data_offset and size*count come from KVM, but stay inside the page anyway. */
	if (run->io.data_offset + (uint64_t)run->io.size * run->io.count >
	    (uint64_t)v->env.run_size)
		return;
	for (i = 0; i < run->io.count; i++, data += run->io.size)
		io_bus_access(v->env.pio, run->io.port, data, run->io.size, out);
	if (out)
		METRICS_INC(vcpu.exit_io_out);
	else
		METRICS_INC(vcpu.exit_io_in);
	metric_agg_add(out ? &volt_metrics.vcpu.exit_io_out_agg : &volt_metrics.vcpu.exit_io_in_agg,
		       metrics_clock_us(CLOCK_MONOTONIC) - t0);
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint64_t t0 = metrics_clock_us(CLOCK_MONOTONIC);

	io_bus_access(v->env.mmio, run->mmio.phys_addr, run->mmio.data,
		      run->mmio.len > 8 ? 8 : run->mmio.len, run->mmio.is_write);
	if (run->mmio.is_write)
		METRICS_INC(vcpu.exit_mmio_write);
	else
		METRICS_INC(vcpu.exit_mmio_read);
	metric_agg_add(run->mmio.is_write ? &volt_metrics.vcpu.exit_mmio_write_agg
					  : &volt_metrics.vcpu.exit_mmio_read_agg,
		       metrics_clock_us(CLOCK_MONOTONIC) - t0);
}

static void set_state(struct vcpu *v, enum vcpu_state state)
{
	pthread_mutex_lock(&v->lock);
	v->state = state;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

static void handle_exit(struct vcpu *v);

/* Waits outside KVM_RUN while a pause is requested. KVM_KVMCLOCK_CTRL marks
 * the guest's clock as stopped so its watchdogs do not report the gap as a
 * lockup (EINVAL when the guest does not use kvmclock: nothing to do). It
 * runs under the lock, so the pause is answered only once it is done. */
static void park(struct vcpu *v)
{
	/* KVM finishes the access the last exit left half done (an IN's value
	 * reaches its register, RIP moves on) and returns without running the
	 * guest: the state a snapshot saves is then between two instructions. */
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (ioctl(v->fd, KVM_RUN, 0) == 0)
		handle_exit(v);
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&v->lock);
	v->state = VCPU_STATE_PAUSED;
	pthread_cond_broadcast(&v->cond);
	if (ioctl(v->fd, KVM_KVMCLOCK_CTRL, 0))
		METRICS_INC(vcpu.kvmclock_ctrl_fails); /* as Firecracker: EINVAL too */
	while (atomic_load(&v->request) == VCPU_PAUSE)
		pthread_cond_wait(&v->cond, &v->lock);
	v->state = VCPU_STATE_RUNNING;
	pthread_mutex_unlock(&v->lock);
}

/* Handles one exit; the VM is stopped through env.stop when it must end. */
static void handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		break;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		break;
	case KVM_EXIT_HLT:
		stop_vm(v, 0, "the guest halted");
		break;
	case KVM_EXIT_SHUTDOWN:
		/* A triple fault: how some guests reset after asking to. */
		if (v->env.reset_requested && v->env.reset_requested(v->env.ctx))
			stop_vm(v, 0, "the guest reset");
		else
			stop_vm(v, 1, "vCPU %d: triple fault (guest crashed)", v->index);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		stop_vm(v, 0, "the guest %s",
			run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN ? "powered off"
									    : "reset");
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION) {
			handle_emulation_failure(v);
			break;
		}
		METRICS_INC(vcpu.failures);
		stop_vm(v, 1, "vCPU %d: KVM internal error, suberror %u", v->index,
			run->internal.suberror);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		METRICS_INC(vcpu.failures);
		stop_vm(v, 1, "vCPU %d: VM entry failed (reason %#llx)", v->index,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTR:
		break;
	default:
		METRICS_INC(vcpu.failures);
		stop_vm(v, 1, "vCPU %d: unexpected KVM exit %u", v->index, run->exit_reason);
		break;
	}
}

static void run_loop(struct vcpu *v)
{
	for (;;) {
		int r = atomic_load(&v->request);

		if (r == VCPU_FINISH)
			return;
		if (r == VCPU_PAUSE) {
			park(v);
			continue;
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			const char *file;
			int e = errno;

			if (profile_tick) /* the sampling timer interrupted it */
				profile_sample(v);
			errno = e;
			if (errno == EINTR || errno == EAGAIN) {
				__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				continue;
			}
			METRICS_INC(vcpu.failures);
			/* EFAULT: guest memory KVM could not map, as a restored
			 * VM's memory file cut on the host leaves it. */
			file = errno == EFAULT && v->env.mem ? fault_files_hit(v->env.mem->base)
							     : NULL;
			stop_vm(v, 1, "vCPU %d: KVM_RUN failed: %s%s%s%s", v->index,
				strerror(errno),
				file ? " (the guest's memory is mapped from '" : "",
				file ? file : "",
				file ? "': was it cut or changed on the host?)" : "");
			return;
		}
		if (profile_tick) /* the tick came as the guest exited anyway */
			profile_sample(v);
		handle_exit(v);
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	bool profiling = false;
	timer_t timer = 0;
	char name[16];
	int err;

	/* Named before the hook: the kernel's seccomp kill log names the thread.
	 * Firecracker's name: its framework and orchestrators pin vCPUs by it. */
	snprintf(name, sizeof(name), "fc_vcpu %d", v->index);
	log_set_thread_name(name);
	/* The timer is made before the sandbox, which allows only its end. */
	if (v->env.profiler) {
		err = profiler_timer_start(&timer, v->env.profile_hz);
		if (err)
			pr_warn("vCPU %d: no profiling (timer_create: %s)", v->index,
				strerror(-err));
		profiling = !err;
	}
	err = thread_hooks_start(&v->hooks, THREAD_KIND_VCPU);
	pthread_mutex_lock(&v->lock);
	v->confined = true;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	if (err)
		stop_vm(v, 1, "vCPU %d: cannot confine its thread (seccomp): %s", v->index,
			strerror(-err));
	else {
		startup_mark_once("vCPU thread confined, first KVM_RUN");
		run_loop(v);
	}
	if (profiling)
		profiler_timer_stop(timer);
	set_state(v, VCPU_STATE_EXITED);
	return NULL;
}

/* Makes the thread leave KVM_RUN, or not enter it: immediate_exit covers a
 * signal that arrives just before the ioctl. */
static void kick(struct vcpu *v)
{
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (atomic_load(&v->thread_started))
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

int vcpu_start(struct vcpu *v, const struct thread_hooks *hooks)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	struct sigaction prof = { .sa_handler = profile_handler };
	sigset_t block, old;
	int err;

	/* No SA_RESTART: the kick must make KVM_RUN return. */
	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
	sigfillset(&block);
	sigdelset(&block, VCPU_KICK_SIGNAL);
	/* --profile's timer signals only the thread that made it; a vCPU thread
	 * without one never sees PROFILER_SIGNAL. */
	if (v->env.profiler) {
		sigemptyset(&prof.sa_mask);
		sigaction(PROFILER_SIGNAL, &prof, NULL);
		sigdelset(&block, PROFILER_SIGNAL);
	}
	sigdelset(&block, SIGSEGV);
	sigdelset(&block, SIGBUS);
	sigdelset(&block, SIGFPE);
	sigdelset(&block, SIGILL);
	/* A --seccomp-filter rule's trap: blocked, the kernel would end volt
	 * with SIGSYS instead of Firecracker's handling (vmm/signals.h). */
	sigdelset(&block, SIGSYS);
	/* vCPU threads take only the kick; the main thread handles the rest. */
	pthread_sigmask(SIG_SETMASK, &block, &old);
	v->hooks = hooks ? *hooks : (struct thread_hooks){ 0 };
	set_state(v, VCPU_STATE_RUNNING);
	err = pthread_create(&v->thread, NULL, vcpu_thread, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		set_state(v, VCPU_STATE_NEW);
		pr_err("cannot start vCPU %d's thread: %s", v->index, strerror(err));
		return -err;
	}
	atomic_store(&v->thread_started, true);
	pthread_mutex_lock(&v->lock);
	while (!v->confined)
		pthread_cond_wait(&v->cond, &v->lock);
	pthread_mutex_unlock(&v->lock);
	return 0;
}

void vcpu_request(struct vcpu *v, enum vcpu_request r)
{
	pthread_mutex_lock(&v->lock);
	if (atomic_load(&v->request) != VCPU_FINISH)
		atomic_store(&v->request, r);
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	/* A parked thread needs only the broadcast. */
	if (r != VCPU_RUN)
		kick(v);
}

int vcpu_fd(const struct vcpu *v)
{
	return v->fd;
}

int vcpu_wait_paused(struct vcpu *v, const struct timespec *until)
{
	int err = 0;

	pthread_mutex_lock(&v->lock);
	while (v->state == VCPU_STATE_RUNNING && atomic_load(&v->request) == VCPU_PAUSE &&
	       err != ETIMEDOUT)
		err = pthread_cond_timedwait(&v->cond, &v->lock, until);
	if (v->state == VCPU_STATE_PAUSED)
		err = 0;
	else
		err = err == ETIMEDOUT ? -ETIMEDOUT : -ECANCELED;
	pthread_mutex_unlock(&v->lock);
	return err;
}

int vcpu_join(struct vcpu *v, const struct timespec *until)
{
	int err;

	if (!atomic_load(&v->thread_started))
		return 0;
	err = pthread_timedjoin_np(v->thread, NULL, until);
	if (err == ETIMEDOUT) {
		v->stuck = true;
		return -ETIMEDOUT;
	}
	atomic_store(&v->thread_started, false);
	return err ? -err : 0;
}

void vcpu_log_state(const struct vcpu *v)
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
	struct timespec until;

	if (!v || v->stuck)
		return;
	if (atomic_load(&v->thread_started))
		vcpu_request(v, VCPU_FINISH);
	until = deadline_after_ms(VCPU_FINISH_TIMEOUT_MS);
	if (vcpu_join(v, &until)) {
		pr_err("vCPU %d: its thread did not end within %u s; left as it is", v->index,
		       VCPU_FINISH_TIMEOUT_MS / 1000);
		return;
	}
	if (v->run)
		munmap(v->run, (size_t)v->env.run_size);
	if (v->fd >= 0)
		close(v->fd);
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
	free(v);
}
