/* The API's request router: method + path + body -> status + JSON body, with
 * Firecracker's semantics (204 on a successful PUT/PATCH, 200 + JSON on GET,
 * 400 {"fault_message": ...} for a bad request and for an unknown path, with
 * Firecracker 1.x's messages: see docs/api.md).
 * It runs on the main thread; everything with an effect outside the
 * configuration goes through struct api_ops, so that unit tests and the fuzz
 * target can drive it without a VM. Never fails on hostile input. */
#ifndef VOLT_API_ROUTER_H
#define VOLT_API_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "api/vm_config_json.h"
#include "core/rate_limiter.h"
#include "devices/virtio/virtio_balloon.h"
#include "devices/virtio/virtio_mem.h"
#include "vmm/vm_snapshot.h"

/* Firecracker's default payload limit. */
#define API_MAX_PAYLOAD	    51200
#define API_INSTANCE_ID_MAX 64
/* Room for a reason why something failed (what api_ops fill in why), and
 * for keeping it: both sides use this size, so a reason kept is never cut. */
#define API_REASON_MAX 512

/* What a PUT opens a host file for (Firecracker opens them at PUT time). */
enum api_file_use {
	API_FILE_KERNEL, /* PUT /boot-source: kernel_image_path, read */
	API_FILE_INITRD, /* initrd_path, read */
	API_FILE_DRIVE,	 /* PUT /drives: path_on_host, read-write */
	API_FILE_DRIVE_RO,
	API_FILE_SOCKET, /* PUT /vsock: uds_path, a Unix socket to be bound there */
	API_FILE_TUN,	 /* PUT /network-interfaces: /dev/net/tun, read-write */
	API_FILE_TAP,	 /* host_dev_name: a TAP attached to and let go */
};

struct api_ops {
	/* PUT-time checks of the host files a PUT names: 0, or -errno (the
	 * file cannot be opened as use says). NULL: nothing is checked (the
	 * unit tests' configurations name files that do not exist). volt's
	 * own front end plugs in api_file_check(). */
	int (*file_check)(void *ctx, const char *path, enum api_file_use use);
	/* InstanceStart: create and start the VM from cfg; 0, or -errno with
	 * the reason in why (the VM is then not running). *undone: the failure
	 * came before anything that cannot be taken back (no thread, no
	 * sandbox): the configuration may be fixed and the start sent again,
	 * as Firecracker allows; otherwise the process takes no more
	 * configuration. */
	int (*instance_start)(void *ctx, const struct api_config *cfg, bool *undone, char *why,
			      size_t why_size);
	int (*pause)(void *ctx);
	int (*resume)(void *ctx);
	bool (*is_paused)(void *ctx);
	int (*ctrl_alt_del)(void *ctx);
	int (*balloon_set)(void *ctx, unsigned int mib);
	/* PATCH /drives/{id} or /network-interfaces/{id} after boot: the rate
	 * limiter key ("rate_limiter", "rx_rate_limiter", "tx_rate_limiter") of
	 * the running device of kind k with API id `id` takes the buckets c
	 * gives (rate_limiter_update). 0 or -errno. */
	int (*rate_limiter_update)(void *ctx, const struct device_kind *k, const char *id,
				   const char *key, const struct rl_config *c);
	/* PATCH /drives/{id} path_on_host after boot: the running drive takes
	 * the file (api_drive_file_fn). NULL: refused. */
	api_drive_file_fn drive_file_update;
	int (*balloon_stats)(void *ctx, struct balloon_stats *s);
	/* -EOPNOTSUPP when the device cannot change its interval. */
	int (*balloon_stats_interval)(void *ctx, unsigned int seconds);
	/* Free page hinting (virtio_balloon_hint_*): -EOPNOTSUPP not enabled,
	 * -EAGAIN the driver has not started the device. */
	int (*balloon_hint_start)(void *ctx, bool acknowledge_on_stop);
	int (*balloon_hint_stop)(void *ctx);
	int (*balloon_hint_status)(void *ctx, struct balloon_hint_status *s);
	/* GET and PATCH /hotplug/memory after boot (virtio_mem_status,
	 * virtio_mem_request): 0, or -errno (with why, for the request). */
	int (*mem_hotplug_status)(void *ctx, struct mem_hotplug_status *s);
	int (*mem_hotplug_request)(void *ctx, unsigned int mib, char *why, size_t why_size);
	int (*logger)(void *ctx, const struct api_logger *l, char *why, size_t why_size);
	int (*metrics)(void *ctx, const struct api_metrics *m, char *why, size_t why_size);
	/* -ENOENT when no metrics file was set. */
	int (*flush_metrics)(void *ctx);
	/* PUT /snapshot/create, on a started VM that is paused (the router
	 * checks both): 0, or -errno with the reason in why. */
	int (*snapshot_create)(void *ctx, const struct snapshot_create_req *req, char *why,
			       size_t why_size);
	/* PUT /snapshot/load, in a process where nothing but the logger and the
	 * metrics was configured: restores the VM and starts it (paused unless
	 * req->resume_vm). On success it may describe the restored VM in cfg
	 * (api_config_from_vm: the devices, so that the balloon's calls find
	 * theirs); on failure cfg is left as it was, and the reason is in why.
	 * The strings of req live as long as the process. */
	int (*snapshot_load)(void *ctx, const struct snapshot_load_req *req, struct api_config *cfg,
			     char *why, size_t why_size);
};

/* What PUT /snapshot/load's strings are copied into: they outlive the call
 * (the restored VM may keep them), and only one load per process is tried. */
struct api_snapshot_paths {
	char state[PATH_MAX];
	char backend[PATH_MAX];
	char vsock[PATH_MAX];
	/* network_overrides' iface_ids (id handles, util/id_pool.h), kept
	 * through the router's sweeps. */
	const char *iface_ids[VM_MAX_NETS];
};

struct api_state {
	struct api_config cfg;
	const struct api_ops *ops;
	void *ctx;
	char id[API_INSTANCE_ID_MAX + 1];
	bool started; /* InstanceStart or a snapshot load succeeded */
	bool failed;  /* InstanceStart or a load failed: no more configuration */
	char fail_reason[API_REASON_MAX];
	/* Something besides the logger and the metrics was configured (boot
	 * source, machine, devices): Firecracker's boot_path, after which a
	 * snapshot cannot be loaded. */
	bool boot_path;
	struct api_snapshot_paths load;
	/* --http-api-max-payload-size (API_MAX_PAYLOAD by api_state_init). */
	size_t max_payload;
};

struct api_response {
	int status;
	char *body;	 /* malloc'd JSON, NULL for no body */
	bool deprecated; /* the request used a deprecated field: "Deprecation: true" */
	bool unparsed;	 /* its body did not parse (so no Deprecation, as Firecracker) */
};

/* The checks of api_ops.file_check on the host: open() the file (O_RDONLY,
 * O_RDWR for a writable drive) and close it; for a socket, the directory it
 * goes in must exist and the path must be free or hold a socket (volt binds
 * it at InstanceStart, replacing a stale socket). */
int api_file_check(void *ctx, const char *path, enum api_file_use use);

/* Firecracker's instance id rules: 1 to 64 characters, alphanumeric or '-'. */
bool api_instance_id_valid(const char *id);

void api_state_init(struct api_state *s, const struct api_ops *ops, void *ctx, const char *id);
/* The same for an s that is all zeroes already (static storage, calloc): no
 * clearing pass, whose write to each page of this ~130 KiB struct costs a page
 * fault at start (issue #15's start -> API socket). */
void api_state_init_zeroed(struct api_state *s, const struct api_ops *ops, void *ctx,
			   const char *id);
/* GET /'s body as it would be answered now (malloc'd), NULL without memory. */
char *api_instance_info(struct api_state *s);
/* Fills *r (free r->body afterwards). body need not be NUL-terminated. */
void api_handle(struct api_state *s, const char *method, const char *url, const char *body,
		size_t len, struct api_response *r);
/* A 400-class answer carrying {"fault_message": msg}. */
void api_fault(struct api_response *r, int status, const char *msg);

#endif
