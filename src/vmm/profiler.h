/* `volt run --profile`: a sampling profiler of the guest (docs/profiling.md).
 * Each vCPU thread owns a POSIX timer (profiler_timer_start(), before its
 * seccomp filter goes on) that sends it PROFILER_SIGNAL HZ times a second;
 * the signal makes KVM_RUN return, and the thread records the guest's RIP
 * (profiler_record(): a store into the vCPU's preallocated buffer, no lock,
 * no allocation). After the VM ends, profiler_report() resolves the samples
 * against the kernel's symbols, loaded before the sandbox (from the --kernel
 * ELF's .symtab, else the System.map beside it), and prints the top functions
 * and the initcalls. Everything but the timer is plain logic, unit tested
 * without KVM. */
#ifndef VOLT_VMM_PROFILER_H
#define VOLT_VMM_PROFILER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define PROFILER_SIGNAL	     SIGPROF
#define PROFILER_DEFAULT_HZ  1000
#define PROFILER_MAX_HZ	     10000
#define PROFILER_DEFAULT_TOP 25
/* Samples one vCPU keeps (8 bytes each): 20 minutes at 1000 Hz. Later ones
 * are only counted (dropped). */
#define PROFILER_MAX_SAMPLES (1u << 20)
/* A sample of guest user mode (CPL 3): not resolved, shown as [user]. */
#define PROFILER_USER UINT64_MAX
/* A sample of a vCPU in real mode: one the guest has not started yet (an AP
 * waiting for its INIT-SIPI); only counted, apart from the rest. */
#define PROFILER_UNSTARTED (UINT64_MAX - 1)

struct profiler;

/* For ncpus vCPUs sampled at hz; NULL when out of memory. */
struct profiler *profiler_new(int ncpus, unsigned int hz);
void profiler_free(struct profiler *p);

/* Symbols. Each loader adds to the table (text symbols only) and notes the
 * initcalls (the functions that __initcall_<fn><level> entries name). 0 or
 * -errno; -ENOENT: the ELF has no symbol table. */
int profiler_load_system_map(struct profiler *p, const char *text, size_t len);
int profiler_load_elf(struct profiler *p, const void *image, size_t size);
/* The symbols for the kernel at path: its ELF .symtab, else the System.map
 * in its directory, sorted for lookups; call it before the sandbox goes on
 * (the report then makes no system call but write, mmap and munmap). where
 * gets what was used ("path (ELF .symtab), N symbols"). */
int profiler_load_symbols(struct profiler *p, const char *kernel_path, char *where,
			  size_t where_size);
/* Symbols loaded. */
size_t profiler_nsyms(const struct profiler *p);
/* The function holding addr and addr's offset in it; NULL when none does. */
const char *profiler_lookup(struct profiler *p, uint64_t addr, uint64_t *offset);
/* Whether the function named name is an initcall. */
bool profiler_is_initcall(struct profiler *p, const char *name);

/* Hot path, on vCPU cpu's own thread only: records one sample (RIP,
 * PROFILER_USER or PROFILER_UNSTARTED). */
void profiler_record(struct profiler *p, int cpu, uint64_t rip);

/* The report: samples per function (the top `top`), then per initcall. */
void profiler_report(struct profiler *p, FILE *f, int top);

/* Every sample, one line each, to fd: "VCPU RIP FUNCTION+0xOFFSET" (RIP in
 * hex; [user], [unknown] as in the report), in the order taken. Plain
 * write()s from a buffer on the stack (no stdio: it would fstat the file,
 * which the sandbox refuses). 0 or -errno. */
int profiler_write_samples(struct profiler *p, int fd);

/* The calling thread's timer: PROFILER_SIGNAL to this very thread hz times a
 * second (CLOCK_MONOTONIC: a halted vCPU is sampled too, in its idle loop).
 * 0 or -errno. */
int profiler_timer_start(timer_t *timer, unsigned int hz);
void profiler_timer_stop(timer_t timer);

#endif
