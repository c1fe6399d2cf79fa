/*
 * A faulting store writes nothing: misaligned stores (sh, sw, sd, fsw, fsd) that straddle
 * the end of RAM (0x88000000 with the default 128 MiB) take a store access fault and
 * leave the bytes inside RAM unchanged. The same in S-mode under Sv39 for a store that
 * straddles two virtual pages whose second page maps past the end of RAM (access fault),
 * is not mapped, or is read-only (page faults). Ids: 1-49 M-mode, 50-99 Sv39.
 */
#include "test.h"
#include "vm.h"

#define RAM_END	0x88000000
#define PATTERN	0x0123456789abcdef
#define WIN	0x40000000		/* VA of the two-page window (root[1]) */

/* ids id..id+2: `insn` (address in a0) must raise cause `cause` (mepc = it, mtval = a0
 * or the first byte it could not write, `first`) and leave the 8 bytes at `check` (a
 * register) holding PATTERN. */
.macro STRADDLE id, insn, cause, first, check
	EXPECT(.Lres\@)
.Linsn\@:
	\insn
	FAIL(\id)
.Lres\@:
	CHECK_EQ(\id + 1, s10, \cause)
	la a5, .Linsn\@
	bne s8, a5, .Lbad_epc
	beq s9, a0, .Ltval\@
	li a5, \first
	beq s9, a5, .Ltval\@
	j .Lbad_tval
.Ltval\@:
	ld a2, 0(\check)
	CHECK_EQ(\id + 2, a2, PATTERN)
.endm

/* Bare M-mode: `insn` at RAM_END - off. */
.macro AT_END id, insn, off
	li a0, RAM_END - (\off)
	STRADDLE \id, "\insn", CAUSE_STORE_ACCESS, RAM_END, s0
.endm

	TEST_START
	PMP_ALLOW_ALL
	li t0, MSTATUS_FS
	csrs mstatus, t0
	li a1, -1
	fmv.d.x fa1, a1
	li s0, RAM_END - 8
	li t0, PATTERN
	sd t0, 0(s0)

	AT_END 1, "sh a1, 0(a0)", 1
	AT_END 4, "sw a1, 0(a0)", 1
	AT_END 7, "sw a1, 0(a0)", 2
	AT_END 10, "sw a1, 0(a0)", 3
	AT_END 13, "sd a1, 0(a0)", 1
	AT_END 16, "sd a1, 0(a0)", 3
	AT_END 19, "sd a1, 0(a0)", 7
	AT_END 22, "fsw fa1, 0(a0)", 3
	AT_END 25, "fsd fa1, 0(a0)", 3
	AT_END 28, "fsd fa1, 0(a0)", 5
	AT_END 31, "c.sw a1, 0(a0)", 2	/* compressed: a0/a1 are x10/x11 */
	AT_END 34, "c.sd a1, 0(a0)", 4

	/* a store that fits still works, right up to the last byte */
	li a0, RAM_END - 4
	li a2, 0x55667788
	sw a2, 0(a0)
	ld a2, 0(s0)
	CHECK_EQ(40, a2, 0x5566778889abcdef)
	li t0, PATTERN
	sd t0, 0(s0)

	/* Sv39: WIN -> the last page of RAM; WIN + 4 KiB -> past RAM, unmapped, read-only */
	VM_SV39_IDENTITY root, l1, l0
	PTE_LINK root, 1, l1b
	PTE_LINK l1b, 0, l0b
	PTE_SET_LI l0b, 0, RAM_END - PAGE, PTE_LEAF
	PTE_SET_LI l0b, 1, RAM_END, PTE_LEAF
	SATP_ON SATP_SV39, root
	li s1, WIN + PAGE - 8		/* the last 8 bytes of RAM through WIN */
	MRET_TO MODE_S, .Ls
.Ls:
	li a0, WIN + PAGE - 3
	STRADDLE 50, "sd a1, 0(a0)", CAUSE_STORE_ACCESS, WIN + PAGE, s1
	li a0, WIN + PAGE - 2
	STRADDLE 53, "fsw fa1, 0(a0)", CAUSE_STORE_ACCESS, WIN + PAGE, s1

	/* second page not mapped: store page fault */
	la t0, l0b
	sd zero, 8(t0)
	sfence.vma
	li a0, WIN + PAGE - 5
	STRADDLE 56, "sd a1, 0(a0)", CAUSE_STORE_PAGE, WIN + PAGE, s1
	li a0, WIN + PAGE - 1
	STRADDLE 59, "sh a1, 0(a0)", CAUSE_STORE_PAGE, WIN + PAGE, s1

	/* second page read-only (a RAM page of the program): store page fault */
	PTE_SET_PA l0b, 1, spare, (PTE_V | PTE_R | PTE_A | PTE_D)
	sfence.vma
	li a0, WIN + PAGE - 7
	STRADDLE 62, "sd a1, 0(a0)", CAUSE_STORE_PAGE, WIN + PAGE, s1
	la a3, spare
	ld a2, 0(a3)
	CHECK_EQ(65, a2, 0)

	/* second page writable RAM: the store happens across both */
	PTE_SET_PA l0b, 1, spare, PTE_LEAF
	sfence.vma
	li a0, WIN + PAGE - 3
	li a2, 0x1122334455667788
	sd a2, 0(a0)
	ld a2, 0(s1)
	CHECK_EQ(66, a2, 0x6677886789abcdef)
	la a3, spare
	ld a2, 0(a3)
	CHECK_EQ(67, a2, 0x1122334455)
	TO_M
	PASS
.Lbad_epc:
	FAIL(45)
.Lbad_tval:
	FAIL(46)

	TRAP_HANDLERS

	PAGES root, 1
	PAGES l1, 1
	PAGES l0, 1
	PAGES l1b, 1
	PAGES l0b, 1
	PAGES spare, 1
