/* An incremental HTTP/1.1 request parser for the API socket: no I/O, no
 * allocation, fed whatever bytes arrived (a request may come one byte at a
 * time, several may come at once: pipelining).
 *
 * What it accepts, sized to Firecracker's API: a request line
 * "METHOD target HTTP/1.x", header lines, and a body framed by Content-Length
 * or by Transfer-Encoding: chunked (none: no body). It reads Content-Length,
 * Transfer-Encoding, Connection and Expect and ignores every other header
 * (none is stored, so their number is bounded by HTTP_HEAD_MAX alone).
 * A bare LF ends a line as CRLF does (RFC 9112 2.2).
 *
 * Everything else is refused, strictly: a malformed request line, an obsolete
 * line folding, whitespace before a header's colon, control bytes, a bad or
 * ambiguous length (two different Content-Lengths, or one with chunked), an
 * unknown transfer coding, HTTP/2+, a head over HTTP_HEAD_MAX. Then
 * http_parse() reports HTTP_BAD with why: the connection must be closed after
 * that answer (the framing is lost). Every refusal is a 400 (Firecracker's
 * micro_http answers so), in micro_http's words where it refuses the same
 * thing ("Invalid request.", "Invalid HTTP Method: Unsupported HTTP method.").
 * A method other than GET, PUT, PATCH and DELETE is read to the end of its
 * request, which comes with req.refused: answered, the connection stays.
 *
 * Bodies: at most body_max bytes are kept (the caller's buffer). A declared
 * Content-Length over it is HTTP_TOO_BIG as soon as the head is read, so the
 * answer comes before the body is sent; the body's bytes are then skipped
 * and the next request read (HTTP_BAD instead when the client waits for a
 * 100 Continue: whether it sends the body is up to it). A chunked body that
 * grows past it is read to its end and dropped: the request then completes
 * with too_big set (the framing holds, the connection may stay). */
#ifndef VOLT_API_HTTP_PARSE_H
#define VOLT_API_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The request line and the headers together (and, apart, a chunked body's
 * trailer): larger heads are refused. */
#define HTTP_HEAD_MAX 8192
/* A chunk-size line, extensions included. */
#define HTTP_CHUNK_LINE_MAX 128

enum http_event {
	HTTP_NEED_MORE, /* every byte given was consumed; the request is not whole yet */
	HTTP_HEADERS,	/* the head is read (expect_continue: answer 100 now); call again */
	HTTP_REQUEST,	/* a whole request: method, url, body (valid until the next call) */
	HTTP_TOO_BIG,	/* a declared body over body_max: answer now; call again (it is skipped) */
	HTTP_BAD,	/* bad input: answer 400 why, then close the connection */
};

struct http_request {
	const char *method;
	/* The path (of an absolute-form target too), as written: no
	 * %-decoding, a query kept (Firecracker's micro_http). */
	const char *url;
	const char *body;
	size_t body_len;
	bool http10;	      /* HTTP/1.0 (else 1.1) */
	bool keep_alive;      /* the connection may serve another request */
	bool expect_continue; /* "Expect: 100-continue" */
	bool too_big;	      /* the body exceeded body_max: body_size says by how much */
	bool refused;	      /* an unknown method: answer 400 why, serve nothing */
	uint64_t body_size;   /* the body's length (declared or received), saturated */
};

struct http_parser {
	/* Set by http_parser_init. */
	char *body_buf;
	size_t body_max;
	/* Internal state. */
	int state;
	char head[HTTP_HEAD_MAX + 1];
	size_t head_len;
	size_t skipped; /* empty lines before the request line */
	bool chunked;
	uint64_t left; /* bytes of the body (Content-Length) or of this chunk still due */
	char line[HTTP_CHUNK_LINE_MAX + 1];
	size_t line_len;
	size_t trailer_len;
	bool trailer_colon, trailer_cr; /* the trailer line's colon was seen; a CR came last */
	/* The result. */
	struct http_request req;
	int status;    /* HTTP_BAD, HTTP_TOO_BIG: 400 */
	char why[160]; /* HTTP_BAD, req.refused: what was wrong (empty when too_big) */
};

/* No byte of a request has been given to p since its last one (or init);
 * empty lines between requests are no request's. */
bool http_parser_between(const struct http_parser *p);
/* Readies p for a connection's first request; body_buf holds body_max bytes
 * (body_buf may be NULL when body_max is 0). */
void http_parser_init(struct http_parser *p, char *body_buf, size_t body_max);

/* Feeds len bytes; returns how many were consumed (the rest belongs to the
 * next call: after HTTP_HEADERS, HTTP_TOO_BIG and HTTP_REQUEST) and sets *ev. After
 * HTTP_REQUEST the next call starts the next request on the connection; after
 * HTTP_BAD every call returns 0 and HTTP_BAD again. */
size_t http_parse(struct http_parser *p, const char *in, size_t len, enum http_event *ev);

/* The reason phrase of a status code ("Bad Request"; "Unknown" for codes the
 * API never sends). */
const char *http_reason(int status);

#endif
