/*
 * The part of chardev.h every backend shares: the input-ready callback to the attached
 * device. Its own mutex (not the backend's buffer lock) makes detaching wait for a
 * callback in progress, so a device can free itself right after detaching.
 */
#include "devices/chardev.h"

#include <string.h>

#include "core/alloc.h"
#include "core/log.h"

void chardev_init(struct chardev *cd, const struct chardev_ops *ops)
{
	cd->ops = ops;
	pthread_mutex_init(&cd->handler_lock, NULL);
	cd->input_fn = NULL;
	cd->input_opaque = NULL;
	pthread_mutex_init(&cd->hold_lock, NULL);
	cd->holding = false;
	cd->held = NULL;
	cd->held_len = cd->held_cap = cd->held_sealed = 0;
	cd->held_dropped = 0;
}

void chardev_fini(struct chardev *cd)
{
	pthread_mutex_destroy(&cd->handler_lock);
	pthread_mutex_destroy(&cd->hold_lock);
	core_free(cd->held);
}

void chardev_hold_start(struct chardev *cd)
{
	pthread_mutex_lock(&cd->hold_lock);
	cd->held_len = cd->held_sealed = 0;
	__atomic_store_n(&cd->holding, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&cd->hold_lock);
}

int chardev_hold_write(struct chardev *cd, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&cd->hold_lock);
	if (!cd->holding) { /* stopped meanwhile: what was held is out already */
		pthread_mutex_unlock(&cd->hold_lock);
		return cd->ops->write(cd, buf, len);
	}
	if (cd->held_len + len > cd->held_cap && cd->held_cap < CHARDEV_HOLD_MAX) {
		size_t cap = cd->held_cap ? cd->held_cap : 4096;
		uint8_t *p;
		while (cap < cd->held_len + len && cap < CHARDEV_HOLD_MAX)
			cap *= 2;
		if (cap > CHARDEV_HOLD_MAX)
			cap = CHARDEV_HOLD_MAX;
		p = core_realloc(cd->held, cap);
		if (p) {
			cd->held = p;
			cd->held_cap = cap;
		}
	}
	if (len > cd->held_cap - cd->held_len) {
		cd->held_dropped += len - (cd->held_cap - cd->held_len);
		len = cd->held_cap - cd->held_len;
	}
	if (len)
		memcpy(cd->held + cd->held_len, buf, len);
	cd->held_len += len;
	pthread_mutex_unlock(&cd->hold_lock);
	return 0;
}

void chardev_hold_seal(struct chardev *cd)
{
	pthread_mutex_lock(&cd->hold_lock);
	cd->held_sealed = cd->held_len;
	pthread_mutex_unlock(&cd->hold_lock);
}

void chardev_hold_release(struct chardev *cd)
{
	uint8_t *out = NULL;
	size_t n;

	pthread_mutex_lock(&cd->hold_lock);
	n = cd->held_sealed;
	if (n)
		out = core_alloc(n);
	if (out) {
		memcpy(out, cd->held, n);
		memmove(cd->held, cd->held + n, cd->held_len - n);
		cd->held_len -= n;
		cd->held_sealed = 0;
	}
	pthread_mutex_unlock(&cd->hold_lock);
	if (out && cd->ops->write(cd, out, n) < 0)
		log_debug("console: released output could not be written");
	core_free(out);
}

void chardev_hold_stop(struct chardev *cd)
{
	pthread_mutex_lock(&cd->hold_lock);
	if (cd->holding && cd->held_len && cd->ops->write(cd, cd->held, cd->held_len) < 0)
		log_debug("console: released output could not be written");
	cd->held_len = cd->held_sealed = 0;
	__atomic_store_n(&cd->holding, false, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&cd->hold_lock);
}

void chardev_set_input_handler(struct chardev *cd, chardev_input_fn fn, void *opaque)
{
	pthread_mutex_lock(&cd->handler_lock);
	cd->input_fn = fn;
	cd->input_opaque = opaque;
	pthread_mutex_unlock(&cd->handler_lock);
	/* Input may have arrived before the device attached: let it look now. */
	if (fn)
		chardev_input_ready(cd);
}

void chardev_input_ready(struct chardev *cd)
{
	pthread_mutex_lock(&cd->handler_lock);
	if (cd->input_fn)
		cd->input_fn(cd->input_opaque);
	pthread_mutex_unlock(&cd->handler_lock);
}
