#include "devices/virtio/virtio_blk.h"

#include "core/metrics.h"
#include "core/snap.h"
#include "devices/device_kind.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/why.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

struct blk_metrics {
	metric_t queue_event_count; /* notifications of the request queue */
	metric_t read_count;
	metric_t write_count;
	metric_t flush_count;
	metric_t read_bytes;
	metric_t write_bytes;
	metric_t invalid_reqs_count;		/* malformed, unsupported or out of range */
	metric_t execute_fails;			/* the backing file failed a request */
	metric_t rate_limiter_event_count;	/* the rate limiter's timer fired */
	metric_t rate_limiter_throttled_events; /* a request waited for the rate limiter */
	metric_t activate_fails;  /* volt's block has no activate() that can fail: 0 */
	metric_t cfg_fails;	  /* the driver wrote the (read-only) config, or past it */
	metric_t no_avail_buffer; /* a queue notification found no request to serve */
	metric_t event_fails;	  /* reading the queue's kick eventfd failed */
	/* Firecracker counts PATCH /drives taking a new backing file (and never
	 * its fails); volt opens no file once the microVM runs (the API refuses
	 * a new path_on_host), so no running drive is ever updated: 0. */
	metric_t update_count, update_fails;
	/* io_uring's submission ring was full: volt then runs the request
	 * synchronously where Firecracker defers the queue. */
	metric_t io_engine_throttled_events;
	metric_t remaining_reqs_count; /* at each request taken: those still waiting */
	/* A read's or write's execution, microseconds: the system call, or
	 * io_uring's submission to completion. */
	struct metric_agg read_agg, write_agg;
};

static struct blk_metrics blk_metrics;

static const struct metric_field blk_metrics_fields[] = {
	METRIC_DELTA(struct blk_metrics, queue_event_count),
	METRIC_DELTA(struct blk_metrics, read_count),
	METRIC_DELTA(struct blk_metrics, write_count),
	METRIC_DELTA(struct blk_metrics, flush_count),
	METRIC_DELTA(struct blk_metrics, read_bytes),
	METRIC_DELTA(struct blk_metrics, write_bytes),
	METRIC_DELTA(struct blk_metrics, invalid_reqs_count),
	METRIC_DELTA(struct blk_metrics, execute_fails),
	METRIC_DELTA(struct blk_metrics, rate_limiter_event_count),
	METRIC_DELTA(struct blk_metrics, rate_limiter_throttled_events),
	METRIC_DELTA(struct blk_metrics, activate_fails),
	METRIC_DELTA(struct blk_metrics, cfg_fails),
	METRIC_DELTA(struct blk_metrics, no_avail_buffer),
	METRIC_DELTA(struct blk_metrics, event_fails),
	METRIC_DELTA(struct blk_metrics, update_count),
	METRIC_DELTA(struct blk_metrics, update_fails),
	METRIC_DELTA(struct blk_metrics, io_engine_throttled_events),
	METRIC_DELTA(struct blk_metrics, remaining_reqs_count),
	METRIC_AGG(struct blk_metrics, read_agg),
	METRIC_AGG(struct blk_metrics, write_agg),
};

/* A counter in the struct but not in the table would never be written. */
_Static_assert(sizeof(blk_metrics_fields) / sizeof(blk_metrics_fields[0]) * sizeof(metric_t) ==
		       sizeof(struct blk_metrics),
	       "every counter needs a line in the table");

/* The "block" section of the metrics line, for the device table; the
 * counters are aggregated over every device of the kind. */
static const struct metrics_section blk_metrics_section = {
	.name = "block",
	.base = &blk_metrics,
	.fields = blk_metrics_fields,
	.n = sizeof(blk_metrics_fields) / sizeof(blk_metrics_fields[0]),
};

/* A counter of the kind's and the same of the drive's own, own (NULL: a
 * request handled without a device, virtio_blk_handle()). */
#define BLK_ADD(own, field, n)	METRIC_ADD_BOTH(blk_metrics, own, field, n)
#define BLK_INC(own, field)	BLK_ADD(own, field, 1)
#define BLK_AGG(own, field, us) METRIC_AGG_BOTH(blk_metrics, own, field, us)

#define SECTOR		    512ULL
#define QUEUE_SIZE	    256
#define SEG_MAX		    (VIRTQ_MAX_SEGS - 2) /* header and status take one each */
#define MAX_DISCARD_SEG	    32
#define MAX_DISCARD_SECTORS (1U << 22) /* 2 GiB per segment */

/* A read, write or flush that passed validation: what either engine runs. */
struct blk_io {
	uint32_t type;
	uint64_t offset;
	unsigned int niov;
	struct iovec *iov; /* the caller's storage, room for the whole chain */
	uint8_t *status;
	uint32_t used; /* used length once it succeeded */
};

struct virtio_blk {
	struct virtio_dev dev;
	struct blk_config cfg;
	/* GET_ID's answer: the id's first 20 bytes, NUL-padded (the device's
	 * own copy: no id handle is read on the device thread). */
	char serial[VIRTIO_BLK_ID_BYTES];
	int fd;
	uint64_t capacity; /* sectors */
	struct virtq_elem elem;
	/* engine=io_uring */
	bool uring_ready;
	struct io_uring ring;
	int uring_efd;
	uint32_t epoch;		/* bumped by a device reset: completions from before are dropped */
	unsigned int inflight;	/* requests submitted to the ring and not reaped yet */
	struct rate_limiter rl; /* d->lock */
	bool rl_ready;
	unsigned int taken; /* requests served by this notification (no_avail_buffer) */
	/* The drive's own counters, Firecracker's "block_<drive_id>" section
	 * (m_own). */
	struct blk_metrics m;
	struct metrics_own m_own;
};

/* A request in flight in io_uring, with its own copy of the chain's segments. */
struct blk_req {
	struct blk_io io;
	uint16_t head;
	uint32_t epoch;
	struct timespec start; /* submitted (read_agg, write_agg) */
	struct iovec iov[];
};

/* The status byte is the last byte the driver made writable. */
static uint8_t *status_byte(struct virtq_elem *e)
{
	struct iovec *last = &e->iov[e->out_num + e->in_num - 1];

	return (uint8_t *)last->iov_base + last->iov_len - 1;
}

/* The writable data segments: all of the writable part but the status byte. */
static unsigned int data_in(struct virtq_elem *e, struct iovec *iov)
{
	unsigned int n = e->in_num;

	memcpy(iov, &e->iov[e->out_num], n * sizeof(*iov));
	if (--iov[n - 1].iov_len == 0)
		n--;
	return n;
}

/* The readable data segments after the 16-byte request header. */
static unsigned int data_out(struct virtq_elem *e, struct iovec *iov)
{
	size_t skip = sizeof(struct virtio_blk_outhdr);
	unsigned int i, n = 0;

	for (i = 0; i < e->out_num; i++) {
		struct iovec v = e->iov[i];

		if (skip >= v.iov_len) {
			skip -= v.iov_len;
			continue;
		}
		v.iov_base = (char *)v.iov_base + skip;
		v.iov_len -= skip;
		skip = 0;
		iov[n++] = v;
	}
	return n;
}

static uint64_t iov_bytes(const struct iovec *iov, unsigned int n)
{
	uint64_t t = 0;

	while (n--)
		t += iov[n].iov_len;
	return t;
}

static bool in_range(uint64_t sector, uint64_t bytes, uint64_t capacity)
{
	return sector <= capacity && bytes / SECTOR <= capacity - sector && (bytes % SECTOR == 0);
}

/* preadv/pwritev until done: iovecs can exceed IOV_MAX and transfers be short. */
static int rw_all(int fd, struct iovec *iov, unsigned int n, uint64_t off, bool write)
{
	while (n) {
		int cnt = n > 1024 ? 1024 : (int)n;
		ssize_t r = write ? pwritev(fd, iov, cnt, (off_t)off)
				  : preadv(fd, iov, cnt, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		off += (uint64_t)r;
		while (n && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (char *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

/* Where the file system cannot zero a range itself (tmpfs, memfd). */
static int write_zeroes(int fd, uint64_t off, uint64_t len)
{
	static const char zeros[65536];

	while (len) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		ssize_t w = pwrite(fd, zeros, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EIO;
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

static uint8_t discard_or_zero(int fd, uint64_t capacity, const struct blk_config *c,
			       struct virtq_elem *e, bool discard)
{
	struct virtio_blk_discard_write_zeroes seg[MAX_DISCARD_SEG];
	struct iovec iov[VIRTQ_MAX_SEGS];
	unsigned int n = data_out(e, iov), i, count;
	uint64_t bytes = iov_bytes(iov, n);

	if (c->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (bytes == 0 || bytes % sizeof(seg[0]) || bytes / sizeof(seg[0]) > MAX_DISCARD_SEG)
		return VIRTIO_BLK_S_UNSUPP;
	count = (unsigned int)(bytes / sizeof(seg[0]));
	iov_to_buf(iov, n, 0, seg, bytes);
	for (i = 0; i < count; i++) {
		uint64_t sector = seg[i].sector, num = seg[i].num_sectors;
		int mode;

		if (seg[i].flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ||
		    num > MAX_DISCARD_SECTORS || !in_range(sector, num * SECTOR, capacity))
			return VIRTIO_BLK_S_IOERR;
		if (discard && seg[i].flags)
			return VIRTIO_BLK_S_UNSUPP;
		mode = discard || (seg[i].flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
			       ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
			       : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
		if (num && fallocate(fd, mode, (off_t)(sector * SECTOR), (off_t)(num * SECTOR))) {
			/* Discard is a hint; zeroes must be written the slow way. */
			if (errno != EOPNOTSUPP)
				return VIRTIO_BLK_S_IOERR;
			if (!discard && write_zeroes(fd, sector * SECTOR, num * SECTOR))
				return VIRTIO_BLK_S_IOERR;
		}
	}
	return VIRTIO_BLK_S_OK;
}

/* Firecracker's serial: the drive id's first 20 bytes, NUL-padded. */
static void blk_serial(const struct blk_config *c, char serial[VIRTIO_BLK_ID_BYTES])
{
	const char *id = id_str(c->id);

	memset(serial, 0, VIRTIO_BLK_ID_BYTES);
	memcpy(serial, id, strnlen(id, VIRTIO_BLK_ID_BYTES));
}

/* Validates a chain. Returns 1 with io ready when it needs I/O; 0 when it was
 * answered at once (status written, *used set). */
static int blk_prepare(int fd, uint64_t capacity, const struct blk_config *c,
		       const char serial[VIRTIO_BLK_ID_BYTES], struct blk_metrics *own,
		       struct virtq_elem *e, struct blk_io *io, uint32_t *used)
{
	struct virtio_blk_outhdr hdr;

	*used = 1;
	/* No room for a status byte: nothing can be answered. */
	if (!e->in_num || !e->iov[e->out_num + e->in_num - 1].iov_len) {
		*used = 0;
		return 0;
	}
	io->status = status_byte(e);
	if (iov_to_buf(e->iov, e->out_num, 0, &hdr, sizeof(hdr)) != sizeof(hdr)) {
		*io->status = VIRTIO_BLK_S_IOERR;
		return 0;
	}
	io->type = hdr.type;
	io->offset = hdr.sector * SECTOR;
	io->used = 1;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
		io->niov = data_in(e, io->iov);
		if (!in_range(hdr.sector, iov_bytes(io->iov, io->niov), capacity))
			break;
		io->used += (uint32_t)iov_bytes(io->iov, io->niov);
		BLK_INC(own, read_count);
		BLK_ADD(own, read_bytes, io->used - 1);
		return 1;
	case VIRTIO_BLK_T_OUT:
		io->niov = data_out(e, io->iov);
		if (c->read_only || !in_range(hdr.sector, iov_bytes(io->iov, io->niov), capacity))
			break;
		BLK_INC(own, write_count);
		BLK_ADD(own, write_bytes, iov_bytes(io->iov, io->niov));
		return 1;
	case VIRTIO_BLK_T_FLUSH:
		io->niov = 0;
		BLK_INC(own, flush_count);
		if (c->cache == BLK_CACHE_UNSAFE) {
			*io->status = VIRTIO_BLK_S_OK;
			return 0;
		}
		return 1;
	case VIRTIO_BLK_T_GET_ID:
		io->niov = data_in(e, io->iov);
		*used += (uint32_t)iov_from_buf(io->iov, io->niov, 0, serial, VIRTIO_BLK_ID_BYTES);
		*io->status = VIRTIO_BLK_S_OK;
		return 0;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		*io->status = discard_or_zero(fd, capacity, c, e, hdr.type == VIRTIO_BLK_T_DISCARD);
		return 0;
	default:
		BLK_INC(own, invalid_reqs_count);
		*io->status = VIRTIO_BLK_S_UNSUPP;
		return 0;
	}
	BLK_INC(own, invalid_reqs_count);
	*io->status = VIRTIO_BLK_S_IOERR;
	return 0;
}

/* Runs io now; done is what an asynchronous engine already transferred. */
static uint32_t blk_execute(int fd, struct blk_io *io, uint64_t done, struct blk_metrics *own)
{
	uint8_t status = VIRTIO_BLK_S_OK;
	uint64_t offset = io->offset + done;
	struct iovec *iov = io->iov;
	unsigned int n = io->niov;

	while (n && done >= iov->iov_len) { /* skip what is already there */
		done -= iov->iov_len;
		iov++;
		n--;
	}
	if (n && done) {
		iov->iov_base = (char *)iov->iov_base + done;
		iov->iov_len -= done;
	}
	if (io->type == VIRTIO_BLK_T_FLUSH)
		status = fdatasync(fd) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	else if (n && rw_all(fd, iov, n, offset, io->type == VIRTIO_BLK_T_OUT))
		status = VIRTIO_BLK_S_IOERR;
	*io->status = status;
	if (status != VIRTIO_BLK_S_OK)
		BLK_INC(own, execute_fails);
	return status == VIRTIO_BLK_S_OK ? io->used : 1;
}

/* Records how long a read or write took since start in its aggregate. */
static void blk_time(const struct blk_io *io, const struct timespec *start, struct blk_metrics *own)
{
	if (io->type == VIRTIO_BLK_T_IN)
		BLK_AGG(own, read_agg, metrics_us_since(start));
	else if (io->type == VIRTIO_BLK_T_OUT)
		BLK_AGG(own, write_agg, metrics_us_since(start));
}

/* blk_execute(), timed from now. */
static uint32_t blk_execute_timed(int fd, struct blk_io *io, struct blk_metrics *own)
{
	struct timespec start;
	uint32_t used;

	clock_gettime(CLOCK_MONOTONIC, &start);
	used = blk_execute(fd, io, 0, own);
	blk_time(io, &start, own);
	return used;
}

/* One chain at once; serial: GET_ID's answer (blk_serial); own: the
 * drive's counters (NULL: the kind's only). */
static uint32_t blk_handle(int fd, uint64_t capacity, const struct blk_config *c,
			   const char serial[VIRTIO_BLK_ID_BYTES], struct blk_metrics *own,
			   struct virtq_elem *e)
{
	struct iovec iov[VIRTQ_MAX_SEGS];
	struct blk_io io = { .iov = iov };
	uint32_t used;

	if (blk_prepare(fd, capacity, c, serial, own, e, &io, &used))
		used = blk_execute_timed(fd, &io, own);
	return used;
}

uint32_t virtio_blk_handle(int fd, uint64_t capacity, const struct blk_config *c,
			   struct virtq_elem *e)
{
	char serial[VIRTIO_BLK_ID_BYTES];

	blk_serial(c, serial);
	return blk_handle(fd, capacity, c, serial, NULL, e);
}

/* Hands a read, write or flush to io_uring; anything else, or when the ring
 * is full, is answered at once. */
static uint32_t blk_submit(struct virtio_blk *b, struct virtq_elem *e)
{
	struct blk_req *r = malloc(sizeof(*r) + (e->out_num + e->in_num) * sizeof(struct iovec));
	struct io_uring_sqe *sqe;
	uint32_t used;

	if (!r)
		return blk_handle(b->fd, b->capacity, &b->cfg, b->serial, &b->m, e);
	r->io.iov = r->iov;
	if (!blk_prepare(b->fd, b->capacity, &b->cfg, b->serial, &b->m, e, &r->io, &used))
		goto done;
	sqe = io_uring_get_sqe(&b->ring);
	if (!sqe && io_uring_submit(&b->ring) >= 0)
		sqe = io_uring_get_sqe(&b->ring);
	/* readv/writev take at most IOV_MAX segments; rw_all splits longer ones. */
	if (!sqe)
		BLK_INC(&b->m, io_engine_throttled_events);
	if (!sqe || r->io.niov > 1024) {
		used = blk_execute_timed(b->fd, &r->io, &b->m);
		goto done;
	}
	if (r->io.type == VIRTIO_BLK_T_IN)
		io_uring_prep_readv(sqe, b->fd, r->io.iov, r->io.niov, r->io.offset);
	else if (r->io.type == VIRTIO_BLK_T_OUT)
		io_uring_prep_writev(sqe, b->fd, r->io.iov, r->io.niov, r->io.offset);
	else
		io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
	r->head = e->head;
	r->epoch = b->epoch;
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	io_uring_sqe_set_data(sqe, r);
	b->inflight++;
	return VIRTIO_USED_DEFERRED;
done:
	free(r);
	return used;
}

/* Firecracker's Request::rate_limit: an op for every request with a header,
 * and the data bytes of reads and writes. false: the limiter is blocked (and
 * nothing was taken). */
static bool blk_rate_limit(struct virtio_blk *b, struct virtq_elem *e)
{
	struct virtio_blk_outhdr h;
	uint64_t bytes = 0;

	if (!rate_limiter_enabled(&b->rl) && !rate_limiter_is_blocked(&b->rl))
		return true;
	if (iov_to_buf(e->iov, e->out_num, 0, &h, sizeof(h)) < sizeof(h))
		return true; /* malformed: answered without a token, as Firecracker */
	if (h.type == VIRTIO_BLK_T_IN && e->in_len)
		bytes = e->in_len - 1;
	else if (h.type == VIRTIO_BLK_T_OUT)
		bytes = e->out_len - sizeof(h);
	return rate_limiter_consume_op(&b->rl, bytes);
}

static uint32_t blk_request(void *ctx, struct virtq_elem *e)
{
	struct virtio_blk *b = ctx;

	if (!blk_rate_limit(b, e)) {
		BLK_INC(&b->m, rate_limiter_throttled_events);
		return VIRTIO_USED_RETRY;
	}
	b->taken++;
	BLK_ADD(&b->m, remaining_reqs_count, virtq_avail_pending(&b->dev.vq[0]));
	if (b->uring_ready)
		return blk_submit(b, e);
	return blk_handle(b->fd, b->capacity, &b->cfg, b->serial, &b->m, e);
}

static void blk_notify(struct virtio_dev *d, unsigned int q)
{
	struct virtio_blk *b = d->priv;

	if (!d->early_look)
		BLK_INC(&b->m, queue_event_count);
	b->taken = 0;
	virtio_serve_queue(d, q, &b->elem, blk_request, b);
	if (!b->taken && !d->early_look)
		BLK_INC(&b->m, no_avail_buffer);
	if (b->uring_ready)
		io_uring_submit(&b->ring);
}

/* Finishes the requests whose completions are in the ring; returns whether
 * any went to the used ring. d->lock held. */
static bool blk_reap(struct virtio_blk *b)
{
	struct io_uring_cqe *cqe;
	bool pushed = false;

	while (io_uring_peek_cqe(&b->ring, &cqe) == 0) {
		struct blk_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		uint32_t used;

		io_uring_cqe_seen(&b->ring, cqe);
		if (b->inflight)
			b->inflight--;
		if (r->epoch != b->epoch || !b->dev.vq[0].ready) {
			free(r);
			continue;
		}
		/* Errors and short transfers are finished (or confirmed) synchronously. */
		if (res < 0)
			used = blk_execute(b->fd, &r->io, 0, &b->m);
		else if (r->io.type != VIRTIO_BLK_T_FLUSH &&
			 (uint64_t)res < iov_bytes(r->io.iov, r->io.niov))
			used = blk_execute(b->fd, &r->io, (uint64_t)res, &b->m);
		else {
			*r->io.status = VIRTIO_BLK_S_OK;
			used = r->io.used;
		}
		blk_time(&r->io, &r->start, &b->m);
		virtq_push(&b->dev.vq[0], r->head, used);
		pushed = true;
		free(r);
	}
	return pushed;
}

/* io_uring completions (device thread, from the ring's eventfd). */
static void blk_complete(void *ctx, uint32_t events)
{
	struct virtio_blk *b = ctx;
	uint64_t n;

	(void)events;
	if (read(b->uring_efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&b->dev.lock);
	if (blk_reap(b))
		virtio_notify_queue(&b->dev, 0);
	pthread_mutex_unlock(&b->dev.lock);
}

/* The rate limiter's timer (device thread): serve the parked queue again. */
static void blk_rl_event(void *ctx, uint32_t events)
{
	struct virtio_blk *b = ctx;

	(void)events;
	BLK_INC(&b->m, rate_limiter_event_count);
	virtio_rate_limiter_resume(&b->dev, &b->rl, 0);
}

struct virtio_dev *virtio_blk_dev(struct virtio_blk *b)
{
	return &b->dev;
}

void virtio_blk_update_rate_limiter(struct virtio_blk *b, const struct rl_config *c)
{
	pthread_mutex_lock(&b->dev.lock);
	rate_limiter_update(&b->rl, c);
	rl_config_merge(&b->cfg.rate_limiter, c);
	pthread_mutex_unlock(&b->dev.lock);
}

static void blk_reset(struct virtio_dev *d)
{
	struct virtio_blk *b = d->priv;

	b->epoch++;
}

static int uring_init(struct virtio_blk *b, const struct virtio_env *env)
{
	int err = io_uring_queue_init(QUEUE_SIZE, &b->ring, 0);

	if (err)
		return err;
	b->uring_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->uring_efd < 0) {
		err = -errno;
	} else {
		err = io_uring_register_eventfd(&b->ring, b->uring_efd);
		if (!err)
			err = event_loop_add(env->loop, b->uring_efd, EPOLLIN, blk_complete, b);
		if (err)
			close(b->uring_efd);
	}
	if (err)
		io_uring_queue_exit(&b->ring);
	else
		b->uring_ready = true;
	return err;
}

static const struct virtio_dev_ops blk_ops = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = 1,
	.queue_max = QUEUE_SIZE,
	.notify = blk_notify,
	.reset = blk_reset,
	/* Offered to every drive before FLUSH followed the cache type. */
	.restore_features = 1ULL << VIRTIO_BLK_F_FLUSH,
	.activate_fails = &blk_metrics.activate_fails,
	.cfg_fails = &blk_metrics.cfg_fails,
	.event_fails = { &blk_metrics.event_fails },
};

static void fill_config(struct virtio_blk *b)
{
	struct virtio_blk_config *cfg = (struct virtio_blk_config *)b->dev.config;

	_Static_assert(sizeof(*cfg) <= VIRTIO_CONFIG_MAX, "blk config too large");
	memset(cfg, 0, sizeof(*cfg));
	cfg->capacity = b->capacity;
	cfg->seg_max = SEG_MAX;
	cfg->blk_size = 512;
	cfg->max_discard_sectors = MAX_DISCARD_SECTORS;
	cfg->max_discard_seg = MAX_DISCARD_SEG;
	cfg->discard_sector_alignment = 8;
	cfg->max_write_zeroes_sectors = MAX_DISCARD_SECTORS;
	cfg->max_write_zeroes_seg = MAX_DISCARD_SEG;
	cfg->write_zeroes_may_unmap = 1;
	b->dev.config_size = sizeof(*cfg);
}

/* The drive's own section, "block_<drive_id>", from now until
 * virtio_blk_destroy(). A drive without an id (--drive without id=) has
 * none, nor has one past the line's limits: the kind's section counts it
 * all the same, and metrics never fail a drive. */
static void blk_metrics_register(struct virtio_blk *b)
{
	const char *id = id_str(b->cfg.id);
	int err;

	if (id[0] && (err = metrics_own_add(&b->m_own, "block_", id, &blk_metrics_section, &b->m)))
		pr_warn("drive '%s': no metrics section block_%s: %s", b->cfg.path, id,
			strerror(-err));
}

/* Opens a drive's file: open_input, because a FIFO would block the open and
 * a character device (/dev/zero) has no size; only a file or a disk is a
 * drive. Its size in whole sectors goes to *capacity. */
static int blk_open(const char *path, bool read_only, int *fd, uint64_t *capacity, char *why,
		    size_t why_size)
{
	struct stat st;
	uint64_t bytes;
	int ro = 0;
	int err = open_input(path, read_only ? O_RDONLY : O_RDWR, INPUT_FILE | INPUT_BLOCK, fd, &st,
			     why, why_size);

	if (err)
		return err;
	bytes = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(*fd, BLKGETSIZE64, &bytes)) {
		err = -errno;
		snprintf(why, why_size, "cannot get its size: %s", strerror(errno));
		goto fail;
	}
	/* A disk set read-only (losetup -r, a write-protected device) opens
	 * for writing all the same; the guest's every write would then fail. */
	if (S_ISBLK(st.st_mode) && !read_only && !ioctl(*fd, BLKROGET, &ro) && ro) {
		err = -EROFS;
		snprintf(why, why_size,
			 "is a read-only block device: give the drive as read-only (ro, "
			 "is_read_only: true)");
		goto fail;
	}
	*capacity = bytes / SECTOR;
	return 0;
fail:
	close(*fd);
	*fd = -1;
	return err;
}

int virtio_blk_create(struct virtio_blk **out, const struct blk_config *c,
		      const struct virtio_env *env, uint64_t base, uint32_t irq)
{
	uint64_t features = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
			    (1ULL << VIRTIO_BLK_F_DISCARD) | (1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	struct virtio_blk *b = calloc(1, sizeof(*b));
	char why[160];
	int err;

	if (!b)
		return -ENOMEM;
	b->cfg = *c;
	blk_serial(c, b->serial);
	b->fd = -1;
	b->rl.timer_fd = -1;
	err = blk_open(c->path, c->read_only, &b->fd, &b->capacity, why, sizeof(why));
	if (err) {
		pr_err("drive '%s': %s", c->path, why);
		goto fail;
	}
	if (c->read_only)
		features |= 1ULL << VIRTIO_BLK_F_RO;
	/* As Firecracker: only a write-back cache is the guest's to flush; an
	 * unsafe one has none, so the guest sends no FLUSH (block.flush_count
	 * stays 0, which Firecracker's test_no_flush asserts). */
	if (c->cache == BLK_CACHE_WRITEBACK)
		features |= 1ULL << VIRTIO_BLK_F_FLUSH;
	err = virtio_mmio_init(&b->dev, &blk_ops, b, features, env, base, irq);
	if (err) {
		pr_err("drive '%s': cannot plug in the device: %s", c->path, strerror(-err));
		goto fail;
	}
	b->dev.own_activate_fails = &b->m.activate_fails;
	b->dev.own_cfg_fails = &b->m.cfg_fails;
	b->dev.own_event_fails[0] = &b->m.event_fails;
	fill_config(b);
	err = rate_limiter_init(&b->rl, &c->rate_limiter);
	if (!err) {
		b->rl_ready = true;
		err = event_loop_add(env->loop, b->rl.timer_fd, EPOLLIN, blk_rl_event, b);
	}
	if (err) {
		pr_err("drive '%s': cannot make its rate limiter: %s", c->path, strerror(-err));
		virtio_mmio_destroy(&b->dev);
		goto fail;
	}
	if (c->engine == BLK_ENGINE_IO_URING && (err = uring_init(b, env)))
		pr_warn("drive '%s': io_uring is unavailable here (%s): using the sync engine",
			c->path, strerror(-err));
	blk_metrics_register(b);
	*out = b;
	return 0;
fail:
	if (b->rl_ready)
		rate_limiter_destroy(&b->rl);
	if (b->fd >= 0)
		close(b->fd);
	free(b);
	return err;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	if (!b)
		return;
	metrics_own_remove(&b->m_own);
	virtio_mmio_destroy(&b->dev);
	if (b->uring_ready) {
		io_uring_queue_exit(&b->ring);
		close(b->uring_efd);
	}
	if (b->rl_ready) {
		event_loop_del(b->dev.env.loop, b->rl.timer_fd);
		rate_limiter_destroy(&b->rl);
	}
	if (b->fd >= 0)
		close(b->fd);
	free(b);
}

/* --- a new file, snapshots -------------------------------------------------- */

/* Waits for every request in io_uring and hands it to the driver, so that no
 * request is half done: a snapshot holds its data in the file (or in guest
 * memory) and its status in the used ring, and a new file gets no request
 * asked of the old one. d->lock held. */
static int blk_drain(struct virtio_blk *b)
{
	bool pushed = false;
	int err = 0;

	if (!b->uring_ready)
		return 0;
	if (b->inflight)
		io_uring_submit(&b->ring);
	while (b->inflight) {
		struct io_uring_cqe *cqe;

		err = io_uring_wait_cqe(&b->ring, &cqe);
		if (err == -EINTR || err == -EAGAIN)
			continue;
		if (err) {
			pr_err("drive '%s': waiting for %u requests in flight: %s", b->cfg.path,
			       b->inflight, strerror(-err));
			break;
		}
		pushed |= blk_reap(b);
	}
	if (pushed)
		virtio_notify_queue(&b->dev, 0);
	return err;
}

int virtio_blk_update_file(struct virtio_blk *b, const char *path, char *why, size_t why_size)
{
	struct virtio_blk_config *cfg = (struct virtio_blk_config *)b->dev.config;
	uint64_t capacity = 0;
	int fd, err;

	if (strlen(path) >= sizeof(b->cfg.path))
		return why_fail(why, why_size, -ENAMETOOLONG, "%s", strerror(ENAMETOOLONG));
	err = blk_open(path, b->cfg.read_only, &fd, &capacity, why, why_size);
	if (err) {
		BLK_INC(&b->m, update_fails);
		return err;
	}
	pthread_mutex_lock(&b->dev.lock);
	/* What the ring still holds was asked of the old file: finish it there. */
	err = blk_drain(b);
	if (err) {
		pthread_mutex_unlock(&b->dev.lock);
		close(fd);
		BLK_INC(&b->m, update_fails);
		return why_fail(why, why_size, err, "requests in flight on the old file: %s",
				strerror(-err));
	}
	close(b->fd);
	b->fd = fd;
	snprintf(b->cfg.path, sizeof(b->cfg.path), "%s", path);
	b->capacity = capacity;
	cfg->capacity = capacity;
	/* Firecracker tells an activated driver always, whether the size
	 * changed or not: the data under it did. */
	if (b->dev.status & VIRTIO_CONFIG_S_DRIVER_OK)
		virtio_config_changed(&b->dev);
	else
		b->dev.config_generation++;
	pthread_mutex_unlock(&b->dev.lock);
	BLK_INC(&b->m, update_count);
	pr_info("drive '%s': now the file %s, %llu sectors", id_str(b->cfg.id), path,
		(unsigned long long)capacity);
	return 0;
}

int virtio_blk_save(struct virtio_blk *b, struct snap_writer *w)
{
	int err;

	pthread_mutex_lock(&b->dev.lock);
	err = blk_drain(b);
	pthread_mutex_unlock(&b->dev.lock);
	return err ? err : virtio_mmio_save(&b->dev, w);
}

int virtio_blk_restore(struct virtio_blk *b, struct snap_reader *r)
{
	struct virtio_blk_config *cfg = (struct virtio_blk_config *)b->dev.config;
	uint64_t saved;
	int err = virtio_mmio_restore(&b->dev, r);

	if (err)
		return err;
	/* The file is what the drive is now: a resized one says so to the guest. */
	pthread_mutex_lock(&b->dev.lock);
	saved = cfg->capacity;
	if (saved != b->capacity) {
		pr_warn("restore %s: drive '%s' has %llu sectors, the snapshot's had %llu",
			r->scope, b->cfg.path, (unsigned long long)b->capacity,
			(unsigned long long)saved);
		cfg->capacity = b->capacity;
		if (b->dev.status & VIRTIO_CONFIG_S_DRIVER_OK)
			virtio_config_changed(&b->dev);
		else
			b->dev.config_generation++;
	}
	pthread_mutex_unlock(&b->dev.lock);
	return 0;
}

/* --- the device kind ------------------------------------------------------- */

static const struct field_name blk_engines[] = {
	{ "sync", "Sync", BLK_ENGINE_SYNC },
	{ "io_uring", "Async", BLK_ENGINE_IO_URING },
	{ NULL, NULL, 0 },
};

static const struct field_name blk_caches[] = {
	{ "unsafe", "Unsafe", BLK_CACHE_UNSAFE },
	{ "writeback", "Writeback", BLK_CACHE_WRITEBACK },
	{ NULL, NULL, 0 },
};

#define BLK_FIELD(m) .offset = offsetof(struct blk_config, m), .has = FIELD_NO_HAS

static const struct field blk_field_list[] = {
	{ .cli = "path",
	  .json = "path_on_host",
	  .type = FIELD_PATH,
	  BLK_FIELD(path),
	  .size = sizeof(((struct blk_config *)0)->path),
	  .required = true,
	  .access = FIELD_ACCESS_READ_WRITE,
	  .missing = "no path=FILE",
	  .toolong = "path too long" },
	{ .cli = "ro",
	  .json = "is_read_only",
	  .type = FIELD_BOOL,
	  BLK_FIELD(read_only),
	  .bad = "ro={}: expected on/off, true/false or 1/0" },
	{ .cli = "id",
	  .json = "drive_id",
	  .type = FIELD_ID,
	  BLK_FIELD(id),
	  .size = sizeof(((struct blk_config *)0)->id) }, /* a handle */
	{ .cli = "engine",
	  .json = "io_engine",
	  .type = FIELD_ENUM,
	  BLK_FIELD(engine),
	  .names = blk_engines,
	  .def = BLK_ENGINE_SYNC },
	{ .cli = "cache",
	  .json = "cache_type",
	  .no_null = true,
	  .type = FIELD_ENUM,
	  BLK_FIELD(cache),
	  .names = blk_caches,
	  .def = BLK_CACHE_WRITEBACK },
	{ .json = "rate_limiter", .type = FIELD_RL, BLK_FIELD(rate_limiter) },
	{ .cli = "bw", .type = FIELD_BUCKET, BLK_FIELD(rate_limiter.bandwidth) },
	{ .cli = "ops", .type = FIELD_BUCKET, BLK_FIELD(rate_limiter.ops) },
};

_Static_assert(sizeof(enum blk_engine) == sizeof(int) && sizeof(enum blk_cache) == sizeof(int),
	       "FIELD_ENUM stores an int");

const struct field_set blk_fields = {
	.name = "drive",
	.fields = blk_field_list,
	.n = sizeof(blk_field_list) / sizeof(blk_field_list[0]),
	.size = sizeof(struct blk_config),
	.unknown = "unknown or malformed option '{}'",
};

/* Ids name drives, as the API's drive_id does: one each. */
static int blk_conflict(const void *cfg, const struct device_config *others, int n, char *why,
			size_t why_size)
{
	const struct blk_config *c = cfg;

	for (int i = 0; id_str(c->id)[0] && i < n; i++) {
		const struct blk_config *o = (const void *)others[i].data;

		if (others[i].kind == &virtio_blk_kind && !strcmp(id_str(o->id), c->id)) {
			snprintf(why, why_size, "id '" PARSE_ID_FMT "' is already another --%s's",
				 PARSE_ID_ARG(c->id), virtio_blk_kind.option);
			return -EINVAL;
		}
	}
	return 0;
}

static int blk_create(void **dev, const void *cfg, const struct device_env *env)
{
	struct virtio_blk *b = NULL;
	int err = virtio_blk_create(&b, cfg, env->venv, env->base, env->irq);

	*dev = b;
	return err;
}

static void blk_destroy(void *dev)
{
	virtio_blk_destroy(dev);
}

static int blk_save(void *dev, struct snap_writer *w)
{
	return virtio_blk_save(dev, w);
}

static int blk_restore(void *dev, struct snap_reader *r)
{
	return virtio_blk_restore(dev, r);
}

static int blk_host_paths(const void *cfg, struct device_path *out, int max)
{
	const struct blk_config *c = cfg;

	if (max < 1)
		return 0;
	out[0] = (struct device_path){
		.what = "drive",
		.path = c->path,
		.access = c->read_only ? FIELD_ACCESS_READ : FIELD_ACCESS_READ_WRITE,
		.block_ok = true,
	};
	return 1;
}

/* --- the Firecracker API's words for a drive -------------------------------- */

static const struct field blk_api_list[] = {
	{ .json = "is_root_device",
	  .type = FIELD_BOOL,
	  .offset = offsetof(struct blk_api_keys, root),
	  .has = FIELD_NO_HAS,
	  .required = true },
	{ .json = "partuuid",
	  .type = FIELD_STRING,
	  .offset = offsetof(struct blk_api_keys, partuuid),
	  .size = sizeof(((struct blk_api_keys *)0)->partuuid),
	  .min = 1,
	  .has = FIELD_NO_HAS },
	{ .json = "socket", .type = FIELD_NULL, .has = FIELD_NO_HAS }, /* vhost-user */
};

static const struct field_set blk_api_keys = {
	.name = "drive",
	.fields = blk_api_list,
	.n = sizeof(blk_api_list) / sizeof(blk_api_list[0]),
	.size = sizeof(struct blk_api_keys),
};

/* Firecracker's default cache is Unsafe; --drive's is writeback. */
static void blk_api_defaults(void *cfg)
{
	((struct blk_config *)cfg)->cache = BLK_CACHE_UNSAFE;
}

/* One root device: the kernel's root= names one. */
static int blk_api_conflict(const void *cfg, const void *keys, const void *other,
			    const void *other_keys, const char *other_id, char *why,
			    size_t why_size)
{
	(void)cfg;
	if (!other || !((const struct blk_api_keys *)keys)->root ||
	    !((const struct blk_api_keys *)other_keys)->root)
		return 0;
	/* Firecracker's message, and the drive that has the role. */
	snprintf(why, why_size,
		 "Drive config error: A root block device already exists! (drive '%s')", other_id);
	return -EINVAL;
}

/* BlockDeviceConfig's declaration order, which serde writes. */
static const char *const blk_api_get[] = {
	"drive_id",	"partuuid",	"is_root_device", "cache_type", "is_read_only",
	"path_on_host", "rate_limiter", "io_engine",	  "socket",	NULL,
};

_Static_assert(sizeof(struct blk_config) <= DEVICE_CONFIG_MAX, "DEVICE_CONFIG_MAX");
_Static_assert(sizeof(struct blk_api_keys) <= DEVICE_API_KEYS_MAX, "DEVICE_API_KEYS_MAX");

const struct device_kind virtio_blk_kind = {
	.name = "blk",
	.option = "drive",
	/* bw=, ops=: rate limits, Firecracker's token buckets (core/rate_limiter.h):
	 * a bucket of BYTES bytes (K, M, G) or N requests refilled in MS ms, BURST
	 * more once at first; "off" for none. */
	.usage = "path=FILE[,ro][,id=ID][,engine=sync|io_uring][,cache=unsafe|writeback]"
		 "[,bw=BYTES/MS[+BURST]][,ops=N/MS[+BURST]]",
	.api_path = "drives",
	.config_key = "drives",
	.metrics = &blk_metrics_section,
	.max = DEVICE_MAX_VIRTIO,
	.too_many = "at most " DEVICE_STR(DEVICE_MAX_VIRTIO) " drives",
	.fields = &blk_fields,
	.conflict = blk_conflict,
	.create = blk_create,
	.destroy = blk_destroy,
	.host_paths = blk_host_paths,
	.save = blk_save,
	.restore = blk_restore,
	.restore_open_error = "Block: Virtio backend error: Error manipulating the backing file",
	.api = { .rank = 6,
		 .id_key = "drive_id",
		 .keys = &blk_api_keys,
		 .defaults = blk_api_defaults,
		 .conflict = blk_api_conflict,
		 .get = blk_api_get,
		 .plural = "drives" },
};
