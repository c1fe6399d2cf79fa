/*
 * Cross-hart write-TLB drop (cpu/mmu.c, mmu_code_flag), run with --cpus 2 (hart ids in a0):
 * hart 1 fills its write TLB for a page by a translated store of data to it (store_w,
 * called 300 times); then hart 0 runs code on that page, which flags it as code and must
 * drop hart 1's write entry for it. Hart 1 then runs the code itself (the page is flagged
 * already: it drops nothing) and rewrites it through the same translated store, with no
 * fence.i, and runs it again: its store must have reached the code-page watch (which makes
 * this hart drop its blocks of the page at once), so the new instruction runs. Had hart 1
 * kept its entry, the store would go by unseen and the old code would run (result 1).
 * Hart 0 checks hart 1's results and ends the test; other harts park.
 */
#include "guest.h"

#define ADDI_A0(imm) (((imm) << 20) | (10 << 7) | 0x13) /* addi a0, zero, imm */

	.section .text.init
	.globl _start
_start:
	mv s0, a0
	la sp, _stack_top
	slli t0, s0, 12
	sub sp, sp, t0
	beqz s0, hart0
	li t0, 1
	bne s0, t0, park

	/* hart 1: the page into the write TLB */
	li s1, 300
1:	la a0, wtlb_data
	mv a1, s1
	call store_w
	addi s1, s1, -1
	bnez s1, 1b
	la t0, filled
	li t1, 1
	amoswap.w.aqrl zero, t1, (t0)
	la t0, flagged			/* wait for hart 0 to run the page's code */
2:	lw t1, 0(t0)
	beqz t1, 2b
	fence rw, rw
	call patch_fn
	la t0, first
	sw a0, 0(t0)
	la a0, patch_fn
	li a1, ADDI_A0(2)
	call store_w
	call patch_fn
	la t0, second
	sw a0, 0(t0)
	la t0, done
	li t1, 1
	amoswap.w.aqrl zero, t1, (t0)
park:
	wfi
	j park

hart0:
	la t0, filled
3:	lw t1, 0(t0)
	beqz t1, 3b
	call patch_fn			/* decoded here: the page is flagged */
	CHECK_EQ(1, a0, 1)
	la t0, flagged
	li t1, 1
	amoswap.w.aqrl zero, t1, (t0)
	la t0, done
4:	lw t1, 0(t0)
	beqz t1, 4b
	fence rw, rw
	la t0, first
	lw t1, 0(t0)
	CHECK_EQ(2, t1, 1)
	la t0, second
	lw t1, 0(t0)
	CHECK_EQ(3, t1, 2)
	PASS

/* One translated store: *a0 = a1 (a word). */
store_w:
	sw a1, 0(a0)
	ret

	.data
	.align 3
filled:		.word 0
flagged:	.word 0
done:		.word 0
first:		.word 0
second:		.word 0

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
