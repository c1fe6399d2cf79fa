/*
 * virtio-input (virtio 1.2, 5.8) as a power button: a device with one key, KEY_POWER,
 * that the host presses to ask the guest to power off (the daemon's `lodge stop`). Linux
 * (CONFIG_VIRTIO_INPUT, evdev) reports it as an input device; systemd-logind powers off on
 * KEY_POWER, and busybox's acpid runs /etc/acpi/PWRF/00000080 (Lodge's default guest
 * powers off from it). Added by `lodge run --power-button`.
 */
#ifndef LODGE_DEVICES_VIRTIO_INPUT_H
#define LODGE_DEVICES_VIRTIO_INPUT_H

#include <stdbool.h>

struct device;

/* True if `dev` is a power button made by this module. */
bool vinput_is_power_button(const struct device *dev);

/* Any thread: presses and releases the button (EV_KEY KEY_POWER 1, SYN, 0, SYN). The
 * events wait in the device until the driver has buffers for them. Returns 0, or -ENOSPC
 * when the driver took none of the last presses yet (it is not listening). */
int vinput_press_power(struct device *dev);

#endif
