/*
 * Split virtqueue walker (see virtq.h). Ring layout (virtio 1.2, 2.7):
 *   descriptor table: num x {le64 addr, le32 len, le16 flags, le16 next}, 16-byte aligned
 *   available ring:   le16 flags, le16 idx, le16 ring[num], le16 used_event; 2-aligned
 *   used ring:        le16 flags, le16 idx, {le32 id, le32 len}[num], le16 avail_event;
 *                     4-aligned
 * Guest memory is read with relaxed atomics (harts write it concurrently); the available
 * index is read with acquire and the used index published with release, the pairing the
 * spec asks for (2.7.13, 2.7.14).
 */
#include "devices/virtio/virtq.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "core/gmem.h"
#include "core/util.h"

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

#define DESC_SIZE    16u
#define INDIRECT_MAX (VIRTQ_MAX_SIZE * DESC_SIZE)

static inline uint16_t ld16(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_RELAXED));
}

static inline void st16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)(void *)p, htole16(v), __ATOMIC_RELAXED);
}

static inline void st32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)p, htole32(v), __ATOMIC_RELAXED);
}

/* Copies descriptor i of `table` out of guest memory before anything looks at it. */
static struct vdesc read_desc(const uint8_t *table, unsigned i)
{
	const uint8_t *p = table + (size_t)i * DESC_SIZE;
	uint64_t addr = __atomic_load_n((const uint64_t *)(const void *)p, __ATOMIC_RELAXED);
	uint32_t len = __atomic_load_n((const uint32_t *)(const void *)(p + 8), __ATOMIC_RELAXED);
	struct vdesc d = {.addr = le64toh(addr), .len = le32toh(len)};

	d.flags = ld16(p + 12);
	d.next = ld16(p + 14);
	return d;
}

static size_t avail_bytes(uint32_t num)
{
	return 6 + 2 * (size_t)num;
}

static size_t used_bytes(uint32_t num)
{
	return 6 + 8 * (size_t)num;
}

void virtq_reset(struct virtq *q, uint32_t num_max)
{
	*q = (struct virtq){.num = num_max, .gen = q->gen + 1};
}

int virtq_start(struct virtq *q, const struct gmem *m)
{
	uint32_t n = q->num;

	if (!n || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
		return -EINVAL;
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EINVAL;
	q->desc = gmem_ptr(m, q->desc_gpa, (uint64_t)n * DESC_SIZE);
	q->avail = gmem_ptr(m, q->avail_gpa, avail_bytes(n));
	q->used = gmem_ptr(m, q->used_gpa, used_bytes(n));
	if (!q->desc || !q->avail || !q->used) {
		q->desc = q->avail = q->used = NULL;
		return -EINVAL;
	}
	q->last_avail = q->used_idx = q->signalled_used = 0;
	q->signalled_valid = false;
	q->ready = true;
	return 0;
}

bool virtq_has_avail(const struct virtq *q)
{
	uint16_t idx;

	if (!q->ready)
		return false;
	idx = le16toh(
		__atomic_load_n((const uint16_t *)(const void *)(q->avail + 2), __ATOMIC_ACQUIRE));
	return idx != q->last_avail;
}

/* Appends one guest buffer to the element, checking its placement and order. */
static int add_buf(struct virtq_elem *e, const struct gmem *m, const struct vdesc *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	void *host;

	if (!writable && e->n_in)
		return -EIO; /* readable buffers must all come before writable ones */
	if (e->n_out + e->n_in == e->cap)
		return -E2BIG;
	host = d->len ? gmem_ptr(m, d->addr, d->len) : NULL;
	if (d->len && !host)
		return -EIO; /* outside RAM (or in MMIO) */
	e->iov[e->n_out + e->n_in] = (struct iovec){.iov_base = host, .iov_len = d->len};
	if (writable) {
		e->n_in++;
		e->in_len += d->len;
	} else {
		e->n_out++;
		e->out_len += d->len;
	}
	return 0;
}

/* Walks an indirect table: bounded by its own length, no nesting. */
static int walk_indirect(struct virtq_elem *e, const struct gmem *m, const struct vdesc *ind)
{
	unsigned n = ind->len / DESC_SIZE, i = 0, seen = 0;
	const uint8_t *table;

	if (!ind->len || ind->len % DESC_SIZE || ind->len > INDIRECT_MAX ||
	    (ind->flags & VIRTQ_DESC_F_NEXT))
		return -EIO;
	table = gmem_ptr(m, ind->addr, ind->len);
	if (!table)
		return -EIO;
	for (;;) {
		struct vdesc d = read_desc(table, i);
		int r;

		if (++seen > n || (d.flags & VIRTQ_DESC_F_INDIRECT))
			return -EIO; /* a loop, or a nested table */
		r = add_buf(e, m, &d);
		if (r < 0)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return -EIO;
		i = d.next;
	}
}

static uint16_t load_avail_idx(const struct virtq *q)
{
	return le16toh(
		__atomic_load_n((const uint16_t *)(const void *)(q->avail + 2), __ATOMIC_ACQUIRE));
}

/* With EVENT_IDX: "notify me when you make entry last_avail available" (2.7.10). */
static void publish_avail_event(struct virtq *q)
{
	if (q->event_idx && !q->no_notify)
		st16(q->used + 4 + 8 * (size_t)q->num, q->last_avail);
}

int virtq_pop(struct virtq *q, const struct gmem *m, struct virtq_elem *e)
{
	uint16_t avail_idx, head;
	unsigned i, seen = 0;

	if (!q->ready)
		return 0;
	avail_idx = load_avail_idx(q);
	if (avail_idx == q->last_avail) {
		publish_avail_event(q);
		gmem_barrier();
		avail_idx = load_avail_idx(q);
		if (avail_idx == q->last_avail)
			return 0;
	}
	if ((uint16_t)(avail_idx - q->last_avail) > q->num)
		return -EIO; /* the driver claims more chains than the ring holds */
	head = ld16(q->avail + 4 + 2 * (size_t)(q->last_avail & (q->num - 1)));
	if (head >= q->num)
		return -EIO;
	e->head = head;
	e->gen = q->gen;
	e->n_out = e->n_in = 0;
	e->out_len = e->in_len = 0;
	for (i = head;;) {
		struct vdesc d = read_desc(q->desc, i);
		int r;

		if (++seen > q->num)
			return -EIO; /* the chain loops */
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!q->indirect)
				return -EIO;
			r = walk_indirect(e, m, &d);
		} else {
			r = add_buf(e, m, &d);
		}
		if (r < 0)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT) || (d.flags & VIRTQ_DESC_F_INDIRECT))
			break;
		if (d.next >= q->num)
			return -EIO;
		i = d.next;
	}
	q->last_avail++;
	publish_avail_event(q);
	return 1;
}

void virtq_unpop(struct virtq *q)
{
	q->last_avail--;
}

bool virtq_fill(struct virtq *q, struct gmem *m, const struct virtq_elem *e, uint32_t written,
		unsigned off)
{
	uint8_t *slot;
	uint64_t left;

	/* A request that completes after the driver disabled or reset the queue (and maybe
	 * set it up again with other rings) has nowhere to go. */
	if (!q->ready || e->gen != q->gen)
		return false;
	slot = q->used + 4 + 8 * (size_t)((uint16_t)(q->used_idx + off) & (q->num - 1));
	if (written > e->in_len)
		written = (uint32_t)e->in_len; /* never claim more than the driver offered */
	left = written;
	for (unsigned i = 0; i < e->n_in && left; i++) {
		const struct iovec *v = &e->iov[e->n_out + i];
		uint64_t n = left < v->iov_len ? left : v->iov_len;
		gmem_written_host(m, v->iov_base, n);
		left -= n;
	}
	st32(slot, e->head);
	st32(slot + 4, written);
	gmem_written_host(m, slot, 8);
	return true;
}

void virtq_flush(struct virtq *q, struct gmem *m, unsigned n)
{
	if (!q->ready)
		return;
	q->used_idx = (uint16_t)(q->used_idx + n);
	__atomic_store_n((uint16_t *)(void *)(q->used + 2), htole16(q->used_idx), __ATOMIC_RELEASE);
	gmem_written_host(m, q->used + 2, 2);
}

void virtq_push(struct virtq *q, struct gmem *m, const struct virtq_elem *e, uint32_t written)
{
	if (virtq_fill(q, m, e, written, 0))
		virtq_flush(q, m, 1);
}

bool virtq_should_interrupt(struct virtq *q)
{
	uint16_t old, new, event;
	bool valid;

	if (!q->ready)
		return false;
	/* The used index store must be visible before we read the driver's wish (2.7.10). */
	gmem_barrier();
	if (!q->event_idx)
		return !(ld16(q->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	old = q->signalled_used;
	new = q->used_idx;
	valid = q->signalled_valid;
	q->signalled_used = new;
	q->signalled_valid = true;
	event = ld16(q->avail + 4 + 2 * (size_t)q->num);
	/* vring_need_event: interrupt when used_event lies in [old, new). */
	return !valid || (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

void virtq_set_notify(struct virtq *q, bool enable)
{
	if (!q->ready)
		return;
	q->no_notify = !enable;
	if (q->event_idx) {
		publish_avail_event(q);
	} else {
		uint16_t flags = ld16(q->used);
		flags = enable ? (uint16_t)(flags & ~VIRTQ_USED_F_NO_NOTIFY)
			       : (uint16_t)(flags | VIRTQ_USED_F_NO_NOTIFY);
		st16(q->used, flags);
	}
	gmem_barrier();
}

static size_t copy_iov(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len,
		       bool to_guest)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t chunk;
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		chunk = iov[i].iov_len - off;
		if (chunk > len - done)
			chunk = len - done;
		if (to_guest)
			gmem_copy_to((uint8_t *)iov[i].iov_base + off, (uint8_t *)buf + done,
				     chunk);
		else
			gmem_copy_from((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + off,
				       chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

size_t virtq_copy_from_out(const struct virtq_elem *e, size_t off, void *dst, size_t len)
{
	return copy_iov(e->iov, e->n_out, off, dst, len, false);
}

size_t virtq_copy_to_in(const struct virtq_elem *e, size_t off, const void *src, size_t len)
{
	return copy_iov(e->iov + e->n_out, e->n_in, off, (void *)(uintptr_t)src, len, true);
}
