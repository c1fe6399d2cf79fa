/*
 * Unit tests for the split-virtqueue walker (devices/virtio/virtq.c) and the virtio-mmio
 * transport (virtio.c) driving virtio-rng, on a small fake guest RAM. Hostile descriptor
 * tables (loops, huge lengths, addresses outside RAM, readable after writable, nested or
 * malformed indirect tables, rings at the end of RAM, bad sizes) must be refused without
 * touching host memory outside RAM (ASan watches).
 */
#include "devices/virtio/virtq.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/evloop.h"
#include "core/gmem.h"
#include "core/keyval.h"
#include "devices/device.h"
#include "devices/virtio/rng.h"
#include "devices/virtio/virtio.h"
#include "harness.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (64ull << 10)
#define QN	 8
#define DESC	 (RAM_BASE + 0x1000)
#define AVAIL	 (RAM_BASE + 0x2000)
#define USED	 (RAM_BASE + 0x3000)
#define BUF	 (RAM_BASE + 0x8000)

static struct gmem mem;
static struct virtq q;
static struct iovec iov[8];
static struct virtq_elem e = {.cap = 8, .iov = iov};

static void put16(uint64_t gpa, uint16_t v)
{
	memcpy(gmem_ptr(&mem, gpa, 2), &v, 2);
}

static uint32_t get32(uint64_t gpa)
{
	uint32_t v;
	memcpy(&v, gmem_ptr(&mem, gpa, 4), 4);
	return v;
}

static void desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	uint8_t *p = gmem_ptr(&mem, table + 16ull * i, 16);
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

/* Makes chain `head` available as the next entry. */
static void offer(uint16_t head)
{
	uint16_t idx;
	memcpy(&idx, gmem_ptr(&mem, AVAIL + 2, 2), 2);
	put16(AVAIL + 4 + 2 * (idx % QN), head);
	put16(AVAIL + 2, (uint16_t)(idx + 1));
}

static int setup(bool indirect, bool event_idx)
{
	gmem_fini(&mem);
	if (gmem_init(&mem, RAM_BASE, RAM_SIZE, false) < 0)
		return 1;
	virtq_reset(&q, QN);
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	q.indirect = indirect;
	q.event_idx = event_idx;
	return virtq_start(&q, &mem);
}

static int simple_chain(void)
{
	CHECK(setup(false, false) == 0);
	desc(DESC, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 3);
	desc(DESC, 3, BUF + 0x100, 32, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	CHECK(virtq_has_avail(&q));
	CHECK_EQ(virtq_pop(&q, &mem, &e), 1);
	CHECK_EQ(e.head, 0);
	CHECK_EQ(e.n_out, 1);
	CHECK_EQ(e.n_in, 1);
	CHECK_EQ(e.out_len, 16);
	CHECK_EQ(e.in_len, 32);
	CHECK(e.iov[1].iov_base == gmem_ptr(&mem, BUF + 0x100, 32));
	CHECK_EQ(virtq_pop(&q, &mem, &e), 0);
	virtq_push(&q, &mem, &e, 1000); /* clamped to what the driver offered */
	CHECK_EQ(get32(USED + 4), 0);
	CHECK_EQ(get32(USED + 8), 32);
	CHECK_EQ(get32(USED) >> 16, 1); /* used idx */
	CHECK(virtq_should_interrupt(&q));
	put16(AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	CHECK(!virtq_should_interrupt(&q));
	return 0;
}

static int rejects_hostile_chains(void)
{
	/* A loop through NEXT. */
	CHECK(setup(false, false) == 0);
	desc(DESC, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(DESC, 1, BUF, 8, VIRTQ_DESC_F_NEXT, 0);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &mem, &e), -EIO);
	CHECK_EQ(q.last_avail, 0); /* left as it was */
	/* A length that runs past the end of RAM. */
	CHECK(setup(false, false) == 0);
	desc(DESC, 0, BUF, 0xffffffffu, 0, 0);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &mem, &e), -EIO);
	/* Addresses outside RAM: below it, in MMIO, wrapping. */
	CHECK(setup(false, false) == 0);
	desc(DESC, 0, 0x10001000, 16, 0, 0);
	desc(DESC, 1, RAM_BASE + RAM_SIZE - 8, 16, 0, 0);
	desc(DESC, 2, ~0ull - 4, 16, 0, 0);
	offer(0);
	offer(1);
	offer(2);
	CHECK_EQ(virtq_pop(&q, &mem, &e), -EIO);
	q.last_avail = 1;
	CHECK_EQ(virtq_pop(&q, &mem, &e), -EIO);
	q.last_avail = 2;
	CHECK_EQ(virtq_pop(&q, &mem, &e), -EIO);
	/* Readable after writable. */
	CHECK(setup(false, false) == 0);
	desc(DESC, 0, BUF, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(DESC, 1, BUF, 8, 0, 0);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &mem, &e), -EIO);
	/* Head and next outside the table. */
	CHECK(setup(false, false) == 0);
	offer(QN);
	CHECK_EQ(virtq_pop(&q, &mem, &e), -EIO);
	CHECK(setup(false, false) == 0);
	desc(DESC, 0, BUF, 8, VIRTQ_DESC_F_NEXT, QN + 5);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &mem, &e), -EIO);
	/* More chains claimed than the ring holds. */
	CHECK(setup(false, false) == 0);
	put16(AVAIL + 2, QN + 1);
	CHECK_EQ(virtq_pop(&q, &mem, &e), -EIO);
	/* More buffers than the caller can take. */
	CHECK(setup(false, false) == 0);
	for (unsigned i = 0; i < QN; i++)
		desc(DESC, i, BUF, 8, i + 1 < QN ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(0);
	e.cap = 4;
	CHECK_EQ(virtq_pop(&q, &mem, &e), -E2BIG);
	e.cap = 8;
	CHECK_EQ(virtq_pop(&q, &mem, &e), 1);
	CHECK_EQ(e.n_out, QN);
	return 0;
}

static int indirect_tables(void)
{
	uint64_t table = RAM_BASE + 0x4000;

	/* Not negotiated: refused. */
	CHECK(setup(false, false) == 0);
	desc(DESC, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
	desc(table, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(table, 1, BUF + 8, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &mem, &e), -EIO);
	/* Negotiated: followed. */
	CHECK(setup(true, false) == 0);
	desc(DESC, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
	desc(table, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(table, 1, BUF + 8, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &mem, &e), 1);
	CHECK_EQ(e.n_out, 1);
	CHECK_EQ(e.n_in, 1);
	/* A loop inside the table, a nested table, a length not a multiple of 16, a table
	 * running past RAM, an empty table. */
	desc(table, 1, BUF + 8, 8, VIRTQ_DESC_F_NEXT, 0);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &mem, &e), -EIO);
	desc(table, 1, table, 16, VIRTQ_DESC_F_INDIRECT, 0);
	CHECK_EQ(virtq_pop(&q, &mem, &e), -EIO);
	desc(DESC, 0, table, 24, VIRTQ_DESC_F_INDIRECT, 0);
	CHECK_EQ(virtq_pop(&q, &mem, &e), -EIO);
	desc(DESC, 0, RAM_BASE + RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	CHECK_EQ(virtq_pop(&q, &mem, &e), -EIO);
	desc(DESC, 0, table, 0, VIRTQ_DESC_F_INDIRECT, 0);
	CHECK_EQ(virtq_pop(&q, &mem, &e), -EIO);
	return 0;
}

static int ring_placement(void)
{
	CHECK(setup(false, false) == 0);
	/* Size not a power of two, zero, too big. */
	virtq_reset(&q, 6);
	q.desc_gpa = DESC, q.avail_gpa = AVAIL, q.used_gpa = USED;
	CHECK_EQ(virtq_start(&q, &mem), -EINVAL);
	q.num = 0;
	CHECK_EQ(virtq_start(&q, &mem), -EINVAL);
	q.num = VIRTQ_MAX_SIZE * 2;
	CHECK_EQ(virtq_start(&q, &mem), -EINVAL);
	/* Rings that run past the end of RAM or sit outside it, or are misaligned. */
	q.num = QN;
	q.used_gpa = RAM_BASE + RAM_SIZE - 8;
	CHECK_EQ(virtq_start(&q, &mem), -EINVAL);
	q.used_gpa = USED;
	q.desc_gpa = 0x1000;
	CHECK_EQ(virtq_start(&q, &mem), -EINVAL);
	q.desc_gpa = DESC + 8;
	CHECK_EQ(virtq_start(&q, &mem), -EINVAL);
	q.desc_gpa = DESC;
	CHECK(!q.ready);
	CHECK_EQ(virtq_start(&q, &mem), 0);
	/* Rings exactly at the end of RAM are fine. */
	q.ready = false;
	q.used_gpa = RAM_BASE + RAM_SIZE - (6 + 8 * QN);
	q.used_gpa &= ~3ull;
	CHECK_EQ(virtq_start(&q, &mem), 0);
	return 0;
}

static int event_idx(void)
{
	CHECK(setup(false, true) == 0);
	desc(DESC, 0, BUF, 8, VIRTQ_DESC_F_WRITE, 0);
	for (int i = 0; i < 3; i++)
		offer(0);
	put16(AVAIL + 4 + 2 * QN, 1); /* used_event = 1: interrupt when used idx passes 1 */
	CHECK_EQ(virtq_pop(&q, &mem, &e), 1);
	virtq_push(&q, &mem, &e, 8);
	CHECK(virtq_should_interrupt(&q)); /* first time: always */
	CHECK_EQ(virtq_pop(&q, &mem, &e), 1);
	virtq_push(&q, &mem, &e, 8);
	CHECK(virtq_should_interrupt(&q)); /* used idx went 1 -> 2, crossing used_event 1 */
	CHECK_EQ(virtq_pop(&q, &mem, &e), 1);
	virtq_push(&q, &mem, &e, 8);
	CHECK(!virtq_should_interrupt(&q)); /* 2 -> 3: the driver did not ask */
	virtq_set_notify(&q, true);
	CHECK_EQ(*(uint16_t *)gmem_ptr(&mem, USED + 4 + 8 * QN, 2), 3); /* avail_event */
	return 0;
}

/* A request that completes after the driver disabled the queue (and set it up again)
 * is not pushed into the new ring. */
static int late_completion_dropped(void)
{
	CHECK(setup(false, false) == 0);
	desc(DESC, 0, BUF, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	CHECK_EQ(virtq_pop(&q, &mem, &e), 1);
	virtq_reset(&q, QN); /* QueueReady 0 while the request is at the disk */
	virtq_push(&q, &mem, &e, 8);
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED + 0x100;
	CHECK(virtq_start(&q, &mem) == 0);
	virtq_push(&q, &mem, &e, 8); /* the old request completes now */
	CHECK_EQ(q.used_idx, 0);
	CHECK_EQ(get32(USED + 0x100) >> 16, 0);
	CHECK_EQ(get32(USED) >> 16, 0);
	return 0;
}

/* virtq_fill + virtq_flush: several chains become visible with one used-index update. */
static int fill_then_flush(void)
{
	CHECK(setup(false, false) == 0);
	desc(DESC, 0, BUF, 64, VIRTQ_DESC_F_WRITE, 0);
	desc(DESC, 1, BUF + 64, 64, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	offer(1);
	CHECK_EQ(virtq_pop(&q, &mem, &e), 1);
	virtq_fill(&q, &mem, &e, 64, 0);
	CHECK_EQ(virtq_pop(&q, &mem, &e), 1);
	virtq_fill(&q, &mem, &e, 10, 1);
	CHECK_EQ(get32(USED) >> 16, 0); /* nothing published yet */
	CHECK_EQ(get32(USED + 4), 0);
	CHECK_EQ(get32(USED + 12), 1);
	CHECK_EQ(get32(USED + 16), 10);
	virtq_flush(&q, &mem, 2);
	CHECK_EQ(get32(USED) >> 16, 2);
	virtq_push(&q, &mem, &e, 1); /* push continues after them */
	CHECK_EQ(get32(USED + 4 + 16), 1);
	CHECK_EQ(get32(USED) >> 16, 3);
	return 0;
}

/* ---- the transport, with virtio-rng ---- */

static int irq_level;

static void irq_fn_test(void *opaque, unsigned n, bool level)
{
	(void)opaque;
	(void)n;
	irq_level = level;
}

/* The device is reached through the bus, as a hart would. */
static struct bus bus;

#define SLOT 0x10001000ull

static uint32_t rd(uint64_t off)
{
	uint64_t v = 0;
	bus_read(&bus, SLOT + off, 4, &v);
	return (uint32_t)v;
}

static void wr(uint64_t off, uint32_t v)
{
	bus_write(&bus, SLOT + off, 4, v);
}

static int fake_slot(struct board *b, uint64_t *base, struct irq_line *line, unsigned *irq)
{
	(void)b;
	*base = SLOT;
	*line = (struct irq_line){.fn = irq_fn_test};
	*irq = 1;
	return 0;
}

static int rng_end_to_end(void)
{
	struct evloop *loop;
	struct device *rng;
	struct board b = {.bus = &bus, .mem = &mem, .virtio_slot = fake_slot};
	struct virtio_dev *d;
	uint8_t zero[64] = {0};

	CHECK(setup(false, false) == 0);
	CHECK(evloop_create(&loop) == 0);
	b.loop = loop;
	memset(&bus, 0, sizeof(bus));
	CHECK(vrng_create(&b, &rng) == 0);
	CHECK_EQ(bus.n, 1);
	d = bus.regions[0].opaque;
	CHECK_EQ(rd(0x000), 0x74726976);
	CHECK_EQ(rd(0x004), 2);
	CHECK_EQ(rd(0x008), VIRTIO_ID_RNG);
	wr(0x070, 1);
	wr(0x070, 3);
	wr(0x024, 1);
	CHECK_EQ(rd(0x010) & 0, 0);
	wr(0x014, 1);
	CHECK(rd(0x010) & 1); /* VERSION_1 offered */
	/* Without VERSION_1 accepted, FEATURES_OK does not stick. */
	wr(0x070, 3 | 8);
	CHECK(!(rd(0x070) & 8));
	wr(0x020, 1);
	wr(0x070, 3 | 8);
	CHECK(rd(0x070) & 8);
	wr(0x030, 0);
	CHECK_EQ(rd(0x034), 64);
	wr(0x038, QN);
	wr(0x080, (uint32_t)DESC);
	wr(0x084, (uint32_t)(DESC >> 32));
	wr(0x090, (uint32_t)AVAIL);
	wr(0x094, (uint32_t)(AVAIL >> 32));
	wr(0x0a0, (uint32_t)USED);
	wr(0x0a4, (uint32_t)(USED >> 32));
	wr(0x044, 1);
	CHECK_EQ(rd(0x044), 1);
	wr(0x070, 3 | 8 | 4);
	desc(DESC, 0, BUF, 64, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	CHECK(evloop_start(loop, "test-io") == 0);
	wr(0x050, 0); /* QueueNotify: served on the loop thread */
	for (int i = 0;
	     i < 2000 &&
	     (__atomic_load_n((uint32_t *)gmem_ptr(&mem, USED, 4), __ATOMIC_ACQUIRE) >> 16) != 1;
	     i++)
		usleep(1000);
	evloop_stop(loop);
	CHECK_EQ(get32(USED) >> 16, 1);
	CHECK_EQ(get32(USED + 8), 64);
	CHECK(memcmp(gmem_ptr(&mem, BUF, 64), zero, 64) != 0);
	CHECK_EQ(irq_level, 1);
	CHECK_EQ(rd(0x060), VIRTIO_INT_USED);
	wr(0x064, VIRTIO_INT_USED);
	CHECK_EQ(irq_level, 0);
	/* A chain pointing outside RAM: the device needs a reset, Lodge carries on. */
	desc(DESC, 1, 0x1000, 64, VIRTQ_DESC_F_WRITE, 0);
	offer(1);
	d->ops->queue_notify(d, 0);
	CHECK(rd(0x070) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK_EQ(rd(0x060), VIRTIO_INT_CONFIG);
	wr(0x070, 0); /* reset */
	CHECK_EQ(rd(0x070), 0);
	CHECK_EQ(rd(0x044), 0);
	CHECK_EQ(irq_level, 0);
	/* Config space is empty: reads give 0, and bad widths are ignored. */
	CHECK_EQ(rd(0x100), 0);
	rng->ops->destroy(rng);
	evloop_destroy(loop);
	return 0;
}

/* An rng on the fake bus, not started: tests drive queue_notify themselves. */
static int rng_on_bus(struct evloop **loop, struct device **rng)
{
	struct board b = {.bus = &bus, .mem = &mem, .virtio_slot = fake_slot};

	if (setup(false, false) || evloop_create(loop))
		return 1;
	b.loop = *loop;
	memset(&bus, 0, sizeof(bus));
	return vrng_create(&b, rng) ? 1 : 0;
}

static void quit_loop(void *opaque)
{
	evloop_quit(opaque);
}

/* QueueNotify as a hart writes it, then one turn of the I/O loop on this thread. */
static int notify_and_serve(struct evloop *loop)
{
	struct evloop_timer *t;

	if (evloop_timer_add(loop, quit_loop, loop, &t))
		return 1;
	wr(0x050, 0);
	evloop_timer_arm(t, evloop_now_ns());
	evloop_run(loop);
	evloop_timer_del(t);
	return 0;
}

static void rng_queue(void)
{
	wr(0x030, 0);
	wr(0x038, QN);
	wr(0x080, (uint32_t)DESC);
	wr(0x084, (uint32_t)(DESC >> 32));
	wr(0x090, (uint32_t)AVAIL);
	wr(0x094, (uint32_t)(AVAIL >> 32));
	wr(0x0a0, (uint32_t)USED);
	wr(0x0a4, (uint32_t)(USED >> 32));
	wr(0x044, 1);
}

/* A driver that skips FEATURES_OK (with or without writing features) and sets DRIVER_OK
 * is not served: features were never checked, not even VERSION_1 (3.1.1). */
static int driver_ok_without_features_ok(void)
{
	struct evloop *loop;
	struct device *rng;

	CHECK(rng_on_bus(&loop, &rng) == 0);
	for (int pass = 0; pass < 2; pass++) {
		wr(0x070, 0);
		wr(0x070, 1 | 2);
		if (pass) {
			wr(0x024, 1);
			wr(0x020, 1); /* VERSION_1, but never confirmed with FEATURES_OK */
		}
		rng_queue();
		wr(0x070, 1 | 2 | 4);
		CHECK(rd(0x070) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
		CHECK_EQ(rd(0x060), VIRTIO_INT_CONFIG);
		desc(DESC, 0, BUF, 64, VIRTQ_DESC_F_WRITE, 0);
		offer(0);
		CHECK(notify_and_serve(loop) == 0);
		CHECK_EQ(get32(USED) >> 16, 0); /* nothing served */
	}
	/* After a reset and a proper negotiation, it is. */
	wr(0x070, 0);
	wr(0x070, 1 | 2);
	wr(0x024, 1);
	wr(0x020, 1);
	wr(0x070, 1 | 2 | 8);
	rng_queue();
	wr(0x070, 1 | 2 | 8 | 4);
	CHECK_EQ(rd(0x070), 1 | 2 | 8 | 4);
	CHECK(notify_and_serve(loop) == 0);
	CHECK_EQ(get32(USED) >> 16, 2);
	rng->ops->destroy(rng);
	evloop_destroy(loop);
	return 0;
}

/* A guest that breaks its device, or makes it warn, and resets it in a loop gets a few
 * log lines, not one per cycle. */
static int log_is_rate_limited(void)
{
	struct evloop *loop;
	struct device *rng;
	struct virtio_dev *d;
	char line[512];
	unsigned fails = 0, warns = 0;
	FILE *log = tmpfile();
	int saved = dup(2);

	CHECK(log && saved >= 0);
	CHECK(rng_on_bus(&loop, &rng) == 0);
	d = bus.regions[0].opaque;
	fflush(stderr);
	CHECK(dup2(fileno(log), 2) == 2);
	for (int i = 0; i < 1000; i++) {
		wr(0x070, 0);
		wr(0x038, 3); /* not a power of two */
		wr(0x044, 1);
		pthread_mutex_lock(&d->lock);
		virtio_dev_warn(d, "odd request %d", i);
		pthread_mutex_unlock(&d->lock);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	CHECK(rd(0x070) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	rewind(log);
	while (fgets(line, sizeof(line), log)) {
		fails += strstr(line, "device needs reset") != NULL;
		warns += strstr(line, "virtio-rng: odd request") != NULL;
	}
	fclose(log);
	CHECK_EQ(fails, 8 + 6); /* failures 1..8, then 16, 32, 64, 128, 256, 512 */
	CHECK_EQ(warns, 8 + 6);
	rng->ops->destroy(rng);
	evloop_destroy(loop);
	return 0;
}

static int keyval(void)
{
	struct keyval a;
	char err[128];

	CHECK(keyval_parse(&a, "disk.qcow2,format=qcow2,readonly=on,bogus=1", err, sizeof(err)) ==
	      0);
	CHECK(!strcmp(keyval_get(&a, "", 0), "disk.qcow2"));
	CHECK(!strcmp(keyval_get(&a, "format", 0), "qcow2"));
	CHECK(!strcmp(keyval_get(&a, "readonly", 0), "on"));
	CHECK(keyval_get(&a, "format", 1) == NULL);
	CHECK_EQ(keyval_check_unused(&a, "virtio-blk", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "bogus") != NULL);
	keyval_fini(&a);
	CHECK(keyval_parse(&a, "user,hostfwd=tcp::2222-:22,hostfwd=udp::53-:53", err,
			   sizeof(err)) == 0);
	CHECK(!strcmp(keyval_get(&a, "hostfwd", 1), "udp::53-:53"));
	keyval_fini(&a);
	CHECK(keyval_parse(&a, "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", err, sizeof(err)) == -EINVAL);
	/* ",," is a ',' of the value; a key ends at the first '=' */
	CHECK(keyval_parse(&a, "x,,y,,,,z.img,,,serial=s,,1,path=a=b", err, sizeof(err)) == 0);
	CHECK_EQ(a.n, 3);
	CHECK(!strcmp(keyval_get(&a, "", 0), "x,y,,z.img,"));
	CHECK(!strcmp(keyval_get(&a, "serial", 0), "s,1"));
	CHECK(!strcmp(keyval_get(&a, "path", 0), "a=b"));
	CHECK_EQ(keyval_check_unused(&a, "--disk", err, sizeof(err)), 0);
	keyval_fini(&a);
	/* a key taken once but given twice: said so, with both values */
	CHECK(keyval_parse(&a, "a.img,format=raw,format=qcow2", err, sizeof(err)) == 0);
	CHECK(!strcmp(keyval_get(&a, "format", 0), "raw"));
	CHECK(keyval_get(&a, "", 0));
	CHECK_EQ(keyval_check_unused(&a, "--disk", err, sizeof(err)), -EINVAL);
	CHECK(!strcmp(err, "--disk: format= given twice (format=raw and format=qcow2): give it "
			   "once"));
	keyval_fini(&a);
	return 0;
}

static const struct unit_test tests[] = {
	{"keyval", keyval},
	{"simple_chain", simple_chain},
	{"rejects_hostile_chains", rejects_hostile_chains},
	{"indirect_tables", indirect_tables},
	{"ring_placement", ring_placement},
	{"event_idx", event_idx},
	{"late_completion_dropped", late_completion_dropped},
	{"fill_then_flush", fill_then_flush},
	{"rng_end_to_end", rng_end_to_end},
	{"driver_ok_without_features_ok", driver_ok_without_features_ok},
	{"log_is_rate_limited", log_is_rate_limited},
};

UNIT_MAIN("virtq", tests)
