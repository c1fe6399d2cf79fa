/*
 * Start-up code for the C test programs: stack at _stack_top, FP unit on (mstatus.FS =
 * Initial, so compiled code may touch FP registers), M-mode trap vector that saves every
 * register into a struct rt_frame and calls rt_trap() (runtime.c), then main(); main's
 * return value becomes the exit status (rt_exit). .bss needs no clearing: the loader
 * zero-fills it (ELF p_memsz > p_filesz), which these programs thereby also test.
 */
#include "guest.h"

#define FRAME_SIZE	288	/* struct rt_frame: x[32], mepc, mcause, mtval; 16-aligned */

	.section .text.init, "ax"
	.globl _start
_start:
	la sp, _stack_top
	li t0, 0x2000
	csrs mstatus, t0
	la t0, rt_trap_entry
	csrw mtvec, t0
	call main
	call rt_exit

	.text
	.balign 4
	.globl rt_trap_entry
rt_trap_entry:
	addi sp, sp, -FRAME_SIZE
	.irp r, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	sd x\r, (\r * 8)(sp)
	.endr
	addi t0, sp, FRAME_SIZE
	sd t0, 16(sp)
	csrr t0, mepc
	sd t0, 256(sp)
	csrr t0, mcause
	sd t0, 264(sp)
	csrr t0, mtval
	sd t0, 272(sp)
	mv a0, sp
	call rt_trap
	ld t0, 256(sp)
	csrw mepc, t0
	.irp r, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	ld x\r, (\r * 8)(sp)
	.endr
	addi sp, sp, FRAME_SIZE
	mret
