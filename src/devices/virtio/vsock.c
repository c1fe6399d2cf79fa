/*
 * virtio-vsock (virtio 1.2, 5.10): rx (0), tx (1) and event (2) queues, stream sockets
 * only, relayed to unix sockets on the host (see vsock.h for the host-side protocol).
 *
 * Everything runs on the machine's I/O thread under the transport lock: queue work,
 * the listening socket, and one non-blocking fd watch per connection. Flow control is
 * credit based both ways (5.10.6.3): the device never sends a connection more payload
 * than the guest's buf_alloc - (tx_cnt - peer_fwd_cnt), reads a host socket only when
 * it has credit and an rx buffer to put the bytes in, and advertises VSOCK_BUF_ALLOC per
 * connection, buffering what the host socket did not take yet up to that much; a guest
 * that sends beyond its credit gets its connection reset. Packets the device owes the
 * guest (responses, credit updates, shutdowns, resets) are flags on their connection;
 * resets for packets that match no connection go through a small ring, and the tx queue
 * waits while that ring is full, so a hostile guest cannot make the device queue
 * without bound.
 *
 * A device reset may come from any thread; connections are closed on the I/O thread
 * (reset_pending, checked first by every entry point there). Connections are not part
 * of saved state: after a load the device closes them and sends the guest
 * VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, as Firecracker does after a snapshot restore.
 */
#include "devices/virtio/vsock.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/evloop.h"
#include "core/keyval.h"
#include "core/log.h"
#include "core/sbuf.h"
#include "core/util.h"
#include "devices/device.h"
#include "devices/virtio/virtio.h"

#define VSOCK_RXQ	 0u
#define VSOCK_TXQ	 1u
#define VSOCK_EVQ	 2u
#define VSOCK_QUEUE_SIZE 256u
#define VSOCK_MAX_IOV	 64u
#define VSOCK_RST_RING	 64u
#define VSOCK_CMD_MAX	 32u
#define SAVE_VERSION	 1u
/* PATH, then "_" and up to 10 digits, in a socket address. */
#define VSOCK_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 12)

/* Packets a connection owes the guest. */
#define PEND_REQUEST  1u
#define PEND_RESPONSE 2u
#define PEND_CREDIT   4u
#define PEND_SHUTDOWN 8u
#define PEND_RST      16u

struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

enum conn_state {
	CONN_CMD,	 /* a host client on PATH: its "CONNECT <port>" line is not read yet */
	CONN_CONNECTING, /* guest-initiated: connect() to PATH_<port> in progress */
	CONN_REQUESTED,	 /* host-initiated: waiting for the guest's RESPONSE */
	CONN_OPEN,
	CONN_DEAD, /* fd closed, only a reset is left to send */
};

struct vsock_dev;

struct vsock_conn {
	struct vsock_dev *vs;
	struct vsock_conn *next_pend; /* the list of connections with packets to send */
	bool queued;
	enum conn_state state;
	int fd;
	struct evloop_watch *watch;
	uint32_t local_port, peer_port; /* host side, guest side */
	uint32_t pend;			/* PEND_* */
	bool host_readable;		/* the host socket signalled data we did not read yet */
	bool host_eof, host_wr_shut, peer_shut_rcv, peer_shut_send;
	/* Host -> guest: what we sent, and the guest's receive buffer. */
	uint32_t tx_cnt, peer_buf_alloc, peer_fwd_cnt;
	/* Guest -> host: bytes taken from the guest, passed on to the host socket, and the
	 * fwd_cnt the guest last heard from us. buf holds what the socket did not take. */
	uint32_t rx_cnt, fwd_cnt, fwd_cnt_sent;
	uint8_t *buf;
	uint32_t buf_off, buf_len;
	char line[VSOCK_CMD_MAX];
	unsigned line_len;
};

struct vsock_dev {
	struct device dev;
	struct virtio_dev vdev;
	uint64_t cid;
	char path[VSOCK_PATH_MAX + 1];
	int listen_fd;
	struct evloop_watch *listen_watch;
	struct evloop_notifier *reset_notifier;
	bool reset_pending;	  /* connections must be closed (on the I/O thread) */
	bool event_reset_pending; /* TRANSPORT_RESET waits for an event buffer */
	bool tx_stalled;	  /* tx processing waits for room in the reset ring */
	bool warned;		  /* a malformed packet was logged since the last reset */
	struct vsock_conn *conns[VSOCK_MAX_CONNS];
	unsigned nconns;
	struct vsock_conn *pend_head, *pend_tail;
	struct {
		uint32_t local_port, peer_port;
	} rst[VSOCK_RST_RING];
	unsigned rst_head, rst_n;
	uint32_t next_local_port;
	struct iovec iov[VSOCK_MAX_IOV];
	uint8_t pkt[VSOCK_MAX_PKT]; /* payload bounce buffer */
};

/* ---- headers ---- */

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void hdr_encode(const struct vsock_hdr *h, uint8_t *p)
{
	put_le(p, h->src_cid, 8);
	put_le(p + 8, h->dst_cid, 8);
	put_le(p + 16, h->src_port, 4);
	put_le(p + 20, h->dst_port, 4);
	put_le(p + 24, h->len, 4);
	put_le(p + 28, h->type, 2);
	put_le(p + 30, h->op, 2);
	put_le(p + 32, h->flags, 4);
	put_le(p + 36, h->buf_alloc, 4);
	put_le(p + 40, h->fwd_cnt, 4);
}

static void hdr_decode(const uint8_t *p, struct vsock_hdr *h)
{
	h->src_cid = get_le(p, 8);
	h->dst_cid = get_le(p + 8, 8);
	h->src_port = (uint32_t)get_le(p + 16, 4);
	h->dst_port = (uint32_t)get_le(p + 20, 4);
	h->len = (uint32_t)get_le(p + 24, 4);
	h->type = (uint16_t)get_le(p + 28, 2);
	h->op = (uint16_t)get_le(p + 30, 2);
	h->flags = (uint32_t)get_le(p + 32, 4);
	h->buf_alloc = (uint32_t)get_le(p + 36, 4);
	h->fwd_cnt = (uint32_t)get_le(p + 40, 4);
}

/* A header from the host end of `local`/`peer` to the guest. */
static struct vsock_hdr host_hdr(const struct vsock_dev *vs, uint32_t local, uint32_t peer,
				 uint16_t op)
{
	return (struct vsock_hdr){.src_cid = VSOCK_HOST_CID,
				  .dst_cid = vs->cid,
				  .src_port = local,
				  .dst_port = peer,
				  .type = VSOCK_TYPE_STREAM,
				  .op = op,
				  .buf_alloc = VSOCK_BUF_ALLOC};
}

static void bad_packet(struct vsock_dev *vs, const char *why)
{
	if (!vs->warned)
		virtio_dev_warn(&vs->vdev, "dropped a packet from the guest: %s", why);
	vs->warned = true;
}

/* ---- connections ---- */

static struct vsock_conn *conn_find(struct vsock_dev *vs, uint32_t local, uint32_t peer)
{
	for (unsigned i = 0; i < vs->nconns; i++) {
		struct vsock_conn *c = vs->conns[i];
		if (c->state != CONN_CMD && c->local_port == local && c->peer_port == peer)
			return c;
	}
	return NULL;
}

static uint32_t peer_credit(const struct vsock_conn *c)
{
	uint32_t inflight = c->tx_cnt - c->peer_fwd_cnt;

	return inflight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - inflight;
}

static bool wants_host_data(const struct vsock_conn *c)
{
	return c->state == CONN_OPEN && !c->host_eof && !c->peer_shut_rcv && peer_credit(c) > 0;
}

static bool has_work(const struct vsock_conn *c)
{
	return c->pend || (c->host_readable && wants_host_data(c));
}

static void enqueue(struct vsock_dev *vs, struct vsock_conn *c)
{
	if (c->queued || !has_work(c))
		return;
	c->queued = true;
	c->next_pend = NULL;
	if (vs->pend_tail)
		vs->pend_tail->next_pend = c;
	else
		vs->pend_head = c;
	vs->pend_tail = c;
}

static void unqueue(struct vsock_dev *vs, struct vsock_conn *c)
{
	struct vsock_conn **pp = &vs->pend_head, *prev = NULL;

	if (!c->queued)
		return;
	while (*pp && *pp != c) {
		prev = *pp;
		pp = &(*pp)->next_pend;
	}
	if (*pp)
		*pp = c->next_pend;
	if (vs->pend_tail == c)
		vs->pend_tail = prev;
	c->queued = false;
	c->next_pend = NULL;
}

static void update_watch(struct vsock_conn *c)
{
	short ev = 0;

	if (!c->watch)
		return;
	switch (c->state) {
	case CONN_CMD:
		ev = POLLIN;
		break;
	case CONN_CONNECTING:
		ev = POLLOUT;
		break;
	case CONN_OPEN:
		if (wants_host_data(c) && !c->host_readable)
			ev |= POLLIN;
		if (c->buf_len)
			ev |= POLLOUT;
		break;
	default:
		break;
	}
	evloop_watch_set(c->watch, ev);
}

static void close_fd(struct vsock_conn *c)
{
	evloop_watch_del(c->watch);
	c->watch = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void conn_free(struct vsock_dev *vs, struct vsock_conn *c)
{
	unqueue(vs, c);
	for (unsigned i = 0; i < vs->nconns; i++) {
		if (vs->conns[i] == c) {
			vs->conns[i] = vs->conns[--vs->nconns];
			break;
		}
	}
	close_fd(c);
	core_free(c->buf);
	core_free(c);
}

/* Closes the host side and leaves a reset for the guest to be sent. */
static void conn_kill(struct vsock_dev *vs, struct vsock_conn *c)
{
	if (c->state == CONN_CMD) {
		conn_free(vs, c);
		return;
	}
	close_fd(c);
	c->state = CONN_DEAD;
	c->pend = PEND_RST;
	c->host_readable = false;
	enqueue(vs, c);
}

static void close_all(struct vsock_dev *vs)
{
	while (vs->nconns)
		conn_free(vs, vs->conns[vs->nconns - 1]);
	vs->pend_head = vs->pend_tail = NULL;
	vs->rst_n = 0;
	vs->reset_pending = false;
}

static void fd_event(void *opaque, int fd, unsigned revents);

static int conn_new(struct vsock_dev *vs, int fd, enum conn_state state, struct vsock_conn **out)
{
	struct vsock_conn *c;
	int r;

	if (vs->nconns == VSOCK_MAX_CONNS)
		return -ENOSPC;
	c = core_calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->vs = vs;
	c->fd = fd;
	c->state = state;
	r = evloop_watch_add(vs->vdev.loop, fd, 0, fd_event, c, &c->watch);
	if (r < 0) {
		core_free(c);
		return r;
	}
	vs->conns[vs->nconns++] = c;
	update_watch(c);
	*out = c;
	return 0;
}

/* A reset for a packet that matches no connection. */
static void rst_queue(struct vsock_dev *vs, uint32_t local, uint32_t peer)
{
	unsigned i;

	if (vs->rst_n == VSOCK_RST_RING)
		return; /* cannot happen: tx processing stops while the ring is full */
	i = (vs->rst_head + vs->rst_n++) % VSOCK_RST_RING;
	vs->rst[i].local_port = local;
	vs->rst[i].peer_port = peer;
}

/* Guest -> host bytes: writes what is buffered to the host socket. */
static void flush_buf(struct vsock_dev *vs, struct vsock_conn *c)
{
	while (c->buf_len) {
		ssize_t n =
			send(c->fd, c->buf + c->buf_off, c->buf_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				conn_kill(vs, c);
			if (errno != EINTR)
				return;
			continue;
		}
		c->buf_off += (uint32_t)n;
		c->buf_len -= (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	c->buf_off = 0;
}

/* After guest -> host progress: credit updates, half and full close. */
static void after_progress(struct vsock_dev *vs, struct vsock_conn *c)
{
	if (c->state != CONN_OPEN)
		return;
	/* Tell the guest about freed buffer space before it could run out of credit. */
	if (c->fwd_cnt - c->fwd_cnt_sent >= VSOCK_BUF_ALLOC / 4)
		c->pend |= PEND_CREDIT;
	if (c->peer_shut_send && !c->buf_len) {
		if (!c->host_wr_shut)
			shutdown(c->fd, SHUT_WR);
		c->host_wr_shut = true;
		if (c->host_eof || c->peer_shut_rcv) {
			conn_kill(vs, c); /* both directions are done */
			return;
		}
	}
	update_watch(c);
	enqueue(vs, c);
}

/* ---- guest -> host (tx queue) ---- */

static void guest_data(struct vsock_dev *vs, struct vsock_conn *c, const struct virtq_elem *e,
		       uint32_t len)
{
	uint32_t off = 0;

	if (c->peer_shut_send || c->buf_len + len > VSOCK_BUF_ALLOC) {
		conn_kill(vs, c); /* data after shutdown, or more than its credit */
		return;
	}
	if (!len)
		return;
	virtq_copy_from_out(e, VSOCK_HDR_SIZE, vs->pkt, len);
	c->rx_cnt += len;
	if (!c->buf_len) {
		ssize_t n = send(c->fd, vs->pkt, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			conn_kill(vs, c);
			return;
		}
		off = n > 0 ? (uint32_t)n : 0;
		c->fwd_cnt += off;
	}
	if (off < len) {
		if (!c->buf) {
			c->buf = core_alloc(VSOCK_BUF_ALLOC);
			if (!c->buf) {
				conn_kill(vs, c);
				return;
			}
		}
		if (c->buf_off + c->buf_len + (len - off) > VSOCK_BUF_ALLOC) {
			memmove(c->buf, c->buf + c->buf_off, c->buf_len);
			c->buf_off = 0;
		}
		memcpy(c->buf + c->buf_off + c->buf_len, vs->pkt + off, len - off);
		c->buf_len += len - off;
	}
	after_progress(vs, c);
}

/* A guest REQUEST to host port hdr->dst_port: connect to PATH_<port>. */
static void guest_connect(struct vsock_dev *vs, const struct vsock_hdr *h)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct vsock_conn *c;
	int fd, r;

	if (conn_find(vs, h->dst_port, h->src_port) || vs->nconns == VSOCK_MAX_CONNS)
		goto refuse;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%" PRIu32, vs->path, h->dst_port);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto refuse;
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (r < 0 && errno != EINPROGRESS) {
		close(fd);
		goto refuse;
	}
	if (conn_new(vs, fd, r == 0 ? CONN_OPEN : CONN_CONNECTING, &c) < 0) {
		close(fd);
		goto refuse;
	}
	c->local_port = h->dst_port;
	c->peer_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (r == 0)
		c->pend |= PEND_RESPONSE;
	update_watch(c);
	enqueue(vs, c);
	return;
refuse:
	rst_queue(vs, h->dst_port, h->src_port);
}

/* The guest accepted a host-initiated connection. */
static void guest_accepted(struct vsock_dev *vs, struct vsock_conn *c)
{
	char ok[24];
	int n = snprintf(ok, sizeof(ok), "OK %" PRIu32 "\n", c->local_port);

	c->state = CONN_OPEN;
	/* The first bytes on a fresh socket: its buffer has room. */
	if (send(c->fd, ok, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
		conn_kill(vs, c);
		return;
	}
	update_watch(c);
	enqueue(vs, c);
}

static void conn_packet_in(struct vsock_dev *vs, struct vsock_conn *c, const struct vsock_hdr *h,
			   const struct virtq_elem *e)
{
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case VSOCK_OP_RESPONSE:
		if (c->state == CONN_REQUESTED)
			guest_accepted(vs, c);
		else
			conn_kill(vs, c);
		return;
	case VSOCK_OP_RST:
		conn_free(vs, c);
		return;
	case VSOCK_OP_SHUTDOWN:
		c->peer_shut_rcv |= (h->flags & VSOCK_SHUTDOWN_RCV) != 0;
		c->peer_shut_send |= (h->flags & VSOCK_SHUTDOWN_SEND) != 0;
		after_progress(vs, c);
		return;
	case VSOCK_OP_RW:
		if (c->state == CONN_OPEN)
			guest_data(vs, c, e, h->len);
		else
			conn_kill(vs, c);
		return;
	case VSOCK_OP_CREDIT_UPD:
		break;
	case VSOCK_OP_CREDIT_REQ:
		c->pend |= PEND_CREDIT;
		break;
	default:
		conn_kill(vs, c); /* REQUEST on an existing connection, unknown ops */
		return;
	}
	update_watch(c); /* the guest's credit may have grown */
	enqueue(vs, c);
}

static void tx_packet(struct vsock_dev *vs, const struct virtq_elem *e)
{
	uint8_t raw[VSOCK_HDR_SIZE];
	struct vsock_hdr h;
	struct vsock_conn *c;

	if (e->out_len < VSOCK_HDR_SIZE || e->n_in) {
		bad_packet(vs, "shorter than a header, or with device-writable buffers");
		return;
	}
	virtq_copy_from_out(e, 0, raw, sizeof(raw));
	hdr_decode(raw, &h);
	if (h.src_cid != vs->cid || h.dst_cid != VSOCK_HOST_CID) {
		bad_packet(vs, "wrong source or destination CID");
		return;
	}
	if (h.len > e->out_len - VSOCK_HDR_SIZE || h.len > VSOCK_MAX_PKT) {
		bad_packet(vs, "payload length larger than its buffer");
		return;
	}
	if (h.type != VSOCK_TYPE_STREAM) {
		if (h.op != VSOCK_OP_RST)
			rst_queue(vs, h.dst_port, h.src_port);
		return;
	}
	if (h.op == VSOCK_OP_REQUEST && !conn_find(vs, h.dst_port, h.src_port)) {
		guest_connect(vs, &h);
		return;
	}
	c = conn_find(vs, h.dst_port, h.src_port);
	if (!c) {
		if (h.op != VSOCK_OP_RST)
			rst_queue(vs, h.dst_port, h.src_port);
		return;
	}
	if (c->state == CONN_DEAD) {
		if (h.op == VSOCK_OP_RST)
			conn_free(vs, c); /* both sides reset: nothing left to say */
		return;
	}
	conn_packet_in(vs, c, &h, e);
}

static void tx_process(struct vsock_dev *vs)
{
	struct virtio_dev *d = &vs->vdev;
	struct virtq *q = &d->vq[VSOCK_TXQ];
	bool pushed = false;

	for (;;) {
		struct virtq_elem e = {.cap = VSOCK_MAX_IOV, .iov = vs->iov};
		int r;

		if (vs->rst_n == VSOCK_RST_RING) {
			vs->tx_stalled = true; /* resumes when rx delivered some resets */
			break;
		}
		r = virtq_pop(q, d->mem, &e);
		if (r == 0)
			break;
		if (r < 0) {
			virtio_dev_fail(d, "malformed descriptor chain on the tx queue");
			break;
		}
		tx_packet(vs, &e);
		virtq_push(q, d->mem, &e, 0);
		pushed = true;
	}
	if (pushed)
		virtio_dev_notify_used(d, VSOCK_TXQ);
}

/* ---- host -> guest (rx queue) ---- */

static uint32_t put_packet(struct vsock_dev *vs, const struct virtq_elem *e, struct vsock_hdr *h,
			   const void *payload)
{
	uint8_t raw[VSOCK_HDR_SIZE];

	hdr_encode(h, raw);
	virtq_copy_to_in(e, 0, raw, sizeof(raw));
	if (h->len)
		virtq_copy_to_in(e, VSOCK_HDR_SIZE, payload, h->len);
	(void)vs;
	return VSOCK_HDR_SIZE + h->len;
}

/* Reads host bytes into one RW packet; 0 when there was nothing to send. A failed read
 * turns into a reset (h->op says so). */
static uint32_t data_packet(struct vsock_dev *vs, struct vsock_conn *c, const struct virtq_elem *e,
			    struct vsock_hdr *h)
{
	uint64_t room = e->in_len - VSOCK_HDR_SIZE;
	size_t want = VSOCK_MAX_PKT;
	ssize_t n;

	if (room < want)
		want = (size_t)room;
	if (peer_credit(c) < want)
		want = peer_credit(c);
	if (!want)
		return 0;
	n = recv(c->fd, vs->pkt, want, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		c->host_readable = false;
		update_watch(c);
		return 0;
	}
	if (n < 0) {
		h->op = VSOCK_OP_RST;
		return put_packet(vs, e, h, NULL);
	}
	if (n == 0) {
		/* The host will send no more: pass the half close on. */
		c->host_eof = true;
		c->host_readable = false;
		h->op = VSOCK_OP_SHUTDOWN;
		h->flags = VSOCK_SHUTDOWN_SEND;
		after_progress(vs, c);
		return put_packet(vs, e, h, NULL);
	}
	h->op = VSOCK_OP_RW;
	h->len = (uint32_t)n;
	c->tx_cnt += (uint32_t)n;
	return put_packet(vs, e, h, vs->pkt);
}

/* One packet for connection c into rx buffer e; 0 when c had nothing to send after all.
 * Frees c once its reset is out. */
static uint32_t conn_packet_out(struct vsock_dev *vs, struct vsock_conn *c,
				const struct virtq_elem *e)
{
	static const struct {
		uint32_t bit;
		uint16_t op;
	} ctl[] = {{PEND_RST, VSOCK_OP_RST},
		   {PEND_REQUEST, VSOCK_OP_REQUEST},
		   {PEND_RESPONSE, VSOCK_OP_RESPONSE},
		   {PEND_SHUTDOWN, VSOCK_OP_SHUTDOWN},
		   {PEND_CREDIT, VSOCK_OP_CREDIT_UPD}};
	struct vsock_hdr h = host_hdr(vs, c->local_port, c->peer_port, 0);
	uint32_t n = 0;

	h.fwd_cnt = c->fwd_cnt;
	for (unsigned i = 0; i < ARRAY_SIZE(ctl) && !n; i++) {
		if (!(c->pend & ctl[i].bit))
			continue;
		c->pend &= ~ctl[i].bit;
		h.op = ctl[i].op;
		n = put_packet(vs, e, &h, NULL);
	}
	if (!n && c->host_readable && wants_host_data(c))
		n = data_packet(vs, c, e, &h);
	if (!n)
		return 0;
	c->fwd_cnt_sent = c->fwd_cnt; /* every packet carries our fwd_cnt */
	c->pend &= ~PEND_CREDIT;
	if (h.op == VSOCK_OP_RST)
		conn_free(vs, c);
	else
		enqueue(vs, c); /* round robin: back of the list if it has more */
	return n;
}

static uint32_t rx_one(struct vsock_dev *vs, const struct virtq_elem *e)
{
	struct vsock_conn *c;

	if (vs->rst_n) {
		struct vsock_hdr h = host_hdr(vs, vs->rst[vs->rst_head].local_port,
					      vs->rst[vs->rst_head].peer_port, VSOCK_OP_RST);
		vs->rst_head = (vs->rst_head + 1) % VSOCK_RST_RING;
		vs->rst_n--;
		return put_packet(vs, e, &h, NULL);
	}
	c = vs->pend_head;
	unqueue(vs, c);
	return conn_packet_out(vs, c, e);
}

/* Sends what is owed to the guest while it has rx buffers. */
static void rx_fill(struct vsock_dev *vs)
{
	struct virtio_dev *d = &vs->vdev;
	struct virtq *q = &d->vq[VSOCK_RXQ];
	bool pushed = false;

	while (virtio_dev_running(d) && (vs->rst_n || vs->pend_head)) {
		struct virtq_elem e = {.cap = VSOCK_MAX_IOV, .iov = vs->iov};
		uint32_t n;
		int r = virtq_pop(q, d->mem, &e);

		if (r == 0)
			break;
		if (r < 0 || e.n_out || e.in_len < VSOCK_HDR_SIZE) {
			virtio_dev_fail(d, "malformed or too small buffer on the rx queue");
			break;
		}
		n = rx_one(vs, &e);
		if (!n) {
			virtq_unpop(q);
			continue;
		}
		virtq_push(q, d->mem, &e, n);
		pushed = true;
	}
	if (pushed)
		virtio_dev_notify_used(d, VSOCK_RXQ);
}

/* Everything the I/O thread does ends here: deliver, and resume a stalled tx queue. */
static void service(struct vsock_dev *vs)
{
	rx_fill(vs);
	while (vs->tx_stalled && vs->rst_n < VSOCK_RST_RING && virtio_dev_running(&vs->vdev)) {
		vs->tx_stalled = false;
		tx_process(vs);
		rx_fill(vs);
	}
}

static void event_fill(struct vsock_dev *vs)
{
	struct virtio_dev *d = &vs->vdev;
	struct virtq_elem e = {.cap = VSOCK_MAX_IOV, .iov = vs->iov};
	uint8_t ev[4];
	int r;

	if (!vs->event_reset_pending || !virtio_dev_running(d))
		return;
	r = virtq_pop(&d->vq[VSOCK_EVQ], d->mem, &e);
	if (r == 0)
		return;
	if (r < 0 || e.in_len < sizeof(ev)) {
		virtio_dev_fail(d, "malformed or too small buffer on the event queue");
		return;
	}
	put_le(ev, VSOCK_EVENT_TRANSPORT_RESET, 4);
	virtq_copy_to_in(&e, 0, ev, sizeof(ev));
	virtq_push(&d->vq[VSOCK_EVQ], d->mem, &e, sizeof(ev));
	vs->event_reset_pending = false;
	virtio_dev_notify_used(d, VSOCK_EVQ);
}

/* ---- host side ---- */

/* Reads the host client's "CONNECT <port>\n" a byte at a time, so that the bytes after it
 * stay in the socket for the guest. */
static void read_command(struct vsock_dev *vs, struct vsock_conn *c)
{
	char *end;
	unsigned long port;

	for (;;) {
		char ch;
		ssize_t n = recv(c->fd, &ch, 1, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n <= 0 || c->line_len == sizeof(c->line) - 1) {
			conn_free(vs, c);
			return;
		}
		if (ch == '\n')
			break;
		c->line[c->line_len++] = ch;
	}
	c->line[c->line_len] = 0;
	if (c->line_len && c->line[c->line_len - 1] == '\r')
		c->line[c->line_len - 1] = 0;
	if (strncmp(c->line, "CONNECT ", 8) || c->line[8] < '0' || c->line[8] > '9' ||
	    !virtio_dev_running(&vs->vdev)) {
		conn_free(vs, c);
		return;
	}
	errno = 0;
	port = strtoul(c->line + 8, &end, 10);
	if (*end || errno || port >= UINT32_MAX) {
		conn_free(vs, c);
		return;
	}
	c->peer_port = (uint32_t)port;
	do {
		c->local_port = vs->next_local_port++;
		if (vs->next_local_port >= UINT32_MAX - 1 ||
		    vs->next_local_port < VSOCK_LOCAL_PORT_BASE)
			vs->next_local_port = VSOCK_LOCAL_PORT_BASE;
	} while (conn_find(vs, c->local_port, c->peer_port));
	c->state = CONN_REQUESTED;
	c->peer_buf_alloc = 0; /* no credit until the guest answers */
	c->pend |= PEND_REQUEST;
	update_watch(c);
	enqueue(vs, c);
}

static void connect_done(struct vsock_dev *vs, struct vsock_conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		conn_kill(vs, c); /* refused: the guest gets a reset */
		return;
	}
	c->state = CONN_OPEN;
	c->pend |= PEND_RESPONSE;
	update_watch(c);
	enqueue(vs, c);
}

static void fd_event(void *opaque, int fd, unsigned revents)
{
	struct vsock_conn *c = opaque;
	struct vsock_dev *vs = c->vs;

	(void)fd;
	pthread_mutex_lock(&vs->vdev.lock);
	if (vs->reset_pending) {
		close_all(vs);
		goto out;
	}
	switch (c->state) {
	case CONN_CMD:
		read_command(vs, c);
		break;
	case CONN_CONNECTING:
		connect_done(vs, c);
		break;
	case CONN_OPEN:
		if (revents & POLLOUT || (revents & (POLLERR | POLLHUP) && c->buf_len)) {
			flush_buf(vs, c);
			after_progress(vs, c);
		}
		if (c->state == CONN_OPEN && revents & (POLLIN | POLLHUP | POLLERR) &&
		    wants_host_data(c)) {
			c->host_readable = true;
			update_watch(c);
			enqueue(vs, c);
		}
		break;
	default:
		break;
	}
	service(vs);
out:
	pthread_mutex_unlock(&vs->vdev.lock);
}

static void listen_event(void *opaque, int fd, unsigned revents)
{
	struct vsock_dev *vs = opaque;

	(void)revents;
	pthread_mutex_lock(&vs->vdev.lock);
	if (vs->reset_pending)
		close_all(vs);
	for (;;) {
		struct vsock_conn *c;
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			break;
		if (conn_new(vs, cfd, CONN_CMD, &c) < 0) {
			close(cfd); /* too many connections: the client sees EOF */
			continue;
		}
		read_command(vs, c); /* the line may already be there */
	}
	service(vs);
	pthread_mutex_unlock(&vs->vdev.lock);
}

static void reset_event(void *opaque)
{
	struct vsock_dev *vs = opaque;

	pthread_mutex_lock(&vs->vdev.lock);
	if (vs->reset_pending)
		close_all(vs);
	pthread_mutex_unlock(&vs->vdev.lock);
}

/* ---- virtio ops ---- */

static struct vsock_dev *to_vs(struct virtio_dev *d)
{
	return container_of(d, struct vsock_dev, vdev);
}

static void vs_config_read(struct virtio_dev *d, uint32_t off, void *buf, unsigned len)
{
	uint8_t cfg[8];

	put_le(cfg, to_vs(d)->cid, 8);
	memcpy(buf, cfg + off, len); /* the transport checked off + len <= 8 */
}

static void vs_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct vsock_dev *vs = to_vs(d);

	if (vs->reset_pending)
		close_all(vs);
	if (q == VSOCK_TXQ)
		tx_process(vs);
	else if (q == VSOCK_EVQ)
		event_fill(vs);
	service(vs);
}

/* Any thread, lock held: connections are closed on the I/O thread. */
static void vs_vreset(struct virtio_dev *d)
{
	struct vsock_dev *vs = to_vs(d);

	vs->reset_pending = true;
	vs->event_reset_pending = false;
	vs->tx_stalled = false;
	vs->warned = false;
	evloop_notify(vs->reset_notifier);
}

static int vs_save(struct virtio_dev *d, struct sbuf *out)
{
	sbuf_put_u32(out, SAVE_VERSION);
	sbuf_put_u64(out, to_vs(d)->cid);
	return 0;
}

static int vs_load(struct virtio_dev *d, struct sreader *in)
{
	struct vsock_dev *vs = to_vs(d);

	if (sread_u32(in) != SAVE_VERSION || sread_u64(in) != vs->cid)
		return -EINVAL;
	/* Host connections do not survive a snapshot: tell the guest to drop its own. */
	vs->reset_pending = true;
	vs->tx_stalled = false;
	evloop_notify(vs->reset_notifier);
	vs->event_reset_pending = true;
	virtio_dev_kick(d, VSOCK_EVQ);
	return 0;
}

static const struct virtio_dev_ops vsock_vops = {
	.device_id = VIRTIO_ID_VSOCK,
	.config_read = vs_config_read,
	.queue_notify = vs_queue_notify,
	.reset = vs_vreset,
	.save = vs_save,
	.load = vs_load,
};

/* ---- device ---- */

static struct vsock_dev *dev_to_vs(struct device *dev)
{
	return container_of(dev, struct vsock_dev, dev);
}

static void vsock_reset(struct device *dev)
{
	virtio_dev_reset(&dev_to_vs(dev)->vdev);
}

static int vsock_save(struct device *dev, struct sbuf *out)
{
	return virtio_dev_save(&dev_to_vs(dev)->vdev, out);
}

static int vsock_load(struct device *dev, struct sreader *in)
{
	struct virtio_dev *d = &dev_to_vs(dev)->vdev;
	int r = virtio_dev_load(d, in);

	if (!r)
		virtio_dev_kick_all(d); /* requests made available while quiesced */
	return r;
}

static int vsock_fdt(struct device *dev, void *fdt, const struct board *b)
{
	return virtio_dev_fdt(&dev_to_vs(dev)->vdev, fdt, b);
}

/* The I/O loop no longer runs. */
static void vsock_destroy(struct device *dev)
{
	struct vsock_dev *vs = dev_to_vs(dev);

	close_all(vs);
	evloop_watch_del(vs->listen_watch);
	close(vs->listen_fd);
	unlink(vs->path);
	evloop_notifier_del(vs->reset_notifier);
	virtio_dev_fini(&vs->vdev);
	core_free(vs);
}

static const struct device_ops vsock_ops = {
	.reset = vsock_reset,
	.save = vsock_save,
	.load = vsock_load,
	.fdt = vsock_fdt,
	.destroy = vsock_destroy,
};

/* Creates the listening socket at path; a socket file nobody listens on is removed. */
static int open_listener(const char *path, int *fd_out, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, r;

	strcpy(sa.sun_path, path); /* the caller checked the length */
	if (lstat(path, &st) == 0) {
		int probe;
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen,
				 "vsock: '%s' exists and is not a socket (choose another PATH)",
				 path);
			return -EINVAL;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0)
			return -errno;
		r = connect(probe, (struct sockaddr *)&sa, sizeof(sa));
		close(probe);
		if (r == 0) {
			snprintf(err, errlen,
				 "vsock: '%s' is in use by another program (choose another PATH)",
				 path);
			return -EINVAL;
		}
		unlink(path); /* a stale socket from an earlier run */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		r = -errno;
		snprintf(err, errlen, "vsock: cannot listen on '%s': %s", path, strerror(-r));
		close(fd);
		return r;
	}
	*fd_out = fd;
	return 0;
}

int vsock_create(struct board *b, uint64_t cid, const char *path, struct device **out, char *err,
		 size_t errlen)
{
	struct vsock_dev *vs;
	int r;

	if (cid < 3 || cid >= UINT32_MAX) {
		snprintf(err, errlen,
			 "vsock: CID %" PRIu64 " is out of range (use 3 to 4294967294)", cid);
		return -EINVAL;
	}
	/* PATH_<port> must fit a socket address too. */
	if (!*path || strlen(path) > VSOCK_PATH_MAX) {
		snprintf(err, errlen,
			 "vsock: socket path '%s' is empty or too long (at most %zu characters)",
			 path, VSOCK_PATH_MAX);
		return -EINVAL;
	}
	vs = core_calloc(1, sizeof(*vs));
	if (!vs)
		return -ENOMEM;
	vs->cid = cid;
	vs->next_local_port = VSOCK_LOCAL_PORT_BASE;
	snprintf(vs->path, sizeof(vs->path), "%s", path);
	r = open_listener(path, &vs->listen_fd, err, errlen);
	if (r < 0)
		goto err_free;
	r = virtio_dev_init(&vs->vdev, &vsock_vops, "virtio-vsock", b, 0, 3, VSOCK_QUEUE_SIZE, 8);
	if (r < 0)
		goto err_close;
	r = evloop_notifier_add(b->loop, reset_event, vs, &vs->reset_notifier);
	if (r < 0)
		goto err_fini;
	r = evloop_watch_add(b->loop, vs->listen_fd, POLLIN, listen_event, vs, &vs->listen_watch);
	if (r < 0)
		goto err_notifier;
	vs->dev.ops = &vsock_ops;
	snprintf(vs->dev.name, sizeof(vs->dev.name), "virtio-vsock");
	*out = &vs->dev;
	return 0;
err_notifier:
	evloop_notifier_del(vs->reset_notifier);
err_fini:
	virtio_dev_fini(&vs->vdev);
err_close:
	close(vs->listen_fd);
	unlink(path);
err_free:
	core_free(vs);
	return r;
}

/* CID,PATH or cid=CID,path=PATH: both, or -EINVAL with one line in err. */
static int get_cid_path(struct keyval *a, const char **cid_s, const char **path, char *err,
			size_t errlen)
{
	unsigned nbare;

	*cid_s = keyval_get(a, "cid", 0);
	nbare = *cid_s ? 0 : 1;
	if (!*cid_s)
		*cid_s = keyval_get(a, "", 0);
	*path = keyval_get(a, "path", 0) ?: keyval_get(a, "", nbare);
	if (*cid_s && *path)
		return 0;
	snprintf(err, errlen, "vsock: expected CID,PATH (for example --vsock 3,/tmp/v.sock)");
	return -EINVAL;
}

static int vsock_type_create(struct board *b, const char *args, struct device **out, char *err,
			     size_t errlen)
{
	struct keyval a;
	const char *cid_s, *path;
	char *end;
	unsigned long long cid;
	int r;

	r = keyval_parse(&a, args, err, errlen);
	if (r < 0)
		return r;
	r = get_cid_path(&a, &cid_s, &path, err, errlen);
	if (r)
		goto out;
	r = -EINVAL;
	errno = 0;
	cid = strtoull(cid_s, &end, 10);
	if (*end || !*cid_s || errno || *cid_s == '-') {
		snprintf(err, errlen, "vsock: CID '%s' is not a number (use 3 to 4294967294)",
			 cid_s);
		goto out;
	}
	r = keyval_check_unused(&a, "vsock", err, errlen);
	if (r == 0)
		r = vsock_create(b, cid, path, out, err, errlen);
out:
	keyval_fini(&a);
	return r;
}

/* PATH: the socket the host connects to, made there; guest connections reach PATH_P. */
static int vsock_host_names(const char *args, device_host_fn fn, void *ctx, char *err,
			    size_t errlen)
{
	struct keyval a;
	const char *cid_s, *path;
	int r = keyval_parse(&a, args, err, errlen);

	if (r < 0)
		return r;
	r = get_cid_path(&a, &cid_s, &path, err, errlen);
	r = r ?: fn(ctx, DEVICE_HOST_SOCKET, "path", path);
	keyval_fini(&a);
	return r;
}

static const struct device_type vsock_type = {
	.name = "virtio-vsock",
	.option = "vsock",
	.usage = "CID,PATH",
	.help = "vsock device: host connects via unix socket PATH (\"CONNECT <port>\"), guest "
		"connections to port P reach PATH_P",
	.order = 60,
	.create = vsock_type_create,
	.host_names = vsock_host_names,
};
DEVICE_TYPE(vsock_type)
