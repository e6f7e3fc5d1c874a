/* The sanitizer build's side of the sandbox (see sanitizer.h). */
#include "sandbox/sanitizer.h"

#ifdef VOLT_SANITIZERS

#include "sandbox/seccomp_lists.h"

#include <limits.h>
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ASan's options, read at its start (before main); ASAN_OPTIONS still wins.
 * - use_sigaltstack=0: no alternate signal stack per thread, so no
 *   sigaltstack(), which the lists never allow (ASan then cannot report a
 *   stack overflow: the kernel ends volt with SIGSEGV, as in the shipped
 *   build).
 * - detect_leaks=0 where /proc is missing: LeakSanitizer lists and stops the
 *   threads through /proc; a jail (volt jail) has none, and a leak check there
 *   would end volt with a fatal error. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return access("/proc/self/task", R_OK) ? "use_sigaltstack=0:detect_leaks=0"
					       : "use_sigaltstack=0";
}

/* UBSan's handler ABI (what the compiler emits calls to), for ubsan_start(). */
struct ubsan_source_location {
	const char *file;
	uint32_t line, column;
};
struct ubsan_type {
	uint16_t kind, info; /* 0 = integer; log2(bits) << 1 | signed */
	char name[16];
};
struct ubsan_overflow {
	struct ubsan_source_location loc;
	const struct ubsan_type *type;
};
/* GCC knows it as a builtin taking three pointers: values this small travel
 * in the pointers themselves. */
void __ubsan_handle_add_overflow(void *data, void *lhs, void *rhs);

/* UBSan's options, read at its start; no compiler check reports an unsigned
 * overflow (it is no UB in C), so this silences only ubsan_start()'s. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "silence_unsigned_overflow=1";
}

/* UBSan (a runtime of its own in GCC) starts at its first report: it reads
 * /proc/self/environ and /proc/self/cmdline and the binary's name, which the
 * sandbox forbids. An unsigned overflow handed to its handler starts it now,
 * and is then dropped (silence_unsigned_overflow). */
static void ubsan_start(void)
{
	static const struct ubsan_type u32 = { 0, 5 << 1, "'unsigned int'" };
	struct ubsan_overflow data = { { __FILE__, __LINE__, 1 }, &u32 };

	__ubsan_handle_add_overflow(&data, (void *)(uintptr_t)UINT32_MAX, (void *)1);
}

/* VOLT_SANITIZER_SELFTEST=leak:...: memory nobody points to any more, for
 * the leak check that follows to find. */
static __attribute__((noinline)) void selftest_leak(void)
{
	const char *v = getenv("VOLT_SANITIZER_SELFTEST");

	if (v && !strncmp(v, "leak:", 5)) {
		void *volatile p = malloc(64);

		/* cppcheck-suppress memleak ; the leak LeakSanitizer must report */
		p = NULL; /* the one pointer to it, gone */
		(void)p;
	}
}

void sandbox_sanitizer_prepare(void)
{
	static atomic_bool done;
	__sanitizer_sandbox_arguments args = { 0 };
	char where[256];

	if (atomic_exchange(&done, true))
		return;
	/* Reports leaks now and turns off the check at exit: that one would
	 * clone a tracer, ptrace every thread and read /proc/PID/task, all of
	 * which the filters kill and Landlock denies. */
	selftest_leak();
	__lsan_do_leak_check();
	/* The module list (/proc/self/maps), read now and kept. */
	__sanitizer_sandbox_on_notify(&args);
	/* One address symbolized now: ASan's symbolizer reads the module list
	 * and every binary's debug information (opens /proc/self/exe and the
	 * libraries) while it still can, so that reports behind the sandbox
	 * name functions and lines and open nothing. */
	__sanitizer_symbolize_pc(__builtin_return_address(0), "%p %F %L", where, sizeof(where));
	ubsan_start();
}

void sandbox_sanitizer_selftest(enum sandbox_thread kind)
{
	static atomic_bool done;
	const char *v = getenv("VOLT_SANITIZER_SELFTEST"), *colon;

	if (!v || !(colon = strchr(v, ':')) || strcmp(colon + 1, sc_lists[kind].name) ||
	    atomic_exchange(&done, true))
		return;
	if (!strncmp(v, "asan:", 5)) {
		char *volatile p = malloc(8);
		volatile size_t i = 8;

		/* cppcheck-suppress arrayIndexOutOfBounds ; the bug ASan must report */
		p[i] = 1; /* heap-buffer-overflow */
		free(p);
	} else if (!strncmp(v, "ubsan:", 6)) {
		volatile int x = INT_MAX;

		x = x + 1; /* signed-integer-overflow */
	} else if (!strncmp(v, "segv:", 5)) {
		int *volatile p = (int *)64; /* unmapped, not NULL: UBSan checks NULL */

		*p = 1; /* ASan's SIGSEGV handler reports it */
	}
}

#else

void sandbox_sanitizer_prepare(void)
{
}

void sandbox_sanitizer_selftest(enum sandbox_thread kind)
{
	(void)kind;
}

#endif
