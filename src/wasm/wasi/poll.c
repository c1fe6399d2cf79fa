/*
 * WASI poll_oneoff: clock subscriptions (relative or absolute) and fd readiness (poll on at
 * most 64 fds). Subscriptions and events are read and written in guest memory through the
 * checked accessors of host.h.
 */
#include "wasm/wasi/host.h"

#include <errno.h>
#include <poll.h>

uint32_t wasi_poll_oneoff(struct call *c)
{
	uint32_t in = arg32(c, 0), out = arg32(c, 1), n = arg32(c, 2), nev = 0;
	const uint8_t *subs;
	uint8_t *evs;
	struct pollfd pfd[64];
	uint32_t pidx[64];
	int np = 0;
	int64_t wait_ns = -1;
	uint64_t now = now_ns(CLOCK_MONOTONIC), real = now_ns(CLOCK_REALTIME);

	if (n == 0)
		return E_INVAL;
	subs = gmem(c, in, (uint64_t)n * 48);
	evs = gmem(c, out, (uint64_t)n * 32);
	if (!subs || !evs)
		return E_FAULT;
	/* first pass: fds to poll and the earliest clock deadline */
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *s = subs + 48 * i;
		if (s[8] == 0) {
			uint32_t id;
			uint64_t t;
			uint16_t fl;
			int64_t left;
			memcpy(&id, s + 16, 4);
			memcpy(&t, s + 24, 8);
			memcpy(&fl, s + 40, 2);
			left = (fl & 1) ? (int64_t)(t - (id == 0 ? real : now)) : (int64_t)t;
			if (left < 0)
				left = 0;
			if (wait_ns < 0 || left < wait_ns)
				wait_ns = left;
		} else if (s[8] <= 2 && np < 64) {
			uint32_t fd;
			struct wasi_fd *f;
			memcpy(&fd, s + 16, 4);
			f = getfd(c->w, fd);
			pfd[np].fd = f ? f->host : -1;
			pfd[np].events = s[8] == 1 ? POLLIN : POLLOUT;
			pfd[np].revents = 0;
			pidx[np++] = i;
		}
	}
	if (np) {
		int r = poll(pfd, (nfds_t)np,
			     wait_ns < 0 ? -1 : (int)((uint64_t)wait_ns / 1000000u));
		if (r < 0 && errno != EINTR)
			return wasi_errno(errno);
	} else if (wait_ns > 0) {
		struct timespec ts = {(time_t)(wait_ns / 1000000000), (long)(wait_ns % 1000000000)};
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	now = now_ns(CLOCK_MONOTONIC);
	real = now_ns(CLOCK_REALTIME);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *s = subs + 48 * i;
		uint8_t *ev = evs + 32 * nev;
		uint16_t err = 0;
		bool ready = false;
		if (s[8] == 0) {
			uint32_t id;
			uint64_t t, start;
			uint16_t fl;
			memcpy(&id, s + 16, 4);
			memcpy(&t, s + 24, 8);
			memcpy(&fl, s + 40, 2);
			start = id == 0 ? real : now;
			ready = (fl & 1) ? start >= t : wait_ns == (int64_t)t || np == 0;
			if (id > 3) {
				ready = true;
				err = E_INVAL;
			}
		} else {
			for (int k = 0; k < np; k++) {
				if (pidx[k] != i)
					continue;
				ready = pfd[k].revents != 0;
				if (pfd[k].fd < 0) {
					ready = true;
					err = E_BADF;
				}
			}
		}
		if (!ready)
			continue;
		memset(ev, 0, 32);
		memcpy(ev, s, 8);
		memcpy(ev + 8, &err, 2);
		ev[10] = s[8];
		nev++;
	}
	return put32(c, arg32(c, 3), nev) ? E_SUCCESS : E_FAULT;
}
