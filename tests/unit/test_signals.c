/* vmm/signals.c: Firecracker's exit codes, which signals are faults, the
 * log line formatted without stdio; a fault of volt's own (a real SIGSEGV in
 * a child) logs and exits with 150 once, a kill-sent one is handed to the
 * main thread; SIGPIPE and signal 35 do not end the process. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/metrics.h"
#include "util/fault_files.h"
#include "util/log.h"
#include "vmm/signals.h"

TestSuite(signals, .timeout = 30);

Test(signals, firecracker_exit_codes)
{
	cr_assert_eq(signals_exit_code(SIGBUS, 0), 149);
	cr_assert_eq(signals_exit_code(SIGSEGV, 0), 150);
	cr_assert_eq(signals_exit_code(SIGXFSZ, 0), 151);
	cr_assert_eq(signals_exit_code(SIGXCPU, 0x80), 154);
	cr_assert_eq(signals_exit_code(SIGILL, 0), 157);
	cr_assert_eq(signals_exit_code(SIGSYS, 1), 148); /* a seccomp trap */
	cr_assert_eq(signals_exit_code(SIGSYS, 0), 2);	 /* kill: UnexpectedError */
	cr_assert_eq(signals_exit_code(SIGPIPE, 0), 0);
	cr_assert_eq(signals_exit_code(SIGTERM, 0), 0);
}

Test(signals, faults_are_the_kernels_own)
{
	cr_assert(signals_is_fault(SIGSEGV, SEGV_MAPERR));
	cr_assert(signals_is_fault(SIGSEGV, 0x80)); /* SI_KERNEL: a general protection fault */
	cr_assert(signals_is_fault(SIGBUS, BUS_ADRERR));
	cr_assert(signals_is_fault(SIGILL, ILL_ILLOPC));
	cr_assert(signals_is_fault(SIGSYS, 1));
	cr_assert_not(signals_is_fault(SIGSEGV, SI_USER));
	cr_assert_not(signals_is_fault(SIGSEGV, SI_TKILL));
	cr_assert_not(signals_is_fault(SIGBUS, SI_QUEUE));
	cr_assert_not(signals_is_fault(SIGSYS, SI_USER));
	cr_assert_not(signals_is_fault(SIGXFSZ, SI_USER));
	cr_assert_not(signals_is_fault(SIGXCPU, 0x80));
}

Test(signals, shutdown_line)
{
	char buf[128], small[20];

	cr_assert_eq(signals_format_shutdown(buf, sizeof(buf), 7, 0), strlen(buf));
	cr_assert_str_eq(buf, "Shutting down VM after intercepting signal 7, code 0.");
	signals_format_shutdown(buf, sizeof(buf), 11, -6);
	cr_assert_str_eq(buf, "Shutting down VM after intercepting signal 11, code -6.");
	signals_format_shutdown(buf, sizeof(buf), 31, 2147483647);
	cr_assert_str_eq(buf, "Shutting down VM after intercepting signal 31, code 2147483647.");
	signals_format_shutdown(buf, sizeof(buf), 31, -2147483647 - 1);
	cr_assert_str_eq(buf, "Shutting down VM after intercepting signal 31, code -2147483648.");
	cr_assert_eq(signals_format_shutdown(small, sizeof(small), 7, 0), sizeof(small) - 1);
	cr_assert_eq(signals_format_shutdown(small, 0, 7, 0), 0);
}

Test(signals, log_time_without_libc)
{
	static const long long t[] = { 0,	   951782400 /* 2000-02-29 */,
				       1709251199, 4102444800 /* 2100-01-01 */,
				       1798761599, -1 };
	char got[64], want[64];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		time_t s = (time_t)t[i];
		struct tm tm;

		gmtime_r(&s, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
		strcat(want, ".000000042");
		log_format_time_safe(got, sizeof(got), t[i], 42);
		cr_assert_str_eq(got, want, "%lld", t[i]);
	}
}

/* An address the compiler cannot see through. */
static volatile int *volatile bad = (volatile int *)8;

static void sanitizer_like(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	_exit(77);
}

/* The child's wait status, once it has ended; what it wrote into the pipe
 * fds (its stderr) in out. */
static int reap(pid_t pid, int fds[2], char *out, size_t size)
{
	ssize_t n;
	int status;

	close(fds[1]);
	cr_assert_gt(pid, 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	n = read(fds[0], out, size - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	return status;
}

/* A child that faults after signals_install(), with SIGSEGV's handler before
 * it prev (NULL: SIG_DFL; Criterion's own otherwise); its status and what it
 * wrote on stderr. */
static int fault_in_child(void (*prev)(int, siginfo_t *, void *), char *out, size_t size)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	int fds[2];
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	if (!pid) { /* no cr_assert here: it reports to the runner, even passing */
		dup2(fds[1], STDERR_FILENO);
		if (prev) {
			sa.sa_sigaction = prev;
			sa.sa_flags = SA_SIGINFO;
		}
		sigaction(SIGSEGV, &sa, NULL);
		signals_install();
		*bad = 1;
		_exit(0);
	}
	return reap(pid, fds, out, size);
}

/* A fault in the process: one line on stderr, exit 150, no loop. */
Test(signals, a_real_fault_logs_and_exits_150)
{
	char out[512];
	int status = fault_in_child(NULL, out, sizeof(out));

	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 150, "status %#x: %s", status, out);
	cr_assert_str_eq(out,
			 "volt: error: Shutting down VM after intercepting signal 11, code 1.\n");
}

/* The sanitizers' handler was there first: it still reports the fault. */
Test(signals, a_real_fault_goes_on_to_the_previous_handler)
{
	char out[512];
	int status = fault_in_child(sanitizer_like, out, sizeof(out));

	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 77, "status %#x: %s", status, out);
	cr_assert_str_eq(out,
			 "volt: error: Shutting down VM after intercepting signal 11, code 1.\n");
}

/* Sent by a process: counted and handed to whoever polls signals_fd(). */
Test(signals, a_sent_one_is_handed_to_the_main_thread)
{
	struct pollfd p;
	int signo = 0, code = -1;

	cr_assert_eq(signals_install(), 0);
	p = (struct pollfd){ .fd = signals_fd(), .events = POLLIN };
	cr_assert_eq(signals_take(&signo, &code), 0);
	cr_assert_eq(kill(getpid(), SIGPIPE), 0);
	cr_assert_eq(kill(getpid(), 35), 0);
	cr_assert_eq(poll(&p, 1, 5000), 1);
	cr_assert_eq(signals_take(&signo, &code), 0, "SIGPIPE is not fatal");
	cr_assert_eq(volt_metrics.signals.sigpipe, 1);
	cr_assert_eq(kill(getpid(), SIGBUS), 0);
	cr_assert_eq(poll(&p, 1, 5000), 1);
	cr_assert_eq(signals_take(&signo, &code), 149);
	cr_assert_eq(signo, SIGBUS);
	cr_assert_eq(code, SI_USER);
	cr_assert_eq(volt_metrics.signals.sigbus, 1);
	/* A second one changes nothing: the first decides. */
	cr_assert_eq(kill(getpid(), SIGXCPU), 0);
	cr_assert_eq(signals_take(&signo, &code), 149);
	cr_assert_eq(volt_metrics.signals.sigxcpu, 1);
}

/* stderr (where lines go without a log file) a pipe nobody reads, as under
 * `volt ... 2>&1 | head` once head is gone: logging a SIGPIPE raises one
 * more. That one is counted but not logged, or each line would bring the
 * next and the main thread would spin on them for ever. */
Test(signals, a_pipe_raised_by_logging_a_pipe_is_not_logged_again)
{
	struct pollfd p;
	int fds[2], saved, signo = 0, code = -1;

	cr_assert_eq(signals_install(), 0);
	cr_assert_eq(pipe(fds), 0);
	close(fds[0]);
	saved = dup(STDERR_FILENO);
	cr_assert_geq(saved, 0);
	dup2(fds[1], STDERR_FILENO);
	close(fds[1]);
	p = (struct pollfd){ .fd = signals_fd(), .events = POLLIN };
	signals_take(&signo, &code);
	cr_assert_eq(kill(getpid(), SIGPIPE), 0);
	cr_assert_eq(poll(&p, 1, 5000), 1);
	cr_assert_eq(signals_take(&signo, &code), 0);
	p.revents = 0;
	int again = poll(&p, 1, 0);
	dup2(saved, STDERR_FILENO);
	close(saved);
	cr_assert_eq(again, 0, "the line's own SIGPIPE woke the main thread again");
	cr_assert_eq(volt_metrics.signals.sigpipe, 2, "both counted");
}

/* Always true, as far as the compiler can tell: the recursion has an end. */
static volatile int go_on = 1;

static int deeper(volatile char *above)
{
	volatile char frame[4096];

	frame[0] = above ? above[0] : 1;
	return go_on ? deeper(frame) + frame[0] : 0;
}

/* A stack overflow: the handler can run only on the thread's alternate
 * stack (the sanitizers set one up to report it), so it must ask for it. */
Test(signals, a_stack_overflow_reaches_the_previous_handler)
{
	static char alt[1 << 16];
	struct sigaction sa = { .sa_sigaction = sanitizer_like,
				.sa_flags = SA_SIGINFO | SA_ONSTACK };
	stack_t ss = { .ss_sp = alt, .ss_size = sizeof(alt) };
	int fds[2], status;
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	if (!pid) {
		struct rlimit rl = { 1 << 20, 1 << 20 };

		dup2(fds[1], STDERR_FILENO);
		setrlimit(RLIMIT_STACK, &rl);
		sigaltstack(&ss, NULL);
		sigaction(SIGSEGV, &sa, NULL);
		signals_install();
		_exit(deeper(NULL));
	}
	close(fds[1]);
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 77, "status %#x", status);
}

/* A snapshot's memory file cut on the host under the VM that maps it: the
 * fault's lines name it, and the temporary files a snapshot was writing are
 * removed before volt ends (SIGBUS, Firecracker's 149). */
Test(signals, a_cut_memory_file_is_named_and_temporary_files_go)
{
	char dir[] = "/tmp/volt-test-sigbus.XXXXXX", mem[64], tmp[64], out[1024];
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	int fds[2], status, fd;
	ssize_t n;
	pid_t pid;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(mem, sizeof(mem), "%s/mem", dir);
	snprintf(tmp, sizeof(tmp), "%s/mem.tmp-x", dir);
	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	if (!pid) {
		volatile char *base;

		dup2(fds[1], STDERR_FILENO);
		sigaction(SIGBUS, &dfl, NULL); /* not the sanitizers': volt's own end */
		fd = open(mem, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 || ftruncate(fd, 8192))
			_exit(1);
		base = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
		if (base == MAP_FAILED || close(open(tmp, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)))
			_exit(2);
		fault_files_mapped((const void *)base, 8192, mem);
		fault_files_temp_add(tmp);
		signals_install();
		if (ftruncate(fd, 0))
			_exit(3);
		(void)base[4096];
		_exit(0);
	}
	close(fds[1]);
	cr_assert_gt(pid, 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	n = read(fds[0], out, sizeof(out) - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 149, "status %#x: %s", status, out);
	cr_assert(strstr(out, "signal 7, code 2."), "%s", out);
	cr_assert(strstr(out, "the fault hit the memory mapped from '"), "%s", out);
	cr_assert(strstr(out, mem), "%s", out);
	cr_assert_eq(access(tmp, F_OK), -1, "the temporary file stayed");
	unlink(mem);
	rmdir(dir);
}

/* A seccomp trap on getppid, then the call, on this thread (NO_NEW_PRIVS
 * first: no privilege needed). */
static void trap_getppid(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		_exit(99);
	syscall(SYS_getppid);
	_exit(98); /* not reached: the trap ends the process */
}

static void *trapped_thread(void *arg)
{
	(void)arg;
	trap_getppid();
	return NULL;
}

/* A child whose main thread (or another one) is trapped; its status, its
 * stderr, the metrics file's last line. */
static int trap_in_child(bool other_thread, char *out, size_t size, char *metrics, size_t msize)
{
	char path[] = "/tmp/volt-trap-metrics-XXXXXX";
	int fds[2], status, mfd = mkstemp(path);
	ssize_t n;
	pid_t pid;

	cr_assert_geq(mfd, 0);
	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	if (!pid) {
		pthread_t t;
		int signo, code;

		dup2(fds[1], STDERR_FILENO);
		if (signals_install() || metrics_open(path))
			_exit(97);
		if (!other_thread)
			trap_getppid();
		if (pthread_create(&t, NULL, trapped_thread, NULL))
			_exit(96);
		for (;;) { /* the main thread's loop, as vm_serve()'s */
			struct pollfd p = { .fd = signals_fd(), .events = POLLIN };

			if (poll(&p, 1, 10000) != 1)
				_exit(95);
			signals_take(&signo, &code);
		}
	}
	status = reap(pid, fds, out, size);
	n = pread(mfd, metrics, msize - 1, 0);
	metrics[n > 0 ? n : 0] = '\0';
	close(mfd);
	unlink(path);
	return status;
}

#define TRAP_LINES                                                              \
	"volt: error: Shutting down VM after intercepting signal 31, code 1.\n" \
	"volt: error: Shutting down VM after intercepting a bad syscall (110).\n"

/* Firecracker's test_failing_filter: the lines, seccomp.num_faults 1 in the
 * metrics line, exit code 148; on the main thread and on another one (which
 * waits while the main thread ends volt). */
Test(signals, a_seccomp_trap_ends_volt_as_firecracker)
{
	char out[512], metrics[16384];

	int i;

	for (i = 0; i < 2; i++) {
		int status = trap_in_child(i == 1, out, sizeof(out), metrics, sizeof(metrics));

		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 148, "status %#x: %s", status,
			  out);
		cr_assert_str_eq(out, TRAP_LINES);
		cr_assert(strstr(metrics, "\"seccomp\":{\"num_faults\":1}"), "%s", metrics);
	}
}
