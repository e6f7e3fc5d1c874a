#include "core/io_bus.h"

#include "util/log.h"

#include <errno.h>
#include <string.h>

int io_bus_register(struct io_bus *b, uint64_t base, uint64_t len, io_handler h, void *dev,
		    const char *name)
{
	int i;

	if (!len || base + len < base)
		return -EINVAL;
	for (i = 0; i < b->n; i++)
		if (base < b->ranges[i].base + b->ranges[i].len && b->ranges[i].base < base + len)
			return -EEXIST;
	if (b->n == IO_BUS_MAX)
		return -ENOSPC;
	b->ranges[b->n++] = (struct io_range){ base, len, h, dev, name };
	return 0;
}

bool io_bus_access(const struct io_bus *b, uint64_t addr, uint8_t *data, uint32_t len,
		   bool is_write)
{
	int i;

	for (i = 0; i < b->n; i++) {
		const struct io_range *r = &b->ranges[i];

		if (addr >= r->base && addr - r->base < r->len &&
		    len <= r->len - (addr - r->base)) {
			r->handler(r->dev, addr - r->base, data, len, is_write);
			return true;
		}
	}
	if (!is_write)
		memset(data, 0xff, len);
	if (log_get_level() >= LOG_DEBUG)
		pr_debug("unhandled %s %s at %#llx, %u bytes", b->kind ? b->kind : "io",
			 is_write ? "write" : "read", (unsigned long long)addr, len);
	return false;
}
