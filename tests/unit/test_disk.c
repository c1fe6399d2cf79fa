/*
 * Unit tests for src/disk through disk.h only: creating and opening images, reads and
 * writes across clusters with several iovecs, backing files and copy-on-write, discard
 * and write-zeroes (which must not expose backing data), concurrent writes to one
 * unallocated cluster, the FLUSH barrier, request validation, hostile headers (each
 * refused with a message and the file left byte-identical), backing loops and depth,
 * locks, corrupt L2 entries, refcount table growth, and allocation failure at every
 * step. Images live in a private temporary directory. Tests that compare against qemu-img
 * are in tests/disk/suite.sh.
 */
#include "disk/disk.h"

#include "core/alloc.h"

#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MiB (1u << 20)
#define CS  65536u

static char tmpdir[64];
static char err[DISK_ERR_LEN];

static const char *P(const char *name)
{
	static char buf[4][sizeof(tmpdir) + 256 + 2];
	static unsigned k;
	char *p = buf[k++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

static void clean_dir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			unlink(P(e->d_name));
	if (d)
		closedir(d);
}

static int mkimg(const char *name, uint64_t size, const char *backing, unsigned cb)
{
	struct disk_create_options o = {
		.format = DISK_FMT_QCOW2, .size = size, .backing = backing, .cluster_bits = cb};

	return disk_create(P(name), &o, err, sizeof(err));
}

static struct disk *open_as(const char *name, enum disk_format fmt, bool ro)
{
	struct disk_options o = {.format = fmt, .readonly = ro};
	struct disk *d = NULL;

	if (disk_open(P(name), &o, &d, err, sizeof(err)))
		return NULL;
	return d;
}

static struct disk *open_rw(const char *name)
{
	return open_as(name, DISK_FMT_AUTO, false);
}

static void fill(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static bool all_is(const uint8_t *b, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *b;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st))
		return NULL;
	b = malloc((size_t)st.st_size + 1);
	if (b && pread(fd, b, (size_t)st.st_size, 0) != st.st_size) {
		free(b);
		b = NULL;
	}
	close(fd);
	*len = (size_t)st.st_size;
	return b;
}

static int patch(const char *name, off_t off, const void *bytes, size_t n)
{
	int fd = open(P(name), O_RDWR | O_CREAT, 0644);
	int ok = fd >= 0 && pwrite(fd, bytes, n, off) == (ssize_t)n;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

static int patch_be32(const char *name, off_t off, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	return patch(name, off, b, 4);
}

static int patch_be64(const char *name, off_t off, uint64_t v)
{
	return patch_be32(name, off, (uint32_t)(v >> 32)) || patch_be32(name, off + 4, (uint32_t)v);
}

static uint64_t file_be64(const char *name, off_t off)
{
	uint8_t b[8] = {0};
	uint64_t v = 0;
	int fd = open(P(name), O_RDONLY);

	if (fd >= 0) {
		if (pread(fd, b, 8, off) != 8)
			memset(b, 0, 8);
		close(fd);
	}
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

struct rec {
	int order[8], n;
};

struct tagged {
	struct disk_req req;
	struct rec *rec;
	int tag, res;
	bool done;
};

static void tagged_done(struct disk_req *q, int res)
{
	struct tagged *t = q->opaque;

	t->done = true;
	t->res = res;
	t->rec->order[t->rec->n++] = t->tag;
}

static void run_until(struct disk *d, struct tagged *t, int n)
{
	for (;;) {
		struct pollfd p = {.fd = disk_event_fd(d), .events = POLLIN};
		bool all = true;
		for (int i = 0; i < n; i++)
			all &= t[i].done;
		if (all)
			return;
		poll(&p, 1, 1000);
		disk_complete(d);
	}
}

static void tag(struct tagged *t, struct rec *r, int k, enum disk_op op, uint64_t off,
		const struct iovec *iov)
{
	memset(t, 0, sizeof(*t));
	t->req.op = op;
	t->req.offset = off;
	t->req.iov = iov;
	t->req.iovcnt = iov ? 1 : 0;
	t->req.done = tagged_done;
	t->req.opaque = t;
	t->rec = r;
	t->tag = k;
}

/* ---- tests ---- */

static int t_create_open(void)
{
	struct disk_create_options raw = {.format = DISK_FMT_RAW, .size = 1000};
	struct disk_image_info in;
	struct disk *d;

	CHECK_EQ(mkimg("a.qcow2", 3 * MiB + 1, NULL, 0), 0);
	CHECK((d = open_rw("a.qcow2")));
	CHECK_EQ(disk_size(d), 3 * MiB + 512); /* rounded up to a sector, as qemu-img does */
	CHECK(!strcmp(disk_format_name(d), "qcow2"));
	CHECK(!disk_readonly(d));
	CHECK_EQ(disk_image_info(d, 0, &in), 0);
	CHECK_EQ(in.cluster_size, CS);
	CHECK_EQ(in.qcow2_version, 3);
	CHECK_EQ(disk_image_info(d, 1, &in), -ENOENT);
	disk_close(d);
	CHECK_EQ(disk_create(P("r.img"), &raw, err, sizeof(err)), 0);
	CHECK((d = open_as("r.img", DISK_FMT_AUTO, true)));
	CHECK(!strcmp(disk_format_name(d), "raw"));
	CHECK_EQ(disk_size(d), 1024);
	CHECK(disk_readonly(d));
	disk_close(d);
	/* never overwrite unless asked */
	CHECK_EQ(mkimg("a.qcow2", MiB, NULL, 0), -EEXIST);
	CHECK(strstr(err, "already exists"));
	clean_dir();
	return 0;
}

static int t_roundtrip(void)
{
	const size_t n = 3 * CS + 1234;
	uint8_t *a = malloc(n), *b = malloc(n);
	struct iovec iov[3] = {{a, 100}, {a + 100, CS}, {a + 100 + CS, n - 100 - CS}};
	struct rec rec = {.n = 0};
	struct tagged t;
	struct disk *d;

	CHECK_EQ(mkimg("rt.qcow2", 8 * MiB, NULL, 0), 0);
	CHECK((d = open_rw("rt.qcow2")));
	fill(a, n, 1);
	CHECK_EQ(disk_pwrite(d, a, n, CS - 77), 0);
	memset(b, 0xee, n);
	CHECK_EQ(disk_pread(d, b, n, CS - 77), 0);
	CHECK(!memcmp(a, b, n));
	/* the same through the asynchronous path, three iovecs, rewritten in place */
	fill(a, n, 2);
	tag(&t, &rec, 0, DISK_OP_WRITE, CS - 77, NULL);
	t.req.iov = iov;
	t.req.iovcnt = 3;
	CHECK_EQ(disk_submit(d, &t.req), 0);
	run_until(d, &t, 1);
	CHECK_EQ(t.res, 0);
	CHECK_EQ(disk_pread(d, b, 10, 8 * MiB - 10), 0);
	CHECK(all_is(b, 10, 0));
	disk_close(d);
	CHECK((d = open_as("rt.qcow2", DISK_FMT_QCOW2, true)));
	CHECK_EQ(disk_pread(d, b, n, CS - 77), 0);
	CHECK(!memcmp(a, b, n));
	disk_close(d);
	free(a);
	free(b);
	clean_dir();
	return 0;
}

static int t_backing_cow(void)
{
	struct disk_create_options raw = {.format = DISK_FMT_RAW, .size = 4 * MiB};
	uint8_t *base = malloc(4 * MiB), *b = malloc(2 * CS), *before, *after;
	size_t l1, l2;
	struct disk *d;
	int fd;

	fill(base, 4 * MiB, 3);
	CHECK_EQ(disk_create(P("base.raw"), &raw, err, sizeof(err)), 0);
	fd = open(P("base.raw"), O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, base, 4 * MiB, 0) == 4 * MiB);
	close(fd);
	before = slurp(P("base.raw"), &l1);
	/* size 0: the backing file's; the name is relative to the overlay's directory */
	CHECK_EQ(mkimg("ov.qcow2", 0, "base.raw", 0), 0);
	CHECK((d = open_rw("ov.qcow2")));
	CHECK_EQ(disk_size(d), 4 * MiB);
	CHECK_EQ(disk_pwrite(d, "hello", 5, CS + 100), 0);
	CHECK_EQ(disk_pread(d, b, 2 * CS, CS / 2), 0);
	CHECK(!memcmp(b, base + CS / 2, CS / 2 + 100)); /* before: base data */
	CHECK(!memcmp(b + CS / 2 + 100, "hello", 5));	/* the write */
	CHECK(!memcmp(b + CS / 2 + 105, base + CS + 105, CS + CS / 2 - 105)); /* copied */
	disk_close(d);
	after = slurp(P("base.raw"), &l2);
	CHECK(before && after && l1 == l2 && !memcmp(before, after, l1));
	free(before);
	free(after);
	free(base);
	free(b);
	clean_dir();
	return 0;
}

static int t_discard_hides_backing(void)
{
	uint8_t *b = malloc(4 * CS);
	struct disk *d;

	CHECK_EQ(mkimg("base.qcow2", 2 * MiB, NULL, 0), 0);
	CHECK((d = open_rw("base.qcow2")));
	memset(b, 0x77, 4 * CS);
	CHECK_EQ(disk_pwrite(d, b, 4 * CS, 0), 0);
	disk_close(d);
	CHECK_EQ(mkimg("ov.qcow2", 0, "base.qcow2", 0), 0);
	CHECK((d = open_rw("ov.qcow2")));
	memset(b, 0x11, 2 * CS);
	CHECK_EQ(disk_pwrite(d, b, 2 * CS, 2 * CS), 0);		     /* allocated in the overlay */
	CHECK_EQ(disk_zero(d, DISK_OP_DISCARD, 0, CS), 0);	     /* whole, unallocated */
	CHECK_EQ(disk_zero(d, DISK_OP_DISCARD, CS + 10, 100), 0);    /* partial, backing */
	CHECK_EQ(disk_zero(d, DISK_OP_WRITE_ZEROES, 2 * CS, CS), 0); /* whole, allocated */
	CHECK_EQ(disk_zero(d, DISK_OP_DISCARD, 3 * CS + 1, 9), 0);   /* partial, allocated */
	CHECK_EQ(disk_pread(d, b, 4 * CS, 0), 0);
	CHECK(all_is(b, CS, 0));
	CHECK(all_is(b + CS, 10, 0x77) && all_is(b + CS + 10, 100, 0));
	CHECK(all_is(b + CS + 110, CS - 110, 0x77));
	CHECK(all_is(b + 2 * CS, CS, 0));
	CHECK(b[3 * CS] == 0x11 && all_is(b + 3 * CS + 1, 9, 0) &&
	      all_is(b + 3 * CS + 10, CS - 10, 0x11));
	disk_close(d);
	/* and after reopening */
	CHECK((d = open_as("ov.qcow2", DISK_FMT_AUTO, true)));
	CHECK_EQ(disk_pread(d, b, 4 * CS, 0), 0);
	CHECK(all_is(b, CS, 0) && all_is(b + 2 * CS, CS, 0));
	disk_close(d);
	free(b);
	clean_dir();
	return 0;
}

static int t_raw_zero(void)
{
	struct disk_create_options raw = {.format = DISK_FMT_RAW, .size = MiB};
	uint8_t *b = malloc(MiB);
	struct disk *d;

	CHECK_EQ(disk_create(P("z.img"), &raw, err, sizeof(err)), 0);
	CHECK((d = open_rw("z.img")));
	memset(b, 0x5c, MiB);
	CHECK_EQ(disk_pwrite(d, b, MiB, 0), 0);
	CHECK_EQ(disk_zero(d, DISK_OP_DISCARD, 1000, 5000), 0);
	CHECK_EQ(disk_zero(d, DISK_OP_WRITE_ZEROES, 300000, 70000), 0);
	CHECK_EQ(disk_flush(d), 0);
	CHECK_EQ(disk_pread(d, b, MiB, 0), 0);
	CHECK(all_is(b, 1000, 0x5c) && all_is(b + 1000, 5000, 0) && all_is(b + 6000, 294000, 0x5c));
	CHECK(all_is(b + 300000, 70000, 0) && all_is(b + 370000, MiB - 370000, 0x5c));
	disk_close(d);
	free(b);
	clean_dir();
	return 0;
}

/* A raw image opened without a format (probed): a guest write that would give its first
 * sector a qcow2 signature is refused (EPERM), also when two writes in flight together
 * each bring half of it, and the sector stays as it was; other writes there go on; with
 * format=raw given, the same write is the guest's business (CVE-2008-2004: else the next
 * open takes the image as qcow2 with a backing file of the guest's choosing). */
static int t_raw_sector0(void)
{
	struct disk_create_options raw = {.format = DISK_FMT_RAW, .size = MiB};
	uint8_t hdr[512] = "QFI\xfb", a[2] = "QF", b[2] = "I\xfb", r[512];
	struct iovec ia = {a, 2}, ib = {b, 2};
	struct tagged t[2];
	struct rec rec = {.n = 0};
	struct disk *d;

	CHECK_EQ(disk_create(P("p.img"), &raw, err, sizeof(err)), 0);
	CHECK((d = open_rw("p.img")));
	CHECK_EQ(disk_pwrite(d, hdr, sizeof(hdr), 0), -EPERM);
	tag(&t[0], &rec, 0, DISK_OP_WRITE, 0, &ia);
	tag(&t[1], &rec, 1, DISK_OP_WRITE, 2, &ib);
	for (int i = 0; i < 2; i++)
		CHECK_EQ(disk_submit(d, &t[i].req), 0);
	run_until(d, t, 2);
	CHECK(!t[0].res && t[1].res == -EPERM); /* the second half is the one refused */
	CHECK_EQ(disk_pread(d, r, sizeof(r), 0), 0);
	CHECK(!memcmp(r, "QF\0\0", 4));
	memset(r, 0x33, sizeof(r)); /* no signature: written */
	CHECK_EQ(disk_pwrite(d, r, sizeof(r), 0), 0);
	disk_close(d);
	CHECK((d = open_as("p.img", DISK_FMT_RAW, false)));
	CHECK_EQ(disk_pwrite(d, hdr, sizeof(hdr), 0), 0);
	CHECK_EQ(disk_pread(d, r, 4, 0), 0);
	CHECK(!memcmp(r, "QFI\xfb", 4));
	disk_close(d);
	clean_dir();
	return 0;
}

/* Two writes to halves of one unallocated cluster in flight together: the second must
 * wait for the first one's allocation, or it allocates again and one half is lost. */
static int t_same_cluster(void)
{
	uint8_t *a = malloc(CS / 2), *b = malloc(CS / 2), *r = malloc(CS);
	struct iovec ia = {a, CS / 2}, ib = {b, CS / 2}, ir = {r, CS};
	struct tagged t[3];
	struct rec rec = {.n = 0};
	struct disk *d;

	CHECK_EQ(mkimg("s.qcow2", MiB, NULL, 0), 0);
	CHECK((d = open_rw("s.qcow2")));
	memset(a, 0xaa, CS / 2);
	memset(b, 0xbb, CS / 2);
	tag(&t[0], &rec, 0, DISK_OP_WRITE, 5 * CS, &ia);
	tag(&t[1], &rec, 1, DISK_OP_WRITE, 5 * CS + CS / 2, &ib);
	tag(&t[2], &rec, 2, DISK_OP_READ, 5 * CS, &ir);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(disk_submit(d, &t[i].req), 0);
	CHECK_EQ(rec.n, 0); /* done never runs inside disk_submit */
	run_until(d, t, 3);
	CHECK(!t[0].res && !t[1].res && !t[2].res);
	CHECK_EQ(disk_pread(d, r, CS, 5 * CS), 0);
	CHECK(all_is(r, CS / 2, 0xaa) && all_is(r + CS / 2, CS / 2, 0xbb));
	disk_close(d);
	/* exactly one data cluster: header, refcount table and block, L1, L2, data */
	{
		struct stat st;
		CHECK(!stat(P("s.qcow2"), &st));
		CHECK_EQ(st.st_size, 6 * CS);
	}
	free(a);
	free(b);
	free(r);
	clean_dir();
	return 0;
}

/* A write submitted after a FLUSH waits for it; one submitted before is part of it. */
static int t_flush_barrier(void)
{
	uint8_t *a = calloc(1, CS);
	struct iovec io = {a, CS};
	struct tagged t[3];
	struct rec rec = {.n = 0};
	struct disk *d;

	CHECK_EQ(mkimg("f.qcow2", MiB, NULL, 0), 0);
	CHECK((d = open_rw("f.qcow2")));
	tag(&t[0], &rec, 0, DISK_OP_WRITE, 0, &io);
	tag(&t[1], &rec, 1, DISK_OP_FLUSH, 0, NULL);
	tag(&t[2], &rec, 2, DISK_OP_WRITE, 3 * CS, &io);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(disk_submit(d, &t[i].req), 0);
	run_until(d, t, 3);
	CHECK_EQ(rec.n, 3);
	CHECK(rec.order[0] == 0 && rec.order[1] == 1 && rec.order[2] == 2);
	disk_close(d);
	free(a);
	clean_dir();
	return 0;
}

/* Two disks on one thread: separate rings, event fds and flush barriers. */
static int t_two_disks(void)
{
	uint8_t *a = malloc(CS), *b = malloc(CS);
	struct iovec ia = {a, CS}, ib = {b, CS};
	struct tagged t[4];
	struct rec rec = {.n = 0};
	struct disk *d1, *d2;

	memset(a, 0x1a, CS);
	memset(b, 0x2b, CS);
	CHECK_EQ(mkimg("d1.qcow2", MiB, NULL, 0), 0);
	CHECK_EQ(mkimg("d2.qcow2", MiB, NULL, 0), 0);
	CHECK((d1 = open_rw("d1.qcow2")) && (d2 = open_rw("d2.qcow2")));
	CHECK(disk_event_fd(d1) != disk_event_fd(d2));
	tag(&t[0], &rec, 0, DISK_OP_FLUSH, 0, NULL);
	tag(&t[1], &rec, 1, DISK_OP_WRITE, 0, &ia);
	tag(&t[2], &rec, 2, DISK_OP_WRITE, 0, &ib);
	tag(&t[3], &rec, 3, DISK_OP_FLUSH, 0, NULL);
	CHECK_EQ(disk_submit(d1, &t[0].req), 0);
	CHECK_EQ(disk_submit(d1, &t[1].req), 0);
	CHECK_EQ(disk_submit(d2, &t[2].req), 0);
	CHECK_EQ(disk_submit(d2, &t[3].req), 0);
	for (;;) {
		bool all = true;
		for (int i = 0; i < 4; i++)
			all &= t[i].done;
		if (all)
			break;
		usleep(100);
		disk_complete(d1);
		disk_complete(d2);
	}
	for (int i = 0; i < 4; i++)
		CHECK_EQ(t[i].res, 0);
	disk_close(d1);
	disk_close(d2);
	CHECK((d1 = open_as("d1.qcow2", DISK_FMT_AUTO, true)));
	CHECK((d2 = open_as("d2.qcow2", DISK_FMT_AUTO, true)));
	CHECK_EQ(disk_pread(d1, b, CS, 0), 0);
	CHECK(all_is(b, CS, 0x1a));
	CHECK_EQ(disk_pread(d2, b, CS, 0), 0);
	CHECK(all_is(b, CS, 0x2b));
	disk_close(d1);
	disk_close(d2);
	free(a);
	free(b);
	clean_dir();
	return 0;
}

static int t_event_fd(void)
{
	uint8_t b[512];
	struct iovec io = {b, sizeof(b)};
	struct tagged t;
	struct rec rec = {.n = 0};
	struct pollfd p;
	struct disk *d;

	CHECK_EQ(mkimg("e.qcow2", MiB, NULL, 0), 0);
	CHECK((d = open_as("e.qcow2", DISK_FMT_AUTO, true)));
	/* unallocated: finished without any I/O, still reported through the eventfd */
	tag(&t, &rec, 0, DISK_OP_READ, 0, &io);
	CHECK_EQ(disk_submit(d, &t.req), 0);
	CHECK(!t.done);
	p = (struct pollfd){.fd = disk_event_fd(d), .events = POLLIN};
	CHECK_EQ(poll(&p, 1, 5000), 1);
	disk_complete(d);
	CHECK(t.done && t.res == 0);
	disk_close(d);
	clean_dir();
	return 0;
}

static int t_bad_requests(void)
{
	uint8_t b[16];
	struct iovec io = {b, sizeof(b)};
	struct disk_req q = {.op = DISK_OP_READ, .offset = MiB - 8, .iov = &io, .iovcnt = 1};
	struct disk *d;

	CHECK_EQ(mkimg("q.qcow2", MiB, NULL, 0), 0);
	CHECK((d = open_as("q.qcow2", DISK_FMT_AUTO, true)));
	CHECK_EQ(disk_submit(d, &q), -EINVAL); /* past the end */
	q.offset = UINT64_MAX - 4;
	CHECK_EQ(disk_submit(d, &q), -EINVAL); /* wraps */
	q.offset = 0;
	q.iovcnt = 0;
	CHECK_EQ(disk_submit(d, &q), -EINVAL);
	q.iovcnt = DISK_MAX_IOV + 1;
	CHECK_EQ(disk_submit(d, &q), -EINVAL);
	q.op = (enum disk_op)99;
	q.iovcnt = 1;
	CHECK_EQ(disk_submit(d, &q), -EINVAL);
	CHECK_EQ(disk_pwrite(d, b, 16, 0), -EROFS);
	CHECK_EQ(disk_zero(d, DISK_OP_DISCARD, 0, 512), -EROFS);
	CHECK_EQ(disk_zero(d, DISK_OP_WRITE_ZEROES, MiB, 1), -EINVAL);
	CHECK_EQ(disk_flush(d), 0); /* nothing to do read-only */
	disk_close(d);
	clean_dir();
	return 0;
}

/* Opening `name` fails with `want` and a message containing `text`, writing nothing. */
static int refused(const char *name, enum disk_format fmt, bool ro, int want, const char *text)
{
	size_t l1 = 0, l2 = 0;
	uint8_t *before = slurp(P(name), &l1), *after;
	struct disk_options o = {.format = fmt, .readonly = ro};
	struct disk *d = NULL;
	int r = disk_open(P(name), &o, &d, err, sizeof(err));

	after = slurp(P(name), &l2);
	if (r != want || !strstr(err, text) || strchr(err, '\n') ||
	    (before && (!after || l1 != l2 || memcmp(before, after, l1)))) {
		snprintf(unit_why, sizeof(unit_why), "%s: got %d '%.300s', want %d '%s'", name, r,
			 err, want, text);
		disk_close(d);
		free(before);
		free(after);
		return 1;
	}
	free(before);
	free(after);
	return 0;
}

#define REFUSED(...)                                                                               \
	do {                                                                                       \
		if (refused(__VA_ARGS__))                                                          \
			return 1;                                                                  \
	} while (0)

static int t_bad_headers(void)
{
	uint8_t feat[8 + 48] = {0x68, 0x03, 0xf8, 0x57, 0, 0, 0, 48, 0, 9};

	REFUSED("missing.qcow2", DISK_FMT_AUTO, true, -ENOENT, "No such file");
	CHECK(!mkdir(P("dir.qcow2"), 0700));
	REFUSED("dir.qcow2", DISK_FMT_AUTO, true, -EISDIR, "directory");
	rmdir(P("dir.qcow2"));

	CHECK_EQ(mkimg("trunc.qcow2", MiB, NULL, 0), 0);
	CHECK(!truncate(P("trunc.qcow2"), 50));
	REFUSED("trunc.qcow2", DISK_FMT_AUTO, true, -EINVAL, "truncated qcow2 header");

	CHECK_EQ(mkimg("cb.qcow2", MiB, NULL, 0), 0);
	CHECK(!patch_be32("cb.qcow2", 20, 30));
	REFUSED("cb.qcow2", DISK_FMT_AUTO, true, -EINVAL, "cluster_bits 30");

	CHECK_EQ(mkimg("l1.qcow2", MiB, NULL, 0), 0);
	CHECK(!patch_be64("l1.qcow2", 40, 1000 * (uint64_t)CS));
	REFUSED("l1.qcow2", DISK_FMT_AUTO, true, -EINVAL, "L1 table");

	CHECK_EQ(mkimg("rt.qcow2", MiB, NULL, 0), 0);
	CHECK(!patch_be64("rt.qcow2", 48, 12345));
	REFUSED("rt.qcow2", DISK_FMT_AUTO, true, -EINVAL, "refcount table");

	CHECK_EQ(mkimg("inc.qcow2", MiB, NULL, 0), 0);
	CHECK(!patch_be64("inc.qcow2", 72, 1ull << 5 | 1ull << 9));
	REFUSED("inc.qcow2", DISK_FMT_AUTO, true, -ENOTSUP, "bit 5, bit 9");
	/* named by the image's own feature name table */
	memcpy(feat + 10, "frobnication", 12);
	CHECK(!patch("inc.qcow2", 112, feat, sizeof(feat)));
	REFUSED("inc.qcow2", DISK_FMT_AUTO, true, -ENOTSUP, "bit 5, frobnication");

	CHECK_EQ(mkimg("ext.qcow2", MiB, NULL, 0), 0);
	CHECK(!patch_be64("ext.qcow2", 72, 1ull << 2));
	REFUSED("ext.qcow2", DISK_FMT_AUTO, true, -ENOTSUP, "external data file");

	CHECK_EQ(mkimg("enc.qcow2", MiB, NULL, 0), 0);
	CHECK(!patch_be32("enc.qcow2", 32, 2));
	REFUSED("enc.qcow2", DISK_FMT_AUTO, true, -ENOTSUP, "encrypted");

	CHECK_EQ(mkimg("ro.qcow2", MiB, NULL, 0), 0);
	CHECK(!patch_be32("ro.qcow2", 96, 7));
	REFUSED("ro.qcow2", DISK_FMT_AUTO, true, -EINVAL, "refcount_order 7");

	CHECK_EQ(mkimg("hl.qcow2", MiB, NULL, 0), 0);
	CHECK(!patch_be32("hl.qcow2", 100, 100));
	REFUSED("hl.qcow2", DISK_FMT_AUTO, true, -EINVAL, "header_length");

	/* probing: never raw for something that looks like an image */
	CHECK(!patch("raw.qcow2", 0, "just bytes", 10));
	REFUSED("raw.qcow2", DISK_FMT_AUTO, true, -EINVAL, "no qcow2 magic");
	CHECK(!patch("disk.vmdk", 0, "KDMV", 4));
	REFUSED("disk.vmdk", DISK_FMT_AUTO, true, -EINVAL, "VMDK");
	REFUSED("disk.vmdk", DISK_FMT_QCOW2, true, -EINVAL, "not a qcow2 image");
	{
		struct disk *d = open_as("disk.vmdk", DISK_FMT_RAW, true);
		CHECK(d);
		disk_close(d);
	}
	clean_dir();
	return 0;
}

/* What opens read-only but not for writing. */
static int t_readonly_only(void)
{
	struct disk *d;

	CHECK_EQ(mkimg("v2.qcow2", MiB, NULL, 0), 0);
	CHECK(!patch_be32("v2.qcow2", 4, 2));
	REFUSED("v2.qcow2", DISK_FMT_AUTO, false, -EROFS, "version 2");
	CHECK((d = open_as("v2.qcow2", DISK_FMT_AUTO, true)));
	disk_close(d);

	CHECK_EQ(mkimg("dirty.qcow2", MiB, NULL, 0), 0);
	CHECK(!patch_be64("dirty.qcow2", 72, 1));
	REFUSED("dirty.qcow2", DISK_FMT_AUTO, false, -EROFS, "dirty");
	CHECK((d = open_as("dirty.qcow2", DISK_FMT_AUTO, true)));
	disk_close(d);

	CHECK_EQ(mkimg("corrupt.qcow2", MiB, NULL, 0), 0);
	CHECK(!patch_be64("corrupt.qcow2", 72, 2));
	REFUSED("corrupt.qcow2", DISK_FMT_AUTO, false, -EROFS, "marked corrupt");

	CHECK_EQ(mkimg("snap.qcow2", MiB, NULL, 0), 0);
	CHECK(!patch_be32("snap.qcow2", 60, 1) && !patch_be64("snap.qcow2", 64, 5 * CS));
	REFUSED("snap.qcow2", DISK_FMT_AUTO, false, -EROFS, "snapshots");

	/* unknown auto-clear bits: a writer clears them before writing, a reader does not */
	CHECK_EQ(mkimg("ac.qcow2", MiB, NULL, 0), 0);
	CHECK(!patch_be64("ac.qcow2", 88, 3));
	CHECK((d = open_as("ac.qcow2", DISK_FMT_AUTO, true)));
	disk_close(d);
	CHECK_EQ(file_be64("ac.qcow2", 88), 3);
	CHECK((d = open_rw("ac.qcow2")));
	disk_close(d);
	CHECK_EQ(file_be64("ac.qcow2", 88), 0);
	clean_dir();
	return 0;
}

static int t_backing_errors(void)
{
	char name[32], prev[32];
	struct disk *d;

	CHECK_EQ(mkimg("b.qcow2", MiB, NULL, 0), 0);
	CHECK_EQ(mkimg("o.qcow2", 0, "b.qcow2", 0), 0);
	CHECK(!unlink(P("b.qcow2")));
	REFUSED("o.qcow2", DISK_FMT_AUTO, true, -ENOENT, "backing file");
	CHECK(strstr(err, "b.qcow2: cannot open: No such file"));
	/* a missing backing file cannot be named at create time either */
	CHECK_EQ(mkimg("o2.qcow2", MiB, "nope.qcow2", 0), -ENOENT);
	CHECK(access(P("o2.qcow2"), F_OK) != 0);

	/* an image is not created over one in its own backing chain (--force would wipe what
	 * it is to read): x.qcow2 --backing x.qcow2, y --backing x where x -> y */
	CHECK_EQ(mkimg("y.qcow2", MiB, NULL, 0), 0);
	CHECK_EQ(mkimg("x.qcow2", 0, "y.qcow2", 0), 0);
	{
		struct disk_create_options o = {
			.format = DISK_FMT_QCOW2, .backing = "x.qcow2", .overwrite = true};
		struct stat before, after;
		CHECK(!stat(P("y.qcow2"), &before));
		CHECK_EQ(disk_create(P("y.qcow2"), &o, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, "in its own backing chain"));
		CHECK_EQ(disk_create(P("x.qcow2"), &o, err, sizeof(err)), -EINVAL);
		CHECK(!stat(P("y.qcow2"), &after) && after.st_mtime == before.st_mtime &&
		      after.st_size == before.st_size);
		/* x -> y -> x all the same (made by a rename, as another tool may) */
		CHECK_EQ(disk_create(P("y2.qcow2"), &o, err, sizeof(err)), 0);
		CHECK(!rename(P("y2.qcow2"), P("y.qcow2")));
	}
	REFUSED("x.qcow2", DISK_FMT_AUTO, false, -ELOOP, "backing chain loops");
	CHECK(strstr(err, "x.qcow2 -> ") && strstr(err, "y.qcow2 -> "));

	/* DISK_MAX_CHAIN backing files are fine, one more is not */
	CHECK_EQ(mkimg("c0.qcow2", MiB, NULL, 0), 0);
	for (int i = 1; i <= DISK_MAX_CHAIN + 1; i++) {
		snprintf(prev, sizeof(prev), "c%d.qcow2", i - 1);
		snprintf(name, sizeof(name), "c%d.qcow2", i);
		CHECK_EQ(mkimg(name, 0, prev, 0), 0);
	}
	snprintf(name, sizeof(name), "c%d.qcow2", DISK_MAX_CHAIN);
	CHECK((d = open_rw(name)));
	disk_close(d);
	snprintf(name, sizeof(name), "c%d.qcow2", DISK_MAX_CHAIN + 1);
	REFUSED(name, DISK_FMT_AUTO, true, -ELOOP, "longer than");
	clean_dir();
	return 0;
}

static int t_locks(void)
{
	struct disk *a, *b;

	CHECK_EQ(mkimg("l.qcow2", MiB, NULL, 0), 0);
	CHECK((a = open_rw("l.qcow2")));
	REFUSED("l.qcow2", DISK_FMT_AUTO, false, -EBUSY, "in use");
	REFUSED("l.qcow2", DISK_FMT_AUTO, true, -EBUSY, "in use");
	disk_close(a);
	CHECK((a = open_as("l.qcow2", DISK_FMT_AUTO, true)));
	CHECK((b = open_as("l.qcow2", DISK_FMT_AUTO, true))); /* readers share */
	REFUSED("l.qcow2", DISK_FMT_AUTO, false, -EBUSY, "in use");
	disk_close(a);
	disk_close(b);
	/* a base in use as a backing file cannot be opened for writing */
	CHECK_EQ(mkimg("ov.qcow2", 0, "l.qcow2", 0), 0);
	CHECK((a = open_rw("ov.qcow2")));
	REFUSED("l.qcow2", DISK_FMT_AUTO, false, -EBUSY, "in use");
	disk_close(a);
	CHECK((a = open_rw("l.qcow2")));
	disk_close(a);
	clean_dir();
	return 0;
}

/* no_locks: the chain of an overlay whose base is open for writing can be looked at
 * (read-only only), taking no lock on any of its files. */
static int t_no_locks(void)
{
	struct disk_options o = {.format = DISK_FMT_AUTO, .readonly = true, .no_locks = true};
	struct disk_image_info info;
	struct disk *a, *b;

	CHECK_EQ(mkimg("l.qcow2", MiB, NULL, 0), 0);
	CHECK_EQ(mkimg("ov.qcow2", 0, "l.qcow2", 0), 0);
	CHECK((a = open_rw("l.qcow2")));
	REFUSED("ov.qcow2", DISK_FMT_AUTO, true, -EBUSY, "in use");
	CHECK_EQ(disk_open(P("ov.qcow2"), &o, &b, err, sizeof(err)), 0);
	CHECK_EQ(disk_image_info(b, 1, &info), 0);
	CHECK(!strcmp(info.path, P("l.qcow2")));
	disk_close(a);
	CHECK((a = open_rw("ov.qcow2"))); /* b holds no lock on the overlay either */
	disk_close(a);
	disk_close(b);
	o.readonly = false;
	CHECK_EQ(disk_open(P("ov.qcow2"), &o, &b, err, sizeof(err)), -EINVAL);
	clean_dir();
	return 0;
}

/* A FIFO, a socket or a character device is no image: refused before it is opened (a
 * FIFO's open blocked for good, named as an image or as a backing file), and the real
 * path of what an image has open comes from its descriptor. */
static int t_not_a_file(void)
{
	struct disk_options o = {.format = DISK_FMT_AUTO, .readonly = true};
	char real[PATH_MAX];
	struct disk *d = NULL;

	/* the overlay is made over a real image, which then becomes a FIFO */
	CHECK_EQ(mkimg("fifo", MiB, NULL, 0), 0);
	CHECK_EQ(mkimg("over-fifo.qcow2", 0, "fifo", 0), 0);
	CHECK_EQ(unlink(P("fifo")), 0);
	CHECK_EQ(mkfifo(P("fifo"), 0600), 0);
	CHECK_EQ(disk_open(P("fifo"), &o, &d, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not a regular file or block device"));
	CHECK_EQ(disk_open(P("over-fifo.qcow2"), &o, &d, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not a regular file or block device"));
	o.format = DISK_FMT_RAW;
	o.readonly = false;
	CHECK_EQ(disk_open(P("fifo"), &o, &d, err, sizeof(err)), -EINVAL);
	CHECK_EQ(disk_open("/dev/null", &o, &d, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not a regular file or block device"));
	CHECK_EQ(mkimg("r.qcow2", MiB, NULL, 0), 0);
	CHECK_EQ(symlink(P("r.qcow2"), P("link.qcow2")), 0);
	CHECK((d = open_as("link.qcow2", DISK_FMT_QCOW2, true)));
	CHECK_EQ(disk_image_real_path(d, 0, real, sizeof(real)), 0);
	CHECK(!strcmp(real, P("r.qcow2")));
	CHECK_EQ(disk_image_real_path(d, 1, real, sizeof(real)), -ENOENT);
	disk_close(d);
	clean_dir();
	return 0;
}

/* An L2 entry pointing at a misaligned offset: -EIO for the request, never a crash; the
 * writable image then refuses all writes. */
static int t_corrupt_l2(void)
{
	uint8_t b[4096];
	uint64_t l2;
	struct disk *d;

	CHECK_EQ(mkimg("c.qcow2", MiB, NULL, 0), 0);
	CHECK((d = open_rw("c.qcow2")));
	memset(b, 1, sizeof(b));
	CHECK_EQ(disk_pwrite(d, b, sizeof(b), 0), 0);
	CHECK_EQ(disk_pwrite(d, b, sizeof(b), 2 * CS), 0);
	disk_close(d);
	l2 = file_be64("c.qcow2", 3 * CS) & 0x00fffffffffffe00ull; /* L1[0] */
	CHECK(l2 == 4 * CS);
	CHECK(!patch_be64("c.qcow2", (off_t)l2, (1ull << 63) | (5 * CS + 512)));
	CHECK((d = open_as("c.qcow2", DISK_FMT_AUTO, true)));
	CHECK_EQ(disk_pread(d, b, sizeof(b), 0), -EIO);
	CHECK_EQ(disk_pread(d, b, sizeof(b), 2 * CS), 0); /* other clusters still read */
	disk_close(d);
	CHECK((d = open_rw("c.qcow2")));
	CHECK_EQ(disk_pwrite(d, b, 512, 0), -EIO);
	CHECK_EQ(disk_pwrite(d, b, 512, 2 * CS), -EIO); /* stopped writing altogether */
	disk_close(d);
	/* and marked the image corrupt, as qemu does: the next writer is refused */
	CHECK_EQ(file_be64("c.qcow2", 72), 2);
	REFUSED("c.qcow2", DISK_FMT_AUTO, false, -EROFS, "marked corrupt");
	clean_dir();
	return 0;
}

/* L2 entries aimed at the image's own L1 table, or far past the file's end: corrupt
 * (a write would land on the L1 table, or grow the file to 1 TiB), so reads and writes
 * fail and the file stays as it was. */
static int t_corrupt_l2_targets(void)
{
	static const uint64_t targets[] = {3 * CS, 1ull << 40};
	uint8_t b[4096];
	struct disk *d;
	struct stat st;

	for (size_t k = 0; k < sizeof(targets) / sizeof(targets[0]); k++) {
		CHECK_EQ(mkimg("t.qcow2", MiB, NULL, 0), 0);
		CHECK((d = open_rw("t.qcow2")));
		memset(b, 1, sizeof(b));
		CHECK_EQ(disk_pwrite(d, b, sizeof(b), 0), 0);
		disk_close(d);
		CHECK(file_be64("t.qcow2", 40) == 3 * CS); /* the L1 table */
		CHECK(!patch_be64("t.qcow2", 4 * CS, (1ull << 63) | targets[k]));
		CHECK((d = open_rw("t.qcow2")));
		CHECK_EQ(disk_pwrite(d, b, sizeof(b), 0), -EIO);
		CHECK_EQ(disk_pread(d, b, sizeof(b), 0), -EIO);
		disk_close(d);
		CHECK(!stat(P("t.qcow2"), &st) && st.st_size <= 16 * CS);
		CHECK_EQ(file_be64("t.qcow2", 3 * CS) & 0x00fffffffffffe00ull,
			 4 * CS); /* L1 intact */
		clean_dir();
	}
	return 0;
}

/*
 * The image of the overlap tests: 1 MiB, 64 KiB clusters, guest clusters 0 and 1 written.
 * Layout (checked): header, refcount table at 1, its block at 2, L1 at 3, the L2 table at
 * 4, data at 5 and 6. *img: the file's bytes after `patch_off` got `patch_val`.
 */
static int overlap_image(off_t patch_off, uint64_t patch_val, uint8_t **img, size_t *len)
{
	uint8_t b[4096];
	struct disk *d;

	clean_dir(); /* what a failed check left */
	CHECK_EQ(mkimg("o.qcow2", MiB, NULL, 0), 0);
	CHECK((d = open_rw("o.qcow2")));
	memset(b, 1, sizeof(b));
	CHECK_EQ(disk_pwrite(d, b, sizeof(b), 0), 0);
	CHECK_EQ(disk_pwrite(d, b, sizeof(b), CS), 0);
	disk_close(d);
	CHECK_EQ(file_be64("o.qcow2", 48), CS);	    /* refcount table */
	CHECK_EQ(file_be64("o.qcow2", CS), 2 * CS); /* its first block */
	CHECK_EQ(file_be64("o.qcow2", 40), 3 * CS); /* L1 */
	CHECK_EQ(file_be64("o.qcow2", 3 * CS), (1ull << 63) | 4 * CS);
	CHECK_EQ(file_be64("o.qcow2", 4 * CS), (1ull << 63) | 5 * CS);
	CHECK_EQ(file_be64("o.qcow2", 4 * CS + 8), (1ull << 63) | 6 * CS);
	CHECK(!patch_be64("o.qcow2", patch_off, patch_val));
	CHECK((*img = slurp(P("o.qcow2"), len)));
	return 0;
}

/* After a corrupt image was used: the file holds `img` but for the corrupt bit. */
static int only_corrupt_bit(const uint8_t *img, size_t len)
{
	size_t now_len;
	uint8_t *now = slurp(P("o.qcow2"), &now_len);

	CHECK(now);
	CHECK_EQ(now_len, len);
	CHECK_EQ(file_be64("o.qcow2", 72), 2); /* incompatible features: corrupt */
	CHECK(!memcmp(now, img, 72) && !memcmp(now + 80, img + 80, len - 80));
	free(now);
	return 0;
}

/* L2 entries aimed at an L2 table (its own) or at a refcount block, or a preallocated
 * zero cluster there (a write would free it): reads and writes through them fail
 * (read-only too), and nothing but the corrupt bit is written. */
static int t_corrupt_l2_meta(void)
{
	static const uint64_t targets[] = {4 * CS, 2 * CS, 4 * CS | 1};
	uint8_t b[4096], *img;
	struct disk *d;
	size_t len;

	for (size_t k = 0; k < sizeof(targets) / sizeof(targets[0]); k++) {
		CHECK(!overlap_image(4 * CS, (1ull << 63) | targets[k], &img, &len));
		CHECK((d = open_as("o.qcow2", DISK_FMT_AUTO, true)));
		CHECK_EQ(disk_pread(d, b, sizeof(b), 0), -EIO);
		CHECK_EQ(disk_pread(d, b, sizeof(b), CS), 0); /* the other entry still reads */
		CHECK(all_is(b, sizeof(b), 1));
		disk_close(d);
		CHECK((d = open_rw("o.qcow2")));
		memset(b, 0xee, sizeof(b));
		CHECK_EQ(disk_pwrite(d, b, sizeof(b), 0), -EIO);
		CHECK_EQ(disk_pread(d, b, sizeof(b), 0), -EIO);
		disk_close(d);
		CHECK(!only_corrupt_bit(img, len));
		free(img);
		clean_dir();
	}
	return 0;
}

/* L1 entries whose L2 table would be the refcount table, its block or the L1 table
 * itself: reads and writes fail, nothing but the corrupt bit is written. */
static int t_corrupt_l1_meta(void)
{
	static const uint64_t targets[] = {CS, 2 * CS, 3 * CS};
	uint8_t b[4096], *img;
	struct disk *d;
	size_t len;

	for (size_t k = 0; k < sizeof(targets) / sizeof(targets[0]); k++) {
		CHECK(!overlap_image(3 * CS, (1ull << 63) | targets[k], &img, &len));
		CHECK((d = open_as("o.qcow2", DISK_FMT_AUTO, true)));
		CHECK_EQ(disk_pread(d, b, sizeof(b), 0), -EIO);
		disk_close(d);
		CHECK((d = open_rw("o.qcow2")));
		memset(b, 0xee, sizeof(b));
		CHECK_EQ(disk_pwrite(d, b, sizeof(b), 0), -EIO);
		CHECK_EQ(disk_pwrite(d, b, sizeof(b), 2 * CS), -EIO);
		disk_close(d);
		CHECK(!only_corrupt_bit(img, len));
		free(img);
		clean_dir();
	}
	return 0;
}

/* Refcounts that disagree with where the metadata is: the L2 table's cluster with
 * refcount 0 (the allocator must not hand it out for new data), and the refcount table
 * naming the L2 table as a refcount block (refcount updates would rewrite it). */
static int t_corrupt_meta_refcounts(void)
{
	uint8_t b[4096], *img;
	struct disk *d;
	size_t len;

	/* the block's entries for clusters 4-7 (16 bits each): 0, 1, 1, 0 */
	CHECK(!overlap_image(2 * CS + 8, 0x0000000100010000ull, &img, &len));
	CHECK((d = open_rw("o.qcow2")));
	memset(b, 0xee, sizeof(b));
	CHECK_EQ(disk_pwrite(d, b, sizeof(b), 2 * CS), -EIO); /* needs a new cluster */
	disk_close(d);
	CHECK(!only_corrupt_bit(img, len));
	free(img);
	clean_dir();

	CHECK(!overlap_image(CS, 4 * CS, &img, &len));
	CHECK((d = open_rw("o.qcow2")));
	CHECK_EQ(disk_pwrite(d, b, sizeof(b), 2 * CS), -EIO);
	disk_close(d);
	CHECK(!only_corrupt_bit(img, len));
	free(img);
	clean_dir();
	return 0;
}

/* 512-byte clusters: a one-cluster refcount table covers 8 MiB of file, so writing 10 MiB
 * moves the table (header updated at a flush) and adds refcount blocks. */
static int t_refcount_growth(void)
{
	const size_t n = 10 * MiB;
	uint8_t *a = malloc(n), *b = malloc(n);
	uint64_t rt0, rt1;
	struct disk *d;

	CHECK_EQ(mkimg("g.qcow2", 16 * MiB, NULL, 9), 0);
	rt0 = file_be64("g.qcow2", 48);
	CHECK((d = open_rw("g.qcow2")));
	fill(a, n, 9);
	for (size_t off = 0; off < n; off += 256 * 1024)
		CHECK_EQ(disk_pwrite(d, a + off, 256 * 1024, off + 3 * MiB), 0);
	disk_close(d);
	rt1 = file_be64("g.qcow2", 48);
	CHECK(rt1 != rt0);
	CHECK((d = open_as("g.qcow2", DISK_FMT_AUTO, false)));
	CHECK_EQ(disk_pread(d, b, n, 3 * MiB), 0);
	CHECK(!memcmp(a, b, n));
	/* and it keeps allocating after reopening */
	CHECK_EQ(disk_pwrite(d, a, 4096, 0), 0);
	disk_close(d);
	free(a);
	free(b);
	clean_dir();
	return 0;
}

/* Every allocation failing once, in turn: errors, no crash, no leak (ASan), no hang. */
static int t_alloc_failures(void)
{
	uint8_t *b = malloc(3 * CS);
	int ok = 0;

	memset(b, 0x3c, 3 * CS);
	CHECK_EQ(mkimg("base.qcow2", MiB, NULL, 0), 0);
	for (unsigned long n = 1; n < 400; n++) {
		struct disk *d;
		CHECK_EQ(mkimg("m.qcow2", 0, "base.qcow2", 12), 0);
		core_alloc_fail_after(n);
		if (disk_open(P("m.qcow2"), NULL, &d, err, sizeof(err)) == 0) {
			int r = disk_pwrite(d, b, 3 * CS, CS + 100);
			if (!r)
				r = disk_zero(d, DISK_OP_WRITE_ZEROES, 0, 2 * CS);
			if (!r)
				r = disk_flush(d);
			if (!r)
				r = disk_pread(d, b, 3 * CS, CS + 100);
			CHECK(r == 0 || r == -ENOMEM || r == -EIO);
			ok += !r;
			disk_close(d);
		}
		core_alloc_fail_after(0);
		CHECK(!unlink(P("m.qcow2")));
	}
	CHECK(ok > 0);
	free(b);
	clean_dir();
	return 0;
}

/* Replication's written blocks: every modifying request marks the 64 KiB blocks it
 * touches, a take returns them once and forgets them; a read-only disk has none. */
/* L2 tables are cached in slices: reading one block under each of eight L2 tables (a
 * 4 GiB image of 64 KiB clusters) caches a few KiB per table, not the 64 KiB table
 * (whole tables were most of a Debian boot's I/O-thread heap). */
static int t_l2_slices(void)
{
	uint8_t a[4096], b[4096];
	struct disk_image_info info;
	struct disk *d;

	CHECK_EQ(mkimg("sl.qcow2", 4096ull * MiB, NULL, 16), 0);
	CHECK((d = open_rw("sl.qcow2")));
	for (unsigned t = 0; t < 8; t++) {
		fill(a, sizeof(a), t);
		CHECK_EQ(disk_pwrite(d, a, sizeof(a), (uint64_t)t * 512 * MiB + 3 * CS), 0);
	}
	disk_close(d);
	CHECK((d = open_as("sl.qcow2", DISK_FMT_QCOW2, true)));
	for (unsigned t = 0; t < 8; t++) {
		fill(a, sizeof(a), t);
		CHECK_EQ(disk_pread(d, b, sizeof(b), (uint64_t)t * 512 * MiB + 3 * CS), 0);
		CHECK(!memcmp(a, b, sizeof(a)));
	}
	CHECK_EQ(disk_image_info(d, 0, &info), 0);
	CHECK(info.metadata_cached >= 8 * 4096);
	CHECK(info.metadata_cached <= 8 * 4096 + 2 * CS); /* whole tables: 8 * CS */
	disk_close(d);
	clean_dir();
	return 0;
}

/* A read-only image (a backing file, or --disk ...,readonly=on) does without its refcount
 * table: refcounts change only with writes, and the table is a cluster or more of memory.
 * The writable overlay above it has its own; reads through both still work. */
static int t_readonly_no_refcounts(void)
{
	uint8_t a[4096], b[4096];
	struct disk_image_info info;
	struct disk *d;

	CHECK_EQ(mkimg("rb.qcow2", 64 * MiB, NULL, 16), 0);
	CHECK((d = open_rw("rb.qcow2")));
	fill(a, sizeof(a), 5);
	CHECK_EQ(disk_pwrite(d, a, sizeof(a), 5 * CS + 512), 0);
	disk_close(d);
	CHECK_EQ(mkimg("ro.qcow2", 64 * MiB, P("rb.qcow2"), 16), 0);
	CHECK((d = open_rw("ro.qcow2")));
	CHECK_EQ(disk_image_info(d, 0, &info), 0);
	CHECK(info.metadata_cached >= CS); /* the overlay's refcount table: one cluster */
	CHECK_EQ(disk_image_info(d, 1, &info), 0);
	CHECK(info.metadata_cached < CS);
	CHECK_EQ(disk_pread(d, b, sizeof(b), 5 * CS + 512), 0);
	CHECK(!memcmp(a, b, sizeof(a)));
	fill(a, sizeof(a), 6);
	CHECK_EQ(disk_pwrite(d, a, sizeof(a), 5 * CS + 1024), 0); /* copy-on-write */
	CHECK_EQ(disk_pread(d, b, sizeof(b), 5 * CS + 1024), 0);
	CHECK(!memcmp(a, b, sizeof(a)));
	disk_close(d);
	CHECK((d = open_as("rb.qcow2", DISK_FMT_QCOW2, true)));
	CHECK_EQ(disk_image_info(d, 0, &info), 0);
	CHECK(info.metadata_cached < CS);
	CHECK_EQ(disk_pwrite(d, a, sizeof(a), 0), -EROFS);
	disk_close(d);
	clean_dir();
	return 0;
}

static int t_written_blocks(void)
{
	uint8_t buf[70000] = {0};
	uint64_t bits[1] = {0};
	struct disk *d;

	CHECK_EQ(mkimg("w.qcow2", MiB, NULL, 0), 0);
	d = open_as("w.qcow2", DISK_FMT_AUTO, false);
	CHECK(d);
	CHECK_EQ(disk_written_blocks(d), 16);
	CHECK_EQ(disk_written_take(d, bits), 0);
	CHECK_EQ(bits[0], 0); /* nothing written since the open */
	CHECK_EQ(disk_pread(d, buf, 4096, 0), 0);
	CHECK_EQ(disk_pwrite(d, buf, 10, 100), 0);
	CHECK_EQ(disk_pwrite(d, buf, 65536, 204800), 0); /* blocks 3 and 4 */
	CHECK_EQ(disk_zero(d, DISK_OP_DISCARD, MiB - 1, 1), 0);
	CHECK_EQ(disk_zero(d, DISK_OP_WRITE_ZEROES, 7 * 65536, 65536), 0);
	CHECK_EQ(disk_flush(d), 0);
	CHECK_EQ(disk_written_take(d, bits), 0);
	CHECK_EQ(bits[0], (1u << 0) | (1u << 3) | (1u << 4) | (1u << 7) | (1u << 15));
	bits[0] = 0;
	CHECK_EQ(disk_written_take(d, bits), 0);
	CHECK_EQ(bits[0], 0);
	disk_close(d);
	d = open_as("w.qcow2", DISK_FMT_AUTO, true);
	CHECK(d);
	CHECK_EQ(disk_written_blocks(d), 0);
	disk_close(d);
	clean_dir();
	return 0;
}

/* Sequential 1 MiB requests of 256 scattered 4 KiB pieces (as a guest's fio or dd sends
 * them through virtio-blk), 8 in flight, submitted plugged: each is one host writev or
 * readv, on fresh qcow2 clusters (allocated one after the other), on the same clusters
 * again (in place) and on raw; the 8 go to the kernel in one submission. A new L2 table
 * is zeroed with one write. The data reads back. */
static int seq_batch(struct disk *d, enum disk_op op, uint8_t *ram, struct iovec *iov,
		     unsigned seed)
{
	struct tagged t[8];
	struct rec rec = {.n = 0};

	disk_plug(d);
	for (int i = 0; i < 8; i++) {
		for (int k = 0; k < 256; k++) {
			/* pages of a request out of order in "guest RAM" */
			iov[i * 256 + k].iov_base =
				ram + (size_t)i * MiB + (size_t)(k * 37 % 256) * 4096;
			iov[i * 256 + k].iov_len = 4096;
		}
		if (op == DISK_OP_WRITE)
			fill(ram + (size_t)i * MiB, MiB, seed + (unsigned)i);
		else
			memset(ram + (size_t)i * MiB, 0xee, MiB);
		tag(&t[i], &rec, i, op, (uint64_t)i * MiB, &iov[i * 256]);
		t[i].req.iovcnt = 256;
		CHECK_EQ(disk_submit(d, &t[i].req), 0);
	}
	disk_unplug(d);
	run_until(d, t, 8);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(t[i].res, 0);
	return 0;
}

static int t_seq_merge(void)
{
	uint8_t *ram = malloc(8 * MiB), *want = malloc(MiB);
	struct iovec *iov = calloc(8 * 256, sizeof(*iov));
	struct disk_create_options raw = {.format = DISK_FMT_RAW, .size = 16 * MiB};
	struct disk_stats s0, s;
	struct disk *d;

	CHECK(ram && want && iov);
	CHECK_EQ(mkimg("m.qcow2", 16 * MiB, NULL, 0), 0);
	CHECK((d = open_rw("m.qcow2")));
	disk_get_stats(d, &s0);
	CHECK_EQ(s0.requests, 0);
	CHECK_EQ(seq_batch(d, DISK_OP_WRITE, ram, iov, 1), 0);
	disk_get_stats(d, &s);
	CHECK_EQ(s.requests, 8);
	CHECK_EQ(s.host_writes, 8);	     /* 16 fresh clusters each: one writev */
	CHECK_EQ(s.submits - s0.submits, 1); /* plugged: one io_uring_enter for all 8 */
	CHECK_EQ(s.clusters, 8 * 16 + 1);    /* the data and one L2 table */
	CHECK_EQ(s.meta_writes, 1);	     /* that table zeroed in one write */
	CHECK_EQ(s.host_reads, 0);
	CHECK_EQ(seq_batch(d, DISK_OP_WRITE, ram, iov, 2), 0); /* again: in place */
	disk_get_stats(d, &s);
	CHECK_EQ(s.host_writes, 16);
	CHECK_EQ(s.clusters, 8 * 16 + 1);
	CHECK_EQ(seq_batch(d, DISK_OP_READ, ram, iov, 0), 0);
	disk_get_stats(d, &s);
	CHECK_EQ(s.host_reads, 8);
	CHECK_EQ(s.host_async, 24); /* every 1 MiB operation went to io_uring's workers */
	/* the reads put each page back where the writes took it from */
	for (unsigned i = 0; i < 8; i++) {
		fill(want, MiB, 2 + i);
		CHECK(!memcmp(ram + (size_t)i * MiB, want, MiB));
	}
	/* and on the disk, request 3's page k is the one its iovec k pointed to */
	CHECK_EQ(disk_pread(d, ram, MiB, 3 * MiB), 0);
	fill(want, MiB, 2 + 3);
	for (int k = 0; k < 256; k++)
		CHECK(!memcmp(ram + (size_t)k * 4096, want + (size_t)(k * 37 % 256) * 4096, 4096));
	CHECK_EQ(disk_flush(d), 0);
	disk_get_stats(d, &s);
	CHECK_EQ(s.requests, 26);
	CHECK(s.host_syncs >= 1 && s.meta_writes > 1);
	disk_close(d);

	CHECK_EQ(disk_create(P("m.raw"), &raw, err, sizeof(err)), 0);
	CHECK((d = open_rw("m.raw")));
	CHECK_EQ(seq_batch(d, DISK_OP_WRITE, ram, iov, 3), 0);
	CHECK_EQ(seq_batch(d, DISK_OP_READ, ram, iov, 0), 0);
	disk_get_stats(d, &s);
	CHECK(s.host_writes == 8 && s.host_reads == 8 && s.host_async == 16);
	CHECK(s.meta_reads == 0 && s.meta_writes == 0 && s.clusters == 0);
	fill(want, MiB, 3 + 7);
	CHECK(!memcmp(ram + 7 * MiB, want, MiB));
	disk_close(d);
	free(ram);
	free(want);
	free(iov);
	clean_dir();
	return 0;
}

/* Writes n bytes at off into the file `name` (created if needed). */
static int poke(const char *name, uint64_t off, const void *b, size_t n)
{
	int fd = open(P(name), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ssize_t k = fd < 0 ? -1 : pwrite(fd, b, n, (off_t)off);

	if (fd >= 0)
		close(fd);
	return k == (ssize_t)n ? 0 : -1;
}

static bool fp_same(const char *name, const struct disk_fingerprint *want)
{
	struct disk_fingerprint f;

	return disk_fingerprint(P(name), &f) == 0 && f.size == want->size && f.hash == want->hash;
}

/* disk_fingerprint (what a snapshot records of the images it leaves frozen): the same
 * bytes give the same value (a copy, whatever its times), a change in the parts it reads
 * (the first MiB, the 64 sampled blocks, the last byte, a qcow2 image's L1 table wherever
 * it lies) or of the length changes it; a change between samples does not (the trade-off
 * docs/SNAPSHOT.md states), but the file's mtime (with its device and inode) does; hostile qcow2
 * headers are read without harm; `backing` says whether a qcow2 image names a backing file. */
static int t_fingerprint(void)
{
	const uint64_t size = 64ull * MiB, head = MiB, step = (size - head - 4096) / 63;
	struct disk_create_options raw = {.format = DISK_FMT_RAW, .size = size};
	struct disk_fingerprint a, b, s;
	uint8_t *buf = malloc(MiB), x = 0xa5, hdr[48] = {'Q', 'F', 'I', 0xfb};
	uint64_t spots[] = {
		0, 4096, head - 1, head, head + 10 * step + 100, head + 40 * step + 4095, size - 1};

	CHECK(buf);
	CHECK_EQ(disk_create(P("fp.raw"), &raw, err, sizeof(err)), 0);
	for (unsigned i = 0; i < 64; i++) {
		fill(buf, MiB, i);
		CHECK_EQ(poke("fp.raw", (uint64_t)i * MiB, buf, MiB), 0);
	}
	CHECK_EQ(disk_fingerprint(P("fp.raw"), &a), 0);
	CHECK_EQ(a.size, size);
	CHECK_EQ(disk_fingerprint(P("fp.raw"), &b), 0);
	CHECK_EQ(b.hash, a.hash);
	/* a copy under another name and time: the same */
	for (unsigned i = 0; i < 64; i++) {
		fill(buf, MiB, i);
		CHECK_EQ(poke("fp-copy.raw", (uint64_t)i * MiB, buf, MiB), 0);
	}
	CHECK(fp_same("fp-copy.raw", &a));
	/* one byte changed where it reads: another value; put back: the same again */
	for (unsigned i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		uint8_t old;
		int fd = open(P("fp.raw"), O_RDONLY | O_CLOEXEC);
		CHECK(fd >= 0 && pread(fd, &old, 1, (off_t)spots[i]) == 1);
		close(fd);
		x = (uint8_t)(old ^ 0x40);
		CHECK_EQ(poke("fp.raw", spots[i], &x, 1), 0);
		CHECK(!fp_same("fp.raw", &a));
		CHECK_EQ(poke("fp.raw", spots[i], &old, 1), 0);
		CHECK(fp_same("fp.raw", &a));
	}
	/* between two samples: not seen by the hash (it samples, it does not read
	 * everything); the file's identity on this host is the same and its mtime later */
	{
		struct stat st;
		CHECK_EQ(disk_fingerprint(P("fp.raw"), &s), 0);
		CHECK_EQ(stat(P("fp.raw"), &st), 0);
		CHECK(s.dev == (uint64_t)st.st_dev && s.ino == (uint64_t)st.st_ino && s.ino);
		CHECK_EQ(s.mtime_ns, (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
		/* (a time set in the past: the write's own is surely another) */
		CHECK_EQ(utimensat(AT_FDCWD, P("fp.raw"),
				   (struct timespec[2]){{0, UTIME_OMIT}, {1000, 5}}, 0),
			 0);
		CHECK_EQ(disk_fingerprint(P("fp.raw"), &s), 0);
		CHECK_EQ(s.mtime_ns, 1000 * 1000000000ll + 5);
	}
	memset(buf, 0x77, 4096);
	CHECK_EQ(poke("fp.raw", head + 8192, buf, 4096), 0);
	CHECK(fp_same("fp.raw", &a));
	CHECK_EQ(disk_fingerprint(P("fp.raw"), &b), 0);
	CHECK(b.ino == s.ino && b.dev == s.dev && b.mtime_ns != s.mtime_ns);
	/* one byte longer: another value */
	CHECK_EQ(poke("fp-copy.raw", size, &x, 1), 0);
	CHECK_EQ(disk_fingerprint(P("fp-copy.raw"), &b), 0);
	CHECK(b.size == size + 1 && b.hash != a.hash);

	/* a qcow2 header whose L1 table (16 entries) lies between two samples: hashed */
	hdr[39] = 16;					 /* l1_size */
	hdr[45] = (uint8_t)((head + 8192) >> 16 & 0xff); /* l1_table_offset, BE */
	hdr[46] = (uint8_t)((head + 8192) >> 8 & 0xff);
	CHECK_EQ(poke("fp.raw", 0, hdr, sizeof(hdr)), 0);
	CHECK_EQ(disk_fingerprint(P("fp.raw"), &s), 0);
	CHECK_EQ(poke("fp.raw", head + 8192 + 100, &x, 1), 0);
	CHECK_EQ(disk_fingerprint(P("fp.raw"), &b), 0);
	CHECK(b.hash != s.hash);
	/* hostile L1 placements: past the end, huge, wrapping; read without harm */
	for (unsigned i = 0; i < 3; i++) {
		memset(hdr + 36, 0xff, 12);
		if (i == 1)
			memset(hdr + 40, 0, 8); /* offset 0, 4 Gi entries */
		if (i == 2)
			memset(hdr + 36, 0, 4); /* 0 entries */
		CHECK_EQ(poke("fp.raw", 0, hdr, sizeof(hdr)), 0);
		CHECK_EQ(disk_fingerprint(P("fp.raw"), &b), 0);
		CHECK_EQ(b.size, size);
	}
	/* short files (hashed whole), an empty one, errors */
	CHECK_EQ(poke("fp-small", 0, hdr, 20), 0);
	CHECK_EQ(disk_fingerprint(P("fp-small"), &s), 0);
	CHECK_EQ(s.size, 20);
	x = 1;
	CHECK_EQ(poke("fp-small", 19, &x, 1), 0);
	CHECK_EQ(disk_fingerprint(P("fp-small"), &b), 0);
	CHECK(b.hash != s.hash);
	CHECK_EQ(poke("fp-empty", 0, hdr, 0), 0);
	CHECK_EQ(disk_fingerprint(P("fp-empty"), &b), 0);
	CHECK_EQ(b.size, 0);
	CHECK_EQ(disk_fingerprint(P("fp-missing"), &b), -ENOENT);
	/* `backing` tells a qcow2 image naming a backing file (not part of the identity) */
	CHECK(!a.backing && !s.backing);
	CHECK_EQ(mkimg("fp-base.qcow2", 2 * MiB, NULL, 0), 0);
	CHECK_EQ(mkimg("fp-top.qcow2", 0, "fp-base.qcow2", 0), 0);
	CHECK_EQ(disk_fingerprint(P("fp-base.qcow2"), &b), 0);
	CHECK(!b.backing);
	CHECK_EQ(disk_fingerprint(P("fp-top.qcow2"), &b), 0);
	CHECK(b.backing);
	CHECK_EQ(disk_fingerprint(tmpdir, &b), -EINVAL);
	free(buf);
	clean_dir();
	return 0;
}

/* A byte copy (cp) of src at dst. */
static int copy_file(const char *src, const char *dst)
{
	char buf[65536];
	int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600), r = 0;
	ssize_t n;

	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			r = -1;
	r = in < 0 || out < 0 ? -1 : r;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return r;
}

static const char *rename_to(void *ctx, const char *path)
{
	(void)path;
	return ctx;
}

/* The backing file name in a qcow2 header, read from the file ("" when none). */
static const char *header_backing_name(const char *path)
{
	static char name[1024];
	uint8_t h[20];
	int fd = open(path, O_RDONLY);
	uint64_t off = 0;
	uint32_t len = 0;

	name[0] = 0;
	if (fd >= 0 && pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h)) {
		for (int i = 0; i < 8; i++)
			off = off << 8 | h[8 + i];
		for (int i = 0; i < 4; i++)
			len = len << 8 | h[16 + i];
		if (len < sizeof(name) && pread(fd, name, len, (off_t)off) == (ssize_t)len)
			name[len] = 0;
		else
			name[0] = 0;
	}
	if (fd >= 0)
		close(fd);
	return name;
}

/* Maps one path (as LODGE_HOST_PATHS maps a sandbox's /files/diskN to the host's). */
struct map_one {
	const char *from, *to;
};

static const char *rename_one(void *ctx, const char *path)
{
	const struct map_one *m = ctx;
	return strcmp(path, m->from) ? NULL : m->to;
}

/* disk_copy_backing_name: a copy elsewhere of an overlay that names its base relatively
 * names it by its absolute path (or what the rename callback says), opens, and reads the
 * base's bytes; a copy in the same directory, an absolute name and a raw image are left
 * as they are; a header whose name lies past its first cluster is refused. */
static int t_copy_backing_name(void)
{
	char sub[sizeof(tmpdir) + 8], copy[sizeof(tmpdir) + 32], want[PATH_MAX], *real;
	struct disk_image_info info;
	struct stat st0, st1;
	uint8_t buf[512];
	struct disk *d;

	snprintf(sub, sizeof(sub), "%s/sub", tmpdir);
	snprintf(copy, sizeof(copy), "%s/top.qcow2", sub);
	CHECK_EQ(mkdir(sub, 0700), 0);
	memset(buf, 0x5a, sizeof(buf));
	CHECK_EQ(patch("cb-base.qcow2", 4096, buf, sizeof(buf)), 0); /* raw, despite the name */
	CHECK_EQ(truncate(P("cb-base.qcow2"), 1 * MiB), 0);
	{
		struct disk_create_options o = {.format = DISK_FMT_QCOW2,
						.backing = "cb-base.qcow2",
						.backing_format = DISK_FMT_RAW};
		CHECK_EQ(disk_create(P("cb-top.qcow2"), &o, err, sizeof(err)), 0);
	}
	/* the same directory: nothing changes */
	CHECK_EQ(copy_file(P("cb-top.qcow2"), P("cb-copy.qcow2")), 0);
	CHECK_EQ(stat(P("cb-copy.qcow2"), &st0), 0);
	CHECK_EQ(disk_copy_backing_name(P("cb-top.qcow2"), P("cb-copy.qcow2"), NULL, NULL, err,
					sizeof(err)),
		 0);
	d = open_as("cb-copy.qcow2", DISK_FMT_AUTO, true);
	CHECK(d);
	CHECK_EQ(disk_image_info(d, 0, &info), 0);
	CHECK(!strcmp(info.backing_name, "cb-base.qcow2"));
	disk_close(d);
	/* another directory: the absolute path, and the copy reads the base's bytes */
	CHECK_EQ(copy_file(P("cb-top.qcow2"), copy), 0);
	CHECK_EQ(disk_copy_backing_name(P("cb-top.qcow2"), copy, NULL, NULL, err, sizeof(err)), 0);
	real = realpath(tmpdir, NULL);
	CHECK(real);
	snprintf(want, sizeof(want), "%s/cb-base.qcow2", real);
	free(real);
	{
		struct disk_options o = {.readonly = true};
		CHECK_EQ(disk_open(copy, &o, &d, err, sizeof(err)), 0);
		CHECK_EQ(disk_image_info(d, 0, &info), 0);
		CHECK(!strcmp(info.backing_name, want));
		memset(buf, 0, sizeof(buf));
		CHECK_EQ(disk_pread(d, buf, sizeof(buf), 4096), 0);
		CHECK(buf[0] == 0x5a && buf[511] == 0x5a);
		disk_close(d);
	}
	/* already absolute: left as it is without a rename, or one that keeps it */
	CHECK_EQ(stat(copy, &st0), 0);
	CHECK_EQ(disk_copy_backing_name(P("cb-top.qcow2"), copy, NULL, NULL, err, sizeof(err)), 0);
	CHECK_EQ(disk_copy_backing_name(P("cb-top.qcow2"), copy, rename_one,
					&(struct map_one){"/files/disk0", "/elsewhere"}, err,
					sizeof(err)),
		 0);
	{
		struct disk_options o = {.readonly = true};
		CHECK_EQ(disk_open(copy, &o, &d, err, sizeof(err)), 0);
		CHECK_EQ(disk_image_info(d, 0, &info), 0);
		CHECK(!strcmp(info.backing_name, want));
		disk_close(d);
	}
	/* an absolute name the rename maps (a sandbox's path for a host file): the host's */
	{
		char host[sizeof(want)];
		snprintf(host, sizeof(host), "%s", want);
		CHECK_EQ(disk_copy_backing_name(P("cb-top.qcow2"), copy, rename_one,
						&(struct map_one){want, "/files/disk0"}, err,
						sizeof(err)),
			 0);
		CHECK(!strcmp(header_backing_name(copy), "/files/disk0"));
		CHECK_EQ(disk_copy_backing_name(P("cb-top.qcow2"), copy, rename_one,
						&(struct map_one){"/files/disk0", host}, err,
						sizeof(err)),
			 0);
		struct disk_options o = {.readonly = true};
		CHECK_EQ(disk_open(copy, &o, &d, err, sizeof(err)), 0);
		CHECK_EQ(disk_image_info(d, 0, &info), 0);
		CHECK(!strcmp(info.backing_name, host));
		disk_close(d);
	}
	/* the rename callback's name */
	CHECK_EQ(copy_file(P("cb-top.qcow2"), copy), 0);
	snprintf(want, sizeof(want), "%s", P("cb-base.qcow2"));
	CHECK_EQ(disk_copy_backing_name(P("cb-top.qcow2"), copy, rename_to, want, err, sizeof(err)),
		 0);
	{
		struct disk_options o = {.readonly = true, .no_locks = true};
		CHECK_EQ(disk_open(copy, &o, &d, err, sizeof(err)), 0);
		CHECK_EQ(disk_image_info(d, 0, &info), 0);
		CHECK(!strcmp(info.backing_name, want));
		disk_close(d);
	}
	/* raw: nothing */
	CHECK_EQ(poke("cb-raw", 0, buf, sizeof(buf)), 0);
	CHECK_EQ(stat(P("cb-raw"), &st0), 0);
	CHECK_EQ(disk_copy_backing_name(P("cb-raw"), copy, NULL, NULL, err, sizeof(err)), 0);
	/* a name past the header cluster: refused, the file as it was */
	CHECK_EQ(copy_file(P("cb-top.qcow2"), copy), 0);
	{
		uint8_t off[8] = {0, 0, 0, 0, 0, 1, 0, 0}; /* 65536: the next cluster */
		int fd = open(copy, O_WRONLY);
		CHECK(fd >= 0);
		CHECK_EQ(pwrite(fd, off, 8, 8), 8);
		close(fd);
	}
	CHECK_EQ(stat(copy, &st0), 0);
	CHECK_EQ(disk_copy_backing_name(P("cb-top.qcow2"), copy, NULL, NULL, err, sizeof(err)),
		 -EINVAL);
	CHECK_EQ(stat(copy, &st1), 0);
	CHECK_EQ(st0.st_size, st1.st_size);
	unlink(copy);
	rmdir(sub);
	clean_dir();
	return 0;
}

/* A qcow2 image whose tables name no metadata cluster at all (its refcount table's
 * entries zeroed: the header cluster of a copy cut short, as a raw disk given just a
 * qcow2 header) opens read-only or is refused, without undefined behaviour (the list
 * of its metadata clusters is empty). */
static int t_no_meta_clusters(void)
{
	struct disk_options o = {.readonly = true};
	uint8_t zero[8] = {0};
	struct disk *d = NULL;
	int r;

	CHECK_EQ(mkimg("nm.qcow2", 1 * MiB, NULL, 0), 0);
	CHECK_EQ(patch("nm.qcow2", 65536, zero, sizeof(zero)), 0); /* refcount table entry 0 */
	r = disk_open(P("nm.qcow2"), &o, &d, err, sizeof(err));
	CHECK(r == 0 || r == -EINVAL);
	if (!r)
		disk_close(d);
	clean_dir();
	return 0;
}

static const struct unit_test tests[] = {
	{"seq_merge", t_seq_merge},
	{"written_blocks", t_written_blocks},
	{"create_open", t_create_open},
	{"roundtrip", t_roundtrip},
	{"backing_cow", t_backing_cow},
	{"discard_hides_backing", t_discard_hides_backing},
	{"raw_zero", t_raw_zero},
	{"raw_sector0", t_raw_sector0},
	{"same_cluster", t_same_cluster},
	{"flush_barrier", t_flush_barrier},
	{"two_disks", t_two_disks},
	{"event_fd", t_event_fd},
	{"bad_requests", t_bad_requests},
	{"bad_headers", t_bad_headers},
	{"readonly_only", t_readonly_only},
	{"backing_errors", t_backing_errors},
	{"locks", t_locks},
	{"no_locks", t_no_locks},
	{"not_a_file", t_not_a_file},
	{"corrupt_l2", t_corrupt_l2},
	{"corrupt_l2_targets", t_corrupt_l2_targets},
	{"corrupt_l2_meta", t_corrupt_l2_meta},
	{"corrupt_l1_meta", t_corrupt_l1_meta},
	{"corrupt_meta_refcounts", t_corrupt_meta_refcounts},
	{"refcount_growth", t_refcount_growth},
	{"alloc_failures", t_alloc_failures},
	{"l2_slices", t_l2_slices},
	{"readonly_no_refcounts", t_readonly_no_refcounts},
	{"fingerprint", t_fingerprint},
	{"copy_backing_name", t_copy_backing_name},
	{"no_meta_clusters", t_no_meta_clusters},
};

int main(void)
{
	int rc;

	/* tmpfs when there is one: the tests fsync a lot */
	snprintf(tmpdir, sizeof(tmpdir), "/dev/shm/lodge-test-disk-XXXXXX");
	if (!mkdtemp(tmpdir))
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/lodge-test-disk-XXXXXX");
	if (!tmpdir[0] || (strncmp(tmpdir, "/dev/shm", 8) && !mkdtemp(tmpdir))) {
		perror("mkdtemp");
		return 1;
	}
	rc = unit_run("disk", tests, sizeof(tests) / sizeof(tests[0]));
	clean_dir();
	rmdir(tmpdir);
	return rc;
}
