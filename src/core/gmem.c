/*
 * Guest RAM (see gmem.h): allocation, checked copies, and the write log that keeps the
 * harts' decoded code and the dirty bitmap true when something other than a hart store
 * writes RAM.
 */
#include "core/gmem.h"

#include <errno.h>
#include <string.h>
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/alloc.h"

/* `size` bytes of private anonymous memory whose start is `align`-aligned (a power of
 * two): `align` more are reserved and the slack on both sides unmapped again. */
static void *map_aligned(uint64_t size, uint64_t align)
{
	uint8_t *p = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uintptr_t start;

	if (p == MAP_FAILED)
		return NULL;
	start = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
	if (start > (uintptr_t)p)
		munmap(p, start - (uintptr_t)p);
	if ((uintptr_t)p + align > start)
		munmap((uint8_t *)start + size, (uintptr_t)p + align - start);
	return (void *)start;
}

int gmem_init(struct gmem *m, uint64_t base, uint64_t size, bool hugepages)
{
	uint64_t pages = size >> GMEM_PAGE_SHIFT;

	memset(m, 0, sizeof(*m));
	if (!size || (size & (GMEM_PAGE_SIZE - 1)) || base + size < base ||
	    size > UINT64_MAX - GMEM_HUGE_SIZE)
		return -EINVAL;
	m->ram = map_aligned(size, hugepages ? GMEM_HUGE_SIZE : GMEM_PAGE_SIZE);
	if (!m->ram)
		return -ENOMEM;
	/* Best effort, as QEMU's: on a host without THP the RAM is only slower to touch.
	 * Without, 4 KiB pages even where the host's THP mode is "always". */
	if (hugepages && size >= GMEM_HUGE_SIZE)
		m->hugepages = madvise(m->ram, size, MADV_HUGEPAGE) == 0;
	else
		(void)madvise(m->ram, size, MADV_NOHUGEPAGE);
	m->base = base;
	m->size = size;
	m->page_flags = core_calloc(pages, 1);
	m->page_gen = core_calloc(pages, sizeof(uint32_t));
	m->dirty = core_calloc((pages + 63) / 64, sizeof(uint64_t));
	if (!m->page_flags || !m->page_gen || !m->dirty) {
		gmem_fini(m);
		return -ENOMEM;
	}
	/* Registered now, before any sandbox: the dirty log's rounds with harts running
	 * need it (gmem_dirty_take). */
	m->membarrier =
		syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
	return 0;
}

void gmem_fini(struct gmem *m)
{
	if (m->ram)
		munmap(m->ram, m->size);
	core_free(m->page_flags);
	core_free(m->page_gen);
	core_free(m->dirty);
	memset(m, 0, sizeof(*m));
}

/* Relaxed atomics compile to plain moves. The guest side is brought to an 8-byte boundary
 * with single bytes, then copied in aligned 8-byte words whatever the host side's
 * alignment (memcpy handles that side): a frame copied out behind a 12-byte virtio-net
 * header is never aligned on both sides, and byte by byte it cost the I/O thread 8 times
 * the host kernel's own copy of the same frame. */
void gmem_copy_from(void *dst, const void *guest, size_t len)
{
	uint8_t *d = dst;
	const uint8_t *s = guest;

	for (; len && ((uintptr_t)s & 7); len--)
		*d++ = __atomic_load_n(s++, __ATOMIC_RELAXED);
	for (; len >= 8; len -= 8, d += 8, s += 8) {
		uint64_t v = __atomic_load_n((const uint64_t *)(const void *)s, __ATOMIC_RELAXED);
		memcpy(d, &v, 8);
	}
	for (; len; len--)
		*d++ = __atomic_load_n(s++, __ATOMIC_RELAXED);
}

void gmem_copy_to(void *guest, const void *src, size_t len)
{
	uint8_t *d = guest;
	const uint8_t *s = src;

	for (; len && ((uintptr_t)d & 7); len--)
		__atomic_store_n(d++, *s++, __ATOMIC_RELAXED);
	for (; len >= 8; len -= 8, d += 8, s += 8) {
		uint64_t v;
		memcpy(&v, s, 8);
		__atomic_store_n((uint64_t *)(void *)d, v, __ATOMIC_RELAXED);
	}
	for (; len; len--)
		__atomic_store_n(d++, *s++, __ATOMIC_RELAXED);
}

int gmem_read(const struct gmem *m, uint64_t gpa, void *dst, size_t len)
{
	const void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	gmem_copy_from(dst, p, len);
	return 0;
}

int gmem_write(struct gmem *m, uint64_t gpa, const void *src, size_t len)
{
	void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	gmem_copy_to(p, src, len);
	gmem_written(m, gpa, len);
	return 0;
}

void gmem_written(struct gmem *m, uint64_t gpa, uint64_t len)
{
	uint64_t first, last;
	bool log;

	if (!len || !gmem_ptr(m, gpa, len))
		return;
	first = (gpa - m->base) >> GMEM_PAGE_SHIFT;
	last = (gpa + len - 1 - m->base) >> GMEM_PAGE_SHIFT;
	log = __atomic_load_n(&m->dirty_log, __ATOMIC_ACQUIRE);
	for (uint64_t p = first; p <= last; p++) {
		if (log)
			gmem_dirty_page(m, p);
		if (__atomic_load_n(&m->page_flags[p], __ATOMIC_ACQUIRE) & GMEM_PAGE_CODE) {
			__atomic_fetch_and(&m->page_flags[p], (uint8_t)~GMEM_PAGE_CODE,
					   __ATOMIC_ACQ_REL);
			__atomic_fetch_add(&m->page_gen[p], 1, __ATOMIC_ACQ_REL);
			__atomic_fetch_add(&m->code_epoch, 1, __ATOMIC_RELEASE);
		}
	}
}

void gmem_dirty_start(struct gmem *m)
{
	uint64_t pages = m->size >> GMEM_PAGE_SHIFT;

	__atomic_store_n(&m->dirty_log, false, __ATOMIC_RELEASE);
	for (uint64_t w = 0; w < gmem_dirty_words(m); w++)
		__atomic_store_n(&m->dirty[w], 0, __ATOMIC_RELAXED);
	for (uint64_t p = 0; p < pages; p++)
		__atomic_fetch_or(&m->page_flags[p], GMEM_PAGE_TRACK, __ATOMIC_RELAXED);
	__atomic_store_n(&m->dirty_log, true, __ATOMIC_SEQ_CST);
}

void gmem_dirty_stop(struct gmem *m)
{
	uint64_t pages = m->size >> GMEM_PAGE_SHIFT;

	__atomic_store_n(&m->dirty_log, false, __ATOMIC_SEQ_CST);
	for (uint64_t p = 0; p < pages; p++)
		__atomic_fetch_and(&m->page_flags[p], (uint8_t)~GMEM_PAGE_TRACK, __ATOMIC_RELAXED);
}

int gmem_dirty_take(struct gmem *m, uint64_t *out, bool running)
{
	if (running && !m->membarrier)
		return -ENOSYS;
	for (uint64_t w = 0; w < gmem_dirty_words(m); w++) {
		uint64_t bits = __atomic_exchange_n(&m->dirty[w], 0, __ATOMIC_ACQ_REL);
		out[w] |= bits;
		/* The flag goes back after the bit was taken: a store between the two is in
		 * the copy the caller makes next (below), one after them is logged again. */
		while (bits) {
			uint64_t p = w * 64 + (uint64_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			__atomic_fetch_or(&m->page_flags[p], GMEM_PAGE_TRACK, __ATOMIC_RELAXED);
		}
	}
	/* A hart's store and its load of the page's flag may pass each other (x86 keeps a
	 * store in its buffer while later loads go ahead): without a barrier on the harts'
	 * threads a store could miss the flag just set and also the caller's copy. */
	if (running && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) < 0)
		return -errno;
	return 0;
}

void gmem_dirty_merge(struct gmem *m, const uint64_t *bits)
{
	for (uint64_t w = 0; w < gmem_dirty_words(m); w++)
		if (bits[w])
			__atomic_fetch_or(&m->dirty[w], bits[w], __ATOMIC_RELEASE);
}

void gmem_fault_in(const uint8_t *p, uint64_t len)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(GMEM_PAGE_SIZE - 1), end = (uintptr_t)p + len;

	for (; a < end; a += GMEM_PAGE_SIZE)
		(void)__atomic_load_n((const uint8_t *)a, __ATOMIC_RELAXED);
}
