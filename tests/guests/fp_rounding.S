/*
 * Rounding modes and fcsr: every operation class below runs in RNE, RTZ, RDN, RUP and RMM,
 * first with a static rm field and then with rm = dyn through frm, on ties, near-ties,
 * overflow and underflow (tininess after rounding). Also frm/fflags/fcsr read-back and the
 * reserved rounding modes: static rm 5/6 and dyn with frm 5/6/7 raise illegal instruction
 * and change neither rd nor fflags.
 * Check numbers: in a five-mode group starting at n, n + 0..4 are RNE..RMM, with a static
 * rm and through frm alike. All numbers stay below 256: QEMU's exit status keeps 8 bits.
 */
#include "guest.h"

#define BOX 0xffffffff00000000

#define NX 1
#define UF 2
#define OF 4
#define DZ 8
#define NV 16

.macro CHKFL id, flags
	csrrw t1, fflags, zero
	CHECK_EQ(\id, t1, \flags)
.endm

/* f3 = op(f1 = a, f2 = b) in mode rm; raw 64-bit result and flags checked */
.macro T2 id, op, rm, a, b, res, flags
	li t0, \a
	fmv.d.x f1, t0
	li t0, \b
	fmv.d.x f2, t0
	\op f3, f1, f2, \rm
	fmv.x.d t1, f3
	CHECK_EQ(\id, t1, \res)
	CHKFL \id, \flags
.endm

/* T2 in all five modes statically, then through frm. */
.macro T2ALL id, op, a, b, rne, rtz, rdn, rup, rmm, flags
	T2 (\id + 0), \op, rne, \a, \b, \rne, \flags
	T2 (\id + 1), \op, rtz, \a, \b, \rtz, \flags
	T2 (\id + 2), \op, rdn, \a, \b, \rdn, \flags
	T2 (\id + 3), \op, rup, \a, \b, \rup, \flags
	T2 (\id + 4), \op, rmm, \a, \b, \rmm, \flags
	csrwi frm, 0
	T2 (\id + 0), \op, dyn, \a, \b, \rne, \flags
	csrwi frm, 1
	T2 (\id + 1), \op, dyn, \a, \b, \rtz, \flags
	csrwi frm, 2
	T2 (\id + 2), \op, dyn, \a, \b, \rdn, \flags
	csrwi frm, 3
	T2 (\id + 3), \op, dyn, \a, \b, \rup, \flags
	csrwi frm, 4
	T2 (\id + 4), \op, dyn, \a, \b, \rmm, \flags
	csrwi frm, 0
.endm

/* One-operand forms: a0/f3 = op(f1 = a) or f3 = op(a1 = a). */
.macro T1F id, op, rm, a, res, flags	/* float source, integer result */
	li t0, \a
	fmv.d.x f1, t0
	\op a0, f1, \rm
	CHECK_EQ(\id, a0, \res)
	CHKFL \id, \flags
.endm

.macro T1I id, op, rm, a, res, flags	/* integer source, float result */
	li a1, \a
	\op f3, a1, \rm
	fmv.x.d t1, f3
	CHECK_EQ(\id, t1, \res)
	CHKFL \id, \flags
.endm

.macro T1FF id, op, rm, a, res, flags	/* float source, float result */
	li t0, \a
	fmv.d.x f1, t0
	\op f3, f1, \rm
	fmv.x.d t1, f3
	CHECK_EQ(\id, t1, \res)
	CHKFL \id, \flags
.endm

.macro T1ALL kind, id, op, a, rne, rtz, rdn, rup, rmm, flags
	\kind (\id + 0), \op, rne, \a, \rne, \flags
	\kind (\id + 1), \op, rtz, \a, \rtz, \flags
	\kind (\id + 2), \op, rdn, \a, \rdn, \flags
	\kind (\id + 3), \op, rup, \a, \rup, \flags
	\kind (\id + 4), \op, rmm, \a, \rmm, \flags
	csrwi frm, 0
	\kind (\id + 0), \op, dyn, \a, \rne, \flags
	csrwi frm, 1
	\kind (\id + 1), \op, dyn, \a, \rtz, \flags
	csrwi frm, 2
	\kind (\id + 2), \op, dyn, \a, \rdn, \flags
	csrwi frm, 3
	\kind (\id + 3), \op, dyn, \a, \rup, \flags
	csrwi frm, 4
	\kind (\id + 4), \op, dyn, \a, \rmm, \flags
	csrwi frm, 0
.endm

/* f3 = op(f1, f2, f4) */
.macro T3 id, op, rm, a, b, c, res, flags
	li t0, \a
	fmv.d.x f1, t0
	li t0, \b
	fmv.d.x f2, t0
	li t0, \c
	fmv.d.x f4, t0
	\op f3, f1, f2, f4, \rm
	fmv.x.d t1, f3
	CHECK_EQ(\id, t1, \res)
	CHKFL \id, \flags
.endm

/* Expects the previous instruction to have trapped as illegal exactly once more. */
.macro TRAPPED id
	addi s9, s9, 1
	beq s11, s9, 3f
	FAIL(\id)
3:
	CHECK_EQ(\id, s10, 2)		/* mcause: illegal instruction */
	li s10, 0
.endm

	.section .text.init
	.globl _start
_start:
	li t0, 0x2000			/* mstatus.FS = Initial */
	csrs mstatus, t0
	lla t0, trap
	csrw mtvec, t0
	li s9, 0			/* traps expected so far */
	li s10, 0			/* last mcause */
	li s11, 0			/* traps taken */
	csrwi fcsr, 0

	/* binary32 add: 1 + 2^-24 is a tie between 1 (even) and 1 + ulp */
	T2ALL 1, fadd.s, BOX | 0x3f800000, BOX | 0x33800000, BOX | 0x3f800000, BOX | 0x3f800000, BOX | 0x3f800000, BOX | 0x3f800001, BOX | 0x3f800001, NX
	/* negative tie */
	T2ALL 6, fadd.s, BOX | 0xbf800000, BOX | 0xb3800000, BOX | 0xbf800000, BOX | 0xbf800000, BOX | 0xbf800001, BOX | 0xbf800000, BOX | 0xbf800001, NX
	/* tie with an odd lower neighbour: (1 + ulp) + 2^-24 */
	T2ALL 11, fadd.s, BOX | 0x3f800001, BOX | 0x33800000, BOX | 0x3f800002, BOX | 0x3f800001, BOX | 0x3f800001, BOX | 0x3f800002, BOX | 0x3f800002, NX
	/* near-tie above: 1 + 2^-24 (1 + 2^-23) */
	T2ALL 16, fadd.s, BOX | 0x3f800000, BOX | 0x33800001, BOX | 0x3f800001, BOX | 0x3f800000, BOX | 0x3f800000, BOX | 0x3f800001, BOX | 0x3f800001, NX
	/* near-tie below: 1 + 2^-24 - 2^-48 */
	T2ALL 21, fadd.s, BOX | 0x3f800000, BOX | 0x337fffff, BOX | 0x3f800000, BOX | 0x3f800000, BOX | 0x3f800000, BOX | 0x3f800001, BOX | 0x3f800000, NX
	/* 1/3 and -1/3 */
	T2ALL 26, fdiv.s, BOX | 0x3f800000, BOX | 0x40400000, BOX | 0x3eaaaaab, BOX | 0x3eaaaaaa, BOX | 0x3eaaaaaa, BOX | 0x3eaaaaab, BOX | 0x3eaaaaab, NX
	T2ALL 31, fdiv.s, BOX | 0xbf800000, BOX | 0x40400000, BOX | 0xbeaaaaab, BOX | 0xbeaaaaaa, BOX | 0xbeaaaaab, BOX | 0xbeaaaaaa, BOX | 0xbeaaaaab, NX
	/* products that tie: (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 */
	T2ALL 36, fmul.s, BOX | 0x3f800800, BOX | 0x3f800800, BOX | 0x3f801000, BOX | 0x3f801000, BOX | 0x3f801000, BOX | 0x3f801001, BOX | 0x3f801001, NX
	/* overflow: max * 2 and -max * 2 */
	T2ALL 41, fmul.s, BOX | 0x7f7fffff, BOX | 0x40000000, BOX | 0x7f800000, BOX | 0x7f7fffff, BOX | 0x7f7fffff, BOX | 0x7f800000, BOX | 0x7f800000, OF | NX
	T2ALL 46, fmul.s, BOX | 0xff7fffff, BOX | 0x40000000, BOX | 0xff800000, BOX | 0xff7fffff, BOX | 0xff800000, BOX | 0xff7fffff, BOX | 0xff800000, OF | NX
	/* 2^-150, a tie between 0 and the least subnormal, and its negative */
	T2ALL 51, fmul.s, BOX | 0x00000001, BOX | 0x3f000000, BOX | 0, BOX | 0, BOX | 0, BOX | 0x00000001, BOX | 0x00000001, UF | NX
	T2ALL 56, fmul.s, BOX | 0x80000001, BOX | 0x3f000000, BOX | 0x80000000, BOX | 0x80000000, BOX | 0x80000001, BOX | 0x80000000, BOX | 0x80000001, UF | NX
	/* 5 * 2^-149 / 2: a subnormal quotient tie */
	T2ALL 61, fdiv.s, BOX | 0x00000005, BOX | 0x40000000, BOX | 0x00000002, BOX | 0x00000002, BOX | 0x00000002, BOX | 0x00000003, BOX | 0x00000003, UF | NX
	/* exact results are the same in every mode, except the sign of an exact zero sum */
	T2ALL 66, fadd.s, BOX | 0x3fc00000, BOX | 0x40100000, BOX | 0x40700000, BOX | 0x40700000, BOX | 0x40700000, BOX | 0x40700000, BOX | 0x40700000, 0
	T2ALL 71, fsub.s, BOX | 0x3fc00000, BOX | 0x3fc00000, BOX | 0, BOX | 0, BOX | 0x80000000, BOX | 0, BOX | 0, 0

	/* binary64: 1 + 2^-53, its negative, 1/3, a product tie */
	T2ALL 76, fadd.d, 0x3ff0000000000000, 0x3ca0000000000000, 0x3ff0000000000000, 0x3ff0000000000000, 0x3ff0000000000000, 0x3ff0000000000001, 0x3ff0000000000001, NX
	T2ALL 81, fsub.d, 0xbff0000000000000, 0x3ca0000000000000, 0xbff0000000000000, 0xbff0000000000000, 0xbff0000000000001, 0xbff0000000000000, 0xbff0000000000001, NX
	T2ALL 86, fdiv.d, 0x3ff0000000000000, 0x4008000000000000, 0x3fd5555555555555, 0x3fd5555555555555, 0x3fd5555555555555, 0x3fd5555555555556, 0x3fd5555555555555, NX
	T2ALL 91, fmul.d, 0x3ff0000004000000, 0x3ff0000002000000, 0x3ff0000006000000, 0x3ff0000006000000, 0x3ff0000006000000, 0x3ff0000006000001, 0x3ff0000006000001, NX
	T2ALL 96, fmul.d, 0x8000000000000001, 0x3fe0000000000000, 0x8000000000000000, 0x8000000000000000, 0x8000000000000001, 0x8000000000000000, 0x8000000000000001, UF | NX

	/* sqrt(2): never a tie, so RMM agrees with RNE */
	T1ALL T1FF, 101, fsqrt.d, 0x4000000000000000, 0x3ff6a09e667f3bcd, 0x3ff6a09e667f3bcc, 0x3ff6a09e667f3bcc, 0x3ff6a09e667f3bcd, 0x3ff6a09e667f3bcd, NX
	T1ALL T1FF, 106, fsqrt.s, BOX | 0x40000000, BOX | 0x3fb504f3, BOX | 0x3fb504f3, BOX | 0x3fb504f3, BOX | 0x3fb504f4, BOX | 0x3fb504f3, NX

	/* float -> int: 2.5, -2.5, -0.5 */
	T1ALL T1F, 111, fcvt.w.s, BOX | 0x40200000, 2, 2, 2, 3, 3, NX
	T1ALL T1F, 116, fcvt.w.s, BOX | 0xc0200000, -2, -2, -3, -2, -3, NX
	T1ALL T1F, 121, fcvt.l.d, 0xbfe0000000000000, 0, 0, -1, 0, -1, NX
	T1ALL T1F, 126, fcvt.l.d, 0x400c000000000000, 4, 3, 3, 4, 4, NX	/* 3.5 */
	/* int -> float: 2^24 + 1 and -(2^24 + 1) ties; 2^53 + 1 */
	T1ALL T1I, 131, fcvt.s.w, 16777217, BOX | 0x4b800000, BOX | 0x4b800000, BOX | 0x4b800000, BOX | 0x4b800001, BOX | 0x4b800001, NX
	T1ALL T1I, 136, fcvt.s.l, -16777217, BOX | 0xcb800000, BOX | 0xcb800000, BOX | 0xcb800001, BOX | 0xcb800000, BOX | 0xcb800001, NX
	T1ALL T1I, 141, fcvt.d.lu, 0x20000000000001, 0x4340000000000000, 0x4340000000000000, 0x4340000000000000, 0x4340000000000001, 0x4340000000000001, NX
	/* double -> float: 1 + 2^-24 and -(1 + 2^-24) */
	T1ALL T1FF, 146, fcvt.s.d, 0x3ff0000010000000, BOX | 0x3f800000, BOX | 0x3f800000, BOX | 0x3f800000, BOX | 0x3f800001, BOX | 0x3f800001, NX
	T1ALL T1FF, 151, fcvt.s.d, 0xbff0000010000000, BOX | 0xbf800000, BOX | 0xbf800000, BOX | 0xbf800001, BOX | 0xbf800000, BOX | 0xbf800001, NX

	/* overflow boundary: max + half an ulp overflows only where rounding goes up */
	T2 156, fadd.s, rne, BOX | 0x7f7fffff, BOX | 0x73000000, BOX | 0x7f800000, OF | NX
	T2 157, fadd.s, rtz, BOX | 0x7f7fffff, BOX | 0x73000000, BOX | 0x7f7fffff, NX
	T2 158, fadd.s, rdn, BOX | 0x7f7fffff, BOX | 0x73000000, BOX | 0x7f7fffff, NX
	T2 159, fadd.s, rup, BOX | 0x7f7fffff, BOX | 0x73000000, BOX | 0x7f800000, OF | NX
	T2 160, fadd.s, rmm, BOX | 0x7f7fffff, BOX | 0x73000000, BOX | 0x7f800000, OF | NX
	T2 161, fadd.s, rmm, BOX | 0x7f7fffff, BOX | 0x72ffffff, BOX | 0x7f7fffff, NX
	T2 162, fadd.d, rne, 0x7fefffffffffffff, 0x7c90000000000000, 0x7ff0000000000000, OF | NX
	T2 163, fadd.d, rtz, 0x7fefffffffffffff, 0x7c90000000000000, 0x7fefffffffffffff, NX
	T2 164, fadd.d, rmm, 0x7fefffffffffffff, 0x7c90000000000000, 0x7ff0000000000000, OF | NX
	T2 165, fadd.d, rdn, 0xffefffffffffffff, 0xfc90000000000000, 0xfff0000000000000, OF | NX
	/* tininess after rounding: (1 + 2^-23) * max subnormal = (1 - 2^-46) 2^-126 */
	T2 166, fmul.s, rne, BOX | 0x3f800001, BOX | 0x007fffff, BOX | 0x00800000, NX
	T2 167, fmul.s, rtz, BOX | 0x3f800001, BOX | 0x007fffff, BOX | 0x007fffff, UF | NX
	T2 168, fmul.s, rdn, BOX | 0x3f800001, BOX | 0x007fffff, BOX | 0x007fffff, UF | NX
	T2 169, fmul.s, rup, BOX | 0x3f800001, BOX | 0x007fffff, BOX | 0x00800000, NX
	T2 170, fmul.s, rmm, BOX | 0x3f800001, BOX | 0x007fffff, BOX | 0x00800000, NX
	/* (1 - 2^-24) 2^-126 is exact at 24 bits: tiny, even though it rounds to 2^-126 */
	T2 171, fmul.s, rne, BOX | 0x3f7fffff, BOX | 0x00800000, BOX | 0x00800000, UF | NX
	T2 172, fmul.s, rmm, BOX | 0x3f7fffff, BOX | 0x00800000, BOX | 0x00800000, UF | NX
	T2 173, fmul.d, rup, 0x3ff0000000000001, 0x000fffffffffffff, 0x0010000000000000, NX
	T2 174, fmul.d, rtz, 0x3ff0000000000001, 0x000fffffffffffff, 0x000fffffffffffff, UF | NX

	/* fused multiply-add ties: 1*1 + 2^-24, and -(1*1) - 2^-24 */
	T3 175, fmadd.s, rne, BOX | 0x3f800000, BOX | 0x3f800000, BOX | 0x33800000, BOX | 0x3f800000, NX
	T3 176, fmadd.s, rmm, BOX | 0x3f800000, BOX | 0x3f800000, BOX | 0x33800000, BOX | 0x3f800001, NX
	T3 177, fnmadd.s, rmm, BOX | 0x3f800000, BOX | 0x3f800000, BOX | 0x33800000, BOX | 0xbf800001, NX
	T3 178, fnmadd.s, rup, BOX | 0x3f800000, BOX | 0x3f800000, BOX | 0x33800000, BOX | 0xbf800000, NX
	T3 179, fmadd.d, rmm, 0x3ff0000000000000, 0x3ff0000000000000, 0x3ca0000000000000, 0x3ff0000000000001, NX
	T3 180, fmsub.d, rmm, 0x3ff0000004000000, 0x3ff0000002000000, 0x3c90000000000000, 0x3ff0000006000000, NX
	T3 181, fmadd.s, rdn, BOX | 0x3f800000, BOX | 0x3f800000, BOX | 0xbf800000, BOX | 0x80000000, 0
	T3 182, fmadd.s, rmm, BOX | 0x3f800000, BOX | 0x3f800000, BOX | 0xbf800000, BOX | 0, 0

	/* frm, fflags and fcsr views */
	csrwi fcsr, 0
	csrwi frm, 3
	csrr a0, frm
	CHECK_EQ(193, a0, 3)
	csrr a0, fcsr
	CHECK_EQ(194, a0, 3 << 5)
	li t0, 0x80000000 | BOX
	fmv.d.x f1, t0
	fmv.d.x f2, t0
	fsqrt.s f3, f1			/* -0: exact, no flag */
	li t0, BOX | 0x3f800000
	fmv.d.x f1, t0
	li t0, BOX | 0x40400000
	fmv.d.x f2, t0
	fdiv.s f3, f1, f2		/* rm = dyn = RUP */
	fmv.x.d a0, f3
	CHECK_EQ(195, a0, BOX | 0x3eaaaaab)
	csrr a0, fcsr
	CHECK_EQ(196, a0, (3 << 5) | NX)
	li t0, (1 << 5) | NV | DZ
	fscsr a1, t0			/* swap: old fcsr into a1 */
	CHECK_EQ(197, a1, (3 << 5) | NX)
	csrr a0, frm
	CHECK_EQ(198, a0, 1)
	csrr a0, fflags
	CHECK_EQ(199, a0, NV | DZ)
	li t0, 4
	fsrm a1, t0			/* swap frm only */
	CHECK_EQ(200, a1, 1)
	csrr a0, fcsr
	CHECK_EQ(201, a0, (4 << 5) | NV | DZ)
	fdiv.s f3, f1, f2		/* dyn = RMM now */
	fmv.x.d a0, f3
	CHECK_EQ(202, a0, BOX | 0x3eaaaaab)
	csrwi fcsr, 0

	/* reserved rounding modes: illegal instruction, nothing changes */
	li t0, BOX | 0x3f800000
	fmv.d.x f1, t0
	fmv.d.x f2, t0
	li t0, 0x5555
	fmv.d.x f3, t0
	li a0, 0x6666
	csrwi fflags, NX
	.insn r 0x53, 5, 0x00, f3, f1, f2	/* fadd.s rm=5 */
	TRAPPED 183
	.insn r 0x53, 6, 0x01, f3, f1, f2	/* fadd.d rm=6 */
	TRAPPED 184
	.insn r4 0x43, 5, 0, f3, f1, f2, f2	/* fmadd.s rm=5 */
	TRAPPED 185
	.insn r 0x53, 6, 0x60, a0, f1, x0	/* fcvt.w.s rm=6 */
	TRAPPED 186
	.insn r 0x53, 5, 0x21, f3, f1, x0	/* fcvt.d.s rm=5: exact, still reserved */
	TRAPPED 187
	.insn r 0x53, 5, 0x69, f3, a0, x0	/* fcvt.d.w rm=5 */
	TRAPPED 188
	csrwi frm, 5
	fadd.s f3, f1, f2, dyn
	TRAPPED 189
	csrwi frm, 6
	fsqrt.d f3, f1, dyn
	TRAPPED 190
	csrwi frm, 7
	fcvt.l.d a0, f1, dyn
	TRAPPED 191
	fnmsub.d f3, f1, f2, f2, dyn
	TRAPPED 192
	fmv.x.d t1, f3
	CHECK_EQ(203, t1, 0x5555)
	CHECK_EQ(204, a0, 0x6666)
	csrr t1, fflags
	CHECK_EQ(205, t1, NX)
	csrr t1, frm
	CHECK_EQ(206, t1, 7)
	/* static modes and ops without a rounding mode still work with frm = 7 */
	fadd.s f3, f1, f2, rne
	fmv.x.d t1, f3
	CHECK_EQ(207, t1, BOX | 0x40000000)
	fsgnjn.s f3, f1, f2
	fmv.x.d t1, f3
	CHECK_EQ(208, t1, BOX | 0xbf800000)
	feq.s a0, f1, f2
	CHECK_EQ(209, a0, 1)
	beq s11, s9, 4f
	FAIL(210)
4:
	csrwi fcsr, 0

	PASS

	.balign 4
trap:	csrr s10, mcause
	csrr t0, mepc
	addi t0, t0, 4			/* every trapping instruction here is 4 bytes */
	csrw mepc, t0
	addi s11, s11, 1
	mret
