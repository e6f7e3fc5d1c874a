#include "util/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int parse_uint(const char *s, unsigned int min, unsigned int max, unsigned int *out)
{
	unsigned long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

int parse_size(const char *s, uint64_t default_unit, uint64_t *bytes)
{
	unsigned long long n;
	uint64_t unit = default_unit;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'K':
			unit = 1ULL << 10;
			break;
		case 'M':
			unit = 1ULL << 20;
			break;
		case 'G':
			unit = 1ULL << 30;
			break;
		case 'T':
			unit = 1ULL << 40;
			break;
		default:
			return -EINVAL;
		}
		end++;
		if (*end && strcasecmp(end, "iB") && strcasecmp(end, "B"))
			return -EINVAL;
	}
	if (n > UINT64_MAX / unit)
		return -ERANGE;
	*bytes = n * unit;
	return 0;
}

bool text_value(const char *text, const char *key, char *val, size_t size)
{
	size_t kl = strlen(key);
	const char *p = text;

	while (p && *p) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > kl && !strncmp(p, key, kl) && p[kl] == '=') {
			snprintf(val, size, "%.*s", (int)(len - kl - 1), p + kl + 1);
			return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

int parse_id_check(const char *id, char *why, size_t why_size)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if (!(isalnum((unsigned char)id[i]) || id[i] == '_'))
			break;
	if (i && !id[i])
		return 0;
	if (!id[0])
		snprintf(why, why_size, "must not be empty");
	else
		snprintf(why, why_size, "'" PARSE_ID_FMT "' may only hold letters, digits and '_'",
			 PARSE_ID_ARG(id));
	return -EINVAL;
}

int parse_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void escape_controls(const char *in, char *out, size_t size, bool utf8_only)
{
	size_t n = 0, left = strlen(in);

	if (!size)
		return;
	while (*in && n + 5 < size) {
		unsigned char c = (unsigned char)*in;
		size_t seq = c >= 0x80 && utf8_only ? utf8_len((const unsigned char *)in, left) : 1;

		if (c >= 0x80 && seq > 1) {
			if (n + seq + 5 >= size)
				break;
			memcpy(out + n, in, seq);
			n += seq, in += seq, left -= seq;
			continue;
		}
		in++, left--;
		if (c >= 0x20 && c != 0x7f && (c < 0x80 || !utf8_only)) {
			out[n++] = (char)c;
			continue;
		}
		if (c == '\n' || c == '\t' || c == '\r')
			n += (size_t)snprintf(out + n, size - n, "\\%c",
					      c == '\n'	  ? 'n'
					      : c == '\t' ? 't'
							  : 'r');
		else
			n += (size_t)snprintf(out + n, size - n, "\\x%02x", c);
	}
	out[n] = '\0';
}

size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

bool utf8_valid(const void *s, size_t n)
{
	const unsigned char *p = s;
	size_t i = 0, l;

	while (i < n) {
		l = utf8_len(p + i, n - i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}
