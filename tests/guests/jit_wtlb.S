/*
 * The write TLB and code pages (cpu/mmu.c): translated stores skip any test of the page's
 * flags, so the write TLB must never map a page that holds decoded code. Here a translated
 * store (store_w, called many times) first fills the write TLB for a page by storing data
 * to it; then code on that same page runs (decoded: the page is flagged) and the same
 * translated store rewrites that code, with no fence.i. The store must reach the code-page
 * watch, so the next call runs the new instruction (Lodge, like QEMU, makes a store to
 * decoded code visible at once); a write-TLB entry left from before the page was flagged
 * would let it through unseen and the old code would run. 40 rounds, as the page goes back
 * into the write TLB after each rewrite (its flag is cleared) and out again when the code
 * runs.
 */
#include "test.h"

#define ADDI_A0(imm) (((imm) << 20) | (10 << 7) | 0x13) /* addi a0, zero, imm */

	TEST_START

	/* fill the write TLB for the page (no code on it has run yet) */
	li s0, 300
.Lwarm:
	la a0, wtlb_data
	mv a1, s0
	call store_w
	addi s0, s0, -1
	bnez s0, .Lwarm
	call patch_fn
	CHECK_EQ(1, a0, 1)
	/* the page now holds decoded code: the same translated store rewrites it */
	la a0, patch_fn
	li a1, ADDI_A0(2)
	call store_w
	call patch_fn
	CHECK_EQ(2, a0, 2)

	/* again and again: data stores (the page back in the write TLB), run, rewrite */
	li s1, 3
.Lround:
	li s0, 50
.Ldata:
	la a0, wtlb_data
	mv a1, s0
	call store_w
	addi s0, s0, -1
	bnez s0, .Ldata
	call patch_fn
	addi t0, s1, -1
	bne a0, t0, .Lfail3
	la a0, patch_fn
	li a1, ADDI_A0(0)
	slli t0, s1, 20
	or a1, a1, t0
	call store_w
	call patch_fn
	bne a0, s1, .Lfail4
	addi s1, s1, 1
	li t0, 43
	bne s1, t0, .Lround
	/* the data stores all landed */
	la t0, wtlb_data
	lw a0, 0(t0)
	CHECK_EQ(5, a0, 1)
	PASS
.Lfail3:
	FAIL(3)
.Lfail4:
	FAIL(4)

/* One translated store: *a0 = a1 (a word). */
store_w:
	sw a1, 0(a0)
	ret

	TRAP_HANDLERS

	/* A page of its own: nothing else on it runs or is written. */
	.text
	.balign 4096
	.option push
	.option norvc
patch_fn:
	addi a0, zero, 1
	ret
	.option pop
	.balign 64
wtlb_data:
	.word 0
	.balign 4096
