/*
 * Misaligned ordinary loads and stores. The spec lets a hart either trap (cause 4/6) or
 * perform them; Lodge performs them, like QEMU, so this checks the values: lh/lhu/lw/lwu/
 * ld at every misalignment with sign extension, sh/sw/sd at odd addresses leaving the
 * neighbouring bytes intact, accesses that straddle a 4 KiB page boundary, and misaligned
 * fld/fsd. No trap may occur.
 */
#include "test.h"

	TEST_START
	li t0, MSTATUS_FS
	csrs mstatus, t0
	la s0, buf		/* 16 bytes 0x80 0x81 ... 0x8f */

	lh a2, 1(s0)
	CHECK_EQ(1, a2, 0xffffffffffff8281)
	lhu a2, 1(s0)
	CHECK_EQ(2, a2, 0x8281)
	lh a2, 7(s0)
	CHECK_EQ(3, a2, 0xffffffffffff8887)
	lw a2, 1(s0)
	CHECK_EQ(4, a2, 0xffffffff84838281)
	lw a2, 2(s0)
	CHECK_EQ(5, a2, 0xffffffff85848382)
	lw a2, 3(s0)
	CHECK_EQ(6, a2, 0xffffffff86858483)
	lwu a2, 3(s0)
	CHECK_EQ(7, a2, 0x86858483)
	lw a2, 6(s0)
	CHECK_EQ(8, a2, 0xffffffff89888786)
	ld a2, 1(s0)
	CHECK_EQ(9, a2, 0x8887868584838281)
	ld a2, 4(s0)
	CHECK_EQ(10, a2, 0x8b8a898887868584)
	ld a2, 7(s0)
	CHECK_EQ(11, a2, 0x8e8d8c8b8a898887)

	/* stores */
	la s1, wbuf
	li a0, -1
	sd a0, 0(s1)
	sd a0, 8(s1)
	li a1, 0x1122334455667788
	sh a1, 1(s1)
	ld a2, 0(s1)
	CHECK_EQ(12, a2, 0xffffffffff7788ff)
	sw a1, 5(s1)
	ld a2, 0(s1)
	CHECK_EQ(13, a2, 0x667788ffff7788ff)
	ld a2, 8(s1)
	CHECK_EQ(14, a2, 0xffffffffffffff55)
	sd a1, 3(s1)
	ld a2, 0(s1)
	CHECK_EQ(15, a2, 0x44556677887788ff)
	ld a2, 8(s1)
	CHECK_EQ(16, a2, 0xffffffffff112233)

	/* straddling a page boundary: the last 3 bytes of one page and 5 of the next */
	la s2, page_end
	li a1, 0x0807060504030201
	sd a1, -3(s2)
	ld a2, -3(s2)
	CHECK_EQ(17, a2, 0x0807060504030201)
	lbu a2, -3(s2)
	CHECK_EQ(18, a2, 0x01)
	lbu a2, 0(s2)
	CHECK_EQ(19, a2, 0x04)
	lw a2, -2(s2)
	CHECK_EQ(20, a2, 0x05040302)
	sh a1, -1(s2)
	lhu a2, -1(s2)
	CHECK_EQ(21, a2, 0x0201)

	/* FP */
	fld fa0, 3(s0)
	fmv.x.d a2, fa0
	CHECK_EQ(22, a2, 0x8a89888786858483)
	fsd fa0, 9(s1)
	ld a2, 9(s1)
	CHECK_EQ(23, a2, 0x8a89888786858483)

	PASS

	TRAP_HANDLERS

	.data
	.balign 16
buf:	.byte 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87
	.byte 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f
wbuf:	.fill 32, 1, 0
	.balign 4096
	.fill 4096, 1, 0
page_end:
	.fill 64, 1, 0
