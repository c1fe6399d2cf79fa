/*
 * Unit tests for virtio-net (devices/virtio/net.c) and the network backends (net/).
 * The test is the guest driver: it negotiates features and sets up both queues through
 * the MMIO registers on a fake board with small fake RAM, posts buffers, and kicks; the
 * I/O loop runs on the test thread. The device sits first in front of a fake backend
 * (frames recorded, -EAGAIN on demand), then in front of a real libslirp backend: ARP,
 * DHCP, an outbound TCP connection to a listener on 127.0.0.1 through 10.0.2.2, and a
 * host port forward. Hostile transmit chains and receive buffers must be dropped or set
 * DEVICE_NEEDS_RESET, never touch host memory outside RAM (ASan watches). Bad --net
 * arguments must give one clear line.
 */
#include "devices/virtio/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/evloop.h"
#include "core/gmem.h"
#include "core/sbuf.h"
#include "core/tbucket.h"
#include "devices/device.h"
#include "devices/virtio/virtio.h"
#include "harness.h"
#include "net/net.h"
#include "net/offload.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (1ull << 20)
#define QN	 16
#define SLOT	 0x10001000ull
#define RXBUFS	 (RAM_BASE + 0x10000) /* QN buffers of 4 KiB */
#define TXBUFS	 (RAM_BASE + 0x30000)

/* virtio-mmio registers */
enum {
	R_DEVICE_ID = 0x008,
	R_DEV_FEAT = 0x010,
	R_DEV_FEAT_SEL = 0x014,
	R_DRV_FEAT = 0x020,
	R_DRV_FEAT_SEL = 0x024,
	R_QUEUE_SEL = 0x030,
	R_QUEUE_NUM = 0x038,
	R_QUEUE_READY = 0x044,
	R_NOTIFY = 0x050,
	R_ISR = 0x060,
	R_ACK = 0x064,
	R_STATUS = 0x070,
	R_DESC = 0x080,
	R_DRIVER = 0x090,
	R_DEVICE = 0x0a0,
	R_CONFIG = 0x100,
};

static struct gmem mem;
static struct bus bus;
static struct evloop *loop;
static struct evloop_timer *quit_timer;
static int irq_level;

static void quit_fn(void *opaque)
{
	evloop_quit(opaque);
}

/* Runs the I/O loop on this thread for about `ms` milliseconds. */
static void pump(unsigned ms)
{
	evloop_timer_arm(quit_timer, evloop_now_ns() + (uint64_t)ms * 1000000u);
	evloop_run(loop);
}

static void irq_cb(void *opaque, unsigned n, bool level)
{
	(void)opaque;
	(void)n;
	__atomic_store_n(&irq_level, level, __ATOMIC_RELAXED);
}

static int fake_slot(struct board *b, uint64_t *base, struct irq_line *line, unsigned *irq)
{
	(void)b;
	if (bus.n >= 2)
		return -ENOSPC;
	*base = SLOT + 0x1000ull * bus.n;
	*line = (struct irq_line){.fn = irq_cb};
	*irq = 1 + bus.n;
	return 0;
}

static struct board board = {.bus = &bus, .mem = &mem, .virtio_slot = fake_slot};

static int world_init(void)
{
	gmem_fini(&mem);
	memset(&bus, 0, sizeof(bus));
	irq_level = 0;
	if (gmem_init(&mem, RAM_BASE, RAM_SIZE, false) < 0 || evloop_create(&loop) < 0 ||
	    evloop_timer_add(loop, quit_fn, loop, &quit_timer) < 0)
		return -1;
	board.loop = loop;
	return 0;
}

static void world_fini(void)
{
	evloop_destroy(loop);
	loop = NULL;
}

static uint32_t rd(uint64_t off)
{
	uint64_t v = 0;
	bus_read(&bus, SLOT + off, 4, &v);
	return (uint32_t)v;
}

static uint8_t rd8(uint64_t off)
{
	uint64_t v = 0;
	bus_read(&bus, SLOT + off, 1, &v);
	return (uint8_t)v;
}

static void wr(uint64_t off, uint32_t v)
{
	bus_write(&bus, SLOT + off, 4, v);
}

static void *ram(uint64_t gpa, uint64_t len)
{
	return gmem_ptr(&mem, gpa, len);
}

static uint16_t get16(uint64_t gpa)
{
	uint16_t v;
	memcpy(&v, ram(gpa, 2), 2);
	return v;
}

static void put16(uint64_t gpa, uint16_t v)
{
	memcpy(ram(gpa, 2), &v, 2);
}

static uint32_t get32(uint64_t gpa)
{
	uint32_t v;
	memcpy(&v, ram(gpa, 4), 4);
	return v;
}

/* ---- the guest driver ---- */

struct gq {
	uint64_t desc, avail, used;
	uint16_t next_desc, avail_idx, used_seen;
	uint64_t addr[QN]; /* buffer of each head descriptor, for reading results */
};

static struct gq rxq = {
	.desc = RAM_BASE + 0x1000, .avail = RAM_BASE + 0x2000, .used = RAM_BASE + 0x3000};
static struct gq txq = {
	.desc = RAM_BASE + 0x4000, .avail = RAM_BASE + 0x5000, .used = RAM_BASE + 0x6000};

struct gbuf {
	uint64_t addr;
	uint32_t len;
	bool write;
};

static void set_desc(struct gq *q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *p = ram(q->desc + 16ull * i, 16);
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

/* Adds a chain of n buffers and makes it available (no kick). */
static void add_chain(struct gq *q, const struct gbuf *b, unsigned n)
{
	uint16_t head = q->next_desc;

	for (unsigned i = 0; i < n; i++) {
		unsigned d = (q->next_desc + i) % QN;
		uint16_t flags = (uint16_t)((b[i].write ? VIRTQ_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		set_desc(q, d, b[i].addr, b[i].len, flags, (uint16_t)((d + 1) % QN));
	}
	q->addr[head] = b[0].addr;
	q->next_desc = (uint16_t)((q->next_desc + n) % QN);
	put16(q->avail + 4 + 2 * (q->avail_idx % QN), head);
	q->avail_idx++;
	/* Release: the descriptors and buffers above are visible before the index is (a
	 * hart's store, as the threaded test needs it). */
	__atomic_store_n((uint16_t *)ram(q->avail + 2, 2), q->avail_idx, __ATOMIC_RELEASE);
}

static uint16_t used_idx(const struct gq *q)
{
	return __atomic_load_n((uint16_t *)ram(q->used + 2, 2), __ATOMIC_ACQUIRE);
}

/* The next used entry: head id and length. */
static int next_used(struct gq *q, uint32_t *id, uint32_t *len)
{
	if (used_idx(q) == q->used_seen)
		return -1;
	*id = get32(q->used + 4 + 8 * (q->used_seen % QN));
	*len = get32(q->used + 8 + 8 * (q->used_seen % QN));
	q->used_seen++;
	return 0;
}

static void gq_reset(struct gq *q)
{
	q->next_desc = q->avail_idx = q->used_seen = 0;
	memset(ram(q->desc, 0x3000), 0, 0x3000);
}

/* Driver set-up (3.1.1) accepting `want` & offered; returns the status read back. */
static uint32_t driver_init(uint64_t want)
{
	uint64_t offered;
	struct gq *qs[2] = {&rxq, &txq};

	wr(R_STATUS, 0);
	wr(R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(R_DEV_FEAT_SEL, 0);
	offered = rd(R_DEV_FEAT);
	wr(R_DEV_FEAT_SEL, 1);
	offered |= (uint64_t)rd(R_DEV_FEAT) << 32;
	want = (want | (1ull << VIRTIO_F_VERSION_1)) & offered;
	wr(R_DRV_FEAT_SEL, 0);
	wr(R_DRV_FEAT, (uint32_t)want);
	wr(R_DRV_FEAT_SEL, 1);
	wr(R_DRV_FEAT, (uint32_t)(want >> 32));
	wr(R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	for (unsigned i = 0; i < 2; i++) {
		gq_reset(qs[i]);
		wr(R_QUEUE_SEL, i);
		wr(R_QUEUE_NUM, QN);
		wr(R_DESC, (uint32_t)qs[i]->desc);
		wr(R_DESC + 4, (uint32_t)(qs[i]->desc >> 32));
		wr(R_DRIVER, (uint32_t)qs[i]->avail);
		wr(R_DRIVER + 4, (uint32_t)(qs[i]->avail >> 32));
		wr(R_DEVICE, (uint32_t)qs[i]->used);
		wr(R_DEVICE + 4, (uint32_t)(qs[i]->used >> 32));
		wr(R_QUEUE_READY, 1);
	}
	wr(R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
			     VIRTIO_STATUS_DRIVER_OK);
	return rd(R_STATUS);
}

static void kick(unsigned q)
{
	wr(R_NOTIFY, q);
	pump(0);
}

/* Posts n receive buffers of `len` bytes each (one descriptor per chain). */
static void post_rx(unsigned n, uint32_t len)
{
	for (unsigned i = 0; i < n; i++) {
		struct gbuf b = {RXBUFS + 0x1000ull * rxq.next_desc, len, true};
		add_chain(&rxq, &b, 1);
	}
}

/* Writes bytes at TXBUFS + off. */
static void put_tx(uint64_t off, const void *p, size_t len)
{
	memcpy(ram(TXBUFS + off, len), p, len);
}

#define F(bit)	    (1ull << (bit))
#define NEEDS_RESET VIRTIO_STATUS_DEVICE_NEEDS_RESET
#define BASE_WANT   (F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MRG_RXBUF))
#define SOFT_WANT   (F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_GUEST_CSUM))
#define OFFLOAD_WANT                                                                               \
	(F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) |           \
	 F(VIRTIO_NET_F_GUEST_TSO4))

/* ---- a fake backend ---- */

struct fake {
	struct net_backend nb;
	uint8_t last[NET_VNET_HDR_LEN + NET_MAX_FRAME];
	size_t last_len;
	unsigned sent, rx_ready, closed;
	int send_result;
	unsigned offloads;
};

static struct fake fk;

static struct fake *to_fake(struct net_backend *nb)
{
	return (struct fake *)(void *)nb;
}

static int fake_send(struct net_backend *nb, const uint8_t *buf, size_t len)
{
	struct fake *f = to_fake(nb);

	if (f->send_result)
		return f->send_result;
	memcpy(f->last, buf, len);
	f->last_len = len;
	f->sent++;
	return 0;
}

static void fake_rx_ready(struct net_backend *nb)
{
	to_fake(nb)->rx_ready++;
}

static void fake_set_offloads(struct net_backend *nb, unsigned o)
{
	to_fake(nb)->offloads = o;
}

static void fake_close(struct net_backend *nb)
{
	to_fake(nb)->closed++;
}

static const struct net_backend_ops fake_ops = {
	.send = fake_send,
	.rx_ready = fake_rx_ready,
	.set_offloads = fake_set_offloads,
	.close = fake_close,
};

static const uint8_t mac0[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

static struct device *nic;

/* A world with one NIC in front of the fake backend. */
static int fake_nic(bool vnet_hdr)
{
	if (world_init() < 0)
		return -1;
	memset(&fk, 0, sizeof(fk));
	fk.nb = (struct net_backend){.ops = &fake_ops, .kind = "fake", .vnet_hdr = vnet_hdr};
	return vnet_create(&board, mac0, &fk.nb, &nic);
}

static void nic_fini(void)
{
	nic->ops->destroy(nic);
	world_fini();
}

/* The frame the fake backend delivers (as the peer callback the device installed). */
static int deliver(const void *buf, size_t len)
{
	int r = fk.nb.peer.receive(fk.nb.peer.opaque, buf, len);
	fk.nb.peer.receive_flush(fk.nb.peer.opaque);
	return r;
}

static void pattern(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* ---- tests with the fake backend ---- */

static int config_and_features(void)
{
	uint64_t offered;

	CHECK(fake_nic(false) == 0);
	CHECK_EQ(rd(R_DEVICE_ID), VIRTIO_ID_NET);
	for (unsigned i = 0; i < 6; i++)
		CHECK_EQ(rd8(R_CONFIG + i), mac0[i]);
	CHECK_EQ(rd8(R_CONFIG + 6), VIRTIO_NET_S_LINK_UP);
	CHECK_EQ(rd8(R_CONFIG + 8), 1);		      /* max_virtqueue_pairs */
	CHECK_EQ(rd(R_CONFIG + VNET_CONFIG_SIZE), 0); /* past the end */
	wr(R_DEV_FEAT_SEL, 0);
	offered = rd(R_DEV_FEAT);
	CHECK_EQ(offered & BASE_WANT, BASE_WANT);
	/* A backend without virtio headers: checksums and TSOv4 done by the device, nothing
	 * for received frames (this backend does not vouch for its checksums). */
	CHECK_EQ(offered & OFFLOAD_WANT, F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4));
	CHECK_EQ(offered & F(VIRTIO_NET_F_HOST_TSO6), 0);
	CHECK(!strcmp(nic->name, "virtio-net0"));
	nic_fini();
	CHECK_EQ(fk.closed, 1);

	CHECK(fake_nic(true) == 0);
	wr(R_DEV_FEAT_SEL, 0);
	CHECK_EQ(rd(R_DEV_FEAT) & OFFLOAD_WANT, OFFLOAD_WANT);
	CHECK(driver_init(BASE_WANT | OFFLOAD_WANT) & VIRTIO_STATUS_DRIVER_OK);
	CHECK_EQ(fk.offloads, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4);
	wr(R_STATUS, 0);
	CHECK_EQ(fk.offloads, 0); /* reset: no offloads until the driver accepts them again */
	nic_fini();
	return 0;
}

static int transmit(void)
{
	uint8_t hdr[12] = {0}, frame[1514];

	CHECK(fake_nic(false) == 0);
	CHECK(driver_init(BASE_WANT) & VIRTIO_STATUS_DRIVER_OK);
	pattern(frame, sizeof(frame), 1);
	/* Header and frame in one buffer. */
	put_tx(0, hdr, 12);
	put_tx(12, frame, 60);
	add_chain(&txq, &(struct gbuf){TXBUFS, 72, false}, 1);
	kick(1);
	CHECK_EQ(fk.sent, 1);
	CHECK_EQ(fk.last_len, 60);
	CHECK(!memcmp(fk.last, frame, 60));
	CHECK_EQ(used_idx(&txq), 1);
	CHECK_EQ(irq_level, 1);
	wr(R_ACK, rd(R_ISR));
	/* The header split 5 + 7, the frame over three buffers (5.1.6.2: any layout). */
	put_tx(0x100, hdr, 5);
	put_tx(0x200, hdr + 5, 7);
	put_tx(0x300, frame, 100);
	put_tx(0x500, frame + 100, 1);
	put_tx(0x600, frame + 101, 1413);
	{
		struct gbuf b[] = {{TXBUFS + 0x100, 5, false},
				   {TXBUFS + 0x200, 7, false},
				   {TXBUFS + 0x300, 100, false},
				   {TXBUFS + 0x500, 1, false},
				   {TXBUFS + 0x600, 1413, false}};
		add_chain(&txq, b, 5);
	}
	kick(1);
	CHECK_EQ(fk.sent, 2);
	CHECK_EQ(fk.last_len, 1514);
	CHECK(!memcmp(fk.last, frame, 1514));
	/* The backend cannot take it now: the chain stays queued until send_ready. */
	fk.send_result = -EAGAIN;
	add_chain(&txq, &(struct gbuf){TXBUFS, 72, false}, 1);
	kick(1);
	CHECK_EQ(used_idx(&txq), 2);
	fk.send_result = 0;
	kick(1); /* a kick does not retry while the backend is busy */
	CHECK_EQ(fk.sent, 2);
	fk.nb.peer.send_ready(fk.nb.peer.opaque);
	pump(0);
	CHECK_EQ(fk.sent, 3);
	CHECK_EQ(used_idx(&txq), 3);
	CHECK(!(rd(R_STATUS) & NEEDS_RESET));
	nic_fini();
	return 0;
}

static int transmit_hostile(void)
{
	uint8_t hdr[12] = {0}, frame[64] = {0};
	uint32_t id, len;

	CHECK(fake_nic(false) == 0);
	CHECK(driver_init(BASE_WANT) & VIRTIO_STATUS_DRIVER_OK);
	put_tx(0, hdr, 12);
	put_tx(12, frame, 64);
	/* No header: 8 bytes. Header only. A frame past NET_MAX_FRAME (inside RAM). */
	add_chain(&txq, &(struct gbuf){TXBUFS, 8, false}, 1);
	add_chain(&txq, &(struct gbuf){TXBUFS, 12, false}, 1);
	add_chain(&txq, &(struct gbuf){TXBUFS, 12 + NET_MAX_FRAME + 1, false}, 1);
	/* Offloads the driver did not negotiate: a partial checksum, a TSO request. */
	hdr[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	put_tx(0x1000, hdr, 12);
	put_tx(0x1000 + 12, frame, 64);
	add_chain(&txq, &(struct gbuf){TXBUFS + 0x1000, 76, false}, 1);
	hdr[0] = 0;
	hdr[1] = VIRTIO_NET_HDR_GSO_TCPV4;
	put_tx(0x2000, hdr, 12);
	put_tx(0x2000 + 12, frame, 64);
	add_chain(&txq, &(struct gbuf){TXBUFS + 0x2000, 76, false}, 1);
	/* A writable buffer in a transmit chain is ignored. */
	{
		struct gbuf b[] = {{TXBUFS, 76, false}, {TXBUFS + 0x3000, 64, true}};
		add_chain(&txq, b, 2);
	}
	kick(1);
	CHECK_EQ(used_idx(&txq), 6);
	CHECK_EQ(fk.sent, 1); /* only the last one */
	for (unsigned i = 0; i < 6; i++)
		CHECK(next_used(&txq, &id, &len) == 0 && len == 0);
	CHECK(!(rd(R_STATUS) & NEEDS_RESET));
	/* A buffer running past the end of RAM, and one outside it: the device needs a
	 * reset; nothing was read outside RAM (ASan). */
	add_chain(&txq, &(struct gbuf){RAM_BASE + RAM_SIZE - 40, 0x10000, false}, 1);
	kick(1);
	CHECK(rd(R_STATUS) & NEEDS_RESET);
	CHECK_EQ(fk.sent, 1);
	CHECK(driver_init(BASE_WANT) & VIRTIO_STATUS_DRIVER_OK);
	add_chain(&txq, &(struct gbuf){0x1000, 76, false}, 1);
	kick(1);
	CHECK(rd(R_STATUS) & NEEDS_RESET);
	/* After a reset the device works again. */
	CHECK(driver_init(BASE_WANT) & VIRTIO_STATUS_DRIVER_OK);
	add_chain(&txq, &(struct gbuf){TXBUFS, 76, false}, 1);
	kick(1);
	CHECK_EQ(fk.sent, 2);
	nic_fini();
	return 0;
}

/* Checks the next used receive buffer: returns its length, the header decoded. */
static int rx_used(uint8_t *hdr_out, uint64_t *addr, uint32_t *len)
{
	uint32_t id;

	if (next_used(&rxq, &id, len) < 0 || id >= QN)
		return -1;
	*addr = rxq.addr[id];
	if (hdr_out)
		memcpy(hdr_out, ram(*addr, 12), 12);
	return 0;
}

static int receive_merged_with(uint64_t extra)
{
	uint8_t frame[250], hdr[12], got[250];
	uint64_t addr;
	uint32_t len;

	CHECK(fake_nic(false) == 0);
	CHECK(driver_init(BASE_WANT | extra) & VIRTIO_STATUS_DRIVER_OK);
	pattern(frame, sizeof(frame), 3);
	post_rx(4, 100);
	kick(0);
	CHECK_EQ(deliver(frame, sizeof(frame)), 0);
	/* 12 + 250 bytes in buffers of 100: three of them, published together. */
	CHECK_EQ(used_idx(&rxq), 3);
	CHECK_EQ(irq_level, 1);
	CHECK(rx_used(hdr, &addr, &len) == 0);
	CHECK_EQ(len, 100);
	CHECK_EQ(hdr[0] | hdr[1], 0);
	CHECK_EQ(hdr[10] | hdr[11] << 8, 3); /* num_buffers */
	memcpy(got, ram(addr + 12, 88), 88);
	CHECK(rx_used(NULL, &addr, &len) == 0);
	CHECK_EQ(len, 100);
	memcpy(got + 88, ram(addr, 100), 100);
	CHECK(rx_used(NULL, &addr, &len) == 0);
	CHECK_EQ(len, 62);
	memcpy(got + 188, ram(addr, 62), 62);
	CHECK(!memcmp(got, frame, sizeof(frame)));
	/* One buffer left, the frame needs three: the backend holds it until the guest
	 * posts more and kicks. */
	wr(R_ACK, rd(R_ISR));
	CHECK_EQ(deliver(frame, sizeof(frame)), -EAGAIN);
	CHECK_EQ(used_idx(&rxq), 3);
	CHECK_EQ(fk.rx_ready, 0);
	if (extra & F(VIRTIO_F_EVENT_IDX))
		CHECK_EQ(get16(rxq.used + 4 + 8 * QN), 4); /* avail_event: kick at the 5th */
	else
		CHECK_EQ(get16(rxq.used) & VIRTQ_USED_F_NO_NOTIFY, 0);
	post_rx(2, 100);
	kick(0);
	CHECK_EQ(fk.rx_ready, 1);
	CHECK_EQ(deliver(frame, sizeof(frame)), 0);
	CHECK_EQ(used_idx(&rxq), 6);
	/* Runts and frames too big for any buffer are dropped, not held. */
	CHECK_EQ(deliver(frame, 10), 0);
	CHECK_EQ(used_idx(&rxq), 6);
	CHECK(!(rd(R_STATUS) & NEEDS_RESET));
	nic_fini();
	return 0;
}

static int receive_merged(void)
{
	return receive_merged_with(0) || receive_merged_with(F(VIRTIO_F_EVENT_IDX));
}

static int receive_single_buffers(void)
{
	uint8_t frame[1500], hdr[12];
	uint64_t addr;
	uint32_t len;

	CHECK(fake_nic(false) == 0);
	/* Without MRG_RXBUF each frame must fit one chain. */
	CHECK(driver_init(F(VIRTIO_NET_F_MAC)) & VIRTIO_STATUS_DRIVER_OK);
	pattern(frame, sizeof(frame), 9);
	post_rx(1, 1000);
	kick(0);
	CHECK_EQ(deliver(frame, 1500), 0); /* dropped: the buffer stays for the next */
	CHECK_EQ(used_idx(&rxq), 0);
	CHECK_EQ(deliver(frame, 900), 0);
	CHECK_EQ(used_idx(&rxq), 1);
	CHECK(rx_used(hdr, &addr, &len) == 0);
	CHECK_EQ(len, 912);
	CHECK_EQ(hdr[10], 1); /* num_buffers is 1 without MRG_RXBUF too */
	CHECK(!memcmp(ram(addr + 12, 900), frame, 900));
	/* A two-descriptor chain (header buffer + data buffer) is one buffer. */
	{
		struct gbuf b[] = {{RXBUFS + 0x8000, 12, true}, {RXBUFS + 0x9000, 1500, true}};
		add_chain(&rxq, b, 2);
	}
	CHECK_EQ(deliver(frame, 1500), 0);
	CHECK_EQ(used_idx(&rxq), 2);
	CHECK(rx_used(NULL, &addr, &len) == 0);
	CHECK_EQ(len, 1512);
	CHECK(!memcmp(ram(RXBUFS + 0x9000, 1500), frame, 1500));
	nic_fini();
	return 0;
}

static int receive_hostile(void)
{
	uint8_t frame[1000] = {0};

	CHECK(fake_nic(false) == 0);
	CHECK(driver_init(BASE_WANT) & VIRTIO_STATUS_DRIVER_OK);
	/* The whole ring of tiny buffers cannot hold the frame: dropped, not held forever. */
	post_rx(QN, 16);
	CHECK_EQ(deliver(frame, sizeof(frame)), 0);
	CHECK_EQ(used_idx(&rxq), 0);
	CHECK(!(rd(R_STATUS) & NEEDS_RESET));
	/* A first buffer smaller than the header breaks a MUST of the driver. */
	CHECK(driver_init(BASE_WANT) & VIRTIO_STATUS_DRIVER_OK);
	post_rx(1, 8);
	CHECK_EQ(deliver(frame, 100), 0);
	CHECK(rd(R_STATUS) & NEEDS_RESET);
	CHECK_EQ(used_idx(&rxq), 0);
	CHECK_EQ(deliver(frame, 100), 0); /* a broken device drops, no crash */
	/* A readable-only chain, and a buffer outside RAM. */
	CHECK(driver_init(BASE_WANT) & VIRTIO_STATUS_DRIVER_OK);
	add_chain(&rxq, &(struct gbuf){RXBUFS, 2000, false}, 1);
	CHECK_EQ(deliver(frame, 100), 0);
	CHECK(rd(R_STATUS) & NEEDS_RESET);
	CHECK(driver_init(BASE_WANT) & VIRTIO_STATUS_DRIVER_OK);
	add_chain(&rxq, &(struct gbuf){RAM_BASE + RAM_SIZE - 100, 2000, true}, 1);
	CHECK_EQ(deliver(frame, 100), 0);
	CHECK(rd(R_STATUS) & NEEDS_RESET);
	/* Before DRIVER_OK frames are dropped (a NIC that is down), never held. */
	wr(R_STATUS, 0);
	CHECK_EQ(deliver(frame, 100), 0);
	nic_fini();
	return 0;
}

static int offload_headers(void)
{
	uint8_t frame[200], hdr[12] = {0}, b[212], got[12];
	uint64_t addr;
	uint32_t len;

	CHECK(fake_nic(true) == 0);
	CHECK(driver_init(BASE_WANT | OFFLOAD_WANT) & VIRTIO_STATUS_DRIVER_OK);
	pattern(frame, sizeof(frame), 5);
	/* Transmit: a TSO request with a partial checksum goes to the backend as written. */
	hdr[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM | 0x40; /* an unknown flag bit: cleared */
	hdr[1] = VIRTIO_NET_HDR_GSO_TCPV4;
	hdr[4] = 100; /* gso_size */
	hdr[6] = 34;  /* csum_start */
	hdr[8] = 16;  /* csum_offset */
	hdr[10] = 7;  /* num_buffers: meaningless on transmit, zeroed */
	put_tx(0, hdr, 12);
	put_tx(12, frame, 200);
	add_chain(&txq, &(struct gbuf){TXBUFS, 212, false}, 1);
	kick(1);
	CHECK_EQ(fk.sent, 1);
	CHECK_EQ(fk.last_len, 212);
	CHECK_EQ(fk.last[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(fk.last[1], VIRTIO_NET_HDR_GSO_TCPV4);
	CHECK_EQ(fk.last[4], 100);
	CHECK_EQ(fk.last[10], 0);
	CHECK(!memcmp(fk.last + 12, frame, 200));
	/* Checksum position outside the frame; TSOv6 and ECN not negotiated: dropped. */
	hdr[6] = 250;
	put_tx(0x1000, hdr, 12);
	put_tx(0x1000 + 12, frame, 200);
	add_chain(&txq, &(struct gbuf){TXBUFS + 0x1000, 212, false}, 1);
	hdr[6] = 34;
	hdr[1] = VIRTIO_NET_HDR_GSO_TCPV6;
	put_tx(0x2000, hdr, 12);
	put_tx(0x2000 + 12, frame, 200);
	add_chain(&txq, &(struct gbuf){TXBUFS + 0x2000, 212, false}, 1);
	hdr[1] = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	put_tx(0x3000, hdr, 12);
	put_tx(0x3000 + 12, frame, 200);
	add_chain(&txq, &(struct gbuf){TXBUFS + 0x3000, 212, false}, 1);
	kick(1);
	CHECK_EQ(used_idx(&txq), 4);
	CHECK_EQ(fk.sent, 1);
	/* Receive: the backend's header reaches the driver, num_buffers filled in. */
	post_rx(2, 2048);
	kick(0);
	memset(b, 0, 12);
	b[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	b[1] = VIRTIO_NET_HDR_GSO_TCPV4;
	b[4] = 100;
	b[6] = 34;
	b[8] = 16;
	memcpy(b + 12, frame, 200);
	CHECK_EQ(deliver(b, 212), 0);
	CHECK(rx_used(got, &addr, &len) == 0);
	CHECK_EQ(len, 212);
	CHECK_EQ(got[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(got[1], VIRTIO_NET_HDR_GSO_TCPV4);
	CHECK_EQ(got[4], 100);
	CHECK_EQ(got[10], 1);
	CHECK(!memcmp(ram(addr + 12, 200), frame, 200));
	/* TCPv6 super-frames were not accepted by the driver: dropped. */
	b[1] = VIRTIO_NET_HDR_GSO_TCPV6;
	CHECK_EQ(deliver(b, 212), 0);
	CHECK_EQ(used_idx(&rxq), 1);
	CHECK_EQ(deliver(b, 5), 0); /* shorter than the header */
	CHECK_EQ(used_idx(&rxq), 1);
	nic_fini();

	/* A driver without GUEST_CSUM: DATA_VALID is cleared, partial checksums dropped. */
	CHECK(fake_nic(true) == 0);
	CHECK(driver_init(BASE_WANT) & VIRTIO_STATUS_DRIVER_OK);
	post_rx(2, 2048);
	memset(b, 0, 12);
	b[0] = VIRTIO_NET_HDR_F_DATA_VALID;
	CHECK_EQ(deliver(b, 212), 0);
	CHECK(rx_used(got, &addr, &len) == 0);
	CHECK_EQ(got[0], 0);
	b[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	CHECK_EQ(deliver(b, 212), 0);
	CHECK_EQ(used_idx(&rxq), 1);
	nic_fini();
	return 0;
}

static uint8_t saved_ram[RAM_SIZE];

static int save_and_load(void)
{
	struct sbuf s = {0};
	struct sreader in;
	uint8_t frame[100] = {0};
	static const uint8_t mac1[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};

	CHECK(world_init() == 0);
	memset(&fk, 0, sizeof(fk));
	fk.nb = (struct net_backend){.ops = &fake_ops, .kind = "fake"};
	CHECK(vnet_create(&board, mac1, &fk.nb, &nic) == 0);
	CHECK(driver_init(BASE_WANT) & VIRTIO_STATUS_DRIVER_OK);
	post_rx(4, 2048);
	CHECK_EQ(deliver(frame, sizeof(frame)), 0);
	CHECK_EQ(nic->ops->save(nic, &s), 0);
	memcpy(saved_ram, ram(RAM_BASE, RAM_SIZE), RAM_SIZE);
	nic_fini();

	/* A new machine (the same RAM) with another MAC on the command line: the
	 * snapshot's wins, the queues carry on where they were. */
	CHECK(fake_nic(false) == 0);
	memcpy(ram(RAM_BASE, RAM_SIZE), saved_ram, RAM_SIZE);
	sreader_init(&in, s.data, s.len);
	CHECK_EQ(nic->ops->load(nic, &in), 0);
	CHECK_EQ(in.off, s.len);
	CHECK_EQ(rd8(R_CONFIG + 3), 0xab);
	CHECK(rd(R_STATUS) & VIRTIO_STATUS_DRIVER_OK);
	CHECK_EQ(deliver(frame, sizeof(frame)), 0);
	CHECK_EQ(used_idx(&rxq), 2);
	/* Truncated records and another backend kind are refused. */
	sreader_init(&in, s.data, s.len - 1);
	CHECK_EQ(nic->ops->load(nic, &in), -EINVAL);
	nic_fini();
	CHECK(world_init() == 0);
	memset(&fk, 0, sizeof(fk));
	fk.nb = (struct net_backend){.ops = &fake_ops, .kind = "other"};
	CHECK(vnet_create(&board, mac1, &fk.nb, &nic) == 0);
	sreader_init(&in, s.data, s.len);
	CHECK_EQ(nic->ops->load(nic, &in), -EINVAL);
	nic_fini();
	sbuf_fini(&s);
	return 0;
}

/*
 * A frame the driver queues while the machine is quiesced for a snapshot: its notify
 * comes then and the quiesced device sends nothing (resume would look again). The state
 * holds the chain in the ring and no notify comes for it on the machine that loads it
 * (restore, migration, failover): that device must look at its queues by itself.
 */
static int load_sends_frame_queued_while_quiesced(void)
{
	struct sbuf s = {0};
	struct sreader in;
	uint8_t hdr[12] = {0}, frame[60];

	CHECK(fake_nic(false) == 0);
	CHECK(driver_init(BASE_WANT) & VIRTIO_STATUS_DRIVER_OK);
	nic->ops->quiesce(nic);
	pattern(frame, sizeof(frame), 3);
	put_tx(0, hdr, sizeof(hdr));
	put_tx(sizeof(hdr), frame, sizeof(frame));
	add_chain(&txq, &(struct gbuf){TXBUFS, sizeof(hdr) + sizeof(frame), false}, 1);
	kick(1);
	CHECK_EQ(fk.sent, 0);
	CHECK_EQ(used_idx(&txq), 0);
	CHECK_EQ(nic->ops->save(nic, &s), 0);
	memcpy(saved_ram, ram(RAM_BASE, RAM_SIZE), RAM_SIZE);
	nic_fini();

	CHECK(fake_nic(false) == 0);
	memcpy(ram(RAM_BASE, RAM_SIZE), saved_ram, RAM_SIZE);
	sreader_init(&in, s.data, s.len);
	CHECK_EQ(nic->ops->load(nic, &in), 0);
	pump(0);
	CHECK_EQ(fk.sent, 1);
	CHECK_EQ(fk.last_len, sizeof(frame));
	CHECK(!memcmp(fk.last, frame, sizeof(frame)));
	CHECK_EQ(used_idx(&txq), 1);
	nic_fini();
	sbuf_fini(&s);
	return 0;
}

static int quiesce_holds_frames(void)
{
	uint8_t frame[100] = {0};

	CHECK(fake_nic(false) == 0);
	CHECK(driver_init(BASE_WANT) & VIRTIO_STATUS_DRIVER_OK);
	post_rx(4, 2048);
	nic->ops->quiesce(nic);
	CHECK_EQ(deliver(frame, sizeof(frame)), -EAGAIN);
	CHECK_EQ(used_idx(&rxq), 0);
	nic->ops->resume(nic);
	CHECK_EQ(fk.rx_ready, 1);
	CHECK_EQ(deliver(frame, sizeof(frame)), 0);
	CHECK_EQ(used_idx(&rxq), 1);
	nic_fini();
	return 0;
}

/* CPU time of this thread (the one pump() runs the loop on), in ns. */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Transmit at 2 packets/s: the bucket's 2 go at once, the rest wait on the limiter's
 * timer (a kick meanwhile sends nothing) and leave about 500 ms apart; the loop sleeps
 * while it waits. */
static int rate_limited_transmit(void)
{
	const struct ratelimiter_cfg tx = {.ops = 2}, none = {0};
	uint8_t hdr[12] = {0}, frame[60] = {0};
	uint64_t t0, cpu0;

	CHECK(fake_nic(false) == 0);
	CHECK_EQ(vnet_set_limits(nic, &none, &tx), 0);
	CHECK(driver_init(BASE_WANT) & VIRTIO_STATUS_DRIVER_OK);
	put_tx(0, hdr, 12);
	put_tx(12, frame, 60);
	for (unsigned i = 0; i < 4; i++)
		add_chain(&txq, &(struct gbuf){TXBUFS, 72, false}, 1);
	t0 = evloop_now_ns();
	kick(1);
	CHECK_EQ(fk.sent, 2);
	CHECK_EQ(used_idx(&txq), 2); /* the others stay on the ring, not dropped */
	kick(1);
	CHECK_EQ(fk.sent, 2);
	cpu0 = thread_cpu_ns();
	while (fk.sent < 4 && evloop_now_ns() - t0 < 10000000000ull)
		pump(50);
	CHECK_EQ(fk.sent, 4);
	CHECK_EQ(used_idx(&txq), 4);
	CHECK(evloop_now_ns() - t0 >= 900000000ull); /* two more tokens: 1 s */
	/* Waiting about a second took next to no CPU: no spinning on the queue. */
	CHECK(thread_cpu_ns() - cpu0 < 300000000ull);
	CHECK(!(rd(R_STATUS) & NEEDS_RESET));
	nic_fini();
	return 0;
}

/* Receive at 1000 bytes/s: a frame the bucket cannot pay for goes back to the backend,
 * which is told to retry (rx_ready) when the limiter's timer fires, not before, even if
 * the guest posts buffers and kicks meanwhile. */
static int rate_limited_receive(void)
{
	const struct ratelimiter_cfg rx = {.bytes = 1000}, none = {0};
	uint8_t frame[600] = {0};
	uint64_t t0;

	CHECK(fake_nic(false) == 0);
	CHECK_EQ(vnet_set_limits(nic, &rx, &none), 0);
	CHECK(driver_init(BASE_WANT) & VIRTIO_STATUS_DRIVER_OK);
	post_rx(4, 2048);
	kick(0);
	t0 = evloop_now_ns();
	CHECK_EQ(deliver(frame, sizeof(frame)), 0);
	CHECK_EQ(used_idx(&rxq), 1);
	CHECK_EQ(deliver(frame, sizeof(frame)), -EAGAIN); /* 400 bytes left */
	CHECK_EQ(used_idx(&rxq), 1);
	post_rx(1, 2048);
	kick(0);
	CHECK_EQ(fk.rx_ready, 0);
	CHECK_EQ(deliver(frame, sizeof(frame)), -EAGAIN); /* still throttled */
	while (!fk.rx_ready && evloop_now_ns() - t0 < 10000000000ull)
		pump(20);
	CHECK_EQ(fk.rx_ready, 1);
	CHECK(evloop_now_ns() - t0 >= 150000000ull); /* 200 more bytes: 200 ms */
	CHECK_EQ(deliver(frame, sizeof(frame)), 0);
	CHECK_EQ(used_idx(&rxq), 2);
	/* Quiesced while throttled: the timer does not hand frames over; resume does. */
	CHECK_EQ(deliver(frame, sizeof(frame)), -EAGAIN);
	nic->ops->quiesce(nic);
	pump(700);
	CHECK_EQ(fk.rx_ready, 1);
	nic->ops->resume(nic);
	CHECK_EQ(fk.rx_ready, 2);
	CHECK_EQ(deliver(frame, sizeof(frame)), 0);
	nic_fini();
	return 0;
}

static int mac_parsing(void)
{
	uint8_t m[6];

	CHECK(vnet_parse_mac("52:54:00:AB:cd:01", m));
	CHECK_EQ(m[3], 0xab);
	CHECK_EQ(m[5], 1);
	CHECK(!vnet_parse_mac("52:54:00:ab:cd", m));
	CHECK(!vnet_parse_mac("52:54:00:ab:cd:01:02", m));
	CHECK(!vnet_parse_mac("52-54-00-ab-cd-01", m));
	CHECK(!vnet_parse_mac("52:54:00:ab:cd:1", m));
	CHECK(!vnet_parse_mac("52:54:00:ab:cd:+1", m));
	CHECK(!vnet_parse_mac("01:00:5e:00:00:01", m)); /* multicast */
	CHECK(!vnet_parse_mac("00:00:00:00:00:00", m));
	return 0;
}

/* ---- software offloads ---- */

/* An independent check: the one's complement sum over the range, with `extra` added,
 * must be 0xffff for a correct checksum. */
static uint16_t ref_sum(const uint8_t *p, size_t len, uint32_t extra)
{
	uint32_t s = extra;

	for (size_t i = 0; i < len; i++)
		s += i & 1 ? p[i] : (uint32_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint32_t pseudo(const uint8_t *ip, uint8_t proto, size_t l4len)
{
	uint32_t s = 0;

	for (int i = 12; i < 20; i += 2)
		s += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	return s + proto + (uint32_t)l4len;
}

/* Ethernet (optionally VLAN-tagged) + IPv4 + TCP (with 12 bytes of options) + payload. */
static size_t super_frame(uint8_t *f, bool vlan, size_t payload, uint8_t flags)
{
	size_t l3 = vlan ? 18 : 14, l4 = l3 + 20;

	memset(f, 0, l4 + 32);
	memset(f, 0x52, 12);
	if (vlan) {
		f[12] = 0x81;
		f[14] = 0x00;
		f[15] = 7;
		f[16] = 0x08;
	} else {
		f[12] = 0x08;
	}
	f[l3] = 0x45;
	f[l3 + 4] = 0x12; /* id 0x1234 */
	f[l3 + 5] = 0x34;
	f[l3 + 6] = 0x40; /* DF */
	f[l3 + 8] = 64;
	f[l3 + 9] = 6;
	memcpy(f + l3 + 12, (uint8_t[]){10, 0, 2, 15, 10, 0, 2, 2}, 8);
	f[l4] = 0x9c;
	f[l4 + 3] = 80;
	memcpy(f + l4 + 4, (uint8_t[]){0xff, 0xff, 0xf0, 0x00}, 4); /* seq wraps */
	f[l4 + 12] = 8 << 4;					    /* 32-byte header */
	f[l4 + 13] = flags;
	f[l4 + 14] = 0xff;
	f[l4 + 20] = 1; /* NOP options */
	pattern(f + l4 + 32, payload, 11);
	return l4 + 32 + payload;
}

static struct {
	uint8_t data[8][4096];
	size_t len[8];
	unsigned n;
} segs;

static void collect(void *opaque, const uint8_t *seg, size_t len)
{
	(void)opaque;
	if (segs.n < 8 && len <= sizeof(segs.data[0])) {
		memcpy(segs.data[segs.n], seg, len);
		segs.len[segs.n] = len;
	}
	segs.n++;
}

/* Checks the segments of super_frame(vlan, payload, flags) cut at mss. */
static int check_segments(const uint8_t *orig, bool vlan, size_t payload, unsigned mss)
{
	size_t l3 = vlan ? 18 : 14, l4 = l3 + 20, hdrs = l4 + 32, off = 0;
	unsigned want = (unsigned)((payload + mss - 1) / mss);

	CHECK_EQ(segs.n, want);
	for (unsigned i = 0; i < segs.n; i++) {
		const uint8_t *g = segs.data[i], *ip = g + l3, *tcp = g + l4;
		size_t n = segs.len[i] - hdrs;
		uint32_t seq = 0xfffff000u + (uint32_t)off;

		CHECK_EQ(n, i + 1 < want ? mss : payload - off);
		CHECK(!memcmp(g, orig, l3)); /* Ethernet header and tag as they were */
		CHECK_EQ(ip[2] << 8 | ip[3], 20 + 32 + n);
		CHECK_EQ(ip[4] << 8 | ip[5], 0x1234 + i);
		CHECK_EQ(ref_sum(ip, 20, 0), 0xffff);
		CHECK_EQ((uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | tcp[6] << 8 | tcp[7],
			 seq);
		CHECK_EQ(tcp[13] & 0x80, i == 0 ? 0x80 : 0);	    /* CWR first */
		CHECK_EQ(tcp[13] & 0x09, i + 1 == want ? 0x09 : 0); /* FIN, PSH last */
		CHECK_EQ(tcp[13] & 0x10, 0x10);			    /* ACK everywhere */
		CHECK_EQ(ref_sum(tcp, 32 + n, pseudo(ip, 6, 32 + n)), 0xffff);
		CHECK(!memcmp(tcp + 20, orig + l4 + 20, 12)); /* options copied */
		CHECK(!memcmp(g + hdrs, orig + hdrs + off, n));
		off += n;
	}
	CHECK_EQ(off, payload);
	return 0;
}

static int software_offloads(void)
{
	static uint8_t f[70000], scratch[NET_TSO_SCRATCH];
	static const uint8_t rfc1071[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	size_t len;

	/* RFC 1071's example: the sum is 0xddf2. */
	CHECK_EQ(net_csum_add(rfc1071, 8, 0), 0xddf2);
	CHECK_EQ(net_csum_fold(0xddf2), 0x220d);
	CHECK_EQ(net_csum_add(rfc1071, 7, 0), (0xddf2 - 0xf7 + 0xffff) % 0xffff);
	/* NEEDS_CSUM as a driver sets it: the pseudo-header sum in the field. */
	for (size_t plen = 0; plen < 40; plen += 13) {
		len = super_frame(f, false, plen, 0x18);
		{
			uint32_t ps = pseudo(f + 14, 6, len - 34);
			while (ps >> 16)
				ps = (ps & 0xffff) + (ps >> 16);
			f[34 + 16] = (uint8_t)(ps >> 8);
			f[34 + 17] = (uint8_t)ps;
		}
		CHECK_EQ(net_csum_complete(f, len, 34, 16), 0);
		CHECK_EQ(ref_sum(f + 34, len - 34, pseudo(f + 14, 6, len - 34)), 0xffff);
	}
	CHECK_EQ(net_csum_complete(f, 40, 34, 5), -EINVAL); /* field past the end */
	CHECK_EQ(net_csum_complete(f, 40, 41, 0), -EINVAL);
	/* TSO: uneven last segment, exact multiple, a single segment, VLAN tag. */
	struct {
		bool vlan;
		size_t payload;
		unsigned mss;
	} cases[] = {{false, 5000, 1448},
		     {false, 4000, 1000},
		     {false, 700, 1448},
		     {true, 3000, 1460},
		     {false, 65536 - 512, 65536 / 8}};
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		len = super_frame(f, cases[c].vlan, cases[c].payload, 0x80 | 0x10 | 0x08 | 0x01);
		segs.n = 0;
		if (cases[c].mss > 2048 - 100) {
			/* too big to collect: count and sizes only */
			CHECK_EQ(net_tso_segment(f, len, cases[c].mss, scratch, collect, NULL), 0);
			CHECK_EQ(segs.n, 8);
			continue;
		}
		CHECK_EQ(net_tso_segment(f, len, cases[c].mss, scratch, collect, NULL), 0);
		if (check_segments(f, cases[c].vlan, cases[c].payload, cases[c].mss))
			return 1;
	}
	/* NET_TSO_WHOLE: one packet while the IP length field allows, then a second. */
	len = super_frame(f, false, 3000, 0x80 | 0x10 | 0x08 | 0x01);
	segs.n = 0;
	CHECK_EQ(net_tso_segment(f, len, NET_TSO_WHOLE, scratch, collect, NULL), 0);
	if (check_segments(f, false, 3000, 3000))
		return 1;
	len = super_frame(f, false, 65535 - 52 + 10, 0x18);
	segs.n = 0;
	CHECK_EQ(net_tso_segment(f, len, NET_TSO_WHOLE, scratch, collect, NULL), 0);
	CHECK_EQ(segs.n, 2);
	CHECK_EQ(segs.len[1], 14 + 20 + 32 + 10);
	CHECK_EQ(ref_sum(segs.data[1] + 34, 32 + 10, pseudo(segs.data[1] + 14, 6, 32 + 10)),
		 0xffff);
	/* Refused: MSS below the minimum, not IPv4, not TCP, truncated, bad header lengths. */
	len = super_frame(f, false, 3000, 0x10);
	segs.n = 0;
	CHECK_EQ(net_tso_segment(f, len, 40, scratch, collect, NULL), -EINVAL);
	f[12] = 0x86; /* IPv6 EtherType */
	CHECK_EQ(net_tso_segment(f, len, 1000, scratch, collect, NULL), -EINVAL);
	f[12] = 0x08;
	f[14 + 9] = 17;
	CHECK_EQ(net_tso_segment(f, len, 1000, scratch, collect, NULL), -EINVAL);
	f[14 + 9] = 6;
	CHECK_EQ(net_tso_segment(f, 14 + 20 + 10, 1000, scratch, collect, NULL), -EINVAL);
	f[14] = 0x44;
	CHECK_EQ(net_tso_segment(f, len, 1000, scratch, collect, NULL), -EINVAL);
	f[14] = 0x45;
	f[34 + 12] = 4 << 4;
	CHECK_EQ(net_tso_segment(f, len, 1000, scratch, collect, NULL), -EINVAL);
	f[34 + 12] = 15 << 4; /* 60-byte TCP header past a 50-byte frame */
	CHECK_EQ(net_tso_segment(f, 14 + 20 + 50, 1000, scratch, collect, NULL), -EINVAL);
	CHECK_EQ(segs.n, 0);
	return 0;
}

/* The device does them for a backend without virtio headers. */
static int software_offloads_in_device(void)
{
	static uint8_t f[8000];
	uint8_t hdr[12] = {0};
	size_t len = super_frame(f, false, 3000, 0x18);

	CHECK(fake_nic(false) == 0);
	CHECK(driver_init(BASE_WANT | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4)) &
	      VIRTIO_STATUS_DRIVER_OK);
	hdr[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	hdr[1] = VIRTIO_NET_HDR_GSO_TCPV4;
	hdr[4] = 0xe8; /* gso_size 1000 */
	hdr[5] = 0x03;
	hdr[6] = 34; /* csum_start, csum_offset 16 */
	hdr[8] = 16;
	put_tx(0, hdr, 12);
	put_tx(12, f, len);
	add_chain(&txq, &(struct gbuf){TXBUFS, (uint32_t)(12 + len), false}, 1);
	kick(1);
	CHECK_EQ(fk.sent, 3);
	CHECK_EQ(fk.last_len, 14 + 20 + 32 + 1000);
	CHECK_EQ(ref_sum(fk.last + 34, 32 + 1000, pseudo(fk.last + 14, 6, 32 + 1000)), 0xffff);
	CHECK(!memcmp(fk.last + 66, f + 66 + 2000, 1000));
	/* A partial checksum without segmentation. */
	len = super_frame(f, false, 100, 0x18);
	f[34 + 16] = f[34 + 17] = 0;
	{
		uint32_t ps = pseudo(f + 14, 6, len - 34);
		while (ps >> 16)
			ps = (ps & 0xffff) + (ps >> 16);
		f[34 + 16] = (uint8_t)(ps >> 8);
		f[34 + 17] = (uint8_t)ps;
	}
	hdr[1] = 0;
	hdr[4] = hdr[5] = 0;
	put_tx(0x4000, hdr, 12);
	put_tx(0x4000 + 12, f, len);
	add_chain(&txq, &(struct gbuf){TXBUFS + 0x4000, (uint32_t)(12 + len), false}, 1);
	kick(1);
	CHECK_EQ(fk.sent, 4);
	CHECK_EQ(fk.last_len, len);
	CHECK_EQ(ref_sum(fk.last + 34, len - 34, pseudo(fk.last + 14, 6, len - 34)), 0xffff);
	/* TSO for IPv6 was not offered; a TSOv4 request on a UDP frame is dropped. */
	hdr[1] = VIRTIO_NET_HDR_GSO_TCPV4;
	hdr[4] = 0xe8;
	hdr[5] = 0x03;
	f[14 + 9] = 17;
	put_tx(0x6000, hdr, 12);
	put_tx(0x6000 + 12, f, len);
	add_chain(&txq, &(struct gbuf){TXBUFS + 0x6000, (uint32_t)(12 + len), false}, 1);
	kick(1);
	CHECK_EQ(fk.sent, 4);
	CHECK_EQ(used_idx(&txq), 3);
	CHECK(!(rd(R_STATUS) & NEEDS_RESET));
	nic_fini();
	return 0;
}

/* ---- packets, for the libslirp tests ---- */

static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static uint8_t slirp_mac[6]; /* learnt from the ARP reply */
#define GUEST_IP 0x0a00020fu /* 10.0.2.15 */
#define HOST_IP	 0x0a000202u /* 10.0.2.2 */

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t s)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)(p[len - 1] << 8);
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
	be16(p, (uint16_t)(v >> 16));
	be16(p + 2, (uint16_t)v);
}

static uint32_t rbe32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Ethernet + IPv4 header (20 bytes) around `l4` of length n; returns the frame length. */
static size_t ip_frame(uint8_t *f, const uint8_t *dst_mac, uint8_t proto, uint32_t src,
		       uint32_t dst, const uint8_t *l4, size_t n)
{
	uint8_t *ip = f + 14;

	memcpy(f, dst_mac, 6);
	memcpy(f + 6, mac0, 6);
	be16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	be16(ip + 2, (uint16_t)(20 + n));
	ip[8] = 64;
	ip[9] = proto;
	be32(ip + 12, src);
	be32(ip + 16, dst);
	be16(ip + 10, fold(sum16(ip, 20, 0)));
	memcpy(ip + 20, l4, n);
	return 14 + 20 + n;
}

/* A TCP segment from the guest, checksummed. */
static size_t tcp_frame(uint8_t *f, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
			uint8_t flags, const void *data, size_t n)
{
	uint8_t t[20 + 4096], ph[12];
	uint32_t s;

	memset(t, 0, 20);
	be16(t, sport);
	be16(t + 2, dport);
	be32(t + 4, seq);
	be32(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = flags;
	be16(t + 14, 65535);
	if (n)
		memcpy(t + 20, data, n);
	be32(ph, GUEST_IP);
	be32(ph + 4, HOST_IP);
	ph[8] = 0;
	ph[9] = 6;
	be16(ph + 10, (uint16_t)(20 + n));
	s = sum16(ph, 12, 0);
	be16(t + 16, fold(sum16(t, 20 + n, s)));
	return ip_frame(f, slirp_mac, 6, GUEST_IP, HOST_IP, t, 20 + n);
}

/* Sends one frame from the guest: header + frame in one transmit buffer. */
static void guest_send_hdr(const uint8_t *frame, size_t len, const uint8_t *hdr)
{
	uint64_t at = 0x1000ull * (txq.avail_idx % 8);

	put_tx(at, hdr, 12);
	put_tx(at + 12, frame, len);
	add_chain(&txq, &(struct gbuf){TXBUFS + at, (uint32_t)(12 + len), false}, 1);
	kick(1);
}

static void guest_send(const uint8_t *frame, size_t len)
{
	static const uint8_t hdr[12];

	guest_send_hdr(frame, len, hdr);
}

static uint8_t last_rx_flags; /* the header flags of the last frame guest_recv took */

/* Waits (pumping the loop) for the next received frame; returns its length or 0. The
 * buffer goes back to the ring. */
static size_t guest_recv(uint8_t *out, size_t cap, unsigned ms)
{
	for (unsigned i = 0; i < ms / 10 + 1; i++) {
		uint64_t addr;
		uint32_t len;
		if (rx_used(NULL, &addr, &len) == 0) {
			size_t n = len - 12 < cap ? len - 12 : cap;
			last_rx_flags = *(uint8_t *)ram(addr, 1);
			memcpy(out, ram(addr + 12, n), n);
			post_rx(1, 2048);
			kick(0);
			return n;
		}
		pump(10);
	}
	return 0;
}

/* Waits for a frame of EtherType `type` (skipping others, such as IPv6 chatter). */
static size_t recv_type(uint8_t *out, size_t cap, uint16_t type, uint8_t ip_proto)
{
	for (int tries = 0; tries < 20; tries++) {
		size_t n = guest_recv(out, cap, 2000);
		if (!n)
			return 0;
		if ((out[12] << 8 | out[13]) == type && (type != 0x0800 || out[14 + 9] == ip_proto))
			return n;
	}
	return 0;
}

static struct net_options user_opts;

static int user_nic(uint64_t want)
{
	struct net_backend *nb;
	char err[256];

	if (world_init() < 0 || net_user_open(loop, &user_opts, &nb, err, sizeof(err)) < 0)
		return -1;
	if (vnet_create(&board, mac0, nb, &nic) < 0)
		return -1;
	if (!(driver_init(want) & VIRTIO_STATUS_DRIVER_OK))
		return -1;
	post_rx(8, 2048);
	kick(0);
	return 0;
}

/* ARP for the host: slirp answers from inside the transmit (the device's lock is held
 * then: the answer must not deadlock). */
static void arp_request(uint8_t *a)
{
	memcpy(a, bcast, 6);
	memcpy(a + 6, mac0, 6);
	be16(a + 12, 0x0806);
	be16(a + 14, 1);
	be16(a + 16, 0x0800);
	a[18] = 6;
	a[19] = 4;
	be16(a + 20, 1); /* request */
	memcpy(a + 22, mac0, 6);
	be32(a + 28, GUEST_IP);
	memset(a + 32, 0, 6);
	be32(a + 38, HOST_IP);
}

static int arp_for_host(uint8_t *f)
{
	uint8_t a[42];

	arp_request(a);
	guest_send(a, sizeof(a));
	if (recv_type(f, 2048, 0x0806, 0) < 42 || f[21] != 2 || rbe32(f + 28) != HOST_IP)
		return -1;
	memcpy(slirp_mac, f + 22, 6);
	return 0;
}

static int user_arp_and_dhcp(void)
{
	uint8_t f[2048], b[300] = {0}, u[8 + 300];

	alarm(120); /* a deadlock fails the test instead of hanging the suite */
	memset(&user_opts, 0, sizeof(user_opts));
	user_opts.kind = "user";
	CHECK(user_nic(BASE_WANT) == 0);
	CHECK(arp_for_host(f) == 0);
	CHECK(!memcmp(f, mac0, 6)); /* to us */
	/* DHCPDISCOVER: the offer is 10.0.2.15. */
	b[0] = 1;
	b[1] = 1;
	b[2] = 6;
	be32(b + 4, 0x12345678);
	memcpy(b + 28, mac0, 6);
	be32(b + 236, 0x63825363);
	b[240] = 53;
	b[241] = 1;
	b[242] = 1;
	b[243] = 255;
	be16(u, 68);
	be16(u + 2, 67);
	be16(u + 4, 8 + 300);
	be16(u + 6, 0); /* no UDP checksum */
	memcpy(u + 8, b, 300);
	guest_send(f, ip_frame(f, bcast, 17, 0, 0xffffffffu, u, sizeof(u)));
	CHECK(recv_type(f, sizeof(f), 0x0800, 17) > 14 + 20 + 8 + 240);
	CHECK_EQ(rbe32(f + 14 + 20 + 8 + 16), GUEST_IP); /* yiaddr */
	CHECK(!(rd(R_STATUS) & NEEDS_RESET));
	nic_fini();
	return 0;
}

static int listen_tcp(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 4) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &al) < 0) {
		if (s >= 0)
			close(s);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return s;
}

static int user_outbound_tcp(void)
{
	static uint8_t f[8192];
	uint16_t port;
	int ls, cs = -1;
	uint32_t seq = 1000, their;
	static uint8_t got[4096], big[3000];
	size_t n, have = 0;

	alarm(120);
	memset(&user_opts, 0, sizeof(user_opts));
	user_opts.kind = "user";
	ls = listen_tcp(&port);
	CHECK(ls >= 0);
	/* With the device's software offloads (checksums, TSO) and DATA_VALID. */
	CHECK(user_nic(BASE_WANT | SOFT_WANT) == 0);
	CHECK(arp_for_host(f) == 0);
	/* SYN to 10.0.2.2:port: slirp connects to 127.0.0.1:port, then answers SYN-ACK. */
	guest_send(f, tcp_frame(f, 40000, port, seq, 0, 0x02, NULL, 0));
	n = recv_type(f, sizeof(f), 0x0800, 6);
	CHECK(n >= 54);
	CHECK_EQ(f[14 + 20 + 13] & 0x12, 0x12); /* SYN|ACK */
	CHECK_EQ(rbe32(f + 14 + 20 + 8), seq + 1);
	their = rbe32(f + 14 + 20 + 4) + 1;
	CHECK_EQ(last_rx_flags, VIRTIO_NET_HDR_F_DATA_VALID); /* slirp made the checksums */
	cs = accept(ls, NULL, NULL);
	CHECK(cs >= 0);
	/* Data both ways: a plain frame, one with a partial checksum, a TSO super-frame
	 * (slirp checks every TCP checksum: a wrong one would lose data). */
	guest_send(f, tcp_frame(f, 40000, port, seq + 1, their, 0x18, "hello", 5));
	n = tcp_frame(f, 40000, port, seq + 6, their, 0x18, "abc", 3);
	{
		uint8_t h[12] = {VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 0, 0, 34, 0, 16, 0, 0, 0};
		/* The field holds the pseudo-header's folded sum, as a driver leaves it. */
		uint32_t ps = (GUEST_IP >> 16) + (GUEST_IP & 0xffff) + (HOST_IP >> 16) +
			      (HOST_IP & 0xffff) + 6 + 20 + 3;
		while (ps >> 16)
			ps = (ps & 0xffff) + (ps >> 16);
		be16(f + 34 + 16, (uint16_t)ps);
		guest_send_hdr(f, n, h);
		pattern(big, sizeof(big), 77);
		n = tcp_frame(f, 40000, port, seq + 9, their, 0x18, big, sizeof(big));
		be16(f + 34 + 16, 0x1234); /* the device recomputes it */
		h[1] = VIRTIO_NET_HDR_GSO_TCPV4;
		h[4] = 0xe8; /* gso_size 1000, little-endian */
		h[5] = 0x03;
		guest_send_hdr(f, n, h);
	}
	for (int i = 0; i < 300 && have < 5 + 3 + sizeof(big); i++) {
		ssize_t r;
		pump(10);
		r = recv(cs, got + have, sizeof(got) - have, MSG_DONTWAIT);
		if (r > 0)
			have += (size_t)r;
	}
	CHECK_EQ(have, 5 + 3 + sizeof(big));
	CHECK(!memcmp(got, "helloabc", 8));
	CHECK(!memcmp(got + 8, big, sizeof(big)));
	CHECK(send(cs, "world", 5, 0) == 5);
	for (int i = 0; i < 20; i++) {
		n = recv_type(f, sizeof(f), 0x0800, 6);
		CHECK(n > 0);
		if (n >= 54 + 5 && !memcmp(f + 54, "world", 5))
			break;
		n = 0;
	}
	CHECK(n >= 59);
	close(cs);
	close(ls);
	nic_fini();
	return 0;
}

static int user_hostfwd(void)
{
	uint8_t f[2048];
	uint16_t port;
	char spec[64];
	int ls, cs;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	size_t n;

	alarm(120);
	ls = listen_tcp(&port); /* find a free port, then give it to the forward */
	CHECK(ls >= 0);
	close(ls);
	snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%u-:8080", port);
	memset(&user_opts, 0, sizeof(user_opts));
	user_opts.kind = "user";
	user_opts.hostfwd[0] = spec;
	user_opts.nhostfwd = 1;
	CHECK(user_nic(BASE_WANT) == 0);
	CHECK(arp_for_host(f) == 0); /* slirp learns the guest's MAC */
	cs = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	CHECK(cs >= 0);
	a.sin_port = htons(port);
	CHECK(connect(cs, (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EINPROGRESS);
	/* The forward accepts and opens a connection to 10.0.2.15:8080: a SYN. */
	n = recv_type(f, sizeof(f), 0x0800, 6);
	close(cs);
	CHECK(n >= 54);
	CHECK_EQ(rbe32(f + 14 + 16), GUEST_IP);
	CHECK_EQ(f[14 + 20 + 2] << 8 | f[14 + 20 + 3], 8080);
	CHECK_EQ(f[14 + 20 + 13] & 0x12, 0x02); /* SYN */
	nic_fini();
	return 0;
}

/* The I/O loop on its own thread, the test's thread as a hart doing MMIO and writing
 * rings: for ThreadSanitizer (make tsan) more than for the results. 200 ARP round trips,
 * each answered by slirp from inside the device's transmit work. */
static int user_threaded(void)
{
	uint8_t a[42] = {0}, hdr[12] = {0};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char spec[64];
	uint16_t port;
	int ls = listen_tcp(&port), cs;
	unsigned waited = 0;

	alarm(120);
	CHECK(ls >= 0);
	close(ls);
	snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%u-:8080", port);
	memset(&user_opts, 0, sizeof(user_opts));
	user_opts.kind = "user";
	user_opts.hostfwd[0] = spec;
	user_opts.nhostfwd = 1;
	CHECK(user_nic(BASE_WANT) == 0);
	arp_request(a);
	CHECK(evloop_start(loop, "test-io") == 0);
	for (unsigned i = 0; i < 200; i++) {
		uint16_t want = (uint16_t)(used_idx(&rxq) + 1);
		uint64_t at = 0x1000ull * (i % 8);
		unsigned spins = 0;

		put_tx(at, hdr, 12);
		put_tx(at + 12, a, sizeof(a));
		add_chain(&txq, &(struct gbuf){TXBUFS + at, 12 + sizeof(a), false}, 1);
		wr(R_NOTIFY, 1);
		while (used_idx(&rxq) != want && spins++ < 5000)
			usleep(1000);
		CHECK_EQ(used_idx(&rxq), want);
		rxq.used_seen = want;
		post_rx(1, 2048);
		wr(R_NOTIFY, 0);
		wr(R_ACK, rd(R_ISR));
	}
	/* A frame that starts on the host side (slirp's poll dispatch, not a transmit): a
	 * connection to the forward makes slirp send the guest a SYN. */
	cs = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	CHECK(cs >= 0);
	sa.sin_port = htons(port);
	CHECK(connect(cs, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EINPROGRESS);
	while (used_idx(&rxq) == rxq.used_seen && waited++ < 5000)
		usleep(1000);
	close(cs);
	CHECK(used_idx(&rxq) != rxq.used_seen);
	evloop_stop(loop);
	CHECK(!(rd(R_STATUS) & NEEDS_RESET));
	nic_fini();
	return 0;
}

/* Saving and loading slirp's own state through the device. */
static int user_save_load(void)
{
	struct sbuf s = {0};
	struct sreader in;
	uint8_t f[2048];

	memset(&user_opts, 0, sizeof(user_opts));
	user_opts.kind = "user";
	CHECK(user_nic(BASE_WANT) == 0);
	CHECK(arp_for_host(f) == 0);
	CHECK_EQ(nic->ops->save(nic, &s), 0);
	nic_fini();
	CHECK(user_nic(BASE_WANT) == 0);
	sreader_init(&in, s.data, s.len);
	CHECK_EQ(nic->ops->load(nic, &in), 0);
	CHECK_EQ(in.off, s.len);
	nic_fini();
	sbuf_fini(&s);
	return 0;
}

/* ---- --net arguments ---- */

/* Runs the device type's create with `args`; returns its result, message in err. */
static int create_with(const char *args, char *err, size_t errlen)
{
	const struct device_type *t = device_type_find_option("net");
	struct device *dev = NULL;
	int r;

	err[0] = 0;
	if (!t || world_init() < 0)
		return -1000;
	r = t->create(&board, args, &dev, err, errlen);
	if (r == 0)
		dev->ops->destroy(dev);
	world_fini();
	return r;
}

static int bad_arguments(void)
{
	char err[256], args[96];
	uint16_t port;
	int ls;

	CHECK_EQ(create_with("user", err, sizeof(err)), 0);
	CHECK_EQ(create_with("user,mac=52:54:00:00:00:01,net=192.168.7.0/24,host=192.168.7.1,"
			     "dns=192.168.7.53,hostfwd=udp::0-:53",
			     err, sizeof(err)),
		 -EINVAL); /* port 0 */
	CHECK(strstr(err, "hostfwd 'udp::0-:53': bad host port") != NULL);
	CHECK_EQ(create_with("", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "--net: want user or tap first") != NULL);
	CHECK_EQ(create_with("vde", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "unknown backend 'vde'") != NULL);
	CHECK_EQ(create_with("user,ifname=tap0", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "--net user: unknown option 'ifname'") != NULL);
	CHECK_EQ(create_with("user,mac=01:00:00:00:00:01", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "--net user: mac=01:00:00:00:00:01: want six hex bytes") != NULL);
	CHECK_EQ(create_with("user,mac=52:54:00:00:00:01,mac=52:54:00:00:00:02", err, sizeof(err)),
		 -EINVAL);
	CHECK(strstr(err, "mac= given twice") != NULL);
	CHECK_EQ(create_with("user,hostfwd=tcp:2222:22", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "--net user: hostfwd 'tcp:2222:22': want [tcp|udp]:[ADDR]:PORT-") !=
	      NULL);
	CHECK_EQ(create_with("user,hostfwd=sctp::2222-:22", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "bad protocol") != NULL);
	CHECK_EQ(create_with("user,hostfwd=tcp:1.2.3:2222-:22", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "bad host address") != NULL);
	CHECK_EQ(create_with("user,hostfwd=tcp::2222-:99999", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "bad guest port") != NULL);
	CHECK_EQ(create_with("user,hostfwd=tcp::2222-10.0.2.x:22", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "bad guest address") != NULL);
	/* Rate limits. */
	CHECK_EQ(create_with("user,bps=1M,pps=100,burst=4M,rx_bps=64K,tx_pps=10", err, sizeof(err)),
		 0);
	CHECK_EQ(create_with("user,bps=fast", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "--net user: bps=fast: want a number, optionally with K, M or G") !=
	      NULL);
	CHECK_EQ(create_with("user,tx_pps=-5", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "tx_pps=-5: want a number") != NULL);
	CHECK_EQ(create_with("user,rx_bps=1T", err, sizeof(err)), -EINVAL);
	CHECK_EQ(create_with("user,bps=1,bps=2", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "bps= given twice") != NULL);
	CHECK_EQ(create_with("user,tx_burst=1M", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "--net user: a transmit burst without a bytes rate") != NULL);
	CHECK_EQ(create_with("user,net=10.0.2.0/33", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "--net user: net=10.0.2.0/33: want an IPv4 network") != NULL);
	CHECK_EQ(create_with("user,host=10.0.3.2", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "host=10.0.3.2: want an IPv4 address inside the network") != NULL);
	CHECK_EQ(create_with("user,net=10.9.0.0/16,host=10.9.3.2,dns=10.9.0.3", err, sizeof(err)),
		 0);
	/* A port already in use: the forward cannot listen. */
	ls = listen_tcp(&port);
	CHECK(ls >= 0);
	snprintf(args, sizeof(args), "user,hostfwd=tcp:127.0.0.1:%u-:22", port);
	CHECK_EQ(create_with(args, err, sizeof(err)), -EADDRINUSE);
	close(ls);
	snprintf(args, sizeof(args), "--net user: hostfwd tcp 127.0.0.1:%u: cannot listen: %s",
		 port, strerror(EADDRINUSE));
	CHECK(strstr(err, args) == err);
	/* tap: no name, a name that does not exist, a name that is not a tap. */
	CHECK_EQ(create_with("tap", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "--net tap: missing ifname=NAME") != NULL);
	CHECK_EQ(create_with("tap,ifname=lodgenosuch0", err, sizeof(err)), -ENODEV);
	CHECK(strstr(err, "--net tap: no interface 'lodgenosuch0' (create it first") != NULL);
	CHECK_EQ(create_with("tap,ifname=waytoolonginterfacename", err, sizeof(err)), -EINVAL);
	CHECK_EQ(create_with("tap,ifname=tap0,hostfwd=tcp::1-:1", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "--net tap: unknown option 'hostfwd'") != NULL);
	if (access("/dev/net/tun", R_OK | W_OK) == 0) {
		CHECK(create_with("tap,ifname=lo", err, sizeof(err)) < 0);
		CHECK(strstr(err, "'lo' is not a tap device") != NULL);
	}
	return 0;
}

static int nic_names_and_macs(void)
{
	const struct device_type *t = device_type_find_option("net");
	struct device *a, *b, *c;
	char err[256];
	uint8_t m[6];

	CHECK(world_init() == 0);
	CHECK(t->create(&board, "user", &a, err, sizeof(err)) == 0);
	CHECK(t->create(&board, "user,mac=52:54:00:00:00:99", &b, err, sizeof(err)) == 0);
	CHECK(!strcmp(a->name, "virtio-net0"));
	CHECK(!strcmp(b->name, "virtio-net1"));
	for (unsigned i = 0; i < 6; i++)
		m[i] = rd8(R_CONFIG + i);
	CHECK_EQ(m[5], 0x56);
	for (unsigned i = 0; i < 6; i++)
		m[i] = rd8(0x1000 + R_CONFIG + i); /* the second slot */
	CHECK_EQ(m[5], 0x99);
	/* No slot for a third one. */
	CHECK_EQ(t->create(&board, "user", &c, err, sizeof(err)), -ENOSPC);
	CHECK(strstr(err, "no virtio slot left") != NULL);
	a->ops->destroy(a);
	b->ops->destroy(b);
	world_fini();
	return 0;
}

/* Replication's hold on the transmit side: a backend's send keeps frames while a hold
 * is on; release sends those sealed, in order; stop sends the rest and ends it. */
static int t_hold_frames(void)
{
	static struct fake f;

	memset(&f, 0, sizeof(f));
	f.nb.ops = &fake_ops;
	CHECK(!net_hold_frame(&f.nb, (const uint8_t *)"x", 1)); /* no hold: send it */
	CHECK_EQ(net_hold_start(&f.nb), 0);
	CHECK(net_hold_frame(&f.nb, (const uint8_t *)"aaa", 3));
	CHECK(net_hold_frame(&f.nb, (const uint8_t *)"bbbb", 4));
	net_hold_seal(&f.nb);
	CHECK(net_hold_frame(&f.nb, (const uint8_t *)"cc", 2));
	CHECK_EQ(f.sent, 0);
	net_hold_release(&f.nb);
	CHECK_EQ(f.sent, 2);
	CHECK(f.last_len == 4 && !memcmp(f.last, "bbbb", 4));
	net_hold_release(&f.nb); /* nothing sealed since */
	CHECK_EQ(f.sent, 2);
	net_hold_stop(&f.nb);
	CHECK_EQ(f.sent, 3);
	CHECK(f.last_len == 2 && !memcmp(f.last, "cc", 2));
	CHECK(!net_hold_frame(&f.nb, (const uint8_t *)"d", 1));
	return 0;
}

static const struct unit_test tests[] = {
	{"hold_frames", t_hold_frames},
	{"config_and_features", config_and_features},
	{"transmit", transmit},
	{"transmit_hostile", transmit_hostile},
	{"receive_merged", receive_merged},
	{"receive_single_buffers", receive_single_buffers},
	{"receive_hostile", receive_hostile},
	{"offload_headers", offload_headers},
	{"save_and_load", save_and_load},
	{"quiesce_holds_frames", quiesce_holds_frames},
	{"load_sends_frame_queued_while_quiesced", load_sends_frame_queued_while_quiesced},
	{"rate_limited_transmit", rate_limited_transmit},
	{"rate_limited_receive", rate_limited_receive},
	{"mac_parsing", mac_parsing},
	{"software_offloads", software_offloads},
	{"software_offloads_in_device", software_offloads_in_device},
	{"user_arp_and_dhcp", user_arp_and_dhcp},
	{"user_outbound_tcp", user_outbound_tcp},
	{"user_hostfwd", user_hostfwd},
	{"user_save_load", user_save_load},
	{"user_threaded", user_threaded},
	{"bad_arguments", bad_arguments},
	{"nic_names_and_macs", nic_names_and_macs},
};

UNIT_MAIN("vnet", tests)
