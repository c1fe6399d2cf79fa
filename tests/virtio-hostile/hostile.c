/*
 * A hostile virtio driver: a bare-metal M-mode program (lodge run --bare) that scans the
 * 16 virtio-mmio slots from 0x10001000 and attacks every device it finds, by DeviceID,
 * through the virtio-mmio v2 registers and malformed split virtqueues (virtio 1.2, 2.7
 * and 4.2): set-up steps skipped or out of order, queue sizes that are zero, not a power
 * of two or too large, rings outside RAM or partly past its end, descriptor chains that
 * loop or run outside RAM, indirect tables that nest or have odd lengths, avail indexes
 * that jump, notifies of queues that do not exist, resets in the middle of a request,
 * register accesses of every width, writes to read-only registers, configuration space
 * beyond its size.
 *
 * After each attack the device must either have completed the request correctly or set
 * DEVICE_NEEDS_RESET (0x40) without touching the used ring, and after a reset (status 0)
 * it must serve a correct request again (virtio-rng: random bytes). Progress goes to the
 * UART; the last lines give per device the attacks made and the resets written, which
 * tests/virtio-hostile/suite.sh compares with Lodge's "device needs reset" log lines.
 * Exit status (finisher): 0 when every check held, else the failing check's number.
 */
#include "runtime.h"

#include <stdbool.h>

/* ---- virtio-mmio (4.2.2) ---- */

#define SLOT0		     0x10001000ul
#define NSLOTS		     16
#define MAGIC		     0x74726976u
#define REG_MAGIC	     0x000
#define REG_VERSION	     0x004
#define REG_DEVICE_ID	     0x008
#define REG_VENDOR_ID	     0x00c
#define REG_DEV_FEATURES     0x010
#define REG_DEV_FEATURES_SEL 0x014
#define REG_DRV_FEATURES     0x020
#define REG_DRV_FEATURES_SEL 0x024
#define REG_QUEUE_SEL	     0x030
#define REG_QUEUE_NUM_MAX    0x034
#define REG_QUEUE_NUM	     0x038
#define REG_QUEUE_READY	     0x044
#define REG_QUEUE_NOTIFY     0x050
#define REG_INT_STATUS	     0x060
#define REG_INT_ACK	     0x064
#define REG_STATUS	     0x070
#define REG_QUEUE_DESC	     0x080
#define REG_QUEUE_DRIVER     0x090
#define REG_QUEUE_DEVICE     0x0a0
#define REG_SHM_LEN	     0x0b0
#define REG_CONFIG_GEN	     0x0fc
#define REG_CONFIG	     0x100

#define ST_ACK	       1u
#define ST_DRIVER      2u
#define ST_DRIVER_OK   4u
#define ST_FEATURES_OK 8u
#define ST_NEEDS_RESET 64u
#define ST_FAILED      128u

#define F_INDIRECT  28
#define F_EVENT_IDX 29
#define F_VERSION_1 32

#define D_NEXT	   1
#define D_WRITE	   2
#define D_INDIRECT 4

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* ---- the machine ---- */

#define RAM_BASE 0x80000000ul
#define CLINT	 0x02000000ul
#define PLIC	 0x0c000000ul
#define UART	 0x10000000ul

/* Scratch RAM for rings and buffers, above the program and its stack. */
#define SCR	 (RAM_BASE + 0x200000ul)
#define DESC_AT	 (SCR + 0x0000)
#define AVAIL_AT (SCR + 0x10000)
#define USED_AT	 (SCR + 0x20000)
#define IND_AT	 (SCR + 0x30000)
#define BUF_AT	 (SCR + 0x40000) /* segment i at BUF_AT + i * 0x1000 */

static uint64_t ram_end;

static inline void fence(void)
{
	__asm__ volatile("fence rw, rw" ::: "memory");
}

static uint64_t now(void)
{
	return *(volatile uint64_t *)RT_CLINT_MTIME; /* 10 MHz */
}

static uint32_t rd32(uintptr_t a)
{
	return *(volatile uint32_t *)a;
}

static void wr32(uintptr_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}

/* ---- expected traps: access faults on purpose ---- */

static volatile int fault_ok, faults;

static void on_trap(struct rt_frame *f)
{
	uint16_t insn;

	if (!fault_ok || (int64_t)f->mcause < 0 || f->mcause > 7) {
		rt_printf("unexpected trap: mcause=%lx mepc=%lx mtval=%lx\n", f->mcause, f->mepc,
			  f->mtval);
		rt_exit(250);
	}
	faults++;
	insn = *(volatile uint16_t *)f->mepc;
	f->mepc += (insn & 3) == 3 ? 4 : 2;
}

/* A load that may fault: returns false if it did. */
static bool probe_load(uintptr_t a)
{
	int before = faults;

	fault_ok = 1;
	(void)*(volatile uint8_t *)a;
	fault_ok = 0;
	return faults == before;
}

/* RAM size by probing: doubling, then a binary search at page granularity. */
static void find_ram_end(void)
{
	uint64_t lo = 1ul << 20, hi;

	while (lo < (1ul << 36) && probe_load(RAM_BASE + 2 * lo - 1))
		lo *= 2;
	hi = 2 * lo; /* RAM_BASE + lo - 1 is RAM, RAM_BASE + hi - 1 is not */
	while (hi - lo > 4096) {
		uint64_t mid = (lo + hi) / 2 & ~4095ul;
		if (probe_load(RAM_BASE + mid - 1))
			lo = mid;
		else
			hi = mid;
	}
	ram_end = RAM_BASE + lo;
}

/* ---- devices ---- */

/* What a correct request looks like on a device type's request queue: segments
 * (readable ones first), how to fill them, and how to check the device's answer. */
struct seg {
	uint32_t len;
	bool w;
};

struct dev;

struct dtype {
	uint32_t id;
	const char *name;
	int queue; /* the queue the device serves on notify; -1: none known */
	unsigned nseg;
	struct seg seg[3];
	void (*fill)(void); /* writes the readable segments' contents */
	/* after completion with `len` in the used element: 0 or a failing check number */
	int (*verify)(uint32_t len);
	/* optional: turns the filled request into one the device serves but complains about
	 * (Lodge logs a warning), for the warning storm */
	void (*odd)(void);
	/* optional: attacks only this type understands */
	void (*extra)(struct dev *d);
};

struct dev {
	uintptr_t base;
	const struct dtype *t;
	uint32_t id;
	unsigned nq;
	uint32_t qmax[16];
	uint64_t offered;
	unsigned attacks, needs_reset, resets;
};

static struct dev devs[NSLOTS];
static unsigned ndevs;

/* The queue under attack: the driver's view. */
static struct {
	struct dev *d;
	unsigned q;
	uint32_t num;
	volatile struct desc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[num], used_event */
	volatile uint8_t *used;	  /* flags, idx, {id, len}[num], avail_event */
	uint16_t avail_idx;
} Q;

static uint16_t used_idx(void)
{
	fence();
	return *(volatile uint16_t *)(Q.used + 2);
}

static uint32_t used_elem(uint16_t i, unsigned word)
{
	return *(volatile uint32_t *)(Q.used + 4 + 8 * (i % Q.num) + 4 * word);
}

static uint32_t status(struct dev *d)
{
	return rd32(d->base + REG_STATUS);
}

static void dev_reset(struct dev *d)
{
	wr32(d->base + REG_STATUS, 0);
	d->resets++;
	RT_CHECK(10, status(d) == 0);
	RT_CHECK(11, rd32(d->base + REG_INT_STATUS) == 0);
}

/* Reset, ACKNOWLEDGE, DRIVER, the features asked for that the device offers plus
 * VERSION_1, FEATURES_OK (checked). */
static void dev_start(struct dev *d, uint64_t want)
{
	uint64_t feat = (want & d->offered) | (1ull << F_VERSION_1);

	dev_reset(d);
	wr32(d->base + REG_STATUS, ST_ACK);
	wr32(d->base + REG_STATUS, ST_ACK | ST_DRIVER);
	wr32(d->base + REG_DRV_FEATURES_SEL, 0);
	wr32(d->base + REG_DRV_FEATURES, (uint32_t)feat);
	wr32(d->base + REG_DRV_FEATURES_SEL, 1);
	wr32(d->base + REG_DRV_FEATURES, (uint32_t)(feat >> 32));
	wr32(d->base + REG_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	RT_CHECK(12, status(d) == (ST_ACK | ST_DRIVER | ST_FEATURES_OK));
}

static void dev_go(struct dev *d)
{
	wr32(d->base + REG_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
}

static void set_addr(struct dev *d, unsigned reg, uint64_t a)
{
	wr32(d->base + reg, (uint32_t)a);
	wr32(d->base + reg + 4, (uint32_t)(a >> 32));
}

static bool in_ram(uint64_t a, uint64_t len)
{
	return a >= RAM_BASE && a < ram_end && len <= ram_end - a;
}

/* Queue q with `num` entries and rings at the given addresses; `ready` makes it live.
 * Clears the rings (when they are in RAM) first, as a driver does. */
static void queue_setup(struct dev *d, unsigned q, uint32_t num, uint64_t desc, uint64_t avail,
			uint64_t used, bool ready)
{
	Q.d = d;
	Q.q = q;
	Q.num = num;
	Q.desc = (volatile struct desc *)desc;
	Q.avail = (volatile uint16_t *)avail;
	Q.used = (volatile uint8_t *)used;
	Q.avail_idx = 0;
	if (num <= 256 && in_ram(desc, 16 * num))
		memset((void *)desc, 0, 16 * num);
	if (num <= 256 && in_ram(avail, 6 + 2 * num))
		memset((void *)avail, 0, 6 + 2 * num);
	if (num <= 256 && in_ram(used, 6 + 8 * num))
		memset((void *)used, 0, 6 + 8 * num);
	fence();
	wr32(d->base + REG_QUEUE_SEL, q);
	wr32(d->base + REG_QUEUE_NUM, num);
	set_addr(d, REG_QUEUE_DESC, desc);
	set_addr(d, REG_QUEUE_DRIVER, avail);
	set_addr(d, REG_QUEUE_DEVICE, used);
	if (ready)
		wr32(d->base + REG_QUEUE_READY, 1);
}

static uint32_t qsize(struct dev *d, unsigned q)
{
	return d->qmax[q] < 16 ? d->qmax[q] : 16;
}

/* The usual set-up: features `want`, queue q with standard rings, DRIVER_OK. */
static void dev_setup(struct dev *d, unsigned q, uint64_t want)
{
	dev_start(d, want);
	queue_setup(d, q, qsize(d, q), DESC_AT, AVAIL_AT, USED_AT, true);
	wr32(d->base + REG_QUEUE_SEL, q);
	RT_CHECK(13, rd32(d->base + REG_QUEUE_READY) == 1);
	dev_go(d);
	RT_CHECK(14, status(d) == (ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK));
}

static void put_desc(volatile struct desc *t, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	t[i].addr = addr;
	t[i].len = len;
	t[i].flags = flags;
	t[i].next = next;
}

/* Writes the device type's correct request into table t from entry `first` (chained
 * first, first+1, ...). Returns the number of descriptors. */
static unsigned build_request(volatile struct desc *t, unsigned first)
{
	const struct dtype *ty = Q.d->t;

	for (unsigned i = 0; i < ty->nseg; i++) {
		uint64_t buf = BUF_AT + 0x1000ul * i;
		/* readable: zeros unless the type fills them; writable: a pattern to overwrite */
		memset((void *)buf, ty->seg[i].w ? 0xa5 : 0, ty->seg[i].len);
		put_desc(t, first + i, buf, ty->seg[i].len,
			 (uint16_t)((ty->seg[i].w ? D_WRITE : 0) | (i + 1 < ty->nseg ? D_NEXT : 0)),
			 (uint16_t)(first + i + 1));
	}
	if (ty->fill)
		ty->fill();
	return ty->nseg;
}

/* Makes chain `head` available (adding `extra` to the index: a jump) and notifies. */
static void offer(uint16_t head, uint16_t extra)
{
	Q.avail[2 + Q.avail_idx % Q.num] = head;
	fence();
	Q.avail_idx = (uint16_t)(Q.avail_idx + 1 + extra);
	Q.avail[1] = Q.avail_idx;
	fence();
	wr32(Q.d->base + REG_QUEUE_NOTIFY, Q.q);
}

enum outcome { DONE = 1, BROKEN = 2, NOTHING = 0 };

/* Waits up to `ms` for the used index to move past `old` or for DEVICE_NEEDS_RESET. */
static enum outcome wait_device(uint16_t old, unsigned ms)
{
	uint64_t end = now() + 10000ull * ms;

	do {
		if (used_idx() != old)
			return DONE;
		if (status(Q.d) & ST_NEEDS_RESET)
			return BROKEN;
	} while (now() < end);
	return NOTHING;
}

#define WAIT_MS 5000 /* generous: the device answers at once unless something is wrong */

/* ---- device types ---- */

static int rng_verify(uint32_t len)
{
	const uint8_t *b = (const uint8_t *)BUF_AT;
	unsigned same = 0;

	if (len != 64)
		return 20;
	for (unsigned i = 0; i < 64; i++)
		same += b[i] == 0xa5;
	return same > 16 ? 21 : 0; /* random bytes, not the pattern left in place */
}

/* virtio-blk (5.2.6): read sector 0 (header type IN). */
static void blk_fill(void)
{
	uint32_t *h = (uint32_t *)BUF_AT;

	h[0] = 0; /* VIRTIO_BLK_T_IN */
	h[1] = 0;
	h[2] = h[3] = 0; /* sector 0 */
}

static int blk_verify(uint32_t len)
{
	(void)len;
	return *(volatile uint8_t *)(BUF_AT + 0x2000) == 0 ? 0 : 22; /* VIRTIO_BLK_S_OK */
}

static int any_verify(uint32_t len)
{
	(void)len;
	return 0;
}

static int zero_len_verify(uint32_t len)
{
	return len == 0 ? 0 : 23;
}

/* virtio-balloon (5.5.6): inflate four scratch pages (their contents are given up). */
#define BALLOON_PAGES (BUF_AT + 0x10000)

static void balloon_fill(void)
{
	uint32_t *pfn = (uint32_t *)BUF_AT;

	for (unsigned i = 0; i < 4; i++)
		pfn[i] = (uint32_t)((BALLOON_PAGES >> 12) + i);
}

static void balloon_odd(void)
{
	*(uint32_t *)BUF_AT = 0x10; /* page 0x10000: not RAM */
}

/* virtio-vsock (5.10.6): a RST from the guest for a connection that does not exist,
 * which the device takes and drops. */
static void vsock_fill(void)
{
	uint8_t *h = (uint8_t *)BUF_AT;
	uint64_t cid = rd32(Q.d->base + REG_CONFIG) | (uint64_t)rd32(Q.d->base + REG_CONFIG + 4)
							      << 32;

	memcpy(h, &cid, 8); /* src_cid */
	h[8] = 2;	    /* dst_cid: the host */
	h[16] = 0x34;	    /* src_port 0x1234 */
	h[17] = 0x12;
	h[20] = 0x78; /* dst_port 0x5678 */
	h[21] = 0x56;
	h[28] = 1; /* type STREAM */
	h[30] = 3; /* op RST */
}

static void vsock_odd(void)
{
	*(uint8_t *)(BUF_AT + 8) = 7; /* dst_cid: not the host */
}

static void blk_extra(struct dev *d);

static const struct dtype types[] = {
	{4, "virtio-rng", 0, 1, {{64, true}}, NULL, rng_verify, NULL, NULL},
	{2,
	 "virtio-blk",
	 0,
	 3,
	 {{16, false}, {512, true}, {1, true}},
	 blk_fill,
	 blk_verify,
	 NULL,
	 blk_extra},
	{5,
	 "virtio-balloon",
	 0,
	 1,
	 {{16, false}},
	 balloon_fill,
	 zero_len_verify,
	 balloon_odd,
	 NULL},
	{19, "virtio-vsock", 1, 1, {{44, false}}, vsock_fill, zero_len_verify, vsock_odd, NULL},
};

/* Devices this program does not know: attacked on every queue, and only asked to survive
 * (a request either completes or breaks the device). */
static const struct dtype unknown = {
	.name = "virtio-?",
	.queue = -1,
	.nseg = 2,
	.seg = {{16, false}, {64, true}},
	.verify = any_verify,
};

/* ---- checks after an attack ---- */

/* The device works again after a reset: full set-up and a correct request. */
static void sanity(struct dev *d, const char *after)
{
	unsigned q = d->t->queue >= 0 ? (unsigned)d->t->queue : 0;
	uint16_t old;
	enum outcome o;
	int bad;

	dev_setup(d, q, 1ull << F_INDIRECT);
	if (d->t->queue < 0) {
		dev_reset(d);
		return;
	}
	old = used_idx();
	build_request(Q.desc, 0);
	offer(0, 0);
	o = wait_device(old, WAIT_MS);
	if (o != DONE) {
		rt_printf("FAIL: %s: after %s and a reset, a correct request %s\n", d->t->name,
			  after, o == BROKEN ? "broke the device" : "was not served");
		rt_exit(30);
	}
	RT_CHECK(31, used_elem(old, 0) == 0);
	bad = d->t->verify(used_elem(old, 1));
	if (bad) {
		rt_printf("FAIL: %s: after %s: the answer to a correct request is wrong (%d)\n",
			  d->t->name, after, bad);
		rt_exit(bad);
	}
	dev_reset(d);
}

enum want { OK, BREAKS, EITHER };

/* Devices of unknown types: any outcome but a crash is accepted (what they serve on
 * which queue is not known here). */
static bool lenient;

/* After the attack's notify: what the device did must match `w` (for OK, the answer is
 * checked as well); then a reset and a correct request. */
static void judge(const char *name, uint16_t head, uint16_t old, enum want w)
{
	struct dev *d = Q.d;
	enum outcome o = wait_device(old, lenient ? 50 : WAIT_MS);

	d->attacks++;
	if (o == NOTHING && !lenient) {
		rt_printf("FAIL: %s: %s: the device neither served the request nor set "
			  "DEVICE_NEEDS_RESET\n",
			  d->t->name, name);
		rt_exit(40);
	}
	if (o == BROKEN) {
		d->needs_reset++;
		RT_CHECK(41, w != OK || lenient);
		RT_CHECK(42, used_idx() == old); /* nothing completed from a malformed chain */
		RT_CHECK(43, rd32(d->base + REG_INT_STATUS) & 2); /* configuration change */
	} else if (o == DONE && !lenient) {
		int bad;
		RT_CHECK(44, w != BREAKS);
		RT_CHECK(45, !(status(d) & ST_NEEDS_RESET));
		if (w == OK) {
			RT_CHECK(46, used_elem(old, 0) == head);
			bad = d->t->verify(used_elem(old, 1));
			if (bad) {
				rt_printf("FAIL: %s: %s: wrong answer (%d)\n", d->t->name, name,
					  bad);
				rt_exit(bad);
			}
		}
	}
	rt_printf("  %s: %s\n", name,
		  o == DONE	? "served"
		  : o == BROKEN ? "needs reset"
				: "ignored");
	sanity(d, name);
}

/* ---- attacks on the request queue's contents ---- */

struct attack {
	const char *name;
	enum want want;
	uint64_t feat; /* features besides VERSION_1 */
	/* builds the chain (head returned) and may change how it is offered (*extra) */
	uint16_t (*make)(uint16_t *extra);
};

static uint16_t mk_plain(uint16_t *extra)
{
	(void)extra;
	build_request(Q.desc, 0);
	return 0;
}

/* The last descriptor leads back to the first: a -> b -> a (a -> a for one). */
static uint16_t mk_loop(uint16_t *extra)
{
	unsigned n = build_request(Q.desc, 0);

	(void)extra;
	Q.desc[n - 1].flags |= D_NEXT;
	Q.desc[n - 1].next = 0;
	return 0;
}

static uint16_t mk_self_loop(uint16_t *extra)
{
	(void)extra;
	build_request(Q.desc, 0);
	Q.desc[0].flags |= D_NEXT;
	Q.desc[0].next = 0;
	return 0;
}

/* Every descriptor of the table chained in a ring: longer than the queue. */
static uint16_t mk_longer_than_queue(uint16_t *extra)
{
	(void)extra;
	for (unsigned i = 0; i < Q.num; i++)
		put_desc(Q.desc, i, BUF_AT + 64 * i, 16, D_WRITE | D_NEXT,
			 (uint16_t)((i + 1) % Q.num));
	return 0;
}

static uint16_t mk_len_max(uint16_t *extra)
{
	(void)extra;
	build_request(Q.desc, 0);
	Q.desc[0].len = 0xffffffffu;
	return 0;
}

static uint64_t bad_addr;

static uint16_t mk_bad_addr(uint16_t *extra)
{
	(void)extra;
	build_request(Q.desc, 0);
	Q.desc[0].addr = bad_addr;
	Q.desc[0].len = 64;
	return 0;
}

static uint16_t mk_next_oob(uint16_t *extra)
{
	(void)extra;
	build_request(Q.desc, 0);
	Q.desc[0].flags |= D_NEXT;
	Q.desc[0].next = (uint16_t)Q.num;
	return 0;
}

static uint16_t mk_head_oob(uint16_t *extra)
{
	(void)extra;
	build_request(Q.desc, 0);
	return (uint16_t)Q.num;
}

static uint16_t mk_head_ffff(uint16_t *extra)
{
	(void)extra;
	build_request(Q.desc, 0);
	return 0xffff;
}

static uint16_t mk_jump(uint16_t *extra)
{
	build_request(Q.desc, 0);
	*extra = (uint16_t)Q.num;
	return 0;
}

static uint16_t mk_jump_back(uint16_t *extra)
{
	build_request(Q.desc, 0);
	*extra = 0xfffe; /* the index goes backwards: 0xffff chains "available" */
	return 0;
}

/* A readable buffer after the writable ones (or a writable one first). */
static uint16_t mk_read_after_write(uint16_t *extra)
{
	unsigned n = build_request(Q.desc, 1);

	(void)extra;
	if (Q.d->t->seg[Q.d->t->nseg - 1].w) {
		Q.desc[n].flags |= D_NEXT;
		Q.desc[n].next = (uint16_t)(n + 1);
		put_desc(Q.desc, n + 1, BUF_AT + 0x3000, 8, 0, 0);
		return 1;
	}
	put_desc(Q.desc, 0, BUF_AT + 0x3000, 8, D_WRITE | D_NEXT, 1);
	return 0;
}

static uint16_t mk_zero_len(uint16_t *extra)
{
	(void)extra;
	build_request(Q.desc, 1);
	put_desc(Q.desc, 0, BUF_AT + 0x3000, 0,
		 Q.desc[1].flags & D_WRITE ? D_WRITE | D_NEXT : D_NEXT, 1);
	return 0;
}

/* Indirect tables (2.7.5.3). */
static volatile struct desc *const ind = (volatile struct desc *)IND_AT;
/* How mk_indirect describes its table: the right length and place unless set. */
static struct {
	bool len_set;
	uint32_t len;
	uint64_t addr;
	uint16_t flags;
} ind_desc;

static uint16_t mk_indirect(uint16_t *extra)
{
	unsigned n = build_request(ind, 0);

	(void)extra;
	put_desc(Q.desc, 0, ind_desc.addr ? ind_desc.addr : IND_AT,
		 ind_desc.len_set ? ind_desc.len : 16 * n, (uint16_t)(D_INDIRECT | ind_desc.flags),
		 1);
	return 0;
}

static uint16_t mk_ind_nested(uint16_t *extra)
{
	(void)extra;
	build_request(ind, 1);
	put_desc(ind, 0, IND_AT + 16, 16 * Q.d->t->nseg, D_INDIRECT, 0);
	put_desc(Q.desc, 0, IND_AT, 16 * (Q.d->t->nseg + 1), D_INDIRECT, 0);
	return 0;
}

static uint16_t mk_ind_loop(uint16_t *extra)
{
	unsigned n = build_request(ind, 0);

	(void)extra;
	ind[n - 1].flags |= D_NEXT;
	ind[n - 1].next = 0;
	put_desc(Q.desc, 0, IND_AT, 16 * n, D_INDIRECT, 0);
	return 0;
}

static uint16_t mk_ind_next_oob(uint16_t *extra)
{
	unsigned n = build_request(ind, 0);

	(void)extra;
	ind[n - 1].flags |= D_NEXT;
	ind[n - 1].next = (uint16_t)n;
	put_desc(Q.desc, 0, IND_AT, 16 * n, D_INDIRECT, 0);
	return 0;
}

/* An indirect table with more entries than the queue has, all chained. */
static uint16_t mk_ind_long(uint16_t *extra)
{
	unsigned n = 2 * Q.num + 1;

	(void)extra;
	for (unsigned i = 0; i < n; i++)
		put_desc(ind, i, BUF_AT + 16 * i, 16,
			 (uint16_t)(D_WRITE | (i + 1 < n ? D_NEXT : 0)), (uint16_t)(i + 1));
	put_desc(Q.desc, 0, IND_AT, 16 * n, D_INDIRECT, 0);
	return 0;
}

/* The descriptor table lies inside the buffer the device writes (rng: random bytes over
 * the descriptors it has just read). */
static uint16_t mk_table_in_buffer(uint16_t *extra)
{
	(void)extra;
	build_request(Q.desc, 0);
	for (unsigned i = 0; i < Q.d->t->nseg; i++)
		if (Q.d->t->seg[i].w) {
			Q.desc[i].addr = DESC_AT;
			if (Q.desc[i].len > 16 * Q.num)
				Q.desc[i].len = 16 * Q.num;
		}
	return 0;
}

static uint16_t mk_many(uint16_t *extra)
{
	(void)extra;
	build_request(Q.desc, 0);
	/* the same chain offered as many times as the ring holds, minus the one offer() adds */
	for (unsigned i = 0; i + 1 < Q.num; i++)
		Q.avail[2 + (Q.avail_idx + i) % Q.num] = 0;
	Q.avail_idx = (uint16_t)(Q.avail_idx + Q.num - 1);
	return 0;
}

#define FI (1ull << F_INDIRECT)

static const struct attack content_attacks[] = {
	{"correct request", OK, FI, mk_plain},
	{"correct request, EVENT_IDX", OK, FI | 1ull << F_EVENT_IDX, mk_plain},
	{"a full ring of requests", OK, FI, mk_many},
	{"chain a->b->a", BREAKS, FI, mk_loop},
	{"chain a->a", BREAKS, FI, mk_self_loop},
	{"chain longer than the queue", BREAKS, FI, mk_longer_than_queue},
	{"length 0xffffffff", BREAKS, FI, mk_len_max},
	{"next >= queue size", BREAKS, FI, mk_next_oob},
	{"head = queue size", BREAKS, FI, mk_head_oob},
	{"head 0xffff", BREAKS, FI, mk_head_ffff},
	{"avail idx jumps past the ring", BREAKS, FI, mk_jump},
	{"avail idx goes backwards", BREAKS, FI, mk_jump_back},
	{"readable after writable", BREAKS, FI, mk_read_after_write},
	{"zero-length buffer", EITHER, FI, mk_zero_len},
	{"correct request in an indirect table", OK, FI, mk_indirect},
	{"indirect without INDIRECT_DESC", BREAKS, 0, mk_indirect},
	{"nested indirect tables", BREAKS, FI, mk_ind_nested},
	{"indirect table that loops", BREAKS, FI, mk_ind_loop},
	{"indirect next past the table", BREAKS, FI, mk_ind_next_oob},
	{"indirect table longer than the queue", EITHER, FI, mk_ind_long},
	{"descriptor table inside the written buffer", EITHER, FI, mk_table_in_buffer},
};

/* Addresses no buffer may have: partly past the end of RAM, devices, nothing. */
static uint64_t bad_addrs[8];
static const char *const bad_names[8] = {
	"buffer straddling the end of RAM",
	"buffer in the CLINT",
	"buffer in the PLIC",
	"buffer in the UART",
	"buffer in its own registers",
	"buffer at 0",
	"buffer at 2^64-16",
	"buffer below RAM",
};

/* Indirect descriptors that are wrong in themselves (or, marked writable, right: the
 * device ignores WRITE there, 2.7.5.3.2). */
static const struct {
	const char *name;
	enum want want;
	bool len_set;
	uint32_t len;
	uint64_t addr; /* 0: the table; 1: straddling the end of RAM; else as is */
	uint16_t flags;
} ind_bad[] = {
	{"indirect length not a multiple of 16", BREAKS, true, 24, 0, 0},
	{"indirect length 0", BREAKS, true, 0, 0, 0},
	{"indirect length 0xfffffff0", BREAKS, true, 0xfffffff0u, 0, 0},
	{"indirect table past the end of RAM", BREAKS, true, 64, 1, 0},
	{"indirect table in MMIO", BREAKS, true, 64, UART, 0},
	{"indirect table at 2^64-16", BREAKS, true, 64, ~0ull - 15, 0},
	{"indirect with NEXT", BREAKS, false, 0, 0, D_NEXT},
	{"indirect marked writable", OK, false, 0, 0, D_WRITE},
};

static unsigned attack_q; /* the queue content attacks go to */

static void run_content(struct dev *d, const struct attack *a)
{
	uint16_t extra = 0, head, old;

	dev_setup(d, attack_q, a->feat);
	old = used_idx();
	head = a->make(&extra);
	offer(head, extra);
	judge(a->name, head, old, a->want);
}

static void content(struct dev *d)
{
	bad_addrs[0] = ram_end - 16;
	bad_addrs[1] = CLINT;
	bad_addrs[2] = PLIC;
	bad_addrs[3] = UART;
	bad_addrs[4] = d->base;
	bad_addrs[5] = 0;
	bad_addrs[6] = ~0ull - 15;
	bad_addrs[7] = RAM_BASE - 32;
	for (unsigned i = 0; i < sizeof(content_attacks) / sizeof(content_attacks[0]); i++)
		run_content(d, &content_attacks[i]);
	for (unsigned i = 0; i < 8; i++) {
		struct attack a = {bad_names[i], BREAKS, FI, mk_bad_addr};
		bad_addr = bad_addrs[i];
		run_content(d, &a);
	}
	for (unsigned i = 0; i < sizeof(ind_bad) / sizeof(ind_bad[0]); i++) {
		struct attack a = {ind_bad[i].name, ind_bad[i].want, FI, mk_indirect};
		ind_desc.len_set = ind_bad[i].len_set;
		ind_desc.len = ind_bad[i].len;
		ind_desc.addr = ind_bad[i].addr == 1 ? ram_end - 32 : ind_bad[i].addr;
		ind_desc.flags = ind_bad[i].flags;
		run_content(d, &a);
	}
	ind_desc.len_set = false;
	ind_desc.addr = 0;
	ind_desc.flags = 0;
}

/* ---- attacks on the queue set-up, for every queue ---- */

/* The queue must not have become live; the device may have set NEEDS_RESET. */
static void judge_not_ready(struct dev *d, unsigned q, const char *name)
{
	d->attacks++;
	wr32(d->base + REG_QUEUE_SEL, q);
	RT_CHECK(50, rd32(d->base + REG_QUEUE_READY) == 0);
	if (status(d) & ST_NEEDS_RESET)
		d->needs_reset++;
	rt_printf("  queue %u: %s: refused%s\n", q, name,
		  status(d) & ST_NEEDS_RESET ? ", needs reset" : "");
	sanity(d, name);
}

static void bad_size(struct dev *d, unsigned q, uint32_t num, const char *name)
{
	dev_start(d, FI);
	queue_setup(d, q, num, DESC_AT, AVAIL_AT, USED_AT, true);
	judge_not_ready(d, q, name);
}

/* One ring of three at a bad place. */
static void bad_ring(struct dev *d, unsigned q, unsigned which, uint64_t at, const char *name)
{
	uint64_t r[3] = {DESC_AT, AVAIL_AT, USED_AT};

	r[which] = at;
	dev_start(d, FI);
	queue_setup(d, q, qsize(d, q), r[0], r[1], r[2], true);
	judge_not_ready(d, q, name);
}

/* A correct request on the active queue after set-up `name` (which left it live). */
static void request_ok(const char *name)
{
	uint16_t old = used_idx();

	build_request(Q.desc, 0);
	offer(0, 0);
	judge(name, 0, old, OK);
}

static void setup_attacks(struct dev *d, unsigned q)
{
	static const char *const ring_names[3] = {"descriptor table", "available ring",
						  "used ring"};
	uint32_t n = qsize(d, q);
	char name[96];

	bad_size(d, q, 0, "queue size 0");
	bad_size(d, q, 3, "queue size 3");
	bad_size(d, q, 1000, "queue size 1000");
	bad_size(d, q, 65536, "queue size 65536");
	bad_size(d, q, 0xffffffffu, "queue size 0xffffffff");
	if (d->qmax[q] < 0x80000000u)
		bad_size(d, q, d->qmax[q] * 2, "queue size above QueueNumMax");
	for (unsigned w = 0; w < 3; w++) {
		const uint64_t at[] = {ram_end - 16, UART, 0, ~0ull - 15, d->base, RAM_BASE - 16};
		const char *where[] = {
			"partly past the end of RAM", "in the UART",   "at 0", "at 2^64-16",
			"in its own registers",	      "just below RAM"};
		for (unsigned i = 0; i < 6; i++) {
			rt_snprintf(name, sizeof(name), "%s %s", ring_names[w], where[i]);
			bad_ring(d, q, w, at[i], name);
		}
		rt_snprintf(name, sizeof(name), "%s misaligned", ring_names[w]);
		bad_ring(d, q, w,
			 (w == 0   ? DESC_AT + 8
			  : w == 1 ? AVAIL_AT + 1
				   : USED_AT + 2),
			 name);
	}
	/* QueueReady without ever writing the addresses. */
	dev_start(d, FI);
	wr32(d->base + REG_QUEUE_SEL, q);
	wr32(d->base + REG_QUEUE_NUM, n);
	wr32(d->base + REG_QUEUE_READY, 1);
	judge_not_ready(d, q, "queue ready without addresses");

	if ((int)q != d->t->queue || lenient)
		return;
	/* Rings exactly at the end of RAM: fine. */
	dev_start(d, FI);
	queue_setup(d, q, n, ram_end - 16 * n, ram_end - 16 * n - 0x1000,
		    (ram_end - 6 - 8 * n) & ~3ul, true);
	dev_go(d);
	request_ok("rings at the very end of RAM");
	/* New addresses while the queue is live are ignored (4.2.2: only while not ready). */
	dev_setup(d, q, FI);
	set_addr(d, REG_QUEUE_DESC, UART);
	set_addr(d, REG_QUEUE_DRIVER, 0);
	set_addr(d, REG_QUEUE_DEVICE, ~0ull - 15);
	wr32(d->base + REG_QUEUE_NUM, 3);
	request_ok("ring addresses changed while live");
	/* Ready off, new rings, ready on. */
	dev_setup(d, q, FI);
	wr32(d->base + REG_QUEUE_READY, 0);
	RT_CHECK(51, rd32(d->base + REG_QUEUE_READY) == 0);
	queue_setup(d, q, n, DESC_AT + 0x1000, AVAIL_AT + 0x1000, USED_AT + 0x1000, true);
	request_ok("queue disabled and set up again");
}

/* ---- register-level attacks ---- */

static void notify_invalid(struct dev *d)
{
	const uint32_t bad[] = {d->nq, 16, 0xffff, 0x10000, 0x80000000u, 0xffffffffu};
	uint64_t end;

	dev_setup(d, attack_q, FI);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		wr32(d->base + REG_QUEUE_NOTIFY, bad[i]);
	*(volatile uint8_t *)(d->base + REG_QUEUE_NOTIFY) = (uint8_t)attack_q;
	*(volatile uint16_t *)(d->base + REG_QUEUE_NOTIFY) = (uint16_t)attack_q;
	*(volatile uint64_t *)(d->base + REG_QUEUE_NOTIFY) = ~0ull;
	for (end = now() + 200000; now() < end;) /* 20 ms: nothing may break */
		;
	RT_CHECK(60, !(status(d) & ST_NEEDS_RESET));
	if (!lenient)
		request_ok("notifies of queues that do not exist");
}

/* InterruptACK with bits that are not set clears nothing else. */
static void ack_unset_bits(struct dev *d)
{
	uint16_t old;

	dev_setup(d, attack_q, FI);
	old = used_idx();
	build_request(Q.desc, 0);
	offer(0, 0);
	RT_CHECK(61, wait_device(old, WAIT_MS) == DONE);
	RT_CHECK(62, rd32(d->base + REG_INT_STATUS) == 1);
	wr32(d->base + REG_INT_ACK, ~1u);
	RT_CHECK(63, rd32(d->base + REG_INT_STATUS) == 1);
	wr32(d->base + REG_INT_ACK, 0);
	RT_CHECK(64, rd32(d->base + REG_INT_STATUS) == 1);
	wr32(d->base + REG_INT_ACK, 1);
	RT_CHECK(65, rd32(d->base + REG_INT_STATUS) == 0);
	d->attacks++;
	rt_printf("  interrupt ACK of bits never set: ignored\n");
	dev_reset(d);
}

/* Register accesses of width 1, 2 and 8, and misaligned ones (which may fault). */
static void widths(struct dev *d)
{
	static const unsigned regs[] = {REG_MAGIC,	   REG_DEVICE_ID,   REG_DEV_FEATURES,
					REG_QUEUE_NUM_MAX, REG_QUEUE_READY, REG_INT_STATUS,
					REG_STATUS,	   REG_CONFIG_GEN,  REG_QUEUE_SEL};
	int before = faults;

	dev_setup(d, attack_q, FI);
	for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		uintptr_t a = d->base + regs[i];
		(void)*(volatile uint8_t *)a;
		(void)*(volatile uint8_t *)(a + 3);
		(void)*(volatile uint16_t *)a;
		(void)*(volatile uint16_t *)(a + 2);
		(void)*(volatile uint64_t *)(a & ~7ul);
		*(volatile uint8_t *)(a + 1) = 0xff;
		*(volatile uint16_t *)(a + 2) = 0xffff;
		*(volatile uint64_t *)(a & ~7ul) = 0;
		fault_ok = 1;
		(void)*(volatile uint32_t *)(a + 2);
		*(volatile uint32_t *)(a + 1) = 0;
		(void)*(volatile uint64_t *)(a + 4 - (a & 4));
		fault_ok = 0;
	}
	d->attacks++;
	rt_printf("  registers at widths 1, 2, 8 and misaligned: %d access faults\n",
		  faults - before);
	if (status(d) & ST_NEEDS_RESET)
		d->needs_reset++;
	sanity(d, "odd register widths");
}

static void read_only(struct dev *d)
{
	static const unsigned regs[] = {REG_MAGIC,	REG_VERSION,	    REG_DEVICE_ID,
					REG_VENDOR_ID,	REG_DEV_FEATURES,   REG_QUEUE_NUM_MAX,
					REG_INT_STATUS, REG_SHM_LEN,	    REG_SHM_LEN + 4,
					REG_CONFIG_GEN, REG_QUEUE_READY + 4};
	uint32_t before[sizeof(regs) / sizeof(regs[0])];

	dev_setup(d, attack_q, FI);
	for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		before[i] = rd32(d->base + regs[i]);
	for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		wr32(d->base + regs[i], 0x5a5a5a5a ^ before[i]);
	for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		RT_CHECK(70, rd32(d->base + regs[i]) == before[i]);
	d->attacks++;
	rt_printf("  writes to read-only registers: ignored\n");
	if (!lenient)
		request_ok("writes to read-only registers");
	else
		sanity(d, "writes to read-only registers");
}

/* The whole configuration window at every width, reads and writes, far beyond any
 * device's configuration size. */
static void config_space(struct dev *d)
{
	uint32_t gen;

	dev_setup(d, attack_q, FI);
	for (unsigned off = REG_CONFIG; off < 0x1000; off++) {
		uintptr_t a = d->base + off;
		(void)*(volatile uint8_t *)a;
		if (!(off & 1))
			(void)*(volatile uint16_t *)a;
		if (!(off & 3))
			(void)*(volatile uint32_t *)a;
		if (!(off & 7))
			(void)*(volatile uint64_t *)a;
	}
	gen = rd32(d->base + REG_CONFIG_GEN);
	for (unsigned off = REG_CONFIG + 0x100; off < 0x1000; off += 4)
		wr32(d->base + off, 0xffffffffu);
	for (unsigned off = REG_CONFIG + 0x100; off < 0x1000; off += 8)
		*(volatile uint64_t *)(d->base + off) = ~0ull;
	RT_CHECK(71, rd32(d->base + REG_CONFIG_GEN) == gen);
	d->attacks++;
	rt_printf("  configuration space beyond its size: ignored\n");
	if (status(d) & ST_NEEDS_RESET)
		d->needs_reset++;
	sanity(d, "configuration space beyond its size");
}

/* Set-up steps skipped: the device must not serve a driver that did not finish feature
 * negotiation (3.1.1). */
static void skipped_steps(struct dev *d)
{
	uint16_t old;

	/* Features never written: FEATURES_OK must not stick (no VERSION_1). */
	dev_reset(d);
	wr32(d->base + REG_STATUS, ST_ACK);
	wr32(d->base + REG_STATUS, ST_ACK | ST_DRIVER);
	wr32(d->base + REG_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	RT_CHECK(80, !(status(d) & ST_FEATURES_OK));
	/* ... and DRIVER_OK after all: nothing may be served. */
	queue_setup(d, attack_q, qsize(d, attack_q), DESC_AT, AVAIL_AT, USED_AT, true);
	wr32(d->base + REG_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	old = used_idx();
	build_request(Q.desc, 0);
	offer(0, 0);
	judge("DRIVER_OK with features never written", 0, old, BREAKS);

	/* Features written, FEATURES_OK skipped, DRIVER_OK. */
	dev_reset(d);
	wr32(d->base + REG_STATUS, ST_ACK);
	wr32(d->base + REG_STATUS, ST_ACK | ST_DRIVER);
	wr32(d->base + REG_DRV_FEATURES_SEL, 1);
	wr32(d->base + REG_DRV_FEATURES, 1); /* VERSION_1 */
	queue_setup(d, attack_q, qsize(d, attack_q), DESC_AT, AVAIL_AT, USED_AT, true);
	wr32(d->base + REG_STATUS, ST_ACK | ST_DRIVER | ST_DRIVER_OK);
	old = used_idx();
	build_request(Q.desc, 0);
	offer(0, 0);
	judge("DRIVER_OK without FEATURES_OK", 0, old, BREAKS);

	/* DRIVER_OK as the very first status. */
	dev_reset(d);
	queue_setup(d, attack_q, qsize(d, attack_q), DESC_AT, AVAIL_AT, USED_AT, true);
	wr32(d->base + REG_STATUS, ST_DRIVER_OK);
	old = used_idx();
	build_request(Q.desc, 0);
	offer(0, 0);
	judge("DRIVER_OK first", 0, old, BREAKS);

	/* The driver cannot set DEVICE_NEEDS_RESET itself; FAILED stops the device. */
	dev_setup(d, attack_q, FI);
	wr32(d->base + REG_STATUS, 0xff & ~ST_FAILED);
	RT_CHECK(81, !(status(d) & ST_NEEDS_RESET));
	wr32(d->base + REG_STATUS, 0xff);
	d->attacks++;
	rt_printf("  status written with DEVICE_NEEDS_RESET and FAILED: ok\n");
	sanity(d, "status FAILED");
}

/* Reset while a request is being served, at varying moments. */
static void reset_mid(struct dev *d)
{
	for (unsigned i = 0; i < 24; i++) {
		dev_setup(d, attack_q, FI);
		build_request(Q.desc, 0);
		offer(0, 0);
		for (volatile unsigned spin = 0; spin < (i % 8) * (1u << (i / 8 * 3)); spin++)
			;
		dev_reset(d);
		wr32(d->base + REG_QUEUE_SEL, attack_q);
		RT_CHECK(90, rd32(d->base + REG_QUEUE_READY) == 0);
		d->attacks++;
	}
	rt_printf("  resets in the middle of requests: ok\n");
	sanity(d, "resets in the middle of requests");
}

/* Many break-reset cycles: the device must break each time, and Lodge's log must not
 * grow a line per cycle (the suite counts them). */
#define STORM 2000

static void storm(struct dev *d)
{
	for (unsigned i = 0; i < STORM; i++) {
		dev_start(d, FI);
		wr32(d->base + REG_QUEUE_SEL, 0);
		wr32(d->base + REG_QUEUE_NUM, 3);
		wr32(d->base + REG_QUEUE_READY, 1);
		RT_CHECK(95, rd32(d->base + REG_QUEUE_READY) == 0);
		if (status(d) & ST_NEEDS_RESET)
			d->needs_reset++;
		d->attacks++;
	}
	rt_printf("  %u break-reset cycles: ok\n", STORM);
	sanity(d, "break-reset cycles");
}

/* Requests the device serves but warns about, each in its own reset cycle: Lodge's log
 * must not grow a line per cycle either. */
static void warn_storm(struct dev *d)
{
	for (unsigned i = 0; i < STORM / 4; i++) {
		uint16_t old;
		dev_setup(d, attack_q, FI);
		old = used_idx();
		build_request(Q.desc, 0);
		d->t->odd();
		offer(0, 0);
		RT_CHECK(96, wait_device(old, WAIT_MS) == DONE);
		d->attacks++;
	}
	rt_printf("  %u odd requests, each in its own reset cycle: ok\n", STORM / 4);
	sanity(d, "odd requests");
}

/* virtio-blk: one request of `type` (IN 0, OUT 1) at `sector` with `len` data bytes
 * (written ones are `fill`); returns the status byte. */
static uint8_t blk_request(struct dev *d, uint32_t type, uint64_t sector, uint32_t len,
			   uint8_t fill)
{
	uint32_t *h = (uint32_t *)BUF_AT;
	volatile uint8_t *st = (volatile uint8_t *)(BUF_AT + 0x2000);
	uint16_t old;
	uint8_t r;

	dev_setup(d, 0, FI);
	h[0] = type;
	h[1] = 0;
	memcpy(&h[2], &sector, 8);
	memset((void *)(BUF_AT + 0x1000), type ? fill : 0, len);
	*st = 0xff;
	put_desc(Q.desc, 0, BUF_AT, 16, D_NEXT, 1);
	put_desc(Q.desc, 1, BUF_AT + 0x1000, len, (uint16_t)((type ? 0 : D_WRITE) | D_NEXT), 2);
	put_desc(Q.desc, 2, BUF_AT + 0x2000, 1, D_WRITE, 0);
	old = used_idx();
	offer(0, 0);
	RT_CHECK(110, wait_device(old, WAIT_MS) == DONE);
	r = *st;
	dev_reset(d);
	d->attacks++;
	return r;
}

/* Requests past the end of the disk fail (IOERR) and write nothing there; a write inside
 * it (sector 2, the one place the suite lets the image change) reads back. */
static void blk_extra(struct dev *d)
{
	uint64_t cap = rd32(d->base + REG_CONFIG) | (uint64_t)rd32(d->base + REG_CONFIG + 4) << 32;
	const uint8_t *data = (const uint8_t *)(BUF_AT + 0x1000);

	RT_CHECK(111, cap > 2);
	RT_CHECK(112, blk_request(d, 0, cap, 512, 0) == 1);
	RT_CHECK(113, blk_request(d, 1, cap, 512, 0x5a) == 1);
	RT_CHECK(114, blk_request(d, 1, cap - 1, 1024, 0x5a) == 1);
	RT_CHECK(115, blk_request(d, 1, ~0ull, 512, 0x5a) == 1);
	RT_CHECK(116, blk_request(d, 1, ~0ull / 512, 1024, 0x5a) == 1);
	RT_CHECK(117, blk_request(d, 1, 2, 512, 0x5a) == 0);
	RT_CHECK(118, blk_request(d, 0, 2, 512, 0) == 0);
	for (unsigned i = 0; i < 512; i++)
		RT_CHECK(119, data[i] == 0x5a);
	rt_printf("  requests past the end of the disk: IOERR; a write inside reads back\n");
	sanity(d, "requests past the end of the disk");
}

/* ---- main ---- */

static void scan(void)
{
	for (unsigned i = 0; i < NSLOTS; i++) {
		uintptr_t base = SLOT0 + 0x1000ul * i;
		struct dev *d = &devs[ndevs];
		if (rd32(base + REG_MAGIC) != MAGIC || rd32(base + REG_VERSION) != 2 ||
		    !rd32(base + REG_DEVICE_ID))
			continue;
		d->base = base;
		d->id = rd32(base + REG_DEVICE_ID);
		d->t = &unknown;
		for (unsigned t = 0; t < sizeof(types) / sizeof(types[0]); t++)
			if (types[t].id == d->id)
				d->t = &types[t];
		wr32(base + REG_STATUS, 0);
		for (unsigned q = 0; q < 16; q++) {
			wr32(base + REG_QUEUE_SEL, q);
			d->qmax[q] = rd32(base + REG_QUEUE_NUM_MAX);
			if (d->qmax[q])
				d->nq = q + 1;
		}
		wr32(base + REG_DEV_FEATURES_SEL, 0);
		d->offered = rd32(base + REG_DEV_FEATURES);
		wr32(base + REG_DEV_FEATURES_SEL, 1);
		d->offered |= (uint64_t)rd32(base + REG_DEV_FEATURES) << 32;
		ndevs++;
	}
}

static void attack(struct dev *d)
{
	lenient = d->t->queue < 0;
	rt_printf("hostile: %s (id %u) at 0x%lx: %u queues\n", d->t->name, d->id, d->base, d->nq);
	RT_CHECK(100, d->nq > 0);
	RT_CHECK(101, d->offered & (1ull << F_VERSION_1));
	sanity(d, "nothing");
	for (unsigned q = 0; q < d->nq; q++) {
		if (!d->qmax[q])
			continue;
		if (!lenient && (int)q != d->t->queue)
			continue;
		attack_q = q;
		content(d);
	}
	for (unsigned q = 0; q < d->nq; q++)
		if (d->qmax[q])
			setup_attacks(d, q);
	attack_q = lenient ? 0 : (unsigned)d->t->queue;
	notify_invalid(d);
	if (!lenient)
		ack_unset_bits(d);
	widths(d);
	read_only(d);
	config_space(d);
	skipped_steps(d);
	reset_mid(d);
	storm(d);
	if (!lenient && d->t->odd)
		warn_storm(d);
	if (!lenient && d->t->extra)
		d->t->extra(d);
}

int main(void)
{
	rt_trap_hook = on_trap;
	find_ram_end();
	rt_printf("hostile: RAM ends at 0x%lx\n", ram_end);
	scan();
	RT_CHECK(1, ndevs > 0);
	for (unsigned i = 0; i < ndevs; i++)
		attack(&devs[i]);
	for (unsigned i = 0; i < ndevs; i++)
		rt_printf("hostile: device %s 0x%lx attacks %u broken %u resets %u\n",
			  devs[i].t->name, devs[i].base, devs[i].attacks, devs[i].needs_reset,
			  devs[i].resets);
	rt_printf("hostile: ok\n");
	return 0;
}
