/*
 * nonblock: sets O_NONBLOCK on its stdin (fd_fdstat_set_flags(0, NONBLOCK)), expects a read
 * of the still-empty stdin to fail with EAGAIN and fcntl(F_GETFL) to report the flag, prints
 * "eagain", then waits with poll() for input and prints what it read. It exits without
 * clearing the flag: tests/wasi/suite.sh checks, during the run and after it, that the
 * caller's open file description never got O_NONBLOCK.
 * nonblock append: writes "first", seeks stdout (a file) back to 0, sets O_APPEND and
 * writes "second", which must land after "first"; the caller's description must not get
 * O_APPEND either.
 * nonblock fill: sets O_NONBLOCK on stdout (a pipe nobody reads) and writes 6000-byte blocks
 * until EAGAIN, which must come (the emulation must never block), then reports the total
 * on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int append(void)
{
	if (write(1, "first\n", 6) != 6 || lseek(1, 0, SEEK_SET) != 0 ||
	    fcntl(1, F_SETFL, O_APPEND) || write(1, "second\n", 7) != 7) {
		fprintf(stderr, "append: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

static int fill(void)
{
	static char block[6000]; /* not a divisor of the pipe's 64 KiB */
	long total = 0;

	if (fcntl(1, F_SETFL, O_NONBLOCK)) {
		fprintf(stderr, "F_SETFL: %s\n", strerror(errno));
		return 1;
	}
	while (total < 64L << 20) {
		ssize_t n = write(1, block, sizeof(block));
		if (n < 0 && errno == EAGAIN) {
			fprintf(stderr, "filled %ld bytes\n", total);
			return 0;
		}
		if (n <= 0) {
			fprintf(stderr, "write: %s\n", n < 0 ? strerror(errno) : "0 bytes");
			return 1;
		}
		total += n;
	}
	fprintf(stderr, "wrote %ld bytes and never got EAGAIN\n", total);
	return 1;
}

int main(int argc, char **argv)
{
	struct pollfd p = {0, POLLIN, 0};
	char buf[64];
	ssize_t n;

	if (argc > 1 && !strcmp(argv[1], "append"))
		return append();
	if (argc > 1 && !strcmp(argv[1], "fill"))
		return fill();
	if (fcntl(0, F_SETFL, O_NONBLOCK)) {
		printf("F_SETFL: %s\n", strerror(errno));
		return 1;
	}
	if (!(fcntl(0, F_GETFL) & O_NONBLOCK)) {
		printf("F_GETFL does not report O_NONBLOCK\n");
		return 1;
	}
	n = read(0, buf, sizeof(buf));
	if (n >= 0 || errno != EAGAIN) {
		printf("read of an empty stdin: %zd (%s), want EAGAIN\n", n,
		       n < 0 ? strerror(errno) : "data");
		return 1;
	}
	printf("eagain\n");
	fflush(stdout);
	if (poll(&p, 1, 60000) != 1) {
		printf("poll: no input within 60 s\n");
		return 1;
	}
	n = read(0, buf, sizeof(buf) - 1);
	if (n <= 0) {
		printf("read after poll: %zd (%s)\n", n, n < 0 ? strerror(errno) : "EOF");
		return 1;
	}
	buf[n] = 0;
	printf("read: %s", buf);
	return 0;
}
