/* libFuzzer target: the decoder of Firecracker's --seccomp-filter files
 * (util/bitcode.c: bitcode 0.6's HashMap<String, Vec<u64>>).
 *
 * Input: any bytes, as a file's contents. Checked: a refusal says why and
 * leaves no map; an accepted map has UTF-8-sized keys within the input, no
 * more entries or values than the input could encode (8 a byte at best),
 * and decodes the same way a second time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/bitcode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bitcode_map m, again;
	size_t i, keys = 0, vals = 0;
	char why[96] = "";

	if (bitcode_decode(data, size, &m, why, sizeof(why))) {
		if (!why[0] || m.e || m.n)
			abort();
		return 0;
	}
	for (i = 0; i < m.n; i++) {
		keys += m.e[i].key_len;
		vals += m.e[i].nvals;
		if (m.e[i].key[m.e[i].key_len] != '\0')
			abort();
	}
	if (keys > size || m.n > 8 * size + 8 || vals > 8 * size + 8)
		abort();
	if (bitcode_decode(data, size, &again, why, sizeof(why)) || again.n != m.n)
		abort();
	for (i = 0; i < m.n; i++)
		if (again.e[i].key_len != m.e[i].key_len || again.e[i].nvals != m.e[i].nvals ||
		    memcmp(again.e[i].key, m.e[i].key, m.e[i].key_len) ||
		    (m.e[i].nvals &&
		     memcmp(again.e[i].vals, m.e[i].vals, m.e[i].nvals * sizeof(uint64_t))))
			abort();
	bitcode_map_free(&again);
	bitcode_map_free(&m);
	return 0;
}
