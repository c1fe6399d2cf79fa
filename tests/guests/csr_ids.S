/*
 * Machine identification and status CSRs: a0 = hart id at entry (as QEMU's and Lodge's
 * boot code set it); mhartid = 0; mvendorid, marchid, mimpid readable; misa says RV64
 * (MXL = 2) with I, M, A, F, D, C, S, U and not E; mstatus.UXL = SXL = 2 (64-bit);
 * sstatus is the S view of mstatus (SIE written through one shows in the other, M-only
 * fields hidden).
 */
#include "test.h"

#define MISA_EXT(c)	(1 << ((c) - 'A'))

	TEST_START
	CHECK_EQ(1, a0, 0)
	csrr a2, mhartid
	CHECK_EQ(2, a2, 0)
	csrr a2, mvendorid
	csrr a2, marchid
	csrr a2, mimpid

	csrr a2, misa
	srli a3, a2, 62
	CHECK_EQ(3, a3, 2)
	li t0, MISA_EXT('I') | MISA_EXT('M') | MISA_EXT('A') | MISA_EXT('F') | \
		MISA_EXT('D') | MISA_EXT('C') | MISA_EXT('S') | MISA_EXT('U')
	and a3, a2, t0
	bne a3, t0, .Lfail4
	CHECK_BITS(5, a2, MISA_EXT('E'), 0)

	csrr a2, mstatus
	srli a3, a2, 32
	CHECK_BITS(6, a3, 0xf, 0xa)

	/* sstatus: a view of mstatus */
	li t0, MSTATUS_SIE
	csrs sstatus, t0
	csrr a2, mstatus
	CHECK_BITS(7, a2, MSTATUS_SIE, MSTATUS_SIE)
	csrc mstatus, t0
	csrr a2, sstatus
	CHECK_BITS(8, a2, MSTATUS_SIE, 0)
	li t0, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR
	csrs mstatus, t0
	csrr a2, sstatus
	CHECK_BITS(9, a2, MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP | MSTATUS_TVM | MSTATUS_TW | \
		MSTATUS_TSR, 0)
	csrc mstatus, t0
	/* writing sstatus leaves M-only fields alone */
	li t0, MSTATUS_MPIE
	csrs mstatus, t0
	li t0, -1
	csrc sstatus, t0
	csrr a2, mstatus
	CHECK_BITS(10, a2, MSTATUS_MPIE, MSTATUS_MPIE)

	PASS
.Lfail4:
	FAIL(4)

	TRAP_HANDLERS
