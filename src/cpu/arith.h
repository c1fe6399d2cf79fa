/*
 * RV64 M-extension arithmetic with the spec's results for the corner cases (division by
 * zero, signed overflow), shared by the interpreter and, as call targets, by the JIT.
 */
#ifndef LODGE_CPU_ARITH_H
#define LODGE_CPU_ARITH_H

#include <stdint.h>

static inline uint64_t sext32(uint64_t v)
{
	return (uint64_t)(int64_t)(int32_t)(uint32_t)v;
}

static inline uint64_t mulh_ss(uint64_t a, uint64_t b)
{
	return (uint64_t)(((__int128)(int64_t)a * (__int128)(int64_t)b) >> 64);
}

static inline uint64_t mulh_su(uint64_t a, uint64_t b)
{
	return (uint64_t)(((__int128)(int64_t)a * (__int128)(unsigned __int128)b) >> 64);
}

static inline uint64_t mulh_uu(uint64_t a, uint64_t b)
{
	return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

static inline uint64_t div_s(uint64_t a, uint64_t b)
{
	if (b == 0)
		return ~0ull;
	if ((int64_t)a == INT64_MIN && (int64_t)b == -1)
		return a;
	return (uint64_t)((int64_t)a / (int64_t)b);
}

static inline uint64_t div_u(uint64_t a, uint64_t b)
{
	return b ? a / b : ~0ull;
}

static inline uint64_t rem_s(uint64_t a, uint64_t b)
{
	if (b == 0)
		return a;
	if ((int64_t)a == INT64_MIN && (int64_t)b == -1)
		return 0;
	return (uint64_t)((int64_t)a % (int64_t)b);
}

static inline uint64_t rem_u(uint64_t a, uint64_t b)
{
	return b ? a % b : a;
}

static inline uint64_t divw_s(uint64_t a, uint64_t b)
{
	int32_t x = (int32_t)a, y = (int32_t)b;

	if (y == 0)
		return ~0ull;
	if (x == INT32_MIN && y == -1)
		return sext32((uint32_t)x);
	return sext32((uint32_t)(x / y));
}

static inline uint64_t divw_u(uint64_t a, uint64_t b)
{
	return (uint32_t)b ? sext32((uint32_t)a / (uint32_t)b) : ~0ull;
}

static inline uint64_t remw_s(uint64_t a, uint64_t b)
{
	int32_t x = (int32_t)a, y = (int32_t)b;

	if (y == 0)
		return sext32((uint32_t)x);
	if (x == INT32_MIN && y == -1)
		return 0;
	return sext32((uint32_t)(x % y));
}

static inline uint64_t remw_u(uint64_t a, uint64_t b)
{
	return (uint32_t)b ? sext32((uint32_t)a % (uint32_t)b) : sext32(a);
}

#endif
