#include "kernel/kconfig.h"

#include "util/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOT_SET_SUFFIX " is not set"

static size_t name_len(const char *p)
{
	size_t n = 0;

	if (strncmp(p, "CONFIG_", 7))
		return 0;
	for (n = 7; isupper((unsigned char)p[n]) || isdigit((unsigned char)p[n]) || p[n] == '_';
	     n++)
		;
	return n > 7 ? n : 0;
}

/* Parses one line; 1 = option, 0 = nothing (blank, comment), -EINVAL = malformed. */
static int parse_line(const char *line, size_t len, struct kconfig_opt *opt)
{
	size_t n;

	while (len && isspace((unsigned char)line[len - 1]))
		len--;
	if (len == 0)
		return 0;
	if (line[0] == '#') {
		size_t sl = strlen(NOT_SET_SUFFIX);

		if (len < 2 || line[1] != ' ')
			return 0;
		n = name_len(line + 2);
		if (!n || 2 + n + sl != len || memcmp(line + 2 + n, NOT_SET_SUFFIX, sl))
			return 0;
		if (n >= sizeof(opt->name))
			return -EINVAL;
		memcpy(opt->name, line + 2, n);
		opt->name[n] = '\0';
		strcpy(opt->value, "n");
		return 1;
	}
	n = name_len(line);
	if (!n || n >= sizeof(opt->name) || line[n] != '=' || len - n - 1 == 0 ||
	    len - n - 1 >= sizeof(opt->value))
		return -EINVAL;
	memcpy(opt->name, line, n);
	opt->name[n] = '\0';
	memcpy(opt->value, line + n + 1, len - n - 1);
	opt->value[len - n - 1] = '\0';
	return 1;
}

int kconfig_parse(const char *text, struct kconfig_opt *opts, int max, int *bad_line)
{
	int count = 0, lineno = 0;

	while (*text) {
		const char *end = strchr(text, '\n');
		size_t len = end ? (size_t)(end - text) : strlen(text);
		struct kconfig_opt opt;
		int r;

		lineno++;
		r = parse_line(text, len, &opt);
		if (r < 0) {
			if (bad_line)
				*bad_line = lineno;
			return r;
		}
		if (r) {
			if (count == max)
				return -E2BIG;
			opts[count++] = opt;
		}
		text += len + (end ? 1 : 0);
	}
	return count;
}

void kconfig_lookup(const char *config, const char *name, char *val, size_t size)
{
	if (!text_value(config, name, val, size))
		snprintf(val, size, "n");
}

int kconfig_verify(const char *fragment, const char *config, char *missing, size_t size)
{
	struct kconfig_opt *opts;
	int n, i, bad = 0;
	size_t used = 0;

	if (size)
		missing[0] = '\0';
	opts = calloc(1024, sizeof(*opts));
	if (!opts)
		return -ENOMEM;
	n = kconfig_parse(fragment, opts, 1024, NULL);
	if (n < 0) {
		free(opts);
		return n;
	}
	for (i = 0; i < n; i++) {
		char have[sizeof(opts[i].value)];

		kconfig_lookup(config, opts[i].name, have, sizeof(have));
		if (!strcmp(have, opts[i].value))
			continue;
		bad++;
		if (used < size) {
			int w = snprintf(missing + used, size - used, "%s%s=%s (got %s)",
					 used ? ", " : "", opts[i].name, opts[i].value, have);

			used += w > 0 ? (size_t)w : 0;
		}
	}
	free(opts);
	return bad;
}
