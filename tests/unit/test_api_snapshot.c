/* PUT /snapshot/create and PUT /snapshot/load through the router with fake
 * VM operations: Firecracker's validation messages (its serde errors, its
 * custom ones), the state rules (create on a started, paused VM only; load
 * only in a fresh process where nothing but the logger and the metrics was
 * configured, once) and what a load leaves (a started VM, the Deprecation
 * flag for the deprecated fields). */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/router.h"
#include "api/snapshot_config.h"
#include "api/vm_config_json.h"
#include "devices/virtio/virtio_balloon.h"
#include "util/log.h"

static struct {
	int starts, creates, loads, pauses, resumes, cad, balloon_sets;
	bool paused, fail_load, fail_create;
	struct snapshot_create_req create;
	struct snapshot_load_req load;
	char state_path[256], mem_path[256];
	/* The VM InstanceStart built (what its snapshot's vm/config holds) and
	 * the API's record the last create handed over; a load restores them
	 * when restore_started is set (else a VM with a balloon). */
	struct vm_config vm;
	char cmdline[API_CMDLINE_MAX + 256];
	char *api_rec;
	bool restore_started;
} fake;

static int f_start(void *ctx, const struct api_config *cfg, bool *undone, char *why, size_t n)
{
	(void)ctx;
	(void)undone;
	fake.starts++;
	return api_config_to_vm(cfg, &fake.vm, fake.cmdline, sizeof(fake.cmdline), why, n);
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
	(void)mib;
	fake.balloon_sets++;
	return 0;
}
static int f_logger(void *ctx, const struct api_logger *l, char *why, size_t n)
{
	(void)ctx;
	(void)l;
	(void)why;
	(void)n;
	return 0;
}
static int f_metrics(void *ctx, const struct api_metrics *m, char *why, size_t n)
{
	(void)ctx;
	(void)m;
	(void)why;
	(void)n;
	return 0;
}
static int f_create(void *ctx, const struct snapshot_create_req *req, char *why, size_t n)
{
	(void)ctx;
	fake.creates++;
	fake.create = *req;
	free(fake.api_rec);
	fake.api_rec = req->api_config ? strdup(req->api_config) : NULL;
	snprintf(fake.state_path, sizeof(fake.state_path), "%s", req->state_path);
	snprintf(fake.mem_path, sizeof(fake.mem_path), "%s", req->mem_path);
	if (fake.fail_create) {
		snprintf(why, n, "Cannot write memory file: No space left on device");
		return -ENOSPC;
	}
	return 0;
}

/* A restored VM with a balloon, as vm_restore() would fill its configuration,
 * or the VM the last InstanceStart built with the last create's record. */
static int f_load(void *ctx, const struct snapshot_load_req *req, struct api_config *cfg, char *why,
		  size_t n)
{
	struct vm_config v = { .ncpus = 2, .mem_size = 256ull << 20 };
	struct balloon_config *b = (struct balloon_config *)(void *)v.devices[0].data;

	(void)ctx;
	if (fake.restore_started) {
		fake.loads++;
		fake.paused = !req->resume_vm;
		return api_config_restore(cfg, &fake.vm, fake.api_rec, why, n);
	}
	fake.loads++;
	fake.load = *req;
	if (fake.fail_load) {
		snprintf(why, n, "cannot open '%s': No such file or directory", req->state_path);
		return -ENOENT;
	}
	v.devices[0].kind = &virtio_balloon_kind;
	b->mib = 16;
	v.ndevices = 1;
	cr_assert_eq(api_config_restore(cfg, &v, NULL, why, n), 0);
	fake.paused = !req->resume_vm;
	return 0;
}

static const struct api_ops ops = {
	.instance_start = f_start,
	.pause = f_pause,
	.resume = f_resume,
	.is_paused = f_is_paused,
	.ctrl_alt_del = f_cad,
	.balloon_set = f_balloon_set,
	.logger = f_logger,
	.metrics = f_metrics,
	.snapshot_create = f_create,
	.snapshot_load = f_load,
};

static struct api_state st;
static bool last_deprecated;

static void setup(void)
{
	free(fake.api_rec);
	memset(&fake, 0, sizeof(fake));
	log_set_level(LOG_OFF);
	api_state_init(&st, &ops, NULL, "snap-vm");
}

static int req(const char *method, const char *url, const char *body, json_t **out)
{
	struct api_response r;
	json_t *j = NULL;

	api_handle(&st, method, url, body ? body : "", body ? strlen(body) : 0, &r);
	last_deprecated = r.deprecated;
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

/* Asserts a 400 whose fault_message is exactly msg. */
static void fault_is(const char *method, const char *url, const char *body, const char *msg)
{
	json_t *j;
	const char *got;
	int s = req(method, url, body, &j);

	cr_assert_eq(s, 400, "%s %s %s: status %d, wanted 400", method, url, body, s);
	got = json_string_value(json_object_get(j, "fault_message"));
	cr_assert(got, "%s %s: no fault_message", method, url);
	cr_assert_str_eq(got, msg, "%s %s %s:\n got '%s'\nwant '%s'", method, url, body, got, msg);
	json_decref(j);
}

/* Asserts a 400 whose fault_message contains needle. */
static void fault_has(const char *method, const char *url, const char *body, const char *needle)
{
	json_t *j;
	const char *got;
	int s = req(method, url, body, &j);

	cr_assert_eq(s, 400, "%s %s %s: status %d, wanted 400", method, url, body, s);
	got = json_string_value(json_object_get(j, "fault_message"));
	cr_assert(got && strstr(got, needle), "%s %s %s: '%s' lacks '%s'", method, url, body,
		  got ? got : "(none)", needle);
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

static const char *state(void)
{
	static char buf[32];
	json_t *j;

	cr_assert_eq(req("GET", "/", NULL, &j), 200);
	snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(j, "state")));
	json_decref(j);
	return buf;
}

#define SERDE	   "An error occurred when deserializing the json body of a request: "
#define NOT_BEFORE "The requested operation is not supported before starting the microVM."
#define NOT_AFTER  "The requested operation is not supported after starting the microVM."
#define NOT_ALLOWED                                                                      \
	"Load snapshot error: Loading a microVM snapshot not allowed after configuring " \
	"boot-specific resources."
#define BOOT   "{\"kernel_image_path\": \"/k/vmlinux\"}"
#define START  "{\"action_type\": \"InstanceStart\"}"
#define CREATE "{\"snapshot_path\": \"/s/state\", \"mem_file_path\": \"/s/mem\"}"
#define LOAD                                                                               \
	"{\"snapshot_path\": \"/s/state\", \"mem_backend\": {\"backend_type\": \"File\", " \
	"\"backend_path\": \"/s/mem\"}}"
#define PAUSE  "{\"state\": \"Paused\"}"
#define RESUME "{\"state\": \"Resumed\"}"

TestSuite(snapshot, .init = setup);

/* --- create ------------------------------------------------------------------------ */

Test(snapshot, create_before_start_is_refused)
{
	fault_is("PUT", "/snapshot/create", CREATE, NOT_BEFORE);
	cr_assert_eq(fake.creates, 0);
}

Test(snapshot, create_while_running_is_refused)
{
	ok("PUT", "/boot-source", BOOT);
	ok("PUT", "/actions", START);
	fault_is("PUT", "/snapshot/create", CREATE,
		 "Create snapshot error: Cannot save the microVM state: Operation not allowed: "
		 "save/restore unavailable while running");
	cr_assert_eq(fake.creates, 0);
}

Test(snapshot, create_when_paused_full_by_default)
{
	ok("PUT", "/boot-source", BOOT);
	ok("PUT", "/actions", START);
	ok("PATCH", "/vm", PAUSE);
	ok("PUT", "/snapshot/create", CREATE);
	cr_assert_eq(fake.creates, 1);
	cr_assert_eq(fake.create.type, SNAPSHOT_FULL);
	cr_assert_str_eq(fake.state_path, "/s/state");
	cr_assert_str_eq(fake.mem_path, "/s/mem");
	ok("PUT", "/snapshot/create",
	   "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"a\", \"mem_file_path\": \"b\"}");
	cr_assert_eq(fake.create.type, SNAPSHOT_FULL);
	cr_assert_str_eq(state(), "Paused");
}

Test(snapshot, create_failure_carries_the_reason)
{
	ok("PUT", "/boot-source", BOOT);
	ok("PUT", "/actions", START);
	ok("PATCH", "/vm", PAUSE);
	fake.fail_create = true;
	fault_is("PUT", "/snapshot/create", CREATE,
		 "Create snapshot error: Cannot write memory file: No space left on device");
	/* The VM goes on: a later create may succeed. */
	fake.fail_create = false;
	ok("PUT", "/snapshot/create", CREATE);
}

Test(snapshot, diff_without_dirty_page_tracking_is_taken)
{
	/* Firecracker 1.16's Diff without tracking: the resident pages (the VM's part). */
	ok("PUT", "/boot-source", BOOT);
	ok("PUT", "/actions", START);
	ok("PATCH", "/vm", PAUSE);
	ok("PUT", "/snapshot/create",
	   "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"a\", \"mem_file_path\": \"b\"}");
	cr_assert_eq(fake.creates, 1);
}

Test(snapshot, diff_after_a_load_with_dirty_page_tracking)
{
	ok("PUT", "/snapshot/load",
	   "{\"snapshot_path\": \"s\", \"mem_backend\": {\"backend_type\": \"File\", "
	   "\"backend_path\": \"m\"}, \"track_dirty_pages\": true}");
	cr_assert(fake.load.track_dirty_pages);
	ok("PUT", "/snapshot/create",
	   "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"a\", \"mem_file_path\": \"b\"}");
	cr_assert_eq(fake.create.type, SNAPSHOT_DIFF);
}

Test(snapshot, create_validation_messages)
{
	ok("PUT", "/boot-source", BOOT);
	ok("PUT", "/actions", START);
	ok("PATCH", "/vm", PAUSE);
	fault_is("PUT", "/snapshot/create",
		 "{\"invalid_field\": \"foo\", \"mem_file_path\": \"bar\"}",
		 SERDE "unknown field `invalid_field`, expected one of `snapshot_type`, "
		       "`snapshot_path`, `mem_file_path` at line 1 column 16.");
	fault_is("PUT", "/snapshot/create", "{\"mem_file_path\": \"bar\"}",
		 SERDE "missing field `snapshot_path` at line 1 column 24.");
	fault_is("PUT", "/snapshot/create", "{\"snapshot_path\": \"foo\"}",
		 SERDE "missing field `mem_file_path` at line 1 column 24.");
	fault_is(
		"PUT", "/snapshot/create",
		"{\"snapshot_type\": \"Half\", \"snapshot_path\": \"a\", \"mem_file_path\": \"b\"}",
		SERDE "unknown variant `Half`, expected `Diff` or `Full` at line 1 column 24.");
	fault_is("PUT", "/snapshot/create", "{\"snapshot_path\": 5, \"mem_file_path\": \"b\"}",
		 SERDE "invalid type: integer `5`, expected path string at line 1 column 19.");
	/* serde_derive's sequence form: [1] is a snapshot_type of 1 */
	fault_is("PUT", "/snapshot/create", "[1]", SERDE "expected value at line 1 column 2.");
	fault_is("PUT", "/snapshot/create", "\"x\"",
		 SERDE "invalid type: string \"x\", expected struct CreateSnapshotParams at line 1 "
		       "column 3.");
	fault_has("PUT", "/snapshot/create", "{\"snapshot_path\": \"\", \"mem_file_path\": \"b\"}",
		  "snapshot/create: snapshot_path: must not be empty");
	fault_has("PUT", "/snapshot/create",
		  "{\"snapshot_path\": \"a\\u0000b\", \"mem_file_path\": \"b\"}",
		  "snapshot/create: invalid JSON");
	fault_has("PUT", "/snapshot/create", "{", "invalid JSON");
	cr_assert_eq(fake.creates, 0);
	/* GET and PATCH are not methods of it. */
	fault_has("GET", "/snapshot/create", NULL, "Invalid request method and/or path");
}

/* --- load: validation --------------------------------------------------------------- */

Test(snapshot, load_validation_messages)
{
	fault_is("PUT", "/snapshot/load",
		 "{\"snapshot_path\": \"foo\", \"mem_backend\": {\"backend_type\": \"File\", "
		 "\"backend_path\": \"bar\"}, \"mem_file_path\": \"bar\"}",
		 SERDE "too many fields: either `mem_backend` or `mem_file_path` exclusively is "
		       "required.");
	fault_is("PUT", "/snapshot/load", "{\"snapshot_path\": \"foo\"}",
		 SERDE "missing field: either `mem_backend` or `mem_file_path` is required.");
	fault_is("PUT", "/snapshot/load",
		 "{\"snapshot_path\": \"foo\", \"mem_backend\": {\"backend_path\": \"bar\"}}",
		 SERDE "missing field `backend_type` at line 1 column 63.");
	fault_is("PUT", "/snapshot/load",
		 "{\"snapshot_path\": \"foo\", \"mem_backend\": {\"backend_type\": \"File\"}}",
		 SERDE "missing field `backend_path` at line 1 column 64.");
	fault_is("PUT", "/snapshot/load",
		 "{\"snapshot_path\": \"foo\", \"mem_backend\": {\"backend_type\": \"foo\", "
		 "\"backend_path\": \"bar\"}}",
		 SERDE "unknown variant `foo`, expected `File` or `Uffd` at line 1 column 62.");
	fault_is("PUT", "/snapshot/load",
		 "{\"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"bar\"}}",
		 SERDE "missing field `snapshot_path` at line 1 column 64.");
	fault_has("PUT", "/snapshot/load",
		  "{\"snapshot_path\": \"foo\", \"mem_file_path\": \"b\", "
		  "\"unknown\": 1}",
		  SERDE "unknown field `unknown`, expected one of `snapshot_path`");
	fault_is("PUT", "/snapshot/load",
		 "{\"snapshot_path\": \"foo\", \"mem_backend\": {\"backend_type\": \"File\", "
		 "\"backend_path\": \"bar\", \"x\": 1}}",
		 SERDE "unknown field `x`, expected `backend_path` or `backend_type` at line 1 "
		       "column 91.");
	fault_is("PUT", "/snapshot/load",
		 "{\"snapshot_path\": \"foo\", \"mem_file_path\": \"b\", \"huge_pages\": \"1M\"}",
		 SERDE "unknown variant `1M`, expected one of `Snapshot`, `None`, `Transparent`, "
		       "`2M` at line 1 column 65.");
	fault_is("PUT", "/snapshot/load",
		 "{\"snapshot_path\": \"foo\", \"mem_file_path\": \"b\", \"resume_vm\": \"yes\"}",
		 SERDE "invalid type: string \"yes\", expected a boolean at line 1 column 65.");
	fault_is("PUT", "/snapshot/load",
		 "{\"snapshot_path\": \"foo\", \"mem_file_path\": \"b\", \"network_overrides\": "
		 "[{\"iface_id\": \"eth0\"}]}",
		 SERDE "missing field `host_dev_name` at line 1 column 89.");
	fault_has("PUT", "/snapshot/load",
		  "{\"snapshot_path\": \"foo\", \"mem_file_path\": \"b\", \"network_overrides\": "
		  "[{\"iface_id\": \"eth0\", \"host_dev_name\": \"a-name-longer-than-ifnamsiz\"}]}",
		  "snapshot/load: network_overrides[0]: host_dev_name: longer than 15 bytes");
	fault_is("PUT", "/snapshot/load",
		 "{\"snapshot_path\": \"foo\", \"mem_file_path\": \"b\", \"vsock_override\": {}}",
		 SERDE "missing field `uds_path` at line 1 column 67.");
	/* None of them was a load, and none spoiled the process. */
	cr_assert_eq(fake.loads, 0);
	cr_assert_str_eq(state(), "Not started");
	ok("PUT", "/snapshot/load", LOAD);
}

/* "2M" (hugetlbfs) is the VMM's to refuse with a memory file (Firecracker's
 * persist.rs): the parser takes it. */
Test(snapshot, load_takes_huge_pages_2m)
{
	ok("PUT", "/snapshot/load",
	   "{\"snapshot_path\": \"/s/state\", \"mem_backend\": {\"backend_type\": \"Uffd\", "
	   "\"backend_path\": \"/s/uffd.sock\"}, \"huge_pages\": \"2M\"}");
	cr_assert_eq(fake.load.huge_pages, SNAP_HUGE_2M);
}

Test(snapshot, load_fills_the_request)
{
	ok("PUT", "/snapshot/load",
	   "{\"snapshot_path\": \"/s/state\", \"mem_backend\": {\"backend_type\": \"Uffd\", "
	   "\"backend_path\": \"/s/uffd.sock\"}, \"resume_vm\": true, \"network_overrides\": "
	   "[{\"iface_id\": \"eth0\", \"host_dev_name\": \"vmtap2\", \"mtu\": 1}], "
	   "\"vsock_override\": {\"uds_path\": \"/s/v.sock\", \"x\": 1}, \"huge_pages\": "
	   "\"Snapshot\", \"clock_realtime\": false}");
	/* Firecracker's NetworkOverride and VsockOverride are not
	 * deny_unknown_fields: the mtu and x above are ignored. */
	cr_assert_not(last_deprecated);
	cr_assert_str_eq(fake.load.state_path, "/s/state");
	cr_assert_eq(fake.load.backend, MEM_BACKEND_UFFD);
	cr_assert_str_eq(fake.load.backend_path, "/s/uffd.sock");
	cr_assert(fake.load.resume_vm);
	cr_assert_not(fake.load.track_dirty_pages);
	cr_assert_eq(fake.load.nnet, 1);
	cr_assert_str_eq(fake.load.net[0].iface_id, "eth0");
	cr_assert_str_eq(fake.load.net[0].host_dev_name, "vmtap2");
	cr_assert_str_eq(fake.load.vsock_uds_path, "/s/v.sock");
	cr_assert_not(fake.load.clock_realtime);
	cr_assert_eq(fake.load.huge_pages, SNAP_HUGE_SNAPSHOT);
	/* The strings outlive the request (the state keeps them). */
	cr_assert_eq(fake.load.state_path, st.load.state);
	cr_assert_str_eq(state(), "Running");
}

/* Firecracker's clock_realtime reaches the VM side. */
Test(snapshot, load_takes_clock_realtime)
{
	ok("PUT", "/snapshot/load",
	   "{\"snapshot_path\": \"/s/state\", \"mem_backend\": {\"backend_type\": \"File\", "
	   "\"backend_path\": \"/s/mem\"}, \"clock_realtime\": true}");
	cr_assert(fake.load.clock_realtime);
}

Test(snapshot, deprecated_fields_are_flagged)
{
	ok("PUT", "/snapshot/load",
	   "{\"snapshot_path\": \"foo\", \"mem_file_path\": \"bar\", \"resume_vm\": true}");
	cr_assert(last_deprecated);
	cr_assert_eq(fake.load.backend, MEM_BACKEND_FILE);
	cr_assert_str_eq(fake.load.backend_path, "bar");
	cr_assert_null(fake.load.vsock_uds_path);
}

Test(snapshot, enable_diff_snapshots_is_a_deprecated_alias)
{
	ok("PUT", "/snapshot/load",
	   "{\"snapshot_path\": \"foo\", \"mem_backend\": {\"backend_type\": \"File\", "
	   "\"backend_path\": \"bar\"}, \"enable_diff_snapshots\": true}");
	cr_assert(last_deprecated);
	cr_assert(fake.load.track_dirty_pages);
}

Test(snapshot, a_refused_deprecated_load_is_flagged_too)
{
	ok("PUT", "/boot-source", BOOT);
	fault_is("PUT", "/snapshot/load",
		 "{\"snapshot_path\": \"foo\", \"mem_file_path\": \"bar\"}", NOT_ALLOWED);
	cr_assert(last_deprecated);
	fault_is("PUT", "/snapshot/load", LOAD, NOT_ALLOWED);
	cr_assert_not(last_deprecated);
}

/* --- load: state rules ---------------------------------------------------------------- */

Test(snapshot, load_after_logger_and_metrics_only)
{
	ok("PUT", "/logger", "{\"level\": \"Info\"}");
	ok("PUT", "/metrics", "{\"metrics_path\": \"/tmp/m.fifo\"}");
	ok("PUT", "/snapshot/load", LOAD);
	cr_assert_eq(fake.loads, 1);
	cr_assert_str_eq(state(), "Paused");
}

Test(snapshot, load_refused_after_boot_specific_resources)
{
	static const char *const first[][3] = {
		{ "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}" },
		{ "PATCH", "/machine-config", "{\"vcpu_count\": 2}" },
		{ "PUT", "/boot-source", BOOT },
		{ "PUT", "/drives/rootfs",
		  "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r.ext4\", \"is_root_device\": "
		  "true, \"is_read_only\": false}" },
		{ "PUT", "/network-interfaces/eth0",
		  "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}" },
		{ "PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\"}" },
		{ "PUT", "/balloon", "{\"amount_mib\": 0, \"deflate_on_oom\": false}" },
	};
	size_t i;

	for (i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
		setup();
		ok(first[i][0], first[i][1], first[i][2]);
		fault_is("PUT", "/snapshot/load", LOAD, NOT_ALLOWED);
		cr_assert_eq(fake.loads, 0, "%s %s", first[i][0], first[i][1]);
		/* Not fatal: the process can still boot what it was given. */
		cr_assert_str_eq(state(), "Not started");
	}
}

/* Firecracker's controller sets boot_path before its checks: a body that
 * parsed and that its VMM refused counts as much as one it took. */
Test(snapshot, a_refused_configuration_counts)
{
	static char long_args[2200];
	static const char *const refused[][3] = {
		{ "PUT", "/machine-config", "{\"vcpu_count\": 99, \"mem_size_mib\": 128}" },
		{ "PATCH", "/machine-config", "{\"mem_size_mib\": 0}" },
		{ "PUT", "/boot-source", long_args },
		{ "PUT", "/balloon", "{\"amount_mib\": 4096, \"deflate_on_oom\": false}" },
		{ "PUT", "/mmds/config", "{\"network_interfaces\": []}" },
	};
	size_t i;

	snprintf(long_args, sizeof(long_args),
		 "{\"kernel_image_path\": \"/k\", \"boot_args\": \"x%2100s\"}", "x");
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		setup();
		fault_has(refused[i][0], refused[i][1], refused[i][2], "");
		fault_is("PUT", "/snapshot/load", LOAD, NOT_ALLOWED);
		cr_assert_eq(fake.loads, 0, "%s %s", refused[i][0], refused[i][1]);
	}
}

/* A body its parser refused never reached the controller. */
Test(snapshot, a_body_that_does_not_parse_does_not_count)
{
	fault_has("PUT", "/machine-config", "{\"vcpu_count\": \"2\", \"mem_size_mib\": 128}",
		  "expected u8");
	fault_has("PUT", "/boot-source", "{\"kernel_image_path\": \"/k\", \"x\": 1}", "`x`");
	fault_has("PUT", "/drives/a", "{\"drive_id\": \"b\", \"is_root_device\": false}",
		  "does not match");
	fault_has("PUT", "/machine-config",
		  "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"huge_pages\": \"1G\"}",
		  "unknown variant `1G`");
	ok("PUT", "/snapshot/load", LOAD);
}

Test(snapshot, load_after_instance_start_is_refused)
{
	ok("PUT", "/boot-source", BOOT);
	ok("PUT", "/actions", START);
	fault_is("PUT", "/snapshot/load", LOAD, NOT_AFTER);
	cr_assert_eq(fake.loads, 0);
}

Test(snapshot, load_twice_is_refused)
{
	ok("PUT", "/snapshot/load", LOAD);
	fault_is("PUT", "/snapshot/load", LOAD, NOT_AFTER);
	cr_assert_eq(fake.loads, 1);
	/* And InstanceStart neither: a VM exists. */
	fault_is("PUT", "/actions", START, NOT_AFTER);
	cr_assert_eq(fake.starts, 0);
}

Test(snapshot, a_failed_load_answers_the_reason_and_ends_the_process_use)
{
	fake.fail_load = true;
	fault_is("PUT", "/snapshot/load", LOAD,
		 "Load snapshot error: Failed to restore from snapshot: cannot open '/s/state': "
		 "No such file or directory");
	cr_assert_str_eq(state(), "Not started");
	/* As Firecracker (which exits), nothing more is configured; GETs answer. */
	fault_has("PUT", "/snapshot/load", LOAD, "restart volt");
	fault_has("PUT", "/boot-source", BOOT, "restart volt");
	fault_has("PUT", "/actions", START, "restart volt");
	cr_assert_eq(fake.loads, 1);
	cr_assert_eq(req("GET", "/vm/config", NULL, NULL), 200);
}

Test(snapshot, without_the_op_a_load_fails_cleanly)
{
	static const struct api_ops none = { 0 };

	api_state_init(&st, &none, NULL, NULL);
	fault_has("PUT", "/snapshot/load", LOAD,
		  "Load snapshot error: Failed to restore from snapshot");
	api_state_init(&st, &none, NULL, NULL);
	fault_is("PUT", "/snapshot/create", CREATE, NOT_BEFORE);
}

/* --- after a load: a started VM ------------------------------------------------------- */

Test(snapshot, a_loaded_vm_takes_the_post_boot_calls)
{
	json_t *j;

	ok("PUT", "/snapshot/load", LOAD);
	cr_assert_str_eq(state(), "Paused");
	ok("PATCH", "/vm", RESUME);
	cr_assert_str_eq(state(), "Running");
	ok("PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}");
	cr_assert_eq(fake.cad, 1);
	/* The restored VM's balloon (api_config_from_vm) answers. */
	ok("PATCH", "/balloon", "{\"amount_mib\": 32}");
	cr_assert_eq(fake.balloon_sets, 1);
	cr_assert_eq(req("GET", "/balloon", NULL, &j), 200);
	cr_assert_eq(json_integer_value(json_object_get(j, "amount_mib")), 32);
	json_decref(j);
	cr_assert_eq(req("GET", "/machine-config", NULL, &j), 200);
	cr_assert_eq(json_integer_value(json_object_get(j, "vcpu_count")), 2);
	cr_assert_eq(json_integer_value(json_object_get(j, "mem_size_mib")), 256);
	json_decref(j);
	cr_assert_eq(req("GET", "/vm/config", NULL, NULL), 200);
	/* Pre-boot configuration is over. */
	fault_is("PUT", "/boot-source", BOOT, NOT_AFTER);
	/* And a snapshot of it can be taken once paused. */
	fault_has("PUT", "/snapshot/create", CREATE, "save/restore unavailable while running");
	ok("PATCH", "/vm", PAUSE);
	ok("PUT", "/snapshot/create", CREATE);
}

Test(snapshot, diff_while_running_is_refused_as_a_full)
{
	ok("PUT", "/boot-source", BOOT);
	ok("PUT", "/actions", START);
	fault_has(
		"PUT", "/snapshot/create",
		"{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"a\", \"mem_file_path\": \"b\"}",
		"save/restore unavailable while running");
}

/* --- what a load shows: the snapshotted VM's configuration -------------------------- */

#define BOOT_FULL                                                                  \
	"{\"kernel_image_path\": \"/k/vmlinux\", \"initrd_path\": \"/k/initrd\", " \
	"\"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off\"}"
#define ROOTFS                                                                                \
	"{\"drive_id\": \"rootfs\", \"path_on_host\": \"/d/root.ext4\", \"is_root_device\": " \
	"true, \"partuuid\": \"0eaa91a0-01\", \"is_read_only\": true, \"rate_limiter\": "     \
	"{\"ops\": {\"size\": 100, \"refill_time\": 1000}}}"
#define DATA                                                                                \
	"{\"drive_id\": \"data\", \"path_on_host\": \"/d/data.ext4\", \"is_root_device\": " \
	"false, \"is_read_only\": false, \"cache_type\": \"Writeback\"}"
#define ETH0                                                                               \
	"{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": "            \
	"\"06:00:ac:10:00:02\", \"tx_rate_limiter\": {\"bandwidth\": {\"size\": 1000000, " \
	"\"refill_time\": 100}}}"

static char *vm_config_text(struct api_state *s)
{
	struct api_response r;

	api_handle(s, "GET", "/vm/config", "", 0, &r);
	cr_assert_eq(r.status, 200);
	return r.body;
}

/* A VM configured through the API, started, paused and snapshotted. */
static char *snapshot_a_configured_vm(void)
{
	ok("PUT", "/boot-source", BOOT_FULL);
	ok("PUT", "/machine-config", "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": true}");
	/* The root drive first: Firecracker's list has it first (volt's before
	 * boot: in the order of the PUTs; restored: the VM's, root first). */
	ok("PUT", "/drives/rootfs", ROOTFS);
	ok("PUT", "/drives/data", DATA);
	ok("PUT", "/network-interfaces/eth0", ETH0);
	ok("PUT", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": true}");
	ok("PUT", "/actions", START);
	ok("PATCH", "/vm", PAUSE);
	ok("PUT", "/snapshot/create", CREATE);
	cr_assert(fake.api_rec, "the create handed the VM no API record");
	return vm_config_text(&st);
}

/* The load, in a fresh process (a new router state). */
static char *load_in_a_fresh_vmm(struct api_state *s, int status)
{
	struct api_response r;

	api_state_init(s, &ops, NULL, "restored-vm");
	fake.restore_started = true;
	api_handle(s, "PUT", "/snapshot/load", LOAD, strlen(LOAD), &r);
	cr_assert_eq(r.status, status, "load: %d %s", r.status, r.body ? r.body : "");
	if (status != 204)
		return r.body;
	free(r.body);
	return vm_config_text(s);
}

static json_t *section_of(const char *text, const char *name)
{
	json_t *j = json_loads(text, 0, NULL), *v;

	cr_assert(j);
	v = json_incref(json_object_get(j, name));
	json_decref(j);
	return v;
}

Test(snapshot, a_load_shows_the_snapshotted_configuration)
{
	static struct api_state fresh;
	char *before = snapshot_a_configured_vm(), *after = load_in_a_fresh_vmm(&fresh, 204);
	const char *names[] = { "boot-source",	      "machine-config", "drives",      "balloon",
				"network-interfaces", "vsock",		"mmds-config", "entropy" };
	json_t *drives;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		json_t *a = section_of(before, names[i]), *b = section_of(after, names[i]);
		char *at = json_dumps(a, JSON_SORT_KEYS | JSON_ENCODE_ANY);
		char *bt = json_dumps(b, JSON_SORT_KEYS | JSON_ENCODE_ANY);

		cr_assert(json_equal(a, b), "%s:\n before %s\n after  %s", names[i], at, bt);
		free(at);
		free(bt);
		json_decref(a);
		json_decref(b);
	}
	/* And what it holds is what was PUT: the root drive first (vda). */
	drives = section_of(after, "drives");
	cr_assert_eq(json_array_size(drives), 2);
	cr_assert(json_is_true(json_object_get(json_array_get(drives, 0), "is_root_device")));
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(drives, 0), "partuuid")),
			 "0eaa91a0-01");
	json_decref(drives);
	free(before);
	free(after);
	/* A snapshot of the restored VM holds the same record. */
	char *rec = strdup(fake.api_rec);

	st = fresh;
	ok("PUT", "/snapshot/create", CREATE);
	cr_assert_str_eq(fake.api_rec, rec);
	free(rec);
}

Test(snapshot, a_snapshot_without_the_record_loads_as_before)
{
	static struct api_state fresh;
	char *after;
	json_t *boot, *drives;

	free(snapshot_a_configured_vm());
	free(fake.api_rec);
	fake.api_rec = NULL; /* a snapshot of a volt from before the record */
	after = load_in_a_fresh_vmm(&fresh, 204);
	/* Firecracker's "boot-source ... empty" after a restore: its default. */
	boot = section_of(after, "boot-source");
	cr_assert_str_eq(json_string_value(json_object_get(boot, "kernel_image_path")), "");
	drives = section_of(after, "drives");
	cr_assert_eq(json_array_size(drives), 2);
	for (size_t i = 0; i < 2; i++) {
		json_t *d = json_array_get(drives, i);

		cr_assert(json_is_false(json_object_get(d, "is_root_device")));
		cr_assert(json_is_null(json_object_get(d, "partuuid")));
		/* The device's own fields are the VM's. */
		cr_assert(json_string_value(json_object_get(d, "path_on_host")));
	}
	json_decref(boot);
	json_decref(drives);
	free(after);
}

/* A snapshot file is hostile input: its record is checked as a request body. */
Test(snapshot, a_hostile_api_record_is_refused_with_the_reason)
{
	static const struct {
		const char *rec, *why;
	} bad[] = {
		{ "not json", "the snapshot's API configuration: " },
		{ "[]", "the snapshot's API configuration: " },
		{ "{\"boot-source\": null}", "devices" },
		{ "{\"boot-source\": null, \"devices\": [], \"more\": 1}", "more" },
		{ "{\"boot-source\": null, \"devices\": {}}", "devices: not an array" },
		{ "{\"boot-source\": {\"kernel_image_path\": 7}, \"devices\": []}",
		  "kernel_image_path" },
		{ "{\"boot-source\": {\"kernel_image_path\": \"/k\", \"x\": 1}, \"devices\": []}",
		  "x" },
		{ "{\"boot-source\": {\"boot_args\": \"a\"}, \"devices\": []}",
		  "kernel_image_path" },
		{ "{\"boot-source\": null, \"devices\": [1]}", "devices[0]" },
		{ "{\"boot-source\": null, \"devices\": [{\"kind\": \"net\", \"id\": \"eth0\", "
		  "\"keys\": {}}]}",
		  "'net' is not a kind of device with API keys" },
		{ "{\"boot-source\": null, \"devices\": [{\"kind\": \"blk\", \"id\": \"other\", "
		  "\"keys\": {}}]}",
		  "the VM has no blk device 'other'" },
		{ "{\"boot-source\": null, \"devices\": [{\"kind\": \"blk\", \"id\": \"\\u0001\", "
		  "\"keys\": {}}]}",
		  "the VM has no blk device '\\x01'" },
		{ "{\"boot-source\": null, \"devices\": [{\"kind\": \"blk\", \"id\": \"data\", "
		  "\"keys\": {\"is_root_device\": 1}}]}",
		  "is_root_device" },
		{ "{\"boot-source\": null, \"devices\": [{\"kind\": \"blk\", \"id\": \"data\", "
		  "\"keys\": {\"is_root_device\": false, \"partuuid\": \"" /* 65: one too many */
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}]}",
		  "partuuid" },
		{ "{\"boot-source\": null, \"devices\": [{\"kind\": \"blk\", \"id\": \"data\", "
		  "\"keys\": {\"is_root_device\": false, \"path_on_host\": \"/etc/shadow\"}}]}",
		  "path_on_host" },
		{ "{\"boot-source\": null, \"devices\": [{\"kind\": \"blk\", \"id\": \"data\", "
		  "\"keys\": {}}]}",
		  "missing required field 'is_root_device'" },
		{ "{\"boot-source\": null, \"devices\": [{\"kind\": \"blk\", \"id\": \"data\", "
		  "\"keys\": {\"is_root_device\": false}}, {\"kind\": \"blk\", \"id\": "
		  "\"data\", \"keys\": {\"is_root_device\": false}}]}",
		  "appears twice" },
		{ "{\"boot-source\": null, \"devices\": [{\"kind\": \"blk\", \"id\": \"data\", "
		  "\"keys\": {\"is_root_device\": true}}, {\"kind\": \"blk\", \"id\": \"rootfs\", "
		  "\"keys\": {\"is_root_device\": true}}]}",
		  "root" },
	};
	struct api_config *c = malloc(sizeof(*c));
	char why[512];

	cr_assert(c);
	free(snapshot_a_configured_vm());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		api_config_init(c);
		why[0] = '\0';
		cr_assert_eq(api_config_restore(c, &fake.vm, bad[i].rec, why, sizeof(why)), -EINVAL,
			     "%s: accepted", bad[i].rec);
		cr_assert(strstr(why, "the snapshot's API configuration: ") == why &&
				  strstr(why, bad[i].why),
			  "%s:\n got '%s'\nwant '%s'", bad[i].rec, why, bad[i].why);
	}
	free(c);
}

Test(snapshot, a_hostile_api_record_fails_the_load)
{
	static struct api_state fresh;
	char *body;

	free(snapshot_a_configured_vm());
	free(fake.api_rec);
	fake.api_rec = strdup("{\"boot-source\": null, \"devices\": 3}");
	body = load_in_a_fresh_vmm(&fresh, 400);
	cr_assert(strstr(body, "Load snapshot error: Failed to restore from snapshot: the "
			       "snapshot's API configuration: devices: not an array"),
		  "%s", body);
	free(body);
}
