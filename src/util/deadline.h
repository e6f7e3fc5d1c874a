/* Absolute deadlines for the bounded waits of volt's threads on each other
 * (a pause, a join): a thread stuck in the host kernel, e.g. on a guest page
 * that a Uffd handler never serves, must not hang the one waiting for it.
 * CLOCK_REALTIME, the clock of pthread_cond_timedwait() with a default
 * condition variable and of pthread_timedjoin_np(): their futex operations
 * are the ones the seccomp filters allow for the untimed waits. */
#ifndef VOLT_UTIL_DEADLINE_H
#define VOLT_UTIL_DEADLINE_H

#include <stdbool.h>
#include <time.h>

static inline struct timespec deadline_after_ms(unsigned int ms)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/* a comes before b. */
static inline bool deadline_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

#endif
