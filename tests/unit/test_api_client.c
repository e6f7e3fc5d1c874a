/* cli/api_client: the HTTP/1.1 client of `volt snapshot create`, against a
 * one-shot server thread that answers canned bytes: status and body parsing
 * (Content-Length, or up to the end of the stream), fault_message
 * extraction, and the bounds (an answer too long, one that is not HTTP, a
 * server that never answers, a socket nobody listens on). */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/api_client.h"

struct canned {
	int lfd;
	const char *reply; /* NULL: read the request, never answer */
	size_t len;	   /* 0: strlen(reply) */
	size_t repeat;	   /* send reply this many times (0: once) */
	char request[4096];
};

static void *serve(void *arg)
{
	struct canned *c = arg;
	int fd = accept(c->lfd, NULL, NULL);
	size_t i, n = c->repeat ? c->repeat : 1;
	ssize_t got;

	if (fd < 0)
		return NULL;
	/* The whole request: its head, then Content-Length bytes of body. */
	for (size_t have = 0; have < sizeof(c->request) - 1;) {
		const char *end, *cl;

		got = recv(fd, c->request + have, sizeof(c->request) - 1 - have, 0);
		if (got <= 0)
			break;
		have += (size_t)got;
		c->request[have] = '\0';
		end = strstr(c->request, "\r\n\r\n");
		cl = strstr(c->request, "Content-Length: ");
		if (end &&
		    (!cl || have >= (size_t)(end + 4 - c->request) +
					    strtoul(cl + strlen("Content-Length: "), NULL, 10)))
			break;
	}
	if (!c->reply) {
		sleep(3);
	} else {
		for (i = 0; i < n; i++)
			if (send(fd, c->reply, c->len ? c->len : strlen(c->reply), MSG_NOSIGNAL) <
			    0)
				break;
	}
	close(fd);
	return NULL;
}

static char sock_path[108];

static int run(struct canned *c, const char *body, int timeout_ms, struct api_reply *r, char *why)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	pthread_t t;
	int err;

	snprintf(sock_path, sizeof(sock_path), "/tmp/volt-test-api-client-%d.sock", getpid());
	unlink(sock_path);
	memcpy(a.sun_path, sock_path, strlen(sock_path) + 1);
	c->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert(c->lfd >= 0);
	cr_assert_eq(bind(c->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(c->lfd, 1), 0);
	cr_assert_eq(pthread_create(&t, NULL, serve, c), 0);
	err = api_client_request(sock_path, "PUT", "/snapshot/create", body, timeout_ms, r, why,
				 512);
	pthread_join(t, NULL);
	close(c->lfd);
	unlink(sock_path);
	return err;
}

Test(api_client, a_204_and_the_request_it_sent)
{
	struct canned c = { .reply = "HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n" };
	struct api_reply r;
	char why[512];

	cr_assert_eq(run(&c, "{\"a\":1}", 5000, &r, why), 0, "%s", why);
	cr_assert_eq(r.status, 204);
	cr_assert_str_eq(r.body, "");
	free(r.body);
	cr_assert(strstr(c.request, "PUT /snapshot/create HTTP/1.1\r\n"), "%s", c.request);
	cr_assert(strstr(c.request, "Content-Length: 7\r\n"), "%s", c.request);
	cr_assert(strstr(c.request, "\r\n\r\n{\"a\":1}"), "%s", c.request);
}

Test(api_client, a_fault_message_by_content_length)
{
	struct canned c = { .reply = "HTTP/1.1 400 Bad Request\r\ncontent-length: 27\r\n\r\n"
				     "{\"fault_message\":\"no way\"}\n trailing bytes" };
	struct api_reply r;
	char why[512], msg[256];

	cr_assert_eq(run(&c, NULL, 5000, &r, why), 0, "%s", why);
	cr_assert_eq(r.status, 400);
	cr_assert_eq(r.len, 27);
	api_client_fault(&r, msg, sizeof(msg));
	cr_assert_str_eq(msg, "no way");
	free(r.body);
}

Test(api_client, a_body_to_the_end_of_the_stream)
{
	struct canned c = { .reply = "HTTP/1.0 500 Oops\r\n\r\nnot json\nsecond line" };
	struct api_reply r;
	char why[512], msg[256];

	cr_assert_eq(run(&c, NULL, 5000, &r, why), 0, "%s", why);
	cr_assert_eq(r.status, 500);
	api_client_fault(&r, msg, sizeof(msg));
	cr_assert_str_eq(msg, "not json");
	free(r.body);
}

/* The HTTP layer's refusal, as Firecracker's micro_http (and volt) frame it:
 * no reason phrase, and a body that is not JSON (a raw line break). */
Test(api_client, micro_http_s_error_body)
{
	struct canned c = {
		.reply =
			"HTTP/1.1 400 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
			"Content-Type: application/json\r\nContent-Length: 81\r\n\r\n"
			"{ \"error\": \"Invalid request.\nAll previous unanswered requests will be "
			"dropped.\" }"
	};
	struct api_reply r;
	char why[512], msg[256];

	cr_assert_eq(run(&c, NULL, 5000, &r, why), 0, "%s", why);
	cr_assert_eq(r.status, 400);
	cr_assert_eq(r.len, 81);
	api_client_fault(&r, msg, sizeof(msg));
	cr_assert_str_eq(msg, "Invalid request.");
	free(r.body);
}

Test(api_client, not_http)
{
	struct canned c = { .reply = "SSH-2.0-OpenSSH\r\n\r\n" };
	struct canned d = { .reply = "HTTP/1.1 200 OK\r\n" }; /* no end of the headers */
	struct api_reply r;
	char why[512];

	cr_assert_eq(run(&c, NULL, 5000, &r, why), -EPROTO);
	cr_assert(strstr(why, "not HTTP"), "%s", why);
	cr_assert_eq(run(&d, NULL, 5000, &r, why), -EPROTO);
}

Test(api_client, an_endless_answer_is_cut)
{
	static char chunk[65536];
	struct canned c = { .reply = chunk, .len = sizeof(chunk), .repeat = 8 };
	struct api_reply r;
	char why[512];

	memset(chunk, 'x', sizeof(chunk));
	memcpy(chunk, "HTTP/1.1 200 OK\r\n", 17);
	cr_assert_eq(run(&c, NULL, 5000, &r, why), -EMSGSIZE);
	cr_assert(strstr(why, "longer than"), "%s", why);
}

Test(api_client, a_silent_server_times_out)
{
	struct canned c = { .reply = NULL };
	struct api_reply r;
	char why[512];

	cr_assert_eq(run(&c, NULL, 300, &r, why), -ETIMEDOUT);
	cr_assert(strstr(why, "in time"), "%s", why);
}

Test(api_client, nobody_listening)
{
	struct api_reply r;
	char why[512];

	cr_assert_eq(api_client_request("/tmp/volt-test-api-client-none.sock", "GET", "/", NULL,
					1000, &r, why, sizeof(why)),
		     -ENOENT);
	cr_assert(strstr(why, "cannot connect to the API socket"), "%s", why);
	cr_assert_eq(api_client_request("", "GET", "/", NULL, 1000, &r, why, sizeof(why)), -EINVAL);
}
