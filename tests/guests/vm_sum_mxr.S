/*
 * mstatus.SUM and MXR (priv. 4.3.2, 3.1.6.3) under Sv39. SUM: S-mode loads and stores
 * to U pages fault unless SUM = 1, and S may never fetch from a U page; toggling SUM
 * takes effect without sfence.vma (Linux's uaccess relies on it). MXR: loads from an
 * execute-only page fault unless MXR = 1, in S and in U; MXR never allows a store, nor
 * a U-page access from S without SUM.
 */
#include "vm.h"

#define RW_AD	(PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)

.macro FAULT id, cause, insn:vararg
	EXPECT(.Lres\@)
	\insn
	FAIL(\id)
.Lres\@:
	CHECK_EQ(\id + 1, s10, \cause)
	beq s9, a0, .Ltval\@
	FAIL(\id + 2)
.Ltval\@:
.endm

	TEST_START
	PMP_ALLOW_ALL
	la a0, page_xo
	li a1, 0x1234
	sd a1, 0(a0)
	la a0, u_xo
	li a1, 0x5678
	sd a1, 0(a0)
	VM_SV39_IDENTITY root, l1, l0
	IDMAP_FLAGS l0, page_u, (RW_AD | PTE_U)
	IDMAP_FLAGS l0, page_xo, (PTE_V | PTE_X | PTE_A)
	IDMAP_FLAGS l0, u_xo, (PTE_V | PTE_X | PTE_U | PTE_A)
	IDMAP_FLAGS l0, u_code, (PTE_V | PTE_R | PTE_X | PTE_U | PTE_A)
	SATP_ON SATP_SV39, root
	li t0, MSTATUS_SUM | MSTATUS_MXR
	csrc mstatus, t0

	MRET_TO MODE_S, .Ls
.Ls:
	/* SUM */
	la a0, page_u
	FAULT 1, CAUSE_LOAD_PAGE, ld a2, 0(a0)
	FAULT 4, CAUSE_STORE_PAGE, sd a2, 0(a0)
	li t0, MSTATUS_SUM
	csrs sstatus, t0
	li a1, 42
	sd a1, 0(a0)
	ld a2, 0(a0)
	CHECK_EQ(7, a2, 42)
	la a0, u_code
	FAULT 8, CAUSE_FETCH_PAGE, jalr ra, 0(a0)
	la a0, page_u
	li t0, MSTATUS_SUM
	csrc sstatus, t0
	FAULT 11, CAUSE_LOAD_PAGE, ld a2, 0(a0)

	/* MXR */
	la a0, page_xo
	FAULT 14, CAUSE_LOAD_PAGE, ld a2, 0(a0)
	li t0, MSTATUS_MXR
	csrs sstatus, t0
	ld a2, 0(a0)
	CHECK_EQ(17, a2, 0x1234)
	FAULT 18, CAUSE_STORE_PAGE, sd a2, 0(a0)
	la a0, page_u		/* MXR does not stand in for SUM */
	FAULT 21, CAUSE_LOAD_PAGE, ld a2, 0(a0)
	la a0, page_xo
	li t0, MSTATUS_MXR
	csrc sstatus, t0
	FAULT 24, CAUSE_LOAD_PAGE, ld a2, 0(a0)
	TO_M

	/* MXR in U: without (s5 = 1: must fault), then with (s5 = 2) */
	li s5, 1
	MRET_TO MODE_U, u_code
.Lu_back1:
	CHECK_EQ(27, s10, CAUSE_LOAD_PAGE)
	CHECK_EQ(28, s7, MODE_M)
	la a0, u_xo
	bne s9, a0, .Lfail29
	li t0, MSTATUS_MXR
	csrs mstatus, t0
	li s5, 2
	MRET_TO MODE_U, u_code
.Lu_back2:
	CHECK_EQ(32, s5, 2)
	CHECK_EQ(30, s10, CAUSE_ECALL_U)
	CHECK_EQ(31, a2, 0x5678)

	PASS
.Lfail29:
	FAIL(29)

	/* U code: load from the U execute-only page; continue in M either way */
	.balign PAGE
u_code:
	la s11, .Lu_back1
	ori s11, s11, 1
	la a0, u_xo
	ld a2, 0(a0)
	la s11, .Lu_back2
	ecall
	.balign PAGE

	TRAP_HANDLERS

	PAGES root, 1
	PAGES l1, 1
	PAGES l0, 1
	PAGES page_u, 1
	PAGES page_xo, 1
	PAGES u_xo, 1
