/*
 * disk_fingerprint: a cheap identity of an image file, which a snapshot records for the
 * images it leaves frozen and a restore compares (docs/SNAPSHOT.md "Disks"). It reads at
 * most about 2.3 MiB whatever the file's size: the first 1 MiB, 64 blocks of 4 KiB spread
 * over the rest, and a qcow2 image's L1 table (up to 1 MiB). The value is stored in
 * snapshot files, so the algorithm below is part of the file format: change it only with
 * the format's version.
 */
#include "disk/disk.h"

#include "core/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/fs.h>

#define FP_HEAD	   (1u << 20) /* hashed whole */
#define FP_SAMPLES 64	      /* blocks after the head, the last one ending the file */
#define FP_BLOCK   4096u
#define FP_L1_MAX  (1u << 20) /* bytes of a qcow2 L1 table hashed (128 Ki entries) */

#define FP_BASIS 0xcbf29ce484222325ull /* FNV-1a's offset basis and prime */
#define FP_PRIME 0x100000001b3ull

/* The hash takes 8 bytes at a time (little-endian; the last word of a piece padded with
 * zeros): h = (h ^ w) * FNV prime, then h ^= h >> 32 so that the high bits of every word
 * reach the low bits of h. */
static uint64_t mix(uint64_t h, const uint8_t *p, size_t n)
{
	while (n) {
		uint64_t w = 0;
		size_t k = n < 8 ? n : 8;
		for (size_t i = 0; i < k; i++)
			w |= (uint64_t)p[i] << (8 * i);
		h = (h ^ w) * FP_PRIME;
		h ^= h >> 32;
		p += k;
		n -= k;
	}
	return h;
}

static int read_at(int fd, uint8_t *buf, size_t n, uint64_t off)
{
	while (n) {
		ssize_t k = pread(fd, buf, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO; /* (the file shrank meanwhile) */
		buf += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

/* Hashes n bytes of the file at off into *h, through buf (at least n bytes). */
static int piece(int fd, uint8_t *buf, size_t n, uint64_t off, uint64_t *h)
{
	int r = read_at(fd, buf, n, off);

	if (!r)
		*h = mix(*h, buf, n);
	return r;
}

/* Where sample i of the part after the head (`rest` bytes) begins, in it. */
static uint64_t sample_at(uint64_t rest, unsigned i)
{
	return (uint64_t)((unsigned __int128)(rest - FP_BLOCK) * i / (FP_SAMPLES - 1));
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int disk_fingerprint(const char *path, struct disk_fingerprint *out)
{
	static const uint8_t qcow2_magic[4] = {'Q', 'F', 'I', 0xfb};
	uint8_t *buf, hdr[48], size_le[8];
	uint64_t size, h = FP_BASIS, l1_off = 0, l1_len = 0;
	struct stat st;
	uint64_t gen = 0;
	bool backing = false;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
	} else if (S_ISREG(st.st_mode)) {
		/* (the kernel writes an int there; a file system without it: 0) */
		long v = 0;
		if (ioctl(fd, FS_IOC_GETVERSION, &v) == 0)
			gen = (uint32_t)v;
	} else if (S_ISBLK(st.st_mode)) { /* (an image may be a block device) */
		off_t end = lseek(fd, 0, SEEK_END);
		r = end < 0 ? -errno : 0;
		st.st_size = end;
	} else if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
	}
	buf = r ? NULL : core_alloc(FP_HEAD);
	if (!buf) {
		close(fd);
		return r ?: -ENOMEM;
	}
	size = (uint64_t)st.st_size;
	for (unsigned i = 0; i < 8; i++)
		size_le[i] = (uint8_t)(size >> (8 * i));
	h = mix(h, size_le, 8);
	/* the head: a qcow2 header, a partition table and file system superblock */
	r = piece(fd, buf, size < FP_HEAD ? (size_t)size : FP_HEAD, 0, &h);
	if (!r && size >= sizeof(hdr) && !memcmp(buf, qcow2_magic, 4)) {
		memcpy(hdr, buf, sizeof(hdr));
		l1_len = (uint64_t)be32(hdr + 36) * 8;
		l1_off = (uint64_t)be32(hdr + 40) << 32 | be32(hdr + 44);
		/* backing_file_offset (u64 at 8) and backing_file_size (u32 at 16) */
		backing = (be32(hdr + 8) | be32(hdr + 12)) && be32(hdr + 16);
	}
	if (!r && size > FP_HEAD) {
		uint64_t rest = size - FP_HEAD;
		if (rest <= (uint64_t)FP_SAMPLES * FP_BLOCK) {
			r = piece(fd, buf, (size_t)rest, FP_HEAD, &h);
		} else {
			/* sample i at HEAD + (rest - BLOCK) * i / 63: the first right after
			 * the head, the last ending the file. All are asked for first, so
			 * that a cold cache reads them at once rather than one by one. */
			for (unsigned pass = 0; pass < 2; pass++)
				for (unsigned i = 0; i < FP_SAMPLES && !r; i++) {
					uint64_t at = FP_HEAD + sample_at(rest, i);
					if (pass)
						r = piece(fd, buf, FP_BLOCK, at, &h);
					else
						(void)posix_fadvise(fd, (off_t)at, FP_BLOCK,
								    POSIX_FADV_WILLNEED);
				}
		}
	}
	/* a qcow2 image's L1 table (wherever it lies; a header whose table is not inside
	 * the file adds nothing: such an image does not open anyway) */
	if (!r && l1_len) {
		if (l1_len > FP_L1_MAX)
			l1_len = FP_L1_MAX;
		if (l1_off < size && l1_len <= size - l1_off)
			r = piece(fd, buf, (size_t)l1_len, l1_off, &h);
	}
	core_free(buf);
	close(fd);
	if (r)
		return r;
	*out = (struct disk_fingerprint){.size = size, .hash = h, .backing = backing};
	if (S_ISREG(st.st_mode)) { /* (a block device's times do not follow its content) */
		out->dev = (uint64_t)st.st_dev;
		out->ino = (uint64_t)st.st_ino;
		out->gen = gen;
		out->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	}
	return 0;
}
