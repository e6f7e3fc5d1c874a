/* Start-up trace, for finding what a start costs (bench/run.sh, issue #15).
 * With VOLT_TRACE_STARTUP set, each startup_mark() records the monotonic time
 * and the process's CPU time (CLOCK_PROCESS_CPUTIME_ID: since the process
 * began, so dynamic loading counts) of a named step, and startup_trace_report()
 * prints the table to stderr when volt ends. VOLT_TRACE_STARTUP=1 counts wall
 * time from main(); VOLT_TRACE_STARTUP=NS, the CLOCK_MONOTONIC nanoseconds at
 * which the caller spawned volt, counts it from there (exec and dynamic
 * loading included). Off (the default) a mark is one predictable branch.
 * Marks may come from any thread; at most STARTUP_TRACE_MAX are kept. Step
 * names must be string literals (kept by pointer). */
#ifndef VOLT_UTIL_STARTUP_TRACE_H
#define VOLT_UTIL_STARTUP_TRACE_H

#include <stdbool.h>

#define STARTUP_TRACE_MAX 48

extern bool startup_trace_on;

/* main(), first thing: reads VOLT_TRACE_STARTUP and marks "main". */
void startup_trace_init(void);
void startup_trace_mark(const char *step, bool once);
/* Prints the table (plain write()s: allowed under every seccomp list). */
void startup_trace_report(void);

static inline void startup_mark(const char *step)
{
	if (__builtin_expect(startup_trace_on, 0))
		startup_trace_mark(step, false);
}

/* Only the first time this step is reached (a first guest byte...). */
static inline void startup_mark_once(const char *step)
{
	if (__builtin_expect(startup_trace_on, 0))
		startup_trace_mark(step, true);
}

#endif
