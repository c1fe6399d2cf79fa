/*
 * The machine's device tree, generated at start with libfdt: cpus (riscv,isa and
 * riscv,isa-extensions), memory, chosen (bootargs, initrd, stdout-path), CLINT, PLIC,
 * UART, RTC, syscon poweroff/reboot and the virtio-mmio slots, at QEMU virt's addresses.
 */
#ifndef LODGE_MACHINE_FDT_H
#define LODGE_MACHINE_FDT_H

#include <stddef.h>
#include <stdint.h>

struct vm;

#define FDT_MAX_SIZE (64u * 1024) /* the generated tree, before the firmware's room */

struct fdt_params {
	const char *bootargs;		   /* may be NULL */
	uint64_t initrd_start, initrd_end; /* 0, 0 when there is none */
};

/* Builds the tree into a new buffer (*blob, owned by the caller: core_free) of *size
 * bytes, with spare room for firmware to add nodes. Returns 0, -ENOMEM, -E2BIG (the tree
 * would exceed FDT_MAX_SIZE: bootargs too long) or -EINVAL. */
int vm_fdt_build(const struct vm *vm, const struct fdt_params *p, void **blob, size_t *size)
	__attribute__((warn_unused_result));

#endif
