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

/* Fault injection: make the nth allocation from now fail (1 = the next one); 0 disables.
 * Not thread-safe: for single-threaded unit tests only. */
void core_alloc_fail_after(unsigned long nth);

#endif
