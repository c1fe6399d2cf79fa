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
#include "core/clock.h"
#include "core/sbuf.h"
#include "snapshot/postcopy.h"
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
			const uint8_t *nonce, int ack_ms, struct wasm_postcopy_stats *st)
{
	struct serve s = {.fd = fd, .base = base, .bits = bits, .npages = npages, .rate = rate};
	uint64_t w = 0, words = (npages + 63) / 64, t_wait = core_now_ns();
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
		uint64_t now = core_now_ns(), d = due(&s, now);
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
				t_wait = core_now_ns();
			}
		} else if (!later && !work && core_now_ns() - t_wait > (uint64_t)idle * 1000000) {
			r = -ETIMEDOUT; /* the destination is silent */
			break;
		}
		while (!r && have >= 2) {
			unsigned tag = in[0] | (unsigned)in[1] << 8, used = 2;
			if (tag == SNAP_STREAM_ACK && !running) {
				if (have < SNAP_STREAM_ACK_LEN)
					break;
				if (memcmp(in + 2, nonce, SNAP_STREAM_NONCE)) {
					r = -EPROTO; /* an "OK" not from the Lodge it talks to */
					break;
				}
				used = SNAP_STREAM_ACK_LEN;
				running = true;
				st->t_run = core_now_ns();
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
		later = later && core_now_ns() < due(&s, core_now_ns());
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

/* ----- the destination: the post-copy core (snapshot/postcopy.h) on the memory ----- */

struct wasm_postcopy_in {
	struct snap_pc_in *in;
	wasm_postcopy_lost_fn lost;
	void *lost_ctx;
};

int wasm_postcopy_in_new(int fd, struct wasm_postcopy_in **out, char *err, size_t errlen)
{
	struct wasm_postcopy_in *w = core_calloc(1, sizeof(*w));
	int r;

	/* Kernel accesses (WASI's fd_read into the memory) are served only with the
	 * privilege to; without it, user mode only: wasm_memory_range faults a host call's
	 * buffer in first. */
	bool user_only = false;
#ifdef LODGE_TEST_HOOKS
	/* the tests' unprivileged host: kernel accesses are not served */
	const char *hook = getenv("LODGE_TEST_HOOK");
	user_only = hook && !strcmp(hook, "uffd-user-mode");
#endif
	*out = NULL;
	if (!w) {
		uint8_t ans[3] = {SNAP_STREAM_POSTCOPY & 0xff, SNAP_STREAM_POSTCOPY >> 8, 0};
		ssize_t k = send(fd, ans, sizeof(ans), MSG_NOSIGNAL); /* refused, if it can */
		(void)k;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = snap_pc_in_new(fd, user_only, &w->in, err, errlen);
	if (r) {
		core_free(w);
		return r;
	}
	*out = w;
	return 0;
}

int wasm_postcopy_in_discard(struct wasm_postcopy_in *in, const uint8_t *p, size_t len,
			     uint64_t room_pages, char *err, size_t errlen)
{
	return snap_pc_in_discard(in->in, p, len, room_pages < MAX_PAGES ? room_pages : MAX_PAGES,
				  false, err, errlen);
}

bool wasm_postcopy_in_discarded(const struct wasm_postcopy_in *in)
{
	return snap_pc_in_discarded(in->in);
}

/* The core's thread ends: on failure the program cannot go on. */
static void in_end(void *opaque, const struct snap_pc_end *e)
{
	struct wasm_postcopy_in *in = opaque;

	if (!e->r) {
		fprintf(stderr,
			"lodge wasm: post-copy: every page arrived in %.1f ms (%llu asked for)\n",
			(double)e->ns / 1e6, (unsigned long long)e->asked);
		return;
	}
	fprintf(stderr,
		"lodge wasm: post-copy: %s, with %llu pages still missing: the program stops "
		"(its memory is incomplete; the source cannot run it on either)\n",
		e->why, (unsigned long long)e->missing);
	if (!e->over && in->lost)
		in->lost(in->lost_ctx); /* does not return while the program runs */
}

int wasm_postcopy_in_start(struct wasm_postcopy_in *in, struct wasm_instance *inst,
			   wasm_postcopy_lost_fn lost, void *ctx, char *err, size_t errlen)
{
	struct wasm_memory *mem = inst->mem0;
	uint64_t n = mem ? mem->size / PAGE : 0;
	struct snap_pc_target t = {.base = mem ? mem->base : NULL,
				   .npages = n,
				   .reserved = mem ? mem->reserved : 0,
				   .flag = mem ? &mem->postcopy : NULL,
				   .end = in_end,
				   .ctx = in};

	if (snap_pc_in_npages(in->in) != n || !snap_pc_in_discarded(in->in)) {
		snprintf(err, errlen,
			 "corrupt: the post-copy names %llu pages of memory, the program has "
			 "%llu",
			 (unsigned long long)snap_pc_in_npages(in->in), (unsigned long long)n);
		return -EINVAL;
	}
	if (mem && !mem->guard) {
		snprintf(err, errlen,
			 "post-copy needs the memory's guard region (a 32-bit memory, 8 GiB of "
			 "address space here: see ulimit -v), so that it never moves while its "
			 "pages arrive; migrate without post-copy");
		return -EOPNOTSUPP;
	}
	in->lost = lost;
	in->lost_ctx = ctx;
	return snap_pc_in_start(in->in, &t, err, errlen);
}

int wasm_postcopy_in_ack(struct wasm_postcopy_in *in, const uint8_t *nonce)
{
	return snap_pc_in_ack(in->in, nonce);
}

uint64_t wasm_postcopy_in_missing(const struct wasm_postcopy_in *in)
{
	return snap_pc_in_missing(in->in);
}

bool wasm_postcopy_in_active(const struct wasm_postcopy_in *in)
{
	return in && snap_pc_in_active(in->in);
}

void wasm_postcopy_in_fini(struct wasm_postcopy_in *in, bool wait)
{
	if (!in)
		return;
	snap_pc_in_fini(in->in, wait);
	core_free(in);
}
