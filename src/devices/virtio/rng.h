/*
 * virtio-rng (virtio 1.2, 5.4): one request queue whose writable buffers the device
 * fills with random bytes from the host's getrandom(2).
 */
#ifndef LODGE_DEVICES_VIRTIO_RNG_H
#define LODGE_DEVICES_VIRTIO_RNG_H

#include "core/irq.h"

struct evloop;
struct gmem;
struct vrng;
struct virtio_dev;

int vrng_create(struct gmem *mem, struct evloop *loop, struct irq_line irq, struct vrng **out)
	__attribute__((warn_unused_result));
void vrng_destroy(struct vrng *r);
struct virtio_dev *vrng_virtio(struct vrng *r);

#endif
