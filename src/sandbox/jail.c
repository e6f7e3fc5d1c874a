/* `volt jail`: runs `volt run` as an unprivileged user in a chroot jail, the
 * way Firecracker's jailer runs Firecracker.
 *
 * As root: validate everything; close inherited fds >= 3 and clear the
 * environment; make <base>/volt/<id>/root with volt (and the shared libraries
 * it runs on), the VM's files and /dev/kvm, /dev/net/tun; put the process in
 * a cgroup with the given limits; set rlimits; join a network namespace;
 * unshare the mount namespace and pivot_root into the jail; optionally
 * unshare the PID namespace; drop every capability, the bounding set
 * included, set no_new_privs and switch to uid:gid; then exec /volt run with
 * the arguments rewritten to jail paths. API mode (the arguments after "--"
 * start with --api-sock, --config-file, --no-api or --id) execs /volt with
 * the API front end's arguments instead: the socket and log paths are jail
 * paths, the configuration file is read, its files put in the jail and a
 * rewritten copy passed as /config.json. With --new-pid-ns the jailer stays
 * as the parent (outside the namespace), forwards SIGINT/SIGTERM/SIGHUP/
 * SIGQUIT and returns the VMM's exit status; otherwise the VMM replaces it.
 * A jail directory that exists already is refused; one made by a failed
 * attempt is removed. Neither the jail nor the cgroup is removed after the
 * VM exits (the caller owns them then). */
#include "sandbox/sandbox.h"

#include "api/vm_config_json.h"
#include "core/host.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_vsock.h"
#include "kernel/kernel.h"
#include "kernel/rootfs.h"
#include "sandbox/jail.h"
#include "sandbox/sanitizer.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/parse.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
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
#include <unistd.h>

#define DEFAULT_BASE   "/srv/jailer"
#define DEFAULT_PARENT "volt"

static const char usage[] =
	"usage: volt jail --id ID --uid UID --gid GID [--chroot-base DIR] [--netns PATH]\n"
	"                 [--cgroup FILE=VALUE]... [--cgroup-version 1|2] [--parent-cgroup PATH]\n"
	"                 [--rlimit RESOURCE=VALUE]... [--daemonize] [--new-pid-ns]\n"
	"                 [--allow-root]\n"
	"                 [--log-level error|warn|info|debug]\n"
	"                 -- <volt run arguments> | <API arguments>\n"
	"Runs `volt run` as UID:GID, without capabilities, chrooted (pivot_root) into\n"
	"DIR/volt/ID/root (DIR defaults to " DEFAULT_BASE "). The files named by --kernel,\n"
	"--initrd and --drive (the guest kit's, without --kernel) are hard-linked or copied\n"
	"there, never changed: a writable drive must be writable by UID:GID as it is and\n"
	"on DIR's file system. DIR must be a real directory (no symlinks) owned by root.\n"
	"UID or GID 0 needs --allow-root. --vsock uds=PATH becomes\n"
	"DIR/volt/ID/root/<name of PATH>. --cgroup sets a\n"
	"cgroup file (memory.max=256M, pids.max=100, cpu.max=...) in the group\n"
	"<hierarchy>/" DEFAULT_PARENT
	"/ID. --rlimit takes fsize, no-file, nproc, memlock or core.\n"
	"When the arguments after -- start with --api-sock, --config-file, --no-api or\n"
	"--id, /volt runs the API front end instead: --api-sock, --log-path and\n"
	"--metrics-path are paths in the jail (default socket "
	"DIR/volt/ID/root" JAIL_DEFAULT_API_SOCK ");\n"
	"--config-file is read here, its files are put in the jail and the rewritten\n"
	"file is /" JAIL_CONFIG_NAME " there. Files given later through the API must be\n"
	"in the jail already, named by their path there.\n"
	"Needs root.\n";

int jail_id_check(const char *id, char *why, size_t why_size)
{
	size_t i, n = strlen(id);

	if (!n || n > JAIL_ID_MAX) {
		snprintf(why, why_size, "must be 1 to %d characters", JAIL_ID_MAX);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-')) {
			snprintf(why, why_size, "may hold only letters, digits and '-'");
			return -EINVAL;
		}
	}
	return 0;
}

static const struct {
	const char *name;
	int resource;
} rlimits[] = {
	{ "fsize", RLIMIT_FSIZE }, { "no-file", RLIMIT_NOFILE },  { "nofile", RLIMIT_NOFILE },
	{ "nproc", RLIMIT_NPROC }, { "memlock", RLIMIT_MEMLOCK }, { "core", RLIMIT_CORE },
};

int jail_rlimit_parse(const char *spec, int *resource, rlim_t *value, char *why, size_t why_size)
{
	const char *eq = strchr(spec, '=');
	unsigned long long v;
	char *end;
	size_t i;

	if (!eq) {
		snprintf(why, why_size, "expected RESOURCE=VALUE");
		return -EINVAL;
	}
	for (i = 0; i < sizeof(rlimits) / sizeof(rlimits[0]); i++)
		if (strlen(rlimits[i].name) == (size_t)(eq - spec) &&
		    !strncmp(spec, rlimits[i].name, (size_t)(eq - spec)))
			break;
	if (i == sizeof(rlimits) / sizeof(rlimits[0])) {
		snprintf(why, why_size, "unknown resource (fsize, no-file, nproc, memlock, core)");
		return -EINVAL;
	}
	*resource = rlimits[i].resource;
	if (!strcmp(eq + 1, "unlimited")) {
		*value = RLIM_INFINITY;
		return 0;
	}
	errno = 0;
	v = strtoull(eq + 1, &end, 10);
	if (eq[1] < '0' || eq[1] > '9' || *end || errno || v >= RLIM_INFINITY) {
		snprintf(why, why_size, "'%s' is not a number or 'unlimited'", eq + 1);
		return -EINVAL;
	}
	*value = (rlim_t)v;
	return 0;
}

int jail_cgroup_parse(const char *spec, struct jail_cgroup *out, char *why, size_t why_size)
{
	const char *eq = strchr(spec, '='), *dot = strchr(spec, '.'), *p;

	memset(out, 0, sizeof(*out));
	if (!eq || eq == spec) {
		snprintf(why, why_size, "expected FILE=VALUE, e.g. memory.max=256M");
		return -EINVAL;
	}
	if (!dot || dot > eq || dot == spec || dot + 1 == eq) {
		snprintf(why, why_size, "'%.*s' is not <controller>.<name>", (int)(eq - spec),
			 spec);
		return -EINVAL;
	}
	for (p = spec; p < eq; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.')) {
			snprintf(why, why_size, "'%.*s' is not a cgroup file name",
				 (int)(eq - spec), spec);
			return -EINVAL;
		}
	if ((size_t)(eq - spec) >= sizeof(out->file) ||
	    (size_t)(dot - spec) >= sizeof(out->controller) ||
	    strlen(eq + 1) >= sizeof(out->value)) {
		snprintf(why, why_size, "too long");
		return -EINVAL;
	}
	if (!eq[1] || strchr(eq + 1, '\n')) {
		snprintf(why, why_size, "the value must be one non-empty line");
		return -EINVAL;
	}
	memcpy(out->file, spec, (size_t)(eq - spec));
	memcpy(out->controller, spec, (size_t)(dot - spec));
	strcpy(out->value, eq + 1);
	return 0;
}

/* `volt run` options that take a value, so that the value is never taken
 * for an option itself. Unknown options pass through as they are. */
static const char *const value_opts[] = {
	"kernel",    "initrd", "cmdline", "mem",   "cpus",    "cpu-template", "boot-protocol",
	"log-level", "drive",  "net",	  "vsock", "balloon", "seccomp",      "landlock",
};

/* How one front end's arguments are rewritten: the options that take a
 * value, and the handler that appends each of those (rewritten) to the plan.
 * The handler also sees every other option, with val NULL, after the walk
 * has appended it unchanged. */
struct arg_rules {
	const char *whose; /* for messages: "the volt run arguments" */
	const char *const *value_opts;
	size_t nvalue_opts;
	int (*option)(struct jail_plan *p, void *ctx, const char *name, const char *val, char *why,
		      size_t why_size);
};

static bool takes_value(const struct arg_rules *r, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < r->nvalue_opts; i++)
		if (strlen(r->value_opts[i]) == len && !strncmp(name, r->value_opts[i], len))
			return true;
	return false;
}

/* Appends argv[from..] to p->argv with "--opt=value" split in two: options
 * taking a value go through r->option, everything else passes unchanged. */
static int plan_args(struct jail_plan *p, int argc, char **argv, int from,
		     const struct arg_rules *r, void *ctx, char *why, size_t why_size)
{
	int i, err = 0;

	for (i = from; i < argc && !err; i++) {
		const char *a = argv[i], *eq;
		char *name;
		size_t len;
		bool value;

		if (!strcmp(a, "--")) {
			snprintf(why, why_size, "'--' among %s", r->whose);
			return -EINVAL;
		}
		if (strncmp(a, "--", 2)) {
			p->argv[p->argc++] = strdup(a);
			continue;
		}
		eq = strchr(a + 2, '=');
		len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		value = takes_value(r, a + 2, len);
		if (value && !eq && i + 1 == argc) {
			snprintf(why, why_size, "%s needs a value", a);
			return -EINVAL;
		}
		if (!value)
			p->argv[p->argc++] = strdup(a);
		name = strndup(a + 2, len);
		err = name ? r->option(p, ctx, name, value ? (eq ? eq + 1 : argv[++i]) : NULL, why,
				       why_size)
			   : -ENOMEM;
		free(name);
	}
	return err;
}

/* Names in the root that volt's own files use. */
static bool reserved(const char *name)
{
	static const char *const names[] = { "volt", "dev", "lib", "lib64", "usr",
					     "proc", "sys", "run", "tmp",   JAIL_CONFIG_NAME };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

static bool name_taken(const struct jail_plan *p, const char *name)
{
	int i;

	if (reserved(name) || (p->vsock_name && !strcmp(p->vsock_name, name)))
		return true;
	for (i = 0; i < p->nfiles; i++)
		if (!strcmp(p->files[i].name, name))
			return true;
	return false;
}

/* A name for path in the root: its last component, numbered when taken. */
static char *unique_name(const struct jail_plan *p, const char *path)
{
	const char *base = strrchr(path, '/');
	char *name = NULL;
	int n;

	base = base ? base + 1 : path;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		base = "file";
	if (!name_taken(p, base))
		return strdup(base);
	for (n = 1; n < 100; n++) {
		free(name);
		if (asprintf(&name, "%d-%s", n, base) < 0)
			return NULL;
		if (!name_taken(p, name))
			return name;
	}
	free(name);
	return NULL;
}

/* The file's name in the root ("/<name>"), added to the list once. */
static int add_file(struct jail_plan *p, const char *src, bool writable, bool fifo_ok,
		    char **jail_path, char *why, size_t why_size)
{
	struct jail_file *f = NULL;
	int i;

	for (i = 0; i < p->nfiles; i++)
		if (!strcmp(p->files[i].src, src))
			f = &p->files[i];
	if (!f) {
		if (p->nfiles == JAIL_MAX_FILES) {
			snprintf(why, why_size, "more than %d files", JAIL_MAX_FILES);
			return -E2BIG;
		}
		f = &p->files[p->nfiles];
		f->src = strdup(src);
		f->name = unique_name(p, src);
		if (!f->src || !f->name) {
			free(f->src);
			free(f->name);
			return -ENOMEM;
		}
		f->fifo_ok = fifo_ok;
		p->nfiles++;
	} else {
		/* Named twice: what both uses allow. */
		f->fifo_ok = f->fifo_ok && fifo_ok;
	}
	f->writable |= writable;
	return asprintf(jail_path, "/%s", f->name) < 0 ? -ENOMEM : 0;
}

/* spec with the value of its "key=" item replaced by val. */
static char *replace_item(const char *spec, const char *key, const char *val)
{
	size_t klen = strlen(key);
	const char *item = spec, *end;
	char *out = NULL;

	for (;;) {
		end = strchr(item, ',');
		if (!end)
			end = item + strlen(item);
		if ((size_t)(end - item) > klen && !strncmp(item, key, klen) && item[klen] == '=')
			break;
		if (!*end)
			return NULL;
		item = end + 1;
	}
	if (asprintf(&out, "%.*s%s=%s%s", (int)(item - spec), spec, key, val, end) < 0)
		return NULL;
	return out;
}

static int plan_option(struct jail_plan *p, void *ctx, const char *name, const char *val, char *why,
		       size_t why_size)
{
	char *jpath = NULL, *spec = NULL, *opt = NULL;
	int err = 0;

	(void)ctx;
	if (!val)
		return 0;
	if (!strcmp(name, "kernel") || !strcmp(name, "initrd")) {
		if (!*val) {
			snprintf(why, why_size, "--%s needs a path", name);
			return -EINVAL;
		}
		err = add_file(p, val, false, false, &jpath, why, why_size);
		*(!strcmp(name, "kernel") ? &p->has_kernel : &p->has_initrd) = true;
	} else if (!strcmp(name, "drive")) {
		struct blk_config *c = calloc(1, sizeof(*c));
		char reason[160];

		if (!c)
			return -ENOMEM;
		if (fields_parse_spec(&blk_fields, val, c, reason, sizeof(reason))) {
			snprintf(why, why_size, "--drive '%s': %s", val, reason);
			err = -EINVAL;
		}
		if (!err)
			err = add_file(p, c->path, !c->read_only, false, &jpath, why, why_size);
		if (!err && !(spec = replace_item(val, "path", jpath)))
			err = -ENOMEM;
		free(c);
	} else if (!strcmp(name, "vsock")) {
		struct vsock_config c;
		char reason[160];

		if (fields_parse_spec(&vsock_fields, val, &c, reason, sizeof(reason))) {
			snprintf(why, why_size, "--vsock '%s': %s", val, reason);
			return -EINVAL;
		}
		free(p->vsock_name);
		p->vsock_name = NULL;
		p->vsock_name = unique_name(p, c.uds);
		if (!p->vsock_name || asprintf(&jpath, "/%s", p->vsock_name) < 0 ||
		    !(spec = replace_item(val, "uds", jpath)))
			err = -ENOMEM;
	}
	if (!err && asprintf(&opt, "--%s", name) < 0)
		err = -ENOMEM;
	if (!err) {
		p->argv[p->argc++] = opt;
		p->argv[p->argc] = spec ? spec : jpath ? jpath : strdup(val);
		if (!p->argv[p->argc])
			err = -ENOMEM;
		else
			p->argc++;
		if (spec)
			free(jpath);
		return err;
	}
	free(opt);
	free(spec);
	free(jpath);
	return err;
}

int jail_plan_make(int argc, char **argv, struct jail_plan *p, char *why, size_t why_size)
{
	static const struct arg_rules rules = {
		.whose = "the volt run arguments",
		.value_opts = value_opts,
		.nvalue_opts = sizeof(value_opts) / sizeof(value_opts[0]),
		.option = plan_option,
	};
	int i, err;

	memset(p, 0, sizeof(*p));
	snprintf(why, why_size, "out of memory");
	/* "--opt=value" becomes two. */
	p->argv = calloc(2 * (size_t)argc + 2, sizeof(*p->argv));
	if (!p->argv)
		return -ENOMEM;
	p->argv[p->argc++] = strdup("run");
	err = plan_args(p, argc, argv, argc && argv[0] && !strcmp(argv[0], "run") ? 1 : 0, &rules,
			NULL, why, why_size);
	for (i = 0; !err && i < p->argc; i++)
		if (!p->argv[i])
			err = -ENOMEM;
	if (err)
		jail_plan_free(p);
	return err;
}

void jail_plan_free(struct jail_plan *p)
{
	int i;

	if (p->argv)
		for (i = 0; i < p->argc; i++)
			free(p->argv[i]);
	free(p->argv);
	for (i = 0; i < p->nfiles; i++) {
		free(p->files[i].src);
		free(p->files[i].name);
	}
	free(p->vsock_name);
	free(p->config_src);
	free(p->sock);
	for (i = 0; i < p->ninside; i++)
		free(p->inside[i]);
	memset(p, 0, sizeof(*p));
}

/* The API front end's options (src/api/api_main.c) that take a value. */
static const char *const api_value_opts[] = {
	"api-sock",
	"id",
	"config-file",
	"log-level",
	"level",
	"log-path",
	"metrics-path",
	"seccomp",
	"landlock",
	"start-time-us",
	"start-time-cpu-us",
	"parent-cpu-time-us",
};

static bool opt_is(const char *arg, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(arg, "--", 2) && !strncmp(arg + 2, name, n) &&
	       (arg[2 + n] == '\0' || arg[2 + n] == '=');
}

bool jail_args_are_api(int argc, char **argv)
{
	return argc > 0 && (opt_is(argv[0], "api-sock") || opt_is(argv[0], "config-file") ||
			    opt_is(argv[0], "no-api") || opt_is(argv[0], "id"));
}

/* path as an absolute path in the jail; refused with "..", which the jailer
 * (making its directories outside, as root) would follow. */
static int inside_path(const char *opt, const char *val, char **out, char *why, size_t why_size)
{
	const char *c = val;

	while (*c == '/')
		c++;
	if (!*c || c[strlen(c) - 1] == '/') {
		snprintf(why, why_size, "--%s '%s': not a file's path", opt, val);
		return -EINVAL;
	}
	for (const char *e; *c; c = *e ? e + 1 : e) {
		e = strchrnul(c, '/');
		if (e - c == 2 && !strncmp(c, "..", 2)) {
			snprintf(why, why_size, "--%s '%s': '..' in a path in the jail", opt, val);
			return -EINVAL;
		}
	}
	while (*val == '/')
		val++;
	return asprintf(out, "/%s", val) < 0 ? -ENOMEM : 0;
}

static int add_inside(struct jail_plan *p, const char *path)
{
	if (p->ninside == JAIL_MAX_INSIDE)
		return -E2BIG;
	p->inside[p->ninside] = strdup(path);
	return p->inside[p->ninside++] ? 0 : -ENOMEM;
}

/* What jail_api_plan_make learns from the options it walks. */
struct api_seen {
	bool no_api, has_id;
};

static int api_option(struct jail_plan *p, void *ctx, const char *name, const char *val, char *why,
		      size_t why_size)
{
	struct api_seen *seen = ctx;
	char *opt = NULL, *v = NULL;
	int err = 0;

	if (!strcmp(name, "no-api"))
		seen->no_api = true;
	if (!val)
		return 0;
	if (!strcmp(name, "id"))
		seen->has_id = true;
	if (!strcmp(name, "api-sock") || !strcmp(name, "log-path") ||
	    !strcmp(name, "metrics-path")) {
		err = inside_path(name, val, &v, why, why_size);
		if (!err)
			err = add_inside(p, v);
		if (!err && !strcmp(name, "api-sock")) {
			free(p->sock);
			p->sock = strdup(v);
			if (!p->sock)
				err = -ENOMEM;
		}
	} else if (!strcmp(name, "config-file")) {
		free(p->config_src);
		p->config_src = strdup(val);
		v = strdup("/" JAIL_CONFIG_NAME);
		if (!p->config_src)
			err = -ENOMEM;
	} else {
		v = strdup(val);
	}
	if (!err && (!v || asprintf(&opt, "--%s", name) < 0))
		err = -ENOMEM;
	if (err) {
		free(v);
		return err;
	}
	p->argv[p->argc++] = opt;
	p->argv[p->argc++] = v;
	return 0;
}

int jail_api_plan_make(int argc, char **argv, const char *id, struct jail_plan *p, char *why,
		       size_t why_size)
{
	static const struct arg_rules rules = {
		.whose = "the VMM's arguments",
		.value_opts = api_value_opts,
		.nvalue_opts = sizeof(api_value_opts) / sizeof(api_value_opts[0]),
		.option = api_option,
	};
	struct api_seen seen = { 0 };
	int i, err;

	memset(p, 0, sizeof(*p));
	p->api = true;
	snprintf(why, why_size, "out of memory");
	/* "--opt=value" becomes two; "--id ID" may be added. */
	p->argv = calloc(2 * (size_t)argc + 3, sizeof(*p->argv));
	if (!p->argv)
		return -ENOMEM;
	err = plan_args(p, argc, argv, 0, &rules, &seen, why, why_size);
	if (!err && !seen.no_api && !p->sock) {
		p->sock = strdup(JAIL_DEFAULT_API_SOCK);
		err = p->sock ? add_inside(p, p->sock) : -ENOMEM;
	}
	if (!err && id && !seen.has_id) {
		p->argv[p->argc++] = strdup("--id");
		p->argv[p->argc++] = strdup(id);
	}
	for (i = 0; !err && i < p->argc; i++)
		if (!p->argv[i])
			err = -ENOMEM;
	if (err == -E2BIG)
		snprintf(why, why_size, "more than %d paths in the jail", JAIL_MAX_INSIDE);
	if (err)
		jail_plan_free(p);
	return err;
}

/* obj's key, a string: joins the files, and becomes its jail path. */
static int rewrite_file(struct jail_plan *p, json_t *obj, const char *key, bool writable,
			bool fifo_ok, char *why, size_t why_size)
{
	json_t *v = json_object_get(obj, key);
	char *jpath = NULL;
	int err;

	if (!json_is_string(v))
		return 0; /* absent or null */
	err = add_file(p, json_string_value(v), writable, fifo_ok, &jpath, why, why_size);
	if (!err && json_object_set_new(obj, key, json_string(jpath)))
		err = -ENOMEM;
	free(jpath);
	return err;
}

int jail_config_rewrite(json_t *root, struct jail_plan *p, char *why, size_t why_size)
{
	json_t *o, *d;
	size_t i;
	int err = 0;

	snprintf(why, why_size, "out of memory");
	o = json_object_get(root, "boot-source");
	if (json_is_object(o)) {
		p->has_kernel = json_is_string(json_object_get(o, "kernel_image_path"));
		p->has_initrd = json_is_string(json_object_get(o, "initrd_path"));
		err = rewrite_file(p, o, "kernel_image_path", false, false, why, why_size);
		if (!err)
			err = rewrite_file(p, o, "initrd_path", false, false, why, why_size);
	}
	o = json_object_get(root, "drives");
	if (json_is_array(o))
		json_array_foreach(o, i, d)
		{
			if (err || !json_is_object(d))
				continue;
			err = rewrite_file(p, d, "path_on_host",
					   !json_is_true(json_object_get(d, "is_read_only")), false,
					   why, why_size);
		}
	o = json_object_get(root, "logger");
	if (!err && json_is_object(o))
		err = rewrite_file(p, o, "log_path", true, true, why, why_size);
	o = json_object_get(root, "metrics");
	if (!err && json_is_object(o))
		err = rewrite_file(p, o, "metrics_path", true, true, why, why_size);
	o = json_object_get(root, "vsock");
	if (!err && json_is_object(o) && json_is_string(json_object_get(o, "uds_path"))) {
		char *jpath = NULL;

		free(p->vsock_name);
		p->vsock_name = NULL; /* unique_name() compares names with it */
		p->vsock_name = unique_name(p, json_string_value(json_object_get(o, "uds_path")));
		if (!p->vsock_name || asprintf(&jpath, "/%s", p->vsock_name) < 0 ||
		    json_object_set_new(o, "uds_path", json_string(jpath)))
			err = -ENOMEM;
		free(jpath);
	}
	return err;
}

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
};

static int parse_id_num(const char *opt, const char *s, unsigned int *out)
{
	if (parse_uint(s, 0, 4294967294U, out)) {
		pr_err("%s '%s': not a number (a numeric id, not a name)", opt, s);
		return -EINVAL;
	}
	return 0;
}

/* A relative path below the cgroup hierarchy's root: no "..", no "//". */
static bool parent_ok(const char *s)
{
	const char *c = s;

	if (!*s || *s == '/')
		return false;
	while (*c) {
		const char *e = strchrnul(c, '/');

		if (e == c || (e - c == 1 && *c == '.') || (e - c == 2 && !strncmp(c, "..", 2)))
			return false;
		c = *e ? e + 1 : e;
	}
	return s[strlen(s) - 1] != '/';
}

static int parse_opts(int argc, char **argv, struct jail_opts *o, int *first_run_arg)
{
	static const struct option longopts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "uid", required_argument, NULL, 'u' },
		{ "gid", required_argument, NULL, 'g' },
		{ "chroot-base", required_argument, NULL, 'b' },
		{ "netns", required_argument, NULL, 'n' },
		{ "cgroup", required_argument, NULL, 'c' },
		{ "cgroup-version", required_argument, NULL, 'V' },
		{ "parent-cgroup", required_argument, NULL, 'P' },
		{ "rlimit", required_argument, NULL, 'r' },
		{ "daemonize", no_argument, NULL, 'd' },
		{ "new-pid-ns", no_argument, NULL, 'p' },
		{ "allow-root", no_argument, NULL, 'R' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char why[160];
	unsigned int n;
	int c;

	memset(o, 0, sizeof(*o));
	o->base = DEFAULT_BASE;
	o->parent = DEFAULT_PARENT;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (jail_id_check(optarg, why, sizeof(why))) {
				pr_err("--id '%s': %s", optarg, why);
				return -EINVAL;
			}
			o->id = optarg;
			break;
		case 'u':
			if (parse_id_num("--uid", optarg, &n))
				return -EINVAL;
			o->uid = n;
			o->has_uid = true;
			break;
		case 'g':
			if (parse_id_num("--gid", optarg, &n))
				return -EINVAL;
			o->gid = n;
			o->has_gid = true;
			break;
		case 'b':
			o->base = optarg;
			break;
		case 'n':
			o->netns = optarg;
			break;
		case 'c':
			if (o->ncgroups == JAIL_MAX_CGROUP) {
				pr_err("--cgroup: at most %d", JAIL_MAX_CGROUP);
				return -EINVAL;
			}
			if (jail_cgroup_parse(optarg, &o->cgroups[o->ncgroups], why, sizeof(why))) {
				pr_err("--cgroup '%s': %s", optarg, why);
				return -EINVAL;
			}
			o->ncgroups++;
			break;
		case 'V':
			if (parse_uint(optarg, 1, 2, &n)) {
				pr_err("--cgroup-version '%s': 1 or 2", optarg);
				return -EINVAL;
			}
			o->cgroup_version = (int)n;
			break;
		case 'P':
			if (!parent_ok(optarg)) {
				pr_err("--parent-cgroup '%s': a relative path without '.' or '..'",
				       optarg);
				return -EINVAL;
			}
			o->parent = optarg;
			break;
		case 'r':
			if (o->nrlimits == JAIL_MAX_RLIMIT) {
				pr_err("--rlimit: at most %d", JAIL_MAX_RLIMIT);
				return -EINVAL;
			}
			if (jail_rlimit_parse(optarg, &o->rl_res[o->nrlimits],
					      &o->rl_val[o->nrlimits], why, sizeof(why))) {
				pr_err("--rlimit '%s': %s", optarg, why);
				return -EINVAL;
			}
			o->nrlimits++;
			break;
		case 'd':
			o->daemonize = true;
			break;
		case 'p':
			o->new_pid_ns = true;
			break;
		case 'R':
			o->allow_root = true;
			break;
		case 'l':
			if (log_level_option(optarg))
				return -EINVAL;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			fputs(usage, stderr);
			return -EINVAL;
		}
	}
	if (!o->id || !o->has_uid || !o->has_gid) {
		pr_err("volt jail: --id, --uid and --gid are required");
		fputs(usage, stderr);
		return -EINVAL;
	}
	/* Root's uid or group in the jail, even without capabilities, owns or
	 * may write what root does on the host's files the jail holds: only when
	 * asked for in so many words. */
	if ((o->uid == 0 || o->gid == 0) && !o->allow_root) {
		pr_err("--%s 0: the VMM would run as root's %s; pass --allow-root to mean it",
		       o->uid == 0 ? "uid" : "gid", o->uid == 0 ? "user" : "group");
		return -EINVAL;
	}
	if (o->base[0] != '/') {
		pr_err("--chroot-base '%s': must be an absolute path", o->base);
		return -EINVAL;
	}
	*first_run_arg = optind;
	return 0;
}

/* Where the guest kit lives, for a jail without --kernel / --initrd. */
static int find_guest_kit(char *kernel, size_t ksize, char *initrd, size_t isize)
{
	struct rootfs_opts ro = { .format = rootfs_default_format() };
	struct kernel_spec spec;
	struct kernel_entry e;
	int err;

	err = kernel_spec_resolve(&spec, NULL, NULL, NULL, false);
	if (err)
		return err;
	err = kernel_find(&spec, &e);
	kernel_spec_free(&spec);
	if (err) {
		pr_err("no --kernel, and the guest kit's kernel is not built: run "
		       "'volt kernel build' first");
		return err;
	}
	if (kernel_entry_path(&e, "vmlinux", kernel, ksize))
		return -ENAMETOOLONG;
	return initrd ? rootfs_get(&ro, initrd, isize) : 0;
}

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
	int cap;

	for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
			return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -errno;
	if (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid))
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

static int wait_child(pid_t pid)
{
	sigset_t set;
	int sig, status;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGCHLD);
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
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGHUP);
		sigaddset(&set, SIGQUIT);
		sigaddset(&set, SIGCHLD);
		sigprocmask(SIG_BLOCK, &set, &old);
		child_pid = fork();
		if (child_pid < 0)
			return -errno;
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

static int daemonize(int devnull)
{
	pid_t pid;

	if (setsid() < 0) {
		/* A process group leader cannot; its child can. */
		pid = fork();
		if (pid < 0)
			return -errno;
		if (pid > 0)
			_exit(0);
		if (setsid() < 0)
			return -errno;
	}
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
			pr_err("--rlimit: %s", strerror(errno));
			return -errno;
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

/* --config-file, read and checked outside the jail with the API's parser,
 * its files added to the plan, rewritten to jail paths into *text. */
static int load_config(struct jail_plan *p, char **text)
{
	struct api_config *cfg = NULL;
	char why[512], *buf = NULL;
	json_t *j = NULL;
	size_t len;
	int err;

	err = read_input(p->config_src, 1 << 20, &buf, &len, why, sizeof(why));
	if (err) {
		pr_err("--config-file '%s': %s", p->config_src, why);
		return err;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		err = -ENOMEM;
		goto out;
	}
	api_config_init(cfg);
	j = api_json_parse(buf, len, why, sizeof(why));
	err = j ? api_config_from_json(cfg, j, why, sizeof(why)) : -EINVAL;
	if (!err)
		err = jail_config_rewrite(j, p, why, sizeof(why));
	if (err) {
		pr_err("--config-file '%s': %s", p->config_src, why);
		goto out;
	}
	*text = json_dumps(j, JSON_INDENT(2));
	if (!*text)
		err = -ENOMEM;
out:
	json_decref(j);
	free(cfg);
	free(buf);
	return err;
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

int jail_cmd(int argc, char **argv)
{
	char kernel[PATH_MAX], initrd[PATH_MAX], top[PATH_MAX], root[PATH_MAX], why[200];
	char *env_host = NULL, **run_argv = NULL, **exec_argv = NULL, *config_text = NULL;
	int fds[JAIL_MAX_FILES], basefd = -1, rootfd = -1;
	struct stat sts[JAIL_MAX_FILES];
	struct jail_plan plan = { 0 };
	struct jail_opts o;
	int first, nrun, i, err, devnull = -1;
	bool made = false, api;

	for (i = 0; i < JAIL_MAX_FILES; i++)
		fds[i] = -1;
	err = parse_opts(argc, argv, &o, &first);
	if (err)
		return err > 0 ? 0 : err;
	if (geteuid() != 0) {
		pr_err("volt jail needs root (it makes device nodes, a cgroup and namespaces)");
		return -EPERM;
	}
	/* Nothing the caller left open reaches the VMM. */
	if (syscall(SYS_close_range, 3U, ~0U, 0U))
		for (i = 3; i < 1024; i++)
			close(i);

	nrun = argc - first;
	run_argv = calloc((size_t)nrun + 5, sizeof(*run_argv));
	if (!run_argv)
		return -ENOMEM;
	for (i = 0; i < nrun; i++)
		run_argv[i] = argv[first + i];
	api = jail_args_are_api(nrun, run_argv);
	err = api ? jail_api_plan_make(nrun, run_argv, o.id, &plan, why, sizeof(why))
		  : jail_plan_make(nrun, run_argv, &plan, why, sizeof(why));
	if (err) {
		pr_err("volt jail: %s", why);
		goto out;
	}
	if (api && plan.config_src) {
		err = load_config(&plan, &config_text);
		if (err)
			goto out;
	}
	if (!api && !plan.has_kernel) {
		/* As volt run would: the guest kit, found outside the jail. */
		err = find_guest_kit(kernel, sizeof(kernel), plan.has_initrd ? NULL : initrd,
				     sizeof(initrd));
		if (err)
			goto out;
		run_argv[nrun++] = "--kernel";
		run_argv[nrun++] = kernel;
		if (!plan.has_initrd) {
			run_argv[nrun++] = "--initrd";
			run_argv[nrun++] = initrd;
		}
		jail_plan_free(&plan);
		err = jail_plan_make(nrun, run_argv, &plan, why, sizeof(why));
		if (err) {
			pr_err("volt jail: %s", why);
			goto out;
		}
	}
	err = open_sources(&plan, &o, fds, sts);
	if (err)
		goto out;

	/* /sys is not in the jail: tell the VMM what kind of host it runs on. */
	if (asprintf(&env_host, "VOLT_HOST=%s", host_is_pvm() ? "pvm" : "vt") < 0) {
		err = -ENOMEM;
		goto out;
	}
	clearenv();

	err = jail_open_base(o.base, &basefd);
	if (!err && (path_fmt(top, sizeof(top), "%s/volt/%s", o.base, o.id) ||
		     path_fmt(root, sizeof(root), "%s/root", top)))
		err = -ENAMETOOLONG;
	if (!err)
		err = jail_make_root(basefd, o.base, o.id, &rootfd);
	if (err)
		goto out;
	made = true;
	err = jail_put_volt(rootfd);
	for (i = 0; !err && i < plan.nfiles; i++)
		err = jail_put_file(rootfd, fds[i], &sts[i], &plan.files[i], o.uid, o.gid);
	if (!err)
		err = jail_make_devices(rootfd, o.uid, o.gid);
	if (!err && api)
		err = put_api_files(&o, &plan, rootfd, config_text);
	if (!err)
		err = jail_seal_root(rootfd, o.uid, o.gid);
	if (err)
		goto out;
	for (i = 0; i < plan.nfiles; i++) {
		close(fds[i]);
		fds[i] = -1;
	}
	if (o.daemonize) {
		devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (devnull < 0) {
			err = -errno;
			goto out;
		}
	}
	err = set_rlimits(&o);
	if (!err && o.netns)
		err = join_netns(o.netns);
	/* Last of what can fail here: a cgroup cannot be removed while we are in it. */
	if (!err && o.ncgroups)
		err = jail_cgroup_setup(o.parent, o.id, o.cgroups, o.ncgroups, o.cgroup_version);
	if (err)
		goto out;
	if (plan.vsock_name)
		pr_info("jail: the vsock socket is %s/%s", root, plan.vsock_name);
	if (plan.sock)
		pr_info("jail: the API socket is %s%s", root, plan.sock);
	if (o.daemonize && (err = daemonize(devnull)))
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
	exec_argv = calloc((size_t)plan.argc + 2, sizeof(*exec_argv));
	if (!exec_argv) {
		err = -ENOMEM;
		goto out;
	}
	exec_argv[0] = "volt";
	for (i = 0; i < plan.argc; i++)
		exec_argv[i + 1] = plan.argv[i];
	{
		char *envp[] = { env_host, NULL };

		err = run_jailed(&o, exec_argv, envp);
	}
out:
	if (made)
		rm_rf(top);
	for (i = 0; i < JAIL_MAX_FILES; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (rootfd >= 0)
		close(rootfd);
	if (basefd >= 0)
		close(basefd);
	if (devnull >= 0)
		close(devnull);
	free(exec_argv);
	free(env_host);
	free(config_text);
	jail_plan_free(&plan);
	free(run_argv);
	return err;
}
