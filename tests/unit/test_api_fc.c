/* Firecracker 1.x's answers where volt's API used to differ (issue #14):
 * its parser's messages (unknown paths, empty PUT/PATCH, a GET's body, ids,
 * trailing slashes), the pre-/post-boot rules of PATCH /drives and
 * FlushMetrics, "Deprecation: true", empty rate limiters, the files a PUT
 * opens, PUT /serial, pmem's root rules, memory hotplug's configuration and
 * sizes, and the operations on features volt lacks (hotplug of drives,
 * interfaces and pmem devices). The exact texts are
 * Firecracker's (src/firecracker/src/api_server, src/vmm/src/rpc_interface.rs). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/router.h"
#include "api/vm_config_json.h"
#include "devices/virtio/virtio_balloon.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_mem.h"
#include "devices/virtio/virtio_pmem.h"
#include "devices/virtio/virtio_net.h"
#include "util/log.h"

#define NOT_AFTER  "The requested operation is not supported after starting the microVM."
#define NOT_BEFORE "The requested operation is not supported before starting the microVM."
#define START	   "{\"action_type\": \"InstanceStart\"}"

static int f_start(void *ctx, const struct api_config *cfg, bool *undone, char *why, size_t n)
{
	(void)ctx;
	(void)undone;
	(void)cfg;
	(void)why;
	(void)n;
	return 0;
}

static int f_flush(void *ctx)
{
	(void)ctx;
	return 0;
}

static int f_rl_update(void *ctx, const struct device_kind *k, const char *id, const char *key,
		       const struct rl_config *cfg)
{
	(void)ctx;
	(void)k;
	(void)id;
	(void)key;
	(void)cfg;
	return 0;
}

/* A running virtio-mem device's sizes, as the front end's ops see them. */
static struct mem_hotplug_status mem_now;

static int f_mem_status(void *ctx, struct mem_hotplug_status *s)
{
	(void)ctx;
	*s = mem_now;
	return 0;
}

static int f_mem_request(void *ctx, unsigned int mib, char *why, size_t n)
{
	(void)ctx;
	if (mib > mem_now.total_mib) {
		snprintf(why, n, "too big");
		return -EINVAL;
	}
	mem_now.requested_mib = mib;
	return 0;
}

static const struct api_ops fake_files = {
	.instance_start = f_start,
	.flush_metrics = f_flush,
	.rate_limiter_update = f_rl_update,
};

/* volt's own checks of the host's files. */
static const struct api_ops host_files = {
	.file_check = api_file_check,
	.mem_hotplug_status = f_mem_status,
	.mem_hotplug_request = f_mem_request,
	.instance_start = f_start,
	.flush_metrics = f_flush,
	.rate_limiter_update = f_rl_update,
};

static struct api_state st;
static struct api_response last;
static char dir[64];
static char kernel[128];

static void setup(void)
{
	int fd;

	log_set_level(LOG_OFF);
	api_state_init(&st, &host_files, NULL, "fc");
	snprintf(dir, sizeof(dir), "/tmp/volt-api-fc-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(kernel, sizeof(kernel), "%s/vmlinux", dir);
	fd = open(kernel, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	cr_assert(fd >= 0);
	close(fd);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(fc, .init = setup, .fini = teardown);

/* One request: its status; the fault message (or "") in msg. */
static int req(const char *method, const char *url, const char *body, char *msg, size_t size)
{
	json_t *j;

	free(last.body);
	api_handle(&st, method, url, body ? body : "", body ? strlen(body) : 0, &last);
	if (msg)
		msg[0] = '\0';
	if (last.body) {
		j = json_loads(last.body, 0, NULL);
		cr_assert(j, "not JSON: %s", last.body);
		if (msg && json_string_value(json_object_get(j, "fault_message")))
			snprintf(msg, size, "%s",
				 json_string_value(json_object_get(j, "fault_message")));
		json_decref(j);
	}
	return last.status;
}

/* A 400 with exactly that fault message. */
#define SERDE SERDE_PREFIX

static void fault_is(const char *method, const char *url, const char *body, const char *want)
{
	char msg[1024];
	int s = req(method, url, body, msg, sizeof(msg));

	cr_assert_eq(s, 400, "%s %s: status %d (%s)", method, url, s, msg);
	cr_assert_str_eq(msg, want, "%s %s: %s", method, url, msg);
}

static void status_is(const char *method, const char *url, const char *body, int want)
{
	char msg[1024];
	int s = req(method, url, body, msg, sizeof(msg));

	cr_assert_eq(s, want, "%s %s %s: status %d (%s)", method, url, body ? body : "", s, msg);
}

static void boot_source(void)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}", kernel);
	status_is("PUT", "/boot-source", body, 204);
}

static void start(void)
{
	boot_source();
	status_is("PUT", "/actions", START, 204);
}

Test(fc, empty_bodies_and_a_gets_body)
{
	fault_is("PATCH", "/machine-config", "{}", "Empty PATCH request.");
	fault_is("PATCH", "/machine-config", "{\"vcpu_count\": null, \"smt\": null}",
		 "Empty PATCH request.");
	fault_is("PATCH", "/machine-config", NULL, "Empty PATCH request.");
	/* serde reads the body first: an unknown key is its error. */
	fault_is("PATCH", "/machine-config", "{\"foo\": null}",
		 SERDE "unknown field `foo`, expected one of `vcpu_count`, `mem_size_mib`, `smt`, "
		       "`cpu_template`, `track_dirty_pages`, `huge_pages` at line 1 column 6.");
	fault_is("PUT", "/machine-config", NULL, "Empty PUT request.");
	fault_is("PUT", "/no-such-thing", NULL, "Empty PUT request.");
	fault_is("GET", "/machine-config", "{}", "GET request cannot have a body.");
	fault_is("GET", "/", "x", "GET request cannot have a body.");
	fault_is("DELETE", "/drives/a", "{}", "Empty Delete request.");
	status_is("PATCH", "/machine-config", "{\"vcpu_count\": 2}", 204);
	/* After boot too: the parser answers before the pre-boot rule. */
	start();
	fault_is("PATCH", "/machine-config", "{}", "Empty PATCH request.");
	fault_is("PATCH", "/machine-config", "{\"smt\": null}", "Empty PATCH request.");
}

Test(fc, unknown_paths_are_400)
{
	fault_is("GET", "/nope", NULL, "Invalid request method and/or path: GET nope.");
	fault_is("GET", "/nope/deeper", NULL, "Invalid request method and/or path: GET nope.");
	fault_is("PUT", "/nope", "{}", "Invalid request method and/or path: PUT nope.");
	fault_is("PATCH", "/boot-source", "{}",
		 "Invalid request method and/or path: PATCH boot-source.");
	fault_is("GET", "/drives/a", NULL, "Invalid request method and/or path: GET drives.");
	fault_is("GET", "/vm", NULL, "Invalid request method and/or path: GET vm.");
	fault_is("GET", "/hotplug/cpu", NULL, "Invalid request method and/or path: GET hotplug.");
	fault_is("DELETE", "/vsock", NULL, "Invalid request method and/or path: DELETE vsock.");
	fault_is("GET", "/balloon/nope", NULL, "Unrecognized GET request path `nope`.");
	fault_is("PUT", "/snapshot", "{}", "Missing snapshot operation type.");
	fault_is("PUT", "/snapshot/", "{}", "Missing snapshot operation type.");
	fault_is("PUT", "/snapshot/x", "{}",
		 "Invalid request method and/or path: PUT /snapshot/x.");
}

/* Firecracker trims every leading '/', drops one trailing empty segment and
 * ignores the segments its route does not read. */
Test(fc, slashes_as_firecracker)
{
	status_is("GET", "/machine-config/", NULL, 200);
	status_is("GET", "//machine-config", NULL, 200);
	status_is("GET", "/machine-config/anything", NULL, 200);
	status_is("GET", "/version/", NULL, 200);
	status_is("GET", "", NULL, 200);
	status_is("GET", "//", NULL, 200);
	status_is("GET", "/vm/config/", NULL, 200);
	status_is("PATCH", "/machine-config/", "{\"vcpu_count\": 2}", 204);
	status_is("PUT", "/drives/a/",
		  "{\"drive_id\": \"a\", \"path_on_host\": \"/dev/null\", \"is_root_device\": "
		  "false, \"is_read_only\": true}",
		  204);
	fault_is("PUT", "/drives/", "{}", "The ID cannot be empty.");
	fault_is("PUT", "/drives//", "{}", "The ID cannot be empty.");
	fault_is("PUT", "/drives/a-b", "{}",
		 "API Resource IDs can only contain alphanumeric characters and underscores.");
	fault_is("PATCH", "/network-interfaces", "{}", "The ID cannot be empty.");
}

Test(fc, pre_boot_refusals)
{
	status_is("PUT", "/drives/d",
		  "{\"drive_id\": \"d\", \"path_on_host\": \"/dev/null\", \"is_root_device\": "
		  "false, \"is_read_only\": true}",
		  204);
	fault_is("PATCH", "/drives/d", "{\"drive_id\": \"d\", \"path_on_host\": \"/dev/zero\"}",
		 NOT_BEFORE);
	fault_is("PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", NOT_BEFORE);
	fault_is("DELETE", "/drives/d", NULL, NOT_BEFORE);
	fault_is("DELETE", "/network-interfaces/n", NULL, NOT_BEFORE);
	fault_is("DELETE", "/pmem/p", NULL, NOT_BEFORE);
	fault_is("GET", "/hotplug/memory", NULL, NOT_BEFORE);
	fault_is("PATCH", "/hotplug/memory", "{\"requested_size_mib\": 128}", NOT_BEFORE);
	fault_is("PATCH", "/pmem/p", "{\"id\": \"p\"}", NOT_BEFORE);
}

Test(fc, post_boot_answers)
{
	status_is("PUT", "/drives/d",
		  "{\"drive_id\": \"d\", \"path_on_host\": \"/dev/null\", \"is_root_device\": "
		  "false, \"is_read_only\": true}",
		  204);
	start();
	fault_is("PATCH", "/drives/d", "{\"drive_id\": \"d\"}",
		 "Drive config error: Unable to patch the block device: Block: Running method "
		 "expected different backend. Please verify the request arguments.");
	fault_is("PATCH", "/drives/e", "{\"drive_id\": \"e\"}",
		 "Drive config error: Unable to patch the block device: Failed perform action on "
		 "device: Device not found Please verify the request arguments.");
	fault_is("PATCH", "/drives/d", "{\"drive_id\": \"e\"}",
		 "The id from the path does not match the id from the body!");
	status_is("PATCH", "/drives/d", "{\"drive_id\": \"d\", \"rate_limiter\": {}}", 204);
	status_is("PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", 204);
	/* Hotplug needs PCI in Firecracker; volt's devices are virtio-mmio. */
	fault_is("PUT", "/drives/e",
		 "{\"drive_id\": \"e\", \"path_on_host\": \"/dev/null\", \"is_root_device\": "
		 "false}",
		 "PCI is not enabled");
	fault_is("PUT", "/network-interfaces/n", "{\"iface_id\": \"n\", \"host_dev_name\": \"t\"}",
		 "PCI is not enabled");
	fault_is("PUT", "/drives/e", "{\"drive_id\": \"e\"}",
		 "An error occurred when deserializing the json body of a request: missing field "
		 "`is_root_device` at line 1 column 17.");
	fault_is("DELETE", "/drives/d", NULL, "PCI is not enabled");
	fault_is("DELETE", "/network-interfaces/n", NULL, "PCI is not enabled");
	fault_is("DELETE", "/pmem/p", NULL, "PCI is not enabled");
	fault_is("PUT", "/pmem/p", "{\"id\": \"p\", \"path_on_host\": \"/x\"}",
		 "PCI is not enabled");
	fault_is("GET", "/hotplug/memory", NULL,
		 "Internal VMM error: Failed perform action on device: Device not found");
	fault_is("PATCH", "/hotplug/memory", "{\"requested_size_mib\": 128}",
		 "Memory hotplug update error: Failed perform action on device: Device not found");
	fault_is("PUT", "/hotplug/memory", "{\"total_size_mib\": 1024}", NOT_AFTER);
	fault_is("PUT", "/serial", "{\"serial_out_path\": \"/tmp/x\"}", NOT_AFTER);
	fault_is("PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/tmp/v\"}", NOT_AFTER);
}

/* Firecracker's test_api_memory_hotplug, and its MemoryHotplugConfig's
 * rules in its words. */
Test(fc, memory_hotplug)
{
	static const struct {
		const char *body, *want;
	} bad[] = {
		{ "{\"total_size_mib\": 1024, \"block_size_mib\": 1}",
		  "Memory hotplug config error: Block size must not be lower than 2 MiB" },
		{ "{\"total_size_mib\": 1024, \"block_size_mib\": 3}",
		  "Memory hotplug config error: Block size must be a power of 2" },
		{ "{\"total_size_mib\": 1024, \"slot_size_mib\": 64}",
		  "Memory hotplug config error: Slot size must not be lower than 128 MiB" },
		{ "{\"total_size_mib\": 1024, \"block_size_mib\": 256, \"slot_size_mib\": 384}",
		  "Memory hotplug config error: Slot size must be a multiple of block size (256 "
		  "MiB)" },
		{ "{\"total_size_mib\": 64}", "Memory hotplug config error: Total size must not be "
					      "lower than slot size (128 MiB)" },
		{ "{\"total_size_mib\": 200}", "Memory hotplug config error: Total size must be a "
					       "multiple of slot size (128 MiB)" },
	};
	char msg[1024];
	json_t *j;

	boot_source();
	status_is("PUT", "/hotplug/memory",
		  "{\"total_size_mib\": 1024, \"block_size_mib\": 128, \"slot_size_mib\": 1024}",
		  204);
	status_is("PUT", "/hotplug/memory", "{\"total_size_mib\": 1024}", 204);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		fault_is("PUT", "/hotplug/memory", bad[i].body, bad[i].want);
	cr_assert_eq(req("PUT", "/hotplug/memory", "{\"block_size_mib\": 2}", msg, sizeof(msg)),
		     400);
	cr_assert(strstr(msg, "total_size_mib"), "%s", msg);
	cr_assert_eq(req("PUT", "/hotplug/memory", "{\"total_size_mib\": 1024, \"x\": 1}", msg,
			 sizeof(msg)),
		     400);
	/* The last good PUT stands: total 1024, the default block and slot. */
	j = api_config_to_json(&st.cfg);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "memory-hotplug"),
							"block_size_mib")),
		     2);
	json_decref(j);
	cr_assert_neq(req("GET", "/hotplug/memory", NULL, msg, sizeof(msg)), 200);
	fault_is("PATCH", "/hotplug/memory", "{\"requested_size_mib\": 512}", NOT_BEFORE);
	start();
	fault_is("PUT", "/hotplug/memory", "{\"total_size_mib\": 1024}", NOT_AFTER);
	mem_now = (struct mem_hotplug_status){ .total_mib = 1024, .block_mib = 2, .slot_mib = 128 };
	status_is("GET", "/hotplug/memory", NULL, 200);
	j = json_loads(last.body, 0, NULL);
	cr_assert_eq(json_integer_value(json_object_get(j, "total_size_mib")), 1024);
	json_decref(j);
	status_is("PATCH", "/hotplug/memory", "{\"requested_size_mib\": 512}", 204);
	status_is("GET", "/hotplug/memory", NULL, 200);
	j = json_loads(last.body, 0, NULL);
	cr_assert_eq(json_integer_value(json_object_get(j, "requested_size_mib")), 512);
	json_decref(j);
	fault_is("PATCH", "/hotplug/memory", "{\"requested_size_mib\": 4096}", "too big");
	cr_assert_eq(req("PATCH", "/hotplug/memory", "{}", msg, sizeof(msg)), 400);
	cr_assert(strstr(msg, "requested_size_mib"), "%s", msg);
}

/* Without a virtio-mem device Firecracker finds none. */
Test(fc, memory_hotplug_without_a_device)
{
	boot_source();
	start();
	fault_is("GET", "/hotplug/memory", NULL,
		 "Internal VMM error: Failed perform action on device: Device not found");
	fault_is("PATCH", "/hotplug/memory", "{\"requested_size_mib\": 512}",
		 "Memory hotplug update error: Failed perform action on device: Device not found");
}

Test(fc, deprecation_header)
{
	status_is("PUT", "/machine-config",
		  "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": \"None\"}", 204);
	cr_assert(last.deprecated);
	status_is("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}", 204);
	cr_assert_not(last.deprecated);
	status_is("PATCH", "/machine-config", "{\"cpu_template\": \"None\"}", 204);
	cr_assert(last.deprecated);
	status_is("PATCH", "/machine-config", "{\"cpu_template\": null, \"vcpu_count\": 1}", 204);
	cr_assert_not(last.deprecated);
	status_is("PUT", "/vsock",
		  "{\"vsock_id\": \"v\", \"guest_cid\": 3, \"uds_path\": \"/tmp/v.s\"}", 204);
	cr_assert(last.deprecated);
	status_is("PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/tmp/v.s\"}", 204);
	cr_assert_not(last.deprecated);
	/* A parsed request keeps it whatever the VMM answers. */
	start();
	fault_is("PUT", "/vsock", "{\"vsock_id\": \"v\", \"guest_cid\": 3, \"uds_path\": \"/v\"}",
		 NOT_AFTER);
	cr_assert(last.deprecated);
}

Test(fc, empty_rate_limiters_are_none)
{
	status_is("PUT", "/drives/d",
		  "{\"drive_id\": \"d\", \"path_on_host\": \"/dev/null\", \"is_root_device\": "
		  "false, \"is_read_only\": true, \"rate_limiter\": {}}",
		  204);
	status_is("PUT", "/network-interfaces/n",
		  "{\"iface_id\": \"n\", \"host_dev_name\": \"t\", \"rx_rate_limiter\": {}, "
		  "\"tx_rate_limiter\": {\"bandwidth\": null}}",
		  204);
	status_is("PUT", "/entropy", "{\"rate_limiter\": {}}", 204);
	/* The serial's is one TokenBucketConfig, whose size and refill_time
	 * serde wants; and RateLimiterConfig's other keys are unknown. */
	status_is("PUT", "/serial", "{\"rate_limiter\": {}}", 400);
	status_is("PUT", "/serial", "{\"rate_limiter\": {\"size\": null, \"refill_time\": null}}",
		  400);
	status_is("PUT", "/serial", "{\"rate_limiter\": null}", 204);
	status_is("PUT", "/entropy", "{\"rate_limiter\": {\"foo\": null}}", 400);
	status_is("PUT", "/drives/d",
		  "{\"drive_id\": \"d\", \"path_on_host\": \"/dev/null\", \"is_root_device\": "
		  "false, \"rate_limiter\": {\"bandwidth\": null, \"foo\": null}}",
		  400);
	/* A real one is a limiter (core/rate_limiter.h). */
	status_is("PUT", "/drives/d",
		  "{\"drive_id\": \"d\", \"path_on_host\": \"/dev/null\", \"is_root_device\": "
		  "false, \"is_read_only\": true, \"rate_limiter\": {\"ops\": {\"size\": 1, "
		  "\"refill_time\": 10}}}",
		  204);
}

/* Firecracker opens the kernel, the initrd and a drive's file at PUT, and
 * binds the vsock's socket then. */
Test(fc, files_checked_at_put)
{
	char body[512], path[128], want[512];
	int fd;

	fault_is("PUT", "/boot-source", "{\"kernel_image_path\": \"/no/such/vmlinux\"}",
		 "Boot source error: The kernel file cannot be opened: No such file or directory "
		 "(os error 2)");
	snprintf(body, sizeof(body),
		 "{\"kernel_image_path\": \"%s\", \"initrd_path\": \"/no/such/initrd\"}", kernel);
	fault_is("PUT", "/boot-source", body,
		 "Boot source error: The initrd file cannot be opened due to invalid path or "
		 "invalid permissions. No such file or directory (os error 2)");
	cr_assert_not(st.cfg.has_boot, "a refused PUT changes nothing");
	boot_source();
	cr_assert_str_eq(st.cfg.kernel, kernel);
	fault_is("PUT", "/drives/d",
		 "{\"drive_id\": \"d\", \"path_on_host\": \"foo.bar\", \"is_root_device\": false}",
		 "Drive config error: Unable to create the virtio block device: Virtio backend "
		 "error: Error manipulating the backing file: No such file or directory (os error "
		 "2) foo.bar");
	cr_assert_null(api_device_find(&st.cfg, &virtio_blk_kind, "d"));
	/* A read-write drive needs a writable file. */
	if (geteuid()) {
		snprintf(path, sizeof(path), "%s/ro.img", dir);
		fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0444);
		close(fd);
		snprintf(body, sizeof(body),
			 "{\"drive_id\": \"d\", \"path_on_host\": \"%s\", \"is_root_device\": "
			 "false}",
			 path);
		snprintf(
			want, sizeof(want),
			"Drive config error: Unable to create the virtio block device: Virtio "
			"backend error: Error manipulating the backing file: Permission denied (os "
			"error 13) %s",
			path);
		fault_is("PUT", "/drives/d", body, want);
	}
	fault_is("PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/no/such/dir/v.sock\"}",
		 "Vsock config error: Cannot create backend for vsock device: Error binding to the "
		 "host-side Unix socket: No such file or directory (os error 2)");
	snprintf(body, sizeof(body), "{\"guest_cid\": 3, \"uds_path\": \"%s\"}", kernel);
	/* musl's words, as Firecracker's releases print them (util/rust_err.h). */
	fault_is("PUT", "/vsock", body,
		 "Vsock config error: Cannot create backend for vsock device: Error binding to the "
		 "host-side Unix socket: Address in use (os error 98)");
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	snprintf(body, sizeof(body), "{\"guest_cid\": 3, \"uds_path\": \"%s\"}", path);
	status_is("PUT", "/vsock", body, 204);
	/* A stale socket there is replaced at InstanceStart. */
	{
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		cr_assert_lt(strlen(path), sizeof(a.sun_path));
		memcpy(a.sun_path, path, strlen(path) + 1);
		cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
		close(s);
	}
	status_is("PUT", "/vsock", body, 204);
}

/* The unit tests' configurations name files that do not exist: without
 * api_ops.file_check nothing is opened. */
Test(fc, no_file_check_without_the_op)
{
	api_state_init(&st, &fake_files, NULL, "fc");
	status_is("PUT", "/boot-source", "{\"kernel_image_path\": \"/no/such/vmlinux\"}", 204);
	status_is(
		"PUT", "/drives/d",
		"{\"drive_id\": \"d\", \"path_on_host\": \"/no/such\", \"is_root_device\": false}",
		204);
}

Test(fc, serial_out_path)
{
	struct vm_config v = { 0 };
	char cmdline[API_CMDLINE_MAX + 256], why[256];

	status_is("PUT", "/serial", "{\"serial_out_path\": \"/tmp/serial.out\"}", 204);
	cr_assert_str_eq(st.cfg.serial_out_path, "/tmp/serial.out");
	fault_is("PUT", "/serial", "{\"serial_out_path\": 1}",
		 SERDE "invalid type: integer `1`, expected path string at line 1 column 21.");
	fault_is("PUT", "/serial", "{\"serial_path\": \"/x\"}",
		 SERDE "unknown field `serial_path`, expected `serial_out_path` or `rate_limiter` "
		       "at line 1 column 14.");
	cr_assert_str_eq(st.cfg.serial_out_path, "/tmp/serial.out");
	boot_source();
	cr_assert_eq(api_config_to_vm(&st.cfg, &v, cmdline, sizeof(cmdline), why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_str_eq(v.serial_out_path, "/tmp/serial.out");
	status_is("PUT", "/serial", "{}", 204);
	cr_assert_eq(api_config_to_vm(&st.cfg, &v, cmdline, sizeof(cmdline), why, sizeof(why)), 0);
	cr_assert_null(v.serial_out_path);
	/* Firecracker's rate_limiter: one token bucket of output bytes. */
	fault_is("PUT", "/serial", "{\"rate_limiter\": {\"size\": 10}}",
		 SERDE "missing field `refill_time` at line 1 column 29.");
	/* A TokenBucketConfig ignores other keys: `size` is what is missing. */
	fault_is("PUT", "/serial", "{\"rate_limiter\": {\"bandwidth\": {}}}",
		 SERDE "missing field `size` at line 1 column 34.");
	fault_is("PUT", "/serial", "{\"rate_limiter\": 5}",
		 SERDE "invalid type: integer `5`, expected struct TokenBucketConfig at line 1 "
		       "column 18.");
	status_is("PUT", "/serial",
		  "{\"rate_limiter\": {\"size\": 64, \"one_time_burst\": 8, \"refill_time\": 100}}",
		  204);
	cr_assert_eq(api_config_to_vm(&st.cfg, &v, cmdline, sizeof(cmdline), why, sizeof(why)), 0);
	cr_assert_eq(v.serial_rate_limiter.size, 64);
	cr_assert_eq(v.serial_rate_limiter.one_time_burst, 8);
	cr_assert_eq(v.serial_rate_limiter.refill_time, 100);
	status_is("PUT", "/serial", "{}", 204);
	cr_assert_eq(api_config_to_vm(&st.cfg, &v, cmdline, sizeof(cmdline), why, sizeof(why)), 0);
	cr_assert_eq(v.serial_rate_limiter.size, 0, "a PUT without one lifts it");
}

/* Refused at PUT, as Firecracker refuses them then. */
Test(fc, limits_at_put)
{
	char *body = malloc(4096), args[2100];

	/* 2048 bytes with its NUL is x86's COMMAND_LINE_SIZE: 2047 characters fit,
	 * counted as linux-loader's Cmdline::try_from counts them. */
	memset(args, 'a', 2048);
	args[2048] = '\0';
	snprintf(body, 4096, "{\"kernel_image_path\": \"%s\", \"boot_args\": \"%s\"}", kernel,
		 args);
	fault_is("PUT", "/boot-source", body,
		 "Boot source error: The kernel command line is invalid: Invalid cmdline capacity "
		 "provided.");
	args[2047] = '\0';
	snprintf(body, 4096, "{\"kernel_image_path\": \"%s\", \"boot_args\": \"%s\"}", kernel,
		 args);
	status_is("PUT", "/boot-source", body, 204);
	/* White space around the kernel's part and init's is not counted. */
	snprintf(body, 4096, "{\"kernel_image_path\": \"%s\", \"boot_args\": \"   %.2046s   \"}",
		 kernel, args);
	status_is("PUT", "/boot-source", body, 204);
	snprintf(body, 4096,
		 "{\"kernel_image_path\": \"%s\", \"boot_args\": \"%.1000s --  %.1043s \"}", kernel,
		 args, args);
	status_is("PUT", "/boot-source", body, 204);
	snprintf(body, 4096,
		 "{\"kernel_image_path\": \"%s\", \"boot_args\": \"%.1000s -- %.1044s\"}", kernel,
		 args, args);
	fault_is("PUT", "/boot-source", body,
		 "Boot source error: The kernel command line is invalid: Invalid cmdline capacity "
		 "provided.");
	free(body);
	status_is("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 256}", 204);
	fault_is("PUT", "/balloon", "{\"amount_mib\": 257, \"deflate_on_oom\": false}",
		 "Balloon config error: Amount of pages requested is too large.");
	cr_assert_null(api_device_find(&st.cfg, &virtio_balloon_kind, NULL));
	status_is("PUT", "/balloon", "{\"amount_mib\": 200, \"deflate_on_oom\": false}", 204);
	fault_is("PATCH", "/machine-config", "{\"mem_size_mib\": 128}",
		 "Machine config error: The memory size (MiB) is smaller than the previously set "
		 "balloon device target size.");
	cr_assert_eq(st.cfg.mem_mib, 256);
	status_is("PATCH", "/machine-config", "{\"mem_size_mib\": 200}", 204);
}

/* A FIFO nobody writes does not stop the API at PUT (InstanceStart names it). */
Test(fc, a_fifo_does_not_block_the_put, .timeout = 10)
{
	char path[128], body[256];

	snprintf(path, sizeof(path), "%s/fifo", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}", path);
	status_is("PUT", "/boot-source", body, 204);
	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"d\", \"path_on_host\": \"%s\", \"is_root_device\": false}",
		 path);
	status_is("PUT", "/drives/d", body, 204);
}

/* Firecracker 1.x's mtu: 68 to 65535, offered as VIRTIO_NET_F_MTU. */
Test(fc, network_interface_mtu)
{
	const struct api_device *d;
	const struct net_config *n;
	char msg[512];

	status_is("PUT", "/network-interfaces/n",
		  "{\"iface_id\": \"n\", \"host_dev_name\": \"t\", \"mtu\": 9000}", 204);
	d = api_device_find(&st.cfg, &virtio_net_kind, "n");
	cr_assert(d);
	n = (const void *)d->dev.data;
	cr_assert(n->has_mtu);
	cr_assert_eq(n->mtu, 9000);
	status_is("PUT", "/network-interfaces/n", "{\"iface_id\": \"n\", \"host_dev_name\": \"t\"}",
		  204);
	n = (const void *)api_device_find(&st.cfg, &virtio_net_kind, "n")->dev.data;
	cr_assert_not(n->has_mtu);
	cr_assert_eq(req("PUT", "/network-interfaces/n",
			 "{\"iface_id\": \"n\", \"host_dev_name\": \"t\", \"mtu\": 67}", msg,
			 sizeof(msg)),
		     400);
	/* Net::new's NetError::InvalidMtu */
	cr_assert(strstr(msg, "Could not create the network device: MTU 67 is out of range "
			      "[68, 65535]"),
		  "%s", msg);
	cr_assert_eq(req("PUT", "/network-interfaces/n",
			 "{\"iface_id\": \"n\", \"host_dev_name\": \"t\", \"mtu\": 65536}", msg,
			 sizeof(msg)),
		     400);
	cr_assert_str_eq(msg,
			 SERDE "invalid value: integer `65536`, expected u16 at line 1 column 52.");
}

Test(fc, mtu_in_vm_config)
{
	json_t *j;
	char *s;

	status_is("PUT", "/network-interfaces/n",
		  "{\"iface_id\": \"n\", \"host_dev_name\": \"t\", \"mtu\": 1500}", 204);
	status_is("PUT", "/network-interfaces/m", "{\"iface_id\": \"m\", \"host_dev_name\": \"u\"}",
		  204);
	j = api_config_to_json(&st.cfg);
	s = json_dumps(json_object_get(j, "network-interfaces"), JSON_COMPACT);
	cr_assert_str_eq(s, "[{\"iface_id\":\"n\",\"host_dev_name\":\"t\",\"guest_mac\":null,"
			    "\"mtu\":1500,\"rx_rate_limiter\":null,\"tx_rate_limiter\":null},"
			    "{\"iface_id\":\"m\",\"host_dev_name\":\"u\",\"guest_mac\":null,"
			    "\"mtu\":null,\"rx_rate_limiter\":null,\"tx_rate_limiter\":null}]");
	free(s);
	json_decref(j);
}

/* PUT /serial is not boot-specific: a snapshot load may follow it. */
Test(fc, serial_then_snapshot_load)
{
	char msg[1024];

	status_is("PUT", "/serial", "{\"serial_out_path\": \"/tmp/serial.out\"}", 204);
	cr_assert_eq(req("PUT", "/snapshot/load",
			 "{\"snapshot_path\": \"/s\", \"mem_backend\": {\"backend_type\": "
			 "\"File\", \"backend_path\": \"/m\"}}",
			 msg, sizeof(msg)),
		     400);
	cr_assert_not(strstr(msg, "boot-specific"), "%s", msg);
}

/* Firecracker's test_pmem_api: one root device across drives and pmem
 * devices, one root pmem device; a PUT names no file it checks. */
Test(fc, pmem_root_rules)
{
	const char *pmem_root =
		"{\"id\": \"pmem\", \"path_on_host\": \"/p\", \"root_device\": true}";
	char cmdline[512], why[256];
	static struct vm_config vc;

	fault_is("PUT", "/pmem/pmem", "{\"id\": \"pmem\"}",
		 "An error occurred when deserializing the json body of a request: missing field "
		 "`path_on_host` at line 1 column 14.");
	status_is("PUT", "/drives/drive",
		  "{\"drive_id\": \"drive\", \"path_on_host\": \"/dev/null\", \"is_read_only\": "
		  "true, \"is_root_device\": true}",
		  204);
	fault_is("PUT", "/pmem/pmem", pmem_root,
		 "Pmem config error: Attempt to add pmem as a root device while the root device "
		 "defined as a block device");
	status_is("PUT", "/drives/drive",
		  "{\"drive_id\": \"drive\", \"path_on_host\": \"/dev/null\", \"is_read_only\": "
		  "true, \"is_root_device\": false}",
		  204);
	status_is("PUT", "/pmem/pmem", pmem_root, 204);
	fault_is("PUT", "/pmem/pmem2",
		 "{\"id\": \"pmem2\", \"path_on_host\": \"/p\", \"root_device\": true}",
		 "Pmem config error: A root pmem device already exist");
	fault_is("PUT", "/drives/drive",
		 "{\"drive_id\": \"drive\", \"path_on_host\": \"/dev/null\", \"is_read_only\": "
		 "true, \"is_root_device\": true}",
		 "Drive config error: Attempt to add block as a root device while the root device "
		 "defined as a pmem device");
	fault_is("PUT", "/pmem/q", "{\"id\": \"p\", \"path_on_host\": \"/p\"}",
		 "The id from the path does not match the id from the body!");
	status_is("PUT", "/pmem/a",
		  "{\"id\": \"a\", \"path_on_host\": \"/a\", \"read_only\": true}", 204);
	fault_is("PATCH", "/pmem/a", "{\"id\": \"a\"}", NOT_BEFORE);
	boot_source();
	/* The root device is the first pmem device configured: /dev/pmem0. */
	cr_assert_eq(api_config_to_vm(&st.cfg, &vc, cmdline, sizeof(cmdline), why, sizeof(why)), 0,
		     "%s", why);
	cr_assert(strstr(cmdline, "root=/dev/pmem0 rw"), "%s", cmdline);
	status_is("PUT", "/pmem/pmem", "{\"id\": \"pmem\", \"path_on_host\": \"/p\"}", 204);
	status_is("PUT", "/pmem/a",
		  "{\"id\": \"a\", \"path_on_host\": \"/a\", \"read_only\": true, \"root_device\": "
		  "true}",
		  204);
	cr_assert_eq(api_config_to_vm(&st.cfg, &vc, cmdline, sizeof(cmdline), why, sizeof(why)), 0,
		     "%s", why);
	cr_assert(strstr(cmdline, "root=/dev/pmem1 ro"), "%s", cmdline);
	cr_assert_null(strstr(cmdline, "/dev/vda"), "%s", cmdline);
}

/* GET /vm/config has Firecracker 1.x's pmem section (the devices) and its
 * memory-hotplug section (null without one, last); a configuration file's
 * pmem and memory-hotplug sections configure devices. */
Test(fc, pmem_and_memory_hotplug_sections)
{
	static struct api_config c;
	const char *key, *last = NULL;
	json_t *j, *v;
	char why[256];

	boot_source();
	j = api_config_to_json(&st.cfg);
	cr_assert(json_is_array(json_object_get(j, "pmem")));
	cr_assert_eq(json_array_size(json_object_get(j, "pmem")), 0);
	cr_assert(json_is_null(json_object_get(j, "memory-hotplug")));
	json_object_foreach(j, key, v) last = key;
	cr_assert_str_eq(last, "memory-hotplug");
	cr_assert_eq(api_config_from_json(&c, j, why, sizeof(why)), 0, "%s", why);
	json_object_set_new(j, "pmem", json_pack("[{s:s}]", "id", "p"));
	cr_assert_neq(api_config_from_json(&c, j, why, sizeof(why)), 0);
	cr_assert(strstr(why, "path_on_host"), "%s", why);
	json_object_set_new(
		j, "pmem",
		json_pack("[{s:s,s:s,s:b}]", "id", "p", "path_on_host", "/p", "read_only", 1));
	cr_assert_eq(api_config_from_json(&c, j, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(c.ndevices, 1);
	cr_assert_eq(c.devices[0].dev.kind, &virtio_pmem_kind);
	json_decref(j);
	j = api_config_to_json(&c);
	v = json_array_get(json_object_get(j, "pmem"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(v, "id")), "p");
	cr_assert_str_eq(json_string_value(json_object_get(v, "path_on_host")), "/p");
	cr_assert(json_is_true(json_object_get(v, "read_only")));
	cr_assert(json_is_false(json_object_get(v, "root_device")));
	json_object_set_new(j, "pmem", json_null());
	json_object_set_new(j, "memory-hotplug", json_pack("{s:i}", "total_size_mib", 1024));
	cr_assert_eq(api_config_from_json(&c, j, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(c.ndevices, 1);
	cr_assert_eq(c.devices[0].dev.kind, &virtio_mem_kind);
	cr_assert_eq(
		((const struct mem_hotplug_config *)(const void *)c.devices[0].dev.data)->slot_mib,
		128);
	json_decref(j);
	j = api_config_to_json(&c);
	json_object_foreach(j, key, v) last = key;
	cr_assert_str_eq(last, "memory-hotplug");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "memory-hotplug"),
							"total_size_mib")),
		     1024);
	json_object_set_new(j, "memory-hotplug", json_pack("{s:i}", "total_size_mib", 100));
	cr_assert_neq(api_config_from_json(&c, j, why, sizeof(why)), 0);
	cr_assert_str_eq(why, "Memory hotplug config error: Total size must not be lower than "
			      "slot size (128 MiB)");
	json_decref(j);
}

/* null is None for Firecracker's Options and a wrong type for its other
 * fields, serde defaults included (absent is the default): each of these is
 * refused for the null, naming the field, and each absent is taken. */
Test(fc, null_only_where_firecracker_has_an_option)
{
	static const char *const refused[][3] = {
		{ "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"smt\": null}",
		  "invalid type: null, expected a boolean" },
		{ "/machine-config",
		  "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"track_dirty_pages\": null}",
		  "invalid type: null, expected a boolean" },
		{ "/machine-config",
		  "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"huge_pages\": null}",
		  "expected value at line 1" },
		{ "/drives/d",
		  "{\"drive_id\": \"d\", \"path_on_host\": \"/dev/null\", \"is_root_device\": "
		  "false, "
		  "\"cache_type\": null}",
		  "expected value at line 1" },
		{ "/balloon",
		  "{\"amount_mib\": 0, \"deflate_on_oom\": false, \"stats_polling_interval_s\": "
		  "null}",
		  "invalid type: null, expected u16" },
		{ "/balloon",
		  "{\"amount_mib\": 0, \"deflate_on_oom\": false, \"free_page_hinting\": null}",
		  "invalid type: null, expected a boolean" },
		{ "/balloon",
		  "{\"amount_mib\": 0, \"deflate_on_oom\": false, \"free_page_reporting\": null}",
		  "invalid type: null, expected a boolean" },
		{ "/pmem/p",
		  "{\"id\": \"p\", \"path_on_host\": \"/dev/null\", \"root_device\": null}",
		  "invalid type: null, expected a boolean" },
		{ "/pmem/p",
		  "{\"id\": \"p\", \"path_on_host\": \"/dev/null\", \"read_only\": null}",
		  "invalid type: null, expected a boolean" },
		{ "/hotplug/memory", "{\"total_size_mib\": 1024, \"block_size_mib\": null}",
		  "invalid type: null, expected u32" },
		{ "/hotplug/memory", "{\"total_size_mib\": 1024, \"slot_size_mib\": null}",
		  "invalid type: null, expected u32" },
		{ "/metrics", "{\"metrics_path\": \"/tmp/m\", \"emit_id\": null}",
		  "invalid type: null, expected a boolean" },
		{ "/snapshot/create",
		  "{\"snapshot_type\": null, \"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}",
		  "expected value at line 1 column 19." },
	};
	static const char *const load_keys[] = {
		"enable_diff_snapshots", "track_dirty_pages", "resume_vm",
		"network_overrides",	 "clock_realtime",    "huge_pages"
	};
	char msg[1024], body[256];
	size_t i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		cr_assert_eq(req("PUT", refused[i][0], refused[i][1], msg, sizeof(msg)), 400,
			     "%s %s: %s", refused[i][0], refused[i][1], msg);
		cr_assert(strstr(msg, refused[i][2]), "%s: %s", refused[i][1], msg);
	}
	for (i = 0; i < sizeof(load_keys) / sizeof(load_keys[0]); i++) {
		snprintf(body, sizeof(body),
			 "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", \"%s\": null}",
			 load_keys[i]);
		cr_assert_eq(req("PUT", "/snapshot/load", body, msg, sizeof(msg)), 400, "%s: %s",
			     body, msg);
		/* an enum's null is serde_json's "expected value" */
		cr_assert(strstr(msg, strcmp(load_keys[i], "huge_pages") ? "invalid type: null"
									 : "expected value at"),
			  "%s: %s", body, msg);
	}
	/* The Options take null as absent. */
	status_is("PATCH", "/machine-config", "{\"vcpu_count\": 2, \"smt\": null}", 204);
	status_is("PUT", "/machine-config",
		  "{\"vcpu_count\": 1, \"mem_size_mib\": 128, \"cpu_template\": null}", 204);
	status_is(
		"PUT", "/drives/d",
		"{\"drive_id\": \"d\", \"path_on_host\": \"/dev/null\", \"is_root_device\": false, "
		"\"is_read_only\": null, \"partuuid\": null, \"io_engine\": null}",
		204);
	status_is("PUT", "/boot-source",
		  "{\"kernel_image_path\": \"/dev/null\", \"boot_args\": null, \"initrd_path\": "
		  "null}",
		  204);
}

/* The keys of the JSON object text, in order, comma-separated. */
static void keys_of(const char *text, const char *path, char *out, size_t size)
{
	json_t *j = json_loads(text, 0, NULL), *o = j;
	const char *k;
	json_t *v;

	cr_assert(j, "not JSON: %s", text);
	if (path) {
		o = json_object_get(j, path);
		if (json_is_array(o))
			o = json_array_get(o, 0);
	}
	out[0] = '\0';
	json_object_foreach(o, k, v)
	{
		snprintf(out + strlen(out), size - strlen(out), "%s%s", out[0] ? "," : "", k);
	}
	json_decref(j);
}

/* GET /vm/config as serde writes Firecracker's VmmConfig: its sections and
 * each struct's keys in declaration order, a BootSourceConfig even when none
 * was given. */
Test(fc, vm_config_in_firecrackers_order)
{
	char keys[512];

	status_is("GET", "/vm/config", NULL, 200);
	keys_of(last.body, NULL, keys, sizeof(keys));
	cr_assert_str_eq(keys, "balloon,drives,boot-source,cpu-config,logger,machine-config,"
			       "metrics,mmds-config,network-interfaces,vsock,entropy,pmem,"
			       "memory-hotplug");
	keys_of(last.body, "boot-source", keys, sizeof(keys));
	cr_assert_str_eq(keys, "kernel_image_path,initrd_path,boot_args");
	status_is(
		"PUT", "/drives/d",
		"{\"drive_id\": \"d\", \"path_on_host\": \"/dev/null\", \"is_root_device\": false}",
		204);
	status_is("PUT", "/network-interfaces/n0",
		  "{\"iface_id\": \"n0\", \"host_dev_name\": \"t0\"}", 204);
	status_is("GET", "/vm/config", NULL, 200);
	keys_of(last.body, "drives", keys, sizeof(keys));
	cr_assert_str_eq(keys, "drive_id,partuuid,is_root_device,cache_type,is_read_only,"
			       "path_on_host,rate_limiter,io_engine,socket");
	keys_of(last.body, "network-interfaces", keys, sizeof(keys));
	cr_assert_str_eq(keys, "iface_id,host_dev_name,guest_mac,mtu,rx_rate_limiter,"
			       "tx_rate_limiter");
}

/* NetBuilder::build replaces an interface by swap_remove() and a push: the
 * last interface takes the old one's place, the new one goes last (and so
 * in the guest's order). */
Test(fc, a_replaced_interface_goes_last)
{
	static const char *const ids[] = { "n0", "n1", "n2", "n0" };
	char body[128], url[64];
	json_t *j, *nets;
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(body, sizeof(body), "{\"iface_id\": \"%s\", \"host_dev_name\": \"t%zu\"}",
			 ids[i], i);
		snprintf(url, sizeof(url), "/network-interfaces/%s", ids[i]);
		status_is("PUT", url, body, 204);
	}
	status_is("GET", "/vm/config", NULL, 200);
	j = json_loads(last.body, 0, NULL);
	nets = json_object_get(j, "network-interfaces");
	cr_assert_eq(json_array_size(nets), 3);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(nets, 0), "iface_id")),
			 "n2");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(nets, 1), "iface_id")),
			 "n1");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(nets, 2), "iface_id")),
			 "n0");
	json_decref(j);
}
