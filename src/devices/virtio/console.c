/*
 * virtio-console (virtio 1.2, 5.3): one port, the machine's console, with MULTIPORT (the
 * control queues) and without F_SIZE (no backend knows a terminal size yet) or
 * EMERG_WRITE.
 *
 * Output: the transmitq's buffers are copied into `obuf` and given back to the driver at
 * once, on the notifying hart's thread (Linux's hvc driver spins until they come back,
 * after every write: a round trip through the I/O thread per line made output five times
 * slower than the UART's). `flush`, on the I/O thread, swaps obuf with `wbuf` and writes
 * wbuf to the backend holding no lock, so a slow reader blocks only the I/O thread, never
 * a hart. When obuf is full, the buffer being copied stays taken (`tx_partial`) until
 * flush made room and kicked the transmitq again.
 *
 * Input: the backend keeps it until the guest can take it: receive buffers posted and,
 * with MULTIPORT, the port opened by the guest (PORT_OPEN). Linux drops what reaches a
 * port before it opened it, and it posts the port's buffers before that; without
 * MULTIPORT it gives no such sign, so input is sent as soon as there are buffers. The
 * backend's input callback (its thread) and notifies (I/O thread) both fill buffers
 * under the device lock; whichever comes second delivers.
 *
 * Control (MULTIPORT): DEVICE_READY from the driver is answered with DEVICE_ADD for port
 * 0; its PORT_READY with CONSOLE_PORT and PORT_OPEN (the host side is always open).
 * Messages for the driver wait in `ctrl` until it posts control receive buffers.
 *
 * Locks: vdev.lock -> out_lock -> the backend's buffer lock. flush takes out_lock only to
 * swap the buffers.
 */
#include "devices/virtio/console.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/evloop.h"
#include "core/keyval.h"
#include "core/log.h"
#include "core/sbuf.h"
#include "core/util.h"
#include "devices/chardev.h"
#include "devices/device.h"
#include "devices/virtio/virtio.h"

#define F_MULTIPORT 1

/* Control events (5.3.6.2). */
enum {
	CTRL_DEVICE_READY = 0,
	CTRL_DEVICE_ADD = 1,
	CTRL_DEVICE_REMOVE = 2,
	CTRL_PORT_READY = 3,
	CTRL_CONSOLE_PORT = 4,
	CTRL_RESIZE = 5,
	CTRL_PORT_OPEN = 6,
	CTRL_PORT_NAME = 7,
};

#define CTRL_MSG_SIZE 8 /* le32 id, le16 event, le16 value */
#define CTRL_MAX      8 /* messages waiting for control receive buffers */
#define VCON_NQUEUES  4 /* receiveq, transmitq, control receiveq, control transmitq */
#define VCON_MAX_IOV  16
#define VCON_RX_MAX   65536 /* bytes per receive buffer, at most */
#define VCON_CFG_SIZE 12    /* cols, rows, max_nr_ports, emerg_wr (5.3.4) */
#define VCON_SAVE_VER 1
#define VCON_RX_CHUNK 4096

struct vcon_ctrl {
	uint32_t id;
	uint16_t event, value;
};

struct vcon {
	struct device dev;
	struct virtio_dev vdev;
	struct board *board;
	struct chardev *con; /* NULL: no console */
	bool input_attached;
	struct evloop_notifier *flush_notifier;

	/* Under vdev.lock. */
	struct iovec rx_iov[VCON_MAX_IOV];
	struct iovec ctrl_iov[VCON_MAX_IOV]; /* ctrl_receive's (it calls rx_fill) */
	struct iovec ctrl_out_iov[VCON_MAX_IOV];
	struct iovec tx_iov[VCON_MAX_IOV];
	struct virtq_elem tx_cur; /* the transmit buffer being copied, when tx_partial */
	bool tx_partial;
	uint64_t tx_off; /* bytes of tx_cur copied so far */
	bool port_open;	 /* MULTIPORT: the guest opened port 0 */
	struct vcon_ctrl ctrl[CTRL_MAX];
	unsigned nctrl;
	bool ctrl_dropped_logged;

	pthread_mutex_t out_lock;
	uint8_t *obuf; /* VCON_OUT_BUF bytes being filled */
	size_t olen;
	bool tx_stalled; /* the transmitq waits for room in obuf */

	uint8_t *wbuf; /* flush's: the other VCON_OUT_BUF bytes, being written */
	uint8_t *bufs; /* the allocation behind obuf and wbuf */
};

static struct vcon *vdev_to_vcon(struct virtio_dev *d)
{
	return container_of(d, struct vcon, vdev);
}

static void vcon_config_read(struct virtio_dev *d, uint32_t off, void *buf, unsigned len)
{
	uint8_t cfg[VCON_CFG_SIZE] = {0};
	uint32_t ports = htole32(1);

	(void)d;
	/* cols and rows stay 0 (no F_SIZE); one port; emerg_wr reads 0. */
	memcpy(cfg + 4, &ports, 4);
	memcpy(buf, cfg + off, len); /* the transport checked off + len <= VCON_CFG_SIZE */
}

/* ---- output ---- */

/* I/O thread (or destroy, once the loop stopped), no lock held while writing: takes what
 * the guest sent, lets a transmit buffer waiting for room go on, writes. */
static void flush(void *opaque)
{
	struct vcon *v = opaque;
	uint8_t *buf;
	size_t len;
	bool stalled;

	pthread_mutex_lock(&v->out_lock);
	buf = v->obuf;
	len = v->olen;
	v->obuf = v->wbuf;
	v->wbuf = buf;
	v->olen = 0;
	stalled = v->tx_stalled;
	v->tx_stalled = false;
	pthread_mutex_unlock(&v->out_lock);
	if (stalled)
		virtio_dev_kick(&v->vdev, VCON_TXQ);
	if (!len)
		return;
	if (v->board->console_output)
		v->board->console_output(v->board, buf, len);
	/* A backend that cannot write (its reader went away) discards the output and tells
	 * its owner: nothing for the guest to know. */
	if (v->con && chardev_write(v->con, buf, len) < 0)
		log_debug("%s: console output discarded", v->vdev.name);
}

/* Copies as much of tx_cur as fits into obuf; true when all of it is in. out_lock held. */
static bool copy_out(struct vcon *v)
{
	uint64_t left = v->tx_cur.out_len - v->tx_off;
	size_t n = VCON_OUT_BUF - v->olen;

	if (n > left)
		n = (size_t)left;
	n = virtq_copy_from_out(&v->tx_cur, (size_t)v->tx_off, v->obuf + v->olen, n);
	v->olen += n;
	v->tx_off += n;
	return v->tx_off == v->tx_cur.out_len;
}

/* vdev.lock held: the notifying hart's thread, or the I/O thread (re-kicks). */
static void tx_process(struct vcon *v)
{
	struct virtio_dev *d = &v->vdev;
	struct virtq *q = &d->vq[VCON_TXQ];
	bool pushed = false;

	pthread_mutex_lock(&v->out_lock);
	for (;;) {
		if (!v->tx_partial) {
			int r = virtq_pop(q, d->mem, &v->tx_cur);
			if (!r)
				break;
			if (r < 0 || v->tx_cur.n_in) {
				virtio_dev_fail(d, "transmitq: %s",
						r < 0 ? "malformed descriptor chain"
						      : "device-writable buffer");
				break;
			}
			v->tx_partial = true;
			v->tx_off = 0;
		}
		if (!copy_out(v)) {
			v->tx_stalled = true; /* obuf is full: flush kicks us again */
			break;
		}
		virtq_push(q, d->mem, &v->tx_cur, 0);
		v->tx_partial = false;
		pushed = true;
	}
	if (v->olen)
		evloop_notify(v->flush_notifier);
	pthread_mutex_unlock(&v->out_lock);
	if (pushed)
		virtio_dev_notify_used(d, VCON_TXQ);
}

/* ---- input ---- */

/* Moves backend input into one receive buffer; returns the bytes written. */
static uint32_t fill_one(struct vcon *v, const struct virtq_elem *e)
{
	uint64_t room = e->in_len < VCON_RX_MAX ? e->in_len : VCON_RX_MAX;
	uint32_t got = 0;

	while (got < room) {
		uint8_t tmp[VCON_RX_CHUNK];
		size_t want = room - got < sizeof(tmp) ? (size_t)(room - got) : sizeof(tmp);
		size_t n = chardev_read(v->con, tmp, want);

		if (!n)
			break;
		virtq_copy_to_in(e, got, tmp, n);
		got += (uint32_t)n;
	}
	return got;
}

/* vdev.lock held (any thread): fills receive buffers while the backend has input and the
 * guest can take it. With no buffer left, the input stays in the backend: popping an
 * empty ring asked the driver to notify when it adds one (or it always does, without
 * EVENT_IDX). */
static void rx_fill(struct vcon *v)
{
	struct virtio_dev *d = &v->vdev;
	struct virtq *q = &d->vq[VCON_RXQ];
	struct virtq_elem e = {.cap = VCON_MAX_IOV, .iov = v->rx_iov};
	bool pushed = false;

	if (!v->con || !virtio_dev_running(d) || !q->ready)
		return;
	if (virtio_has_feature(d, F_MULTIPORT) && !v->port_open)
		return;
	while (chardev_input_available(v->con)) {
		int r = virtq_pop(q, d->mem, &e);
		uint32_t got;

		if (!r)
			break;
		if (r < 0 || e.n_out) {
			virtio_dev_fail(d, "receiveq: %s",
					r < 0 ? "malformed descriptor chain"
					      : "device-readable buffer");
			break;
		}
		got = fill_one(v, &e);
		if (!got && e.in_len) {
			virtq_unpop(q); /* the input went elsewhere meanwhile: keep the buffer */
			break;
		}
		virtq_push(q, d->mem, &e, got);
		pushed = true;
	}
	if (pushed)
		virtio_dev_notify_used(d, VCON_RXQ);
}

/* The backend's thread: input arrived. */
static void input_ready(void *opaque)
{
	struct vcon *v = opaque;

	pthread_mutex_lock(&v->vdev.lock);
	rx_fill(v);
	pthread_mutex_unlock(&v->vdev.lock);
}

/* ---- control queues (MULTIPORT) ---- */

/* Sends the queued control messages, one per control receive buffer. */
static void ctrl_deliver(struct vcon *v)
{
	struct virtio_dev *d = &v->vdev;
	struct virtq *q = &d->vq[VCON_CTRL_RXQ];
	struct virtq_elem e = {.cap = VCON_MAX_IOV, .iov = v->ctrl_out_iov};
	unsigned sent = 0;

	if (!virtio_dev_running(d))
		return;
	while (sent < v->nctrl) {
		uint8_t msg[CTRL_MSG_SIZE];
		uint32_t id = htole32(v->ctrl[sent].id);
		uint16_t ev = htole16(v->ctrl[sent].event), val = htole16(v->ctrl[sent].value);
		int r = virtq_pop(q, d->mem, &e);

		if (!r)
			break;
		if (r < 0 || e.n_out || e.in_len < CTRL_MSG_SIZE) {
			virtio_dev_fail(d, "control receiveq: %s",
					r < 0	  ? "malformed descriptor chain"
					: e.n_out ? "device-readable buffer"
						  : "buffer smaller than a control message");
			break;
		}
		memcpy(msg, &id, 4);
		memcpy(msg + 4, &ev, 2);
		memcpy(msg + 6, &val, 2);
		virtq_copy_to_in(&e, 0, msg, sizeof(msg));
		virtq_push(q, d->mem, &e, sizeof(msg));
		sent++;
	}
	if (!sent)
		return;
	v->nctrl -= sent;
	memmove(v->ctrl, v->ctrl + sent, v->nctrl * sizeof(v->ctrl[0]));
	virtio_dev_notify_used(d, VCON_CTRL_RXQ);
}

/* Queues a message for the driver. A driver that keeps asking (DEVICE_READY over and
 * over) without taking the answers loses the newest. */
static void ctrl_send(struct vcon *v, uint16_t event, uint16_t value)
{
	if (v->nctrl == CTRL_MAX) {
		if (!v->ctrl_dropped_logged)
			log_warn("%s: the driver takes no control messages: dropping them",
				 v->vdev.name);
		v->ctrl_dropped_logged = true;
		return;
	}
	v->ctrl[v->nctrl++] = (struct vcon_ctrl){.id = 0, .event = event, .value = value};
}

/* One message from the driver (5.3.6.2). Messages about ports other than 0, and events
 * only the device sends, are dropped. */
static void ctrl_handle(struct vcon *v, uint32_t id, uint16_t event, uint16_t value)
{
	switch (event) {
	case CTRL_DEVICE_READY:
		if (value)
			ctrl_send(v, CTRL_DEVICE_ADD, 0);
		else
			log_warn("%s: the guest's driver failed to set up", v->vdev.name);
		return;
	case CTRL_PORT_READY:
		if (id)
			break;
		if (!value) {
			log_warn("%s: the guest could not set up port 0", v->vdev.name);
			return;
		}
		ctrl_send(v, CTRL_CONSOLE_PORT, 1);
		ctrl_send(v, CTRL_PORT_OPEN, 1);
		return;
	case CTRL_PORT_OPEN:
		if (id)
			break;
		v->port_open = value != 0;
		rx_fill(v); /* input that waited for the port */
		return;
	default:
		break;
	}
	log_debug("%s: control message (port %u, event %u, value %u) dropped", v->vdev.name, id,
		  event, value);
}

static void ctrl_receive(struct vcon *v)
{
	struct virtio_dev *d = &v->vdev;
	struct virtq *q = &d->vq[VCON_CTRL_TXQ];
	struct virtq_elem e = {.cap = VCON_MAX_IOV, .iov = v->ctrl_iov};
	bool pushed = false;
	int r;

	while ((r = virtq_pop(q, d->mem, &e)) > 0) {
		uint8_t msg[CTRL_MSG_SIZE];
		uint32_t id;
		uint16_t event, value;

		if (e.n_in) {
			virtio_dev_fail(d, "control transmitq: device-writable buffer");
			return;
		}
		/* A message shorter than the header is dropped. */
		if (virtq_copy_from_out(&e, 0, msg, sizeof(msg)) == sizeof(msg)) {
			memcpy(&id, msg, 4);
			memcpy(&event, msg + 4, 2);
			memcpy(&value, msg + 6, 2);
			ctrl_handle(v, le32toh(id), le16toh(event), le16toh(value));
		}
		virtq_push(q, d->mem, &e, 0);
		pushed = true;
	}
	if (r < 0)
		virtio_dev_fail(d, "control transmitq: malformed descriptor chain");
	if (pushed)
		virtio_dev_notify_used(d, VCON_CTRL_TXQ);
	ctrl_deliver(v);
}

/* ---- transport callbacks (vdev.lock held) ---- */

static void vcon_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct vcon *v = vdev_to_vcon(d);

	if (q == VCON_RXQ) {
		rx_fill(v);
	} else if (q == VCON_TXQ) {
		tx_process(v);
	} else if (virtio_has_feature(d, F_MULTIPORT)) {
		/* Without MULTIPORT the control queues do not exist (5.3.2). */
		if (q == VCON_CTRL_TXQ)
			ctrl_receive(v);
		else
			ctrl_deliver(v);
	}
}

static void vcon_vreset(struct virtio_dev *d)
{
	struct vcon *v = vdev_to_vcon(d);

	/* Output already copied stays in obuf and is still written: the driver was told it
	 * was sent. A transmit buffer half copied is forgotten with its queue. */
	v->tx_partial = false;
	v->port_open = false;
	v->nctrl = 0;
	v->ctrl_dropped_logged = false;
}

static void vcon_driver_ok(struct virtio_dev *d)
{
	/* Linux posts buffers and may kick before DRIVER_OK, when kicks are not served: look
	 * at every queue now, on the I/O thread. */
	for (unsigned q = 0; q < VCON_NQUEUES; q++)
		virtio_dev_kick(d, q);
}

/* ---- state ---- */

static int vcon_vsave(struct virtio_dev *d, struct sbuf *out)
{
	struct vcon *v = vdev_to_vcon(d);

	sbuf_put_u32(out, VCON_SAVE_VER);
	sbuf_put_u8(out, (uint8_t)(v->tx_partial | v->port_open << 1));
	sbuf_put_u64(out, v->tx_partial ? v->tx_off : 0);
	sbuf_put_u32(out, v->nctrl);
	for (unsigned i = 0; i < v->nctrl; i++) {
		sbuf_put_u32(out, v->ctrl[i].id);
		sbuf_put_u16(out, v->ctrl[i].event);
		sbuf_put_u16(out, v->ctrl[i].value);
	}
	pthread_mutex_lock(&v->out_lock);
	sbuf_put_u32(out, (uint32_t)v->olen);
	sbuf_put(out, v->obuf, v->olen);
	pthread_mutex_unlock(&v->out_lock);
	return 0;
}

/* The transmit buffer that was half copied is the last one taken from the queue: take it
 * again (the driver cannot have changed a chain it has not got back). */
static int retake_partial(struct vcon *v, uint64_t off)
{
	struct virtq *q = &v->vdev.vq[VCON_TXQ];

	if (!q->ready)
		return -EINVAL;
	virtq_unpop(q);
	if (virtq_pop(q, v->vdev.mem, &v->tx_cur) != 1 || v->tx_cur.n_in || off > v->tx_cur.out_len)
		return -EINVAL;
	v->tx_partial = true;
	v->tx_off = off;
	return 0;
}

static int load_ctrl(struct vcon *v, struct sreader *in)
{
	uint32_t n = sread_u32(in);

	if (n > CTRL_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		v->ctrl[i].id = sread_u32(in);
		v->ctrl[i].event = sread_u16(in);
		v->ctrl[i].value = sread_u16(in);
	}
	v->nctrl = in->err ? 0 : n;
	return in->err;
}

static int load_obuf(struct vcon *v, struct sreader *in)
{
	uint32_t n = sread_u32(in);

	if (n > VCON_OUT_BUF)
		return -EINVAL;
	pthread_mutex_lock(&v->out_lock);
	sread(in, v->obuf, n);
	v->olen = in->err ? 0 : n;
	v->tx_stalled = false;
	pthread_mutex_unlock(&v->out_lock);
	return in->err;
}

static int vcon_vload(struct virtio_dev *d, struct sreader *in)
{
	struct vcon *v = vdev_to_vcon(d);
	uint8_t flags;
	uint64_t off;
	int r;

	if (sread_u32(in) != VCON_SAVE_VER)
		return -EINVAL;
	flags = sread_u8(in);
	off = sread_u64(in);
	if (in->err || flags > 3)
		return -EINVAL;
	v->tx_partial = false;
	v->port_open = flags & 2;
	r = load_ctrl(v, in);
	r = r ?: load_obuf(v, in);
	if (!r && (flags & 1))
		r = retake_partial(v, off);
	if (r)
		return r;
	/* Write what was pending; kicks may have been lost with the old machine. */
	evloop_notify(v->flush_notifier);
	if (virtio_dev_running(d))
		vcon_driver_ok(d);
	return 0;
}

static const struct virtio_dev_ops vcon_vops = {
	.device_id = VIRTIO_ID_CONSOLE,
	.config_read = vcon_config_read,
	.queue_notify = vcon_queue_notify,
	.inline_notify = 1u << VCON_TXQ,
	.reset = vcon_vreset,
	.driver_ok = vcon_driver_ok,
	.save = vcon_vsave,
	.load = vcon_vload,
};

/* ---- the device ---- */

static struct vcon *to_vcon(struct device *dev)
{
	return container_of(dev, struct vcon, dev);
}

static void vcon_reset(struct device *dev)
{
	virtio_dev_reset(&to_vcon(dev)->vdev);
}

static int vcon_save(struct device *dev, struct sbuf *out)
{
	return virtio_dev_save(&to_vcon(dev)->vdev, out);
}

static int vcon_load(struct device *dev, struct sreader *in)
{
	struct virtio_dev *d = &to_vcon(dev)->vdev;
	int r = virtio_dev_load(d, in);

	if (!r)
		virtio_dev_kick_all(d); /* requests made available while quiesced */
	return r;
}

static int vcon_fdt(struct device *dev, void *fdt, const struct board *b)
{
	return virtio_dev_fdt(&to_vcon(dev)->vdev, fdt, b);
}

static void vcon_destroy(struct device *dev)
{
	struct vcon *v = to_vcon(dev);

	if (v->input_attached)
		chardev_set_input_handler(v->con, NULL, NULL);
	/* The machine's I/O thread has stopped: output the guest was told was sent (its
	 * last words before poweroff) still goes out. */
	flush(v);
	evloop_notifier_del(v->flush_notifier);
	virtio_dev_fini(&v->vdev);
	pthread_mutex_destroy(&v->out_lock);
	core_free(v->bufs);
	core_free(v);
}

static const struct device_ops vcon_ops = {
	.reset = vcon_reset,
	.save = vcon_save,
	.load = vcon_load,
	.fdt = vcon_fdt,
	.destroy = vcon_destroy,
};

static int check_args(const char *args, char *err, size_t errlen)
{
	struct keyval a;
	int r = keyval_parse(&a, args, err, errlen);

	if (r < 0)
		return r;
	r = keyval_check_unused(&a, "--virtio-console", err, errlen);
	keyval_fini(&a);
	if (r < 0) {
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, " (it takes no arguments)");
	}
	return r;
}

int vcon_create(struct board *b, const char *args, struct device **out, char *err, size_t errlen)
{
	struct vcon *v;
	int r = check_args(args, err, errlen);

	if (r < 0)
		return r;
	v = core_calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->bufs = core_alloc(2 * VCON_OUT_BUF);
	if (!v->bufs) {
		r = -ENOMEM;
		goto err_free;
	}
	v->obuf = v->bufs;
	v->wbuf = v->bufs + VCON_OUT_BUF;
	r = virtio_dev_init(&v->vdev, &vcon_vops, "virtio-console", b, 1ull << F_MULTIPORT,
			    VCON_NQUEUES, VCON_QUEUE_SIZE, VCON_CFG_SIZE);
	if (r < 0)
		goto err_free;
	r = evloop_notifier_add(b->loop, flush, v, &v->flush_notifier);
	if (r < 0)
		goto err_fini;
	pthread_mutex_init(&v->out_lock, NULL);
	v->tx_cur = (struct virtq_elem){.cap = VCON_MAX_IOV, .iov = v->tx_iov};
	v->board = b;
	v->con = b->console;
	v->dev.ops = &vcon_ops;
	snprintf(v->dev.name, sizeof(v->dev.name), "virtio-console");
	if (v->con) {
		chardev_set_input_handler(v->con, input_ready, v);
		v->input_attached = true;
	}
	*out = &v->dev;
	return 0;

err_fini:
	virtio_dev_fini(&v->vdev);
err_free:
	core_free(v->bufs);
	core_free(v);
	return r;
}

static const struct device_type vcon_type = {
	.name = "virtio-console",
	.option = "virtio-console",
	.usage = "",
	.help = "the console on a virtio-console port: hvc0 in Linux (the default command line "
		"becomes console=hvc0); the UART then only prints. Once per machine",
	.order = 60,
	.arg_optional = true,
	.console = "hvc0",
	.create = vcon_create,
};
DEVICE_TYPE(vcon_type)
