/*
 * virtio-net (virtio 1.2, 5.1) in front of a network backend (net/net.h). Receive queue
 * 0, transmit queue 1, no control queue. Offered: MAC, STATUS (link always up),
 * MRG_RXBUF, and offloads:
 * - when the backend passes virtio headers through (tap), checksum and TCP segmentation
 *   offloads both ways (CSUM, HOST_TSO4/6/ECN, GUEST_CSUM, GUEST_TSO4/6/ECN): the header
 *   goes to the backend as the guest wrote it (after checks) and comes back from it for
 *   received frames;
 * - otherwise (libslirp) the device does them in software (net/offload.h): it completes
 *   partial checksums and turns TCPv4 super-frames into packets (CSUM, HOST_TSO4/ECN):
 *   for a backend that is a TCP endpoint itself (big_segments) one 64 KiB packet, which
 *   it then acknowledges once; and it tells the driver that the backend's own frames
 *   need no checksum check (GUEST_CSUM, DATA_VALID). The emulated guest, whose cycles
 *   are the scarce ones, does less per byte.
 *
 * Transmit: a kick runs the queue on the I/O thread; each chain is one frame behind a
 * 12-byte header, laid out any way (5.1.6.2); the frame is copied out of guest RAM
 * before anything looks at it and handed to the backend. Frames without a header, too
 * short or too long, or with offload requests the driver did not negotiate are dropped;
 * a malformed chain sets DEVICE_NEEDS_RESET. At most TX_BUDGET frames per turn.
 *
 * Receive: the backend delivers frames on the I/O thread. A frame takes one buffer, or
 * with MRG_RXBUF as many as it needs, all published to the driver at once. When the
 * guest has posted too little, the frame goes back to the backend (-EAGAIN), which holds
 * it until the guest's next receive-queue kick (rx_waiting).
 *
 * Rate limiting (core/tbucket.h, Firecracker's semantics), one limiter per direction:
 * a frame takes a packet and its bytes (the Ethernet frame, without the virtio header).
 * A transmit chain the limiter refuses goes back on the ring; a received frame goes back
 * to the backend (-EAGAIN, as when the guest posted too little). Either direction then
 * waits on an evloop timer for the time the limiter names and takes no kick meanwhile,
 * so a throttled queue never spins. The limiters' state is not saved.
 *
 * Locking: the virtio lock guards everything below. One subtlety: the backend may call
 * back into receive() from inside send() (slirp answers ARP and DHCP at once), which
 * happens inside queue_notify with the lock already held; `in_notify` (touched only by
 * the I/O thread) tells receive() not to take it again.
 */
#include "devices/virtio/net.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/bus.h"
#include "core/evloop.h"
#include "core/gmem.h"
#include "core/keyval.h"
#include "core/log.h"
#include "core/sbuf.h"
#include "core/tbucket.h"
#include "core/util.h"
#include "devices/device.h"
#include "devices/virtio/virtio.h"
#include "net/net.h"
#include "net/offload.h"

#define RXQ 0
#define TXQ 1

#define HDR_LEN	     NET_VNET_HDR_LEN
#define ETH_HLEN     14
#define TX_BUDGET    256  /* frames per transmit turn before others get the I/O thread */
#define RX_IOV_POOL  2048 /* buffers of all the chains one received frame may take */
#define SAVE_VERSION 1

/* Offered to every driver. */
#define BASE_FEATURES                                                                              \
	((1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) |                              \
	 (1ull << VIRTIO_NET_F_MRG_RXBUF))
/* Offered when the backend carries virtio headers (it does offloads itself). */
#define OFFLOAD_FEATURES                                                                           \
	((1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_HOST_TSO4) |                          \
	 (1ull << VIRTIO_NET_F_HOST_TSO6) | (1ull << VIRTIO_NET_F_HOST_ECN) |                      \
	 (1ull << VIRTIO_NET_F_GUEST_CSUM) | (1ull << VIRTIO_NET_F_GUEST_TSO4) |                   \
	 (1ull << VIRTIO_NET_F_GUEST_TSO6) | (1ull << VIRTIO_NET_F_GUEST_ECN))

/* Offered when the backend takes only finished frames: the device completes checksums
 * and cuts TCPv4 super-frames itself (net/offload.h), and vouches for the checksums of
 * frames the backend made (GUEST_CSUM, only with rx_csum_valid). */
#define SOFT_OFFLOAD_FEATURES                                                                      \
	((1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_HOST_TSO4) |                          \
	 (1ull << VIRTIO_NET_F_HOST_ECN))

/* struct virtio_net_hdr, host byte order. */
struct net_hdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
};

struct vnet {
	struct device dev;
	struct virtio_dev vdev;
	struct net_backend *nb;
	uint8_t mac[6];

	bool in_notify;	 /* I/O thread only: queue_notify runs, the lock is held */
	bool rx_waiting; /* the backend holds a frame until the guest posts buffers */
	bool tx_waiting; /* the backend could not take a frame: wait for send_ready */
	bool rx_pushed;	 /* receive buffers used since the last interrupt check */
	bool quiesced;	 /* no guest RAM access until resume */
	bool logged_drop;
	uint64_t rx_bytes, tx_bytes; /* Ethernet frames given to the guest and sent by it */

	/* Per queue (RXQ, TXQ): the limiter, its timer (NULL when unlimited), and whether
	 * the queue waits for that timer. */
	struct ratelimiter rl[2];
	struct evloop_timer *rl_timer[2];
	bool throttled[2];

	struct iovec tx_iov[VNET_QUEUE_SIZE];
	struct virtq_elem rx_elem[VNET_QUEUE_SIZE];
	struct iovec rx_iov[RX_IOV_POOL];
	uint8_t txbuf[HDR_LEN + NET_MAX_FRAME];
	uint8_t tso_scratch[NET_TSO_SCRATCH];
};

static struct vnet *to_vnet(struct virtio_dev *d)
{
	return container_of(d, struct vnet, vdev);
}

static bool has(const struct vnet *vn, unsigned bit)
{
	return virtio_has_feature(&vn->vdev, bit);
}

/* A frame dropped because of what the guest (or the host) sent: counted in the log once
 * per device reset, so a misbehaving guest cannot flood it. */
static void __attribute__((format(printf, 2, 3))) drop(struct vnet *vn, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!vn->logged_drop)
		log_warn("%s: frame dropped: %s (further drops are not logged)", vn->vdev.name,
			 msg);
	else
		log_debug("%s: frame dropped: %s", vn->vdev.name, msg);
	vn->logged_drop = true;
}

static void hdr_decode(const uint8_t *p, struct net_hdr *h)
{
	uint16_t v[5];

	memcpy(v, p + 2, sizeof(v));
	h->flags = p[0];
	h->gso_type = p[1];
	h->hdr_len = le16toh(v[0]);
	h->gso_size = le16toh(v[1]);
	h->csum_start = le16toh(v[2]);
	h->csum_offset = le16toh(v[3]);
	h->num_buffers = le16toh(v[4]);
}

static void hdr_encode(const struct net_hdr *h, uint8_t *p)
{
	uint16_t v[5] = {htole16(h->hdr_len), htole16(h->gso_size), htole16(h->csum_start),
			 htole16(h->csum_offset), htole16(h->num_buffers)};

	p[0] = h->flags;
	p[1] = h->gso_type;
	memcpy(p + 2, v, sizeof(v));
}

/* Whether the header's offload requests fit what was negotiated in direction `tx`
 * (HOST_* features for frames the guest sends, GUEST_* for frames it receives) and lie
 * inside the frame. Unknown flag bits are cleared (5.1.6.2.2: ignored). */
static const char *check_hdr(const struct vnet *vn, struct net_hdr *h, size_t flen, bool tx)
{
	unsigned gso = h->gso_type & (unsigned)~VIRTIO_NET_HDR_GSO_ECN;

	if (tx)
		h->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	else if (has(vn, VIRTIO_NET_F_GUEST_CSUM))
		h->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
	else
		h->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM; /* DATA_VALID is a hint: dropped */
	if (h->flags && !has(vn, tx ? VIRTIO_NET_F_CSUM : VIRTIO_NET_F_GUEST_CSUM))
		return "checksum offload not negotiated";
	if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (size_t)h->csum_start + h->csum_offset + 2 > flen)
		return "checksum position outside the frame";
	if (gso == VIRTIO_NET_HDR_GSO_NONE) {
		if (h->gso_type & VIRTIO_NET_HDR_GSO_ECN)
			return "ECN flag without segmentation";
		return NULL;
	}
	if ((gso == VIRTIO_NET_HDR_GSO_TCPV4 &&
	     !has(vn, tx ? VIRTIO_NET_F_HOST_TSO4 : VIRTIO_NET_F_GUEST_TSO4)) ||
	    (gso == VIRTIO_NET_HDR_GSO_TCPV6 &&
	     !has(vn, tx ? VIRTIO_NET_F_HOST_TSO6 : VIRTIO_NET_F_GUEST_TSO6)) ||
	    (gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6))
		return "segmentation offload not negotiated";
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
	    !has(vn, tx ? VIRTIO_NET_F_HOST_ECN : VIRTIO_NET_F_GUEST_ECN))
		return "ECN segmentation not negotiated";
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || !h->gso_size)
		return "segmentation request without a partial checksum or a segment size";
	return NULL;
}

/* ---- locking for backend callbacks ---- */

static bool lock(struct vnet *vn)
{
	if (vn->in_notify)
		return false; /* called back from inside queue_notify: already held */
	pthread_mutex_lock(&vn->vdev.lock);
	return true;
}

static void unlock(struct vnet *vn, bool locked)
{
	if (locked)
		pthread_mutex_unlock(&vn->vdev.lock);
}

/* ---- rate limiting ---- */

/* Whether queue q's limiter lets a frame of `len` bytes through now. If not, the queue
 * is throttled until its timer fires. Lock held, I/O thread. */
static bool admit(struct vnet *vn, unsigned q, size_t len)
{
	uint64_t now, retry;

	if (!vn->rl_timer[q])
		return true;
	now = evloop_now_ns();
	if (ratelimiter_consume(&vn->rl[q], len, now, &retry))
		return true;
	vn->throttled[q] = true;
	evloop_timer_arm(vn->rl_timer[q], retry > now ? retry : now + 1);
	return false;
}

/* ---- receive ---- */

static void unpop_n(struct virtq *q, unsigned n)
{
	while (n--)
		virtq_unpop(q);
}

/* Takes enough receive chains for `total` bytes into vn->rx_elem; returns how many, 0
 * when the frame was dropped (or the device failed), -EAGAIN when the guest must post
 * more first. */
static int take_buffers(struct vnet *vn, uint64_t total)
{
	struct virtio_dev *d = &vn->vdev;
	struct virtq *q = &d->vq[RXQ];
	bool mrg = has(vn, VIRTIO_NET_F_MRG_RXBUF);
	unsigned n = 0, iov_used = 0;
	uint64_t room = 0;

	while (room < total) {
		struct virtq_elem *e = &vn->rx_elem[n];
		int r;

		if ((n && !mrg) || n == q->num || n == ARRAY_SIZE(vn->rx_elem)) {
			/* Even all the buffers the guest could post would not hold it. */
			unpop_n(q, n);
			drop(vn, "%llu bytes do not fit the receive buffers",
			     (unsigned long long)total);
			return 0;
		}
		*e = (struct virtq_elem){.cap = RX_IOV_POOL - iov_used,
					 .iov = vn->rx_iov + iov_used};
		r = virtq_pop(q, d->mem, e);
		if (r == 0) {
			/* Out of buffers: ask for a kick, then look again (one may have come
			 * before the driver saw the request). */
			virtq_set_notify(q, true);
			if (virtq_has_avail(q))
				continue;
			unpop_n(q, n);
			return -EAGAIN;
		}
		if (r == -E2BIG && e->cap < VNET_QUEUE_SIZE) {
			unpop_n(q, n); /* our pool ran out, not the guest's fault */
			drop(vn, "receive buffers too fragmented");
			return 0;
		}
		if (r < 0) {
			unpop_n(q, n);
			virtio_dev_fail(d, "receive queue: malformed descriptor chain");
			return 0;
		}
		if (e->in_len < (n ? 1u : HDR_LEN)) {
			unpop_n(q, n + 1);
			virtio_dev_fail(d, "receive buffer of %llu bytes is too small",
					(unsigned long long)e->in_len);
			return 0;
		}
		iov_used += e->n_out + e->n_in;
		room += e->in_len;
		n++;
	}
	return (int)n;
}

/* Copies header and frame into the chains taken and publishes them together. */
static void fill_buffers(struct vnet *vn, unsigned n, struct net_hdr *h, const uint8_t *frame,
			 size_t flen)
{
	struct virtio_dev *d = &vn->vdev;
	struct virtq *q = &d->vq[RXQ];
	uint8_t hb[HDR_LEN];
	size_t off = 0;

	h->num_buffers = (uint16_t)n;
	hdr_encode(h, hb);
	virtq_copy_to_in(&vn->rx_elem[0], 0, hb, HDR_LEN);
	for (unsigned i = 0; i < n; i++) {
		const struct virtq_elem *e = &vn->rx_elem[i];
		size_t skip = i ? 0 : HDR_LEN;
		uint64_t room = e->in_len - skip;
		size_t take = room < flen - off ? (size_t)room : flen - off;

		virtq_copy_to_in(e, skip, frame + off, take);
		off += take;
		if (!virtq_fill(q, d->mem, e, (uint32_t)(skip + take), i))
			return; /* the queue was reset meanwhile: nothing to publish */
	}
	virtq_flush(q, d->mem, n);
	vn->rx_pushed = true;
}

/* Lock held, device running: one frame ([header] Ethernet frame) into the guest. */
static int rx_frame(struct vnet *vn, const uint8_t *buf, size_t len)
{
	struct net_hdr h = {0};
	const char *why;
	int n;

	if (vn->nb->vnet_hdr) {
		if (len < HDR_LEN) {
			drop(vn, "backend frame without a header");
			return 0;
		}
		hdr_decode(buf, &h);
		buf += HDR_LEN;
		len -= HDR_LEN;
		why = check_hdr(vn, &h, len, false);
		if (why) {
			drop(vn, "received frame: %s", why);
			return 0;
		}
	} else if (vn->nb->rx_csum_valid && has(vn, VIRTIO_NET_F_GUEST_CSUM))
		h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	if (len < ETH_HLEN || len > NET_MAX_FRAME) {
		drop(vn, "received frame of %zu bytes", len);
		return 0;
	}
	n = take_buffers(vn, HDR_LEN + (uint64_t)len);
	if (n > 0 && !admit(vn, RXQ, len)) {
		unpop_n(&vn->vdev.vq[RXQ], (unsigned)n);
		return -EAGAIN; /* the backend holds it until the limiter's timer */
	}
	if (n > 0) {
		fill_buffers(vn, (unsigned)n, &h, buf, len);
		__atomic_fetch_add(&vn->rx_bytes, len, __ATOMIC_RELAXED);
	}
	return n < 0 ? n : 0;
}

/* net_peer.receive: a frame from the backend. */
static int vnet_receive(void *opaque, const uint8_t *buf, size_t len)
{
	struct vnet *vn = opaque;
	struct virtio_dev *d = &vn->vdev;
	bool locked = lock(vn);
	int r = 0;

	if (vn->quiesced || vn->throttled[RXQ])
		r = -EAGAIN;
	else if (virtio_dev_running(d) && d->vq[RXQ].ready)
		r = rx_frame(vn, buf, len);
	/* else: no driver (yet), the frame is lost as on a NIC that is down */
	if (r == -EAGAIN)
		vn->rx_waiting = true;
	unlock(vn, locked);
	return r;
}

/* net_peer.receive_flush: interrupt the driver once for a batch of frames. */
static void vnet_receive_flush(void *opaque)
{
	struct vnet *vn = opaque;
	bool locked = lock(vn);

	if (vn->rx_pushed) {
		vn->rx_pushed = false;
		virtio_dev_notify_used(&vn->vdev, RXQ);
	}
	unlock(vn, locked);
}

/* Lock held, in queue_notify: the guest posted receive buffers. */
static void rx_kick(struct vnet *vn)
{
	virtq_set_notify(&vn->vdev.vq[RXQ], false);
	if (vn->rx_waiting && !vn->quiesced && !vn->throttled[RXQ]) {
		vn->rx_waiting = false;
		vn->nb->ops->rx_ready(vn->nb);
	}
}

/* ---- transmit ---- */

static void tso_emit(void *opaque, const uint8_t *seg, size_t len)
{
	struct vnet *vn = opaque;

	/* Only backends whose send never says -EAGAIN get software offloads (libslirp). */
	vn->nb->ops->send(vn->nb, seg, len);
}

/* The offloads a backend without virtio headers cannot do: a partial checksum to
 * complete, or a TCPv4 super-frame to cut (check_hdr allowed only these). */
static int tx_soft_offload(struct vnet *vn, const struct net_hdr *h, size_t flen)
{
	if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		if (net_csum_complete(vn->txbuf, flen, h->csum_start, h->csum_offset) < 0) {
			drop(vn, "checksum position outside the frame");
			return 0;
		}
		return vn->nb->ops->send(vn->nb, vn->txbuf, flen);
	}
	if (net_tso_segment(vn->txbuf, flen, vn->nb->big_segments ? NET_TSO_WHOLE : h->gso_size,
			    vn->tso_scratch, tso_emit, vn) < 0)
		drop(vn, "TSO frame that is not TCP over IPv4, or a segment size below %d",
		     NET_TSO_MIN_MSS);
	return 0;
}

/* One chain from the transmit queue: returns 0 (sent or dropped) or -EAGAIN. */
static int tx_frame(struct vnet *vn, const struct virtq_elem *e)
{
	struct net_hdr h;
	uint8_t hb[HDR_LEN];
	size_t flen, off = vn->nb->vnet_hdr ? HDR_LEN : 0;
	const char *why;

	if (e->out_len < HDR_LEN + ETH_HLEN || e->out_len > HDR_LEN + NET_MAX_FRAME) {
		drop(vn, "transmit chain of %llu bytes (header and frame)",
		     (unsigned long long)e->out_len);
		return 0;
	}
	flen = (size_t)e->out_len - HDR_LEN;
	/* Copied out first: the guest may change its buffers while we look. */
	virtq_copy_from_out(e, 0, hb, HDR_LEN);
	hdr_decode(hb, &h);
	why = check_hdr(vn, &h, flen, true);
	if (why) {
		drop(vn, "transmitted frame: %s", why);
		return 0;
	}
	if (off) {
		h.num_buffers = 0;
		hdr_encode(&h, vn->txbuf);
	}
	virtq_copy_from_out(e, HDR_LEN, vn->txbuf + off, flen);
	if (!off && (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return tx_soft_offload(vn, &h, flen);
	return vn->nb->ops->send(vn->nb, vn->txbuf, off + flen);
}

/* Lock held, in queue_notify: sends what the guest queued, TX_BUDGET frames at most. */
static void tx_run(struct vnet *vn)
{
	struct virtio_dev *d = &vn->vdev;
	struct virtq *q = &d->vq[TXQ];
	bool pushed = false;

	if (vn->tx_waiting || vn->quiesced || vn->throttled[TXQ])
		return; /* send_ready, resume or the limiter's timer runs the queue again */
	virtq_set_notify(q, false);
	for (unsigned budget = TX_BUDGET;; budget--) {
		struct virtq_elem e = {.cap = VNET_QUEUE_SIZE, .iov = vn->tx_iov};
		int r;

		if (!budget) {
			virtio_dev_kick(d, TXQ); /* the rest in a later turn */
			break;
		}
		r = virtq_pop(q, d->mem, &e);
		if (r == 0) {
			virtq_set_notify(q, true);
			if (!virtq_has_avail(q))
				break;
			virtq_set_notify(q, false);
			continue;
		}
		if (r < 0) {
			virtio_dev_fail(d, "transmit queue: malformed descriptor chain");
			break;
		}
		if (!admit(vn, TXQ, e.out_len > HDR_LEN ? (size_t)e.out_len - HDR_LEN : 0)) {
			virtq_unpop(q);
			break;
		}
		if (tx_frame(vn, &e) == -EAGAIN) {
			virtq_unpop(q);
			vn->tx_waiting = true;
			break;
		}
		if (e.out_len > HDR_LEN)
			__atomic_fetch_add(&vn->tx_bytes, e.out_len - HDR_LEN, __ATOMIC_RELAXED);
		virtq_push(q, d->mem, &e, 0);
		pushed = true;
	}
	if (pushed)
		virtio_dev_notify_used(d, TXQ);
}

/* net_peer.send_ready: the backend takes frames again. */
static void vnet_send_ready(void *opaque)
{
	struct vnet *vn = opaque;
	bool locked = lock(vn);

	vn->tx_waiting = false;
	virtio_dev_kick(&vn->vdev, TXQ);
	unlock(vn, locked);
}

/* The receive limiter has tokens again: the backend may deliver what it holds. */
static void on_rx_timer(void *opaque)
{
	struct vnet *vn = opaque;
	bool waiting;

	pthread_mutex_lock(&vn->vdev.lock);
	vn->throttled[RXQ] = false;
	waiting = vn->rx_waiting && !vn->quiesced;
	if (waiting)
		vn->rx_waiting = false;
	pthread_mutex_unlock(&vn->vdev.lock);
	if (waiting)
		vn->nb->ops->rx_ready(vn->nb); /* may call receive(): not under the lock */
}

/* The transmit limiter has tokens again. */
static void on_tx_timer(void *opaque)
{
	struct vnet *vn = opaque;

	pthread_mutex_lock(&vn->vdev.lock);
	vn->throttled[TXQ] = false;
	pthread_mutex_unlock(&vn->vdev.lock);
	virtio_dev_kick(&vn->vdev, TXQ);
}

int vnet_set_limits(struct device *dev, const struct ratelimiter_cfg *rx,
		    const struct ratelimiter_cfg *tx)
{
	struct vnet *vn = container_of(dev, struct vnet, dev);
	static const evloop_fn fns[2] = {on_rx_timer, on_tx_timer};
	const struct ratelimiter_cfg *cfg[2] = {rx, tx};

	for (unsigned q = 0; q < 2; q++) {
		ratelimiter_init_cfg(&vn->rl[q], cfg[q], evloop_now_ns());
		if (!ratelimiter_active(&vn->rl[q]) || vn->rl_timer[q])
			continue;
		int r = evloop_timer_add(vn->vdev.loop, fns[q], vn, &vn->rl_timer[q]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- virtio_dev_ops ---- */

static void net_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct vnet *vn = to_vnet(d);

	vn->in_notify = true;
	if (q == RXQ)
		rx_kick(vn);
	else if (q == TXQ)
		tx_run(vn);
	vn->in_notify = false;
}

static void net_config_read(struct virtio_dev *d, uint32_t off, void *buf, unsigned len)
{
	struct vnet *vn = to_vnet(d);
	uint8_t cfg[VNET_CONFIG_SIZE] = {0};
	uint16_t status = htole16(VIRTIO_NET_S_LINK_UP), pairs = htole16(1);

	memcpy(cfg, vn->mac, 6);
	memcpy(cfg + 6, &status, 2);
	memcpy(cfg + 8, &pairs, 2);
	memcpy(buf, cfg + off, len); /* the transport checked off + len <= config_size */
}

/* The offloads the driver accepts for received frames, for the backend. */
static unsigned guest_offloads(const struct vnet *vn)
{
	unsigned o = 0;

	if (has(vn, VIRTIO_NET_F_GUEST_CSUM))
		o |= NET_OFFLOAD_CSUM;
	if (has(vn, VIRTIO_NET_F_GUEST_TSO4))
		o |= NET_OFFLOAD_TSO4;
	if (has(vn, VIRTIO_NET_F_GUEST_TSO6))
		o |= NET_OFFLOAD_TSO6;
	if (has(vn, VIRTIO_NET_F_GUEST_ECN))
		o |= NET_OFFLOAD_ECN;
	return o;
}

static void net_driver_ok(struct virtio_dev *d)
{
	struct vnet *vn = to_vnet(d);

	if (vn->nb->ops->set_offloads)
		vn->nb->ops->set_offloads(vn->nb, guest_offloads(vn));
	if (vn->rx_waiting)
		virtio_dev_kick(d, RXQ); /* the backend waits for buffers: look now */
}

static void net_vreset(struct virtio_dev *d)
{
	struct vnet *vn = to_vnet(d);

	if (vn->nb->ops->set_offloads)
		vn->nb->ops->set_offloads(vn->nb, 0);
	vn->rx_pushed = false;
	vn->logged_drop = false;
	/* rx_waiting stays: the backend still holds frames until the next rx kick. */
}

static int net_vsave(struct virtio_dev *d, struct sbuf *out)
{
	struct vnet *vn = to_vnet(d);

	sbuf_put_u32(out, SAVE_VERSION);
	sbuf_put(out, vn->mac, sizeof(vn->mac));
	return 0;
}

static int net_vload(struct virtio_dev *d, struct sreader *in)
{
	struct vnet *vn = to_vnet(d);

	if (sread_u32(in) != SAVE_VERSION)
		return -EINVAL;
	sread(in, vn->mac, sizeof(vn->mac));
	vn->rx_pushed = false;
	vn->tx_waiting = false;
	return in->err;
}

static const struct virtio_dev_ops net_vops = {
	.device_id = VIRTIO_ID_NET,
	.config_read = net_config_read,
	.queue_notify = net_queue_notify,
	.reset = net_vreset,
	.driver_ok = net_driver_ok,
	.save = net_vsave,
	.load = net_vload,
};

/* ---- device_ops ---- */

static struct vnet *dev_vnet(struct device *dev)
{
	return container_of(dev, struct vnet, dev);
}

static void net_reset(struct device *dev)
{
	virtio_dev_reset(&dev_vnet(dev)->vdev);
}

static void quiesce_fn(void *opaque)
{
	struct vnet *vn = opaque;

	pthread_mutex_lock(&vn->vdev.lock);
	vn->quiesced = true;
	pthread_mutex_unlock(&vn->vdev.lock);
}

static void resume_fn(void *opaque)
{
	struct vnet *vn = opaque;
	bool waiting;

	pthread_mutex_lock(&vn->vdev.lock);
	vn->quiesced = false;
	waiting = vn->rx_waiting;
	vn->rx_waiting = false;
	pthread_mutex_unlock(&vn->vdev.lock);
	if (waiting)
		vn->nb->ops->rx_ready(vn->nb); /* may call receive(): not under the lock */
	virtio_dev_kick(&vn->vdev, TXQ);
}

/* On the I/O thread, between its callbacks: after this no frame moves. */
static void net_quiesce(struct device *dev)
{
	struct vnet *vn = dev_vnet(dev);

	evloop_call(vn->vdev.loop, quiesce_fn, vn);
}

static void net_resume(struct device *dev)
{
	struct vnet *vn = dev_vnet(dev);

	evloop_call(vn->vdev.loop, resume_fn, vn);
}

struct backend_state {
	struct vnet *vn;
	struct sbuf *out;
	struct sreader *in;
	int r;
};

static void backend_save_fn(void *opaque)
{
	struct backend_state *s = opaque;
	struct net_backend *nb = s->vn->nb;

	s->r = nb->ops->save ? nb->ops->save(nb, s->out) : 0;
}

static void backend_load_fn(void *opaque)
{
	struct backend_state *s = opaque;
	struct net_backend *nb = s->vn->nb;

	if (nb->ops->load)
		s->r = nb->ops->load(nb, s->in);
	else
		s->r = s->in->len ? -EINVAL : 0;
}

/* The transport's record (with net_vsave's), then the backend's: its kind and a
 * length-prefixed blob. The backend's part is taken on the I/O thread, without the
 * device lock (the I/O thread may be waiting for it). */
static int net_save(struct device *dev, struct sbuf *out)
{
	struct vnet *vn = dev_vnet(dev);
	struct sbuf blob = {0};
	struct backend_state s = {.vn = vn, .out = &blob};
	size_t klen = strlen(vn->nb->kind);
	int r;

	evloop_call(vn->vdev.loop, backend_save_fn, &s);
	r = s.r ?: blob.err;
	if (!r)
		r = virtio_dev_save(&vn->vdev, out);
	if (!r) {
		sbuf_put_u8(out, (uint8_t)klen);
		sbuf_put(out, vn->nb->kind, klen);
		sbuf_put_u32(out, (uint32_t)blob.len);
		sbuf_put(out, blob.data, blob.len);
		r = out->err;
	}
	sbuf_fini(&blob);
	return r;
}

static int net_load(struct device *dev, struct sreader *in)
{
	struct vnet *vn = dev_vnet(dev);
	char kind[16] = {0};
	struct sreader blob;
	struct backend_state s = {.vn = vn, .in = &blob};
	uint8_t klen;
	uint32_t len;
	int r = virtio_dev_load(&vn->vdev, in);

	if (r < 0)
		return r;
	klen = sread_u8(in);
	if (klen >= sizeof(kind))
		return -EINVAL;
	sread(in, kind, klen);
	len = sread_u32(in);
	if (in->err || strcmp(kind, vn->nb->kind) || len > in->len - in->off)
		return -EINVAL; /* saved with another backend kind: cannot restore */
	sreader_init(&blob, in->data + in->off, len);
	in->off += len;
	evloop_call(vn->vdev.loop, backend_load_fn, &s);
	if (s.r < 0)
		return s.r;
	pthread_mutex_lock(&vn->vdev.lock);
	if (virtio_dev_running(&vn->vdev) && vn->nb->ops->set_offloads)
		vn->nb->ops->set_offloads(vn->nb, guest_offloads(vn));
	pthread_mutex_unlock(&vn->vdev.lock);
	/* Only now, the backend's state in place: frames queued while the source was
	 * quiesced, and a backend holding frames looks again. */
	virtio_dev_kick_all(&vn->vdev);
	return 0;
}

static int net_fdt(struct device *dev, void *fdt, const struct board *b)
{
	return virtio_dev_fdt(&dev_vnet(dev)->vdev, fdt, b);
}

static void net_destroy(struct device *dev)
{
	struct vnet *vn = dev_vnet(dev);

	net_backend_close(vn->nb);
	evloop_timer_del(vn->rl_timer[RXQ]);
	evloop_timer_del(vn->rl_timer[TXQ]);
	virtio_dev_fini(&vn->vdev);
	core_free(vn);
}

static const struct device_ops net_ops = {
	.reset = net_reset,
	.save = net_save,
	.load = net_load,
	.quiesce = net_quiesce,
	.resume = net_resume,
	.fdt = net_fdt,
	.destroy = net_destroy,
};

/* ---- creation ---- */

/* NICs already on the board (their bus regions are named "virtio-netN"). */
static unsigned count_nics(const struct board *b)
{
	unsigned n = 0;

	for (unsigned i = 0; i < b->bus->n; i++)
		if (b->bus->regions[i].name && !strncmp(b->bus->regions[i].name, "virtio-net", 10))
			n++;
	return n;
}

int vnet_create(struct board *b, const uint8_t mac[6], struct net_backend *nb, struct device **out)
{
	struct vnet *vn = core_calloc(1, sizeof(*vn));
	uint64_t features = BASE_FEATURES;
	char name[32];
	int r;

	if (!vn) {
		net_backend_close(nb);
		return -ENOMEM;
	}
	if (nb->vnet_hdr)
		features |= OFFLOAD_FEATURES;
	else
		features |= SOFT_OFFLOAD_FEATURES |
			    (nb->rx_csum_valid ? 1ull << VIRTIO_NET_F_GUEST_CSUM : 0);
	snprintf(name, sizeof(name), "virtio-net%u", count_nics(b));
	r = virtio_dev_init(&vn->vdev, &net_vops, name, b, features, 2, VNET_QUEUE_SIZE,
			    VNET_CONFIG_SIZE);
	if (r < 0) {
		net_backend_close(nb);
		core_free(vn);
		return r;
	}
	memcpy(vn->mac, mac, sizeof(vn->mac));
	vn->nb = nb;
	nb->peer = (struct net_peer){.receive = vnet_receive,
				     .receive_flush = vnet_receive_flush,
				     .send_ready = vnet_send_ready,
				     .opaque = vn};
	vn->dev.ops = &net_ops;
	snprintf(vn->dev.name, sizeof(vn->dev.name), "%s", name);
	*out = &vn->dev;
	return 0;
}

bool vnet_parse_mac(const char *s, uint8_t mac[6])
{
	for (unsigned i = 0; i < 6; i++) {
		char *end;
		unsigned long v;

		if (!((s[0] >= '0' && s[0] <= '9') || (s[0] >= 'a' && s[0] <= 'f') ||
		      (s[0] >= 'A' && s[0] <= 'F')))
			return false;
		v = strtoul(s, &end, 16);
		if (end - s != 2 || v > 0xff || *end != (i < 5 ? ':' : '\0'))
			return false;
		mac[i] = (uint8_t)v;
		s = end + 1;
	}
	return !(mac[0] & 1) && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

/* ---- the device type: --net user|tap[,OPTIONS] ---- */

/* A key that may appear once. */
static int get_once(struct keyval *a, const char *key, const char *kind, const char **val,
		    char *err, size_t errlen)
{
	*val = keyval_get(a, key, 0);
	if (keyval_get(a, key, 1)) {
		snprintf(err, errlen, "--net %s: %s= given twice", kind, key);
		return -EINVAL;
	}
	return 0;
}

/* bps=, pps=, burst= for both directions; rx_ and tx_ variants for one. */
static int parse_limits(struct keyval *a, const char *kind, struct ratelimiter_cfg rl[2], char *err,
			size_t errlen)
{
	static const char *const dir[2] = {"rx_", "tx_"};
	struct ratelimiter_cfg both = {0};
	char who[32], key[16];
	int r;

	snprintf(who, sizeof(who), "--net %s", kind);
	r = keyval_get_count(a, "bps", who, &both.bytes, err, errlen);
	r = r ?: keyval_get_count(a, "pps", who, &both.ops, err, errlen);
	r = r ?: keyval_get_count(a, "burst", who, &both.bytes_burst, err, errlen);
	for (unsigned q = 0; q < 2 && !r; q++) {
		rl[q] = both;
		snprintf(key, sizeof(key), "%sbps", dir[q]);
		r = keyval_get_count(a, key, who, &rl[q].bytes, err, errlen);
		snprintf(key, sizeof(key), "%spps", dir[q]);
		r = r ?: keyval_get_count(a, key, who, &rl[q].ops, err, errlen);
		snprintf(key, sizeof(key), "%sburst", dir[q]);
		r = r ?: keyval_get_count(a, key, who, &rl[q].bytes_burst, err, errlen);
		if (!r && rl[q].bytes_burst && !rl[q].bytes) {
			snprintf(err, errlen,
				 "%s: a %s burst without a bytes rate (bps= or %sbps=)", who,
				 q ? "transmit" : "receive", dir[q]);
			r = -EINVAL;
		}
	}
	return r;
}

/* The options of one --net (a), into opt and rl; mac= (if given) into mac, which keeps
 * the caller's default otherwise. 0 or -EINVAL with err filled. */
static int parse_options(struct keyval *a, struct net_options *opt, uint8_t mac[6],
			 struct ratelimiter_cfg rl[2], char *err, size_t errlen)
{
	const char *kind = keyval_get(a, "", 0), *macs = NULL;
	int r;

	if (!kind) {
		snprintf(err, errlen,
			 "--net: want user or tap first (e.g. --net user or --net "
			 "tap,ifname=tap0)");
		return -EINVAL;
	}
	opt->kind = kind;
	r = get_once(a, "mac", kind, &macs, err, errlen);
	if (r == 0 && macs && !vnet_parse_mac(macs, mac)) {
		snprintf(err, errlen,
			 "--net %s: mac=%s: want six hex bytes like 52:54:00:12:34:56, not "
			 "multicast (lowest bit of the first byte clear) and not all zero",
			 kind, macs);
		return -EINVAL;
	}
	if (r == 0 && !strcmp(kind, "user")) {
		const char *fw;
		while ((fw = keyval_get(a, "hostfwd", opt->nhostfwd))) {
			if (opt->nhostfwd == NET_MAX_HOSTFWD) {
				snprintf(err, errlen, "--net user: more than %d hostfwd= options",
					 NET_MAX_HOSTFWD);
				return -EINVAL;
			}
			opt->hostfwd[opt->nhostfwd++] = fw;
		}
		r = get_once(a, "net", kind, &opt->net, err, errlen);
		r = r ?: get_once(a, "host", kind, &opt->host, err, errlen);
		r = r ?: get_once(a, "dns", kind, &opt->dns, err, errlen);
	} else if (r == 0 && !strcmp(kind, "tap")) {
		r = get_once(a, "ifname", kind, &opt->ifname, err, errlen);
	} else if (r == 0) {
		snprintf(err, errlen, "--net: unknown backend '%s': want user or tap", kind);
		return -EINVAL;
	}
	r = r ?: parse_limits(a, kind, rl, err, errlen);
	if (r == 0) {
		char who[32];
		snprintf(who, sizeof(who), "--net %s", kind);
		r = keyval_check_unused(a, who, err, errlen);
	}
	return r;
}

/* One --net's arguments, parsed: opt's strings point into kv (net_args_fini frees). */
struct net_args {
	struct keyval kv;
	struct net_options opt;
	struct ratelimiter_cfg rl[2];
	uint8_t mac[6]; /* the caller's default unless mac= is given */
};

/* Parses args into n (whose mac holds the default): 0, or -EINVAL with err filled (n
 * then needs no net_args_fini). */
static int net_args_parse(struct net_args *n, const char *args, char *err, size_t errlen)
{
	memset(&n->opt, 0, sizeof(n->opt));
	memset(n->rl, 0, sizeof(n->rl));
	if (keyval_parse(&n->kv, args, err, errlen) < 0)
		return -EINVAL;
	if (parse_options(&n->kv, &n->opt, n->mac, n->rl, err, errlen) < 0) {
		keyval_fini(&n->kv);
		return -EINVAL;
	}
	return 0;
}

int vnet_check_args(const char *args, char *err, size_t errlen)
{
	struct net_args n = {0};
	int r = net_args_parse(&n, args, err, errlen);

	if (!r)
		keyval_fini(&n.kv);
	return r;
}

static int net_type_create(struct board *b, const char *args, struct device **out, char *err,
			   size_t errlen)
{
	/* QEMU's default MAC, one more per NIC: stable across runs of one command line. */
	struct net_args n = {
		.mac = {0x52, 0x54, 0x00, 0x12, 0x34, (uint8_t)(0x56 + count_nics(b))}};
	struct net_backend *nb;
	int r = net_args_parse(&n, args, err, errlen);

	if (r < 0)
		return r;
	r = net_backend_open(b->loop, &n.opt, &nb, err, errlen);
	if (r == 0) {
		r = vnet_create(b, n.mac, nb, out);
		if (r == -ENOSPC)
			snprintf(err, errlen, "--net %s: no virtio slot left for another device",
				 n.opt.kind);
		else if (r < 0)
			snprintf(err, errlen, "--net %s: cannot create the NIC: %s", n.opt.kind,
				 strerror(-r));
	}
	if (r == 0) {
		r = vnet_set_limits(*out, &n.rl[RXQ], &n.rl[TXQ]);
		if (r < 0) {
			snprintf(err, errlen, "--net %s: cannot set up its rate limiters: %s",
				 n.opt.kind, strerror(-r));
			(*out)->ops->destroy(*out);
			*out = NULL;
		}
	}
	keyval_fini(&n.kv);
	return r;
}

/* A tap's interface and user networking's port forwards (each binds a host port). */
static int net_host_names(const char *args, device_host_fn fn, void *ctx, char *err, size_t errlen)
{
	struct net_args n = {0};
	int r = net_args_parse(&n, args, err, errlen);

	if (r < 0)
		return r;
	if (!strcmp(n.opt.kind, "tap"))
		r = fn(ctx, DEVICE_HOST_TAP, "ifname", n.opt.ifname ? n.opt.ifname : "");
	for (unsigned i = 0; !r && i < n.opt.nhostfwd; i++)
		r = fn(ctx, DEVICE_HOST_PORT, "hostfwd", n.opt.hostfwd[i]);
	keyval_fini(&n.kv);
	return r;
}

static const struct device_type net_type = {
	.name = "virtio-net",
	.option = "net",
	.usage = "user[,hostfwd=[tcp|udp]:[ADDR]:PORT-[GADDR]:PORT]...[,net=10.0.2.0/24]"
		 "[,host=10.0.2.2][,dns=10.0.2.3][,mac=MAC] | tap,ifname=NAME[,mac=MAC]; both "
		 "[,bps=N][,pps=N][,burst=N][,rx_bps=N]...[,tx_burst=N]",
	.help = "a network card: user-mode NAT (libslirp) with port forwards, or a host tap "
		"(repeat for several NICs); bps=/pps= limit bytes and packets per second each "
		"way (rx_/tx_ for one direction), burst= allows that many bytes more once",
	.order = 60,
	.create = net_type_create,
	.host_names = net_host_names,
};
DEVICE_TYPE(net_type)

bool vnet_io_bytes(const struct device *dev, uint64_t *rx_out, uint64_t *tx_out)
{
	const struct vnet *vn;

	if (dev->ops != &net_ops)
		return false;
	vn = container_of(dev, const struct vnet, dev);
	*rx_out = __atomic_load_n(&vn->rx_bytes, __ATOMIC_RELAXED);
	*tx_out = __atomic_load_n(&vn->tx_bytes, __ATOMIC_RELAXED);
	return true;
}

struct net_backend *vnet_backend(struct device *dev)
{
	return dev->ops == &net_ops ? container_of(dev, struct vnet, dev)->nb : NULL;
}
