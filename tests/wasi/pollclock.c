/*
 * pollclock CASE: calls poll_oneoff directly and checks which subscriptions fired and how
 * long it took (monotonic clock). tests/wasi/suite.sh gives each case its stdin:
 *   clock-vs-fd   stdin has data; a 10 s relative clock must not fire with it
 *   ms-overflow   stdin gets data 1 s after "polling"; a (2^32 + 300) ms clock must not
 *                 fire first
 *   abs-max       an absolute deadline of 2^64-1 never fires; a 300 ms clock does
 *   abs-max-fd    the same deadline with stdin getting data 1 s after "polling": only the
 *                 fd fires
 *   many          stdin has data: a 10 s clock plus 99 fd_read subscriptions, all 99 fire
 *   abs-past      absolute deadlines in the past (both clocks) fire at once
 *   rel-two       200 ms and 5 s clocks: only the first fires
 * Prints "polling" on stderr when it starts waiting and "ok CASE" when the events and
 * timing match.
 */
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

#define MS	  1000000ull
#define MAX_SUBS  100
#define ABSTIME	  __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME

static __wasi_subscription_t subs[MAX_SUBS];
static __wasi_event_t events[MAX_SUBS];
static int nsubs;

static void add_clock(uint64_t userdata, __wasi_clockid_t id, uint64_t timeout, uint16_t flags)
{
	__wasi_subscription_t *s = &subs[nsubs++];

	memset(s, 0, sizeof(*s));
	s->userdata = userdata;
	s->u.tag = __WASI_EVENTTYPE_CLOCK;
	s->u.u.clock.id = id;
	s->u.u.clock.timeout = timeout;
	s->u.u.clock.flags = flags;
}

static void add_read(uint64_t userdata, __wasi_fd_t fd)
{
	__wasi_subscription_t *s = &subs[nsubs++];

	memset(s, 0, sizeof(*s));
	s->userdata = userdata;
	s->u.tag = __WASI_EVENTTYPE_FD_READ;
	s->u.u.fd_read.file_descriptor = fd;
}

static uint64_t now(__wasi_clockid_t id)
{
	__wasi_timestamp_t t = 0;

	(void)__wasi_clock_time_get(id, 1, &t);
	return t;
}

/* Polls; the events must be exactly the userdatas first..last, each without error, after
 * at least min_ms and at most max_ms. */
static int check(const char *name, uint64_t first, uint64_t last, uint64_t min_ms,
		 uint64_t max_ms)
{
	__wasi_size_t n = 0;
	uint64_t t0, ms;
	__wasi_errno_t e;
	int bad = 0;

	fprintf(stderr, "polling\n");
	t0 = now(__WASI_CLOCKID_MONOTONIC);
	e = __wasi_poll_oneoff(subs, events, (__wasi_size_t)nsubs, &n);
	ms = (now(__WASI_CLOCKID_MONOTONIC) - t0) / MS;
	if (e) {
		printf("FAIL %s: poll_oneoff errno %u\n", name, e);
		return 1;
	}
	if (n != last - first + 1) {
		printf("FAIL %s: %u events, want %llu:", name, (unsigned)n,
		       (unsigned long long)(last - first + 1));
		bad = 1;
	}
	for (__wasi_size_t i = 0; i < n; i++) {
		uint64_t u = events[i].userdata;
		if (u < first || u > last || events[i].error) {
			printf(" event %llu (errno %u)", (unsigned long long)u, events[i].error);
			bad = 1;
		}
	}
	if (bad)
		printf("\n");
	if (ms < min_ms || ms > max_ms) {
		printf("FAIL %s: returned after %llu ms, want %llu..%llu\n", name,
		       (unsigned long long)ms, (unsigned long long)min_ms,
		       (unsigned long long)max_ms);
		bad = 1;
	}
	if (!bad)
		printf("ok %s\n", name);
	return bad;
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";

	if (!strcmp(c, "clock-vs-fd")) {
		add_clock(1, __WASI_CLOCKID_MONOTONIC, 10000 * MS, 0);
		add_read(2, 0);
		return check(c, 2, 2, 0, 5000);
	}
	if (!strcmp(c, "ms-overflow")) {
		add_clock(1, __WASI_CLOCKID_MONOTONIC, ((1ull << 32) + 300) * MS, 0);
		add_read(2, 0);
		return check(c, 2, 2, 500, 30000);
	}
	if (!strcmp(c, "abs-max")) {
		add_clock(1, __WASI_CLOCKID_MONOTONIC, UINT64_MAX, ABSTIME);
		add_clock(2, __WASI_CLOCKID_MONOTONIC, 300 * MS, 0);
		return check(c, 2, 2, 300, 30000);
	}
	if (!strcmp(c, "abs-max-fd")) {
		add_clock(1, __WASI_CLOCKID_REALTIME, UINT64_MAX, ABSTIME);
		add_read(2, 0);
		return check(c, 2, 2, 500, 30000);
	}
	if (!strcmp(c, "many")) {
		add_clock(0, __WASI_CLOCKID_MONOTONIC, 10000 * MS, 0);
		for (int i = 1; i < MAX_SUBS; i++)
			add_read((uint64_t)i, 0);
		return check(c, 1, MAX_SUBS - 1, 0, 5000);
	}
	if (!strcmp(c, "abs-past")) {
		add_clock(1, __WASI_CLOCKID_MONOTONIC, 1, ABSTIME);
		add_clock(2, __WASI_CLOCKID_REALTIME, now(__WASI_CLOCKID_REALTIME) - 1000 * MS,
			  ABSTIME);
		return check(c, 1, 2, 0, 5000);
	}
	if (!strcmp(c, "rel-two")) {
		add_clock(1, __WASI_CLOCKID_MONOTONIC, 200 * MS, 0);
		add_clock(2, __WASI_CLOCKID_MONOTONIC, 5000 * MS, 0);
		return check(c, 1, 1, 200, 4900);
	}
	fprintf(stderr, "pollclock: unknown case '%s'\n", c);
	return 2;
}
