/* The table of device kinds (devices/device_kind.h) and the loops every
 * front-end shares over it: parsing a device's configuration from a CLI spec
 * or a JSON object, the list of configured devices, the host paths they
 * need, and (for the jailer) rewriting the paths inside a spec or an object.
 * A new device kind adds one line to device_table.c; nothing here changes. */
#ifndef VOLT_DEVICES_DEVICE_TABLE_H
#define VOLT_DEVICES_DEVICE_TABLE_H

#include <jansson.h>

#include "core/fields.h"
#include "devices/device_kind.h"

/* In the order the VM plugs them in, which is the guest's virtio-mmio order. */
extern const struct device_kind *const device_table[];
extern const int device_table_len;

/* NULL when none matches. */
const struct device_kind *device_kind_by_name(const char *name);
const struct device_kind *device_kind_by_option(const char *option);
const struct device_kind *device_kind_by_api_path(const char *api_path);
const struct device_kind *device_kind_by_config_key(const char *config_key);

/* Puts every kind's metrics section in the metrics line, in the table's
 * order (core/metrics.h), whether or not a device of the kind is configured,
 * as Firecracker's line always has them. For whoever opens the metrics; a
 * second call changes nothing. 0 or -errno. */
int device_table_register_metrics(void);

/* A CLI spec (NULL for a kind without fields) into *out. -EINVAL with the
 * reason in why, in the device's words; the caller adds its own. */
int device_config_from_spec(const struct device_kind *k, const char *spec,
			    struct device_config *out, char *why, size_t why_size);
/* A JSON object into *out, which starts from the kind's defaults; keys in
 * extra (NULL-terminated, may be NULL) are the caller's. Messages start with
 * obj ("drive: ..."). */
int device_config_from_json(const struct device_kind *k, const char *obj, json_t *j,
			    const char *const *extra, struct device_config *out, char *why,
			    size_t why_size);
/* The same into *out as it is (its kind set, its defaults or a previous
 * configuration): only what j gives changes. */
int device_config_update_json(const char *obj, json_t *j, const char *const *extra,
			      struct device_config *out, char *why, size_t why_size);
/* The configuration as a JSON object of its fields (an empty object for a
 * kind without fields); NULL when out of memory. */
json_t *device_config_to_json(const struct device_config *c);
/* With the CLI-only fields too (fields_to_json_all): a cache key's view. */
json_t *device_config_to_json_all(const struct device_config *c);

/* Devices of kind k among list[0..n-1]. */
int device_list_count(const struct device_config *list, int n, const struct device_kind *k);
/* Appends *c to list (n entries of cap) after the kind's rules across devices:
 * its maximum (k->too_many) and conflict(). -EINVAL with why, -E2BIG when the
 * list is full. */
int device_list_add(struct device_config *list, int *n, int cap, const struct device_config *c,
		    char *why, size_t why_size);
/* Runs every device's validate() against the VM's facts; on -EINVAL, *bad is
 * the device that failed and why its reason. */
int device_list_validate(const struct device_config *list, int n, const struct device_vm_facts *vm,
			 const struct device_config **bad, char *why, size_t why_size);
/* The host paths of every device in the list (for Landlock and the jailer);
 * returns how many (at most max). */
int device_list_host_paths(const struct device_config *list, int n, struct device_path *out,
			   int max);

/* For the jailer: the fields of kind k that name host files (FIELD_PATH),
 * with their access (f->access: READ, READ_WRITE or SOCKET_CREATE), their CLI
 * key (f->cli) and JSON key (f->json). Writes up to max pointers into out;
 * returns how many there are. */
int device_kind_path_fields(const struct device_kind *k, const struct field **out, int max);
/* For the jailer: rewrites each host path in a CLI spec of kind k (the value
 * of --drive...) or in a JSON device object of kind k (PUT body or
 * config file entry) through fn. fn(ctx, field, value, &err) returns the new
 * value (NULL: keep), or sets err to fail the rewrite with it. The spec is
 * written to out (-ENAMETOOLONG when it does not fit); the object is changed
 * in place. Nothing else in the spec or object changes and nothing is
 * validated: the VMM parses the result as usual. 0 or -errno. */
int device_rewrite_spec(const struct device_kind *k, const char *spec, field_path_fn fn, void *ctx,
			char *out, size_t out_size);
int device_rewrite_json(const struct device_kind *k, json_t *obj, field_path_fn fn, void *ctx);

#endif
