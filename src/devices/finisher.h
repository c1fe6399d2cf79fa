/*
 * The test finisher / syscon at 0x100000 (QEMU virt's sifive_test): a 32-bit write of
 * 0x5555 ends the machine with status 0 (poweroff), 0x3333 | code << 16 with `code`
 * (fail), 0x7777 asks for a reboot.
 */
#ifndef LODGE_DEVICES_FINISHER_H
#define LODGE_DEVICES_FINISHER_H

#include <stdint.h>

struct vm;

int finisher_init(struct vm *vm, uint64_t base) __attribute__((warn_unused_result));

#endif
