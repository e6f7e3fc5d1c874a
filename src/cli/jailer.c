/* Firecracker's jailer's command line, parsed and checked as Firecracker's
 * jailer does (cli/jailer.h): utils::arg_parser for the flags, Env::new
 * for the checks, with their messages, then translated into volt's jail. */
#include "cli/jailer.h"

#include "util/fs.h"
#include "util/rust_err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The flags in ArgParser's (a BTreeMap's) order: the missing required one
 * reported is the first of these. */
enum { F_VALUE = 1, F_MULTI = 2, F_REQUIRED = 4 };
static const struct {
	const char *name;
	int flags;
} flags[] = {
	{ "cgroup", F_VALUE | F_MULTI },
	{ "cgroup-version", F_VALUE },
	{ "chroot-base-dir", F_VALUE },
	{ "daemonize", 0 },
	{ "exec-file", F_VALUE | F_REQUIRED },
	{ "gid", F_VALUE | F_REQUIRED },
	{ "id", F_VALUE | F_REQUIRED },
	{ "netns", F_VALUE },
	{ "new-pid-ns", 0 },
	{ "parent-cgroup", F_VALUE },
	{ "resource-limit", F_VALUE | F_MULTI },
	{ "uid", F_VALUE | F_REQUIRED },
	{ "version", 0 },
};
#define NFLAGS ((int)(sizeof(flags) / sizeof(flags[0])))

#define PARSE_ERR "Failed to parse arguments: "

static const char **slot(struct jailer_args *a, int i)
{
	const char *n = flags[i].name;

	if (!strcmp(n, "id"))
		return &a->id;
	if (!strcmp(n, "exec-file"))
		return &a->exec_file;
	if (!strcmp(n, "uid"))
		return &a->uid;
	if (!strcmp(n, "gid"))
		return &a->gid;
	if (!strcmp(n, "chroot-base-dir"))
		return &a->chroot_base_dir;
	if (!strcmp(n, "netns"))
		return &a->netns;
	if (!strcmp(n, "cgroup-version"))
		return &a->cgroup_version;
	if (!strcmp(n, "parent-cgroup"))
		return &a->parent_cgroup;
	return NULL;
}

int jailer_parse_args(int argc, char **argv, struct jailer_args *a, char *why, size_t why_size)
{
	bool seen[NFLAGS] = { false };
	int i, end, f;

	memset(a, 0, sizeof(*a));
	/* Everything after the first "--" is the VMM's. */
	for (end = 1; end < argc && strcmp(argv[end], "--"); end++)
		;
	if (end < argc) {
		a->extra = argv + end + 1;
		a->nextra = argc - end - 1;
	}
	/* --help, -h and --version win over anything else before "--". */
	for (i = 1; i < end; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			a->help = true;
			return 0;
		}
	for (i = 1; i < end; i++)
		if (!strcmp(argv[i], "--version")) {
			a->version = true;
			return 0;
		}
	for (i = 1; i < end; i++) {
		const char *arg = argv[i], *name, *val = NULL;

		if (strncmp(arg, "--", 2)) {
			snprintf(why, why_size,
				 PARSE_ERR "Found argument '%s' which wasn't expected, or isn't "
					   "valid in this context.",
				 arg);
			return -EINVAL;
		}
		name = arg + 2;
		for (f = 0; f < NFLAGS && strcmp(flags[f].name, name); f++)
			;
		if (f == NFLAGS) {
			snprintf(why, why_size,
				 PARSE_ERR "Found argument '%s' which wasn't expected, or isn't "
					   "valid in this context.",
				 name);
			return -EINVAL;
		}
		if (seen[f] && !(flags[f].flags & F_MULTI)) {
			snprintf(why, why_size,
				 PARSE_ERR "The argument '%s' was provided more than once.", name);
			return -EINVAL;
		}
		seen[f] = true;
		if (flags[f].flags & F_VALUE) {
			if (i + 1 >= end || !strncmp(argv[i + 1], "--", 2)) {
				snprintf(why, why_size,
					 PARSE_ERR "The argument '%s' requires a value, but none "
						   "was supplied.",
					 name);
				return -EINVAL;
			}
			val = argv[++i];
		}
		if (!strcmp(name, "cgroup")) {
			if (a->ncgroups == JAIL_MAX_CGROUP) {
				snprintf(why, why_size, "--cgroup: at most %d (volt's limit)",
					 JAIL_MAX_CGROUP);
				return -E2BIG;
			}
			a->cgroups[a->ncgroups++] = val;
		} else if (!strcmp(name, "resource-limit")) {
			if (a->nrlimits == JAIL_MAX_RLIMIT) {
				snprintf(why, why_size,
					 "--resource-limit: at most %d (volt's limit)",
					 JAIL_MAX_RLIMIT);
				return -E2BIG;
			}
			a->rlimits[a->nrlimits++] = val;
		} else if (!strcmp(name, "daemonize")) {
			a->daemonize = true;
		} else if (!strcmp(name, "new-pid-ns")) {
			a->new_pid_ns = true;
		} else if (slot(a, f)) {
			*slot(a, f) = val;
		}
	}
	for (f = 0; f < NFLAGS; f++)
		if ((flags[f].flags & F_REQUIRED) && !seen[f]) {
			snprintf(why, why_size, PARSE_ERR "Argument '%s' required, but not found.",
				 flags[f].name);
			return -EINVAL;
		}
	if (!a->chroot_base_dir)
		a->chroot_base_dir = JAILER_DEFAULT_BASE;
	if (!a->cgroup_version)
		a->cgroup_version = JAILER_DEFAULT_CGROUP_VERSION;
	return 0;
}

int jailer_id_check(const char *id, char *why, size_t why_size)
{
	size_t i, n = strlen(id);

	if (n < 1 || n > JAIL_ID_MAX) {
		snprintf(why, why_size,
			 "Invalid instance ID: Invalid len (%zu);  the length must be between 1 "
			 "and %d",
			 n, JAIL_ID_MAX);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];

		/* Rust's is_alphanumeric() takes any Unicode letter; volt only
		 * ASCII: the id is a directory and a cgroup name. */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-')) {
			if (c < 0x80)
				snprintf(why, why_size,
					 "Invalid instance ID: Invalid char (%c) at position %zu",
					 c, i);
			else
				snprintf(
					why, why_size,
					"Invalid instance ID: Invalid char (non-ASCII) at position "
					"%zu",
					i);
			return -EINVAL;
		}
	}
	return 0;
}

int jailer_parse_uint(const char *s, unsigned long long max, unsigned long long *out, char *why,
		      size_t why_size)
{
	unsigned long long v = 0;
	const char *c = s;

	if (!*s) {
		snprintf(why, why_size, "cannot parse integer from empty string");
		return -EINVAL;
	}
	if (*c == '+')
		c++;
	if (!*c) {
		snprintf(why, why_size, "invalid digit found in string");
		return -EINVAL;
	}
	for (; *c; c++) {
		if (*c < '0' || *c > '9') {
			snprintf(why, why_size, "invalid digit found in string");
			return -EINVAL;
		}
		if (v > (max - (unsigned)(*c - '0')) / 10) {
			snprintf(why, why_size, "number too large to fit in target type");
			return -ERANGE;
		}
		v = v * 10 + (unsigned)(*c - '0');
	}
	*out = v;
	return 0;
}

/* The v1 hierarchies' mount options, for the controller check. */
struct mounts {
	char v2[PATH_MAX];
	char v1opts[16][256];
	int nv1;
};

static int read_mounts(const char *path, struct mounts *m)
{
	char line[2048], dev[256], dir[PATH_MAX], type[64], opts[1024];
	FILE *f = fopen(path, "re");

	memset(m, 0, sizeof(*m));
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %4095s %63s %1023s", dev, dir, type, opts) != 4)
			continue;
		if (!strcmp(type, "cgroup2") && !m->v2[0])
			snprintf(m->v2, sizeof(m->v2), "%s", dir);
		else if (!strcmp(type, "cgroup") && m->nv1 < 16)
			snprintf(m->v1opts[m->nv1++], sizeof(m->v1opts[0]), "%.255s", opts);
	}
	fclose(f);
	return 0;
}

int jailer_cgroup_mounts(const char *mounts, char *v2, size_t v2_size, bool *v1)
{
	struct mounts *m = calloc(1, sizeof(*m));
	int err;

	if (!m)
		return -ENOMEM;
	err = read_mounts(mounts, m);
	if (!err) {
		snprintf(v2, v2_size, "%s", m->v2);
		*v1 = m->nv1 > 0;
	}
	free(m);
	return err;
}

static bool has_word(const char *list, const char *word, const char *seps)
{
	size_t n = strlen(word);
	const char *c = list;

	while (*c) {
		size_t len = strcspn(c, seps);

		if (len == n && !strncmp(c, word, n))
			return true;
		c += len;
		c += strspn(c, seps);
	}
	return false;
}

static bool v2_offers(const char *v2, const char *ctrl)
{
	char path[PATH_MAX], buf[1024];
	size_t n;
	FILE *f;

	if (path_fmt(path, sizeof(path), "%s/cgroup.controllers", v2))
		return false;
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return has_word(buf, ctrl, " \n");
}

/* Rust's Path::components() holding ".", ".." or the root. */
static bool bad_components(const char *p)
{
	const char *c = p;

	if (*p == '/')
		return true;
	while (*c) {
		size_t len = strcspn(c, "/");

		if ((len == 1 && c[0] == '.' && c == p) || (len == 2 && !strncmp(c, "..", 2)))
			return true;
		c += len;
		c += strspn(c, "/");
	}
	return false;
}

/* A cgroup parent path as volt's jail wants it: components joined by one
 * "/", interior "." dropped (as Rust's components() does). */
static int normalize(const char *in, char *out, size_t size)
{
	const char *c = in;
	size_t o = 0;

	out[0] = '\0';
	while (*c) {
		size_t len = strcspn(c, "/");

		if (len && !(len == 1 && *c == '.')) {
			if (o + len + 2 > size)
				return -ENAMETOOLONG;
			if (o)
				out[o++] = '/';
			memcpy(out + o, c, len);
			o += len;
			out[o] = '\0';
		}
		c += len;
		c += strspn(c, "/");
	}
	return o ? 0 : -EINVAL;
}

static int check_cgroup(const char *spec, const struct mounts *m, int version,
			struct jail_cgroup *out, char *why, size_t why_size)
{
	const char *eq = strchr(spec, '=');
	char file[256], ctrl[64], vwhy[160];
	size_t flen;
	int i;

	if (!eq || strchr(eq + 1, '=') || !eq[1]) {
		snprintf(why, why_size, "Invalid format for cgroups: %s", spec);
		return -EINVAL;
	}
	flen = (size_t)(eq - spec);
	if (flen >= sizeof(file)) {
		snprintf(why, why_size, "Cgroup invalid file: %s", spec);
		return -EINVAL;
	}
	memcpy(file, spec, flen);
	file[flen] = '\0';
	if (bad_components(file) || !strchr(file, '.')) {
		snprintf(why, why_size, "Cgroup invalid file: %s",
			 !strchr(file, '.') ? file : spec);
		return -EINVAL;
	}
	snprintf(ctrl, sizeof(ctrl), "%.*s", (int)strcspn(file, "."), file);
	if (version == 1) {
		for (i = 0; i < m->nv1 && !has_word(m->v1opts[i], ctrl, ","); i++)
			;
		if (!m->nv1) {
			snprintf(
				why, why_size,
				"Hierarchy not found: No hierarchy found for this cgroup version.");
			return -ENOENT;
		}
		if (i == m->nv1) {
			snprintf(why, why_size, "Controller %s is unavailable", ctrl);
			return -ENOENT;
		}
	} else {
		if (!m->v2[0]) {
			snprintf(
				why, why_size,
				"Hierarchy not found: No hierarchy found for this cgroup version.");
			return -ENOENT;
		}
		if (!v2_offers(m->v2, ctrl)) {
			snprintf(why, why_size, "Controller %s is unavailable", ctrl);
			return -ENOENT;
		}
	}
	/* volt's own rules on top (no slashes or newlines in the name). */
	if (jail_cgroup_parse(spec, out, vwhy, sizeof(vwhy))) {
		snprintf(why, why_size, "Cgroup invalid file: %s (%s)", spec, vwhy);
		return -EINVAL;
	}
	return 0;
}

static int check_rlimit(const char *spec, int *res, rlim_t *val, char *why, size_t why_size)
{
	const char *eq = strchr(spec, '=');
	char pwhy[80];
	unsigned long long v;

	if (!eq) {
		snprintf(why, why_size, "Invalid format for resources limits: %s", spec);
		return -EINVAL;
	}
	if (jailer_parse_uint(eq + 1, ~0ULL, &v, pwhy, sizeof(pwhy))) {
		snprintf(why, why_size, "Invalid limit value for resource: %s: %s", eq + 1, pwhy);
		return -EINVAL;
	}
	if ((size_t)(eq - spec) == 5 && !strncmp(spec, "fsize", 5)) {
		*res = RLIMIT_FSIZE;
	} else if ((size_t)(eq - spec) == 7 && !strncmp(spec, "no-file", 7)) {
		*res = RLIMIT_NOFILE;
	} else {
		snprintf(why, why_size, "Invalid resource argument: %.*s", (int)(eq - spec), spec);
		return -EINVAL;
	}
	*val = (rlim_t)v;
	return 0;
}

/* Rust's io::Error: "No such file or directory (os error 2)". */
static const char *io_err(int e, char *buf, size_t size)
{
	return rust_io_error(e, buf, size);
}

int jailer_check(const struct jailer_args *a, const char *mounts, struct jailer_env *e, char *why,
		 size_t why_size)
{
	struct mounts *m = NULL;
	struct jail_opts *o = &e->o;
	char ebuf[128], pwhy[80];
	unsigned long long n;
	const char *name;
	struct stat st;
	bool nofile = false;
	int i, err = -EINVAL;

	memset(e, 0, sizeof(*e));
	if (jailer_id_check(a->id, why, why_size))
		return -EINVAL;

	if (!realpath(a->exec_file, e->exec_path)) {
		snprintf(why, why_size, "Failed to canonicalize path %s: %s", a->exec_file,
			 io_err(errno, ebuf, sizeof(ebuf)));
		return -ENOENT;
	}
	if (stat(e->exec_path, &st) || !S_ISREG(st.st_mode)) {
		snprintf(why, why_size, "%s is not a file", e->exec_path);
		return -EINVAL;
	}
	/* The name as given: where orchestrators (the Go SDK,
	 * firecracker-containerd) look for the jail. */
	name = strrchr(a->exec_file, '/') ? strrchr(a->exec_file, '/') + 1 : a->exec_file;
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		name = strrchr(e->exec_path, '/') + 1;
	snprintf(e->exec_name, sizeof(e->exec_name), "%s", name);

	if (!realpath(a->chroot_base_dir, e->base)) {
		snprintf(why, why_size, "Failed to canonicalize path %s: %s", a->chroot_base_dir,
			 io_err(errno, ebuf, sizeof(ebuf)));
		return -ENOENT;
	}
	if (stat(e->base, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(why, why_size, "%s is not a directory", e->base);
		return -ENOTDIR;
	}
	if (path_fmt(e->chroot_dir, sizeof(e->chroot_dir), "%s/%s/%s/root",
		     strcmp(e->base, "/") ? e->base : "", e->exec_name, a->id)) {
		snprintf(why, why_size, "%s/%s/%s/root: too long", e->base, e->exec_name, a->id);
		return -ENAMETOOLONG;
	}

	/* (uid_t)-1 and (gid_t)-1 are no ids: setresuid() reads them as "leave
	 * it", which would leave the VMM root. */
	if (jailer_parse_uint(a->uid, 0xfffffffeULL, &n, pwhy, sizeof(pwhy))) {
		snprintf(why, why_size, "Invalid uid: %s", a->uid);
		return -EINVAL;
	}
	o->uid = (uid_t)n;
	if (jailer_parse_uint(a->gid, 0xfffffffeULL, &n, pwhy, sizeof(pwhy))) {
		snprintf(why, why_size, "Invalid gid: %s", a->gid);
		return -EINVAL;
	}
	o->gid = (gid_t)n;

	if (a->parent_cgroup && bad_components(a->parent_cgroup)) {
		snprintf(why, why_size,
			 "Parent cgroup path is invalid. Path should not be absolute or contain "
			 "'..' or '.'");
		return -EINVAL;
	}
	err = normalize(a->parent_cgroup ? a->parent_cgroup : e->exec_name, e->parent,
			sizeof(e->parent));
	if (err == -ENAMETOOLONG) {
		snprintf(why, why_size,
			 "Parent cgroup path is invalid. It is longer than %zu bytes",
			 sizeof(e->parent) - 1);
		return err;
	}
	if (err) {
		snprintf(why, why_size,
			 "Parent cgroup path is invalid. Path should not be absolute or contain "
			 "'..' or '.'");
		return -EINVAL;
	}
	if (jailer_parse_uint(a->cgroup_version, 255, &n, pwhy, sizeof(pwhy))) {
		snprintf(why, why_size, "%s is an invalid cgroup version specifier",
			 a->cgroup_version);
		return -EINVAL;
	}
	e->cgroup_version = (int)n;
	e->move_to_parent = !a->ncgroups && n == 2;
	if (a->ncgroups || e->move_to_parent) {
		m = calloc(1, sizeof(*m));
		if (!m)
			return -ENOMEM;
		err = read_mounts(mounts, m);
		if (err) {
			snprintf(why, why_size, "Failed to open file %s: %s", mounts,
				 io_err(-err, ebuf, sizeof(ebuf)));
			goto out;
		}
		/* Firecracker looks for the version's hierarchies first: none for 3. */
		err = -ENOENT;
		if ((n == 2 && !m->v2[0]) || (n == 1 && !m->nv1) || (n != 1 && n != 2)) {
			snprintf(
				why, why_size,
				"Hierarchy not found: No hierarchy found for this cgroup version.");
			goto out;
		}
		for (i = 0; i < a->ncgroups; i++) {
			err = check_cgroup(a->cgroups[i], m, (int)n, &o->cgroups[i], why, why_size);
			if (err)
				goto out;
		}
		o->ncgroups = a->ncgroups;
		o->cgroup_version = (int)n;
	}
	for (i = 0; i < a->nrlimits; i++) {
		err = check_rlimit(a->rlimits[i], &o->rl_res[i], &o->rl_val[i], why, why_size);
		if (err)
			goto out;
		nofile |= o->rl_res[i] == RLIMIT_NOFILE;
	}
	o->nrlimits = a->nrlimits;
	if (!nofile) {
		if (o->nrlimits == JAIL_MAX_RLIMIT) {
			err = -E2BIG;
			snprintf(why, why_size, "--resource-limit: at most %d",
				 JAIL_MAX_RLIMIT - 1);
			goto out;
		}
		o->rl_res[o->nrlimits] = RLIMIT_NOFILE;
		o->rl_val[o->nrlimits++] = JAILER_DEFAULT_NO_FILE;
	}

	o->id = a->id;
	o->has_uid = o->has_gid = true;
	o->base = e->base;
	o->netns = a->netns;
	o->parent = e->parent;
	o->daemonize = a->daemonize;
	o->new_pid_ns = a->new_pid_ns;
	o->allow_root = true; /* Firecracker's jailer takes uid 0 as any other */
	o->exec_name = e->exec_name;
	o->exec_src = e->exec_path;
	o->fc = true;
	err = 0;
out:
	free(m);
	return err;
}

void jailer_usage(FILE *f)
{
	fputs("usage: jailer --id ID --exec-file FILE --uid UID --gid GID\n"
	      "              [--chroot-base-dir DIR] [--netns PATH] [--daemonize] [--new-pid-ns]\n"
	      "              [--cgroup FILE=VALUE]... [--cgroup-version 1|2] [--parent-cgroup "
	      "PATH]\n"
	      "              [--resource-limit fsize|no-file=N]... [--version] -- <VMM args>\n"
	      "Firecracker's jailer (`volt jailer`, or volt run as `jailer`): copies FILE to\n"
	      "DIR/<FILE's name>/ID/root/<FILE's name> (DIR defaults to " JAILER_DEFAULT_BASE "),\n"
	      "makes /dev/kvm, /dev/net/tun, /dev/urandom, /dev/userfaultfd and /run there,\n"
	      "pivot_roots into it as UID:GID without capabilities and execs the copy with\n"
	      "--id ID --start-time-us ... followed by the VMM arguments, unchanged (paths\n"
	      "there are the jail's). Point FILE at volt (or a link or copy of it named\n"
	      "firecracker): run as `firecracker` it is volt's Firecracker API front end.\n"
	      "Any arguments after the -- separator will be supplied to the jailed binary.\n",
	      f);
}
