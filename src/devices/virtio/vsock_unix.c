#include "devices/virtio/vsock_unix.h"

#include "core/metrics.h"
#include "devices/virtio/vsock_csm.h"
#include "devices/virtio/vsock_proto.h"
#include "util/log.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
/* Host clients still sending their CONNECT line count apart, up to the
 * listening socket's backlog; one more makes the oldest give way. Idle clients
 * then cannot take the connections' slots (guest-initiated ones included),
 * and a client that sends its line at once always gets through. */
#define MAX_PENDING	 64
#define CONNECT_LINE_MAX 32
#define ACCEPT_RETRY_MS	 100
#define HDR_SIZE	 sizeof(struct virtio_vsock_hdr)

struct vsock_mux_conn {
	struct vsock_conn c;
	struct vsock_mux_conn *prev, *next;
	bool in_epoll, dead;
	uint32_t events; /* the epoll interest now registered */
	char line[CONNECT_LINE_MAX];
	size_t line_len;
};

/* --- the host client's request line -------------------------------------- */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

int vsock_parse_connect(const char *line, size_t len, uint32_t *port)
{
	static const char kw[] = "CONNECT";
	size_t i = 0, kwlen = sizeof(kw) - 1, digits = 0;
	uint64_t v = 0;

	while (i < len && is_blank(line[i]))
		i++;
	if (len - i < kwlen || strncasecmp(line + i, kw, kwlen))
		return -EINVAL;
	i += kwlen;
	if (i == len || !is_blank(line[i]))
		return -EINVAL;
	while (i < len && is_blank(line[i]))
		i++;
	for (; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(line[i] - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
		digits++;
	}
	if (!digits)
		return -EINVAL;
	while (i < len && is_blank(line[i]))
		i++;
	if (i != len)
		return -EINVAL;
	*port = (uint32_t)v;
	return 0;
}

int vsock_port_path(char *out, size_t size, const char *uds, uint32_t port)
{
	int n = snprintf(out, size, "%s_%u", uds, port);

	if (n < 0 || (size_t)n >= size || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

void vsock_mux_warn_guest(struct vsock_mux *m, const char *what, const char *why)
{
	if (!m->warned)
		pr_warn("virtio-vsock: %s (%s); further guest faults are logged at debug level",
			what, why);
	else
		pr_debug("virtio-vsock: %s (%s)", what, why);
	m->warned = true;
}

/* --- connections --------------------------------------------------------- */

static struct vsock_mux_conn *conn_find(struct vsock_mux *m, uint32_t host_port,
					uint32_t guest_port)
{
	struct vsock_mux_conn *mc;

	for (mc = m->head; mc; mc = mc->next)
		if (mc->c.state != VSOCK_CONN_CMD && mc->c.host_port == host_port &&
		    mc->c.guest_port == guest_port)
			return mc;
	return NULL;
}

static void list_unlink(struct vsock_mux *m, struct vsock_mux_conn *mc)
{
	if (mc->prev)
		mc->prev->next = mc->next;
	else
		m->head = mc->next;
	if (mc->next)
		mc->next->prev = mc->prev;
	else
		m->tail = mc->prev;
	mc->prev = mc->next = NULL;
}

static void list_append(struct vsock_mux *m, struct vsock_mux_conn *mc)
{
	mc->prev = m->tail;
	mc->next = NULL;
	if (m->tail)
		m->tail->next = mc;
	else
		m->head = mc;
	m->tail = mc;
}

static void unwatch(struct vsock_mux *m, struct vsock_mux_conn *mc)
{
	if (mc->in_epoll)
		epoll_ctl(m->epfd, EPOLL_CTL_DEL, mc->c.fd, NULL);
	mc->in_epoll = false;
}

static void conn_close_fd(struct vsock_mux *m, struct vsock_mux_conn *mc)
{
	if (mc->c.fd < 0)
		return;
	unwatch(m, mc);
	close(mc->c.fd);
	mc->c.fd = -1;
}

static void listen_watch(struct vsock_mux *m, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.ptr = &m->listen_fd };

	if (m->listen_fd < 0 || m->listen_paused == !on)
		return;
	if (epoll_ctl(m->epfd, EPOLL_CTL_MOD, m->listen_fd, &ev))
		pr_debug("virtio-vsock: epoll_ctl on the listening socket: %s", strerror(errno));
	m->listen_paused = !on;
	m->listen_retry_ms = on ? 0 : vsock_now_ms() + ACCEPT_RETRY_MS;
}

/* The struct itself is freed by reap(): an epoll batch may still name it. */
static void conn_kill(struct vsock_mux *m, struct vsock_mux_conn *mc)
{
	conn_close_fd(m, mc);
	listen_watch(m, true); /* a descriptor is free again */
	list_unlink(m, mc);
	if (mc->c.state == VSOCK_CONN_CMD)
		m->npending--;
	m->nconns--;
	METRIC_INC(vsock_metrics.conns_removed);
	mc->dead = true;
	mc->next = m->dead;
	m->dead = mc;
}

static void reap(struct vsock_mux *m)
{
	while (m->dead) {
		struct vsock_mux_conn *mc = m->dead;

		m->dead = mc->next;
		vsock_conn_release(&mc->c);
		free(mc);
	}
}

static void rst_push(struct vsock_mux *m, uint32_t host_port, uint32_t guest_port)
{
	unsigned int i = (m->rst_head + m->rst_len) % VSOCK_RST_RING;

	if (m->rst_len == VSOCK_RST_RING) {
		pr_debug("virtio-vsock: RST queue full; the guest's %u times out", guest_port);
		return;
	}
	m->rst[i].host_port = host_port;
	m->rst[i].guest_port = guest_port;
	m->rst_len++;
}

void vsock_mux_kill_all(struct vsock_mux *m)
{
	while (m->head)
		conn_kill(m, m->head);
	m->rst_len = 0;
}

static uint32_t epoll_interest(const struct vsock_conn *c)
{
	unsigned int io = vsock_conn_interest(c);

	return (io & VSOCK_IO_READ ? EPOLLIN : 0) | (io & VSOCK_IO_WRITE ? EPOLLOUT : 0);
}

static void conn_update_events(struct vsock_mux *m, struct vsock_mux_conn *mc)
{
	struct epoll_event ev = { .data.ptr = mc };
	uint32_t want;

	if (mc->c.fd < 0 || !mc->in_epoll)
		return;
	want = epoll_interest(&mc->c);
	if (want == mc->events)
		return;
	ev.events = want;
	if (epoll_ctl(m->epfd, EPOLL_CTL_MOD, mc->c.fd, &ev)) {
		pr_warn("virtio-vsock: epoll_ctl: %s", strerror(errno));
		METRIC_INC(vsock_metrics.muxer_event_fails);
	}
	mc->events = want;
}

/* Carries out what the state machine decided about mc. */
static void conn_sync(struct vsock_mux *m, struct vsock_mux_conn *mc)
{
	if (mc->dead)
		return;
	if (mc->c.killed) {
		if (mc->c.rst_owed)
			rst_push(m, mc->c.host_port, mc->c.guest_port);
		conn_kill(m, mc);
	} else if (mc->c.state == VSOCK_CONN_CLOSING) {
		conn_close_fd(m, mc);
	} else if (mc->c.hup) {
		unwatch(m, mc); /* level-triggered HUP would fire until the socket is closed */
	} else {
		conn_update_events(m, mc);
	}
}

/* No room for one more connection (host clients still sending their line
 * apart): both sides check it before they connect anything. */
static bool conns_full(const struct vsock_mux *m)
{
	if (m->nconns - m->npending < MAX_CONNS)
		return false;
	pr_debug("virtio-vsock: %u connections already; refusing another", m->nconns - m->npending);
	return true;
}

static struct vsock_mux_conn *conn_new(struct vsock_mux *m, int fd, enum vsock_conn_state state)
{
	struct epoll_event ev = { 0 };
	struct vsock_mux_conn *mc;

	if (state == VSOCK_CONN_CMD && m->npending >= MAX_PENDING) {
		for (mc = m->head; mc && mc->c.state != VSOCK_CONN_CMD; mc = mc->next)
			;
		pr_debug("virtio-vsock: %u host clients have not sent their CONNECT line; the "
			 "oldest gives way",
			 m->npending);
		if (mc)
			conn_kill(m, mc);
	}
	mc = calloc(1, sizeof(*mc));
	if (!mc)
		return NULL;
	vsock_conn_init(&mc->c, fd, state);
	ev.events = epoll_interest(&mc->c);
	ev.data.ptr = mc;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		pr_warn("virtio-vsock: epoll_ctl: %s", strerror(errno));
		free(mc);
		return NULL;
	}
	mc->in_epoll = true;
	mc->events = ev.events;
	list_append(m, mc);
	m->nconns++;
	if (state == VSOCK_CONN_CMD)
		m->npending++;
	METRIC_INC(vsock_metrics.conns_added);
	return mc;
}

/* --- the guest's side ---------------------------------------------------- */

static void guest_request(struct vsock_mux *m, const struct virtio_vsock_hdr *h)
{
	uint32_t port = le32toh(h->dst_port), guest_port = le32toh(h->src_port);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsock_mux_conn *mc;
	int fd = -1;

	/* The config left room for any suffix; checked again all the same. No
	 * room for one more: refused before the host's listener sees it. */
	if (conns_full(m))
		errno = EMFILE;
	else if (!vsock_port_path(sa.sun_path, sizeof(sa.sun_path), m->uds, port))
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	else
		errno = ENAMETOOLONG;
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		/* Nobody listening, or a full backlog (EAGAIN): refused either way. */
		pr_debug("virtio-vsock: guest port %u -> %s: %s", guest_port, sa.sun_path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		rst_push(m, port, guest_port);
		return;
	}
	mc = conn_new(m, fd, VSOCK_CONN_ESTABLISHED);
	if (!mc) {
		close(fd);
		rst_push(m, port, guest_port);
		return;
	}
	vsock_conn_accept(&mc->c, port, guest_port, h);
	conn_sync(m, mc);
}

void vsock_mux_send_pkt(struct vsock_mux *m, const struct virtio_vsock_hdr *h,
			const struct iovec *iov, unsigned int n, uint64_t payload_avail)
{
	enum vsock_verdict verdict;
	uint32_t host_port = le32toh(h->dst_port), guest_port = le32toh(h->src_port);
	struct vsock_mux_conn *mc;
	const char *what, *why;

	verdict = vsock_hdr_check(h, payload_avail, m->guest_cid, &why);
	if (verdict == VSOCK_PKT_DROP) {
		vsock_mux_warn_guest(m, "dropped a packet", why);
		return;
	}
	mc = conn_find(m, host_port, guest_port);
	if (verdict == VSOCK_PKT_RST) {
		vsock_mux_warn_guest(m, "reset a connection", why);
		if (mc) {
			vsock_conn_reset(&mc->c);
			conn_sync(m, mc);
		} else {
			rst_push(m, host_port, guest_port);
		}
		return;
	}
	if (!mc) {
		/* A new connection, or an RST for one we forgot; anything else is refused. */
		if (le16toh(h->op) == VIRTIO_VSOCK_OP_REQUEST)
			guest_request(m, h);
		else if (le16toh(h->op) != VIRTIO_VSOCK_OP_RST)
			rst_push(m, host_port, guest_port);
		return;
	}
	what = vsock_conn_from_guest(&mc->c, h, iov, n, m->scratch, &why);
	if (what)
		vsock_mux_warn_guest(m, what, why);
	conn_sync(m, mc);
}

/* --- towards the guest --------------------------------------------------- */

bool vsock_mux_has_pkt(const struct vsock_mux *m)
{
	const struct vsock_mux_conn *mc;

	if (m->rst_len)
		return true;
	for (mc = m->head; mc; mc = mc->next)
		if (vsock_conn_control_due(&mc->c) || vsock_conn_data_ready(&mc->c))
			return true;
	return false;
}

static uint32_t put_hdr(struct virtq_elem *e, const struct virtio_vsock_hdr *h)
{
	iov_from_buf(&e->iov[e->out_num], e->in_num, 0, h, HDR_SIZE);
	return HDR_SIZE;
}

uint32_t vsock_mux_recv_pkt(struct vsock_mux *m, struct virtq_elem *e)
{
	struct virtio_vsock_hdr h;
	struct vsock_mux_conn *mc;
	uint32_t len;

	for (;;) {
		if (m->rst_len) {
			uint32_t host_port = m->rst[m->rst_head].host_port;
			uint32_t guest_port = m->rst[m->rst_head].guest_port;

			m->rst_head = (m->rst_head + 1) % VSOCK_RST_RING;
			m->rst_len--;
			vsock_hdr_fill(&h, m->guest_cid, host_port, guest_port,
				       VIRTIO_VSOCK_OP_RST);
			return put_hdr(e, &h);
		}
		for (mc = m->head; mc; mc = mc->next)
			if (vsock_conn_control_due(&mc->c)) {
				vsock_conn_control(&mc->c, m->guest_cid, &h);
				return put_hdr(e, &h);
			}
		/* A buffer with room for a header only carries control packets. */
		if (e->in_len == HDR_SIZE)
			return 0;
		for (mc = m->head; mc && !vsock_conn_data_ready(&mc->c); mc = mc->next)
			;
		if (!mc)
			return 0;
		len = vsock_conn_data(&mc->c, m->guest_cid, &h, &e->iov[e->out_num], e->in_num,
				      e->in_len - HDR_SIZE, m->scratch);
		conn_sync(m, mc);
		if (len) {
			/* Round robin: the next packet goes to another connection. */
			list_unlink(m, mc);
			list_append(m, mc);
			return put_hdr(e, &h) + len;
		}
		/* The read changed mc's state (empty, EOF, error): look again. */
	}
}

/* --- host clients -------------------------------------------------------- */

static uint32_t alloc_port(struct vsock_mux *m)
{
	struct vsock_mux_conn *mc;
	uint32_t p;

	for (;;) {
		p = m->next_port++;
		if (m->next_port < VSOCK_MUX_PORT_FIRST)
			m->next_port = VSOCK_MUX_PORT_FIRST;
		for (mc = m->head; mc; mc = mc->next)
			if (mc->c.state != VSOCK_CONN_CMD && mc->c.host_port == p)
				break;
		if (!mc)
			return p;
	}
}

/* Reads the client's request line without taking a byte beyond its '\n':
 * what follows is stream data for the guest. */
static void conn_read_cmd(struct vsock_mux *m, struct vsock_mux_conn *mc)
{
	size_t want = CONNECT_LINE_MAX - mc->line_len;
	char *nl;
	ssize_t n;
	uint32_t port;

	n = recv(mc->c.fd, mc->line + mc->line_len, want, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_kill(m, mc);
		return;
	}
	nl = memchr(mc->line + mc->line_len, '\n', (size_t)n);
	if (nl)
		n = nl - (mc->line + mc->line_len) + 1;
	if (recv(mc->c.fd, mc->line + mc->line_len, (size_t)n, MSG_DONTWAIT) != n) {
		conn_kill(m, mc);
		return;
	}
	mc->line_len += (size_t)n;
	if (!nl) {
		if (mc->line_len == CONNECT_LINE_MAX) {
			pr_debug("virtio-vsock: host client sent no CONNECT line");
			conn_kill(m, mc);
		}
		return;
	}
	if (vsock_parse_connect(mc->line, mc->line_len - 1, &port)) {
		pr_debug("virtio-vsock: host client sent '%.*s', not CONNECT <port>",
			 (int)mc->line_len - 1, mc->line);
		conn_kill(m, mc);
		return;
	}
	if (conns_full(m)) {
		conn_kill(m, mc);
		return;
	}
	m->npending--;
	vsock_conn_connect(&mc->c, alloc_port(m), port);
	conn_sync(m, mc);
}

static void conn_event(struct vsock_mux *m, struct vsock_mux_conn *mc, uint32_t events)
{
	if (mc->dead || mc->c.fd < 0)
		return;
	if (mc->c.state == VSOCK_CONN_CMD && !(events & EPOLLERR)) {
		conn_read_cmd(m, mc);
		return;
	}
	vsock_conn_host_ready(&mc->c, (events & EPOLLIN ? VSOCK_IO_READ : 0) |
					      (events & EPOLLOUT ? VSOCK_IO_WRITE : 0) |
					      (events & EPOLLHUP ? VSOCK_IO_HUP : 0) |
					      (events & EPOLLERR ? VSOCK_IO_ERR : 0));
	conn_sync(m, mc);
}

static void accept_clients(struct vsock_mux *m)
{
	int i, fd;

	for (i = 0; i < 16; i++) {
		fd = accept4(m->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (fd < 0) {
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM...: the client stays in the
			 * backlog and the socket readable; retried later. */
			if (!m->accept_warned)
				pr_warn("virtio-vsock: accept on %s: %s; host clients wait until "
					"it succeeds (retried every %d ms)",
					m->uds, strerror(errno), ACCEPT_RETRY_MS);
			m->accept_warned = true;
			listen_watch(m, false);
			return;
		}
		m->accept_warned = false;
		if (!conn_new(m, fd, VSOCK_CONN_CMD))
			close(fd);
	}
}

/* --- timeouts ------------------------------------------------------------ */

static void expire(struct vsock_mux *m)
{
	uint64_t now = vsock_now_ms(), n;
	struct vsock_mux_conn *mc, *next;

	if (read(m->timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		pr_debug("virtio-vsock: timerfd: %s", strerror(errno));
	m->timer_armed_ms = 0;
	if (m->listen_paused && m->listen_retry_ms <= now)
		listen_watch(m, true);
	for (mc = m->head; mc; mc = next) {
		next = mc->next;
		if (mc->c.deadline_ms && mc->c.deadline_ms <= now) {
			pr_debug("virtio-vsock: guest port %u: no answer in time",
				 mc->c.guest_port);
			METRIC_INC(vsock_metrics.conns_killed);
			vsock_conn_reset(&mc->c);
			conn_sync(m, mc);
		}
	}
}

static void arm_timer(struct vsock_mux *m)
{
	struct itimerspec its = { 0 };
	uint64_t first = 0;
	struct vsock_mux_conn *mc;

	if (m->listen_paused)
		first = m->listen_retry_ms;
	for (mc = m->head; mc; mc = mc->next)
		if (mc->c.deadline_ms && (!first || mc->c.deadline_ms < first))
			first = mc->c.deadline_ms;
	if (first == m->timer_armed_ms)
		return;
	its.it_value.tv_sec = (time_t)(first / 1000);
	its.it_value.tv_nsec = (long)(first % 1000) * 1000000;
	if (timerfd_settime(m->timer_fd, TFD_TIMER_ABSTIME, &its, NULL))
		pr_warn("virtio-vsock: timerfd_settime: %s", strerror(errno));
	m->timer_armed_ms = first;
}

void vsock_mux_settle(struct vsock_mux *m)
{
	arm_timer(m);
	reap(m);
}

void vsock_mux_process(struct vsock_mux *m)
{
	struct epoll_event evs[64];
	int i, n;

	n = epoll_wait(m->epfd, evs, 64, 0);
	if (n < 0 && errno != EINTR) {
		pr_warn("virtio-vsock: epoll_wait: %s", strerror(errno));
		METRIC_INC(vsock_metrics.muxer_event_fails);
	}
	for (i = 0; i < n; i++) {
		void *p = evs[i].data.ptr;

		if (p == &m->listen_fd)
			accept_clients(m);
		else if (p == &m->timer_fd)
			expire(m);
		else
			conn_event(m, p, evs[i].events);
	}
}

void vsock_mux_reset(struct vsock_mux *m)
{
	vsock_mux_kill_all(m);
	/* No port is in use any more; starting over keeps a run reproducible (fuzzing). */
	m->next_port = VSOCK_MUX_PORT_FIRST;
}

uint32_t vsock_mux_next_port(const struct vsock_mux *m)
{
	return m->next_port;
}

void vsock_mux_set_next_port(struct vsock_mux *m, uint32_t port)
{
	m->next_port = port;
}

/* --- the listening socket ------------------------------------------------ */

void vsock_mux_init(struct vsock_mux *m, uint32_t guest_cid, const char *uds)
{
	memset(m, 0, sizeof(*m));
	m->guest_cid = guest_cid;
	snprintf(m->uds, sizeof(m->uds), "%s", uds);
	m->listen_fd = m->epfd = m->timer_fd = -1;
	m->next_port = VSOCK_MUX_PORT_FIRST;
}

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

int vsock_mux_open(struct vsock_mux *m)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	struct stat st;
	int err;

	err = clear_stale_socket(m->uds);
	if (err)
		return err;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", m->uds);
	m->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->listen_fd < 0 || bind(m->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(m->listen_fd, 64)) {
		err = -errno;
		pr_err("--vsock uds=%s: cannot listen: %s", m->uds, strerror(errno));
		return err;
	}
	if (!stat(m->uds, &st)) {
		m->sock_dev = st.st_dev;
		m->sock_ino = st.st_ino;
	}
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->epfd < 0 || m->timer_fd < 0)
		return -errno;
	ev.data.ptr = &m->listen_fd;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->listen_fd, &ev))
		return -errno;
	ev.data.ptr = &m->timer_fd;
	if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->timer_fd, &ev))
		return -errno;
	return 0;
}

int vsock_mux_fd(const struct vsock_mux *m)
{
	return m->epfd;
}

void vsock_mux_close(struct vsock_mux *m)
{
	struct stat st;

	vsock_mux_kill_all(m);
	reap(m);
	if (m->listen_fd >= 0) {
		close(m->listen_fd);
		/* Only the socket we made: another volt may have taken the path. */
		if (!stat(m->uds, &st) && st.st_dev == m->sock_dev && st.st_ino == m->sock_ino)
			unlink(m->uds);
	}
	if (m->epfd >= 0)
		close(m->epfd);
	if (m->timer_fd >= 0)
		close(m->timer_fd);
	m->listen_fd = m->epfd = m->timer_fd = -1;
}
