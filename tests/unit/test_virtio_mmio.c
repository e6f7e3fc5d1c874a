/* The virtio-mmio transport without a VM: a small model device on an
 * environment of plain eventfds. Each test plays the driver through the
 * registers and its rings in real guest memory, kicks through the kick
 * eventfd (or QueueNotify) and reads the interrupt eventfd, as KVM's
 * ioeventfd and irqfd would. */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "devices/virtio/virtio_mmio.h"
#include "util/log.h"

#define MODEL_ID      0x2a
#define MODEL_FEATURE 3 /* a feature bit of the model's own */
#define NQ	      2
#define QMAX	      16
#define QSIZE	      8
#define BASE	      0xd0000000ULL
#define IRQ	      7
#define RAM	      (128ULL << 20)
#define QBASE(q)      (0x100000ULL + (q)*0x4000ULL)
#define DESC(q)	      QBASE(q)
#define AVAIL(q)      (QBASE(q) + 0x1000)
#define USED(q)	      (QBASE(q) + 0x2000)
#define DATA	      0x200000ULL

/* --- the model device and the environment ---------------------------------- */

struct model {
	int notified[NQ]; /* atomic: kicks arrive on the event loop's thread */
	int activated, resets, config_writes;
	int activate_err;
	uint32_t served;
};

/* What the environment was asked to route. */
struct routes {
	int kick_fd[NQ];
	uint64_t kick_addr[NQ];
	int kicks;
	int irq_fd;
	uint32_t irq;
	int refuse_kick, refuse_irq; /* -errno to return */
};

static uint32_t fill_chain(void *ctx, struct virtq_elem *e)
{
	struct model *m = ctx;

	m->served++;
	return (uint32_t)e->in_len;
}

static void model_notify(struct virtio_dev *d, unsigned int q)
{
	struct model *m = d->priv;
	struct virtq_elem *e = malloc(sizeof(*e));

	__atomic_add_fetch(&m->notified[q], 1, __ATOMIC_SEQ_CST);
	virtio_serve_queue(d, q, e, fill_chain, m);
	free(e);
}

static int model_activate(struct virtio_dev *d)
{
	struct model *m = d->priv;

	m->activated++;
	return m->activate_err;
}

static void model_reset(struct virtio_dev *d)
{
	((struct model *)d->priv)->resets++;
}

static void model_config_write(struct virtio_dev *d, uint32_t off, const uint8_t *data,
			       uint32_t len)
{
	((struct model *)d->priv)->config_writes++;
	memcpy(d->config + off, data, len);
}

/* The model's Firecracker counters, which the transport bumps. */
static metric_t activate_fails, cfg_fails;

static const struct virtio_dev_ops model_ops = {
	.name = "model",
	.device_id = MODEL_ID,
	.num_queues = NQ,
	.queue_max = QMAX,
	.config_write = model_config_write,
	.activate = model_activate,
	.notify = model_notify,
	.reset = model_reset,
	.activate_fails = &activate_fails,
	.cfg_fails = &cfg_fails,
};

static int route_kick(void *ctx, int fd, uint64_t addr, uint32_t q)
{
	struct routes *r = ctx;

	if (r->refuse_kick)
		return r->refuse_kick;
	cr_assert_lt(q, NQ);
	r->kick_fd[q] = fd;
	r->kick_addr[q] = addr;
	r->kicks++;
	return 0;
}

static int route_irq(void *ctx, int fd, uint32_t irq)
{
	struct routes *r = ctx;

	if (r->refuse_irq)
		return r->refuse_irq;
	r->irq_fd = fd;
	r->irq = irq;
	return 0;
}

static struct guest_mem mem;
static struct event_loop loop;
static struct io_bus bus = { .kind = "mmio" };
static struct routes routes;
static struct model model;
static struct virtio_dev dev;

/* Nothing routed yet: a read of an eventfd never routed fails (EBADF). */
static struct virtio_env test_env(void)
{
	for (unsigned int q = 0; q < NQ; q++)
		routes.kick_fd[q] = -1;
	routes.irq_fd = -1;
	return (struct virtio_env){
		.mem = &mem,
		.loop = &loop,
		.mmio = &bus,
		.route_kick = route_kick,
		.route_irq = route_irq,
		.ctx = &routes,
	};
}

static bool loop_runs;

/* The device plugged in; its event loop runs when run_loop is set. */
static void plug(uint64_t features, bool run_loop)
{
	struct virtio_env env = test_env();

	loop_runs = run_loop;
	log_set_level(LOG_ERROR);
	cr_assert_eq(layout_guest_mem_init(&mem, RAM), 0);
	cr_assert_eq(event_loop_init(&loop), 0);
	cr_assert_eq(virtio_mmio_init(&dev, &model_ops, &model, features, &env, BASE, IRQ), 0);
	memcpy(dev.config, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	dev.config_size = 8;
	if (run_loop)
		cr_assert_eq(event_loop_start(&loop), 0);
}

static void unplug(void)
{
	event_loop_destroy(&loop);
	virtio_mmio_destroy(&dev);
	guest_mem_free(&mem);
}

static void wr(uint64_t off, uint32_t v)
{
	virtio_mmio_io(&dev, off, (uint8_t *)&v, 4, true);
}

static uint32_t rd(uint64_t off)
{
	uint32_t v;

	virtio_mmio_io(&dev, off, (uint8_t *)&v, 4, false);
	return v;
}

static uint32_t status(void)
{
	return rd(VIRTIO_MMIO_STATUS);
}

/* ACKNOWLEDGE, DRIVER, then the features: returns whether FEATURES_OK held. */
static bool negotiate(uint64_t f)
{
	uint32_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, s);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	wr(VIRTIO_MMIO_STATUS, s | VIRTIO_CONFIG_S_FEATURES_OK);
	return status() & VIRTIO_CONFIG_S_FEATURES_OK;
}

static void place_queue(unsigned int q, uint32_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, q);
	wr(VIRTIO_MMIO_QUEUE_NUM, size);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	wr(VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
}

/* Negotiated (VERSION_1 and extra), every queue at its usual place, DRIVER_OK;
 * the model's counts start from there (DRIVER_OK looks at each queue once). */
static bool wait_notified(unsigned int q, int want);

static void bring_up(uint64_t extra)
{
	unsigned int q;

	cr_assert(negotiate((1ULL << VIRTIO_F_VERSION_1) | extra));
	for (q = 0; q < NQ; q++) {
		place_queue(q, QSIZE, DESC(q), AVAIL(q), USED(q));
		cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 1, "queue %u", q);
	}
	wr(VIRTIO_MMIO_STATUS, status() | VIRTIO_CONFIG_S_DRIVER_OK);
	cr_assert_eq(status() & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	/* The look at every ready queue that DRIVER_OK kicks, done (by the
	 * loop, or here as its thread would) before the test counts. */
	for (q = 0; q < NQ; q++) {
		uint64_t n;

		if (loop_runs) {
			cr_assert(wait_notified(q, 1), "queue %u: DRIVER_OK's look never came", q);
		} else {
			cr_assert_eq(read(dev.kick_fd[q], &n, sizeof(n)), (ssize_t)sizeof(n));
			virtio_kick(&dev, q);
		}
	}
	memset(model.notified, 0, sizeof(model.notified));
	model.resets = 0;
}

static struct vring_avail *avail(unsigned int q)
{
	return gpa_to_hva(&mem, AVAIL(q), 6 + 2 * QSIZE);
}

static struct vring_used *used(unsigned int q)
{
	return gpa_to_hva(&mem, USED(q), 6 + 8 * QSIZE);
}

/* Offers a device-writable buffer of len bytes at gpa on queue q. */
static void add_buf(unsigned int q, uint64_t gpa, uint32_t len)
{
	struct vring_desc *desc = gpa_to_hva(&mem, DESC(q), 16 * QSIZE);
	uint16_t idx = avail(q)->idx, slot = idx % QSIZE;

	desc[slot] = (struct vring_desc){ .addr = gpa, .len = len, .flags = VRING_DESC_F_WRITE };
	avail(q)->ring[slot] = slot;
	__atomic_store_n(&avail(q)->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
}

/* How many interrupts were raised since the last look (0: none). */
static uint64_t irqs(void)
{
	uint64_t n = 0;

	if (read(routes.irq_fd, &n, sizeof(n)) < 0)
		cr_assert_eq(errno, EAGAIN);
	return n;
}

/* The driver offers one buffer on queue 0 and kicks (on this thread): how
 * many interrupts that raised. */
static uint64_t one_request(void)
{
	add_buf(0, DATA, 16);
	virtio_kick(&dev, 0);
	return irqs();
}

static bool wait_notified(unsigned int q, int want)
{
	struct timespec t = { 0, 5 * 1000 * 1000 };
	int ms;

	for (ms = 0; ms < 3000; ms += 5) {
		if (__atomic_load_n(&model.notified[q], __ATOMIC_SEQ_CST) >= want)
			return true;
		nanosleep(&t, NULL);
	}
	return false;
}

/* --- the environment ------------------------------------------------------- */

Test(virtio_mmio, the_env_routes_each_queue_kick_and_the_interrupt)
{
	unsigned int q;

	plug(0, false);
	cr_assert_eq(routes.kicks, NQ);
	for (q = 0; q < NQ; q++) {
		cr_assert_eq(routes.kick_fd[q], dev.kick_fd[q]);
		cr_assert_eq(routes.kick_addr[q], BASE + VIRTIO_MMIO_QUEUE_NOTIFY);
	}
	cr_assert_eq(routes.irq_fd, dev.irq_fd);
	cr_assert_eq(routes.irq, IRQ);
	/* Its register window is on the bus. */
	cr_assert_eq(bus.n, 1);
	cr_assert_eq(bus.ranges[0].base, BASE);
	cr_assert_eq(bus.ranges[0].len, VIRTIO_MMIO_WINDOW);
	cr_assert_eq(bus.ranges[0].dev, &dev);
	unplug();
}

Test(virtio_mmio, an_env_may_route_nothing)
{
	struct virtio_env env = { .mem = &mem, .loop = &loop, .mmio = &bus };

	cr_assert_eq(layout_guest_mem_init(&mem, RAM), 0);
	cr_assert_eq(event_loop_init(&loop), 0);
	cr_assert_eq(virtio_mmio_init(&dev, &model_ops, &model, 0, &env, BASE, IRQ), 0);
	cr_assert_eq(routes.kicks, 0);
	routes.irq_fd = dev.irq_fd;
	bring_up(0);
	add_buf(0, DATA, 16);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	cr_assert_eq(model.notified[0], 0, "served on the caller's thread, not the device's");
	cr_assert_eq(event_loop_start(&loop), 0);
	cr_assert(wait_notified(0, 1));
	cr_assert_eq(irqs(), 1);
	unplug();
}

Test(virtio_mmio, a_refusal_of_the_env_fails_the_plugging)
{
	struct virtio_env env;

	cr_assert_eq(layout_guest_mem_init(&mem, RAM), 0);
	cr_assert_eq(event_loop_init(&loop), 0);
	env = test_env();
	routes.refuse_irq = -ENOSPC;
	cr_assert_eq(virtio_mmio_init(&dev, &model_ops, &model, 0, &env, BASE, IRQ), -ENOSPC);
	virtio_mmio_destroy(&dev);
	routes.refuse_irq = 0;
	routes.refuse_kick = -EEXIST;
	cr_assert_eq(virtio_mmio_init(&dev, &model_ops, &model, 0, &env, BASE, IRQ), -EEXIST);
	virtio_mmio_destroy(&dev);
	cr_assert_eq(bus.n, 0);
	event_loop_destroy(&loop);
	guest_mem_free(&mem);
}

/* --- registers and negotiation --------------------------------------------- */

Test(virtio_mmio, identity_registers)
{
	uint8_t b = 0xff;

	plug(0, false);
	cr_assert_eq(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	cr_assert_eq(rd(VIRTIO_MMIO_VERSION), 2);
	cr_assert_eq(rd(VIRTIO_MMIO_DEVICE_ID), MODEL_ID);
	cr_assert_eq(rd(VIRTIO_MMIO_VENDOR_ID), 0x544c4f56);
	wr(VIRTIO_MMIO_QUEUE_SEL, NQ - 1);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), QMAX);
	wr(VIRTIO_MMIO_QUEUE_SEL, NQ);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "queue %u does not exist", NQ);
	/* Registers are 32 bits wide: a byte access reads 0 and writes nothing. */
	virtio_mmio_io(&dev, VIRTIO_MMIO_MAGIC_VALUE, &b, 1, false);
	cr_assert_eq(b, 0);
	b = VIRTIO_CONFIG_S_ACKNOWLEDGE;
	virtio_mmio_io(&dev, VIRTIO_MMIO_STATUS, &b, 1, true);
	cr_assert_eq(status(), 0);
	unplug();
}

Test(virtio_mmio, feature_negotiation)
{
	const uint64_t version = 1ULL << VIRTIO_F_VERSION_1;

	plug(1ULL << MODEL_FEATURE, false);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES), (1U << MODEL_FEATURE) |
							      (1U << VIRTIO_RING_F_INDIRECT_DESC) |
							      (1U << VIRTIO_RING_F_EVENT_IDX));
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	cr_assert_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES), 1U << (VIRTIO_F_VERSION_1 - 32));
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	cr_assert_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);

	cr_assert_not(negotiate(1ULL << MODEL_FEATURE), "accepted without VERSION_1");
	cr_assert_not(negotiate(version | (1ULL << 5)), "accepted a feature never offered");
	cr_assert_not(negotiate(version | (1ULL << 40)), "accepted a feature never offered");
	cr_assert(negotiate(version | (1ULL << MODEL_FEATURE)));
	cr_assert(virtio_has_feature(&dev, MODEL_FEATURE));
	cr_assert_not(virtio_has_feature(&dev, VIRTIO_RING_F_EVENT_IDX));
	cr_assert_not(virtio_has_feature(&dev, 64));
	/* Accepted features are frozen. */
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1U << VIRTIO_RING_F_EVENT_IDX);
	cr_assert_not(virtio_has_feature(&dev, VIRTIO_RING_F_EVENT_IDX));
	cr_assert(virtio_has_feature(&dev, MODEL_FEATURE));
	unplug();
}

/* --- queue setup ------------------------------------------------------------ */

static void refused_queue(uint32_t size, uint64_t desc, uint64_t avail, uint64_t used,
			  const char *what)
{
	cr_assert(negotiate(1ULL << VIRTIO_F_VERSION_1));
	place_queue(0, size, desc, avail, used);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0, "%s", what);
	cr_assert(status() & VIRTIO_CONFIG_S_NEEDS_RESET, "%s", what);
}

Test(virtio_mmio, queue_setup_is_validated)
{
	plug(0, false);
	refused_queue(0, DESC(0), AVAIL(0), USED(0), "size 0");
	refused_queue(6, DESC(0), AVAIL(0), USED(0), "size not a power of two");
	refused_queue(2 * QMAX, DESC(0), AVAIL(0), USED(0), "size over the maximum");
	refused_queue(0x10000, DESC(0), AVAIL(0), USED(0), "size over 16 bits");
	refused_queue(QSIZE, DESC(0) + 8, AVAIL(0), USED(0), "misaligned descriptors");
	refused_queue(QSIZE, DESC(0), AVAIL(0) + 1, USED(0), "misaligned avail ring");
	refused_queue(QSIZE, DESC(0), AVAIL(0), USED(0) + 2, "misaligned used ring");
	refused_queue(QSIZE, DESC(0), AVAIL(0), RAM - 8, "used ring past the end of RAM");
	refused_queue(QSIZE, 1ULL << 40, AVAIL(0), USED(0), "descriptors outside RAM");
	refused_queue(QSIZE, DESC(0), DESC(0) + 64, USED(0), "overlapping rings");

	/* A good queue; once live, its configuration no longer changes. */
	cr_assert(negotiate(1ULL << VIRTIO_F_VERSION_1));
	cr_assert_eq(status() & VIRTIO_CONFIG_S_NEEDS_RESET, 0, "the reset cleared it");
	place_queue(0, QSIZE, DESC(0), AVAIL(0), USED(0));
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	wr(VIRTIO_MMIO_QUEUE_NUM, 2);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0);
	cr_assert_eq(dev.vq[0].size, QSIZE);
	cr_assert_eq(dev.vq[0].desc_gpa, DESC(0));
	/* Queues that do not exist take nothing. */
	wr(VIRTIO_MMIO_QUEUE_SEL, NQ);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	cr_assert_eq(status() & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	unplug();
}

Test(virtio_mmio, driver_ok_activates_the_model_once)
{
	uint64_t n;

	plug(0, false);
	cr_assert(negotiate(1ULL << VIRTIO_F_VERSION_1));
	place_queue(0, QSIZE, DESC(0), AVAIL(0), USED(0));
	/* Buffers kicked before DRIVER_OK are looked at when the device goes live. */
	add_buf(0, DATA, 64);
	virtio_kick(&dev, 0);
	cr_assert_eq(model.notified[0], 0, "a kick before DRIVER_OK reached the model");
	wr(VIRTIO_MMIO_STATUS, status() | VIRTIO_CONFIG_S_DRIVER_OK);
	cr_assert_eq(model.activated, 1);
	/* Served by the device thread, kicked: never on the vCPU thread that
	 * wrote DRIVER_OK, whose seccomp list allows no device's calls. */
	cr_assert_eq(model.notified[0], 0, "the model ran on the DRIVER_OK writer's thread");
	cr_assert_eq(read(dev.kick_fd[0], &n, sizeof(n)), (ssize_t)sizeof(n), "queue 0 not kicked");
	cr_assert_eq(read(dev.kick_fd[1], &n, sizeof(n)), -1, "queue 1 is not ready");
	virtio_kick(&dev, 0); /* what the device thread does with the kick */
	cr_assert_eq(model.notified[0], 1);
	cr_assert_eq(model.notified[1], 0);
	cr_assert_eq(used(0)->idx, 1);
	wr(VIRTIO_MMIO_STATUS, status());
	cr_assert_eq(model.activated, 1);
	unplug();
}

Test(virtio_mmio, driver_ok_without_features_ok_or_a_backend_needs_a_reset)
{
	plug(0, false);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_STATUS,
	   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK);
	cr_assert(status() & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert_eq(model.activated, 0);
	cr_assert_eq(irqs(), 1);

	model.activate_err = -EIO;
	cr_assert(negotiate(1ULL << VIRTIO_F_VERSION_1));
	cr_assert_eq(activate_fails, 0);
	wr(VIRTIO_MMIO_STATUS, status() | VIRTIO_CONFIG_S_DRIVER_OK);
	cr_assert_eq(model.activated, 1);
	cr_assert_eq(activate_fails, 1, "Firecracker's activate_fails");
	cr_assert(status() & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* Raised while live: the driver hears of it through a config interrupt. */
	cr_assert(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	cr_assert_eq(irqs(), 1);
	unplug();
}

/* --- kicks and interrupts --------------------------------------------------- */

Test(virtio_mmio, a_kick_on_the_eventfd_reaches_the_model, .timeout = 10)
{
	uint64_t one = 1;

	plug(0, true);
	bring_up(0);
	add_buf(1, DATA, 100);
	cr_assert_eq(write(routes.kick_fd[1], &one, sizeof(one)), sizeof(one));
	cr_assert(wait_notified(1, 1), "the kick never reached ops->notify");
	cr_assert_eq(model.notified[0], 0);
	cr_assert_eq(__atomic_load_n(&used(1)->idx, __ATOMIC_ACQUIRE), 1);
	cr_assert_eq(used(1)->ring[0].len, 100);

	/* Without an ioeventfd, a write to QueueNotify comes to the transport. */
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	cr_assert(wait_notified(0, 1), "QueueNotify never reached ops->notify");
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, NQ);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0xffffffff);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	cr_assert(wait_notified(1, 2));
	cr_assert_eq(model.notified[0], 1);
	unplug();
}

Test(virtio_mmio, a_kick_of_a_device_not_live_is_dropped, .timeout = 10)
{
	uint64_t one = 1;
	struct timespec t = { 0, 100 * 1000 * 1000 };

	plug(0, true);
	cr_assert(negotiate(1ULL << VIRTIO_F_VERSION_1));
	place_queue(0, QSIZE, DESC(0), AVAIL(0), USED(0));
	cr_assert_eq(write(routes.kick_fd[0], &one, sizeof(one)), sizeof(one));
	nanosleep(&t, NULL);
	cr_assert_eq(__atomic_load_n(&model.notified[0], __ATOMIC_SEQ_CST), 0);
	unplug();
}

Test(virtio_mmio, an_interrupt_only_when_the_driver_wants_one)
{
	plug(0, false);
	bring_up(0);
	cr_assert_eq(irqs(), 0);
	cr_assert_eq(one_request(), 1);
	cr_assert_eq(used(0)->idx, 1);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);

	/* VRING_AVAIL_F_NO_INTERRUPT: the driver polls. */
	avail(0)->flags = VRING_AVAIL_F_NO_INTERRUPT;
	cr_assert_eq(one_request(), 0, "interrupted a driver that asked not to be");
	cr_assert_eq(used(0)->idx, 2);
	avail(0)->flags = 0;
	cr_assert_eq(one_request(), 1);

	/* A kick with nothing new pushes nothing and interrupts no one. */
	virtio_kick(&dev, 0);
	cr_assert_eq(irqs(), 0);
	unplug();
}

Test(virtio_mmio, event_index_decides_the_interrupt)
{
	uint16_t *used_event;

	plug(0, false);
	bring_up(1ULL << VIRTIO_RING_F_EVENT_IDX);
	used_event = &avail(0)->ring[QSIZE];
	*used_event = 5; /* far off: the first interrupt comes all the same */
	cr_assert_eq(one_request(), 1);
	/* The driver wants to hear once the used index passes 3. */
	*used_event = 3;
	cr_assert_eq(one_request(), 0, "interrupted before the driver's used_event");
	cr_assert_eq(one_request(), 0);
	cr_assert_eq(used(0)->idx, 3);
	cr_assert_eq(one_request(), 1, "no interrupt once used_event was passed");
	/* The flag means nothing with event index: only used_event counts. */
	avail(0)->flags = VRING_AVAIL_F_NO_INTERRUPT;
	*used_event = 4;
	cr_assert_eq(one_request(), 1);
	unplug();
}

/* --- configuration, errors, reset ------------------------------------------- */

Test(virtio_mmio, config_space_and_its_generation)
{
	uint8_t b[4] = { 0 };
	uint32_t gen;

	plug(0, false);
	cr_assert_eq(rd(VIRTIO_MMIO_CONFIG), 0x44332211);
	virtio_mmio_io(&dev, VIRTIO_MMIO_CONFIG + 5, b, 2, false);
	cr_assert_eq(b[0], 0x66);
	cr_assert_eq(b[1], 0x77);
	/* Past its config space reads 0 and writes go nowhere; each counted. */
	cr_assert_eq(rd(VIRTIO_MMIO_CONFIG + 6), 0);
	wr(VIRTIO_MMIO_CONFIG + 8, 1);
	cr_assert_eq(model.config_writes, 0);
	cr_assert_eq(cfg_fails, 2);
	wr(VIRTIO_MMIO_CONFIG + 4, 0xabcdef01);
	cr_assert_eq(model.config_writes, 1);
	cr_assert_eq(cfg_fails, 2);
	cr_assert_eq(rd(VIRTIO_MMIO_CONFIG + 4), 0xabcdef01);

	gen = rd(VIRTIO_MMIO_CONFIG_GENERATION);
	virtio_config_changed(&dev);
	cr_assert_neq(rd(VIRTIO_MMIO_CONFIG_GENERATION), gen);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	cr_assert_eq(irqs(), 1);
	unplug();
}

Test(virtio_mmio, a_protocol_error_needs_a_reset)
{
	struct vring_desc *desc;

	plug(0, false);
	bring_up(0);
	/* A descriptor pointing past the end of RAM. */
	add_buf(0, RAM - 8, 64);
	virtio_kick(&dev, 0);
	cr_assert(status() & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	cr_assert_eq(irqs(), 1);
	cr_assert_eq(used(0)->idx, 0);
	/* Its queues are dead, the other one too, until the driver resets it. */
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	add_buf(1, DATA, 16);
	virtio_kick(&dev, 1);
	cr_assert_eq(model.notified[1], 0);
	/* Its status writes keep the bit: only a reset clears it. */
	wr(VIRTIO_MMIO_STATUS, status() & ~VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert(status() & VIRTIO_CONFIG_S_NEEDS_RESET);

	/* A loop in the descriptor chain, after a reset. */
	memset(gpa_to_hva(&mem, QBASE(0), 0x4000), 0, 0x4000);
	bring_up(0);
	desc = gpa_to_hva(&mem, DESC(0), 16 * QSIZE);
	add_buf(0, DATA, 16);
	desc[0].flags |= VRING_DESC_F_NEXT;
	desc[0].next = 0;
	virtio_kick(&dev, 0);
	cr_assert(status() & VIRTIO_CONFIG_S_NEEDS_RESET);
	unplug();
}

Test(virtio_mmio, reset_starts_the_device_over)
{
	plug(1ULL << MODEL_FEATURE, false);
	bring_up((1ULL << MODEL_FEATURE) | (1ULL << VIRTIO_RING_F_EVENT_IDX));
	cr_assert_eq(one_request(), 1);
	cr_assert_neq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);

	wr(VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(model.resets, 1);
	cr_assert_eq(status(), 0);
	cr_assert_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	cr_assert_not(virtio_has_feature(&dev, MODEL_FEATURE));
	cr_assert_eq(dev.queue_sel, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	cr_assert_eq(dev.vq[0].size, 0);
	cr_assert_eq(dev.vq[0].desc_gpa, 0);
	/* A kick of the reset device reaches no model. */
	virtio_kick(&dev, 0);
	cr_assert_eq(model.notified[0], 1);

	/* And it comes back from the start, rings included. */
	memset(gpa_to_hva(&mem, QBASE(0), 0x4000), 0, 0x4000);
	bring_up(0);
	cr_assert_eq(model.activated, 2);
	cr_assert_eq(one_request(), 1);
	cr_assert_eq(used(0)->idx, 1);
	unplug();
}
