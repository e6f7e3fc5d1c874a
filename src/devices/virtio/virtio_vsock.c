/* virtio-vsock with Firecracker's host side. Every guest stream is one AF_UNIX
 * stream on the host: volt listens on uds for host clients ("CONNECT <port>\n"
 * -> REQUEST to the guest -> "OK <hostport>\n"), and connects to "<uds>_<port>"
 * for guest REQUESTs. All connection state lives under d->lock and is touched
 * only on the device thread, or by the transport's reset on a vCPU thread.
 *
 * Host sockets sit in a private epoll set that is one source of the device
 * event loop, so any number of connections costs the loop one slot; a timerfd
 * in the same set runs connection timeouts.
 *
 * Flow control: we advertise a TX_BUF_SIZE buffer per connection and count as
 * forwarded (fwd_cnt) only bytes the host socket took, so the guest's credit
 * is exactly the room left in our buffer and accepted bytes are never
 * dropped. Towards the guest we read a host socket only when the guest has
 * credit and an RX buffer is at hand: a socket found readable leaves the
 * epoll set (readable = true) until a read finds it empty. */
#include "devices/virtio/virtio_vsock.h"

#include "core/metrics.h"
#include "devices/virtio/vsock_proto.h"
#include "util/log.h"
#include "util/parse.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_vsock.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define RXQ 0
#define TXQ 1
#define EVQ 2

#define QUEUE_SIZE	    256
#define TX_BUF_SIZE	    (256 * 1024) /* per connection: our buf_alloc */
#define MAX_CONNS	    256
#define CONNECT_TIMEOUT_MS  2000 /* host-initiated REQUEST without an answer */
#define SHUTDOWN_TIMEOUT_MS 2000 /* host side gone, guest has not acknowledged */
#define LOCAL_PORT_FIRST    (1U << 30)
#define CONNECT_LINE_MAX    32
#define RST_RING	    128
#define PORT_SUFFIX_MAX	    11 /* "_4294967295" */
#define HDR_SIZE	    sizeof(struct virtio_vsock_hdr)

enum conn_state {
	CONN_CMD,	  /* host client accepted; reading its CONNECT line */
	CONN_REQUEST,	  /* host-initiated; REQUEST queued or sent, no answer yet */
	CONN_ESTABLISHED, /* bytes flow */
	CONN_CLOSING,	  /* host side gone, SHUTDOWN sent; waiting for the guest's RST */
};

/* Control packets a connection owes the guest, sent in this order. */
enum {
	PEND_REQUEST = 1 << 0,
	PEND_RESPONSE = 1 << 1,
	PEND_CREDIT_REQUEST = 1 << 2,
	PEND_CREDIT_UPDATE = 1 << 3,
	PEND_SHUTDOWN = 1 << 4,
};

struct conn {
	struct conn *prev, *next;
	int fd;
	bool in_epoll, dead;
	uint32_t events; /* the epoll interest now registered */
	enum conn_state state;
	uint32_t host_port, guest_port;
	unsigned int pending;
	uint32_t shutdown_flags; /* of the pending SHUTDOWN */
	bool request_sent;
	bool readable;	   /* the host socket may hold data or EOF for the guest */
	bool host_eof;	   /* read EOF: the host sends no more */
	bool hup;	   /* the host socket is shut both ways */
	bool host_wr_shut; /* we passed the guest's SHUTDOWN(SEND) on */
	bool guest_no_send, guest_no_rcv;
	bool credit_requested;
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint32_t tx_cnt; /* bytes sent to the guest */
	uint32_t rx_cnt; /* bytes received from the guest */
	uint32_t fwd_cnt, last_fwd_sent;
	uint8_t *buf; /* ring of TX_BUF_SIZE: guest bytes the host socket did not take yet */
	uint32_t buf_head, buf_len;
	uint64_t deadline_ms;
	char line[CONNECT_LINE_MAX];
	size_t line_len;
};

struct rst_entry {
	uint32_t host_port, guest_port;
};

struct virtio_vsock {
	struct virtio_dev dev;
	struct vsock_config cfg;
	int listen_fd, epfd, timer_fd;
	bool loop_added;
	dev_t sock_dev;
	ino_t sock_ino;
	struct conn *head, *tail, *dead;
	unsigned int nconns;
	uint32_t next_port;
	struct rst_entry rst[RST_RING];
	unsigned int rst_head, rst_len;
	bool rx_stashed; /* rx_elem was popped and waits for a packet */
	uint64_t timer_armed_ms;
	bool warned;
	struct iovec scratch[VIRTQ_MAX_SEGS];
	struct virtq_elem rx_elem, tx_elem;
};

int vsock_cid_check(uint64_t cid, char *why, size_t why_size)
{
	if (cid <= VSOCK_HOST_CID)
		snprintf(why, why_size,
			 "%llu is reserved (0-2 are the hypervisor, local and host addresses); "
			 "a guest CID is at least 3",
			 (unsigned long long)cid);
	else if (cid == UINT32_MAX)
		snprintf(why, why_size, "%llu is VMADDR_CID_ANY, not a guest's address",
			 (unsigned long long)cid);
	else if (cid > UINT32_MAX)
		snprintf(why, why_size, "%llu is more than %u", (unsigned long long)cid,
			 UINT32_MAX - 1);
	else
		return 0;
	return -EINVAL;
}

int vsock_config_parse(const char *spec, struct vsock_config *c, char *why, size_t why_size)
{
	char *copy = strdup(spec), *tok, *save = NULL;
	bool have_cid = false, have_uds = false;
	int err = 0;

	memset(c, 0, sizeof(*c));
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const char *val = eq ? eq + 1 : NULL;
		unsigned int cid = 0;
		char reason[160];

		if (eq)
			*eq = '\0';
		err = -EINVAL;
		if (!strcmp(tok, "cid") && val) {
			if (have_cid)
				snprintf(why, why_size, "cid= given twice");
			else if (parse_uint(val, 0, UINT32_MAX, &cid))
				snprintf(why, why_size, "cid '%s' is not a number up to %u", val,
					 UINT32_MAX - 1);
			else if (!vsock_cid_check(cid, reason, sizeof(reason)))
				err = 0;
			else
				snprintf(why, why_size, "cid %s", reason);
			c->cid = cid;
			have_cid = true;
		} else if (!strcmp(tok, "uds") && val) {
			size_t max = sizeof(c->uds) - 1 - PORT_SUFFIX_MAX;

			if (have_uds)
				snprintf(why, why_size, "uds= given twice");
			else if (!*val)
				snprintf(why, why_size, "uds= needs a socket path");
			else if (strlen(val) > max)
				snprintf(why, why_size,
					 "uds path is %zu bytes long; at most %zu fit in a unix "
					 "socket "
					 "address with a _PORT suffix",
					 strlen(val), max);
			else
				err = 0;
			if (!err)
				snprintf(c->uds, sizeof(c->uds), "%s", val);
			have_uds = true;
		} else {
			snprintf(why, why_size, "unknown or malformed option '%s%s%s'", tok,
				 val ? "=" : "", val ? val : "");
		}
	}
	free(copy);
	if (!err && !have_cid) {
		snprintf(why, why_size, "no cid=N (the guest's CID, 3 or more)");
		err = -EINVAL;
	}
	if (!err && !have_uds) {
		snprintf(why, why_size, "no uds=PATH (the host socket)");
		err = -EINVAL;
	}
	return err;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void warn_guest(struct virtio_vsock *v, const char *what, const char *why)
{
	if (!v->warned)
		pr_warn("virtio-vsock: %s (%s); further guest faults are logged at debug level",
			what, why);
	else
		pr_debug("virtio-vsock: %s (%s)", what, why);
	v->warned = true;
}

static bool dev_live(struct virtio_vsock *v)
{
	struct virtio_dev *d = &v->dev;

	return (d->status & VIRTIO_CONFIG_S_DRIVER_OK) && !d->failed && d->vq[RXQ].ready &&
	       d->vq[TXQ].ready;
}

/* --- connections ------------------------------------------------------- */

static struct conn *conn_find(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port)
{
	struct conn *c;

	for (c = v->head; c; c = c->next)
		if (c->state != CONN_CMD && c->host_port == host_port &&
		    c->guest_port == guest_port)
			return c;
	return NULL;
}

static void list_unlink(struct virtio_vsock *v, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		v->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		v->tail = c->prev;
	c->prev = c->next = NULL;
}

static void list_append(struct virtio_vsock *v, struct conn *c)
{
	c->prev = v->tail;
	c->next = NULL;
	if (v->tail)
		v->tail->next = c;
	else
		v->head = c;
	v->tail = c;
}

static void conn_close_fd(struct virtio_vsock *v, struct conn *c)
{
	if (c->fd < 0)
		return;
	if (c->in_epoll)
		epoll_ctl(v->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->in_epoll = false;
	close(c->fd);
	c->fd = -1;
}

/* The struct itself is freed by reap(): an epoll batch may still name it. */
static void conn_kill(struct virtio_vsock *v, struct conn *c)
{
	conn_close_fd(v, c);
	list_unlink(v, c);
	v->nconns--;
	METRICS_INC(vsock.conns_removed);
	c->dead = true;
	c->next = v->dead;
	v->dead = c;
}

static void reap(struct virtio_vsock *v)
{
	while (v->dead) {
		struct conn *c = v->dead;

		v->dead = c->next;
		free(c->buf);
		free(c);
	}
}

static void rst_push(struct virtio_vsock *v, uint32_t host_port, uint32_t guest_port)
{
	if (v->rst_len == RST_RING) {
		pr_debug("virtio-vsock: RST queue full; the guest's %u times out", guest_port);
		return;
	}
	v->rst[(v->rst_head + v->rst_len) % RST_RING] = (struct rst_entry){ host_port, guest_port };
	v->rst_len++;
}

/* Whether the guest has heard of the connection (and so needs an RST). */
static bool guest_knows(const struct conn *c)
{
	return c->state == CONN_ESTABLISHED || c->state == CONN_CLOSING ||
	       (c->state == CONN_REQUEST && c->request_sent);
}

static void conn_kill_rst(struct virtio_vsock *v, struct conn *c)
{
	if (guest_knows(c))
		rst_push(v, c->host_port, c->guest_port);
	conn_kill(v, c);
}

static void kill_all(struct virtio_vsock *v)
{
	while (v->head)
		conn_kill(v, v->head);
	v->rst_len = 0;
}

static bool conn_wants_read(const struct conn *c)
{
	return c->state == CONN_ESTABLISHED && !c->host_eof && !c->guest_no_rcv;
}

static void conn_update_events(struct virtio_vsock *v, struct conn *c)
{
	struct epoll_event ev = { .data.ptr = c };
	uint32_t want = 0;

	if (c->fd < 0 || !c->in_epoll)
		return;
	if (c->state == CONN_CMD)
		want = EPOLLIN;
	else if (c->state == CONN_ESTABLISHED)
		want = (conn_wants_read(c) && !c->readable ? EPOLLIN : 0) |
		       (c->buf_len ? EPOLLOUT : 0);
	if (want == c->events)
		return;
	ev.events = want;
	if (epoll_ctl(v->epfd, EPOLL_CTL_MOD, c->fd, &ev))
		pr_warn("virtio-vsock: epoll_ctl: %s", strerror(errno));
	c->events = want;
}

static struct conn *conn_new(struct virtio_vsock *v, int fd, enum conn_state state)
{
	struct epoll_event ev = { .events = state == CONN_CMD ? EPOLLIN : 0 };
	struct conn *c;

	if (v->nconns >= MAX_CONNS) {
		pr_debug("virtio-vsock: %u connections already; refusing another", v->nconns);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	ev.data.ptr = c;
	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		pr_warn("virtio-vsock: epoll_ctl: %s", strerror(errno));
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->in_epoll = true;
	c->events = ev.events;
	c->state = state;
	list_append(v, c);
	v->nconns++;
	METRICS_INC(vsock.conns_added);
	return c;
}

static void credit_check(struct conn *c)
{
	if (!c->guest_no_send &&
	    vsock_credit_update_due(TX_BUF_SIZE, c->rx_cnt, c->fwd_cnt, c->last_fwd_sent))
		c->pending |= PEND_CREDIT_UPDATE;
}

/* The host socket is shut both ways and everything it had was read: tell the
 * guest, which answers with an RST. */
static void host_closed(struct virtio_vsock *v, struct conn *c)
{
	if (c->buf_len || (c->guest_no_send && c->guest_no_rcv)) {
		conn_kill_rst(v, c); /* undeliverable bytes, or the guest waits for our RST */
		return;
	}
	conn_close_fd(v, c);
	c->state = CONN_CLOSING;
	c->readable = false;
	c->pending |= PEND_SHUTDOWN;
	c->shutdown_flags |= VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
	c->deadline_ms = now_ms() + SHUTDOWN_TIMEOUT_MS;
}

static void host_hup(struct virtio_vsock *v, struct conn *c)
{
	c->hup = true;
	/* Level-triggered HUP would fire until the socket is closed. */
	if (c->in_epoll)
		epoll_ctl(v->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->in_epoll = false;
	if (c->host_eof || !conn_wants_read(c))
		host_closed(v, c);
	else
		c->readable = true; /* what is left, then EOF */
}

static void host_eof(struct virtio_vsock *v, struct conn *c)
{
	struct pollfd p = { .fd = c->fd };

	c->host_eof = true;
	c->readable = false;
	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR))) {
		host_hup(v, c);
		return;
	}
	/* Half-closed: the guest may still send. */
	c->pending |= PEND_SHUTDOWN;
	c->shutdown_flags |= VIRTIO_VSOCK_SHUTDOWN_SEND;
	conn_update_events(v, c);
}

/* After the guest's bytes were all written to the host socket. */
static void conn_drained(struct virtio_vsock *v, struct conn *c)
{
	if (c->guest_no_send && c->guest_no_rcv) {
		conn_kill_rst(v, c);
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

/* Writes buffered guest bytes to the host socket. false: the connection died. */
static bool conn_flush(struct virtio_vsock *v, struct conn *c)
{
	while (c->buf_len) {
		uint32_t first = TX_BUF_SIZE - c->buf_head;
		struct iovec iov[2] = {
			{ c->buf + c->buf_head, first < c->buf_len ? first : c->buf_len },
			{ c->buf, first < c->buf_len ? c->buf_len - first : 0 },
		};
		ssize_t n = send_iov(c->fd, iov, iov[1].iov_len ? 2 : 1);

		if (n < 0) {
			pr_debug("virtio-vsock: host port %u: %s", c->host_port, strerror((int)-n));
			conn_kill_rst(v, c);
			return false;
		}
		if (!n)
			break;
		c->buf_head = (uint32_t)((c->buf_head + (uint64_t)n) % TX_BUF_SIZE);
		c->buf_len -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	credit_check(c);
	if (!c->buf_len) {
		conn_drained(v, c);
		if (c->dead)
			return false;
	}
	conn_update_events(v, c);
	return true;
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

/* Payload of an RW packet: straight to the host socket while nothing is
 * buffered, the rest into the buffer the guest's credit guarantees room in. */
static void conn_rw(struct virtio_vsock *v, struct conn *c, struct virtq_elem *e, uint32_t len)
{
	uint32_t done = 0;

	if (c->state != CONN_ESTABLISHED || c->guest_no_send) {
		warn_guest(v, "data on a connection not open for it", "RW");
		conn_kill_rst(v, c);
		return;
	}
	if (len > vsock_credit(TX_BUF_SIZE, c->fwd_cnt, c->rx_cnt)) {
		warn_guest(v, "guest sent beyond the credit it was given", "RW");
		conn_kill_rst(v, c);
		return;
	}
	if (!len)
		return;
	METRICS_ADD(vsock.tx_bytes_count, len);
	c->rx_cnt += len;
	if (!c->buf_len) {
		unsigned int n = iov_slice(e->iov, e->out_num, HDR_SIZE, len, v->scratch);
		ssize_t w = send_iov(c->fd, v->scratch, n);

		if (w < 0) {
			pr_debug("virtio-vsock: host port %u: %s", c->host_port, strerror((int)-w));
			conn_kill_rst(v, c);
			return;
		}
		done = (uint32_t)w;
		c->fwd_cnt += done;
	}
	if (done < len) {
		uint32_t tail, first, rest = len - done;

		if (!c->buf && !(c->buf = malloc(TX_BUF_SIZE))) {
			pr_warn("virtio-vsock: out of memory for a connection buffer");
			conn_kill_rst(v, c);
			return;
		}
		tail = (uint32_t)(((uint64_t)c->buf_head + c->buf_len) % TX_BUF_SIZE);
		first = TX_BUF_SIZE - tail < rest ? TX_BUF_SIZE - tail : rest;
		iov_to_buf(e->iov, e->out_num, HDR_SIZE + done, c->buf + tail, first);
		iov_to_buf(e->iov, e->out_num, HDR_SIZE + done + first, c->buf, rest - first);
		c->buf_len += rest;
	}
	credit_check(c);
	conn_update_events(v, c);
}

static void conn_shutdown(struct virtio_vsock *v, struct conn *c, uint32_t flags)
{
	if (flags & VIRTIO_VSOCK_SHUTDOWN_RCV)
		c->guest_no_rcv = true;
	if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
		c->guest_no_send = true;
	if (c->state != CONN_ESTABLISHED) {
		conn_kill_rst(v, c);
		return;
	}
	if (c->guest_no_rcv)
		c->readable = false;
	if (!c->buf_len) {
		conn_drained(v, c);
		if (c->dead)
			return;
	}
	if (c->hup && !conn_wants_read(c)) {
		host_closed(v, c);
		return;
	}
	conn_update_events(v, c);
}

static void guest_request(struct virtio_vsock *v, uint32_t port, uint32_t guest_port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct conn *c;
	int fd = -1;

	/* The parser left room for any suffix; checked again all the same. */
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", v->cfg.uds, port) <
	    sizeof(sa.sun_path))
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	else
		errno = ENAMETOOLONG;
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		/* Nobody listening, or a full backlog (EAGAIN): refused either way. */
		pr_debug("virtio-vsock: guest port %u -> %s: %s", guest_port, sa.sun_path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		rst_push(v, port, guest_port);
		return;
	}
	c = conn_new(v, fd, CONN_ESTABLISHED);
	if (!c) {
		close(fd);
		rst_push(v, port, guest_port);
		return;
	}
	c->host_port = port;
	c->guest_port = guest_port;
	c->pending |= PEND_RESPONSE;
	conn_update_events(v, c);
}

static void guest_response(struct virtio_vsock *v, struct conn *c)
{
	char ok[24];
	int n;

	if (c->state != CONN_REQUEST || !c->request_sent) {
		warn_guest(v, "RESPONSE on a connection that asked for none", "RESPONSE");
		conn_kill_rst(v, c);
		return;
	}
	n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);
	if (send(c->fd, ok, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n) {
		conn_kill_rst(v, c);
		return;
	}
	c->state = CONN_ESTABLISHED;
	c->deadline_ms = 0;
	conn_update_events(v, c);
}

static uint32_t tx_packet(void *ctx, struct virtq_elem *e)
{
	struct virtio_vsock *v = ctx;
	struct virtio_vsock_hdr h;
	enum vsock_verdict verdict;
	uint32_t host_port, guest_port;
	const char *why;
	struct conn *c;

	if (e->out_len < HDR_SIZE) {
		warn_guest(v, "dropped a TX buffer", "shorter than a packet header");
		return 0;
	}
	METRICS_INC(vsock.tx_packets_count);
	iov_to_buf(e->iov, e->out_num, 0, &h, HDR_SIZE);
	verdict = vsock_hdr_check(&h, e->out_len - HDR_SIZE, v->cfg.cid, &why);
	host_port = le32toh(h.dst_port);
	guest_port = le32toh(h.src_port);
	if (verdict == VSOCK_PKT_DROP) {
		warn_guest(v, "dropped a packet", why);
		return 0;
	}
	c = conn_find(v, host_port, guest_port);
	if (verdict == VSOCK_PKT_RST) {
		warn_guest(v, "reset a connection", why);
		if (c)
			conn_kill_rst(v, c);
		else
			rst_push(v, host_port, guest_port);
		return 0;
	}
	if (c) {
		c->peer_buf_alloc = le32toh(h.buf_alloc);
		c->peer_fwd_cnt = le32toh(h.fwd_cnt);
		if (vsock_credit(c->peer_buf_alloc, c->peer_fwd_cnt, c->tx_cnt))
			c->credit_requested = false;
	}
	switch (le16toh(h.op)) {
	case VIRTIO_VSOCK_OP_REQUEST:
		if (c) {
			conn_kill_rst(v, c);
			break;
		}
		guest_request(v, host_port, guest_port);
		c = conn_find(v, host_port, guest_port);
		if (c) {
			c->peer_buf_alloc = le32toh(h.buf_alloc);
			c->peer_fwd_cnt = le32toh(h.fwd_cnt);
		}
		break;
	case VIRTIO_VSOCK_OP_RST:
		if (c)
			conn_kill(v, c);
		break;
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c)
			guest_response(v, c);
		else
			rst_push(v, host_port, guest_port);
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (c)
			conn_shutdown(v, c, le32toh(h.flags));
		else
			rst_push(v, host_port, guest_port);
		break;
	case VIRTIO_VSOCK_OP_RW:
		if (c && c->state == CONN_CLOSING)
			conn_kill_rst(v, c);
		else if (c)
			conn_rw(v, c, e, le32toh(h.len));
		else
			rst_push(v, host_port, guest_port);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		if (!c)
			rst_push(v, host_port, guest_port);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		if (!c)
			rst_push(v, host_port, guest_port);
		else if (c->state != CONN_CLOSING)
			c->pending |= PEND_CREDIT_UPDATE;
		break;
	}
	return 0;
}

/* --- towards the guest -------------------------------------------------- */

static uint32_t peer_credit(const struct conn *c)
{
	return vsock_credit(c->peer_buf_alloc, c->peer_fwd_cnt, c->tx_cnt);
}

static bool conn_data_ready(const struct conn *c)
{
	return conn_wants_read(c) && c->readable && c->fd >= 0 && peer_credit(c);
}

static bool rx_has_work(struct virtio_vsock *v)
{
	struct conn *c;

	if (v->rst_len)
		return true;
	for (c = v->head; c; c = c->next)
		if ((c->pending && c->state != CONN_CMD) || conn_data_ready(c))
			return true;
	return false;
}

static void hdr_fill(struct virtio_vsock *v, struct virtio_vsock_hdr *h, uint32_t host_port,
		     uint32_t guest_port, uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = htole64(VSOCK_HOST_CID);
	h->dst_cid = htole64(v->cfg.cid);
	h->src_port = htole32(host_port);
	h->dst_port = htole32(guest_port);
	h->type = htole16(VIRTIO_VSOCK_TYPE_STREAM);
	h->op = htole16(op);
}

static void conn_hdr(struct virtio_vsock *v, struct conn *c, struct virtio_vsock_hdr *h,
		     uint16_t op)
{
	hdr_fill(v, h, c->host_port, c->guest_port, op);
	h->buf_alloc = htole32(TX_BUF_SIZE);
	h->fwd_cnt = htole32(c->fwd_cnt);
	/* Every packet carries our credit: no separate update is owed. */
	c->last_fwd_sent = c->fwd_cnt;
	c->pending &= ~(unsigned int)PEND_CREDIT_UPDATE;
}

static uint32_t put_hdr(struct virtq_elem *e, const struct virtio_vsock_hdr *h)
{
	iov_from_buf(&e->iov[e->out_num], e->in_num, 0, h, HDR_SIZE);
	return HDR_SIZE;
}

static uint32_t conn_control(struct virtio_vsock *v, struct conn *c, struct virtq_elem *e)
{
	struct virtio_vsock_hdr h;

	if (c->pending & PEND_REQUEST) {
		c->pending &= ~(unsigned int)PEND_REQUEST;
		c->request_sent = true;
		conn_hdr(v, c, &h, VIRTIO_VSOCK_OP_REQUEST);
	} else if (c->pending & PEND_RESPONSE) {
		c->pending &= ~(unsigned int)PEND_RESPONSE;
		conn_hdr(v, c, &h, VIRTIO_VSOCK_OP_RESPONSE);
	} else if (c->pending & PEND_CREDIT_REQUEST) {
		c->pending &= ~(unsigned int)PEND_CREDIT_REQUEST;
		conn_hdr(v, c, &h, VIRTIO_VSOCK_OP_CREDIT_REQUEST);
	} else if (c->pending & PEND_CREDIT_UPDATE) {
		conn_hdr(v, c, &h, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	} else {
		c->pending &= ~(unsigned int)PEND_SHUTDOWN;
		conn_hdr(v, c, &h, VIRTIO_VSOCK_OP_SHUTDOWN);
		h.flags = htole32(c->shutdown_flags);
	}
	return put_hdr(e, &h);
}

/* One RW packet from the host socket into e; 0 when none was made (the
 * socket was empty, at EOF or broken, which changes the connection's state). */
static uint32_t conn_data(struct virtio_vsock *v, struct conn *c, struct virtq_elem *e)
{
	uint64_t room = e->in_len - HDR_SIZE;
	uint32_t credit = peer_credit(c);
	struct msghdr mh = { .msg_iov = v->scratch };
	struct virtio_vsock_hdr h;
	ssize_t n;

	if (room > credit)
		room = credit;
	if (room > VSOCK_MAX_PAYLOAD)
		room = VSOCK_MAX_PAYLOAD;
	if (!room)
		return 0;
	mh.msg_iovlen = iov_slice(&e->iov[e->out_num], e->in_num, HDR_SIZE, room, v->scratch);
	do
		n = recvmsg(c->fd, &mh, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		conn_hdr(v, c, &h, VIRTIO_VSOCK_OP_RW);
		h.len = htole32((uint32_t)n);
		c->tx_cnt += (uint32_t)n;
		METRICS_ADD(vsock.rx_bytes_count, n);
		/* Round robin: the next packet goes to another connection. */
		list_unlink(v, c);
		list_append(v, c);
		/* Out of credit: ask, in case the guest's own update is late. */
		if (!peer_credit(c) && !c->credit_requested) {
			c->credit_requested = true;
			c->pending |= PEND_CREDIT_REQUEST;
		}
		return put_hdr(e, &h) + (uint32_t)n;
	}
	if (n == 0) {
		host_eof(v, c);
	} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->readable = false;
		conn_update_events(v, c);
	} else {
		pr_debug("virtio-vsock: host port %u: %s", c->host_port, strerror(errno));
		conn_kill_rst(v, c);
	}
	return 0;
}

/* The next packet for the guest into e; 0 when there is none (yet). */
static uint32_t rx_fill(struct virtio_vsock *v, struct virtq_elem *e)
{
	struct virtio_vsock_hdr h;
	struct conn *c;
	uint32_t len;

	for (;;) {
		if (v->rst_len) {
			struct rst_entry r = v->rst[v->rst_head];

			v->rst_head = (v->rst_head + 1) % RST_RING;
			v->rst_len--;
			hdr_fill(v, &h, r.host_port, r.guest_port, VIRTIO_VSOCK_OP_RST);
			return put_hdr(e, &h);
		}
		for (c = v->head; c; c = c->next)
			if (c->pending && c->state != CONN_CMD)
				return conn_control(v, c, e);
		/* A buffer with room for a header only carries control packets. */
		if (e->in_len == HDR_SIZE)
			return 0;
		for (c = v->head; c && !conn_data_ready(c); c = c->next)
			;
		if (!c)
			return 0;
		len = conn_data(v, c, e);
		if (len)
			return len;
		/* The read changed c's state (empty, EOF, error): look again. */
	}
}

static void rx_pump(struct virtio_vsock *v)
{
	struct virtio_dev *d = &v->dev;
	struct virtq *q = &d->vq[RXQ];
	bool pushed = false;
	char why[160];
	uint32_t len;
	int r;

	if (!dev_live(v))
		return;
	while (rx_has_work(v)) {
		if (!v->rx_stashed) {
			r = virtq_pop(q, &v->rx_elem, why, sizeof(why));
			if (r < 0) {
				virtio_fail(d, "queue %u: %s", RXQ, why);
				return;
			}
			if (r == 0) {
				if (virtq_enable_notify(q))
					continue;
				break;
			}
			if (v->rx_elem.in_len < HDR_SIZE) {
				virtio_fail(d, "RX buffer of %llu bytes cannot hold a header",
					    (unsigned long long)v->rx_elem.in_len);
				return;
			}
			v->rx_stashed = true;
		}
		len = rx_fill(v, &v->rx_elem);
		if (!len)
			break;
		virtq_push(q, v->rx_elem.head, len);
		METRICS_INC(vsock.rx_packets_count);
		v->rx_stashed = false;
		pushed = true;
	}
	if (pushed)
		virtio_notify_queue(d, RXQ);
}

/* --- host side ---------------------------------------------------------- */

static uint32_t alloc_port(struct virtio_vsock *v)
{
	struct conn *c;
	uint32_t p;

	for (;;) {
		p = v->next_port++;
		if (v->next_port < LOCAL_PORT_FIRST)
			v->next_port = LOCAL_PORT_FIRST;
		for (c = v->head; c; c = c->next)
			if (c->state != CONN_CMD && c->host_port == p)
				break;
		if (!c)
			return p;
	}
}

/* Reads the client's request line without taking a byte beyond its '\n':
 * what follows is stream data for the guest. */
static void conn_read_cmd(struct virtio_vsock *v, struct conn *c)
{
	size_t want = CONNECT_LINE_MAX - c->line_len;
	char *nl;
	ssize_t n;
	uint32_t port;

	n = recv(c->fd, c->line + c->line_len, want, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_kill(v, c);
		return;
	}
	nl = memchr(c->line + c->line_len, '\n', (size_t)n);
	if (nl)
		n = nl - (c->line + c->line_len) + 1;
	if (recv(c->fd, c->line + c->line_len, (size_t)n, MSG_DONTWAIT) != n) {
		conn_kill(v, c);
		return;
	}
	c->line_len += (size_t)n;
	if (!nl) {
		if (c->line_len == CONNECT_LINE_MAX) {
			pr_debug("virtio-vsock: host client sent no CONNECT line");
			conn_kill(v, c);
		}
		return;
	}
	if (vsock_parse_connect(c->line, c->line_len - 1, &port)) {
		pr_debug("virtio-vsock: host client sent '%.*s', not CONNECT <port>",
			 (int)c->line_len - 1, c->line);
		conn_kill(v, c);
		return;
	}
	c->host_port = alloc_port(v);
	c->guest_port = port;
	c->state = CONN_REQUEST;
	c->pending |= PEND_REQUEST;
	c->deadline_ms = now_ms() + CONNECT_TIMEOUT_MS;
	conn_update_events(v, c);
}

static void conn_event(struct virtio_vsock *v, struct conn *c, uint32_t events)
{
	if (c->dead || c->fd < 0)
		return;
	if (events & EPOLLERR) {
		conn_kill_rst(v, c);
		return;
	}
	switch (c->state) {
	case CONN_CMD:
		conn_read_cmd(v, c);
		return;
	case CONN_REQUEST:
		if (events & EPOLLHUP)
			conn_kill_rst(v, c); /* the client gave up */
		return;
	case CONN_ESTABLISHED:
		if ((events & EPOLLOUT) && !conn_flush(v, c))
			return;
		if (events & EPOLLIN) {
			c->readable = true;
			conn_update_events(v, c);
		}
		if (events & EPOLLHUP)
			host_hup(v, c);
		return;
	case CONN_CLOSING:
		return;
	}
}

static void accept_clients(struct virtio_vsock *v)
{
	int i, fd;

	for (i = 0; i < 16; i++) {
		fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				pr_warn("virtio-vsock: accept on %s: %s", v->cfg.uds,
					strerror(errno));
			return;
		}
		if (!conn_new(v, fd, CONN_CMD))
			close(fd);
	}
}

static void expire(struct virtio_vsock *v)
{
	uint64_t now = now_ms(), n;
	struct conn *c, *next;

	if (read(v->timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		pr_debug("virtio-vsock: timerfd: %s", strerror(errno));
	v->timer_armed_ms = 0;
	for (c = v->head; c; c = next) {
		next = c->next;
		if (c->deadline_ms && c->deadline_ms <= now) {
			pr_debug("virtio-vsock: guest port %u: no answer in time", c->guest_port);
			conn_kill_rst(v, c);
		}
	}
}

static void arm_timer(struct virtio_vsock *v)
{
	struct itimerspec its = { 0 };
	uint64_t first = 0;
	struct conn *c;

	for (c = v->head; c; c = c->next)
		if (c->deadline_ms && (!first || c->deadline_ms < first))
			first = c->deadline_ms;
	if (first == v->timer_armed_ms)
		return;
	its.it_value.tv_sec = (time_t)(first / 1000);
	its.it_value.tv_nsec = (long)(first % 1000) * 1000000;
	if (timerfd_settime(v->timer_fd, TFD_TIMER_ABSTIME, &its, NULL))
		pr_warn("virtio-vsock: timerfd_settime: %s", strerror(errno));
	v->timer_armed_ms = first;
}

/* Work every entry point ends with. */
static void settle(struct virtio_vsock *v)
{
	if (v->dev.failed)
		kill_all(v); /* no guest to talk to until it resets the device */
	else
		rx_pump(v);
	arm_timer(v);
	reap(v);
}

static void on_host_events(void *ctx, uint32_t events)
{
	struct virtio_vsock *v = ctx;
	struct epoll_event evs[64];
	int i, n;

	(void)events;
	pthread_mutex_lock(&v->dev.lock);
	n = epoll_wait(v->epfd, evs, 64, 0);
	for (i = 0; i < n; i++) {
		void *p = evs[i].data.ptr;

		if (p == &v->listen_fd)
			accept_clients(v);
		else if (p == &v->timer_fd)
			expire(v);
		else
			conn_event(v, p, evs[i].events);
	}
	settle(v);
	pthread_mutex_unlock(&v->dev.lock);
}

/* --- the device --------------------------------------------------------- */

static void vsock_notify(struct virtio_dev *d, unsigned int q)
{
	struct virtio_vsock *v = d->priv;

	/* The event queue only holds buffers for transport resets we never send. */
	if (q == TXQ)
		METRICS_INC(vsock.tx_queue_event_count);
	else if (q == RXQ)
		METRICS_INC(vsock.rx_queue_event_count);
	if (q == TXQ)
		virtio_serve_queue(d, TXQ, &v->tx_elem, tx_packet, v);
	if (q == TXQ || q == RXQ)
		settle(v);
}

static void vsock_reset(struct virtio_dev *d)
{
	struct virtio_vsock *v = d->priv;

	/* The guest forgot every connection: close the host ends. */
	kill_all(v);
	v->rx_stashed = false;
	/* No port is in use any more; starting over keeps a run reproducible (fuzzing). */
	v->next_port = LOCAL_PORT_FIRST;
	arm_timer(v);
	reap(v);
}

static const struct virtio_dev_ops vsock_ops = {
	.name = "vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.num_queues = 3,
	.queue_max = QUEUE_SIZE,
	.notify = vsock_notify,
	.reset = vsock_reset,
};

/* A socket left by an earlier run is removed; anything else at path is not ours. */
static int clear_stale_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, live;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		pr_err("--vsock uds=%s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISSOCK(st.st_mode)) {
		pr_err("--vsock uds=%s: exists and is not a socket", path);
		return -EEXIST;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	live = !connect(fd, (struct sockaddr *)&sa, sizeof(sa)) || errno == EAGAIN;
	close(fd);
	if (live) {
		pr_err("--vsock uds=%s: another process is listening on it", path);
		return -EADDRINUSE;
	}
	if (unlink(path) && errno != ENOENT) {
		pr_err("--vsock uds=%s: cannot remove the stale socket: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

static int open_host_side(struct virtio_vsock *v)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	struct stat st;
	int err;

	err = clear_stale_socket(v->cfg.uds);
	if (err)
		return err;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", v->cfg.uds);
	v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (v->listen_fd < 0 || bind(v->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(v->listen_fd, 64)) {
		err = -errno;
		pr_err("--vsock uds=%s: cannot listen: %s", v->cfg.uds, strerror(errno));
		return err;
	}
	if (!stat(v->cfg.uds, &st)) {
		v->sock_dev = st.st_dev;
		v->sock_ino = st.st_ino;
	}
	v->epfd = epoll_create1(EPOLL_CLOEXEC);
	v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->epfd < 0 || v->timer_fd < 0)
		return -errno;
	ev.data.ptr = &v->listen_fd;
	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->listen_fd, &ev))
		return -errno;
	ev.data.ptr = &v->timer_fd;
	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->timer_fd, &ev))
		return -errno;
	return 0;
}

int virtio_vsock_create(struct virtio_vsock **out, const struct vsock_config *c,
			const struct virtio_env *env, uint64_t base, uint32_t irq)
{
	struct virtio_vsock *v = calloc(1, sizeof(*v));
	struct virtio_vsock_config *cfg;
	int err;

	if (!v)
		return -ENOMEM;
	v->cfg = *c;
	v->listen_fd = v->epfd = v->timer_fd = -1;
	v->next_port = LOCAL_PORT_FIRST;
	err = virtio_mmio_init(&v->dev, &vsock_ops, v, 0, env, base, irq);
	if (err) {
		pr_err("cannot plug in virtio-vsock: %s", strerror(-err));
		goto fail;
	}
	cfg = (struct virtio_vsock_config *)v->dev.config;
	cfg->guest_cid = htole64(c->cid);
	v->dev.config_size = sizeof(*cfg);
	err = open_host_side(v);
	if (err)
		goto fail;
	err = event_loop_add(env->loop, v->epfd, EPOLLIN, on_host_events, v);
	if (err) {
		pr_err("virtio-vsock: cannot watch its sockets: %s", strerror(-err));
		goto fail;
	}
	v->loop_added = true;
	pr_debug("virtio-vsock: guest CID %u, host socket %s", c->cid, c->uds);
	*out = v;
	return 0;
fail:
	virtio_vsock_destroy(v);
	return err;
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
	struct stat st;

	if (!v)
		return;
	kill_all(v);
	reap(v);
	if (v->loop_added)
		event_loop_del(v->dev.env.loop, v->epfd);
	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		/* Only the socket we made: another volt may have taken the path. */
		if (!stat(v->cfg.uds, &st) && st.st_dev == v->sock_dev && st.st_ino == v->sock_ino)
			unlink(v->cfg.uds);
	}
	if (v->epfd >= 0)
		close(v->epfd);
	if (v->timer_fd >= 0)
		close(v->timer_fd);
	virtio_mmio_destroy(&v->dev);
	free(v);
}
