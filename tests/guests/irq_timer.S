/*
 * Machine timer interrupt (priv. 3.1.9, CLINT): mip.MTIP follows mtime >= mtimecmp and
 * is read-only in mip; with mie.MTIE = 1 but mstatus.MIE = 0 nothing is taken in M; setting
 * MIE takes it at once with mcause = 0x8000000000000007 and mepc = the next instruction;
 * writing mtimecmp into the future clears MTIP; in S- and U-mode an enabled M interrupt
 * is taken whatever MIE says; in vectored mode (mtvec.MODE = 1) the interrupt enters at
 * base + 4 * 7.
 */
#include "test.h"

/* a0 = mtime + ticks */
.macro TIME_PLUS ticks
	li t0, CLINT_MTIME
	ld a0, 0(t0)
	li t0, \ticks
	add a0, a0, t0
.endm

.macro SET_MTIMECMP reg
	li t0, CLINT_MTIMECMP
	sd \reg, 0(t0)
.endm

	TEST_START
	PMP_ALLOW_ALL
	li t0, -1
	SET_MTIMECMP t0
	li t0, MSTATUS_MIE
	csrc mstatus, t0
	li t0, 1 << IRQ_MTI
	csrw mie, t0
	csrr a2, mip
	CHECK_BITS(1, a2, 1 << IRQ_MTI, 0)

	/* MTIP rises within 1000 ticks (100 us), not taken while MIE = 0 */
	TIME_PLUS 1000
	SET_MTIMECMP a0
	li a1, 100000000
.Lwait:
	csrr a2, mip
	andi a2, a2, 1 << IRQ_MTI
	bnez a2, .Lpending
	addi a1, a1, -1
	bnez a1, .Lwait
	FAIL(2)
.Lpending:
	rdtime a3
	bltu a3, a0, .Lfail3
	/* mip.MTIP is read-only */
	li t0, 1 << IRQ_MTI
	csrc mip, t0
	csrr a2, mip
	CHECK_BITS(4, a2, 1 << IRQ_MTI, 1 << IRQ_MTI)

	/* MIE = 1: taken right away */
	la t0, timer_handler
	csrw mtvec, t0
	li s5, 0
	li t0, MSTATUS_MIE
	csrs mstatus, t0
.Lafter_mie:
	nop
	CHECK_EQ(5, s5, 1)
	li t0, IRQ_CAUSE | IRQ_MTI
	bne s10, t0, .Lfail6
	la t0, .Lafter_mie
	bne s8, t0, .Lfail7
	csrr a2, mip		/* the handler moved mtimecmp to the future */
	CHECK_BITS(8, a2, 1 << IRQ_MTI, 0)
	csrr a2, mstatus	/* mret restored MIE */
	CHECK_BITS(9, a2, MSTATUS_MIE, MSTATUS_MIE)

	/* in U with MIE = 0: still taken */
	li t0, MSTATUS_MIE
	csrc mstatus, t0
	MRET_TO MODE_U, .Lu
.Lu:
	li s5, 0
	li a0, 0
	SET_MTIMECMP a0		/* due now (U may store to the CLINT: bare, PMP open) */
	li a1, 100000000
.Lu_wait:
	bnez s5, .Lu_done
	addi a1, a1, -1
	bnez a1, .Lu_wait
	FAIL(10)
.Lu_done:
	li t0, IRQ_CAUSE | IRQ_MTI
	bne s10, t0, .Lfail6
	TO_M
	csrr a2, mstatus	/* the trap from U saw MPP = U */
	CHECK_BITS(11, a2, MSTATUS_MPP, 0)

	/* vectored: the interrupt enters at base + 4 * 7 */
	la t0, vector_table
	ori t0, t0, 1
	csrw mtvec, t0
	li s5, 0
	li a0, 0
	SET_MTIMECMP a0
	li t0, MSTATUS_MIE
	csrs mstatus, t0
	nop
	CHECK_EQ(12, s5, 1)
	li t0, MSTATUS_MIE
	csrc mstatus, t0

	PASS
.Lfail3:
	FAIL(3)
.Lfail6:
	FAIL(6)
.Lfail7:
	FAIL(7)

	/* count, record, silence the timer; exceptions go to trap_m */
	.balign 4
timer_handler:
	csrr t6, mcause
	bgez t6, trap_m
	csrr s10, mcause
	csrr s8, mepc
	addi s5, s5, 1
	li t6, -1
	li t5, CLINT_MTIMECMP
	sd t6, 0(t5)
	mret

	.balign 64
vector_table:
	.option push
	.option norvc
	j trap_m		/* exceptions */
	.rept 6
	j .Lbad_vector
	.endr
	j timer_handler		/* 7: MTI */
	.rept 8
	j .Lbad_vector
	.endr
	.option pop
.Lbad_vector:
	FAIL(13)

	TRAP_HANDLERS
