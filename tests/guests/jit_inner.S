/*
 * Forward branches inside a translated block (cpu/jit: a branch before the block's last
 * op whose target is a later op of the same block jumps there in line, un-counting the
 * ops it skips). Each part runs with the branch taken (even rounds) and not taken (odd):
 *   1. ops skipped that write a block-cached register (t0) and a global one (a3);
 *   2. a register whose first write in its block is skipped (s3): it must still be
 *      loaded at the block's entry, or the read after the join sees garbage;
 *   3. the join at the addi of a lui + addi pair (the pair must not be fused);
 *   4. the retired-instruction count across a taken and a not-taken skip (minstret).
 * 300 rounds, so that the blocks are translated at any --jit-hot.
 */
#include "test.h"

	TEST_START

	li s0, 300
.Lloop:
	andi s2, s0, 1		/* 1: not taken this round */
	xori s1, s2, 1		/* 1: taken */

	/* 1: t1 = 7 + 9, plus 10 + 20 when not taken */
	li t0, 7
	li a3, 9
	beqz s2, 1f
	addi t0, t0, 10
	addi a3, a3, 20
1:	add t1, t0, a3
	li t2, 30
	mul t2, t2, s2
	addi t2, t2, 16
	bne t1, t2, .Lfail1
	add t2, t0, t0
	add t2, t2, a3

	/* 2: s4 = s3 + 1, s3 = 100 (taken) or 5 */
	li s3, 100
	j 10f
10:	beqz s2, 11f
	li s3, 5
11:	addi s4, s3, 1
	add s4, s4, s3
	/* s4 = 201 (taken) or 11 */
	li t2, 190
	mul t2, t2, s1
	addi t2, t2, 11
	bne s4, t2, .Lfail2

	/* 3: t3 = 5, plus 0x12000 when taken (the lui runs) */
	li t3, 0
	j 20f
20:	bnez s1, 21f
	lui t3, 0x12
21:	addi t3, t3, 5
	addi t3, t3, 0
	li t2, 0x12000
	mul t2, t2, s2
	addi t2, t2, 5
	bne t3, t2, .Lfail3

	/* 4: from the first csrr to the second: csrr, beqz, and 3 nops when not taken */
	csrr s5, minstret
	beqz s2, 30f
	nop
	nop
	nop
30:	csrr s6, minstret
	sub s7, s6, s5
	li t2, 3
	mul t2, t2, s2
	addi t2, t2, 2
	bne s7, t2, .Lfail4

	addi s0, s0, -1
	bnez s0, .Lloop
	PASS

.Lfail1:
	FAIL(1)
.Lfail2:
	FAIL(2)
.Lfail3:
	FAIL(3)
.Lfail4:
	FAIL(4)

	TRAP_HANDLERS
