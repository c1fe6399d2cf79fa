/*
 * Breakpoints: ebreak and c.ebreak raise cause 3 with mepc = their address, from M, S and
 * U. mtval is either 0 or the address (both allowed by priv. 3.1.16; QEMU 7.2 writes 0).
 */
#include "test.h"

.macro CHECK_BRK id, label
	CHECK_EQ(\id, s10, CAUSE_BREAKPOINT)
	la a5, \label
	beq s8, a5, .Lepc\@
	FAIL(\id + 1)
.Lepc\@:
	beqz s9, .Ltval\@
	beq s9, a5, .Ltval\@
	FAIL(\id + 2)
.Ltval\@:
.endm

	TEST_START
	PMP_ALLOW_ALL

	EXPECT(.L1)
	.option push
	.option norvc
.L1_brk:
	ebreak
	.option pop
	FAIL(1)
.L1:
	CHECK_BRK 2, .L1_brk
	EXPECT(.L2)
.L2_brk:
	c.ebreak
	FAIL(5)
.L2:
	CHECK_BRK 6, .L2_brk

	MRET_TO MODE_S, .Ls
.Ls:
	EXPECT(.L3)
	.option push
	.option norvc
.L3_brk:
	ebreak
	.option pop
	FAIL(9)
.L3:
	CHECK_EQ(10, s7, MODE_M)
	CHECK_BRK 11, .L3_brk
	TO_M
	CHECK_EQ(20, s10, CAUSE_ECALL_S)

	MRET_TO MODE_U, .Lu
.Lu:
	EXPECT(.L4)
.L4_brk:
	c.ebreak
	FAIL(14)
.L4:
	CHECK_EQ(15, s7, MODE_M)
	CHECK_BRK 16, .L4_brk
	TO_M
	CHECK_EQ(19, s10, CAUSE_ECALL_U)

	PASS

	TRAP_HANDLERS
