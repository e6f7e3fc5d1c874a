/* The jailer's parts: pure parsing and planning (unit-tested), the jail's
 * files (jail_fs.c) and its cgroup (jail_cgroup.c). jail_cmd() in jail.c
 * puts them together. Functions return 0 or -errno; the parsers put a
 * one-line reason into why. */
#ifndef VOLT_SANDBOX_JAIL_H
#define VOLT_SANDBOX_JAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#define JAIL_ID_MAX	64
#define JAIL_MAX_FILES	16
#define JAIL_MAX_CGROUP 16
#define JAIL_MAX_RLIMIT 8

/* 1-64 characters of [A-Za-z0-9-]. */
int jail_id_check(const char *id, char *why, size_t why_size);

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
};

/* What `volt run` will get inside the jail. */
struct jail_plan {
	char **argv; /* "run", the rewritten arguments, NULL */
	int argc;
	struct jail_file files[JAIL_MAX_FILES];
	int nfiles;
	bool has_kernel, has_initrd;
	char *vsock_name; /* the vsock socket's name in the root, or NULL */
};

/* Rewrites the `volt run` arguments (an optional leading "run" is dropped) so
 * that --kernel, --initrd, --drive path= and --vsock uds= name files in the
 * jail's root, and lists the files to put there. Other arguments pass as
 * they are. */
int jail_plan_make(int argc, char **argv, struct jail_plan *p, char *why, size_t why_size);
void jail_plan_free(struct jail_plan *p);

/* jail_fs.c: puts src at <root>/<name>: a hard link where it can (same file
 * system and, unless writable, readable by uid:gid as it is), else a copy
 * owned by uid:gid. A writable file must be linkable (a copy would keep the
 * guest's writes in the jail); it is handed to uid:gid. */
int jail_put_file(const char *root, const char *src, const char *name, bool writable, uid_t uid,
		  gid_t gid);
/* Copies volt itself to <root>/volt, with the dynamic loader and every
 * shared library this process has mapped at their own paths. */
int jail_put_volt(const char *root);
/* <root>/dev/kvm and <root>/dev/net/tun, owned by uid:gid, mode 0660. */
int jail_make_devices(const char *root, uid_t uid, gid_t gid);

/* jail_cgroup.c: makes <hierarchy>/<parent>/<id> for every controller the
 * settings name (cgroup v2 where it offers the controller, else its v1
 * hierarchy; version 1 or 2 forces one), writes the settings and moves the
 * calling process there. On failure, what was made is removed. */
int jail_cgroup_setup(const char *parent, const char *id, const struct jail_cgroup *cg, int n,
		      int version);

#endif
