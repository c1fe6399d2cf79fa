/*
 * Translated loads and stores with the data TLB at a fixed offset (cpu/jit/x86_64.c,
 * regime_fixed): a block with two accesses or more, translated while paging is on, reads
 * the TLB of the regime it was translated in straight from the hart, behind a guard at
 * its entry. Here load2 and store2 are translated in M-mode with MPRV = 1, MPP = S and
 * SUM = 1 (the S+SUM regime) on a user page (PTE_U) mapped from page_b's address to
 * page_a, so that regime's TLB holds the page. Run again with SUM = 0 they must fault (S
 * may not touch a user page without SUM); code that still read the S+SUM TLB would hit
 * its entries and not fault. Run with MPP = U they must work again, through the U TLB,
 * and the bare regime must still see page_a's and page_b's own bytes.
 */
#include "vm.h"

#define URW_AD (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D | PTE_U)

.macro MPRV_ON mode, sum
	li t0, MSTATUS_MPP | MSTATUS_SUM
	csrc mstatus, t0
	li t0, (\mode << 11) | MSTATUS_MPRV | (\sum * MSTATUS_SUM)
	csrs mstatus, t0
.endm

.macro MPRV_OFF
	li t0, MSTATUS_MPRV | MSTATUS_SUM
	csrc mstatus, t0
.endm

	TEST_START
	PMP_ALLOW_ALL
	la s2, page_a
	la s3, page_b
	li a1, 0xa1a2a3a4
	sw a1, 0(s2)
	li a1, 0x55
	sb a1, 4(s2)
	li a1, 0xb1b2b3b4
	sw a1, 0(s3)

	/* page_b's address -> page_a, a user page */
	VM_SV39_IDENTITY root, l1, l0
	IDMAP_PTE s4, l0, page_b
	PTE_MAKE t1, s2, URW_AD
	sd t1, 0(s4)
	SATP_ON SATP_SV39, root

	/* S with SUM: translated (hot) here */
	li s0, 50
.Lsum:
	mv a0, s3
	MPRV_ON MODE_S, 1
	call load2
	MPRV_OFF
	li t0, 0xa1a2a3a4
	bne a1, t0, .Lfail1
	li t0, 0x55
	bne a2, t0, .Lfail2
	addi a0, s3, 64
	mv a1, s0
	MPRV_ON MODE_S, 1
	call store2
	MPRV_OFF
	lwu t1, 64(s2)
	bne t1, s0, .Lfail3
	lbu t1, 69(s2)
	andi t0, s0, 0xff
	bne t1, t0, .Lfail4
	addi s0, s0, -1
	bnez s0, .Lsum

	/* S without SUM: a load page fault at the first load, nothing read */
	li a1, 0
	mv a0, s3
	EXPECT(.Lpf_load)
	MPRV_ON MODE_S, 0
	call load2
	MPRV_OFF
	FAIL(5)
.Lpf_load:
	MPRV_OFF
	CHECK_EQ(6, s10, CAUSE_LOAD_PAGE)
	bne s9, s3, .Lfail7
	CHECK_EQ(8, a1, 0)

	/* ... and a store page fault at the first store, nothing written */
	addi a0, s3, 128
	li a1, 0x77
	EXPECT(.Lpf_store)
	MPRV_ON MODE_S, 0
	call store2
	MPRV_OFF
	FAIL(9)
.Lpf_store:
	MPRV_OFF
	CHECK_EQ(10, s10, CAUSE_STORE_PAGE)
	addi t0, s3, 128
	bne s9, t0, .Lfail11
	lwu t1, 128(s2)
	CHECK_EQ(12, t1, 0)

	/* U: a user page, readable and writable again */
	li s0, 20
.Luser:
	addi a0, s3, 256
	li a1, 0x5a5a
	MPRV_ON MODE_U, 0
	call store2
	MPRV_OFF
	mv a0, s3
	MPRV_ON MODE_U, 0
	call load2
	MPRV_OFF
	li t0, 0xa1a2a3a4
	bne a1, t0, .Lfail13
	lwu t1, 256(s2)
	li t0, 0x5a5a
	bne t1, t0, .Lfail14
	addi s0, s0, -1
	bnez s0, .Luser

	/* bare: page_b itself */
	mv a0, s3
	call load2
	li t0, 0xb1b2b3b4
	bne a1, t0, .Lfail15
	PASS
.Lfail1:
	FAIL(1)
.Lfail2:
	FAIL(2)
.Lfail3:
	FAIL(3)
.Lfail4:
	FAIL(4)
.Lfail7:
	FAIL(7)
.Lfail11:
	FAIL(11)
.Lfail13:
	FAIL(13)
.Lfail14:
	FAIL(14)
.Lfail15:
	FAIL(15)

/* a1 = the word at a0, a2 = the byte at a0 + 4 (one block: two loads) */
load2:
	lwu a1, 0(a0)
	lbu a2, 4(a0)
	ret

/* the word a1 at a0 and its low byte at a0 + 5 (one block: two stores) */
store2:
	sw a1, 0(a0)
	sb a1, 5(a0)
	ret

	TRAP_HANDLERS

	PAGES root, 1
	PAGES l1, 1
	PAGES l0, 1
	PAGES page_a, 1
	PAGES page_b, 1
