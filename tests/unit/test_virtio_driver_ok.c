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
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices/virtio/virtio_rng.h"
#include "devices/virtio/virtio_vsock.h"
#include "sandbox/sandbox.h"
#include "util/fs.h"
#include "virtio_rig.h"

/* rig_init() without assertions: it runs in a forked child, where a passing
 * assertion would talk to Criterion's runner (--full-stats) and hang it. */
static void child_rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	if (layout_guest_mem_init(&r->mem, 128 << 20) || event_loop_init(&r->loop))
		syscall(SYS_exit, 102);
	r->mmio.kind = "mmio";
	r->env = (struct virtio_env){ .mem = &r->mem, .loop = &r->loop, .mmio = &r->mmio };
}

/* Features, the queues set up and READY, but no DRIVER_OK yet. */
static void rig_queues_ready(struct rig *r, unsigned int nq)
{
	uint32_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	rig_wr(r, VIRTIO_MMIO_STATUS, s);
	rig_wr(r, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	rig_wr(r, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	rig_wr(r, VIRTIO_MMIO_STATUS, s | VIRTIO_CONFIG_S_FEATURES_OK);
	for (unsigned int q = 0; q < nq; q++) {
		rig_wr(r, VIRTIO_MMIO_QUEUE_SEL, q);
		rig_wr(r, VIRTIO_MMIO_QUEUE_NUM, RIG_QSIZE);
		rig_wr(r, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)RIG_QBASE(q));
		rig_wr(r, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)RIG_QBASE(q) + 0x1000);
		rig_wr(r, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)RIG_QBASE(q) + 0x2000);
		rig_wr(r, VIRTIO_MMIO_QUEUE_READY, 1);
	}
}

static void driver_ok(struct rig *r)
{
	rig_wr(r, VIRTIO_MMIO_STATUS,
	       VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
		       VIRTIO_CONFIG_S_DRIVER_OK);
}

/* In a child: the device set up by setup(), then the vCPU thread's filter
 * (kill mode, volt's default), then the guest's DRIVER_OK write as the
 * vCPU's MMIO exit delivers it. Returns the child's wait status. */
static int driver_ok_behind_vcpu_filter(void (*setup)(struct rig *, bool), bool early)
{
	struct rlimit no_core = { 0, 0 };
	int status;
	pid_t pid;

	sandbox_set_seccomp_mode(SANDBOX_SECCOMP_KILL);
	pid = fork();
	if (pid == 0) {
		struct rig r;

		setrlimit(RLIMIT_CORE, &no_core);
		setup(&r, early);
		if (sandbox_seccomp_prepare() || sandbox_seccomp_enter(SANDBOX_THREAD_VCPU))
			syscall(SYS_exit, 100);
		driver_ok(&r); /* vCPU thread: handle_mmio -> io_bus_access -> virtio_mmio_io */
		syscall(SYS_exit, 0);
	}
	cr_assert_gt(pid, 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
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

	child_rig_init(r);
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
	child_rig_init(r);
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
