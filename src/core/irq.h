/*
 * Interrupt lines: how a device drives an input of an interrupt controller (a PLIC
 * source, a hart's MSIP/MTIP/MEIP/SEIP) without knowing what is at the other end, as
 * QEMU's qemu_irq does. The board connects each line when it assembles the machine.
 * irq_set may be called from any thread; the receiver makes it thread-safe.
 */
#ifndef LODGE_CORE_IRQ_H
#define LODGE_CORE_IRQ_H

#include <stdbool.h>
#include <stddef.h>

typedef void (*irq_fn)(void *opaque, unsigned n, bool level);

struct irq_line {
	irq_fn fn; /* NULL: not connected, levels are dropped */
	void *opaque;
	unsigned n; /* which input of the receiver */
};

static inline void irq_set(const struct irq_line *l, bool level)
{
	if (l->fn)
		l->fn(l->opaque, l->n, level);
}

#endif
