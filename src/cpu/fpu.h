/*
 * The F and D extensions' arithmetic: IEEE 754-2008 binary32/binary64 with the five RISC-V
 * rounding modes, accrued exception flags (fflags), NaN-boxing of binary32 values in the
 * 64-bit f registers, canonical NaNs, saturating conversions (unprivileged spec ch. 11-12).
 * Loads, stores and FS checks are the interpreter's; everything else comes here.
 */
#ifndef LODGE_CPU_FPU_H
#define LODGE_CPU_FPU_H

#include <stdint.h>

#include "cpu/decode.h"

struct hart;

#define FFLAG_NX 1u  /* inexact */
#define FFLAG_UF 2u  /* underflow */
#define FFLAG_OF 4u  /* overflow */
#define FFLAG_DZ 8u  /* divide by zero */
#define FFLAG_NV 16u /* invalid */

enum { RM_RNE = 0, RM_RTZ = 1, RM_RDN = 2, RM_RUP = 3, RM_RMM = 4, RM_DYN = 7 };

/* Executes `kind` (an operation with OPF_FPU) on h's registers. rd/rs1/rs2/rs3 are the raw
 * register numbers; an integer destination rd = 0 is discarded. rm is the instruction's
 * rounding-mode field (7 = use frm). Returns 0, or -1 when the instruction is illegal
 * (reserved rounding mode, static or via frm) and nothing was changed.
 * The caller has checked mstatus.FS != Off; this marks FS dirty when state changes.
 * Hart thread only. */
int fpu_exec(struct hart *h, enum op_kind kind, unsigned rd, unsigned rs1, unsigned rs2,
	     unsigned rs3, unsigned rm);

/* fflags as software sees them (fcsr bits 4:0), and setting them (csrw fflags/fcsr). */
uint32_t fpu_get_fflags(struct hart *h);
void fpu_set_fflags(struct hart *h, uint32_t flags);

#endif
