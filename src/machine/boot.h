/*
 * Loading guest software into RAM: bare-metal ELF programs (at their physical addresses).
 * Errors are logged here, naming the file and the reason.
 */
#ifndef LODGE_MACHINE_BOOT_H
#define LODGE_MACHINE_BOOT_H

#include <stdint.h>

struct vm;

/* Loads every PT_LOAD segment of the 64-bit RISC-V ELF at `path` at its physical address
 * (p_paddr), zero-filling up to p_memsz; finds the `tohost`/`fromhost` symbols for HTIF.
 * Returns 0 with *entry set, or -errno: -ENOENT/-EACCES (cannot open), -ENOEXEC (not a
 * loadable RV64 ELF), -ERANGE (a segment lies outside RAM). */
int boot_load_elf(struct vm *vm, const char *path, uint64_t *entry)
	__attribute__((warn_unused_result));

struct boot_linux {
	const char *firmware; /* OpenSBI fw_dynamic.bin / fw_jump.bin (raw or ELF) */
	const char *kernel;   /* RISC-V Linux Image (as Debian ships it) */
	const char *initrd;   /* may be NULL */
	const char *cmdline;  /* may be NULL */
	const char *dump_dtb; /* write the device tree here too (may be NULL) */
};

/* Lays out firmware at RAM start, the kernel at RAM + its text_offset, the initrd and the
 * device tree at the top of RAM, OpenSBI's fw_dynamic info below the tree, and points
 * every hart at the firmware with a0 = hart id, a1 = tree, a2 = info (the RISC-V Linux
 * and OpenSBI boot conventions). Errors are logged with the file and reason.
 * Returns 0 or -errno (-ENOEXEC bad image, -E2BIG does not fit in RAM). */
int boot_load_linux(struct vm *vm, const struct boot_linux *b) __attribute__((warn_unused_result));

#endif
