/*
 * Differential-test harness around a generated body (gen.py): loads every register from
 * diff_init, runs diff_body, prints x1..x31, f0..f31, fcsr, the 512-byte buffer and the
 * snapshot log as hex lines between DIFF-BEGIN and DIFF-END. Built for Linux user mode
 * (qemu-riscv64: write, exit_group) and with -DDIFF_BARE for lodge (M-mode setup, then the
 * body in M-mode or paged U/S-mode per diff_mode; UART, finisher; a trap prints DIFF-TRAP).
 * The entry stub has a fixed size, so the body has the same addresses in both (link.ld).
 * x8 = buffer, x2 = x8 + 256 throughout the body. From x8: buffer 0..511, constant pool
 * 512..1023, register dump 1024..1535, snapshot log after. diff_snap, called after every
 * top-level unit, logs a hash of all state: it shows the first unit whose result differs.
 */

#define DUMP_X	1024		/* x1..x31 at DUMP_X + (n - 1) * 8 */
#define DUMP_F	(1024 + 248)	/* f0..f31 */
#define DUMP_FCSR (1024 + 504)
#define SNAP_RA	1536		/* the body saves x1 here before calling diff_snap */
#define SNAP_N	1544		/* number of snapshots taken */
#define SNAP_LOG 1552		/* one hash per snapshot */
#define UART0	0x10000000
#define FINISHER 0x100000

	.option norelax

	.section .text.entry, "ax"
	.globl _start
_start:
	.option push
	.option norvc
#ifdef DIFF_BARE
	j bare_setup		/* returns to diff_regs, maybe in U- or S-mode */
#endif
	/* Pad so the rest of the stub, and the body after it, sit at the same address in
	 * both builds. */
	j diff_regs
	.org 32
diff_regs:
	lla x31, diff_init
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	fld f\n, (248 + \n * 8)(x31)
	.endr
	fscsr x0
	lla x8, diff_buf
	addi x2, x8, 256
	.irp n, 1,3,4,5,6,7,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	ld x\n, ((\n - 1) * 8)(x31)
	.endr
	j diff_body
	.option pop

	.text
	.globl diff_after_body
diff_after_body:
	.irp n, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	sd x\n, (DUMP_X + (\n - 1) * 8)(x8)
	.endr
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	fsd f\n, (DUMP_F + \n * 8)(x8)
	.endr
	frcsr t0
	sd t0, DUMP_FCSR(x8)

	lla a0, diff_text
	lla a3, begin_msg
	jal copy_str
	addi a1, x8, DUMP_X	/* 64 dwords: registers and fcsr */
	li a2, 64
	jal hex_lines
	mv a1, x8		/* 64 dwords: the scratch buffer */
	li a2, 64
	jal hex_lines
	addi a1, x8, SNAP_LOG	/* the snapshot hashes */
	ld a2, SNAP_N(x8)
	beqz a2, 1f
	jal hex_lines
1:
	lla a3, end_msg
	jal copy_str
	lla a1, diff_text
	sub a2, a0, a1
	j output

/*
 * Snapshot: hash x1..x31 (x1 as saved at SNAP_RA), f0..f31, fcsr and the buffer, append
 * the hash to the log. Called with jal x1; changes no register but x1 and no FP state.
 */
	.globl diff_snap
diff_snap:
	.irp n, 2,3,4,5,6,7,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	sd x\n, (DUMP_X + (\n - 1) * 8)(x8)
	.endr
	ld t0, SNAP_RA(x8)
	sd t0, DUMP_X(x8)
	sd x8, (DUMP_X + 7 * 8)(x8)
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	fsd f\n, (DUMP_F + \n * 8)(x8)
	.endr
	frcsr t0
	sd t0, DUMP_FCSR(x8)
	li t0, 0
	li t1, 0x9e3779b97f4a7c15
	mv a0, x8
	li a2, 192		/* buffer, pool and dump */
1:	ld t2, 0(a0)
	xor t0, t0, t2
	mul t0, t0, t1
	srli t3, t0, 29
	xor t0, t0, t3
	addi a0, a0, 8
	addi a2, a2, -1
	bnez a2, 1b
	ld t2, SNAP_N(x8)
	slli t3, t2, 3
	add t3, t3, x8
	sd t0, SNAP_LOG(t3)
	addi t2, t2, 1
	sd t2, SNAP_N(x8)
	.irp n, 3,4,5,6,7,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	ld x\n, (DUMP_X + (\n - 1) * 8)(x8)
	.endr
	ret

/* Copy the NUL-terminated string at a3 to a0; a0 = end. */
copy_str:
	lbu t0, 0(a3)
	beqz t0, 1f
	sb t0, 0(a0)
	addi a0, a0, 1
	addi a3, a3, 1
	j copy_str
1:	ret

/* Write a2 dwords from a1 to a0 as "%016x\n" lines; a0 = end. */
hex_lines:
	ld t0, 0(a1)
	li t1, 60
1:	srl t2, t0, t1
	andi t2, t2, 15
	addi t3, t2, '0'
	li t4, 10
	blt t2, t4, 2f
	addi t3, t2, 'a' - 10
2:	sb t3, 0(a0)
	addi a0, a0, 1
	addi t1, t1, -4
	bgez t1, 1b
	li t3, '\n'
	sb t3, 0(a0)
	addi a0, a0, 1
	addi a1, a1, 8
	addi a2, a2, -1
	bnez a2, hex_lines
	ret

#ifdef DIFF_BARE
/*
 * M-mode setup: FPU on, a trap handler, and for diff_mode 1..3 an identity-mapped page
 * table (4 KiB pages for the first 2 MiB of RAM, a gigapage for the devices, A and D
 * preset) in which the body runs in U-mode (Sv39), S-mode (Sv39) or U-mode (Sv48).
 */
#define PTE_V	0x01
#define PTE_RWX	0x0e
#define PTE_U	0x10
#define PTE_AD	0xc0
bare_setup:
	li t0, 0x6000		/* mstatus.FS = dirty: the FPU is off after reset */
	csrs mstatus, t0
	lla t0, trap
	csrw mtvec, t0
	lla t0, diff_mode
	ld s0, 0(t0)
	beqz s0, diff_regs
	li t0, -1		/* PMP entry 0: all of memory, RWX (QEMU refuses an mret to U */
	csrw pmpaddr0, t0	/* or S with no PMP rule at all) */
	li t0, 0x1f
	csrw pmpcfg0, t0
	li s1, PTE_V | PTE_RWX | PTE_AD
	li t0, 2
	beq s0, t0, 1f
	ori s1, s1, PTE_U	/* leaf flags in s1 */
1:	lla t0, pt_l0		/* L0: 512 pages from 0x80000000 */
	li t1, 0x80000000 >> 2	/* pte = (pa >> 12) << 10 | flags */
	li t2, 512
2:	or t3, t1, s1
	sd t3, 0(t0)
	addi t0, t0, 8
	li t3, 0x1000 >> 2
	add t1, t1, t3
	addi t2, t2, -1
	bnez t2, 2b
	lla t0, pt_l1		/* L1[0] -> L0 */
	lla t1, pt_l0
	srli t1, t1, 2
	ori t1, t1, PTE_V
	sd t1, 0(t0)
	lla t0, pt_l2		/* L2[0]: gigapage for the devices; L2[2] -> L1 */
	sd s1, 0(t0)
	lla t1, pt_l1
	srli t1, t1, 2
	ori t1, t1, PTE_V
	sd t1, 16(t0)
	lla t2, pt_l2
	srli t2, t2, 12
	li t1, 8		/* satp.MODE = Sv39 */
	li t0, 3
	bne s0, t0, 3f
	lla t0, pt_l3		/* Sv48: L3[0] -> L2 */
	lla t1, pt_l2
	srli t1, t1, 2
	ori t1, t1, PTE_V
	sd t1, 0(t0)
	lla t2, pt_l3
	srli t2, t2, 12
	li t1, 9		/* satp.MODE = Sv48 */
3:	slli t1, t1, 60
	or t1, t1, t2
	csrw satp, t1
	sfence.vma
	li t0, 0x1800		/* mstatus.MPP = U, or S for mode 2 */
	csrc mstatus, t0
	li t0, 2
	bne s0, t0, 4f
	li t0, 0x0800
	csrs mstatus, t0
4:	lla t0, diff_regs
	csrw mepc, t0
	mret

/* Any trap is a failure: print DIFF-TRAP, mcause, mepc, mtval and fail with code 1. */
	.balign 4
trap:
	lla t0, trap_regs
	csrr t1, mcause
	sd t1, 0(t0)
	csrr t1, mepc
	sd t1, 8(t0)
	csrr t1, mtval
	sd t1, 16(t0)
	lla a0, diff_text
	lla a3, trap_msg
	jal copy_str
	lla a1, trap_regs
	li a2, 3
	jal hex_lines
	lla a1, diff_text
	sub a2, a0, a1
	li a4, 0x13333
	j write_out

/* Print a2 bytes from a1 on the UART, then pass through the finisher. */
output:
	li a4, 0x5555
write_out:
	li t0, UART0
	beqz a2, 2f
1:	lbu t1, 0(a1)
	sb t1, 0(t0)
	addi a1, a1, 1
	addi a2, a2, -1
	bnez a2, 1b
2:	li t0, FINISHER
	sw a4, 0(t0)
3:	j 3b
#else
/* write(1, a1, a2) until done, then exit_group(0). */
output:
	beqz a2, 2f
	li a0, 1
	li a7, 64
	ecall
	blez a0, 3f
	add a1, a1, a0
	sub a2, a2, a0
	j output
2:	li a0, 0
	li a7, 94
	ecall
3:	li a0, 1
	li a7, 94
	ecall
#endif

	.section .rodata
begin_msg:
	.asciz "DIFF-BEGIN\n"
end_msg:
	.asciz "DIFF-END\n"

#ifdef DIFF_BARE
trap_msg:
	.asciz "DIFF-TRAP mcause mepc mtval\n"
#endif

	.bss
	.balign 8
diff_text:
	.zero 65536
#ifdef DIFF_BARE
trap_regs:
	.zero 24
	.balign 4096
pt_l0:	.zero 4096
pt_l1:	.zero 4096
pt_l2:	.zero 4096
pt_l3:	.zero 4096
#endif
