/*
 * PLIC (RISC-V platform-level interrupt controller, SiFive layout as on QEMU virt):
 * PLIC_NDEV level-triggered sources, two contexts per hart (M = 2h, S = 2h + 1) that drive
 * the harts' MEIP and SEIP lines. Devices call plic_set_irq from any thread.
 */
#ifndef LODGE_MACHINE_PLIC_H
#define LODGE_MACHINE_PLIC_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct plic;

#define PLIC_BASE 0x0c000000ull
#define PLIC_SIZE 0x00600000ull
#define PLIC_NDEV 95

int plic_create(struct vm *vm, struct plic **out) __attribute__((warn_unused_result));
void plic_destroy(struct plic *p);

/* Any thread: drives source `src` (1..PLIC_NDEV) high or low. */
void plic_set_irq(struct plic *p, unsigned src, bool level);

#endif
