/*
 * Start-up code for the CPU benchmark programs (the C files in bench/guest).
 * Runs on hart 0 in M-mode on a QEMU-virt-like machine: sets up the
 * stack, opens PMP for S/U-mode, enables the FPU, zeroes .bss, calls
 * main() and reports its return value through the test finisher.
 * Any unexpected trap prints mcause/mepc/mtval and fails with code 99.
 */
	.section .text.init, "ax"
	.globl _start
_start:
	/* Only hart 0 runs; the others (if any) wait forever. */
	csrr	t0, mhartid
	bnez	t0, park

	la	sp, __stack_top

	/*
	 * Let S-mode reach all of memory (privileged spec 3.7). If the
	 * machine has no PMP, the CSR write traps and we land on 1f.
	 */
	la	t0, 1f
	csrw	mtvec, t0
	li	t0, -1
	csrw	pmpaddr0, t0
	li	t0, 0x1f		/* NAPOT, R|W|X */
	csrw	pmpcfg0, t0
	.balign 4
1:
	la	t0, bench_trap
	csrw	mtvec, t0

	/* mstatus.FS = Initial so F/D instructions are legal. */
	li	t0, (1 << 13)
	csrs	mstatus, t0
	csrwi	fcsr, 0

	la	t0, __bss_start
	la	t1, __bss_end
2:	bgeu	t0, t1, 3f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	2b
3:
	call	main
	call	bench_exit
park:
	wfi
	j	park

	/* Unexpected trap: the C handler reports and exits. */
	.balign 4
	.globl bench_trap
bench_trap:
	la	sp, __stack_top
	csrr	a0, mcause
	csrr	a1, mepc
	csrr	a2, mtval
	call	bench_trap_report
	j	park
