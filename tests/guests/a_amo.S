/*
 * A extension AMOs: amoswap/add/xor/and/or/min/max/minu/maxu in .w and .d forms. Checks
 * rd = old memory value (sign-extended from 32 bits for .w), the new memory value
 * (min/max compare signed, minu/maxu unsigned, .w on the low 32 bits of rs2 only), that a
 * .w AMO leaves the neighbouring word alone, rd = x0 and rd = rs2, and the .aq/.rl/.aqrl
 * forms. Misaligned AMOs are in a_misaligned.S.
 */
#include "test.h"

#define GUARD 0x5a5a5a5a

/* ids id, id+1, id+2: old value in rd, new value in memory, neighbouring word intact. */
.macro TEST_AMO_W id, op, init, operand, old, new
	la a0, amo_buf
	li a1, GUARD
	sw a1, 4(a0)
	li a1, \init
	sw a1, 0(a0)
	li a1, \operand
	\op a2, a1, (a0)
	CHECK_EQ(\id, a2, \old)
	lw a3, 0(a0)
	CHECK_EQ(\id + 1, a3, \new)
	lw a3, 4(a0)
	CHECK_EQ(\id + 2, a3, GUARD)
.endm

.macro TEST_AMO_D id, op, init, operand, old, new
	la a0, amo_buf
	li a1, \init
	sd a1, 0(a0)
	li a1, \operand
	\op a2, a1, (a0)
	CHECK_EQ(\id, a2, \old)
	ld a3, 0(a0)
	CHECK_EQ(\id + 1, a3, \new)
	CHECK_EQ(\id + 2, a1, \operand)
.endm

	TEST_START

	/* amo*.w */
	TEST_AMO_W 1, amoswap.w, 0x80000001, 0x7ffffffe, 0xffffffff80000001, 0x7ffffffe
	TEST_AMO_W 4, amoswap.w, 0xfffffff0, 0x20, 0xfffffffffffffff0, 0x20
	TEST_AMO_W 7, amoswap.w, 0x5, 0xffffffff80000000, 0x5, 0xffffffff80000000
	TEST_AMO_W 10, amoadd.w, 0x80000001, 0x7ffffffe, 0xffffffff80000001, 0xffffffffffffffff
	TEST_AMO_W 13, amoadd.w, 0xfffffff0, 0x20, 0xfffffffffffffff0, 0x10
	TEST_AMO_W 16, amoadd.w, 0x5, 0xffffffff80000000, 0x5, 0xffffffff80000005
	TEST_AMO_W 19, amoxor.w, 0x80000001, 0x7ffffffe, 0xffffffff80000001, 0xffffffffffffffff
	TEST_AMO_W 22, amoxor.w, 0xfffffff0, 0x20, 0xfffffffffffffff0, 0xffffffffffffffd0
	TEST_AMO_W 25, amoxor.w, 0x5, 0xffffffff80000000, 0x5, 0xffffffff80000005
	TEST_AMO_W 28, amoand.w, 0x80000001, 0x7ffffffe, 0xffffffff80000001, 0x0
	TEST_AMO_W 31, amoand.w, 0xfffffff0, 0x20, 0xfffffffffffffff0, 0x20
	TEST_AMO_W 34, amoand.w, 0x5, 0xffffffff80000000, 0x5, 0x0
	TEST_AMO_W 37, amoor.w, 0x80000001, 0x7ffffffe, 0xffffffff80000001, 0xffffffffffffffff
	TEST_AMO_W 40, amoor.w, 0xfffffff0, 0x20, 0xfffffffffffffff0, 0xfffffffffffffff0
	TEST_AMO_W 43, amoor.w, 0x5, 0xffffffff80000000, 0x5, 0xffffffff80000005
	TEST_AMO_W 46, amomin.w, 0x80000001, 0x7ffffffe, 0xffffffff80000001, 0xffffffff80000001
	TEST_AMO_W 49, amomin.w, 0xfffffff0, 0x20, 0xfffffffffffffff0, 0xfffffffffffffff0
	TEST_AMO_W 52, amomin.w, 0x5, 0xffffffff80000000, 0x5, 0xffffffff80000000
	TEST_AMO_W 55, amomax.w, 0x80000001, 0x7ffffffe, 0xffffffff80000001, 0x7ffffffe
	TEST_AMO_W 58, amomax.w, 0xfffffff0, 0x20, 0xfffffffffffffff0, 0x20
	TEST_AMO_W 61, amomax.w, 0x5, 0xffffffff80000000, 0x5, 0x5
	TEST_AMO_W 64, amominu.w, 0x80000001, 0x7ffffffe, 0xffffffff80000001, 0x7ffffffe
	TEST_AMO_W 67, amominu.w, 0xfffffff0, 0x20, 0xfffffffffffffff0, 0x20
	TEST_AMO_W 70, amominu.w, 0x5, 0xffffffff80000000, 0x5, 0x5
	TEST_AMO_W 73, amomaxu.w, 0x80000001, 0x7ffffffe, 0xffffffff80000001, 0xffffffff80000001
	TEST_AMO_W 76, amomaxu.w, 0xfffffff0, 0x20, 0xfffffffffffffff0, 0xfffffffffffffff0
	TEST_AMO_W 79, amomaxu.w, 0x5, 0xffffffff80000000, 0x5, 0xffffffff80000000

	/* amo*.d */
	TEST_AMO_D 82, amoswap.d, 0x8000000000000001, 0x7ffffffffffffffe, \
		0x8000000000000001, 0x7ffffffffffffffe
	TEST_AMO_D 85, amoswap.d, 0xfffffffffffffff0, 0x20, 0xfffffffffffffff0, 0x20
	TEST_AMO_D 88, amoswap.d, 0x5, 0xffffffff00000000, 0x5, 0xffffffff00000000
	TEST_AMO_D 91, amoadd.d, 0x8000000000000001, 0x7ffffffffffffffe, \
		0x8000000000000001, 0xffffffffffffffff
	TEST_AMO_D 94, amoadd.d, 0xfffffffffffffff0, 0x20, 0xfffffffffffffff0, 0x10
	TEST_AMO_D 97, amoadd.d, 0x5, 0xffffffff00000000, 0x5, 0xffffffff00000005
	TEST_AMO_D 100, amoxor.d, 0x8000000000000001, 0x7ffffffffffffffe, \
		0x8000000000000001, 0xffffffffffffffff
	TEST_AMO_D 103, amoxor.d, 0xfffffffffffffff0, 0x20, 0xfffffffffffffff0, 0xffffffffffffffd0
	TEST_AMO_D 106, amoxor.d, 0x5, 0xffffffff00000000, 0x5, 0xffffffff00000005
	TEST_AMO_D 109, amoand.d, 0x8000000000000001, 0x7ffffffffffffffe, 0x8000000000000001, 0x0
	TEST_AMO_D 112, amoand.d, 0xfffffffffffffff0, 0x20, 0xfffffffffffffff0, 0x20
	TEST_AMO_D 115, amoand.d, 0x5, 0xffffffff00000000, 0x5, 0x0
	TEST_AMO_D 118, amoor.d, 0x8000000000000001, 0x7ffffffffffffffe, \
		0x8000000000000001, 0xffffffffffffffff
	TEST_AMO_D 121, amoor.d, 0xfffffffffffffff0, 0x20, 0xfffffffffffffff0, 0xfffffffffffffff0
	TEST_AMO_D 124, amoor.d, 0x5, 0xffffffff00000000, 0x5, 0xffffffff00000005
	TEST_AMO_D 127, amomin.d, 0x8000000000000001, 0x7ffffffffffffffe, \
		0x8000000000000001, 0x8000000000000001
	TEST_AMO_D 130, amomin.d, 0xfffffffffffffff0, 0x20, 0xfffffffffffffff0, 0xfffffffffffffff0
	TEST_AMO_D 133, amomin.d, 0x5, 0xffffffff00000000, 0x5, 0xffffffff00000000
	TEST_AMO_D 136, amomax.d, 0x8000000000000001, 0x7ffffffffffffffe, \
		0x8000000000000001, 0x7ffffffffffffffe
	TEST_AMO_D 139, amomax.d, 0xfffffffffffffff0, 0x20, 0xfffffffffffffff0, 0x20
	TEST_AMO_D 142, amomax.d, 0x5, 0xffffffff00000000, 0x5, 0x5
	TEST_AMO_D 145, amominu.d, 0x8000000000000001, 0x7ffffffffffffffe, \
		0x8000000000000001, 0x7ffffffffffffffe
	TEST_AMO_D 148, amominu.d, 0xfffffffffffffff0, 0x20, 0xfffffffffffffff0, 0x20
	TEST_AMO_D 151, amominu.d, 0x5, 0xffffffff00000000, 0x5, 0x5
	TEST_AMO_D 154, amomaxu.d, 0x8000000000000001, 0x7ffffffffffffffe, \
		0x8000000000000001, 0x8000000000000001
	TEST_AMO_D 157, amomaxu.d, 0xfffffffffffffff0, 0x20, 0xfffffffffffffff0, 0xfffffffffffffff0
	TEST_AMO_D 160, amomaxu.d, 0x5, 0xffffffff00000000, 0x5, 0xffffffff00000000

	/* rd = x0: memory still updated */
	la a0, amo_buf
	li a1, 10
	sd a1, 0(a0)
	li a1, 5
	amoadd.d x0, a1, (a0)
	ld a3, 0(a0)
	CHECK_EQ(163, a3, 15)
	/* rd = rs2: rd gets the old value, memory gets the old rs2 */
	li a1, 7
	amoswap.d a1, a1, (a0)
	CHECK_EQ(164, a1, 15)
	ld a3, 0(a0)
	CHECK_EQ(165, a3, 7)
	/* ordering bits */
	li a1, 1
	amoadd.w.aq a2, a1, (a0)
	amoadd.w.rl a2, a1, (a0)
	amoadd.d.aqrl a2, a1, (a0)
	ld a3, 0(a0)
	CHECK_EQ(166, a3, 10)
	CHECK_EQ(167, a2, 9)

	PASS

	TRAP_HANDLERS

	.data
	.balign 64
amo_buf:
	.fill 64, 1, 0
