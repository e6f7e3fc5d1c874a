/* The device table and its loops (devices/device_table.h): every kind is
 * found by its names, parses through its fields, obeys its maximum and its
 * rules across devices, and reports the host paths Landlock and the jailer
 * need. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "devices/device_table.h"
#include "devices/virtio/virtio_balloon.h"
#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtio_mem.h"
#include "devices/virtio/virtio_net.h"
#include "devices/virtio/virtio_rng.h"
#include "devices/virtio/virtio_vsock.h"

static char why[256];
static struct device_config list[DEVICE_MAX_VIRTIO + 1];
static int n;

Test(device_table, every_kind_once_with_its_names)
{
	static const char *const options[] = { "drive",	  "net", "pmem",	  "vsock",
					       "balloon", "rng", "memory-hotplug" };
	static const char *const api[] = { "drives",	    "network-interfaces",
					   "pmem",	    "vsock",
					   "balloon",	    "entropy",
					   "hotplug/memory" };

	cr_assert_eq(device_table_len, 7);
	for (int i = 0; i < 7; i++) {
		const struct device_kind *k = device_kind_by_option(options[i]);

		cr_assert_not_null(k, "--%s", options[i]);
		cr_assert_eq(k, device_table[i], "--%s: table order is the guest's order",
			     options[i]);
		cr_assert_eq(device_kind_by_api_path(api[i]), k, "%s", api[i]);
		cr_assert_eq(device_kind_by_config_key(i == 6 ? "memory-hotplug" : api[i]), k, "%s",
			     api[i]);
		cr_assert_eq(device_kind_by_name(k->name), k);
		cr_assert_not_null(k->create);
		cr_assert_not_null(k->destroy);
		cr_assert_gt(k->max, 0);
		if (k->fields)
			cr_assert_leq(k->fields->size, DEVICE_CONFIG_MAX);
	}
	cr_assert_null(device_kind_by_option("hotplug"));
	cr_assert_null(device_kind_by_option(NULL));
}

static void add(const struct device_kind *k, const char *spec, int want)
{
	struct device_config c;

	cr_assert_eq(device_config_from_spec(k, spec, &c, why, sizeof(why)), 0, "%s: %s", spec,
		     why);
	cr_assert_eq(device_list_add(list, &n, DEVICE_MAX_VIRTIO, &c, why, sizeof(why)), want,
		     "%s: %s", spec, why);
}

Test(device_table, list_rules)
{
	/* As many drives as Firecracker takes (17 devices start on x86) and
	 * more, up to the bound that keeps the arrays fixed. */
	n = 0;
	for (int i = 0; i < DEVICE_MAX_VIRTIO; i++) {
		char spec[64];

		snprintf(spec, sizeof(spec), "path=/d%d,id=d%d", i, i);
		add(&virtio_blk_kind, spec, 0);
	}
	add(&virtio_blk_kind, "path=/dx", -EINVAL);
	cr_assert_str_eq(why, "at most 32 drives");
	cr_assert_eq(device_list_count(list, n, &virtio_blk_kind), DEVICE_MAX_VIRTIO);

	/* Interfaces alike; then the list's own bound, whatever the kinds. */
	n = 0;
	for (int i = 0; i < DEVICE_MAX_VIRTIO; i++) {
		char spec[64];

		snprintf(spec, sizeof(spec), "tap=vt%d", i);
		add(&virtio_net_kind, spec, 0);
	}
	add(&virtio_net_kind, "tap=vtx", -EINVAL);
	cr_assert_str_eq(why, "at most 32 network interfaces");
	n = 0;
	for (int i = 0; i < DEVICE_MAX_VIRTIO / 2; i++) {
		char spec[64];

		snprintf(spec, sizeof(spec), "path=/d%d", i);
		add(&virtio_blk_kind, spec, 0);
		snprintf(spec, sizeof(spec), "tap=vt%d", i);
		add(&virtio_net_kind, spec, 0);
	}
	add(&virtio_rng_kind, NULL, -E2BIG);
	cr_assert_str_eq(why, "more than 32 devices");
	cr_assert_eq(n, DEVICE_MAX_VIRTIO);

	n = 0;
	add(&virtio_blk_kind, "path=/a,id=a", 0);
	add(&virtio_net_kind, "tap=vt0", 0);
	add(&virtio_blk_kind, "path=/b,id=a", -EINVAL);
	cr_assert_str_eq(why, "id 'a' is already another --drive's");
	add(&virtio_blk_kind, "path=/b", 0); /* no id: no conflict */
	add(&virtio_vsock_kind, "cid=3,uds=/tmp/v.sock", 0);
	add(&virtio_vsock_kind, "cid=4,uds=/tmp/w.sock", -EINVAL);
	cr_assert_str_eq(why, "only one vsock device");
	add(&virtio_balloon_kind, "64", 0);
	add(&virtio_balloon_kind, "64", -EINVAL);
	cr_assert_str_eq(why, "only one balloon");
	add(&virtio_rng_kind, NULL, 0);
	cr_assert_eq(n, 6);
}

Test(device_table, validate_against_the_vm)
{
	const struct device_config *bad = NULL;
	struct device_vm_facts vm = { .mem_size = 128ULL << 20 };

	n = 0;
	add(&virtio_blk_kind, "path=/a", 0);
	add(&virtio_balloon_kind, "128", 0);
	cr_assert_eq(device_list_validate(list, n, &vm, &bad, why, sizeof(why)), -EINVAL);
	cr_assert_eq(bad, &list[1]);
	cr_assert_str_eq(why,
			 "a 128 MiB balloon must be smaller than the guest's 128 MiB of memory");
	vm.mem_size = 256ULL << 20;
	cr_assert_eq(device_list_validate(list, n, &vm, &bad, why, sizeof(why)), 0);
}

Test(device_table, host_paths_with_their_access)
{
	struct device_path p[8];

	n = 0;
	add(&virtio_blk_kind, "path=/rw", 0);
	add(&virtio_net_kind, "tap=vt0", 0);
	add(&virtio_blk_kind, "path=/ro,ro", 0);
	add(&virtio_vsock_kind, "cid=3,uds=/run/v.sock", 0);
	add(&virtio_rng_kind, NULL, 0);
	cr_assert_eq(device_list_host_paths(list, n, p, 8), 3);
	cr_assert_str_eq(p[0].path, "/rw");
	cr_assert_eq(p[0].access, FIELD_ACCESS_READ_WRITE);
	cr_assert_str_eq(p[1].path, "/ro");
	cr_assert_eq(p[1].access, FIELD_ACCESS_READ);
	cr_assert_str_eq(p[2].path, "/run/v.sock");
	cr_assert_eq(p[2].access, FIELD_ACCESS_SOCKET_CREATE);
	/* A short array is never overrun. */
	cr_assert_eq(device_list_host_paths(list, n, p, 2), 2);
}

Test(device_table, json_through_the_kinds_fields)
{
	struct device_config c;
	json_t *j = json_pack("{s:i, s:s}", "guest_cid", 3, "uds_path", "/v.sock"), *back;
	const struct vsock_config *v = (const void *)c.data;

	cr_assert_eq(
		device_config_from_json(&virtio_vsock_kind, "vsock", j, NULL, &c, why, sizeof(why)),
		0, "%s", why);
	cr_assert_eq(v->cid, 3);
	cr_assert_str_eq(v->uds, "/v.sock");
	back = device_config_to_json(&c);
	cr_assert(json_equal(j, back));
	json_decref(back);
	json_object_set_new(j, "guest_cid", json_integer(2));
	cr_assert_eq(
		device_config_from_json(&virtio_vsock_kind, "vsock", j, NULL, &c, why, sizeof(why)),
		-EINVAL);
	cr_assert_str_eq(why, "vsock: guest_cid: 2 is reserved (0-2 are the hypervisor, local and "
			      "host addresses); a guest CID is at least 3");
	json_decref(j);
}

/* GET /vm/config shows Firecracker's fields; a cache key sees the CLI-only
 * ones too (virtio-mem's requested=), so that runs that differ there do not
 * share a guest kit snapshot (found by fuzz_fields). */
Test(device_table, cli_only_fields_in_the_keys_view)
{
	struct device_config a, b;
	json_t *ja, *jb;

	cr_assert_eq(device_config_from_spec(&virtio_mem_kind, "1G,requested=256M", &a, why,
					     sizeof(why)),
		     0, "%s", why);
	cr_assert_eq(device_config_from_spec(&virtio_mem_kind, "1G,requested=512M", &b, why,
					     sizeof(why)),
		     0, "%s", why);
	ja = device_config_to_json(&a);
	jb = device_config_to_json(&b);
	cr_assert(json_equal(ja, jb));
	cr_assert_null(json_object_get(ja, "cli:requested"));
	json_decref(ja);
	json_decref(jb);
	ja = device_config_to_json_all(&a);
	jb = device_config_to_json_all(&b);
	cr_assert_not(json_equal(ja, jb));
	cr_assert_eq(json_integer_value(json_object_get(ja, "cli:requested")), 256);
	cr_assert_not_null(json_object_get(ja, "total_size_mib"));
	json_decref(ja);
	json_decref(jb);
}

/* What the jailer uses. */
static const char *moved(void *ctx, const struct field *f, const char *value, int *err)
{
	(void)err;
	snprintf(ctx, 128, "/jail/%s.%d", strrchr(value, '/') + 1, (int)f->access);
	return ctx;
}

Test(device_table, jailer_path_fields_and_rewriting)
{
	const struct field *f[4];
	char buf[128], out[256];
	json_t *j;

	cr_assert_eq(device_kind_path_fields(&virtio_blk_kind, f, 4), 1);
	cr_assert_str_eq(f[0]->cli, "path");
	cr_assert_str_eq(f[0]->json, "path_on_host");
	cr_assert_eq(f[0]->access, FIELD_ACCESS_READ_WRITE);
	cr_assert_eq(device_kind_path_fields(&virtio_vsock_kind, f, 4), 1);
	cr_assert_str_eq(f[0]->cli, "uds");
	cr_assert_eq(f[0]->access, FIELD_ACCESS_SOCKET_CREATE);
	cr_assert_eq(device_kind_path_fields(&virtio_net_kind, f, 4), 0);
	cr_assert_eq(device_kind_path_fields(&virtio_rng_kind, f, 4), 0);

	cr_assert_eq(device_rewrite_spec(&virtio_blk_kind, "ro,path=/srv/disk.img,id=x", moved, buf,
					 out, sizeof(out)),
		     0);
	cr_assert_str_eq(out, "ro,path=/jail/disk.img.2,id=x");
	cr_assert_eq(device_rewrite_spec(&virtio_vsock_kind, "cid=3,uds=/run/v.sock", moved, buf,
					 out, sizeof(out)),
		     0);
	cr_assert_str_eq(out, "cid=3,uds=/jail/v.sock.3");
	cr_assert_eq(device_rewrite_spec(&virtio_balloon_kind, "64,stats=1", moved, buf, out,
					 sizeof(out)),
		     0);
	cr_assert_str_eq(out, "64,stats=1");

	j = json_pack("{s:s, s:s, s:b}", "drive_id", "rootfs", "path_on_host", "/srv/r.ext4",
		      "is_root_device", 1);
	cr_assert_eq(device_rewrite_json(&virtio_blk_kind, j, moved, buf), 0);
	cr_assert_str_eq(json_string_value(json_object_get(j, "path_on_host")), "/jail/r.ext4.2");
	cr_assert_str_eq(json_string_value(json_object_get(j, "drive_id")), "rootfs");
	json_decref(j);
}
