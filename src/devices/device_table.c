/* The device table, and the loops over it (devices/device_table.h). */
#include "devices/device_table.h"

#include "core/metrics.h"
#include "devices/mmds/mmds_metrics.h"
#include "devices/virtio/virtio_balloon.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_mem.h"
#include "devices/virtio/virtio_net.h"
#include "devices/virtio/virtio_pmem.h"
#include "devices/virtio/virtio_rng.h"
#include "devices/virtio/virtio_vsock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The order is the guest's virtio-mmio order: drives first; pmem after the
 * interfaces, as Firecracker attaches them; hotpluggable memory last. */
const struct device_kind *const device_table[] = {
	&virtio_blk_kind,     &virtio_net_kind, &virtio_pmem_kind, &virtio_vsock_kind,
	&virtio_balloon_kind, &virtio_rng_kind, &virtio_mem_kind,
};
const int device_table_len = (int)(sizeof(device_table) / sizeof(device_table[0]));

static const struct device_kind *find(size_t member, const char *value)
{
	int i;

	for (i = 0; value && i < device_table_len; i++) {
		const char *s = *(const char *const *)((const char *)device_table[i] + member);

		if (s && !strcmp(s, value))
			return device_table[i];
	}
	return NULL;
}

const struct device_kind *device_kind_by_name(const char *name)
{
	return find(offsetof(struct device_kind, name), name);
}

const struct device_kind *device_kind_by_option(const char *option)
{
	return find(offsetof(struct device_kind, option), option);
}

const struct device_kind *device_kind_by_api_path(const char *api_path)
{
	return find(offsetof(struct device_kind, api_path), api_path);
}

const struct device_kind *device_kind_by_config_key(const char *config_key)
{
	return find(offsetof(struct device_kind, config_key), config_key);
}

int device_table_register_metrics(void)
{
	int i, err;

	for (i = 0; i < device_table_len; i++) {
		if (!device_table[i]->metrics)
			continue;
		err = metrics_register(device_table[i]->metrics);
		if (err && err != -EEXIST)
			return err;
	}
	/* MMDS is no device kind: its section follows the devices' (as in Firecracker's line). */
	err = metrics_register(&mmds_metrics_section);
	return err == -EEXIST ? 0 : err;
}

int device_config_from_spec(const struct device_kind *k, const char *spec,
			    struct device_config *out, char *why, size_t why_size)
{
	memset(out, 0, sizeof(*out));
	out->kind = k;
	if (!k->fields)
		return 0;
	return fields_parse_spec(k->fields, spec ? spec : "", out->data, why, why_size);
}

int device_config_from_json(const struct device_kind *k, const char *obj, json_t *j,
			    const char *const *extra, struct device_config *out, char *why,
			    size_t why_size)
{
	memset(out, 0, sizeof(*out));
	out->kind = k;
	if (k->fields)
		fields_defaults(k->fields, out->data);
	return device_config_update_json(obj, j, extra, out, why, why_size);
}

int device_config_update_json(const char *obj, json_t *j, const char *const *extra,
			      struct device_config *out, char *why, size_t why_size)
{
	static const struct field_set none = { .unknown = "" };
	const struct device_kind *k = out->kind;

	return fields_parse_json(k->fields ? k->fields : &none, obj, j, extra, out->data, why,
				 why_size);
}

json_t *device_config_to_json(const struct device_config *c)
{
	return c->kind->fields ? fields_to_json(c->kind->fields, c->data) : json_object();
}

json_t *device_config_to_json_all(const struct device_config *c)
{
	return c->kind->fields ? fields_to_json_all(c->kind->fields, c->data) : json_object();
}

int device_list_count(const struct device_config *list, int n, const struct device_kind *k)
{
	int i, count = 0;

	for (i = 0; i < n; i++)
		count += list[i].kind == k;
	return count;
}

int device_list_add(struct device_config *list, int *n, int cap, const struct device_config *c,
		    char *why, size_t why_size)
{
	const struct device_kind *k = c->kind;

	if (device_list_count(list, *n, k) >= k->max) {
		snprintf(why, why_size, "%s", k->too_many ? k->too_many : "too many devices");
		return -EINVAL;
	}
	if (*n >= cap) {
		snprintf(why, why_size, "more than %d devices", cap);
		return -E2BIG;
	}
	if (k->conflict && k->conflict(c->data, list, *n, why, why_size))
		return -EINVAL;
	list[(*n)++] = *c;
	return 0;
}

int device_list_validate(const struct device_config *list, int n, const struct device_vm_facts *vm,
			 const struct device_config **bad, char *why, size_t why_size)
{
	int i, err;

	for (i = 0; i < n; i++) {
		if (!list[i].kind->validate)
			continue;
		err = list[i].kind->validate(list[i].data, vm, why, why_size);
		if (err) {
			*bad = &list[i];
			return err;
		}
	}
	return 0;
}

int device_list_host_paths(const struct device_config *list, int n, struct device_path *out,
			   int max)
{
	int i, count = 0;

	for (i = 0; i < n && count < max; i++)
		if (list[i].kind->host_paths)
			count += list[i].kind->host_paths(list[i].data, out + count, max - count);
	return count;
}

int device_kind_path_fields(const struct device_kind *k, const struct field **out, int max)
{
	size_t i;
	int count = 0;

	for (i = 0; k->fields && i < k->fields->n; i++) {
		if (k->fields->fields[i].type != FIELD_PATH)
			continue;
		if (count < max)
			out[count] = &k->fields->fields[i];
		count++;
	}
	return count;
}

int device_rewrite_spec(const struct device_kind *k, const char *spec, field_path_fn fn, void *ctx,
			char *out, size_t out_size)
{
	static const struct field_set none = { .unknown = "" };

	return fields_rewrite_spec(k->fields ? k->fields : &none, spec, fn, ctx, out, out_size);
}

int device_rewrite_json(const struct device_kind *k, json_t *obj, field_path_fn fn, void *ctx)
{
	return k->fields ? fields_rewrite_json(k->fields, obj, fn, ctx) : 0;
}
