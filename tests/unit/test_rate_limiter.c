/* The token buckets and the rate limiter, with Firecracker's own test cases
 * (src/vmm/src/rate_limiter/mod.rs): the bucket math with an injected clock
 * (no sleeps), the limiter's timer with the real one, and the configuration
 * in JSON and on the CLI. */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/rate_limiter.h"

#define MS 1000000ULL

static uint64_t fake_now;

static uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

Test(token_bucket, auto_replenish_one)
{
	struct token_bucket tb;
	uint64_t t = 1000 * MS;

	/* 1 token every 100 ms. */
	cr_assert(token_bucket_init(&tb, 10, 0, 1000, t));
	token_bucket_reduce(&tb, 10, t, NULL);
	cr_assert_eq(tb.budget, 0);
	token_bucket_auto_replenish(&tb, t += 10 * MS);
	cr_assert_eq(tb.budget, 0);
	token_bucket_auto_replenish(&tb, t += 10 * MS);
	cr_assert_eq(tb.budget, 0);
	token_bucket_auto_replenish(&tb, t += 80 * MS);
	cr_assert_eq(tb.budget, 1);
	token_bucket_auto_replenish(&tb, t += 400 * MS);
	cr_assert_eq(tb.budget, 5);
	token_bucket_auto_replenish(&tb, t += 1000 * MS);
	cr_assert_eq(tb.budget, 10);
}

Test(token_bucket, auto_replenish_two)
{
	struct token_bucket tb;
	uint64_t t0 = 5 * MS, t;

	cr_assert(token_bucket_init(&tb, 1000, 0, 1000, t0));
	token_bucket_reduce(&tb, 1000, t0, NULL);
	cr_assert_eq(tb.budget, 0);
	/* Many small steps: the fractions of tokens carry over, none is lost. */
	for (t = t0; t < t0 + 1000 * MS; t += 37123)
		token_bucket_auto_replenish(&tb, t);
	token_bucket_auto_replenish(&tb, t0 + 1000 * MS);
	cr_assert_eq(tb.budget, 1000);
}

Test(token_bucket, fractions_carry_over)
{
	struct token_bucket tb;

	/* 1 token per ms: 1.8 ms gives 1, then 1.5 ms more gives 2 (3.3 in all). */
	cr_assert(token_bucket_init(&tb, 1000, 0, 1000, 0));
	token_bucket_reduce(&tb, 1000, 0, NULL);
	token_bucket_auto_replenish(&tb, 1800000);
	cr_assert_eq(tb.budget, 1);
	token_bucket_auto_replenish(&tb, 3300000);
	cr_assert_eq(tb.budget, 3);
}

Test(token_bucket, create)
{
	struct token_bucket tb;

	cr_assert(token_bucket_init(&tb, 1000, 0, 1000, 42));
	cr_assert_eq(tb.size, 1000);
	cr_assert_eq(tb.budget, 1000);
	cr_assert_eq(tb.last_update, 42);
	cr_assert_eq(tb.processed_capacity, 1);
	cr_assert_eq(tb.processed_refill_time, 1000000);
	cr_assert_not(token_bucket_init(&tb, 0, 1234, 1000, 0));
	cr_assert_not(token_bucket_init(&tb, 100, 1234, 0, 0));
	cr_assert_not(token_bucket_init(&tb, 0, 1234, 0, 0));
	cr_assert_not(token_bucket_init(&tb, 100, 0, UINT64_MAX / 1000, 0));
}

Test(token_bucket, preprocess)
{
	struct token_bucket tb;
	uint64_t thousand = 1000;

	cr_assert(token_bucket_init(&tb, 1000, 0, 1000, 0));
	cr_assert_eq(tb.processed_capacity, 1);
	cr_assert_eq(tb.processed_refill_time, MS);
	cr_assert(token_bucket_init(&tb, 3 * 7 * 11 * 19 * thousand, 0, 7 * 11 * 13 * 17, 0));
	cr_assert_eq(tb.processed_capacity, 3 * 19);
	cr_assert_eq(tb.processed_refill_time, 13 * 17 * (MS / thousand));
}

Test(token_bucket, reduce)
{
	struct token_bucket tb;
	uint64_t t = 0;
	double ratio = 0;

	/* 1 token per ms. */
	cr_assert(token_bucket_init(&tb, 1000, 0, 1000, t));
	cr_assert_eq(token_bucket_reduce(&tb, 123, t, NULL), BUCKET_SUCCESS);
	cr_assert_eq(tb.budget, 1000 - 123);
	cr_assert_eq(token_bucket_reduce(&tb, 1000, t, NULL), BUCKET_FAILURE);

	/* The one-time burst first, then the budget. */
	cr_assert(token_bucket_init(&tb, 1000, 1100, 1000, t));
	cr_assert_eq(token_bucket_reduce(&tb, 1000, t, NULL), BUCKET_SUCCESS);
	cr_assert_eq(tb.one_time_burst, 100);
	cr_assert_eq(token_bucket_reduce(&tb, 500, t, NULL), BUCKET_SUCCESS);
	cr_assert_eq(tb.one_time_burst, 0);
	cr_assert_eq(tb.budget, 600);
	cr_assert_eq(token_bucket_reduce(&tb, 500, t, NULL), BUCKET_SUCCESS);
	cr_assert_eq(token_bucket_reduce(&tb, 500, t, NULL), BUCKET_FAILURE);
	t += 500 * MS;
	cr_assert_eq(token_bucket_reduce(&tb, 500, t, NULL), BUCKET_SUCCESS);
	t += 1000 * MS;
	/* More than the bucket: it empties and tells by how much (1.5 sizes). */
	cr_assert_eq(token_bucket_reduce(&tb, 2500, t, &ratio), BUCKET_OVERCONSUMPTION);
	cr_assert_float_eq(ratio, 1.5, 1e-9);
	cr_assert_eq(tb.budget, 0);
}

Test(token_bucket, a_failure_consumes_nothing)
{
	struct token_bucket tb;

	cr_assert(token_bucket_init(&tb, 100, 0, 1000, 0));
	cr_assert_eq(token_bucket_reduce(&tb, 60, 0, NULL), BUCKET_SUCCESS);
	cr_assert_eq(token_bucket_reduce(&tb, 60, 0, NULL), BUCKET_FAILURE);
	cr_assert_eq(tb.budget, 40);
	/* 200 ms: 20 tokens more. */
	cr_assert_eq(token_bucket_reduce(&tb, 60, 200 * MS, NULL), BUCKET_SUCCESS);
	cr_assert_eq(tb.budget, 0);
}

Test(token_bucket, force_replenish)
{
	struct token_bucket tb;

	cr_assert(token_bucket_init(&tb, 1000, 0, 1000, 0));
	token_bucket_reduce(&tb, 123, 0, NULL);
	token_bucket_force_replenish(&tb, 23);
	cr_assert_eq(tb.budget, 900);
	token_bucket_force_replenish(&tb, 5000);
	cr_assert_eq(tb.budget, 1000);
	/* During the burst, the burst is what comes back, up to its start. */
	cr_assert(token_bucket_init(&tb, 1000, 100, 1000, 0));
	token_bucket_reduce(&tb, 50, 0, NULL);
	token_bucket_force_replenish(&tb, 20);
	cr_assert_eq(tb.one_time_burst, 70);
	token_bucket_force_replenish(&tb, 2000);
	cr_assert_eq(tb.one_time_burst, 100);
}

/* --- the limiter --------------------------------------------------------------- */

static struct rl_config rl_cfg(uint64_t bs, uint64_t bb, uint64_t bt, uint64_t os, uint64_t ob,
			       uint64_t ot)
{
	return (struct rl_config){ .bandwidth = { bs, bb, bt }, .ops = { os, ob, ot } };
}

static void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

Test(rate_limiter, default_is_unlimited)
{
	struct rl_config c = { 0 };
	struct rate_limiter l;

	cr_assert_eq(rate_limiter_init(&l, &c), 0);
	cr_assert_not(rate_limiter_enabled(&l));
	cr_assert_not(rate_limiter_is_blocked(&l));
	cr_assert(rate_limiter_consume(&l, UINT64_MAX, RL_OPS));
	cr_assert(rate_limiter_consume(&l, UINT64_MAX, RL_BYTES));
	cr_assert_eq(rate_limiter_event(&l), -EAGAIN, "spurious event");
	rate_limiter_destroy(&l);
}

Test(rate_limiter, new)
{
	struct rl_config c = rl_cfg(1000, 1001, 1002, 1003, 1004, 1005), back;
	struct rate_limiter l;

	cr_assert_eq(rate_limiter_init(&l, &c), 0);
	cr_assert_eq(l.bw.size, 1000);
	cr_assert_eq(l.bw.one_time_burst, 1001);
	cr_assert_eq(l.bw.refill_time, 1002);
	cr_assert_eq(l.bw.budget, 1000);
	cr_assert_eq(l.ops.size, 1003);
	cr_assert_eq(l.ops.one_time_burst, 1004);
	cr_assert_eq(l.ops.refill_time, 1005);
	cr_assert_eq(l.ops.budget, 1003);
	rate_limiter_config(&l, &back);
	cr_assert_eq(memcmp(&back, &c, sizeof(c)), 0);
	rate_limiter_destroy(&l);
}

Test(rate_limiter, manual_replenish)
{
	struct rl_config c = rl_cfg(1000, 0, 1000, 1000, 0, 1000);
	struct rate_limiter l;

	cr_assert_eq(rate_limiter_init(&l, &c), 0);
	l.clock = fake_clock;
	cr_assert(rate_limiter_consume(&l, 123, RL_BYTES));
	rate_limiter_replenish(&l, 23, RL_BYTES);
	cr_assert_eq(l.bw.budget, 900);
	cr_assert(rate_limiter_consume(&l, 123, RL_OPS));
	rate_limiter_replenish(&l, 23, RL_OPS);
	cr_assert_eq(l.ops.budget, 900);
	rate_limiter_destroy(&l);
}

/* Blocks on a failed consume, stays blocked half the 100 ms refill timer, and
 * the timer's event unblocks it. */
static uint64_t mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void blocks_then_unblocks(struct rl_config c, bool bytes, bool ops)
{
	struct rate_limiter l;
	struct pollfd p;
	uint64_t t0;
	bool blocked;
	int ev;

	cr_assert_eq(rate_limiter_init(&l, &c), 0);
	cr_assert_gt(l.timer_fd, 0);
	if (!bytes)
		cr_assert(rate_limiter_consume(&l, UINT64_MAX, RL_BYTES));
	if (!ops)
		cr_assert(rate_limiter_consume(&l, UINT64_MAX, RL_OPS));
	if (ops)
		cr_assert(rate_limiter_consume(&l, 1000, RL_OPS));
	if (bytes)
		cr_assert(rate_limiter_consume(&l, 1000, RL_BYTES));
	/* Before the consume that arms the timer: it cannot expire before
	 * t0 + 100 ms. */
	t0 = mono_ms();
	cr_assert_not(rate_limiter_consume(&l, 100, ops ? RL_OPS : RL_BYTES));
	if (bytes && ops)
		cr_assert_not(rate_limiter_consume(&l, 100, RL_BYTES));
	cr_assert(rate_limiter_is_blocked(&l));
	msleep(55);
	/* Half the timer: still blocked. The clock is read after the timer is:
	 * a host too busy to be back within the timer's 100 ms (a loaded CI
	 * machine, the ASan build) says nothing. */
	blocked = rate_limiter_is_blocked(&l);
	ev = rate_limiter_event(&l);
	if (mono_ms() - t0 < 95) {
		cr_assert(blocked);
		cr_assert_eq(ev, -EAGAIN);
	}
	/* The timer's event unblocks it (read above already, on a slow host). */
	if (ev) {
		p = (struct pollfd){ .fd = l.timer_fd, .events = POLLIN };
		cr_assert_eq(poll(&p, 1, 1000), 1);
		cr_assert_eq(rate_limiter_event(&l), 0);
	}
	cr_assert_not(rate_limiter_is_blocked(&l));
	if (ops)
		cr_assert(rate_limiter_consume(&l, 100, RL_OPS));
	if (bytes)
		cr_assert(rate_limiter_consume(&l, 100, RL_BYTES));
	rate_limiter_destroy(&l);
}

Test(rate_limiter, bandwidth)
{
	blocks_then_unblocks(rl_cfg(1000, 0, 1000, 0, 0, 0), true, false);
}

Test(rate_limiter, ops)
{
	blocks_then_unblocks(rl_cfg(0, 0, 0, 1000, 0, 1000), false, true);
}

Test(rate_limiter, full)
{
	blocks_then_unblocks(rl_cfg(1000, 0, 1000, 1000, 0, 1000), true, true);
}

Test(rate_limiter, overconsumption)
{
	struct rl_config c = rl_cfg(1000, 0, 1000, 1000, 0, 1000);
	struct rate_limiter l;

	/* 1.5 sizes: blocked 500 ms, and a failed consume does not re-arm the
	 * timer for only 100 ms. */
	cr_assert_eq(rate_limiter_init(&l, &c), 0);
	cr_assert(rate_limiter_consume(&l, 1500, RL_BYTES));
	msleep(200);
	cr_assert_eq(rate_limiter_event(&l), -EAGAIN);
	cr_assert(rate_limiter_is_blocked(&l));
	cr_assert_not(rate_limiter_consume(&l, 100, RL_BYTES));
	msleep(100);
	cr_assert_eq(rate_limiter_event(&l), -EAGAIN);
	cr_assert(rate_limiter_is_blocked(&l));
	cr_assert_not(rate_limiter_consume(&l, 100, RL_BYTES));
	msleep(250);
	cr_assert_eq(rate_limiter_event(&l), 0);
	cr_assert_not(rate_limiter_is_blocked(&l));
	cr_assert(rate_limiter_consume(&l, 100, RL_BYTES));
	rate_limiter_destroy(&l);
}

Test(rate_limiter, update_buckets)
{
	struct rl_config c = rl_cfg(1000, 2000, 1000, 10, 20, 1000), u = { 0 }, back;
	struct rate_limiter l;

	cr_assert_eq(rate_limiter_init(&l, &c), 0);
	/* Nothing given: nothing changes. */
	rate_limiter_update(&l, &u);
	rate_limiter_config(&l, &back);
	cr_assert_eq(memcmp(&back, &c, sizeof(c)), 0);
	/* Both given: both replaced, full. */
	u = rl_cfg(123, 0, 57, 321, 12346, 89);
	u.given_bw = u.given_ops = true;
	cr_assert(rate_limiter_consume(&l, 2500, RL_BYTES));
	rate_limiter_update(&l, &u);
	cr_assert_eq(l.bw.budget, 123);
	cr_assert_eq(l.ops.one_time_burst, 12346);
	rate_limiter_config(&l, &back);
	u.given_bw = u.given_ops = false;
	cr_assert_eq(memcmp(&back, &u, sizeof(u)), 0);
	/* Only ops given, and disabled: bandwidth stays. */
	u = rl_cfg(0, 0, 0, 0, 0, 0);
	u.given_ops = true;
	rate_limiter_update(&l, &u);
	cr_assert(l.has_bw);
	cr_assert_not(l.has_ops);
	u.given_bw = true;
	rate_limiter_update(&l, &u);
	cr_assert_not(rate_limiter_enabled(&l));
	rate_limiter_destroy(&l);
}

/* --- configuration -------------------------------------------------------------- */

static int from_json(const char *text, struct rl_config *c, char *why)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
	int err;

	cr_assert(j, "test bug: %s", text);
	err = rl_config_from_json(j, "drive: rate_limiter", c, why, 256);
	json_decref(j);
	return err;
}

static void json_rejected(const char *text, const char *reason)
{
	struct rl_config c;
	char why[256] = "";

	cr_assert_eq(from_json(text, &c, why), -EINVAL, "%s accepted", text);
	cr_assert(strstr(why, reason), "%s: '%s' lacks '%s'", text, why, reason);
	cr_assert(!strncmp(why, "drive: rate_limiter", 19), "%s", why);
}

Test(rl_config, json)
{
	struct rl_config c;
	char why[256] = "";
	char *s;
	json_t *j;

	cr_assert_eq(from_json("null", &c, why), 0, "%s", why);
	cr_assert_not(rl_config_enabled(&c));
	cr_assert_eq(from_json("{}", &c, why), 0, "%s", why);
	cr_assert_not(rl_config_enabled(&c));
	cr_assert_not(c.given_bw || c.given_ops);
	cr_assert_eq(from_json("{\"bandwidth\": null, \"ops\": {\"size\": 100, "
			       "\"refill_time\": 1000}}",
			       &c, why),
		     0, "%s", why);
	cr_assert(c.given_ops && !c.given_bw);
	cr_assert_eq(c.ops.size, 100);
	cr_assert_eq(c.ops.one_time_burst, 0);
	cr_assert_eq(c.ops.refill_time, 1000);
	cr_assert_eq(from_json("{\"bandwidth\": {\"size\": 5, \"one_time_burst\": 7, "
			       "\"refill_time\": 9}}",
			       &c, why),
		     0, "%s", why);
	cr_assert_eq(c.bandwidth.size, 5);
	cr_assert_eq(c.bandwidth.one_time_burst, 7);
	cr_assert_eq(c.bandwidth.refill_time, 9);
	j = rl_config_to_json(&c);
	s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	cr_assert_str_eq(s, "{\"bandwidth\":{\"one_time_burst\":7,\"refill_time\":9,\"size\":5},"
			    "\"ops\":null}");
	free(s);
	json_decref(j);
	/* A bucket of size 0 is no bucket (disabled), as in Firecracker. */
	cr_assert_eq(from_json("{\"ops\": {\"size\": 0, \"refill_time\": 100}}", &c, why), 0);
	cr_assert(c.given_ops);
	cr_assert_not(rl_config_enabled(&c));
	j = rl_config_to_json(&c);
	cr_assert(json_is_null(j));
	json_decref(j);
}

/* A whole configuration has one form, whichever way it came: the fuzzer
 * (fuzz_fields) found a spec's bw= and the same limiter through JSON give
 * different bytes (given flags), and a disabled bucket's leftover burst. */
Test(rl_config, canonical)
{
	struct rl_config c = rl_cfg(0, 5, 0, 3, 0, 9), patch = { 0 }, back;
	char why[256] = "";
	json_t *j;

	c.given_bw = c.given_ops = true;
	rl_config_canonical(&c);
	cr_assert_eq(memcmp(&c, &(struct rl_config){ .ops = { 3, 0, 9 } }, sizeof(c)), 0);
	j = rl_config_to_json(&c);
	cr_assert_eq(rl_config_from_json(j, "x", &back, why, sizeof(why)), 0, "%s", why);
	json_decref(j);
	rl_config_canonical(&back);
	cr_assert_eq(memcmp(&back, &c, sizeof(c)), 0);
	/* A merge leaves its destination canonical: a patch's disabled bucket
	 * with a burst leaves nothing behind. */
	patch = rl_cfg(0, 7, 0, 0, 0, 0);
	patch.given_bw = true;
	rl_config_merge(&c, &patch);
	cr_assert_eq(memcmp(&c, &(struct rl_config){ .ops = { 3, 0, 9 } }, sizeof(c)), 0);
}

Test(rl_config, json_errors)
{
	json_rejected("[]", "expected a JSON object or null");
	json_rejected("{\"bw\": {}}", "unknown field `bw`, expected `bandwidth` or `ops`");
	json_rejected("{\"ops\": {\"refill_time\": 100}}", "ops: missing required field 'size'");
	json_rejected("{\"ops\": {\"size\": 100}}", "ops: missing required field 'refill_time'");
	json_rejected("{\"ops\": {\"size\": -1, \"refill_time\": 1}}", "size: -1 is out of range");
	json_rejected("{\"ops\": {\"size\": \"1\", \"refill_time\": 1}}",
		      "size: expected an unsigned integer");
	json_rejected("{\"ops\": 3}", "ops: expected a JSON object");
}

/* Firecracker's TokenBucketConfig: other keys ignored; a refill time whose
 * nanoseconds overflow u64 makes no bucket (TokenBucket::new), no error. */
Test(rl_config, json_as_firecracker_reads_a_bucket)
{
	struct rl_config c;
	char why[256] = "";

	cr_assert_eq(
		from_json("{\"bandwidth\": {\"size\": 1, \"refill_time\": 1, \"x\": 1}}", &c, why),
		0, "%s", why);
	cr_assert_eq(c.bandwidth.size, 1);
	cr_assert_eq(c.bandwidth.refill_time, 1);
	cr_assert_eq(from_json("{\"ops\": {\"size\": 5, \"refill_time\": 9223372036854775807}, "
			       "\"bandwidth\": {\"size\": 7, \"refill_time\": 18446744073709}}",
			       &c, why),
		     0, "%s", why);
	cr_assert_not(rl_bucket_config_enabled(&c.ops));
	cr_assert_eq(c.bandwidth.refill_time, 18446744073709ULL, "the last that fits stays");
}

Test(rl_config, cli_bucket)
{
	struct rl_bucket_config b;
	char why[256];

	cr_assert_eq(rl_bucket_parse("10M/1000", &b, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(b.size, 10 << 20);
	cr_assert_eq(b.refill_time, 1000);
	cr_assert_eq(b.one_time_burst, 0);
	cr_assert_eq(rl_bucket_parse("100/10+1K", &b, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(b.size, 100);
	cr_assert_eq(b.refill_time, 10);
	cr_assert_eq(b.one_time_burst, 1024);
	cr_assert_eq(rl_bucket_parse("9223372036854775807/10", &b, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(b.size, INT64_MAX);
	cr_assert_eq(rl_bucket_parse("off", &b, why, sizeof(why)), 0);
	cr_assert_not(rl_bucket_config_enabled(&b));
	const char *bad[] = { "", "100", "/100", "100/", "0/100", "100/0", "100/1s", "100/10+",
			      "x/10", "100/10+y", "-1/10",
			      /* Beyond JSON's range (found by fuzz_fields). */
			      "9223372036854775808/10", "1/10+16923147567684212050" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(rl_bucket_parse(bad[i], &b, why, sizeof(why)), -EINVAL, "'%s'",
			     bad[i]);
		cr_assert(strstr(why, "expected SIZE/MS"), "%s", why);
	}
}
