/* Where volt finds its data (kernel configs, patches, rootfs files) and keeps its cache.
 * Data: $VOLT_DATA_DIR, else the source tree it was built from, else the install prefix.
 * Cache: $XDG_CACHE_HOME/volt, else $HOME/.cache/volt. */
#ifndef VOLT_UTIL_PATHS_H
#define VOLT_UTIL_PATHS_H

#include <stddef.h>

/* First existing <data dir>/rel; -ENOENT (buf names the first candidate) when none. */
int volt_data_path(char *buf, size_t size, const char *rel);
int volt_cache_path(char *buf, size_t size, const char *rel);
/* What to tell the user about volt_cache_path()'s err. */
const char *volt_cache_error(int err);

#endif
