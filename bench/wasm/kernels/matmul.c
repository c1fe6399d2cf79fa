/* Double-precision matrix multiply, C = A x B (i-k-j order): f64 loads, stores, mul/add. */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

static void matmul(int n, const double *a, const double *b, double *c)
{
	memset(c, 0, (size_t)n * (size_t)n * sizeof(*c));
	for (int i = 0; i < n; i++)
		for (int k = 0; k < n; k++) {
			double aik = a[i * n + k];
			for (int j = 0; j < n; j++)
				c[i * n + j] += aik * b[k * n + j];
		}
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 256;
	double *a = malloc((size_t)n * (size_t)n * sizeof(double));
	double *b = malloc((size_t)n * (size_t)n * sizeof(double));
	double *c = malloc((size_t)n * (size_t)n * sizeof(double));
	uint64_t seed = 42, sum = 0, t0;

	if (n < 1 || !a || !b || !c)
		return 1;
	for (int i = 0; i < n * n; i++) {
		a[i] = (double)(bench_rand(&seed) % 1000) / 100.0;
		b[i] = (double)(bench_rand(&seed) % 1000) / 100.0;
	}
	t0 = bench_now_ns();
	matmul(n, a, b, c);
	matmul(n, c, a, b);
	/* the sums of products of small decimals are exact enough to compare bit for bit
	 * only when evaluated in the same order, which both compilers keep (no -ffast-math) */
	for (int i = 0; i < n * n; i++)
		sum = sum * 31 + (uint64_t)(int64_t)(b[i] * 16.0);
	bench_report("matmul", t0, sum);
	free(a);
	free(b);
	free(c);
	return 0;
}
