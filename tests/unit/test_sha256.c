#include <criterion/criterion.h>
#include <string.h>

#include "util/sha256.h"

static void hex_of(const void *data, size_t len, char out[65])
{
	struct sha256 s;

	sha256_init(&s);
	sha256_update(&s, data, len);
	sha256_hex(&s, out);
}

Test(sha256, fips_vectors)
{
	char hex[65];

	hex_of("", 0, hex);
	cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hex_of("abc", 3, hex);
	cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
	cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(sha256, split_updates_match_one_update)
{
	static char big[1000000];
	struct sha256 s;
	char hex[65];
	size_t off = 0, step = 1;

	memset(big, 'a', sizeof(big));
	sha256_init(&s);
	while (off < sizeof(big)) {
		size_t n = step < sizeof(big) - off ? step : sizeof(big) - off;

		sha256_update(&s, big + off, n);
		off += n;
		step = step * 3 + 1;
	}
	sha256_hex(&s, hex);
	cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
