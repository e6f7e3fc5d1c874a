/* The device thread: an epoll loop that serves virtio queue notifications
 * (ioeventfds), backend fds (TAP, sockets, io_uring) and timers, so devices
 * never run on vCPU threads. Sources are added before or while it runs. */
#ifndef VOLT_CORE_EVENT_LOOP_H
#define VOLT_CORE_EVENT_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/thread_hook.h"

#define EVENT_LOOP_MAX_SOURCES 128

typedef void (*event_fn)(void *ctx, uint32_t events);

struct event_source {
	int fd;
	event_fn fn;
	void *ctx;
};

struct event_loop {
	int epfd;
	int stop_fd;
	pthread_t thread;
	bool started;
	bool stuck;		   /* event_loop_stop() gave up on the thread */
	struct thread_hooks hooks; /* thread_start(THREAD_KIND_DEVICES) runs before it serves */
	int start_err;
	bool start_done;
	pthread_cond_t start_cond;
	pthread_mutex_t lock;
	int pause_fd;	      /* eventfd: event_loop_pause() asks the thread to park */
	bool pause_requested; /* under lock */
	bool parked;	      /* under lock: the thread waits in event_loop_pause()'s park */
	pthread_cond_t park_cond;
	struct event_source sources[EVENT_LOOP_MAX_SOURCES];
};

int event_loop_init(struct event_loop *l);
/* events: EPOLLIN, EPOLLOUT... (level-triggered). */
int event_loop_add(struct event_loop *l, int fd, uint32_t events, event_fn fn, void *ctx);
int event_loop_mod(struct event_loop *l, int fd, uint32_t events);
int event_loop_del(struct event_loop *l, int fd);
/* Whether any source is registered (a loop without one needs no thread). */
bool event_loop_has_sources(struct event_loop *l);
/* Returns once the thread runs and its start hook has run: 0, or what the hook
 * returned (the thread has then ended). */
int event_loop_start(struct event_loop *l);
/* Parks the thread between two handlers and returns once it waits (no
 * handler runs until event_loop_resume()), so that a snapshot sees devices
 * and guest memory still. Returns at once when the thread does not run.
 * Not nestable; from one thread (the serving one). 0, or -ETIMEDOUT when the
 * thread did not park within EVENT_LOOP_PAUSE_TIMEOUT_MS (then it is not
 * asked to park any more). */
#define EVENT_LOOP_PAUSE_TIMEOUT_MS 30000U
int event_loop_pause(struct event_loop *l);
void event_loop_resume(struct event_loop *l);
/* Stops and joins the thread; sources stay registered. 0, or -ETIMEDOUT
 * when the thread did not end within EVENT_LOOP_STOP_TIMEOUT_MS (stuck in
 * the host kernel, e.g. on guest memory a Uffd handler never serves): it is
 * then left running, and event_loop_destroy() leaves what it may use. */
#define EVENT_LOOP_STOP_TIMEOUT_MS 10000U
int event_loop_stop(struct event_loop *l);
void event_loop_destroy(struct event_loop *l);

#endif
