/*
 * A tiny virtio-mmio driver for unit tests: plays the guest against a device on a fake
 * board (a bus, a small guest RAM, an I/O loop). It negotiates features, sets up split
 * queues in RAM, posts chains of buffers, kicks, and reads the used rings, all through
 * the bus and guest memory as a guest kernel would. Header only.
 */
#ifndef LODGE_TESTS_VDRIVER_H
#define LODGE_TESTS_VDRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/bus.h"
#include "core/gmem.h"
#include "devices/device.h"
#include "devices/virtio/virtio.h"
#include "devices/virtio/virtq.h"

#define VD_SLOT	     0x10001000ull
#define VD_RAM_BASE  0x80000000ull
#define VD_QN	     64u
#define VD_RINGS     (VD_RAM_BASE + 0x10000) /* queue q's rings at VD_RINGS + q * 0x4000 */
#define VD_BUF_AREA  (VD_RAM_BASE + 0x100000)
#define VD_BUF_SLOTS 256u
#define VD_BUF_SIZE  0x11000u /* room for a 64 KiB packet and its header */

struct vd_queue {
	uint64_t desc, avail, used;
	uint16_t next_desc, avail_idx, used_seen;
};

struct vdriver {
	struct bus bus;
	struct gmem mem;
	struct vd_queue q[8];
	unsigned next_buf;
	int irq;
	unsigned irq_raised; /* times the device raised its line (interrupts sent) */
};

struct vd_buf {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

static inline void vd_irq(void *opaque, unsigned n, bool level)
{
	(void)n;
	__atomic_store_n(&((struct vdriver *)opaque)->irq, level, __ATOMIC_RELEASE);
	if (level)
		__atomic_fetch_add(&((struct vdriver *)opaque)->irq_raised, 1, __ATOMIC_ACQ_REL);
}

static inline int vd_fake_slot(struct board *b, uint64_t *base, struct irq_line *line,
			       unsigned *irq)
{
	*base = VD_SLOT;
	*line = (struct irq_line){.fn = vd_irq, .opaque = b->opaque};
	*irq = 1;
	return 0;
}

/* A board with `ram` bytes of guest RAM. */
static inline int vd_board(struct vdriver *v, struct board *b, struct evloop *loop, uint64_t ram)
{
	memset(v, 0, sizeof(*v));
	if (gmem_init(&v->mem, VD_RAM_BASE, ram, false) < 0)
		return -1;
	*b = (struct board){.bus = &v->bus,
			    .mem = &v->mem,
			    .loop = loop,
			    .virtio_slot = vd_fake_slot,
			    .opaque = v};
	return 0;
}

static inline uint32_t vd_rd(struct vdriver *v, uint64_t off)
{
	uint64_t val = 0;
	bus_read(&v->bus, VD_SLOT + off, 4, &val);
	return (uint32_t)val;
}

static inline void vd_wr(struct vdriver *v, uint64_t off, uint32_t val)
{
	bus_write(&v->bus, VD_SLOT + off, 4, val);
}

static inline void *vd_ptr(struct vdriver *v, uint64_t gpa, uint64_t len)
{
	return gmem_ptr(&v->mem, gpa, len);
}

static inline uint16_t vd_ld16(struct vdriver *v, uint64_t gpa)
{
	return __atomic_load_n((uint16_t *)vd_ptr(v, gpa, 2), __ATOMIC_ACQUIRE);
}

/* Status handshake accepting `features` (VERSION_1 is added), then `nq` queues of VD_QN
 * entries, then DRIVER_OK. Returns the final status. */
static inline uint32_t vd_init(struct vdriver *v, uint64_t features, unsigned nq)
{
	features |= 1ull << VIRTIO_F_VERSION_1;
	vd_wr(v, 0x070, 0);
	vd_wr(v, 0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vd_wr(v, 0x024, 0);
	vd_wr(v, 0x020, (uint32_t)features);
	vd_wr(v, 0x024, 1);
	vd_wr(v, 0x020, (uint32_t)(features >> 32));
	vd_wr(v, 0x070,
	      VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	for (unsigned i = 0; i < nq; i++) {
		struct vd_queue *q = &v->q[i];
		memset(q, 0, sizeof(*q));
		q->desc = VD_RINGS + i * 0x4000ull;
		q->avail = q->desc + 0x1000;
		q->used = q->desc + 0x2000;
		memset(vd_ptr(v, q->desc, 0x4000), 0, 0x4000);
		vd_wr(v, 0x030, i);
		vd_wr(v, 0x038, VD_QN);
		vd_wr(v, 0x080, (uint32_t)q->desc);
		vd_wr(v, 0x084, (uint32_t)(q->desc >> 32));
		vd_wr(v, 0x090, (uint32_t)q->avail);
		vd_wr(v, 0x094, (uint32_t)(q->avail >> 32));
		vd_wr(v, 0x0a0, (uint32_t)q->used);
		vd_wr(v, 0x0a4, (uint32_t)(q->used >> 32));
		vd_wr(v, 0x044, 1);
	}
	vd_wr(v, 0x070,
	      VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		      VIRTIO_STATUS_DRIVER_OK);
	return vd_rd(v, 0x070);
}

/* A fresh buffer of VD_BUF_SIZE bytes in the buffer area (reused round robin). */
static inline uint64_t vd_alloc(struct vdriver *v)
{
	return VD_BUF_AREA + (uint64_t)(v->next_buf++ % VD_BUF_SLOTS) * VD_BUF_SIZE;
}

/* Makes a chain of `n` buffers available on queue qi (no kick); returns its head. */
static inline uint16_t vd_post(struct vdriver *v, unsigned qi, const struct vd_buf *b, unsigned n)
{
	struct vd_queue *q = &v->q[qi];
	uint16_t head = (uint16_t)(q->next_desc % VD_QN);

	for (unsigned i = 0; i < n; i++) {
		uint16_t d = (uint16_t)((q->next_desc + i) % VD_QN);
		uint8_t *p = vd_ptr(v, q->desc + 16ull * d, 16);
		uint16_t flags = (uint16_t)((i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) |
					    (b[i].writable ? VIRTQ_DESC_F_WRITE : 0));
		uint16_t next = (uint16_t)((d + 1) % VD_QN);
		memcpy(p, &b[i].gpa, 8);
		memcpy(p + 8, &b[i].len, 4);
		memcpy(p + 12, &flags, 2);
		memcpy(p + 14, &next, 2);
	}
	q->next_desc = (uint16_t)(q->next_desc + n);
	memcpy(vd_ptr(v, q->avail + 4 + 2ull * (q->avail_idx % VD_QN), 2), &head, 2);
	q->avail_idx++;
	__atomic_store_n((uint16_t *)vd_ptr(v, q->avail + 2, 2), q->avail_idx, __ATOMIC_RELEASE);
	return head;
}

static inline void vd_kick(struct vdriver *v, unsigned qi)
{
	vd_wr(v, 0x050, qi);
}

/* Takes the next used entry of queue qi, waiting up to `ms` milliseconds. Returns 1 with
 * *id and *len filled, 0 on time-out. */
static inline int vd_used(struct vdriver *v, unsigned qi, unsigned ms, uint32_t *id, uint32_t *len)
{
	struct vd_queue *q = &v->q[qi];

	for (unsigned i = 0; i <= ms; i++) {
		if (vd_ld16(v, q->used + 2) != q->used_seen) {
			uint8_t *e = vd_ptr(v, q->used + 4 + 8ull * (q->used_seen % VD_QN), 8);
			memcpy(id, e, 4);
			memcpy(len, e + 4, 4);
			q->used_seen++;
			return 1;
		}
		if (i < ms)
			usleep(1000);
	}
	return 0;
}

/* The guest address of descriptor `id`'s buffer on queue qi. */
static inline uint64_t vd_desc_addr(struct vdriver *v, unsigned qi, uint32_t id)
{
	uint64_t a;
	memcpy(&a, vd_ptr(v, v->q[qi].desc + 16ull * (id % VD_QN), 8), 8);
	return a;
}

/* Waits up to `ms` milliseconds for cond. */
#define VD_WAIT(cond, ms)                                                                          \
	do {                                                                                       \
		for (unsigned w_ = 0; w_ < (ms) && !(cond); w_++)                                  \
			usleep(1000);                                                              \
	} while (0)

#endif
