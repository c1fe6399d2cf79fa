/*
 * ecall from M, S and U: causes 11, 9 and 8, mepc = the ecall's address (not the next
 * instruction), mtval = 0, and mstatus.MPP = the mode the ecall came from. mret with
 * mepc + 4 continues after the ecall.
 */
#include "test.h"

.macro CHECK_ECALL id, cause, label, mode
	CHECK_EQ(\id, s10, \cause)
	CHECK_EQ(\id + 1, s9, 0)
	la a5, \label
	beq s8, a5, .Lepc\@
	FAIL(\id + 2)
.Lepc\@:
	csrr a5, mstatus
	srli a5, a5, 11
	andi a5, a5, 3
	CHECK_EQ(\id + 3, a5, \mode)
.endm

	TEST_START
	PMP_ALLOW_ALL

	/* M */
	li t0, -1
	csrw mtval, t0
	EXPECT(.Lm_back)
.Lm_ecall:
	ecall
.Lm_back:
	CHECK_ECALL 1, CAUSE_ECALL_M, .Lm_ecall, MODE_M

	/* S */
	MRET_TO MODE_S, .Ls
.Ls:
	EXPECT(.Ls_back)
.Ls_ecall:
	ecall
.Ls_back:
	CHECK_ECALL 5, CAUSE_ECALL_S, .Ls_ecall, MODE_S

	/* U */
	MRET_TO MODE_U, .Lu
.Lu:
	EXPECT(.Lu_back)
.Lu_ecall:
	ecall
.Lu_back:
	CHECK_ECALL 9, CAUSE_ECALL_U, .Lu_ecall, MODE_U

	/* returning to mepc + 4 continues after the ecall (a real handler's return) */
	la t0, ecall_return
	csrw mtvec, t0
	li a0, 0
	.option push
	.option norvc
	ecall
	li a0, 1
	.option pop
	CHECK_EQ(13, a0, 1)

	PASS

	.balign 4
ecall_return:
	csrr t0, mepc
	addi t0, t0, 4
	csrw mepc, t0
	la t0, trap_m
	csrw mtvec, t0
	li t0, MSTATUS_MPP
	csrs mstatus, t0	/* back to M */
	mret

	TRAP_HANDLERS
