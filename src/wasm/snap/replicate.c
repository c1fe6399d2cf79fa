/*
 * Continuous replication of a WebAssembly program and failover (see wasm/replicate.h).
 *
 * Primary: the first checkpoint streams the memory while the program runs (pre-copy
 * rounds), then parks it for the rest and its state. Later ones park it, take the pages
 * written since the last (into memory), save the state, seal the output held so far and
 * resume it at once; then the checkpoint goes out, and once the standby answers, the
 * sealed output is written where the program meant it to go.
 *
 * Standby: checkpoint 0's pages go straight into the memory being built (nothing before
 * it to keep); later checkpoints are staged (each PAGES section checked as it comes) and
 * applied only once COMMIT says every section arrived and matches. The state file is
 * kept in memory, the last committed one written out only at failover.
 */
#include "wasm/replicate.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/sbuf.h"
#include "snapshot/snapshot.h"
#include "wasm/wasi/wasi.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define REPL_VERSION	    3	/* 2: the standby sends progress frames before "CK"; 3: FSJ */
#define REPL_ACK_LEN	    10	/* "CK", u64 checkpoint */
#define REPL_ROUNDS	    10	/* pre-copy rounds of the first checkpoint, at most */
#define REPL_SMALL	    256 /* pages left that the first pause takes (1 MiB) */
#define REPL_FILE_CHUNK	    (1u << 20)
#define REPL_MAX_STATE	    (256u << 20) /* a state file (the module's bytes included) */
#define REPL_HOLD_MAX	    (64u << 20)	 /* output held at once; more waits for a release */
#define REPL_PARK_GIVE_UP_S 5 /* checkpoints that cannot park this long: replication fails */
#define REPL_HEARTBEAT_MS   2000
#define REPL_JOURNAL_MAX    (256u << 20)  /* directory records between two checkpoints */
#define REPL_TREE_MAX	    (1024u << 20) /* checkpoint 0's: the directories' content */

static void put_le32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* ---- primary ---- */

struct wasm_repl {
	struct wasm_repl_hooks h;
	struct wasm_instance *inst;
	struct wasi *wasi;
	struct wasm_precopy *t;
	int fd;
	char dest[256];
	char path[4096];
	unsigned interval_ms;
	uint64_t epoch;	  /* the next checkpoint's number */
	uint32_t nsec;	  /* sections sent since EPOCH */
	uint32_t crc;	  /* of their payloads */
	uint64_t sent;	  /* bytes */
	struct sbuf recs; /* a checkpoint's sections: u32 type, u64 length, payload */
	struct sbuf jour; /* its directory records (wasi_journal_take) */
	int rec_err;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock; /* stop, stats */
	pthread_cond_t cond;
	bool stop;
	uint64_t last_ack_ns;
	struct wasm_repl_stats st;
	/* held output: records of i32 host fd, u32 length, bytes */
	pthread_mutex_t hlock;
	struct sbuf held;
	bool holding;
};

static int send_sec(struct wasm_repl *rp, uint32_t type, const void *p, size_t len)
{
	int r = snap_stream_put(rp->fd, type, p, len);

	rp->nsec++;
	rp->crc = (uint32_t)crc32(rp->crc, p, (uInt)len);
	rp->sent += len + 24;
	return r;
}

static int put_stream(void *ctx, uint32_t type, const void *p, size_t len)
{
	return send_sec(ctx, type, p, len);
}

static int put_rec(void *ctx, uint32_t type, const void *p, size_t len)
{
	struct wasm_repl *rp = ctx;

	sbuf_put_u32(&rp->recs, type);
	sbuf_put_u64(&rp->recs, len);
	sbuf_put(&rp->recs, p, len);
	return rp->recs.err;
}

static int send_epoch(struct wasm_repl *rp)
{
	uint8_t e[8];

	put_le64(e, rp->epoch);
	rp->nsec = 0;
	rp->crc = 0;
	rp->sent += 32;
	return snap_stream_put(rp->fd, SNAP_SEC_EPOCH, e, sizeof(e));
}

static int send_recs(struct wasm_repl *rp)
{
	size_t off = 0;
	int r = 0;

	while (!r && off + 12 <= rp->recs.len) {
		uint32_t type = get_le32(rp->recs.data + off);
		uint64_t len = get_le64(rp->recs.data + off + 4);
		r = send_sec(rp, type, rp->recs.data + off + 12, (size_t)len);
		off += 12 + (size_t)len;
	}
	return r;
}

static int send_commit(struct wasm_repl *rp)
{
	uint8_t c[16];

	put_le64(c, rp->epoch);
	put_le32(c + 8, rp->nsec);
	put_le32(c + 12, rp->crc);
	rp->sent += 40;
	return snap_stream_put(rp->fd, SNAP_SEC_COMMIT, c, sizeof(c));
}

static int wait_committed(struct wasm_repl *rp)
{
	uint8_t a[REPL_ACK_LEN];
	/* A slow standby says that it works on (progress frames): only silence for the
	 * socket's timeout is death. */
	int r = snap_stream_get_answer(rp->fd, a, sizeof(a));

	if (r)
		return r;
	if (a[0] != (SNAP_STREAM_COMMITTED & 0xff) || a[1] != (SNAP_STREAM_COMMITTED >> 8) ||
	    get_le64(a + 2) != rp->epoch)
		return -ECONNABORTED;
	return 0;
}

/* The state file's bytes as FILE records. */
static int take_state(struct wasm_repl *rp, char *err, size_t errlen)
{
	uint8_t *buf;
	struct stat sb;
	ssize_t n;
	int fd = open(rp->path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0 || fstat(fd, &sb) < 0 || sb.st_size > REPL_MAX_STATE) {
		r = fd < 0 || sb.st_size <= REPL_MAX_STATE ? -errno : -EFBIG;
		snprintf(err, errlen, "the program's state (%s): %s", rp->path, strerror(-r));
		if (fd >= 0)
			close(fd);
		return r;
	}
	buf = core_alloc(REPL_FILE_CHUNK);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while ((n = read(fd, buf, REPL_FILE_CHUNK)) > 0 && !r)
		r = put_rec(rp, SNAP_SEC_FILE, buf, (size_t)n);
	if (n < 0)
		r = -errno;
	if (r)
		snprintf(err, errlen, "reading the program's state: %s", strerror(-r));
	core_free(buf);
	close(fd);
	unlink(rp->path);
	return r;
}

/* The directories' records since the last checkpoint (all of their content for the
 * first) as FSJ sections, before the state file's; the program parked. */
static int take_journal(struct wasm_repl *rp, bool first, char *err, size_t errlen)
{
	int r;

	rp->jour.len = 0;
	rp->jour.err = 0;
	r = first ? wasi_journal_begin(rp->wasi, REPL_JOURNAL_MAX, &rp->jour, err, errlen)
		  : wasi_journal_take(rp->wasi, &rp->jour, err, errlen);
	if (!r && rp->jour.len > REPL_TREE_MAX) {
		snprintf(err, errlen, "the program's directories hold more than %u MiB",
			 REPL_TREE_MAX >> 20);
		r = -EFBIG;
	}
	for (size_t off = 0; !r && off < rp->jour.len; off += REPL_FILE_CHUNK) {
		size_t n =
			rp->jour.len - off < REPL_FILE_CHUNK ? rp->jour.len - off : REPL_FILE_CHUNK;
		r = put_rec(rp, SNAP_SEC_FSJ, rp->jour.data + off, n);
		if (r)
			snprintf(err, errlen, "out of memory");
	}
	if (rp->jour.len > (4u << 20)) /* a big one (the first) is not kept */
		sbuf_fini(&rp->jour);
	return r;
}

/* The held output up to `upto` goes out, in order; hlock held. */
static void release_locked(struct wasm_repl *rp, size_t upto)
{
	size_t off = 0;

	if (upto > rp->held.len)
		upto = rp->held.len;
	while (off + 8 <= upto) {
		int host = (int)get_le32(rp->held.data + off);
		size_t len = get_le32(rp->held.data + off + 4), done = 0;
		off += 8;
		while (done < len) {
			ssize_t k = write(host, rp->held.data + off + done, len - done);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break; /* as the program's own write would have failed */
			done += (size_t)k;
		}
		off += len;
	}
	if (off)
		memmove(rp->held.data, rp->held.data + off, rp->held.len - off);
	rp->held.len -= off;
}

static void release(struct wasm_repl *rp, size_t upto)
{
	pthread_mutex_lock(&rp->hlock);
	release_locked(rp, upto);
	pthread_mutex_unlock(&rp->hlock);
}

/* wasi_hold_fn: takes what fits under REPL_HOLD_MAX (possibly nothing: the program's
 * writer tries again, and a checkpoint can still be taken meanwhile). */
static long hold(void *opaque, int host, const struct iovec *iov, int cnt)
{
	struct wasm_repl *rp = opaque;
	size_t total = 0, room;
	long taken = 0;

	pthread_mutex_lock(&rp->hlock);
	if (!rp->holding) { /* replication stopped: straight through, after what was held */
		taken = writev(host, iov, cnt);
		if (taken < 0)
			taken = -errno;
		pthread_mutex_unlock(&rp->hlock);
		return taken;
	}
	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	room = rp->held.len + 8 < REPL_HOLD_MAX ? REPL_HOLD_MAX - rp->held.len - 8 : 0;
	if (total > room)
		total = room;
	if (total) {
		sbuf_put_u32(&rp->held, (uint32_t)host);
		sbuf_put_u32(&rp->held, (uint32_t)total);
		for (int i = 0; i < cnt && (size_t)taken < total; i++) {
			size_t k = iov[i].iov_len < total - (size_t)taken ? iov[i].iov_len
									  : total - (size_t)taken;
			sbuf_put(&rp->held, iov[i].iov_base, k);
			taken += (long)k;
		}
		if (rp->held.err) {
			pthread_mutex_unlock(&rp->hlock);
			return -ENOMEM;
		}
		if (rp->held.len > rp->st.held_max)
			rp->st.held_max = rp->held.len;
	}
	pthread_mutex_unlock(&rp->hlock);
	if (!taken) /* full until the next release: do not spin hard */
		usleep(1000);
	return taken;
}

/* One checkpoint. first: checkpoint 0 (pre-copied as the program runs). Returns 0,
 * -EAGAIN (the program did not park: nothing sent, try later) or -errno with err. */
static int checkpoint(struct wasm_repl *rp, bool first, char *err, size_t errlen)
{
	uint64_t t0 = core_now_ns(), tp, pause, n = 0, sent0 = rp->sent;
	size_t sealed;
	int r = 0;

	rp->recs.len = 0;
	rp->recs.err = 0;
	if (first) {
		uint8_t h[12], nonce[SNAP_STREAM_NONCE]; /* no "OK" follows */
		put_le32(h, REPL_VERSION);
		put_le32(h + 4, rp->interval_ms);
		put_le32(h + 8, 0);
		r = snap_stream_put_header(rp->fd, nonce);
		r = r ?: snap_stream_put(rp->fd, SNAP_SEC_REPLICATE, h, sizeof(h));
		r = r ?: send_epoch(rp);
		for (unsigned k = 0; !r && k < REPL_ROUNDS; k++) {
			r = wasm_precopy_round_to(rp->t, put_stream, rp, false, &n);
			if (n <= REPL_SMALL)
				break;
		}
		if (r) {
			snprintf(err, errlen, "sending the program's memory: %s", strerror(-r));
			return r;
		}
	}
	r = rp->h.park(rp->h.opaque, err, errlen);
	if (r)
		return r;
	tp = core_now_ns();
	r = wasm_precopy_round_to(rp->t, put_rec, rp, true, &n);
	if (r)
		snprintf(err, errlen, "taking the pages written: %s", strerror(-r));
	r = r ?: rp->h.save(rp->h.opaque, rp->path, err, errlen);
	r = r ?: take_journal(rp, first, err, errlen);
	r = r ?: take_state(rp, err, errlen);
	pthread_mutex_lock(&rp->hlock);
	sealed = rp->held.len; /* what the program wrote before this point */
	pthread_mutex_unlock(&rp->hlock);
	rp->h.unpark(rp->h.opaque);
	pause = core_now_ns() - tp;
	if (r)
		return r == -EAGAIN ? -EIO : r;
	r = first ? 0 : send_epoch(rp);
	r = r ?: send_recs(rp);
	r = r ?: send_commit(rp);
	r = r ?: wait_committed(rp);
	if (r) {
		snprintf(err, errlen, "%s",
			 r == -ECONNABORTED ? "the standby refused a checkpoint"
			 : r == -ETIMEDOUT  ? "the standby does not answer"
					    : strerror(-r));
		return r;
	}
	release(rp, sealed);
	pthread_mutex_lock(&rp->lock);
	if (first) {
		rp->st.first_pause_ns = pause;
		rp->st.first_ns = core_now_ns() - t0;
	} else {
		uint64_t rpo = core_now_ns() - rp->last_ack_ns;
		rp->st.pause_last_ns = pause;
		rp->st.pause_total_ns += pause;
		if (pause > rp->st.pause_max_ns)
			rp->st.pause_max_ns = pause;
		rp->st.rpo_last_ns = rpo;
		rp->st.rpo_total_ns += rpo;
		if (rpo > rp->st.rpo_max_ns)
			rp->st.rpo_max_ns = rpo;
	}
	rp->last_ack_ns = core_now_ns();
	rp->st.checkpoints++;
	rp->st.bytes += rp->sent - sent0;
	pthread_mutex_unlock(&rp->lock);
	rp->epoch++;
	return 0;
}

/* Stops holding: what is held goes out, later writes go straight through. */
static void unhold(struct wasm_repl *rp)
{
	pthread_mutex_lock(&rp->hlock);
	rp->holding = false;
	release_locked(rp, SIZE_MAX);
	pthread_mutex_unlock(&rp->hlock);
	wasi_set_hold(rp->wasi, NULL, NULL);
	wasi_journal_end(rp->wasi);
}

static void *repl_main(void *arg)
{
	struct wasm_repl *rp = arg;
	uint64_t next = core_now_ns(), stuck_since = 0;
	char err[256] = "";
	int r = 0;

	for (;;) {
		struct timespec ts;
		next += (uint64_t)rp->interval_ms * 1000000ull;
		if (next < core_now_ns())
			next = core_now_ns(); /* a checkpoint took longer than the interval */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)((next - core_now_ns()) / 1000000000ull);
		ts.tv_nsec += (long)((next - core_now_ns()) % 1000000000ull);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&rp->lock);
		while (!rp->stop && core_now_ns() < next)
			if (pthread_cond_timedwait(&rp->cond, &rp->lock, &ts) == ETIMEDOUT)
				break;
		if (rp->stop) {
			pthread_mutex_unlock(&rp->lock);
			return NULL;
		}
		pthread_mutex_unlock(&rp->lock);
		r = checkpoint(rp, false, err, sizeof(err));
		if (r == -EAGAIN) { /* parked nowhere it can be saved: the next interval */
			if (!stuck_since)
				stuck_since = core_now_ns();
			if (core_now_ns() - stuck_since < REPL_PARK_GIVE_UP_S * 1000000000ull)
				continue;
		} else {
			stuck_since = 0;
		}
		if (r)
			break;
	}
	log_warn("replication to %s failed: %s: the program runs on unprotected (its held "
		 "output is released; PUT /replicate starts again)",
		 rp->dest, err);
	pthread_mutex_lock(&rp->lock);
	rp->st.active = false;
	snprintf(rp->st.error, sizeof(rp->st.error), "%s", err);
	pthread_mutex_unlock(&rp->lock);
	unhold(rp);
	shutdown(rp->fd, SHUT_RDWR);
	return NULL;
}

static void repl_free(struct wasm_repl *rp)
{
	if (rp->fd >= 0)
		close(rp->fd);
	wasm_precopy_stop(rp->t);
	sbuf_fini(&rp->recs);
	sbuf_fini(&rp->jour);
	sbuf_fini(&rp->held);
	pthread_mutex_destroy(&rp->lock);
	pthread_cond_destroy(&rp->cond);
	pthread_mutex_destroy(&rp->hlock);
	core_free(rp);
}

int wasm_replicate_start(struct wasm_instance *inst, struct wasi *w,
			 const struct wasm_repl_hooks *h, const char *dest, int fd,
			 unsigned interval_ms, const char *path, struct wasm_repl **out, char *err,
			 size_t errlen)
{
	struct wasm_repl *rp;
	int r;

	r = wasi_journal_check(w, err, errlen); /* before any memory is sent */
	if (r) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	rp = core_calloc(1, sizeof(*rp));
	if (!rp) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rp->h = *h;
	rp->inst = inst;
	rp->wasi = w;
	rp->interval_ms = interval_ms;
	rp->fd = fd;
	snprintf(rp->dest, sizeof(rp->dest), "%s", dest);
	snprintf(rp->path, sizeof(rp->path), "%s", path);
	pthread_mutex_init(&rp->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rp->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&rp->hlock, NULL);
	r = wasm_precopy_start(inst, &rp->t, err, errlen);
	if (r) {
		repl_free(rp);
		return r;
	}
	if (rp->fd < 0) {
		rp->fd = snap_stream_dial(dest);
		if (rp->fd < 0) {
			r = rp->fd;
			snprintf(err, errlen, "cannot connect to %s: %s", dest,
				 r == -EINVAL ? "not HOST:PORT with a port from 1 to 65535, or its "
						"host does not resolve"
					      : strerror(-r));
			repl_free(rp);
			return r;
		}
	}
	/* from here the program's output waits for checkpoint 0's answer */
	rp->holding = true;
	wasi_set_hold(w, hold, rp);
	r = checkpoint(rp, true, err, errlen);
	if (!r) {
		rp->st.active = true;
		r = pthread_create(&rp->thread, NULL, repl_main, rp);
		if (r) {
			r = -r;
			rp->st.active = false;
			snprintf(err, errlen, "cannot start the replication thread");
		} else {
			rp->thread_started = true;
		}
	}
	if (r) {
		char e2[300];
		snprintf(e2, sizeof(e2), "%s", err);
		snprintf(err, errlen, "%s: %s", dest, e2);
		unhold(rp);
		repl_free(rp);
		return r == -EAGAIN ? -EBUSY : r;
	}
	*out = rp;
	return 0;
}

void wasm_replicate_stats(struct wasm_repl *rp, struct wasm_repl_stats *out)
{
	pthread_mutex_lock(&rp->lock);
	*out = rp->st;
	pthread_mutex_unlock(&rp->lock);
}

void wasm_replicate_stop(struct wasm_repl *rp, bool done)
{
	if (!rp)
		return;
	pthread_mutex_lock(&rp->lock);
	rp->stop = true;
	pthread_cond_broadcast(&rp->cond);
	pthread_mutex_unlock(&rp->lock);
	if (rp->thread_started)
		pthread_join(rp->thread, NULL);
	/* the standby must not take over a program that ended here: it is told before the
	 * output after the last checkpoint goes out */
	if (done && rp->st.active && snap_stream_put(rp->fd, SNAP_SEC_DONE, "", 0))
		log_warn("replication: cannot tell %s that the program ended", rp->dest);
	unhold(rp);
	repl_free(rp);
}

/* ---- standby ---- */

struct wasm_standby {
	int fd;
	bool auto_failover;
	unsigned heartbeat_ms;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool failover; /* asked for */
	uint64_t committed;
	uint64_t progress_ns;  /* the last progress frame sent */
	struct wasi_mirror *m; /* its copies of the program's directories */
};

/* Tells the primary, about once a second, that this standby works on (receives or
 * applies a checkpoint); a failure to send shows at the next read or answer. */
static void standby_progress(struct wasm_standby *s, uint64_t epoch)
{
	int r = snap_stream_progress(s->fd, epoch, &s->progress_ns);

	(void)r;
}

int wasm_standby_create(int fd, bool auto_failover, unsigned heartbeat_ms,
			struct wasm_standby **out)
{
	struct wasm_standby *s = core_calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->auto_failover = auto_failover;
	s->heartbeat_ms = heartbeat_ms ? heartbeat_ms : REPL_HEARTBEAT_MS;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	*out = s;
	return 0;
}

void wasm_standby_failover(struct wasm_standby *s)
{
	pthread_mutex_lock(&s->lock);
	s->failover = true;
	shutdown(s->fd, SHUT_RDWR);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

uint64_t wasm_standby_committed(struct wasm_standby *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	n = s->committed;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void wasm_standby_set_dirs(struct wasm_standby *s, struct wasi_mirror *m)
{
	wasi_mirror_destroy(s->m);
	s->m = m;
}

void wasm_standby_destroy(struct wasm_standby *s)
{
	if (!s)
		return;
	wasi_mirror_destroy(s->m);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	core_free(s);
}

static int send_ack(int fd, uint64_t epoch)
{
	uint8_t a[REPL_ACK_LEN] = {SNAP_STREAM_COMMITTED & 0xff, SNAP_STREAM_COMMITTED >> 8};

	put_le64(a + 2, epoch);
	return send(fd, a, sizeof(a), MSG_NOSIGNAL) == (ssize_t)sizeof(a) ? 0 : -errno;
}

/* A checkpoint being received. */
struct stage {
	bool open;	    /* EPOCH came */
	uint64_t epoch;	    /* its number */
	uint32_t nsec, crc; /* sections since EPOCH, CRC-32 of their payloads */
	struct sbuf pages;  /* staged PAGES payloads: u32 length, payload */
	struct sbuf state;  /* the state file's bytes */
	struct sbuf jour;   /* its directory records (FSJ) */
};

/* One section. Returns 0, 1 once a checkpoint was committed, 2 for DONE, or -errno
 * with err (a malformed stream: what was committed stays). */
static int on_section(struct wasm_standby *s, struct wasm_precopy_in *in, struct stage *st,
		      struct sbuf *committed, bool *have, uint32_t type, const uint8_t *p,
		      size_t len, char *err, size_t errlen)
{
	int r;

	if (type == SNAP_SEC_DONE)
		return 2;
	if (type == SNAP_SEC_EPOCH) {
		uint64_t n = len == 8 ? get_le64(p) : UINT64_MAX;
		uint64_t want = *have ? wasm_standby_committed(s) + 1 : 0;
		if (n != want) {
			snprintf(err, errlen, "corrupt: checkpoint %llu where %llu was due",
				 (unsigned long long)n, (unsigned long long)want);
			return -EINVAL;
		}
		st->open = true;
		st->epoch = n;
		st->nsec = st->crc = 0;
		st->pages.len = st->state.len = st->jour.len = 0;
		st->pages.err = st->state.err = st->jour.err = 0;
		return 0;
	}
	if (!st->open) {
		snprintf(err, errlen, "corrupt: a section of type 0x%x outside a checkpoint", type);
		return -EINVAL;
	}
	if (type == SNAP_SEC_COMMIT) {
		size_t off = 0;
		if (len != 16 || get_le64(p) != st->epoch || get_le32(p + 8) != st->nsec ||
		    get_le32(p + 12) != st->crc) {
			snprintf(err, errlen,
				 "checkpoint %llu is incomplete or damaged (its COMMIT does not "
				 "match what arrived): refused",
				 (unsigned long long)st->epoch);
			return -EINVAL;
		}
		if (st->state.err || st->pages.err || st->jour.err) {
			snprintf(err, errlen, "out of memory for checkpoint %llu",
				 (unsigned long long)st->epoch);
			return -ENOMEM;
		}
#ifdef LODGE_TEST_HOOKS
		snap_stream_test_slow_apply(s->fd, st->epoch, &s->progress_ns);
#endif
		/* the directories first: a journal that fails refuses the checkpoint before
		 * the memory changes */
		if (st->epoch == 0 || st->jour.len) {
			char why[240];
			/* the primary waits: a long apply (many records, the undo's copies of
			 * what truncations cut) says that it works on */
			struct snap_stream_busy *busy = snap_stream_busy_begin(s->fd, st->epoch);
			r = wasi_mirror_apply(s->m, st->jour.data, st->jour.len, st->epoch == 0,
					      why, sizeof(why));
			snap_stream_busy_end(busy);
			if (r) {
				snprintf(err, errlen, "checkpoint %llu refused: %s",
					 (unsigned long long)st->epoch, why);
				return r;
			}
		}
		while (off + 4 <= st->pages.len) { /* each checked as it came */
			uint32_t n = get_le32(st->pages.data + off);
			standby_progress(s, st->epoch);
			r = wasm_precopy_in_section(in, SNAP_SEC_PAGES, st->pages.data + off + 4, n,
						    err, errlen);
			if (r)
				return r;
			off += 4 + n;
		}
		/* the committed state becomes this one */
		struct sbuf tmp = *committed;
		*committed = st->state;
		st->state = tmp;
		st->open = false;
		*have = true;
		pthread_mutex_lock(&s->lock);
		s->committed = st->epoch;
		pthread_mutex_unlock(&s->lock);
		r = send_ack(s->fd, st->epoch);
		if (r) {
			snprintf(err, errlen, "cannot answer checkpoint %llu: %s",
				 (unsigned long long)st->epoch, strerror(-r));
			return r;
		}
		return 1;
	}
	st->nsec++;
	st->crc = (uint32_t)crc32(st->crc, p, (uInt)len);
	if (type == SNAP_SEC_PAGES) {
		if (st->epoch == 0) /* nothing before it to keep */
			return wasm_precopy_in_section(in, type, p, len, err, errlen);
		r = wasm_precopy_in_check(in, p, len, err, errlen);
		if (r)
			return r;
		if (st->pages.len + len > in->npages * (4096 + 8) + (64u << 20)) {
			/* more than every page of the room once */
			snprintf(err, errlen, "corrupt: checkpoint %llu carries too many pages",
				 (unsigned long long)st->epoch);
			return -EINVAL;
		}
		sbuf_put_u32(&st->pages, (uint32_t)len);
		sbuf_put(&st->pages, p, len);
		return 0;
	}
	if (type == SNAP_SEC_FSJ) {
		if (st->jour.len + len >
		    (st->epoch ? REPL_JOURNAL_MAX + (8u << 20) : REPL_TREE_MAX)) {
			snprintf(err, errlen,
				 "corrupt: checkpoint %llu's directory records are too "
				 "long",
				 (unsigned long long)st->epoch);
			return -EINVAL;
		}
		sbuf_put(&st->jour, p, len);
		return 0;
	}
	if (type == SNAP_SEC_FILE) {
		if (st->state.len + len > REPL_MAX_STATE) {
			snprintf(err, errlen, "corrupt: a state over %u MiB", REPL_MAX_STATE >> 20);
			return -EINVAL;
		}
		sbuf_put(&st->state, p, len);
		return 0;
	}
	snprintf(err, errlen, "corrupt: a section of type 0x%x in a checkpoint", type);
	return -EINVAL;
}

static int write_state(const struct sbuf *b, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), r = 0;
	size_t off = 0;

	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	while (off < b->len) {
		ssize_t k = write(fd, b->data + off, b->len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			r = k < 0 ? -errno : -EIO;
			snprintf(err, errlen, "%s: %s", path, strerror(-r));
			break;
		}
		off += (size_t)k;
	}
	close(fd);
	return r;
}

int wasm_standby_run(struct wasm_standby *s, struct wasm_precopy_in *in, const char *path,
		     char *err, size_t errlen)
{
	struct stage st = {0};
	struct sbuf committed = {0};
	char why[300] = "";
	bool have = false, refused = false;
	uint32_t type;
	uint8_t *p = NULL;
	size_t len;
	int r;

	if (!s->m) { /* no directories of its own: the program must have none */
		r = wasi_mirror_create(0, NULL, &s->m, err, errlen);
		if (r)
			return r;
	}
	r = snap_stream_get_header(s->fd, NULL, why, sizeof(why));
	if (!r) {
		r = snap_stream_get(s->fd, &type, &p, &len, SNAP_STREAM_PAGES_MAX, why,
				    sizeof(why));
		if (!r && type != SNAP_SEC_REPLICATE) {
			snprintf(why, sizeof(why), "%s",
				 type == SNAP_SEC_MACHINE
					 ? "a system VM's stream (lodge run --standby takes it)"
					 : "not a replication stream (a live migration? use "
					   "--incoming for that)");
			r = -EINVAL;
		} else if (!r && (len != 12 || get_le32(p) != REPL_VERSION)) {
			snprintf(why, sizeof(why),
				 len == 12 ? "replication version %u is not supported (this Lodge "
					     "speaks version %d)"
					   : "corrupt: the replication section is malformed",
				 len == 12 ? get_le32(p) : 0, REPL_VERSION);
			r = -EINVAL;
		}
		core_free(p);
		p = NULL;
		if (r) {
			snprintf(err, errlen, "%s", why);
			return r;
		}
	} else {
		snprintf(err, errlen, "%s", why[0] ? why : strerror(-r));
		return r;
	}
	for (;;) {
		if (s->auto_failover) {
			struct pollfd pf = {.fd = s->fd, .events = POLLIN};
			int k = poll(&pf, 1, (int)s->heartbeat_ms);
			if (k == 0) {
				snprintf(why, sizeof(why), "the primary was silent for %u ms",
					 s->heartbeat_ms);
				break;
			}
		}
		why[0] = 0;
		r = snap_stream_get(s->fd, &type, &p, &len, SNAP_STREAM_PAGES_MAX, why,
				    sizeof(why));
		if (r) {
			if (!why[0])
				snprintf(why, sizeof(why), "%s",
					 r == -EPIPE || r == -ECONNRESET || r == -ENODATA
						 ? "the stream ended"
						 : strerror(-r));
			refused = r == -EINVAL; /* a damaged section */
			break;
		}
		r = on_section(s, in, &st, &committed, &have, type, p, len, why, sizeof(why));
		core_free(p);
		p = NULL;
		if (r == 0) /* a section taken: the checkpoint it belongs to goes on */
			standby_progress(s, st.epoch);
		if (r < 0) {
			refused = true;
			break;
		}
		if (r == 2) {
			sbuf_fini(&st.pages);
			sbuf_fini(&st.state);
			sbuf_fini(&st.jour);
			sbuf_fini(&committed);
			snprintf(err, errlen,
				 "the program ended on the primary: nothing to take over");
			return -ENODATA;
		}
	}
	sbuf_fini(&st.pages);
	sbuf_fini(&st.state);
	sbuf_fini(&st.jour);
	shutdown(s->fd, SHUT_RDWR);
	if (!have) {
		sbuf_fini(&committed);
		snprintf(err, errlen,
			 "the primary's stream ended before its first checkpoint was complete "
			 "(%s): nothing to take over",
			 why);
		return -ECONNABORTED;
	}
	if (refused) /* the primary is told by the stream's end; the user by this line */
		log_warn("standby: %s: keeping checkpoint %llu", why,
			 (unsigned long long)wasm_standby_committed(s));
	else
		log_info("standby: replication stopped after checkpoint %llu: %s",
			 (unsigned long long)wasm_standby_committed(s), why);
	if (wasi_mirror_broken(s->m)) { /* its directories are no checkpoint's: no takeover */
		sbuf_fini(&committed);
		snprintf(err, errlen,
			 "the standby's directories match no checkpoint (undoing checkpoint %llu's "
			 "records failed): refusing to take over from a corrupt state",
			 (unsigned long long)wasm_standby_committed(s) + 1);
		return -ENOTRECOVERABLE;
	}
	if (!s->auto_failover) {
		pthread_mutex_lock(&s->lock);
		while (!s->failover)
			pthread_cond_wait(&s->cond, &s->lock);
		pthread_mutex_unlock(&s->lock);
	}
	r = write_state(&committed, path, err, errlen);
	sbuf_fini(&committed);
	return r;
}
