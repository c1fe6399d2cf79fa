/*
 * sfence.vma (priv. 4.2.1) makes page-table changes visible: remapping a VA to another
 * frame (flush all, flush one VA, flush by ASID), remapping a code VA to other code (a
 * decoded-block cache must follow), invalidating a PTE (then a page fault), upgrading
 * read-only to writable and downgrading writable to read-only, and switching satp to
 * another root table. Every change is made from S through the identity mapping of the
 * tables, then fenced; the old mapping is used first so a translation is cached.
 */
#include "vm.h"

#define RW_AD	(PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
#define RX_A	(PTE_V | PTE_R | PTE_X | PTE_A)
#define VA_D	0x40000000	/* data: l0b[0] */
#define VA_C	0x40001000	/* code: l0b[1] */

	TEST_START
	PMP_ALLOW_ALL
	li a1, 0xa
	la a0, page_a
	sd a1, 0(a0)
	li a1, 0xb
	la a0, page_b
	sd a1, 0(a0)
	li a1, 0xc
	la a0, page_c
	sd a1, 0(a0)
	VM_SV39_IDENTITY root, l1, l0
	PTE_LINK root, 1, l1b
	PTE_LINK l1b, 0, l0b
	PTE_SET_PA l0b, 0, page_a, RW_AD
	PTE_SET_PA l0b, 1, code_a, RX_A
	/* a second root: same identity mapping, VA_D -> page_c */
	PTE_LINK root2, 2, l1
	PTE_SET_LI root2, 0, 0, (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
	PTE_LINK root2, 1, l1c
	PTE_LINK l1c, 0, l0c
	PTE_SET_PA l0c, 0, page_c, RW_AD
	SATP_ON SATP_SV39, root

	MRET_TO MODE_S, .Ls
.Ls:
	la s0, l0b		/* s0 = &PTE(VA_D), s0 + 8 = &PTE(VA_C) */
	li s1, VA_D
	ld a2, 0(s1)
	CHECK_EQ(1, a2, 0xa)

	/* remap to page_b, flush all */
	PTE_SET_PA l0b, 0, page_b, RW_AD
	sfence.vma
	ld a2, 0(s1)
	CHECK_EQ(2, a2, 0xb)
	/* back to page_a, flush that VA */
	PTE_SET_PA l0b, 0, page_a, RW_AD
	sfence.vma s1, zero
	ld a2, 0(s1)
	CHECK_EQ(3, a2, 0xa)
	/* to page_b, flush ASID 0 (all addresses) */
	PTE_SET_PA l0b, 0, page_b, RW_AD
	sfence.vma zero, zero
	li a0, 0
	sfence.vma zero, a0
	ld a2, 0(s1)
	CHECK_EQ(4, a2, 0xb)

	/* code: run code_a at VA_C, remap to code_b */
	li a4, VA_C
	jalr ra, 0(a4)
	CHECK_EQ(5, a0, 1)
	PTE_SET_PA l0b, 1, code_b, RX_A
	sfence.vma
	li a4, VA_C
	jalr ra, 0(a4)
	CHECK_EQ(6, a0, 2)

	/* invalidate: page fault */
	sd zero, 0(s0)
	sfence.vma s1
	EXPECT(.Lpf)
	ld a2, 0(s1)
	FAIL(7)
.Lpf:
	CHECK_EQ(8, s10, CAUSE_LOAD_PAGE)

	/* read-only, then writable */
	PTE_SET_PA l0b, 0, page_a, (PTE_V | PTE_R | PTE_A | PTE_D)
	sfence.vma
	ld a2, 0(s1)
	EXPECT(.Lro)
	sd a2, 0(s1)
	FAIL(9)
.Lro:
	CHECK_EQ(10, s10, CAUSE_STORE_PAGE)
	PTE_SET_PA l0b, 0, page_a, RW_AD
	sfence.vma
	li a1, 0xaa
	sd a1, 0(s1)
	/* writable (and just written), then read-only */
	PTE_SET_PA l0b, 0, page_a, (PTE_V | PTE_R | PTE_A | PTE_D)
	sfence.vma
	EXPECT(.Lro2)
	sd a1, 0(s1)
	FAIL(11)
.Lro2:
	CHECK_EQ(12, s10, CAUSE_STORE_PAGE)
	ld a2, 0(s1)
	CHECK_EQ(13, a2, 0xaa)

	/* another root */
	la t0, root2
	srli t0, t0, 12
	li t1, SATP_SV39
	or t0, t0, t1
	csrw satp, t0
	sfence.vma
	ld a2, 0(s1)
	CHECK_EQ(14, a2, 0xc)
	SATP_ON SATP_SV39, root
	ld a2, 0(s1)
	CHECK_EQ(15, a2, 0xaa)

	TO_M
	PASS

	.balign PAGE
code_a:
	li a0, 1
	ret
	.balign PAGE
code_b:
	li a0, 2
	ret
	.balign PAGE

	TRAP_HANDLERS

	PAGES root, 1
	PAGES l1, 1
	PAGES l0, 1
	PAGES l1b, 1
	PAGES l0b, 1
	PAGES root2, 1
	PAGES l1c, 1
	PAGES l0c, 1
	PAGES page_a, 1
	PAGES page_b, 1
	PAGES page_c, 1
