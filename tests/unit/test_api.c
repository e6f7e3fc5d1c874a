/* The Firecracker-compatible API without a VM: the JSON layer (strictness,
 * ranges, root device, GET /vm/config round trip, Firecracker's example file)
 * and the router (status codes, pre-/post-boot rules, fault messages naming
 * the field) driven through fake VM operations. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/router.h"
#include "util/id_pool.h"
#include "api/vm_config_json.h"
#include "core/metrics.h"
#include "arch/x86/cpuid.h"
#include "devices/device_table.h"
#include "devices/virtio/virtio_blk.h"
#include "util/log.h"

/* --- fake VM operations ------------------------------------------------------- */

static struct {
	int starts, pauses, resumes, cad, flushes;
	bool paused, fail_start, start_undone, metrics_open;
	struct api_metrics metrics; /* what PUT /metrics handed over */
	unsigned int balloon_mib;
	int hint_starts, hint_stops, hint_err; /* hint_err: what the device answers */
	bool hint_ack;
	int rl_updates;
	char rl_id[80], rl_key[32];
	struct rl_config rl;
	int file_updates, file_err; /* file_err: what the drive answers */
	char file_id[80], file_path[80], file_why[80];
} fake;

static int f_drive_file_update(void *ctx, const char *id, const char *path, char *why, size_t n)
{
	(void)ctx;
	snprintf(fake.file_id, sizeof(fake.file_id), "%s", id);
	snprintf(fake.file_path, sizeof(fake.file_path), "%s", path);
	snprintf(why, n, "%s", fake.file_why);
	if (!fake.file_err)
		fake.file_updates++;
	return fake.file_err;
}

static int f_rate_limiter_update(void *ctx, const struct device_kind *k, const char *id,
				 const char *key, const struct rl_config *c)
{
	(void)ctx;
	(void)k;
	fake.rl_updates++;
	snprintf(fake.rl_id, sizeof(fake.rl_id), "%s", id);
	snprintf(fake.rl_key, sizeof(fake.rl_key), "%s", key);
	fake.rl = *c;
	return 0;
}

static int f_start(void *ctx, const struct api_config *cfg, bool *undone, char *why, size_t n)
{
	(void)ctx;
	(void)cfg;
	fake.starts++;
	*undone = fake.start_undone;
	if (fake.fail_start) {
		snprintf(why, n, "cannot open the kernel");
		return -ENOENT;
	}
	return 0;
}
static int f_pause(void *ctx)
{
	(void)ctx;
	fake.pauses++;
	fake.paused = true;
	return 0;
}
static int f_resume(void *ctx)
{
	(void)ctx;
	fake.resumes++;
	fake.paused = false;
	return 0;
}
static bool f_is_paused(void *ctx)
{
	(void)ctx;
	return fake.paused;
}
static int f_cad(void *ctx)
{
	(void)ctx;
	fake.cad++;
	return 0;
}
static int f_balloon_set(void *ctx, unsigned int mib)
{
	(void)ctx;
	fake.balloon_mib = mib;
	return 0;
}
static int f_balloon_stats(void *ctx, struct balloon_stats *s)
{
	(void)ctx;
	memset(s, 0, sizeof(*s));
	s->target_pages = 16384;
	s->actual_pages = 8192;
	s->valid = 1u << VIRTIO_BALLOON_S_MEMFREE | 1u << 10;
	s->val[VIRTIO_BALLOON_S_MEMFREE] = 1234567;
	s->val[10] = 2; /* Linux 6.12's OOM kills */
	return 0;
}
static int f_hint_start(void *ctx, bool ack)
{
	(void)ctx;
	if (fake.hint_err)
		return fake.hint_err;
	fake.hint_starts++;
	fake.hint_ack = ack;
	return 0;
}
static int f_hint_stop(void *ctx)
{
	(void)ctx;
	if (fake.hint_err)
		return fake.hint_err;
	fake.hint_stops++;
	return 0;
}
static int f_hint_status(void *ctx, struct balloon_hint_status *s)
{
	(void)ctx;
	*s = (struct balloon_hint_status){ .host_cmd = 3,
					   .guest_cmd = 0,
					   .guest_cmd_valid = fake.hint_starts > 1 };
	return fake.hint_err;
}
static int f_metrics(void *ctx, const struct api_metrics *m, char *why, size_t n)
{
	(void)ctx;
	(void)why;
	(void)n;
	fake.metrics = *m;
	fake.metrics_open = true;
	return 0;
}
static int f_flush(void *ctx)
{
	(void)ctx;
	if (!fake.metrics_open)
		return -ENOENT;
	fake.flushes++;
	return 0;
}

static const struct api_ops ops = {
	.instance_start = f_start,
	.pause = f_pause,
	.resume = f_resume,
	.is_paused = f_is_paused,
	.ctrl_alt_del = f_cad,
	.balloon_set = f_balloon_set,
	.rate_limiter_update = f_rate_limiter_update,
	.drive_file_update = f_drive_file_update,
	.balloon_stats = f_balloon_stats,
	.balloon_hint_start = f_hint_start,
	.balloon_hint_stop = f_hint_stop,
	.balloon_hint_status = f_hint_status,
	.metrics = f_metrics,
	.flush_metrics = f_flush,
};

static struct api_state st;

static void setup(void)
{
	memset(&fake, 0, sizeof(fake));
	log_set_level(LOG_OFF);
	api_state_init(&st, &ops, NULL, "test-vm");
}

/* One request; returns the status and leaves the parsed body in *out (may be NULL). */
static int req(const char *method, const char *url, const char *body, json_t **out)
{
	struct api_response r;
	json_t *j = NULL;

	api_handle(&st, method, url, body ? body : "", body ? strlen(body) : 0, &r);
	if (r.body) {
		j = json_loads(r.body, 0, NULL);
		cr_assert(j, "the answer is not JSON: %s", r.body);
	} else {
		cr_assert_eq(r.status, 204, "no body with status %d", r.status);
	}
	if (out)
		*out = j;
	else
		json_decref(j);
	free(r.body);
	return r.status;
}

/* Asserts status and that the fault message contains each needle. */
static void fault(const char *method, const char *url, const char *body, int status,
		  const char *needle)
{
	json_t *j;
	const char *msg;
	int s = req(method, url, body, &j);

	cr_assert_eq(s, status, "%s %s %s: status %d, wanted %d", method, url, body ? body : "", s,
		     status);
	msg = json_string_value(json_object_get(j, "fault_message"));
	cr_assert(msg, "%s %s: no fault_message", method, url);
	cr_assert(strstr(msg, needle), "%s %s: fault_message '%s' lacks '%s'", method, url, msg,
		  needle);
	json_decref(j);
}

static void ok(const char *method, const char *url, const char *body)
{
	json_t *j;
	int s = req(method, url, body, &j);

	cr_assert_eq(s, 204, "%s %s %s: status %d (%s)", method, url, body ? body : "", s,
		     j ? json_string_value(json_object_get(j, "fault_message")) : "");
	json_decref(j);
}

#define BOOT  "{\"kernel_image_path\": \"/k/vmlinux\", \"boot_args\": \"console=ttyS0\"}"
#define START "{\"action_type\": \"InstanceStart\"}"

TestSuite(api, .init = setup);

/* --- router: happy paths ---------------------------------------------------------- */

/* The configuration of the API's drive with that id. */
static const struct blk_config *drive_cfg(const struct api_config *c, const char *id)
{
	const struct api_device *d = api_device_find(c, &virtio_blk_kind, id);

	cr_assert(d, "no drive '%s'", id);
	return (const struct blk_config *)(const void *)d->dev.data;
}

/* The index-th drive of a vm_config, in the order the VM plugs them in. */
static const struct blk_config *vm_drive(const struct vm_config *v, int index)
{
	for (int i = 0; i < v->ndevices; i++)
		if (v->devices[i].kind == &virtio_blk_kind && !index--)
			return (const void *)v->devices[i].data;
	cr_assert_fail("no drive %d", index);
	return NULL;
}

Test(api, root_and_version)
{
	json_t *j;

	cr_assert_eq(req("GET", "/", NULL, &j), 200);
	cr_assert_str_eq(json_string_value(json_object_get(j, "id")), "test-vm");
	cr_assert_str_eq(json_string_value(json_object_get(j, "state")), "Not started");
	cr_assert_str_eq(json_string_value(json_object_get(j, "app_name")), "volt");
	cr_assert(json_is_string(json_object_get(j, "vmm_version")));
	json_decref(j);
	cr_assert_eq(req("GET", "/version", NULL, &j), 200);
	cr_assert(json_is_string(json_object_get(j, "firecracker_version")));
	json_decref(j);
}

/* Firecracker's per-endpoint request metrics: a count for each request that
 * reached the endpoint, a fail for each answered 4xx; none for an unknown
 * path or for endpoints Firecracker does not count. */
Test(api, request_metrics_per_endpoint)
{
	struct volt_metrics before = volt_metrics;
#define DELTA(f) (volt_metrics.f - before.f)

	(void)req("GET", "/", NULL, NULL);
	(void)req("GET", "/version", NULL, NULL);
	(void)req("GET", "/machine-config", NULL, NULL);
	ok("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}");
	fault("PUT", "/machine-config", "{\"vcpu_count\": 0, \"mem_size_mib\": 256}", 400,
	      "The number of vCPUs");
	fault("PATCH", "/machine-config", "{\"bogus\": 1}", 400, "bogus");
	ok("PUT", "/boot-source", BOOT);
	fault("PUT", "/drives/rootfs", "{", 400, "");
	fault("PUT", "/nowhere", "{}", 400, "");
	(void)req("GET", "/vm/config", NULL, NULL);
	cr_assert_eq(DELTA(get_api_requests.instance_info_count), 1);
	cr_assert_eq(DELTA(get_api_requests.vmm_version_count), 1);
	cr_assert_eq(DELTA(get_api_requests.machine_cfg_count), 1);
	cr_assert_eq(DELTA(put_api_requests.machine_cfg_count), 2);
	cr_assert_eq(DELTA(put_api_requests.machine_cfg_fails), 1);
	cr_assert_eq(DELTA(patch_api_requests.machine_cfg_count), 1);
	cr_assert_eq(DELTA(patch_api_requests.machine_cfg_fails), 1);
	cr_assert_eq(DELTA(put_api_requests.boot_source_count), 1);
	cr_assert_eq(DELTA(put_api_requests.boot_source_fails), 0);
	cr_assert_eq(DELTA(put_api_requests.drive_count), 1);
	cr_assert_eq(DELTA(put_api_requests.drive_fails), 1);
#undef DELTA
}

Test(api, machine_config_put_patch_get)
{
	json_t *j;

	char vendor[13], body[128];
	bool amd;

	/* Firecracker's templates are for one vendor: T2A for AMD, T2 (C3...)
	 * for Intel; the other vendor's is refused. */
	cpuid_host_vendor(vendor);
	amd = !strcmp(vendor, "AuthenticAMD");
	ok("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}");
	snprintf(body, sizeof(body), "{\"mem_size_mib\": 512, \"cpu_template\": \"%s\"}",
		 amd ? "T2A" : "T2");
	ok("PATCH", "/machine-config", body);
	cr_assert_eq(req("GET", "/machine-config", NULL, &j), 200);
	cr_assert_eq(json_integer_value(json_object_get(j, "vcpu_count")), 2);
	cr_assert_eq(json_integer_value(json_object_get(j, "mem_size_mib")), 512);
	cr_assert_str_eq(json_string_value(json_object_get(j, "cpu_template")), amd ? "T2A" : "T2");
	cr_assert(json_is_false(json_object_get(j, "smt")));
	json_decref(j);
	/* PUT replaces the other fields; without cpu_template it keeps the
	 * template (Firecracker's MachineConfig::update). */
	ok("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}");
	cr_assert_str_eq(st.cfg.cpu_template, amd ? "T2A" : "T2");
	ok("PUT", "/machine-config",
	   "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": \"None\"}");
	cr_assert_str_eq(st.cfg.cpu_template, "None");
	/* Firecracker's GET leaves "None" out (is_none_or_custom_template). */
	cr_assert_eq(req("GET", "/machine-config", NULL, &j), 200);
	cr_assert_null(json_object_get(j, "cpu_template"));
	cr_assert_eq(json_integer_value(json_object_get(j, "vcpu_count")), 1);
	json_decref(j);
}

/* Firecracker's PUT /metrics: emit_id and properties (an object of strings),
 * shown by GET /vm/config; bad ones answered 400 naming the field. */
Test(api, metrics_emit_id_and_properties)
{
	char big[5000];
	json_t *j;

	fault("PUT", "/metrics", "{\"metrics_path\": \"/tmp/m\", \"emit_id\": 1}", 400,
	      SERDE_PREFIX "invalid type: integer `1`, expected a boolean at line 1 column 39.");
	fault("PUT", "/metrics", "{\"metrics_path\": \"/tmp/m\", \"properties\": [\"a\"]}", 400,
	      "invalid type: sequence, expected a map at line 1 column ");
	fault("PUT", "/metrics",
	      "{\"metrics_path\": \"/tmp/m\", \"properties\": {\"team\": \"a\", \"n\": 2}}", 400,
	      "invalid type: integer `2`, expected a string at line 1 column ");
	snprintf(big, sizeof(big),
		 "{\"metrics_path\": \"/tmp/m\", \"properties\": {\"k\": \"%4200d\"}}", 1);
	fault("PUT", "/metrics", big, 400, "metrics: properties: longer than 4095 bytes as JSON");
	/* MetricsConfig is not deny_unknown_fields: other keys are ignored; its
	 * emit_id is a serde default, not an Option: null is a wrong type. */
	fault("PUT", "/metrics", "{\"metrics_path\": \"/tmp/m\", \"emit_id\": null}", 400,
	      "invalid type: null, expected a boolean at line 1 column 42.");
	cr_assert(!fake.metrics_open, "nothing opened for a refused body");
	ok("PUT", "/metrics",
	   "{\"metrics_path\": \"/tmp/m\", \"labels\": {}, \"emit_id\": true, "
	   "\"properties\": {\"z\": \"last\", \"customer_id\": \"1234\"}}");
	cr_assert_str_eq(fake.metrics.path, "/tmp/m");
	cr_assert(fake.metrics.emit_id);
	/* keys sorted, as Firecracker's BTreeMap */
	cr_assert_str_eq(fake.metrics.properties, "{\"customer_id\":\"1234\",\"z\":\"last\"}");
	/* Firecracker's GET /vm/config shows no metrics (nor logger) configuration. */
	cr_assert_eq(req("GET", "/vm/config", NULL, &j), 200);
	cr_assert(json_is_null(json_object_get(j, "metrics")));
	cr_assert(json_is_null(json_object_get(j, "logger")));
	json_decref(j);
}

Test(api, lifecycle_with_fake_vm)
{
	json_t *j;

	ok("PUT", "/boot-source", BOOT);
	ok("PUT", "/drives/rootfs",
	   "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r.ext4\", \"is_root_device\": true, "
	   "\"is_read_only\": false}");
	ok("PUT", "/balloon",
	   "{\"amount_mib\": 16, \"deflate_on_oom\": true, \"stats_polling_interval_s\": 1}");
	ok("PUT", "/entropy", "{}");
	ok("PUT", "/metrics", "{\"metrics_path\": \"/tmp/m\"}");
	ok("PUT", "/actions", START);
	cr_assert_eq(fake.starts, 1);
	cr_assert_eq(req("GET", "/", NULL, &j), 200);
	cr_assert_str_eq(json_string_value(json_object_get(j, "state")), "Running");
	json_decref(j);
	ok("PATCH", "/vm", "{\"state\": \"Paused\"}");
	cr_assert_eq(req("GET", "/", NULL, &j), 200);
	cr_assert_str_eq(json_string_value(json_object_get(j, "state")), "Paused");
	json_decref(j);
	ok("PATCH", "/vm", "{\"state\": \"Resumed\"}");
	cr_assert_eq(fake.pauses, 1);
	cr_assert_eq(fake.resumes, 1);
	ok("PATCH", "/balloon", "{\"amount_mib\": 32}");
	cr_assert_eq(fake.balloon_mib, 32);
	cr_assert_eq(req("GET", "/balloon", NULL, &j), 200);
	cr_assert_eq(json_integer_value(json_object_get(j, "amount_mib")), 32);
	json_decref(j);
	cr_assert_eq(req("GET", "/balloon/statistics", NULL, &j), 200);
	cr_assert_eq(json_integer_value(json_object_get(j, "target_mib")), 64);
	cr_assert_eq(json_integer_value(json_object_get(j, "actual_pages")), 8192);
	cr_assert_eq(json_integer_value(json_object_get(j, "free_memory")), 1234567);
	cr_assert_eq(json_integer_value(json_object_get(j, "oom_kill")), 2);
	cr_assert_null(json_object_get(j, "swap_in"));
	json_decref(j);
	ok("PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 1}");
	ok("PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}");
	cr_assert_eq(fake.flushes, 1);
	ok("PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}");
	cr_assert_eq(fake.cad, 1);
	/* PATCH of a drive with neither a new file nor a rate limiter: refused,
	 * as Firecracker refuses it to a virtio-block; a rate limiter is none. */
	fault("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\"}", 400,
	      "Drive config error: Unable to patch the block device: Block: Running method "
	      "expected different backend. Please verify the request arguments.");
	ok("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"rate_limiter\": {}}");
}

/* Firecracker's /balloon/hinting calls: after boot only, body optional for
 * start (acknowledge_on_stop defaults to true) and ignored for stop. */
Test(api, balloon_hinting_calls)
{
	static const struct {
		const char *method, *url, *body, *msg;
	} bad[] = {
		{ "GET", "/balloon/hinting", NULL, "Unrecognized GET request path `/hinting/`." },
		{ "GET", "/balloon/hinting/", NULL, "Unrecognized GET request path `/hinting/`." },
		{ "GET", "/balloon/hinting/start", NULL,
		  "Unrecognized GET request path `/hinting/start`." },
		{ "PATCH", "/balloon/hinting", NULL,
		  "Unrecognized PATCH request path `/hinting/`." },
		{ "PATCH", "/balloon/hinting/status", "{}",
		  "Unrecognized PATCH request path `/hinting/status`." },
		{ "PATCH", "/balloon/hinting/start", "{\"acknowledge_on_stop\": 1}",
		  "invalid type: integer `1`, expected a boolean" },
		/* serde_derive's sequence form: the fields' values in order */
		{ "PATCH", "/balloon/hinting/start", "[1]",
		  "invalid type: integer `1`, expected a boolean at line 1 column 2." },
		{ "PATCH", "/balloon/hinting/start", "[true, 2]",
		  "trailing characters at line 1 column 8." },
		{ "PATCH", "/balloon/hinting/start", "\"x\"",
		  "invalid type: string \"x\", expected struct StartHintingCmd" },
		{ "PATCH", "/balloon/hinting/start", "{", "balloon/hinting/start: " },
		/* PUT /balloon/... is PUT /balloon, as in Firecracker. */
		{ "PUT", "/balloon/hinting/start", "{}", "amount_mib" },
		{ "PATCH", "/balloon/statistics", NULL, "Empty PATCH request." },
	};
	json_t *j;

	/* Before boot: Firecracker's pre-boot refusal, body or not. */
	fault("PATCH", "/balloon/hinting/start", NULL, 400,
	      "The requested operation is not supported before starting the microVM.");
	fault("PATCH", "/balloon/hinting/stop", "{}", 400, "not supported before starting");
	fault("GET", "/balloon/hinting/status", NULL, 400, "not supported before starting");
	ok("PUT", "/boot-source", BOOT);
	ok("PUT", "/balloon",
	   "{\"amount_mib\": 16, \"deflate_on_oom\": false, \"free_page_hinting\": true}");
	cr_assert_eq(req("GET", "/balloon", NULL, &j), 200);
	cr_assert(json_is_true(json_object_get(j, "free_page_hinting")));
	cr_assert(json_is_false(json_object_get(j, "free_page_reporting")));
	json_decref(j);
	ok("PUT", "/actions", START);

	ok("PATCH", "/balloon/hinting/start", NULL);
	cr_assert(fake.hint_ack, "acknowledge_on_stop defaults to true");
	ok("PATCH", "/balloon/hinting/start", "{\"acknowledge_on_stop\": false, \"x\": 1}");
	cr_assert_not(fake.hint_ack);
	ok("PATCH", "/balloon/hinting/start", "{}");
	cr_assert(fake.hint_ack);
	cr_assert_eq(fake.hint_starts, 3);
	ok("PATCH", "/balloon/hinting/stop", NULL);
	ok("PATCH", "/balloon/hinting/stop", "not json: ignored");
	cr_assert_eq(fake.hint_stops, 2);
	cr_assert_eq(req("GET", "/balloon/hinting/status", NULL, &j), 200);
	cr_assert_eq(json_integer_value(json_object_get(j, "host_cmd")), 3);
	cr_assert_eq(json_integer_value(json_object_get(j, "guest_cmd")), 0);
	json_decref(j);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		fault(bad[i].method, bad[i].url, bad[i].body, 400, bad[i].msg);

	fake.hint_err = -EOPNOTSUPP;
	fault("PATCH", "/balloon/hinting/start", NULL, 400,
	      "Balloon update error: Balloon: Attempting to use hinting when not enabled");
	fault("PATCH", "/balloon/hinting/stop", NULL, 400, "hinting when not enabled");
	fault("GET", "/balloon/hinting/status", NULL, 400, "hinting when not enabled");
	fake.hint_err = -EAGAIN;
	fault("PATCH", "/balloon/hinting/start", NULL, 400,
	      "Balloon update error: Balloon: Device not activated yet.");
	fake.hint_err = 0;
	fake.hint_starts = 0;
	cr_assert_eq(req("GET", "/balloon/hinting/status", NULL, &j), 200);
	cr_assert(json_is_null(json_object_get(j, "guest_cmd")), "no command from the guest yet");
	json_decref(j);
}

Test(api, balloon_hinting_without_a_balloon)
{
	ok("PUT", "/boot-source", BOOT);
	ok("PUT", "/actions", START);
	fault("PATCH", "/balloon/hinting/start", NULL, 400,
	      "Balloon update error: Failed perform action on device: Device not found");
	fault("PATCH", "/balloon/hinting/stop", NULL, 400, "Device not found");
	fault("GET", "/balloon/hinting/status", NULL, 400, "Device not found");
}

/* --- router: every error class ------------------------------------------------------ */

/* Firecracker answers 400 to an unknown path too, naming its first segment. */
Test(api, unknown_path_or_wrong_method_is_400)
{
	fault("GET", "/nope", NULL, 400, "Invalid request method and/or path: GET nope.");
	fault("GET", "/drivesx/a", NULL, 400, "Invalid request method and/or path: GET drivesx.");
	fault("PUT", "/snapshot/nope", "{}", 400,
	      "Invalid request method and/or path: PUT /snapshot/nope.");
	fault("DELETE", "/machine-config", NULL, 400,
	      "Invalid request method and/or path: DELETE machine-config.");
	fault("GET", "/boot-source", NULL, 400,
	      "Invalid request method and/or path: GET boot-source.");
	fault("PUT", "/vm", "{}", 400, "Invalid request method and/or path: PUT vm.");
	fault("POST", "/actions", START, 400, "Invalid request method and/or path: POST actions.");
}

Test(api, bad_json_and_wrong_shapes)
{
	fault("PUT", "/boot-source", "{\"kernel_image_path\": ", 400, "invalid JSON");
	fault("PUT", "/boot-source", "", 400, "Empty PUT request.");
	/* a struct's sequence form (serde_derive's), its first field a string */
	fault("PUT", "/boot-source", "[1, 2]", 400,
	      "invalid type: integer `1`, expected a string at line 1 column 2.");
	fault("PUT", "/boot-source",
	      "{\"kernel_image_path\": \"/k\", \"kernel_image_path\": \"/j\"}", 400,
	      "kernel_image_path");
}

Test(api, unknown_fields_named)
{
	fault("PUT", "/boot-source", "{\"kernel_image_path\": \"/k\", \"bogus\": 1}", 400,
	      "unknown field `bogus`");
	fault("PUT", "/machine-config",
	      "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"ht_enabled\": false}", 400,
	      "ht_enabled");
	fault("PUT", "/actions", "{\"action_type\": \"InstanceStart\", \"payload\": 1}", 400,
	      "unknown field `payload`");
}

Test(api, wrong_types_named)
{
	fault("PUT", "/machine-config", "{\"vcpu_count\": \"2\", \"mem_size_mib\": 128}", 400,
	      "invalid type: string \"2\", expected u8 at line 1 column 18.");
	fault("PUT", "/machine-config", "{\"vcpu_count\": 1.5, \"mem_size_mib\": 128}", 400,
	      "invalid type: floating point `1.5`, expected u8 at line 1 column 18.");
	fault("PUT", "/boot-source", "{\"kernel_image_path\": 7}", 400,
	      "invalid type: integer `7`, expected a string at line 1 column 23.");
	fault("PUT", "/drives/d",
	      "{\"drive_id\": \"d\", \"path_on_host\": \"/x\", \"is_root_device\": 1}", 400,
	      "invalid type: integer `1`, expected a boolean at line 1 column ");
	fault("PATCH", "/machine-config", "{\"smt\": null, \"track_dirty_pages\": \"no\"}", 400,
	      "invalid type: string \"no\", expected a boolean at line 1 column ");
}

Test(api, missing_required_named)
{
	/* serde's text and position, as Firecracker answers a missing field. */
	fault("PUT", "/boot-source", "{\"boot_args\": \"x\"}", 400,
	      SERDE_PREFIX "missing field `kernel_image_path` at line 1 column 18.");
	fault("PUT", "/machine-config", "{\"vcpu_count\": 1}", 400,
	      "missing field `mem_size_mib` at line 1 column 17.");
	fault("PUT", "/drives/d", "{\"drive_id\": \"d\", \"path_on_host\": \"/x\"}", 400,
	      "missing field `is_root_device` at line 1 column 39.");
	fault("PUT", "/vsock", "{\"guest_cid\": 3}", 400,
	      "missing field `uds_path` at line 1 column 16.");
	fault("PUT", "/actions", "{}", 400, "missing field `action_type` at line 1 column 2.");
}

Test(api, out_of_range_named)
{
	char vendor[13], body[64];
	bool amd;

	fault("PUT", "/machine-config", "{\"vcpu_count\": 0, \"mem_size_mib\": 128}", 400,
	      "Machine config error: The number of vCPUs must be greater than 0, less than 32 "
	      "and must be 1 or an even number if SMT is enabled.");
	fault("PUT", "/machine-config", "{\"vcpu_count\": 33, \"mem_size_mib\": 128}", 400,
	      "The number of vCPUs");
	fault("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": -1}", 400,
	      "invalid value: integer `-1`, expected usize at line 1 column 36.");
	/* volt's least memory is 2 MiB (arch/x86/layout.h); Firecracker takes 1. */
	fault("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 1}", 400,
	      "machine-config: mem_size_mib: 1 is out of range (2 to 65536)");
	fault("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 0}", 400,
	      "Machine config error: The memory size (MiB) is either 0, or not a multiple of the "
	      "configured page size.");
	ok("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 2}");
	ok("PATCH", "/machine-config", "{\"mem_size_mib\": 64}");
	fault("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 9999999999}", 400,
	      "mem_size_mib");
	fault("PUT", "/vsock", "{\"guest_cid\": 2, \"uds_path\": \"/v\"}", 400, "guest_cid");
	/* Firecracker's rule: with SMT the vCPUs are 1 or even. */
	fault("PUT", "/machine-config", "{\"vcpu_count\": 3, \"mem_size_mib\": 64, \"smt\": true}",
	      400, "must be 1 or an even number if SMT is enabled");
	ok("PATCH", "/machine-config", "{\"smt\": true}");
	fault("PATCH", "/machine-config", "{\"vcpu_count\": 5}", 400, "if SMT is enabled");
	ok("PATCH", "/machine-config", "{\"smt\": false}");
	ok("PATCH", "/machine-config", "{\"track_dirty_pages\": true}");
	ok("PATCH", "/machine-config", "{\"track_dirty_pages\": false}");
	/* hugetlbfs: RAM of whole 2 MiB pages (Firecracker's rule and words). */
	ok("PATCH", "/machine-config", "{\"huge_pages\": \"2M\"}");
	fault("PATCH", "/machine-config", "{\"mem_size_mib\": 65}", 400,
	      "The memory size (MiB) is either 0, or not a multiple of the configured page size.");
	ok("PATCH", "/machine-config", "{\"huge_pages\": \"None\"}");
	ok("PATCH", "/machine-config", "{\"mem_size_mib\": 65}");
	fault("PATCH", "/machine-config", "{\"huge_pages\": \"2M\"}", 400,
	      "The memory size (MiB) is either 0, or not a multiple of the configured page size.");
	ok("PATCH", "/machine-config", "{\"mem_size_mib\": 64}");
	cpuid_host_vendor(vendor);
	amd = !strcmp(vendor, "AuthenticAMD");
	snprintf(body, sizeof(body), "{\"cpu_template\": \"%s\"}", amd ? "C3" : "T2A");
	/* Taken here; InstanceStart refuses it (vm_create), as Firecracker. */
	ok("PATCH", "/machine-config", body);
	ok("PATCH", "/machine-config", "{\"cpu_template\": \"None\"}");
	fault("PATCH", "/machine-config", "{\"cpu_template\": \"Z9\"}", 400,
	      "unknown variant `Z9`, expected one of `C3`, `T2`, `T2S`, `None`, `T2CL`, `T2A` at "
	      "line 1 column 21.");
	fault("PUT", "/network-interfaces/eth0",
	      "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"zz:00\"}",
	      400, "The provided MAC address is invalid. at line 1 column 67.");
	fault("PUT", "/drives/d",
	      "{\"drive_id\": \"d\", \"path_on_host\": \"/x\", \"is_root_device\": false, "
	      "\"io_engine\": \"Fast\"}",
	      400, "unknown variant `Fast`, expected `Async` or `Sync` at line 1 column 84.");
	/* LevelFilter's own Deserialize: its error where the object's end left serde */
	fault("PUT", "/logger", "{\"level\": \"Loud\"}", 400,
	      "Invalid LevelFilter at line 1 column 17.");
	fault("PUT", "/actions", "{\"action_type\": \"Reboot\"}", 400,
	      "unknown variant `Reboot`, expected one of `FlushMetrics`, `InstanceStart`, "
	      "`SendCtrlAltDel` at line 1 column 24.");
	/* Firecracker's parser refuses the state before its VMM refuses the call. */
	fault("PATCH", "/vm", "{\"state\": \"Stopped\"}", 400,
	      "unknown variant `Stopped`, expected `Paused` or `Resumed` at line 1 column 19.");
	fault("PATCH", "/vm", "{\"state\": \"Paused\"}", 400, "before starting");
}

Test(api, rate_limiters_checked)
{
	ok("PUT", "/drives/d",
	   "{\"drive_id\": \"d\", \"path_on_host\": \"/x\", \"is_root_device\": false, "
	   "\"rate_limiter\": {\"bandwidth\": {\"size\": 1, \"refill_time\": 100}}}");
	fault("PUT", "/drives/d",
	      "{\"drive_id\": \"d\", \"path_on_host\": \"/x\", \"is_root_device\": false, "
	      "\"rate_limiter\": {\"bandwidth\": {\"size\": 1}}}",
	      400, "missing field `refill_time` at line 1 column ");
	fault("PUT", "/drives/d",
	      "{\"drive_id\": \"d\", \"path_on_host\": \"/x\", \"is_root_device\": false, "
	      "\"rate_limiter\": {\"bw\": {}}}",
	      400, "unknown field `bw`, expected `bandwidth` or `ops` at line 1 column ");
	ok("PUT", "/drives/d",
	   "{\"drive_id\": \"d\", \"path_on_host\": \"/x\", \"is_root_device\": false, "
	   "\"rate_limiter\": {}}");
	fault("PUT", "/entropy", "{\"rate_limiter\": {\"ops\": {\"size\": 1}}}", 400,
	      "missing field `refill_time` at line 1 column 36.");
	ok("PUT", "/entropy", "{\"rate_limiter\": {}}");
	ok("PUT", "/entropy", "{\"rate_limiter\": {\"bandwidth\": null, \"ops\": null}}");
	ok("PUT", "/entropy", "{\"rate_limiter\": null}");
}

/* PATCH after boot: the stored configuration (GET /vm/config) and the
 * running device (api_ops) take the buckets the PATCH gives. */
Test(api, rate_limiters_patched)
{
	json_t *got;
	char *s;

	ok("PUT", "/boot-source", BOOT);
	ok("PUT", "/drives/d",
	   "{\"drive_id\": \"d\", \"path_on_host\": \"/x\", \"is_root_device\": true, "
	   "\"rate_limiter\": {\"ops\": {\"size\": 10, \"refill_time\": 100}}}");
	ok("PUT", "/network-interfaces/eth0",
	   "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}");
	ok("PUT", "/actions", START);
	ok("PATCH", "/drives/d",
	   "{\"drive_id\": \"d\", \"rate_limiter\": {\"bandwidth\": {\"size\": 1000, "
	   "\"one_time_burst\": 5, \"refill_time\": 10}}}");
	cr_assert_eq(fake.rl_updates, 1);
	cr_assert_str_eq(fake.rl_id, "d");
	cr_assert_str_eq(fake.rl_key, "rate_limiter");
	cr_assert(fake.rl.given_bw && !fake.rl.given_ops);
	cr_assert_eq(fake.rl.bandwidth.size, 1000);
	cr_assert_eq(drive_cfg(&st.cfg, "d")->rate_limiter.ops.size, 10, "ops kept");
	cr_assert_eq(drive_cfg(&st.cfg, "d")->rate_limiter.bandwidth.one_time_burst, 5);
	ok("PATCH", "/network-interfaces/eth0",
	   "{\"iface_id\": \"eth0\", \"tx_rate_limiter\": {\"ops\": {\"size\": 7, "
	   "\"refill_time\": 70}}, \"rx_rate_limiter\": null}");
	cr_assert_eq(fake.rl_updates, 2);
	cr_assert_str_eq(fake.rl_key, "tx_rate_limiter");
	cr_assert_eq(req("GET", "/vm/config", NULL, &got), 200);
	s = json_dumps(
		json_object_get(json_array_get(json_object_get(got, "drives"), 0), "rate_limiter"),
		JSON_SORT_KEYS | JSON_COMPACT);
	cr_assert_str_eq(s, "{\"bandwidth\":{\"one_time_burst\":5,\"refill_time\":10,\"size\":"
			    "1000},\"ops\":{\"one_time_burst\":null,\"refill_time\":100,\"size\":"
			    "10}}");
	free(s);
	s = json_dumps(json_array_get(json_object_get(got, "network-interfaces"), 0),
		       JSON_SORT_KEYS | JSON_COMPACT);
	cr_assert(strstr(s, "\"rx_rate_limiter\":null"), "%s", s);
	cr_assert(strstr(s, "\"tx_rate_limiter\":{\"bandwidth\":null,\"ops\":{"), "%s", s);
	free(s);
	json_decref(got);
	/* A bucket of size 0 removes it. */
	ok("PATCH", "/drives/d",
	   "{\"drive_id\": \"d\", \"rate_limiter\": {\"bandwidth\": {\"size\": 0, "
	   "\"refill_time\": 0}, \"ops\": {\"size\": 0, \"refill_time\": 0}}}");
	cr_assert_eq(fake.rl_updates, 3);
	cr_assert_not(rl_config_enabled(&drive_cfg(&st.cfg, "d")->rate_limiter));
}

Test(api, ids_checked)
{
	fault("PUT", "/drives/bad-id", "{}", 400,
	      "API Resource IDs can only contain alphanumeric characters and underscores.");
	fault("PUT", "/drives/", "{}", 400, "The ID cannot be empty.");
	fault("PUT", "/drives", "{}", 400, "The ID cannot be empty.");
	fault("PUT", "/drives/abc",
	      "{\"drive_id\": \"xyz\", \"path_on_host\": \"/x\", \"is_root_device\": false}", 400,
	      "The id from the path does not match the id from the body!");
	fault("PUT", "/network-interfaces/abc", "{\"iface_id\": \"xyz\", \"host_dev_name\": \"t\"}",
	      400, "The id from the path [abc] does not match the id from the body [xyz]!");
	fault("PUT", "/network-interfaces/a.b", "{}", 400, "API Resource IDs can only contain");
	cr_assert(api_instance_id_valid("my-vm-1"));
	cr_assert_not(api_instance_id_valid("my_vm"));
	cr_assert_not(api_instance_id_valid(""));
}

Test(api, payload_limit)
{
	size_t n = API_MAX_PAYLOAD + 1;
	char *big = malloc(n + 1);
	struct api_response r;

	memset(big, ' ', n);
	big[n] = '\0';
	big[0] = '{';
	big[n - 1] = '}';
	api_handle(&st, "PUT", "/boot-source", big, n, &r);
	cr_assert_eq(r.status, 400);
	cr_assert(strstr(r.body, "larger than the limit of 51200"), "%s", r.body);
	free(r.body);
	/* --http-api-max-payload-size: a body past the default is read. */
	st.max_payload = n;
	api_handle(&st, "PUT", "/boot-source", big, n, &r);
	cr_assert_eq(r.status, 400);
	cr_assert(strstr(r.body, "missing field `kernel_image_path`"), "read: %s", r.body);
	free(r.body);
	st.max_payload = n - 1;
	api_handle(&st, "PUT", "/boot-source", big, n, &r);
	cr_assert(strstr(r.body, "size 51201 is larger than the limit of 51200 allowed"), "%s",
		  r.body);
	free(r.body);
	free(big);
}

/* Firecracker's deprecated_api.deprecated_http_api_calls: one per request
 * answered with the Deprecation header, whatever its status. */
Test(api, deprecated_calls_counted)
{
	uint64_t n0 = volt_metrics.deprecated_api.deprecated_http_api_calls;

	ok("PUT", "/machine-config",
	   "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": \"None\"}");
	cr_assert_eq(volt_metrics.deprecated_api.deprecated_http_api_calls, n0 + 1);
	ok("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}");
	cr_assert_eq(volt_metrics.deprecated_api.deprecated_http_api_calls, n0 + 1);
	ok("PUT", "/vsock",
	   "{\"vsock_id\": \"v\", \"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\"}");
	ok("PUT", "/network-interfaces/e", "{\"iface_id\": \"e\", \"host_dev_name\": \"t\"}");
	ok("PUT", "/mmds/config", "{\"version\": \"V1\", \"network_interfaces\": [\"e\"]}");
	cr_assert_eq(volt_metrics.deprecated_api.deprecated_http_api_calls, n0 + 3);
}

/* Ids of any length (Firecracker's checked_id): path and body, compared whole,
 * shown in GET /vm/config; the request's own ids do not outlive it. 8000: as
 * long as a request line (HTTP_HEAD_MAX) lets a path id be. */
Test(api, long_ids)
{
	static char body[30000], path[30000];
	struct api_response r;
	size_t pooled;
	char *id = malloc(8001);

	memset(id, 'i', 8000);
	id[8000] = '\0';
	snprintf(path, sizeof(path), "/drives/%s", id);
	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"%s\", \"path_on_host\": \"/x\", \"is_root_device\": false}", id);
	ok("PUT", path, body);
	pooled = id_pool_count();
	id[7999] = 'j';
	snprintf(path, sizeof(path), "/network-interfaces/%s", id);
	snprintf(body, sizeof(body), "{\"iface_id\": \"%s\", \"host_dev_name\": \"t\"}", id);
	ok("PUT", path, body);
	cr_assert_eq(id_pool_count(), pooled + 1);
	/* A refused request's id is swept. */
	snprintf(path, sizeof(path), "/network-interfaces/%sk", id);
	snprintf(body, sizeof(body), "{\"iface_id\": \"%sk\", \"host_dev_name\": 7}", id);
	api_handle(&st, "PUT", path, body, strlen(body), &r);
	cr_assert_eq(r.status, 400);
	free(r.body);
	cr_assert_eq(id_pool_count(), pooled + 1);
	api_handle(&st, "GET", "/vm/config", NULL, 0, &r);
	cr_assert_eq(r.status, 200);
	cr_assert(strstr(r.body, id), "the iface_id whole");
	id[7999] = 'i';
	cr_assert(strstr(r.body, id), "the drive_id whole");
	free(r.body);
	free(id);
}

Test(api, pre_boot_only_after_boot)
{
	ok("PUT", "/boot-source", BOOT);
	ok("PUT", "/actions", START);
	fault("PUT", "/boot-source", BOOT, 400, "not supported after starting");
	fault("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}", 400,
	      "not supported after starting");
	fault("PUT", "/drives/x", "{}", 400, "missing field `drive_id` at line 1 column 2.");
	fault("PUT", "/drives/x",
	      "{\"drive_id\": \"x\", \"path_on_host\": \"/x\", \"is_root_device\": false}", 400,
	      "PCI is not enabled");
	/* The body is read first, as Firecracker's parser reads it. */
	fault("PUT", "/vsock", "{}", 400, "missing field `guest_cid`");
	fault("PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/v\"}", 400, "after starting");
	fault("PUT", "/balloon", "{}", 400, "missing field `amount_mib`");
	fault("PUT", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": false}", 400,
	      "after starting");
	fault("PUT", "/boot-source", "{}", 400, "missing field `kernel_image_path`");
	/* Values Firecracker's VMM would refuse never get there. */
	fault("PATCH", "/machine-config", "{\"vcpu_count\": 99}", 400, "after starting");
	fault("PATCH", "/machine-config", "{\"vcpu_count\": \"2\"}", 400,
	      "invalid type: string \"2\", expected u8 at line 1 column 18.");
	{
		/* A command line too long: Firecracker's VMM's check, never reached. */
		char body[2200];

		snprintf(body, sizeof(body),
			 "{\"kernel_image_path\": \"/k\", \"boot_args\": \"%2100s\"}", "x");
		fault("PUT", "/boot-source", body, 400, "after starting");
	}
	fault("PUT", "/logger", "{}", 400, "after starting");
	fault("PUT", "/actions", START, 400, "after starting");
	cr_assert_eq(fake.starts, 1);
}

Test(api, post_boot_only_before_boot)
{
	fault("PATCH", "/vm", "{\"state\": \"Paused\"}", 400, "not supported before starting");
	fault("PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", 400, "before starting");
	fault("PATCH", "/balloon", "{\"amount_mib\": 1}", 400, "before starting");
	fault("GET", "/balloon/statistics", NULL, 400, "before starting");
	fault("PATCH", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\"}", 400,
	      "before starting");
	cr_assert_eq(fake.pauses, 0);
}

/* Firecracker's update_disk_image: the running drive opens the file first;
 * only then does the configuration (and a rate limiter sent with it) change. */
Test(api, drive_takes_a_new_file_after_boot)
{
	json_t *j;

	ok("PUT", "/boot-source", BOOT);
	ok("PUT", "/drives/rootfs",
	   "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r\", \"is_root_device\": true}");
	ok("PUT", "/actions", START);
	fake.file_err = -ENOENT;
	snprintf(fake.file_why, sizeof(fake.file_why), "%s", strerror(ENOENT));
	fault("PATCH", "/drives/rootfs",
	      "{\"drive_id\": \"rootfs\", \"path_on_host\": \"foo.bar\", \"rate_limiter\": "
	      "{\"ops\": {\"size\": 5, \"refill_time\": 100}}}",
	      400,
	      "Drive config error: Unable to patch the block device: Block: Virtio backend "
	      "error: Error manipulating the backing file: No such file or directory (os error "
	      "2) foo.bar Please verify the request arguments.");
	cr_assert_str_eq(fake.file_id, "rootfs");
	cr_assert_str_eq(fake.file_path, "foo.bar");
	cr_assert_eq(fake.rl_updates, 0, "the rate limiter of a failed PATCH went to the drive");
	/* volt's reason, when it has more to say than the error's name. */
	fake.file_err = -EACCES;
	snprintf(fake.file_why, sizeof(fake.file_why), "the sandbox");
	fault("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/x\"}",
	      400,
	      "Error manipulating the backing file: Permission denied (os error 13) /x (the "
	      "sandbox) Please verify the request arguments.");
	cr_assert_eq(req("GET", "/vm/config", NULL, &j), 200);
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(j, "drives"), 0), "path_on_host")),
			 "/r");
	cr_assert(json_is_null(
		json_object_get(json_array_get(json_object_get(j, "drives"), 0), "rate_limiter")));
	json_decref(j);
	fake.file_err = 0;
	ok("PATCH", "/drives/rootfs",
	   "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r2\", \"rate_limiter\": "
	   "{\"ops\": {\"size\": 5, \"refill_time\": 100}}}");
	cr_assert_eq(fake.file_updates, 1);
	cr_assert_eq(fake.rl_updates, 1);
	/* The same path again is opened again: its content may be new. */
	ok("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r2\"}");
	cr_assert_eq(fake.file_updates, 2);
	cr_assert_eq(req("GET", "/vm/config", NULL, &j), 200);
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(j, "drives"), 0), "path_on_host")),
			 "/r2");
	json_decref(j);
}

Test(api, post_boot_refusals_named)
{
	ok("PUT", "/boot-source", BOOT);
	ok("PUT", "/drives/rootfs",
	   "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r\", \"is_root_device\": true}");
	fault("PATCH", "/drives/rootfs", "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r2\"}",
	      400, "not supported before starting the microVM");
	ok("PUT", "/network-interfaces/eth0",
	   "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}");
	ok("PUT", "/actions", START);
	fault("PATCH", "/network-interfaces/eth0",
	      "{\"iface_id\": \"eth0\", \"rx_rate_limiter\": {\"ops\": {}}}", 400,
	      "missing field `size` at line 1 column 50.");
	ok("PATCH", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\"}");
	cr_assert_eq(fake.rl_updates, 0);
	/* Firecracker's answers without a balloon device. */
	fault("GET", "/balloon/statistics", NULL, 400,
	      "Internal VMM error: Failed perform action on device: Device not found");
	fault("GET", "/balloon", NULL, 400,
	      "Internal VMM error: Failed perform action on device: Device not found");
	fault("PATCH", "/balloon", "{\"amount_mib\": 1}", 400,
	      "Balloon update error: Failed perform action on device: Device not found");
	fault("PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 1}", 400,
	      "Balloon update error: Failed perform action on device: Device not found");
	/* Without PUT /metrics: Firecracker's 204, nothing written. */
	ok("PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}");
}

Test(api, failed_start_refuses_more_configuration)
{
	json_t *j;

	fault("PUT", "/actions", START, 400,
	      "Start microvm error: Cannot start microvm without kernel configuration.");
	cr_assert_eq(fake.starts, 0, "nothing is tried without a kernel");
	ok("PUT", "/boot-source", BOOT);
	fake.fail_start = true;
	fault("PUT", "/actions", START, 400, "cannot open the kernel");
	fault("PUT", "/boot-source", BOOT, 400, "failed to start");
	cr_assert_eq(req("GET", "/", NULL, &j), 200);
	cr_assert_str_eq(json_string_value(json_object_get(j, "state")), "Not started");
	json_decref(j);
}

/* A start that failed before anything stayed (the VM could not be created:
 * no thread, no sandbox) leaves the configuration open, as Firecracker's
 * does: fixed, the start is sent again. */
Test(api, start_that_left_nothing_behind_can_be_sent_again)
{
	json_t *j;

	ok("PUT", "/boot-source", BOOT);
	fake.fail_start = fake.start_undone = true;
	fault("PUT", "/actions", START, 400, "cannot start the microVM: cannot open the kernel");
	ok("PUT", "/boot-source", BOOT);
	ok("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}");
	fake.fail_start = false;
	ok("PUT", "/actions", START);
	cr_assert_eq(fake.starts, 2);
	cr_assert_eq(req("GET", "/", NULL, &j), 200);
	cr_assert_str_eq(json_string_value(json_object_get(j, "state")), "Running");
	json_decref(j);
}

/* --- JSON layer ------------------------------------------------------------------------ */

Test(api, root_device_first_and_on_the_command_line)
{
	struct vm_config v = { 0 };
	char cmdline[API_CMDLINE_MAX + 256], why[256];

	ok("PUT", "/boot-source", BOOT);
	ok("PUT", "/drives/data",
	   "{\"drive_id\": \"data\", \"path_on_host\": \"/d\", "
	   "\"is_root_device\": false, \"cache_type\": \"Writeback\"}");
	ok("PUT", "/drives/root",
	   "{\"drive_id\": \"root\", \"path_on_host\": \"/r\", "
	   "\"is_root_device\": true, \"is_read_only\": true, "
	   "\"io_engine\": \"Async\"}");
	fault("PUT", "/drives/root2",
	      "{\"drive_id\": \"root2\", \"path_on_host\": \"/r\", \"is_root_device\": true}", 400,
	      "Drive config error: A root block device already exists! (drive 'root')");
	cr_assert_eq(api_config_to_vm(&st.cfg, &v, cmdline, sizeof(cmdline), why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_eq(device_list_count(v.devices, v.ndevices, &virtio_blk_kind), 2);
	cr_assert_str_eq(vm_drive(&v, 0)->path, "/r");
	cr_assert(vm_drive(&v, 0)->read_only);
	cr_assert_eq(vm_drive(&v, 0)->engine, BLK_ENGINE_IO_URING);
	cr_assert_eq(vm_drive(&v, 0)->cache, BLK_CACHE_UNSAFE);
	cr_assert_str_eq(vm_drive(&v, 1)->path, "/d");
	cr_assert_eq(vm_drive(&v, 1)->cache, BLK_CACHE_WRITEBACK);
	cr_assert_str_eq(v.cmdline, "console=ttyS0 root=/dev/vda ro");
	ok("PUT", "/drives/root",
	   "{\"drive_id\": \"root\", \"path_on_host\": \"/r\", "
	   "\"is_root_device\": true, \"partuuid\": \"abcd-01\"}");
	cr_assert_eq(api_config_to_vm(&st.cfg, &v, cmdline, sizeof(cmdline), why, sizeof(why)), 0);
	cr_assert_str_eq(v.cmdline, "console=ttyS0 root=PARTUUID=abcd-01 rw");
}

Test(api, defaults_match_volt_run)
{
	struct vm_config v = { 0 };
	char cmdline[API_CMDLINE_MAX + 256], why[256];

	ok("PUT", "/boot-source", "{\"kernel_image_path\": \"/k\"}");
	cr_assert_eq(api_config_to_vm(&st.cfg, &v, cmdline, sizeof(cmdline), why, sizeof(why)), 0);
	cr_assert_str_eq(v.cmdline, API_DEFAULT_CMDLINE);
	cr_assert_eq(v.mem_size, 128ULL << 20);
	cr_assert_eq(v.ncpus, 1);
	cr_assert_null(v.initrd);
	cr_assert_null(v.cpu_template);
}

Test(api, vm_config_round_trips)
{
	json_t *got, *put;
	static struct api_config back;
	char why[256], *a, *b;

	ok("PUT", "/boot-source",
	   "{\"kernel_image_path\": \"/k\", \"initrd_path\": \"/i\", "
	   "\"boot_args\": \"console=ttyS0 quiet\"}");
	ok("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256}");
	ok("PUT", "/drives/rootfs",
	   "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r\", "
	   "\"is_root_device\": true, \"is_read_only\": true}");
	ok("PUT", "/network-interfaces/eth0",
	   "{\"iface_id\": \"eth0\", \"host_dev_name\": "
	   "\"tap0\", \"guest_mac\": \"06:00:ac:10:00:02\"}");
	ok("PUT", "/vsock", "{\"guest_cid\": 42, \"uds_path\": \"/tmp/v.sock\"}");
	ok("PUT", "/balloon", "{\"amount_mib\": 64, \"deflate_on_oom\": false}");
	ok("PUT", "/entropy", "{}");
	cr_assert_eq(req("GET", "/vm/config", NULL, &got), 200);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(got, "boot-source"),
							   "initrd_path")),
			 "/i");
	cr_assert_eq(
		json_integer_value(json_object_get(json_object_get(got, "vsock"), "guest_cid")),
		42);
	cr_assert(json_is_object(json_object_get(got, "entropy")));
	cr_assert(json_is_null(json_object_get(got, "mmds-config")));
	cr_assert_eq(api_config_from_json(&back, got, why, sizeof(why)), 0, "%s", why);
	put = api_config_to_json(&back);
	a = json_dumps(got, JSON_SORT_KEYS);
	b = json_dumps(put, JSON_SORT_KEYS);
	cr_assert_str_eq(a, b);
	free(a);
	free(b);
	json_decref(got);
	json_decref(put);
}

Test(api, firecracker_example_file)
{
	static const char file[] =
		"{\n"
		"  \"boot-source\": {\"kernel_image_path\": \"vmlinux.bin\",\n"
		"    \"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off\", \"initrd_path\": "
		"null},\n"
		"  \"drives\": [{\"drive_id\": \"rootfs\", \"path_on_host\": "
		"\"bionic.rootfs.ext4\",\n"
		"    \"is_root_device\": true, \"partuuid\": null, \"is_read_only\": false,\n"
		"    \"cache_type\": \"Unsafe\", \"io_engine\": \"Sync\", \"rate_limiter\": null,\n"
		"    \"socket\": null}],\n"
		"  \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 1024, \"smt\": "
		"false,\n"
		"    \"track_dirty_pages\": false, \"huge_pages\": \"None\"},\n"
		"  \"cpu-config\": null, \"balloon\": null, \"network-interfaces\": [],\n"
		"  \"vsock\": null, \"logger\": null, \"metrics\": null, \"mmds-config\": null,\n"
		"  \"entropy\": null\n"
		"}\n";
	static struct api_config c;
	char why[256];
	json_t *j = api_json_parse(file, strlen(file), why, sizeof(why));

	cr_assert(j, "%s", why);
	cr_assert_eq(api_config_from_json(&c, j, why, sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(c.kernel, "vmlinux.bin");
	cr_assert_eq(c.vcpus, 2);
	cr_assert_eq(c.mem_mib, 1024);
	cr_assert_eq(c.ndevices, 1);
	cr_assert_eq(c.devices[0].dev.kind, &virtio_blk_kind);
	cr_assert(((const struct blk_api_keys *)(const void *)c.devices[0].keys)->root);
	json_object_set_new(j, "mmds-config", json_pack("{s:s}", "version", "V2"));
	cr_assert_neq(api_config_from_json(&c, j, why, sizeof(why)), 0);
	cr_assert(strstr(why, "mmds-config"), "%s", why);
	/* A section volt does not know is ignored, as Firecracker's VmmConfig
	 * ignores unknown keys. */
	json_object_set_new(j, "mmds-config", json_null());
	json_object_set_new(j, "extra", json_null());
	cr_assert_eq(api_config_from_json(&c, j, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(c.vcpus, 2);
	json_decref(j);
}

Test(api, hostile_bytes_stay_valid_json)
{
	static const char body[] = "{\"\xc3\xa9\xc3\xa9\xc3\xa9\": 1}";
	struct api_response r;

	api_handle(&st, "PUT", "/boot-source", body, sizeof(body) - 1, &r);
	cr_assert_eq(r.status, 400);
	json_t *j = json_loads(r.body, 0, NULL);
	cr_assert(j, "%s", r.body);
	json_decref(j);
	free(r.body);
	api_handle(&st, "PUT", "/boot-source", "{\"a\":\"\\u0000\"}", 14, &r);
	cr_assert_eq(r.status, 400);
	free(r.body);
	api_handle(&st, "GET", "/\xff\x01", "", 0, &r);
	cr_assert_eq(r.status, 400);
	cr_assert(json_loads(r.body, 0, NULL));
	free(r.body);
}

/* The CLI's rules (one check per field), in the API's words. */
Test(api, same_rules_as_the_cli)
{
	fault("PUT", "/vsock", "{\"guest_cid\": 4294967295, \"uds_path\": \"/v\"}", 400,
	      "vsock: guest_cid: 4294967295 is VMADDR_CID_ANY");
	fault("PUT", "/vsock", "{\"guest_cid\": 4294967296, \"uds_path\": \"/v\"}", 400,
	      "invalid value: integer `4294967296`, expected u32 at line 1 column 24.");
	ok("PUT", "/vsock", "{\"guest_cid\": 4294967294, \"uds_path\": \"/v\"}");
	ok("PUT", "/balloon",
	   "{\"amount_mib\": 1, \"deflate_on_oom\": false, \"stats_polling_interval_s\": 7200}");
	fault("PUT", "/balloon",
	      "{\"amount_mib\": 1, \"deflate_on_oom\": false, \"stats_polling_interval_s\": 65536}",
	      400, "invalid value: integer `65536`, expected u16 at line 1 column ");
	fault("PUT", "/drives/x",
	      "{\"drive_id\": \"\", \"path_on_host\": \"/x\", \"is_root_device\": false}", 400,
	      "The id from the path does not match the id from the body!");
	fault("PUT", "/drives/a%00b",
	      "{\"drive_id\": \"a\", \"path_on_host\": \"/x\", \"is_root_device\": false}", 400,
	      "API Resource IDs can only contain alphanumeric characters and underscores.");
	/* The device's own fields parse through its field set, the CLI's rules. */
	fault("PUT", "/network-interfaces/e", "{\"iface_id\": \"e\", \"host_dev_name\": \"tap%d\"}",
	      400, "network-interface: host_dev_name: TAP name 'tap%d' contains '%'");
	/* Any six bytes, as Firecracker's MacAddr (the CLI refuses these). */
	ok("PUT", "/network-interfaces/e",
	   "{\"iface_id\": \"e\", \"host_dev_name\": \"t\", \"guest_mac\": "
	   "\"01:00:5e:00:00:01\"}");
	ok("PUT", "/network-interfaces/e",
	   "{\"iface_id\": \"e\", \"host_dev_name\": \"t\", \"guest_mac\": "
	   "\"00:00:00:00:00:00\"}");
	fault("PUT", "/network-interfaces/e",
	      "{\"iface_id\": \"e\", \"host_dev_name\": \"t\", \"guest_mac\": "
	      "\"01:00:5e:00:00\"}",
	      400, SERDE_PREFIX "The provided MAC address is invalid. at line 1 column 70.");
	fault("PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"\"}", 400,
	      "vsock: uds_path: must not be empty");
	fault("PUT", "/drives/d",
	      "{\"drive_id\": \"d\", \"path_on_host\": \"/x\", \"is_root_device\": false, "
	      "\"io_engine\": \"io_uring\"}",
	      400, "unknown variant `io_uring`, expected `Async` or `Sync` at line 1 column 88.");
	fault("PUT", "/balloon", "{\"amount_mib\": 16777216, \"deflate_on_oom\": false}", 400,
	      "balloon: amount_mib: 16777216 is out of range (0 to 16777215)");
	ok("PUT", "/drives/d",
	   "{\"drive_id\": \"d\", \"path_on_host\": \"/x\", \"is_root_device\": false}");
	cr_assert_eq(drive_cfg(&st.cfg, "d")->cache, BLK_CACHE_UNSAFE,
		     "Firecracker's default cache");
}

/* The path as written, as Firecracker's micro_http and router take it: a
 * query or a %-escape names no resource, and a NUL escape never cuts an id
 * short (libmicrohttpd's decoder made "/drives/a%00b" "/drives/a"). */
Test(api, paths_are_taken_as_written)
{
	fault("GET", "/machine-config?x=1", NULL, 400,
	      "Invalid request method and/or path: GET machine-config?x=1.");
	fault("GET", "/machine%2Dconfig", NULL, 400,
	      "Invalid request method and/or path: GET machine%2Dconfig.");
	fault("PUT", "/drives/a%00b",
	      "{\"drive_id\": \"a\", \"path_on_host\": \"/x\", \"is_root_device\": false}", 400,
	      "API Resource IDs can only contain alphanumeric characters and underscores.");
}

/* A control byte of the request comes back escaped, not raw and not lost. */
Test(api, control_bytes_in_answers_are_escaped)
{
	fault("PUT", "/network-interfaces/e",
	      "{\"iface_id\": \"e\", \"host_dev_name\": \"a\\nb\\u001b%\"}", 400, "'a\\nb\\x1b%'");
}

/* A kind the table does not have: the API's device list, PUT, ids, keys and
 * GET come from struct device_kind alone. */
struct widget {
	char name[16];
};

struct widget_keys {
	bool shiny;
};

static const struct field widget_list[] = {
	{ .cli = "name",
	  .json = "name",
	  .type = FIELD_STRING,
	  .offset = offsetof(struct widget, name),
	  .size = 16,
	  .required = true,
	  .has = FIELD_NO_HAS },
};

static const struct field_set widget_fields = {
	.name = "widget",
	.fields = widget_list,
	.n = 1,
	.size = sizeof(struct widget),
};

static const struct field widget_key_list[] = {
	{ .json = "is_shiny",
	  .type = FIELD_BOOL,
	  .offset = offsetof(struct widget_keys, shiny),
	  .has = FIELD_NO_HAS,
	  .required = true },
	{ .json = "rate_limiter", .type = FIELD_NULL, .has = FIELD_NO_HAS },
};

static const struct field_set widget_keys = {
	.name = "widget",
	.fields = widget_key_list,
	.n = 2,
	.size = sizeof(struct widget_keys),
};

static const struct device_kind widget_kind = {
	.name = "widget",
	.api_path = "widgets",
	.config_key = "widgets",
	.max = 2,
	.fields = &widget_fields,
	.api = { .id_key = "widget_id", .keys = &widget_keys, .plural = "widgets" },
};

static int put_widget(struct api_config *c, const char *body, const char *path_id, char *why)
{
	json_t *j = json_loads(body, 0, NULL);
	int err;

	cr_assert(j, "%s", body);
	err = api_put_device(c, &widget_kind, j, path_id, why, 256);
	json_decref(j);
	return err;
}

static const char *widget_name(const struct api_config *c, int i)
{
	cr_assert_eq(c->devices[i].dev.kind, &widget_kind);
	return ((const struct widget *)(const void *)c->devices[i].dev.data)->name;
}

Test(api, a_new_kind_needs_nothing_of_the_api)
{
	static struct api_config c;
	char why[256], *s;
	json_t *j;

	api_config_init(&c);
	cr_assert_eq(put_widget(&c, "{\"widget_id\": \"a\", \"name\": \"one\", \"is_shiny\": true}",
				"a", why),
		     0, "%s", why);
	cr_assert_eq(put_widget(&c,
				"{\"widget_id\": \"b\", \"name\": \"two\", \"is_shiny\": false}",
				"b", why),
		     0, "%s", why);
	/* The same id replaces the device where it stands. */
	cr_assert_eq(put_widget(&c,
				"{\"widget_id\": \"a\", \"name\": \"three\", \"is_shiny\": false, "
				"\"rate_limiter\": null}",
				NULL, why),
		     0, "%s", why);
	cr_assert_eq(c.ndevices, 2);
	cr_assert_str_eq(widget_name(&c, 0), "three");
	cr_assert_str_eq(widget_name(&c, 1), "two");
	/* A body that parses, refused by the VMM's rule (not serde's). */
	cr_assert_eq(put_widget(&c, "{\"widget_id\": \"c\", \"name\": \"x\", \"is_shiny\": true}",
				"c", why),
		     -API_EVMM);
	cr_assert_str_eq(why, "widget: widget_id: 'c' would be more than 2 widgets");
	cr_assert_eq(put_widget(&c, "{\"widget_id\": \"a\", \"name\": \"x\", \"is_shiny\": true}",
				"z", why),
		     -EINVAL);
	cr_assert_str_eq(why, "The id from the path does not match the id from the body!");
	cr_assert_eq(put_widget(&c, "{\"widget_id\": \"a\", \"name\": \"x\"}", "a", why), -EINVAL);
	cr_assert_str_eq(why, "widget: missing required field 'is_shiny'");
	cr_assert_eq(put_widget(&c, "{\"name\": \"x\", \"is_shiny\": true}", "a", why), -EINVAL);
	cr_assert_str_eq(why, "widget: missing required field 'widget_id'");
	cr_assert_eq(put_widget(&c,
				"{\"widget_id\": \"a\", \"name\": \"x\", \"is_shiny\": true, "
				"\"rate_limiter\": {\"ops\": {\"size\": 1}}}",
				"a", why),
		     -EINVAL);
	cr_assert_str_eq(why, "widget: rate_limiter: not supported by volt (only null)");
	cr_assert_eq(put_widget(&c, "{\"widget_id\": \"a\", \"nome\": \"x\", \"is_shiny\": true}",
				"a", why),
		     -EINVAL);
	cr_assert_str_eq(why, "widget: unknown field `nome`");
	cr_assert_str_eq(widget_name(&c, 0), "three", "a refused PUT changes nothing");
	/* GET: the fields, the API's keys, the id. */
	j = api_device_to_json(api_device_find(&c, &widget_kind, "b"));
	s = json_dumps(j, JSON_COMPACT);
	cr_assert_str_eq(s, "{\"name\":\"two\",\"is_shiny\":false,\"rate_limiter\":null,"
			    "\"widget_id\":\"b\"}");
	free(s);
	json_decref(j);
}

Test(api, replacing_a_drive_keeps_its_place)
{
	struct vm_config v = { 0 };
	char cmdline[API_CMDLINE_MAX + 256], why[256];

	ok("PUT", "/boot-source", BOOT);
	ok("PUT", "/drives/a",
	   "{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": false}");
	ok("PUT", "/network-interfaces/n", "{\"iface_id\": \"n\", \"host_dev_name\": \"tap0\"}");
	ok("PUT", "/drives/b",
	   "{\"drive_id\": \"b\", \"path_on_host\": \"/b\", \"is_root_device\": false}");
	ok("PUT", "/drives/a",
	   "{\"drive_id\": \"a\", \"path_on_host\": \"/a2\", \"is_root_device\": false}");
	cr_assert_eq(api_config_to_vm(&st.cfg, &v, cmdline, sizeof(cmdline), why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_eq(device_list_count(v.devices, v.ndevices, &virtio_blk_kind), 2);
	cr_assert_str_eq(vm_drive(&v, 0)->path, "/a2");
	cr_assert_str_eq(vm_drive(&v, 0)->id, "a", "the drive's serial is its drive_id");
	cr_assert_str_eq(vm_drive(&v, 1)->path, "/b");
}

/* As Firecracker, no count is refused at PUT below volt's bound (more than
 * any host starts: 17 devices on x86): 17 interfaces and a root drive pass
 * (InstanceStart is where the interrupt lines run out); past VM_MAX_VIRTIO,
 * distinct ids, however many, are refused with a 400 naming the bound, and
 * replacing an existing one still works. */
Test(api, device_counts_bounded_only_by_the_arrays)
{
	char url[64], body[160];
	int i;

	ok("PUT", "/drives/rootfs",
	   "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r\", \"is_root_device\": true}");
	for (i = 0; i < 17; i++) {
		snprintf(url, sizeof(url), "/network-interfaces/eth%d", i);
		snprintf(body, sizeof(body),
			 "{\"iface_id\": \"eth%d\", \"host_dev_name\": \"t%d\"}", i, i);
		ok("PUT", url, body);
	}
	cr_assert_eq(st.cfg.ndevices, 18);
	for (i = 0; i < 1000; i++) {
		int s;

		snprintf(url, sizeof(url), "/drives/d%d", i);
		snprintf(body, sizeof(body),
			 "{\"drive_id\": \"d%d\", \"path_on_host\": \"/d\", \"is_root_device\": "
			 "false}",
			 i);
		s = req("PUT", url, body, NULL);
		if (st.cfg.ndevices < VM_MAX_VIRTIO || i < VM_MAX_VIRTIO - 18)
			cr_assert_eq(s, 204, "drive %d", i);
		else
			cr_assert_eq(s, 400, "drive %d", i);
	}
	cr_assert_eq(st.cfg.ndevices, VM_MAX_VIRTIO);
	fault("PUT", "/drives/one_more",
	      "{\"drive_id\": \"one_more\", \"path_on_host\": \"/d\", \"is_root_device\": false}",
	      400, "drive: more than 32 devices");
	ok("PUT", "/drives/d0",
	   "{\"drive_id\": \"d0\", \"path_on_host\": \"/d2\", \"is_root_device\": false}");
	ok("PUT", "/network-interfaces/eth3",
	   "{\"iface_id\": \"eth3\", \"host_dev_name\": \"t33\"}");
	cr_assert_eq(st.cfg.ndevices, VM_MAX_VIRTIO);
}

/* One kind alone reaches its own bound first, in its words. */
Test(api, drives_alone_past_their_bound)
{
	char url[64], body[160];
	int i;

	for (i = 0; i < VM_MAX_VIRTIO; i++) {
		snprintf(url, sizeof(url), "/drives/d%d", i);
		snprintf(body, sizeof(body),
			 "{\"drive_id\": \"d%d\", \"path_on_host\": \"/d\", \"is_root_device\": "
			 "false}",
			 i);
		ok("PUT", url, body);
	}
	fault("PUT", "/drives/dx",
	      "{\"drive_id\": \"dx\", \"path_on_host\": \"/d\", \"is_root_device\": false}", 400,
	      "drive: drive_id: 'dx' would be more than 32 drives");
}
