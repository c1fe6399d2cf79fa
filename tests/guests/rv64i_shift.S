/*
 * RV64I shifts: sll/srl/sra use rs2[5:0]; the W forms shift rs1[31:0] by rs2[4:0] and
 * sign-extend the 32-bit result (srlw of a value with bit 31 set by 0 is negative);
 * immediate forms with 6-bit (5-bit for W) shift amounts.
 */
#include "test.h"

	TEST_START
/* sll/srl/sra: shift amount is rs2[5:0] */
	TEST_RR 1, sll, 0x8000000000000001, 0x0, 0x8000000000000001
	TEST_RR 2, srl, 0x8000000000000001, 0x0, 0x8000000000000001
	TEST_RR 3, sra, 0x8000000000000001, 0x0, 0x8000000000000001
	TEST_RR 4, sll, 0x8000000000000001, 0x1, 0x2
	TEST_RR 5, srl, 0x8000000000000001, 0x1, 0x4000000000000000
	TEST_RR 6, sra, 0x8000000000000001, 0x1, 0xc000000000000000
	TEST_RR 7, sll, 0x8000000000000001, 0x3f, 0x8000000000000000
	TEST_RR 8, srl, 0x8000000000000001, 0x3f, 0x1
	TEST_RR 9, sra, 0x8000000000000001, 0x3f, 0xffffffffffffffff
	TEST_RR 10, sll, 0x8000000000000001, 0x43, 0x8
	TEST_RR 11, srl, 0x8000000000000001, 0x43, 0x1000000000000000
	TEST_RR 12, sra, 0x8000000000000001, 0x43, 0xf000000000000000
	TEST_RR 13, sll, 0xf0f0f0f0f0f0f0f0, 0x4, 0xf0f0f0f0f0f0f00
	TEST_RR 14, srl, 0xf0f0f0f0f0f0f0f0, 0x4, 0xf0f0f0f0f0f0f0f
	TEST_RR 15, sra, 0xf0f0f0f0f0f0f0f0, 0x4, 0xff0f0f0f0f0f0f0f
	TEST_RR 16, sll, 0xf0f0f0f0f0f0f0f0, 0xfffffffffffffffc, 0x0
	TEST_RR 17, srl, 0xf0f0f0f0f0f0f0f0, 0xfffffffffffffffc, 0xf
	TEST_RR 18, sra, 0xf0f0f0f0f0f0f0f0, 0xfffffffffffffffc, 0xffffffffffffffff
	TEST_RR 19, sll, 0x1, 0xffffffffffffffff, 0x8000000000000000
	TEST_RR 20, srl, 0x1, 0xffffffffffffffff, 0x0
	TEST_RR 21, sra, 0x1, 0xffffffffffffffff, 0x0
	/* sllw/srlw/sraw: operate on rs1[31:0], amount rs2[4:0], result sign-extended */
	TEST_RR 22, sllw, 0x80000000, 0x0, 0xffffffff80000000
	TEST_RR 23, srlw, 0x80000000, 0x0, 0xffffffff80000000
	TEST_RR 24, sraw, 0x80000000, 0x0, 0xffffffff80000000
	TEST_RR 25, sllw, 0x80000000, 0x1, 0x0
	TEST_RR 26, srlw, 0x80000000, 0x1, 0x40000000
	TEST_RR 27, sraw, 0x80000000, 0x1, 0xffffffffc0000000
	TEST_RR 28, sllw, 0xffffffff00000001, 0x1f, 0xffffffff80000000
	TEST_RR 29, srlw, 0xffffffff00000001, 0x1f, 0x0
	TEST_RR 30, sraw, 0xffffffff00000001, 0x1f, 0x0
	TEST_RR 31, sllw, 0x1234567887654321, 0x4, 0x76543210
	TEST_RR 32, srlw, 0x1234567887654321, 0x4, 0x8765432
	TEST_RR 33, sraw, 0x1234567887654321, 0x4, 0xfffffffff8765432
	TEST_RR 34, sllw, 0x7fffffff, 0x21, 0xfffffffffffffffe
	TEST_RR 35, srlw, 0x7fffffff, 0x21, 0x3fffffff
	TEST_RR 36, sraw, 0x7fffffff, 0x21, 0x3fffffff
	TEST_RR 37, sllw, 0xffffffff80000000, 0xffffffffffffffff, 0x0
	TEST_RR 38, srlw, 0xffffffff80000000, 0xffffffffffffffff, 0x1
	TEST_RR 39, sraw, 0xffffffff80000000, 0xffffffffffffffff, 0xffffffffffffffff
	/* slli/srli/srai: 6-bit shamt */
	TEST_RI 40, slli, 0x8000000000000001, 0, 0x8000000000000001
	TEST_RI 41, srli, 0x8000000000000001, 0, 0x8000000000000001
	TEST_RI 42, srai, 0x8000000000000001, 0, 0x8000000000000001
	TEST_RI 43, slli, 0x8000000000000001, 1, 0x2
	TEST_RI 44, srli, 0x8000000000000001, 1, 0x4000000000000000
	TEST_RI 45, srai, 0x8000000000000001, 1, 0xc000000000000000
	TEST_RI 46, slli, 0x8000000000000001, 31, 0x80000000
	TEST_RI 47, srli, 0x8000000000000001, 31, 0x100000000
	TEST_RI 48, srai, 0x8000000000000001, 31, 0xffffffff00000000
	TEST_RI 49, slli, 0x8000000000000001, 32, 0x100000000
	TEST_RI 50, srli, 0x8000000000000001, 32, 0x80000000
	TEST_RI 51, srai, 0x8000000000000001, 32, 0xffffffff80000000
	TEST_RI 52, slli, 0x8000000000000001, 63, 0x8000000000000000
	TEST_RI 53, srli, 0x8000000000000001, 63, 0x1
	TEST_RI 54, srai, 0x8000000000000001, 63, 0xffffffffffffffff
	TEST_RI 55, slli, 0xf0f0f0f0f0f0f0f0, 36, 0xf0f0f0000000000
	TEST_RI 56, srli, 0xf0f0f0f0f0f0f0f0, 36, 0xf0f0f0f
	TEST_RI 57, srai, 0xf0f0f0f0f0f0f0f0, 36, 0xffffffffff0f0f0f
	/* slliw/srliw/sraiw: 5-bit shamt, sign-extended result */
	TEST_RI 58, slliw, 0x80000000, 0, 0xffffffff80000000
	TEST_RI 59, srliw, 0x80000000, 0, 0xffffffff80000000
	TEST_RI 60, sraiw, 0x80000000, 0, 0xffffffff80000000
	TEST_RI 61, slliw, 0x40000000, 1, 0xffffffff80000000
	TEST_RI 62, srliw, 0x40000000, 1, 0x20000000
	TEST_RI 63, sraiw, 0x40000000, 1, 0x20000000
	TEST_RI 64, slliw, 0xffffffff00000001, 31, 0xffffffff80000000
	TEST_RI 65, srliw, 0xffffffff00000001, 31, 0x0
	TEST_RI 66, sraiw, 0xffffffff00000001, 31, 0x0
	TEST_RI 67, slliw, 0x12345678f0000000, 4, 0x0
	TEST_RI 68, srliw, 0x12345678f0000000, 4, 0xf000000
	TEST_RI 69, sraiw, 0x12345678f0000000, 4, 0xffffffffff000000
	TEST_RI 70, slliw, 0x7fffffff, 31, 0xffffffff80000000
	TEST_RI 71, srliw, 0x7fffffff, 31, 0x0
	TEST_RI 72, sraiw, 0x7fffffff, 31, 0x0
	TEST_RR_SAME 73, sll, 0x3, 0x18
	TEST_RR_SAME 74, sraw, 0x80000004, 0xfffffffff8000000

	PASS

	TRAP_HANDLERS
