/*
 * ns16550a UART (the 8250 family register set at stride 1): transmit to a host fd,
 * receive from a host fd through a small FIFO fed by an input thread, interrupts on a
 * level line. Only what Linux's 8250 driver and OpenSBI use; no modem lines, no FIFO
 * trigger levels beyond "data ready".
 */
#ifndef LODGE_DEVICES_UART_H
#define LODGE_DEVICES_UART_H

#include <stdbool.h>
#include <stdint.h>

struct bus;

/* Interrupt line callback: level high/low. */
typedef void (*uart_irq_fn)(void *opaque, bool level);

struct uart;

/* Creates a UART writing to out_fd, mapped at `base` on `bus`. Returns 0 or -errno. */
int uart_create(struct bus *bus, uint64_t base, int out_fd, struct uart **out)
	__attribute__((warn_unused_result));
void uart_destroy(struct uart *u);

/* Connects the interrupt line (optional). Call before harts start. */
void uart_set_irq(struct uart *u, uart_irq_fn fn, void *opaque);

/* Observer for transmitted bytes (called with the UART lock held; optional). */
typedef void (*uart_tx_fn)(void *opaque, uint8_t c);
void uart_set_tx_hook(struct uart *u, uart_tx_fn fn, void *opaque);

/* Any thread: queues received bytes; returns how many fitted. */
unsigned uart_receive(struct uart *u, const uint8_t *buf, unsigned len);

#endif
