/*
 * The "user" network backend: libslirp (4.7) runs a small TCP/IP stack that NATs the
 * guest's connections onto ordinary host sockets, serves DHCP and forwards DNS, and
 * listens on host ports forwarded to guest ports (hostfwd). Defaults as QEMU's: network
 * 10.0.2.0/24, host (gateway) 10.0.2.2, DNS 10.0.2.3, the guest's DHCP address 10.0.2.15.
 *
 * libslirp is single-threaded: every call into it is made on the loop thread (or before
 * the loop runs). It is driven as an evloop source: prepare() asks slirp for the sockets
 * it wants polled (slirp_pollfds_fill) and the time of its next TCP timer, dispatch()
 * hands back the results (slirp_pollfds_poll); slirp's own timers are evloop timers.
 *
 * Frames slirp emits for the guest go straight to the peer; while the guest has no
 * receive buffers they are queued (at most USER_HELD_MAX frames, USER_HELD_BYTES bytes;
 * later ones are dropped, as QEMU does, and TCP retransmits).
 */
#include "net/net.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <slirp/libslirp.h>

#include "core/alloc.h"
#include "core/evloop.h"
#include "core/log.h"
#include "core/sbuf.h"
#include "core/util.h"

/* libslirp is not linked: it pulls in glib and pcre2, whose loading and relocation cost
 * every `lodge` process (a Wasm guest's start most of all) about 1.8 ms though only
 * `--net user` uses them. Each backend dlopen()s it by its soname (after the first, glibc
 * finds the loaded copy without a file system lookup, which net_user_preload relies on)
 * and looks up the functions below into its own table. */
#define SLIRP_SONAME  "libslirp.so.0"
#define SLIRP_PACKAGE "libslirp0"
#define SLIRP_FUNCS(X)                                                                             \
	X(slirp_new)                                                                               \
	X(slirp_cleanup)                                                                           \
	X(slirp_input)                                                                             \
	X(slirp_pollfds_fill)                                                                      \
	X(slirp_pollfds_poll)                                                                      \
	X(slirp_add_hostfwd)                                                                       \
	X(slirp_state_save)                                                                        \
	X(slirp_state_version)                                                                     \
	X(slirp_state_load)

struct slirp_lib {
	void *handle;
#define SLIRP_FIELD(f) __typeof__(f) *f;
	SLIRP_FUNCS(SLIRP_FIELD)
#undef SLIRP_FIELD
};

#define USER_HELD_MAX	512
#define USER_HELD_BYTES (4u << 20)

struct held_frame {
	struct held_frame *next;
	size_t len;
	uint8_t data[];
};

struct user_timer {
	struct net_user *u;
	struct evloop_timer *t;
	SlirpTimerCb cb;
	void *cb_opaque;
};

struct net_user {
	struct net_backend nb;
	struct evloop *loop;
	struct slirp_lib lib;
	Slirp *slirp;
	struct evloop_source *src;
	struct evloop_pollset *ps; /* between prepare and dispatch */
	struct in_addr guest;	   /* the first DHCP address: default hostfwd target */
	/* Frames the guest had no room for, oldest first. */
	struct held_frame *held, **held_tail;
	unsigned nheld;
	size_t held_bytes;
	bool paused;	/* the peer said -EAGAIN: hold everything until rx_ready */
	bool delivered; /* frames went to the peer since the last receive_flush */
};

static struct net_user *to_user(struct net_backend *nb)
{
	return container_of(nb, struct net_user, nb);
}

/* ---- frames for the guest ---- */

static void flush(struct net_user *u)
{
	if (u->delivered) {
		u->delivered = false;
		u->nb.peer.receive_flush(u->nb.peer.opaque);
	}
}

static void hold(struct net_user *u, const void *buf, size_t len)
{
	struct held_frame *f;

	if (u->nheld >= USER_HELD_MAX || u->held_bytes + len > USER_HELD_BYTES)
		return; /* dropped: the guest is not reading */
	f = core_alloc(sizeof(*f) + len);
	if (!f)
		return;
	f->next = NULL;
	f->len = len;
	memcpy(f->data, buf, len);
	*u->held_tail = f;
	u->held_tail = &f->next;
	u->nheld++;
	u->held_bytes += len;
}

static void drop_held(struct net_user *u)
{
	while (u->held) {
		struct held_frame *f = u->held;
		u->held = f->next;
		core_free(f);
	}
	u->held_tail = &u->held;
	u->nheld = 0;
	u->held_bytes = 0;
}

/* slirp's send_packet: a frame for the guest. */
static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct net_user *u = opaque;

	if (len > NET_MAX_FRAME)
		return (ssize_t)len;
	if (!u->paused && !u->held) {
		if (u->nb.peer.receive(u->nb.peer.opaque, buf, len) != -EAGAIN) {
			u->delivered = true;
			return (ssize_t)len;
		}
		u->paused = true;
	}
	hold(u, buf, len);
	return (ssize_t)len;
}

static void user_rx_ready(struct net_backend *nb)
{
	struct net_user *u = to_user(nb);

	u->paused = false;
	while (u->held) {
		struct held_frame *f = u->held;
		if (nb->peer.receive(nb->peer.opaque, f->data, f->len) == -EAGAIN) {
			u->paused = true;
			break;
		}
		u->delivered = true;
		u->held = f->next;
		u->nheld--;
		u->held_bytes -= f->len;
		core_free(f);
	}
	if (!u->held)
		u->held_tail = &u->held;
	flush(u);
}

/* ---- frames from the guest ---- */

static int user_send(struct net_backend *nb, const uint8_t *buf, size_t len)
{
	struct net_user *u = to_user(nb);

	if (net_hold_frame(nb, buf, len)) /* replication holds it back */
		return 0;
	/* slirp answers some frames at once (ARP, DHCP, ICMP to the host): they reach the
	 * peer from inside slirp_input. */
	u->lib.slirp_input(u->slirp, buf, (int)len);
	flush(u);
	return 0;
}

/* ---- slirp's callbacks: clock, timers, polling ---- */

static void cb_guest_error(const char *msg, void *opaque)
{
	(void)opaque;
	log_debug("net user: guest error: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	(void)opaque;
	return (int64_t)evloop_now_ns();
}

static void timer_fire(void *opaque)
{
	struct user_timer *t = opaque;

	t->cb(t->cb_opaque);
	flush(t->u);
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct net_user *u = opaque;
	struct user_timer *t = core_calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	*t = (struct user_timer){.u = u, .cb = cb, .cb_opaque = cb_opaque};
	if (evloop_timer_add(u->loop, timer_fire, t, &t->t) < 0) {
		core_free(t);
		return NULL;
	}
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct user_timer *t = timer;

	(void)opaque;
	if (!t)
		return;
	evloop_timer_del(t->t);
	core_free(t);
}

/* expire_time is in milliseconds of clock_get_ns's clock. */
static void cb_timer_mod(void *timer, int64_t expire_time, void *opaque)
{
	struct user_timer *t = timer;

	(void)opaque;
	if (t)
		evloop_timer_arm(t->t, expire_time > 0 ? (uint64_t)expire_time * 1000000u : 1);
}

static void cb_register_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque; /* poll sets are rebuilt every iteration (prepare) */
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

static void cb_notify(void *opaque)
{
	(void)opaque; /* called on the loop thread, whose next prepare() sees the change */
}

static const SlirpCb user_callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_new = cb_timer_new,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
};

static int cb_add_poll(int fd, int events, void *opaque)
{
	struct net_user *u = opaque;
	short ev = 0;

	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	return evloop_pollfd_add(u->ps, fd, ev);
}

static int cb_get_revents(int idx, void *opaque)
{
	struct net_user *u = opaque;
	short re = evloop_pollfd_revents(u->ps, idx);
	int r = 0;

	if (re & POLLIN)
		r |= SLIRP_POLL_IN;
	if (re & POLLOUT)
		r |= SLIRP_POLL_OUT;
	if (re & POLLPRI)
		r |= SLIRP_POLL_PRI;
	if (re & (POLLERR | POLLNVAL))
		r |= SLIRP_POLL_ERR;
	if (re & POLLHUP)
		r |= SLIRP_POLL_HUP;
	return r;
}

static void src_prepare(void *opaque, struct evloop_pollset *ps, int *timeout_ms)
{
	struct net_user *u = opaque;
	uint32_t t = *timeout_ms < 0 ? UINT32_MAX : (uint32_t)*timeout_ms;

	u->ps = ps;
	u->lib.slirp_pollfds_fill(u->slirp, &t, cb_add_poll, u);
	*timeout_ms = t == UINT32_MAX ? -1 : (int)(t > INT_MAX ? INT_MAX : t);
}

static void src_dispatch(void *opaque, struct evloop_pollset *ps)
{
	struct net_user *u = opaque;

	u->ps = ps;
	u->lib.slirp_pollfds_poll(u->slirp, 0, cb_get_revents, u);
	flush(u);
}

static const struct evloop_source_ops user_source_ops = {
	.prepare = src_prepare,
	.dispatch = src_dispatch,
};

/* ---- snapshots ---- */

static ssize_t save_write(const void *buf, size_t len, void *opaque)
{
	sbuf_put(opaque, buf, len);
	return (ssize_t)len;
}

/* A u32 slirp state version, a u32 length, then slirp's bytes. Only what slirp saves:
 * its counters, DHCP leases and connections to guest forwards; connections through
 * host sockets cannot be restored and are reset (the guest sees them fail). */
static int user_save(struct net_backend *nb, struct sbuf *out)
{
	struct net_user *u = to_user(nb);
	struct sbuf tmp = {0};

	u->lib.slirp_state_save(u->slirp, save_write, &tmp);
	if (tmp.err) {
		sbuf_fini(&tmp);
		return tmp.err;
	}
	sbuf_put_u32(out, (uint32_t)u->lib.slirp_state_version());
	sbuf_put_u32(out, (uint32_t)tmp.len);
	sbuf_put(out, tmp.data, tmp.len);
	sbuf_fini(&tmp);
	return out->err;
}

static ssize_t load_read(void *buf, size_t len, void *opaque)
{
	struct sreader *in = opaque;
	size_t n = len < in->len - in->off ? len : in->len - in->off;

	memcpy(buf, in->data + in->off, n);
	in->off += n;
	return (ssize_t)n;
}

static int user_load(struct net_backend *nb, struct sreader *in)
{
	struct net_user *u = to_user(nb);
	uint32_t version = sread_u32(in), len = sread_u32(in);
	struct sreader blob;

	if (in->err || len > in->len - in->off || version > INT_MAX)
		return -EINVAL;
	sreader_init(&blob, in->data + in->off, len);
	in->off += len;
	drop_held(u);
	u->paused = false;
	return u->lib.slirp_state_load(u->slirp, (int)version, load_read, &blob) < 0 ? -EINVAL : 0;
}

static void user_close(struct net_backend *nb)
{
	struct net_user *u = to_user(nb);

	evloop_source_del(u->src);
	if (u->slirp)
		u->lib.slirp_cleanup(u->slirp);
	if (u->lib.handle)
		dlclose(u->lib.handle); /* RTLD_NODELETE: it stays mapped for the next one */
	drop_held(u);
	core_free(u);
}

static const struct net_backend_ops user_ops = {
	.send = user_send,
	.rx_ready = user_rx_ready,
	.save = user_save,
	.load = user_load,
	.close = user_close,
};

/* ---- options ---- */

static bool parse_addr(const char *s, struct in_addr *out)
{
	return inet_pton(AF_INET, s, out) == 1;
}

/* A port number 1..65535, nothing else. */
static bool parse_port(const char *s, int *out)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return false;
	*out = (int)v;
	return true;
}

struct hostfwd {
	bool udp;
	struct in_addr haddr, gaddr;
	int hport, gport;
};

/* "[tcp|udp]:[ADDR]:PORT-[GADDR]:GPORT" (QEMU's syntax; an empty ADDR listens on every
 * interface, an empty GADDR is the guest's DHCP address). */
static int parse_hostfwd(const char *spec, struct in_addr guest, struct hostfwd *fw, char *err,
			 size_t errlen)
{
	char buf[128], *proto, *host, *hport, *gaddr, *gport;
	const char *what = NULL;

	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "--net user: hostfwd '%.40s...': too long", spec);
		return -EINVAL;
	}
	strcpy(buf, spec);
	proto = buf;
	host = strchr(proto, ':');
	gaddr = host ? strchr(host + 1, '-') : NULL;
	hport = gaddr ? memrchr(host + 1, ':', (size_t)(gaddr - host - 1)) : NULL;
	gport = gaddr ? strrchr(gaddr + 1, ':') : NULL;
	if (!host || !gaddr || !hport || !gport) {
		snprintf(err, errlen,
			 "--net user: hostfwd '%s': want [tcp|udp]:[ADDR]:PORT-[GUESTADDR]:PORT "
			 "(e.g. hostfwd=tcp:127.0.0.1:2222-:22)",
			 spec);
		return -EINVAL;
	}
	*host++ = *hport++ = *gaddr++ = *gport++ = 0;
	*fw = (struct hostfwd){.gaddr = guest};
	fw->udp = !strcmp(proto, "udp");
	if (!fw->udp && *proto && strcmp(proto, "tcp"))
		what = "protocol: want tcp or udp";
	else if (*host && !parse_addr(host, &fw->haddr))
		what = "host address: want an IPv4 address or nothing (all interfaces)";
	else if (!parse_port(hport, &fw->hport))
		what = "host port: want 1..65535";
	else if (*gaddr && !parse_addr(gaddr, &fw->gaddr))
		what = "guest address: want an IPv4 address or nothing (the guest's DHCP address)";
	else if (!parse_port(gport, &fw->gport))
		what = "guest port: want 1..65535";
	if (what) {
		snprintf(err, errlen, "--net user: hostfwd '%s': bad %s", spec, what);
		return -EINVAL;
	}
	return 0;
}

static int add_hostfwd(struct net_user *u, const char *spec, char *err, size_t errlen)
{
	struct hostfwd fw;
	char a[INET_ADDRSTRLEN];
	int r = parse_hostfwd(spec, u->guest, &fw, err, errlen);

	if (r < 0)
		return r;
	errno = 0;
	if (u->lib.slirp_add_hostfwd(u->slirp, fw.udp, fw.haddr, fw.hport, fw.gaddr, fw.gport) == 0)
		return 0;
	r = errno ? -errno : -EADDRINUSE;
	inet_ntop(AF_INET, &fw.haddr, a, sizeof(a));
	snprintf(err, errlen, "--net user: hostfwd %s %s:%d: cannot listen: %s%s",
		 fw.udp ? "udp" : "tcp", a, fw.hport, strerror(-r),
		 r == -EADDRINUSE ? " (pick another host port)" : "");
	return r;
}

/* ---- loading libslirp ---- */

static const char *slirp_path(void)
{
#ifdef LODGE_TEST_HOOKS
	/* Tests name a library that is not there to see the error a missing one gives. */
	const char *p = getenv("LODGE_TEST_LIBSLIRP");
	if (p && *p)
		return p;
#endif
	return SLIRP_SONAME;
}

static int slirp_lib_open(struct slirp_lib *l, char *err, size_t errlen)
{
	const char *path = slirp_path(), *missing = NULL;

	*l = (struct slirp_lib){0};
	l->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!l->handle) {
		const char *why = dlerror();
		snprintf(err, errlen,
			 "--net user: cannot load %s (%s): user networking needs libslirp; "
			 "install Debian's %s package (scripts/install-deps.sh does)",
			 path, why ? why : "not found", SLIRP_PACKAGE);
		return -ENOENT;
	}
#define SLIRP_LOOKUP(f)                                                                            \
	if (!missing && !(l->f = (__typeof__(f) *)dlsym(l->handle, #f)))                           \
		missing = #f;
	SLIRP_FUNCS(SLIRP_LOOKUP)
#undef SLIRP_LOOKUP
	if (missing) {
		snprintf(err, errlen,
			 "--net user: %s has no %s: Lodge needs libslirp 4.7 or later (Debian's "
			 "%s package)",
			 path, missing, SLIRP_PACKAGE);
		dlclose(l->handle);
		*l = (struct slirp_lib){0};
		return -ENOSYS;
	}
	return 0;
}

int net_user_preload(char *err, size_t errlen)
{
	struct slirp_lib l;
	int r = slirp_lib_open(&l, err, errlen);

	if (r == 0)
		dlclose(l.handle); /* stays mapped (RTLD_NODELETE) */
	return r;
}

/* The addresses of the virtual network: net=ADDR[/BITS], host=, dns=. */
static int parse_network(const struct net_options *opt, SlirpConfig *cfg, char *err, size_t errlen)
{
	char buf[32], *slash;
	unsigned long bits = 24;
	uint32_t mask, net;

	inet_pton(AF_INET, "10.0.2.0", &cfg->vnetwork);
	if (opt->net) {
		snprintf(buf, sizeof(buf), "%s", opt->net);
		slash = strchr(buf, '/');
		if (slash) {
			char *end;
			*slash = 0;
			bits = strtoul(slash + 1, &end, 10);
			if (*end || slash[1] < '0' || slash[1] > '9' || bits < 8 || bits > 29)
				bits = 0;
		}
		if (!bits || !parse_addr(buf, &cfg->vnetwork)) {
			snprintf(err, errlen,
				 "--net user: net=%s: want an IPv4 network ADDR[/BITS] with 8 <= "
				 "BITS <= 29 (e.g. net=10.0.2.0/24)",
				 opt->net);
			return -EINVAL;
		}
	}
	mask = bits >= 32 ? ~0u : ~(~0u >> bits);
	net = ntohl(cfg->vnetwork.s_addr) & mask;
	cfg->vnetwork.s_addr = htonl(net);
	cfg->vnetmask.s_addr = htonl(mask);
	cfg->vhost.s_addr = htonl(net | 2);
	cfg->vnameserver.s_addr = htonl(net | 3);
	cfg->vdhcp_start.s_addr = htonl(net | 15);
	if ((opt->host && !parse_addr(opt->host, &cfg->vhost)) ||
	    (ntohl(cfg->vhost.s_addr) & mask) != net) {
		snprintf(err, errlen,
			 "--net user: host=%s: want an IPv4 address inside the network", opt->host);
		return -EINVAL;
	}
	if ((opt->dns && !parse_addr(opt->dns, &cfg->vnameserver)) ||
	    (ntohl(cfg->vnameserver.s_addr) & mask) != net) {
		snprintf(err, errlen, "--net user: dns=%s: want an IPv4 address inside the network",
			 opt->dns);
		return -EINVAL;
	}
	return 0;
}

int net_user_open(struct evloop *loop, const struct net_options *opt, struct net_backend **out,
		  char *err, size_t errlen)
{
	SlirpConfig cfg = {.version = 4, .in_enabled = true};
	struct net_user *u;
	int r;

	r = parse_network(opt, &cfg, err, errlen);
	if (r < 0)
		return r;
	u = core_calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	/* slirp computes the checksum of every packet it builds; its TCP takes segments of
	 * any size inside its window (and then acknowledges a super-frame once, which saves
	 * the emulated guest most of its ACK processing). */
	u->nb = (struct net_backend){
		.ops = &user_ops, .kind = "user", .rx_csum_valid = true, .big_segments = true};
	u->loop = loop;
	u->held_tail = &u->held;
	u->guest = cfg.vdhcp_start;
	r = slirp_lib_open(&u->lib, err, errlen);
	if (r < 0)
		goto err_free;
	u->slirp = u->lib.slirp_new(&cfg, &user_callbacks, u);
	if (!u->slirp) {
		snprintf(err, errlen, "--net user: libslirp could not start");
		r = -ENOMEM;
		goto err_free;
	}
	for (unsigned i = 0; i < opt->nhostfwd; i++) {
		r = add_hostfwd(u, opt->hostfwd[i], err, errlen);
		if (r < 0)
			goto err_free;
	}
	r = evloop_source_add(loop, &user_source_ops, u, &u->src);
	if (r < 0)
		goto err_free;
	*out = &u->nb;
	return 0;
err_free:
	user_close(&u->nb);
	return r;
}
