/* libFuzzer target: virtio-blk's request handler (virtio_blk_handle) on a
 * small memfd disk. The input gives the drive (read-only, cache mode,
 * capacity), the chain's shape (segment count, how many are readable, each
 * length) and then the bytes of the readable segments, request header
 * first. Each segment is its own heap block of the exact length, so ASan
 * catches any access past one. Checked besides crashes: the used length fits
 * the writable part, the status byte is a defined status, readable segments
 * and the disk's size are never changed, and a read-only disk stays as is. */
#include <linux/virtio_blk.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/virtio_blk.h"
#include "devices/virtio/virtq.h"

#define MAX_SEG_LEN 8192

struct fuzz_hdr {
	uint8_t flags;
	uint8_t capacity; /* sectors */
	uint16_t nsegs;	  /* modulo VIRTQ_MAX_SEGS + 1 */
	uint16_t nout;	  /* readable ones, modulo nsegs + 1 */
	uint16_t tail;	  /* bytes past the last whole sector, modulo 512 */
} __attribute__((packed));

enum {
	F_READ_ONLY = 1 << 0,
	F_CACHE_UNSAFE = 1 << 1,
	F_ID = 1 << 2,
};

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static struct virtq_elem elem;
static uint8_t *copies[VIRTQ_MAX_SEGS]; /* what each readable segment held */
static uint8_t disk_image[255 * 512 + 512];
static int disk = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct blk_config cfg;
	struct fuzz_hdr h;
	unsigned int n, nout, i;
	uint64_t file_len, in_len = 0;
	struct stat st;
	uint32_t used;

	if (disk < 0) {
		disk = memfd_create("fuzz-disk", MFD_CLOEXEC);
		if (disk < 0)
			abort();
	}
	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	data += sizeof(h);
	size -= sizeof(h);
	n = h.nsegs % (VIRTQ_MAX_SEGS + 1);
	nout = h.nout % (n + 1);
	if (size < 2 * n)
		return 0;

	/* A fresh zeroed disk each time, so that runs reproduce. */
	file_len = h.capacity * 512ULL + h.tail % 512;
	if (ftruncate(disk, 0) || ftruncate(disk, (off_t)file_len))
		abort();
	memset(&cfg, 0, sizeof(cfg));
	cfg.read_only = h.flags & F_READ_ONLY;
	cfg.cache = (h.flags & F_CACHE_UNSAFE) ? BLK_CACHE_UNSAFE : BLK_CACHE_WRITEBACK;
	if (h.flags & F_ID)
		cfg.id = "fuzz_disk_identifier_longer_than_20"; /* GET_ID: its first 20 */

	elem.head = 0;
	elem.out_num = nout;
	elem.in_num = n - nout;
	elem.out_len = elem.in_len = 0;
	for (i = 0; i < n; i++) {
		size_t len = (size_t)(data[2 * i] | data[2 * i + 1] << 8) % (MAX_SEG_LEN + 1);

		elem.iov[i].iov_base = malloc(len);
		elem.iov[i].iov_len = len;
		if (!elem.iov[i].iov_base)
			abort();
		if (i < nout)
			elem.out_len += len;
		else
			elem.in_len += len;
	}
	data += 2 * n;
	size -= 2 * n;
	/* The readable segments take the rest of the input in order, zero padded. */
	for (i = 0; i < nout; i++) {
		size_t len = elem.iov[i].iov_len, take = len < size ? len : size;

		memset(elem.iov[i].iov_base, 0, len);
		memcpy(elem.iov[i].iov_base, data, take);
		data += take;
		size -= take;
		copies[i] = malloc(len);
		if (!copies[i])
			abort();
		memcpy(copies[i], elem.iov[i].iov_base, len);
	}
	for (i = nout; i < n; i++) {
		memset(elem.iov[i].iov_base, 0xee, elem.iov[i].iov_len);
		in_len += elem.iov[i].iov_len;
	}

	used = virtio_blk_handle(disk, h.capacity, &cfg, &elem);

	if (used > in_len)
		abort(); /* claims more than the driver made writable */
	if (n > nout && elem.iov[n - 1].iov_len) {
		const struct iovec *last = &elem.iov[n - 1];
		uint8_t status = ((uint8_t *)last->iov_base)[last->iov_len - 1];

		if (!used || status > VIRTIO_BLK_S_UNSUPP)
			abort();
	} else if (used) {
		abort(); /* nowhere to put a status, yet something was "used" */
	}
	for (i = 0; i < nout; i++)
		if (memcmp(copies[i], elem.iov[i].iov_base, elem.iov[i].iov_len))
			abort(); /* the device wrote into a readable segment */
	if (fstat(disk, &st) || (uint64_t)st.st_size != file_len)
		abort(); /* the disk grew or shrank */
	if (cfg.read_only && file_len) {
		static const uint8_t zero[sizeof(disk_image)];

		if (pread(disk, disk_image, file_len, 0) != (ssize_t)file_len ||
		    memcmp(disk_image, zero, file_len))
			abort(); /* a read-only disk was written */
	}

	for (i = 0; i < n; i++) {
		free(elem.iov[i].iov_base);
		if (i < nout)
			free(copies[i]);
	}
	return 0;
}
