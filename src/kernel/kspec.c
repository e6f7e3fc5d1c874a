/* Resolving a kernel name to its files, and the cache key over them. */
#include "kernel/kernel.h"

#include "core/host.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/paths.h"
#include "util/sha256.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FRAGMENT (1 << 20)
#define MAX_PATCH    (4 << 20)

const char *kernel_default_variant(void)
{
	return host_is_pvm() ? KERNEL_VARIANT_PVM : KERNEL_VARIANT_GENERIC;
}

static bool valid_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

/* Lists *.SUFFIX names (without the suffix) or subdirectories of dir into buf. */
static void list_names(const char *dir, const char *suffix, char *buf, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t used = 0;

	buf[0] = '\0';
	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name), sl = suffix ? strlen(suffix) : 0;
		int w;

		if (de->d_name[0] == '.')
			continue;
		if (suffix && (n <= sl || strcmp(de->d_name + n - sl, suffix)))
			continue;
		w = snprintf(buf + used, size - used, "%s%.*s", used ? ", " : "", (int)(n - sl),
			     de->d_name);
		if (w < 0 || (size_t)w >= size - used)
			break;
		used += (size_t)w;
	}
	closedir(d);
}

static int resolve_config(struct kernel_spec *s, const char *config)
{
	char rel[128], dir[PATH_MAX], names[512], why[160];
	int err;

	if (strchr(config, '/')) {
		const char *base = strrchr(config, '/') + 1;
		size_t n = strlen(base);

		if (n > 7 && !strcmp(base + n - 7, ".config"))
			n -= 7;
		snprintf(s->config, sizeof(s->config), "%.*s", (int)n, base);
		if (path_fmt(s->config_path, sizeof(s->config_path), "%s", config))
			return -ENAMETOOLONG;
	} else {
		if (!valid_name(config)) {
			pr_err("invalid kernel config name '%s'", config);
			return -EINVAL;
		}
		snprintf(s->config, sizeof(s->config), "%s", config);
		snprintf(rel, sizeof(rel), "kernel/configs/%s.config", config);
		if (volt_data_path(s->config_path, sizeof(s->config_path), rel)) {
			volt_data_path(dir, sizeof(dir), "kernel/configs");
			list_names(dir, ".config", names, sizeof(names));
			pr_err("unknown kernel config '%s' (known: %s)", config,
			       *names ? names : "none; is VOLT_DATA_DIR right?");
			return -ENOENT;
		}
	}
	err = read_input(s->config_path, MAX_FRAGMENT, &s->config_text, NULL, why, sizeof(why));
	if (err) {
		pr_err("kernel config '%s': %s", s->config_path, why);
		return err;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The variant's own config fragment, if it has one: what only that variant's
 * hosts need, merged after the config so that it wins. */
static int resolve_variant_config(struct kernel_spec *s, const char *dir)
{
	char path[PATH_MAX], why[160];
	struct stat st;
	int err;

	if (path_fmt(path, sizeof(path), "%s/" KERNEL_VARIANT_CONFIG, dir))
		return -ENAMETOOLONG;
	if (stat(path, &st))
		return 0;
	err = read_input(path, MAX_FRAGMENT, &s->variant_config_text, NULL, why, sizeof(why));
	if (err) {
		pr_err("kernel config '%s': %s", path, why);
		return err;
	}
	snprintf(s->variant_config_path, sizeof(s->variant_config_path), "%s", path);
	return 0;
}

static int resolve_patches(struct kernel_spec *s)
{
	char dir[PATH_MAX], rel[96], names[256];
	char *files[KERNEL_MAX_PATCHES];
	struct dirent *de;
	int n = 0, i, err = 0;
	DIR *d;

	if (!strcmp(s->variant, KERNEL_VARIANT_GENERIC))
		return 0;
	if (!valid_name(s->variant))
		goto unknown;
	snprintf(rel, sizeof(rel), "kernel/patches/%s", s->variant);
	if (volt_data_path(dir, sizeof(dir), rel))
		goto unknown;
	d = opendir(dir);
	if (!d)
		goto unknown;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 7 || strcmp(de->d_name + len - 6, ".patch"))
			continue;
		if (n == KERNEL_MAX_PATCHES) {
			err = -E2BIG;
			break;
		}
		files[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (!err)
		err = resolve_variant_config(s, dir);
	if (n > 1)
		qsort(files, (size_t)n, sizeof(files[0]), cmp_str);
	for (i = 0; i < n; i++) {
		struct kernel_patch *p = &s->patches[i];

		if (!err && !files[i])
			err = -ENOMEM;
		if (!err && path_fmt(p->path, sizeof(p->path), "%s/%s", dir, files[i]))
			err = -ENAMETOOLONG;
		if (!err) {
			err = read_file(p->path, MAX_PATCH, &p->text, &p->len);
			if (err)
				pr_err("cannot read kernel patch %s: %s", p->path, strerror(-err));
			else
				s->npatches++;
		}
		free(files[i]);
	}
	if (err == -E2BIG)
		pr_err("kernel variant '%s' has more than %d patches", s->variant,
		       KERNEL_MAX_PATCHES);
	return err;
unknown:
	volt_data_path(dir, sizeof(dir), "kernel/patches");
	list_names(dir, NULL, names, sizeof(names));
	pr_err("unknown kernel variant '%s' (known: %s%s%s)", s->variant, KERNEL_VARIANT_GENERIC,
	       *names ? ", " : "", names);
	return -ENOENT;
}

static void read_package_version(char *buf, size_t size)
{
	FILE *f = popen("dpkg-query -W -f='${Version}' " KERNEL_SOURCE_PACKAGE " 2>/dev/null", "r");
	size_t n = 0;

	buf[0] = '\0';
	if (!f)
		return;
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	if (pclose(f) != 0)
		buf[0] = '\0';
}

static int resolve_source(struct kernel_spec *s, const char *source, bool need_source)
{
	const char *env = getenv("VOLT_KERNEL_SOURCE");
	char version[96];
	struct stat st;
	bool found;

	if (!source)
		source = env && *env ? env : KERNEL_DEFAULT_SOURCE;
	if (path_fmt(s->source, sizeof(s->source), "%s", source))
		return -ENAMETOOLONG;
	found = !stat(s->source, &st);
	if (!found || !S_ISREG(st.st_mode)) {
		if (!need_source)
			return 0;
		if (found)
			pr_err("kernel source '%s' is %s, not a regular file (a linux-source "
			       "tarball)",
			       s->source, file_type_name(st.st_mode));
		else
			pr_err("kernel source %s not found: install Debian's %s (make deps) or "
			       "pass --source",
			       s->source, KERNEL_SOURCE_PACKAGE);
		return found ? -EINVAL : -ENOENT;
	}
	version[0] = '\0';
	if (!strcmp(s->source, KERNEL_DEFAULT_SOURCE))
		read_package_version(version, sizeof(version));
	if (version[0])
		snprintf(s->source_version, sizeof(s->source_version), "%s %s",
			 KERNEL_SOURCE_PACKAGE, version);
	else /* not the package's file: its identity is its size and age */
		snprintf(s->source_version, sizeof(s->source_version), "file %.100s %lld %lld",
			 s->source, (long long)st.st_size, (long long)st.st_mtime);
	return 0;
}

static void hash_field(struct sha256 *h, const char *tag, const char *data, size_t len)
{
	char head[160];
	int n = snprintf(head, sizeof(head), "%s %zu\n", tag, len);

	sha256_update(h, head, (size_t)n);
	sha256_update(h, data, len);
	sha256_update(h, "\n", 1);
}

void kernel_spec_key(struct kernel_spec *s)
{
	char hex[65];
	struct sha256 h;
	int i;

	if (!s->source_version[0]) {
		s->key[0] = '\0';
		return;
	}
	sha256_init(&h);
	sha256_update(&h, "volt-kernel-cache-v1\n", 21);
	hash_field(&h, "source", s->source_version, strlen(s->source_version));
	hash_field(&h, "variant", s->variant, strlen(s->variant));
	hash_field(&h, "config", s->config_text, strlen(s->config_text));
	/* Only when present: a variant without one keeps its old key. */
	if (s->variant_config_text)
		hash_field(&h, "variant-config", s->variant_config_text,
			   strlen(s->variant_config_text));
	for (i = 0; i < s->npatches; i++) {
		const char *base = strrchr(s->patches[i].path, '/');

		base = base ? base + 1 : s->patches[i].path;
		hash_field(&h, "patch-name", base, strlen(base));
		hash_field(&h, "patch", s->patches[i].text, s->patches[i].len);
	}
	sha256_hex(&h, hex);
	memcpy(s->key, hex, KERNEL_KEY_LEN);
	s->key[KERNEL_KEY_LEN] = '\0';
}

int kernel_spec_resolve(struct kernel_spec *s, const char *config, const char *variant,
			const char *source, bool need_source)
{
	int err;

	memset(s, 0, sizeof(*s));
	snprintf(s->variant, sizeof(s->variant), "%s",
		 variant ? variant : kernel_default_variant());
	if (variant && strlen(variant) >= sizeof(s->variant)) {
		pr_err("unknown kernel variant '%s'", variant);
		return -EINVAL;
	}
	err = resolve_config(s, config ? config : KERNEL_DEFAULT_CONFIG);
	if (!err)
		err = resolve_patches(s);
	if (!err)
		err = resolve_source(s, source, need_source);
	if (err) {
		kernel_spec_free(s);
		return err;
	}
	kernel_spec_key(s);
	return 0;
}

void kernel_spec_free(struct kernel_spec *s)
{
	int i;

	free(s->config_text);
	s->config_text = NULL;
	free(s->variant_config_text);
	s->variant_config_text = NULL;
	for (i = 0; i < s->npatches; i++) {
		free(s->patches[i].text);
		s->patches[i].text = NULL;
	}
	s->npatches = 0;
}
