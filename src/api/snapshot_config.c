/* The API's part of a snapshot (api/snapshot_config.h). */
#include "api/snapshot_config.h"

#include "api/vm_config_json.h"
#include "devices/device_table.h"
#include "util/parse.h"
#include "util/why.h"

#include <errno.h>
#include <jansson.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REC "the snapshot's API configuration: "

/* {"kind", "id", "keys"} of a device whose kind has API keys. */
static json_t *device_entry(const struct api_device *d)
{
	const struct device_kind *k = d->dev.kind;
	json_t *keys = fields_to_json(k->api.keys, d->keys);

	if (!keys)
		return NULL;
	return json_pack("{s:s,s:s,s:o}", "kind", k->name, "id", id_str(d->id), "keys", keys);
}

char *api_snapshot_config_save(const struct api_config *c)
{
	json_t *all = api_config_to_json(c), *devs = json_array(), *rec = NULL, *boot, *e;
	char *text = NULL;
	int i;

	if (!all || !devs)
		goto out;
	for (i = 0; i < c->ndevices; i++) {
		if (!c->devices[i].dev.kind->api.keys)
			continue;
		e = device_entry(&c->devices[i]);
		if (!e || json_array_append_new(devs, e))
			goto out;
	}
	/* GET /vm/config's boot source: the load reads it as a PUT body; none
	 * given (GET shows Firecracker's empty one) is null. */
	boot = c->has_boot ? json_object_get(all, "boot-source") : NULL;
	rec = json_pack("{s:O,s:O}", "boot-source", boot ? boot : json_null(), "devices", devs);
	if (rec)
		text = json_dumps(rec, JSON_COMPACT);
out:
	json_decref(rec);
	json_decref(devs);
	json_decref(all);
	return text;
}

/* A device's keys from the record, checked by its kind's fields. */
static int device_keys(struct api_config *c, json_t *e, size_t i, bool *done, char *why,
		       size_t why_size)
{
	alignas(max_align_t) unsigned char keys[DEVICE_API_KEYS_MAX];
	const struct device_kind *k;
	const char *kind = NULL, *id = NULL;
	char shown[PARSE_ID_SHOWN + 1], reason[256];
	struct api_device *d;
	json_error_t jerr;
	json_t *o = NULL;
	int err;

	if (json_unpack_ex(e, &jerr, JSON_STRICT, "{s:s,s:s,s:o}", "kind", &kind, "id", &id, "keys",
			   &o))
		return why_fail(why, why_size, -EINVAL, REC "devices[%zu]: %s", i, jerr.text);
	k = device_kind_by_name(kind);
	if (!k || !k->api.keys) {
		escape_controls(kind, shown, sizeof(shown), true);
		return why_fail(why, why_size, -EINVAL,
				REC "devices[%zu]: '%s' is not a kind of device with API keys", i,
				shown);
	}
	d = api_device_find(c, k, id);
	escape_controls(id, shown, sizeof(shown), true);
	if (!d)
		return why_fail(why, why_size, -EINVAL,
				REC "devices[%zu]: the VM has no %s device '%s'", i, k->name,
				shown);
	if (done[d - c->devices])
		return why_fail(why, why_size, -EINVAL,
				REC "devices[%zu]: the %s device '%s' appears twice", i, k->name,
				shown);
	fields_defaults(k->api.keys, keys);
	err = fields_parse_json(k->api.keys, k->fields ? k->fields->name : k->name, o, NULL, keys,
				reason, sizeof(reason));
	if (err)
		return why_fail(why, why_size, err, REC "%s", reason);
	memcpy(d->keys, keys, k->api.keys->size);
	done[d - c->devices] = true;
	return 0;
}

/* The kinds' rules across the keys (one root device...), as a PUT checks them. */
static int keys_conflict(const struct api_config *c, char *why, size_t why_size)
{
	char reason[256];
	int i, j;

	for (i = 0; i < c->ndevices; i++) {
		const struct api_device *d = &c->devices[i];
		const struct device_api *a = &d->dev.kind->api;

		if (!a->conflict)
			continue;
		for (j = -1; j < i; j++) {
			const struct api_device *o = j < 0 ? NULL : &c->devices[j];

			if (o && o->dev.kind != d->dev.kind)
				continue;
			if (a->conflict(d->dev.data, d->keys, o ? o->dev.data : NULL,
					o ? o->keys : NULL, o ? id_str(o->id) : NULL, reason,
					sizeof(reason)))
				return why_fail(why, why_size, -EINVAL, REC "%s", reason);
		}
	}
	return 0;
}

int api_config_restore(struct api_config *c, const struct vm_config *v, const char *text, char *why,
		       size_t why_size)
{
	bool done[VM_MAX_VIRTIO] = { false };
	char reason[512];
	json_t *j, *boot = NULL, *devs = NULL, *e;
	json_error_t jerr;
	size_t i;
	int err = 0;

	api_config_from_vm(c, v);
	c->has_boot = false;
	c->has_boot_args = false;
	for (i = 0; i < (size_t)c->ndevices; i++)
		if (c->devices[i].dev.kind->api.keys)
			fields_defaults(c->devices[i].dev.kind->api.keys, c->devices[i].keys);
	if (!text)
		return 0;
	j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!j || json_unpack_ex(j, &jerr, JSON_STRICT, "{s:o,s:o}", "boot-source", &boot,
				 "devices", &devs)) {
		json_decref(j);
		return why_fail(why, why_size, -EINVAL, REC "%s", jerr.text);
	}
	if (!json_is_array(devs)) {
		json_decref(j);
		return why_fail(why, why_size, -EINVAL, REC "devices: not an array");
	}
	if (!json_is_null(boot)) {
		err = api_put_boot_source(c, boot, reason, sizeof(reason));
		if (err)
			err = why_fail(why, why_size, err, REC "%s", reason);
	}
	json_array_foreach(devs, i, e)
	{
		if (err)
			break;
		err = device_keys(c, e, i, done, why, why_size);
	}
	if (!err)
		err = keys_conflict(c, why, why_size);
	json_decref(j);
	return err;
}
