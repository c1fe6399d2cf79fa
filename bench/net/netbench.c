/*
 * netbench: the guest side of the network benchmark (bench/net/run), built static for
 * riscv64 into the benchmark's initramfs. `netbench HOST PORT SECONDS` connects to the
 * host's sink and sends 128 KiB writes for SECONDS, then half-closes and prints the
 * sink's answer (what the host received and over how long) after its own figures:
 *   LODGE-BENCH net sent=BYTES guest_s=S host_bytes=BYTES host_s=S
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	static char buf[128 * 1024], reply[256];
	struct sockaddr_in a = {.sin_family = AF_INET};
	unsigned long long sent = 0;
	double secs, t0, t;
	ssize_t n;
	size_t got = 0;
	int s = -1;

	if (argc != 4 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "usage: netbench HOST PORT SECONDS\n");
		return 2;
	}
	a.sin_port = htons((unsigned short)atoi(argv[2]));
	secs = atof(argv[3]);
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 31 + 7);
	for (int tries = 0; tries < 50; tries++) {
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			break;
		close(s);
		s = -1;
		usleep(200000);
	}
	if (s < 0) {
		printf("LODGE-BENCH net failed connect: %s\n", strerror(errno));
		return 1;
	}
	t0 = now();
	do {
		n = write(s, buf, sizeof(buf));
		if (n < 0) {
			printf("LODGE-BENCH net failed write: %s\n", strerror(errno));
			return 1;
		}
		sent += (unsigned long long)n;
		t = now();
	} while (t - t0 < secs);
	shutdown(s, SHUT_WR);
	while (got < sizeof(reply) - 1 && (n = read(s, reply + got, sizeof(reply) - 1 - got)) > 0)
		got += (size_t)n;
	reply[got] = 0;
	reply[strcspn(reply, "\n")] = 0;
	printf("LODGE-BENCH net sent=%llu guest_s=%.3f %s\n", sent, t - t0, reply);
	return 0;
}
