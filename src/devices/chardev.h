/*
 * Character device backends: the host side of a guest console. A device model (the UART)
 * writes the guest's output to a backend and takes input from it; the backend keeps the
 * input in its own buffer until the device takes it, so what the user typed or piped
 * before the guest was ready to read is never dropped. Backends today: the terminal or
 * stdio (cli/console.c); a socket or PTY later. The interface is a small ops table plus
 * one callback the other way (input arrived), so a device never depends on a backend.
 *
 * Locking: the backend guards its buffers with its own lock, which a device may take
 * (through the ops) while holding its own lock. The input callback is called with no
 * backend buffer lock held, so it may take the device's lock and call the ops again.
 */
#ifndef LODGE_DEVICES_CHARDEV_H
#define LODGE_DEVICES_CHARDEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chardev;

struct chardev_ops {
	/* Guest output: writes all `len` bytes (blocking while the reader is slow). Returns
	 * 0, or a negative errno once output cannot be delivered (-EPIPE: the reader went
	 * away); output is then discarded and the backend tells its owner. Any thread. */
	int (*write)(struct chardev *cd, const uint8_t *buf, size_t len);
	/* How many input bytes the backend holds for the guest. Any thread. */
	size_t (*input_available)(struct chardev *cd);
	/* Takes up to `len` input bytes, oldest first; returns how many. Any thread. */
	size_t (*read)(struct chardev *cd, uint8_t *buf, size_t len);
	/* Frees the backend. The owner calls it once no device is attached. */
	void (*close)(struct chardev *cd);
};

/* Device side: input became available (see chardev_set_input_handler). */
typedef void (*chardev_input_fn)(void *opaque);

/* Embedded in each backend's own struct (container_of gets back to it). */
struct chardev {
	const struct chardev_ops *ops;
	pthread_mutex_t handler_lock; /* guards input_fn/input_opaque */
	chardev_input_fn input_fn;
	void *input_opaque;
	/* Output held back while replicating (chardev_hold_*), guarded by hold_lock. */
	pthread_mutex_t hold_lock;
	bool holding; /* atomic: chardev_write appends to `held` */
	uint8_t *held;
	size_t held_len, held_cap, held_sealed;
	uint64_t held_dropped; /* bytes past CHARDEV_HOLD_MAX, lost */
};

/* Backend side: sets up the embedded part. chardev_fini undoes it. */
void chardev_init(struct chardev *cd, const struct chardev_ops *ops);
void chardev_fini(struct chardev *cd);

/* Device side: `fn(opaque)` is called, on the backend's thread, whenever input arrives.
 * One device at a time; fn = NULL detaches, and once this returns fn is not running and
 * will not be called again. The caller must not hold a lock that fn takes. */
void chardev_set_input_handler(struct chardev *cd, chardev_input_fn fn, void *opaque);

/* Backend side: tells the attached device (if any) that input is available. Call
 * without holding the backend's buffer lock. */
void chardev_input_ready(struct chardev *cd);

/*
 * Holding output back (Remus-style replication, machine/replicate.c): while holding,
 * guest output is kept in a buffer (at most CHARDEV_HOLD_MAX bytes; more is dropped and
 * counted) instead of reaching the backend. chardev_hold_seal marks what was written so
 * far (a checkpoint covers it), chardev_hold_release writes out what was sealed, in
 * order; chardev_hold_stop writes out everything and stops holding. Any thread; seal,
 * release and stop from one thread at a time.
 */
#define CHARDEV_HOLD_MAX (16u << 20)
void chardev_hold_start(struct chardev *cd);
void chardev_hold_seal(struct chardev *cd);
void chardev_hold_release(struct chardev *cd);
void chardev_hold_stop(struct chardev *cd);
int chardev_hold_write(struct chardev *cd, const uint8_t *buf, size_t len);

static inline int chardev_write(struct chardev *cd, const uint8_t *buf, size_t len)
{
	if (__atomic_load_n(&cd->holding, __ATOMIC_ACQUIRE))
		return chardev_hold_write(cd, buf, len);
	return cd->ops->write(cd, buf, len);
}

static inline size_t chardev_input_available(struct chardev *cd)
{
	return cd->ops->input_available(cd);
}

static inline size_t chardev_read(struct chardev *cd, uint8_t *buf, size_t len)
{
	return cd->ops->read(cd, buf, len);
}

/* Frees the backend; NULL is a no-op. */
static inline void chardev_close(struct chardev *cd)
{
	if (cd)
		cd->ops->close(cd);
}

#endif
