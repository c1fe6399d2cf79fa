/*
 * Continuous replication and failover (see replicate.h, docs/SNAPSHOT.md "Replication").
 *
 * Stream: the migration stream's header, MACHINE, REPLICATE, then checkpoints: EPOCH n,
 * PAGES (as migration's), BLOCKS, HART per hart, DEVICE per device, CLOCK, COMMIT. The
 * standby answers each COMMIT it took with "CK" and the checkpoint's number; DONE ends
 * replication (the primary's guest stopped). Checkpoint 0 carries all of RAM (pre-copied
 * with the guest running, then the pages written meanwhile with the guest paused) and
 * every block written since the disks were opened.
 *
 * Primary: a thread of its own pauses the machine every interval and, on the I/O thread
 * (no device callback runs), saves the harts and devices, takes the dirty log and the
 * disks' written blocks, copies those pages and blocks into memory, seals the held output
 * (console, network frames) and resumes the guest at once; then it sends the checkpoint,
 * waits for the standby's answer and releases the output sealed with it.
 *
 * Standby: checkpoint 0's pages go straight into the new machine's RAM (there is nothing
 * before it to keep); later checkpoints are staged in memory, every index and length
 * checked as it arrives, and applied (RAM, then the blocks to the standby's own images,
 * flushed) only once COMMIT says that every section arrived and matches. Harts and devices
 * are loaded only at failover, from the last committed checkpoint's records.
 */
#include "machine/replicate.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "core/alloc.h"
#include "core/evloop.h"
#include "core/gmem.h"
#include "core/log.h"
#include "core/sbuf.h"
#include "devices/chardev.h"
#include "devices/device.h"
#include "devices/virtio/blk.h"
#include "devices/virtio/net.h"
#include "disk/disk.h"
#include "machine/machine.h"
#include "machine/snapshot.h"
#include "net/net.h"
#include "snapshot/snapshot.h"

#define REPL_VERSION	    2	/* 2: the standby sends progress frames before "CK" */
#define REPL_BATCH	    256 /* pages per PAGES section */
#define REPL_ZERO	    (1ull << 63)
#define REPL_MAX_DISKS	    VM_MAX_DEVICE_ARGS
#define REPL_MAX_CONFIG	    (1u << 20)
#define REPL_ACK_LEN	    10 /* "CK", u64 checkpoint */
#define REPL_PRECOPY_ROUNDS 10
#define REPL_PRECOPY_SMALL  1024 /* dirty pages left that the first pause takes (4 MiB) */

static void put_le64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* ---- primary ---- */

/* A checkpoint: sections kept as records (u32 type, u64 length, payload) until sent. */
struct ckpt {
	struct sbuf recs;
	struct sbuf batch; /* a PAGES payload being filled */
	unsigned count;
	uint64_t *bits;
	int r;
};

struct vm_repl {
	struct vm *vm;
	int fd;
	char dest[256];
	unsigned interval_ms;
	uint64_t epoch; /* the next checkpoint's number */
	struct ckpt ck;
	uint64_t *disk_bits;
	bool log_was_on;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock; /* stats, stop */
	pthread_cond_t cond;
	bool stop, done;
	uint64_t last_ack_ns;
	struct vm_repl_stats st;
};

static void rec_put(struct sbuf *b, uint32_t type, const void *p, size_t len)
{
	sbuf_put_u32(b, type);
	sbuf_put_u64(b, len);
	sbuf_put(b, p, len);
}

static int emit_rec(void *ctx, uint32_t type, const void *p, size_t len)
{
	struct sbuf *b = ctx;

	rec_put(b, type, p, len);
	return b->err;
}

static void flush_pages(struct ckpt *c)
{
	if (!c->count)
		return;
	for (unsigned i = 0; i < 4; i++)
		c->batch.data[i] = (uint8_t)(c->count >> (8 * i));
	rec_put(&c->recs, SNAP_SEC_PAGES, c->batch.data, c->batch.len);
	c->batch.len = 0;
	sbuf_put_u32(&c->batch, 0);
	c->count = 0;
}

static void add_page(struct ckpt *c, struct gmem *g, uint64_t p)
{
	uint8_t page[GMEM_PAGE_SIZE] __attribute__((aligned(64)));

	gmem_copy_from(page, g->ram + (p << GMEM_PAGE_SHIFT), GMEM_PAGE_SIZE);
	if (vm_page_zero(page)) {
		sbuf_put_u64(&c->batch, p | REPL_ZERO);
	} else {
		sbuf_put_u64(&c->batch, p);
		sbuf_put(&c->batch, page, GMEM_PAGE_SIZE);
	}
	if (++c->count == REPL_BATCH)
		flush_pages(c);
}

/* The written blocks of every writable disk, in creation order. I/O thread, the devices
 * quiesced: nothing else is in flight on the disks. */
static int add_blocks(struct vm_repl *rp)
{
	struct ckpt *c = &rp->ck;
	unsigned k = 0;
	uint8_t *buf = NULL;
	int r = 0;

	for (struct device *d = rp->vm->devices; d && !r; d = d->next) {
		struct disk *dk = vblk_disk(d);
		uint64_t n, words;
		if (!dk || disk_readonly(dk))
			continue;
		n = disk_written_blocks(dk);
		words = (n + 63) / 64;
		memset(rp->disk_bits, 0, words * sizeof(uint64_t));
		if (disk_written_take(dk, rp->disk_bits) == -ENOMEM)
			log_warn("replication: disk %u: written blocks not tracked: sending all",
				 k);
		if (!buf && !(buf = core_alloc(12 + DISK_TRACK_BLOCK))) {
			r = -ENOMEM;
			break;
		}
		for (uint64_t w = 0; w < words && !r; w++) {
			for (uint64_t b = rp->disk_bits[w]; b && !r; b &= b - 1) {
				uint64_t off =
					(w * 64 + (uint64_t)__builtin_ctzll(b)) * DISK_TRACK_BLOCK;
				uint64_t len = disk_size(dk) - off;
				if (len > DISK_TRACK_BLOCK)
					len = DISK_TRACK_BLOCK;
				for (unsigned i = 0; i < 4; i++)
					buf[i] = (uint8_t)(k >> (8 * i));
				put_le64(buf + 4, off);
				r = disk_pread(dk, buf + 12, (size_t)len, off);
				if (!r)
					rec_put(&c->recs, SNAP_SEC_BLOCKS, buf, 12 + (size_t)len);
			}
		}
		k++;
	}
	core_free(buf);
	return r;
}

static void net_holds(struct vm *vm, void (*fn)(struct net_backend *))
{
	for (struct device *d = vm->devices; d; d = d->next) {
		struct net_backend *nb = vnet_backend(d);
		if (nb)
			fn(nb);
	}
}

static void net_start_on_loop(void *opaque)
{
	struct vm *vm = opaque;

	for (struct device *d = vm->devices; d; d = d->next) {
		struct net_backend *nb = vnet_backend(d);
		if (nb && net_hold_start(nb))
			log_warn("replication: cannot hold %s frames back (out of memory)",
				 nb->kind);
	}
}

static void net_seal_on_loop(void *opaque)
{
	net_holds(opaque, net_hold_seal);
}

static void net_release_on_loop(void *opaque)
{
	net_holds(opaque, net_hold_release);
}

static void net_stop_on_loop(void *opaque)
{
	net_holds(opaque, net_hold_stop);
}

/* On the I/O thread, the machine paused and its devices quiesced: the whole checkpoint
 * into memory, and the output so far sealed (this checkpoint covers it). */
static void capture_on_loop(void *opaque)
{
	struct vm_repl *rp = opaque;
	struct vm *vm = rp->vm;
	struct ckpt *c = &rp->ck;
	struct sbuf state = {0};
	uint64_t words = gmem_dirty_words(&vm->mem);
	uint8_t num[8];
	int r;

	c->recs.len = 0;
	put_le64(num, rp->epoch);
	rec_put(&c->recs, SNAP_SEC_EPOCH, num, 8);
	/* The state first: saving a virtio device logs its used rings. */
	r = vm_state_save(vm, emit_rec, &state, NULL, 0);
	memset(c->bits, 0, words * sizeof(uint64_t));
	r = r ?: gmem_dirty_take(&vm->mem, c->bits, false);
	for (uint64_t w = 0; w < words && !r; w++)
		for (uint64_t b = c->bits[w]; b; b &= b - 1)
			add_page(c, &vm->mem, w * 64 + (uint64_t)__builtin_ctzll(b));
	flush_pages(c);
	r = r ?: add_blocks(rp);
	sbuf_put(&c->recs, state.data, state.len);
	put_le64(num, vm_time(vm));
	rec_put(&c->recs, SNAP_SEC_CLOCK, num, 8);
	if (vm->console)
		chardev_hold_seal(vm->console);
	net_seal_on_loop(vm);
	sbuf_fini(&state);
	c->r = r ?: c->recs.err ?: c->batch.err;
}

/* Pauses the guest, captures a checkpoint, resumes it. Returns 0 or -errno; the pause
 * is added to the statistics. */
static int capture(struct vm_repl *rp)
{
	struct vm *vm = rp->vm;
	bool was_paused = vm_paused(vm);
	uint64_t t0 = vm_now_ns(), dt;
	int r = was_paused ? 0 : vm_pause(vm);

	if (r)
		return r;
	for (struct device *d = vm->devices; d; d = d->next)
		if (d->ops->quiesce)
			d->ops->quiesce(d);
	evloop_call(vm->loop, capture_on_loop, rp);
	for (struct device *d = vm->devices; d; d = d->next)
		if (d->ops->resume)
			d->ops->resume(d);
	if (!was_paused)
		vm_resume(vm);
	dt = vm_now_ns() - t0;
	pthread_mutex_lock(&rp->lock);
	if (rp->epoch == 0) { /* the rest of RAM after the pre-copy: apart */
		rp->st.first_pause_ns = dt;
	} else {
		rp->st.pause_last_ns = dt;
		if (dt > rp->st.pause_max_ns)
			rp->st.pause_max_ns = dt;
		rp->st.pause_total_ns += dt;
	}
	pthread_mutex_unlock(&rp->lock);
	return rp->ck.r;
}

/* Sends the captured checkpoint and COMMIT, and waits for the standby's answer. */
static int send_ckpt(struct vm_repl *rp)
{
	const struct sbuf *b = &rp->ck.recs;
	struct sreader in;
	uLong crc = crc32(0, NULL, 0);
	uint32_t n = 0;
	uint8_t commit[16], ack[REPL_ACK_LEN];
	uint64_t bytes = 0;
	int r = 0;

	sreader_init(&in, b->data, b->len);
	while (!r && in.off < b->len) {
		uint32_t type = sread_u32(&in);
		uint64_t len = sread_u64(&in);
		if (in.err || len > b->len - in.off)
			return -EIO;
		r = snap_stream_put(rp->fd, type, b->data + in.off, (size_t)len);
		crc = crc32(crc, b->data + in.off, (uInt)len);
		bytes += len + 24;
		in.off += (size_t)len;
		n++;
	}
	put_le64(commit, rp->epoch);
	for (unsigned i = 0; i < 4; i++) {
		commit[8 + i] = (uint8_t)(n >> (8 * i));
		commit[12 + i] = (uint8_t)(crc >> (8 * i));
	}
	r = r ?: snap_stream_put(rp->fd, SNAP_SEC_COMMIT, commit, sizeof(commit));
	if (r)
		return r;
	/* A standby that applies a big checkpoint on a starved host takes long, but says
	 * that it works on: only silence for the socket's timeout is death. */
	r = snap_stream_get_answer(rp->fd, ack, sizeof(ack));
	if (r)
		return r;
	if (ack[0] != (SNAP_STREAM_COMMITTED & 0xff) || ack[1] != (SNAP_STREAM_COMMITTED >> 8) ||
	    get_le64(ack + 2) != rp->epoch)
		return -ECONNABORTED;
	pthread_mutex_lock(&rp->lock);
	rp->st.bytes += bytes + 40;
	pthread_mutex_unlock(&rp->lock);
	return 0;
}

/* The standby has checkpoint rp->epoch: the output it covers goes out. */
static void committed(struct vm_repl *rp)
{
	uint64_t now = vm_now_ns();

	if (rp->vm->console)
		chardev_hold_release(rp->vm->console);
	evloop_call(rp->vm->loop, net_release_on_loop, rp->vm);
	pthread_mutex_lock(&rp->lock);
	if (rp->st.checkpoints) {
		uint64_t d = now - rp->last_ack_ns;
		rp->st.rpo_last_ns = d;
		if (d > rp->st.rpo_max_ns)
			rp->st.rpo_max_ns = d;
		rp->st.rpo_total_ns += d;
	}
	rp->st.checkpoints++;
	rp->last_ack_ns = now;
	pthread_mutex_unlock(&rp->lock);
	rp->epoch++;
}

/* Stops holding output back (everything held goes out) and the dirty log. */
static void unprotect(struct vm_repl *rp)
{
	struct gmem *g = &rp->vm->mem;

	if (rp->vm->console)
		chardev_hold_stop(rp->vm->console);
	evloop_call(rp->vm->loop, net_stop_on_loop, rp->vm);
	if (rp->log_was_on) { /* a later Diff snapshot holds all of RAM */
		uint64_t words = gmem_dirty_words(g);
		memset(rp->ck.bits, 0xff, words * sizeof(uint64_t));
		gmem_dirty_merge(g, rp->ck.bits);
	} else {
		gmem_dirty_stop(g);
	}
}

static bool stopping(struct vm_repl *rp)
{
	bool s;

	pthread_mutex_lock(&rp->lock);
	s = rp->stop;
	pthread_mutex_unlock(&rp->lock);
	return s;
}

static void *repl_thread(void *opaque)
{
	struct vm_repl *rp = opaque;
	uint64_t next = vm_now_ns() + (uint64_t)rp->interval_ms * 1000000;
	int r = 0;

	for (;;) {
		struct timespec ts;
		pthread_mutex_lock(&rp->lock);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		{
			uint64_t now = vm_now_ns(), wait = next > now ? next - now : 0;
			uint64_t ns = (uint64_t)ts.tv_nsec + wait % 1000000000;
			ts.tv_sec += (time_t)(wait / 1000000000 + ns / 1000000000);
			ts.tv_nsec = (long)(ns % 1000000000);
		}
		while (!rp->stop && vm_now_ns() < next &&
		       pthread_cond_timedwait(&rp->cond, &rp->lock, &ts) != ETIMEDOUT)
			;
		if (rp->stop) {
			pthread_mutex_unlock(&rp->lock);
			break;
		}
		pthread_mutex_unlock(&rp->lock);
		next = vm_now_ns() + (uint64_t)rp->interval_ms * 1000000;
		r = capture(rp);
		if (r == -ESHUTDOWN) /* the machine is stopping: vm_replicate_stop follows */
			break;
		r = r ?: send_ckpt(rp);
		if (r)
			break;
		committed(rp);
	}
	if (r && r != -ESHUTDOWN && !stopping(rp)) {
		log_warn("replication to %s failed: %s: the guest runs on unprotected (its held "
			 "output is released; PUT /replicate starts again)",
			 rp->dest, strerror(-r));
		unprotect(rp);
		pthread_mutex_lock(&rp->lock);
		rp->st.active = false;
		snprintf(rp->st.error, sizeof(rp->st.error), "the standby %.200s is gone: %s",
			 rp->dest, strerror(-r));
		pthread_mutex_unlock(&rp->lock);
		shutdown(rp->fd, SHUT_RDWR);
	}
	return NULL;
}

static void repl_free(struct vm_repl *rp)
{
	if (rp->fd >= 0)
		close(rp->fd);
	sbuf_fini(&rp->ck.recs);
	sbuf_fini(&rp->ck.batch);
	core_free(rp->ck.bits);
	core_free(rp->disk_bits);
	pthread_mutex_destroy(&rp->lock);
	pthread_cond_destroy(&rp->cond);
	core_free(rp);
}

static bool is_stopped(const struct vm *vm)
{
	return vm_should_stop(vm);
}

/* Sends the sections gathered so far (pre-copy pages: no checkpoint's COMMIT counts
 * them) and forgets them. */
static int send_recs(struct vm_repl *rp)
{
	struct ckpt *c = &rp->ck;
	struct sreader in;
	int r = c->recs.err ?: c->batch.err;

	sreader_init(&in, c->recs.data, c->recs.len);
	while (!r && in.off < c->recs.len) {
		uint32_t type = sread_u32(&in);
		uint64_t len = sread_u64(&in);
		r = snap_stream_put(rp->fd, type, c->recs.data + in.off, (size_t)len);
		rp->st.bytes += len + 24;
		in.off += (size_t)len;
	}
	c->recs.len = 0;
	return r;
}

/* Sends every page (bits NULL) or those set in bits, the guest running. */
static int precopy(struct vm_repl *rp, const uint64_t *bits)
{
	struct gmem *g = &rp->vm->mem;
	uint64_t pages = g->size >> GMEM_PAGE_SHIFT;
	int r = 0;

	for (uint64_t p = 0; p < pages && !r; p++) {
		if (bits && !((bits[p / 64] >> (p % 64)) & 1))
			continue;
		add_page(&rp->ck, g, p);
		if (rp->ck.recs.len >= (8u << 20))
			r = send_recs(rp);
	}
	flush_pages(&rp->ck);
	return r ?: send_recs(rp);
}

static uint64_t count_bits(const uint64_t *b, uint64_t words)
{
	uint64_t n = 0;

	for (uint64_t w = 0; w < words; w++)
		n += (uint64_t)__builtin_popcountll(b[w]);
	return n;
}

/* The first checkpoint: RAM pre-copied with the guest running, as a live migration does
 * it (all of it, then what was written meanwhile, round after round, until little is
 * left; the pages in the stream with no EPOCH before them belong to checkpoint 0), then
 * a paused capture as later. */
static int first_ckpt(struct vm_repl *rp)
{
	struct gmem *g = &rp->vm->mem;
	uint64_t words = gmem_dirty_words(g);
	int r;

	gmem_dirty_start(g);
	if (rp->vm->console)
		chardev_hold_start(rp->vm->console);
	evloop_call(rp->vm->loop, net_start_on_loop, rp->vm);
	r = precopy(rp, NULL);
	for (unsigned round = 1; !r && round < REPL_PRECOPY_ROUNDS; round++) {
		memset(rp->ck.bits, 0, words * sizeof(uint64_t));
		r = gmem_dirty_take(g, rp->ck.bits, !vm_paused(rp->vm));
		if (!r && count_bits(rp->ck.bits, words) <= REPL_PRECOPY_SMALL) {
			gmem_dirty_merge(g, rp->ck.bits); /* the paused capture takes them */
			break;
		}
		r = r ?: precopy(rp, rp->ck.bits);
	}
	r = r ?: capture(rp);
	r = r ?: send_ckpt(rp);
	if (!r)
		committed(rp);
	return r;
}

int vm_replicate_start(struct vm *vm, const char *dest, int fd, unsigned interval_ms,
		       struct vm_repl **out, char *err, size_t errlen)
{
	struct vm_repl *rp;
	struct sbuf cfg = {0}, hello = {0};
	uint8_t nonce[SNAP_STREAM_NONCE]; /* no "OK" follows */
	uint64_t t0 = vm_now_ns(), maxblocks = 0;
	unsigned ndisks = 0;
	int r;

	if (err && errlen)
		err[0] = 0;
	*out = NULL;
	if (interval_ms < VM_REPL_MIN_INTERVAL_MS || interval_ms > VM_REPL_MAX_INTERVAL_MS) {
		vm_errf(err, errlen, "interval %u ms: must be %d-%d", interval_ms,
			VM_REPL_MIN_INTERVAL_MS, VM_REPL_MAX_INTERVAL_MS);
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	for (struct device *d = vm->devices; d; d = d->next) {
		struct disk *dk = vblk_disk(d);
		if (dk && !disk_readonly(dk)) {
			ndisks++;
			if (disk_written_blocks(dk) > maxblocks)
				maxblocks = disk_written_blocks(dk);
		}
	}
	if (fd < 0) {
		fd = snap_stream_dial(dest);
		if (fd < 0) {
			vm_errf(err, errlen, "cannot connect to %s: %s", dest,
				fd == -EINVAL ? "not HOST:PORT with a port from 1 to 65535, or its "
						"host does not resolve"
					      : strerror(-fd));
			return fd;
		}
	}
	rp = core_calloc(1, sizeof(*rp));
	if (!rp) {
		close(fd);
		return -ENOMEM;
	}
	rp->vm = vm;
	rp->fd = fd;
	rp->interval_ms = interval_ms;
	snprintf(rp->dest, sizeof(rp->dest), "%s", dest);
	pthread_mutex_init(&rp->lock, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the deadlines' clock */
		pthread_cond_init(&rp->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	rp->ck.bits = core_calloc(gmem_dirty_words(&vm->mem), sizeof(uint64_t));
	rp->disk_bits = core_calloc((size_t)((maxblocks + 63) / 64) ?: 1, sizeof(uint64_t));
	if (!rp->ck.bits || !rp->disk_bits) {
		repl_free(rp);
		return -ENOMEM;
	}
	sbuf_put_u32(&rp->ck.batch, 0);
	rp->log_was_on = __atomic_load_n(&vm->mem.dirty_log, __ATOMIC_ACQUIRE);
	sbuf_put_u32(&hello, REPL_VERSION);
	sbuf_put_u32(&hello, interval_ms);
	sbuf_put_u32(&hello, ndisks);
	r = vm_state_config(vm, &cfg) ?: hello.err ?: snap_stream_put_header(fd, nonce);
	r = r ?: snap_stream_put(fd, SNAP_SEC_MACHINE, cfg.data, cfg.len);
	r = r ?: snap_stream_put(fd, SNAP_SEC_REPLICATE, hello.data, hello.len);
	sbuf_fini(&cfg);
	sbuf_fini(&hello);
	r = r ?: first_ckpt(rp);
	if (r == -ENOSYS)
		vm_errf(err, errlen,
			"no memory barrier (membarrier) to track the running guest's writes: "
			"pause it first");
	else if (r == -ESHUTDOWN || (r && is_stopped(vm)))
		vm_errf(err, errlen, "the machine is stopping");
	else if (r)
		vm_errf(err, errlen, "the first checkpoint to %s failed: %s", dest, strerror(-r));
	if (!r) {
		rp->st.active = true;
		rp->st.first_ns = vm_now_ns() - t0;
		if (pthread_create(&rp->thread, NULL, repl_thread, rp)) {
			vm_errf(err, errlen, "cannot start the replication thread");
			r = -EAGAIN;
		} else {
			rp->thread_started = true;
		}
	}
	if (r) {
		unprotect(rp);
		repl_free(rp);
		return r;
	}
	*out = rp;
	return 0;
}

void vm_replicate_stats(struct vm_repl *rp, struct vm_repl_stats *out)
{
	pthread_mutex_lock(&rp->lock);
	*out = rp->st;
	pthread_mutex_unlock(&rp->lock);
}

void vm_replicate_stop(struct vm_repl *rp, bool done)
{
	bool active;

	if (!rp)
		return;
	pthread_mutex_lock(&rp->lock);
	rp->stop = true;
	active = rp->st.active;
	pthread_cond_broadcast(&rp->cond);
	pthread_mutex_unlock(&rp->lock);
	if (rp->thread_started)
		pthread_join(rp->thread, NULL);
	if (active) {
		/* DONE: the standby exits rather than take over a guest that stopped. */
		if (done && snap_stream_put(rp->fd, SNAP_SEC_DONE, "", 0))
			log_warn("replication: cannot tell %s that the guest stopped", rp->dest);
		unprotect(rp);
	}
	repl_free(rp);
}

/* ---- standby ---- */

struct vm_standby {
	int fd;
	struct vm_standby_opts o;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool failover_req;
	uint64_t committed;   /* checkpoints */
	uint64_t progress_ns; /* the last progress frame sent (snap_stream_progress) */
};

/* Tells the primary, about once a second, that this standby works on `epoch` (receives or
 * applies it): it waits for the answer as long as these come. A failure to send shows
 * at the next read or answer. */
static void standby_progress(struct vm_standby *s, uint64_t epoch)
{
	int r = snap_stream_progress(s->fd, epoch, &s->progress_ns);

	(void)r;
}

/* A checkpoint being received: checked as it comes, applied at COMMIT. */
struct stage {
	uint64_t epoch;
	bool open;
	uint32_t sections;
	uLong crc;
	struct sbuf pages;  /* u64 index (| REPL_ZERO) [, 4096 bytes] */
	struct sbuf blocks; /* u32 disk, u64 offset, u32 length, bytes */
	struct sbuf state;  /* HART and DEVICE records (u32 type, u64 length, payload) */
	unsigned harts, devs;
	uint64_t time;
	bool clock;
};

/* What failover loads. */
struct committed_state {
	struct sbuf state;
	uint64_t time;
	bool valid;
};

int vm_standby_create(int fd, const struct vm_standby_opts *o, struct vm_standby **out)
{
	struct vm_standby *s = core_calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->o = *o;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	*out = s;
	return 0;
}

void vm_standby_destroy(struct vm_standby *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	core_free(s);
}

void vm_standby_failover(struct vm_standby *s)
{
	pthread_mutex_lock(&s->lock);
	s->failover_req = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	shutdown(s->fd, SHUT_RDWR); /* the receiving side stops */
}

uint64_t vm_standby_committed(struct vm_standby *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	n = s->committed;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void stage_reset(struct stage *st)
{
	st->open = false;
	st->sections = 0;
	st->crc = crc32(0, NULL, 0);
	st->pages.len = st->blocks.len = st->state.len = 0;
	st->harts = st->devs = 0;
	st->clock = false;
}

static void stage_fini(struct stage *st)
{
	sbuf_fini(&st->pages);
	sbuf_fini(&st->blocks);
	sbuf_fini(&st->state);
}

/* A PAGES section: checked; into RAM directly (`direct`: before the first commit) or
 * staged. */
static int take_pages(struct vm *vm, struct stage *st, const uint8_t *p, size_t len, bool direct)
{
	struct sreader in;
	uint64_t npages = vm->mem.size >> GMEM_PAGE_SHIFT;
	uint32_t count;

	sreader_init(&in, p, len);
	count = sread_u32(&in);
	if (in.err || count == 0 || count > REPL_BATCH)
		return -EINVAL;
	for (uint32_t i = 0; i < count; i++) {
		uint64_t idx = sread_u64(&in), page = idx & ~REPL_ZERO;
		if (in.err || page >= npages)
			return -EINVAL;
		if (!(idx & REPL_ZERO) && len - in.off < GMEM_PAGE_SIZE)
			return -EINVAL;
		if (direct) {
			uint8_t *dst = vm->mem.ram + (page << GMEM_PAGE_SHIFT);
			if (!(idx & REPL_ZERO))
				memcpy(dst, p + in.off, GMEM_PAGE_SIZE);
			else if (!vm_page_zero(dst))
				memset(dst, 0, GMEM_PAGE_SIZE);
		} else {
			sbuf_put_u64(&st->pages, idx);
			if (!(idx & REPL_ZERO))
				sbuf_put(&st->pages, p + in.off, GMEM_PAGE_SIZE);
		}
		if (!(idx & REPL_ZERO))
			in.off += GMEM_PAGE_SIZE;
	}
	return in.off != len ? -EINVAL : st->pages.err;
}

static int take_blocks(struct disk **disks, unsigned ndisks, struct stage *st, const uint8_t *p,
		       size_t len)
{
	struct sreader in;
	uint32_t k;
	uint64_t off, n;

	sreader_init(&in, p, len);
	k = sread_u32(&in);
	off = sread_u64(&in);
	if (in.err || k >= ndisks || off % DISK_TRACK_BLOCK || off >= disk_size(disks[k]))
		return -EINVAL;
	n = len - in.off;
	if (n == 0 || n > DISK_TRACK_BLOCK || n > disk_size(disks[k]) - off)
		return -EINVAL;
	sbuf_put_u32(&st->blocks, k);
	sbuf_put_u64(&st->blocks, off);
	sbuf_put_u32(&st->blocks, (uint32_t)n);
	sbuf_put(&st->blocks, p + in.off, (size_t)n);
	return st->blocks.err;
}

/* COMMIT: RAM, then the blocks (flushed), then the state becomes the one failover
 * loads. */
static int commit(struct vm_standby *s, struct vm *vm, struct disk **disks, unsigned ndisks,
		  struct stage *st, struct committed_state *cs)
{
	struct sreader in;
	struct sbuf tmp;
	uint64_t pages = 0;
	int r = 0;

#ifdef LODGE_TEST_HOOKS
	snap_stream_test_slow_apply(s->fd, st->epoch, &s->progress_ns);
#endif
	sreader_init(&in, st->pages.data, st->pages.len);
	while (in.off < st->pages.len) {
		uint64_t idx = sread_u64(&in);
		if (++pages % 256 == 0)
			standby_progress(s, st->epoch);
		uint8_t *dst = vm->mem.ram + ((idx & ~REPL_ZERO) << GMEM_PAGE_SHIFT);
		if (idx & REPL_ZERO) {
			if (!vm_page_zero(dst))
				memset(dst, 0, GMEM_PAGE_SIZE);
		} else {
			sread(&in, dst, GMEM_PAGE_SIZE);
		}
	}
	sreader_init(&in, st->blocks.data, st->blocks.len);
	while (!r && in.off < st->blocks.len) {
		uint32_t k = sread_u32(&in);
		uint64_t off = sread_u64(&in);
		uint32_t n = sread_u32(&in);
		r = disk_pwrite(disks[k], st->blocks.data + in.off, n, off);
		in.off += n;
		standby_progress(s, st->epoch);
	}
	for (unsigned k = 0; k < ndisks && !r && st->blocks.len; k++) {
		standby_progress(s, st->epoch);
		r = disk_flush(disks[k]);
	}
	if (r)
		return r;
	tmp = cs->state;
	cs->state = st->state;
	st->state = tmp;
	cs->time = st->time;
	cs->valid = true;
	return 0;
}

static int send_committed(int fd, uint64_t epoch)
{
	uint8_t a[REPL_ACK_LEN] = {SNAP_STREAM_COMMITTED & 0xff, SNAP_STREAM_COMMITTED >> 8};

	put_le64(a + 2, epoch);
	return send(fd, a, sizeof(a), MSG_NOSIGNAL) == (ssize_t)sizeof(a) ? 0 : -errno;
}

/* One section of a checkpoint. Returns 0, 1 once COMMIT was applied, 2 for DONE, or
 * -errno with err. */
static int on_section(struct vm_standby *s, struct vm *vm, struct disk **disks, unsigned ndisks,
		      struct stage *st, struct committed_state *cs, uint32_t type, const uint8_t *p,
		      size_t len, char *err, size_t errlen)
{
	struct sreader in;
	uint64_t expect = vm_standby_committed(s);
	int r = 0;

	if (type == SNAP_SEC_DONE)
		return len ? -EINVAL : 2;
	if (type == SNAP_SEC_EPOCH) {
		sreader_init(&in, p, len);
		st->epoch = sread_u64(&in);
		if (in.err || in.off != len || st->open || st->epoch != expect) {
			vm_errf(err, errlen, "corrupt: checkpoint %llu where %llu was due",
				(unsigned long long)st->epoch, (unsigned long long)expect);
			return -EINVAL;
		}
		st->open = true;
		st->sections = 1;
		st->crc = crc32(crc32(0, NULL, 0), p, (uInt)len);
		return 0;
	}
	if (type == SNAP_SEC_PAGES && !st->open) { /* checkpoint 0's pre-copy */
		if (expect || take_pages(vm, st, p, len, true)) {
			vm_errf(err, errlen, "corrupt: a page section is malformed or misplaced");
			return -EINVAL;
		}
		return 0;
	}
	if (!st->open) {
		vm_errf(err, errlen, "corrupt: a section of type 0x%x outside a checkpoint", type);
		return -EINVAL;
	}
	if (type != SNAP_SEC_COMMIT) {
		st->sections++;
		st->crc = crc32(st->crc, p, (uInt)len);
	}
	switch (type) {
	case SNAP_SEC_PAGES:
		r = st->harts ? -EINVAL : take_pages(vm, st, p, len, expect == 0);
		if (r)
			vm_errf(err, errlen, "corrupt: a page section is malformed or late");
		return r;
	case SNAP_SEC_BLOCKS:
		r = st->harts ? -EINVAL : take_blocks(disks, ndisks, st, p, len);
		if (r)
			vm_errf(err, errlen, "corrupt: a disk block section is malformed or late");
		return r;
	case SNAP_SEC_HART:
	case SNAP_SEC_DEVICE:
		if (type == SNAP_SEC_HART ? st->devs || st->harts == vm->nharts
					  : st->harts != vm->nharts || st->clock) {
			vm_errf(err, errlen, "corrupt: hart or device state out of order");
			return -EINVAL;
		}
		if (type == SNAP_SEC_HART)
			st->harts++;
		else
			st->devs++;
		rec_put(&st->state, type, p, len);
		return st->state.err;
	case SNAP_SEC_CLOCK:
		sreader_init(&in, p, len);
		st->time = sread_u64(&in);
		if (in.err || in.off != len || st->harts != vm->nharts || st->clock) {
			vm_errf(err, errlen, "corrupt: the clock section is malformed or early");
			return -EINVAL;
		}
		st->clock = true;
		return 0;
	case SNAP_SEC_COMMIT: {
		unsigned ndev = 0;
		uint32_t n, crc;
		for (struct device *d = vm->devices; d; d = d->next)
			ndev++;
		sreader_init(&in, p, len);
		if (sread_u64(&in) != st->epoch)
			sreader_fail(&in);
		n = sread_u32(&in);
		crc = sread_u32(&in);
		if (in.err || in.off != len || n != st->sections || crc != (uint32_t)st->crc ||
		    !st->clock || st->devs != ndev) {
			vm_errf(err, errlen,
				"corrupt: checkpoint %llu is incomplete or fails its checksum: not "
				"committed",
				(unsigned long long)st->epoch);
			return -EINVAL;
		}
		r = commit(s, vm, disks, ndisks, st, cs);
		if (r) {
			vm_errf(err, errlen, "cannot apply checkpoint %llu to the disks: %s",
				(unsigned long long)st->epoch, strerror(-r));
			return r;
		}
		pthread_mutex_lock(&s->lock);
		s->committed++;
		pthread_mutex_unlock(&s->lock);
		r = send_committed(s->fd, st->epoch);
		stage_reset(st);
		return r ?: 1;
	}
	default:
		vm_errf(err, errlen, "corrupt: a section of unknown type 0x%x", type);
		return -EINVAL;
	}
}

/* Header, MACHINE, REPLICATE; creates the machine. */
static int standby_begin(struct vm_standby *s, const struct vm_config *tmpl, struct vm **vmp,
			 struct vm_restore **rsp, unsigned *interval, char *err, size_t errlen)
{
	struct vm_config cfg = {0};
	struct vm_restore_backing backing;
	uint8_t *p = NULL;
	uint32_t type, version, ndisks;
	struct sreader in;
	size_t len;
	int r = snap_stream_get_header(s->fd, NULL, err, errlen); /* no "OK" follows */

	r = r ?: snap_stream_get(s->fd, &type, &p, &len, REPL_MAX_CONFIG, err, errlen);
	if (!r && type != SNAP_SEC_MACHINE) {
		vm_errf(err, errlen,
			"the stream does not start with a system VM's machine section (a "
			"WebAssembly program's? this end takes a system VM: use lodge wasm, or "
			"--kind wasm through the daemon)");
		r = -EINVAL;
	}
	if (!r && vm_restore_config(p, len, &cfg, rsp)) {
		vm_errf(err, errlen, "corrupt: the machine section is malformed");
		r = -EINVAL;
	}
	core_free(p);
	p = NULL;
	r = r ?: snap_stream_get(s->fd, &type, &p, &len, 64, err, errlen);
	if (r)
		goto out;
	sreader_init(&in, p, len);
	version = sread_u32(&in);
	*interval = sread_u32(&in);
	ndisks = sread_u32(&in);
	if (type != SNAP_SEC_REPLICATE) {
		vm_errf(err, errlen,
			"not a replication stream (a live migration? use --incoming for that)");
		r = -EINVAL;
	} else if (in.err || in.off != len) {
		vm_errf(err, errlen, "corrupt: the replication section is malformed");
		r = -EINVAL;
	} else if (version != REPL_VERSION) {
		vm_errf(err, errlen,
			"replication version %u is not supported (this Lodge speaks version %d)",
			version, REPL_VERSION);
		r = -EINVAL;
	} else if (ndisks != vm_restore_writable_disks(*rsp) || ndisks != s->o.ndisks) {
		vm_errf(err, errlen,
			"the primary has %u writable disks and %u were given here: give "
			"--standby-disk PATH for each, in order (a copy of its image taken before "
			"the primary started)",
			ndisks, s->o.ndisks);
		r = -EINVAL;
	}
	for (unsigned k = 0; k < ndisks && !r; k++) {
		r = vm_restore_set_disk(*rsp, k, s->o.disks[k], NULL);
		if (r)
			vm_errf(err, errlen, "--standby-disk %s: %s", s->o.disks[k], strerror(-r));
	}
	/* before anything is opened: only the host files this host allowed */
	r = r ?: vm_restore_check_host(*rsp, tmpl->allow, err, errlen);
	if (r)
		goto out;
	cfg.timeout_sec = tmpl->timeout_sec;
	cfg.jit_hot = tmpl->jit_hot;
	cfg.jit_cache = tmpl->jit_cache;
	cfg.hugepages = tmpl->hugepages;
	cfg.console = tmpl->console;
	cfg.err = err;
	cfg.errlen = errlen;
	vm_restore_backing_init(&backing, *rsp, tmpl->allow);
	cfg.disk_check = &backing.check; /* a backing file outside: refused unopened */
	r = vm_create(&cfg, vmp);
	if (!r)
		(*vmp)->board.disk_check = NULL; /* (backing is gone after this) */
	if (r && err && errlen && !err[0])
		vm_errf(err, errlen, "cannot create the machine: %s", strerror(-r));
	/* the backing files its images name, before anything is read from them */
	if (!r && vm_restore_check_chains(*vmp, *rsp, tmpl->allow, err, errlen)) {
		vm_destroy(*vmp);
		*vmp = NULL;
		r = -EPERM;
	}
out:
	core_free(p);
	return r;
}

static bool failover_requested(struct vm_standby *s)
{
	bool f;

	pthread_mutex_lock(&s->lock);
	f = s->failover_req;
	pthread_mutex_unlock(&s->lock);
	return f;
}

/* Loads the last committed checkpoint's harts, devices and clock. */
static int load_committed(struct vm *vm, struct vm_restore *rs, const struct committed_state *cs,
			  char *err, size_t errlen)
{
	struct sreader in;
	struct device *d = vm->devices;
	unsigned h = 0;
	int r = 0;

	sreader_init(&in, cs->state.data, cs->state.len);
	while (!r && in.off < cs->state.len) {
		uint32_t type = sread_u32(&in);
		uint64_t len = sread_u64(&in);
		const uint8_t *p = cs->state.data + in.off;
		if (type == SNAP_SEC_HART) {
			r = vm_state_load_hart(vm, h++, p, (size_t)len, err, errlen);
		} else {
			r = d ? vm_state_load_device(d, p, (size_t)len, err, errlen) : -EINVAL;
			d = d ? d->next : NULL;
		}
		in.off += (size_t)len;
	}
	if (!r)
		vm_restore_finish(vm, rs, cs->time);
	return r;
}

int vm_standby_run(struct vm_standby *s, const struct vm_config *tmpl, struct vm **out, char *err,
		   size_t errlen)
{
	struct vm *vm = NULL;
	struct vm_restore *rs = NULL;
	struct stage st = {0};
	struct committed_state cs = {0};
	struct disk *disks[REPL_MAX_DISKS];
	unsigned ndisks = 0, interval = 0;
	char why[256] = "";
	int r;

	if (err && errlen)
		err[0] = 0;
	*out = NULL;
	stage_reset(&st);
	r = standby_begin(s, tmpl, &vm, &rs, &interval, err, errlen);
	if (r)
		goto out;
	for (struct device *d = vm->devices; d && ndisks < REPL_MAX_DISKS; d = d->next) {
		struct disk *dk = vblk_disk(d);
		if (dk && !disk_readonly(dk))
			disks[ndisks++] = dk;
	}
	for (;;) {
		uint8_t *p = NULL;
		uint32_t type;
		size_t len;
		r = snap_stream_get(s->fd, &type, &p, &len, SNAP_MAX_SECTION, why, sizeof(why));
		if (!r) {
			r = on_section(s, vm, disks, ndisks, &st, &cs, type, p, len, why,
				       sizeof(why));
			if (r == 0) /* a section taken: the checkpoint it belongs to goes on */
				standby_progress(s, vm_standby_committed(s));
			core_free(p);
		}
		if (r == 1 && cs.valid && s->o.auto_failover && vm_standby_committed(s) == 1) {
			/* From now on silence is death: at least two intervals. */
			unsigned ms = s->o.heartbeat_ms;
			struct timeval tv;
			if (ms < 2 * interval)
				ms = 2 * interval;
			tv = (struct timeval){.tv_sec = ms / 1000,
					      .tv_usec = (suseconds_t)(ms % 1000) * 1000};
			setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		}
		if (r == 2) {
			vm_errf(err, errlen, "the primary's guest stopped: replication ended");
			r = -ENODATA;
			goto out;
		}
		if (r < 0)
			break;
	}
	shutdown(s->fd, SHUT_RDWR); /* a primary still sending learns that it is alone */
	if (!cs.valid) {
		vm_errf(err, errlen, "%s (no checkpoint was complete: nothing to take over)",
			failover_requested(s) ? "failover asked for" : why);
		goto out;
	}
	if (failover_requested(s))
		fprintf(stderr,
			"lodge: standby: failover asked for: taking over from checkpoint %llu\n",
			(unsigned long long)(vm_standby_committed(s) - 1));
	else if (s->o.auto_failover)
		log_warn("standby: the primary is gone (%s): taking over from checkpoint %llu", why,
			 (unsigned long long)(vm_standby_committed(s) - 1));
	if (!s->o.auto_failover && !failover_requested(s)) {
		log_warn("standby: the primary is gone (%s): waiting for PUT /failover (or lodge "
			 "failover) to take over from checkpoint %llu",
			 why, (unsigned long long)(vm_standby_committed(s) - 1));
		pthread_mutex_lock(&s->lock);
		while (!s->failover_req)
			pthread_cond_wait(&s->cond, &s->lock);
		pthread_mutex_unlock(&s->lock);
		fprintf(stderr, "lodge: standby: failover: taking over from checkpoint %llu\n",
			(unsigned long long)(vm_standby_committed(s) - 1));
	}
	r = load_committed(vm, rs, &cs, err, errlen);
out:
	if (r) {
		vm_destroy(vm);
		vm = NULL;
	}
	stage_fini(&st);
	sbuf_fini(&cs.state);
	vm_restore_close(rs);
	*out = vm;
	return r;
}
