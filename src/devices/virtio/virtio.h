/*
 * A virtio device behind the virtio-mmio transport, version 2 (virtio 1.2, 4.2.2): the
 * register file, feature negotiation, device status, queue set-up, interrupts, and the
 * hand-off of queue notifications from hart threads to the machine's I/O thread.
 *
 * A device type (blk, net, rng, ...) embeds struct virtio_dev and fills a
 * virtio_dev_ops. Queue work happens on the I/O thread (struct evloop): a hart's write to
 * QueueNotify only marks the queue and wakes the loop, so no hart waits for host I/O.
 *
 * Locking: `lock` protects the transport and queue state; MMIO accesses (hart threads)
 * and the I/O thread's queue work both take it. Device callbacks are called with it held.
 * Lock order: virtio_dev.lock -> the interrupt controller's lock.
 */
#ifndef LODGE_DEVICES_VIRTIO_VIRTIO_H
#define LODGE_DEVICES_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/irq.h"
#include "devices/virtio/virtq.h"

struct board;
struct evloop;
struct evloop_notifier;
struct gmem;
struct sbuf;
struct sreader;

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	 1u
#define VIRTIO_STATUS_DRIVER		 2u
#define VIRTIO_STATUS_DRIVER_OK		 4u
#define VIRTIO_STATUS_FEATURES_OK	 8u
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED		 128u

/* Feature bits shared by all devices (6). */
#define VIRTIO_F_INDIRECT_DESC	 28
#define VIRTIO_F_EVENT_IDX	 29
#define VIRTIO_F_VERSION_1	 32
#define VIRTIO_F_ACCESS_PLATFORM 33

/* Interrupt status bits. */
#define VIRTIO_INT_USED	  1u
#define VIRTIO_INT_CONFIG 2u

/* Device IDs (5). */
#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG	  4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK	  19

#define VIRTIO_MMIO_SIZE  0x1000
#define VIRTIO_MAX_QUEUES 8
#define VIRTIO_CONFIG_MAX 256

struct virtio_dev;

struct virtio_dev_ops {
	uint32_t device_id;
	/* Reads `len` bytes of device configuration at `off` into buf (bounds checked by the
	 * transport against config_size). */
	void (*config_read)(struct virtio_dev *d, uint32_t off, void *buf, unsigned len);
	/* Optional: the driver wrote configuration bytes. */
	void (*config_write)(struct virtio_dev *d, uint32_t off, const void *buf, unsigned len);
	/* I/O thread: the driver added buffers to queue q (notified, or re-kicked). */
	void (*queue_notify)(struct virtio_dev *d, unsigned q);
	/* Optional: a bit per queue whose notifications queue_notify handles at once, on the
	 * notifying hart's thread (lock held), instead of the I/O thread: for work that is
	 * short and never waits for the host, where a driver spins until its buffer comes
	 * back (virtio-console's transmitq). Re-kicks (virtio_dev_kick) still go to the I/O
	 * thread. */
	uint32_t inline_notify;
	/* The driver reset the device (status 0) or it is being reset with the machine:
	 * forget in-flight work (completions that arrive later must not touch the queues). */
	void (*reset)(struct virtio_dev *d);
	/* Optional: the driver set DRIVER_OK (queues are set up). */
	void (*driver_ok)(struct virtio_dev *d);
	/* Optional: save/load the device type's own state (the transport saves its own and
	 * the queues'). Return 0 or -errno. */
	int (*save)(struct virtio_dev *d, struct sbuf *out);
	int (*load)(struct virtio_dev *d, struct sreader *in);
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	char name[32]; /* "virtio-blk0": used in log lines */
	struct gmem *mem;
	struct evloop *loop;
	struct irq_line irq;
	uint64_t base;	  /* MMIO window */
	unsigned irq_num; /* PLIC source */
	pthread_mutex_t lock;

	uint64_t host_features;	  /* offered */
	uint64_t driver_features; /* accepted by the driver */
	uint32_t status;
	uint32_t isr; /* interrupt status, atomic */
	uint32_t config_gen;
	uint32_t config_size;
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel;
	unsigned nqueues;
	uint32_t queue_max; /* QueueNumMax for every queue */
	struct virtq vq[VIRTIO_MAX_QUEUES];

	uint32_t notify_pending; /* atomic: bit per queue notified by a hart */
	struct evloop_notifier *notifier;
	bool broken_logged;
	uint64_t failures; /* times the device needed a reset, for rate-limiting the log */
	uint64_t warnings; /* virtio_dev_warn calls, likewise */
};

/* Initialises the transport part of a device on board `b`: takes a virtio-mmio slot and
 * its interrupt, and maps the register window on the bus. `features` are the device-type
 * feature bits (VERSION_1, INDIRECT_DESC and EVENT_IDX are added). Call on the main
 * thread before harts run. Returns 0, -EINVAL (bad queue counts), -ENOSPC (no slot
 * left), -ENOMEM. */
int virtio_dev_init(struct virtio_dev *d, const struct virtio_dev_ops *ops, const char *name,
		    struct board *b, uint64_t features, unsigned nqueues, uint32_t queue_max,
		    uint32_t config_size) __attribute__((warn_unused_result));
void virtio_dev_fini(struct virtio_dev *d);

/* The device-tree node of the device's slot ("virtio,mmio", reg, interrupts): for
 * device_ops.fdt. */
int virtio_dev_fdt(const struct virtio_dev *d, void *fdt, const struct board *b);

/* Bus callbacks for the device's 0x1000-byte MMIO window (hart threads). */
int virtio_mmio_read(void *opaque, uint64_t off, unsigned size, uint64_t *out);
int virtio_mmio_write(void *opaque, uint64_t off, unsigned size, uint64_t val);

/* Machine reset (takes the lock): as if the driver wrote status 0. */
void virtio_dev_reset(struct virtio_dev *d);

/* Lock held: true when the driver finished set-up and the device is not broken. */
bool virtio_dev_running(const struct virtio_dev *d);

/* Lock held: the guest did something invalid. Sets DEVICE_NEEDS_RESET, raises a
 * configuration-change interrupt, logs once (until the next reset; and of a device that
 * keeps failing only the first 8 and then every 2^k-th failure), and stops queue
 * processing until the driver resets the device. */
void virtio_dev_fail(struct virtio_dev *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Lock held: logs a warning about something the guest did that the device survives (a
 * dropped packet, a page number outside RAM), prefixed with the device's name and
 * rate-limited as virtio_dev_fail's line is, whatever the resets in between. Callers
 * that want one line per reset cycle at most keep their own flag too. */
void virtio_dev_warn(struct virtio_dev *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Lock held: after pushing used buffers on queue q, interrupts the driver if it wants. */
void virtio_dev_notify_used(struct virtio_dev *d, unsigned q);

/* Lock held: the configuration changed (bumps the generation, interrupts). */
void virtio_dev_config_changed(struct virtio_dev *d);

/* Any thread: makes queue_notify(q) run on the I/O thread soon, as a guest kick would. */
void virtio_dev_kick(struct virtio_dev *d, unsigned q);

/* Any thread: virtio_dev_kick on every queue. A device's load calls it once its whole
 * state is in place: a request the driver made available while the source machine was
 * quiesced (its notify came then, and the quiesced device took nothing) is in the rings
 * the state holds, and no notify will come for it again on this machine. */
void virtio_dev_kick_all(struct virtio_dev *d);

/* Lock held: whether feature `bit` was negotiated. */
static inline bool virtio_has_feature(const struct virtio_dev *d, unsigned bit)
{
	return (d->driver_features >> bit) & 1;
}

/* Save/load of the transport and queue state, then the device type's (ops->save/load).
 * Call with the machine paused. Return 0 or -errno (-EINVAL for a malformed record). */
int virtio_dev_save(struct virtio_dev *d, struct sbuf *out);
int virtio_dev_load(struct virtio_dev *d, struct sreader *in);

#endif
