/*
 * RV64I loads and stores: lb/lbu/lh/lhu/lw/lwu/ld with sign and zero extension,
 * sb/sh/sw/sd writing exactly their width (neighbouring bytes intact), positive and
 * negative offsets, little-endian byte order, a load into x0 (discarded), and a
 * store-then-load of the same bytes at different widths.
 */
#include "test.h"

	TEST_START
	la s0, buf

	/* loads with sign/zero extension from data = 0x8070605040302010, 0xfffefdfcfbfaf9f8 */
	ld a2, 0(s0)
	CHECK_EQ(1, a2, 0x8070605040302010)
	lb a2, 7(s0)
	CHECK_EQ(2, a2, 0xffffffffffffff80)
	lbu a2, 7(s0)
	CHECK_EQ(3, a2, 0x80)
	lb a2, 6(s0)
	CHECK_EQ(4, a2, 0x70)
	lh a2, 6(s0)
	CHECK_EQ(5, a2, 0xffffffffffff8070)
	lhu a2, 6(s0)
	CHECK_EQ(6, a2, 0x8070)
	lh a2, 2(s0)
	CHECK_EQ(7, a2, 0x4030)
	lw a2, 4(s0)
	CHECK_EQ(8, a2, 0xffffffff80706050)
	lwu a2, 4(s0)
	CHECK_EQ(9, a2, 0x80706050)
	lw a2, 0(s0)
	CHECK_EQ(10, a2, 0x40302010)
	ld a2, 8(s0)
	CHECK_EQ(11, a2, 0xfffefdfcfbfaf9f8)

	/* negative offsets */
	addi s1, s0, 16
	ld a2, -8(s1)
	CHECK_EQ(12, a2, 0xfffefdfcfbfaf9f8)
	lbu a2, -1(s1)
	CHECK_EQ(13, a2, 0xff)
	lw a2, -12(s1)
	CHECK_EQ(14, a2, 0xffffffff80706050)

	/* stores write only their width */
	li a0, -1
	sd a0, 16(s0)
	sd a0, 24(s0)
	li a1, 0x1122334455667788
	sb a1, 16(s0)
	ld a2, 16(s0)
	CHECK_EQ(15, a2, 0xffffffffffffff88)
	sh a1, 18(s0)
	ld a2, 16(s0)
	CHECK_EQ(16, a2, 0xffffffff7788ff88)
	sw a1, 20(s0)
	ld a2, 16(s0)
	CHECK_EQ(17, a2, 0x556677887788ff88)
	sd a1, 24(s0)
	ld a2, 24(s0)
	CHECK_EQ(18, a2, 0x1122334455667788)
	sw a1, -4(s1)
	lwu a2, 12(s0)
	CHECK_EQ(19, a2, 0x55667788)

	/* little-endian: bytes of a stored dword read back individually */
	lbu a2, 24(s0)
	CHECK_EQ(20, a2, 0x88)
	lbu a2, 31(s0)
	CHECK_EQ(21, a2, 0x11)
	lhu a2, 28(s0)
	CHECK_EQ(22, a2, 0x3344)

	/* load into x0 */
	ld x0, 0(s0)
	CHECK_EQ(23, x0, 0)

	/* an address computed with a large positive offset (2047) and -2048 */
	la s1, buf + 2048
	li a0, 0x5a
	sb a0, -2048(s1)
	lbu a2, 0(s0)
	CHECK_EQ(24, a2, 0x5a)
	addi s1, s0, -2047
	lbu a2, 2047(s1)
	CHECK_EQ(25, a2, 0x5a)

	PASS

	TRAP_HANDLERS

	.data
	.balign 8
buf:
	.dword 0x8070605040302010
	.dword 0xfffefdfcfbfaf9f8
	.fill 2048, 1, 0
