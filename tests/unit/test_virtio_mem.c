/* virtio-mem driven like a driver (virtio_rig.h) over guest memory with a
 * hotpluggable region, no KVM (the stand-in for the VM's hotplug_update
 * calls guest_mem_hp_set without a VM): the region in config space, the
 * host's requested size, PLUG/UNPLUG/UNPLUG_ALL/STATE and their refusals,
 * what the VMM can reach (plugged blocks only), discarded content, KVM
 * slots following the blocks, malformed chains, and a snapshot of the
 * device restored (and a hostile one refused). */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_mem.h>

#include "core/snap.h"
#include "devices/device_kind.h"
#include "devices/virtio/virtio_mem.h"
#include "util/log.h"
#include "virtio_rig.h"

#define MIB    (1ULL << 20)
#define HP_GPA (4ULL << 30)
#define BLOCK  (2 * MIB)
#define SLOT   (128 * MIB)
#define TOTAL  (512 * MIB)
#define REQ    RIG_DATA
#define RESP   (RIG_DATA + 0x100)

static int fake_update(void *ctx, uint64_t first, uint64_t n, bool plug)
{
	return guest_mem_hp_set(ctx, -1, first, n, plug);
}

static struct virtio_mem *mem_rig(struct rig *r)
{
	const struct guest_mem_source src = {
		.kind = GUEST_MEM_ANON,
		.hotplug = { .gpa = HP_GPA, .size = TOTAL, .block_size = BLOCK, .slot_size = SLOT },
	};
	const struct mem_hotplug_config c = { .total_mib = 512, .block_mib = 2, .slot_mib = 128 };
	struct virtio_mem *m = NULL;
	char why[256];

	log_set_level(LOG_OFF);
	rig_init(r);
	guest_mem_free(&r->mem);
	cr_assert_eq(guest_mem_map_from(&r->mem, 128 * MIB, LAYOUT_MMIO_HOLE_START,
					LAYOUT_MMIO_HOLE_END, &src, why, sizeof(why)),
		     0, "%s", why);
	r->env.mem = &r->mem;
	r->env.hotplug_update = fake_update;
	r->env.ctx = &r->mem;
	cr_assert_eq(virtio_mem_create(&m, &c, &r->env, RIG_BASE, 5), 0);
	r->d = virtio_mem_dev(m);
	return m;
}

static uint64_t config_u64(struct rig *r, uint32_t off)
{
	return rig_rd(r, VIRTIO_MMIO_CONFIG + off) |
	       (uint64_t)rig_rd(r, VIRTIO_MMIO_CONFIG + off + 4) << 32;
}

/* One request through the queue: its answer (type) and state. */
static uint16_t ask(struct rig *r, uint16_t type, uint64_t addr, uint16_t nb, uint16_t *state)
{
	static uint16_t sent;
	struct virtio_mem_req *q = gpa_to_hva(&r->mem, REQ, sizeof(*q));
	struct virtio_mem_resp *a = gpa_to_hva(&r->mem, RESP, sizeof(*a));
	const struct rig_seg s[] = { { REQ, sizeof(*q), false }, { RESP, sizeof(*a), true } };

	memset(q, 0, sizeof(*q));
	memset(a, 0xee, sizeof(*a));
	q->type = type;
	q->u.plug.addr = addr;
	q->u.plug.nb_blocks = nb;
	rig_chain(r, 0, s, 2, true);
	cr_assert(rig_wait_used(r, 0, ++sent, 2000));
	if (state)
		*state = a->u.state.state;
	return a->type;
}

static uint64_t plugged(struct rig *r)
{
	return config_u64(r, offsetof(struct virtio_mem_config, plugged_size));
}

Test(virtio_mem, plug_unplug_state_and_refusals, .timeout = 20)
{
	struct rig r;
	struct virtio_mem *m = mem_rig(&r);
	struct mem_hotplug_status st;
	uint16_t state;
	uint32_t gen;
	char why[256];
	uint8_t *p;

	cr_assert_eq(rig_rd(&r, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_MEM);
	rig_wr(&r, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	cr_assert(rig_rd(&r, VIRTIO_MMIO_DEVICE_FEATURES) &
		  (1U << VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE));
	cr_assert_eq(config_u64(&r, offsetof(struct virtio_mem_config, block_size)), BLOCK);
	cr_assert_eq(config_u64(&r, offsetof(struct virtio_mem_config, addr)), HP_GPA);
	cr_assert_eq(config_u64(&r, offsetof(struct virtio_mem_config, region_size)), TOTAL);
	cr_assert_eq(config_u64(&r, offsetof(struct virtio_mem_config, usable_region_size)), 0);
	/* Firecracker's refusal while no driver has started the device. */
	cr_assert_eq(virtio_mem_request(m, 2, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "Memory hotplug update error: Failed to create memory hotplug "
			      "device: Device is not active");
	rig_driver_ok(&r, 1);

	/* Nothing usable yet: every range is out of the usable region. */
	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_PLUG, HP_GPA, 1, NULL), VIRTIO_MEM_RESP_ERROR);
	/* The host's sizes: whole blocks, at most the total. */
	cr_assert_eq(virtio_mem_request(m, 3, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "must be a multiple of block size"), "%s", why);
	cr_assert_eq(virtio_mem_request(m, 1024, why, sizeof(why)), -EINVAL);
	gen = rig_rd(&r, VIRTIO_MMIO_CONFIG_GENERATION);
	cr_assert_eq(virtio_mem_request(m, 130, why, sizeof(why)), 0);
	cr_assert_neq(rig_rd(&r, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	cr_assert(rig_rd(&r, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	/* Usable grows by whole slots. */
	cr_assert_eq(config_u64(&r, offsetof(struct virtio_mem_config, usable_region_size)),
		     2 * SLOT);
	cr_assert_eq(config_u64(&r, offsetof(struct virtio_mem_config, requested_size)), 130 * MIB);

	/* Not reachable before it is plugged. */
	cr_assert_null(gpa_to_hva(&r.mem, HP_GPA, 8));
	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_PLUG, HP_GPA + 4096, 1, NULL), VIRTIO_MEM_RESP_ERROR);
	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_PLUG, HP_GPA, 0, NULL), VIRTIO_MEM_RESP_ERROR);
	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_PLUG, HP_GPA - BLOCK, 1, NULL), VIRTIO_MEM_RESP_ERROR);
	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_PLUG, HP_GPA + 2 * SLOT, 1, NULL),
		     VIRTIO_MEM_RESP_ERROR, "past the usable region");
	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_PLUG, HP_GPA, 66, NULL), VIRTIO_MEM_RESP_NACK,
		     "more than requested");
	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_PLUG, HP_GPA + 2 * SLOT - BLOCK, 2, NULL),
		     VIRTIO_MEM_RESP_ERROR, "a range running past the usable region");
	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_PLUG, UINT64_MAX - BLOCK + 1, 0xffff, NULL),
		     VIRTIO_MEM_RESP_ERROR);
	cr_assert_eq(plugged(&r), 0);

	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_PLUG, HP_GPA + SLOT - BLOCK, 2, NULL),
		     VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(plugged(&r), 2 * BLOCK);
	cr_assert(r.mem.hp.slot_on[0] && r.mem.hp.slot_on[1], "both slots it spans");
	cr_assert_not(r.mem.hp.slot_on[2]);
	p = gpa_to_hva(&r.mem, HP_GPA + SLOT - BLOCK, 2 * BLOCK);
	cr_assert_not_null(p);
	cr_assert_null(gpa_to_hva(&r.mem, HP_GPA + SLOT - BLOCK - 8, 16), "half unplugged");
	p[100] = 0x5a;
	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_PLUG, HP_GPA + SLOT, 1, NULL), VIRTIO_MEM_RESP_ERROR,
		     "already plugged");
	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_STATE, HP_GPA + SLOT - BLOCK, 2, &state),
		     VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(state, VIRTIO_MEM_STATE_PLUGGED);
	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_STATE, HP_GPA + SLOT - 2 * BLOCK, 2, &state),
		     VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(state, VIRTIO_MEM_STATE_MIXED);
	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_STATE, HP_GPA, 3, &state), VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(state, VIRTIO_MEM_STATE_UNPLUGGED);
	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_STATE, HP_GPA + 7, 1, &state), VIRTIO_MEM_RESP_ERROR);

	/* Unplug: a mixed range is refused; the blocks' content is gone. */
	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_UNPLUG, HP_GPA + SLOT - 2 * BLOCK, 2, NULL),
		     VIRTIO_MEM_RESP_ERROR);
	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_UNPLUG, HP_GPA + SLOT - BLOCK, 1, NULL),
		     VIRTIO_MEM_RESP_ACK);
	cr_assert_not(r.mem.hp.slot_on[0], "its slot is empty now");
	cr_assert(r.mem.hp.slot_on[1]);
	cr_assert_null(gpa_to_hva(&r.mem, HP_GPA + SLOT - BLOCK, 1));
	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_PLUG, HP_GPA + SLOT - BLOCK, 1, NULL),
		     VIRTIO_MEM_RESP_ACK);
	p = gpa_to_hva(&r.mem, HP_GPA + SLOT - BLOCK, BLOCK);
	cr_assert_eq(p[100], 0, "unplugged content was discarded");
	virtio_mem_status(m, &st);
	cr_assert_eq(st.plugged_mib, 4);
	cr_assert_eq(st.requested_mib, 130);
	cr_assert_eq(st.total_mib, 512);

	/* Unknown requests are answered with an error; UNPLUG_ALL empties all. */
	cr_assert_eq(ask(&r, 9, HP_GPA, 1, NULL), VIRTIO_MEM_RESP_ERROR);
	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0, NULL), VIRTIO_MEM_RESP_ACK);
	cr_assert_eq(plugged(&r), 0);
	cr_assert_not(r.mem.hp.slot_on[1]);
	cr_assert_eq(config_u64(&r, offsetof(struct virtio_mem_config, usable_region_size)),
		     2 * SLOT, "what the request still needs");
	rig_stop(&r);
	virtio_mem_destroy(m);
	rig_free(&r);
}

Test(virtio_mem, malformed_chains_are_given_back, .timeout = 20)
{
	struct rig r;
	struct virtio_mem *m = mem_rig(&r);
	struct virtio_mem_resp *a = gpa_to_hva(&r.mem, RESP, sizeof(*a));
	struct vring_used *used;

	rig_driver_ok(&r, 1);
	{
		/* A 10-byte request, then a read-only response. */
		const struct rig_seg s1[] = { { REQ, 10, false }, { RESP, 10, true } };
		const struct rig_seg s2[] = { { REQ, 24, false }, { RESP, 10, false } };

		memset(a, 0xee, sizeof(*a));
		rig_chain(&r, 0, s1, 2, true);
		cr_assert(rig_wait_used(&r, 0, 1, 2000));
		rig_chain(&r, 0, s2, 2, true);
		cr_assert(rig_wait_used(&r, 0, 2, 2000));
	}
	used = gpa_to_hva(&r.mem, RIG_QBASE(0) + 0x2000, 6 + 8 * RIG_QSIZE);
	cr_assert_eq(used->ring[0].len, 0);
	cr_assert_eq(used->ring[1].len, 0);
	cr_assert_eq(a->type, 0xeeee, "nothing written");
	cr_assert_eq(rig_rd(&r, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	rig_stop(&r);
	virtio_mem_destroy(m);
	rig_free(&r);
}

Test(virtio_mem, snapshot_restores_the_plugged_blocks, .timeout = 20)
{
	struct rig r, r2;
	struct virtio_mem *m = mem_rig(&r), *m2;
	struct snap_writer w;
	struct snap_reader rd;
	const uint8_t *img;
	size_t len;
	char why[256];

	rig_driver_ok(&r, 1);
	cr_assert_eq(virtio_mem_request(m, 256, why, sizeof(why)), 0);
	cr_assert_eq(ask(&r, VIRTIO_MEM_REQ_PLUG, HP_GPA + SLOT, 3, NULL), VIRTIO_MEM_RESP_ACK);
	rig_stop(&r);
	snap_writer_init(&w);
	cr_assert_eq(snap_writer_scope(&w, "dev/mem0"), 0);
	cr_assert_eq(virtio_mem_kind.save(m, &w), 0);
	cr_assert_eq(snap_finish(&w, &img, &len), 0);

	m2 = mem_rig(&r2);
	cr_assert_eq(snap_read_mem(&rd, img, len, "test"), 0);
	cr_assert_eq(snap_reader_scope(&rd, "dev/mem0"), 0);
	cr_assert_eq(virtio_mem_kind.restore(m2, &rd), 0);
	snap_reader_free(&rd);
	cr_assert_eq(guest_mem_hp_count(&r2.mem, 0, r2.mem.hp.nblocks), 3);
	cr_assert_not_null(gpa_to_hva(&r2.mem, HP_GPA + SLOT, 3 * BLOCK));
	cr_assert(r2.mem.hp.slot_on[1]);
	cr_assert_eq(config_u64(&r2, offsetof(struct virtio_mem_config, plugged_size)), 3 * BLOCK);
	virtio_mem_destroy(m2);
	rig_free(&r2);

	/* A plugged size that is not the blocks' is refused. */
	m2 = mem_rig(&r2);
	{
		uint64_t bits[4] = { 1 };

		snap_writer_free(&w);
		snap_writer_init(&w);
		cr_assert_eq(snap_writer_scope(&w, "dev/mem0"), 0);
		cr_assert_eq(virtio_mmio_save(virtio_mem_dev(m), &w), 0);
		cr_assert_eq(snap_put(&w, "plugged", bits, sizeof(bits)), 0);
		cr_assert_eq(snap_finish(&w, &img, &len), 0);
	}
	cr_assert_eq(snap_read_mem(&rd, img, len, "test"), 0);
	cr_assert_eq(snap_reader_scope(&rd, "dev/mem0"), 0);
	cr_assert_eq(virtio_mem_kind.restore(m2, &rd), -EINVAL);
	cr_assert_eq(guest_mem_hp_count(&r2.mem, 0, r2.mem.hp.nblocks), 0);
	snap_reader_free(&rd);
	snap_writer_free(&w);
	virtio_mem_destroy(m2);
	rig_free(&r2);
	virtio_mem_destroy(m);
	rig_free(&r);
}

/* Firecracker's MemoryHotplugConfig::validate, in its words. */
Test(virtio_mem, configuration_rules)
{
	struct mem_hotplug_config c = { .total_mib = 1024, .block_mib = 2, .slot_mib = 128 };
	char why[128];

	cr_assert_eq(mem_hotplug_check(&c, why, sizeof(why)), 0);
	c.block_mib = 1;
	cr_assert_eq(mem_hotplug_check(&c, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "Block size must not be lower than 2 MiB");
	c.block_mib = 6;
	cr_assert_eq(mem_hotplug_check(&c, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "Block size must be a power of 2");
	c = (struct mem_hotplug_config){ .total_mib = 1024, .block_mib = 2, .slot_mib = 64 };
	cr_assert_eq(mem_hotplug_check(&c, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "Slot size must not be lower than 128 MiB");
	c = (struct mem_hotplug_config){ .total_mib = 1 << 30, .block_mib = 2, .slot_mib = 128 };
	cr_assert_eq(mem_hotplug_check(&c, why, sizeof(why)), -EINVAL);
	cr_assert_str_eq(why, "Total size must not be more than 8192 slots");
}

/* The hotpluggable region follows RAM in the mapping and in a memory file;
 * a geometry that does not fit is refused with the reason. */
Test(virtio_mem, guest_mem_geometry)
{
	struct guest_mem gm;
	struct guest_mem_source src = {
		.hotplug = { .gpa = HP_GPA, .size = TOTAL, .block_size = BLOCK, .slot_size = SLOT },
	};
	char why[256];

	cr_assert_eq(guest_mem_map_from(&gm, 128 * MIB, LAYOUT_MMIO_HOLE_START,
					LAYOUT_MMIO_HOLE_END, &src, why, sizeof(why)),
		     0, "%s", why);
	cr_assert_eq(gm.map_size, 128 * MIB + TOTAL);
	cr_assert_eq(gm.hp.hva, gm.base + 128 * MIB);
	cr_assert_eq(guest_mem_pages(&gm), (128 * MIB + TOTAL) / 4096);
	cr_assert_eq(guest_mem_end(&gm), 128 * MIB, "RAM's end, not the region's");
	guest_mem_free(&gm);
	src.hotplug.size = TOTAL + BLOCK; /* not whole slots */
	cr_assert_eq(guest_mem_map_from(&gm, 128 * MIB, LAYOUT_MMIO_HOLE_START,
					LAYOUT_MMIO_HOLE_END, &src, why, sizeof(why)),
		     -ERANGE);
	cr_assert(strstr(why, "hotpluggable memory"), "%s", why);
	src.hotplug = (struct guest_mem_hp_layout){
		.gpa = 64 * MIB, .size = TOTAL, .block_size = BLOCK, .slot_size = SLOT
	};
	cr_assert_eq(guest_mem_map_from(&gm, 128 * MIB, LAYOUT_MMIO_HOLE_START,
					LAYOUT_MMIO_HOLE_END, &src, why, sizeof(why)),
		     -ERANGE, "inside RAM");
}
