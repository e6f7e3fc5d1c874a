/* virtio-vsock (virtio 1.x, 5.10) with Firecracker's host side: AF_UNIX
 * sockets. Host-initiated: connect to uds and send "CONNECT <port>\n", get
 * "OK <hostport>\n". Guest-initiated to port P: volt connects to "<uds>_P". */
#ifndef VOLT_DEVICES_VIRTIO_VIRTIO_VSOCK_H
#define VOLT_DEVICES_VIRTIO_VIRTIO_VSOCK_H

#include <stdint.h>
#include <sys/un.h>

#include "core/fields.h"
#include "devices/virtio/virtio_mmio.h"

struct vsock_config {
	uint32_t cid;
	char uds[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* The fields (core/fields.h): cid and uds on the CLI, guest_cid and
 * uds_path in JSON. */
extern const struct field_set vsock_fields;
struct device_kind;
extern const struct device_kind virtio_vsock_kind;

/* The guest CID rule of every front-end: 3 to 4294967294 (0-2 are the
 * hypervisor, local and host; 4294967295 is VMADDR_CID_ANY). -EINVAL with the
 * reason in why. */
int vsock_cid_check(uint64_t cid, char *why, size_t why_size);

struct virtio_vsock;

int virtio_vsock_create(struct virtio_vsock **out, const struct vsock_config *c,
			const struct virtio_env *env, uint64_t base, uint32_t irq);
void virtio_vsock_destroy(struct virtio_vsock *v);

/* Snapshots (the kind's save/restore; contract in virtio_mmio.h). Connections
 * cannot survive one (their host ends are sockets of this process), as in
 * Firecracker: save keeps the transport and the guest CID (record "vsock"),
 * handing back a receive buffer it held. restore checks the CID against the
 * device created (whose listening socket create() opened again), restores the
 * transport and puts a VIRTIO_VSOCK_EVENT_TRANSPORT_RESET event in the first
 * buffer of the event queue, with an interrupt: the guest drops its
 * connections and reads its CID again. 0 or -errno. */
struct snap_writer;
struct snap_reader;
int virtio_vsock_save(struct virtio_vsock *v, struct snap_writer *w);
int virtio_vsock_restore(struct virtio_vsock *v, struct snap_reader *r);

#endif
