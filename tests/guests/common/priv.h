/*
 * Privileged-mode helpers for the assembler tests (tests/guests/NAME.S): CSR bits, trap
 * causes, device addresses, a generic M/S trap handler pair and mode-switch macros.
 * RISC-V Privileged Architecture 1.12 (mstatus 3.1.6, mcause 3.1.15, Sv39/48 4.3-4.5).
 *
 * Register roles in a program that uses TEST_START / TRAP_HANDLERS:
 *   s11  resume address for the next expected trap; 0 means any trap is unexpected
 *   s10  cause, s9 tval, s8 epc of the last trap taken
 *   s7   mode the last trap was taken into: 3 = M (trap_m), 1 = S (trap_s)
 *   s6   mstatus/sstatus at trap entry, when mtvec/stvec point at trap_m_status/trap_s_status
 *   t4-t6 are clobbered by CHECK_EQ/FAIL (guest.h); tests keep values in a*, t0-t3, s0-s5.
 * An armed trap (EXPECT) resumes at s11 in the mode that trapped (xRET), except an ecall
 * taken into M, which continues at s11 in M-mode: that is how S/U code returns to M (TO_M).
 * EXPECT_M arms a trap into M that continues in M whatever the cause.
 * An unexpected trap ends the test with FAIL(200 + cause) if taken into M,
 * FAIL(220 + cause) for an M interrupt, FAIL(240 + cause) if taken into S.
 */
#ifndef LODGE_GUEST_PRIV_H
#define LODGE_GUEST_PRIV_H

#include "guest.h"

#define CLINT_MSIP	0x02000000
#define CLINT_MTIMECMP	0x02004000
#define CLINT_MTIME	0x0200bff8

#define MSTATUS_SIE	0x2
#define MSTATUS_MIE	0x8
#define MSTATUS_SPIE	0x20
#define MSTATUS_MPIE	0x80
#define MSTATUS_SPP	0x100
#define MSTATUS_MPP	0x1800
#define MSTATUS_MPP_S	0x0800
#define MSTATUS_FS	0x6000
#define MSTATUS_MPRV	0x20000
#define MSTATUS_SUM	0x40000
#define MSTATUS_MXR	0x80000
#define MSTATUS_TVM	0x100000
#define MSTATUS_TW	0x200000
#define MSTATUS_TSR	0x400000

#define MODE_U 0
#define MODE_S 1
#define MODE_M 3

/* Exception causes (mcause/scause with the interrupt bit clear). */
#define CAUSE_FETCH_MISALIGNED	0
#define CAUSE_FETCH_ACCESS	1
#define CAUSE_ILLEGAL		2
#define CAUSE_BREAKPOINT	3
#define CAUSE_LOAD_MISALIGNED	4
#define CAUSE_LOAD_ACCESS	5
#define CAUSE_STORE_MISALIGNED	6
#define CAUSE_STORE_ACCESS	7
#define CAUSE_ECALL_U		8
#define CAUSE_ECALL_S		9
#define CAUSE_ECALL_M		11
#define CAUSE_FETCH_PAGE	12
#define CAUSE_LOAD_PAGE		13
#define CAUSE_STORE_PAGE	15

/* Interrupt numbers (bit in mip/mie; mcause = IRQ_CAUSE | n). */
#define IRQ_SSI		1
#define IRQ_MSI		3
#define IRQ_STI		5
#define IRQ_MTI		7
#define IRQ_SEI		9
#define IRQ_MEI		11
#define IRQ_CAUSE	0x8000000000000000

/* Sv39/Sv48 PTE bits. */
#define PTE_V	0x01
#define PTE_R	0x02
#define PTE_W	0x04
#define PTE_X	0x08
#define PTE_U	0x10
#define PTE_G	0x20
#define PTE_A	0x40
#define PTE_D	0x80
#define PTE_RWX	 (PTE_R | PTE_W | PTE_X)
#define PTE_LEAF (PTE_V | PTE_RWX | PTE_A | PTE_D)

#define SATP_SV39	(8 << 60)
#define SATP_SV48	(9 << 60)

/* Arm the trap handlers: the next trap resumes at `label`. Poisons the record registers. */
#define EXPECT(label)	\
	la s11, label;	\
	li s10, -1;	\
	li s9, -1;	\
	li s8, -1;	\
	li s7, -1

/*
 * reg = the 32-bit instruction at address areg (only 2-byte aligned with C), read as two
 * halfwords so no misaligned load is needed. reg may be areg. Clobbers tmp.
 */
.macro LOAD_INSN32 reg, areg, tmp
	lhu \tmp, 2(\areg)
	lhu \reg, 0(\areg)
	slli \tmp, \tmp, 16
	or \reg, \reg, \tmp
.endm

/* Fail with code n unless (reg & mask) == val. Clobbers t4, t5. */
#define CHECK_BITS(n, reg, mask, val)	\
	li t4, mask;			\
	and t4, reg, t4;		\
	li t5, val;			\
	beq t4, t5, 2f;			\
	FAIL(n);			\
2:

/* Fail with the low 8 bits of a register as the status (a debugging aid). */
#define FAIL_REG(reg)			\
	andi t5, reg, 0xff;		\
	slli t5, t5, 16;		\
	li t6, 0x3333;			\
	or t5, t5, t6;			\
	li t6, FINISHER;		\
	sw t5, 0(t6);			\
1:	j 1b

/* Like EXPECT, but a trap into M continues at `label` in M-mode (bit 0 of s11 flags it). */
#define EXPECT_M(label)	\
	EXPECT(label);	\
	ori s11, s11, 1

/* Program entry in M-mode: stack, both trap vectors, nothing armed. */
.macro TEST_START
	.section .text.init, "ax"
	.globl _start
_start:
	la sp, _stack_top
	la t0, trap_m
	csrw mtvec, t0
	la t0, trap_s
	csrw stvec, t0
	li s11, 0
.endm

/*
 * PMP: one NAPOT entry covering all of memory with RWX, so S/U-mode accesses are allowed
 * (with PMP implemented and no entry matching, S/U accesses fail; QEMU enforces that).
 */
.macro PMP_ALLOW_ALL
	li t0, -1
	csrw pmpaddr0, t0
	li t0, 0x1f
	csrw pmpcfg0, t0
.endm

/* Leave M-mode for `mode` (MODE_U/MODE_S/MODE_M) at `label` through mret. Clobbers t0. */
.macro MRET_TO mode, label
	li t0, MSTATUS_MPP
	csrc mstatus, t0
	li t0, (\mode << 11)
	csrs mstatus, t0
	la t0, \label
	csrw mepc, t0
	mret
.endm

/* Leave S-mode (or M) for U (spp=0) or S (spp=1) at `label` through sret. Clobbers t0. */
.macro SRET_TO spp, label
	li t0, MSTATUS_SPP
	.if \spp
	csrs sstatus, t0
	.else
	csrc sstatus, t0
	.endif
	la t0, \label
	csrw sepc, t0
	sret
.endm

/* From any mode, continue in M-mode right after this macro (ecall into trap_m). */
.macro TO_M
	EXPECT(.Lto_m\@)
	ecall
.Lto_m\@:
.endm

/* The generic handlers; place once in every program that uses TEST_START. */
.macro TRAP_HANDLERS
	.balign 4
trap_m_status:
	csrr s6, mstatus
	j trap_m
	.balign 4
trap_s_status:
	csrr s6, sstatus
	j trap_s
	.balign 4
trap_m:
	csrr s10, mcause
	csrr s9, mtval
	csrr s8, mepc
	li s7, 3
	beqz s11, .Ltrap_m_unexpected
	andi t6, s11, 1
	bnez t6, .Ltrap_m_stay
	li t6, CAUSE_ECALL_U
	beq s10, t6, .Ltrap_m_stay
	li t6, CAUSE_ECALL_S
	beq s10, t6, .Ltrap_m_stay
	li t6, CAUSE_ECALL_M
	beq s10, t6, .Ltrap_m_stay
	csrw mepc, s11
	li s11, 0
	mret
.Ltrap_m_stay:
	andi t6, s11, -2
	li s11, 0
	jr t6
.Ltrap_m_unexpected:
	andi t5, s10, 0x1f
	addi t5, t5, 200
	bgez s10, .Ltrap_fail
	addi t5, t5, 20
	j .Ltrap_fail

	.balign 4
trap_s:
	csrr s10, scause
	csrr s9, stval
	csrr s8, sepc
	li s7, 1
	beqz s11, .Ltrap_s_unexpected
	csrw sepc, s11
	li s11, 0
	sret
.Ltrap_s_unexpected:
	andi t5, s10, 0xf
	addi t5, t5, 240
.Ltrap_fail:
	slli t5, t5, 16
	li t6, 0x3333
	or t5, t5, t6
	li t6, FINISHER
	sw t5, 0(t6)
1:	j 1b
.endm

#endif
