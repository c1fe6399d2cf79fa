/*
 * F extension (binary32) in M-mode: arithmetic, exceptions and their fflags, NaN rules,
 * min/max, sign injection, compares, fclass, int<->float conversions with saturation,
 * fmv, NaN-boxing of inputs and results, flw/fsw, the fused multiply-add family.
 * Every check reads the raw 64-bit register (fmv.x.d) so result boxing is checked too.
 * Ends with PASS, or FAIL(n) where n is the number of the failing check.
 */
#include "guest.h"

#define BOX 0xffffffff00000000

/* binary32 bit patterns */
#define ONE	0x3f800000
#define TWO	0x40000000
#define THREE	0x40400000
#define HALF	0x3f000000
#define MONE	0xbf800000
#define PZERO	0x00000000
#define NZERO	0x80000000
#define PINF	0x7f800000
#define NINF	0xff800000
#define QNAN	0x7fc00000
#define SNAN	0x7f800001
#define MAX	0x7f7fffff
#define MINNORM 0x00800000
#define MINSUB	0x00000001

#define NX 1
#define UF 2
#define OF 4
#define DZ 8
#define NV 16

/* f = boxed binary32 bits */
.macro LDS freg, bits
	li t0, \bits
	fmv.w.x \freg, t0
.endm

/* Reads and clears fflags; fails with `id` unless they equal `flags`. */
.macro CHKFL id, flags
	csrrw t1, fflags, zero
	CHECK_EQ(\id, t1, \flags)
.endm

/* The raw 64 bits of an f register must be the boxed binary32 `bits`. */
.macro CHKS id, freg, bits
	fmv.x.d t1, \freg
	CHECK_EQ(\id, t1, BOX | \bits)
.endm

/* f3 = op(f1, f2) with the rounding mode field `rm` (dyn uses frm = RNE here). */
.macro S2R id, op, rm, a, b, res, flags
	LDS f1, \a
	LDS f2, \b
	\op f3, f1, f2, \rm
	CHKS \id, f3, \res
	CHKFL \id, \flags
.endm

/* f3 = op(f1, f2), no rounding mode (sign injection, min/max). */
.macro S2 id, op, a, b, res, flags
	LDS f1, \a
	LDS f2, \b
	\op f3, f1, f2
	CHKS \id, f3, \res
	CHKFL \id, \flags
.endm

/* f3 = op(f1) with a rounding mode (sqrt). */
.macro S1R id, op, rm, a, res, flags
	LDS f1, \a
	\op f3, f1, \rm
	CHKS \id, f3, \res
	CHKFL \id, \flags
.endm

/* a0 = op(f1, f2): compares. */
.macro SCMP id, op, a, b, res, flags
	LDS f1, \a
	LDS f2, \b
	\op a0, f1, f2
	CHECK_EQ(\id, a0, \res)
	CHKFL \id, \flags
.endm

/* a0 = fclass.s(f1) */
.macro SCLASS id, a, res
	LDS f1, \a
	fclass.s a0, f1
	CHECK_EQ(\id, a0, \res)
	CHKFL \id, 0
.endm

/* a0 = fcvt.{w,wu,l,lu}.s(f1) */
.macro S2I id, op, rm, a, res, flags
	LDS f1, \a
	\op a0, f1, \rm
	CHECK_EQ(\id, a0, \res)
	CHKFL \id, \flags
.endm

/* f3 = fcvt.s.{w,wu,l,lu}(a1) */
.macro I2S id, op, rm, x, res, flags
	li a1, \x
	\op f3, a1, \rm
	CHKS \id, f3, \res
	CHKFL \id, \flags
.endm

/* f3 = op(f1, f2, f4): the fused multiply-add family. */
.macro S3R id, op, rm, a, b, c, res, flags
	LDS f1, \a
	LDS f2, \b
	LDS f4, \c
	\op f3, f1, f2, f4, \rm
	CHKS \id, f3, \res
	CHKFL \id, \flags
.endm

	.section .text.init
	.globl _start
_start:
	li t0, 0x2000			/* mstatus.FS = Initial */
	csrs mstatus, t0
	csrwi fcsr, 0			/* frm = RNE, no flags */

	/* arithmetic */
	S2R 1, fadd.s, dyn, 0x3fc00000, 0x40100000, 0x40700000, 0	/* 1.5 + 2.25 = 3.75 */
	S2R 2, fsub.s, dyn, 0x3fc00000, 0x40100000, 0xbf400000, 0	/* = -0.75 */
	S2R 3, fmul.s, dyn, 0x3fc00000, 0x40100000, 0x40580000, 0	/* = 3.375 */
	S2R 4, fdiv.s, dyn, 0x40700000, 0x3fc00000, 0x40200000, 0	/* 3.75 / 1.5 = 2.5 */
	S2R 5, fdiv.s, rne, ONE, THREE, 0x3eaaaaab, NX
	S1R 6, fsqrt.s, rne, 0x40800000, TWO, 0
	S1R 7, fsqrt.s, dyn, TWO, 0x3fb504f3, NX
	S1R 8, fsqrt.s, rne, MONE, QNAN, NV
	S1R 9, fsqrt.s, rne, NZERO, NZERO, 0
	S2R 10, fdiv.s, rne, ONE, PZERO, PINF, DZ
	S2R 11, fdiv.s, rne, MONE, PZERO, NINF, DZ
	S2R 12, fdiv.s, rne, PZERO, PZERO, QNAN, NV
	S2R 13, fmul.s, rne, MAX, TWO, PINF, OF | NX
	S2R 14, fmul.s, rne, MINNORM, HALF, 0x00400000, 0		/* exact subnormal */
	S2R 15, fmul.s, rne, MINSUB, HALF, PZERO, UF | NX
	S2R 16, fadd.s, rne, MINSUB, MINSUB, 0x00000002, 0
	S2R 17, fadd.s, rne, PINF, NINF, QNAN, NV
	S2R 18, fmul.s, rne, PZERO, PINF, QNAN, NV
	S2R 19, fadd.s, rne, SNAN, ONE, QNAN, NV
	S2R 20, fadd.s, rne, 0x7fc12345, ONE, QNAN, 0		/* payload not propagated */
	S2R 21, fsub.s, rne, ONE, ONE, PZERO, 0
	S2R 22, fsub.s, rdn, ONE, ONE, NZERO, 0
	S2R 23, fadd.s, rne, NZERO, NZERO, NZERO, 0
	S2R 24, fmul.s, rne, NZERO, TWO, NZERO, 0

	/* min/max (minimumNumber/maximumNumber) and sign injection */
	S2 25, fmin.s, NZERO, PZERO, NZERO, 0
	S2 26, fmin.s, PZERO, NZERO, NZERO, 0
	S2 27, fmax.s, NZERO, PZERO, PZERO, 0
	S2 28, fmin.s, QNAN, ONE, ONE, 0
	S2 29, fmax.s, SNAN, ONE, ONE, NV
	S2 30, fmin.s, QNAN, 0x7fc00001, QNAN, 0
	S2 31, fmax.s, SNAN, QNAN, QNAN, NV
	S2 32, fmin.s, ONE, TWO, ONE, 0
	S2 33, fmax.s, MONE, 0xc0000000, MONE, 0
	S2 34, fmin.s, NINF, MAX, NINF, 0
	S2 35, fsgnj.s, ONE, MONE, MONE, 0
	S2 36, fsgnjn.s, ONE, MONE, ONE, 0
	S2 37, fsgnjx.s, MONE, MONE, ONE, 0
	S2 38, fsgnj.s, SNAN, ONE, SNAN, 0			/* no NV, payload kept */
	S2 39, fsgnjn.s, QNAN, QNAN, 0xffc00000, 0

	/* compares: feq quiet, flt/fle signaling */
	SCMP 40, feq.s, ONE, ONE, 1, 0
	SCMP 41, feq.s, PZERO, NZERO, 1, 0
	SCMP 42, feq.s, QNAN, ONE, 0, 0
	SCMP 43, feq.s, SNAN, ONE, 0, NV
	SCMP 44, flt.s, QNAN, ONE, 0, NV
	SCMP 45, fle.s, ONE, QNAN, 0, NV
	SCMP 46, fle.s, NZERO, PZERO, 1, 0
	SCMP 47, flt.s, NZERO, PZERO, 0, 0
	SCMP 48, flt.s, 0xc0000000, MONE, 1, 0
	SCMP 49, fle.s, TWO, ONE, 0, 0

	/* fclass: all ten classes */
	SCLASS 50, NINF, 1 << 0
	SCLASS 51, MONE, 1 << 1
	SCLASS 52, 0x807fffff, 1 << 2
	SCLASS 53, NZERO, 1 << 3
	SCLASS 54, PZERO, 1 << 4
	SCLASS 55, MINSUB, 1 << 5
	SCLASS 56, ONE, 1 << 6
	SCLASS 57, PINF, 1 << 7
	SCLASS 58, SNAN, 1 << 8
	SCLASS 59, QNAN, 1 << 9

	/* float -> int: rounding and the saturation table */
	S2I 60, fcvt.w.s, rtz, 0x40200000, 2, NX			/* 2.5 */
	S2I 61, fcvt.w.s, rne, 0xc0200000, -2, NX			/* -2.5 */
	S2I 62, fcvt.w.s, rmm, 0xc0200000, -3, NX
	S2I 63, fcvt.w.s, rtz, 0x4f32d05e, 0x7fffffff, NV		/* 3e9 */
	S2I 64, fcvt.w.s, rtz, NINF, 0xffffffff80000000, NV
	S2I 65, fcvt.w.s, rtz, QNAN, 0x7fffffff, NV
	S2I 66, fcvt.w.s, rtz, 0xcf000000, 0xffffffff80000000, 0	/* -2^31 fits */
	S2I 67, fcvt.wu.s, rtz, MONE, 0, NV
	S2I 68, fcvt.wu.s, rtz, 0x4f32d05e, 0xffffffffb2d05e00, 0	/* sign-extended */
	S2I 69, fcvt.wu.s, rtz, SNAN, 0xffffffffffffffff, NV
	S2I 70, fcvt.wu.s, rtz, 0xbf000000, 0, NX			/* -0.5 -> 0 */
	S2I 71, fcvt.l.s, rtz, 0x4f32d05e, 3000000000, 0
	S2I 72, fcvt.l.s, rtz, NINF, 0x8000000000000000, NV
	S2I 73, fcvt.l.s, rtz, 0x5f000000, 0x7fffffffffffffff, NV	/* 2^63 */
	S2I 74, fcvt.lu.s, rtz, PINF, 0xffffffffffffffff, NV
	S2I 75, fcvt.lu.s, rtz, 0x5f7fffff, 0xffffff0000000000, 0
	S2I 76, fcvt.lu.s, rne, 0xbf400000, 0, NV			/* -0.75 -> -1 */

	/* int -> float */
	I2S 77, fcvt.s.w, rne, -7, 0xc0e00000, 0
	I2S 78, fcvt.s.w, rne, 0x12345678ffffffff, MONE, 0		/* low 32 bits only */
	I2S 79, fcvt.s.wu, rne, 0xffffffff, 0x4f800000, NX
	I2S 80, fcvt.s.wu, rtz, 0xffffffff, 0x4f7fffff, NX
	I2S 81, fcvt.s.l, rne, 16777217, 0x4b800000, NX		/* 2^24 + 1: tie */
	I2S 82, fcvt.s.l, rmm, 16777217, 0x4b800001, NX
	I2S 83, fcvt.s.lu, rne, 0xffffffffffffffff, 0x5f800000, NX
	I2S 84, fcvt.s.l, rne, 0x8000000000000000, 0xdf000000, 0
	I2S 85, fcvt.s.w, rne, 0, PZERO, 0

	/* fmv.x.w sign-extends the low 32 bits; fmv.w.x boxes */
	LDS f1, MONE
	fmv.x.w a0, f1
	CHECK_EQ(86, a0, 0xffffffffbf800000)
	li t0, 0x1234567887654321
	fmv.d.x f1, t0
	fmv.x.w a0, f1				/* raw bits, even when not boxed */
	CHECK_EQ(87, a0, 0xffffffff87654321)
	li t0, 0x123456789abcdef0
	fmv.w.x f3, t0
	CHKS 88, f3, 0x9abcdef0

	/* NaN-boxing: an improperly boxed input is the canonical NaN */
	li t0, 0x000000003f800000		/* 1.0f without the box */
	fmv.d.x f1, t0
	LDS f2, ONE
	fadd.s f3, f1, f2
	CHKS 89, f3, QNAN
	CHKFL 89, 0
	fsgnj.s f3, f1, f2
	CHKS 90, f3, QNAN
	fsgnjn.s f3, f1, f2
	CHKS 91, f3, 0xffc00000
	fclass.s a0, f1
	CHECK_EQ(92, a0, 1 << 9)
	feq.s a0, f1, f1
	CHECK_EQ(93, a0, 0)
	CHKFL 93, 0
	fmax.s f3, f1, f2
	CHKS 94, f3, ONE
	li t0, 0xfffffffe3f800000		/* one box bit missing */
	fmv.d.x f1, t0
	fmul.s f3, f1, f2
	CHKS 95, f3, QNAN

	/* flw boxes, fsw stores 32 bits */
	lla s0, buf
	li t0, 0x40490fdb
	sw t0, 0(s0)
	flw f3, 0(s0)
	CHKS 96, f3, 0x40490fdb
	li t0, 0x1111111122222222
	sd t0, 8(s0)
	fsw f3, 8(s0)
	ld a0, 8(s0)
	CHECK_EQ(97, a0, 0x1111111140490fdb)

	/* fused multiply-add: one rounding */
	S3R 98, fmadd.s, rne, 0x3f800001, 0x3f800001, 0xbf800002, 0x28800000, 0 /* = 2^-46 */
	S3R 99, fmsub.s, rne, ONE, TWO, THREE, MONE, 0
	S3R 100, fnmsub.s, rne, ONE, TWO, THREE, ONE, 0
	S3R 101, fnmadd.s, rne, ONE, TWO, THREE, 0xc0a00000, 0
	S3R 102, fmadd.s, rne, PZERO, PINF, QNAN, QNAN, NV		/* 0*inf even + qNaN */
	S3R 103, fmadd.s, rne, PINF, ONE, NINF, QNAN, NV
	S3R 104, fmadd.s, rne, ONE, ONE, 0x33800000, ONE, NX		/* 1 + 2^-24 tie */
	S3R 105, fmadd.s, rmm, ONE, ONE, 0x33800000, 0x3f800001, NX
	S3R 106, fmadd.s, rdn, ONE, ONE, MONE, NZERO, 0
	S3R 107, fmadd.s, rne, MAX, TWO, 0xff7fffff, MAX, 0		/* 2max - max exact */
	S3R 108, fmadd.s, rne, ONE, ONE, SNAN, QNAN, NV

	/* flags accrue until written */
	LDS f1, ONE
	LDS f2, PZERO
	LDS f4, THREE
	fdiv.s f3, f1, f2		/* DZ */
	fdiv.s f3, f1, f4		/* NX */
	fadd.s f3, f1, f1		/* nothing */
	csrr a0, fflags
	CHECK_EQ(109, a0, DZ | NX)
	feq.s a0, f1, f1		/* nothing */
	fle.s a0, f1, f3
	csrr a0, fcsr
	CHECK_EQ(110, a0, DZ | NX)
	LDS f2, SNAN
	feq.s a0, f1, f2		/* NV */
	CHKFL 111, DZ | NX | NV
	csrwi fflags, 0x1f
	fadd.s f3, f1, f1
	CHKFL 112, 0x1f
	csrr a0, fflags
	CHECK_EQ(113, a0, 0)

	PASS

	.data
	.balign 8
buf:	.dword 0, 0
