/*
 * The link budget follows instructions retired, not polls. A chain of 4 blocks, each
 * ending in a jump to the next (translated, their exits linked on the second pass:
 * cpu/jit, chain_to), run twice, then a write of mscratch (a CSR write: the hart polls)
 * and sfence.vma (the pc -> block table and every direct jump go), 100,000 times:
 * about 2.4 million instructions, a poll and a flush each iteration. Each jump written costs a system call (cpu/block.h,
 * LINK_COST); with a unit of budget per poll they were written again about every 32
 * iterations (3,000 or more in all); with a unit per 32,768 instructions, a burst of 32
 * and then a few (tests/cli/suite.sh checks --stats' links count). Also a plain
 * correctness check of the count.
 */
#include "guest.h"

#define ITERS 100000

	.section .text.init, "ax"
	.globl _start
_start:
	li s0, ITERS
	li a1, 0
.Lloop:
	li s1, 2
.Lchain:
	.rept 4
	addi a1, a1, 1
	j 1f
1:
	.endr
	addi s1, s1, -1
	bnez s1, .Lchain
	csrw mscratch, s0
	sfence.vma
	addi a1, a1, 1
	addi s0, s0, -1
	bnez s0, .Lloop
	CHECK_EQ(1, a1, ITERS * 9)
	PASS
