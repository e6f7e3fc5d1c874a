/* The device thread's pause: no handler runs between event_loop_pause() and
 * event_loop_resume(), and what arrived meanwhile is served after. */
#include <criterion/criterion.h>

#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/event_loop.h"

static atomic_int served;

static void on_event(void *ctx, uint32_t events)
{
	uint64_t n;

	(void)events;
	if (read(*(int *)ctx, &n, sizeof(n)) == sizeof(n))
		atomic_fetch_add(&served, 1);
}

static void sleep_ms(long ms)
{
	struct timespec t = { .tv_sec = 0, .tv_nsec = ms * 1000000L };

	nanosleep(&t, NULL);
}

static bool wait_served(int n)
{
	int i;

	for (i = 0; i < 500 && atomic_load(&served) < n; i++)
		sleep_ms(2);
	return atomic_load(&served) >= n;
}

Test(event_loop, pause_holds_handlers_until_resume)
{
	struct event_loop l;
	uint64_t one = 1;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	atomic_store(&served, 0);
	cr_assert_eq(event_loop_init(&l), 0);
	cr_assert_eq(event_loop_add(&l, fd, EPOLLIN, on_event, &fd), 0);
	event_loop_pause(&l); /* not started: returns at once */
	event_loop_resume(&l);
	cr_assert_eq(event_loop_start(&l), 0);
	cr_assert_eq(write(fd, &one, sizeof(one)), sizeof(one));
	cr_assert(wait_served(1));

	event_loop_pause(&l);
	cr_assert_eq(write(fd, &one, sizeof(one)), sizeof(one));
	sleep_ms(50);
	cr_assert_eq(atomic_load(&served), 1, "a handler ran while paused");
	event_loop_resume(&l);
	cr_assert(wait_served(2));

	/* Twice in a row, and a stop after a resume. */
	event_loop_pause(&l);
	event_loop_resume(&l);
	event_loop_destroy(&l);
	close(fd);
}
