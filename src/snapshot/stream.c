/*
 * The migration stream (see snapshot.h, docs/SNAPSHOT.md "Live migration"): the snapshot
 * file's sections sent over a socket. A 16-byte header ("LODGEMIG", u32 version, u32
 * CRC-32 of the first 12 bytes), then sections with the file's 24-byte section header
 * (type, reserved, length, payload CRC, header CRC) followed by their payload. The
 * receiving side checks every header, length and checksum before it uses a byte.
 */
#include "snapshot/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/tcp.h"
#include "snapshot/internal.h"

static const uint8_t stream_magic[8] = {'L', 'O', 'D', 'G', 'E', 'M', 'I', 'G'};

/* magic, u32 version, the source's nonce, u32 CRC of what is before it */
#define STREAM_HEADER (12 + SNAP_STREAM_NONCE + 4)

static int put_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t k =
			send(fd, b, n, MSG_NOSIGNAL); /* a peer gone is an error, not a signal */
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (k == 0)
			return -EPIPE;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Reads exactly n bytes. With *deadline 0, the first read waits as the socket's timeout
 * says and sets *deadline to SNAP_STREAM_TIMEOUT_S after it; from then on (and with
 * *deadline set) every byte must come by *deadline (CLOCK_MONOTONIC ns): a peer that
 * trickles a byte every few seconds does not hold this side for ever. -ETIME when the
 * deadline passed. */
static int get_until(int fd, void *p, size_t n, uint64_t *deadline)
{
	uint8_t *b = p;

	while (n) {
		ssize_t k;
		if (*deadline) {
			uint64_t now = core_now_ns();
			struct pollfd pf = {.fd = fd, .events = POLLIN};
			int w;
			if (now >= *deadline)
				return -ETIME;
			w = poll(&pf, 1, (int)((*deadline - now + 999999) / 1000000));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -errno;
			if (w == 0)
				return -ETIME;
			k = read(fd, b, n); /* readable: does not wait (any fd, not only sockets) */
			if (k < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
		} else {
			k = read(fd, b, n);
			if (k < 0 && errno == EINTR)
				continue;
		}
		if (k < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (k == 0)
			return -ECONNRESET; /* the other side closed mid-stream */
		if (!*deadline)
			*deadline = core_now_ns() + SNAP_STREAM_TIMEOUT_S * 1000000000ull;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* get_until for n bytes that come together (a header, an answer). */
static int get_all(int fd, void *p, size_t n)
{
	uint64_t deadline = 0;
	int r = get_until(fd, p, n, &deadline);

	return r == -ETIME ? -ETIMEDOUT : r;
}

int snap_stream_put_header(int fd, uint8_t nonce[SNAP_STREAM_NONCE])
{
	uint8_t h[STREAM_HEADER];

	if (getrandom(nonce, SNAP_STREAM_NONCE, GRND_NONBLOCK) != SNAP_STREAM_NONCE) {
		uint64_t v = core_now_ns() ^ ((uint64_t)getpid() << 32);
		memcpy(nonce, &v, SNAP_STREAM_NONCE); /* unique enough to tell peers apart */
	}
	memcpy(h, stream_magic, 8);
	snap_le32(h + 8, SNAP_STREAM_VERSION);
	memcpy(h + 12, nonce, SNAP_STREAM_NONCE);
	snap_le32(h + 12 + SNAP_STREAM_NONCE, snap_crc(0, h, 12 + SNAP_STREAM_NONCE));
	return put_all(fd, h, sizeof(h));
}

int snap_stream_get_header(int fd, uint8_t nonce[SNAP_STREAM_NONCE], char *err, size_t errlen)
{
	uint8_t h[STREAM_HEADER];
	int r = get_all(fd, h, 12); /* the version first: another one's header has another size */

	if (r) {
		snap_errf(err, errlen, "no stream header: %s", strerror(-r));
		return r;
	}
	if (memcmp(h, stream_magic, 8)) {
		snap_errf(err, errlen, "not a Lodge migration stream (bad header)");
		return -EINVAL;
	}
	if (snap_get32(h + 8) != SNAP_STREAM_VERSION) {
		snap_errf(err, errlen,
			  "migration stream version %u is not supported (this Lodge speaks "
			  "version %d)",
			  snap_get32(h + 8), SNAP_STREAM_VERSION);
		return -EINVAL;
	}
	r = get_all(fd, h + 12, sizeof(h) - 12);
	if (r) {
		snap_errf(err, errlen, "no stream header: %s", strerror(-r));
		return r;
	}
	if (snap_get32(h + 12 + SNAP_STREAM_NONCE) != snap_crc(0, h, 12 + SNAP_STREAM_NONCE)) {
		snap_errf(err, errlen, "not a Lodge migration stream (bad header)");
		return -EINVAL;
	}
	if (nonce)
		memcpy(nonce, h + 12, SNAP_STREAM_NONCE);
	return 0;
}

int snap_stream_put(int fd, uint32_t type, const void *data, size_t len)
{
	uint8_t h[SNAP_SECTION_HDR];
	int r;

	snap_le32(h, type);
	snap_le32(h + 4, 0);
	snap_le64(h + 8, len);
	snap_le32(h + 16, snap_crc(0, data, len));
	snap_le32(h + 20, snap_crc(0, h, 20));
	r = put_all(fd, h, sizeof(h));
	return r ?: put_all(fd, data, len);
}

static void slow_errf(char *err, size_t errlen, uint64_t t0)
{
	snap_errf(err, errlen,
		  "a section did not come in time (%.0f s after its first byte; a section must "
		  "come within %d s of it, and 1 s more per %u KiB): the peer stalls or the "
		  "link is too slow",
		  (double)(core_now_ns() - t0) / 1e9, SNAP_STREAM_TIMEOUT_S,
		  SNAP_STREAM_MIN_RATE / 1024);
}

int snap_stream_get(int fd, uint32_t *type, uint8_t **out, size_t *len, size_t max, char *err,
		    size_t errlen)
{
	uint8_t h[SNAP_SECTION_HDR], *p;
	uint64_t n, deadline = 0, t0;
	int r = get_until(fd, h, 1, &deadline);

	t0 = core_now_ns();
	r = r ?: get_until(fd, h + 1, sizeof(h) - 1, &deadline);
	if (r == -ETIME) {
		slow_errf(err, errlen, t0);
		return -ETIMEDOUT;
	}
	if (r) {
		snap_errf(err, errlen, "the stream ended: %s", strerror(-r));
		return r;
	}
	n = snap_get64(h + 8);
	if (snap_get32(h + 20) != snap_crc(0, h, 20) || snap_get32(h + 4)) {
		snap_errf(err, errlen, "corrupt: a section header fails its checksum");
		return -EINVAL;
	}
	if (n > max) {
		snap_errf(err, errlen,
			  "corrupt: a section of type 0x%x claims %llu bytes (at most %zu)",
			  snap_get32(h), (unsigned long long)n, max);
		return -EINVAL;
	}
	p = core_alloc(n ? (size_t)n : 1);
	if (!p)
		return -ENOMEM;
	/* the payload's time: its length at SNAP_STREAM_MIN_RATE, on top */
	deadline += n * 1000000000ull / SNAP_STREAM_MIN_RATE;
	r = get_until(fd, p, (size_t)n, &deadline);
	if (r == -ETIME) {
		slow_errf(err, errlen, t0);
		core_free(p);
		return -ETIMEDOUT;
	}
	if (r) {
		snap_errf(err, errlen, "the stream ended inside a section: %s", strerror(-r));
		core_free(p);
		return r;
	}
	if (snap_crc(0, p, (size_t)n) != snap_get32(h + 16)) {
		snap_errf(err, errlen, "corrupt: a section of type 0x%x fails its checksum",
			  snap_get32(h));
		core_free(p);
		return -EINVAL;
	}
	*type = snap_get32(h);
	*out = p;
	*len = (size_t)n;
	return 0;
}

/* ---- connections ---- */

void snap_stream_sockopts(int fd)
{
	tcp_stream_opts(fd, SNAP_STREAM_TIMEOUT_S);
}

int snap_stream_dial(const char *dest)
{
	return tcp_dial(dest, SNAP_STREAM_CONNECT_MS, SNAP_STREAM_TIMEOUT_S);
}

int snap_stream_accept(const char *addr, char *err, size_t errlen)
{
	return snap_stream_accept_until(addr, NULL, NULL, err, errlen);
}

/* How often a wait for a connection asks whether to give up. */
#define ACCEPT_POLL_MS 200

int snap_stream_accept_until(const char *addr, bool (*stop)(void *ctx), void *ctx, char *err,
			     size_t errlen)
{
	struct addrinfo *ai;
	int one = 1, fd, c, r = tcp_resolve(addr, true, &ai);

	if (r) {
		snap_errf(err, errlen,
			  "%s: not HOST:PORT with a port from 1 to 65535, or its host does not "
			  "resolve",
			  addr);
		return r;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		r = -errno;
		freeaddrinfo(ai);
		snap_errf(err, errlen, "cannot create a socket: %s", strerror(-r));
		return r;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1) < 0) {
		r = -errno;
		freeaddrinfo(ai);
		close(fd);
		snap_errf(err, errlen, "cannot listen on %s: %s", addr, strerror(-r));
		return r;
	}
	freeaddrinfo(ai);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (stop && stop(ctx)) {
			close(fd);
			snap_errf(err, errlen, "stopped while waiting for a connection on %s",
				  addr);
			return -ECANCELED;
		}
		if (poll(&p, 1, stop ? ACCEPT_POLL_MS : -1) <= 0)
			continue; /* (EINTR) */
		c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0 || (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN))
			break;
	}
	r = c < 0 ? -errno : 0;
	close(fd);
	if (r) {
		snap_errf(err, errlen, "accept on %s: %s", addr, strerror(-r));
		return r;
	}
	snap_stream_sockopts(c);
	return c;
}

/* ---- a whole snapshot file (stop and copy) ---- */

#define FILE_CHUNK (1u << 20)

int snap_stream_send_file_body(int fd, const char *path, uint64_t *sent)
{
	uint8_t *buf = core_alloc(FILE_CHUNK);
	int in = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (!buf || in < 0) {
		r = !buf ? -ENOMEM : -errno;
		goto out;
	}
	while (!r) {
		ssize_t n = read(in, buf, FILE_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		r = snap_stream_put(fd, SNAP_SEC_FILE, buf, (size_t)n);
		*sent += (uint64_t)n + SNAP_SECTION_HDR;
	}
	r = r ?: snap_stream_put(fd, SNAP_SEC_DONE, "", 0);
out:
	if (in >= 0)
		close(in);
	core_free(buf);
	return r;
}

/* ---- the incoming file's disk writes: progress while one is slow ----
 * A write that waits long (a slow or stalled disk) stops this side reading the stream
 * while the peer, its stream sent, waits for the answer (snap_stream_get_answer, a
 * post-copy's page server: both read progress frames past): a thread sends a progress
 * frame about once a SNAP_STREAM_PROGRESS_NS while a write has taken that long, so the
 * peer sees this side alive rather than silent for the stream's timeout. It sends only
 * while the receiving thread is in such a write (which sends nothing else on fd then:
 * the sections before the file, whose callbacks may answer, come before it starts). */
struct write_watch {
	int fd;
	uint64_t since, last_ns; /* since: when the write under way began, 0: none */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	bool stop;
};

static void *watch_main(void *opaque)
{
	struct write_watch *w = opaque;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		struct timespec until;
		if (w->since && core_now_ns() - w->since >= SNAP_STREAM_PROGRESS_NS &&
		    snap_stream_progress(w->fd, 0, &w->last_ns))
			break; /* the peer is gone: the next read says so */
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += (long)(SNAP_STREAM_PROGRESS_NS / 4);
		while (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &until);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static struct write_watch *watch_start(int fd)
{
	struct write_watch *w = core_calloc(1, sizeof(*w));
	pthread_condattr_t ca;

	if (!w)
		return NULL;
	w->fd = fd;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&w->thread, NULL, watch_main, w)) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		core_free(w);
		return NULL; /* the writes go on without it */
	}
	return w;
}

static void watch_write(struct write_watch *w, bool begins)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->since = begins ? core_now_ns() : 0;
	pthread_mutex_unlock(&w->lock);
}

static void watch_end(struct write_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	core_free(w);
}

#ifdef LODGE_TEST_HOOKS
/* LODGE_TEST_HOOK=slow-disk: the incoming file's first write takes the stream's timeout
 * and 5 s more (a stalled disk). */
static void test_slow_disk(uint64_t total)
{
	const char *hook = getenv("LODGE_TEST_HOOK");

	if (total || !hook || strcmp(hook, "slow-disk"))
		return;
	for (unsigned i = 0; i < (SNAP_STREAM_TIMEOUT_S + 5) * 10; i++)
		usleep(100 * 1000);
}
#endif

int snap_stream_recv_file_cb(int fd, const char *path, uint64_t max, snap_stream_other_fn other,
			     void *opaque, uint8_t nonce[SNAP_STREAM_NONCE], char *err,
			     size_t errlen)
{
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	uint64_t total = 0;
	struct write_watch *watch = NULL;
	int r;

	if (out < 0) {
		r = -errno;
		snap_errf(err, errlen, "cannot create %s: %s", path, strerror(-r));
		return r;
	}
	r = snap_stream_get_header(fd, nonce, err, errlen);
	while (!r) {
		uint8_t *p = NULL;
		uint32_t type;
		size_t len, off = 0;
		r = snap_stream_get(fd, &type, &p, &len, other ? SNAP_STREAM_PAGES_MAX : FILE_CHUNK,
				    err, errlen);
		if (r)
			break;
		if (other && type != SNAP_SEC_FILE && type != SNAP_SEC_DONE) {
			/* before the file only: what follows it is DONE */
			r = total ? -EINVAL : other(opaque, type, p, len, err, errlen);
			if (total)
				snap_errf(
					err, errlen,
					"corrupt: a section of type 0x%x inside the snapshot file",
					type);
			core_free(p);
			continue;
		}
		if (type == SNAP_SEC_DONE) {
			core_free(p);
			if (!total) {
				snap_errf(err, errlen, "corrupt: the stream holds no snapshot");
				r = -EINVAL;
			}
			break;
		}
		if (type != SNAP_SEC_FILE || len == 0 || len > max - total) {
			snap_errf(
				err, errlen,
				type != SNAP_SEC_FILE
					? "the stream does not hold a snapshot file (a section "
					  "of type 0x%x: from a system VM?)"
					: "corrupt: the snapshot in the stream is empty or longer "
					  "than allowed (0x%x)",
				type);
			core_free(p);
			r = -EINVAL;
			break;
		}
		if (!total)
			watch = watch_start(fd);
		watch_write(watch, true);
#ifdef LODGE_TEST_HOOKS
		test_slow_disk(total);
#endif
		while (off < len && !r) {
			ssize_t k = write(out, p + off, len - off);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				r = k < 0 ? -errno : -EIO;
				snap_errf(err, errlen, "cannot write %s: %s", path, strerror(-r));
			} else {
				off += (size_t)k;
			}
		}
		watch_write(watch, false);
		total += len;
		core_free(p);
	}
	watch_end(watch);
	if (close(out) < 0 && !r) {
		r = -errno;
		snap_errf(err, errlen, "cannot write %s: %s", path, strerror(-r));
	}
	if (r)
		unlink(path);
	return r;
}

void snap_stream_ack_frame(uint8_t f[SNAP_STREAM_ACK_LEN], const uint8_t nonce[SNAP_STREAM_NONCE])
{
	f[0] = SNAP_STREAM_ACK & 0xff;
	f[1] = SNAP_STREAM_ACK >> 8;
	memcpy(f + 2, nonce, SNAP_STREAM_NONCE);
}

int snap_stream_ack(int fd, const uint8_t nonce[SNAP_STREAM_NONCE])
{
	uint8_t ack[SNAP_STREAM_ACK_LEN];

	snap_stream_ack_frame(ack, nonce);
	return put_all(fd, ack, sizeof(ack));
}

int snap_stream_quiet(int fd)
{
	uint8_t buf[SNAP_STREAM_PROGRESS_LEN];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
		if (n <= 0) /* nothing (EAGAIN), or the end, which the next read reports */
			return 0;
		if (buf[0] != (SNAP_STREAM_PROGRESS & 0xff) ||
		    (n >= 2 && buf[1] != (SNAP_STREAM_PROGRESS >> 8)))
			return -EPROTO;
		if (n < (ssize_t)sizeof(buf)) /* the rest of a progress frame is on its way */
			return 0;
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) != (ssize_t)sizeof(buf))
			return 0;
	}
}

int snap_stream_wait_ack(int fd, const uint8_t nonce[SNAP_STREAM_NONCE])
{
	uint8_t ack[SNAP_STREAM_ACK_LEN];
	int r = snap_stream_get_answer(fd, ack, 2);

	if (r)
		return r;
	if (ack[0] != (SNAP_STREAM_ACK & 0xff) || ack[1] != (SNAP_STREAM_ACK >> 8))
		return -ECONNABORTED;
	r = snap_stream_get_rest(fd, ack + 2, SNAP_STREAM_NONCE);
	if (r == -ETIMEDOUT || r == -ECONNRESET) /* an "OK" alone: not from a Lodge */
		return -EPROTO;
	return r ?: memcmp(ack + 2, nonce, SNAP_STREAM_NONCE) ? -EPROTO : 0;
}

int snap_stream_get_answer(int fd, uint8_t *ans, size_t len)
{
	uint8_t rest[SNAP_STREAM_PROGRESS_LEN - 2];
	int r;

	if (len < 2)
		return -EINVAL;
	for (;;) {
		r = get_all(fd, ans, 2);
		if (r)
			return r;
		if (ans[0] != (SNAP_STREAM_PROGRESS & 0xff) ||
		    ans[1] != (SNAP_STREAM_PROGRESS >> 8))
			return get_all(fd, ans + 2, len - 2);
		r = get_all(fd, rest, sizeof(rest)); /* the peer is alive: wait on */
		if (r)
			return r;
	}
}

int snap_stream_get_rest(int fd, void *p, size_t len)
{
	return get_all(fd, p, len);
}

int snap_stream_progress(int fd, uint64_t what, uint64_t *last_ns)
{
	uint8_t f[SNAP_STREAM_PROGRESS_LEN] = {SNAP_STREAM_PROGRESS & 0xff,
					       SNAP_STREAM_PROGRESS >> 8};
	uint64_t now = core_now_ns();

	if (*last_ns && now - *last_ns < SNAP_STREAM_PROGRESS_NS)
		return 0;
	*last_ns = now;
	snap_le64(f + 2, what);
	return put_all(fd, f, sizeof(f));
}

/* ---- a long step's progress ---- */

struct snap_stream_busy {
	int fd;
	uint64_t what, last_ns;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	bool stop;
};

static void *busy_main(void *opaque)
{
	struct snap_stream_busy *b = opaque;

	pthread_mutex_lock(&b->lock);
	while (!b->stop) {
		struct timespec until;
		int r;

		pthread_mutex_unlock(&b->lock);
		r = snap_stream_progress(b->fd, b->what, &b->last_ns);
		pthread_mutex_lock(&b->lock);
		if (r)
			break; /* the peer is gone: the next write or answer says so */
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += (time_t)(SNAP_STREAM_PROGRESS_NS / 1000000000ull);
		until.tv_nsec += (long)(SNAP_STREAM_PROGRESS_NS % 1000000000ull);
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!b->stop && pthread_cond_timedwait(&b->cond, &b->lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

struct snap_stream_busy *snap_stream_busy_begin(int fd, uint64_t what)
{
	struct snap_stream_busy *b = core_calloc(1, sizeof(*b));
	pthread_condattr_t ca;

	if (!b)
		return NULL;
	b->fd = fd;
	b->what = what;
	pthread_mutex_init(&b->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&b->thread, NULL, busy_main, b)) {
		pthread_cond_destroy(&b->cond);
		pthread_mutex_destroy(&b->lock);
		core_free(b);
		return NULL;
	}
	return b;
}

void snap_stream_busy_end(struct snap_stream_busy *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	b->stop = true;
	pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->thread, NULL);
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);
	core_free(b);
}

#ifdef LODGE_TEST_HOOKS
void snap_stream_test_slow_step(void)
{
	const char *hook = getenv("LODGE_TEST_HOOK");

	if (!hook || strcmp(hook, "slow-apply"))
		return;
	for (unsigned i = 0; i < (SNAP_STREAM_TIMEOUT_S + 5) * 10; i++)
		usleep(100 * 1000);
}

void snap_stream_test_slow_apply(int fd, uint64_t epoch, uint64_t *last_ns)
{
	const char *hook = getenv("LODGE_TEST_HOOK");

	if (!hook || strcmp(hook, "slow-apply") || epoch != 0)
		return;
	for (unsigned i = 0; i < (SNAP_STREAM_TIMEOUT_S + 5) * 10; i++) {
		int r = (usleep(100 * 1000), snap_stream_progress(fd, epoch, last_ns));

		(void)r; /* a failure to send shows at the next read or answer */
	}
}
#endif
