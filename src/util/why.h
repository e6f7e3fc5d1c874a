/* The one-line reason an error path hands back. A function that fails with
 * -errno writes its reason into the caller's buffer (when there is one) and
 * returns the error, so error paths read
 * `return why_fail(why, why_size, -EINVAL, "...", ...);`. */
#ifndef VOLT_UTIL_WHY_H
#define VOLT_UTIL_WHY_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static inline __attribute__((format(printf, 4, 5))) int why_fail(char *why, size_t why_size,
								 int err, const char *fmt, ...)
{
	va_list ap;

	if (why && why_size) {
		va_start(ap, fmt);
		vsnprintf(why, why_size, fmt, ap);
		va_end(ap);
	}
	return err;
}

#endif
