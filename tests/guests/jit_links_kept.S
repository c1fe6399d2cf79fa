/*
 * Direct jumps between translated blocks outlive a fill of the arena's cold part. A hot
 * loop of 20 blocks, each ending in a jump to the next (translated, and their exits
 * linked: cpu/jit, chain_to), runs 40,000 times a pass (2.4 million instructions);
 * then 1500 blocks of 64 instructions (1.7 MB decoded) run once, which fill the cold part
 * about once a pass. A fill drops only untranslated blocks, so the hot loop's jumps stay linked: they
 * are written once (tests/cli/suite.sh checks --stats' links count). When every fill
 * undid them, each pass linked them again as far as the link budget allowed (a system
 * call each, cpu/block.h LINK_COST): about 2 a pass, 80 or more in all. Also a plain
 * correctness check of both counts.
 */
#include "guest.h"

#define HOT	  20
#define HOT_RUNS  40000
#define COLD	  (1500 * 64)
#define PASSES	  40

	.section .text.init, "ax"
	.globl _start
_start:
	li s0, PASSES
	li a0, 0
	li a1, 0
.Lpass:
	li s1, HOT_RUNS
.Lhot:
	.rept HOT
	addi a1, a1, 1
	addi a1, a1, 1
	j 1f
1:
	.endr
	addi s1, s1, -1
	bnez s1, .Lhot
	.option push
	.option norvc
	.rept COLD
	addi a0, a0, 1
	.endr
	.option pop
	addi s0, s0, -1
	bnez s0, .Lpass
	CHECK_EQ(1, a0, COLD * PASSES)
	CHECK_EQ(2, a1, HOT * HOT_RUNS * PASSES * 2)
	PASS
