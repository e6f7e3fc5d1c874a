#include "api/api_log.h"

#include "api/http_parse.h"
#include "util/log.h"
#include "util/parse.h"

#include <ctype.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The bytes of a path shown at most (its quoted text, escapes included). */
#define PATH_MAX_SHOWN 256

struct out {
	char *buf;
	size_t size, pos; /* pos < size: buf is NUL-terminated */
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->pos + 1 >= o->size)
		return;
	if (n > o->size - 1 - o->pos)
		n = o->size - 1 - o->pos;
	memcpy(o->buf + o->pos, s, n);
	o->pos += n;
	o->buf[o->pos] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* How Rust's {:?} writes the character at s (len bytes of valid UTF-8) in
 * a string: itself, or an escape (into esc). */
static const char *escaped(const unsigned char *s, size_t len, char esc[12])
{
	if (len == 1) {
		switch (s[0]) {
		case '\0':
			return "\\0";
		case '\t':
			return "\\t";
		case '\n':
			return "\\n";
		case '\r':
			return "\\r";
		case '"':
			return "\\\"";
		case '\\':
			return "\\\\";
		default:
			if (s[0] >= 0x20 && s[0] < 0x7f)
				return NULL;
			snprintf(esc, 12, "\\u{%x}", s[0]);
			return esc;
		}
	}
	/* C1 controls (U+0080..U+009F): never raw in a line. */
	if (len == 2 && s[0] == 0xc2 && s[1] < 0xa0) {
		snprintf(esc, 12, "\\u{%x}", s[1]);
		return esc;
	}
	return NULL;
}

/* s (n bytes) quoted as Rust's {:?} writes a str (a byte that is not UTF-8:
 * as it writes an OsStr's, \xNN), cut after the last character whose text
 * fits max bytes; the bytes of s shown. */
static size_t quote(struct out *o, const char *s, size_t n, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, used = 0, len, w;
	const char *e;
	char esc[12];

	puts_(o, "\"");
	while (i < n) {
		len = utf8_len(u + i, n - i);
		if (!len) {
			len = 1;
			snprintf(esc, sizeof(esc), "\\x%02X", u[i]);
			e = esc;
		} else {
			e = escaped(u + i, len, esc);
		}
		w = e ? strlen(e) : len;
		if (used + w > max)
			break;
		if (e)
			puts_(o, e);
		else
			put(o, s + i, len);
		used += w;
		i += len;
	}
	puts_(o, "\"");
	return i;
}

void api_log_quote_path(char *buf, size_t size, const char *path)
{
	struct out o = { buf, size, 0 };

	if (size)
		buf[0] = '\0';
	quote(&o, path, strlen(path), SIZE_MAX);
}

/* Whether segment i of path (as the router splits it: leading '/'s dropped,
 * then on '/') is name. */
static bool segment_is(const char *path, unsigned int i, const char *name)
{
	size_t n = strlen(name);

	while (*path == '/')
		path++;
	for (; i; i--) {
		path = strchr(path, '/');
		if (!path)
			return false;
		path++;
	}
	return !strncmp(path, name, n) && (path[n] == '/' || !path[n]);
}

void api_log_describe(char *buf, size_t size, const char *method, const char *url, const char *body,
		      size_t len, bool debug)
{
	struct out o = { buf, size, 0 };
	size_t plen = strlen(url), i, shown;
	char m[16];

	if (!size)
		return;
	buf[0] = '\0';
	/* Firecracker names its methods as its enum does: Get, Put, Patch. */
	for (i = 0; i < sizeof(m) - 1 && method[i]; i++)
		m[i] = (char)(i ? tolower((unsigned char)method[i])
				: toupper((unsigned char)method[i]));
	m[i] = '\0';
	puts_(&o, m);
	puts_(&o, " request on ");
	if (utf8_valid(url, plen))
		quote(&o, url, plen, PATH_MAX_SHOWN);
	else
		puts_(&o, "\"inconvertible to UTF-8\"");
	/* The guest's data stays out of the log: whatever path the router takes
	 * for MMDS data ("/mmds", "//mmds/", ...), not only Firecracker's
	 * "/mmds". Only a PUT reaches /mmds/config: the router takes a PATCH
	 * of "/mmds/config" as one of the data. */
	if (!len || (segment_is(url, 0, "mmds") &&
		     (strcmp(method, "PUT") || !segment_is(url, 1, "config"))))
		return;
	if (segment_is(url, 0, "cpu-config") && !debug) {
		puts_(&o, ". To view the CPU template received by the API, configure log-level "
			  "to DEBUG");
		return;
	}
	puts_(&o, " with body ");
	if (!utf8_valid(body, len)) {
		puts_(&o, "\"inconvertible to UTF-8\"");
		return;
	}
	shown = quote(&o, body, len, API_LOG_BODY_MAX);
	if (shown < len) {
		char more[48];

		snprintf(more, sizeof(more), "... (%zu bytes)", len);
		puts_(&o, more);
	}
}

void api_log_request(const char *method, const char *url, const char *body, size_t len)
{
	char d[1024];

	if (!log_has_file() || log_get_level() < LOG_INFO)
		return;
	api_log_describe(d, sizeof(d), method, url, body, len, log_get_level() >= LOG_DEBUG);
	pr_file(LOG_INFO, "The API server received a %s.", d);
}

void api_log_error(const struct api_response *r)
{
	json_t *j;
	const char *msg;

	if (r->status < 400 || !r->body || !log_has_file())
		return;
	j = json_loads(r->body, 0, NULL);
	msg = json_string_value(json_object_get(j, "fault_message"));
	if (msg)
		/* Firecracker's words for its 413 (MMDS data too large). */
		pr_file(LOG_ERROR, "Received Error. Status code: %d %s. Message: %s", r->status,
			r->status == 413 ? "Payload too large" : http_reason(r->status), msg);
	json_decref(j);
}

void api_log_duration(uint64_t us)
{
	pr_file(LOG_DEBUG, "Total previous API call duration: %llu us.", (unsigned long long)us);
}
