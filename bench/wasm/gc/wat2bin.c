/*
 * wat2bin WAT OUT: encodes a text module to binary with Lodge's own text front end, so
 * the GC benchmark (run) can hand Node the very module Lodge runs (wabt's wat2wasm in
 * Debian does not read the GC proposal's text). Built by run against build/release.
 */
#include "wasm/text/text.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	struct wasm_text_binary bin = {0};
	struct wasm_text_error err;
	FILE *f;
	char *src;
	long n;

	if (argc != 3) {
		fprintf(stderr, "usage: wat2bin WAT OUT\n");
		return 2;
	}
	f = fopen(argv[1], "rb");
	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		perror(argv[1]);
		return 1;
	}
	src = malloc((size_t)n + 1);
	if (!src || fread(src, 1, (size_t)n, f) != (size_t)n) {
		perror(argv[1]);
		return 1;
	}
	fclose(f);
	if (wasm_text_to_binary(src, (size_t)n, &bin, &err)) {
		fprintf(stderr, "%s:%u:%u: %s\n", argv[1], err.line, err.col, err.detail);
		return 1;
	}
	f = fopen(argv[2], "wb");
	if (!f || fwrite(bin.bytes, 1, bin.len, f) != bin.len || fclose(f)) {
		perror(argv[2]);
		return 1;
	}
	wasm_text_binary_fini(&bin);
	free(src);
	return 0;
}
