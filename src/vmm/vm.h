/* A microVM: guest memory, the in-kernel irqchip and PIT, the legacy devices,
 * the loaded kernel and one thread per vCPU. vm_run() serves the console on
 * the calling thread until the guest resets or powers off (exit status 0) or
 * the VMM fails (non-zero, with a one-line reason logged). */
#ifndef VOLT_VMM_VM_H
#define VOLT_VMM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "boot/boot.h"
#include "core/event_loop.h"
#include "core/guest_mem.h"
#include "core/io_bus.h"
#include "core/rate_limiter.h"
#include "core/thread_hook.h"
#include "devices/legacy/cmos.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/kit_port.h"
#include "devices/legacy/serial.h"
#include "devices/device_kind.h"
#include "devices/virtio/virtio_mmio.h"

/* VM_MAX_VIRTIO: devices configured at most (devices/device_kind.h's bound); how many of
 * them start is the host's interrupt lines' matter: vm_virtio_lines(). */
#define VM_MAX_CPUS   32
#define VM_MAX_VIRTIO DEVICE_MAX_VIRTIO
#define VM_MAX_DRIVES DEVICE_MAX_VIRTIO
#define VM_MAX_NETS   DEVICE_MAX_VIRTIO

struct custom_cpu_template;

/* Firecracker's huge_pages. */
enum vm_huge_pages {
	VM_HUGE_NONE,
	VM_HUGE_THP, /* "Transparent": MADV_HUGEPAGE on RAM */
	VM_HUGE_2M,  /* "2M": hugetlbfs pages behind all guest memory */
};

struct vm_config {
	const char *kernel;  /* path */
	const char *initrd;  /* path or NULL */
	const char *cmdline; /* the guest's command line before volt's additions */
	uint64_t mem_size;   /* bytes */
	int ncpus;
	/* Two threads per core in the CPUID topology (Firecracker's smt): ncpus
	 * must then be 1 or even. */
	bool smt;
	const char *cpu_template; /* NULL: none */
	/* Firecracker's custom CPU template (PUT /cpu-config); NULL: none. Read
	 * while the vCPUs are created only. */
	const struct custom_cpu_template *custom_template;
	enum boot_protocol protocol;
	bool boot_timer;
	bool pvm_host;		/* apply the PVM host workarounds */
	bool track_dirty_pages; /* KVM's dirty log, for Diff snapshots */
	enum vm_huge_pages huge_pages;
	/* Where snapshots may be written (Landlock); NULL: nowhere once confined. */
	const char *snapshot_dir;
	/* Started by a jailer (Firecracker's or volt's): / is the jail, and
	 * the running VMM may read, write and create regular files anywhere
	 * in it, as Firecracker may in its jail (Landlock; docs/security.md). */
	bool in_jail;
	struct timespec started; /* process start, for the boot timer; 0: vm_create's time */
	/* The guest kit's command, handed over through the kit port
	 * (devices/legacy/kit_port.h); "": the shell; NULL: no kit port. */
	const char *kit_cmd;
	/* Firecracker's serial_out_path: the serial output goes to this file
	 * (created if need be, opened before the sandbox); NULL: stdout. */
	const char *serial_out_path;
	/* Firecracker's PUT /serial rate_limiter, bytes of output: what goes
	 * beyond it is dropped (and counted); size 0: no limit. */
	struct rl_bucket_config serial_rate_limiter;
	/* The serial output to a terminal waits for it (volt run at a
	 * terminal: the user's screen loses nothing, as a serial line with
	 * flow control). Otherwise, Firecracker's rule: the output never
	 * waits, a byte it cannot take at once is lost (and counted). */
	bool terminal_output_waits;
	/* The devices, in any order: vm_create() plugs them in by device_table[]
	 * order (devices/device_table.h), each kind's in list order. */
	struct device_config devices[VM_MAX_VIRTIO];
	int ndevices;
	/* The MMDS store (devices/mmds/mmds.h) the interfaces whose
	 * net_config.mmds is set serve to the guest; NULL: none. Not owned: the
	 * front end's, it outlives the VM. */
	struct mmds *mmds;
	/* --profile: each vCPU samples its RIP profile_hz times a second into
	 * profiler (vmm/profiler.h, one buffer per vCPU); NULL: no sampling. */
	struct profiler *profiler;
	unsigned int profile_hz;
};

struct vcpu;

/* Where the guest kit tells volt it is ready (devices/legacy/kit_port.h): its
 * kit port's READY (before it reads its command), or its login shell's
 * profile printing VM_SHELL_MARKER on the console (about to prompt). */
enum vm_ready_point {
	VM_READY_KIT_PORT,
	VM_READY_SHELL,
};
#define VM_SHELL_MARKER "\033]volt-shell\007"

struct vm {
	struct vm_config cfg;
	int kvm_fd, vm_fd;
	int run_size;
	struct guest_mem mem;
	struct io_bus pio, mmio;
	struct serial serial;
	struct i8042 i8042;
	struct cmos cmos;
	struct kit_port kit; /* registered when cfg.kit_cmd is set */
	struct boot_kernel kernel;
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID, with room to add leaves */
	unsigned int cpuid_max;
	struct vcpu *vcpus[VM_MAX_CPUS]; /* vmm/vcpu.h */
	int nvcpus;			 /* created */

	atomic_bool stopping;
	pthread_mutex_t stop_lock;
	int stop_fd; /* eventfd: written once the VM should stop */
	int exit_code;
	char exit_reason[512];
	atomic_bool reset_requested;

	int stop_signal_fd;	   /* vm_serve()'s signalfd of the stop signals, -1: none */
	bool stuck;		   /* a vCPU or the device thread did not end (vm_serve) */
	bool paused;		   /* vm_pause() parked every vCPU; the serving thread's */
	bool start_paused;	   /* vm_start() leaves the vCPUs parked (a restore) */
	char cpu_template[32];	   /* cfg.cpu_template's copy, for a restore */
	bool started;		   /* vm_start() ran */
	struct thread_hooks hooks; /* vm_start()'s, for the serving thread too */

	int console_out;  /* fd the serial output goes to */
	int console_file; /* serial_out_path's fd, closed by vm_destroy(); <= 2: none */
	int console_own;  /* stdout reopened not to block, closed by vm_destroy(); -1: none */
	/* cfg.serial_rate_limiter's bucket, used under the serial's lock. */
	struct token_bucket serial_bucket;
	bool serial_limited;

	/* The guest reached the ready point on_ready waits for (the guest kit's
	 * /init): vm_serve() pauses the VM, calls on_ready (the front-end
	 * snapshots it) and resumes. */
	int ready_fd; /* eventfd */
	enum vm_ready_point ready_wanted;
	void (*on_ready)(struct vm *vm, void *ctx);
	void *on_ready_ctx;
	unsigned int shell_match; /* bytes of VM_SHELL_MARKER seen in a row */

	struct event_loop loop; /* the device thread */
	bool loop_ready;
	struct virtio_env venv;
	int nvirtio; /* windows handed out, for the kernel command line */
	uint64_t virtio_base[VM_MAX_VIRTIO];
	uint32_t virtio_irq[VM_MAX_VIRTIO];
	struct {
		const struct device_kind *kind;
		void *dev;
	} devices[VM_MAX_VIRTIO];
	int ndevices; /* created */
	/* Device memory (venv.map_memory): ndev_mem KVM slots after RAM's,
	 * the last ending at dev_mem_end (0: none yet). */
	int ndev_mem;
	uint64_t dev_mem_end;
	/* The configuration whose create() failed (in cfg.devices), NULL: none;
	 * a restore words the failure as Firecracker's device that failed. */
	const struct device_config *failed_device;
};

/* Firecracker's InstanceStart fault (test_max_devices.py) when the devices
 * outnumber the host's interrupt lines; volt adds the counts after it. */
#define VM_NO_GSI "Could not allocate GSI: The requested resource is not available."
/* The interrupt lines virtio devices get, so how many of them a VM starts
 * with: 17 (ISA 5-7, 9-12, 14, 15 and I/O APIC pins 16-23), or 9 on a PVM
 * host, whose guest runs with noapic (the 8259's ISA lines only). */
int vm_virtio_lines(bool pvm_host);

int vm_create(struct vm *vm, const struct vm_config *cfg);
/* An empty VM (no fds, nothing mapped) that vm_destroy() takes as it is;
 * cfg's device slots past cfg.ndevices are left as they were (vm.c). */
void vm_clear(struct vm *vm);
/* For a restore (vmm/vm_snapshot.c): the VM, its memory from src, its devices
 * and vCPUs, but no kernel and no boot structures: their state comes from the
 * snapshot. */
int vm_create_restored(struct vm *vm, const struct vm_config *cfg,
		       const struct guest_mem_source *src, char *why, size_t why_size);
/* The index-th device of kind k, or NULL. */
void *vm_device(struct vm *vm, const struct device_kind *k, int index);

/* An extra source for vm_serve(): fn runs on the serving (main) thread each
 * time fd is readable; it reads fd itself. The API uses it for requests. */
struct vm_ctl {
	int fd;
	void (*fn)(void *ctx);
	void *ctx;
};

/* Runs hooks->before_threads, starts the device thread and the vCPUs (each
 * runs hooks->thread_start first: see core/thread_hook.h) and returns; the
 * front-end's hooks apply the sandbox (sandbox_vm_hooks()). Every file the
 * VM uses must be open by now. hooks may be NULL (nothing is confined). */
int vm_start(struct vm *vm, const struct thread_hooks *hooks);
/* Serves the console, SIGINT/SIGTERM/SIGHUP/SIGQUIT and ctl (may be NULL) on
 * the calling thread (after running vm_start()'s thread_start hook there as
 * THREAD_KIND_MAIN) until the VM stops, then joins the threads; returns the
 * exit status (0: the guest reset or powered off). */
int vm_serve(struct vm *vm, const struct vm_ctl *ctl);
/* Blocks the signals that end a VM (SIGINT, SIGTERM, SIGHUP, SIGQUIT: they
 * are read from a signalfd made of *sigs) and installs the handlers of the
 * others Firecracker handles (vmm/signals.h). SIGHUP ends volt with
 * VM_EXIT_SIGHUP, Firecracker's FcExitCode::SIGHUP, the others with 128 +
 * their number. */
#define VM_EXIT_SIGHUP 156
void vm_block_stop_signals(sigset_t *sigs);
/* Limits the serial output to b (Firecracker's serial rate_limiter), from
 * now on; a bucket not enabled lifts the limit. Before vm_start(). */
void vm_limit_serial(struct vm *vm, const struct rl_bucket_config *b);
/* vm_start() + vm_serve(vm, NULL). */
int vm_run(struct vm *vm, const struct thread_hooks *hooks);
/* From the serving thread, after vm_start(): parks every vCPU outside KVM_RUN
 * (and tells the guest's kvmclock it was paused) / lets them run again.
 * 0, or -errno. Pausing a paused VM or resuming a running one is a no-op. */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);
bool vm_is_paused(struct vm *vm);
/* From a vCPU thread, in a device's exit handler: the guest is at its ready
 * point. With on_ready set, every vCPU parks before it runs another guest
 * instruction and the serving thread runs on_ready on the paused VM. */
void vm_guest_ready(struct vm *vm, enum vm_ready_point point);
/* Presses Ctrl-Alt-Del on the i8042 keyboard (the guest's kernel reboots). */
int vm_ctrl_alt_del(struct vm *vm);
void vm_destroy(struct vm *vm);
/* Asks every thread to stop; the first caller's code and reason win. */
void vm_stop(struct vm *vm, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
