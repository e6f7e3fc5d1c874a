/* The VMM's signals, as Firecracker handles them (its vmm/signal_handler.rs)
 * for SIGBUS, SIGSEGV, SIGXFSZ, SIGXCPU, SIGILL, SIGSYS and SIGPIPE, plus
 * signal 35 (musl's SIGRTMIN, Firecracker's vCPU kick, handled process-wide
 * there, so a no-op here too). SIGHUP, SIGINT, SIGTERM and SIGQUIT are not
 * here: they are blocked and read from the main thread's signalfd (vm.h).
 *
 * Each fatal signal sets its metric (signals.<name>; seccomp.num_faults for
 * SIGSYS) and ends volt with Firecracker's exit code (FcExitCode), after the
 * log line "Shutting down VM after intercepting signal N, code C.":
 * - sent by a process (kill: si_code <= 0), or SIGXFSZ / SIGXCPU, after
 *   which the thread can go on: the handler only records it and wakes the
 *   main thread through signals_fd(); the main thread logs, stops the VM,
 *   writes the last metrics line and exits (signals_take()). Nothing in the
 *   handler but atomics and write(2).
 * - a fault of volt's own (SIGSEGV, SIGBUS, SIGILL, SIGFPE raised by the
 *   kernel): the thread cannot go on. The handler writes the
 *   log line with write(2) from a buffer it formats itself (no stdio, no
 *   malloc, no lock), then hands over to the handler that was there before
 *   (the sanitizers' report) or _exit()s with the code. No metrics line then:
 *   rendering one takes locks and malloc that the faulting thread may hold.
 * - a seccomp trap (a rule of a --seccomp-filter file; volt's own filters
 *   kill), whose thread's state is whole (it made a system call), but the
 *   system call it stopped on cannot be made, so it waits in the handler
 *   for good, and the main thread ends volt in signals_take() as
 *   Firecracker's handler does: its lines ("... signal 31, code 1." and
 *   "Shutting down VM after intercepting a bad syscall (NR)."), the metrics
 *   line (not when the call was one of malloc's, whose lock the thread may
 *   hold, nor while it holds the metrics), exit code 148. Nothing that would
 *   wait for the trapped thread runs. On the main thread itself: the same,
 *   from its handler.
 * SIGPIPE is counted and logged ("Received signal 13, code C."), not fatal:
 * each write's EPIPE is handled where it happens. One raised by that line
 * itself (the log is a pipe nobody reads) is only counted. */
#ifndef VOLT_VMM_SIGNALS_H
#define VOLT_VMM_SIGNALS_H

#include <stdbool.h>
#include <stddef.h>

/* Firecracker's vCPU kick under musl: must not end the VM (its
 * test_handled_signals). */
#define SIGNALS_FC_KICK 35

/* Firecracker's line for a signal that ends it: its number, its si_code. */
#define SIGNALS_SHUTDOWN_FMT "Shutting down VM after intercepting signal %d, code %d."

/* Installs the handlers (once; later calls do nothing) and makes the
 * eventfd. 0 or -errno. */
int signals_install(void);
/* The fd that becomes readable when the main thread has something to do:
 * poll it and call signals_take(). -1 before signals_install(). */
int signals_fd(void);
/* Logs the SIGPIPEs counted since the last call; returns Firecracker's exit
 * code when a fatal signal arrived (and its number and si_code in *signo,
 * *code), else 0. Does not return after another thread's seccomp trap. */
int signals_take(int *signo, int *code);

/* Firecracker's exit code for signo (FcExitCode): SIGSYS is BadSyscall only
 * from a seccomp trap, else UnexpectedError (2); 0 for a signal it does not
 * end with. */
int signals_exit_code(int signo, int code);
/* Whether signo with si_code code is a fault the thread cannot go on from. */
bool signals_is_fault(int signo, int code);
/* "Shutting down VM after intercepting signal N, code C." into buf, with
 * nothing but stores: async-signal-safe. Its length (cut at size - 1). */
size_t signals_format_shutdown(char *buf, size_t size, int signo, int code);

#endif
