/* virtio-rng under a rate limiter, driven like a driver (virtio_rig.h): the
 * buffers beyond the budget wait in the avail ring for the limiter's timer,
 * and every one is filled in the end. */
#include <criterion/criterion.h>

#include "devices/virtio/virtio_rng.h"
#include "virtio_rig.h"

static struct virtio_rng *rng_rig(struct rig *r, const struct rl_config *rl)
{
	struct rng_config c = { .rate_limiter = *rl };
	struct virtio_rng *v = NULL;

	rig_init(r);
	cr_assert_eq(virtio_rng_create(&v, &c, &r->env, RIG_BASE, 5), 0);
	r->d = virtio_rng_dev(v);
	rig_driver_ok(r, 1);
	return v;
}

static void bufs(struct rig *r, unsigned int n, uint32_t len)
{
	for (unsigned int i = 0; i < n; i++) {
		struct rig_seg s = { RIG_DATA + i * 4096ULL, len, true };

		rig_chain(r, 0, &s, 1, false);
	}
}

Test(rng_rate_limit, bytes_park_the_queue_until_the_timer, .timeout = 20)
{
	struct rl_config rl = { .bandwidth = { 64, 0, 100 } };
	struct rig r;
	struct virtio_rng *v = rng_rig(&r, &rl);
	uint64_t t0;

	bufs(&r, 6, 32);
	t0 = rig_ms();
	rig_kick(&r, 0);
	cr_assert(rig_wait_used(&r, 0, 2, 1000));
	rig_sleep_ms(40);
	cr_assert_eq(rig_used(&r, 0), 2, "64 bytes at once");
	cr_assert(rig_wait_used(&r, 0, 6, 3000), "used %u", rig_used(&r, 0));
	cr_assert_geq(rig_ms() - t0, 180);
	rig_stop(&r);
	virtio_rng_destroy(v);
	rig_free(&r);
}

Test(rng_rate_limit, ops_and_a_buffer_larger_than_the_bucket, .timeout = 20)
{
	/* 100 bytes per 100 ms, a 250-byte buffer: it goes through (the bucket
	 * over-consumed) and the next waits 1.5 refills. */
	struct rl_config rl = { .bandwidth = { 100, 0, 100 } };
	struct rig r;
	struct virtio_rng *v = rng_rig(&r, &rl);
	uint64_t t0;

	bufs(&r, 2, 250);
	t0 = rig_ms();
	rig_kick(&r, 0);
	cr_assert(rig_wait_used(&r, 0, 1, 1000));
	cr_assert(rig_wait_used(&r, 0, 2, 3000));
	cr_assert_geq(rig_ms() - t0, 140, "took %llu ms", (unsigned long long)(rig_ms() - t0));
	rig_stop(&r);
	virtio_rng_destroy(v);
	rig_free(&r);
}

Test(rng_rate_limit, none_by_default)
{
	struct rl_config rl = { 0 };
	struct rig r;
	struct virtio_rng *v = rng_rig(&r, &rl);

	bufs(&r, 40, 64);
	rig_kick(&r, 0);
	cr_assert(rig_wait_used(&r, 0, 40, 2000));
	rig_stop(&r);
	virtio_rng_destroy(v);
	rig_free(&r);
}
