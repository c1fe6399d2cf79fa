/*
 * The part of chardev.h every backend shares: the input-ready callback to the attached
 * device. Its own mutex (not the backend's buffer lock) makes detaching wait for a
 * callback in progress, so a device can free itself right after detaching.
 */
#include "devices/chardev.h"

void chardev_init(struct chardev *cd, const struct chardev_ops *ops)
{
	cd->ops = ops;
	pthread_mutex_init(&cd->handler_lock, NULL);
	cd->input_fn = NULL;
	cd->input_opaque = NULL;
}

void chardev_fini(struct chardev *cd)
{
	pthread_mutex_destroy(&cd->handler_lock);
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
