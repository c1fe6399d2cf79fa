/*
 * Store buffering (the "SB" litmus test, as in sb.S) with the atomics' annotations doing
 * the fence's work, run with --cpus 2 (hart ids in a0). Each phase runs ITERS rounds in
 * which hart 0 stores 1 to x and loads y while hart 1 stores 1 to y and loads x; RVWMO
 * forbids both loads seeing 0 in every phase, and hart 0 fails with the phase's status:
 *   3: the load is `lr.w.aqrl` (its rl orders the earlier store before it: PPO rule 6;
 *      C11's seq_cst compare-exchange is `lr.w.aqrl; bne; sc.w.rl` in the spec's
 *      mapping table, so a seq_cst store and a failing seq_cst CAS are this test)
 *   4: the store is `amoswap.w.aqrl` (its aq orders the later load after it)
 *   5: the load is `amoor.w.aqrl` with rs2 = zero (its rl, as in 3)
 *   6: the store is `sc.w.rl`, the load `lr.w.aq` (both RCsc: PPO rule 7)
 * The host's locked instructions (the AMOs, SC) are full barriers, but an LR is a plain
 * load there: phase 3 needs a host barrier before it (cpu/decode.c, dec_amo).
 * The rounds are lined up as in sb.S. Other harts park.
 */
#include "guest.h"

#define ITERS 50000

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

	SB_PHASE 3, "sw t0, 0(s2)", "lr.w.aqrl t1, (s3)"
	SB_PHASE 4, "amoswap.w.aqrl zero, t0, (s2)", "lw t1, 0(s3)"
	SB_PHASE 5, "sw t0, 0(s2)", "amoor.w.aqrl t1, zero, (s3)"
	SB_PHASE 6, "call store_sc", "lr.w.aq t1, (s3)"
	bnez s0, park
	PASS

park:
	wfi
	j park

/* 1 (t0) to 0(s2) by lr.w / sc.w.rl, retried until the SC succeeds. Clobbers t2. */
store_sc:
	lr.w t2, (s2)
	sc.w.rl t2, t0, (s2)
	bnez t2, store_sc
	ret

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
