#include "devices/virtio/virtio_rng.h"

#include "core/metrics.h"
#include "devices/device_kind.h"
#include "util/log.h"

#include <errno.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct rng_metrics {
	metric_t entropy_event_count; /* requests */
	metric_t entropy_bytes;
	metric_t host_rng_fails;		 /* getrandom() gave less than asked */
	metric_t entropy_rate_limiter_throttled; /* a buffer waited for the rate limiter */
	metric_t rate_limiter_event_count;	 /* the rate limiter's timer fired */
	metric_t activate_fails; /* volt's entropy device has no activate() that can fail: 0 */
	/* Reading the queue's kick eventfd failed, or the rate limiter's timer
	 * fired with nothing to read (as Firecracker, which counts both). */
	metric_t entropy_event_fails;
};

static struct rng_metrics rng_metrics;

static const struct metric_field rng_metrics_fields[] = {
	METRIC_DELTA(struct rng_metrics, entropy_event_count),
	METRIC_DELTA(struct rng_metrics, entropy_bytes),
	METRIC_DELTA(struct rng_metrics, host_rng_fails),
	METRIC_DELTA(struct rng_metrics, entropy_rate_limiter_throttled),
	METRIC_DELTA(struct rng_metrics, rate_limiter_event_count),
	METRIC_DELTA(struct rng_metrics, activate_fails),
	METRIC_DELTA(struct rng_metrics, entropy_event_fails),
};

/* A counter in the struct but not in the table would never be written. */
_Static_assert(sizeof(rng_metrics_fields) / sizeof(rng_metrics_fields[0]) * sizeof(metric_t) ==
		       sizeof(struct rng_metrics),
	       "every counter needs a line in the table");

/* The "entropy" section of the metrics line, for the device table; the
 * counters are aggregated over every device of the kind. */
static const struct metrics_section rng_metrics_section = {
	.name = "entropy",
	.base = &rng_metrics,
	.fields = rng_metrics_fields,
	.n = sizeof(rng_metrics_fields) / sizeof(rng_metrics_fields[0]),
};

#define QUEUE_SIZE 64
/* A driver asking for more in one buffer gets this much: getrandom() returns
 * at most 32 MiB at once anyway, and the device thread must not stall. */
#define MAX_PER_BUFFER (64 * 1024)

struct virtio_rng {
	struct virtio_dev dev;
	struct virtq_elem elem;
	struct rate_limiter rl; /* d->lock */
	bool rl_ready;
};

uint32_t virtio_rng_fill(struct virtq_elem *e)
{
	uint32_t total = 0;
	unsigned int i;

	for (i = e->out_num; i < e->out_num + e->in_num && total < MAX_PER_BUFFER; i++) {
		size_t want = e->iov[i].iov_len, got = 0;

		if (want > MAX_PER_BUFFER - total)
			want = MAX_PER_BUFFER - total;
		while (got < want) {
			ssize_t n = getrandom((char *)e->iov[i].iov_base + got, want - got, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return total + (uint32_t)got;
			got += (size_t)n;
		}
		total += (uint32_t)got;
	}
	return total;
}

static uint32_t rng_request(void *ctx, struct virtq_elem *e)
{
	struct virtio_rng *r = ctx;
	uint32_t n;

	/* Firecracker's rate_limit_request: an op per buffer and its bytes. */
	if (!rate_limiter_consume_op(&r->rl,
				     e->in_len < MAX_PER_BUFFER ? e->in_len : MAX_PER_BUFFER)) {
		METRIC_INC(rng_metrics.entropy_rate_limiter_throttled);
		return VIRTIO_USED_RETRY;
	}
	n = virtio_rng_fill(e);
	METRIC_INC(rng_metrics.entropy_event_count);
	METRIC_ADD(rng_metrics.entropy_bytes, n);
	if (n < e->in_len && n < MAX_PER_BUFFER)
		METRIC_INC(rng_metrics.host_rng_fails);
	return n;
}

static void rng_notify(struct virtio_dev *d, unsigned int q)
{
	struct virtio_rng *r = d->priv;

	virtio_serve_queue(d, q, &r->elem, rng_request, r);
}

/* The rate limiter's timer (device thread): serve the parked queue again. */
static void rng_rl_event(void *ctx, uint32_t events)
{
	struct virtio_rng *r = ctx;

	(void)events;
	METRIC_INC(rng_metrics.rate_limiter_event_count);
	if (virtio_rate_limiter_resume(&r->dev, &r->rl, 0))
		METRIC_INC(rng_metrics.entropy_event_fails);
}

void virtio_rng_update_rate_limiter(struct virtio_rng *r, const struct rl_config *c)
{
	pthread_mutex_lock(&r->dev.lock);
	rate_limiter_update(&r->rl, c);
	pthread_mutex_unlock(&r->dev.lock);
}

struct virtio_dev *virtio_rng_dev(struct virtio_rng *r)
{
	return &r->dev;
}

static const struct virtio_dev_ops rng_ops = {
	.name = "rng",
	.device_id = VIRTIO_ID_RNG,
	.num_queues = 1,
	.queue_max = QUEUE_SIZE,
	.notify = rng_notify,
	.activate_fails = &rng_metrics.activate_fails,
	.event_fails = { &rng_metrics.entropy_event_fails },
};

int virtio_rng_create(struct virtio_rng **out, const struct rng_config *c,
		      const struct virtio_env *env, uint64_t base, uint32_t irq)
{
	static const struct rng_config none;
	struct virtio_rng *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	err = rate_limiter_init(&r->rl, &(c ? c : &none)->rate_limiter);
	if (err) {
		pr_err("virtio-rng: cannot make its rate limiter: %s", strerror(-err));
		free(r);
		return err;
	}
	err = virtio_mmio_init(&r->dev, &rng_ops, r, 0, env, base, irq);
	if (err) {
		pr_err("cannot plug in virtio-rng: %s", strerror(-err));
		rate_limiter_destroy(&r->rl);
		free(r);
		return err;
	}
	err = event_loop_add(env->loop, r->rl.timer_fd, EPOLLIN, rng_rl_event, r);
	if (err) {
		pr_err("virtio-rng: cannot watch its rate limiter: %s", strerror(-err));
		virtio_mmio_destroy(&r->dev);
		rate_limiter_destroy(&r->rl);
		free(r);
		return err;
	}
	r->rl_ready = true;
	*out = r;
	return 0;
}

void virtio_rng_destroy(struct virtio_rng *r)
{
	if (!r)
		return;
	virtio_mmio_destroy(&r->dev);
	if (r->rl_ready) {
		event_loop_del(r->dev.env.loop, r->rl.timer_fd);
		rate_limiter_destroy(&r->rl);
	}
	free(r);
}

/* --- the device kind ------------------------------------------------------- */

static int rng_create(void **dev, const void *cfg, const struct device_env *env)
{
	struct virtio_rng *r = NULL;
	int err;

	err = virtio_rng_create(&r, cfg, env->venv, env->base, env->irq);
	*dev = r;
	return err;
}

static void rng_destroy(void *dev)
{
	virtio_rng_destroy(dev);
}

/* Entropy has no state of its own: the transport's is all. */
static int rng_save(void *dev, struct snap_writer *w)
{
	return virtio_mmio_save(&((struct virtio_rng *)dev)->dev, w);
}

static int rng_restore(void *dev, struct snap_reader *r)
{
	return virtio_mmio_restore(&((struct virtio_rng *)dev)->dev, r);
}

static const struct field rng_field_list[] = {
	{ .json = "rate_limiter",
	  .type = FIELD_RL,
	  .offset = offsetof(struct rng_config, rate_limiter),
	  .has = FIELD_NO_HAS },
};

const struct field_set rng_fields = {
	.name = "entropy",
	.fields = rng_field_list,
	.n = sizeof(rng_field_list) / sizeof(rng_field_list[0]),
	.size = sizeof(struct rng_config),
	.unknown = "--rng takes no value",
};

_Static_assert(sizeof(struct rng_config) <= DEVICE_CONFIG_MAX, "DEVICE_CONFIG_MAX");

const struct device_kind virtio_rng_kind = {
	.name = "rng",
	.option = "rng",
	.api_path = "entropy",
	.config_key = "entropy",
	.metrics = &rng_metrics_section,
	.max = 1,
	/* No usage: --rng takes no value (the rate limiter is the API's). */
	.fields = &rng_fields,
	.create = rng_create,
	.destroy = rng_destroy,
	.save = rng_save,
	.restore = rng_restore,
	.api = { .rank = 130, .get = (const char *const[]){ "rate_limiter", NULL } },
};
