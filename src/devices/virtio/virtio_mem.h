/* virtio-mem (virtio 1.2, 5.15; Firecracker's /hotplug/memory): a region of
 * hotpluggable memory above RAM (core/guest_mem.h), in blocks the guest's
 * driver plugs and unplugs until what it has plugged is what the host
 * requested. The host changes the requested size (PATCH /hotplug/memory);
 * the guest's PLUG, UNPLUG, UNPLUG_ALL and STATE requests arrive on the one
 * queue. A plugged block is guest RAM (KVM slot, gpa_to_hva); an unplugged
 * one is given back to the host and, once its whole slot is unplugged,
 * unreachable to the guest (VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE). Every
 * guest-supplied address and count is checked against the usable region. */
#ifndef VOLT_DEVICES_VIRTIO_VIRTIO_MEM_H
#define VOLT_DEVICES_VIRTIO_VIRTIO_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/fields.h"
#include "devices/virtio/virtio_mmio.h"

/* Firecracker's defaults and floors (MiB). */
#define VIRTIO_MEM_BLOCK_MIB 2
#define VIRTIO_MEM_SLOT_MIB  128

struct mem_hotplug_config {
	uint32_t total_mib; /* total_size_mib */
	uint32_t block_mib; /* block_size_mib: what the guest plugs at once */
	uint32_t slot_mib;  /* slot_size_mib: what the host gives KVM at once */
	/* The CLI's requested=: what the guest should plug from the start
	 * (`volt run` has no API to ask later); the API's device starts at 0. */
	uint32_t requested_mib;
};

/* What GET /hotplug/memory answers (MiB). */
struct mem_hotplug_status {
	uint32_t total_mib, block_mib, slot_mib, plugged_mib, requested_mib;
};

/* total (the first token), block, slot, requested on the CLI;
 * total_size_mib, block_size_mib, slot_size_mib in JSON. */
extern const struct field_set mem_hotplug_fields;
struct device_kind;
extern const struct device_kind virtio_mem_kind;

/* Firecracker's checks of a configuration (MemoryHotplugConfig::validate),
 * in its words: 0 or -EINVAL. */
int mem_hotplug_check(const struct mem_hotplug_config *c, char *why, size_t why_size);

struct virtio_mem;

/* Plugs the device in over env->mem's hotpluggable region, which must have
 * the configuration's geometry; 0 or -errno (logged). */
int virtio_mem_create(struct virtio_mem **out, const struct mem_hotplug_config *c,
		      const struct virtio_env *env, uint64_t base, uint32_t irq);
void virtio_mem_destroy(struct virtio_mem *m);
struct virtio_dev *virtio_mem_dev(struct virtio_mem *m);
/* PATCH /hotplug/memory (any thread): the size the guest should reach, a
 * multiple of the block size up to the total; the driver, which must have
 * started the device, is told. 0, or -EINVAL with Firecracker's reason in why. */
int virtio_mem_request(struct virtio_mem *m, uint32_t mib, char *why, size_t why_size);
void virtio_mem_status(struct virtio_mem *m, struct mem_hotplug_status *s);

/* One request chain (a 24-byte virtio_mem_req the device reads, a 10-byte
 * virtio_mem_resp it writes), for tests and fuzzing as the queue serves it
 * (d->lock held): returns the used length (0 for a malformed chain, with why
 * saying what). */
struct virtq_elem;
uint32_t virtio_mem_handle(struct virtio_mem *m, struct virtq_elem *e, char *why, size_t why_size);

#endif
