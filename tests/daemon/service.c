/*
 * A small WASI service for the daemon tests: prints "service: started" and its arguments,
 * then a heartbeat line every 200 ms ("tick N"), and echoes each line it reads on stdin as
 * "echo: LINE". Ends with status 0 on "quit", status 3 on "fail", and traps on "trap".
 * With the argument "oneshot" it prints one line and exits 0 at once; with "idle" it prints
 * one line and then waits for input without a heartbeat (an idle service, for bench/host).
 */
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void handle(const char *line)
{
	if (!strcmp(line, "quit"))
		exit(0);
	if (!strcmp(line, "fail"))
		exit(3);
	if (!strcmp(line, "trap"))
		__builtin_trap();
	printf("echo: %s\n", line);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	char line[256];
	size_t len = 0;
	unsigned tick = 0;

	printf("service: started");
	for (int i = 1; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
	fflush(stdout);
	if (argc > 1 && !strcmp(argv[1], "oneshot"))
		return 0;
	bool idle = argc > 1 && !strcmp(argv[1], "idle");
	for (;;) {
		struct pollfd p = {.fd = 0, .events = POLLIN};
		int r = poll(&p, 1, idle ? -1 : 200);
		if (r > 0) {
			char c;
			ssize_t n = read(0, &c, 1);
			if (n <= 0) {
				usleep(200000); /* no input any more: keep ticking */
				continue;
			}
			if (c == '\n' || len == sizeof(line) - 1) {
				line[len] = 0;
				len = 0;
				handle(line);
			} else {
				line[len++] = c;
			}
			continue;
		}
		printf("tick %u\n", ++tick);
		fflush(stdout);
	}
}
