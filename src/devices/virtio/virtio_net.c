/* virtio-net over a TAP (contract in virtio_net.h). Threads: queue kicks and
 * the TAP's readiness are served on the device thread, activate and reset
 * come from vCPU threads; all of them under d->lock, which guards the pending
 * receive frame, the stalled transmit chain and what the TAP is polled for. */
#include "devices/virtio/virtio_net.h"

#include "core/metrics.h"
#include "core/snap.h"
#include "devices/device_kind.h"
#include "devices/mmds/mmds_stack.h"
#include "util/id_pool.h"
#include "util/log.h"
#include "util/parse.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <linux/virtio_ids.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

struct net_metrics {
	metric_t rx_queue_event_count;
	metric_t tx_queue_event_count;
	metric_t rx_tap_event_count; /* the TAP became readable */
	metric_t rx_packets_count;
	metric_t rx_bytes_count;
	metric_t tx_packets_count;
	metric_t tx_bytes_count;
	metric_t rx_fails;	     /* frames dropped */
	metric_t tx_fails;	     /* frames dropped */
	metric_t no_rx_avail_buffer; /* frames waited for receive buffers */
	metric_t tap_read_fails;     /* the TAP went away */
	/* Firecracker's rate limiter counters: a frame waited for its limiter;
	 * the limiter's timer fired. */
	metric_t rx_rate_limiter_throttled;
	metric_t tx_rate_limiter_throttled;
	metric_t rx_event_rate_limiter_count;
	metric_t tx_rate_limiter_event_count;
	metric_t activate_fails; /* net_activate() cannot fail (TUNSETOFFLOAD is only logged): 0 */
	metric_t cfg_fails;	 /* the driver wrote the (read-only) config, or past it */
	metric_t event_fails;	 /* reading a queue's kick eventfd failed */
	metric_t no_tx_avail_buffer; /* a transmit round found no chain to send */
	metric_t rx_count;	     /* frames given to the guest (as rx_packets_count) */
	metric_t tx_count;	     /* frames the TAP took */
	metric_t tap_write_fails;    /* the TAP refused a frame */
	/* Frames dropped for a bad or missing vnet header, a size out of
	 * bounds or too many pieces (also in tx_fails). */
	metric_t tx_malformed_frames;
	/* Frames for the TAP whose source MAC is not the configured guest MAC
	 * (counted, sent anyway; none counted without a guest_mac). */
	metric_t tx_spoofed_mac_count;
	metric_t tx_remaining_reqs_count; /* at each chain taken: those still waiting */
	struct metric_agg tap_write_agg;  /* each write to the TAP, microseconds */
};

static struct net_metrics net_metrics;

static const struct metric_field net_metrics_fields[] = {
	METRIC_DELTA(struct net_metrics, rx_queue_event_count),
	METRIC_DELTA(struct net_metrics, tx_queue_event_count),
	METRIC_DELTA(struct net_metrics, rx_tap_event_count),
	METRIC_DELTA(struct net_metrics, rx_packets_count),
	METRIC_DELTA(struct net_metrics, rx_bytes_count),
	METRIC_DELTA(struct net_metrics, tx_packets_count),
	METRIC_DELTA(struct net_metrics, tx_bytes_count),
	METRIC_DELTA(struct net_metrics, rx_fails),
	METRIC_DELTA(struct net_metrics, tx_fails),
	METRIC_DELTA(struct net_metrics, no_rx_avail_buffer),
	METRIC_DELTA(struct net_metrics, tap_read_fails),
	METRIC_DELTA(struct net_metrics, rx_rate_limiter_throttled),
	METRIC_DELTA(struct net_metrics, tx_rate_limiter_throttled),
	METRIC_DELTA(struct net_metrics, rx_event_rate_limiter_count),
	METRIC_DELTA(struct net_metrics, tx_rate_limiter_event_count),
	METRIC_DELTA(struct net_metrics, activate_fails),
	METRIC_DELTA(struct net_metrics, cfg_fails),
	METRIC_DELTA(struct net_metrics, event_fails),
	METRIC_DELTA(struct net_metrics, no_tx_avail_buffer),
	METRIC_DELTA(struct net_metrics, rx_count),
	METRIC_DELTA(struct net_metrics, tx_count),
	METRIC_DELTA(struct net_metrics, tap_write_fails),
	METRIC_DELTA(struct net_metrics, tx_malformed_frames),
	METRIC_DELTA(struct net_metrics, tx_spoofed_mac_count),
	METRIC_DELTA(struct net_metrics, tx_remaining_reqs_count),
	METRIC_AGG(struct net_metrics, tap_write_agg),
};

/* A counter in the struct but not in the table would never be written. */
_Static_assert(sizeof(net_metrics_fields) / sizeof(net_metrics_fields[0]) * sizeof(metric_t) ==
		       sizeof(struct net_metrics),
	       "every counter needs a line in the table");

/* The "net" section of the metrics line, for the device table; the
 * counters are aggregated over every device of the kind. */
static const struct metrics_section net_metrics_section = {
	.name = "net",
	.base = &net_metrics,
	.fields = net_metrics_fields,
	.n = sizeof(net_metrics_fields) / sizeof(net_metrics_fields[0]),
};

/* A counter of the kind's and the same of the interface's own, own (NULL: a
 * frame sent without a device, net_tx_send()). */
#define NET_ADD(own, field, n)	METRIC_ADD_BOTH(net_metrics, own, field, n)
#define NET_INC(own, field)	NET_ADD(own, field, 1)
#define NET_AGG(own, field, us) METRIC_AGG_BOTH(net_metrics, own, field, us)

#define RXQ	   0
#define TXQ	   1
#define QUEUE_SIZE 256
/* Frames handled per wakeup before the device thread looks at its other
 * sources again, and at most this many TX chains completed per interrupt. */
#define BUDGET 64
/* One byte more than the largest frame, so a frame the TAP had to cut shows. */
#define RX_BUF_SIZE (NET_HDR_LEN + NET_FRAME_MAX + 1)
#define ETH_HDR_LEN 14
/* Drops are the guest's (or the network's) business: say so a few times only. */
#define DROPS_LOGGED 8

#define INVALID(...) (snprintf(why, why_size, __VA_ARGS__), -EINVAL)
#define F(bit)	     (1ULL << (bit))

struct virtio_net {
	struct virtio_dev dev;
	struct net_config cfg;
	int tap_fd;
	bool tap_polled;     /* the fd is registered with the event loop */
	uint32_t tap_events; /* what the event loop waits for on it */
	unsigned int tun_ok; /* TUNSETOFFLOAD flags the TAP accepts */
	bool active;	     /* DRIVER_OK, not reset since */
	bool tap_dead;	     /* the TAP is gone (deleted): nothing more to read */
	bool rx_wait;	     /* the guest has no receive buffers: TAP not read */
	bool tx_pending;     /* tx_elem was refused by a full TAP */
	uint64_t rx_frames, rx_gso, tx_frames, tx_gso, rx_drops, tx_drops;
	uint64_t rx_waits; /* times the guest ran out of receive buffers */
	unsigned int drops_logged;
	struct net_rx rx;
	struct virtq_elem tx_elem;
	uint8_t rx_buf[RX_BUF_SIZE];
	/* Rate limiters (d->lock). rx_charged: the frame in rx has taken its
	 * tokens; rx_throttled: it waits for the rx limiter (TAP not read). */
	struct rate_limiter rx_rl, tx_rl;
	bool rl_ready, rx_charged, rx_throttled;
	/* MMDS (net_config.mmds): the stack frames to its address go to, its
	 * retransmission timer (armed for mmds_armed, 0: not), its frame on the
	 * way to the guest and the frame from the guest it reads (NULL without). */
	struct mmds_stack *mmds;
	int mmds_timer_fd;
	bool mmds_polled;
	uint64_t mmds_armed;
	uint8_t *mmds_rx, *mmds_tx;
	/* The interface's own counters, Firecracker's "net_<iface_id>"
	 * section (m_own). */
	struct net_metrics m;
	struct metrics_own m_own;
};

/* --- configuration --------------------------------------------------------- */

static int check_ifname(const char *s, uint64_t unused, char *why, size_t why_size)
{
	const char *p;

	(void)unused;
	if (!*s)
		return INVALID("tap= needs an interface name");
	if (strlen(s) >= IFNAMSIZ)
		return INVALID("TAP name '%s' is longer than %d characters", s, IFNAMSIZ - 1);
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return INVALID("'%s' is not a valid interface name", s);
	/* '%' would make TUNSETIFF pick a fresh name of its own. */
	for (p = s; *p; p++)
		if (*p == '/' || *p == ':' || *p == '%' || *p <= ' ' || *p == 0x7f)
			return INVALID(
				"TAP name '%s' contains '%c', not allowed in interface names", s,
				*p > ' ' && *p != 0x7f ? *p : '?');
	return 0;
}

#define NET_RL(m) .offset = offsetof(struct net_config, m), .has = FIELD_NO_HAS

static const struct field net_field_list[] = {
	{ .cli = "tap",
	  .json = "host_dev_name",
	  .type = FIELD_STRING,
	  .offset = offsetof(struct net_config, tap),
	  .size = IFNAMSIZ,
	  .has = FIELD_NO_HAS,
	  .required = true,
	  .missing = "missing tap=NAME",
	  .empty = "tap= needs an interface name",
	  .check = check_ifname },
	{ .cli = "mac",
	  .json = "guest_mac",
	  .type = FIELD_MAC,
	  .offset = offsetof(struct net_config, mac),
	  .has = offsetof(struct net_config, has_mac) },
	{ .json = "rx_rate_limiter", .type = FIELD_RL, NET_RL(rx_rate_limiter) },
	{ .json = "tx_rate_limiter", .type = FIELD_RL, NET_RL(tx_rate_limiter) },
	{ .cli = "rx_bw", .type = FIELD_BUCKET, NET_RL(rx_rate_limiter.bandwidth) },
	{ .cli = "rx_ops", .type = FIELD_BUCKET, NET_RL(rx_rate_limiter.ops) },
	{ .cli = "tx_bw", .type = FIELD_BUCKET, NET_RL(tx_rate_limiter.bandwidth) },
	{ .cli = "tx_ops", .type = FIELD_BUCKET, NET_RL(tx_rate_limiter.ops) },
	{ .cli = "mtu",
	  .json = "mtu",
	  .type = FIELD_U32,
	  .offset = offsetof(struct net_config, mtu),
	  .min = 68,
	  .max = 65535,
	  .has = offsetof(struct net_config, has_mtu) },
};

const struct field_set net_fields = {
	.name = "network-interface",
	.fields = net_field_list,
	.n = sizeof(net_field_list) / sizeof(net_field_list[0]),
	.size = sizeof(struct net_config),
	.unknown = "unknown option '{}' (expected tap=NAME[,mac=MAC][,mtu=N])",
};

/* --- frames ---------------------------------------------------------------- */

unsigned int net_tun_offloads(uint64_t features)
{
	unsigned int f;

	/* The TAP takes segmentation only along with checksum offload. */
	if (!(features & F(VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	f = TUN_F_CSUM;
	if (features & F(VIRTIO_NET_F_GUEST_TSO4))
		f |= TUN_F_TSO4;
	if (features & F(VIRTIO_NET_F_GUEST_TSO6))
		f |= TUN_F_TSO6;
	if ((f & (TUN_F_TSO4 | TUN_F_TSO6)) && (features & F(VIRTIO_NET_F_GUEST_ECN)))
		f |= TUN_F_TSO_ECN;
	return f;
}

/* Whether a GSO type is one the side with these features may receive. */
static bool gso_allowed(uint8_t type, uint64_t features, unsigned int tso4, unsigned int tso6,
			unsigned int ecn)
{
	if ((type & VIRTIO_NET_HDR_GSO_ECN) && !(features & F(ecn)))
		return false;
	switch (type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return !(type & VIRTIO_NET_HDR_GSO_ECN);
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return features & F(tso4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return features & F(tso6);
	default:
		return false; /* UDP (UFO) is neither offered nor taken */
	}
}

int net_rx_check(uint8_t *frame, size_t len, uint64_t features, char *why, size_t why_size)
{
	struct virtio_net_hdr_v1 h;

	if (len < NET_HDR_LEN + ETH_HDR_LEN)
		return INVALID("runt frame of %zu bytes", len);
	if (len > NET_HDR_LEN + NET_FRAME_MAX)
		return INVALID("frame of %zu bytes is larger than %d", len - NET_HDR_LEN,
			       NET_FRAME_MAX);
	memcpy(&h, frame, sizeof(h));
	/* Offloads set up for an earlier driver can linger on frames queued before. */
	if (!(features & F(VIRTIO_NET_F_GUEST_CSUM))) {
		if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			return INVALID("partial checksum, which the driver did not accept");
		h.flags = 0;
	}
	if (!gso_allowed(h.gso_type, features, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6,
			 VIRTIO_NET_F_GUEST_ECN))
		return INVALID("GSO type %#x, which the driver did not accept", h.gso_type);
	h.flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
	h.num_buffers = htole16(1);
	memcpy(frame, &h, sizeof(h));
	return 0;
}

/* Finds where bytes 10 and 11 (num_buffers) of the first buffer live. */
static void find_num_buffers(struct net_rx *rx, const struct virtq_elem *e)
{
	size_t off = offsetof(struct virtio_net_hdr_v1, num_buffers);
	unsigned int i, k = 0;

	for (i = 0; i < e->in_num && k < 2; i++) {
		const struct iovec *v = &e->iov[e->out_num + i];

		while (k < 2 && off < v->iov_len)
			rx->num_buffers[k++] = (uint8_t *)v->iov_base + off++;
		off -= v->iov_len;
	}
}

int net_rx_place(struct net_rx *rx, struct virtq *q, bool mergeable, char *why, size_t why_size)
{
	struct virtq_elem *e = &rx->elem;
	unsigned int i;

	while (rx->placed < rx->len) {
		size_t n;
		int r = virtq_pop(q, e, why, why_size);

		if (r <= 0)
			return r < 0 ? r : -EAGAIN;
		if (e->out_num)
			return INVALID("receive buffer %u has device-readable descriptors",
				       e->head);
		if (e->in_len < NET_HDR_LEN) {
			/* Only the mergeable layout promises every buffer holds a header. */
			if (mergeable)
				return INVALID("receive buffer %u of %llu bytes, less than the "
					       "%u-byte header",
					       e->head, (unsigned long long)e->in_len, NET_HDR_LEN);
			virtq_push(q, e->head, 0);
			return 1;
		}
		if (rx->placed == 0)
			find_num_buffers(rx, e);
		n = iov_from_buf(&e->iov[e->out_num], e->in_num, 0, rx->frame + rx->placed,
				 rx->len - rx->placed);
		if (!mergeable && n < rx->len) {
			/* Returned empty, which the driver counts as a length error. */
			virtq_push(q, e->head, 0);
			return 1;
		}
		rx->placed += n;
		rx->used[rx->nused++] = (struct vring_used_elem){ e->head, (uint32_t)n };
		if (rx->placed < rx->len && rx->nused >= q->size) {
			for (i = 0; i < rx->nused; i++)
				rx->used[i].len = 0;
			virtq_push_many(q, rx->used, rx->nused);
			return 1;
		}
	}
	*rx->num_buffers[0] = (uint8_t)rx->nused;
	*rx->num_buffers[1] = (uint8_t)(rx->nused >> 8);
	virtq_push_many(q, rx->used, rx->nused);
	return 0;
}

int net_tx_check(const struct virtio_net_hdr_v1 *h, uint64_t frame_len, uint64_t features,
		 char *why, size_t why_size)
{
	uint16_t hdr_len = le16toh(h->hdr_len), gso_size = le16toh(h->gso_size);
	uint16_t csum_start = le16toh(h->csum_start), csum_offset = le16toh(h->csum_offset);

	if (frame_len < ETH_HDR_LEN)
		return INVALID("frame of %llu bytes, shorter than an Ethernet header",
			       (unsigned long long)frame_len);
	if (frame_len > NET_FRAME_MAX)
		return INVALID("frame of %llu bytes, larger than %d", (unsigned long long)frame_len,
			       NET_FRAME_MAX);
	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return INVALID("header flags %#x", h->flags);
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!(features & F(VIRTIO_NET_F_CSUM)))
			return INVALID("partial checksum without VIRTIO_NET_F_CSUM");
		if ((uint64_t)csum_start + csum_offset + 2 > frame_len)
			return INVALID("checksum at %u+%u beyond the %llu-byte frame", csum_start,
				       csum_offset, (unsigned long long)frame_len);
	}
	if (!gso_allowed(h->gso_type, features, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6,
			 VIRTIO_NET_F_HOST_ECN))
		return INVALID("GSO type %#x not negotiated", h->gso_type);
	if (h->gso_type != VIRTIO_NET_HDR_GSO_NONE &&
	    (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || !gso_size || gso_size > frame_len))
		return INVALID("GSO without a partial checksum or with segment size %u", gso_size);
	if (hdr_len > frame_len)
		return INVALID("header length %u beyond the %llu-byte frame", hdr_len,
			       (unsigned long long)frame_len);
	return 0;
}

/* net_tx_send(), counted in own too (NULL: the kind's only). */
static int tx_send(int fd, const struct virtq_elem *e, uint64_t features, struct net_metrics *own,
		   char *why, size_t why_size)
{
	struct virtio_net_hdr_v1 h;
	struct iovec iov[IOV_MAX];
	size_t skip = NET_HDR_LEN;
	unsigned int i, n = 1;
	ssize_t r;

	struct timespec start;

	if (e->out_len < NET_HDR_LEN) {
		snprintf(why, why_size, "chain of %llu bytes, shorter than the %u-byte header",
			 (unsigned long long)e->out_len, NET_HDR_LEN);
		NET_INC(own, tx_malformed_frames);
		return 1;
	}
	/* A private copy: the guest may rewrite the header after it was checked. */
	iov_to_buf(e->iov, e->out_num, 0, &h, sizeof(h));
	if (net_tx_check(&h, e->out_len - NET_HDR_LEN, features, why, why_size)) {
		NET_INC(own, tx_malformed_frames);
		return 1;
	}
	/* The TAP reads num_buffers' bytes as part of its 12-byte header; zero them. */
	h.num_buffers = 0;
	iov[0] = (struct iovec){ &h, sizeof(h) };
	for (i = 0; i < e->out_num; i++) {
		struct iovec v = e->iov[i];

		if (skip >= v.iov_len) {
			skip -= v.iov_len;
			continue;
		}
		if (n == IOV_MAX) {
			snprintf(why, why_size, "frame in more than %d pieces", IOV_MAX - 1);
			NET_INC(own, tx_malformed_frames);
			return 1;
		}
		v.iov_base = (char *)v.iov_base + skip;
		v.iov_len -= skip;
		skip = 0;
		iov[n++] = v;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	do
		r = writev(fd, iov, (int)n);
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -EAGAIN; /* not a write: timed when the TAP takes it */
	NET_AGG(own, tap_write_agg, metrics_us_since(&start));
	if (r < 0) {
		snprintf(why, why_size, "the TAP refused it: %s", strerror(errno));
		NET_INC(own, tap_write_fails);
		return 1;
	}
	NET_INC(own, tx_count);
	return 0;
}

int net_tx_send(int fd, const struct virtq_elem *e, uint64_t features, char *why, size_t why_size)
{
	return tx_send(fd, e, features, NULL, why, why_size);
}

/* --- the device -------------------------------------------------------------- */

static void count_drop(struct virtio_net *x, bool rx, const char *why)
{
	uint64_t *n = rx ? &x->rx_drops : &x->tx_drops;

	(*n)++;
	if (rx)
		NET_INC(&x->m, rx_fails);
	else
		NET_INC(&x->m, tx_fails);
	if (x->drops_logged >= DROPS_LOGGED)
		return;
	x->drops_logged++;
	pr_warn("virtio-net %s: dropped a frame %s the guest: %s%s", x->cfg.tap, rx ? "to" : "from",
		why, x->drops_logged == DROPS_LOGGED ? " (further drops are not logged)" : "");
}

/* Points the event loop at what the device waits for on the TAP now. */
static void update_poll(struct virtio_net *x)
{
	uint32_t want = 0;
	bool live = x->active && !x->dev.failed && !x->tap_dead;

	if (live && !x->rx_wait && !x->rx_throttled && x->dev.vq[RXQ].ready)
		want |= EPOLLIN;
	if (live && x->tx_pending)
		want |= EPOLLOUT;
	if (!x->tap_polled || want == x->tap_events)
		return;
	if (event_loop_mod(x->dev.env.loop, x->tap_fd, want))
		pr_warn("virtio-net %s: cannot change what it waits for", x->cfg.tap);
	else
		x->tap_events = want;
}

static void tap_gone(struct virtio_net *x, const char *what)
{
	struct virtio_net_config *cfg = (struct virtio_net_config *)x->dev.config;

	if (x->tap_dead)
		return;
	pr_warn("virtio-net %s: %s; the guest's link goes down", x->cfg.tap, what);
	NET_INC(&x->m, tap_read_fails);
	x->tap_dead = true;
	/* Errors are reported however little is asked for: only removal stops them. */
	if (x->tap_polled && !event_loop_del(x->dev.env.loop, x->tap_fd))
		x->tap_polled = false;
	cfg->status = 0;
	if (x->dev.status & VIRTIO_CONFIG_S_DRIVER_OK)
		virtio_config_changed(&x->dev);
}

/* Reads the next frame from the TAP into rx; 1 when one is there, 0 when the
 * TAP has nothing, -1 when it is gone. */
static int rx_read(struct virtio_net *x)
{
	unsigned int dropped = 0;
	char why[160];

	/* A stream of bad frames must not hold the device thread: the fd stays readable. */
	while (dropped++ < BUDGET) {
		ssize_t n = read(x->tap_fd, x->rx_buf, sizeof(x->rx_buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			/* The TAP drops what it could not copy out and carries on. */
			if (errno == EFAULT || errno == EINVAL || errno == EMSGSIZE) {
				count_drop(x, true, strerror(errno));
				continue;
			}
			tap_gone(x, strerror(errno));
			return -1;
		}
		if (net_rx_check(x->rx_buf, (size_t)n, x->dev.driver_features, why, sizeof(why))) {
			count_drop(x, true, why);
			continue;
		}
		x->rx.frame = x->rx_buf;
		x->rx.len = (size_t)n;
		x->rx.placed = 0;
		x->rx.nused = 0;
		return 1;
	}
	return 0;
}

/* Takes the MMDS stack's next frame into rx, behind a zeroed vnet header
 * (no offloads: the stack writes whole checksums). 1 when there is one. */
static int rx_mmds(struct virtio_net *x)
{
	size_t len;

	if (!x->mmds)
		return 0;
	len = mmds_stack_next_frame(x->mmds, x->mmds_rx + NET_HDR_LEN, MMDS_STACK_FRAME_MAX);
	if (!len)
		return 0;
	memset(x->mmds_rx, 0, NET_HDR_LEN);
	x->rx.frame = x->mmds_rx;
	x->rx.len = NET_HDR_LEN + len;
	x->rx.placed = 0;
	x->rx.nused = 0;
	return 1;
}

/* Points the MMDS timer at the stack's next deadline, or at once when
 * frames wait that the last round had no budget for (soon: whether the
 * stack still has frames after rx_process stopped for its budget). */
static void mmds_arm(struct virtio_net *x, bool soon)
{
	struct itimerspec t = { 0 };
	uint64_t at;

	if (!x->mmds)
		return;
	at = soon ? 1 : mmds_stack_deadline(x->mmds);
	if (at == x->mmds_armed)
		return;
	t.it_value.tv_sec = (time_t)(at / 1000000000u);
	t.it_value.tv_nsec = (long)(at % 1000000000u);
	if (timerfd_settime(x->mmds_timer_fd, TFD_TIMER_ABSTIME, &t, NULL))
		pr_warn("virtio-net %s: cannot arm the MMDS timer: %s", x->cfg.tap,
			strerror(errno));
	else
		x->mmds_armed = at;
}

/* Moves frames from the TAP into the guest until either runs dry or the
 * budget is spent. Device thread, d->lock held. */
static void rx_process(struct virtio_net *x)
{
	struct virtio_dev *d = &x->dev;
	struct virtq *q = &d->vq[RXQ];
	bool mergeable = virtio_has_feature(d, VIRTIO_NET_F_MRG_RXBUF);
	unsigned int done = 0;
	char why[160];

	if (!x->active || d->failed || !q->ready)
		goto out;
	x->rx_wait = false;
	virtq_disable_notify(q);
	while (done < BUDGET) {
		int r;

		if (!x->rx.len && !rx_mmds(x) && (x->tap_dead || rx_read(x) <= 0))
			break;
		if (!x->rx_charged) {
			if (!rate_limiter_consume_op(&x->rx_rl, x->rx.len)) {
				/* The frame waits in rx for the limiter's timer. */
				NET_INC(&x->m, rx_rate_limiter_throttled);
				x->rx_throttled = true;
				break;
			}
			x->rx_charged = true;
		}
		r = net_rx_place(&x->rx, q, mergeable, why, sizeof(why));
		if (r == -EAGAIN) {
			/* Wait for buffers, unless some came while we looked. */
			if (virtq_enable_notify(q)) {
				virtq_disable_notify(q);
				continue;
			}
			x->rx_wait = true;
			x->rx_waits++;
			NET_INC(&x->m, no_rx_avail_buffer);
			break;
		}
		if (r < 0) {
			virtio_fail(d, "queue %u: %s", RXQ, why);
			goto out;
		}
		if (r == 1) {
			count_drop(x, true, "it does not fit the guest's receive buffers");
		} else {
			x->rx_frames++;
			NET_INC(&x->m, rx_packets_count);
			NET_INC(&x->m, rx_count);
			NET_ADD(&x->m, rx_bytes_count, x->rx.len - NET_HDR_LEN);
			x->rx_gso += x->rx.frame[offsetof(struct virtio_net_hdr_v1, gso_type)] !=
				     VIRTIO_NET_HDR_GSO_NONE;
		}
		x->rx.len = 0;
		x->rx_charged = false;
		done++;
	}
	if (done)
		virtio_notify_queue(d, RXQ);
	mmds_arm(x, done == BUDGET && x->mmds && mmds_stack_pending(x->mmds));
out:
	update_poll(x);
}

static void count_tx(struct virtio_net *x)
{
	uint8_t gso = VIRTIO_NET_HDR_GSO_NONE;

	iov_to_buf(x->tx_elem.iov, x->tx_elem.out_num, offsetof(struct virtio_net_hdr_v1, gso_type),
		   &gso, 1);
	x->tx_frames++;
	x->tx_gso += gso != VIRTIO_NET_HDR_GSO_NONE;
	NET_INC(&x->m, tx_packets_count);
	if (x->tx_elem.out_len > NET_HDR_LEN)
		NET_ADD(&x->m, tx_bytes_count, x->tx_elem.out_len - NET_HDR_LEN);
}

/* Firecracker's tx_spoofed_mac_count: a frame for the TAP from another
 * source MAC than the guest_mac configured (none configured: a random one
 * the guest may change, nothing counted). */
static void check_source_mac(struct virtio_net *x)
{
	uint8_t src[6];

	if (x->cfg.has_mac &&
	    iov_to_buf(x->tx_elem.iov, x->tx_elem.out_num, NET_HDR_LEN + 6, src, sizeof(src)) ==
		    sizeof(src) &&
	    memcmp(src, x->cfg.mac, sizeof(src)))
		NET_INC(&x->m, tx_spoofed_mac_count);
}

static void tx_complete(struct virtio_net *x, unsigned int *done)
{
	virtq_push(&x->dev.vq[TXQ], x->tx_elem.head, 0);
	if (++*done % BUDGET == 0)
		virtio_notify_queue(&x->dev, TXQ);
}

/* Gives the frame of the chain in tx_elem to the MMDS stack when it is the
 * MMDS's: 0 taken, 1 dropped (a bad vnet header: why), -1 not the MMDS's
 * (for the TAP). A GSO frame is one TCP segment to the stack: it takes it
 * whole, its checksum left unverified as the guest asked. */
static int tx_mmds(struct virtio_net *x, char *why, size_t why_size)
{
	const struct virtq_elem *e = &x->tx_elem;
	uint8_t head[NET_HDR_LEN + MMDS_STACK_PEEK];
	struct virtio_net_hdr_v1 h;
	size_t len, peek;

	if (!x->mmds || e->out_len < NET_HDR_LEN)
		return -1;
	len = e->out_len - NET_HDR_LEN;
	peek = len < MMDS_STACK_PEEK ? len : MMDS_STACK_PEEK;
	iov_to_buf(e->iov, e->out_num, 0, head, NET_HDR_LEN + peek);
	if (!mmds_stack_wants(x->mmds, head + NET_HDR_LEN, peek))
		return -1;
	memcpy(&h, head, sizeof(h));
	if (net_tx_check(&h, len, x->dev.driver_features, why, why_size))
		return 1;
	/* A private copy: the guest may rewrite its buffers meanwhile. */
	iov_to_buf(e->iov, e->out_num, NET_HDR_LEN, x->mmds_tx, len);
	if (!mmds_stack_detour(x->mmds, x->mmds_tx, len, h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return -1; /* cannot be: it wanted the head */
	return 0;
}

/* Sends every chain the driver queued, unless the TAP is full. Device thread,
 * d->lock held. */
static void tx_process(struct virtio_net *x)
{
	struct virtio_dev *d = &x->dev;
	struct virtq *q = &d->vq[TXQ];
	unsigned int done = 0, taken = 0;
	bool mmds = false, retry;
	char why[160];
	int r;

	if (!x->active || d->failed || !q->ready)
		goto out;
	do {
		virtq_disable_notify(q);
		for (;;) {
			retry = x->tx_pending; /* the frame the TAP had no room for */
			if (!retry) {
				r = virtq_pop(q, &x->tx_elem, why, sizeof(why));
				if (r < 0) {
					virtio_fail(d, "queue %u: %s", TXQ, why);
					goto out;
				}
				if (r == 0)
					break;
				if (!rate_limiter_consume_op(&x->tx_rl, x->tx_elem.out_len)) {
					/* Back to the avail ring until the limiter's timer. */
					NET_INC(&x->m, tx_rate_limiter_throttled);
					q->last_avail--;
					goto notify;
				}
				taken++;
				NET_ADD(&x->m, tx_remaining_reqs_count, virtq_avail_pending(q));
			}
			r = tx_mmds(x, why, sizeof(why));
			mmds |= r == 0;
			if (r < 0 && !x->tap_dead && !retry)
				check_source_mac(x);
			/* With the TAP gone, frames vanish as on an unplugged cable. */
			if (r < 0)
				r = x->tap_dead
					    ? 2
					    : tx_send(x->tap_fd, &x->tx_elem, d->driver_features,
						      &x->m, why, sizeof(why));
			if (r == -EAGAIN) {
				x->tx_pending = true;
				goto notify;
			}
			x->tx_pending = false;
			if (r == 1)
				count_drop(x, false, why);
			else if (r == 2)
				x->tx_drops++;
			else
				count_tx(x);
			tx_complete(x, &done);
		}
	} while (virtq_enable_notify(q));
notify:
	if (!taken && !x->tx_pending)
		NET_INC(&x->m, no_tx_avail_buffer);
	if (done)
		virtio_notify_queue(d, TXQ);
	/* The stack's answers go out now (rx_process arms its timer too). */
	if (mmds)
		rx_process(x);
out:
	update_poll(x);
}

static void net_notify(struct virtio_dev *d, unsigned int q)
{
	struct virtio_net *x = d->priv;

	if (q == RXQ) {
		if (!d->early_look)
			NET_INC(&x->m, rx_queue_event_count);
		rx_process(x);
	} else if (q == TXQ) {
		if (!d->early_look)
			NET_INC(&x->m, tx_queue_event_count);
		tx_process(x);
	}
}

static void on_tap(void *ctx, uint32_t events)
{
	struct virtio_net *x = ctx;

	pthread_mutex_lock(&x->dev.lock);
	if (events & EPOLLOUT)
		tx_process(x);
	if (events & EPOLLIN) {
		NET_INC(&x->m, rx_tap_event_count);
		rx_process(x);
	}
	if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN))
		tap_gone(x, "the TAP device was removed");
	pthread_mutex_unlock(&x->dev.lock);
}

/* The limiters' timers (device thread): resume the queue that waits. */
static void on_rx_rl(void *ctx, uint32_t events)
{
	struct virtio_net *x = ctx;

	(void)events;
	NET_INC(&x->m, rx_event_rate_limiter_count);
	pthread_mutex_lock(&x->dev.lock);
	if (!rate_limiter_event(&x->rx_rl)) {
		x->rx_throttled = false;
		rx_process(x);
	}
	pthread_mutex_unlock(&x->dev.lock);
}

static void on_tx_rl(void *ctx, uint32_t events)
{
	struct virtio_net *x = ctx;

	(void)events;
	NET_INC(&x->m, tx_rate_limiter_event_count);
	pthread_mutex_lock(&x->dev.lock);
	if (!rate_limiter_event(&x->tx_rl))
		tx_process(x);
	pthread_mutex_unlock(&x->dev.lock);
}

/* The MMDS timer (device thread): retransmissions due, frames left over. */
static void on_mmds_timer(void *ctx, uint32_t events)
{
	struct virtio_net *x = ctx;
	uint64_t n;

	(void)events;
	pthread_mutex_lock(&x->dev.lock);
	if (read(x->mmds_timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		pr_warn("virtio-net %s: MMDS timer: %s", x->cfg.tap, strerror(errno));
	x->mmds_armed = 0;
	mmds_stack_timer(x->mmds);
	rx_process(x);
	/* rx_process arms nothing when the device is not running. */
	if (!x->mmds_armed)
		mmds_arm(x, false);
	pthread_mutex_unlock(&x->dev.lock);
}

void virtio_net_update_rate_limiters(struct virtio_net *x, const struct rl_config *rx,
				     const struct rl_config *tx)
{
	pthread_mutex_lock(&x->dev.lock);
	if (rx) {
		rate_limiter_update(&x->rx_rl, rx);
		rl_config_merge(&x->cfg.rx_rate_limiter, rx);
	}
	if (tx) {
		rate_limiter_update(&x->tx_rl, tx);
		rl_config_merge(&x->cfg.tx_rate_limiter, tx);
	}
	pthread_mutex_unlock(&x->dev.lock);
}

static int net_activate(struct virtio_dev *d)
{
	struct virtio_net *x = d->priv;
	unsigned int off = net_tun_offloads(d->driver_features) & x->tun_ok;

	if (ioctl(x->tap_fd, TUNSETOFFLOAD, off))
		pr_warn("virtio-net %s: TUNSETOFFLOAD %#x: %s", x->cfg.tap, off, strerror(errno));
	pr_debug("virtio-net %s: driver features %#llx, TAP offloads %#x", x->cfg.tap,
		 (unsigned long long)d->driver_features, off);
	x->active = true;
	x->rx_wait = false;
	if (x->mmds) {
		struct mmds_config mc;

		/* PUT /mmds/config may have come after the device was made. */
		mmds_get_config(x->dev.env.mmds, &mc);
		mmds_stack_set_ipv4(x->mmds, mc.ipv4);
	}
	update_poll(x);
	return 0;
}

static void net_reset(struct virtio_dev *d)
{
	struct virtio_net *x = d->priv;

	/* Whatever was in flight belonged to the queues being torn down. */
	x->active = false;
	x->rx_wait = false;
	x->tx_pending = false;
	x->rx.len = 0;
	x->rx.nused = 0;
	x->rx_charged = false;
	x->rx_throttled = false;
	update_poll(x);
}

static const struct virtio_dev_ops net_ops = {
	.name = "net",
	.device_id = VIRTIO_ID_NET,
	.num_queues = 2,
	.queue_max = QUEUE_SIZE,
	.notify = net_notify,
	.activate = net_activate,
	.reset = net_reset,
	.activate_fails = &net_metrics.activate_fails,
	.cfg_fails = &net_metrics.cfg_fails,
	.event_fails = { &net_metrics.event_fails, &net_metrics.event_fails },
};

/* Why TUNSETIFF refused an existing interface: sysfs has tun_flags only for TUN/TAP ones. */
static const char *not_attachable(const char *name)
{
	char path[64], text[32] = "";
	unsigned long flags;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/tun_flags", name);
	f = fopen(path, "re");
	if (!f)
		return "exists but is not a TAP device";
	if (!fgets(text, sizeof(text), f))
		text[0] = '\0';
	fclose(f);
	flags = strtoul(text, NULL, 16);
	if (flags & IFF_TUN)
		return "is a TUN device (layer 3), not a TAP";
	if (flags & IFF_MULTI_QUEUE)
		return "is a multi-queue TAP, which volt does not drive";
	return "refused to attach (Invalid argument)";
}

int virtio_net_tap_probe(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr))
		err = -errno;
	close(fd);
	return err;
}

static int open_tap(struct virtio_net *x)
{
	const char *name = x->cfg.tap;
	struct ifreq ifr = { 0 };
	unsigned int features = 0;
	bool existed = if_nametoindex(name) != 0;
	int hdr = NET_HDR_LEN, err;

	x->tap_fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (x->tap_fd < 0) {
		err = -errno;
		pr_err("tap '%s': cannot open /dev/net/tun: %s%s", name, strerror(errno),
		       errno == ENOENT	 ? " (is the tun module loaded?)"
		       : errno == EACCES ? " (volt needs read-write access to it)"
					 : "");
		return err;
	}
	if (ioctl(x->tap_fd, TUNGETFEATURES, &features) == 0 && !(features & IFF_VNET_HDR)) {
		pr_err("tap '%s': this kernel's TAP devices have no virtio-net headers", name);
		return -EOPNOTSUPP;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(x->tap_fd, TUNSETIFF, &ifr)) {
		err = -errno;
		if (errno == EINVAL && existed)
			pr_err("tap '%s': '%s' %s", name, name, not_attachable(name));
		else if (errno == EPERM && existed)
			pr_err("tap '%s': not allowed to attach to '%s' (it belongs to another "
			       "user or group; or run with CAP_NET_ADMIN)",
			       name, name);
		else if (errno == EPERM)
			pr_err("tap '%s': there is no such interface and creating a TAP needs "
			       "CAP_NET_ADMIN (create it with 'ip tuntap add dev %s mode tap user "
			       "USER')",
			       name, name);
		else if (errno == EBUSY)
			pr_err("tap '%s': '%s' is busy (another process has it open)", name, name);
		else
			pr_err("tap '%s': cannot attach to the TAP: %s", name, strerror(errno));
		return err;
	}
	if (!existed)
		pr_info("tap '%s': created the TAP device; it goes away when volt exits", name);
	if (ioctl(x->tap_fd, TUNSETVNETHDRSZ, &hdr)) {
		err = -errno;
		pr_err("tap '%s': cannot set its vnet header size: %s", name, strerror(errno));
		return err;
	}
	/* Offer only the offloads this TAP takes; none until the driver accepts them. */
	x->tun_ok = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	if (ioctl(x->tap_fd, TUNSETOFFLOAD, x->tun_ok)) {
		x->tun_ok = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
		if (ioctl(x->tap_fd, TUNSETOFFLOAD, x->tun_ok)) {
			x->tun_ok = TUN_F_CSUM;
			if (ioctl(x->tap_fd, TUNSETOFFLOAD, x->tun_ok))
				x->tun_ok = 0;
		}
	}
	if (ioctl(x->tap_fd, TUNSETOFFLOAD, 0)) {
		err = -errno;
		pr_err("tap '%s': cannot turn its offloads off: %s", name, strerror(errno));
		return err;
	}
	return 0;
}

static uint64_t offered_features(unsigned int tun_ok, bool mtu)
{
	uint64_t f = F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MRG_RXBUF) |
		     F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) |
		     F(VIRTIO_NET_F_HOST_ECN);

	if (mtu)
		f |= F(VIRTIO_NET_F_MTU);
	if (tun_ok & TUN_F_CSUM)
		f |= F(VIRTIO_NET_F_GUEST_CSUM);
	if (tun_ok & TUN_F_TSO4)
		f |= F(VIRTIO_NET_F_GUEST_TSO4);
	if (tun_ok & TUN_F_TSO6)
		f |= F(VIRTIO_NET_F_GUEST_TSO6);
	if (tun_ok & TUN_F_TSO_ECN)
		f |= F(VIRTIO_NET_F_GUEST_ECN);
	return f;
}

/* The MMDS stack of an interface PUT /mmds/config named. */
static int net_mmds_init(struct virtio_net *x, const struct virtio_env *env)
{
	struct mmds_config mc;
	int err;

	mmds_get_config(env->mmds, &mc);
	x->mmds_rx = malloc(NET_HDR_LEN + MMDS_STACK_FRAME_MAX);
	x->mmds_tx = malloc(NET_FRAME_MAX);
	if (!x->mmds_rx || !x->mmds_tx)
		return -ENOMEM;
	err = mmds_stack_create(&x->mmds, env->mmds, mc.ipv4, mmds_stack_default_mac);
	if (err)
		return err;
	x->mmds_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (x->mmds_timer_fd < 0)
		return -errno;
	err = event_loop_add(env->loop, x->mmds_timer_fd, EPOLLIN, on_mmds_timer, x);
	if (!err)
		x->mmds_polled = true;
	return err;
}

static void net_mmds_destroy(struct virtio_net *x)
{
	if (x->mmds_polled)
		event_loop_del(x->dev.env.loop, x->mmds_timer_fd);
	if (x->mmds_timer_fd >= 0)
		close(x->mmds_timer_fd);
	mmds_stack_destroy(x->mmds);
	free(x->mmds_rx);
	free(x->mmds_tx);
}

static int net_rl_init(struct virtio_net *x, const struct virtio_env *env)
{
	int err = rate_limiter_init(&x->rx_rl, &x->cfg.rx_rate_limiter);

	if (!err)
		err = rate_limiter_init(&x->tx_rl, &x->cfg.tx_rate_limiter);
	if (!err)
		err = event_loop_add(env->loop, x->rx_rl.timer_fd, EPOLLIN, on_rx_rl, x);
	if (!err)
		err = event_loop_add(env->loop, x->tx_rl.timer_fd, EPOLLIN, on_tx_rl, x);
	if (!err)
		x->rl_ready = true;
	return err;
}

int virtio_net_create(struct virtio_net **out, const struct net_config *c,
		      const struct virtio_env *env, uint64_t base, uint32_t irq)
{
	struct virtio_net *x = calloc(1, sizeof(*x));
	struct virtio_net_config *cfg;
	int err;

	_Static_assert(sizeof(*cfg) <= VIRTIO_CONFIG_MAX, "net config too large");
	if (!x)
		return -ENOMEM;
	x->cfg = *c;
	x->tap_fd = -1;
	x->rx_rl.timer_fd = x->tx_rl.timer_fd = -1;
	x->mmds_timer_fd = -1;
	err = open_tap(x);
	if (err)
		goto fail;
	if (!x->cfg.has_mac) {
		if (getrandom(x->cfg.mac, sizeof(x->cfg.mac), 0) != sizeof(x->cfg.mac)) {
			err = -EIO;
			pr_err("tap '%s': no random bytes for a MAC address", c->tap);
			goto fail;
		}
		/* Unicast, locally administered. */
		x->cfg.mac[0] = (uint8_t)((x->cfg.mac[0] & 0xfc) | 0x02);
	}
	err = virtio_mmio_init(&x->dev, &net_ops, x, offered_features(x->tun_ok, x->cfg.has_mtu),
			       env, base, irq);
	if (err) {
		pr_err("tap '%s': cannot plug in the device: %s", c->tap, strerror(-err));
		goto fail;
	}
	x->dev.own_activate_fails = &x->m.activate_fails;
	x->dev.own_cfg_fails = &x->m.cfg_fails;
	x->dev.own_event_fails[RXQ] = x->dev.own_event_fails[TXQ] = &x->m.event_fails;
	cfg = (struct virtio_net_config *)x->dev.config;
	memcpy(cfg->mac, x->cfg.mac, sizeof(cfg->mac));
	cfg->status = htole16(VIRTIO_NET_S_LINK_UP);
	if (x->cfg.has_mtu)
		cfg->mtu = htole16((uint16_t)x->cfg.mtu);
	x->dev.config_size = sizeof(*cfg);
	err = event_loop_add(env->loop, x->tap_fd, 0, on_tap, x);
	if (err) {
		pr_err("tap '%s': cannot watch the TAP: %s", c->tap, strerror(-err));
		goto fail;
	}
	x->tap_polled = true;
	err = net_rl_init(x, env);
	if (err) {
		pr_err("tap '%s': cannot make its rate limiters: %s", c->tap, strerror(-err));
		goto fail;
	}
	if (c->mmds && env->mmds) {
		err = net_mmds_init(x, env);
		if (err) {
			pr_err("tap '%s': cannot make its MMDS stack: %s", c->tap, strerror(-err));
			goto fail;
		}
	}
	pr_debug("tap '%s': mac %02x:%02x:%02x:%02x:%02x:%02x", c->tap, x->cfg.mac[0],
		 x->cfg.mac[1], x->cfg.mac[2], x->cfg.mac[3], x->cfg.mac[4], x->cfg.mac[5]);
	*out = x;
	return 0;
fail:
	net_mmds_destroy(x);
	if (x->tap_fd >= 0)
		close(x->tap_fd);
	rate_limiter_destroy(&x->rx_rl);
	rate_limiter_destroy(&x->tx_rl);
	free(x);
	return err;
}

void virtio_net_destroy(struct virtio_net *x)
{
	if (!x)
		return;
	metrics_own_remove(&x->m_own);
	/* The event loop is gone by now (vm_destroy tears it down first). */
	if (x->rx_frames || x->tx_frames || x->rx_drops || x->tx_drops)
		pr_info("virtio-net %s: %llu frames to the guest (%llu GSO, %llu dropped, "
			"%llu waits for buffers), %llu from it (%llu GSO, %llu dropped)",
			x->cfg.tap, (unsigned long long)x->rx_frames, (unsigned long long)x->rx_gso,
			(unsigned long long)x->rx_drops, (unsigned long long)x->rx_waits,
			(unsigned long long)x->tx_frames, (unsigned long long)x->tx_gso,
			(unsigned long long)x->tx_drops);
	virtio_mmio_destroy(&x->dev);
	if (x->tap_fd >= 0)
		close(x->tap_fd);
	if (x->rl_ready) {
		event_loop_del(x->dev.env.loop, x->rx_rl.timer_fd);
		event_loop_del(x->dev.env.loop, x->tx_rl.timer_fd);
	}
	rate_limiter_destroy(&x->rx_rl);
	rate_limiter_destroy(&x->tx_rl);
	net_mmds_destroy(x);
	free(x);
}

/* --- snapshots ------------------------------------------------------------- */

int virtio_net_save(struct virtio_net *x, struct snap_writer *w)
{
	struct virtio_dev *d = &x->dev;
	size_t frame_len;
	int err;

	pthread_mutex_lock(&d->lock);
	/* Chains the device holds go back to the driver's rings: the restored
	 * device (and this one, once it runs) takes them again. */
	if (x->rx.len && x->rx.nused)
		virtio_queue_unpop(d, RXQ, (uint16_t)x->rx.nused);
	x->rx.placed = 0;
	x->rx.nused = 0;
	if (x->tx_pending) {
		virtio_queue_unpop(d, TXQ, 1);
		x->tx_pending = false;
		update_poll(x);
	}
	frame_len = x->rx.len;
	pthread_mutex_unlock(&d->lock);
	err = virtio_mmio_save(d, w);
	/* The frame read from the TAP and not delivered yet: the guest gets it. */
	if (!err && frame_len)
		err = snap_put(w, "rx_frame", x->rx.frame, frame_len);
	return err;
}

int virtio_net_restore(struct virtio_net *x, struct snap_reader *r)
{
	struct virtio_net_config *cfg = (struct virtio_net_config *)x->dev.config;
	struct virtio_dev *d = &x->dev;
	size_t len = 0;
	char why[160];
	int err = virtio_mmio_restore(d, r);

	if (err)
		return err;
	pthread_mutex_lock(&d->lock);
	/* The guest keeps the MAC it has; the TAP is a new one, and up. */
	memcpy(x->cfg.mac, cfg->mac, sizeof(x->cfg.mac));
	if (cfg->status != htole16(VIRTIO_NET_S_LINK_UP)) {
		cfg->status = htole16(VIRTIO_NET_S_LINK_UP);
		if (d->status & VIRTIO_CONFIG_S_DRIVER_OK)
			virtio_config_changed(d);
	}
	if (snap_has(r, "rx_frame")) {
		err = snap_get_var(r, "rx_frame", x->rx_buf, sizeof(x->rx_buf), &len);
		if (!err && (!x->active || d->failed)) {
			pr_err("restore %s: a received frame for a device the driver does not run",
			       r->scope);
			err = -EINVAL;
		}
		if (!err && net_rx_check(x->rx_buf, len, d->driver_features, why, sizeof(why))) {
			pr_err("restore %s: rx_frame: %s", r->scope, why);
			err = -EINVAL;
		}
		if (!err) {
			x->rx.frame = x->rx_buf;
			x->rx.len = len;
			x->rx.placed = 0;
			x->rx.nused = 0;
		}
	}
	pthread_mutex_unlock(&d->lock);
	return err;
}

/* --- the device kind ------------------------------------------------------- */

/* The interface's own section, "net_<iface_id>", from now until
 * virtio_net_destroy(). An interface without an API id (--net) has none,
 * nor has one past the line's limits: the kind's section counts it all the
 * same, and metrics never fail an interface. */
static void net_metrics_register(struct virtio_net *x, const char *iface_id)
{
	const char *id = id_str(iface_id);
	int err;

	if (id[0] && (err = metrics_own_add(&x->m_own, "net_", id, &net_metrics_section, &x->m)))
		pr_warn("tap '%s': no metrics section net_%s: %s", x->cfg.tap, id, strerror(-err));
}

static int net_create(void **dev, const void *cfg, const struct device_env *env)
{
	struct virtio_net *n = NULL;
	int err = virtio_net_create(&n, cfg, env->venv, env->base, env->irq);

	if (!err)
		net_metrics_register(n, env->id);
	*dev = n;
	return err;
}

static void net_destroy(void *dev)
{
	virtio_net_destroy(dev);
}

static int net_save(void *dev, struct snap_writer *w)
{
	return virtio_net_save(dev, w);
}

static int net_restore(void *dev, struct snap_reader *r)
{
	return virtio_net_restore(dev, r);
}

/* --- the Firecracker API's words for an interface ---------------------------- */

/* The API's interfaces are told apart by id: each has its own TAP and MAC. */
static int net_api_conflict(const void *cfg, const void *keys, const void *other,
			    const void *other_keys, const char *other_id, char *why,
			    size_t why_size)
{
	const struct net_config *n = cfg, *o = other;

	(void)keys;
	(void)other_keys;
	/* A ',' would end the name in a CLI spec (the jailer passes it on as one). */
	if (!o && strchr(n->tap, ','))
		return INVALID("network-interface: host_dev_name: '%s' is not an interface name",
			       n->tap);
	if (!o)
		return 0;
	if (!strcmp(o->tap, n->tap))
		return INVALID("network-interface: host_dev_name: '%s' is already used by '%s'",
			       n->tap, other_id);
	if (n->has_mac && o->has_mac && !memcmp(n->mac, o->mac, 6))
		return INVALID("network-interface: guest_mac: "
			       "%02x:%02x:%02x:%02x:%02x:%02x is already used by '%s'",
			       n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5],
			       other_id);
	return 0;
}

/* NetworkInterfaceConfig's declaration order, which serde writes. */
static const char *const net_api_get[] = { "iface_id",	      "host_dev_name",	 "guest_mac", "mtu",
					   "rx_rate_limiter", "tx_rate_limiter", NULL };

_Static_assert(sizeof(struct net_config) <= DEVICE_CONFIG_MAX, "DEVICE_CONFIG_MAX");

const struct device_kind virtio_net_kind = {
	.name = "net",
	.option = "net",
	/* Rate limits per direction, as --drive's bw= and ops= (frames for ops). */
	.usage = "tap=NAME[,mac=MAC][,mtu=N][,rx_bw=BYTES/MS[+BURST]][,rx_ops=N/MS[+BURST]]"
		 "[,tx_bw=BYTES/MS[+BURST]][,tx_ops=N/MS[+BURST]]",
	.api_path = "network-interfaces",
	.config_key = "network-interfaces",
	.metrics = &net_metrics_section,
	.max = DEVICE_MAX_VIRTIO,
	.too_many = "at most " DEVICE_STR(DEVICE_MAX_VIRTIO) " network interfaces",
	.fields = &net_fields,
	.create = net_create,
	.destroy = net_destroy,
	.save = net_save,
	.restore = net_restore,
	.api = { .rank = 110,
		 .id_key = "iface_id",
		 .conflict = net_api_conflict,
		 .get = net_api_get,
		 .plural = "interfaces" },
};
