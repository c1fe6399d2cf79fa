/*
 * Access faults at physical addresses with nothing behind them: 0x0, the end of the
 * default 128 MiB of RAM (0x88000000) and 0x200000000. Loads and LR raise 5, stores and
 * AMOs 7, instruction fetches (a jump there) 1, with mepc = the faulting instruction (for
 * a fetch: the target) and mtval = the address (0x0 is checked for the cause only, since
 * 0 is also what a hart writes when it reports no address). Also a misaligned load that
 * straddles the end of RAM, fetches from MMIO (CLINT, UART), and the same faults from
 * S-mode. 0x40000000 is not used: QEMU's virt board has its PCIe window there.
 */
#include "test.h"

/* ids id..id+2 */
.macro FAULT_LOAD id, addr, tval
	li a0, \addr
	EXPECT(.Lres\@)
.Linsn\@:
	ld a2, 0(a0)
	FAIL(\id)
.Lres\@:
	CHECK_EQ(\id + 1, s10, CAUSE_LOAD_ACCESS)
	.if \tval
	beq s9, a0, .Ltval\@
	FAIL(\id + 2)
.Ltval\@:
	.endif
	la a5, .Linsn\@
	bne s8, a5, .Lbad_epc
.endm

.macro FAULT_STORE id, addr, tval
	li a0, \addr
	EXPECT(.Lres\@)
.Linsn\@:
	sw a2, 0(a0)
	FAIL(\id)
.Lres\@:
	CHECK_EQ(\id + 1, s10, CAUSE_STORE_ACCESS)
	.if \tval
	beq s9, a0, .Ltval\@
	FAIL(\id + 2)
.Ltval\@:
	.endif
	la a5, .Linsn\@
	bne s8, a5, .Lbad_epc
.endm

.macro FAULT_FETCH id, addr, tval
	li a0, \addr
	EXPECT(.Lres\@)
	jalr ra, 0(a0)
	FAIL(\id)
.Lres\@:
	CHECK_EQ(\id + 1, s10, CAUSE_FETCH_ACCESS)
	.if \tval
	beq s9, a0, .Ltval\@
	FAIL(\id + 2)
.Ltval\@:
	.endif
	bne s8, a0, .Lbad_epc
.endm

	TEST_START
	PMP_ALLOW_ALL

	FAULT_LOAD 1, 0x0, 0
	FAULT_LOAD 4, 0x88000000, 1
	FAULT_LOAD 7, 0x200000000, 1
	FAULT_STORE 10, 0x0, 0
	FAULT_STORE 13, 0x88000000, 1
	FAULT_STORE 16, 0x200000000, 1
	FAULT_FETCH 19, 0x0, 0
	FAULT_FETCH 22, 0x88000000, 1
	FAULT_FETCH 25, 0x200000000, 1
	FAULT_FETCH 48, CLINT_MSIP, 1		/* MMIO is not executable */

	/* LR: load access fault */
	EXPECT(.Llr)
	lr.d a2, (a0)
	FAIL(30)
.Llr:
	CHECK_EQ(31, s10, CAUSE_LOAD_ACCESS)

	/* a misaligned ld straddling the end of RAM faults (mtval: the address or the
	 * first byte outside RAM) */
	li a0, 0x87fffffc
	EXPECT(.Lstraddle)
	ld a2, 0(a0)
	FAIL(32)
.Lstraddle:
	CHECK_EQ(33, s10, CAUSE_LOAD_ACCESS)

	/* from S-mode */
	MRET_TO MODE_S, .Ls
.Ls:
	FAULT_LOAD 34, 0x88000000, 1
	FAULT_STORE 37, 0x200000000, 1
	FAULT_FETCH 40, 0x88000000, 1
	TO_M
	CHECK_EQ(43, s10, CAUSE_ECALL_S)

	/* AMO: store/AMO access fault (last: QEMU 7.2 reports a load access fault) */
	li a0, 0x88000000
	EXPECT(.Lamo)
	amoadd.w a2, a2, (a0)
	FAIL(28)
.Lamo:
	CHECK_EQ(29, s10, CAUSE_STORE_ACCESS)
	/* fetching from the UART: Lodge faults; QEMU executes its registers as code */
	FAULT_FETCH 45, UART0, 1

	PASS
.Lbad_epc:
	FAIL(44)

	TRAP_HANDLERS
