/*
 * virtio-rng (virtio 1.2, 5.4): one request queue whose writable buffers the device
 * fills with random bytes from the host's getrandom(2).
 */
#ifndef LODGE_DEVICES_VIRTIO_RNG_H
#define LODGE_DEVICES_VIRTIO_RNG_H

struct board;
struct device;

/* Adds a virtio-rng to board `b` (the device type "virtio-rng" does this on every Linux
 * machine). Returns 0, -ENOSPC (no virtio slot left), -ENOMEM. */
int vrng_create(struct board *b, struct device **out) __attribute__((warn_unused_result));

#endif
