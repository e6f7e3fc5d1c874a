#include "devices/virtio/virtio_mem.h"

#include "core/metrics.h"
#include "core/snap.h"
#include "devices/device_kind.h"
#include "util/log.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mem.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Firecracker's VirtioMemDeviceMetrics (its "memory_hotplug" section). */
struct mem_metrics {
	metric_t activate_fails, queue_event_fails, queue_event_count;
	metric_t plug_count, plug_bytes, plug_fails;
	struct metric_agg plug_agg;
	metric_t unplug_count, unplug_bytes, unplug_fails, unplug_discard_fails;
	struct metric_agg unplug_agg;
	metric_t state_count, state_fails;
	struct metric_agg state_agg;
	metric_t unplug_all_count, unplug_all_fails;
	struct metric_agg unplug_all_agg;
};

static struct mem_metrics mem_metrics;

static const struct metric_field mem_metrics_fields[] = {
	METRIC_DELTA(struct mem_metrics, activate_fails),
	METRIC_DELTA(struct mem_metrics, queue_event_fails),
	METRIC_DELTA(struct mem_metrics, queue_event_count),
	METRIC_DELTA(struct mem_metrics, plug_count),
	METRIC_DELTA(struct mem_metrics, plug_bytes),
	METRIC_DELTA(struct mem_metrics, plug_fails),
	METRIC_AGG(struct mem_metrics, plug_agg),
	METRIC_DELTA(struct mem_metrics, unplug_count),
	METRIC_DELTA(struct mem_metrics, unplug_bytes),
	METRIC_DELTA(struct mem_metrics, unplug_fails),
	METRIC_DELTA(struct mem_metrics, unplug_discard_fails),
	METRIC_AGG(struct mem_metrics, unplug_agg),
	METRIC_DELTA(struct mem_metrics, state_count),
	METRIC_DELTA(struct mem_metrics, state_fails),
	METRIC_AGG(struct mem_metrics, state_agg),
	METRIC_DELTA(struct mem_metrics, unplug_all_count),
	METRIC_DELTA(struct mem_metrics, unplug_all_fails),
	METRIC_AGG(struct mem_metrics, unplug_all_agg),
};

static const struct metrics_section mem_metrics_section = {
	.name = "memory_hotplug",
	.base = &mem_metrics,
	.fields = mem_metrics_fields,
	.n = sizeof(mem_metrics_fields) / sizeof(mem_metrics_fields[0]),
};

#define QUEUE_SIZE 256 /* Firecracker's FIRECRACKER_MAX_QUEUE_SIZE */
#define MIB	   (1ULL << 20)

struct virtio_mem {
	struct virtio_dev dev;
	struct virtq_elem elem;
	struct mem_hotplug_config cfg;
	const struct guest_mem *mem;
	uint64_t block, slot; /* bytes */
	bool plugged_in;
};

static struct virtio_mem_config *config(struct virtio_mem *m)
{
	return (struct virtio_mem_config *)(void *)m->dev.config;
}

int mem_hotplug_check(const struct mem_hotplug_config *c, char *why, size_t why_size)
{
	const char *bad = NULL;
	uint32_t n = 0;

	if (c->block_mib < VIRTIO_MEM_BLOCK_MIB)
		bad = "Block size must not be lower than %u MiB", n = VIRTIO_MEM_BLOCK_MIB;
	else if (c->block_mib & (c->block_mib - 1))
		bad = "Block size must be a power of 2";
	else if (c->slot_mib < VIRTIO_MEM_SLOT_MIB)
		bad = "Slot size must not be lower than %u MiB", n = VIRTIO_MEM_SLOT_MIB;
	else if (c->slot_mib % c->block_mib)
		bad = "Slot size must be a multiple of block size (%u MiB)", n = c->block_mib;
	else if (c->total_mib < c->slot_mib)
		bad = "Total size must not be lower than slot size (%u MiB)", n = c->slot_mib;
	else if (c->total_mib % c->slot_mib)
		bad = "Total size must be a multiple of slot size (%u MiB)", n = c->slot_mib;
	else if (c->total_mib / c->slot_mib > GUEST_MEM_HP_MAX_SLOTS)
		bad = "Total size must not be more than %u slots", n = GUEST_MEM_HP_MAX_SLOTS;
	else if (c->requested_mib > c->total_mib || c->requested_mib % c->block_mib)
		bad = "requested= must be whole blocks (%u MiB) up to the total size",
		n = c->block_mib;
	if (!bad)
		return 0;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(why, why_size, bad, n);
#pragma GCC diagnostic pop
	return -EINVAL;
}

/* --- requests ----------------------------------------------------------------- */

/* A range of the request: block-aligned, at least one block, all of it in the
 * usable region; *first gets its first block. */
static bool range_ok(struct virtio_mem *m, uint64_t addr, uint16_t nb, uint64_t *first)
{
	const struct virtio_mem_config *c = config(m);
	uint64_t off;

	if (!nb || addr < c->addr || (addr - c->addr) % m->block)
		return false;
	off = addr - c->addr;
	if (off >= c->usable_region_size || (uint64_t)nb > (c->usable_region_size - off) / m->block)
		return false;
	*first = off / m->block;
	return true;
}

static int set_blocks(struct virtio_mem *m, uint64_t first, uint64_t n, bool plug)
{
	int err = m->dev.env.hotplug_update(m->dev.env.ctx, first, n, plug);

	if (err)
		pr_warn("virtio-mem: cannot %s KVM's slots for blocks %llu-%llu: %s",
			plug ? "add" : "remove", (unsigned long long)first,
			(unsigned long long)(first + n - 1), strerror(-err));
	return err;
}

static uint16_t do_plug(struct virtio_mem *m, uint64_t addr, uint16_t nb)
{
	struct virtio_mem_config *c = config(m);
	uint64_t first;

	if (!range_ok(m, addr, nb, &first))
		return VIRTIO_MEM_RESP_ERROR;
	/* More than the host asked for: the spec's NACK. */
	if ((uint64_t)nb * m->block > c->requested_size - c->plugged_size ||
	    c->plugged_size > c->requested_size)
		return VIRTIO_MEM_RESP_NACK;
	if (guest_mem_hp_count(m->mem, first, nb))
		return VIRTIO_MEM_RESP_ERROR;
	if (set_blocks(m, first, nb, true)) {
		set_blocks(m, first, nb, false);
		return VIRTIO_MEM_RESP_BUSY;
	}
	c->plugged_size += (uint64_t)nb * m->block;
	METRIC_ADD(mem_metrics.plug_bytes, (uint64_t)nb * m->block);
	return VIRTIO_MEM_RESP_ACK;
}

static uint16_t do_unplug(struct virtio_mem *m, uint64_t addr, uint16_t nb)
{
	struct virtio_mem_config *c = config(m);
	uint64_t first;

	if (!range_ok(m, addr, nb, &first) || guest_mem_hp_count(m->mem, first, nb) != nb)
		return VIRTIO_MEM_RESP_ERROR;
	/* The blocks are unplugged even when KVM kept a slot: the guest gave
	 * them up, and the host's pages are discarded. */
	if (set_blocks(m, first, nb, false))
		METRIC_INC(mem_metrics.unplug_discard_fails);
	c->plugged_size -= (uint64_t)nb * m->block;
	METRIC_ADD(mem_metrics.unplug_bytes, (uint64_t)nb * m->block);
	return VIRTIO_MEM_RESP_ACK;
}

static uint16_t do_unplug_all(struct virtio_mem *m)
{
	struct virtio_mem_config *c = config(m);
	uint64_t nblocks = c->region_size / m->block;

	if (guest_mem_hp_count(m->mem, 0, nblocks) && set_blocks(m, 0, nblocks, false))
		METRIC_INC(mem_metrics.unplug_discard_fails);
	c->plugged_size = 0;
	/* The usable region shrinks to what the request still needs (the
	 * spec lets it; Firecracker's 0 would keep a guest that unplugs all at
	 * probe from ever plugging again). */
	c->usable_region_size = (c->requested_size + m->slot - 1) / m->slot * m->slot;
	return VIRTIO_MEM_RESP_ACK;
}

static uint16_t do_state(struct virtio_mem *m, uint64_t addr, uint16_t nb, uint16_t *state)
{
	uint64_t first, plugged;

	if (!range_ok(m, addr, nb, &first))
		return VIRTIO_MEM_RESP_ERROR;
	plugged = guest_mem_hp_count(m->mem, first, nb);
	*state = plugged == nb ? VIRTIO_MEM_STATE_PLUGGED
		 : plugged     ? VIRTIO_MEM_STATE_MIXED
			       : VIRTIO_MEM_STATE_UNPLUGGED;
	return VIRTIO_MEM_RESP_ACK;
}

uint32_t virtio_mem_handle(struct virtio_mem *m, struct virtq_elem *e, char *why, size_t why_size)
{
	struct virtio_mem_req req;
	struct virtio_mem_resp resp = { 0 };
	uint16_t type, nb, answer, state = 0;
	metric_t *count, *fails;
	struct metric_agg *agg = NULL;
	struct timespec start;
	uint64_t addr;

	_Static_assert(sizeof(req) == 24 && sizeof(resp) == 10, "virtio_mem_req/resp");
	if (e->out_len < sizeof(req) || e->in_len < sizeof(resp)) {
		snprintf(why, why_size,
			 "a request of %llu bytes and a response of %llu (%zu and %zu expected)",
			 (unsigned long long)e->out_len, (unsigned long long)e->in_len, sizeof(req),
			 sizeof(resp));
		return 0;
	}
	/* The driver's fields are little-endian (VIRTIO_F_VERSION_1); plug,
	 * unplug and state share the layout of their range. */
	iov_to_buf(e->iov, e->out_num, 0, &req, sizeof(req));
	type = le16toh(req.type);
	addr = le64toh(req.u.plug.addr);
	nb = le16toh(req.u.plug.nb_blocks);
	clock_gettime(CLOCK_MONOTONIC, &start);
	switch (type) {
	case VIRTIO_MEM_REQ_PLUG:
		answer = do_plug(m, addr, nb);
		count = &mem_metrics.plug_count, fails = &mem_metrics.plug_fails;
		agg = &mem_metrics.plug_agg;
		break;
	case VIRTIO_MEM_REQ_UNPLUG:
		answer = do_unplug(m, addr, nb);
		count = &mem_metrics.unplug_count, fails = &mem_metrics.unplug_fails;
		agg = &mem_metrics.unplug_agg;
		break;
	case VIRTIO_MEM_REQ_UNPLUG_ALL:
		answer = do_unplug_all(m);
		count = &mem_metrics.unplug_all_count, fails = &mem_metrics.unplug_all_fails;
		agg = &mem_metrics.unplug_all_agg;
		break;
	case VIRTIO_MEM_REQ_STATE:
		answer = do_state(m, addr, nb, &state);
		count = &mem_metrics.state_count, fails = &mem_metrics.state_fails;
		agg = &mem_metrics.state_agg;
		break;
	default:
		snprintf(why, why_size, "unknown request type %u", type);
		answer = VIRTIO_MEM_RESP_ERROR;
		count = fails = &mem_metrics.queue_event_fails;
	}
	METRIC_INC(*count);
	if (answer != VIRTIO_MEM_RESP_ACK && fails != count)
		METRIC_INC(*fails);
	if (agg)
		metric_agg_add(agg, metrics_us_since(&start));
	resp.type = htole16(answer);
	resp.u.state.state = htole16(state);
	iov_from_buf(e->iov + e->out_num, e->in_num, 0, &resp, sizeof(resp));
	return sizeof(resp);
}

static uint32_t mem_request(void *ctx, struct virtq_elem *e)
{
	struct virtio_mem *m = ctx;
	char why[160] = "";
	uint32_t used = virtio_mem_handle(m, e, why, sizeof(why));

	if (!used) {
		/* Given back unanswered; the device goes on. */
		pr_debug("virtio-mem: %s", why);
		METRIC_INC(mem_metrics.queue_event_fails);
	} else if (why[0]) {
		pr_debug("virtio-mem: %s", why);
	}
	return used;
}

static void mem_notify(struct virtio_dev *d, unsigned int q)
{
	struct virtio_mem *m = d->priv;

	if (!d->early_look)
		METRIC_INC(mem_metrics.queue_event_count);
	virtio_serve_queue(d, q, &m->elem, mem_request, m);
}

/* --- the host's side -------------------------------------------------------- */

struct virtio_dev *virtio_mem_dev(struct virtio_mem *m)
{
	return &m->dev;
}

/* Firecracker's chain for a VirtioMemError of an update (VmmError::VirtioMem). */
#define UPDATE_ERR "Memory hotplug update error: Failed to create memory hotplug device: "

int virtio_mem_request(struct virtio_mem *m, uint32_t mib, char *why, size_t why_size)
{
	struct virtio_mem_config *c = config(m);
	uint64_t size = (uint64_t)mib * MIB;
	int err = -EINVAL;

	pthread_mutex_lock(&m->dev.lock);
	/* As Firecracker: the driver must be there to be told (a restored
	 * device's driver is). */
	if (!(m->dev.status & VIRTIO_CONFIG_S_DRIVER_OK))
		snprintf(why, why_size, UPDATE_ERR "Device is not active");
	else if (size % m->block || size > c->region_size)
		snprintf(why, why_size,
			 UPDATE_ERR "Size %llu is invalid: it must be a multiple of block size and "
				    "less than the total size",
			 (unsigned long long)size);
	else
		err = 0;
	if (!err) {
		/* The usable region grows, by slots, to what the guest needs to
		 * reach the size; only an UNPLUG_ALL shrinks it. */
		if (c->usable_region_size < size)
			c->usable_region_size = (size + m->slot - 1) / m->slot * m->slot;
		c->requested_size = size;
		virtio_config_changed(&m->dev);
	}
	pthread_mutex_unlock(&m->dev.lock);
	return err;
}

void virtio_mem_status(struct virtio_mem *m, struct mem_hotplug_status *s)
{
	const struct virtio_mem_config *c = config(m);

	pthread_mutex_lock(&m->dev.lock);
	*s = (struct mem_hotplug_status){
		.total_mib = m->cfg.total_mib,
		.block_mib = m->cfg.block_mib,
		.slot_mib = m->cfg.slot_mib,
		.plugged_mib = (uint32_t)(c->plugged_size / MIB),
		.requested_mib = (uint32_t)(c->requested_size / MIB),
	};
	pthread_mutex_unlock(&m->dev.lock);
}

static const struct virtio_dev_ops mem_ops = {
	.name = "mem",
	.device_id = VIRTIO_ID_MEM,
	.num_queues = 1,
	.queue_max = QUEUE_SIZE,
	.notify = mem_notify,
	.activate_fails = &mem_metrics.activate_fails,
	.event_fails = { &mem_metrics.queue_event_fails },
};

int virtio_mem_create(struct virtio_mem **out, const struct mem_hotplug_config *c,
		      const struct virtio_env *env, uint64_t base, uint32_t irq)
{
	struct virtio_mem *m = calloc(1, sizeof(*m));
	const struct guest_mem_hotplug *hp = &env->mem->hp;
	struct virtio_mem_config *cfg;
	int err;

	*out = m;
	if (!m)
		return -ENOMEM;
	m->cfg = *c;
	m->mem = env->mem;
	m->block = (uint64_t)c->block_mib * MIB;
	m->slot = (uint64_t)c->slot_mib * MIB;
	if (!env->hotplug_update || hp->l.size != (uint64_t)c->total_mib * MIB ||
	    hp->l.block_size != m->block || hp->l.slot_size != m->slot) {
		pr_err("virtio-mem: the VM has no hotpluggable region of %u MiB in blocks of %u "
		       "MiB",
		       c->total_mib, c->block_mib);
		return -ENOTSUP;
	}
	err = virtio_mmio_init(&m->dev, &mem_ops, m, 1ULL << VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE,
			       env, base, irq);
	if (err) {
		pr_err("cannot plug in virtio-mem: %s", strerror(-err));
		return err;
	}
	m->plugged_in = true;
	cfg = config(m);
	cfg->block_size = m->block;
	cfg->addr = hp->l.gpa;
	cfg->region_size = hp->l.size;
	cfg->requested_size = (uint64_t)c->requested_mib * MIB;
	cfg->usable_region_size = (cfg->requested_size + m->slot - 1) / m->slot * m->slot;
	m->dev.config_size = sizeof(*cfg);
	return 0;
}

void virtio_mem_destroy(struct virtio_mem *m)
{
	if (!m)
		return;
	if (m->plugged_in)
		virtio_mmio_destroy(&m->dev);
	free(m);
}

/* --- the device kind ------------------------------------------------------- */

static int mem_create(void **dev, const void *cfg, const struct device_env *env)
{
	struct virtio_mem *m = NULL;
	int err = virtio_mem_create(&m, cfg, env->venv, env->base, env->irq);

	*dev = m;
	return err;
}

static void mem_destroy(void *dev)
{
	virtio_mem_destroy(dev);
}

static int mem_validate(const void *cfg, const struct device_vm_facts *vm, char *why,
			size_t why_size)
{
	(void)vm;
	return mem_hotplug_check(cfg, why, why_size);
}

static void mem_hotplug(const void *cfg, struct guest_mem_hp_layout *l)
{
	const struct mem_hotplug_config *c = cfg;

	l->size = (uint64_t)c->total_mib * MIB;
	l->block_size = (uint64_t)c->block_mib * MIB;
	l->slot_size = (uint64_t)c->slot_mib * MIB;
}

/* The plugged blocks besides the transport (whose config space holds the
 * sizes): a restore plugs them again, their content being the memory file's. */
static int mem_save(void *dev, struct snap_writer *w)
{
	struct virtio_mem *m = dev;
	int err = virtio_mmio_save(&m->dev, w);

	if (!err)
		err = snap_put(w, "plugged", m->mem->hp.plugged,
			       (m->mem->hp.nblocks + 63) / 64 * sizeof(uint64_t));
	return err;
}

static int mem_restore(void *dev, struct snap_reader *r)
{
	struct virtio_mem *m = dev;
	const struct guest_mem_hotplug *hp = &m->mem->hp;
	struct virtio_mem_config *c = config(m), want = *c;
	size_t words = (hp->nblocks + 63) / 64, len;
	uint64_t *bits = calloc(words ? words : 1, sizeof(uint64_t)), b, run, plugged = 0, end = 0;
	int err = bits ? virtio_mmio_restore(&m->dev, r) : -ENOMEM;

	if (!err)
		err = snap_get_var(r, "plugged", bits, words * sizeof(uint64_t), &len);
	if (!err && len != words * sizeof(uint64_t))
		err = -EINVAL;
	for (b = 0; !err && b < hp->nblocks; b++)
		if ((bits[b / 64] >> (b % 64)) & 1) {
			plugged++;
			end = (b + 1) * m->block;
		}
	/* The file is hostile: the region must be this device's, the sizes
	 * inside it and whole blocks, the plugged size the blocks', and those
	 * inside the usable region. */
	if (!err && (c->block_size != want.block_size || c->addr != want.addr ||
		     c->region_size != want.region_size || c->node_id ||
		     c->usable_region_size > c->region_size || c->usable_region_size % m->block ||
		     c->requested_size > c->region_size || c->requested_size % m->block ||
		     c->plugged_size != plugged * m->block || end > c->usable_region_size)) {
		pr_err("virtio-mem: the snapshot's device is not this one's (%u MiB in blocks "
		       "of %u MiB at %#llx) or its sizes are inconsistent",
		       m->cfg.total_mib, m->cfg.block_mib, (unsigned long long)want.addr);
		err = -EINVAL;
	}
	for (b = 0; !err && b < hp->nblocks; b = run) {
		for (; b < hp->nblocks && !((bits[b / 64] >> (b % 64)) & 1); b++)
			;
		for (run = b; run < hp->nblocks && ((bits[run / 64] >> (run % 64)) & 1); run++)
			;
		if (run > b)
			err = set_blocks(m, b, run - b, true);
	}
	free(bits);
	return err;
}

#define MEM_USAGE    "SIZE[,block=SIZE][,slot=SIZE][,requested=SIZE]"
#define MEM_FIELD(m) .offset = offsetof(struct mem_hotplug_config, m), .has = FIELD_NO_HAS

static const struct field mem_field_list[] = {
	{ .cli = "",
	  .json = "total_size_mib",
	  .type = FIELD_MIB,
	  MEM_FIELD(total_mib),
	  .max = UINT32_MAX,
	  .required = true,
	  .missing = "no total size (want " MEM_USAGE ")" },
	{ .cli = "block",
	  .json = "block_size_mib",
	  .no_null = true,
	  .type = FIELD_MIB,
	  MEM_FIELD(block_mib),
	  .max = UINT32_MAX,
	  .def = VIRTIO_MEM_BLOCK_MIB },
	{ .cli = "slot",
	  .json = "slot_size_mib",
	  .no_null = true,
	  .type = FIELD_MIB,
	  MEM_FIELD(slot_mib),
	  .max = UINT32_MAX,
	  .def = VIRTIO_MEM_SLOT_MIB },
	{ .cli = "requested", .type = FIELD_MIB, MEM_FIELD(requested_mib), .max = UINT32_MAX },
};

const struct field_set mem_hotplug_fields = {
	.name = "memory-hotplug",
	.fields = mem_field_list,
	.n = sizeof(mem_field_list) / sizeof(mem_field_list[0]),
	.size = sizeof(struct mem_hotplug_config),
	.unknown = "unknown or malformed option '{}'",
};

static const char *const mem_api_get[] = {
	"total_size_mib",
	"block_size_mib",
	"slot_size_mib",
	NULL,
};

_Static_assert(sizeof(struct mem_hotplug_config) <= DEVICE_CONFIG_MAX, "DEVICE_CONFIG_MAX");

const struct device_kind virtio_mem_kind = {
	.name = "mem",
	.option = "memory-hotplug",
	.usage = MEM_USAGE,
	.api_path = "hotplug/memory",
	.config_key = "memory-hotplug",
	.metrics = &mem_metrics_section,
	.max = 1,
	.too_many = "only one memory-hotplug region",
	.fields = &mem_hotplug_fields,
	.validate = mem_validate,
	.hotplug_memory = mem_hotplug,
	.create = mem_create,
	.destroy = mem_destroy,
	.save = mem_save,
	.restore = mem_restore,
	/* Last, as in Firecracker's VmmConfig. */
	.api = { .rank = 1010, .get = mem_api_get, .put_error = "Memory hotplug config error: " },
};
