/*
 * Machine software interrupt (CLINT msip): writing 1 to msip raises mip.MSIP (read-only
 * in mip), with mie.MSIE and mstatus.MIE it is taken with mcause = 0x8000000000000003
 * and mepc = the next instruction, writing 0 to msip clears it; only bit 0 of msip is
 * writable; with MSIE = 0 nothing is taken.
 */
#include "test.h"

	TEST_START
	la t0, soft_handler
	csrw mtvec, t0
	li s5, 0
	li t0, MSTATUS_MIE
	csrc mstatus, t0
	li t0, 1 << IRQ_MSI
	csrw mie, t0

	li s0, CLINT_MSIP
	li a0, 1
	sw a0, 0(s0)
	lw a2, 0(s0)
	CHECK_EQ(1, a2, 1)
	csrr a2, mip
	CHECK_BITS(2, a2, 1 << IRQ_MSI, 1 << IRQ_MSI)
	li t0, 1 << IRQ_MSI	/* read-only in mip */
	csrc mip, t0
	csrr a2, mip
	CHECK_BITS(3, a2, 1 << IRQ_MSI, 1 << IRQ_MSI)
	CHECK_EQ(4, s5, 0)

	li t0, MSTATUS_MIE
	csrs mstatus, t0
.Lnext:
	nop
	CHECK_EQ(5, s5, 1)
	li t0, IRQ_CAUSE | IRQ_MSI
	bne s10, t0, .Lfail6
	la t0, .Lnext
	bne s8, t0, .Lfail7
	csrr a2, mip
	CHECK_BITS(8, a2, 1 << IRQ_MSI, 0)
	lw a2, 0(s0)
	CHECK_EQ(9, a2, 0)

	/* MSIE = 0: pending but not taken */
	csrw mie, zero
	li a0, 1
	sw a0, 0(s0)
	nop
	nop
	CHECK_EQ(10, s5, 1)
	sw zero, 0(s0)

	/* only bit 0 of msip is writable */
	li a0, 0xfffffffe
	sw a0, 0(s0)
	lw a2, 0(s0)
	CHECK_EQ(11, a2, 0)
	csrr a2, mip
	CHECK_BITS(12, a2, 1 << IRQ_MSI, 0)

	PASS
.Lfail6:
	FAIL(6)
.Lfail7:
	FAIL(7)

	.balign 4
soft_handler:
	csrr t6, mcause
	bgez t6, trap_m
	csrr s10, mcause
	csrr s8, mepc
	addi s5, s5, 1
	li t6, CLINT_MSIP
	sw zero, 0(t6)
	mret

	TRAP_HANDLERS
