/*
 * Finishes through the HTIF tohost convention (spike, riscv-tests): writes 1 to tohost: status 0.
 * QEMU's virt board has no HTIF, so after a delay the program prints "no HTIF" and ends
 * through the finisher with the same status; under lodge the suite requires empty stdout,
 * which shows the tohost write itself ended the run.
 */
#include "guest.h"

	.section .text.init, "ax"
	.globl _start
_start:
	la a0, tohost
	li a1, 1
	sd a1, 0(a0)
	li a2, 1000000
1:	addi a2, a2, -1
	bnez a2, 1b
	la a0, msg
	li a1, UART0
2:	lbu a2, 0(a0)
	beqz a2, 3f
	sb a2, 0(a1)
	addi a0, a0, 1
	j 2b
3:	PASS

	.section .tohost, "aw", @progbits
	.balign 8
	.globl tohost
tohost:	.dword 0
	.globl fromhost
fromhost: .dword 0

	.section .rodata
msg:	.asciz "no HTIF\n"
