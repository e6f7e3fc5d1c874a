/* The guest kit port (devices/legacy/kit_port.h): the ready callback on the
 * magic only, the command's bytes then 0 for ever, its save/restore, and the
 * volt.cmd= parameter moved out of a kernel command line. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/snap.h"
#include "devices/legacy/kit_port.h"

static int readies;

static void on_ready(void *ctx)
{
	cr_assert_eq(ctx, &readies);
	readies++;
}

static void out(struct kit_port *k, uint8_t v)
{
	kit_port_io(k, 0, &v, 1, true);
}

static uint8_t in(struct kit_port *k)
{
	uint8_t v = 0x5a;

	kit_port_io(k, 0, &v, 1, false);
	return v;
}

/* What volt-ready reads: up to the 0. */
static void read_cmd(struct kit_port *k, char *buf, size_t size)
{
	size_t n;

	for (n = 0; n < size; n++)
		if (!(buf[n] = (char)in(k)))
			return;
	cr_assert_fail("no 0 within %zu bytes", size);
}

Test(kit_port, ready_callback_on_the_magic_only)
{
	struct kit_port k;

	readies = 0;
	kit_port_init(&k, on_ready, &readies);
	out(&k, 0);
	out(&k, 123); /* the boot timer's magic is not ours */
	out(&k, 0xff);
	cr_assert_eq(readies, 0);
	out(&k, KIT_PORT_READY_MAGIC);
	cr_assert_eq(readies, 1);
	cr_assert_eq(k.readies, 1);
	out(&k, KIT_PORT_READY_MAGIC);
	cr_assert_eq(readies, 2);
	/* Wider writes are not the magic. */
	{
		uint8_t w[2] = { KIT_PORT_READY_MAGIC, KIT_PORT_READY_MAGIC };

		kit_port_io(&k, 0, w, 2, true);
	}
	cr_assert_eq(readies, 2);
}

Test(kit_port, no_callback_is_fine)
{
	struct kit_port k;

	kit_port_init(&k, NULL, NULL);
	out(&k, KIT_PORT_READY_MAGIC);
	cr_assert_eq(k.readies, 1);
}

Test(kit_port, command_bytes_then_zero_for_ever)
{
	struct kit_port k;
	char buf[64];
	int i;

	kit_port_init(&k, NULL, NULL);
	cr_assert_eq(kit_port_set_command(&k, "echo hi"), 0);
	out(&k, KIT_PORT_READY_MAGIC);
	read_cmd(&k, buf, sizeof(buf));
	cr_assert_str_eq(buf, "echo hi");
	for (i = 0; i < 10; i++)
		cr_assert_eq(in(&k), 0);
	cr_assert_eq(k.cursor, strlen("echo hi") + 1, "the cursor stops after the 0");
}

Test(kit_port, empty_command_reads_zero_at_once)
{
	struct kit_port k;

	kit_port_init(&k, NULL, NULL);
	cr_assert_eq(in(&k), 0, "an initialised port holds the empty command: the shell");
	cr_assert_eq(in(&k), 0);
}

Test(kit_port, wide_or_offset_reads_are_all_ones)
{
	struct kit_port k;
	uint8_t w[4] = { 0 };

	kit_port_init(&k, NULL, NULL);
	kit_port_set_command(&k, "x");
	kit_port_io(&k, 0, w, 4, false);
	cr_assert_eq(w[0], 0xff);
	cr_assert_eq(w[3], 0xff);
	kit_port_io(&k, 1, w, 1, false);
	cr_assert_eq(w[0], 0xff);
	cr_assert_eq(in(&k), 'x', "they did not move the cursor");
}

Test(kit_port, set_command_rules)
{
	static char big[KIT_PORT_CMD_MAX + 2];
	struct kit_port k;
	char buf[KIT_PORT_CMD_MAX + 1];

	kit_port_init(&k, NULL, NULL);
	memset(big, 'a', KIT_PORT_CMD_MAX + 1);
	cr_assert_eq(kit_port_set_command(&k, big), -E2BIG);
	cr_assert_eq(kit_port_set_command(&k, "\xff"
					      "abc"),
		     -EINVAL);
	big[KIT_PORT_CMD_MAX] = '\0';
	cr_assert_eq(kit_port_set_command(&k, big), 0, "KIT_PORT_CMD_MAX bytes fit");
	cr_assert_eq(kit_port_set_command(&k, "first"), 0, "replaceable before reading");
	cr_assert_eq(kit_port_set_command(&k, "second"), 0);
	cr_assert_eq(in(&k), 's');
	cr_assert_eq(kit_port_set_command(&k, "third"), -EBUSY, "not once the guest reads");
	read_cmd(&k, buf, sizeof(buf));
	cr_assert_str_eq(buf, "econd");
	/* The longest command and its 0 fit volt-ready's 4096 bytes. */
	kit_port_init(&k, NULL, NULL);
	cr_assert_eq(kit_port_set_command(&k, big), 0);
	read_cmd(&k, buf, sizeof(buf));
	cr_assert_eq(strlen(buf), KIT_PORT_CMD_MAX);
}

/* Saves k, restores into a fresh port that may already hold a command. */
static void round_trip(struct kit_port *from, struct kit_port *to)
{
	struct snap_writer w;
	struct snap_reader r;
	const uint8_t *img;
	size_t len;

	snap_writer_init(&w);
	cr_assert_eq(snap_writer_scope(&w, "dev/kit"), 0);
	cr_assert_eq(kit_port_save(from, &w), 0);
	cr_assert_eq(snap_finish(&w, &img, &len), 0);
	cr_assert_eq(snap_read_mem(&r, img, len, "test"), 0);
	snap_writer_free(&w);
	cr_assert_eq(snap_reader_scope(&r, "dev/kit"), 0);
	cr_assert_eq(kit_port_restore(to, &r), 0);
	cr_assert_null(snap_unread(&r));
	snap_reader_free(&r);
}

Test(kit_port, restore_at_the_ready_point_keeps_the_new_command)
{
	struct kit_port a, b;
	char buf[64];

	kit_port_init(&a, NULL, NULL);
	kit_port_set_command(&a, "the first run's command");
	out(&a, KIT_PORT_READY_MAGIC);
	kit_port_init(&b, NULL, NULL);
	cr_assert_eq(kit_port_set_command(&b, "echo restored"), 0);
	round_trip(&a, &b);
	read_cmd(&b, buf, sizeof(buf));
	cr_assert_str_eq(buf, "echo restored", "the snapshot never replays its command");
	/* Set after the restore works as well. */
	kit_port_init(&b, NULL, NULL);
	round_trip(&a, &b);
	cr_assert_eq(kit_port_set_command(&b, "later"), 0);
	read_cmd(&b, buf, sizeof(buf));
	cr_assert_str_eq(buf, "later");
}

Test(kit_port, restore_mid_read_resumes_the_read)
{
	struct kit_port a, b;
	char buf[64];

	kit_port_init(&a, NULL, NULL);
	kit_port_set_command(&a, "abcdef");
	cr_assert_eq(in(&a), 'a');
	cr_assert_eq(in(&a), 'b');
	kit_port_init(&b, NULL, NULL);
	kit_port_set_command(&b, "other");
	round_trip(&a, &b);
	read_cmd(&b, buf, sizeof(buf));
	cr_assert_str_eq(buf, "cdef");
	cr_assert_eq(kit_port_set_command(&b, "x"), -EBUSY);
}

Test(kit_port, restore_refuses_a_cursor_past_the_command)
{
	struct snap_writer w;
	struct snap_reader r;
	struct kit_port k;
	const uint8_t *img;
	size_t len;

	snap_writer_init(&w);
	snap_put_u64(&w, "cursor", 9);
	snap_put(&w, "cmd", "abc", 3);
	cr_assert_eq(snap_finish(&w, &img, &len), 0);
	cr_assert_eq(snap_read_mem(&r, img, len, "test"), 0);
	snap_writer_free(&w);
	kit_port_init(&k, NULL, NULL);
	cr_assert_eq(kit_port_restore(&k, &r), -EBADMSG);
	cr_assert_eq(k.cursor, 0, "nothing restored");
	snap_reader_free(&r);
}

static void take(const char *cmdline, int rc, const char *left, const char *cmd)
{
	char buf[256], got[128];

	snprintf(buf, sizeof(buf), "%s", cmdline);
	cr_assert_eq(kit_cmdline_take(buf, got, sizeof(got)), rc, "%s", cmdline);
	cr_assert_str_eq(buf, left, "%s", cmdline);
	cr_assert_str_eq(got, cmd, "%s", cmdline);
}

Test(kit_port, cmdline_take)
{
	take("console=ttyS0 quiet", 0, "console=ttyS0 quiet", "");
	take("console=ttyS0 volt.cmd=\"echo a b\" quiet", 1, "console=ttyS0 quiet", "echo a b");
	take("console=ttyS0 quiet volt.cmd=\"echo a b\"", 1, "console=ttyS0 quiet", "echo a b");
	take("volt.cmd=\"echo a\" console=ttyS0", 1, "console=ttyS0", "echo a");
	take("volt.cmd=\"\"", 1, "", "");
	take("a volt.cmd=ls b", 1, "a b", "ls");
	take("a volt.cmd=ls", 1, "a", "ls");
	take("volt.cmd=ls", 1, "", "ls");
	/* As init: a quoted one wins over an earlier bare one. */
	take("volt.cmd=x volt.cmd=\"y z\"", 1, "volt.cmd=x", "y z");
	/* Not a parameter of ours. */
	take("xvolt.cmd=ls", 0, "xvolt.cmd=ls", "");
	/* No closing quote: the rest of the line, as init reads it. */
	take("a volt.cmd=\"echo b c", 1, "a", "echo b c");
	{
		char buf[64] = "volt.cmd=\"0123456789\"", got[10];

		cr_assert_eq(kit_cmdline_take(buf, got, sizeof(got)), -E2BIG);
		cr_assert_str_eq(buf, "volt.cmd=\"0123456789\"", "untouched");
	}
}
