/*
 * Writes 'x' to the UART forever: for `lodge run --bare spam.elf | head -c 5`, whose
 * reader goes away while the program still writes.
 */
	.section .text.init, "ax"
	.globl _start
_start:
	li	a0, 0x10000000		/* UART THR */
	li	a1, 'x'
1:	sb	a1, 0(a0)
	j	1b
