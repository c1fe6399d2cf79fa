/*
 * Direct jumps between translated blocks (cpu/jit: a block's exit to a constant target,
 * once taken a few times, jumps straight to the target's code). A loop whose blocks jump
 * to two others on a page of their own, by a jal and by a taken branch, runs 200 times
 * (the exits are linked); then those targets are rewritten (stores and fence.i) and the
 * loop runs again: the linked jumps must reach the new code, not the old translations,
 * although the blocks holding them were not touched. 40 rounds, a new immediate each.
 */
#include "test.h"

#define ADDI_A0(imm) (((imm) << 20) | (10 << 15) | (10 << 7) | 0x13) /* addi a0, a0, imm */
#define ADDI_A1(imm) (((imm) << 20) | (11 << 15) | (11 << 7) | 0x13) /* addi a1, a1, imm */
#define ROUNDS	     40
#define ITERS	     200

	TEST_START

	li s1, 1		/* this round's immediate: target adds s1, target2 adds 2 * s1 */
.Lround:
	li a0, 0
	li a1, 0
	li s0, ITERS
.Lloop:
	j target		/* a block ending in a jal to the other page */
back:
	addi s0, s0, -1
	bnez s0, target2	/* a block ending in a branch to it */
	/* a0 == ITERS * s1, a1 == (ITERS - 1) * 2 * s1 */
	li t0, ITERS
	mul t0, t0, s1
	bne a0, t0, .Lfail1
	li t0, ITERS - 1
	mul t0, t0, s1
	slli t0, t0, 1
	bne a1, t0, .Lfail2
	/* next round: rewrite both targets' first instruction */
	addi s1, s1, 1
	la t0, target
	li t1, ADDI_A0(0)
	slli t2, s1, 20
	or t1, t1, t2
	sw t1, 0(t0)
	la t0, target2
	li t1, ADDI_A1(0)
	slli t2, s1, 21
	or t1, t1, t2
	sw t1, 0(t0)
	fence.i
	li t0, ROUNDS
	ble s1, t0, .Lround
	PASS
.Lfail1:
	FAIL(1)
.Lfail2:
	FAIL(2)

	/* the targets, on a page of their own (rewriting them leaves the loop's blocks
	 * and their linked jumps as they are) */
	.option push
	.option norvc
	.balign 4096
target:
	addi a0, a0, 1
	j back
target2:
	addi a1, a1, 2
	j .Lloop
	.option pop
	.balign 4096

	TRAP_HANDLERS
