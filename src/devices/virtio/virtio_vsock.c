/* Placeholder: being written. */
#include "devices/virtio/virtio_vsock.h"

#include "util/log.h"

#include <errno.h>
#include <stdio.h>

int vsock_config_parse(const char *spec, struct vsock_config *c, char *why, size_t why_size)
{
	(void)spec;
	(void)c;
	snprintf(why, why_size, "virtio-vsock is not implemented yet");
	return -EINVAL;
}

int virtio_vsock_create(struct virtio_vsock **out, const struct vsock_config *c,
			const struct virtio_env *env, uint64_t base, uint32_t irq)
{
	(void)out;
	(void)c;
	(void)env;
	(void)base;
	(void)irq;
	return -ENOSYS;
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
	(void)v;
}
