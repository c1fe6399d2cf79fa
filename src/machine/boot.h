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

#endif
