/* The 16550A's interrupt gating and FIFO edges: what a guest's driver relies on
 * beyond test_devices.c's register tour (OUT2 and IER gate the line; enabling
 * THRE raises it only on the enabling edge; the FIFO keeps order across its
 * wrap and loses the byte that overruns it). */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/legacy/serial.h"

#define REG_DATA 0
#define REG_IER	 1
#define REG_IIR	 2
#define REG_MCR	 4
#define REG_LSR	 5

#define IER_RDA	 0x01
#define IER_THRE 0x02
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_DR	 0x01

#define IIR_NONE 0xc1 /* FIFOs on, nothing pending */
#define IIR_THRE 0xc2
#define IIR_RDA	 0xc4

static int level, changes;

static void irq(void *ctx, bool l)
{
	(void)ctx;
	level = l;
	changes++;
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

static void init(struct serial *s)
{
	serial_init(s, NULL, irq, NULL);
	level = 0;
	changes = 0;
}

Test(serial_irq, out2_gates_the_line)
{
	struct serial s;

	init(&s);
	wr(&s, REG_IER, IER_RDA);
	cr_assert_eq(serial_receive(&s, (const uint8_t *)"x", 1), 1);
	cr_assert_eq(rd(&s, REG_IIR), IIR_RDA, "pending inside the chip");
	cr_assert_eq(level, 0, "without OUT2 nothing reaches the bus");
	wr(&s, REG_MCR, MCR_OUT2);
	cr_assert_eq(level, 1);
	wr(&s, REG_MCR, 0);
	cr_assert_eq(level, 0);
}

Test(serial_irq, received_data_interrupts_only_when_enabled)
{
	struct serial s;

	init(&s);
	wr(&s, REG_MCR, MCR_OUT2);
	cr_assert_eq(serial_receive(&s, (const uint8_t *)"x", 1), 1);
	cr_assert_eq(rd(&s, REG_LSR) & LSR_DR, LSR_DR, "the data is there");
	cr_assert_eq(rd(&s, REG_IIR), IIR_NONE, "but no interrupt with IER 0");
	cr_assert_eq(level, 0);
	wr(&s, REG_IER, IER_RDA);
	cr_assert_eq(rd(&s, REG_IIR), IIR_RDA);
	cr_assert_eq(level, 1);
	cr_assert_eq(rd(&s, REG_DATA), 'x');
	cr_assert_eq(level, 0, "the FIFO is empty: the line drops");
}

Test(serial_irq, thre_rises_on_the_enabling_edge_only)
{
	struct serial s;

	init(&s);
	wr(&s, REG_MCR, MCR_OUT2);
	wr(&s, REG_IER, IER_THRE);
	cr_assert_eq(rd(&s, REG_IIR), IIR_THRE);
	cr_assert_eq(rd(&s, REG_IIR), IIR_NONE, "acknowledged by the read");
	/* Rewriting IER with THRE still set is no new edge. */
	wr(&s, REG_IER, IER_THRE | IER_RDA);
	cr_assert_eq(rd(&s, REG_IIR), IIR_NONE);
	cr_assert_eq(level, 0);
	/* Off and on again is. */
	wr(&s, REG_IER, IER_RDA);
	wr(&s, REG_IER, IER_THRE | IER_RDA);
	cr_assert_eq(level, 1);
	cr_assert_eq(rd(&s, REG_IIR), IIR_THRE);
}

Test(serial_fifo, order_kept_across_the_wrap)
{
	struct serial s;
	uint8_t in[SERIAL_FIFO_SIZE];
	unsigned int i, round;

	init(&s);
	for (round = 0; round < 3; round++) {
		for (i = 0; i < sizeof(in); i++)
			in[i] = (uint8_t)(round * 50 + i);
		/* 50 at a time: each round starts where the last left the ring. */
		cr_assert_eq(serial_receive(&s, in, 50), 50);
		for (i = 0; i < 50; i++)
			cr_assert_eq(rd(&s, REG_DATA), in[i], "round %u byte %u", round, i);
		cr_assert_eq(rd(&s, REG_LSR) & LSR_DR, 0);
	}
}

Test(serial_fifo, loopback_overrun_loses_the_newest_byte)
{
	struct serial s;
	unsigned int i;

	init(&s);
	wr(&s, REG_MCR, MCR_LOOP);
	for (i = 0; i <= SERIAL_FIFO_SIZE; i++)
		wr(&s, REG_DATA, (uint8_t)i);
	cr_assert_eq(serial_rx_room(&s), 0);
	for (i = 0; i < SERIAL_FIFO_SIZE; i++)
		cr_assert_eq(rd(&s, REG_DATA), (uint8_t)i, "byte %u", i);
	cr_assert_eq(rd(&s, REG_LSR) & LSR_DR, 0, "the overrunning byte is gone");
	cr_assert_eq(serial_rx_room(&s), SERIAL_FIFO_SIZE);
}
