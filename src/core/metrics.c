/* Metrics lines: sections (a name and a table of counters: name, offset,
 * gauge or delta), the VMM's own around those registered by the devices; a
 * flush walks them, exchanging the deltas with 0, and writes the JSON object
 * with a single write(). */
#include "core/metrics.h"

#include "core/event_loop.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define FLUSH_SECONDS 60

struct volt_metrics volt_metrics;

#define F(sec, f, g)                                        \
	{                                                   \
#f, offsetof(struct volt_metrics, sec.f), g \
	}
#define D(sec, f) F(sec, f, false)
#define G(sec, f) F(sec, f, true)
#define A(sec, f) F(sec, f.min_us, true), F(sec, f.max_us, true), F(sec, f.sum_us, false)

/* The VMM's sections: base &volt_metrics, offsets from there. */
static const struct metric_field api_server_fields[] = {
	G(api_server, process_startup_time_us),
	G(api_server, process_startup_time_cpu_us),
};
static const struct metric_field deprecated_api_fields[] = {
	D(deprecated_api, deprecated_http_api_calls),
};
static const struct metric_field get_api_requests_fields[] = {
	D(get_api_requests, instance_info_count),  D(get_api_requests, machine_cfg_count),
	D(get_api_requests, mmds_count),	   D(get_api_requests, vmm_version_count),
	D(get_api_requests, hotplug_memory_count),
};
static const struct metric_field put_api_requests_fields[] = {
	D(put_api_requests, actions_count),	   D(put_api_requests, actions_fails),
	D(put_api_requests, boot_source_count),	   D(put_api_requests, boot_source_fails),
	D(put_api_requests, drive_count),	   D(put_api_requests, drive_fails),
	D(put_api_requests, logger_count),	   D(put_api_requests, logger_fails),
	D(put_api_requests, machine_cfg_count),	   D(put_api_requests, machine_cfg_fails),
	D(put_api_requests, cpu_cfg_count),	   D(put_api_requests, cpu_cfg_fails),
	D(put_api_requests, metrics_count),	   D(put_api_requests, metrics_fails),
	D(put_api_requests, network_count),	   D(put_api_requests, network_fails),
	D(put_api_requests, mmds_count),	   D(put_api_requests, mmds_fails),
	D(put_api_requests, vsock_count),	   D(put_api_requests, vsock_fails),
	D(put_api_requests, pmem_count),	   D(put_api_requests, pmem_fails),
	D(put_api_requests, serial_count),	   D(put_api_requests, serial_fails),
	D(put_api_requests, hotplug_memory_count), D(put_api_requests, hotplug_memory_fails),
};
static const struct metric_field patch_api_requests_fields[] = {
	D(patch_api_requests, drive_count),	     D(patch_api_requests, drive_fails),
	D(patch_api_requests, network_count),	     D(patch_api_requests, network_fails),
	D(patch_api_requests, machine_cfg_count),    D(patch_api_requests, machine_cfg_fails),
	D(patch_api_requests, mmds_count),	     D(patch_api_requests, mmds_fails),
	D(patch_api_requests, hotplug_memory_count), D(patch_api_requests, hotplug_memory_fails),
	D(patch_api_requests, pmem_count),	     D(patch_api_requests, pmem_fails),
};
static const struct metric_field latencies_us_fields[] = {
	G(latencies_us, full_create_snapshot),
	G(latencies_us, diff_create_snapshot),
	G(latencies_us, load_snapshot),
	G(latencies_us, pause_vm),
	G(latencies_us, resume_vm),
	G(latencies_us, vmm_full_create_snapshot),
	G(latencies_us, vmm_diff_create_snapshot),
	G(latencies_us, vmm_load_snapshot),
	G(latencies_us, vmm_pause_vm),
	G(latencies_us, vmm_resume_vm),
};
static const struct metric_field vmm_fields[] = {
	G(vmm, panic_count),
};
static const struct metric_field vcpu_fields[] = {
	D(vcpu, exit_io_in),	      D(vcpu, exit_io_out),	D(vcpu, exit_mmio_read),
	D(vcpu, exit_mmio_write),     D(vcpu, failures),	D(vcpu, kvmclock_ctrl_fails),
	A(vcpu, exit_io_in_agg),      A(vcpu, exit_io_out_agg), A(vcpu, exit_mmio_read_agg),
	A(vcpu, exit_mmio_write_agg),
};
static const struct metric_field seccomp_fields[] = {
	G(seccomp, num_faults), /* a store metric in Firecracker: kept in every later line */
};
/* Firecracker's are stores (set once, never reset), but sigpipe, a count. */
static const struct metric_field signals_fields[] = {
	G(signals, sigbus),  G(signals, sigsegv), G(signals, sigxfsz), G(signals, sigxcpu),
	D(signals, sigpipe), G(signals, sighup),  G(signals, sigill),
};
static const struct metric_field interrupts_fields[] = {
	D(interrupts, triggers),
	D(interrupts, config_updates),
};
static const struct metric_field uart_fields[] = {
	D(uart, read_count),
	D(uart, write_count),
	D(uart, missed_read_count),
	D(uart, missed_write_count),
	D(uart, error_count),
	D(uart, flush_count),
	D(uart, rate_limiter_dropped_bytes),
};
static const struct metric_field i8042_fields[] = {
	D(i8042, read_count),	      D(i8042, write_count), D(i8042, missed_read_count),
	D(i8042, missed_write_count), D(i8042, reset_count), D(i8042, error_count),
};
static const struct metric_field logger_fields[] = {
	D(logger, missed_metrics_count),
	D(logger, metrics_fails),
	D(logger, missed_log_count),
	D(logger, rate_limited_log_count),
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define SECTION(sec)                                                   \
	{                                                              \
#sec, &volt_metrics, sec##_fields, NELEM(sec##_fields) \
	}

/* Firecracker's order: the VMM's sections, the devices', the legacy devices
 * and the logger. */
static const struct metrics_section head[] = {
	SECTION(api_server),
	SECTION(deprecated_api),
	SECTION(get_api_requests),
	SECTION(put_api_requests),
	SECTION(patch_api_requests),
	SECTION(latencies_us),
	SECTION(vmm),
	SECTION(vcpu),
	SECTION(seccomp),
	SECTION(signals),
	SECTION(interrupts),
};
static const struct metrics_section tail[] = {
	SECTION(uart),
	SECTION(i8042),
	SECTION(logger),
};

#define CORE_COUNTERS                                                                        \
	(NELEM(api_server_fields) + NELEM(deprecated_api_fields) +                           \
	 NELEM(get_api_requests_fields) + NELEM(put_api_requests_fields) +                   \
	 NELEM(patch_api_requests_fields) + NELEM(latencies_us_fields) + NELEM(vmm_fields) + \
	 NELEM(vcpu_fields) + NELEM(seccomp_fields) + NELEM(signals_fields) +                \
	 NELEM(interrupts_fields) + NELEM(uart_fields) + NELEM(i8042_fields) +               \
	 NELEM(logger_fields))

/* A counter added to the struct but not to a table would never be written. */
_Static_assert(CORE_COUNTERS * sizeof(metric_t) == sizeof(struct volt_metrics),
	       "every field of struct volt_metrics needs a line in a section");

/* lock guards the destination, the registered sections and taken[]; the
 * counters themselves are atomics that need none. taken[] follows the
 * sections' order, so a flush takes and gives back under one hold of the
 * lock: no section comes or goes in between. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const struct metrics_section *registered[METRICS_MAX_SECTIONS];
static size_t nregistered, registered_counters;
/* The values one line took (deltas reset): given back if it is not written. */
static uint64_t taken[CORE_COUNTERS + METRICS_MAX_COUNTERS];
static int out_fd = -1;
static bool out_is_fifo;
static int timer_fd = -1;
/* Firecracker's optional top-level fields (PUT /metrics emit_id, properties). */
static char *line_id;
static json_t *line_properties;

uint64_t metrics_us_since(const struct timespec *start)
{
	struct timespec now;
	int64_t us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (int64_t)(now.tv_sec - start->tv_sec) * 1000000 +
	     (now.tv_nsec - start->tv_nsec) / 1000;
	return us > 0 ? (uint64_t)us : 0;
}

void metric_agg_add(struct metric_agg *a, uint64_t us)
{
	uint64_t seen;

	METRIC_ADD(a->sum_us, us);
	/* Firecracker's 0 means "none yet", so an event of 0 us is kept as 0
	 * and any later one replaces it; a compare-exchange loop rather than
	 * its load-then-store, which two vCPUs could interleave. */
	seen = atomic_load_explicit(&a->min_us, memory_order_relaxed);
	while ((seen == 0 || us < seen) &&
	       !atomic_compare_exchange_weak_explicit(&a->min_us, &seen, us, memory_order_relaxed,
						      memory_order_relaxed))
		;
	seen = atomic_load_explicit(&a->max_us, memory_order_relaxed);
	while (us > seen &&
	       !atomic_compare_exchange_weak_explicit(&a->max_us, &seen, us, memory_order_relaxed,
						      memory_order_relaxed))
		;
}

static metric_t *counter(const struct metrics_section *s, size_t i)
{
	return (metric_t *)((char *)s->base + s->fields[i].off);
}

int metrics_register(const struct metrics_section *s)
{
	size_t i;
	int err = 0;

	pthread_mutex_lock(&lock);
	for (i = 0; i < nregistered && !err; i++)
		if (registered[i] == s || !strcmp(registered[i]->name, s->name))
			err = -EEXIST;
	for (i = 0; i < NELEM(head) && !err; i++)
		if (!strcmp(head[i].name, s->name))
			err = -EEXIST;
	for (i = 0; i < NELEM(tail) && !err; i++)
		if (!strcmp(tail[i].name, s->name))
			err = -EEXIST;
	if (!err && (nregistered == METRICS_MAX_SECTIONS ||
		     s->n > METRICS_MAX_COUNTERS - registered_counters))
		err = -ENOSPC;
	if (!err) {
		registered[nregistered++] = s;
		registered_counters += s->n;
	}
	pthread_mutex_unlock(&lock);
	return err;
}

int metrics_unregister(const struct metrics_section *s)
{
	size_t i;
	int err = -ENOENT;

	pthread_mutex_lock(&lock);
	for (i = 0; i < nregistered; i++)
		if (registered[i] == s)
			break;
	if (i < nregistered) {
		registered_counters -= s->n;
		nregistered--;
		/* Keeps the others' order: a line lists them as registered. */
		for (; i < nregistered; i++)
			registered[i] = registered[i + 1];
		err = 0;
	}
	pthread_mutex_unlock(&lock);
	return err;
}

int metrics_own_add(struct metrics_own *o, const char *prefix, const char *id,
		    const struct metrics_section *kind, void *base)
{
	size_t size = strlen(prefix) + strlen(id) + 1;
	int err;

	o->added = false;
	o->name = malloc(size);
	if (!o->name)
		return -ENOMEM;
	snprintf(o->name, size, "%s%s", prefix, id);
	o->section = (struct metrics_section){
		.name = o->name, .base = base, .fields = kind->fields, .n = kind->n
	};
	err = metrics_register(&o->section);
	if (err) {
		free(o->name);
		o->name = NULL;
		return err;
	}
	o->added = true;
	return 0;
}

void metrics_own_remove(struct metrics_own *o)
{
	if (o->added)
		metrics_unregister(&o->section);
	free(o->name);
	o->name = NULL;
	o->added = false;
}

/* Calls fn on every section, in the line's order; under lock. */
static bool each_section(bool (*fn)(const struct metrics_section *s, void *ctx), void *ctx)
{
	size_t i;

	for (i = 0; i < NELEM(head); i++)
		if (!fn(&head[i], ctx))
			return false;
	for (i = 0; i < nregistered; i++)
		if (!fn(registered[i], ctx))
			return false;
	for (i = 0; i < NELEM(tail); i++)
		if (!fn(&tail[i], ctx))
			return false;
	return true;
}

/* Takes the section's values into taken[*pos...], resetting the deltas. */
static bool take(const struct metrics_section *s, void *ctx)
{
	size_t *pos = ctx, i;

	for (i = 0; i < s->n; i++)
		taken[(*pos)++] =
			s->fields[i].gauge
				? atomic_load_explicit(counter(s, i), memory_order_relaxed)
				: atomic_exchange_explicit(counter(s, i), 0, memory_order_relaxed);
	return true;
}

/* A line that was not written gives its deltas back to the next one. */
static bool give_back(const struct metrics_section *s, void *ctx)
{
	size_t *pos = ctx, i;

	for (i = 0; i < s->n; i++, (*pos)++)
		if (!s->fields[i].gauge)
			atomic_fetch_add_explicit(counter(s, i), taken[*pos], memory_order_relaxed);
	return true;
}

struct format {
	json_t *root;
	size_t pos;
};

/* The section's object, from taken[]. */
static bool format(const struct metrics_section *s, void *ctx)
{
	struct format *f = ctx;
	json_t *sec = json_object();
	size_t i;

	if (!sec || json_object_set_new(f->root, s->name, sec))
		return false;
	for (i = 0; i < s->n; i++) {
		uint64_t v = taken[f->pos++];
		const char *name = s->fields[i].name, *dot = strchr(name, '.');
		json_t *in = sec;

		if (dot) { /* "group.name": the group's object, made by its first field */
			char group[64];

			snprintf(group, sizeof(group), "%.*s", (int)(dot - name), name);
			in = json_object_get(sec, group);
			if (!in && json_object_set_new(sec, group, in = json_object()))
				return false;
			name = dot + 1;
		}
		/* jansson's integers are signed 64-bit; counters never get there. */
		if (json_object_set_new(in, name,
					json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v)))
			return false;
	}
	return true;
}

/* Takes the values (resetting the deltas) into taken[] and formats them;
 * under lock. */
static char *render(void)
{
	struct format f = { .root = NULL, .pos = 0 };
	struct timespec now;
	char *line = NULL;
	size_t pos = 0;

	METRICS_ADD(logger.missed_log_count, log_take_missed());
	each_section(take, &pos);
	f.root = json_object();
	if (!f.root)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &now);
	json_object_set_new(f.root, "utc_timestamp_ms",
			    json_integer((json_int_t)now.tv_sec * 1000 + now.tv_nsec / 1000000));
	if (line_id)
		json_object_set_new(f.root, "id", json_string(line_id));
	if (line_properties)
		json_object_set(f.root, "properties", line_properties);
	if (each_section(format, &f))
		line = json_dumps(f.root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(f.root);
	return line;
}

static void restore(void)
{
	size_t pos = 0;

	each_section(give_back, &pos);
}

char *metrics_render(void)
{
	char *line;

	pthread_mutex_lock(&lock);
	line = render();
	pthread_mutex_unlock(&lock);
	return line;
}

/* Room left in the pipe, for lines longer than PIPE_BUF, which a pipe may
 * take in part: such a line is dropped rather than torn (a torn line would
 * corrupt the next one too). Shorter lines go whole or fail with EAGAIN, and
 * need neither of these system calls. A pipe holds pages, not bytes: a
 * line's last page is shared with the next line only when that one's tail
 * fits in it, and a page the reader has read in part still counts. With
 * lines of a page or more (Firecracker's line is ~7 KiB) the bytes queued
 * fill at least half of the pages they use, less a page for the reader's
 * and one for the last line's: the bound below, which never
 * overestimates the room. */
static bool fifo_has_room(int fd, size_t len)
{
	const size_t page = 4096; /* the pipe's buffer unit on x86-64 */
	int size, queued = 0;

	if (len <= PIPE_BUF)
		return true;
	size = fcntl(fd, F_GETPIPE_SZ);
	if (size <= 0 || ioctl(fd, FIONREAD, &queued) || queued < 0)
		return true; /* unknown: let write() decide */
	return (size_t)size >= 2 * (size_t)queued + 2 * page + (len + page - 1) / page * page;
}

/* A line cut short (a full disk) is taken back off the end of a file, where
 * it would run into the next line and spoil both for a reader. -EIO. */
static int take_back(int fd, size_t written)
{
	struct stat st;

	if (!out_is_fifo && !fstat(fd, &st) && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size >= written && ftruncate(fd, st.st_size - (off_t)written))
		pr_debug("metrics: cannot take a cut line back: %s", strerror(errno));
	return -EIO;
}

static int write_line(int fd, const char *buf, size_t len)
{
	size_t off = 0;

	if (out_is_fifo && !fifo_has_room(fd, len))
		return -EAGAIN;
	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && off)
			return take_back(fd, off);
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

static int flush(bool wait)
{
	char *line;
	size_t len;
	int err;

	if (!wait && pthread_mutex_trylock(&lock))
		return -EBUSY;
	if (wait)
		pthread_mutex_lock(&lock);
	if (out_fd < 0) {
		pthread_mutex_unlock(&lock);
		return -ENOENT;
	}
	line = render();
	if (!line) {
		restore();
		METRICS_INC(logger.metrics_fails);
		pthread_mutex_unlock(&lock);
		return -ENOMEM;
	}
	len = strlen(line);
	line[len] = '\n'; /* json_dumps' terminating NUL; the buffer holds len + 1 */
	err = write_line(out_fd, line, len + 1);
	free(line);
	if (err == -EAGAIN || err == -EWOULDBLOCK) {
		err = -EAGAIN;
		restore();
		METRICS_INC(logger.missed_metrics_count);
	} else if (err) {
		/* Possibly written in part: giving the counts back could count twice. */
		METRICS_INC(logger.metrics_fails);
	}
	pthread_mutex_unlock(&lock);
	return err;
}

int metrics_flush(void)
{
	return flush(true);
}

int metrics_flush_unless_busy(void)
{
	return flush(false);
}

int metrics_open(const char *path)
{
	char why[160];
	int fd, err;

	pthread_mutex_lock(&lock);
	if (out_fd >= 0) {
		pthread_mutex_unlock(&lock);
		pr_err("metrics: already configured");
		return -EEXIST;
	}
	err = log_open_sink(path, &fd, &out_is_fifo, why, sizeof(why));
	if (err) {
		pthread_mutex_unlock(&lock);
		pr_err("metrics '%s': %s", path, why);
		return err;
	}
	out_fd = fd;
	pthread_mutex_unlock(&lock);
	return 0;
}

int metrics_set_labels(const char *id, const json_t *properties)
{
	char *copy_id = NULL;
	json_t *copy = NULL;

	if ((id && !(copy_id = strdup(id))) ||
	    (properties && !(copy = json_deep_copy(properties)))) {
		free(copy_id);
		return -ENOMEM;
	}
	pthread_mutex_lock(&lock);
	free(line_id);
	json_decref(line_properties);
	line_id = copy_id;
	line_properties = copy;
	pthread_mutex_unlock(&lock);
	return 0;
}

void metrics_close(void)
{
	pthread_mutex_lock(&lock);
	if (out_fd >= 0)
		close(out_fd);
	out_fd = -1;
	free(line_id);
	json_decref(line_properties);
	line_id = NULL;
	line_properties = NULL;
	pthread_mutex_unlock(&lock);
}

static void on_timer(void *ctx, uint32_t events)
{
	uint64_t n;
	int err;

	(void)ctx;
	(void)events;
	if (read(timer_fd, &n, sizeof(n)) < 0)
		return;
	err = metrics_flush();
	if (err && err != -ENOENT && err != -EAGAIN)
		pr_warn("metrics: cannot write: %s", strerror(-err));
}

int metrics_attach(struct event_loop *loop)
{
	struct itimerspec its = {
		.it_value.tv_sec = FLUSH_SECONDS,
		.it_interval.tv_sec = FLUSH_SECONDS,
	};
	bool open;
	int err;

	pthread_mutex_lock(&lock);
	open = out_fd >= 0;
	pthread_mutex_unlock(&lock);
	if (!open || timer_fd >= 0)
		return 0; /* no metrics file / one VM per process */
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (timer_fd < 0) {
		err = -errno;
		pr_err("metrics: timerfd_create: %s", strerror(-err));
		return err;
	}
	if (timerfd_settime(timer_fd, 0, &its, NULL)) {
		err = -errno;
		goto fail;
	}
	err = event_loop_add(loop, timer_fd, EPOLLIN, on_timer, NULL);
	if (!err)
		return 0;
fail:
	pr_err("metrics: cannot start the flush timer: %s", strerror(-err));
	close(timer_fd);
	timer_fd = -1;
	return err;
}
