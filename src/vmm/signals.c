/* Fatal signals, SIGPIPE and signal 35 as Firecracker handles them; see
 * signals.h for what runs in the handler and what on the main thread. */
#include "vmm/signals.h"

#include "core/metrics.h"
#include "util/fault_files.h"
#include "util/log.h"
#include "vmm/console.h"

#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

/* siginfo's si_code of a seccomp trap (SYS_SECCOMP in the kernel's uapi). */
#define SIGNALS_SYS_SECCOMP 1

/* FcExitCode (Firecracker's src/vmm/src/lib.rs). */
enum {
	FC_UNEXPECTED_ERROR = 2,
	FC_BAD_SYSCALL = 148,
	FC_SIGBUS = 149,
	FC_SIGSEGV = 150,
	FC_SIGXFSZ = 151,
	FC_SIGXCPU = 154,
	FC_SIGILL = 157,
};

static const int fatal[] = { SIGBUS, SIGSEGV, SIGXFSZ, SIGXCPU, SIGILL, SIGSYS };

static _Atomic int wake_fd = -1;
/* The first fatal signal: its si_code << 32 | its number (0: none yet), one
 * word so that the main thread never reads half of it. Later ones only
 * count. */
static _Atomic uint64_t pending;
/* SIGPIPEs not logged yet, and the last one's si_code. */
static _Atomic unsigned int pipes_unlogged;
static _Atomic int pipe_code;
/* signals_take() is writing its SIGPIPE lines on this thread: a SIGPIPE
 * they raise (the log, or stderr, is a pipe nobody reads) is counted, not
 * logged, or each line would bring the next one for ever. */
static __thread volatile sig_atomic_t logging_pipes;
/* The handlers these replaced (the sanitizers' for SIGSEGV and SIGBUS): a
 * fault of volt's own goes on to them. Written before the handlers are on. */
static struct sigaction previous[NSIG];
/* The thread that installed the handlers: the one that polls signals_fd(). */
static __thread bool main_thread;
/* The system call a seccomp trap stopped on another thread (-1: none). */
static _Atomic int trapped_nr = -1;
/* What a trapped thread waits on: never woken. */
static int parked;

int signals_exit_code(int signo, int code)
{
	switch (signo) {
	case SIGBUS:
		return FC_SIGBUS;
	case SIGSEGV:
		return FC_SIGSEGV;
	case SIGXFSZ:
		return FC_SIGXFSZ;
	case SIGXCPU:
		return FC_SIGXCPU;
	case SIGILL:
		return FC_SIGILL;
	case SIGSYS:
		/* Firecracker's log_sigsys_err(): only a trap is a bad syscall. */
		return code == SIGNALS_SYS_SECCOMP ? FC_BAD_SYSCALL : FC_UNEXPECTED_ERROR;
	default:
		return 0;
	}
}

bool signals_is_fault(int signo, int code)
{
	/* si_code > 0: raised by the kernel for this thread's instruction
	 * (SI_KERNEL too: a general protection fault's SIGSEGV); <= 0: sent
	 * by a process (SI_USER, SI_TKILL, SI_QUEUE). */
	switch (signo) {
	case SIGSEGV:
	case SIGBUS:
	case SIGILL:
	case SIGFPE:
		return code > 0;
	case SIGSYS:
		return code == SIGNALS_SYS_SECCOMP;
	default:
		return false;
	}
}

static char *put(char *p, char *end, const char *s)
{
	while (*s && p < end)
		*p++ = *s++;
	return p;
}

static char *put_int(char *p, char *end, int v)
{
	unsigned int u = v < 0 ? 0u - (unsigned int)v : (unsigned int)v;
	char tmp[12];
	int n = 0;

	if (v < 0 && p < end)
		*p++ = '-';
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (n && p < end)
		*p++ = tmp[--n];
	return p;
}

size_t signals_format_shutdown(char *buf, size_t size, int signo, int code)
{
	char *p = buf, *end;

	if (!size)
		return 0;
	end = buf + size - 1;
	p = put(p, end, "Shutting down VM after intercepting signal ");
	p = put_int(p, end, signo);
	p = put(p, end, ", code ");
	p = put_int(p, end, code);
	p = put(p, end, ".");
	*p = '\0';
	return (size_t)(p - buf);
}

static void wake_main(void)
{
	uint64_t one = 1;
	int fd = atomic_load(&wake_fd);

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* eventfd full (2^64 - 2 wakes): already readable */
	}
}

static void set_metric(int signo)
{
	switch (signo) {
	case SIGBUS:
		METRICS_SET(signals.sigbus, 1);
		break;
	case SIGSEGV:
		METRICS_SET(signals.sigsegv, 1);
		break;
	case SIGXFSZ:
		METRICS_SET(signals.sigxfsz, 1);
		break;
	case SIGXCPU:
		METRICS_SET(signals.sigxcpu, 1);
		break;
	case SIGILL:
		METRICS_SET(signals.sigill, 1);
		break;
	case SIGSYS: /* Firecracker's sigsys_handler stores this one */
		METRICS_SET(seccomp.num_faults, 1);
		break;
	default:
		break;
	}
}

/* A fault in a mapped file's pages (util/fault_files.h): the file is named,
 * with what makes that happen. Stores and one write(2) only. */
static void note_fault_file(int signo, const siginfo_t *si)
{
	static const char pre[] = "the fault hit the memory mapped from '";
	const char *path =
		signo == SIGBUS || signo == SIGSEGV ? fault_files_hit(si->si_addr) : NULL;
	static const char post[] = "': the file was cut (or changed) on the host while the VM "
				   "used it";
	char line[sizeof(pre) + 256 + sizeof(post)], *p = line;
	size_t n;

	if (!path)
		return;
	for (n = 0; pre[n]; n++)
		*p++ = pre[n];
	for (n = 0; n < 256 && path[n]; n++) /* a long path's start */
		*p++ = path[n];
	for (n = 0; post[n]; n++)
		*p++ = post[n];
	*p = '\0';
	log_error_signal_safe(line);
}

/* Firecracker's second line for a seccomp trap (its log_sigsys_err()). */
static void log_bad_syscall(int nr)
{
	char line[80], *p = line, *end = line + sizeof(line) - 1;

	p = put(p, end, "Shutting down VM after intercepting a bad syscall (");
	p = put_int(p, end, nr);
	p = put(p, end, ").");
	*p = '\0';
	log_error_signal_safe(line);
}

/* The thread cannot go on: log with write(2), then the previous handler
 * (a sanitizer's report) or the exit code. Never returns to the fault. */
static void end_now(int signo, siginfo_t *si, void *uc)
{
	const struct sigaction *prev = &previous[signo];
	char line[128];

	signals_format_shutdown(line, sizeof(line), signo, si->si_code);
	log_error_signal_safe(line);
	note_fault_file(signo, si);
	fault_files_remove_temps();
	if (prev->sa_flags & SA_SIGINFO) {
		if (prev->sa_sigaction)
			prev->sa_sigaction(signo, si, uc);
	} else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
		prev->sa_handler(signo);
	}
	console_restore(); /* tcsetattr: async-signal-safe */
	_exit(signals_exit_code(signo, si->si_code));
}

/* Whether a thread stopped in the system call nr may hold malloc's lock,
 * which rendering a metrics line takes. */
static bool in_malloc(int nr)
{
	return nr == SYS_brk || nr == SYS_mmap || nr == SYS_munmap || nr == SYS_mremap ||
	       nr == SYS_madvise || nr == SYS_mprotect;
}

/* A seccomp trap stopped a thread in the system call nr: Firecracker's
 * handler (its two lines, the metrics line, exit code 148), from the main
 * thread, either in its own handler or for another thread that waits in its
 * handler for good. Nothing that would wait for a trapped thread (a vCPU's
 * or the device thread's end, a lock it may hold) runs. */
static void end_trapped(int signo, int code, int nr)
{
	char line[128];

	signals_format_shutdown(line, sizeof(line), signo, code);
	log_error_signal_safe(line);
	log_bad_syscall(nr);
	if (!in_malloc(nr))
		metrics_flush_unless_busy();
	fault_files_remove_temps();
	console_restore();
	/* exit_group itself, not _exit(): a sanitizer build's no-return hook
	 * makes a call (sigaltstack) that no list allows. */
	for (;;)
		syscall(SYS_exit_group, signals_exit_code(signo, code));
}

static void on_fatal(int signo, siginfo_t *si, void *uc)
{
	uint64_t none = 0;
	int saved = errno;

	set_metric(signo);
	if (signo == SIGSYS && si->si_code == SIGNALS_SYS_SECCOMP && !main_thread) {
		/* A trap (a --seccomp-filter rule) left this thread's state
		 * whole: the main thread writes the lines and the metrics and
		 * ends volt (signals_take()); this one waits for that, as the
		 * system call it stopped on cannot be made. */
		atomic_store(&trapped_nr, si->si_syscall);
		atomic_compare_exchange_strong(
			&pending, &none, (uint64_t)(uint32_t)si->si_code << 32 | (uint32_t)signo);
		wake_main();
		/* For good, with the one call every thread's list allows for
		 * waiting (a private futex wait; pause() is on none). Inline
		 * and no noreturn call: see end_trapped(). */
		for (;;)
			syscall(SYS_futex, &parked, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	}
	if (signo == SIGSYS && si->si_code == SIGNALS_SYS_SECCOMP)
		end_trapped(signo, si->si_code, si->si_syscall);
	if (signals_is_fault(signo, si->si_code))
		end_now(signo, si, uc);
	atomic_compare_exchange_strong(&pending, &none,
				       (uint64_t)(uint32_t)si->si_code << 32 | (uint32_t)signo);
	wake_main();
	errno = saved;
}

static void on_pipe(int signo, siginfo_t *si, void *uc)
{
	int saved = errno;

	(void)signo;
	(void)uc;
	METRICS_INC(signals.sigpipe);
	if (logging_pipes) {
		errno = saved;
		return;
	}
	atomic_store(&pipe_code, si->si_code);
	atomic_fetch_add(&pipes_unlogged, 1);
	wake_main();
	errno = saved;
}

static void on_kick(int signo)
{
	(void)signo; /* Firecracker's vCPU kick: nothing to do outside KVM_RUN */
}

int signals_install(void)
{
	static bool installed;
	struct sigaction sa;
	size_t i;
	int fd;

	if (installed)
		return 0;
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0) {
		int err = -errno;

		signal(SIGPIPE, SIG_IGN); /* at least no write ends volt */
		return err;
	}
	atomic_store(&wake_fd, fd);
	main_thread = true;
	memset(&sa, 0, sizeof(sa));
	/* One fatal handler at a time; restarted calls keep EINTR where
	 * Firecracker's would not see it. */
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaddset(&sa.sa_mask, fatal[i]);
	/* SA_ONSTACK: a stack overflow's SIGSEGV can be handled only on the
	 * thread's alternate stack, where there is one (the sanitizers' report
	 * it); without one the handler runs on the thread's own stack. */
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sa.sa_sigaction = on_fatal;
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaction(fatal[i], &sa, &previous[fatal[i]]);
	sa.sa_sigaction = on_pipe;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_kick;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGNALS_FC_KICK, &sa, NULL);
	installed = true;
	return 0;
}

int signals_fd(void)
{
	return atomic_load(&wake_fd);
}

int signals_take(int *signo, int *code)
{
	unsigned int pipes;
	uint64_t n, first;
	int fd = atomic_load(&wake_fd);

	if (fd >= 0 && read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing new, or another call took it */
	}
	pipes = atomic_exchange(&pipes_unlogged, 0);
	logging_pipes = 1;
	while (pipes--)
		pr_err("Received signal %d, code %d.", SIGPIPE, atomic_load(&pipe_code));
	logging_pipes = 0;
	first = atomic_load(&pending);
	if (!first)
		return 0;
	*signo = (int)(uint32_t)first;
	*code = (int)(uint32_t)(first >> 32);
	if (atomic_load(&trapped_nr) >= 0)
		end_trapped(*signo, *code, atomic_load(&trapped_nr));
	return signals_exit_code(*signo, *code);
}
