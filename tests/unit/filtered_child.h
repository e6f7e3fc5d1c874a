/* Code run behind one of volt's real seccomp filters, in a child: a kill
 * mode filter that catches a call ends the child, not the test. */
#ifndef VOLT_TESTS_FILTERED_CHILD_H
#define VOLT_TESTS_FILTERED_CHILD_H

#include <criterion/criterion.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

/* Runs before(arg) (may be NULL: unfiltered set-up), then kind's filter in
 * mode, then fn(arg), in a child; returns its wait status. The child exits
 * with 0 when fn returns, 100 when the filter would not install; before may
 * exit with its own code. No assertion in the child: with --full-stats even
 * a passing one talks to Criterion's runner. */
static inline int run_filtered_child(enum sandbox_seccomp_mode mode, enum sandbox_thread kind,
				     void (*before)(void *), void (*fn)(void *), void *arg)
{
	struct rlimit no_core = { 0, 0 };
	int status;
	pid_t pid;

	sandbox_set_seccomp_mode(mode);
	pid = fork();
	if (pid == 0) {
		setrlimit(RLIMIT_CORE, &no_core); /* SIGSYS would dump core */
		if (before)
			before(arg);
		/* The filters are compiled for the process that uses them (its pid). */
		if (sandbox_seccomp_prepare() || sandbox_seccomp_enter(kind))
			syscall(SYS_exit, 100);
		fn(arg);
		syscall(SYS_exit, 0);
	}
	cr_assert_gt(pid, 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

#endif
