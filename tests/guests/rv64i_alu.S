/*
 * RV64I integer computation: add/sub/addw/subw, slt/sltu, and/or/xor, the immediate
 * forms (12-bit sign-extended immediates, W forms sign-extend their 32-bit result),
 * rd = rs1 = rs2, lui (sign extension from bit 31), auipc (relative to its own pc), and
 * x0 as a destination. Shifts are in rv64i_shift.S.
 */
#include "test.h"

	TEST_START
/* add/sub: 64-bit wrap-around */
	TEST_RR 1, add, 0x1, 0x2, 0x3
	TEST_RR 2, sub, 0x1, 0x2, 0xffffffffffffffff
	TEST_RR 3, add, 0xffffffffffffffff, 0x1, 0x0
	TEST_RR 4, sub, 0xffffffffffffffff, 0x1, 0xfffffffffffffffe
	TEST_RR 5, add, 0x7fffffffffffffff, 0x1, 0x8000000000000000
	TEST_RR 6, sub, 0x7fffffffffffffff, 0x1, 0x7ffffffffffffffe
	TEST_RR 7, add, 0x8000000000000000, 0xffffffffffffffff, 0x7fffffffffffffff
	TEST_RR 8, sub, 0x8000000000000000, 0xffffffffffffffff, 0x8000000000000001
	TEST_RR 9, add, 0x123456789abcdef0, 0xfedcba987654321, 0x2222222222222211
	TEST_RR 10, sub, 0x123456789abcdef0, 0xfedcba987654321, 0x2468acf13579bcf
	/* addw/subw: 32-bit result, sign-extended; upper operand bits ignored */
	TEST_RR 11, addw, 0x7fffffff, 0x1, 0xffffffff80000000
	TEST_RR 12, subw, 0x7fffffff, 0x1, 0x7ffffffe
	TEST_RR 13, addw, 0xffffffff, 0x1, 0x0
	TEST_RR 14, subw, 0xffffffff, 0x1, 0xfffffffffffffffe
	TEST_RR 15, addw, 0x123456780000000f, 0x10, 0x1f
	TEST_RR 16, subw, 0x123456780000000f, 0x10, 0xffffffffffffffff
	TEST_RR 17, addw, 0x0, 0x1, 0x1
	TEST_RR 18, subw, 0x0, 0x1, 0xffffffffffffffff
	TEST_RR 19, addw, 0x80000000, 0xffffffff00000001, 0xffffffff80000001
	TEST_RR 20, subw, 0x80000000, 0xffffffff00000001, 0x7fffffff
	/* slt/sltu: signed vs unsigned */
	TEST_RR 21, slt, 0xffffffffffffffff, 0x1, 0x1
	TEST_RR 22, sltu, 0xffffffffffffffff, 0x1, 0x0
	TEST_RR 23, slt, 0x1, 0xffffffffffffffff, 0x0
	TEST_RR 24, sltu, 0x1, 0xffffffffffffffff, 0x1
	TEST_RR 25, slt, 0x5, 0x5, 0x0
	TEST_RR 26, sltu, 0x5, 0x5, 0x0
	TEST_RR 27, slt, 0x8000000000000000, 0x7fffffffffffffff, 0x1
	TEST_RR 28, sltu, 0x8000000000000000, 0x7fffffffffffffff, 0x0
	TEST_RR 29, slt, 0x0, 0xffffffffffffffff, 0x0
	TEST_RR 30, sltu, 0x0, 0xffffffffffffffff, 0x1
	/* logic */
	TEST_RR 31, and, 0xff00ff00ff00ff00, 0xff00ff00ff00ff0, 0xf000f000f000f00
	TEST_RR 32, or, 0xff00ff00ff00ff00, 0xff00ff00ff00ff0, 0xfff0fff0fff0fff0
	TEST_RR 33, xor, 0xff00ff00ff00ff00, 0xff00ff00ff00ff0, 0xf0f0f0f0f0f0f0f0
	TEST_RR 34, and, 0x0, 0xffffffffffffffff, 0x0
	TEST_RR 35, or, 0x0, 0xffffffffffffffff, 0xffffffffffffffff
	TEST_RR 36, xor, 0x0, 0xffffffffffffffff, 0xffffffffffffffff
	/* immediates: 12-bit, sign-extended (sltiu compares against the sign-extended value) */
	TEST_RI 37, addi, 0x5, -6, 0xffffffffffffffff
	TEST_RI 38, addi, 0x7fffffffffffffff, 1, 0x8000000000000000
	TEST_RI 39, addi, 0xffffffffffffffff, 2047, 0x7fe
	TEST_RI 40, addi, 0x0, -2048, 0xfffffffffffff800
	TEST_RI 41, slti, 0xffffffffffffffff, 0, 0x1
	TEST_RI 42, sltiu, 0xffffffffffffffff, 0, 0x0
	TEST_RI 43, slti, 0x0, -1, 0x0
	TEST_RI 44, sltiu, 0x0, -1, 0x1
	TEST_RI 45, slti, 0x5, 5, 0x0
	TEST_RI 46, sltiu, 0x5, 5, 0x0
	TEST_RI 47, slti, 0x4, 5, 0x1
	TEST_RI 48, sltiu, 0x4, 5, 0x1
	TEST_RI 49, andi, 0xfedcba9876543210, -1, 0xfedcba9876543210
	TEST_RI 50, ori, 0xfedcba9876543210, -1, 0xffffffffffffffff
	TEST_RI 51, xori, 0xfedcba9876543210, -1, 0x123456789abcdef
	TEST_RI 52, andi, 0xfedcba9876543210, 2032, 0x210
	TEST_RI 53, ori, 0xfedcba9876543210, 2032, 0xfedcba98765437f0
	TEST_RI 54, xori, 0xfedcba9876543210, 2032, 0xfedcba98765435e0
	TEST_RI 55, andi, 0xfedcba9876543210, -2048, 0xfedcba9876543000
	TEST_RI 56, ori, 0xfedcba9876543210, -2048, 0xfffffffffffffa10
	TEST_RI 57, xori, 0xfedcba9876543210, -2048, 0x123456789abca10
	TEST_RI 58, addiw, 0x7fffffff, 1, 0xffffffff80000000
	TEST_RI 59, addiw, 0xfffffffe, 1, 0xffffffffffffffff
	TEST_RI 60, addiw, 0x100000000, -1, 0xffffffffffffffff
	TEST_RI 61, addiw, 0x0, -2048, 0xfffffffffffff800
	/* rd = rs1 = rs2 */
	TEST_RR_SAME 62, add, 0x4000000000000001, 0x8000000000000002
	TEST_RR_SAME 63, sub, 0x4d2, 0x0
	TEST_RR_SAME 64, xor, 0x63, 0x0
	TEST_RR_SAME 65, sltu, 0x3, 0x0
	TEST_RR_SAME 66, addw, 0x40000000, 0xffffffff80000000

	/* lui: 20-bit immediate << 12, sign-extended from bit 31 */
	lui a2, 0x80000
	CHECK_EQ(67, a2, 0xffffffff80000000)
	lui a2, 0x7ffff
	CHECK_EQ(68, a2, 0x7ffff000)
	lui a2, 0xfffff
	CHECK_EQ(69, a2, 0xfffffffffffff000)

	/* auipc: pc of the auipc itself plus the sign-extended immediate */
.Lauipc0:
	auipc a2, 0
	la a3, .Lauipc0
	bne a2, a3, .Lauipc_fail0
.Lauipc1:
	auipc a2, 1
	la a3, .Lauipc1
	li t0, 0x1000
	add a3, a3, t0
	bne a2, a3, .Lauipc_fail1
.Lauipc2:
	auipc a2, 0x80000
	la a3, .Lauipc2
	li t0, 0x80000000
	sub a3, a3, t0
	bne a2, a3, .Lauipc_fail2
	j .Lauipc_done
.Lauipc_fail0:
	FAIL(70)
.Lauipc_fail1:
	FAIL(71)
.Lauipc_fail2:
	FAIL(72)
.Lauipc_done:

	/* writes to x0 are discarded */
	li a0, 5
	add x0, a0, a0
	lui x0, 0x12345
	addi x0, a0, 1
	mv a2, x0
	CHECK_EQ(73, a2, 0)
	CHECK_EQ(74, x0, 0)

	PASS

	TRAP_HANDLERS
