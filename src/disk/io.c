/*
 * Host I/O for the disk layer: dios (one io_uring operation each) on the disk's ring,
 * short-transfer handling, the shared zero buffer, iovec slicing and copying, and the
 * rate-limited log. The ring holds at most `ring_cap` operations; more wait on an
 * overflow queue, so completions can never overflow the CQ.
 */
#include "disk/internal.h"

#include "core/clock.h"
#include "core/alloc.h"
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Largest zero buffer; longer zero writes repeat it in the iovec array. */
#define ZERO_BUF_MAX (1u << 20)

/*
 * Reads and writes of at least this many bytes go straight to io_uring's worker threads
 * (IOSQE_ASYNC) instead of being tried inline. Inline, a buffered read that hits the page
 * cache is copied inside io_uring_enter on the I/O thread: the copies of a sequential
 * stream (1 MiB requests, 8 in flight) ran one after the other on that one thread, which
 * on a busy host gets one thread's share of a CPU, while the guest waited. The workers
 * copy in parallel (as QEMU's thread pool does). Small requests (4 KiB random reads) stay
 * inline: a worker's wake-up costs more than their copy.
 */
#define DIO_ASYNC_MIN (128u << 10)

void disk_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void disk_img_log(struct img *im, const char *fmt, ...)
{
	uint64_t now;
	char msg[256];
	va_list ap;

	now = core_now_ns();
	if (im->last_log_ns && now - im->last_log_ns < 1000000000u) {
		im->suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (im->suppressed)
		log_err("disk: %s: %s (%u similar messages suppressed)", im->path, msg,
			im->suppressed);
	else
		log_err("disk: %s: %s", im->path, msg);
	im->last_log_ns = now;
	im->suppressed = 0;
}

int disk_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int disk_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

const uint8_t *disk_zero_buf(struct disk *d, size_t len)
{
	if (len > ZERO_BUF_MAX)
		len = ZERO_BUF_MAX;
	if (d->zeros_len < len) {
		/* calloc'ed pages of this size come straight from mmap: no RSS until read */
		uint8_t *z = core_calloc(1, ZERO_BUF_MAX);
		if (!z)
			return NULL;
		core_free(d->zeros);
		d->zeros = z;
		d->zeros_len = ZERO_BUF_MAX;
	}
	return d->zeros;
}

/* Finds the entry holding byte `skip` of the vector; *in gets the offset inside it. */
static unsigned iov_seek(const struct iovec *iov, unsigned iovcnt, size_t skip, size_t *in)
{
	unsigned i = 0;

	while (i < iovcnt && skip >= iov[i].iov_len) {
		skip -= iov[i].iov_len;
		i++;
	}
	*in = skip;
	return i;
}

void disk_iov_to_buf(const struct iovec *iov, unsigned iovcnt, size_t skip, void *buf, size_t len)
{
	size_t in;
	unsigned i = iov_seek(iov, iovcnt, skip, &in);
	uint8_t *p = buf;

	for (; len && i < iovcnt; i++, in = 0) {
		size_t n = iov[i].iov_len - in;
		if (n > len)
			n = len;
		memcpy(p, (const uint8_t *)iov[i].iov_base + in, n);
		p += n;
		len -= n;
	}
}

void disk_buf_to_iov(const struct iovec *iov, unsigned iovcnt, size_t skip, const void *buf,
		     size_t len)
{
	size_t in;
	unsigned i = iov_seek(iov, iovcnt, skip, &in);
	const uint8_t *p = buf;

	for (; len && i < iovcnt; i++, in = 0) {
		size_t n = iov[i].iov_len - in;
		if (n > len)
			n = len;
		memcpy((uint8_t *)iov[i].iov_base + in, p, n);
		p += n;
		len -= n;
	}
}

void disk_iov_memset0(const struct iovec *iov, unsigned iovcnt, size_t skip, size_t len)
{
	size_t in;
	unsigned i = iov_seek(iov, iovcnt, skip, &in);

	for (; len && i < iovcnt; i++, in = 0) {
		size_t n = iov[i].iov_len - in;
		if (n > len)
			n = len;
		memset((uint8_t *)iov[i].iov_base + in, 0, n);
		len -= n;
	}
}

unsigned disk_iov_slice_count(const struct iovec *iov, unsigned iovcnt, size_t skip, uint64_t len)
{
	size_t in;
	unsigned i = iov_seek(iov, iovcnt, skip, &in), n = 0;

	for (; len && i < iovcnt; i++, in = 0) {
		size_t k = iov[i].iov_len - in;
		if (!k)
			continue;
		n++;
		len = k >= len ? 0 : len - k;
	}
	return n;
}

unsigned disk_iov_slice(const struct iovec *iov, unsigned iovcnt, size_t skip, uint64_t len,
			struct iovec *out)
{
	size_t in;
	unsigned i = iov_seek(iov, iovcnt, skip, &in), k = 0;

	for (; len && i < iovcnt; i++, in = 0) {
		size_t m = iov[i].iov_len - in;
		if (!m)
			continue;
		if (m > len)
			m = (size_t)len;
		out[k].iov_base = (uint8_t *)iov[i].iov_base + in;
		out[k++].iov_len = m;
		len -= m;
	}
	return k;
}

struct dio *disk_dio_new(struct img *im, enum dio_op op, uint64_t off, const struct iovec *iov,
			 unsigned iovcnt, size_t skip, uint64_t len)
{
	unsigned n = 0;
	struct dio *io;

	if (op == DIO_READ || op == DIO_WRITE) {
		if (iov)
			n = disk_iov_slice_count(iov, iovcnt, skip, len);
		else
			n = (unsigned)((len + ZERO_BUF_MAX - 1) / ZERO_BUF_MAX);
	}
	io = core_calloc(1, sizeof(*io) + n * sizeof(struct iovec));
	if (!io)
		return NULL;
	io->d = im->d;
	io->fd = im->fd;
	io->op = op;
	io->off = off;
	io->len = len;
	io->iovcnt = n;
	if (op != DIO_READ && op != DIO_WRITE)
		return io;
	if (iov) {
		disk_iov_slice(iov, iovcnt, skip, len, io->iov);
	} else {
		const uint8_t *z =
			disk_zero_buf(im->d, (size_t)(len < ZERO_BUF_MAX ? len : ZERO_BUF_MAX));
		uint64_t left = len;
		if (!z) {
			core_free(io);
			return NULL;
		}
		for (unsigned k = 0; k < n; k++) {
			size_t m = left < ZERO_BUF_MAX ? (size_t)left : ZERO_BUF_MAX;
			io->iov[k].iov_base = (void *)(uintptr_t)z; /* the kernel only reads it */
			io->iov[k].iov_len = m;
			left -= m;
		}
	}
	return io;
}

/* Prepares an SQE for io; false when the ring is at capacity. */
static bool dio_prep(struct disk *d, struct dio *io)
{
	struct io_uring_sqe *sqe;

	if (d->ring_inflight >= d->ring_cap)
		return false;
	sqe = io_uring_get_sqe(&d->ring);
	if (!sqe && io_uring_submit(&d->ring) >= 0) {
		DISK_STAT_INC(d, submits);
		d->sq_pending = 0;
		sqe = io_uring_get_sqe(&d->ring);
	}
	if (!sqe)
		return false;
	switch (io->op) {
	case DIO_READ:
		io_uring_prep_readv(sqe, io->fd, io->iov, io->iovcnt, io->off);
		break;
	case DIO_WRITE:
		io_uring_prep_writev(sqe, io->fd, io->iov, io->iovcnt, io->off);
		break;
	case DIO_FSYNC:
		io_uring_prep_fsync(sqe, io->fd, IORING_FSYNC_DATASYNC);
		break;
	case DIO_FALLOCATE:
		io_uring_prep_fallocate(sqe, io->fd, io->mode, (off_t)io->off, (off_t)io->len);
		break;
	}
	if ((io->op == DIO_READ || io->op == DIO_WRITE) && io->len >= DIO_ASYNC_MIN) {
		io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
		DISK_STAT_INC(d, host_async);
	}
	io_uring_sqe_set_data(sqe, io);
	d->ring_inflight++;
	d->sq_pending++;
	return true;
}

/* Starts io, or queues it behind the others waiting for room in the ring. */
static void dio_queue(struct disk *d, struct dio *io)
{
	if (!d->ovf_head && dio_prep(d, io))
		return;
	io->next = NULL;
	if (d->ovf_tail)
		d->ovf_tail->next = io;
	else
		d->ovf_head = io;
	d->ovf_tail = io;
}

void disk_dio_submit(struct dio *io, struct aio *parent)
{
	io->parent = parent;
	if (parent)
		aio_get(parent);
	if (io->op == DIO_READ)
		DISK_STAT_INC(io->d, host_reads);
	else if (io->op == DIO_WRITE)
		DISK_STAT_INC(io->d, host_writes);
	else if (io->op == DIO_FSYNC)
		DISK_STAT_INC(io->d, host_syncs);
	dio_queue(io->d, io);
}

void disk_io_rw(struct img *im, enum dio_op op, uint64_t off, const struct iovec *iov,
		unsigned iovcnt, size_t skip, uint64_t len, struct aio *parent)
{
	/* zero writes longer than one iovec array's worth go in pieces */
	const uint64_t max = iov ? len : (uint64_t)DISK_MAX_IOV * ZERO_BUF_MAX;

	while (len) {
		uint64_t n = len < max ? len : max;
		struct dio *io = disk_dio_new(im, op, off, iov, iovcnt, skip, n);
		if (!io) {
			aio_error(parent, -ENOMEM);
			return;
		}
		disk_dio_submit(io, parent);
		off += n;
		skip += (size_t)n;
		len -= n;
	}
}

void disk_io_fsync(struct img *im, struct aio *parent)
{
	struct dio *io = disk_dio_new(im, DIO_FSYNC, 0, NULL, 0, 0, 0);

	if (!io) {
		aio_error(parent, -ENOMEM);
		return;
	}
	disk_dio_submit(io, parent);
}

/* Drops the first `n` bytes of io's iovec array (after a short transfer). */
static void dio_advance(struct dio *io, uint64_t n)
{
	unsigned i = 0, k = 0;

	io->off += n;
	io->len -= n;
	while (i < io->iovcnt && n >= io->iov[i].iov_len)
		n -= io->iov[i++].iov_len;
	if (i < io->iovcnt) {
		io->iov[i].iov_base = (uint8_t *)io->iov[i].iov_base + n;
		io->iov[i].iov_len -= (size_t)n;
	}
	while (i < io->iovcnt)
		io->iov[k++] = io->iov[i++];
	io->iovcnt = k;
}

static void dio_finish(struct dio *io, int res)
{
	if (io->cb)
		io->cb(io, res);
	else if (io->parent)
		aio_put(io->parent, res);
	core_free(io);
}

static void dio_complete(struct disk *d, struct dio *io, int res)
{
	d->ring_inflight--;
	if (res == -EAGAIN || res == -EINTR) {
		dio_queue(d, io);
		return;
	}
	if ((io->op == DIO_READ || io->op == DIO_WRITE) && res >= 0 && (uint64_t)res < io->len) {
		if (res > 0) {
			dio_advance(io, (uint64_t)res);
			dio_queue(d, io);
			return;
		}
		if (io->op == DIO_WRITE) {
			dio_finish(io, -EIO);
			return;
		}
		/* end of file: what lies beyond reads as zeroes (as qemu's file driver) */
		disk_iov_memset0(io->iov, io->iovcnt, 0, (size_t)io->len);
	}
	dio_finish(io, res < 0 ? res : 0);
}

void disk_io_kick(struct disk *d)
{
	while (d->ovf_head && dio_prep(d, d->ovf_head)) {
		d->ovf_head = d->ovf_head->next;
		if (!d->ovf_head)
			d->ovf_tail = NULL;
	}
	if (d->sq_pending) {
		int r = io_uring_submit(&d->ring);
		DISK_STAT_INC(d, submits);
		if (r >= 0)
			d->sq_pending = 0;
		else if (r != -EAGAIN && r != -EBUSY && r != -EINTR)
			log_err("disk: io_uring_submit failed: %s", strerror(-r));
	}
}

bool disk_io_reap(struct disk *d)
{
	struct io_uring_cqe *cqe;
	bool any = false;

	while (io_uring_peek_cqe(&d->ring, &cqe) == 0) {
		struct dio *io = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&d->ring, cqe);
		any = true;
		dio_complete(d, io, res);
	}
	return any;
}
