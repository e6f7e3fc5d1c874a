/* The jailer's pure logic: id validation, rlimit and cgroup settings, the
 * rewriting of `volt run` arguments to jail paths, and its file rules (what an
 * input may be; a symlinked input goes in as its target, never changed). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/jail_plan.h"
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
	cr_assert_str_eq(p.socket_name, "v.sock");
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

Test(jail, api_mode_detection)
{
	char *api[] = { "--api-sock", "/run/a.sock" };
	char *api_eq[] = { "--config-file=/c.json" };
	char *no_api[] = { "--no-api" };
	char *id[] = { "--id", "x" };
	char *run[] = { "--kernel", "/k" };
	char *run2[] = { "run", "--api-sock", "/x" };
	char *prefix[] = { "--api-socket", "/x" };

	cr_assert(jail_args_are_api(2, api));
	cr_assert(jail_args_are_api(1, api_eq));
	cr_assert(jail_args_are_api(1, no_api));
	cr_assert(jail_args_are_api(2, id));
	cr_assert_not(jail_args_are_api(2, run));
	cr_assert_not(jail_args_are_api(3, run2));
	cr_assert_not(jail_args_are_api(2, prefix));
	cr_assert_not(jail_args_are_api(0, api));
}

Test(jail, api_plan_rewrites_paths)
{
	char *args[] = { "--api-sock",	"run/api.sock", "--log-path=//logs/vm.log",
			 "--log-level", "debug",	"--metrics-path",
			 "/m.fifo",	"--boot-timer", "--config-file",
			 "/etc/vm.json" };
	const char *want[] = { "--api-sock",
			       "/run/api.sock",
			       "--log-path",
			       "/logs/vm.log",
			       "--log-level",
			       "debug",
			       "--metrics-path",
			       "/m.fifo",
			       "--boot-timer",
			       "--config-file",
			       "/" JAIL_CONFIG_NAME,
			       "--id",
			       "vm-1",
			       NULL };
	struct jail_plan p;

	cr_assert_eq(jail_api_plan_make(10, args, "vm-1", &p, why, sizeof(why)), 0, "%s", why);
	cr_assert(p.api);
	assert_argv(&p, want);
	cr_assert_str_eq(p.sock, "/run/api.sock");
	cr_assert_str_eq(p.config_src, "/etc/vm.json");
	cr_assert_eq(p.ninside, 3);
	cr_assert_str_eq(p.inside[0], "/run/api.sock");
	cr_assert_str_eq(p.inside[1], "/logs/vm.log");
	cr_assert_str_eq(p.inside[2], "/m.fifo");
	cr_assert_eq(p.nfiles, 0);
	jail_plan_free(&p);
}

Test(jail, api_plan_defaults)
{
	char *with_id[] = { "--id", "mine" };
	const char *want_id[] = { "--id", "mine", NULL };
	char *no_api[] = { "--no-api", "--config-file", "c.json" };
	const char *want_no_api[] = { "--no-api", "--config-file", "/" JAIL_CONFIG_NAME,
				      "--id",	  "jail-id",	   NULL };
	struct jail_plan p;

	/* The jail's id is not forced on a VMM given its own. */
	cr_assert_eq(jail_api_plan_make(2, with_id, "jail-id", &p, why, sizeof(why)), 0, "%s", why);
	assert_argv(&p, want_id);
	cr_assert_str_eq(p.sock, JAIL_DEFAULT_API_SOCK);
	cr_assert_eq(p.ninside, 1);
	cr_assert_str_eq(p.inside[0], JAIL_DEFAULT_API_SOCK);
	jail_plan_free(&p);

	cr_assert_eq(jail_api_plan_make(3, no_api, "jail-id", &p, why, sizeof(why)), 0, "%s", why);
	assert_argv(&p, want_no_api);
	cr_assert_null(p.sock);
	cr_assert_eq(p.ninside, 0);
	cr_assert_str_eq(p.config_src, "c.json");
	jail_plan_free(&p);
}

Test(jail, api_plan_refuses_bad_arguments)
{
	char *dotdot[] = { "--api-sock", "/run/../../etc/x.sock" };
	char *dir[] = { "--api-sock", "/run/" };
	char *empty[] = { "--log-path", "" };
	char *missing[] = { "--api-sock" };
	char *dashdash[] = { "--no-api", "--", "x" };
	struct jail_plan p;

	cr_assert_eq(jail_api_plan_make(2, dotdot, NULL, &p, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "'..'"), "%s", why);
	cr_assert_eq(jail_api_plan_make(2, dir, NULL, &p, why, sizeof(why)), -EINVAL);
	cr_assert_eq(jail_api_plan_make(2, empty, NULL, &p, why, sizeof(why)), -EINVAL);
	cr_assert_eq(jail_api_plan_make(1, missing, NULL, &p, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "needs a value"), "%s", why);
	cr_assert_eq(jail_api_plan_make(3, dashdash, NULL, &p, why, sizeof(why)), -EINVAL);
}

Test(jail, config_rewrite)
{
	static const char doc[] =
		"{\"boot-source\": {\"kernel_image_path\": \"/k/vmlinux\", \"initrd_path\": null,"
		" \"boot_args\": \"console=ttyS0\"},"
		" \"drives\": [{\"drive_id\": \"root\", \"path_on_host\": \"/d/root.img\","
		" \"is_root_device\": true, \"is_read_only\": true},"
		" {\"drive_id\": \"data\", \"path_on_host\": \"/e/root.img\","
		" \"is_root_device\": false, \"is_read_only\": false}],"
		" \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64},"
		" \"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\"},"
		" \"logger\": {\"log_path\": \"/var/log/fc.fifo\", \"level\": \"Info\"},"
		" \"metrics\": {\"metrics_path\": \"/var/log/config.json\"}}";
	json_error_t err;
	json_t *j = json_loads(doc, 0, &err), *d;
	struct jail_plan p = { 0 };

	cr_assert_not_null(j, "%s", err.text);
	cr_assert_eq(jail_config_rewrite(j, &p, why, sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "boot-source"),
							   "kernel_image_path")),
			 "/vmlinux");
	cr_assert(json_is_null(json_object_get(json_object_get(j, "boot-source"), "initrd_path")));
	cr_assert_str_eq(
		json_string_value(json_object_get(json_object_get(j, "boot-source"), "boot_args")),
		"console=ttyS0");
	cr_assert(p.has_kernel && !p.has_initrd);
	d = json_object_get(j, "drives");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(d, 0), "path_on_host")),
			 "/root.img");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(d, 1), "path_on_host")),
			 "/1-root.img");
	cr_assert(json_is_true(json_object_get(json_array_get(d, 1), "is_root_device")) == false);
	cr_assert_str_eq(
		json_string_value(json_object_get(json_object_get(j, "vsock"), "uds_path")),
		"/v.sock");
	cr_assert_str_eq(
		json_string_value(json_object_get(json_object_get(j, "logger"), "log_path")),
		"/fc.fifo");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "logger"), "level")),
			 "Info");
	/* The rewritten configuration's own name is not taken by a file. */
	cr_assert_str_eq(
		json_string_value(json_object_get(json_object_get(j, "metrics"), "metrics_path")),
		"/1-" JAIL_CONFIG_NAME);
	cr_assert_eq(json_integer_value(
			     json_object_get(json_object_get(j, "machine-config"), "mem_size_mib")),
		     64);

	cr_assert_eq(p.nfiles, 5);
	cr_assert_str_eq(p.files[0].src, "/k/vmlinux");
	cr_assert_not(p.files[0].writable);
	cr_assert_not(p.files[1].writable);
	cr_assert_str_eq(p.files[2].src, "/e/root.img");
	cr_assert(p.files[2].writable);
	cr_assert_not(p.files[2].fifo_ok);
	cr_assert_str_eq(p.files[3].src, "/var/log/fc.fifo");
	cr_assert(p.files[3].writable);
	cr_assert(p.files[3].fifo_ok);
	cr_assert(p.files[4].writable);
	cr_assert(p.files[4].fifo_ok);
	cr_assert_str_eq(p.socket_name, "v.sock");
	json_decref(j);
	jail_plan_free(&p);
}

Test(jail, plan_splits_equals_forms)
{
	char *args[] = { "--kernel=/a/k", "--initrd=/a/i", "--vsock=cid=3,uds=/s" };
	const char *want[] = { "run", "--kernel", "/k",		  "--initrd",
			       "/i",  "--vsock",  "cid=3,uds=/s", NULL };
	struct jail_plan p;

	cr_assert_eq(jail_plan_make(3, args, &p, why, sizeof(why)), 0, "%s", why);
	assert_argv(&p, want);
	jail_plan_free(&p);
}

static struct stat st_of(mode_t mode, uid_t uid, gid_t gid)
{
	struct stat st = { .st_mode = mode, .st_uid = uid, .st_gid = gid };

	return st;
}

Test(jail, may_access_uses_the_first_matching_class)
{
	struct stat st = st_of(S_IFREG | 0066, 7, 8);

	/* The owner gets the owner's bits only, even when group and others
	 * may: the kernel checks the same way. */
	cr_assert_not(jail_may_access(&st, 7, 8, false));
	cr_assert_not(jail_may_access(&st, 7, 8, true));
	cr_assert(jail_may_access(&st, 9, 8, true));
	cr_assert(jail_may_access(&st, 9, 9, true));
	st = st_of(S_IFREG | 0640, 0, 8);
	cr_assert(jail_may_access(&st, 9, 8, false));
	cr_assert_not(jail_may_access(&st, 9, 8, true));
	cr_assert_not(jail_may_access(&st, 9, 9, false));
	/* uid 0 runs without capabilities: no exception. */
	st = st_of(S_IFREG | 0004, 5, 5);
	cr_assert_not(jail_may_access(&st, 0, 0, true));
}

Test(jail, source_check)
{
	struct jail_file drive = {
		.src = "/d.img", .name = "d.img", .writable = true, .block_ok = true
	};
	struct jail_file kernel = { .src = "/k", .name = "k" };
	struct jail_file log = { .src = "/l", .name = "l", .writable = true, .fifo_ok = true };
	struct stat st;

	st = st_of(S_IFREG | 0644, 0, 0);
	cr_assert_eq(jail_source_check(&kernel, &st, 10, 10, why, sizeof(why)), 0);
	/* Not a copy of a file uid:gid cannot read (a symlink to /etc/shadow). */
	st = st_of(S_IFREG | 0640, 0, 42);
	cr_assert_eq(jail_source_check(&kernel, &st, 10, 10, why, sizeof(why)), -EACCES);
	cr_assert_str_eq(why,
			 "file '/k' is not readable by uid 10/gid 10: chown or chmod it for "
			 "10:10 before jailing (a jail gives that uid nothing it cannot read on "
			 "the host)");
	st = st_of(S_IFREG | 0644, 0, 0);
	cr_assert_eq(jail_source_check(&drive, &st, 10, 10, why, sizeof(why)), -EACCES);
	cr_assert_str_eq(why, "drive '/d.img' is not writable by uid 10/gid 10: chown it to 10:10 "
			      "(or make it group-writable for 10) before jailing");
	st = st_of(S_IFREG | 0660, 0, 10);
	cr_assert_eq(jail_source_check(&drive, &st, 10, 10, why, sizeof(why)), 0);
	st = st_of(S_IFREG | 0600, 10, 0);
	cr_assert_eq(jail_source_check(&drive, &st, 10, 10, why, sizeof(why)), 0);
	/* A block device gets a node of its own in the jail: a drive's only (a
	 * kernel's or a log's would be refused by the VMM, the node left). */
	st = st_of(S_IFBLK | 0600, 10, 0);
	cr_assert_eq(jail_source_check(&drive, &st, 10, 10, why, sizeof(why)), 0);
	/* Not a node of a disk uid:gid cannot open on the host. */
	st = st_of(S_IFBLK | 0640, 0, 10);
	cr_assert_eq(jail_source_check(&drive, &st, 10, 10, why, sizeof(why)), -EACCES);
	cr_assert_str_eq(why, "drive '/d.img' is not readable and writable by uid 10/gid 10: "
			      "chown or chmod it for 10:10 before jailing (a jail gives that uid "
			      "nothing it cannot read and write on the host)");
	cr_assert_eq(jail_source_check(&kernel, &st, 10, 10, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "/k: a block device; a VM's file must be a regular file");
	cr_assert_eq(jail_source_check(&log, &st, 10, 10, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "/l: a block device; a log or metrics path must be a regular file "
			      "or a FIFO");

	st = st_of(S_IFIFO | 0666, 10, 10);
	cr_assert_eq(jail_source_check(&kernel, &st, 10, 10, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "/k: a FIFO; a VM's file must be a regular file");
	cr_assert_eq(jail_source_check(&drive, &st, 10, 10, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "/d.img: a FIFO; a drive must be a regular file or a block device");
	cr_assert_eq(jail_source_check(&drive, &st, 10, 10, why, sizeof(why)), -EINVAL);
	cr_assert_eq(jail_source_check(&log, &st, 10, 10, why, sizeof(why)), 0);
	st = st_of(S_IFIFO | 0600, 0, 0);
	cr_assert_eq(jail_source_check(&log, &st, 10, 10, why, sizeof(why)), -EACCES);
	st = st_of(S_IFDIR | 0755, 0, 0);
	cr_assert_eq(jail_source_check(&kernel, &st, 10, 10, why, sizeof(why)), -EINVAL);
	st = st_of(S_IFCHR | 0666, 0, 0);
	cr_assert_eq(jail_source_check(&drive, &st, 10, 10, why, sizeof(why)), -EINVAL);
}

/* A fresh directory under TMPDIR (or /tmp); the caller removes it. */
static void make_tmp(char *dir, size_t size)
{
	const char *t = getenv("TMPDIR");

	snprintf(dir, size, "%s/volt-test-jail-XXXXXX", t && *t ? t : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
}

Test(jail, symlinked_inputs_go_in_as_their_targets)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], link[PATH_MAX + 32];
	struct jail_file ro = { .src = link, .name = "ro" };
	struct jail_file rw = { .src = link, .name = "rw", .writable = true };
	struct stat st, before, in;
	uid_t uid = getuid();
	gid_t gid = getgid();
	int rootfd, fd;

	make_tmp(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/root", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	rootfd = open(path, O_RDONLY | O_DIRECTORY);
	snprintf(path, sizeof(path), "%s/secret", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_eq(write(fd, "s3cret", 6), 6);
	close(fd);
	snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert_eq(symlink(path, link), 0);
	cr_assert_eq(stat(path, &before), 0);

	/* Read-only and readable by uid:gid: a hard link of the target. */
	cr_assert_eq(jail_open_source(&ro, uid, gid, &fd, &st), 0);
	cr_assert_eq(jail_put_file(rootfd, fd, &st, &ro, uid, gid), 0);
	close(fd);
	cr_assert_eq(fstatat(rootfd, "ro", &in, AT_SYMLINK_NOFOLLOW), 0);
	cr_assert(S_ISREG(in.st_mode));
	cr_assert_eq(in.st_ino, before.st_ino);
	/* Writable (uid owns it, 0600): a hard link too, owner and mode kept. */
	cr_assert_eq(jail_open_source(&rw, uid, gid, &fd, &st), 0);
	cr_assert_eq(jail_put_file(rootfd, fd, &st, &rw, uid, gid), 0);
	close(fd);
	cr_assert_eq(fstatat(rootfd, "rw", &in, AT_SYMLINK_NOFOLLOW), 0);
	cr_assert_eq(in.st_ino, before.st_ino);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_uid, before.st_uid);
	cr_assert_eq(st.st_mode, before.st_mode);
	cr_assert_eq(st.st_nlink, before.st_nlink + 2);

	/* Not writable by another uid as it is: refused, nothing changed. */
	cr_assert_eq(jail_open_source(&rw, uid + 1, gid + 1, &fd, &st), -EACCES);
	cr_assert_eq(fd, -1);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_nlink, before.st_nlink + 2);

	unlinkat(rootfd, "ro", 0);
	unlinkat(rootfd, "rw", 0);
	close(rootfd);
	unlink(link);
	unlink(path);
	snprintf(path, sizeof(path), "%s/root", dir);
	rmdir(path);
	rmdir(dir);
}

Test(jail, fifo_source_refused_without_blocking)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	struct jail_file k = { .src = path, .name = "k" };
	struct stat st;
	int fd;

	make_tmp(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	/* No writer: a blocking open would never return (criterion's timeout). */
	cr_assert_eq(jail_open_source(&k, getuid(), getgid(), &fd, &st), -EINVAL);
	unlink(path);
	rmdir(dir);
}

Test(jail, base_with_a_symlink_refused)
{
	char dir[PATH_MAX], real[PATH_MAX + 32], link[PATH_MAX + 32], base[PATH_MAX + 64];
	int fd = -1;

	make_tmp(dir, sizeof(dir));
	snprintf(real, sizeof(real), "%s/real", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert_eq(mkdir(real, 0755), 0);
	cr_assert_eq(symlink(real, link), 0);
	cr_assert_eq(jail_open_base(link, &fd), -ELOOP);
	snprintf(base, sizeof(base), "%s/link/.", dir);
	cr_assert_eq(jail_open_base(base, &fd), -ELOOP);
	snprintf(base, sizeof(base), "%s/real/../real", dir);
	cr_assert_eq(jail_open_base(base, &fd), -EINVAL);
	cr_assert_eq(fd, -1);
	unlink(link);
	rmdir(real);
	rmdir(dir);
}

Test(jail, exec_destination_link_refused_source_untouched)
{
	char dir[PATH_MAX], root[PATH_MAX + 32], src[PATH_MAX + 32], other[PATH_MAX + 32];
	struct stat st;
	int rootfd, fd;

	make_tmp(dir, sizeof(dir));
	snprintf(root, sizeof(root), "%s/root", dir);
	snprintf(src, sizeof(src), "%s/exec", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	cr_assert_eq(mkdir(root, 0700), 0);
	rootfd = open(root, O_RDONLY | O_DIRECTORY);
	fd = open(src, O_WRONLY | O_CREAT | O_EXCL, 0755);
	cr_assert_eq(write(fd, "exec", 4), 4);
	close(fd);
	fd = open(other, O_WRONLY | O_CREAT | O_EXCL, 0600);
	close(fd);

	/* A symlink at the exec file's place: never followed, the target stays empty. */
	cr_assert_eq(symlinkat(other, rootfd, "fc"), 0);
	cr_assert_eq(jail_put_exec(rootfd, root, src, "fc", getuid(), getgid()), -EEXIST);
	cr_assert_eq(stat(other, &st), 0);
	cr_assert_eq(st.st_size, 0);
	cr_assert_eq(fstatat(rootfd, "fc", &st, AT_SYMLINK_NOFOLLOW), 0);
	cr_assert(S_ISLNK(st.st_mode));
	unlinkat(rootfd, "fc", 0);
	/* A hard link: refused, not written through. */
	cr_assert_eq(linkat(AT_FDCWD, other, rootfd, "fc", 0), 0);
	cr_assert_eq(jail_put_exec(rootfd, root, src, "fc", getuid(), getgid()), -EEXIST);
	cr_assert_eq(stat(other, &st), 0);
	cr_assert_eq(st.st_size, 0);
	cr_assert_eq(st.st_mode & 07777, 0600);

	unlinkat(rootfd, "fc", 0);
	close(rootfd);
	unlink(other);
	unlink(src);
	rmdir(root);
	rmdir(dir);
}

Test(jail, sealed_root_dev_and_net_are_the_vmms_alone)
{
	char dir[PATH_MAX], root[PATH_MAX + 32], dev[PATH_MAX + 48], net[PATH_MAX + 64];
	struct stat st;
	int rootfd;

	make_tmp(dir, sizeof(dir));
	snprintf(root, sizeof(root), "%s/root", dir);
	snprintf(dev, sizeof(dev), "%s/dev", root);
	snprintf(net, sizeof(net), "%s/net", dev);
	cr_assert_eq(mkdir(root, 0700), 0);
	cr_assert_eq(mkdir(dev, 0755), 0);
	cr_assert_eq(mkdir(net, 0755), 0);
	rootfd = open(root, O_RDONLY | O_DIRECTORY);
	cr_assert_eq(jail_seal_root(rootfd, getuid(), getgid()), 0);
	cr_assert_eq(stat(root, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700);
	cr_assert_eq(stat(dev, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700);
	cr_assert_eq(stat(net, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700);
	cr_assert_eq(st.st_uid, getuid());
	cr_assert_eq(st.st_gid, getgid());
	/* A symlink at dev is not followed: refused, its target unchanged. */
	rmdir(net);
	rmdir(dev);
	snprintf(net, sizeof(net), "%s/elsewhere", dir);
	cr_assert_eq(mkdir(net, 0755), 0);
	cr_assert_eq(symlink(net, dev), 0);
	cr_assert_neq(jail_seal_root(rootfd, getuid(), getgid()), 0);
	cr_assert_eq(stat(net, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0755);
	unlink(dev);
	rmdir(net);
	close(rootfd);
	rmdir(root);
	rmdir(dir);
}
