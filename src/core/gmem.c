/*
 * Guest RAM (see gmem.h): allocation, checked copies, and the write log that keeps the
 * harts' decoded code and the dirty bitmap true when something other than a hart store
 * writes RAM.
 */
#include "core/gmem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "core/alloc.h"

int gmem_init(struct gmem *m, uint64_t base, uint64_t size)
{
	uint64_t pages = size >> GMEM_PAGE_SHIFT;

	memset(m, 0, sizeof(*m));
	if (!size || (size & (GMEM_PAGE_SIZE - 1)) || base + size < base)
		return -EINVAL;
	m->ram = mmap(NULL, size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m->ram == MAP_FAILED) {
		m->ram = NULL;
		return -ENOMEM;
	}
	m->base = base;
	m->size = size;
	m->page_flags = core_calloc(pages, 1);
	m->page_gen = core_calloc(pages, sizeof(uint32_t));
	m->dirty = core_calloc((pages + 63) / 64, sizeof(uint64_t));
	if (!m->page_flags || !m->page_gen || !m->dirty) {
		gmem_fini(m);
		return -ENOMEM;
	}
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

/* Byte-wise relaxed atomics compile to plain moves; 8-byte words when both sides are
 * aligned, which is the common case for packet and sector buffers. */
void gmem_copy_from(void *dst, const void *guest, size_t len)
{
	uint8_t *d = dst;
	const uint8_t *s = guest;

	if ((((uintptr_t)d | (uintptr_t)s) & 7) == 0) {
		for (; len >= 8; len -= 8, d += 8, s += 8) {
			uint64_t v = __atomic_load_n((const uint64_t *)(const void *)s,
						     __ATOMIC_RELAXED);
			memcpy(d, &v, 8);
		}
	}
	for (; len; len--)
		*d++ = __atomic_load_n(s++, __ATOMIC_RELAXED);
}

void gmem_copy_to(void *guest, const void *src, size_t len)
{
	uint8_t *d = guest;
	const uint8_t *s = src;

	if ((((uintptr_t)d | (uintptr_t)s) & 7) == 0) {
		for (; len >= 8; len -= 8, d += 8, s += 8) {
			uint64_t v;
			memcpy(&v, s, 8);
			__atomic_store_n((uint64_t *)(void *)d, v, __ATOMIC_RELAXED);
		}
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
			__atomic_fetch_or(&m->dirty[p / 64], 1ull << (p % 64), __ATOMIC_RELAXED);
		if (__atomic_load_n(&m->page_flags[p], __ATOMIC_ACQUIRE) & GMEM_PAGE_CODE) {
			__atomic_fetch_and(&m->page_flags[p], (uint8_t)~GMEM_PAGE_CODE,
					   __ATOMIC_ACQ_REL);
			__atomic_fetch_add(&m->page_gen[p], 1, __ATOMIC_ACQ_REL);
			__atomic_fetch_add(&m->code_epoch, 1, __ATOMIC_RELEASE);
		}
	}
}
