/*
 * The I/O event loop: one thread per machine that serves the host side of devices
 * (console input, network backends, disk completions, timers). Built on poll(2): the
 * loop owns a set of fd watches, one-shot timers on CLOCK_MONOTONIC, notifiers that any
 * thread can fire without blocking (a virtqueue notify from a hart), and "sources" that
 * contribute a changing set of fds each iteration (libslirp's model).
 *
 * Threading: evloop_notify() and evloop_call() may be called from any thread. Everything
 * else (adding and removing watches, timers, notifiers and sources; arming timers) is done
 * on the loop thread, or before evloop_start(), or from inside evloop_call(). Callbacks
 * always run on the loop thread, one at a time.
 */
#ifndef LODGE_CORE_EVLOOP_H
#define LODGE_CORE_EVLOOP_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

struct evloop;
struct evloop_watch;
struct evloop_timer;
struct evloop_notifier;
struct evloop_source;

typedef void (*evloop_fd_fn)(void *opaque, int fd, unsigned revents);
typedef void (*evloop_fn)(void *opaque);

/* Creates a loop (no thread yet). Returns 0, -ENOMEM or -errno from eventfd. */
int evloop_create(struct evloop **out) __attribute__((warn_unused_result));

/* Stops the loop thread if it runs, then frees the loop and every watch, timer, notifier
 * and source still registered (their owners must not use them afterwards). NULL is a
 * no-op. */
void evloop_destroy(struct evloop *loop);

/* Starts the loop thread, named `name` (at most 15 characters are kept). Returns 0 or
 * -errno from pthread_create. */
int evloop_start(struct evloop *loop, const char *name) __attribute__((warn_unused_result));

/* Any thread but the loop's: asks the loop to return and waits for its thread. Callbacks
 * that were running finish first. Idempotent. */
void evloop_stop(struct evloop *loop);

/* Runs the loop on the calling thread until evloop_stop() or evloop_quit() (tests, and
 * single-threaded tools). */
void evloop_run(struct evloop *loop);

/* Loop thread: makes evloop_run() return after the current iteration. */
void evloop_quit(struct evloop *loop);

/* True when called on the loop's thread. */
bool evloop_on_thread(const struct evloop *loop);

/* Any thread: runs fn(opaque) on the loop thread and waits for it to finish (runs it
 * directly when called on the loop thread or when the loop is not running). */
void evloop_call(struct evloop *loop, evloop_fn fn, void *opaque);

/* Watches `fd` for `events` (POLLIN, POLLOUT); fn gets the revents (POLLERR/POLLHUP
 * included). Returns 0 or -ENOMEM. */
int evloop_watch_add(struct evloop *loop, int fd, short events, evloop_fd_fn fn, void *opaque,
		     struct evloop_watch **out) __attribute__((warn_unused_result));
/* Changes the events watched (0 pauses the watch). */
void evloop_watch_set(struct evloop_watch *w, short events);
/* Removes and frees the watch (safe from inside its own callback). NULL is a no-op. */
void evloop_watch_del(struct evloop_watch *w);

/* One-shot timers. evloop_timer_arm(t, when_ns) sets the absolute CLOCK_MONOTONIC
 * deadline (re-arming replaces it); evloop_timer_disarm cancels. */
int evloop_timer_add(struct evloop *loop, evloop_fn fn, void *opaque, struct evloop_timer **out)
	__attribute__((warn_unused_result));
void evloop_timer_arm(struct evloop_timer *t, uint64_t when_ns);
void evloop_timer_disarm(struct evloop_timer *t);
void evloop_timer_del(struct evloop_timer *t);
/* Loop thread (or a loop not running): how many timers are armed; an idle loop with none
 * sleeps until a watched fd or a notifier wakes it. */
unsigned evloop_armed_timers(const struct evloop *loop);

/* Notifiers: evloop_notify() from any thread makes fn run once on the loop thread soon;
 * notifications that arrive before it runs are coalesced. evloop_notify never blocks. */
int evloop_notifier_add(struct evloop *loop, evloop_fn fn, void *opaque,
			struct evloop_notifier **out) __attribute__((warn_unused_result));
void evloop_notify(struct evloop_notifier *n);
void evloop_notifier_del(struct evloop_notifier *n);

/* Sources with a changing fd set. Before each poll, prepare() adds fds with
 * evloop_pollfd_add() and may lower *timeout_ms (-1 = none); after it, dispatch() reads
 * the results with evloop_pollfd_revents(). */
struct evloop_pollset;
struct evloop_source_ops {
	void (*prepare)(void *opaque, struct evloop_pollset *ps, int *timeout_ms);
	void (*dispatch)(void *opaque, struct evloop_pollset *ps);
};
int evloop_source_add(struct evloop *loop, const struct evloop_source_ops *ops, void *opaque,
		      struct evloop_source **out) __attribute__((warn_unused_result));
void evloop_source_del(struct evloop_source *s);
/* prepare(): adds an fd; returns its index for evloop_pollfd_revents, or -1 when out of
 * memory (the fd is then not polled this iteration). */
int evloop_pollfd_add(struct evloop_pollset *ps, int fd, short events);
short evloop_pollfd_revents(const struct evloop_pollset *ps, int idx);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t evloop_now_ns(void);

#endif
