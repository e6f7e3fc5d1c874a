/* Leveled logging, thread-safe: every message is one line written with a
 * single write(), so lines from several threads never mix.
 *
 * By default lines go to stderr as "volt: <level>: <msg>" ("volt: <level>:
 * <file>:<line>: <msg>" with the origin shown). After log_open() (PUT
 * /logger, --log-path) they go to that file or FIFO instead, in Firecracker's
 * format (its logger/logging.rs, which its tests and tools parse):
 * "<local time, ns> [<instance id>:<thread>:<LEVEL>:<file>:<line>] <msg>",
 * LEVEL and file:line only as log_set_options() says. A FIFO is written
 * without blocking: a line that does not fit is dropped and counted.
 *
 * The text of the last error message of each thread is kept whatever the
 * level (log_last_error()), so that a caller can report why a call failed. */
#ifndef VOLT_UTIL_LOG_H
#define VOLT_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* LOG_OFF is only a threshold: nothing is written at it. */
enum log_level { LOG_OFF = -1, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "off", "error", "warn"/"warning", "info", "debug", "trace" (= debug),
 * case-insensitive: Firecracker's names ("Warning", "Trace", "Off") included. */
int log_level_parse(const char *s, enum log_level *out);
/* --log-level's argument: sets the level, or logs why s is not one (-EINVAL). */
int log_level_option(const char *s);

/* Sends the lines to path from now on: a regular file (created if missing,
 * appended) or a FIFO (opened read-write and non-blocking, so that it needs no
 * reader yet). May be called again to switch files. 0 or -errno (the reason
 * is also logged where lines went until then). */
int log_open(const char *path);
/* Whether the log file's lines carry the level and the origin (file:line);
 * default neither, as Firecracker's. stderr lines always carry the level,
 * and the origin too with show_origin. */
void log_set_options(bool show_level, bool show_origin);
/* Names the calling thread for the kernel (ps, seccomp's kill log: call it
 * before the thread's filter) and for the log file's tag, where an unnamed
 * thread (the main one) is "main" (Firecracker's tag for its main thread).
 * At most 15 bytes are kept. */
void log_set_thread_name(const char *name);
/* Whether lines go to a log file (log_open() succeeded). */
bool log_has_file(void);
/* The instance id of the file format; default "anonymous-instance". */
void log_set_instance_id(const char *id);
/* The message of the calling thread's last pr_err(), "" when none since the
 * thread began or log_clear_last_error(). */
const char *log_last_error(void);
void log_clear_last_error(void);
/* Lines dropped since the last call (a full FIFO, write errors); resets. */
uint64_t log_take_missed(void);

/* Opens path for appending lines as log_open() and metrics_open() do: *fd
 * (O_CLOEXEC) and whether it is a FIFO; never blocks (open_input()). 0,
 * -EINVAL when path is neither a regular file nor a FIFO, other -errno, with
 * the reason in why ("is a character device, not a regular file or FIFO").
 * Logs nothing. */
int log_open_sink(const char *path, int *fd, bool *is_fifo, char *why, size_t why_size);

/* An error line written from a signal handler: msg with the prefix of the
 * current destination, formatted with nothing but stores and written with
 * one write(2) (no stdio, no malloc, no lock; the log file's local time is
 * the offset from UTC read when it was opened). Not the thread's last
 * error. */
void log_error_signal_safe(const char *msg);
/* The prefix of a log file line at t (UTC seconds + offset, nanoseconds),
 * as log_error_signal_safe() writes it: "YYYY-MM-DDTHH:MM:SS.nnnnnnnnn".
 * Its length (cut at size - 1). For tests. */
size_t log_format_time_safe(char *buf, size_t size, long long secs, long nsec);

void log_msg_at(enum log_level level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line for the log file alone, at level's threshold: nothing without one,
 * never stderr, not a thread's last error. For the lines Firecracker writes
 * for its tools (API requests, the start), which would be noise on volt's
 * console. */
void log_file_msg_at(enum log_level level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define pr_err(...)	    log_msg_at(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define pr_warn(...)	    log_msg_at(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define pr_info(...)	    log_msg_at(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define pr_debug(...)	    log_msg_at(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)
#define pr_file(level, ...) log_file_msg_at(level, __FILE__, __LINE__, __VA_ARGS__)

#endif
