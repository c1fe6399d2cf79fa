/*
 * The store-buffering litmus tests' frame (sb.S, sb_amo.S), run with --cpus 2 (hart ids
 * in a0): SB_START sets up harts 0 and 1 (others park), SB_PHASE runs one phase of
 * ITERS rounds, SB_END passes and holds the round barrier and the data.
 */
#include "guest.h"

.macro SB_START
	.section .text.init
	.globl _start
_start:
	mv s0, a0
	la sp, _stack_top
	slli t0, s0, 12
	sub sp, sp, t0
	li t0, 2
	bgeu s0, t0, park

	la s2, x			/* s2: this hart's flag, s3: the other's */
	la s3, y
	beqz s0, 1f
	mv t0, s2
	mv s2, s3
	mv s3, t0
1:	la s4, res
	slli t0, s0, 3
	add s4, s4, t0			/* s4: this hart's result */
	la s5, bar
	li s6, 0			/* barriers passed */

.endm

/* One phase: ITERS rounds of `store` (1 from t0 to 0(s2)) then `load` (0(s3) into t1),
 * hart 0 failing with `code` when both loads saw 0. */
.macro SB_PHASE code, store, load
	li s1, ITERS
10:	sw zero, 0(s2)
	call barrier
	li t0, 1
	\store
	\load
	sext.w t1, t1
	sd t1, 0(s4)
	call barrier
	bnez s0, 11f
	la t0, res
	ld t1, 0(t0)
	ld t2, 8(t0)
	or t1, t1, t2
	bnez t1, 11f
	FAIL(\code)
11:	addi s1, s1, -1
	bnez s1, 10b
.endm

.macro SB_END
	bnez s0, park
	PASS

park:
	wfi
	j park

/* Both harts arrive: bar counts arrivals; the k-th barrier (s6 = k) is passed once it
 * reaches 2 * (k + 1). The AMO is a full barrier itself. Clobbers t0, t1. */
barrier:
	addi s6, s6, 1
	li t0, 1
	amoadd.w.aqrl zero, t0, (s5)
	slli t1, s6, 1
3:	lw t0, 0(s5)
	blt t0, t1, 3b
	ret

	.data
	.align 6
x:	.word 0
	.align 6
y:	.word 0
	.align 6
bar:	.word 0
	.align 6
res:	.dword 0, 0
.endm
