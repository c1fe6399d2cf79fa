/*
 * Kernel code run both with and without mstatus.SUM, as Linux's trap entry and uaccess
 * helpers are. A translated block with two accesses or more reads the TLB of the regime
 * it was translated in at a fixed offset, behind a guard at entry (cpu/jit/x86_64.c,
 * regime_fixed); S-mode blocks are keyed by SUM too (cpu/block.h, KEY_S_SUM), so each
 * state gets its own translation. The "jit:" row in expect makes the translated run
 * (--stats) fail if an entry in either state goes to the interpreter at the guard (one
 * translation for both would hand every entry in the other state over at its first load).
 * The values check each state's accesses: with SUM, a user page; without, a kernel page,
 * and the user page must then fault (a translation that read the SUM regime's TLB there
 * would hit its entry and not fault).
 */
#include "vm.h"

#define RW_AD (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)

	TEST_START
	PMP_ALLOW_ALL
	la s2, page_u
	la s3, page_k
	li t0, 3
	sd t0, 0(s2)
	li t0, 4
	sd t0, 8(s2)
	li t0, 30
	sd t0, 0(s3)
	li t0, 40
	sd t0, 8(s3)
	VM_SV39_IDENTITY root, l1, l0
	IDMAP_FLAGS l0, page_u, (RW_AD | PTE_U)
	SATP_ON SATP_SV39, root
	li t0, MSTATUS_SUM | MSTATUS_MXR
	csrc mstatus, t0
	MRET_TO MODE_S, .Ls
.Ls:
	li s5, 300
.Lloop:
	li t0, MSTATUS_SUM
	csrs sstatus, t0
	mv a0, s2
	call sum2
	li t0, 7
	bne a0, t0, .Lfail1
	ld t1, 16(s2)
	bne t1, t0, .Lfail2
	li t0, MSTATUS_SUM
	csrc sstatus, t0
	mv a0, s3
	call sum2
	li t0, 70
	bne a0, t0, .Lfail3
	ld t1, 16(s3)
	bne t1, t0, .Lfail4
	addi s5, s5, -1
	bnez s5, .Lloop

	/* without SUM the user page faults at the first load */
	mv a0, s2
	EXPECT(.Lpf)
	call sum2
	FAIL(6)
.Lpf:
	CHECK_EQ(7, s10, CAUSE_LOAD_PAGE)
	bne s9, s2, .Lfail8
	/* and with SUM again it works */
	li t0, MSTATUS_SUM
	csrs sstatus, t0
	mv a0, s2
	call sum2
	li t0, 7
	bne a0, t0, .Lfail9
	TO_M
	PASS
.Lfail1:
	FAIL(1)
.Lfail2:
	FAIL(2)
.Lfail3:
	FAIL(3)
.Lfail4:
	FAIL(4)
.Lfail8:
	FAIL(8)
.Lfail9:
	FAIL(9)

/* a0 = the sum of the doublewords at a0 and a0 + 8, also stored at a0 + 16 (one block:
 * three accesses) */
sum2:
	ld t0, 0(a0)
	ld t1, 8(a0)
	add t0, t0, t1
	sd t0, 16(a0)
	mv a0, t0
	ret

	TRAP_HANDLERS

	PAGES root, 1
	PAGES l1, 1
	PAGES l0, 1
	PAGES page_u, 1
	PAGES page_k, 1
