/* virtio-net (virtio 1.x, 5.1) over a host TAP device.
 *
 * Two queues: receive (0) and transmit (1). Every frame carries the 12-byte
 * struct virtio_net_hdr_v1 in front, in both directions, which is also the
 * header the TAP speaks (IFF_VNET_HDR, TUNSETVNETHDRSZ 12), so checksum and
 * segmentation offloads pass straight through: the TAP is told with
 * TUNSETOFFLOAD what the driver accepted. Receive backpressure: a frame read
 * from the TAP stays with the device until the guest has buffers for it; the
 * TAP is not read meanwhile. Transmit backpressure: a chain the TAP refused
 * (EAGAIN) is kept and retried when the TAP is writable. Frames the guest
 * sends malformed, and frames that cannot fit its buffers, are dropped and
 * counted; a malformed queue fails the device. */
#ifndef VOLT_DEVICES_VIRTIO_VIRTIO_NET_H
#define VOLT_DEVICES_VIRTIO_VIRTIO_NET_H

#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/fields.h"
#include "core/rate_limiter.h"
#include "devices/virtio/virtio_mmio.h"

struct net_config {
	char tap[IFNAMSIZ];
	uint8_t mac[6];
	bool has_mac;
	/* Frames to the guest (rx) and from it (tx): bandwidth counts their
	 * bytes (virtio-net header included, as Firecracker), ops the frames. */
	struct rl_config rx_rate_limiter, tx_rate_limiter;
	/* Firecracker's mtu: offered to the guest as VIRTIO_NET_F_MTU (68 to
	 * 65535); not given: not offered, the guest keeps its default. */
	uint32_t mtu;
	bool has_mtu;
	/* Named in PUT /mmds/config network_interfaces: frames for the MMDS
	 * address go to the MMDS stack (devices/mmds/mmds_stack.h), not the TAP. */
	bool mmds;
};

/* The fields (core/fields.h): tap and mac on the CLI, host_dev_name and
 * guest_mac in JSON. */
extern const struct field_set net_fields;
struct device_kind;
extern const struct device_kind virtio_net_kind;

struct virtio_net;

int virtio_net_create(struct virtio_net **out, const struct net_config *c,
		      const struct virtio_env *env, uint64_t base, uint32_t irq);
void virtio_net_destroy(struct virtio_net *n);
/* Attaches to the TAP `name` as the device does (creating it where it does
 * not exist and volt may), then lets it go: Firecracker opens an interface's
 * TAP at PUT, and answers there. 0, or -errno (of opening /dev/net/tun, or of
 * TUNSETIFF). Logs nothing. */
int virtio_net_tap_probe(const char *name);
/* PATCH /network-interfaces/{id} after boot (any thread): the buckets rx
 * and tx give (either may be NULL) replace the running ones. */
void virtio_net_update_rate_limiters(struct virtio_net *n, const struct rl_config *rx,
				     const struct rl_config *tx);

/* Snapshots (the kind's save/restore; contract in virtio_mmio.h). save hands
 * back to the rings the chains the device holds (the receive buffers a frame
 * was being placed in, a transmit chain a full TAP refused) and saves the
 * frame read from the TAP and not delivered yet, record "rx_frame" (only
 * then; its length is the frame's). restore runs on a device with a new TAP:
 * the guest keeps the MAC of the saved config space, the link is up, the
 * offloads the driver accepted are set on the TAP (activate), and a saved
 * frame is checked against the accepted features again and delivered when
 * the device thread starts. Counters are not state. 0 or -errno. */
struct snap_writer;
struct snap_reader;
int virtio_net_save(struct virtio_net *n, struct snap_writer *w);
int virtio_net_restore(struct virtio_net *n, struct snap_reader *r);

/* The pieces below are shared with the unit tests. */

#define NET_HDR_LEN ((unsigned int)sizeof(struct virtio_net_hdr_v1))
/* The largest Ethernet frame either side may hand over: a 64 KiB GSO packet
 * behind an Ethernet header and a VLAN tag. */
#define NET_FRAME_MAX (65535 + 14 + 4)

/* One received frame on its way into the guest's buffers. */
struct net_rx {
	uint8_t *frame; /* vnet header, then the Ethernet frame */
	size_t len;	/* bytes in frame; 0 when none is pending */
	size_t placed;	/* bytes already copied into the guest's buffers */
	/* Where the first buffer holds the header's num_buffers (little endian). */
	uint8_t *num_buffers[2];
	/* Buffers filled for this frame, returned together once it is complete. */
	unsigned int nused;
	struct vring_used_elem used[VIRTQ_MAX_SIZE];
	struct virtq_elem elem;
};

/* Copies rx->frame into buffers popped from the receive queue q; with
 * mergeable buffers it spreads over as many as it takes and sets num_buffers.
 * Returns 0 when the frame was delivered, 1 when it was dropped (it cannot fit:
 * larger than the single buffer without mergeable buffers, or than the whole
 * ring), -EAGAIN when the queue ran dry (the frame and the buffers already
 * filled stay held in rx: call again once the driver added buffers), -EINVAL
 * for a malformed queue (why says what). */
int net_rx_place(struct net_rx *rx, struct virtq *q, bool mergeable, char *why, size_t why_size);

/* Checks (and adjusts) the vnet header of a frame read from the TAP against
 * the features the driver accepted; -EINVAL (why) when the guest cannot take
 * the frame. */
int net_rx_check(uint8_t *frame, size_t len, uint64_t features, char *why, size_t why_size);

/* Checks the vnet header of a frame the driver sent (frame_len bytes follow
 * it) against the accepted features; -EINVAL with the reason in why. */
int net_tx_check(const struct virtio_net_hdr_v1 *h, uint64_t frame_len, uint64_t features,
		 char *why, size_t why_size);

/* Sends the frame of transmit chain e (vnet header first) to fd in one writev.
 * 0 sent, 1 dropped (why says why), -EAGAIN when fd is full: keep the chain
 * and retry later. */
int net_tx_send(int fd, const struct virtq_elem *e, uint64_t features, char *why, size_t why_size);

/* The TUNSETOFFLOAD flags matching the driver's accepted features. */
unsigned int net_tun_offloads(uint64_t features);

#endif
