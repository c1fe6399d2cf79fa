/* tests/migrate: a guest program that writes its memory continuously and checks it.
 * It keeps BUF_MB MiB of pages, each filled from (page, generation); it rewrites a
 * stripe of pages per step (bumping their generation), then checks every page against
 * its generation, and prints "CNT n OK" (or "CNT n BAD page p") after each sweep, n
 * counting up by one. A page that a migration lost or sent stale breaks the check, a
 * pause that loses the program's place breaks the count. Static, no libc buffering. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE 4096
#define WORDS (PAGE / 8)

static uint64_t fill(uint64_t page, uint64_t gen, uint64_t w)
{
	uint64_t x = (page << 32) ^ (gen * 0x9e3779b97f4a7c15ull) ^ (w * 0xbf58476d1ce4e5b9ull);

	x ^= x >> 31;
	return x * 0x94d049bb133111ebull;
}

int main(int argc, char **argv)
{
	unsigned mb = argc > 1 ? (unsigned)atoi(argv[1]) : 16;
	unsigned stripe = argc > 2 ? (unsigned)atoi(argv[2]) : 64;
	uint64_t npages = (uint64_t)mb * 256, next = 0, n = 0;
	uint64_t *buf = malloc(npages * PAGE), *gen = calloc(npages, 8);
	char line[96];

	if (!buf || !gen)
		return 1;
	for (uint64_t p = 0; p < npages; p++)
		for (unsigned w = 0; w < WORDS; w++)
			buf[p * WORDS + w] = fill(p, 0, w);
	for (;;) {
		uint64_t bad = UINT64_MAX;
		for (unsigned k = 0; k < stripe; k++, next = (next + 1) % npages) {
			gen[next]++;
			for (unsigned w = 0; w < WORDS; w++)
				buf[next * WORDS + w] = fill(next, gen[next], w);
		}
		for (uint64_t p = 0; p < npages && bad == UINT64_MAX; p++)
			for (unsigned w = 0; w < WORDS; w++)
				if (buf[p * WORDS + w] != fill(p, gen[p], w)) {
					bad = p;
					break;
				}
		n++;
		if (bad == UINT64_MAX)
			snprintf(line, sizeof(line), "CNT %llu OK\n", (unsigned long long)n);
		else
			snprintf(line, sizeof(line), "CNT %llu BAD page %llu\n",
				 (unsigned long long)n, (unsigned long long)bad);
		if (write(1, line, strlen(line)) < 0)
			return 1;
		if (bad != UINT64_MAX)
			return 2;
	}
}
