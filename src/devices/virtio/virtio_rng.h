/* virtio-rng (virtio 1.x, 5.4): fills each buffer the driver offers with bytes
 * from getrandom(). */
#ifndef VOLT_DEVICES_VIRTIO_VIRTIO_RNG_H
#define VOLT_DEVICES_VIRTIO_VIRTIO_RNG_H

#include "devices/virtio/virtio_mmio.h"

struct virtio_rng;

int virtio_rng_create(struct virtio_rng **out, const struct virtio_env *env, uint64_t base,
		      uint32_t irq);
void virtio_rng_destroy(struct virtio_rng *r);
/* No configuration: --rng, PUT /entropy with only a null rate_limiter. */
struct device_kind;
extern const struct device_kind virtio_rng_kind;
/* Fills the chain's writable part; returns the bytes written. */
uint32_t virtio_rng_fill(struct virtq_elem *e);

#endif
