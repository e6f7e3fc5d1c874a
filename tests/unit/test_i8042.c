/* The i8042 as Linux's i8042 and atkbd drivers use it: the probe, the
 * keyboard buffer with one interrupt per byte, Ctrl-Alt-Del, reset. */
#include <criterion/criterion.h>
#include <errno.h>

#include "devices/legacy/i8042.h"

static int irqs, resets;

static void on_irq(void *ctx)
{
	(void)ctx;
	irqs++;
}

static void on_reset(void *ctx)
{
	(void)ctx;
	resets++;
}

static uint8_t status(struct i8042 *k)
{
	uint8_t v;

	i8042_io(k, 4, &v, 1, false);
	return v;
}

static uint8_t data(struct i8042 *k)
{
	uint8_t v;

	i8042_io(k, 0, &v, 1, false);
	return v;
}

static void cmd(struct i8042 *k, uint8_t c)
{
	i8042_io(k, 4, &c, 1, true);
}

static void put(struct i8042 *k, uint8_t b)
{
	i8042_io(k, 0, &b, 1, true);
}

/* i8042_command(): wait for IBF clear, write, then read each answer byte once
 * OBF is set. */
static uint8_t command_read(struct i8042 *k, uint8_t c)
{
	cr_assert_eq(status(k) & 0x02, 0, "input buffer never busy");
	cmd(k, c);
	cr_assert(status(k) & 0x01, "answer to %#x waits in the output buffer", c);
	return data(k);
}

static void command_write(struct i8042 *k, uint8_t c, uint8_t b)
{
	cmd(k, c);
	cr_assert_eq(status(k) & 0x02, 0);
	put(k, b);
	cr_assert_eq(status(k) & 0x01, 0, "no answer to %#x", c);
}

/* What Linux 6.1 does at boot with i8042.noaux i8042.nomux i8042.dumbkbd. */
static void linux_probe(struct i8042 *k)
{
	uint8_t ctr;

	cr_assert_eq(status(k) & 0x01, 0, "i8042_flush: nothing pending");
	cr_assert_eq(command_read(k, 0xaa), 0x55, "self-test");
	ctr = command_read(k, 0x20);
	cr_assert_eq(command_read(k, 0x20), ctr, "a stable CTR");
	cr_assert(status(k) & 0x10, "keylock off");
	cr_assert(status(k) & 0x04, "system flag");
	/* Disable the keyboard and its interrupt while setting up. */
	command_write(k, 0x60, (uint8_t)((ctr | 0x10) & ~0x01));
	cr_assert_eq(command_read(k, 0x20), (uint8_t)((ctr | 0x10) & ~0x01));
	/* i8042_enable_kbd_port */
	command_write(k, 0x60, (uint8_t)((ctr & ~0x10) | 0x01));
}

Test(i8042, linux_probe_sees_a_translating_controller)
{
	struct i8042 k;

	i8042_init(&k, on_reset, on_irq, NULL);
	linux_probe(&k);
	cr_assert_eq(command_read(&k, 0x20), 0x45, "KBDINT, SYS, XLATE: AT Translated Set 2");
	cr_assert_eq(irqs, 0, "controller answers do not interrupt");
	cr_assert_eq(command_read(&k, 0xab), 0x00, "keyboard interface test");
	command_write(&k, 0xd1, 0x03);
	cr_assert_eq(command_read(&k, 0xd0), 0x03, "output port");
	cr_assert_eq(resets, 0, "the output port does not reset");
}

Test(i8042, ctrl_alt_del_translated_one_irq_per_byte)
{
	static const uint8_t want[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	struct i8042 k;
	unsigned int i;

	i8042_init(&k, on_reset, on_irq, NULL);
	linux_probe(&k);
	cr_assert_eq(i8042_ctrl_alt_del(&k), 0);
	cr_assert_eq(irqs, 1, "one interrupt for the first byte");
	for (i = 0; i < sizeof(want); i++) {
		cr_assert(status(&k) & 0x01);
		cr_assert_eq(status(&k) & 0x20, 0, "keyboard data, not aux");
		cr_assert_eq(data(&k), want[i], "byte %u", i);
		cr_assert_eq(irqs, (int)(i + 1 < sizeof(want) ? i + 2 : i + 1),
			     "byte %u: an interrupt for the next one, if any", i);
	}
	cr_assert_eq(irqs, (int)sizeof(want));
	cr_assert_eq(status(&k) & 0x01, 0);
	cr_assert_eq(data(&k), 0, "empty reads 0");
	cr_assert_eq(irqs, (int)sizeof(want));
}

Test(i8042, ctrl_alt_del_raw_set2)
{
	static const uint8_t want[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0,
					0x71, 0xf0, 0x11, 0xf0, 0x14 };
	struct i8042 k;
	unsigned int i;

	i8042_init(&k, on_reset, on_irq, NULL);
	command_write(&k, 0x60, 0x05); /* i8042.direct: no translation */
	cr_assert_eq(i8042_ctrl_alt_del(&k), 0);
	for (i = 0; i < sizeof(want); i++)
		cr_assert_eq(data(&k), want[i], "byte %u", i);
	cr_assert_eq(irqs, (int)sizeof(want));
}

Test(i8042, interrupt_waits_for_kbdint)
{
	struct i8042 k;

	i8042_init(&k, on_reset, on_irq, NULL);
	command_write(&k, 0x60, 0x44); /* interrupt off */
	cr_assert_eq(i8042_key(&k, 0x76, false), 0);
	cr_assert_eq(irqs, 0);
	cr_assert(status(&k) & 0x01, "but the byte is there to poll");
	cmd(&k, 0x60);
	put(&k, 0x45);
	cr_assert_eq(irqs, 1, "enabling the interrupt raises it for the waiting byte");
	cr_assert_eq(data(&k), 0x01, "Escape in set 1");
}

Test(i8042, full_buffer_refuses_whole_sequences)
{
	struct i8042 k;

	i8042_init(&k, on_reset, on_irq, NULL);
	cr_assert_eq(i8042_ctrl_alt_del(&k), 0); /* 8 bytes */
	cr_assert_eq(i8042_ctrl_alt_del(&k), 0); /* 16 */
	cr_assert_eq(i8042_ctrl_alt_del(&k), -ENOSPC, "the guest is not reading");
	cr_assert_eq(i8042_key(&k, 0x14, false), -ENOSPC);
	cr_assert_eq(data(&k), 0x1d);
	cr_assert_eq(i8042_key(&k, 0x14, false), 0, "room for one byte again");
}

Test(i8042, keyboard_commands_are_answered)
{
	struct i8042 k;

	i8042_init(&k, on_reset, on_irq, NULL);
	linux_probe(&k);
	put(&k, 0xff); /* reset */
	cr_assert_eq(irqs, 1);
	cr_assert_eq(data(&k), 0xfa);
	cr_assert_eq(data(&k), 0xaa, "self-test passed");
	cr_assert_eq(irqs, 2);
	put(&k, 0xf2); /* identify */
	cr_assert_eq(data(&k), 0xfa);
	cr_assert_eq(data(&k), 0xab);
	cr_assert_eq(data(&k), 0x41, "translated MF2 id");
	put(&k, 0xed); /* LEDs */
	cr_assert_eq(data(&k), 0xfa);
	put(&k, 0x02);
	cr_assert_eq(data(&k), 0xfa);
	cmd(&k, 0xd2); /* write keyboard output buffer */
	put(&k, 0x5a);
	cr_assert_eq(data(&k), 0x5a);
}

Test(i8042, reset_and_odd_accesses)
{
	struct i8042 k = { .reset = on_reset }; /* zeroed: powers on at first use */
	uint8_t w[2] = { 0xfe, 0xfe };

	cr_assert_eq(status(&k) & 0x03, 0);
	i8042_io(&k, 4, w, 2, true);
	cr_assert_eq(resets, 0, "two bytes wide is not a command");
	i8042_io(&k, 4, w, 2, false);
	cr_assert_eq(w[0], 0xff);
	put(&k, 0xfe);
	cr_assert_eq(resets, 0, "0xfe on the data port is for the keyboard");
	cmd(&k, 0xfe);
	cr_assert_eq(resets, 1);
}
