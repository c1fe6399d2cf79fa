/*
 * A mixed integer workload in the spirit of embedded CPU benchmarks (but its own code):
 * each iteration runs four parts on small data sets that stay in cache, and folds every
 * result into a CRC-16 so nothing can be optimised away:
 *   list   - a singly linked list in a node pool: search, reverse, insertion sort by value;
 *   matrix - 16-bit integer matrices: scale, matrix x vector, matrix x matrix, bit fields;
 *   lexer  - a table-free state machine classifying tokens (integer, decimal, exponent,
 *            hex, word, other) in a text buffer;
 *   crc    - the bitwise CRC-16/CCITT of the partial results.
 */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

#define LIST_N	 200
#define MAT_N	 24
#define TEXT_LEN 2048

struct node {
	struct node *next;
	int16_t key;
	int16_t val;
};

struct work {
	struct node pool[LIST_N];
	struct node *head;
	int16_t ma[MAT_N * MAT_N], mb[MAT_N * MAT_N];
	int32_t mc[MAT_N * MAT_N], vec[MAT_N];
	char text[TEXT_LEN];
};

static uint16_t crc16(uint16_t crc, uint32_t v, int bytes)
{
	for (int i = 0; i < bytes; i++) {
		crc ^= (uint16_t)((v >> (8 * i) & 0xff) << 8);
		for (int b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (uint16_t)(crc << 1 ^ 0x1021) : (uint16_t)(crc << 1);
	}
	return crc;
}

/* ----- list ----- */

static void list_build(struct work *w, uint64_t *seed)
{
	w->head = NULL;
	for (int i = LIST_N - 1; i >= 0; i--) {
		w->pool[i].key = (int16_t)i;
		w->pool[i].val = (int16_t)(bench_rand(seed) & 0x7fff);
		w->pool[i].next = w->head;
		w->head = &w->pool[i];
	}
}

static struct node *list_find(struct node *n, int16_t key)
{
	while (n && n->key != key)
		n = n->next;
	return n;
}

static struct node *list_reverse(struct node *n)
{
	struct node *prev = NULL;

	while (n) {
		struct node *next = n->next;
		n->next = prev;
		prev = n;
		n = next;
	}
	return prev;
}

static struct node *list_sort(struct node *n)
{
	struct node *sorted = NULL;

	while (n) {
		struct node *next = n->next, **at = &sorted;
		while (*at && (*at)->val < n->val)
			at = &(*at)->next;
		n->next = *at;
		*at = n;
		n = next;
	}
	return sorted;
}

static uint16_t run_list(struct work *w, uint16_t crc, uint32_t iter)
{
	int32_t found = 0;

	for (int i = 0; i < 32; i++) {
		struct node *n = list_find(w->head, (int16_t)((iter * 7 + (uint32_t)i * 13) % 256));
		found += n ? n->val : -1;
	}
	w->head = list_reverse(w->head);
	w->head = list_sort(w->head);
	for (struct node *n = w->head; n; n = n->next)
		n->val = (int16_t)((n->val * 5 + n->key) & 0x7fff);
	crc = crc16(crc, (uint32_t)found, 4);
	return crc16(crc, (uint32_t)w->head->val, 2);
}

/* ----- matrix ----- */

static uint16_t run_matrix(struct work *w, uint16_t crc, uint32_t iter)
{
	int16_t k = (int16_t)(iter & 0xf) + 1;
	uint32_t acc = 0;

	for (int i = 0; i < MAT_N * MAT_N; i++)
		w->ma[i] = (int16_t)(w->ma[i] + k);
	for (int i = 0; i < MAT_N; i++) {
		int32_t s = 0;
		for (int j = 0; j < MAT_N; j++)
			s += w->ma[i * MAT_N + j] * w->mb[j * MAT_N + i];
		w->vec[i] = s;
	}
	for (int i = 0; i < MAT_N; i++)
		for (int j = 0; j < MAT_N; j++) {
			int32_t s = 0;
			for (int x = 0; x < MAT_N; x++)
				s += w->ma[i * MAT_N + x] * w->mb[x * MAT_N + j];
			w->mc[i * MAT_N + j] = s;
		}
	for (int i = 0; i < MAT_N * MAT_N; i++)
		acc += (uint32_t)(w->mc[i] >> 3 & 0x3ff) + (uint32_t)(w->mc[i] >> 20 & 0x7);
	for (int i = 0; i < MAT_N; i++)
		acc ^= (uint32_t)w->vec[i];
	for (int i = 0; i < MAT_N * MAT_N; i++)
		w->ma[i] = (int16_t)(w->ma[i] - k);
	return crc16(crc, acc, 4);
}

/* ----- lexer ----- */

enum tok { T_INT, T_DEC, T_EXP, T_HEX, T_WORD, T_OTHER, T_COUNT };

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_hexdigit(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Classifies the token at *p (which is not a separator) and advances past it. */
static enum tok lex_one(const char **pp)
{
	const char *p = *pp;
	enum tok t;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && is_hexdigit(p[2])) {
		for (p += 2; is_hexdigit(*p); p++)
			;
		t = T_HEX;
	} else if (is_digit(*p) || ((*p == '-' || *p == '+') && is_digit(p[1]))) {
		t = T_INT;
		for (p++; is_digit(*p); p++)
			;
		if (*p == '.') {
			t = T_DEC;
			for (p++; is_digit(*p); p++)
				;
		}
		if ((*p == 'e' || *p == 'E') && (is_digit(p[1]) || p[1] == '-')) {
			t = T_EXP;
			for (p += 2; is_digit(*p); p++)
				;
		}
	} else if (is_alpha(*p)) {
		for (p++; is_alpha(*p) || is_digit(*p); p++)
			;
		t = T_WORD;
	} else {
		p++;
		t = T_OTHER;
	}
	if (*p && *p != ' ' && *p != ',' && *p != '\n') {
		t = T_OTHER;
		while (*p && *p != ' ' && *p != ',' && *p != '\n')
			p++;
	}
	*pp = p;
	return t;
}

static void make_text(struct work *w, uint64_t *seed)
{
	static const char *const parts[] = {"127", "-3.25", "6.02e23", "0x1F", "alpha", "x9",
					    "+15", "1.5e-3", "??", "0xZZ", "42.", "word_2"};
	size_t n = 0;

	while (n + 16 < TEXT_LEN) {
		const char *s = parts[bench_rand(seed) % (sizeof(parts) / sizeof(parts[0]))];
		size_t l = strlen(s);
		memcpy(w->text + n, s, l);
		n += l;
		w->text[n++] = bench_rand(seed) % 5 ? ' ' : ',';
	}
	w->text[n] = 0;
}

static uint16_t run_lexer(struct work *w, uint16_t crc, uint32_t iter)
{
	uint32_t count[T_COUNT] = {0};
	const char *p = w->text;

	/* flip one character per iteration so the input (and the branch pattern) drifts */
	char *c = &w->text[(iter * 131) % (TEXT_LEN - 64)];
	if (*c >= '0' && *c <= '8')
		(*c)++;
	else if (*c == '9')
		*c = '0';
	while (*p) {
		if (*p == ' ' || *p == ',' || *p == '\n') {
			p++;
			continue;
		}
		count[lex_one(&p)]++;
	}
	for (int i = 0; i < T_COUNT; i++)
		crc = crc16(crc, count[i], 2);
	return crc;
}

int main(int argc, char **argv)
{
	uint32_t iters = argc > 1 ? (uint32_t)atoi(argv[1]) : 2000;
	struct work *w = calloc(1, sizeof(*w));
	uint64_t seed = 99, t0;
	uint16_t crc = 0;

	if (!w)
		return 1;
	list_build(w, &seed);
	for (int i = 0; i < MAT_N * MAT_N; i++) {
		w->ma[i] = (int16_t)(bench_rand(&seed) % 256 - 128);
		w->mb[i] = (int16_t)(bench_rand(&seed) % 256 - 128);
	}
	make_text(w, &seed);
	t0 = bench_now_ns();
	for (uint32_t i = 0; i < iters; i++) {
		crc = run_list(w, crc, i);
		crc = run_matrix(w, crc, i);
		crc = run_lexer(w, crc, i);
	}
	bench_report("mixed", t0, crc);
	free(w);
	return 0;
}
