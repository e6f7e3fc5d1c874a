/* libFuzzer target: the MMDS store's JSON reader (mmds_json_parse,
 * devices/mmds/mmds_priv.h) on arbitrary bytes, as a PUT /mmds body or a
 * --metadata file: jansson, and the second reading of a text whose integers
 * jansson cannot hold (past i64).
 *
 * Checked: what is read is written (mmds_json_dump) as text the reader takes
 * again to the same text; a big integer holds only digits after its mark,
 * and no other string starts with the mark byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/mmds/mmds_priv.h"

static void check_strings(const json_t *v)
{
	const char *k;
	json_t *m;
	size_t i;

	if (mmds_is_big_integer(v)) {
		const char *s = json_string_value(v) + 1;

		if (strspn(s, "0123456789") != strlen(s) || strlen(s) > 20)
			abort();
	} else if (json_is_string(v)) {
		if (json_string_length(v) && (unsigned char)json_string_value(v)[0] == 0xff)
			abort();
	} else if (json_is_array(v)) {
		for (i = 0; i < json_array_size(v); i++)
			check_strings(json_array_get(v, i));
	} else if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, m) check_strings(m);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mmds_buf a = { 0 }, b = { 0 };
	char why[256];
	json_t *j, *again;

	j = mmds_json_parse((const char *)data, size, why, sizeof(why));
	if (!j)
		return 0;
	check_strings(j);
	mmds_json_dump(j, &a);
	json_decref(j);
	if (a.oom)
		abort();
	again = mmds_json_parse(a.p ? a.p : "", a.len, why, sizeof(why));
	if (!again)
		abort();
	mmds_json_dump(again, &b);
	json_decref(again);
	if (b.oom || a.len != b.len || (a.len && memcmp(a.p, b.p, a.len)))
		abort();
	free(a.p);
	free(b.p);
	return 0;
}
