/* The state machine of one virtio-vsock stream connection (after
 * Firecracker's csm/): its states, the REQUEST/RESPONSE handshake, credit in
 * both directions, SHUTDOWN, when an RST is owed, and the guest's bytes the
 * host stream has not taken yet.
 *
 * A connection does I/O only on the host stream fd its owner hands it; it
 * never opens, closes or watches one. After every call the owner (the muxer)
 * carries out what the connection decided: killed (with an RST to the guest
 * when rst_owed), the host fd closed once the state is CLOSING, the fd left
 * unwatched after hup, otherwise watched for vsock_conn_interest().
 *
 * Flow control: we advertise VSOCK_CONN_BUF_SIZE and count as forwarded
 * (fwd_cnt) only bytes the host stream took, so the guest's credit is exactly
 * the room left in our buffer and accepted bytes are never dropped. Towards
 * the guest we read the host stream only while the guest has credit. */
#ifndef VOLT_DEVICES_VIRTIO_VSOCK_CSM_H
#define VOLT_DEVICES_VIRTIO_VSOCK_CSM_H

#include <linux/virtio_vsock.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/metrics.h"

#define VSOCK_CONN_BUF_SIZE	  (256 * 1024) /* per connection: our buf_alloc */
#define VSOCK_CONNECT_TIMEOUT_MS  2000	       /* host-initiated REQUEST without an answer */
#define VSOCK_SHUTDOWN_TIMEOUT_MS 2000	       /* host side gone, guest has not acknowledged */

enum vsock_conn_state {
	VSOCK_CONN_CMD,		/* a host client whose CONNECT line the muxer reads */
	VSOCK_CONN_REQUEST,	/* host-initiated; REQUEST queued or sent, no answer yet */
	VSOCK_CONN_ESTABLISHED, /* bytes flow */
	VSOCK_CONN_CLOSING,	/* host side gone, SHUTDOWN sent; waiting for the guest's RST */
};

/* Control packets a connection owes the guest, sent in this order. */
enum {
	VSOCK_PEND_REQUEST = 1 << 0,
	VSOCK_PEND_RESPONSE = 1 << 1,
	VSOCK_PEND_CREDIT_REQUEST = 1 << 2,
	VSOCK_PEND_CREDIT_UPDATE = 1 << 3,
	VSOCK_PEND_SHUTDOWN = 1 << 4,
};

/* What a connection wants of its host stream, or what happened on it. */
enum {
	VSOCK_IO_READ = 1 << 0,
	VSOCK_IO_WRITE = 1 << 1,
	VSOCK_IO_HUP = 1 << 2,
	VSOCK_IO_ERR = 1 << 3,
};

struct vsock_conn {
	int fd; /* the host stream; -1 once the owner closed it */
	enum vsock_conn_state state;
	bool killed, rst_owed; /* for the owner: forget the connection (and tell the guest) */
	uint32_t host_port, guest_port;
	unsigned int pending;
	uint32_t shutdown_flags; /* of the pending SHUTDOWN */
	bool request_sent;
	bool readable;	   /* the host stream may hold data or EOF for the guest */
	bool host_eof;	   /* read EOF: the host sends no more */
	bool hup;	   /* the host stream is shut both ways */
	bool host_wr_shut; /* we passed the guest's SHUTDOWN(SEND) on */
	bool guest_no_send, guest_no_rcv;
	bool credit_requested;
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint32_t tx_cnt; /* bytes sent to the guest */
	uint32_t rx_cnt; /* bytes received from the guest */
	uint32_t fwd_cnt, last_fwd_sent;
	uint8_t *buf; /* ring of VSOCK_CONN_BUF_SIZE: guest bytes the host did not take yet */
	uint32_t buf_head, buf_len;
	uint64_t deadline_ms; /* CLOCK_MONOTONIC (vsock_now_ms); 0: none */
};

uint64_t vsock_now_ms(void);

/* c zeroed; fd is the host stream, state CMD for a host client, ESTABLISHED
 * for the guest's accepted REQUEST (see vsock_conn_accept). */
void vsock_conn_init(struct vsock_conn *c, int fd, enum vsock_conn_state state);
/* Frees what the connection holds (not the fd). */
void vsock_conn_release(struct vsock_conn *c);

/* A host client asked for the guest's guest_port from our host_port: a
 * REQUEST goes to the guest, which has VSOCK_CONNECT_TIMEOUT_MS to answer. */
void vsock_conn_connect(struct vsock_conn *c, uint32_t host_port, uint32_t guest_port);
/* The guest's REQUEST from guest_port reached a host service on host_port,
 * whose header h carries the guest's credit: a RESPONSE is owed. */
void vsock_conn_accept(struct vsock_conn *c, uint32_t host_port, uint32_t guest_port,
		       const struct virtio_vsock_hdr *h);

/* Forgets c, with an RST if the guest has heard of it. */
void vsock_conn_reset(struct vsock_conn *c);

/* VSOCK_IO_READ / VSOCK_IO_WRITE: what to watch the host stream for. */
unsigned int vsock_conn_interest(const struct vsock_conn *c);
/* The host stream reported io (VSOCK_IO_*); not for a CMD connection's
 * readable line, which is the muxer's. */
void vsock_conn_host_ready(struct vsock_conn *c, unsigned int io);

/* Bytes the guest may still send us, and we the guest. */
uint32_t vsock_conn_guest_credit(const struct vsock_conn *c);
uint32_t vsock_conn_peer_free(const struct vsock_conn *c);

/* A checked packet from the guest for c (vsock_hdr_check said OK): h, then
 * the payload at byte sizeof(*h) of the n segments iov. scratch holds
 * VIRTQ_MAX_SEGS iovecs. Returns what the guest did wrong (why names the
 * packet) or NULL. */
const char *vsock_conn_from_guest(struct vsock_conn *c, const struct virtio_vsock_hdr *h,
				  const struct iovec *iov, unsigned int n, struct iovec *scratch,
				  const char **why);

/* Whether c owes the guest a control packet, and that packet into h. */
bool vsock_conn_control_due(const struct vsock_conn *c);
void vsock_conn_control(struct vsock_conn *c, uint64_t guest_cid, struct virtio_vsock_hdr *h);

/* Whether c has bytes for the guest and the guest room for them. */
bool vsock_conn_data_ready(const struct vsock_conn *c);
/* Reads at most room bytes from the host stream into the guest buffer iov (n
 * segments) after the header's place, and the RW header into h. Returns the
 * payload length; 0 when none was read (the stream was empty, at EOF or
 * broken, which changes the connection's state). */
uint32_t vsock_conn_data(struct vsock_conn *c, uint64_t guest_cid, struct virtio_vsock_hdr *h,
			 const struct iovec *iov, unsigned int n, uint64_t room,
			 struct iovec *scratch);

/* The "vsock" metrics section's counters (virtio_vsock.c defines them):
 * the queues count packets, the connections bytes and the muxer connections. */
struct vsock_metrics {
	metric_t rx_packets_count; /* host -> guest */
	metric_t rx_bytes_count;   /* host -> guest */
	metric_t tx_packets_count; /* guest -> host */
	metric_t tx_bytes_count;   /* guest -> host */
	metric_t conns_added;
	metric_t conns_removed;
	metric_t rx_queue_event_count;
	metric_t tx_queue_event_count;
	metric_t activate_fails; /* volt's vsock has no activate() that can fail: 0 */
	metric_t cfg_fails;	 /* the driver wrote the (read-only) config, or read past it */
	/* Reading a queue's kick eventfd failed. */
	metric_t rx_queue_event_fails, tx_queue_event_fails, ev_queue_event_fails;
	metric_t muxer_event_fails; /* the muxer's epoll_wait or epoll_ctl failed */
	metric_t conn_event_fails;  /* a stream reported writable with nothing to write */
	metric_t conns_killed;	    /* connections reset for not answering in time */
	/* Firecracker rebuilds its kill queue when out of sync; volt has none
	 * (its timer scans the connections): 0. */
	metric_t killq_resync;
	metric_t tx_flush_fails; /* writing buffered guest bytes to the stream failed */
	metric_t tx_write_fails; /* writing the guest's bytes straight to the stream failed */
	metric_t rx_read_fails;	 /* reading the host stream failed (not EOF, not EAGAIN) */
};
extern struct vsock_metrics vsock_metrics;

#endif
