/* virtio-vsock with Firecracker's host side, the device part (after
 * Firecracker's device.rs): the three queues, the configuration space and
 * the --vsock configuration. The guest's TX packets go to the Unix-socket
 * muxer (vsock_unix.h), which owns the connections (vsock_csm.h) and fills
 * the guest's RX buffers; the event queue holds buffers for transport
 * resets, which a restored device sends (connections do not survive a
 * snapshot). All muxer state lives under d->lock and is touched only on the
 * device thread, or by the transport's reset on a vCPU thread. */
#include "devices/virtio/virtio_vsock.h"

#include "core/metrics.h"
#include "core/snap.h"
#include "devices/device_kind.h"
#include "devices/virtio/vsock_csm.h"
#include "devices/virtio/vsock_proto.h"
#include "devices/virtio/vsock_unix.h"
#include "util/log.h"
#include "util/parse.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_vsock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

/* Bumped here and by vsock_csm.c and vsock_unix.c. */
struct vsock_metrics vsock_metrics;

static const struct metric_field vsock_metrics_fields[] = {
	METRIC_DELTA(struct vsock_metrics, rx_packets_count),
	METRIC_DELTA(struct vsock_metrics, rx_bytes_count),
	METRIC_DELTA(struct vsock_metrics, tx_packets_count),
	METRIC_DELTA(struct vsock_metrics, tx_bytes_count),
	METRIC_DELTA(struct vsock_metrics, conns_added),
	METRIC_DELTA(struct vsock_metrics, conns_removed),
	METRIC_DELTA(struct vsock_metrics, rx_queue_event_count),
	METRIC_DELTA(struct vsock_metrics, tx_queue_event_count),
	METRIC_DELTA(struct vsock_metrics, activate_fails),
	METRIC_DELTA(struct vsock_metrics, cfg_fails),
	METRIC_DELTA(struct vsock_metrics, rx_queue_event_fails),
	METRIC_DELTA(struct vsock_metrics, tx_queue_event_fails),
	METRIC_DELTA(struct vsock_metrics, ev_queue_event_fails),
	METRIC_DELTA(struct vsock_metrics, muxer_event_fails),
	METRIC_DELTA(struct vsock_metrics, conn_event_fails),
	METRIC_DELTA(struct vsock_metrics, conns_killed),
	METRIC_DELTA(struct vsock_metrics, killq_resync),
	METRIC_DELTA(struct vsock_metrics, tx_flush_fails),
	METRIC_DELTA(struct vsock_metrics, tx_write_fails),
	METRIC_DELTA(struct vsock_metrics, rx_read_fails),
};

/* A counter in the struct but not in the table would never be written. */
_Static_assert(sizeof(vsock_metrics_fields) / sizeof(vsock_metrics_fields[0]) * sizeof(metric_t) ==
		       sizeof(struct vsock_metrics),
	       "every counter needs a line in the table");

/* The "vsock" section of the metrics line, for the device table; the
 * counters are aggregated over every device of the kind. */
static const struct metrics_section vsock_metrics_section = {
	.name = "vsock",
	.base = &vsock_metrics,
	.fields = vsock_metrics_fields,
	.n = sizeof(vsock_metrics_fields) / sizeof(vsock_metrics_fields[0]),
};

#define RXQ 0
#define TXQ 1
#define EVQ 2

#define QUEUE_SIZE	256
#define PORT_SUFFIX_MAX 11 /* "_4294967295" */
#define HDR_SIZE	sizeof(struct virtio_vsock_hdr)

struct virtio_vsock {
	struct virtio_dev dev;
	struct vsock_config cfg;
	struct vsock_mux mux;
	bool loop_added;
	bool rx_stashed; /* rx_elem was popped and waits for a packet */
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

static int cid_rule(const char *unused, uint64_t cid, char *why, size_t why_size)
{
	(void)unused;
	return vsock_cid_check(cid, why, why_size);
}

/* The path must leave room for "_<port>" in a sockaddr_un. */
static int uds_rule(const char *path, uint64_t unused, char *why, size_t why_size)
{
	size_t max = sizeof(((struct vsock_config *)0)->uds) - 1 - PORT_SUFFIX_MAX;

	(void)unused;
	if (strlen(path) <= max)
		return 0;
	snprintf(why, why_size,
		 "uds path is %zu bytes long; at most %zu fit in a unix socket address with a "
		 "_PORT suffix",
		 strlen(path), max);
	return -EINVAL;
}

static const struct field vsock_field_list[] = {
	{ .cli = "cid",
	  .json = "guest_cid",
	  .type = FIELD_U32,
	  .offset = offsetof(struct vsock_config, cid),
	  .has = FIELD_NO_HAS,
	  .max = UINT64_MAX,
	  .cli_max = UINT32_MAX,
	  .required = true,
	  .missing = "no cid=N (the guest's CID, 3 or more)",
	  .bad = "cid '{}' is not a number up to 4294967294",
	  .check = cid_rule,
	  .check_prefix = "cid " },
	{ .cli = "uds",
	  .json = "uds_path",
	  .type = FIELD_PATH,
	  .offset = offsetof(struct vsock_config, uds),
	  .has = FIELD_NO_HAS,
	  .size = sizeof(((struct vsock_config *)0)->uds),
	  .required = true,
	  .access = FIELD_ACCESS_SOCKET_CREATE,
	  .missing = "no uds=PATH (the host socket)",
	  .empty = "uds= needs a socket path",
	  .check = uds_rule },
};

const struct field_set vsock_fields = {
	.name = "vsock",
	.fields = vsock_field_list,
	.n = sizeof(vsock_field_list) / sizeof(vsock_field_list[0]),
	.size = sizeof(struct vsock_config),
	.unknown = "unknown or malformed option '{}'",
};

static bool dev_live(struct virtio_vsock *v)
{
	struct virtio_dev *d = &v->dev;

	return (d->status & VIRTIO_CONFIG_S_DRIVER_OK) && !d->failed && d->vq[RXQ].ready &&
	       d->vq[TXQ].ready;
}

static uint32_t tx_packet(void *ctx, struct virtq_elem *e)
{
	struct virtio_vsock *v = ctx;
	struct virtio_vsock_hdr h;

	if (e->out_len < HDR_SIZE) {
		vsock_mux_warn_guest(&v->mux, "dropped a TX buffer",
				     "shorter than a packet header");
		return 0;
	}
	METRIC_INC(vsock_metrics.tx_packets_count);
	iov_to_buf(e->iov, e->out_num, 0, &h, HDR_SIZE);
	vsock_mux_send_pkt(&v->mux, &h, e->iov, e->out_num, e->out_len - HDR_SIZE);
	return 0;
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
	while (vsock_mux_has_pkt(&v->mux)) {
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
		len = vsock_mux_recv_pkt(&v->mux, &v->rx_elem);
		if (!len)
			break;
		virtq_push(q, v->rx_elem.head, len);
		METRIC_INC(vsock_metrics.rx_packets_count);
		v->rx_stashed = false;
		pushed = true;
	}
	if (pushed)
		virtio_notify_queue(d, RXQ);
}

/* Work every entry point ends with. */
static void settle(struct virtio_vsock *v)
{
	if (v->dev.failed)
		vsock_mux_kill_all(&v->mux); /* no guest to talk to until it resets the device */
	else
		rx_pump(v);
	vsock_mux_settle(&v->mux);
}

static void on_host_events(void *ctx, uint32_t events)
{
	struct virtio_vsock *v = ctx;

	(void)events;
	pthread_mutex_lock(&v->dev.lock);
	vsock_mux_process(&v->mux);
	settle(v);
	pthread_mutex_unlock(&v->dev.lock);
}

static void vsock_notify(struct virtio_dev *d, unsigned int q)
{
	struct virtio_vsock *v = d->priv;

	/* The event queue only holds buffers for transport resets (restores). */
	if (q == TXQ)
		METRIC_INC(vsock_metrics.tx_queue_event_count);
	else if (q == RXQ)
		METRIC_INC(vsock_metrics.rx_queue_event_count);
	if (q == TXQ)
		virtio_serve_queue(d, TXQ, &v->tx_elem, tx_packet, v);
	if (q == TXQ || q == RXQ)
		settle(v);
}

static void vsock_reset(struct virtio_dev *d)
{
	struct virtio_vsock *v = d->priv;

	/* The guest forgot every connection: close the host ends. */
	vsock_mux_reset(&v->mux);
	v->rx_stashed = false;
	vsock_mux_settle(&v->mux);
}

static const struct virtio_dev_ops vsock_ops = {
	.name = "vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.num_queues = 3,
	.queue_max = QUEUE_SIZE,
	.notify = vsock_notify,
	.reset = vsock_reset,
	.activate_fails = &vsock_metrics.activate_fails,
	.cfg_fails = &vsock_metrics.cfg_fails,
	.event_fails = { &vsock_metrics.rx_queue_event_fails, &vsock_metrics.tx_queue_event_fails,
			 &vsock_metrics.ev_queue_event_fails },
};

int virtio_vsock_create(struct virtio_vsock **out, const struct vsock_config *c,
			const struct virtio_env *env, uint64_t base, uint32_t irq)
{
	struct virtio_vsock *v = calloc(1, sizeof(*v));
	struct virtio_vsock_config *cfg;
	int err;

	if (!v)
		return -ENOMEM;
	v->cfg = *c;
	vsock_mux_init(&v->mux, c->cid, c->uds);
	err = virtio_mmio_init(&v->dev, &vsock_ops, v, 0, env, base, irq);
	if (err) {
		pr_err("cannot plug in virtio-vsock: %s", strerror(-err));
		goto fail;
	}
	cfg = (struct virtio_vsock_config *)v->dev.config;
	cfg->guest_cid = htole64(c->cid);
	v->dev.config_size = sizeof(*cfg);
	err = vsock_mux_open(&v->mux);
	if (err)
		goto fail;
	err = event_loop_add(env->loop, vsock_mux_fd(&v->mux), EPOLLIN, on_host_events, v);
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
	if (!v)
		return;
	if (v->loop_added)
		event_loop_del(v->dev.env.loop, vsock_mux_fd(&v->mux));
	vsock_mux_close(&v->mux);
	virtio_mmio_destroy(&v->dev);
	free(v);
}

/* --- snapshots ------------------------------------------------------------- */

/* 2: next_port (Firecracker's local_port_last + 1); a version 1 record
 * (reserved: 0) restores with ports from the first again. */
#define VSOCK_STATE_VERSION 2

struct vsock_state_rec {
	uint32_t version;
	uint32_t next_port;
	uint64_t guest_cid;
} __attribute__((packed));

_Static_assert(sizeof(struct vsock_state_rec) == 16, "fixed record size");

int virtio_vsock_save(struct virtio_vsock *v, struct snap_writer *w)
{
	struct vsock_state_rec st = { .version = VSOCK_STATE_VERSION, .guest_cid = v->cfg.cid };
	int err;

	pthread_mutex_lock(&v->dev.lock);
	/* A buffer waiting for a packet goes back to the ring. */
	if (v->rx_stashed) {
		virtio_queue_unpop(&v->dev, RXQ, 1);
		v->rx_stashed = false;
	}
	st.next_port = vsock_mux_next_port(&v->mux);
	pthread_mutex_unlock(&v->dev.lock);
	err = virtio_mmio_save(&v->dev, w);
	return err ? err : snap_put(w, "vsock", &st, sizeof(st));
}

/* Tells the driver its connections are gone (the one event virtio-vsock
 * defines), in the first buffer of the event queue; none there: the guest finds out as its
 * packets are answered with RST. d->lock held. */
static void send_transport_reset(struct virtio_vsock *v)
{
	struct virtio_vsock_event ev = { .id = htole32(VIRTIO_VSOCK_EVENT_TRANSPORT_RESET) };
	struct virtio_dev *d = &v->dev;
	struct virtq *q = &d->vq[EVQ];
	char why[160];
	int r;

	if (!(d->status & VIRTIO_CONFIG_S_DRIVER_OK) || d->failed || !q->ready)
		return;
	r = virtq_pop(q, &v->rx_elem, why, sizeof(why));
	if (r < 0) {
		virtio_fail(d, "queue %u: %s", EVQ, why);
		return;
	}
	if (r == 0) {
		pr_warn("virtio-vsock: no event buffer for the transport reset after the restore");
		return;
	}
	if (v->rx_elem.in_len < sizeof(ev)) {
		virtio_fail(d, "event buffer of %llu bytes cannot hold an event",
			    (unsigned long long)v->rx_elem.in_len);
		return;
	}
	iov_from_buf(&v->rx_elem.iov[v->rx_elem.out_num], v->rx_elem.in_num, 0, &ev, sizeof(ev));
	virtq_push(q, v->rx_elem.head, sizeof(ev));
	virtio_notify_queue(d, EVQ);
}

int virtio_vsock_restore(struct virtio_vsock *v, struct snap_reader *r)
{
	struct virtio_vsock_config *cfg = (struct virtio_vsock_config *)v->dev.config;
	struct vsock_state_rec st;
	int err = snap_get(r, "vsock", &st, sizeof(st));

	if (err)
		return err;
	if (st.version < 1 || st.version > VSOCK_STATE_VERSION ||
	    (st.version == 1 && st.next_port)) {
		pr_err("restore %s: vsock state version %u (reserved %u), this volt reads 1-%d",
		       r->scope, st.version, st.next_port, VSOCK_STATE_VERSION);
		return -EINVAL;
	}
	if (st.version >= 2 && st.next_port < VSOCK_MUX_PORT_FIRST) {
		pr_err("restore %s: vsock host port %u is below the host's range (2^30 up)",
		       r->scope, st.next_port);
		return -EINVAL;
	}
	if (st.guest_cid != v->cfg.cid) {
		pr_err("restore %s: guest CID %llu, the device created has %u", r->scope,
		       (unsigned long long)st.guest_cid, v->cfg.cid);
		return -EINVAL;
	}
	err = virtio_mmio_restore(&v->dev, r);
	if (err)
		return err;
	pthread_mutex_lock(&v->dev.lock);
	cfg->guest_cid = htole64(v->cfg.cid);
	/* After the transport's restore, which may reset the device. */
	if (st.version >= 2)
		vsock_mux_set_next_port(&v->mux, st.next_port);
	send_transport_reset(v);
	pthread_mutex_unlock(&v->dev.lock);
	return 0;
}

/* --- the device kind ------------------------------------------------------- */

static int vsock_create(void **dev, const void *cfg, const struct device_env *env)
{
	struct virtio_vsock *v = NULL;
	int err = virtio_vsock_create(&v, cfg, env->venv, env->base, env->irq);

	*dev = v;
	return err;
}

static void vsock_destroy(void *dev)
{
	virtio_vsock_destroy(dev);
}

static int vsock_save(void *dev, struct snap_writer *w)
{
	return virtio_vsock_save(dev, w);
}

static int vsock_restore(void *dev, struct snap_reader *r)
{
	return virtio_vsock_restore(dev, r);
}

static int vsock_host_paths(const void *cfg, struct device_path *out, int max)
{
	const struct vsock_config *c = cfg;

	if (max < 1 || !c->uds[0])
		return 0;
	out[0] = (struct device_path){ .what = "vsock socket",
				       .path = c->uds,
				       .access = FIELD_ACCESS_SOCKET_CREATE };
	return 1;
}

_Static_assert(sizeof(struct vsock_config) <= DEVICE_CONFIG_MAX, "DEVICE_CONFIG_MAX");

const struct device_kind virtio_vsock_kind = {
	.name = "vsock",
	.option = "vsock",
	.usage = "cid=N,uds=PATH",
	.api_path = "vsock",
	.config_key = "vsock",
	.metrics = &vsock_metrics_section,
	.max = 1,
	.too_many = "only one vsock device",
	.fields = &vsock_fields,
	.create = vsock_create,
	.destroy = vsock_destroy,
	.host_paths = vsock_host_paths,
	.save = vsock_save,
	.restore = vsock_restore,
	/* vsock_id is deprecated in Firecracker: accepted, and not in GET. */
	.api = { .rank = 120,
		 .id_key = "vsock_id",
		 .get = (const char *const[]){ "guest_cid", "uds_path", NULL } },
};
