/*
 * Warm blocks outlive a cold flush: 200 small blocks run three times per pass (warm, but
 * far from --jit-hot), then 1500 blocks of 64 instructions (1.7 MB decoded: 64-byte
 * header, 16-byte ops) run once per pass, which fill the block arena's cold part (1.375 MiB on one hart while nothing is
 * translated) about once a pass. When it fills, blocks entered twice or more since they
 * were decoded are kept (moved to its front), so the warm blocks are decoded once, not
 * again after every fill (tests/cli/suite.sh checks --stats' decoded count: with every
 * cold block dropped it would be about 40 x 1700, now about 40 x 1500). Also a plain
 * correctness check of both counts, translated and interpreted.
 */
#include "guest.h"

#define WARM	  200
#define WARM_RUNS 3
#define COLD	  (1500 * 64)
#define PASSES	  40

	.section .text.init, "ax"
	.globl _start
_start:
	li s0, PASSES
	li a0, 0
	li a1, 0
.Lpass:
	li s1, WARM_RUNS
.Lwarm:
	.rept WARM
	addi a1, a1, 1
	j 1f
1:
	.endr
	addi s1, s1, -1
	bnez s1, .Lwarm
	.option push
	.option norvc
	.rept COLD
	addi a0, a0, 1
	.endr
	.option pop
	addi s0, s0, -1
	bnez s0, .Lpass
	CHECK_EQ(1, a0, COLD * PASSES)
	CHECK_EQ(2, a1, WARM * WARM_RUNS * PASSES)
	PASS
