/* Firecracker's rate limiters: two token buckets, bandwidth (bytes) and ops
 * (requests, frames), refilled in proportion to the time that passed and
 * consumed before a device takes a request. A bucket of `size` tokens fills
 * from empty in `refill_time` ms; it starts full; `one_time_burst` tokens are
 * extra credit spent first that never come back. A request larger than the
 * bucket is let through: it empties the bucket and blocks the limiter for as
 * long as the extra would take to refill (Firecracker's over-consumption).
 * When a request does not fit, the limiter blocks: its timerfd is armed
 * (100 ms, Firecracker's REFILL_TIMER_DURATION) and the device parks the
 * queue until the timer fires on the device thread; nothing is dropped.
 *
 * The bucket math is pure (times are passed in ns); the limiter reads
 * CLOCK_MONOTONIC unless a test injects a clock. Not thread-safe: the device
 * serializes it with its own lock (d->lock), the API thread's updates too. */
#ifndef VOLT_CORE_RATE_LIMITER_H
#define VOLT_CORE_RATE_LIMITER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Firecracker's TokenBucketConfig: size 0 or refill_time 0 is no bucket. */
struct rl_bucket_config {
	uint64_t size;
	uint64_t one_time_burst;
	uint64_t refill_time; /* ms */
};

/* Firecracker's RateLimiterConfig: all zeros is no limiter. */
struct rl_config {
	struct rl_bucket_config bandwidth;
	struct rl_bucket_config ops;
	/* Set by rl_config_from_json(): the bucket was in the JSON (not absent
	 * nor null). A PATCH changes only the buckets it gives. */
	bool given_bw, given_ops;
};

bool rl_bucket_config_enabled(const struct rl_bucket_config *b);
/* A device's whole configuration (not a patch) in one form: a disabled
 * bucket all zeros, no given flags. It renders to JSON and parses back
 * unchanged, and a CLI spec and its JSON give the same bytes. */
void rl_config_canonical(struct rl_config *c);
/* The buckets patch gives (given_bw, given_ops) replace dst's; dst is left
 * canonical. */
void rl_config_merge(struct rl_config *dst, const struct rl_config *patch);
bool rl_config_enabled(const struct rl_config *c);

/* JSON (the API): null or {} is no limiter; {"bandwidth": {"size": N,
 * "one_time_burst": N (optional), "refill_time": MS}, "ops": {...}}, each
 * bucket optional or null. Unknown keys in the limiter are refused (as
 * Firecracker's deny_unknown_fields), size and refill_time are required. The
 * reason starts with prefix ("drive: rate_limiter"). 0 or -EINVAL. */
int rl_config_from_json(json_t *j, const char *prefix, struct rl_config *out, char *why,
			size_t why_size);
/* One bucket alone (Firecracker's TokenBucketConfig, as PUT /serial's
 * rate_limiter): {"size": N, "one_time_burst": N or null or absent,
 * "refill_time": MS}; the reason starts with "prefix: name". 0 or -EINVAL. */
int rl_bucket_from_json(json_t *j, const char *prefix, const char *name,
			struct rl_bucket_config *out, char *why, size_t why_size);
/* null when the bucket is not enabled; one_time_burst null when 0. */
json_t *rl_bucket_to_json(const struct rl_bucket_config *b);
/* As Firecracker's GET /vm/config shows one: null when no bucket is enabled,
 * else {"bandwidth": {...} or null, "ops": {...} or null} with a bucket's
 * one_time_burst null when 0. NULL when out of memory. */
json_t *rl_config_to_json(const struct rl_config *c);
/* One bucket on the CLI: "SIZE/MS" or "SIZE/MS+BURST" (SIZE and BURST take
 * K, M, G suffixes, powers of 1024), or "0"/"off" for none. */
int rl_bucket_parse(const char *s, struct rl_bucket_config *out, char *why, size_t why_size);

/* --- a token bucket (Firecracker's TokenBucket) ------------------------------ */

struct token_bucket {
	uint64_t size, initial_one_time_burst, refill_time;
	uint64_t one_time_burst, budget;
	uint64_t last_update; /* ns */
	uint64_t processed_capacity, processed_refill_time;
};

enum bucket_reduction {
	BUCKET_FAILURE,		/* not enough tokens: nothing consumed */
	BUCKET_SUCCESS,		/* consumed */
	BUCKET_OVERCONSUMPTION, /* consumed more than the bucket holds: *ratio times its size */
};

/* false (and nothing set) when size or refill_time is 0, or refill_time in ns
 * overflows: no bucket. Starts full at now. */
bool token_bucket_init(struct token_bucket *tb, uint64_t size, uint64_t one_time_burst,
		       uint64_t refill_time_ms, uint64_t now);
void token_bucket_auto_replenish(struct token_bucket *tb, uint64_t now);
enum bucket_reduction token_bucket_reduce(struct token_bucket *tb, uint64_t tokens, uint64_t now,
					  double *ratio);
void token_bucket_force_replenish(struct token_bucket *tb, uint64_t tokens);

/* --- a rate limiter (Firecracker's RateLimiter) ------------------------------ */

enum rl_token { RL_BYTES, RL_OPS };

#define RL_REFILL_TIMER_MS 100

struct rate_limiter {
	bool has_bw, has_ops;
	struct token_bucket bw, ops;
	int timer_fd; /* -1 when none could be made (then a blocked limiter polls nothing) */
	bool timer_active;
	uint64_t (*clock)(void *ctx); /* NULL: CLOCK_MONOTONIC */
	void *clock_ctx;
};

/* Makes the timerfd (even for no buckets: an update may add some later, and
 * seccomp may refuse timerfd_create then). 0 or -errno. */
int rate_limiter_init(struct rate_limiter *rl, const struct rl_config *c);
void rate_limiter_destroy(struct rate_limiter *rl);
/* Whether the limiter has any bucket (a device skips it when not). */
bool rate_limiter_enabled(const struct rate_limiter *rl);
/* Takes tokens of one kind; false when the limiter is (or now becomes)
 * blocked: the caller puts its request back and waits for the timer. */
bool rate_limiter_consume(struct rate_limiter *rl, uint64_t tokens, enum rl_token type);
/* Gives back tokens (undoing a consume whose other kind failed). */
void rate_limiter_replenish(struct rate_limiter *rl, uint64_t tokens, enum rl_token type);
bool rate_limiter_is_blocked(const struct rate_limiter *rl);
/* Firecracker's charge for one request: an op, then its bytes (none when 0).
 * true: both taken (or the limiter has no bucket and is not blocked); false:
 * blocked, nothing taken. */
bool rate_limiter_consume_op(struct rate_limiter *rl, uint64_t bytes);
/* The timerfd fired (device thread): reads it and unblocks. 0, or -EAGAIN
 * for a spurious event (nothing to read; the limiter stays as it was). */
int rate_limiter_event(struct rate_limiter *rl);
/* Firecracker's update_buckets: each bucket c gives (given_bw, given_ops)
 * replaces the running one (full again), or removes it when c's is
 * disabled; the others are kept as they are. A blocked limiter stays blocked
 * until its timer fires. */
void rate_limiter_update(struct rate_limiter *rl, const struct rl_config *c);
/* The configuration of the running buckets. */
void rate_limiter_config(const struct rate_limiter *rl, struct rl_config *out);

#endif
