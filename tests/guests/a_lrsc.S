/*
 * A extension LR/SC (unpriv. 14.2): an SC with no reservation fails (rd != 0, memory
 * unchanged); LR then SC to the same address succeeds (rd = 0, memory written); a second
 * SC after it fails (every SC, successful or not, ends the reservation); an SC to another
 * address fails and also ends the reservation on the first; lr.w sign-extends; an LR/SC
 * retry loop increments a counter.
 */
#include "test.h"

	TEST_START
	la s0, word_a
	la s1, word_b

	/* SC without any reservation fails */
	li a1, 0x1234
	sc.d a2, a1, (s0)
	beqz a2, .Lfail1
	ld a3, 0(s0)
	CHECK_EQ(2, a3, 0x0123456789abcdef)

	/* LR then SC: success */
	lr.d a2, (s0)
	CHECK_EQ(3, a2, 0x0123456789abcdef)
	li a1, 0x55
	sc.d a3, a1, (s0)
	CHECK_EQ(4, a3, 0)
	ld a3, 0(s0)
	CHECK_EQ(5, a3, 0x55)

	/* a second SC: the reservation is gone */
	li a1, 0x66
	sc.d a3, a1, (s0)
	beqz a3, .Lfail6
	ld a3, 0(s0)
	CHECK_EQ(7, a3, 0x55)

	/* SC to another address (another 64-byte block) fails ... */
	lr.d a2, (s0)
	li a1, 0x77
	sc.d a3, a1, (s1)
	beqz a3, .Lfail8
	ld a3, 0(s1)
	CHECK_EQ(9, a3, 0)
	/* ... and ends the reservation on the first */
	sc.d a3, a1, (s0)
	beqz a3, .Lfail10
	ld a3, 0(s0)
	CHECK_EQ(11, a3, 0x55)

	/* lr.w/sc.w: sign extension of the loaded word, 32-bit store */
	li a1, -1
	sd a1, 0(s1)
	li a1, 0x80000000
	sw a1, 0(s1)
	lr.w a2, (s1)
	CHECK_EQ(12, a2, 0xffffffff80000000)
	li a1, 0x7fffffff
	sc.w a3, a1, (s1)
	CHECK_EQ(13, a3, 0)
	ld a3, 0(s1)
	CHECK_EQ(14, a3, 0xffffffff7fffffff)

	/* an LR/SC increment loop */
	sd zero, 0(s0)
	li a4, 100
.Lloop:
	lr.d a2, (s0)
	addi a2, a2, 1
	sc.d a3, a2, (s0)
	bnez a3, .Lloop
	addi a4, a4, -1
	bnez a4, .Lloop
	ld a3, 0(s0)
	CHECK_EQ(15, a3, 100)

	/* aq/rl forms */
	lr.d.aq a2, (s0)
	sc.d.rl a3, a2, (s0)
	CHECK_EQ(16, a3, 0)
	lr.w.aqrl a2, (s1)
	sc.w.aqrl a3, a2, (s1)
	CHECK_EQ(17, a3, 0)

	PASS
.Lfail1:
	FAIL(1)
.Lfail6:
	FAIL(6)
.Lfail8:
	FAIL(8)
.Lfail10:
	FAIL(10)

	TRAP_HANDLERS

	.data
	.balign 64
word_a:	.dword 0x0123456789abcdef
	.balign 64
	.fill 64, 1, 0
word_b:	.dword 0
