/* Shared helpers for the unit tests (each Criterion test runs in its own process). */
#ifndef VOLT_TESTS_HELPERS_H
#define VOLT_TESTS_HELPERS_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fs.h"

/* A fresh directory under /tmp, removed by the caller with rm_rf. */
static inline char *test_tmpdir(void)
{
	static char dir[64];

	snprintf(dir, sizeof(dir), "/tmp/volt-test-XXXXXX");
	return mkdtemp(dir);
}

static inline void test_write(const char *dir, const char *rel, const char *text)
{
	char path[PATH_MAX], parent[PATH_MAX];
	char *slash;

	path_fmt(path, sizeof(path), "%s/%s", dir, rel);
	path_fmt(parent, sizeof(parent), "%s", path);
	slash = strrchr(parent, '/');
	*slash = '\0';
	mkdir_p(parent, 0755);
	write_file(path, text, strlen(text), 0644);
}

#endif
