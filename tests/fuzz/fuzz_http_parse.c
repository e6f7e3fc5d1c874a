/* libFuzzer target: the API's HTTP/1.1 request parser (src/api/http_parse.c).
 *
 * Input: byte 0 sets the body limit (x 8 bytes), byte 1 the size of the
 * pieces the rest is fed in (0: whole); the rest is what a client sent.
 * The same bytes are parsed whole and in pieces: the requests, their bodies
 * and the final status must not depend on how the bytes were cut. Checked
 * too: no call consumes more than it was given or stalls, bodies stay within
 * the limit, a refusal is a 400 with a reason; each request's
 * log line (api_log_describe) stays within its buffer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_log.h"
#include "api/http_parse.h"

#define MAX_BODY (255 * 8)

struct outcome {
	uint64_t hash; /* of every request's method, url, flags and body */
	unsigned int nreq;
	int bad;
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ull;
	return h;
}

/* The request's line in the log file (api/api_log.c) from what a client
 * sent: always within its buffer, at any size, and NUL-terminated. */
static void describe(const struct http_request *r)
{
	static char line[1024], small[64];
	size_t size = r->body_len % sizeof(small) + 1;

	api_log_describe(line, sizeof(line), r->method, r->url, r->body, r->body_len,
			 r->body_len & 1);
	if (strlen(line) >= sizeof(line))
		abort();
	memset(small, '#', sizeof(small));
	api_log_describe(small, size, r->method, r->url, r->body, r->body_len, false);
	if (strnlen(small, size) >= size || (size < sizeof(small) && small[size] != '#'))
		abort();
}

static void run(const uint8_t *in, size_t len, size_t body_max, size_t piece, struct outcome *o)
{
	static struct http_parser p;
	static char body[MAX_BODY];
	size_t pos = 0;

	memset(o, 0, sizeof(*o));
	o->hash = 0xcbf29ce484222325ull;
	http_parser_init(&p, body, body_max);
	while (pos < len && !o->bad) {
		size_t end = piece && len - pos > piece ? pos + piece : len;

		while (pos < end && !o->bad) {
			enum http_event ev;
			size_t n = http_parse(&p, (const char *)in + pos, end - pos, &ev);

			if (n > end - pos)
				abort();
			pos += n;
			if (ev == HTTP_NEED_MORE && pos != end)
				abort();
			if (ev == HTTP_REQUEST) {
				const struct http_request *r = &p.req;
				uint8_t flags = (uint8_t)(r->keep_alive | r->http10 << 1 |
							  r->expect_continue << 2 |
							  r->too_big << 3 | r->refused << 4);

				if (r->body_len > body_max || strlen(r->url) > HTTP_HEAD_MAX ||
				    (r->too_big && r->body_size <= body_max) ||
				    (r->refused && !p.why[0]))
					abort();
				o->nreq++;
				describe(r);
				o->hash = mix(o->hash, r->method, strlen(r->method) + 1);
				o->hash = mix(o->hash, r->url, strlen(r->url) + 1);
				o->hash = mix(o->hash, &flags, 1);
				o->hash = mix(o->hash, &r->body_size, sizeof(r->body_size));
				o->hash = mix(o->hash, r->body, r->body_len);
			} else if (ev == HTTP_TOO_BIG) {
				if (p.status != 400 || !p.req.too_big ||
				    p.req.body_size <= body_max || p.req.expect_continue)
					abort();
				o->nreq++;
				o->hash = mix(o->hash, &p.req.body_size, sizeof(p.req.body_size));
			} else if (ev == HTTP_BAD) {
				o->bad = p.status;
				if (p.status != 400)
					abort();
				if (!p.why[0] && !p.req.too_big)
					abort();
				o->hash = mix(o->hash, p.why, strlen(p.why));
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole, cut;
	size_t body_max, piece;

	if (size < 2)
		return 0;
	body_max = (size_t)data[0] * 8;
	piece = data[1];
	run(data + 2, size - 2, body_max, 0, &whole);
	run(data + 2, size - 2, body_max, piece ? piece : 1, &cut);
	if (whole.nreq != cut.nreq || whole.bad != cut.bad || whole.hash != cut.hash) {
		fprintf(stderr, "whole: %u requests, status %d; in pieces of %zu: %u, %d\n",
			whole.nreq, whole.bad, piece, cut.nreq, cut.bad);
		abort();
	}
	return 0;
}
