/* Shared helpers for the unit tests (each Criterion test runs in its own process). */
#ifndef VOLT_TESTS_HELPERS_H
#define VOLT_TESTS_HELPERS_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/staged_file.h"

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

/* A snapshot's two files into dir as the VMM puts them in place
 * (util/staged_file.h): over the ones there (RENAME_EXCHANGE), then where
 * there are none (RENAME_NOREPLACE). 0, or the step that failed (1 staging,
 * 2 the commit, 3 removing the first pair): a sandboxed child's exit status. */
static inline int test_snapshot_files_twice(const char *dir)
{
	char state[PATH_MAX], mem[PATH_MAX];
	struct staged_file f[2];
	int failed, i;

	path_fmt(state, sizeof(state), "%s/vmstate", dir);
	path_fmt(mem, sizeof(mem), "%s/mem", dir);
	for (i = 0; i < 2; i++) {
		if (staged_write(&f[0], state, "s", 1, 0600) ||
		    staged_write(&f[1], mem, "m", 1, 0600))
			return 1;
		if (staged_commit(f, 2, &failed))
			return 2;
		if (!i && (unlink(state) || unlink(mem)))
			return 3;
	}
	return 0;
}

#endif
