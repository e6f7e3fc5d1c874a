/* A device kind, described once: its name, the front-ends' names for it (CLI
 * option, API path, config file key), its configuration fields
 * (core/fields.h), how a device is created from a configuration and
 * destroyed, the host paths it needs, its metrics section, and the slots the
 * snapshot code fills in. Each device's own .c defines its `const struct
 * device_kind`; devices/device_table.c lists them. Front-ends, the VM, the
 * sandbox and the jailer loop over device_table[] instead of naming devices.
 *
 * A configuration lives in a struct device_config: the kind and DEVICE_CONFIG_MAX
 * bytes holding the kind's configuration struct (fields->size bytes). */
#ifndef VOLT_DEVICES_DEVICE_KIND_H
#define VOLT_DEVICES_DEVICE_KIND_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/fields.h"

struct metrics_section;
struct virtio_env;
struct guest_mem_hp_layout;
/* Defined by the snapshot code (core/snap.h). */
struct snap_writer;
struct snap_reader;

/* The largest configuration struct of any kind (virtio-blk's path is 4 KiB). */
#define DEVICE_CONFIG_MAX 4608

/* Devices of every kind one VM's configuration holds at most (and so of one
 * kind: drives, interfaces). Firecracker refuses no count at PUT, only at
 * InstanceStart once the interrupt lines run out (17 on x86 with an I/O
 * APIC): this bound is above what any host starts, so a configuration it
 * refuses is one no host could run, and it keeps volt's arrays fixed. */
#define DEVICE_MAX_VIRTIO 32
#define DEVICE_STR_(x)	  #x
#define DEVICE_STR(x)	  DEVICE_STR_(x) /* "32" of DEVICE_MAX_VIRTIO */

struct device_kind;

struct device_config {
	const struct device_kind *kind;
	/* The API's id of the device, any length: a handle (util/id_pool.h;
	 * NULL from the CLI), so the struct copies byte for byte. A snapshot
	 * keeps it, so that a restore's network_overrides can name interfaces. */
	const char *id;
	alignas(max_align_t) unsigned char data[DEVICE_CONFIG_MAX];
};

/* A host path a configured device opens or creates, and how. */
struct device_path {
	const char *what; /* for messages: "drive" */
	const char *path;
	enum field_access access; /* READ_WRITE is READ for a read-only drive */
	bool block_ok;		  /* a block device is a fine file for it (a drive's) */
};

/* What create() gets besides the configuration: the transport's environment
 * and the MMIO window and interrupt the VM chose. */
struct device_env {
	const struct virtio_env *venv;
	uint64_t base;
	uint32_t irq;
	/* The device's API id (device_config.id: a handle, NULL from the CLI),
	 * which names its own metrics section ("net_<iface_id>"). */
	const char *id;
};

/* The largest struct of a kind's API keys (struct device_api.keys). */
#define DEVICE_API_KEYS_MAX 80

/* What the Firecracker API (api/) says of a device besides its configuration.
 * The API stores, per device, its id and a struct of keys->size bytes. */
struct device_api {
	/* The id's key ("drive_id"); NULL: none. Where max > 1 the id is
	 * required and is the {id} of the PUT path; where max is 1 it is optional
	 * (deprecated in Firecracker). When the kind's fields have the same key,
	 * the id is the device's own too (a drive's serial): the config file may
	 * then not name it twice. */
	const char *id_key;
	/* The API's own keys (is_root_device, rate limiters accepted as null...),
	 * parsed by the same engine; NULL: none. */
	const struct field_set *keys;
	/* Firecracker's defaults where they differ from the CLI's: applied to the
	 * fields' defaults before a PUT body. May be NULL. */
	void (*defaults)(void *cfg);
	/* Rules of the API's: cfg and keys the new device's; other, other_keys
	 * and other_id those of another device of the kind, or NULL to check the
	 * new one alone. 0, or -EINVAL with the whole message in why. May be NULL. */
	int (*conflict)(const void *cfg, const void *keys, const void *other,
			const void *other_keys, const char *other_id, char *why, size_t why_size);
	/* GET /vm/config's keys, in Firecracker's order (NULL-terminated); NULL:
	 * the id, the fields, the keys. */
	const char *const *get;
	/* Where GET /vm/config writes this kind's section, in Firecracker's order
	 * of sections: api/vm_config_json.c ranks its own boot-source 10,
	 * cpu-config 40, logger 45, machine-config 50, metrics 90, mmds-config
	 * 100. 0: after them all. */
	int rank;
	const char *plural; /* past max: "'d' would be more than 32 drives" */
	/* The key validate()'s rule is about, for its message: "amount_mib". */
	const char *validate_key;
	/* Non-NULL: validate() runs at the PUT, and its reason follows these
	 * words in the 400 (Firecracker's "Memory hotplug config error: "). */
	const char *put_error;
};

/* Facts about the VM that validate() checks a configuration against. */
struct device_vm_facts {
	uint64_t mem_size; /* bytes */
};

struct device_kind {
	const char *name;	/* "blk": logs, metrics */
	const char *option;	/* "drive": the CLI's --drive */
	const char *usage;	/* the CLI's syntax: "path=FILE[,ro]..." (NULL: a bare flag) */
	const char *api_path;	/* "drives": PUT /drives/{id}; NULL: none */
	const char *config_key; /* the config file's key: "drives" */
	const struct metrics_section *metrics; /* its section of the metrics line: "block" */
	int max;			       /* devices of this kind in one VM */
	const char *too_many;		       /* the CLI's words past max: "at most 32 drives" */
	const struct field_set *fields;	       /* NULL: no configuration (--rng) */

	/* Rules across fields or against the VM (after the fields parsed):
	 * 0, or -EINVAL with the reason in why. May be NULL. */
	int (*validate)(const void *cfg, const struct device_vm_facts *vm, char *why,
			size_t why_size);
	/* Rules across devices: cfg is the new one, list[0..n-1] those already
	 * configured (of every kind): "id 'a' is already another --drive's".
	 * May be NULL. */
	int (*conflict)(const void *cfg, const struct device_config *list, int n, char *why,
			size_t why_size);
	/* Memory the kind adds to the guest's (virtio-mem): fills in the
	 * hotpluggable region's size, block and slot sizes; the VM places it
	 * and maps it with RAM, before any device is created. May be NULL. */
	void (*hotplug_memory)(const void *cfg, struct guest_mem_hp_layout *l);
	/* Opens what the configuration names (logging errors) and plugs the device in. */
	int (*create)(void **dev, const void *cfg, const struct device_env *env);
	void (*destroy)(void *dev);
	/* The host paths cfg names; returns how many were written (at most max). */
	int (*host_paths)(const void *cfg, struct device_path *out, int max);

	struct device_api api;

	/* Snapshots (vmm/vm_snapshot.c). save() writes the device's state after the
	 * VM and the device thread are paused, leaving nothing in flight;
	 * restore() reads it into a device created from the same configuration,
	 * after the vCPUs and the irqchip and before anything runs. Records go
	 * under the scope "dev/<name><index>". 0 or -errno. */
	int (*save)(void *dev, struct snap_writer *w);
	int (*restore)(void *dev, struct snap_reader *r);
	/* Firecracker's words for a restored device whose host file cannot be
	 * opened again, before the I/O error and the path (its tests match the
	 * chain): "Block: Virtio backend error: Error manipulating the backing
	 * file". NULL: volt's own message. */
	const char *restore_open_error;
};

#endif
