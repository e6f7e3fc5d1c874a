/* The guest kit's snapshot cache (kernel/snapshot_cache.h). */
#include "kernel/snapshot_cache.h"

#include "core/snap.h"
#include "util/fs.h"
#include "util/staged_file.h"
#include "util/paths.h"
#include "util/sha256.h"
#include "volt-config.h"

#include <cpuid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TMP_PREFIX ".tmp-"
#define INFO_MAX   (1 << 20)

static const char *const entry_files[] = { "state", "mem", "info.json" };
#define NFILES (sizeof(entry_files) / sizeof(entry_files[0]))

bool snapshot_cache_key_valid(const char *key)
{
	int i;

	if (!key)
		return false;
	for (i = 0; i < SNAPSHOT_CACHE_KEY_LEN; i++)
		if (!((key[i] >= '0' && key[i] <= '9') || (key[i] >= 'a' && key[i] <= 'f')))
			return false;
	return key[i] == '\0';
}

int snapshot_cache_cpu_signature(char *buf, size_t size)
{
	unsigned int eax, ebx, ecx, edx, family, model;
	char vendor[13];

	if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx))
		return -ENOTSUP;
	memcpy(vendor, &ebx, 4);
	memcpy(vendor + 4, &edx, 4);
	memcpy(vendor + 8, &ecx, 4);
	vendor[12] = '\0';
	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return -ENOTSUP;
	family = (eax >> 8) & 0xf;
	model = (eax >> 4) & 0xf;
	if (family == 0xf)
		family += (eax >> 20) & 0xff;
	if (family == 0x6 || family >= 0xf)
		model |= ((eax >> 16) & 0xf) << 4;
	return path_fmt(buf, size, "%s %u/%u/%u", vendor, family, model, eax & 0xf);
}

int snapshot_cache_file_key(const char *path, char *key, size_t size)
{
	const char *end = strrchr(path, '/'), *start;

	if (!end || end == path)
		return -EINVAL;
	for (start = end; start > path && start[-1] != '/'; start--)
		;
	if (start == end)
		return -EINVAL;
	if ((size_t)(end - start) >= size)
		return -ENAMETOOLONG;
	memcpy(key, start, (size_t)(end - start));
	key[end - start] = '\0';
	return 0;
}

/* name=<length>:<value> or name=- for NULL: no two input sets hash alike. */
static void hash_str(struct sha256 *h, const char *name, const char *v)
{
	char head[64];
	int n;

	if (v)
		n = snprintf(head, sizeof(head), "%s=%zu:", name, strlen(v));
	else
		n = snprintf(head, sizeof(head), "%s=-", name);
	sha256_update(h, head, (size_t)n);
	if (v)
		sha256_update(h, v, strlen(v));
	sha256_update(h, "\n", 1);
}

static unsigned int format_of(const struct snapshot_cache_inputs *in)
{
	return in->snap_format ? in->snap_format : SNAP_FORMAT_VERSION;
}

static const char *version_of(const struct snapshot_cache_inputs *in)
{
	return in->volt_version ? in->volt_version : VOLT_VERSION;
}

int snapshot_cache_key(const struct snapshot_cache_inputs *in, char key[SNAPSHOT_CACHE_KEY_LEN + 1])
{
	char hex[65], num[64];
	struct sha256 h;

	if (!in->kernel_key || !in->mem_size || in->ncpus < 1)
		return -EINVAL;
	sha256_init(&h);
	sha256_update(&h, "volt-snapshot-v1\n", strlen("volt-snapshot-v1\n"));
	hash_str(&h, "kernel", in->kernel_key);
	hash_str(&h, "rootfs", in->rootfs_key);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)in->mem_size);
	hash_str(&h, "mem", num);
	snprintf(num, sizeof(num), "%d", in->ncpus);
	hash_str(&h, "cpus", num);
	hash_str(&h, "devices", in->devices_json);
	hash_str(&h, "cmdline", in->cmdline);
	snprintf(num, sizeof(num), "%u", format_of(in));
	hash_str(&h, "format", num);
	hash_str(&h, "cpu", in->cpu_signature);
	hash_str(&h, "volt", version_of(in));
	hash_str(&h, "ready", in->ready_point);
	/* Only when on: the keys of snapshots without it stay what they were. */
	if (in->boot_timer)
		hash_str(&h, "boot-timer", "on");
	if (in->smt)
		hash_str(&h, "smt", "on");
	/* Several vCPUs: since every vCPU's CPUID counts all of them (before, each
	 * counted those made before it), such snapshots are taken anew. */
	if (in->ncpus > 1)
		hash_str(&h, "topology", "one-package");
	sha256_hex(&h, hex);
	memcpy(key, hex, SNAPSHOT_CACHE_KEY_LEN);
	key[SNAPSHOT_CACHE_KEY_LEN] = '\0';
	return 0;
}

int snapshot_cache_root(char *buf, size_t size)
{
	return volt_cache_path(buf, size, "snapshots");
}

int snapshot_cache_dir(const char *key, char *buf, size_t size)
{
	char root[PATH_MAX];
	int err;

	if (!snapshot_cache_key_valid(key))
		return -EINVAL;
	err = snapshot_cache_root(root, sizeof(root));
	return err ? err : path_fmt(buf, size, "%s/%s", root, key);
}

/* Allocated bytes of the regular files in dir (holes are not on disk). */
static uint64_t disk_usage(const char *dir)
{
	struct dirent *de;
	struct stat st;
	uint64_t sum = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (!fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) && S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_blocks * 512;
	closedir(d);
	return sum;
}

static bool has_files(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	size_t i;

	for (i = 0; i < NFILES; i++)
		if (path_fmt(path, sizeof(path), "%s/%s", dir, entry_files[i]) ||
		    lstat(path, &st) || !S_ISREG(st.st_mode))
			return false;
	return true;
}

static int read_info(const char *dir, const char *key, struct snapshot_cache_info *info)
{
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *root, *v;
	char *text;
	size_t len;
	int err;

	if (path_fmt(path, sizeof(path), "%s/info.json", dir))
		return -ENAMETOOLONG;
	err = read_file(path, INFO_MAX, &text, &len);
	if (err)
		return err;
	root = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!json_is_object(root)) {
		json_decref(root);
		return -EBADMSG;
	}
	memset(info, 0, sizeof(*info));
	snprintf(info->key, sizeof(info->key), "%s", key);
	if (json_is_integer(v = json_object_get(root, "mem_size")))
		info->mem_size = (uint64_t)json_integer_value(v);
	if (json_is_integer(v = json_object_get(root, "vcpus")))
		info->ncpus = (int)json_integer_value(v);
	if (json_is_integer(v = json_object_get(root, "created")))
		info->created = json_integer_value(v);
	if (json_is_integer(v = json_object_get(root, "first_boot_ms")))
		info->first_boot_ms = (uint64_t)json_integer_value(v);
	if (json_is_string(v = json_object_get(root, "cmdline")))
		snprintf(info->cmdline, sizeof(info->cmdline), "%s", json_string_value(v));
	json_decref(root);
	info->disk_bytes = disk_usage(dir);
	return 0;
}

int snapshot_cache_lookup(const char *key, struct snapshot_cache_info *info)
{
	struct snapshot_cache_info scratch;
	char dir[PATH_MAX];
	int err;

	err = snapshot_cache_dir(key, dir, sizeof(dir));
	if (err)
		return err;
	if (!has_files(dir))
		return -ENOENT;
	err = read_info(dir, key, info ? info : &scratch);
	return err == -ENOENT ? -ENOENT : err ? -EBADMSG : 0;
}

static bool abandoned(const char *name);
static int read_names(char ***names, size_t *n);
static void free_names(char **names, size_t n);

/* The temporary directories of runs that ended before their snapshot was
 * committed (the guest stopped first, volt was killed): a sandboxed VMM
 * cannot remove its own, so the next writer does. */
static void remove_abandoned(const char *root)
{
	char path[PATH_MAX], **names;
	size_t n, i;

	if (read_names(&names, &n))
		return;
	for (i = 0; i < n; i++)
		if (abandoned(names[i]) && !path_fmt(path, sizeof(path), "%s/%s", root, names[i]))
			rm_rf(path);
	free_names(names, n);
}

int snapshot_cache_begin(const char *key, char *tmpdir, size_t size)
{
	static atomic_uint seq;
	char root[PATH_MAX];
	int err, tries;

	if (!snapshot_cache_key_valid(key))
		return -EINVAL;
	err = snapshot_cache_root(root, sizeof(root));
	if (!err)
		err = mkdir_p(root, 0755);
	if (err)
		return err;
	remove_abandoned(root);
	for (tries = 0; tries < 100; tries++) {
		err = path_fmt(tmpdir, size, "%s/" TMP_PREFIX "%s-%d-%u", root, key, (int)getpid(),
			       atomic_fetch_add(&seq, 1));
		if (err)
			return err;
		if (!mkdir(tmpdir, 0700))
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int snapshot_cache_write_info(const char *tmpdir, const char *key,
			      const struct snapshot_cache_inputs *in, uint64_t first_boot_ms)
{
	char check[SNAPSHOT_CACHE_KEY_LEN + 1], path[PATH_MAX], created[32];
	time_t now = time(NULL);
	json_t *root, *devices = NULL;
	struct tm tm;
	char *text;
	int err;

	err = snapshot_cache_key(in, check);
	if (err)
		return err;
	if (strcmp(check, key))
		return -EINVAL;
	if (path_fmt(path, sizeof(path), "%s/info.json", tmpdir))
		return -ENAMETOOLONG;
	gmtime_r(&now, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* Devices as JSON where the caller's text is JSON, else as a string. */
	if (in->devices_json)
		devices = json_loads(in->devices_json, JSON_DECODE_ANY, NULL);
	if (!devices)
		devices = in->devices_json ? json_string(in->devices_json) : json_null();
	root = json_pack("{s:s, s:s?, s:s?, s:I, s:i, s:o, s:s?, s:i, s:s?, s:s, s:I, s:s, s:I}",
			 "key", key, "kernel", in->kernel_key, "rootfs", in->rootfs_key, "mem_size",
			 (json_int_t)in->mem_size, "vcpus", in->ncpus, "devices", devices,
			 "cmdline", in->cmdline, "snap_format", (int)format_of(in), "cpu",
			 in->cpu_signature, "volt_version", version_of(in), "created",
			 (json_int_t)now, "created_utc", created, "first_boot_ms",
			 (json_int_t)first_boot_ms);
	if (!root)
		return -ENOMEM;
	text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	if (!text)
		return -ENOMEM;
	/* Atomic: it is what a VMM confined by seccomp may create (O_EXCL). */
	err = write_file_atomic(path, text, strlen(text), 0600);
	free(text);
	return err;
}

static int fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

/* The directory path lives in. */
static int fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	int fd = open_parent_dir(path, dir, sizeof(dir)), err;

	if (fd < 0)
		return fd;
	err = fsync(fd) ? -errno : 0;
	close(fd);
	return err;
}

/* Moves an incomplete entry aside and removes it; racing writers may each
 * try: whoever renames first removes it. */
static void drop_incomplete(const char *final)
{
	char aside[PATH_MAX];
	static atomic_uint seq;

	if (path_fmt(aside, sizeof(aside), "%s.drop-%d-%u", final, (int)getpid(),
		     atomic_fetch_add(&seq, 1)))
		return;
	if (!rename(final, aside))
		rm_rf(aside);
}

int snapshot_cache_commit_synced(const char *tmpdir, const char *key)
{
	char final[PATH_MAX];
	int err;

	/* Its caller wrote the three files (has_files' lstat is not allowed). */
	err = snapshot_cache_dir(key, final, sizeof(final));
	if (err)
		return err;
	err = fsync_path(tmpdir, O_RDONLY | O_DIRECTORY);
	if (!err && rename(tmpdir, final))
		err = errno == ENOTEMPTY ? -EEXIST : -errno;
	return err ? err : fsync_parent(final);
}

int snapshot_cache_commit(const char *tmpdir, const char *key)
{
	char final[PATH_MAX], path[PATH_MAX];
	size_t i;
	int err, tries;

	err = snapshot_cache_dir(key, final, sizeof(final));
	if (err)
		return err;
	if (!has_files(tmpdir))
		return -ENOENT;
	for (i = 0; i < NFILES; i++) {
		if (path_fmt(path, sizeof(path), "%s/%s", tmpdir, entry_files[i]))
			return -ENAMETOOLONG;
		err = fsync_path(path, O_RDONLY);
		if (err)
			return err;
	}
	err = fsync_path(tmpdir, O_RDONLY | O_DIRECTORY);
	if (err)
		return err;
	for (tries = 0; tries < 3; tries++) {
		if (!rename(tmpdir, final))
			return fsync_parent(final);
		if (errno != EEXIST && errno != ENOTEMPTY)
			return -errno;
		if (has_files(final)) {
			/* Another writer won: its entry serves as well as ours. */
			rm_rf(tmpdir);
			return 0;
		}
		drop_incomplete(final);
	}
	return -EEXIST;
}

void snapshot_cache_abort(const char *tmpdir)
{
	if (tmpdir && *tmpdir)
		rm_rf(tmpdir);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	while (n)
		free(names[--n]);
	free(names);
}

/* The names in snapshots/ (sorted), or *n 0 without the directory. */
static int read_names(char ***names, size_t *n)
{
	char root[PATH_MAX];
	struct dirent *de;
	size_t cap = 0;
	DIR *d;
	int err;

	*names = NULL;
	*n = 0;
	err = snapshot_cache_root(root, sizeof(root));
	if (err)
		return err;
	d = opendir(root);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (*n == cap) {
			char **grown = realloc(*names, (cap = cap ? cap * 2 : 16) * sizeof(char *));

			if (!grown) {
				err = -ENOMEM;
				break;
			}
			*names = grown;
		}
		if (!((*names)[*n] = strdup(de->d_name))) {
			err = -ENOMEM;
			break;
		}
		(*n)++;
	}
	closedir(d);
	if (err) {
		free_names(*names, *n);
		*names = NULL;
		*n = 0;
	} else if (*n) {
		qsort(*names, *n, sizeof(char *), cmp_str);
	}
	return err;
}

int snapshot_cache_list(int (*fn)(const struct snapshot_cache_info *info, void *ctx), void *ctx)
{
	struct snapshot_cache_info info;
	char **names;
	size_t n, i;
	int err, rc = 0;

	err = read_names(&names, &n);
	for (i = 0; !err && !rc && i < n; i++)
		if (snapshot_cache_key_valid(names[i]) && !snapshot_cache_lookup(names[i], &info))
			rc = fn(&info, ctx);
	free_names(names, n);
	return err ? err : rc;
}

/* A temporary or dropped directory whose writer (the pid in its name) is gone. */
static bool abandoned(const char *name)
{
	const size_t tl = strlen(TMP_PREFIX);
	const char *p;
	long pid;

	if (!strncmp(name, TMP_PREFIX, tl) && strlen(name) > tl + SNAPSHOT_CACHE_KEY_LEN)
		p = name + tl + SNAPSHOT_CACHE_KEY_LEN;
	else if ((p = strstr(name, ".drop-")) && p - name == SNAPSHOT_CACHE_KEY_LEN)
		p += strlen(".drop");
	else
		return false;
	if (*p != '-')
		return false;
	pid = strtol(p + 1, NULL, 10);
	return pid > 0 && kill((pid_t)pid, 0) && errno == ESRCH;
}

int snapshot_cache_rm(const char *key)
{
	char root[PATH_MAX], path[PATH_MAX];
	char **names;
	size_t n, i;
	int err;

	if (strcmp(key, "all")) {
		err = snapshot_cache_dir(key, path, sizeof(path));
		if (err)
			return err;
		if (access(path, F_OK))
			return -errno;
		return rm_rf(path);
	}
	err = snapshot_cache_root(root, sizeof(root));
	if (!err)
		err = read_names(&names, &n);
	if (err)
		return err;
	for (i = 0; i < n && !err; i++) {
		if (!snapshot_cache_key_valid(names[i]) && !abandoned(names[i]))
			continue;
		if (path_fmt(path, sizeof(path), "%s/%s", root, names[i]))
			err = -ENAMETOOLONG;
		else
			err = rm_rf(path);
	}
	free_names(names, n);
	return err;
}
