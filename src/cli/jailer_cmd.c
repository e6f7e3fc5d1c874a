/* `volt jailer` (and volt run as `jailer`): Firecracker's jailer's command
 * line on volt's jail (cli/jailer.h). As Firecracker's jailer: closes
 * inherited descriptors, parses and checks the flags (their messages, exit
 * status 1), with cgroup v2 and no --cgroup joins an existing parent
 * cgroup, then jail_run() with Firecracker's ways: the exec file is copied
 * into <base>/<name>/<id>/root and exec'd there as /<name> with --id,
 * --start-time-us, --start-time-cpu-us, --parent-cpu-time-us and the
 * arguments after "--", unchanged. */
#include "cli/commands.h"

#include "cli/jailer.h"
#include "sandbox/jail.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/rust_err.h"
#include "volt-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t ts_us(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000 + (uint64_t)ts->tv_nsec / 1000;
}

/* With cgroup v2 and no --cgroup, Firecracker's jailer moves itself into
 * <v2>/<parent> when that group exists. */
static int move_to_parent(const struct jailer_env *e)
{
	char v2[PATH_MAX], dir[PATH_MAX], procs[PATH_MAX], pid[24];
	struct stat st;
	bool v1;
	int fd, err = 0;

	if (jailer_cgroup_mounts("/proc/mounts", v2, sizeof(v2), &v1) || !v2[0])
		return 0; /* jailer_check saw the hierarchy */
	if (path_fmt(dir, sizeof(dir), "%s/%s", v2, e->parent) ||
	    path_fmt(procs, sizeof(procs), "%s/cgroup.procs", dir))
		return -ENAMETOOLONG;
	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return 0;
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write_all(fd, pid, strlen(pid)))
		err = fd < 0 ? -errno : -EIO;
	if (fd >= 0)
		close(fd);
	if (err)
		fprintf(stderr,
			"Failed to move process to cgroup (%s): %s (os error %d).\nHint: If you "
			"intended to create a child cgroup under %s, pass any --cgroup "
			"parameters.\n",
			dir, musl_strerror(-err), -err, dir);
	return err;
}

int jailer_cmd(int argc, char **argv, const struct timespec *started)
{
	struct jail_plan plan = { 0 };
	struct jailer_args a;
	struct jailer_env *e;
	struct timespec cpu;
	char why[PATH_MAX + 256];
	int i, err;

	/* Firecracker's jailer's first step: nothing inherited reaches the VMM. */
	if (syscall(SYS_close_range, 3U, ~0U, 0U))
		for (i = 3; i < 1024; i++)
			close(i);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	err = jailer_parse_args(argc, argv, &a, why, sizeof(why));
	if (err) {
		fprintf(stderr, "%s\n", why);
		return -EINVAL;
	}
	if (a.help) {
		printf("Jailer v%s\n\n", VOLT_FC_VERSION);
		jailer_usage(stdout);
		return 0;
	}
	if (a.version) {
		printf("Jailer v%s\n\n", VOLT_FC_VERSION);
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	err = jailer_check(&a, "/proc/mounts", e, why, sizeof(why));
	if (err) {
		fprintf(stderr, "%s\n", why);
		goto out;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "jailer: needs root (it makes device nodes, cgroups and "
				"namespaces)\n");
		err = -EPERM;
		goto out;
	}
	if (e->move_to_parent && (err = move_to_parent(e)))
		goto out;
	e->o.start_us = ts_us(started);
	e->o.start_cpu_us = ts_us(&cpu);
	plan.argv = a.extra;
	plan.argc = a.nextra;
	plan.api = false;
	pr_debug("jailer: %s as %s", e->exec_path, e->chroot_dir);
	/* Returns only on failure (the jail's own messages said why). */
	err = jail_run(&e->o, &plan, NULL);
	if (!err)
		err = -EIO;
out:
	free(e);
	return err;
}
