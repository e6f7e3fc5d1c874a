/* HTTP/1.1 on a Unix socket (volt's own server; http_parse.h says what it
 * reads), served by one thread of its own that runs its start hook (the API
 * seccomp filter) before its first request. Requests are not executed there
 * (GET / aside: api_server_publish_root()): each one is put in a one-slot
 * mailbox, the eventfd api_server.efd is written, and the server thread waits
 * until the owner (the main thread) has called api_server_dispatch(), which
 * runs the handler and hands the answer back. Bodies over the payload limit
 * are refused by the server thread itself. */
#ifndef VOLT_API_HTTP_SERVER_H
#define VOLT_API_HTTP_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/un.h>

#include "api/http_parse.h"
#include "api/router.h"
#include "core/thread_hook.h"

/* Live connections at most (Firecracker's); one more replaces one that has
 * stalled (silent for API_SILENT_MS since it connected, a request or an
 * answer stuck for API_STALL_MS, idle that long between requests), or is
 * answered 503 (see http_server.c). */
#define API_MAX_CONNECTIONS 10
#define API_STALL_MS	    1000
#define API_SILENT_MS	    200
/* A connection with no traffic for this long in the middle of something (a
 * half-sent request, an unread answer) is closed; one between requests is not. */
#define API_IDLE_TIMEOUT_S 5

struct api_request {
	const char *method, *url;
	const char *body;
	size_t len;
	struct api_response resp;
	bool done;
};

struct api_server {
	int listen_fd;
	int efd; /* readable while a request waits in the mailbox */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev; /* the socket file we bound: unlinked at exit only if still there */
	ino_t ino;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct api_request *slot;
	bool closed;	 /* the owner answers no more requests */
	char *root_body; /* api_server_publish_root()'s; NULL: GET / goes to the owner */
};

/* payload_limit: the largest body (Firecracker's --http-api-max-payload-size,
 * API_MAX_PAYLOAD by default); larger ones get its 400.
 * Runs hooks->before_threads, binds path (a stale socket there is replaced
 * when replace_stale, else refused as Firecracker refuses any; a live one,
 * which accepts connections, or any other file is not; '' and
 * '@...' are refused) and starts the server thread, which runs
 * hooks->thread_start(THREAD_KIND_API) before it serves. 0, or -errno
 * (logged). hooks may be NULL. */
int api_server_start(struct api_server *s, const char *path, size_t payload_limit,
		     bool replace_stale, const struct thread_hooks *hooks);
/* Owner: reads efd and answers the waiting request (if any) with handle(). */
void api_server_dispatch(struct api_server *s,
			 void (*handle)(void *ctx, const struct api_request *req,
					struct api_response *resp),
			 void *ctx);
/* Owner: the answer to GET / (no body) from now on, which the server thread
 * then gives itself: a client polling the instance's state does not wake the
 * owner, and the first request a starting volt answers (issue #15's start ->
 * API socket) costs no hand-over. The owner republishes after each request it
 * handles (the state changes only through those). Takes body (malloc'd;
 * freed by the server); NULL: GET / goes to the owner. */
void api_server_publish_root(struct api_server *s, char *body);
/* Owner: later requests get 400 "the microVM has stopped"; unlinks the socket
 * if the file is still the one bound.
 * The server thread is left to the process exit (it may be blocked in poll). */
void api_server_close(struct api_server *s);

#endif
