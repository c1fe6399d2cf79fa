/*
 * disk_create: new raw images (a sparse file) and qcow2 version 3 images laid out as
 * qemu-img lays them out with its defaults: the header cluster (header, the backing
 * format extension, the end-of-extensions marker, the backing file name), the refcount
 * table from cluster 1, the refcount blocks covering the metadata (one, unless clusters
 * are small), then the L1 table, all referenced once. 16-bit refcounts, zlib compression
 * type, 64 KiB clusters unless asked otherwise.
 */
#include "disk/disk.h"

#include "disk/internal.h"
#include "disk/qcow2.h"

#include "core/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NEW_HDR_LEN 112 /* up to and including compression_type, padded */

/* Where the metadata of a new image goes, in clusters: header 0, refcount table from 1,
 * then the refcount blocks covering all of these, then the L1 table. */
struct layout {
	unsigned cb;
	uint64_t cs;
	uint32_t l1_size;
	uint64_t rt_clusters, blocks, l1_clusters;
};

static int plan(uint64_t size, unsigned cb, struct layout *l)
{
	uint64_t span = (1ull << cb) * ((1ull << cb) / 8); /* guest bytes per L2 table */
	uint64_t rbe = (1ull << cb) * 8 / 16;		   /* 16-bit refcounts per block */
	uint64_t l1 = size / span + (size % span != 0);

	if (l1 * 8 > QC_MAX_L1)
		return -EFBIG;
	l->cb = cb;
	l->cs = 1ull << cb;
	l->l1_size = (uint32_t)l1;
	l->l1_clusters = (l1 * 8 + l->cs - 1) / l->cs;
	l->rt_clusters = l->blocks = 1;
	for (;;) {
		uint64_t total = 1 + l->rt_clusters + l->blocks + l->l1_clusters;
		uint64_t nb = (total + rbe - 1) / rbe;
		uint64_t nrt = (nb * 8 + l->cs - 1) / l->cs;
		if (nb == l->blocks && nrt == l->rt_clusters)
			break;
		l->blocks = nb;
		l->rt_clusters = nrt;
	}
	return l->rt_clusters * l->cs > QC_MAX_RT ? -EFBIG : 0;
}

/* Builds cluster 0: header, extensions, backing name. */
static int build_header(uint8_t *c0, const struct layout *l, uint64_t size, const char *backing,
			enum disk_format bfmt)
{
	size_t pos = NEW_HDR_LEN;

	be32_put(c0, QC_MAGIC);
	be32_put(c0 + 4, 3);
	be32_put(c0 + 20, l->cb);
	be64_put(c0 + 24, size);
	be32_put(c0 + 36, l->l1_size);
	be64_put(c0 + 40, (1 + l->rt_clusters + l->blocks) * l->cs);
	be64_put(c0 + 48, l->cs);
	be32_put(c0 + 56, (uint32_t)l->rt_clusters);
	be32_put(c0 + 96, 4);
	be32_put(c0 + 100, NEW_HDR_LEN);
	if (backing) {
		const char *f = disk_format_str(bfmt);
		size_t flen = strlen(f), blen = strlen(backing);
		be32_put(c0 + pos, QC_EXT_BACKING_FORMAT);
		be32_put(c0 + pos + 4, (uint32_t)flen);
		memcpy(c0 + pos + 8, f, flen);
		pos += 8 + ((flen + 7) & ~(size_t)7);
		pos += 8; /* the end-of-extensions marker: zeroes */
		if (blen > 1023 || pos + blen > l->cs)
			return -ENAMETOOLONG;
		be64_put(c0 + 8, pos);
		be32_put(c0 + 16, (uint32_t)blen);
		memcpy(c0 + pos, backing, blen);
	}
	return 0;
}

static int write_qcow2(int fd, const struct layout *l, uint64_t size, const char *backing,
		       enum disk_format bfmt)
{
	uint64_t meta = 1 + l->rt_clusters + l->blocks; /* clusters written; L1 stays sparse */
	uint64_t all = meta + l->l1_clusters, rbe = l->cs / 2;
	uint8_t *buf = core_calloc((size_t)meta, (size_t)l->cs), *rt, *rb;
	int r;

	if (!buf)
		return -ENOMEM;
	rt = buf + l->cs;
	rb = rt + l->rt_clusters * l->cs;
	r = build_header(buf, l, size, backing, bfmt);
	if (r)
		goto out;
	for (uint64_t b = 0; b < l->blocks; b++)
		be64_put(rt + b * 8, (1 + l->rt_clusters + b) * l->cs);
	for (uint64_t c = 0; c < all; c++) /* every metadata cluster is used once */
		be16_put(rb + (c / rbe) * l->cs + (c % rbe) * 2, 1);
	r = disk_pwrite_full(fd, buf, (size_t)(meta * l->cs), 0);
	if (!r && ftruncate(fd, (off_t)(all * l->cs)))
		r = -errno;
out:
	core_free(buf);
	return r;
}

/* Opens the backing chain to check it and learn its format and size. */
static int probe_backing(const char *path, const struct disk_create_options *o,
			 enum disk_format *fmt, uint64_t *size, char *err, size_t errlen)
{
	struct disk_options dopt = {.format = o->backing_format, .readonly = true};
	char *bpath = disk_backing_path(path, o->backing);
	char why[DISK_ERR_LEN];
	struct disk *bd;
	int r;

	if (!bpath) {
		disk_errf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	r = disk_open(bpath, &dopt, &bd, why, sizeof(why));
	core_free(bpath);
	if (r) {
		disk_errf(err, errlen, "%s: backing file %s", path, why);
		return r;
	}
	/* The new image may not be in its own backing chain: --force would wipe what it is
	 * to read (and the image could never be opened: its chain would loop). */
	struct stat tst, bst;
	if (stat(path, &tst) == 0) {
		for (const struct img *im = bd->top; im; im = im->backing) {
			if (fstat(im->fd, &bst) == 0 && bst.st_dev == tst.st_dev &&
			    bst.st_ino == tst.st_ino) {
				disk_errf(err, errlen,
					  "%s: it is in its own backing chain (as %s): creating it "
					  "would wipe what it is to read; name another file",
					  path, im->path);
				disk_close(bd);
				return -EINVAL;
			}
		}
	}
	*fmt = bd->top->ops->format;
	*size = disk_size(bd);
	disk_close(bd);
	return 0;
}

static int check_options(const char *path, const struct disk_create_options *o,
			 enum disk_format *fmt, char *err, size_t errlen)
{
	*fmt = o->format == DISK_FMT_AUTO ? DISK_FMT_QCOW2 : o->format;
	if (*fmt == DISK_FMT_RAW && o->backing) {
		disk_errf(err, errlen,
			  "%s: raw images cannot have a backing file (use the qcow2 format)", path);
		return -EINVAL;
	}
	if (o->backing && (!o->backing[0] || strlen(o->backing) > 1023)) {
		disk_errf(err, errlen, "%s: the backing file name must have 1 to 1023 bytes", path);
		return -EINVAL;
	}
	if (o->cluster_bits &&
	    (*fmt != DISK_FMT_QCOW2 || o->cluster_bits < 9 || o->cluster_bits > 21)) {
		disk_errf(err, errlen, "%s: cluster size must be a power of two from 512 to 2M",
			  path);
		return -EINVAL;
	}
	if (!o->backing && o->backing_format != DISK_FMT_AUTO) {
		disk_errf(err, errlen, "%s: a backing format without a backing file", path);
		return -EINVAL;
	}
	return 0;
}

/* Creates (or, with overwrite, takes over and empties) the file. */
static int open_new(const char *path, bool overwrite, int *out, char *err, size_t errlen)
{
	char why[DISK_ERR_LEN];
	int fd, r;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | (overwrite ? 0 : O_EXCL), 0644);
	if (fd < 0) {
		r = -errno;
		if (r == -EEXIST)
			disk_errf(err, errlen, "%s: already exists (refusing to overwrite it)",
				  path);
		else
			disk_errf(err, errlen, "%s: cannot create: %s", path, strerror(-r));
		return r;
	}
	r = disk_lock_fd(fd, false, why, sizeof(why));
	if (!r && overwrite && ftruncate(fd, 0))
		r = -errno;
	if (r) {
		disk_errf(err, errlen, "%s: %s", path, r == -EBUSY ? why : strerror(-r));
		close(fd);
		return r;
	}
	*out = fd;
	return 0;
}

int disk_create(const char *path, const struct disk_create_options *o, char *err, size_t errlen)
{
	enum disk_format fmt, bfmt = DISK_FMT_AUTO;
	uint64_t size = o->size, bsize;
	struct layout l = {0};
	struct stat st;
	bool existed;
	int fd = -1, r;

	r = check_options(path, o, &fmt, err, errlen);
	if (r)
		return r;
	if (o->backing) {
		r = probe_backing(path, o, &bfmt, &bsize, err, errlen);
		if (r)
			return r;
		if (!size)
			size = bsize;
	}
	if (size > (uint64_t)INT64_MAX - 511 ||
	    (fmt == DISK_FMT_QCOW2 &&
	     plan((size + 511) & ~(uint64_t)511, o->cluster_bits ? o->cluster_bits : 16, &l))) {
		disk_errf(err, errlen, "%s: size %llu is too large%s", path,
			  (unsigned long long)size,
			  fmt == DISK_FMT_QCOW2 ? " for this cluster size (qemu's L1 limit)" : "");
		return -EFBIG;
	}
	size = (size + 511) & ~(uint64_t)511;
	existed = stat(path, &st) == 0; /* (not access(): a guest's seccomp list lacks it) */
	r = open_new(path, o->overwrite, &fd, err, errlen);
	if (r)
		return r;
	if (fmt == DISK_FMT_RAW)
		r = ftruncate(fd, (off_t)size) ? -errno : 0;
	else
		r = write_qcow2(fd, &l, size, o->backing, bfmt);
	if (!r && fsync(fd))
		r = -errno;
	close(fd);
	if (r) {
		disk_errf(err, errlen, "%s: cannot write the new image: %s", path, strerror(-r));
		if (!existed)
			unlink(path);
	}
	return r;
}

/* Drops the "." and ".." parts of the absolute path p in place (".." at "/" stays "/"):
 * how the kernel resolves it where no part is a symlink. */
static void lexical(char *p)
{
	char *out = p;
	const char *in = p;

	while (*in) {
		const char *e = strchr(in, '/');
		size_t k = e ? (size_t)(e - in) : strlen(in);
		if (k == 2 && in[0] == '.' && in[1] == '.') {
			while (out > p && out[-1] != '/')
				out--;
			if (out > p)
				out--;
		} else if (k && !(k == 1 && in[0] == '.')) {
			*out++ = '/';
			memmove(out, in, k);
			out += k;
		}
		in += k + (e ? 1 : 0);
	}
	if (out == p)
		*out++ = '/';
	*out = 0;
}

/* Whether the header extensions from hdr end at or before `name` (the backing name's
 * offset in the header cluster). */
static bool ext_before(int fd, uint64_t hdr, uint64_t name)
{
	uint64_t pos = hdr;
	uint8_t e[8];

	while (pos + 8 <= name) {
		uint32_t len;
		if (disk_pread_full(fd, e, sizeof(e), pos))
			return false;
		if (!be32_get(e))
			return true; /* the end-of-extensions marker */
		len = be32_get(e + 4);
		pos += 8 + (((uint64_t)len + 7) & ~(uint64_t)7);
	}
	return pos <= name && hdr == name; /* no room even for the marker: none at all */
}

int disk_copy_backing_name(const char *image, const char *copy,
			   const char *(*rename)(void *ctx, const char *path), void *ctx, char *err,
			   size_t errlen)
{
	uint8_t h[104], *name = NULL;
	uint64_t off, cs, l1, rt, snaps;
	uint32_t len, hdr;
	char *abs = NULL, dir[PATH_MAX], *slash;
	const char *want;
	int fd = open(copy, O_RDWR | O_CLOEXEC), r = 0;

	if (fd < 0) {
		r = -errno;
		disk_errf(err, errlen, "%s: cannot open: %s", copy, strerror(-r));
		return r;
	}
	if (disk_pread_full(fd, h, sizeof(h), 0) || be32_get(h) != QC_MAGIC)
		goto out; /* raw (or too short to be qcow2): no backing file */
	off = be64_get(h + 8);
	len = be32_get(h + 16);
	if (!off || !len)
		goto out;
	cs = be32_get(h + 20) >= 9 && be32_get(h + 20) <= 21 ? 1ull << be32_get(h + 20) : 0;
	hdr = be32_get(h + 4) >= 3 ? be32_get(h + 100) : 72;
	l1 = be64_get(h + 40);
	rt = be64_get(h + 48);
	snaps = be32_get(h + 60) ? be64_get(h + 64) : cs;
	if (!cs || len > 1023 || off < hdr || off + len > cs) {
		disk_errf(err, errlen, "%s: not a valid qcow2 header", copy);
		r = -EINVAL;
		goto out;
	}
	name = core_calloc(1, 1024);
	if (!name || disk_pread_full(fd, name, len, off)) {
		r = name ? -EIO : -ENOMEM;
		disk_errf(err, errlen, "%s: cannot read its backing file name", copy);
		goto out;
	}
	if (name[0] == '/') {
		/* absolute: names the same file from anywhere, unless the caller's paths are
		 * not the host's (a sandbox's /files/diskN: rename gives the host's path) */
		if (!rename || !(abs = strdup((const char *)name))) {
			r = rename ? -ENOMEM : 0;
			goto out;
		}
		goto renamed;
	}
	/* the image's directory, as a real path, and the name against it */
	snprintf(dir, sizeof(dir), "%s", image);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	abs = realpath(slash ? (dir[0] ? dir : "/") : ".", NULL);
	if (!abs) {
		r = -errno;
		disk_errf(err, errlen, "%s: cannot resolve its directory: %s", image, strerror(-r));
		goto out;
	}
	{ /* a copy in the same directory: the name still holds */
		char cdir[PATH_MAX], *cs2, *creal;
		snprintf(cdir, sizeof(cdir), "%s", copy);
		cs2 = strrchr(cdir, '/');
		if (cs2)
			*cs2 = 0;
		creal = realpath(cs2 ? (cdir[0] ? cdir : "/") : ".", NULL);
		bool same = creal && !strcmp(creal, abs);
		free(creal);
		if (same)
			goto out;
	}
	{
		size_t n = strlen(abs) + 1 + len + 1;
		char *full = core_alloc(n);
		if (!full) {
			r = -ENOMEM;
			goto out;
		}
		snprintf(full, n, "%s/%s", strcmp(abs, "/") ? abs : "", (const char *)name);
		free(abs);
		abs = strdup(full);
		core_free(full);
		if (!abs) {
			r = -ENOMEM;
			goto out;
		}
	}
renamed:
	if (rename) { /* asked by the name made canonical ("." and ".." parts gone) */
		char *canon = strdup(abs);
		if (!canon) {
			r = -ENOMEM;
			goto out;
		}
		lexical(canon);
		want = rename(ctx, canon);
		if (want) {
			free(abs);
			abs = strdup(want);
			want = abs;
		}
		free(canon);
		if (!abs) {
			r = -ENOMEM;
			goto out;
		}
	} else {
		want = NULL;
	}
	if (!want && name[0] == '/')
		goto out; /* an absolute name rename keeps */
	if (!want)
		want = abs;
	if (strlen(want) > 1023 || off + strlen(want) > cs) {
		disk_errf(err, errlen,
			  "%s: its backing file's absolute name %s does not fit its header", copy,
			  want);
		r = -ENAMETOOLONG;
		goto out;
	}
	/* the rest of the header cluster must be the header's own: nothing else to move,
	 * the extensions before the name (as qemu lays them out) */
	if (l1 < cs || rt < cs || snaps < cs || !ext_before(fd, hdr, off)) {
		disk_errf(err, errlen, "%s: its header cluster holds other metadata", copy);
		r = -ENOTSUP;
		goto out;
	}
	{
		size_t wl = strlen(want), n = wl > len ? wl : len;
		uint8_t b4[4];
		memset(name, 0, 1024);
		memcpy(name, want, wl);
		be32_put(b4, (uint32_t)wl);
		r = disk_pwrite_full(fd, name, n, off) ?: disk_pwrite_full(fd, b4, 4, 16);
		if (!r && fsync(fd))
			r = -errno;
		if (r)
			disk_errf(err, errlen, "%s: cannot write its backing file name: %s", copy,
				  strerror(-r));
	}
out:
	free(abs);
	core_free(name);
	close(fd);
	return r;
}
