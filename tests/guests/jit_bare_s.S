/*
 * S-mode code translated while satp is Bare, then run under Sv39 (an identity map, as an
 * identity-mapped kernel's code is before and after it turns paging on). Blocks outlive
 * satp writes (found by pc, privilege and physical address), so a translation whose loads
 * read RAM directly behind a bare-regime guard (cpu/jit/x86_64.c, bare_loads) would fail
 * that guard and go to the interpreter on every entry from then on. The "jit:" row in
 * expect makes the translated run (--stats) fail if any LD is handed to the interpreter;
 * the sums check the loads' values (page_b's address maps to page_a under Sv39).
 */
#include "vm.h"

	TEST_START
	PMP_ALLOW_ALL
	la s2, page_a
	la s3, page_b
	li t0, 0xa1
	sd t0, 0(s2)
	sd t0, 8(s2)
	li t0, 0xb1
	sd t0, 0(s3)
	sd t0, 8(s3)
	VM_SV39_IDENTITY root, l1, l0
	IDMAP_PTE s4, l0, page_b
	PTE_MAKE t1, s2, (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
	sd t1, 0(s4)
	MRET_TO MODE_S, .Ls
.Ls:
	li s5, 40
.Lbare:
	mv a0, s3
	li a1, 2
	call sum_loop
	li t0, 2 * 0xb1
	bne a0, t0, .Lfail1
	addi s5, s5, -1
	bnez s5, .Lbare
	SATP_ON SATP_SV39, root
	li s5, 2000
.Lpaged:
	mv a0, s3
	li a1, 2
	call sum_loop
	li t0, 2 * 0xa1
	bne a0, t0, .Lfail2
	addi s5, s5, -1
	bnez s5, .Lpaged
	TO_M
	PASS
.Lfail1:
	FAIL(1)
.Lfail2:
	FAIL(2)

/* a0 = the sum of the a1 (> 0) doublewords from a0 */
sum_loop:
	ld t0, 0(a0)
	addi a0, a0, 8
	add t2, zero, t0
	addi a1, a1, -1
	beqz a1, 2f
1:	ld t0, 0(a0)
	add t2, t2, t0
	addi a0, a0, 8
	addi a1, a1, -1
	bnez a1, 1b
2:	mv a0, t2
	ret

	TRAP_HANDLERS

	PAGES root, 1
	PAGES l1, 1
	PAGES l0, 1
	PAGES page_a, 1
	PAGES page_b, 1
