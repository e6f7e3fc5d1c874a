/* virtio-rng (virtio 1.x, 5.4): fills each buffer the driver offers with bytes
 * from getrandom(). */
#ifndef VOLT_DEVICES_VIRTIO_VIRTIO_RNG_H
#define VOLT_DEVICES_VIRTIO_VIRTIO_RNG_H

#include "core/fields.h"
#include "core/rate_limiter.h"
#include "devices/virtio/virtio_mmio.h"

/* PUT /entropy's rate_limiter (JSON only: --rng takes no value). bandwidth:
 * the bytes of each buffer filled; ops: the buffers. */
struct rng_config {
	struct rl_config rate_limiter;
};

extern const struct field_set rng_fields;

struct virtio_rng;

/* c may be NULL: no rate limiter. */
int virtio_rng_create(struct virtio_rng **out, const struct rng_config *c,
		      const struct virtio_env *env, uint64_t base, uint32_t irq);
void virtio_rng_destroy(struct virtio_rng *r);
struct virtio_dev *virtio_rng_dev(struct virtio_rng *r);
/* The buckets c gives replace the running ones (any thread). */
void virtio_rng_update_rate_limiter(struct virtio_rng *r, const struct rl_config *c);
struct device_kind;
extern const struct device_kind virtio_rng_kind;
/* Fills the chain's writable part; returns the bytes written. */
uint32_t virtio_rng_fill(struct virtq_elem *e);

#endif
