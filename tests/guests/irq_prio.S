/*
 * Interrupt priority (priv. 3.1.9): with MSI, MTI, SEI, SSI and STI all pending and
 * enabled (none delegated), setting mstatus.MIE takes them in the order
 * MSI, MTI, SEI, SSI, STI (MEI, the highest, needs a PLIC and is not raised here);
 * first MSI and MTI alone.
 * SEIP, SSIP and STIP are raised by M writing mip (allowed without Sstc's STCE).
 * The handler clears each source, recording causes as hex digits in s4.
 */
#include "test.h"

#define S_BITS	((1 << IRQ_SEI) | (1 << IRQ_SSI) | (1 << IRQ_STI))

	TEST_START
	la t0, irq_handler
	csrw mtvec, t0
	li t0, MSTATUS_MIE
	csrc mstatus, t0
	csrw mideleg, zero
	li s4, 0

	/* MSI before MTI */
	li t0, 1
	li t1, CLINT_MSIP
	sw t0, 0(t1)
	li t1, CLINT_MTIMECMP
	sd zero, 0(t1)
	li t0, (1 << IRQ_MSI) | (1 << IRQ_MTI)
	csrw mie, t0
	csrr a2, mip
	and a2, a2, t0
	bne a2, t0, .Lfail4
	li t0, MSTATUS_MIE
	csrs mstatus, t0
	nop
	li t0, MSTATUS_MIE
	csrc mstatus, t0
	CHECK_EQ(5, s4, 0x37)

	/* all five (last: QEMU 7.2 without AIA takes the lowest-numbered first) */
	li s4, 0
	li t0, 1
	li t1, CLINT_MSIP
	sw t0, 0(t1)
	li t1, CLINT_MTIMECMP
	sd zero, 0(t1)
	li t0, S_BITS
	csrs mip, t0
	csrr a2, mip
	li t0, S_BITS | (1 << IRQ_MSI) | (1 << IRQ_MTI)
	and a2, a2, t0
	bne a2, t0, .Lfail1
	csrw mie, t0

	li t0, MSTATUS_MIE
	csrs mstatus, t0
	nop
	li t0, MSTATUS_MIE
	csrc mstatus, t0
	CHECK_EQ(2, s4, 0x37915)
	csrr a2, mip
	CHECK_BITS(3, a2, 0xaaa, 0)

	PASS
.Lfail1:
	FAIL(1)
.Lfail4:
	FAIL(4)

	.balign 4
irq_handler:
	csrr t6, mcause
	bgez t6, trap_m
	andi t6, t6, 0xf
	slli s4, s4, 4
	or s4, s4, t6
	li t5, IRQ_MSI
	bne t6, t5, 1f
	li t5, CLINT_MSIP
	sw zero, 0(t5)
	mret
1:	li t5, IRQ_MTI
	bne t6, t5, 2f
	li t5, CLINT_MTIMECMP
	li t4, -1
	sd t4, 0(t5)
	mret
2:	li t5, 1		/* an S interrupt: clear its mip bit */
	sll t5, t5, t6
	csrc mip, t5
	mret

	TRAP_HANDLERS
