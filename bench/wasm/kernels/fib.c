/* Recursive Fibonacci: call and return overhead, small integer arithmetic. */
#include "bench.h"

#include <stdlib.h>

static uint32_t fib(uint32_t n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)atoi(argv[1]) : 35;
	uint64_t t0 = bench_now_ns();

	bench_report("fib", t0, fib(n));
	return 0;
}
