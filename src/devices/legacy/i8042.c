#include "devices/legacy/i8042.h"

#include <string.h>

void i8042_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct i8042 *k = dev;

	if (!is_write) {
		memset(data, 0, len); /* no data, input buffer empty */
		return;
	}
	if (offset == I8042_CMD_PORT - I8042_DATA_PORT && len == 1 && data[0] == I8042_CMD_RESET &&
	    k->reset)
		k->reset(k->ctx);
}
