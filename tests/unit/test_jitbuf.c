/*
 * The W^X code buffer (src/jit/codebuf.h): code appended with jitbuf_append runs from the
 * read-execute mapping; that mapping is never writable, and no mapping of the process is
 * writable and executable at once; appends are aligned and refused with -ENOSPC when
 * full; the memfd is made at the first write, at the addresses reserved at init.
 */
#include "harness.h"

#include "jit/codebuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The mapping holding addr: its permissions, and whether it is the memfd `name`
 * (named may be NULL). */
static int mapping_of(uintptr_t addr, const char *name, char perms[5], int *named)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && addr >= lo && addr < hi) {
			if (named)
				*named = name && strstr(line, name) != NULL;
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

/* The permissions ("r-xs") of the mapping holding addr, from /proc/self/maps. */
static int perms_of(uintptr_t addr, char out[5])
{
	return mapping_of(addr, NULL, out, NULL);
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

/* jitbuf_init reserves the addresses only: no memfd, nothing readable, until the first
 * write maps the memfd read-execute over the same range, so jitbuf_next's addresses
 * (which translators assemble against before writing) stay true. */
static int test_lazy_memfd(void)
{
	static const uint8_t ret7[] = {0xb8, 7, 0, 0, 0, 0xc3}; /* mov eax, 7; ret */
	struct jitbuf b;
	const void *at;
	uintptr_t next;
	char p[5];
	int named = -1;

	CHECK(jitbuf_init(&b, 1 << 20, "test-jitbuf-lazy") == 0);
	CHECK(b.fd < 0);
	next = jitbuf_next(&b, 16);
	CHECK(next == (uintptr_t)b.rx);
	CHECK(mapping_of(next, "memfd:test-jitbuf-lazy", p, &named));
	CHECK(!named);
	CHECK(!strcmp(p, "---p"));
	CHECK(jitbuf_release(&b, 0) == 0); /* nothing to give back yet */
	CHECK(jitbuf_append(&b, ret7, sizeof(ret7), 16, &at) == 0);
	CHECK(b.fd >= 0);
	CHECK((uintptr_t)at == next);
	CHECK(mapping_of(next, "memfd:test-jitbuf-lazy", p, &named));
	CHECK(named);
	CHECK(!strcmp(p, "r-xs"));
	CHECK(mapping_of((uintptr_t)b.rx + (1 << 20) - 1, "memfd:test-jitbuf-lazy", p, &named));
	CHECK(named); /* the whole range, not only the first page */
	CHECK(((int (*)(void))(uintptr_t)at)() == 7);
	CHECK(!any_wx());
	jitbuf_fini(&b);
	CHECK(!mapping_of(next, "memfd:test-jitbuf-lazy", p, &named) || !named);
	return 0;
}

/* A buffer that was never initialised (zeroed, as in a translator whose set-up failed
 * early) is finished without closing fd 0, which its zero fd field would name. */
static int test_fini_zeroed(void)
{
	struct jitbuf b;
	int fd = open("/dev/null", O_RDONLY), zero_open;

	CHECK(fd >= 0);
	if (fd != 0) { /* make sure fd 0 is open (and ours to check) */
		zero_open = fcntl(0, F_GETFD) != -1;
		if (!zero_open)
			CHECK(dup2(fd, 0) == 0);
	}
	memset(&b, 0, sizeof(b));
	jitbuf_fini(&b);
	CHECK(fcntl(0, F_GETFD) != -1);
	jitbuf_fini(&b); /* twice is harmless too */
	CHECK(fcntl(0, F_GETFD) != -1);
	if (fd != 0)
		close(fd);
	return 0;
}

static const struct unit_test tests[] = {
	{"fini_zeroed", test_fini_zeroed},
	{"append_and_run", test_append_and_run},
	{"full", test_full},
	{"lazy_memfd", test_lazy_memfd},
};

UNIT_MAIN("jitbuf", tests)
