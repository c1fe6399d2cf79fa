/*
 * Raw images: the file's bytes are the disk's. Reads and writes are one readv/writev on
 * the ring; flush is fdatasync; discard punches a hole (fallocate PUNCH_HOLE|KEEP_SIZE)
 * and write-zeroes uses fallocate ZERO_RANGE, both through io_uring, falling back to
 * writing zeroes where the file system refuses (remembered per image). Either way the
 * range reads back as zeroes. The virtual size is the file's length at open.
 */
#include "disk/internal.h"

#include "core/alloc.h"

#include <errno.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

int disk_raw_open(struct img *im, char *err, size_t errlen)
{
	struct stat st;

	if (im->blockdev) {
		uint64_t size;
		if (ioctl(im->fd, BLKGETSIZE64, &size)) {
			int r = -errno;
			disk_errf(err, errlen, "cannot get the block device's size: %s",
				  strerror(-r));
			return r;
		}
		im->size = size;
	} else {
		if (fstat(im->fd, &st)) {
			int r = -errno;
			disk_errf(err, errlen, "cannot stat: %s", strerror(-r));
			return r;
		}
		im->size = (uint64_t)st.st_size;
	}
	im->fmt = im; /* no state of its own; non-NULL so close runs */
	return 0;
}

static void raw_read(struct img *im, uint64_t off, const struct iovec *iov, unsigned iovcnt,
		     size_t skip, uint64_t len, struct aio *parent)
{
	disk_io_rw(im, DIO_READ, off, iov, iovcnt, skip, len, parent);
}

/* A write to the first sector of a probed-raw image (struct img, probed_raw): refused
 * (-EPERM) when the sector would then carry another format's signature. One that covers
 * the whole sector (every guest write: virtio-blk's are whole sectors) determines it
 * alone, so it goes on as any write (returns 1); a part of the sector (a byte-granular
 * caller) is written here at once with pwrite, so that no two such writes are in flight
 * together (two halves of a signature, each harmless alone). Returns 0 (written), 1 (to
 * submit), -EPERM or a write's error. */
static int write_sector0(struct img *im, uint64_t off, const struct iovec *iov, unsigned iovcnt,
			 size_t skip, uint64_t len)
{
	uint8_t h[512] = {0};
	const char *other;
	uint8_t *buf;
	bool whole = off == 0 && len >= sizeof(h);
	uint64_t n = sizeof(h) - off < len ? sizeof(h) - off : len;
	int r;

	if (!whole && pread(im->fd, h, sizeof(h), 0) < 0) /* past the end: zeroes */
		return -errno;
	disk_iov_to_buf(iov, iovcnt, skip, h + off, (size_t)n);
	other = disk_sector0_format(h, sizeof(h));
	if (other) {
		disk_img_log(im,
			     "refused a write to the first sector that would make this image "
			     "(raw by probing) look like a %s image; give format=raw to allow it",
			     other);
		return -EPERM;
	}
	if (whole)
		return 1;
	buf = core_alloc((size_t)len);
	if (!buf)
		return -ENOMEM;
	disk_iov_to_buf(iov, iovcnt, skip, buf, (size_t)len);
	r = disk_pwrite_full(im->fd, buf, (size_t)len, off);
	core_free(buf);
	return r;
}

static void raw_write(struct img *im, uint64_t off, const struct iovec *iov, unsigned iovcnt,
		      size_t skip, uint64_t len, struct aio *parent)
{
	if (im->probed_raw && off < 512 && len) {
		int r = write_sector0(im, off, iov, iovcnt, skip, len);
		if (r < 0)
			aio_error(parent, r);
		if (r != 1)
			return;
	}
	disk_io_rw(im, DIO_WRITE, off, iov, iovcnt, skip, len, parent);
}

/* fallocate finished: on "not supported here", remember that and write zeroes instead. */
static void zero_done(struct dio *io, int res)
{
	struct img *im = io->arg;

	if (res == -EOPNOTSUPP || res == -EINVAL || res == -ENOTTY) {
		im->raw_flags |= io->mode & FALLOC_FL_PUNCH_HOLE ? IMG_NO_PUNCH : IMG_NO_ZERO;
		disk_io_rw(im, DIO_WRITE, io->off, NULL, 0, 0, io->len, io->parent);
		res = 0;
	}
	aio_put(io->parent, res);
}

static void raw_zero(struct img *im, uint64_t off, uint64_t len, bool discard, struct aio *parent)
{
	unsigned no = discard ? IMG_NO_PUNCH : IMG_NO_ZERO;
	struct dio *io;

	if (im->raw_flags & no) {
		disk_io_rw(im, DIO_WRITE, off, NULL, 0, 0, len, parent);
		return;
	}
	io = disk_dio_new(im, DIO_FALLOCATE, off, NULL, 0, 0, len);
	if (!io) {
		aio_error(parent, -ENOMEM);
		return;
	}
	io->mode = FALLOC_FL_KEEP_SIZE | (discard ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE);
	io->cb = zero_done;
	io->arg = im;
	disk_dio_submit(io, parent);
}

static void raw_flush(struct img *im, struct aio *parent)
{
	disk_io_fsync(im, parent);
}

static void raw_close(struct img *im)
{
	im->fmt = NULL;
}

const struct img_ops disk_raw_ops = {
	.format = DISK_FMT_RAW,
	.read = raw_read,
	.write = raw_write,
	.zero = raw_zero,
	.flush = raw_flush,
	.activate = NULL,
	.close = raw_close,
};
