/* Allocation wrappers with a fault-injection counter (see alloc.h). */
#include "core/alloc.h"

#include <stdlib.h>
#include <sys/mman.h>

static unsigned long fail_countdown;

void core_alloc_fail_after(unsigned long nth)
{
	fail_countdown = nth;
}

static int should_fail(void)
{
	if (fail_countdown == 0)
		return 0;
	return --fail_countdown == 0;
}

void *core_alloc(size_t size)
{
	return should_fail() ? NULL : malloc(size);
}

void *core_calloc(size_t n, size_t size)
{
	return should_fail() ? NULL : calloc(n, size);
}

void *core_realloc(void *p, size_t size)
{
	return should_fail() ? NULL : realloc(p, size);
}

void core_free(void *p)
{
	free(p);
}

void *core_zalloc_pages(size_t size)
{
	void *p;

	if (should_fail() || !size)
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void core_free_pages(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}
