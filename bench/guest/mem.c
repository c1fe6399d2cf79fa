/*
 * Memory heavy CPU benchmark under Sv39 paging. M-mode builds page tables
 * (one gigapage identity-mapping the MMIO below 1 GiB, and 4 KiB pages
 * identity-mapping the first MAP_BYTES of RAM, so every access to the
 * working set goes through a 4K-page TLB), then drops to S-mode with
 * satp = Sv39. S-mode chases a shuffled linked list, does random
 * read-modify-writes and streams copies over ~32 MiB, prints a checksum
 * and exits through the (mapped) finisher. Privileged spec 4.3-4.4.
 */
#include "bench.h"

#ifndef ROUNDS
#define ROUNDS 2
#endif

#define RAM_BASE 0x80000000UL
#define MAP_BYTES (64UL << 20)
#define PAGE 4096UL

#define PTE_V (1UL << 0)
#define PTE_R (1UL << 1)
#define PTE_W (1UL << 2)
#define PTE_X (1UL << 3)
#define PTE_A (1UL << 6)
#define PTE_D (1UL << 7)

#define NODE_BYTES (16UL << 20)
#define ARRAY_BYTES (16UL << 20)
#define CHASE_STEPS (1UL << 20)
#define RMW_STEPS (1UL << 20)

/* One cache line per node; the payload keeps the line honest. */
struct node {
	struct node *next;
	uint64_t payload[7];
};

struct work {
	struct node *nodes;
	uint32_t *perm;
	uint64_t *array;
	uint64_t n_nodes;
	uint64_t n_words;
};

static struct work work;

/* Leaves come pre-accessed and pre-dirtied so no A/D update is needed. */
static uint64_t leaf_pte(uint64_t pa, uint64_t flags)
{
	return ((pa >> 12) << 10) | flags | PTE_V | PTE_A | PTE_D;
}

/* Non-leaf PTEs must keep A, D and U clear (spec 4.3.1). */
static uint64_t table_pte(const uint64_t *table)
{
	return (((uint64_t)table >> 12) << 10) | PTE_V;
}

/* Builds the tables at *next (page aligned) and returns the root. */
static uint64_t *build_page_tables(uint8_t **next)
{
	uint64_t *root = (uint64_t *)*next;
	uint64_t *l1 = root + 512;
	uint64_t *l0 = l1 + 512;
	uint64_t n_pages = MAP_BYTES / PAGE;

	memset(root, 0, 2 * PAGE);
	/* VA 0..1 GiB -> PA 0..1 GiB: finisher, CLINT, UART. */
	root[0] = leaf_pte(0, PTE_R | PTE_W);
	root[(RAM_BASE >> 30) & 511] = table_pte(l1);
	for (uint64_t i = 0; i < n_pages; i++) {
		uint64_t pa = RAM_BASE + i * PAGE;

		if (i % 512 == 0) {
			l1[(pa >> 21) & 511] = table_pte(&l0[i]);
		}
		l0[i] = leaf_pte(pa, PTE_R | PTE_W | PTE_X);
	}
	*next = (uint8_t *)(l0 + n_pages);
	return root;
}

/* Sattolo's shuffle: one cycle through every node, in random order. */
static void build_list(uint64_t *rng)
{
	uint64_t n = work.n_nodes;

	for (uint64_t i = 0; i < n; i++) {
		work.perm[i] = (uint32_t)i;
	}
	for (uint64_t i = n - 1; i > 0; i--) {
		uint64_t j = bench_rand(rng) % i;
		uint32_t t = work.perm[i];

		work.perm[i] = work.perm[j];
		work.perm[j] = t;
	}
	for (uint64_t i = 0; i < n; i++) {
		struct node *nd = &work.nodes[work.perm[i]];

		nd->next = &work.nodes[work.perm[(i + 1) % n]];
		nd->payload[0] = i;
		nd->payload[3] = i * 3;
	}
}

static uint64_t chase(uint64_t steps, uint32_t start)
{
	struct node *p = &work.nodes[start];
	uint64_t sum = 0;

	while (steps--) {
		sum += p->payload[0] ^ p->payload[3];
		p->payload[5] = sum;
		p = p->next;
	}
	return sum;
}

static uint64_t random_rmw(uint64_t *rng, uint64_t steps)
{
	uint64_t mask = work.n_words - 1, h = 0;
	uint64_t *a = work.array;

	while (steps--) {
		uint64_t r = bench_rand(rng);
		uint64_t i = r & mask, j = (r >> 32) & mask;

		a[i] += r;
		a[j] ^= a[i] >> 3;
		h += a[(i ^ j) & mask];
	}
	return h;
}

/* STREAM-like copy, scale and triad over three thirds of the array. */
static uint64_t streams(uint64_t round)
{
	uint64_t n = work.n_words / 3;
	uint64_t *a = work.array, *b = a + n, *c = b + n;
	uint64_t h = 0;

	for (uint64_t i = 0; i < n; i++) {
		b[i] = a[i] + round;
	}
	for (uint64_t i = 0; i < n; i++) {
		c[i] = b[i] * 3;
	}
	for (uint64_t i = 0; i < n; i++) {
		a[i] = b[i] + 5 * c[i];
	}
	for (uint64_t i = 0; i < n; i += 8) {
		h += a[i] ^ (h << 1);
	}
	return h;
}

static void s_main(void) __attribute__((noreturn));

static void s_main(void)
{
	uint64_t rng = 0x9E3779B97F4A7C15ULL, sum = 0;

	for (uint64_t i = 0; i < work.n_words; i++) {
		work.array[i] = i * 0x10001;
	}
	build_list(&rng);
	for (uint32_t round = 0; round < ROUNDS; round++) {
		sum = bench_mix(sum, chase(CHASE_STEPS, round * 7919 % work.n_nodes));
		sum = bench_mix(sum, random_rmw(&rng, RMW_STEPS));
		sum = bench_mix(sum, streams(round));
	}
	bench_checksum("mem", sum);
	bench_exit(0);
}

int main(void)
{
	uint8_t *next = bench_heap();
	uint64_t *root = build_page_tables(&next);
	uint64_t mstatus;

	work.perm = (uint32_t *)next;
	work.n_nodes = NODE_BYTES / sizeof(struct node);
	next += work.n_nodes * sizeof(uint32_t);
	work.nodes = (struct node *)(((uint64_t)next + 63) & ~63UL);
	work.array = (uint64_t *)((uint8_t *)work.nodes + NODE_BYTES);
	work.n_words = ARRAY_BYTES / sizeof(uint64_t);
	if ((uint64_t)work.array + ARRAY_BYTES > RAM_BASE + MAP_BYTES) {
		bench_puts("mem: working set does not fit the mapping\n");
		return 2;
	}

	/* mret into s_main with MPP = S and Sv39 translation on. */
	__asm__ volatile("csrr %0, mstatus" : "=r"(mstatus));
	mstatus = (mstatus & ~(3UL << 11)) | (1UL << 11);
	__asm__ volatile("csrw mstatus, %0" : : "r"(mstatus));
	__asm__ volatile("csrw mepc, %0" : : "r"((uint64_t)s_main));
	__asm__ volatile("csrw satp, %0" : : "r"((8UL << 60) | ((uint64_t)root >> 12)));
	__asm__ volatile("sfence.vma zero, zero\n\tmret" : : : "memory");
	return 1;
}
