/*
 * Token buckets and rate limiters with the semantics of Firecracker's (its
 * src/vmm/src/rate_limiter): a bucket holds up to `size` tokens and refills at size tokens
 * per `refill_time`, continuously; an optional one-time burst is spent first and never
 * refills. A request for n tokens either succeeds (they are taken), fails (nothing is
 * taken: the device retries later, when tbucket_wait_ns says), or, when n is more than
 * the whole bucket, "over-consumes": it is allowed, the bucket is emptied and the excess
 * becomes a debt that refilling pays first, so the long-run rate still holds.
 *
 * A rate limiter pairs a bandwidth bucket (bytes) and an operations bucket; a request
 * takes one operation and its bytes from both, or from neither. Buckets with size 0 are
 * unlimited. For virtio-blk and virtio-net queues (--disk-bps, --net-bps).
 *
 * Time is passed in (CLOCK_MONOTONIC ns), so the module is deterministic under test.
 * Not thread-safe: one queue's thread owns its limiter.
 */
#ifndef LODGE_CORE_TBUCKET_H
#define LODGE_CORE_TBUCKET_H

#include <stdbool.h>
#include <stdint.h>

struct tbucket {
	uint64_t size;		 /* capacity; 0 = unlimited */
	uint64_t refill_ns;	 /* time to refill from empty to full */
	uint64_t one_time_burst; /* left of the initial extra allowance */
	uint64_t budget;	 /* tokens available now */
	uint64_t debt;		 /* over-consumed tokens still to be paid by refilling */
	uint64_t last_ns;	 /* time up to which refilling has been credited */
};

enum tbucket_result {
	TBUCKET_OK,	      /* taken */
	TBUCKET_FAIL,	      /* not enough tokens: nothing taken */
	TBUCKET_OVERCONSUMED, /* more than the bucket holds: allowed, the excess is a debt */
};

/* A full bucket of `size` tokens refilling in `refill_ms`, plus a one-time burst. */
void tbucket_init(struct tbucket *b, uint64_t size, uint64_t one_time_burst, uint64_t refill_ms,
		  uint64_t now_ns);

enum tbucket_result tbucket_reduce(struct tbucket *b, uint64_t tokens, uint64_t now_ns);

/* Gives tokens back (a request that was charged but not carried out). */
void tbucket_replenish(struct tbucket *b, uint64_t tokens);

/* Nanoseconds until `tokens` can be taken (0: now). For tokens > size: until the debt
 * is paid and the bucket is full. */
uint64_t tbucket_wait_ns(struct tbucket *b, uint64_t tokens, uint64_t now_ns);

struct ratelimiter {
	struct tbucket bytes, ops;
};

/* Either bucket may have size 0 (no limit of that kind). */
void ratelimiter_init(struct ratelimiter *r, uint64_t bytes_size, uint64_t bytes_burst,
		      uint64_t bytes_refill_ms, uint64_t ops_size, uint64_t ops_burst,
		      uint64_t ops_refill_ms, uint64_t now_ns);

/* One operation of `bytes`: true if allowed (both buckets charged); false if not (none
 * charged), with *retry_ns the time to try again (CLOCK_MONOTONIC). */
bool ratelimiter_consume(struct ratelimiter *r, uint64_t bytes, uint64_t now_ns,
			 uint64_t *retry_ns);

#endif
