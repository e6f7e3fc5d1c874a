/* The kernel cache: complete entries under <cache>/kernels/<key>/. */
#include "kernel/kernel.h"

#include "util/fs.h"
#include "util/parse.h"
#include "util/paths.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_FILE "volt-kernel.meta"

int kernel_cache_dir(char *buf, size_t size)
{
	return volt_cache_path(buf, size, "kernels");
}

int kernel_entry_path(const struct kernel_entry *e, const char *file, char *buf, size_t size)
{
	return path_fmt(buf, size, "%s/%s", e->dir, file);
}

/* A value as text for listings: a control byte (an escape sequence a
 * crafted file would send to the terminal) becomes '?'. */
static void meta_get(const char *meta, const char *key, char *val, size_t size)
{
	if (!text_value(meta, key, val, size))
		val[0] = '\0';
	for (char *c = val; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

int kernel_entry_load(const char *dir, struct kernel_entry *e)
{
	char path[PATH_MAX], num[32];
	char *meta;
	int err;

	memset(e, 0, sizeof(*e));
	if (path_fmt(e->dir, sizeof(e->dir), "%s", dir) ||
	    path_fmt(path, sizeof(path), "%s/" META_FILE, dir))
		return -ENAMETOOLONG;
	err = read_file(path, 65536, &meta, NULL);
	if (err)
		return err;
	meta_get(meta, "key", e->key, sizeof(e->key));
	meta_get(meta, "config", e->config, sizeof(e->config));
	meta_get(meta, "variant", e->variant, sizeof(e->variant));
	meta_get(meta, "source_version", e->source_version, sizeof(e->source_version));
	meta_get(meta, "built", num, sizeof(num));
	e->built = atol(num);
	meta_get(meta, "build_seconds", num, sizeof(num));
	e->build_seconds = atol(num);
	meta_get(meta, "steps", num, sizeof(num));
	e->steps = atol(num);
	free(meta);
	if (strlen(e->key) != KERNEL_KEY_LEN)
		return -EINVAL;
	if (kernel_entry_path(e, "vmlinux", path, sizeof(path)) || !path_exists(path))
		return -ENOENT;
	return 0;
}

int kernel_entry_write_meta(const char *dir, const struct kernel_spec *s, long built, long seconds,
			    long steps)
{
	char path[PATH_MAX], meta[1024];
	int n;

	if (path_fmt(path, sizeof(path), "%s/" META_FILE, dir))
		return -ENAMETOOLONG;
	n = snprintf(meta, sizeof(meta),
		     "key=%s\nconfig=%s\nvariant=%s\nsource=%s\nsource_version=%s\n"
		     "built=%ld\nbuild_seconds=%ld\nsteps=%ld\n",
		     s->key, s->config, s->variant, s->source, s->source_version, built, seconds,
		     steps);
	if (n < 0 || (size_t)n >= sizeof(meta))
		return -ENAMETOOLONG;
	return write_file(path, meta, (size_t)n, 0644);
}

static int cmp_newest(const void *a, const void *b)
{
	const struct kernel_entry *x = a, *y = b;

	return (y->built > x->built) - (y->built < x->built);
}

int kernel_entry_list(struct kernel_entry **out)
{
	char dir[PATH_MAX], sub[PATH_MAX];
	struct kernel_entry *list = NULL;
	struct dirent *de;
	int n = 0, cap = 0;
	DIR *d;

	*out = NULL;
	if (kernel_cache_dir(dir, sizeof(dir)))
		return -ENOENT;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		struct kernel_entry e;

		if (de->d_name[0] == '.' || path_fmt(sub, sizeof(sub), "%s/%s", dir, de->d_name))
			continue;
		if (kernel_entry_load(sub, &e) || strcmp(e.key, de->d_name))
			continue;
		if (n == cap) {
			struct kernel_entry *grown;

			cap = cap ? cap * 2 : 8;
			grown = realloc(list, (size_t)cap * sizeof(*list));
			if (!grown) {
				free(list);
				closedir(d);
				return -ENOMEM;
			}
			list = grown;
		}
		list[n++] = e;
	}
	closedir(d);
	if (n > 1)
		qsort(list, (size_t)n, sizeof(*list), cmp_newest);
	*out = list;
	return n;
}

int kernel_find(const struct kernel_spec *s, struct kernel_entry *e)
{
	struct kernel_entry *list;
	char dir[PATH_MAX];
	int n, i;

	if (s->key[0]) {
		if (kernel_cache_dir(dir, sizeof(dir)) ||
		    path_fmt(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%s", s->key))
			return -ENAMETOOLONG;
		return kernel_entry_load(dir, e);
	}
	n = kernel_entry_list(&list);
	if (n < 0)
		return n;
	for (i = 0; list && i < n; i++) {
		if (!strcmp(list[i].config, s->config) && !strcmp(list[i].variant, s->variant)) {
			*e = list[i];
			free(list);
			return 0;
		}
	}
	free(list);
	return -ENOENT;
}
