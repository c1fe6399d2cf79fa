/*
 * Integer and branch heavy CPU benchmark: a mix of small kernels (sieve,
 * bitwise CRC32, a tokenizer state machine, quicksort, an open-addressing
 * hash table, integer matrix multiply, string search and a tiny bytecode
 * interpreter), each repeated ROUNDS times on inputs that change per round.
 * Working sets fit in a host L2 cache so the interpreter's dispatch, not
 * memory, dominates. Prints one checksum line.
 */
#include "bench.h"

#ifndef ROUNDS
#define ROUNDS 450
#endif

#define SIEVE_N (1 << 17)
#define CRC_LEN 8192
#define TEXT_LEN 16384
#define SORT_N 8192
#define HASH_BITS 14
#define HASH_KEYS 10000
#define MAT_N 40
#define VM_STEPS 20000

static uint8_t sieve_flags[SIEVE_N];
static uint8_t text[TEXT_LEN + 1];
static uint32_t sort_buf[SORT_N];
static uint64_t hash_keys[1 << HASH_BITS];
static uint32_t hash_vals[1 << HASH_BITS];
static int32_t mat_a[MAT_N][MAT_N], mat_b[MAT_N][MAT_N], mat_c[MAT_N][MAT_N];

static uint64_t sieve(uint32_t limit)
{
	uint64_t count = 0, sum = 0;

	for (uint32_t i = 0; i < limit; i++) {
		sieve_flags[i] = 1;
	}
	for (uint32_t i = 2; i * i < limit; i++) {
		if (!sieve_flags[i]) {
			continue;
		}
		for (uint32_t j = i * i; j < limit; j += i) {
			sieve_flags[j] = 0;
		}
	}
	for (uint32_t i = 2; i < limit; i++) {
		if (sieve_flags[i]) {
			count++;
			sum += i;
		}
	}
	return count ^ (sum << 20);
}

static uint32_t crc32_bitwise(const uint8_t *p, uint32_t len, uint32_t crc)
{
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++) {
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
		}
	}
	return ~crc;
}

/* Fills text with identifiers, numbers, operators, strings and spaces. */
static void make_text(uint64_t *rng)
{
	static const char ops[] = "+-*/=<>();,{}";
	uint32_t i = 0;

	while (i < TEXT_LEN - 16) {
		uint64_t r = bench_rand(rng);
		uint32_t len = 1 + (uint32_t)((r >> 8) % 8);

		switch (r % 6) {
		case 0:
		case 1:
			for (uint32_t k = 0; k < len; k++) {
				text[i++] = (uint8_t)('a' + (r >> (16 + k * 3)) % 26);
			}
			break;
		case 2:
			for (uint32_t k = 0; k < len; k++) {
				text[i++] = (uint8_t)('0' + (r >> (16 + k * 3)) % 10);
			}
			break;
		case 3:
			text[i++] = (uint8_t)ops[(r >> 16) % (sizeof(ops) - 1)];
			break;
		case 4:
			text[i++] = '"';
			for (uint32_t k = 0; k < len; k++) {
				text[i++] = (uint8_t)('A' + (r >> (16 + k * 3)) % 26);
			}
			text[i++] = '"';
			break;
		default:
			text[i++] = ' ';
			break;
		}
	}
	while (i < TEXT_LEN) {
		text[i++] = ' ';
	}
	text[TEXT_LEN] = 0;
}

enum tok_state { ST_SPACE, ST_IDENT, ST_NUMBER, ST_STRING };

/* A hand-written lexer: counts token kinds and sums the numbers. */
static uint64_t tokenize(const uint8_t *s)
{
	enum tok_state st = ST_SPACE;
	uint64_t idents = 0, numbers = 0, strings = 0, ops = 0, value = 0, total = 0, idhash = 0;

	for (;; s++) {
		uint8_t c = *s;

		switch (st) {
		case ST_IDENT:
			if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
				idhash = idhash * 31 + c;
				continue;
			}
			idents++;
			break;
		case ST_NUMBER:
			if (c >= '0' && c <= '9') {
				value = value * 10 + (c - '0');
				continue;
			}
			numbers++;
			total += value;
			break;
		case ST_STRING:
			if (c != '"' && c != 0) {
				idhash += c;
				continue;
			}
			strings++;
			st = ST_SPACE;
			continue;
		case ST_SPACE:
			break;
		}
		st = ST_SPACE;
		if (c == 0) {
			break;
		} else if (c >= 'a' && c <= 'z') {
			st = ST_IDENT;
			idhash = idhash * 31 + c;
		} else if (c >= '0' && c <= '9') {
			st = ST_NUMBER;
			value = (uint64_t)(c - '0');
		} else if (c == '"') {
			st = ST_STRING;
		} else if (c != ' ') {
			ops++;
		}
	}
	return idents ^ (numbers << 12) ^ (strings << 24) ^ (ops << 36) ^ total ^ idhash;
}

static void insertion_sort(uint32_t *a, int n)
{
	for (int i = 1; i < n; i++) {
		uint32_t v = a[i];
		int j = i - 1;

		while (j >= 0 && a[j] > v) {
			a[j + 1] = a[j];
			j--;
		}
		a[j + 1] = v;
	}
}

static void quicksort(uint32_t *a, int n)
{
	while (n > 16) {
		uint32_t x = a[0], y = a[n / 2], z = a[n - 1];
		uint32_t pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
		int i = 0, j = n - 1;

		for (;;) {
			while (a[i] < pivot) {
				i++;
			}
			while (a[j] > pivot) {
				j--;
			}
			if (i >= j) {
				break;
			}
			uint32_t t = a[i];
			a[i] = a[j];
			a[j] = t;
			i++;
			j--;
		}
		/* Recurse on the smaller half to bound the stack. */
		if (j + 1 < n - j - 1) {
			quicksort(a, j + 1);
			a += j + 1;
			n -= j + 1;
		} else {
			quicksort(a + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	insertion_sort(a, n);
}

static uint64_t sort_round(uint64_t *rng)
{
	uint64_t h = 0;

	for (int i = 0; i < SORT_N; i++) {
		sort_buf[i] = (uint32_t)bench_rand(rng);
	}
	quicksort(sort_buf, SORT_N);
	for (int i = 0; i < SORT_N; i += 97) {
		h = bench_mix(h, sort_buf[i]);
	}
	for (int i = 1; i < SORT_N; i++) {
		if (sort_buf[i - 1] > sort_buf[i]) {
			return 0xbad;
		}
	}
	return h;
}

static uint64_t hash_round(uint64_t *rng)
{
	const uint32_t mask = (1u << HASH_BITS) - 1;
	uint64_t found = 0, probes = 0;
	uint64_t seed = *rng;

	for (uint32_t i = 0; i <= mask; i++) {
		hash_keys[i] = 0;
	}
	for (uint32_t i = 0; i < HASH_KEYS; i++) {
		uint64_t k = (bench_rand(rng) & 0xffffff) | 1;
		uint32_t slot = (uint32_t)((k * 0x9E3779B97F4A7C15ULL) >> (64 - HASH_BITS));

		while (hash_keys[slot] != 0 && hash_keys[slot] != k) {
			slot = (slot + 1) & mask;
			probes++;
		}
		if (hash_keys[slot] == k) {
			hash_vals[slot]++;
		} else {
			hash_keys[slot] = k;
			hash_vals[slot] = i;
		}
	}
	/* Look up half the inserted keys (replayed stream) and as many misses. */
	for (uint32_t i = 0; i < HASH_KEYS; i++) {
		uint64_t k = (i & 1) ? ((bench_rand(&seed) & 0xffffff) | 1) : (i << 25);
		uint32_t slot = (uint32_t)((k * 0x9E3779B97F4A7C15ULL) >> (64 - HASH_BITS));

		while (hash_keys[slot] != 0) {
			if (hash_keys[slot] == k) {
				found += hash_vals[slot];
				break;
			}
			slot = (slot + 1) & mask;
			probes++;
		}
	}
	return found ^ (probes << 32);
}

static uint64_t matmul_round(uint64_t *rng)
{
	uint64_t h = 0;

	for (int i = 0; i < MAT_N; i++) {
		for (int j = 0; j < MAT_N; j++) {
			mat_a[i][j] = (int32_t)(bench_rand(rng) % 201) - 100;
			mat_b[i][j] = (int32_t)(bench_rand(rng) % 201) - 100;
		}
	}
	for (int i = 0; i < MAT_N; i++) {
		for (int j = 0; j < MAT_N; j++) {
			int32_t s = 0;

			for (int k = 0; k < MAT_N; k++) {
				s += mat_a[i][k] * mat_b[k][j];
			}
			mat_c[i][j] = s;
		}
	}
	for (int i = 0; i < MAT_N; i++) {
		h = bench_mix(h, (uint32_t)mat_c[i][(i * 7) % MAT_N]);
	}
	return h;
}

/* Naive search with an early-out first-character test: very branchy. */
static uint64_t search_round(uint32_t round)
{
	static const char *const pats[] = { "ab", "zzq", "123", "\"AB", "qwer", "x=", "7 (" };
	uint64_t hits = 0;

	for (uint32_t p = 0; p < sizeof(pats) / sizeof(pats[0]); p++) {
		const char *pat = pats[(p + round) % 7];
		uint32_t m = 0;

		while (pat[m]) {
			m++;
		}
		for (uint32_t i = 0; i + m <= TEXT_LEN; i++) {
			uint32_t k = 0;

			if (text[i] != (uint8_t)pat[0]) {
				continue;
			}
			while (k < m && text[i + k] == (uint8_t)pat[k]) {
				k++;
			}
			if (k == m) {
				hits += i;
			}
		}
	}
	return hits;
}

enum vm_op { VM_PUSH, VM_ADD, VM_SUB, VM_MUL, VM_DUP, VM_SWAP, VM_JNZ, VM_DEC, VM_XOR, VM_OVER,
	     VM_DROP, VM_HALT };

/* A stack machine running a small nested loop program. */
static uint64_t vm_round(uint32_t round)
{
	static const uint8_t prog[] = {
		VM_PUSH, 1, VM_PUSH, 0, /* acc=1, n (patched below) */
		VM_SWAP, VM_DUP, VM_PUSH, 3, VM_MUL, VM_OVER, VM_XOR, VM_PUSH, 7, VM_ADD, VM_SWAP,
		VM_DROP, VM_SWAP, VM_DEC, VM_DUP, VM_JNZ, 4, VM_HALT,
	};
	uint8_t code[sizeof(prog)];
	uint64_t stack[16];
	uint32_t sp = 0, pc = 0, steps = 0;

	memcpy(code, prog, sizeof(prog));
	code[3] = (uint8_t)(200 + round % 50);
	for (;;) {
		uint8_t op = code[pc++];

		if (++steps > VM_STEPS * 4) {
			break;
		}
		switch (op) {
		case VM_PUSH:
			stack[sp++] = code[pc++];
			break;
		case VM_ADD:
			sp--;
			stack[sp - 1] += stack[sp];
			break;
		case VM_SUB:
			sp--;
			stack[sp - 1] -= stack[sp];
			break;
		case VM_MUL:
			sp--;
			stack[sp - 1] *= stack[sp];
			break;
		case VM_XOR:
			sp--;
			stack[sp - 1] ^= stack[sp];
			break;
		case VM_DUP:
			stack[sp] = stack[sp - 1];
			sp++;
			break;
		case VM_OVER:
			stack[sp] = stack[sp - 2];
			sp++;
			break;
		case VM_DROP:
			sp--;
			break;
		case VM_SWAP: {
			uint64_t t = stack[sp - 1];
			stack[sp - 1] = stack[sp - 2];
			stack[sp - 2] = t;
			break;
		}
		case VM_DEC:
			stack[sp - 1]--;
			break;
		case VM_JNZ:
			if (stack[--sp] != 0) {
				pc = code[pc];
			} else {
				pc++;
			}
			break;
		default:
			return stack[0] ^ ((uint64_t)steps << 40) ^ sp;
		}
		if (sp > 12) {
			return 0xdead;
		}
	}
	return stack[0] ^ ((uint64_t)steps << 40) ^ sp;
}

int main(void)
{
	uint64_t rng = 0x1234567887654321ULL;
	uint64_t sum = 0;

	for (uint32_t round = 0; round < ROUNDS; round++) {
		make_text(&rng);
		sum = bench_mix(sum, sieve(SIEVE_N - (round % 16) * 1000));
		sum = bench_mix(sum, crc32_bitwise(text, CRC_LEN, round));
		for (int k = 0; k < 4; k++) {
			sum = bench_mix(sum, tokenize(text + k));
		}
		sum = bench_mix(sum, sort_round(&rng));
		sum = bench_mix(sum, hash_round(&rng));
		sum = bench_mix(sum, matmul_round(&rng));
		sum = bench_mix(sum, search_round(round));
		for (int k = 0; k < 8; k++) {
			sum = bench_mix(sum, vm_round(round * 8 + k));
		}
	}
	bench_checksum("int", sum);
	return 0;
}
