/*
 * S-mode interrupts (priv. 3.1.9, 4.1.3): sie/sip are views of mie/mip restricted to
 * delegated interrupts; an STI raised by M writing mip.STIP and delegated through
 * mideleg is taken by S when sstatus.SIE = 1 and sie.STIE = 1 (scause =
 * 0x8000000000000005, sepc = the next instruction), not while SIE = 0 in S, always in U,
 * never in M; sip.STIP is read-only for S; S raises and clears its own SSI through
 * sip.SSIP; an undelegated STI goes to M even from S with mstatus.MIE = 0.
 */
#include "test.h"

#define STI_BIT	(1 << IRQ_STI)
#define SSI_BIT	(1 << IRQ_SSI)

	TEST_START
	PMP_ALLOW_ALL
	la t0, s_irq
	csrw stvec, t0
	la t0, m_irq
	csrw mtvec, t0
	li t0, MSTATUS_MIE | MSTATUS_SIE
	csrc mstatus, t0
	li s5, 0

	/* views: nothing delegated -> sie reads 0; writes through sie reach only S bits */
	csrw mideleg, zero
	li t0, 0x222
	csrw mie, t0
	csrr a2, sie
	CHECK_EQ(1, a2, 0)
	li t0, SSI_BIT | STI_BIT | (1 << IRQ_SEI)
	csrw mideleg, t0
	csrw mie, zero
	li t0, -1
	csrw sie, t0
	csrr a2, mie
	CHECK_BITS(2, a2, 0xaaa, 0x222)
	csrw mie, zero

	/* STI delegated: pending, masked in S while SIE = 0 */
	li t0, STI_BIT
	csrs mip, t0
	li t0, MSTATUS_SPIE	/* keep SIE clear across the srets below */
	csrc mstatus, t0
	MRET_TO MODE_S, .Ls1
.Ls1:
	li t0, STI_BIT
	csrs sie, t0
	csrr a2, sip
	CHECK_BITS(3, a2, STI_BIT, STI_BIT)
	li t0, STI_BIT		/* read-only for S */
	csrc sip, t0
	csrr a2, sip
	CHECK_BITS(4, a2, STI_BIT, STI_BIT)
	nop
	CHECK_EQ(5, s5, 0)
	/* SIE = 1: taken */
	li t0, MSTATUS_SIE
	csrs sstatus, t0
.Ls1_next:
	nop
	CHECK_EQ(6, s5, 1)
	CHECK_EQ(7, s7, MODE_S)
	li t0, IRQ_CAUSE | IRQ_STI
	bne s10, t0, .Lfail8
	la t0, .Ls1_next
	bne s8, t0, .Lfail9
	li t0, MSTATUS_SIE
	csrc sstatus, t0

	/* SSI: S raises it itself */
	li t0, SSI_BIT
	csrs sie, t0
	csrs sip, t0
	nop
	CHECK_EQ(10, s5, 1)	/* SIE = 0 */
	li t0, MSTATUS_SIE
	csrs sstatus, t0
	nop
	CHECK_EQ(11, s5, 2)
	li t0, IRQ_CAUSE | IRQ_SSI
	bne s10, t0, .Lfail8
	csrr a2, sip
	CHECK_BITS(12, a2, SSI_BIT, 0)
	li t0, MSTATUS_SIE
	csrc sstatus, t0
	TO_M

	/* in M with MIE = 1, a delegated pending STI is not taken */
	li t0, STI_BIT
	csrs mie, t0
	li t0, MSTATUS_MIE
	csrs mstatus, t0
	nop
	nop
	li t0, MSTATUS_MIE
	csrc mstatus, t0
	CHECK_EQ(13, s5, 2)

	/* in U, taken whatever SIE */
	li t0, MSTATUS_SIE | MSTATUS_SPIE
	csrc mstatus, t0
	MRET_TO MODE_U, .Lu
.Lu:
	nop
	CHECK_EQ(14, s5, 3)
	CHECK_EQ(15, s7, MODE_S)
	TO_M
	li t0, STI_BIT
	csrc mip, t0

	/* not delegated: to M, even from S with MIE = 0 */
	csrw mideleg, zero
	li t0, STI_BIT
	csrs mie, t0
	csrs mip, t0
	MRET_TO MODE_S, .Ls2
.Ls2:
	nop
	CHECK_EQ(16, s5, 4)
	CHECK_EQ(17, s7, MODE_M)
	li t0, IRQ_CAUSE | IRQ_STI
	bne s10, t0, .Lfail8
	TO_M

	PASS
.Lfail8:
	FAIL(8)
.Lfail9:
	FAIL(9)

	/* S handler: interrupts are counted and silenced (STIE off, SSIP cleared) */
	.balign 4
s_irq:
	csrr t6, scause
	bgez t6, trap_s
	csrr s10, scause
	csrr s8, sepc
	li s7, MODE_S
	addi s5, s5, 1
	li t6, STI_BIT
	csrc sie, t6
	li t6, SSI_BIT
	csrc sip, t6
	sret

	/* M handler: an interrupt clears mip.STIP */
	.balign 4
m_irq:
	csrr t6, mcause
	bgez t6, trap_m
	csrr s10, mcause
	csrr s8, mepc
	li s7, MODE_M
	addi s5, s5, 1
	li t6, STI_BIT
	csrc mip, t6
	mret

	TRAP_HANDLERS
