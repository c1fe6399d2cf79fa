/*
 * Compiled code at -O2 as a whole: recursion, a quicksort over LCG data, CRC-32, a sieve,
 * 128-bit multiplication (mulhu), signed division of negative values, a switch the
 * compiler turns into a jump table, calls through function pointers, overlapping
 * memmove, and double arithmetic with int conversions. Each result is a known constant.
 */
#include "runtime.h"

static uint64_t lcg_state = 12345;

static uint32_t lcg(void)
{
	lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(lcg_state >> 33);
}

static unsigned fib(unsigned n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static void quicksort(uint32_t *a, long lo, long hi)
{
	while (lo < hi) {
		uint32_t pivot = a[(lo + hi) / 2];
		long i = lo, j = hi;

		while (i <= j) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j) {
				uint32_t t = a[i];

				a[i++] = a[j];
				a[j--] = t;
			}
		}
		if (j - lo < hi - i) {
			quicksort(a, lo, j);
			lo = i;
		} else {
			quicksort(a, i, hi);
			hi = j;
		}
	}
}

static uint32_t crc32(const char *s)
{
	uint32_t crc = 0xffffffff;

	for (; *s; s++) {
		crc ^= (uint8_t)*s;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320 & (0 - (crc & 1)));
	}
	return ~crc;
}

static int sieve(int n)
{
	static uint8_t composite[10000];
	int count = 0;

	for (int i = 2; i < n; i++) {
		if (composite[i])
			continue;
		count++;
		for (int j = i * 2; j < n; j += i)
			composite[j] = 1;
	}
	return count;
}

static int classify(int x)
{
	switch (x) {
	case 0:
		return 11;
	case 1:
		return 23;
	case 2:
		return 37;
	case 3:
		return 41;
	case 4:
		return 59;
	case 5:
		return 61;
	case 6:
		return 73;
	case 7:
		return 89;
	default:
		return -1;
	}
}

static long add(long a, long b)
{
	return a + b;
}

static long sub(long a, long b)
{
	return a - b;
}

static long mul(long a, long b)
{
	return a * b;
}

static uint32_t data[2000];

int main(void)
{
	static long (*const ops[3])(long, long) = {add, sub, mul};
	volatile long va = -7, vb = 2, big = -9000000000000000007L;
	volatile uint64_t x = 0xfedcba9876543210ULL, y = 0x0123456789abcdefULL;
	volatile double half = 0.5;
	char buf[16] = "abcdefghij";
	uint64_t sum = 0;
	unsigned __int128 p;
	double s = 0;
	int jt = 0;

	RT_CHECK(1, fib(25) == 75025);

	for (int i = 0; i < 2000; i++) {
		data[i] = lcg();
		sum += data[i];
	}
	quicksort(data, 0, 1999);
	for (int i = 1; i < 2000; i++)
		RT_CHECK(2, data[i - 1] <= data[i]);
	for (int i = 0; i < 2000; i++)
		sum -= data[i];
	RT_CHECK(3, sum == 0);

	RT_CHECK(4, crc32("The quick brown fox jumps over the lazy dog") == 0x414fa339);
	RT_CHECK(5, sieve(10000) == 1229);

	p = (unsigned __int128)x * y;
	RT_CHECK(6, (uint64_t)(p >> 64) == 0x0121fa00ad77d742ULL);
	RT_CHECK(7, (uint64_t)p == 0x2236d88fe5618cf0ULL);

	RT_CHECK(8, va / vb == -3 && va % vb == -1);
	RT_CHECK(9, big / 1000 == -9000000000000000L && big % 1000 == -7);
	RT_CHECK(10, (int32_t)va / (int32_t)vb == -3);

	for (int i = 0; i < 9; i++)
		jt = jt * 3 + classify(i);
	RT_CHECK(11, jt == 166757);

	RT_CHECK(12, ops[0](va, vb) == -5 && ops[1](va, vb) == -9 && ops[2](va, vb) == -14);

	memmove(buf + 2, buf, 8);
	RT_CHECK(13, memcmp(buf, "ababcdefgh", 10) == 0);
	memmove(buf, buf + 3, 7);
	RT_CHECK(14, memcmp(buf, "bcdefghfgh", 10) == 0);

	for (int i = 1; i <= 1000; i++)
		s += 1.0 / ((double)i * i);
	RT_CHECK(15, s > 1.6439345 && s < 1.6439346);
	RT_CHECK(16, (long)(s * 1e6) == 1643934);
	RT_CHECK(17, (int)(-2.5 + half) == -2);

	rt_puts("c algo: ok\n");
	return 0;
}
