/*
 * Prints "hello\n" on the ns16550a UART by plain stores to the transmit register (no
 * LSR polling: a device model must accept back-to-back bytes) and passes. The suite
 * checks stdout.
 */
#include "guest.h"

	.section .text.init, "ax"
	.globl _start
_start:
	la a0, msg
	li a1, UART0
1:	lbu a2, 0(a0)
	beqz a2, 2f
	sb a2, 0(a1)
	addi a0, a0, 1
	j 1b
2:	PASS

	.section .rodata
msg:	.asciz "hello\n"
