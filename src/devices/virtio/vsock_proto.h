/* The pure parts of virtio-vsock (virtio 1.x, 5.10), kept apart from the
 * device so they can be tested alone: the verdict on a packet header the
 * guest sent, stream credit arithmetic (all counters are free-running u32
 * that wrap), and the "CONNECT <port>" line a host client sends. No I/O, no
 * state. */
#ifndef VOLT_DEVICES_VIRTIO_VSOCK_PROTO_H
#define VOLT_DEVICES_VIRTIO_VSOCK_PROTO_H

#include <linux/virtio_vsock.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSOCK_HOST_CID	  2
#define VSOCK_MAX_PAYLOAD (64 * 1024) /* Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE */
/* A guest that believes it has less credit than one full packet may stall. */
#define VSOCK_CREDIT_LOW VSOCK_MAX_PAYLOAD

enum vsock_verdict {
	VSOCK_PKT_OK,
	VSOCK_PKT_DROP, /* not addressed to us, or an RST: never answered */
	VSOCK_PKT_RST,	/* answer with an RST and forget the connection */
};

/* Judges a header from the guest's TX queue with payload_avail readable bytes
 * after it in the chain. why (may be NULL) names the fault. */
enum vsock_verdict vsock_hdr_check(const struct virtio_vsock_hdr *h, uint64_t payload_avail,
				   uint64_t guest_cid, const char **why);

/* How many bytes a sender may still send: the receiver advertised buf_alloc
 * and has consumed fwd_cnt of the tx_cnt bytes sent so far. 0 when the peer's
 * numbers make no sense (it claims more consumed than was sent). */
uint32_t vsock_credit(uint32_t buf_alloc, uint32_t fwd_cnt, uint32_t tx_cnt);

/* Whether a receiver with a buf_alloc buffer, which got rx_cnt bytes and has
 * forwarded fwd_cnt of them, should tell the sender so now: it last told it
 * last_fwd_sent, the credit the sender believes it has is low, and enough
 * was freed since (or everything was). */
bool vsock_credit_update_due(uint32_t buf_alloc, uint32_t rx_cnt, uint32_t fwd_cnt,
			     uint32_t last_fwd_sent);

/* Parses a host client's request line (without its '\n'): "CONNECT <port>",
 * keyword case-insensitive, a trailing '\r' or blanks tolerated. 0 or -EINVAL. */
int vsock_parse_connect(const char *line, size_t len, uint32_t *port);

#endif
