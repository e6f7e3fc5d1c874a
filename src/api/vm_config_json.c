/* Firecracker's JSON configuration <-> struct api_config <-> struct vm_config.
 * Each object is checked against a field table before anything is stored, so
 * a rejected request leaves the configuration as it was. */
#include "api/vm_config_json.h"

#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "devices/device_table.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

enum ftype {
	F_STR,	       /* string copied into out[size]; min = shortest length */
	F_BOOL,	       /* bool */
	F_UINT,	       /* uint64_t in [min, max] */
	F_UNSUPPORTED, /* only null: a rate limiter, vhost-user... */
	F_ANY_STR,     /* a string that is accepted and ignored */
};

struct api_field {
	const char *name;
	enum ftype type;
	bool required;
	void *out;
	size_t size;
	uint64_t min, max;
	bool *seen; /* may be NULL: set when present and not null */
};

static int fail(char *why, size_t why_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t why_size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_size, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int fields_get(const char *obj, json_t *j, const struct api_field *f, size_t n, char *why,
		      size_t why_size)
{
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(j))
		return fail(why, why_size, "%s: expected a JSON object, got %s", obj,
			    j ? fields_json_type(j) : "nothing");
	json_object_foreach(j, key, v)
	{
		for (i = 0; i < n && strcmp(key, f[i].name); i++)
			;
		if (i == n)
			return fail(why, why_size, "%s: unknown field '%s'", obj, key);
	}
	/* Check everything first, store afterwards: all or nothing. */
	for (i = 0; i < n; i++) {
		v = json_object_get(j, f[i].name);
		if (!v || json_is_null(v)) {
			if (f[i].required)
				return fail(why, why_size, "%s: missing required field '%s'", obj,
					    f[i].name);
			continue;
		}
		switch (f[i].type) {
		case F_STR:
			if (!json_is_string(v))
				return fail(why, why_size, "%s: %s: expected a string, got %s", obj,
					    f[i].name, fields_json_type(v));
			if (json_string_length(v) >= f[i].size)
				return fail(why, why_size, "%s: %s: longer than %zu bytes", obj,
					    f[i].name, f[i].size - 1);
			if (json_string_length(v) < f[i].min)
				return fail(why, why_size, "%s: %s: must not be empty", obj,
					    f[i].name);
			if (strlen(json_string_value(v)) != json_string_length(v))
				return fail(why, why_size, "%s: %s: contains a NUL byte", obj,
					    f[i].name);
			break;
		case F_ANY_STR:
			if (!json_is_string(v))
				return fail(why, why_size, "%s: %s: expected a string, got %s", obj,
					    f[i].name, fields_json_type(v));
			break;
		case F_BOOL:
			if (!json_is_boolean(v))
				return fail(why, why_size, "%s: %s: expected a boolean, got %s",
					    obj, f[i].name, fields_json_type(v));
			break;
		case F_UINT:
			if (!json_is_integer(v))
				return fail(why, why_size, "%s: %s: expected an integer, got %s",
					    obj, f[i].name, fields_json_type(v));
			if (json_integer_value(v) < 0 ||
			    (uint64_t)json_integer_value(v) < f[i].min ||
			    (uint64_t)json_integer_value(v) > f[i].max)
				return fail(why, why_size,
					    "%s: %s: %" JSON_INTEGER_FORMAT
					    " is out of range (%" PRIu64 " to %" PRIu64 ")",
					    obj, f[i].name, json_integer_value(v), f[i].min,
					    f[i].max);
			break;
		case F_UNSUPPORTED:
			return fail(why, why_size, "%s: %s: not supported by volt (only null)", obj,
				    f[i].name);
		}
	}
	for (i = 0; i < n; i++) {
		v = json_object_get(j, f[i].name);
		if (!v || json_is_null(v))
			continue;
		if (f[i].seen)
			*f[i].seen = true;
		if (!f[i].out)
			continue;
		switch (f[i].type) {
		case F_STR:
			memcpy(f[i].out, json_string_value(v), json_string_length(v) + 1);
			break;
		case F_BOOL:
			*(bool *)f[i].out = json_is_true(v);
			break;
		case F_UINT:
			*(uint64_t *)f[i].out = (uint64_t)json_integer_value(v);
			break;
		default:
			break;
		}
	}
	return 0;
}

void api_config_init(struct api_config *c)
{
	memset(c, 0, sizeof(*c));
	c->vcpus = 1;
	c->mem_mib = API_DEFAULT_MEM_MIB;
	snprintf(c->cpu_template, sizeof(c->cpu_template), "None");
}

json_t *api_json_parse(const char *buf, size_t len, char *why, size_t why_size)
{
	json_error_t e;
	json_t *j;

	if (!len) {
		fail(why, why_size, "empty body: expected a JSON object");
		return NULL;
	}
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
	if (!j)
		fail(why, why_size, "invalid JSON at line %d, column %d: %s", e.line, e.column,
		     e.text);
	return j;
}

int api_put_boot_source(struct api_config *c, json_t *j, char *why, size_t why_size)
{
	char kernel[PATH_MAX], initrd[PATH_MAX] = "";
	char args[API_CMDLINE_MAX];
	bool has_args = false;
	const struct api_field f[] = {
		{ "kernel_image_path", F_STR, true, kernel, sizeof(kernel), 1, 0, NULL },
		{ "initrd_path", F_STR, false, initrd, sizeof(initrd), 1, 0, NULL },
		{ "boot_args", F_STR, false, args, sizeof(args), 0, 0, &has_args },
	};
	int err = fields_get("boot-source", j, f, sizeof(f) / sizeof(f[0]), why, why_size);

	if (err)
		return err;
	c->has_boot = true;
	memcpy(c->kernel, kernel, sizeof(kernel));
	memcpy(c->initrd, initrd, sizeof(initrd));
	c->has_boot_args = has_args;
	if (has_args)
		memcpy(c->boot_args, args, sizeof(args));
	return 0;
}

/* Firecracker's template names onto volt's (cpuid_template_find). */
static int cpu_template_check(const char *name, char *why, size_t why_size)
{
	if (!strcmp(name, "None") || cpuid_template_find(name))
		return 0;
	return fail(why, why_size,
		    "machine-config: cpu_template: '%s' is not one of volt's templates (%s)", name,
		    cpuid_template_names());
}

int api_put_machine_config(struct api_config *c, json_t *j, bool patch, char *why, size_t why_size)
{
	uint64_t vcpus = patch ? c->vcpus : 1, mem = patch ? c->mem_mib : API_DEFAULT_MEM_MIB;
	bool smt = false, dirty = false;
	char tmpl[sizeof(c->cpu_template)], huge[8] = "None";
	const struct api_field f[] = {
		{ "vcpu_count", F_UINT, !patch, &vcpus, 0, 1, VM_MAX_CPUS, NULL },
		{ "mem_size_mib", F_UINT, !patch, &mem, 0, LAYOUT_MEM_MIN >> 20,
		  LAYOUT_MEM_MAX >> 20, NULL },
		{ "smt", F_BOOL, false, &smt, 0, 0, 0, NULL },
		{ "track_dirty_pages", F_BOOL, false, &dirty, 0, 0, 0, NULL },
		{ "cpu_template", F_STR, false, tmpl, sizeof(tmpl), 1, 0, NULL },
		{ "huge_pages", F_STR, false, huge, sizeof(huge), 1, 0, NULL },
	};
	int err;

	snprintf(tmpl, sizeof(tmpl), "%s", patch ? c->cpu_template : "None");
	err = fields_get("machine-config", j, f, sizeof(f) / sizeof(f[0]), why, why_size);
	if (err)
		return err;
	if (smt)
		return fail(why, why_size,
			    "machine-config: smt: true is not supported by volt (each vCPU is "
			    "its own core)");
	if (dirty)
		return fail(why, why_size,
			    "machine-config: track_dirty_pages: true is not supported by volt "
			    "(no snapshots)");
	if (strcmp(huge, "None"))
		return fail(why, why_size,
			    "machine-config: huge_pages: '%s' is not supported by volt (only "
			    "\"None\")",
			    huge);
	err = cpu_template_check(tmpl, why, why_size);
	if (err)
		return err;
	c->vcpus = (unsigned int)vcpus;
	c->mem_mib = (unsigned int)mem;
	c->smt = smt;
	c->track_dirty_pages = dirty;
	memcpy(c->cpu_template, tmpl, sizeof(tmpl));
	return 0;
}

static int id_check(const char *obj, const char *field, const char *id, const char *path_id,
		    char *why, size_t why_size)
{
	char reason[160];

	if (parse_id_check(id, reason, sizeof(reason)))
		return fail(why, why_size, "%s: %s: %s", obj, field, reason);
	if (path_id && strcmp(id, path_id))
		return fail(why, why_size, "%s: %s: '%s' does not match the id in the path ('%s')",
			    obj, field, id, path_id);
	return 0;
}

static int enum_pick(const char *obj, const char *field, const char *s, const char *const *names,
		     int n, char *why, size_t why_size)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return fail(why, why_size, "%s: %s: '%s' is not %s or %s", obj, field, s, names[0],
		    names[1]);
}

/* A device's PUT body holds the device's own fields (parsed by its field
 * set, the CLI's rules) and the API's (ids, root device, rate limiters...).
 * The JSON object is split by key: api_keys go to *api, the rest to *dev.
 * Unknown keys end up in *dev, where the device's parser names them. */
static int split_keys(json_t *j, const char *const *api_keys, json_t **api, json_t **dev,
		      const char *obj, char *why, size_t why_size)
{
	const char *key;
	json_t *v;

	*api = *dev = NULL;
	if (!json_is_object(j))
		return fail(why, why_size, "%s: expected a JSON object, got %s", obj,
			    j ? fields_json_type(j) : "nothing");
	*api = json_object();
	*dev = json_object();
	if (!*api || !*dev)
		goto oom;
	json_object_foreach(j, key, v)
	{
		const char *const *k;

		for (k = api_keys; *k && strcmp(*k, key); k++)
			;
		if (json_object_set(*k ? *api : *dev, key, v))
			goto oom;
	}
	return 0;
oom:
	json_decref(*api);
	json_decref(*dev);
	*api = *dev = NULL;
	return -ENOMEM;
}

static struct api_drive *drive_find(struct api_config *c, const char *id);

int api_put_drive(struct api_config *c, json_t *j, const char *path_id, char *why, size_t why_size)
{
	static const char *const api_keys[] = { "drive_id",	"is_root_device", "partuuid",
						"rate_limiter", "socket",	  NULL };
	struct api_drive d = { 0 };
	struct blk_config b;
	const struct api_field f[] = {
		{ "drive_id", F_STR, true, d.id, sizeof(d.id), 1, 0, NULL },
		{ "is_root_device", F_BOOL, true, &d.root, 0, 0, 0, NULL },
		{ "partuuid", F_STR, false, d.partuuid, sizeof(d.partuuid), 1, 0, NULL },
		{ "rate_limiter", F_UNSUPPORTED, false, NULL, 0, 0, 0, NULL },
		{ "socket", F_UNSUPPORTED, false, NULL, 0, 0, 0, NULL },
	};
	json_t *api, *dev;
	const char *idv;
	int err, i, slot = c->ndrives;

	err = split_keys(j, api_keys, &api, &dev, "drive", why, why_size);
	if (err)
		return err;
	/* Firecracker rejects a drive id given twice in the file (path_id NULL);
	 * a PUT replaces the drive. */
	idv = json_string_value(json_object_get(api, "drive_id"));
	if (!path_id && idv && drive_find(c, idv)) {
		json_decref(api);
		json_decref(dev);
		return fail(why, why_size, "drive: drive_id: '%s' appears twice", idv);
	}
	/* Firecracker's default cache is Unsafe; --drive's is writeback. */
	fields_defaults(&blk_fields, &b);
	b.cache = BLK_CACHE_UNSAFE;
	err = fields_parse_json(&blk_fields, "drive", dev, NULL, &b, why, why_size);
	if (!err)
		err = fields_get("drive", api, f, sizeof(f) / sizeof(f[0]), why, why_size);
	json_decref(api);
	json_decref(dev);
	if (!err)
		err = id_check("drive", "drive_id", d.id, path_id, why, why_size);
	if (err)
		return err;
	memcpy(d.path, b.path, sizeof(d.path));
	d.read_only = b.read_only;
	d.cache = b.cache;
	d.engine = b.engine;
	for (i = 0; i < c->ndrives; i++) {
		if (!strcmp(c->drives[i].id, d.id))
			slot = i;
		else if (d.root && c->drives[i].root)
			return fail(why, why_size,
				    "drive: is_root_device: drive '%s' already is the root device",
				    c->drives[i].id);
	}
	if (slot == VM_MAX_DRIVES)
		return fail(why, why_size, "drive: drive_id: '%s' would be more than %d drives",
			    d.id, VM_MAX_DRIVES);
	c->drives[slot] = d;
	if (slot == c->ndrives)
		c->ndrives++;
	return 0;
}

static struct api_drive *drive_find(struct api_config *c, const char *id)
{
	int i;

	for (i = 0; i < c->ndrives; i++)
		if (!strcmp(c->drives[i].id, id))
			return &c->drives[i];
	return NULL;
}

int api_patch_drive(struct api_config *c, json_t *j, const char *path_id, bool started, char *why,
		    size_t why_size)
{
	char id[API_ID_MAX + 1], path[PATH_MAX];
	bool has_path = false;
	const struct api_field f[] = {
		{ "drive_id", F_STR, true, id, sizeof(id), 1, 0, NULL },
		{ "path_on_host", F_STR, false, path, sizeof(path), 1, 0, &has_path },
		{ "rate_limiter", F_UNSUPPORTED, false, NULL, 0, 0, 0, NULL },
	};
	struct api_drive *d;
	int err;

	err = fields_get("drive", j, f, sizeof(f) / sizeof(f[0]), why, why_size);
	if (!err)
		err = id_check("drive", "drive_id", id, path_id, why, why_size);
	if (err)
		return err;
	d = drive_find(c, id);
	if (!d)
		return fail(why, why_size, "drive: drive_id: no drive '%s'", id);
	if (!has_path)
		return 0;
	if (started && strcmp(path, d->path))
		return fail(why, why_size,
			    "drive: path_on_host: volt opens no file once the microVM runs (its "
			    "sandbox forbids it), so a drive cannot change its backing file");
	memcpy(d->path, path, sizeof(path));
	return 0;
}

int api_put_net(struct api_config *c, json_t *j, const char *path_id, char *why, size_t why_size)
{
	static const char *const api_keys[] = { "iface_id", "rx_rate_limiter", "tx_rate_limiter",
						NULL };
	struct api_net n = { 0 };
	struct net_config nc;
	char mac[18];
	const struct api_field f[] = {
		{ "iface_id", F_STR, true, n.id, sizeof(n.id), 1, 0, NULL },
		{ "rx_rate_limiter", F_UNSUPPORTED, false, NULL, 0, 0, 0, NULL },
		{ "tx_rate_limiter", F_UNSUPPORTED, false, NULL, 0, 0, 0, NULL },
	};
	json_t *api, *dev;
	int err, i, slot = c->nnets;

	err = split_keys(j, api_keys, &api, &dev, "network-interface", why, why_size);
	if (err)
		return err;
	fields_defaults(&net_fields, &nc);
	err = fields_parse_json(&net_fields, "network-interface", dev, NULL, &nc, why, why_size);
	if (!err)
		err = fields_get("network-interface", api, f, sizeof(f) / sizeof(f[0]), why,
				 why_size);
	json_decref(api);
	json_decref(dev);
	if (!err)
		err = id_check("network-interface", "iface_id", n.id, path_id, why, why_size);
	if (err)
		return err;
	/* A ',' would end the name in a CLI spec (the jailer passes it on as one). */
	if (strchr(nc.tap, ','))
		return fail(why, why_size,
			    "network-interface: host_dev_name: '%s' is not an interface name",
			    nc.tap);
	memcpy(n.host_dev, nc.tap, sizeof(n.host_dev));
	memcpy(n.mac, nc.mac, 6);
	n.has_mac = nc.has_mac;
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n.mac[0], n.mac[1], n.mac[2],
		 n.mac[3], n.mac[4], n.mac[5]);
	for (i = 0; i < c->nnets; i++) {
		if (!strcmp(c->nets[i].id, n.id))
			slot = i;
		else if (!strcmp(c->nets[i].host_dev, n.host_dev))
			return fail(why, why_size,
				    "network-interface: host_dev_name: '%s' is already used by "
				    "'%s'",
				    n.host_dev, c->nets[i].id);
		else if (n.has_mac && c->nets[i].has_mac && !memcmp(n.mac, c->nets[i].mac, 6))
			return fail(why, why_size,
				    "network-interface: guest_mac: %s is already used by '%s'", mac,
				    c->nets[i].id);
	}
	if (slot == VM_MAX_NETS)
		return fail(why, why_size,
			    "network-interface: iface_id: '%s' would be more than %d interfaces",
			    n.id, VM_MAX_NETS);
	c->nets[slot] = n;
	if (slot == c->nnets)
		c->nnets++;
	return 0;
}

int api_patch_net(const struct api_config *c, json_t *j, const char *path_id, char *why,
		  size_t why_size)
{
	char id[API_ID_MAX + 1];
	const struct api_field f[] = {
		{ "iface_id", F_STR, true, id, sizeof(id), 1, 0, NULL },
		{ "rx_rate_limiter", F_UNSUPPORTED, false, NULL, 0, 0, 0, NULL },
		{ "tx_rate_limiter", F_UNSUPPORTED, false, NULL, 0, 0, 0, NULL },
	};
	int err, i;

	err = fields_get("network-interface", j, f, sizeof(f) / sizeof(f[0]), why, why_size);
	if (!err)
		err = id_check("network-interface", "iface_id", id, path_id, why, why_size);
	if (err)
		return err;
	for (i = 0; i < c->nnets; i++)
		if (!strcmp(c->nets[i].id, id))
			return 0;
	return fail(why, why_size, "network-interface: iface_id: no interface '%s'", id);
}

/* The device's own fields (devices/virtio/virtio_vsock.c), the same rules as
 * --vsock; vsock_id is the API's (deprecated in Firecracker, kept for GET). */
int api_put_vsock(struct api_config *c, json_t *j, char *why, size_t why_size)
{
	static const char *const api_only[] = { "vsock_id", NULL };
	struct vsock_config v;
	json_t *idv = json_object_get(j, "vsock_id");
	char id[API_ID_MAX + 1] = "";
	int err;

	fields_defaults(&vsock_fields, &v);
	err = fields_parse_json(&vsock_fields, "vsock", j, api_only, &v, why, why_size);
	if (err)
		return err;
	if (idv && !json_is_null(idv)) {
		const struct api_field f[] = {
			{ "vsock_id", F_STR, false, id, sizeof(id), 1, 0, NULL },
		};
		json_t *only = json_pack("{s:O}", "vsock_id", idv);

		err = only ? fields_get("vsock", only, f, 1, why, why_size) : -ENOMEM;
		json_decref(only);
		if (!err)
			err = id_check("vsock", "vsock_id", id, NULL, why, why_size);
		if (err)
			return err;
	}
	c->vsock = v;
	memcpy(c->vsock_id, id, sizeof(id));
	c->has_vsock = true;
	return 0;
}

int api_put_entropy(struct api_config *c, json_t *j, char *why, size_t why_size)
{
	const struct api_field f[] = {
		{ "rate_limiter", F_UNSUPPORTED, false, NULL, 0, 0, 0, NULL },
	};
	int err = fields_get("entropy", j, f, 1, why, why_size);

	if (!err)
		c->entropy = true;
	return err;
}

/* The device's own fields (devices/virtio/virtio_balloon.c), the same rules
 * as --balloon. */
int api_put_balloon(struct api_config *c, json_t *j, char *why, size_t why_size)
{
	struct balloon_config b;
	int err;

	fields_defaults(&balloon_fields, &b);
	err = fields_parse_json(&balloon_fields, "balloon", j, NULL, &b, why, why_size);
	if (err)
		return err;
	c->balloon = b;
	c->has_balloon = true;
	return 0;
}

static int put_vsock(struct api_config *c, json_t *j, const char *path_id, char *why,
		     size_t why_size)
{
	(void)path_id;
	return api_put_vsock(c, j, why, why_size);
}

static int put_balloon(struct api_config *c, json_t *j, const char *path_id, char *why,
		       size_t why_size)
{
	(void)path_id;
	return api_put_balloon(c, j, why, why_size);
}

static int put_entropy(struct api_config *c, json_t *j, const char *path_id, char *why,
		       size_t why_size)
{
	(void)path_id;
	return api_put_entropy(c, j, why, why_size);
}

int api_put_device(struct api_config *c, const struct device_kind *k, json_t *j,
		   const char *path_id, char *why, size_t why_size)
{
	static const struct {
		const struct device_kind *kind;
		int (*put)(struct api_config *c, json_t *j, const char *path_id, char *why,
			   size_t why_size);
	} puts[] = {
		{ &virtio_blk_kind, api_put_drive }, { &virtio_net_kind, api_put_net },
		{ &virtio_vsock_kind, put_vsock },   { &virtio_balloon_kind, put_balloon },
		{ &virtio_rng_kind, put_entropy },
	};
	size_t i;

	for (i = 0; i < sizeof(puts) / sizeof(puts[0]); i++)
		if (puts[i].kind == k)
			return puts[i].put(c, j, path_id, why, why_size);
	return fail(why, why_size, "%s: not configurable through the API", k ? k->name : "?");
}

int api_parse_balloon_update(json_t *j, unsigned int *mib, char *why, size_t why_size)
{
	uint64_t v = 0;
	const struct api_field f[] = {
		{ "amount_mib", F_UINT, true, &v, 0, 0, UINT32_MAX, NULL },
	};
	int err = fields_get("balloon", j, f, 1, why, why_size);

	if (!err)
		*mib = (unsigned int)v;
	return err;
}

int api_parse_balloon_stats_update(json_t *j, unsigned int *seconds, char *why, size_t why_size)
{
	uint64_t v = 0;
	const struct api_field f[] = {
		{ "stats_polling_interval_s", F_UINT, true, &v, 0, 0, UINT64_MAX, NULL },
	};
	char reason[160];
	int err = fields_get("balloon-stats", j, f, 1, why, why_size);

	if (!err && balloon_stats_check(v, reason, sizeof(reason)))
		return fail(why, why_size, "balloon-stats: stats_polling_interval_s: %s", reason);

	if (!err)
		*seconds = (unsigned int)v;
	return err;
}

int api_parse_action(json_t *j, char *type, size_t type_size, char *why, size_t why_size)
{
	char t[32];
	const struct api_field f[] = {
		{ "action_type", F_STR, true, t, sizeof(t), 1, 0, NULL },
	};
	int err = fields_get("actions", j, f, 1, why, why_size);

	if (!err)
		snprintf(type, type_size, "%s", t);
	return err;
}

int api_parse_vm_state(json_t *j, bool *pause, char *why, size_t why_size)
{
	static const char *const states[] = { "Paused", "Resumed" };
	char s[16];
	const struct api_field f[] = {
		{ "state", F_STR, true, s, sizeof(s), 1, 0, NULL },
	};
	int err = fields_get("vm", j, f, 1, why, why_size);

	if (!err)
		err = enum_pick("vm", "state", s, states, 2, why, why_size);
	if (err < 0)
		return err;
	*pause = err == 0;
	return 0;
}

int api_logger_level(const char *s, enum log_level *out)
{
	return log_level_parse(s, out);
}

int api_parse_logger(json_t *j, struct api_logger *l, char *why, size_t why_size)
{
	struct api_logger n = { 0 };
	enum log_level level;
	const struct api_field f[] = {
		{ "log_path", F_STR, false, n.path, sizeof(n.path), 1, 0, NULL },
		{ "level", F_STR, false, n.level, sizeof(n.level), 1, 0, NULL },
		{ "show_level", F_BOOL, false, &n.show_level, 0, 0, 0, NULL },
		{ "show_log_origin", F_BOOL, false, &n.show_log_origin, 0, 0, 0, NULL },
		/* Firecracker's per-module filter: volt has one log, so it is ignored. */
		{ "module", F_ANY_STR, false, NULL, 0, 0, 0, NULL },
	};
	int err = fields_get("logger", j, f, sizeof(f) / sizeof(f[0]), why, why_size);

	if (err)
		return err;
	if (n.level[0] && api_logger_level(n.level, &level))
		return fail(why, why_size,
			    "logger: level: '%s' is not Error, Warning, Info, Debug, Trace or Off",
			    n.level);
	*l = n;
	return 0;
}

int api_parse_metrics(json_t *j, char *path, size_t path_size, char *why, size_t why_size)
{
	char p[PATH_MAX];
	const struct api_field f[] = {
		{ "metrics_path", F_STR, true, p, sizeof(p), 1, 0, NULL },
	};
	int err = fields_get("metrics", j, f, 1, why, why_size);

	if (err)
		return err;
	if (strlen(p) >= path_size)
		return fail(why, why_size, "metrics: metrics_path: too long");
	memcpy(path, p, strlen(p) + 1);
	return 0;
}

/* A section of the file that may be null (absent) or an object. */
static json_t *section(json_t *root, const char *name)
{
	json_t *v = json_object_get(root, name);

	return v && !json_is_null(v) ? v : NULL;
}

static bool known_section(const char *key)
{
	static const char *const own[] = { "boot-source", "machine-config", "logger",
					   "metrics",	  "cpu-config",	    "mmds-config" };
	size_t i;

	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (!strcmp(key, own[i]))
			return true;
	for (i = 0; i < (size_t)device_table_len; i++)
		if (device_table[i]->config_key && !strcmp(key, device_table[i]->config_key))
			return true;
	return false;
}

/* The devices' sections, in the table's order: an array for a kind that may
 * have more than one device, an object otherwise. */
static int device_sections(struct api_config *c, json_t *root, char *why, size_t why_size)
{
	json_t *v, *e;
	size_t i;
	int k, err = 0;

	for (k = 0; !err && k < device_table_len; k++) {
		const struct device_kind *kind = device_table[k];

		if (!kind->config_key || !(v = section(root, kind->config_key)))
			continue;
		if (kind->max == 1) {
			err = api_put_device(c, kind, v, NULL, why, why_size);
			continue;
		}
		if (!json_is_array(v))
			return fail(why, why_size, "%s: expected an array, got %s",
				    kind->config_key, fields_json_type(v));
		json_array_foreach(v, i, e)
		{
			if (!err)
				err = api_put_device(c, kind, e, NULL, why, why_size);
		}
	}
	return err;
}

int api_config_from_json(struct api_config *out, json_t *root, char *why, size_t why_size)
{
	static struct api_config c;
	const char *key;
	json_t *v;
	int err;

	if (!json_is_object(root))
		return fail(why, why_size, "configuration: expected a JSON object, got %s",
			    fields_json_type(root));
	json_object_foreach(root, key, v)
	{
		if (!known_section(key))
			return fail(why, why_size, "configuration: unknown section '%s'", key);
	}
	api_config_init(&c);
	if (section(root, "cpu-config"))
		return fail(why, why_size,
			    "cpu-config: custom CPU templates are not supported "
			    "by volt (use machine-config's cpu_template)");
	if (section(root, "mmds-config"))
		return fail(why, why_size, "mmds-config: MMDS is not supported by volt");
	v = section(root, "boot-source");
	if (!v)
		return fail(why, why_size, "boot-source: missing (it names the kernel)");
	err = api_put_boot_source(&c, v, why, why_size);
	if (!err && (v = section(root, "machine-config")))
		err = api_put_machine_config(&c, v, false, why, why_size);
	if (!err)
		err = device_sections(&c, root, why, why_size);
	if (!err && (v = section(root, "logger"))) {
		err = api_parse_logger(v, &c.logger, why, why_size);
		c.has_logger = !err;
	}
	if (!err && (v = section(root, "metrics"))) {
		err = api_parse_metrics(v, c.metrics_path, sizeof(c.metrics_path), why, why_size);
		c.has_metrics = !err;
	}
	if (!err)
		*out = c;
	return err;
}

static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

json_t *api_machine_config_to_json(const struct api_config *c)
{
	return json_pack("{s:i, s:i, s:b, s:b, s:s, s:s}", "vcpu_count", (int)c->vcpus,
			 "mem_size_mib", (int)c->mem_mib, "smt", c->smt, "track_dirty_pages",
			 c->track_dirty_pages, "cpu_template", c->cpu_template, "huge_pages",
			 "None");
}

json_t *api_balloon_to_json(const struct api_config *c)
{
	if (!c->has_balloon)
		return json_null();
	return fields_to_json(&balloon_fields, &c->balloon);
}

json_t *api_config_to_json(const struct api_config *c)
{
	json_t *root = json_object(), *drives = json_array(), *nets = json_array(), *boot;
	char mac[18];
	int i;

	if (!root || !drives || !nets)
		goto oom;
	boot = c->has_boot ? json_pack("{s:s, s:o, s:o}", "kernel_image_path", c->kernel,
				       "initrd_path", str_or_null(c->initrd), "boot_args",
				       c->has_boot_args ? json_string(c->boot_args) : json_null())
			   : json_null();
	json_object_set_new(root, "boot-source", boot);
	for (i = 0; i < c->ndrives; i++) {
		const struct api_drive *d = &c->drives[i];

		json_array_append_new(
			drives,
			json_pack("{s:s, s:s, s:b, s:o, s:b, s:s, s:s, s:n}", "drive_id", d->id,
				  "path_on_host", d->path, "is_root_device", d->root, "partuuid",
				  str_or_null(d->partuuid), "is_read_only", d->read_only,
				  "cache_type",
				  d->cache == BLK_CACHE_UNSAFE ? "Unsafe" : "Writeback",
				  "io_engine", d->engine == BLK_ENGINE_SYNC ? "Sync" : "Async",
				  "rate_limiter"));
	}
	json_object_set_new(root, "drives", drives);
	drives = NULL;
	json_object_set_new(root, "machine-config", api_machine_config_to_json(c));
	json_object_set_new(root, "cpu-config", json_null());
	json_object_set_new(root, "balloon", api_balloon_to_json(c));
	for (i = 0; i < c->nnets; i++) {
		const struct api_net *n = &c->nets[i];

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1],
			 n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
		json_array_append_new(nets, json_pack("{s:s, s:s, s:o}", "iface_id", n->id,
						      "host_dev_name", n->host_dev, "guest_mac",
						      n->has_mac ? json_string(mac) : json_null()));
	}
	json_object_set_new(root, "network-interfaces", nets);
	nets = NULL;
	json_object_set_new(root, "vsock",
			    c->has_vsock ? fields_to_json(&vsock_fields, &c->vsock) : json_null());
	json_object_set_new(root, "logger",
			    c->has_logger ? json_pack("{s:o, s:o, s:b, s:b}", "log_path",
						      str_or_null(c->logger.path), "level",
						      str_or_null(c->logger.level), "show_level",
						      c->logger.show_level, "show_log_origin",
						      c->logger.show_log_origin)
					  : json_null());
	json_object_set_new(root, "metrics",
			    c->has_metrics ? json_pack("{s:s}", "metrics_path", c->metrics_path)
					   : json_null());
	json_object_set_new(root, "mmds-config", json_null());
	json_object_set_new(root, "entropy", c->entropy ? json_object() : json_null());
	return root;
oom:
	json_decref(root);
	json_decref(drives);
	json_decref(nets);
	return NULL;
}

int api_config_to_vm(const struct api_config *c, struct vm_config *out, char *cmdline,
		     size_t cmdline_size, char *why, size_t why_size)
{
	const struct api_drive *d;
	int i, len;

	if (!c->has_boot)
		return fail(why, why_size,
			    "boot-source: missing: PUT /boot-source with kernel_image_path first");
	out->kernel = c->kernel;
	out->initrd = c->initrd[0] ? c->initrd : NULL;
	out->mem_size = (uint64_t)c->mem_mib << 20;
	out->ncpus = (int)c->vcpus;
	out->cpu_template = strcmp(c->cpu_template, "None") ? c->cpu_template : NULL;
	len = snprintf(cmdline, cmdline_size, "%s",
		       c->has_boot_args ? c->boot_args : API_DEFAULT_CMDLINE);
	/* The root device becomes the first drive, so that it is vda. */
	for (i = 0; i < c->ndrives; i++) {
		d = &c->drives[i];
		if (!d->root)
			continue;
		if (d->partuuid[0])
			len += snprintf(cmdline + len, cmdline_size - (size_t)len,
					" root=PARTUUID=%s %s", d->partuuid,
					d->read_only ? "ro" : "rw");
		else
			len += snprintf(cmdline + len, cmdline_size - (size_t)len,
					" root=/dev/vda %s", d->read_only ? "ro" : "rw");
	}
	if ((size_t)len >= cmdline_size)
		return fail(why, why_size, "boot-source: boot_args: too long");
	out->cmdline = cmdline;
	out->ndevices = 0;
	/* The root device becomes the first drive, so that it is vda. */
	for (int root = 1; root >= 0; root--)
		for (i = 0; i < c->ndrives; i++) {
			struct device_config *dc = &out->devices[out->ndevices++];
			struct blk_config *b = (void *)dc->data;

			d = &c->drives[i];
			if (d->root != root) {
				out->ndevices--;
				continue;
			}
			memset(dc, 0, sizeof(*dc));
			dc->kind = &virtio_blk_kind;
			snprintf(b->path, sizeof(b->path), "%s", d->path);
			snprintf(b->id, sizeof(b->id), "%s", d->id);
			b->read_only = d->read_only;
			b->engine = d->engine;
			b->cache = d->cache;
		}
	for (i = 0; i < c->nnets; i++) {
		struct device_config *dc = &out->devices[out->ndevices++];
		struct net_config *nc = (void *)dc->data;

		memset(dc, 0, sizeof(*dc));
		dc->kind = &virtio_net_kind;
		memcpy(nc->tap, c->nets[i].host_dev, sizeof(nc->tap));
		memcpy(nc->mac, c->nets[i].mac, 6);
		nc->has_mac = c->nets[i].has_mac;
	}
	if (c->entropy) {
		memset(&out->devices[out->ndevices], 0, sizeof(out->devices[0]));
		out->devices[out->ndevices++].kind = &virtio_rng_kind;
	}
	if (c->has_vsock) {
		memset(&out->devices[out->ndevices], 0, sizeof(out->devices[0]));
		out->devices[out->ndevices].kind = &virtio_vsock_kind;
		memcpy(out->devices[out->ndevices++].data, &c->vsock, sizeof(c->vsock));
	}
	if (c->has_balloon) {
		char reason[128];

		memset(&out->devices[out->ndevices], 0, sizeof(out->devices[0]));
		out->devices[out->ndevices].kind = &virtio_balloon_kind;
		memcpy(out->devices[out->ndevices++].data, &c->balloon, sizeof(c->balloon));
		if (balloon_size_check(c->balloon.mib, out->mem_size, reason, sizeof(reason)))
			return fail(why, why_size, "balloon: amount_mib: %s", reason);
	}
	return 0;
}
