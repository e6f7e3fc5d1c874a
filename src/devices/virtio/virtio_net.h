/* virtio-net (virtio 1.x, 5.1) over a host TAP device. */
#ifndef VOLT_DEVICES_VIRTIO_VIRTIO_NET_H
#define VOLT_DEVICES_VIRTIO_VIRTIO_NET_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/virtio_mmio.h"

struct net_config {
	char tap[IFNAMSIZ];
	uint8_t mac[6];
	bool has_mac;
};

/* Parses "tap=NAME[,mac=MAC]"; -EINVAL with the reason in why. */
int net_config_parse(const char *spec, struct net_config *c, char *why, size_t why_size);

struct virtio_net;

int virtio_net_create(struct virtio_net **out, const struct net_config *c,
		      const struct virtio_env *env, uint64_t base, uint32_t irq);
void virtio_net_destroy(struct virtio_net *n);

#endif
