/*
 * Illegal instruction exceptions (cause 2) with mtval = the instruction bits (priv. 3.1.16;
 * Lodge, like QEMU, reports them) and mepc = its address: a reserved major opcode, a
 * reserved load width, an OP encoding with an unknown funct7, a write to a read-only CSR,
 * an FP instruction while mstatus.FS = Off, and 16-bit ones (mtval = the 16 bits, upper
 * bits zero): the all-zero c.unimp (mtval 0), c.addi4spn with a zero immediate, c.jr x0,
 * c.lui with a zero immediate and c.ldsp to x0. Traps from S and U too.
 */
#include "test.h"

/* ids id..id+3: must trap illegal, mtval = bits, mepc = the instruction. */
.macro TEST_ILLEGAL id, bits, size
	EXPECT(.Lres\@)
.Linsn\@:
	.if \size == 4
	.word \bits
	.else
	.hword \bits
	.endif
	FAIL(\id)
.Lres\@:
	CHECK_EQ(\id + 1, s10, CAUSE_ILLEGAL)
	CHECK_EQ(\id + 2, s9, \bits)
	la a5, .Linsn\@
	beq s8, a5, .Lepc\@
	FAIL(\id + 3)
.Lepc\@:
.endm

	TEST_START
	PMP_ALLOW_ALL

	TEST_ILLEGAL 1, 0x8765406b, 4	/* major opcode 1101011: reserved */
	TEST_ILLEGAL 5, 0x00057503, 4	/* LOAD funct3 = 7: reserved */
	TEST_ILLEGAL 9, 0x06b50533, 4	/* OP funct7 = 0000011: reserved */
	TEST_ILLEGAL 13, 0xc0001073, 4	/* csrrw x0, cycle, x0: read-only CSR */
	TEST_ILLEGAL 17, 0x0000, 2	/* c.unimp */
	TEST_ILLEGAL 21, 0x0004, 2	/* c.addi4spn s1, sp, 0: reserved */
	TEST_ILLEGAL 25, 0x8002, 2	/* c.jr x0: reserved */
	TEST_ILLEGAL 29, 0x6081, 2	/* c.lui ra, 0: reserved */
	TEST_ILLEGAL 33, 0x6002, 2	/* c.ldsp x0: reserved */

	/* FP off: fadd.d fa0, fa0, fa0 is illegal; with FS = Initial it runs */
	li t0, MSTATUS_FS
	csrc mstatus, t0
	TEST_ILLEGAL 37, 0x02a57553, 4
	li t0, MSTATUS_FS
	csrs mstatus, t0
	fadd.d fa0, fa0, fa0

	/* the same from S- and U-mode (taken into M, mepc/mtval as above) */
	MRET_TO MODE_S, .Ls
.Ls:
	TEST_ILLEGAL 41, 0x8765406b, 4
	TEST_ILLEGAL 45, 0x8002, 2
	TO_M
	CHECK_EQ(49, s10, CAUSE_ECALL_S)
	MRET_TO MODE_U, .Lu
.Lu:
	TEST_ILLEGAL 50, 0x00057503, 4
	TEST_ILLEGAL 54, 0x0004, 2
	TO_M
	CHECK_EQ(58, s10, CAUSE_ECALL_U)

	PASS

	TRAP_HANDLERS
