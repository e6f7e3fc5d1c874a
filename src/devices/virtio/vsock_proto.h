/* The pure parts of virtio-vsock (virtio 1.x, 5.10), kept apart from the
 * device so they can be tested alone: the verdict on a packet header the
 * guest sent, the header of a packet for the guest, and stream credit
 * arithmetic (all counters are free-running u32 that wrap). No I/O, no
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

/* The packet layout of virtio 1.x, 5.10.6; the rings carry exactly this. */
_Static_assert(sizeof(struct virtio_vsock_hdr) == 44, "virtio-vsock header is 44 bytes");

enum vsock_verdict {
	VSOCK_PKT_OK,
	VSOCK_PKT_DROP, /* not addressed to us, or an RST: never answered */
	VSOCK_PKT_RST,	/* answer with an RST and forget the connection */
};

/* Judges a header from the guest's TX queue with payload_avail readable bytes
 * after it in the chain. why (may be NULL) names the fault. */
enum vsock_verdict vsock_hdr_check(const struct virtio_vsock_hdr *h, uint64_t payload_avail,
				   uint64_t guest_cid, const char **why);

/* A stream packet header from the host's host_port to the guest's guest_port,
 * everything else zero. */
void vsock_hdr_fill(struct virtio_vsock_hdr *h, uint64_t guest_cid, uint32_t host_port,
		    uint32_t guest_port, uint16_t op);

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

#endif
