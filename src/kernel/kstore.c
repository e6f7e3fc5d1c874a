/* The kernel cache: complete entries under <cache>/kernels/<key>/. */
#include "kernel/kernel.h"

#include "util/fs.h"
#include "util/parse.h"
#include "util/paths.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* -EUCLEAN with the reason in e->damage. */
static int damaged(struct kernel_entry *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int damaged(struct kernel_entry *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->damage, sizeof(e->damage), fmt, ap);
	va_end(ap);
	return -EUCLEAN;
}

int kernel_file_check_elf(const char *path)
{
	unsigned char magic[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	bool ok;

	if (fd < 0)
		return -errno;
	ok = read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
	     !memcmp(magic, "\177ELF", 4);
	close(fd);
	return ok ? 0 : -ENOEXEC;
}

/* The vmlinux of a loaded entry: a regular ELF file (never opened if it is
 * anything else: a FIFO would block), of the size the meta recorded. */
static int check_vmlinux(struct kernel_entry *e, const char *meta)
{
	char path[PATH_MAX], num[32];
	struct stat st;
	int err;

	if (kernel_entry_path(e, "vmlinux", path, sizeof(path)))
		return -ENAMETOOLONG;
	if (stat(path, &st))
		return damaged(e, "vmlinux: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return damaged(e, "vmlinux is not a regular file");
	if (text_value(meta, "vmlinux_size", num, sizeof(num)) &&
	    strtoll(num, NULL, 10) != st.st_size)
		return damaged(e, "vmlinux is %lld bytes, built as %s", (long long)st.st_size, num);
	err = kernel_file_check_elf(path);
	if (err == -ENOEXEC)
		return damaged(e, "vmlinux is not an ELF file");
	if (err)
		return damaged(e, "vmlinux: %s", strerror(-err));
	return 0;
}

int kernel_entry_load(const char *dir, struct kernel_entry *e)
{
	char path[PATH_MAX], num[32];
	struct stat st;
	char *meta;
	int err;

	memset(e, 0, sizeof(*e));
	if (path_fmt(e->dir, sizeof(e->dir), "%s", dir) ||
	    path_fmt(path, sizeof(path), "%s/" META_FILE, dir))
		return -ENAMETOOLONG;
	if (lstat(dir, &st))
		return -ENOENT;
	err = read_file(path, 65536, &meta, NULL);
	if (err)
		return damaged(e, "%s: %s", META_FILE, strerror(-err));
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
	/* Read whole: a longer key cut to KERNEL_KEY_LEN would pass. */
	if (!text_value(meta, "key", num, sizeof(num)) || strlen(num) != KERNEL_KEY_LEN ||
	    strlen(e->key) != KERNEL_KEY_LEN) {
		free(meta);
		return damaged(e, "%s holds no key", META_FILE);
	}
	err = check_vmlinux(e, meta);
	free(meta);
	return err;
}

int kernel_entry_write_meta(const char *dir, const struct kernel_spec *s, long built, long seconds,
			    long steps)
{
	char path[PATH_MAX], meta[1024];
	struct stat st;
	int n;

	/* The vmlinux's size: a cut or replaced file is seen (check_vmlinux). */
	if (path_fmt(path, sizeof(path), "%s/vmlinux", dir))
		return -ENAMETOOLONG;
	if (stat(path, &st))
		return -errno;
	if (path_fmt(path, sizeof(path), "%s/" META_FILE, dir))
		return -ENAMETOOLONG;
	n = snprintf(meta, sizeof(meta),
		     "key=%s\nconfig=%s\nvariant=%s\nsource=%s\nsource_version=%s\n"
		     "built=%ld\nbuild_seconds=%ld\nsteps=%ld\nvmlinux_size=%lld\n",
		     s->key, s->config, s->variant, s->source, s->source_version, built, seconds,
		     steps, (long long)st.st_size);
	if (n < 0 || (size_t)n >= sizeof(meta))
		return -ENAMETOOLONG;
	return write_file(path, meta, (size_t)n, 0644);
}

static int cmp_newest(const void *a, const void *b)
{
	const struct kernel_entry *x = a, *y = b;

	return (y->built > x->built) - (y->built < x->built);
}

/* kernel_entry_load() of <cache>/<name> (cache: kernel_cache_dir()), whose
 * meta must be for that key: another one's is damage. */
static int load_named(const char *cache, const char *name, struct kernel_entry *e)
{
	char dir[PATH_MAX];
	int err;

	if (path_fmt(dir, sizeof(dir), "%s/%s", cache, name))
		return -ENAMETOOLONG;
	err = kernel_entry_load(dir, e);
	if (!err && strcmp(e->key, name))
		err = damaged(e, "%s is for kernel %s", META_FILE, e->key);
	return err;
}

static bool is_key(const char *name)
{
	return strlen(name) == KERNEL_KEY_LEN && strspn(name, "0123456789abcdef") == KERNEL_KEY_LEN;
}

/* The complete entries (newest first), or the damaged ones (directories
 * named as keys: kernel_entry_load()'s -EUCLEAN, their key field the
 * directory's name). */
static int entries(bool damaged_ones, struct kernel_entry **out)
{
	struct kernel_entry *list = NULL;
	char dir[PATH_MAX];
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
		int err;

		if (de->d_name[0] == '.')
			continue;
		err = load_named(dir, de->d_name, &e);
		if (damaged_ones ? err != -EUCLEAN || !is_key(de->d_name) : err)
			continue;
		if (damaged_ones) /* is_key(): KERNEL_KEY_LEN characters */
			memcpy(e.key, de->d_name, KERNEL_KEY_LEN + 1);
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
	if (n > 1 && !damaged_ones)
		qsort(list, (size_t)n, sizeof(*list), cmp_newest);
	*out = list;
	return n;
}

int kernel_entry_list(struct kernel_entry **out)
{
	return entries(false, out);
}

int kernel_entry_list_damaged(struct kernel_entry **out)
{
	return entries(true, out);
}

int kernel_find(const struct kernel_spec *s, struct kernel_entry *e)
{
	struct kernel_entry *list;
	char dir[PATH_MAX];
	int n, i;

	if (s->key[0])
		return kernel_cache_dir(dir, sizeof(dir)) ? -ENAMETOOLONG
							  : load_named(dir, s->key, e);
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
