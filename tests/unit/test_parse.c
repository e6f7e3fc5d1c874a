#include <criterion/criterion.h>
#include <errno.h>

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
