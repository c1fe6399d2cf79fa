/*
 * Unit tests for virtio-vsock (devices/virtio/vsock.c) on a fake board: the test plays
 * the guest driver through the MMIO registers and split queues in a small guest RAM,
 * and the host programs with real unix sockets, while the device runs on its own I/O
 * loop thread. Connections both ways, credit limits, resets, hostile packets, save/load.
 */
#include "devices/virtio/vsock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/evloop.h"
#include "core/sbuf.h"
#include "core/util.h"
#include "harness.h"
#include "vdriver.h"

#define CID    7u
#define RXQ    0u
#define TXQ    1u
#define EVQ    2u
#define RX_LEN (4096u + VSOCK_HDR_SIZE)

struct pkt {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
	uint8_t data[4096];
};

static struct vdriver drv;
static struct evloop *loop;
static struct device *dev;
static char dir[64], path[128];

static void enc(uint8_t *p, const struct pkt *k)
{
	memcpy(p, &k->src_cid, 8);
	memcpy(p + 8, &k->dst_cid, 8);
	memcpy(p + 16, &k->src_port, 4);
	memcpy(p + 20, &k->dst_port, 4);
	memcpy(p + 24, &k->len, 4);
	memcpy(p + 28, &k->type, 2);
	memcpy(p + 30, &k->op, 2);
	memcpy(p + 32, &k->flags, 4);
	memcpy(p + 36, &k->buf_alloc, 4);
	memcpy(p + 40, &k->fwd_cnt, 4);
}

static void dec(const uint8_t *p, struct pkt *k)
{
	memcpy(&k->src_cid, p, 8);
	memcpy(&k->dst_cid, p + 8, 8);
	memcpy(&k->src_port, p + 16, 4);
	memcpy(&k->dst_port, p + 20, 4);
	memcpy(&k->len, p + 24, 4);
	memcpy(&k->type, p + 28, 2);
	memcpy(&k->op, p + 30, 2);
	memcpy(&k->flags, p + 32, 4);
	memcpy(&k->buf_alloc, p + 36, 4);
	memcpy(&k->fwd_cnt, p + 40, 4);
}

/* A guest packet from guest port gp to host port hp. */
static struct pkt gpkt(uint32_t gp, uint32_t hp, uint16_t op)
{
	return (struct pkt){.src_cid = CID,
			    .dst_cid = VSOCK_HOST_CID,
			    .src_port = gp,
			    .dst_port = hp,
			    .type = VSOCK_TYPE_STREAM,
			    .op = op,
			    .buf_alloc = 65536};
}

/* Sends a packet on the tx queue, header and payload in separate descriptors when
 * `split`; `declared` overrides the buffer length (hostile tests). Waits for it to be
 * used. Returns 0 or -1 on time-out. */
static int send_raw(const struct pkt *k, const void *data, uint32_t n, uint32_t buflen, bool split)
{
	uint64_t a = vd_alloc(&drv);
	uint8_t *p = vd_ptr(&drv, a, VD_BUF_SIZE);
	struct vd_buf b[2];
	uint32_t id, len;

	enc(p, k);
	if (n)
		memcpy(p + VSOCK_HDR_SIZE, data, n);
	if (split) {
		b[0] = (struct vd_buf){.gpa = a, .len = VSOCK_HDR_SIZE};
		b[1] = (struct vd_buf){.gpa = a + VSOCK_HDR_SIZE, .len = buflen - VSOCK_HDR_SIZE};
	} else {
		b[0] = (struct vd_buf){.gpa = a, .len = buflen};
	}
	vd_post(&drv, TXQ, b, split ? 2 : 1);
	vd_kick(&drv, TXQ);
	return vd_used(&drv, TXQ, 5000, &id, &len) ? 0 : -1;
}

static int send_pkt(struct pkt k, const void *data, uint32_t n)
{
	k.len = n;
	return send_raw(&k, data, n, VSOCK_HDR_SIZE + n, n > 0);
}

/* Rx buffers have their own area, so that buffers the device still owns are never
 * reused for tx packets. */
static unsigned rx_next;

static void post_rx(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = VD_RAM_BASE + (24ull << 20) + (rx_next++ % 64) * 0x2000ull;
		struct vd_buf b = {.gpa = a, .len = RX_LEN, .writable = true};
		vd_post(&drv, RXQ, &b, 1);
	}
	vd_kick(&drv, RXQ);
}

/* The next packet the device sent the guest (re-posting its buffer), within ms. */
static int recv_pkt(struct pkt *k, unsigned ms)
{
	uint32_t id, len;
	uint8_t *p;

	if (!vd_used(&drv, RXQ, ms, &id, &len) || len < VSOCK_HDR_SIZE)
		return -1;
	p = vd_ptr(&drv, vd_desc_addr(&drv, RXQ, id), RX_LEN);
	dec(p, k);
	if (k->len > sizeof(k->data) || len != VSOCK_HDR_SIZE + k->len)
		return -1;
	memcpy(k->data, p + VSOCK_HDR_SIZE, k->len);
	post_rx(1);
	return 0;
}

static int unix_listen(const char *p)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
	unlink(p);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int unix_connect(const char *p)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p) >= (int)sizeof(sa.sun_path) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads exactly n bytes (or up to n, when `some`) within 5 s; returns the count. */
static ssize_t read_n(int fd, void *buf, size_t n, bool some)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t r;
		if (poll(&pfd, 1, 5000) <= 0)
			break;
		r = read(fd, (char *)buf + got, n - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (some)
			break;
	}
	return (ssize_t)got;
}

/* True when the host end sees EOF (or a reset) within 5 s, after any data. */
static bool host_eof(int fd)
{
	char buf[4096];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	while (poll(&pfd, 1, 5000) == 1)
		if (read(fd, buf, sizeof(buf)) <= 0)
			return true;
	return false;
}

static int start(void)
{
	struct board b;
	char err[256] = "";

	snprintf(dir, sizeof(dir), "/tmp/lodge-vsock-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	if (evloop_create(&loop) < 0 || vd_board(&drv, &b, loop, 32ull << 20) < 0)
		return -1;
	if (vsock_create(&b, CID, path, &dev, err, sizeof(err)) < 0) {
		fprintf(stderr, "vsock_create: %s\n", err);
		return -1;
	}
	if (evloop_start(loop, "test-io") < 0)
		return -1;
	if (!(vd_init(&drv, 0, 3) & VIRTIO_STATUS_DRIVER_OK))
		return -1;
	post_rx(16);
	return 0;
}

static void stop(void)
{
	char cmd[160];

	evloop_stop(loop);
	dev->ops->destroy(dev);
	evloop_destroy(loop);
	gmem_fini(&drv.mem);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static struct virtio_dev *vdev(void)
{
	return drv.bus.regions[0].opaque;
}

/* Guest port 1234 connects to host port 52 (PATH_52), which accepts. Returns the host
 * end of the connection. */
static int guest_connects(int lfd)
{
	struct pkt k;
	int fd;

	if (send_pkt(gpkt(1234, 52, VSOCK_OP_REQUEST), NULL, 0) < 0)
		return -1;
	if (recv_pkt(&k, 5000) < 0 || k.op != VSOCK_OP_RESPONSE || k.src_port != 52 ||
	    k.dst_port != 1234 || k.src_cid != VSOCK_HOST_CID || k.dst_cid != CID ||
	    k.buf_alloc != VSOCK_BUF_ALLOC)
		return -1;
	fd = accept(lfd, NULL, NULL);
	return fd;
}

static int guest_to_host(void)
{
	char p52[160], buf[64];
	struct pkt k;
	int lfd, fd;

	CHECK(start() == 0);
	snprintf(p52, sizeof(p52), "%s_52", path);
	lfd = unix_listen(p52);
	CHECK(lfd >= 0);
	fd = guest_connects(lfd);
	CHECK(fd >= 0);
	/* Guest -> host, then the host echoes it back. */
	CHECK(send_pkt(gpkt(1234, 52, VSOCK_OP_RW), "hello", 5) == 0);
	CHECK_EQ(read_n(fd, buf, 5, false), 5);
	CHECK(!memcmp(buf, "hello", 5));
	CHECK_EQ(write(fd, "world!", 6), 6);
	CHECK(recv_pkt(&k, 5000) == 0);
	CHECK_EQ(k.op, VSOCK_OP_RW);
	CHECK_EQ(k.src_port, 52);
	CHECK_EQ(k.dst_port, 1234);
	CHECK_EQ(k.len, 6);
	CHECK(!memcmp(k.data, "world!", 6));
	CHECK_EQ(k.fwd_cnt, 5); /* the 5 bytes the host took */
	/* The host closes its end: the guest hears SHUTDOWN(SEND); when the guest shuts
	 * down too, the device resets the connection. */
	close(fd);
	CHECK(recv_pkt(&k, 5000) == 0);
	CHECK_EQ(k.op, VSOCK_OP_SHUTDOWN);
	CHECK_EQ(k.flags, VSOCK_SHUTDOWN_SEND);
	struct pkt sh = gpkt(1234, 52, VSOCK_OP_SHUTDOWN);
	sh.flags = VSOCK_SHUTDOWN_SEND | VSOCK_SHUTDOWN_RCV;
	CHECK(send_pkt(sh, NULL, 0) == 0);
	CHECK(recv_pkt(&k, 5000) == 0);
	CHECK_EQ(k.op, VSOCK_OP_RST);
	/* Now nothing is there: data on it gets a reset. */
	CHECK(send_pkt(gpkt(1234, 52, VSOCK_OP_RW), "x", 1) == 0);
	CHECK(recv_pkt(&k, 5000) == 0);
	CHECK_EQ(k.op, VSOCK_OP_RST);
	close(lfd);
	stop();
	return 0;
}

static int guest_refused(void)
{
	struct pkt k;

	CHECK(start() == 0);
	/* Nothing listens on PATH_99. */
	CHECK(send_pkt(gpkt(2000, 99, VSOCK_OP_REQUEST), NULL, 0) == 0);
	CHECK(recv_pkt(&k, 5000) == 0);
	CHECK_EQ(k.op, VSOCK_OP_RST);
	CHECK_EQ(k.src_port, 99);
	CHECK_EQ(k.dst_port, 2000);
	stop();
	return 0;
}

/* A host client asks for guest port 5000; returns its fd and the REQUEST seen. */
static int host_connects(struct pkt *req)
{
	int fd = unix_connect(path);

	if (fd < 0 || write(fd, "CONNECT 5000\n", 13) != 13)
		return -1;
	if (recv_pkt(req, 5000) < 0 || req->op != VSOCK_OP_REQUEST || req->dst_port != 5000 ||
	    req->src_port < VSOCK_LOCAL_PORT_BASE || req->src_cid != VSOCK_HOST_CID ||
	    req->dst_cid != CID)
		return -1;
	return fd;
}

static int host_to_guest_credit(void)
{
	struct pkt req, k, resp;
	char buf[64], want[32];
	int fd;
	uint32_t hp;

	CHECK(start() == 0);
	fd = host_connects(&req);
	CHECK(fd >= 0);
	hp = req.src_port;
	/* The guest accepts with a receive buffer of only 8 bytes. */
	resp = gpkt(5000, hp, VSOCK_OP_RESPONSE);
	resp.buf_alloc = 8;
	CHECK(send_pkt(resp, NULL, 0) == 0);
	snprintf(want, sizeof(want), "OK %u\n", hp);
	CHECK_EQ(read_n(fd, buf, strlen(want), false), (ssize_t)strlen(want));
	CHECK(!memcmp(buf, want, strlen(want)));
	/* 20 bytes from the host: only 8 may reach the guest until it frees some. */
	CHECK_EQ(write(fd, "0123456789abcdefghij", 20), 20);
	CHECK(recv_pkt(&k, 5000) == 0);
	CHECK_EQ(k.op, VSOCK_OP_RW);
	CHECK_EQ(k.len, 8);
	CHECK(!memcmp(k.data, "01234567", 8));
	CHECK(recv_pkt(&k, 300) < 0); /* nothing while the guest has no room */
	/* A credit update saying the guest consumed 5 bytes: exactly 5 more come. */
	struct pkt cu = gpkt(5000, hp, VSOCK_OP_CREDIT_UPD);
	cu.buf_alloc = 8;
	cu.fwd_cnt = 5;
	CHECK(send_pkt(cu, NULL, 0) == 0);
	CHECK(recv_pkt(&k, 5000) == 0);
	CHECK_EQ(k.op, VSOCK_OP_RW);
	CHECK_EQ(k.len, 5);
	CHECK(!memcmp(k.data, "89abc", 5));
	/* A credit request is answered with our counters. */
	cu.op = VSOCK_OP_CREDIT_REQ;
	CHECK(send_pkt(cu, NULL, 0) == 0);
	cu.op = VSOCK_OP_CREDIT_UPD;
	CHECK(recv_pkt(&k, 5000) == 0);
	CHECK_EQ(k.op, VSOCK_OP_CREDIT_UPD);
	CHECK_EQ(k.buf_alloc, VSOCK_BUF_ALLOC);
	/* A huge fwd_cnt makes no credit out of nothing. */
	cu.fwd_cnt = 0xfffffff0u;
	CHECK(send_pkt(cu, NULL, 0) == 0);
	CHECK(recv_pkt(&k, 300) < 0);
	/* Guest -> host data still flows. */
	k = gpkt(5000, hp, VSOCK_OP_RW);
	k.buf_alloc = 8;
	k.fwd_cnt = 13;
	CHECK(send_pkt(k, "pong", 4) == 0);
	/* That packet said the guest consumed all 13 bytes: the last 7 come. */
	CHECK(recv_pkt(&k, 5000) == 0);
	CHECK_EQ(k.op, VSOCK_OP_RW);
	CHECK_EQ(k.len, 7);
	CHECK(!memcmp(k.data, "defghij", 7));
	CHECK_EQ(read_n(fd, buf, 4, false), 4);
	CHECK(!memcmp(buf, "pong", 4));
	/* The guest resets: the host client sees the end. */
	CHECK(send_pkt(gpkt(5000, hp, VSOCK_OP_RST), NULL, 0) == 0);
	CHECK(host_eof(fd));
	close(fd);
	stop();
	return 0;
}

static int host_refused_and_bad_commands(void)
{
	struct pkt req;
	int fd;
	char c;

	CHECK(start() == 0);
	/* The guest refuses: the client is closed without an OK. */
	fd = host_connects(&req);
	CHECK(fd >= 0);
	CHECK(send_pkt(gpkt(5000, req.src_port, VSOCK_OP_RST), NULL, 0) == 0);
	CHECK(host_eof(fd));
	close(fd);
	/* Commands that are not CONNECT <port>: closed, and nothing reaches the guest. */
	const char *bad[] = {"HELLO 1\n", "CONNECT\n", "CONNECT 12x\n", "CONNECT 4294967295\n",
			     "CONNECT 99999999999999999999999999999\n"};
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		fd = unix_connect(path);
		CHECK(fd >= 0);
		CHECK_EQ(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
		CHECK(host_eof(fd));
		close(fd);
	}
	CHECK(recv_pkt(&req, 100) < 0);
	(void)c;
	stop();
	return 0;
}

static int hostile_packets(void)
{
	char p52[160], buf[8];
	struct pkt k;
	int lfd, fd;

	CHECK(start() == 0);
	snprintf(p52, sizeof(p52), "%s_52", path);
	lfd = unix_listen(p52);
	CHECK(lfd >= 0);
	fd = guest_connects(lfd);
	CHECK(fd >= 0);
	/* len larger than the buffer; wrong CIDs; a short header: dropped, no reply. */
	k = gpkt(1234, 52, VSOCK_OP_RW);
	k.len = 4096;
	CHECK(send_raw(&k, "abc", 3, VSOCK_HDR_SIZE + 3, false) == 0);
	k.len = 0xffffffffu;
	CHECK(send_raw(&k, "abc", 3, VSOCK_HDR_SIZE + 3, true) == 0);
	k = gpkt(1234, 52, VSOCK_OP_RW);
	k.dst_cid = 5;
	CHECK(send_pkt(k, "abc", 3) == 0);
	k = gpkt(1234, 52, VSOCK_OP_RW);
	k.src_cid = 3;
	CHECK(send_pkt(k, "abc", 3) == 0);
	k = gpkt(1234, 52, VSOCK_OP_RW);
	CHECK(send_raw(&k, NULL, 0, 20, false) == 0);
	CHECK(recv_pkt(&k, 200) < 0);
	CHECK(virtio_dev_running(vdev()));
	/* An unknown type or op to no connection: reset. */
	k = gpkt(1, 2, 99);
	CHECK(send_pkt(k, NULL, 0) == 0);
	CHECK(recv_pkt(&k, 5000) == 0);
	CHECK_EQ(k.op, VSOCK_OP_RST);
	k = gpkt(1, 2, VSOCK_OP_REQUEST);
	k.type = 2; /* SEQPACKET: not offered */
	CHECK(send_pkt(k, NULL, 0) == 0);
	CHECK(recv_pkt(&k, 5000) == 0);
	CHECK_EQ(k.op, VSOCK_OP_RST);
	/* An unknown op on the connection resets it on both sides. */
	CHECK(send_pkt(gpkt(1234, 52, 42), NULL, 0) == 0);
	CHECK(recv_pkt(&k, 5000) == 0);
	CHECK_EQ(k.op, VSOCK_OP_RST);
	CHECK_EQ(k.src_port, 52);
	CHECK(host_eof(fd));
	close(fd);
	/* Beyond the credit we advertised: the host does not read, the guest keeps
	 * sending 4 KiB packets ignoring our buf_alloc; the connection is reset before the
	 * device buffers more than VSOCK_BUF_ALLOC. */
	fd = guest_connects(lfd);
	CHECK(fd >= 0);
	int rcv = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	static uint8_t junk[4096];
	bool reset = false;
	for (unsigned i = 0; i < 2 * VSOCK_BUF_ALLOC / sizeof(junk) + 512 && !reset; i++) {
		CHECK(send_pkt(gpkt(1234, 52, VSOCK_OP_RW), junk, sizeof(junk)) == 0);
		while (!reset && recv_pkt(&k, 0) == 0)
			reset = k.op == VSOCK_OP_RST;
	}
	for (unsigned i = 0; i < 20 && !reset; i++)
		reset = recv_pkt(&k, 250) == 0 && k.op == VSOCK_OP_RST;
	CHECK(reset);
	CHECK(host_eof(fd));
	close(fd);
	/* A chain the walker refuses: the device needs a reset, the host carries on. */
	struct vd_buf b = {.gpa = 0x1000, .len = 64};
	vd_post(&drv, TXQ, &b, 1);
	vd_kick(&drv, TXQ);
	VD_WAIT(vd_rd(&drv, 0x070) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 5000);
	CHECK(vd_rd(&drv, 0x070) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	(void)buf;
	close(lfd);
	stop();
	return 0;
}

/* Device reset and snapshot load both drop every connection; a load also tells the
 * guest with a TRANSPORT_RESET event. */
static int reset_and_load(void)
{
	char p52[160];
	struct sbuf sb = {0};
	struct sreader rd;
	struct vd_buf ev;
	uint32_t id, len, evid;
	int lfd, fd;

	CHECK(start() == 0);
	snprintf(p52, sizeof(p52), "%s_52", path);
	lfd = unix_listen(p52);
	CHECK(lfd >= 0);
	fd = guest_connects(lfd);
	CHECK(fd >= 0);
	vd_wr(&drv, 0x070, 0); /* driver reset */
	CHECK(host_eof(fd));
	close(fd);
	CHECK(vd_init(&drv, 0, 3) & VIRTIO_STATUS_DRIVER_OK);
	post_rx(16);
	fd = guest_connects(lfd);
	CHECK(fd >= 0);
	ev = (struct vd_buf){.gpa = vd_alloc(&drv), .len = 8, .writable = true};
	vd_post(&drv, EVQ, &ev, 1);
	vd_kick(&drv, EVQ);
	CHECK(!vd_used(&drv, EVQ, 100, &id, &len)); /* no event yet */
	CHECK(dev->ops->save(dev, &sb) == 0);
	sreader_init(&rd, sb.data, sb.len);
	CHECK(dev->ops->load(dev, &rd) == 0);
	CHECK(host_eof(fd));
	close(fd);
	CHECK(vd_used(&drv, EVQ, 5000, &id, &len));
	CHECK_EQ(len, 4);
	memcpy(&evid, vd_ptr(&drv, ev.gpa, 4), 4);
	CHECK_EQ(evid, VSOCK_EVENT_TRANSPORT_RESET);
	/* A record for another CID is refused. */
	sb.data[sb.len - 8] ^= 1;
	sreader_init(&rd, sb.data, sb.len);
	CHECK(dev->ops->load(dev, &rd) == -EINVAL);
	sbuf_fini(&sb);
	/* The device still works after the load. */
	fd = guest_connects(lfd);
	CHECK(fd >= 0);
	close(fd);
	close(lfd);
	stop();
	return 0;
}

static int config_and_args(void)
{
	const struct device_type *t = device_type_find_option("vsock");
	struct board b;
	struct vdriver v2;
	struct device *d2;
	char err[256], arg[200], cfgpath[160];
	uint64_t cid;

	CHECK(start() == 0);
	cid = vd_rd(&drv, 0x100) | (uint64_t)vd_rd(&drv, 0x104) << 32;
	CHECK_EQ(cid, CID);
	CHECK_EQ(vd_rd(&drv, 0x008), 19);
	/* PATH is in use by this device: a second one refuses it. */
	CHECK(t != NULL);
	CHECK(vd_board(&v2, &b, loop, 1 << 20) == 0);
	snprintf(arg, sizeof(arg), "3,%s", path);
	err[0] = 0;
	CHECK_EQ(t->create(&b, arg, &d2, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "in use") != NULL);
	gmem_fini(&v2.mem);
	stop();
	/* After the device is gone, its socket file is too; a stale socket is replaced. */
	CHECK(vd_board(&v2, &b, NULL, 1 << 20) == 0);
	CHECK(evloop_create(&b.loop) == 0);
	snprintf(dir, sizeof(dir), "/tmp/lodge-vsock-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(cfgpath, sizeof(cfgpath), "%s/v.sock", dir);
	int stale = unix_listen(cfgpath);
	CHECK(stale >= 0);
	close(stale); /* the file stays, nobody listens */
	snprintf(arg, sizeof(arg), "cid=4,path=%s", cfgpath);
	CHECK_EQ(t->create(&b, arg, &d2, err, sizeof(err)), 0);
	d2->ops->destroy(d2);
	struct stat st;
	CHECK(stat(cfgpath, &st) < 0);
	/* Bad arguments: one clear line each. */
	static const struct {
		const char *pre, *post, *want;
		bool path;
	} bad[] = {
		{"2,", "", "out of range", true},
		{"4294967295,", "", "out of range", true},
		{"x3,", "", "not a number", true},
		{"-5,", "", "not a number", true},
		{"", "", "expected CID,PATH", false},
		{"3", "", "expected CID,PATH", false},
		{"3,", ",bogus=1", "unknown option", true},
		{"3,", "/nodir/v.sock", "cannot listen", true},
	};
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(arg, sizeof(arg), "%s%s%s", bad[i].pre, bad[i].path ? cfgpath : "",
			 bad[i].post);
		err[0] = 0;
		CHECK(t->create(&b, arg, &d2, err, sizeof(err)) < 0);
		CHECK(strstr(err, bad[i].want) != NULL);
		CHECK(strchr(err, '\n') == NULL);
	}
	/* A regular file at PATH is not removed. */
	int f = open(cfgpath, O_CREAT | O_WRONLY, 0600);
	CHECK(f >= 0);
	close(f);
	snprintf(arg, sizeof(arg), "3,%s", cfgpath);
	CHECK_EQ(t->create(&b, arg, &d2, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not a socket") != NULL);
	CHECK(stat(cfgpath, &st) == 0);
	/* Too long a path. */
	memset(arg, 'a', sizeof(arg) - 1);
	arg[0] = '3', arg[1] = ',', arg[sizeof(arg) - 1] = 0;
	CHECK_EQ(t->create(&b, arg, &d2, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "too long") != NULL);
	unlink(cfgpath);
	rmdir(dir);
	evloop_destroy(b.loop);
	gmem_fini(&v2.mem);
	return 0;
}

static const struct unit_test tests[] = {
	{"guest_to_host", guest_to_host},
	{"guest_refused", guest_refused},
	{"host_to_guest_credit", host_to_guest_credit},
	{"host_refused_and_bad_commands", host_refused_and_bad_commands},
	{"hostile_packets", hostile_packets},
	{"reset_and_load", reset_and_load},
	{"config_and_args", config_and_args},
};

UNIT_MAIN("vsock", tests)
