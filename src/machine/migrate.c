/*
 * Live migration (see migrate.h). Source: connect, send the configuration (MACHINE),
 * start the dirty log, send every page (round 1) with the guest running, then the pages
 * written meanwhile, round after round, until fewer than MIG_SMALL are left (or
 * MIG_MAX_ROUNDS); pause, and on the I/O thread (no device callback runs) send the last
 * pages, the harts, the devices, the clock and DONE; wait for the acknowledgement.
 * Destination: the reverse, checking every section; pages go straight into the new
 * machine's RAM (it does not run yet), the state is loaded after DONE.
 */
#include "machine/migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/evloop.h"
#include "core/gmem.h"
#include "core/sbuf.h"
#include "devices/device.h"
#include "devices/virtio/blk.h"
#include "machine/machine.h"
#include "machine/snapshot.h"
#include "snapshot/snapshot.h"

#define MIG_BATCH      256 /* pages per PAGES section */
#define MIG_MAX_ROUNDS 30
#define MIG_SMALL      256 /* dirty pages left that the paused round sends (1 MiB) */
#define MIG_ZERO       (1ull << 63)
#define MIG_MAX_CONFIG (1u << 20)
#define MIG_MAX_PAGES  (4 + MIG_BATCH * (8 + GMEM_PAGE_SIZE))

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
};

static int flush_batch(struct mig *m)
{
	int r;

	if (!m->count)
		return 0;
	for (unsigned i = 0; i < 4; i++)
		m->batch.data[i] = (uint8_t)(m->count >> (8 * i));
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
	r = r ?: send_bits(m);
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
	ssize_t n;
	int r = snap_stream_put(m->fd, SNAP_SEC_SYNC, "", 0);

	if (r)
		return r;
	n = recv(m->fd, ans, sizeof(ans), MSG_WAITALL);
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	if (n != (ssize_t)sizeof(ans) || ans[0] != (SNAP_STREAM_SYNC & 0xff) ||
	    ans[1] != (SNAP_STREAM_SYNC >> 8))
		return -ECONNABORTED;
	return 0;
}

static bool has_writable_disk(const struct vm *vm)
{
	for (const struct device *d = vm->devices; d; d = d->next) {
		bool ro;
		if (vblk_is_blk(d, &ro) && !ro)
			return true;
	}
	return false;
}

int vm_migrate(struct vm *vm, const char *dest, struct vm_migrate_stats *st, char *err,
	       size_t errlen)
{
	int fd;

	memset(st, 0, sizeof(*st));
	if (err && errlen)
		err[0] = 0;
	if (has_writable_disk(vm)) {
		vm_errf(err, errlen,
			"the machine has a writable disk, whose image the destination cannot open "
			"while this machine holds it (not supported yet)");
		return -EOPNOTSUPP;
	}
	fd = snap_stream_dial(dest);
	if (fd < 0) {
		vm_errf(err, errlen, "cannot connect to %s: %s", dest,
			fd == -EINVAL ? "not HOST:PORT" : strerror(-fd));
		return fd;
	}
	return vm_migrate_fd(vm, fd, dest, st, err, errlen);
}

int vm_migrate_fd(struct vm *vm, int fd, const char *dest, struct vm_migrate_stats *st, char *err,
		  size_t errlen)
{
	struct mig m = {.vm = vm, .fd = fd, .st = st, .err = err, .errlen = errlen};
	struct gmem *g = &vm->mem;
	uint64_t words = gmem_dirty_words(g), pages = g->size >> GMEM_PAGE_SHIFT;
	uint64_t t0 = vm_now_ns(), tp = 0;
	bool log_was_on = __atomic_load_n(&g->dirty_log, __ATOMIC_ACQUIRE);
	bool paused_here = false, was_paused = vm_paused(vm);
	uint8_t ack[2];
	struct sbuf cfg = {0};
	int r;

	memset(st, 0, sizeof(*st));
	if (err && errlen)
		err[0] = 0;
	if (has_writable_disk(vm)) {
		vm_errf(err, errlen,
			"the machine has a writable disk, whose image the destination cannot open "
			"while this machine holds it (not supported yet)");
		close(fd);
		return -EOPNOTSUPP;
	}
	m.bits = core_calloc(words, sizeof(uint64_t));
	if (!m.bits) {
		close(fd);
		return -ENOMEM;
	}
	sbuf_put_u32(&m.batch, 0);
	r = vm_state_config(vm, &cfg) ?: snap_stream_put_header(m.fd);
	r = r ?: snap_stream_put(m.fd, SNAP_SEC_MACHINE, cfg.data, cfg.len);
	if (r)
		goto io_err;
	/* Round 1: all of RAM, the guest running; the log holds what it writes meanwhile. */
	gmem_dirty_start(g);
	st->rounds = 1;
	for (uint64_t p = 0; p < pages && !r; p++)
		r = send_page(&m, p);
	r = r ?: flush_batch(&m);
	while (!r && st->rounds < MIG_MAX_ROUNDS) {
		r = gmem_dirty_take(g, m.bits, !was_paused);
		if (r || count_bits(m.bits, words) <= MIG_SMALL)
			break;
		st->rounds++;
		r = send_bits(&m);
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
	for (struct device *d = vm->devices; d; d = d->next)
		if (d->ops->resume)
			d->ops->resume(d);
	r = m.r;
	if (r)
		goto io_err;
	{
		ssize_t n = recv(m.fd, ack, sizeof(ack), MSG_WAITALL);
		if (n != (ssize_t)sizeof(ack) || ack[0] != (SNAP_STREAM_ACK & 0xff) ||
		    ack[1] != (SNAP_STREAM_ACK >> 8)) {
			r = n < 0 ? -errno : -ECONNABORTED;
			vm_errf(err, errlen,
				"%s did not acknowledge the migration (%s): the machine runs on "
				"here",
				dest,
				n < 0 ? strerror(errno) : "it refused or closed the connection");
			goto out;
		}
	}
	st->downtime_ns = vm_now_ns() - tp;
	st->total_ns = vm_now_ns() - t0;
	r = 0;
	goto out;
io_err:
	if (err && errlen && !err[0])
		vm_errf(err, errlen, "sending to %s failed: %s", dest, strerror(-r));
out:
	if (r) {
		/* The log no longer says what changed since the last snapshot: from now on
		 * everything has (a Diff then holds all of RAM), or it was not on at all. */
		if (log_was_on) {
			memset(m.bits, 0xff, words * sizeof(uint64_t));
			gmem_dirty_merge(g, m.bits);
		} else {
			gmem_dirty_stop(g);
		}
		if (paused_here)
			vm_resume(vm);
	}
	if (m.fd >= 0)
		close(m.fd);
	sbuf_fini(&m.batch);
	sbuf_fini(&cfg);
	core_free(m.bits);
	return r;
}

/* ---- destination ---- */

static int load_pages(struct vm *vm, const uint8_t *p, size_t len)
{
	struct sreader in;
	uint64_t npages = vm->mem.size >> GMEM_PAGE_SHIFT;
	uint32_t count;

	sreader_init(&in, p, len);
	count = sread_u32(&in);
	if (in.err || count == 0 || count > MIG_BATCH)
		return -EINVAL;
	for (uint32_t i = 0; i < count; i++) {
		uint64_t idx = sread_u64(&in), page = idx & ~MIG_ZERO;
		uint8_t *dst;
		if (in.err || page >= npages)
			return -EINVAL;
		dst = vm->mem.ram + (page << GMEM_PAGE_SHIFT);
		/* Reading a page never written maps the kernel's zero page: checking first
		 * keeps the guest's zero pages from taking host memory. */
		if (idx & MIG_ZERO) {
			if (!vm_page_zero(dst))
				memset(dst, 0, GMEM_PAGE_SIZE);
		} else {
			sread(&in, dst, GMEM_PAGE_SIZE);
		}
	}
	return in.err || in.off != len ? -EINVAL : 0;
}

/* Receives the state of `vm` up to DONE. */
static int receive(int fd, struct vm *vm, uint64_t *time, char *err, size_t errlen)
{
	unsigned harts = 0;
	struct device *dev = vm->devices;
	bool clock = false;

	for (;;) {
		uint32_t type;
		uint8_t *p;
		size_t len;
		struct sreader in;
		int r = snap_stream_get(fd, &type, &p, &len, SNAP_MAX_SECTION, err, errlen);

		if (r)
			return r;
		switch (type) {
		case SNAP_SEC_PAGES:
			r = harts ? -EINVAL : load_pages(vm, p, len);
			if (r)
				vm_errf(err, errlen,
					"corrupt: a page section is malformed or late");
			break;
		case SNAP_SEC_HART:
			r = dev != vm->devices || harts == vm->nharts ? -EINVAL : 0;
			if (r)
				vm_errf(err, errlen, "corrupt: hart state out of order");
			else
				r = vm_state_load_hart(vm, harts++, p, len, err, errlen);
			break;
		case SNAP_SEC_DEVICE:
			r = !dev || harts != vm->nharts ? -EINVAL : 0;
			if (r)
				vm_errf(err, errlen, "corrupt: device state out of order");
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
	}
}

int vm_incoming(const char *addr, const struct vm_config *tmpl, struct vm **out, char *err,
		size_t errlen)
{
	int fd, r;

	if (err && errlen)
		err[0] = 0;
	*out = NULL;
	fd = snap_stream_accept(addr, err, errlen);
	if (fd < 0)
		return fd;
	r = vm_incoming_fd(fd, tmpl, out, err, errlen);
	close(fd);
	return r;
}

int vm_incoming_fd(int fd, const struct vm_config *tmpl, struct vm **out, char *err, size_t errlen)
{
	struct vm_config cfg = {0};
	struct vm_restore *rs = NULL;
	struct vm *vm = NULL;
	uint8_t *p = NULL, ack[2] = {SNAP_STREAM_ACK & 0xff, SNAP_STREAM_ACK >> 8};
	uint64_t time = 0;
	uint32_t type;
	size_t len;
	int r;

	if (err && errlen)
		err[0] = 0;
	r = snap_stream_get_header(fd, err, errlen);
	r = r ?: snap_stream_get(fd, &type, &p, &len, MIG_MAX_CONFIG, err, errlen);
	if (!r && type != SNAP_SEC_MACHINE) {
		vm_errf(err, errlen, "corrupt: the stream does not start with the machine");
		r = -EINVAL;
	}
	if (!r) {
		r = vm_restore_config(p, len, &cfg, &rs);
		if (r)
			vm_errf(err, errlen, "corrupt: the machine section is malformed");
	}
	core_free(p);
	if (r)
		goto out;
	cfg.timeout_sec = tmpl->timeout_sec;
	cfg.jit_hot = tmpl->jit_hot;
	cfg.console = tmpl->console;
	cfg.err = err;
	cfg.errlen = errlen;
	r = vm_create(&cfg, &vm);
	if (r) {
		if (err && errlen && !err[0])
			vm_errf(err, errlen, "cannot create the machine: %s", strerror(-r));
		goto out;
	}
	r = receive(fd, vm, &time, err, errlen);
	if (r)
		goto out;
	vm_restore_finish(vm, rs, time);
	if (send(fd, ack, sizeof(ack), MSG_NOSIGNAL) != (ssize_t)sizeof(ack)) {
		r = -errno;
		vm_errf(err, errlen, "cannot acknowledge the migration: %s", strerror(-r));
	}
out:
	if (r) {
		vm_destroy(vm);
		vm = NULL;
	}
	vm_restore_close(rs);
	*out = vm;
	return r;
}
