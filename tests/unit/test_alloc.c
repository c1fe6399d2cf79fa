/*
 * core/alloc.c: core_zalloc_pages gives zeroed memory whose pages are only made when
 * first written (the WASI state's fd table relies on it: a start does not fault in the
 * whole table, as calloc's clearing of a heap block did), and counts for the fault
 * injection like every other allocation.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/alloc.h"
#include "harness.h"

#define SIZE (64u << 10) /* below glibc's mmap threshold: calloc would clear it */

static size_t resident_pages(void *p, size_t size)
{
	unsigned char vec[SIZE / 4096];
	size_t n = 0;

	if (mincore(p, size, vec))
		return (size_t)-1;
	for (size_t i = 0; i < (size + 4095) / 4096; i++)
		n += vec[i] & 1;
	return n;
}

static int test_zeroed_and_untouched(void)
{
	uint8_t *p = core_zalloc_pages(SIZE);

	CHECK(p != NULL);
	CHECK_EQ((uintptr_t)p % (uintptr_t)sysconf(_SC_PAGESIZE), 0);
	CHECK_EQ(resident_pages(p, SIZE), 0); /* nothing made until written */
	p[0] = 1;
	p[SIZE - 1] = 2;
	CHECK_EQ(resident_pages(p, SIZE), 2);
	for (size_t i = 1; i < SIZE - 1; i++)
		if (p[i]) {
			core_free_pages(p, SIZE);
			CHECK(!"not zeroed");
		}
	core_free_pages(p, SIZE);
	core_free_pages(NULL, SIZE); /* like free(NULL) */
	return 0;
}

static int test_fault_injection(void)
{
	void *p;

	core_alloc_fail_after(1);
	p = core_zalloc_pages(SIZE);
	core_alloc_fail_after(0);
	CHECK(p == NULL);
	CHECK(core_zalloc_pages(0) == NULL);
	return 0;
}

static const struct unit_test tests[] = {
	{"zeroed_and_untouched", test_zeroed_and_untouched},
	{"fault_injection", test_fault_injection},
};

UNIT_MAIN("alloc", tests)
