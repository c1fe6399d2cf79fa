/*
 * WASI test program (a text tool on stdio): reads lines from stdin and from the files
 * named on the command line, and prints
 *   - per input: line, word and byte counts (like wc);
 *   - the lines matching a pattern (-p PATTERN; plain substring, like grep -F) with
 *     "name:lineno:" prefixes;
 *   - all lines sorted (byte order, like sort with LC_ALL=C), then the ten most
 *     frequent words with their counts.
 * The output depends only on the input, so it must be identical natively and under WASI.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 100000

struct word {
	char *text;
	unsigned count;
};

struct state {
	const char *pattern;
	char **lines;
	size_t nlines;
	struct word *words;
	size_t nwords, capwords;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_word(const void *a, const void *b)
{
	const struct word *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->text, y->text);
}

static int add_word(struct state *st, const char *w, size_t len)
{
	for (size_t i = 0; i < st->nwords; i++)
		if (strlen(st->words[i].text) == len && !memcmp(st->words[i].text, w, len)) {
			st->words[i].count++;
			return 0;
		}
	if (st->nwords == st->capwords) {
		size_t cap = st->capwords ? st->capwords * 2 : 64;
		struct word *p = realloc(st->words, cap * sizeof(*p));
		if (!p)
			return -1;
		st->words = p;
		st->capwords = cap;
	}
	st->words[st->nwords].text = strndup(w, len);
	if (!st->words[st->nwords].text)
		return -1;
	st->words[st->nwords++].count = 1;
	return 0;
}

/* Counts one line's words into the word table; returns the word count or -1. */
static long scan_words(struct state *st, const char *line)
{
	long n = 0;
	const char *p = line;

	while (*p) {
		const char *start;
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p)
			break;
		start = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			p++;
		if (add_word(st, start, (size_t)(p - start)))
			return -1;
		n++;
	}
	return n;
}

static int process(struct state *st, FILE *f, const char *name)
{
	char buf[4096];
	unsigned long lines = 0, words = 0, bytes = 0;

	while (fgets(buf, sizeof(buf), f)) {
		long w = scan_words(st, buf);
		if (w < 0 || st->nlines == MAX_LINES)
			return -1;
		lines++;
		words += (unsigned long)w;
		bytes += strlen(buf);
		if (st->pattern && strstr(buf, st->pattern))
			printf("%s:%lu:%s%s", name, lines, buf,
			       buf[strlen(buf) - 1] == '\n' ? "" : "\n");
		buf[strcspn(buf, "\n")] = 0;
		st->lines = realloc(st->lines, (st->nlines + 1) * sizeof(char *));
		if (!st->lines || !(st->lines[st->nlines++] = strdup(buf)))
			return -1;
	}
	if (ferror(f))
		return -1;
	printf("%s: %lu lines, %lu words, %lu bytes\n", name, lines, words, bytes);
	return 0;
}

int main(int argc, char **argv)
{
	struct state st = {0};
	int i = 1, rc = 0;

	if (argc > 2 && !strcmp(argv[1], "-p")) {
		st.pattern = argv[2];
		i = 3;
	}
	if (process(&st, stdin, "-")) {
		fprintf(stderr, "textstat: stdin: read failed\n");
		return 1;
	}
	for (; i < argc; i++) {
		FILE *f = fopen(argv[i], "r");
		if (!f) {
			/* compared output: strerror() texts and errno values differ between libcs */
			printf("%s: cannot open: %s\n", argv[i],
			       errno == ENOENT ? "no such file" : "error");
			rc = 1;
			continue;
		}
		if (process(&st, f, argv[i]))
			rc = 1;
		fclose(f);
	}
	qsort(st.lines, st.nlines, sizeof(char *), cmp_str);
	printf("-- sorted (%zu lines)\n", st.nlines);
	for (size_t k = 0; k < st.nlines; k++)
		printf("%s\n", st.lines[k]);
	qsort(st.words, st.nwords, sizeof(struct word), cmp_word);
	printf("-- top words (%zu distinct)\n", st.nwords);
	for (size_t k = 0; k < st.nwords && k < 10; k++)
		printf("%7u %s\n", st.words[k].count, st.words[k].text);
	for (size_t k = 0; k < st.nlines; k++)
		free(st.lines[k]);
	for (size_t k = 0; k < st.nwords; k++)
		free(st.words[k].text);
	free(st.lines);
	free(st.words);
	return rc;
}
