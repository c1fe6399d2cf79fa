/*
 * Pre-copy of a Wasm program's linear memory (see wasm/precopy.h).
 *
 * Tracking: a userfaultfd with UFFD_FEATURE_WP_ASYNC covers the memory's whole mapping
 * (a guard region's reservation included: its pages become accessible as the memory
 * grows, and stay registered). A write to a write-protected page is let through by the
 * kernel at once (no fault reaches us), clearing the page's protection; PAGEMAP_SCAN
 * with PM_SCAN_WP_MATCHING reports the unprotected ones (PAGE_IS_WRITTEN) and protects
 * them again. Pages never touched and pages the kernel wrote (WASI's fd_read) count as
 * written too, so nothing is missed; at worst a page goes twice.
 *
 * memory.grow of a memory without a guard region may move it (mremap) while a round
 * reads it on this thread: pages are then read through /proc/self/mem, which fails
 * (EIO) where nothing is mapped instead of crashing, and a moved or grown memory makes every
 * page dirty again (a moved mapping loses its registration: it is registered anew).
 * The round that runs with the program parked sees the memory still and reads it in
 * place.
 */
#include "wasm/precopy.h"

#include "core/alloc.h"
#include "core/pagemap.h"
#include "core/sbuf.h"
#include "snapshot/snapshot.h"
#include "wasm/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BATCH	   256 /* pages per PAGES section (SNAP_STREAM_PAGES_MAX) */
#define ZERO_BIT   (1ull << 63)
#define NREGIONS   512
#define PAGE	   SNAP_PAGE_SIZE
#define MAX_MEMORY (16ull << 30) /* the largest memory tracked: a 4 GiB memory32, memory64 */

static int pagemap_fd = -1, mem_fd = -1;

static int open_at_least(const char *path, int min_fd)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), hi;

	if (fd < 0 || fd >= min_fd)
		return fd;
	hi = fcntl(fd, F_DUPFD_CLOEXEC, min_fd);
	close(fd);
	return hi;
}

void wasm_precopy_preopen(int min_fd)
{
	if (pagemap_fd < 0)
		pagemap_fd = open_at_least("/proc/self/pagemap", min_fd);
	if (mem_fd < 0)
		mem_fd = open_at_least("/proc/self/mem", min_fd);
}

struct wasm_precopy {
	struct wasm_memory *mem;
	int uffd;
	uint8_t *base;	 /* the mapping registered */
	size_t reserved; /* its length */
	uint64_t size;	 /* the memory's size at the last round */
	uint64_t *dirty; /* a bit per page of MAX_MEMORY: still to send */
	bool first;	 /* no round yet: zero pages need not go */
	struct sbuf batch;
	unsigned count;		 /* pages in batch */
	wasm_precopy_put_fn put; /* where this round's sections go */
	void *put_ctx;
	uint64_t bytes;
	struct page_region vec[NREGIONS];
	uint8_t page[PAGE];
};

static int reg(struct wasm_precopy *t, uint8_t *base, size_t len)
{
	struct uffdio_register r = {.range = {(uintptr_t)base, len},
				    .mode = UFFDIO_REGISTER_MODE_WP};

	if (ioctl(t->uffd, UFFDIO_REGISTER, &r) < 0)
		return -errno;
	t->base = base;
	t->reserved = len;
	return 0;
}

static void unreg(struct wasm_precopy *t)
{
	struct uffdio_range r = {(uintptr_t)t->base, t->reserved};

	if (t->base)
		(void)ioctl(t->uffd, UFFDIO_UNREGISTER, &r);
	t->base = NULL;
}

static void mark(uint64_t *bits, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to; i++)
		bits[i / 64] |= 1ull << (i % 64);
}

int wasm_precopy_start(struct wasm_instance *inst, struct wasm_precopy **out, char *err,
		       size_t errlen)
{
	struct uffdio_api api = {.api = UFFD_API,
				 .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
	struct wasm_memory *m = inst->mem0;
	struct wasm_precopy *t;
	int r;

	wasm_precopy_preopen(0);
	if (pagemap_fd < 0 || mem_fd < 0) {
		snprintf(err, errlen, "cannot track the program's memory writes: /proc/self/%s: %s",
			 pagemap_fd < 0 ? "pagemap" : "mem", strerror(errno));
		return -EOPNOTSUPP;
	}
	if (m && m->size > MAX_MEMORY) {
		snprintf(err, errlen, "a memory over %llu GiB cannot be pre-copied",
			 MAX_MEMORY >> 30);
		return -EOPNOTSUPP;
	}
	t = core_calloc(1, sizeof(*t));
	if (t)
		t->dirty = core_calloc(MAX_MEMORY / PAGE / 64, sizeof(uint64_t));
	if (!t || !t->dirty) {
		if (t)
			core_free(t);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->mem = m;
	t->first = true;
	sbuf_put_u32(&t->batch, 0);
	/* kernel accesses too where allowed; else user mode only, which write-protect in
	 * asynchronous mode does not need (the kernel resolves those faults itself) */
	t->uffd = snap_userfaultfd(false, &api);
	if (t->uffd < 0) {
		r = t->uffd;
		snprintf(err, errlen,
			 "cannot track the program's memory writes: userfaultfd(2) with "
			 "asynchronous write-protect (Linux 6.7): %s",
			 strerror(-r));
		wasm_precopy_stop(t);
		return -EOPNOTSUPP;
	}
	if (m && m->reserved) {
		r = reg(t, m->base, m->reserved);
		if (r) {
			snprintf(err, errlen,
				 "cannot track the program's memory writes: registering its "
				 "memory: %s",
				 strerror(-r));
			wasm_precopy_stop(t);
			return -EOPNOTSUPP;
		}
	}
	*out = t;
	return 0;
}

static int put_fd(void *ctx, uint32_t type, const void *p, size_t len)
{
	return snap_stream_put(*(const int *)ctx, type, p, len);
}

static int flush(struct wasm_precopy *t)
{
	int r;

	if (!t->count)
		return 0;
	for (unsigned i = 0; i < 4; i++)
		t->batch.data[i] = (uint8_t)(t->count >> (8 * i));
	r = t->batch.err ?: t->put(t->put_ctx, SNAP_SEC_PAGES, t->batch.data, t->batch.len);
	t->bytes += t->batch.len + 24;
	t->batch.len = 0;
	sbuf_put_u32(&t->batch, 0);
	t->count = 0;
	return r;
}

/* Asks the kernel for the pages written in [0, size) and protects them again. */
static int scan(struct wasm_precopy *t, uint64_t size)
{
	uint64_t start = (uintptr_t)t->base, end = start + size;

	while (start < end) {
		struct pm_scan_arg a = {.size = sizeof(a),
					.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
					.start = start,
					.end = end,
					.vec = (uintptr_t)t->vec,
					.vec_len = NREGIONS,
					.category_mask = PAGE_IS_WRITTEN,
					.return_mask = PAGE_IS_WRITTEN};
		long n = ioctl(pagemap_fd, PAGEMAP_SCAN, &a);
		if (n < 0)
			return -errno;
		for (long i = 0; i < n; i++)
			mark(t->dirty, (t->vec[i].start - (uintptr_t)t->base) / PAGE,
			     (t->vec[i].end - (uintptr_t)t->base + PAGE - 1) / PAGE);
		if (a.walk_end <= start)
			return -EIO;
		start = a.walk_end;
	}
	return 0;
}

static bool all_zero(const uint8_t *p)
{
	static const uint8_t zero[256];

	for (unsigned i = 0; i < PAGE; i += sizeof(zero))
		if (memcmp(p + i, zero, sizeof(zero)))
			return false;
	return true;
}

int wasm_precopy_round(struct wasm_precopy *t, int fd, bool parked, uint64_t *pages)
{
	return wasm_precopy_round_to(t, put_fd, &fd, parked, pages);
}

/* A round's bookkeeping: the memory's place and size now, every page written since the
 * last round (or never sent) marked in t->dirty. */
static int take_dirty(struct wasm_precopy *t, bool parked, uint8_t **basep, uint64_t *sizep)
{
	struct wasm_memory *m = t->mem;
	uint8_t *base;
	uint64_t size;
	size_t reserved;
	int r;

	base = __atomic_load_n(&m->base, __ATOMIC_ACQUIRE);
	size = __atomic_load_n(&m->size, __ATOMIC_ACQUIRE);
	reserved = __atomic_load_n(&m->reserved, __ATOMIC_ACQUIRE);
	if (size > MAX_MEMORY || size > reserved)
		size = reserved < MAX_MEMORY ? reserved : MAX_MEMORY;
	if (base != t->base || reserved != t->reserved) {
		/* moved or remapped by memory.grow: register the new mapping, send all */
		if (t->base && base != t->base)
			unreg(t);
		r = base && reserved ? reg(t, base, reserved) : 0;
		if (r && parked)
			return r;
		t->base = base;
		t->reserved = r ? 0 : reserved; /* not registered: try again next round */
		mark(t->dirty, 0, size / PAGE);
	}
	if (size > t->size)
		mark(t->dirty, t->size / PAGE, size / PAGE);
	if (t->first)
		mark(t->dirty, 0, size / PAGE);
	t->size = size;
	if (size) {
		r = scan(t, size);
		if (r && parked)
			return r;
		if (r) /* the memory moved under the scan: the next round sends it all */
			t->reserved = 0;
	}
	*basep = base;
	*sizep = size;
	return 0;
}

int wasm_precopy_round_to(struct wasm_precopy *t, wasm_precopy_put_fn put, void *ctx, bool parked,
			  uint64_t *pages)
{
	uint8_t *base;
	uint64_t size, n;
	int r;

	*pages = 0;
	t->put = put;
	t->put_ctx = ctx;
	if (!t->mem)
		return 0;
	r = take_dirty(t, parked, &base, &size);
	if (r)
		return r;
	n = size / PAGE;
	for (uint64_t w = 0; w < (n + 63) / 64; w++) {
		while (t->dirty[w]) {
			uint64_t i = w * 64 + (uint64_t)__builtin_ctzll(t->dirty[w]);
			const uint8_t *p = base + i * PAGE;
			if (i >= n)
				break;
			if (!parked) {
				if (pread(mem_fd, t->page, PAGE, (off_t)(uintptr_t)p) !=
				    (ssize_t)PAGE) {
					/* moved meanwhile: the next round finds it so */
					t->reserved = 0;
					break;
				}
				p = t->page;
			}
			t->dirty[w] &= ~(1ull << (i % 64));
			if (all_zero(p)) {
				if (t->first)
					continue; /* the destination's memory starts zero */
				sbuf_put_u64(&t->batch, i | ZERO_BIT);
			} else {
				sbuf_put_u64(&t->batch, i);
				sbuf_put(&t->batch, p, PAGE);
			}
			++*pages;
			if (++t->count == BATCH && (r = flush(t)))
				return r;
		}
		if (!t->reserved && !parked)
			break;
	}
	/* the first round's section says "pre-copy" to the destination, even empty */
	if (t->first && !t->count)
		r = put(ctx, SNAP_SEC_PAGES, t->batch.data, t->batch.len);
	else
		r = flush(t);
	t->first = false;
	return r;
}

int wasm_precopy_missing(struct wasm_precopy *t, uint8_t **base, uint64_t **bits, uint64_t *npages)
{
	uint64_t size = 0;
	int r;

	*base = NULL;
	*bits = t->dirty;
	*npages = 0;
	if (!t->mem)
		return 0;
	r = take_dirty(t, true, base, &size);
	if (r)
		return r;
	*npages = size / PAGE;
	/* pages past the size (a memory that shrank cannot; one moved) are not the program's */
	for (uint64_t i = *npages; i < (*npages + 63) / 64 * 64; i++)
		t->dirty[i / 64] &= ~(1ull << (i % 64));
	return 0;
}

uint64_t wasm_precopy_bytes(const struct wasm_precopy *t)
{
	return t->bytes;
}

void wasm_precopy_stop(struct wasm_precopy *t)
{
	if (!t)
		return;
	if (t->uffd >= 0) {
		unreg(t);
		close(t->uffd);
	}
	sbuf_fini(&t->batch);
	core_free(t->dirty);
	core_free(t);
}

/* ----- the destination ----- */

int wasm_precopy_in_init(struct wasm_precopy_in *in, uint64_t max_bytes)
{
	void *p;

	memset(in, 0, sizeof(*in));
	if (max_bytes > MAX_MEMORY)
		max_bytes = MAX_MEMORY;
	in->npages = max_bytes / PAGE;
	p = mmap(NULL, in->npages * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	in->present = core_calloc((in->npages + 63) / 64, sizeof(uint64_t));
	if (p == MAP_FAILED || !in->present) {
		if (p != MAP_FAILED)
			munmap(p, in->npages * PAGE);
		core_free(in->present);
		in->present = NULL;
		return -ENOMEM;
	}
	in->pages = p;
	return 0;
}

/* Checks a PAGES payload against the room and, with apply, takes its pages. */
static int in_pages(struct wasm_precopy_in *in, const uint8_t *p, size_t len, bool apply, char *err,
		    size_t errlen)
{
	struct sreader r;
	uint32_t n;

	sreader_init(&r, p, len);
	n = sread_u32(&r);
	for (uint32_t k = 0; k < n && !r.err; k++) {
		uint64_t i = sread_u64(&r), idx = i & ~ZERO_BIT;
		if (r.err)
			break; /* cut short: said below */
		if (idx >= in->npages) {
			snprintf(err, errlen, "corrupt: page %llu of memory in the stream",
				 (unsigned long long)idx);
			return -EINVAL;
		}
		if (!apply) {
			if (!(i & ZERO_BIT) && r.len - r.off < PAGE)
				sreader_fail(&r);
			else if (!(i & ZERO_BIT))
				r.off += PAGE;
			continue;
		}
		if (i & ZERO_BIT) {
			/* a page never received is zero and untouched: a memset would
			 * allocate it (8 bytes of stream for a 4 KiB page) */
			if (in->present[idx / 64] >> (idx % 64) & 1)
				memset(in->pages + idx * PAGE, 0, PAGE);
		} else
			sread(&r, in->pages + idx * PAGE, PAGE);
		in->present[idx / 64] |= 1ull << (idx % 64);
		in->received++;
	}
	if (r.err || r.off != r.len) {
		snprintf(err, errlen, "corrupt: a PAGES section of %zu bytes for %u pages", len, n);
		return -EINVAL;
	}
	return 0;
}

int wasm_precopy_in_check(struct wasm_precopy_in *in, const uint8_t *p, size_t len, char *err,
			  size_t errlen)
{
	return in_pages(in, p, len, false, err, errlen);
}

int wasm_precopy_in_section(void *opaque, uint32_t type, const uint8_t *p, size_t len, char *err,
			    size_t errlen)
{
	struct wasm_precopy_in *in = opaque;

	if (type != SNAP_SEC_PAGES) {
		snprintf(err, errlen,
			 "the stream holds a section of type 0x%x before the program's state "
			 "(from a system VM?)",
			 type);
		return -EINVAL;
	}
	in->sections++;
	return in_pages(in, p, len, true, err, errlen);
}

void wasm_precopy_in_fini(struct wasm_precopy_in *in)
{
	if (in->pages)
		munmap(in->pages, in->npages * PAGE);
	core_free(in->present);
	memset(in, 0, sizeof(*in));
}
