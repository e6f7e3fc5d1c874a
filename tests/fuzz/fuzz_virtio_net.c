/* libFuzzer target: virtio-net's frame paths over hostile queues, with a
 * datagram socketpair where the device has its TAP (a TAP needs
 * CAP_NET_ADMIN, and these paths only write and read one fd).
 *
 * The input is a header (accepted features, both queues' sizes and ring
 * addresses, flags), then the frames "the TAP" delivers (each a u16 length
 * and that many bytes: vnet header, then the Ethernet frame), then the guest
 * memory image (fuzz_mem.h). Receive goes as the device's rx_process() does:
 * net_rx_check(), then net_rx_place() into buffers popped from the receive
 * queue, with or without mergeable buffers, a frame held while the queue is
 * dry. Transmit goes as tx_process() does: net_tx_send() of every chain the
 * transmit queue holds, a chain refused by a full socket kept and sent again.
 * Checked besides crashes: every datagram "the TAP" gets is the chain's frame
 * after a header that passed net_tx_check(), with num_buffers zeroed; a
 * delivered frame was copied whole and num_buffers names the buffers it took;
 * and neither loop spins without making progress. */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "devices/virtio/virtio_net.h"
#include "devices/virtio/virtq.h"
#include "fuzz_mem.h"

#define QUEUE_MAX  256 /* the device's QUEUE_SIZE */
#define MAX_FRAMES 8
#define F(bit)	   (1ULL << (bit))

struct fuzz_hdr {
	uint8_t flags;
	uint8_t rx_log2, tx_log2; /* queue sizes 1 << (n % 11) */
	uint8_t unused;
	uint32_t features; /* asked for; only what the device offers is kept */
	uint16_t frames_len;
	uint64_t rx_desc, rx_avail, rx_used;
	uint64_t tx_desc, tx_avail, tx_used;
} __attribute__((packed));

enum {
	F_INDIRECT = 1 << 0,
	F_EVENT_IDX = 1 << 1,
	F_TWO_REGIONS = 1 << 2,
	F_TAP_FULL = 1 << 3, /* "the TAP" is read only when it refuses a frame */
	F_TX_FIRST = 1 << 4,
	F_NO_RX = 1 << 5,
	F_NO_TX = 1 << 6,
};

/* What the device offers when its TAP takes every offload. */
static const uint64_t offered =
	F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MRG_RXBUF) |
	F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) |
	F(VIRTIO_NET_F_HOST_ECN) | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) |
	F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN);

static struct net_rx rx;
static struct virtq_elem tx_elem;
static uint8_t rx_buf[NET_HDR_LEN + NET_FRAME_MAX + 1];
static uint8_t sent[NET_HDR_LEN + NET_FRAME_MAX + 64], expect[NET_HDR_LEN + NET_FRAME_MAX + 64];
static int tap[2] = { -1, -1 }; /* [0] the device's end, [1] the network's */

static int setup_queue(struct virtq *q, const struct guest_mem *m, uint8_t log2, uint64_t desc,
		       uint64_t avail, uint64_t used, uint8_t flags)
{
	char why[160];

	memset(q, 0, sizeof(*q));
	q->size = (uint16_t)(1u << (log2 % 11));
	q->desc_gpa = desc;
	q->avail_gpa = avail;
	q->used_gpa = used;
	q->indirect = flags & F_INDIRECT;
	q->event_idx = flags & F_EVENT_IDX;
	return virtq_setup(q, m, QUEUE_MAX, why, sizeof(why));
}

/* Reads what the device sent and checks it against the chain it came from. */
static void check_sent(const struct virtq_elem *e)
{
	ssize_t n = recv(tap[1], sent, sizeof(sent), MSG_DONTWAIT);
	struct virtio_net_hdr_v1 h;
	char why[160];

	if (n < 0)
		abort(); /* net_tx_send() said sent */
	if ((uint64_t)n != e->out_len || e->out_len > sizeof(expect))
		abort(); /* not exactly the chain's bytes */
	memcpy(&h, sent, sizeof(h));
	if (h.num_buffers || net_tx_check(&h, (uint64_t)n - NET_HDR_LEN, ~0ULL, why, sizeof(why)))
		abort();
	iov_to_buf(e->iov, e->out_num, 0, expect, e->out_len);
	if (memcmp(sent + NET_HDR_LEN, expect + NET_HDR_LEN, (size_t)n - NET_HDR_LEN))
		abort();
}

static void drain_tap(void)
{
	while (recv(tap[1], sent, sizeof(sent), MSG_DONTWAIT) >= 0)
		;
}

static void tx_process(struct virtq *q, uint64_t features, uint8_t flags)
{
	unsigned int idle = 0, done = 0, limit = 2u * q->size + 16;
	bool pending = false;
	char why[160];
	int r;

	do {
		unsigned int before = done;

		virtq_disable_notify(q);
		while (done < limit) {
			if (!pending) {
				r = virtq_pop(q, &tx_elem, why, sizeof(why));
				if (r < 0)
					return; /* virtio_fail() */
				if (r == 0)
					break;
			}
			r = net_tx_send(tap[0], &tx_elem, features, why, sizeof(why));
			if (r == -EAGAIN) {
				if (pending)
					abort(); /* the socket was drained: it cannot be full */
				/* Writable again: the device retries the same chain. */
				drain_tap();
				pending = true;
				continue;
			}
			pending = false;
			if (r == 0 && !(flags & F_TAP_FULL))
				check_sent(&tx_elem);
			virtq_push(q, tx_elem.head, 0);
			virtq_should_notify(q);
			done++;
		}
		if (done >= limit)
			break;
		if (done == before && ++idle > 16) {
			fprintf(stderr, "fuzz_virtio_net: the TX loop would spin\n");
			abort();
		}
	} while (virtq_enable_notify(q));
	drain_tap();
}

/* One frame into the guest; false when the queue is dry or broken. */
static bool rx_frame(struct virtq *q, const uint8_t *frame, size_t len, uint64_t features)
{
	bool mergeable = features & F(VIRTIO_NET_F_MRG_RXBUF);
	unsigned int idle = 0;
	char why[160];
	int r;

	if (len > sizeof(rx_buf))
		len = sizeof(rx_buf);
	memcpy(rx_buf, frame, len);
	if (net_rx_check(rx_buf, len, features, why, sizeof(why)))
		return true; /* dropped */
	rx.frame = rx_buf;
	rx.len = len;
	rx.placed = 0;
	rx.nused = 0;
	for (;;) {
		r = net_rx_place(&rx, q, mergeable, why, sizeof(why));
		if (r != -EAGAIN)
			break;
		if (!virtq_enable_notify(q))
			return false; /* held until the driver adds buffers */
		virtq_disable_notify(q);
		if (++idle > 16) {
			fprintf(stderr, "fuzz_virtio_net: the RX loop would spin\n");
			abort();
		}
	}
	if (r < 0)
		return false;
	if (r == 0) {
		if (rx.placed != rx.len || !rx.nused || rx.nused > q->size)
			abort();
		if (!mergeable && rx.nused != 1)
			abort();
	}
	virtq_should_notify(q);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *frames;
	struct fuzz_hdr h;
	struct guest_mem m;
	struct virtq rxq, txq;
	uint64_t features;
	size_t flen;
	bool rx_ok, tx_ok;
	int pass;

	if (tap[0] < 0) {
		int buf = 1 << 20;

		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, tap))
			abort();
		setsockopt(tap[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
		setsockopt(tap[1], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	}
	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	data += sizeof(h);
	size -= sizeof(h);
	flen = h.frames_len < size ? h.frames_len : size;
	frames = data;
	data += flen;
	size -= flen;
	fuzz_mem_set(&m, data, size, h.flags & F_TWO_REGIONS, 0);
	features = h.features & offered;

	rx_ok = !(h.flags & F_NO_RX) &&
		!setup_queue(&rxq, &m, h.rx_log2, h.rx_desc, h.rx_avail, h.rx_used, h.flags);
	tx_ok = !(h.flags & F_NO_TX) &&
		!setup_queue(&txq, &m, h.tx_log2, h.tx_desc, h.tx_avail, h.tx_used, h.flags);
	for (pass = 0; pass < 2; pass++) {
		if (pass == !!(h.flags & F_TX_FIRST)) {
			if (tx_ok)
				tx_process(&txq, features, h.flags);
			continue;
		}
		if (rx_ok) {
			const uint8_t *p = frames;
			size_t left = flen;
			unsigned int n;

			virtq_disable_notify(&rxq);
			for (n = 0; n < MAX_FRAMES && left >= 2; n++) {
				size_t len = (size_t)(p[0] | p[1] << 8);

				p += 2;
				left -= 2;
				if (len > left)
					len = left;
				if (!rx_frame(&rxq, p, len, features))
					break;
				p += len;
				left -= len;
			}
		}
	}
	drain_tap();
	return 0;
}
