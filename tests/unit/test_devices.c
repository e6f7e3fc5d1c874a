/* The legacy devices: 16550A register behaviour Linux depends on, CMOS, i8042. */
#include <criterion/criterion.h>

#include "devices/legacy/cmos.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/serial.h"

static char out[64];
static int nout;
static int irq_level = -1, irq_changes;

static void sink(void *ctx, uint8_t b)
{
	(void)ctx;
	out[nout++] = (char)b;
}

static void irq(void *ctx, bool level)
{
	(void)ctx;
	irq_level = level;
	irq_changes++;
}

static uint8_t rd(struct serial *s, int reg)
{
	uint8_t v;

	serial_io(s, (uint64_t)reg, &v, 1, false);
	return v;
}

static void wr(struct serial *s, int reg, uint8_t v)
{
	serial_io(s, (uint64_t)reg, &v, 1, true);
}

Test(serial, transmit_and_thre_interrupt)
{
	struct serial s;

	serial_init(&s, sink, irq, NULL);
	cr_assert_eq(rd(&s, 5) & 0x60, 0x60, "THR empty and transmitter idle");
	cr_assert_eq(rd(&s, 2), 0xc1, "16550A FIFOs, nothing pending");
	wr(&s, 4, 0x08); /* OUT2: interrupts reach the bus */
	wr(&s, 1, 0x02); /* enable THRE: fires at once with THR empty */
	cr_assert_eq(irq_level, 1);
	cr_assert_eq(rd(&s, 2), 0xc2);
	cr_assert_eq(irq_level, 0, "reading IIR acknowledges THRE");
	cr_assert_eq(rd(&s, 2), 0xc1);
	wr(&s, 0, 'h');
	wr(&s, 0, 'i');
	cr_assert_eq(nout, 2);
	cr_assert_eq(memcmp(out, "hi", 2), 0);
	cr_assert_eq(irq_level, 1, "THRE again after a write");
	wr(&s, 1, 0x00);
	cr_assert_eq(irq_level, 0);
}

Test(serial, receive_fifo_and_rda_priority)
{
	struct serial s;
	uint8_t big[100];

	serial_init(&s, sink, irq, NULL);
	wr(&s, 4, 0x08);
	wr(&s, 1, 0x03);
	cr_assert_eq(serial_receive(&s, (const uint8_t *)"ab", 2), 2);
	cr_assert_eq(rd(&s, 2), 0xc4, "received data outranks THRE");
	cr_assert(rd(&s, 5) & 1);
	cr_assert_eq(rd(&s, 0), 'a');
	cr_assert_eq(rd(&s, 0), 'b');
	cr_assert_eq(rd(&s, 5) & 1, 0);
	cr_assert_eq(rd(&s, 0), 0, "empty FIFO reads 0");
	memset(big, 'z', sizeof(big));
	cr_assert_eq(serial_receive(&s, big, sizeof(big)), SERIAL_FIFO_SIZE);
	cr_assert_eq(serial_rx_room(&s), 0);
	wr(&s, 2, 0x02); /* FCR: clear the receive FIFO */
	cr_assert_eq(serial_rx_room(&s), SERIAL_FIFO_SIZE);
}

Test(serial, divisor_latch_scratch_and_loopback)
{
	struct serial s;

	serial_init(&s, sink, irq, NULL);
	wr(&s, 3, 0x80);
	wr(&s, 0, 0x01);
	wr(&s, 1, 0x00);
	cr_assert_eq(rd(&s, 0), 0x01);
	wr(&s, 3, 0x03);
	cr_assert_eq(rd(&s, 3), 0x03);
	cr_assert_eq(nout, 0, "divisor writes are not output");
	wr(&s, 7, 0x5a);
	cr_assert_eq(rd(&s, 7), 0x5a);
	/* Linux's probe: loopback with RTS|OUT2 must read back as CTS|DCD. */
	wr(&s, 4, 0x10 | 0x0a);
	cr_assert_eq(rd(&s, 6) & 0xf0, 0x90);
	wr(&s, 0, 'L');
	cr_assert_eq(nout, 0, "loopback does not transmit");
	cr_assert_eq(rd(&s, 0), 'L');
	uint8_t wide[2] = { 0, 0 };
	serial_io(&s, 0, wide, 2, false);
	cr_assert_eq(wide[0], 0xff, "only byte accesses");
}

Test(cmos, clock_is_bcd_and_never_updating)
{
	struct cmos c = { 0 };
	long t = 1795247257; /* 2026-11-21 07:47:37 UTC */

	cr_assert_eq(cmos_read_reg(&c, 0x00, t), 0x37);
	cr_assert_eq(cmos_read_reg(&c, 0x02, t), 0x47);
	cr_assert_eq(cmos_read_reg(&c, 0x04, t), 0x07);
	cr_assert_eq(cmos_read_reg(&c, 0x07, t), 0x21);
	cr_assert_eq(cmos_read_reg(&c, 0x08, t), 0x11);
	cr_assert_eq(cmos_read_reg(&c, 0x09, t), 0x26);
	cr_assert_eq(cmos_read_reg(&c, 0x32, t), 0x20);
	cr_assert_eq(cmos_read_reg(&c, 0x0a, t) & 0x80, 0, "no update in progress");
	cr_assert_eq(cmos_read_reg(&c, 0x0d, t), 0x80);
	uint8_t v = 0x8f;
	cmos_io(&c, 0, &v, 1, true);
	cr_assert_eq(c.index, 0x0f, "NMI bit masked off");
}

static int resets;

static void on_reset(void *ctx)
{
	(void)ctx;
	resets++;
}

Test(i8042, status_idle_and_fe_resets)
{
	struct i8042 k = { .reset = on_reset };
	uint8_t v = 0xaa;

	i8042_io(&k, 4, &v, 1, false);
	cr_assert_eq(v & 0x03, 0, "no output, input buffer empty: Linux may reset");
	v = 0xd1;
	i8042_io(&k, 4, &v, 1, true);
	cr_assert_eq(resets, 0);
	v = 0xfe;
	i8042_io(&k, 0, &v, 1, true);
	cr_assert_eq(resets, 0, "0xfe on the data port is not a reset");
	i8042_io(&k, 4, &v, 1, true);
	cr_assert_eq(resets, 1);
}
