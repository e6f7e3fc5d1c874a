/* The guest kit's snapshot cache (kernel/snapshot_cache.h): a key that
 * changes with every input, entries complete or absent (never half there),
 * concurrent writers, listing and removal. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/snap.h"
#include "helpers.h"
#include "cli/snapshot_cache_cmd.h"
#include "kernel/snapshot_cache.h"
#include "util/fs.h"

static char *tmp;
static char cache[PATH_MAX];

static void setup(void)
{
	tmp = test_tmpdir();
	cr_assert_not_null(tmp);
	path_fmt(cache, sizeof(cache), "%s/cache", tmp);
	setenv("XDG_CACHE_HOME", cache, 1);
}

static void teardown(void)
{
	rm_rf(tmp);
}

TestSuite(snapshot_cache, .init = setup, .fini = teardown);

static struct snapshot_cache_inputs base(void)
{
	return (struct snapshot_cache_inputs){
		.kernel_key = "029ed6753b03788e",
		.rootfs_key = "ef507e5024f88f96",
		.mem_size = 128 << 20,
		.ncpus = 1,
		.devices_json = "[]",
		.cmdline = "console=ttyS0 reboot=k panic=1",
		.cpu_signature = "GenuineIntel 6/143/8",
		.volt_version = "0.1.0",
	};
}

static void key_of(const struct snapshot_cache_inputs *in, char key[17])
{
	cr_assert_eq(snapshot_cache_key(in, key), 0);
	cr_assert(snapshot_cache_key_valid(key), "%s", key);
}

Test(snapshot_cache, key_changes_with_every_input)
{
	struct snapshot_cache_inputs in = base(), v;
	char k0[17], k[17], again[17];

	key_of(&in, k0);
	key_of(&in, again);
	cr_assert_str_eq(k0, again, "stable");
	in.snap_format = SNAP_FORMAT_VERSION;
	key_of(&in, again);
	cr_assert_str_eq(k0, again, "0 means SNAP_FORMAT_VERSION");

#define CHANGED(field, value)                                                  \
	do {                                                                   \
		v = base();                                                    \
		v.field = value;                                               \
		key_of(&v, k);                                                 \
		cr_assert_str_neq(k, k0, "%s did not change the key", #field); \
	} while (0)
	CHANGED(kernel_key, "029ed6753b03788f");
	CHANGED(rootfs_key, "80eb2f89b691eeeb");
	CHANGED(rootfs_key, NULL);
	CHANGED(mem_size, 256 << 20);
	CHANGED(ncpus, 2);
	CHANGED(devices_json, "[{\"kind\":\"rng\"}]");
	CHANGED(devices_json, NULL);
	CHANGED(cmdline, "console=ttyS0 reboot=k panic=1 quiet");
	CHANGED(cmdline, "");
	CHANGED(snap_format, SNAP_FORMAT_VERSION + 1);
	CHANGED(cpu_signature, "AuthenticAMD 25/1/1");
	CHANGED(volt_version, "0.2.0");
	CHANGED(boot_timer, true);
#undef CHANGED
	/* No field's text can slide into the next one. */
	v = base();
	v.devices_json = "[]c";
	v.cmdline = "onsole=ttyS0 reboot=k panic=1";
	key_of(&v, k);
	cr_assert_str_neq(k, k0);
}

Test(snapshot_cache, key_needs_the_essentials)
{
	struct snapshot_cache_inputs in = base();
	char k[17];

	in.kernel_key = NULL;
	cr_assert_eq(snapshot_cache_key(&in, k), -EINVAL);
	in = base();
	in.mem_size = 0;
	cr_assert_eq(snapshot_cache_key(&in, k), -EINVAL);
	in = base();
	in.ncpus = 0;
	cr_assert_eq(snapshot_cache_key(&in, k), -EINVAL);
}

Test(snapshot_cache, keys_are_checked_before_they_name_a_path)
{
	char dir[PATH_MAX];

	cr_assert_eq(snapshot_cache_dir("../../etc/passwd", dir, sizeof(dir)), -EINVAL);
	cr_assert_eq(snapshot_cache_dir("0123456789ABCDEF", dir, sizeof(dir)), -EINVAL);
	cr_assert_eq(snapshot_cache_dir("0123456789abcde", dir, sizeof(dir)), -EINVAL);
	cr_assert_eq(snapshot_cache_lookup("..", NULL), -EINVAL);
	cr_assert_eq(snapshot_cache_rm("../x"), -EINVAL);
	cr_assert_eq(snapshot_cache_dir("0123456789abcdef", dir, sizeof(dir)), 0);
	cr_assert(strstr(dir, "/volt/snapshots/0123456789abcdef"), "%s", dir);
}

Test(snapshot_cache, input_helpers)
{
	char sig[64], key[17];

	cr_assert_eq(snapshot_cache_cpu_signature(sig, sizeof(sig)), 0);
	cr_assert(strchr(sig, ' ') && strchr(sig, '/'), "%s", sig);
	cr_assert_eq(snapshot_cache_file_key("/c/volt/kernels/029ed6753b03788e/vmlinux", key,
					     sizeof(key)),
		     0);
	cr_assert_str_eq(key, "029ed6753b03788e");
	cr_assert_eq(snapshot_cache_file_key("vmlinux", key, sizeof(key)), -EINVAL);
	cr_assert_eq(snapshot_cache_file_key("/vmlinux", key, sizeof(key)), -EINVAL);
	cr_assert_eq(snapshot_cache_file_key("/a/0123456789abcdef0/x", key, sizeof(key)),
		     -ENAMETOOLONG);
}

/* A temporary directory with the state and memory files written. */
static void fill(const char *key, const struct snapshot_cache_inputs *in, char *tmpdir,
		 uint64_t boot_ms)
{
	char path[PATH_MAX];

	cr_assert_eq(snapshot_cache_begin(key, tmpdir, PATH_MAX), 0);
	path_fmt(path, sizeof(path), "%s/state", tmpdir);
	cr_assert_eq(write_file(path, "VOLTSNAP", 8, 0600), 0);
	path_fmt(path, sizeof(path), "%s/mem", tmpdir);
	cr_assert_eq(write_file(path, "memory", 6, 0600), 0);
	cr_assert_eq(snapshot_cache_write_info(tmpdir, key, in, boot_ms), 0);
}

Test(snapshot_cache, commit_makes_a_complete_entry_appear_at_once)
{
	struct snapshot_cache_inputs in = base();
	struct snapshot_cache_info info;
	char key[17], tmpdir[PATH_MAX], dir[PATH_MAX], path[PATH_MAX];
	json_t *j;

	key_of(&in, key);
	cr_assert_eq(snapshot_cache_lookup(key, &info), -ENOENT);
	fill(key, &in, tmpdir, 41234);
	cr_assert_eq(snapshot_cache_lookup(key, &info), -ENOENT, "not before the commit");
	cr_assert_eq(snapshot_cache_commit(tmpdir, key), 0);
	cr_assert_eq(access(tmpdir, F_OK), -1, "the temporary directory is gone");
	cr_assert_eq(snapshot_cache_lookup(key, &info), 0);
	cr_assert_str_eq(info.key, key);
	cr_assert_eq(info.mem_size, 128 << 20);
	cr_assert_eq(info.ncpus, 1);
	cr_assert_eq(info.first_boot_ms, 41234);
	cr_assert_str_eq(info.cmdline, in.cmdline);
	cr_assert_gt(info.created, 0);
	cr_assert_gt(info.disk_bytes, 0);
	/* info.json is readable JSON with every input. */
	cr_assert_eq(snapshot_cache_dir(key, dir, sizeof(dir)), 0);
	path_fmt(path, sizeof(path), "%s/info.json", dir);
	j = json_load_file(path, 0, NULL);
	cr_assert_not_null(j);
	cr_assert_str_eq(json_string_value(json_object_get(j, "kernel")), in.kernel_key);
	cr_assert_str_eq(json_string_value(json_object_get(j, "rootfs")), in.rootfs_key);
	cr_assert_str_eq(json_string_value(json_object_get(j, "cpu")), in.cpu_signature);
	cr_assert_str_eq(json_string_value(json_object_get(j, "volt_version")), "0.1.0");
	cr_assert(json_is_array(json_object_get(j, "devices")), "devices stay JSON");
	cr_assert_eq(json_integer_value(json_object_get(j, "snap_format")), SNAP_FORMAT_VERSION);
	cr_assert_not_null(json_object_get(j, "created_utc"));
	json_decref(j);
}

Test(snapshot_cache, incomplete_never_commits_nor_counts)
{
	struct snapshot_cache_inputs in = base();
	char key[17], tmpdir[PATH_MAX], dir[PATH_MAX], path[PATH_MAX];

	key_of(&in, key);
	fill(key, &in, tmpdir, 1);
	path_fmt(path, sizeof(path), "%s/mem", tmpdir);
	unlink(path);
	cr_assert_eq(snapshot_cache_commit(tmpdir, key), -ENOENT, "no memory file: refused");
	cr_assert_eq(snapshot_cache_lookup(key, NULL), -ENOENT);
	snapshot_cache_abort(tmpdir);
	cr_assert_eq(access(tmpdir, F_OK), -1);
	/* A leftover entry missing a file (removed by hand) is not a snapshot,
	 * and a commit replaces it. */
	cr_assert_eq(snapshot_cache_dir(key, dir, sizeof(dir)), 0);
	test_write(dir, "state", "old");
	cr_assert_eq(snapshot_cache_lookup(key, NULL), -ENOENT);
	fill(key, &in, tmpdir, 2);
	cr_assert_eq(snapshot_cache_commit(tmpdir, key), 0);
	cr_assert_eq(snapshot_cache_lookup(key, NULL), 0);
	path_fmt(path, sizeof(path), "%s/mem", dir);
	cr_assert_eq(access(path, F_OK), 0);
}

Test(snapshot_cache, write_info_checks_the_key)
{
	struct snapshot_cache_inputs in = base();
	char key[17], tmpdir[PATH_MAX];

	key_of(&in, key);
	cr_assert_eq(snapshot_cache_begin(key, tmpdir, sizeof(tmpdir)), 0);
	cr_assert_eq(snapshot_cache_write_info(tmpdir, "0123456789abcdef", &in, 0), -EINVAL);
	snapshot_cache_abort(tmpdir);
}

Test(snapshot_cache, a_second_writer_loses_harmlessly)
{
	struct snapshot_cache_inputs in = base();
	struct snapshot_cache_info info;
	char key[17], t1[PATH_MAX], t2[PATH_MAX];

	key_of(&in, key);
	fill(key, &in, t1, 100);
	fill(key, &in, t2, 200);
	cr_assert_str_neq(t1, t2, "each writer has its own directory");
	cr_assert_eq(snapshot_cache_commit(t1, key), 0);
	cr_assert_eq(snapshot_cache_commit(t2, key), 0);
	cr_assert_eq(access(t2, F_OK), -1, "the loser's directory is removed");
	cr_assert_eq(snapshot_cache_lookup(key, &info), 0);
	cr_assert_eq(info.first_boot_ms, 100, "the first writer's entry stays");
}

struct seen {
	char keys[8][17];
	int n;
};

static int collect(const struct snapshot_cache_info *info, void *ctx)
{
	struct seen *s = ctx;

	cr_assert_lt(s->n, 8);
	strcpy(s->keys[s->n++], info->key);
	return 0;
}

static int stop_at_first(const struct snapshot_cache_info *info, void *ctx)
{
	(void)info;
	(*(int *)ctx)++;
	return 7;
}

Test(snapshot_cache, list_and_rm)
{
	struct snapshot_cache_inputs in = base();
	char keys[3][17], tmpdir[PATH_MAX], stale[PATH_MAX], root[PATH_MAX];
	struct seen s = { 0 };
	int i, calls = 0;

	cr_assert_eq(snapshot_cache_list(collect, &s), 0, "no snapshots/ yet");
	cr_assert_eq(s.n, 0);
	for (i = 0; i < 3; i++) {
		in.ncpus = i + 1;
		key_of(&in, keys[i]);
		fill(keys[i], &in, tmpdir, (uint64_t)i);
		cr_assert_eq(snapshot_cache_commit(tmpdir, keys[i]), 0);
	}
	/* An unfinished write (ours: alive) and an abandoned one are not listed. */
	in.ncpus = 1;
	fill(keys[0], &in, tmpdir, 9);
	cr_assert_eq(snapshot_cache_root(root, sizeof(root)), 0);
	path_fmt(stale, sizeof(stale), "%s/.tmp-%s-999999999-0", root, keys[1]);
	cr_assert_eq(mkdir(stale, 0700), 0);
	cr_assert_eq(snapshot_cache_list(collect, &s), 0);
	cr_assert_eq(s.n, 3);
	cr_assert_lt(strcmp(s.keys[0], s.keys[1]), 0, "by key order");
	cr_assert_lt(strcmp(s.keys[1], s.keys[2]), 0);
	cr_assert_eq(snapshot_cache_list(stop_at_first, &calls), 7);
	cr_assert_eq(calls, 1);

	cr_assert_eq(snapshot_cache_rm(keys[1]), 0);
	cr_assert_eq(snapshot_cache_lookup(keys[1], NULL), -ENOENT);
	cr_assert_eq(snapshot_cache_rm(keys[1]), -ENOENT);
	cr_assert_eq(snapshot_cache_lookup(keys[0], NULL), 0);

	cr_assert_eq(snapshot_cache_rm("all"), 0);
	cr_assert_eq(snapshot_cache_lookup(keys[0], NULL), -ENOENT);
	cr_assert_eq(snapshot_cache_lookup(keys[2], NULL), -ENOENT);
	cr_assert_eq(access(stale, F_OK), -1, "an abandoned write goes");
	cr_assert_eq(access(tmpdir, F_OK), 0, "a live writer's stays");
	/* It can still commit. */
	cr_assert_eq(snapshot_cache_commit(tmpdir, keys[0]), 0);
	cr_assert_eq(snapshot_cache_lookup(keys[0], NULL), 0);
}

/* `volt snapshot list|rm` (cli/snapshot_cache_cmd.h). */
static int run_cmd(int (*fn)(int, char **), const char *a1)
{
	char *argv[] = { "cmd", (char *)a1, NULL };

	return fn(a1 ? 2 : 1, argv);
}

Test(snapshot_cache, cli_list_and_rm)
{
	struct snapshot_cache_inputs in = base();
	char key[17], tmpdir[PATH_MAX], out[4096];
	FILE *f;
	size_t n;

	cr_redirect_stdout();
	cr_assert_eq(run_cmd(snapshot_list_cmd, NULL), 0);
	key_of(&in, key);
	fill(key, &in, tmpdir, 41500);
	cr_assert_eq(snapshot_cache_commit(tmpdir, key), 0);
	cr_assert_eq(run_cmd(snapshot_list_cmd, NULL), 0);
	cr_assert_eq(run_cmd(snapshot_list_cmd, "extra"), -EINVAL);
	cr_assert_eq(run_cmd(snapshot_rm_cmd, NULL), -EINVAL);
	cr_assert_eq(run_cmd(snapshot_rm_cmd, "nothex"), -EINVAL);
	cr_assert_eq(run_cmd(snapshot_rm_cmd, "all"), -EINVAL, "only --all");
	cr_assert_eq(snapshot_cache_lookup(key, NULL), 0);
	cr_assert_eq(run_cmd(snapshot_rm_cmd, "0123456789abcdef"), -ENOENT);
	cr_assert_eq(run_cmd(snapshot_rm_cmd, key), 0);
	cr_assert_eq(snapshot_cache_lookup(key, NULL), -ENOENT);
	cr_assert_eq(run_cmd(snapshot_rm_cmd, "--all"), 0);
	fflush(stdout);
	f = cr_get_redirected_stdout();
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	cr_assert(strstr(out, "no snapshots cached in "), "%s", out);
	cr_assert(strstr(out, "KEY"), "%s", out);
	cr_assert(strstr(out, key), "%s", out);
	cr_assert(strstr(out, "128.0M"), "%s", out);
	cr_assert(strstr(out, "41.5s"), "%s", out);
	cr_assert(strstr(out, "removed every cached snapshot"), "%s", out);
}

/* A run that ended before its snapshot was committed (sandboxed, it cannot
 * remove its directory) leaves it to the next writer, which removes those
 * of writers that are gone and keeps a live one's. */
Test(snapshot_cache, the_next_writer_removes_abandoned_directories)
{
	struct snapshot_cache_inputs in = base();
	char key[17], root[PATH_MAX], dead[PATH_MAX], live[PATH_MAX], mine[PATH_MAX];

	key_of(&in, key);
	cr_assert_eq(snapshot_cache_root(root, sizeof(root)), 0);
	path_fmt(dead, sizeof(dead), "%s/.tmp-%s-999999999-0", root, key);
	path_fmt(live, sizeof(live), "%s/.tmp-%s-%d-7", root, key, (int)getppid());
	cr_assert_eq(mkdir_p(dead, 0700), 0);
	cr_assert_eq(mkdir_p(live, 0700), 0);
	test_write(dead, "mem", "left by a killed run");
	cr_assert_eq(snapshot_cache_begin(key, mine, sizeof(mine)), 0);
	cr_assert_eq(access(dead, F_OK), -1, "an abandoned directory stays");
	cr_assert_eq(access(live, F_OK), 0, "a live writer's directory went");
	snapshot_cache_abort(mine);
	cr_assert_eq(access(mine, F_OK), -1);
}
