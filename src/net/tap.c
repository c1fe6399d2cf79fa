/*
 * The "tap" network backend: an existing host tap interface (`ip tuntap add dev NAME mode
 * tap`), attached through /dev/net/tun with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR. Frames
 * carry a 12-byte virtio_net_hdr both ways, so checksum and segmentation offloads pass
 * between the guest and the host kernel untouched: the guest may send 64 KiB TCP
 * super-frames, and receives them once it accepted the offloads (set_offloads programs
 * TUNSETOFFLOAD with what the driver negotiated).
 *
 * Lodge never creates the interface: a missing one is an error, so a typo cannot leave a
 * stray interface behind. The fd is non-blocking and watched by the loop; while the
 * guest has no receive buffers the watch stops reading (the kernel queues, then drops)
 * and the one frame already read waits in `buf`.
 */
#include "net/net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/evloop.h"
#include "core/log.h"
#include "core/util.h"

#define TAP_BATCH 64 /* frames read per wake-up before other work gets a turn */
#define TAP_BUF	  (NET_VNET_HDR_LEN + NET_MAX_FRAME)

struct net_tap {
	struct net_backend nb;
	int fd;
	char ifname[IFNAMSIZ];
	struct evloop_watch *w;
	size_t held; /* length of a frame in buf the guest had no room for, 0 if none */
	bool rx_paused, tx_blocked, broken;
	bool logged_tx_error;
	uint8_t buf[TAP_BUF];
};

static struct net_tap *to_tap(struct net_backend *nb)
{
	return container_of(nb, struct net_tap, nb);
}

static void update_watch(struct net_tap *t)
{
	short ev = 0;

	if (!t->rx_paused && !t->broken)
		ev |= POLLIN;
	if (t->tx_blocked && !t->broken)
		ev |= POLLOUT;
	evloop_watch_set(t->w, ev);
}

/* Reads and delivers up to TAP_BATCH frames; stops when the guest has no room. */
static void read_frames(struct net_tap *t)
{
	bool delivered = false;

	for (unsigned i = 0; i < TAP_BATCH; i++) {
		ssize_t n = read(t->fd, t->buf, sizeof(t->buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				log_warn("net tap %s: read failed: %s; the NIC stops receiving",
					 t->ifname, strerror(errno));
				t->broken = true;
			}
			break;
		}
		if ((size_t)n <= NET_VNET_HDR_LEN)
			continue; /* nothing after the header: not a frame */
		if (t->nb.peer.receive(t->nb.peer.opaque, t->buf, (size_t)n) == -EAGAIN) {
			t->held = (size_t)n;
			t->rx_paused = true;
			break;
		}
		delivered = true;
	}
	if (delivered)
		t->nb.peer.receive_flush(t->nb.peer.opaque);
}

static void on_event(void *opaque, int fd, unsigned revents)
{
	struct net_tap *t = opaque;

	(void)fd;
	if ((revents & POLLOUT) && t->tx_blocked) {
		t->tx_blocked = false;
		t->nb.peer.send_ready(t->nb.peer.opaque);
	}
	if ((revents & (POLLIN | POLLERR | POLLHUP)) && !t->rx_paused && !t->broken)
		read_frames(t);
	if (revents & POLLNVAL)
		t->broken = true;
	update_watch(t);
}

static int tap_send(struct net_backend *nb, const uint8_t *buf, size_t len)
{
	struct net_tap *t = to_tap(nb);
	ssize_t n;

	if (net_hold_frame(nb, buf, len)) /* replication holds it back */
		return 0;
	do
		n = write(t->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return 0;
	if (errno == EAGAIN) {
		t->tx_blocked = true;
		update_watch(t);
		return -EAGAIN;
	}
	/* EIO while the interface is down, EINVAL for offload headers the kernel refuses:
	 * the frame is dropped, as a NIC with no link would. */
	if (!t->logged_tx_error) {
		log_warn("net tap %s: frame dropped: %s%s", t->ifname, strerror(errno),
			 errno == EIO ? " (is the interface up?)" : "");
		t->logged_tx_error = true;
	}
	return 0;
}

static void tap_rx_ready(struct net_backend *nb)
{
	struct net_tap *t = to_tap(nb);

	if (t->held) {
		if (nb->peer.receive(nb->peer.opaque, t->buf, t->held) == -EAGAIN)
			return;
		t->held = 0;
		nb->peer.receive_flush(nb->peer.opaque);
	}
	t->rx_paused = false;
	update_watch(t);
}

static void tap_set_offloads(struct net_backend *nb, unsigned offloads)
{
	struct net_tap *t = to_tap(nb);
	unsigned f = 0;

	if (offloads & NET_OFFLOAD_CSUM) {
		f |= TUN_F_CSUM;
		if (offloads & NET_OFFLOAD_TSO4)
			f |= TUN_F_TSO4;
		if (offloads & NET_OFFLOAD_TSO6)
			f |= TUN_F_TSO6;
		if ((offloads & NET_OFFLOAD_ECN) && (f & (TUN_F_TSO4 | TUN_F_TSO6)))
			f |= TUN_F_TSO_ECN;
	}
	if (ioctl(t->fd, TUNSETOFFLOAD, f) < 0)
		log_warn("net tap %s: cannot set offloads 0x%x: %s", t->ifname, f, strerror(errno));
}

static void tap_close(struct net_backend *nb)
{
	struct net_tap *t = to_tap(nb);

	evloop_watch_del(t->w);
	if (t->fd >= 0)
		close(t->fd);
	core_free(t);
}

static const struct net_backend_ops tap_ops = {
	.send = tap_send,
	.rx_ready = tap_rx_ready,
	.set_offloads = tap_set_offloads,
	.close = tap_close,
};

/* Attaches to interface `name`: one line in err on failure. */
static int attach(struct net_tap *t, const char *name, char *err, size_t errlen)
{
	struct ifreq ifr = {0};
	int hdrsz = NET_VNET_HDR_LEN, r;

	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "--net tap: cannot open /dev/net/tun: %s", strerror(-r));
		return r;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		if (r == -EINVAL)
			snprintf(err, errlen, "--net tap: interface '%s' is not a tap device",
				 name);
		else if (r == -EBUSY)
			snprintf(err, errlen,
				 "--net tap: tap '%s' is in use by another process (one "
				 "NIC per tap)",
				 name);
		else
			snprintf(err, errlen, "--net tap: cannot attach to tap '%s': %s%s", name,
				 strerror(-r),
				 r == -EPERM ? " (needs CAP_NET_ADMIN, or create the tap with "
					       "'ip tuntap add ... user USER')"
					     : "");
		return r;
	}
	/* 12 bytes: the header includes num_buffers (VERSION_1), which the tap skips. */
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdrsz) < 0 || ioctl(t->fd, TUNSETOFFLOAD, 0u) < 0) {
		r = -errno;
		snprintf(err, errlen, "--net tap: tap '%s': cannot set up virtio headers: %s", name,
			 strerror(-r));
		return r;
	}
	return 0;
}

int net_tap_open(struct evloop *loop, const struct net_options *opt, struct net_backend **out,
		 char *err, size_t errlen)
{
	struct net_tap *t;
	int r;

	if (!opt->ifname || !*opt->ifname) {
		snprintf(err, errlen, "--net tap: missing ifname=NAME (an existing tap interface)");
		return -EINVAL;
	}
	if (strlen(opt->ifname) >= IFNAMSIZ) {
		snprintf(err, errlen, "--net tap: ifname '%s': longer than %d characters",
			 opt->ifname, IFNAMSIZ - 1);
		return -EINVAL;
	}
	/* TUNSETIFF would create a missing interface; Lodge only attaches to existing ones. */
	if (!if_nametoindex(opt->ifname)) {
		snprintf(err, errlen,
			 "--net tap: no interface '%s' (create it first: ip tuntap add dev %s "
			 "mode tap)",
			 opt->ifname, opt->ifname);
		return -ENODEV;
	}
	t = core_calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->nb = (struct net_backend){.ops = &tap_ops, .kind = "tap", .vnet_hdr = true};
	t->fd = -1;
	snprintf(t->ifname, sizeof(t->ifname), "%s", opt->ifname);
	r = attach(t, opt->ifname, err, errlen);
	if (r < 0)
		goto err_close;
	r = evloop_watch_add(loop, t->fd, POLLIN, on_event, t, &t->w);
	if (r < 0)
		goto err_close;
	*out = &t->nb;
	return 0;
err_close:
	tap_close(&t->nb);
	return r;
}
