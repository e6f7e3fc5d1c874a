/* Just enough of the i8042 keyboard controller for a guest to reset the
 * machine (Linux's reboot=k writes 0xfe to port 0x64). The status port reads
 * 0, which Linux needs to see before it sends the reset command. */
#ifndef VOLT_DEVICES_LEGACY_I8042_H
#define VOLT_DEVICES_LEGACY_I8042_H

#include <stdbool.h>
#include <stdint.h>

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT	0x64
#define I8042_CMD_RESET 0xfe

struct i8042 {
	void (*reset)(void *ctx);
	void *ctx;
};

/* Registered on ports 0x60..0x64 (0x61-0x63 belong to others: offsets 0 and 4 only). */
void i8042_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
