/*
 * Network backends (see net.h): opening one by kind, closing.
 */
#include "net/net.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

int net_backend_open(struct evloop *loop, const struct net_options *opt, struct net_backend **out,
		     char *err, size_t errlen)
{
	if (!opt->kind || !*opt->kind) {
		snprintf(err, errlen, "--net: missing backend: want 'user' or 'tap' first");
		return -EINVAL;
	}
	if (!strcmp(opt->kind, "user"))
		return net_user_open(loop, opt, out, err, errlen);
	if (!strcmp(opt->kind, "tap"))
		return net_tap_open(loop, opt, out, err, errlen);
	snprintf(err, errlen, "--net: unknown backend '%s': want 'user' or 'tap'", opt->kind);
	return -EINVAL;
}

void net_backend_close(struct net_backend *nb)
{
	if (!nb)
		return;
	net_hold_stop(nb);
	nb->ops->close(nb);
}

/* Frames held: u32 length then the bytes, back to back. */
struct net_hold {
	uint8_t *buf;
	size_t len, cap, sealed;
	uint64_t dropped;
};

int net_hold_start(struct net_backend *nb)
{
	if (nb->hold)
		return 0;
	nb->hold = core_calloc(1, sizeof(*nb->hold));
	return nb->hold ? 0 : -ENOMEM;
}

bool net_hold_frame(struct net_backend *nb, const uint8_t *buf, size_t len)
{
	struct net_hold *h = nb->hold;
	size_t need;

	if (!h)
		return false;
	need = h->len + 4 + len;
	if (need > h->cap && need <= NET_HOLD_MAX) {
		size_t cap = h->cap ? h->cap : 65536;
		uint8_t *p;
		while (cap < need)
			cap *= 2;
		p = core_realloc(h->buf, cap);
		if (p) {
			h->buf = p;
			h->cap = cap;
		}
	}
	if (need > h->cap) {
		h->dropped++;
		return true;
	}
	memcpy(h->buf + h->len, &(uint32_t){(uint32_t)len}, 4);
	memcpy(h->buf + h->len + 4, buf, len);
	h->len = need;
	return true;
}

void net_hold_seal(struct net_backend *nb)
{
	if (nb->hold)
		nb->hold->sealed = nb->hold->len;
}

/* Sends the first `n` bytes of held frames (the hold is off meanwhile). */
static void send_held(struct net_backend *nb, size_t n)
{
	struct net_hold *h = nb->hold;

	nb->hold = NULL;
	for (size_t off = 0; off + 4 <= n;) {
		uint32_t len;
		memcpy(&len, h->buf + off, 4);
		/* -EAGAIN: the host cannot take it now; a held frame is then lost, as on a
		 * congested wire (the guest's TCP sends it again). */
		nb->ops->send(nb, h->buf + off + 4, len);
		off += 4 + len;
	}
	memmove(h->buf, h->buf + n, h->len - n);
	h->len -= n;
	h->sealed = 0;
	nb->hold = h;
}

void net_hold_release(struct net_backend *nb)
{
	if (nb->hold && nb->hold->sealed)
		send_held(nb, nb->hold->sealed);
}

void net_hold_stop(struct net_backend *nb)
{
	struct net_hold *h = nb->hold;

	if (!h)
		return;
	send_held(nb, h->len);
	nb->hold = NULL;
	core_free(h->buf);
	core_free(h);
}
