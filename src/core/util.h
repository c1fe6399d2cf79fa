/*
 * Small helpers shared by every module: branch hints, container_of, array sizes,
 * and SQLite-style ALWAYS()/NEVER() for defensive checks on believed invariants.
 * Header only; no state.
 */
#ifndef LODGE_CORE_UTIL_H
#define LODGE_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define MUST_CHECK __attribute__((warn_unused_result))
#define UNUSED	   __attribute__((unused))
#define NOINLINE   __attribute__((noinline))
#define COLD	   __attribute__((cold, noinline))

/* Defensive checks: true in release builds when the invariant holds, abort in debug. */
#ifdef NDEBUG
#define ALWAYS(x) (x)
#define NEVER(x)  (x)
#else
#include <assert.h>
#define ALWAYS(x) ((x) ? 1 : (assert(0), 0))
#define NEVER(x)  ((x) ? (assert(0), 1) : 0)
#endif

static inline uint64_t sext64(uint64_t v, unsigned bits)
{
	unsigned sh = 64 - bits;
	return (uint64_t)((int64_t)(v << sh) >> sh);
}

#endif
