/*
 * Runs until stopped, printing "spin: ready\n" first: for the terminal and signal tests,
 * which act once the line is out (the console is set up by then).
 */
	.section .text.init, "ax"
	.globl _start
_start:
	li	a0, 0x10000000		/* UART */
	la	a1, msg
1:	lbu	a2, 0(a1)
	beqz	a2, 2f
	sb	a2, 0(a0)
	addi	a1, a1, 1
	j	1b
2:	j	2b

	.section .rodata
msg:	.asciz "spin: ready\n"
