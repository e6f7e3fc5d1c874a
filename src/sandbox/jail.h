/* The jailer's parts below the front-end: the checks of its option values
 * and the plan's data (jail.c), carrying a plan out (jail_run.c), the
 * jail's files (jail_fs.c) and its cgroup (jail_cgroup.c). The plan is
 * made from the front-ends' option tables by cli/jail_plan.c, and
 * cli/jail_cmd.c puts it all together. Functions return 0 or -errno; the
 * parsers put a one-line reason into why. */
#ifndef VOLT_SANDBOX_JAIL_H
#define VOLT_SANDBOX_JAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

/* JAIL_MAX_FILES: the files a VM names: kernel, initrd, a configuration file, logs, metrics,
 * serial output and each device's (a drive's file, a socket): two per device
 * of vmm/vm.h's VM_MAX_VIRTIO (32) and 8 besides (checked in jail_plan.c). */
#define JAIL_ID_MAX	64
#define JAIL_MAX_FILES	72
#define JAIL_MAX_CGROUP 16
#define JAIL_MAX_RLIMIT 8
#define JAIL_MAX_INSIDE 4
/* Where the API mode puts the rewritten configuration file in the jail. */
#define JAIL_CONFIG_NAME "config.json"

/* 1-64 characters of [A-Za-z0-9-]. */
int jail_id_check(const char *id, char *why, size_t why_size);

/* The name jail_rlimit_parse() reads for a resource ("fsize"), for messages. */
const char *jail_rlimit_name(int resource);
/* "fsize=N", "no-file=N" (also "nofile", "nproc", "memlock", "core");
 * N is a number or "unlimited"; soft and hard limit alike. */
int jail_rlimit_parse(const char *spec, int *resource, rlim_t *value, char *why, size_t why_size);

struct jail_cgroup {
	char controller[32]; /* "memory" of "memory.max" */
	char file[64];	     /* "memory.max" */
	char value[256];
};

/* "<controller>.<name>=VALUE": a cgroup interface file, no slashes or
 * newlines; the file's existence is checked once the group is made. */
int jail_cgroup_parse(const char *spec, struct jail_cgroup *out, char *why, size_t why_size);

/* A file the VM needs, and the name it has in the jail's root. */
struct jail_file {
	char *src;
	char *name;
	bool writable;
	bool fifo_ok;  /* a log or metrics path: a FIFO is fine */
	bool block_ok; /* a drive: a block device is fine (a node of it is made) */
};

/* What `volt run` (or, in API mode, the API front end) will get inside the
 * jail. */
struct jail_plan {
	char **argv; /* "run" or the first API option, the rewritten arguments, NULL */
	int argc;
	struct jail_file files[JAIL_MAX_FILES];
	int nfiles;
	bool has_kernel, has_initrd;
	char *socket_name; /* a socket the VMM makes (--vsock uds=): its name in the root, or NULL
			    */
	/* API mode only: */
	bool api;
	char *config_src; /* --config-file as given (read outside the jail), or NULL */
	char *sock;	  /* the API socket's path in the jail, NULL with --no-api */
	/* Paths in the jail (socket, --log-path, --metrics-path) whose
	 * directories the jail must hold, owned by uid:gid. */
	char *inside[JAIL_MAX_INSIDE];
	int ninside;
};

void jail_plan_free(struct jail_plan *p);

/* The jailer's own options, checked (the front-end, cli/jail_cmd.c, parses
 * them). */
struct jail_opts {
	const char *id;
	uid_t uid;
	gid_t gid;
	bool has_uid, has_gid;
	const char *base;
	const char *netns;
	const char *parent;
	int cgroup_version; /* 0: per controller */
	struct jail_cgroup cgroups[JAIL_MAX_CGROUP];
	int ncgroups;
	int rl_res[JAIL_MAX_RLIMIT];
	rlim_t rl_val[JAIL_MAX_RLIMIT];
	int nrlimits;
	bool daemonize, new_pid_ns;
	bool allow_root; /* --allow-root: uid or gid 0 is meant */
	/* Firecracker's jailer (`volt jailer`, cli/jailer_cmd.c). exec_name is
	 * the jail's directory and the VMM's name in it: <base>/<exec_name>/<id>
	 * and /<exec_name> (NULL: "volt", volt itself at /volt). */
	const char *exec_name;
	const char *exec_src; /* copied in as /<exec_name>; NULL: volt itself, linked */
	/* Firecracker's ways: an existing <base>/<exec_name>/<id>/root is used
	 * (its files kept), /dev/urandom and /dev/userfaultfd are made too, and
	 * /run (uid:gid); /<exec_name>.pid gets the VMM's pid; --daemonize and
	 * --new-pid-ns leave the jailer's caller at once (exit 0); the VMM gets
	 * --id, --start-time-us, --start-time-cpu-us and --parent-cpu-time-us
	 * ahead of the plan's arguments, which pass unchanged. */
	bool fc;
	uint64_t start_us;     /* CLOCK_MONOTONIC when the jailer started, us */
	uint64_t start_cpu_us; /* the jailer's CPU time then, us */
};

/* jail_run.c, as root: opens the plan's files (all of them, before
 * anything is made), clears the environment, makes <base>/volt/<id>/root
 * with volt, the files, the devices and (API mode) the directories of
 * p->inside and config_text as JAIL_CONFIG_NAME; sets rlimits, joins the
 * network namespace and the cgroup, daemonizes, enters the jail, drops
 * privileges and execs /volt with p->argv. Returns only on failure, or with
 * the VMM's exit status when it waits for it (--new-pid-ns). */
int jail_run(const struct jail_opts *o, const struct jail_plan *p, const char *config_text);

/* jail_fs.c. The jailer's file rules (docs/security.md): inputs are opened
 * once and used by descriptor, no symlink is followed inside the base, and no
 * host file's owner or mode is changed. */

/* Whether uid:gid (without capabilities or supplementary groups) may read,
 * or write, a file with st's owner and mode. */
bool jail_may_access(const struct stat *st, uid_t uid, gid_t gid, bool write);
/* What f may be (st: the file it names): a regular file or block device (a
 * log or metrics path: a regular file or FIFO); writable ones writable by
 * uid:gid as they are. */
int jail_source_check(const struct jail_file *f, const struct stat *st, uid_t uid, gid_t gid,
		      char *why, size_t why_size);
/* Opens f->src without blocking (symlinks followed, once) and checks it with
 * jail_source_check; *fd (O_CLOEXEC) and *st describe it. */
int jail_open_source(const struct jail_file *f, uid_t uid, gid_t gid, int *fd, struct stat *st);
/* The file open at fd (st) as <root>/<f->name>: a block device gets a new
 * node for uid:gid; a writable file is hard-linked (refused across file
 * systems: a copy would swallow the guest's writes); a read-only one is
 * hard-linked when uid:gid can read it as it is and it is on the same file
 * system, else copied (uid:gid, 0400); jail_source_check refused what
 * uid:gid cannot read. The source is never changed. */
int jail_put_file(int rootfd, int fd, const struct stat *st, const struct jail_file *f, uid_t uid,
		  gid_t gid);
/* Opens the chroot base: an absolute path without symlinks, owned by root,
 * not writable by group or others (unless sticky), not mounted nodev. */
int jail_open_base(const char *base, int *fd);
/* Makes <base>/<name> (a real directory, root's alone) if missing, a new
 * <base>/<name>/<id> (refused when it exists, unless reuse) and its root,
 * mode 0700 until jail_seal_root. With reuse an existing <id> and root
 * (real directories, not symlinks) are used: the root is made root's, 0700,
 * while it is filled; *was (when not NULL) gets its owner and mode before,
 * for a failure to give them back. *made says whether <id> was made here (a
 * failure removes only that). *lockfd holds <id> locked (flock) until it is
 * closed (or exec closes it): a second jailer with that id at the same time
 * is refused (-EBUSY) and removes nothing. base is for messages. */
int jail_make_root(int basefd, const char *base, const char *name, const char *id, bool reuse,
		   int *rootfd, bool *made, struct stat *was, int *lockfd);
/* Hands the filled root, its dev and dev/net to uid:gid, mode 0700 (as
 * Firecracker's jailer). */
int jail_seal_root(int rootfd, uid_t uid, gid_t gid);
/* Copies volt itself to <root>/volt, with the dynamic loader and every
 * shared library this process has mapped at their own paths. */
int jail_put_volt(int rootfd);
/* Firecracker's jailer's way: copies src (never a link: no pages shared
 * with another VMM) to a new <root>/<name> with src's mode, owned by
 * uid:gid, and the shared libraries as jail_put_volt does. A name there
 * already is refused, with Firecracker's words for a symlink ("Failed to
 * open <root>/<name>: ...") and a hard link ("Detected hard link at: ...").
 * root (the root's path) is for messages. */
int jail_put_exec(int rootfd, const char *root, const char *src, const char *name, uid_t uid,
		  gid_t gid);
/* <root>/dev/urandom (a warning when it cannot be made) and, when the host
 * has it (/proc/misc), <root>/dev/userfaultfd, uid:gid, 0600. */
int jail_make_fc_devices(int rootfd, uid_t uid, gid_t gid);
/* <root>/dev/kvm and <root>/dev/net/tun, owned by uid:gid, mode 0600, in
 * dev and dev/net (root's, 0700, until jail_seal_root). */
int jail_make_devices(int rootfd, uid_t uid, gid_t gid);
/* Makes the directories of path (a path in the jail) below root, owned by
 * uid:gid, mode 0700; existing ones must be directories, not symlinks. */
int jail_make_parent(int rootfd, const char *path, uid_t uid, gid_t gid);
/* <root>/<name>: a new file holding text, owned by uid:gid, mode 0600. */
int jail_write_file(int rootfd, const char *name, const char *text, uid_t uid, gid_t gid);

/* jail_cgroup.c: makes <hierarchy>/<parent>/<id> for every controller the
 * settings name (cgroup v2 where it offers the controller, else its v1
 * hierarchy; version 1 or 2 forces one), writes the settings and moves the
 * calling process there. On failure, what was made is removed. */
int jail_cgroup_setup(const char *parent, const char *id, const struct jail_cgroup *cg, int n,
		      int version);

#endif
