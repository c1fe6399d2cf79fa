/*
 * fence.i with self-modifying code (Zifencei): after a store to an instruction and
 * fence.i, the hart must execute the new instruction, also when it was executed (and
 * possibly cached) before, when it is rewritten many times, when it is a 16-bit
 * instruction, when it was written byte by byte, and when it directly follows the
 * fence.i in the same straight-line block.
 */
#include "test.h"

#define ADDI_A0(imm)	(((imm) << 20) | (10 << 7) | 0x13)	/* addi a0, zero, imm */
#define C_LI_A0(imm)	(0x4001 | (10 << 7) | ((imm) << 2))	/* c.li a0, imm (0..31) */

	TEST_START

	/* run the original once, then patch it */
	call patch_fn
	CHECK_EQ(1, a0, 1)
	la t0, patch_fn
	li t1, ADDI_A0(42)
	sw t1, 0(t0)
	fence.i
	call patch_fn
	CHECK_EQ(2, a0, 42)

	/* rewrite it 50 times, executing each version */
	li s0, 0
.Lagain:
	li t1, ADDI_A0(0)
	slli t2, s0, 20
	or t1, t1, t2
	la t0, patch_fn
	sw t1, 0(t0)
	fence.i
	call patch_fn
	bne a0, s0, .Lfail3
	addi s0, s0, 1
	li t2, 50
	bne s0, t2, .Lagain

	/* byte-by-byte writes of addi a0, zero, 77 */
	la t0, patch_fn
	li t1, ADDI_A0(77)
	sb t1, 0(t0)
	srli t1, t1, 8
	sb t1, 1(t0)
	srli t1, t1, 8
	sb t1, 2(t0)
	srli t1, t1, 8
	sb t1, 3(t0)
	fence.i
	call patch_fn
	CHECK_EQ(4, a0, 77)

	/* a 16-bit instruction */
	call patch_c
	CHECK_EQ(5, a0, 5)
	la t0, patch_c
	li t1, C_LI_A0(9)
	sh t1, 0(t0)
	fence.i
	call patch_c
	CHECK_EQ(6, a0, 9)

	/* the patched instruction right after the fence.i; run the block twice */
	li s0, 0
.Linline:
	la t0, .Lnext
	li t1, ADDI_A0(100)
	add t1, t1, s0		/* s0 << 20 would do; s0 is 0 or 1 << 20 */
	sw t1, 0(t0)
	fence.i
	.option push
	.option norvc
.Lnext:
	addi a0, zero, 1
	.option pop
	li t2, 100
	srli t3, s0, 20
	add t2, t2, t3
	bne a0, t2, .Lfail7
	bnez s0, .Ldone
	li s0, 1 << 20
	j .Linline
.Ldone:
	PASS
.Lfail3:
	FAIL(3)
.Lfail7:
	FAIL(7)

	.option push
	.option norvc
	.balign 4
patch_fn:
	addi a0, zero, 1
	ret
	.option pop
	.option push
	.option rvc
	.balign 4
patch_c:
	c.li a0, 5
	c.jr ra
	.option pop

	TRAP_HANDLERS
