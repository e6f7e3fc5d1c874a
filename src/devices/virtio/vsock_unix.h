/* The host side of virtio-vsock (after Firecracker's unix/muxer.rs): every
 * guest stream is one AF_UNIX stream. Host clients connect to the listening
 * socket uds and send "CONNECT <port>\n"; the guest's answer gets them
 * "OK <hostport>\n". A guest REQUEST to port P connects to "<uds>_P".
 *
 * The muxer owns the sockets and the connections (vsock_csm.h), routes the
 * guest's packets to them, picks the next packet for the guest (RSTs first,
 * then control packets, then data round robin) and runs their timeouts. Its
 * sockets and a timerfd sit in one private epoll set (vsock_mux_fd), so any
 * number of connections costs the device's event loop one slot. Not
 * thread-safe: the device serialises the calls. */
#ifndef VOLT_DEVICES_VIRTIO_VSOCK_UNIX_H
#define VOLT_DEVICES_VIRTIO_VSOCK_UNIX_H

#include <linux/virtio_vsock.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "devices/virtio/virtq.h"

#define VSOCK_RST_RING 128

struct vsock_mux_conn;

struct vsock_mux {
	uint32_t guest_cid;
	char uds[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd, epfd, timer_fd;
	dev_t sock_dev;
	ino_t sock_ino;
	struct vsock_mux_conn *head, *tail, *dead;
	unsigned int nconns; /* every connection, npending of them host clients still
			      * sending their CONNECT line */
	unsigned int npending;
	/* accept4() failed for want of a resource (descriptors, memory): the
	 * listening socket is out of the epoll set until listen_retry_ms or a
	 * connection's end, so that a full backlog does not spin the device
	 * thread. accept_warned: said once until an accept succeeds. */
	bool listen_paused, accept_warned;
	uint64_t listen_retry_ms;
	uint32_t next_port;
	struct {
		uint32_t host_port, guest_port;
	} rst[VSOCK_RST_RING];
	unsigned int rst_head, rst_len;
	uint64_t timer_armed_ms;
	bool warned;
	struct iovec scratch[VIRTQ_MAX_SEGS];
};

/* Parses a host client's request line (without its '\n'): "CONNECT <port>",
 * keyword case-insensitive, a trailing '\r' or blanks tolerated. 0 or -EINVAL. */
int vsock_parse_connect(const char *line, size_t len, uint32_t *port);

/* "<uds>_<port>", where a guest's REQUEST to port finds its host service.
 * -ENAMETOOLONG when it does not fit in size (and a sockaddr_un). */
int vsock_port_path(char *out, size_t size, const char *uds, uint32_t port);

/* No socket yet: everything closed, safe to vsock_mux_close. */
void vsock_mux_init(struct vsock_mux *m, uint32_t guest_cid, const char *uds);
/* Listens on uds (replacing a stale socket of an earlier run; errors name
 * "--vsock uds=") and creates the epoll set. 0 or -errno. */
int vsock_mux_open(struct vsock_mux *m);
/* Closes every connection and socket; removes uds if it is still ours. */
void vsock_mux_close(struct vsock_mux *m);
/* The fd that is readable when vsock_mux_process has work. */
int vsock_mux_fd(const struct vsock_mux *m);

/* Serves what the host sockets and the timer report. */
void vsock_mux_process(struct vsock_mux *m);
/* Work every entry point ends with: timeouts re-armed, dead connections freed. */
void vsock_mux_settle(struct vsock_mux *m);
/* Closes the host ends of every connection and owes the guest nothing. */
void vsock_mux_kill_all(struct vsock_mux *m);
/* The guest forgot every connection: vsock_mux_kill_all, and host ports are
 * handed out from the first again. */
void vsock_mux_reset(struct vsock_mux *m);
/* Host-initiated connections get host ports from here up. */
#define VSOCK_MUX_PORT_FIRST (1U << 30)
/* The host port the next host-initiated connection gets, for a snapshot; a
 * restored VM goes on from there, as Firecracker's does, so that a guest
 * never sees a port of before the snapshot again. Set: port is at least
 * VSOCK_MUX_PORT_FIRST (the caller checks a state file's). */
uint32_t vsock_mux_next_port(const struct vsock_mux *m);
void vsock_mux_set_next_port(struct vsock_mux *m, uint32_t port);

/* A packet from the guest: header h, payload_avail bytes after it in the n
 * segments iov. */
void vsock_mux_send_pkt(struct vsock_mux *m, const struct virtio_vsock_hdr *h,
			const struct iovec *iov, unsigned int n, uint64_t payload_avail);
/* Whether a packet for the guest is waiting, and the next one into e's
 * driver-writable buffers (at least a header's worth). Returns its length; 0
 * when there is none (yet). */
bool vsock_mux_has_pkt(const struct vsock_mux *m);
uint32_t vsock_mux_recv_pkt(struct vsock_mux *m, struct virtq_elem *e);

/* Logs a guest fault: the first as a warning, the rest at debug level. */
void vsock_mux_warn_guest(struct vsock_mux *m, const char *what, const char *why);

#endif
