/* The guest's way to the MMDS: a minimal ARP + IPv4 + TCP stack for one IPv4
 * address and port 80, one per MMDS-enabled virtio-net interface (as
 * Firecracker's "dumbo"). The net device hands it every Ethernet frame the
 * guest sends (detour); the frames addressed to the MMDS never reach the TAP.
 * The stack answers with frames the device delivers to the guest before TAP
 * frames (next_frame). Single-threaded: the device thread drives it, under
 * the device's lock.
 *
 * What the guest sends is hostile, so:
 *  - every length is checked before use; bad frames are dropped and counted;
 *  - IPv4: version, header length, total length against the frame, header
 *    checksum; fragments are dropped; protocols other than TCP are dropped;
 *  - TCP: header length, checksum (unless the guest left it to the device:
 *    VIRTIO_NET_HDR_F_NEEDS_CSUM, the partial flag), in-order data only (a
 *    segment overlapping what was received keeps its new bytes);
 *  - memory is bounded: MMDS_STACK_MAX_CONNS connections, each buffering at
 *    most MMDS_HTTP_REQUEST_MAX request bytes (the window it advertises) and
 *    one answer at a time (the next request is served once the guest acked
 *    the last answer), and MMDS_STACK_MAX_PENDING queued ARP replies and
 *    RSTs. A SYN over the connection limit evicts a connection idle for
 *    MMDS_STACK_EVICT_IDLE_NS, or else is answered with a RST.
 * Frames are built lazily when the device asks for one, so nothing queues up
 * while the guest has no receive buffers.
 *
 * Retransmission: a connection with unacknowledged data (or SYN, FIN) that
 * makes no progress for MMDS_STACK_RTO_NS goes back to its oldest unacked
 * byte and sends again (go-back-N); after MMDS_STACK_RTO_MAX such timeouts in
 * a row it is reset. Three duplicate ACKs do the same at once (fast
 * retransmit). A zero window is probed on the same timer. The device arms a
 * timer for mmds_stack_deadline() and calls mmds_stack_timer() when it fires.
 * No connection survives a snapshot (Firecracker drops them too). */
#ifndef VOLT_DEVICES_MMDS_MMDS_STACK_H
#define VOLT_DEVICES_MMDS_MMDS_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/mmds/mmds.h"

#define MMDS_STACK_PORT		 80
#define MMDS_STACK_MAX_CONNS	 30
#define MMDS_STACK_MAX_PENDING	 100
#define MMDS_STACK_MSS		 1460	       /* what the stack advertises and sends at most */
#define MMDS_STACK_RTO_NS	 1200000000ull /* Firecracker's 1.2 s */
#define MMDS_STACK_RTO_MAX	 15
#define MMDS_STACK_EVICT_IDLE_NS 40000000000ull /* Firecracker's 40 s */
/* The largest frame next_frame builds: Ethernet, IPv4, TCP with MSS, data. */
#define MMDS_STACK_FRAME_MAX (14 + 20 + 24 + MMDS_STACK_MSS)

/* Firecracker's MAC for the MMDS (locally administered, unicast). */
extern const uint8_t mmds_stack_default_mac[6];

struct mmds_stack;

/* A stack answering for ipv4 (host byte order) with MAC mac, serving from m
 * (which outlives it). 0 or -ENOMEM. */
int mmds_stack_create(struct mmds_stack **out, struct mmds *m, uint32_t ipv4, const uint8_t mac[6]);
void mmds_stack_destroy(struct mmds_stack *s);

/* The address the stack answers for, from now on (host byte order). */
void mmds_stack_set_ipv4(struct mmds_stack *s, uint32_t ipv4);

/* Whether detour would take a frame that starts with these len bytes, when
 * len is min(the frame's length, MMDS_STACK_PEEK): the device looks at a
 * frame's head before copying all of it. */
#define MMDS_STACK_PEEK 42
bool mmds_stack_wants(const struct mmds_stack *s, const uint8_t *head, size_t len);

/* frame: the Ethernet frame the guest sent (the virtio-net header stripped);
 * partial: its header had VIRTIO_NET_HDR_F_NEEDS_CSUM (the TCP checksum is
 * left unverified). True when the frame was the MMDS's (an ARP packet asking
 * for its address, or IPv4 to it): handled or dropped here, it must not go to
 * the TAP. False: not the MMDS's, untouched. */
bool mmds_stack_detour(struct mmds_stack *s, const uint8_t *frame, size_t len, bool partial);

/* Writes the next frame for the guest into buf (cap bytes; cap below
 * MMDS_STACK_FRAME_MAX only shortens data segments) and returns its length;
 * 0 when there is nothing to send now. */
size_t mmds_stack_next_frame(struct mmds_stack *s, uint8_t *buf, size_t cap);
/* Whether next_frame has something now. */
bool mmds_stack_pending(struct mmds_stack *s);

/* The CLOCK_MONOTONIC time (ns) at which mmds_stack_timer() has work; 0: none. */
uint64_t mmds_stack_deadline(struct mmds_stack *s);
/* Runs the retransmission timeouts due now; then check pending(). */
void mmds_stack_timer(struct mmds_stack *s);

/* Tests: a clock of their own instead of CLOCK_MONOTONIC (NULL: back to it). */
void mmds_stack_set_clock(struct mmds_stack *s, uint64_t (*now)(void *ctx), void *ctx);
/* Connections open now (tests and metrics). */
unsigned int mmds_stack_connections(const struct mmds_stack *s);

#endif
