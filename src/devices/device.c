/*
 * Device-type registry (see device.h).
 * The registry is written only by constructors, before main, and read-only afterwards.
 */
#include "devices/device.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define MAX_TYPES 32

static const struct device_type *types[MAX_TYPES];
static unsigned ntypes;
static bool sorted;

void device_type_register(const struct device_type *t)
{
	if (ntypes < MAX_TYPES)
		types[ntypes++] = t;
	sorted = false;
}

static int cmp_type(const void *a, const void *b)
{
	const struct device_type *x = *(const struct device_type *const *)a;
	const struct device_type *y = *(const struct device_type *const *)b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->name, y->name);
}

const struct device_type *const *device_types(unsigned *n)
{
	if (!sorted) {
		qsort(types, ntypes, sizeof(types[0]), cmp_type);
		sorted = true;
	}
	*n = ntypes;
	return types;
}

const struct device_type *device_type_find_option(const char *option)
{
	for (unsigned i = 0; i < ntypes; i++)
		if (types[i]->option && !strcmp(types[i]->option, option))
			return types[i];
	return NULL;
}
