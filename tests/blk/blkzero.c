/* blkzero DEV OFFSET LEN: BLKZEROOUT on a block device (the guest side of the virtio-blk
 * write-zeroes test); exits 0 on success. Built static for riscv64 by tests/blk/suite.sh. */
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	uint64_t range[2];
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: blkzero DEV OFFSET LEN\n");
		return 2;
	}
	range[0] = strtoull(argv[2], NULL, 0);
	range[1] = strtoull(argv[3], NULL, 0);
	fd = open(argv[1], O_WRONLY);
	if (fd < 0 || ioctl(fd, BLKZEROOUT, range) < 0) {
		perror(argv[1]);
		return 1;
	}
	close(fd);
	return 0;
}
