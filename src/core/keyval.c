/*
 * key=value option lists (keyval.h): the parser device options, the disk options and the
 * daemon's command lines share.
 */
#include "core/keyval.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

int keyval_parse(struct keyval *a, const char *args, char *err, size_t errlen)
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
			keyval_fini(a);
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

size_t keyval_escape(char *out, size_t len, const char *val)
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

void keyval_fini(struct keyval *a)
{
	core_free(a->buf);
	memset(a, 0, sizeof(*a));
}

const char *keyval_get(struct keyval *a, const char *key, unsigned nth)
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

int keyval_check_unused(const struct keyval *a, const char *devname, char *err, size_t errlen)
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

int keyval_get_count(struct keyval *a, const char *key, const char *who, uint64_t *out, char *err,
		     size_t errlen)
{
	const char *v = keyval_get(a, key, 0);
	unsigned long long n;
	unsigned shift = 0;
	char *end;

	if (!v)
		return 0;
	if (keyval_get(a, key, 1)) {
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
