/*
 * Ring files (see logring.h). The writer maps the header shared and publishes the head
 * with one atomic store; data moves with pwrite/pread, which go through the same page
 * cache. Readers (the daemon reading a guest's console) map nothing: the file lives in
 * the guest's own directory, and a guest that shrank it under a mapping would kill its
 * reader with SIGBUS; they read the head with pread, twice until two reads agree (an
 * aligned 8-byte copy is not promised to be atomic against the writer's store).
 */
#include "core/logring.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

#define HDR_SIZE 4096
#define MAGIC	 "LODGERNG"
#define VERSION	 1

struct ring_hdr {
	char magic[8];
	uint32_t version, hdr_size;
	uint64_t capacity;
	uint64_t head; /* atomic */
};

struct logring {
	int fd;
	bool writer;
	uint64_t capacity;
	struct ring_hdr *hdr; /* the writer's shared mapping of the header page; NULL */
};

static bool hdr_valid(const struct ring_hdr *h, off_t size)
{
	return !memcmp(h->magic, MAGIC, 8) && h->version == VERSION && h->hdr_size == HDR_SIZE &&
	       h->capacity >= 4096 && h->capacity <= (1ull << 32) &&
	       (uint64_t)size == HDR_SIZE + h->capacity;
}

/* Makes a fresh ring in fd: header page and a sparse data area. */
static int format(int fd, uint64_t capacity)
{
	struct ring_hdr h = {.version = VERSION, .hdr_size = HDR_SIZE, .capacity = capacity};

	memcpy(h.magic, MAGIC, 8);
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)(HDR_SIZE + capacity)) < 0)
		return -errno;
	if (pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -EIO;
	return 0;
}

int logring_open(const char *path, bool writer, uint64_t capacity, struct logring **out)
{
	struct logring *r;
	struct ring_hdr h;
	struct stat st;
	int fd, e;

	if (capacity < 4096 || capacity > (1ull << 32))
		return -EINVAL;
	fd = open(path, (writer ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		e = -EINVAL;
		goto err_close;
	}
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || !hdr_valid(&h, st.st_size)) {
		e = writer ? format(fd, capacity) : -EINVAL;
		if (e)
			goto err_close;
		h.capacity = capacity;
	}
	r = core_calloc(1, sizeof(*r));
	if (!r) {
		e = -ENOMEM;
		goto err_close;
	}
	if (writer) {
		r->hdr = mmap(NULL, HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (r->hdr == MAP_FAILED) {
			e = -errno;
			core_free(r);
			goto err_close;
		}
	}
	r->fd = fd;
	r->writer = writer;
	r->capacity = h.capacity;
	*out = r;
	return 0;
err_close:
	close(fd);
	return e;
}

void logring_close(struct logring *r)
{
	if (!r)
		return;
	if (r->hdr)
		munmap(r->hdr, HDR_SIZE);
	close(r->fd);
	core_free(r);
}

/* A reader's view of the head: 0 while the file is shorter than its header (cut by its
 * writer's process), so nothing is read. */
static uint64_t read_head(const struct logring *r)
{
	uint64_t a, b;

	for (int tries = 0; tries < 8; tries++) {
		if (pread(r->fd, &a, sizeof(a), offsetof(struct ring_hdr, head)) != sizeof(a) ||
		    pread(r->fd, &b, sizeof(b), offsetof(struct ring_hdr, head)) != sizeof(b))
			return 0;
		if (a == b)
			return a;
	}
	return 0;
}

uint64_t logring_head(const struct logring *r)
{
	if (!r->hdr)
		return read_head(r);
	return __atomic_load_n(&r->hdr->head, __ATOMIC_ACQUIRE);
}

uint64_t logring_tail(const struct logring *r)
{
	uint64_t head = logring_head(r);

	return head > r->capacity ? head - r->capacity : 0;
}

/* Copies between the stream and the data area at stream position pos (two pieces when
 * the range wraps). */
static int data_io(struct logring *r, uint64_t pos, void *buf, size_t len, bool write)
{
	while (len) {
		uint64_t off = pos % r->capacity;
		size_t n = len < r->capacity - off ? len : (size_t)(r->capacity - off);
		ssize_t k = write ? pwrite(r->fd, buf, n, (off_t)(HDR_SIZE + off))
				  : pread(r->fd, buf, n, (off_t)(HDR_SIZE + off));
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			return -EIO;
		buf = (uint8_t *)buf + k;
		pos += (uint64_t)k;
		len -= (size_t)k;
	}
	return 0;
}

int logring_append(struct logring *r, const void *data, size_t len)
{
	uint64_t head = __atomic_load_n(&r->hdr->head, __ATOMIC_RELAXED);
	int e;

	if (!r->writer)
		return -EBADF;
	if (len > r->capacity) { /* only the end survives anyway */
		data = (const uint8_t *)data + (len - r->capacity);
		head += len - r->capacity;
		len = (size_t)r->capacity;
	}
	e = data_io(r, head, (void *)(uintptr_t)data, len, true);
	if (e)
		return e;
	__atomic_store_n(&r->hdr->head, head + len, __ATOMIC_RELEASE);
	return 0;
}

ssize_t logring_read(struct logring *r, uint64_t *pos, void *buf, size_t cap, uint64_t *lost)
{
	uint64_t head = logring_head(r), oldest, after;
	size_t n;
	int e;

	if (lost)
		*lost = 0;
	if (*pos > head) /* a position from before the ring was recreated */
		*pos = head;
	oldest = head > r->capacity ? head - r->capacity : 0;
	if (*pos < oldest) {
		if (lost)
			*lost = oldest - *pos;
		*pos = oldest;
	}
	n = head - *pos < cap ? (size_t)(head - *pos) : cap;
	if (!n)
		return 0;
	e = data_io(r, *pos, buf, n, false);
	if (e)
		return e;
	/* Bytes the writer overwrote while we copied them are not what we wanted: drop them. */
	after = logring_head(r);
	if (after > r->capacity && after - r->capacity > *pos) {
		uint64_t bad = after - r->capacity - *pos;
		if (bad >= n) {
			if (lost)
				*lost += n;
			*pos += n;
			return 0;
		}
		memmove(buf, (uint8_t *)buf + bad, n - (size_t)bad);
		if (lost)
			*lost += bad;
		*pos += bad;
		n -= (size_t)bad;
	}
	*pos += n;
	return (ssize_t)n;
}
