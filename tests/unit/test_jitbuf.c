/*
 * The W^X code buffer (src/jit/codebuf.h): code appended with jitbuf_append runs from the
 * read-execute mapping; that mapping is never writable, and no mapping of the process is
 * writable and executable at once; appends are aligned and refused with -ENOSPC when
 * full.
 */
#include "harness.h"

#include "jit/codebuf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The permissions ("r-xs") of the mapping holding addr, from /proc/self/maps. */
static int perms_of(uintptr_t addr, char out[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char p[5];
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3 && addr >= lo && addr < hi) {
			memcpy(out, p, 5);
			found = 1;
		}
	}
	fclose(f);
	return found;
}

/* Whether any mapping of the process is both writable and executable. */
static int any_wx(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int wx = 0;

	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char p[5];
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3 && p[1] == 'w' && p[2] == 'x')
			wx = 1;
	}
	fclose(f);
	return wx;
}

static int test_append_and_run(void)
{
	static const uint8_t ret42[] = {0xb8, 42, 0, 0, 0, 0xc3}; /* mov eax, 42; ret */
	struct jitbuf b;
	const void *at, *at2;
	char p[5];
	int (*fn)(void);

	CHECK(jitbuf_init(&b, 8192, "test-jitbuf") == 0);
	CHECK(jitbuf_next(&b, 16) == (uintptr_t)b.rx);
	CHECK(jitbuf_append(&b, ret42, sizeof(ret42), 16, &at) == 0);
	CHECK(at == b.rx);
	CHECK(jitbuf_append(&b, ret42, sizeof(ret42), 64, &at2) == 0);
	CHECK((uintptr_t)at2 == (uintptr_t)b.rx + 64); /* aligned */
	fn = (int (*)(void))(uintptr_t)at2;
	CHECK(fn() == 42);
	CHECK(perms_of((uintptr_t)at, p));
	CHECK(p[0] == 'r' && p[1] == '-' && p[2] == 'x');
	CHECK(!any_wx());
	CHECK(jitbuf_room(&b, 16) == 8192 - 80);
	jitbuf_fini(&b);
	jitbuf_fini(&b); /* a second fini is a no-op */
	return 0;
}

static int test_full(void)
{
	static uint8_t block[4096];
	struct jitbuf b;
	const void *at;

	CHECK(jitbuf_init(&b, 4096, "test-jitbuf") == 0);
	CHECK(jitbuf_append(&b, block, 4000, 16, &at) == 0);
	CHECK(jitbuf_append(&b, block, 97, 16, &at) == -ENOSPC);
	CHECK(jitbuf_append(&b, block, 96, 16, &at) == 0);
	CHECK(jitbuf_room(&b, 16) == 0);
	CHECK(jitbuf_write(&b, 4090, block, 7) == -ENOSPC);
	jitbuf_fini(&b);
	return 0;
}

static const struct unit_test tests[] = {
	{"append_and_run", test_append_and_run},
	{"full", test_full},
};

UNIT_MAIN("jitbuf", tests)
