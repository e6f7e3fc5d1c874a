#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/id_pool.h"
#include "util/cmdline.h"
#include "util/parse.h"

Test(parse, size_units)
{
	uint64_t b;

	cr_assert_eq(parse_size("512", 1, &b), 0);
	cr_assert_eq(b, 512);
	cr_assert_eq(parse_size("512", 1 << 20, &b), 0);
	cr_assert_eq(b, 512ULL << 20);
	cr_assert_eq(parse_size("64K", 1, &b), 0);
	cr_assert_eq(b, 64ULL << 10);
	cr_assert_eq(parse_size("2G", 1, &b), 0);
	cr_assert_eq(b, 2ULL << 30);
	cr_assert_eq(parse_size("128MiB", 1, &b), 0);
	cr_assert_eq(b, 128ULL << 20);
	cr_assert_eq(parse_size("1mb", 1, &b), 0);
	cr_assert_eq(b, 1ULL << 20);
}

Test(parse, size_rejects_garbage_and_overflow)
{
	uint64_t b;

	cr_assert_eq(parse_size("", 1, &b), -EINVAL);
	cr_assert_eq(parse_size("-1", 1, &b), -EINVAL);
	cr_assert_eq(parse_size("12X", 1, &b), -EINVAL);
	cr_assert_eq(parse_size("12Mx", 1, &b), -EINVAL);
	cr_assert_eq(parse_size("M", 1, &b), -EINVAL);
	cr_assert_eq(parse_size("99999999999999999999", 1, &b), -ERANGE);
	cr_assert_eq(parse_size("17179869184T", 1, &b), -ERANGE);
}

Test(parse, uint_in_range_only)
{
	unsigned int v;

	cr_assert_eq(parse_uint("7", 1, 32, &v), 0);
	cr_assert_eq(v, 7);
	cr_assert_eq(parse_uint("32", 1, 32, &v), 0);
	cr_assert_eq(parse_uint("0", 1, 32, &v), -EINVAL);
	cr_assert_eq(parse_uint("33", 1, 32, &v), -EINVAL);
	cr_assert_eq(parse_uint("-1", 0, 32, &v), -EINVAL);
	cr_assert_eq(parse_uint(" 1", 0, 32, &v), -EINVAL);
	cr_assert_eq(parse_uint("1x", 0, 32, &v), -EINVAL);
	cr_assert_eq(parse_uint("", 0, 32, &v), -EINVAL);
	cr_assert_eq(parse_uint("99999999999999999999999", 0, 32, &v), -EINVAL);
}

Test(parse, text_value_finds_whole_keys)
{
	const char *text = "keyx=1\nkey=2\nkey=3\nempty=\nlast=4";
	char v[8];

	cr_assert(text_value(text, "key", v, sizeof(v)));
	cr_assert_str_eq(v, "2");
	cr_assert(text_value(text, "last", v, sizeof(v)));
	cr_assert_str_eq(v, "4");
	cr_assert(text_value(text, "empty", v, sizeof(v)));
	cr_assert_str_eq(v, "");
	cr_assert_not(text_value(text, "ke", v, sizeof(v)));
	cr_assert(text_value("long=abcdefghijk\n", "long", v, sizeof(v)));
	cr_assert_str_eq(v, "abcdefg");
}

/* The one id rule of --drive id=, drive_id/iface_id/vsock_id and API paths. */
Test(parse, id_check)
{
	static char id[20001];
	char why[160];

	cr_assert_eq(parse_id_check("rootfs", why, sizeof(why)), 0);
	cr_assert_eq(parse_id_check("A_9", why, sizeof(why)), 0);
	/* No length limit, as Firecracker's checked_id. */
	memset(id, 'x', 20000);
	cr_assert_eq(parse_id_check(id, why, sizeof(why)), 0);
	id[19999] = '-';
	cr_assert_eq(parse_id_check(id, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "...' may only hold letters"), "shown cut: %s", why);
	cr_assert_lt(strlen(why), 120);
	cr_assert_eq(parse_id_check("", why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "must not be empty");
	cr_assert_eq(parse_id_check("../x", why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "'../x' may only hold letters, digits and '_'");
	cr_assert_eq(parse_id_check("a-b", why, sizeof(why)), -EINVAL);
	cr_assert_eq(parse_id_check("a%00b", why, sizeof(why)), -EINVAL);
	cr_assert_eq(parse_id_check("a\nb", why, sizeof(why)), -EINVAL);
	cr_assert_eq(parse_id_check("\xc3\xa9", why, sizeof(why)), -EINVAL);
}

/* Ids as shared strings (util/id_pool.h). */
Test(id_pool, intern_share_and_sweep)
{
	static char big[20001];
	const char *a, *b, *c;
	size_t n0;

	id_pool_clear();
	cr_assert_str_eq(id_intern(""), "");
	cr_assert_eq(id_pool_count(), 0, "\"\" is not pooled");
	cr_assert_str_eq(id_str(NULL), "");
	memset(big, 'q', 20000);
	a = id_intern(big);
	b = id_intern_len(big, 20000);
	cr_assert_eq(a, b, "equal ids share one string");
	cr_assert_eq(strlen(a), 20000);
	c = id_intern_len("rootfs_and_more", 6);
	cr_assert_str_eq(c, "rootfs");
	n0 = id_pool_count();
	cr_assert_eq(n0, 2);
	id_pool_sweep_begin();
	id_pool_mark(c);
	id_pool_mark("");
	id_pool_mark(NULL);
	id_pool_mark("rootfs"); /* not a handle: nothing */
	id_pool_sweep_end();
	cr_assert_eq(id_pool_count(), 1, "the unmarked one is freed");
	cr_assert_eq(id_intern("rootfs"), c, "the marked one stays");
	id_pool_clear();
	cr_assert_eq(id_pool_count(), 0);
}

/* --- kernel command lines (util/cmdline.h) ------------------------------------ */

static void added(const char *before, const char *param, const char *after)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "%s", before);
	cr_assert_eq(cmdline_add(buf, sizeof(buf), param, strlen(param)), 0, "%s", before);
	cr_assert_str_eq(buf, after);
}

/* What follows a bare "--" is init's: a kernel parameter goes before it. */
Test(cmdline, parameters_go_before_init_args)
{
	added("", "root=/dev/vda", "root=/dev/vda");
	added("console=ttyS0", "root=/dev/vda", "console=ttyS0 root=/dev/vda");
	added("console=ttyS0 -- /etc/os-release", "ro", "console=ttyS0 ro -- /etc/os-release");
	added("-- a b", "ro", "ro -- a b");
	added("quiet --", "ro", "quiet ro --");
	added("quiet\t--\tx", "ro", "quiet\tro --\tx");
	/* Not init's "--": inside a word, or inside double quotes. */
	added("a--b --x", "ro", "a--b --x ro");
	added("volt.cmd=\"echo -- hi\" -- x", "ro", "volt.cmd=\"echo -- hi\" ro -- x");
	added("volt.cmd=\"echo -- hi\"", "ro", "volt.cmd=\"echo -- hi\" ro");
	cr_assert_eq(cmdline_init_args_at("a -- b -- c"), 2);
}

Test(cmdline, what_does_not_fit_changes_nothing)
{
	char buf[16] = "console=ttyS0";

	cr_assert_eq(cmdline_add(buf, sizeof(buf), "ro", 2), -E2BIG);
	cr_assert_str_eq(buf, "console=ttyS0");
	cr_assert_eq(cmdline_add(buf, sizeof(buf), "r", 1), 0);
	cr_assert_str_eq(buf, "console=ttyS0 r");
}
