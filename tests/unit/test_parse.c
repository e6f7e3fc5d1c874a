#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

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
	char why[160], id[80];

	cr_assert_eq(parse_id_check("rootfs", why, sizeof(why)), 0);
	cr_assert_eq(parse_id_check("A_9", why, sizeof(why)), 0);
	memset(id, 'x', 64);
	id[64] = '\0';
	cr_assert_eq(parse_id_check(id, why, sizeof(why)), 0);
	id[64] = 'x';
	id[65] = '\0';
	cr_assert_eq(parse_id_check(id, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "longer than 64 characters"), "%s", why);
	cr_assert_eq(parse_id_check("", why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "must not be empty");
	cr_assert_eq(parse_id_check("../x", why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "'../x' may only hold letters, digits and '_'");
	cr_assert_eq(parse_id_check("a-b", why, sizeof(why)), -EINVAL);
	cr_assert_eq(parse_id_check("a%00b", why, sizeof(why)), -EINVAL);
	cr_assert_eq(parse_id_check("a\nb", why, sizeof(why)), -EINVAL);
	cr_assert_eq(parse_id_check("\xc3\xa9", why, sizeof(why)), -EINVAL);
}
