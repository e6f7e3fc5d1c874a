/* The API's HTTP/1.1 server on a Unix socket: one thread of its own, poll()
 * over the listening socket and the connections, nonblocking I/O, the
 * request parser of http_parse.c, and the one-slot mailbox to the main
 * thread.
 *
 * Connections are bounded (docs/api.md, "Connections"): at most
 * API_MAX_CONNECTIONS live ones (Firecracker's 10), each with fixed buffers
 * (a request head, a body of --http-api-max-payload-size bytes, what was read
 * and not parsed yet). One more is accepted and, as in Firecracker, answered
 * 503 "Too many open connections" and closed, unless a connection has held
 * its slot without getting anywhere (victim()): it is closed for the new one,
 * so that clients that hold connections cannot lock the next one out. Before
 * either, what every connection has sent is read and answered (a whole
 * request is served, never dropped). API_IDLE_TIMEOUT_S without traffic
 * closes a connection in the middle of something (a request begun, an answer
 * unread); one between requests stays, as micro_http keeps it, until a
 * newcomer needs its slot. The clocks stop while the main thread executes a
 * request.
 *
 * Requests on a connection are answered in order, one at a time: the next
 * one (pipelining) is parsed once the answer to the last one is sent. */
#include "api/http_server.h"

#include "api/api_log.h"

#include "core/metrics.h"
#include "util/log.h"
#include "util/parse.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Accepted per round of poll(), so that a burst of connections cannot starve
 * those already open (the rest wait in the listen backlog). */
#define ACCEPTS_PER_ROUND (2 * API_MAX_CONNECTIONS)

struct conn {
	long long last_ms;	/* the last traffic */
	long long opened_ms;	/* accepted */
	long long req_start_ms; /* the first byte of the request being read came */
	char *out;		/* the answer being sent (malloc'd), NULL: none */
	size_t out_len, out_off;
	size_t in_off, in_len; /* in[in_off..] read and not parsed yet */
	struct http_parser p;
	int fd;			     /* -1: a free slot */
	pid_t peer;		     /* the client's pid (SO_PEERCRED); 0: not known */
	bool close_after;	     /* once out is sent */
	bool served;		     /* a request of it was answered */
	unsigned long answers;	     /* answers queued on it */
	unsigned long drained_round; /* the last round of poll() drain() read it in */
	char in[4096];
	char *body; /* max_payload bytes (api_server_start): untouched until used */
};

/* Static: pages are touched only as connections use them. */
static struct conn conns[API_MAX_CONNECTIONS];

/* accept4() failed for want of a resource (EMFILE, ENFILE, ENOBUFS...): the
 * client stays in the backlog and the socket readable, so the listener sits
 * out of poll() until then or until a connection closes, rather than spin the
 * API thread. */
#define ACCEPT_RETRY_MS 100
static long long accept_paused_until;
/* Rounds of poll() (serve_loop). */
static unsigned long rounds;
/* The body limit (api_server_start's max_payload). */
static size_t max_payload = API_MAX_PAYLOAD;

static long long now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static long long now_ms(void)
{
	return now_us() / 1000;
}

static void conn_close(struct conn *c)
{
	accept_paused_until = 0; /* a descriptor is free again */
	close(c->fd);
	free(c->out);
	c->out = NULL;
	c->fd = -1;
	c->peer = 0;
}

static int submit(struct api_server *s, const char *method, const char *url, const char *body,
		  size_t len, struct api_response *resp)
{
	struct api_request req = { .method = method, .url = url, .body = body, .len = len };
	uint64_t one = 1;

	pthread_mutex_lock(&s->lock);
	/* One request at a time: the server thread waits here, so the slot is free. */
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

/* GET / without a body, answered with the owner's published body (if any). */
static bool answer_root(struct api_server *s, const struct http_request *q, struct api_response *r)
{
	bool done = false;

	if (strcmp(q->method, "GET") || strcmp(q->url, "/") || q->body_len)
		return false;
	pthread_mutex_lock(&s->lock);
	if (s->root_body && !s->closed) {
		*r = (struct api_response){ .status = 200, .body = strdup(s->root_body) };
		done = r->body != NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (done) /* as the router counts it */
		METRICS_INC(get_api_requests.instance_info_count);
	return done;
}

/* micro_http's answer to a request it could not parse (Firecracker's
 * server.rs): 400 and { "error": "<why>\nAll previous unanswered requests
 * will be dropped." }, with a raw line break in the string as it sends it
 * (its test compares those bytes). why is escaped where it quotes the
 * client's bytes. */
static void http_error(struct api_response *r, const char *why)
{
	static const char tail[] = "\nAll previous unanswered requests will be dropped.\" }";
	char shown[512];
	json_t *s;
	char *q;

	escape_controls(why, shown, sizeof(shown), true);
	s = json_string(shown);
	q = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL; /* "..." */
	json_decref(s);
	r->status = 400;
	r->body = q ? malloc(strlen(q) + sizeof(tail) + 16) : NULL;
	if (r->body)
		sprintf(r->body, "{ \"error\": %.*s%s", (int)strlen(q) - 1, q, tail);
	free(q);
}

static void too_big(struct api_response *r, uint64_t size)
{
	char msg[160];

	snprintf(msg, sizeof(msg),
		 "Request payload with size %llu is larger than the limit of %zu allowed by "
		 "server.",
		 (unsigned long long)size, max_payload);
	http_error(r, msg);
}

/* Sends what is left of c->out: 0 when all of it is sent, -EAGAIN for later,
 * or -errno (the connection is then closed). */
static int send_out(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -EAGAIN;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		c->out_off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	return 0;
}

/* The answer as Firecracker's micro_http frames it: "HTTP/1.1 <code> " (no
 * reason phrase), its Server and Connection lines, Deprecation, and for
 * every status but 100 and 204 Content-Type and Content-Length (0 without a
 * body). Connection says close when volt closes the connection after this
 * answer (the client asked for that, or the framing is lost), where
 * micro_http says keep-alive always. r->body is consumed. */
static int queue_answer(struct conn *c, struct api_response *r, bool close_after)
{
	size_t blen = r->body ? strlen(r->body) : 0;
	char head[256], len[80] = "";
	int hl;

	if (r->status != 100 && r->status != 204)
		snprintf(len, sizeof(len),
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
	hl = snprintf(head, sizeof(head),
		      "HTTP/1.1 %d \r\nServer: Firecracker API\r\nConnection: %s\r\n%s%s\r\n",
		      r->status, close_after ? "close" : "keep-alive",
		      r->deprecated ? "Deprecation: true\r\n" : "", len);
	if (r->status == 204)
		blen = 0;
	c->out = malloc((size_t)hl + blen);
	if (!c->out) {
		free(r->body);
		return -ENOMEM;
	}
	memcpy(c->out, head, (size_t)hl);
	if (blen)
		memcpy(c->out + hl, r->body, blen);
	free(r->body);
	c->out_len = (size_t)hl + blen;
	c->out_off = 0;
	c->close_after = close_after;
	c->answers++;
	return 0;
}

static int queue_continue(struct conn *c)
{
	struct api_response r = { .status = 100 };

	return queue_answer(c, &r, false);
}

/* After a request the main thread took took_ms to execute: that time counts
 * as no connection's idle or stalled time (and only that: the others' clocks
 * go on between requests). */
static void restart_clocks(long long took_ms)
{
	unsigned int i;

	for (i = 0; i < API_MAX_CONNECTIONS; i++) {
		conns[i].last_ms += took_ms;
		conns[i].opened_ms += took_ms;
		conns[i].req_start_ms += took_ms;
	}
}

/* Parses what c has read and answers it, one request at a time: returns
 * when everything is parsed, when an answer waits for the socket, or with
 * -errno when the connection is to be closed. */
static int process(struct api_server *s, struct conn *c)
{
	while (!c->out && c->in_len) {
		struct http_request *q = &c->p.req;
		struct api_response r = { 0 };
		enum http_event ev;
		size_t n;
		int err = 0;

		if (http_parser_between(&c->p))
			c->req_start_ms = now_ms();
		n = http_parse(&c->p, c->in + c->in_off, c->in_len, &ev);

		c->in_off += n;
		c->in_len -= n;
		if (ev == HTTP_NEED_MORE)
			break;
		if (ev == HTTP_HEADERS) {
			if (!q->expect_continue)
				continue;
			err = queue_continue(c);
		} else if (ev == HTTP_TOO_BIG || (ev == HTTP_REQUEST && q->too_big)) {
			too_big(&r, q->body_size);
			err = queue_answer(c, &r, !q->keep_alive);
		} else if (ev == HTTP_REQUEST && q->refused) {
			pr_debug("API: refused a request: %s", c->p.why);
			http_error(&r, c->p.why);
			err = queue_answer(c, &r, !q->keep_alive);
		} else if (ev == HTTP_REQUEST) {
			long long t0 = now_us();

			api_log_request(q->method, q->url, q->body, q->body_len);
			if (!answer_root(s, q, &r))
				submit(s, q->method, q->url, q->body, q->body_len, &r);
			restart_clocks((now_us() - t0) / 1000);
			api_log_error(&r);
			c->served = true;
			err = queue_answer(c, &r, !q->keep_alive);
			/* Firecracker's: up to the answer queued, whatever came of it. */
			api_log_duration((uint64_t)(now_us() - t0));
		} else {
			if (q->too_big)
				too_big(&r, q->body_size);
			else
				http_error(&r, c->p.why);
			pr_debug("API: refused a request: %s",
				 q->too_big ? "too big a body" : c->p.why);
			c->in_len = 0; /* the framing is lost: nothing more is read */
			err = queue_answer(c, &r, true);
		}
		if (err)
			return err;
		err = send_out(c);
		if (err && err != -EAGAIN)
			return err;
		if (!err && c->close_after)
			return -EPIPE;
	}
	return 0;
}

/* 1: something was read (or sent) and handled, 0: nothing to do now, -1:
 * the connection was closed. */
static int on_io(struct api_server *s, struct conn *c, short revents)
{
	int err = 0;

	if (revents & POLLNVAL) {
		conn_close(c);
		return -1;
	}
	if (c->out) {
		/* POLLOUT, or POLLERR/POLLHUP: send() tells which. */
		err = send_out(c);
		if (err == -EAGAIN)
			return 0;
		c->last_ms = now_ms();
		if (!err && c->close_after)
			err = -EPIPE;
	} else {
		ssize_t n = recv(c->fd, c->in, sizeof(c->in), MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		if (n <= 0) {
			/* End of file (a hang-up, or the end of what the
			 * client sends) or an error: nothing left to answer. */
			conn_close(c);
			return -1;
		}
		c->in_off = 0;
		c->in_len = (size_t)n;
		c->last_ms = now_ms();
	}
	if (!err)
		err = process(s, c);
	if (err) {
		conn_close(c);
		return -1;
	}
	return 1;
}

/* Reads and answers what c's client has sent so far (a whole request of
 * the largest body allowed takes several reads): up to its first answer,
 * once a round of poll(). What a keep-alive client sends once answered is
 * a request of the next round's: drained on, a busy client would have
 * volt serve it request after request while the listen backlog waits. */
static void drain(struct api_server *s, struct conn *c)
{
	size_t reads = (max_payload + HTTP_HEAD_MAX) / sizeof(c->in) + 2;
	unsigned long answers = c->answers;

	if (c->drained_round == rounds)
		return;
	c->drained_round = rounds;
	while (reads-- && c->fd >= 0 && !c->out && c->answers == answers && on_io(s, c, POLLIN) > 0)
		;
}

/* Between requests: nothing of a request read, no answer being sent. */
static bool conn_between(const struct conn *c)
{
	return !c->out && !c->in_len && http_parser_between(&c->p);
}

/* When API_IDLE_TIMEOUT_S closes c, or -1: never (between requests: an idle
 * keep-alive connection, or one that has not sent yet). */
static long long idle_deadline(const struct conn *c)
{
	return conn_between(c) ? -1 : c->last_ms + API_IDLE_TIMEOUT_S * 1000LL;
}

/* A slot no connection holds, or NULL. */
static struct conn *free_slot(void)
{
	unsigned int i;

	for (i = 0; i < API_MAX_CONNECTIONS; i++)
		if (conns[i].fd < 0)
			return &conns[i];
	return NULL;
}

/* Of a full table, after what every connection sent was served (which may
 * free a slot): the connection a new one replaces (closed), or NULL. The one
 * stalled longest: silent API_SILENT_MS since it connected, a request begun
 * API_STALL_MS ago and not finished, an answer unread for API_STALL_MS; else
 * the one idle longest between requests, for API_STALL_MS at least (as a
 * server closes an idle keep-alive connection: the client's next request
 * then fails to send, and it opens another). */
static struct conn *victim(struct api_server *s)
{
	struct conn *best = NULL, *c;
	long long now, best_since = 0;
	bool best_idle = false;
	unsigned int i;

	for (i = 0; i < API_MAX_CONNECTIONS; i++)
		if (conns[i].fd >= 0)
			drain(s, &conns[i]);
	if ((c = free_slot()))
		return c;
	now = now_ms();
	for (i = 0; i < API_MAX_CONNECTIONS; i++) {
		bool between, idle = false;
		long long since, after = API_STALL_MS;

		c = &conns[i];
		between = conn_between(c);
		if (c->out) {
			since = c->last_ms; /* its client does not read the answer */
		} else if (!between) {
			since = c->req_start_ms; /* a request begun, not finished */
		} else if (!c->served) {
			since = c->opened_ms; /* silent since it connected */
			after = API_SILENT_MS;
		} else {
			since = c->last_ms; /* idle between requests */
			idle = true;
		}
		if (now - since < after)
			continue;
		if (!best || (best_idle && !idle) || (best_idle == idle && since < best_since)) {
			best = c;
			best_since = since;
			best_idle = idle;
		}
	}
	if (best) {
		pr_debug("API: %d connections: closing one %s for %lld ms", API_MAX_CONNECTIONS,
			 best_idle ? "idle" : "stalled", now - best_since);
		conn_close(best);
	}
	return best;
}

/* Firecracker's answer to a connection past its limit (micro_http). */
static void refuse_full(int fd)
{
	static const char full[] = "HTTP/1.1 503\r\nServer: Firecracker API\r\n"
				   "Connection: close\r\nContent-Length: 40\r\n\r\n"
				   "{ \"error\": \"Too many open connections\" }";
	char sink[4096];
	int n = 16;

	/* What it sent already is read first: a socket closed with unread
	 * data resets, and the client could lose the answer. */
	while (n-- && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
	if (send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		pr_debug("API: cannot tell a connection the server is full: %s", strerror(errno));
	close(fd);
}

/* The pid of the process at the other end of fd; 0 when not known (a
 * client in another PID namespace: a jailed volt's). */
static pid_t peer_of(int fd)
{
	struct ucred cred = { 0 };
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return 0;
	return cred.pid;
}

/* Of a full table none of whose connections is stalled (victim()): one of a
 * client that holds at least two slots more than the newcomer's, closed for
 * the newcomer, so that one client opening connections without pause cannot
 * keep the others out. Never one with an answer under way (nothing asked is
 * lost); one between requests (silent since it connected, or idle) before
 * one whose request is still coming in; of those, its newest. NULL: every
 * client holds its share, or the newcomer's is not known. */
static struct conn *fair_share_victim(pid_t newcomer)
{
	struct conn *best = NULL, *c;
	unsigned int i, j, most = 0, mine = 0;
	bool best_between = false;
	pid_t hog = 0;

	if (!newcomer)
		return NULL;
	for (i = 0; i < API_MAX_CONNECTIONS; i++) {
		unsigned int n = 0;

		for (j = 0; j < API_MAX_CONNECTIONS; j++)
			n += conns[j].peer == conns[i].peer;
		if (conns[i].peer && n > most) {
			most = n;
			hog = conns[i].peer;
		}
		mine += conns[i].peer == newcomer;
	}
	if (!hog || hog == newcomer || most < mine + 2)
		return NULL;
	for (i = 0; i < API_MAX_CONNECTIONS; i++) {
		bool between;

		c = &conns[i];
		if (c->peer != hog || c->out)
			continue;
		between = !c->in_len && http_parser_between(&c->p);
		if (!best || (between && !best_between) ||
		    (between == best_between && c->opened_ms > best->opened_ms)) {
			best = c;
			best_between = between;
		}
	}
	if (best) {
		pr_debug("API: %d connections, %u of them process %d's: closing one for process "
			 "%d's",
			 API_MAX_CONNECTIONS, most, (int)hog, (int)newcomer);
		conn_close(best);
	}
	return best;
}

static void accept_some(struct api_server *s)
{
	unsigned int k;

	for (k = 0; k < ACCEPTS_PER_ROUND; k++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;
		pid_t peer;

		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				pr_debug("API: accept: %s; tried again in %d ms", strerror(errno),
					 ACCEPT_RETRY_MS);
				accept_paused_until = now_ms() + ACCEPT_RETRY_MS;
			}
			return;
		}
		c = free_slot();
		peer = peer_of(fd);
		if (!c && !(c = victim(s)) && !(c = fair_share_victim(peer))) {
			pr_debug("API: %d connections, none stalled: a new one is refused (503)",
				 API_MAX_CONNECTIONS);
			refuse_full(fd);
			continue;
		}
		c->fd = fd;
		c->peer = peer;
		c->served = false;
		c->drained_round = 0;
		c->last_ms = c->opened_ms = now_ms();
		c->out = NULL;
		c->in_off = c->in_len = 0;
		http_parser_init(&c->p, c->body, max_payload);
	}
}

/* Waits until something happens or the next idle deadline. */
static int wait_events(struct api_server *s, struct pollfd *pfd, struct conn **who, nfds_t *nfds)
{
	long long now = now_ms(), first = -1;
	bool paused = accept_paused_until > now;
	unsigned int i;
	nfds_t n = 0;

	pfd[n++] = (struct pollfd){ .fd = paused ? -1 : s->listen_fd, .events = POLLIN };
	if (paused)
		first = accept_paused_until;
	for (i = 0; i < API_MAX_CONNECTIONS; i++) {
		struct conn *c = &conns[i];
		long long due;

		if (c->fd < 0)
			continue;
		who[n] = c;
		pfd[n++] = (struct pollfd){ .fd = c->fd, .events = c->out ? POLLOUT : POLLIN };
		due = idle_deadline(c);
		if (due >= 0 && (first < 0 || due < first))
			first = due;
	}
	*nfds = n;
	return poll(pfd, n, first < 0 ? -1 : first <= now ? 0 : (int)(first - now));
}

static void serve_loop(struct api_server *s)
{
	struct pollfd pfd[1 + API_MAX_CONNECTIONS];
	struct conn *who[1 + API_MAX_CONNECTIONS];
	nfds_t n, i;
	long long now;

	for (;;) {
		rounds++;
		if (wait_events(s, pfd, who, &n) < 0) {
			if (errno != EINTR) {
				pr_debug("API: poll: %s", strerror(errno));
				poll(NULL, 0, 10); /* ENOMEM...: try again a little later */
			}
			continue;
		}
		for (i = 1; i < n; i++)
			if (pfd[i].revents && who[i]->fd == pfd[i].fd)
				on_io(s, who[i], pfd[i].revents);
		if (pfd[0].revents & POLLIN)
			accept_some(s);
		now = now_ms();
		for (i = 0; i < API_MAX_CONNECTIONS; i++) {
			long long due = conns[i].fd >= 0 ? idle_deadline(&conns[i]) : -1;

			if (due >= 0 && now >= due) {
				pr_debug("API: closing a connection stalled for %d s",
					 API_IDLE_TIMEOUT_S);
				conn_close(&conns[i]);
			}
		}
	}
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

	/* Named before the filter: the kernel's kill log names the thread.
	 * Firecracker's name: its test framework and orchestrators find the
	 * thread by it (pin_api). */
	log_set_thread_name("fc_api");
	err = thread_hooks_start(ts->hooks, THREAD_KIND_API);

	pthread_mutex_lock(&s->lock);
	ts->err = err;
	ts->done = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (!err) {
		/* Firecracker's tools wait for this line before they call the API. */
		pr_file(LOG_INFO, "API server started.");
		serve_loop(s);
	}
	return NULL;
}

/* 0 when path names no socket or only a stale one (nothing accepts on it),
 * -EADDRINUSE when a process serves it. */
static int check_stale(const struct sockaddr_un *a, const char *path)
{
	/* Non-blocking: a listener whose backlog is full answers EAGAIN at
	 * once, where a blocking connect() waits for it forever (with SIGTERM
	 * already blocked for the signalfd). */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (!connect(fd, (const struct sockaddr *)a, sizeof(*a))) {
		/* Firecracker's words first (test_api_server.py matches them). */
		pr_err("Failed to open the API socket at: %s. Check that it is not already "
		       "used. (another process serves this socket, a live VMM?; refusing to "
		       "replace it)",
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

static int bind_socket(struct api_server *s, const char *path, bool replace_stale)
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
			pr_err("Failed to open the API socket at: %s. Check that it is not "
			       "already used. (--api-sock: exists and is not a socket)",
			       path);
			return -EEXIST;
		}
		/* Only a stale socket of an earlier run is replaced: a live one is
		 * another VMM's only way to be controlled. As Firecracker, none
		 * (its test_api_socket_in_use: a socket bound, not listening). */
		if (!replace_stale) {
			pr_err("Failed to open the API socket at: %s. Check that it is not "
			       "already used. (a socket is there: Firecracker replaces none)",
			       path);
			return -EADDRINUSE;
		}
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

int api_server_start(struct api_server *s, const char *path, size_t payload_limit,
		     bool replace_stale, const struct thread_hooks *hooks)
{
	struct thread_start ts = { .s = s, .hooks = hooks };
	char quoted[6 * sizeof(((struct sockaddr_un *)0)->sun_path) + 3];
	unsigned int i;
	int err;

	/* Before anything else: the sandbox's hook compiles the filters and readies
	 * libraries while nothing is restricted. */
	err = thread_hooks_before(hooks);
	if (err)
		return err;
	memset(s, 0, sizeof(*s));
	s->listen_fd = -1;
	/* Allocated here, before the API thread's filter: malloc may mmap. A
	 * large buffer is mmap'd, so only the pages a body fills are backed. */
	max_payload = payload_limit;
	for (i = 0; i < API_MAX_CONNECTIONS; i++) {
		conns[i].fd = -1;
		free(conns[i].body);
		conns[i].body = max_payload ? malloc(max_payload) : NULL;
		if (max_payload && !conns[i].body) {
			pr_err("--http-api-max-payload-size %zu: cannot allocate %d bodies of "
			       "that size",
			       max_payload, API_MAX_CONNECTIONS);
			return -ENOMEM;
		}
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->efd < 0)
		return -errno;
	err = bind_socket(s, path, replace_stale);
	if (err)
		goto fail;
	/* Firecracker's order: where it listens, then (the API thread) that
	 * the server started. */
	api_log_quote_path(quoted, sizeof(quoted), path);
	pr_file(LOG_INFO, "Listening on API socket (%s).", quoted);
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

void api_server_publish_root(struct api_server *s, char *body)
{
	pthread_mutex_lock(&s->lock);
	free(s->root_body);
	s->root_body = body;
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
