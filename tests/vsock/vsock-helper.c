/*
 * A small AF_VSOCK client/server for the guest side of the vsock and balloon tests
 * (tests/vsock/suite.sh); busybox has none. Built static for riscv64.
 *   vsock-helper listen PORT             accept one connection, echo it back until EOF
 *   vsock-helper connect CID PORT MSG    send MSG, close the sending side, print
 *                                        "REPLY <what came back>"
 *   vsock-helper big CID PORT BYTES      send BYTES of a pattern while reading the echo,
 *                                        print "BIG OK" when all of it came back intact
 * Exits 1 with a message on any error.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

static void die(const char *what)
{
	fprintf(stderr, "vsock-helper: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int vsock_connect(unsigned cid, unsigned port)
{
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port};
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t r = write(fd, p, n);
		if (r <= 0)
			die("write");
		p += r;
		n -= (size_t)r;
	}
}

static int do_listen(unsigned port)
{
	struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
	int lfd = socket(AF_VSOCK, SOCK_STREAM, 0), fd;
	char buf[8192];
	ssize_t n;

	if (lfd < 0)
		die("socket");
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0)
		die("bind/listen");
	printf("LISTENING %u\n", port);
	fflush(stdout);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept");
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		write_all(fd, buf, (size_t)n);
	if (n < 0)
		die("read");
	close(fd);
	close(lfd);
	return 0;
}

static int do_connect(unsigned cid, unsigned port, const char *msg)
{
	int fd = vsock_connect(cid, port);
	char buf[4096];
	size_t got = 0;
	ssize_t n;

	write_all(fd, msg, strlen(msg));
	shutdown(fd, SHUT_WR);
	while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = 0;
	printf("REPLY %s\n", buf);
	close(fd);
	return 0;
}

struct big {
	int fd;
	size_t bytes;
};

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 7 + (i >> 12));
}

static void *big_send(void *opaque)
{
	struct big *b = opaque;
	unsigned char buf[16384];

	for (size_t off = 0; off < b->bytes;) {
		size_t n = b->bytes - off < sizeof(buf) ? b->bytes - off : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(off + i);
		write_all(b->fd, (char *)buf, n);
		off += n;
	}
	shutdown(b->fd, SHUT_WR);
	return NULL;
}

static int do_big(unsigned cid, unsigned port, size_t bytes)
{
	struct big b = {.fd = vsock_connect(cid, port), .bytes = bytes};
	unsigned char buf[16384];
	size_t got = 0;
	pthread_t t;
	ssize_t n;

	if (pthread_create(&t, NULL, big_send, &b))
		die("pthread_create");
	while ((n = read(b.fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != pattern(got + (size_t)i)) {
				fprintf(stderr, "vsock-helper: byte %zu differs\n", got + (size_t)i);
				return 1;
			}
		}
		got += (size_t)n;
	}
	pthread_join(t, NULL);
	if (got != bytes) {
		fprintf(stderr, "vsock-helper: %zu of %zu bytes came back\n", got, bytes);
		return 1;
	}
	printf("BIG OK %zu\n", got);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "listen"))
		return do_listen((unsigned)strtoul(argv[2], NULL, 10));
	if (argc == 5 && !strcmp(argv[1], "connect"))
		return do_connect((unsigned)strtoul(argv[2], NULL, 10),
				  (unsigned)strtoul(argv[3], NULL, 10), argv[4]);
	if (argc == 5 && !strcmp(argv[1], "big"))
		return do_big((unsigned)strtoul(argv[2], NULL, 10),
			      (unsigned)strtoul(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
	fprintf(stderr, "usage: vsock-helper listen PORT | connect CID PORT MSG | big CID PORT BYTES\n");
	return 2;
}
