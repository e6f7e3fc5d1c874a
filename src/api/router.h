/* The API's request router: method + path + body -> status + JSON body, with
 * Firecracker's semantics (204 on a successful PUT/PATCH, 200 + JSON on GET,
 * 400 {"fault_message": ...} for a bad request, 404 for an unknown path).
 * It runs on the main thread; everything with an effect outside the
 * configuration goes through struct api_ops, so that unit tests and the fuzz
 * target can drive it without a VM. Never fails on hostile input. */
#ifndef VOLT_API_ROUTER_H
#define VOLT_API_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "api/vm_config_json.h"
#include "devices/virtio/virtio_balloon.h"

/* Firecracker's default payload limit. */
#define API_MAX_PAYLOAD	    51200
#define API_INSTANCE_ID_MAX 64
/* Room for a reason why something failed (what api_ops fill in why), and
 * for keeping it: both sides use this size, so a reason kept is never cut. */
#define API_REASON_MAX 512

struct api_ops {
	/* InstanceStart: create and start the VM from cfg; 0, or -errno with
	 * the reason in why (the VM is then not running). */
	int (*instance_start)(void *ctx, const struct api_config *cfg, char *why, size_t why_size);
	int (*pause)(void *ctx);
	int (*resume)(void *ctx);
	bool (*is_paused)(void *ctx);
	int (*ctrl_alt_del)(void *ctx);
	int (*balloon_set)(void *ctx, unsigned int mib);
	int (*balloon_stats)(void *ctx, struct balloon_stats *s);
	/* -EOPNOTSUPP when the device cannot change its interval. */
	int (*balloon_stats_interval)(void *ctx, unsigned int seconds);
	int (*logger)(void *ctx, const struct api_logger *l, char *why, size_t why_size);
	int (*metrics)(void *ctx, const char *path, char *why, size_t why_size);
	/* -ENOENT when no metrics file was set. */
	int (*flush_metrics)(void *ctx);
};

struct api_state {
	struct api_config cfg;
	const struct api_ops *ops;
	void *ctx;
	char id[API_INSTANCE_ID_MAX + 1];
	bool started; /* InstanceStart succeeded */
	bool failed;  /* InstanceStart failed: no more configuration */
	char fail_reason[API_REASON_MAX];
};

struct api_response {
	int status;
	char *body; /* malloc'd JSON, NULL for no body */
};

/* Firecracker's instance id rules: 1 to 64 characters, alphanumeric or '-'. */
bool api_instance_id_valid(const char *id);

void api_state_init(struct api_state *s, const struct api_ops *ops, void *ctx, const char *id);
/* Fills *r (free r->body afterwards). body need not be NUL-terminated. */
void api_handle(struct api_state *s, const char *method, const char *url, const char *body,
		size_t len, struct api_response *r);
/* A 400-class answer carrying {"fault_message": msg}. */
void api_fault(struct api_response *r, int status, const char *msg);

#endif
