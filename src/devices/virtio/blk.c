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
 * [,serial=ID]. Disks are numbered in command-line order (vda, vdb, ... in the guest).
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/evloop.h"
#include "core/gmem.h"
#include "core/log.h"
#include "core/sbuf.h"
#include "core/util.h"
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

#define BLK_QUEUE_SIZE	256
#define BLK_SEG_MAX	126 /* data segments per request (config seg_max) */
#define BLK_IOV_MAX	(BLK_SEG_MAX + 2)
#define BLK_SIZE_MAX	(1u << 20) /* bytes per segment (config size_max) */
#define BLK_ID_BYTES	20
#define BLK_MAX_DISCARD (1u << 22) /* sectors per discard/write-zeroes segment (2 GiB) */
#define BLK_CONFIG_SIZE 60
#define SECTOR		512u
#define SAVE_VERSION	1

struct blk_req {
	struct disk_req dr;
	struct vblk *blk;
	struct virtq_elem elem;
	struct iovec iov[BLK_IOV_MAX];	/* the chain as the guest gave it */
	struct iovec data[BLK_IOV_MAX]; /* the data part only */
	uint8_t *status;		/* the status byte, in guest RAM */
	uint32_t written;		/* bytes written to the guest on success */
	uint32_t gen;			/* blk->gen when it was submitted */
	struct blk_req *next_free;
};

struct vblk {
	struct device dev;
	struct virtio_dev vdev;
	struct disk *disk;
	struct evloop_watch *watch;
	char serial[BLK_ID_BYTES + 1];
	uint64_t capacity; /* sectors */
	bool readonly;
	uint32_t gen;	   /* bumped by a device reset: completions of older requests are dropped */
	unsigned inflight; /* requests submitted and not yet completed */
	bool paused;	   /* quiesced: take no new requests */
	unsigned quiesce_seen;
	struct blk_req *free;
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

/* Finishes a request: status byte, used ring, interrupt. Device lock held. */
static void finish(struct vblk *b, struct blk_req *r, uint8_t status)
{
	struct virtio_dev *d = &b->vdev;

	__atomic_store_n(r->status, status, __ATOMIC_RELAXED);
	virtq_push(&d->vq[0], d->mem, &r->elem, status == VIRTIO_BLK_S_OK ? r->written + 1 : 1);
	virtio_dev_notify_used(d, 0);
	r->next_free = b->free;
	b->free = r;
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
		finish(b, r, (uint8_t)(result < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK));
	}
	pthread_mutex_unlock(&b->vdev.lock);
}

/* Copies iovecs [first, first + n) of the element into r->data, skipping `skip` bytes
 * at the front and dropping `trim` bytes at the back. Returns the entries used. */
static unsigned slice(struct blk_req *r, unsigned first, unsigned n, size_t skip, size_t trim,
		      uint64_t *len_out)
{
	unsigned k = 0;
	uint64_t total = 0;

	for (unsigned i = first; i < first + n; i++)
		total += r->elem.iov[i].iov_len;
	if (skip + trim > total) {
		*len_out = 0;
		return 0;
	}
	total -= skip + trim;
	*len_out = total;
	for (unsigned i = first; i < first + n && total; i++) {
		struct iovec v = r->elem.iov[i];
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
	return k;
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
	uint64_t len;
	unsigned n;

	if (write)
		n = slice(r, 0, r->elem.n_out, 16, 0, &len);
	else
		n = slice(r, r->elem.n_out, r->elem.n_in, 0, 1, &len);
	if (write && b->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (!range_ok(b, sector, len))
		return VIRTIO_BLK_S_IOERR;
	if (!len)
		return VIRTIO_BLK_S_OK;
	r->written = write ? 0 : (uint32_t)len;
	r->dr = (struct disk_req){.op = write ? DISK_OP_WRITE : DISK_OP_READ,
				  .offset = sector * SECTOR,
				  .iov = r->data,
				  .iovcnt = n};
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

/* Takes one request off the queue into a free slot. Returns 1 with *out set, 0 when the
 * queue is empty, or a negative errno for a malformed chain (the slot stays free). */
static int take(struct vblk *b, struct virtq *q, struct blk_req **out)
{
	struct blk_req *req = b->free;
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
	b->free = req->next_free;
	*out = req;
	return 1;
}

static void blk_queue_notify(struct virtio_dev *d, unsigned qi)
{
	struct vblk *b = container_of(d, struct vblk, vdev);
	struct blk_req *req;
	int r = 0;

	while (b->free && !b->paused && (r = take(b, &d->vq[qi], &req)) > 0) {
		int st = start(b, req);

		if (st < 0) {
			req->gen = b->gen;
			req->dr.done = req_done;
			if (disk_submit(b->disk, &req->dr) == 0) {
				b->inflight++;
				continue;
			}
			st = VIRTIO_BLK_S_IOERR;
		}
		finish(b, req, (uint8_t)st);
	}
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
	disk_complete(b->disk); /* reads the eventfd; callbacks take the device lock */
	/* Requests the guest queued while every slot was busy. */
	pthread_mutex_lock(&b->vdev.lock);
	if (b->free && virtio_dev_running(&b->vdev) && virtq_has_avail(&b->vdev.vq[0]))
		blk_queue_notify(&b->vdev, 0);
	pthread_mutex_unlock(&b->vdev.lock);
}

static void blk_vreset(struct virtio_dev *d)
{
	struct vblk *b = container_of(d, struct vblk, vdev);

	b->gen++; /* requests still at the disk complete into nothing */
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

	if (sread_u32(in) != SAVE_VERSION || sread_u64(in) != b->capacity)
		return -EINVAL; /* another format, or another disk size */
	return virtio_dev_load(&b->vdev, in);
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

	evloop_watch_del(b->watch);
	disk_close(b->disk); /* waits for requests in flight; their callbacks still run */
	virtio_dev_fini(&b->vdev);
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

static int parse_args(struct device_args *a, const char **path, struct disk_options *opt,
		      const char **serial, char *err, size_t errlen)
{
	const char *fmt = device_args_get(a, "format", 0);
	const char *ro = device_args_get(a, "readonly", 0);

	*path = device_args_get(a, "", 0);
	if (!*path)
		*path = device_args_get(a, "path", 0);
	*serial = device_args_get(a, "serial", 0);
	if (!*path || !**path) {
		snprintf(err, errlen,
			 "--disk: no image file given (use --disk PATH[,format=raw|qcow2]"
			 "[,readonly=on])");
		return -EINVAL;
	}
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
	return device_args_check_unused(a, "--disk", err, errlen);
}

static int open_disk(struct vblk *b, const char *args, char *err, size_t errlen)
{
	struct device_args a;
	struct disk_options opt = {.format = DISK_FMT_AUTO};
	const char *path, *serial, *base;
	char derr[DISK_ERR_LEN];
	int r = device_args_parse(&a, args, err, errlen);

	if (r < 0)
		return r;
	r = parse_args(&a, &path, &opt, &serial, err, errlen);
	if (!r) {
		r = disk_open(path, &opt, &b->disk, derr, sizeof(derr));
		if (r < 0)
			snprintf(err, errlen, "--disk: %s", derr);
	}
	if (!r) {
		base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		snprintf(b->serial, sizeof(b->serial), "%.20s", serial ? serial : base);
		snprintf(b->dev.name, sizeof(b->dev.name), "virtio-blk %.20s", base);
		b->readonly = opt.readonly;
	}
	device_args_fini(&a);
	return r;
}

static int blk_create(struct board *bd, const char *args, struct device **out, char *err,
		      size_t errlen)
{
	struct vblk *b = core_calloc(1, sizeof(*b));
	uint64_t features = 1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_SEG_MAX |
			    1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH;
	int r;

	if (!b)
		return -ENOMEM;
	r = open_disk(b, args, err, errlen);
	if (r < 0)
		goto err_free;
	b->capacity = disk_size(b->disk) / SECTOR;
	if (b->readonly)
		features |= 1ull << VIRTIO_BLK_F_RO;
	else
		features |= 1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	r = virtio_dev_init(&b->vdev, &blk_vops, b->dev.name, bd, features, 1, BLK_QUEUE_SIZE,
			    BLK_CONFIG_SIZE);
	if (r < 0)
		goto err_close;
	for (unsigned i = 0; i < BLK_QUEUE_SIZE; i++) {
		b->reqs[i].blk = b;
		b->reqs[i].next_free = b->free;
		b->free = &b->reqs[i];
	}
	r = evloop_watch_add(bd->loop, disk_event_fd(b->disk), POLLIN, on_disk_event, b, &b->watch);
	if (r < 0)
		goto err_fini;
	b->dev.ops = &blk_ops;
	*out = &b->dev;
	return 0;

err_fini:
	virtio_dev_fini(&b->vdev);
err_close:
	disk_close(b->disk);
err_free:
	core_free(b);
	return r;
}

static const struct device_type blk_type = {
	.name = "virtio-blk",
	.option = "disk",
	.usage = "PATH[,format=raw|qcow2][,readonly=on][,serial=ID]",
	.help = "a disk image (raw or qcow2; qcow2 backing files are opened read-only)",
	.order = 40,
	.create = blk_create,
};
DEVICE_TYPE(blk_type)
