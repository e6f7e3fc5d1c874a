/* The API's part of a snapshot: what GET /vm/config shows of a VM that the
 * VM's own configuration (vmm/vm_snapshot.c's "vm/config") does not carry.
 * That is the boot source as it was PUT, and each device's API keys (a
 * drive's is_root_device and partuuid), by kind and id. The VM saves it as
 * the record "api/config" without reading it (struct snapshot_create_req
 * .api_config) and hands it back at a load (.api_config_out).
 *
 * The record is JSON: {"boot-source": <GET /vm/config's> or null,
 * "devices": [{"kind": "blk", "id": "rootfs", "keys": {...}}]}. A snapshot
 * file is untrusted: the load checks the record as it checks request bodies
 * (the boot source by PUT /boot-source's parser, the keys by their kind's
 * fields and rules) and refuses any unknown key, kind or device. Main thread
 * only. */
#ifndef VOLT_API_SNAPSHOT_CONFIG_H
#define VOLT_API_SNAPSHOT_CONFIG_H

#include <stddef.h>

struct api_config;
struct vm_config;

/* c's record as compact JSON (malloc'd, the caller frees it); NULL when out
 * of memory. */
char *api_snapshot_config_save(const struct api_config *c);

/* After a load: c describes the restored VM v (api_config_from_vm: machine,
 * devices with their ids; logger, metrics, serial and MMDS stay c's), then
 * takes the record's boot source and keys. text NULL: a snapshot without the
 * record (an older volt's), so no boot source and the keys' defaults. 0, or
 * -EINVAL / -ENOMEM with the reason in why, c then partly filled: restore
 * into a copy. */
int api_config_restore(struct api_config *c, const struct vm_config *v, const char *text, char *why,
		       size_t why_size);

#endif
