/* The API's HTTP/1.1 request parser (see http_parse.h for what it accepts).
 * The head is gathered whole (it is small and bounded) and then parsed line by
 * line; bodies are copied straight into the caller's buffer. */
#include "api/http_parse.h"

#include "util/parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum {
	ST_HEAD,
	ST_BODY,       /* Content-Length bytes */
	ST_CHUNK_SIZE, /* a chunk-size line */
	ST_CHUNK_DATA,
	ST_CHUNK_END, /* the CRLF after a chunk's data */
	ST_TRAILER,   /* trailer lines after the last chunk, up to an empty one */
	ST_DONE,      /* HTTP_REQUEST was reported: the next call starts anew */
	ST_SKIP,      /* the Content-Length bytes of a body refused for its size */
	ST_BAD,
};

/* Leading empty lines tolerated before a request line (RFC 9112 2.2: a
 * client may send a CRLF after a body). */
#define MAX_SKIPPED 8

void http_parser_init(struct http_parser *p, char *body_buf, size_t body_max)
{
	memset(p, 0, sizeof(*p));
	p->body_buf = body_buf;
	p->body_max = body_buf ? body_max : 0;
	p->state = ST_HEAD;
}

static void next_request(struct http_parser *p)
{
	p->state = ST_HEAD;
	p->head_len = 0;
	p->skipped = 0;
	p->chunked = false;
	p->left = 0;
	p->line_len = 0;
	p->trailer_len = 0;
	p->trailer_colon = p->trailer_cr = false;
	memset(&p->req, 0, sizeof(p->req));
	p->status = 0;
	p->why[0] = '\0';
}

static void bad(struct http_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Firecracker's micro_http answers every request it cannot parse with 400. */
static void bad(struct http_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->why, sizeof(p->why), fmt, ap);
	va_end(ap);
	p->status = 400;
	p->state = ST_BAD;
	p->req.keep_alive = false;
}

/* A quotable copy of at most 40 bytes of s (the message goes back to the
 * client as JSON: api_fault escapes what is not printable). */
static const char *quote(char *buf, size_t size, const char *s, size_t len)
{
	size_t n = len < 40 ? len : 40;

	snprintf(buf, size, "%.*s%s", (int)n, s, n < len ? "..." : "");
	return buf;
}

static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!is_tchar((unsigned char)s[i]))
			return false;
	return len > 0;
}

static bool field_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && !strncasecmp(name, want, len);
}

/* "HTTP/1.1" and "HTTP/1.0"; any other 1.x reads as 1.1 (RFC 9110 2.5). */
static bool parse_version(struct http_parser *p, const char *v, size_t len)
{
	if (len != 8 || memcmp(v, "HTTP/1.", 7) || v[7] < '0' || v[7] > '9')
		return false;
	p->req.http10 = v[7] == '0';
	return true;
}

/* The methods of Firecracker's API (micro_http knows no other). */
static bool known_method(const char *m, size_t len)
{
	static const char *const methods[] = { "GET", "PUT", "PATCH", "DELETE" };
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strlen(methods[i]) == len && !memcmp(m, methods[i], len))
			return true;
	return false;
}

/* METHOD SP request-target SP HTTP-version, in place: method and url become
 * NUL-terminated strings inside the head. Checked in micro_http's order and
 * answered in its words: the line's shape, the method, the target, the
 * version. An unknown method refuses the request but keeps the framing
 * (req.refused); the rest lose it. */
static int parse_request_line(struct http_parser *p, char *line, size_t len)
{
	char *sp1 = memchr(line, ' ', len), *sp2, *target, *q;
	size_t i, tlen;

	sp2 = sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line)) : NULL;
	if (!sp1 || !sp2) {
		bad(p, "Invalid request.");
		return -1;
	}
	/* The target may be any UTF-8 (micro_http's URI is a Rust str); the
	 * rest of the line is ASCII. */
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c < 0x20 || c == 0x7f || (c >= 0x80 && (line + i <= sp1 || line + i >= sp2))) {
			bad(p, "Invalid request.");
			return -1;
		}
	}
	if (!known_method(line, (size_t)(sp1 - line))) {
		p->req.refused = true;
		snprintf(p->why, sizeof(p->why), "Invalid HTTP Method: Unsupported HTTP method.");
	} else if (sp2 == sp1 + 1) {
		bad(p, "Invalid URI: Empty URI not allowed.");
		return -1;
	} else if (!utf8_valid(sp1 + 1, (size_t)(sp2 - sp1 - 1))) {
		bad(p, "Invalid URI: Cannot parse URI as UTF-8.");
		return -1;
	}
	if (!parse_version(p, sp2 + 1, len - (size_t)(sp2 + 1 - line))) {
		bad(p, "%s",
		    p->req.refused ? "Invalid HTTP Method: Unsupported HTTP method."
				   : "Invalid HTTP Version: Unsupported HTTP version.");
		return -1;
	}
	*sp1 = '\0';
	*sp2 = '\0';
	target = sp1 + 1;
	tlen = (size_t)(sp2 - target);
	/* The absolute form (RFC 9112 3.2.2: a server must accept it) as
	 * Firecracker's micro_http reads it: the path from the first '/' after
	 * "http://" (spelled so: "HTTP://..." is no path); none ("http://host")
	 * is the empty path. */
	if (tlen >= 7 && !strncmp(target, "http://", 7)) {
		q = memchr(target + 7, '/', tlen - 7);
		target = q ? q : sp2;
		tlen = (size_t)(sp2 - target);
	}
	/* Any other form (no '/' first: "machine-config", "*") is, as in
	 * micro_http, the empty path: no resource of the API's but GET's. */
	if (tlen && *target != '/')
		target = sp2;
	/* The rest is the path as written, as micro_http takes it: Firecracker's
	 * router neither %-decodes it nor drops a query, so "/machine-config?x"
	 * and "/machine%2Dconfig" name no resource. */
	p->req.method = line;
	p->req.url = target;
	return 0;
}

/* A decimal u32 (micro_http's Content-Length), without its sign or spaces.
 * name and raw (the value as sent, spaces around it kept) are for the
 * message, micro_http's. */
static int parse_content_length(struct http_parser *p, const char *name, size_t nlen,
				const char *raw, size_t rlen, const char *v, size_t len,
				bool *has_cl)
{
	uint64_t n = 0;
	size_t i, z;
	char qn[64], qv[64];

	/* Leading zeros are no digits (Rust's parse takes any number). */
	for (z = 0; z + 1 < len && v[z] == '0'; z++)
		;
	for (i = z; i < len && i - z < 11; i++) {
		if (v[i] < '0' || v[i] > '9')
			break;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (!len || i != len || n > UINT32_MAX) {
		bad(p, "Invalid header. Reason: Invalid value. Key:%s; Value:%s",
		    quote(qn, sizeof(qn), name, nlen), quote(qv, sizeof(qv), raw, rlen));
		return -1;
	}
	if (*has_cl && n != p->req.body_size) {
		bad(p, "two different Content-Length headers");
		return -1;
	}
	*has_cl = true;
	p->req.body_size = n;
	return 0;
}

/* Each comma-separated token of a Connection header. */
static void parse_connection(const char *v, size_t len, bool *close, bool *keep)
{
	size_t i = 0;

	while (i < len) {
		size_t s, e;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (field_is(v + s, e - s, "close"))
			*close = true;
		else if (field_is(v + s, e - s, "keep-alive"))
			*keep = true;
	}
}

struct head_flags {
	bool has_cl, conn_close, conn_keep;
};

static int parse_field(struct http_parser *p, char *line, size_t len, struct head_flags *f)
{
	char *colon = memchr(line, ':', len);
	const char *v;
	size_t nlen, vlen, i;
	char q[64], qv[64];

	if (line[0] == ' ' || line[0] == '\t') {
		bad(p, "obsolete header line folding (a line starting with whitespace)");
		return -1;
	}
	nlen = colon ? (size_t)(colon - line) : 0;
	if (!colon || !is_token(line, nlen)) {
		bad(p, "Invalid header. Reason: Header is incorrectly formatted. Key: %s",
		    quote(q, sizeof(q), line, colon ? nlen : len));
		return -1;
	}
	v = colon + 1;
	vlen = len - nlen - 1;
	for (i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)v[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			bad(p, "header '%s': control byte 0x%02x in its value",
			    quote(q, sizeof(q), line, nlen), c);
			return -1;
		}
	}
	while (vlen && (*v == ' ' || *v == '\t'))
		v++, vlen--;
	while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (field_is(line, nlen, "Content-Length"))
		return parse_content_length(p, line, nlen, colon + 1, len - nlen - 1, v, vlen,
					    &f->has_cl);
	if (field_is(line, nlen, "Transfer-Encoding")) {
		/* identity: no coding, which micro_http (Firecracker's) accepts. */
		if (field_is(v, vlen, "identity"))
			return 0;
		if (!field_is(v, vlen, "chunked") || p->chunked) {
			/* micro_http's words; it would read the body as if
			 * uncoded, volt does not guess. */
			bad(p, "Invalid header. Reason: Unsupported value. Key:%s; Value:%s",
			    quote(q, sizeof(q), line, nlen),
			    quote(qv, sizeof(qv), colon + 1, len - nlen - 1));
			return -1;
		}
		p->chunked = true;
	} else if (field_is(line, nlen, "Connection")) {
		parse_connection(v, vlen, &f->conn_close, &f->conn_keep);
	} else if (field_is(line, nlen, "Expect")) {
		/* HTTP/1.0 has no 100 Continue (RFC 9110 10.1.1); other
		 * expectations are ignored, as micro_http ignores them. */
		if (field_is(v, vlen, "100-continue") && !p->req.http10)
			p->req.expect_continue = true;
	}
	return 0;
}

/* The head is whole in p->head (it ends with an empty line): its lines, then
 * what follows it. */
static enum http_event parse_head(struct http_parser *p)
{
	struct head_flags f = { 0 };
	char *s = p->head, *end = p->head + p->head_len;
	bool first = true;

	while (s < end) {
		char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = (size_t)(nl - s);

		if (len && s[len - 1] == '\r')
			len--;
		if (memchr(s, '\r', len)) {
			bad(p, "a bare CR in the request head");
			return HTTP_BAD;
		}
		s[len] = '\0';
		if (!len)
			break; /* the empty line that ends the head */
		if (first ? parse_request_line(p, s, len) : parse_field(p, s, len, &f))
			return HTTP_BAD;
		first = false;
		s = nl + 1;
	}
	if (f.has_cl && p->chunked) {
		bad(p, "both Content-Length and Transfer-Encoding: chunked");
		return HTTP_BAD;
	}
	p->req.keep_alive = p->req.http10 ? f.conn_keep && !f.conn_close : !f.conn_close;
	p->req.body = p->body_buf;
	if (f.has_cl && p->req.body_size > p->body_max) {
		/* Answered before the body is sent. Its bytes are then skipped
		 * and the connection goes on, unless the client waits for a
		 * 100 Continue: whether it sends the body after a refusal is
		 * its choice (RFC 9110 10.1.1), so the framing is lost. */
		p->req.too_big = true;
		p->status = 400;
		if (p->req.expect_continue) {
			p->state = ST_BAD;
			p->req.keep_alive = false;
			return HTTP_BAD;
		}
		p->left = p->req.body_size;
		p->state = ST_SKIP;
		return HTTP_TOO_BIG;
	}
	if (p->chunked) {
		p->state = ST_CHUNK_SIZE;
		return HTTP_HEADERS;
	}
	if (p->req.body_size) {
		p->left = p->req.body_size;
		p->state = ST_BODY;
		return HTTP_HEADERS;
	}
	p->state = ST_DONE;
	return HTTP_REQUEST;
}

static size_t feed_head(struct http_parser *p, const char *in, size_t len, enum http_event *ev)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char c = in[i];
		size_t n = p->head_len;

		if (!n && (c == '\r' || c == '\n')) {
			if (++p->skipped > MAX_SKIPPED) {
				bad(p, "empty lines instead of a request line");
				*ev = HTTP_BAD;
				return i + 1;
			}
			continue;
		}
		if (n == HTTP_HEAD_MAX) {
			if (memchr(p->head, '\n', n))
				bad(p, "the request's headers are over %d bytes", HTTP_HEAD_MAX);
			else
				bad(p, "the request line is over %d bytes", HTTP_HEAD_MAX);
			*ev = HTTP_BAD;
			return i;
		}
		p->head[p->head_len++] = c;
		if (c == '\n' && n >= 1 &&
		    (p->head[n - 1] == '\n' ||
		     (n >= 2 && p->head[n - 1] == '\r' && p->head[n - 2] == '\n'))) {
			p->head[p->head_len] = '\0';
			*ev = parse_head(p);
			return i + 1;
		}
	}
	*ev = HTTP_NEED_MORE;
	return len;
}

/* Body bytes: kept while they fit, counted always. */
static void take_body(struct http_parser *p, const char *in, size_t n)
{
	if (!p->req.too_big && n <= p->body_max - p->req.body_len) {
		memcpy(p->body_buf + p->req.body_len, in, n);
		p->req.body_len += n;
	} else {
		/* Nothing is kept of a body that does not fit. */
		p->req.too_big = true;
		p->req.body_len = 0;
	}
}

/* A line of at most HTTP_CHUNK_LINE_MAX bytes into p->line: 1 when whole
 * (CR stripped, NUL-terminated), 0 for more, -1 when too long. *used: the
 * bytes taken from in. */
static int take_line(struct http_parser *p, const char *in, size_t len, size_t *used)
{
	const char *nl = memchr(in, '\n', len);
	size_t n = nl ? (size_t)(nl - in) : len;

	if (n > HTTP_CHUNK_LINE_MAX - p->line_len)
		return -1;
	memcpy(p->line + p->line_len, in, n);
	p->line_len += n;
	*used = nl ? n + 1 : n;
	if (!nl)
		return 0;
	if (p->line_len && p->line[p->line_len - 1] == '\r')
		p->line_len--;
	p->line[p->line_len] = '\0';
	return 1;
}

/* chunk-size [ ; extensions ]: the size in hex. */
static int parse_chunk_size(struct http_parser *p)
{
	const char *s = p->line;
	uint64_t n = 0;
	size_t i = 0, z;
	char q[64];

	/* Leading zeros are no digits (RFC 9112 7.1: 1*HEXDIG, of any length):
	 * up to 16 others fit. */
	while (i + 1 < p->line_len && s[i] == '0' && parse_hex_digit(s[i + 1]) >= 0)
		i++;
	for (z = i; i - z < 16; i++) {
		int d = parse_hex_digit(s[i]);

		if (d < 0)
			break;
		n = n * 16 + (uint64_t)d;
	}
	if (i && parse_hex_digit(s[i]) < 0) {
		size_t j = i;

		while (s[j] == ' ' || s[j] == '\t')
			j++;
		/* Up to line_len, not a NUL: "1\0zz" is not "1". */
		if (j == p->line_len || s[j] == ';') {
			for (; j < p->line_len; j++)
				if ((unsigned char)s[j] < 0x20 && s[j] != '\t')
					break;
			if (j == p->line_len) {
				p->left = n;
				return 0;
			}
		}
	}
	bad(p, "bad chunk size line '%s'", quote(q, sizeof(q), s, p->line_len));
	return -1;
}

/* One byte of a chunked body's trailer: 1 when it ends the request (*ev
 * HTTP_REQUEST) or is refused (HTTP_BAD), else 0. Its lines are field
 * lines (RFC 9112 7.1.2), refused for what a head's would be. */
static int trailer_byte(struct http_parser *p, char c, enum http_event *ev)
{
	unsigned char u = (unsigned char)c;

	if (++p->trailer_len > HTTP_HEAD_MAX) {
		bad(p, "the chunked body's trailer is over %d bytes", HTTP_HEAD_MAX);
		goto refused;
	}
	if (p->trailer_cr && c != '\n') {
		bad(p, "a bare CR in the chunked body's trailer");
		goto refused;
	}
	p->trailer_cr = c == '\r';
	if (c == '\r')
		return 0;
	if (c == '\n' && !p->line_len) {
		p->state = ST_DONE;
		*ev = HTTP_REQUEST;
		return 1;
	}
	if (c == '\n' && !p->trailer_colon)
		goto malformed;
	if (c == '\n') {
		p->line_len = 0;
		p->trailer_colon = false;
		return 0;
	}
	if (!p->trailer_colon && !(c == ':' && p->line_len) && !is_tchar(u)) {
		if (p->line_len || (c != ' ' && c != '\t'))
			goto malformed;
		bad(p, "obsolete line folding in the chunked body's trailer");
		goto refused;
	}
	if (p->trailer_colon && ((u < 0x20 && c != '\t') || u == 0x7f)) {
		bad(p, "control byte 0x%02x in the chunked body's trailer", u);
		goto refused;
	}
	p->trailer_colon |= c == ':';
	p->line_len++;
	return 0;
malformed:
	bad(p, "malformed line in the chunked body's trailer (expected 'Name: value')");
refused:
	*ev = HTTP_BAD;
	return 1;
}

static size_t feed_chunked(struct http_parser *p, const char *in, size_t len, enum http_event *ev)
{
	size_t i = 0, used;
	int r;

	*ev = HTTP_NEED_MORE;
	while (i < len) {
		switch (p->state) {
		case ST_CHUNK_SIZE:
		case ST_CHUNK_END:
			r = take_line(p, in + i, len - i, &used);
			if (r < 0) {
				bad(p, "%s",
				    p->state == ST_CHUNK_SIZE ? "chunk size line too long"
							      : "chunk data longer than its size");
				*ev = HTTP_BAD;
				return i;
			}
			i += used;
			if (!r)
				break;
			if (p->state == ST_CHUNK_END) {
				if (p->line_len) { /* a NUL there too */
					bad(p, "chunk data longer than its size");
					*ev = HTTP_BAD;
					return i;
				}
				p->state = ST_CHUNK_SIZE;
			} else if (parse_chunk_size(p)) {
				*ev = HTTP_BAD;
				return i;
			} else {
				p->state = p->left ? ST_CHUNK_DATA : ST_TRAILER;
			}
			p->line_len = 0;
			break;
		case ST_CHUNK_DATA: {
			size_t n = len - i < p->left ? len - i : (size_t)p->left;

			take_body(p, in + i, n);
			p->req.body_size = p->req.body_size + n < p->req.body_size
						   ? UINT64_MAX
						   : p->req.body_size + n;
			p->left -= n;
			i += n;
			if (!p->left)
				p->state = ST_CHUNK_END;
			break;
		}
		default: /* ST_TRAILER: field lines, checked as the head's and
			  * ignored, up to an empty line */
			if (trailer_byte(p, in[i++], ev))
				return i;
			break;
		}
	}
	return i;
}

size_t http_parse(struct http_parser *p, const char *in, size_t len, enum http_event *ev)
{
	size_t n;

	if (p->state == ST_BAD) {
		*ev = HTTP_BAD;
		return 0;
	}
	if (p->state == ST_SKIP) {
		n = len < p->left ? len : (size_t)p->left;
		p->left -= n;
		*ev = HTTP_NEED_MORE;
		if (p->left)
			return n;
		/* What follows is the next request's, in this call: a caller
		 * reads again only once all it gave is consumed. */
		next_request(p);
		return n + feed_head(p, in + n, len - n, ev);
	}
	if (p->state == ST_DONE)
		next_request(p);
	if (p->state == ST_HEAD)
		return feed_head(p, in, len, ev);
	if (p->state == ST_BODY) {
		n = len < p->left ? len : (size_t)p->left;
		take_body(p, in, n);
		p->left -= n;
		*ev = HTTP_NEED_MORE;
		if (!p->left) {
			p->state = ST_DONE;
			*ev = HTTP_REQUEST;
		}
		return n;
	}
	return feed_chunked(p, in, len, ev);
}

const char *http_reason(int status)
{
	static const struct {
		int status;
		const char *text;
	} reasons[] = {
		{ 100, "Continue" },
		{ 200, "OK" },
		{ 201, "Created" },
		{ 202, "Accepted" },
		{ 204, "No Content" },
		{ 400, "Bad Request" },
		{ 401, "Unauthorized" },
		{ 403, "Forbidden" },
		{ 404, "Not Found" },
		{ 405, "Method Not Allowed" },
		{ 408, "Request Timeout" },
		{ 409, "Conflict" },
		{ 411, "Length Required" },
		{ 413, "Content Too Large" },
		{ 414, "URI Too Long" },
		{ 415, "Unsupported Media Type" },
		{ 429, "Too Many Requests" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" },
		{ 501, "Not Implemented" },
		{ 503, "Service Unavailable" },
		{ 505, "HTTP Version Not Supported" },
	};
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].text;
	return "Unknown";
}

bool http_parser_between(const struct http_parser *p)
{
	/* Empty lines before a request line (RFC 9112 2.2) are none of it. */
	return p->state == ST_DONE || (p->state == ST_HEAD && !p->head_len);
}
