/*
 * Translated loads in the bare regime (cpu/jit/x86_64.c, load_fast): a block translated
 * while data accesses are untranslated reads RAM with a bounds check only, behind a
 * guard at its entry. Here load_w and load_b are translated in M-mode with MPRV = 0 (so
 * bare) and then run with MPRV = 1, MPP = S through a page table that maps page_b's
 * address to page_a: the guard must send those runs to the TLB's way (page_a's values); a
 * translation that still read RAM directly would return page_b's. Loads at RAM's
 * address minus a little (below RAM: no device there) must fault from translated code,
 * and the direct path must keep reading RAM right after MPRV is off again.
 */
#include "vm.h"

#define RW_AD (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)

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
	la s2, page_a
	la s3, page_b
	li a1, 0xa1a2a3a4
	sw a1, 0(s2)
	li a1, 0xb1b2b3b4
	sw a1, 0(s3)

	/* bare: translated (hot) with the direct path, reading page_b */
	li s0, 200
.Lwarm:
	mv a0, s3
	call load_w
	mv a0, s3
	call load_b
	addi s0, s0, -1
	bnez s0, .Lwarm
	mv a0, s3
	call load_w
	li t0, 0xb1b2b3b4
	bne a0, t0, .Lfail1
	mv a0, s3
	call load_b
	CHECK_EQ(2, a0, 0xb4)

	/* page_b's address -> page_a, for MPP = S */
	VM_SV39_IDENTITY root, l1, l0
	IDMAP_PTE s4, l0, page_b
	PTE_MAKE t1, s2, RW_AD
	sd t1, 0(s4)
	SATP_ON SATP_SV39, root
	li s0, 20
.Lmprv:
	mv a0, s3
	MPRV_ON MODE_S
	call load_w
	MPRV_OFF
	li t0, 0xa1a2a3a4
	bne a0, t0, .Lfail3
	mv a0, s3
	MPRV_ON MODE_S
	call load_b
	MPRV_OFF
	li t0, 0xa4
	bne a0, t0, .Lfail4
	addi s0, s0, -1
	bnez s0, .Lmprv

	/* bare again: page_b itself */
	mv a0, s3
	call load_w
	li t0, 0xb1b2b3b4
	bne a0, t0, .Lfail5

	/* below RAM: an access fault at the load, from translated code */
	li a0, RAM_BASE - 8
	EXPECT(.Laf)
	call load_w
	FAIL(6)
.Laf:
	CHECK_EQ(7, s10, CAUSE_LOAD_ACCESS)
	li t0, RAM_BASE - 8
	bne s9, t0, .Lfail8
	PASS
.Lfail1:
	FAIL(1)
.Lfail3:
	FAIL(3)
.Lfail4:
	FAIL(4)
.Lfail5:
	FAIL(5)
.Lfail8:
	FAIL(8)

/* a0 = the word at a0, zero-extended */
load_w:
	lwu a0, 0(a0)
	ret

/* a0 = the byte at a0 */
load_b:
	lbu a0, 0(a0)
	ret

	TRAP_HANDLERS

	PAGES root, 1
	PAGES l1, 1
	PAGES l0, 1
	PAGES page_a, 1
	PAGES page_b, 1
