#include "devices/virtio/vsock_proto.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

static enum vsock_verdict verdict(const char **why, const char *what, enum vsock_verdict v)
{
	if (why)
		*why = what;
	return v;
}

enum vsock_verdict vsock_hdr_check(const struct virtio_vsock_hdr *h, uint64_t payload_avail,
				   uint64_t guest_cid, const char **why)
{
	uint16_t op = le16toh(h->op);
	uint32_t len = le32toh(h->len);
	/* An RST is never answered, whatever is wrong with it. */
	enum vsock_verdict bad = op == VIRTIO_VSOCK_OP_RST ? VSOCK_PKT_DROP : VSOCK_PKT_RST;

	if (why)
		*why = NULL;
	/* Nobody to answer: the guest may only speak as itself, to the host. */
	if (le64toh(h->src_cid) != guest_cid)
		return verdict(why, "source CID is not the guest's", VSOCK_PKT_DROP);
	if (le64toh(h->dst_cid) != VSOCK_HOST_CID)
		return verdict(why, "destination CID is not the host", VSOCK_PKT_DROP);
	if (le16toh(h->type) != VIRTIO_VSOCK_TYPE_STREAM)
		return verdict(why, "not a stream packet", bad);
	if (op < VIRTIO_VSOCK_OP_REQUEST || op > VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		return verdict(why, "unknown operation", bad);
	if (len > VSOCK_MAX_PAYLOAD)
		return verdict(why, "payload longer than 64 KiB", bad);
	if (len > payload_avail)
		return verdict(why, "payload longer than its buffer", bad);
	if (op != VIRTIO_VSOCK_OP_RW && len)
		return verdict(why, "payload on a control packet", bad);
	if (op == VIRTIO_VSOCK_OP_SHUTDOWN &&
	    le32toh(h->flags) & ~(uint32_t)(VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND))
		return verdict(why, "unknown shutdown flags", bad);
	return VSOCK_PKT_OK;
}

void vsock_hdr_fill(struct virtio_vsock_hdr *h, uint64_t guest_cid, uint32_t host_port,
		    uint32_t guest_port, uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = htole64(VSOCK_HOST_CID);
	h->dst_cid = htole64(guest_cid);
	h->src_port = htole32(host_port);
	h->dst_port = htole32(guest_port);
	h->type = htole16(VIRTIO_VSOCK_TYPE_STREAM);
	h->op = htole16(op);
}

uint32_t vsock_credit(uint32_t buf_alloc, uint32_t fwd_cnt, uint32_t tx_cnt)
{
	uint32_t in_flight = tx_cnt - fwd_cnt;

	return in_flight >= buf_alloc ? 0 : buf_alloc - in_flight;
}

bool vsock_credit_update_due(uint32_t buf_alloc, uint32_t rx_cnt, uint32_t fwd_cnt,
			     uint32_t last_fwd_sent)
{
	uint32_t freed = fwd_cnt - last_fwd_sent;

	if (!freed || freed > rx_cnt - last_fwd_sent)
		return false;
	/* Waiting for a full packet's worth (or an empty buffer) keeps the
	 * updates few; a sender with little credit may otherwise stall. */
	return vsock_credit(buf_alloc, last_fwd_sent, rx_cnt) < VSOCK_CREDIT_LOW &&
	       (freed >= VSOCK_CREDIT_LOW || fwd_cnt == rx_cnt);
}
