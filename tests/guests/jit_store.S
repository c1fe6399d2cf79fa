/*
 * Stores as the JIT emits them (cpu/jit): the value straight from the host register of a
 * guest register kept in one (a0..a5 always: on x86-64 a byte store of a4 or a5 needs a
 * REX prefix to name sil/dil, not dh/bh; t0 when the block caches it), from memory
 * (s4: a register the block does not cache), and x0 as an immediate zero; each of sb, sh, sw
 * and sd over a word of ones, checked by a load of the whole doubleword. 300 rounds, so
 * that the block is translated at any --jit-hot.
 */
#include "test.h"

/* Fills the doubleword at s1 with ones, stores `reg` with `op` at s1 + off, and checks
 * the doubleword is `want`. */
#define ST(id, op, reg, off, want) \
	sd s2, 0(s1);              \
	op reg, off(s1);           \
	ld s3, 0(s1);              \
	CHECK_EQ(id, s3, want)
/* The same with reg stored twice: used twice in its block, the block caches it. */
#define ST2(id, op, reg, off, want) \
	sd s2, 0(s1);               \
	op reg, off(s1);            \
	op reg, off(s1);            \
	ld s3, 0(s1);               \
	CHECK_EQ(id, s3, want)

	TEST_START

	la s1, buf
	li s2, -1
	li s0, 300
.Lloop:
	li a0, 0x1122334455667788
	li a1, 0x0102030405060708
	li a2, 0x1020304050607080
	li a3, 0xa0b0c0d0e0f00010
	li a4, 0x0a0b0c0d0e0f0011
	li a5, 0x1a2b3c4d5e6f7182
	li t0, 0x2132435465768798
	li s4, 0x3142536475869700
	ST(1, sb, a0, 0, 0xffffffffffffff88)
	ST(2, sb, a4, 1, 0xffffffffffff11ff)
	ST(3, sb, a5, 2, 0xffffffffff82ffff)
	ST(4, sb, a3, 3, 0xffffffff10ffffff)
	ST2(5, sb, t0, 4, 0xffffff98ffffffff)
	ST(6, sb, s4, 5, 0xffff00ffffffffff)
	ST(7, sb, zero, 7, 0x00ffffffffffffff)
	ST(8, sh, a4, 2, 0xffffffff0011ffff)
	ST(9, sh, a5, 6, 0x7182ffffffffffff)
	ST2(10, sh, t0, 0, 0xffffffffffff8798)
	ST(11, sh, zero, 4, 0xffff0000ffffffff)
	ST(12, sw, a1, 0, 0xffffffff05060708)
	ST(13, sw, a5, 4, 0x5e6f7182ffffffff)
	ST(14, sw, s4, 0, 0xffffffff75869700)
	ST(15, sw, zero, 4, 0x00000000ffffffff)
	ST(16, sd, a2, 0, 0x1020304050607080)
	ST(17, sd, a4, 0, 0x0a0b0c0d0e0f0011)
	ST2(18, sd, t0, 0, 0x2132435465768798)
	ST(19, sd, zero, 0, 0)
	addi s0, s0, -1
	bnez s0, .Lloop
	PASS

	TRAP_HANDLERS

	.data
	.balign 8
buf:
	.dword 0
