/*
 * Multi-hart test (run with --cpus 4; every hart starts here with a0 = hart id):
 * 1. amoadd.w from all harts on one counter: no increment is lost.
 * 2. an LR/SC spinlock around a plain load/add/store: mutual exclusion holds.
 * 3. every hart reads the goldfish RTC (TIME_LOW, then TIME_HIGH) at once: the time is
 *    plausible (after 2020) and ThreadSanitizer sees no race in the device.
 * 4. IPIs: hart 0 raises msip for each other hart, which sleeps in wfi until it arrives,
 *    checks mip.MSIP, clears its msip and acknowledges.
 * Hart 0 then checks the totals and ends the test (finisher); the others park in wfi.
 */
#include "guest.h"

#define NHARTS	4
#define ITERS	20000
#define CLINT	0x2000000
#define RTC	0x101000
#define RTC_READS 200000
#define Y2020_NS_HI 0x15e59a35	/* 2020-01-01 in ns, >> 32 */

	.section .text.init
	.globl _start
_start:
	mv s0, a0			/* hart id */
	la sp, _stack_top
	slli t0, s0, 12
	sub sp, sp, t0			/* 4 KiB of stack per hart */

	/* 1: atomic add */
	la s1, counter
	li s2, ITERS
1:	li t0, 1
	amoadd.w zero, t0, (s1)
	addi s2, s2, -1
	bnez s2, 1b

	/* 2: LR/SC spinlock protecting a non-atomic increment */
	la s1, lock
	la s3, plain
	li s2, ITERS
2:	lr.w.aq t0, (s1)
	bnez t0, 2b
	li t1, 1
	sc.w.rl t0, t1, (s1)
	bnez t0, 2b
	ld t2, 0(s3)
	addi t2, t2, 1
	sd t2, 0(s3)
	amoswap.w.rl zero, zero, (s1)	/* unlock */
	addi s2, s2, -1
	bnez s2, 2b

	/* 3: RTC reads from every hart */
	li s1, RTC
	li s2, RTC_READS
10:	lw t0, 0(s1)			/* TIME_LOW latches the time */
	lw t1, 4(s1)			/* TIME_HIGH of the latched time */
	li t2, Y2020_NS_HI
	bgeu t1, t2, 11f
	FAIL(4)
11:	addi s2, s2, -1
	bnez s2, 10b

	/* arrive at the barrier */
	la s1, arrived
	li t0, 1
	amoadd.w zero, t0, (s1)
	bnez s0, secondary

	/* hart 0: wait for everyone, then send IPIs one by one */
3:	lw t0, 0(s1)
	li t1, NHARTS
	bne t0, t1, 3b
	li s4, 1
4:	li t0, CLINT
	slli t1, s4, 2
	add t0, t0, t1
	li t1, 1
	sw t1, 0(t0)			/* msip[s4] = 1 */
	la t2, acks
	slli t3, s4, 2
	add t2, t2, t3
5:	lw t4, 0(t2)
	beqz t4, 5b			/* wait for that hart's ack */
	addi s4, s4, 1
	li t0, NHARTS
	bne s4, t0, 4b

	/* check the totals */
	la t0, counter
	lw t1, 0(t0)
	CHECK_EQ(1, t1, NHARTS * ITERS)
	la t0, plain
	ld t1, 0(t0)
	CHECK_EQ(2, t1, NHARTS * ITERS)
	PASS

secondary:
	li t0, 8			/* mie.MSIE; mstatus.MIE stays 0: wfi wakes, no trap */
	csrw mie, t0
6:	wfi
	csrr t0, mip
	andi t0, t0, 8
	beqz t0, 6b
	li t0, CLINT
	slli t1, s0, 2
	add t0, t0, t1
	sw zero, 0(t0)			/* clear our msip */
	csrr t0, mip
	andi t0, t0, 8
	beqz t0, 7f
	FAIL(3)				/* msip cleared but MSIP still pending */
7:	la t2, acks
	slli t3, s0, 2
	add t2, t2, t3
	li t1, 1
	sw t1, 0(t2)
8:	wfi
	j 8b

	.data
	.align 3
counter:	.word 0
lock:		.word 0
arrived:	.word 0
		.word 0
plain:		.dword 0
acks:		.space 4 * NHARTS
