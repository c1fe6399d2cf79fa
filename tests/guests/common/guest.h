/*
 * Assembler helpers for bare-metal test programs, shared by every tests/guests/*.S.
 * A test runs in M-mode from _start (0x80000000). It ends with PASS (finisher 0x5555) or
 * FAIL n (finisher 0x3333 | n << 16, so lodge and QEMU both exit with status n).
 * Works the same under `lodge run --bare` and `qemu-system-riscv64 -M virt -bios none`.
 */
#ifndef LODGE_GUEST_H
#define LODGE_GUEST_H

#define FINISHER 0x100000
#define UART0	 0x10000000

/* End the test: pass. */
#define PASS                        \
	li t6, FINISHER;            \
	li t5, 0x5555;              \
	sw t5, 0(t6);               \
1:	j 1b

/* End the test: fail with exit code `n` (1..0xffff). */
#define FAIL(n)                     \
	li t6, FINISHER;            \
	li t5, ((n) << 16) | 0x3333; \
	sw t5, 0(t6);               \
1:	j 1b

/* Fail with code n unless reg == val (val may be any 64-bit constant). Clobbers t4. */
#define CHECK_EQ(n, reg, val)       \
	li t4, val;                 \
	beq reg, t4, 2f;            \
	FAIL(n);                    \
2:

/* Print one character (in a register) on the UART. Clobbers t6. */
#define PUTC(reg)                   \
	li t6, UART0;               \
	sb reg, 0(t6)

#endif
