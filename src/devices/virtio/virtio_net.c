/* Placeholder: being written. */
#include "devices/virtio/virtio_net.h"

#include "util/log.h"

#include <errno.h>
#include <stdio.h>

int net_config_parse(const char *spec, struct net_config *c, char *why, size_t why_size)
{
	(void)spec;
	(void)c;
	snprintf(why, why_size, "virtio-net is not implemented yet");
	return -EINVAL;
}

int virtio_net_create(struct virtio_net **out, const struct net_config *c,
		      const struct virtio_env *env, uint64_t base, uint32_t irq)
{
	(void)out;
	(void)c;
	(void)env;
	(void)base;
	(void)irq;
	return -ENOSYS;
}

void virtio_net_destroy(struct virtio_net *n)
{
	(void)n;
}
