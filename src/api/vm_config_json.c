/* Firecracker's JSON configuration <-> struct api_config <-> struct vm_config.
 * Each object is checked against a field table before anything is stored, so
 * a rejected request leaves the configuration as it was. */
#include "api/vm_config_json.h"
#include "api/cpu_config_json.h"
#include "api/json_pos.h"
#include "api/mmds_api.h"

#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "devices/device_table.h"
#include "devices/mmds/mmds.h"
#include "devices/virtio/virtio_balloon.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_net.h"
#include "devices/virtio/virtio_pmem.h"
#include "util/cmdline.h"
#include "util/fs.h"
#include "util/rust_err.h"
#include "util/why.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

enum ftype {
	F_STR,	       /* string copied into out[size]; min = shortest length */
	F_BOOL,	       /* bool */
	F_UINT,	       /* uint64_t in [min, max] */
	F_UNSUPPORTED, /* only null: a rate limiter, vhost-user... */
	F_ANY_STR,     /* a string that is accepted and ignored */
	F_RL_CFG,      /* struct rl_config (core/rate_limiter.h) */
	F_BUCKET,      /* struct rl_bucket_config: one token bucket */
	F_ID,	       /* const char *: the JSON's own string (any length, not empty),
			* valid while the body is; ids are checked by the caller */
	F_STR_MAP,     /* json_t *: an object of strings, the body's own (valid while
			* the body is) */
};

struct api_field {
	const char *name;
	enum ftype type;
	bool required;
	bool no_null; /* null refused (a serde default, not an Option: struct field's) */
	void *out;
	size_t size;
	uint64_t min, max;
	bool *seen; /* may be NULL: set when present and not null */
};

/* An API body's missing fields are serde's (api/serde_body.h, before any
 * parser here); what is left is a configuration file's, in volt's words. */
static int missing_field(const char *obj, const char *name, char *why, size_t why_size)
{
	return why_fail(why, why_size, -EINVAL, "%s: missing required field '%s'", obj, name);
}

static int fields_get(const char *obj, json_t *j, const struct api_field *f, size_t n, char *why,
		      size_t why_size)
{
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(j))
		return why_fail(why, why_size, -EINVAL, "%s: expected a JSON object, got %s", obj,
				j ? fields_json_type(j) : "nothing");
	json_object_foreach(j, key, v)
	{
		for (i = 0; i < n && strcmp(key, f[i].name); i++)
			;
		if (i == n)
			return why_fail(why, why_size, -EINVAL, "%s: unknown field `%s`", obj, key);
	}
	/* Check everything first, store afterwards: all or nothing. */
	for (i = 0; i < n; i++) {
		v = json_object_get(j, f[i].name);
		if (!v || (json_is_null(v) && !f[i].no_null)) {
			if (f[i].required)
				return missing_field(obj, f[i].name, why, why_size);
			continue;
		}
		switch (f[i].type) {
		case F_STR:
		case F_ID: /* an id: no size (an id pool handle), never empty */
			if (!json_is_string(v))
				return why_fail(why, why_size, -EINVAL,
						"%s: %s: expected a string, got %s", obj, f[i].name,
						fields_json_type(v));
			if (f[i].type == F_STR && json_string_length(v) >= f[i].size)
				return why_fail(why, why_size, -EINVAL,
						"%s: %s: longer than %zu bytes", obj, f[i].name,
						f[i].size - 1);
			if (json_string_length(v) < (f[i].type == F_ID ? 1 : f[i].min))
				return why_fail(why, why_size, -EINVAL, "%s: %s: must not be empty",
						obj, f[i].name);
			if (strlen(json_string_value(v)) != json_string_length(v))
				return why_fail(why, why_size, -EINVAL,
						"%s: %s: contains a NUL byte", obj, f[i].name);
			break;
		case F_RL_CFG: {
			struct rl_config rl;
			char prefix[96];

			snprintf(prefix, sizeof(prefix), "%s: %s", obj, f[i].name);
			if (rl_config_from_json(v, prefix, &rl, why, why_size))
				return -EINVAL;
			break;
		}
		case F_BUCKET: {
			struct rl_bucket_config b;

			if (rl_bucket_from_json(v, obj, f[i].name, &b, why, why_size))
				return -EINVAL;
			break;
		}
		case F_STR_MAP: {
			const char *k;
			json_t *e;

			if (!json_is_object(v))
				return why_fail(why, why_size, -EINVAL,
						"%s: %s: expected an object of strings, got %s",
						obj, f[i].name, fields_json_type(v));
			json_object_foreach(v, k, e)
			{
				if (!json_is_string(e))
					return why_fail(why, why_size, -EINVAL,
							"%s: %s: %s: expected a string, got %s",
							obj, f[i].name, k, fields_json_type(e));
			}
			break;
		}
		case F_ANY_STR:
			if (!json_is_string(v))
				return why_fail(why, why_size, -EINVAL,
						"%s: %s: expected a string, got %s", obj, f[i].name,
						fields_json_type(v));
			break;
		case F_BOOL:
			if (!json_is_boolean(v))
				return why_fail(why, why_size, -EINVAL,
						"%s: %s: expected a boolean, got %s", obj,
						f[i].name, fields_json_type(v));
			break;
		case F_UINT:
			if (!json_is_integer(v))
				return why_fail(why, why_size, -EINVAL,
						"%s: %s: expected an integer, got %s", obj,
						f[i].name, fields_json_type(v));
			if (json_integer_value(v) < 0 ||
			    (uint64_t)json_integer_value(v) < f[i].min ||
			    (uint64_t)json_integer_value(v) > f[i].max)
				return why_fail(why, why_size, -EINVAL,
						"%s: %s: %" JSON_INTEGER_FORMAT
						" is out of range (%" PRIu64 " to %" PRIu64 ")",
						obj, f[i].name, json_integer_value(v), f[i].min,
						f[i].max);
			break;
		case F_UNSUPPORTED:
			return why_fail(why, why_size, -EINVAL,
					"%s: %s: not supported by volt (only null)", obj,
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
		case F_ID:
			*(const char **)f[i].out = json_string_value(v);
			break;
		case F_STR_MAP:
			*(json_t **)f[i].out = v;
			break;
		case F_BOOL:
			*(bool *)f[i].out = json_is_true(v);
			break;
		case F_UINT:
			*(uint64_t *)f[i].out = (uint64_t)json_integer_value(v);
			break;
		case F_RL_CFG:
			rl_config_from_json(v, "", f[i].out, NULL, 0);
			break;
		case F_BUCKET:
			rl_bucket_from_json(v, "", "", f[i].out, NULL, 0);
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
	api_config_defaults(c);
}

void api_config_defaults(struct api_config *c)
{
	c->vcpus = 1;
	c->mem_mib = API_DEFAULT_MEM_MIB;
	snprintf(c->cpu_template, sizeof(c->cpu_template), "None");
	c->mmds_size_limit = MMDS_DEFAULT_SIZE_LIMIT;
}

json_t *api_json_parse(const char *buf, size_t len, char *why, size_t why_size)
{
	json_error_t e;
	json_t *j;

	if (!len) {
		why_fail(why, why_size, -EINVAL, "empty body: expected a JSON object");
		return NULL;
	}
	/* Any JSON value: serde's answer to a body of the wrong type is its own. */
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
	json_pos_index(j, buf, len);
	/* serde_json reads an integer past u64 as a float, which no field takes:
	 * Firecracker's "invalid type"; jansson's limit is i64. */
	if (!j && !strncmp(e.text, "too big integer", 15))
		why_fail(why, why_size, -EINVAL,
			 SERDE_PREFIX
			 "invalid type: number %s, expected an integer of at most 63 bits at "
			 "line %d column %d.",
			 e.text + 15 + (e.text[15] == ' '), e.line, e.column);
	else if (!j)
		why_fail(why, why_size, -EINVAL, "invalid JSON at line %d, column %d: %s", e.line,
			 e.column, e.text);
	return j;
}

void api_empty_rate_limiters(json_t *j)
{
	static const char *const keys[] = { "rate_limiter", "rx_rate_limiter", "tx_rate_limiter" };
	const char *k;
	json_t *v, *o;
	size_t i;

	for (i = 0; json_is_object(j) && i < sizeof(keys) / sizeof(keys[0]); i++) {
		bool empty = true;

		o = json_object_get(j, keys[i]);
		if (!json_is_object(o))
			continue;
		/* Another key is not RateLimiterConfig's (deny_unknown_fields):
		 * left for the parser to refuse. */
		json_object_foreach(o, k, v)
		{
			if (!json_is_null(v) || (strcmp(k, "bandwidth") && strcmp(k, "ops")))
				empty = false;
		}
		if (empty)
			json_object_set_new(j, keys[i], json_null());
	}
}

int api_put_serial(struct api_config *c, json_t *j, char *why, size_t why_size)
{
	char path[PATH_MAX] = "";
	struct rl_bucket_config rl = { 0 };
	const struct api_field f[] = {
		{ "serial_out_path", F_STR, false, false, path, sizeof(path), 1, 0, NULL },
		{ "rate_limiter", F_BUCKET, false, false, &rl, 0, 0, 0, NULL },
	};
	int err = fields_get("serial", j, f, sizeof(f) / sizeof(f[0]), why, why_size);

	if (err)
		return err;
	memcpy(c->serial_out_path, path, sizeof(path));
	c->serial_rate_limiter = rl;
	return 0;
}

int api_put_boot_source(struct api_config *c, json_t *j, char *why, size_t why_size)
{
	char kernel[PATH_MAX], initrd[PATH_MAX] = "";
	char args[API_CMDLINE_MAX], form[LAYOUT_CMDLINE_MAX];
	bool has_args = false;
	const struct api_field f[] = {
		{ "kernel_image_path", F_STR, true, false, kernel, sizeof(kernel), 1, 0, NULL },
		{ "initrd_path", F_STR, false, false, initrd, sizeof(initrd), 1, 0, NULL },
		{ "boot_args", F_STR, false, false, args, sizeof(args), 0, 0, &has_args },
	};
	int err = fields_get("boot-source", j, f, sizeof(f) / sizeof(f[0]), why, why_size);

	if (err)
		return err;
	/* Firecracker's Cmdline::try_from(boot_args, 2048), the NUL included,
	 * counted as it counts (white space around each part left out). */
	if (has_args && cmdline_fc_form(args, form, LAYOUT_CMDLINE_MAX))
		return why_fail(why, why_size, -API_EVMM,
				"Boot source error: The kernel command line is invalid: Invalid "
				"cmdline capacity provided.");
	c->has_boot = true;
	memcpy(c->kernel, kernel, sizeof(kernel));
	memcpy(c->initrd, initrd, sizeof(initrd));
	c->has_boot_args = has_args;
	if (has_args)
		memcpy(c->boot_args, args, sizeof(args));
	return 0;
}

/* Some member of object j is not null. */
static bool has_values(json_t *j)
{
	const char *k;
	json_t *v;

	json_object_foreach(j, k, v)
	{
		if (!json_is_null(v))
			return true;
	}
	return false;
}

/* By enum vm_huge_pages. */
static const char *const huge_pages_names[] = { "None", "Transparent", "2M" };
#define HUGE_PAGES_NAMES (sizeof(huge_pages_names) / sizeof(huge_pages_names[0]))

const char *api_huge_pages_name(const struct api_config *c)
{
	return huge_pages_names[c->huge_pages];
}

/* Firecracker's template names onto volt's (cpuid_template_find). */
static int cpu_template_check(const char *name, char *why, size_t why_size)
{
	if (!strcmp(name, "None"))
		return 0;
	/* A template for the other vendor is refused at InstanceStart, as
	 * Firecracker refuses it (its tests PUT one on every host). */
	if (cpuid_template_find(name))
		return 0;
	return why_fail(why, why_size, -EINVAL,
			"machine-config: cpu_template: '%s' is not one of volt's templates (%s)",
			name, cpuid_template_names());
}

int api_put_machine_config(struct api_config *c, json_t *j, bool patch, char *why, size_t why_size)
{
	uint64_t vcpus = patch ? c->vcpus : 1, mem = patch ? c->mem_mib : API_DEFAULT_MEM_MIB;
	/* A PATCH keeps what it leaves out (Firecracker's MachineConfig::update);
	 * a PUT's body is a whole MachineConfig, its defaults included. */
	bool smt = patch && c->smt, dirty = patch && c->track_dirty_pages;
	char tmpl[sizeof(c->cpu_template)], huge[16], at[48];
	unsigned int h;
	json_t *v;
	const struct api_field f[] = {
		/* Range checked below, with Firecracker's words. */
		{ "vcpu_count", F_UINT, !patch, false, &vcpus, 0, 0, UINT64_MAX, NULL },
		/* Range checked below: 0 has Firecracker's own message. */
		{ "mem_size_mib", F_UINT, !patch, false, &mem, 0, 0, UINT64_MAX, NULL },
		/* PUT: Firecracker's MachineConfig, whose defaults are not Options
		 * (PATCH: MachineConfigUpdate's are). */
		{ "smt", F_BOOL, false, !patch, &smt, 0, 0, 0, NULL },
		{ "track_dirty_pages", F_BOOL, false, !patch, &dirty, 0, 0, 0, NULL },
		{ "cpu_template", F_STR, false, false, tmpl, sizeof(tmpl), 1, 0, NULL },
		{ "huge_pages", F_STR, false, !patch, huge, sizeof(huge), 1, 0, NULL },
	};
	int err;

	/* Firecracker: a PUT without cpu_template keeps the template. */
	snprintf(tmpl, sizeof(tmpl), "%s", c->cpu_template);
	snprintf(huge, sizeof(huge), "%s", patch ? api_huge_pages_name(c) : "None");
	err = fields_get("machine-config", j, f, sizeof(f) / sizeof(f[0]), why, why_size);
	if (err)
		return err;
	/* Firecracker's parser, once serde read the body (its keys are known):
	 * MachineConfigUpdate::is_empty(). */
	if (patch && !has_values(j))
		return why_fail(why, why_size, -EINVAL, "Empty PATCH request.");
	for (h = 0; h < HUGE_PAGES_NAMES && strcmp(huge, huge_pages_names[h]); h++)
		;
	/* serde's: an enum variant Firecracker does not have. */
	if (h == HUGE_PAGES_NAMES)
		return why_fail(
			why, why_size, -EINVAL,
			SERDE_PREFIX "unknown variant `%s`, expected one of `None`, "
				     "`Transparent`, `2M`%s.",
			huge,
			json_pos_member_text(j, "huge_pages", JSON_POS_VALUE, at, sizeof(at)));
	err = cpu_template_check(tmpl, why, why_size);
	if (err)
		return err;
	/* The rest is Firecracker's VMM's (MachineConfig::update). */
	if (!mem)
		return why_fail(why, why_size, -API_EVMM,
				"Machine config error: The memory size (MiB) is either 0, or not a "
				"multiple of the configured page size.");
	if (mem < LAYOUT_MEM_MIN >> 20 || mem > LAYOUT_MEM_MAX >> 20)
		return why_fail(why, why_size, -API_EVMM,
				"machine-config: mem_size_mib: %" PRIu64
				" is out of range (%d to %d)",
				mem, (int)(LAYOUT_MEM_MIN >> 20), (int)(LAYOUT_MEM_MAX >> 20));
	/* Firecracker's rule and words: 1 to 32, and SMT pairs the vCPUs into
	 * cores. */
	if (!vcpus || vcpus > VM_MAX_CPUS || (smt && vcpus > 1 && vcpus % 2))
		return why_fail(why, why_size, -API_EVMM,
				"Machine config error: The number of vCPUs must be greater than 0, "
				"less than %d and must be 1 or an even number if SMT is enabled.",
				VM_MAX_CPUS);
	/* Firecracker's rule: 2 MiB pages want RAM a multiple of 2 MiB. */
	if (h != VM_HUGE_NONE && mem % 2)
		return why_fail(why, why_size, -API_EVMM,
				"Machine config error: The memory size (MiB) is either 0, or not a "
				"multiple of the configured page size.");
	c->vcpus = (unsigned int)vcpus;
	c->mem_mib = (unsigned int)mem;
	c->smt = smt;
	c->track_dirty_pages = dirty;
	c->huge_pages = (enum vm_huge_pages)h;
	memcpy(c->cpu_template, tmpl, sizeof(tmpl));
	/* Firecracker's one template slot: a cpu_template replaces PUT
	 * /cpu-config's custom template. */
	v = json_object_get(j, "cpu_template");
	if (v && !json_is_null(v))
		c->has_cpu_config = false;
	return 0;
}

static int id_check(const char *obj, const char *field, const char *id, const char *path_id,
		    char *why, size_t why_size)
{
	char reason[160];

	/* Firecracker's messages (its parser's, before the body's id is checked),
	 * each id quoted cut (ids have no length limit; Firecracker quotes them
	 * whole). */
	if (path_id && strcmp(id, path_id) && !strcmp(obj, "network-interface"))
		return why_fail(why, why_size, -EINVAL,
				"The id from the path [" PARSE_ID_FMT
				"] does not match the id from the body [" PARSE_ID_FMT "]!",
				PARSE_ID_ARG(path_id), PARSE_ID_ARG(id));
	if (path_id && strcmp(id, path_id))
		return why_fail(why, why_size, -EINVAL,
				"The id from the path does not match the id from the body!");
	if (parse_id_check(id, reason, sizeof(reason)))
		return why_fail(why, why_size, -EINVAL, "%s: %s: %s", obj, field, reason);
	return 0;
}

static int enum_pick(const char *obj, const char *field, const char *s, const char *const *names,
		     int n, char *why, size_t why_size)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return why_fail(why, why_size, -EINVAL, "%s: %s: '%s' is not %s or %s", obj, field, s,
			names[0], names[1]);
}

/* What messages call a kind's object: "drive", "network-interface", "entropy". */
static const char *kind_obj(const struct device_kind *k)
{
	return k->fields ? k->fields->name : k->api_path;
}

static bool is_api_key(const struct device_kind *k, const char *key)
{
	size_t i;

	if (k->api.id_key && !strcmp(key, k->api.id_key))
		return true;
	for (i = 0; k->api.keys && i < k->api.keys->n; i++)
		if (k->api.keys->fields[i].json && !strcmp(key, k->api.keys->fields[i].json))
			return true;
	return false;
}

/* A device's PUT body holds the device's own fields (parsed by its field
 * set, the CLI's rules) and the API's (its id and kind->api.keys). The JSON
 * object is split by key: the API's go to *api, the rest to *dev. Unknown
 * keys end up in *dev, where the device's parser names them. */
static int split_keys(const struct device_kind *k, json_t *j, json_t **api, json_t **dev, char *why,
		      size_t why_size)
{
	const char *key;
	json_t *v;

	*api = *dev = NULL;
	if (!json_is_object(j))
		return why_fail(why, why_size, -EINVAL, "%s: expected a JSON object, got %s",
				kind_obj(k), j ? fields_json_type(j) : "nothing");
	*api = json_object();
	*dev = json_object();
	if (!*api || !*dev)
		goto oom;
	json_object_foreach(j, key, v)
	{
		if (json_object_set(is_api_key(k, key) ? *api : *dev, key, v))
			goto oom;
	}
	return 0;
oom:
	json_decref(*api);
	json_decref(*dev);
	*api = *dev = NULL;
	return -ENOMEM;
}

void api_config_mark_ids(const struct api_config *c)
{
	for (int i = 0; i < c->ndevices; i++) {
		const struct api_device *d = &c->devices[i];

		id_pool_mark(d->id);
		id_pool_mark(d->dev.id);
		if (d->dev.kind)
			fields_mark_ids(d->dev.kind->fields, d->dev.data);
		if (d->dev.kind && d->dev.kind->api.keys)
			fields_mark_ids(d->dev.kind->api.keys, d->keys);
	}
}

struct api_device *api_device_find(const struct api_config *c, const struct device_kind *k,
				   const char *id)
{
	int i;

	for (i = 0; i < c->ndevices; i++)
		if (c->devices[i].dev.kind == k && (!id || !strcmp(id_str(c->devices[i].id), id)))
			return (struct api_device *)&c->devices[i];
	return NULL;
}

static bool id_is_the_devices(const struct device_kind *k)
{
	size_t i;

	for (i = 0; k->api.id_key && k->fields && i < k->fields->n; i++)
		if (k->fields->fields[i].json && !strcmp(k->fields->fields[i].json, k->api.id_key))
			return true;
	return false;
}

/* The id, checked as the API's other strings are; required where the kind
 * may have several devices (the PUT path names one). */
static int id_get(const struct device_kind *k, json_t *api, const char **id, char *why,
		  size_t why_size)
{
	/* A kind of one (vsock) keeps Firecracker's deprecated id: any string,
	 * ignored (its Option<String> is never checked). */
	const struct api_field f[] = {
		{ k->api.id_key, k->max > 1 ? F_ID : F_ANY_STR, k->max > 1, false, id, 0, 1, 0,
		  NULL },
	};
	json_t *v = json_object_get(api, k->api.id_key), *only = json_object();
	int err;

	if (!only || (v && json_object_set(only, k->api.id_key, v)))
		err = -ENOMEM;
	else
		err = fields_get(kind_obj(k), only, f, 1, why, why_size);
	json_decref(only);
	return err;
}

/* The body into *d: the fields over Firecracker's defaults, then the id and
 * the API's keys. */
static int device_parse(const struct device_kind *k, json_t *api, json_t *dev, const char *path_id,
			struct api_device *d, char *why, size_t why_size)
{
	const char *const id_only[] = { k->api.id_key, NULL };
	const char *obj = kind_obj(k), *id = NULL;
	int err;

	memset(d, 0, sizeof(*d));
	d->dev.kind = k;
	if (k->fields)
		fields_defaults(k->fields, d->dev.data);
	if (k->api.defaults)
		k->api.defaults(d->dev.data);
	err = device_config_update_json(obj, dev, NULL, &d->dev, why, why_size);
	if (!err && k->api.id_key)
		err = id_get(k, api, &id, why, why_size);
	if (!err && k->api.keys)
		err = fields_parse_json(k->api.keys, obj, api, id_only, d->keys, why, why_size);
	if (err || !id)
		return err;
	err = id_check(obj, k->api.id_key, id, path_id, why, why_size);
	if (err)
		return err;
	d->id = id_intern(id);
	if (!d->id)
		return -ENOMEM;
	/* The id is the device's too where it has one (a drive's serial). */
	if (id_is_the_devices(k))
		return fields_set_string(k->fields, d->dev.data, k->api.id_key, d->id);
	return 0;
}

static int kind_count(const struct api_config *c, const struct device_kind *k)
{
	int i, n = 0;

	for (i = 0; i < c->ndevices; i++)
		n += c->devices[i].dev.kind == k;
	return n;
}

/* Where *d goes: the device it replaces (same id; the one device of a kind
 * of one), or the end of the list, after the kind's rules. */
static int device_slot(const struct api_config *c, const struct api_device *d, char *why,
		       size_t why_size)
{
	const struct device_kind *k = d->dev.kind;
	const struct device_api *a = &k->api;
	int i, slot = -1;

	if (a->conflict && a->conflict(d->dev.data, d->keys, NULL, NULL, NULL, why, why_size))
		return -EINVAL;
	for (i = 0; i < c->ndevices; i++) {
		const struct api_device *o = &c->devices[i];

		if (o->dev.kind != k)
			continue;
		if (k->max == 1 || !strcmp(id_str(o->id), id_str(d->id)))
			slot = i;
		else if (a->conflict && a->conflict(d->dev.data, d->keys, o->dev.data, o->keys,
						    id_str(o->id), why, why_size))
			return -EINVAL;
	}
	if (slot >= 0)
		return slot;
	if (kind_count(c, k) >= k->max)
		return why_fail(why, why_size, -EINVAL,
				"%s: %s: '" PARSE_ID_FMT "' would be more than %d %s", kind_obj(k),
				a->id_key ? a->id_key : "?", PARSE_ID_ARG(id_str(d->id)), k->max,
				a->plural ? a->plural : "devices");
	if (c->ndevices >= VM_MAX_VIRTIO)
		return why_fail(why, why_size, -EINVAL, "%s: more than %d devices", kind_obj(k),
				VM_MAX_VIRTIO);
	return c->ndevices;
}

/* A drive's path_on_host is an Option to serde (vhost-user drives have a
 * socket instead): a body without one reaches Firecracker's VMM, which finds
 * neither path nor socket. A configuration file keeps volt's words. */
static int drive_path_missing(const struct device_kind *k, const json_t *j, int err, char *why,
			      size_t why_size)
{
	char words[96];

	snprintf(words, sizeof(words), "%s: missing required field 'path_on_host'", kind_obj(k));
	if (k != &virtio_blk_kind || !json_pos_is_root(j) || strcmp(why, words))
		return err;
	return why_fail(why, why_size, -API_EVMM,
			"Drive config error: Unable to create the virtio block device: "
			"Invalid block config.");
}

/* Firecracker's words for an interface's mtu below 68 (Net::new's InvalidMtu,
 * in NetworkInterfaceError::CreateNetworkDevice); one above 65535 is serde's
 * u16 error there, which keeps volt's range words. */
static int net_mtu_words(const json_t *j, int err, char *why, size_t why_size)
{
	const json_t *v = json_object_get(j, "mtu");

	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= 68 ||
	    strncmp(why, "network-interface: mtu: ", strlen("network-interface: mtu: ")))
		return err;
	return why_fail(why, why_size, err,
			"Could not create the network device: MTU %" JSON_INTEGER_FORMAT
			" is out of range [68, 65535]",
			json_integer_value(v));
}

static void device_remove(struct api_config *c, int i)
{
	memmove(&c->devices[i], &c->devices[i + 1],
		(size_t)(c->ndevices - i - 1) * sizeof(c->devices[0]));
	c->ndevices--;
}

/* Vec::swap_remove() among the devices of its kind: the last of them takes
 * its place (the others, and other kinds, keep theirs). */
static void device_swap_remove(struct api_config *c, int i)
{
	int j, last = i;

	for (j = i + 1; j < c->ndevices; j++)
		if (c->devices[j].dev.kind == c->devices[i].dev.kind)
			last = j;
	c->devices[i] = c->devices[last];
	device_remove(c, last);
}

void api_device_swap_remove(struct api_config *c, struct api_device *d)
{
	device_swap_remove(c, (int)(d - c->devices));
}

/* Firecracker's NetBuilder::build: another interface's MAC is refused first;
 * then the interface of the same id is dropped, and the new one opens its
 * TAP, which fails (EBUSY) when another interface holds it, leaving the id
 * without an interface. volt opens TAPs at InstanceStart: the same answer
 * and the same outcome here, from the names. */
static int net_put_checks(struct api_config *c, const struct api_device *d, char *why,
			  size_t why_size)
{
	const struct net_config *n = (const void *)d->dev.data;
	int i;

	for (i = 0; n->has_mac && i < c->ndevices; i++) {
		const struct net_config *o = (const void *)c->devices[i].dev.data;

		if (c->devices[i].dev.kind == &virtio_net_kind &&
		    strcmp(id_str(c->devices[i].id), id_str(d->id)) && o->has_mac &&
		    !memcmp(o->mac, n->mac, 6))
			return why_fail(why, why_size, -API_EVMM,
					"Network config error: The MAC address is already in use: "
					"%02x:%02x:%02x:%02x:%02x:%02x",
					n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4],
					n->mac[5]);
	}
	for (i = 0; i < c->ndevices; i++) {
		const struct net_config *o = (const void *)c->devices[i].dev.data;
		const struct api_device *same;

		if (c->devices[i].dev.kind != &virtio_net_kind ||
		    !strcmp(id_str(c->devices[i].id), id_str(d->id)) || strcmp(o->tap, n->tap))
			continue;
		same = api_device_find(c, &virtio_net_kind, id_str(d->id));
		if (same)
			device_swap_remove(c, (int)(same - c->devices));
		return why_fail(why, why_size, -EBUSY, API_TAP_IFREQ_FMT,
				"Resource busy (os error 16)", n->tap);
	}
	return 0;
}

static bool is_root_device(const struct api_device *d)
{
	return d->dev.kind == &virtio_blk_kind && ((const struct blk_api_keys *)d->keys)->root;
}

static bool is_root_pmem(const struct api_device *d)
{
	return d->dev.kind == &virtio_pmem_kind && ((const struct pmem_api_keys *)d->keys)->root;
}

/* One root device across drives and pmem devices (Firecracker's
 * BlockBuilder and PmemBuilder), in Firecracker's words. */
static int root_kinds_conflict(const struct api_config *c, const struct api_device *d, char *why,
			       size_t why_size)
{
	bool (*other)(const struct api_device *) = NULL;
	const char *msg = NULL;
	int i;

	if (is_root_device(d)) {
		other = is_root_pmem;
		msg = "Drive config error: Attempt to add block as a root device while the root "
		      "device defined as a pmem device";
	} else if (is_root_pmem(d)) {
		other = is_root_device;
		msg = "Pmem config error: Attempt to add pmem as a root device while the root "
		      "device defined as a block device";
	}
	for (i = 0; other && i < c->ndevices; i++)
		if (other(&c->devices[i]))
			return why_fail(why, why_size, -EINVAL, "%s", msg);
	return 0;
}

/* Firecracker's BlockBuilder::insert: a new root drive goes before the other
 * drives, and a drive that becomes root trades places with the first drive.
 * That order is the guest's (vda, vdb...) and GET /vm/config's. */
static void root_drive_first(struct api_config *c, int slot, bool added)
{
	struct api_device t;
	int first = 0;

	if (!is_root_device(&c->devices[slot]))
		return;
	while (first < slot && c->devices[first].dev.kind != &virtio_blk_kind)
		first++;
	if (first == slot)
		return;
	t = c->devices[slot];
	if (added)
		memmove(&c->devices[first + 1], &c->devices[first],
			(size_t)(slot - first) * sizeof(c->devices[0]));
	else
		c->devices[slot] = c->devices[first];
	c->devices[first] = t;
}

int api_put_device(struct api_config *c, const struct device_kind *k, json_t *j,
		   const char *path_id, char *why, size_t why_size)
{
	struct api_device d;
	json_t *api, *dev;
	const char *idv;
	bool added;
	int err;

	if (!k || !k->api_path)
		return why_fail(why, why_size, -EINVAL, "%s: not configurable through the API",
				k ? k->name : "?");
	err = split_keys(k, j, &api, &dev, why, why_size);
	if (err)
		return err;
	api_empty_rate_limiters(api);
	api_empty_rate_limiters(dev);
	/* A PUT of an id replaces its device, and so does a file's later entry,
	 * except where the id is the device's own (a drive's serial): one
	 * device per id then, as on the CLI, so the file may not name it twice. */
	idv = k->api.id_key ? json_string_value(json_object_get(api, k->api.id_key)) : NULL;
	/* Firecracker compares the ids before it looks at them. */
	if (path_id && idv && strcmp(idv, path_id))
		err = id_check(kind_obj(k), k->api.id_key, idv, path_id, why, why_size);
	if (!path_id && id_is_the_devices(k) && idv && api_device_find(c, k, idv))
		err = why_fail(why, why_size, -EINVAL, "%s: %s: '%s' appears twice", kind_obj(k),
			       k->api.id_key, idv);
	if (!err)
		err = device_parse(k, api, dev, path_id, &d, why, why_size);
	if (err)
		err = drive_path_missing(k, j, err, why, why_size);
	if (err && k == &virtio_net_kind)
		err = net_mtu_words(j, err, why, why_size);
	json_decref(api);
	json_decref(dev);
	if (err)
		return err;
	if (k->api.put_error && k->validate) {
		const struct device_vm_facts facts = { .mem_size = (uint64_t)c->mem_mib << 20 };
		char reason[256];

		/* Firecracker's builders' checks from here on: its VMM's. */
		err = k->validate(d.dev.data, &facts, reason, sizeof(reason));
		if (err)
			return why_fail(why, why_size, -API_EVMM, "%s%s", k->api.put_error, reason);
	}
	if (k == &virtio_net_kind && path_id) {
		err = net_put_checks(c, &d, why, why_size);
		if (err)
			return err;
	}
	err = root_kinds_conflict(c, &d, why, why_size);
	if (err)
		return -API_EVMM;
	err = device_slot(c, &d, why, why_size);
	if (err < 0)
		return -API_EVMM;
	added = err == c->ndevices;
	/* Firecracker's NetBuilder replaces an interface by swap_remove() and a
	 * push: the new one is the last interface (the guest's order too). */
	if (!added && k == &virtio_net_kind) {
		device_swap_remove(c, err);
		err = c->ndevices;
		added = true;
	}
	c->devices[err] = d;
	if (added)
		c->ndevices++;
	root_drive_first(c, err, added);
	return 0;
}

#define PATCH_DRIVE_ERR "Drive config error: Unable to patch the block device: "
#define PATCH_DRIVE_END " Please verify the request arguments."

/* Firecracker's words for a file the drive could not take (its io::Error and
 * path), then volt's reason when it has more to say. */
static int patch_file_failed(int err, const char *path, const char *reason, char *why,
			     size_t why_size)
{
	bool more = reason[0] && strcmp(reason, strerror(-err));

	return why_fail(why, why_size, err,
			PATCH_DRIVE_ERR
			"Block: Virtio backend error: Error manipulating the backing "
			"file: %s (os error %d) %.512s%s%s%s" PATCH_DRIVE_END,
			musl_strerror(-err), -err, path, more ? " (" : "", more ? reason : "",
			more ? ")" : "");
}

/* Firecracker's BlockDeviceUpdateConfig, read as its parser reads it. */
static int drive_update_get(json_t *j, const char *path_id, const char **id, char *path,
			    bool *has_path, struct rl_config *rl, bool *has_rl, char *why,
			    size_t why_size)
{
	const struct api_field f[] = {
		{ "drive_id", F_ID, true, false, id, 0, 1, 0, NULL },
		{ "path_on_host", F_STR, false, false, path, PATH_MAX, 1, 0, has_path },
		{ "rate_limiter", F_RL_CFG, false, false, rl, 0, 0, 0, has_rl },
	};
	int err = fields_get("drive", j, f, sizeof(f) / sizeof(f[0]), why, why_size);

	return err ? err : id_check("drive", "drive_id", *id, path_id, why, why_size);
}

int api_parse_drive_update(json_t *j, const char *path_id, char *why, size_t why_size)
{
	const char *id = NULL;
	char path[PATH_MAX];
	struct rl_config rl = { 0 };

	return drive_update_get(j, path_id, &id, path, &(bool){ false }, &rl, &(bool){ false }, why,
				why_size);
}

int api_patch_drive(struct api_config *c, json_t *j, const char *path_id, bool started,
		    api_drive_file_fn set_file, void *ctx, char *why, size_t why_size)
{
	const char *id = NULL;
	char path[PATH_MAX];
	bool has_path = false, has_rl = false;
	struct rl_config rl = { 0 };
	struct api_device *d;
	struct blk_config *b;
	int err;

	err = drive_update_get(j, path_id, &id, path, &has_path, &rl, &has_rl, why, why_size);
	if (err)
		return err;
	d = api_device_find(c, &virtio_blk_kind, id);
	if (!d && started)
		return why_fail(why, why_size, -EINVAL,
				PATCH_DRIVE_ERR "Failed perform action on device: Device not "
						"found" PATCH_DRIVE_END);
	if (!d)
		return why_fail(why, why_size, -EINVAL,
				"drive: drive_id: no drive '" PARSE_ID_FMT "'", PARSE_ID_ARG(id));
	b = (struct blk_config *)d->dev.data;
	/* Firecracker's virtio-block takes a new file and/or a rate limiter;
	 * neither is its vhost-user block's update, which a virtio-block refuses. */
	if (started && !has_path && !has_rl)
		return why_fail(why, why_size, -EINVAL,
				PATCH_DRIVE_ERR "Block: Running method expected different "
						"backend." PATCH_DRIVE_END);
	/* The router hands the buckets to the running drive (api_ops). */
	if (has_rl && !has_path)
		rl_config_merge(&b->rate_limiter, &rl);
	if (!has_path)
		return 0;
	if (started) {
		char reason[256] = "";

		/* Firecracker opens the file again even when the path is the
		 * same: its content may be new. */
		err = set_file ? set_file(ctx, id, path, reason, sizeof(reason)) : -EOPNOTSUPP;
		if (err)
			return patch_file_failed(err, path, reason, why, why_size);
	}
	_Static_assert(sizeof(path) == sizeof(b->path), "path_on_host fits");
	memcpy(b->path, path, sizeof(path));
	if (has_rl)
		rl_config_merge(&b->rate_limiter, &rl);
	return 0;
}

/* Firecracker's NetworkInterfaceUpdateConfig, read as its parser reads it. */
static int net_update_get(json_t *j, const char *path_id, const char **id, struct rl_config *rx,
			  bool *has_rx, struct rl_config *tx, bool *has_tx, char *why,
			  size_t why_size)
{
	const struct api_field f[] = {
		{ "iface_id", F_ID, true, false, id, 0, 1, 0, NULL },
		{ "rx_rate_limiter", F_RL_CFG, false, false, rx, 0, 0, 0, has_rx },
		{ "tx_rate_limiter", F_RL_CFG, false, false, tx, 0, 0, 0, has_tx },
	};
	int err = fields_get("network-interface", j, f, sizeof(f) / sizeof(f[0]), why, why_size);

	return err ? err : id_check("network-interface", "iface_id", *id, path_id, why, why_size);
}

int api_parse_net_update(json_t *j, const char *path_id, char *why, size_t why_size)
{
	const char *id = NULL;
	struct rl_config rx = { 0 }, tx = { 0 };

	return net_update_get(j, path_id, &id, &rx, &(bool){ false }, &tx, &(bool){ false }, why,
			      why_size);
}

int api_patch_net(struct api_config *c, json_t *j, const char *path_id, char *why, size_t why_size)
{
	const char *id = NULL;
	bool has_rx = false, has_tx = false;
	struct rl_config rx = { 0 }, tx = { 0 };
	struct api_device *d;
	int err;

	err = net_update_get(j, path_id, &id, &rx, &has_rx, &tx, &has_tx, why, why_size);
	if (err)
		return err;
	d = api_device_find(c, &virtio_net_kind, id);
	if (!d)
		return why_fail(why, why_size, -EINVAL,
				"network-interface: iface_id: no interface '" PARSE_ID_FMT "'",
				PARSE_ID_ARG(id));
	/* The router hands the buckets to the running interface (api_ops). */
	if (has_rx)
		rl_config_merge(&((struct net_config *)d->dev.data)->rx_rate_limiter, &rx);
	if (has_tx)
		rl_config_merge(&((struct net_config *)d->dev.data)->tx_rate_limiter, &tx);
	return 0;
}

/* Firecracker's PmemDeviceUpdateConfig, read as its parser reads it. */
static int pmem_update_get(json_t *j, const char *path_id, const char **id, struct rl_config *rl,
			   bool *has_rl, char *why, size_t why_size)
{
	const struct api_field f[] = {
		{ "id", F_ID, true, false, id, 0, 1, 0, NULL },
		{ "rate_limiter", F_RL_CFG, false, false, rl, 0, 0, 0, has_rl },
	};
	int err = fields_get("pmem", j, f, sizeof(f) / sizeof(f[0]), why, why_size);

	if (!err && path_id && strcmp(*id, path_id))
		err = why_fail(why, why_size, -EINVAL,
			       "The id from the path does not match the id from the body!");
	return err;
}

int api_parse_pmem_update(json_t *j, const char *path_id, char *why, size_t why_size)
{
	const char *id = NULL;
	struct rl_config rl = { 0 };

	return pmem_update_get(j, path_id, &id, &rl, &(bool){ false }, why, why_size);
}

int api_patch_pmem(struct api_config *c, json_t *j, const char *path_id, char *why, size_t why_size)
{
	const char *id = NULL;
	bool has_rl = false;
	struct rl_config rl = { 0 };
	struct api_device *d;
	int err;

	err = pmem_update_get(j, path_id, &id, &rl, &has_rl, why, why_size);
	if (err || !has_rl) /* Firecracker: nothing to do without a rate limiter */
		return err;
	d = api_device_find(c, &virtio_pmem_kind, id);
	if (!d)
		return why_fail(why, why_size, -EINVAL,
				"Pmem config error: Unable to patch the pmem device: no pmem "
				"device '" PARSE_ID_FMT "' Please verify the request arguments.",
				PARSE_ID_ARG(id));
	/* The router hands the buckets to the running device (api_ops). */
	rl_config_merge(&((struct pmem_config *)(void *)d->dev.data)->rate_limiter, &rl);
	return 0;
}

int api_parse_memory_hotplug_update(json_t *j, uint64_t *requested, char *why, size_t why_size)
{
	const struct api_field upd[] = {
		{ "requested_size_mib", F_UINT, true, false, requested, 0, 0, UINT32_MAX, NULL },
	};

	return fields_get("hotplug/memory", j, upd, sizeof(upd) / sizeof(upd[0]), why, why_size);
}

int api_parse_balloon_update(json_t *j, unsigned int *mib, char *why, size_t why_size)
{
	uint64_t v = 0;
	const struct api_field f[] = {
		{ "amount_mib", F_UINT, true, false, &v, 0, 0, UINT32_MAX, NULL },
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
		{ "stats_polling_interval_s", F_UINT, true, false, &v, 0, 0, UINT64_MAX, NULL },
	};
	char reason[160];
	int err = fields_get("balloon-stats", j, f, 1, why, why_size);

	if (!err && balloon_stats_check(v, reason, sizeof(reason)))
		return why_fail(why, why_size, -EINVAL,
				"balloon-stats: stats_polling_interval_s: %s", reason);

	if (!err)
		*seconds = (unsigned int)v;
	return err;
}

int api_parse_action(json_t *j, char *type, size_t type_size, char *why, size_t why_size)
{
	char t[32];
	const struct api_field f[] = {
		{ "action_type", F_STR, true, false, t, sizeof(t), 1, 0, NULL },
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
		{ "state", F_STR, true, false, s, sizeof(s), 1, 0, NULL },
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
		{ "log_path", F_STR, false, false, n.path, sizeof(n.path), 1, 0, NULL },
		{ "level", F_STR, false, false, n.level, sizeof(n.level), 1, 0, NULL },
		{ "show_level", F_BOOL, false, false, &n.show_level, 0, 0, 0, NULL },
		{ "show_log_origin", F_BOOL, false, false, &n.show_log_origin, 0, 0, 0, NULL },
		/* Firecracker's per-module filter: volt has one log, so it is ignored. */
		{ "module", F_ANY_STR, false, false, NULL, 0, 0, 0, NULL },
	};
	int err = fields_get("logger", j, f, sizeof(f) / sizeof(f[0]), why, why_size);

	if (err)
		return err;
	if (n.level[0] && api_logger_level(n.level, &level))
		return why_fail(
			why, why_size, -EINVAL,
			"logger: level: '%s' is not Error, Warning, Info, Debug, Trace or Off",
			n.level);
	n.has_show_level = json_is_boolean(json_object_get(j, "show_level"));
	n.has_show_log_origin = json_is_boolean(json_object_get(j, "show_log_origin"));
	*l = n;
	return 0;
}

int api_parse_metrics(json_t *j, struct api_metrics *m, char *why, size_t why_size)
{
	static struct api_metrics n; /* 8 KiB: not on the API's stack */
	json_t *props = NULL;
	const struct api_field f[] = {
		{ "metrics_path", F_STR, true, false, n.path, sizeof(n.path), 1, 0, NULL },
		{ "emit_id", F_BOOL, false, true, &n.emit_id, 0, 0, 0, NULL },
		{ "properties", F_STR_MAP, false, false, &props, 0, 0, 0, NULL },
	};
	json_t *known;
	char *text;
	size_t i;
	int err;

	known = json_is_object(j) ? json_object() : json_incref(j);

	/* Firecracker's MetricsConfig is not deny_unknown_fields: only its own
	 * keys are read. */
	for (i = 0; known && json_is_object(j) && i < sizeof(f) / sizeof(f[0]); i++)
		if (json_object_get(j, f[i].name) &&
		    json_object_set(known, f[i].name, json_object_get(j, f[i].name))) {
			json_decref(known);
			known = NULL;
		}
	if (!known && j)
		return why_fail(why, why_size, -ENOMEM, "metrics: out of memory");
	memset(&n, 0, sizeof(n));
	err = fields_get("metrics", known, f, sizeof(f) / sizeof(f[0]), why, why_size);
	json_decref(known);
	if (err)
		return err;
	if (props) {
		text = json_dumps(props, JSON_COMPACT | JSON_SORT_KEYS);
		if (!text)
			return why_fail(why, why_size, -ENOMEM,
					"metrics: properties: out of memory");
		if (strlen(text) >= sizeof(n.properties)) {
			free(text);
			return why_fail(why, why_size, -EINVAL,
					"metrics: properties: longer than %zu bytes as JSON",
					sizeof(n.properties) - 1);
		}
		memcpy(n.properties, text, strlen(text) + 1);
		free(text);
	}
	*m = n;
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
	static const char *const own[] = { "boot-source", "machine-config", "logger", "metrics",
					   "cpu-config",  "mmds-config",    "pmem" };
	size_t i;

	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (!strcmp(key, own[i]))
			return true;
	return device_kind_by_config_key(key) != NULL;
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
			return why_fail(why, why_size, -EINVAL, "%s: expected an array, got %s",
					kind->config_key, fields_json_type(v));
		json_array_foreach(v, i, e)
		{
			if (!err)
				err = api_put_device(c, kind, e, NULL, why, why_size);
		}
	}
	return err;
}

void api_set_cpu_config(struct api_config *c, const struct custom_cpu_template *t)
{
	if (t)
		c->cpu_config = *t;
	c->has_cpu_config = true;
	/* Firecracker's one template slot: the custom template replaces a
	 * static one (GET /machine-config then shows none). */
	snprintf(c->cpu_template, sizeof(c->cpu_template), "None");
}

/* The configuration file's "cpu-config": Firecracker's CustomCpuTemplateOrPath,
 * the template itself or the path of a JSON file holding it. */
static int cpu_config_section(struct api_config *c, json_t *v, char *why, size_t why_size)
{
	char inner[512];
	json_t *t = v;
	char *text = NULL;
	size_t len;
	int err;

	if (json_is_string(v)) {
		/* read_input says what a FIFO or a device is, not "Invalid argument". */
		err = read_input(json_string_value(v), 1 << 20, &text, &len, inner, sizeof(inner));
		if (err)
			return why_fail(why, why_size, err, "cpu-config: cannot read '%.256s': %s",
					json_string_value(v), inner);
		t = api_json_parse(text, len, inner, sizeof(inner));
		free(text);
		if (!t)
			return why_fail(why, why_size, -EINVAL, "cpu-config: '%.256s': %s",
					json_string_value(v), inner);
	}
	err = api_parse_cpu_config(t, &c->cpu_config, inner, sizeof(inner));
	if (t != v)
		json_decref(t);
	/* A template read from a file names the file: the error is in it. */
	if (err && t != v)
		return why_fail(why, why_size, err, "cpu-config: '%.256s': %s",
				json_string_value(v), inner);
	if (err)
		return why_fail(why, why_size, err, "cpu-config: %s", inner);
	api_set_cpu_config(c, NULL);
	return 0;
}

int api_config_from_json(struct api_config *out, json_t *root, char *why, size_t why_size)
{
	static struct api_config c;
	const char *key;
	json_t *v;
	int err;

	if (!json_is_object(root))
		return why_fail(why, why_size, -EINVAL,
				"configuration: expected a JSON object, got %s",
				fields_json_type(root));
	/* Firecracker's VmmConfig takes unknown keys (serde's default): a file
	 * written for another release still boots. Said, so a typo shows. */
	json_object_foreach(root, key, v)
	{
		if (!known_section(key)) {
			char shown[80];

			escape_controls(key, shown, sizeof(shown), true);
			pr_warn("configuration: unknown section '%s' ignored", shown);
		}
	}
	api_config_init(&c);
	/* The store --metadata filled (the front end's) stays. */
	c.mmds = out->mmds;
	c.mmds_size_limit = out->mmds_size_limit;
	v = section(root, "boot-source");
	if (!v)
		return why_fail(why, why_size, -EINVAL,
				"boot-source: missing (it names the kernel)");
	err = api_put_boot_source(&c, v, why, why_size);
	if (!err && (v = section(root, "machine-config")))
		err = api_put_machine_config(&c, v, false, why, why_size);
	/* After machine-config, as Firecracker: the custom template wins. */
	if (!err && (v = section(root, "cpu-config")))
		err = cpu_config_section(&c, v, why, why_size);
	if (!err)
		err = device_sections(&c, root, why, why_size);
	/* After the interfaces it names, as Firecracker. */
	if (!err && (v = section(root, "mmds-config"))) {
		bool v1;
		char inner[512];

		err = api_mmds_config_put(&c, v, &v1, inner, sizeof(inner));
		if (err)
			why_fail(why, why_size, err, "mmds-config: %s", inner);
	}
	if (!err && (v = section(root, "logger"))) {
		err = api_parse_logger(v, &c.logger, why, why_size);
		c.has_logger = !err;
	}
	if (!err && (v = section(root, "metrics"))) {
		err = api_parse_metrics(v, &c.metrics, why, why_size);
		c.has_metrics = !err;
	}
	if (!err)
		*out = c;
	else if (c.mmds != out->mmds)
		mmds_destroy(c.mmds); /* made for this file's mmds-config only */
	return err;
}

static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

/* Firecracker's MachineConfig: cpu_template only for a static template (its
 * is_none_or_custom_template skips "None", given or not, and a custom one:
 * PUT /cpu-config sets volt's name back to "None"). */
json_t *api_machine_config_to_json(const struct api_config *c)
{
	bool tmpl = strcmp(c->cpu_template, "None") != 0;

	/* s*: the pair is left out when the value is NULL. */
	return json_pack("{s:i, s:i, s:b, s:s*, s:b, s:s}", "vcpu_count", (int)c->vcpus,
			 "mem_size_mib", (int)c->mem_mib, "smt", c->smt, "cpu_template",
			 tmpl ? c->cpu_template : NULL, "track_dirty_pages", c->track_dirty_pages,
			 "huge_pages", api_huge_pages_name(c));
}

/* The device's keys: its id, its fields, the API's keys of its kind. */
static json_t *device_keys(const struct api_device *d)
{
	const struct device_kind *k = d->dev.kind;
	json_t *o = device_config_to_json(&d->dev), *keys;

	if (o && k->api.keys) {
		keys = fields_to_json(k->api.keys, d->keys);
		if (!keys || json_object_update(o, keys)) {
			json_decref(o);
			o = NULL;
		}
		json_decref(keys);
	}
	if (o && k->api.id_key && json_object_set_new(o, k->api.id_key, str_or_null(d->id))) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

json_t *api_device_to_json(const struct api_device *d)
{
	const char *const *key = d->dev.kind->api.get;
	json_t *all = device_keys(d), *o;

	if (!all || !key)
		return all;
	/* Firecracker's keys, in its order. */
	o = json_object();
	for (; o && *key; key++) {
		json_t *v = json_object_get(all, *key);

		if (json_object_set(o, *key, v ? v : json_null())) {
			json_decref(o);
			o = NULL;
		}
	}
	json_decref(all);
	return o;
}

/* A kind's section: an array where it may have several devices, its one
 * device's object or null otherwise. */
static json_t *device_section(const struct api_config *c, const struct device_kind *k)
{
	json_t *arr, *v;
	int i;

	if (k->max == 1) {
		const struct api_device *d = api_device_find(c, k, NULL);

		return d ? api_device_to_json(d) : json_null();
	}
	arr = json_array();
	for (i = 0; arr && i < c->ndevices; i++) {
		if (c->devices[i].dev.kind != k)
			continue;
		v = api_device_to_json(&c->devices[i]);
		if (!v || json_array_append_new(arr, v)) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *logger_to_json(const struct api_config *c)
{
	if (!c->has_logger)
		return json_null();
	return json_pack("{s:o, s:o, s:b, s:b}", "log_path", str_or_null(c->logger.path), "level",
			 str_or_null(c->logger.level), "show_level", c->logger.show_level,
			 "show_log_origin", c->logger.show_log_origin);
}

/* Firecracker's VmResources always hold a BootSourceConfig: none given is its
 * default, an empty kernel path. */
static json_t *boot_to_json(const struct api_config *c)
{
	return json_pack("{s:s, s:o, s:o}", "kernel_image_path", c->kernel, "initrd_path",
			 str_or_null(c->initrd), "boot_args",
			 c->has_boot_args ? json_string(c->boot_args) : json_null());
}

static json_t *metrics_to_json(const struct api_config *c)
{
	if (!c->has_metrics)
		return json_null();
	json_t *j = json_pack("{s:s, s:b}", "metrics_path", c->metrics.path, "emit_id",
			      c->metrics.emit_id);

	if (j && c->metrics.properties[0])
		json_object_set_new(j, "properties", json_loads(c->metrics.properties, 0, NULL));
	return j;
}

static json_t *null_to_json(const struct api_config *c)
{
	(void)c;
	return json_null();
}

/* Firecracker's own sections, ranked (struct device_api.rank places the
 * devices' among them) as its VmmConfig declares them, which serde writes:
 * balloon 5, drives 6, boot-source, cpu-config, logger, machine-config,
 * metrics, mmds-config, network-interfaces 110, vsock 120, entropy 130, pmem
 * 1000, memory-hotplug 1010. */
static const struct {
	const char *key;
	int rank;
	json_t *(*to_json)(const struct api_config *c);
} own_sections[] = {
	{ "boot-source", 10, boot_to_json }, { "cpu-config", 40, null_to_json },
	{ "logger", 45, logger_to_json },    { "machine-config", 50, api_machine_config_to_json },
	{ "metrics", 90, metrics_to_json },  { "mmds-config", 100, api_mmds_config_to_json },
};

static int rank_of(const struct device_kind *k)
{
	return k->api.rank ? k->api.rank : INT_MAX - 1;
}

/* The devices' sections ranked below `below` (INT_MAX: all) not written yet,
 * by rank, then in the table's order. */
static int device_sections_below(json_t *root, const struct api_config *c, int below, bool *done)
{
	int k, next, err = 0;

	while (!err) {
		next = -1;
		for (k = 0; k < device_table_len; k++)
			if (!done[k] && device_table[k]->config_key &&
			    rank_of(device_table[k]) < below &&
			    (next < 0 || rank_of(device_table[k]) < rank_of(device_table[next])))
				next = k;
		if (next < 0)
			break;
		done[next] = true;
		err = json_object_set_new(root, device_table[next]->config_key,
					  device_section(c, device_table[next]));
	}
	return err;
}

json_t *api_config_to_json(const struct api_config *c)
{
	bool *done = calloc((size_t)device_table_len, sizeof(*done));
	json_t *root = json_object();
	size_t i;
	int err = !root || !done;

	for (i = 0; !err && i < sizeof(own_sections) / sizeof(own_sections[0]); i++) {
		err = device_sections_below(root, c, own_sections[i].rank, done);
		if (!err)
			err = json_object_set_new(root, own_sections[i].key,
						  own_sections[i].to_json(c));
	}
	if (!err)
		err = device_sections_below(root, c, INT_MAX, done);
	free(done);
	if (err) {
		json_decref(root);
		return NULL;
	}
	return root;
}

/* The VM's copy of a device: its configuration and its API id. */
static void device_with_id(struct device_config *out, const struct api_device *d)
{
	*out = d->dev;
	out->id = d->id;
}

/* boot_args, and root= for the root device (a drive's or a pmem device's API
 * key): /dev/pmemN counts the pmem devices in their order, which is the
 * guest's. */
static int cmdline_make(const struct api_config *c, char *cmdline, size_t cmdline_size, char *why,
			size_t why_size)
{
	const struct blk_api_keys *root = NULL;
	const struct blk_config *b = NULL;
	const struct pmem_config *p = NULL;
	char param[128];
	int i, len, npmem = 0, pmem_index = 0;

	/* The kernel gets boot_args as Firecracker's Cmdline holds them
	 * (GET /vm/config shows them as given). */
	if (!c->has_boot_args)
		len = snprintf(cmdline, cmdline_size, "%s", API_DEFAULT_CMDLINE);
	else
		len = cmdline_fc_form(c->boot_args, cmdline, cmdline_size) ? (int)cmdline_size
									   : (int)strlen(cmdline);
	for (i = 0; i < c->ndevices; i++) {
		if (is_root_device(&c->devices[i])) {
			root = (const void *)c->devices[i].keys;
			b = (const void *)c->devices[i].dev.data;
		}
		if (is_root_pmem(&c->devices[i])) {
			p = (const void *)c->devices[i].dev.data;
			pmem_index = npmem;
		}
		if (c->devices[i].dev.kind == &virtio_pmem_kind)
			npmem++;
	}
	if ((size_t)len >= cmdline_size)
		return why_fail(why, why_size, -EINVAL, "boot-source: boot_args: too long");
	if (!root && !p)
		return 0;
	if (p)
		snprintf(param, sizeof(param), "root=/dev/pmem%d %s", pmem_index,
			 p->read_only ? "ro" : "rw");
	else if (root->partuuid[0])
		snprintf(param, sizeof(param), "root=PARTUUID=%s %s", root->partuuid,
			 b->read_only ? "ro" : "rw");
	else
		snprintf(param, sizeof(param), "root=/dev/vda %s", b->read_only ? "ro" : "rw");
	/* A kernel parameter: before init's arguments, if boot_args has some. */
	if (cmdline_add(cmdline, cmdline_size, param, strlen(param)))
		return why_fail(why, why_size, -EINVAL, "boot-source: boot_args: too long");
	return 0;
}

int api_config_to_vm(const struct api_config *c, struct vm_config *out, char *cmdline,
		     size_t cmdline_size, char *why, size_t why_size)
{
	const struct device_config *bad;
	char reason[192];
	int i, err;

	if (!c->has_boot)
		return why_fail(
			why, why_size, -EINVAL,
			"boot-source: missing: PUT /boot-source with kernel_image_path first");
	out->kernel = c->kernel;
	out->initrd = c->initrd[0] ? c->initrd : NULL;
	out->mem_size = (uint64_t)c->mem_mib << 20;
	out->track_dirty_pages = c->track_dirty_pages;
	out->huge_pages = c->huge_pages;
	out->ncpus = (int)c->vcpus;
	out->smt = c->smt;
	out->cpu_template = strcmp(c->cpu_template, "None") ? c->cpu_template : NULL;
	out->custom_template = c->has_cpu_config ? &c->cpu_config : NULL;
	err = cmdline_make(c, cmdline, cmdline_size, why, why_size);
	if (err)
		return err;
	out->cmdline = cmdline;
	out->serial_out_path = c->serial_out_path[0] ? c->serial_out_path : NULL;
	out->serial_rate_limiter = c->serial_rate_limiter;
	out->mmds = c->mmds;
	/* The VM plugs devices in by kind, in the table's order, and each kind's
	 * in this order: the root device first, so that it is vda. */
	out->ndevices = 0;
	for (i = 0; i < c->ndevices; i++)
		if (is_root_device(&c->devices[i]))
			device_with_id(&out->devices[out->ndevices++], &c->devices[i]);
	for (i = 0; i < c->ndevices; i++)
		if (!is_root_device(&c->devices[i]))
			device_with_id(&out->devices[out->ndevices++], &c->devices[i]);
	err = device_list_validate(out->devices, out->ndevices,
				   &(struct device_vm_facts){ .mem_size = out->mem_size }, &bad,
				   reason, sizeof(reason));
	if (err && bad->kind->api.validate_key)
		return why_fail(why, why_size, -EINVAL, "%s: %s: %s", kind_obj(bad->kind),
				bad->kind->api.validate_key, reason);
	if (err)
		return why_fail(why, why_size, -EINVAL, "%s: %s", kind_obj(bad->kind), reason);
	return 0;
}

/* --- snapshots: Firecracker's serde types (api/fc_bodies.h), then volt's limits --- */

/* The string of field name in j (NULL when absent or null). */
static const char *snap_str(json_t *j, const char *name)
{
	return json_string_value(json_object_get(j, name));
}

static bool snap_bool(json_t *j, const char *name)
{
	return json_is_true(json_object_get(j, name));
}

/* volt's own limits on a string: not empty, no NUL, shorter than max. */
static int snap_str_check(const char *obj, const char *field, json_t *j, const char *name,
			  size_t max, char *why, size_t why_size)
{
	json_t *v = json_object_get(j, name);

	if (!json_is_string(v))
		return 0;
	if (!json_string_length(v))
		return why_fail(why, why_size, -EINVAL, "%s: %s: must not be empty", obj, field);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return why_fail(why, why_size, -EINVAL, "%s: %s: contains a NUL byte", obj, field);
	if (json_string_length(v) >= max)
		return why_fail(why, why_size, -EINVAL, "%s: %s: longer than %zu bytes", obj, field,
				max - 1);
	return 0;
}

int api_parse_snapshot_create(json_t *j, struct snapshot_create_req *req, char *why,
			      size_t why_size)
{
	const char *type = snap_str(j, "snapshot_type");
	int err;

	if ((err = snap_str_check("snapshot/create", "snapshot_path", j, "snapshot_path", PATH_MAX,
				  why, why_size)) ||
	    (err = snap_str_check("snapshot/create", "mem_file_path", j, "mem_file_path", PATH_MAX,
				  why, why_size)))
		return err;
	memset(req, 0, sizeof(*req));
	req->type = type && !strcmp(type, "Diff") ? SNAPSHOT_DIFF : SNAPSHOT_FULL;
	req->state_path = snap_str(j, "snapshot_path");
	req->mem_path = snap_str(j, "mem_file_path");
	return 0;
}

static int parse_net_overrides(json_t *a, struct snapshot_load_req *req, char *why, size_t why_size)
{
	char field[64];
	json_t *o;
	size_t i;
	int err;

	if (json_array_size(a) > VM_MAX_NETS)
		return why_fail(why, why_size, -EINVAL,
				"snapshot/load: network_overrides: %zu entries, volt has at most "
				"%d network interfaces",
				json_array_size(a), VM_MAX_NETS);
	json_array_foreach(a, i, o)
	{
		snprintf(field, sizeof(field), "network_overrides[%zu]: iface_id", i);
		err = snap_str_check("snapshot/load", field, o, "iface_id", SIZE_MAX, why,
				     why_size);
		if (err)
			return err;
		snprintf(field, sizeof(field), "network_overrides[%zu]: host_dev_name", i);
		err = snap_str_check("snapshot/load", field, o, "host_dev_name", IFNAMSIZ, why,
				     why_size);
		if (err)
			return err;
	}
	json_array_foreach(a, i, o)
	{
		req->net[i].iface_id = id_intern(snap_str(o, "iface_id"));
		if (!req->net[i].iface_id)
			return -ENOMEM;
		snprintf(req->net[i].host_dev_name, sizeof(req->net[i].host_dev_name), "%s",
			 snap_str(o, "host_dev_name"));
	}
	req->nnet = (int)json_array_size(a);
	return 0;
}

/* j: a LoadSnapshotConfig as serde read it; then Firecracker's own checks
 * (LoadSnapshotParams::try_from) and volt's limits. */
int api_parse_snapshot_load(json_t *j, struct snapshot_load_req *req, bool *deprecated, char *why,
			    size_t why_size)
{
	struct snapshot_load_req r = { 0 };
	json_t *backend = json_object_get(j, "mem_backend"), *nets, *vsock;
	const char *mem_file = snap_str(j, "mem_file_path"), *h = snap_str(j, "huge_pages"), *bt;
	struct sockaddr_un sa;
	bool uffd;
	int err;

	if (json_is_null(backend))
		backend = NULL;
	if (backend && mem_file)
		return serde_fail(why, why_size,
				  "too many fields: either `mem_backend` or `mem_file_path` "
				  "exclusively is required");
	if (!backend && !mem_file)
		return serde_fail(why, why_size,
				  "missing field: either `mem_backend` or `mem_file_path` is "
				  "required");
	bt = backend ? snap_str(backend, "backend_type") : NULL;
	uffd = bt && !strcmp(bt, "Uffd");
	nets = json_object_get(j, "network_overrides");
	if (json_is_array(nets) && (err = parse_net_overrides(nets, &r, why, why_size)))
		return err;
	vsock = json_object_get(j, "vsock_override");
	/* volt's own limits. */
	if ((err = snap_str_check("snapshot/load", "snapshot_path", j, "snapshot_path", PATH_MAX,
				  why, why_size)) ||
	    (err = snap_str_check("snapshot/load", "mem_file_path", j, "mem_file_path", PATH_MAX,
				  why, why_size)) ||
	    (backend && (err = snap_str_check("snapshot/load", "mem_backend: backend_path", backend,
					      "backend_path", uffd ? sizeof(sa.sun_path) : PATH_MAX,
					      why, why_size))) ||
	    (json_is_object(vsock) &&
	     (err = snap_str_check("snapshot/load", "vsock_override: uds_path", vsock, "uds_path",
				   sizeof(sa.sun_path), why, why_size))))
		return err;
	r.huge_pages = !h || !strcmp(h, "Snapshot") ? SNAP_HUGE_SNAPSHOT
		       : !strcmp(h, "None")	    ? SNAP_HUGE_NONE
		       : !strcmp(h, "2M")	    ? SNAP_HUGE_2M
						    : SNAP_HUGE_THP;
	r.state_path = snap_str(j, "snapshot_path");
	r.backend = uffd ? MEM_BACKEND_UFFD : MEM_BACKEND_FILE;
	r.backend_path = backend ? snap_str(backend, "backend_path") : mem_file;
	r.track_dirty_pages =
		snap_bool(j, "enable_diff_snapshots") || snap_bool(j, "track_dirty_pages");
	r.resume_vm = snap_bool(j, "resume_vm");
	r.clock_realtime = snap_bool(j, "clock_realtime");
	r.vsock_uds_path = json_is_object(vsock) ? snap_str(vsock, "uds_path") : NULL;
	*req = r;
	*deprecated = mem_file || snap_bool(j, "enable_diff_snapshots");
	return 0;
}

void api_config_from_vm(struct api_config *c, const struct vm_config *v)
{
	int i;

	c->vcpus = (unsigned int)v->ncpus;
	c->smt = v->smt;
	c->huge_pages = v->huge_pages;
	c->mem_mib = (unsigned int)(v->mem_size >> 20);
	snprintf(c->cpu_template, sizeof(c->cpu_template), "%s",
		 v->cpu_template ? v->cpu_template : "None");
	c->ndevices = 0;
	for (i = 0; i < v->ndevices && i < VM_MAX_VIRTIO; i++) {
		struct api_device *d = &c->devices[c->ndevices++];

		memset(d, 0, sizeof(*d));
		d->dev = v->devices[i];
		d->id = v->devices[i].id;
	}
}
