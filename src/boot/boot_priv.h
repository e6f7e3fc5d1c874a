/* Helpers shared by the src/boot files only: the one-line error reason. */
#ifndef VOLT_BOOT_BOOT_PRIV_H
#define VOLT_BOOT_BOOT_PRIV_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Writes the reason (when the caller asked for one) and returns err, so that
 * error paths read `return boot_fail(why, why_size, -EINVAL, "...", ...);`. */
static inline __attribute__((format(printf, 4, 5))) int boot_fail(char *why, size_t why_size,
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
