/* Guest kernel management: a kernel is named by a config fragment
 * (kernel/configs/NAME.config) and a variant (kernel/patches/VARIANT/, or
 * "generic" for none), built from Debian's linux-source-6.1 and cached under
 * <cache>/kernels/<key>/ where key hashes (source version, variant, config
 * text, patch texts). An entry directory exists only once complete: builds run
 * in a private work directory and are renamed into place at the end. */
#ifndef VOLT_KERNEL_KERNEL_H
#define VOLT_KERNEL_KERNEL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define KERNEL_DEFAULT_CONFIG  "microvm"
#define KERNEL_SOURCE_PACKAGE  "linux-source-6.1"
#define KERNEL_DEFAULT_SOURCE  "/usr/src/linux-source-6.1.tar.xz"
#define KERNEL_VARIANT_GENERIC "generic"
#define KERNEL_VARIANT_PVM     "pvm"
#define KERNEL_MAX_PATCHES     32
#define KERNEL_KEY_LEN	       16
/* A variant's own config fragment, in kernel/patches/<variant>/ beside its
 * patches, merged after the config (the variant's values win). */
#define KERNEL_VARIANT_CONFIG "variant.config"

struct kernel_patch {
	char path[PATH_MAX];
	char *text;
	size_t len;
};

struct kernel_spec {
	char config[64];
	char config_path[PATH_MAX];
	char *config_text;
	char variant[32];
	/* kernel/patches/<variant>/variant.config, merged after the config;
	 * empty path (and NULL text) when the variant has none. */
	char variant_config_path[PATH_MAX];
	char *variant_config_text;
	char source[PATH_MAX];
	char source_version[160]; /* empty: source missing, key unknown */
	struct kernel_patch patches[KERNEL_MAX_PATCHES];
	int npatches;
	char key[KERNEL_KEY_LEN + 1];
};

struct kernel_entry {
	char key[KERNEL_KEY_LEN + 1];
	char dir[PATH_MAX];
	char config[64];
	char variant[32];
	char source_version[160];
	long built;
	long build_seconds;
	long steps;
	char damage[128]; /* kernel_entry_load's -EUCLEAN: what is wrong with it */
};

struct kernel_build_opts {
	int jobs;   /* 0: all online CPUs */
	bool force; /* rebuild even when cached */
};

/* config: a name or a path to a fragment (NULL: default); variant NULL: "pvm"
 * on a PVM host, else "generic"; source NULL: $VOLT_KERNEL_SOURCE or the
 * Debian package's tarball. With need_source false a missing source leaves
 * source_version and key empty instead of failing. Errors are logged. */
int kernel_spec_resolve(struct kernel_spec *s, const char *config, const char *variant,
			const char *source, bool need_source);
void kernel_spec_free(struct kernel_spec *s);
/* Computes s->key from source_version, variant, config_text, variant_config_text
 * (when there is one) and patches. */
void kernel_spec_key(struct kernel_spec *s);
const char *kernel_default_variant(void);

int kernel_cache_dir(char *buf, size_t size);
/* 0 when path starts with the ELF magic (opened O_NONBLOCK), -ENOEXEC when it
 * does not, -errno when it cannot be opened. */
int kernel_file_check_elf(const char *path);
/* Loads <dir>/volt-kernel.meta: 0 for a complete entry; -ENOENT when there is
 * none; -EUCLEAN when dir exists and is damaged (its metadata unreadable or
 * for another key, its vmlinux missing, not a regular ELF file or not the
 * size it was built with), with the reason in e->damage: such an entry is
 * never used; a build replaces it. */
int kernel_entry_load(const char *dir, struct kernel_entry *e);
/* All complete entries, newest first; the caller frees *out. */
int kernel_entry_list(struct kernel_entry **out);
/* The damaged ones (kernel_entry_load's -EUCLEAN, or a meta for another key;
 * key: the directory's name, damage: why), which kernel_entry_list() leaves
 * out; the caller frees *out. */
int kernel_entry_list_damaged(struct kernel_entry **out);
/* The entry for s: by key, or (key unknown) the newest of its config+variant. */
int kernel_find(const struct kernel_spec *s, struct kernel_entry *e);
int kernel_entry_path(const struct kernel_entry *e, const char *file, char *buf, size_t size);

/* Writes the entry's metadata file (used by kernel_build). */
int kernel_entry_write_meta(const char *dir, const struct kernel_spec *s, long built, long seconds,
			    long steps);

int kernel_build(const struct kernel_spec *s, const struct kernel_build_opts *o,
		 struct kernel_entry *out);

#endif
