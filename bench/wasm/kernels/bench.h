/*
 * Shared by the WebAssembly benchmark kernels (bench/wasm): a monotonic clock and the
 * one result line each kernel prints, "kernel NAME ns=N checksum=0x...". The same source
 * is compiled natively (gcc -O3) and to wasm32-wasi (clang -O3), so only standard C and
 * POSIX clock_gettime (WASI clock_time_get) are used. The checksum lets the runner check
 * that every engine computed the same thing; the time covers only the kernel itself.
 */
#ifndef BENCH_WASM_BENCH_H
#define BENCH_WASM_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void bench_report(const char *name, uint64_t t0, uint64_t checksum)
{
	uint64_t t1 = bench_now_ns();

	printf("kernel %s ns=%llu checksum=0x%016llx\n", name, (unsigned long long)(t1 - t0),
	       (unsigned long long)checksum);
}

/* A small deterministic generator (xorshift64*), so inputs are the same everywhere. */
static inline uint64_t bench_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

#endif
