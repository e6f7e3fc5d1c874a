/* A read-only MC146818 RTC/CMOS (ports 0x70/0x71) showing the host's UTC time,
 * so the guest's wall clock starts right and its RTC probe never spins on
 * "update in progress". */
#ifndef VOLT_DEVICES_LEGACY_CMOS_H
#define VOLT_DEVICES_LEGACY_CMOS_H

#include <stdbool.h>
#include <stdint.h>

#define CMOS_PORT 0x70

struct cmos {
	uint8_t index;
	uint8_t nvram[128]; /* everything but the clock registers; writes land here */
};

void cmos_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
/* The value register idx reads at host time t (UTC). */
uint8_t cmos_read_reg(const struct cmos *c, uint8_t idx, long t);

/* Snapshots (core/snap.h; the caller sets the scope, "dev/cmos"): the index
 * register and the 128 bytes of RAM, record "regs" (fixed size). The clock is
 * not state: every read of a time register computes it from the host's UTC
 * clock, so a restored guest reads the time of the restoring host, as a real
 * RTC keeps running while a machine sleeps; registers A-D are constants. The
 * NMI mask bit of the index port is not kept (writes drop it). Restore
 * refuses an index beyond 0x7f (-EINVAL, logged). 0 or -errno. */
struct snap_writer;
struct snap_reader;
int cmos_save(const struct cmos *c, struct snap_writer *w);
int cmos_restore(struct cmos *c, struct snap_reader *r);

#endif
