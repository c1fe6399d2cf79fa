/*
 * Seed for the fuzz targets: small C kernels compiled by clang -O2 for wasm32 without a
 * libc (make fuzz-seeds), so the fuzzers start from the instruction patterns real
 * compilers emit: loops over arrays, address arithmetic, hashing, sorting, floating
 * point, switch tables, calls. Every function takes no arguments (the run
 * target calls exports with zeros) and works on static data.
 */
#include <stdint.h>

static uint32_t words[64] = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89};
static double vec[32] = {0.5, 1.5, 2.5, -3.25};
static int16_t mat[8][8] = {{1, -2}, {3, 4, -5}};
static uint8_t bytes[128] = "the quick brown fox";

uint32_t mix(void)
{
	uint32_t h = 0x811c9dc5;
	for (int i = 0; i < 64; i++) {
		h ^= words[i];
		h = (h << 5 | h >> 27) + (h ^ 0x9e3779b9);
		words[i] = h;
	}
	return h;
}

uint64_t xorshift(void)
{
	static uint64_t s = 88172645463325252ull;
	for (int i = 0; i < 16; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
	}
	return s;
}

double dot(void)
{
	double acc = 0;
	for (int i = 0; i < 32; i++) {
		vec[i] = vec[i] * 1.25 + (double)i;
		acc += vec[i] * vec[31 - i];
	}
	return acc;
}

int32_t matmul(void)
{
	int32_t out = 0;
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 8; j++) {
			int32_t s = 0;
			for (int k = 0; k < 8; k++)
				s += mat[i][k] * mat[k][j];
			out ^= s << (j & 7);
		}
	return out;
}

uint32_t sort(void)
{
	for (int i = 1; i < 64; i++) {
		uint32_t v = words[i];
		int j = i - 1;
		while (j >= 0 && words[j] > v) {
			words[j + 1] = words[j];
			j--;
		}
		words[j + 1] = v;
	}
	return words[0] + words[63];
}

uint32_t classify(void)
{
	uint32_t counts[4] = {0};
	for (int i = 0; bytes[i]; i++) {
		switch (bytes[i]) {
		case 'a': case 'e': case 'i': case 'o': case 'u':
			counts[0]++;
			break;
		case ' ':
			counts[1]++;
			break;
		case 'q': case 'x': case 'z':
			counts[2]++;
			break;
		default:
			counts[3]++;
		}
	}
	return counts[0] | counts[1] << 8 | counts[2] << 16 | counts[3] << 24;
}

static uint32_t fib(uint32_t n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

uint32_t calls(void)
{
	return fib(15);
}
