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

struct gmem {
	uint8_t *ram;	     /* host address of guest physical `base` */
	uint64_t base;	     /* guest physical address of RAM */
	uint64_t size;	     /* bytes, a multiple of GMEM_PAGE_SIZE */
	uint8_t *page_flags; /* GMEM_PAGE_* per page (atomic bytes) */
	uint32_t *page_gen;  /* bumped when a code page is written (atomic) */
	uint32_t code_epoch; /* atomic: bumped with any page_gen, so harts drop shortcuts */
	uint64_t *dirty;     /* one bit per page written since the log was last taken */
	bool dirty_log;	     /* atomic: dirty bits are being recorded */
};

/* Maps `size` bytes of zeroed RAM (private anonymous memory, reserved lazily) at guest
 * physical `base`, and the page tables. Returns 0, -EINVAL (size zero or not a page
 * multiple), -ENOMEM. */
int gmem_init(struct gmem *m, uint64_t base, uint64_t size) __attribute__((warn_unused_result));
void gmem_fini(struct gmem *m);

/* Host pointer for guest physical [gpa, gpa+len) if it lies wholly in RAM, else NULL. */
static inline void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	if (gpa < m->base || len > m->size || gpa - m->base > m->size - len)
		return NULL;
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

/* Same for a host pointer inside RAM (from gmem_ptr). */
static inline void gmem_written_host(struct gmem *m, const void *host, uint64_t len)
{
	gmem_written(m, m->base + (uint64_t)((const uint8_t *)host - m->ram), len);
}

#endif
