/*
 * D extension (binary64) in M-mode: arithmetic, exceptions and their fflags, NaN rules,
 * min/max, sign injection, compares, fclass, int<->double and float<->double conversions,
 * fmv.x.d/fmv.d.x, fld/fsd (also compressed), the fused multiply-add family.
 * Ends with PASS, or FAIL(n) where n is the number of the failing check.
 */
#include "guest.h"

/* binary64 bit patterns */
#define ONE	0x3ff0000000000000
#define TWO	0x4000000000000000
#define THREE	0x4008000000000000
#define HALF	0x3fe0000000000000
#define MONE	0xbff0000000000000
#define PZERO	0x0000000000000000
#define NZERO	0x8000000000000000
#define PINF	0x7ff0000000000000
#define NINF	0xfff0000000000000
#define QNAN	0x7ff8000000000000
#define SNAN	0x7ff0000000000001
#define MAX	0x7fefffffffffffff
#define MINNORM 0x0010000000000000
#define MINSUB	0x0000000000000001

#define BOX 0xffffffff00000000

#define NX 1
#define UF 2
#define OF 4
#define DZ 8
#define NV 16

.macro LDD freg, bits
	li t0, \bits
	fmv.d.x \freg, t0
.endm

/* Reads and clears fflags; fails with `id` unless they equal `flags`. */
.macro CHKFL id, flags
	csrrw t1, fflags, zero
	CHECK_EQ(\id, t1, \flags)
.endm

.macro CHKD id, freg, bits
	fmv.x.d t1, \freg
	CHECK_EQ(\id, t1, \bits)
.endm

.macro D2R id, op, rm, a, b, res, flags
	LDD f1, \a
	LDD f2, \b
	\op f3, f1, f2, \rm
	CHKD \id, f3, \res
	CHKFL \id, \flags
.endm

.macro D2 id, op, a, b, res, flags
	LDD f1, \a
	LDD f2, \b
	\op f3, f1, f2
	CHKD \id, f3, \res
	CHKFL \id, \flags
.endm

.macro D1R id, op, rm, a, res, flags
	LDD f1, \a
	\op f3, f1, \rm
	CHKD \id, f3, \res
	CHKFL \id, \flags
.endm

.macro DCMP id, op, a, b, res, flags
	LDD f1, \a
	LDD f2, \b
	\op a0, f1, f2
	CHECK_EQ(\id, a0, \res)
	CHKFL \id, \flags
.endm

.macro DCLASS id, a, res
	LDD f1, \a
	fclass.d a0, f1
	CHECK_EQ(\id, a0, \res)
	CHKFL \id, 0
.endm

/* a0 = fcvt.{w,wu,l,lu}.d(f1) */
.macro D2I id, op, rm, a, res, flags
	LDD f1, \a
	\op a0, f1, \rm
	CHECK_EQ(\id, a0, \res)
	CHKFL \id, \flags
.endm

/* f3 = fcvt.d.{w,wu,l,lu}(a1); the assembler takes no rm here (it is exact or dynamic) */
.macro I2D id, op, x, res, flags
	li a1, \x
	\op f3, a1
	CHKD \id, f3, \res
	CHKFL \id, \flags
.endm

.macro D3R id, op, rm, a, b, c, res, flags
	LDD f1, \a
	LDD f2, \b
	LDD f4, \c
	\op f3, f1, f2, f4, \rm
	CHKD \id, f3, \res
	CHKFL \id, \flags
.endm

	.section .text.init
	.globl _start
_start:
	li t0, 0x2000			/* mstatus.FS = Initial */
	csrs mstatus, t0
	csrwi fcsr, 0

	/* arithmetic */
	D2R 1, fadd.d, dyn, 0x3ff8000000000000, 0x4002000000000000, 0x400e000000000000, 0
	D2R 2, fsub.d, dyn, 0x3ff8000000000000, 0x4002000000000000, 0xbfe8000000000000, 0
	D2R 3, fmul.d, dyn, 0x3ff8000000000000, 0x4002000000000000, 0x400b000000000000, 0
	D2R 4, fdiv.d, dyn, 0x400e000000000000, 0x3ff8000000000000, 0x4004000000000000, 0
	D2R 5, fdiv.d, rne, ONE, THREE, 0x3fd5555555555555, NX
	D1R 6, fsqrt.d, rne, 0x4010000000000000, TWO, 0
	D1R 7, fsqrt.d, dyn, TWO, 0x3ff6a09e667f3bcd, NX
	D1R 8, fsqrt.d, rne, MONE, QNAN, NV
	D1R 9, fsqrt.d, rne, NZERO, NZERO, 0
	D1R 10, fsqrt.d, rne, PINF, PINF, 0
	D2R 11, fdiv.d, rne, ONE, NZERO, NINF, DZ
	D2R 12, fdiv.d, rne, PINF, PINF, QNAN, NV
	D2R 13, fdiv.d, rne, PINF, PZERO, PINF, 0
	D2R 14, fadd.d, rne, MAX, MAX, PINF, OF | NX
	D2R 15, fmul.d, rne, MINNORM, HALF, 0x0008000000000000, 0
	D2R 16, fmul.d, rne, MINSUB, HALF, PZERO, UF | NX
	D2R 17, fsub.d, rne, MINNORM, MINSUB, 0x000fffffffffffff, 0
	D2R 18, fsub.d, rne, PINF, PINF, QNAN, NV
	D2R 19, fmul.d, rne, NINF, PZERO, QNAN, NV
	D2R 20, fadd.d, rne, SNAN, ONE, QNAN, NV
	D2R 21, fadd.d, rne, 0xfff8000000001234, ONE, QNAN, 0
	D2R 22, fsub.d, rne, ONE, ONE, PZERO, 0
	D2R 23, fsub.d, rdn, ONE, ONE, NZERO, 0
	D2R 24, fmul.d, rne, 0x3ff0000000000001, 0x000fffffffffffff, MINNORM, NX /* not tiny */
	D2R 25, fmul.d, rtz, 0x3ff0000000000001, 0x000fffffffffffff, 0x000fffffffffffff, UF | NX

	/* min/max and sign injection */
	D2 26, fmin.d, NZERO, PZERO, NZERO, 0
	D2 27, fmax.d, PZERO, NZERO, PZERO, 0
	D2 28, fmin.d, QNAN, MONE, MONE, 0
	D2 29, fmax.d, TWO, SNAN, TWO, NV
	D2 30, fmax.d, 0x7ff8000000000005, 0x7ff8000000000007, QNAN, 0
	D2 31, fmin.d, SNAN, SNAN, QNAN, NV
	D2 32, fmax.d, MONE, NINF, MONE, 0
	D2 33, fmin.d, TWO, ONE, ONE, 0
	D2 34, fsgnj.d, MONE, PZERO, ONE, 0
	D2 35, fsgnjn.d, ONE, ONE, MONE, 0
	D2 36, fsgnjx.d, MONE, NZERO, ONE, 0
	D2 37, fsgnj.d, SNAN, NZERO, 0xfff0000000000001, 0

	/* compares */
	DCMP 38, feq.d, PZERO, NZERO, 1, 0
	DCMP 39, feq.d, SNAN, SNAN, 0, NV
	DCMP 40, feq.d, QNAN, ONE, 0, 0
	DCMP 41, flt.d, QNAN, ONE, 0, NV
	DCMP 42, flt.d, MONE, NZERO, 1, 0
	DCMP 43, fle.d, MINSUB, PZERO, 0, 0
	DCMP 44, fle.d, PINF, PINF, 1, 0
	DCMP 45, flt.d, PINF, PINF, 0, 0

	/* fclass */
	DCLASS 46, NINF, 1 << 0
	DCLASS 47, MONE, 1 << 1
	DCLASS 48, 0x800fffffffffffff, 1 << 2
	DCLASS 49, NZERO, 1 << 3
	DCLASS 50, PZERO, 1 << 4
	DCLASS 51, MINSUB, 1 << 5
	DCLASS 52, MAX, 1 << 6
	DCLASS 53, PINF, 1 << 7
	DCLASS 54, SNAN, 1 << 8
	DCLASS 55, 0xfff8000000000001, 1 << 9

	/* double -> int */
	D2I 56, fcvt.w.d, rtz, 0x41dfffffffe00000, 0x7fffffff, NX	/* 2147483647.5 */
	D2I 57, fcvt.w.d, rne, 0x41dfffffffe00000, 0x7fffffff, NV	/* rounds to 2^31 */
	D2I 58, fcvt.w.d, rne, 0xc1e0000000100000, 0xffffffff80000000, NX /* -2^31 - 0.5 */
	D2I 59, fcvt.w.d, rdn, 0xc1e0000000100000, 0xffffffff80000000, NV
	D2I 60, fcvt.w.d, rtz, QNAN, 0x7fffffff, NV
	D2I 61, fcvt.wu.d, rtz, 0x41efffffffe00000, 0xffffffffffffffff, 0 /* 2^32-1 */
	D2I 62, fcvt.wu.d, rtz, 0x41f0000000000000, 0xffffffffffffffff, NV /* 2^32 */
	D2I 63, fcvt.wu.d, rne, 0xbfe0000000000000, 0, NX		/* -0.5 -> -0 */
	D2I 64, fcvt.wu.d, rdn, 0xbfe0000000000000, 0, NV		/* -> -1 */
	D2I 65, fcvt.l.d, rtz, 0x43e0000000000000, 0x7fffffffffffffff, NV /* 2^63 */
	D2I 66, fcvt.l.d, rtz, 0xc3e0000000000000, 0x8000000000000000, 0
	D2I 67, fcvt.l.d, rtz, NINF, 0x8000000000000000, NV
	D2I 68, fcvt.l.d, rne, 0xc05ec00000000000, -123, 0
	D2I 69, fcvt.l.d, rmm, 0x4004000000000000, 3, NX		/* 2.5 */
	D2I 70, fcvt.lu.d, rtz, 0x43efffffffffffff, 0xfffffffffffff800, 0
	D2I 71, fcvt.lu.d, rtz, 0x43f0000000000000, 0xffffffffffffffff, NV
	D2I 72, fcvt.lu.d, rtz, SNAN, 0xffffffffffffffff, NV
	D2I 73, fcvt.lu.d, rtz, MONE, 0, NV

	/* int -> double */
	I2D 74, fcvt.d.w, -5, 0xc014000000000000, 0
	I2D 75, fcvt.d.w, 0xffffffff80000000, 0xc1e0000000000000, 0
	I2D 76, fcvt.d.wu, 0xffffffff, 0x41efffffffe00000, 0
	I2D 77, fcvt.d.l, 0x8000000000000000, 0xc3e0000000000000, 0
	I2D 78, fcvt.d.lu, 0xffffffffffffffff, 0x43f0000000000000, NX
	I2D 79, fcvt.d.l, 0x20000000000001, 0x4340000000000000, NX	/* 2^53 + 1 tie */
	li a1, 0x20000000000001
	fcvt.d.l f3, a1, rmm
	CHKD 80, f3, 0x4340000000000001
	CHKFL 80, NX
	li a1, -1
	fcvt.d.lu f3, a1, rtz
	CHKD 81, f3, 0x43efffffffffffff
	CHKFL 81, NX

	/* double <-> float */
	D1R 82, fcvt.s.d, rne, ONE, BOX | 0x3f800000, 0
	D1R 83, fcvt.s.d, rne, 0x3ff0000010000000, BOX | 0x3f800000, NX	/* 1 + 2^-24 */
	D1R 84, fcvt.s.d, rmm, 0x3ff0000010000000, BOX | 0x3f800001, NX
	D1R 85, fcvt.s.d, rne, MAX, BOX | 0x7f800000, OF | NX
	D1R 86, fcvt.s.d, rtz, MAX, BOX | 0x7f7fffff, OF | NX
	D1R 87, fcvt.s.d, rne, 0x3000000000000000, BOX | 0, UF | NX	/* 2^-255 */
	D1R 88, fcvt.s.d, rne, SNAN, BOX | 0x7fc00000, NV
	D1R 89, fcvt.s.d, rne, 0x7ff8000123456789, BOX | 0x7fc00000, 0
	D1R 90, fcvt.s.d, rne, NINF, BOX | 0xff800000, 0
	li t0, BOX | 0x3fc00000			/* 1.5f */
	fmv.d.x f1, t0
	fcvt.d.s f3, f1
	CHKD 91, f3, 0x3ff8000000000000
	CHKFL 91, 0
	li t0, BOX | 0x7f800001			/* sNaN */
	fmv.d.x f1, t0
	fcvt.d.s f3, f1
	CHKD 92, f3, QNAN
	CHKFL 92, NV
	li t0, 0x3ff0000000000000		/* not boxed: canonical NaN, quiet */
	fmv.d.x f1, t0
	fcvt.d.s f3, f1
	CHKD 93, f3, QNAN
	CHKFL 93, 0
	li t0, BOX | 1				/* least subnormal binary32 */
	fmv.d.x f1, t0
	fcvt.d.s f3, f1
	CHKD 94, f3, 0x36a0000000000000
	CHKFL 94, 0

	/* fmv keeps all 64 bits (signaling NaNs too) */
	li t0, 0x7ff0000000000001
	fmv.d.x f5, t0
	fmv.x.d a0, f5
	CHECK_EQ(95, a0, 0x7ff0000000000001)
	CHKFL 95, 0

	/* fld/fsd, compressed and not */
	lla s0, buf
	li t0, 0x400921fb54442d18		/* pi */
	sd t0, 0(s0)
	fld f8, 0(s0)				/* c.fld */
	fsd f8, 8(s0)				/* c.fsd */
	ld a0, 8(s0)
	CHECK_EQ(96, a0, 0x400921fb54442d18)
	fld f20, 8(s0)				/* not compressible */
	fmv.x.d a0, f20
	CHECK_EQ(97, a0, 0x400921fb54442d18)
	fsd f20, 16(s0)
	ld a0, 16(s0)
	CHECK_EQ(98, a0, 0x400921fb54442d18)
	CHKFL 98, 0

	/* fused multiply-add */
	D3R 99, fmadd.d, rne, 0x3ff0000000000001, 0x3ff0000000000001, 0xbff0000000000002, 0x3970000000000000, 0
	D3R 100, fnmsub.d, rne, 0x3ff0000000000001, 0x3ff0000000000001, 0x3ff0000000000002, 0xb970000000000000, 0
	D3R 101, fnmadd.d, rne, ONE, TWO, THREE, 0xc014000000000000, 0
	D3R 102, fmsub.d, rne, ONE, TWO, THREE, MONE, 0
	D3R 103, fmadd.d, rne, PINF, NZERO, QNAN, QNAN, NV
	D3R 104, fmadd.d, rne, ONE, ONE, 0x3ca0000000000000, ONE, NX		/* 1 + 2^-53 */
	D3R 105, fmadd.d, rmm, ONE, ONE, 0x3ca0000000000000, 0x3ff0000000000001, NX
	D3R 106, fmadd.d, rmm, 0x3ff0000004000000, 0x3ff0000002000000, 0xbc90000000000000, 0x3ff0000006000000, NX
	D3R 107, fmadd.d, rtz, MAX, TWO, ONE, MAX, OF | NX
	D3R 108, fnmadd.d, rne, ONE, ONE, MONE, PZERO, 0
	D3R 109, fmadd.d, rmm, MINSUB, HALF, NZERO, MINSUB, UF | NX

	/* flags accrue; the single-precision view of a double register is a NaN */
	LDD f1, ONE
	fadd.s f3, f1, f1			/* f1 is not boxed: canonical NaN, no flag */
	CHKD 110, f3, BOX | 0x7fc00000
	csrr a0, fflags
	CHECK_EQ(111, a0, 0)
	LDD f2, PZERO
	fdiv.d f3, f1, f2
	LDD f2, SNAN
	flt.d a0, f1, f2
	csrr a0, fflags
	CHECK_EQ(112, a0, DZ | NV)

	PASS

	.data
	.balign 8
buf:	.dword 0, 0, 0
