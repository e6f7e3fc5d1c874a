/* The VMM's sandbox: per-thread seccomp allow-lists and Landlock.
 * Order of use (the front-ends: run_cmd.c, api/): sandbox_set_*_mode() from
 * the options; vm_create() (every file the VM needs is open); then
 * vm_start() with sandbox_vm_hooks(cfg) compiles the filters and applies
 * Landlock on the main thread before it creates the device and vCPU threads
 * (they inherit it), and each thread installs its own kind's filter just
 * before it starts serving (core/thread_hook.h). The API server gets
 * sandbox_api_hooks() the same way. */
#ifndef VOLT_SANDBOX_SANDBOX_H
#define VOLT_SANDBOX_SANDBOX_H

#include <stdbool.h>

#include "core/thread_hook.h"

struct vm_config;

enum sandbox_thread {
	SANDBOX_THREAD_VMM,  /* main thread and the device (event loop) thread */
	SANDBOX_THREAD_VCPU, /* each vCPU */
	SANDBOX_THREAD_API,  /* the HTTP API server */
	SANDBOX_THREAD_COUNT,
};

enum sandbox_seccomp_mode {
	SANDBOX_SECCOMP_KILL, /* default: SECCOMP_RET_KILL_PROCESS, logged by the kernel */
	SANDBOX_SECCOMP_LOG,  /* development: allow and log what is outside the lists */
	SANDBOX_SECCOMP_OFF,  /* --no-seccomp (warned about) */
};

enum sandbox_landlock_mode {
	SANDBOX_LANDLOCK_AUTO,	  /* default: the best ABI the kernel has, warn when weaker */
	SANDBOX_LANDLOCK_REQUIRE, /* fail when the kernel has no Landlock */
	SANDBOX_LANDLOCK_OFF,
};

/* Parses "kill", "log", "off" / "auto", "require", "off". */
int sandbox_seccomp_mode_parse(const char *s, enum sandbox_seccomp_mode *out);
int sandbox_landlock_mode_parse(const char *s, enum sandbox_landlock_mode *out);
void sandbox_set_seccomp_mode(enum sandbox_seccomp_mode mode);
void sandbox_set_landlock_mode(enum sandbox_landlock_mode mode);

/* Compiles every thread kind's filter; 0 or -errno (logged). */
int sandbox_seccomp_prepare(void);
/* Installs the calling thread's filter (no-op when off); 0 or -errno. */
int sandbox_seccomp_enter(enum sandbox_thread kind);

/* Firecracker's --seccomp-filter FILE (seccomp_file.c): reads and checks
 * its programs, which each thread then installs after volt's own filter
 * (both apply). 0, or -errno with Firecracker's "Seccomp error: ..." logged.
 * Call while volt has one thread. */
int sandbox_seccomp_load_file(const char *path);
bool sandbox_seccomp_file_loaded(void);
/* Installs the calling thread's program from the file, if any (setting
 * no_new_privs): 1 when it did, 0 when there is none, or -errno. */
int sandbox_seccomp_file_enter(enum sandbox_thread kind);

/* Hooks for vm_start(): before_threads compiles the filters and applies
 * Landlock to cfg's files (cfg must outlive the call); thread_start installs
 * the filter of the thread's kind (MAIN and DEVICES: VMM). */
struct thread_hooks sandbox_vm_hooks(const struct vm_config *cfg);
/* Hooks for api_server_start(): compile the filters, install the API's. */
struct thread_hooks sandbox_api_hooks(void);

/* Restricts the whole process (call on the main thread before other threads
 * exist) to the files cfg names; 0, or -errno when it cannot and the mode
 * requires it (logged). */
int sandbox_landlock_apply(const struct vm_config *cfg);
/* The Landlock ABI apply would use: the kernel's, capped by the test knob
 * VOLT_LANDLOCK_MAX_ABI=N (0 simulates no Landlock); -errno when none. */
int sandbox_landlock_abi(void);

/* The thread kind named name ("vmm", "vcpu", "api"), or -ENOENT. */
int sandbox_thread_find(const char *name);
/* `volt sandbox --print`: each kind's list (kind < 0: all of them) as text
 * on stdout; 0 or -errno (logged). */
int sandbox_print_lists(int kind);

#endif
