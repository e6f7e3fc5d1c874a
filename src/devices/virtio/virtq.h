/* Split virtqueues (virtio 1.x, 2.6) as a device sees them, with indirect
 * descriptors and event-index notification suppression. Everything the driver
 * wrote is hostile: ring addresses and sizes are checked once when the queue
 * becomes ready, and every descriptor, chain and index on every pop. A
 * malformed queue makes virtq_pop() fail; the caller puts the device into
 * DEVICE_NEEDS_RESET. Not thread-safe: one thread serves a queue. */
#ifndef VOLT_DEVICES_VIRTIO_VIRTQ_H
#define VOLT_DEVICES_VIRTIO_VIRTQ_H

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/guest_mem.h"

#define VIRTQ_MAX_SIZE 1024 /* largest queue volt offers */
#define VIRTQ_MAX_SEGS 1024 /* most segments one chain may have */

struct virtq {
	/* Set by the driver through the transport. */
	uint16_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool event_idx;
	bool indirect;
	/* Set by virtq_setup(). */
	bool ready;
	const struct guest_mem *mem;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail; /* next avail ring slot to take */
	uint16_t used_idx;   /* next used ring slot to fill */
	uint16_t signalled_used;
	bool signalled_valid;
};

/* One chain from the avail ring: device-readable segments, then writable ones. */
struct virtq_elem {
	uint16_t head;
	unsigned int out_num, in_num;
	uint64_t out_len, in_len; /* bytes in each direction */
	struct iovec iov[VIRTQ_MAX_SEGS];
};

/* Validates the rings the driver placed and maps them; -EINVAL (why says
 * what) when the size is not a power of two up to max, or a ring is not in RAM
 * or misaligned. */
int virtq_setup(struct virtq *q, const struct guest_mem *m, uint16_t max, char *why,
		size_t why_size);
void virtq_reset(struct virtq *q);
/* 1 and *e filled, 0 when the ring is empty, -EINVAL for a malformed queue. */
int virtq_pop(struct virtq *q, struct virtq_elem *e, char *why, size_t why_size);
/* Returns a chain to the driver with len bytes written into its writable part. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);
/* Returns n chains with one used-index update, so a driver reading the ring
 * meanwhile sees all of them or none (a network frame spread over several). */
void virtq_push_many(struct virtq *q, const struct vring_used_elem *u, unsigned int n);
/* Whether the driver wants an interrupt for what was pushed since the last one. */
bool virtq_should_notify(struct virtq *q);
/* Asks for (or stops asking for) notifications of new buffers; with event
 * index, re-arms at the current position. Returns true when buffers arrived
 * meanwhile (so the caller pops again instead of sleeping). */
bool virtq_enable_notify(struct virtq *q);
void virtq_disable_notify(struct virtq *q);
/* Chains the driver made available and the device has not popped yet
 * (Firecracker's remaining_reqs_count adds it at each pop); at most q->size. */
uint16_t virtq_avail_pending(struct virtq *q);
/* Copies between a chain's segments and a flat buffer, starting skip bytes in.
 * Return how many bytes were copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned int n, size_t skip, void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned int n, size_t skip, const void *buf,
		    size_t len);

#endif
