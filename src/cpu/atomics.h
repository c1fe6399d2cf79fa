/*
 * The A extension (unprivileged spec ch. 8): LR/SC and the AMOs, one implementation for
 * the interpreter (exec.c) and translated code (jit/). Guest RAM is reached through the
 * data TLB or the page walker (mmu_atomic_ptr), and the host's atomic instructions give
 * the AMOs their atomicity against other harts. Hart thread only.
 */
#ifndef LODGE_CPU_ATOMICS_H
#define LODGE_CPU_ATOMICS_H

#include <stdint.h>

struct hart;

/* Performs operation `kind` (OP_LR_W .. OP_AMOMAXU_D, cpu/decode.h) at guest virtual
 * address va with src (rs2's value; unused by LR) and sets *rd to what rd receives: the
 * loaded or old value (sign-extended for .W), or SC's 0 on success, 1 on failure. Returns
 * 0, or the exception cause (misaligned, access or page fault; h->fault_tval set) when
 * nothing was accessed. An LR records the reservation; an SC ends it either way. */
int hart_amo(struct hart *h, unsigned kind, uint64_t va, uint64_t src, uint64_t *rd)
	__attribute__((warn_unused_result));

#endif
