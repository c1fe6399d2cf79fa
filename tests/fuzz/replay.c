/*
 * A libFuzzer-free driver for the fuzz targets: calls LLVMFuzzerTestOneInput once per file
 * named on the command line. Built with the normal compiler and the MODE's sanitizers, it
 * replays the regression inputs in tests/fuzz/regressions/ (tests/fuzz/suite.sh).
 * Exit status: 0 when every input ran, 2 when a file cannot be read.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		perror(path);
		return 2;
	}
	do {
		if (len == cap) {
			uint8_t *p = realloc(buf, cap ? cap * 2 : 4096);
			if (!p) {
				free(buf);
				fclose(f);
				return 2;
			}
			buf = p;
			cap = cap ? cap * 2 : 4096;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 0;

	for (int i = 1; i < argc; i++)
		if (replay(argv[i]))
			rc = 2;
	return rc;
}
