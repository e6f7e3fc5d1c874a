#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

static enum log_level current_level = LOG_INFO;

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARN] = "warning",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

int log_level_parse(const char *s, enum log_level *out)
{
	if (!strcasecmp(s, "error"))
		*out = LOG_ERROR;
	else if (!strcasecmp(s, "warn") || !strcasecmp(s, "warning"))
		*out = LOG_WARN;
	else if (!strcasecmp(s, "info"))
		*out = LOG_INFO;
	else if (!strcasecmp(s, "debug"))
		*out = LOG_DEBUG;
	else
		return -EINVAL;
	return 0;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line keeps lines from several threads whole. */
	fprintf(stderr, "volt: %s: %s\n", level_names[level], line);
}
