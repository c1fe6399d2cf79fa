/*
 * Sv48 translation (priv. 4.5) from S-mode: a 4-level walk to 4 KiB pages (load, store,
 * fetch), a 2 MiB megapage, a 1 GiB gigapage, a 512 GiB terapage at VA 0x8000000000
 * (beyond Sv39's reach) and at the sign-extended top (0xffff800000000000), and a
 * non-canonical VA (bit 47 set, bits 63:48 clear) raising a load page fault.
 */
#include "vm.h"

#define VA_4K	0x40000000		/* root[0] -> l2[1] -> l1b[0] -> l0b[0..2] */
#define VA_2M	0x40200000		/* l1b[1]: megapage -> 0x80200000 */
#define PA_2M	0x80200000
#define VA_1G	0xc0000000		/* l2[3]: gigapage -> 0x80000000 */
#define VA_512G	0x8000000000		/* root[1]: terapage -> 0x0 */
#define VA_HIGH	0xffff800000000000	/* root[256]: terapage -> 0x0 */

	TEST_START
	PMP_ALLOW_ALL

	la a0, page_a
	li a1, 0xaaaa5555aaaa5555
	sd a1, 0(a0)
	la a0, page_b
	li a1, 0xbbbb6666bbbb6666
	sd a1, 0(a0)
	li a0, PA_2M + 0x1ffff8
	li a1, 0x22220000001ffff8
	sd a1, 0(a0)

	VM_SV48_IDENTITY root, l2, l1, l0
	PTE_LINK l2, 1, l1b
	PTE_LINK l1b, 0, l0b
	PTE_SET_PA l0b, 0, page_a, PTE_LEAF
	PTE_SET_PA l0b, 1, page_b, PTE_LEAF
	PTE_SET_PA l0b, 2, alias_code, (PTE_V | PTE_R | PTE_X | PTE_A)
	PTE_SET_LI l1b, 1, PA_2M, PTE_LEAF
	PTE_SET_LI l2, 3, RAM_BASE, PTE_LEAF
	PTE_SET_LI root, 1, 0, PTE_LEAF
	PTE_SET_LI root, 256, 0, PTE_LEAF
	SATP_ON SATP_SV48, root

	MRET_TO MODE_S, .Ls
.Ls:
	li a0, VA_4K
	ld a2, 0(a0)
	CHECK_EQ(1, a2, 0xaaaa5555aaaa5555)
	li a0, VA_4K + PAGE
	ld a2, 0(a0)
	CHECK_EQ(2, a2, 0xbbbb6666bbbb6666)
	li a1, 0x0123456789abcdef
	sd a1, 16(a0)
	la a3, page_b
	ld a2, 16(a3)
	CHECK_EQ(3, a2, 0x0123456789abcdef)
	li a0, 0
	li a4, VA_4K + 2 * PAGE
	jalr ra, 0(a4)
	CHECK_EQ(4, a0, 0x55)

	li a0, VA_2M + 0x1ffff8
	ld a2, 0(a0)
	CHECK_EQ(5, a2, 0x22220000001ffff8)

	la a3, page_a
	li a0, VA_1G - RAM_BASE
	add a0, a0, a3
	ld a2, 0(a0)
	CHECK_EQ(6, a2, 0xaaaa5555aaaa5555)

	/* terapages: VA_512G + PA */
	li a0, VA_512G
	add a0, a0, a3
	ld a2, 0(a0)
	CHECK_EQ(7, a2, 0xaaaa5555aaaa5555)
	li a0, VA_HIGH
	add a0, a0, a3
	li a1, 99
	sd a1, 8(a0)
	ld a2, 8(a3)
	CHECK_EQ(8, a2, 99)
	/* fetch through the terapage */
	la a4, alias_code
	li a0, VA_512G
	add a4, a4, a0
	li a0, 0
	jalr ra, 0(a4)
	CHECK_EQ(9, a0, 0x55)

	/* non-canonical for Sv48 */
	li a0, 0x0000800000000000
	EXPECT(.Lnc)
	ld a2, 0(a0)
	FAIL(10)
.Lnc:
	CHECK_EQ(11, s10, CAUSE_LOAD_PAGE)
	bne s9, a0, .Lfail12

	TO_M
	PASS
.Lfail12:
	FAIL(12)

	.balign PAGE
alias_code:
	li a0, 0x55
	ret
	.balign PAGE

	TRAP_HANDLERS

	PAGES root, 1
	PAGES l2, 1
	PAGES l1, 1
	PAGES l0, 1
	PAGES l1b, 1
	PAGES l0b, 1
	PAGES page_a, 1
	PAGES page_b, 1
