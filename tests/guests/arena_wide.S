/*
 * A working set wider than a fixed cold part: 1200 blocks of 64 instructions (about 1.3 MB
 * decoded: 64-byte header, 16-byte ops) run once per pass, 40 passes, on one hart (its arena: 1.375 MiB, of which the
 * hot part, translated blocks, takes at most 384 KiB). Blocks run once between two fills
 * of the cold part are dropped at each fill and decoded again. With the cold part fixed
 * at a quarter of the hart's share (512 KiB) or at half (1 MiB), every pass decoded all
 * 1200 again (48,000 in all); the cold part now has what the hot part does not use, so the
 * blocks stay decoded until they are translated (tests/cli/suite.sh checks --stats'
 * decoded count). Also a plain correctness check of the count.
 */
#include "guest.h"

#define WIDE   (1200 * 64)
#define PASSES 40

	.section .text.init, "ax"
	.globl _start
_start:
	li s0, PASSES
	li a0, 0
	.p2align 12
.Lpass:
	.option push
	.option norvc
	.rept WIDE
	addi a0, a0, 1
	.endr
	.option pop
	addi s0, s0, -1
	bnez s0, .Lpass
	CHECK_EQ(1, a0, WIDE * PASSES)
	PASS
