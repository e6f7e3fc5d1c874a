/* The jailer's planning (cli/jail_plan.h): walks a front-end's arguments
 * with its option table and rewrites every host path the table says an
 * option names. */
#include "cli/jail_plan.h"

#include "cli/api_opts.h"
#include "cli/device_paths.h"
#include "cli/run_opts.h"
#include "vmm/vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

/* A jail holds every file of a configuration volt accepts (jail.h). */
_Static_assert(JAIL_MAX_FILES >= 2 * VM_MAX_VIRTIO + 8, "a jail's files for every device");

/* How one front end's arguments are rewritten: its option table, and the
 * handler that appends each option taking a value (rewritten) to the plan.
 * The handler also sees every other option, with val NULL, after the walk
 * has appended it unchanged (o is NULL for an option the table lacks). */
struct arg_rules {
	const char *whose; /* for messages: "the volt run arguments" */
	const struct cli_opt *opts;
	int (*option)(struct jail_plan *p, void *ctx, const struct cli_opt *o, const char *name,
		      const char *val, char *why, size_t why_size);
};

/* Appends argv[from..] to p->argv with "--opt=value" split in two: options
 * taking a value go through r->option, everything else passes unchanged. */
static int plan_args(struct jail_plan *p, int argc, char **argv, int from,
		     const struct arg_rules *r, void *ctx, char *why, size_t why_size)
{
	int i, err = 0;

	for (i = from; i < argc && !err; i++) {
		const char *a = argv[i], *eq;
		const struct cli_opt *o;
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
		o = cli_opt_find(r->opts, a + 2, len);
		value = o && o->value;
		if (value && !eq && i + 1 == argc) {
			snprintf(why, why_size, "%s needs a value", a);
			return -EINVAL;
		}
		if (!value)
			p->argv[p->argc++] = strdup(a);
		name = strndup(a + 2, len);
		err = name ? r->option(p, ctx, o, name, value ? (eq ? eq + 1 : argv[++i]) : NULL,
				       why, why_size)
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

	if (reserved(name) || (p->socket_name && !strcmp(p->socket_name, name)))
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
		    bool block_ok, char **jail_path, char *why, size_t why_size)
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
		f->block_ok = block_ok;
		p->nfiles++;
	} else {
		/* Named twice: what both uses allow. */
		f->fifo_ok = f->fifo_ok && fifo_ok;
		f->block_ok = f->block_ok && block_ok;
	}
	f->writable |= writable;
	return asprintf(jail_path, "/%s", f->name) < 0 ? -ENOMEM : 0;
}

/* A socket the VMM makes: a name in the root, the file itself is the VMM's. */
static int add_socket(struct jail_plan *p, const char *src, char **jail_path)
{
	free(p->socket_name);
	p->socket_name = NULL; /* unique_name() compares names with it */
	p->socket_name = unique_name(p, src);
	if (!p->socket_name || asprintf(jail_path, "/%s", p->socket_name) < 0)
		return -ENOMEM;
	return 0;
}

/* A cli_path_fn: a host path, of the kind its option's table entry (or
 * the device's spec) gives, as the VMM names it in the jail. */
static int host_path(void *ctx, enum cli_path kind, const char *src, char **jail_path, char *why,
		     size_t why_size)
{
	struct jail_plan *p = ctx;
	bool disk = kind == CLI_PATH_DISK_IN || kind == CLI_PATH_DISK_INOUT;
	bool writable =
		kind == CLI_PATH_INOUT || kind == CLI_PATH_DISK_INOUT || kind == CLI_PATH_OUT;

	switch (kind) {
	case CLI_PATH_IN:
	case CLI_PATH_INOUT:
	case CLI_PATH_OUT:
	case CLI_PATH_DISK_IN:
	case CLI_PATH_DISK_INOUT:
		return add_file(p, src, writable, kind == CLI_PATH_OUT, disk, jail_path, why,
				why_size);
	case CLI_PATH_SOCK:
		return add_socket(p, src, jail_path);
	case CLI_PATH_DIR:
		/* --restore: the snapshot's files are not carried into a jail yet. */
		snprintf(why, why_size,
			 "'%s': a snapshot directory cannot be carried into the jail (restore "
			 "through the API: PUT /snapshot/load with files in the jail)",
			 src);
		return -EINVAL;
	default:
		snprintf(why, why_size, "'%s': the jail holds no directory or configuration file",
			 src);
		return -EINVAL;
	}
}

/* Appends "--name" and its value to the plan's arguments; takes value. */
static int append_option(struct jail_plan *p, const char *name, char *value)
{
	char *opt = NULL;

	if (!value || asprintf(&opt, "--%s", name) < 0) {
		free(value);
		return -ENOMEM;
	}
	p->argv[p->argc++] = opt;
	p->argv[p->argc++] = value;
	return 0;
}

static int plan_option(struct jail_plan *p, void *ctx, const struct cli_opt *o, const char *name,
		       const char *val, char *why, size_t why_size)
{
	char *v = NULL;
	int err = 0;

	(void)ctx;
	if (!val)
		return 0;
	if (o->spec_paths) {
		err = o->spec_paths(name, val, host_path, p, &v, why, why_size);
	} else if (o->path != CLI_PATH_NONE) {
		if (!*val) {
			snprintf(why, why_size, "--%s needs a path", name);
			return -EINVAL;
		}
		err = host_path(p, o->path, val, &v, why, why_size);
		/* Without them, the jailer puts the guest kit's in. */
		if (!strcmp(name, "kernel"))
			p->has_kernel = true;
		if (!strcmp(name, "initrd"))
			p->has_initrd = true;
	} else {
		v = strdup(val);
	}
	if (err) {
		free(v);
		return err;
	}
	return append_option(p, name, v);
}

int jail_plan_make(int argc, char **argv, struct jail_plan *p, char *why, size_t why_size)
{
	static const struct arg_rules rules = {
		.whose = "the volt run arguments",
		.opts = run_opts,
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

static int api_option(struct jail_plan *p, void *ctx, const struct cli_opt *o, const char *name,
		      const char *val, char *why, size_t why_size)
{
	struct api_seen *seen = ctx;
	char *v = NULL;
	int err = 0;

	if (!strcmp(name, "no-api"))
		seen->no_api = true;
	if (!val)
		return 0;
	if (!strcmp(name, "id"))
		seen->has_id = true;
	switch (o->path) {
	case CLI_PATH_SOCK:
	case CLI_PATH_OUT:
		/* What the VMM makes, it makes in the jail, where its user may. */
		err = inside_path(name, val, &v, why, why_size);
		if (!err)
			err = add_inside(p, v);
		/* The VMM would find it too long only in the jail, which a failed
		 * start leaves behind (the id is then taken). */
		if (!err && o->path == CLI_PATH_SOCK &&
		    strlen(v) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			snprintf(why, why_size, "--%s '%s': longer than %zu bytes in the jail",
				 name, v, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			err = -ENAMETOOLONG;
		}
		if (!err && o->path == CLI_PATH_SOCK) {
			free(p->sock);
			p->sock = strdup(v);
			if (!p->sock)
				err = -ENOMEM;
		}
		break;
	case CLI_PATH_DIR:
		/* --snapshot-dir: a directory in the jail, made for the VMM's user
		 * (jail_make_parent makes the parents of "<dir>/."). */
		err = inside_path(name, val, &v, why, why_size);
		if (!err) {
			char *dot = NULL;

			err = asprintf(&dot, "%s/.", v) < 0 ? -ENOMEM : add_inside(p, dot);
			free(dot);
		}
		break;
	case CLI_PATH_CONFIG:
		/* Read here; its files go into the jail (jail_config_rewrite). */
		free(p->config_src);
		p->config_src = strdup(val);
		v = strdup("/" JAIL_CONFIG_NAME);
		if (!p->config_src)
			err = -ENOMEM;
		break;
	case CLI_PATH_NONE:
		v = strdup(val);
		break;
	default:
		err = host_path(p, o->path, val, &v, why, why_size);
		break;
	}
	if (err) {
		free(v);
		return err;
	}
	return append_option(p, name, v);
}

int jail_api_plan_make(int argc, char **argv, const char *id, struct jail_plan *p, char *why,
		       size_t why_size)
{
	static const struct arg_rules rules = {
		.whose = "the VMM's arguments",
		.opts = api_opts,
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

int jail_config_rewrite(json_t *root, struct jail_plan *p, char *why, size_t why_size)
{
	json_t *o;
	int err = 0;

	snprintf(why, why_size, "out of memory");
	o = json_object_get(root, "boot-source");
	if (json_is_object(o)) {
		p->has_kernel = json_is_string(json_object_get(o, "kernel_image_path"));
		p->has_initrd = json_is_string(json_object_get(o, "initrd_path"));
		err = cli_json_rewrite_path(o, "kernel_image_path", CLI_PATH_IN, host_path, p, why,
					    why_size);
		if (!err)
			err = cli_json_rewrite_path(o, "initrd_path", CLI_PATH_IN, host_path, p,
						    why, why_size);
	}
	if (!err)
		err = cli_config_device_paths(root, host_path, p, why, why_size);
	/* A CPU template may be a file's path (CustomCpuTemplateOrPath). */
	if (!err)
		err = cli_json_rewrite_path(root, "cpu-config", CLI_PATH_IN, host_path, p, why,
					    why_size);
	o = json_object_get(root, "logger");
	if (!err && json_is_object(o))
		err = cli_json_rewrite_path(o, "log_path", CLI_PATH_OUT, host_path, p, why,
					    why_size);
	o = json_object_get(root, "metrics");
	if (!err && json_is_object(o))
		err = cli_json_rewrite_path(o, "metrics_path", CLI_PATH_OUT, host_path, p, why,
					    why_size);
	return err;
}
