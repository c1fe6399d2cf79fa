/* Unit tests for the I/O event loop (core/evloop.c): watches, timers, notifiers from other
 * threads, synchronous calls, sources, and deletion from inside callbacks. */
#include "core/evloop.h"

#include <pthread.h>
#include <unistd.h>

#include "harness.h"

struct counter {
	struct evloop *loop;
	int hits;
	int quit_after;
	uint64_t when;
};

static void count_and_maybe_quit(void *opaque)
{
	struct counter *c = opaque;

	c->hits++;
	c->when = evloop_now_ns();
	if (c->hits >= c->quit_after)
		evloop_quit(c->loop);
}

static int timers_fire_in_order(void)
{
	struct evloop *loop;
	struct evloop_timer *t1, *t2;
	struct counter a = {.quit_after = 99}, b = {.quit_after = 1};
	uint64_t start;

	CHECK(evloop_create(&loop) == 0);
	a.loop = b.loop = loop;
	CHECK(evloop_timer_add(loop, count_and_maybe_quit, &a, &t1) == 0);
	CHECK(evloop_timer_add(loop, count_and_maybe_quit, &b, &t2) == 0);
	start = evloop_now_ns();
	evloop_timer_arm(t1, start + 10000000);
	evloop_timer_arm(t2, start + 30000000);
	evloop_run(loop);
	CHECK_EQ(a.hits, 1);
	CHECK_EQ(b.hits, 1);
	CHECK(a.when >= start + 10000000);
	CHECK(b.when >= start + 30000000);
	CHECK(a.when < b.when);
	evloop_destroy(loop);
	return 0;
}

/* Two timers found due together (a late wake-up) fire earliest deadline first, whatever
 * order they were created in. */
static int late_timers_fire_in_deadline_order(void)
{
	struct evloop *loop;
	struct evloop_timer *t1, *t2;
	struct counter a = {.quit_after = 99}, b = {.quit_after = 1};

	CHECK(evloop_create(&loop) == 0);
	a.loop = b.loop = loop;
	CHECK(evloop_timer_add(loop, count_and_maybe_quit, &a, &t1) == 0);
	CHECK(evloop_timer_add(loop, count_and_maybe_quit, &b, &t2) == 0);
	evloop_timer_arm(t1, 1000); /* both long past */
	evloop_timer_arm(t2, 2000);
	evloop_run(loop);
	CHECK_EQ(a.hits, 1);
	CHECK_EQ(b.hits, 1);
	CHECK(a.when < b.when);
	evloop_destroy(loop);
	return 0;
}

struct piper {
	struct evloop *loop;
	struct evloop_watch *w;
	int got;
};

static void on_readable(void *opaque, int fd, unsigned revents)
{
	struct piper *p = opaque;
	char buf[8];

	if (revents & POLLIN)
		p->got += (int)read(fd, buf, sizeof(buf));
	evloop_watch_del(p->w); /* deleting itself inside the callback is allowed */
	evloop_quit(p->loop);
}

static int watch_sees_data_and_deletes_itself(void)
{
	struct evloop *loop;
	struct piper p = {0};
	int fds[2];

	CHECK(pipe(fds) == 0);
	CHECK(evloop_create(&loop) == 0);
	p.loop = loop;
	CHECK(evloop_watch_add(loop, fds[0], POLLIN, on_readable, &p, &p.w) == 0);
	CHECK(write(fds[1], "abc", 3) == 3);
	evloop_run(loop);
	CHECK_EQ(p.got, 3);
	CHECK(write(fds[1], "d", 1) == 1);
	/* The watch is gone: another iteration must not call it (a timer ends the run). */
	{
		struct evloop_timer *t;
		struct counter c = {.loop = loop, .quit_after = 1};
		CHECK(evloop_timer_add(loop, count_and_maybe_quit, &c, &t) == 0);
		evloop_timer_arm(t, evloop_now_ns() + 5000000);
		evloop_run(loop);
		CHECK_EQ(p.got, 3);
	}
	evloop_destroy(loop);
	close(fds[0]);
	close(fds[1]);
	return 0;
}

struct notify_ctx {
	struct evloop_notifier *n;
	int rounds;
};

static void *notify_thread(void *arg)
{
	struct notify_ctx *ctx = arg;

	for (int i = 0; i < ctx->rounds; i++) {
		evloop_notify(ctx->n);
		usleep(100);
	}
	return NULL;
}

static void bump(void *opaque)
{
	__atomic_fetch_add((int *)opaque, 1, __ATOMIC_RELAXED);
}

static int notifier_from_other_thread(void)
{
	struct evloop *loop;
	struct notify_ctx ctx = {.rounds = 200};
	pthread_t th;
	int hits = 0, called = 0;

	CHECK(evloop_create(&loop) == 0);
	CHECK(evloop_notifier_add(loop, bump, &hits, &ctx.n) == 0);
	CHECK(evloop_start(loop, "test-loop") == 0);
	CHECK(pthread_create(&th, NULL, notify_thread, &ctx) == 0);
	pthread_join(th, NULL);
	/* A synchronous call is served after every earlier notification was seen. */
	evloop_notify(ctx.n);
	evloop_call(loop, bump, &called);
	CHECK_EQ(called, 1);
	evloop_stop(loop);
	/* Coalesced, but at least one run and never more than the notifications sent. */
	CHECK(__atomic_load_n(&hits, __ATOMIC_RELAXED) >= 1);
	CHECK(__atomic_load_n(&hits, __ATOMIC_RELAXED) <= ctx.rounds + 1);
	evloop_destroy(loop);
	return 0;
}

struct src_ctx {
	int fd;
	int idx;
	int dispatched;
	struct evloop *loop;
};

static void src_prepare(void *opaque, struct evloop_pollset *ps, int *timeout_ms)
{
	struct src_ctx *s = opaque;

	s->idx = evloop_pollfd_add(ps, s->fd, POLLIN);
	if (*timeout_ms < 0 || *timeout_ms > 1000)
		*timeout_ms = 1000;
}

static void src_dispatch(void *opaque, struct evloop_pollset *ps)
{
	struct src_ctx *s = opaque;

	if (evloop_pollfd_revents(ps, s->idx) & POLLIN) {
		s->dispatched++;
		evloop_quit(s->loop);
	}
}

static int source_gets_its_fds(void)
{
	static const struct evloop_source_ops ops = {src_prepare, src_dispatch};
	struct evloop *loop;
	struct evloop_source *src;
	struct src_ctx s = {0};
	int fds[2];

	CHECK(pipe(fds) == 0);
	CHECK(evloop_create(&loop) == 0);
	s.fd = fds[0];
	s.loop = loop;
	CHECK(evloop_source_add(loop, &ops, &s, &src) == 0);
	CHECK(write(fds[1], "x", 1) == 1);
	evloop_run(loop);
	CHECK_EQ(s.dispatched, 1);
	evloop_source_del(src);
	evloop_destroy(loop);
	close(fds[0]);
	close(fds[1]);
	return 0;
}

static int call_when_not_running_runs_inline(void)
{
	struct evloop *loop;
	int called = 0;

	CHECK(evloop_create(&loop) == 0);
	evloop_call(loop, bump, &called);
	CHECK_EQ(called, 1);
	evloop_destroy(loop);
	return 0;
}

static const struct unit_test tests[] = {
	{"timers_fire_in_order", timers_fire_in_order},
	{"late_timers_fire_in_deadline_order", late_timers_fire_in_deadline_order},
	{"watch_sees_data_and_deletes_itself", watch_sees_data_and_deletes_itself},
	{"notifier_from_other_thread", notifier_from_other_thread},
	{"source_gets_its_fds", source_gets_its_fds},
	{"call_when_not_running_runs_inline", call_when_not_running_runs_inline},
};

UNIT_MAIN("evloop", tests)
