#include <criterion/criterion.h>
#include <errno.h>

#include "util/size.h"

Test(size, units)
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

Test(size, rejects_garbage_and_overflow)
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
