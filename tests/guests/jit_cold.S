/*
 * Translated code outlives cold code: a hot loop (translated after --jit-hot entries)
 * between passes over 30,000 two-instruction blocks run once per pass, which fill the
 * block arena several times over but never get hot. Only the arena's cold part is dropped
 * when it fills, so the hot loop is translated once (tests/cli/suite.sh checks --stats:
 * no full flush, a handful of translations); dropping everything made it be decoded,
 * interpreted jit-hot times and translated again on every pass. Also a plain correctness
 * check of both counts, translated and interpreted.
 */
#include "guest.h"

#define COLD	  30000
#define PASSES	  40
#define HOT_ITERS 200

	.section .text.init, "ax"
	.globl _start
_start:
	li s0, PASSES
	li a0, 0
	li a1, 0
.Lpass:
	li s1, HOT_ITERS
.Lhot:
	addi a1, a1, 3
	addi s1, s1, -1
	bnez s1, .Lhot
	.rept COLD
	addi a0, a0, 1
	j 1f
1:
	.endr
	addi s0, s0, -1
	bnez s0, .Lpass
	CHECK_EQ(1, a0, COLD * PASSES)
	CHECK_EQ(2, a1, 3 * HOT_ITERS * PASSES)
	PASS
