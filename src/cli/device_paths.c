/* The jailer's view of the host paths in device configuration, from the
 * device table's path fields (cli/device_paths.h): no device is named here. */
#include "cli/device_paths.h"

#include "devices/device_table.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATHS 8

/* fields_rewrite_*()'s callback over a cli_path_fn. A path field's access
 * is what the device may do at most; paths[] (from the kind's host_paths(),
 * when the configuration parsed) says what this configuration needs, e.g.
 * read only for a read-only drive. */
struct rewrite {
	cli_path_fn fn;
	void *ctx;
	struct device_path paths[MAX_PATHS];
	int npaths;
	char *made[MAX_PATHS]; /* fn's answers, freed by the caller */
	int nmade;
	char *why;
	size_t why_size;
};

static enum cli_path path_kind(enum field_access a, bool block_ok)
{
	switch (a) {
	case FIELD_ACCESS_READ:
		return block_ok ? CLI_PATH_DISK_IN : CLI_PATH_IN;
	case FIELD_ACCESS_READ_WRITE:
		return block_ok ? CLI_PATH_DISK_INOUT : CLI_PATH_INOUT;
	case FIELD_ACCESS_SOCKET_CREATE:
		return CLI_PATH_SOCK;
	default:
		return CLI_PATH_NONE;
	}
}

static const char *rewrite_one(void *ctx, const struct field *f, const char *value, int *err)
{
	struct rewrite *r = ctx;
	enum field_access access = f->access;
	char *jail_path = NULL;
	bool block_ok = false;

	for (int i = 0; i < r->npaths; i++)
		if (!strcmp(r->paths[i].path, value)) {
			access = r->paths[i].access;
			block_ok = r->paths[i].block_ok;
		}
	if (r->nmade == MAX_PATHS) {
		*err = -E2BIG;
		return NULL;
	}
	*err = r->fn(r->ctx, path_kind(access, block_ok), value, &jail_path, r->why, r->why_size);
	if (*err)
		return NULL;
	r->made[r->nmade++] = jail_path;
	return jail_path;
}

static void rewrite_done(struct rewrite *r)
{
	for (int i = 0; i < r->nmade; i++)
		free(r->made[i]);
}

int cli_device_spec_paths(const char *opt, const char *val, cli_path_fn fn, void *ctx, char **out,
			  char *why, size_t why_size)
{
	const struct device_kind *k = device_kind_by_option(opt);
	struct rewrite r = { .fn = fn, .ctx = ctx, .why = why, .why_size = why_size };
	struct device_config *d;
	char reason[256], *buf;
	int err;

	*out = NULL;
	/* A kind naming no host file (--net, --balloon) is the VMM's to check. */
	if (!k || !device_kind_path_fields(k, NULL, 0))
		return (*out = strdup(val)) ? 0 : -ENOMEM;
	d = malloc(sizeof(*d));
	buf = malloc(2 * PATH_MAX);
	if (!d || !buf) {
		free(d);
		free(buf);
		return -ENOMEM;
	}
	/* The device's own rules check the whole value before the jail is made. */
	err = device_config_from_spec(k, val, d, reason, sizeof(reason));
	if (err) {
		snprintf(why, why_size, "--%s '%s': %s", opt, val, reason);
	} else {
		r.npaths = k->host_paths ? k->host_paths(d->data, r.paths, MAX_PATHS) : 0;
		err = device_rewrite_spec(k, val, rewrite_one, &r, buf, 2 * PATH_MAX);
		if (!err && !(*out = strdup(buf)))
			err = -ENOMEM;
	}
	rewrite_done(&r);
	free(buf);
	free(d);
	return err;
}

int cli_json_rewrite_path(json_t *obj, const char *key, enum cli_path kind, cli_path_fn fn,
			  void *ctx, char *why, size_t why_size)
{
	json_t *v = json_object_get(obj, key);
	char *jpath = NULL;
	int err;

	if (!json_is_string(v))
		return 0; /* absent or null */
	err = fn(ctx, kind, json_string_value(v), &jpath, why, why_size);
	if (!err && json_object_set_new(obj, key, json_string(jpath)))
		err = -ENOMEM;
	free(jpath);
	return err;
}

/* One device object of a configuration document. Keys that are not the
 * device's fields (drive_id, rate limiters...) are left out of the parse
 * that finds what the configuration needs. */
static int config_device(const struct device_kind *k, json_t *obj, struct rewrite *r)
{
	struct device_config *d = malloc(sizeof(*d));
	json_t *mine = json_object();
	const char *key;
	json_t *v;
	char reason[256];
	int err;

	if (!d || !mine) {
		free(d);
		json_decref(mine);
		return -ENOMEM;
	}
	json_object_foreach(obj, key, v)
	{
		if (fields_find_json(k->fields, key))
			json_object_set(mine, key, v);
	}
	r->npaths = 0;
	if (!device_config_from_json(k, k->config_key, mine, NULL, d, reason, sizeof(reason)) &&
	    k->host_paths)
		r->npaths = k->host_paths(d->data, r->paths, MAX_PATHS);
	json_decref(mine);
	r->nmade = 0;
	err = device_rewrite_json(k, obj, rewrite_one, r);
	rewrite_done(r); /* the object holds copies */
	free(d);	 /* r->paths point into it */
	return err;
}

int cli_config_device_paths(json_t *root, cli_path_fn fn, void *ctx, char *why, size_t why_size)
{
	struct rewrite r = { .fn = fn, .ctx = ctx, .why = why, .why_size = why_size };
	int err = 0;

	for (int i = 0; i < device_table_len && !err; i++) {
		const struct device_kind *k = device_table[i];
		json_t *o, *d;
		size_t j;

		if (!k->config_key || !k->fields)
			continue;
		o = json_object_get(root, k->config_key);
		if (json_is_object(o))
			err = config_device(k, o, &r);
		else if (json_is_array(o))
			json_array_foreach(o, j, d)
			{
				if (!err && json_is_object(d))
					err = config_device(k, d, &r);
			}
	}
	return err;
}
