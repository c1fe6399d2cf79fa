/*
 * Warm code gets translated although the cold part of the block arena is dropped between
 * its runs: each pass runs WARM blocks twice, then COLD two-instruction blocks run once,
 * which fill the cold part several times over and drop the warm blocks with them. A warm
 * block so never reaches --jit-hot entries between two flushes (an idle guest's timer
 * interrupt code, run a few times a second, was decoded and interpreted afresh for good);
 * the heat a cold flush drops is kept (cpu/exec.c, heat_mem), so the warm blocks are
 * translated after a few passes (tests/cli/suite.sh checks --stats: jitblocks). Also a
 * plain correctness check of the counts, translated and interpreted.
 */
#include "guest.h"

#define WARM   200
#define COLD   30000
#define PASSES 40

	.section .text.init, "ax"
	.globl _start
_start:
	li s0, PASSES
	li a0, 0
	li a1, 0
.Lpass:
	li s1, 2
.Lwarm:
	.rept WARM
	addi a1, a1, 1
	j 1f
1:
	.endr
	addi s1, s1, -1
	bnez s1, .Lwarm
	.rept COLD
	addi a0, a0, 1
	j 1f
1:
	.endr
	addi s0, s0, -1
	bnez s0, .Lpass
	CHECK_EQ(1, a0, COLD * PASSES)
	CHECK_EQ(2, a1, 2 * WARM * PASSES)
	PASS
