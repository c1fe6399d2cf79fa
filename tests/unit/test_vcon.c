/*
 * Unit tests for virtio-console (devices/virtio/console.c) on a fake board, fake guest RAM
 * and a fake console backend, driven through the MMIO registers as a guest driver would:
 * output reaches the backend (also while its reader is stuck, without a hart waiting),
 * input stays in the backend until the guest has buffers and, with MULTIPORT, has opened
 * the port; the control handshake Linux runs; hostile queues; save/load; the UART left
 * output-only beside it; the machine wiring of --virtio-console.
 */
#include "devices/virtio/console.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/evloop.h"
#include "core/gmem.h"
#include "core/sbuf.h"
#include "core/util.h"
#include "devices/chardev.h"
#include "devices/device.h"
#include "devices/uart.h"
#include "devices/virtio/virtio.h"
#include "harness.h"
#include "machine/machine.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (1ull << 20)
#define QN	 16
#define BUF	 (RAM_BASE + 0x20000)
#define SLOT	 0x10001000ull
#define BAD_ID	 0xffffffffu
#define LIMIT_MS 10000

/* Register offsets (virtio-mmio 4.2.2). */
enum {
	R_DEVICE_ID = 0x008,
	R_DEV_FEATURES = 0x010,
	R_DEV_FEATURES_SEL = 0x014,
	R_DRV_FEATURES = 0x020,
	R_DRV_FEATURES_SEL = 0x024,
	R_QUEUE_SEL = 0x030,
	R_QUEUE_NUM_MAX = 0x034,
	R_QUEUE_NUM = 0x038,
	R_QUEUE_READY = 0x044,
	R_QUEUE_NOTIFY = 0x050,
	R_ISR = 0x060,
	R_ISR_ACK = 0x064,
	R_STATUS = 0x070,
	R_DESC = 0x080,
	R_DRIVER = 0x090,
	R_DEVICE = 0x0a0,
	R_CONFIG = 0x100,
};

/* ---- the fake console backend ---- */

struct fake_con {
	struct chardev cd;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint8_t in[4096];
	size_t in_head, in_len;
	uint8_t *out; /* 1 MiB */
	size_t out_len;
	bool block;	    /* write waits until unblocked */
	bool in_write;	    /* a write is waiting */
	bool write_timeout; /* a blocked write waited LIMIT_MS: something held it up */
};

static int fake_write(struct chardev *cd, const uint8_t *buf, size_t len)
{
	struct fake_con *f = container_of(cd, struct fake_con, cd);
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += LIMIT_MS / 1000;
	pthread_mutex_lock(&f->lock);
	f->in_write = true;
	pthread_cond_broadcast(&f->cond);
	while (f->block && !f->write_timeout)
		if (pthread_cond_timedwait(&f->cond, &f->lock, &until) == ETIMEDOUT)
			f->write_timeout = true;
	for (size_t i = 0; i < len && f->out_len < (1u << 20); i++)
		f->out[f->out_len++] = buf[i];
	f->in_write = false;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static size_t fake_available(struct chardev *cd)
{
	struct fake_con *f = container_of(cd, struct fake_con, cd);
	size_t n;

	pthread_mutex_lock(&f->lock);
	n = f->in_len;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static size_t fake_read(struct chardev *cd, uint8_t *buf, size_t len)
{
	struct fake_con *f = container_of(cd, struct fake_con, cd);
	size_t n = 0;

	pthread_mutex_lock(&f->lock);
	while (n < len && f->in_len) {
		buf[n++] = f->in[f->in_head];
		f->in_head = (f->in_head + 1) % sizeof(f->in);
		f->in_len--;
	}
	pthread_mutex_unlock(&f->lock);
	return n;
}

static void fake_close(struct chardev *cd)
{
	(void)cd;
}

static const struct chardev_ops fake_ops = {
	.write = fake_write,
	.input_available = fake_available,
	.read = fake_read,
	.close = fake_close,
};

/* The user types `s`: kept by the backend, which tells the device. */
static void type(struct fake_con *f, const char *s)
{
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; s[i]; i++)
		f->in[(f->in_head + f->in_len++) % sizeof(f->in)] = (uint8_t)s[i];
	pthread_mutex_unlock(&f->lock);
	chardev_input_ready(&f->cd);
}

static size_t out_len(struct fake_con *f)
{
	size_t n;

	pthread_mutex_lock(&f->lock);
	n = f->out_len;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static void set_block(struct fake_con *f, bool on)
{
	pthread_mutex_lock(&f->lock);
	f->block = on;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

/* ---- the fake machine ---- */

static struct fake_con con;
static struct gmem mem;
static struct bus bus;
static struct evloop *loop;
static struct board board;
static struct device *dev;
static int irq_level;
static size_t watched; /* bytes seen by board.console_output */

static void fake_irq(void *opaque, unsigned n, bool level)
{
	(void)opaque;
	(void)n;
	__atomic_store_n(&irq_level, level, __ATOMIC_RELEASE);
}

static int fake_slot(struct board *b, uint64_t *base, struct irq_line *line, unsigned *irq)
{
	(void)b;
	*base = SLOT;
	*line = (struct irq_line){.fn = fake_irq};
	*irq = 1;
	return 0;
}

static void watch_output(struct board *b, const uint8_t *buf, size_t len)
{
	(void)b;
	(void)buf;
	__atomic_fetch_add(&watched, len, __ATOMIC_RELAXED);
}

static void teardown(void)
{
	if (loop)
		evloop_stop(loop);
	if (dev)
		dev->ops->destroy(dev);
	dev = NULL;
	evloop_destroy(loop);
	loop = NULL;
	if (con.cd.ops) {
		chardev_fini(&con.cd);
		pthread_cond_destroy(&con.cond);
		pthread_mutex_destroy(&con.lock);
		free(con.out);
	}
	memset(&con, 0, sizeof(con));
	gmem_fini(&mem);
}

/* A fresh device on a fresh board; the backend holds `input`. `start`: run the I/O
 * thread (else queue work happens only when a test calls it). */
static int setup(const char *input, bool start)
{
	char err[128] = "";

	teardown();
	if (gmem_init(&mem, RAM_BASE, RAM_SIZE, false) < 0 || evloop_create(&loop) < 0)
		return 1;
	chardev_init(&con.cd, &fake_ops);
	pthread_mutex_init(&con.lock, NULL);
	pthread_cond_init(&con.cond, NULL);
	con.out = calloc(1, 1u << 20);
	if (!con.out)
		return 1;
	con.in_len = strlen(input);
	memcpy(con.in, input, con.in_len);
	memset(&bus, 0, sizeof(bus));
	board = (struct board){.bus = &bus,
			       .mem = &mem,
			       .loop = loop,
			       .console = &con.cd,
			       .virtio_slot = fake_slot,
			       .console_output = watch_output};
	irq_level = 0;
	watched = 0;
	if (vcon_create(&board, NULL, &dev, err, sizeof(err)) < 0)
		return 1;
	if (start && evloop_start(loop, "test-io") < 0)
		return 1;
	return 0;
}

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

/* ---- the fake driver ---- */

/* Queue q's rings: descriptors, available ring, used ring, a page each. */
static uint64_t q_desc(unsigned q)
{
	return RAM_BASE + 0x1000 + 0x3000ull * q;
}

static uint64_t q_avail(unsigned q)
{
	return q_desc(q) + 0x1000;
}

static uint64_t q_used(unsigned q)
{
	return q_desc(q) + 0x2000;
}

#define NQ 4
static uint16_t avail_idx[NQ], ndesc[NQ];
static uint64_t desc_buf[NQ][QN]; /* guest address of each descriptor's buffer */

static void st16(uint64_t gpa, uint16_t v)
{
	__atomic_store_n((uint16_t *)gmem_ptr(&mem, gpa, 2), v, __ATOMIC_RELAXED);
}

static uint16_t used_idx(unsigned q)
{
	return __atomic_load_n((uint16_t *)gmem_ptr(&mem, q_used(q) + 2, 2), __ATOMIC_ACQUIRE);
}

static uint32_t used_field(unsigned q, unsigned i, unsigned word)
{
	return __atomic_load_n(
		(uint32_t *)gmem_ptr(&mem, q_used(q) + 4 + 8 * (i % QN) + 4 * word, 4),
		__ATOMIC_RELAXED);
}

/* The guest buffer and length of used element i of queue q. */
static uint64_t used_buf(unsigned q, unsigned i)
{
	return desc_buf[q][used_field(q, i, 0) % QN];
}

static uint32_t used_len(unsigned q, unsigned i)
{
	return used_field(q, i, 1);
}

/* Makes a one-buffer chain available on queue q (no notify). */
static void post(unsigned q, uint64_t gpa, uint32_t len, bool writable)
{
	uint16_t d = ndesc[q]++ % QN;
	uint64_t at = q_desc(q) + 16ull * d;

	desc_buf[q][d] = gpa;
	__atomic_store_n((uint64_t *)gmem_ptr(&mem, at, 8), gpa, __ATOMIC_RELAXED);
	__atomic_store_n((uint32_t *)gmem_ptr(&mem, at + 8, 4), len, __ATOMIC_RELAXED);
	st16(at + 12, writable ? VIRTQ_DESC_F_WRITE : 0);
	st16(at + 14, 0);
	st16(q_avail(q) + 4 + 2 * (avail_idx[q] % QN), d);
	avail_idx[q]++;
	__atomic_store_n((uint16_t *)gmem_ptr(&mem, q_avail(q) + 2, 2), avail_idx[q],
			 __ATOMIC_RELEASE);
}

static void kick(unsigned q)
{
	wr(R_QUEUE_NOTIFY, q);
}

static void put(uint64_t gpa, const void *p, size_t n)
{
	gmem_copy_to(gmem_ptr(&mem, gpa, n), p, n);
}

static void get(uint64_t gpa, void *p, size_t n)
{
	gmem_copy_from(p, gmem_ptr(&mem, gpa, n), n);
}

static void sleep_ms(unsigned ms)
{
	usleep(ms * 1000);
}

/* Waits (bounded) until queue q has used `n` chains. */
static bool wait_used(unsigned q, unsigned n)
{
	for (int i = 0; i < LIMIT_MS && (uint16_t)(used_idx(q) - n) > 0x8000; i++)
		sleep_ms(1);
	return (uint16_t)(used_idx(q) - n) <= 0x8000;
}

static bool wait_out(size_t n)
{
	for (int i = 0; i < LIMIT_MS && out_len(&con) < n; i++)
		sleep_ms(1);
	return out_len(&con) >= n;
}

/* What a driver does to start the device (3.1.1): features `lo` (device-type bits) and
 * VERSION_1 accepted, queues 0..nq-1 set up with QN entries, DRIVER_OK. */
static void drv_init(uint32_t lo, unsigned nq)
{
	wr(R_STATUS, 0);
	wr(R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(R_DRV_FEATURES_SEL, 0);
	wr(R_DRV_FEATURES, lo);
	wr(R_DRV_FEATURES_SEL, 1);
	wr(R_DRV_FEATURES, 1); /* VERSION_1 */
	wr(R_STATUS, 3 | VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < nq; q++) {
		memset(gmem_ptr(&mem, q_desc(q), 0x3000), 0, 0x3000);
		avail_idx[q] = ndesc[q] = 0;
		wr(R_QUEUE_SEL, q);
		wr(R_QUEUE_NUM, QN);
		wr(R_DESC, (uint32_t)q_desc(q));
		wr(R_DESC + 4, (uint32_t)(q_desc(q) >> 32));
		wr(R_DRIVER, (uint32_t)q_avail(q));
		wr(R_DRIVER + 4, (uint32_t)(q_avail(q) >> 32));
		wr(R_DEVICE, (uint32_t)q_used(q));
		wr(R_DEVICE + 4, (uint32_t)(q_used(q) >> 32));
		wr(R_QUEUE_READY, 1);
	}
	wr(R_STATUS, 3 | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

static struct virtio_dev *vdev(void)
{
	return bus.regions[0].opaque;
}

/* Buffers: receive data, transmit data, control receive and control transmit. */
#define RX_BUF	  (RAM_BASE + 0x20000)
#define TX_BUF	  (RAM_BASE + 0x40000)
#define TX_BUF2	  (RAM_BASE + 0x80000)
#define CRX_BUF	  (RAM_BASE + 0x90000)
#define CTX_BUF	  (RAM_BASE + 0x98000)
#define MPORT	  (1u << 1) /* VIRTIO_CONSOLE_F_MULTIPORT */
#define EV_READY  0	    /* DEVICE_READY */
#define EV_ADD	  1	    /* DEVICE_ADD */
#define EV_PREADY 3	    /* PORT_READY */
#define EV_CONS	  4	    /* CONSOLE_PORT */
#define EV_OPEN	  6	    /* PORT_OPEN */

/* The driver sends a control message (and waits until the device took it). */
static bool ctrl_out(uint32_t id, uint16_t event, uint16_t value)
{
	static unsigned k;
	uint8_t msg[8];
	uint64_t at = CTX_BUF + 16ull * (k++ % 64);
	unsigned n = used_idx(VCON_CTRL_TXQ);

	memcpy(msg, &id, 4);
	memcpy(msg + 4, &event, 2);
	memcpy(msg + 6, &value, 2);
	put(at, msg, 8);
	post(VCON_CTRL_TXQ, at, 8, false);
	kick(VCON_CTRL_TXQ);
	return wait_used(VCON_CTRL_TXQ, n + 1);
}

/* Control message i the device sent: "id/event/value". */
static int ctrl_in(unsigned i, uint32_t *id, uint16_t *event, uint16_t *value)
{
	uint8_t msg[8];

	if (used_len(VCON_CTRL_RXQ, i) != 8)
		return -1;
	get(used_buf(VCON_CTRL_RXQ, i), msg, 8);
	memcpy(id, msg, 4);
	memcpy(event, msg + 4, 2);
	memcpy(value, msg + 6, 2);
	return 0;
}

static bool needs_reset(void)
{
	return rd(R_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}

/* ---- tests ---- */

static int t_identity(void)
{
	CHECK(setup("", false) == 0);
	CHECK_EQ(rd(R_DEVICE_ID), VIRTIO_ID_CONSOLE);
	wr(R_DEV_FEATURES_SEL, 0);
	CHECK_EQ(rd(R_DEV_FEATURES) & 7, MPORT); /* MULTIPORT; no SIZE, no EMERG_WRITE */
	wr(R_DEV_FEATURES_SEL, 1);
	CHECK(rd(R_DEV_FEATURES) & 1);	/* VERSION_1 */
	CHECK_EQ(rd(R_CONFIG + 0), 0);	/* cols, rows */
	CHECK_EQ(rd(R_CONFIG + 4), 1);	/* max_nr_ports */
	CHECK_EQ(rd(R_CONFIG + 8), 0);	/* emerg_wr */
	CHECK_EQ(rd(R_CONFIG + 12), 0); /* past the end */
	for (unsigned q = 0; q < 5; q++) {
		wr(R_QUEUE_SEL, q);
		CHECK_EQ(rd(R_QUEUE_NUM_MAX), q < 4 ? VCON_QUEUE_SIZE : 0);
	}
	return 0;
}

static int t_output(void)
{
	const char msg[] = "hello, world\n";
	char got[sizeof(msg)] = "";

	CHECK(setup("", true) == 0);
	drv_init(0, 2);
	put(TX_BUF, msg, sizeof(msg) - 1);
	post(VCON_TXQ, TX_BUF, sizeof(msg) - 1, false);
	kick(VCON_TXQ);
	/* Back when the notify returns: Linux spins until it is, after every write, and a
	 * round trip through the I/O thread per line made output five times slower. */
	CHECK_EQ(used_idx(VCON_TXQ), 1);
	CHECK_EQ(used_len(VCON_TXQ, 0), 0); /* nothing written into a transmit buffer */
	CHECK(wait_out(sizeof(msg) - 1));
	memcpy(got, con.out, sizeof(msg) - 1);
	CHECK(!strcmp(got, msg));
	CHECK_EQ(__atomic_load_n(&watched, __ATOMIC_RELAXED), sizeof(msg) - 1); /* panic watch */
	CHECK_EQ(__atomic_load_n(&irq_level, __ATOMIC_ACQUIRE), 1);
	CHECK(rd(R_ISR) & VIRTIO_INT_USED);
	wr(R_ISR_ACK, VIRTIO_INT_USED);
	CHECK_EQ(__atomic_load_n(&irq_level, __ATOMIC_ACQUIRE), 0);
	return 0;
}

/* Without MULTIPORT: input waits in the backend for receive buffers, and a buffer takes
 * only what fits. */
static int t_input_waits_for_buffers(void)
{
	char got[8] = "";

	CHECK(setup("early", true) == 0);
	drv_init(0, 2);
	sleep_ms(20); /* DRIVER_OK's look at the queues: nothing to fill */
	CHECK_EQ(fake_available(&con.cd), 5);
	post(VCON_RXQ, RX_BUF, 4, true);
	kick(VCON_RXQ);
	CHECK(wait_used(VCON_RXQ, 1));
	CHECK_EQ(used_len(VCON_RXQ, 0), 4);
	get(RX_BUF, got, 4);
	CHECK(!strcmp(got, "earl"));
	CHECK_EQ(fake_available(&con.cd), 1);
	post(VCON_RXQ, RX_BUF + 0x100, 64, true);
	kick(VCON_RXQ);
	CHECK(wait_used(VCON_RXQ, 2));
	CHECK_EQ(used_len(VCON_RXQ, 1), 1);
	/* Typed with no buffer posted: kept; the next buffer gets it. */
	type(&con, "abc");
	CHECK_EQ(used_idx(VCON_RXQ), 2);
	CHECK_EQ(fake_available(&con.cd), 3);
	memset(got, 0, sizeof(got));
	post(VCON_RXQ, RX_BUF + 0x200, 64, true);
	kick(VCON_RXQ);
	CHECK(wait_used(VCON_RXQ, 3));
	get(RX_BUF + 0x200, got, used_len(VCON_RXQ, 2));
	CHECK(!strcmp(got, "abc"));
	/* With a buffer waiting, typing delivers at once (the backend's thread). */
	post(VCON_RXQ, RX_BUF + 0x300, 64, true);
	kick(VCON_RXQ);
	sleep_ms(20);
	type(&con, "z");
	CHECK(wait_used(VCON_RXQ, 4));
	CHECK_EQ(used_len(VCON_RXQ, 3), 1);
	return 0;
}

/* Linux's MULTIPORT handshake. Linux posts the port's receive buffers before it opened
 * the port and drops input that arrives in between, so input must wait for PORT_OPEN
 * (piped commands were lost at boot when it did not). */
static int t_multiport_handshake(void)
{
	uint32_t id;
	uint16_t ev, val;
	char got[8] = "";

	CHECK(setup("ls\n", true) == 0);
	drv_init(MPORT, 4);
	post(VCON_RXQ, RX_BUF, 64, true);
	kick(VCON_RXQ);
	/* DEVICE_READY before any control receive buffer: the answer waits. */
	CHECK(ctrl_out(BAD_ID, EV_READY, 1));
	CHECK_EQ(used_idx(VCON_CTRL_RXQ), 0);
	for (unsigned i = 0; i < 8; i++)
		post(VCON_CTRL_RXQ, CRX_BUF + 64ull * i, 64, true);
	kick(VCON_CTRL_RXQ);
	CHECK(wait_used(VCON_CTRL_RXQ, 1));
	CHECK(ctrl_in(0, &id, &ev, &val) == 0);
	CHECK_EQ(id, 0);
	CHECK_EQ(ev, EV_ADD);
	/* The receive buffer was seen (queue 0 is served first), but the port is not open. */
	CHECK_EQ(used_idx(VCON_RXQ), 0);
	CHECK(ctrl_out(0, EV_PREADY, 1));
	CHECK(wait_used(VCON_CTRL_RXQ, 3));
	CHECK(ctrl_in(1, &id, &ev, &val) == 0);
	CHECK(id == 0 && ev == EV_CONS && val == 1);
	CHECK(ctrl_in(2, &id, &ev, &val) == 0);
	CHECK(id == 0 && ev == EV_OPEN && val == 1);
	CHECK_EQ(used_idx(VCON_RXQ), 0);
	CHECK_EQ(fake_available(&con.cd), 3);
	/* The guest opens the port: the input goes. */
	CHECK(ctrl_out(0, EV_OPEN, 1));
	CHECK(wait_used(VCON_RXQ, 1));
	get(RX_BUF, got, used_len(VCON_RXQ, 0));
	CHECK(!strcmp(got, "ls\n"));
	/* Closed again: input waits. */
	CHECK(ctrl_out(0, EV_OPEN, 0));
	post(VCON_RXQ, RX_BUF + 0x100, 64, true);
	kick(VCON_RXQ);
	type(&con, "x");
	CHECK_EQ(used_idx(VCON_RXQ), 1);
	CHECK_EQ(fake_available(&con.cd), 1);
	/* Messages about other ports and unknown events are dropped, the device carries on. */
	CHECK(ctrl_out(5, EV_OPEN, 1));
	CHECK(ctrl_out(0, 99, 1));
	CHECK(!needs_reset());
	CHECK_EQ(fake_available(&con.cd), 1);
	CHECK(ctrl_out(0, EV_OPEN, 1));
	CHECK(wait_used(VCON_RXQ, 2));
	return 0;
}

/* The backend's write blocks (a reader that does not read): the guest still gets its
 * transmit buffers back, more output is taken meanwhile, and a hart's register accesses
 * do not wait for the backend. */
static int t_slow_reader(void)
{
	CHECK(setup("", true) == 0);
	drv_init(0, 2);
	set_block(&con, true);
	put(TX_BUF, "slow", 4);
	post(VCON_TXQ, TX_BUF, 4, false);
	kick(VCON_TXQ);
	for (int i = 0; i < LIMIT_MS; i++) {
		bool in;
		pthread_mutex_lock(&con.lock);
		in = con.in_write;
		pthread_mutex_unlock(&con.lock);
		if (in)
			break;
		sleep_ms(1);
	}
	CHECK(con.in_write);
	CHECK(wait_used(VCON_TXQ, 1));
	/* If these waited for the device lock held across the write, the write would give up
	 * after LIMIT_MS and say so. */
	CHECK(rd(R_STATUS) & VIRTIO_STATUS_DRIVER_OK);
	wr(R_ISR_ACK, rd(R_ISR));
	CHECK_EQ(rd(R_CONFIG + 4), 1);
	put(TX_BUF + 4, "more", 4);
	post(VCON_TXQ, TX_BUF + 4, 4, false);
	kick(VCON_TXQ);
	CHECK_EQ(used_idx(VCON_TXQ), 2);
	set_block(&con, false);
	CHECK(wait_out(8));
	CHECK(!con.write_timeout);
	CHECK(!memcmp(con.out, "slowmore", 8));
	return 0;
}

/* A transmit buffer larger than the device's output buffer goes out whole and in order,
 * followed by the next one. */
static int t_big_output(void)
{
	enum { BIG = 200 * 1024 };
	static uint8_t pat[BIG];

	for (size_t i = 0; i < BIG; i++)
		pat[i] = (uint8_t)(i * 7 + i / 251);
	CHECK(setup("", true) == 0);
	drv_init(0, 2);
	put(TX_BUF, pat, BIG);
	put(TX_BUF2, "tail!", 5);
	post(VCON_TXQ, TX_BUF, BIG, false);
	post(VCON_TXQ, TX_BUF2, 5, false);
	kick(VCON_TXQ);
	CHECK(wait_used(VCON_TXQ, 2));
	CHECK(wait_out(BIG + 5));
	CHECK_EQ(out_len(&con), BIG + 5);
	CHECK(!memcmp(con.out, pat, BIG));
	CHECK(!memcmp(con.out + BIG, "tail!", 5));
	return 0;
}

/* Guest errors: DEVICE_NEEDS_RESET and a configuration interrupt, never a crash; after a
 * reset the device works again. */
static int t_hostile(void)
{
	CHECK(setup("input", true) == 0);
	/* A device-writable buffer in the transmitq. */
	drv_init(0, 2);
	post(VCON_TXQ, TX_BUF, 16, true);
	kick(VCON_TXQ);
	for (int i = 0; i < LIMIT_MS && !needs_reset(); i++)
		sleep_ms(1);
	CHECK(needs_reset());
	CHECK(rd(R_ISR) & VIRTIO_INT_CONFIG);
	/* A transmit buffer outside RAM, and one running past its end. */
	drv_init(0, 2);
	CHECK(!needs_reset());
	post(VCON_TXQ, 0x1000, 16, false);
	kick(VCON_TXQ);
	for (int i = 0; i < LIMIT_MS && !needs_reset(); i++)
		sleep_ms(1);
	CHECK(needs_reset());
	drv_init(0, 2);
	post(VCON_TXQ, RAM_BASE + RAM_SIZE - 8, 16, false);
	kick(VCON_TXQ);
	for (int i = 0; i < LIMIT_MS && !needs_reset(); i++)
		sleep_ms(1);
	CHECK(needs_reset());
	/* A device-readable buffer in the receiveq. */
	drv_init(0, 2);
	post(VCON_RXQ, RX_BUF, 16, false);
	kick(VCON_RXQ);
	for (int i = 0; i < LIMIT_MS && !needs_reset(); i++)
		sleep_ms(1);
	CHECK(needs_reset());
	CHECK_EQ(fake_available(&con.cd), 5); /* the input is still the user's */
	/* A zero-length receive buffer is given back empty, the input waits. */
	drv_init(0, 2);
	post(VCON_RXQ, RX_BUF, 0, true);
	kick(VCON_RXQ);
	CHECK(wait_used(VCON_RXQ, 1));
	CHECK_EQ(used_len(VCON_RXQ, 0), 0);
	CHECK(!needs_reset());
	CHECK_EQ(fake_available(&con.cd), 5);
	/* Control queues: a device-writable buffer in the control transmitq, a control
	 * receive buffer too small for a message. */
	drv_init(MPORT, 4);
	post(VCON_CTRL_TXQ, CTX_BUF, 8, true);
	kick(VCON_CTRL_TXQ);
	for (int i = 0; i < LIMIT_MS && !needs_reset(); i++)
		sleep_ms(1);
	CHECK(needs_reset());
	drv_init(MPORT, 4);
	post(VCON_CTRL_RXQ, CRX_BUF, 4, true);
	CHECK(ctrl_out(BAD_ID, EV_READY, 1));
	for (int i = 0; i < LIMIT_MS && !needs_reset(); i++)
		sleep_ms(1);
	CHECK(needs_reset());
	/* A message shorter than its header is dropped; the device carries on. */
	drv_init(MPORT, 4);
	put(CTX_BUF + 0x1000, "\0\0\0\0", 4);
	post(VCON_CTRL_TXQ, CTX_BUF + 0x1000, 4, false);
	kick(VCON_CTRL_TXQ);
	CHECK(wait_used(VCON_CTRL_TXQ, 1));
	CHECK(!needs_reset());
	/* A driver asking again and again without taking the answers: bounded. */
	for (int i = 0; i < 40; i++)
		CHECK(ctrl_out(BAD_ID, EV_READY, 1));
	CHECK(!needs_reset());
	for (unsigned i = 0; i < QN; i++)
		post(VCON_CTRL_RXQ, CRX_BUF + 64ull * i, 64, true);
	kick(VCON_CTRL_RXQ);
	CHECK(wait_used(VCON_CTRL_RXQ, 8));
	sleep_ms(20);
	CHECK_EQ(used_idx(VCON_CTRL_RXQ), 8);
	return 0;
}

static int t_args(void)
{
	char err[160];
	struct device *d2;

	CHECK(setup("", false) == 0);
	err[0] = 0;
	CHECK_EQ(vcon_create(&board, "bogus", &d2, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "bogus") && strstr(err, "takes no arguments"));
	err[0] = 0;
	CHECK_EQ(vcon_create(&board, "cols=80", &d2, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "cols") != NULL);
	CHECK_EQ(bus.n, 1); /* nothing was added for the refused ones */
	return 0;
}

/* Output the guest was told was sent, but that the I/O thread had not written yet when
 * the machine stopped (poweroff right after), is written when the device goes away. */
static int t_destroy_flushes(void)
{
	CHECK(setup("", false) == 0);
	drv_init(0, 2);
	put(TX_BUF, "bye\n", 4);
	post(VCON_TXQ, TX_BUF, 4, false);
	vdev()->ops->queue_notify(vdev(), VCON_TXQ); /* as the I/O thread would */
	CHECK_EQ(used_idx(VCON_TXQ), 1);
	CHECK_EQ(out_len(&con), 0);
	dev->ops->destroy(dev);
	dev = NULL;
	CHECK_EQ(out_len(&con), 4);
	CHECK(!memcmp(con.out, "bye\n", 4));
	return 0;
}

/* Save in the middle of things (a transmit buffer half copied, output not written yet,
 * an answer waiting for a control buffer, the port open), load into a new device on the
 * same RAM: everything carries on. */
static int t_save_load(void)
{
	enum { BIG = 100 * 1024 };
	static uint8_t pat[BIG];
	struct sbuf s = {0};
	struct sreader in;
	uint32_t id;
	uint16_t ev, val;
	char err[128];
	char got[8] = "";

	for (size_t i = 0; i < BIG; i++)
		pat[i] = (uint8_t)(i * 13 + 1);
	CHECK(setup("", false) == 0);
	drv_init(MPORT, 4);
	put(TX_BUF, pat, BIG);
	post(VCON_TXQ, TX_BUF, BIG, false);
	vdev()->ops->queue_notify(vdev(), VCON_TXQ);
	CHECK_EQ(used_idx(VCON_TXQ), 0); /* half copied */
	put(CTX_BUF, &(uint32_t){BAD_ID}, 4);
	put(CTX_BUF + 4, &(uint16_t){EV_READY}, 2);
	put(CTX_BUF + 6, &(uint16_t){1}, 2);
	post(VCON_CTRL_TXQ, CTX_BUF, 8, false);
	put(CTX_BUF + 16, &(uint32_t){0}, 4);
	put(CTX_BUF + 20, &(uint16_t){EV_OPEN}, 2);
	put(CTX_BUF + 22, &(uint16_t){1}, 2);
	post(VCON_CTRL_TXQ, CTX_BUF + 16, 8, false);
	vdev()->ops->queue_notify(vdev(), VCON_CTRL_TXQ);
	CHECK_EQ(used_idx(VCON_CTRL_TXQ), 2);
	CHECK_EQ(dev->ops->save(dev, &s), 0);
	/* The old device goes (writing what it held); a new one takes over. */
	dev->ops->destroy(dev);
	dev = NULL;
	CHECK_EQ(out_len(&con), 65536);
	con.out_len = 0;
	evloop_destroy(loop);
	CHECK(evloop_create(&loop) == 0);
	board.loop = loop;
	memset(&bus, 0, sizeof(bus));
	CHECK(vcon_create(&board, "", &dev, err, sizeof(err)) == 0);
	/* A truncated record is refused (the whole one is loaded next). */
	sreader_init(&in, s.data, s.len - 1);
	CHECK(dev->ops->load(dev, &in) < 0);
	sreader_init(&in, s.data, s.len);
	CHECK_EQ(dev->ops->load(dev, &in), 0);
	sbuf_fini(&s);
	CHECK(evloop_start(loop, "test-io") == 0);
	/* The saved output first, then the rest of the half-copied buffer. */
	CHECK(wait_used(VCON_TXQ, 1));
	CHECK(wait_out(BIG));
	CHECK_EQ(out_len(&con), BIG);
	CHECK(!memcmp(con.out, pat, BIG));
	post(VCON_CTRL_RXQ, CRX_BUF, 64, true);
	kick(VCON_CTRL_RXQ);
	CHECK(wait_used(VCON_CTRL_RXQ, 1));
	CHECK(ctrl_in(0, &id, &ev, &val) == 0);
	CHECK(id == 0 && ev == EV_ADD);
	post(VCON_RXQ, RX_BUF, 64, true);
	kick(VCON_RXQ);
	type(&con, "ok");
	CHECK(wait_used(VCON_RXQ, 1)); /* the port is still open */
	get(RX_BUF, got, 2);
	CHECK(!strcmp(got, "ok"));
	return 0;
}

/* Beside virtio-console the UART only prints: it never shows the backend's input to the
 * guest, nor takes it, and going away it leaves the backend's input handler alone. */
static int t_uart_output_only(void)
{
	struct bus ub = {0};
	struct uart *u;
	uint64_t v = 0;

	char err[128];

	CHECK(setup("abc", false) == 0);
	dev->ops->destroy(dev); /* the machine's order: the UART, then the device */
	dev = NULL;
	CHECK(uart_create(&ub, 0x10000000, &con.cd, &u) == 0);
	uart_disable_input(u);
	memset(&bus, 0, sizeof(bus));
	CHECK(vcon_create(&board, NULL, &dev, err, sizeof(err)) == 0);
	bus_write(&ub, 0x10000001, 1, 1);     /* IER: receive interrupt */
	bus_write(&ub, 0x10000002, 1, 1);     /* FCR: FIFO on */
	bus_write(&ub, 0x10000004, 1, 2);     /* MCR: RTS */
	bus_read(&ub, 0x10000005, 1, &v);     /* LSR */
	CHECK_EQ(v & 1, 0);		      /* no data ready */
	bus_read(&ub, 0x10000000, 1, &v);     /* RBR */
	CHECK_EQ(fake_available(&con.cd), 3); /* still the backend's */
	bus_write(&ub, 0x10000000, 1, 'Z');
	CHECK_EQ(out_len(&con), 1);
	CHECK_EQ(con.out[0], 'Z');
	/* The device created after it owns the input; the UART's end does not detach it. */
	CHECK(con.cd.input_fn != NULL);
	uart_destroy(u);
	CHECK(con.cd.input_fn != NULL);
	return 0;
}

/* --virtio-console on a whole machine: the device is there, the UART gives up the input,
 * and a second device that takes the console is refused with a clear message. */
static int t_machine(void)
{
	struct vm_device_arg one[] = {{"virtio-console", NULL}};
	struct vm_device_arg two[] = {{"virtio-console", NULL}, {"virtio-console", ""}};
	char err[256] = "";
	struct vm_config cfg = {.ram_size = 16u << 20,
				.nharts = 1,
				.devices = one,
				.ndevices = 1,
				.err = err,
				.errlen = sizeof(err)};
	struct vm *vm = NULL;
	uint64_t v = 0;
	unsigned found = 0;

	CHECK(setup("typed", false) == 0);
	teardown(); /* keep only the backend: the machine makes its own device */
	chardev_init(&con.cd, &fake_ops);
	pthread_mutex_init(&con.lock, NULL);
	pthread_cond_init(&con.cond, NULL);
	con.out = calloc(1, 1u << 20);
	CHECK(con.out != NULL);
	memcpy(con.in, "typed", 5);
	con.in_len = 5;
	cfg.console = &con.cd;

	CHECK(vm_create(&cfg, &vm) == 0);
	bus_write(&vm->bus, VIRT_UART_BASE + 1, 1, 1); /* IER: receive interrupt */
	bus_read(&vm->bus, VIRT_UART_BASE + 5, 1, &v);
	CHECK_EQ(v & 1, 0);
	for (unsigned i = 0; i < VM_VIRTIO_SLOTS; i++) {
		bus_read(&vm->bus, VIRT_VIRTIO_BASE + 0x1000ull * i + R_DEVICE_ID, 4, &v);
		found += v == VIRTIO_ID_CONSOLE;
	}
	CHECK_EQ(found, 1);
	vm_destroy(vm);
	vm = NULL;
	CHECK(con.cd.input_fn == NULL); /* the device detached */

	/* Without it the UART reads the console, as before. */
	cfg.ndevices = 0;
	CHECK(vm_create(&cfg, &vm) == 0);
	bus_write(&vm->bus, VIRT_UART_BASE + 1, 1, 1);
	bus_read(&vm->bus, VIRT_UART_BASE + 5, 1, &v);
	CHECK_EQ(v & 1, 1);
	vm_destroy(vm);
	vm = NULL;

	cfg.devices = two;
	cfg.ndevices = 2;
	CHECK_EQ(vm_create(&cfg, &vm), -EINVAL);
	CHECK(strstr(err, "only one device can take the console's input") != NULL);
	teardown();
	return 0;
}

static int t_cleanup(void)
{
	teardown();
	return 0;
}

static const struct unit_test tests[] = {
	{"identity", t_identity},
	{"output", t_output},
	{"input_waits_for_buffers", t_input_waits_for_buffers},
	{"multiport_handshake", t_multiport_handshake},
	{"slow_reader", t_slow_reader},
	{"big_output", t_big_output},
	{"hostile", t_hostile},
	{"args", t_args},
	{"destroy_flushes", t_destroy_flushes},
	{"save_load", t_save_load},
	{"uart_output_only", t_uart_output_only},
	{"machine", t_machine},
	{"cleanup", t_cleanup},
};

UNIT_MAIN("vcon", tests)
