/* `volt jailer`: Firecracker's jailer's flags parsed and checked with
 * Firecracker's messages (src/jailer in Firecracker: arg_parser, Env::new,
 * cgroup.rs, resource_limits.rs), and their translation into volt's jail. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/jailer.h"
#include "util/rust_err.h"

static char why[PATH_MAX + 256];
static char dir[] = "/tmp/volt-jailer-test-XXXXXX";
static char exe[PATH_MAX], link_fc[PATH_MAX], base[PATH_MAX], mounts[PATH_MAX], mounts_v1[PATH_MAX],
	mounts_none[PATH_MAX], v2[PATH_MAX];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

/* An exec file, a symlink to it named firecracker, a chroot base and fake
 * /proc/mounts: a v2 hierarchy offering memory and pids, a v1 one with cpu
 * and cpuset, or none. */
static void setup(void)
{
	char text[PATH_MAX * 2];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(exe, sizeof(exe), "%s/volt", dir);
	write_file(exe, "#!\n");
	chmod(exe, 0755);
	snprintf(link_fc, sizeof(link_fc), "%s/firecracker", dir);
	cr_assert_eq(symlink(exe, link_fc), 0);
	snprintf(base, sizeof(base), "%s/base", dir);
	cr_assert_eq(mkdir(base, 0755), 0);
	snprintf(v2, sizeof(v2), "%s/cg2", dir);
	cr_assert_eq(mkdir(v2, 0755), 0);
	snprintf(text, sizeof(text), "%s/cgroup.controllers", v2);
	write_file(text, "cpuset cpu io memory pids\n");
	snprintf(mounts, sizeof(mounts), "%s/mounts", dir);
	snprintf(text, sizeof(text),
		 "proc /proc proc rw 0 0\ncgroup2 %s cgroup2 rw,nosuid,nodev 0 0\n", v2);
	write_file(mounts, text);
	snprintf(mounts_v1, sizeof(mounts_v1), "%s/mounts-v1", dir);
	write_file(mounts_v1, "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0\n"
			      "cgroup /sys/fs/cgroup/cpuset cgroup rw,cpuset 0 0\n");
	snprintf(mounts_none, sizeof(mounts_none), "%s/mounts-none", dir);
	write_file(mounts_none, "proc /proc proc rw 0 0\n");
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(jailer, .init = setup, .fini = teardown);

#define ARGV(...) ((char *[]){ "jailer", __VA_ARGS__, NULL })
static int ARGC(char **v)
{
	int n = 0;

	while (v[n])
		n++;
	return n;
}

static int parse(int argc, char **argv, struct jailer_args *a)
{
	why[0] = '\0';
	return jailer_parse_args(argc, argv, a, why, sizeof(why));
}

Test(jailer, every_flag)
{
	char **v = ARGV("--id", "vm-1", "--exec-file", "/x/firecracker", "--uid", "123", "--gid",
			"456", "--chroot-base-dir", "/b", "--netns", "/var/run/netns/n",
			"--daemonize", "--new-pid-ns", "--cgroup", "cpu.max=1000 10000", "--cgroup",
			"memory.max=1G", "--cgroup-version", "2", "--parent-cgroup", "fc/vms",
			"--resource-limit", "fsize=100", "--resource-limit", "no-file=64", "--",
			"--api-sock", "/run/fc.sock", "--level", "Debug");
	struct jailer_args a;

	cr_assert_eq(parse(ARGC(v), v, &a), 0, "%s", why);
	cr_assert_str_eq(a.id, "vm-1");
	cr_assert_str_eq(a.exec_file, "/x/firecracker");
	cr_assert_str_eq(a.uid, "123");
	cr_assert_str_eq(a.gid, "456");
	cr_assert_str_eq(a.chroot_base_dir, "/b");
	cr_assert_str_eq(a.netns, "/var/run/netns/n");
	cr_assert(a.daemonize && a.new_pid_ns);
	cr_assert_eq(a.ncgroups, 2);
	cr_assert_str_eq(a.cgroups[0], "cpu.max=1000 10000");
	cr_assert_str_eq(a.cgroups[1], "memory.max=1G");
	cr_assert_str_eq(a.cgroup_version, "2");
	cr_assert_str_eq(a.parent_cgroup, "fc/vms");
	cr_assert_eq(a.nrlimits, 2);
	cr_assert_str_eq(a.rlimits[1], "no-file=64");
	cr_assert_eq(a.nextra, 4);
	cr_assert_str_eq(a.extra[0], "--api-sock");
	cr_assert_str_eq(a.extra[3], "Debug");
	cr_assert(!a.help && !a.version);
}

Test(jailer, defaults)
{
	char **v = ARGV("--id", "a", "--exec-file", "f", "--uid", "1", "--gid", "2");
	struct jailer_args a;

	cr_assert_eq(parse(ARGC(v), v, &a), 0, "%s", why);
	cr_assert_str_eq(a.chroot_base_dir, "/srv/jailer");
	cr_assert_str_eq(a.cgroup_version, "1");
	cr_assert_null(a.parent_cgroup);
	cr_assert_null(a.netns);
	cr_assert(!a.daemonize && !a.new_pid_ns);
	cr_assert_eq(a.nextra, 0);
}

Test(jailer, missing_required_in_firecrackers_order)
{
	struct jailer_args a;
	char **none = ARGV("--daemonize");
	char **no_gid = ARGV("--id", "a", "--exec-file", "f", "--uid", "1");
	char **no_id = ARGV("--gid", "2", "--exec-file", "f", "--uid", "1");
	char **no_uid = ARGV("--gid", "2", "--exec-file", "f", "--id", "1");

	cr_assert_eq(parse(ARGC(none), none, &a), -EINVAL);
	cr_assert_str_eq(why, "Failed to parse arguments: Argument 'exec-file' required, but not "
			      "found.");
	cr_assert_eq(parse(ARGC(no_gid), no_gid, &a), -EINVAL);
	cr_assert_str_eq(why, "Failed to parse arguments: Argument 'gid' required, but not found.");
	cr_assert_eq(parse(ARGC(no_id), no_id, &a), -EINVAL);
	cr_assert_str_eq(why, "Failed to parse arguments: Argument 'id' required, but not found.");
	cr_assert_eq(parse(ARGC(no_uid), no_uid, &a), -EINVAL);
	cr_assert_str_eq(why, "Failed to parse arguments: Argument 'uid' required, but not found.");
}

Test(jailer, bad_flags)
{
	struct jailer_args a;
	char **dup = ARGV("--id", "a", "--id", "b");
	char **noval = ARGV("--id", "--uid", "1");
	char **noval_end = ARGV("--exec-file", "f", "--id");
	char **unknown = ARGV("--id", "a", "--chroot-base", "/x");
	char **positional = ARGV("--id", "a", "stray");
	char **eq = ARGV("--id=a");

	cr_assert_eq(parse(ARGC(dup), dup, &a), -EINVAL);
	cr_assert_str_eq(why, "Failed to parse arguments: The argument 'id' was provided more than "
			      "once.");
	cr_assert_eq(parse(ARGC(noval), noval, &a), -EINVAL);
	cr_assert_str_eq(why, "Failed to parse arguments: The argument 'id' requires a value, but "
			      "none was supplied.");
	cr_assert_eq(parse(ARGC(noval_end), noval_end, &a), -EINVAL);
	cr_assert_str_eq(why, "Failed to parse arguments: The argument 'id' requires a value, but "
			      "none was supplied.");
	cr_assert_eq(parse(ARGC(unknown), unknown, &a), -EINVAL);
	cr_assert_str_eq(why, "Failed to parse arguments: Found argument 'chroot-base' which "
			      "wasn't expected, or isn't valid in this context.");
	cr_assert_eq(parse(ARGC(positional), positional, &a), -EINVAL);
	cr_assert_str_eq(why, "Failed to parse arguments: Found argument 'stray' which wasn't "
			      "expected, or isn't valid in this context.");
	cr_assert_eq(parse(ARGC(eq), eq, &a), -EINVAL);
	cr_assert(strstr(why, "'id=a'"), "%s", why);
}

Test(jailer, help_and_version_win)
{
	struct jailer_args a;
	char **h = ARGV("--bogus", "-h");
	char **help = ARGV("--id", "a", "--help");
	char **ver = ARGV("--nope", "--version");
	char **after = ARGV("--id", "a", "--", "--version");

	cr_assert_eq(parse(ARGC(h), h, &a), 0);
	cr_assert(a.help);
	cr_assert_eq(parse(ARGC(help), help, &a), 0);
	cr_assert(a.help);
	cr_assert_eq(parse(ARGC(ver), ver, &a), 0);
	cr_assert(a.version && !a.help);
	/* After "--" it is the VMM's. */
	cr_assert_eq(parse(ARGC(after), after, &a), -EINVAL);
	cr_assert(!a.version);
}

Test(jailer, ids)
{
	char long_id[66];

	cr_assert_eq(jailer_id_check("bd65600d-8669-4903-8a14-af88203add38", why, sizeof(why)), 0);
	cr_assert_eq(jailer_id_check("", why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "Invalid instance ID: Invalid len (0);  the length must be between 1 "
			      "and 64");
	cr_assert_eq(jailer_id_check("12_3aa", why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "Invalid instance ID: Invalid char (_) at position 2");
	cr_assert_eq(jailer_id_check("a/b", why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "Invalid instance ID: Invalid char (/) at position 1");
	cr_assert_eq(jailer_id_check("..", why, sizeof(why)), -EINVAL);
	memset(long_id, 'a', 64);
	long_id[64] = '\0';
	cr_assert_eq(jailer_id_check(long_id, why, sizeof(why)), 0);
	long_id[64] = 'a';
	long_id[65] = '\0';
	cr_assert_eq(jailer_id_check(long_id, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "Invalid instance ID: Invalid len (65);  the length must be between "
			      "1 and 64");
}

Test(jailer, rust_integers)
{
	unsigned long long v;

	cr_assert_eq(jailer_parse_uint("42", 255, &v, why, sizeof(why)), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(jailer_parse_uint("+7", 255, &v, why, sizeof(why)), 0);
	cr_assert_eq(v, 7);
	cr_assert_eq(jailer_parse_uint("", 255, &v, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "cannot parse integer from empty string");
	cr_assert_eq(jailer_parse_uint("-1", 255, &v, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "invalid digit found in string");
	cr_assert_eq(jailer_parse_uint("256", 255, &v, why, sizeof(why)), -ERANGE);
	cr_assert_str_eq(why, "number too large to fit in target type");
	cr_assert_eq(jailer_parse_uint("18446744073709551615", ~0ULL, &v, why, sizeof(why)), 0);
	cr_assert_eq(v, ~0ULL);
	cr_assert_eq(jailer_parse_uint("18446744073709551616", ~0ULL, &v, why, sizeof(why)),
		     -ERANGE);
}

/* Parses argv (with the required flags in front) and checks it. */
static int check(struct jailer_env *e, const char *mnt, int n, char **extra)
{
	char *argv[64] = { "jailer", "--id",  "vm-7", "--exec-file",	   link_fc, "--uid",
			   "1000",   "--gid", "1001", "--chroot-base-dir", base };
	struct jailer_args a;
	int argc = 11, i, err;

	for (i = 0; i < n; i++)
		argv[argc++] = extra[i];
	err = parse(argc, argv, &a);
	cr_assert_eq(err, 0, "%s", why);
	why[0] = '\0';
	return jailer_check(&a, mnt, e, why, sizeof(why));
}

#define CHECK(e, mnt, ...)                                                       \
	check(e, mnt, (int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)), \
	      (char *[]){ __VA_ARGS__ })

Test(jailer, translation)
{
	struct jailer_env e;
	char want[PATH_MAX * 2];

	cr_assert_eq(CHECK(&e, mounts, "--netns", "/run/netns/x", "--daemonize", "--new-pid-ns",
			   "--cgroup-version", "2", "--cgroup", "memory.max=256M", "--cgroup",
			   "cpu.max=50000 100000", "--resource-limit", "fsize=1048576", "--",
			   "--api-sock", "/run/firecracker.socket"),
		     0, "%s", why);
	/* The exec file's name as given (the symlink's): where orchestrators look. */
	cr_assert_str_eq(e.exec_name, "firecracker");
	cr_assert_str_eq(e.exec_path, exe);
	snprintf(want, sizeof(want), "%s/firecracker/vm-7/root", base);
	cr_assert_str_eq(e.chroot_dir, want);
	cr_assert_str_eq(e.o.id, "vm-7");
	cr_assert_eq(e.o.uid, 1000);
	cr_assert_eq(e.o.gid, 1001);
	cr_assert_str_eq(e.o.base, base);
	cr_assert_str_eq(e.o.netns, "/run/netns/x");
	cr_assert(e.o.daemonize && e.o.new_pid_ns && e.o.fc && e.o.allow_root);
	cr_assert_str_eq(e.o.exec_name, "firecracker");
	cr_assert_str_eq(e.o.exec_src, exe);
	/* The parent cgroup defaults to the exec file's name. */
	cr_assert_str_eq(e.o.parent, "firecracker");
	cr_assert_eq(e.o.cgroup_version, 2);
	cr_assert_eq(e.o.ncgroups, 2);
	cr_assert_str_eq(e.o.cgroups[0].file, "memory.max");
	cr_assert_str_eq(e.o.cgroups[0].controller, "memory");
	cr_assert_str_eq(e.o.cgroups[1].value, "50000 100000");
	cr_assert(!e.move_to_parent);
	/* fsize as given, no-file at Firecracker's default. */
	cr_assert_eq(e.o.nrlimits, 2);
	cr_assert_eq(e.o.rl_res[0], RLIMIT_FSIZE);
	cr_assert_eq(e.o.rl_val[0], 1048576);
	cr_assert_eq(e.o.rl_res[1], RLIMIT_NOFILE);
	cr_assert_eq(e.o.rl_val[1], 2048);
}

Test(jailer, plain_and_root_ids)
{
	struct jailer_env e;
	char *argv[] = { "jailer",     "--id",
			 "x",	       "--exec-file",
			 exe,	       "--uid",
			 "0",	       "--gid",
			 "0",	       "--chroot-base-dir",
			 base,	       "--parent-cgroup",
			 "a/./b//c",   "--resource-limit",
			 "no-file=10", NULL };
	struct jailer_args a;

	cr_assert_eq(parse(ARGC(argv), argv, &a), 0);
	cr_assert_eq(jailer_check(&a, mounts, &e, why, sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(e.exec_name, "volt");
	cr_assert_eq(e.o.uid, 0);
	cr_assert(e.o.allow_root);
	cr_assert_str_eq(e.parent, "a/b/c");
	/* cgroup v1 (the default) without --cgroup: nothing to do, no hierarchy needed. */
	cr_assert_eq(e.o.ncgroups, 0);
	cr_assert(!e.move_to_parent);
	cr_assert_eq(e.o.nrlimits, 1);
	cr_assert_eq(e.o.rl_val[0], 10);
}

Test(jailer, v2_without_cgroups_joins_the_parent)
{
	struct jailer_env e;

	cr_assert_eq(CHECK(&e, mounts, "--cgroup-version", "2", "--parent-cgroup", "fc"), 0, "%s",
		     why);
	cr_assert(e.move_to_parent);
	cr_assert_str_eq(e.parent, "fc");
	cr_assert_eq(CHECK(&e, mounts_none, "--cgroup-version", "2"), -ENOENT);
	cr_assert_str_eq(why, "Hierarchy not found: No hierarchy found for this cgroup version.");
}

Test(jailer, refusals)
{
	struct jailer_env e;
	char want[PATH_MAX * 2];
	struct jailer_args a;
	char *bad_id[] = { "jailer", "--id", "a_b",   "--exec-file", "/nonexistent",
			   "--uid",  "x",    "--gid", "y",	     NULL };
	char *no_exec[] = { "jailer", "--id", "a",     "--exec-file", "/nonexistent/fc",
			    "--uid",  "1",    "--gid", "1",	      NULL };
	char *dir_exec[] = { "jailer", "--id", "a",	"--exec-file", dir,
			     "--uid",  "1",    "--gid", "1",	       NULL };
	char *no_base[] = { "jailer",
			    "--id",
			    "a",
			    "--exec-file",
			    exe,
			    "--uid",
			    "1",
			    "--gid",
			    "1",
			    "--chroot-base-dir",
			    "/nonexistent-base",
			    NULL };
	char *file_base[] = { "jailer", "--id",	 "a", "--exec-file",	   exe, "--uid",
			      "1",	"--gid", "1", "--chroot-base-dir", exe, NULL };
	char *bad_uid[] = { "jailer", "--id",  "a", "--exec-file",	 exe,  "--uid",
			    "-1",     "--gid", "1", "--chroot-base-dir", base, NULL };
	char *big_gid[] = { "jailer", "--id",  "a",	     "--exec-file",	  exe,	"--uid",
			    "1",      "--gid", "4294967296", "--chroot-base-dir", base, NULL };

	/* Env::new's order: the id first. */
	cr_assert_eq(parse(ARGC(bad_id), bad_id, &a), 0);
	cr_assert_eq(jailer_check(&a, mounts, &e, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "Invalid instance ID: Invalid char (_) at position 1");
	cr_assert_eq(parse(ARGC(no_exec), no_exec, &a), 0);
	cr_assert_eq(jailer_check(&a, mounts, &e, why, sizeof(why)), -ENOENT);
	cr_assert_str_eq(why, "Failed to canonicalize path /nonexistent/fc: No such file or "
			      "directory (os error 2)");
	cr_assert_eq(parse(ARGC(dir_exec), dir_exec, &a), 0);
	cr_assert_eq(jailer_check(&a, mounts, &e, why, sizeof(why)), -EINVAL);
	snprintf(want, sizeof(want), "%s is not a file", dir);
	cr_assert_str_eq(why, want);
	cr_assert_eq(parse(ARGC(no_base), no_base, &a), 0);
	cr_assert_eq(jailer_check(&a, mounts, &e, why, sizeof(why)), -ENOENT);
	cr_assert_str_eq(why, "Failed to canonicalize path /nonexistent-base: No such file or "
			      "directory (os error 2)");
	cr_assert_eq(parse(ARGC(file_base), file_base, &a), 0);
	cr_assert_eq(jailer_check(&a, mounts, &e, why, sizeof(why)), -ENOTDIR);
	snprintf(want, sizeof(want), "%s is not a directory", exe);
	cr_assert_str_eq(why, want);
	cr_assert_eq(parse(ARGC(bad_uid), bad_uid, &a), 0);
	cr_assert_eq(jailer_check(&a, mounts, &e, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "Invalid uid: -1");
	cr_assert_eq(parse(ARGC(big_gid), big_gid, &a), 0);
	cr_assert_eq(jailer_check(&a, mounts, &e, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "Invalid gid: 4294967296");

	cr_assert_eq(CHECK(&e, mounts, "--parent-cgroup", "/abs"), -EINVAL);
	cr_assert_str_eq(why, "Parent cgroup path is invalid. Path should not be absolute or "
			      "contain '..' or '.'");
	cr_assert_eq(CHECK(&e, mounts, "--parent-cgroup", "a/../b"), -EINVAL);
	cr_assert_eq(CHECK(&e, mounts, "--parent-cgroup", "./a"), -EINVAL);
	cr_assert_eq(CHECK(&e, mounts, "--cgroup-version", "x"), -EINVAL);
	cr_assert_str_eq(why, "x is an invalid cgroup version specifier");
	cr_assert_eq(CHECK(&e, mounts, "--cgroup-version", "3", "--cgroup", "cpu.max=1"), -ENOENT);
}

Test(jailer, cgroup_refusals)
{
	struct jailer_env e;

	cr_assert_eq(CHECK(&e, mounts, "--cgroup-version", "2", "--cgroup", "memory.max"), -EINVAL);
	cr_assert_str_eq(why, "Invalid format for cgroups: memory.max");
	cr_assert_eq(CHECK(&e, mounts, "--cgroup-version", "2", "--cgroup", "memory.max="),
		     -EINVAL);
	cr_assert_str_eq(why, "Invalid format for cgroups: memory.max=");
	cr_assert_eq(CHECK(&e, mounts, "--cgroup-version", "2", "--cgroup", "a=b=c"), -EINVAL);
	cr_assert_str_eq(why, "Invalid format for cgroups: a=b=c");
	cr_assert_eq(CHECK(&e, mounts, "--cgroup-version", "2", "--cgroup", "../memory.max=1"),
		     -EINVAL);
	cr_assert_str_eq(why, "Cgroup invalid file: ../memory.max=1");
	cr_assert_eq(CHECK(&e, mounts, "--cgroup-version", "2", "--cgroup", "memory=1"), -EINVAL);
	cr_assert_str_eq(why, "Cgroup invalid file: memory");
	cr_assert_eq(CHECK(&e, mounts, "--cgroup-version", "2", "--cgroup", "hugetlb.max=1"),
		     -ENOENT);
	cr_assert_str_eq(why, "Controller hugetlb is unavailable");
	/* The default version, 1, on a host without v1 hierarchies. */
	cr_assert_eq(CHECK(&e, mounts, "--cgroup", "cpu.shares=10"), -ENOENT);
	cr_assert_str_eq(why, "Hierarchy not found: No hierarchy found for this cgroup version.");
	/* v1: per controller. */
	cr_assert_eq(CHECK(&e, mounts_v1, "--cgroup", "cpu.shares=10", "--cgroup", "cpuset.mems=0"),
		     0, "%s", why);
	cr_assert_eq(e.o.cgroup_version, 1);
	cr_assert_eq(e.o.ncgroups, 2);
	cr_assert_eq(CHECK(&e, mounts_v1, "--cgroup", "memory.limit_in_bytes=1"), -ENOENT);
	cr_assert_str_eq(why, "Controller memory is unavailable");
}

Test(jailer, resource_limits)
{
	struct jailer_env e;

	cr_assert_eq(CHECK(&e, mounts, "--resource-limit", "no-file"), -EINVAL);
	cr_assert_str_eq(why, "Invalid format for resources limits: no-file");
	cr_assert_eq(CHECK(&e, mounts, "--resource-limit", "no-file=x"), -EINVAL);
	cr_assert_str_eq(why, "Invalid limit value for resource: x: invalid digit found in string");
	cr_assert_eq(CHECK(&e, mounts, "--resource-limit", "nproc=1"), -EINVAL);
	cr_assert_str_eq(why, "Invalid resource argument: nproc");
	cr_assert_eq(CHECK(&e, mounts, "--resource-limit", "fsize=", "--resource-limit", "x=1"),
		     -EINVAL);
	cr_assert_str_eq(why, "Invalid limit value for resource: : cannot parse integer from empty "
			      "string");
}

Test(jailer, cgroup_mounts)
{
	char path[PATH_MAX];
	bool v1;

	cr_assert_eq(jailer_cgroup_mounts(mounts, path, sizeof(path), &v1), 0);
	cr_assert_str_eq(path, v2);
	cr_assert(!v1);
	cr_assert_eq(jailer_cgroup_mounts(mounts_v1, path, sizeof(path), &v1), 0);
	cr_assert_str_eq(path, "");
	cr_assert(v1);
	cr_assert_eq(jailer_cgroup_mounts("/nonexistent", path, sizeof(path), &v1), -ENOENT);
}

/* argv[0] picks the front end: a link named firecracker is the API front
 * end (one named jailer is `volt jailer`, which closes every descriptor
 * above 2 first: tested by test_jailer_fc.py, not in this process). */
Test(jailer, argv0_firecracker)
{
	struct timespec t = { 0 };
	char *fc_help[] = { "/opt/firecracker-v1.10.1-x86_64", "--help", NULL };
	char *fc_bad[] = { "firecracker", "--no-such-flag", NULL };
	char *fc_meta[] = { "firecracker", "--metadata", "/m.json", NULL };

	cr_assert_eq(cli_main(2, fc_help, &t), 0);
	/* Firecracker's ArgParsing exit code (cli/api_cmd.c). */
	cr_assert_eq(cli_main(2, fc_bad, &t), 153);
	cr_assert_eq(cli_main(3, fc_meta, &t), 1);
}

Test(jailer, os_errors_in_firecrackers_words)
{
	char buf[128];

	/* Firecracker's releases are musl builds: its words, whatever volt's libc. */
	cr_assert_str_eq(rust_io_error(EMFILE, buf, sizeof(buf)),
			 "No file descriptors available (os error 24)");
	cr_assert_str_eq(rust_io_error(ELOOP, buf, sizeof(buf)),
			 "Symbolic link loop (os error 40)");
	cr_assert_str_eq(rust_io_error(EBUSY, buf, sizeof(buf)), "Resource busy (os error 16)");
	cr_assert_str_eq(rust_io_error(ENOENT, buf, sizeof(buf)),
			 "No such file or directory (os error 2)");
	cr_assert_str_eq(rust_io_error(EEXIST, buf, sizeof(buf)), "File exists (os error 17)");
	cr_assert_str_eq(musl_strerror(EXDEV), "Cross-device link");
	/* The others whose words are not glibc's (musl's __strerror.h). */
	cr_assert_str_eq(musl_strerror(EOVERFLOW), "Value too large for data type");
	cr_assert_str_eq(musl_strerror(EDQUOT), "Quota exceeded");
	cr_assert_str_eq(musl_strerror(EINPROGRESS), "Operation in progress");
	cr_assert_str_eq(musl_strerror(EMSGSIZE), "Message too large");
	cr_assert_str_eq(musl_strerror(EOWNERDEAD), "Previous owner died");
	/* An error musl has no words for. */
	cr_assert_str_eq(musl_strerror(EUCLEAN), "No error information");
}
