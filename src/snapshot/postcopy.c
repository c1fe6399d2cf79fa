/*
 * The post-copy destination's core (see snapshot/postcopy.h): one thread that serves the
 * holes of a registered memory, for system VMs and WebAssembly programs alike.
 */
#include "snapshot/postcopy.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/sbuf.h"
#include "snapshot/internal.h"
#include "snapshot/snapshot.h"

#define PAGE	  SNAP_PAGE_SIZE
#define ZERO_BIT  (1ull << 63)
#define MAX_PAGES ((64ull << 30) / PAGE) /* a DISCARD names at most 64 GiB */

struct snap_pc_in {
	int fd; /* a duplicate of the stream's socket */
	int uffd;
	pthread_t thread;
	bool started;
	struct snap_pc_target t;
	uint64_t *missing; /* pages not here yet (NULL until DISCARD) */
	uint64_t *asked;   /* of those, asked for */
	uint64_t npages, nmissing, nasked, t0;
	uint64_t got, got_asked; /* pages arrived (the thread's), of them asked for */
	pthread_mutex_t lock;	 /* sends on fd, acked, stop, over */
	pthread_cond_t cond;
	bool acked, stop, over;
	bool active; /* atomic: pages still arriving */
};

int snap_pages_walk(const uint8_t *p, size_t len, uint64_t npages,
		    int (*put)(void *ctx, uint64_t page, const uint8_t *bytes), void *ctx)
{
	struct sreader in;
	uint32_t count;

	sreader_init(&in, p, len);
	count = sread_u32(&in);
	if (in.err || count == 0 || count > SNAP_PC_BATCH)
		return -EINVAL;
	for (uint32_t i = 0; i < count; i++) {
		uint64_t idx = sread_u64(&in), page = idx & ~ZERO_BIT;
		const uint8_t *bytes = NULL;
		int r;

		if (in.err || page >= npages)
			return -EINVAL;
		if (!(idx & ZERO_BIT)) {
			if (len - in.off < PAGE)
				return -EINVAL;
			bytes = p + in.off;
			in.off += PAGE;
		}
		r = put(ctx, page, bytes);
		if (r)
			return r;
	}
	return in.off != len ? -EINVAL : 0;
}

int snap_pc_in_new(int fd, bool user_only, struct snap_pc_in **out, char *err, size_t errlen)
{
	uint8_t ans[3] = {SNAP_STREAM_POSTCOPY & 0xff, SNAP_STREAM_POSTCOPY >> 8, 0};
	struct uffdio_api api = {.api = UFFD_API};
	struct snap_pc_in *in = NULL;
	int u = snap_userfaultfd(user_only, &api), r = 0;

	*out = NULL;
	if (u < 0) {
		snprintf(err, errlen,
			 "post-copy needs userfaultfd(2), which this host refuses (%s): migrate "
			 "without post-copy",
			 strerror(-u));
		r = u;
	} else if (!(in = core_calloc(1, sizeof(*in)))) {
		close(u);
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
	} else {
		in->uffd = u;
		in->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (in->fd < 0) {
			r = -errno;
			close(u);
			core_free(in);
			in = NULL;
			snprintf(err, errlen, "cannot keep the stream: %s", strerror(-r));
		} else {
			pthread_mutex_init(&in->lock, NULL);
			pthread_cond_init(&in->cond, NULL);
		}
	}
	ans[2] = !r;
	if (send(fd, ans, sizeof(ans), MSG_NOSIGNAL) != (ssize_t)sizeof(ans) && !r) {
		r = -errno;
		snprintf(err, errlen, "cannot answer the source: %s", strerror(-r));
		snap_pc_in_fini(in, false);
		in = NULL;
	}
	*out = in;
	return r;
}

int snap_pc_in_discard(struct snap_pc_in *in, const uint8_t *p, size_t len, uint64_t max_pages,
		       bool exact, char *err, size_t errlen)
{
	struct sreader r;
	uint64_t n, words;

	sreader_init(&r, p, len);
	n = sread_u64(&r);
	words = (n + 63) / 64;
	if (in->missing || r.err || n > max_pages || (exact && n != max_pages) || n > MAX_PAGES ||
	    len != 8 + words * 8) {
		snprintf(err, errlen,
			 "corrupt: a discard section that is repeated, malformed or names more "
			 "pages than allowed");
		return -EINVAL;
	}
	in->missing = core_calloc(words ? words : 1, sizeof(uint64_t));
	in->asked = core_calloc(words ? words : 1, sizeof(uint64_t));
	if (!in->missing || !in->asked) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (uint64_t w = 0; w < words; w++) {
		in->missing[w] = sread_u64(&r);
		in->nmissing += (uint64_t)__builtin_popcountll(in->missing[w]);
	}
	if (n % 64 && in->missing[words - 1] >> (n % 64)) {
		snprintf(err, errlen, "corrupt: a discard section names pages past its end");
		return -EINVAL;
	}
	in->npages = n;
	return 0;
}

bool snap_pc_in_discarded(const struct snap_pc_in *in)
{
	return in->missing != NULL;
}

uint64_t snap_pc_in_npages(const struct snap_pc_in *in)
{
	return in->npages;
}

/* Sends a 2-byte answer (and an 8-byte argument), between the thread's and the main
 * thread's. */
static int send_tag(struct snap_pc_in *in, unsigned tag, const uint64_t *arg)
{
	uint8_t b[10] = {(uint8_t)tag, (uint8_t)(tag >> 8)};
	size_t n = arg ? 10 : 2;
	ssize_t k;

	if (arg)
		snap_le64(b + 2, *arg);
	pthread_mutex_lock(&in->lock);
	k = send(in->fd, b, n, MSG_NOSIGNAL);
	pthread_mutex_unlock(&in->lock);
	return k == (ssize_t)n ? 0 : k < 0 ? -errno : -EPIPE;
}

static int zeropage(struct snap_pc_in *in, uint64_t addr)
{
	struct uffdio_zeropage z = {.range = {addr, PAGE}};
	int k;

	do
		k = ioctl(in->uffd, UFFDIO_ZEROPAGE, &z);
	while (k < 0 && (errno == EAGAIN || errno == EINTR));
	return k < 0 && errno != EEXIST ? -errno : 0;
}

/* The pages that faulted: asks for each missing one once. The others read as zero: here
 * already (the fault raced with its arrival: EEXIST), dropped since (a balloon's
 * MADV_DONTNEED), or past the memory's size at the source (a Wasm memory grown since). */
static int faults(struct snap_pc_in *in)
{
	uintptr_t base = (uintptr_t)in->t.base;
	struct uffd_msg msg;
	int r = 0;

	for (;;) {
		ssize_t n = read(in->uffd, &msg, sizeof(msg));
		uint64_t a, q;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return r;
		if (n != (ssize_t)sizeof(msg))
			return n < 0 ? -errno : -EIO;
		if (msg.event != UFFD_EVENT_PAGEFAULT || msg.arg.pagefault.address < base ||
		    msg.arg.pagefault.address - base >= in->t.reserved)
			continue;
		a = msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1);
		q = (a - base) / PAGE;
		if (q >= in->npages || !(in->missing[q / 64] >> (q % 64) & 1)) {
			r = zeropage(in, a);
			if (r)
				return r;
			continue;
		}
		if (in->asked[q / 64] >> (q % 64) & 1)
			continue;
		in->asked[q / 64] |= 1ull << (q % 64);
		in->nasked++;
		r = send_tag(in, SNAP_STREAM_REQUEST, &q);
		if (r)
			return r;
	}
}

struct put_ctx {
	struct snap_pc_in *in;
	char *err;
	size_t errlen;
};

/* A page after the switch into its hole (UFFDIO_COPY or _ZEROPAGE, which wake any
 * waiter); a page not missing (outside the memory, or sent twice) is refused. */
static int put(void *opaque, uint64_t q, const uint8_t *bytes)
{
	struct put_ctx *c = opaque;
	struct snap_pc_in *in = c->in;
	uint64_t dst = (uintptr_t)in->t.base + q * PAGE;
	int e;

	if (q >= in->npages || !(in->missing[q / 64] >> (q % 64) & 1)) {
		snprintf(c->err, c->errlen, "corrupt: page %llu sent that is not missing",
			 (unsigned long long)q);
		return -EINVAL;
	}
	if (bytes) {
		struct uffdio_copy cp = {.dst = dst, .src = (uintptr_t)bytes, .len = PAGE};
		do
			e = ioctl(in->uffd, UFFDIO_COPY, &cp);
		while (e < 0 && (errno == EAGAIN || errno == EINTR));
		e = e < 0 && errno != EEXIST ? -errno : 0;
	} else {
		e = zeropage(in, dst);
	}
	if (e) {
		snprintf(c->err, c->errlen, "cannot place a page: %s", strerror(-e));
		return e == -EINVAL ? -EIO : e;
	}
	in->missing[q / 64] &= ~(1ull << (q % 64));
	__atomic_store_n(&in->nmissing, in->nmissing - 1, __ATOMIC_RELAXED);
	in->got++;
	in->got_asked += in->asked[q / 64] >> (q % 64) & 1;
	return 0;
}

/* A PAGES section after the switch: each page into its hole. A page not missing is
 * refused, and so is a section with no page (the source sends none): every section
 * brings the end nearer. */
static int take_pages(struct snap_pc_in *in, const uint8_t *p, size_t len, char *err, size_t errlen)
{
	struct put_ctx c = {in, err, errlen};
	int r;

	err[0] = 0;
	if (len >= 4 && !snap_get32(p)) {
		snprintf(err, errlen, "corrupt: a PAGES section with no page");
		return -EINVAL;
	}
	/* a page past the memory is one not missing */
	r = snap_pages_walk(p, len, UINT64_MAX >> 1, put, &c);
	if (r == -EINVAL && !err[0])
		snprintf(err, errlen, "corrupt: a PAGES section of %zu bytes is malformed", len);
	return r;
}

/* Takes one section from the source; *done at its second DONE. */
static int take(struct snap_pc_in *in, bool *done, char *err, size_t errlen)
{
	uint32_t type;
	uint8_t *p;
	size_t len;
	int r = snap_stream_get(in->fd, &type, &p, &len, SNAP_STREAM_PAGES_MAX, err, errlen);

	if (r)
		return r;
	if (type == SNAP_SEC_PAGES) {
		r = take_pages(in, p, len, err, errlen);
	} else if (type == SNAP_SEC_DONE && !len && !in->nmissing) {
		*done = true;
	} else {
		snprintf(err, errlen, "corrupt: a section of type 0x%x with %llu pages missing",
			 type, (unsigned long long)in->nmissing);
		r = -EINVAL;
	}
	core_free(p);
	return r;
}

/* The source owes pages once "OK" went, or while pages asked for have not come: then
 * every SNAP_STREAM_TIMEOUT_S must bring SNAP_PC_MIN_PAGES (or all that are missing).
 * Returns 0, or -ETIMEDOUT with err once a window closed short. *win: its start (0: none
 * open), *win_got: in->got then, *win_missing: in->nmissing then. */
static int window(struct snap_pc_in *in, bool acked, uint64_t *win, uint64_t *win_got,
		  uint64_t *win_missing, char *err, size_t errlen)
{
	bool owed = acked || in->got_asked < in->nasked;
	uint64_t now = core_now_ns(), want, got;

	if (!owed) {
		*win = 0;
		return 0;
	}
	if (!*win || now - *win < SNAP_STREAM_TIMEOUT_S * 1000000000ull) {
		if (!*win) {
			*win = now;
			*win_got = in->got;
			*win_missing = in->nmissing;
		}
		return 0;
	}
	got = in->got - *win_got;
	want = *win_missing < SNAP_PC_MIN_PAGES ? *win_missing : SNAP_PC_MIN_PAGES;
	if (got < want) {
		if (!got)
			snprintf(err, errlen, "the source is silent: no page for %d s",
				 SNAP_STREAM_TIMEOUT_S);
		else
			snprintf(err, errlen,
				 "the source is too slow: %llu pages in %d s (at least %d wanted)",
				 (unsigned long long)got, SNAP_STREAM_TIMEOUT_S, SNAP_PC_MIN_PAGES);
		return -ETIMEDOUT;
	}
	*win = now;
	*win_got = in->got;
	*win_missing = in->nmissing;
	return 0;
}

static void *in_main(void *opaque)
{
	struct snap_pc_in *in = opaque;
	char err[256] = "";
	bool done = false, stop = false;
	struct snap_pc_end e = {0};
	uint64_t win = 0, win_got = 0, win_missing = 0;
	int r = 0;

	while (!r && !done) {
		struct pollfd p[2] = {{.fd = in->uffd, .events = POLLIN},
				      {.fd = in->fd, .events = POLLIN}};
		int n, wait_ms = SNAP_STREAM_TIMEOUT_S * 1000;
		bool acked;
		pthread_mutex_lock(&in->lock);
		stop = in->stop;
		acked = in->acked;
		pthread_mutex_unlock(&in->lock);
		if (stop)
			break;
		r = window(in, acked, &win, &win_got, &win_missing, err, sizeof(err));
		if (r)
			break;
		if (win) {
			uint64_t end = win + SNAP_STREAM_TIMEOUT_S * 1000000000ull,
				 now = core_now_ns();
			wait_ms = now >= end ? 0 : (int)((end - now) / 1000000 + 1);
		}
		n = poll(p, 2, wait_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			snprintf(err, sizeof(err), "poll: %s", strerror(-r));
			break;
		}
		/* (silence: the window says whether it is due: the source waits for "OK") */
		if (n > 0 && p[0].revents)
			r = faults(in);
		if (n > 0 && !r && p[1].revents)
			r = take(in, &done, err, sizeof(err));
	}
	if (done) { /* "PE" only after "OK" */
		pthread_mutex_lock(&in->lock);
		while (!in->acked && !in->stop)
			pthread_cond_wait(&in->cond, &in->lock);
		stop = in->stop;
		pthread_mutex_unlock(&in->lock);
		r = stop ? 0 : send_tag(in, SNAP_STREAM_PC_END, NULL);
		if (r)
			snprintf(err, sizeof(err), "cannot tell the source: %s", strerror(-r));
	}
	pthread_mutex_lock(&in->lock);
	stop = stop || in->stop;
	e.over = in->over;
	pthread_mutex_unlock(&in->lock);
	if (!stop && in->t.end) {
		e.r = r;
		e.why = err[0] ? err : strerror(-r);
		e.missing = in->nmissing;
		e.asked = in->nasked;
		e.ns = core_now_ns() - in->t0;
		in->t.end(in->t.ctx, &e); /* may not return (the target cannot go on) */
	}
	if (in->t.flag)
		__atomic_store_n(in->t.flag, false, __ATOMIC_RELEASE);
	/* Closing the userfaultfd wakes any access still waiting (only while stopping: its
	 * pages read as zero now) and leaves the range an ordinary mapping. */
	close(in->uffd);
	in->uffd = -1;
	__atomic_store_n(&in->active, false, __ATOMIC_RELEASE);
	return NULL;
}

int snap_pc_in_start(struct snap_pc_in *in, const struct snap_pc_target *t, char *err,
		     size_t errlen)
{
	struct uffdio_register reg;
	uint64_t run = 0, n = t->npages;
	int r;

	if (!in->missing || in->npages != n || t->reserved < n * PAGE) {
		snprintf(err, errlen,
			 "corrupt: the post-copy names %llu pages of memory, the target has "
			 "%llu",
			 (unsigned long long)in->npages, (unsigned long long)n);
		return -EINVAL;
	}
	in->t = *t;
	for (uint64_t q = 0; q <= n; q++) {
		bool gone = q < n && (in->missing[q / 64] >> (q % 64) & 1);
		if (gone) {
			run++;
		} else if (run) {
			if (madvise(t->base + (q - run) * PAGE, run * PAGE, MADV_DONTNEED) < 0) {
				r = -errno;
				snprintf(err, errlen, "post-copy: cannot drop pages: %s",
					 strerror(-r));
				return r;
			}
			run = 0;
		}
	}
	/* (no memory: nothing to register, the source ends at once) */
	reg = (struct uffdio_register){.range = {(uintptr_t)t->base, t->reserved},
				       .mode = UFFDIO_REGISTER_MODE_MISSING};
	if (t->reserved && ioctl(in->uffd, UFFDIO_REGISTER, &reg) < 0) {
		r = -errno;
		snprintf(err, errlen, "post-copy: cannot register the memory: %s", strerror(-r));
		return r;
	}
	in->t0 = core_now_ns();
	__atomic_store_n(&in->active, true, __ATOMIC_RELAXED);
	if (t->flag)
		__atomic_store_n(t->flag, true, __ATOMIC_RELEASE);
	r = -pthread_create(&in->thread, NULL, in_main, in);
	if (r) {
		if (t->flag)
			__atomic_store_n(t->flag, false, __ATOMIC_RELAXED);
		__atomic_store_n(&in->active, false, __ATOMIC_RELAXED);
		snprintf(err, errlen, "post-copy: cannot start its thread: %s", strerror(-r));
		return r;
	}
	in->started = true;
	return 0;
}

int snap_pc_in_ack(struct snap_pc_in *in, const uint8_t nonce[SNAP_STREAM_NONCE])
{
	uint64_t arg = snap_get64(nonce); /* sent back little-endian: the same 8 bytes */
	int r = send_tag(in, SNAP_STREAM_ACK, &arg);

	pthread_mutex_lock(&in->lock);
	in->acked = !r;
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
	return r;
}

uint64_t snap_pc_in_missing(const struct snap_pc_in *in)
{
	return __atomic_load_n(&in->nmissing, __ATOMIC_RELAXED);
}

bool snap_pc_in_active(const struct snap_pc_in *in)
{
	return in && __atomic_load_n(&in->active, __ATOMIC_ACQUIRE);
}

void snap_pc_in_fini(struct snap_pc_in *in, bool wait)
{
	if (!in)
		return;
	pthread_mutex_lock(&in->lock);
	in->over = true;
	if (!wait || !in->acked)
		in->stop = true;
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
	if (in->started) {
		if (!wait || !in->acked)
			shutdown(in->fd, SHUT_RDWR); /* wakes its poll and any read */
		pthread_join(in->thread, NULL);
	}
	if (in->uffd >= 0)
		close(in->uffd);
	if (in->t.flag)
		__atomic_store_n(in->t.flag, false, __ATOMIC_RELEASE);
	close(in->fd);
	core_free(in->missing);
	core_free(in->asked);
	pthread_mutex_destroy(&in->lock);
	pthread_cond_destroy(&in->cond);
	core_free(in);
}
