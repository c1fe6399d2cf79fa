/*
 * Multi-hart scaling (bench/smp): every hart the machine has (up to 4) runs the same
 * integer work on memory of its own: a heap sort, a bitwise CRC-32 and a sieve, ROUNDS
 * times. So 2 harts do twice the work of 1 in the same time if they scale perfectly;
 * bench/smp compares the wall time of a 1-hart and a 2-hart run.
 *
 * Hart 0 zeroes .bss, then every hart counts itself in (`started`); hart 0 waits 20 ms of
 * the CLINT's mtime before it begins, long enough for the others to count in. Each hart
 * adds its checksum when done (`finished`); hart 0 waits for all that started, prints
 * "harts N" and "checksum smp ..." (the same for any hart count: every hart's sum is the
 * same) and exits through the finisher.
 */
#include "bench.h"

#define ROUNDS	  1500
#define SORT_N	  8192
#define CRC_BYTES (32 * 1024)
#define SIEVE_N	  65536
#define HART_MEM  (1u << 20) /* each hart's buffers: apart, no line shared */
#define MTIME	  ((volatile uint64_t *)0x0200bff8UL)

__attribute__((section(".data"))) static volatile uint32_t bss_ready = 0;
static volatile uint32_t started, finished;
static volatile uint64_t sums[4];

static void sift(uint32_t *a, unsigned start, unsigned end)
{
	unsigned root = start;

	while (2 * root + 1 <= end) {
		unsigned child = 2 * root + 1, swap = root;
		if (a[swap] < a[child])
			swap = child;
		if (child + 1 <= end && a[swap] < a[child + 1])
			swap = child + 1;
		if (swap == root)
			return;
		uint32_t t = a[root];
		a[root] = a[swap];
		a[swap] = t;
		root = swap;
	}
}

static void heap_sort(uint32_t *a, unsigned n)
{
	for (unsigned s = n / 2; s-- > 0;)
		sift(a, s, n - 1);
	for (unsigned end = n - 1; end > 0; end--) {
		uint32_t t = a[0];
		a[0] = a[end];
		a[end] = t;
		sift(a, 0, end - 1);
	}
}

static uint32_t crc32(const uint8_t *p, unsigned n)
{
	uint32_t c = 0xffffffffu;

	for (unsigned i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

static unsigned sieve(uint8_t *composite, unsigned n)
{
	unsigned primes = 0;

	for (unsigned i = 0; i < n; i++)
		composite[i] = 0;
	for (unsigned i = 2; i < n; i++) {
		if (composite[i])
			continue;
		primes++;
		for (unsigned j = 2 * i; j < n; j += i)
			composite[j] = 1;
	}
	return primes;
}

static uint64_t work(uint8_t *mem)
{
	uint32_t *a = (uint32_t *)mem;
	uint8_t *flags = mem + SORT_N * sizeof(uint32_t);
	uint64_t h = 0xcbf29ce484222325ull, seed = 0x9e3779b97f4a7c15ull;

	for (unsigned r = 0; r < ROUNDS; r++) {
		for (unsigned i = 0; i < SORT_N; i++)
			a[i] = (uint32_t)bench_rand(&seed);
		heap_sort(a, SORT_N);
		h = bench_mix(h, a[r % SORT_N]);
		h = bench_mix(h, crc32((const uint8_t *)a, CRC_BYTES));
		h = bench_mix(h, sieve(flags, SIEVE_N - r));
	}
	return h;
}

void smp_main(uint64_t hart) __attribute__((noreturn));
void smp_main(uint64_t hart)
{
	extern char __bss_start[], __bss_end[];

	if (hart == 0) {
		for (char *p = __bss_start; p < __bss_end; p++)
			*p = 0;
		__atomic_store_n(&bss_ready, 1, __ATOMIC_RELEASE);
	} else {
		while (!__atomic_load_n(&bss_ready, __ATOMIC_ACQUIRE))
			;
	}
	__atomic_fetch_add(&started, 1, __ATOMIC_ACQ_REL);
	if (hart == 0) {
		uint64_t t0 = *MTIME;
		while (*MTIME - t0 < 200000) /* 20 ms at 10 MHz */
			;
	}
	sums[hart] = work((uint8_t *)bench_heap() + hart * HART_MEM);
	__atomic_fetch_add(&finished, 1, __ATOMIC_ACQ_REL);
	if (hart != 0)
		for (;;)
			__asm__ volatile("wfi");
	while (__atomic_load_n(&finished, __ATOMIC_ACQUIRE) <
	       __atomic_load_n(&started, __ATOMIC_ACQUIRE))
		;
	unsigned n = __atomic_load_n(&started, __ATOMIC_ACQUIRE);
	for (unsigned i = 1; i < n; i++)
		if (sums[i] != sums[0]) {
			bench_puts("smp: hart sums differ\n");
			bench_exit(3);
		}
	bench_puts("harts ");
	bench_putc((char)('0' + n));
	bench_putc('\n');
	bench_checksum("smp", sums[0]);
	bench_exit(0);
}
