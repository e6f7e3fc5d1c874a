/* The API's HTTP/1.1 request parser (src/api/http_parse.c): a table of good
 * and bad requests, each fed whole, one byte at a time and split at every
 * byte, which must all give the same outcome. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http_parse.h"

#define MAX_REQS 4

struct seen {
	unsigned int nreq, headers;
	struct {
		char method[32], url[256], body[256];
		size_t body_len;
		bool keep_alive, http10, expect, too_big, refused;
		unsigned long long body_size;
	} req[MAX_REQS];
	int bad; /* 0, or the status of HTTP_BAD */
	char why[160];
	unsigned int too_big; /* HTTP_TOO_BIG events */
	bool bad_too_big;
	unsigned long long bad_size;
	size_t left; /* bytes not consumed (after HTTP_BAD) */
};

/* Feeds in[0..len) in pieces ending at cuts[] (then the rest). */
static void drive(const char *in, size_t len, size_t body_max, const size_t *cuts, size_t ncuts,
		  struct seen *o)
{
	static struct http_parser p;
	static char body[4096];
	size_t pos = 0, c = 0;

	cr_assert_leq(body_max, sizeof(body));
	memset(o, 0, sizeof(*o));
	http_parser_init(&p, body, body_max);
	while (pos < len && !o->bad) {
		size_t end = c < ncuts ? cuts[c++] : len;

		if (end > len)
			end = len;
		while (pos < end && !o->bad) {
			enum http_event ev;
			size_t n = http_parse(&p, in + pos, end - pos, &ev);

			/* No cr_assert per call: --full-stats records each one. */
			if (n > end - pos)
				cr_assert_fail("consumed %zu of %zu bytes", n, end - pos);
			pos += n;
			if (ev == HTTP_NEED_MORE) {
				if (pos != end)
					cr_assert_fail("NEED_MORE left bytes unread");
			} else if (ev == HTTP_HEADERS) {
				o->headers++;
			} else if (ev == HTTP_TOO_BIG) {
				o->too_big++;
				cr_assert_eq(p.status, 400);
				o->bad_too_big = p.req.too_big;
				o->bad_size = (unsigned long long)p.req.body_size;
			} else if (ev == HTTP_REQUEST) {
				const struct http_request *r = &p.req;
				unsigned int k = o->nreq++;

				cr_assert_lt(k, MAX_REQS);
				snprintf(o->req[k].method, sizeof(o->req[k].method), "%s",
					 r->method);
				snprintf(o->req[k].url, sizeof(o->req[k].url), "%s", r->url);
				cr_assert_leq(r->body_len, body_max);
				if (r->body_len < sizeof(o->req[k].body))
					memcpy(o->req[k].body, r->body, r->body_len);
				o->req[k].body_len = r->body_len;
				o->req[k].keep_alive = r->keep_alive;
				o->req[k].http10 = r->http10;
				o->req[k].expect = r->expect_continue;
				o->req[k].too_big = r->too_big;
				o->req[k].refused = r->refused;
				if (r->refused)
					snprintf(o->why, sizeof(o->why), "%s", p.why);
				o->req[k].body_size = (unsigned long long)r->body_size;
			} else {
				o->bad = p.status;
				snprintf(o->why, sizeof(o->why), "%s", p.why);
				o->bad_too_big = p.req.too_big;
				o->bad_size = (unsigned long long)p.req.body_size;
				o->left = len - pos;
			}
		}
	}
	if (o->bad) {
		enum http_event ev;

		cr_assert_eq(http_parse(&p, "GET", 3, &ev), 0, "input after HTTP_BAD");
		cr_assert_eq(ev, HTTP_BAD);
	}
}

static void same(const struct seen *a, const struct seen *b, const char *name, size_t cut)
{
	unsigned int i;

	if (a->nreq == b->nreq && a->bad == b->bad && a->headers == b->headers &&
	    a->too_big == b->too_big && a->bad_size == b->bad_size && !strcmp(a->why, b->why) &&
	    !memcmp(a->req, b->req, sizeof(a->req)))
		return; /* the usual case, without an assertion per cut */
	cr_assert_eq(a->nreq, b->nreq, "%s (cut %zu): %u requests, not %u", name, cut, b->nreq,
		     a->nreq);
	cr_assert_eq(a->bad, b->bad, "%s (cut %zu): status %d, not %d", name, cut, b->bad, a->bad);
	cr_assert_eq(a->headers, b->headers, "%s (cut %zu)", name, cut);
	cr_assert_eq(a->too_big, b->too_big, "%s (cut %zu)", name, cut);
	cr_assert_eq(a->bad_size, b->bad_size, "%s (cut %zu)", name, cut);
	cr_assert_str_eq(a->why, b->why, "%s (cut %zu)", name, cut);
	for (i = 0; i < a->nreq; i++) {
		cr_assert_str_eq(a->req[i].url, b->req[i].url, "%s (cut %zu)", name, cut);
		cr_assert_eq(a->req[i].body_len, b->req[i].body_len, "%s (cut %zu)", name, cut);
		cr_assert_eq(a->req[i].body_size, b->req[i].body_size, "%s (cut %zu)", name, cut);
		cr_assert_eq(a->req[i].too_big, b->req[i].too_big, "%s (cut %zu)", name, cut);
		cr_assert_eq(a->req[i].refused, b->req[i].refused, "%s (cut %zu)", name, cut);
		cr_assert_eq(memcmp(a->req[i].body, b->req[i].body, a->req[i].body_len), 0,
			     "%s (cut %zu)", name, cut);
	}
}

/* Whole, then split at every byte, then byte by byte: the same outcome. */
static void parse_all_ways(const char *in, size_t len, size_t body_max, const char *name,
			   struct seen *o)
{
	struct seen *s = malloc(sizeof(*s));
	size_t cut, *cuts = malloc((len + 1) * sizeof(*cuts));

	cr_assert(s && cuts);
	drive(in, len, body_max, NULL, 0, o);
	for (cut = 0; cut <= len; cut++) {
		drive(in, len, body_max, &cut, 1, s);
		same(o, s, name, cut);
	}
	for (cut = 0; cut < len; cut++)
		cuts[cut] = cut + 1;
	drive(in, len, body_max, cuts, len, s);
	same(o, s, name, (size_t)-1);
	free(cuts);
	free(s);
}

#define S(lit) lit, sizeof(lit) - 1

struct good {
	const char *name, *in;
	size_t len;
	const char *method, *url, *body;
	bool keep_alive, http10, expect;
	unsigned int nreq;
};

static const struct good goods[] = {
	{ "get", S("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "GET", "/", "", true, false, false, 1 },
	{ "no headers", S("GET /version HTTP/1.1\r\n\r\n"), "GET", "/version", "", true, false,
	  false, 1 },
	{ "query kept", S("GET /machine-config?x=1&y HTTP/1.1\r\n\r\n"), "GET",
	  "/machine-config?x=1&y", "", true, false, false, 1 },
	{ "escapes kept", S("GET /drives/a%2db%00c%41 HTTP/1.1\r\n\r\n"), "GET",
	  "/drives/a%2db%00c%41", "", true, false, false, 1 },
	{ "http/1.0 closes", S("GET / HTTP/1.0\r\n\r\n"), "GET", "/", "", false, true, false, 1 },
	{ "http/1.0 keep-alive", S("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), "GET", "/",
	  "", true, true, false, 1 },
	{ "http/1.9 reads as 1.1", S("GET / HTTP/1.9\r\n\r\n"), "GET", "/", "", true, false, false,
	  1 },
	{ "connection close", S("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"), "GET", "/", "",
	  false, false, false, 1 },
	{ "connection list", S("GET / HTTP/1.1\r\nconnection: foo , CLOSE\r\n\r\n"), "GET", "/", "",
	  false, false, false, 1 },
	{ "content-length",
	  S("PUT /machine-config HTTP/1.1\r\nContent-Length: 13\r\n\r\n{\"a\": \"b c\"}\n"), "PUT",
	  "/machine-config", "{\"a\": \"b c\"}\n", true, false, false, 1 },
	{ "content-length 0", S("PUT /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), "PUT", "/x", "",
	  true, false, false, 1 },
	{ "content-length twice, same",
	  S("PUT /x HTTP/1.1\r\nContent-Length: 2\r\nContent-length:"
	    " 2\r\n\r\n{}"),
	  "PUT", "/x", "{}", true, false, false, 1 },
	{ "chunked",
	  S("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n "
	    "world\r\nA \r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n"),
	  "PUT", "/x", "hello world0123456789", true, false, false, 1 },
	{ "chunked, empty", S("PUT /x HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n"),
	  "PUT", "/x", "", true, false, false, 1 },
	{ "expect 100-continue",
	  S("PUT /x HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n{}"), "PUT", "/x",
	  "{}", true, false, true, 1 },
	{ "expect ignored in 1.0",
	  S("PUT /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}"), "PUT", "/x",
	  "{}", false, true, false, 1 },
	{ "bare LF", S("GET /a HTTP/1.1\nHost: x\n\n"), "GET", "/a", "", true, false, false, 1 },
	{ "leading CRLF", S("\r\n\r\nGET /a HTTP/1.1\r\n\r\n"), "GET", "/a", "", true, false, false,
	  1 },
	{ "unknown headers, odd values",
	  S("GET / HTTP/1.1\r\nX-Empty:\r\nUser-Agent: \xc3\xa9t\xc3\xa9\t\r\nAccept: */*\r\n\r\n"),
	  "GET", "/", "", true, false, false, 1 },
	{ "pipelined",
	  S("GET /a HTTP/1.1\r\n\r\nPUT /b HTTP/1.1\r\nContent-Length: 1\r\n\r\nxGET /c "
	    "HTTP/1.1\r\nConnection: close\r\n\r\n"),
	  "GET", "/a", "", true, false, false, 3 },
	{ "any target", S("GET * HTTP/1.1\r\n\r\n"), "GET", "", "", true, false, false, 1 },
	/* micro_http's URI is any UTF-8 string: the router decides. */
	{ "UTF-8 target", S("GET /drives/\xc3\xa9 HTTP/1.1\r\n\r\n"), "GET", "/drives/\xc3\xa9", "",
	  true, false, false, 1 },
	/* No '/' first: micro_http's empty path, not the resource named. */
	{ "relative target", S("PUT machine-config HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), "PUT",
	  "", "", true, false, false, 1 },
	{ "absolute form", S("GET http://localhost:80/machine-config?a=/b HTTP/1.1\r\n\r\n"), "GET",
	  "/machine-config?a=/b", "", true, false, false, 1 },
	{ "absolute form, no path", S("GET http://localhost HTTP/1.1\r\n\r\n"), "GET", "", "", true,
	  false, false, 1 },
	/* micro_http's scheme is "http://" exactly: another spelling is no path. */
	{ "absolute form in capitals", S("GET HTTP://localhost/version HTTP/1.1\r\n\r\n"), "GET",
	  "", "", true, false, false,
	  1 }, /* micro_http (Firecracker's) takes identity as no coding at all. */
	/* Leading zeros are no digits. */
	{ "length with leading zeros",
	  S("PUT /x HTTP/1.1\r\nContent-Length: 000000000000000000002\r\n\r\n{}"), "PUT", "/x",
	  "{}", true, false, false, 1 },
	{ "chunk size with leading zeros",
	  S("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000000000002\r\n{}"
	    "\r\n0000\r\nA: b\tc\r\nD:\n\r\n"),
	  "PUT", "/x", "{}", true, false, false, 1 },
	{ "identity",
	  S("PUT /x HTTP/1.1\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n\r\n{}"), "PUT",
	  "/x", "{}", true, false, false, 1 },
};

Test(http_parse, good_requests)
{
	size_t i;

	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];
		struct seen o;

		parse_all_ways(g->in, g->len, 64, g->name, &o);
		cr_assert_eq(o.bad, 0, "%s: refused (%d %s)", g->name, o.bad, o.why);
		cr_assert_eq(o.nreq, g->nreq, "%s: %u requests", g->name, o.nreq);
		cr_assert_str_eq(o.req[0].method, g->method, "%s", g->name);
		cr_assert_str_eq(o.req[0].url, g->url, "%s", g->name);
		cr_assert_eq(o.req[0].body_len, strlen(g->body), "%s", g->name);
		cr_assert_eq(memcmp(o.req[0].body, g->body, strlen(g->body)), 0, "%s", g->name);
		cr_assert_eq(o.req[0].keep_alive, g->keep_alive, "%s: keep-alive", g->name);
		cr_assert_eq(o.req[0].http10, g->http10, "%s: version", g->name);
		cr_assert_eq(o.req[0].expect, g->expect, "%s: expect", g->name);
		cr_assert_not(o.req[0].too_big, "%s", g->name);
		cr_assert_not(o.req[0].refused, "%s", g->name);
	}
}

/* A method Firecracker's micro_http does not know is refused in its words;
 * the request is read to its end (body and all) and the next one served. */
Test(http_parse, unknown_methods)
{
	static const char *const methods[] = { "POST", "HEAD", "OPTIONS", "get", "G(T", "" };
	char in[200];
	struct seen o;
	size_t i;
	int n;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		n = snprintf(in, sizeof(in),
			     "%s /machine-config HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
			     "GET /next HTTP/1.1\r\n\r\n",
			     methods[i]);
		parse_all_ways(in, (size_t)n, 64, methods[i], &o);
		cr_assert_eq(o.bad, 0, "'%s': %s", methods[i], o.why);
		cr_assert_eq(o.nreq, 2, "'%s'", methods[i]);
		cr_assert(o.req[0].refused, "'%s'", methods[i]);
		cr_assert_str_eq(o.why, "Invalid HTTP Method: Unsupported HTTP method.");
		cr_assert_not(o.req[1].refused);
		cr_assert_str_eq(o.req[1].url, "/next");
	}
	/* With a bad version too: micro_http names the method, the framing is lost. */
	parse_all_ways(S("POST / HTTP/2.0\r\n\r\n"), 64, "POST 2.0", &o);
	cr_assert_eq(o.bad, 400);
	cr_assert_str_eq(o.why, "Invalid HTTP Method: Unsupported HTTP method.");
}

Test(http_parse, details)
{
	struct seen o;

	parse_all_ways(S("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 64, "1.0", &o);
	cr_assert(o.req[0].keep_alive && o.req[0].http10);
	/* HTTP_HEADERS comes before a body only. */
	parse_all_ways(S("PUT /b HTTP/1.1\r\nContent-Length: 1\r\n\r\nx"), 64, "body", &o);
	cr_assert_eq(o.headers, 1);
	parse_all_ways(S("GET /a HTTP/1.1\r\n\r\n"), 64, "no body", &o);
	cr_assert_eq(o.headers, 0);
	parse_all_ways(goods[19].in, goods[19].len, 64, "pipelined", &o);
	cr_assert_str_eq(o.req[1].method, "PUT");
	cr_assert_str_eq(o.req[1].url, "/b");
	cr_assert_eq(o.req[1].body_len, 1);
	cr_assert_eq(o.req[1].body[0], 'x');
	cr_assert_str_eq(o.req[2].url, "/c");
	cr_assert_not(o.req[2].keep_alive);
	cr_assert_eq(o.headers, 1);
}

Test(http_parse, body_limits)
{
	char in[600];
	struct seen o;
	int n;

	/* Exactly the limit: kept. */
	n = snprintf(in, sizeof(in), "PUT /x HTTP/1.1\r\nContent-Length: 64\r\n\r\n%064d", 7);
	parse_all_ways(in, (size_t)n, 64, "64 of 64", &o);
	cr_assert_eq(o.bad, 0);
	cr_assert_eq(o.req[0].body_len, 64);
	/* One over, declared: refused when the head ends, before any body
	 * byte; the body is skipped and the next request read. */
	n = snprintf(in, sizeof(in),
		     "PUT /x HTTP/1.1\r\nContent-Length: 65\r\n\r\n%065dGET /next HTTP/1.1\r\n\r\n",
		     7);
	parse_all_ways(in, (size_t)n, 64, "65 of 64", &o);
	cr_assert_eq(o.bad, 0, "%s", o.why);
	cr_assert_eq(o.too_big, 1);
	cr_assert(o.bad_too_big);
	cr_assert_eq(o.bad_size, 65);
	cr_assert_eq(o.headers, 0);
	cr_assert_eq(o.nreq, 1);
	cr_assert_str_eq(o.req[0].url, "/next");
	/* The same, waiting for 100 Continue: whether the body comes is the
	 * client's choice, so the framing is lost. */
	n = snprintf(in, sizeof(in),
		     "PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 65\r\n\r\n%065d",
		     7);
	parse_all_ways(in, (size_t)n, 64, "65 of 64, expect", &o);
	cr_assert_eq(o.bad, 400);
	cr_assert(o.bad_too_big);
	cr_assert_eq(o.left, 65, "the body is not read");
	cr_assert_eq(o.nreq, 0);
	cr_assert_eq(o.too_big, 0);
	/* Declared only, the largest micro_http reads. */
	parse_all_ways(
		S("PUT /x HTTP/1.1\r\nContent-Length: 4294967295\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
		64, "huge", &o);
	cr_assert_eq(o.too_big, 1);
	cr_assert_eq(o.bad_size, 4294967295ull);
	cr_assert_eq(o.nreq, 0, "what follows is the body's");
	/* Chunked past the limit: read to its end and dropped, the framing kept. */
	n = snprintf(in, sizeof(in),
		     "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "28\r\n%040d\r\n28\r\n%040d\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n",
		     1, 2);
	parse_all_ways(in, (size_t)n, 64, "chunked 80 of 64", &o);
	cr_assert_eq(o.bad, 0);
	cr_assert_eq(o.nreq, 2);
	cr_assert(o.req[0].too_big);
	cr_assert_eq(o.req[0].body_size, 80);
	cr_assert_str_eq(o.req[1].url, "/next");
	cr_assert_not(o.req[1].too_big);
	/* Chunked up to the limit exactly. */
	n = snprintf(in, sizeof(in),
		     "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "20\r\n%032d\r\n20\r\n%032d\r\n0\r\n\r\n",
		     1, 2);
	parse_all_ways(in, (size_t)n, 64, "chunked 64 of 64", &o);
	cr_assert_not(o.req[0].too_big);
	cr_assert_eq(o.req[0].body_len, 64);
	/* No buffer: any body is too big. */
	parse_all_ways(S("PUT /x HTTP/1.1\r\nContent-Length: 1\r\n\r\nx"), 0, "no buffer", &o);
	cr_assert(o.bad_too_big);
	cr_assert_eq(o.too_big, 1);
}

struct bad {
	const char *name, *in;
	size_t len;
	int status;
	const char *why; /* a part of the message */
};

static const struct bad bads[] = {
	/* micro_http's words where it refuses the same thing (the message is
	 * compared whole then), volt's own where it does not. */
	{ "words", S("hello there\r\n\r\n"), 400, "Invalid request." },
	{ "binary", S("\x00\x01\x02\r\n\r\n"), 400, "Invalid request." },
	{ "no version", S("GET /\r\n\r\n"), 400, "Invalid request." },
	{ "http/2", S("GET / HTTP/2.0\r\n\r\n"), 400,
	  "Invalid HTTP Version: Unsupported HTTP version." },
	{ "two spaces", S("GET  / HTTP/1.1\r\n\r\n"), 400, "Invalid URI: Empty URI not allowed." },
	{ "trailing space", S("GET / HTTP/1.1 \r\n\r\n"), 400,
	  "Invalid HTTP Version: Unsupported HTTP version." },
	{ "lower-case version", S("GET / http/1.1\r\n\r\n"), 400,
	  "Invalid HTTP Version: Unsupported HTTP version." },
	{ "version 1.10", S("GET / HTTP/1.10\r\n\r\n"), 400,
	  "Invalid HTTP Version: Unsupported HTTP version." },
	{ "space in target", S("GET /a b HTTP/1.1\r\n\r\n"), 400,
	  "Invalid HTTP Version: Unsupported HTTP version." },
	{ "target not UTF-8", S("GET /\xc3( HTTP/1.1\r\n\r\n"), 400,
	  "Invalid URI: Cannot parse URI as UTF-8." },
	{ "non-ASCII method", S("G\xc3\xa9T / HTTP/1.1\r\n\r\n"), 400, "Invalid request." },
	{ "non-ASCII version", S("GET / HTTP/1.\xc3\xa9\r\n\r\n"), 400, "Invalid request." },
	{ "tab in request line", S("GET\t/ HTTP/1.1\r\n\r\n"), 400, "Invalid request." },
	{ "DEL in target", S("GET /\x7f HTTP/1.1\r\n\r\n"), 400, "Invalid request." },
	{ "no colon", S("GET / HTTP/1.1\r\nNoColonHere\r\n\r\n"), 400,
	  "Invalid header. Reason: Header is incorrectly formatted. Key: NoColonHere" },
	{ "space before colon", S("GET / HTTP/1.1\r\nX : y\r\n\r\n"), 400,
	  "Invalid header. Reason: Header is incorrectly formatted. Key: X " },
	{ "empty name", S("GET / HTTP/1.1\r\n: y\r\n\r\n"), 400,
	  "Header is incorrectly formatted" },
	{ "folding", S("GET / HTTP/1.1\r\nX: y\r\n z\r\n\r\n"), 400, "folding" },
	{ "control in value", S("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n"), 400, "0x01" },
	{ "bare CR", S("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"), 400, "bare CR" },
	{ "length abc", S("PUT / HTTP/1.1\r\ncontent-length:  abc \r\n\r\n"), 400,
	  "Invalid header. Reason: Invalid value. Key:content-length; Value:  abc " },
	{ "length over 32 bits", S("PUT / HTTP/1.1\r\nContent-Length: 4294967296\r\n\r\n"), 400,
	  "Invalid header. Reason: Invalid value. Key:Content-Length; Value: 4294967296" },
	{ "length with a sign", S("PUT / HTTP/1.1\r\nContent-Length: +1\r\n\r\nx"), 400,
	  "Invalid value" },
	{ "length -1", S("PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400, "Content-Length" },
	{ "length empty", S("PUT / HTTP/1.1\r\nContent-Length:\r\n\r\n"), 400, "Content-Length" },
	{ "length list", S("PUT / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n"), 400,
	  "Content-Length" },
	{ "length 20 digits", S("PUT / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n"),
	  400, "Content-Length" },
	{ "two lengths", S("PUT / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"),
	  400, "two different Content-Length" },
	{ "length and chunked",
	  S("PUT / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
	  400, "both Content-Length and" },
	{ "gzip", S("PUT / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), 400,
	  "Invalid header. Reason: Unsupported value. Key:Transfer-Encoding; Value: gzip" },
	{ "gzip, chunked", S("PUT / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 400,
	  "Unsupported value" },
	{ "chunked twice",
	  S("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  400, "Unsupported value" },
	{ "chunk size zz", S("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n"),
	  400, "bad chunk size line 'zz'" },
	{ "chunk size empty", S("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n"), 400,
	  "bad chunk size" },
	{ "chunk size 17 digits",
	  S("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n"), 400,
	  "bad chunk size" },
	{ "chunk size then junk", S("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\n"),
	  400, "bad chunk size" },
	/* The line is read to its end: a NUL does not end it early. */
	{ "chunk size, NUL, junk",
	  S("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\0zz\r\na\r\n0\r\n\r\n"), 400,
	  "bad chunk size" },
	{ "chunk data, NUL",
	  S("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\0\r\n0\r\n\r\n"), 400,
	  "chunk data longer than its size" },
	{ "chunk longer than its size",
	  S("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n"), 400,
	  "longer than its size" },
	/* A trailer's lines are field lines, refused as a head's. */
	{ "trailer line without colon",
	  S("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon here\r\n\r\n"), 400,
	  "malformed line in the chunked body's trailer" },
	{ "trailer NUL",
	  S("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: b\0c\r\n\r\n"), 400,
	  "control byte 0x00 in the chunked body's trailer" },
	{ "trailer NUL in a name",
	  S("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA\0: b\r\n\r\n"), 400,
	  "malformed line in the chunked body's trailer" },
	{ "trailer folding",
	  S("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: b\r\n folded\r\n\r\n"),
	  400, "obsolete line folding in the chunked body's trailer" },
	{ "trailer bare CR",
	  S("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: b\rX: y\r\n\r\n"), 400,
	  "a bare CR in the chunked body's trailer" },
	{ "trailer empty name",
	  S("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n: b\r\n\r\n"), 400,
	  "malformed line" },
	{ "too many empty lines", S("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n"), 400,
	  "empty lines" },
};

Test(http_parse, bad_requests)
{
	size_t i;

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		struct seen o;

		parse_all_ways(b->in, b->len, 64, b->name, &o);
		cr_assert_eq(o.bad, b->status, "%s: status %d (%s)", b->name, o.bad, o.why);
		cr_assert(strstr(o.why, b->why), "%s: '%s' lacks '%s'", b->name, o.why, b->why);
		cr_assert_eq(o.nreq, 0, "%s", b->name);
	}
}

/* A request before the bad one is still whole. */
Test(http_parse, good_then_bad)
{
	struct seen o;

	parse_all_ways(S("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/7.0\r\n\r\n"), 64, "then bad", &o);
	cr_assert_eq(o.nreq, 1);
	cr_assert_str_eq(o.req[0].url, "/a");
	cr_assert_eq(o.bad, 400);
}

static char *repeat(const char *head, char c, size_t n, const char *tail, size_t *len)
{
	size_t hl = strlen(head), tl = strlen(tail);
	char *s = malloc(hl + n + tl + 1);

	cr_assert(s);
	memcpy(s, head, hl);
	memset(s + hl, c, n);
	memcpy(s + hl + n, tail, tl + 1);
	*len = hl + n + tl;
	return s;
}

Test(http_parse, head_limits)
{
	struct seen o;
	size_t len;
	char *s;

	/* The largest head that fits. */
	s = repeat("GET / HTTP/1.1\r\nX: ", 'a', HTTP_HEAD_MAX - 23, "\r\n\r\n", &len);
	cr_assert_eq(len, HTTP_HEAD_MAX);
	drive(s, len, 64, NULL, 0, &o);
	cr_assert_eq(o.bad, 0, "%s", o.why);
	cr_assert_eq(o.nreq, 1);
	free(s);
	/* One byte more. */
	s = repeat("GET / HTTP/1.1\r\nX: ", 'a', HTTP_HEAD_MAX - 22, "\r\n\r\n", &len);
	drive(s, len, 64, (size_t[]){ 1, 20, HTTP_HEAD_MAX - 1, HTTP_HEAD_MAX }, 4, &o);
	cr_assert_eq(o.bad, 400, "%d %s", o.bad, o.why);
	cr_assert(strstr(o.why, "headers are over"), "%s", o.why);
	free(s);
	/* A long URL. */
	s = repeat("GET /", 'a', 2 * HTTP_HEAD_MAX, " HTTP/1.1\r\n\r\n", &len);
	drive(s, len, 64, NULL, 0, &o);
	cr_assert_eq(o.bad, 400, "%d %s", o.bad, o.why);
	cr_assert(strstr(o.why, "request line is over"), "%s", o.why);
	free(s);
	/* Many small headers: bounded by the same limit, whatever their count. */
	{
		char *big = malloc(4 * HTTP_HEAD_MAX);
		size_t n = (size_t)sprintf(big, "GET / HTTP/1.1\r\n");

		while (n < 3 * HTTP_HEAD_MAX)
			n += (size_t)sprintf(big + n, "A:b\r\n");
		n += (size_t)sprintf(big + n, "\r\n");
		drive(big, n, 64, NULL, 0, &o);
		cr_assert_eq(o.bad, 400);
		free(big);
	}
	/* A chunk line without end, and a trailer without end. */
	s = repeat("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;", 'e',
		   HTTP_CHUNK_LINE_MAX, "\r\nx\r\n0\r\n\r\n", &len);
	parse_all_ways(s, len, 64, "chunk line", &o);
	cr_assert_eq(o.bad, 400);
	cr_assert(strstr(o.why, "chunk size line too long"), "%s", o.why);
	free(s);
	s = repeat("PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: ", 'e',
		   HTTP_HEAD_MAX, "\r\n\r\n", &len);
	drive(s, len, 64, NULL, 0, &o);
	cr_assert_eq(o.bad, 400);
	cr_assert(strstr(o.why, "trailer is over"), "%s", o.why);
	free(s);
}

Test(http_parse, reasons)
{
	cr_assert_str_eq(http_reason(200), "OK");
	cr_assert_str_eq(http_reason(204), "No Content");
	cr_assert_str_eq(http_reason(400), "Bad Request");
	cr_assert_str_eq(http_reason(505), "HTTP Version Not Supported");
	cr_assert_str_eq(http_reason(299), "Unknown");
}

/* Whether a connection holds part of a request (the API closes one that has
 * stalled there): not after a whole request, nor after the empty lines a
 * client may send between requests; yes from a request's first byte. */
Test(http_parse, between_requests)
{
	static struct http_parser p;
	static char body[64];
	enum http_event ev;

	http_parser_init(&p, body, sizeof(body));
	cr_assert(http_parser_between(&p));
	cr_assert_eq(http_parse(&p, "GET / HTTP/1.1\r\n\r\n", 18, &ev), 18);
	cr_assert_eq(ev, HTTP_REQUEST);
	cr_assert(http_parser_between(&p));
	http_parse(&p, "\r\n\r\n", 4, &ev);
	cr_assert_eq(ev, HTTP_NEED_MORE);
	cr_assert(http_parser_between(&p), "empty lines are no request's");
	http_parse(&p, "G", 1, &ev);
	cr_assert_not(http_parser_between(&p));
	http_parse(&p, "ET / HTTP/1.1\r\n\r\n", 17, &ev);
	cr_assert_eq(ev, HTTP_REQUEST);
	cr_assert(http_parser_between(&p));
}
