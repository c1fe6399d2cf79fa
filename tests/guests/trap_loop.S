/*
 * Never finishes, and retires nothing once it starts: mtvec is a hole in the address
 * space, so every trap is an instruction access fault at the handler, which traps to the
 * same handler. `lodge run --bare --timeout N` must still stop it with status 124 (polls
 * came only by retired instructions, and this loop retires none: the timeout never
 * fired). The second half of the loop (trap_loop_load.S) faults on a load instead.
 */
	.section .text.init, "ax"
	.globl _start
_start:
	li t0, 0x20000000 /* nothing there on Lodge's board */
	csrw mtvec, t0
	jr t0
