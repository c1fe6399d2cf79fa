/*
 * virtio-console (virtio 1.2, 5.3) with one port, the machine's console: receiveq 0
 * carries the console backend's input (devices/chardev.h) to the guest, transmitq 1 the
 * guest's output to it; with MULTIPORT negotiated, the control queues 2 and 3 announce
 * the port as a console and tell when the guest opened it. Linux names the port hvc0
 * (boot with console=hvc0). The device takes the backend's input handler, so the UART
 * stays output-only beside it (device_type.console).
 */
#ifndef LODGE_DEVICES_VIRTIO_CONSOLE_H
#define LODGE_DEVICES_VIRTIO_CONSOLE_H

#include <stddef.h>

struct board;
struct device;

/* Queue indexes and sizes (for tests and the device-tree reader). */
#define VCON_RXQ	0
#define VCON_TXQ	1
#define VCON_CTRL_RXQ	2 /* device -> driver control messages (MULTIPORT) */
#define VCON_CTRL_TXQ	3 /* driver -> device */
#define VCON_QUEUE_SIZE 128
/* Guest output accepted but not yet written to the backend, at most. */
#define VCON_OUT_BUF 65536

/* Adds a virtio-console to board `b`, on b->console (NULL: output discarded, no input):
 * the device type "virtio-console" (option --virtio-console) calls this. `args` takes
 * no keys (NULL or ""); anything else is -EINVAL with one line in `err`. Main thread,
 * before the machine's I/O thread starts. Returns 0, -EINVAL, -ENOSPC (no virtio slot
 * left), -ENOMEM. */
int vcon_create(struct board *b, const char *args, struct device **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
