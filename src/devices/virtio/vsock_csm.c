#include "devices/virtio/vsock_csm.h"

#include "core/metrics.h"
#include "devices/virtio/virtq.h"
#include "devices/virtio/vsock_proto.h"
#include "util/log.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define HDR_SIZE sizeof(struct virtio_vsock_hdr)

uint64_t vsock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void vsock_conn_init(struct vsock_conn *c, int fd, enum vsock_conn_state state)
{
	c->fd = fd;
	c->state = state;
}

void vsock_conn_release(struct vsock_conn *c)
{
	free(c->buf);
	c->buf = NULL;
}

/* Whether the guest has heard of the connection (and so needs an RST). */
static bool guest_knows(const struct vsock_conn *c)
{
	return c->state == VSOCK_CONN_ESTABLISHED || c->state == VSOCK_CONN_CLOSING ||
	       (c->state == VSOCK_CONN_REQUEST && c->request_sent);
}

void vsock_conn_reset(struct vsock_conn *c)
{
	c->killed = true;
	c->rst_owed = guest_knows(c);
}

/* The guest reset it: nothing to answer. */
static void conn_forget(struct vsock_conn *c)
{
	c->killed = true;
	c->rst_owed = false;
}

void vsock_conn_connect(struct vsock_conn *c, uint32_t host_port, uint32_t guest_port)
{
	c->host_port = host_port;
	c->guest_port = guest_port;
	c->state = VSOCK_CONN_REQUEST;
	c->pending |= VSOCK_PEND_REQUEST;
	c->deadline_ms = vsock_now_ms() + VSOCK_CONNECT_TIMEOUT_MS;
}

static void take_peer_credit(struct vsock_conn *c, const struct virtio_vsock_hdr *h)
{
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
}

void vsock_conn_accept(struct vsock_conn *c, uint32_t host_port, uint32_t guest_port,
		       const struct virtio_vsock_hdr *h)
{
	c->host_port = host_port;
	c->guest_port = guest_port;
	c->pending |= VSOCK_PEND_RESPONSE;
	take_peer_credit(c, h);
}

static bool wants_read(const struct vsock_conn *c)
{
	return c->state == VSOCK_CONN_ESTABLISHED && !c->host_eof && !c->guest_no_rcv;
}

unsigned int vsock_conn_interest(const struct vsock_conn *c)
{
	if (c->state == VSOCK_CONN_CMD)
		return VSOCK_IO_READ;
	if (c->state != VSOCK_CONN_ESTABLISHED)
		return 0;
	/* A stream found readable is not watched until a read finds it empty. */
	return (wants_read(c) && !c->readable ? VSOCK_IO_READ : 0) |
	       (c->buf_len ? VSOCK_IO_WRITE : 0);
}

uint32_t vsock_conn_guest_credit(const struct vsock_conn *c)
{
	return vsock_credit(VSOCK_CONN_BUF_SIZE, c->fwd_cnt, c->rx_cnt);
}

uint32_t vsock_conn_peer_free(const struct vsock_conn *c)
{
	return vsock_credit(c->peer_buf_alloc, c->peer_fwd_cnt, c->tx_cnt);
}

static void credit_check(struct vsock_conn *c)
{
	if (!c->guest_no_send &&
	    vsock_credit_update_due(VSOCK_CONN_BUF_SIZE, c->rx_cnt, c->fwd_cnt, c->last_fwd_sent))
		c->pending |= VSOCK_PEND_CREDIT_UPDATE;
}

/* The host stream is shut both ways and everything it had was read: tell the
 * guest, which answers with an RST. */
static void host_closed(struct vsock_conn *c)
{
	if (c->buf_len || (c->guest_no_send && c->guest_no_rcv)) {
		vsock_conn_reset(c); /* undeliverable bytes, or the guest waits for our RST */
		return;
	}
	c->state = VSOCK_CONN_CLOSING;
	c->readable = false;
	c->pending |= VSOCK_PEND_SHUTDOWN;
	c->shutdown_flags |= VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
	c->deadline_ms = vsock_now_ms() + VSOCK_SHUTDOWN_TIMEOUT_MS;
}

static void host_hup(struct vsock_conn *c)
{
	c->hup = true;
	if (c->host_eof || !wants_read(c))
		host_closed(c);
	else
		c->readable = true; /* what is left, then EOF */
}

static void host_eof(struct vsock_conn *c)
{
	struct pollfd p = { .fd = c->fd };

	c->host_eof = true;
	c->readable = false;
	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR))) {
		host_hup(c);
		return;
	}
	/* Half-closed: the guest may still send. */
	c->pending |= VSOCK_PEND_SHUTDOWN;
	c->shutdown_flags |= VIRTIO_VSOCK_SHUTDOWN_SEND;
}

/* After the guest's bytes were all written to the host stream. */
static void conn_drained(struct vsock_conn *c)
{
	if (c->guest_no_send && c->guest_no_rcv) {
		vsock_conn_reset(c);
	} else if (c->guest_no_send && !c->host_wr_shut) {
		shutdown(c->fd, SHUT_WR);
		c->host_wr_shut = true;
	}
}

static ssize_t send_iov(int fd, struct iovec *iov, unsigned int n)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
	ssize_t r;

	do
		r = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return r < 0 ? -errno : r;
}

/* Writes buffered guest bytes to the host stream. false: the connection died. */
static bool conn_flush(struct vsock_conn *c)
{
	while (c->buf_len) {
		uint32_t first = VSOCK_CONN_BUF_SIZE - c->buf_head;
		struct iovec iov[2] = {
			{ c->buf + c->buf_head, first < c->buf_len ? first : c->buf_len },
			{ c->buf, first < c->buf_len ? c->buf_len - first : 0 },
		};
		ssize_t n = send_iov(c->fd, iov, iov[1].iov_len ? 2 : 1);

		if (n < 0) {
			pr_debug("virtio-vsock: host port %u: %s", c->host_port, strerror((int)-n));
			METRIC_INC(vsock_metrics.tx_flush_fails);
			vsock_conn_reset(c);
			return false;
		}
		if (!n)
			break;
		c->buf_head = (uint32_t)((c->buf_head + (uint64_t)n) % VSOCK_CONN_BUF_SIZE);
		c->buf_len -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	credit_check(c);
	if (!c->buf_len)
		conn_drained(c);
	return !c->killed;
}

void vsock_conn_host_ready(struct vsock_conn *c, unsigned int io)
{
	if (io & VSOCK_IO_ERR) {
		vsock_conn_reset(c);
		return;
	}
	switch (c->state) {
	case VSOCK_CONN_CMD:
	case VSOCK_CONN_CLOSING:
		return;
	case VSOCK_CONN_REQUEST:
		if (io & VSOCK_IO_HUP)
			vsock_conn_reset(c); /* the client gave up */
		return;
	case VSOCK_CONN_ESTABLISHED:
		if ((io & VSOCK_IO_WRITE) && !c->buf_len)
			METRIC_INC(vsock_metrics.conn_event_fails);
		if ((io & VSOCK_IO_WRITE) && !conn_flush(c))
			return;
		if (io & VSOCK_IO_READ)
			c->readable = true;
		if (io & VSOCK_IO_HUP)
			host_hup(c);
		return;
	}
}

/* Describes len bytes of iov, skip bytes in, as dst. Returns the count. */
static unsigned int iov_slice(const struct iovec *iov, unsigned int n, size_t skip, size_t len,
			      struct iovec *dst)
{
	unsigned int i, k = 0;

	for (i = 0; i < n && len; i++) {
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		dst[k++] = (struct iovec){ (char *)iov[i].iov_base + skip, l };
		len -= l;
		skip = 0;
	}
	return k;
}

/* Payload of an RW packet: straight to the host stream while nothing is
 * buffered, the rest into the buffer the guest's credit guarantees room in. */
static const char *conn_rw(struct vsock_conn *c, const struct iovec *iov, unsigned int n,
			   uint32_t len, struct iovec *scratch)
{
	uint32_t done = 0;

	if (c->state != VSOCK_CONN_ESTABLISHED || c->guest_no_send) {
		vsock_conn_reset(c);
		return "data on a connection not open for it";
	}
	if (len > vsock_conn_guest_credit(c)) {
		vsock_conn_reset(c);
		return "guest sent beyond the credit it was given";
	}
	if (!len)
		return NULL;
	METRIC_ADD(vsock_metrics.tx_bytes_count, len);
	c->rx_cnt += len;
	if (!c->buf_len) {
		ssize_t w = send_iov(c->fd, scratch, iov_slice(iov, n, HDR_SIZE, len, scratch));

		if (w < 0) {
			pr_debug("virtio-vsock: host port %u: %s", c->host_port, strerror((int)-w));
			METRIC_INC(vsock_metrics.tx_write_fails);
			vsock_conn_reset(c);
			return NULL;
		}
		done = (uint32_t)w;
		c->fwd_cnt += done;
	}
	if (done < len) {
		uint32_t tail, first, rest = len - done;

		if (!c->buf && !(c->buf = malloc(VSOCK_CONN_BUF_SIZE))) {
			pr_warn("virtio-vsock: out of memory for a connection buffer");
			vsock_conn_reset(c);
			return NULL;
		}
		tail = (uint32_t)(((uint64_t)c->buf_head + c->buf_len) % VSOCK_CONN_BUF_SIZE);
		first = VSOCK_CONN_BUF_SIZE - tail < rest ? VSOCK_CONN_BUF_SIZE - tail : rest;
		iov_to_buf(iov, n, HDR_SIZE + done, c->buf + tail, first);
		iov_to_buf(iov, n, HDR_SIZE + done + first, c->buf, rest - first);
		c->buf_len += rest;
	}
	credit_check(c);
	return NULL;
}

static void conn_shutdown(struct vsock_conn *c, uint32_t flags)
{
	if (flags & VIRTIO_VSOCK_SHUTDOWN_RCV)
		c->guest_no_rcv = true;
	if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
		c->guest_no_send = true;
	if (c->state != VSOCK_CONN_ESTABLISHED) {
		vsock_conn_reset(c);
		return;
	}
	if (c->guest_no_rcv)
		c->readable = false;
	if (!c->buf_len) {
		conn_drained(c);
		if (c->killed)
			return;
	}
	if (c->hup && !wants_read(c))
		host_closed(c);
}

/* The guest took the host client's request: the client learns its port. */
static const char *guest_response(struct vsock_conn *c)
{
	char ok[24];
	int n;

	if (c->state != VSOCK_CONN_REQUEST || !c->request_sent) {
		vsock_conn_reset(c);
		return "RESPONSE on a connection that asked for none";
	}
	n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);
	if (send(c->fd, ok, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n) {
		vsock_conn_reset(c);
		return NULL;
	}
	c->state = VSOCK_CONN_ESTABLISHED;
	c->deadline_ms = 0;
	return NULL;
}

const char *vsock_conn_from_guest(struct vsock_conn *c, const struct virtio_vsock_hdr *h,
				  const struct iovec *iov, unsigned int n, struct iovec *scratch,
				  const char **why)
{
	take_peer_credit(c, h);
	if (vsock_conn_peer_free(c))
		c->credit_requested = false;
	*why = NULL;
	switch (le16toh(h->op)) {
	case VIRTIO_VSOCK_OP_REQUEST:
		vsock_conn_reset(c); /* one it already has */
		break;
	case VIRTIO_VSOCK_OP_RST:
		conn_forget(c);
		break;
	case VIRTIO_VSOCK_OP_RESPONSE:
		*why = "RESPONSE";
		return guest_response(c);
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		conn_shutdown(c, le32toh(h->flags));
		break;
	case VIRTIO_VSOCK_OP_RW:
		*why = "RW";
		if (c->state == VSOCK_CONN_CLOSING) {
			vsock_conn_reset(c);
			break;
		}
		return conn_rw(c, iov, n, le32toh(h->len), scratch);
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		if (c->state != VSOCK_CONN_CLOSING)
			c->pending |= VSOCK_PEND_CREDIT_UPDATE;
		break;
	}
	return NULL;
}

bool vsock_conn_control_due(const struct vsock_conn *c)
{
	return c->pending && c->state != VSOCK_CONN_CMD;
}

static void conn_hdr(struct vsock_conn *c, uint64_t guest_cid, struct virtio_vsock_hdr *h,
		     uint16_t op)
{
	vsock_hdr_fill(h, guest_cid, c->host_port, c->guest_port, op);
	h->buf_alloc = htole32(VSOCK_CONN_BUF_SIZE);
	h->fwd_cnt = htole32(c->fwd_cnt);
	/* Every packet carries our credit: no separate update is owed. */
	c->last_fwd_sent = c->fwd_cnt;
	c->pending &= ~(unsigned int)VSOCK_PEND_CREDIT_UPDATE;
}

void vsock_conn_control(struct vsock_conn *c, uint64_t guest_cid, struct virtio_vsock_hdr *h)
{
	if (c->pending & VSOCK_PEND_REQUEST) {
		c->pending &= ~(unsigned int)VSOCK_PEND_REQUEST;
		c->request_sent = true;
		conn_hdr(c, guest_cid, h, VIRTIO_VSOCK_OP_REQUEST);
	} else if (c->pending & VSOCK_PEND_RESPONSE) {
		c->pending &= ~(unsigned int)VSOCK_PEND_RESPONSE;
		conn_hdr(c, guest_cid, h, VIRTIO_VSOCK_OP_RESPONSE);
	} else if (c->pending & VSOCK_PEND_CREDIT_REQUEST) {
		c->pending &= ~(unsigned int)VSOCK_PEND_CREDIT_REQUEST;
		conn_hdr(c, guest_cid, h, VIRTIO_VSOCK_OP_CREDIT_REQUEST);
	} else if (c->pending & VSOCK_PEND_CREDIT_UPDATE) {
		conn_hdr(c, guest_cid, h, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	} else {
		c->pending &= ~(unsigned int)VSOCK_PEND_SHUTDOWN;
		conn_hdr(c, guest_cid, h, VIRTIO_VSOCK_OP_SHUTDOWN);
		h->flags = htole32(c->shutdown_flags);
	}
}

bool vsock_conn_data_ready(const struct vsock_conn *c)
{
	return wants_read(c) && c->readable && c->fd >= 0 && vsock_conn_peer_free(c);
}

uint32_t vsock_conn_data(struct vsock_conn *c, uint64_t guest_cid, struct virtio_vsock_hdr *h,
			 const struct iovec *iov, unsigned int n, uint64_t room,
			 struct iovec *scratch)
{
	uint32_t credit = vsock_conn_peer_free(c);
	struct msghdr mh = { .msg_iov = scratch };
	ssize_t r;

	if (room > credit)
		room = credit;
	if (room > VSOCK_MAX_PAYLOAD)
		room = VSOCK_MAX_PAYLOAD;
	if (!room)
		return 0;
	mh.msg_iovlen = iov_slice(iov, n, HDR_SIZE, room, scratch);
	do
		r = recvmsg(c->fd, &mh, MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	if (r > 0) {
		conn_hdr(c, guest_cid, h, VIRTIO_VSOCK_OP_RW);
		h->len = htole32((uint32_t)r);
		c->tx_cnt += (uint32_t)r;
		METRIC_ADD(vsock_metrics.rx_bytes_count, r);
		/* Out of credit: ask, in case the guest's own update is late. */
		if (!vsock_conn_peer_free(c) && !c->credit_requested) {
			c->credit_requested = true;
			c->pending |= VSOCK_PEND_CREDIT_REQUEST;
		}
		return (uint32_t)r;
	}
	if (r == 0) {
		host_eof(c);
	} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->readable = false;
	} else {
		pr_debug("virtio-vsock: host port %u: %s", c->host_port, strerror(errno));
		METRIC_INC(vsock_metrics.rx_read_fails);
		vsock_conn_reset(c);
	}
	return 0;
}
