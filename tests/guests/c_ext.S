/*
 * C extension (unpriv. 16): every RV64C instruction form, written as explicit c.*
 * mnemonics, checked for its result: quadrant 0 (c.addi4spn, c.lw/ld/fld, c.sw/sd/fsd),
 * quadrant 1 (c.nop, c.addi, c.addiw, c.li, c.addi16sp, c.lui, c.srli, c.srai, c.andi,
 * c.sub/xor/or/and/subw/addw, c.j, c.beqz, c.bnez), quadrant 2 (c.slli, c.lwsp/ldsp/fldsp,
 * c.swsp/sdsp/fsdsp, c.jr, c.mv, c.jalr linking pc + 2, c.add, c.ebreak). Immediates
 * are checked at their sign-extension edges.
 */
#include "test.h"

	TEST_START
	li t0, MSTATUS_FS
	csrs mstatus, t0
	.option push
	.option rvc

	/* c.li, c.addi, c.addiw, c.lui, c.mv, c.add */
	c.li a0, -32
	CHECK_EQ(1, a0, -32)
	c.li a0, 31
	c.addi a0, -1
	CHECK_EQ(2, a0, 30)
	li a0, 0x7fffffff
	c.addiw a0, 1
	CHECK_EQ(3, a0, 0xffffffff80000000)
	li a0, 0x100000005
	c.addiw a0, 0		/* sext.w */
	CHECK_EQ(4, a0, 5)
	c.lui a1, 0xfffff
	CHECK_EQ(5, a1, 0xfffffffffffff000)
	c.lui a1, 0x1f
	CHECK_EQ(6, a1, 0x1f000)
	c.lui a1, 0xfffe0
	CHECK_EQ(7, a1, 0xfffffffffffe0000)
	c.mv a2, a1
	CHECK_EQ(8, a2, 0xfffffffffffe0000)
	c.li a3, 7
	c.add a2, a3
	CHECK_EQ(9, a2, 0xfffffffffffe0007)
	c.nop

	/* c.srli, c.srai, c.andi, c.slli */
	li s0, 0x8000000000000010
	c.srli s0, 4
	CHECK_EQ(10, s0, 0x0800000000000001)
	li s0, 0x8000000000000010
	c.srai s0, 4
	CHECK_EQ(11, s0, 0xf800000000000001)
	li s0, 0x8000000000000000
	c.srai s0, 63
	CHECK_EQ(12, s0, -1)
	li s1, 0xff
	c.andi s1, -16
	CHECK_EQ(13, s1, 0xf0)
	li s1, 0xff
	c.andi s1, 31
	CHECK_EQ(14, s1, 0x1f)
	li a4, 1
	c.slli a4, 63
	CHECK_EQ(15, a4, 0x8000000000000000)

	/* c.sub, c.xor, c.or, c.and, c.subw, c.addw on x8-x15 */
	li a0, 100
	li a1, 58
	c.sub a0, a1
	CHECK_EQ(16, a0, 42)
	li a0, 0xf0f0
	li a1, 0xff00
	c.xor a0, a1
	CHECK_EQ(17, a0, 0x0ff0)
	c.or a0, a1
	CHECK_EQ(18, a0, 0xfff0)
	c.and a0, a1
	CHECK_EQ(19, a0, 0xff00)
	li a0, 0x80000000
	li a1, 1
	c.subw a0, a1
	CHECK_EQ(20, a0, 0x7fffffff)
	c.addw a0, a1
	CHECK_EQ(21, a0, 0xffffffff80000000)

	/* c.addi16sp, c.addi4spn, stack-relative loads and stores */
	mv a5, sp
	c.addi16sp sp, -64
	sub a0, a5, sp
	CHECK_EQ(22, a0, 64)
	c.addi4spn a0, sp, 24
	sub a0, a0, sp
	CHECK_EQ(23, a0, 24)
	li a1, 0x1122334455667788
	c.sdsp a1, 8(sp)
	ld a2, 8(sp)
	CHECK_EQ(24, a2, 0x1122334455667788)
	li a1, 0x80000001
	c.swsp a1, 16(sp)
	c.lwsp a2, 16(sp)
	CHECK_EQ(25, a2, 0xffffffff80000001)
	c.ldsp a3, 8(sp)
	CHECK_EQ(26, a3, 0x1122334455667788)
	c.fldsp fa0, 8(sp)
	fmv.x.d a3, fa0
	CHECK_EQ(27, a3, 0x1122334455667788)
	li a1, 0x4000000000000000	/* 2.0 */
	fmv.d.x fa1, a1
	c.fsdsp fa1, 24(sp)
	ld a3, 24(sp)
	CHECK_EQ(28, a3, 0x4000000000000000)

	/* register-relative loads and stores (x8-x15, scaled offsets) */
	mv s0, sp
	li a1, 0xfedcba9876543210
	c.sd a1, 32(s0)
	c.ld a2, 32(s0)
	CHECK_EQ(29, a2, 0xfedcba9876543210)
	c.lw a2, 36(s0)
	CHECK_EQ(30, a2, 0xfffffffffedcba98)
	li a1, 0x7eadbeef
	c.sw a1, 40(s0)
	c.lw a3, 40(s0)
	CHECK_EQ(31, a3, 0x7eadbeef)
	c.fld fa2, 32(s0)
	fmv.x.d a3, fa2
	CHECK_EQ(32, a3, 0xfedcba9876543210)
	c.fsd fa1, 48(s0)
	c.ld a3, 48(s0)
	CHECK_EQ(33, a3, 0x4000000000000000)
	c.addi16sp sp, 64
	bne sp, a5, .Lfail34

	/* c.j, c.beqz, c.bnez */
	c.j .Lj1
	FAIL(35)
.Lj1:
	c.li a0, 0
	c.beqz a0, .Lj2
	FAIL(36)
.Lj2:
	c.bnez a0, .Lbad37
	c.li a0, -1
	c.bnez a0, .Lj3
	FAIL(38)
.Lj3:
	c.beqz a0, .Lbad39

	/* c.jalr links pc + 2; c.jr returns */
	la a2, .Lsub
	c.li a0, 0
.Ljalr:
	c.jalr a2
.Lafter_jalr:
	CHECK_EQ(40, a0, 11)
	la a3, .Lafter_jalr
	bne ra, a3, .Lbad41
	la a3, .Ljalr
	sub a3, ra, a3
	CHECK_EQ(42, a3, 2)

	/* c.ebreak: breakpoint, mepc at the 2-byte instruction */
	EXPECT(.Lbrk_done)
.Lbrk:
	c.ebreak
	FAIL(43)
.Lbrk_done:
	CHECK_EQ(44, s10, CAUSE_BREAKPOINT)
	la a3, .Lbrk
	bne s8, a3, .Lbad45

	.option pop
	PASS
.Lfail34:
	FAIL(34)
.Lbad37:
	FAIL(37)
.Lbad39:
	FAIL(39)
.Lbad41:
	FAIL(41)
.Lbad45:
	FAIL(45)

.Lsub:
	li a0, 11
	c.jr ra

	TRAP_HANDLERS
