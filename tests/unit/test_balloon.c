/*
 * Unit tests for virtio-balloon (devices/virtio/balloon.c) on a fake board: the test
 * plays the guest driver (tests/unit/vdriver.h) while the device runs on its I/O loop
 * thread. Inflation and free page reporting must zero the pages and give their host
 * memory back (checked with mincore on the fake RAM); PFNs and ranges outside RAM must
 * not touch host memory; statistics, target changes, queue numbering, save/load, and
 * argument errors.
 */
#include "devices/virtio/balloon.h"

#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>

#include "core/evloop.h"
#include "core/sbuf.h"
#include "core/util.h"
#include "harness.h"
#include "vdriver.h"

#define RAM	 (32ull << 20)
#define AREA	 (VD_RAM_BASE + (20ull << 20)) /* pages the tests touch and give back */
#define AREA_LEN (4ull << 20)

static struct vdriver drv;
static struct evloop *loop;
static struct device *dev;

static unsigned stats_interval;

static int start(uint64_t size, bool deflate_on_oom, uint64_t features, unsigned nq)
{
	struct board b;
	struct vballoon_config cfg = {
		.size = size, .deflate_on_oom = deflate_on_oom, .stats_interval_s = stats_interval};
	char err[200];

	if (evloop_create(&loop) < 0 || vd_board(&drv, &b, loop, RAM) < 0)
		return -1;
	if (vballoon_create(&b, &cfg, &dev, err, sizeof(err)) < 0)
		return -1;
	if (evloop_start(loop, "test-io") < 0)
		return -1;
	return vd_init(&drv, features, nq) & VIRTIO_STATUS_DRIVER_OK ? 0 : -1;
}

static void stop(void)
{
	evloop_stop(loop);
	dev->ops->destroy(dev);
	evloop_destroy(loop);
	gmem_fini(&drv.mem);
}

/* Resident host pages in guest [gpa, gpa + len). */
static unsigned resident(uint64_t gpa, uint64_t len)
{
	static unsigned char vec[(AREA_LEN >> 12) + 1];
	unsigned n = 0;

	if (mincore(vd_ptr(&drv, gpa, len), len, vec) < 0)
		return ~0u;
	for (uint64_t i = 0; i < len >> 12; i++)
		n += vec[i] & 1;
	return n;
}

static bool all_zero(uint64_t gpa, uint64_t len)
{
	const uint8_t *p = vd_ptr(&drv, gpa, len);

	for (uint64_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Posts one buffer on queue q, kicks, and waits up to ms for it to be used. */
static int post_wait_ms(unsigned q, uint64_t gpa, uint32_t len, bool writable, unsigned ms)
{
	struct vd_buf b = {.gpa = gpa, .len = len, .writable = writable};
	uint32_t id, ulen;

	vd_post(&drv, q, &b, 1);
	vd_kick(&drv, q);
	return vd_used(&drv, q, ms, &id, &ulen) ? 0 : -1;
}

static int post_wait(unsigned q, uint64_t gpa, uint32_t len, bool writable)
{
	return post_wait_ms(q, gpa, len, writable, 5000);
}

static int inflate_frees_pages(void)
{
	uint64_t req;
	uint32_t *pfns;
	unsigned n = 0;

	CHECK(start(0, false, 0, 2) == 0);
	req = vd_alloc(&drv);
	pfns = vd_ptr(&drv, req, 4 * 2048);
	memset(vd_ptr(&drv, AREA, AREA_LEN), 0xa5, AREA_LEN);
	CHECK_EQ(resident(AREA, AREA_LEN), AREA_LEN >> 12);
	/* Mark one page as holding decoded code: it must be dropped. */
	drv.mem.page_flags[(AREA - VD_RAM_BASE) >> 12] |= GMEM_PAGE_CODE;
	/* The first half of the area, and PFNs outside RAM (skipped, nothing else
	 * touched): 0, just below RAM, just past it, the largest. */
	for (uint64_t a = AREA; a < AREA + AREA_LEN / 2; a += 4096)
		pfns[n++] = (uint32_t)(a >> 12);
	pfns[n++] = 0;
	pfns[n++] = (uint32_t)((VD_RAM_BASE >> 12) - 1);
	pfns[n++] = (uint32_t)((VD_RAM_BASE + RAM) >> 12);
	pfns[n++] = 0xffffffffu;
	CHECK(post_wait(0, req, 4 * n, false) == 0);
	/* (mincore first: reading maps the zero page, which mincore counts.) */
	CHECK_EQ(resident(AREA, AREA_LEN / 2), 0);
	CHECK(all_zero(AREA, AREA_LEN / 2));
	CHECK_EQ(resident(AREA + AREA_LEN / 2, AREA_LEN / 2), AREA_LEN / 2 >> 12);
	CHECK_EQ(*(uint8_t *)vd_ptr(&drv, AREA + AREA_LEN / 2, 1), 0xa5);
	CHECK(!(drv.mem.page_flags[(AREA - VD_RAM_BASE) >> 12] & GMEM_PAGE_CODE));
	CHECK_EQ(drv.mem.page_gen[(AREA - VD_RAM_BASE) >> 12], 1);
	/* Deflate: the pages are the guest's again; nothing to do but acknowledge. */
	CHECK(post_wait(1, req, 4 * 8, false) == 0);
	CHECK(virtio_dev_running(drv.bus.regions[0].opaque));
	/* An oversized request: the device needs a reset; Lodge carries on. */
	CHECK(post_wait_ms(0, VD_BUF_AREA, 0x11000, false, 0) < 0);
	VD_WAIT(vd_rd(&drv, 0x070) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 5000);
	CHECK(vd_rd(&drv, 0x070) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	stop();
	return 0;
}

static int target_and_config(void)
{
	uint32_t target, actual;

	CHECK(start(8ull << 20, false, 0, 2) == 0);
	CHECK_EQ(vd_rd(&drv, 0x008), 5);
	vd_wr(&drv, 0x014, 0);
	CHECK_EQ(vd_rd(&drv, 0x010) & 0x3f,
		 1u << VBALLOON_F_STATS_VQ | 1u << VBALLOON_F_PAGE_REPORTING);
	CHECK_EQ(vd_rd(&drv, 0x100), 2048); /* num_pages from size=8M */
	CHECK_EQ(vd_rd(&drv, 0x104), 0);
	vd_wr(&drv, 0x104, 1000); /* the guest reports what it gave */
	vd_wr(&drv, 0x100, 7);	  /* num_pages is not the guest's */
	CHECK_EQ(vd_rd(&drv, 0x104), 1000);
	CHECK_EQ(vd_rd(&drv, 0x100), 2048);
	vballoon_get(dev, &target, &actual);
	CHECK_EQ(target, 2048);
	CHECK_EQ(actual, 1000);
	/* A new target: configuration-change interrupt and a new generation. */
	uint32_t gen = vd_rd(&drv, 0x0fc);
	vd_wr(&drv, 0x064, 3);
	CHECK(vballoon_set_target(dev, 4096) == 0);
	CHECK_EQ(vd_rd(&drv, 0x100), 4096);
	CHECK(vd_rd(&drv, 0x060) & VIRTIO_INT_CONFIG);
	CHECK(vd_rd(&drv, 0x0fc) != gen);
	CHECK(vballoon_set_target(dev, (uint32_t)(RAM >> 12) + 1) == -EINVAL);
	/* Save and load keep the target and actual; a driver reset empties the balloon. */
	struct sbuf sb = {0};
	struct sreader rd;
	CHECK(dev->ops->save(dev, &sb) == 0);
	CHECK(vballoon_set_target(dev, 1) == 0);
	sreader_init(&rd, sb.data, sb.len);
	CHECK(dev->ops->load(dev, &rd) == 0);
	vballoon_get(dev, &target, &actual);
	CHECK_EQ(target, 4096);
	CHECK_EQ(actual, 1000);
	sreader_init(&rd, sb.data, sb.len - 1);
	CHECK(dev->ops->load(dev, &rd) == -EINVAL);
	sbuf_fini(&sb);
	vd_wr(&drv, 0x070, 0);
	CHECK_EQ(vd_rd(&drv, 0x104), 0);
	stop();
	return 0;
}

static void put_stat(uint8_t *p, uint16_t tag, uint64_t val)
{
	memcpy(p, &tag, 2);
	memcpy(p + 2, &val, 8);
}

static int statistics(void)
{
	struct vballoon_stats st;
	uint64_t buf = VD_BUF_AREA;
	struct vd_buf b = {.gpa = buf, .len = 30};
	uint8_t *p;
	uint32_t id, len;

	CHECK(start(0, false, 1u << VBALLOON_F_STATS_VQ, 3) == 0);
	p = vd_ptr(&drv, buf, 30);
	put_stat(p, 4, 123456);	  /* MEMFREE */
	put_stat(p + 10, 5, 999); /* MEMTOT */
	put_stat(p + 20, 300, 1); /* unknown tag: ignored */
	vd_post(&drv, 2, &b, 1);
	vd_kick(&drv, 2);
	st.updates = 0;
	for (int i = 0; i < 5000 && !st.updates; i++) {
		vballoon_stats(dev, &st);
		usleep(1000);
	}
	CHECK_EQ(st.updates, 1);
	CHECK_EQ(st.val[4], 123456);
	CHECK_EQ(st.val[5], 999);
	CHECK_EQ(st.valid, 1u << 4 | 1u << 5);
	/* Asking for statistics gave the buffer back: the guest refills it. */
	CHECK(vd_used(&drv, 2, 5000, &id, &len));
	CHECK_EQ(id, 0);
	put_stat(p, 4, 7);
	vd_post(&drv, 2, &b, 1);
	vd_kick(&drv, 2);
	for (int i = 0; i < 5000 && st.updates < 2; i++) {
		vballoon_stats(dev, &st);
		usleep(1000);
	}
	CHECK_EQ(st.updates, 2);
	CHECK_EQ(st.val[4], 7);
	stop();
	/* With stats=1 the device asks by itself every second. */
	stats_interval = 1;
	CHECK(start(0, false, 1u << VBALLOON_F_STATS_VQ, 3) == 0);
	stats_interval = 0;
	/* The device keeps the buffer a second from the kick: a lower bound on the clock,
	 * which a loaded host cannot break (a count of 1 ms sleeps could). */
	uint64_t t0 = evloop_now_ns();
	vd_post(&drv, 2, &b, 1);
	vd_kick(&drv, 2);
	CHECK(vd_used(&drv, 2, 10000, &id, &len));
	CHECK(evloop_now_ns() - t0 >= 1000000000ull);
	stop();
	return 0;
}

/* The driver disables the statistics queue while the device holds its buffer and sets
 * it up again on other rings: the old buffer is not given back into the new ring. */
static int statistics_queue_redone(void)
{
	struct vballoon_stats st = {0};
	uint64_t buf = VD_BUF_AREA;
	struct vd_buf b = {.gpa = buf, .len = 10};
	struct vd_queue *q = &drv.q[2];
	uint32_t id, len;
	uint16_t head;

	CHECK(start(0, false, 1u << VBALLOON_F_STATS_VQ, 3) == 0);
	put_stat(vd_ptr(&drv, buf, 10), 4, 1);
	vd_post(&drv, 2, &b, 1);
	vd_post(&drv, 2, &b, 1); /* heads 0 and 1: the device keeps head 1 */
	vd_kick(&drv, 2);
	CHECK(vd_used(&drv, 2, 5000, &id, &len));
	CHECK_EQ(id, 0);
	vd_wr(&drv, 0x030, 2);
	vd_wr(&drv, 0x044, 0);
	memset(q, 0, sizeof(*q));
	q->desc = VD_RINGS + 6 * 0x4000ull;
	q->avail = q->desc + 0x1000;
	q->used = q->desc + 0x2000;
	memset(vd_ptr(&drv, q->desc, 0x4000), 0, 0x4000);
	vd_wr(&drv, 0x038, VD_QN);
	vd_wr(&drv, 0x080, (uint32_t)q->desc);
	vd_wr(&drv, 0x084, (uint32_t)(q->desc >> 32));
	vd_wr(&drv, 0x090, (uint32_t)q->avail);
	vd_wr(&drv, 0x094, (uint32_t)(q->avail >> 32));
	vd_wr(&drv, 0x0a0, (uint32_t)q->used);
	vd_wr(&drv, 0x0a4, (uint32_t)(q->used >> 32));
	vd_wr(&drv, 0x044, 1);
	head = vd_post(&drv, 2, &b, 1); /* head 0 of the new ring */
	vd_kick(&drv, 2);
	for (int i = 0; i < 5000 && st.updates < 3; i++) {
		vballoon_stats(dev, &st); /* also asks: gives the held buffer back */
		usleep(1000);
	}
	CHECK_EQ(st.updates, 3);
	vballoon_stats(dev, &st);
	/* Only the new ring's own buffer comes back there, never the old head 1. */
	CHECK(vd_used(&drv, 2, 5000, &id, &len));
	CHECK_EQ(id, head);
	CHECK(!vd_used(&drv, 2, 200, &id, &len));
	stop();
	return 0;
}

/* Reporting on queue `q` (3 after statsq, 2 without it, or the spec table's 4). */
static int report_on(uint64_t features, unsigned nq, unsigned q)
{
	uint64_t lo = AREA + 4096 + 100; /* not page aligned: only whole pages go */

	CHECK(start(0, false, features, nq) == 0);
	memset(vd_ptr(&drv, AREA, AREA_LEN), 0x5a, AREA_LEN);
	CHECK(post_wait(q, lo, (uint32_t)(2ull << 20), true) == 0);
	CHECK_EQ(resident(AREA + 8192, (2ull << 20) - 8192), 0);
	CHECK(all_zero(AREA + 8192, (2ull << 20) - 8192));
	CHECK_EQ(*(uint8_t *)vd_ptr(&drv, lo, 1), 0x5a);   /* partial first page kept */
	CHECK_EQ(*(uint8_t *)vd_ptr(&drv, AREA, 1), 0x5a); /* page before kept */
	CHECK_EQ(*(uint8_t *)vd_ptr(&drv, lo + (2ull << 20) - 1, 1), 0x5a);
	CHECK_EQ(resident(AREA + (3ull << 20), 1ull << 20), 256);
	/* A range running past RAM: refused by the walker, device needs a reset. */
	CHECK(post_wait_ms(q, VD_RAM_BASE + RAM - 4096, 8192, true, 0) < 0);
	VD_WAIT(vd_rd(&drv, 0x070) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 5000);
	CHECK(vd_rd(&drv, 0x070) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	stop();
	return 0;
}

static int free_page_reporting(void)
{
	CHECK(report_on(1u << VBALLOON_F_STATS_VQ | 1u << VBALLOON_F_PAGE_REPORTING, 4, 3) == 0);
	CHECK(report_on(1u << VBALLOON_F_PAGE_REPORTING, 3, 2) == 0);
	CHECK(report_on(1u << VBALLOON_F_STATS_VQ | 1u << VBALLOON_F_PAGE_REPORTING, 5, 4) == 0);
	/* Without the feature, that queue does not exist: using it frees nothing and the
	 * device needs a reset. */
	CHECK(start(0, false, 1u << VBALLOON_F_STATS_VQ, 4) == 0);
	memset(vd_ptr(&drv, AREA, AREA_LEN), 0x5a, AREA_LEN);
	CHECK(post_wait_ms(3, AREA, 1u << 20, true, 0) < 0);
	VD_WAIT(vd_rd(&drv, 0x070) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 5000);
	CHECK(vd_rd(&drv, 0x070) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK_EQ(*(uint8_t *)vd_ptr(&drv, AREA, 1), 0x5a);
	stop();
	return 0;
}

static int args(void)
{
	const struct device_type *t = device_type_find_option("balloon");
	struct board b;
	struct device *d;
	char err[200];
	static const char *const bad[][2] = {
		{"size=64M", "at most the guest's RAM"},
		{"size=5000", "multiple of 4 KiB"},
		{"size=12Q", "not a size"},
		{"size=-1", "not a size"},
		{"stats=x", "not a number of seconds"},
		{"deflate_on_oom=yes", "use on or off"},
		{"bogus=1", "unknown option"},
	};

	CHECK(t != NULL);
	CHECK(evloop_create(&loop) == 0);
	CHECK(vd_board(&drv, &b, loop, RAM) == 0);
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = 0;
		CHECK_EQ(t->create(&b, bad[i][0], &d, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, bad[i][1]) != NULL);
	}
	CHECK_EQ(t->create(&b, "size=16M,stats=5,deflate_on_oom=on", &d, err, sizeof(err)), 0);
	vd_wr(&drv, 0x014, 0);
	CHECK(vd_rd(&drv, 0x010) & 1u << VBALLOON_F_DEFLATE_ON_OOM);
	CHECK_EQ(vd_rd(&drv, 0x100), 4096);
	d->ops->destroy(d);
	memset(&drv.bus, 0, sizeof(drv.bus));
	CHECK_EQ(t->create(&b, NULL, &d, err, sizeof(err)), 0);
	CHECK_EQ(vd_rd(&drv, 0x100), 0);
	d->ops->destroy(d);
	evloop_destroy(loop);
	gmem_fini(&drv.mem);
	return 0;
}

static const struct unit_test tests[] = {
	{"inflate_frees_pages", inflate_frees_pages},
	{"target_and_config", target_and_config},
	{"statistics", statistics},
	{"statistics_queue_redone", statistics_queue_redone},
	{"free_page_reporting", free_page_reporting},
	{"args", args},
};

UNIT_MAIN("balloon", tests)
