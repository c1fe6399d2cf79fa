/*
 * virtio-blk (virtio 1.2, 5.2) on a disk image (disk/disk.h): one request queue; reads,
 * writes, flush, discard, write-zeroes and the device ID. Requests go to the disk
 * asynchronously (io_uring) from the I/O thread and complete there, so no hart ever waits
 * for the host disk. Each request's header is copied out of guest memory before it is
 * checked; a sector range past the disk's end, a data length that is not whole sectors, or
 * a chain without room for the status byte ends that request with IOERR (or, when there is
 * not even a status byte, makes the device need a reset).
 *
 * Device type "virtio-blk", option --disk PATH[,format=raw|qcow2|auto][,readonly=on]
 * [,serial=ID][,bps=N][,iops=N][,burst=N][,iops_burst=N] (PATH also as path=PATH, the
 * form for a path with '='; ",," is a ',' in a value). Disks are numbered in
 * command-line order (vda, vdb, ... in the guest).
 *
 * Rate limiting (core/tbucket.h, Firecracker's semantics): every request that goes to
 * the disk takes an operation, and a read or write its data bytes too. A request the
 * limiter refuses goes back on the available ring (virtq_unpop) and the queue waits on
 * an evloop timer for the time the limiter names, taking no notification meanwhile; it
 * never spins. The limiter's state is not saved: a restored machine starts with full
 * buckets.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/evloop.h"
#include "core/gmem.h"
#include "core/keyval.h"
#include "core/log.h"
#include "core/sbuf.h"
#include "core/tbucket.h"
#include "core/util.h"
#include "devices/virtio/blk.h"

#include "devices/device.h"
#include "devices/virtio/virtio.h"
#include "disk/disk.h"

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX	  1
#define VIRTIO_BLK_F_SEG_MAX	  2
#define VIRTIO_BLK_F_RO		  5
#define VIRTIO_BLK_F_BLK_SIZE	  6
#define VIRTIO_BLK_F_FLUSH	  9
#define VIRTIO_BLK_F_DISCARD	  13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status (5.2.6). */
#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK		  0
#define VIRTIO_BLK_S_IOERR	  1
#define VIRTIO_BLK_S_UNSUPP	  2

#define BLK_QUEUE_SIZE 256
/* Data segments per request (config seg_max). Linux sends a request of up to
 * max_sectors_kb (1280 KiB by default) of 4 KiB pages, 320 segments, when seg_max lets it;
 * with seg_max 126 a 1 MiB read became three requests, each with its own guest-side
 * submission and completion work (emulated, so dearer than the host's copy). Indirect
 * descriptor tables carry them, so the queue size does not limit this. */
#define BLK_SEG_MAX	510
#define BLK_IOV_MAX	(BLK_SEG_MAX + 2)
#define BLK_SIZE_MAX	(1u << 20) /* bytes per segment (config size_max) */
#define BLK_ID_BYTES	20
#define BLK_MAX_DISCARD (1u << 22) /* sectors per discard/write-zeroes segment (2 GiB) */
#define BLK_CONFIG_SIZE 60
#define SECTOR		512u
#define SAVE_VERSION	1

/* A request slot. The iovec array comes last: a slot that has carried only small
 * requests has touched only its first page. The disk gets the data part of the chain
 * straight from `iov` when the header and the status byte have descriptors of their own
 * (as Linux lays requests out); only other layouts need `data`, allocated then and kept. */
struct blk_req {
	struct disk_req dr;
	struct vblk *blk;
	struct virtq_elem elem;
	uint8_t *status;  /* the status byte, in guest RAM */
	uint32_t written; /* bytes written to the guest on success */
	uint64_t bytes;	  /* data bytes a read or write moves (rate limiting) */
	uint32_t gen;	  /* blk->gen when it was submitted */
	struct blk_req *next_free;
	struct iovec *data;	       /* NULL until a layout needs the data part copied */
	struct iovec iov[BLK_IOV_MAX]; /* the chain as the guest gave it */
};

struct vblk {
	struct device dev;
	struct virtio_dev vdev;
	struct disk *disk; /* NULL while released (vblk_release) or not yet attached */
	struct evloop_watch *watch;
	char *path;		/* the image, as --disk names it (vblk_attach opens it again) */
	const struct board *bd; /* its board (disk_check for vblk_attach) */
	enum disk_format format;
	char serial[BLK_ID_BYTES + 1];
	uint64_t capacity; /* sectors */
	bool readonly;
	uint32_t gen;	   /* bumped by a device reset: completions of older requests are dropped */
	unsigned inflight; /* requests submitted and not yet completed */
	bool paused;	   /* quiesced: take no new requests */
	unsigned quiesce_seen;
	struct ratelimiter rl;
	struct evloop_timer *rl_timer;	    /* NULL without limits */
	bool throttled;			    /* the limiter refused a request: wait for rl_timer */
	uint64_t read_bytes, written_bytes; /* data the guest read and wrote (vblk_io_bytes) */
	struct blk_req *free;		    /* slots used before and free again */
	unsigned used_pending; /* used entries filled and not yet published (blk_publish) */
	bool batching;	       /* I/O thread: inside a batch, blk_publish comes at its end */
	unsigned fresh;	       /* reqs[fresh..] were never used (not even touched: no RSS) */
	struct blk_req reqs[BLK_QUEUE_SIZE];
};

struct blk_range {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void blk_config_read(struct virtio_dev *d, uint32_t off, void *buf, unsigned len)
{
	struct vblk *b = container_of(d, struct vblk, vdev);
	uint8_t cfg[BLK_CONFIG_SIZE] = {0};

	put_le(cfg + 0, b->capacity, 8);
	put_le(cfg + 8, BLK_SIZE_MAX, 4);
	put_le(cfg + 12, BLK_SEG_MAX, 4);
	put_le(cfg + 20, SECTOR, 4);	      /* blk_size */
	cfg[24] = 3;			      /* physical_block_exp: 4 KiB physical */
	put_le(cfg + 26, 8, 2);		      /* min_io_size: 8 logical blocks */
	put_le(cfg + 34, 1, 2);		      /* num_queues */
	put_le(cfg + 36, BLK_MAX_DISCARD, 4); /* max_discard_sectors */
	put_le(cfg + 40, 1, 4);		      /* max_discard_seg */
	put_le(cfg + 44, 8, 4);		      /* discard_sector_alignment */
	put_le(cfg + 48, BLK_MAX_DISCARD, 4); /* max_write_zeroes_sectors */
	put_le(cfg + 52, 1, 4);		      /* max_write_zeroes_seg */
	cfg[56] = 1;			      /* write_zeroes_may_unmap */
	memcpy(buf, cfg + off, len);
}

/* Publishes the used entries filled since the last call (one used-index store) and
 * interrupts the driver if its used_event asks for it. Device lock held. */
static void blk_publish(struct vblk *b)
{
	struct virtio_dev *d = &b->vdev;

	if (!b->used_pending)
		return;
	virtq_flush(&d->vq[0], d->mem, b->used_pending);
	b->used_pending = 0;
	virtio_dev_notify_used(d, 0);
}

/* Finishes a request: status byte, used ring entry; published (with the interrupt) at
 * once, or at the end of the batch of completions or of the notification being served,
 * so that requests finishing together cost the guest one interrupt and one pass of its
 * completion handler. Device lock held. */
static void finish(struct vblk *b, struct blk_req *r, uint8_t status)
{
	struct virtio_dev *d = &b->vdev;

	__atomic_store_n(r->status, status, __ATOMIC_RELAXED);
	if (virtq_fill(&d->vq[0], d->mem, &r->elem, status == VIRTIO_BLK_S_OK ? r->written + 1 : 1,
		       b->used_pending))
		b->used_pending++;
	r->next_free = b->free;
	b->free = r;
	if (!b->batching)
		blk_publish(b);
}

static void req_done(struct disk_req *dr, int result)
{
	struct blk_req *r = container_of(dr, struct blk_req, dr);
	struct vblk *b = r->blk;

	pthread_mutex_lock(&b->vdev.lock);
	b->inflight--;
	if (r->gen != b->gen) { /* the driver reset the device meanwhile: forget it */
		r->next_free = b->free;
		b->free = r;
	} else {
		if (result < 0)
			log_debug("%s: request at sector %llu failed: %s", b->vdev.name,
				  (unsigned long long)(r->dr.offset / SECTOR), strerror(-result));
		else if (r->dr.op == DISK_OP_READ)
			__atomic_fetch_add(&b->read_bytes, r->bytes, __ATOMIC_RELAXED);
		else if (r->dr.op == DISK_OP_WRITE)
			__atomic_fetch_add(&b->written_bytes, r->bytes, __ATOMIC_RELAXED);
		finish(b, r, (uint8_t)(result < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK));
	}
	pthread_mutex_unlock(&b->vdev.lock);
}

/* The data part of iovecs [first, first + n) of the element: `skip` bytes off the front,
 * `trim` bytes off the back. Sets *out to the iovecs (inside the element when the cut
 * falls on descriptor boundaries, else copied into r->data) and returns their count;
 * -ENOMEM when r->data could not be allocated. */
static int slice(struct blk_req *r, unsigned first, unsigned n, size_t skip, size_t trim,
		 const struct iovec **out, uint64_t *len_out)
{
	const struct iovec *v0 = &r->elem.iov[first];
	unsigned k = 0;
	uint64_t total = 0;
	bool whole = n > 0 && (!skip || v0[0].iov_len == skip) &&
		     (!trim || v0[n - 1].iov_len == trim) && (n > 1 || !skip || !trim);

	for (unsigned i = 0; i < n; i++) {
		total += v0[i].iov_len;
		whole = whole && v0[i].iov_len;
	}
	*out = NULL;
	if (skip + trim > total) {
		*len_out = 0;
		return 0;
	}
	total -= skip + trim;
	*len_out = total;
	if (whole) { /* header and status in descriptors of their own: no copy */
		*out = v0 + (skip ? 1 : 0);
		return (int)(n - (skip ? 1 : 0) - (trim ? 1 : 0));
	}
	if (!r->data) {
		r->data = core_alloc(BLK_IOV_MAX * sizeof(*r->data));
		if (!r->data)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < n && total; i++) {
		struct iovec v = v0[i];
		if (skip >= v.iov_len) {
			skip -= v.iov_len;
			continue;
		}
		v.iov_base = (uint8_t *)v.iov_base + skip;
		v.iov_len -= skip;
		skip = 0;
		if (v.iov_len > total)
			v.iov_len = total;
		total -= v.iov_len;
		r->data[k++] = v;
	}
	*out = r->data;
	return (int)k;
}

static bool range_ok(const struct vblk *b, uint64_t sector, uint64_t bytes)
{
	uint64_t n = bytes / SECTOR;

	return bytes % SECTOR == 0 && sector <= b->capacity && n <= b->capacity - sector;
}

/* Sets up the disk request for a read or write. Returns a status for an immediate
 * completion, or -1 when the request went to the disk. */
static int rw(struct vblk *b, struct blk_req *r, bool write, uint64_t sector)
{
	const struct iovec *iov;
	uint64_t len;
	int n;

	if (write)
		n = slice(r, 0, r->elem.n_out, 16, 0, &iov, &len);
	else
		n = slice(r, r->elem.n_out, r->elem.n_in, 0, 1, &iov, &len);
	if (n < 0)
		return VIRTIO_BLK_S_IOERR;
	if (write && b->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (!range_ok(b, sector, len))
		return VIRTIO_BLK_S_IOERR;
	if (!len)
		return VIRTIO_BLK_S_OK;
	r->written = write ? 0 : (uint32_t)len;
	r->bytes = len;
	r->dr = (struct disk_req){.op = write ? DISK_OP_WRITE : DISK_OP_READ,
				  .offset = sector * SECTOR,
				  .iov = iov,
				  .iovcnt = (unsigned)n};
	return -1;
}

/* Discard and write-zeroes: one segment (max_*_seg = 1). */
static int zero(struct vblk *b, struct blk_req *r, bool discard)
{
	uint8_t raw[16];
	struct blk_range seg;

	if (b->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (r->elem.out_len != 16 + sizeof(raw) ||
	    virtq_copy_from_out(&r->elem, 16, raw, sizeof(raw)) != sizeof(raw))
		return VIRTIO_BLK_S_UNSUPP; /* more than one segment, or none */
	memcpy(&seg.sector, raw, 8);
	memcpy(&seg.num_sectors, raw + 8, 4);
	memcpy(&seg.flags, raw + 12, 4);
	seg.sector = le64toh(seg.sector);
	seg.num_sectors = le32toh(seg.num_sectors);
	seg.flags = le32toh(seg.flags);
	if ((discard && seg.flags) || (seg.flags & ~1u) || seg.num_sectors > BLK_MAX_DISCARD)
		return VIRTIO_BLK_S_UNSUPP;
	if (!range_ok(b, seg.sector, (uint64_t)seg.num_sectors * SECTOR))
		return VIRTIO_BLK_S_IOERR;
	if (!seg.num_sectors)
		return VIRTIO_BLK_S_OK;
	r->dr = (struct disk_req){.op = discard ? DISK_OP_DISCARD : DISK_OP_WRITE_ZEROES,
				  .offset = seg.sector * SECTOR,
				  .len = (uint64_t)seg.num_sectors * SECTOR};
	return -1;
}

static int get_id(struct vblk *b, struct blk_req *r)
{
	uint8_t id[BLK_ID_BYTES] = {0};

	memcpy(id, b->serial, strlen(b->serial));
	r->written = (uint32_t)virtq_copy_to_in(
		&r->elem, 0, id, r->elem.in_len - 1 < sizeof(id) ? r->elem.in_len - 1 : sizeof(id));
	return VIRTIO_BLK_S_OK;
}

/* Decodes one request; returns a status to complete it at once, or -1 when the disk
 * took it. */
static int start(struct vblk *b, struct blk_req *r)
{
	uint8_t hdr[16];
	uint32_t type;
	uint64_t sector;

	if (virtq_copy_from_out(&r->elem, 0, hdr, sizeof(hdr)) != sizeof(hdr))
		return VIRTIO_BLK_S_IOERR;
	memcpy(&type, hdr, 4);
	memcpy(&sector, hdr + 8, 8);
	type = le32toh(type);
	sector = le64toh(sector);
	r->written = 0;
	r->bytes = 0;
	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return rw(b, r, type == VIRTIO_BLK_T_OUT, sector);
	case VIRTIO_BLK_T_FLUSH:
		r->dr = (struct disk_req){.op = DISK_OP_FLUSH};
		return -1;
	case VIRTIO_BLK_T_GET_ID:
		return get_id(b, r);
	case VIRTIO_BLK_T_DISCARD:
		return zero(b, r, true);
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return zero(b, r, false);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

static bool has_slot(const struct vblk *b)
{
	return b->free || b->fresh < BLK_QUEUE_SIZE;
}

/* Takes one request off the queue into a free slot. Returns 1 with *out set, 0 when the
 * queue is empty, or a negative errno for a malformed chain (the slot stays free). */
static int take(struct vblk *b, struct virtq *q, struct blk_req **out)
{
	struct blk_req *req = b->free ? b->free : &b->reqs[b->fresh];
	struct iovec *last;
	int r;

	req->elem = (struct virtq_elem){.cap = BLK_IOV_MAX, .iov = req->iov};
	r = virtq_pop(q, b->vdev.mem, &req->elem);
	if (r <= 0)
		return r;
	if (!req->elem.n_in)
		return -ENOBUFS; /* no writable byte for the status */
	last = &req->elem.iov[req->elem.n_out + req->elem.n_in - 1];
	if (!last->iov_len)
		return -ENOBUFS;
	req->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	if (req == b->free) {
		b->free = req->next_free;
	} else {
		req->blk = b;
		b->fresh++;
	}
	*out = req;
	return 1;
}

/* Whether the limiter lets request `req` (bound for the disk) through now. If not, the
 * request goes back to the ring and to the free list, and the queue waits for the timer.
 * Device lock held, I/O thread. */
static bool admit(struct vblk *b, struct virtq *q, struct blk_req *req)
{
	uint64_t now, retry;

	if (!b->rl_timer)
		return true;
	now = evloop_now_ns();
	if (ratelimiter_consume(&b->rl, req->bytes, now, &retry))
		return true;
	virtq_unpop(q);
	req->next_free = b->free;
	b->free = req;
	b->throttled = true;
	evloop_timer_arm(b->rl_timer, retry > now ? retry : now + 1);
	return false;
}

static void blk_queue_notify(struct virtio_dev *d, unsigned qi)
{
	struct vblk *b = container_of(d, struct vblk, vdev);
	struct blk_req *req;
	bool batching = b->batching;
	int r = 0;

	b->batching = true;
	/* Everything taken now goes to the host in one io_uring submission. */
	if (b->disk)
		disk_plug(b->disk);
	/* While throttled, notifications change nothing: the timer runs the queue. */
	while (has_slot(b) && !b->paused && !b->throttled && (r = take(b, &d->vq[qi], &req)) > 0) {
		int st = start(b, req);

		if (st < 0 && !admit(b, &d->vq[qi], req))
			break;
		if (st < 0) {
			req->gen = b->gen;
			req->dr.done = req_done;
			/* (no disk: a snapshot could not reopen it, see vblk_switch_overlay) */
			if (b->disk && disk_submit(b->disk, &req->dr) == 0) {
				b->inflight++;
				continue;
			}
			st = VIRTIO_BLK_S_IOERR;
		}
		finish(b, req, (uint8_t)st);
	}
	if (b->disk)
		disk_unplug(b->disk);
	b->batching = batching;
	if (!batching)
		blk_publish(b);
	if (r < 0)
		virtio_dev_fail(d, "malformed request (%s)",
				r == -E2BIG	? "more segments than seg_max"
				: r == -ENOBUFS ? "no status byte"
						: "bad descriptors");
}

static void on_disk_event(void *opaque, int fd, unsigned revents)
{
	struct vblk *b = opaque;

	(void)fd;
	(void)revents;
	/* Everything that completed now reaches the guest with one used-index update. */
	pthread_mutex_lock(&b->vdev.lock);
	b->batching = true;
	pthread_mutex_unlock(&b->vdev.lock);
	disk_complete(b->disk); /* reads the eventfd; callbacks take the device lock */
	pthread_mutex_lock(&b->vdev.lock);
	/* Requests the guest queued while every slot was busy. */
	if (has_slot(b) && virtio_dev_running(&b->vdev) && virtq_has_avail(&b->vdev.vq[0]))
		blk_queue_notify(&b->vdev, 0);
	b->batching = false;
	blk_publish(b);
	pthread_mutex_unlock(&b->vdev.lock);
}

/* The limiter has tokens again: run what the guest queued meanwhile. */
static void on_rl_timer(void *opaque)
{
	struct vblk *b = opaque;

	pthread_mutex_lock(&b->vdev.lock);
	b->throttled = false;
	if (has_slot(b) && virtio_dev_running(&b->vdev) && b->vdev.vq[0].ready &&
	    virtq_has_avail(&b->vdev.vq[0]))
		blk_queue_notify(&b->vdev, 0);
	pthread_mutex_unlock(&b->vdev.lock);
}

static void blk_vreset(struct virtio_dev *d)
{
	struct vblk *b = container_of(d, struct vblk, vdev);

	b->gen++; /* requests still at the disk complete into nothing */
	b->used_pending = 0;
}

static const struct virtio_dev_ops blk_vops = {
	.device_id = VIRTIO_ID_BLOCK,
	.config_read = blk_config_read,
	.queue_notify = blk_queue_notify,
	.reset = blk_vreset,
};

static struct vblk *to_blk(struct device *dev)
{
	return container_of(dev, struct vblk, dev);
}

static void blk_reset(struct device *dev)
{
	virtio_dev_reset(&to_blk(dev)->vdev);
}

static int blk_save(struct device *dev, struct sbuf *out)
{
	struct vblk *b = to_blk(dev);

	sbuf_put_u32(out, SAVE_VERSION);
	sbuf_put_u64(out, b->capacity);
	return virtio_dev_save(&b->vdev, out);
}

static int blk_load(struct device *dev, struct sreader *in)
{
	struct vblk *b = to_blk(dev);

	int r;

	if (sread_u32(in) != SAVE_VERSION)
		return -EINVAL; /* another format */
	if (sread_u64(in) != b->capacity)
		return in->err ? -EINVAL : -EMEDIUMTYPE; /* another disk size */
	r = virtio_dev_load(&b->vdev, in);
	if (!r)
		virtio_dev_kick_all(&b->vdev); /* requests made available while quiesced */
	return r;
}

static void count_inflight(void *opaque)
{
	struct vblk *b = opaque;

	pthread_mutex_lock(&b->vdev.lock);
	b->quiesce_seen = b->inflight;
	pthread_mutex_unlock(&b->vdev.lock);
}

/* Stops taking requests and waits until the disk finished every one in flight. */
static void blk_quiesce(struct device *dev)
{
	struct vblk *b = to_blk(dev);

	pthread_mutex_lock(&b->vdev.lock);
	b->paused = true;
	pthread_mutex_unlock(&b->vdev.lock);
	for (;;) {
		evloop_call(b->vdev.loop, count_inflight, b);
		if (!b->quiesce_seen)
			break;
		usleep(1000);
	}
}

static void blk_resume(struct device *dev)
{
	struct vblk *b = to_blk(dev);

	pthread_mutex_lock(&b->vdev.lock);
	b->paused = false;
	pthread_mutex_unlock(&b->vdev.lock);
	virtio_dev_kick(&b->vdev, 0); /* requests that arrived meanwhile */
}

static int blk_fdt(struct device *dev, void *fdt, const struct board *bd)
{
	return virtio_dev_fdt(&to_blk(dev)->vdev, fdt, bd);
}

static void blk_destroy(struct device *dev)
{
	struct vblk *b = to_blk(dev);

	if (b->watch)
		evloop_watch_del(b->watch);
	evloop_timer_del(b->rl_timer);
	disk_close(b->disk); /* waits for requests in flight; their callbacks still run */
	virtio_dev_fini(&b->vdev);
	for (unsigned i = 0; i < b->fresh; i++)
		core_free(b->reqs[i].data);
	core_free(b->path);
	core_free(b);
}

static const struct device_ops blk_ops = {
	.reset = blk_reset,
	.save = blk_save,
	.load = blk_load,
	.quiesce = blk_quiesce,
	.resume = blk_resume,
	.fdt = blk_fdt,
	.destroy = blk_destroy,
};

/* What --disk says. */
struct blk_args {
	const char *path, *serial;
	struct disk_options opt;
	struct ratelimiter_cfg rl;
};

/* bps=, iops=, burst=, iops_burst=: a burst needs the rate it is added to. */
static int parse_limits(struct keyval *a, struct ratelimiter_cfg *rl, char *err, size_t errlen)
{
	int r = keyval_get_count(a, "bps", "--disk", &rl->bytes, err, errlen);

	r = r ?: keyval_get_count(a, "iops", "--disk", &rl->ops, err, errlen);
	r = r ?: keyval_get_count(a, "burst", "--disk", &rl->bytes_burst, err, errlen);
	r = r ?: keyval_get_count(a, "iops_burst", "--disk", &rl->ops_burst, err, errlen);
	if (!r && ((rl->bytes_burst && !rl->bytes) || (rl->ops_burst && !rl->ops))) {
		snprintf(err, errlen, "--disk: %s without %s: a burst is on top of a rate",
			 rl->bytes_burst && !rl->bytes ? "burst=" : "iops_burst=",
			 rl->bytes_burst && !rl->bytes ? "bps=" : "iops=");
		r = -EINVAL;
	}
	return r;
}

/* The keys --disk takes. */
static const char *const blk_keys[] = {"path", "format", "readonly", "serial",
				       "bps",  "iops",	 "burst",    "iops_burst"};

static bool is_blk_key(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(blk_keys); i++)
		if (!strcmp(key, blk_keys[i]))
			return true;
	return false;
}

/* The image's path: the leading bare item or path=, once. */
static int parse_path(struct keyval *a, const char **path, char *err, size_t errlen)
{
	const char *bare = keyval_get(a, "", 0), *key = keyval_get(a, "path", 0);

	*path = bare ? bare : key;
	if (bare && key) {
		snprintf(err, errlen,
			 "--disk: two images given, '%s' and path=%s: give one per --disk", bare,
			 key);
		return -EINVAL;
	}
	if (a->n && *a->kv[0].key && !is_blk_key(a->kv[0].key)) {
		/* "x=y.img": a path with '=' in it reads as an option */
		snprintf(err, errlen,
			 "--disk: '%s=%s' reads as an option %s=, which --disk does not have: "
			 "give a path with '=' in it as path=%s=%s",
			 a->kv[0].key, a->kv[0].val, a->kv[0].key, a->kv[0].key, a->kv[0].val);
		return -EINVAL;
	}
	if (!*path || !**path) {
		snprintf(err, errlen,
			 "--disk: no image file given (use --disk PATH[,format=raw|qcow2]"
			 "[,readonly=on])");
		return -EINVAL;
	}
	if (bare && keyval_get(a, "", 1)) {
		/* "x,y.img": the options split at the path's ',' */
		const char *more = keyval_get(a, "", 1);
		bool next = a->n > 1 && !*a->kv[1].key;
		snprintf(err, errlen,
			 "--disk %s: unexpected '%s' after the image's path: options are "
			 "KEY=VALUE, and a ',' in a path is written twice (%s%s%s)",
			 *path, more, next ? *path : "a,,b.img", next ? ",," : "",
			 next ? more : "");
		return -EINVAL;
	}
	return 0;
}

static int parse_args(struct keyval *a, struct blk_args *ba, char *err, size_t errlen)
{
	const char *fmt = keyval_get(a, "format", 0);
	const char *ro = keyval_get(a, "readonly", 0);
	const char **path = &ba->path, **serial = &ba->serial;
	struct disk_options *opt = &ba->opt;
	int r = parse_path(a, path, err, errlen);

	if (r)
		return r;
	*serial = keyval_get(a, "serial", 0);
	if (fmt && disk_format_parse(fmt, &opt->format) < 0) {
		snprintf(err, errlen, "--disk %s: unknown format '%s' (use raw, qcow2 or auto)",
			 *path, fmt);
		return -EINVAL;
	}
	if (ro && strcmp(ro, "on") && strcmp(ro, "off")) {
		snprintf(err, errlen, "--disk %s: readonly='%s': use on or off", *path, ro);
		return -EINVAL;
	}
	opt->readonly = ro && !strcmp(ro, "on");
	if (*serial && strlen(*serial) > BLK_ID_BYTES) {
		snprintf(err, errlen, "--disk %s: serial '%s' is longer than %d characters", *path,
			 *serial, BLK_ID_BYTES);
		return -EINVAL;
	}
	r = parse_limits(a, &ba->rl, err, errlen);
	return r ?: keyval_check_unused(a, "--disk", err, errlen);
}

int vblk_split_spec(const char *spec, struct vblk_spec *out, char *err, size_t errlen)
{
	struct keyval a;
	struct blk_args ba = {.opt = {.format = DISK_FMT_AUTO}};
	size_t n = 0;
	int r = keyval_parse(&a, spec, err, errlen);

	if (r < 0)
		return r;
	r = parse_args(&a, &ba, err, errlen);
	if (!r && snprintf(out->path, sizeof(out->path), "%s", ba.path) >= (int)sizeof(out->path)) {
		snprintf(err, errlen, "--disk: the image's path is longer than %zu bytes",
			 sizeof(out->path) - 1);
		r = -ENAMETOOLONG;
	}
	out->opts[0] = 0;
	for (unsigned i = 0; !r && i < a.n; i++) {
		const char *key = a.kv[i].key;
		if (!*key || !strcmp(key, "path"))
			continue;
		char val[sizeof(out->opts)];
		if (keyval_escape(val, sizeof(val), a.kv[i].val) >= sizeof(val) ||
		    (n += (size_t)snprintf(out->opts + n, sizeof(out->opts) - n, ",%s=%s", key,
					   val)) >= sizeof(out->opts)) {
			snprintf(err, errlen, "--disk %s: its options are longer than %zu bytes",
				 ba.path, sizeof(out->opts) - 1);
			r = -E2BIG;
		}
	}
	out->readonly = ba.opt.readonly;
	out->format = ba.opt.format != DISK_FMT_AUTO;
	out->qcow2 = ba.opt.format == DISK_FMT_QCOW2;
	out->bps = keyval_get(&a, "bps", 0) != NULL; /* given, 0 too (a second bps= is refused) */
	out->iops = keyval_get(&a, "iops", 0) != NULL;
	keyval_fini(&a);
	return r;
}

/* `path` (stat st) is an earlier disk's image or one of its backing files: says so. */
static bool same_as_earlier(const struct board *bd, const char *path, const struct stat *st,
			    char *err, size_t errlen)
{
	struct stat o;

	for (const struct device *dev = *bd->devices; dev; dev = dev->next) {
		const struct vblk *e = container_of(dev, struct vblk, dev);
		if (dev->ops != &blk_ops)
			continue;
		for (unsigned depth = 0;; depth++) {
			struct disk_image_info info = {.path = e->path};
			if (e->disk ? disk_image_info(e->disk, depth, &info) != 0 : depth > 0)
				break;
			if (stat(info.path, &o) || o.st_dev != st->st_dev || o.st_ino != st->st_ino)
				continue;
			if (depth == 0)
				snprintf(err, errlen,
					 "--disk %s: the same image as the earlier --disk %s: give "
					 "each image once (or readonly=on to both)",
					 path, e->path);
			else
				snprintf(err, errlen,
					 "--disk %s: the backing file of the earlier --disk %s, "
					 "which must not change under it: give it readonly=on, or "
					 "leave it out",
					 path, e->path);
			return true;
		}
	}
	return false;
}

/* The earlier writable disk whose image is the file `st`, or NULL. */
static const struct vblk *earlier_writable(const struct board *bd, const struct stat *st)
{
	struct stat o;

	for (const struct device *dev = *bd->devices; dev; dev = dev->next) {
		const struct vblk *e = container_of(dev, struct vblk, dev);
		if (dev->ops == &blk_ops && !e->readonly && !stat(e->path, &o) &&
		    o.st_dev == st->st_dev && o.st_ino == st->st_ino)
			return e;
	}
	return NULL;
}

/* `path` is an overlay one of whose backing files (at any depth) is an earlier disk the
 * guest may write: says so. The chain is read without locks, only to find its files. */
static bool backs_onto_earlier(const struct board *bd, const char *path, enum disk_format fmt,
			       char *err, size_t errlen)
{
	struct disk_options opt = {
		.format = fmt, .readonly = true, .no_locks = true, .backing_check = bd->disk_check};
	struct disk_image_info info;
	struct disk *d;
	struct stat st;
	bool found = false;

	if (disk_open(path, &opt, &d, NULL, 0))
		return false;
	for (unsigned depth = 1; !found && !disk_image_info(d, depth, &info); depth++) {
		const struct vblk *e = stat(info.path, &st) ? NULL : earlier_writable(bd, &st);
		if (!e)
			continue;
		snprintf(err, errlen,
			 "--disk %s: its backing file %s%s is the earlier writable --disk %s: a "
			 "guest write there would corrupt this overlay (give only the overlay, "
			 "which shows the base, or give the base readonly=on)",
			 path, info.path, depth > 1 ? " (deeper in its chain)" : "", e->path);
		found = true;
	}
	disk_close(d);
	return found;
}

/* After `path` was refused as in use: when an earlier disk of this machine is what holds
 * it (the same image given twice, one's backing file, or an overlay of a writable earlier
 * disk), says so in err. */
static bool held_by_earlier_disk(const struct board *bd, const char *path, enum disk_format fmt,
				 char *err, size_t errlen)
{
	struct stat st;

	if (!bd->devices || stat(path, &st))
		return false;
	return same_as_earlier(bd, path, &st, err, errlen) ||
	       backs_onto_earlier(bd, path, fmt, err, errlen);
}

/* Opens the image (unless the board defers it: vblk_attach); *rl gets the limits asked
 * for. */
static int open_disk(struct vblk *b, const char *args, const struct board *bd,
		     struct ratelimiter_cfg *rl, char *err, size_t errlen)
{
	struct keyval a;
	struct blk_args ba = {.opt = {.format = DISK_FMT_AUTO}};
	const char *base;
	char derr[DISK_ERR_LEN];
	int r = keyval_parse(&a, args, err, errlen);

	if (r < 0)
		return r;
	r = parse_args(&a, &ba, err, errlen);
	ba.opt.backing_check = bd->disk_check;
	if (!r && !(b->path = core_alloc(strlen(ba.path) + 1)))
		r = -ENOMEM;
	if (!r) {
		strcpy(b->path, ba.path);
		b->format = ba.opt.format;
	}
	if (!r && !(bd->defer_disks && !ba.opt.readonly)) {
		r = disk_open(ba.path, &ba.opt, &b->disk, derr, sizeof(derr));
		if (r < 0 &&
		    !(r == -EBUSY && held_by_earlier_disk(bd, ba.path, ba.opt.format, err, errlen)))
			snprintf(err, errlen, "--disk: %s", derr);
	}
	if (!r) {
		base = strrchr(ba.path, '/') ? strrchr(ba.path, '/') + 1 : ba.path;
		snprintf(b->serial, sizeof(b->serial), "%.20s", ba.serial ? ba.serial : base);
		snprintf(b->dev.name, sizeof(b->dev.name), "virtio-blk %.20s", base);
		b->readonly = ba.opt.readonly;
		*rl = ba.rl;
	}
	keyval_fini(&a);
	return r;
}

static int blk_create(struct board *bd, const char *args, struct device **out, char *err,
		      size_t errlen)
{
	struct vblk *b = core_calloc(1, sizeof(*b));
	struct ratelimiter_cfg rl = {0};
	uint64_t features = 1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_SEG_MAX |
			    1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH;
	int r;

	if (!b)
		return -ENOMEM;
	b->bd = bd;
	r = open_disk(b, args, bd, &rl, err, errlen);
	if (r < 0)
		goto err_free;
	b->capacity = b->disk ? disk_size(b->disk) / SECTOR : 0; /* deferred: at attach */
	if (b->readonly)
		features |= 1ull << VIRTIO_BLK_F_RO;
	else
		features |= 1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	r = virtio_dev_init(&b->vdev, &blk_vops, b->dev.name, bd, features, 1, BLK_QUEUE_SIZE,
			    BLK_CONFIG_SIZE);
	if (r < 0)
		goto err_close;
	if (b->disk)
		r = evloop_watch_add(bd->loop, disk_event_fd(b->disk), POLLIN, on_disk_event, b,
				     &b->watch);
	if (r < 0)
		goto err_fini;
	ratelimiter_init_cfg(&b->rl, &rl, evloop_now_ns());
	if (ratelimiter_active(&b->rl)) {
		r = evloop_timer_add(bd->loop, on_rl_timer, b, &b->rl_timer);
		if (r < 0)
			goto err_unwatch;
	}
	b->dev.ops = &blk_ops;
	*out = &b->dev;
	return 0;

err_unwatch:
	evloop_watch_del(b->watch);
err_fini:
	virtio_dev_fini(&b->vdev);
err_close:
	disk_close(b->disk);
err_free:
	core_free(b->path);
	core_free(b);
	return r;
}

bool vblk_is_blk(const struct device *dev, bool *readonly_out)
{
	if (dev->ops != &blk_ops)
		return false;
	*readonly_out = container_of(dev, struct vblk, dev)->readonly;
	return true;
}

struct disk *vblk_disk(struct device *dev)
{
	return dev->ops == &blk_ops ? container_of(dev, struct vblk, dev)->disk : NULL;
}

bool vblk_io_bytes(const struct device *dev, uint64_t *read_out, uint64_t *written_out)
{
	const struct vblk *b;

	if (dev->ops != &blk_ops)
		return false;
	b = container_of(dev, const struct vblk, dev);
	*read_out = __atomic_load_n(&b->read_bytes, __ATOMIC_RELAXED);
	*written_out = __atomic_load_n(&b->written_bytes, __ATOMIC_RELAXED);
	return true;
}

static int reopen(struct vblk *b, const char *path, enum disk_format fmt, char *err, size_t errlen)
{
	struct disk_options opt = {.format = fmt,
				   .backing_check = b->bd ? b->bd->disk_check : NULL};
	int r = disk_open(path, &opt, &b->disk, err, errlen);

	if (r)
		return r;
	r = evloop_watch_add(b->vdev.loop, disk_event_fd(b->disk), POLLIN, on_disk_event, b,
			     &b->watch);
	if (r) {
		disk_close(b->disk);
		b->disk = NULL;
	}
	return r;
}

int vblk_switch_overlay(struct device *dev, const char *overlay, const char *backing,
			const char *backing_format, char *err, size_t errlen)
{
	struct vblk *b = container_of(dev, struct vblk, dev);
	enum disk_format bf = DISK_FMT_AUTO;
	struct disk_create_options co = {.format = DISK_FMT_QCOW2, .backing = backing};
	char derr[DISK_ERR_LEN], rerr[DISK_ERR_LEN];
	bool made;
	int r;

	if (backing_format && disk_format_parse(backing_format, &bf) < 0)
		return -EINVAL;
	co.backing_format = bf;
	/* The image is locked for writing while open: close it before naming it as a
	 * backing file (which opens it read-only). */
	evloop_watch_del(b->watch);
	b->watch = NULL;
	disk_close(b->disk);
	b->disk = NULL;
	r = disk_create(overlay, &co, derr, sizeof(derr));
	made = !r; /* (a file that was there already is not ours to remove) */
	r = r ?: reopen(b, overlay, DISK_FMT_QCOW2, derr, sizeof(derr));
	if (!r) {
		char *p = core_alloc(strlen(overlay) + 1);
		if (p) { /* else vblk_attach would open the image below the overlay */
			core_free(b->path);
			b->path = strcpy(p, overlay);
			b->format = DISK_FMT_QCOW2;
			return 0;
		}
		vblk_release(dev);
		r = -ENOMEM;
		snprintf(derr, sizeof(derr), "%s", strerror(ENOMEM));
	}
	snprintf(err, errlen, "%s: cannot move the disk onto an overlay: %s", dev->name, derr);
	if (reopen(b, backing, bf, rerr, sizeof(rerr))) {
		/* The image cannot be opened again: fail every request from now on. */
		log_err("%s: %s", dev->name, rerr);
		pthread_mutex_lock(&b->vdev.lock);
		virtio_dev_fail(&b->vdev, "the disk image could not be reopened");
		pthread_mutex_unlock(&b->vdev.lock);
	}
	if (made)
		unlink(overlay);
	return r;
}

int vblk_switch_image(struct device *dev, const char *path, const char *format, char *err,
		      size_t errlen)
{
	struct vblk *b = container_of(dev, struct vblk, dev);
	enum disk_format f = DISK_FMT_AUTO, old_format = b->format;
	char *p, *old = b->path, rerr[DISK_ERR_LEN];
	int r;

	if (format && disk_format_parse(format, &f) < 0)
		return -EINVAL;
	p = core_alloc(strlen(path) + 1);
	if (!p)
		return -ENOMEM;
	vblk_release(dev);
	b->path = strcpy(p, path);
	b->format = f;
	r = vblk_attach(dev, err, errlen);
	if (!r) {
		core_free(old);
		return 0;
	}
	b->path = old;
	b->format = old_format;
	core_free(p);
	if (vblk_attach(dev, rerr, sizeof(rerr))) {
		/* Neither opens: fail every request from now on. */
		log_err("%s", rerr);
		pthread_mutex_lock(&b->vdev.lock);
		virtio_dev_fail(&b->vdev, "the disk image could not be reopened");
		pthread_mutex_unlock(&b->vdev.lock);
	}
	return r;
}

void vblk_release(struct device *dev)
{
	struct vblk *b = container_of(dev, struct vblk, dev);

	if (!b->disk)
		return;
	evloop_watch_del(b->watch);
	b->watch = NULL;
	disk_close(b->disk); /* metadata written and synced, locks released */
	b->disk = NULL;
}

int vblk_attach(struct device *dev, char *err, size_t errlen)
{
	struct vblk *b = container_of(dev, struct vblk, dev);
	char derr[DISK_ERR_LEN];
	int r;

	if (b->disk)
		return 0;
	r = reopen(b, b->path, b->format, derr, sizeof(derr));
	if (r) {
		snprintf(err, errlen, "%s: %s", dev->name, derr);
		return r;
	}
	if (b->capacity && disk_size(b->disk) / SECTOR != b->capacity) {
		snprintf(err, errlen, "%s: %s is now %llu bytes, not %llu as before", dev->name,
			 b->path, (unsigned long long)disk_size(b->disk),
			 (unsigned long long)b->capacity * SECTOR);
		vblk_release(dev);
		return -EINVAL;
	}
	b->capacity = disk_size(b->disk) / SECTOR;
	return 0;
}

int vblk_read(struct device *dev, void *buf, size_t len, uint64_t off)
{
	struct vblk *b = container_of(dev, struct vblk, dev);
	int r;

	if (!b->disk)
		return -EBADF;
	r = disk_pread(b->disk, buf, len, off);
	/* disk_pread ran the device's completions too, which the event fd no longer
	 * reports: run what the guest queued while every slot was busy, as on_disk_event
	 * does. */
	pthread_mutex_lock(&b->vdev.lock);
	if (has_slot(b) && !b->paused && virtio_dev_running(&b->vdev) && b->vdev.vq[0].ready &&
	    virtq_has_avail(&b->vdev.vq[0]))
		blk_queue_notify(&b->vdev, 0);
	pthread_mutex_unlock(&b->vdev.lock);
	return r;
}

const char *vblk_path(const struct device *dev)
{
	return container_of(dev, struct vblk, dev)->path;
}

/* The image is the host file --disk names (its qcow2 backing files are the image's). */
static int blk_host_names(const char *args, device_host_fn fn, void *ctx, char *err, size_t errlen)
{
	struct keyval a;
	const char *path;
	int r = keyval_parse(&a, args, err, errlen);

	if (r < 0)
		return r;
	r = parse_path(&a, &path, err, errlen);
	r = r ?: fn(ctx, DEVICE_HOST_FILE, "path", path);
	keyval_fini(&a);
	return r;
}

static const struct device_type blk_type = {
	.name = "virtio-blk",
	.option = "disk",
	.usage = "PATH[,format=raw|qcow2][,readonly=on][,serial=ID][,bps=N][,iops=N][,burst=N]"
		 "[,iops_burst=N]",
	.help = "a disk image (raw or qcow2; qcow2 backing files are opened read-only); bps= "
		"and iops= limit bytes and requests per second, burst= and iops_burst= allow "
		"that much more once. A ',' in PATH is written ',,'; a PATH with '=' in it "
		"is given as path=PATH; each image once (or readonly=on each time)",
	.order = 40,
	.create = blk_create,
	.host_names = blk_host_names,
};
DEVICE_TYPE(blk_type)
