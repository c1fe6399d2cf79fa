/*
 * Post-copy of a Wasm program's linear memory (see wasm/postcopy.h).
 *
 * The destination's memory is one anonymous mapping: for the JIT's guard-region layout
 * the whole reservation, which is what gets registered (pages past the memory's size
 * are inaccessible until memory.grow makes them so, in place: they stay registered and
 * read as zero on first touch). A memory without a guard region may move when it grows
 * (mremap), which would leave its holes unregistered: such a destination refuses before
 * the switch. The program has one thread (wasi-threads are refused), so a page once in
 * place stays.
 */
#include "wasm/postcopy.h"

#include "core/alloc.h"
#include "core/sbuf.h"
#include "snapshot/snapshot.h"
#include "wasm/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE	  SNAP_PAGE_SIZE
#define ZERO_BIT  (1ull << 63)
#define PC_BATCH  16 /* pages sent between looks for the destination's requests */
#define MAX_PAGES ((16ull << 30) / PAGE)

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int wasm_postcopy_check(struct wasm_instance *inst, char *err, size_t errlen)
{
	if (inst->mem0 && !inst->mem0->guard) {
		snprintf(err, errlen,
			 "post-copy needs the memory's guard region (a 32-bit memory with 8 GiB "
			 "of address space for it), so that it never moves while its pages "
			 "arrive; migrate without post-copy");
		return -EOPNOTSUPP;
	}
	return 0;
}

int wasm_postcopy_offer(int fd, char *err, size_t errlen)
{
	uint8_t ans[3];
	ssize_t got;
	int r = snap_stream_put(fd, SNAP_SEC_POSTCOPY, "", 0);

	if (r)
		return r;
	got = recv(fd, ans, sizeof(ans), MSG_WAITALL);
	if (got == (ssize_t)sizeof(ans) && ans[0] == (SNAP_STREAM_POSTCOPY & 0xff) &&
	    ans[1] == SNAP_STREAM_POSTCOPY >> 8 && ans[2] == 1)
		return 0;
	snprintf(err, errlen,
		 "the destination cannot take a post-copy migration (%s): the program runs on "
		 "here",
		 got < 0 ? strerror(errno) : "its log says why");
	return -ECONNABORTED;
}

int wasm_postcopy_discard(uint64_t npages, const uint64_t *bits, uint8_t **out, size_t *len)
{
	struct sbuf b = {0};

	sbuf_put_u64(&b, npages);
	for (uint64_t w = 0; w < (npages + 63) / 64; w++)
		sbuf_put_u64(&b, bits[w]);
	if (b.err) {
		sbuf_fini(&b);
		return -ENOMEM;
	}
	*out = b.data;
	*len = b.len;
	return 0;
}

/* ----- the source ----- */

struct serve {
	int fd;
	const uint8_t *base;
	uint64_t *bits, npages, left, rate, t0, rate_bytes;
	struct sbuf batch;
	unsigned count;
	struct wasm_postcopy_stats *st;
};

static int flush(struct serve *s)
{
	int r;

	if (!s->count)
		return 0;
	for (unsigned i = 0; i < 4; i++)
		s->batch.data[i] = (uint8_t)(s->count >> (8 * i));
	r = s->batch.err ?: snap_stream_put(s->fd, SNAP_SEC_PAGES, s->batch.data, s->batch.len);
	s->st->bytes += s->batch.len + 24;
	s->rate_bytes += s->batch.len + 24;
	s->batch.len = 0;
	sbuf_put_u32(&s->batch, 0);
	s->count = 0;
	return r;
}

static bool all_zero(const uint8_t *p)
{
	static const uint8_t zero[256];

	for (unsigned i = 0; i < PAGE; i += sizeof(zero))
		if (memcmp(p + i, zero, sizeof(zero)))
			return false;
	return true;
}

/* Queues page q (cleared from bits) for the next PAGES section. */
static void queue(struct serve *s, uint64_t q)
{
	const uint8_t *p = s->base + q * PAGE;

	s->bits[q / 64] &= ~(1ull << (q % 64));
	s->left--;
	s->st->pages++;
	if (all_zero(p)) {
		sbuf_put_u64(&s->batch, q | ZERO_BIT);
	} else {
		sbuf_put_u64(&s->batch, q);
		sbuf_put(&s->batch, p, PAGE);
	}
	s->count++;
}

/* When the next background pages are due under the rate limit (now: no limit). */
static uint64_t due(const struct serve *s, uint64_t now)
{
	if (!s->rate)
		return now;
	return s->t0 + (uint64_t)((double)s->rate_bytes * 1e9 / (double)s->rate);
}

int wasm_postcopy_serve(int fd, const uint8_t *base, uint64_t *bits, uint64_t npages, uint64_t rate,
			int ack_ms, struct wasm_postcopy_stats *st)
{
	struct serve s = {.fd = fd, .base = base, .bits = bits, .npages = npages, .rate = rate};
	uint64_t w = 0, words = (npages + 63) / 64, t_wait = now_ns();
	uint8_t in[256];
	size_t have = 0;
	bool running = false, done = false;
	int r = 0;

	memset(st, 0, sizeof(*st));
	s.st = st;
	for (uint64_t i = 0; i < words; i++)
		s.left += (uint64_t)__builtin_popcountll(bits[i]);
	sbuf_put_u32(&s.batch, 0);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = now_ns(), d = due(&s, now);
		bool later = s.left && running && d > now;
		bool work = (s.left && running) || (!s.left && !done && running);
		/* before "OK" the destination restores the program (ack_ms); after, it is
		 * silent only while it has all it asked for: SNAP_STREAM_TIMEOUT_S */
		int idle = running ? SNAP_STREAM_TIMEOUT_S * 1000 : ack_ms;
		int wait_ms = later ? (int)((d - now) / 1000000 + 1) : work ? 0 : 1000;
		int n = poll(&p, 1, wait_ms);
		if (n < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (n > 0) {
			ssize_t k = recv(fd, in + have, sizeof(in) - have, MSG_DONTWAIT);
			if (k == 0) {
				r = -ECONNRESET;
				break;
			}
			if (k < 0 && errno != EAGAIN && errno != EINTR) {
				r = -errno;
				break;
			}
			if (k > 0) {
				have += (size_t)k;
				t_wait = now_ns();
			}
		} else if (!later && !work && now_ns() - t_wait > (uint64_t)idle * 1000000) {
			r = -ETIMEDOUT; /* the destination is silent */
			break;
		}
		while (!r && have >= 2) {
			unsigned tag = in[0] | (unsigned)in[1] << 8, used = 2;
			if (tag == SNAP_STREAM_ACK && !running) {
				running = true;
				st->t_run = now_ns();
				s.t0 = st->t_run;
			} else if (tag == SNAP_STREAM_PC_END && running && done && !s.left) {
				r = have == 2 ? 1 : -EPROTO;
				break;
			} else if (tag == SNAP_STREAM_PROGRESS) {
				if (have < SNAP_STREAM_PROGRESS_LEN)
					break;
				used = SNAP_STREAM_PROGRESS_LEN;
			} else if (tag == SNAP_STREAM_REQUEST) {
				uint64_t q = 0;
				if (have < 10)
					break;
				for (unsigned i = 0; i < 8; i++)
					q |= (uint64_t)in[2 + i] << (8 * i);
				if (q >= npages) {
					r = -EPROTO;
					break;
				}
				used = 10;
				if (bits[q / 64] >> (q % 64) & 1) {
					st->requested++;
					queue(&s, q);
					if (s.count == SNAP_STREAM_PAGES_MAX / (8 + PAGE))
						r = flush(&s);
				}
			} else {
				r = -EPROTO;
				break;
			}
			memmove(in, in + used, have - used);
			have -= used;
		}
		if (r)
			break;
		r = flush(&s); /* the pages asked for go at once (the rate counts them) */
		later = later && now_ns() < due(&s, now_ns());
		for (unsigned i = 0; !r && s.left && running && !later && i < PC_BATCH; i++) {
			while (!bits[w])
				w = (w + 1) % words;
			queue(&s, w * 64 + (uint64_t)__builtin_ctzll(bits[w]));
		}
		r = r ?: flush(&s);
		if (!r && running && !s.left && !done) {
			r = snap_stream_put(fd, SNAP_SEC_DONE, "", 0);
			done = true;
		}
		if (r)
			break;
	}
	sbuf_fini(&s.batch);
	return r == 1 ? 0 : r;
}

/* ----- the destination ----- */

struct wasm_postcopy_in {
	int fd; /* a duplicate of the stream's socket */
	int uffd;
	pthread_t thread;
	bool started;
	struct wasm_memory *mem;
	uint8_t *base;
	uint64_t *missing; /* pages not here yet (NULL until DISCARD) */
	uint64_t *asked;   /* of those, asked for */
	uint64_t npages, nmissing, nasked, t0;
	wasm_postcopy_lost_fn lost;
	void *lost_ctx;
	pthread_mutex_t lock; /* sends on fd, acked, stop, over */
	pthread_cond_t cond;
	bool acked, stop, over;
	bool active; /* atomic: pages still arriving */
};

static int in_new(int fd, struct wasm_postcopy_in **out, char *err, size_t errlen)
{
	struct uffdio_api api = {.api = UFFD_API};
	struct wasm_postcopy_in *in;
	int u, r;

	/* Kernel accesses (WASI's fd_read into the memory) are served only with the
	 * privilege to; without it, user mode only: wasm_memory_range faults a host call's
	 * buffer in first. */
	bool user_only = false;
#ifdef LODGE_TEST_HOOKS
	/* the tests' unprivileged host: kernel accesses are not served */
	const char *hook = getenv("LODGE_TEST_HOOK");
	user_only = hook && !strcmp(hook, "uffd-user-mode");
#endif
	u = snap_userfaultfd(user_only, &api);
	if (u < 0) {
		snprintf(err, errlen,
			 "post-copy needs userfaultfd(2), which this host refuses (%s): migrate "
			 "without post-copy",
			 strerror(-u));
		return u;
	}
	in = core_calloc(1, sizeof(*in));
	if (!in) {
		close(u);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	in->uffd = u;
	in->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (in->fd < 0) {
		r = -errno;
		close(u);
		core_free(in);
		snprintf(err, errlen, "cannot keep the stream: %s", strerror(-r));
		return r;
	}
	pthread_mutex_init(&in->lock, NULL);
	pthread_cond_init(&in->cond, NULL);
	*out = in;
	return 0;
}

int wasm_postcopy_in_new(int fd, struct wasm_postcopy_in **out, char *err, size_t errlen)
{
	uint8_t ans[3] = {SNAP_STREAM_POSTCOPY & 0xff, SNAP_STREAM_POSTCOPY >> 8, 0};
	int r = in_new(fd, out, err, errlen);

	ans[2] = !r;
	if (send(fd, ans, sizeof(ans), MSG_NOSIGNAL) != (ssize_t)sizeof(ans) && !r) {
		r = -errno;
		snprintf(err, errlen, "cannot answer the source: %s", strerror(-r));
		wasm_postcopy_in_fini(*out, false);
		*out = NULL;
	}
	return r;
}

int wasm_postcopy_in_discard(struct wasm_postcopy_in *in, const uint8_t *p, size_t len,
			     uint64_t room_pages, char *err, size_t errlen)
{
	struct sreader r;
	uint64_t n, words;

	sreader_init(&r, p, len);
	n = sread_u64(&r);
	words = (n + 63) / 64;
	if (in->missing || r.err || n > room_pages || n > MAX_PAGES || len != 8 + words * 8) {
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

bool wasm_postcopy_in_discarded(const struct wasm_postcopy_in *in)
{
	return in->missing != NULL;
}

/* Sends a 2-byte answer (and an 8-byte argument), between the thread's and the main
 * thread's. */
static int send_tag(struct wasm_postcopy_in *in, unsigned tag, const uint64_t *arg)
{
	uint8_t b[10] = {(uint8_t)tag, (uint8_t)(tag >> 8)};
	size_t n = arg ? 10 : 2;
	ssize_t k;

	if (arg)
		put_le(b + 2, *arg, 8);
	pthread_mutex_lock(&in->lock);
	k = send(in->fd, b, n, MSG_NOSIGNAL);
	pthread_mutex_unlock(&in->lock);
	return k == (ssize_t)n ? 0 : k < 0 ? -errno : -EPIPE;
}

static int zeropage(struct wasm_postcopy_in *in, uint64_t addr)
{
	struct uffdio_zeropage z = {.range = {addr, PAGE}};
	int k;

	do
		k = ioctl(in->uffd, UFFDIO_ZEROPAGE, &z);
	while (k < 0 && (errno == EAGAIN || errno == EINTR));
	return k < 0 && errno != EEXIST ? -errno : 0;
}

/* The pages that faulted: asks for each missing one once; the others (never in the
 * memory at the source, or past its size there: grown since) are zero. */
static int faults(struct wasm_postcopy_in *in)
{
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
		if (msg.event != UFFD_EVENT_PAGEFAULT ||
		    msg.arg.pagefault.address < (uintptr_t)in->base)
			continue;
		a = msg.arg.pagefault.address & ~(uint64_t)(PAGE - 1);
		q = (a - (uintptr_t)in->base) / PAGE;
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

/* A PAGES section after the switch: each page into its hole (which wakes any waiter); a
 * page not missing (outside the memory, or sent twice) is refused, and so is a section
 * with no page (the source sends none): every section brings the end nearer, so a source
 * that never sends the pages asked for runs into the end of the missing ones, or the
 * silence limit, not a wait without end. */
static int take_pages(struct wasm_postcopy_in *in, const uint8_t *p, size_t len, char *err,
		      size_t errlen)
{
	struct sreader r;
	uint32_t n;

	sreader_init(&r, p, len);
	n = sread_u32(&r);
	if (!r.err && !n) {
		snprintf(err, errlen, "corrupt: a PAGES section with no page");
		return -EINVAL;
	}
	for (uint32_t k = 0; k < n && !r.err; k++) {
		uint64_t i = sread_u64(&r), q = i & ~ZERO_BIT, dst;
		const uint8_t *bytes = NULL;
		int e;
		if (r.err)
			break;
		if (q >= in->npages || !(in->missing[q / 64] >> (q % 64) & 1)) {
			snprintf(err, errlen, "corrupt: page %llu sent that is not missing",
				 (unsigned long long)q);
			return -EINVAL;
		}
		if (!(i & ZERO_BIT)) {
			if (r.len - r.off < PAGE) {
				sreader_fail(&r);
				break;
			}
			bytes = r.data + r.off;
			r.off += PAGE;
		}
		dst = (uintptr_t)in->base + q * PAGE;
		if (bytes) {
			struct uffdio_copy c = {.dst = dst, .src = (uintptr_t)bytes, .len = PAGE};
			do
				e = ioctl(in->uffd, UFFDIO_COPY, &c);
			while (e < 0 && (errno == EAGAIN || errno == EINTR));
			e = e < 0 && errno != EEXIST ? -errno : 0;
		} else {
			e = zeropage(in, dst);
		}
		if (e) {
			snprintf(err, errlen, "cannot place a page: %s", strerror(-e));
			return e;
		}
		in->missing[q / 64] &= ~(1ull << (q % 64));
		__atomic_store_n(&in->nmissing, in->nmissing - 1, __ATOMIC_RELAXED);
	}
	if (r.err || r.off != r.len) {
		snprintf(err, errlen, "corrupt: a PAGES section of %zu bytes for %u pages", len, n);
		return -EINVAL;
	}
	return 0;
}

/* Takes one section from the source; *done at its second DONE. */
static int take(struct wasm_postcopy_in *in, bool *done, char *err, size_t errlen)
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

static void *in_main(void *opaque)
{
	struct wasm_postcopy_in *in = opaque;
	char err[256] = "";
	bool done = false, stop = false, over;
	int r = 0;

	while (!r && !done) {
		struct pollfd p[2] = {{.fd = in->uffd, .events = POLLIN},
				      {.fd = in->fd, .events = POLLIN}};
		int n = poll(p, 2, SNAP_STREAM_TIMEOUT_S * 1000);
		pthread_mutex_lock(&in->lock);
		stop = in->stop;
		pthread_mutex_unlock(&in->lock);
		if (stop)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -ETIMEDOUT;
			snprintf(err, sizeof(err), "the source is silent: %s", strerror(-r));
			break;
		}
		if (p[0].revents)
			r = faults(in);
		if (!r && p[1].revents)
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
	over = in->over;
	pthread_mutex_unlock(&in->lock);
	if (r && !stop) {
		fprintf(stderr,
			"lodge wasm: post-copy: %s, with %llu pages still missing: the program "
			"stops (its memory is incomplete; the source cannot run it on either)\n",
			err[0] ? err : strerror(-r), (unsigned long long)in->nmissing);
		if (!over && in->lost)
			in->lost(in->lost_ctx); /* does not return while the program runs */
	}
	if (in->mem)
		__atomic_store_n(&in->mem->postcopy, false, __ATOMIC_RELEASE);
	/* Closing the userfaultfd leaves the range an ordinary mapping (and wakes any
	 * access still waiting: only while stopping). */
	close(in->uffd);
	in->uffd = -1;
	__atomic_store_n(&in->active, false, __ATOMIC_RELEASE);
	return NULL;
}

int wasm_postcopy_in_start(struct wasm_postcopy_in *in, struct wasm_instance *inst,
			   wasm_postcopy_lost_fn lost, void *ctx, char *err, size_t errlen)
{
	struct wasm_memory *mem = inst->mem0;
	struct uffdio_register reg;
	uint64_t run = 0, n = mem ? mem->size / PAGE : 0;
	int r;

	if (!in->missing || in->npages != n) {
		snprintf(err, errlen,
			 "corrupt: the post-copy names %llu pages of memory, the program has "
			 "%llu",
			 (unsigned long long)in->npages, (unsigned long long)n);
		return -EINVAL;
	}
	if (mem && !mem->guard) {
		snprintf(err, errlen,
			 "post-copy needs the memory's guard region (a 32-bit memory, 8 GiB of "
			 "address space here: see ulimit -v), so that it never moves while its "
			 "pages arrive; migrate without post-copy");
		return -EOPNOTSUPP;
	}
	in->mem = mem;
	in->base = mem ? mem->base : NULL;
	for (uint64_t q = 0; q <= n; q++) {
		bool gone = q < n && (in->missing[q / 64] >> (q % 64) & 1);
		if (gone) {
			run++;
		} else if (run) {
			if (madvise(in->base + (q - run) * PAGE, run * PAGE, MADV_DONTNEED) < 0) {
				r = -errno;
				snprintf(err, errlen, "post-copy: cannot drop pages: %s",
					 strerror(-r));
				return r;
			}
			run = 0;
		}
	}
	/* (a program without memory: nothing to register, the source ends at once) */
	reg = (struct uffdio_register){.range = {(uintptr_t)in->base, mem ? mem->reserved : 0},
				       .mode = UFFDIO_REGISTER_MODE_MISSING};
	if (mem && ioctl(in->uffd, UFFDIO_REGISTER, &reg) < 0) {
		r = -errno;
		snprintf(err, errlen, "post-copy: cannot register the program's memory: %s",
			 strerror(-r));
		return r;
	}
	in->lost = lost;
	in->lost_ctx = ctx;
	in->t0 = now_ns();
	__atomic_store_n(&in->active, true, __ATOMIC_RELAXED);
	if (mem)
		__atomic_store_n(&mem->postcopy, true, __ATOMIC_RELEASE);
	r = -pthread_create(&in->thread, NULL, in_main, in);
	if (r) {
		if (mem)
			__atomic_store_n(&mem->postcopy, false, __ATOMIC_RELAXED);
		__atomic_store_n(&in->active, false, __ATOMIC_RELAXED);
		snprintf(err, errlen, "post-copy: cannot start its thread: %s", strerror(-r));
		return r;
	}
	in->started = true;
	return 0;
}

int wasm_postcopy_in_ack(struct wasm_postcopy_in *in)
{
	int r = send_tag(in, SNAP_STREAM_ACK, NULL);

	pthread_mutex_lock(&in->lock);
	in->acked = !r;
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
	return r;
}

uint64_t wasm_postcopy_in_missing(const struct wasm_postcopy_in *in)
{
	return __atomic_load_n(&in->nmissing, __ATOMIC_RELAXED);
}

bool wasm_postcopy_in_active(const struct wasm_postcopy_in *in)
{
	return in && __atomic_load_n(&in->active, __ATOMIC_ACQUIRE);
}

void wasm_postcopy_in_fini(struct wasm_postcopy_in *in, bool wait)
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
	if (in->mem)
		__atomic_store_n(&in->mem->postcopy, false, __ATOMIC_RELEASE);
	close(in->fd);
	core_free(in->missing);
	core_free(in->asked);
	pthread_mutex_destroy(&in->lock);
	pthread_cond_destroy(&in->cond);
	core_free(in);
}
