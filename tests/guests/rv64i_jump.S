/*
 * RV64I jumps: jal links pc + 4 and reaches forward/backward targets; jalr adds its
 * offset, clears bit 0 of the target (odd register value, odd offset), reads rs1 before
 * writing rd (rd = rs1), and may target a 2-byte aligned address (C is on, so no
 * misaligned-fetch trap). Uses 32-bit encodings (norvc) where link values are checked.
 */
#include "test.h"

	TEST_START
	.option push
	.option norvc

	/* jal: ra = address of the next instruction */
	jal ra, .Lsub1
.Lret1:
	la a3, .Lret1
	CHECK_EQ(1, a2, 7)
	bne ra, a3, .Lfail2

	/* jal with rd = x0 does not link; a backward jal */
	li ra, 0
	j .Lfwd
.Lback:
	j .Lafter_back
.Lfwd:
	jal x0, .Lback
	FAIL(3)
.Lafter_back:
	CHECK_EQ(4, ra, 0)

	/* jalr with an odd register value: bit 0 of the target is cleared */
	la t0, .Lsub1
	addi t0, t0, 1
	li a2, 0
	jalr ra, 0(t0)
.Lret2:
	CHECK_EQ(5, a2, 7)
	la a3, .Lret2
	bne ra, a3, .Lfail6

	/* jalr with an odd offset and a negative offset */
	la t0, .Lsub1
	addi t0, t0, 16
	li a2, 0
	jalr ra, -15(t0)
	CHECK_EQ(7, a2, 7)
	la t0, .Lsub1
	addi t0, t0, -100
	li a2, 0
	jalr ra, 100(t0)
	CHECK_EQ(8, a2, 7)

	/* rd = rs1: the target comes from the old value, the link goes to rd */
	la t1, .Lsub2
	jalr t1, 0(t1)
.Lret3:
	la a3, .Lret3
	bne t1, a3, .Lfail9
	CHECK_EQ(10, a2, 9)

	/* jalr rd = x0 (a plain indirect jump) */
	la t0, .Lind
	li ra, 0
	jalr x0, 0(t0)
	FAIL(11)
.Lind:
	CHECK_EQ(12, ra, 0)
	.option pop

	/* a 2-byte aligned target: jump into the second of two compressed instructions */
	li a0, 0
	la t0, .Lhalf
	jalr x0, 2(t0)
	.option push
	.option rvc
.Lhalf:
	c.li a0, 1
	c.addi a0, 2
	.option pop
	CHECK_EQ(13, a0, 2)

	PASS

.Lfail2:
	FAIL(2)
.Lfail6:
	FAIL(6)
.Lfail9:
	FAIL(9)

	.balign 4
.Lsub1:
	li a2, 7
	ret
.Lsub2:
	li a2, 9
	jr t1

	TRAP_HANDLERS
