/*
 * WARL CSR fields (priv. 2.3): mepc/sepc bit 0 reads as zero (IALIGN = 16 with C);
 * mtvec/stvec keep a legal mode (0 direct or 1 vectored) when a reserved mode (2, 3) is
 * written; satp ignores a write with an unsupported MODE (reserved 1-7, 11-15) entirely,
 * as Linux relies on when it probes Sv57 then Sv48; Sv57 (10) is either accepted
 * (QEMU) or ignored (Lodge implements Sv39/Sv48 only), both legal.
 */
#include "test.h"

/* Writing `val` to satp must leave it unchanged. */
.macro SATP_IGNORED id, val
	li t0, \val
	csrw satp, t0
	csrr a2, satp
	beq a2, s0, .Lok\@
	FAIL(\id)
.Lok\@:
.endm

	TEST_START

	/* mtvec: reserved modes; base bits written */
	la t0, trap_m
	ori t0, t0, 3
	csrw mtvec, t0
	csrr a2, mtvec
	andi a2, a2, 3
	li t1, 2
	bgeu a2, t1, .Lfail1
	la t0, trap_m
	csrw mtvec, t0
	la t0, trap_s
	ori t0, t0, 2
	csrw stvec, t0
	csrr a2, stvec
	andi a2, a2, 3
	li t1, 2
	bgeu a2, t1, .Lfail2
	la t0, trap_s
	csrw stvec, t0

	/* satp: start from a known Sv39 value (paging is not used from M) */
	li s0, SATP_SV39 | 0x80042
	csrw satp, s0
	csrr a2, satp
	bne a2, s0, .Lfail3
	SATP_IGNORED 4, (1 << 60) | 0x80001
	SATP_IGNORED 5, (7 << 60) | 0x80001
	SATP_IGNORED 6, (11 << 60) | 0x80001
	SATP_IGNORED 7, (15 << 60) | 0x80001
	/* Sv57: ignored, or taken as written */
	li t0, (10 << 60) | 0x80001
	csrw satp, t0
	csrr a2, satp
	beq a2, s0, .Lsv57_ok
	beq a2, t0, .Lsv57_ok
	FAIL(8)
.Lsv57_ok:
	/* Sv48 and Bare are accepted */
	li s0, SATP_SV48 | 0x80043
	csrw satp, s0
	csrr a2, satp
	bne a2, s0, .Lfail9
	csrw satp, zero
	csrr a2, satp
	CHECK_EQ(10, a2, 0)

	/* xepc bit 0 (last: QEMU 7.2 keeps it) */
	li t0, 0x80000001
	csrw mepc, t0
	csrr a2, mepc
	CHECK_EQ(11, a2, 0x80000000)
	li t0, 0x80000003
	csrw sepc, t0
	csrr a2, sepc
	CHECK_EQ(12, a2, 0x80000002)

	PASS
.Lfail1:
	FAIL(1)
.Lfail2:
	FAIL(2)
.Lfail3:
	FAIL(3)
.Lfail9:
	FAIL(9)

	TRAP_HANDLERS
