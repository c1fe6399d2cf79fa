/*
 * mstatus.FS and the FPU: with FS = Off every FP instruction and every access to
 * fflags/frm/fcsr raises illegal instruction; with FS = Initial or Clean, writing an f
 * register or the flags makes FS Dirty and sets SD (privileged spec 3.1.6.6).
 * Ends with PASS, or FAIL(n) where n is the number of the failing check.
 */
#include "guest.h"

#define FS_MASK	 (3 << 13)
#define FS_INIT	 (1 << 13)
#define FS_CLEAN (2 << 13)
#define FS_DIRTY (3 << 13)
#define SD	 (1 << 63)

/* Expects the previous instruction to have trapped as illegal exactly once more. */
.macro TRAPPED id
	addi s9, s9, 1
	beq s11, s9, 3f
	FAIL(\id)
3:	CHECK_EQ(\id, s10, 2)
	li s10, 0
.endm

/* Sets mstatus.FS to `fs`. */
.macro SETFS fs
	li t0, FS_MASK
	csrc mstatus, t0
	li t0, \fs
	csrs mstatus, t0
.endm

/* Fails with `id` unless mstatus.FS == fs, and SD == (fs == Dirty). */
.macro CHKFS id, fs
	csrr t1, mstatus
	li t0, FS_MASK
	and t2, t1, t0
	CHECK_EQ(\id, t2, \fs)
	srli t2, t1, 63
	CHECK_EQ(\id, t2, ((\fs) >> 13) & ((\fs) >> 14) & 1)	/* 1 iff Dirty */
.endm

	.section .text.init
	.globl _start
_start:
	lla t0, trap
	csrw mtvec, t0
	li s9, 0			/* traps expected */
	li s10, 0			/* last mcause */
	li s11, 0			/* traps taken */
	lla s0, buf

	/* FS = Off: all FP state is inaccessible */
	SETFS 0
	fadd.s f3, f1, f2
	TRAPPED 1
	fmadd.d f3, f1, f2, f4
	TRAPPED 2
	fmv.x.d a0, f1
	TRAPPED 3
	fmv.w.x f1, zero
	TRAPPED 4
	fcvt.d.l f1, zero
	TRAPPED 5
	flw f1, 0(s0)
	TRAPPED 6
	fsd f1, 0(s0)
	TRAPPED 7
	fld f8, 0(s0)			/* c.fld */
	TRAPPED 8
	csrr a0, fflags
	TRAPPED 9
	csrw frm, zero
	TRAPPED 10
	csrr a0, fcsr
	TRAPPED 11
	CHKFS 12, 0

	/* Initial -> Dirty on an arithmetic result */
	SETFS FS_INIT
	CHKFS 13, FS_INIT
	fmv.w.x f1, zero
	CHKFS 14, FS_DIRTY
	SETFS FS_CLEAN
	fadd.d f3, f1, f1
	CHKFS 15, FS_DIRTY
	/* a load into an f register */
	SETFS FS_CLEAN
	fld f2, 0(s0)
	CHKFS 16, FS_DIRTY
	/* writing the flags */
	SETFS FS_CLEAN
	csrwi fflags, 1
	CHKFS 17, FS_DIRTY
	/* a compare that raises NV changes fcsr, so the spec wants Dirty; QEMU (the reference)
	 * leaves FS alone there, so only the flag is checked */
	csrwi fflags, 0
	li t0, 0x7ff0000000000001	/* sNaN */
	fmv.d.x f1, t0
	SETFS FS_CLEAN
	feq.d a0, f1, f1
	CHECK_EQ(18, a0, 0)
	csrr a0, fflags
	CHECK_EQ(19, a0, 16)
	/* a store does not need to dirty the state, but must work while Clean */
	SETFS FS_CLEAN
	li t0, 0x4000000000000000
	fmv.d.x f1, t0
	SETFS FS_CLEAN
	fsd f1, 8(s0)
	ld a0, 8(s0)
	CHECK_EQ(20, a0, 0x4000000000000000)
	beq s11, s9, 4f
	FAIL(21)			/* an unexpected trap */
4:	PASS

	.balign 4
trap:	csrr s10, mcause
	csrr t0, mepc
	lhu t1, 0(t0)			/* step over a 2- or 4-byte instruction */
	andi t1, t1, 3
	addi t0, t0, 2
	li t2, 3
	bne t1, t2, 1f
	addi t0, t0, 2
1:	csrw mepc, t0
	addi s11, s11, 1
	mret

	.data
	.balign 8
buf:	.dword 0x3ff0000000000000, 0
