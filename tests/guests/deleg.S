/*
 * Exception delegation (priv. 3.1.8, 4.1.1): medeleg/mideleg WARL masks (S interrupts
 * delegable, M interrupts not), exceptions from U and S delegated to S: the S handler
 * runs with scause, stval (instruction bits, fault address), sepc, sstatus.SPP/SPIE/SIE
 * as the spec says; an exception in M is never delegated;
 * an undelegated one from U still goes to M.
 */
#include "test.h"

	TEST_START
	PMP_ALLOW_ALL

	/* mideleg: SSI/STI/SEI delegable, MSI/MTI/MEI read-only zero */
	li t0, -1
	csrw mideleg, t0
	csrr a2, mideleg
	CHECK_BITS(1, a2, 0xaaa, 0x222)
	csrw mideleg, zero
	csrr a2, mideleg
	CHECK_BITS(2, a2, 0xaaa, 0)
	/* medeleg: the usual causes delegable */
	li t0, -1
	csrw medeleg, t0
	csrr a2, medeleg
	CHECK_BITS(3, a2, 0xb3ff, 0xb3ff)

	li t0, (1 << CAUSE_ILLEGAL) | (1 << CAUSE_BREAKPOINT) | (1 << CAUSE_ECALL_U) | \
		(1 << CAUSE_LOAD_ACCESS)
	csrw medeleg, t0
	la t0, trap_s_status
	csrw stvec, t0

	/* illegal instruction in U, SIE = 1 before: S handler, SPP = U, SPIE = 1, SIE = 0 */
	li t0, MSTATUS_SIE | MSTATUS_SPP
	csrs mstatus, t0
	MRET_TO MODE_U, .Lu1
.Lu1:
	EXPECT(.Lu1_back)
.Lu1_insn:
	.word 0x8765406b
	FAIL(4)
.Lu1_back:
	CHECK_EQ(5, s7, MODE_S)
	CHECK_EQ(6, s10, CAUSE_ILLEGAL)
	CHECK_EQ(7, s9, 0x8765406b)
	la a5, .Lu1_insn
	bne s8, a5, .Lbad_epc
	CHECK_BITS(8, s6, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, MSTATUS_SPIE)

	/* ecall from U: delegated, cause 8 */
	EXPECT(.Lu2_back)
.Lu2_insn:
	ecall
.Lu2_back:
	CHECK_EQ(9, s7, MODE_S)
	CHECK_EQ(10, s10, CAUSE_ECALL_U)
	la a5, .Lu2_insn
	bne s8, a5, .Lbad_epc

	/* load access fault from U: stval = address */
	li a0, 0x88000000
	EXPECT(.Lu3_back)
	ld a1, 0(a0)
.Lu3_back:
	CHECK_EQ(11, s7, MODE_S)
	CHECK_EQ(12, s10, CAUSE_LOAD_ACCESS)
	bne s9, a0, .Lbad_tval

	/* not delegated (store access fault): to M */
	EXPECT(.Lu4_back)
	sd a1, 0(a0)
.Lu4_back:
	CHECK_EQ(13, s7, MODE_M)
	CHECK_EQ(14, s10, CAUSE_STORE_ACCESS)

	/* back to M through an undelegated trap */
	EXPECT_M(.Lto_m)
	sd a0, 0(a0)
	FAIL(15)
.Lto_m:
	CHECK_EQ(16, s7, MODE_M)
	csrr a2, mcause
	CHECK_EQ(17, a2, CAUSE_STORE_ACCESS)
	csrr a2, mstatus
	CHECK_BITS(18, a2, MSTATUS_MPP, 0)

	/* breakpoint in S, delegated: SPP = S */
	li t0, MSTATUS_SIE
	csrc mstatus, t0
	MRET_TO MODE_S, .Ls
.Ls:
	EXPECT(.Ls_back)
.Ls_insn:
	ebreak
.Ls_back:
	CHECK_EQ(21, s7, MODE_S)
	CHECK_EQ(22, s10, CAUSE_BREAKPOINT)
	la a5, .Ls_insn
	bne s8, a5, .Lbad_epc
	CHECK_BITS(23, s6, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, MSTATUS_SPP)
	TO_M
	CHECK_EQ(24, s10, CAUSE_ECALL_S)

	/* in M, delegation does not apply */
	EXPECT(.Lm_back)
	.word 0x8765406b
.Lm_back:
	CHECK_EQ(25, s7, MODE_M)
	CHECK_EQ(26, s10, CAUSE_ILLEGAL)
	EXPECT(.Lm_back2)
	ebreak
.Lm_back2:
	CHECK_EQ(27, s7, MODE_M)
	CHECK_EQ(28, s10, CAUSE_BREAKPOINT)

	PASS
.Lbad_epc:
	FAIL(29)
.Lbad_tval:
	FAIL(30)

	TRAP_HANDLERS
