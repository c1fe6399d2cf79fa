/*
 * Live migration (see migrate.h). Source: connect, send the configuration (MACHINE),
 * start the dirty log, send every page (round 1) with the guest running, then the pages
 * written meanwhile, round after round, until fewer than MIG_SMALL are left (or
 * MIG_MAX_ROUNDS); pause, and on the I/O thread (no device callback runs) send the last
 * pages, the harts, the devices, the clock and DONE; wait for the acknowledgement.
 * Destination: the reverse, checking every section; pages go straight into the new
 * machine's RAM (it does not run yet), the state is loaded after DONE.
 *
 * Writable disks: after MACHINE the source names them and their sizes (MIG_DISKS) and
 * the destination answers how they move. Shared storage (it was given no images): its
 * disks stay closed while the source holds them (OFD locks would refuse a second
 * writer); the paused source closes them (flushed, unlocked) and says SWITCH, the
 * destination opens them then. Copy (one --incoming-disk per disk, of the same size):
 * every 64 KiB block goes with round 1, then the blocks written meanwhile (disk.c's
 * written-block bitmap) with each round, the last ones paused; the destination writes
 * them and flushes before it acknowledges. A source that fails after SWITCH opens its
 * images again before it runs on.
 */
#include "machine/migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "core/alloc.h"
#include "core/evloop.h"
#include "core/gmem.h"
#include "core/keyval.h"
#include "core/log.h"
#include "core/sbuf.h"
#include "devices/device.h"
#include "devices/virtio/blk.h"
#include "disk/disk.h"
#include "machine/machine.h"
#include "machine/snapshot.h"
#include "snapshot/postcopy.h"
#include "snapshot/snapshot.h"

#define MIG_BATCH      256 /* pages per PAGES section */
#define MIG_MAX_ROUNDS 30
#define MIG_SMALL      256 /* dirty pages left that the paused round sends (1 MiB) */
#define MIG_ZERO       (1ull << 63)
#define MIG_MAX_CONFIG (1u << 20)
#define MIG_MAX_PAGES  (4 + MIG_BATCH * (8 + GMEM_PAGE_SIZE))
_Static_assert(MIG_BATCH == SNAP_PC_BATCH && MIG_MAX_PAGES == SNAP_STREAM_PAGES_MAX,
	       "PAGES sections as snapshot/postcopy.h reads them");
#define MIG_SMALL_BLOCKS  16 /* written disk blocks left that the paused round sends */
#define MIG_DISKS_VERSION 1
#define MIG_BLOCK_HDR	  12 /* u32 disk, u64 offset */
#define MIG_BLOCK_DATA	  16 /* where a block is read in m->blk (aligned for the zero test) */
enum { MIG_DISKS_SHARED, MIG_DISKS_COPY, MIG_DISKS_REFUSED };

/* A writable disk of the machine, in creation (= option) order. */
struct mig_disk {
	struct device *dev;
	uint64_t size, nblocks;
	uint64_t *bits; /* blocks to send (copy) */
};

/* The machine's writable disks into d[]; returns how many. */
static unsigned writable_disks(struct vm *vm, struct mig_disk *d)
{
	unsigned n = 0;

	for (struct device *dev = vm->devices; dev && n < VM_MAX_DEVICE_ARGS; dev = dev->next) {
		bool ro;
		if (vblk_is_blk(dev, &ro) && !ro)
			d[n++] = (struct mig_disk){.dev = dev};
	}
	return n;
}

/* ---- source ---- */

struct mig {
	struct vm *vm;
	int fd;
	struct sbuf batch; /* a PAGES section being filled */
	unsigned count;
	uint8_t page[GMEM_PAGE_SIZE] __attribute__((aligned(64)));
	uint64_t *bits; /* pages to send */
	struct vm_migrate_stats *st;
	char *err;
	size_t errlen;
	int r; /* of the paused step */
	struct mig_disk disks[VM_MAX_DEVICE_ARGS];
	unsigned ndisks;
	int mode;      /* MIG_DISKS_*: how the disks move */
	bool released; /* shared storage: the images are closed (SWITCH sent) */
	uint8_t *blk;  /* MIG_BLOCK_DATA + DISK_TRACK_BLOCK */
	bool post_copy;
	uint64_t rate;	     /* bytes per second, 0: no limit */
	uint64_t rate_t0;    /* when the limit's count began */
	uint64_t rate_bytes; /* bytes counted since */
	bool urgent;	     /* post-copy: pages are paced by postcopy_serve, not here */
	uint8_t nonce[SNAP_STREAM_NONCE]; /* the stream's: the destination's "OK" repeats it */
};

#define RATE_SLACK_NS 10000000ull /* 10 ms */

/* When the bytes counted so far are due under m->rate. */
static uint64_t rate_due(const struct mig *m)
{
	return m->rate_t0 + (uint64_t)((double)m->rate_bytes * 1e9 / (double)m->rate);
}

/* Keeps the stream under m->rate: waits until `n` more bytes are due. */
static void throttle(struct mig *m, uint64_t n)
{
	uint64_t due, now;

	if (!m->rate)
		return;
	now = vm_now_ns();
	/* No credit for time the stream was slower than the limit (a busy host, the
	 * pause): a burst after it would fill the socket's buffers, ahead of the pages a
	 * post-copy destination asks for. */
	if (!m->rate_t0 || rate_due(m) + RATE_SLACK_NS < now) {
		m->rate_t0 = now;
		m->rate_bytes = 0;
	}
	m->rate_bytes += n;
	due = rate_due(m);
	if (due > now && !m->urgent) {
		struct timespec ts = {.tv_sec = (time_t)((due - now) / 1000000000ull),
				      .tv_nsec = (long)((due - now) % 1000000000ull)};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
}

static int flush_batch(struct mig *m)
{
	int r;

	if (!m->count)
		return 0;
	for (unsigned i = 0; i < 4; i++)
		m->batch.data[i] = (uint8_t)(m->count >> (8 * i));
	throttle(m, m->batch.len + 24);
	r = m->batch.err ?: snap_stream_put(m->fd, SNAP_SEC_PAGES, m->batch.data, m->batch.len);
	m->st->bytes += m->batch.len + 24;
	m->batch.len = 0;
	sbuf_put_u32(&m->batch, 0); /* the count, filled in when sent */
	m->count = 0;
	return r;
}

/* Copies page p (with the harts' access width: they may be writing it) into the batch. */
static int send_page(struct mig *m, uint64_t p)
{
	struct gmem *g = &m->vm->mem;

	gmem_copy_from(m->page, g->ram + (p << GMEM_PAGE_SHIFT), GMEM_PAGE_SIZE);
	if (vm_page_zero(m->page)) {
		sbuf_put_u64(&m->batch, p | MIG_ZERO);
	} else {
		sbuf_put_u64(&m->batch, p);
		sbuf_put(&m->batch, m->page, GMEM_PAGE_SIZE);
	}
	m->st->pages++;
	return ++m->count == MIG_BATCH ? flush_batch(m) : 0;
}

/* Sends the pages set in m->bits and clears them. */
static int send_bits(struct mig *m)
{
	uint64_t words = gmem_dirty_words(&m->vm->mem);
	int r = 0;

	for (uint64_t w = 0; w < words && !r; w++) {
		uint64_t b = m->bits[w];
		m->bits[w] = 0;
		while (b && !r) {
			r = send_page(m, w * 64 + (uint64_t)__builtin_ctzll(b));
			b &= b - 1;
		}
	}
	return r ?: flush_batch(m);
}

static uint64_t count_bits(const uint64_t *b, uint64_t words)
{
	uint64_t n = 0;

	for (uint64_t w = 0; w < words; w++)
		n += (uint64_t)__builtin_popcountll(b[w]);
	return n;
}

/* Harts' and devices' records are kept (u32 type, u64 length, payload) until the last
 * pages are sent: the destination loads devices only once all of RAM is there. */
static int emit_keep(void *ctx, uint32_t type, const void *p, size_t len)
{
	struct sbuf *b = ctx;

	sbuf_put_u32(b, type);
	sbuf_put_u64(b, len);
	sbuf_put(b, p, len);
	return b->err;
}

static int send_kept(struct mig *m, const struct sbuf *b)
{
	struct sreader in;
	int r = 0;

	sreader_init(&in, b->data, b->len);
	while (!r && in.off < b->len) {
		uint32_t type = sread_u32(&in);
		uint64_t len = sread_u64(&in);
		if (in.err || len > b->len - in.off)
			return -EIO;
		r = snap_stream_put(m->fd, type, b->data + in.off, (size_t)len);
		m->st->bytes += len + 24;
		in.off += (size_t)len;
	}
	return r;
}

/* ---- source: disks ---- */

struct disk_job {
	struct mig *m;
	unsigned k;
	uint64_t off, len;
	int r;
};

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i += GMEM_PAGE_SIZE)
		if (!vm_page_zero(p + i))
			return false;
	return true;
}

static void read_on_loop(void *opaque)
{
	struct disk_job *j = opaque;

	j->r = vblk_read(j->m->disks[j->k].dev, j->m->blk + MIG_BLOCK_DATA, (size_t)j->len, j->off);
}

/* Sends block b of disk k: read on the I/O thread (on_loop: this is it), all zero as
 * its length only. */
static int send_block(struct mig *m, unsigned k, uint64_t b, bool on_loop)
{
	struct mig_disk *d = &m->disks[k];
	struct disk_job j = {.m = m, .k = k, .off = b * DISK_TRACK_BLOCK};
	uint8_t *h = m->blk + MIG_BLOCK_DATA - MIG_BLOCK_HDR;
	size_t n;
	int r;

	j.len = d->size - j.off < DISK_TRACK_BLOCK ? d->size - j.off : DISK_TRACK_BLOCK;
	/* A whole block is read even at the end (the buffer is zeroed past it), so that
	 * the zero test sees whole pages. */
	memset(m->blk + MIG_BLOCK_DATA, 0, DISK_TRACK_BLOCK);
	if (on_loop)
		read_on_loop(&j);
	else
		evloop_call(m->vm->loop, read_on_loop, &j);
	if (j.r) {
		vm_errf(m->err, m->errlen, "%s: cannot read block %llu of its image: %s",
			d->dev->name, (unsigned long long)b, strerror(-j.r));
		return j.r;
	}
	n = MIG_BLOCK_HDR + (size_t)j.len;
	if (all_zero(m->blk + MIG_BLOCK_DATA, DISK_TRACK_BLOCK)) {
		j.off |= MIG_ZERO;
		put_le(h + MIG_BLOCK_HDR, j.len, 4);
		n = MIG_BLOCK_HDR + 4;
	}
	put_le(h, k, 4);
	put_le(h + 4, j.off, 8);
	throttle(m, n + 24);
	r = snap_stream_put(m->fd, SNAP_SEC_BLOCKS, h, n);
	m->st->blocks++;
	m->st->bytes += n + 24;
	return r;
}

/* Takes every disk's written blocks into its bits (I/O thread). */
static void take_on_loop(void *opaque)
{
	struct mig *m = opaque;

	for (unsigned k = 0; k < m->ndisks; k++)
		if (disk_written_take(vblk_disk(m->disks[k].dev), m->disks[k].bits) == -ENOMEM)
			log_warn("migration: %s: written blocks not tracked: sending all",
				 m->disks[k].dev->name);
}

static uint64_t count_blocks(const struct mig *m)
{
	uint64_t n = 0;

	for (unsigned k = 0; k < m->ndisks; k++)
		n += count_bits(m->disks[k].bits, (m->disks[k].nblocks + 63) / 64);
	return n;
}

/* Sends the blocks set in the disks' bits and clears them. */
static int send_blocks(struct mig *m, bool on_loop)
{
	int r = 0;

	for (unsigned k = 0; k < m->ndisks && !r; k++) {
		struct mig_disk *d = &m->disks[k];
		for (uint64_t w = 0; w < (d->nblocks + 63) / 64 && !r; w++) {
			uint64_t b = d->bits[w];
			d->bits[w] = 0;
			for (; b && !r; b &= b - 1)
				r = send_block(m, k, w * 64 + (uint64_t)__builtin_ctzll(b),
					       on_loop);
		}
	}
	return r;
}

/* Round 1 of the disks: every block (what was written before is in it: forgotten). */
static int send_all_blocks(struct mig *m)
{
	int r = 0;

	evloop_call(m->vm->loop, take_on_loop, m);
	for (unsigned k = 0; k < m->ndisks; k++) {
		struct mig_disk *d = &m->disks[k];
		memset(d->bits, 0, (size_t)(d->nblocks + 63) / 64 * sizeof(uint64_t));
		for (uint64_t b = 0; b < d->nblocks && !r; b++)
			r = send_block(m, k, b, false);
	}
	return r;
}

/* Names the disks and learns how they move (m->mode). */
static int offer_disks(struct mig *m)
{
	struct sbuf b = {0};
	uint8_t ans[3];
	int r;

	sbuf_put_u32(&b, MIG_DISKS_VERSION);
	sbuf_put_u32(&b, m->ndisks);
	for (unsigned k = 0; k < m->ndisks; k++)
		sbuf_put_u64(&b, m->disks[k].size);
	r = b.err ?: snap_stream_put(m->fd, SNAP_SEC_MIG_DISKS, b.data, b.len);
	sbuf_fini(&b);
	if (r)
		return r;
	/* it creates the machine meanwhile (progress frames say it works on) */
	r = snap_stream_get_answer(m->fd, ans, 2);
	if (!r && ans[0] == (SNAP_STREAM_DISKS & 0xff) && ans[1] == (SNAP_STREAM_DISKS >> 8))
		r = snap_stream_get_rest(m->fd, ans + 2, 1);
	else
		ans[2] = MIG_DISKS_REFUSED; /* another answer: said below */
	if (!r && ans[0] == (SNAP_STREAM_DISKS & 0xff) && ans[1] == (SNAP_STREAM_DISKS >> 8) &&
	    ans[2] < MIG_DISKS_REFUSED) {
		m->mode = ans[2];
		return 0;
	}
	if (!r && (ans[0] != (SNAP_STREAM_DISKS & 0xff) || ans[1] != (SNAP_STREAM_DISKS >> 8)))
		vm_errf(m->err, m->errlen,
			"the destination answered the offer of the machine's disks with something "
			"else than a disk answer (0x%02x%02x): it is not a Lodge destination "
			"waiting "
			"for a machine (lodge run --incoming), or another version; the machine "
			"runs "
			"on here",
			ans[1], ans[0]);
	else
		vm_errf(m->err, m->errlen,
			"the destination refused the machine's %u writable disk%s (%s): the "
			"machine runs on here",
			m->ndisks, m->ndisks > 1 ? "s" : "",
			!r ? "its log says why: give it --incoming-disk PATH of the same size for "
			     "each, or none for shared storage"
			: r == -ECONNRESET ? "it closed the connection: its log says why"
					   : strerror(-r));
	return r ?: -ECONNABORTED;
}

/* The disks' sizes and bitmaps (I/O thread: the disks are its). */
static void size_on_loop(void *opaque)
{
	struct mig *m = opaque;

	for (unsigned k = 0; k < m->ndisks; k++) {
		struct disk *dk = vblk_disk(m->disks[k].dev);
		m->disks[k].size = dk ? disk_size(dk) : 0;
		m->disks[k].nblocks = dk ? disk_written_blocks(dk) : 0;
	}
}

static int setup_disks(struct mig *m)
{
	m->ndisks = writable_disks(m->vm, m->disks);
	if (!m->ndisks)
		return 0;
	evloop_call(m->vm->loop, size_on_loop, m);
	m->blk = core_alloc(MIG_BLOCK_DATA + DISK_TRACK_BLOCK);
	if (!m->blk)
		return -ENOMEM;
	for (unsigned k = 0; k < m->ndisks; k++) {
		if (!m->disks[k].size) {
			vm_errf(m->err, m->errlen, "%s: its image is not open",
				m->disks[k].dev->name);
			return -EBADF;
		}
		m->disks[k].bits =
			core_calloc((size_t)(m->disks[k].nblocks + 63) / 64 ?: 1, sizeof(uint64_t));
		if (!m->disks[k].bits)
			return -ENOMEM;
	}
	return 0;
}

/* After a failure in copy mode: the blocks taken went nowhere; replication (which
 * shares the bitmap) must still see them written. */
static void untake_on_loop(void *opaque)
{
	struct mig *m = opaque;

	for (unsigned k = 0; k < m->ndisks; k++)
		if (vblk_disk(m->disks[k].dev))
			disk_written_all(vblk_disk(m->disks[k].dev));
}

/* After a failure past SWITCH: the images are this machine's again. */
static void reattach_on_loop(void *opaque)
{
	struct mig *m = opaque;
	char err[256];

	for (unsigned k = 0; k < m->ndisks; k++) {
		int r = vblk_attach(m->disks[k].dev, err, sizeof(err));
		/* A destination that failed closes the images as it ends, which may be
		 * just after its socket: wait for its lock to go (5 s at most). */
		for (unsigned t = 0; r == -EBUSY && t < 500; t++) {
			usleep(10000);
			r = vblk_attach(m->disks[k].dev, err, sizeof(err));
		}
		if (r)
			log_err("migration failed, and %s (its requests fail from now on)", err);
	}
	m->released = false;
}

/* Shared storage, paused: closes every image (flushed, unlocked) and says so. */
static int release_disks(struct mig *m)
{
	for (unsigned k = 0; k < m->ndisks; k++)
		vblk_release(m->disks[k].dev);
	m->released = true;
	return snap_stream_put(m->fd, SNAP_SEC_MIG_SWITCH, "", 0);
}

/* Post-copy, paused: the pages the destination does not have (m->bits). */
static int send_discard(struct mig *m)
{
	uint64_t words = gmem_dirty_words(&m->vm->mem);
	struct sbuf b = {0};
	int r;

	sbuf_put_u64(&b, m->vm->mem.size >> GMEM_PAGE_SHIFT);
	for (uint64_t w = 0; w < words; w++)
		sbuf_put_u64(&b, m->bits[w]);
	throttle(m, b.len + 24);
	r = b.err ?: snap_stream_put(m->fd, SNAP_SEC_DISCARD, b.data, b.len);
	m->st->bytes += b.len + 24;
	sbuf_fini(&b);
	return r;
}

/* Sends the empty section sec and reads the destination's answer into ans[0..n): its
 * u16 code (little-endian) first, after any progress frames. Returns 0 when all n bytes
 * came and the code is code, -ECONNABORTED when the code is another, or a negative errno
 * (-ETIMEDOUT: nothing at all came for the socket's timeout; -ECONNRESET: it closed). */
static int ask_peer(struct mig *m, uint32_t sec, uint16_t code, uint8_t *ans, size_t n)
{
	int r = snap_stream_put(m->fd, sec, "", 0);

	r = r ?: snap_stream_get_answer(m->fd, ans, 2);
	if (r)
		return r;
	if (ans[0] != (code & 0xff) || ans[1] != (code >> 8))
		return -ECONNABORTED; /* not read on: another answer's length is unknown */
	return n > 2 ? snap_stream_get_rest(m->fd, ans + 2, n - 2) : 0;
}

/* Asks the destination whether it can take a post-copy migration. */
static int offer_postcopy(struct mig *m)
{
	uint8_t ans[3];
	int r = ask_peer(m, SNAP_SEC_POSTCOPY, SNAP_STREAM_POSTCOPY, ans, sizeof(ans));

	if (!r && ans[2] == 1)
		return 0;
	vm_errf(m->err, m->errlen,
		"the destination cannot take a post-copy migration (%s): the machine runs on "
		"here",
		r && r != -ECONNABORTED ? strerror(-r) : "its log says why");
	return r ?: -ECONNABORTED;
}

#define PC_BATCH 16 /* pages sent between looks for the destination's requests */

/* Post-copy after DONE, the machine paused here: answers the destination's requests
 * for pages first, streams the others behind them, then DONE again; returns once the
 * destination has them all ("PE"). *t_run is when it said it runs ("OK"). */
static int postcopy_serve(struct mig *m, uint64_t *t_run)
{
	uint64_t words = gmem_dirty_words(&m->vm->mem), npages = m->vm->mem.size >> GMEM_PAGE_SHIFT;
	uint64_t left = count_bits(m->bits, words), w = 0;
	uint8_t in[256];
	size_t have = 0;
	bool running = false, done = false;
	int r;

	/* Pages asked for go at once (the rate counts them); the others when due. */
	m->urgent = true;
	for (;;) {
		struct pollfd p = {.fd = m->fd, .events = POLLIN};
		/* Under a rate limit, the wait for the next background pages is spent
		 * listening for requests. */
		uint64_t now = vm_now_ns(), due = m->rate && m->rate_t0 ? rate_due(m) : now;
		bool later = left && running && due > now;
		bool work = (left && running) || (!left && !done);
		int wait_ms = later  ? (int)((due - now) / 1000000 + 1)
			      : work ? 0
				     : SNAP_STREAM_TIMEOUT_S * 1000;
		int n = poll(&p, 1, wait_ms);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n == 0 && !later && !work) /* the destination is silent */
			return -ETIMEDOUT;
		later = later && vm_now_ns() < due;
		if (n > 0) {
			ssize_t k = recv(m->fd, in + have, sizeof(in) - have, MSG_DONTWAIT);
			if (k == 0)
				return -ECONNRESET;
			if (k < 0 && errno != EAGAIN && errno != EINTR)
				return -errno;
			have += k > 0 ? (size_t)k : 0;
		}
		while (have >= 2) {
			unsigned tag = in[0] | (unsigned)in[1] << 8, used = 2;
			if (tag == SNAP_STREAM_ACK && !running) {
				if (have < SNAP_STREAM_ACK_LEN)
					break;
				if (memcmp(in + 2, m->nonce, SNAP_STREAM_NONCE))
					return -EPROTO; /* an "OK" not from the Lodge it talks to */
				used = SNAP_STREAM_ACK_LEN;
				running = true;
				*t_run = vm_now_ns();
			} else if (tag == SNAP_STREAM_PC_END && running && done && !left) {
				return have == 2 ? 0 : -EPROTO;
			} else if (tag == SNAP_STREAM_PROGRESS) {
				if (have < SNAP_STREAM_PROGRESS_LEN)
					break;
				used = SNAP_STREAM_PROGRESS_LEN; /* alive: the poll waits anew */
			} else if (tag == SNAP_STREAM_REQUEST) {
				uint64_t pg = 0;
				if (have < 10)
					break;
				for (unsigned i = 0; i < 8; i++)
					pg |= (uint64_t)in[2 + i] << (8 * i);
				if (pg >= npages)
					return -EPROTO;
				used = 10;
				if (m->bits[pg / 64] & (1ull << (pg % 64))) {
					m->bits[pg / 64] &= ~(1ull << (pg % 64));
					left--;
					m->st->requested++;
					m->st->post_pages++;
					r = send_page(m, pg);
					if (r)
						return r;
				}
			} else {
				return -EPROTO;
			}
			memmove(in, in + used, have - used);
			have -= used;
		}
		r = flush_batch(m); /* the requested pages go at once */
		/* Until the destination runs, only the pages it asks for (loading the devices
		 * may touch some): a background stream would queue ahead of them. */
		for (unsigned i = 0; !r && left && !later && running && i < PC_BATCH;) {
			uint64_t b;
			while (!m->bits[w])
				w = (w + 1) % words;
			b = m->bits[w] & -m->bits[w];
			m->bits[w] &= ~b;
			left--;
			i++;
			m->st->post_pages++;
			r = send_page(m, w * 64 + (uint64_t)__builtin_ctzll(b));
		}
		r = r ?: flush_batch(m);
		if (!r && !left && !done) {
			r = snap_stream_put(m->fd, SNAP_SEC_DONE, "", 0);
			done = true;
		}
		if (r)
			return r;
	}
}

/* On the I/O thread, the machine paused and its devices quiesced: the device state
 * first (saving a virtio device logs its used rings), then the last pages, the clock. */
static void final_on_loop(void *opaque)
{
	struct mig *m = opaque;
	struct vm *vm = m->vm;
	struct sbuf state = {0}, b = {0};
	int r;

	/* The state is saved first, so that the pages its saving logs go below. */
	r = vm_state_save(vm, emit_keep, &state, m->err, m->errlen);
	r = r ?: gmem_dirty_take(&vm->mem, m->bits, false);
	/* Post-copy: the pages still to go are named (the destination drops its copies of
	 * them) and sent once the machine runs there. */
	r = r ?: (m->post_copy ? send_discard(m) : send_bits(m));
	if (!r && m->ndisks && m->mode == MIG_DISKS_COPY) {
		take_on_loop(m);
		r = send_blocks(m, true);
	} else if (!r && m->ndisks) {
		r = release_disks(m);
	}
	r = r ?: send_kept(m, &state);
	sbuf_put_u64(&b, vm_time(vm));
	r = r ?: b.err ?: snap_stream_put(m->fd, SNAP_SEC_CLOCK, b.data, b.len);
	r = r ?: snap_stream_put(m->fd, SNAP_SEC_DONE, "", 0);
	sbuf_fini(&b);
	sbuf_fini(&state);
	m->r = r;
}

static int sync_peer(struct mig *m)
{
	uint8_t ans[2];

	return ask_peer(m, SNAP_SEC_SYNC, SNAP_STREAM_SYNC, ans, sizeof(ans));
}

int vm_migrate(struct vm *vm, const char *dest, const struct vm_migrate_opts *o,
	       struct vm_migrate_stats *st, char *err, size_t errlen)
{
	int fd;

	memset(st, 0, sizeof(*st));
	if (err && errlen)
		err[0] = 0;
	fd = snap_stream_dial(dest);
	if (fd < 0) {
		vm_errf(err, errlen, "cannot connect to %s: %s", dest,
			fd == -EINVAL ? "not HOST:PORT with a port from 1 to 65535, or its host "
					"does not resolve"
				      : strerror(-fd));
		return fd;
	}
	return vm_migrate_fd(vm, fd, dest, o, st, err, errlen);
}

int vm_migrate_fd(struct vm *vm, int fd, const char *dest, const struct vm_migrate_opts *o,
		  struct vm_migrate_stats *st, char *err, size_t errlen)
{
	static const struct vm_migrate_opts dflt = {0};
	struct mig m = {.vm = vm, .fd = fd, .st = st, .err = err, .errlen = errlen};
	struct gmem *g = &vm->mem;
	uint64_t words = gmem_dirty_words(g), pages = g->size >> GMEM_PAGE_SHIFT;
	uint64_t t0 = vm_now_ns(), tp = 0;
	bool log_was_on = __atomic_load_n(&g->dirty_log, __ATOMIC_ACQUIRE);
	bool paused_here = false, was_paused = vm_paused(vm), switched = false;
	unsigned max_rounds;
	struct sbuf cfg = {0};
	int r;

	memset(st, 0, sizeof(*st));
	if (err && errlen)
		err[0] = 0;
	o = o ?: &dflt;
	m.post_copy = o->post_copy;
	m.rate = o->max_bandwidth;
	max_rounds = o->post_copy ? o->precopy_rounds : MIG_MAX_ROUNDS;
	if (vm_postcopy_active(vm)) {
		vm_errf(err, errlen,
			"the machine's memory is still arriving from its last migration "
			"(post-copy): migrate it once that is done");
		close(fd);
		return -EBUSY;
	}
	m.bits = core_calloc(words, sizeof(uint64_t));
	if (!m.bits) {
		close(fd);
		return -ENOMEM;
	}
	sbuf_put_u32(&m.batch, 0);
	r = setup_disks(&m);
	if (r)
		goto io_err;
	r = vm_state_config(vm, &cfg) ?: snap_stream_put_header(m.fd, m.nonce);
	r = r ?: snap_stream_put(m.fd, SNAP_SEC_MACHINE, cfg.data, cfg.len);
	if (!r && m.ndisks) {
		r = offer_disks(&m);
		if (r)
			goto out;
	}
	if (!r && o->post_copy) {
		r = offer_postcopy(&m);
		if (r)
			goto out;
	}
	if (r)
		goto io_err;
	/* Round 1: all of RAM, the guest running; the log holds what it writes meanwhile.
	 * (Post-copy with no rounds: every page is still to go.) */
	gmem_dirty_start(g);
	if (max_rounds) {
		st->rounds = 1;
		for (uint64_t p = 0; p < pages && !r; p++)
			r = send_page(&m, p);
	} else {
		for (uint64_t p = 0; p < pages; p++)
			m.bits[p / 64] |= 1ull << (p % 64);
	}
	r = r ?: flush_batch(&m);
	if (!r && m.ndisks && m.mode == MIG_DISKS_COPY)
		r = send_all_blocks(&m);
	while (!r && st->rounds < max_rounds) {
		bool copy = m.ndisks && m.mode == MIG_DISKS_COPY;
		r = gmem_dirty_take(g, m.bits, !was_paused);
		if (!r && copy)
			evloop_call(vm->loop, take_on_loop, &m);
		if (r || (count_bits(m.bits, words) <= MIG_SMALL &&
			  (!copy || count_blocks(&m) <= MIG_SMALL_BLOCKS)))
			break;
		st->rounds++;
		r = send_bits(&m) ?: (copy ? send_blocks(&m, false) : 0);
	}
	/* The destination may still be taking in what the socket buffers hold: the guest
	 * pauses only once it has (its pages written meanwhile go in the last round). */
	r = r ?: sync_peer(&m);
	if (r == -ENOSYS)
		vm_errf(err, errlen,
			"no memory barrier (membarrier) to track the running guest's "
			"writes: pause it first");
	if (r)
		goto io_err;
	/* Stop and copy. */
	tp = vm_now_ns();
	if (!was_paused) {
		r = vm_pause(vm);
		if (r) {
			vm_errf(err, errlen, "cannot pause the machine: %s", strerror(-r));
			goto out;
		}
		paused_here = true;
	}
	for (struct device *d = vm->devices; d; d = d->next)
		if (d->ops->quiesce)
			d->ops->quiesce(d);
	evloop_call(vm->loop, final_on_loop, &m);
	r = m.r;
	if (!r && o->post_copy) {
		uint64_t t_run = 0;
		r = postcopy_serve(&m, &t_run);
		switched = t_run != 0;
		if (switched)
			st->downtime_ns = t_run - tp;
		if (r && switched) {
			vm_errf(err, errlen,
				"post-copy to %s failed after the switch (%s) with %llu pages "
				"still "
				"to go: the machine is lost (it ran there; it cannot run on here)",
				dest, strerror(r == -EPROTO ? EPROTO : -r),
				(unsigned long long)count_bits(m.bits, words));
			r = -VM_MIGRATE_LOST;
		} else if (r) {
			vm_errf(err, errlen,
				"%s did not acknowledge the migration (%s): the machine runs on "
				"here",
				dest, strerror(-r));
		}
	} else if (!r) {
		/* It loads the state meanwhile: progress frames say it works on, and only
		 * SNAP_STREAM_TIMEOUT_S of silence is a dead destination. */
		r = snap_stream_wait_ack(m.fd, m.nonce);
		if (r)
			vm_errf(err, errlen,
				"%s did not acknowledge the migration (%s): the machine runs on "
				"here",
				dest,
				r == -ECONNABORTED || r == -ECONNRESET
					? "it refused or closed the connection: its log says why"
				: r == -ETIMEDOUT ? "it was silent for the stream's timeout"
				: r == -EPROTO	  ? "it answered OK without the stream's nonce: it "
						    "is not a Lodge destination"
						  : strerror(-r));
	}
	/* Failed after SWITCH: the destination closed the images (it ends before its side
	 * of the connection does), they are this machine's again. */
	if (r && m.released)
		evloop_call(vm->loop, reattach_on_loop, &m);
	for (struct device *d = vm->devices; d; d = d->next)
		if (d->ops->resume)
			d->ops->resume(d);
	if (r)
		goto io_err;
	if (!o->post_copy)
		st->downtime_ns = vm_now_ns() - tp;
	st->total_ns = vm_now_ns() - t0;
	r = 0;
	goto out;
io_err:
	if (err && errlen && !err[0] && (r == -ECONNRESET || r == -EPIPE))
		vm_errf(err, errlen,
			"%s closed the connection (%s): its log says why (a Lodge that speaks "
			"another migration stream version refuses this one, as does one that "
			"did not allow a host file this machine's devices name: --incoming-allow)",
			dest, strerror(-r));
	else if (err && errlen && !err[0])
		vm_errf(err, errlen, "sending to %s failed: %s", dest, strerror(-r));
out:
	if (r && r != -VM_MIGRATE_LOST) {
		/* The log no longer says what changed since the last snapshot: from now on
		 * everything has (a Diff then holds all of RAM), or it was not on at all. */
		if (log_was_on) {
			memset(m.bits, 0xff, words * sizeof(uint64_t));
			gmem_dirty_merge(g, m.bits);
		} else {
			gmem_dirty_stop(g);
		}
		if (m.ndisks && m.mode == MIG_DISKS_COPY)
			evloop_call(vm->loop, untake_on_loop, &m);
		if (paused_here)
			vm_resume(vm);
	}
	if (m.fd >= 0)
		close(m.fd);
	sbuf_fini(&m.batch);
	sbuf_fini(&cfg);
	core_free(m.bits);
	core_free(m.blk);
	for (unsigned k = 0; k < m.ndisks; k++)
		core_free(m.disks[k].bits);
	return r;
}

/* ---- destination ---- */

static int put_page(void *ctx, uint64_t page, const uint8_t *bytes)
{
	uint8_t *dst = ((struct vm *)ctx)->mem.ram + (page << GMEM_PAGE_SHIFT);

	/* Reading a page never written maps the kernel's zero page: checking first keeps
	 * the guest's zero pages from taking host memory. */
	if (bytes)
		memcpy(dst, bytes, GMEM_PAGE_SIZE);
	else if (!vm_page_zero(dst))
		memset(dst, 0, GMEM_PAGE_SIZE);
	return 0;
}

static int load_pages(struct vm *vm, const uint8_t *p, size_t len)
{
	return snap_pages_walk(p, len, vm->mem.size >> GMEM_PAGE_SHIFT, put_page, vm);
}

/* ---- destination: post-copy ---- */

/* A machine running before all its pages are here: the pages missing are holes in its
 * RAM, served by the post-copy core (snapshot/postcopy.h); a hart's (or device's) first
 * touch of one waits while the core's thread asks the source for it. */
struct vm_postcopy {
	struct vm *vm;
	struct snap_pc_in *in;
	struct sbuf kept; /* the harts' and devices' records (emit_keep's form) */
};

static void postcopy_free(struct vm_postcopy *pc)
{
	if (!pc)
		return;
	snap_pc_in_fini(pc->in, false);
	sbuf_fini(&pc->kept);
	core_free(pc);
}

/* The core's thread ends: every page arrived, or the machine cannot go on. */
static void postcopy_end(void *opaque, const struct snap_pc_end *e)
{
	struct vm_postcopy *pc = opaque;

	if (!e->r) {
		log_info("post-copy: every page arrived in %.1f ms (%llu asked for)",
			 (double)e->ns / 1e6, (unsigned long long)e->asked);
		return;
	}
	log_err("post-copy: %s, with %llu pages still missing: the machine stops (its "
		"memory is incomplete; the source cannot run it on either)",
		e->why, (unsigned long long)e->missing);
	vm_request_stop(pc->vm, VM_STOP_ERROR, 1);
}

/* At DONE: the holes are registered and the core's thread serves them. */
static int postcopy_start(struct vm_postcopy *pc, char *err, size_t errlen)
{
	struct gmem *g = &pc->vm->mem;
	struct snap_pc_target t = {.base = g->ram,
				   .npages = g->size >> GMEM_PAGE_SHIFT,
				   .reserved = g->size,
				   .flag = &g->postcopy,
				   .end = postcopy_end,
				   .ctx = pc};
	int r = snap_pc_in_start(pc->in, &t, err, errlen);

	if (!r)
		pc->vm->postcopy = pc;
	return r;
}

bool vm_postcopy_active(const struct vm *vm)
{
	return vm->postcopy && snap_pc_in_active(vm->postcopy->in);
}

void vm_postcopy_fini(struct vm *vm)
{
	struct vm_postcopy *pc = vm->postcopy;

	if (!pc)
		return;
	vm->postcopy = NULL;
	postcopy_free(pc);
}

/* The destination's view of the disks. */
struct in_disks {
	struct mig_disk d[VM_MAX_DEVICE_ARGS];
	unsigned n;
	int mode;
	bool switched;	    /* shared: SWITCH came and the images are open */
	uint64_t unflushed; /* bytes written since the last flush */
};

/* Copied blocks are flushed every this many bytes: dirty page cache is charged to the
 * guest's memory cgroup, and v1 does not throttle a cgroup's writers (an OOM kill). */
#define MIG_FLUSH_BYTES (8u << 20)

/* One block of a BLOCKS section into its disk. */
static int take_block(struct in_disks *in, const uint8_t *p, size_t len, char *err, size_t errlen)
{
	struct sreader rd;
	uint32_t k, n;
	uint64_t off;
	struct disk *dk;
	int r;

	sreader_init(&rd, p, len);
	k = sread_u32(&rd);
	off = sread_u64(&rd);
	if (rd.err || in->mode != MIG_DISKS_COPY || k >= in->n)
		goto bad;
	dk = vblk_disk(in->d[k].dev);
	n = (off & MIG_ZERO) ? sread_u32(&rd) : (uint32_t)(len - MIG_BLOCK_HDR);
	off &= ~MIG_ZERO;
	if (rd.err || off % DISK_TRACK_BLOCK || off >= in->d[k].size ||
	    n != (in->d[k].size - off < DISK_TRACK_BLOCK ? in->d[k].size - off : DISK_TRACK_BLOCK))
		goto bad;
	if (rd.off == len) /* all zero: zero clusters in a qcow2 */
		r = disk_zero(dk, DISK_OP_WRITE_ZEROES, off, n);
	else if (len - MIG_BLOCK_HDR == n)
		r = disk_pwrite(dk, p + MIG_BLOCK_HDR, n, off);
	else
		goto bad;
	in->unflushed += n;
	if (!r && in->unflushed >= MIG_FLUSH_BYTES) {
		in->unflushed = 0;
		r = disk_flush(dk);
	}
	if (r)
		vm_errf(err, errlen, "%s: cannot write block at %llu of %s: %s", in->d[k].dev->name,
			(unsigned long long)off, vblk_path(in->d[k].dev), strerror(-r));
	return r;
bad:
	vm_errf(err, errlen, "corrupt: a disk block section is malformed, misplaced or late");
	return -EINVAL;
}

/* Shared storage: the source let go of the images; open them. */
static int take_switch(struct in_disks *in, size_t len, char *err, size_t errlen)
{
	int r = 0;

	if (len || in->mode != MIG_DISKS_SHARED || in->switched || !in->n) {
		vm_errf(err, errlen, "corrupt: a disk switch section is malformed or misplaced");
		return -EINVAL;
	}
	for (unsigned k = 0; k < in->n && !r; k++)
		r = vblk_attach(in->d[k].dev, err, errlen);
	in->switched = !r;
	return r;
}

/* At DONE: copied disks flushed; shared ones must have been switched. */
static int finish_disks(struct in_disks *in, char *err, size_t errlen)
{
	int r = 0;

	if (in->n && in->mode == MIG_DISKS_SHARED && !in->switched) {
		vm_errf(err, errlen, "corrupt: the stream ended without its disk switch");
		return -EINVAL;
	}
	for (unsigned k = 0; k < in->n && !r && in->mode == MIG_DISKS_COPY; k++) {
		r = disk_flush(vblk_disk(in->d[k].dev));
		if (r)
			vm_errf(err, errlen, "%s: cannot flush %s: %s", in->d[k].dev->name,
				vblk_path(in->d[k].dev), strerror(-r));
	}
	return r;
}

/* POSTCOPY: answers whether this host can (a userfaultfd). */
static int take_postcopy(int fd, struct vm *vm, size_t len, struct vm_postcopy **pc, char *err,
			 size_t errlen)
{
	int r;

	if (len || *pc) {
		vm_errf(err, errlen, "corrupt: a post-copy section is malformed or repeated");
		return -EINVAL;
	}
	*pc = core_calloc(1, sizeof(**pc));
	if (!*pc)
		return -ENOMEM;
	(*pc)->vm = vm;
	/* Kernel accesses (a disk read into RAM) are served only with the privilege to;
	 * without it, user mode only: devices fault their buffers in first (gmem_ptr). */
	r = snap_pc_in_new(fd, false, &(*pc)->in, err, errlen);
	if (r) {
		postcopy_free(*pc);
		*pc = NULL;
	}
	return r;
}

/* Receives the state of `vm` up to DONE. Post-copy (*pc once POSTCOPY came): the
 * harts' and devices' records are kept in (*pc)->kept, loaded once the thread serves
 * the missing pages they may touch. */
static int receive(int fd, struct vm *vm, struct in_disks *dk, struct vm_postcopy **pc,
		   uint64_t *time, char *err, size_t errlen)
{
	unsigned harts = 0;
	struct device *dev = vm->devices;
	bool clock = false;
	uint64_t progress_ns = 0;

	for (;;) {
		uint32_t type;
		uint8_t *p;
		size_t len;
		struct sreader in;
		int r = snap_stream_get(fd, &type, &p, &len, SNAP_MAX_SECTION, err, errlen);

		if (r)
			return r;
		switch (type) {
		case SNAP_SEC_POSTCOPY:
			if (harts) {
				vm_errf(err, errlen, "corrupt: the post-copy section is late");
				r = -EINVAL;
			} else {
				r = take_postcopy(fd, vm, len, pc, err, errlen);
			}
			break;
		case SNAP_SEC_DISCARD:
			if (!*pc || harts) {
				vm_errf(err, errlen, "corrupt: a discard section is misplaced");
				r = -EINVAL;
			} else {
				r = snap_pc_in_discard((*pc)->in, p, len,
						       vm->mem.size >> GMEM_PAGE_SHIFT, true, err,
						       errlen);
			}
			break;
		case SNAP_SEC_PAGES:
			r = harts || (*pc && snap_pc_in_discarded((*pc)->in))
				    ? -EINVAL
				    : load_pages(vm, p, len);
			if (r)
				vm_errf(err, errlen,
					"corrupt: a page section is malformed or late");
			break;
		case SNAP_SEC_HART:
			r = dev != vm->devices || harts == vm->nharts ? -EINVAL : 0;
			if (!r && *pc && !snap_pc_in_discarded((*pc)->in))
				r = -EINVAL; /* post-copy: DISCARD first */
			if (r)
				vm_errf(err, errlen, "corrupt: hart state out of order");
			else if (*pc && !(r = emit_keep(&(*pc)->kept, type, p, len)))
				harts++;
			else if (!*pc)
				r = vm_state_load_hart(vm, harts++, p, len, err, errlen);
			break;
		case SNAP_SEC_DEVICE:
			r = !dev || harts != vm->nharts ? -EINVAL : 0;
			if (r)
				vm_errf(err, errlen, "corrupt: device state out of order");
			else if (*pc)
				r = emit_keep(&(*pc)->kept, type, p, len);
			else
				r = vm_state_load_device(dev, p, len, err, errlen);
			dev = dev ? dev->next : NULL;
			break;
		case SNAP_SEC_CLOCK:
			sreader_init(&in, p, len);
			*time = sread_u64(&in);
			r = in.err || in.off != len || dev || harts != vm->nharts ? -EINVAL : 0;
			if (r)
				vm_errf(err, errlen,
					"corrupt: the clock section is malformed or early");
			clock = true;
			break;
		case SNAP_SEC_SYNC: {
			uint8_t ans[2] = {SNAP_STREAM_SYNC & 0xff, SNAP_STREAM_SYNC >> 8};
			r = len || harts ? -EINVAL : 0;
			if (r)
				vm_errf(err, errlen,
					"corrupt: a sync section is malformed or late");
			else if (send(fd, ans, sizeof(ans), MSG_NOSIGNAL) != (ssize_t)sizeof(ans))
				r = -errno;
			break;
		}
		case SNAP_SEC_BLOCKS:
			if (harts) {
				vm_errf(err, errlen, "corrupt: a disk block section is late");
				r = -EINVAL;
			} else {
				r = take_block(dk, p, len, err, errlen);
			}
			break;
		case SNAP_SEC_MIG_SWITCH:
			if (harts) {
				vm_errf(err, errlen, "corrupt: the disk switch section is late");
				r = -EINVAL;
			} else {
				r = take_switch(dk, len, err, errlen);
			}
			break;
		case SNAP_SEC_DONE:
			core_free(p);
			if (!clock) {
				vm_errf(err, errlen, "corrupt: the stream ended without the state");
				return -EINVAL;
			}
			return 0;
		default:
			vm_errf(err, errlen, "corrupt: a section of unknown type 0x%x", type);
			r = -EINVAL;
		}
		core_free(p);
		if (r)
			return r;
		/* The source may wait for an answer (SYNC's) behind what it sent: it hears
		 * that this side works on. A failure to send shows at the next read. */
		r = snap_stream_progress(fd, 0, &progress_ns);
		(void)r;
	}
}

/* Post-copy, the thread running: the harts' and devices' records kept by receive. */
static int load_kept(struct vm *vm, const struct sbuf *b, char *err, size_t errlen)
{
	struct device *dev = vm->devices;
	struct sreader in;
	unsigned harts = 0;
	int r = 0;

	sreader_init(&in, b->data, b->len);
	while (!r && in.off < b->len) {
		uint32_t type = sread_u32(&in);
		uint64_t len = sread_u64(&in);
		if (in.err || len > b->len - in.off)
			return -EIO;
		if (type == SNAP_SEC_HART) {
			r = vm_state_load_hart(vm, harts++, b->data + in.off, (size_t)len, err,
					       errlen);
		} else if (dev) {
			r = vm_state_load_device(dev, b->data + in.off, (size_t)len, err, errlen);
			dev = dev->next;
		} else {
			return -EIO;
		}
		in.off += (size_t)len;
	}
	return r;
}

/* The MIG_DISKS section: as many disks as the configuration has writable ones; their
 * sizes into dk. */
static int get_disks(int fd, struct vm_restore *rs, struct in_disks *dk, char *err, size_t errlen)
{
	struct sreader in;
	uint8_t *p;
	uint32_t type;
	size_t len;
	int r = snap_stream_get(fd, &type, &p, &len, 8 + 8 * VM_MAX_DEVICE_ARGS, err, errlen);

	if (r)
		return r;
	sreader_init(&in, p, len);
	r = type == SNAP_SEC_MIG_DISKS && sread_u32(&in) == MIG_DISKS_VERSION ? 0 : -EINVAL;
	dk->n = sread_u32(&in);
	if (r || in.err || dk->n != vm_restore_writable_disks(rs) || dk->n > VM_MAX_DEVICE_ARGS)
		r = -EINVAL;
	for (unsigned k = 0; !r && k < dk->n; k++)
		dk->d[k].size = sread_u64(&in);
	if (r || in.err || in.off != len) {
		vm_errf(err, errlen, "corrupt: the disk section is missing or malformed");
		r = -EINVAL;
	}
	core_free(p);
	return r;
}

/* One --incoming-disk: "PATH[,format=raw|qcow2][,shared=on]" (or path=PATH). */
static int incoming_disk(struct vm_restore *rs, unsigned k, const char *opt, bool *shared,
			 char *err, size_t errlen)
{
	struct keyval a;
	const char *path, *fmt, *sh;
	int r = keyval_parse(&a, opt, err, errlen);

	if (r < 0)
		return r;
	path = keyval_get(&a, "", 0);
	if (!path) /* path=PATH, for one with ',' (written twice) or '=' */
		path = keyval_get(&a, "path", 0);
	fmt = keyval_get(&a, "format", 0);
	sh = keyval_get(&a, "shared", 0);
	/* the format is never probed: the guest wrote the image's first bytes */
	r = !path || !path[0] || (fmt && strcmp(fmt, "raw") && strcmp(fmt, "qcow2")) ||
			    (sh && strcmp(sh, "on") && strcmp(sh, "off"))
		    ? -EINVAL
		    : keyval_check_unused(&a, "--incoming-disk", err, errlen);
	*shared = sh && !strcmp(sh, "on");
	r = r ?: vm_restore_set_disk(rs, k, path, fmt);
	if (r)
		vm_errf(err, errlen,
			"--incoming-disk %s: %s (PATH or path=PATH, a ',' in it written twice, "
			"[,format=raw|qcow2][,shared=on], the format "
			"defaulting to the source's disk's)",
			opt, strerror(-r));
	keyval_fini(&a);
	return r;
}

/* Points the writable disks at this host's images (copy, or shared=on: the source's
 * images under this host's names) or leaves the source's names (shared storage); a
 * shared disk opens only at SWITCH. */
static int plan_disks(const struct vm_config *tmpl, struct vm_config *cfg, struct vm_restore *rs,
		      struct in_disks *dk, char *err, size_t errlen)
{
	unsigned nshared = 0;
	int r = 0;

	if (tmpl->ndisk_paths && tmpl->ndisk_paths != dk->n) {
		vm_errf(err, errlen,
			"the machine has %u writable disk%s and %u --incoming-disk were given: one "
			"per disk, in order (or none: shared storage)",
			dk->n, dk->n == 1 ? "" : "s", tmpl->ndisk_paths);
		return -EINVAL;
	}
	for (unsigned k = 0; k < tmpl->ndisk_paths && !r; k++) {
		bool shared = false;
		r = incoming_disk(rs, k, tmpl->disk_paths[k], &shared, err, errlen);
		nshared += shared;
	}
	if (!r && nshared && nshared != tmpl->ndisk_paths) {
		vm_errf(err, errlen, "--incoming-disk: either every disk is shared=on or none");
		r = -EINVAL;
	}
	dk->mode = tmpl->ndisk_paths && !nshared ? MIG_DISKS_COPY : MIG_DISKS_SHARED;
	cfg->defer_disks = dk->mode == MIG_DISKS_SHARED;
	return r;
}

/* Whether `path` opens for reading and writing (open, not access(2): the sandbox's
 * seccomp list has no access). Sets errno when not. */
static bool openable(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* The machine's disks against what the source said: copy: this host's images of the
 * same sizes; shared: the images there, readable and writable (opened at SWITCH). */
static int check_disks(struct vm *vm, struct in_disks *dk, char *err, size_t errlen)
{
	struct mig_disk d[VM_MAX_DEVICE_ARGS];

	if (writable_disks(vm, d) != dk->n)
		return -EINVAL;
	for (unsigned k = 0; k < dk->n; k++) {
		const char *path = vblk_path(d[k].dev);
		dk->d[k].dev = d[k].dev;
		if (dk->mode == MIG_DISKS_SHARED && !openable(path)) {
			vm_errf(err, errlen,
				"%s: %s (the source's image: without --incoming-disk the images "
				"must be shared storage, at the same path here)",
				path, strerror(errno));
			return -errno;
		}
		if (dk->mode == MIG_DISKS_COPY && disk_size(vblk_disk(d[k].dev)) != dk->d[k].size) {
			vm_errf(err, errlen,
				"--incoming-disk %s is %llu bytes and the source's disk %llu: give "
				"an image of that size (lodge disk create)",
				path, (unsigned long long)disk_size(vblk_disk(d[k].dev)),
				(unsigned long long)dk->d[k].size);
			return -EINVAL;
		}
	}
	return 0;
}

static int answer_disks(int fd, int mode)
{
	uint8_t ans[3] = {SNAP_STREAM_DISKS & 0xff, SNAP_STREAM_DISKS >> 8, (uint8_t)mode};

	return send(fd, ans, sizeof(ans), MSG_NOSIGNAL) == (ssize_t)sizeof(ans) ? 0 : -errno;
}

int vm_incoming_fd(int fd, const struct vm_config *tmpl, struct vm **out, char *err, size_t errlen)
{
	struct vm_config cfg = {0};
	struct vm_restore *rs = NULL;
	struct vm *vm = NULL;
	struct in_disks *dk = core_calloc(1, sizeof(*dk));
	struct vm_postcopy *pc = NULL;
	struct vm_restore_backing backing;
	uint8_t *p = NULL, nonce[SNAP_STREAM_NONCE], ack[SNAP_STREAM_ACK_LEN];
	struct snap_stream_busy *busy;
	uint64_t time = 0;
	uint32_t type;
	size_t len;
	int r;

	if (err && errlen)
		err[0] = 0;
	if (!dk) {
		*out = NULL;
		return -ENOMEM;
	}
	r = snap_stream_get_header(fd, nonce, err, errlen);
	if (!r)
		snap_stream_ack_frame(ack, nonce);
	r = r ?: snap_stream_get(fd, &type, &p, &len, MIG_MAX_CONFIG, err, errlen);
	if (!r && type != SNAP_SEC_MACHINE) {
		vm_errf(err, errlen,
			"the stream does not start with a system VM's machine section (a "
			"WebAssembly program's? this end takes a system VM: use lodge wasm, or "
			"--kind wasm through the daemon)");
		r = -EINVAL;
	}
	if (!r) {
		r = vm_restore_config(p, len, &cfg, &rs);
		if (r)
			vm_errf(err, errlen, "corrupt: the machine section is malformed");
	}
	core_free(p);
	if (!r && vm_restore_writable_disks(rs))
		r = get_disks(fd, rs, dk, err, errlen)
			    ?: plan_disks(tmpl, &cfg, rs, dk, err, errlen);
	else if (!r && tmpl->ndisk_paths) {
		vm_errf(err, errlen, "the machine has no writable disk for --incoming-disk");
		r = -EINVAL;
	}
	/* before anything is opened: the stream chooses no host file this host did not
	 * allow (its own --incoming-disk images need no allowance) */
	r = r ?: vm_restore_check_host(rs, tmpl->allow, err, errlen);
	if (r)
		goto out;
	cfg.timeout_sec = tmpl->timeout_sec;
	cfg.jit_hot = tmpl->jit_hot;
	cfg.jit_cache = tmpl->jit_cache;
	cfg.hugepages = tmpl->hugepages;
	cfg.console = tmpl->console;
	cfg.err = err;
	cfg.errlen = errlen;
	/* backing files the images name: refused before they open (and checked again by
	 * their descriptors once open: vm_restore_check_chains) */
	vm_restore_backing_init(&backing, rs, tmpl->allow);
	cfg.disk_check = &backing.check;
	/* With disks the source waits for their answer while the machine is created. */
	busy = dk->n ? snap_stream_busy_begin(fd, 0) : NULL;
	r = vm_create(&cfg, &vm);
	if (!r && dk->n)
		r = check_disks(vm, dk, err, errlen);
	/* backing files the images name: before anything is read from them */
	r = r ?: vm_restore_check_chains(vm, rs, tmpl->allow, err, errlen);
	snap_stream_busy_end(busy);
	if (r && !vm) {
		if (err && errlen && !err[0])
			vm_errf(err, errlen, "cannot create the machine: %s", strerror(-r));
		goto out;
	}
	if (dk->n) {
		if (answer_disks(fd, r ? MIG_DISKS_REFUSED : dk->mode) && !r) {
			r = -errno;
			vm_errf(err, errlen, "cannot answer the source: %s", strerror(-r));
		}
	}
	if (r) /* (a refused backing file of a stream without writable disks too) */
		goto out;
	r = receive(fd, vm, dk, &pc, &time, err, errlen);
	if (!r && pc && !snap_pc_in_discarded(pc->in)) {
		vm_errf(err, errlen, "corrupt: the post-copy stream ended without its discard");
		r = -EINVAL;
	}
	/* DONE: the source waits for "OK" while the disks are flushed (the harts and
	 * devices are loaded already, or after the thread starts in post-copy). */
	busy = r ? NULL : snap_stream_busy_begin(fd, 0);
#ifdef LODGE_TEST_HOOKS
	if (!r)
		snap_stream_test_slow_step();
#endif
	r = r ?: finish_disks(dk, err, errlen);
	/* shared storage: the images opened at SWITCH, before the guest runs */
	r = r ?: vm_restore_check_chains(vm, rs, tmpl->allow, err, errlen);
	snap_stream_busy_end(busy);
	/* Post-copy: from here the thread serves the missing pages (the state loaded next
	 * may touch them); vm_destroy ends it. */
	r = r ?: (pc ? postcopy_start(pc, err, errlen) : 0);
	r = r ?: (pc ? load_kept(vm, &pc->kept, err, errlen) : 0);
	if (r)
		goto out;
	vm_restore_finish(vm, rs, time);
	if (pc)
		r = snap_pc_in_ack(pc->in, nonce);
	else if (send(fd, ack, sizeof(ack), MSG_NOSIGNAL) != (ssize_t)sizeof(ack)) {
		r = -errno;
	}
	if (r)
		vm_errf(err, errlen, "cannot acknowledge the migration: %s", strerror(-r));
out:
	if (vm)
		vm->board.disk_check = NULL; /* its own from here (backing is gone) */
	if (r) {
		if (pc && (!vm || vm->postcopy != pc))
			postcopy_free(pc); /* else vm_destroy ends it */
		vm_destroy(vm);
		vm = NULL;
	}
	vm_restore_close(rs);
	core_free(dk);
	*out = vm;
	return r;
}
