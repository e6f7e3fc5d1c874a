/* The guest's HTTP answers (mmds.h: mmds_http_serve). Firecracker's MMDS
 * answers through micro_http, whose parser and answers this follows byte for
 * byte: a request ends at the first "\n\n" or "\n\r\n" (its TCP endpoint's
 * rule; a body is never read: a Content-Length over 0 is "Invalid request."
 * and the body's bytes are the next request's), then micro_http's checks in
 * its order, then Firecracker's MMDS rules (mmds/mod.rs): GET and PUT only,
 * V2's tokens, the IMDS text or JSON, its messages. Answers say
 * "Connection: keep-alive" and the connection stays, as in Firecracker. */
#include "devices/mmds/mmds_priv.h"
#include "devices/mmds/mmds_metrics.h"
#include "util/parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PATH_TO_TOKEN	    "/latest/api/token"
#define MSG_INVALID_REQUEST "Invalid request."
#define MSG_NO_TOKEN                                                                           \
	"No MMDS token provided. Use `X-metadata-token` or `X-aws-ec2-metadata-token` header " \
	"to specify the session token."
#define MSG_NO_TTL                                                                   \
	"Token time to live value not found. Use `X-metadata-token-ttl-seconds` or " \
	"`X-aws-ec2-metadata-token-ttl-seconds` header to specify the token's lifetime."
#define MSG_UNSUPPORTED "Cannot retrieve value. The value has an unsupported type."

enum method { M_GET, M_PUT, M_PATCH, M_DELETE };

/* A header of interest: the first one whose name matches (Firecracker looks
 * them up in a HashMap, where the same name given twice keeps the last value). */
struct hdr {
	const char *name, *val;
	size_t name_len, val_len;
};

struct req {
	bool http10;
	enum method method;
	const char *uri;
	size_t uri_len;
	bool accept_json;
	struct hdr token, ttl, forwarded;
};

/* An answer being made: micro_http's Response. */
struct answer {
	int status;
	bool http10;
	bool json;  /* Content-Type: application/json (micro_http's default) */
	bool allow; /* Allow: GET, PUT */
	/* The token's TTL header: its name as the request gave it. */
	struct hdr ttl_header;
	uint32_t ttl;
	struct mmds_buf body;
};

static void body_str(struct answer *a, const char *s)
{
	mmds_buf_str(&a->body, s);
}

/* micro_http's parse errors: HTTP/1.1, its default Content-Type. */
static void parse_error(struct answer *a, int status, const char *msg)
{
	*a = (struct answer){ .status = status, .json = true };
	body_str(a, msg);
}

/* --- micro_http's parser ------------------------------------------------- */

static bool ieq(const char *s, size_t n, const char *lit)
{
	size_t i;

	if (strlen(lit) != n)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lit[i])
			return false;
	}
	return true;
}

static bool eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && !memcmp(s, lit, n);
}

/* The length of the Unicode white space (Rust's char::is_whitespace) that
 * starts at p (at most n bytes), 0 when none. */
static size_t ws_at(const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;

	if (!n)
		return 0;
	if (p[0] == ' ' || (p[0] >= '\t' && p[0] <= '\r'))
		return 1;
	if (n >= 2 && p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0))
		return 2;
	if (n < 3)
		return 0;
	if ((p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80) ||
	    (p[0] == 0xe2 && p[1] == 0x80 &&
	     (p[2] <= 0x8a || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf) && p[2] >= 0x80) ||
	    (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f) ||
	    (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80))
		return 3;
	return 0;
}

/* Rust's str::trim() on valid UTF-8. */
static void trim(const char **s, size_t *n)
{
	size_t w;

	while ((w = ws_at(*s, *n))) {
		*s += w;
		*n -= w;
	}
	for (;;) {
		size_t back = 0;

		/* the last character starts at the last byte that is not 10xxxxxx */
		for (back = 1; back <= *n && back <= 4; back++)
			if (((uint8_t)(*s)[*n - back] & 0xc0) != 0x80)
				break;
		if (back > *n || back > 4 || ws_at(*s + *n - back, back) != back)
			return;
		*n -= back;
	}
}

/* Rust's u32::from_str. */
static bool parse_u32(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (n > 1 && s[0] == '+')
		i = 1;
	if (i == n)
		return false;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

static const char *find(const char *p, size_t n, const char *seq)
{
	size_t k = strlen(seq);

	for (size_t i = 0; n >= k && i <= n - k; i++)
		if (!memcmp(p + i, seq, k))
			return p + i;
	return NULL;
}

/* "Invalid value. Key:K; Value:V" and the like, from request bytes. */
static void header_error(struct answer *a, const char *pre, const char *k, size_t kn,
			 const char *mid, const char *v, size_t vn)
{
	parse_error(a, 400, "");
	body_str(a, pre);
	mmds_buf_add(&a->body, k, kn);
	if (mid) {
		body_str(a, mid);
		mmds_buf_add(&a->body, v, vn);
	}
}

static void keep(struct hdr *h, const char *name, size_t nn, const char *val, size_t vn)
{
	if (h->name && !(h->name_len == nn && !memcmp(h->name, name, nn)))
		return;
	*h = (struct hdr){ .name = name, .name_len = nn, .val = val, .val_len = vn };
}

/* micro_http's Headers::parse_header_line(). false: a (written) error. */
static bool header_line(const char *line, size_t len, struct req *r, uint32_t *content_length,
			struct answer *a)
{
	const char *colon = memchr(line, ':', len), *name = line, *val, *tv;
	size_t nn, vn, tn;
	uint32_t cl;

	if (!colon) {
		header_error(a, "Header is incorrectly formatted. Key: ", line, len, NULL, NULL, 0);
		return false;
	}
	nn = (size_t)(colon - line);
	val = colon + 1;
	vn = len - nn - 1;
	tv = val;
	tn = vn;
	trim(&name, &nn);
	trim(&tv, &tn);
	if (ieq(name, nn, "content-length")) {
		if (!parse_u32(tv, tn, &cl)) {
			header_error(a, "Invalid value. Key:", line, (size_t)(colon - line),
				     "; Value:", val, vn);
			return false;
		}
		*content_length = cl;
	} else if (ieq(name, nn, "accept")) {
		/* Another media type is micro_http's UnsupportedValue: ignored. */
		if (eq(tv, tn, "application/json"))
			r->accept_json = true;
		else if (eq(tv, tn, "text/plain"))
			r->accept_json = false;
	} else if (ieq(name, nn, "accept-encoding")) {
		const char *p = tv, *end = tv + tn;

		if (!tn) {
			parse_error(a, 400, MSG_INVALID_REQUEST);
			return false;
		}
		while (p <= end) {
			const char *c = memchr(p, ',', (size_t)(end - p)), *e = c ? c : end;
			const char *t = p;
			size_t n = (size_t)(e - p);

			trim(&t, &n);
			if (eq(t, n, "identity;q=0") ||
			    (eq(t, n, "*;q=0") && !find(tv, tn, "identity"))) {
				header_error(a, "Invalid value. Key:", "Accept-Encoding", 15,
					     "; Value:", p, (size_t)(e - p));
				return false;
			}
			p = e + 1;
		}
	} else if (ieq(name, nn, "content-type") || ieq(name, nn, "transfer-encoding") ||
		   ieq(name, nn, "expect") || ieq(name, nn, "server")) {
		/* Parsed by micro_http; any value is accepted or ignored. */
	} else if (ieq(name, nn, "x-metadata-token") || ieq(name, nn, "x-aws-ec2-metadata-token")) {
		keep(&r->token, name, nn, tv, tn);
	} else if (ieq(name, nn, "x-metadata-token-ttl-seconds") ||
		   ieq(name, nn, "x-aws-ec2-metadata-token-ttl-seconds")) {
		keep(&r->ttl, name, nn, tv, tn);
	} else if (ieq(name, nn, "x-forwarded-for")) {
		keep(&r->forwarded, name, nn, tv, tn);
	}
	return true;
}

/* micro_http's Request::try_from() on the bytes of one request. */
static bool parse_request(const char *in, size_t len, struct req *r, struct answer *a)
{
	const char *rl_end = find(in, len, "\r\n"), *sp1, *sp2, *hend, *ver;
	size_t rl_len, rest, vlen;
	uint32_t content_length = 0;

	memset(r, 0, sizeof(*r));
	/* "GET" + "HTTP/1.0" + two spaces and a one-byte URI */
	if (!rl_end || (rl_len = (size_t)(rl_end - in)) < 14 || !(sp1 = memchr(in, ' ', rl_len)) ||
	    !(sp2 = memchr(sp1 + 1, ' ', (size_t)(rl_end - sp1 - 1)))) {
		parse_error(a, 400, MSG_INVALID_REQUEST);
		return false;
	}
	if (eq(in, (size_t)(sp1 - in), "GET"))
		r->method = M_GET;
	else if (eq(in, (size_t)(sp1 - in), "PUT"))
		r->method = M_PUT;
	else if (eq(in, (size_t)(sp1 - in), "PATCH"))
		r->method = M_PATCH;
	else if (eq(in, (size_t)(sp1 - in), "DELETE"))
		r->method = M_DELETE;
	else {
		parse_error(a, 501, "Unsupported HTTP method.");
		return false;
	}
	r->uri = sp1 + 1;
	r->uri_len = (size_t)(sp2 - sp1 - 1);
	if (!r->uri_len) {
		parse_error(a, 400, "Empty URI not allowed.");
		return false;
	}
	if (!utf8_valid(r->uri, r->uri_len)) {
		parse_error(a, 400, "Cannot parse URI as UTF-8.");
		return false;
	}
	ver = sp2 + 1;
	vlen = (size_t)(rl_end - ver);
	if (eq(ver, vlen, "HTTP/1.0"))
		r->http10 = true;
	else if (!eq(ver, vlen, "HTTP/1.1")) {
		parse_error(a, 501, "Unsupported HTTP version.");
		return false;
	}
	rest = len - rl_len;
	hend = find(rl_end, rest, "\r\n\r\n");
	if (!hend) {
		parse_error(a, 400, MSG_INVALID_REQUEST);
		return false;
	}
	if (hend != rl_end) {
		const char *h = rl_end + 2, *end = hend, *body = hend + 4;

		if (!utf8_valid(h, (size_t)(end - h))) {
			parse_error(a, 400, MSG_INVALID_REQUEST);
			return false;
		}
		while (h < end) {
			const char *e = find(h, (size_t)(end - h), "\r\n");

			e = e ? e : end;
			if (e == h)
				break;
			if (!header_line(h, (size_t)(e - h), r, &content_length, a))
				return false;
			h = e + 2;
		}
		if (content_length && (r->method == M_GET || r->method == M_DELETE ||
				       (size_t)(in + len - body) != content_length)) {
			parse_error(a, 400, MSG_INVALID_REQUEST);
			return false;
		}
	}
	return true;
}

/* --- Firecracker's MMDS -------------------------------------------------- */

static void mmds_answer(struct answer *a, const struct req *r, int status, bool json)
{
	*a = (struct answer){ .status = status, .http10 = r->http10, .json = json };
}

/* micro_http's Uri::get_abs_path(). */
static void abs_path(const struct req *r, const char **p, size_t *n)
{
	const char *u = r->uri;
	size_t len = r->uri_len;

	*p = u;
	*n = 0;
	if (len >= 7 && !memcmp(u, "http://", 7)) {
		const char *slash = memchr(u + 7, '/', len - 7);

		if (slash) {
			*p = slash;
			*n = (size_t)(u + len - slash);
		}
	} else if (u[0] == '/') {
		*n = len;
	}
}

/* Firecracker's sanitize_uri(): runs of '/' become one. */
static char *sanitize(const char *p, size_t n, size_t *out_len)
{
	char *s = malloc(n + 1);
	size_t i, o = 0;

	if (!s)
		return NULL;
	for (i = 0; i < n; i++)
		if (!(p[i] == '/' && o && s[o - 1] == '/'))
			s[o++] = p[i];
	s[o] = '\0';
	*out_len = o;
	return s;
}

static void not_found(struct answer *a, const struct req *r, const char *path, size_t n)
{
	mmds_answer(a, r, 404, false);
	body_str(a, "Resource not found: ");
	mmds_buf_add(&a->body, path, n);
	body_str(a, ".");
}

/* Firecracker's Mmds::format_imds(): an object's keys, one a line, '/'
 * after those holding objects; a string as it is. false: another type. */
static bool format_imds(const json_t *v, struct mmds_buf *b)
{
	const char **keys;
	size_t i, n;

	if (json_is_string(v) && !mmds_is_big_integer(v)) {
		mmds_buf_add(b, json_string_value(v), json_string_length(v));
		return true;
	}
	if (!json_is_object(v))
		return false;
	keys = mmds_sorted_keys(v, &n);
	if (n && !keys) {
		b->oom = true;
		return true;
	}
	for (i = 0; i < n; i++) {
		if (i)
			mmds_buf_add(b, "\n", 1);
		mmds_buf_str(b, keys[i]);
		if (json_is_object(json_object_get(v, keys[i])))
			mmds_buf_add(b, "/", 1);
	}
	free(keys);
	return true;
}

static void get_value(struct mmds *m, const struct req *r, const char *uri, size_t uri_len,
		      struct answer *a)
{
	size_t n;
	char *path = sanitize(uri, uri_len, &n);
	const json_t *v;

	if (!path) {
		a->body.oom = true;
		return;
	}
	/* The pointer has no trailing '/'. */
	v = mmds_json_pointer(m->data, path, n && path[n - 1] == '/' ? n - 1 : n);
	free(path);
	if (!v)
		return not_found(a, r, uri, uri_len);
	mmds_answer(a, r, 200, r->accept_json);
	/* EC2's IMDS ignores the Accept header (not the Content-Type). */
	if (!m->cfg.imds_compat && r->accept_json) {
		mmds_json_dump(v, &a->body);
		return;
	}
	if (!format_imds(v, &a->body)) {
		mmds_answer(a, r, 501, false);
		body_str(a, MSG_UNSUPPORTED);
	}
}

static void put_token(struct mmds *m, const struct req *r, const char *uri, size_t uri_len,
		      struct answer *a)
{
	char token[MMDS_TOKEN_TEXT_MAX];
	size_t n;
	char *path;
	uint32_t ttl;
	bool is_token;

	if (r->forwarded.name) {
		mmds_answer(a, r, 400, false);
		body_str(a, "Invalid header. Reason: Unsupported header name. Key: ");
		mmds_buf_add(&a->body, r->forwarded.name, r->forwarded.name_len);
		return;
	}
	path = sanitize(uri, uri_len, &n);
	if (!path) {
		a->body.oom = true;
		return;
	}
	is_token = !strcmp(path, PATH_TO_TOKEN);
	free(path);
	if (!is_token)
		return not_found(a, r, uri, uri_len);
	if (!r->ttl.name) {
		mmds_answer(a, r, 400, false);
		body_str(a, MSG_NO_TTL);
		return;
	}
	if (!parse_u32(r->ttl.val, r->ttl.val_len, &ttl)) {
		mmds_answer(a, r, 400, false);
		body_str(a, "Invalid header. Reason: Invalid value. Key:");
		mmds_buf_add(&a->body, r->ttl.name, r->ttl.name_len);
		body_str(a, "; Value:");
		mmds_buf_add(&a->body, r->ttl.val, r->ttl.val_len);
		return;
	}
	if (mmds_token_new(m, ttl, token)) {
		mmds_answer(a, r, 400, false);
		mmds_buf_printf(&a->body,
				"Invalid time to live value provided for token: %u. Please "
				"provide a value between %d and %d.",
				ttl, MMDS_TOKEN_TTL_MIN, MMDS_TOKEN_TTL_MAX);
		return;
	}
	mmds_answer(a, r, 200, false);
	body_str(a, token);
	a->ttl_header = r->ttl;
	a->ttl = ttl; /* as Rust prints the u32: no '+', no leading zero */
}

/* Firecracker's convert_to_response(). */
static void respond(struct mmds *m, const struct req *r, struct answer *a)
{
	const char *uri;
	size_t n;

	abs_path(r, &uri, &n);
	if (!n) {
		mmds_answer(a, r, 400, false);
		body_str(a, "Invalid URI.");
		return;
	}
	pthread_mutex_lock(&m->lock);
	if (r->method == M_GET) {
		bool valid = r->token.name && mmds_token_valid(m, r->token.val, r->token.val_len);

		/* Counted for V1 too, where neither is refused (Firecracker). */
		if (!r->token.name)
			METRIC_INC(mmds_metrics.rx_no_token);
		else if (!valid)
			METRIC_INC(mmds_metrics.rx_invalid_token);
		if (m->cfg.version == MMDS_V2 && !r->token.name) {
			mmds_answer(a, r, 401, false);
			body_str(a, MSG_NO_TOKEN);
		} else if (m->cfg.version == MMDS_V2 && !valid) {
			mmds_answer(a, r, 401, false);
			body_str(a, "MMDS token not valid.");
		} else {
			get_value(m, r, uri, n, a);
		}
	} else if (r->method == M_PUT) {
		put_token(m, r, uri, n, a);
	} else {
		mmds_answer(a, r, 405, false);
		a->allow = true;
		body_str(a, "Not allowed HTTP method.");
	}
	pthread_mutex_unlock(&m->lock);
}

/* micro_http's Response::write_all(). */
static int write_answer(const struct answer *a, uint8_t **out, size_t *out_len)
{
	struct mmds_buf b = { 0 };

	if (a->body.oom)
		return -ENOMEM;
	mmds_buf_printf(&b,
			"HTTP/1.%c %d \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n",
			a->http10 ? '0' : '1', a->status);
	if (a->allow)
		mmds_buf_str(&b, "Allow: GET, PUT\r\n");
	if (a->ttl_header.name) {
		mmds_buf_add(&b, a->ttl_header.name, a->ttl_header.name_len);
		mmds_buf_printf(&b, ": %u\r\n", a->ttl);
	}
	mmds_buf_printf(&b, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
			a->json ? "application/json" : "text/plain", a->body.len);
	mmds_buf_add(&b, a->body.p, a->body.len);
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	*out = (uint8_t *)b.p;
	*out_len = b.len;
	return 0;
}

/* Where Firecracker's TCP endpoint ends a request: after the first "\n\n"
 * or "\n\r\n"; 0 when there is none yet. */
static size_t request_end(const uint8_t *b, size_t len)
{
	size_t i;

	if (len <= 2)
		return 0;
	for (i = 0; i + 1 < len; i++) {
		if (b[i] != '\n')
			continue;
		if (b[i + 1] == '\n')
			return i + 2;
		if (i + 3 <= len && b[i + 1] == '\r' && b[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

int mmds_http_serve(struct mmds *m, const uint8_t *in, size_t len, bool final, size_t *consumed,
		    uint8_t **out, size_t *out_len)
{
	size_t end = request_end(in, len);
	struct answer a = { 0 };
	struct req r;
	int err, ret = 1;

	*out = NULL;
	*out_len = 0;
	*consumed = 0;
	if (!len || (!end && !final))
		return 0;
	if (!end) {
		/* Nothing Firecracker would parse fits the buffer: it resets the
		 * connection; volt says why first, then closes it. */
		parse_error(&a, 400, MSG_INVALID_REQUEST);
		end = len;
		ret = 2;
	} else if (parse_request((const char *)in, end, &r, &a)) {
		respond(m, &r, &a);
	}
	err = write_answer(&a, out, out_len);
	free(a.body.p);
	if (err)
		return err;
	*consumed = end;
	return ret;
}
