/*
 * WASI poll_oneoff: waits until at least one subscription fires — a clock (relative, on
 * the monotonic clock, or absolute on its own clock; full 64-bit deadlines) or an fd
 * ready to read or write (ppoll on every fd subscribed to, any number of subscriptions) —
 * and reports every one that has. Subscriptions and events are read and written in guest
 * memory through the checked accessors of host.h. A pause or stop asked for meanwhile
 * gives the call up (E_HELD); wasi_wait_fd waits the same way for one fd, for the
 * reads, writes and accepts that may block (wasi.c).
 */
#include "wasm/wasi/host.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

enum { SUB_CLOCK, SUB_FD_READ, SUB_FD_WRITE };

/* The fds to wait on: one pollfd per WASI fd, however many subscriptions name it, so any
 * number of subscriptions fits. */
struct poll_set {
	struct pollfd pfd[MAX_FDS + 1]; /* and the store's wake fd (wasi_poll_oneoff) */
	int16_t slot[MAX_FDS];		/* WASI fd -> index in pfd, -1: none */
	nfds_t np;
	bool dups; /* the pfd fds are dups (threads) */
};

struct poll_clock {
	uint32_t id;
	uint64_t timeout;
	uint16_t flags; /* 1: timeout is an absolute time of clock id */
};

static void read_clock(const uint8_t *s, struct poll_clock *k)
{
	memcpy(&k->id, s + 16, 4);
	memcpy(&k->timeout, s + 24, 8);
	memcpy(&k->flags, s + 40, 2);
}

/* Nanoseconds until the clock subscription fires, 0 once it has. A relative timeout counts
 * on the program's monotonic clock (wasm_store_clock: it stands still while paused) from
 * start, when poll_oneoff began; an absolute one on its own clock, the monotonic one being
 * the program's. All of it in 64 bits: 2^64-1 is a deadline that never comes. */
static uint64_t clock_left(const struct wasi *w, const struct poll_clock *k, uint64_t start)
{
	uint64_t end = k->timeout, now;
	clockid_t id;

	if (wasi_clock_id(k->id, &id))
		return 0;
	if (!(k->flags & 1)) {
		id = CLOCK_MONOTONIC;
		end = start + end < start ? UINT64_MAX : start + end;
	}
	now = id == CLOCK_MONOTONIC ? wasm_store_clock(w->store) : core_clock_ns(id);
	return end > now ? end - now : 0;
}

static uint32_t sub_fd(const uint8_t *s)
{
	uint32_t fd;

	memcpy(&fd, s + 16, 4);
	return fd;
}

/* Whether fd f may be polled for subscription type type: poll_fd_readwrite with fd_read
 * for reading, with fd_write for writing. */
static bool sub_allowed(const struct wasi_fd *f, uint8_t type)
{
	return has_rights(f, R_POLL_FD_READWRITE | (type == SUB_FD_READ ? R_FD_READ : R_FD_WRITE));
}

/* Fills set with the fds the subscriptions name (bad fds are left out: they fire at once
 * with EBADF, as fds without the rights do with ENOTCAPABLE). Returns E_INVAL for what
 * preview1 does not define: a subscription type, a clock id, a subclockflags bit. */
static uint32_t poll_collect(struct wasi *w, const uint8_t *subs, uint32_t n, struct poll_set *set)
{
	memset(set->slot, 0xff, sizeof(set->slot));
	set->np = 0;
	set->dups = w->shared;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *s = subs + 48 * (size_t)i;
		uint32_t fd = sub_fd(s);
		struct wasi_fd *f;
		struct poll_clock k;
		clockid_t id;
		if (s[8] == SUB_CLOCK) {
			read_clock(s, &k);
			if (wasi_clock_id(k.id, &id) || (k.flags & ~1u))
				return E_INVAL;
			continue;
		}
		if (s[8] > SUB_FD_WRITE)
			return E_INVAL;
		f = getfd(w, fd);
		if (!f || !sub_allowed(f, s[8]))
			continue;
		if (set->slot[fd] < 0) {
			int host = f->host;
			/* threads: a dup, which an fd_close elsewhere cannot take away */
			if (set->dups) {
				host = fcntl(f->host, F_DUPFD_CLOEXEC, 0);
				if (host < 0)
					return wasi_errno(errno);
			}
			set->slot[fd] = (int16_t)set->np;
			set->pfd[set->np].fd = host;
			set->pfd[set->np].revents = 0;
			set->pfd[set->np++].events = 0;
		}
		set->pfd[set->slot[fd]].events |= s[8] == SUB_FD_READ ? POLLIN : POLLOUT;
	}
	return E_SUCCESS;
}

/* Closes the dups poll_collect made. */
static void poll_release(struct poll_set *set)
{
	if (set->dups)
		for (nfds_t i = 0; i < set->np; i++)
			close(set->pfd[i].fd);
	set->np = 0;
}

/* How long to wait: until the first clock fires, 0 when something fires at once,
 * UINT64_MAX for "until an fd is ready". */
static uint64_t poll_wait_ns(struct wasi *w, const uint8_t *subs, uint32_t n, uint64_t start)
{
	uint64_t wait = UINT64_MAX;

	for (uint32_t i = 0; i < n && wait; i++) {
		const uint8_t *s = subs + 48 * (size_t)i;
		struct poll_clock k;
		uint64_t left;
		if (s[8] != SUB_CLOCK) {
			const struct wasi_fd *f = getfd(w, sub_fd(s));
			if (!f || !sub_allowed(f, s[8]))
				wait = 0;
			continue;
		}
		read_clock(s, &k);
		left = clock_left(w, &k, start);
		if (left < wait)
			wait = left;
	}
	return wait;
}

/* Whether subscription s fired; *err and *flags for its event. */
static bool sub_fired(struct wasi *w, const uint8_t *s, uint64_t start, const struct poll_set *set,
		      uint16_t *err, uint16_t *flags)
{
	const struct wasi_fd *f;
	const struct pollfd *p;
	struct poll_clock k;
	uint32_t fd;

	*err = 0;
	*flags = 0;
	if (s[8] == SUB_CLOCK) { /* (its id is known: poll_collect checked) */
		read_clock(s, &k);
		return clock_left(w, &k, start) == 0;
	}
	fd = sub_fd(s);
	f = getfd(w, fd);
	if (f && !sub_allowed(f, s[8])) { /* (such an fd may have no slot in the set) */
		*err = E_NOTCAPABLE;
		return true;
	}
	if (!f || set->pfd[set->slot[fd]].revents & POLLNVAL) {
		*err = E_BADF;
		return true;
	}
	p = &set->pfd[set->slot[fd]];
	if (p->revents & POLLHUP)
		*flags = 1; /* fd_readwrite hangup */
	return p->revents & (POLLERR | POLLHUP | (s[8] == SUB_FD_READ ? POLLIN : POLLOUT));
}

static uint32_t poll_events(struct wasi *w, const uint8_t *subs, uint32_t n, uint64_t start,
			    const struct poll_set *set, uint8_t *evs)
{
	uint32_t nev = 0;

	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *s = subs + 48 * (size_t)i;
		uint8_t *ev = evs + 32 * (size_t)nev;
		uint16_t err, flags;
		if (!sub_fired(w, s, start, set, &err, &flags))
			continue;
		memset(ev, 0, 32);
		memcpy(ev, s, 8);
		memcpy(ev + 8, &err, 2);
		ev[10] = s[8];
		memcpy(ev + 24, &flags, 2);
		nev++;
	}
	return nev;
}

/* Empties the store's wake fd *wake and fills *p to poll it with the others. Emptied
 * before the pause and stop flags are read (wasm_host_call_held): a request after that
 * writes it again. False (and *wake -1 from then on) when there is none to poll. */
static bool wake_arm(int *wake, struct pollfd *p)
{
	uint64_t count;

	if (*wake < 0)
		return false;
	if (read(*wake, &count, sizeof(count)) < 0 && errno != EAGAIN) {
		*wake = -1;
		return false;
	}
	*p = (struct pollfd){.fd = *wake, .events = POLLIN};
	return true;
}

uint32_t wasi_wait_fd(struct call *c, int fd, short events)
{
	int wake = wasm_host_call_wake_fd(c->hc);
	struct pollfd p[2] = {{.fd = fd, .events = events}};

	for (;;) {
		nfds_t np = wake_arm(&wake, &p[1]) ? 2 : 1;
		int r;
		if (wasm_host_call_held(c->hc))
			return E_HELD;
		r = poll(p, np, -1);
		if (r < 0 && errno != EINTR) /* (EINTR: a signal, its stop seen above) */
			return wasi_errno(errno);
		if (r > 0 && p[0].revents) /* an error or hangup too: the call made next says */
			return E_SUCCESS;
	}
}

/* Where the calling thread's poll_oneoff given up for a pause is kept: the main thread's
 * in the WASI state (a snapshot saves it), another thread's here. */
static struct wasi_poll_held *held_of(struct call *c)
{
	static _Thread_local struct wasi_poll_held thread_held;

	return c->hc->store == c->w->store ? &c->w->held : &thread_held;
}

/* When the call began: now, or when the same call (the same arguments, made again on the
 * same thread after it gave up for a pause or was restored) first began, so that a
 * relative clock keeps its deadline. */
static uint64_t poll_start(struct call *c, struct wasi_poll_held *h)
{
	uint64_t now = wasm_store_clock(c->w->store);
	bool same = h->on && h->subs == arg32(c, 0) && h->evs == arg32(c, 1) &&
		    h->n == arg32(c, 2) && h->nevents == arg32(c, 3) && h->start <= now;

	h->on = false;
	return same ? h->start : now;
}

/* Gives the call up (E_HELD) for the pause or stop asked for: nothing written, its start
 * kept for when it is made again. */
static uint32_t poll_held(struct call *c, struct wasi_poll_held *h, uint64_t start)
{
	*h = (struct wasi_poll_held){true,	  arg32(c, 0), arg32(c, 1),
				     arg32(c, 2), arg32(c, 3), start};
	return E_HELD;
}

/* Blocks until at least one subscription fires: a clock reached, an fd ready, or at once
 * for a bad fd (a clock id or flag preview1 does not define is EINVAL for the call). A
 * pause or stop asked for meanwhile (the store's wake fd, polled with the others) gives
 * the call up (E_HELD): it is made again after the pause, or after a restore of a
 * snapshot taken meanwhile, the relative clocks counting from when it was first made
 * (poll_start; a restore rebases that on its own clock, wasm/snap/wasi.c). */
uint32_t wasi_poll_oneoff(struct call *c)
{
	uint32_t n = arg32(c, 2), nev = 0, e;
	struct wasi_poll_held *h = held_of(c);
	uint64_t start = poll_start(c, h);
	int wake = wasm_host_call_wake_fd(c->hc);
	struct poll_set set;
	const uint8_t *subs;
	uint8_t *evs;

	if (n == 0)
		return E_INVAL;
	subs = gmem(c, arg32(c, 0), (uint64_t)n * 48);
	evs = gmem(c, arg32(c, 1), (uint64_t)n * 32);
	if (!subs || !evs)
		return E_OOB;
	/* the fd table under w->lock, the wait without it (threads, host.h) */
	pthread_mutex_lock(&c->w->lock);
	e = poll_collect(c->w, subs, n, &set);
	if (e) {
		poll_release(&set);
		pthread_mutex_unlock(&c->w->lock);
		return e;
	}
	while (nev == 0) {
		uint64_t wait = poll_wait_ns(c->w, subs, n, start);
		struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
		nfds_t np = set.np;
		int r;
		pthread_mutex_unlock(&c->w->lock);
		if (wait && wake_arm(&wake, &set.pfd[np])) /* its last slot, past the fds' */
			np++;
		if (wait && wasm_host_call_held(c->hc)) { /* (a call that need not wait ends) */
			e = E_HELD;
			pthread_mutex_lock(&c->w->lock);
			break;
		}
		/* ppoll takes the whole 64-bit range (poll's int milliseconds would not) */
		r = ppoll(set.pfd, np, wait == UINT64_MAX ? NULL : &ts, NULL);
		e = r < 0 && errno != EINTR ? wasi_errno(errno) : E_SUCCESS;
		pthread_mutex_lock(&c->w->lock);
		if (e)
			break;
		nev = poll_events(c->w, subs, n, start, &set, evs);
	}
	poll_release(&set);
	pthread_mutex_unlock(&c->w->lock);
	if (e == E_HELD)
		return poll_held(c, h, start);
	if (e)
		return e;
	return put32(c, arg32(c, 3), nev) ? E_SUCCESS : E_OOB;
}
