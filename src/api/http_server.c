/* libmicrohttpd on a Unix socket, in external-poll mode driven by our own
 * thread (so the seccomp filter is in place before MHD serves anything), and
 * the one-slot mailbox to the main thread.
 *
 * Connections are bounded (docs/api.md, "Connections"): at most
 * API_MAX_CONNECTIONS live ones; one more evicts the oldest (shutdown(2) of
 * its socket, which MHD then sees as a hang-up), so a client that opens and
 * holds many connections cannot lock out the next one. A connection idle for
 * API_IDLE_TIMEOUT_S seconds (half-sent requests included) is closed. */
#include "api/http_server.h"

#include "core/metrics.h"
#include "util/log.h"
#include "util/parse.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* MHD's own limit: evicted connections close at its next round, so a few
 * more than API_MAX_CONNECTIONS may exist for a moment. Past it MHD stops
 * accepting until one closes (new clients wait in the listen backlog). */
#define MHD_HARD_LIMIT (2 * API_MAX_CONNECTIONS)

/* One accepted connection, in accept order (seq). */
struct live_conn {
	uint64_t seq;
	int fd; /* -1: a free slot */
	bool evicted;
};

static struct live_conn live[MHD_HARD_LIMIT];
static uint64_t live_seq;

/* What one connection's request has sent so far. */
struct conn {
	char *buf;
	size_t len;
	size_t total; /* bytes received, kept or not */
	bool too_big;
};

static int submit(struct api_server *s, const char *method, const char *url, const char *body,
		  size_t len, struct api_response *resp)
{
	struct api_request req = { .method = method, .url = url, .body = body, .len = len };
	uint64_t one = 1;

	pthread_mutex_lock(&s->lock);
	/* One request at a time: MHD serves from this thread only, so the slot is free. */
	if (!s->closed) {
		/* The main thread takes (and clears) the slot before it sets done;
		 * otherwise it is cleared below: it never outlives this frame. */
		/* cppcheck-suppress autoVariables */
		s->slot = &req;
		if (write(s->efd, &one, sizeof(one)) != sizeof(one))
			pr_warn("API: cannot signal a request: %s", strerror(errno));
		while (!req.done && !s->closed)
			pthread_cond_wait(&s->cond, &s->lock);
	}
	if (!req.done) {
		s->slot = NULL;
		api_fault(&req.resp, 400, "The microVM has stopped.");
	}
	pthread_mutex_unlock(&s->lock);
	*resp = req.resp;
	return 0;
}

static enum MHD_Result send_response(struct MHD_Connection *c, struct api_response *r)
{
	struct MHD_Response *mr;
	enum MHD_Result ret;

	METRICS_INC(api.requests);
	if (r->status >= 400)
		METRICS_INC(api.fails);
	if (r->body)
		mr = MHD_create_response_from_buffer(strlen(r->body), r->body,
						     MHD_RESPMEM_MUST_FREE);
	else
		mr = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!mr) {
		free(r->body);
		return MHD_NO;
	}
	if (r->body)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	/* Firecracker's answer to a request with a deprecated field. */
	if (r->deprecated)
		MHD_add_response_header(mr, "Deprecation", "true");
	ret = MHD_queue_response(c, (unsigned int)r->status, mr);
	MHD_destroy_response(mr);
	return ret;
}

static void too_big(struct api_response *r, size_t size)
{
	char msg[160];

	snprintf(msg, sizeof(msg),
		 "Request payload with size %zu is larger than the limit of %d allowed by "
		 "server.",
		 size, API_MAX_PAYLOAD);
	api_fault(r, 400, msg);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_size, void **con_cls)
{
	struct api_server *s = cls;
	struct conn *k = *con_cls;
	struct api_response r = { 0 };
	const char *cl;
	char *end;

	(void)version;
	if (!k) {
		k = calloc(1, sizeof(*k));
		if (!k)
			return MHD_NO;
		*con_cls = k;
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			unsigned long long n = strtoull(cl, &end, 10);

			/* Answer before reading a body we would refuse anyway. */
			if (end != cl && n > API_MAX_PAYLOAD) {
				k->too_big = true;
				too_big(&r, (size_t)n);
				return send_response(c, &r);
			}
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (!k->too_big && k->len + *upload_size > API_MAX_PAYLOAD) {
			k->too_big = true;
			free(k->buf);
			k->buf = NULL;
			k->len = 0;
		}
		if (!k->too_big) {
			char *nb = realloc(k->buf, k->len + *upload_size);

			if (!nb)
				return MHD_NO;
			memcpy(nb + k->len, upload_data, *upload_size);
			k->buf = nb;
			k->len += *upload_size;
		}
		k->total += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
	if (k->too_big) {
		too_big(&r, k->total);
	} else {
		/* The main thread may take longer than the idle timeout (InstanceStart
		 * reading a slow file): no timeout meanwhile, and setting it again
		 * restarts its clock, so the answer is sent rather than the connection
		 * closed as idle (0.9.75 was seen to send it anyway; this keeps it so
		 * whatever the version does). */
		MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
		submit(s, method, url, k->buf, k->len, &r);
		MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT,
					  (unsigned int)API_IDLE_TIMEOUT_S);
	}
	return send_response(c, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	struct conn *k = *con_cls;

	(void)cls;
	(void)c;
	(void)why;
	if (k) {
		free(k->buf);
		free(k);
		*con_cls = NULL;
	}
}

/* Keeps the table of live connections and evicts the oldest one past
 * API_MAX_CONNECTIONS. Runs on the server thread only. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	struct live_conn *slot, *oldest = NULL;
	unsigned int i, n = 0;

	(void)cls;
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		slot = *socket_ctx;
		if (slot)
			slot->fd = -1;
		*socket_ctx = NULL;
		return;
	}
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	for (i = 0; i < MHD_HARD_LIMIT && live[i].fd >= 0; i++)
		;
	if (!ci || i == MHD_HARD_LIMIT)
		return; /* cannot happen: MHD accepts no more than MHD_HARD_LIMIT */
	live[i] = (struct live_conn){ .seq = ++live_seq, .fd = ci->connect_fd };
	*socket_ctx = &live[i];
	for (i = 0; i < MHD_HARD_LIMIT; i++) {
		if (live[i].fd < 0 || live[i].evicted)
			continue;
		n++;
		if (!oldest || live[i].seq < oldest->seq)
			oldest = &live[i];
	}
	if (n > API_MAX_CONNECTIONS && oldest) {
		pr_debug("API: more than %d connections: closing the oldest", API_MAX_CONNECTIONS);
		/* MHD reads end-of-file next and closes it as a client hang-up. */
		shutdown(oldest->fd, SHUT_RDWR);
		oldest->evicted = true;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[256];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	pr_debug("API server: %s", buf);
}

struct thread_start {
	struct api_server *s;
	const struct thread_hooks *hooks;
	int err;
	bool done;
};

static void *serve(void *arg)
{
	struct thread_start *ts = arg;
	struct api_server *s = ts->s;
	int err;

	/* Named before the filter: the kernel's kill log names the thread. */
	pthread_setname_np(pthread_self(), "volt-api");
	err = thread_hooks_start(ts->hooks, THREAD_KIND_API);

	pthread_mutex_lock(&s->lock);
	ts->err = err;
	ts->done = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (err)
		return NULL;
	for (;;)
		if (MHD_run_wait(s->daemon, -1) != MHD_YES)
			usleep(10000); /* poll failed (EINTR...): try again */
	return NULL;
}

/* 0 when path names no socket or only a stale one (nothing accepts on it),
 * -EADDRINUSE when a process serves it. */
static int check_stale(const struct sockaddr_un *a, const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (!connect(fd, (const struct sockaddr *)a, sizeof(*a))) {
		pr_err("--api-sock '%s': another process serves this socket (a live VMM?); "
		       "refusing to replace it",
		       path);
		err = -EADDRINUSE;
	} else if (errno != ECONNREFUSED && errno != ENOENT) {
		/* EACCES, EAGAIN (a full backlog: alive): not provably stale. */
		err = -errno;
		pr_err("--api-sock '%s': cannot tell whether the socket is stale: %s", path,
		       strerror(errno));
	}
	close(fd);
	return err;
}

static int bind_socket(struct api_server *s, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, err;

	/* An empty sun_path would bind in the abstract namespace, which any local
	 * user in the network namespace can reach (no file permissions); '@' is
	 * how tools spell abstract names. Neither is a file this VMM owns. */
	if (!path[0] || path[0] == '@') {
		pr_err("--api-sock '%s': needs a file system path (empty and abstract socket "
		       "names are refused: any local user could reach them)",
		       path);
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(a.sun_path)) {
		pr_err("--api-sock '%s': longer than %zu bytes", path, sizeof(a.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			pr_err("--api-sock '%s': exists and is not a socket", path);
			return -EEXIST;
		}
		/* Only a stale socket of an earlier run is replaced: a live one is
		 * another VMM's only way to be controlled. */
		err = check_stale(&a, path);
		if (err)
			return err;
		if (unlink(path) && errno != ENOENT) {
			err = -errno;
			pr_err("--api-sock '%s': cannot remove the stale socket: %s", path,
			       strerror(errno));
			return err;
		}
		pr_info("--api-sock '%s': replaced a stale socket (nothing accepted on it)", path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A deep backlog: a burst of connections (a careless or hostile client)
	 * waits there to be accepted and evicted in turn instead of making the
	 * next client's connect() fail with EAGAIN (curl gives up on it). */
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, SOMAXCONN)) {
		err = -errno;
		pr_err("--api-sock '%s': %s", path, strerror(errno));
		close(fd);
		return err;
	}
	/* What api_server_close() checks before it unlinks the path. */
	if (stat(path, &st)) {
		err = -errno;
		pr_err("--api-sock '%s': %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return err;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	memcpy(s->path, path, strlen(path) + 1);
	s->listen_fd = fd;
	return 0;
}

static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return api_url_unescape(s);
}

/* Removes the socket file only while it is still the one we bound: another
 * VMM may have replaced a path we no longer serve. stat(), not lstat(): the
 * VMM thread's seccomp list allows newfstatat with flags 0 only. */
static void unlink_if_ours(struct api_server *s)
{
	struct stat st;

	if (!s->path[0])
		return;
	if (!stat(s->path, &st) && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
	else
		pr_debug("API socket %s: no longer ours, left in place", s->path);
	s->path[0] = '\0';
}

int api_server_start(struct api_server *s, const char *path, const struct thread_hooks *hooks)
{
	struct thread_start ts = { .s = s, .hooks = hooks };
	unsigned int i;
	int err;

	/* Before anything else: the sandbox's hook compiles the filters and readies
	 * libraries while nothing is restricted. */
	err = thread_hooks_before(hooks);
	if (err)
		return err;
	memset(s, 0, sizeof(*s));
	s->listen_fd = -1;
	for (i = 0; i < MHD_HARD_LIMIT; i++)
		live[i] = (struct live_conn){ .fd = -1 };
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->efd < 0)
		return -errno;
	err = bind_socket(s, path);
	if (err)
		goto fail;
	/* select() mode: libmicrohttpd 0.9.75 refuses MHD_USE_POLL without its
	 * own thread, and MHD_run_wait() is all this thread needs. No Date
	 * header: formatting it reads /etc/localtime, which the filter forbids. */
	s->daemon = MHD_start_daemon(
		MHD_USE_ERROR_LOG | MHD_USE_SUPPRESS_DATE_NO_CLOCK, 0, NULL, NULL, on_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MHD_HARD_LIMIT,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)API_IDLE_TIMEOUT_S,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
	if (!s->daemon) {
		pr_err("--api-sock '%s': libmicrohttpd cannot serve it", path);
		err = -EIO;
		goto fail;
	}
	err = -pthread_create(&s->thread, NULL, serve, &ts);
	if (err) {
		pr_err("cannot start the API thread: %s", strerror(-err));
		goto fail;
	}
	s->thread_started = true;
	pthread_mutex_lock(&s->lock);
	while (!ts.done)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	if (ts.err) {
		pr_err("cannot confine the API thread (seccomp): %s", strerror(-ts.err));
		pthread_join(s->thread, NULL);
		s->thread_started = false;
		err = ts.err;
		goto fail;
	}
	return 0;
fail:
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	s->daemon = NULL;
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink_if_ours(s);
	}
	close(s->efd);
	s->efd = s->listen_fd = -1;
	return err;
}

void api_server_dispatch(struct api_server *s,
			 void (*handle)(void *ctx, const struct api_request *req,
					struct api_response *resp),
			 void *ctx)
{
	struct api_request *req;
	uint64_t v;

	if (read(s->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pr_debug("API: reading the request eventfd: %s", strerror(errno));
	pthread_mutex_lock(&s->lock);
	req = s->slot;
	s->slot = NULL;
	pthread_mutex_unlock(&s->lock);
	if (!req)
		return;
	/* The server thread waits for done, so req stays valid without the lock. */
	handle(ctx, req, &req->resp);
	pthread_mutex_lock(&s->lock);
	req->done = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void api_server_close(struct api_server *s)
{
	pthread_mutex_lock(&s->lock);
	s->closed = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	unlink_if_ours(s);
}
