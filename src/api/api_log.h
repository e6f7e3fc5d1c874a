/* The API's lines in the log file, in Firecracker's words (its
 * api_server/mod.rs and parsed_request.rs), which its tests and tools parse:
 *   The API server received a Put request on "/drives/root" with body "{...}".
 *   Received Error. Status code: 400 Bad Request. Message: <fault_message>
 *   Total previous API call duration: 123 us.
 * They go to the log file only (log_file_msg_at): nothing without one, and
 * never to volt's console. A body shows at most API_LOG_BODY_MAX characters
 * of its quoted text; the body of MMDS data (the guest's: any path the router
 * takes as /mmds) and of /cpu-config below the debug level (as Firecracker)
 * is not shown. Called on the API server's thread: no syscall but the log
 * file's write(). */
#ifndef VOLT_API_API_LOG_H
#define VOLT_API_API_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/router.h"

/* The characters of a body's quoted text at most, escapes included (the
 * rest is counted, not shown). */
#define API_LOG_BODY_MAX 512

/* What follows "The API server received a " (no final '.'), into buf (cut to
 * size): "Get request on \"/\"", "Put request on \"/logger\" with body
 * \"{\\\"level\\\": ...}\"" (quoted and escaped as Rust's {:?} does). url: the
 * path as the router gets it (http_parse.h: as written). debug:
 * whether the log is at the debug level (shows /cpu-config's body). */
void api_log_describe(char *buf, size_t size, const char *method, const char *url, const char *body,
		      size_t len, bool debug);
/* path quoted as Rust's {:?} writes a PathBuf (Firecracker's "Listening on
 * API socket" line): escapes as a str's, a byte that is not UTF-8 as \xNN;
 * cut to size. */
void api_log_quote_path(char *buf, size_t size, const char *path);
/* The request line, at the info level. */
void api_log_request(const char *method, const char *url, const char *body, size_t len);
/* The error line of an answer with a fault_message (status >= 400), at the
 * error level; r is not consumed. */
void api_log_error(const struct api_response *r);
/* The time from a request's arrival to its answer being sent or queued, at
 * the debug level, after each request line. */
void api_log_duration(uint64_t us);

#endif
