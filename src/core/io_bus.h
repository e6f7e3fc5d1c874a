/* Port I/O and MMIO dispatch: devices register address ranges and a handler.
 * Accesses to nothing read as all-ones and are logged at debug level; they
 * are never fatal (Linux probes many legacy ports that a microVM lacks). */
#ifndef VOLT_CORE_IO_BUS_H
#define VOLT_CORE_IO_BUS_H

#include <stdbool.h>
#include <stdint.h>

#define IO_BUS_MAX 32

/* offset is relative to the range's base; data holds len (1..8) bytes. */
typedef void (*io_handler)(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

struct io_range {
	uint64_t base, len;
	io_handler handler;
	void *dev;
	const char *name;
};

struct io_bus {
	struct io_range ranges[IO_BUS_MAX];
	int n;
	const char *kind; /* "pio" or "mmio", for messages */
};

/* -EEXIST on overlap, -ENOSPC when full. Done before vCPUs run: no locking. */
int io_bus_register(struct io_bus *b, uint64_t base, uint64_t len, io_handler h, void *dev,
		    const char *name);
/* Returns true when a device handled the access. */
bool io_bus_access(const struct io_bus *b, uint64_t addr, uint8_t *data, uint32_t len,
		   bool is_write);

#endif
