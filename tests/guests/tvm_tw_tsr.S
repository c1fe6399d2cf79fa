/*
 * mstatus trap-virtualization bits (priv. 3.1.6.5): TVM = 1 makes satp accesses and
 * sfence.vma illegal in S (not in M); TSR = 1 makes sret illegal in S (not in M); TW = 1
 * makes wfi illegal in S and U (not in M). With each bit clear the instruction works in
 * S; wfi returns because an enabled interrupt is pending (SSIP, delegated to S, with
 * sstatus.SIE = 0 so it is not taken).
 */
#include "test.h"

.macro MUST_TRAP id, insn:vararg
	EXPECT(.Lres\@)
	\insn
	FAIL(\id)
.Lres\@:
	CHECK_EQ(\id + 1, s10, CAUSE_ILLEGAL)
.endm

	TEST_START
	PMP_ALLOW_ALL
	csrw satp, zero
	/* a pending, enabled, but masked S interrupt so wfi cannot sleep */
	li t0, 1 << IRQ_SSI
	csrw mideleg, t0
	csrs mie, t0
	csrs mip, t0
	li t0, MSTATUS_SIE | MSTATUS_MIE
	csrc mstatus, t0

	/* all clear: S may use satp, sfence.vma, wfi, sret */
	MRET_TO MODE_S, .Ls1
.Ls1:
	csrr a2, satp
	csrw satp, zero
	sfence.vma
	sfence.vma zero, zero
	wfi
	li t0, MSTATUS_SPIE	/* keep SIE = 0 after sret */
	csrc sstatus, t0
	SRET_TO 1, .Ls1b
.Ls1b:
	TO_M
	CHECK_EQ(1, s10, CAUSE_ECALL_S)

	/* TVM */
	li t0, MSTATUS_TVM
	csrs mstatus, t0
	MRET_TO MODE_S, .Ls2
.Ls2:
	MUST_TRAP 2, csrr a2, satp
	MUST_TRAP 4, csrw satp, zero
	MUST_TRAP 6, sfence.vma
	MUST_TRAP 8, sfence.vma a0, zero
	wfi
	TO_M
	csrr a2, satp		/* M is not affected */
	sfence.vma
	li t0, MSTATUS_TVM
	csrc mstatus, t0

	/* TSR */
	li t0, MSTATUS_TSR
	csrs mstatus, t0
	MRET_TO MODE_S, .Ls3
.Ls3:
	MUST_TRAP 10, sret
	csrr a2, satp
	TO_M
	li t0, MSTATUS_SPIE
	csrc mstatus, t0
	SRET_TO 1, .Ls3b	/* sret in M is fine */
.Ls3b:
	TO_M
	CHECK_EQ(12, s10, CAUSE_ECALL_S)
	li t0, MSTATUS_TSR
	csrc mstatus, t0

	/* TW */
	li t0, MSTATUS_TW
	csrs mstatus, t0
	wfi			/* M is not affected (and returns: SSIP is pending) */
	MRET_TO MODE_S, .Ls4
.Ls4:
	MUST_TRAP 13, wfi
	TO_M
	/* in U a pending delegated S interrupt would be taken whatever SIE: clear it */
	li t0, 1 << IRQ_SSI
	csrc mip, t0
	MRET_TO MODE_U, .Lu4
.Lu4:
	MUST_TRAP 15, wfi
	TO_M
	CHECK_EQ(17, s10, CAUSE_ECALL_U)

	PASS

	TRAP_HANDLERS
