/*
 * sfence.vma of one page and the pc -> block table / direct jumps (cpu/exec.c,
 * exec_flush_jumps_page). A fence of a page in which no block starts drops nothing (its
 * page-filter bit is clear); a fence of a page that holds a block must drop its table
 * entries and every direct jump to it. Here S-mode code calls VA_T ITERS times; VA_T's
 * block jumps (jal: a constant target, so a linked jump once translated) to VA_C on the
 * next page, whose code returns 1 or 2 depending on which frame VA_C maps. Between
 * rounds, a data page (VA_D) is written and fenced by its address (nothing to drop), then
 * VA_C is remapped to the other code and fenced by its address: the next call must run
 * the new code, through the dispatcher's table, the translated lookup and the linked
 * jump alike. 20 rounds.
 */
#include "vm.h"

#define RW_AD  (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
#define RX_A   (PTE_V | PTE_R | PTE_X | PTE_A)
#define VA_T   0x40000000 /* l0b[0]: tramp */
#define VA_C   0x40001000 /* l0b[1]: code_a or code_b */
#define VA_D   0x40002000 /* l0b[2]: page_d */
#define ITERS  200
#define ROUNDS 20

	TEST_START
	PMP_ALLOW_ALL
	VM_SV39_IDENTITY root, l1, l0
	PTE_LINK root, 1, l1b
	PTE_LINK l1b, 0, l0b
	PTE_SET_PA l0b, 0, tramp, RX_A
	PTE_SET_PA l0b, 1, code_a, RX_A
	PTE_SET_PA l0b, 2, page_d, RW_AD
	SATP_ON SATP_SV39, root

	MRET_TO MODE_S, .Ls
.Ls:
	li s1, 0		/* round: code_a (1) when even, code_b (2) when odd */
.Lround:
	li s0, ITERS
	li s2, 0
	li s3, VA_T
.Lcall:
	jalr ra, 0(s3)
	add s2, s2, a0
	addi s0, s0, -1
	bnez s0, .Lcall
	/* s2 == ITERS * (1 + (s1 & 1)) */
	andi t0, s1, 1
	addi t0, t0, 1
	li t1, ITERS
	mul t0, t0, t1
	bne s2, t0, .Lbad
	/* an unrelated page, written and fenced by its address */
	li s4, VA_D
	sd s1, 0(s4)
	sfence.vma s4, zero
	ld t0, 0(s4)
	bne t0, s1, .Lbad_d
	/* VA_C to the other code, fenced by its address */
	andi t0, s1, 1
	bnez t0, .Lto_a
	PTE_SET_PA l0b, 1, code_b, RX_A
	j .Lfence
.Lto_a:
	PTE_SET_PA l0b, 1, code_a, RX_A
.Lfence:
	li s4, VA_C
	sfence.vma s4, zero
	addi s1, s1, 1
	li t0, ROUNDS
	bne s1, t0, .Lround

	TO_M
	PASS
.Lbad:
	mv a2, s1		/* the round that ran stale code */
	FAIL(1)
.Lbad_d:
	FAIL(2)

	/* VA_T: a jal to the next virtual page (VA_C) */
	.balign PAGE
tramp:
	j tramp + PAGE
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
	PAGES page_d, 1
