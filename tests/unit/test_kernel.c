/* Kernel specs, cache keys and the build pipeline (run on a fake source tree). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>

#include "helpers.h"
#include "kernel/guest_kit.h"
#include "kernel/kernel.h"

static char data_dir[PATH_MAX], cache_dir[PATH_MAX], source[PATH_MAX];
static char *tmp;

static void setup(void)
{
	char cmd[PATH_MAX * 2];

	tmp = test_tmpdir();
	cr_assert(tmp);
	path_fmt(data_dir, sizeof(data_dir), "%s/data", tmp);
	path_fmt(cache_dir, sizeof(cache_dir), "%s/cache", tmp);
	path_fmt(source, sizeof(source), "%s/linux-fake.tar.gz", tmp);
	test_write(data_dir, "kernel/configs/tiny.config", "CONFIG_64BIT=y\nCONFIG_SMP=y\n");
	test_write(data_dir, "kernel/configs/fails.config", "CONFIG_FAKE_FAIL=y\n");
	test_write(data_dir, "kernel/configs/drops.config", "CONFIG_FAKE_DROP=y\n");
	test_write(data_dir, "kernel/patches/good/0002-second.patch",
		   "--- a/extra.txt\n+++ b/extra.txt\n@@ -1 +1 @@\n-one\n+two\n");
	test_write(data_dir, "kernel/patches/good/0001-first.patch",
		   "--- /dev/null\n+++ b/extra.txt\n@@ -0,0 +1 @@\n+one\n");
	test_write(data_dir, "kernel/patches/tuned/variant.config", "# CONFIG_SMP is not set\n");
	test_write(data_dir, "kernel/patches/broken/0001-broken.patch",
		   "--- a/Makefile\n+++ b/Makefile\n@@ -1,2 +1,2 @@\n-no such line\n+x\n y\n");
	setenv("VOLT_DATA_DIR", data_dir, 1);
	setenv("XDG_CACHE_HOME", cache_dir, 1);
	unsetenv("VOLT_KERNEL_SOURCE");
	path_fmt(cmd, sizeof(cmd), "tar -czf %s -C %s fake-kernel", source,
		 TEST_SOURCE_DIR "/tests/unit");
	cr_assert_eq(system(cmd), 0);
}

static void teardown(void)
{
	rm_rf(tmp);
}

/* Entries and work directories in the kernel cache (not locks or logs). */
static int count_dirs(void)
{
	char dir[PATH_MAX];
	struct dirent *de;
	int n = 0;
	DIR *d;

	path_fmt(dir, sizeof(dir), "%s/volt/kernels", cache_dir);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_type == DT_DIR && strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void fill(struct kernel_spec *s)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->variant, "pvm");
	strcpy(s->source_version, "linux-source-6.1 6.1.192-2");
	s->config_text = "CONFIG_64BIT=y\n";
	s->npatches = 1;
	strcpy(s->patches[0].path, "/x/0001-fix.patch");
	s->patches[0].text = "patch text";
	s->patches[0].len = 10;
}

Test(kernel_key, is_stable_and_covers_every_input)
{
	struct kernel_spec a, b;

	fill(&a);
	fill(&b);
	kernel_spec_key(&a);
	kernel_spec_key(&b);
	cr_assert_eq(strlen(a.key), KERNEL_KEY_LEN);
	cr_assert_str_eq(a.key, b.key);
	strcpy(b.source_version, "linux-source-6.1 6.1.193-1");
	kernel_spec_key(&b);
	cr_assert_str_neq(a.key, b.key, "source version not in the key");
	fill(&b);
	strcpy(b.variant, "generic");
	kernel_spec_key(&b);
	cr_assert_str_neq(a.key, b.key, "variant not in the key");
	fill(&b);
	b.config_text = "CONFIG_64BIT=y\nCONFIG_SMP=y\n";
	kernel_spec_key(&b);
	cr_assert_str_neq(a.key, b.key, "config not in the key");
	fill(&b);
	b.patches[0].text = "patch texT";
	kernel_spec_key(&b);
	cr_assert_str_neq(a.key, b.key, "patch text not in the key");
	fill(&b);
	strcpy(b.patches[0].path, "/elsewhere/0002-fix.patch");
	kernel_spec_key(&b);
	cr_assert_str_neq(a.key, b.key, "patch name not in the key");
	fill(&b);
	strcpy(b.patches[0].path, "/elsewhere/0001-fix.patch");
	kernel_spec_key(&b);
	cr_assert_str_eq(a.key, b.key, "the patch's directory must not matter");
	fill(&b);
	b.variant_config_text = "CONFIG_HZ_50=y\n";
	kernel_spec_key(&b);
	cr_assert_str_neq(a.key, b.key, "variant config not in the key");
	fill(&b);
	b.source_version[0] = '\0';
	kernel_spec_key(&b);
	cr_assert_str_eq(b.key, "", "no source version, no key");
}

Test(kernel_spec, unknown_config_is_an_error, .init = setup, .fini = teardown)
{
	struct kernel_spec s;

	cr_assert_eq(kernel_spec_resolve(&s, "nonexistent", "generic", source, true), -ENOENT);
	cr_assert_eq(kernel_spec_resolve(&s, "bad name", "generic", source, true), -EINVAL);
	cr_assert_eq(kernel_spec_resolve(&s, "/no/such/file.config", "generic", source, true),
		     -ENOENT);
}

Test(kernel_spec, unknown_variant_is_an_error, .init = setup, .fini = teardown)
{
	struct kernel_spec s;

	cr_assert_eq(kernel_spec_resolve(&s, "tiny", "nosuch", source, true), -ENOENT);
	cr_assert_eq(kernel_spec_resolve(&s, "tiny", "../good", source, true), -ENOENT);
}

Test(kernel_spec, missing_source, .init = setup, .fini = teardown)
{
	struct kernel_spec s;

	cr_assert_eq(kernel_spec_resolve(&s, "tiny", "generic", "/no/such.tar.xz", true), -ENOENT);
	cr_assert_eq(kernel_spec_resolve(&s, "tiny", "generic", "/no/such.tar.xz", false), 0);
	cr_assert_str_eq(s.key, "");
	kernel_spec_free(&s);
}

Test(kernel_spec, reads_a_variants_patches_in_order, .init = setup, .fini = teardown)
{
	struct kernel_spec s;

	cr_assert_eq(kernel_spec_resolve(&s, "tiny", "good", source, true), 0);
	cr_assert_eq(s.npatches, 2);
	cr_assert(strstr(s.patches[0].path, "0001-first.patch"));
	cr_assert(strstr(s.patches[1].path, "0002-second.patch"));
	cr_assert_eq(strlen(s.key), KERNEL_KEY_LEN);
	cr_assert_str_eq(s.config, "tiny");
	kernel_spec_free(&s);
	cr_assert_eq(kernel_spec_resolve(&s, "tiny", "generic", source, true), 0);
	cr_assert_eq(s.npatches, 0);
	kernel_spec_free(&s);
}

Test(kernel_build, builds_into_the_cache_then_returns_it_at_once, .init = setup, .fini = teardown)
{
	struct kernel_build_opts o = { .jobs = 2 };
	struct kernel_entry e, again, *list;
	struct kernel_spec s;
	char path[PATH_MAX];
	struct stat st1, st2;
	struct timespec t0, t1;

	cr_assert_eq(kernel_spec_resolve(&s, "tiny", "good", source, true), 0);
	cr_assert_eq(kernel_find(&s, &e), -ENOENT);
	cr_assert_eq(kernel_build(&s, &o, &e), 0);
	cr_assert_str_eq(e.key, s.key);
	cr_assert_str_eq(e.config, "tiny");
	cr_assert_str_eq(e.variant, "good");
	cr_assert_eq(e.steps, 4); /* CC, CC, LD, BUILD */
	kernel_entry_path(&e, "vmlinux", path, sizeof(path));
	cr_assert_eq(stat(path, &st1), 0);
	kernel_entry_path(&e, "config", path, sizeof(path));
	cr_assert(path_exists(path));
	kernel_entry_path(&e, "bzImage", path, sizeof(path));
	cr_assert(path_exists(path));
	cr_assert_eq(count_dirs(), 1, "work directories left behind");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(kernel_build(&s, &o, &again), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_lt(t1.tv_sec - t0.tv_sec, 1);
	kernel_entry_path(&again, "vmlinux", path, sizeof(path));
	cr_assert_eq(stat(path, &st2), 0);
	cr_assert_eq(st1.st_ino, st2.st_ino, "a cached kernel was rebuilt");
	cr_assert_eq(kernel_entry_list(&list), 1);
	cr_assert_str_eq(list[0].key, s.key);
	free(list);
	kernel_spec_free(&s);
}

Test(kernel_build, merged_config_is_checked_against_the_fragment, .init = setup, .fini = teardown)
{
	struct kernel_build_opts o = { .jobs = 1 };
	struct kernel_entry e;
	struct kernel_spec s;
	char path[PATH_MAX], *config;

	cr_assert_eq(kernel_spec_resolve(&s, "tiny", "generic", source, true), 0);
	cr_assert_eq(kernel_build(&s, &o, &e), 0);
	kernel_entry_path(&e, "config", path, sizeof(path));
	cr_assert_eq(read_file(path, 1 << 20, &config, NULL), 0);
	cr_assert(strstr(config, "CONFIG_SMP=y\n"), "fragment not merged: %s", config);
	cr_assert(strstr(config, "CONFIG_FROM_TINY=y\n"), "base config lost: %s", config);
	free(config);
	kernel_spec_free(&s);

	cr_assert_eq(kernel_spec_resolve(&s, "drops", "generic", source, true), 0);
	cr_assert_eq(kernel_build(&s, &o, &e), -EINVAL);
	cr_assert_eq(count_dirs(), 1, "a failed build left something behind");
	kernel_spec_free(&s);
}

Test(kernel_build, a_variants_config_is_merged_after_the_config, .init = setup, .fini = teardown)
{
	struct kernel_build_opts o = { .jobs = 1 };
	struct kernel_entry e;
	struct kernel_spec s, plain;
	char path[PATH_MAX], *config;

	cr_assert_eq(kernel_spec_resolve(&s, "tiny", "tuned", source, true), 0);
	cr_assert(strstr(s.variant_config_path, "tuned/variant.config"));
	cr_assert_eq(s.npatches, 0);
	cr_assert_eq(kernel_spec_resolve(&plain, "tiny", "good", source, true), 0);
	cr_assert_null(plain.variant_config_text, "a variant without one has none");
	kernel_spec_free(&plain);
	/* tiny.config sets CONFIG_SMP=y; the variant's "not set" wins and passes the check. */
	cr_assert_eq(kernel_build(&s, &o, &e), 0);
	kernel_entry_path(&e, "config", path, sizeof(path));
	cr_assert_eq(read_file(path, 1 << 20, &config, NULL), 0);
	cr_assert(strstr(config, "# CONFIG_SMP is not set\n"), "variant not merged: %s", config);
	cr_assert(!strstr(config, "CONFIG_SMP=y"), "%s", config);
	cr_assert(strstr(config, "CONFIG_64BIT=y\n"), "config lost: %s", config);
	free(config);
	kernel_spec_free(&s);
}

Test(kernel_build, failed_build_leaves_no_entry, .init = setup, .fini = teardown)
{
	struct kernel_build_opts o = { .jobs = 1 };
	struct kernel_entry e;
	struct kernel_spec s;
	char log[PATH_MAX];

	cr_assert_eq(kernel_spec_resolve(&s, "fails", "generic", source, true), 0);
	cr_assert_eq(kernel_build(&s, &o, &e), -EIO);
	cr_assert_eq(count_dirs(), 0);
	cr_assert_eq(kernel_find(&s, &e), -ENOENT);
	path_fmt(log, sizeof(log), "%s/volt/kernels/last-failed-build.log", cache_dir);
	cr_assert(path_exists(log));
	kernel_spec_free(&s);
}

Test(kernel_build, corrupt_source_leaves_no_entry, .init = setup, .fini = teardown)
{
	struct kernel_build_opts o = { .jobs = 1 };
	struct kernel_entry e;
	struct kernel_spec s;

	test_write(tmp, "corrupt.tar.xz", "this is not a tarball");
	path_fmt(source, sizeof(source), "%s/corrupt.tar.xz", tmp);
	cr_assert_eq(kernel_spec_resolve(&s, "tiny", "generic", source, true), 0);
	cr_assert_eq(kernel_build(&s, &o, &e), -EIO);
	cr_assert_eq(count_dirs(), 0);
	kernel_spec_free(&s);
}

Test(kernel_build, patch_that_does_not_apply_fails, .init = setup, .fini = teardown)
{
	struct kernel_build_opts o = { .jobs = 1 };
	struct kernel_entry e;
	struct kernel_spec s;

	cr_assert_eq(kernel_spec_resolve(&s, "tiny", "broken", source, true), 0);
	cr_assert_eq(kernel_build(&s, &o, &e), -EIO);
	cr_assert_eq(count_dirs(), 0);
	kernel_spec_free(&s);
}

Test(guest_kit_cmdline, appends_kvm_clock_and_on_pvm_hosts_the_boot_cuts)
{
	char c[512] = "console=ttyS0 quiet";

	cr_assert_eq(guest_kit_cmdline_append(c, sizeof(c), false), 0);
	cr_assert_str_eq(c, "console=ttyS0 quiet clocksource=kvm-clock");
	strcpy(c, "console=ttyS0 quiet");
	cr_assert_eq(guest_kit_cmdline_append(c, sizeof(c), true), 0);
	cr_assert_str_eq(c, "console=ttyS0 quiet clocksource=kvm-clock " GUEST_KIT_PVM_CMDLINE);
}

Test(guest_kit_cmdline, a_parameter_the_command_line_sets_is_left_as_it_is)
{
	char c[512] = "clocksource=tsc rcupdate.rcu_cpu_stall_suppress=0  noreplace-smp-x=1 "
		      "percpu_alloc";

	cr_assert_eq(guest_kit_cmdline_append(c, sizeof(c), true), 0);
	/* A longer name that merely starts like one is another parameter. */
	cr_assert_str_eq(c, "clocksource=tsc rcupdate.rcu_cpu_stall_suppress=0  noreplace-smp-x=1 "
			    "percpu_alloc noreplace-smp rodata=off");
}

Test(guest_kit_cmdline, too_long_is_an_error)
{
	char c[24] = "console=ttyS0";

	cr_assert_eq(guest_kit_cmdline_append(c, sizeof(c), false), -E2BIG);
	cr_assert_str_eq(c, "console=ttyS0");
	strcpy(c, "");
	cr_assert_eq(guest_kit_cmdline_append(c, sizeof(c), false), 0);
	cr_assert_str_eq(c, "clocksource=kvm-clock");
}

/* A damaged entry is never used, says why, and the next build replaces it
 * (its rename would otherwise fail for ever); a FIFO in vmlinux's place is
 * never opened. Work directories of dead builds of any key go. */
Test(kernel_build, a_damaged_entry_is_named_and_rebuilt, .init = setup, .fini = teardown)
{
	struct kernel_build_opts o = { .jobs = 2 };
	struct kernel_entry e;
	struct kernel_spec s;
	char vmlinux[PATH_MAX], meta[PATH_MAX], stale[PATH_MAX];
	struct stat st;

	cr_assert_eq(kernel_spec_resolve(&s, "tiny", "good", source, true), 0);
	cr_assert_eq(kernel_build(&s, &o, &e), 0);
	kernel_entry_path(&e, "vmlinux", vmlinux, sizeof(vmlinux));
	kernel_entry_path(&e, "volt-kernel.meta", meta, sizeof(meta));
	cr_assert_eq(stat(vmlinux, &st), 0);

	/* Cut: the size the meta recorded. */
	cr_assert_eq(truncate(vmlinux, st.st_size - 1), 0);
	cr_assert_eq(kernel_find(&s, &e), -EUCLEAN);
	cr_assert(strstr(e.damage, "built as"), "%s", e.damage);
	/* Not an ELF file, a FIFO, gone. */
	test_write(e.dir, "vmlinux", "garbage");
	cr_assert_eq(kernel_find(&s, &e), -EUCLEAN);
	cr_assert(strstr(e.damage, "vmlinux"), "%s", e.damage);
	cr_assert_eq(unlink(vmlinux), 0);
	cr_assert_eq(mkfifo(vmlinux, 0644), 0);
	cr_assert_eq(kernel_find(&s, &e), -EUCLEAN);
	cr_assert_str_eq(e.damage, "vmlinux is not a regular file");
	cr_assert_eq(unlink(vmlinux), 0);
	cr_assert_eq(kernel_find(&s, &e), -EUCLEAN);
	cr_assert_eq(kernel_entry_list(&(struct kernel_entry *){ NULL }), 0, "listed");

	/* A dead build's work directory of another key, and a symlink planted
	 * in the lock file's place (taken away, its target untouched). */
	path_fmt(stale, sizeof(stale), "%s/volt/kernels/.build-0123456789abcdef-999999999/src",
		 cache_dir);
	cr_assert_eq(mkdir_p(stale, 0755), 0);
	path_fmt(stale, sizeof(stale), "%s/volt/kernels/.lock-%s", cache_dir, s.key);
	unlink(stale);
	cr_assert_eq(symlink("/nonexistent/lock-target", stale), 0);
	cr_assert_eq(kernel_build(&s, &o, &e), 0, "the damaged entry is replaced");
	cr_assert_eq(lstat(stale, &st), 0);
	cr_assert(S_ISREG(st.st_mode), "the lock is a file of volt's again");
	cr_assert(!path_exists("/nonexistent/lock-target"));
	cr_assert_eq(kernel_find(&s, &e), 0);
	cr_assert_eq(count_dirs(), 1, "work directories left behind");

	/* A meta for another key. */
	test_write(e.dir, "volt-kernel.meta", "key=0123456789abcdef\nconfig=tiny\nvariant=good\n");
	cr_assert_eq(kernel_find(&s, &e), -EUCLEAN);
	cr_assert(strstr(e.damage, "0123456789abcdef"), "%s", e.damage);
	kernel_spec_free(&s);
}

/* The step count a build leaves for the next one's progress goes in by a
 * rename: a FIFO or a symlink at its name is replaced, never opened. */
Test(kernel_build, the_step_file_is_never_opened_in_place, .init = setup, .fini = teardown,
     .timeout = 60)
{
	struct kernel_build_opts o = { .jobs = 2 };
	char kdir[PATH_MAX], steps[PATH_MAX], target[PATH_MAX];
	struct kernel_entry e;
	struct kernel_spec s;
	struct stat st;

	path_fmt(kdir, sizeof(kdir), "%s/volt/kernels", cache_dir);
	path_fmt(steps, sizeof(steps), "%s/.steps", kdir);
	path_fmt(target, sizeof(target), "%s/precious", tmp);
	cr_assert_eq(mkdir_p(kdir, 0755), 0);
	cr_assert_eq(mkfifo(steps, 0644), 0);
	cr_assert_eq(kernel_spec_resolve(&s, "tiny", "good", source, true), 0);
	cr_assert_eq(kernel_build(&s, &o, &e), 0);
	cr_assert_eq(lstat(steps, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	test_write(tmp, "precious", "keep");
	cr_assert_eq(unlink(steps), 0);
	cr_assert_eq(symlink(target, steps), 0);
	o.force = true;
	cr_assert_eq(kernel_build(&s, &o, &e), 0);
	cr_assert_eq(lstat(steps, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	{
		char *text = NULL;

		cr_assert_eq(read_file(target, 64, &text, NULL), 0);
		cr_assert_str_eq(text, "keep");
		free(text);
	}
	kernel_spec_free(&s);
}
