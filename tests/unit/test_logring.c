/*
 * Unit tests for core/logring.c: appends and reads, wrapping, a reader that falls behind
 * (told how much it lost), writes larger than the ring, reopening an existing ring,
 * refusing files that are not rings, and a reader whose file is cut short under it.
 */
#include "core/logring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

static char path[64];

static void fresh(void)
{
	snprintf(path, sizeof(path), "/tmp/lodge-test-ring-%d", (int)getpid());
	unlink(path);
}

static int test_append_read(void)
{
	struct logring *w, *r;
	char buf[64];
	uint64_t pos = 0, lost;

	fresh();
	CHECK_EQ(logring_open(path, true, 4096, &w), 0);
	CHECK_EQ(logring_open(path, false, 4096, &r), 0);
	CHECK_EQ(logring_read(r, &pos, buf, sizeof(buf), &lost), 0);
	CHECK_EQ(logring_append(w, "hello ", 6), 0);
	CHECK_EQ(logring_append(w, "world", 5), 0);
	CHECK_EQ(logring_head(r), 11);
	CHECK_EQ(logring_read(r, &pos, buf, 4, &lost), 4);
	CHECK(!memcmp(buf, "hell", 4));
	CHECK_EQ(logring_read(r, &pos, buf, sizeof(buf), &lost), 7);
	CHECK(!memcmp(buf, "o world", 7) && pos == 11 && lost == 0);
	logring_close(r);
	logring_close(w);
	/* a writer continues an existing ring */
	CHECK_EQ(logring_open(path, true, 4096, &w), 0);
	CHECK_EQ(logring_head(w), 11);
	logring_close(w);
	unlink(path);
	return 0;
}

static int test_wrap_and_lost(void)
{
	struct logring *w;
	uint8_t data[10000], buf[8192];
	uint64_t pos = 0, lost;
	ssize_t n;

	fresh();
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	CHECK_EQ(logring_open(path, true, 4096, &w), 0);
	for (size_t i = 0; i < sizeof(data); i += 1000)
		CHECK_EQ(logring_append(w, data + i, 1000), 0);
	CHECK_EQ(logring_tail(w), 10000 - 4096);
	n = logring_read(w, &pos, buf, sizeof(buf), &lost);
	CHECK_EQ(n, 4096);
	CHECK_EQ(lost, 10000 - 4096);
	CHECK(!memcmp(buf, data + 10000 - 4096, 4096));
	/* one write larger than the ring keeps its end */
	CHECK_EQ(logring_append(w, data, sizeof(data)), 0);
	pos = logring_tail(w);
	CHECK_EQ(logring_read(w, &pos, buf, sizeof(buf), &lost), 4096);
	CHECK(!memcmp(buf, data + sizeof(data) - 4096, 4096));
	logring_close(w);
	unlink(path);
	return 0;
}

static int test_not_a_ring(void)
{
	struct logring *r;
	int fd;

	fresh();
	CHECK_EQ(logring_open(path, false, 4096, &r), -ENOENT);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	CHECK(write(fd, "not a ring file", 15) == 15);
	close(fd);
	CHECK_EQ(logring_open(path, false, 4096, &r), -EINVAL);
	CHECK_EQ(logring_open(path, true, 1000, &r), -EINVAL); /* capacity too small */
	/* a writer replaces what is not a ring */
	CHECK_EQ(logring_open(path, true, 4096, &r), 0);
	CHECK_EQ(logring_head(r), 0);
	logring_close(r);
	unlink(path);
	return 0;
}

/* The file cut short under a reader (its writer is a guest's process, the reader the
 * daemon): the reader sees nothing new or an error, never SIGBUS, and reads again once
 * the file is whole. */
static int test_cut_under_reader(void)
{
	struct logring *w, *r;
	char buf[64];
	uint64_t pos = 0;
	int fd;

	fresh();
	CHECK_EQ(logring_open(path, true, 4096, &w), 0);
	CHECK_EQ(logring_append(w, "hello", 5), 0);
	CHECK_EQ(logring_open(path, false, 4096, &r), 0);
	fd = open(path, O_RDWR);
	CHECK(fd >= 0 && ftruncate(fd, 0) == 0);
	CHECK_EQ(logring_head(r), 0);
	CHECK(logring_read(r, &pos, buf, sizeof(buf), NULL) <= 0);
	CHECK(ftruncate(fd, 4096 + 4096) == 0); /* whole again, but empty: head 0 */
	CHECK_EQ(logring_head(r), 0);
	close(fd);
	logring_close(r);
	logring_close(w);
	unlink(path);
	return 0;
}

static const struct unit_test tests[] = {
	{"append_read", test_append_read},
	{"wrap_and_lost", test_wrap_and_lost},
	{"not_a_ring", test_not_a_ring},
	{"cut_under_reader", test_cut_under_reader},
};

UNIT_MAIN("logring", tests)
