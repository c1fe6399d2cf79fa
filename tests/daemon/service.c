/*
 * A small WASI service for the daemon tests: prints "service: started" and its arguments,
 * then a heartbeat line every 200 ms ("tick N"), and echoes each line it reads on stdin as
 * "echo: LINE" ("append PATH TEXT" and "cat PATH" work on files instead). Ends with status
 * 0 on "quit", status 3 on "fail", and traps on "trap"; "spin N" calls a small function N
 * times (hot code: the JIT translates it) and prints "spin: N SUM".
 * With the argument "oneshot" it prints one line and exits 0 at once; with "idle" it prints
 * one line and then waits for input without a heartbeat (an idle service, for bench/host).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* "append PATH TEXT": appends TEXT and a newline to PATH; "cat PATH": prints PATH. */
static void file_command(const char *line)
{
	bool append = !strncmp(line, "append ", 7);
	const char *rest = line + (append ? 7 : 4), *text;
	char path[128], buf[256];
	size_t n = strcspn(rest, " ");
	FILE *f;

	if (n >= sizeof(path))
		return;
	memcpy(path, rest, n);
	path[n] = 0;
	text = rest[n] ? rest + n + 1 : "";
	f = fopen(path, append ? "a" : "r");
	if (!f) {
		printf("%s %s: failed: %s\n", append ? "append" : "cat", path, strerror(errno));
		return;
	}
	if (append) {
		bool ok = fprintf(f, "%s\n", text) >= 0;
		ok = !fclose(f) && ok;
		printf("append %s: %s\n", path, ok ? "done" : strerror(errno));
		return;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	printf("cat %s: %s", path, buf);
}

/* Hot code for "spin": a call the compiler keeps, N times. */
static __attribute__((noinline)) unsigned mix(unsigned x, unsigned i)
{
	return (x ^ i) * 2654435761u + (i >> 3);
}

static void handle(const char *line)
{
	if (!strncmp(line, "spin ", 5)) {
		unsigned n = (unsigned)strtoul(line + 5, NULL, 10), x = 1;
		for (unsigned i = 0; i < n; i++)
			x = mix(x, i);
		printf("spin: %u %u\n", n, x);
		fflush(stdout);
		return;
	}
	if (!strncmp(line, "append ", 7) || !strncmp(line, "cat ", 4)) {
		file_command(line);
		fflush(stdout);
		return;
	}
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
