/*
 * The W^X code buffer (see codebuf.h): a memfd mapped read-execute; code goes in with
 * pwrite only. The memfd is made at the first write: a program that never translates
 * (a short one) pays for an address-space reservation only.
 */
#include "jit/codebuf.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

int jitbuf_init(struct jitbuf *b, size_t size, const char *name)
{
	void *rx;

	b->fd = -1;
	b->rx = NULL;
	b->used = 0;
	b->name = name;
	b->size = (size + 4095) & ~(size_t)4095;
	/* only the address range now: the memfd comes with the first write */
	rx = mmap(NULL, b->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (rx == MAP_FAILED)
		return -errno;
	b->rx = rx;
	return 0;
}

/* The first write's set-up: the memfd, mapped read-execute over the reserved range (which
 * stays reserved, and the buffer unwritable, if that fails). */
static int commit(struct jitbuf *b)
{
	int fd, err;

	fd = memfd_create(b->name, MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)b->size) < 0 ||
	    mmap((void *)(uintptr_t)b->rx, b->size, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED,
		 fd, 0) == MAP_FAILED) {
		err = -errno;
		close(fd);
		return err;
	}
	b->fd = fd;
	return 0;
}

void jitbuf_fini(struct jitbuf *b)
{
	/* a buffer jitbuf_init never ran on (all zero: rx NULL) owns no fd, not fd 0 */
	if (b->rx && b->fd >= 0)
		close(b->fd);
	if (b->rx)
		munmap((void *)(uintptr_t)b->rx, b->size);
	b->rx = NULL;
	b->fd = -1;
}

int jitbuf_release(struct jitbuf *b, size_t from)
{
	size_t at = (from + 4095) & ~(size_t)4095;

	if (b->fd < 0 || at >= b->size)
		return 0;
	if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)at,
		      (off_t)(b->size - at)) < 0)
		return -errno;
	return 0;
}

int jitbuf_write(struct jitbuf *b, size_t at, const void *src, size_t n)
{
	const uint8_t *p = src;
	size_t done = 0;

	if (at > b->size || n > b->size - at)
		return -ENOSPC;
	if (b->fd < 0) {
		int rc = b->rx ? commit(b) : -EBADF;
		if (rc)
			return rc;
	}
	while (done < n) {
		ssize_t w = pwrite(b->fd, p + done, n - done, (off_t)(at + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		done += (size_t)w;
	}
	return 0;
}

static size_t aligned_used(const struct jitbuf *b, size_t align)
{
	return (b->used + align - 1) & ~(align - 1);
}

uintptr_t jitbuf_next(const struct jitbuf *b, size_t align)
{
	return (uintptr_t)b->rx + aligned_used(b, align);
}

size_t jitbuf_room(const struct jitbuf *b, size_t align)
{
	size_t at = aligned_used(b, align);

	return at < b->size ? b->size - at : 0;
}

int jitbuf_append(struct jitbuf *b, const void *src, size_t n, size_t align, const void **out)
{
	size_t at = aligned_used(b, align);
	int rc;

	if (at > b->size || n > b->size - at)
		return -ENOSPC;
	rc = jitbuf_write(b, at, src, n);
	if (rc)
		return rc;
	b->used = at + n;
	*out = b->rx + at;
	return 0;
}
