/*
 * qcow2 metadata: the L2-table and refcount-block cache, L1/L2 lookups and updates,
 * refcounts, cluster allocation (growing the refcount table when the file outgrows it),
 * deferred frees, and the flush that writes metadata in an order that survives a crash:
 *
 *   1. refcount blocks, new L2 tables, a moved refcount table    then fdatasync
 *      (with it the data of every completed write becomes durable)
 *   2. the header's refcount table fields, or in-place refcount
 *      table entries, when they changed                            then fdatasync
 *   3. changed L2 tables that were already on disk, the L1 table   then fdatasync
 *   4. deferred frees take effect (in memory; on disk at the next flush)
 *
 * So nothing on disk points to data, an L2 table or a refcount block before it is
 * durable, and every cluster in use has its refcount on disk first. A crash at any point
 * leaves at worst leaked clusters (refcount > 0, unused), which qemu-img check reports as
 * leaks, never corruption. Every offset read from the file is checked before use; what
 * fails the checks is reported once (rate-limited) and fails the request with -EIO.
 */
#include "disk/qcow2.h"

#include "core/alloc.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int q2_corrupt(struct q2 *q, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (q->im->readonly || q->broken) {
		disk_img_log(q->im, "corrupt image: %s (check it with qemu-img check)", msg);
		return -EIO;
	}
	/* as qemu: stop writing into an image we do not understand, and say so in its
	 * header (the corrupt bit), so that the next writer is stopped too */
	q->broken = true;
	if (q->version >= 3) {
		uint8_t b[8];
		be64_put(b, q->incompat | QC_INCOMPAT_CORRUPT);
		if (disk_pwrite_full(q->im->fd, b, sizeof(b), 72) == 0 && fdatasync(q->im->fd) == 0)
			q->incompat |= QC_INCOMPAT_CORRUPT;
	}
	disk_img_log(q->im, "corrupt image: %s; %s (repair it with qemu-img check -r all)", msg,
		     q->incompat & QC_INCOMPAT_CORRUPT ? "marked it corrupt" : "writes stopped");
	return -EIO;
}

/* ---- The cache ---- */

void q2_cache_init(struct mcache *c, unsigned limit, uint32_t sz)
{
	memset(c, 0, sizeof(*c));
	c->limit = limit;
	c->sz = sz;
}

void q2_cache_fini(struct mcache *c)
{
	struct mtab *t = c->all;

	while (t) {
		struct mtab *next = t->anext;
		core_free(t);
		t = next;
	}
	memset(c->bucket, 0, sizeof(c->bucket));
	c->all = NULL;
	c->n = c->ndirty = 0;
}

static unsigned mc_hash(const struct q2 *q, uint64_t off)
{
	return (unsigned)(((off >> 12) ^ (off >> q->cb)) & (MC_BUCKETS - 1));
}

static void mc_unlink(struct q2 *q, struct mcache *c, struct mtab *t)
{
	struct mtab **p = &c->bucket[mc_hash(q, t->off)];

	while (*p != t)
		p = &(*p)->hnext;
	*p = t->hnext;
	for (p = &c->all; *p != t; p = &(*p)->anext)
		;
	*p = t->anext;
	c->n--;
}

/* Drops the least recently used clean table while the cache is at its limit. */
static void mc_evict(struct q2 *q, struct mcache *c)
{
	while (c->n >= c->limit) {
		struct mtab *victim = NULL;
		for (struct mtab *t = c->all; t; t = t->anext)
			if (!t->dirty && (!victim || t->used < victim->used))
				victim = t;
		if (!victim)
			return; /* all dirty: grow past the limit until the next flush */
		mc_unlink(q, c, victim);
		core_free(victim);
	}
}

static void mc_mark_dirty(struct q2 *q, struct mcache *c, struct mtab *t)
{
	if (!t->dirty) {
		t->dirty = true;
		c->ndirty++;
	}
	/* bound the memory dirty metadata takes between the guest's flushes */
	if (q->l2c.ndirty + q->rbc.ndirty > q->l2c.limit + q->rbc.limit)
		disk_request_flush(q->im->d);
}

static void mc_mark_clean(struct mcache *c, struct mtab *t)
{
	if (t->dirty) {
		t->dirty = false;
		c->ndirty--;
	}
	t->fresh = false;
}

/*
 * The cached table at host offset `off` (already validated: aligned, past the header,
 * below QC_MAX_HOST), read from the file on a miss; with `fresh`, a new zeroed table
 * that is not read. 0, -EIO (past the end of the file) or -ENOMEM.
 */
static int mc_get(struct q2 *q, struct mcache *c, uint64_t off, bool fresh, struct mtab **out)
{
	unsigned h = mc_hash(q, off);
	struct mtab *t;
	int r;

	for (t = c->bucket[h]; t; t = t->hnext) {
		if (t->off == off) {
			t->used = ++c->tick;
			if (fresh) {
				/* only in a corrupt image: a cluster reused while cached */
				memset(t->data, 0, c->sz);
				t->fresh = true;
				mc_mark_dirty(q, c, t);
			}
			*out = t;
			return 0;
		}
	}
	mc_evict(q, c);
	t = core_alloc(sizeof(*t) + c->sz);
	if (!t)
		return -ENOMEM;
	t->off = off;
	t->dirty = false;
	t->fresh = fresh;
	if (fresh) {
		memset(t->data, 0, c->sz);
	} else {
		DISK_STAT_INC(q->im->d, meta_reads);
		r = disk_pread_full(q->im->fd, t->data, c->sz, off);
		if (r) {
			core_free(t);
			if (r == -EIO)
				return q2_corrupt(q,
						  "metadata cluster at 0x%llx is past the end of "
						  "the file",
						  (unsigned long long)off);
			disk_img_log(q->im, "reading metadata at 0x%llx: %s",
				     (unsigned long long)off, strerror(-r));
			return r;
		}
	}
	t->used = ++c->tick;
	t->hnext = c->bucket[h];
	c->bucket[h] = t;
	t->anext = c->all;
	c->all = t;
	c->n++;
	if (fresh)
		mc_mark_dirty(q, c, t);
	*out = t;
	return 0;
}

/* ---- Where the metadata is ---- */

/* The Q2_META_* kinds of what cluster idx holds: 0 for neither table. */
static unsigned meta_kinds(const struct q2 *q, uint64_t idx)
{
	size_t lo = 0, hi = q->nmeta;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t m = q->meta[mid] >> 2;

		if (m == idx)
			return (unsigned)(q->meta[mid] & 3);
		if (m < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Room for n more elements, so that recording a table made cannot fail. */
static int meta_reserve(struct q2 *q, size_t n)
{
	size_t cap = q->meta_cap ? q->meta_cap : 64;
	uint64_t *p;

	if (q->nmeta + n <= q->meta_cap)
		return 0;
	while (cap < q->nmeta + n)
		cap *= 2;
	p = core_realloc(q->meta, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	q->meta = p;
	q->meta_cap = cap;
	return 0;
}

/* Records a table at cluster idx (room reserved). New tables come from the allocator,
 * mostly past every other: the move is short. */
static void meta_insert(struct q2 *q, uint64_t idx, unsigned kind)
{
	size_t lo = 0, hi = q->nmeta;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (q->meta[mid] >> 2 < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < q->nmeta && q->meta[lo] >> 2 == idx) {
		q->meta[lo] |= kind;
		return;
	}
	memmove(q->meta + lo + 1, q->meta + lo, (q->nmeta - lo) * sizeof(*q->meta));
	q->meta[lo] = idx << 2 | kind;
	q->nmeta++;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * At open: the L2 tables the L1 table names and the refcount blocks `rt` (the refcount
 * table, q->rt_entries entries, host order) names. Entries that are not even a
 * plausible offset are left out: using them fails on its own (l1_lookup, rb_get).
 * 0 or -ENOMEM.
 */
int q2_meta_index(struct q2 *q, const uint64_t *rt)
{
	size_t n = 0, out = 0;
	int r;

	for (uint32_t i = 0; i < q->l1_size; i++) {
		uint64_t off = q->l1[i] & QC_OFF_MASK;
		n += off >= q->cs && !(off & (q->cs - 1));
	}
	for (uint64_t i = 0; i < q->rt_entries; i++)
		n += rt[i] >= q->cs && rt[i] < QC_MAX_HOST && !(rt[i] & (q->cs - 1));
	r = meta_reserve(q, n);
	if (r)
		return r;
	for (uint32_t i = 0; i < q->l1_size; i++) {
		uint64_t off = q->l1[i] & QC_OFF_MASK;
		if (off >= q->cs && !(off & (q->cs - 1)))
			q->meta[q->nmeta++] = off >> q->cb << 2 | Q2_META_L2;
	}
	for (uint64_t i = 0; i < q->rt_entries; i++)
		if (rt[i] >= q->cs && rt[i] < QC_MAX_HOST && !(rt[i] & (q->cs - 1)))
			q->meta[q->nmeta++] = rt[i] >> q->cb << 2 | Q2_META_RB;
	if (q->nmeta) /* (none: q->meta may be NULL, which qsort may not be given) */
		qsort(q->meta, q->nmeta, sizeof(*q->meta), cmp_u64);
	/* one element per cluster, with every kind it was named as */
	for (size_t i = 0; i < q->nmeta; i++) {
		if (out && q->meta[out - 1] >> 2 == q->meta[i] >> 2)
			q->meta[out - 1] |= q->meta[i] & 3;
		else
			q->meta[out++] = q->meta[i];
	}
	q->nmeta = out;
	return 0;
}

/*
 * What metadata cluster idx holds, as words for a message, or NULL: the header, the L1
 * or refcount table (or the one a move replaces, until a flush frees it), an L2 table
 * or a refcount block, but for the kinds in `but` (the caller's own kind).
 */
static const char *metadata_at(const struct q2 *q, uint64_t idx, unsigned but)
{
	uint64_t off = idx << q->cb;
	uint64_t l1_end = q->l1_off + (uint64_t)q->l1_size * 8;
	uint64_t rt_end = q->rt_off + (uint64_t)q->rt_clusters * q->cs;
	uint64_t old_end = q->old_rt_off + (uint64_t)q->old_rt_clusters * q->cs;
	unsigned k;

	if (idx == 0)
		return "the header";
	if (q->l1_size && off + q->cs > q->l1_off && off < l1_end)
		return "the L1 table";
	if ((off + q->cs > q->rt_off && off < rt_end) ||
	    (q->old_rt_clusters && off + q->cs > q->old_rt_off && off < old_end))
		return "the refcount table";
	k = meta_kinds(q, idx) & ~but;
	return k & Q2_META_RB ? "a refcount block" : k ? "an L2 table" : NULL;
}

/* ---- L1/L2 ---- */

int q2_classify(struct q2 *q, uint64_t entry, enum q2_kind *kind, uint64_t *host)
{
	const char *what;

	*host = 0;
	if (entry & QC_COMPRESSED) {
		*kind = Q2_COMPRESSED;
		return 0;
	}
	if (entry & QC_L2_RSVD)
		return q2_corrupt(q, "L2 entry 0x%llx has reserved bits set",
				  (unsigned long long)entry);
	*host = entry & QC_OFF_MASK;
	if (*host & (q->cs - 1))
		return q2_corrupt(q, "L2 entry 0x%llx is not cluster-aligned",
				  (unsigned long long)entry);
	/* a write through it would overwrite the image's own metadata, and freeing it (a
	 * preallocated zero cluster's too) would drop a table's refcount: QEMU's "overlap
	 * check" in spirit, for the active tables */
	what = *host ? metadata_at(q, *host >> q->cb, 0) : NULL;
	if (what)
		return q2_corrupt(q, "L2 entry 0x%llx points into %s", (unsigned long long)entry,
				  what);
	if (entry & QC_ZERO) {
		if (q->version < 3)
			return q2_corrupt(q, "zero flag in a version 2 image");
		*kind = Q2_ZERO;
		return 0;
	}
	if (!*host) {
		if (entry & QC_COPIED)
			return q2_corrupt(q, "L2 entry with offset 0 and the copied flag");
		*kind = Q2_UNALLOC;
		return 0;
	}
	if (*host >= q->host_top)
		return q2_corrupt(q, "L2 entry 0x%llx points past the end of the file",
				  (unsigned long long)entry);
	*kind = Q2_NORMAL;
	return 0;
}

int q2_compressed_span(struct q2 *q, uint64_t entry, uint64_t *off, uint64_t *len)
{
	unsigned x = 62 - (q->cb - 8);
	uint64_t nsect = ((entry >> x) & ((1ull << (q->cb - 8)) - 1)) + 1;

	*off = entry & ((1ull << x) - 1);
	*len = nsect * 512 - (*off & 511);
	if (*off < q->cs || *off + *len > QC_MAX_HOST)
		return q2_corrupt(q, "compressed cluster at 0x%llx is outside the file",
				  (unsigned long long)*off);
	return 0;
}

/* The L2 table offset for guest cluster vc (0: none). */
static int l1_lookup(struct q2 *q, uint64_t vc, uint64_t *l2off, bool *copied)
{
	uint64_t i = vc / q->l2_entries, e, off;
	const char *what;

	if (i >= q->l1_size)
		return q2_corrupt(q, "guest cluster %llu is beyond the L1 table",
				  (unsigned long long)vc);
	e = q->l1[i];
	if (e & QC_L1_RSVD)
		return q2_corrupt(q, "L1 entry %llu has reserved bits set", (unsigned long long)i);
	off = e & QC_OFF_MASK;
	if (off && (off & (q->cs - 1)))
		return q2_corrupt(q, "L1 entry %llu: bad L2 table offset 0x%llx",
				  (unsigned long long)i, (unsigned long long)off);
	/* an L2 table on other metadata: its entries would be taken from that, and a
	 * write would change it */
	if (off && off != q->l2_clear) {
		what = metadata_at(q, off >> q->cb, Q2_META_L2);
		if (what)
			return q2_corrupt(q, "L1 entry %llu: the L2 table at 0x%llx overlaps %s",
					  (unsigned long long)i, (unsigned long long)off, what);
		q->l2_clear = off;
	}
	*l2off = off;
	*copied = e & QC_COPIED;
	return 0;
}

/* True when vc's L2 table does not exist (a valid, empty L1 entry). */
bool q2_l2_absent(struct q2 *q, uint64_t vc)
{
	uint64_t i = vc / q->l2_entries;

	return i < q->l1_size && q->l1[i] == 0;
}

/* Where vc's L2 entry is: the slice's offset in its table, the entry's in the slice. */
static uint64_t slice_of(const struct q2 *q, uint64_t vc)
{
	return (vc % q->l2_entries) * 8 / q->l2c.sz * q->l2c.sz;
}

static size_t in_slice(const struct q2 *q, uint64_t vc)
{
	return (size_t)((vc % q->l2_entries) * 8 % q->l2c.sz);
}

/* A new L2 table at `off`: zeros on disk first, for the slices never cached, and any
 * slice of it still cached (only in a corrupt image: a cluster reused) zeroed too. */
static int l2_zero_table(struct q2 *q, uint64_t off)
{
	static const uint8_t small[Q2_L2_SLICE];
	/* the disk's shared zero buffer: one write for the table, not one per 4 KiB */
	const uint8_t *zeros = disk_zero_buf(q->im->d, (size_t)q->cs);
	size_t zlen = zeros ? (size_t)(q->cs < (1u << 20) ? q->cs : 1u << 20) : sizeof(small);
	int r = 0;

	if (!zeros)
		zeros = small;
	for (uint64_t s = 0; s < q->cs; s += q->l2c.sz) {
		struct mtab *t;
		for (t = q->l2c.bucket[mc_hash(q, off + s)]; t && t->off != off + s; t = t->hnext)
			;
		if (t) {
			memset(t->data, 0, q->l2c.sz);
			mc_mark_dirty(q, &q->l2c, t);
		}
	}
	for (uint64_t s = 0; s < q->cs && !r; s += zlen) {
		DISK_STAT_INC(q->im->d, meta_writes);
		r = disk_pwrite_full(q->im->fd, zeros,
				     q->cs - s < zlen ? (size_t)(q->cs - s) : zlen, off + s);
	}
	if (r)
		disk_img_log(q->im, "zeroing a new L2 table at 0x%llx: %s", (unsigned long long)off,
			     strerror(-r));
	return r;
}

int q2_l2_entry(struct q2 *q, uint64_t vc, uint64_t *entry)
{
	uint64_t off;
	bool copied;
	struct mtab *t;
	int r = l1_lookup(q, vc, &off, &copied);

	if (r)
		return r;
	if (!off) {
		*entry = 0;
		return 0;
	}
	r = mc_get(q, &q->l2c, off + slice_of(q, vc), false, &t);
	if (r)
		return r;
	*entry = be64_get(t->data + in_slice(q, vc));
	return 0;
}

/* The L2 table for vc, allocating a new one when the L1 entry is empty. */
static int l2_table_for_write(struct q2 *q, uint64_t vc, struct mtab **out)
{
	uint64_t off, i = vc / q->l2_entries;
	bool copied;
	int r = l1_lookup(q, vc, &off, &copied);

	if (r)
		return r;
	if (off && !copied)
		return q2_corrupt(q, "L2 table at 0x%llx is shared (internal snapshots?)",
				  (unsigned long long)off);
	if (off)
		return mc_get(q, &q->l2c, off + slice_of(q, vc), false, out);
	r = q2_alloc_cluster(q, &off);
	if (r)
		return r;
	r = meta_reserve(q, 1);
	if (!r)
		r = l2_zero_table(q, off);
	if (!r)
		r = mc_get(q, &q->l2c, off + slice_of(q, vc), true, out);
	if (r) {
		q2_free_now(q, off);
		return r;
	}
	meta_insert(q, off >> q->cb, Q2_META_L2);
	q->l1[i] = off | QC_COPIED;
	if (q->l1_dirty_lo == q->l1_dirty_hi) {
		q->l1_dirty_lo = (uint32_t)i;
		q->l1_dirty_hi = (uint32_t)i + 1;
	} else if (i < q->l1_dirty_lo) {
		q->l1_dirty_lo = (uint32_t)i;
	} else if (i >= q->l1_dirty_hi) {
		q->l1_dirty_hi = (uint32_t)i + 1;
	}
	return 0;
}

int q2_l2_prepare(struct q2 *q, uint64_t vc)
{
	struct mtab *t;

	return l2_table_for_write(q, vc, &t);
}

int q2_l2_set(struct q2 *q, uint64_t vc, uint64_t entry)
{
	struct mtab *t;
	int r = l2_table_for_write(q, vc, &t);

	if (r)
		return r;
	be64_put(t->data + in_slice(q, vc), entry);
	mc_mark_dirty(q, &q->l2c, t);
	return 0;
}

/* ---- Refcounts ---- */

static uint64_t rc_get(const struct q2 *q, const uint8_t *b, uint64_t i)
{
	switch (q->rc_order) {
	case 3:
		return b[i];
	case 4:
		return be16_get(b + i * 2);
	case 5:
		return be32_get(b + i * 4);
	case 6:
		return be64_get(b + i * 8);
	default: {
		/* sub-byte widths: entry 0 in the least significant bits */
		unsigned bits = 1u << q->rc_order;
		unsigned shift = (unsigned)(i * bits % 8);
		return (uint64_t)(b[i * bits / 8] >> shift) & ((1u << bits) - 1);
	}
	}
}

static void rc_put(const struct q2 *q, uint8_t *b, uint64_t i, uint64_t v)
{
	switch (q->rc_order) {
	case 3:
		b[i] = (uint8_t)v;
		break;
	case 4:
		be16_put(b + i * 2, (uint16_t)v);
		break;
	case 5:
		be32_put(b + i * 4, (uint32_t)v);
		break;
	case 6:
		be64_put(b + i * 8, v);
		break;
	default: {
		unsigned bits = 1u << q->rc_order;
		unsigned shift = (unsigned)(i * bits % 8);
		unsigned mask = ((1u << bits) - 1) << shift;
		uint8_t *p = &b[i * bits / 8];
		*p = (uint8_t)((*p & ~mask) | ((unsigned)v << shift & mask));
		break;
	}
	}
}

/* The refcount block covering block index bi, or NULL in *out when there is none. */
static int rb_get(struct q2 *q, uint64_t bi, struct mtab **out)
{
	uint64_t e, off;
	const char *what;

	*out = NULL;
	if (!q->rt)
		return -EROFS; /* read-only: the table was never loaded (q2_open) */
	if (bi >= q->rt_entries)
		return 0;
	e = q->rt[bi];
	if (e & QC_RT_RSVD)
		return q2_corrupt(q, "refcount table entry %llu has reserved bits set",
				  (unsigned long long)bi);
	off = e;
	if (!off)
		return 0;
	if ((off & (q->cs - 1)) || off < q->cs || off >= QC_MAX_HOST)
		return q2_corrupt(q, "refcount block offset 0x%llx is invalid",
				  (unsigned long long)off);
	/* refcount updates would change that other table */
	what = metadata_at(q, off >> q->cb, Q2_META_RB);
	if (what)
		return q2_corrupt(q, "refcount block at 0x%llx overlaps %s",
				  (unsigned long long)off, what);
	return mc_get(q, &q->rbc, off, false, out);
}

/* Adds delta (+1 or -1) to the refcount of cluster idx, whose block must exist. */
static int rc_add(struct q2 *q, uint64_t idx, int delta)
{
	struct mtab *t;
	uint64_t i = idx % q->rb_entries, v;
	int r = rb_get(q, idx / q->rb_entries, &t);

	if (r)
		return r;
	if (!t)
		return q2_corrupt(q, "cluster %llu has no refcount block", (unsigned long long)idx);
	v = rc_get(q, t->data, i);
	if ((delta < 0 && v == 0) || (delta > 0 && v == q->rc_max))
		return q2_corrupt(q, "refcount of cluster %llu would %s", (unsigned long long)idx,
				  delta < 0 ? "drop below 0" : "overflow");
	rc_put(q, t->data, i, delta < 0 ? v - 1 : v + 1);
	mc_mark_dirty(q, &q->rbc, t);
	return 0;
}

/*
 * The refcount table has no room for block bi (cluster `start` and everything after it
 * is beyond what the table covers, so free): place a larger table at `start`, followed
 * by refcount blocks for the clusters the table and those blocks occupy. The header
 * points to it after the next flush's first phase. *next: the first cluster after them.
 */
static int grow_refcount_table(struct q2 *q, uint64_t start, uint64_t *next)
{
	uint64_t entries = q->rt_entries * 2, nt, nb = 0, end, first_b = start / q->rb_entries;
	uint64_t last_b, *nrt;

	for (;;) {
		nt = (entries * 8 + q->cs - 1) / q->cs;
		end = start + nt + nb;
		last_b = (end - 1) / q->rb_entries;
		if (last_b >= entries) {
			entries = last_b + 1;
			continue;
		}
		if (last_b - first_b + 1 == nb)
			break;
		nb = last_b - first_b + 1;
	}
	if (nt * q->cs > QC_MAX_RT || (end << q->cb) > QC_MAX_HOST) {
		disk_img_log(q->im, "image full: the refcount table cannot grow past %u MiB",
			     QC_MAX_RT >> 20);
		return -ENOSPC;
	}
	/* clusters beyond what the table covers have no refcount: holding metadata, they
	 * are a corrupt image's */
	for (uint64_t c = start; c < end; c++)
		if (metadata_at(q, c, 0))
			return q2_corrupt(q, "metadata cluster %llu has no refcount block",
					  (unsigned long long)c);
	if (meta_reserve(q, (size_t)nb))
		return -ENOMEM;
	nrt = core_calloc((size_t)(nt * q->cs / 8), 8);
	if (!nrt)
		return -ENOMEM;
	memcpy(nrt, q->rt, (size_t)q->rt_entries * 8);
	for (uint64_t b = first_b; b <= last_b; b++) {
		struct mtab *t;
		uint64_t off = (start + nt + (b - first_b)) << q->cb;
		int r = mc_get(q, &q->rbc, off, true, &t);
		if (r) {
			core_free(nrt);
			return r; /* blocks made so far are unreferenced: only memory */
		}
		nrt[b] = off;
	}
	for (uint64_t b = first_b; b <= last_b; b++)
		meta_insert(q, nrt[b] >> q->cb, Q2_META_RB);
	if (q->rt_moved) {
		/* the current table never reached the header: its clusters are free now */
		for (uint64_t c = 0; c < q->rt_clusters; c++)
			q2_free_now(q, q->rt_off + (c << q->cb));
	} else {
		q->old_rt_off = q->rt_off;
		q->old_rt_clusters = q->rt_clusters;
	}
	core_free(q->rt);
	q->rt = nrt;
	q->rt_entries = nt * q->cs / 8;
	q->rt_off = start << q->cb;
	q->rt_clusters = (uint32_t)nt;
	q->rt_moved = true;
	for (uint64_t c = start; c < end; c++) {
		int r = rc_add(q, c, +1);
		if (r)
			return r;
	}
	*next = end;
	return 0;
}

/* Block bi does not exist: make one at cluster idx (inside its own range, free). */
static int new_refcount_block(struct q2 *q, uint64_t bi, uint64_t idx)
{
	struct mtab *t;
	int r;

	if (metadata_at(q, idx, 0))
		return q2_corrupt(q, "metadata cluster %llu has no refcount block",
				  (unsigned long long)idx);
	r = meta_reserve(q, 1);
	if (!r)
		r = mc_get(q, &q->rbc, idx << q->cb, true, &t);
	if (r)
		return r;
	meta_insert(q, idx, Q2_META_RB);
	rc_put(q, t->data, idx % q->rb_entries, 1);
	q->rt[bi] = idx << q->cb;
	q->rt_dirty = true;
	return 0;
}

int q2_alloc_cluster(struct q2 *q, uint64_t *host)
{
	const uint64_t max = QC_MAX_HOST >> q->cb;
	uint64_t idx = q->free_hint;

	if (!q->rt)
		return -EROFS; /* read-only image: no refcount table loaded */
	while (idx < max) {
		uint64_t bi = idx / q->rb_entries, i = idx % q->rb_entries;
		struct mtab *t;
		int r;

		if (bi >= q->rt_entries) {
			r = grow_refcount_table(q, idx, &idx);
			if (r)
				return r;
			continue;
		}
		r = rb_get(q, bi, &t);
		if (r)
			return r;
		if (!t) {
			r = new_refcount_block(q, bi, idx);
			if (r)
				return r;
			idx++;
			continue;
		}
		for (; i < q->rb_entries; i++, idx++) {
			if (rc_get(q, t->data, i))
				continue;
			if (metadata_at(q, idx, 0) || (idx << q->cb) == t->off)
				return q2_corrupt(q, "metadata cluster %llu has refcount 0",
						  (unsigned long long)idx);
			rc_put(q, t->data, i, 1);
			mc_mark_dirty(q, &q->rbc, t);
			q->free_hint = idx + 1;
			*host = idx << q->cb;
			if (*host + q->cs > q->host_top)
				q->host_top = *host + q->cs;
			DISK_STAT_INC(q->im->d, clusters);
			return 0;
		}
	}
	disk_img_log(q->im, "image full: no cluster free below 64 PiB");
	return -ENOSPC;
}

void q2_free_now(struct q2 *q, uint64_t host)
{
	uint64_t idx = host >> q->cb;

	if (rc_add(q, idx, -1) == 0 && idx < q->free_hint)
		q->free_hint = idx;
}

static void free_cluster_later(struct q2 *q, uint64_t idx)
{
	if (q->npfree == q->pfree_cap) {
		size_t cap = q->pfree_cap ? q->pfree_cap * 2 : 64;
		uint64_t *p = core_realloc(q->pfree, cap * sizeof(*p));
		if (!p) {
			disk_img_log(q->im, "out of memory: cluster %llu leaks",
				     (unsigned long long)idx);
			return;
		}
		q->pfree = p;
		q->pfree_cap = cap;
	}
	q->pfree[q->npfree++] = idx;
}

void q2_free_later(struct q2 *q, uint64_t entry)
{
	enum q2_kind kind;
	uint64_t host, off, len;

	if (entry & QC_COMPRESSED) {
		/* every cluster the compressed bytes touch holds one reference */
		if (q2_compressed_span(q, entry, &off, &len))
			return;
		len += off & 511; /* whole sectors from the one holding the offset */
		off &= ~511ull;
		for (uint64_t c = off >> q->cb; c <= (off + len - 1) >> q->cb; c++) {
			/* its refcount is the table's, not this entry's */
			const char *what = metadata_at(q, c, 0);
			if (what) {
				q2_corrupt(q, "compressed cluster at 0x%llx overlaps %s",
					   (unsigned long long)off, what);
				return;
			}
		}
		for (uint64_t c = off >> q->cb; c <= (off + len - 1) >> q->cb; c++)
			free_cluster_later(q, c);
		return;
	}
	if (q2_classify(q, entry, &kind, &host) == 0 && host)
		free_cluster_later(q, host >> q->cb);
}

/* ---- Flush ---- */

static int write_table(struct q2 *q, struct mcache *c, struct mtab *t)
{
	int r;

	DISK_STAT_INC(q->im->d, meta_writes);
	r = disk_pwrite_full(q->im->fd, t->data, c->sz, t->off);
	if (r) {
		disk_img_log(q->im, "writing metadata at 0x%llx: %s", (unsigned long long)t->off,
			     strerror(-r));
		return r;
	}
	mc_mark_clean(c, t);
	return 0;
}

/* Writes a host-order table of n entries as big-endian at off. */
static int write_be_table(struct q2 *q, const uint64_t *v, uint64_t n, uint64_t off)
{
	size_t bytes = (size_t)(n * 8);
	uint8_t *buf = core_alloc(bytes ? bytes : 1);
	int r;

	if (!buf)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++)
		be64_put(buf + i * 8, v[i]);
	DISK_STAT_INC(q->im->d, meta_writes);
	r = disk_pwrite_full(q->im->fd, buf, bytes, off);
	core_free(buf);
	if (r)
		disk_img_log(q->im, "writing a table at 0x%llx: %s", (unsigned long long)off,
			     strerror(-r));
	return r;
}

static int phase1_write(struct q2 *q)
{
	int r = 0;

	for (struct mtab *t = q->rbc.all; t && !r; t = t->anext)
		if (t->dirty)
			r = write_table(q, &q->rbc, t);
	for (struct mtab *t = q->l2c.all; t && !r; t = t->anext)
		if (t->fresh)
			r = write_table(q, &q->l2c, t);
	if (!r && q->rt_moved)
		r = write_be_table(q, q->rt, q->rt_entries, q->rt_off);
	return r;
}

/* Returns 1 when something was written (an fsync must follow), 0, or -errno. */
static int phase2_write(struct q2 *q)
{
	uint8_t h[12];
	int r;

	if (q->rt_moved) {
		be64_put(h, q->rt_off);
		be32_put(h + 8, q->rt_clusters);
		DISK_STAT_INC(q->im->d, meta_writes);
		r = disk_pwrite_full(q->im->fd, h, sizeof(h), 48);
		if (r) {
			disk_img_log(q->im, "writing the header: %s", strerror(-r));
			return r;
		}
		q->rt_moved = q->rt_dirty = false;
		for (uint64_t c = 0; c < q->old_rt_clusters; c++)
			free_cluster_later(q, (q->old_rt_off >> q->cb) + c);
		q->old_rt_clusters = 0;
		return 1;
	}
	if (q->rt_dirty) {
		r = write_be_table(q, q->rt, q->rt_entries, q->rt_off);
		if (r)
			return r;
		q->rt_dirty = false;
		return 1;
	}
	return 0;
}

static int phase3_write(struct q2 *q)
{
	int r = 0, wrote = 0;

	for (struct mtab *t = q->l2c.all; t && !r; t = t->anext) {
		if (t->dirty) {
			r = write_table(q, &q->l2c, t);
			wrote = 1;
		}
	}
	if (!r && q->l1_dirty_hi > q->l1_dirty_lo) {
		uint32_t lo = q->l1_dirty_lo;
		r = write_be_table(q, q->l1 + lo, q->l1_dirty_hi - lo,
				   q->l1_off + (uint64_t)lo * 8);
		q->l1_dirty_lo = q->l1_dirty_hi = 0;
		wrote = 1;
	}
	return r ? r : wrote;
}

static void apply_frees(struct q2 *q)
{
	for (size_t i = 0; i < q->npfree; i++)
		q2_free_now(q, q->pfree[i] << q->cb);
	q->npfree = 0;
}

static void flush_step(struct aio *a);

/* Ends the flush: on error the metadata on disk is in an unknown state. */
static void flush_end(struct q2 *q, int res)
{
	struct aio *parent = q->fl_parent;

	if (res) {
		q->broken = true;
		disk_img_log(q->im, "flush failed (%s): further writes are refused",
			     strerror(-res));
	}
	q->fl_parent = NULL;
	aio_put(parent, res);
}

/* Runs phases from q->fl_phase until one starts an fsync (or all are done). */
static void flush_run(struct q2 *q)
{
	int r;

	for (;;) {
		switch (q->fl_phase++) {
		case 1:
			r = phase1_write(q);
			if (r)
				break;
			r = 1; /* always: the data of completed writes */
			break;
		case 2:
			r = phase2_write(q);
			break;
		case 3:
			r = phase3_write(q);
			break;
		default:
			apply_frees(q);
			flush_end(q, 0);
			return;
		}
		if (r < 0) {
			flush_end(q, r);
			return;
		}
		if (r > 0) {
			aio_init(&q->fl, flush_step);
			disk_io_fsync(q->im, &q->fl);
			aio_put(&q->fl, 0);
			return;
		}
	}
}

static void flush_step(struct aio *a)
{
	struct q2 *q = container_of(a, struct q2, fl);

	if (a->result) {
		disk_img_log(q->im, "fdatasync: %s", strerror(-a->result));
		flush_end(q, a->result);
		return;
	}
	flush_run(q);
}

void q2_flush(struct img *im, struct aio *parent)
{
	struct q2 *q = im->fmt;

	if (q->broken) {
		aio_error(parent, -EIO);
		return;
	}
	aio_get(parent);
	q->fl_parent = parent;
	q->fl_phase = 1;
	flush_run(q);
}

void q2_meta_close(struct q2 *q)
{
	bool dirty = false;
	int r = 0;

	/* after the final flush only refcount blocks (frees applied at its end) are dirty */
	if (!q->im->readonly && !q->broken) {
		for (struct mtab *t = q->rbc.all; t && !r; t = t->anext) {
			if (t->dirty) {
				r = write_table(q, &q->rbc, t);
				dirty = true;
			}
		}
		if (!r && dirty && fdatasync(q->im->fd))
			r = -errno;
		if (r)
			disk_img_log(q->im, "writing refcounts at close: %s (clusters leak)",
				     strerror(-r));
	}
	q2_cache_fini(&q->l2c);
	q2_cache_fini(&q->rbc);
	core_free(q->l1);
	core_free(q->rt);
	core_free(q->pfree);
	core_free(q->meta);
}
