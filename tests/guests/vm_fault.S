/*
 * Page faults (priv. 4.3.2) under Sv39, taken into M with mcause 12/13/15, mtval = the
 * faulting VA and mepc = the faulting instruction (for a fetch: the target): an invalid
 * PTE (load, store, fetch), W without R (reserved), a U page from S without SUM, an S page
 * from U (load and fetch), a store to a read-only page, a fetch from a non-executable
 * page, misaligned megapage and gigapage leaves, a pointer PTE at the last level, a
 * misaligned load running into an invalid page, and one fault delegated to S
 * (scause/stval/sepc).
 */
#include "vm.h"

#define RW_AD	(PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)

/* ids id..id+2: `insn` on VA in a0 must fault with `cause`, mtval = a0. */
.macro FAULT id, cause, insn:vararg
	EXPECT(.Lres\@)
.Linsn\@:
	\insn
	FAIL(\id)
.Lres\@:
	CHECK_EQ(\id + 1, s10, \cause)
	beq s9, a0, .Ltval\@
	FAIL(\id + 2)
.Ltval\@:
	la a5, .Linsn\@
	bne s8, a5, .Lbad_epc
.endm

/* ids id..id+2: a jump to VA a0 must raise a fetch page fault, mepc = mtval = a0. */
.macro FETCH_FAULT id
	EXPECT(.Lres\@)
	jalr ra, 0(a0)
	FAIL(\id)
.Lres\@:
	CHECK_EQ(\id + 1, s10, CAUSE_FETCH_PAGE)
	beq s9, a0, .Ltval\@
	FAIL(\id + 2)
.Ltval\@:
	bne s8, a0, .Lbad_epc
.endm

	TEST_START
	PMP_ALLOW_ALL
	VM_SV39_IDENTITY root, l1, l0
	IDMAP_FLAGS l0, page_inv, 0
	IDMAP_FLAGS l0, page_wnor, (PTE_V | PTE_W | PTE_A | PTE_D)
	IDMAP_FLAGS l0, page_user, (RW_AD | PTE_U)
	IDMAP_FLAGS l0, page_ro, (PTE_V | PTE_R | PTE_A)
	IDMAP_FLAGS l0, page_nx, RW_AD
	IDMAP_FLAGS l0, u_code, (PTE_V | PTE_R | PTE_X | PTE_U | PTE_A)
	/* misaligned superpages and a pointer at level 0 */
	PTE_LINK root, 1, l1b
	PTE_SET_LI l1b, 1, 0x80201000, RW_AD	/* VA 0x40200000: ppn[0] != 0 */
	PTE_SET_LI root, 3, 0x80200000, RW_AD	/* VA 0xc0000000: ppn[1] != 0 */
	PTE_LINK l1b, 0, l0b
	PTE_LINK l0b, 0, page_ro		/* VA 0x40000000: non-leaf at level 0 */
	SATP_ON SATP_SV39, root

	MRET_TO MODE_S, .Ls
.Ls:
	la a0, page_inv
	FAULT 1, CAUSE_LOAD_PAGE, ld a2, 0(a0)
	FAULT 4, CAUSE_STORE_PAGE, sd a2, 0(a0)
	FETCH_FAULT 7
	la a0, page_wnor
	FAULT 10, CAUSE_LOAD_PAGE, lw a2, 0(a0)
	FAULT 13, CAUSE_STORE_PAGE, sw a2, 0(a0)
	la a0, page_user
	FAULT 16, CAUSE_LOAD_PAGE, lbu a2, 0(a0)
	FAULT 19, CAUSE_STORE_PAGE, sb a2, 0(a0)
	la a0, page_ro
	ld a2, 0(a0)
	FAULT 22, CAUSE_STORE_PAGE, sd a2, 0(a0)
	FAULT 25, CAUSE_STORE_PAGE, amoadd.d a2, a2, (a0)
	la a0, page_nx
	ld a2, 0(a0)
	FETCH_FAULT 28
	li a0, 0x40200000
	FAULT 31, CAUSE_LOAD_PAGE, ld a2, 0(a0)
	li a0, 0xc0000000
	FAULT 34, CAUSE_LOAD_PAGE, ld a2, 0(a0)
	li a0, 0x40000000
	FAULT 37, CAUSE_LOAD_PAGE, ld a2, 0(a0)
	/* page_ro is followed by page_inv: an ld straddling them faults */
	la a0, page_inv
	addi a0, a0, -4
	EXPECT(.Lstraddle)
	ld a2, 0(a0)
	FAIL(40)
.Lstraddle:
	CHECK_EQ(41, s10, CAUSE_LOAD_PAGE)
	TO_M

	/* U-mode: S pages are out of reach */
	MRET_TO MODE_U, u_code
.Lu_back:
	CHECK_EQ(42, s10, CAUSE_ECALL_U)

	/* delegated to S */
	li t0, 1 << CAUSE_LOAD_PAGE
	csrw medeleg, t0
	MRET_TO MODE_S, .Ls2
.Ls2:
	la a0, page_inv
	EXPECT(.Ls2_back)
.Ls2_insn:
	ld a2, 8(a0)
	FAIL(43)
.Ls2_back:
	CHECK_EQ(44, s7, MODE_S)
	CHECK_EQ(45, s10, CAUSE_LOAD_PAGE)
	addi a0, a0, 8
	bne s9, a0, .Lbad_tval
	la a5, .Ls2_insn
	bne s8, a5, .Lbad_epc
	TO_M

	PASS
.Lbad_epc:
	FAIL(46)
.Lbad_tval:
	FAIL(47)

	/* U-mode code, on a page of its own */
	.balign PAGE
u_code:
	la a0, page_ro
	FAULT 48, CAUSE_LOAD_PAGE, ld a2, 0(a0)
	la a0, .Ls		/* S code */
	FETCH_FAULT 51
	la a0, page_user	/* U data: fine */
	ld a2, 0(a0)
	sd a2, 0(a0)
	la s11, .Lu_back
	ecall
	.balign PAGE

	TRAP_HANDLERS

	PAGES root, 1
	PAGES l1, 1
	PAGES l0, 1
	PAGES l1b, 1
	PAGES l0b, 1
	PAGES page_wnor, 1
	PAGES page_user, 1
	PAGES page_nx, 1
	PAGES page_ro, 1
	PAGES page_inv, 1
