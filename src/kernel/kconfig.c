#include "kernel/kconfig.h"

#include "util/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOT_SET_SUFFIX	 " is not set"
#define KCONFIG_MAX_OPTS 1024

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
	return kconfig_verify_merged(fragment, NULL, config, missing, size);
}

static bool overridden(const struct kconfig_opt *over, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(over[i].name, name))
			return true;
	return false;
}

int kconfig_verify_merged(const char *fragment, const char *overlay, const char *config,
			  char *missing, size_t size)
{
	struct kconfig_opt *opts, *over;
	int n, nover = 0, i, bad = 0;
	size_t used = 0;

	if (size)
		missing[0] = '\0';
	opts = calloc(2 * KCONFIG_MAX_OPTS, sizeof(*opts));
	if (!opts)
		return -ENOMEM;
	over = opts + KCONFIG_MAX_OPTS;
	/* The overlay's options after the fragment's: checked in one list. */
	if (overlay)
		nover = kconfig_parse(overlay, over, KCONFIG_MAX_OPTS, NULL);
	n = kconfig_parse(fragment, opts, KCONFIG_MAX_OPTS, NULL);
	if (n < 0 || nover < 0) {
		free(opts);
		return n < 0 ? n : nover;
	}
	memmove(opts + n, over, (size_t)nover * sizeof(*opts));
	over = opts + n;
	for (i = 0; i < n + nover; i++) {
		char have[sizeof(opts[i].value)];

		/* A fragment option that the overlay sets again: the overlay's wins. */
		if (i < n && overridden(over, nover, opts[i].name))
			continue;
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
