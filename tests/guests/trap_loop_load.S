/*
 * Never finishes, and retires nothing in its loop: the trap handler's first instruction
 * is a load from a hole in the address space, whose access fault traps to that handler
 * again. `lodge run --bare --timeout N` must stop it with status 124 (see trap_loop.S).
 */
	.section .text.init, "ax"
	.globl _start
_start:
	la t0, handler
	csrw mtvec, t0
	li t1, 0x20000000 /* nothing there on Lodge's board */
	ld t2, 0(t1)
	j _start
	.align 2
handler:
	ld t2, 0(t1)
	mret
