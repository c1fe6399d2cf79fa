/*
 * Device-type registry and the key=value argument parser devices share (see device.h).
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

int device_args_parse(struct device_args *a, const char *args, char *err, size_t errlen)
{
	char *p;

	memset(a, 0, sizeof(*a));
	if (!args || !*args)
		return 0;
	a->buf = core_alloc(strlen(args) + 1);
	if (!a->buf)
		return -ENOMEM;
	strcpy(a->buf, args);
	for (p = a->buf; p;) {
		char *item = p, *eq, *w;
		/* the item ends at a ',' that is not doubled; ",," stands for a ',' in it */
		for (w = p; *p && !(*p == ',' && p[1] != ','); p++)
			*w++ = *p == ',' ? *p++ : *p;
		p = *p ? p + 1 : NULL;
		*w = 0;
		if (a->n == sizeof(a->kv) / sizeof(a->kv[0])) {
			snprintf(err, errlen, "too many options in '%s' (at most 16)", args);
			device_args_fini(a);
			return -EINVAL;
		}
		eq = strchr(item, '=');
		if (eq) {
			*eq = 0;
			a->kv[a->n].key = item;
			a->kv[a->n].val = eq + 1;
		} else {
			/* A bare word: the leading value ("PATH"), or a flag such as "user". */
			a->kv[a->n].key = "";
			a->kv[a->n].val = item;
		}
		a->n++;
	}
	return 0;
}

size_t device_args_escape(char *out, size_t len, const char *val)
{
	size_t n = 0;

	for (; *val; val++) {
		for (int k = *val == ',' ? 2 : 1; k > 0; k--, n++)
			if (n + 1 < len)
				out[n] = *val;
	}
	if (len)
		out[n < len ? n : len - 1] = 0;
	return n;
}

void device_args_fini(struct device_args *a)
{
	core_free(a->buf);
	memset(a, 0, sizeof(*a));
}

const char *device_args_get(struct device_args *a, const char *key, unsigned nth)
{
	for (unsigned i = 0; i < a->n; i++) {
		if (strcmp(a->kv[i].key, key))
			continue;
		if (nth-- == 0) {
			a->kv[i].used = true;
			return a->kv[i].val;
		}
	}
	return NULL;
}

int device_args_check_unused(const struct device_args *a, const char *devname, char *err,
			     size_t errlen)
{
	for (unsigned i = 0; i < a->n; i++) {
		unsigned j = 0;
		if (a->kv[i].used)
			continue;
		/* a key a device took once, given again */
		while (j < a->n && !(a->kv[j].used && !strcmp(a->kv[j].key, a->kv[i].key)))
			j++;
		if (j < a->n && *a->kv[i].key)
			snprintf(err, errlen, "%s: %s= given twice (%s=%s and %s=%s): give it once",
				 devname, a->kv[i].key, a->kv[j].key, a->kv[j].val, a->kv[i].key,
				 a->kv[i].val);
		else if (*a->kv[i].key)
			snprintf(err, errlen, "%s: unknown option '%s'", devname, a->kv[i].key);
		else
			snprintf(err, errlen, "%s: unexpected '%s'", devname, a->kv[i].val);
		return -EINVAL;
	}
	return 0;
}

int device_args_get_count(struct device_args *a, const char *key, const char *who, uint64_t *out,
			  char *err, size_t errlen)
{
	const char *v = device_args_get(a, key, 0);
	unsigned long long n;
	unsigned shift = 0;
	char *end;

	if (!v)
		return 0;
	if (device_args_get(a, key, 1)) {
		snprintf(err, errlen, "%s: %s= given twice", who, key);
		return -EINVAL;
	}
	errno = 0;
	n = strtoull(v, &end, 10);
	if (*end && !end[1] && strchr("kKmMgG", *end))
		shift = *end == 'k' || *end == 'K' ? 10 : *end == 'm' || *end == 'M' ? 20 : 30;
	if (*v < '0' || *v > '9' || errno || (*end && !shift) || n > (UINT64_MAX >> shift)) {
		snprintf(err, errlen, "%s: %s=%s: want a number, optionally with K, M or G", who,
			 key, v);
		return -EINVAL;
	}
	*out = (uint64_t)n << shift;
	return 0;
}
