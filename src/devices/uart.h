/*
 * ns16550a UART (the 8250 family register set at stride 1) on a console backend
 * (devices/chardev.h): transmitted bytes go to the backend, received bytes come from the
 * backend's input buffer, interrupts on a level line. Only what Linux's 8250 driver and
 * OpenSBI use; no modem lines, no FIFO trigger levels beyond "data ready".
 *
 * Receiving: the backend's buffer is the receive FIFO, and the guest sees it only while
 * it is ready to receive: the receive-data interrupt enabled (IER bit 0), or, for a
 * polling driver, the FIFO enabled (FCR bit 0) with RTS asserted (MCR bit 1). Drivers
 * drain and reset the FIFO blindly while setting up (OpenSBI and Linux read RBR without
 * looking at LSR, and Linux resets the FIFO each time the port is opened), and none of
 * that is "ready": so input typed or piped before the guest reads it is kept, never
 * discarded. For the same reason a FIFO reset (FCR bit 1) discards nothing.
 */
#ifndef LODGE_DEVICES_UART_H
#define LODGE_DEVICES_UART_H

#include <stdbool.h>
#include <stdint.h>

struct bus;
struct chardev;

/* Interrupt line callback: level high/low. */
typedef void (*uart_irq_fn)(void *opaque, bool level);

struct uart;

/* Creates a UART on console backend `con` (NULL: output discarded, no input), mapped at
 * `base` on `bus`, and attaches it to the backend's input. Returns 0 or -errno. */
int uart_create(struct bus *bus, uint64_t base, struct chardev *con, struct uart **out)
	__attribute__((warn_unused_result));
/* Detaches from the backend (which stays open: it belongs to the caller) and frees the
 * UART. NULL is a no-op. */
void uart_destroy(struct uart *u);

/* Stops taking input: detaches from the backend's input, and the guest never sees data
 * ready, because another device (virtio-console) reads the backend; output still goes
 * to it. Main thread, before harts start. */
void uart_disable_input(struct uart *u);

/* Connects the interrupt line (optional). Call before harts start. */
void uart_set_irq(struct uart *u, uart_irq_fn fn, void *opaque);

/* Observer for transmitted bytes (called with the UART lock held; optional). */
typedef void (*uart_tx_fn)(void *opaque, uint8_t c);
void uart_set_tx_hook(struct uart *u, uart_tx_fn fn, void *opaque);

#endif
