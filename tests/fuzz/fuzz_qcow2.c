/*
 * libFuzzer target: the qcow2 driver (src/disk) on hostile images. The input is written
 * to a file in a private directory (tmpfs when there is one) and opened as qcow2
 * read-only: everything is read when the virtual disk is small, 64 spread-out clusters
 * otherwise, with several requests in flight. Then a copy is opened for writing and gets
 * a few writes (partial and whole clusters, so copy-on-write and allocation run),
 * a discard, write-zeroes, a flush and reads back. A corrupt image must only produce
 * errors: no crash, no sanitizer report, no leak, no hang. The directory also holds
 * base.raw (1 MiB), so inputs naming it as their backing file exercise backing reads.
 */
#include "disk/disk.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define SPAN	 65536u
#define INFLIGHT 8

static char dir[64];

static void cleanup(void)
{
	char path[96];

	snprintf(path, sizeof(path), "%s/base.raw", dir);
	unlink(path);
	rmdir(dir);
}

static void setup(void)
{
	char path[96];
	int fd;

	snprintf(dir, sizeof(dir), "/dev/shm/lodge-fuzz-qcow2-XXXXXX");
	if (!mkdtemp(dir)) {
		snprintf(dir, sizeof(dir), "/tmp/lodge-fuzz-qcow2-XXXXXX");
		if (!mkdtemp(dir))
			abort();
	}
	snprintf(path, sizeof(path), "%s/base.raw", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	for (unsigned i = 0; i < 16; i++) {
		uint8_t b[SPAN];
		memset(b, 0xb0 + (int)i, sizeof(b));
		if (write(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
			abort();
	}
	close(fd);
	atexit(cleanup);
}

static int put_file(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	int ok;

	if (fd < 0)
		return -1;
	ok = size == 0 || write(fd, data, size) == (ssize_t)size;
	close(fd);
	return ok ? 0 : -1;
}

struct slot {
	struct disk_req req;
	struct iovec iov;
	uint8_t buf[SPAN];
	int busy;
};

static void slot_done(struct disk_req *q, int res)
{
	struct slot *s = q->opaque;

	(void)res;
	s->busy = 0;
}

static void wait_all(struct disk *d, struct slot *slots)
{
	for (;;) {
		int busy = 0;
		disk_complete(d);
		for (int i = 0; i < INFLIGHT; i++)
			busy |= slots[i].busy;
		if (!busy)
			return;
		usleep(50);
	}
}

/* Reads span-sized pieces at `n` offsets, INFLIGHT at a time. */
static void read_spots(struct disk *d, struct slot *slots, uint64_t n, uint64_t step)
{
	uint64_t size = disk_size(d);

	for (uint64_t i = 0; i < n; i++) {
		struct slot *s = &slots[i % INFLIGHT];
		uint64_t off = i * step;
		if (off >= size)
			break;
		if (s->busy)
			wait_all(d, slots);
		s->iov.iov_base = s->buf;
		s->iov.iov_len = size - off < SPAN ? (size_t)(size - off) : SPAN;
		s->req = (struct disk_req){.op = DISK_OP_READ,
					   .offset = off,
					   .iov = &s->iov,
					   .iovcnt = 1,
					   .done = slot_done,
					   .opaque = s};
		if (disk_submit(d, &s->req) == 0)
			s->busy = 1;
	}
	wait_all(d, slots);
}

static void read_image(struct disk *d, struct slot *slots)
{
	uint64_t size = disk_size(d);

	if (size <= 64 * (uint64_t)SPAN)
		read_spots(d, slots, (size + SPAN - 1) / SPAN, SPAN);
	else
		read_spots(d, slots, 64, size / 64 & ~(uint64_t)511);
}

static void write_image(struct disk *d, struct slot *slots)
{
	uint64_t size = disk_size(d), offs[4] = {0, size / 2 + 100, size / 3, size - 1};
	uint8_t *b = slots[0].buf;
	int r = 0;

	memset(b, 0xa5, SPAN);
	for (unsigned i = 0; i < 4 && !r; i++) {
		size_t len = i == 1 ? SPAN : 4096 + i * 1000;
		if (offs[i] >= size)
			continue;
		if (len > size - offs[i])
			len = (size_t)(size - offs[i]);
		r = disk_pwrite(d, b, len, offs[i]);
	}
	/* errors are expected from corrupt images: only crashes and leaks matter here */
	if (size >= 4 * (uint64_t)SPAN && disk_zero(d, DISK_OP_DISCARD, SPAN - 512, 2 * SPAN) == 0)
		r = disk_zero(d, DISK_OP_WRITE_ZEROES, size - 2 * SPAN, SPAN + 7);
	r = disk_flush(d);
	read_spots(d, slots, r ? 1 : 4, size / 4 & ~(uint64_t)511);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct slot slots[INFLIGHT];
	struct disk_options ro = {.format = DISK_FMT_QCOW2, .readonly = true},
			    rw = {.format = DISK_FMT_QCOW2};
	char img[96], copy[96], err[DISK_ERR_LEN];
	struct disk *d;

	if (!dir[0])
		setup();
	snprintf(img, sizeof(img), "%s/img.qcow2", dir);
	snprintf(copy, sizeof(copy), "%s/copy.qcow2", dir);
	if (put_file(img, data, size) || put_file(copy, data, size))
		return 0;
	if (disk_open(img, &ro, &d, err, sizeof(err)) == 0) {
		read_image(d, slots);
		disk_close(d);
	}
	if (disk_open(copy, &rw, &d, err, sizeof(err)) == 0) {
		write_image(d, slots);
		disk_close(d);
	}
	unlink(img);
	unlink(copy);
	return 0;
}
