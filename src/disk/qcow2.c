/*
 * qcow2 images (qemu's docs/interop/qcow2.txt): header validation and open, the ops
 * table, and close. Every header field is checked before anything is read through it;
 * what this driver cannot write safely (version 2, internal snapshots, the dirty or
 * corrupt bit) opens read-only only, and what it cannot read at all (encryption,
 * external data files, extended L2 entries, unknown incompatible features) not at all.
 * The data path is in qcow2_io.c, metadata handling in qcow2_meta.c.
 */
#include "disk/qcow2.h"

#include "core/alloc.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* The header fields, host byte order. */
struct hdr {
	uint32_t magic, version;
	uint64_t backing_off;
	uint32_t backing_len, cb;
	uint64_t size;
	uint32_t crypt, l1_size;
	uint64_t l1_off, rt_off;
	uint32_t rt_clusters, nb_snapshots;
	uint64_t snapshots_off, incompat, compat, autoclear;
	uint32_t rc_order, hdr_len, ctype;
};

/* What the header cluster's extensions and tail hold. */
struct extras {
	const uint8_t *names; /* feature name table, 48-byte entries */
	size_t nnames;
	enum disk_format backing_format;
	char backing[1024];
};

static void parse_header(const uint8_t *b, size_t n, struct hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->magic = be32_get(b);
	h->version = be32_get(b + 4);
	h->backing_off = be64_get(b + 8);
	h->backing_len = be32_get(b + 16);
	h->cb = be32_get(b + 20);
	h->size = be64_get(b + 24);
	h->crypt = be32_get(b + 32);
	h->l1_size = be32_get(b + 36);
	h->l1_off = be64_get(b + 40);
	h->rt_off = be64_get(b + 48);
	h->rt_clusters = be32_get(b + 56);
	h->nb_snapshots = be32_get(b + 60);
	h->snapshots_off = be64_get(b + 64);
	h->hdr_len = QC_V2_HDR_LEN;
	h->rc_order = 4;
	if (h->version < 3 || n < QC_V3_HDR_LEN)
		return;
	h->incompat = be64_get(b + 72);
	h->compat = be64_get(b + 80);
	h->autoclear = be64_get(b + 88);
	h->rc_order = be32_get(b + 96);
	h->hdr_len = be32_get(b + 100);
	if (h->hdr_len > 104 && n > 104)
		h->ctype = b[104];
}

/* Lists the unknown incompatible features by name into buf. */
static void feature_names(uint64_t bits, const struct extras *x, char *buf, size_t len)
{
	static const char *const known[] = {"dirty bit", "corrupt bit", "external data file",
					    "compression type", "extended L2 entries"};
	size_t used = 0;

	buf[0] = 0;
	for (unsigned bit = 0; bit < 64 && used < len; bit++) {
		char name[48] = "";
		if (!(bits & (1ull << bit)))
			continue;
		if (bit < ARRAY_SIZE(known))
			snprintf(name, sizeof(name), "%s", known[bit]);
		for (size_t i = 0; i < x->nnames && !name[0]; i++) {
			const uint8_t *e = x->names + i * 48;
			if (e[0] == 0 && e[1] == bit)
				snprintf(name, sizeof(name), "%.46s", (const char *)e + 2);
		}
		if (!name[0])
			snprintf(name, sizeof(name), "bit %u", bit);
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
	}
}

static int check_basics(const struct hdr *h, uint64_t file_size, char *err, size_t errlen)
{
	if (h->version == 1) {
		disk_errf(err, errlen,
			  "an old qcow (version 1) image; convert it with qemu-img convert -O "
			  "qcow2");
		return -ENOTSUP;
	}
	if (h->version != 2 && h->version != 3) {
		disk_errf(err, errlen, "qcow2 version %u is not supported (only 2 and 3)",
			  h->version);
		return -ENOTSUP;
	}
	if (h->version == 3 && file_size < QC_V3_HDR_LEN) {
		disk_errf(err, errlen, "truncated qcow2 header: the file has %llu bytes",
			  (unsigned long long)file_size);
		return -EINVAL;
	}
	if (h->cb < 9 || h->cb > 21) {
		disk_errf(err, errlen, "corrupt qcow2 header: cluster_bits %u is not in 9..21",
			  h->cb);
		return -EINVAL;
	}
	if (h->version == 3 &&
	    (h->hdr_len < QC_V3_HDR_LEN || h->hdr_len % 8 || h->hdr_len > (1u << h->cb))) {
		disk_errf(err, errlen, "corrupt qcow2 header: header_length %u", h->hdr_len);
		return -EINVAL;
	}
	if (h->crypt) {
		disk_errf(err, errlen,
			  "encrypted qcow2 images (crypt_method %u) are not supported (decrypt "
			  "with qemu-img convert)",
			  h->crypt);
		return -ENOTSUP;
	}
	if (h->rc_order > 6) {
		disk_errf(err, errlen, "corrupt qcow2 header: refcount_order %u is above 6",
			  h->rc_order);
		return -EINVAL;
	}
	return 0;
}

static int parse_extension(uint32_t type, const uint8_t *data, uint32_t len, struct extras *x,
			   char *err, size_t errlen)
{
	char name[32];

	if (type == QC_EXT_FEATURE_NAMES) {
		x->names = data;
		x->nnames = len / 48;
	} else if (type == QC_EXT_BACKING_FORMAT) {
		if (len == 0 || len >= sizeof(name)) {
			disk_errf(err, errlen, "corrupt qcow2 header: backing format of %u bytes",
				  len);
			return -EINVAL;
		}
		memcpy(name, data, len);
		name[len] = 0;
		if (disk_format_parse(name, &x->backing_format) ||
		    x->backing_format == DISK_FMT_AUTO) {
			disk_errf(
				err, errlen,
				"backing file format '%.31s' is not supported (raw and qcow2 are)",
				name);
			return -ENOTSUP;
		}
	}
	return 0; /* unknown extensions may be ignored (spec) */
}

/* Header extensions live between the header and the backing name (or cluster end). */
static int parse_extensions(const struct hdr *h, const uint8_t *c0, size_t n, struct extras *x,
			    char *err, size_t errlen)
{
	size_t pos = h->version == 2 ? QC_V2_HDR_LEN : h->hdr_len;
	size_t end = n;

	if (h->backing_off && h->backing_off < end)
		end = (size_t)h->backing_off;
	while (pos + 8 <= end) {
		uint32_t type = be32_get(c0 + pos), len = be32_get(c0 + pos + 4);
		int r;
		if (type == QC_EXT_END)
			break;
		if (len > end - pos - 8) {
			disk_errf(err, errlen,
				  "corrupt qcow2 header: extension 0x%08x of %u bytes overruns the "
				  "header cluster",
				  type, len);
			return -EINVAL;
		}
		r = parse_extension(type, c0 + pos + 8, len, x, err, errlen);
		if (r)
			return r;
		pos += 8 + (((size_t)len + 7) & ~(size_t)7);
	}
	return 0;
}

static int check_features(const struct hdr *h, const struct extras *x, char *err, size_t errlen)
{
	uint64_t unknown = h->incompat & ~QC_INCOMPAT_KNOWN;
	char names[256];

	if (unknown) {
		feature_names(unknown, x, names, sizeof(names));
		disk_errf(err, errlen,
			  "unsupported qcow2 incompatible features: %s (convert it with "
			  "qemu-img convert -O qcow2)",
			  names);
		return -ENOTSUP;
	}
	if ((h->incompat & QC_INCOMPAT_COMPRESS) ? h->ctype != QC_CTYPE_ZSTD
						 : h->ctype != QC_CTYPE_ZLIB) {
		disk_errf(err, errlen, "unsupported or inconsistent compression type %u", h->ctype);
		return -ENOTSUP;
	}
	return 0;
}

static int check_tables(const struct hdr *h, uint64_t file_size, char *err, size_t errlen)
{
	uint64_t cs = 1ull << h->cb, span_bits = h->cb + (h->cb - 3);
	uint64_t need = (h->size >> span_bits) + ((h->size & ((1ull << span_bits) - 1)) != 0);
	uint64_t l1_end = h->l1_off + (uint64_t)h->l1_size * 8;
	uint64_t rt_len = (uint64_t)h->rt_clusters << h->cb, rt_end = h->rt_off + rt_len;

	if ((uint64_t)h->l1_size * 8 > QC_MAX_L1 || h->l1_size < need) {
		disk_errf(err, errlen,
			  "corrupt qcow2 header: L1 table of %u entries for a %llu-byte disk",
			  h->l1_size, (unsigned long long)h->size);
		return -EINVAL;
	}
	if ((h->l1_off & (cs - 1)) || h->l1_off >= QC_MAX_HOST ||
	    (h->l1_size && (h->l1_off < cs || l1_end > file_size))) {
		disk_errf(err, errlen,
			  "corrupt qcow2 header: L1 table at 0x%llx (%u entries) is misplaced or "
			  "past the end of the file (%llu bytes)",
			  (unsigned long long)h->l1_off, h->l1_size, (unsigned long long)file_size);
		return -EINVAL;
	}
	if ((h->rt_off & (cs - 1)) || h->rt_off < cs || h->rt_off >= QC_MAX_HOST ||
	    h->rt_clusters == 0 || rt_len > QC_MAX_RT || rt_end > file_size) {
		disk_errf(err, errlen,
			  "corrupt qcow2 header: refcount table at 0x%llx (%u clusters) is "
			  "misplaced or past the end of the file",
			  (unsigned long long)h->rt_off, h->rt_clusters);
		return -EINVAL;
	}
	if (h->l1_size && h->l1_off < rt_end && h->rt_off < l1_end) {
		disk_errf(err, errlen, "corrupt qcow2 header: L1 and refcount tables overlap");
		return -EINVAL;
	}
	if (h->nb_snapshots > QC_MAX_SNAPSHOTS ||
	    (h->nb_snapshots && (!h->snapshots_off || (h->snapshots_off & (cs - 1))))) {
		disk_errf(err, errlen, "corrupt qcow2 header: %u snapshots at 0x%llx",
			  h->nb_snapshots, (unsigned long long)h->snapshots_off);
		return -EINVAL;
	}
	return 0;
}

static int read_backing_name(const struct hdr *h, const uint8_t *c0, size_t n, struct extras *x,
			     char *err, size_t errlen)
{
	size_t start = h->version == 2 ? QC_V2_HDR_LEN : h->hdr_len;

	if (!h->backing_off)
		return 0;
	if (h->backing_len == 0 || h->backing_len > 1023 || h->backing_off < start ||
	    h->backing_off + h->backing_len > n) {
		disk_errf(err, errlen,
			  "corrupt qcow2 header: backing file name at %llu (%u bytes) is not "
			  "inside the header cluster",
			  (unsigned long long)h->backing_off, h->backing_len);
		return -EINVAL;
	}
	memcpy(x->backing, c0 + h->backing_off, h->backing_len);
	x->backing[h->backing_len] = 0;
	if (strlen(x->backing) != h->backing_len) {
		disk_errf(err, errlen, "corrupt qcow2 header: backing file name contains NUL");
		return -EINVAL;
	}
	return 0;
}

/* What this driver cannot write safely still opens read-only. */
static int check_writable(const struct hdr *h, char *err, size_t errlen)
{
	if (h->incompat & QC_INCOMPAT_CORRUPT)
		disk_errf(err, errlen,
			  "image is marked corrupt: open it read-only, or repair it with "
			  "qemu-img check -r all");
	else if (h->incompat & QC_INCOMPAT_DIRTY)
		disk_errf(err, errlen,
			  "image is marked dirty (lazy refcounts not written back): repair it "
			  "with qemu-img check -r all, or open it read-only");
	else if (h->version < 3)
		disk_errf(err, errlen,
			  "qcow2 version 2 images open read-only in Lodge: give readonly=on, "
			  "or upgrade it with qemu-img amend -o compat=1.1");
	else if (h->nb_snapshots)
		disk_errf(err, errlen,
			  "image has %u internal snapshots, which Lodge only reads: open it "
			  "read-only (or delete them with qemu-img snapshot -d)",
			  h->nb_snapshots);
	else
		return 0;
	return -EROFS;
}

/* Reads a table of n big-endian entries into host order. */
static int load_table(int fd, uint64_t off, uint64_t n, uint64_t **out, char *err, size_t errlen,
		      const char *what)
{
	uint64_t *v = core_calloc(n ? (size_t)n : 1, 8);
	int r;

	if (!v) {
		disk_errf(err, errlen, "out of memory for the %s", what);
		return -ENOMEM;
	}
	r = n ? disk_pread_full(fd, v, (size_t)n * 8, off) : 0;
	if (r) {
		core_free(v);
		disk_errf(err, errlen, "cannot read the %s: %s", what, strerror(-r));
		return r;
	}
	for (uint64_t i = 0; i < n; i++)
		v[i] = be64_get((const uint8_t *)&v[i]);
	*out = v;
	return 0;
}

static int file_size(struct img *im, uint64_t *out)
{
	struct stat st;

	if (im->blockdev)
		return ioctl(im->fd, BLKGETSIZE64, out) ? -errno : 0;
	if (fstat(im->fd, &st))
		return -errno;
	*out = (uint64_t)st.st_size;
	return 0;
}

static void setup(struct q2 *q, const struct hdr *h)
{
	uint64_t l2_limit = (8u << 20) >> h->cb; /* 8 MiB of L2 tables at most */
	uint32_t slice = h->cb < 12 ? 1u << h->cb : Q2_L2_SLICE;

	q->version = h->version;
	q->cb = h->cb;
	q->cs = 1ull << h->cb;
	q->l2_entries = q->cs / 8;
	q->incompat = h->incompat;
	q->autoclear = h->autoclear;
	q->hdr_len = h->hdr_len;
	q->ctype = h->ctype;
	q->nb_snapshots = h->nb_snapshots;
	q->l1_size = h->l1_size;
	q->l1_off = h->l1_off;
	q->rt_entries = ((uint64_t)h->rt_clusters << h->cb) / 8;
	q->rt_off = h->rt_off;
	q->rt_clusters = h->rt_clusters;
	q->rc_order = h->rc_order;
	q->rb_entries = (q->cs * 8) >> h->rc_order;
	q->rc_max = h->rc_order == 6 ? UINT64_MAX : (1ull << (1u << h->rc_order)) - 1;
	if (l2_limit > h->l1_size)
		l2_limit = h->l1_size;
	if (l2_limit > 256)
		l2_limit = 256;
	if (l2_limit < 4)
		l2_limit = 4;
	/* the same bytes at most as whole tables would take, in slices */
	q2_cache_init(&q->l2c, (unsigned)(l2_limit * (q->cs / slice)), slice);
	q2_cache_init(&q->rbc, 16, (uint32_t)q->cs);
}

static void q2_free_state(struct q2 *q)
{
	q2_meta_close(q);
	q2_io_close(q);
	core_free(q);
}

/* Validates the header and the header cluster; fills h and x. */
static int read_header(struct img *im, uint64_t fsize, struct hdr *h, struct extras *x, char *err,
		       size_t errlen)
{
	uint8_t first[112];
	uint8_t *c0;
	size_t n;
	int r;

	n = fsize < sizeof(first) ? (size_t)fsize : sizeof(first);
	if (n < QC_V2_HDR_LEN) {
		disk_errf(err, errlen, "truncated qcow2 header: the file has %zu bytes", n);
		return -EINVAL;
	}
	r = disk_pread_full(im->fd, first, n, 0);
	if (r) {
		disk_errf(err, errlen, "cannot read the header: %s", strerror(-r));
		return r;
	}
	parse_header(first, n, h);
	r = check_basics(h, fsize, err, errlen);
	if (r)
		return r;
	/* the whole header cluster: extensions and the backing file name */
	n = fsize < (1ull << h->cb) ? (size_t)fsize : (size_t)1 << h->cb;
	c0 = core_alloc(n);
	if (!c0) {
		disk_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = disk_pread_full(im->fd, c0, n, 0);
	if (r)
		disk_errf(err, errlen, "cannot read the header: %s", strerror(-r));
	if (!r)
		r = parse_extensions(h, c0, n, x, err, errlen);
	if (!r)
		r = check_features(h, x, err, errlen);
	if (!r)
		r = check_tables(h, fsize, err, errlen);
	if (!r)
		r = read_backing_name(h, c0, n, x, err, errlen);
	x->names = NULL; /* pointed into c0 */
	core_free(c0);
	return r;
}

int disk_qcow2_open(struct img *im, char *err, size_t errlen)
{
	struct extras x = {.backing_format = DISK_FMT_AUTO};
	struct hdr h;
	struct q2 *q;
	uint64_t fsize, *rt = NULL;
	int r = file_size(im, &fsize);

	if (r) {
		disk_errf(err, errlen, "cannot stat: %s", strerror(-r));
		return r;
	}
	r = read_header(im, fsize, &h, &x, err, errlen);
	if (!r && !im->readonly)
		r = check_writable(&h, err, errlen);
	if (r)
		return r;
	q = core_calloc(1, sizeof(*q));
	if (!q) {
		disk_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	q->im = im;
	q->file_size = fsize;
	setup(q, &h);
	q->host_top = (fsize + q->cs - 1) & ~(q->cs - 1);
	r = load_table(im->fd, h.l1_off, h.l1_size, &q->l1, err, errlen, "L1 table");
	/* Refcounts change only with writes: a read-only image (every backing file) does
	 * without its table, which is a cluster (64 KiB) or more of memory, once it has
	 * noted where the refcount blocks are. */
	if (!r)
		r = load_table(im->fd, h.rt_off, q->rt_entries, &rt, err, errlen, "refcount table");
	if (!r)
		r = q2_meta_index(q, rt);
	if (!r && !im->readonly)
		q->rt = rt;
	else
		core_free(rt);
	if (!r && x.backing[0]) {
		size_t len = strlen(x.backing) + 1;
		im->backing_name = core_alloc(len);
		if (im->backing_name)
			memcpy(im->backing_name, x.backing, len);
		else
			r = -ENOMEM;
	}
	if (r) {
		if (r == -ENOMEM)
			disk_errf(err, errlen, "out of memory");
		q2_free_state(q);
		return r;
	}
	im->backing_format = x.backing_format;
	im->size = h.size;
	im->fmt = q;
	return 0;
}

/* Writable open of an image with auto-clear bits set: clear them before any write. */
static int q2_activate(struct img *im, char *err, size_t errlen)
{
	struct q2 *q = im->fmt;
	uint8_t zero[8] = {0};
	int r;

	if (!q->autoclear)
		return 0;
	r = disk_pwrite_full(im->fd, zero, sizeof(zero), 88);
	if (!r && fdatasync(im->fd))
		r = -errno;
	if (r) {
		disk_errf(err, errlen, "cannot clear the auto-clear feature bits: %s",
			  strerror(-r));
		return r;
	}
	q->autoclear = 0;
	return 0;
}

static void q2_close(struct img *im)
{
	q2_free_state(im->fmt);
	im->fmt = NULL;
}

void disk_qcow2_describe(const struct img *im, struct disk_image_info *out)
{
	const struct q2 *q = im->fmt;

	out->cluster_size = (uint32_t)q->cs;
	out->qcow2_version = q->version;
	out->incompat_features = q->incompat;
	out->metadata_cached = (uint64_t)q->l1_size * 8 + (q->rt ? q->rt_entries * 8 : 0) +
			       (uint64_t)q->l2c.n * q->l2c.sz + (uint64_t)q->rbc.n * q->rbc.sz;
}

const struct img_ops disk_qcow2_ops = {
	.format = DISK_FMT_QCOW2,
	.read = q2_read,
	.write = q2_write,
	.zero = q2_zero,
	.flush = q2_flush,
	.activate = q2_activate,
	.close = q2_close,
};
