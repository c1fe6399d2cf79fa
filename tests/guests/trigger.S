/*
 * Sdtrig triggers (Debug Specification 1.0, ch. 5) with action 0, the breakpoint
 * exception: enumeration (tselect, tinfo, tdata1 types), WARL fields of mcontrol (type 2)
 * and mcontrol6 (type 6), tcontrol.mte/mpte, and address matches taken before the
 * instruction (mepc/mtval = the address, nothing executed or accessed):
 *   ids 1-24    enumeration and WARL
 *   ids 25-59   M-mode execute triggers: plain, compressed, page-straddling, in code that
 *               was hot (translated) before the trigger was armed, fetch-fault priority
 *   ids 60-135  M-mode load/store triggers: lw/ld/sw/sb/fsd, misaligned, AMO/LR/SC, two
 *               triggers at once, >= and < ranges, a load in a translated loop
 *   ids 136-161 S- and U-mode triggers, breakpoints delegated to S (sstatus.SIE rule)
 */
#include "test.h"

#define T_MC	(2 << 60)
#define T_MC6	(6 << 60)
#define T_OFF	(15 << 60)
#define T_LD	0x1
#define T_ST	0x2
#define T_EX	0x4
#define T_U	0x8
#define T_S	0x10
#define T_M	0x40
#define T_GE	(2 << 7)
#define T_LT	(3 << 7)
#define MC_HIT	(1 << 20)
#define MC6_HIT0 (1 << 22)
#define MTE	0x8
#define MPTE	0x80
#define TINFO	((1 << 24) | (1 << 2) | (1 << 6) | (1 << 15))
#define SENTINEL 0x5a5a

/* Program trigger n: tdata1 = val, tdata2 = reg (disabled while tdata2 changes). */
.macro TRIG n, val, reg
	li t0, \n
	csrw tselect, t0
	csrw tdata1, zero
	csrw tdata2, \reg
	li t0, \val
	csrw tdata1, t0
.endm

.macro TRIG_OFF n
	li t0, \n
	csrw tselect, t0
	csrw tdata1, zero
.endm

/* Fail with id unless reg holds the address of label. Clobbers t0. */
.macro CHECK_LABEL id, reg, label
	la t0, \label
	beq \reg, t0, .Lok\@
	FAIL(\id)
.Lok\@:
.endm

/* ids id..id+2: the last trap was a breakpoint at `label` with tval = tvalreg. */
.macro CHECK_BP id, label, tvalreg
	CHECK_EQ(\id, s10, CAUSE_BREAKPOINT)
	CHECK_LABEL \id + 1, s8, \label
	beq s9, \tvalreg, .Ltv\@
	FAIL(\id + 2)
.Ltv\@:
.endm

/* ids id..id+4: `insn` (an access at a4, through a3) takes a breakpoint before it does
 * anything: a2, which it would write, keeps SENTINEL. */
.macro BP_MEM id, insn
	li a2, SENTINEL
	EXPECT(.Lres\@)
.Lat\@:
	\insn
	FAIL(\id)
.Lres\@:
	CHECK_BP \id + 1, .Lat\@, a4
	CHECK_EQ(\id + 4, a2, SENTINEL)
.endm

/* id: data1 still holds 0x1111 (read while no load trigger can fire on it). */
.macro DATA1_KEPT id
	la t0, data1
	ld t1, 0(t0)
	CHECK_EQ(\id, t1, 0x1111)
.endm

/* `insn` must complete without a trap (a stray one fails the test). */
.macro NO_BP insn
	\insn
.endm

	TEST_START
	PMP_ALLOW_ALL
	li t0, MSTATUS_FS
	csrs mstatus, t0

	/* --- enumeration: 4 triggers, each disabled (type 15), supporting 2, 6, 15 */
	li a0, 0
.Lenum:
	csrw tselect, a0
	csrr a1, tselect
	beq a0, a1, .Lenum_ok
	FAIL(1)
.Lenum_ok:
	csrr a1, tinfo
	CHECK_EQ(2, a1, TINFO)
	csrr a1, tdata1
	CHECK_EQ(3, a1, T_OFF)
	addi a0, a0, 1
	li t0, 4
	bne a0, t0, .Lenum
	li a0, 4			/* past the last trigger: reads back a valid index */
	csrw tselect, a0
	csrr a1, tselect
	CHECK_EQ(4, a1, 3)
	li a0, -1
	csrw tselect, a0
	csrr a1, tselect
	CHECK_EQ(5, a1, 3)

	/* --- WARL: exact read-back of what is implemented, the rest legalised */
	csrw tselect, zero
	li a0, T_MC | T_M | T_EX
	csrw tdata1, a0
	csrr a1, tdata1
	CHECK_EQ(6, a1, T_MC | T_M | T_EX)
	li a0, T_MC6 | T_M | T_S | T_U | T_LD | T_ST | T_GE
	csrw tdata1, a0
	csrr a1, tdata1
	CHECK_EQ(7, a1, T_MC6 | T_M | T_S | T_U | T_LD | T_ST | T_GE)
	csrw tdata1, zero		/* 0 disables: type 15 */
	csrr a1, tdata1
	CHECK_EQ(8, a1, T_OFF)
	li a0, (3 << 60) | 0x1fff	/* icount: not implemented */
	csrw tdata1, a0
	csrr a1, tdata1
	CHECK_EQ(9, a1, T_OFF)
	/* dmode, maskmax, action 1, chain, timing after, select, sizes, match 1 (NAPOT) */
	li a0, T_MC | (1 << 59) | (0x3f << 53) | (3 << 21) | (1 << 19) | (1 << 18) | (3 << 16) | (1 << 12) | (1 << 11) | (1 << 7) | T_M | T_LD
	csrw tdata1, a0
	csrr a1, tdata1
	CHECK_EQ(10, a1, T_MC | T_M | T_LD)
	/* mcontrol6: uncertain, vs, vu, select, size, uncertainen, match 8 */
	li a0, T_MC6 | (1 << 26) | (3 << 23) | (1 << 21) | (5 << 16) | (8 << 7) | (1 << 5) | T_S | T_ST
	csrw tdata1, a0
	csrr a1, tdata1
	CHECK_EQ(11, a1, T_MC6 | T_S | T_ST)
	li a0, -1
	csrw tdata2, a0
	csrr a1, tdata2
	CHECK_EQ(12, a1, -1)
	csrw tdata3, a0
	csrr a1, tdata3
	CHECK_EQ(13, a1, 0)
	csrw tdata1, zero
	csrw tcontrol, a0
	csrr a1, tcontrol
	CHECK_EQ(14, a1, MTE | MPTE)
	csrw tcontrol, zero

	/* --- M-mode execute: not without tcontrol.mte ... */
	la a3, bp1
	TRIG 0, T_MC | T_M | T_EX, a3
	li a0, 0
	call bp1			/* a0 += 1 */
	CHECK_EQ(30, a0, 1)
	/* ... then before the instruction */
	csrsi tcontrol, MTE
	EXPECT(.Lx1)
	call bp1
	FAIL(31)
.Lx1:
	CHECK_BP 32, bp1, a3
	CHECK_EQ(35, a0, 1)
	csrr a1, tcontrol		/* the trap saved mte in mpte, mret restored it */
	CHECK_EQ(36, a1, MTE | MPTE)
	csrr a1, tdata1
	CHECK_EQ(37, a1, T_MC | MC_HIT | T_M | T_EX)
	NO_BP "lw a2, 0(a3)"		/* reading the address is not executing it */
	TRIG_OFF 0			/* disarmed: runs again */
	call bp1
	CHECK_EQ(38, a0, 2)

	/* a compressed instruction, as mcontrol6 */
	la a3, bp_c
	TRIG 1, T_MC6 | T_M | T_EX, a3
	EXPECT(.Lx2)
	call bp_c
	FAIL(39)
.Lx2:
	CHECK_BP 40, bp_c, a3
	csrr a1, tdata1
	CHECK_EQ(43, a1, T_MC6 | MC6_HIT0 | T_M | T_EX)
	TRIG_OFF 1

	/* in the middle of a function that ran hot (translated) before the trigger */
	li s0, 64
.Lhot:
	call hot
	addi s0, s0, -1
	bnez s0, .Lhot
	la a3, hot_mid
	TRIG 2, T_MC | T_M | T_EX, a3
	li a0, 0
	EXPECT(.Lx3)
	call hot
	FAIL(44)
.Lx3:
	CHECK_BP 45, hot_mid, a3
	CHECK_EQ(48, a0, 3)		/* the two instructions before it ran */
	TRIG_OFF 2

	/* a 32-bit instruction straddling a page: after a block, and as a block's start */
	la a3, strad_insn
	TRIG 3, T_MC | T_M | T_EX, a3
	li a0, 0
	EXPECT(.Lx4)
	call strad_fn
	FAIL(49)
.Lx4:
	CHECK_BP 50, strad_insn, a3
	CHECK_EQ(53, a0, 0)
	EXPECT(.Lx5)
	call strad_insn
	FAIL(54)
.Lx5:
	CHECK_BP 55, strad_insn, a3
	csrci tcontrol, MTE		/* not firing: the instruction runs on its own */
	call strad_insn
	CHECK_EQ(58, a0, 1)
	csrsi tcontrol, MTE
	TRIG_OFF 3

	/* an instruction address breakpoint outranks the fetch's access fault */
	li a3, 0
	TRIG 0, T_MC | T_M | T_EX, a3
	EXPECT(.Lx6)
	jr a3
.Lx6:
	CHECK_EQ(25, s10, CAUSE_BREAKPOINT)
	bnez s8, .Lbad
	TRIG_OFF 0

	/* --- M-mode loads and stores (a4: the address the breakpoint reports) */
	la a3, data1
	mv a4, a3
	TRIG 0, T_MC | T_M | T_LD, a3
	BP_MEM 60, "lw a2, 0(a3)"
	li a5, 0x1111
	NO_BP "sd a5, 0(a3)"		/* a store is not a load */
	NO_BP "sw zero, -8(a3)"		/* nor are other words */
	NO_BP "lw a2, 4(a3)"
	addi a4, a3, -4			/* a wider access covering the address */
	BP_MEM 65, "ld a2, -4(a3)"
	addi a4, a3, -1			/* misaligned */
	BP_MEM 70, "lw a2, -1(a3)"
	mv a4, a3
	BP_MEM 75, "lr.w a2, (a3)"
	BP_MEM 80, "amoadd.w a2, a2, (a3)" /* an AMO loads ... */
	TRIG_OFF 0

	/* a store trigger (mcontrol6) */
	TRIG 1, T_MC6 | T_M | T_ST, a3
	li a1, -1
	fmv.d.x fa1, a1
	BP_MEM 85, "sw a1, 0(a3)"
	DATA1_KEPT 90
	BP_MEM 91, "fsd fa1, 0(a3)"
	DATA1_KEPT 96
	BP_MEM 97, "amoswap.d a2, a1, (a3)" /* ... and stores */
	DATA1_KEPT 102
	lr.w a2, (a3)
	BP_MEM 103, "sc.w a2, a1, (a3)"
	DATA1_KEPT 108
	NO_BP "sb a1, -1(a3)"		/* not a byte of data1 */
	NO_BP "lw a2, 0(a3)"
	csrwi tselect, 1
	csrr a1, tdata1
	CHECK_EQ(109, a1, T_MC6 | MC6_HIT0 | T_M | T_ST)

	/* two at once: a load trigger at data2 beside the store trigger at data1 */
	la a5, data2
	TRIG 0, T_MC | T_M | T_LD, a5
	mv a4, a5
	BP_MEM 110, "lw a2, 0(a5)"
	mv a4, a3
	BP_MEM 115, "sw a1, 0(a3)"
	NO_BP "sw a1, 0(a5)"
	NO_BP "lw a2, 0(a3)"
	TRIG_OFF 0
	TRIG_OFF 1

	/* ranges: >= data3 and < data3 */
	la a3, data3
	TRIG 2, T_MC6 | T_M | T_LD | T_GE, a3
	addi a4, a3, 8
	BP_MEM 120, "ld a2, 8(a3)"
	NO_BP "ld a2, -8(a3)"
	TRIG_OFF 2
	TRIG 2, T_MC | T_M | T_LD | T_LT, a3
	addi a4, a3, -8
	BP_MEM 125, "ld a2, -8(a3)"
	TRIG_OFF 2
	NO_BP "ld a2, 8(a3)"

	/* a load in a loop that ran hot (translated, its page in the TLB) first */
	la a3, data2
	li s0, 64
	call load_loop
	TRIG 3, T_MC | T_M | T_LD, a3
	mv a4, a3
	li s0, 64
	li a2, SENTINEL
	EXPECT(.Lx7)
	call load_loop
	FAIL(130)
.Lx7:
	CHECK_BP 131, load_loop, a4
	CHECK_EQ(134, a2, SENTINEL)
	CHECK_EQ(135, s0, 64)
	TRIG_OFF 3

	/* --- S-mode and U-mode; breakpoints go to M (medeleg[3] = 0) */
	la a3, bp1
	TRIG 0, T_MC | T_S | T_EX, a3	/* S only */
	la a3, data1
	TRIG 1, T_MC6 | T_U | T_LD, a3	/* U only */
	MRET_TO MODE_S, .Ls1
.Ls1:
	li a0, 0
	la a3, data1
	NO_BP "lw a2, 0(a3)"		/* a U trigger: not in S */
	la a3, bp1
	EXPECT(.Lx8)
	call bp1
	FAIL(136)
.Lx8:
	CHECK_BP 137, bp1, a3
	CHECK_EQ(140, s7, 3)		/* taken into M */
	CHECK_EQ(141, a0, 0)
	TO_M
	MRET_TO MODE_U, .Lu1
.Lu1:
	call bp1			/* an S trigger: not in U */
	CHECK_EQ(142, a0, 1)
	la a3, data1
	mv a4, a3
	BP_MEM 143, "lw a2, 0(a3)"
	CHECK_EQ(148, s7, 3)
	TO_M

	/* delegated to S: S-mode triggers fire only while sstatus.SIE is set */
	li t0, 1 << CAUSE_BREAKPOINT
	csrs medeleg, t0
	MRET_TO MODE_S, .Ls2
.Ls2:
	li a0, 0
	call bp1			/* SIE = 0: runs */
	CHECK_EQ(149, a0, 1)
	csrsi sstatus, MSTATUS_SIE
	la a3, bp1
	EXPECT(.Lx9)
	call bp1
	FAIL(150)
.Lx9:
	CHECK_BP 151, bp1, a3
	CHECK_EQ(154, s7, 1)		/* taken into S */
	CHECK_EQ(155, a0, 1)
	csrci sstatus, MSTATUS_SIE
	/* U-mode triggers fire into S whatever SIE */
	SRET_TO 0, .Lu2
.Lu2:
	la a3, data1
	mv a4, a3
	BP_MEM 156, "lw a2, 0(a3)"
	CHECK_EQ(161, s7, 1)
	TO_M
	TRIG_OFF 0
	TRIG_OFF 1
	PASS

.Lbad:
	FAIL(199)

bp1:
	addi a0, a0, 1
	ret
bp_c:
	c.addi a0, 1
	ret
hot:
	addi a0, a0, 1
	addi a0, a0, 2
hot_mid:
	addi a0, a0, 4
	ret
load_loop:
	lw a2, 0(a3)
	addi s0, s0, -1
	bnez s0, load_loop
	ret

	TRAP_HANDLERS

	/* strad_insn: a 32-bit instruction whose second half is on the next page */
	.balign 4096
	.skip 4092			/* never executed */
strad_fn:
	c.nop
	.option push
	.option norvc
strad_insn:
	addi a0, a0, 1
	.option pop
	ret

	.data
	.balign 16
	.dword 0x1111
data1:	.dword 0x1111
data2:	.dword 0x1234
	.balign 4096
	.dword 0x1111
data3:	.dword 0x1111
