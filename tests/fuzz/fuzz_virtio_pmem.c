/* libFuzzer target: virtio-pmem's request parser (virtio_pmem_handle). The
 * input gives the chain's shape (segment count, how many are readable, each
 * length) and then the bytes of the readable segments. Each segment is its
 * own heap block of the exact length, so ASan catches any access past one.
 * Checked besides crashes: a chain is answered (4) only when it is a 4-byte
 * FLUSH with a 4-byte status, which then holds the status given; readable
 * segments are never changed. */
#include <linux/virtio_pmem.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio/virtio_pmem.h"
#include "devices/virtio/virtq.h"

#define MAX_SEG_LEN 64

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static struct virtq_elem elem;
static uint8_t copies[VIRTQ_MAX_SEGS][MAX_SEG_LEN];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int n, nout, i;
	uint8_t req[4] = { 0 };
	size_t got = 0;
	char why[128];
	uint32_t used, st;

	if (size < 2)
		return 0;
	n = data[0] % 5;
	nout = n ? data[1] % (n + 1) : 0;
	data += 2;
	size -= 2;
	memset(&elem, 0, sizeof(elem));
	elem.out_num = nout;
	elem.in_num = n - nout;
	for (i = 0; i < n; i++) {
		size_t len = size ? data[0] % (MAX_SEG_LEN + 1) : 0;

		if (size) {
			data++;
			size--;
		}
		elem.iov[i].iov_base = malloc(len ? len : 1);
		elem.iov[i].iov_len = len;
		if (!elem.iov[i].iov_base)
			abort();
		memset(elem.iov[i].iov_base, 0xa5, len);
		if (i < nout) {
			size_t take = len < size ? len : size;

			memcpy(elem.iov[i].iov_base, data, take);
			data += take;
			size -= take;
			memcpy(copies[i], elem.iov[i].iov_base, len);
			elem.out_len += len;
			for (size_t k = 0; k < len && got < sizeof(req); k++)
				req[got++] = ((uint8_t *)elem.iov[i].iov_base)[k];
		} else {
			elem.in_len += len;
		}
	}
	used = virtio_pmem_handle(&elem, -1, why, sizeof(why));
	if (used != 0 && used != 4)
		abort();
	if ((used == 4) !=
	    (elem.out_len == 4 && elem.in_len == 4 && got == 4 && !memcmp(req, "\0\0\0\0", 4)))
		abort();
	if (used == 4) {
		size_t put = 0;
		uint8_t b[4];

		for (i = nout; i < n && put < 4; i++)
			for (size_t k = 0; k < elem.iov[i].iov_len && put < 4; k++)
				b[put++] = ((uint8_t *)elem.iov[i].iov_base)[k];
		memcpy(&st, b, 4);
		if (st != 0xffffffffu)
			abort();
	}
	for (i = 0; i < nout; i++)
		if (memcmp(copies[i], elem.iov[i].iov_base, elem.iov[i].iov_len))
			abort();
	for (i = 0; i < n; i++)
		free(elem.iov[i].iov_base);
	return 0;
}
