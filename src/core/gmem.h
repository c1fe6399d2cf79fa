/*
 * Guest physical RAM as every part of a machine sees it: one host mapping of the RAM
 * region, the per-page flags the harts' decoded-code caches rely on (code pages and their
 * write generations), and the log of pages written (dirty tracking for incremental
 * snapshots and migration). Devices reach RAM only through gmem_ptr()/gmem_read()/
 * gmem_write(), which check that the whole range lies in RAM, and report the pages they
 * wrote with gmem_written() (DMA into a page that holds decoded code invalidates it).
 *
 * Threads: any. RAM is shared with running harts, which access it with relaxed atomics;
 * gmem_read/gmem_write copy the same way, so the ThreadSanitizer build sees no race.
 */
#ifndef LODGE_CORE_GMEM_H
#define LODGE_CORE_GMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GMEM_PAGE_SHIFT 12
#define GMEM_PAGE_SIZE	(1ull << GMEM_PAGE_SHIFT)

/* Per-page flags (page_flags[]). Stores by harts to a flagged page take the slow path. */
#define GMEM_PAGE_CODE	1u /* decoded blocks exist for this page */
#define GMEM_PAGE_WATCH 2u /* the page holds a watched word (HTIF tohost) */
#define GMEM_PAGE_TRACK 4u /* dirty log on and the page is clean: its next write is logged */

struct gmem {
	uint8_t *ram;	     /* host address of guest physical `base` */
	uint64_t base;	     /* guest physical address of RAM */
	uint64_t size;	     /* bytes, a multiple of GMEM_PAGE_SIZE */
	uint8_t *page_flags; /* GMEM_PAGE_* per page (atomic bytes) */
	uint32_t *page_gen;  /* bumped when a code page is written (atomic) */
	uint32_t code_epoch; /* atomic: bumped with any page_gen, so harts drop shortcuts */
	uint64_t *dirty;     /* one bit per page written since the log was last taken */
	bool dirty_log;	     /* atomic: dirty bits are being recorded */
	bool membarrier;     /* membarrier(PRIVATE_EXPEDITED) is registered (gmem_dirty_take) */
	bool postcopy;	     /* atomic: pages may be missing (post-copy migration, migrate.c) */
	bool hugepages;	     /* RAM is advised MADV_HUGEPAGE (the host's THP mode decides) */
};

/* Words of a dirty bitmap for `m` (one bit per page). */
static inline uint64_t gmem_dirty_words(const struct gmem *m)
{
	return ((m->size >> GMEM_PAGE_SHIFT) + 63) / 64;
}

/* Maps `size` bytes of zeroed RAM (private anonymous memory, reserved lazily) at guest
 * physical `base`, and the page tables. With `hugepages` the mapping starts on a 2 MiB
 * boundary and asks for transparent huge pages (madvise MADV_HUGEPAGE, as QEMU does for
 * guest RAM): a first touch then faults in 2 MiB at once instead of 4 KiB, at the price
 * of whole huge pages counting as touched. The advice is best effort: a kernel without
 * THP refuses it (m->hugepages stays false), THP mode "never" ignores it. Without
 * `hugepages`, MADV_NOHUGEPAGE: 4 KiB pages even where the THP mode is "always".
 * Returns 0, -EINVAL (size zero or not a page multiple), -ENOMEM. */
#define GMEM_HUGE_SIZE (2ull << 20)
int gmem_init(struct gmem *m, uint64_t base, uint64_t size, bool hugepages)
	__attribute__((warn_unused_result));
void gmem_fini(struct gmem *m);

/* Reads a byte of every page of [p, p+len): during a post-copy migration a missing page
 * then arrives (a fault in user mode, which the userfaultfd serves) before a device hands
 * the range to the kernel (read, write, io_uring), whose own accesses it may not serve. */
void gmem_fault_in(const uint8_t *p, uint64_t len);

/* Host pointer for guest physical [gpa, gpa+len) if it lies wholly in RAM, else NULL. */
static inline void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	if (gpa < m->base || len > m->size || gpa - m->base > m->size - len)
		return NULL;
	if (__builtin_expect(__atomic_load_n(&m->postcopy, __ATOMIC_RELAXED), 0))
		gmem_fault_in(m->ram + (gpa - m->base), len);
	return m->ram + (gpa - m->base);
}

/* Copies between RAM and host memory. Return 0, or -EFAULT when the guest range is not
 * wholly in RAM (nothing is copied then). gmem_write also calls gmem_written. */
int gmem_read(const struct gmem *m, uint64_t gpa, void *dst, size_t len);
int gmem_write(struct gmem *m, uint64_t gpa, const void *src, size_t len);

/* Copies with the hart-compatible access width (relaxed atomics); the host pointers must
 * come from gmem_ptr. Used for guest buffers that harts may touch concurrently. */
void gmem_copy_from(void *dst, const void *guest, size_t len);
void gmem_copy_to(void *guest, const void *src, size_t len);

/* A full memory barrier between a device's accesses to guest memory and the harts' (a
 * store before it is visible before any load after it), as virtio's event-index protocol
 * needs. Inline assembly on x86-64, because ThreadSanitizer rejects
 * __atomic_thread_fence; guest RAM is only ever accessed with atomics, so TSan has no
 * ordering to track here anyway. */
static inline void gmem_barrier(void)
{
#if defined(__x86_64__)
	__asm__ __volatile__("lock orq $0, (%%rsp)" ::: "memory", "cc");
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/* Records that [gpa, gpa+len) was written by something other than a hart store (a
 * device's DMA, the loader): invalidates decoded code there and marks the pages dirty.
 * Ranges outside RAM are ignored. */
void gmem_written(struct gmem *m, uint64_t gpa, uint64_t len);

/*
 * The dirty log: which pages anything (hart stores interpreted or JIT'd, AMOs, SC, the
 * page-table walker's A/D updates, device DMA, the balloon) wrote since it was last taken.
 * A clean page carries GMEM_PAGE_TRACK, so a hart's store to it takes the store hook
 * (mmu_store_hook), which logs the page and clears the flag: a page costs one slow store
 * per round, no check is added to the fast path.
 *
 * gmem_dirty_start: clears the log and starts it (every page clean). Any thread; a hart
 * that is running sees the flags at its next store at the latest.
 * gmem_dirty_stop: stops logging and drops the flags.
 * gmem_dirty_take: moves the log into `out` (gmem_dirty_words words, ORed in) and makes
 * those pages clean again. With harts running (`running`), a store racing with it is
 * either visible to a copy of the page made after it returns or logged again: a
 * process-wide memory barrier (membarrier) separates re-arming the flags from the copy.
 * Returns 0, or -ENOSYS when `running` and no such barrier is available (pause first).
 */
void gmem_dirty_start(struct gmem *m);
void gmem_dirty_stop(struct gmem *m);
int gmem_dirty_take(struct gmem *m, uint64_t *out, bool running)
	__attribute__((warn_unused_result));
/* Puts pages taken with gmem_dirty_take back into the log (their copy was not kept). */
void gmem_dirty_merge(struct gmem *m, const uint64_t *bits);

/* Logs page `p` (an index) dirty and clears its TRACK flag. */
static inline void gmem_dirty_page(struct gmem *m, uint64_t p)
{
	__atomic_fetch_and(&m->page_flags[p], (uint8_t)~GMEM_PAGE_TRACK, __ATOMIC_RELAXED);
	__atomic_fetch_or(&m->dirty[p / 64], 1ull << (p % 64), __ATOMIC_RELEASE);
}

/* Same for a host pointer inside RAM (from gmem_ptr). */
static inline void gmem_written_host(struct gmem *m, const void *host, uint64_t len)
{
	gmem_written(m, m->base + (uint64_t)((const uint8_t *)host - m->ram), len);
}

#endif
