/*
 * Start-up code of the multi-hart benchmark (bench/guest/smp.c): every hart runs it in
 * M-mode (Lodge's --bare starts all harts at the entry, as QEMU's -bios none does). Harts
 * 0-3 get 16 KiB of stack each below __stack_top and call smp_main(hartid); any other
 * hart waits forever. Hart 0 zeroes .bss in smp_main before the others go on.
 */
	.section .text.init, "ax"
	.globl _start
_start:
	csrr	a0, mhartid
	li	t0, 4
	bgeu	a0, t0, park
	la	sp, __stack_top
	slli	t1, a0, 14
	sub	sp, sp, t1
	la	t0, smp_trap
	csrw	mtvec, t0
	call	smp_main
park:
	wfi
	j	park

	/* Unexpected trap: the C handler reports and exits (on this hart's stack). */
	.balign 4
smp_trap:
	csrr	a0, mcause
	csrr	a1, mepc
	csrr	a2, mtval
	call	bench_trap_report
	j	park
