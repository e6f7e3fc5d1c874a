/* HTTP/1.1 over a Unix stream socket, just enough for the API's answers. */
#include "cli/api_client.h"

#include "util/why.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline: 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		struct pollfd p = { .fd = fd, .events = events };
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int connect_to(const char *path, long long deadline, int *out, char *why, size_t why_size)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t len = sizeof(a);
	int fd, err = 0;

	if (!path[0] || strlen(path) >= sizeof(a.sun_path))
		return why_fail(why, why_size, -EINVAL, "API socket '%s': %s", path,
				path[0] ? "path too long" : "empty path");
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return why_fail(why, why_size, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		err = -errno;
		if (err == -EINPROGRESS || err == -EAGAIN) {
			err = wait_fd(fd, POLLOUT, deadline);
			if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
				err = errno;
			if (err > 0)
				err = -err;
		}
	}
	if (err) {
		close(fd);
		if (err == -ENOENT || err == -ECONNREFUSED)
			return why_fail(why, why_size, err,
					"cannot connect to the API socket '%s': %s (is a volt "
					"running with --api-sock %s?)",
					path, strerror(-err), path);
		return why_fail(why, why_size, err, "cannot connect to the API socket '%s': %s",
				path, strerror(-err));
	}
	*out = fd;
	return 0;
}

static int send_all(int fd, const char *buf, size_t len, long long deadline)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		n = wait_fd(fd, POLLOUT, deadline);
		if (n)
			return (int)n;
	}
	return 0;
}

/* The Content-Length of the header block hdr (NUL-terminated); -1 when none. */
static long long content_length(const char *hdr)
{
	const char *p = hdr;

	while ((p = strstr(p, "\r\n"))) {
		p += 2;
		if (!strncasecmp(p, "Content-Length:", 15)) {
			char *end;
			long long v = strtoll(p + 15, &end, 10);

			return end != p + 15 && v >= 0 ? v : -1;
		}
	}
	return -1;
}

/* Reads the answer: until the whole body (Content-Length) or the end of the stream. */
static int read_reply(int fd, long long deadline, struct api_reply *r, char *why, size_t why_size)
{
	char *buf = malloc(API_CLIENT_REPLY_MAX + 1), *hdr_end = NULL, *p;
	size_t used = 0;
	long long clen = -1;
	int err, status;

	if (!buf)
		return why_fail(why, why_size, -ENOMEM, "out of memory");
	for (;;) {
		ssize_t n;

		if (hdr_end && clen >= 0 && used - (size_t)(hdr_end + 4 - buf) >= (size_t)clen)
			break;
		if (used == API_CLIENT_REPLY_MAX) {
			free(buf);
			return why_fail(why, why_size, -EMSGSIZE,
					"the API's answer is longer than %d bytes",
					API_CLIENT_REPLY_MAX);
		}
		n = recv(fd, buf + used, API_CLIENT_REPLY_MAX - used, 0);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				err = -errno;
				free(buf);
				return why_fail(why, why_size, err, "reading the API's answer: %s",
						strerror(-err));
			}
			err = wait_fd(fd, POLLIN, deadline);
			if (err) {
				free(buf);
				return why_fail(why, why_size, err,
						"no answer from the API in time: %s",
						strerror(-err));
			}
			continue;
		}
		used += (size_t)n;
		buf[used] = '\0';
		if (!hdr_end && (hdr_end = strstr(buf, "\r\n\r\n"))) {
			*hdr_end = '\0';
			clen = content_length(buf);
			*hdr_end = '\r';
		}
	}
	buf[used] = '\0';
	if (!hdr_end || sscanf(buf, "HTTP/1.%*1[01] %3d", &status) != 1 || status < 100 ||
	    status > 599) {
		free(buf);
		return why_fail(why, why_size, -EPROTO, "the API's answer is not HTTP/1.x%s",
				used ? "" : " (the connection closed without one)");
	}
	p = hdr_end + 4;
	r->len = used - (size_t)(p - buf);
	if (clen >= 0 && (size_t)clen < r->len)
		r->len = (size_t)clen;
	memmove(buf, p, r->len);
	buf[r->len] = '\0';
	r->body = buf;
	r->status = status;
	return 0;
}

int api_client_request(const char *path, const char *method, const char *url, const char *body,
		       int timeout_ms, struct api_reply *reply, char *why, size_t why_size)
{
	long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 1);
	size_t blen = body ? strlen(body) : 0;
	char head[512];
	int fd = -1, err, rerr, n;

	memset(reply, 0, sizeof(*reply));
	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
		     "Connection: close\r\n%sContent-Length: %zu\r\n\r\n",
		     method, url, body ? "Content-Type: application/json\r\n" : "", blen);
	if (n < 0 || (size_t)n >= sizeof(head))
		return why_fail(why, why_size, -EINVAL, "%s %s: the request line is too long",
				method, url);
	err = connect_to(path, deadline, &fd, why, why_size);
	if (err)
		return err;
	err = send_all(fd, head, (size_t)n, deadline);
	if (!err && blen)
		err = send_all(fd, body, blen, deadline);
	/* A server may answer (a 400 for a body it refuses) and close before it
	 * has read all of the request: its answer is still there to read. */
	if (err && err != -EPIPE && err != -ECONNRESET) {
		close(fd);
		return why_fail(why, why_size, err, "sending %s %s to '%s': %s", method, url, path,
				strerror(-err));
	}
	rerr = read_reply(fd, deadline, reply, why, why_size);
	close(fd);
	if (err && rerr)
		return why_fail(why, why_size, err, "sending %s %s to '%s': %s", method, url, path,
				strerror(-err));
	return rerr;
}

void api_client_fault(const struct api_reply *reply, char *buf, size_t size)
{
	json_t *j = reply->body && reply->len ? json_loadb(reply->body, reply->len, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(j, "fault_message"));

	static const char http_error[] = "{ \"error\": \"";

	if (msg)
		snprintf(buf, size, "%s", msg);
	else if (reply->body && reply->len > sizeof(http_error) - 1 &&
		 !memcmp(reply->body, http_error, sizeof(http_error) - 1))
		/* The HTTP layer's refusal (micro_http's body, not JSON: a raw
		 * line break ends the reason). */
		snprintf(buf, size, "%.*s",
			 (int)strcspn(reply->body + sizeof(http_error) - 1, "\r\n\""),
			 reply->body + sizeof(http_error) - 1);
	else if (reply->body && reply->len)
		snprintf(buf, size, "%.*s", (int)strcspn(reply->body, "\r\n"), reply->body);
	else
		snprintf(buf, size, "HTTP %d", reply->status);
	json_decref(j);
}
