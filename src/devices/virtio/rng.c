/*
 * virtio-rng (virtio 1.2, 5.4): one request queue whose writable buffers are filled with
 * random bytes from the host's getrandom(2), at once on the I/O thread. Present on every
 * Linux machine (device type "virtio-rng").
 */
#include "devices/virtio/rng.h"

#include <errno.h>
#include <stdio.h>
#include <sys/random.h>

#include "core/alloc.h"
#include "core/gmem.h"
#include "core/sbuf.h"
#include "core/util.h"
#include "devices/device.h"
#include "devices/virtio/virtio.h"

#define RNG_QUEUE_SIZE 64
#define RNG_MAX_IOV    16
#define RNG_MAX_BYTES  65536 /* per request: a guest cannot make one request take long */

struct vrng {
	struct device dev;
	struct virtio_dev vdev;
	struct iovec iov[RNG_MAX_IOV];
};

static void rng_config_read(struct virtio_dev *d, uint32_t off, void *buf, unsigned len)
{
	(void)d;
	(void)off;
	(void)buf;
	(void)len; /* no configuration space */
}

/* Fills the writable buffers; returns the bytes written. */
static uint32_t fill(struct virtq_elem *e)
{
	uint32_t total = 0;

	for (unsigned i = 0; i < e->n_in && total < RNG_MAX_BYTES; i++) {
		struct iovec *v = &e->iov[e->n_out + i];
		size_t want = v->iov_len, got = 0;
		if (want > RNG_MAX_BYTES - total)
			want = RNG_MAX_BYTES - total;
		while (got < want) {
			uint8_t tmp[256];
			size_t n = want - got < sizeof(tmp) ? want - got : sizeof(tmp);
			ssize_t r = getrandom(tmp, n, 0);
			if (r <= 0)
				return total;
			gmem_copy_to((uint8_t *)v->iov_base + got, tmp, (size_t)r);
			got += (size_t)r;
		}
		total += (uint32_t)got;
	}
	return total;
}

static void rng_queue_notify(struct virtio_dev *d, unsigned qi)
{
	struct vrng *rng = container_of(d, struct vrng, vdev);
	struct virtq *q = &d->vq[qi];
	struct virtq_elem e = {.cap = RNG_MAX_IOV, .iov = rng->iov};
	bool pushed = false;
	int r;

	while ((r = virtq_pop(q, d->mem, &e)) > 0) {
		virtq_push(q, d->mem, &e, fill(&e));
		pushed = true;
	}
	if (r < 0)
		virtio_dev_fail(d, "malformed request on the request queue");
	if (pushed)
		virtio_dev_notify_used(d, qi);
}

static void rng_vreset(struct virtio_dev *d)
{
	(void)d; /* nothing in flight: requests complete inside queue_notify */
}

static const struct virtio_dev_ops rng_vops = {
	.device_id = VIRTIO_ID_RNG,
	.config_read = rng_config_read,
	.queue_notify = rng_queue_notify,
	.reset = rng_vreset,
};

static struct vrng *to_rng(struct device *dev)
{
	return container_of(dev, struct vrng, dev);
}

static void rng_reset(struct device *dev)
{
	virtio_dev_reset(&to_rng(dev)->vdev);
}

static int rng_save(struct device *dev, struct sbuf *out)
{
	return virtio_dev_save(&to_rng(dev)->vdev, out);
}

static int rng_load(struct device *dev, struct sreader *in)
{
	struct virtio_dev *d = &to_rng(dev)->vdev;
	int r = virtio_dev_load(d, in);

	if (!r)
		virtio_dev_kick_all(d); /* requests made available while quiesced */
	return r;
}

static int rng_fdt(struct device *dev, void *fdt, const struct board *b)
{
	return virtio_dev_fdt(&to_rng(dev)->vdev, fdt, b);
}

static void rng_destroy(struct device *dev)
{
	struct vrng *rng = to_rng(dev);

	virtio_dev_fini(&rng->vdev);
	core_free(rng);
}

static const struct device_ops rng_ops = {
	.reset = rng_reset,
	.save = rng_save,
	.load = rng_load,
	.fdt = rng_fdt,
	.destroy = rng_destroy,
};

int vrng_create(struct board *b, struct device **out)
{
	struct vrng *rng = core_calloc(1, sizeof(*rng));
	int r;

	if (!rng)
		return -ENOMEM;
	r = virtio_dev_init(&rng->vdev, &rng_vops, "virtio-rng", b, 0, 1, RNG_QUEUE_SIZE, 0);
	if (r < 0) {
		core_free(rng);
		return r;
	}
	rng->dev.ops = &rng_ops;
	snprintf(rng->dev.name, sizeof(rng->dev.name), "virtio-rng");
	*out = &rng->dev;
	return 0;
}

static int rng_type_create(struct board *b, const char *args, struct device **out, char *err,
			   size_t errlen)
{
	(void)args;
	(void)err;
	(void)errlen;
	return vrng_create(b, out);
}

static const struct device_type rng_type = {
	.name = "virtio-rng",
	.help = "entropy source (always present)",
	.order = 50,
	.always = true,
	.bare = true, /* after the disks (order): at the first virtio slot, 0x10001000, of a
		       * bare-metal program without --disk */
	.create = rng_type_create,
};
DEVICE_TYPE(rng_type)
