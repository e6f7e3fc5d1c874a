#include "devices/virtio/virtio_pmem.h"

#include "core/metrics.h"
#include "core/snap.h"
#include "devices/device_kind.h"
#include "util/fs.h"
#include "util/id_pool.h"
#include "util/log.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pmem.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Firecracker's PmemMetrics. */
struct pmem_metrics {
	metric_t activate_fails;
	metric_t cfg_fails;
	metric_t event_fails; /* a malformed request, a kick that could not be read */
	metric_t queue_event_count;
	metric_t rate_limiter_throttled_events;
	metric_t rate_limiter_event_count;
};

static struct pmem_metrics pmem_metrics;

static const struct metric_field pmem_metrics_fields[] = {
	METRIC_DELTA(struct pmem_metrics, activate_fails),
	METRIC_DELTA(struct pmem_metrics, cfg_fails),
	METRIC_DELTA(struct pmem_metrics, event_fails),
	METRIC_DELTA(struct pmem_metrics, queue_event_count),
	METRIC_DELTA(struct pmem_metrics, rate_limiter_throttled_events),
	METRIC_DELTA(struct pmem_metrics, rate_limiter_event_count),
};

_Static_assert(sizeof(pmem_metrics_fields) / sizeof(pmem_metrics_fields[0]) * sizeof(metric_t) ==
		       sizeof(struct pmem_metrics),
	       "every counter needs a line in the table");

static const struct metrics_section pmem_metrics_section = {
	.name = "pmem",
	.base = &pmem_metrics,
	.fields = pmem_metrics_fields,
	.n = sizeof(pmem_metrics_fields) / sizeof(pmem_metrics_fields[0]),
};

#define PMEM_ADD(own, field, n) METRIC_ADD_BOTH(pmem_metrics, own, field, n)
#define QUEUE_SIZE		256 /* Firecracker's PMEM_QUEUE_SIZE */
#define PMEM_ALIGN		(2ULL << 20)
/* The flush's answer (virtio_pmem_resp.ret): Firecracker's SUCCESS and
 * FAILURE; the driver fails the flush on anything but 0. */
#define PMEM_OK	  0
#define PMEM_FAIL (-1)

struct virtio_pmem {
	struct virtio_dev dev;
	struct virtq_elem elem;
	struct pmem_config cfg;
	uint8_t *map;	   /* map_len bytes: the file, then anonymous rounding */
	uint64_t map_len;  /* the guest's region */
	uint64_t file_len; /* what a flush writes back */
	uint64_t gpa;
	int fd; /* the file, kept to see at a flush whether it was cut */

	struct rate_limiter rl; /* dev.lock */
	bool rl_ready, plugged, rl_watched;
	/* One msync answers every request of one look at the queue, as in
	 * Firecracker: requests that came together are flushed together. */
	bool flushed;
	int32_t status;
	struct pmem_metrics m;
	struct metrics_own m_own;
};

static int pmem_check(const struct virtq_elem *e, char *why, size_t why_size)
{
	struct virtio_pmem_req req = { 0 };
	uint32_t type;

	if (e->out_len != sizeof(req) || e->in_len != sizeof(int32_t)) {
		snprintf(why, why_size,
			 "a request of %llu bytes and a status of %llu (4 and 4 expected)",
			 (unsigned long long)e->out_len, (unsigned long long)e->in_len);
		return -EINVAL;
	}
	iov_to_buf(e->iov, e->out_num, 0, &req, sizeof(req));
	type = le32toh(req.type);
	if (type != VIRTIO_PMEM_REQ_TYPE_FLUSH) {
		snprintf(why, why_size, "unknown request type %u", type);
		return -EINVAL;
	}
	return 0;
}

/* The status goes into the writable part, little-endian: its four bytes may
 * span descriptors. */
static void pmem_put_status(struct virtq_elem *e, int32_t status)
{
	uint32_t le = htole32((uint32_t)status);

	iov_from_buf(e->iov + e->out_num, e->in_num, 0, &le, sizeof(le));
}

uint32_t virtio_pmem_handle(struct virtq_elem *e, int32_t status, char *why, size_t why_size)
{
	if (pmem_check(e, why, why_size))
		return 0;
	pmem_put_status(e, status);
	return sizeof(int32_t);
}

/* msync, and whether the file still holds all the guest wrote: one cut on
 * the host took the pages past its new end with it, and msync does not
 * say so (the guest's next access to them ends the VM). */
static int32_t pmem_flush(struct virtio_pmem *p)
{
	struct stat st;

	if (msync(p->map, p->file_len, MS_SYNC)) {
		pr_warn("virtio-pmem '%s': msync: %s", p->cfg.path, strerror(errno));
		return PMEM_FAIL;
	}
	if (fstat(p->fd, &st)) {
		pr_warn("virtio-pmem '%s': fstat: %s", p->cfg.path, strerror(errno));
		return PMEM_FAIL;
	}
	if ((uint64_t)st.st_size < p->file_len) {
		pr_warn("virtio-pmem '%s': the file was cut to %lld of its %llu bytes: a flush "
			"fails",
			p->cfg.path, (long long)st.st_size, (unsigned long long)p->file_len);
		return PMEM_FAIL;
	}
	return PMEM_OK;
}

static uint32_t pmem_request(void *ctx, struct virtq_elem *e)
{
	struct virtio_pmem *p = ctx;
	char why[128];

	if (pmem_check(e, why, sizeof(why))) {
		/* The driver gets its chain back unanswered (Firecracker's used
		 * length 0); the device goes on. */
		pr_debug("virtio-pmem '%s': %s", p->cfg.path, why);
		PMEM_ADD(&p->m, event_fails, 1);
		return 0;
	}
	if (!p->flushed) {
		/* Firecracker's charge for a flush: an op and the file's bytes. */
		if (!rate_limiter_consume_op(&p->rl, p->file_len)) {
			PMEM_ADD(&p->m, rate_limiter_throttled_events, 1);
			return VIRTIO_USED_RETRY;
		}
		p->status = pmem_flush(p);
		p->flushed = true;
	}
	pmem_put_status(e, p->status);
	return sizeof(int32_t);
}

static void pmem_notify(struct virtio_dev *d, unsigned int q)
{
	struct virtio_pmem *p = d->priv;

	if (!d->early_look)
		PMEM_ADD(&p->m, queue_event_count, 1);
	p->flushed = false;
	virtio_serve_queue(d, q, &p->elem, pmem_request, p);
}

/* The rate limiter's timer (device thread): serve the parked queue again. */
static void pmem_rl_event(void *ctx, uint32_t events)
{
	struct virtio_pmem *p = ctx;

	(void)events;
	PMEM_ADD(&p->m, rate_limiter_event_count, 1);
	if (virtio_rate_limiter_resume(&p->dev, &p->rl, 0))
		PMEM_ADD(&p->m, event_fails, 1);
}

struct virtio_dev *virtio_pmem_dev(struct virtio_pmem *p)
{
	return &p->dev;
}

void virtio_pmem_update_rate_limiter(struct virtio_pmem *p, const struct rl_config *c)
{
	pthread_mutex_lock(&p->dev.lock);
	rate_limiter_update(&p->rl, c);
	pthread_mutex_unlock(&p->dev.lock);
}

static const struct virtio_dev_ops pmem_ops = {
	.name = "pmem",
	.device_id = VIRTIO_ID_PMEM,
	.num_queues = 1,
	.queue_max = QUEUE_SIZE,
	.notify = pmem_notify,
	.activate_fails = &pmem_metrics.activate_fails,
	.cfg_fails = &pmem_metrics.cfg_fails,
	.event_fails = { &pmem_metrics.event_fails },
};

/* The file, shared, then anonymous memory up to the next 2 MiB: the guest's
 * region must be a multiple of it, and a file need not be. */
static int pmem_map(struct virtio_pmem *p, int fd)
{
	int prot = PROT_READ | (p->cfg.read_only ? 0 : PROT_WRITE);
	void *at;

	p->map_len = (p->file_len + PMEM_ALIGN - 1) & ~(PMEM_ALIGN - 1);
	at = mmap(NULL, p->map_len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (at == MAP_FAILED)
		return -errno;
	if (mmap(at, p->file_len, prot, MAP_SHARED | MAP_FIXED | MAP_NORESERVE, fd, 0) ==
	    MAP_FAILED) {
		int err = -errno;

		munmap(at, p->map_len);
		return err;
	}
	p->map = at;
	return 0;
}

static int pmem_open(struct virtio_pmem *p)
{
	struct stat st;
	char why[160];
	int fd, err;

	err = open_input(p->cfg.path, p->cfg.read_only ? O_RDONLY : O_RDWR, INPUT_FILE, &fd, &st,
			 why, sizeof(why));
	if (err) {
		pr_err("virtio-pmem '%s': %s", p->cfg.path, why);
		return err;
	}
	/* Firecracker's BackingFileZeroSize; the top bound keeps the region
	 * inside the guest's physical address space (the VM checks the rest). */
	if (st.st_size <= 0 || (uint64_t)st.st_size > (256ULL << 30)) {
		pr_err("virtio-pmem '%s': %s", p->cfg.path,
		       st.st_size <= 0 ? "Error backing file size is 0" : "is larger than 256 GiB");
		close(fd);
		return -EINVAL;
	}
	p->file_len = (uint64_t)st.st_size;
	err = pmem_map(p, fd);
	if (err) {
		close(fd);
		pr_err("virtio-pmem '%s': cannot map it: %s", p->cfg.path, strerror(-err));
		return err;
	}
	p->fd = fd;
	return 0;
}

int virtio_pmem_create(struct virtio_pmem **out, const struct pmem_config *c, const char *id,
		       const struct virtio_env *env, uint64_t base, uint32_t irq)
{
	struct virtio_pmem *p = calloc(1, sizeof(*p));
	struct virtio_pmem_config *cfg;
	int err;

	*out = p;
	if (!p)
		return -ENOMEM;
	p->fd = -1;
	p->cfg = *c;
	err = pmem_open(p);
	if (err)
		return err;
	err = env->map_memory ? env->map_memory(env->ctx, p->map, p->map_len, c->read_only, &p->gpa)
			      : -ENOTSUP;
	if (err) {
		pr_err("virtio-pmem '%s': cannot place %llu bytes in guest memory: %s", c->path,
		       (unsigned long long)p->map_len,
		       err == -ENOTSUP && c->read_only ? "this KVM has no read-only memory"
		       : err == -E2BIG		       ? "past the guest's physical address space"
						       : strerror(-err));
		return err;
	}
	err = rate_limiter_init(&p->rl, &c->rate_limiter);
	if (err) {
		pr_err("virtio-pmem '%s': cannot make its rate limiter: %s", c->path,
		       strerror(-err));
		return err;
	}
	p->rl_ready = true;
	err = virtio_mmio_init(&p->dev, &pmem_ops, p, 0, env, base, irq);
	if (err) {
		pr_err("cannot plug in virtio-pmem '%s': %s", c->path, strerror(-err));
		return err;
	}
	p->plugged = true;
	p->dev.own_activate_fails = &p->m.activate_fails;
	p->dev.own_cfg_fails = &p->m.cfg_fails;
	p->dev.own_event_fails[0] = &p->m.event_fails;
	cfg = (struct virtio_pmem_config *)p->dev.config;
	cfg->start = p->gpa;
	cfg->size = p->map_len;
	p->dev.config_size = sizeof(*cfg);
	err = event_loop_add(env->loop, p->rl.timer_fd, EPOLLIN, pmem_rl_event, p);
	if (err) {
		pr_err("virtio-pmem '%s': cannot watch its rate limiter: %s", c->path,
		       strerror(-err));
		return err;
	}
	p->rl_watched = true;
	if (id_str(id)[0] &&
	    (err = metrics_own_add(&p->m_own, "pmem_", id, &pmem_metrics_section, &p->m)))
		pr_warn("pmem '%s': no metrics section pmem_%s: %s", c->path, id, strerror(-err));
	return 0;
}

void virtio_pmem_destroy(struct virtio_pmem *p)
{
	if (!p)
		return;
	if (p->rl_watched)
		event_loop_del(p->dev.env.loop, p->rl.timer_fd);
	if (p->plugged)
		virtio_mmio_destroy(&p->dev);
	if (p->rl_ready)
		rate_limiter_destroy(&p->rl);
	metrics_own_remove(&p->m_own);
	/* The VM is gone or going (its vCPUs are): KVM's slot may outlive the
	 * mapping for the moment until the VM's fd closes; nothing runs it. */
	if (p->map)
		munmap(p->map, p->map_len);
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

/* --- the device kind ------------------------------------------------------- */

static int pmem_create(void **dev, const void *cfg, const struct device_env *env)
{
	struct virtio_pmem *p = NULL;
	int err = virtio_pmem_create(&p, cfg, env->id, env->venv, env->base, env->irq);

	*dev = p;
	return err;
}

static void pmem_destroy(void *dev)
{
	virtio_pmem_destroy(dev);
}

/* The region's place and size besides the transport: a restore maps the file
 * again and must find it where the guest's driver has it. */
static int pmem_save(void *dev, struct snap_writer *w)
{
	struct virtio_pmem *p = dev;
	int err = virtio_mmio_save(&p->dev, w);

	if (!err)
		err = snap_put_u64(w, "gpa", p->gpa);
	if (!err)
		err = snap_put_u64(w, "size", p->map_len);
	return err;
}

static int pmem_restore(void *dev, struct snap_reader *r)
{
	struct virtio_pmem *p = dev;
	uint64_t gpa, size;
	int err = virtio_mmio_restore(&p->dev, r);

	if (!err)
		err = snap_get_u64(r, "gpa", &gpa);
	if (!err)
		err = snap_get_u64(r, "size", &size);
	if (err)
		return err;
	if (gpa != p->gpa || size != p->map_len) {
		/* Firecracker's RestoredSizeMismatch, and where. */
		pr_err("virtio-pmem '%s': Restored pmem size %llu does not match backing file "
		       "mapping size %llu (at %#llx, the snapshot's at %#llx)",
		       p->cfg.path, (unsigned long long)size, (unsigned long long)p->map_len,
		       (unsigned long long)p->gpa, (unsigned long long)gpa);
		return -EINVAL;
	}
	return 0;
}

static int pmem_host_paths(const void *cfg, struct device_path *out, int max)
{
	const struct pmem_config *c = cfg;

	if (max < 1)
		return 0;
	out[0] = (struct device_path){
		.what = "pmem",
		.path = c->path,
		.access = c->read_only ? FIELD_ACCESS_READ : FIELD_ACCESS_READ_WRITE,
	};
	return 1;
}

#define PMEM_FIELD(m) .offset = offsetof(struct pmem_config, m), .has = FIELD_NO_HAS

static const struct field pmem_field_list[] = {
	{ .cli = "path",
	  .json = "path_on_host",
	  .type = FIELD_PATH,
	  PMEM_FIELD(path),
	  .size = sizeof(((struct pmem_config *)0)->path),
	  .required = true,
	  .access = FIELD_ACCESS_READ_WRITE,
	  .missing = "no path=FILE",
	  .toolong = "path too long" },
	{ .cli = "ro",
	  .json = "read_only",
	  .no_null = true,
	  .type = FIELD_BOOL,
	  PMEM_FIELD(read_only),
	  .bad = "ro={}: expected on/off, true/false or 1/0" },
	{ .json = "rate_limiter", .type = FIELD_RL, PMEM_FIELD(rate_limiter) },
	{ .cli = "bw", .type = FIELD_BUCKET, PMEM_FIELD(rate_limiter.bandwidth) },
	{ .cli = "ops", .type = FIELD_BUCKET, PMEM_FIELD(rate_limiter.ops) },
};

const struct field_set pmem_fields = {
	.name = "pmem",
	.fields = pmem_field_list,
	.n = sizeof(pmem_field_list) / sizeof(pmem_field_list[0]),
	.size = sizeof(struct pmem_config),
	.unknown = "unknown or malformed option '{}'",
};

/* --- the Firecracker API's words for a pmem device --------------------------- */

static const struct field pmem_api_list[] = {
	{ .json = "root_device",
	  .no_null = true,
	  .type = FIELD_BOOL,
	  .offset = offsetof(struct pmem_api_keys, root),
	  .has = FIELD_NO_HAS },
};

static const struct field_set pmem_api_keys = {
	.name = "pmem",
	.fields = pmem_api_list,
	.n = sizeof(pmem_api_list) / sizeof(pmem_api_list[0]),
	.size = sizeof(struct pmem_api_keys),
};

/* One root pmem device (Firecracker's PmemBuilder). */
static int pmem_api_conflict(const void *cfg, const void *keys, const void *other,
			     const void *other_keys, const char *other_id, char *why,
			     size_t why_size)
{
	(void)cfg;
	(void)other_id;
	if (!other || !((const struct pmem_api_keys *)keys)->root ||
	    !((const struct pmem_api_keys *)other_keys)->root)
		return 0;
	snprintf(why, why_size, "Pmem config error: A root pmem device already exist");
	return -EINVAL;
}

static const char *const pmem_api_get[] = {
	"id", "path_on_host", "root_device", "read_only", "rate_limiter", NULL,
};

_Static_assert(sizeof(struct pmem_config) <= DEVICE_CONFIG_MAX, "DEVICE_CONFIG_MAX");
_Static_assert(sizeof(struct pmem_api_keys) <= DEVICE_API_KEYS_MAX, "DEVICE_API_KEYS_MAX");

const struct device_kind virtio_pmem_kind = {
	.name = "pmem",
	.option = "pmem",
	.usage = "path=FILE[,ro][,bw=BYTES/MS[+BURST]][,ops=N/MS[+BURST]]",
	.api_path = "pmem",
	.config_key = "pmem",
	.metrics = &pmem_metrics_section,
	.max = DEVICE_MAX_VIRTIO,
	.too_many = "at most " DEVICE_STR(DEVICE_MAX_VIRTIO) " pmem devices",
	.fields = &pmem_fields,
	.create = pmem_create,
	.destroy = pmem_destroy,
	.host_paths = pmem_host_paths,
	.save = pmem_save,
	.restore = pmem_restore,
	/* After every device, as in Firecracker's VmmConfig. */
	.api = { .rank = 1000,
		 .id_key = "id",
		 .keys = &pmem_api_keys,
		 .conflict = pmem_api_conflict,
		 .get = pmem_api_get,
		 .plural = "pmem devices" },
};
