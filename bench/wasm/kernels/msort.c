/* Top-down merge sort of pseudo-random 32-bit keys: compares, branches, i32 loads/stores. */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

static void merge_sort(uint32_t *a, uint32_t *tmp, size_t n)
{
	size_t mid = n / 2, i = 0, j = mid, k = 0;

	if (n < 2)
		return;
	merge_sort(a, tmp, mid);
	merge_sort(a + mid, tmp, n - mid);
	while (i < mid && j < n)
		tmp[k++] = a[j] < a[i] ? a[j++] : a[i++];
	while (i < mid)
		tmp[k++] = a[i++];
	while (j < n)
		tmp[k++] = a[j++];
	memcpy(a, tmp, n * sizeof(*a));
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? (size_t)atoi(argv[1]) : 2000000;
	uint32_t *a = malloc(n * sizeof(*a)), *tmp = malloc(n * sizeof(*tmp));
	uint64_t seed = 12345, sum = 0, t0;

	if (!a || !tmp)
		return 1;
	for (size_t i = 0; i < n; i++)
		a[i] = (uint32_t)(bench_rand(&seed) >> 32);
	t0 = bench_now_ns();
	merge_sort(a, tmp, n);
	for (size_t i = 0; i < n; i++) {
		if (i && a[i - 1] > a[i])
			return 2;
		sum = sum * 1000003 + a[i];
	}
	bench_report("msort", t0, sum);
	free(a);
	free(tmp);
	return 0;
}
