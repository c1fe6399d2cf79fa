/*
 * Shared helpers for the CPU benchmark programs: UART output, exit through
 * the test finisher, a small PRNG and the free-memory start. Every program
 * prints one line "checksum NAME 0x...." that the runner (bench/cpu)
 * compares between Lodge and QEMU.
 */
#ifndef LODGE_BENCH_GUEST_BENCH_H
#define LODGE_BENCH_GUEST_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_UART 0x10000000UL
#define BENCH_FINISHER 0x100000UL

void bench_putc(char c);
void bench_puts(const char *s);
void bench_put_hex(uint64_t v);
/* Prints "checksum NAME 0x<16 hex digits>\n". */
void bench_checksum(const char *name, uint64_t sum);
/* Writes the finisher: 0 passes, anything else fails with that code. */
void bench_exit(int code) __attribute__((noreturn));

/* First free byte after the image (page aligned). */
void *bench_heap(void);

/* xorshift64*: a fixed, deterministic stream. */
static inline uint64_t bench_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Mixes v into the running checksum h (FNV-style, order dependent). */
static inline uint64_t bench_mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x100000001b3ULL;
	return h ^ (h >> 29);
}

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif
