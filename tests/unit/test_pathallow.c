/*
 * Unit tests for core/pathallow.c: what a migration's destination lets a stream's paths
 * be. A path lies within an allowed directory only below it (not in a sibling that shares
 * its name's beginning), symlinks and ".." are followed before the comparison, a file
 * allowance covers that file only, a socket to be made is resolved by its directory.
 */
#include "core/pathallow.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static char top[256];

/* top/REL into out (PATH_MAX bytes) */
static const char *at(char *out, const char *rel)
{
	out[0] = 0;
	if (strlen(top) + 1 + strlen(rel) >= PATH_MAX)
		return out; /* (cannot happen: top is short) */
	strcpy(out, top);
	strcat(out, "/");
	strcat(out, rel);
	return out;
}

static int setup(void)
{
	char p[PATH_MAX], q[PATH_MAX];
	char tmpl[] = "/tmp/lodge-pathallow.XXXXXX";
	FILE *f;

	if (!mkdtemp(tmpl) || !realpath(tmpl, p) || strlen(p) >= sizeof(top))
		return -1;
	strcpy(top, p);
	if (mkdir(at(p, "a"), 0700) || mkdir(at(p, "ab"), 0700) || mkdir(at(p, "b"), 0700))
		return -1;
	f = fopen(at(p, "a/f"), "w");
	if (f)
		fclose(f);
	f = fopen(at(p, "b/f"), "w");
	if (f)
		fclose(f);
	if (symlink(at(q, "b"), at(p, "a/link")))
		return -1;
	return 0;
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", top);
}

static bool allowed(const char *rel, bool may_be_new, const char *allow_rel)
{
	char p[PATH_MAX], a[PATH_MAX], r[PATH_MAX];
	const char *list[1] = {at(a, allow_rel)};

	return pathallow_resolve(at(p, rel), may_be_new, r) == 0 && pathallow_within(r, list, 1);
}

static int test_within(void)
{
	CHECK(setup() == 0);
	CHECK(allowed("a/f", false, "a"));
	CHECK(allowed("a", false, "a"));   /* the allowed path itself */
	CHECK(!allowed("ab", false, "a")); /* a sibling sharing its name's beginning */
	CHECK(!allowed("b/f", false, "a"));
	CHECK(allowed("a/f", false, "a/f")); /* a file: that one */
	CHECK(!allowed("a", false, "a/f"));
	CHECK(allowed("b/f", false, ".")); /* below: any depth */
	teardown();
	return 0;
}

static int test_resolved(void)
{
	char p[PATH_MAX], r[PATH_MAX], want[PATH_MAX];

	CHECK(setup() == 0);
	CHECK(!allowed("a/link/f", false, "a"));  /* a symlink out of it */
	CHECK(allowed("a/link/f", false, "b"));	  /* where it leads */
	CHECK(!allowed("a/../b/f", false, "a"));  /* .. out of it */
	CHECK(!allowed("a/link/new", true, "a")); /* a new socket in the symlinked dir */
	CHECK(allowed("a/new", true, "a"));
	CHECK_EQ(pathallow_resolve(at(p, "a/link/new"), true, r), 0);
	CHECK(!strcmp(r, at(want, "b/new")));
	/* a new name must be a name */
	CHECK_EQ(pathallow_resolve(at(p, "a/none/.."), true, r), -EINVAL);
	CHECK_EQ(pathallow_resolve(at(p, "a/none/x"), true, r), -ENOENT);
	CHECK_EQ(pathallow_resolve(at(p, "a/none"), false, r), -ENOENT);
	teardown();
	return 0;
}

static int test_allow_list(void)
{
	char p[PATH_MAX], r[PATH_MAX], a0[PATH_MAX], a1[PATH_MAX];
	const char *list[2];

	CHECK(setup() == 0);
	list[0] = at(a0, "gone"); /* an allowance that does not resolve allows nothing */
	list[1] = at(a1, "b");
	CHECK_EQ(pathallow_resolve(at(p, "b/f"), false, r), 0);
	CHECK(pathallow_within(r, list, 2));
	CHECK(!pathallow_within(r, list, 1));
	CHECK(!pathallow_within(r, list, 0));
	list[0] = "/";
	CHECK(pathallow_within(r, list, 1));
	teardown();
	return 0;
}

static const struct unit_test tests[] = {
	{"within", test_within},
	{"resolved", test_resolved},
	{"allow_list", test_allow_list},
};

UNIT_MAIN("pathallow", tests)
