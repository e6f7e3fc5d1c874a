#include "util/paths.h"

#include "util/fs.h"
#include "volt-config.h"

#include <errno.h>
#include <stdlib.h>

int volt_data_path(char *buf, size_t size, const char *rel)
{
	const char *env = getenv("VOLT_DATA_DIR");
	const char *roots[] = { env, VOLT_SOURCE_DIR, VOLT_INSTALL_DATADIR };
	int first = -1;
	size_t i;

	for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		if (!roots[i] || !*roots[i])
			continue;
		if (path_fmt(buf, size, "%s/%s", roots[i], rel))
			return -ENAMETOOLONG;
		if (first < 0)
			first = (int)i;
		if (path_exists(buf))
			return 0;
		/* An explicit VOLT_DATA_DIR is the only place looked at. */
		if (env && *env)
			break;
	}
	if (first >= 0)
		path_fmt(buf, size, "%s/%s", roots[first], rel);
	return -ENOENT;
}

const char *volt_cache_error(int err)
{
	return err == -ENAMETOOLONG ? "the cache directory's paths are too long (XDG_CACHE_HOME "
				      "or HOME: PATH_MAX)"
				    : "no cache directory: set XDG_CACHE_HOME or HOME (an absolute "
				      "path)";
}

int volt_cache_path(char *buf, size_t size, const char *rel)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	if (xdg && *xdg == '/')
		return path_fmt(buf, size, "%s/volt/%s", xdg, rel);
	if (home && *home == '/')
		return path_fmt(buf, size, "%s/.cache/volt/%s", home, rel);
	return -ENOENT;
}
