/*
 * virtio-mmio transport, version 2 (virtio 1.2, 4.2.2), and the device-independent part
 * of every virtio device: status and feature negotiation (3.1), queue set-up, interrupt
 * status, configuration generation, and the notify hand-off to the I/O thread.
 */
#include "devices/virtio/virtio.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libfdt.h>

#include "core/bus.h"
#include "core/evloop.h"
#include "core/gmem.h"
#include "core/log.h"
#include "core/sbuf.h"
#include "devices/device.h"

/* Register offsets (4.2.2.1). */
enum {
	REG_MAGIC = 0x000,
	REG_VERSION = 0x004,
	REG_DEVICE_ID = 0x008,
	REG_VENDOR_ID = 0x00c,
	REG_DEVICE_FEATURES = 0x010,
	REG_DEVICE_FEATURES_SEL = 0x014,
	REG_DRIVER_FEATURES = 0x020,
	REG_DRIVER_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030,
	REG_QUEUE_NUM_MAX = 0x034,
	REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044,
	REG_QUEUE_NOTIFY = 0x050,
	REG_INTERRUPT_STATUS = 0x060,
	REG_INTERRUPT_ACK = 0x064,
	REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080,
	REG_QUEUE_DESC_HIGH = 0x084,
	REG_QUEUE_DRIVER_LOW = 0x090,
	REG_QUEUE_DRIVER_HIGH = 0x094,
	REG_QUEUE_DEVICE_LOW = 0x0a0,
	REG_QUEUE_DEVICE_HIGH = 0x0a4,
	REG_SHM_SEL = 0x0ac,
	REG_SHM_LEN_LOW = 0x0b0,
	REG_SHM_LEN_HIGH = 0x0b4,
	REG_SHM_BASE_LOW = 0x0b8,
	REG_SHM_BASE_HIGH = 0x0bc,
	REG_CONFIG_GENERATION = 0x0fc,
	REG_CONFIG = 0x100,
};

#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */
#define VIRTIO_VENDOR_ID  0x45444f4cu /* "LODE" */
#define SAVE_VERSION	  1

static void set_irq_line(struct virtio_dev *d)
{
	irq_set(&d->irq, __atomic_load_n(&d->isr, __ATOMIC_ACQUIRE) != 0);
}

static void raise_isr(struct virtio_dev *d, uint32_t bits)
{
	__atomic_fetch_or(&d->isr, bits, __ATOMIC_ACQ_REL);
	irq_set(&d->irq, true);
}

static void notify_fn(void *opaque)
{
	struct virtio_dev *d = opaque;
	uint32_t pending = __atomic_exchange_n(&d->notify_pending, 0, __ATOMIC_ACQ_REL);

	pthread_mutex_lock(&d->lock);
	for (unsigned q = 0; q < d->nqueues; q++)
		if ((pending >> q) & 1 && virtio_dev_running(d) && d->vq[q].ready)
			d->ops->queue_notify(d, q);
	pthread_mutex_unlock(&d->lock);
}

int virtio_dev_init(struct virtio_dev *d, const struct virtio_dev_ops *ops, const char *name,
		    struct board *b, uint64_t features, unsigned nqueues, uint32_t queue_max,
		    uint32_t config_size)
{
	struct bus_region region;
	int r;

	if (!nqueues || nqueues > VIRTIO_MAX_QUEUES || !queue_max || queue_max > VIRTQ_MAX_SIZE ||
	    (queue_max & (queue_max - 1)) || config_size > VIRTIO_CONFIG_MAX)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	d->ops = ops;
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->mem = b->mem;
	d->loop = b->loop;
	r = b->virtio_slot(b, &d->base, &d->irq, &d->irq_num);
	if (r < 0)
		return r;
	region = (struct bus_region){.base = d->base,
				     .size = VIRTIO_MMIO_SIZE,
				     .name = d->name,
				     .opaque = d,
				     .read = virtio_mmio_read,
				     .write = virtio_mmio_write};
	r = bus_add(b->bus, &region);
	if (r < 0)
		return r;
	d->host_features = features | (1ull << VIRTIO_F_VERSION_1) |
			   (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_F_EVENT_IDX);
	d->nqueues = nqueues;
	d->queue_max = queue_max;
	d->config_size = config_size;
	for (unsigned q = 0; q < nqueues; q++)
		virtq_reset(&d->vq[q], queue_max);
	r = evloop_notifier_add(d->loop, notify_fn, d, &d->notifier);
	if (r < 0)
		return r;
	pthread_mutex_init(&d->lock, NULL);
	return 0;
}

void virtio_dev_fini(struct virtio_dev *d)
{
	evloop_notifier_del(d->notifier);
	d->notifier = NULL;
	pthread_mutex_destroy(&d->lock);
}

int virtio_dev_fdt(const struct virtio_dev *d, void *fdt, const struct board *b)
{
	char name[40];
	fdt64_t reg[2] = {cpu_to_fdt64(d->base), cpu_to_fdt64(VIRTIO_MMIO_SIZE)};
	int r;

	snprintf(name, sizeof(name), "virtio_mmio@%llx", (unsigned long long)d->base);
	r = fdt_begin_node(fdt, name);
	r = r ?: fdt_property_string(fdt, "compatible", "virtio,mmio");
	r = r ?: fdt_property(fdt, "reg", reg, sizeof(reg));
	r = r ?: fdt_property_u32(fdt, "interrupts", d->irq_num);
	r = r ?: fdt_property_u32(fdt, "interrupt-parent", b->plic_phandle);
	r = r ?: fdt_property(fdt, "dma-coherent", NULL, 0);
	return r ?: fdt_end_node(fdt);
}

bool virtio_dev_running(const struct virtio_dev *d)
{
	return (d->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(d->status & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

/* A guest that breaks its device, or makes it drop requests, and resets it in a loop
 * must not flood the host's log: of each kind of line, a device logs the first
 * LOG_BURST, then only the 2^k-th. */
#define LOG_BURST 8

static void log_limited(const struct virtio_dev *d, uint64_t n, const char *msg, const char *suffix)
{
	if (n < LOG_BURST)
		log_warn("%s: %s%s", d->name, msg, suffix);
	else if (n == LOG_BURST)
		log_warn("%s: %s%s (%d times now; from here on only the 2^k-th time is logged)",
			 d->name, msg, suffix, LOG_BURST);
	else if (!(n & (n - 1)))
		log_warn("%s: %s%s (%llu times now)", d->name, msg, suffix, (unsigned long long)n);
}

void virtio_dev_fail(struct virtio_dev *d, const char *fmt, ...)
{
	if (d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return;
	d->failures++;
	if (!d->broken_logged) {
		char msg[256];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		log_limited(d, d->failures, msg, ": device needs reset");
		d->broken_logged = true;
	}
	d->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		raise_isr(d, VIRTIO_INT_CONFIG);
}

void virtio_dev_warn(struct virtio_dev *d, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	d->warnings++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_limited(d, d->warnings, msg, "");
}

void virtio_dev_notify_used(struct virtio_dev *d, unsigned q)
{
	if (q < d->nqueues && virtq_should_interrupt(&d->vq[q]))
		raise_isr(d, VIRTIO_INT_USED);
}

void virtio_dev_config_changed(struct virtio_dev *d)
{
	d->config_gen++;
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		raise_isr(d, VIRTIO_INT_CONFIG);
}

void virtio_dev_kick(struct virtio_dev *d, unsigned q)
{
	if (q >= d->nqueues)
		return;
	__atomic_fetch_or(&d->notify_pending, 1u << q, __ATOMIC_ACQ_REL);
	evloop_notify(d->notifier);
}

void virtio_dev_kick_all(struct virtio_dev *d)
{
	uint32_t all = d->nqueues >= 32 ? ~0u : (1u << d->nqueues) - 1;

	__atomic_fetch_or(&d->notify_pending, all, __ATOMIC_ACQ_REL);
	evloop_notify(d->notifier);
}

/* Status 0: back to the state after power-on (3.1.1). */
static void reset(struct virtio_dev *d)
{
	d->ops->reset(d);
	d->status = 0;
	d->driver_features = 0;
	d->dev_feat_sel = d->drv_feat_sel = d->queue_sel = 0;
	for (unsigned q = 0; q < d->nqueues; q++)
		virtq_reset(&d->vq[q], d->queue_max);
	__atomic_store_n(&d->isr, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&d->notify_pending, 0, __ATOMIC_RELEASE);
	d->broken_logged = false;
	set_irq_line(d);
}

void virtio_dev_reset(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	reset(d);
	pthread_mutex_unlock(&d->lock);
}

static void write_status(struct virtio_dev *d, uint32_t val)
{
	uint32_t added = val & ~d->status;

	if (val == 0) {
		reset(d);
		return;
	}
	val &= 0xff;
	if (val & ~d->status & VIRTIO_STATUS_FEATURES_OK) {
		/* The device accepts only what it offered, and only as a 1.x driver. */
		if ((d->driver_features & ~d->host_features) ||
		    !virtio_has_feature(d, VIRTIO_F_VERSION_1))
			val &= ~VIRTIO_STATUS_FEATURES_OK;
	}
	/* Bits are only added until the next reset; DEVICE_NEEDS_RESET is the device's. */
	d->status |= val & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	/* A driver that skipped feature negotiation (3.1.1) would be served with features
	 * nobody checked, not even VERSION_1: the device refuses to run. */
	if ((added & VIRTIO_STATUS_DRIVER_OK) && !(d->status & VIRTIO_STATUS_FEATURES_OK))
		virtio_dev_fail(d, "DRIVER_OK without FEATURES_OK (features not negotiated)");
	if ((added & VIRTIO_STATUS_DRIVER_OK) && virtio_dev_running(d) && d->ops->driver_ok)
		d->ops->driver_ok(d);
}

static void set_queue_ready(struct virtio_dev *d, struct virtq *q, uint32_t val)
{
	if (!val) {
		uint32_t num = q->num;
		virtq_reset(q, d->queue_max);
		q->num = num;
		return;
	}
	if (q->ready)
		return;
	q->event_idx = virtio_has_feature(d, VIRTIO_F_EVENT_IDX);
	q->indirect = virtio_has_feature(d, VIRTIO_F_INDIRECT_DESC);
	if (q->num > d->queue_max || virtq_start(q, d->mem) < 0)
		virtio_dev_fail(d,
				"queue %u: size %u or rings (desc 0x%llx avail 0x%llx used "
				"0x%llx) invalid",
				d->queue_sel, q->num, (unsigned long long)q->desc_gpa,
				(unsigned long long)q->avail_gpa, (unsigned long long)q->used_gpa);
}

static void set_half(uint64_t *v, bool high, uint32_t val)
{
	*v = high ? (*v & 0xffffffffull) | ((uint64_t)val << 32) : (*v & ~0xffffffffull) | val;
}

static uint32_t read_reg(struct virtio_dev *d, uint64_t off)
{
	const struct virtq *q = &d->vq[d->queue_sel < d->nqueues ? d->queue_sel : 0];
	bool qvalid = d->queue_sel < d->nqueues;

	switch (off) {
	case REG_MAGIC:
		return VIRTIO_MMIO_MAGIC;
	case REG_VERSION:
		return 2;
	case REG_DEVICE_ID:
		return d->ops->device_id;
	case REG_VENDOR_ID:
		return VIRTIO_VENDOR_ID;
	case REG_DEVICE_FEATURES:
		return d->dev_feat_sel < 2 ? (uint32_t)(d->host_features >> (32 * d->dev_feat_sel))
					   : 0;
	case REG_QUEUE_NUM_MAX:
		return qvalid ? d->queue_max : 0;
	case REG_QUEUE_READY:
		return qvalid && q->ready;
	case REG_INTERRUPT_STATUS:
		return __atomic_load_n(&d->isr, __ATOMIC_ACQUIRE);
	case REG_STATUS:
		return d->status;
	case REG_SHM_LEN_LOW:
	case REG_SHM_LEN_HIGH:
		return 0xffffffffu; /* no shared memory regions */
	case REG_CONFIG_GENERATION:
		return d->config_gen;
	default:
		return 0;
	}
}

static void write_reg(struct virtio_dev *d, uint64_t off, uint32_t val)
{
	struct virtq *q = d->queue_sel < d->nqueues ? &d->vq[d->queue_sel] : NULL;
	bool qconf = q && !q->ready; /* queue fields change only while it is not ready */

	switch (off) {
	case REG_DEVICE_FEATURES_SEL:
		d->dev_feat_sel = val;
		break;
	case REG_DRIVER_FEATURES:
		if (d->drv_feat_sel < 2 && !(d->status & VIRTIO_STATUS_FEATURES_OK)) {
			unsigned sh = 32 * d->drv_feat_sel;
			d->driver_features = (d->driver_features & ~(0xffffffffull << sh)) |
					     ((uint64_t)val << sh);
		}
		break;
	case REG_DRIVER_FEATURES_SEL:
		d->drv_feat_sel = val;
		break;
	case REG_QUEUE_SEL:
		d->queue_sel = val;
		break;
	case REG_QUEUE_NUM:
		if (qconf)
			q->num = val;
		break;
	case REG_QUEUE_READY:
		if (q)
			set_queue_ready(d, q, val);
		break;
	case REG_INTERRUPT_ACK:
		__atomic_fetch_and(&d->isr, ~val, __ATOMIC_ACQ_REL);
		set_irq_line(d);
		break;
	case REG_STATUS:
		write_status(d, val);
		break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
		if (qconf)
			set_half(&q->desc_gpa, off == REG_QUEUE_DESC_HIGH, val);
		break;
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
		if (qconf)
			set_half(&q->avail_gpa, off == REG_QUEUE_DRIVER_HIGH, val);
		break;
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH:
		if (qconf)
			set_half(&q->used_gpa, off == REG_QUEUE_DEVICE_HIGH, val);
		break;
	default:
		break; /* read-only or unknown registers: writes are ignored */
	}
}

int virtio_mmio_read(void *opaque, uint64_t off, unsigned size, uint64_t *out)
{
	struct virtio_dev *d = opaque;

	*out = 0;
	pthread_mutex_lock(&d->lock);
	if (off >= REG_CONFIG) {
		uint32_t coff = (uint32_t)(off - REG_CONFIG);
		uint8_t buf[8] = {0};
		if (size <= 8 && coff < d->config_size && size <= d->config_size - coff) {
			d->ops->config_read(d, coff, buf, size);
			for (unsigned i = 0; i < size; i++)
				*out |= (uint64_t)buf[i] << (8 * i);
		}
	} else if (size == 4 && !(off & 3)) {
		*out = read_reg(d, off);
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int virtio_mmio_write(void *opaque, uint64_t off, unsigned size, uint64_t val)
{
	struct virtio_dev *d = opaque;

	if (off == REG_QUEUE_NOTIFY && size == 4) {
		if (val >= d->nqueues)
			return 0;
		if (!((d->ops->inline_notify >> val) & 1)) {
			/* The hot path: no lock, the I/O thread does the work. */
			virtio_dev_kick(d, (unsigned)val);
			return 0;
		}
		pthread_mutex_lock(&d->lock);
		if (virtio_dev_running(d) && d->vq[val].ready)
			d->ops->queue_notify(d, (unsigned)val);
		pthread_mutex_unlock(&d->lock);
		return 0;
	}
	pthread_mutex_lock(&d->lock);
	if (off >= REG_CONFIG) {
		uint32_t coff = (uint32_t)(off - REG_CONFIG);
		uint8_t buf[8];
		if (size <= 8 && coff < d->config_size && size <= d->config_size - coff &&
		    d->ops->config_write) {
			for (unsigned i = 0; i < size; i++)
				buf[i] = (uint8_t)(val >> (8 * i));
			d->ops->config_write(d, coff, buf, size);
		}
	} else if (size == 4 && !(off & 3)) {
		write_reg(d, off, (uint32_t)val);
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/* ---- state ---- */

int virtio_dev_save(struct virtio_dev *d, struct sbuf *out)
{
	int r = 0;

	pthread_mutex_lock(&d->lock);
	sbuf_put_u32(out, SAVE_VERSION);
	sbuf_put_u64(out, d->driver_features);
	sbuf_put_u32(out, d->status);
	sbuf_put_u32(out, __atomic_load_n(&d->isr, __ATOMIC_ACQUIRE));
	sbuf_put_u32(out, d->config_gen);
	sbuf_put_u32(out, d->dev_feat_sel);
	sbuf_put_u32(out, d->drv_feat_sel);
	sbuf_put_u32(out, d->queue_sel);
	sbuf_put_u32(out, d->nqueues);
	for (unsigned i = 0; i < d->nqueues; i++) {
		const struct virtq *q = &d->vq[i];
		sbuf_put_u32(out, q->num);
		sbuf_put_u64(out, q->desc_gpa);
		sbuf_put_u64(out, q->avail_gpa);
		sbuf_put_u64(out, q->used_gpa);
		sbuf_put_u8(out, (uint8_t)(q->ready | q->event_idx << 1 | q->indirect << 2 |
					   q->signalled_valid << 3));
		sbuf_put_u16(out, q->last_avail);
		sbuf_put_u16(out, q->used_idx);
		sbuf_put_u16(out, q->signalled_used);
		/* The device writes its used ring's flags and avail_event without reporting
		 * them (virtq.c): they go into the dirty log here, before the RAM that goes
		 * with this state (incremental snapshots, migration) is taken. */
		if (q->ready)
			gmem_written(d->mem, q->used_gpa, 6 + 8 * (uint64_t)q->num);
	}
	if (d->ops->save)
		r = d->ops->save(d, out);
	pthread_mutex_unlock(&d->lock);
	return r ?: out->err;
}

static int load_queue(struct virtio_dev *d, struct virtq *q, struct sreader *in)
{
	uint8_t flags;
	uint16_t last_avail, used_idx, signalled;

	q->num = sread_u32(in);
	q->desc_gpa = sread_u64(in);
	q->avail_gpa = sread_u64(in);
	q->used_gpa = sread_u64(in);
	flags = sread_u8(in);
	last_avail = sread_u16(in);
	used_idx = sread_u16(in);
	signalled = sread_u16(in);
	if (in->err)
		return in->err;
	q->event_idx = flags & 2;
	q->indirect = flags & 4;
	q->ready = false;
	if ((flags & 1) && (q->num > d->queue_max || virtq_start(q, d->mem) < 0))
		return -EINVAL;
	q->last_avail = last_avail;
	q->used_idx = used_idx;
	q->signalled_used = signalled;
	q->signalled_valid = flags & 8;
	return 0;
}

int virtio_dev_load(struct virtio_dev *d, struct sreader *in)
{
	int r = 0;

	pthread_mutex_lock(&d->lock);
	if (sread_u32(in) != SAVE_VERSION) {
		r = -EINVAL;
		goto out;
	}
	d->driver_features = sread_u64(in);
	d->status = sread_u32(in);
	__atomic_store_n(&d->isr, sread_u32(in), __ATOMIC_RELEASE);
	d->config_gen = sread_u32(in);
	d->dev_feat_sel = sread_u32(in);
	d->drv_feat_sel = sread_u32(in);
	d->queue_sel = sread_u32(in);
	/* Until FEATURES_OK the driver may have written any bits (FEATURES_OK is then
	 * refused); only accepted features must be a subset of the offer, with VERSION_1.
	 * What the device itself never holds is refused too: status bits past the byte,
	 * DRIVER_OK without FEATURES_OK that did not stop the device (write_status fails
	 * it: running, it would serve features nobody checked), interrupt bits other than
	 * used-buffer and configuration change (a guest acknowledging only those would
	 * see the line stay high). */
	if (sread_u32(in) != d->nqueues || (d->status & ~0xffu) ||
	    ((d->status & VIRTIO_STATUS_FEATURES_OK) &&
	     ((d->driver_features & ~d->host_features) ||
	      !virtio_has_feature(d, VIRTIO_F_VERSION_1))) ||
	    ((d->status & VIRTIO_STATUS_DRIVER_OK) && !(d->status & VIRTIO_STATUS_FEATURES_OK) &&
	     !(d->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)) ||
	    (__atomic_load_n(&d->isr, __ATOMIC_ACQUIRE) & ~(VIRTIO_INT_USED | VIRTIO_INT_CONFIG))) {
		r = -EINVAL;
		goto out;
	}
	for (unsigned i = 0; i < d->nqueues && !r; i++)
		r = load_queue(d, &d->vq[i], in);
	if (!r && d->ops->load)
		r = d->ops->load(d, in);
	if (!r)
		r = in->err;
	if (!r)
		set_irq_line(d);
out:
	pthread_mutex_unlock(&d->lock);
	return r;
}
