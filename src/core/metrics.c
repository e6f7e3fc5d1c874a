/* Metrics lines: a table names every counter of struct volt_metrics with its
 * section and whether it is a gauge; a flush walks it, exchanging the deltas
 * with 0, and writes the JSON object with a single write(). */
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

struct field {
	const char *section, *name;
	size_t off;
	bool gauge;
};

#define F(sec, f, g)                                              \
	{                                                         \
#sec, #f, offsetof(struct volt_metrics, sec.f), g \
	}
#define D(sec, f) F(sec, f, false)
#define G(sec, f) F(sec, f, true)

/* In struct order; a section's fields must be consecutive. */
static const struct field fields[] = {
	G(api_server, process_startup_time_us),
	G(api_server, process_startup_time_cpu_us),
	D(api, requests),
	D(api, fails),
	D(api, pause_count),
	D(api, resume_count),
	D(api, actions_count),
	G(vmm, boot_time_us),
	G(vmm, boot_time_cpu_us),
	D(vcpu, exit_io_in),
	D(vcpu, exit_io_out),
	D(vcpu, exit_mmio_read),
	D(vcpu, exit_mmio_write),
	D(vcpu, failures),
	D(block, queue_event_count),
	D(block, read_count),
	D(block, write_count),
	D(block, flush_count),
	D(block, read_bytes),
	D(block, write_bytes),
	D(block, invalid_reqs_count),
	D(block, execute_fails),
	D(net, rx_queue_event_count),
	D(net, tx_queue_event_count),
	D(net, rx_tap_event_count),
	D(net, rx_packets_count),
	D(net, rx_bytes_count),
	D(net, tx_packets_count),
	D(net, tx_bytes_count),
	D(net, rx_fails),
	D(net, tx_fails),
	D(net, no_rx_avail_buffer),
	D(net, tap_read_fails),
	D(vsock, rx_packets_count),
	D(vsock, rx_bytes_count),
	D(vsock, tx_packets_count),
	D(vsock, tx_bytes_count),
	D(vsock, conns_added),
	D(vsock, conns_removed),
	D(vsock, rx_queue_event_count),
	D(vsock, tx_queue_event_count),
	D(balloon, inflate_count),
	D(balloon, deflate_count),
	D(balloon, stats_updates_count),
	D(entropy, entropy_event_count),
	D(entropy, entropy_bytes),
	D(entropy, host_rng_fails),
	D(uart, read_count),
	D(uart, write_count),
	D(uart, missed_read_count),
	D(i8042, read_count),
	D(i8042, write_count),
	D(i8042, missed_read_count),
	D(i8042, missed_write_count),
	D(i8042, reset_count),
	D(i8042, error_count),
	D(logger, missed_metrics_count),
	D(logger, metrics_fails),
	D(logger, missed_log_count),
};

/* A counter added to the struct but not to the table would never be written. */
_Static_assert(sizeof(fields) / sizeof(fields[0]) * sizeof(metric_t) == sizeof(struct volt_metrics),
	       "every field of struct volt_metrics needs a line in fields[]");

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int out_fd = -1;
static bool out_is_fifo;
static int timer_fd = -1;

uint64_t metrics_us_since(const struct timespec *start)
{
	struct timespec now;
	int64_t us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (int64_t)(now.tv_sec - start->tv_sec) * 1000000 +
	     (now.tv_nsec - start->tv_nsec) / 1000;
	return us > 0 ? (uint64_t)us : 0;
}

static metric_t *field_ptr(const struct field *f)
{
	return (metric_t *)((char *)&volt_metrics + f->off);
}

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

/* Takes the values (resetting the deltas) into vals and formats them. */
static char *render(uint64_t *vals)
{
	json_t *root = json_object(), *sec = NULL;
	const char *sec_name = NULL;
	struct timespec now;
	char *line = NULL;
	size_t i;

	METRICS_ADD(logger.missed_log_count, log_take_missed());
	for (i = 0; i < NFIELDS; i++)
		vals[i] = fields[i].gauge ? atomic_load_explicit(field_ptr(&fields[i]),
								 memory_order_relaxed)
					  : atomic_exchange_explicit(field_ptr(&fields[i]), 0,
								     memory_order_relaxed);
	if (!root)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &now);
	json_object_set_new(root, "utc_timestamp_ms",
			    json_integer((json_int_t)now.tv_sec * 1000 + now.tv_nsec / 1000000));
	for (i = 0; i < NFIELDS; i++) {
		const struct field *f = &fields[i];

		if (!sec_name || strcmp(sec_name, f->section)) {
			sec = json_object();
			if (!sec || json_object_set_new(root, f->section, sec))
				goto out;
			sec_name = f->section;
		}
		/* jansson's integers are signed 64-bit; counters never get there. */
		if (json_object_set_new(
			    sec, f->name,
			    json_integer(vals[i] > INT64_MAX ? INT64_MAX : (json_int_t)vals[i])))
			goto out;
	}
	line = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
	json_decref(root);
	return line;
}

/* A line that was not written gives its deltas back to the next one. */
static void restore(const uint64_t *vals)
{
	size_t i;

	for (i = 0; i < NFIELDS; i++)
		if (!fields[i].gauge)
			atomic_fetch_add_explicit(field_ptr(&fields[i]), vals[i],
						  memory_order_relaxed);
}

char *metrics_render(void)
{
	uint64_t vals[NFIELDS];

	return render(vals);
}

/* Room left in the pipe, for lines longer than PIPE_BUF, which a pipe may
 * take in part: such a line is dropped rather than torn (a torn line would
 * corrupt the next one too). Shorter lines go whole or fail with EAGAIN, and
 * need neither of these system calls (the sandbox need not allow them). */
static bool fifo_has_room(int fd, size_t len)
{
	int size, queued = 0;

	if (len <= PIPE_BUF)
		return true;
	size = fcntl(fd, F_GETPIPE_SZ);
	if (size <= 0 || ioctl(fd, FIONREAD, &queued))
		return true; /* unknown: let write() decide */
	return (size_t)size >= (size_t)queued + len;
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
		if (n < 0)
			return off ? -EIO : -errno;
		off += (size_t)n;
	}
	return 0;
}

int metrics_flush(void)
{
	uint64_t vals[NFIELDS];
	char *line;
	size_t len;
	int err;

	pthread_mutex_lock(&lock);
	if (out_fd < 0) {
		pthread_mutex_unlock(&lock);
		return -ENOENT;
	}
	line = render(vals);
	if (!line) {
		restore(vals);
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
		restore(vals);
		METRICS_INC(logger.missed_metrics_count);
	} else if (err) {
		/* Possibly written in part: giving the counts back could count twice. */
		METRICS_INC(logger.metrics_fails);
	}
	pthread_mutex_unlock(&lock);
	return err;
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

void metrics_close(void)
{
	pthread_mutex_lock(&lock);
	if (out_fd >= 0)
		close(out_fd);
	out_fd = -1;
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
