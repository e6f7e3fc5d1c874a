/* The jailer's pure logic: id validation, rlimit and cgroup settings, and the
 * rewriting of `volt run` arguments to jail paths. */
#include <criterion/criterion.h>
#include <errno.h>

#include "sandbox/jail.h"

static char why[200];

Test(jail, ids)
{
	char long_id[JAIL_ID_MAX + 2];

	cr_assert_eq(jail_id_check("vm-1", why, sizeof(why)), 0);
	cr_assert_eq(jail_id_check("A", why, sizeof(why)), 0);
	cr_assert_eq(jail_id_check("", why, sizeof(why)), -EINVAL);
	cr_assert_eq(jail_id_check("a/b", why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "may hold only letters, digits and '-'");
	cr_assert_eq(jail_id_check("..", why, sizeof(why)), -EINVAL);
	cr_assert_eq(jail_id_check("a_b", why, sizeof(why)), -EINVAL);
	cr_assert_eq(jail_id_check("a b", why, sizeof(why)), -EINVAL);
	memset(long_id, 'x', JAIL_ID_MAX);
	long_id[JAIL_ID_MAX] = '\0';
	cr_assert_eq(jail_id_check(long_id, why, sizeof(why)), 0);
	long_id[JAIL_ID_MAX] = 'x';
	long_id[JAIL_ID_MAX + 1] = '\0';
	cr_assert_eq(jail_id_check(long_id, why, sizeof(why)), -EINVAL);
}

Test(jail, rlimits)
{
	rlim_t v;
	int r;

	cr_assert_eq(jail_rlimit_parse("fsize=1048576", &r, &v, why, sizeof(why)), 0);
	cr_assert_eq(r, RLIMIT_FSIZE);
	cr_assert_eq(v, 1048576);
	cr_assert_eq(jail_rlimit_parse("no-file=64", &r, &v, why, sizeof(why)), 0);
	cr_assert_eq(r, RLIMIT_NOFILE);
	cr_assert_eq(v, 64);
	cr_assert_eq(jail_rlimit_parse("core=unlimited", &r, &v, why, sizeof(why)), 0);
	cr_assert_eq(v, RLIM_INFINITY);
	cr_assert_eq(jail_rlimit_parse("fsize", &r, &v, why, sizeof(why)), -EINVAL);
	cr_assert_eq(jail_rlimit_parse("stack=1", &r, &v, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "unknown resource"));
	cr_assert_eq(jail_rlimit_parse("fsize=-1", &r, &v, why, sizeof(why)), -EINVAL);
	cr_assert_eq(jail_rlimit_parse("fsize=1k", &r, &v, why, sizeof(why)), -EINVAL);
	cr_assert_eq(jail_rlimit_parse("fsize=", &r, &v, why, sizeof(why)), -EINVAL);
}

Test(jail, cgroup_settings)
{
	struct jail_cgroup c;

	cr_assert_eq(jail_cgroup_parse("memory.max=256M", &c, why, sizeof(why)), 0);
	cr_assert_str_eq(c.controller, "memory");
	cr_assert_str_eq(c.file, "memory.max");
	cr_assert_str_eq(c.value, "256M");
	cr_assert_eq(jail_cgroup_parse("cpu.max=50000 100000", &c, why, sizeof(why)), 0);
	cr_assert_str_eq(c.value, "50000 100000");
	cr_assert_eq(jail_cgroup_parse("memory.limit_in_bytes=1", &c, why, sizeof(why)), 0);
	cr_assert_eq(jail_cgroup_parse("memory=1", &c, why, sizeof(why)), -EINVAL);
	cr_assert_eq(jail_cgroup_parse("../x.max=1", &c, why, sizeof(why)), -EINVAL);
	cr_assert_eq(jail_cgroup_parse("cgroup.procs/x=1", &c, why, sizeof(why)), -EINVAL);
	cr_assert_eq(jail_cgroup_parse("pids.max", &c, why, sizeof(why)), -EINVAL);
	cr_assert_eq(jail_cgroup_parse("pids.max=", &c, why, sizeof(why)), -EINVAL);
	cr_assert_eq(jail_cgroup_parse("pids.max=1\n2", &c, why, sizeof(why)), -EINVAL);
	cr_assert_eq(jail_cgroup_parse(".max=1", &c, why, sizeof(why)), -EINVAL);
}

static void assert_argv(const struct jail_plan *p, const char *const *want)
{
	int i;

	for (i = 0; want[i]; i++) {
		cr_assert_lt(i, p->argc, "argv ends early at %d", i);
		cr_assert_str_eq(p->argv[i], want[i], "argv[%d]", i);
	}
	cr_assert_eq(i, p->argc);
	cr_assert_null(p->argv[p->argc]);
}

Test(jail, plan_rewrites_paths)
{
	char *args[] = { "run",
			 "--kernel",
			 "/boot/vmlinux",
			 "--initrd=/img/initrd.cpio",
			 "--cmdline",
			 "--kernel x",
			 "--drive",
			 "path=/data/disk.img,id=root",
			 "--drive",
			 "id=b,path=/other/disk.img,ro",
			 "--vsock",
			 "cid=3,uds=/run/v.sock",
			 "--rng",
			 "--mem",
			 "256" };
	const char *want[] = { "run",
			       "--kernel",
			       "/vmlinux",
			       "--initrd",
			       "/initrd.cpio",
			       "--cmdline",
			       "--kernel x",
			       "--drive",
			       "path=/disk.img,id=root",
			       "--drive",
			       "id=b,path=/1-disk.img,ro",
			       "--vsock",
			       "cid=3,uds=/v.sock",
			       "--rng",
			       "--mem",
			       "256",
			       NULL };
	struct jail_plan p;

	cr_assert_eq(jail_plan_make(15, args, &p, why, sizeof(why)), 0, "%s", why);
	assert_argv(&p, want);
	cr_assert_eq(p.nfiles, 4);
	cr_assert_str_eq(p.files[0].src, "/boot/vmlinux");
	cr_assert_str_eq(p.files[0].name, "vmlinux");
	cr_assert_not(p.files[0].writable);
	cr_assert_str_eq(p.files[2].src, "/data/disk.img");
	cr_assert(p.files[2].writable);
	cr_assert_str_eq(p.files[3].name, "1-disk.img");
	cr_assert_not(p.files[3].writable);
	cr_assert_str_eq(p.vsock_name, "v.sock");
	cr_assert(p.has_kernel && p.has_initrd);
	jail_plan_free(&p);
}

Test(jail, plan_names_avoid_volts_own)
{
	char *args[] = { "--kernel", "/x/volt", "--drive", "path=/y/lib,ro" };
	const char *want[] = { "run", "--kernel", "/1-volt", "--drive", "path=/1-lib,ro", NULL };
	struct jail_plan p;

	cr_assert_eq(jail_plan_make(4, args, &p, why, sizeof(why)), 0, "%s", why);
	assert_argv(&p, want);
	jail_plan_free(&p);
}

Test(jail, plan_same_file_once)
{
	char *args[] = { "--drive", "path=/d/a.img,ro", "--drive", "path=/d/a.img" };
	struct jail_plan p;

	cr_assert_eq(jail_plan_make(4, args, &p, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(p.nfiles, 1);
	cr_assert(p.files[0].writable);
	cr_assert_str_eq(p.argv[2], "path=/a.img,ro");
	cr_assert_str_eq(p.argv[4], "path=/a.img");
	cr_assert_not(p.has_kernel);
	jail_plan_free(&p);
}

Test(jail, plan_refuses_bad_arguments)
{
	char *missing[] = { "--kernel" };
	char *bad_drive[] = { "--drive", "id=x" };
	char *dashdash[] = { "--rng", "--", "x" };
	struct jail_plan p;

	cr_assert_eq(jail_plan_make(1, missing, &p, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "--kernel needs a value"), "%s", why);
	cr_assert_eq(jail_plan_make(2, bad_drive, &p, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "--drive 'id=x'"), "%s", why);
	cr_assert_eq(jail_plan_make(3, dashdash, &p, why, sizeof(why)), -EINVAL);
}
