/*
 * virtio-balloon (virtio 1.2, 5.5). Queues: inflateq (0), deflateq (1), then statsq if
 * VIRTIO_BALLOON_F_STATS_VQ was negotiated, then reporting_vq if
 * VIRTIO_BALLOON_F_PAGE_REPORTING was: absent queues take no index, as the Linux driver
 * and QEMU number them (the spec's table lists fixed indexes 2, 3, 4 and says absent
 * queues do not exist); a driver that uses the table's index 4 for reporting_vq is served
 * too. FREE_PAGE_HINT and PAGE_POISON are not offered.
 *
 * Guest RAM is private anonymous memory, so madvise(MADV_DONTNEED) on a page gives its
 * host memory back at once and the page reads as zeroes afterwards; every such page is
 * reported written (gmem_written) so that code decoded from it is dropped. Every PFN
 * and reported range is checked to lie in RAM; PFNs outside it are skipped.
 *
 * Statistics: the driver lends the device one buffer; the device keeps it until it wants
 * fresh numbers (vballoon_stats(), or every stats_interval_s), and returns it then.
 * Queue work runs on the I/O thread under the transport lock, like every virtio device.
 */
#include "devices/virtio/balloon.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/alloc.h"
#include "core/evloop.h"
#include "core/gmem.h"
#include "core/keyval.h"
#include "core/log.h"
#include "core/sbuf.h"
#include "core/util.h"
#include "devices/device.h"
#include "devices/virtio/virtio.h"

#define BALLOON_NQUEUES	   5u
#define BALLOON_QUEUE_SIZE 128u
#define BALLOON_MAX_IOV	   128u
#define BALLOON_MAX_PFNS   16384u /* per inflate/deflate request (Linux sends 256) */
#define BALLOON_MAX_STATS  256u
#define BALLOON_CONFIG	   16u
#define STAT_SIZE	   10u /* le16 tag, le64 value, packed */
#define SAVE_VERSION	   1u

enum role { ROLE_NONE, ROLE_INFLATE, ROLE_DEFLATE, ROLE_STATS, ROLE_REPORT };

struct vballoon {
	struct device dev;
	struct virtio_dev vdev;
	uint32_t num_pages; /* target, set by the host */
	uint32_t actual;    /* written by the guest */
	uint32_t ram_pages;
	struct vballoon_stats stats;
	bool stats_held; /* the driver's statistics buffer is ours until we ask again */
	uint16_t stats_head;
	uint32_t stats_gen; /* the queue's generation when the buffer was taken (virtq.h) */
	unsigned stats_interval_s;
	struct evloop_timer *stats_timer;
	bool warned;
	struct iovec iov[BALLOON_MAX_IOV];
};

static struct vballoon *to_vb(struct virtio_dev *d)
{
	return container_of(d, struct vballoon, vdev);
}

static enum role queue_role(const struct virtio_dev *d, unsigned q)
{
	unsigned next = 2;

	if (q == 0)
		return ROLE_INFLATE;
	if (q == 1)
		return ROLE_DEFLATE;
	if (virtio_has_feature(d, VBALLOON_F_STATS_VQ)) {
		if (q == next)
			return ROLE_STATS;
		next++;
	}
	if (virtio_has_feature(d, VBALLOON_F_PAGE_REPORTING) && (q == next || q == 4))
		return ROLE_REPORT;
	return ROLE_NONE;
}

static unsigned stats_queue(const struct virtio_dev *d)
{
	return virtio_has_feature(d, VBALLOON_F_STATS_VQ) ? 2 : BALLOON_NQUEUES;
}

/* Frees the host memory behind [host, host + len) (page aligned, inside RAM). */
static void discard(struct vballoon *vb, uint8_t *host, uint64_t len)
{
	if (!len)
		return;
	if (madvise(host, len, MADV_DONTNEED) < 0 && !vb->warned) {
		log_warn("%s: madvise(MADV_DONTNEED) failed: %s", vb->vdev.name, strerror(errno));
		vb->warned = true;
	}
	gmem_written_host(vb->vdev.mem, host, len);
}

/* Inflate: every PFN in the request gives its page back; runs of consecutive pages are
 * freed with one call. */
static void inflate(struct vballoon *vb, const struct virtq_elem *e)
{
	struct gmem *m = vb->vdev.mem;
	uint64_t n = e->out_len / 4, skipped = 0, run_len = 0;
	uint8_t *run = NULL;

	for (uint64_t i = 0; i < n; i++) {
		uint8_t raw[4];
		uint32_t pfn;
		uint8_t *host;

		virtq_copy_from_out(e, (size_t)(4 * i), raw, 4);
		pfn = (uint32_t)raw[0] | (uint32_t)raw[1] << 8 | (uint32_t)raw[2] << 16 |
		      (uint32_t)raw[3] << 24;
		host = gmem_ptr(m, (uint64_t)pfn << 12, VBALLOON_PAGE_SIZE);
		if (!host) {
			skipped++;
			continue;
		}
		if (run && host == run + run_len) {
			run_len += VBALLOON_PAGE_SIZE;
			continue;
		}
		if (run)
			discard(vb, run, run_len);
		run = host;
		run_len = VBALLOON_PAGE_SIZE;
	}
	if (run)
		discard(vb, run, run_len);
	if (skipped && !vb->warned) {
		virtio_dev_warn(&vb->vdev,
				"inflate: %" PRIu64 " page numbers outside guest RAM skipped",
				skipped);
		vb->warned = true;
	}
}

/* Free page reporting: each buffer is a range of free guest pages. */
static void report(struct vballoon *vb, const struct virtq_elem *e)
{
	for (unsigned i = 0; i < e->n_out + e->n_in; i++) {
		uintptr_t a = (uintptr_t)e->iov[i].iov_base, end = a + e->iov[i].iov_len;
		uintptr_t lo = (a + VBALLOON_PAGE_SIZE - 1) & ~(uintptr_t)(VBALLOON_PAGE_SIZE - 1);
		uintptr_t hi = end & ~(uintptr_t)(VBALLOON_PAGE_SIZE - 1);

		/* Whole pages only (the walker checked the range lies in RAM). */
		if (a && lo < hi)
			discard(vb, (uint8_t *)lo, hi - lo);
	}
}

static void stats_in(struct vballoon *vb, const struct virtq_elem *e)
{
	uint64_t n = e->out_len / STAT_SIZE;

	if (n > BALLOON_MAX_STATS)
		n = BALLOON_MAX_STATS;
	for (uint64_t i = 0; i < n; i++) {
		uint8_t raw[STAT_SIZE];
		uint16_t tag;
		uint64_t val = 0;

		virtq_copy_from_out(e, (size_t)(i * STAT_SIZE), raw, STAT_SIZE);
		tag = (uint16_t)(raw[0] | raw[1] << 8);
		for (unsigned b = 0; b < 8; b++)
			val |= (uint64_t)raw[2 + b] << (8 * b);
		if (tag < VBALLOON_S_NR) {
			vb->stats.val[tag] = val;
			vb->stats.valid |= 1u << tag;
		}
	}
	vb->stats.updates++;
}

/* Lock held: gives the statistics buffer back, which asks the driver for new numbers. */
static void stats_request(struct vballoon *vb)
{
	struct virtio_dev *d = &vb->vdev;
	unsigned q = stats_queue(d);
	struct virtq_elem e = {.head = vb->stats_head, .gen = vb->stats_gen};

	if (!vb->stats_held || q >= BALLOON_NQUEUES || !virtio_dev_running(d))
		return;
	vb->stats_held = false;
	virtq_push(&d->vq[q], d->mem, &e, 0);
	virtio_dev_notify_used(d, q);
}

static void stats_timer_fn(void *opaque)
{
	struct vballoon *vb = opaque;

	pthread_mutex_lock(&vb->vdev.lock);
	stats_request(vb);
	pthread_mutex_unlock(&vb->vdev.lock);
}

static void balloon_queue_notify(struct virtio_dev *d, unsigned qi)
{
	struct vballoon *vb = to_vb(d);
	struct virtq *q = &d->vq[qi];
	enum role role = queue_role(d, qi);
	bool pushed = false;
	int r;

	if (role == ROLE_NONE) {
		/* A load looks at every queue: only a request on one not in use is wrong. */
		if (virtq_has_avail(q))
			virtio_dev_fail(d, "queue %u is not in use with the negotiated features",
					qi);
		return;
	}
	for (;;) {
		struct virtq_elem e = {.cap = BALLOON_MAX_IOV, .iov = vb->iov};

		r = virtq_pop(q, d->mem, &e);
		if (r <= 0)
			break;
		if ((role == ROLE_INFLATE || role == ROLE_DEFLATE) &&
		    e.out_len > 4ull * BALLOON_MAX_PFNS) {
			virtio_dev_fail(d, "queue %u: request of %" PRIu64 " bytes is too large",
					qi, e.out_len);
			return;
		}
		if (role == ROLE_INFLATE)
			inflate(vb, &e);
		else if (role == ROLE_REPORT)
			report(vb, &e);
		if (role == ROLE_STATS) {
			/* Keep it until we want fresh numbers; a second one returns the first. */
			stats_request(vb);
			stats_in(vb, &e);
			vb->stats_held = true;
			vb->stats_head = e.head;
			vb->stats_gen = e.gen;
			if (vb->stats_interval_s)
				evloop_timer_arm(vb->stats_timer,
						 evloop_now_ns() +
							 vb->stats_interval_s * 1000000000ull);
			continue;
		}
		virtq_push(q, d->mem, &e, 0);
		pushed = true;
	}
	if (r < 0)
		virtio_dev_fail(d, "queue %u: malformed descriptor chain", qi);
	if (pushed)
		virtio_dev_notify_used(d, qi);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void balloon_config_read(struct virtio_dev *d, uint32_t off, void *buf, unsigned len)
{
	struct vballoon *vb = to_vb(d);
	uint8_t cfg[BALLOON_CONFIG] = {0};

	put32(cfg, vb->num_pages);
	put32(cfg + 4, vb->actual);
	memcpy(buf, cfg + off, len); /* the transport checked off + len */
}

static void balloon_config_write(struct virtio_dev *d, uint32_t off, const void *buf, unsigned len)
{
	struct vballoon *vb = to_vb(d);
	uint8_t cfg[BALLOON_CONFIG] = {0};

	/* Only `actual` (bytes 4..7) is the driver's to write. */
	put32(cfg + 4, vb->actual);
	for (unsigned i = 0; i < len; i++)
		if (off + i >= 4 && off + i < 8)
			cfg[off + i] = ((const uint8_t *)buf)[i];
	vb->actual = (uint32_t)cfg[4] | (uint32_t)cfg[5] << 8 | (uint32_t)cfg[6] << 16 |
		     (uint32_t)cfg[7] << 24;
}

static void balloon_vreset(struct virtio_dev *d)
{
	struct vballoon *vb = to_vb(d);

	/* The driver gave every page back when it let go of the device. */
	vb->actual = 0;
	vb->stats_held = false;
	vb->warned = false;
}

static int balloon_vsave(struct virtio_dev *d, struct sbuf *out)
{
	struct vballoon *vb = to_vb(d);

	sbuf_put_u32(out, SAVE_VERSION);
	sbuf_put_u32(out, vb->num_pages);
	sbuf_put_u32(out, vb->actual);
	for (unsigned i = 0; i < VBALLOON_S_NR; i++)
		sbuf_put_u64(out, vb->stats.val[i]);
	sbuf_put_u32(out, vb->stats.valid);
	sbuf_put_u64(out, vb->stats.updates);
	sbuf_put_u8(out, vb->stats_held);
	sbuf_put_u16(out, vb->stats_head);
	return 0;
}

static int balloon_vload(struct virtio_dev *d, struct sreader *in)
{
	struct vballoon *vb = to_vb(d);
	struct vballoon_stats st;
	uint32_t num_pages, actual;
	unsigned sq = stats_queue(d);
	uint8_t held;
	uint16_t head;

	if (sread_u32(in) != SAVE_VERSION)
		return -EINVAL;
	num_pages = sread_u32(in);
	actual = sread_u32(in);
	for (unsigned i = 0; i < VBALLOON_S_NR; i++)
		st.val[i] = sread_u64(in);
	st.valid = sread_u32(in);
	st.updates = sread_u64(in);
	held = sread_u8(in);
	head = sread_u16(in);
	if (in->err)
		return in->err;
	if (num_pages > vb->ram_pages || held > 1 ||
	    (held && (sq >= BALLOON_NQUEUES || !d->vq[sq].ready || head >= d->vq[sq].num)))
		return -EINVAL;
	vb->num_pages = num_pages;
	vb->actual = actual;
	vb->stats = st;
	vb->stats_held = held;
	vb->stats_head = head;
	if (held)
		vb->stats_gen = d->vq[sq].gen; /* taken in the queue's current life */
	return 0;
}

static const struct virtio_dev_ops balloon_vops = {
	.device_id = VIRTIO_ID_BALLOON,
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
	.queue_notify = balloon_queue_notify,
	.reset = balloon_vreset,
	.save = balloon_vsave,
	.load = balloon_vload,
};

/* ---- device ---- */

static struct vballoon *dev_to_vb(struct device *dev)
{
	return container_of(dev, struct vballoon, dev);
}

int vballoon_set_target(struct device *dev, uint32_t pages)
{
	struct vballoon *vb = dev_to_vb(dev);

	if (pages > vb->ram_pages)
		return -EINVAL;
	pthread_mutex_lock(&vb->vdev.lock);
	vb->num_pages = pages;
	virtio_dev_config_changed(&vb->vdev);
	pthread_mutex_unlock(&vb->vdev.lock);
	return 0;
}

void vballoon_get(struct device *dev, uint32_t *target_out, uint32_t *actual_out)
{
	struct vballoon *vb = dev_to_vb(dev);

	pthread_mutex_lock(&vb->vdev.lock);
	*target_out = vb->num_pages;
	*actual_out = vb->actual;
	pthread_mutex_unlock(&vb->vdev.lock);
}

void vballoon_stats(struct device *dev, struct vballoon_stats *out)
{
	struct vballoon *vb = dev_to_vb(dev);

	pthread_mutex_lock(&vb->vdev.lock);
	*out = vb->stats;
	stats_request(vb);
	pthread_mutex_unlock(&vb->vdev.lock);
}

static void balloon_reset(struct device *dev)
{
	virtio_dev_reset(&dev_to_vb(dev)->vdev);
}

static int balloon_save(struct device *dev, struct sbuf *out)
{
	return virtio_dev_save(&dev_to_vb(dev)->vdev, out);
}

static int balloon_load(struct device *dev, struct sreader *in)
{
	struct virtio_dev *d = &dev_to_vb(dev)->vdev;
	int r = virtio_dev_load(d, in);

	if (!r)
		virtio_dev_kick_all(d); /* requests made available while quiesced */
	return r;
}

static int balloon_fdt(struct device *dev, void *fdt, const struct board *b)
{
	return virtio_dev_fdt(&dev_to_vb(dev)->vdev, fdt, b);
}

static void balloon_destroy(struct device *dev)
{
	struct vballoon *vb = dev_to_vb(dev);

	evloop_timer_del(vb->stats_timer);
	virtio_dev_fini(&vb->vdev);
	core_free(vb);
}

static const struct device_ops balloon_ops = {
	.reset = balloon_reset,
	.save = balloon_save,
	.load = balloon_load,
	.fdt = balloon_fdt,
	.destroy = balloon_destroy,
};

int vballoon_create(struct board *b, const struct vballoon_config *cfg, struct device **out,
		    char *err, size_t errlen)
{
	uint64_t features = 1ull << VBALLOON_F_STATS_VQ | 1ull << VBALLOON_F_PAGE_REPORTING;
	struct vballoon *vb;
	int r;

	if (cfg->size % VBALLOON_PAGE_SIZE || cfg->size > b->mem->size) {
		snprintf(err, errlen,
			 "balloon: size=%" PRIu64
			 " bytes must be a multiple of 4 KiB and at most the "
			 "guest's RAM (%" PRIu64 " MiB)",
			 cfg->size, b->mem->size >> 20);
		return -EINVAL;
	}
	if (cfg->deflate_on_oom)
		features |= 1ull << VBALLOON_F_DEFLATE_ON_OOM;
	vb = core_calloc(1, sizeof(*vb));
	if (!vb)
		return -ENOMEM;
	vb->ram_pages = (uint32_t)(b->mem->size / VBALLOON_PAGE_SIZE);
	vb->num_pages = (uint32_t)(cfg->size / VBALLOON_PAGE_SIZE);
	vb->stats_interval_s = cfg->stats_interval_s;
	r = virtio_dev_init(&vb->vdev, &balloon_vops, "virtio-balloon", b, features,
			    BALLOON_NQUEUES, BALLOON_QUEUE_SIZE, BALLOON_CONFIG);
	if (r < 0)
		goto err_free;
	r = evloop_timer_add(b->loop, stats_timer_fn, vb, &vb->stats_timer);
	if (r < 0)
		goto err_fini;
	vb->dev.ops = &balloon_ops;
	snprintf(vb->dev.name, sizeof(vb->dev.name), "virtio-balloon");
	*out = &vb->dev;
	return 0;
err_fini:
	virtio_dev_fini(&vb->vdev);
err_free:
	core_free(vb);
	return r;
}

/* "512M", "1G", "4096", "64K". */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'K':
	case 'k':
		shift = 10, end++;
		break;
	case 'M':
	case 'm':
		shift = 20, end++;
		break;
	case 'G':
	case 'g':
		shift = 30, end++;
		break;
	default:
		break;
	}
	if (*end || v > (~0ull >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int balloon_type_create(struct board *b, const char *args, struct device **out, char *err,
			       size_t errlen)
{
	struct vballoon_config cfg = {0};
	struct keyval a;
	const char *v;
	int r;

	r = keyval_parse(&a, args, err, errlen);
	if (r < 0)
		return r;
	r = -EINVAL;
	v = keyval_get(&a, "size", 0);
	if (v && parse_size(v, &cfg.size) < 0) {
		snprintf(err, errlen, "balloon: size='%s' is not a size (for example 256M)", v);
		goto out;
	}
	v = keyval_get(&a, "stats", 0);
	if (v) {
		char *end;
		unsigned long s = strtoul(v, &end, 10);
		if (*v < '0' || *v > '9' || *end || s > 86400) {
			snprintf(err, errlen,
				 "balloon: stats='%s' is not a number of seconds (0 to 86400)", v);
			goto out;
		}
		cfg.stats_interval_s = (unsigned)s;
	}
	v = keyval_get(&a, "deflate_on_oom", 0);
	if (v && strcmp(v, "on") && strcmp(v, "off")) {
		snprintf(err, errlen, "balloon: deflate_on_oom='%s': use on or off", v);
		goto out;
	}
	cfg.deflate_on_oom = v && !strcmp(v, "on");
	r = keyval_check_unused(&a, "balloon", err, errlen);
	if (r == 0)
		r = vballoon_create(b, &cfg, out, err, errlen);
out:
	keyval_fini(&a);
	return r;
}

static const struct device_type balloon_type = {
	.name = "virtio-balloon",
	.option = "balloon",
	.usage = "[=size=SIZE][,stats=SECONDS][,deflate_on_oom=on]",
	.help = "memory balloon: takes SIZE from the guest at boot; frees pages the guest "
		"reports free",
	.order = 60,
	.arg_optional = true,
	.create = balloon_type_create,
};
DEVICE_TYPE(balloon_type)
