/*
 * Zicsr: csrrw/csrrs/csrrc and the immediate forms (old value to rd, 5-bit zero-extended
 * uimm), and the side rules of unpriv. 9.1: csrrs/csrrc with rs1 = x0 and csrrsi/csrrci
 * with uimm = 0 do not write, so they may read a read-only CSR; csrrw/csrrwi always
 * write, so on a read-only CSR they are illegal even with rd = x0; a csrrs with a nonzero
 * rs1 value on a read-only CSR is illegal. An unimplemented CSR is illegal, and mtval
 * holds the instruction bits. CSR privilege (csr[9:8]): S cannot touch M CSRs, U cannot
 * touch S or M CSRs. (QEMU 7.2 does not trap csrrs with rs1 != x0 holding 0 on a read-only
 * CSR, a spec deviation, so that case is not tested.)
 */
#include "test.h"

/* The instruction at `label` must raise illegal instruction with mtval = its bits. */
.macro ILLEGAL id, label
	CHECK_EQ(\id, s10, CAUSE_ILLEGAL)
	la a5, \label
	bne s8, a5, .Lbad_epc
	LOAD_INSN32 a5, a5, a4
	bne s9, a5, .Lbad_tval
.endm

	TEST_START
	PMP_ALLOW_ALL

	/* csrrw: swap */
	li a1, 0x1234
	csrw mscratch, a1
	li a1, 0xabcd
	csrrw a2, mscratch, a1
	CHECK_EQ(1, a2, 0x1234)
	csrr a2, mscratch
	CHECK_EQ(2, a2, 0xabcd)
	/* csrrw with rd = x0 still writes */
	li a1, -1
	csrrw x0, mscratch, a1
	csrr a2, mscratch
	CHECK_EQ(3, a2, -1)
	/* csrrs / csrrc: set and clear bits, rd = old */
	li a1, 0xf0
	csrw mscratch, a1
	li a1, 0x0f
	csrrs a2, mscratch, a1
	CHECK_EQ(4, a2, 0xf0)
	csrr a2, mscratch
	CHECK_EQ(5, a2, 0xff)
	li a1, 0x3c
	csrrc a2, mscratch, a1
	CHECK_EQ(6, a2, 0xff)
	csrr a2, mscratch
	CHECK_EQ(7, a2, 0xc3)
	/* rd = rs1: the old value lands in rd, the write uses the old rs1 */
	li a2, 0x100
	csrrw a2, mscratch, a2
	CHECK_EQ(8, a2, 0xc3)
	csrr a2, mscratch
	CHECK_EQ(9, a2, 0x100)

	/* immediate forms: uimm is 5 bits, zero-extended */
	csrrwi a2, mscratch, 31
	CHECK_EQ(10, a2, 0x100)
	csrr a2, mscratch
	CHECK_EQ(11, a2, 31)
	csrrci a2, mscratch, 0x11
	CHECK_EQ(12, a2, 31)
	csrr a2, mscratch
	CHECK_EQ(13, a2, 0x0e)
	csrrsi a2, mscratch, 0x10
	CHECK_EQ(14, a2, 0x0e)
	csrr a2, mscratch
	CHECK_EQ(15, a2, 0x1e)

	/* no write: rs1 = x0 or uimm = 0 on read-only CSRs is fine */
	csrrs a2, mhartid, x0
	CHECK_EQ(16, a2, 0)
	csrrc a2, mhartid, x0
	CHECK_EQ(17, a2, 0)
	csrrsi a2, mhartid, 0
	CHECK_EQ(18, a2, 0)
	csrrci a2, mvendorid, 0
	csrrs x0, mimpid, x0

	/* writes to read-only CSRs are illegal, whatever rd */
	li a1, 1
	EXPECT(.Lro1)
.Lro1_insn:
	csrrw x0, mhartid, a1
	FAIL(19)
.Lro1:
	ILLEGAL 20, .Lro1_insn
	EXPECT(.Lro2)
.Lro2_insn:
	csrrs a2, mvendorid, a1
	FAIL(21)
.Lro2:
	ILLEGAL 22, .Lro2_insn
	EXPECT(.Lro3)
.Lro3_insn:
	csrrwi x0, mimpid, 0
	FAIL(23)
.Lro3:
	ILLEGAL 24, .Lro3_insn
	EXPECT(.Lro4)
.Lro4_insn:
	csrrci a2, marchid, 1
	FAIL(25)
.Lro4:
	ILLEGAL 26, .Lro4_insn
	/* cycle (0xC00) is read-only too */
	EXPECT(.Lro5)
.Lro5_insn:
	csrw cycle, a1
	FAIL(27)
.Lro5:
	ILLEGAL 28, .Lro5_insn

	/* an unimplemented CSR number (0x0ff, unallocated) */
	EXPECT(.Lnone)
.Lnone_insn:
	csrr a2, 0x0ff
	FAIL(29)
.Lnone:
	ILLEGAL 30, .Lnone_insn

	/* S-mode: S CSRs yes, M CSRs no */
	MRET_TO MODE_S, .Ls_mode
.Ls_mode:
	li a1, 0x5a
	csrw sscratch, a1
	csrr a2, sscratch
	CHECK_EQ(31, a2, 0x5a)
	EXPECT(.Ls1)
.Ls1_insn:
	csrr a2, mscratch
	FAIL(32)
.Ls1:
	ILLEGAL 33, .Ls1_insn
	EXPECT(.Ls2)
.Ls2_insn:
	csrr a2, mstatus
	FAIL(34)
.Ls2:
	ILLEGAL 35, .Ls2_insn
	TO_M
	CHECK_EQ(36, s10, CAUSE_ECALL_S)

	/* U-mode: neither S nor M CSRs */
	MRET_TO MODE_U, .Lu_mode
.Lu_mode:
	EXPECT(.Lu1)
.Lu1_insn:
	csrr a2, sscratch
	FAIL(37)
.Lu1:
	ILLEGAL 38, .Lu1_insn
	EXPECT(.Lu2)
.Lu2_insn:
	csrw mscratch, zero
	FAIL(39)
.Lu2:
	ILLEGAL 40, .Lu2_insn
	EXPECT(.Lu3)
.Lu3_insn:
	csrr a2, sstatus
	FAIL(41)
.Lu3:
	ILLEGAL 42, .Lu3_insn
	TO_M
	CHECK_EQ(43, s10, CAUSE_ECALL_U)
	/* the U-mode attempt did not write mscratch */
	csrr a2, mscratch
	CHECK_EQ(44, a2, 0x1e)

	PASS
.Lbad_epc:
	FAIL(45)
.Lbad_tval:
	FAIL(46)

	TRAP_HANDLERS
