/* virtio-balloon (virtio 1.x, 5.5): inflated pages go back to the host with
 * madvise(MADV_DONTNEED); optional deflate-on-OOM and a statistics queue. */
#ifndef VOLT_DEVICES_VIRTIO_VIRTIO_BALLOON_H
#define VOLT_DEVICES_VIRTIO_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/virtio_mmio.h"

struct balloon_config {
	uint32_t mib; /* target size */
	bool deflate_on_oom;
	uint32_t stats_seconds; /* 0: no statistics */
};

/* Parses "MiB[,deflate-on-oom][,stats=SECONDS]"; -EINVAL with the reason in why. */
int balloon_config_parse(const char *spec, struct balloon_config *c, char *why, size_t why_size);

struct virtio_balloon;

int virtio_balloon_create(struct virtio_balloon **out, const struct balloon_config *c,
			  const struct virtio_env *env, uint64_t base, uint32_t irq);
void virtio_balloon_destroy(struct virtio_balloon *b);

#endif
