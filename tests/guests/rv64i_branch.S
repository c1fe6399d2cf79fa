/*
 * RV64I conditional branches: beq/bne/blt/bge/bltu/bgeu, each taken and not taken, on
 * equal operands, signed/unsigned disagreements (-1 vs 1, MIN vs MAX) and differences
 * only in the upper 32 bits; plus a backward-branch loop and a far forward branch.
 */
#include "test.h"

	TEST_START
	TEST_BR_TAKEN 1, beq, 0x0, 0x0
	TEST_BR_NOT 2, beq, 0x1, 0x2
	TEST_BR_NOT 3, beq, 0x2, 0x1
	TEST_BR_NOT 4, beq, 0xffffffffffffffff, 0x1
	TEST_BR_NOT 5, beq, 0x1, 0xffffffffffffffff
	TEST_BR_TAKEN 6, beq, 0xffffffffffffffff, 0xffffffffffffffff
	TEST_BR_NOT 7, beq, 0x8000000000000000, 0x7fffffffffffffff
	TEST_BR_NOT 8, beq, 0x100000000, 0x0
	TEST_BR_NOT 9, bne, 0x0, 0x0
	TEST_BR_TAKEN 10, bne, 0x1, 0x2
	TEST_BR_TAKEN 11, bne, 0x2, 0x1
	TEST_BR_TAKEN 12, bne, 0xffffffffffffffff, 0x1
	TEST_BR_TAKEN 13, bne, 0x1, 0xffffffffffffffff
	TEST_BR_NOT 14, bne, 0xffffffffffffffff, 0xffffffffffffffff
	TEST_BR_TAKEN 15, bne, 0x8000000000000000, 0x7fffffffffffffff
	TEST_BR_TAKEN 16, bne, 0x100000000, 0x0
	TEST_BR_NOT 17, blt, 0x0, 0x0
	TEST_BR_TAKEN 18, blt, 0x1, 0x2
	TEST_BR_NOT 19, blt, 0x2, 0x1
	TEST_BR_TAKEN 20, blt, 0xffffffffffffffff, 0x1
	TEST_BR_NOT 21, blt, 0x1, 0xffffffffffffffff
	TEST_BR_NOT 22, blt, 0xffffffffffffffff, 0xffffffffffffffff
	TEST_BR_TAKEN 23, blt, 0x8000000000000000, 0x7fffffffffffffff
	TEST_BR_NOT 24, blt, 0x100000000, 0x0
	TEST_BR_TAKEN 25, bge, 0x0, 0x0
	TEST_BR_NOT 26, bge, 0x1, 0x2
	TEST_BR_TAKEN 27, bge, 0x2, 0x1
	TEST_BR_NOT 28, bge, 0xffffffffffffffff, 0x1
	TEST_BR_TAKEN 29, bge, 0x1, 0xffffffffffffffff
	TEST_BR_TAKEN 30, bge, 0xffffffffffffffff, 0xffffffffffffffff
	TEST_BR_NOT 31, bge, 0x8000000000000000, 0x7fffffffffffffff
	TEST_BR_TAKEN 32, bge, 0x100000000, 0x0
	TEST_BR_NOT 33, bltu, 0x0, 0x0
	TEST_BR_TAKEN 34, bltu, 0x1, 0x2
	TEST_BR_NOT 35, bltu, 0x2, 0x1
	TEST_BR_NOT 36, bltu, 0xffffffffffffffff, 0x1
	TEST_BR_TAKEN 37, bltu, 0x1, 0xffffffffffffffff
	TEST_BR_NOT 38, bltu, 0xffffffffffffffff, 0xffffffffffffffff
	TEST_BR_NOT 39, bltu, 0x8000000000000000, 0x7fffffffffffffff
	TEST_BR_NOT 40, bltu, 0x100000000, 0x0
	TEST_BR_TAKEN 41, bgeu, 0x0, 0x0
	TEST_BR_NOT 42, bgeu, 0x1, 0x2
	TEST_BR_TAKEN 43, bgeu, 0x2, 0x1
	TEST_BR_TAKEN 44, bgeu, 0xffffffffffffffff, 0x1
	TEST_BR_NOT 45, bgeu, 0x1, 0xffffffffffffffff
	TEST_BR_TAKEN 46, bgeu, 0xffffffffffffffff, 0xffffffffffffffff
	TEST_BR_TAKEN 47, bgeu, 0x8000000000000000, 0x7fffffffffffffff
	TEST_BR_TAKEN 48, bgeu, 0x100000000, 0x0

	/* backward branch: count down 100 times */
	li a0, 100
	li a2, 0
.Lloop:
	addi a2, a2, 1
	addi a0, a0, -1
	bnez a0, .Lloop
	CHECK_EQ(49, a2, 100)

	/* forward branch over more than 2 KiB (beyond the compressed range) */
	li a0, 1
	bnez a0, .Lfar
	FAIL(50)
	.fill 1024, 4, 0x00000013	/* nops */
	FAIL(51)
.Lfar:
	PASS

	TRAP_HANDLERS
