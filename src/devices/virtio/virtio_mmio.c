#include "devices/virtio/virtio_mmio.h"

#include "core/metrics.h"
#include "core/snap.h"
#include "util/log.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MMIO_MAGIC   0x74726976 /* "virt" */
#define MMIO_VERSION 2
#define VENDOR_ID    0x544c4f56 /* "VOLT" */

#define TRANSPORT_FEATURES                                                      \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
	 (1ULL << VIRTIO_RING_F_EVENT_IDX))

bool virtio_has_feature(const struct virtio_dev *d, unsigned int bit)
{
	return bit < 64 && (d->driver_features & (1ULL << bit));
}

static void raise_irq(struct virtio_dev *d, uint32_t why)
{
	uint64_t one = 1;

	d->isr |= why;
	METRICS_INC(interrupts.triggers);
	if (write(d->irq_fd, &one, sizeof(one)) != sizeof(one))
		pr_warn("virtio-%s: cannot raise its interrupt: %s", d->ops->name, strerror(errno));
}

void virtio_notify_queue(struct virtio_dev *d, unsigned int q)
{
	if (q < d->ops->num_queues && d->vq[q].ready && virtq_should_notify(&d->vq[q]))
		raise_irq(d, VIRTIO_MMIO_INT_VRING);
}

/* Hands queue q to the device thread: a driver's kick that no ioeventfd took,
 * or the device coming back after it served what else is waiting. */
static void queue_kick(struct virtio_dev *d, unsigned int q)
{
	uint64_t one = 1;

	if (write(d->kick_fd[q], &one, sizeof(one)) != sizeof(one))
		pr_warn("virtio-%s: cannot kick queue %u: %s", d->ops->name, q, strerror(errno));
}

void virtio_serve_queue(struct virtio_dev *d, unsigned int qi, struct virtq_elem *e,
			uint32_t (*handle)(void *ctx, struct virtq_elem *e), void *ctx)
{
	struct virtq *q = &d->vq[qi];
	/* A fair share of the device thread (rounds without chains count too):
	 * then the queue waits its turn behind the others. */
	unsigned int budget = 2u * q->size + 2;
	bool pushed = false;
	char why[160];
	int r = 0;

	do {
		virtq_disable_notify(q);
		while (budget && (r = virtq_pop(q, e, why, sizeof(why))) > 0) {
			uint32_t used = handle(ctx, e);

			if (used == VIRTIO_USED_RETRY) {
				/* Parked: notifications stay off until the model resumes. */
				q->last_avail--;
				goto out;
			}
			budget--;
			if (used != VIRTIO_USED_DEFERRED) {
				virtq_push(q, e->head, used);
				pushed = true;
			}
		}
		if (r < 0) {
			virtio_fail(d, "queue %u: %s", qi, why);
			return;
		}
		if (!budget) {
			queue_kick(d, qi);
			break;
		}
		budget--;
	} while (virtq_enable_notify(q));
out:
	if (pushed)
		virtio_notify_queue(d, qi);
}

void virtio_config_changed(struct virtio_dev *d)
{
	d->config_generation++;
	raise_irq(d, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_fail(struct virtio_dev *d, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!d->failed)
		pr_warn("virtio-%s at %#llx: %s; the device needs a reset", d->ops->name,
			(unsigned long long)d->base, why);
	d->failed = true;
	d->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	/* Its queues stay dead until the driver resets the device. */
	for (unsigned int q = 0; q < d->ops->num_queues; q++)
		d->vq[q].ready = false;
	if (d->status & VIRTIO_CONFIG_S_DRIVER_OK)
		virtio_config_changed(d);
}

static void reset(struct virtio_dev *d)
{
	unsigned int q;

	if (d->ops->reset)
		d->ops->reset(d);
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		virtq_reset(&d->vq[q]);
		d->early_pending[q] = false;
	}
	d->status = 0;
	d->driver_features = 0;
	d->device_features_sel = d->driver_features_sel = d->queue_sel = 0;
	d->isr = 0;
	d->failed = false;
}

/* kicks: how many the eventfd counted (1: DRIVER_OK's alone when that look
 * is pending; more: the driver kicked as well, a queue event). */
static void serve_kick(struct virtio_dev *d, unsigned int q, uint64_t kicks)
{
	pthread_mutex_lock(&d->lock);
	if (q < d->ops->num_queues && d->vq[q].ready && (d->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !d->failed) {
		d->early_look = d->early_pending[q] && kicks == 1;
		d->ops->notify(d, q);
		d->early_look = false;
	}
	if (q < VIRTIO_MAX_QUEUES)
		d->early_pending[q] = false;
	pthread_mutex_unlock(&d->lock);
}

void virtio_kick(struct virtio_dev *d, unsigned int q)
{
	serve_kick(d, q, 1);
}

int virtio_rate_limiter_resume(struct virtio_dev *d, struct rate_limiter *rl, unsigned int q)
{
	int err;

	pthread_mutex_lock(&d->lock);
	err = rate_limiter_event(rl);
	pthread_mutex_unlock(&d->lock);
	if (!err)
		virtio_kick(d, q);
	return err;
}

/* A transport counter of the kind and the device's own (either NULL: none). */
static void count(metric_t *kind, metric_t *own)
{
	if (kind)
		METRIC_INC(*kind);
	if (own)
		METRIC_INC(*own);
}

static void on_kick(void *ctx, uint32_t events)
{
	struct virtio_kick *k = ctx;
	uint64_t n;

	(void)events;
	if (read(k->d->kick_fd[k->q], &n, sizeof(n)) < 0) {
		if (errno != EAGAIN) {
			count(k->d->ops->event_fails[k->q], k->d->own_event_fails[k->q]);
			return;
		}
		n = 1;
	}
	serve_kick(k->d, k->q, n);
}

static void queue_ready(struct virtio_dev *d, struct virtq *q, uint32_t v)
{
	char why[160];

	if (!v) {
		q->ready = false;
		return;
	}
	q->event_idx = virtio_has_feature(d, VIRTIO_RING_F_EVENT_IDX);
	q->indirect = virtio_has_feature(d, VIRTIO_RING_F_INDIRECT_DESC);
	if (virtq_setup(q, d->env.mem, d->ops->queue_max, why, sizeof(why)))
		virtio_fail(d, "queue %u: %s", d->queue_sel, why);
}

/* Drivers may fill and kick a queue before DRIVER_OK (Linux's balloon does
 * with its statistics queue); such kicks are dropped, so every ready queue is
 * looked at once when the device goes live: by the device thread, kicked
 * from here. The DRIVER_OK write comes on a vCPU thread, whose seccomp list
 * allows none of the devices' calls (getrandom, sockets, a disk's I/O): a
 * guest that queued a request first had volt killed. */
static void serve_early_kicks(struct virtio_dev *d)
{
	unsigned int q;

	for (q = 0; q < d->ops->num_queues && !d->failed; q++)
		if (d->vq[q].ready) {
			d->early_pending[q] = true;
			queue_kick(d, q);
		}
}

static void activate_failed(struct virtio_dev *d)
{
	count(d->ops->activate_fails, d->own_activate_fails);
	virtio_fail(d, "its backend could not start");
}

static void set_status(struct virtio_dev *d, uint32_t v)
{
	if (v == 0) {
		reset(d);
		return;
	}
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) && !(d->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		/* Only what was offered, and never without VIRTIO_F_VERSION_1. */
		if ((d->driver_features & ~d->features) ||
		    !virtio_has_feature(d, VIRTIO_F_VERSION_1))
			v &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(d->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
		d->status = v;
		if (!(v & VIRTIO_CONFIG_S_FEATURES_OK))
			virtio_fail(d, "DRIVER_OK without FEATURES_OK");
		else if (d->ops->activate && d->ops->activate(d))
			activate_failed(d);
		else
			serve_early_kicks(d);
		return;
	}
	d->status = v | (d->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static uint32_t read_reg(struct virtio_dev *d, uint64_t off)
{
	struct virtq *q = d->queue_sel < d->ops->num_queues ? &d->vq[d->queue_sel] : NULL;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID:
		return d->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return d->device_features_sel < 2
			       ? (uint32_t)(d->features >> (32 * d->device_features_sel))
			       : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? d->ops->queue_max : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return q ? q->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return d->isr;
	case VIRTIO_MMIO_STATUS:
		return d->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return d->config_generation;
	default:
		return 0;
	}
}

static void set_addr(uint64_t *a, bool high, uint32_t v)
{
	*a = high ? (*a & 0xffffffffULL) | ((uint64_t)v << 32) : (*a & ~0xffffffffULL) | v;
}

static void write_reg(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	struct virtq *q = d->queue_sel < d->ops->num_queues ? &d->vq[d->queue_sel] : NULL;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		d->device_features_sel = v;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (d->status & VIRTIO_CONFIG_S_FEATURES_OK)
			return; /* frozen once accepted */
		if (d->driver_features_sel < 2)
			d->driver_features = (d->driver_features &
					      ~(0xffffffffULL << (32 * d->driver_features_sel))) |
					     ((uint64_t)v << (32 * d->driver_features_sel));
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		d->driver_features_sel = v;
		return;
	case VIRTIO_MMIO_QUEUE_SEL:
		d->queue_sel = v;
		return;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		if (v < d->ops->num_queues)
			queue_kick(d, v);
		return;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		d->isr &= ~v;
		return;
	case VIRTIO_MMIO_STATUS:
		set_status(d, v);
		return;
	}
	/* The rest configures the selected queue, which must exist and not be live. */
	if (!q || q->ready)
		return;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		q->size = (uint16_t)(v > 0xffff ? 0 : v);
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		queue_ready(d, q, v);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_addr(&q->desc_gpa, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		set_addr(&q->avail_gpa, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		set_addr(&q->used_gpa, off == VIRTIO_MMIO_QUEUE_USED_HIGH, v);
		break;
	}
}

void virtio_mmio_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_dev *d = dev;

	pthread_mutex_lock(&d->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		uint64_t off = offset - VIRTIO_MMIO_CONFIG;

		if (off >= d->config_size || len > d->config_size - off) {
			count(d->ops->cfg_fails, d->own_cfg_fails);
			if (!is_write)
				memset(data, 0, len);
		} else if (is_write) {
			if (d->ops->config_write)
				d->ops->config_write(d, (uint32_t)off, data, len);
			else
				count(d->ops->cfg_fails, d->own_cfg_fails);
		} else {
			memcpy(data, d->config + off, len);
		}
	} else if (len != 4 || (offset & 3)) {
		/* Registers are 32-bit wide: anything else is ignored. */
		if (!is_write)
			memset(data, 0, len);
	} else if (is_write) {
		uint32_t v;

		memcpy(&v, data, 4);
		write_reg(d, offset, v);
	} else {
		uint32_t v = read_reg(d, offset);

		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&d->lock);
}

int virtio_mmio_init(struct virtio_dev *d, const struct virtio_dev_ops *ops, void *priv,
		     uint64_t features, const struct virtio_env *env, uint64_t base, uint32_t irq)
{
	unsigned int q;
	int err;

	memset(d, 0, sizeof(*d));
	d->ops = ops;
	d->priv = priv;
	d->env = *env;
	d->base = base;
	d->irq = irq;
	d->features = features | TRANSPORT_FEATURES;
	d->irq_fd = -1;
	pthread_mutex_init(&d->lock, NULL);
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d->kick_fd[q] = -1;
	if (ops->num_queues > VIRTIO_MAX_QUEUES)
		return -E2BIG;
	d->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->irq_fd < 0)
		return -errno;
	if (env->route_irq && (err = env->route_irq(env->ctx, d->irq_fd, irq)))
		return err;
	for (q = 0; q < ops->num_queues; q++) {
		d->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->kick_fd[q] < 0)
			return -errno;
		if (env->route_kick && (err = env->route_kick(env->ctx, d->kick_fd[q],
							      base + VIRTIO_MMIO_QUEUE_NOTIFY, q)))
			return err;
		d->kicks[q] = (struct virtio_kick){ d, q };
		err = event_loop_add(env->loop, d->kick_fd[q], EPOLLIN, on_kick, &d->kicks[q]);
		if (err)
			return err;
	}
	return io_bus_register(env->mmio, base, VIRTIO_MMIO_WINDOW, virtio_mmio_io, d, ops->name);
}

void virtio_mmio_destroy(struct virtio_dev *d)
{
	unsigned int q;

	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (d->kick_fd[q] >= 0)
			close(d->kick_fd[q]);
	if (d->irq_fd >= 0)
		close(d->irq_fd);
}

void virtio_queue_unpop(struct virtio_dev *d, unsigned int q, uint16_t n)
{
	if (q >= d->ops->num_queues || !n)
		return;
	d->vq[q].last_avail = (uint16_t)(d->vq[q].last_avail - n);
	queue_kick(d, q);
}

/* --- snapshots ------------------------------------------------------------- */

#define TRANSPORT_STATE_VERSION 1
#define KNOWN_STATUS                                                                        \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK | \
	 VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)
#define KNOWN_ISR (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG)

struct transport_rec {
	uint32_t version;
	uint32_t device_id, num_queues, status;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint32_t isr, config_generation, config_size;
	uint64_t features; /* offered when saved */
	uint64_t driver_features;
	uint8_t failed;
	uint8_t reserved[7];
	uint8_t config[VIRTIO_CONFIG_MAX];
} __attribute__((packed));

struct queue_rec {
	uint64_t desc, avail, used;
	uint16_t size, last_avail, used_idx, signalled_used;
	uint8_t ready, event_idx, indirect, signalled_valid;
	uint32_t reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct transport_rec) == 64 + VIRTIO_CONFIG_MAX, "fixed record size");
_Static_assert(sizeof(struct queue_rec) == 40, "fixed record size");

int virtio_mmio_save(struct virtio_dev *d, struct snap_writer *w)
{
	struct transport_rec t;
	struct queue_rec qr[VIRTIO_MAX_QUEUES];
	unsigned int q, nq = d->ops->num_queues;
	char name[16];
	int err;

	memset(&t, 0, sizeof(t));
	memset(qr, 0, sizeof(qr));
	pthread_mutex_lock(&d->lock);
	t.version = TRANSPORT_STATE_VERSION;
	t.device_id = d->ops->device_id;
	t.num_queues = nq;
	t.status = d->status;
	t.device_features_sel = d->device_features_sel;
	t.driver_features_sel = d->driver_features_sel;
	t.queue_sel = d->queue_sel;
	t.isr = d->isr;
	t.config_generation = d->config_generation;
	t.config_size = d->config_size;
	t.features = d->features;
	t.driver_features = d->driver_features;
	t.failed = d->failed;
	memcpy(t.config, d->config, sizeof(t.config));
	for (q = 0; q < nq; q++) {
		const struct virtq *v = &d->vq[q];

		qr[q] = (struct queue_rec){
			.desc = v->desc_gpa,
			.avail = v->avail_gpa,
			.used = v->used_gpa,
			.size = v->size,
			.last_avail = v->last_avail,
			.used_idx = v->used_idx,
			.signalled_used = v->signalled_used,
			.ready = v->ready,
			.event_idx = v->event_idx,
			.indirect = v->indirect,
			.signalled_valid = v->signalled_valid,
		};
	}
	pthread_mutex_unlock(&d->lock);
	err = snap_put(w, "transport", &t, sizeof(t));
	for (q = 0; q < nq && !err; q++) {
		snprintf(name, sizeof(name), "queue%u", q);
		err = snap_put(w, name, &qr[q], sizeof(qr[q]));
	}
	return err;
}

#define BAD(r, ...) (bad_field(r, __VA_ARGS__), -EINVAL)

static void bad_field(const struct snap_reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void bad_field(const struct snap_reader *r, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pr_err("restore %s: %s", r->scope[0] ? r->scope : "(virtio device)", why);
}

static int check_transport(struct virtio_dev *d, struct snap_reader *r,
			   const struct transport_rec *t)
{
	if (t->version != TRANSPORT_STATE_VERSION)
		return BAD(r, "transport state version %u, this volt reads %d", t->version,
			   TRANSPORT_STATE_VERSION);
	if (t->device_id != d->ops->device_id)
		return BAD(r, "device id %u, the device created is virtio-%s (%u)", t->device_id,
			   d->ops->name, d->ops->device_id);
	if (t->num_queues != d->ops->num_queues)
		return BAD(r, "%u queues, the device created has %u", t->num_queues,
			   d->ops->num_queues);
	if (t->config_size != d->config_size)
		return BAD(r, "config space of %u bytes, the device created has %u", t->config_size,
			   d->config_size);
	if (t->status & ~KNOWN_STATUS)
		return BAD(r, "status %#x has unknown bits %#x", t->status,
			   t->status & ~KNOWN_STATUS);
	if (t->isr & ~KNOWN_ISR)
		return BAD(r, "interrupt status %#x has unknown bits", t->isr);
	if (t->failed > 1 || t->reserved[0] || t->reserved[1] || t->reserved[2] || t->reserved[3] ||
	    t->reserved[4] || t->reserved[5] || t->reserved[6])
		return BAD(r, "failed flag %u or reserved bytes set", t->failed);
	if (t->failed)
		return 0; /* the driver must reset it: nothing below is used */
	if ((t->status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    ((t->driver_features & ~d->features) ||
	     !(t->driver_features & (1ULL << VIRTIO_F_VERSION_1))))
		return BAD(r, "driver features %#llx, the device created offers %#llx",
			   (unsigned long long)t->driver_features, (unsigned long long)d->features);
	if ((t->status & VIRTIO_CONFIG_S_DRIVER_OK) && !(t->status & VIRTIO_CONFIG_S_FEATURES_OK))
		return BAD(r, "status %#x: DRIVER_OK without FEATURES_OK", t->status);
	return 0;
}

/* Queue q as saved; a ready one is mapped again through virtq_setup(). */
static int restore_queue(struct virtio_dev *d, struct snap_reader *r, unsigned int qi,
			 const struct queue_rec *g, bool failed)
{
	struct virtq *q = &d->vq[qi];
	char why[160];

	if (g->ready > 1 || g->event_idx > 1 || g->indirect > 1 || g->signalled_valid > 1 ||
	    g->reserved)
		return BAD(r, "queue %u: flags %u/%u/%u/%u are not booleans, or reserved bits set",
			   qi, g->ready, g->event_idx, g->indirect, g->signalled_valid);
	virtq_reset(q);
	q->size = g->size;
	q->desc_gpa = g->desc;
	q->avail_gpa = g->avail;
	q->used_gpa = g->used;
	q->event_idx = g->event_idx;
	q->indirect = g->indirect;
	if (!g->ready || failed)
		return 0;
	if (g->size > d->ops->queue_max || !g->size || (g->size & (g->size - 1)))
		return BAD(r, "queue %u: size %u is not a power of two up to %u", qi, g->size,
			   d->ops->queue_max);
	if (virtq_setup(q, d->env.mem, d->ops->queue_max, why, sizeof(why))) {
		virtq_reset(q);
		return BAD(r, "queue %u: %s", qi, why);
	}
	/* virtq_setup() starts a queue at 0: the driver's rings say otherwise. */
	q->last_avail = g->last_avail;
	q->used_idx = g->used_idx;
	q->signalled_used = g->signalled_used;
	q->signalled_valid = g->signalled_valid;
	return 0;
}

int virtio_mmio_restore(struct virtio_dev *d, struct snap_reader *r)
{
	struct transport_rec t;
	struct queue_rec g[VIRTIO_MAX_QUEUES];
	unsigned int q, nq = d->ops->num_queues;
	char name[16];
	int err;

	err = snap_get(r, "transport", &t, sizeof(t));
	for (q = 0; q < nq && !err; q++) {
		snprintf(name, sizeof(name), "queue%u", q);
		err = snap_get(r, name, &g[q], sizeof(g[q]));
	}
	if (err)
		return err;
	d->features |= t.features & d->ops->restore_features;
	err = check_transport(d, r, &t);
	if (err)
		return err;
	pthread_mutex_lock(&d->lock);
	for (q = 0; q < nq && !err; q++)
		err = restore_queue(d, r, q, &g[q], t.failed);
	if (err) {
		for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
			virtq_reset(&d->vq[q]);
		goto out;
	}
	d->status = t.status;
	d->device_features_sel = t.device_features_sel;
	d->driver_features_sel = t.driver_features_sel;
	d->queue_sel = t.queue_sel;
	d->isr = t.isr;
	d->config_generation = t.config_generation;
	d->driver_features = t.driver_features;
	d->failed = t.failed;
	memcpy(d->config, t.config, d->config_size);
	if (d->failed || !(d->status & VIRTIO_CONFIG_S_DRIVER_OK))
		goto out;
	if (d->ops->activate && (err = d->ops->activate(d))) {
		count(d->ops->activate_fails, d->own_activate_fails);
		pr_err("restore %s: virtio-%s: its backend could not start: %s", r->scope,
		       d->ops->name, strerror(err < 0 ? -err : EIO));
		goto out;
	}
	for (q = 0; q < nq; q++)
		if (d->vq[q].ready)
			queue_kick(d, q);
out:
	pthread_mutex_unlock(&d->lock);
	return err;
}
