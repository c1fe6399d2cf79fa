/*
 * Sv39 translation (priv. 4.4) from S-mode: 4 KiB pages aliasing program pages (load,
 * store seen through the identity mapping, instruction fetch), a 2 MiB megapage
 * (both ends), 1 GiB gigapages at VA 0xc0000000 and at the sign-extended top of the
 * address space (0xffffffc000000000), and a non-canonical VA (bits 63:39 not copies of
 * bit 38) raising a load page fault.
 */
#include "vm.h"

#define VA_4K	0x40000000	/* root[1] -> l1b[0] -> l0b[0..2] */
#define VA_2M	0x40200000	/* l1b[1]: megapage -> 0x80200000 */
#define PA_2M	0x80200000
#define VA_1G	0xc0000000	/* root[3]: gigapage -> 0x80000000 */
#define VA_HIGH	0xffffffc000000000	/* root[256]: gigapage -> 0x80000000 */

	TEST_START
	PMP_ALLOW_ALL

	/* data: page_a[0] = A, page_b[0] = B, two words in the megapage's frame */
	la a0, page_a
	li a1, 0xaaaa5555aaaa5555
	sd a1, 0(a0)
	la a0, page_b
	li a1, 0xbbbb6666bbbb6666
	sd a1, 0(a0)
	li a0, PA_2M + 0x1238
	li a1, 0x2222000000001238
	sd a1, 0(a0)
	li a0, PA_2M + 0x1ffff8
	li a1, 0x22220000001ffff8
	sd a1, 0(a0)

	VM_SV39_IDENTITY root, l1, l0
	PTE_LINK root, 1, l1b
	PTE_LINK l1b, 0, l0b
	PTE_SET_PA l0b, 0, page_a, PTE_LEAF
	PTE_SET_PA l0b, 1, page_b, PTE_LEAF
	PTE_SET_PA l0b, 2, alias_code, (PTE_V | PTE_R | PTE_X | PTE_A)
	PTE_SET_LI l1b, 1, PA_2M, PTE_LEAF
	PTE_SET_LI root, 3, RAM_BASE, PTE_LEAF
	PTE_SET_LI root, 256, RAM_BASE, PTE_LEAF
	SATP_ON SATP_SV39, root

	MRET_TO MODE_S, .Ls
.Ls:
	/* 4 KiB: load through the alias */
	li a0, VA_4K
	ld a2, 0(a0)
	CHECK_EQ(1, a2, 0xaaaa5555aaaa5555)
	/* store through an alias, seen through the identity mapping */
	li a0, VA_4K + PAGE
	ld a2, 0(a0)
	CHECK_EQ(2, a2, 0xbbbb6666bbbb6666)
	li a1, 0x0123456789abcdef
	sd a1, 16(a0)
	la a3, page_b
	ld a2, 16(a3)
	CHECK_EQ(3, a2, 0x0123456789abcdef)
	/* fetch through an alias */
	li a0, 0
	li a4, VA_4K + 2 * PAGE
	jalr ra, 0(a4)
	CHECK_EQ(4, a0, 0x55)

	/* 2 MiB megapage, first and last dword touched */
	li a0, VA_2M + 0x1238
	ld a2, 0(a0)
	CHECK_EQ(5, a2, 0x2222000000001238)
	li a0, VA_2M + 0x1ffff8
	ld a2, 0(a0)
	CHECK_EQ(6, a2, 0x22220000001ffff8)

	/* 1 GiB gigapage */
	la a3, page_a
	li a0, VA_1G - RAM_BASE
	add a0, a0, a3
	ld a2, 0(a0)
	CHECK_EQ(7, a2, 0xaaaa5555aaaa5555)
	/* at the top of the address space */
	li a0, VA_HIGH - RAM_BASE
	add a0, a0, a3
	ld a2, 0(a0)
	CHECK_EQ(8, a2, 0xaaaa5555aaaa5555)
	/* and storing through it */
	li a1, 77
	sd a1, 8(a0)
	ld a2, 8(a3)
	CHECK_EQ(9, a2, 77)

	/* non-canonical: bit 38 clear, bit 39 set */
	li a0, 0x0000008000000000
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
	PAGES l1, 1
	PAGES l0, 1
	PAGES l1b, 1
	PAGES l0b, 1
	PAGES page_a, 1
	PAGES page_b, 1
