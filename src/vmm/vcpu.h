/* A vCPU: its KVM fd and kvm_run page, set up for boot, and one thread that
 * runs it. It knows its VM only through struct vcpu_env (memory and buses
 * for its exits, a stop callback to end the VM) and struct vcpu_setup (read
 * once by vcpu_create()). The VM holds a handle (struct vcpu *) and steers
 * the thread with requests, after Firecracker's VcpuHandle/VcpuEvent:
 * vcpu_request() returns at once and kicks the thread out of KVM_RUN, the
 * thread acts on the request before it enters KVM_RUN again, and
 * vcpu_wait_paused() is its answer to a pause. A paused vCPU waits outside
 * KVM_RUN, with its last exit's port or MMIO access completed (a snapshot
 * saves it between instructions), and has told the guest's kvmclock so (its watchdogs then do not
 * take the gap for a lockup).
 * Exits: port I/O and MMIO go to the buses; on PVM hosts an int3 KVM cannot
 * emulate is reflected as #BP and fwait stepped over (core/host.h); halt,
 * reset, power-off and failures end the VM through env->stop.
 * With env->profiler, the thread's own timer interrupts KVM_RUN and the
 * thread records RIP (CPL 3: [user]) before it runs the guest again. */
#ifndef VOLT_VMM_VCPU_H
#define VOLT_VMM_VCPU_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/guest_mem.h"
#include "core/io_bus.h"
#include "core/thread_hook.h"

struct vcpu;
struct custom_cpu_template;

/* What a vCPU runs with; copied by vcpu_create(), the pointers must outlive it. */
struct vcpu_env {
	int vm_fd;
	int run_size;	       /* KVM_GET_VCPU_MMAP_SIZE */
	struct guest_mem *mem; /* instruction bytes for emulation failures */
	struct io_bus *pio, *mmio;
	bool pvm_host; /* apply the PVM host workarounds */
	/* Ends the VM; the first caller's code and reason win (vm_stop()). */
	void (*stop)(void *ctx, int code, const char *reason);
	/* Whether the guest asked for a reset: a triple fault then is that reset. */
	bool (*reset_requested)(void *ctx);
	void *ctx;
	/* --profile: the thread samples RIP profile_hz times a second into
	 * profiler (vmm/profiler.h) as vCPU `index`; NULL: no sampling. */
	struct profiler *profiler;
	unsigned int profile_hz;
};

/* How a vCPU starts: read by vcpu_create() only. */
struct vcpu_setup {
	const struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID, normalized per vCPU */
	unsigned int cpuid_max;		/* entries a table may grow to */
	const char *cpu_template;	/* NULL: none */
	/* Firecracker's custom CPU template, after cpu_template; NULL: none. */
	const struct custom_cpu_template *custom_template;
	int ncpus; /* vCPUs in the VM, for the CPUID topology */
	bool smt;  /* two threads per core (vm_config.smt) */
	/* vCPU 0's registers (regs_setup_boot_cpu()): 64-bit or 32-bit entry, the
	 * entry point, and the boot structure RSI/RBX points to. */
	bool long_mode;
	uint64_t entry, boot_info;
};

enum vcpu_request {
	VCPU_RUN,    /* run the guest (after a pause) */
	VCPU_PAUSE,  /* park outside KVM_RUN until VCPU_RUN */
	VCPU_FINISH, /* leave the thread for good; later requests are ignored */
};

/* Creates vCPU index: CPUID, boot MSRs, local APIC (LINT0 ExtINT, LINT1
 * NMI), FPU, and on vCPU 0 the boot registers. 0 or -errno (logged). */
int vcpu_create(struct vcpu **out, int index, const struct vcpu_env *env,
		const struct vcpu_setup *setup);
/* Starts the thread; it runs hooks->thread_start(THREAD_KIND_VCPU) before
 * its first KVM_RUN and stops the VM when that fails. Returns once the thread
 * is named and that hook has returned. 0 or -errno (logged). */
int vcpu_start(struct vcpu *v, const struct thread_hooks *hooks);
/* Sends a request to the thread; never blocks on the guest. */
void vcpu_request(struct vcpu *v, enum vcpu_request r);
/* Bounds on waiting for a vCPU thread: one stuck in the host kernel (a guest
 * page fault that a Uffd handler never serves) must not hang volt with it.
 * A pause as Firecracker's (RECV_TIMEOUT_SEC); the end of a stopping VM. */
#define VCPU_PAUSE_TIMEOUT_MS  30000U
#define VCPU_FINISH_TIMEOUT_MS 5000U
/* After vcpu_request(VCPU_PAUSE): waits until the vCPU is parked (0), will
 * not park (-ECANCELED: its thread ended, never started, or was asked to
 * finish), or until (util/deadline.h) passed (-ETIMEDOUT). */
int vcpu_wait_paused(struct vcpu *v, const struct timespec *until);
/* Waits for the thread to end (after VCPU_FINISH, or a stop of its own): 0,
 * or -ETIMEDOUT once until passed (the vCPU is then stuck: vcpu_destroy()
 * leaves it). */
int vcpu_join(struct vcpu *v, const struct timespec *until);
/* The vCPU's KVM fd, for saving and restoring its state (vmm/vcpu_state.h)
 * while it is paused or before it starts; the vCPU keeps owning it. */
int vcpu_fd(const struct vcpu *v);
/* Logs RIP, mode and MP state at debug level (why a VM was stuck). */
void vcpu_log_state(const struct vcpu *v);
/* Finishes and joins the thread, then frees everything; NULL is fine. */
void vcpu_destroy(struct vcpu *v);

#endif
