/*
 * virtio-input power button (see input.h). The configuration space answers the driver's
 * select/subsel queries (name, ids, which event types and keys exist); the event queue
 * takes 8-byte events from a small pending ring filled by vinput_press_power; the status
 * queue (LEDs and the like, which a power button has none of) is consumed and ignored.
 */
#include "devices/virtio/input.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/util.h"
#include "devices/device.h"
#include "devices/virtio/virtio.h"

#define VIRTIO_ID_INPUT	 18
#define INPUT_QUEUE_SIZE 64
#define INPUT_PENDING	 64 /* events: 16 presses */

/* virtio_input_config.select values */
#define CFG_UNSET     0x00
#define CFG_ID_NAME   0x01
#define CFG_ID_SERIAL 0x02
#define CFG_ID_DEVIDS 0x03
#define CFG_PROP_BITS 0x10
#define CFG_EV_BITS   0x11
#define CFG_ABS_INFO  0x12

/* Linux input event codes (include/uapi/linux/input-event-codes.h). */
#define EV_SYN	    0x00
#define EV_KEY	    0x01
#define SYN_REPORT  0
#define KEY_POWER   116
#define BUS_VIRTUAL 0x06

#define CFG_SIZE 136 /* select, subsel, size, reserved[5], union of 128 bytes */

struct input_event_le {
	uint16_t type, code;
	uint32_t value;
};

struct vinput {
	struct device dev;
	struct virtio_dev vdev;
	uint8_t select, subsel;
	struct input_event_le pending[INPUT_PENDING]; /* under vdev.lock */
	unsigned head, count;
	struct iovec iov[4];
};

static const char button_name[] = "Lodge power button";

/* The union part of the configuration for the current select/subsel; returns its size. */
static unsigned cfg_payload(const struct vinput *in, uint8_t *u)
{
	memset(u, 0, 128);
	switch (in->select) {
	case CFG_ID_NAME:
		memcpy(u, button_name, sizeof(button_name) - 1);
		return sizeof(button_name) - 1;
	case CFG_ID_DEVIDS: {
		const uint16_t ids[4] = {BUS_VIRTUAL, 0x1af4 /* virtio */, 0x0001, 0x0001};
		memcpy(u, ids, sizeof(ids)); /* little-endian host */
		return sizeof(ids);
	}
	case CFG_EV_BITS:
		if (in->subsel != EV_KEY)
			return 0;
		u[KEY_POWER / 8] = (uint8_t)(1u << (KEY_POWER % 8));
		return KEY_POWER / 8 + 1;
	default:
		return 0; /* no serial, properties, or absolute axes */
	}
}

static void input_config_read(struct virtio_dev *d, uint32_t off, void *buf, unsigned len)
{
	struct vinput *in = container_of(d, struct vinput, vdev);
	uint8_t cfg[CFG_SIZE] = {0};

	cfg[0] = in->select;
	cfg[1] = in->subsel;
	cfg[2] = (uint8_t)cfg_payload(in, cfg + 8);
	if (off < CFG_SIZE && len <= CFG_SIZE - off) /* the transport checked config_size */
		memcpy(buf, cfg + off, len);
}

static void input_config_write(struct virtio_dev *d, uint32_t off, const void *buf, unsigned len)
{
	struct vinput *in = container_of(d, struct vinput, vdev);
	const uint8_t *b = buf;

	/* Only select (0) and subsel (1) are writable. */
	for (unsigned i = 0; i < len; i++) {
		if (off + i == 0)
			in->select = b[i];
		else if (off + i == 1)
			in->subsel = b[i];
	}
}

/* Moves pending events into the driver's event buffers (lock held). */
static void deliver(struct vinput *in)
{
	struct virtio_dev *d = &in->vdev;
	struct virtq *q = &d->vq[0];
	struct virtq_elem e = {.cap = 4, .iov = in->iov};
	bool pushed = false;

	while (in->count && virtio_dev_running(d) && q->ready) {
		int r = virtq_pop(q, d->mem, &e);
		if (r <= 0) {
			if (r < 0)
				virtio_dev_fail(d, "malformed buffer on the event queue");
			break;
		}
		const struct input_event_le *ev = &in->pending[in->head];
		uint32_t n = (uint32_t)virtq_copy_to_in(&e, 0, ev, sizeof(*ev));
		virtq_push(q, d->mem, &e, n);
		pushed = true;
		in->head = (in->head + 1) % INPUT_PENDING;
		in->count--;
	}
	if (pushed)
		virtio_dev_notify_used(d, 0);
}

/* The status queue: LED and similar feedback a power button does not have. */
static void drain_status(struct vinput *in)
{
	struct virtio_dev *d = &in->vdev;
	struct virtq_elem e = {.cap = 4, .iov = in->iov};
	bool pushed = false;
	int r;

	while ((r = virtq_pop(&d->vq[1], d->mem, &e)) > 0) {
		virtq_push(&d->vq[1], d->mem, &e, 0);
		pushed = true;
	}
	if (r < 0)
		virtio_dev_fail(d, "malformed buffer on the status queue");
	if (pushed)
		virtio_dev_notify_used(d, 1);
}

static void input_queue_notify(struct virtio_dev *d, unsigned qi)
{
	struct vinput *in = container_of(d, struct vinput, vdev);

	if (qi == 0)
		deliver(in);
	else
		drain_status(in);
}

static void input_vreset(struct virtio_dev *d)
{
	struct vinput *in = container_of(d, struct vinput, vdev);

	in->select = in->subsel = 0;
	in->head = in->count = 0; /* a press nobody could see is dropped with the driver */
}

static const struct virtio_dev_ops input_vops = {
	.device_id = VIRTIO_ID_INPUT,
	.config_read = input_config_read,
	.config_write = input_config_write,
	.queue_notify = input_queue_notify,
	.reset = input_vreset,
};

static struct vinput *to_input(struct device *dev)
{
	return container_of(dev, struct vinput, dev);
}

static void input_reset(struct device *dev)
{
	virtio_dev_reset(&to_input(dev)->vdev);
}

static int input_save(struct device *dev, struct sbuf *out)
{
	return virtio_dev_save(&to_input(dev)->vdev, out);
}

static int input_load(struct device *dev, struct sreader *in)
{
	struct virtio_dev *d = &to_input(dev)->vdev;
	int r = virtio_dev_load(d, in);

	if (!r)
		virtio_dev_kick_all(d); /* requests made available while quiesced */
	return r;
}

static int input_fdt(struct device *dev, void *fdt, const struct board *b)
{
	return virtio_dev_fdt(&to_input(dev)->vdev, fdt, b);
}

static void input_destroy(struct device *dev)
{
	struct vinput *in = to_input(dev);

	virtio_dev_fini(&in->vdev);
	core_free(in);
}

static const struct device_ops input_ops = {
	.reset = input_reset,
	.save = input_save,
	.load = input_load,
	.fdt = input_fdt,
	.destroy = input_destroy,
};

bool vinput_is_power_button(const struct device *dev)
{
	return dev->ops == &input_ops;
}

int vinput_press_power(struct device *dev)
{
	static const struct input_event_le press[4] = {{EV_KEY, KEY_POWER, 1},
						       {EV_SYN, SYN_REPORT, 0},
						       {EV_KEY, KEY_POWER, 0},
						       {EV_SYN, SYN_REPORT, 0}};
	struct vinput *in = to_input(dev);

	pthread_mutex_lock(&in->vdev.lock);
	if (in->count + 4 > INPUT_PENDING) {
		pthread_mutex_unlock(&in->vdev.lock);
		return -ENOSPC;
	}
	for (unsigned i = 0; i < 4; i++)
		in->pending[(in->head + in->count++) % INPUT_PENDING] = press[i];
	pthread_mutex_unlock(&in->vdev.lock);
	virtio_dev_kick(&in->vdev, 0); /* delivered on the I/O thread */
	return 0;
}

static int input_type_create(struct board *b, const char *args, struct device **out, char *err,
			     size_t errlen)
{
	struct vinput *in;
	int r;

	if (args && *args) {
		snprintf(err, errlen, "--power-button takes no arguments (got '%s')", args);
		return -EINVAL;
	}
	in = core_calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	r = virtio_dev_init(&in->vdev, &input_vops, "virtio-input", b, 0, 2, INPUT_QUEUE_SIZE,
			    CFG_SIZE);
	if (r < 0) {
		core_free(in);
		return r;
	}
	in->dev.ops = &input_ops;
	snprintf(in->dev.name, sizeof(in->dev.name), "power-button");
	*out = &in->dev;
	return 0;
}

static const struct device_type input_type = {
	.name = "virtio-input",
	.option = "power-button",
	.usage = "",
	.help = "a power button (virtio-input KEY_POWER) for requests to power off",
	.order = 60,
	.arg_optional = true,
	.create = input_type_create,
};
DEVICE_TYPE(input_type)
