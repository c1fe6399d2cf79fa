/*
 * Private to the qcow2 driver: on-disk constants (qemu's docs/interop/qcow2.txt), the
 * driver's state, and the functions its three files share:
 *   qcow2.c       header validation, open/activate/close, the ops table
 *   qcow2_meta.c  the metadata cache, L1/L2 lookup, refcounts, cluster allocation and the
 *                 phased flush that writes metadata in a crash-safe order
 *   qcow2_io.c    reads (incl. compressed clusters), writes with copy-on-write, zeroing
 *
 * Invariants: the L1 and refcount tables are in memory (host byte order), whole; L2
 * tables and refcount blocks are cached clusters in file byte order. Metadata changes
 * stay in memory until a flush; dirty tables are never evicted. A cluster whose last
 * reference is dropped is only returned to the free pool once the flush that made the
 * dropping durable has finished (q->pfree), so it cannot be reused while an older L2
 * entry on disk still points to it.
 */
#ifndef LODGE_DISK_QCOW2_H
#define LODGE_DISK_QCOW2_H

#include "disk/internal.h"

#include <stdbool.h>
#include <stdint.h>

#define QC_MAGIC      0x514649fbu /* "QFI\xfb" */
#define QC_V2_HDR_LEN 72
#define QC_V3_HDR_LEN 104

#define QC_COPIED	 (1ull << 63)	       /* L1/L2: refcount is exactly 1 */
#define QC_COMPRESSED	 (1ull << 62)	       /* L2: compressed cluster descriptor */
#define QC_ZERO		 1ull		       /* L2 (v3): reads as zeroes */
#define QC_OFF_MASK	 0x00fffffffffffe00ull /* bits 9-55: host offset */
#define QC_L1_RSVD	 0x7f000000000001ffull /* bits 0-8 and 56-62 */
#define QC_L2_RSVD	 0x3f000000000001feull /* bits 1-8 and 56-61 (standard) */
#define QC_RT_RSVD	 0x1ffull
#define QC_MAX_HOST	 (1ull << 56) /* host offsets must stay below this */
#define QC_MAX_L1	 (32u << 20)  /* qemu's limit on the L1 table, bytes */
#define QC_MAX_RT	 (8u << 20)   /* qemu's limit on the refcount table, bytes */
#define QC_MAX_SNAPSHOTS 65536

#define QC_INCOMPAT_DIRTY    (1ull << 0)
#define QC_INCOMPAT_CORRUPT  (1ull << 1)
#define QC_INCOMPAT_DATAFILE (1ull << 2)
#define QC_INCOMPAT_COMPRESS (1ull << 3)
#define QC_INCOMPAT_EXTL2    (1ull << 4)
/* the incompatible features this driver implements */
#define QC_INCOMPAT_KNOWN (QC_INCOMPAT_DIRTY | QC_INCOMPAT_CORRUPT | QC_INCOMPAT_COMPRESS)

#define QC_EXT_END	      0x00000000u
#define QC_EXT_BACKING_FORMAT 0xe2792acau
#define QC_EXT_FEATURE_NAMES  0x6803f857u

#define QC_CTYPE_ZLIB 0
#define QC_CTYPE_ZSTD 1

/* One cached piece of metadata: a refcount block, or a slice of an L2 table (Q2_L2_SLICE
 * bytes, or the cluster when that is smaller: a boot reads a few entries of each table,
 * and a whole 64 KiB table per lookup was most of a disk's memory). */
struct mtab {
	struct mtab *hnext; /* hash chain */
	struct mtab *anext; /* every table of the cache */
	uint64_t off;	    /* host offset */
	uint64_t used;	    /* LRU tick */
	bool dirty;	    /* differs from the file */
	bool fresh;	    /* newly allocated: nothing on disk points to it yet */
	uint8_t data[];	    /* mcache.sz bytes, file byte order */
};

#define MC_BUCKETS 256

struct mcache {
	struct mtab *bucket[MC_BUCKETS];
	struct mtab *all;
	unsigned n, limit, ndirty;
	uint32_t sz; /* bytes per table */
	uint64_t tick;
};

#define Q2_L2_SLICE 4096u

struct q2_alloc;

struct q2 {
	struct img *im;
	uint32_t version;
	unsigned cb;	     /* cluster bits */
	uint64_t cs;	     /* cluster size */
	uint64_t l2_entries; /* entries per L2 table */
	uint64_t incompat, autoclear;
	uint32_t hdr_len;
	uint32_t ctype;
	uint32_t nb_snapshots;
	uint64_t file_size; /* at open */
	/* where a data cluster may start below: the file's end at open (a cluster rounded
	 * up) or past the last cluster allocated since; an L2 entry at or past it is corrupt
	 * (a write there would grow the file to wherever a hostile image says) */
	uint64_t host_top;
	/* Where the L2 tables and refcount blocks are: one element per cluster that holds
	 * any, cluster index << 2 | its Q2_META_* kinds, sorted (binary search on every
	 * guest I/O: a data cluster must not be one of them). Built at open from the L1 and
	 * refcount tables; new tables are added as they are allocated, none is ever freed. */
	uint64_t *meta;
	size_t nmeta, meta_cap;
	/* the last L2 table found clear of other metadata (0: none): requests in a row use
	 * one table, and what a table overlaps cannot change (tables allocated later take
	 * clusters outside `meta`) */
	uint64_t l2_clear;

	uint64_t *l1;
	uint32_t l1_size;
	uint64_t l1_off;
	uint32_t l1_dirty_lo, l1_dirty_hi; /* entries changed since the last flush */

	uint64_t *rt;
	uint64_t rt_entries;
	uint64_t rt_off;
	uint32_t rt_clusters;
	bool rt_dirty; /* entries changed in place: rewrite before the L2 tables */
	bool rt_moved; /* a new table not yet in the header */
	uint64_t old_rt_off;
	uint32_t old_rt_clusters;
	unsigned rc_order;
	uint64_t rb_entries; /* refcounts per block */
	uint64_t rc_max;

	struct mcache l2c, rbc;
	uint64_t free_hint; /* no free cluster below this index */
	uint64_t *pfree;    /* cluster indexes to free after the next flush */
	size_t npfree, pfree_cap;
	struct q2_alloc *allocs; /* cluster allocations in flight */
	bool broken;		 /* metadata state unknown: refuse further writes */

	void *zs; /* z_stream, created on first use */
	void *zd; /* ZSTD_DCtx */
	/* the last compressed cluster decompressed (4 KiB reads hit it 16 times) */
	uint8_t *dc_buf;
	uint64_t dc_entry;
	bool dc_valid;

	/* flush in progress */
	struct aio fl;
	struct aio *fl_parent;
	int fl_phase;
};

#define Q2_META_L2 1u /* an L2 table */
#define Q2_META_RB 2u /* a refcount block */

/* Kinds of L2 entry. */
enum q2_kind { Q2_UNALLOC, Q2_ZERO, Q2_NORMAL, Q2_COMPRESSED };

/* qcow2_meta.c */
void q2_cache_init(struct mcache *c, unsigned limit, uint32_t sz);
void q2_cache_fini(struct mcache *c);
int q2_corrupt(struct q2 *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int q2_meta_index(struct q2 *q, const uint64_t *rt);
int q2_classify(struct q2 *q, uint64_t entry, enum q2_kind *kind, uint64_t *host);
int q2_compressed_span(struct q2 *q, uint64_t entry, uint64_t *off, uint64_t *len);
int q2_l2_entry(struct q2 *q, uint64_t vc, uint64_t *entry);
bool q2_l2_absent(struct q2 *q, uint64_t vc);
int q2_l2_set(struct q2 *q, uint64_t vc, uint64_t entry);
int q2_l2_prepare(struct q2 *q, uint64_t vc);
int q2_alloc_cluster(struct q2 *q, uint64_t *host);
void q2_free_now(struct q2 *q, uint64_t host);
void q2_free_later(struct q2 *q, uint64_t entry);
void q2_flush(struct img *im, struct aio *parent);
void q2_meta_close(struct q2 *q);

/* qcow2_io.c */
void q2_read(struct img *im, uint64_t off, const struct iovec *iov, unsigned iovcnt, size_t skip,
	     uint64_t len, struct aio *parent);
void q2_write(struct img *im, uint64_t off, const struct iovec *iov, unsigned iovcnt, size_t skip,
	      uint64_t len, struct aio *parent);
void q2_zero(struct img *im, uint64_t off, uint64_t len, bool discard, struct aio *parent);
void q2_io_close(struct q2 *q);

#endif
