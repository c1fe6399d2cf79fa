/*
 * The I/O event loop (see evloop.h). Each iteration builds one pollfd array: the wake-up
 * eventfd first, then every live watch, then whatever the sources add; the timeout is the
 * nearest armed timer. Objects deleted during an iteration are only marked dead and freed
 * at its end, so a callback may delete itself or others safely.
 */
#include "core/clock.h"
#include "core/evloop.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"

struct evloop_watch {
	struct evloop_watch *next;
	struct evloop *loop;
	int fd;
	short events;
	bool dead;
	int idx; /* index in this iteration's pollfd array, -1 if not polled */
	evloop_fd_fn fn;
	void *opaque;
};

struct evloop_timer {
	struct evloop_timer *next;
	struct evloop *loop;
	uint64_t when;	/* 0 = disarmed */
	uint64_t armed; /* the loop's timer pass when it was last armed */
	bool dead;
	evloop_fn fn;
	void *opaque;
};

struct evloop_notifier {
	struct evloop_notifier *next;
	struct evloop *loop;
	int pending; /* atomic */
	bool dead;
	evloop_fn fn;
	void *opaque;
};

struct evloop_source {
	struct evloop_source *next;
	struct evloop *loop;
	bool dead;
	const struct evloop_source_ops *ops;
	void *opaque;
};

struct evloop_pollset {
	struct pollfd *fds;
	unsigned n, cap;
};

/* A synchronous cross-thread call (evloop_call). */
struct evloop_callreq {
	struct evloop_callreq *next;
	evloop_fn fn;
	void *opaque;
	bool done;
};

struct evloop {
	int wake_fd; /* eventfd: notifiers, calls and stop requests */
	pthread_t thread;
	bool started;
	bool running;	/* under lock: calls are queued for the loop thread */
	int quit;	/* atomic */
	int notified;	/* atomic: some notifier is pending */
	pid_t loop_tid; /* 0 when no thread runs the loop */
	bool garbage;	/* something was marked dead this iteration */
	struct evloop_watch *watches;
	struct evloop_timer *timers;
	uint64_t timer_pass; /* run_timers calls so far */
	struct evloop_notifier *notifiers;
	struct evloop_source *sources;
	struct evloop_pollset ps;
	pthread_mutex_t lock; /* calls, and the cond below */
	pthread_cond_t cond;
	struct evloop_callreq *calls;
};

uint64_t evloop_now_ns(void)
{
	return core_now_ns();
}

static void wake(struct evloop *loop)
{
	uint64_t one = 1;

	/* A full counter (never in practice) still leaves the fd readable: nothing lost. */
	if (write(loop->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("evloop: wake-up write failed: %s", strerror(errno));
}

int evloop_create(struct evloop **out)
{
	struct evloop *loop = core_calloc(1, sizeof(*loop));

	if (!loop)
		return -ENOMEM;
	loop->ps.cap = 16; /* so that the wake-up fd always fits (iterate) */
	loop->ps.fds = core_calloc(loop->ps.cap, sizeof(*loop->ps.fds));
	if (!loop->ps.fds) {
		core_free(loop);
		return -ENOMEM;
	}
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0) {
		int r = -errno;
		core_free(loop->ps.fds);
		core_free(loop);
		return r;
	}
	pthread_mutex_init(&loop->lock, NULL);
	pthread_cond_init(&loop->cond, NULL);
	*out = loop;
	return 0;
}

#define FREE_LIST(type, head)                                                                      \
	do {                                                                                       \
		for (type *p_ = (head), *n_; p_; p_ = n_) {                                        \
			n_ = p_->next;                                                             \
			core_free(p_);                                                             \
		}                                                                                  \
	} while (0)

void evloop_destroy(struct evloop *loop)
{
	if (!loop)
		return;
	evloop_stop(loop);
	FREE_LIST(struct evloop_watch, loop->watches);
	FREE_LIST(struct evloop_timer, loop->timers);
	FREE_LIST(struct evloop_notifier, loop->notifiers);
	FREE_LIST(struct evloop_source, loop->sources);
	core_free(loop->ps.fds);
	close(loop->wake_fd);
	pthread_mutex_destroy(&loop->lock);
	pthread_cond_destroy(&loop->cond);
	core_free(loop);
}

bool evloop_on_thread(const struct evloop *loop)
{
	return __atomic_load_n(&loop->loop_tid, __ATOMIC_ACQUIRE) == gettid();
}

/* ---- registration (loop thread or before start) ---- */

int evloop_watch_add(struct evloop *loop, int fd, short events, evloop_fd_fn fn, void *opaque,
		     struct evloop_watch **out)
{
	struct evloop_watch *w = core_calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	*w = (struct evloop_watch){.next = loop->watches,
				   .loop = loop,
				   .fd = fd,
				   .events = events,
				   .idx = -1,
				   .fn = fn,
				   .opaque = opaque};
	loop->watches = w;
	*out = w;
	return 0;
}

void evloop_watch_set(struct evloop_watch *w, short events)
{
	w->events = events;
}

void evloop_watch_del(struct evloop_watch *w)
{
	if (!w)
		return;
	w->dead = true;
	w->loop->garbage = true;
}

int evloop_timer_add(struct evloop *loop, evloop_fn fn, void *opaque, struct evloop_timer **out)
{
	struct evloop_timer *t = core_calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	*t = (struct evloop_timer){.next = loop->timers, .loop = loop, .fn = fn, .opaque = opaque};
	loop->timers = t;
	*out = t;
	return 0;
}

void evloop_timer_arm(struct evloop_timer *t, uint64_t when_ns)
{
	t->when = when_ns ? when_ns : 1;
	t->armed = t->loop->timer_pass;
}

void evloop_timer_disarm(struct evloop_timer *t)
{
	t->when = 0;
}

void evloop_timer_del(struct evloop_timer *t)
{
	if (!t)
		return;
	t->dead = true;
	t->when = 0;
	t->loop->garbage = true;
}

int evloop_notifier_add(struct evloop *loop, evloop_fn fn, void *opaque,
			struct evloop_notifier **out)
{
	struct evloop_notifier *n = core_calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	*n = (struct evloop_notifier){
		.next = loop->notifiers, .loop = loop, .fn = fn, .opaque = opaque};
	loop->notifiers = n;
	*out = n;
	return 0;
}

void evloop_notify(struct evloop_notifier *n)
{
	struct evloop *loop = n->loop;

	if (__atomic_exchange_n(&n->pending, 1, __ATOMIC_ACQ_REL))
		return; /* already pending: the loop has been or will be woken */
	__atomic_store_n(&loop->notified, 1, __ATOMIC_RELEASE);
	wake(loop);
}

void evloop_notifier_del(struct evloop_notifier *n)
{
	if (!n)
		return;
	n->dead = true;
	n->loop->garbage = true;
}

int evloop_source_add(struct evloop *loop, const struct evloop_source_ops *ops, void *opaque,
		      struct evloop_source **out)
{
	struct evloop_source *s = core_calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	*s = (struct evloop_source){
		.next = loop->sources, .loop = loop, .ops = ops, .opaque = opaque};
	loop->sources = s;
	*out = s;
	return 0;
}

void evloop_source_del(struct evloop_source *s)
{
	if (!s)
		return;
	s->dead = true;
	s->loop->garbage = true;
}

int evloop_pollfd_add(struct evloop_pollset *ps, int fd, short events)
{
	if (ps->n == ps->cap) {
		unsigned cap = ps->cap ? ps->cap * 2 : 16;
		struct pollfd *fds = core_realloc(ps->fds, cap * sizeof(*fds));
		if (!fds)
			return -1;
		ps->fds = fds;
		ps->cap = cap;
	}
	ps->fds[ps->n] = (struct pollfd){.fd = fd, .events = events};
	return (int)ps->n++;
}

short evloop_pollfd_revents(const struct evloop_pollset *ps, int idx)
{
	if (idx < 0 || (unsigned)idx >= ps->n)
		return 0;
	return ps->fds[idx].revents;
}

/* ---- the loop ---- */

#define SWEEP(type, headp)                                                                         \
	do {                                                                                       \
		for (type **pp_ = (headp); *pp_;) {                                                \
			type *p_ = *pp_;                                                           \
			if (p_->dead) {                                                            \
				*pp_ = p_->next;                                                   \
				core_free(p_);                                                     \
			} else {                                                                   \
				pp_ = &p_->next;                                                   \
			}                                                                          \
		}                                                                                  \
	} while (0)

static void sweep(struct evloop *loop)
{
	if (!loop->garbage)
		return;
	loop->garbage = false;
	SWEEP(struct evloop_watch, &loop->watches);
	SWEEP(struct evloop_timer, &loop->timers);
	SWEEP(struct evloop_notifier, &loop->notifiers);
	SWEEP(struct evloop_source, &loop->sources);
}

unsigned evloop_armed_timers(const struct evloop *loop)
{
	unsigned n = 0;

	for (const struct evloop_timer *t = loop->timers; t; t = t->next)
		n += !t->dead && t->when;
	return n;
}

/* Milliseconds until the nearest timer, rounded up; -1 when none is armed. */
static int timer_timeout(const struct evloop *loop, uint64_t now)
{
	uint64_t best = 0;

	for (const struct evloop_timer *t = loop->timers; t; t = t->next)
		if (t->when && (!best || t->when < best))
			best = t->when;
	if (!best)
		return -1;
	if (best <= now)
		return 0;
	if (best - now > 3600ull * 1000000000ull)
		return 3600 * 1000;
	return (int)((best - now + 999999) / 1000000);
}

/* Fires the timers due now, earliest deadline first (the list is in creation order,
 * newest first: a late wake-up that finds several due must not run them out of order).
 * A timer a callback re-arms for a time already past waits for the next iteration. */
static void run_timers(struct evloop *loop)
{
	uint64_t now = evloop_now_ns(), pass = ++loop->timer_pass;

	for (;;) {
		struct evloop_timer *first = NULL;

		for (struct evloop_timer *t = loop->timers; t; t = t->next)
			if (!t->dead && t->when && t->when <= now && t->armed < pass &&
			    (!first || t->when < first->when))
				first = t;
		if (!first)
			return;
		first->when = 0;
		first->fn(first->opaque);
	}
}

static void run_calls(struct evloop *loop)
{
	pthread_mutex_lock(&loop->lock);
	while (loop->calls) {
		struct evloop_callreq *c = loop->calls;
		loop->calls = c->next;
		pthread_mutex_unlock(&loop->lock);
		c->fn(c->opaque);
		pthread_mutex_lock(&loop->lock);
		c->done = true;
		pthread_cond_broadcast(&loop->cond);
	}
	pthread_mutex_unlock(&loop->lock);
}

static void run_wakeups(struct evloop *loop)
{
	uint64_t v;

	if (read(loop->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("evloop: wake-up read failed: %s", strerror(errno));
	run_calls(loop);
	if (!__atomic_exchange_n(&loop->notified, 0, __ATOMIC_ACQ_REL))
		return;
	for (struct evloop_notifier *n = loop->notifiers; n; n = n->next)
		if (!n->dead && __atomic_exchange_n(&n->pending, 0, __ATOMIC_ACQ_REL))
			n->fn(n->opaque);
}

static void iterate(struct evloop *loop)
{
	struct evloop_pollset *ps = &loop->ps;
	int timeout = timer_timeout(loop, evloop_now_ns());

	ps->n = 0;
	evloop_pollfd_add(ps, loop->wake_fd, POLLIN); /* cannot fail: cap >= 16 */
	for (struct evloop_watch *w = loop->watches; w; w = w->next)
		w->idx = (!w->dead && w->events) ? evloop_pollfd_add(ps, w->fd, w->events) : -1;
	for (struct evloop_source *s = loop->sources; s; s = s->next)
		if (!s->dead)
			s->ops->prepare(s->opaque, ps, &timeout);
	if (poll(ps->fds, ps->n, timeout) < 0) {
		if (errno != EINTR)
			log_warn("evloop: poll failed: %s", strerror(errno));
		return;
	}
	if (ps->n && ps->fds[0].revents)
		run_wakeups(loop);
	for (struct evloop_watch *w = loop->watches; w; w = w->next) {
		short re = (short)(w->idx >= 0 ? evloop_pollfd_revents(ps, w->idx) : 0);
		if (re && !w->dead)
			w->fn(w->opaque, w->fd, (unsigned)(unsigned short)re);
	}
	for (struct evloop_source *s = loop->sources; s; s = s->next)
		if (!s->dead)
			s->ops->dispatch(s->opaque, ps);
	run_timers(loop);
	sweep(loop);
}

static void set_running(struct evloop *loop, bool running)
{
	pthread_mutex_lock(&loop->lock);
	loop->running = running;
	pthread_mutex_unlock(&loop->lock);
}

void evloop_run(struct evloop *loop)
{
	set_running(loop, true);
	__atomic_store_n(&loop->loop_tid, gettid(), __ATOMIC_RELEASE);
	while (!__atomic_load_n(&loop->quit, __ATOMIC_ACQUIRE))
		iterate(loop);
	__atomic_store_n(&loop->quit, 0, __ATOMIC_RELEASE);
	set_running(loop, false);
	run_calls(loop); /* calls queued before `running` dropped still run */
	__atomic_store_n(&loop->loop_tid, 0, __ATOMIC_RELEASE);
}

void evloop_quit(struct evloop *loop)
{
	__atomic_store_n(&loop->quit, 1, __ATOMIC_RELEASE);
	wake(loop);
}

static void *loop_thread(void *arg)
{
	evloop_run(arg);
	return NULL;
}

int evloop_start(struct evloop *loop, const char *name)
{
	char buf[16];
	int r;

	set_running(loop, true); /* calls made before the thread runs wait for it */
	r = pthread_create(&loop->thread, NULL, loop_thread, loop);
	if (r) {
		set_running(loop, false);
		return -r;
	}
	loop->started = true;
	snprintf(buf, sizeof(buf), "%s", name);
	pthread_setname_np(loop->thread, buf);
	return 0;
}

void evloop_stop(struct evloop *loop)
{
	if (!loop->started)
		return;
	evloop_quit(loop);
	pthread_join(loop->thread, NULL);
	loop->started = false;
}

void evloop_call(struct evloop *loop, evloop_fn fn, void *opaque)
{
	struct evloop_callreq c = {.fn = fn, .opaque = opaque};

	if (evloop_on_thread(loop)) {
		fn(opaque);
		return;
	}
	pthread_mutex_lock(&loop->lock);
	if (!loop->running) {
		pthread_mutex_unlock(&loop->lock);
		fn(opaque);
		return;
	}
	c.next = loop->calls;
	loop->calls = &c;
	wake(loop);
	while (!c.done)
		pthread_cond_wait(&loop->cond, &loop->lock);
	pthread_mutex_unlock(&loop->lock);
}
