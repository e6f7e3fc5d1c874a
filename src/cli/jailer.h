/* `volt jailer`: Firecracker's jailer's command line (src/jailer in
 * Firecracker), for orchestrators that start `jailer --id ID --exec-file
 * FILE --uid U --gid G ... -- <VMM arguments>` (firecracker-containerd, the
 * Go SDK, Kata). The flags are parsed as Firecracker's ArgParser does, with
 * its messages, checked in Env::new's order and translated into volt's own
 * jail (struct jail_opts, sandbox/jail.h) with Firecracker's ways (o->fc).
 * The parsing and checks are here, unit-tested; cli/jailer_cmd.c runs it.
 * Functions return 0 or -errno with Firecracker's message in why. */
#ifndef VOLT_CLI_JAILER_H
#define VOLT_CLI_JAILER_H

#include "sandbox/jail.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define JAILER_DEFAULT_BASE	      "/srv/jailer"
#define JAILER_DEFAULT_CGROUP_VERSION "1"
/* Firecracker's default for the number of open files (--resource-limit). */
#define JAILER_DEFAULT_NO_FILE 2048
/* Firecracker's default API socket (volt's own is /run/volt.socket). */
#define FIRECRACKER_DEFAULT_API_SOCK "/run/firecracker.socket"

/* The flags as given (pointers into argv). */
struct jailer_args {
	const char *id, *exec_file, *uid, *gid;
	const char *chroot_base_dir; /* default JAILER_DEFAULT_BASE */
	const char *netns;
	const char *cgroup_version; /* default "1" */
	const char *parent_cgroup;  /* NULL: the exec file's name */
	const char *cgroups[JAIL_MAX_CGROUP];
	int ncgroups;
	const char *rlimits[JAIL_MAX_RLIMIT];
	int nrlimits;
	bool daemonize, new_pid_ns;
	bool help, version; /* --help/-h or --version anywhere before "--" */
	char **extra;	    /* the arguments after "--": the VMM's, unchanged */
	int nextra;
};

/* argv[0] is the program; "--" ends the jailer's flags. Firecracker's
 * messages: "Failed to parse arguments: Argument 'id' required, but not
 * found." and the like. */
int jailer_parse_args(int argc, char **argv, struct jailer_args *a, char *why, size_t why_size);

/* "Invalid instance ID: Invalid char (_) at position 2" / "...: Invalid len
 * (0);  the length must be between 1 and 64". */
int jailer_id_check(const char *id, char *why, size_t why_size);

/* Rust's u64/u32/u8 parse: "+" allowed, no spaces; why gets
 * ParseIntError's words ("invalid digit found in string"). */
int jailer_parse_uint(const char *s, unsigned long long max, unsigned long long *out, char *why,
		      size_t why_size);

/* What the host's /proc/mounts (path) offers: the cgroup v2 mount (empty
 * when none) and whether any v1 hierarchy is mounted. */
int jailer_cgroup_mounts(const char *mounts, char *v2, size_t v2_size, bool *v1);

/* The checked jail: what jailer_check() makes of the flags. */
struct jailer_env {
	struct jail_opts o;
	char exec_path[PATH_MAX]; /* the exec file, symlinks resolved */
	char exec_name[NAME_MAX + 1];
	char base[PATH_MAX];	   /* --chroot-base-dir, symlinks resolved */
	char chroot_dir[PATH_MAX]; /* <base>/<exec name>/<id>/root */
	char parent[PATH_MAX];	   /* the parent cgroup */
	int cgroup_version;	   /* 1 or 2 (only checked when cgroups are set) */
	bool move_to_parent;	   /* v2 and no --cgroup: join <v2>/<parent> if it exists */
};

/* Env::new's checks in its order (the id, the exec file, the chroot base,
 * uid, gid, the parent cgroup, the cgroup version, each --cgroup against
 * the hierarchies in mounts (a /proc/mounts), each --resource-limit) and
 * the translation into e->o: uid or gid 0 is allowed (Firecracker's jailer
 * allows it), no-file defaults to 2048, the jail is <base>/<exec file's
 * name>/<id>/root where the name is the exec file's as given (a symlink
 * named firecracker gives .../firecracker/..., where orchestrators look for
 * it; Firecracker itself takes the resolved file's name). Stats the exec
 * file and base; changes nothing. */
int jailer_check(const struct jailer_args *a, const char *mounts, struct jailer_env *e, char *why,
		 size_t why_size);

/* `jailer --help` text (Firecracker's flags, volt's notes). */
void jailer_usage(FILE *f);

#endif
