/* Firecracker's JSON configuration <-> volt's configuration. One struct
 * api_config holds what the API and --config-file have been told, in
 * Firecracker's terms (drive ids, root device, logger...); api_config_to_vm()
 * turns it into the struct vm_config that `volt run` builds too.
 *
 * Every parser is strict and all-or-nothing: an unknown field, a wrong type, a
 * value out of range or a missing required field leaves the configuration
 * unchanged and returns -EINVAL with a message naming the field in why.
 * Optional fields accept null (= absent). Rate limiters are accepted as null
 * only ("not supported by volt" otherwise). Main thread only: the file parser
 * builds into a static scratch configuration (too big for a thread's stack). */
#ifndef VOLT_API_VM_CONFIG_JSON_H
#define VOLT_API_VM_CONFIG_JSON_H

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/serde_body.h"
#include "util/log.h"
#include "util/id_pool.h"
#include "util/parse.h"
#include "arch/x86/custom_template.h"
#include "devices/device_kind.h"
#include "vmm/vm.h"
#include "vmm/vm_snapshot.h"

#define API_CMDLINE_MAX 4096
/* Firecracker's default boot_args would leave no console; volt run's default. */
#define API_DEFAULT_CMDLINE \
	"console=ttyS0 reboot=k panic=1 nomodule i8042.noaux i8042.nomux i8042.dumbkbd"
#define API_DEFAULT_MEM_MIB 128

/* A device as the API was told of it: its configuration (the device's
 * fields), its id ("" when none) and the API's own keys of its kind
 * (kind->api.keys: the root device...). */
struct api_device {
	struct device_config dev;
	const char *id; /* an id handle (util/id_pool.h); NULL: none */
	alignas(max_align_t) unsigned char keys[DEVICE_API_KEYS_MAX];
};

struct api_logger {
	char path[PATH_MAX]; /* "" when none */
	char level[16];	     /* as given ("Warning"...), "" when none: Info */
	bool show_level, show_log_origin;
	/* Whether the body gave them: a PUT changes only those it gives, as
	 * Firecracker's Logger::update (the level excepted: absent is Info). */
	bool has_show_level, has_show_log_origin;
};

/* PUT /metrics: where the lines go, and Firecracker's optional fields of
 * every line. */
#define API_METRICS_PROPERTIES_MAX 4096
struct api_metrics {
	char path[PATH_MAX];
	bool emit_id; /* "id": the instance id (--id) */
	/* "properties": "" for none, else the object of strings as compact JSON
	 * (keys sorted, as Firecracker's map); bounded so that a line, written
	 * whole or not at all, still fits a pipe with room to spare. */
	char properties[API_METRICS_PROPERTIES_MAX];
};

struct api_config {
	bool has_boot;
	char kernel[PATH_MAX];
	char initrd[PATH_MAX]; /* "" when none */
	bool has_boot_args;
	char boot_args[API_CMDLINE_MAX];

	unsigned int vcpus, mem_mib;
	bool smt, track_dirty_pages;
	enum vm_huge_pages huge_pages;
	char cpu_template[16]; /* Firecracker's name; "None" by default */
	/* PUT /cpu-config (the configuration file's "cpu-config"): the last
	 * one given, applied at InstanceStart. */
	bool has_cpu_config;
	struct custom_cpu_template cpu_config;

	/* In the order they were first PUT (a PUT of the same id, or of a kind
	 * of one device, replaces it in place). */
	struct api_device devices[VM_MAX_VIRTIO];
	int ndevices;
	bool has_logger;
	struct api_logger logger;
	bool has_metrics;
	struct api_metrics metrics;
	/* PUT /serial: where the guest's serial output goes ("": stdout). */
	char serial_out_path[PATH_MAX];
	/* PUT /serial's rate_limiter: output beyond it is dropped. */
	struct rl_bucket_config serial_rate_limiter;
	/* MMDS (api/mmds_api.h): the VM's data store, NULL until something
	 * needs it (api_mmds_store). The front end's api_state owns it; the
	 * copies of a configuration share it. Which interfaces serve it is their
	 * net_config.mmds. */
	struct mmds *mmds;
	size_t mmds_size_limit; /* --mmds-size-limit; MMDS_DEFAULT_SIZE_LIMIT */
};

/* Firecracker's name of c's huge_pages: "None", "Transparent" or "2M". */
const char *api_huge_pages_name(const struct api_config *c);

/* api_config_init clears c and sets the defaults; api_config_defaults sets
 * only the fields whose default is not zero, in a c already cleared. */
void api_config_init(struct api_config *c);
void api_config_defaults(struct api_config *c);

/* The error (-API_EVMM) of a body that parsed, as Firecracker's serde reads
 * it, and that its VMM then refused (a vmm_config check: a file that does not
 * open, a value out of range, a conflict with another device). Firecracker's
 * controller got such a request: before boot it counts as configuring a
 * boot-specific resource (no snapshot load after it, as after a success);
 * after boot the answer is that it comes too late, not why it was refused.
 * Any other error is the body's own (serde's): it never got that far. */
#define API_EVMM EDOM
static inline bool api_err_reached_vmm(int err)
{
	/* -EBUSY: a network interface whose TAP another one holds. */
	return err == -API_EVMM || err == -EBUSY;
}

/* Parses a request body / file into a JSON object; NULL with why set. */
json_t *api_json_parse(const char *buf, size_t len, char *why, size_t why_size);

/* Firecracker's empty rate limiter (rate_limiter, rx_rate_limiter or
 * tx_rate_limiter: {}, or bandwidth and ops null) is no rate limiter: replaced
 * by null in j, which volt's parsers take as "none". */
void api_empty_rate_limiters(json_t *j);
/* PUT /serial: {"serial_out_path", "rate_limiter"} (the rate limiter: null or
 * empty only). */
int api_put_serial(struct api_config *c, json_t *j, char *why, size_t why_size);
/* PUT /cpu-config's template (t NULL: c->cpu_config already holds it; see
 * api/cpu_config_json.h for the parser): it replaces machine-config's
 * cpu_template, as in Firecracker, whose one template slot a later
 * cpu_template (PUT or PATCH /machine-config) takes back. */
void api_set_cpu_config(struct api_config *c, const struct custom_cpu_template *t);
/* PUT /boot-source, PUT|PATCH /machine-config (-API_EVMM: the values refused). */
int api_put_boot_source(struct api_config *c, json_t *j, char *why, size_t why_size);
int api_put_machine_config(struct api_config *c, json_t *j, bool patch, char *why, size_t why_size);
/* The PUT of a device kind's API path (kind->api_path: /drives/{id}, /balloon...;
 * path_id is the {id}; NULL for the config file's entries, which may not name
 * twice an id that is the device's own, a drive's) and of its config file section
 * (kind->config_key): the kind's fields, then its id and API keys (kind->api).
 * -API_EVMM (or -EBUSY: a TAP another interface holds): the body parsed, and
 * the device was refused (its validate(), a conflict, one too many). */
int api_put_device(struct api_config *c, const struct device_kind *k, json_t *j,
		   const char *path_id, char *why, size_t why_size);
/* id_pool_mark()s every id c holds (its devices' ids and FIELD_IDs). */
void api_config_mark_ids(const struct api_config *c);
/* The device of kind k with that id (any id when NULL: the first); NULL when none. */
struct api_device *api_device_find(const struct api_config *c, const struct device_kind *k,
				   const char *id);
/* Firecracker's words for an interface whose TAP could not be opened
 * (NetworkInterfaceError::CreateNetworkDevice, TapError::IfreqExecuteError):
 * printf arguments the OS error ("Resource busy (os error 16)") and the name. */
#define API_TAP_FAILED \
	"Network config error: Could not create the network device: Open tap device failed: "
#define API_TAP_IFREQ_FMT                                                             \
	API_TAP_FAILED                                                                \
	"Error while creating ifreq structure: %s. Invalid TUN/TAP Backend provided " \
	"by %s. Check our documentation on setting up the network devices."
/* Takes d (one of c's devices) out of c as Firecracker's builders'
 * Vec::swap_remove(): the last device of its kind takes its place. */
void api_device_swap_remove(struct api_config *c, struct api_device *d);
/* Its object in GET /vm/config (GET /balloon); NULL when out of memory. */
json_t *api_device_to_json(const struct api_device *d);
/* The running drive `id` takes the file at path instead of its own: 0, or
 * -errno with what failed in why ("" or strerror: nothing more to say). */
typedef int (*api_drive_file_fn)(void *ctx, const char *id, const char *path, char *why,
				 size_t why_size);
/* PATCH /drives/{id}: after boot (started), Firecracker's refusal of a body
 * without path_on_host or rate_limiter; a path_on_host goes to set_file
 * first (NULL: refused), and only once the drive took it does c take the
 * path and the rate limiter; a failure changes nothing and has Firecracker's
 * message. Before boot the path is only stored. */
int api_patch_drive(struct api_config *c, json_t *j, const char *path_id, bool started,
		    api_drive_file_fn set_file, void *ctx, char *why, size_t why_size);
/* PATCH /network-interfaces/{id}: only rate limiters in Firecracker (merged
 * into the stored configuration; the router updates a running device). */
int api_patch_net(struct api_config *c, json_t *j, const char *path_id, char *why, size_t why_size);
/* The bodies of PATCH /drives/{id} and /network-interfaces/{id} read as
 * Firecracker's parser reads them, with no configuration (before boot its
 * VMM refuses the call after the body is read): 0 or -EINVAL with the message. */
int api_parse_drive_update(json_t *j, const char *path_id, char *why, size_t why_size);
int api_parse_net_update(json_t *j, const char *path_id, char *why, size_t why_size);
/* PATCH /balloon ({"amount_mib"}) and PATCH /balloon/statistics. */
int api_parse_balloon_update(json_t *j, unsigned int *mib, char *why, size_t why_size);
/* PATCH /pmem/{id}: only its rate limiter, after boot (merged into the stored
 * configuration; the router updates the running device); a body without one
 * changes nothing, as in Firecracker. api_parse_pmem_update reads the body
 * alone (before boot the VMM refuses the call after the body is read). */
int api_patch_pmem(struct api_config *c, json_t *j, const char *path_id, char *why,
		   size_t why_size);
int api_parse_pmem_update(json_t *j, const char *path_id, char *why, size_t why_size);
/* PATCH /hotplug/memory's body (Firecracker's MemoryHotplugSizeUpdate):
 * *requested gets requested_size_mib; 0 or -EINVAL with the message (a
 * missing field in serde's words). */
int api_parse_memory_hotplug_update(json_t *j, uint64_t *requested, char *why, size_t why_size);
int api_parse_balloon_stats_update(json_t *j, unsigned int *seconds, char *why, size_t why_size);
/* PUT /actions: the action_type ("InstanceStart"...), unchecked. */
int api_parse_action(json_t *j, char *type, size_t type_size, char *why, size_t why_size);
/* PATCH /vm: *pause is true for "Paused", false for "Resumed". */
int api_parse_vm_state(json_t *j, bool *pause, char *why, size_t why_size);
/* PUT /logger, PUT /metrics. */
int api_parse_logger(json_t *j, struct api_logger *l, char *why, size_t why_size);
int api_parse_metrics(json_t *j, struct api_metrics *m, char *why, size_t why_size);
/* Maps a Firecracker logger level ("Error", "Warning", "Info", "Debug",
 * "Trace", "Off", any case) onto volt's (log_level_parse); -EINVAL when unknown. */
int api_logger_level(const char *s, enum log_level *out);

/* PUT /snapshot/create and PUT /snapshot/load, of a body serde_check() read
 * as Firecracker's CreateSnapshotParams / LoadSnapshotConfig (the router
 * does, api/fc_bodies.h): Firecracker's rules after serde and their
 * messages. The strings of *req point into j. A load body with
 * Firecracker's deprecated fields (mem_file_path, enable_diff_snapshots)
 * sets *deprecated. Volt's own limits (path lengths, clock_realtime false,
 * huge_pages "Snapshot" or "None", at most VM_MAX_NETS overrides) answer in
 * volt's words ("snapshot/load: ..."). boot_timer and started are left 0. */
int api_parse_snapshot_create(json_t *j, struct snapshot_create_req *req, char *why,
			      size_t why_size);
int api_parse_snapshot_load(json_t *j, struct snapshot_load_req *req, bool *deprecated, char *why,
			    size_t why_size);
/* After a snapshot load: what the restored VM is (vCPUs, memory, template,
 * devices with their ids), so that the calls on its devices (the balloon's)
 * find them. The logger and the metrics stay; the boot source and the
 * devices' API keys are not the VM's: api_config_restore()
 * (api/snapshot_config.h) takes them from the snapshot. */
void api_config_from_vm(struct api_config *c, const struct vm_config *v);

/* A whole Firecracker configuration file (the GET /vm/config schema). */
int api_config_from_json(struct api_config *c, json_t *root, char *why, size_t why_size);

/* GET /vm/config, GET /machine-config. */
json_t *api_config_to_json(const struct api_config *c);
json_t *api_machine_config_to_json(const struct api_config *c);

/* Fills *out for vm_create(); out points into c and into cmdline (which
 * receives boot_args + the root device's root=). -EINVAL with why when the
 * configuration cannot boot (no kernel...). */
int api_config_to_vm(const struct api_config *c, struct vm_config *out, char *cmdline,
		     size_t cmdline_size, char *why, size_t why_size);

#endif
