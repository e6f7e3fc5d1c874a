/* Which key of which device's configuration names a host path: a stand-in
 * for the device table's path fields (cli/device_paths.h). */
#include "cli/device_paths.h"

#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_vsock.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The device's own parser checks the whole spec and finds the path. */
static int find_path(const char *opt, const char *val, char *path, size_t size, enum cli_path *kind,
		     const char **key, char *why, size_t why_size)
{
	char reason[160];
	int err = 0;

	if (!strcmp(opt, "drive")) {
		struct blk_config *c = calloc(1, sizeof(*c));

		if (!c)
			return -ENOMEM;
		err = blk_config_parse(val, c, reason, sizeof(reason));
		if (!err) {
			snprintf(path, size, "%s", c->path);
			*kind = c->read_only ? CLI_PATH_IN : CLI_PATH_INOUT;
			*key = "path";
		}
		free(c);
	} else if (!strcmp(opt, "vsock")) {
		struct vsock_config c;

		err = vsock_config_parse(val, &c, reason, sizeof(reason));
		if (!err) {
			snprintf(path, size, "%s", c.uds);
			*kind = CLI_PATH_SOCK;
			*key = "uds";
		}
	}
	if (err) {
		snprintf(why, why_size, "--%s '%s': %s", opt, val, reason);
		return -EINVAL;
	}
	return 0;
}

int cli_device_spec_paths(const char *opt, const char *val, cli_path_fn fn, void *ctx, char **out,
			  char *why, size_t why_size)
{
	enum cli_path kind = CLI_PATH_NONE;
	const char *key = NULL;
	char *path, *jpath = NULL;
	int err;

	*out = NULL;
	path = malloc(PATH_MAX);
	if (!path)
		return -ENOMEM;
	err = find_path(opt, val, path, PATH_MAX, &kind, &key, why, why_size);
	if (!err && key) {
		err = fn(ctx, kind, path, &jpath, why, why_size);
		if (!err && !(*out = replace_item(val, key, jpath)))
			err = -ENOMEM;
	} else if (!err && !(*out = strdup(val))) {
		err = -ENOMEM;
	}
	free(jpath);
	free(path);
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

int cli_config_device_paths(json_t *root, cli_path_fn fn, void *ctx, char *why, size_t why_size)
{
	json_t *o, *d;
	size_t i;
	int err = 0;

	o = json_object_get(root, "drives");
	if (json_is_array(o))
		json_array_foreach(o, i, d)
		{
			if (err || !json_is_object(d))
				continue;
			err = cli_json_rewrite_path(d, "path_on_host",
						    json_is_true(json_object_get(d, "is_read_only"))
							    ? CLI_PATH_IN
							    : CLI_PATH_INOUT,
						    fn, ctx, why, why_size);
		}
	o = json_object_get(root, "vsock");
	if (!err && json_is_object(o))
		err = cli_json_rewrite_path(o, "uds_path", CLI_PATH_SOCK, fn, ctx, why, why_size);
	return err;
}
