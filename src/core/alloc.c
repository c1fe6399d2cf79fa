/* Allocation wrappers with a fault-injection counter (see alloc.h). */
#include "core/alloc.h"

#include <stdlib.h>

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
