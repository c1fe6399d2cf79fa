/*
 * Store buffering (the "SB" litmus test), run with --cpus 2 (hart ids in a0): in each of
 * ITERS rounds, hart 0 stores 1 to x, runs `fence rw, rw` and loads y, while hart 1
 * stores 1 to y, runs the same fence and loads x. RVWMO forbids both loads seeing 0. The
 * x86 host lets a load pass an earlier store to another address, so that fence has to
 * be a host barrier (cpu/decode.c, fence_orders_store_load), translated or interpreted;
 * a no-op lets both see 0 (Linux's smp_mb() and virtio_mb() are this fence: a lost
 * wake-up between harts, a lost kick between a driver and a device). The rounds are
 * lined up by a counter both harts add to with an AMO and then spin on, so the two
 * stores and loads run at about the same time. Hart 0 checks each round: status 2 when
 * both loads saw 0. Other harts park.
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
	li s1, ITERS

round:
	sw zero, 0(s2)			/* this hart's flag down */
	call barrier
	li t0, 1
	sw t0, 0(s2)
	fence rw, rw
	lw t1, 0(s3)
	sd t1, 0(s4)
	call barrier
	bnez s0, 2f
	la t0, res			/* hart 0: did both see 0? */
	ld t1, 0(t0)
	ld t2, 8(t0)
	or t1, t1, t2
	bnez t1, 2f
	FAIL(2)
2:	addi s1, s1, -1
	bnez s1, round
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
