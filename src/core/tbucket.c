/*
 * Token buckets (see tbucket.h). Refilling credits whole tokens only and advances
 * last_ns by exactly the time those tokens took, so no fraction is lost or invented
 * however often the bucket is looked at.
 */
#include "core/tbucket.h"

/* size tokens per refill_ns: tokens earned in dt, and the time n tokens take. */
static uint64_t earned(const struct tbucket *b, uint64_t dt)
{
	return (uint64_t)((unsigned __int128)dt * b->size / b->refill_ns);
}

static uint64_t time_for(const struct tbucket *b, uint64_t n)
{
	unsigned __int128 t = ((unsigned __int128)n * b->refill_ns + b->size - 1) / b->size;

	return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

static void refill(struct tbucket *b, uint64_t now)
{
	uint64_t n;

	if (now <= b->last_ns)
		return;
	n = earned(b, now - b->last_ns);
	if (!n)
		return;
	b->last_ns += (uint64_t)((unsigned __int128)n * b->refill_ns / b->size);
	if (n <= b->debt) {
		b->debt -= n;
		return;
	}
	n -= b->debt;
	b->debt = 0;
	b->budget = b->budget + n > b->size ? b->size : b->budget + n;
	if (b->budget == b->size)
		b->last_ns = now; /* a full bucket earns nothing while it waits */
}

void tbucket_init(struct tbucket *b, uint64_t size, uint64_t one_time_burst, uint64_t refill_ms,
		  uint64_t now_ns)
{
	b->size = size;
	b->refill_ns = refill_ms ? refill_ms * 1000000ull : 1000000000ull;
	b->one_time_burst = one_time_burst;
	b->budget = size;
	b->debt = 0;
	b->last_ns = now_ns;
}

enum tbucket_result tbucket_reduce(struct tbucket *b, uint64_t tokens, uint64_t now_ns)
{
	if (!b->size)
		return TBUCKET_OK;
	if (b->one_time_burst) { /* spent first, never refilled */
		if (b->one_time_burst >= tokens) {
			b->one_time_burst -= tokens;
			return TBUCKET_OK;
		}
		tokens -= b->one_time_burst;
		b->one_time_burst = 0;
	}
	refill(b, now_ns);
	if (tokens > b->size) {
		/* Bigger than the bucket could ever hold: allowed, and paid back over time. */
		b->debt += tokens - b->budget;
		b->budget = 0;
		return TBUCKET_OVERCONSUMED;
	}
	if (tokens > b->budget || b->debt)
		return TBUCKET_FAIL;
	b->budget -= tokens;
	return TBUCKET_OK;
}

void tbucket_replenish(struct tbucket *b, uint64_t tokens)
{
	if (!b->size)
		return;
	if (tokens <= b->debt) {
		b->debt -= tokens;
		return;
	}
	tokens -= b->debt;
	b->debt = 0;
	b->budget = b->budget + tokens > b->size ? b->size : b->budget + tokens;
}

uint64_t tbucket_wait_ns(struct tbucket *b, uint64_t tokens, uint64_t now_ns)
{
	uint64_t need, t, elapsed;

	if (!b->size)
		return 0;
	refill(b, now_ns);
	if (tokens <= b->one_time_burst)
		return 0;
	tokens -= b->one_time_burst;
	if (tokens > b->size)
		tokens = b->size;
	if (!b->debt && tokens <= b->budget)
		return 0;
	need = b->debt + tokens - (b->debt ? 0 : b->budget);
	/* Refilling has credited every whole token up to last_ns; the time since counts
	 * towards the next one. */
	t = time_for(b, need);
	elapsed = now_ns > b->last_ns ? now_ns - b->last_ns : 0;
	return t > elapsed ? t - elapsed : 0;
}

void ratelimiter_init(struct ratelimiter *r, uint64_t bytes_size, uint64_t bytes_burst,
		      uint64_t bytes_refill_ms, uint64_t ops_size, uint64_t ops_burst,
		      uint64_t ops_refill_ms, uint64_t now_ns)
{
	tbucket_init(&r->bytes, bytes_size, bytes_burst, bytes_refill_ms, now_ns);
	tbucket_init(&r->ops, ops_size, ops_burst, ops_refill_ms, now_ns);
}

bool ratelimiter_consume(struct ratelimiter *r, uint64_t bytes, uint64_t now_ns, uint64_t *retry_ns)
{
	enum tbucket_result o = tbucket_reduce(&r->ops, 1, now_ns), b;

	if (o == TBUCKET_FAIL) {
		*retry_ns = now_ns + tbucket_wait_ns(&r->ops, 1, now_ns);
		return false;
	}
	b = tbucket_reduce(&r->bytes, bytes, now_ns);
	if (b == TBUCKET_FAIL) {
		tbucket_replenish(&r->ops, 1); /* all or nothing */
		*retry_ns = now_ns + tbucket_wait_ns(&r->bytes, bytes, now_ns);
		return false;
	}
	return true;
}
