/*
 * wfi waking on the timer (priv. 3.3.3): with mie.MTIE = 1 and mstatus.MIE = 0, wfi
 * returns once MTIP is pending and execution continues after it without a trap; with
 * MIE = 1 the interrupt is taken on wake-up and mret returns after the wfi. wfi may
 * return early (the spec allows it), so each wait loops until the condition holds.
 */
#include "test.h"

.macro TIMER_IN ticks
	li t0, CLINT_MTIME
	ld a0, 0(t0)
	li t0, \ticks
	add a0, a0, t0
	li t0, CLINT_MTIMECMP
	sd a0, 0(t0)
.endm

	TEST_START
	la t0, timer_handler
	csrw mtvec, t0
	li s5, 0
	li t0, MSTATUS_MIE
	csrc mstatus, t0
	li t0, 1 << IRQ_MTI
	csrw mie, t0

	/* MIE = 0: wfi returns, no trap; 2000 ticks = 200 us */
	TIMER_IN 2000
.Lwait1:
	wfi
	csrr a2, mip
	andi a2, a2, 1 << IRQ_MTI
	beqz a2, .Lwait1
	rdtime a3
	bltu a3, a0, .Lfail1
	CHECK_EQ(2, s5, 0)

	/* MIE = 1: the handler runs on wake-up, mret returns after the wfi */
	TIMER_IN 2000
	li t0, MSTATUS_MIE
	csrs mstatus, t0
.Lwait2:
	wfi
.Lafter_wfi:
	beqz s5, .Lwait2
	li t0, IRQ_CAUSE | IRQ_MTI
	bne s10, t0, .Lfail3
	la t0, .Lafter_wfi
	bne s8, t0, .Lfail4
	rdtime a3
	bltu a3, a0, .Lfail5
	li t0, MSTATUS_MIE
	csrc mstatus, t0

	PASS
.Lfail1:
	FAIL(1)
.Lfail3:
	FAIL(3)
.Lfail4:
	FAIL(4)
.Lfail5:
	FAIL(5)

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

	TRAP_HANDLERS
