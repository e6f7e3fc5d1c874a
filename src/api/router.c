/* Method + path -> handler, Firecracker's pre-/post-boot rules, JSON answers. */
#include "api/router.h"
#include "api/cpu_config_json.h"
#include "api/fc_bodies.h"
#include "api/http_parse.h"
#include "api/json_pos.h"
#include "api/snapshot_config.h"
#include "core/metrics.h"
#include "api/mmds_api.h"
#include "devices/mmds/mmds.h"
#include "devices/device_table.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_mem.h"
#include "devices/virtio/virtio_net.h"
#include "devices/virtio/virtio_pmem.h"
#include "devices/virtio/virtio_rng.h"
#include "devices/virtio/virtio_vsock.h"
#include "util/id_pool.h"
#include "util/parse.h"
#include "util/rust_err.h"

#include "volt-config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOT_AFTER_BOOT	 "The requested operation is not supported after starting the microVM."
#define NOT_BEFORE_BOOT	 "The requested operation is not supported before starting the microVM."
#define NOT_SUPPORTED	 "The requested operation is not supported: "
#define DEVICE_NOT_FOUND "Failed perform action on device: Device not found"
#define METRICS_REINIT                                                                \
	"Metrics error: Cannot initialize the metrics system due to bad user input: " \
	"Reinitialization of metrics not allowed."
/* Firecracker's VmmActionError kinds for the balloon calls without a balloon
 * (before boot GET /balloon reads the configuration, after boot the device). */
#define BALLOON_UPDATE_ERR "Balloon update error: "
#define NO_BALLOON_PRE	   "Balloon config error: No balloon device found."
#define NO_BALLOON_POST	   "Internal VMM error: " DEVICE_NOT_FOUND
#define PCI_NOT_ENABLED	   "PCI is not enabled"
/* Firecracker's VmmActionError prefixes. */
#define SNAP_CREATE_ERR "Create snapshot error: "
#define SNAP_LOAD_ERR	"Load snapshot error: "

enum method { M_GET = 1, M_PUT = 2, M_PATCH = 4, M_DELETE = 8 };

/* A device's PUT comes from the device table (its kind's api_path); what is
 * here besides is genuinely about one device: PATCH /drives/{id} (a new
 * backing file), PATCH /network-interfaces/{id} (rate limiters, a no-op),
 * GET and PATCH /balloon and /balloon/statistics, /balloon/hinting/...
 * (the balloon's driver). */
enum route {
	R_ROOT,
	R_VERSION,
	R_BOOT,
	R_MACHINE,
	R_DRIVE,
	R_NET,
	R_BALLOON,
	R_BALLOON_STATS,
	R_BALLOON_HINT_START,
	R_BALLOON_HINT_STOP,
	R_BALLOON_HINT_STATUS,
	R_LOGGER,
	R_METRICS,
	R_ACTIONS,
	R_VM,
	R_VM_CONFIG,
	R_SNAP_CREATE,
	R_SNAP_LOAD,
	R_SERIAL,
	R_CPU_CONFIG,
	R_PMEM,
	R_HOTPLUG_MEM,
	R_MMDS,
	R_MMDS_CONFIG,
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
	[R_DRIVE] = { "drives", true, M_PATCH | M_DELETE, 0, M_PATCH | M_DELETE },
	[R_NET] = { "network-interfaces", true, M_PATCH | M_DELETE, 0, M_PATCH | M_DELETE },
	[R_BALLOON] = { "balloon", false, M_GET | M_PATCH, 0, M_PATCH },
	[R_BALLOON_STATS] = { "balloon/statistics", false, M_GET | M_PATCH, 0, M_GET | M_PATCH },
	[R_BALLOON_HINT_START] = { "balloon/hinting/start", false, M_PATCH, 0, M_PATCH },
	[R_BALLOON_HINT_STOP] = { "balloon/hinting/stop", false, M_PATCH, 0, M_PATCH },
	[R_BALLOON_HINT_STATUS] = { "balloon/hinting/status", false, M_GET, 0, M_GET },
	[R_LOGGER] = { "logger", false, M_PUT, M_PUT, 0 },
	[R_METRICS] = { "metrics", false, M_PUT, M_PUT, 0 },
	[R_ACTIONS] = { "actions", false, M_PUT, 0, 0 },
	[R_VM] = { "vm", false, M_PATCH, 0, M_PATCH },
	[R_VM_CONFIG] = { "vm/config", false, M_GET, 0, 0 },
	[R_SNAP_CREATE] = { "snapshot/create", false, M_PUT, 0, M_PUT },
	[R_SNAP_LOAD] = { "snapshot/load", false, M_PUT, M_PUT, 0 },
	[R_SERIAL] = { "serial", false, M_PUT, M_PUT, 0 },
	[R_CPU_CONFIG] = { "cpu-config", false, M_PUT, M_PUT, 0 },
	/* PUT /pmem/{id} is the device kind's (virtio_pmem_kind). */
	[R_PMEM] = { "pmem", true, M_PATCH | M_DELETE, 0, M_PATCH | M_DELETE },
	/* PUT /hotplug/memory is the device kind's (virtio_mem_kind). */
	[R_HOTPLUG_MEM] = { "hotplug/memory", false, M_GET | M_PATCH, 0, M_GET | M_PATCH },
	[R_MMDS] = { "mmds", false, M_GET | M_PUT | M_PATCH, 0, 0 },
	[R_MMDS_CONFIG] = { "mmds/config", false, M_PUT, M_PUT, 0 },
};

bool api_instance_id_valid(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if (i >= API_INSTANCE_ID_MAX || !(isalnum((unsigned char)id[i]) || id[i] == '-'))
			return false;
	return i > 0;
}

void api_state_init_zeroed(struct api_state *s, const struct api_ops *ops, void *ctx,
			   const char *id)
{
	api_config_defaults(&s->cfg);
	s->ops = ops;
	s->ctx = ctx;
	snprintf(s->id, sizeof(s->id), "%s", id ? id : "anonymous-instance");
	s->max_payload = API_MAX_PAYLOAD;
}

void api_state_init(struct api_state *s, const struct api_ops *ops, void *ctx, const char *id)
{
	memset(s, 0, sizeof(*s));
	api_state_init_zeroed(s, ops, ctx, id);
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

/* GET /: Firecracker's InstanceInfo. */
static json_t *instance_info(struct api_state *s)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "id", s->id, "state", state_name(s), "vmm_version",
			 VOLT_FC_VERSION, "app_name", "volt");
}

char *api_instance_info(struct api_state *s)
{
	json_t *j = instance_info(s);
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return body;
}

/* The balloon's configuration; NULL when none is configured. */
static struct balloon_config *balloon_cfg(struct api_state *s)
{
	struct api_device *d = api_device_find(&s->cfg, &virtio_balloon_kind, NULL);

	return d ? (struct balloon_config *)(void *)d->dev.data : NULL;
}

static void get_balloon_stats(struct api_state *s, struct api_response *r)
{
	/* Firecracker's BalloonStats, in its order. */
	static const char *const names[BALLOON_STAT_TAGS] = {
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
		/* Linux 6.12's tags (BALLOON_STAT_TAGS), by number: older kernel
		 * headers do not name them. */
		[10] = "oom_kill",
		[11] = "alloc_stall",
		[12] = "async_scan",
		[13] = "direct_scan",
		[14] = "async_reclaim",
		[15] = "direct_reclaim",
	};
	const struct balloon_config *b = balloon_cfg(s);
	struct balloon_stats st;
	json_t *j;
	int t;

	if (!b)
		return api_fault(r, 400, NO_BALLOON_POST);
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
	for (t = 0; j && t < BALLOON_STAT_TAGS; t++)
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
		/* Static: devices of VM_MAX_VIRTIO configurations are large. */
		static struct vm_config probe;
		if (!s->cfg.has_boot)
			return api_fault(r, 400,
					 "Start microvm error: Cannot start microvm without kernel "
					 "configuration.");
		memset(&probe, 0, sizeof(probe));
		err = api_config_to_vm(&s->cfg, &probe, (char[API_CMDLINE_MAX + 256]){ 0 },
				       API_CMDLINE_MAX + 256, why, sizeof(why));
		if (err)
			/* Nothing was tried: the configuration can still be fixed. */
			return faultf(r, 400, "actions: InstanceStart: %s", why);
		bool undone = false;

		err = s->ops->instance_start
			      ? s->ops->instance_start(s->ctx, &s->cfg, &undone, why, sizeof(why))
			      : -ENOSYS;
		if (err) {
			s->failed = !undone;
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
		if (!s->started)
			return api_fault(r, 400, NOT_BEFORE_BOOT);
		err = s->ops->flush_metrics ? s->ops->flush_metrics(s->ctx) : -ENOSYS;
		/* No metrics configured: Firecracker's METRICS.write() is Ok(false),
		 * its answer 204 (nothing written). */
		if (err && err != -ENOENT)
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
		return api_fault(r, 400, BALLOON_UPDATE_ERR DEVICE_NOT_FOUND);
	old = b->stats_seconds;
	if (secs == old)
		return no_content(r);
	if (!secs || !old)
		return api_fault(r, 400,
				 BALLOON_UPDATE_ERR "Balloon: Statistics cannot be "
						    "enabled/disabled after activation.");
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

static void hint_fault(struct api_response *r, int err)
{
	if (err == -ENODEV)
		return api_fault(r, 400, BALLOON_UPDATE_ERR DEVICE_NOT_FOUND);
	if (err == -EOPNOTSUPP)
		return api_fault(r, 400,
				 BALLOON_UPDATE_ERR
				 "Balloon: Attempting to use hinting when not enabled");
	if (err == -EAGAIN)
		return api_fault(r, 400, BALLOON_UPDATE_ERR "Balloon: Device not activated yet.");
	faultf(r, 400, BALLOON_UPDATE_ERR "Balloon: %s", strerror(-err));
}

static void hint_fault_or_ok(struct api_response *r, int err)
{
	if (err)
		return hint_fault(r, err);
	no_content(r);
}

/* PATCH /balloon/hinting/start: the body is optional; acknowledge_on_stop
 * defaults to true (Firecracker's StartHintingCmd, which serde read). */
static void do_hint_start(struct api_state *s, json_t *j, struct api_response *r)
{
	json_t *v = j ? json_object_get(j, "acknowledge_on_stop") : NULL;
	bool ack = true;

	if (v)
		ack = json_is_true(v);
	if (!balloon_cfg(s))
		return hint_fault(r, -ENODEV);
	hint_fault_or_ok(r, s->ops->balloon_hint_start ? s->ops->balloon_hint_start(s->ctx, ack)
						       : -ENOSYS);
}

static void get_hint_status(struct api_state *s, struct api_response *r)
{
	struct balloon_hint_status hs;
	int err;

	if (!balloon_cfg(s))
		return hint_fault(r, -ENODEV);
	err = s->ops->balloon_hint_status ? s->ops->balloon_hint_status(s->ctx, &hs) : -ENOSYS;
	if (err)
		return hint_fault(r, err);
	answer_json(r, 200,
		    json_pack("{s:I, s:o}", "host_cmd", (json_int_t)hs.host_cmd, "guest_cmd",
			      hs.guest_cmd_valid ? json_integer((json_int_t)hs.guest_cmd)
						 : json_null()));
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
		return api_fault(r, 400, BALLOON_UPDATE_ERR DEVICE_NOT_FOUND);
	if (balloon_size_check(mib, (uint64_t)s->cfg.mem_mib << 20, why, sizeof(why)))
		return faultf(r, 400, "balloon: amount_mib: %s", why);
	err = s->ops->balloon_set ? s->ops->balloon_set(s->ctx, mib) : -ENOSYS;
	if (err == -EAGAIN)
		return api_fault(r, 400, BALLOON_UPDATE_ERR "Balloon: Device not activated yet.");
	if (err)
		return faultf(r, 400, "balloon: amount_mib: %s", strerror(-err));
	b->mib = mib;
	no_content(r);
}

/* A handler for a configuration PUT that may be refused by the VM side. */
/* A logger or metrics file that did not open (err): Firecracker's words for
 * it (words, then its io::Error), then which file (key, path), or, for a file
 * volt refused for what it is (-EINVAL), why. */
static void open_fault(struct api_response *r, const char *words, const char *key, const char *path,
		       const char *why, int err)
{
	char ioerr[96];

	if (err == -EINVAL)
		return faultf(r, 400, "%s: %s (%s)", words,
			      rust_io_error(-err, ioerr, sizeof(ioerr)), why);
	faultf(r, 400, "%s: %s (%s '%.256s')", words, rust_io_error(-err, ioerr, sizeof(ioerr)),
	       key, path);
}

static void do_logger(struct api_state *s, json_t *j, struct api_response *r)
{
	struct api_logger l;
	char why[API_REASON_MAX] = "";
	int err;

	if (api_parse_logger(j, &l, why, sizeof(why)))
		return api_fault(r, 400, why);
	/* What the body leaves out stays as an earlier PUT set it. */
	if (!l.has_show_level)
		l.show_level = s->cfg.logger.show_level;
	if (!l.has_show_log_origin)
		l.show_log_origin = s->cfg.logger.show_log_origin;
	err = s->ops->logger ? s->ops->logger(s->ctx, &l, why, sizeof(why)) : 0;
	/* Firecracker's LoggerUpdateError. */
	if (err)
		return open_fault(r, "Logger error: Failed to open target file", "log_path", l.path,
				  why, err);
	if (!l.path[0])
		memcpy(l.path, s->cfg.logger.path, sizeof(l.path));
	s->cfg.logger = l;
	s->cfg.has_logger = true;
	no_content(r);
}

static void do_metrics(struct api_state *s, json_t *j, struct api_response *r)
{
	static struct api_metrics m; /* 8 KiB: not on the API's stack */
	char why[512] = "";
	int err;

	if (api_parse_metrics(j, &m, why, sizeof(why)))
		return api_fault(r, 400, why);
	/* Once per process, as Firecracker: set by an earlier PUT, by the
	 * configuration file or by --metrics-path (the VM side's -EEXIST). */
	if (s->cfg.has_metrics)
		return api_fault(r, 400, METRICS_REINIT);
	err = s->ops->metrics ? s->ops->metrics(s->ctx, &m, why, sizeof(why)) : 0;
	if (err == -EEXIST)
		return api_fault(r, 400, METRICS_REINIT);
	/* Firecracker's MetricsConfigError::InitializationFailure. */
	if (err)
		return open_fault(r,
				  "Metrics error: Cannot initialize the metrics system due to bad "
				  "user input",
				  "metrics_path", m.path, why, err);
	s->cfg.metrics = m;
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
	/* A Diff without dirty page tracking is Firecracker 1.16's: the pages
	 * resident in guest memory (docs/snapshots.md). */
	if (!(s->ops->is_paused && s->ops->is_paused(s->ctx)))
		/* What Firecracker's vCPUs answer when asked to save while running. */
		return api_fault(r, 400,
				 SNAP_CREATE_ERR "Cannot save the microVM state: Operation "
						 "not allowed: save/restore unavailable "
						 "while running");
	/* What the VM's configuration does not say (the boot source, a drive's
	 * is_root_device): a load shows it in GET /vm/config. */
	req.api_config = api_snapshot_config_save(&s->cfg);
	if (!req.api_config)
		return faultf(r, 400, SNAP_CREATE_ERR "%s", strerror(ENOMEM));
	err = s->ops->snapshot_create ? s->ops->snapshot_create(s->ctx, &req, why, sizeof(why))
				      : -ENOSYS;
	free((char *)req.api_config);
	if (err)
		return faultf(r, 400, SNAP_CREATE_ERR "%s", why[0] ? why : strerror(-err));
	no_content(r);
}

/* PUT /snapshot/load: only in a fresh process (the route refuses it once
 * started: after InstanceStart or a load). As in Firecracker a failed restore
 * leaves a process that cannot be used again (Firecracker exits; volt keeps
 * answering, and refuses all but GETs). GET /vm/config afterwards shows the
 * restored VM as the snapshotted one was configured (api_config_restore():
 * its boot source and devices' API keys come from the snapshot). */
static void do_snapshot_load(struct api_state *s, json_t *j, struct api_response *r)
{
	struct snapshot_load_req req;
	struct api_snapshot_paths *p = &s->load;
	char why[API_REASON_MAX] = "";
	bool deprecated = false;
	int err;

	if (api_parse_snapshot_load(j, &req, &deprecated, why, sizeof(why)))
		return api_fault(r, 400, why);
	if (deprecated)
		pr_warn("PUT /snapshot/load: mem_file_path and enable_diff_snapshots fields are "
			"deprecated.");
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
	for (int i = 0; i < req.nnet; i++)
		p->iface_ids[i] = req.net[i].iface_id;
	/* A snapshot's interfaces that served MMDS serve this store (its
	 * data: what was PUT before the load, as in Firecracker). */
	req.mmds = api_mmds_store(&s->cfg);
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
	if (deprecated)
		r->deprecated = true;
}

/* A copy of the configuration a PUT is tried on (main thread only; too big
 * for the stack): it replaces the API's once every check passed. */
static struct api_config scratch;

/* Rust's io::Error as Firecracker prints it. */
static const char *os_error(int err, char *buf, size_t size)
{
	return rust_io_error(err, buf, size);
}

int api_file_check(void *ctx, const char *path, enum api_file_use use)
{
	char dir[PATH_MAX];
	struct stat sb;
	int fd;

	(void)ctx;
	if (use == API_FILE_SOCKET) {
		/* bind() needs the directory; volt binds at InstanceStart. */
		const char *d;

		/* dirname() may return a static "." (a name without '/') rather
		 * than cut dir: use what it returns. */
		snprintf(dir, sizeof(dir), "%s", path);
		d = dirname(dir);
		if (stat(d, &sb))
			return -errno;
		if (!S_ISDIR(sb.st_mode))
			return -ENOTDIR;
		if (access(d, W_OK | X_OK))
			return -errno;
		if (!lstat(path, &sb) && !S_ISSOCK(sb.st_mode))
			return -EADDRINUSE;
		return 0;
	}
	if (use == API_FILE_TAP)
		return virtio_net_tap_probe(path);
	/* O_NONBLOCK: a FIFO without a writer must not stop the API (InstanceStart
	 * then names what the file is). */
	fd = open(path, (use == API_FILE_DRIVE || use == API_FILE_TUN ? O_RDWR : O_RDONLY) |
				O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int file_check(struct api_state *s, const char *path, enum api_file_use use)
{
	return s->ops->file_check ? s->ops->file_check(s->ctx, path, use) : 0;
}

/* Firecracker opens a drive's file and binds the vsock's socket at PUT. */
static bool device_files_ok(struct api_state *s, const struct api_config *c,
			    const struct device_kind *k, const char *id, struct api_response *r)
{
	const struct api_device *d = api_device_find(c, k, id);
	char e[128];
	int err;

	if (!d)
		return true;
	if (k == &virtio_blk_kind) {
		const struct blk_config *b = (const void *)d->dev.data;

		err = file_check(s, b->path, b->read_only ? API_FILE_DRIVE_RO : API_FILE_DRIVE);
		if (err) {
			faultf(r, 400,
			       "Drive config error: Unable to create the virtio block device: "
			       "Virtio "
			       "backend error: Error manipulating the backing file: %s %s",
			       os_error(-err, e, sizeof(e)), b->path);
			return false;
		}
	}
	if (k == &virtio_net_kind) {
		const struct net_config *n = (const void *)d->dev.data;
		bool tun = (err = file_check(s, "/dev/net/tun", API_FILE_TUN)) != 0;

		if (!err)
			err = file_check(s, n->tap, API_FILE_TAP);
		if (err && tun)
			faultf(r, 400, API_TAP_FAILED "Couldn't open /dev/net/tun: %s",
			       os_error(-err, e, sizeof(e)));
		else if (err)
			faultf(r, 400, API_TAP_IFREQ_FMT, os_error(-err, e, sizeof(e)), n->tap);
		if (err)
			return false;
	}
	if (k == &virtio_vsock_kind) {
		const struct vsock_config *v = (const void *)d->dev.data;

		err = file_check(s, v->uds, API_FILE_SOCKET);
		if (err) {
			faultf(r, 400,
			       "Vsock config error: Cannot create backend for vsock device: Error "
			       "binding to the host-side Unix socket: %s",
			       os_error(-err, e, sizeof(e)));
			return false;
		}
	}
	return true;
}

/* A PUT of a boot-specific resource before boot, whose parse or checks gave
 * err: a body that parsed reached Firecracker's controller, which sets
 * boot_path before its checks (no snapshot load after it, taken or not).
 * false: refused, and answered. */
static bool boot_put_taken(struct api_state *s, int err, const char *why, struct api_response *r)
{
	if (!err || api_err_reached_vmm(err))
		s->boot_path = true;
	if (err)
		api_fault(r, 400, why);
	r->unparsed = err && !api_err_reached_vmm(err);
	return !err;
}

/* PUT of a device's resource: the device kind whose API path this is. Before
 * boot the configuration takes it once its files check out (kept as it was
 * otherwise); after boot (a drive, an interface: the other kinds' routes
 * refuse it) Firecracker parses it, then answers that hotplug needs PCI.
 * A body that parsed configured a boot-specific resource, taken or not
 * (Firecracker's insert_block_device() and co. set boot_path first). */
static void put_device(struct api_state *s, const struct device_kind *k, json_t *j, const char *id,
		       struct api_response *r)
{
	char why[512];
	int err;

	scratch = s->cfg;
	err = api_put_device(&scratch, k, j, id, why, sizeof(why));
	if (s->started) {
		r->unparsed = err && !api_err_reached_vmm(err);
		return api_fault(r, 400, r->unparsed ? why : PCI_NOT_ENABLED);
	}
	/* -EBUSY: Firecracker dropped the interface of that id before its TAP
	 * failed (api_put_device), and so does volt. */
	if (err == -EBUSY)
		s->cfg = scratch;
	if (!boot_put_taken(s, err, why, r))
		return;
	if (!device_files_ok(s, &scratch, k, id, r)) {
		/* Firecracker's NetBuilder dropped the interface of that id
		 * before the new one's TAP failed to open. */
		struct api_device *failed = api_device_find(&scratch, k, id);

		if (k == &virtio_net_kind && failed) {
			api_device_swap_remove(&scratch, failed);
			s->cfg = scratch;
		}
		return;
	}
	if (k == &virtio_balloon_kind &&
	    ((const struct balloon_config *)(const void *)api_device_find(&scratch, k, NULL)
		     ->dev.data)
			    ->mib > scratch.mem_mib)
		return api_fault(r, 400,
				 "Balloon config error: Amount of pages requested is too large.");
	s->cfg = scratch;
	no_content(r);
}

/* PUT|PATCH /machine-config (before boot): Firecracker keeps the memory at
 * least the balloon's target. A body that parsed sets boot_path, taken or
 * not, as put_device(). */
static void put_machine_config(struct api_state *s, json_t *j, bool patch, struct api_response *r)
{
	const struct api_device *d;
	char why[512];

	scratch = s->cfg;
	if (!boot_put_taken(s, api_put_machine_config(&scratch, j, patch, why, sizeof(why)), why,
			    r))
		return;
	d = api_device_find(&scratch, &virtio_balloon_kind, NULL);
	if (d && ((const struct balloon_config *)(const void *)d->dev.data)->mib > scratch.mem_mib)
		return api_fault(r, 400,
				 "Machine config error: The memory size (MiB) is smaller than the "
				 "previously set balloon device target size.");
	s->cfg = scratch;
	no_content(r);
}

/* PUT /boot-source (before boot): Firecracker opens the kernel and the
 * initrd then. A body that parsed sets boot_path, as put_device(). */
static void put_boot_source(struct api_state *s, json_t *j, struct api_response *r)
{
	char why[512], e[128];
	int err;

	scratch = s->cfg;
	if (!boot_put_taken(s, api_put_boot_source(&scratch, j, why, sizeof(why)), why, r))
		return;
	err = file_check(s, scratch.kernel, API_FILE_KERNEL);
	if (err)
		return faultf(r, 400, "Boot source error: The kernel file cannot be opened: %s",
			      os_error(-err, e, sizeof(e)));
	err = scratch.initrd[0] ? file_check(s, scratch.initrd, API_FILE_INITRD) : 0;
	if (err)
		return faultf(r, 400,
			      "Boot source error: The initrd file cannot be opened due to invalid "
			      "path or invalid permissions. %s",
			      os_error(-err, e, sizeof(e)));
	s->cfg = scratch;
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
		/* After boot a drive, an interface or a pmem device is a hotplug
		 * in Firecracker. */
		if (d != &virtio_blk_kind && d != &virtio_net_kind && d != &virtio_pmem_kind)
			res->pre_only |= M_PUT;
	}
	return res->rt >= 0 || res->kind;
}

/* GET|PATCH /hotplug/memory after boot: the running virtio-mem device's
 * sizes, or the size the guest should reach. */
static void do_hotplug_memory(struct api_state *s, enum method m, json_t *j, struct api_response *r)
{
	struct mem_hotplug_status st;
	uint64_t mib = 0;
	char why[512];
	int err;

	if (m == M_PATCH && api_parse_memory_hotplug_update(j, &mib, why, sizeof(why)))
		return api_fault(r, 400, why);
	/* What Firecracker answers a microVM without a virtio-mem device. */
	if (!api_device_find(&s->cfg, &virtio_mem_kind, NULL))
		return api_fault(r, 400,
				 m == M_GET ? "Internal VMM error: " DEVICE_NOT_FOUND
					    : "Memory hotplug update error: " DEVICE_NOT_FOUND);
	if (m == M_PATCH) {
		why[0] = '\0';
		err = s->ops->mem_hotplug_request
			      ? s->ops->mem_hotplug_request(s->ctx, (unsigned int)mib, why,
							    sizeof(why))
			      : -ENODEV;
		if (err)
			return api_fault(r, 400,
					 why[0] ? why
						: "Memory hotplug update error: " DEVICE_NOT_FOUND);
		return no_content(r);
	}
	err = s->ops->mem_hotplug_status ? s->ops->mem_hotplug_status(s->ctx, &st) : -ENODEV;
	if (err)
		return api_fault(r, 400, "Internal VMM error: " DEVICE_NOT_FOUND);
	/* Firecracker's VirtioMemStatus, in its order. */
	answer_json(r, 200,
		    json_pack("{s:I, s:I, s:I, s:I, s:I}", "block_size_mib",
			      (json_int_t)st.block_mib, "total_size_mib", (json_int_t)st.total_mib,
			      "slot_size_mib", (json_int_t)st.slot_mib, "plugged_size_mib",
			      (json_int_t)st.plugged_mib, "requested_size_mib",
			      (json_int_t)st.requested_mib));
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
		return answer_json(r, 200, instance_info(s));
	case R_VERSION:
		return answer_json(r, 200,
				   json_pack("{s:s}", "firecracker_version", VOLT_FC_VERSION));
	case R_VM_CONFIG: {
		/* Firecracker's VmmConfig from its VmResources, which hold no logger
		 * or metrics configuration: both are always null. */
		json_t *cfg = api_config_to_json(&s->cfg);

		if (cfg && (json_object_set_new(cfg, "logger", json_null()) ||
			    json_object_set_new(cfg, "metrics", json_null()))) {
			json_decref(cfg);
			cfg = NULL;
		}
		return answer_json(r, 200, cfg);
	}
	case R_MACHINE:
		if (m == M_GET)
			return answer_json(r, 200, api_machine_config_to_json(&s->cfg));
		return put_machine_config(s, j, m == M_PATCH, r);
	case R_BOOT:
		return put_boot_source(s, j, r);
	case R_DRIVE:
		if (m == M_DELETE)
			return api_fault(r, 400, PCI_NOT_ENABLED);
		err = api_patch_drive(&s->cfg, j, id, s->started, s->ops->drive_file_update, s->ctx,
				      why, sizeof(why));
		if (!err)
			err = patch_rate_limiters(s, &virtio_blk_kind, id, j, why, sizeof(why));
		break;
	case R_SERIAL:
		/* Not a boot-specific resource: a snapshot load may follow. */
		if (api_put_serial(&s->cfg, j, why, sizeof(why)))
			return api_fault(r, 400, why);
		return no_content(r);
	case R_CPU_CONFIG:
		if (api_parse_cpu_config(j, &scratch.cpu_config, why, sizeof(why)))
			return api_fault(r, 400, why);
		api_set_cpu_config(&s->cfg, &scratch.cpu_config);
		return no_content(r);
	case R_PMEM:
		if (m == M_DELETE)
			return api_fault(r, 400, PCI_NOT_ENABLED);
		/* Only the rate limiter changes, after boot. */
		err = api_patch_pmem(&s->cfg, j, id, why, sizeof(why));
		if (!err)
			err = patch_rate_limiters(s, &virtio_pmem_kind, id, j, why, sizeof(why));
		break;
	case R_HOTPLUG_MEM:
		return do_hotplug_memory(s, m, j, r);
	case R_NET:
		if (m == M_DELETE)
			return api_fault(r, 400, PCI_NOT_ENABLED);
		/* Only rate limiters change. */
		err = api_patch_net(&s->cfg, j, id, why, sizeof(why));
		if (!err)
			err = patch_rate_limiters(s, &virtio_net_kind, id, j, why, sizeof(why));
		break;
	case R_BALLOON:
		if (m == M_PATCH)
			return do_balloon_patch(s, j, r);
		if (!balloon_cfg(s))
			return api_fault(r, 400, s->started ? NO_BALLOON_POST : NO_BALLOON_PRE);
		return answer_json(
			r, 200,
			api_device_to_json(api_device_find(&s->cfg, &virtio_balloon_kind, NULL)));
	case R_BALLOON_STATS:
		if (m == M_GET)
			return get_balloon_stats(s, r);
		return do_balloon_stats_patch(s, j, r);
	case R_BALLOON_HINT_START:
		return do_hint_start(s, j, r);
	case R_BALLOON_HINT_STOP:
		if (!balloon_cfg(s))
			return hint_fault(r, -ENODEV);
		return hint_fault_or_ok(
			r, s->ops->balloon_hint_stop ? s->ops->balloon_hint_stop(s->ctx) : -ENOSYS);
	case R_BALLOON_HINT_STATUS:
		return get_hint_status(s, r);
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
	case R_MMDS_CONFIG:
		/* Firecracker's set_mmds_config() is boot-specific. */
		if (boot_put_taken(
			    s, api_mmds_config_put(&s->cfg, j, &(bool){ false }, why, sizeof(why)),
			    why, r))
			no_content(r);
		return;
	case R_MMDS:
		break; /* api_handle's, on the raw body */
	}
	if (err)
		return api_fault(r, 400, why);
	/* Boot source, machine, a drive's new file: no snapshot load after these. */
	if (!s->started)
		s->boot_path = true;
	no_content(r);
}

/* GET|PUT|PATCH /mmds on the body as it came (any JSON value, as
 * Firecracker's serde_json::Value). Before boot the store is created when
 * first needed; after boot Firecracker has one only when an interface
 * serves it. The body is read first, as Firecracker's parser does. */
static void do_mmds(struct api_state *s, enum method m, const char *body, size_t len,
		    struct api_response *r)
{
	struct mmds *store = NULL;
	char why[512] = "";
	int err;

	if (m != M_GET && mmds_json_check(body, len, why, sizeof(why)))
		return faultf(r, 400, "mmds: %s", why);
	if (s->started && !api_mmds_enabled(&s->cfg))
		return api_fault(r, 400, API_MMDS_NOT_INITIALIZED);
	store = api_mmds_store(&s->cfg);
	if (!store)
		return api_fault(r, 500, "mmds: the data store cannot be created");
	if (m == M_GET) {
		r->status = 200;
		r->body = mmds_get_json(store);
		if (!r->body)
			api_fault(r, 500, "mmds: out of memory");
		return;
	}
	err = m == M_PUT ? mmds_put(store, body, len, why, sizeof(why))
			 : mmds_patch(store, body, len, why, sizeof(why));
	if (err == -EFBIG)
		return api_fault(r, 413, API_MMDS_TOO_LARGE);
	if (err == -ENOENT)
		return api_fault(r, 400, API_MMDS_NOT_INITIALIZED);
	if (err)
		return faultf(r, 400, "mmds: %s", why);
	no_content(r);
}

/* Firecracker's messages for what its parser refuses before any handler. */
#define EMPTY_ID   "The ID cannot be empty."
#define INVALID_ID "API Resource IDs can only contain alphanumeric characters and underscores."

static const char *method_name(enum method m, const char *given)
{
	switch (m) {
	case M_GET:
		return "GET";
	case M_PUT:
		return "PUT";
	case M_PATCH:
		return "PATCH";
	case M_DELETE:
		return "DELETE";
	}
	return given;
}

/* Firecracker's InvalidPathMethod: the path's first segment, without its '/'. */
static void invalid_path_method(struct api_response *r, enum method m, const char *given,
				const char *what)
{
	faultf(r, 400, "Invalid request method and/or path: %.16s %.200s.", method_name(m, given),
	       what);
}

/* Firecracker's checked_id(): not empty, alphanumeric or '_' only (Rust's
 * is_alphanumeric() is Unicode's; volt's ids are ASCII, so a non-ASCII
 * letter is refused here with the same message). No length limit, as in
 * Firecracker: the request line's (HTTP_HEAD_MAX) alone. */
static bool checked_id(const char *id, struct api_response *r)
{
	const char *p;

	if (!*id) {
		api_fault(r, 400, EMPTY_ID);
		return false;
	}
	for (p = id; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_')) {
			api_fault(r, 400, INVALID_ID);
			return false;
		}
	return true;
}

/* The path as Firecracker's parser sees it: leading '/'s trimmed, split on
 * '/', one trailing empty segment dropped ("drives/" is "drives"), and only
 * the segments its routes look at: seg[0], seg[1], seg[2] (NULL when absent). What
 * follows is ignored, as in Firecracker ("/machine-config/x" is
 * "/machine-config"). */
/* A path as long as the request line allows (an id has no length limit). */
struct segments {
	char buf[HTTP_HEAD_MAX + 1];
	const char *seg[3];
};

static bool split_path(const char *url, struct segments *sg)
{
	char *p, *q;

	while (*url == '/')
		url++;
	if (strlen(url) >= sizeof(sg->buf))
		return false;
	snprintf(sg->buf, sizeof(sg->buf), "%s", url);
	sg->seg[0] = sg->buf;
	sg->seg[1] = sg->seg[2] = NULL;
	p = sg->buf;
	for (int i = 1; i < 3; i++) {
		p = strchr(p, '/');
		if (!p)
			return true;
		*p++ = '\0';
		if (!*p) /* "a/": split_terminator drops the empty last segment */
			return true;
		sg->seg[i] = p;
	}
	q = strchr(p, '/');
	if (q)
		*q = '\0';
	return true;
}

static bool is(const char *a, const char *b)
{
	return a && !strcmp(a, b);
}

/* Firecracker's (method, path, body) match: the canonical path of a route of
 * routes[] or of a device kind into path, and the id for "<path>/{id}".
 * Answers *r (and returns false) for what its parser refuses. */
static bool firecracker_route(enum method m, const char *given, const struct segments *sg,
			      char *path, size_t path_size, const char **id, struct api_response *r)
{
	const char *s0 = sg->seg[0], *s1 = sg->seg[1];
	static const char *const with_id[] = { "drives", "network-interfaces", "pmem" };
	size_t i;

	*id = NULL;
	snprintf(path, path_size, "%s", s0);
	for (i = 0; i < sizeof(with_id) / sizeof(with_id[0]); i++)
		if (!strcmp(s0, with_id[i]) && (m == M_PUT || m == M_PATCH || m == M_DELETE)) {
			if (!s1) {
				api_fault(r, 400, EMPTY_ID);
				return false;
			}
			if (!checked_id(s1, r))
				return false;
			*id = s1;
			snprintf(path, path_size, "%s/%s", s0, s1);
			return true;
		}
	if (m == M_DELETE) {
		invalid_path_method(r, m, given, s0);
		return false;
	}
	if (!strcmp(s0, "balloon") && is(s1, "hinting") && (m == M_GET || m == M_PATCH)) {
		const char *s2 = sg->seg[2];
		bool get = m == M_GET;

		if (!s2 || (get ? !is(s2, "status") : !is(s2, "start") && !is(s2, "stop"))) {
			faultf(r, 400, "Unrecognized %s request path `/hinting/%.200s`.",
			       get ? "GET" : "PATCH", s2 ? s2 : "");
			return false;
		}
		snprintf(path, path_size, "balloon/hinting/%s", s2);
		return true;
	}
	if (!strcmp(s0, "balloon")) {
		if (m == M_GET && s1 && strcmp(s1, "statistics")) {
			faultf(r, 400, "Unrecognized GET request path `%.200s`.", s1);
			return false;
		}
		if (m != M_PUT && is(s1, "statistics"))
			snprintf(path, path_size, "balloon/statistics");
		return true;
	}
	if (!strcmp(s0, "vm") && m == M_GET) {
		if (!is(s1, "config")) {
			invalid_path_method(r, m, given, s0);
			return false;
		}
		snprintf(path, path_size, "vm/config");
		return true;
	}
	if (!strcmp(s0, "hotplug")) {
		if (!is(s1, "memory")) {
			invalid_path_method(r, m, given, s0);
			return false;
		}
		snprintf(path, path_size, "hotplug/memory");
		return true;
	}
	/* Firecracker reads no segment after /mmds but PUT's "config". */
	if (!strcmp(s0, "mmds")) {
		if (m == M_PUT && s1 && strcmp(s1, "config")) {
			faultf(r, 400, "Unrecognized PUT request path `%.200s`.", s1);
			return false;
		}
		snprintf(path, path_size, m == M_PUT && s1 ? "mmds/config" : "mmds");
		return true;
	}
	if (!strcmp(s0, "snapshot") && m == M_PUT) {
		if (!s1) {
			api_fault(r, 400, "Missing snapshot operation type.");
			return false;
		}
		if (strcmp(s1, "create") && strcmp(s1, "load")) {
			faultf(r, 400, "Invalid request method and/or path: PUT /snapshot/%.200s.",
			       s1);
			return false;
		}
		snprintf(path, path_size, "snapshot/%s", s1);
		return true;
	}
	return true;
}

/* Firecracker's parser reads a body before its VMM refuses the call (a
 * configuration after boot, a running microVM's request before it): what volt
 * parses without an effect (into a copy) is refused for its body first. */
static bool body_refused(const struct resource *res, enum method m, const char *id, json_t *j,
			 struct api_state *s, struct api_response *r)
{
	char why[512];
	int err;

	scratch = s->cfg;
	if (m == M_PUT && res->kind)
		err = api_put_device(&scratch, res->kind, j, id, why, sizeof(why));
	else if (res->rt == R_BOOT)
		err = api_put_boot_source(&scratch, j, why, sizeof(why));
	else if (res->rt == R_MACHINE)
		err = api_put_machine_config(&scratch, j, m == M_PATCH, why, sizeof(why));
	else if (res->rt == R_SERIAL)
		err = api_put_serial(&scratch, j, why, sizeof(why));
	else if (res->rt == R_CPU_CONFIG)
		err = api_parse_cpu_config(j, &scratch.cpu_config, why, sizeof(why));
	else if (res->rt == R_MMDS_CONFIG)
		err = api_mmds_config_parse(j, &(bool){ false }, why, sizeof(why));
	else if (res->rt == R_PMEM && m == M_PATCH)
		err = api_parse_pmem_update(j, id, why, sizeof(why));
	else if (res->rt == R_HOTPLUG_MEM && m == M_PATCH)
		err = api_parse_memory_hotplug_update(j, &(uint64_t){ 0 }, why, sizeof(why));
	else if (res->rt == R_DRIVE && m == M_PATCH)
		err = api_parse_drive_update(j, id, why, sizeof(why));
	else if (res->rt == R_NET && m == M_PATCH)
		err = api_parse_net_update(j, id, why, sizeof(why));
	else if (res->rt == R_BALLOON && m == M_PATCH)
		err = api_parse_balloon_update(j, &(unsigned int){ 0 }, why, sizeof(why));
	else if (res->rt == R_BALLOON_STATS && m == M_PATCH)
		err = api_parse_balloon_stats_update(j, &(unsigned int){ 0 }, why, sizeof(why));
	else if (res->rt == R_VM)
		err = api_parse_vm_state(j, &(bool){ false }, why, sizeof(why));
	else if (res->rt == R_SNAP_CREATE)
		err = api_parse_snapshot_create(j, &(struct snapshot_create_req){ 0 }, why,
						sizeof(why));
	else
		return false;
	/* Values its VMM would refuse never get there: the call is refused. */
	if (api_err_reached_vmm(err))
		return false;
	if (err)
		api_fault(r, 400, why);
	r->unparsed = err != 0;
	return err != 0;
}

/* The Firecracker type of a request's body (api/fc_bodies.h), which serde
 * reads before anything else; NULL: none here (PUT /cpu-config is read by
 * its own parser, /mmds by none). */
static const struct serde_type *body_type(const struct resource *res, enum method m)
{
	const struct device_kind *k = m == M_PUT ? res->kind : NULL;

	if (k)
		return k == &virtio_blk_kind	   ? &fc_drive
		       : k == &virtio_net_kind	   ? &fc_net
		       : k == &virtio_vsock_kind   ? &fc_vsock
		       : k == &virtio_balloon_kind ? &fc_balloon
		       : k == &virtio_rng_kind	   ? &fc_entropy
		       : k == &virtio_pmem_kind	   ? &fc_pmem
		       : k == &virtio_mem_kind	   ? &fc_memory_hotplug
						   : NULL;
	switch (m == M_PATCH ? res->rt : -1) {
	case R_MACHINE:
		return &fc_machine_config_update;
	case R_DRIVE:
		return &fc_drive_update;
	case R_NET:
		return &fc_net_update;
	case R_PMEM:
		return &fc_pmem_update;
	case R_HOTPLUG_MEM:
		return &fc_memory_hotplug_update;
	case R_BALLOON:
		return &fc_balloon_update;
	case R_BALLOON_STATS:
		return &fc_balloon_stats_update;
	case R_BALLOON_HINT_START:
		return &fc_balloon_hint_start;
	case R_VM:
		return &fc_vm_state;
	default:
		break;
	}
	switch (m == M_PUT ? res->rt : -1) {
	case R_BOOT:
		return &fc_boot_source;
	case R_MACHINE:
		return &fc_machine_config;
	case R_LOGGER:
		return &fc_logger;
	case R_METRICS:
		return &fc_metrics;
	case R_ACTIONS:
		return &fc_action;
	case R_SERIAL:
		return &fc_serial;
	case R_SNAP_CREATE:
		return &fc_snapshot_create;
	case R_SNAP_LOAD:
		return &fc_snapshot_load;
	case R_MMDS_CONFIG:
		return &fc_mmds_config;
	default:
		return NULL;
	}
}

static bool has_value(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	return v && !json_is_null(v);
}

/* The endpoint a request reached (rt -1 and kind NULL: none, as for a path or
 * method the API does not have, which Firecracker counts nowhere either). */
struct routed {
	int rt;
	const struct device_kind *kind;
	enum method m;
};

/* Firecracker's {get,put,patch}_api_requests counters of an endpoint: its
 * count and fails (GET has no fails); NULL where Firecracker counts nothing
 * (GET /vm/config, the balloon, the entropy device, PATCH /vm, snapshots...). */
struct req_counters {
	metric_t *count, *fails;
};

#define GET_COUNTERS(f) ((struct req_counters){ &volt_metrics.get_api_requests.f##_count, NULL })
#define PUT_COUNTERS(f)                                                   \
	((struct req_counters){ &volt_metrics.put_api_requests.f##_count, \
				&volt_metrics.put_api_requests.f##_fails })
#define PATCH_COUNTERS(f)                                                   \
	((struct req_counters){ &volt_metrics.patch_api_requests.f##_count, \
				&volt_metrics.patch_api_requests.f##_fails })
#define BY_METHOD(m, f) \
	((m) == M_GET ? GET_COUNTERS(f) : (m) == M_PUT ? PUT_COUNTERS(f) : PATCH_COUNTERS(f))

static struct req_counters request_counters(const struct routed *q)
{
	const struct req_counters none = { NULL, NULL };

	if (q->m == M_PUT && q->kind)
		return q->kind == &virtio_blk_kind     ? PUT_COUNTERS(drive)
		       : q->kind == &virtio_net_kind   ? PUT_COUNTERS(network)
		       : q->kind == &virtio_vsock_kind ? PUT_COUNTERS(vsock)
		       : q->kind == &virtio_pmem_kind  ? PUT_COUNTERS(pmem)
						       : none;
	switch (q->rt) {
	case R_ROOT:
		return GET_COUNTERS(instance_info);
	case R_VERSION:
		return GET_COUNTERS(vmm_version);
	case R_MACHINE:
		return BY_METHOD(q->m, machine_cfg);
	case R_MMDS:
		return BY_METHOD(q->m, mmds);
	case R_HOTPLUG_MEM:
		return BY_METHOD(q->m, hotplug_memory);
	case R_MMDS_CONFIG:
		return PUT_COUNTERS(mmds);
	case R_ACTIONS:
		return PUT_COUNTERS(actions);
	case R_BOOT:
		return PUT_COUNTERS(boot_source);
	case R_LOGGER:
		return PUT_COUNTERS(logger);
	case R_METRICS:
		return PUT_COUNTERS(metrics);
	case R_CPU_CONFIG:
		return PUT_COUNTERS(cpu_cfg);
	case R_SERIAL:
		return PUT_COUNTERS(serial);
	case R_DRIVE:
		return q->m == M_PATCH ? PATCH_COUNTERS(drive) : none;
	case R_NET:
		return q->m == M_PATCH ? PATCH_COUNTERS(network) : none;
	case R_PMEM:
		return q->m == M_PATCH ? PATCH_COUNTERS(pmem) : none;
	default:
		return none;
	}
}

static void count_request(const struct routed *q, bool failed)
{
	struct req_counters c = request_counters(q);

	if (c.count)
		METRIC_INC(*c.count);
	if (failed && c.fails)
		METRIC_INC(*c.fails);
}

static void handle(struct api_state *s, const char *method, const char *url, const char *body,
		   size_t len, struct api_response *r, struct routed *routed)
{
	char path[HTTP_HEAD_MAX + 32], why[512];
	const char *id = NULL;
	struct segments sg;
	struct resource res;
	enum method m;
	const struct serde_type *bt;
	json_t *j = NULL;
	bool deprecated = false, split_ok, hinting;
	const char *depr_msg = "";

	r->status = 500;
	r->body = NULL;
	r->deprecated = false;
	if (!strcmp(method, "GET"))
		m = M_GET;
	else if (!strcmp(method, "PUT"))
		m = M_PUT;
	else if (!strcmp(method, "PATCH"))
		m = M_PATCH;
	else if (!strcmp(method, "DELETE"))
		m = M_DELETE;
	else
		m = 0;
	if (len > s->max_payload)
		return faultf(r, 400,
			      "Request payload with size %zu is larger than the limit of %zu "
			      "allowed by server.",
			      len, s->max_payload);
	/* Firecracker's parser looks at the method and whether there is a body
	 * before the path: an HTTP body of 0 bytes is no body. Only
	 * PATCH /balloon/hinting/... may have none. */
	split_ok = split_path(url, &sg);
	hinting = split_ok && is(sg.seg[0], "balloon") && is(sg.seg[1], "hinting");
	if (m == M_GET && len)
		return api_fault(r, 400, "GET request cannot have a body.");
	if (m == M_PUT && !len)
		return api_fault(r, 400, "Empty PUT request.");
	if (m == M_PATCH && !len && !hinting)
		return api_fault(r, 400, "Empty PATCH request.");
	if (m == M_DELETE && len)
		return api_fault(r, 400, "Empty Delete request.");
	if (!split_ok)
		return invalid_path_method(r, m, method, "(a path too long)");
	if (!m)
		return invalid_path_method(r, m, method, sg.seg[0]);
	if (!firecracker_route(m, method, &sg, path, sizeof(path), &id, r))
		return;
	if (!resource_find(path, &res) || !(m & res.methods))
		return invalid_path_method(r, m, method, sg.seg[0]);
	*routed = (struct routed){ .rt = res.rt, .kind = res.kind, .m = m };
	if (res.rt == R_MMDS) {
		if (s->failed && m != M_GET)
			return faultf(r, 400, "the microVM failed to start (%s): restart volt",
				      s->fail_reason);
		return do_mmds(s, m, body, len, r);
	}
	/* The hinting stop reads no body; start's is optional. */
	if (m != M_GET && m != M_DELETE && !(hinting && (!len || res.rt == R_BALLOON_HINT_STOP))) {
		j = api_json_parse(body, len, why, sizeof(why));
		if (!j && !strncmp(why, SERDE_PREFIX, strlen(SERDE_PREFIX)))
			return faultf(r, 400, "%s", why);
		if (!j)
			return faultf(r, 400, "%s: %s", res.path[0] ? res.path : "/", why);
		/* Firecracker's serde reads the body into its type first. */
		bt = body_type(&res, m);
		if (bt && serde_check(bt, &j, NULL, why, sizeof(why))) {
			r->unparsed = true;
			faultf(r, 400, "%s", why);
			goto out;
		}
		/* PUT: {} is no rate limiter (PATCH: its handler's semantics);
		 * the serial's rate_limiter is one token bucket, which {} is not. */
		if (m == M_PUT && res.rt != R_SERIAL)
			api_empty_rate_limiters(j);
		/* Firecracker's "Deprecation: true" for a parsed request, whatever
		 * the VMM then answers. */
		if (res.rt == R_MACHINE && has_value(j, "cpu_template")) {
			deprecated = true;
			depr_msg =
				m == M_PUT
					? "PUT /machine-config: cpu_template field is deprecated."
					: "PATCH /machine-config: cpu_template field is "
					  "deprecated.";
		}
		if (res.kind == &virtio_vsock_kind && m == M_PUT && has_value(j, "vsock_id")) {
			deprecated = true;
			depr_msg = "PUT /vsock: vsock_id field is deprecated.";
		}
		if (res.rt == R_MMDS_CONFIG) {
			api_mmds_config_parse(j, &deprecated, why, sizeof(why));
			depr_msg = "PUT /mmds/config: V1 is deprecated. Use V2 instead.";
		}
		/* Firecracker logs what is deprecated, as a warning. */
		if (deprecated)
			pr_warn("%s", depr_msg);
	}
	if (s->started && (m & res.pre_only) && body_refused(&res, m, id, j, s, r))
		; /* Firecracker's parser refuses the body before the VMM refuses the call */
	else if (s->started && (m & res.pre_only))
		api_fault(r, 400, NOT_AFTER_BOOT);
	else if (!s->started && (m & res.post_only) && body_refused(&res, m, id, j, s, r))
		; /* the same before boot for what only a running microVM does */
	else if (!s->started && (m & res.post_only))
		api_fault(r, 400, NOT_BEFORE_BOOT);
	else if (s->failed && m != M_GET)
		faultf(r, 400, "the microVM failed to start (%s): restart volt", s->fail_reason);
	else
		route(s, &res, m, id, j, r);
out:
	json_decref(j);
	json_pos_index(NULL, NULL, 0); /* the body's positions, and the tree they hold, go too */
	/* Firecracker sets the header once ParsedRequest::try_from succeeded. */
	if (deprecated && !r->unparsed)
		r->deprecated = true;
}

void api_handle(struct api_state *s, const char *method, const char *url, const char *body,
		size_t len, struct api_response *r)
{
	struct routed routed = { .rt = -1 };

	handle(s, method, url, body, len, r, &routed);
	count_request(&routed, r->status >= 400);
	/* Firecracker counts each parsed request with a deprecated field (its
	 * Deprecation header). */
	if (r->deprecated)
		METRICS_INC(deprecated_api.deprecated_http_api_calls);
	/* The ids the request made and no configuration kept go (util/id_pool.h):
	 * s->cfg holds every id of the VM's too (copied from it at InstanceStart,
	 * or described from the restored VM). */
	id_pool_sweep_begin();
	api_config_mark_ids(&s->cfg);
	for (int i = 0; i < VM_MAX_NETS; i++)
		id_pool_mark(s->load.iface_ids[i]);
	id_pool_sweep_end();
}
