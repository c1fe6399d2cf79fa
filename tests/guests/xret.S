/*
 * mret and sret (priv. 3.1.6.1, 3.3.2): mret to U, S and M sets the mode from MPP,
 * MIE = MPIE, MPIE = 1, MPP = U, and clears MPRV when leaving M; sret to U and S sets
 * the mode from SPP, SIE = SPIE, SPIE = 1, SPP = U, clears MPRV, and is allowed in M;
 * mret in S/U and sret in U are illegal.
 * A trap into M records the previous mode in MPP and MIE in MPIE (checked via
 * trap_m_status, which saves mstatus at entry in s6).
 */
#include "test.h"

#define MPP_FIELD(m)	((m) << 11)

	TEST_START
	PMP_ALLOW_ALL
	la t0, trap_m_status
	csrw mtvec, t0

	/* mret to U with MPIE = 1, MIE = 0: in U, MIE = 1 (seen as MPIE at the next trap) */
	li t0, MSTATUS_MIE
	csrc mstatus, t0
	li t0, MSTATUS_MPIE
	csrs mstatus, t0
	MRET_TO MODE_U, .Lu1
.Lu1:
	TO_M
	CHECK_EQ(1, s10, CAUSE_ECALL_U)
	CHECK_BITS(2, s6, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE, MSTATUS_MPIE)
	/* mret to U with MPIE = 0: MIE stays 0 */
	li t0, MSTATUS_MPIE
	csrc mstatus, t0
	MRET_TO MODE_U, .Lu2
.Lu2:
	TO_M
	CHECK_BITS(3, s6, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE, 0)

	/* mret to S: MPP = S at the next trap from S */
	MRET_TO MODE_S, .Ls1
.Ls1:
	TO_M
	CHECK_EQ(4, s10, CAUSE_ECALL_S)
	CHECK_BITS(5, s6, MSTATUS_MPP, MPP_FIELD(MODE_S))

	/* mret to M: stays in M, MPP becomes U, MIE = MPIE, MPIE = 1 */
	li t0, MSTATUS_MPIE
	csrc mstatus, t0
	MRET_TO MODE_M, .Lm1
.Lm1:
	csrr a2, mstatus	/* would be illegal outside M */
	CHECK_BITS(6, a2, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE, MSTATUS_MPIE)
	/* mret to M keeps MPRV */
	li t0, MSTATUS_MPRV
	csrs mstatus, t0
	MRET_TO MODE_M, .Lm2
.Lm2:
	csrr a2, mstatus
	CHECK_BITS(7, a2, MSTATUS_MPRV, MSTATUS_MPRV)
	li t0, MSTATUS_MPRV
	csrc mstatus, t0

	/* sret from S to U: SIE = SPIE, SPIE = 1, SPP = U */
	MRET_TO MODE_S, .Ls3
.Ls3:
	li t0, MSTATUS_SIE
	csrc sstatus, t0
	li t0, MSTATUS_SPIE
	csrs sstatus, t0
	SRET_TO 0, .Lu3
.Lu3:
	TO_M
	CHECK_EQ(9, s10, CAUSE_ECALL_U)
	CHECK_BITS(10, s6, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, MSTATUS_SPIE | MSTATUS_SIE)
	/* sret from S to S with SPIE = 0 */
	MRET_TO MODE_S, .Ls4
.Ls4:
	li t0, MSTATUS_SPIE | MSTATUS_SIE
	csrc sstatus, t0
	SRET_TO 1, .Ls5
.Ls5:
	csrr a2, sstatus	/* still S: allowed */
	CHECK_BITS(11, a2, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE, MSTATUS_SPIE)
	TO_M
	CHECK_EQ(12, s10, CAUSE_ECALL_S)

	/* sret in M: to SPP's mode */
	SRET_TO 1, .Ls6
.Ls6:
	TO_M
	CHECK_EQ(13, s10, CAUSE_ECALL_S)
	SRET_TO 0, .Lu4
.Lu4:
	TO_M
	CHECK_EQ(15, s10, CAUSE_ECALL_U)

	/* mret in S, mret in U, sret in U: illegal */
	la t0, trap_m
	csrw mtvec, t0
	MRET_TO MODE_S, .Ls7
.Ls7:
	EXPECT(.Ls7_back)
	mret
	FAIL(16)
.Ls7_back:
	CHECK_EQ(17, s10, CAUSE_ILLEGAL)
	CHECK_EQ(18, s9, 0x30200073)
	TO_M
	MRET_TO MODE_U, .Lu5
.Lu5:
	EXPECT(.Lu5_back)
	mret
	FAIL(19)
.Lu5_back:
	CHECK_EQ(20, s10, CAUSE_ILLEGAL)
	EXPECT(.Lu6_back)
	sret
	FAIL(21)
.Lu6_back:
	CHECK_EQ(22, s10, CAUSE_ILLEGAL)
	CHECK_EQ(23, s9, 0x10200073)
	TO_M

	/* Last, as QEMU 7.2 predates this 1.12 rule: mret to S clears MPRV (the stores below
	 * run with MPRV = 1 and MPP = S: no translation, PMP allows all) ... */
	la t0, trap_m_status
	csrw mtvec, t0
	li t0, MSTATUS_MPRV
	csrs mstatus, t0
	MRET_TO MODE_S, .Ls8
.Ls8:
	TO_M
	CHECK_EQ(26, s10, CAUSE_ECALL_S)
	CHECK_BITS(8, s6, MSTATUS_MPRV, 0)
	/* ... and so does sret from M */
	li t0, MSTATUS_MPRV
	csrs mstatus, t0
	SRET_TO 1, .Ls9
.Ls9:
	TO_M
	CHECK_EQ(27, s10, CAUSE_ECALL_S)
	CHECK_BITS(14, s6, MSTATUS_MPRV, 0)

	PASS

	TRAP_HANDLERS
