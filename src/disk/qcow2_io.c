/*
 * qcow2 data path. A request is walked cluster by cluster; neighbouring clusters with the
 * same kind of storage become one operation (host-contiguous allocated clusters: one
 * readv/writev straight from the caller's buffers).
 *
 * Reads: allocated clusters from the file; zero clusters as zeroes; unallocated ones from
 * the backing file (zeroes past its end, or without one); compressed clusters (deflate
 * or zstd, per the header) are read whole, decompressed, and the part asked for copied.
 *
 * Writes to an allocated cluster with refcount 1 (the copied flag) go in place. Any other
 * cluster is allocated anew (an alloc: `struct q2_alloc`): the rest of the cluster is
 * copied from what the guest saw before (backing file, compressed data, zeroes, or a
 * shared cluster), the whole cluster written, and only then the L2 entry set and the old
 * storage freed (deferred to after the next flush). Requests touching a cluster with an
 * alloc in flight wait for it (`struct q2_piece`), so a cluster is allocated once.
 * Zeroing and discarding whole clusters only changes L2 entries; partial clusters are
 * written with zeroes.
 */
#include "disk/qcow2.h"

#include "core/alloc.h"
#include "core/util.h"

#include <errno.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

enum mod_mode { MOD_WRITE, MOD_ZERO, MOD_DISCARD };

/* Part of a modifying request waiting for an alloc of its cluster to finish. */
struct q2_piece {
	struct q2_piece *next;
	uint64_t off, len;
	enum mod_mode mode;
	struct aio *parent;
	unsigned iovcnt;
	struct iovec iov[];
};

/* A cluster being allocated for a write. */
struct q2_alloc {
	struct q2_alloc *next;	     /* q->allocs */
	struct q2_alloc *batch_next; /* the next cluster of the same batch write */
	struct q2_piece *wait_head, *wait_tail;
	struct q2 *q;
	uint64_t vc;	   /* guest cluster */
	uint64_t host;	   /* the new host cluster */
	uint64_t old;	   /* the L2 entry it replaces */
	uint64_t old_host; /* Q2_NORMAL: the shared cluster to copy from */
	enum q2_kind kind; /* of `old` */
	struct aio *parent;
	struct aio step; /* reading the old contents */
	uint8_t *buf;	 /* the cluster being assembled (core_zalloc_pages); NULL for a
			    whole-cluster write */
	size_t in;	 /* where the new data goes in the cluster */
	uint64_t n;
	bool zero; /* the new data is zeroes */
	unsigned iovcnt;
	struct iovec iov[]; /* the new data */
};

/* Compressed cluster read: the raw bytes, then decompression into `out`. */
struct cread {
	struct q2 *q;
	uint64_t entry;
	uint8_t *out;
	void (*then)(void *arg, int res);
	void *arg;
	uint64_t clen;
	uint8_t cbuf[];
};

/* A compressed cluster's bytes for part of a read request. */
struct cslice {
	struct aio *parent;
	uint8_t *buf;
	size_t in;
	uint64_t n;
	unsigned iovcnt;
	struct iovec iov[];
};

/*
 * Whole new clusters of one modification that the allocator placed one after the other
 * in the file: written with one writev from the request's buffers, then each cluster's
 * L2 entry set. A guest writing sequentially into fresh space (a new image, an overlay)
 * gets one host write per request rather than one per cluster.
 */
struct wbatch {
	struct q2_alloc *head, *tail;
	uint64_t next_off; /* guest offset just past the tail's cluster */
	const struct iovec *iov;
	unsigned iovcnt;
	size_t skip; /* the head's data in the request's iovec array */
	uint64_t len;
};

/* A stretch of guest bytes stored the same way (one operation). */
struct run {
	enum q2_kind kind;
	uint64_t off;  /* guest offset */
	uint64_t host; /* Q2_NORMAL: host offset of the first byte */
	uint64_t entry;
	size_t skip; /* into the request's iovec array */
	uint64_t len;
};

/* ---- Decompression ---- */

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	return core_calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
	(void)opaque;
	core_free(p);
}

static int inflate_cluster(struct q2 *q, const uint8_t *src, uint64_t slen, uint8_t *dst)
{
	z_stream *zs = q->zs;
	int ret;

	if (!zs) {
		zs = core_calloc(1, sizeof(*zs));
		if (!zs)
			return -ENOMEM;
		zs->zalloc = z_alloc;
		zs->zfree = z_free;
		/* raw deflate (no zlib header), as qemu writes it; 15 covers its 12-bit window */
		if (inflateInit2(zs, -15) != Z_OK) {
			core_free(zs);
			return -ENOMEM;
		}
		q->zs = zs;
	} else if (inflateReset(zs) != Z_OK) {
		return -EIO;
	}
	zs->next_in = (Bytef *)(uintptr_t)src; /* zlib does not write through it */
	zs->avail_in = (uInt)slen;
	zs->next_out = dst;
	zs->avail_out = (uInt)q->cs;
	ret = inflate(zs, Z_FINISH);
	/* the data may end mid-sector and be followed by anything: a full cluster is enough */
	if (zs->avail_out == 0 && (ret == Z_STREAM_END || ret == Z_BUF_ERROR || ret == Z_OK))
		return 0;
	return q2_corrupt(q, "compressed cluster does not inflate to %llu bytes",
			  (unsigned long long)q->cs);
}

static int unzstd_cluster(struct q2 *q, const uint8_t *src, uint64_t slen, uint8_t *dst)
{
	ZSTD_inBuffer in = {src, (size_t)slen, 0};
	ZSTD_outBuffer out = {dst, (size_t)q->cs, 0};

	if (!q->zd) {
		q->zd = ZSTD_createDCtx();
		if (!q->zd)
			return -ENOMEM;
		/* a cluster is at most 2 MiB: refuse frames that ask for larger windows */
		ZSTD_DCtx_setParameter(q->zd, ZSTD_d_windowLogMax, 22);
	}
	ZSTD_DCtx_reset(q->zd, ZSTD_reset_session_only);
	while (out.pos < out.size) {
		size_t in_before = in.pos, out_before = out.pos;
		size_t r = ZSTD_decompressStream(q->zd, &out, &in);
		if (ZSTD_isError(r) || r == 0)
			break;
		if (in.pos == in_before && out.pos == out_before)
			break;
	}
	if (out.pos == out.size)
		return 0;
	return q2_corrupt(q, "compressed cluster does not decompress (zstd) to %llu bytes",
			  (unsigned long long)q->cs);
}

static void cread_done(struct dio *io, int res)
{
	struct cread *cr = io->arg;
	struct q2 *q = cr->q;

	if (!res)
		res = q->ctype == QC_CTYPE_ZSTD ? unzstd_cluster(q, cr->cbuf, cr->clen, cr->out)
						: inflate_cluster(q, cr->cbuf, cr->clen, cr->out);
	if (!res && q->dc_buf) {
		memcpy(q->dc_buf, cr->out, q->cs);
		q->dc_entry = cr->entry;
		q->dc_valid = true;
	}
	cr->then(cr->arg, res);
	core_free(cr);
}

/* Reads and decompresses the compressed cluster `entry` into out (cs bytes), then calls
 * then(arg, result) from a completion (or at once, from the decompressed-cluster cache). */
static int cread_start(struct q2 *q, uint64_t entry, uint8_t *out, void (*then)(void *arg, int res),
		       void *arg)
{
	uint64_t off, len;
	struct cread *cr;
	struct iovec v;
	struct dio *io;
	int r = q2_compressed_span(q, entry, &off, &len);

	if (r)
		return r;
	if (q->dc_valid && q->dc_entry == entry) {
		memcpy(out, q->dc_buf, q->cs);
		then(arg, 0);
		return 0;
	}
	if (!q->dc_buf)
		q->dc_buf = core_alloc(q->cs); /* without it there is just no cache */
	cr = core_alloc(sizeof(*cr) + len);
	if (!cr)
		return -ENOMEM;
	cr->q = q;
	cr->entry = entry;
	cr->out = out;
	cr->then = then;
	cr->arg = arg;
	cr->clen = len;
	v.iov_base = cr->cbuf;
	v.iov_len = (size_t)len;
	io = disk_dio_new(q->im, DIO_READ, off, &v, 1, 0, len);
	if (!io) {
		core_free(cr);
		return -ENOMEM;
	}
	io->cb = cread_done;
	io->arg = cr;
	disk_dio_submit(io, NULL);
	return 0;
}

static void forget_compressed(struct q2 *q, uint64_t entry)
{
	if (q->dc_valid && q->dc_entry == entry)
		q->dc_valid = false;
}

/* ---- Reads ---- */

static void read_backing(struct img *im, uint64_t off, const struct iovec *iov, unsigned iovcnt,
			 size_t skip, uint64_t len, struct aio *parent)
{
	struct img *b = im->backing;
	uint64_t n = 0;

	if (b && off < b->size) {
		n = b->size - off < len ? b->size - off : len;
		b->ops->read(b, off, iov, iovcnt, skip, n, parent);
	}
	if (n < len)
		disk_iov_memset0(iov, iovcnt, skip + (size_t)n, (size_t)(len - n));
}

static void cslice_then(void *arg, int res)
{
	struct cslice *c = arg;

	if (!res)
		disk_buf_to_iov(c->iov, c->iovcnt, 0, c->buf + c->in, (size_t)c->n);
	aio_put(c->parent, res);
	core_free(c->buf);
	core_free(c);
}

static void read_compressed(struct q2 *q, const struct run *rn, const struct iovec *iov,
			    unsigned iovcnt, struct aio *parent)
{
	unsigned cnt = disk_iov_slice_count(iov, iovcnt, rn->skip, rn->len);
	struct cslice *c = core_calloc(1, sizeof(*c) + cnt * sizeof(struct iovec));
	int r;

	if (!c || !(c->buf = core_alloc(q->cs))) {
		core_free(c);
		aio_error(parent, -ENOMEM);
		return;
	}
	c->parent = parent;
	c->in = (size_t)(rn->off & (q->cs - 1));
	c->n = rn->len;
	c->iovcnt = disk_iov_slice(iov, iovcnt, rn->skip, rn->len, c->iov);
	aio_get(parent);
	r = cread_start(q, rn->entry, c->buf, cslice_then, c);
	if (r)
		cslice_then(c, r);
}

static void read_run(struct q2 *q, const struct run *rn, const struct iovec *iov, unsigned iovcnt,
		     struct aio *parent)
{
	if (!rn->len)
		return;
	switch (rn->kind) {
	case Q2_NORMAL:
		disk_io_rw(q->im, DIO_READ, rn->host, iov, iovcnt, rn->skip, rn->len, parent);
		break;
	case Q2_ZERO:
		disk_iov_memset0(iov, iovcnt, rn->skip, (size_t)rn->len);
		break;
	case Q2_UNALLOC:
		read_backing(q->im, rn->off, iov, iovcnt, rn->skip, rn->len, parent);
		break;
	case Q2_COMPRESSED:
		read_compressed(q, rn, iov, iovcnt, parent);
		break;
	}
}

void q2_read(struct img *im, uint64_t off, const struct iovec *iov, unsigned iovcnt, size_t skip,
	     uint64_t len, struct aio *parent)
{
	struct q2 *q = im->fmt;
	struct run rn = {.len = 0};

	while (len) {
		uint64_t vc = off >> q->cb, in = off & (q->cs - 1), entry, host;
		uint64_t n = q->cs - in < len ? q->cs - in : len;
		enum q2_kind kind;
		int r = q2_l2_entry(q, vc, &entry);

		if (!r)
			r = q2_classify(q, entry, &kind, &host);
		if (r) {
			aio_error(parent, r);
			break;
		}
		if (rn.len && kind == rn.kind && kind != Q2_COMPRESSED &&
		    (kind != Q2_NORMAL || rn.host + rn.len == host + in)) {
			rn.len += n;
		} else {
			read_run(q, &rn, iov, iovcnt, parent);
			rn = (struct run){kind, off, host + in, entry, skip, n};
		}
		off += n;
		skip += (size_t)n;
		len -= n;
	}
	read_run(q, &rn, iov, iovcnt, parent);
}

/* ---- Writes ---- */

static void modify(struct img *im, uint64_t off, const struct iovec *iov, unsigned iovcnt,
		   size_t skip, uint64_t len, enum mod_mode mode, struct aio *parent);

static struct q2_alloc *find_alloc(struct q2 *q, uint64_t vc)
{
	for (struct q2_alloc *al = q->allocs; al; al = al->next)
		if (al->vc == vc)
			return al;
	return NULL;
}

/* The alloc is over (res: its outcome): wake what waited for it, report to the parent. */
static void alloc_end(struct q2_alloc *al, int res)
{
	struct q2 *q = al->q;
	struct q2_alloc **p = &q->allocs;
	struct q2_piece *w = al->wait_head;

	if (res)
		q2_free_now(q, al->host);
	while (*p != al)
		p = &(*p)->next;
	*p = al->next;
	while (w) {
		struct q2_piece *next = w->next;
		modify(q->im, w->off, w->mode == MOD_WRITE ? w->iov : NULL, w->iovcnt, 0, w->len,
		       w->mode, w->parent);
		aio_put(w->parent, 0);
		core_free(w);
		w = next;
	}
	aio_put(al->parent, res);
	core_free_pages(al->buf, (size_t)q->cs);
	core_free(al);
}

/* al's new cluster was written (res: how that went). */
static void cluster_done(struct q2_alloc *al, int res)
{
	struct q2 *q = al->q;

	if (!res) {
		/* the data is in place: now the L2 entry may point to it */
		res = q2_l2_set(q, al->vc, al->host | QC_COPIED);
		if (!res) {
			if (al->kind == Q2_COMPRESSED)
				forget_compressed(q, al->old);
			q2_free_later(q, al->old);
		}
	}
	alloc_end(al, res);
}

static void cluster_written(struct dio *io, int res)
{
	cluster_done(io->arg, res);
}

static void write_cluster(struct q2_alloc *al, const struct iovec *iov, unsigned iovcnt)
{
	struct dio *io = disk_dio_new(al->q->im, DIO_WRITE, al->host, iov, iovcnt, 0, al->q->cs);

	if (!io) {
		alloc_end(al, -ENOMEM);
		return;
	}
	io->cb = cluster_written;
	io->arg = al;
	disk_dio_submit(io, NULL);
}

static void batch_written(struct dio *io, int res)
{
	struct q2_alloc *al = io->arg;

	while (al) {
		struct q2_alloc *next = al->batch_next;
		cluster_done(al, res);
		al = next;
	}
}

/* Issues the batch's write (its allocs are registered and hold their parents). */
static void batch_flush(struct q2 *q, struct wbatch *bt)
{
	struct q2_alloc *al = bt->head;
	struct dio *io;

	if (!al)
		return;
	bt->head = bt->tail = NULL;
	io = disk_dio_new(q->im, DIO_WRITE, al->host, bt->iov, bt->iovcnt, bt->skip, bt->len);
	if (!io) {
		while (al) {
			struct q2_alloc *next = al->batch_next;
			alloc_end(al, -ENOMEM);
			al = next;
		}
		return;
	}
	io->cb = batch_written;
	io->arg = al;
	disk_dio_submit(io, NULL);
}

/* A whole-cluster write of new data into the fresh cluster al->host: joins the batch when
 * it continues it, in the guest and in the file; otherwise the batch is issued and a new
 * one started. */
static void batch_add(struct q2 *q, struct wbatch *bt, struct q2_alloc *al, const struct iovec *iov,
		      unsigned iovcnt, size_t skip, uint64_t off)
{
	if (bt->head && bt->iov == iov && bt->next_off == off &&
	    bt->tail->host + q->cs == al->host && bt->skip + bt->len == skip) {
		bt->tail->batch_next = al;
		bt->tail = al;
		bt->len += q->cs;
		bt->next_off += q->cs;
		return;
	}
	batch_flush(q, bt);
	*bt = (struct wbatch){al, al, off + q->cs, iov, iovcnt, skip, q->cs};
}

/* The old contents are in al->buf: lay the new data over them and write the cluster. */
static void source_ready(struct aio *a)
{
	struct q2_alloc *al = container_of(a, struct q2_alloc, step);
	struct iovec v = {al->buf, (size_t)al->q->cs};

	if (a->result) {
		alloc_end(al, a->result);
		return;
	}
	if (al->zero)
		memset(al->buf + al->in, 0, (size_t)al->n);
	else
		disk_iov_to_buf(al->iov, al->iovcnt, 0, al->buf + al->in, (size_t)al->n);
	write_cluster(al, &v, 1);
}

static void alloc_cread_then(void *arg, int res)
{
	struct q2_alloc *al = arg;

	aio_put(&al->step, res);
}

/* Reads what the guest sees in the cluster now into al->buf (holding refs on al->step). */
static void read_old(struct q2_alloc *al)
{
	struct q2 *q = al->q;
	struct iovec v = {al->buf, (size_t)q->cs};
	int r;

	switch (al->kind) {
	case Q2_NORMAL: /* shared with a snapshot: copy it */
		disk_io_rw(q->im, DIO_READ, al->old_host, &v, 1, 0, q->cs, &al->step);
		break;
	case Q2_COMPRESSED:
		aio_get(&al->step);
		r = cread_start(q, al->old, al->buf, alloc_cread_then, al);
		if (r)
			aio_put(&al->step, r);
		break;
	case Q2_UNALLOC:
		read_backing(q->im, al->vc << q->cb, &v, 1, 0, q->cs, &al->step);
		break;
	case Q2_ZERO:
		memset(al->buf, 0, (size_t)q->cs);
		break;
	}
}

static int start_alloc(struct q2 *q, struct wbatch *bt, uint64_t vc, uint64_t entry,
		       const struct iovec *iov, unsigned iovcnt, size_t skip, uint64_t off,
		       uint64_t n, struct aio *parent)
{
	bool whole = iov && n == q->cs; /* nothing of the old contents survives */
	unsigned cnt = iov && !whole ? disk_iov_slice_count(iov, iovcnt, skip, n) : 0;
	struct q2_alloc *al = core_calloc(1, sizeof(*al) + cnt * sizeof(struct iovec));
	int r;

	if (!al)
		return -ENOMEM;
	al->q = q;
	al->vc = vc;
	al->old = entry;
	al->in = (size_t)(off & (q->cs - 1));
	al->n = n;
	al->zero = !iov;
	al->parent = parent;
	if (cnt)
		al->iovcnt = disk_iov_slice(iov, iovcnt, skip, n, al->iov);
	r = q2_classify(q, entry, &al->kind, &al->old_host);
	/* the L2 table first, so a new table sits before the data it maps */
	if (!r)
		r = q2_l2_prepare(q, vc);
	if (!r)
		r = q2_alloc_cluster(q, &al->host);
	if (r) {
		core_free(al);
		return r;
	}
	al->next = q->allocs;
	q->allocs = al;
	aio_get(parent);
	if (whole) {
		batch_add(q, bt, al, iov, iovcnt, skip, off);
		return 0;
	}
	/* Pages of its own, returned when the alloc ends: from the heap, the buffers of a
	 * burst of small writes to fresh clusters (a boot: a dozen at once) stayed resident
	 * in the I/O thread's malloc arena for good. */
	al->buf = core_zalloc_pages((size_t)q->cs);
	if (!al->buf) {
		alloc_end(al, -ENOMEM);
		return 0;
	}
	aio_init(&al->step, source_ready);
	read_old(al);
	aio_put(&al->step, 0);
	return 0;
}

static int defer(struct q2_alloc *al, const struct iovec *iov, unsigned iovcnt, size_t skip,
		 uint64_t off, uint64_t n, enum mod_mode mode, struct aio *parent)
{
	unsigned cnt = mode == MOD_WRITE ? disk_iov_slice_count(iov, iovcnt, skip, n) : 0;
	struct q2_piece *p = core_calloc(1, sizeof(*p) + cnt * sizeof(struct iovec));

	if (!p)
		return -ENOMEM;
	p->off = off;
	p->len = n;
	p->mode = mode;
	p->parent = parent;
	if (mode == MOD_WRITE)
		p->iovcnt = disk_iov_slice(iov, iovcnt, skip, n, p->iov);
	if (al->wait_tail)
		al->wait_tail->next = p;
	else
		al->wait_head = p;
	al->wait_tail = p;
	aio_get(parent);
	return 0;
}

/* Zeroes or discards a whole cluster by its L2 entry alone. */
static int zero_cluster(struct q2 *q, uint64_t vc, uint64_t entry, enum q2_kind kind, bool discard)
{
	struct img *b = q->im->backing;
	bool backing_data = b && (vc << q->cb) < b->size;
	int r;

	if (kind == Q2_ZERO && !(entry & QC_OFF_MASK))
		return 0;
	if (kind == Q2_UNALLOC && !backing_data)
		return 0;
	/* with data below, only the zero flag keeps it from showing through */
	r = q2_l2_set(q, vc, discard && !backing_data ? (uint64_t)0 : (uint64_t)QC_ZERO);
	if (r)
		return r;
	if (kind == Q2_COMPRESSED)
		forget_compressed(q, entry);
	q2_free_later(q, entry);
	return 0;
}

static void issue_direct(struct q2 *q, struct run *rn, const struct iovec *iov, unsigned iovcnt,
			 struct aio *parent)
{
	if (rn->len)
		disk_io_rw(q->im, DIO_WRITE, rn->host, iov, iovcnt, rn->skip, rn->len, parent);
	rn->len = 0;
}

/* One cluster's part [off, off + n) of a modification; direct writes accumulate in rn. */
static int modify_cluster(struct q2 *q, struct run *rn, struct wbatch *bt, uint64_t off, uint64_t n,
			  const struct iovec *iov, unsigned iovcnt, size_t skip, enum mod_mode mode,
			  struct aio *parent)
{
	uint64_t vc = off >> q->cb, in = off & (q->cs - 1), entry, host;
	struct q2_alloc *al = find_alloc(q, vc);
	struct img *b = q->im->backing;
	enum q2_kind kind;
	int r;

	if (al) {
		issue_direct(q, rn, iov, iovcnt, parent);
		return defer(al, iov, iovcnt, skip, off, n, mode, parent);
	}
	r = q2_l2_entry(q, vc, &entry);
	if (!r)
		r = q2_classify(q, entry, &kind, &host);
	if (r)
		return r;
	if (mode != MOD_WRITE) {
		/* whole: the cluster, or all of it the disk shows (the last one) */
		if (n == q->cs || (in == 0 && off + n == q->im->size)) {
			issue_direct(q, rn, iov, iovcnt, parent);
			return zero_cluster(q, vc, entry, kind, mode == MOD_DISCARD);
		}
		if (kind == Q2_ZERO || (kind == Q2_UNALLOC && (!b || off >= b->size)))
			return 0; /* reads as zeroes already */
	}
	if (kind == Q2_NORMAL && (entry & QC_COPIED)) {
		if (rn->len && rn->host + rn->len == host + in) {
			rn->len += n;
			return 0;
		}
		issue_direct(q, rn, iov, iovcnt, parent);
		*rn = (struct run){Q2_NORMAL, off, host + in, entry, skip, n};
		return 0;
	}
	issue_direct(q, rn, iov, iovcnt, parent);
	return start_alloc(q, bt, vc, entry, iov, iovcnt, skip, off, n, parent);
}

/* True when off lies in an L2 table's span that has no table and no backing data below:
 * it reads as zeroes up to the span's end, *n bytes of the request. */
static bool in_empty_l2_span(struct q2 *q, uint64_t off, uint64_t len, uint64_t *n)
{
	uint64_t span = q->cs * q->l2_entries, end = (off / span + 1) * span;
	struct img *b = q->im->backing;

	if (!q2_l2_absent(q, off >> q->cb) || (b && off < b->size))
		return false;
	*n = end - off < len ? end - off : len;
	return true;
}

static void modify(struct img *im, uint64_t off, const struct iovec *iov, unsigned iovcnt,
		   size_t skip, uint64_t len, enum mod_mode mode, struct aio *parent)
{
	struct q2 *q = im->fmt;
	struct run rn = {.len = 0};
	struct wbatch bt = {.head = NULL};

	if (q->broken) {
		aio_error(parent, -EIO);
		return;
	}
	while (len) {
		uint64_t n = q->cs - (off & (q->cs - 1));
		int r;

		if (mode != MOD_WRITE && in_empty_l2_span(q, off, len, &n)) {
			/* no L2 table and nothing below: already zeroes (a guest's mkfs
			 * discards the whole disk; this makes that quick) */
			off += n;
			len -= n;
			continue;
		}
		if (n > len)
			n = len;
		r = modify_cluster(q, &rn, &bt, off, n, iov, iovcnt, skip, mode, parent);
		if (r) {
			aio_error(parent, r);
			break;
		}
		off += n;
		skip += (size_t)n;
		len -= n;
	}
	issue_direct(q, &rn, iov, iovcnt, parent);
	batch_flush(q, &bt);
}

void q2_write(struct img *im, uint64_t off, const struct iovec *iov, unsigned iovcnt, size_t skip,
	      uint64_t len, struct aio *parent)
{
	modify(im, off, iov, iovcnt, skip, len, MOD_WRITE, parent);
}

void q2_zero(struct img *im, uint64_t off, uint64_t len, bool discard, struct aio *parent)
{
	modify(im, off, NULL, 0, 0, len, discard ? MOD_DISCARD : MOD_ZERO, parent);
}

void q2_io_close(struct q2 *q)
{
	if (q->zs) {
		inflateEnd(q->zs);
		core_free(q->zs);
	}
	ZSTD_freeDCtx(q->zd);
	core_free(q->dc_buf);
}
