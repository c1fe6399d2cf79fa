/*
 * All heap allocation goes through core_alloc/core_calloc/core_free so that tests can make
 * the Nth allocation fail (fault injection, as Lua's debug allocator and SQLite's MemFault).
 * Every caller checks for NULL and returns -ENOMEM; nothing aborts on OOM.
 */
#ifndef LODGE_CORE_ALLOC_H
#define LODGE_CORE_ALLOC_H

#include <stddef.h>

void *core_alloc(size_t size);
void *core_calloc(size_t n, size_t size);
void *core_realloc(void *p, size_t size);
void core_free(void *p);

/* Zeroed memory of its own pages (mmap), for large tables used only in part: calloc
 * writes every byte of a block from the heap (each page a fault at start-up), while the
 * pages of a fresh mapping are only made when first written. Freed with
 * core_free_pages(p, size) of the same size. Counts for the fault injection too. */
void *core_zalloc_pages(size_t size);
void core_free_pages(void *p, size_t size);

/* Fault injection: make the nth allocation from now fail (1 = the next one); 0 disables.
 * Not thread-safe: for single-threaded unit tests only. */
void core_alloc_fail_after(unsigned long nth);

#endif
