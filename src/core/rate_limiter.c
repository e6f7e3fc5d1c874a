#include "core/rate_limiter.h"

#include "util/parse.h"
#include "util/why.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_MS 1000000ULL

bool rl_bucket_config_enabled(const struct rl_bucket_config *b)
{
	return b->size && b->refill_time && b->refill_time <= UINT64_MAX / NS_PER_MS;
}

bool rl_config_enabled(const struct rl_config *c)
{
	return rl_bucket_config_enabled(&c->bandwidth) || rl_bucket_config_enabled(&c->ops);
}

void rl_config_canonical(struct rl_config *c)
{
	if (!rl_bucket_config_enabled(&c->bandwidth))
		memset(&c->bandwidth, 0, sizeof(c->bandwidth));
	if (!rl_bucket_config_enabled(&c->ops))
		memset(&c->ops, 0, sizeof(c->ops));
	c->given_bw = c->given_ops = false;
}

void rl_config_merge(struct rl_config *dst, const struct rl_config *patch)
{
	if (patch->given_bw)
		dst->bandwidth = patch->bandwidth;
	if (patch->given_ops)
		dst->ops = patch->ops;
	rl_config_canonical(dst);
}

/* --- configuration ------------------------------------------------------------ */

int rl_bucket_from_json(json_t *j, const char *prefix, const char *name,
			struct rl_bucket_config *out, char *why, size_t why_size)
{
	static const char *const keys[] = { "size", "one_time_burst", "refill_time" };
	uint64_t *dst[] = { &out->size, &out->one_time_burst, &out->refill_time };
	json_t *v;

	if (!json_is_object(j))
		return why_fail(why, why_size, -EINVAL, "%s: %s: expected a JSON object, got %s",
				prefix, name, json_is_integer(j) ? "an integer" : "another type");
	/* Firecracker's TokenBucketConfig is not deny_unknown_fields: other
	 * keys are ignored. */
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < 3; i++) {
		json_int_t n;

		v = json_object_get(j, keys[i]);
		if (!v || json_is_null(v)) {
			/* one_time_burst is an Option<u64>; the others are u64s. */
			if (i != 1)
				return why_fail(why, why_size, -EINVAL,
						"%s: %s: missing required field '%s'", prefix, name,
						keys[i]);
			continue;
		}
		if (!json_is_integer(v))
			return why_fail(why, why_size, -EINVAL,
					"%s: %s: %s: expected an unsigned integer", prefix, name,
					keys[i]);
		n = json_integer_value(v);
		if (n < 0)
			return why_fail(why, why_size, -EINVAL,
					"%s: %s: %s: %" JSON_INTEGER_FORMAT
					" is out of range (0 to %" PRIu64 ")",
					prefix, name, keys[i], n, (uint64_t)INT64_MAX);
		*dst[i] = (uint64_t)n;
	}
	/* A refill time whose nanoseconds overflow makes no bucket in
	 * Firecracker (TokenBucket::new's checked_mul): no limit, as size 0. */
	if (out->refill_time > UINT64_MAX / NS_PER_MS)
		memset(out, 0, sizeof(*out));
	return 0;
}

int rl_config_from_json(json_t *j, const char *prefix, struct rl_config *out, char *why,
			size_t why_size)
{
	struct rl_config c = { 0 };
	const char *key;
	json_t *v;
	int err;

	if (!j || json_is_null(j)) {
		*out = c;
		return 0;
	}
	if (!json_is_object(j))
		return why_fail(why, why_size, -EINVAL, "%s: expected a JSON object or null",
				prefix);
	json_object_foreach(j, key, v)
	{
		if (strcmp(key, "bandwidth") && strcmp(key, "ops"))
			return why_fail(why, why_size, -EINVAL,
					"%s: unknown field `%s`, expected `bandwidth` or `ops`",
					prefix, key);
	}
	v = json_object_get(j, "bandwidth");
	if (v && !json_is_null(v)) {
		if ((err = rl_bucket_from_json(v, prefix, "bandwidth", &c.bandwidth, why,
					       why_size)))
			return err;
		c.given_bw = true;
	}
	v = json_object_get(j, "ops");
	if (v && !json_is_null(v)) {
		if ((err = rl_bucket_from_json(v, prefix, "ops", &c.ops, why, why_size)))
			return err;
		c.given_ops = true;
	}
	*out = c;
	return 0;
}

json_t *rl_bucket_to_json(const struct rl_bucket_config *b)
{
	if (!rl_bucket_config_enabled(b))
		return json_null();
	return json_pack("{s:I,s:o,s:I}", "size", (json_int_t)b->size, "one_time_burst",
			 b->one_time_burst ? json_integer((json_int_t)b->one_time_burst)
					   : json_null(),
			 "refill_time", (json_int_t)b->refill_time);
}

json_t *rl_config_to_json(const struct rl_config *c)
{
	if (!rl_config_enabled(c))
		return json_null();
	return json_pack("{s:o,s:o}", "bandwidth", rl_bucket_to_json(&c->bandwidth), "ops",
			 rl_bucket_to_json(&c->ops));
}

static int parse_count(const char *s, size_t len, uint64_t *out)
{
	char buf[32];

	if (!len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	/* JSON's range (jansson's integers are signed), so that a spec's
	 * limiter can be shown and given back through the API. */
	if (parse_size(buf, 1, out) || *out > INT64_MAX)
		return -EINVAL;
	return 0;
}

int rl_bucket_parse(const char *s, struct rl_bucket_config *out, char *why, size_t why_size)
{
	const char *slash, *plus, *end = s + strlen(s);
	struct rl_bucket_config b = { 0 };
	uint64_t ms;

	if (!strcmp(s, "0") || !strcmp(s, "off")) {
		*out = b;
		return 0;
	}
	slash = strchr(s, '/');
	if (!slash)
		goto bad;
	plus = strchr(slash, '+');
	if (parse_count(s, (size_t)(slash - s), &b.size) ||
	    parse_count(slash + 1, (size_t)((plus ? plus : end) - slash - 1), &ms) ||
	    (plus && parse_count(plus + 1, (size_t)(end - plus - 1), &b.one_time_burst)))
		goto bad;
	/* The time is plain milliseconds: no suffix. */
	for (const char *p = slash + 1; p < (plus ? plus : end); p++)
		if (*p < '0' || *p > '9')
			goto bad;
	if (!b.size || !ms || ms > UINT64_MAX / NS_PER_MS)
		goto bad;
	b.refill_time = ms;
	*out = b;
	return 0;
bad:
	return why_fail(why, why_size, -EINVAL,
			"'%s': expected SIZE/MS or SIZE/MS+BURST (size and burst above 0 and "
			"at most 2^63-1, MS milliseconds above 0), or off",
			s);
}

/* --- the token bucket --------------------------------------------------------- */

static uint64_t gcd(uint64_t x, uint64_t y)
{
	while (y) {
		uint64_t t = y;

		y = x % y;
		x = t;
	}
	return x;
}

bool token_bucket_init(struct token_bucket *tb, uint64_t size, uint64_t one_time_burst,
		       uint64_t refill_time_ms, uint64_t now)
{
	uint64_t refill_ns, f;

	if (!size || !refill_time_ms || refill_time_ms > UINT64_MAX / NS_PER_MS)
		return false;
	refill_ns = refill_time_ms * NS_PER_MS;
	f = gcd(size, refill_ns);
	*tb = (struct token_bucket){
		.size = size,
		.initial_one_time_burst = one_time_burst,
		.refill_time = refill_time_ms,
		.one_time_burst = one_time_burst,
		.budget = size,
		.last_update = now,
		.processed_capacity = size / f,
		.processed_refill_time = refill_ns / f,
	};
	return true;
}

void token_bucket_auto_replenish(struct token_bucket *tb, uint64_t now)
{
	uint64_t delta = now > tb->last_update ? now - tb->last_update : 0;
	unsigned __int128 tokens, adjust, cap = tb->processed_capacity,
					  rt = tb->processed_refill_time;

	if (delta >= tb->refill_time * NS_PER_MS) {
		tb->budget = tb->size;
		tb->last_update = now;
		return;
	}
	tokens = (unsigned __int128)delta * cap / rt;
	/* The time the whole tokens took, rounded up: the fraction of a token
	 * carries over to the next refill. */
	adjust = tokens * rt / cap;
	if ((tokens * rt) % cap)
		adjust++;
	tb->last_update += (uint64_t)adjust;
	if ((uint64_t)tokens >= tb->size - tb->budget)
		tb->budget = tb->size;
	else
		tb->budget += (uint64_t)tokens;
}

enum bucket_reduction token_bucket_reduce(struct token_bucket *tb, uint64_t tokens, uint64_t now,
					  double *ratio)
{
	/* The one-time burst goes first. */
	if (tb->one_time_burst) {
		if (tb->one_time_burst >= tokens) {
			tb->one_time_burst -= tokens;
			tb->last_update = now;
			return BUCKET_SUCCESS;
		}
		tokens -= tb->one_time_burst;
		tb->one_time_burst = 0;
	}
	if (tokens > tb->budget) {
		token_bucket_auto_replenish(tb, now);
		/* More than the bucket holds: empty it and report by how much. */
		if (tokens > tb->size) {
			tokens -= tb->budget;
			tb->budget = 0;
			if (ratio)
				*ratio = (double)tokens / (double)tb->size;
			return BUCKET_OVERCONSUMPTION;
		}
		if (tokens > tb->budget)
			return BUCKET_FAILURE;
	}
	tb->budget -= tokens;
	return BUCKET_SUCCESS;
}

void token_bucket_force_replenish(struct token_bucket *tb, uint64_t tokens)
{
	if (tb->one_time_burst) {
		tb->one_time_burst = tokens >= tb->initial_one_time_burst - tb->one_time_burst
					     ? tb->initial_one_time_burst
					     : tb->one_time_burst + tokens;
		return;
	}
	tb->budget = tokens >= tb->size - tb->budget ? tb->size : tb->budget + tokens;
}

/* --- the rate limiter --------------------------------------------------------- */

static uint64_t now_ns(const struct rate_limiter *rl)
{
	struct timespec ts;

	if (rl->clock)
		return rl->clock(rl->clock_ctx);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void set_buckets(struct rate_limiter *rl, const struct rl_config *c, bool bw, bool ops)
{
	uint64_t now = now_ns(rl);

	if (bw)
		rl->has_bw =
			token_bucket_init(&rl->bw, c->bandwidth.size, c->bandwidth.one_time_burst,
					  c->bandwidth.refill_time, now);
	if (ops)
		rl->has_ops = token_bucket_init(&rl->ops, c->ops.size, c->ops.one_time_burst,
						c->ops.refill_time, now);
}

int rate_limiter_init(struct rate_limiter *rl, const struct rl_config *c)
{
	memset(rl, 0, sizeof(*rl));
	rl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (rl->timer_fd < 0)
		return -errno;
	set_buckets(rl, c, true, true);
	return 0;
}

void rate_limiter_destroy(struct rate_limiter *rl)
{
	if (rl->timer_fd >= 0)
		close(rl->timer_fd);
	rl->timer_fd = -1;
}

bool rate_limiter_enabled(const struct rate_limiter *rl)
{
	return rl->has_bw || rl->has_ops;
}

static void arm(struct rate_limiter *rl, uint64_t ms)
{
	struct itimerspec its = { 0 };

	/* 0 would disarm: at least a millisecond. */
	if (!ms)
		ms = 1;
	its.it_value.tv_sec = (time_t)(ms / 1000);
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (rl->timer_fd >= 0)
		timerfd_settime(rl->timer_fd, 0, &its, NULL);
	rl->timer_active = true;
}

bool rate_limiter_consume(struct rate_limiter *rl, uint64_t tokens, enum rl_token type)
{
	struct token_bucket *tb = type == RL_BYTES ? &rl->bw : &rl->ops;
	bool has = type == RL_BYTES ? rl->has_bw : rl->has_ops;
	double ratio = 0;

	if (rl->timer_active)
		return false;
	if (!has)
		return true;
	switch (token_bucket_reduce(tb, tokens, now_ns(rl), &ratio)) {
	case BUCKET_FAILURE:
		arm(rl, RL_REFILL_TIMER_MS);
		return false;
	case BUCKET_OVERCONSUMPTION:
		/* Borrowed ratio times the bucket: blocked as long as that takes to refill. */
		arm(rl, (uint64_t)(ratio * (double)tb->refill_time));
		return true;
	case BUCKET_SUCCESS:
		break;
	}
	return true;
}

void rate_limiter_replenish(struct rate_limiter *rl, uint64_t tokens, enum rl_token type)
{
	if (type == RL_BYTES && rl->has_bw)
		token_bucket_force_replenish(&rl->bw, tokens);
	else if (type == RL_OPS && rl->has_ops)
		token_bucket_force_replenish(&rl->ops, tokens);
}

bool rate_limiter_is_blocked(const struct rate_limiter *rl)
{
	return rl->timer_active;
}

bool rate_limiter_consume_op(struct rate_limiter *rl, uint64_t bytes)
{
	if (!rate_limiter_enabled(rl) && !rate_limiter_is_blocked(rl))
		return true;
	if (!rate_limiter_consume(rl, 1, RL_OPS))
		return false;
	if (bytes && !rate_limiter_consume(rl, bytes, RL_BYTES)) {
		rate_limiter_replenish(rl, 1, RL_OPS);
		return false;
	}
	return true;
}

int rate_limiter_event(struct rate_limiter *rl)
{
	uint64_t n;

	if (rl->timer_fd < 0 || read(rl->timer_fd, &n, sizeof(n)) != sizeof(n))
		return -EAGAIN;
	rl->timer_active = false;
	return 0;
}

void rate_limiter_update(struct rate_limiter *rl, const struct rl_config *c)
{
	set_buckets(rl, c, c->given_bw, c->given_ops);
}

void rate_limiter_config(const struct rate_limiter *rl, struct rl_config *out)
{
	memset(out, 0, sizeof(*out));
	if (rl->has_bw)
		out->bandwidth =
			(struct rl_bucket_config){ rl->bw.size, rl->bw.initial_one_time_burst,
						   rl->bw.refill_time };
	if (rl->has_ops)
		out->ops = (struct rl_bucket_config){ rl->ops.size, rl->ops.initial_one_time_burst,
						      rl->ops.refill_time };
}
