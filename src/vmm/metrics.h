/* Firecracker-style metrics: process-wide counters that any thread bumps
 * without locks, written as one JSON object per line to the file or FIFO
 * named by metrics_open() (PUT /metrics, --metrics-path): every 60 s while a
 * VM runs and on metrics_flush() (the FlushMetrics action). Counters that
 * Firecracker reports as "since the last flush" are reset by each flush. */
#ifndef VOLT_VMM_METRICS_H
#define VOLT_VMM_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

struct event_loop;

typedef _Atomic uint64_t metric_t;

struct volt_metrics {
	struct {
		metric_t process_startup_time_us; /* process start -> API socket ready */
		metric_t process_startup_time_cpu_us;
	} api_server;
	struct {
		metric_t requests; /* every HTTP request */
		metric_t fails;	   /* answered 4xx/5xx */
		metric_t pause_count, resume_count, actions_count;
	} api;
	/* The metrics module adds vmm, vcpu, block, net, vsock, balloon, rng,
	 * serial, i8042, boot_time_us... */
};

extern struct volt_metrics volt_metrics;

#define METRICS_ADD(field, n) \
	atomic_fetch_add_explicit(&volt_metrics.field, (uint64_t)(n), memory_order_relaxed)
#define METRICS_INC(field) METRICS_ADD(field, 1)
#define METRICS_SET(field, v) \
	atomic_store_explicit(&volt_metrics.field, (uint64_t)(v), memory_order_relaxed)

/* Opens path (regular file: appended; FIFO: opened non-blocking for writing).
 * Once only: -EEXIST on a second call; other -errno with the reason logged. */
int metrics_open(const char *path);
/* Writes one line now; -ENOENT when metrics_open() was not called. */
int metrics_flush(void);
/* Flushes every 60 s from the device thread while the VM runs. */
int metrics_attach(struct event_loop *loop);

#endif
