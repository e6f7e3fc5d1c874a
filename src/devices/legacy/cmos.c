#include "devices/legacy/cmos.h"

#include "core/snap.h"
#include "util/log.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static uint8_t bcd(int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

uint8_t cmos_read_reg(const struct cmos *c, uint8_t idx, long t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	switch (idx) {
	case 0x00:
		return bcd(tm.tm_sec);
	case 0x02:
		return bcd(tm.tm_min);
	case 0x04:
		return bcd(tm.tm_hour);
	case 0x06:
		return bcd(tm.tm_wday + 1);
	case 0x07:
		return bcd(tm.tm_mday);
	case 0x08:
		return bcd(tm.tm_mon + 1);
	case 0x09:
		return bcd(tm.tm_year % 100);
	case 0x32:
		return bcd((1900 + tm.tm_year) / 100);
	case 0x0a:
		return 0x26; /* 32.768 kHz base, 1024 Hz rate, no update in progress */
	case 0x0b:
		return 0x02; /* 24-hour mode, BCD, no interrupts */
	case 0x0c:
		return 0x00;
	case 0x0d:
		return 0x80; /* valid RAM and time */
	default:
		return c->nvram[idx & 0x7f];
	}
}

void cmos_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct cmos *c = dev;

	if (len != 1) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (offset == 0) {
		if (is_write)
			c->index = data[0] & 0x7f; /* bit 7 is the NMI mask */
		else
			data[0] = 0xff;
		return;
	}
	if (is_write)
		c->nvram[c->index] = data[0];
	else
		data[0] = cmos_read_reg(c, c->index, (long)time(NULL));
}

/* --- snapshots ------------------------------------------------------------- */

#define CMOS_STATE_VERSION 1

struct cmos_regs_rec {
	uint32_t version;
	uint8_t index;
	uint8_t reserved[3];
	uint8_t nvram[128];
} __attribute__((packed));

_Static_assert(sizeof(struct cmos_regs_rec) == 136, "fixed record size");
_Static_assert(sizeof(((struct cmos *)0)->nvram) == 128, "the record holds all of it");

int cmos_save(const struct cmos *c, struct snap_writer *w)
{
	struct cmos_regs_rec g = { .version = CMOS_STATE_VERSION, .index = c->index };

	memcpy(g.nvram, c->nvram, sizeof(g.nvram));
	return snap_put(w, "regs", &g, sizeof(g));
}

int cmos_restore(struct cmos *c, struct snap_reader *r)
{
	struct cmos_regs_rec g;
	int err = snap_get(r, "regs", &g, sizeof(g));

	if (err)
		return err;
	if (g.version != CMOS_STATE_VERSION) {
		pr_err("restore: cmos: state version %u, this volt reads %d", g.version,
		       CMOS_STATE_VERSION);
		return -EINVAL;
	}
	if (g.index > 0x7f || g.reserved[0] || g.reserved[1] || g.reserved[2]) {
		pr_err("restore: cmos: index %#x beyond its 128 bytes, or reserved bytes set",
		       g.index);
		return -EINVAL;
	}
	c->index = g.index;
	memcpy(c->nvram, g.nvram, sizeof(c->nvram));
	return 0;
}
