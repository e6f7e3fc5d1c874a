/* Human sizes: "512", "64K", "128M", "2G" (powers of 1024; an optional trailing
 * "iB" or "B" is accepted). */
#ifndef VOLT_UTIL_SIZE_H
#define VOLT_UTIL_SIZE_H

#include <stdint.h>

/* default_unit applies to a bare number (1 for bytes, 1 << 20 for MiB). */
int parse_size(const char *s, uint64_t default_unit, uint64_t *bytes);

#endif
