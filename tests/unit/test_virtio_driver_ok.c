/* A guest's DRIVER_OK write comes on a vCPU thread, behind the vCPU's
 * seccomp list: the look at the queues a driver filled before it must be the
 * device thread's. It was the writer's: a guest that queued a request first
 * (a random buffer, a vsock REQUEST) had the vCPU call getrandom or socket,
 * and the default kill mode ended volt. Each case runs in a child that
 * installs the real vCPU filter; the child makes no assertion (a passing one
 * would talk to Criterion's runner from the child). */
#include <criterion/criterion.h>
#include <endian.h>
#include <linux/virtio_vsock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices/virtio/virtio_rng.h"
#include "devices/virtio/virtio_vsock.h"
#include "filtered_child.h"
#include "util/fs.h"
#include "virtio_rig.h"

/* One case: the device its setup makes, with a buffer queued first when
 * early is set. */
struct driver_ok_case {
	void (*setup)(struct rig *r, bool early);
	bool early;
	struct rig r;
};

static void set_up(void *arg)
{
	struct driver_ok_case *c = arg;

	if (rig_init_quiet(&c->r))
		syscall(SYS_exit, 102);
	c->setup(&c->r, c->early);
}

/* The guest's DRIVER_OK write, as the vCPU's MMIO exit delivers it
 * (handle_mmio -> io_bus_access -> virtio_mmio_io). */
static void write_driver_ok(void *arg)
{
	struct rig *r = &((struct driver_ok_case *)arg)->r;

	rig_wr(r, VIRTIO_MMIO_STATUS, RIG_STATUS_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

/* The device set up, then the vCPU thread's filter (kill mode, volt's
 * default), then DRIVER_OK, in a child: its wait status. */
static int driver_ok_behind_vcpu_filter(void (*setup)(struct rig *, bool), bool early)
{
	static struct driver_ok_case c;

	c = (struct driver_ok_case){ .setup = setup, .early = early };
	return run_filtered_child(SANDBOX_SECCOMP_KILL, SANDBOX_THREAD_VCPU, set_up,
				  write_driver_ok, &c);
}

static void assert_volt_survives(int status, const char *what)
{
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "%s: the vCPU thread's DRIVER_OK write %s", what,
		  WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS
			  ? "was killed by seccomp (SIGSYS): the whole VMM dies"
			  : "did not end normally");
}

static void rng_setup(struct rig *r, bool early)
{
	struct rng_config c = { 0 };
	struct virtio_rng *v = NULL;

	if (virtio_rng_create(&v, &c, &r->env, RIG_BASE, 5))
		syscall(SYS_exit, 101);
	r->d = virtio_rng_dev(v);
	rig_queues_ready(r, 1);
	if (early) {
		struct rig_seg s = { RIG_DATA, 64, true };

		rig_chain(r, 0, &s, 1, true); /* filled (and kicked) before DRIVER_OK */
	}
}

Test(driver_ok, rng_without_early_buffers)
{
	assert_volt_survives(driver_ok_behind_vcpu_filter(rng_setup, false), "virtio-rng, empty");
}

Test(driver_ok, rng_buffer_queued_before_it)
{
	assert_volt_survives(driver_ok_behind_vcpu_filter(rng_setup, true),
			     "virtio-rng, one buffer queued before DRIVER_OK");
}

static char vsock_dir[64];

static void vsock_setup(struct rig *r, bool early)
{
	struct vsock_config c = { .cid = 3 };
	struct virtio_vsock *v = NULL;

	snprintf(c.uds, sizeof(c.uds), "%s/v.sock", vsock_dir);
	if (virtio_vsock_create(&v, &c, &r->env, RIG_BASE, 5))
		syscall(SYS_exit, 101);
	r->d = (struct virtio_dev *)v; /* the first member */
	rig_queues_ready(r, 3);
	if (early) {
		struct virtio_vsock_hdr h = {
			.src_cid = htole64(3),
			.dst_cid = htole64(2),
			.src_port = htole32(1234),
			.dst_port = htole32(52),
			.type = htole16(VIRTIO_VSOCK_TYPE_STREAM),
			.op = htole16(VIRTIO_VSOCK_OP_REQUEST),
			.buf_alloc = htole32(65536),
		};
		struct rig_seg s = { RIG_DATA, sizeof(h), false };

		guest_write(&r->mem, RIG_DATA, &h, sizeof(h));
		rig_chain(r, 1, &s, 1, true); /* a REQUEST on TX before DRIVER_OK */
	}
}

Test(driver_ok, vsock_request_queued_before_it)
{
	snprintf(vsock_dir, sizeof(vsock_dir), "/tmp/volt-driver-ok-XXXXXX");
	cr_assert(mkdtemp(vsock_dir));
	assert_volt_survives(driver_ok_behind_vcpu_filter(vsock_setup, false),
			     "virtio-vsock, control");
	assert_volt_survives(driver_ok_behind_vcpu_filter(vsock_setup, true),
			     "virtio-vsock, a REQUEST queued before DRIVER_OK");
	rm_rf(vsock_dir);
}
