/* Firecracker-style metrics: process-wide counters that any thread bumps
 * without locks, written as one JSON object per line to the file or FIFO
 * named by metrics_open() (PUT /metrics, --metrics-path): every 60 s while a
 * VM runs and on metrics_flush() (the FlushMetrics action). Counters that
 * Firecracker reports as "since the last flush" are reset by each flush.
 *
 * The line's sections and names follow Firecracker's (docs/metrics.md):
 * "utc_timestamp_ms", then one object per struct member below, in this order,
 * with the same names. Devices are aggregated per kind ("block", "net"): no
 * "block_<id>" sections. Gauges (startup and boot times) keep their value;
 * every other field is a delta, exchanged with 0 by the flush that writes it.
 * A line that cannot be written whole without blocking (a FIFO nobody reads
 * fast enough) is dropped and counted in logger.missed_metrics_count. */
#ifndef VOLT_CORE_METRICS_H
#define VOLT_CORE_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

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
	struct {
		metric_t boot_time_us;	   /* process start -> the guest's boot-timer write */
		metric_t boot_time_cpu_us; /* CPU time volt used until then */
	} vmm;
	struct {
		metric_t exit_io_in, exit_io_out, exit_mmio_read, exit_mmio_write;
		metric_t failures; /* exits that stop the VM: internal errors, failed entry */
	} vcpu;
	struct {
		metric_t queue_event_count; /* notifications of the request queue */
		metric_t read_count, write_count, flush_count;
		metric_t read_bytes, write_bytes;
		metric_t invalid_reqs_count; /* malformed, unsupported or out of range */
		metric_t execute_fails;	     /* the backing file failed a request */
	} block;
	struct {
		metric_t rx_queue_event_count, tx_queue_event_count;
		metric_t rx_tap_event_count; /* the TAP became readable */
		metric_t rx_packets_count, rx_bytes_count;
		metric_t tx_packets_count, tx_bytes_count;
		metric_t rx_fails, tx_fails; /* frames dropped */
		metric_t no_rx_avail_buffer; /* frames waited for receive buffers */
		metric_t tap_read_fails;     /* the TAP went away */
	} net;
	struct {
		metric_t rx_packets_count, rx_bytes_count; /* host -> guest */
		metric_t tx_packets_count, tx_bytes_count; /* guest -> host */
		metric_t conns_added, conns_removed;
		metric_t rx_queue_event_count, tx_queue_event_count;
	} vsock;
	struct {
		metric_t inflate_count, deflate_count; /* page frames */
		metric_t stats_updates_count;
	} balloon;
	struct {
		metric_t entropy_event_count; /* requests */
		metric_t entropy_bytes;
		metric_t host_rng_fails; /* getrandom() gave less than asked */
	} entropy;
	struct {
		metric_t read_count;	    /* bytes the guest read from the receive FIFO */
		metric_t write_count;	    /* bytes the guest transmitted */
		metric_t missed_read_count; /* input dropped: the receive FIFO was full */
	} uart;
	struct {
		metric_t read_count, write_count;		/* port accesses */
		metric_t missed_read_count, missed_write_count; /* not 1 byte wide, unknown */
		metric_t reset_count;
		metric_t error_count; /* bytes lost: the output buffer was full */
	} i8042;
	struct {
		metric_t missed_metrics_count; /* metric lines dropped */
		metric_t metrics_fails;	       /* write errors other than a full FIFO */
		metric_t missed_log_count;     /* log lines dropped (log.c counts them) */
	} logger;
};

extern struct volt_metrics volt_metrics;

#define METRICS_ADD(field, n) \
	atomic_fetch_add_explicit(&volt_metrics.field, (uint64_t)(n), memory_order_relaxed)
#define METRICS_INC(field) METRICS_ADD(field, 1)
#define METRICS_SET(field, v) \
	atomic_store_explicit(&volt_metrics.field, (uint64_t)(v), memory_order_relaxed)

/* Opens path (regular file: created if missing, appended; FIFO: opened
 * non-blocking, read-write as Firecracker does, so that no reader is needed
 * yet and a full pipe drops lines). Once only: -EEXIST on a second call;
 * other -errno with the reason logged. */
int metrics_open(const char *path);
/* Writes one line now; -ENOENT when metrics_open() was not called, -EAGAIN
 * when the line was dropped (FIFO full), other -errno on write errors. */
int metrics_flush(void);
/* Flushes every 60 s from the device thread while the VM runs; nothing to
 * do (no timer) when metrics_open() was not called: metrics are configured
 * before boot only. */
int metrics_attach(struct event_loop *loop);

/* Microseconds from start (CLOCK_MONOTONIC) to now: for the gauges. */
uint64_t metrics_us_since(const struct timespec *start);
/* The line a flush would write (without the newline), resetting the deltas
 * as a flush does; malloc'ed, NULL when out of memory. For tests. */
char *metrics_render(void);
/* Forgets the destination so that metrics_open() may be called again; for tests. */
void metrics_close(void);

#endif
