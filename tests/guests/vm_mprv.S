/*
 * mstatus.MPRV (priv. 3.1.6.3): with MPRV = 1, M-mode loads and stores are translated
 * and checked as if in mode MPP (S: Sv39 through satp, S permissions, SUM honoured; U: U
 * pages only), page faults go to M with mtval = the VA; with MPP = M there is no
 * translation; instruction fetch is never affected (M code on a page that is invalid in
 * the page table still runs).
 */
#include "vm.h"

#define RW_AD	(PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
#define VA_A	0x40000000	/* -> page_a, S page */
#define VA_U	0x40001000	/* -> page_u, U page */

/* mstatus.MPP = mode, then MPRV = 1 (no memory access in between). */
.macro MPRV_ON mode
	li t0, MSTATUS_MPP
	csrc mstatus, t0
	li t0, (\mode << 11) | MSTATUS_MPRV
	csrs mstatus, t0
.endm

.macro MPRV_OFF
	li t0, MSTATUS_MPRV
	csrc mstatus, t0
.endm

	TEST_START
	PMP_ALLOW_ALL
	la a0, page_a
	li a1, 0xa0a0a0a0
	sd a1, 0(a0)
	la a0, page_u
	li a1, 0xb0b0b0b0
	sd a1, 0(a0)
	la a0, page_inv
	li a1, 0xc0c0c0c0
	sd a1, 0(a0)
	VM_SV39_IDENTITY root, l1, l0
	PTE_LINK root, 1, l1b
	PTE_LINK l1b, 0, l0b
	PTE_SET_PA l0b, 0, page_a, RW_AD
	PTE_SET_PA l0b, 1, page_u, (RW_AD | PTE_U)
	IDMAP_FLAGS l0, page_inv, 0
	IDMAP_FLAGS l0, m_code, 0
	SATP_ON SATP_SV39, root

	/* MPP = S: through the page table */
	li a0, VA_A
	li a1, 0x1111
	MPRV_ON MODE_S
	ld a2, 0(a0)
	sd a1, 8(a0)
	MPRV_OFF
	CHECK_EQ(1, a2, 0xa0a0a0a0)
	la a3, page_a
	ld a2, 8(a3)
	CHECK_EQ(2, a2, 0x1111)
	/* a page fault from an MPRV access */
	la a0, page_inv
	EXPECT(.Lpf1)
	MPRV_ON MODE_S
	ld a2, 0(a0)
	MPRV_OFF
	FAIL(3)
.Lpf1:
	MPRV_OFF
	CHECK_EQ(4, s10, CAUSE_LOAD_PAGE)
	bne s9, a0, .Lbad_tval
	/* SUM: U page from MPP = S */
	li a0, VA_U
	EXPECT(.Lpf2)
	MPRV_ON MODE_S
	ld a2, 0(a0)
	MPRV_OFF
	FAIL(5)
.Lpf2:
	MPRV_OFF
	CHECK_EQ(6, s10, CAUSE_LOAD_PAGE)
	li t0, MSTATUS_SUM
	csrs mstatus, t0
	MPRV_ON MODE_S
	ld a2, 0(a0)
	MPRV_OFF
	CHECK_EQ(7, a2, 0xb0b0b0b0)
	li t0, MSTATUS_SUM
	csrc mstatus, t0

	/* MPP = U: U page yes, S page no (store page fault) */
	li a0, VA_U
	MPRV_ON MODE_U
	ld a2, 0(a0)
	MPRV_OFF
	CHECK_EQ(8, a2, 0xb0b0b0b0)
	li a0, VA_A
	EXPECT(.Lpf3)
	MPRV_ON MODE_U
	sd a2, 0(a0)
	MPRV_OFF
	FAIL(9)
.Lpf3:
	MPRV_OFF
	CHECK_EQ(10, s10, CAUSE_STORE_PAGE)
	bne s9, a0, .Lbad_tval

	/* MPP = M: no translation (page_inv is reachable) */
	la a0, page_inv
	MPRV_ON MODE_M
	ld a2, 0(a0)
	MPRV_OFF
	CHECK_EQ(11, a2, 0xc0c0c0c0)

	/* fetch is not translated: m_code's page is invalid in the table */
	li a0, 0
	MPRV_ON MODE_S
	call m_code
	MPRV_OFF
	CHECK_EQ(12, a0, 0x99)

	PASS
.Lbad_tval:
	FAIL(13)

	.balign PAGE
m_code:
	li a0, 0x99
	ret
	.balign PAGE

	TRAP_HANDLERS

	PAGES root, 1
	PAGES l1, 1
	PAGES l0, 1
	PAGES l1b, 1
	PAGES l0b, 1
	PAGES page_a, 1
	PAGES page_u, 1
	PAGES page_inv, 1
