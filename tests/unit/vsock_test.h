/* Guest-made virtio-vsock packet headers for the vsock unit tests. */
#ifndef VOLT_TESTS_VSOCK_TEST_H
#define VOLT_TESTS_VSOCK_TEST_H

#include <endian.h>
#include <string.h>

#include "devices/virtio/vsock_proto.h"

/* A stream header from the guest's guest_port (CID guest_cid) to the host's host_port. */
static inline struct virtio_vsock_hdr guest_hdr(uint64_t guest_cid, uint16_t op,
						uint32_t guest_port, uint32_t host_port,
						uint32_t len, uint32_t buf_alloc, uint32_t fwd_cnt)
{
	struct virtio_vsock_hdr h;

	memset(&h, 0, sizeof(h));
	h.src_cid = htole64(guest_cid);
	h.dst_cid = htole64(VSOCK_HOST_CID);
	h.src_port = htole32(guest_port);
	h.dst_port = htole32(host_port);
	h.type = htole16(VIRTIO_VSOCK_TYPE_STREAM);
	h.op = htole16(op);
	h.len = htole32(len);
	h.buf_alloc = htole32(buf_alloc);
	h.fwd_cnt = htole32(fwd_cnt);
	return h;
}

#endif
