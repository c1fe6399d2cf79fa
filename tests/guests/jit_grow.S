/*
 * A working set of translated code bigger than a hart's share of the caches, whose
 * translations pay: 30 regions of 200 eight-instruction blocks, each region looped 200
 * times before the next, the whole 8 times over. With the caches at their shares the
 * arena's hot part fills a few times a pass, every few million instructions (the code
 * buffer holds what that part's blocks translate to); the hart doubles its budgets
 * (cpu/block.h, CACHE_GROW_*) until the set fits, and fills no more (tests/cli/suite.sh,
 * jit_grow: grows= and flushes= of --stats). Also a plain correctness check: a0 counts
 * the blocks run, a2 mixes their values.
 */
#include "guest.h"

#define REGIONS 30
#define BLOCKS	200
#define LOOPS	200
#define PASSES	8

	.section .text.init, "ax"
	.globl _start
_start:
	li s0, PASSES
	li a0, 0
	li a2, 0
.Lpass:
	.rept REGIONS
	li t0, LOOPS
2:
	.rept BLOCKS
	addi a0, a0, 1
	xori a1, a0, 5
	add a2, a2, a1
	slli a3, a1, 2
	xor a2, a2, a3
	srli a4, a2, 3
	add a2, a2, a4
	j 1f
1:
	.endr
	addi t0, t0, -1
	beqz t0, 3f
	j 2b
3:
	.endr
	addi s0, s0, -1
	beqz s0, .Ldone
	j .Lpass
.Ldone:
	CHECK_EQ(1, a0, REGIONS * BLOCKS * LOOPS * PASSES)
	PASS
