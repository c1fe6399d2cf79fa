/*
 * Hand-overs from translated code to the interpreter that recur: a loop whose first
 * instruction, an inline fadd.d, hands over whenever its result is a NaN (once in 64
 * iterations here). The interpreter decodes the code at that pc into its scratch block
 * (cpu/exec.c, scratch_block); the scratch block's branch back to its own start must go
 * through the look-up to the translated loop, not run it again interpreted (until the
 * next poll: the whole loop interpreted; tests/cli/suite.sh checks --stats). The
 * retired-instruction count stays exact, and the results right, translated and
 * interpreted.
 */
#include "guest.h"

#define PERIOD 64
#define ROUNDS 4096
#define ITERS  (PERIOD * ROUNDS)

	.section .text.init, "ax"
	.globl _start
_start:
	li t0, 0x2000 /* mstatus.FS = Initial */
	csrs mstatus, t0
	li s3, 0x3ff0000000000000 /* 1.0 */
	li s2, 0x7ff8000000000000 /* a quiet NaN */
	xor s2, s2, s3
	fmv.d.x f1, s3
	fmv.d.x f2, s3
	li s1, 0
	li s0, ITERS
	csrr s5, minstret
.Lloop:
	fadd.d f3, f1, f2 /* a NaN after each iteration that set f2 to one */
	addi s0, s0, -1
	andi t1, s0, PERIOD - 1
	seqz t1, t1
	neg t1, t1
	and t2, s2, t1
	xor t2, t2, s3 /* a NaN when s0 is a multiple of PERIOD, else 1.0 */
	fmv.d.x f2, t2
	feq.d t3, f3, f3 /* 0 for a NaN */
	add s1, s1, t3
	bnez s0, .Lloop
	csrr s6, minstret
	sub s6, s6, s5
	CHECK_EQ(1, s6, 1 + 11 * ITERS)
	CHECK_EQ(2, s1, ITERS - (ROUNDS - 1))
	PASS
