/*
 * fdleak DIR N: opens, reads and closes the directory DIR N times (opendir/readdir/closedir:
 * path_open, fd_readdir, fd_close). Each cycle must give back every host fd it used: run
 * under a lowered `ulimit -n`, a leak of one fd per cycle fails within a few hundred.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	int n, want = -1;

	if (argc != 3) {
		fprintf(stderr, "usage: fdleak DIR N\n");
		return 2;
	}
	n = atoi(argv[2]);
	for (int i = 0; i < n; i++) {
		DIR *d = opendir(argv[1]);
		int count = 0;

		if (!d) {
			printf("cycle %d: opendir %s: %s\n", i, argv[1], strerror(errno));
			return 1;
		}
		while (readdir(d))
			count++;
		if (want < 0)
			want = count;
		if (count != want || count < 3) {
			printf("cycle %d: %d entries, want %d\n", i, count, want);
			return 1;
		}
		if (closedir(d)) {
			printf("cycle %d: closedir: %s\n", i, strerror(errno));
			return 1;
		}
	}
	printf("%d cycles, %d entries each\n", n, want);
	return 0;
}
