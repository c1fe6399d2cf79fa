/*
 * The WebAssembly program of the OCI tests (tests/oci/suite.sh), built for wasm32-wasi:
 * prints its arguments and the environment variables named LODGE_*, then follows
 * commands given as arguments:
 *   cat=PATH        print the file at PATH (a volume, or the image's own files)
 *   write=PATH:TEXT write TEXT to PATH
 *   exit=N          exit with status N
 *   spin            loop until killed (for kill and stop)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int main(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		printf("arg[%d]=%s\n", i, argv[i]);
	for (char **e = environ; *e; e++)
		if (!strncmp(*e, "LODGE_", 6))
			printf("env %s\n", *e);
	fflush(stdout);
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "cat=", 4)) {
			FILE *f = fopen(argv[i] + 4, "r");
			char buf[256];
			if (!f) {
				perror(argv[i] + 4);
				return 1;
			}
			while (fgets(buf, sizeof(buf), f))
				printf("cat: %s", buf);
			fclose(f);
		} else if (!strncmp(argv[i], "write=", 6)) {
			char *colon = strchr(argv[i] + 6, ':');
			FILE *f;
			if (!colon)
				return 2;
			*colon = 0;
			f = fopen(argv[i] + 6, "w");
			if (!f || fputs(colon + 1, f) < 0 || fclose(f)) {
				perror(argv[i] + 6);
				return 1;
			}
		} else if (!strncmp(argv[i], "exit=", 5)) {
			fflush(stdout);
			return atoi(argv[i] + 5);
		} else if (!strcmp(argv[i], "spin")) {
			for (volatile unsigned long n = 0;; n++)
				;
		}
	}
	return 0;
}
