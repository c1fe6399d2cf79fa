/*
 * Translated blocks keep only their header in the arena's hot part (cpu/block.h): 3,000
 * blocks of nine instructions, run 48 times, are all translated. As headers (64 bytes
 * each) they fit a hart's hot part (3/16 of the default 2M share: 384 KiB); as whole
 * blocks (224 bytes each) they did not, and the caches were dropped every pass
 * (tests/cli/suite.sh checks --stats: no full flush). Then a loop whose translated block
 * ends at an instruction straddling a page hands over to the interpreter at every
 * iteration, which decodes the code there again: the retired-instruction count stays
 * exact. Also a plain correctness check, translated and interpreted.
 */
#include "guest.h"

#define BLOCKS 3000
#define PASSES 48
#define CROSS  100

	.section .text.init, "ax"
	.globl _start
_start:
	li s0, PASSES
	li a0, 0
	li a1, 0
	li a2, 0
	li a3, 0
	li a4, 0
	li a5, 0
	li t0, 0
	li t1, 0
.Lpass:
	.rept BLOCKS
	addi a0, a0, 1
	addi a1, a1, 2
	addi a2, a2, 3
	addi a3, a3, 4
	addi a4, a4, 5
	addi a5, a5, 6
	addi t0, t0, 7
	addi t1, t1, 8
	j 1f
1:
	.endr
	addi s0, s0, -1
	bnez s0, .Lpass
	li s0, BLOCKS * PASSES
	CHECK_EQ(1, a0, BLOCKS * PASSES)
	li s0, 6 * BLOCKS * PASSES
	CHECK_EQ(2, a5, 6 * BLOCKS * PASSES)
	CHECK_EQ(3, t1, 8 * BLOCKS * PASSES)

	li a0, 0
	csrr s2, minstret
	li s1, CROSS
	j .Lcross
	.balign 4096
	.skip 4096 - 10
.Lcross: /* 10 bytes before a page boundary: two 4-byte additions, then one across it */
	.option push
	.option norvc
	addi a0, a0, 1
	addi a1, a1, 1
	addi s1, s1, -1
	.option pop
	bnez s1, .Lcross
	csrr s3, minstret
	CHECK_EQ(4, a0, CROSS)
	sub s3, s3, s2
	/* the first csrr, li, j, and four instructions an iteration */
	CHECK_EQ(5, s3, 3 + 4 * CROSS)
	PASS
