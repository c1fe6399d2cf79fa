/*
 * The ways the data regime or the code under a translated S-mode block changes, with
 * mstatus.SUM set and clear (cpu/block.h KEY_S_SUM: S-mode blocks have a pc -> block table
 * per SUM state; cpu/jit/x86_64.c regime_fixed: a block with two accesses reads its
 * regime's TLB at a fixed offset behind a guard at entry). Run translated (--jit-hot 1)
 * and interpreted.
 *  A. sfence.vma of one page drops the SUM table's entries too: VA_C is called
 *     ITERS times with SUM set and ITERS times with it clear (a block of VA_C in each
 *     table, translated, its callers linked to it), then remapped to the other code and
 *     fenced by its address: the next calls in both states must run the new code.
 *  B. MXR with SUM: a two-load block reading a user page mapped execute-only must read it
 *     with MXR set and fault with MXR clear, alternately (csrs/csrc, then csrrw).
 *  C. satp Bare <-> Sv39 in S-mode (csrw satp, SUM set): the same two-load block reads
 *     page_a's frame untranslated and page_b's frame through the remapped VA.
 *  D. Self-modifying code in S-mode (SUM set in odd rounds, clear in even ones): smc_fn's
 *     `li a0, K` is rewritten with the round's K and fence.i'd; the call must return K.
 *  E. M-mode with MPRV (MPP = S): the two-load block reads the user page with SUM set,
 *     faults with SUM clear, and reads it with MPP = U.
 */
#include "vm.h"

#define RW_AD  (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
#define RX_A   (PTE_V | PTE_R | PTE_X | PTE_A)
#define XU_A   (PTE_V | PTE_X | PTE_U | PTE_A)
#define VA_T   0x40000000 /* l0b[0]: tramp */
#define VA_C   0x40001000 /* l0b[1]: code_a or code_b */
#define ITERS  100
#define ROUNDS 12

	TEST_START
	PMP_ALLOW_ALL
	/* data: page_x 3 + 4, page_u 5 + 6, page_a 10 + 20, page_b 100 + 200 */
	la t0, page_x
	li t1, 3
	sd t1, 0(t0)
	li t1, 4
	sd t1, 8(t0)
	la t0, page_u
	li t1, 5
	sd t1, 0(t0)
	li t1, 6
	sd t1, 8(t0)
	la t0, page_a
	li t1, 10
	sd t1, 0(t0)
	li t1, 20
	sd t1, 8(t0)
	la t0, page_b
	li t1, 100
	sd t1, 0(t0)
	li t1, 200
	sd t1, 8(t0)
	VM_SV39_IDENTITY root, l1, l0
	PTE_LINK root, 1, l1b
	PTE_LINK l1b, 0, l0b
	PTE_SET_PA l0b, 0, tramp, RX_A
	PTE_SET_PA l0b, 1, code_a, RX_A
	IDMAP_FLAGS l0, page_x, XU_A
	IDMAP_FLAGS l0, page_u, (RW_AD | PTE_U)
	/* page_a's VA maps page_b's frame */
	IDMAP_PTE s4, l0, page_a
	la t3, page_b
	PTE_MAKE t1, t3, RW_AD
	sd t1, 0(s4)
	SATP_ON SATP_SV39, root
	li t0, MSTATUS_SUM | MSTATUS_MXR
	csrc mstatus, t0
	MRET_TO MODE_S, .Ls
.Ls:
	/* ---- A ---- */
	li s1, 0		/* round: code_a (1) when even, code_b (2) when odd */
.Lround:
	li t0, MSTATUS_SUM
	csrs sstatus, t0
	li s0, ITERS
	li s2, 0
	li s3, VA_T
.Lcall_sum:
	jalr ra, 0(s3)
	add s2, s2, a0
	addi s0, s0, -1
	bnez s0, .Lcall_sum
	li t0, MSTATUS_SUM
	csrc sstatus, t0
	li s0, ITERS
.Lcall_nosum:
	jalr ra, 0(s3)
	add s2, s2, a0
	addi s0, s0, -1
	bnez s0, .Lcall_nosum
	/* s2 == 2 * ITERS * (1 + (s1 & 1)) */
	andi t0, s1, 1
	addi t0, t0, 1
	li t1, 2 * ITERS
	mul t0, t0, t1
	bne s2, t0, .Lbad_a
	andi t0, s1, 1
	bnez t0, .Lto_a
	PTE_SET_PA l0b, 1, code_b, RX_A
	j .Lfence
.Lto_a:
	PTE_SET_PA l0b, 1, code_a, RX_A
.Lfence:
	/* in alternate rounds, fence with SUM set (the table in use is the SUM one) */
	andi t0, s1, 2
	beqz t0, 1f
	li t0, MSTATUS_SUM
	csrs sstatus, t0
1:	li t0, VA_C
	sfence.vma t0, zero
	addi s1, s1, 1
	li t0, ROUNDS
	bne s1, t0, .Lround

	/* ---- B ---- */
	li t0, MSTATUS_SUM
	csrs sstatus, t0
	li s0, 40
.Lmxr:
	li t0, MSTATUS_MXR
	csrs sstatus, t0
	la a0, page_x
	call ld2
	li t0, 7
	bne a0, t0, .Lbad_b1
	/* MXR off: the execute-only page no longer reads */
	li t0, MSTATUS_MXR
	csrc sstatus, t0
	la s5, page_x
	mv a0, s5
	EXPECT(.Lmxr_pf1)
	call ld2
	FAIL(20)
.Lmxr_pf1:
	CHECK_EQ(21, s10, CAUSE_LOAD_PAGE)
	bne s9, s5, .Lbad_b2
	/* on again through csrrw (reading the old value), then off through csrrw */
	csrr t1, sstatus
	li t2, MSTATUS_MXR
	or t1, t1, t2
	csrrw t3, sstatus, t1
	and t3, t3, t2
	bnez t3, .Lbad_b3
	mv a0, s5
	call ld2
	li t0, 7
	bne a0, t0, .Lbad_b1
	csrr t1, sstatus
	li t2, MSTATUS_MXR
	not t2, t2
	and t1, t1, t2
	csrrw zero, sstatus, t1
	mv a0, s5
	EXPECT(.Lmxr_pf2)
	call ld2
	FAIL(22)
.Lmxr_pf2:
	CHECK_EQ(23, s10, CAUSE_LOAD_PAGE)
	bne s9, s5, .Lbad_b2
	addi s0, s0, -1
	bnez s0, .Lmxr

	/* ---- C ---- */
	csrr s3, satp
	li s0, 40
.Lsatp:
	csrw satp, zero		/* Bare: page_a's own frame */
	la a0, page_a
	call ld2
	li t0, 30
	bne a0, t0, .Lbad_c1
	csrw satp, s3		/* Sv39: page_a's VA is page_b's frame */
	sfence.vma
	la a0, page_a
	call ld2
	li t0, 300
	bne a0, t0, .Lbad_c2
	addi s0, s0, -1
	bnez s0, .Lsatp

	/* ---- D ---- */
	li s0, 1
.Lsmc:
	li t0, MSTATUS_SUM
	andi t1, s0, 1
	beqz t1, 1f
	csrs sstatus, t0
	j 2f
1:	csrc sstatus, t0
2:	slli t0, s0, 20		/* addi a0, zero, s0 */
	ori t0, t0, 0x513
	la t1, smc_fn
	sw t0, 0(t1)
	fence.i
	call smc_fn
	bne a0, s0, .Lbad_smc
	call smc_fn
	bne a0, s0, .Lbad_smc
	addi s0, s0, 1
	li t0, 41
	bne s0, t0, .Lsmc

	/* ---- E ---- */
	TO_M
	li s0, 40
.Lmprv:
	li t0, MSTATUS_MPP
	csrc mstatus, t0
	li t0, MSTATUS_MPP_S | MSTATUS_MPRV | MSTATUS_SUM
	csrs mstatus, t0
	la a0, page_u
	call ld2
	li t0, 11
	bne a0, t0, .Lbad_d1
	li t0, MSTATUS_SUM
	csrc mstatus, t0
	la s5, page_u
	mv a0, s5
	EXPECT_M(.Lmprv_pf)
	call ld2
	FAIL(40)
.Lmprv_pf:
	CHECK_EQ(41, s10, CAUSE_LOAD_PAGE)
	bne s9, s5, .Lbad_d2
	/* the trap made MPP M: MPP = U reads the user page */
	li t0, MSTATUS_MPP
	csrc mstatus, t0
	li t0, MSTATUS_MPRV
	csrs mstatus, t0
	mv a0, s5
	call ld2
	li t0, 11
	bne a0, t0, .Lbad_d1
	li t0, MSTATUS_MPRV
	csrc mstatus, t0
	addi s0, s0, -1
	bnez s0, .Lmprv
	PASS

.Lbad_a:
	mv a2, s1		/* the round that ran stale code */
	FAIL(1)
.Lbad_b1:
	FAIL(24)
.Lbad_b2:
	FAIL(25)
.Lbad_b3:
	FAIL(26)
.Lbad_c1:
	FAIL(30)
.Lbad_c2:
	FAIL(31)
.Lbad_smc:
	mv a2, s0		/* the round that ran stale code */
	FAIL(35)
.Lbad_d1:
	FAIL(42)
.Lbad_d2:
	FAIL(43)

/* a0 = the sum of the doublewords at a0 and a0 + 8 (one block, two loads) */
ld2:
	ld t0, 0(a0)
	ld t1, 8(a0)
	add a0, t0, t1
	ret

	/* rewritten by D: `li a0, K` (not compressed) */
	.balign PAGE
smc_fn:
	.option push
	.option norvc
	li a0, 0
	ret
	.option pop

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
	PAGES page_x, 1
	PAGES page_u, 1
	PAGES page_a, 1
	PAGES page_b, 1
