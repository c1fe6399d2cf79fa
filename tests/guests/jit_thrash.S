/*
 * Many small hot blocks: 30,000 two-instruction blocks (addi; jump to the next) run 40
 * times over. Under `--jit-hot 1` every block is translated on its first entry and the
 * code cache cannot hold them all; translating them again on every pass made this 19x
 * slower than interpreting (tests/cli/suite.sh bounds the translations; bench/jit-thrash
 * times it). Also a plain correctness check: a0 counts the blocks run.
 */
#include "guest.h"

#define BLOCKS	30000
#define PASSES	40

	.section .text.init, "ax"
	.globl _start
_start:
	li s0, PASSES
	li a0, 0
.Lpass:
	.rept BLOCKS
	addi a0, a0, 1
	j 1f
1:
	.endr
	addi s0, s0, -1
	beqz s0, .Ldone
	j .Lpass
.Ldone:
	CHECK_EQ(1, a0, BLOCKS * PASSES)
	PASS
