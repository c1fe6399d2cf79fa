/* tests/replicate: a guest program that writes numbered records to a disk and reports
 * each one once it is durable. Record n is sector n of DEV (default /dev/vda): "REC n"
 * and the rest of the 512 bytes filled from n; after the write and an fsync that
 * returned, it prints "ack n". Whatever the outside saw acknowledged must be on the disk
 * of the machine that takes over after a failover. Static, no libc buffering. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : "/dev/vda";
	uint64_t first = argc > 2 ? strtoull(argv[2], NULL, 10) : 1, limit = 100000;
	int fd = open(dev, O_RDWR);
	char rec[512], line[64];

	if (fd < 0) {
		perror(dev);
		return 1;
	}
	for (uint64_t n = first; n < limit; n++) {
		memset(rec, 0, sizeof(rec));
		snprintf(rec, sizeof(rec), "REC %llu", (unsigned long long)n);
		for (unsigned i = 32; i < sizeof(rec); i++)
			rec[i] = (char)(n * 31 + i);
		if (pwrite(fd, rec, sizeof(rec), (off_t)(n * 512)) != (ssize_t)sizeof(rec) ||
		    fsync(fd) < 0) {
			perror("write");
			return 2;
		}
		snprintf(line, sizeof(line), "ack %llu\n", (unsigned long long)n);
		if (write(1, line, strlen(line)) < 0)
			return 3;
	}
	return 0;
}
