#include "devices/virtio/virtio_mmio.h"

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
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtq_reset(&d->vq[q]);
	d->status = 0;
	d->driver_features = 0;
	d->device_features_sel = d->driver_features_sel = d->queue_sel = 0;
	d->isr = 0;
	d->failed = false;
}

void virtio_kick(struct virtio_dev *d, unsigned int q)
{
	pthread_mutex_lock(&d->lock);
	if (q < d->ops->num_queues && d->vq[q].ready && (d->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !d->failed)
		d->ops->notify(d, q);
	pthread_mutex_unlock(&d->lock);
}

static void on_kick(void *ctx, uint32_t events)
{
	struct virtio_kick *k = ctx;
	uint64_t n;

	(void)events;
	if (read(k->d->kick_fd[k->q], &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	virtio_kick(k->d, k->q);
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
 * looked at once when the device goes live. */
static void serve_early_kicks(struct virtio_dev *d)
{
	unsigned int q;

	for (q = 0; q < d->ops->num_queues && !d->failed; q++)
		if (d->vq[q].ready)
			d->ops->notify(d, q);
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
			virtio_fail(d, "its backend could not start");
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
			if (!is_write)
				memset(data, 0, len);
		} else if (is_write) {
			if (d->ops->config_write)
				d->ops->config_write(d, (uint32_t)off, data, len);
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
