/*
 * Instruction pairs and idioms the JIT translates as one host instruction (cpu/jit):
 * slli + srli by 32 (zext.w) as a 32-bit mov, sext.w (addiw rd, rs1, 0) as movsxd, addiw
 * as a 32-bit lea + movsxd; with bit 31 set, 32-bit wrap-around, rd == rs1 and rd != rs1,
 * x0 as the source, and registers that live in host registers (a0..a5) or in memory. The
 * loop runs 300 times, so that its blocks are translated at any --jit-hot.
 */
#include "test.h"

	TEST_START

	li s0, 0
.Lloop:
	li a0, 0xffffffff80000001
	slli a1, a0, 32
	srli a1, a1, 32
	CHECK_EQ(1, a1, 0x80000001)
	mv t0, a0
	slli t0, t0, 32
	srli t0, t0, 32
	CHECK_EQ(2, t0, 0x80000001)
	li s2, -1
	slli s2, zero, 32
	srli s2, s2, 32
	CHECK_EQ(3, s2, 0)
	li a2, 0x123456789abcdef0
	sext.w a3, a2
	CHECK_EQ(4, a3, 0xffffffff9abcdef0)
	sext.w a2, a2
	CHECK_EQ(5, a2, 0xffffffff9abcdef0)
	li t1, 0x7fffffff
	addiw t2, t1, 1
	CHECK_EQ(6, t2, 0xffffffff80000000)
	addiw t1, t1, 2
	CHECK_EQ(7, t1, 0xffffffff80000001)
	li s3, 0x12345678fffffff0
	addiw a4, s3, 0x10
	CHECK_EQ(8, a4, 0)
	li s5, -1
	sext.w s5, zero
	CHECK_EQ(9, s5, 0)
	addi s0, s0, 1
	li t3, 300
	blt s0, t3, .Lloop
	PASS

	TRAP_HANDLERS
