/* libFuzzer target: virtio-mem's requests (virtio_mem_handle) and the host's
 * requested size (virtio_mem_request), in any order, on one device over a
 * hotpluggable region of 512 MiB (four slots of 128 MiB, blocks of 2 MiB) with
 * no KVM (guest_mem_hp_set without a VM). The input is a script of steps:
 * a step byte (kind and chain shape), then an address (8 bytes, taken as an
 * offset into the region or as it is), a block count (2 bytes) and a type (2
 * bytes) or a size. Each chain's segments are heap blocks of the exact
 * length, so ASan catches any access past one. Checked after every step:
 * the plugged size is the plugged blocks' (and within the region), every
 * plugged block lies in the usable region, the VMM reaches a block exactly
 * when it is plugged, a slot is KVM's exactly when one of its blocks is
 * plugged, and a request is answered (10 bytes) exactly when its chain has a
 * 24-byte request and a 10-byte response, the readable part unchanged. */
#include <linux/virtio_config.h>
#include <linux/virtio_mem.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/event_loop.h"
#include "core/io_bus.h"
#include "devices/virtio/virtio_mem.h"
#include "devices/virtio/virtq.h"
#include "util/log.h"

#define MIB	 (1ULL << 20)
#define HP_GPA	 (4ULL << 30)
#define TOTAL	 (512 * MIB)
#define BLOCK	 (2 * MIB)
#define SLOT	 (128 * MIB)
#define NBLOCKS	 (TOTAL / BLOCK)
#define STEP_LEN 13

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static struct guest_mem mem;
static struct event_loop loop;
static struct io_bus mmio;
static struct virtio_env env;
static struct virtio_mem *dev;

static int update(void *ctx, uint64_t first, uint64_t n, bool plug)
{
	return guest_mem_hp_set(ctx, -1, first, n, plug);
}

static void setup(void)
{
	const struct guest_mem_source src = {
		.kind = GUEST_MEM_ANON,
		.hotplug = { .gpa = HP_GPA, .size = TOTAL, .block_size = BLOCK, .slot_size = SLOT },
	};
	const struct mem_hotplug_config c = { .total_mib = 512, .block_mib = 2, .slot_mib = 128 };
	char why[256];

	log_set_level(LOG_OFF);
	if (guest_mem_map_from(&mem, MIB, 3ULL << 30, 4ULL << 30, &src, why, sizeof(why)) ||
	    event_loop_init(&loop))
		abort();
	mmio.kind = "mmio";
	env = (struct virtio_env){
		.mem = &mem, .loop = &loop, .mmio = &mmio, .hotplug_update = update, .ctx = &mem
	};
	if (virtio_mem_create(&dev, &c, &env, 0xd0000000ULL, 5))
		abort();
	virtio_mem_dev(dev)->status |= VIRTIO_CONFIG_S_DRIVER_OK;
}

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

static void check(void)
{
	const struct virtio_mem_config *c = (const void *)virtio_mem_dev(dev)->config;
	uint64_t b, k, count = 0;

	for (b = 0; b < NBLOCKS; b++) {
		bool on = guest_mem_hp_count(&mem, b, 1);

		count += on;
		if (on != (gpa_to_hva(&mem, HP_GPA + b * BLOCK, BLOCK) != NULL))
			abort();
		if (on && (b + 1) * BLOCK > c->usable_region_size)
			abort();
	}
	if (c->plugged_size != count * BLOCK || c->plugged_size > c->region_size ||
	    c->usable_region_size > c->region_size || c->requested_size > c->region_size)
		abort();
	for (k = 0; k < TOTAL / SLOT; k++)
		if (!!mem.hp.slot_on[k] !=
		    (guest_mem_hp_count(&mem, k * (SLOT / BLOCK), SLOT / BLOCK) > 0))
			abort();
}

/* One chain: a 24-byte request cut into the step's shape. */
static void chain(uint8_t shape, const uint8_t req[24])
{
	static const uint32_t out_lens[8][2] = { { 24, 0 }, { 8, 16 }, { 23, 0 }, { 24, 0 },
						 { 1, 23 }, { 24, 0 }, { 0, 0 },  { 12, 12 } };
	static const uint32_t in_lens[4][2] = { { 10, 0 }, { 4, 6 }, { 9, 0 }, { 0, 0 } };
	const uint32_t *ol = out_lens[shape & 7], *il = in_lens[(shape >> 3) & 3];
	struct virtq_elem e = { 0 };
	uint8_t copy[24];
	char why[160];
	size_t off = 0;
	uint32_t used;

	for (int i = 0; i < 2; i++)
		if (ol[i]) {
			e.iov[e.out_num].iov_base = malloc(ol[i]);
			if (!e.iov[e.out_num].iov_base)
				abort();
			memcpy(e.iov[e.out_num].iov_base, req + off, ol[i]);
			e.iov[e.out_num++].iov_len = ol[i];
			off += ol[i];
			e.out_len += ol[i];
		}
	memcpy(copy, req, sizeof(copy));
	for (int i = 0; i < 2; i++)
		if (il[i]) {
			e.iov[e.out_num + e.in_num].iov_base = calloc(1, il[i]);
			if (!e.iov[e.out_num + e.in_num].iov_base)
				abort();
			e.iov[e.out_num + e.in_num++].iov_len = il[i];
			e.in_len += il[i];
		}
	used = virtio_mem_handle(dev, &e, why, sizeof(why));
	if ((used == 10) != (e.out_len >= 24 && e.in_len >= 10) || (used != 0 && used != 10))
		abort();
	off = 0;
	for (unsigned int i = 0; i < e.out_num; i++) {
		if (memcmp(e.iov[i].iov_base, copy + off, e.iov[i].iov_len))
			abort();
		off += e.iov[i].iov_len;
	}
	for (unsigned int i = 0; i < e.out_num + e.in_num; i++)
		free(e.iov[i].iov_base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_mem_config *c;
	uint8_t req[24] = { 0 };
	char why[256];

	if (!dev)
		setup();
	/* Every input starts from an empty device. */
	c = (struct virtio_mem_config *)virtio_mem_dev(dev)->config;
	guest_mem_hp_set(&mem, -1, 0, NBLOCKS, false);
	c->plugged_size = c->usable_region_size = c->requested_size = 0;
	for (; size >= STEP_LEN; data += STEP_LEN, size -= STEP_LEN) {
		uint64_t addr = le(data + 1, 8);
		uint16_t nb = (uint16_t)le(data + 9, 2), type = (uint16_t)le(data + 11, 2);

		if ((data[0] >> 5) == 7) {
			/* The host's size: a number of MiB, any. */
			virtio_mem_request(dev, (uint32_t)addr, why, sizeof(why));
			check();
			continue;
		}
		/* Mostly addresses inside the region, sometimes anything. */
		if (!(data[0] & 0x80))
			addr = HP_GPA + addr % TOTAL;
		memset(req, 0, sizeof(req));
		/* Mostly the four types (and one past them), sometimes any. */
		if (!(type & 0x8000))
			type %= 5;
		req[0] = (uint8_t)type;
		req[1] = (uint8_t)(type >> 8);
		for (int i = 0; i < 8; i++)
			req[8 + i] = (uint8_t)(addr >> (8 * i));
		req[16] = (uint8_t)nb;
		req[17] = (uint8_t)(nb >> 8);
		chain(data[0], req);
		check();
	}
	return 0;
}
