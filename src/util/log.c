#include "util/log.h"
#include "util/parse.h"

#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MSG_MAX	     2048
#define LOG_LINE_MAX 3072 /* < PIPE_BUF: a line fits a FIFO whole or not at all */
#define ID_MAX	     64

static _Atomic int current_level = LOG_INFO;
/* The log file's tag: Firecracker's defaults (its logger's LogFormat). */
static atomic_bool show_level = false, show_origin = false;
/* -1: stderr in volt's own format; else the log_open() file. */
static _Atomic int log_fd = -1;
static _Atomic uint64_t missed;
/* The file ends inside a line (a full disk cut a write short): the next line
 * ends it first, so that two lines never run into one. */
static atomic_bool cut_line;
/* Local time's offset from UTC (s) when the log file was opened: the time of
 * log_error_signal_safe(), which cannot call localtime_r(). */
static _Atomic long utc_offset;
static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static char instance_id[ID_MAX + 1] = "anonymous-instance";
static __thread char last_error[MSG_MAX];
/* log_set_thread_name()'s, read without a syscall: under the sandbox's
 * filters prctl(PR_GET_NAME) would kill the thread. "" until named. */
static __thread char thread_name[16];

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARN] = "warning",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

/* Firecracker's level names in its log files. */
static const char *const file_level_names[] = {
	[LOG_ERROR] = "ERROR",
	[LOG_WARN] = "WARN",
	[LOG_INFO] = "INFO",
	[LOG_DEBUG] = "DEBUG",
};

void log_set_level(enum log_level level)
{
	atomic_store(&current_level, (int)level);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load(&current_level);
}

int log_level_parse(const char *s, enum log_level *out)
{
	if (!strcasecmp(s, "off"))
		*out = LOG_OFF;
	else if (!strcasecmp(s, "error"))
		*out = LOG_ERROR;
	else if (!strcasecmp(s, "warn") || !strcasecmp(s, "warning"))
		*out = LOG_WARN;
	else if (!strcasecmp(s, "info"))
		*out = LOG_INFO;
	else if (!strcasecmp(s, "debug") || !strcasecmp(s, "trace"))
		*out = LOG_DEBUG;
	else
		return -EINVAL;
	return 0;
}

int log_level_option(const char *s)
{
	enum log_level level;

	if (log_level_parse(s, &level)) {
		pr_err("--log-level: '%s' is not off, error, warn, info or debug", s);
		return -EINVAL;
	}
	log_set_level(level);
	return 0;
}

void log_set_options(bool level, bool origin)
{
	atomic_store(&show_level, level);
	atomic_store(&show_origin, origin);
}

void log_set_thread_name(const char *name)
{
	snprintf(thread_name, sizeof(thread_name), "%s", name);
	pthread_setname_np(pthread_self(), thread_name);
}

bool log_has_file(void)
{
	return atomic_load(&log_fd) >= 0;
}

void log_set_instance_id(const char *id)
{
	pthread_mutex_lock(&id_lock);
	snprintf(instance_id, sizeof(instance_id), "%s", id);
	pthread_mutex_unlock(&id_lock);
}

const char *log_last_error(void)
{
	return last_error;
}

void log_clear_last_error(void)
{
	last_error[0] = '\0';
}

uint64_t log_take_missed(void)
{
	return atomic_exchange(&missed, 0);
}

int log_open_sink(const char *path, int *fd, bool *is_fifo, char *why, size_t why_size)
{
	struct stat st;
	int f, err;

	/* Never blocks (open_input): a FIFO opened write-only fails (ENXIO)
	 * until a reader comes; read-write never does, and the pipe then holds
	 * 64 KiB for a late reader. A character device (/dev/null, /dev/stdout
	 * on a terminal) takes lines as Firecracker's logger would, without
	 * blocking: a stopped terminal loses lines, not a thread. The type is
	 * what was opened, not what the path named a moment before. */
	err = open_input(path, O_WRONLY | O_APPEND | O_CREAT, INPUT_FILE | INPUT_FIFO | INPUT_CHR,
			 &f, &st, why, why_size);
	if (!err && S_ISFIFO(st.st_mode)) {
		close(f);
		err = -ENXIO;
	}
	if (err == -ENXIO)
		err = open_input(path, O_RDWR, INPUT_FIFO, &f, &st, why, why_size);
	if (err)
		return err == -EISDIR ? -EINVAL : err;
	*fd = f;
	*is_fifo = S_ISFIFO(st.st_mode);
	return 0;
}

int log_open(const char *path)
{
	char why[160];
	bool fifo;
	int fd = -1, old, err;

	err = log_open_sink(path, &fd, &fifo, why, sizeof(why));
	if (err) {
		pr_err("log '%s': %s", path, why);
		return err;
	}
	/* Local time as Firecracker writes it: read the zone now, before a
	 * sandbox may hide /etc/localtime. */
	tzset();
	{
		time_t now = time(NULL);
		struct tm tm;

		if (localtime_r(&now, &tm))
			atomic_store(&utc_offset, tm.tm_gmtoff);
	}
	old = atomic_load(&log_fd);
	if (old >= 0) {
		/* Swap the file under the same fd: other threads may be writing. */
		if (dup3(fd, old, O_CLOEXEC) < 0) {
			err = -errno;
			close(fd);
			pr_err("cannot switch the log to %s: %s", path, strerror(-err));
			return err;
		}
		close(fd);
		return 0;
	}
	atomic_store(&cut_line, false);
	atomic_store(&log_fd, fd);
	return 0;
}

/* "src/vmm/vm.c" out of however the build named it ("../main/src/vmm/vm.c"):
 * whatever precedes this file's own "src/util/log.c" is the source root. */
static const char *short_path(const char *file)
{
	static const char self[] = __FILE__, tail[] = "src/util/log.c";
	size_t root = sizeof(self) - sizeof(tail);

	if (sizeof(self) >= sizeof(tail) && !strcmp(self + root, tail) &&
	    !strncmp(file, self, root))
		return file + root;
	return file;
}

static int file_prefix(char *buf, size_t size, enum log_level level, const char *file, int line)
{
	struct timespec ts;
	struct tm tm;
	char date[32];
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&id_lock);
	/* An unnamed thread (the main one): "main", as Rust names the main
	 * thread in Firecracker's tags. */
	n = snprintf(buf, size, "%s.%09ld [%s:%s", date, ts.tv_nsec, instance_id,
		     thread_name[0] ? thread_name : "main");
	pthread_mutex_unlock(&id_lock);
	if (atomic_load(&show_level))
		n += snprintf(buf + n, size - (size_t)n, ":%s", file_level_names[level]);
	if (atomic_load(&show_origin) && file)
		n += snprintf(buf + n, size - (size_t)n, ":%s:%d", short_path(file), line);
	n += snprintf(buf + n, size - (size_t)n, "] ");
	return n;
}

static int stderr_prefix(char *buf, size_t size, enum log_level level, const char *file, int line)
{
	/* Always the level, whatever show_level says (the file's option): a
	 * script or a person reading stderr must tell a failure from chatter. */
	int n = snprintf(buf, size, "volt: %s: ", level_names[level]);

	if (atomic_load(&show_origin) && file)
		n += snprintf(buf + n, size - (size_t)n, "%s:%d: ", short_path(file), line);
	return n;
}

/* file_only: a line for the log file alone (log_file_msg_at), which neither
 * goes to stderr nor counts as the thread's last error. */
static void vlog(enum log_level level, bool file_only, const char *file, int line, const char *fmt,
		 va_list ap)
{
	char raw[MSG_MAX], msg[MSG_MAX], out[LOG_LINE_MAX];
	int fd = atomic_load(&log_fd), n;
	ssize_t w;

	if (level < LOG_ERROR || level > LOG_DEBUG)
		return;
	if (file_only && fd < 0)
		return;
	if ((file_only || level != LOG_ERROR) && level > log_get_level())
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	escape_controls(raw, msg, sizeof(msg), false);
	if (level == LOG_ERROR && !file_only) {
		memcpy(last_error, msg, sizeof(msg));
		if (level > log_get_level())
			return;
	}
	n = fd >= 0 ? file_prefix(out, sizeof(out), level, file, line)
		    : stderr_prefix(out, sizeof(out), level, file, line);
	n += snprintf(out + n, sizeof(out) - (size_t)n, "%s\n", msg);
	if (n >= (int)sizeof(out)) { /* cut: keep the newline */
		n = (int)sizeof(out) - 1;
		out[n - 1] = '\n';
	}
	if (fd < 0) {
		fd = STDERR_FILENO;
		do
			w = write(fd, out, (size_t)n);
		while (w < 0 && errno == EINTR);
		return;
	}
	if (atomic_exchange(&cut_line, false)) {
		do
			w = write(fd, "\n", 1);
		while (w < 0 && errno == EINTR);
		if (w != 1) {
			atomic_store(&cut_line, true);
			atomic_fetch_add(&missed, 1);
			return;
		}
	}
	do
		w = write(fd, out, (size_t)n);
	while (w < 0 && errno == EINTR);
	/* A FIFO takes a line under PIPE_BUF whole or refuses it (EAGAIN). */
	if (w != n)
		atomic_fetch_add(&missed, 1);
	if (w > 0 && w < n)
		atomic_store(&cut_line, true);
}

void log_msg_at(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, false, file, line, fmt, ap);
	va_end(ap);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, false, NULL, 0, fmt, ap);
	va_end(ap);
}

void log_file_msg_at(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, true, file, line, fmt, ap);
	va_end(ap);
}

/* ---- lines from signal handlers: stores and write(2) only ---------------- */

static char *put_str(char *p, char *end, const char *s)
{
	while (*s && p < end)
		*p++ = *s++;
	return p;
}

/* v in decimal, at least width digits. */
static char *put_uint(char *p, char *end, unsigned long long v, int width)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while ((v || n < width) && n < (int)sizeof(tmp));
	while (n && p < end)
		*p++ = tmp[--n];
	return p;
}

size_t log_format_time_safe(char *buf, size_t size, long long secs, long nsec)
{
	/* Days since 1970-01-01 to a civil date (proleptic Gregorian, H.
	 * Hinnant's algorithm): gmtime_r is not async-signal-safe. */
	long long days = secs / 86400, rem = secs % 86400, z, era, doe, yoe, y, doy, mp, d, m;
	char *p = buf, *end;

	if (!size)
		return 0;
	end = buf + size - 1;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	p = put_uint(p, end, (unsigned long long)(y < 0 ? 0 : y), 4);
	p = put_str(p, end, "-");
	p = put_uint(p, end, (unsigned long long)m, 2);
	p = put_str(p, end, "-");
	p = put_uint(p, end, (unsigned long long)d, 2);
	p = put_str(p, end, "T");
	p = put_uint(p, end, (unsigned long long)(rem / 3600), 2);
	p = put_str(p, end, ":");
	p = put_uint(p, end, (unsigned long long)(rem / 60 % 60), 2);
	p = put_str(p, end, ":");
	p = put_uint(p, end, (unsigned long long)(rem % 60), 2);
	p = put_str(p, end, ".");
	p = put_uint(p, end, (unsigned long long)(nsec < 0 ? 0 : nsec), 9);
	*p = '\0';
	return (size_t)(p - buf);
}

void log_error_signal_safe(const char *msg)
{
	char out[LOG_LINE_MAX], *p = out, *end = out + sizeof(out) - 1;
	int fd = atomic_load(&log_fd);
	struct timespec ts;
	ssize_t w;

	if (log_get_level() < LOG_ERROR)
		return;
	if (fd >= 0) {
		/* The instance id is set once at start, before any signal
		 * handler can run; read without id_lock, which the interrupted
		 * thread may hold. */
		clock_gettime(CLOCK_REALTIME, &ts);
		p += log_format_time_safe(p, (size_t)(end - p),
					  (long long)ts.tv_sec + atomic_load(&utc_offset),
					  ts.tv_nsec);
		p = put_str(p, end, " [");
		p = put_str(p, end, instance_id);
		p = put_str(p, end, ":");
		p = put_str(p, end, thread_name[0] ? thread_name : "main");
		if (atomic_load(&show_level))
			p = put_str(p, end, ":ERROR");
		p = put_str(p, end, "] ");
	} else {
		fd = STDERR_FILENO;
		p = put_str(p, end, "volt: error: ");
	}
	p = put_str(p, end, msg);
	*p++ = '\n';
	do
		w = write(fd, out, (size_t)(p - out));
	while (w < 0 && errno == EINTR);
	if (w != p - out)
		atomic_fetch_add(&missed, 1);
}
