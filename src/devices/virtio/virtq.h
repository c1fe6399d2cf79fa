/*
 * Split virtqueues, device side (virtio 1.2, section 2.7): taking chains of descriptors
 * from the available ring, returning them on the used ring, and deciding when the driver
 * wants an interrupt (VIRTIO_F_EVENT_IDX or the NO_INTERRUPT flag). Indirect descriptor
 * tables are followed (VIRTIO_F_INDIRECT_DESC).
 *
 * Everything the guest wrote is hostile: each descriptor is copied out of guest memory
 * before it is checked; buffers must lie wholly in RAM; chains are bounded by the queue
 * size (and an indirect table by its own length) so loops end as errors; a readable
 * buffer after a writable one, nested indirect tables, lengths that do not fit, indexes
 * outside the ring are errors. An error leaves the queue untouched and returns -EIO: the
 * device then sets DEVICE_NEEDS_RESET.
 *
 * Threads: a queue is used by one thread at a time (the device's lock).
 */
#ifndef LODGE_DEVICES_VIRTIO_VIRTQ_H
#define LODGE_DEVICES_VIRTIO_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct gmem;

#define VIRTQ_DESC_F_NEXT	   1
#define VIRTQ_DESC_F_WRITE	   2
#define VIRTQ_DESC_F_INDIRECT	   4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	   1

#define VIRTQ_MAX_SIZE 32768 /* the spec's limit for split queues */

struct virtq {
	/* Set by the driver through the transport while the queue is not ready. */
	uint32_t num; /* queue size: a power of two, 1..VIRTQ_MAX_SIZE */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool ready;
	bool event_idx; /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;	/* VIRTIO_F_INDIRECT_DESC negotiated */
	bool no_notify; /* the device asked the driver not to notify (virtq_set_notify) */

	/* Device state. */
	uint16_t last_avail;	 /* next available-ring index to take */
	uint16_t used_idx;	 /* next used-ring index to fill */
	uint16_t signalled_used; /* used_idx when the driver was last interrupted */
	bool signalled_valid;

	/* Host views, valid while ready (virtq_start checked them). */
	uint8_t *desc, *avail, *used;

	/* Bumped by every virtq_reset (device reset, QueueReady 0): a chain taken before
	 * belongs to an earlier life of the queue and is not pushed into this one. */
	uint32_t gen;
};

/* A chain taken from the queue: the readable buffers (driver -> device) come first in
 * iov[0..n_out), then the writable ones in iov[n_out..n_out+n_in). iov points into guest
 * RAM. The caller provides the iov array and its capacity. */
struct virtq_elem {
	uint16_t head;
	unsigned n_out, n_in;
	uint64_t out_len, in_len; /* byte totals */
	unsigned cap;
	struct iovec *iov;
	uint32_t gen; /* the queue's gen when the chain was taken */
};

/* Checks the rings the driver configured (size, alignment, wholly in RAM) and makes the
 * queue ready. Returns 0 or -EINVAL (the queue stays not ready). */
int virtq_start(struct virtq *q, const struct gmem *m) __attribute__((warn_unused_result));

/* Forgets the rings and returns the queue to its reset state (num kept at `num_max`);
 * chains taken before can no longer be pushed (see gen). */
void virtq_reset(struct virtq *q, uint32_t num_max);

/* Takes the next available chain. With EVENT_IDX and notifications wanted, publishes
 * avail_event so that the driver notifies for the next chain; before reporting an empty
 * ring it re-checks after publishing, so no notification can be lost in between.
 * Returns 1 with *e filled, 0 when the ring is empty,
 * -EIO when the guest's ring or descriptors are malformed, -E2BIG when the chain has
 * more buffers than e->cap (both errors leave the queue as it was). */
int virtq_pop(struct virtq *q, const struct gmem *m, struct virtq_elem *e)
	__attribute__((warn_unused_result));

/* Puts back the last chain taken (it will be taken again). */
void virtq_unpop(struct virtq *q);

/* Returns a chain to the driver with `written` bytes written into its writable buffers,
 * and records those pages as written (gmem_written). Does nothing when the queue is not
 * ready or was reset since the chain was taken (a request that completes late). */
void virtq_push(struct virtq *q, struct gmem *m, const struct virtq_elem *e, uint32_t written);

/* virtq_push in two steps, for several chains that the driver must see together (the
 * buffers of one merged virtio-net packet, 5.1.6.4): virtq_fill writes chain e as the
 * used entry `off` places after the next free one, without publishing it; virtq_flush
 * then publishes the next n entries with one used-index update. virtq_fill returns false
 * (and writes nothing) for a chain taken before the queue was disabled or reset; such
 * chains are not counted in n. */
bool virtq_fill(struct virtq *q, struct gmem *m, const struct virtq_elem *e, uint32_t written,
		unsigned off);
void virtq_flush(struct virtq *q, struct gmem *m, unsigned n);

/* After one or more virtq_push: whether the driver wants an interrupt now. */
bool virtq_should_interrupt(struct virtq *q);

/* Asks the driver to notify (true) or not to bother (false) when it adds buffers; with
 * EVENT_IDX this publishes avail_event. After enabling, callers re-check the ring (a
 * buffer added before the driver saw the change would otherwise be missed). */
void virtq_set_notify(struct virtq *q, bool enable);

/* True when the driver has made chains available that were not taken yet. */
bool virtq_has_avail(const struct virtq *q);

/* Helpers over an element's buffers: copy `len` bytes at byte offset `off` of the
 * readable (from_out) or writable (to_in) part. Return the bytes copied. */
size_t virtq_copy_from_out(const struct virtq_elem *e, size_t off, void *dst, size_t len);
size_t virtq_copy_to_in(const struct virtq_elem *e, size_t off, const void *src, size_t len);

#endif
