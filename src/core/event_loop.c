#include "core/event_loop.h"

#include "util/deadline.h"
#include "util/log.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int event_loop_init(struct event_loop *l)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int i;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < EVENT_LOOP_MAX_SOURCES; i++)
		l->sources[i].fd = -1;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->start_cond, NULL);
	pthread_cond_init(&l->park_cond, NULL);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	l->pause_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epfd < 0 || l->stop_fd < 0 || l->pause_fd < 0)
		return -errno;
	/* data.ptr NULL marks the stop event, the loop itself the pause event. */
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stop_fd, &ev))
		return -errno;
	ev.data.ptr = l;
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->pause_fd, &ev) ? -errno : 0;
}

/* The device thread, asked to pause: waits until it may go on. */
static void park(struct event_loop *l)
{
	uint64_t n;

	if (read(l->pause_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		pr_warn("device event loop: pause eventfd: %s", strerror(errno));
	pthread_mutex_lock(&l->lock);
	if (l->pause_requested) {
		l->parked = true;
		pthread_cond_broadcast(&l->park_cond);
		while (l->pause_requested)
			pthread_cond_wait(&l->park_cond, &l->lock);
		l->parked = false;
	}
	pthread_mutex_unlock(&l->lock);
}

int event_loop_pause(struct event_loop *l)
{
	struct timespec until = deadline_after_ms(EVENT_LOOP_PAUSE_TIMEOUT_MS);
	uint64_t one = 1;
	int err = 0;

	if (!l->started)
		return 0;
	pthread_mutex_lock(&l->lock);
	l->pause_requested = true;
	if (write(l->pause_fd, &one, sizeof(one)) != sizeof(one))
		pr_warn("cannot pause the device thread: %s", strerror(errno));
	while (!l->parked && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&l->park_cond, &l->lock, &until);
	if (!l->parked) {
		l->pause_requested = false; /* it goes on when it gets out */
		err = -ETIMEDOUT;
	} else {
		err = 0;
	}
	pthread_mutex_unlock(&l->lock);
	return err;
}

void event_loop_resume(struct event_loop *l)
{
	pthread_mutex_lock(&l->lock);
	l->pause_requested = false;
	pthread_cond_broadcast(&l->park_cond);
	pthread_mutex_unlock(&l->lock);
}

int event_loop_add(struct event_loop *l, int fd, uint32_t events, event_fn fn, void *ctx)
{
	struct epoll_event ev = { .events = events };
	int i, err = -ENOSPC;

	pthread_mutex_lock(&l->lock);
	for (i = 0; i < EVENT_LOOP_MAX_SOURCES; i++) {
		if (l->sources[i].fd >= 0)
			continue;
		l->sources[i] = (struct event_source){ fd, fn, ctx };
		ev.data.ptr = &l->sources[i];
		err = epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
		if (err)
			l->sources[i].fd = -1;
		break;
	}
	pthread_mutex_unlock(&l->lock);
	return err;
}

bool event_loop_has_sources(struct event_loop *l)
{
	bool any = false;
	int i;

	pthread_mutex_lock(&l->lock);
	for (i = 0; !any && i < EVENT_LOOP_MAX_SOURCES; i++)
		any = l->sources[i].fd >= 0;
	pthread_mutex_unlock(&l->lock);
	return any;
}

static struct event_source *find(struct event_loop *l, int fd)
{
	int i;

	for (i = 0; i < EVENT_LOOP_MAX_SOURCES; i++)
		if (l->sources[i].fd == fd)
			return &l->sources[i];
	return NULL;
}

int event_loop_mod(struct event_loop *l, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events };
	int err = -ENOENT;

	pthread_mutex_lock(&l->lock);
	ev.data.ptr = find(l, fd);
	if (ev.data.ptr)
		err = epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
	pthread_mutex_unlock(&l->lock);
	return err;
}

int event_loop_del(struct event_loop *l, int fd)
{
	struct event_source *s;
	int err = -ENOENT;

	pthread_mutex_lock(&l->lock);
	s = find(l, fd);
	if (s) {
		err = epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) ? -errno : 0;
		s->fd = -1;
	}
	pthread_mutex_unlock(&l->lock);
	return err;
}

static void *loop_thread(void *arg)
{
	struct event_loop *l = arg;
	struct epoll_event evs[32];

	/* Firecracker has no such thread (its main one does this work); named
	 * as its threads are (fc_api, fc_vcpu N). */
	log_set_thread_name("fc_devices");
	pthread_mutex_lock(&l->lock);
	l->start_err = thread_hooks_start(&l->hooks, THREAD_KIND_DEVICES);
	l->start_done = true;
	pthread_cond_broadcast(&l->start_cond);
	pthread_mutex_unlock(&l->lock);
	if (l->start_err)
		return NULL;
	for (;;) {
		int n = epoll_wait(l->epfd, evs, 32, -1), i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			pr_err("device event loop: epoll_wait: %s", strerror(errno));
			return NULL;
		}
		for (i = 0; i < n; i++) {
			struct event_source *s = evs[i].data.ptr;

			if (!s)
				return NULL;
			if ((void *)s == (void *)l) {
				park(l);
				continue;
			}
			/* A source removed by an earlier handler in this batch. */
			if (s->fd >= 0)
				s->fn(s->ctx, evs[i].events);
		}
	}
}

int event_loop_start(struct event_loop *l)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	/* But a seccomp trap's SIGSYS (from a filter the front-end adds): the
	 * kernel ends the process with it where it is blocked, before any
	 * handler could say why. */
	sigdelset(&all, SIGSYS);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&l->thread, NULL, loop_thread, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	l->started = true;
	pthread_mutex_lock(&l->lock);
	while (!l->start_done)
		pthread_cond_wait(&l->start_cond, &l->lock);
	err = l->start_err;
	pthread_mutex_unlock(&l->lock);
	return err;
}

int event_loop_stop(struct event_loop *l)
{
	struct timespec until;
	uint64_t one = 1;

	if (!l->started)
		return 0;
	if (write(l->stop_fd, &one, sizeof(one)) != sizeof(one))
		pr_warn("cannot stop the device thread: %s", strerror(errno));
	until = deadline_after_ms(EVENT_LOOP_STOP_TIMEOUT_MS);
	if (pthread_timedjoin_np(l->thread, NULL, &until) == ETIMEDOUT) {
		pr_err("the device thread did not end within %u s; left as it is",
		       EVENT_LOOP_STOP_TIMEOUT_MS / 1000);
		l->stuck = true;
		return -ETIMEDOUT;
	}
	l->started = false;
	l->start_done = false;
	return 0;
}

void event_loop_destroy(struct event_loop *l)
{
	if (l->stuck || event_loop_stop(l))
		return;
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	if (l->pause_fd >= 0)
		close(l->pause_fd);
	l->epfd = l->stop_fd = l->pause_fd = -1;
}
