/*
 * Harness for the differential tests: sets every register from the generated program's
 * diff_init table, runs the generated body (diff_body), then prints x1..x31, f0..f31, fcsr
 * and the 512-byte scratch buffer as 16-digit hex lines between DIFF-BEGIN and DIFF-END.
 * Built twice from this one file: for Linux user mode (qemu-riscv64; write(2), exit_group)
 * and with -DDIFF_BARE for lodge (M-mode; FPU on through mstatus.FS, UART, finisher).
 * Both link with link.ld; the entry stub has a fixed size so the body lands at the same
 * address in both builds. Register x8 holds the buffer base and x2 = x8 + 256 for the
 * whole body (gen.py never writes them). Layout from x8: buffer 0..511, read-only
 * constant pool 512..1023, register dump 1024..1535, then the snapshot log.
 * After each top-level unit the body calls diff_snap, which appends a hash of all
 * registers, fcsr and memory to the log (printed after the buffer), so a difference that
 * a later instruction overwrites still shows, and pins down the unit where it began.
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
	li t0, 0x6000		/* mstatus.FS = dirty: the FPU is off after reset */
	csrs mstatus, t0
#endif
	/* Pad so the rest of the stub, and the body after it, sit at the same address in
	 * both builds. */
	j 1f
	.org 32
1:	lla x31, diff_init
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
/* Print a2 bytes from a1 on the UART, then pass through the finisher. */
output:
	li t0, UART0
	beqz a2, 2f
1:	lbu t1, 0(a1)
	sb t1, 0(t0)
	addi a1, a1, 1
	addi a2, a2, -1
	bnez a2, 1b
2:	li t0, FINISHER
	li t1, 0x5555
	sw t1, 0(t0)
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

	.bss
	.balign 8
diff_text:
	.zero 65536
