/*
 * Translated loads in the bare regime at the edges (cpu/jit/x86_64.c, load_fast: a bounds
 * check against RAM instead of the TLB test). In M-mode, every width (signed, unsigned,
 * F, compressed) right up to RAM's last byte, misaligned inside RAM and across a page;
 * loads that straddle RAM's end or start, lie wholly outside it, or whose address has
 * RAM's low 32 bits above 4 GiB or sign-extended, take a load access fault and leave rd
 * as it was; MMIO (CLINT) reads reach the device. Then the regime changes without any
 * satp write or sfence in between: code translated in M-mode (a call and a block looping
 * onto itself) runs in S and U under Sv39, where page_b's address maps to page_a, and
 * must read page_a; back in M it reads page_b again. Likewise code translated in S with
 * satp Bare, after S turns Sv39 on, and code translated in M with MPRV = 1, MPP = M
 * after an mret to M has made MPP U (the loads then go through Sv39 as U). Ids: 1-99 edges, 100-149 regimes.
 */
#include "test.h"
#include "vm.h"

#define RAM_END 0x88000000 /* the default 128 MiB */
#define PAT_LO	0x0102030405060708 /* at RAM_END - 16 */
#define PAT_HI	0x8182838485868788 /* at RAM_END - 8 */
#define POISON	0x5a5a5a5a

/* `insn` loads from a0 = addr into a2 (or fa2, then moved to a2): a2 must be `want`. */
.macro LOAD_OK id, insn, addr, want
	li a0, \addr
	\insn
	CHECK_EQ(\id, a2, \want)
.endm

.macro FLOAD_OK id, insn, addr, want
	li a0, \addr
	\insn
	fmv.x.d a2, fa2
	CHECK_EQ(\id, a2, \want)
.endm

/* `insn` (address in a0 = addr) must take a load access fault at itself, mtval = addr or
 * `first` (the first byte outside RAM), and leave a2 (and fa2) holding POISON. */
.macro LOAD_AF id, insn, addr, first
	li a0, \addr
	li a2, POISON
	fmv.d.x fa2, a2
	EXPECT(.Lres\@)
.Linsn\@:
	\insn
	FAIL(\id)
.Lres\@:
	CHECK_EQ(\id, s10, CAUSE_LOAD_ACCESS)
	la a5, .Linsn\@
	bne s8, a5, .Lbad_epc
	beq s9, a0, .Ltval\@
	li a5, \first
	bne s9, a5, .Lbad_tval
.Ltval\@:
	CHECK_EQ(\id, a2, POISON)
	fmv.x.d a2, fa2
	CHECK_EQ(\id, a2, POISON)
.endm

	TEST_START
	PMP_ALLOW_ALL
	li t0, MSTATUS_FS
	csrs mstatus, t0
	li s0, RAM_END - 16
	li t0, PAT_LO
	sd t0, 0(s0)
	li t0, PAT_HI
	sd t0, 8(s0)

	/* loads that fit, up to the last byte */
	LOAD_OK 1, "lbu a2, 0(a0)", RAM_END - 1, 0x81
	LOAD_OK 2, "lb a2, 0(a0)", RAM_END - 1, 0xffffffffffffff81
	LOAD_OK 3, "lhu a2, 0(a0)", RAM_END - 2, 0x8182
	LOAD_OK 4, "lh a2, 0(a0)", RAM_END - 2, 0xffffffffffff8182
	LOAD_OK 5, "lwu a2, 0(a0)", RAM_END - 4, 0x81828384
	LOAD_OK 6, "lw a2, 0(a0)", RAM_END - 4, 0xffffffff81828384
	LOAD_OK 7, "ld a2, 0(a0)", RAM_END - 8, PAT_HI
	LOAD_OK 8, "ld a2, -8(a0)", RAM_END, PAT_HI	/* the offset makes it fit */
	LOAD_OK 9, "c.lw a2, 0(a0)", RAM_END - 4, 0xffffffff81828384
	LOAD_OK 10, "c.ld a2, 0(a0)", RAM_END - 8, PAT_HI
	FLOAD_OK 11, "flw fa2, 0(a0)", RAM_END - 4, 0xffffffff81828384
	FLOAD_OK 12, "fld fa2, 0(a0)", RAM_END - 8, PAT_HI
	FLOAD_OK 13, "c.fld fa2, 0(a0)", RAM_END - 8, PAT_HI
	/* misaligned, fitting */
	LOAD_OK 14, "lhu a2, 0(a0)", RAM_END - 3, 0x8283
	LOAD_OK 15, "lw a2, 0(a0)", RAM_END - 5, 0xffffffff82838485
	LOAD_OK 16, "ld a2, 0(a0)", RAM_END - 9, 0x8283848586878801
	LOAD_OK 17, "ld a2, 0(a0)", RAM_END - 15, 0x8801020304050607
	FLOAD_OK 18, "fld fa2, 0(a0)", RAM_END - 12, 0x8586878801020304
	FLOAD_OK 19, "flw fa2, 0(a0)", RAM_END - 6, 0xffffffff83848586

	/* straddling RAM's end, or past it */
	LOAD_AF 20, "lh a2, 0(a0)", RAM_END - 1, RAM_END
	LOAD_AF 21, "lhu a2, 0(a0)", RAM_END - 1, RAM_END
	LOAD_AF 22, "lw a2, 0(a0)", RAM_END - 3, RAM_END
	LOAD_AF 23, "lwu a2, 0(a0)", RAM_END - 1, RAM_END
	LOAD_AF 24, "ld a2, 0(a0)", RAM_END - 7, RAM_END
	LOAD_AF 25, "ld a2, 0(a0)", RAM_END - 1, RAM_END
	LOAD_AF 26, "ld a2, -4(a0)", RAM_END, RAM_END - 4
	LOAD_AF 27, "c.ld a2, 0(a0)", RAM_END - 4, RAM_END
	LOAD_AF 28, "c.lw a2, 0(a0)", RAM_END - 2, RAM_END
	LOAD_AF 29, "flw fa2, 0(a0)", RAM_END - 2, RAM_END
	LOAD_AF 30, "fld fa2, 0(a0)", RAM_END - 5, RAM_END
	LOAD_AF 31, "c.fld fa2, 0(a0)", RAM_END - 1, RAM_END
	LOAD_AF 32, "lb a2, 0(a0)", RAM_END, RAM_END
	LOAD_AF 33, "ld a2, 0(a0)", RAM_END + 0x1000, RAM_END + 0x1000
	LOAD_AF 34, "lbu x0, 0(a0)", RAM_END, RAM_END	/* rd = x0 still faults */
	/* straddling RAM's start from below, or just below it */
	LOAD_AF 35, "ld a2, 0(a0)", RAM_BASE - 4, RAM_BASE - 4
	LOAD_AF 36, "lw a2, 0(a0)", RAM_BASE - 1, RAM_BASE - 1
	LOAD_AF 37, "lb a2, 0(a0)", RAM_BASE - 1, RAM_BASE - 1
	LOAD_AF 38, "fld fa2, 0(a0)", RAM_BASE - 8, RAM_BASE - 8
	/* RAM's address in the low 32 bits only: above 4 GiB, sign-extended, offset wraps */
	LOAD_AF 39, "ld a2, 0(a0)", 0x180000000, 0x180000000
	LOAD_AF 40, "lw a2, 0(a0)", 0x100000000 + RAM_END - 8, 0x100000000 + RAM_END - 8
	LOAD_AF 41, "lbu a2, 0(a0)", 0xffffffff80000000, 0xffffffff80000000
	LOAD_AF 42, "ld a2, 0(a0)", 0x8000000080000000, 0x8000000080000000
	LOAD_AF 43, "lw a2, -8(a0)", 0x80000004, 0x7ffffffc

	/* misaligned across two pages inside RAM */
	la s1, pair + PAGE - 8
	li t0, PAT_LO
	sd t0, 0(s1)
	li t0, PAT_HI
	sd t0, 8(s1)
	addi a0, s1, 5
	ld a2, 0(a0)
	CHECK_EQ(50, a2, 0x8485868788010203)
	addi a0, s1, 7
	lw a2, 0(a0)
	CHECK_EQ(51, a2, 0xffffffff86878801)
	addi a0, s1, 6
	fld fa2, 0(a0)
	fmv.x.d a2, fa2
	CHECK_EQ(52, a2, 0x8384858687880102)

	/* MMIO: the device answers (msip reads 0, mtime moves), not RAM at some offset */
	li a0, CLINT_MSIP
	li a2, POISON
	lw a2, 0(a0)
	CHECK_EQ(53, a2, 0)
	li a0, CLINT_MTIME
	ld a2, 0(a0)
	li s2, 50000000
.Lspin:					/* until it moves: MMIO read by a translated loop */
	addi s2, s2, -1
	beqz s2, .Lfail54
	ld a3, 0(a0)
	beq a2, a3, .Lspin
	bltu a3, a2, .Lfail55

	/* regimes: page_b's address maps to page_a for S and U; nothing flushes in between */
	la s2, page_a
	la s3, page_b
	li t0, 0xa1a2a3a4a5a6a7a8
	sd t0, 0(s2)
	li t0, 0xb1b2b3b4b5b6b7b8
	sd t0, 0(s3)
	VM_SV39_IDENTITY root, l1, l0
	IDMAP_PTE s4, l0, page_b
	PTE_MAKE t1, s2, (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D | PTE_U)
	sd t1, 0(s4)

	/* S-mode with satp Bare (bare too): translated reading page_b, then S itself turns
	 * Sv39 on and the same code must read page_a */
	li t0, MSTATUS_SUM
	csrs mstatus, t0
	MRET_TO MODE_S, .Ls_bare
.Ls_bare:
	li s5, 50
.Lsb_loop:
	mv a0, s3
	call load_d
	li t0, 0xb1b2b3b4b5b6b7b8
	bne a0, t0, .Lfail108
	mv a0, s3
	li a1, 4
	call sum_loop
	li t0, 0xc6caced2d6dadee0	/* 4 times page_b's, mod 2^64 */
	bne a0, t0, .Lfail109
	addi s5, s5, -1
	bnez s5, .Lsb_loop
	SATP_ON SATP_SV39, root
	mv a0, s3
	call load_d
	li t0, 0xa1a2a3a4a5a6a7a8
	bne a0, t0, .Lfail110
	mv a0, s3
	li a1, 4
	call sum_loop
	li t0, 0x868a8e92969a9ea0
	bne a0, t0, .Lfail111
	TO_M

	/* M-mode (bare whatever satp says): translated here, reading page_b */
	li s5, 50
.Lwarm:
	mv a0, s3
	call load_d
	li t0, 0xb1b2b3b4b5b6b7b8
	bne a0, t0, .Lfail100
	mv a0, s3
	li a1, 4
	call sum_loop
	li t0, 0xc6caced2d6dadee0	/* 4 times, mod 2^64 */
	bne a0, t0, .Lfail101
	addi s5, s5, -1
	bnez s5, .Lwarm

	/* S-mode through Sv39 (SUM for the U page): the same code must read page_a */
	MRET_TO MODE_S, .Ls
.Ls:
	li s5, 20
.Ls_loop:
	mv a0, s3
	call load_d
	li t0, 0xa1a2a3a4a5a6a7a8
	bne a0, t0, .Lfail102
	mv a0, s3
	li a1, 4
	call sum_loop
	li t0, 0x868a8e92969a9ea0
	bne a0, t0, .Lfail103
	addi s5, s5, -1
	bnez s5, .Ls_loop
	TO_M

	/* U-mode (code pages need U: all of l0 gets it) */
	la t2, l0
	li t3, 512
.Lu_pte:
	ld t1, 0(t2)
	ori t1, t1, PTE_U
	sd t1, 0(t2)
	addi t2, t2, 8
	addi t3, t3, -1
	bnez t3, .Lu_pte
	sfence.vma
	/* M-mode again first: translated anew after the sfence, reading page_b */
	mv a0, s3
	call load_d
	li t0, 0xb1b2b3b4b5b6b7b8
	bne a0, t0, .Lfail104
	MRET_TO MODE_U, .Lu
.Lu:
	mv a0, s3
	call load_d
	li t0, 0xa1a2a3a4a5a6a7a8
	bne a0, t0, .Lfail105
	mv a0, s3
	li a1, 3
	call sum_loop
	li t0, 0xe4e7eaedf0f3f6f8
	bne a0, t0, .Lfail106
	TO_M

	/* M-mode: page_b itself again */
	mv a0, s3
	li a1, 2
	call sum_loop
	li t0, 0x636567696b6d6f70
	bne a0, t0, .Lfail107

	/* M-mode with MPRV = 1, MPP = M: bare; a trap from M keeps it so; then mret back to
	 * M leaves MPRV set with MPP = U: the same code reads through Sv39 as U (page_a).
	 * Results are checked with MPRV off (FAIL's store would go through Sv39 too). */
	li t0, MSTATUS_MPP | MSTATUS_MPRV
	csrs mstatus, t0
	li s5, 20
.Lmm:
	mv a0, s3
	call load_d
	mv a6, a0
	mv a0, s3
	li a1, 2
	call sum_loop
	mv a7, a0
	li t0, 0xb1b2b3b4b5b6b7b8
	bne a6, t0, .Lfail112
	li t0, 0x636567696b6d6f70
	bne a7, t0, .Lfail112
	addi s5, s5, -1
	bnez s5, .Lmm
	EXPECT_M(.Lmm_trap)
	ecall
.Lmm_trap:
	mv a0, s3
	call load_d
	mv a6, a0
	la t0, .Lmm_u
	csrw mepc, t0
	mret
.Lmm_u:
	mv a0, s3
	call load_d
	mv a7, a0
	mv a0, s3
	li a1, 3
	call sum_loop
	mv a5, a0
	csrr a4, mstatus
	li t0, MSTATUS_MPRV
	csrc mstatus, t0
	li t0, 0xb1b2b3b4b5b6b7b8
	bne a6, t0, .Lfail113
	li t0, MSTATUS_MPP | MSTATUS_MPRV
	and a4, a4, t0
	li t0, MSTATUS_MPRV
	bne a4, t0, .Lfail114
	li t0, 0xa1a2a3a4a5a6a7a8
	bne a7, t0, .Lfail115
	li t0, 0xe4e7eaedf0f3f6f8
	bne a5, t0, .Lfail116
	mv a0, s3
	call load_d
	li t0, 0xb1b2b3b4b5b6b7b8
	bne a0, t0, .Lfail117
	PASS

.Lbad_epc:
	FAIL(90)
.Lbad_tval:
	FAIL(91)
.Lfail54:
	FAIL(54)
.Lfail55:
	FAIL(55)
.Lfail100:
	FAIL(100)
.Lfail101:
	FAIL(101)
.Lfail102:
	FAIL(102)
.Lfail103:
	FAIL(103)
.Lfail104:
	FAIL(104)
.Lfail105:
	FAIL(105)
.Lfail106:
	FAIL(106)
.Lfail107:
	FAIL(107)
.Lfail108:
	FAIL(108)
.Lfail109:
	FAIL(109)
.Lfail110:
	FAIL(110)
.Lfail111:
	FAIL(111)
.Lfail112:
	FAIL(112)
.Lfail113:
	FAIL(113)
.Lfail114:
	FAIL(114)
.Lfail115:
	FAIL(115)
.Lfail116:
	FAIL(116)
.Lfail117:
	FAIL(117)

/* a0 = the doubleword at a0 */
load_d:
	ld a0, 0(a0)
	ret

/* a0 = a1 (> 0) times the doubleword at a0, by a block that loops onto itself */
sum_loop:
	mv t1, a0
	li a0, 0
1:	ld t0, 0(t1)
	add a0, a0, t0
	addi a1, a1, -1
	bnez a1, 1b
	ret

	TRAP_HANDLERS

	PAGES root, 1
	PAGES l1, 1
	PAGES l0, 1
	PAGES page_a, 1
	PAGES page_b, 1
	PAGES pair, 2
