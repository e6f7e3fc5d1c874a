#include "devices/virtio/vsock_proto.h"

#include <endian.h>
#include <errno.h>
#include <strings.h>

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

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

int vsock_parse_connect(const char *line, size_t len, uint32_t *port)
{
	static const char kw[] = "CONNECT";
	size_t i = 0, kwlen = sizeof(kw) - 1, digits = 0;
	uint64_t v = 0;

	while (i < len && is_blank(line[i]))
		i++;
	if (len - i < kwlen || strncasecmp(line + i, kw, kwlen))
		return -EINVAL;
	i += kwlen;
	if (i == len || !is_blank(line[i]))
		return -EINVAL;
	while (i < len && is_blank(line[i]))
		i++;
	for (; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(line[i] - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
		digits++;
	}
	if (!digits)
		return -EINVAL;
	while (i < len && is_blank(line[i]))
		i++;
	if (i != len)
		return -EINVAL;
	*port = (uint32_t)v;
	return 0;
}
