// SPDX-License-Identifier: MIT
// In-guest CPU benchmark for bench/boot --cpu: a CPU-bound mix run as a Linux user program.
// Built twice from this file: static riscv64 (runs inside the guest under Lodge and QEMU)
// and native x86-64 (the reference for "slowdown vs native"). Both builds use
// -ffp-contract=off so the floating-point part rounds the same way on both ISAs and all
// three runs print the same checksum.
//
// Parts (each timed with clock_gettime(CLOCK_MONOTONIC)):
//   hash    byte-at-a-time FNV-1a and a multiply/rotate mixer over a 256 KiB buffer
//   sort    quicksort (median of three, insertion sort below 16) of 64-bit keys
//   interp  a register-machine bytecode interpreter (switch dispatch) counting Collatz steps
//   chase   pointer chasing through a random single cycle over 4 MiB (cache and TLB misses)
//   matmul  naive double-precision matrix multiply (i-k-j order)
// Output, one line:
//   LODGE-BENCH cpu hash=S sort=S interp=S chase=S matmul=S total=S checksum=0x...
// SCALE=N in argv[1] multiplies the repeat counts (default 1).

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t rng_next(void)
{
	// xorshift64*, fixed seed: every run does the same work.
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

// --- hash ----------------------------------------------------------------------------

#define HASH_BYTES (256 * 1024)

static uint64_t bench_hash(int reps)
{
	uint8_t *buf = malloc(HASH_BYTES);
	uint64_t acc = 0;

	if (!buf)
		abort();
	for (size_t i = 0; i < HASH_BYTES; i++)
		buf[i] = (uint8_t)rng_next();
	for (int r = 0; r < reps; r++) {
		uint64_t fnv = 0xcbf29ce484222325ULL;
		uint64_t mix = (uint64_t)r;

		for (size_t i = 0; i < HASH_BYTES; i++) {
			fnv = (fnv ^ buf[i]) * 0x100000001b3ULL;
		}
		for (size_t i = 0; i + 8 <= HASH_BYTES; i += 8) {
			uint64_t w;

			memcpy(&w, buf + i, 8);
			mix = rotl(mix ^ (w * 0x9e3779b97f4a7c15ULL), 29) * 0xbf58476d1ce4e5b9ULL;
		}
		acc = rotl(acc, 7) ^ fnv ^ mix;
		buf[(size_t)r % HASH_BYTES] ^= (uint8_t)acc; // no two rounds hash the same data
	}
	free(buf);
	return acc;
}

// --- sort ----------------------------------------------------------------------------

#define SORT_N 100000

static void insertion_sort(uint64_t *a, long n)
{
	for (long i = 1; i < n; i++) {
		uint64_t v = a[i];
		long j = i - 1;

		while (j >= 0 && a[j] > v) {
			a[j + 1] = a[j];
			j--;
		}
		a[j + 1] = v;
	}
}

static void swap64(uint64_t *x, uint64_t *y)
{
	uint64_t t = *x;

	*x = *y;
	*y = t;
}

static void quick_sort(uint64_t *a, long n)
{
	while (n > 16) {
		long mid = n / 2, lo = 0, hi = n - 1;

		// Median of three to a[mid], then Hoare partition around it.
		if (a[mid] < a[lo])
			swap64(&a[mid], &a[lo]);
		if (a[hi] < a[lo])
			swap64(&a[hi], &a[lo]);
		if (a[hi] < a[mid])
			swap64(&a[hi], &a[mid]);
		uint64_t p = a[mid];
		long i = -1, j = n;

		for (;;) {
			do
				i++;
			while (a[i] < p);
			do
				j--;
			while (a[j] > p);
			if (i >= j)
				break;
			swap64(&a[i], &a[j]);
		}
		// Recurse on the smaller side, loop on the larger.
		if (j + 1 < n - j - 1) {
			quick_sort(a, j + 1);
			a += j + 1;
			n -= j + 1;
		} else {
			quick_sort(a + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	insertion_sort(a, n);
}

static uint64_t bench_sort(int reps)
{
	uint64_t *a = malloc(SORT_N * sizeof(*a));
	uint64_t acc = 0;

	if (!a)
		abort();
	for (int r = 0; r < reps; r++) {
		for (long i = 0; i < SORT_N; i++)
			a[i] = rng_next() >> (r & 31); // later rounds have more duplicates
		quick_sort(a, SORT_N);
		for (long i = 1; i < SORT_N; i++)
			if (a[i - 1] > a[i])
				abort();
		for (long i = 0; i < SORT_N; i += 97)
			acc = acc * 31 + a[i];
	}
	free(a);
	return acc;
}

// --- interp --------------------------------------------------------------------------

enum {
	OP_LI,
	OP_ADD,
	OP_ADDI,
	OP_SUB,
	OP_AND,
	OP_SHRI,
	OP_MUL,
	OP_BEQ,
	OP_BNE,
	OP_BLT,
	OP_J,
	OP_HALT
};

struct insn {
	uint8_t op, d, a, b;
	int32_t imm;
};

// r0 = 0, r1 = n, r2 = x, r3 = total steps, r4 = limit, r5 = scratch, r6 = 1, r7 = 3
static const struct insn collatz_prog[] = {
	{OP_LI, 0, 0, 0, 0},   // 0
	{OP_LI, 6, 0, 0, 1},   // 1
	{OP_LI, 7, 0, 0, 3},   // 2
	{OP_LI, 1, 0, 0, 1},   // 3  n = 1
	{OP_LI, 3, 0, 0, 0},   // 4  steps = 0
	{OP_BLT, 0, 4, 1, 18}, // 5  outer: if limit < n: done
	{OP_ADD, 2, 1, 0, 0},  // 6  x = n
	{OP_BEQ, 0, 2, 6, 16}, // 7  inner: if x == 1: next n
	{OP_AND, 5, 2, 6, 0},  // 8
	{OP_BNE, 0, 5, 0, 12}, // 9  if x odd: 12
	{OP_SHRI, 2, 2, 0, 1}, // 10 x >>= 1
	{OP_J, 0, 0, 0, 14},   // 11
	{OP_MUL, 2, 2, 7, 0},  // 12 x = 3x + 1
	{OP_ADD, 2, 2, 6, 0},  // 13
	{OP_ADDI, 3, 3, 0, 1}, // 14 steps++
	{OP_J, 0, 0, 0, 7},    // 15
	{OP_ADDI, 1, 1, 0, 1}, // 16 n++
	{OP_J, 0, 0, 0, 5},    // 17
	{OP_HALT, 0, 0, 0, 0}, // 18
};

static uint64_t run_vm(const struct insn *prog, uint64_t limit)
{
	uint64_t r[8] = {0};
	long pc = 0;

	r[4] = limit;
	for (;;) {
		const struct insn *i = &prog[pc++];

		switch (i->op) {
		case OP_LI:
			r[i->d] = (uint64_t)(int64_t)i->imm;
			break;
		case OP_ADD:
			r[i->d] = r[i->a] + r[i->b];
			break;
		case OP_ADDI:
			r[i->d] = r[i->a] + (uint64_t)(int64_t)i->imm;
			break;
		case OP_SUB:
			r[i->d] = r[i->a] - r[i->b];
			break;
		case OP_AND:
			r[i->d] = r[i->a] & r[i->b];
			break;
		case OP_SHRI:
			r[i->d] = r[i->a] >> i->imm;
			break;
		case OP_MUL:
			r[i->d] = r[i->a] * r[i->b];
			break;
		case OP_BEQ:
			if (r[i->a] == r[i->b])
				pc = i->imm;
			break;
		case OP_BNE:
			if (r[i->a] != r[i->b])
				pc = i->imm;
			break;
		case OP_BLT:
			if (r[i->a] < r[i->b])
				pc = i->imm;
			break;
		case OP_J:
			pc = i->imm;
			break;
		case OP_HALT:
			return r[3];
		default:
			abort();
		}
		r[0] = 0;
	}
}

static uint64_t bench_interp(int reps)
{
	uint64_t acc = 0;

	for (int r = 0; r < reps; r++)
		acc = acc * 1000003 + run_vm(collatz_prog, 30000 + (uint64_t)r);
	return acc;
}

// --- chase ---------------------------------------------------------------------------

#define CHASE_N (1u << 20) // 4 MiB of uint32_t

static uint64_t bench_chase(int reps)
{
	uint32_t *next = malloc(CHASE_N * sizeof(*next));
	uint64_t acc = 0;
	uint32_t p = 0;

	if (!next)
		abort();
	for (uint32_t i = 0; i < CHASE_N; i++)
		next[i] = i;
	// Sattolo's shuffle: a random permutation that is one single cycle.
	for (uint32_t i = CHASE_N - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(rng_next() % i);
		uint32_t t = next[i];

		next[i] = next[j];
		next[j] = t;
	}
	for (int r = 0; r < reps; r++) {
		for (uint32_t k = 0; k < CHASE_N; k++) {
			p = next[p];
			acc += p;
		}
	}
	free(next);
	return acc ^ p;
}

// --- matmul --------------------------------------------------------------------------

#define MAT_N 128

static uint64_t bench_matmul(int reps)
{
	double *a = malloc(MAT_N * MAT_N * sizeof(double));
	double *b = malloc(MAT_N * MAT_N * sizeof(double));
	double *c = malloc(MAT_N * MAT_N * sizeof(double));
	double sum = 0;
	uint64_t bits;

	if (!a || !b || !c)
		abort();
	for (int i = 0; i < MAT_N * MAT_N; i++) {
		a[i] = (double)(rng_next() % 2001) / 1000.0 - 1.0;
		b[i] = (double)(rng_next() % 2001) / 1000.0 - 1.0;
	}
	for (int r = 0; r < reps; r++) {
		memset(c, 0, MAT_N * MAT_N * sizeof(double));
		for (int i = 0; i < MAT_N; i++)
			for (int k = 0; k < MAT_N; k++) {
				double aik = a[i * MAT_N + k];

				for (int j = 0; j < MAT_N; j++)
					c[i * MAT_N + j] += aik * b[k * MAT_N + j];
			}
		sum += c[(r * 7) % (MAT_N * MAT_N)];
		// Feed the result back so rounds depend on each other.
		a[(r * 13) % (MAT_N * MAT_N)] = c[(r * 11) % (MAT_N * MAT_N)] * 0.25;
	}
	for (int i = 0; i < MAT_N * MAT_N; i++)
		sum += c[i];
	free(a);
	free(b);
	free(c);
	memcpy(&bits, &sum, sizeof(bits));
	return bits;
}

int main(int argc, char **argv)
{
	int scale = argc > 1 ? atoi(argv[1]) : 1;
	struct part {
		const char *name;
		uint64_t (*fn)(int);
		int reps;
		double secs;
	} parts[] = {
		{"hash", bench_hash, 100, 0},	 {"sort", bench_sort, 6, 0},
		{"interp", bench_interp, 1, 0},	 {"chase", bench_chase, 4, 0},
		{"matmul", bench_matmul, 20, 0},
	};
	uint64_t sum = 0;
	double total = 0;

	if (scale < 1)
		scale = 1;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		double t0 = now();

		sum = rotl(sum, 11) ^ parts[i].fn(parts[i].reps * scale);
		parts[i].secs = now() - t0;
		total += parts[i].secs;
	}
	printf("LODGE-BENCH cpu");
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		printf(" %s=%.4f", parts[i].name, parts[i].secs);
	printf(" total=%.4f checksum=0x%016" PRIx64 "\n", total, sum);
	fflush(stdout);
	return 0;
}
