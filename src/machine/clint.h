/*
 * CLINT (SiFive core-local interruptor, as on QEMU virt): per-hart msip (software
 * interrupt) and mtimecmp (timer), one shared mtime at 10 MHz from the host's monotonic
 * clock. Registered on the machine's bus.
 */
#ifndef LODGE_MACHINE_CLINT_H
#define LODGE_MACHINE_CLINT_H

#include <stdint.h>

struct vm;

#define CLINT_SIZE	  0x10000
#define CLINT_TIMEBASE_HZ 10000000u

/* Maps the CLINT at vm->bus address `base`. Returns 0 or -errno. */
int clint_init(struct vm *vm, uint64_t base) __attribute__((warn_unused_result));

#endif
