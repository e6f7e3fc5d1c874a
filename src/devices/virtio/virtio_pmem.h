/* virtio-pmem (virtio 1.x, 5.19; Firecracker's /pmem): a host file mapped
 * into guest-physical memory above RAM, which the guest's nvdimm driver
 * makes /dev/pmemN. The guest reads and writes the file's pages without
 * exits; its one request, FLUSH, is an msync() of the whole mapping. The
 * region is the file's size rounded up to 2 MiB (the spec's alignment); the
 * rounding is anonymous memory, not written back. A read-only device maps
 * the file read-only and KVM turns guest writes into MMIO exits, dropped. */
#ifndef VOLT_DEVICES_VIRTIO_VIRTIO_PMEM_H
#define VOLT_DEVICES_VIRTIO_VIRTIO_PMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/fields.h"
#include "core/rate_limiter.h"
#include "devices/virtio/virtio_mmio.h"

struct pmem_config {
	char path[4096];
	bool read_only;
	/* Each flush costs one op and the file's size in bytes (Firecracker's). */
	struct rl_config rate_limiter;
};

/* The Firecracker API's key of a pmem device besides its fields: the root
 * device, whose root=/dev/pmemN api/ writes on the kernel command line. */
struct pmem_api_keys {
	bool root; /* root_device */
};

/* path, ro, bw, ops on the CLI; path_on_host, read_only, rate_limiter in JSON. */
extern const struct field_set pmem_fields;
struct device_kind;
extern const struct device_kind virtio_pmem_kind;

struct virtio_pmem;

/* Opens and maps the file and plugs the device in; 0 or -errno (logged). */
int virtio_pmem_create(struct virtio_pmem **out, const struct pmem_config *c, const char *id,
		       const struct virtio_env *env, uint64_t base, uint32_t irq);
void virtio_pmem_destroy(struct virtio_pmem *p);
struct virtio_dev *virtio_pmem_dev(struct virtio_pmem *p);
/* PATCH /pmem/{id} after boot (any thread): the buckets c gives replace the
 * running ones. */
void virtio_pmem_update_rate_limiter(struct virtio_pmem *p, const struct rl_config *c);

/* The request parser on its own, for tests and fuzzing: checks one chain (a
 * 4-byte request the device reads, then a 4-byte status it writes) and, for
 * a FLUSH, writes status. Returns the used length (4, or 0 for a malformed
 * chain, with why saying what). */
struct virtq_elem;
uint32_t virtio_pmem_handle(struct virtq_elem *e, int32_t status, char *why, size_t why_size);

#endif
