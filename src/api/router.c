/* Method + path -> handler, Firecracker's pre-/post-boot rules, JSON answers. */
#include "api/router.h"
#include "devices/device_table.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_net.h"
#include "util/parse.h"

#include "volt-config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOT_AFTER_BOOT	"The requested operation is not supported after starting the microVM."
#define NOT_BEFORE_BOOT "The requested operation is not supported before starting the microVM."
/* Firecracker's VmmActionError prefixes. */
#define SNAP_CREATE_ERR "Create snapshot error: "
#define SNAP_LOAD_ERR	"Load snapshot error: "

enum method { M_GET = 1, M_PUT = 2, M_PATCH = 4 };

/* A device's PUT comes from the device table (its kind's api_path); what is
 * here besides is genuinely about one device: PATCH /drives/{id} (a new
 * backing file), PATCH /network-interfaces/{id} (rate limiters, a no-op),
 * GET and PATCH /balloon and /balloon/statistics (the balloon's driver). */
enum route {
	R_ROOT,
	R_VERSION,
	R_BOOT,
	R_MACHINE,
	R_DRIVE,
	R_NET,
	R_BALLOON,
	R_BALLOON_STATS,
	R_LOGGER,
	R_METRICS,
	R_ACTIONS,
	R_VM,
	R_VM_CONFIG,
	R_SNAP_CREATE,
	R_SNAP_LOAD,
};

static const struct {
	const char *path; /* without the leading '/' */
	bool has_id;	  /* "<path>/{id}" */
	unsigned int methods;
	unsigned int pre_only;	/* methods refused once started */
	unsigned int post_only; /* methods refused before */
} routes[] = {
	[R_ROOT] = { "", false, M_GET, 0, 0 },
	[R_VERSION] = { "version", false, M_GET, 0, 0 },
	[R_BOOT] = { "boot-source", false, M_PUT, M_PUT, 0 },
	[R_MACHINE] = { "machine-config", false, M_GET | M_PUT | M_PATCH, M_PUT | M_PATCH, 0 },
	[R_DRIVE] = { "drives", true, M_PATCH, 0, 0 },
	[R_NET] = { "network-interfaces", true, M_PATCH, 0, M_PATCH },
	[R_BALLOON] = { "balloon", false, M_GET | M_PATCH, 0, M_PATCH },
	[R_BALLOON_STATS] = { "balloon/statistics", false, M_GET | M_PATCH, 0, M_GET | M_PATCH },
	[R_LOGGER] = { "logger", false, M_PUT, M_PUT, 0 },
	[R_METRICS] = { "metrics", false, M_PUT, M_PUT, 0 },
	[R_ACTIONS] = { "actions", false, M_PUT, 0, 0 },
	[R_VM] = { "vm", false, M_PATCH, 0, M_PATCH },
	[R_VM_CONFIG] = { "vm/config", false, M_GET, 0, 0 },
	[R_SNAP_CREATE] = { "snapshot/create", false, M_PUT, 0, M_PUT },
	[R_SNAP_LOAD] = { "snapshot/load", false, M_PUT, M_PUT, 0 },
};

bool api_instance_id_valid(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if (i >= API_INSTANCE_ID_MAX || !(isalnum((unsigned char)id[i]) || id[i] == '-'))
			return false;
	return i > 0;
}

void api_state_init(struct api_state *s, const struct api_ops *ops, void *ctx, const char *id)
{
	memset(s, 0, sizeof(*s));
	api_config_init(&s->cfg);
	s->ops = ops;
	s->ctx = ctx;
	snprintf(s->id, sizeof(s->id), "%s", id ? id : "anonymous-instance");
}

static void answer_json(struct api_response *r, int status, json_t *j)
{
	r->status = status;
	r->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!r->body) {
		r->status = 500;
		r->body = strdup("{\"fault_message\":\"out of memory\"}");
	}
}

/* Messages quote request bytes: kept printable ASCII so they are valid JSON
 * strings whatever arrived (and however snprintf cut them), the rest escaped
 * so the client sees what it sent. */
void api_fault(struct api_response *r, int status, const char *msg)
{
	char buf[1024];

	escape_controls(msg, buf, sizeof(buf), true);
	answer_json(r, status, json_pack("{s:s}", "fault_message", buf));
}

static void faultf(struct api_response *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void faultf(struct api_response *r, int status, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	api_fault(r, status, buf);
}

static void no_content(struct api_response *r)
{
	r->status = 204;
	r->body = NULL;
}

static const char *state_name(struct api_state *s)
{
	if (!s->started)
		return "Not started";
	return s->ops->is_paused && s->ops->is_paused(s->ctx) ? "Paused" : "Running";
}

/* The balloon's configuration; NULL when none is configured. */
static struct balloon_config *balloon_cfg(struct api_state *s)
{
	struct api_device *d = api_device_find(&s->cfg, &virtio_balloon_kind, NULL);

	return d ? (struct balloon_config *)(void *)d->dev.data : NULL;
}

static void get_balloon_stats(struct api_state *s, struct api_response *r)
{
	static const char *const names[VIRTIO_BALLOON_S_NR] = {
		[VIRTIO_BALLOON_S_SWAP_IN] = "swap_in",
		[VIRTIO_BALLOON_S_SWAP_OUT] = "swap_out",
		[VIRTIO_BALLOON_S_MAJFLT] = "major_faults",
		[VIRTIO_BALLOON_S_MINFLT] = "minor_faults",
		[VIRTIO_BALLOON_S_MEMFREE] = "free_memory",
		[VIRTIO_BALLOON_S_MEMTOT] = "total_memory",
		[VIRTIO_BALLOON_S_AVAIL] = "available_memory",
		[VIRTIO_BALLOON_S_CACHES] = "disk_caches",
		[VIRTIO_BALLOON_S_HTLB_PGALLOC] = "hugetlb_allocations",
		[VIRTIO_BALLOON_S_HTLB_PGFAIL] = "hugetlb_failures",
	};
	const struct balloon_config *b = balloon_cfg(s);
	struct balloon_stats st;
	json_t *j;
	int t;

	if (!b)
		return api_fault(r, 400, "balloon: no balloon device is configured");
	if (!b->stats_seconds)
		return api_fault(r, 400,
				 "balloon: stats_polling_interval_s: statistics are not enabled "
				 "(it was 0 at boot)");
	if (!s->ops->balloon_stats || s->ops->balloon_stats(s->ctx, &st))
		return api_fault(r, 400, "balloon: the statistics cannot be read");
	j = json_pack("{s:I, s:I, s:I, s:I}", "target_pages", (json_int_t)st.target_pages,
		      "actual_pages", (json_int_t)st.actual_pages, "target_mib",
		      (json_int_t)(st.target_pages >> 8), "actual_mib",
		      (json_int_t)(st.actual_pages >> 8));
	for (t = 0; j && t < VIRTIO_BALLOON_S_NR; t++)
		if (names[t] && (st.valid & (1u << t)))
			json_object_set_new(j, names[t], json_integer((json_int_t)st.val[t]));
	answer_json(r, 200, j);
}

static void do_action(struct api_state *s, json_t *j, struct api_response *r)
{
	char type[32], why[API_REASON_MAX];
	int err;

	if (api_parse_action(j, type, sizeof(type), why, sizeof(why)))
		return api_fault(r, 400, why);
	if (!strcmp(type, "InstanceStart")) {
		if (s->started)
			return api_fault(r, 400, NOT_AFTER_BOOT);
		if (s->failed)
			return faultf(r, 400,
				      "actions: InstanceStart: the microVM failed to start "
				      "before (%s); restart volt",
				      s->fail_reason);
		why[0] = '\0';
		err = api_config_to_vm(&s->cfg, &(struct vm_config){ 0 },
				       (char[API_CMDLINE_MAX + 256]){ 0 }, API_CMDLINE_MAX + 256,
				       why, sizeof(why));
		if (err)
			/* Nothing was tried: the configuration can still be fixed. */
			return faultf(r, 400, "actions: InstanceStart: %s", why);
		err = s->ops->instance_start
			      ? s->ops->instance_start(s->ctx, &s->cfg, why, sizeof(why))
			      : -ENOSYS;
		if (err) {
			s->failed = true;
			snprintf(s->fail_reason, sizeof(s->fail_reason), "%s",
				 why[0] ? why : strerror(-err));
			return faultf(r, 400,
				      "actions: InstanceStart: cannot start the microVM: %s",
				      s->fail_reason);
		}
		s->started = true;
		return no_content(r);
	}
	if (!strcmp(type, "SendCtrlAltDel")) {
		if (!s->started)
			return api_fault(r, 400, NOT_BEFORE_BOOT);
		err = s->ops->ctrl_alt_del ? s->ops->ctrl_alt_del(s->ctx) : -ENOSYS;
		if (err)
			return faultf(r, 400, "actions: SendCtrlAltDel: %s", strerror(-err));
		return no_content(r);
	}
	if (!strcmp(type, "FlushMetrics")) {
		err = s->ops->flush_metrics ? s->ops->flush_metrics(s->ctx) : -ENOSYS;
		if (err == -ENOENT)
			return api_fault(r, 400,
					 "actions: FlushMetrics: the metrics system is not "
					 "initialized (PUT /metrics first)");
		if (err)
			return faultf(r, 400, "actions: FlushMetrics: %s", strerror(-err));
		return no_content(r);
	}
	faultf(r, 400,
	       "actions: action_type: '%s' is not InstanceStart, SendCtrlAltDel or FlushMetrics",
	       type);
}

static void do_vm_state(struct api_state *s, json_t *j, struct api_response *r)
{
	char why[256];
	bool pause;
	int err;

	if (api_parse_vm_state(j, &pause, why, sizeof(why)))
		return api_fault(r, 400, why);
	if (pause)
		err = s->ops->pause ? s->ops->pause(s->ctx) : -ENOSYS;
	else
		err = s->ops->resume ? s->ops->resume(s->ctx) : -ENOSYS;
	if (err)
		return faultf(r, 400, "vm: state: cannot %s the microVM: %s",
			      pause ? "pause" : "resume", strerror(-err));
	no_content(r);
}

/* After boot, a PATCH's rate limiters (checked and stored by then) go to
 * the running device too. */
static int patch_rate_limiters(struct api_state *s, const struct device_kind *k, const char *id,
			       json_t *j, char *why, size_t why_size)
{
	static const char *const keys[] = { "rate_limiter", "rx_rate_limiter", "tx_rate_limiter" };
	int err = 0;

	for (size_t i = 0; s->started && !err && i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(j, keys[i]);
		struct rl_config rl;

		if (!v || json_is_null(v) || rl_config_from_json(v, "", &rl, NULL, 0))
			continue;
		err = s->ops->rate_limiter_update
			      ? s->ops->rate_limiter_update(s->ctx, k, id, keys[i], &rl)
			      : -EOPNOTSUPP;
		if (err)
			snprintf(why, why_size, "%s: %s: the running device was not updated: %s",
				 k->fields->name, keys[i], strerror(-err));
	}
	return err;
}

static void do_balloon_stats_patch(struct api_state *s, json_t *j, struct api_response *r)
{
	struct balloon_config *b = balloon_cfg(s);
	unsigned int secs, old;
	char why[256];
	int err;

	if (api_parse_balloon_stats_update(j, &secs, why, sizeof(why)))
		return api_fault(r, 400, why);
	if (!b)
		return api_fault(r, 400, "balloon: no balloon device is configured");
	old = b->stats_seconds;
	if (secs == old)
		return no_content(r);
	if (!secs || !old)
		return api_fault(r, 400,
				 "balloon-stats: stats_polling_interval_s: statistics cannot be "
				 "enabled or disabled after boot");
	err = s->ops->balloon_stats_interval ? s->ops->balloon_stats_interval(s->ctx, secs)
					     : -EOPNOTSUPP;
	if (err == -EOPNOTSUPP)
		return api_fault(r, 400,
				 "balloon-stats: stats_polling_interval_s: changing the interval "
				 "after boot is not supported by volt");
	if (err)
		return faultf(r, 400, "balloon-stats: stats_polling_interval_s: %s",
			      strerror(-err));
	b->stats_seconds = secs;
	no_content(r);
}

static void do_balloon_patch(struct api_state *s, json_t *j, struct api_response *r)
{
	struct balloon_config *b = balloon_cfg(s);
	unsigned int mib;
	char why[256];
	int err;

	if (api_parse_balloon_update(j, &mib, why, sizeof(why)))
		return api_fault(r, 400, why);
	if (!b)
		return api_fault(r, 400, "balloon: no balloon device is configured");
	if (balloon_size_check(mib, (uint64_t)s->cfg.mem_mib << 20, why, sizeof(why)))
		return faultf(r, 400, "balloon: amount_mib: %s", why);
	err = s->ops->balloon_set ? s->ops->balloon_set(s->ctx, mib) : -ENOSYS;
	if (err)
		return faultf(r, 400, "balloon: amount_mib: %s", strerror(-err));
	b->mib = mib;
	no_content(r);
}

/* A handler for a configuration PUT that may be refused by the VM side. */
static void do_logger(struct api_state *s, json_t *j, struct api_response *r)
{
	struct api_logger l;
	char why[API_REASON_MAX] = "";
	int err;

	if (api_parse_logger(j, &l, why, sizeof(why)))
		return api_fault(r, 400, why);
	err = s->ops->logger ? s->ops->logger(s->ctx, &l, why, sizeof(why)) : 0;
	if (err)
		return faultf(r, 400, "logger: %s", why[0] ? why : strerror(-err));
	s->cfg.logger = l;
	s->cfg.has_logger = true;
	no_content(r);
}

static void do_metrics(struct api_state *s, json_t *j, struct api_response *r)
{
	char path[PATH_MAX], why[512] = "";
	int err;

	if (api_parse_metrics(j, path, sizeof(path), why, sizeof(why)))
		return api_fault(r, 400, why);
	if (s->cfg.has_metrics)
		return api_fault(r, 400,
				 "metrics: metrics_path: the metrics system is already "
				 "initialized");
	err = s->ops->metrics ? s->ops->metrics(s->ctx, path, why, sizeof(why)) : 0;
	if (err)
		return faultf(r, 400, "metrics: metrics_path: %s", why[0] ? why : strerror(-err));
	memcpy(s->cfg.metrics_path, path, sizeof(path));
	s->cfg.has_metrics = true;
	no_content(r);
}

/* PUT /snapshot/create: a started VM (the route's rule) that is paused. */
static void do_snapshot_create(struct api_state *s, json_t *j, struct api_response *r)
{
	struct snapshot_create_req req;
	char why[API_REASON_MAX] = "";
	int err;

	if (api_parse_snapshot_create(j, &req, why, sizeof(why)))
		return api_fault(r, 400, why);
	/* Firecracker's order: the snapshot type (its message from before diff
	 * snapshots without dirty page tracking), then the vCPUs' state. */
	if (req.type == SNAPSHOT_DIFF && !s->cfg.track_dirty_pages)
		return api_fault(r, 400,
				 "The requested operation is not supported: Diff snapshots are not "
				 "allowed on uVMs with dirty page tracking disabled.");
	if (!(s->ops->is_paused && s->ops->is_paused(s->ctx)))
		/* What Firecracker's vCPUs answer when asked to save while running. */
		return api_fault(r, 400,
				 SNAP_CREATE_ERR "Cannot save the microVM state: Operation "
						 "not allowed: save/restore unavailable "
						 "while running");
	err = s->ops->snapshot_create ? s->ops->snapshot_create(s->ctx, &req, why, sizeof(why))
				      : -ENOSYS;
	if (err)
		return faultf(r, 400, SNAP_CREATE_ERR "%s", why[0] ? why : strerror(-err));
	no_content(r);
}

/* PUT /snapshot/load: only in a fresh process (the route refuses it once
 * started: after InstanceStart or a load). As in Firecracker a failed restore
 * leaves a process that cannot be used again (Firecracker exits; volt keeps
 * answering, and refuses all but GETs). GET /vm/config afterwards shows what
 * api_config_from_vm() could tell of the restored VM: no boot source, and
 * the devices without their API keys. */
static void do_snapshot_load(struct api_state *s, json_t *j, struct api_response *r)
{
	struct snapshot_load_req req;
	struct api_snapshot_paths *p = &s->load;
	char why[API_REASON_MAX] = "";
	bool deprecated = false;
	int err;

	if (api_parse_snapshot_load(j, &req, &deprecated, why, sizeof(why)))
		return api_fault(r, 400, why);
	if (s->boot_path) {
		api_fault(r, 400,
			  SNAP_LOAD_ERR "Loading a microVM snapshot not allowed after configuring "
					"boot-specific resources.");
		r->deprecated = deprecated;
		return;
	}
	/* Kept for the process: the restored VM may hold on to them. */
	snprintf(p->state, sizeof(p->state), "%s", req.state_path);
	snprintf(p->backend, sizeof(p->backend), "%s", req.backend_path);
	snprintf(p->vsock, sizeof(p->vsock), "%s", req.vsock_uds_path ? req.vsock_uds_path : "");
	req.state_path = p->state;
	req.backend_path = p->backend;
	req.vsock_uds_path = req.vsock_uds_path ? p->vsock : NULL;
	err = s->ops->snapshot_load ? s->ops->snapshot_load(s->ctx, &req, &s->cfg, why, sizeof(why))
				    : -ENOSYS;
	if (err) {
		s->failed = true;
		snprintf(s->fail_reason, sizeof(s->fail_reason), "%s",
			 why[0] ? why : strerror(-err));
		faultf(r, 400, SNAP_LOAD_ERR "Failed to restore from snapshot: %s", s->fail_reason);
	} else {
		s->started = true;
		s->cfg.track_dirty_pages = req.track_dirty_pages;
		no_content(r);
	}
	r->deprecated = deprecated;
}

/* PUT of a device's resource: the device kind whose API path this is. */
static void put_device(struct api_state *s, const struct device_kind *k, json_t *j, const char *id,
		       struct api_response *r)
{
	char why[512];

	if (api_put_device(&s->cfg, k, j, id, why, sizeof(why)))
		return api_fault(r, 400, why);
	s->boot_path = true;
	no_content(r);
}

/* What a path names: a route of routes[] (rt, -1 when none) and/or the device
 * kind whose api_path it is (PUT, before boot); "<path>/{id}" for a kind
 * that may have several devices. */
struct resource {
	int rt;
	const struct device_kind *kind;
	const char *path;
	bool has_id;
	unsigned int methods, pre_only, post_only;
};

static bool path_is(const char *path, const char *name, bool has_id)
{
	size_t n = strlen(name);

	return !strncmp(path, name, n) && (has_id ? path[n] == '/' || !path[n] : !path[n]);
}

static bool resource_find(const char *path, struct resource *res)
{
	size_t i;
	int k;

	memset(res, 0, sizeof(*res));
	res->rt = -1;
	for (i = 0; res->rt < 0 && i < sizeof(routes) / sizeof(routes[0]); i++)
		if (path_is(path, routes[i].path, routes[i].has_id))
			*res = (struct resource){ .rt = (int)i,
						  .path = routes[i].path,
						  .has_id = routes[i].has_id,
						  .methods = routes[i].methods,
						  .pre_only = routes[i].pre_only,
						  .post_only = routes[i].post_only };
	for (k = 0; !res->kind && k < device_table_len; k++) {
		const struct device_kind *d = device_table[k];

		if (!d->api_path || !path_is(path, d->api_path, d->max > 1))
			continue;
		res->kind = d;
		res->path = d->api_path;
		res->has_id = d->max > 1;
		res->methods |= M_PUT;
		res->pre_only |= M_PUT;
	}
	return res->rt >= 0 || res->kind;
}

static void route(struct api_state *s, const struct resource *res, enum method m, const char *id,
		  json_t *j, struct api_response *r)
{
	char why[512];
	int err = 0;

	if (m == M_PUT && res->kind)
		return put_device(s, res->kind, j, id, r);
	switch ((enum route)res->rt) {
	case R_ROOT:
		return answer_json(r, 200,
				   json_pack("{s:s, s:s, s:s, s:s}", "id", s->id, "state",
					     state_name(s), "vmm_version", VOLT_VERSION, "app_name",
					     "volt"));
	case R_VERSION:
		return answer_json(r, 200, json_pack("{s:s}", "firecracker_version", VOLT_VERSION));
	case R_VM_CONFIG:
		return answer_json(r, 200, api_config_to_json(&s->cfg));
	case R_MACHINE:
		if (m == M_GET)
			return answer_json(r, 200, api_machine_config_to_json(&s->cfg));
		err = api_put_machine_config(&s->cfg, j, m == M_PATCH, why, sizeof(why));
		break;
	case R_BOOT:
		err = api_put_boot_source(&s->cfg, j, why, sizeof(why));
		break;
	case R_DRIVE:
		err = api_patch_drive(&s->cfg, j, id, s->started, why, sizeof(why));
		if (!err)
			err = patch_rate_limiters(s, &virtio_blk_kind, id, j, why, sizeof(why));
		break;
	case R_NET:
		/* Only rate limiters change. */
		err = api_patch_net(&s->cfg, j, id, why, sizeof(why));
		if (!err)
			err = patch_rate_limiters(s, &virtio_net_kind, id, j, why, sizeof(why));
		break;
	case R_BALLOON:
		if (m == M_PATCH)
			return do_balloon_patch(s, j, r);
		if (!balloon_cfg(s))
			return api_fault(r, 400, "balloon: no balloon device is configured");
		return answer_json(
			r, 200,
			api_device_to_json(api_device_find(&s->cfg, &virtio_balloon_kind, NULL)));
	case R_BALLOON_STATS:
		if (m == M_GET)
			return get_balloon_stats(s, r);
		return do_balloon_stats_patch(s, j, r);
	case R_LOGGER:
		return do_logger(s, j, r);
	case R_METRICS:
		return do_metrics(s, j, r);
	case R_ACTIONS:
		return do_action(s, j, r);
	case R_VM:
		return do_vm_state(s, j, r);
	case R_SNAP_CREATE:
		return do_snapshot_create(s, j, r);
	case R_SNAP_LOAD:
		return do_snapshot_load(s, j, r);
	}
	if (err)
		return api_fault(r, 400, why);
	/* Boot source, machine, a drive's new file: no snapshot load after these. */
	if (!s->started)
		s->boot_path = true;
	no_content(r);
}

void api_handle(struct api_state *s, const char *method, const char *url, const char *body,
		size_t len, struct api_response *r)
{
	char path[256], why[512], *id = NULL, *slash;
	struct resource res;
	enum method m;
	json_t *j = NULL;

	r->status = 500;
	r->body = NULL;
	r->deprecated = false;
	if (!strcmp(method, "GET"))
		m = M_GET;
	else if (!strcmp(method, "PUT"))
		m = M_PUT;
	else if (!strcmp(method, "PATCH"))
		m = M_PATCH;
	else
		m = 0;
	if (url[0] != '/' || strlen(url) >= sizeof(path))
		return faultf(r, 404, "Invalid request method and/or path: %.16s %.64s", method,
			      url);
	snprintf(path, sizeof(path), "%s", url + 1);
	if (!resource_find(path, &res))
		return faultf(r, 404,
			      "Invalid request method and/or path: %.16s %s (no such resource)",
			      method, url);
	if (res.has_id) {
		slash = strchr(path, '/');
		id = slash ? slash + 1 : path + strlen(path);
		if (!*id)
			return faultf(r, 400, "%s: the id in the path is missing (%s/{id})", url,
				      url);
		if (parse_id_check(id, why, sizeof(why)))
			return faultf(r, 400, "%s: the id in the path: %s", res.path, why);
	}
	if (!(m & res.methods))
		return faultf(r, 400, "Invalid request method and/or path: %.16s %s", method, url);
	if (len > API_MAX_PAYLOAD)
		return faultf(r, 400,
			      "Request payload with size %zu is larger than the limit of %d "
			      "allowed by server.",
			      len, API_MAX_PAYLOAD);
	if (s->started && (m & res.pre_only))
		return api_fault(r, 400, NOT_AFTER_BOOT);
	if (!s->started && (m & res.post_only))
		return api_fault(r, 400, NOT_BEFORE_BOOT);
	if (s->failed && m != M_GET)
		return faultf(r, 400, "the microVM failed to start (%s): restart volt",
			      s->fail_reason);
	if (m != M_GET) {
		j = api_json_parse(body, len, why, sizeof(why));
		if (!j)
			return faultf(r, 400, "%s: %s", res.path[0] ? res.path : "/", why);
	}
	route(s, &res, m, id, j, r);
	json_decref(j);
}
