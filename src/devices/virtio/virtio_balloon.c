/* Placeholder: being written. */
#include "devices/virtio/virtio_balloon.h"

#include "util/log.h"

#include <errno.h>
#include <stdio.h>

int balloon_config_parse(const char *spec, struct balloon_config *c, char *why, size_t why_size)
{
	(void)spec;
	(void)c;
	snprintf(why, why_size, "virtio-balloon is not implemented yet");
	return -EINVAL;
}

int virtio_balloon_create(struct virtio_balloon **out, const struct balloon_config *c,
			  const struct virtio_env *env, uint64_t base, uint32_t irq)
{
	(void)out;
	(void)c;
	(void)env;
	(void)base;
	(void)irq;
	return -ENOSYS;
}

void virtio_balloon_destroy(struct virtio_balloon *b)
{
	(void)b;
}
