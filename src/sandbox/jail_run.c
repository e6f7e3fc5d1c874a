/* The jailer's doing (sandbox/jail.h: jail_run): the plan carried out as
 * root. The plan's files are opened once, before anything is made; then
 * the jail's root is filled, the process put in its cgroup, rlimits and a
 * network namespace, the mount namespace unshared and pivot_root'ed into
 * the jail, optionally the PID namespace, every capability dropped and
 * /volt exec'd with the plan's arguments. A jail directory made by a failed
 * attempt is removed. */
#include "sandbox/jail.h"

#include "core/host.h"
#include "sandbox/sandbox.h"
#include "sandbox/sanitizer.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/rust_err.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Every file of the plan, opened once (fds[i] for files[i]) before anything
 * is made: a refused one leaves nothing behind. */
static int open_sources(const struct jail_plan *p, const struct jail_opts *o, int *fds,
			struct stat *sts)
{
	int i, err = 0;

	for (i = 0; !err && i < p->nfiles; i++)
		err = jail_open_source(&p->files[i], o->uid, o->gid, &fds[i], &sts[i]);
	return err;
}

static int drop_privileges(uid_t uid, gid_t gid)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };
	uid_t r, e, saved;
	gid_t gr, ge, gs;
	int cap;

	for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
			return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -errno;
	if (uid == (uid_t)-1 || gid == (gid_t)-1)
		return -EINVAL; /* "leave it" to setresuid(): root would stay */
	if (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid))
		return -errno;
	if (getresuid(&r, &e, &saved) || getresgid(&gr, &ge, &gs) || r != uid || e != uid ||
	    saved != uid || gr != gid || ge != gid || gs != gid)
		return -EPERM;
	/* A session keyring of its own: the caller's (root's keys included)
	 * is reachable by whoever possesses it, whatever its uid. Where keyctl
	 * is refused (ENOSYS, EPERM from a filter), it is for the VMM too. */
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 && errno != ENOSYS &&
	    errno != EPERM)
		return -errno;
	/* setuid() away from 0 empties the permitted and effective sets, not
	 * the inheritable one; a uid of 0 keeps them all: clear them here. */
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return 0;
}

static int enter_jail(const char *root, int rootfd)
{
	struct stat want, got;

	if (unshare(CLONE_NEWNS)) {
		pr_err("cannot unshare the mount namespace: %s", strerror(errno));
		return -errno;
	}
	/* Nothing mounted from here on may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount(root, root, NULL, MS_BIND | MS_REC, NULL) || chdir(root)) {
		pr_err("cannot bind-mount the jail %s: %s", root, strerror(errno));
		return -errno;
	}
	/* pivot_root(".", ".") stacks the old root on the new one; detaching
	 * it leaves the jail alone at "/" (pivot_root(2)). */
	if (syscall(SYS_pivot_root, ".", ".") || umount2(".", MNT_DETACH) || chdir("/")) {
		pr_err("cannot pivot_root into %s: %s", root, strerror(errno));
		return -errno;
	}
	/* The path was walked once without symlinks; had a directory above the
	 * base been swapped since, "/" would not be the root that was filled. */
	if (fstat(rootfd, &want) || stat("/", &got) || want.st_dev != got.st_dev ||
	    want.st_ino != got.st_ino) {
		pr_err("%s changed while the jail was made: refused", root);
		return -EXDEV;
	}
	return 0;
}

static pid_t child_pid;

/* What the jailer, waiting for the VMM, passes on to it (and SIGCHLD). */
static void forwarded_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGCHLD);
}

static int wait_child(pid_t pid)
{
	sigset_t set;
	int sig, status;

	forwarded_signals(&set);
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (w < 0 && errno != EINTR)
			return -errno;
		sig = sigwaitinfo(&set, NULL);
		if (sig > 0 && sig != SIGCHLD)
			kill(pid, sig);
	}
}

static const char *exec_name(const struct jail_opts *o)
{
	return o->exec_name ? o->exec_name : "volt";
}

static uint64_t now_us(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Firecracker's jailer writes /<exec name>.pid (in the jail) with the VMM's
 * pid as the jailer's caller sees it. */
static int write_pid_file(const struct jail_opts *o, pid_t pid)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	char name[PATH_MAX], text[24], ebuf[128];
	int fd, err;

	if (path_fmt(name, sizeof(name), "/%s.pid", exec_name(o)))
		return -ENAMETOOLONG;
	snprintf(text, sizeof(text), "%d", (int)pid);
	/* Firecracker's words: its test of --resource-limit no-file=3 looks
	 * for "No file descriptors available (os error 24)" (this open). */
	fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		err = -errno;
		pr_err("Failed to open file %s: %s", name, rust_io_error(-err, ebuf, sizeof(ebuf)));
		return err;
	}
	/* A --resource-limit fsize smaller than the text: EFBIG and a message,
	 * not a silent death by SIGXFSZ. */
	sigaction(SIGXFSZ, &ign, &old);
	err = write_all(fd, text, strlen(text));
	sigaction(SIGXFSZ, &old, NULL);
	if (close(fd) && !err)
		err = -errno;
	if (err)
		pr_err("Failed to write to %s: %s%s", name, rust_io_error(-err, ebuf, sizeof(ebuf)),
		       err == -EFBIG ? " (the resource limit fsize is smaller than the pid)" : "");
	return err;
}

/* Firecracker's jailer's way (o->fc): the VMM is /<exec name>, its pid goes
 * to /<exec name>.pid, and with --new-pid-ns the jailer leaves at once
 * (exit 0) once the VMM, pid 1 of the new namespace, is started. */
static int run_jailed_fc(const struct jail_opts *o, char **exec_argv, char *const envp[])
{
	char path[PATH_MAX], ebuf[128];
	bool leader;
	pid_t pid;
	int err;

	if (path_fmt(path, sizeof(path), "/%s", exec_name(o)))
		return -ENAMETOOLONG;
	if (o->new_pid_ns) {
		/* A session leader's exit would SIGHUP the VMM: give it a session
		 * of its own (after --daemonize the jailer is none). */
		leader = getsid(0) == getpid();
		if (unshare(CLONE_NEWPID)) {
			pr_err("cannot unshare the PID namespace: %s", strerror(errno));
			return -errno;
		}
		pid = fork();
		if (pid < 0) {
			err = -errno;
			pr_err("cannot start the VMM in its PID namespace (fork): %s",
			       strerror(-err));
			return err;
		}
		if (pid > 0) {
			err = write_pid_file(o, pid);
			fflush(NULL);
			_exit(err ? 1 : 0);
		}
		if (leader)
			setsid();
	} else if ((err = write_pid_file(o, getpid()))) {
		return err;
	}
	err = drop_privileges(o->uid, o->gid);
	if (err) {
		pr_err("cannot drop privileges to %u:%u: %s", (unsigned int)o->uid,
		       (unsigned int)o->gid, strerror(-err));
	} else {
		execve(path, exec_argv, envp);
		err = -errno;
		pr_err("Failed to exec into Firecracker: %s (%s in the jail)",
		       rust_io_error(-err, ebuf, sizeof(ebuf)), path);
	}
	if (o->new_pid_ns)
		_exit(1);
	return err;
}

static int run_jailed(const struct jail_opts *o, char **exec_argv, char *const envp[])
{
	sigset_t set, old;
	int err;

	if (o->new_pid_ns && unshare(CLONE_NEWPID)) {
		pr_err("cannot unshare the PID namespace: %s", strerror(errno));
		return -errno;
	}
	err = drop_privileges(o->uid, o->gid);
	if (err) {
		pr_err("cannot drop privileges to %u:%u: %s", (unsigned int)o->uid,
		       (unsigned int)o->gid, strerror(-err));
		return err;
	}
	if (o->new_pid_ns) {
		forwarded_signals(&set);
		sigprocmask(SIG_BLOCK, &set, &old);
		child_pid = fork();
		if (child_pid < 0) {
			err = -errno;
			pr_err("cannot start the VMM in its PID namespace (fork): %s%s",
			       strerror(-err),
			       err == -EAGAIN ? " (a resource limit nproc too low?)" : "");
			return err;
		}
		if (child_pid > 0)
			return wait_child(child_pid);
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	execve("/volt", exec_argv, envp);
	err = -errno;
	pr_err("cannot run /volt in the jail: %s", strerror(errno));
	if (o->new_pid_ns)
		_exit(127);
	return err;
}

/* Forks; the parent exits 0 (its caller sees the jailer done), the child
 * goes on. 0 in the child, or -errno. */
static int fork_and_leave(void)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	return 0;
}

static int daemonize(const struct jail_opts *o, int devnull)
{
	int err;

	/* Firecracker's jailer: the double fork; its caller sees it exit 0. */
	if (o->fc) {
		fflush(NULL);
		if ((err = fork_and_leave()))
			return err;
		if (setsid() < 0)
			return -errno;
		if ((err = fork_and_leave()))
			return err;
		goto stdio;
	}

	if (setsid() < 0) {
		/* A process group leader cannot; its child can. */
		if ((err = fork_and_leave()))
			return err;
		if (setsid() < 0)
			return -errno;
	}
stdio:
	if (dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
		return -errno;
	return 0;
}

static int set_rlimits(const struct jail_opts *o)
{
	int i;

	for (i = 0; i < o->nrlimits; i++) {
		struct rlimit rl = { o->rl_val[i], o->rl_val[i] };

		if (setrlimit(o->rl_res[i], &rl)) {
			int err = -errno;

			pr_err("resource limit %s=%llu: %s", jail_rlimit_name(o->rl_res[i]),
			       (unsigned long long)o->rl_val[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

static int join_netns(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), err = 0;

	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		err = -errno;
		pr_err("--netns %s: %s", path, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	return err;
}

/* The jail this run made, <base>/<name>/<id>, removed through descriptors:
 * its root belongs to the jail's uid once sealed, and a walk by path could be
 * led out of it by a directory swapped for a symlink meanwhile. */
static void remove_jail(int basefd, const struct jail_opts *o, const char *top)
{
	int namefd = basefd < 0 ? -1
				: openat(basefd, exec_name(o),
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int err = namefd < 0 ? -errno : rm_tree_at(namefd, o->id);

	if (err)
		pr_warn("could not remove %s: %s", top, strerror(-err));
	if (namefd >= 0)
		close(namefd);
}

/* API mode: the socket's and logs' directories and the configuration file. */
static int put_api_files(const struct jail_opts *o, const struct jail_plan *p, int rootfd,
			 const char *config_text)
{
	int i, err = 0;

	for (i = 0; !err && i < p->ninside; i++)
		err = jail_make_parent(rootfd, p->inside[i], o->uid, o->gid);
	if (!err && config_text)
		err = jail_write_file(rootfd, JAIL_CONFIG_NAME, config_text, o->uid, o->gid);
	return err;
}

int jail_run(const struct jail_opts *o, const struct jail_plan *p, const char *config_text)
{
	char top[PATH_MAX], root[PATH_MAX], *env_host = NULL, **exec_argv = NULL;
	char fc_argv0[PATH_MAX], fc_start[24], fc_cpu[24], fc_parent[24];
	uint64_t before_fork_cpu = 0;
	int fds[JAIL_MAX_FILES], basefd = -1, rootfd = -1, lockfd = -1, i, err, devnull = -1,
				 nput = 0;
	struct stat sts[JAIL_MAX_FILES];
	bool made = false, reused = false, exec_put = false;
	struct stat was;

	for (i = 0; i < JAIL_MAX_FILES; i++)
		fds[i] = -1;
	err = open_sources(p, o, fds, sts);
	if (err)
		goto out;

	/* /sys is not in the jail: tell the VMM what kind of host it runs on. */
	if (asprintf(&env_host, "VOLT_HOST=%s", host_is_pvm() ? "pvm" : "vt") < 0) {
		err = -ENOMEM;
		goto out;
	}
	clearenv();

	err = jail_open_base(o->base, &basefd);
	if (!err && (path_fmt(top, sizeof(top), "%s/%s/%s", o->base, exec_name(o), o->id) ||
		     path_fmt(root, sizeof(root), "%s/root", top)))
		err = -ENAMETOOLONG;
	if (!err)
		err = jail_make_root(basefd, o->base, exec_name(o), o->id, o->fc, &rootfd, &made,
				     &was, &lockfd);
	if (err)
		goto out;
	/* A reused root (Firecracker's ways) that is not sealed gets its owner
	 * and mode back on failure: another VM may be using it. */
	reused = !made;
	err = o->exec_src ? jail_put_exec(rootfd, root, o->exec_src, exec_name(o), o->uid, o->gid)
			  : jail_put_volt(rootfd);
	exec_put = !err;
	/* nput: the files put (the one that fails leaves nothing). */
	while (!err && nput < p->nfiles &&
	       !(err = jail_put_file(rootfd, fds[nput], &sts[nput], &p->files[nput], o->uid,
				     o->gid)))
		nput++;
	if (!err)
		err = jail_make_devices(rootfd, o->uid, o->gid);
	if (!err && o->fc)
		err = jail_make_fc_devices(rootfd, o->uid, o->gid);
	/* Firecracker's default API socket is /run/firecracker.socket. */
	if (!err && o->fc)
		err = jail_make_parent(rootfd, "/run/", o->uid, o->gid);
	if (!err && p->api)
		err = put_api_files(o, p, rootfd, config_text);
	if (!err)
		err = jail_seal_root(rootfd, o->uid, o->gid);
	if (!err)
		reused = false;
	if (err)
		goto out;
	for (i = 0; i < p->nfiles; i++) {
		close(fds[i]);
		fds[i] = -1;
	}
	if (o->daemonize) {
		devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (devnull < 0) {
			err = -errno;
			goto out;
		}
	}
	err = set_rlimits(o);
	if (!err && o->netns)
		err = join_netns(o->netns);
	/* Last of what can fail here: a cgroup cannot be removed while we are in it. */
	if (!err && o->ncgroups)
		err = jail_cgroup_setup(o->parent, o->id, o->cgroups, o->ncgroups,
					o->cgroup_version);
	if (err)
		goto out;
	if (p->socket_name)
		pr_info("jail: the socket the VMM makes is %s/%s", root, p->socket_name);
	if (p->sock)
		pr_info("jail: the API socket is %s%s", root, p->sock);
	/* The jailer's CPU time before the forks (the children's clocks start
	 * at 0): Firecracker's --parent-cpu-time-us adds them up. */
	before_fork_cpu = now_us(CLOCK_PROCESS_CPUTIME_ID);
	if (o->daemonize && (err = daemonize(o, devnull)))
		goto out;
	/* A sanitizer build's leak check runs now: the jail has no /proc. */
	sandbox_sanitizer_prepare();
	err = enter_jail(root, rootfd);
	if (err)
		goto out;
	/* From here on the jail's directory is all there is: keep it. */
	made = false;
	close(rootfd);
	rootfd = -1;
	close(basefd);
	basefd = -1;
	exec_argv = calloc((size_t)p->argc + 11, sizeof(*exec_argv));
	if (!exec_argv) {
		err = -ENOMEM;
		goto out;
	}
	if (o->fc) {
		/* As Firecracker's jailer execs Firecracker. */
		uint64_t cpu = now_us(CLOCK_PROCESS_CPUTIME_ID);
		int n = 0;

		snprintf(fc_argv0, sizeof(fc_argv0), "/%s", exec_name(o));
		snprintf(fc_start, sizeof(fc_start), "%llu", (unsigned long long)o->start_us);
		snprintf(fc_cpu, sizeof(fc_cpu), "%llu", (unsigned long long)cpu);
		snprintf(fc_parent, sizeof(fc_parent), "%llu",
			 (unsigned long long)((o->daemonize ? before_fork_cpu + cpu : cpu) -
					      (o->start_cpu_us < before_fork_cpu
						       ? o->start_cpu_us
						       : before_fork_cpu)));
		exec_argv[n++] = fc_argv0;
		exec_argv[n++] = "--id";
		exec_argv[n++] = (char *)o->id;
		exec_argv[n++] = "--start-time-us";
		exec_argv[n++] = fc_start;
		exec_argv[n++] = "--start-time-cpu-us";
		exec_argv[n++] = fc_cpu;
		exec_argv[n++] = "--parent-cpu-time-us";
		exec_argv[n++] = fc_parent;
		for (i = 0; i < p->argc; i++)
			exec_argv[n++] = p->argv[i];
	} else {
		exec_argv[0] = "volt";
		for (i = 0; i < p->argc; i++)
			exec_argv[i + 1] = p->argv[i];
	}
	{
		/* VOLT_JAIL: the VMM's / is its jail (vm_config.in_jail). */
		char *envp[] = { env_host, "VOLT_JAIL=1", NULL };

		err = o->fc ? run_jailed_fc(o, exec_argv, envp) : run_jailed(o, exec_argv, envp);
	}
out:
	if (made)
		remove_jail(basefd, o, top);
	/* A reused root is left as it was: what this run put there goes (the
	 * next run's exec file and files would be refused as already there). */
	for (i = 0; reused && rootfd >= 0 && i < nput; i++)
		unlinkat(rootfd, p->files[i].name, 0);
	if (reused && rootfd >= 0 && exec_put && o->exec_src)
		unlinkat(rootfd, exec_name(o), 0);
	if (reused && rootfd >= 0 &&
	    (fchown(rootfd, was.st_uid, was.st_gid) || fchmod(rootfd, was.st_mode & 07777)))
		pr_warn("could not give %s back its owner and mode", root);
	for (i = 0; i < JAIL_MAX_FILES; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (rootfd >= 0)
		close(rootfd);
	if (lockfd >= 0)
		close(lockfd); /* after the removal above: nobody else was in it */
	if (basefd >= 0)
		close(basefd);
	if (devnull >= 0)
		close(devnull);
	free(exec_argv);
	free(env_host);
	return err;
}
