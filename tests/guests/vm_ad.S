/*
 * Accessed and dirty bits (priv. 4.3.1, 4.3.2 step 7). The spec allows either a page
 * fault when A (or, for a store, D) is clear, or a hardware update; Lodge updates them
 * in hardware, like QEMU, and this tests that choice: a load sets A and leaves D clear, a
 * later store sets D (although the page was already used read-only, so a cached
 * translation must not be reused for the store), a first store sets both, a fetch sets A.
 */
#include "vm.h"

	TEST_START
	PMP_ALLOW_ALL
	VM_SV39_IDENTITY root, l1, l0
	IDMAP_FLAGS l0, page_a, (PTE_V | PTE_R | PTE_W)
	IDMAP_FLAGS l0, page_b, (PTE_V | PTE_R | PTE_W)
	IDMAP_FLAGS l0, code_x, (PTE_V | PTE_R | PTE_X)
	SATP_ON SATP_SV39, root

	MRET_TO MODE_S, .Ls
.Ls:
	IDMAP_PTE s0, l0, page_a
	IDMAP_PTE s1, l0, page_b
	IDMAP_PTE s2, l0, code_x
	ld a2, 0(s0)
	CHECK_BITS(1, a2, PTE_A | PTE_D, 0)

	/* load: A */
	la a0, page_a
	ld a3, 0(a0)
	ld a2, 0(s0)
	CHECK_BITS(2, a2, PTE_A | PTE_D, PTE_A)
	/* store: D */
	sd a3, 8(a0)
	ld a2, 0(s0)
	CHECK_BITS(3, a2, PTE_A | PTE_D | PTE_RWX | PTE_V, PTE_A | PTE_D | PTE_R | PTE_W | PTE_V)

	/* first access a store: both */
	la a0, page_b
	sw a3, 0(a0)
	ld a2, 0(s1)
	CHECK_BITS(4, a2, PTE_A | PTE_D, PTE_A | PTE_D)

	/* fetch: A, not D */
	li a0, 0
	call code_x
	CHECK_EQ(5, a0, 0x77)
	ld a2, 0(s2)
	CHECK_BITS(6, a2, PTE_A | PTE_D, PTE_A)

	/* clearing A again (with sfence.vma) makes the next access set it again */
	ld a2, 0(s0)
	andi a2, a2, ~(PTE_A | PTE_D)
	sd a2, 0(s0)
	sfence.vma
	la a0, page_a
	lbu a3, 0(a0)
	ld a2, 0(s0)
	CHECK_BITS(7, a2, PTE_A | PTE_D, PTE_A)

	TO_M
	PASS

	.balign PAGE
code_x:
	li a0, 0x77
	ret
	.balign PAGE

	TRAP_HANDLERS

	PAGES root, 1
	PAGES l1, 1
	PAGES l0, 1
	PAGES page_a, 1
	PAGES page_b, 1
