/* What a sanitizer build (meson -Dsanitizers=true, VOLT_SANITIZERS=1) must do
 * around the sandbox so that it runs with the shipped filters in kill mode;
 * every function here is a no-op in the shipped build. The system calls the
 * sanitizer runtimes make behind the filters are sc_sanitizer_list
 * (seccomp_lists.c); docs/security.md, "Sanitizer builds", says why each. */
#ifndef VOLT_SANDBOX_SANITIZER_H
#define VOLT_SANDBOX_SANITIZER_H

#include "sandbox/sandbox.h"

/* Before volt first confines itself (a seccomp filter, Landlock, the jail's
 * pivot_root), once per process: LeakSanitizer's check runs now instead of at
 * exit (it needs clone, ptrace and /proc, which none of them allows), and the
 * ASan and UBSan runtimes read now what their reports need later (module
 * list, debug information, options), which the sandbox would refuse them. */
void sandbox_sanitizer_prepare(void);

/* Test hook, sanitizer builds only: VOLT_SANITIZER_SELFTEST=BUG:KIND (BUG:
 * asan, ubsan or segv; KIND: vmm, vcpu or api) makes the first thread of that
 * kind commit the bug just after its filter is installed, so that tests can
 * see the sanitizer's report come out whole behind the filter, not SIGSYS.
 * (leak:any leaks memory just before sandbox_sanitizer_prepare()'s check.) */
void sandbox_sanitizer_selftest(enum sandbox_thread kind);

#endif
