/* Firecracker-style metrics: process-wide counters that any thread bumps
 * without locks, written as one JSON object per line to the file or FIFO
 * named by metrics_open() (PUT /metrics, --metrics-path): every 60 s while a
 * VM runs and on metrics_flush() (the FlushMetrics action; the API front end
 * also flushes once when its VM starts, as Firecracker does). Counters that
 * Firecracker reports as "since the last flush" are reset by each flush.
 *
 * The line has exactly the sections and fields of Firecracker's (its
 * tests/host_tools/fcmetrics.py validates a line strictly: no field
 * missing, none added): "utc_timestamp_ms", "id" and "properties" when
 * configured, then the VMM's sections (api_server, deprecated_api,
 * get/put/patch_api_requests, latencies_us, vmm, vcpu, seccomp, signals,
 * interrupts), then the registered sections in the order of registration
 * (the device table's kinds), then uart, i8042 and logger. The
 * VMM-wide counters are the members of struct volt_metrics; a device kind
 * owns its counters and describes them in a struct metrics_section of its
 * own, which reaches the line through metrics_register(): core knows no
 * device. Each kind's section aggregates all of its devices; a kind may
 * also register one section per device (Firecracker's "block_<drive_id>",
 * "net_<iface_id>": the kind's fields, counting that device alone) for as
 * long as the device lives (metrics_unregister()). Gauges (startup times,
 * latencies, the aggregates' min and max, signals) keep their value; every
 * other field is a delta, exchanged with 0 by the flush that writes it. A
 * line that cannot be written whole without blocking (a FIFO nobody reads
 * fast enough) is dropped and counted in logger.missed_metrics_count. */
#ifndef VOLT_CORE_METRICS_H
#define VOLT_CORE_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct event_loop;

typedef _Atomic uint64_t metric_t;

/* Firecracker's latency aggregate ("*_agg"): the least and the most
 * microseconds one event took since the process began (0: none yet), and
 * their sum since the last flush. metric_agg_add() records one event. */
struct metric_agg {
	metric_t min_us, max_us, sum_us;
};

struct volt_metrics {
	struct {
		metric_t process_startup_time_us; /* process start -> API socket ready */
		metric_t process_startup_time_cpu_us;
	} api_server;
	struct {
		/* Requests with a deprecated field (the Deprecation header):
		 * Firecracker's deprecated_api section. */
		metric_t deprecated_http_api_calls;
	} deprecated_api;
	/* Firecracker's requests per endpoint (api/router.c): *_count for each
	 * request routed there, *_fails for those answered 4xx or 5xx. */
	struct {
		metric_t instance_info_count, machine_cfg_count, mmds_count, vmm_version_count;
		metric_t hotplug_memory_count;
	} get_api_requests;
	struct {
		metric_t actions_count, actions_fails, boot_source_count, boot_source_fails;
		metric_t drive_count, drive_fails, logger_count, logger_fails;
		metric_t machine_cfg_count, machine_cfg_fails, cpu_cfg_count, cpu_cfg_fails;
		metric_t metrics_count, metrics_fails, network_count, network_fails;
		metric_t mmds_count, mmds_fails, vsock_count, vsock_fails, pmem_count, pmem_fails;
		metric_t serial_count, serial_fails, hotplug_memory_count, hotplug_memory_fails;
	} put_api_requests;
	struct {
		metric_t drive_count, drive_fails, network_count, network_fails;
		metric_t machine_cfg_count, machine_cfg_fails, mmds_count, mmds_fails;
		metric_t hotplug_memory_count, hotplug_memory_fails, pmem_count, pmem_fails;
	} patch_api_requests;
	/* Firecracker's latencies_us, gauges: the last successful operation's,
	 * as the whole request took and the VMM's part of it (vmm_*). */
	struct {
		metric_t full_create_snapshot, diff_create_snapshot, load_snapshot;
		metric_t pause_vm, resume_vm;
		metric_t vmm_full_create_snapshot, vmm_diff_create_snapshot, vmm_load_snapshot;
		metric_t vmm_pause_vm, vmm_resume_vm;
	} latencies_us;
	struct {
		metric_t panic_count; /* Firecracker's Rust panics: none in C, always 0 */
	} vmm;
	struct {
		metric_t exit_io_in, exit_io_out, exit_mmio_read, exit_mmio_write;
		metric_t failures; /* exits that stop the VM: internal errors, failed entry */
		metric_t kvmclock_ctrl_fails; /* KVM_KVMCLOCK_CTRL at pause failed */
		/* How long volt took to handle each kind of exit (vcpu.c). */
		struct metric_agg exit_io_in_agg, exit_io_out_agg;
		struct metric_agg exit_mmio_read_agg, exit_mmio_write_agg;
	} vcpu;
	struct {
		/* Firecracker traps bad system calls and counts them here; volt's
		 * filters kill the process (or only log, --seccomp log). 1 only
		 * after a kill-sent SIGSYS, as Firecracker's handler stores. */
		metric_t num_faults;
	} seccomp;
	struct {
		/* 1 once the signal ended volt (vmm/signals.c; SIGHUP: the main
		 * thread's signalfd); sigpipe counts each SIGPIPE, which does
		 * not end volt. */
		metric_t sigbus, sigsegv, sigxfsz, sigxcpu, sigpipe, sighup, sigill;
	} signals;
	struct {
		metric_t triggers;	 /* interrupts volt raised in the guest */
		metric_t config_updates; /* MSI routes changed: volt has none, 0 */
	} interrupts;
	struct {
		metric_t read_count;  /* bytes the guest read from the receive FIFO */
		metric_t write_count; /* bytes the guest transmitted */
		/* Input dropped (the receive FIFO was full), reads not 1 byte wide. */
		metric_t missed_read_count;
		/* Writes not 1 byte wide, bytes lost after the console's sink failed. */
		metric_t missed_write_count;
		metric_t error_count; /* the console's sink failed a write */
		/* Firecracker's flushes of its buffered output and its serial
		 * rate limiter: volt writes each byte and has neither, 0. */
		metric_t flush_count, rate_limiter_dropped_bytes;
	} uart;
	struct {
		metric_t read_count, write_count;		/* port accesses */
		metric_t missed_read_count, missed_write_count; /* not 1 byte wide, unknown */
		metric_t reset_count;
		metric_t error_count; /* bytes lost: the output buffer was full */
	} i8042;
	struct {
		metric_t missed_metrics_count;	 /* metric lines dropped */
		metric_t metrics_fails;		 /* write errors other than a full FIFO */
		metric_t missed_log_count;	 /* log lines dropped (log.c counts them) */
		metric_t rate_limited_log_count; /* volt does not rate-limit its log: 0 */
	} logger;
};

extern struct volt_metrics volt_metrics;

/* Any metric_t: relaxed atomics, no lock, no allocation (hot paths). */
#define METRIC_ADD(counter, n) \
	atomic_fetch_add_explicit(&(counter), (uint64_t)(n), memory_order_relaxed)
#define METRIC_INC(counter) METRIC_ADD(counter, 1)
#define METRIC_SET(counter, v) \
	atomic_store_explicit(&(counter), (uint64_t)(v), memory_order_relaxed)

/* Records one event of us microseconds in a. */
void metric_agg_add(struct metric_agg *a, uint64_t us);

/* A kind's counter (kind.field: its static struct) and the same one of a
 * device's own copy (own: a pointer to that struct, NULL for none): adds n
 * to both; METRIC_AGG_BOTH records an event in both aggregates. */
#define METRIC_ADD_BOTH(kind, own, field, n)         \
	do {                                         \
		__typeof__(own) own_ = (own);        \
		uint64_t n_ = (uint64_t)(n);         \
		METRIC_ADD((kind).field, n_);        \
		if (own_)                            \
			METRIC_ADD(own_->field, n_); \
	} while (0)
#define METRIC_AGG_BOTH(kind, own, field, us)              \
	do {                                               \
		__typeof__(own) own_ = (own);              \
		uint64_t us_ = (us);                       \
		metric_agg_add(&(kind).field, us_);        \
		if (own_)                                  \
			metric_agg_add(&own_->field, us_); \
	} while (0)

/* A member of struct volt_metrics: METRICS_INC(vcpu.exit_io_in). */
#define METRICS_ADD(field, n) METRIC_ADD(volt_metrics.field, n)
#define METRICS_INC(field)    METRICS_ADD(field, 1)
#define METRICS_SET(field, v) METRIC_SET(volt_metrics.field, v)

/* One counter of a section: its name in the line ("group.name" puts it in
 * the object "group" within the section, for the aggregates), where it is
 * (offset from the section's base) and whether it is a gauge (kept) or a
 * delta (reset by each flush). */
struct metric_field {
	const char *name;
	size_t off;
	bool gauge;
};

/* A struct's metric_t member as a field named after it. */
#define METRIC_DELTA(type, member)                     \
	{                                              \
#member, offsetof(type, member), false \
	}
#define METRIC_GAUGE(type, member)                    \
	{                                             \
#member, offsetof(type, member), true \
	}

/* A struct metric_agg member as Firecracker's "member": {min_us, max_us,
 * sum_us}: three fields of a table. */
#define METRIC_AGG(type, member)                                                                  \
	METRIC_AGG_PART(type, member, min_us, true), METRIC_AGG_PART(type, member, max_us, true), \
		METRIC_AGG_PART(type, member, sum_us, false)
#define METRIC_AGG_PART(type, member, part, g)                    \
	{                                                         \
#member "." #part, offsetof(type, member.part), g \
	}

/* One object of the line: "name": { fields[0].name: ..., ... }, in the order
 * of fields[]. The counters live at base (a static struct of metric_t in the
 * owner's .c, or a device's own); the section, its name, its fields and its
 * counters stay valid from metrics_register() until metrics_unregister()
 * returns (static storage for those never unregistered). */
struct metrics_section {
	const char *name;
	void *base;
	const struct metric_field *fields;
	size_t n;
};

/* At most this many registered sections, and counters in all: the device
 * table's kinds (fewer than 16 sections, fewer than 512 counters) and one
 * section per device, of which a VM has at most 32 (vmm/vm.h's
 * VM_MAX_VIRTIO, checked there), each of at most 64 counters (net's, the
 * largest, has 28). */
#define METRICS_MAX_SECTIONS 48
#define METRICS_MAX_COUNTERS 2560

/* Adds s to every line from now on, after the ones registered before.
 * -EEXIST when s or a section of that name is already in the line,
 * -ENOSPC past the limits above. */
int metrics_register(const struct metrics_section *s);
/* Takes s (the very pointer registered) out of every line from now on; its
 * deltas not flushed yet are lost. Once it returns, the caller may free s
 * and its counters. -ENOENT when s is not registered. */
int metrics_unregister(const struct metrics_section *s);

/* A device's own section beside its kind's (Firecracker's "block_<id>",
 * "net_<id>"): the kind's fields over the device's own counters (base), in
 * every line from metrics_own_add() until metrics_own_remove(). */
struct metrics_own {
	struct metrics_section section;
	char *name;
	bool added;
};
/* Adds "<prefix><id>" with kind's fields over base. -ENOMEM, or
 * metrics_register()'s error; nothing to undo then. */
int metrics_own_add(struct metrics_own *o, const char *prefix, const char *id,
		    const struct metrics_section *kind, void *base);
/* Takes it out of the line (if it was added) and frees its name. */
void metrics_own_remove(struct metrics_own *o);

/* Opens path (regular file: created if missing, appended; FIFO: opened
 * non-blocking, read-write as Firecracker does, so that no reader is needed
 * yet and a full pipe drops lines). Once only: -EEXIST on a second call;
 * other -errno with the reason logged. */
int metrics_open(const char *path);
/* Firecracker's optional fields of every line from now on: "id" (id; NULL:
 * none) and "properties" (an object of strings, copied; NULL: none).
 * -ENOMEM. */
struct json_t;
int metrics_set_labels(const char *id, const struct json_t *properties);
/* Writes one line now; -ENOENT when metrics_open() was not called, -EAGAIN
 * when the line was dropped (FIFO full), other -errno on write errors. */
int metrics_flush(void);
/* metrics_flush(), or -EBUSY without waiting when another thread is at the
 * metrics (a thread stopped for good while it held them must not keep the
 * last line, and volt's exit, waiting). */
int metrics_flush_unless_busy(void);
/* Flushes every 60 s from the device thread while the VM runs; nothing to
 * do (no timer) when metrics_open() was not called: metrics are configured
 * before boot only. */
int metrics_attach(struct event_loop *loop);

/* Microseconds from start (CLOCK_MONOTONIC) to now: for the gauges. */
uint64_t metrics_us_since(const struct timespec *start);
/* Clock clk now, in microseconds (CLOCK_MONOTONIC for latencies,
 * CLOCK_PROCESS_CPUTIME_ID for CPU time). Inline: vCPU exits time with it. */
static inline uint64_t metrics_clock_us(clockid_t clk)
{
	struct timespec t;

	clock_gettime(clk, &t);
	return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}
/* The line a flush would write (without the newline), resetting the deltas
 * as a flush does; malloc'ed, NULL when out of memory. For tests. */
char *metrics_render(void);
/* Forgets the destination and the labels so that metrics_open() may be
 * called again; for tests. */
void metrics_close(void);

#endif
