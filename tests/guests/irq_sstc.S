/*
 * Sstc (stimecmp, CSR 0x14d): with menvcfg.STCE = 1 and mcounteren.TM = 1, S-mode
 * writes stimecmp; mip.STIP follows time >= stimecmp (M can no longer write it); the
 * delegated STI is taken by S when time passes stimecmp, and writing a future value
 * clears it. With STCE = 0 or TM = 0, S-mode stimecmp accesses are illegal.
 */
#include "test.h"

#define STI_BIT		(1 << IRQ_STI)
#define MENVCFG_STCE	(1 << 63)

	TEST_START
	PMP_ALLOW_ALL
	la t0, s_irq
	csrw stvec, t0
	li t0, MSTATUS_MIE | MSTATUS_SIE | MSTATUS_SPIE
	csrc mstatus, t0
	li s5, 0
	li t0, STI_BIT
	csrw mideleg, t0
	csrw mie, t0

	/* gates: STCE = 0 */
	li t0, 2
	csrw mcounteren, t0
	csrw menvcfg, zero
	MRET_TO MODE_S, .Ls0
.Ls0:
	EXPECT(.Ls0_back)
	csrr a2, stimecmp
	FAIL(1)
.Ls0_back:
	CHECK_EQ(2, s10, CAUSE_ILLEGAL)
	TO_M
	/* TM = 0 */
	li t0, MENVCFG_STCE
	csrw menvcfg, t0
	csrr a2, menvcfg
	bgez a2, .Lfail3
	csrw mcounteren, zero
	MRET_TO MODE_S, .Ls1
.Ls1:
	EXPECT(.Ls1_back)
	csrw stimecmp, zero
	FAIL(4)
.Ls1_back:
	CHECK_EQ(5, s10, CAUSE_ILLEGAL)
	TO_M

	li t0, 2
	csrw mcounteren, t0
	li t0, -1
	csrw stimecmp, t0
	/* M cannot raise STIP by hand now */
	li t0, STI_BIT
	csrs mip, t0
	csrr a2, mip
	CHECK_BITS(6, a2, STI_BIT, 0)

	MRET_TO MODE_S, .Ls2
.Ls2:
	/* a past value: STIP at once (SIE = 0, so not taken yet) */
	csrw stimecmp, zero
	csrr a2, sip
	CHECK_BITS(7, a2, STI_BIT, STI_BIT)
	li t0, -1
	csrw stimecmp, t0
	csrr a2, sip
	CHECK_BITS(8, a2, STI_BIT, 0)

	/* 1000 ticks ahead, wait for the interrupt */
	rdtime a0
	addi a0, a0, 1000
	csrw stimecmp, a0
	li t0, MSTATUS_SIE
	csrs sstatus, t0
	li a1, 100000000
.Lwait:
	bnez s5, .Lgot
	addi a1, a1, -1
	bnez a1, .Lwait
	FAIL(9)
.Lgot:
	li t0, MSTATUS_SIE
	csrc sstatus, t0
	li t0, IRQ_CAUSE | IRQ_STI
	bne s10, t0, .Lfail10
	rdtime a3
	bltu a3, a0, .Lfail11
	csrr a2, sip
	CHECK_BITS(12, a2, STI_BIT, 0)
	TO_M

	PASS
.Lfail3:
	FAIL(3)
.Lfail10:
	FAIL(10)
.Lfail11:
	FAIL(11)

	.balign 4
s_irq:
	csrr t6, scause
	bgez t6, trap_s
	csrr s10, scause
	addi s5, s5, 1
	li t6, -1
	csrw stimecmp, t6
	sret

	TRAP_HANDLERS
