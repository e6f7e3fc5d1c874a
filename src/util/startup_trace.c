/* The start-up trace (util/startup_trace.h). */
#include "util/startup_trace.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

bool startup_trace_on;

static struct {
	const char *step;
	int64_t wall_ns, cpu_ns;
} marks[STARTUP_TRACE_MAX];
static atomic_int nmarks;
static int64_t spawned_ns; /* 0: counted from main */

static int64_t ns(clockid_t clock)
{
	struct timespec t;

	clock_gettime(clock, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void startup_trace_init(void)
{
	const char *v = getenv("VOLT_TRACE_STARTUP");
	char *end;
	long long t;

	if (!v || !*v || !strcmp(v, "0"))
		return;
	t = strtoll(v, &end, 10);
	if (!*end && t > 1)
		spawned_ns = t;
	startup_trace_on = true;
	startup_trace_mark("main (dynamic loading, libc set up)", false);
}

void startup_trace_mark(const char *step, bool once)
{
	int64_t wall = ns(CLOCK_MONOTONIC), cpu = ns(CLOCK_PROCESS_CPUTIME_ID);
	int i, n = atomic_load(&nmarks);

	for (i = 0; once && i < n && i < STARTUP_TRACE_MAX; i++)
		if (marks[i].step == step)
			return;
	i = atomic_fetch_add(&nmarks, 1);
	if (i >= STARTUP_TRACE_MAX)
		return;
	marks[i].wall_ns = wall;
	marks[i].cpu_ns = cpu;
	marks[i].step = step; /* last: a report skips an entry still being written */
}

/* "12.345" from nanoseconds, as milliseconds. */
static const char *ms(char *buf, size_t size, int64_t v)
{
	snprintf(buf, size, "%s%lld.%03lld", v < 0 ? "-" : "", (long long)(llabs(v) / 1000000),
		 (long long)(llabs(v) / 1000 % 1000));
	return buf;
}

void startup_trace_report(void)
{
	int64_t base, prev_wall, prev_cpu = 0;
	char line[256], a[24], b[24], c[24], d[24];
	int order[STARTUP_TRACE_MAX];
	int i, j, n, len;

	if (!startup_trace_on)
		return;
	n = atomic_load(&nmarks);
	if (n > STARTUP_TRACE_MAX)
		n = STARTUP_TRACE_MAX;
	/* By time: threads mark concurrently (no qsort: the seccomp lists
	 * kill the sysinfo() it may make). */
	for (i = 0; i < n; i++) {
		for (j = i; j > 0 && marks[order[j - 1]].wall_ns > marks[i].wall_ns; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	base = prev_wall = spawned_ns ? spawned_ns : marks[0].wall_ns;
	len = snprintf(
		line, sizeof(line),
		"volt start-up trace (ms; wall since %s, CPU of the process since it began)\n"
		"%10s %9s %9s %9s  step\n",
		spawned_ns ? "the spawn" : "main", "wall", "+wall", "cpu", "+cpu");
	if (write(STDERR_FILENO, line, (size_t)len) < 0)
		return;
	for (j = 0; j < n; j++) {
		i = order[j];
		if (!marks[i].step)
			continue;
		len = snprintf(line, sizeof(line), "%10s %9s %9s %9s  %s\n",
			       ms(a, sizeof(a), marks[i].wall_ns - base),
			       ms(b, sizeof(b), marks[i].wall_ns - prev_wall),
			       ms(c, sizeof(c), marks[i].cpu_ns),
			       ms(d, sizeof(d), marks[i].cpu_ns - prev_cpu), marks[i].step);
		prev_wall = marks[i].wall_ns;
		prev_cpu = marks[i].cpu_ns;
		if (write(STDERR_FILENO, line, (size_t)len) < 0)
			return;
	}
}
