/* Each thread kind's seccomp allow-list: only what that thread does once it
 * serves the guest (measured under strace with every device, then cut down),
 * plus the teardown that follows on the same thread. Everything set up before
 * (opening files, creating KVM objects, threads, sockets that listen) is done
 * by then and absent here: no open, no exec, no clone, no ptrace, no new
 * listening sockets, no executable memory.
 *
 * A rule's `why` says who needs it; keep it true when the code changes. */
#include "sandbox/seccomp_lists.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/futex.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>

/* clang-format off */
#define COND(i, op, v)        CONDT(i, op, v, #v)
#define CONDT(i, op, v, text) { (i), (op), (uint64_t)(v), text }
#define NCONDS(...) (sizeof((struct sc_cond[]){ __VA_ARGS__ }) / sizeof(struct sc_cond))
/* Any arguments. */
#define ANY(sys, w)     { SCMP_SYS(sys), #sys, 0, { { 0 } }, w, 0 }
/* Only when every condition holds. */
#define IF(sys, w, ...) { SCMP_SYS(sys), #sys, NCONDS(__VA_ARGS__), { __VA_ARGS__ }, w, 0 }
/* Refused with EACCES, whatever the arguments. */
#define REFUSE(sys, w)  { SCMP_SYS(sys), #sys, 0, { { 0 } }, w, EACCES }
/* Stringized here: an argument handed on to COND would be expanded first. */
#define IOCTL(req, w) IF(ioctl, w, CONDT(1, SC_EQ32, req, #req))
#define FUTEX(op, w)  IF(futex, w, CONDT(1, SC_EQ32, op, #op))
/* clang-format on */

/* glibc's allocator: no executable mappings, no file mappings. */
#define MALLOC_RULES                                                                          \
	IF(mmap, "malloc", COND(2, SC_CLEAR, PROT_EXEC), COND(3, SC_SET, MAP_ANONYMOUS)),     \
		IF(mprotect, "malloc: a thread's arena grows", COND(2, SC_CLEAR, PROT_EXEC)), \
		ANY(munmap, "free, teardown"), ANY(brk, "malloc")

/* Opening a file after a thread's filter is on is never volt's own doing,
 * but glibc (malloc's heap trimming reads /proc/sys/vm/overcommit_memory),
 * jansson (hash seed from /dev/urandom) and the like may try lazily and cope
 * with a failure. A kill there would let any API client end the VM; EACCES
 * gives nothing either (no descriptor; Landlock would refuse the path too).
 * The kernel still logs each refusal (SECCOMP_FILTER_FLAG_LOG). Lazy library
 * state is also initialised before the filters go on (seccomp.c). */
#define OPEN_RULES                                                                              \
	REFUSE(open, "libraries' lazy file reads (glibc malloc trim, jansson seed)"),           \
		REFUSE(openat, "libraries' lazy file reads (glibc malloc trim, jansson seed)"), \
		REFUSE(openat2, "never used; refused like openat")

/* The main thread creates snapshot files and opens a drive's new file
 * (vmm_rules): openat is allowed there with O_CREAT|O_EXCL, O_DIRECTORY or
 * O_NOCTTY (open_input()'s mark; libraries do not use it), and refused as
 * above with none of them (the conditions do not overlap, so no two rules
 * disagree). */
#define VMM_OPEN_RULES                                                                \
	REFUSE(open, "libraries' lazy file reads (glibc malloc trim, jansson seed)"), \
		{ SCMP_SYS(openat),                                                   \
		  "openat",                                                           \
		  1,                                                                  \
		  { CONDT(2, SC_CLEAR, O_CREAT | O_DIRECTORY | O_NOCTTY,              \
			  "O_CREAT|O_DIRECTORY|O_NOCTTY") },                          \
		  "libraries' lazy file reads (glibc malloc trim, jansson seed)",     \
		  EACCES },                                                           \
		REFUSE(openat2, "never used; refused like openat")

/* Mutexes and condition variables (private), pthread_join (shared). */
#define FUTEX_RULES                                                        \
	FUTEX(FUTEX_WAIT_PRIVATE, "mutexes"),                              \
		FUTEX(FUTEX_WAKE_PRIVATE, "mutexes, condition variables"), \
		FUTEX(FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, "pthread_cond_wait")

/* pthread_kill(): SIGUSR1 only, and only to this process. */
#define KICK_RULES                                                       \
	IF(tgkill, "vCPU kicks (pthread_kill)", COND(0, SC_SELF_PID, 0), \
	   COND(2, SC_EQ32, SIGUSR1)),                                   \
		ANY(getpid, "pthread_kill"),                             \
		ANY(rt_sigprocmask, "pthread_kill and thread exit block signals for a while")

/* The end of a thread: glibc gives back its stack, then exits. */
#define THREAD_EXIT_RULES                                                      \
	IF(madvise, "thread exit (its stack), free(); vmm: balloon inflation", \
	   COND(2, SC_EQ32, MADV_DONTNEED)),                                   \
		ANY(exit, "thread exit")

static const struct sc_rule vmm_rules[] = {
	/* The device thread's loop and the main thread's. */
	ANY(epoll_wait, "device thread: its event loop"),
	ANY(epoll_ctl, "device thread: sources come and go (vsock connections, TAP)"),
	ANY(poll, "main thread: console, signals, stop, API; virtio-vsock: did the peer hang up"),
	ANY(read, "eventfds, timerfds, signalfd, console, TAP"),
	ANY(write, "eventfds, console, log lines, TAP"),
	ANY(close, "vsock connections end; teardown"),
	/* virtio-blk */
	ANY(preadv, "virtio-blk, sync engine"),
	ANY(pwritev, "virtio-blk, sync engine"),
	ANY(pwrite64, "virtio-blk, sync engine: WRITE_ZEROES without fallocate"),
	ANY(fallocate, "virtio-blk: DISCARD and WRITE_ZEROES"),
	ANY(fdatasync, "virtio-blk, sync engine: FLUSH"),
	ANY(io_uring_enter, "virtio-blk, io_uring engine"),
	/* virtio-net */
	ANY(writev, "virtio-net: frames to the TAP"),
	IOCTL(TUNSETOFFLOAD, "virtio-net: offloads follow the guest's features"),
	/* virtio-pmem */
	ANY(msync, "virtio-pmem: FLUSH"),
	/* virtio-mem: a slot of hotpluggable memory given to KVM or taken back
	 * (its unplugged blocks then go back as the balloon's pages: guest_mem_discard) */
	IOCTL(KVM_SET_USER_MEMORY_REGION,
	      "hotpluggable memory (virtio-mem): a slot given to KVM or taken back"),
	/* virtio-rng */
	IF(getrandom, "virtio-rng", COND(2, SC_EQ32, 0)),
	/* virtio-vsock: connections to and from the host's Unix sockets */
	IF(accept4, "virtio-vsock: host-initiated connections",
	   COND(3, SC_EQ32, SOCK_NONBLOCK | SOCK_CLOEXEC)),
	IF(socket, "virtio-vsock: guest-initiated connections", COND(0, SC_EQ32, AF_UNIX),
	   COND(1, SC_EQ32, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC), COND(2, SC_EQ32, 0)),
	ANY(connect, "virtio-vsock: guest-initiated connections"),
	ANY(sendto, "virtio-vsock: send()"),
	ANY(recvfrom, "virtio-vsock: recv()"),
	ANY(sendmsg, "virtio-vsock: data from the guest"),
	ANY(recvmsg, "virtio-vsock: data to the guest"),
	IF(shutdown, "virtio-vsock: the guest stops sending", COND(1, SC_EQ32, SHUT_WR)),
	ANY(timerfd_settime, "virtio-vsock and virtio-balloon timers, rate limiters"),
	ANY(unlink, "teardown: virtio-vsock and the API remove their sockets"),
	IF(newfstatat, "teardown: virtio-vsock checks the socket path is still its own",
	   COND(3, SC_EQ32, 0)),
	/* interrupts and vCPU state */
	IOCTL(KVM_IRQ_LINE, "serial interrupts (console input)"),
	IOCTL(KVM_GET_REGS, "why a VM stopped (debug log)"),
	IOCTL(KVM_GET_SREGS, "why a VM stopped (debug log)"),
	IOCTL(KVM_GET_MP_STATE, "why a VM stopped (debug log)"),
	/* Snapshots (PUT /snapshot/create, the guest kit's) on the main thread of
	 * a paused VM: the KVM state, then the memory and state files, created
	 * under new names (O_EXCL) where Landlock lets them be (--snapshot-dir),
	 * fsync'd and renamed into place; docs/snapshots.md. */
	IOCTL(KVM_CHECK_EXTENSION, "snapshot state: which records KVM offers (SREGS2, XSAVE2)"),
	IOCTL(KVM_GET_MSR_INDEX_LIST, "snapshot state: the MSRs KVM saves"),
	IOCTL(KVM_GET_SREGS2, "snapshot state"),
	IOCTL(KVM_GET_FPU, "snapshot state"),
	IOCTL(KVM_GET_XSAVE, "snapshot state"),
	IOCTL(KVM_GET_XSAVE2, "snapshot state"),
	IOCTL(KVM_GET_XCRS, "snapshot state"),
	IOCTL(KVM_GET_MSRS, "snapshot state"),
	IOCTL(KVM_GET_LAPIC, "snapshot state"),
	IOCTL(KVM_GET_DEBUGREGS, "snapshot state"),
	IOCTL(KVM_GET_VCPU_EVENTS, "snapshot state"),
	IOCTL(KVM_GET_CPUID2, "snapshot state"),
	IOCTL(KVM_GET_TSC_KHZ, "snapshot state"),
	IOCTL(KVM_GET_IRQCHIP, "snapshot state"),
	IOCTL(KVM_GET_PIT2, "snapshot state"),
	IOCTL(KVM_GET_CLOCK, "snapshot state"),
	IOCTL(KVM_GET_DIRTY_LOG, "the dirty page log of guest_mem (Diff snapshots)"),
	IF(openat, "staged file (a snapshot's memory and state files): created under a new name",
	   COND(2, SC_SET, O_CREAT | O_EXCL)),
	IF(openat, "staged file (memory and state files): their directory, for fsync",
	   COND(2, SC_SET, O_DIRECTORY)),
	IF(getrandom, "staged file (memory and state files): mkostemp's names",
	   COND(2, SC_EQ32, GRND_NONBLOCK)),
	ANY(ftruncate, "memory file: its size (holes); metrics: a line a full disk cut short is "
		       "taken back"),
	IF(lseek, "memory file: a Diff merged onto the file there: its data (SEEK_DATA)",
	   COND(2, SC_EQ32, SEEK_DATA)),
	IF(lseek, "memory file: a Diff merged onto the file there: its holes (SEEK_HOLE)",
	   COND(2, SC_EQ32, SEEK_HOLE)),
	ANY(fsync, "memory file and state file: on disk before the rename"),
	ANY(rename, "staged file (memory and state files): renamed into place where the file "
		    "system has no renameat2 flags"),
	IF(renameat2, "staged file (memory and state files): into place where there was no file",
	   COND(4, SC_EQ32, RENAME_NOREPLACE)),
	IF(renameat2,
	   "staged file (memory and state files): swapped with the old one, which goes back if "
	   "the other file fails",
	   COND(4, SC_EQ32, RENAME_EXCHANGE)),
	/* PATCH /drives/{id} path_on_host: a drive's new file, opened as
	 * open_input() opens every input (where Landlock lets it: the jail,
	 * --snapshot-dir). */
	IF(openat, "a drive's new file (PATCH /drives): open_input() marks its opens O_NOCTTY",
	   COND(2, SC_SET, O_NOCTTY)),
	IF(newfstatat, "a drive's new file: fstat of what was opened",
	   COND(3, SC_EQ32, AT_EMPTY_PATH)),
	IF(fcntl, "a drive's new file: reads that wait (O_NONBLOCK cleared)",
	   COND(1, SC_EQ32, F_GETFL)),
	IF(fcntl, "a drive's new file: reads that wait (O_NONBLOCK cleared)",
	   COND(1, SC_EQ32, F_SETFL)),
	IOCTL(BLKGETSIZE64, "virtio-blk: a new file's size when it is a disk (PATCH /drives)"),
	IOCTL(BLKROGET, "virtio-blk: whether a new disk is read-only (PATCH /drives)"),
	ANY(mincore, "memory file: guest pages never touched are not read"),
	IOCTL(TCSETS, "the terminal's settings come back at exit"),
	IOCTL(TCGETS, "the terminal's settings come back at exit (glibc checks them)"),
	/* A metrics line longer than PIPE_BUF goes to a FIFO only when it fits. */
	IF(fcntl, "metrics to a FIFO: its size", COND(1, SC_EQ32, F_GETPIPE_SZ)),
	IOCTL(FIONREAD, "metrics to a FIFO: what it holds"),
	ANY(clock_gettime, "vsock timers, log times (when the vDSO cannot)"),
	ANY(rt_sigreturn, "signal handlers return on the main thread and the device thread: "
			  "SIGPIPE, signal 35, a fatal signal handed to the main thread"),
	MALLOC_RULES,
	VMM_OPEN_RULES,
	FUTEX_RULES,
	FUTEX(FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, "pthread_join"),
	KICK_RULES,
	THREAD_EXIT_RULES,
	ANY(exit_group, "the end of volt"),
};

static const struct sc_rule vcpu_rules[] = {
	IOCTL(KVM_RUN, "runs the guest"),
	IOCTL(KVM_GET_REGS, "PVM hosts: int3 and fwait the emulator cannot run; vCPU RIP samples"),
	IOCTL(KVM_SET_REGS, "PVM hosts: int3 and fwait"),
	IOCTL(KVM_GET_SREGS, "PVM hosts: int3 and fwait; vCPU samples (CPL 3 is [user])"),
	IOCTL(KVM_TRANSLATE, "PVM hosts: the failing instruction's bytes"),
	IOCTL(KVM_GET_VCPU_EVENTS, "PVM hosts: int3 reflected as #BP"),
	IOCTL(KVM_SET_VCPU_EVENTS, "PVM hosts: int3 reflected as #BP"),
	IOCTL(KVM_IRQ_LINE, "serial interrupts"),
	IOCTL(KVM_KVMCLOCK_CTRL, "pause: the guest's kvmclock learns it was stopped"),
	IOCTL(TUNSETOFFLOAD, "virtio-net: offloads follow the guest's features (MMIO)"),
	ANY(write, "serial output, eventfds (interrupts, stop), log lines"),
	ANY(read, "virtio-net: a queue the driver enables is filled from the TAP at once"),
	ANY(epoll_ctl, "virtio devices (de)activated by MMIO writes"),
	ANY(close, "virtio-vsock: a device reset closes every connection"),
	ANY(timerfd_settime, "virtio-vsock: a device reset re-arms its timer"),
	ANY(clock_gettime, "--boot-timer (CPU time has no vDSO)"),
	ANY(rt_sigreturn,
	    "the kick signal's handler returns, and the vCPU's sampling timer's (profiling)"),
	ANY(timer_delete, "--profile: the vCPU thread's sampling timer ends with it"),
	ANY(gettid, "vm_stop() kicks its own thread too"),
	ANY(exit_group, "fatal signals: a fault of volt's own ends it with Firecracker's code"),
	IOCTL(TCSETS, "the terminal's settings come back when a fault ends volt"),
	MALLOC_RULES,
	OPEN_RULES,
	FUTEX_RULES,
	KICK_RULES,
	THREAD_EXIT_RULES,
};

static const struct sc_rule api_rules[] = {
	/* volt's own HTTP server on the API's Unix socket (api/http_server.c). */
	ANY(poll, "the HTTP server waits (connections, idle timeouts)"),
	IF(accept4, "API connections", COND(3, SC_EQ32, SOCK_NONBLOCK | SOCK_CLOEXEC)),
	IF(getsockopt,
	   "a connection's client process: one client's connections cannot keep "
	   "the others out",
	   COND(1, SC_EQ32, SOL_SOCKET), COND(2, SC_EQ32, SO_PEERCRED)),
	ANY(recvfrom, "requests"),
	ANY(sendto, "responses"),
	ANY(close, "connections end (idle, evicted, answered with Connection: close)"),
	ANY(write, "requests handed to the main thread (eventfd), log lines"),
	ANY(clock_gettime, "connection idle timeouts (when the vDSO cannot)"),
	ANY(rt_sigreturn, "signal handlers return on the HTTP server's thread too: SIGPIPE, "
			  "signal 35, a fatal signal handed to the main thread"),
	ANY(exit_group, "fatal signals: a fault of volt's own ends it with Firecracker's code"),
	IOCTL(TCSETS, "the terminal's settings come back when a fault ends volt"),
	MALLOC_RULES,
	OPEN_RULES,
	FUTEX_RULES,
	ANY(rt_sigprocmask, "thread exit"),
	THREAD_EXIT_RULES,
};

/* ---- sanitizer build only (meson -Dsanitizers=true) ----------------------
 * What the ASan, LSan and UBSan runtimes do behind the filters, added to every
 * thread's list in that build alone, so that it runs with the same filters in
 * kill mode as the shipped build (which has none of these). A report may come
 * from any thread, so one list serves all. docs/security.md, "Sanitizer
 * builds", says more. */
#ifdef VOLT_SANITIZERS
static const struct sc_rule sanitizer_rules[] = {
	IF(madvise, "ASan: a thread's exit gives back its stack's shadow memory",
	   COND(2, SC_EQ32, MADV_NOHUGEPAGE)),
	IF(madvise, "ASan: a thread's exit keeps its stack's shadow out of core dumps",
	   COND(2, SC_EQ32, MADV_DONTDUMP)),
	ANY(gettid, "ASan: a thread's exit; reports name the thread"),
	ANY(getpid, "ASan: a thread's exit; reports begin with ==PID=="),
	IOCTL(TCGETS, "ASan, UBSan: is stderr a terminal (report colours)"),
	ANY(exit_group, "ASan, UBSan: a report ends volt from the thread that found the bug"),
	ANY(read, "clang's ASan: llvm-symbolizer's answers (a pipe, made before the sandbox)"),
};

const struct sc_list sc_sanitizer_list = { "sanitizers", "every thread, sanitizer builds only",
					   sanitizer_rules,
					   sizeof(sanitizer_rules) / sizeof(sanitizer_rules[0]) };
#else
const struct sc_list sc_sanitizer_list = { "sanitizers", "none in this build", NULL, 0 };
#endif
/* ---- end of the sanitizer build's rules ---------------------------------- */

#define LIST(n, t, r)                             \
	{                                         \
		n, t, r, sizeof(r) / sizeof(r[0]) \
	}

const struct sc_list sc_lists[SANDBOX_THREAD_COUNT] = {
	[SANDBOX_THREAD_VMM] = LIST("vmm", "main thread, device thread", vmm_rules),
	[SANDBOX_THREAD_VCPU] = LIST("vcpu", "each vCPU thread", vcpu_rules),
	[SANDBOX_THREAD_API] = LIST("api", "HTTP API server thread", api_rules),
};
