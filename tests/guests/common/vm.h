/*
 * Page-table helpers for the Sv39/Sv48 tests (priv. 4.3-4.5). The tests keep VA = PA for
 * the program itself: the first 2 MiB of RAM (code, data, tables, stack; link.ld puts
 * everything there) is mapped with 4 KiB S-mode RWX pages through a leaf table, so any
 * page of the program can get its own flags (IDMAP_FLAGS), and 0x0-0x3fffffff (finisher,
 * CLINT, UART) is one 1 GiB RW page so S-mode can still end the test. Extra mappings at
 * other VAs alias program pages. Tables are 4 KiB-aligned .bss objects the test declares
 * with PAGE_TABLES. The macros clobber t0-t3 only.
 */
#ifndef LODGE_GUEST_VM_H
#define LODGE_GUEST_VM_H

#include "priv.h"

#define RAM_BASE	0x80000000
#define PAGE		4096
#define VPN(va, level)	(((va) >> (12 + 9 * (level))) & 0x1ff)

/* `out` = a PTE for the physical address in register `pa` with `flags` (< 0x800). */
.macro PTE_MAKE out, pa, flags
	srli \out, \pa, 12
	slli \out, \out, 10
	ori \out, \out, \flags
.endm

/* table[index] = PTE(pa register, flags). */
.macro PTE_SET table, index, pa, flags
	PTE_MAKE t1, \pa, \flags
	la t0, \table
	li t2, (\index) * 8
	add t0, t0, t2
	sd t1, 0(t0)
.endm

/* table[index] = PTE(address of label `pa`, flags). */
.macro PTE_SET_PA table, index, pa, flags
	la t3, \pa
	PTE_SET \table, \index, t3, \flags
.endm

/* table[index] = PTE(physical address constant `pa`, flags). */
.macro PTE_SET_LI table, index, pa, flags
	li t3, \pa
	PTE_SET \table, \index, t3, \flags
.endm

/* table[index] = pointer to the next-level table `next`. */
.macro PTE_LINK table, index, next
	PTE_SET_PA \table, \index, \next, PTE_V
.endm

/* Fill the 4 KiB leaf table `l0` with identity leaves for RAM_BASE .. RAM_BASE + 2 MiB. */
.macro IDMAP_FILL l0
	li t3, RAM_BASE
	la t0, \l0
	li t2, 512
.Lfill\@:
	PTE_MAKE t1, t3, PTE_LEAF
	sd t1, 0(t0)
	addi t0, t0, 8
	li t1, PAGE
	add t3, t3, t1
	addi t2, t2, -1
	bnez t2, .Lfill\@
.endm

/* Give the identity-mapped page holding `label` the PTE flags `flags`. */
.macro IDMAP_FLAGS l0, label, flags
	la t3, \label
	srli t0, t3, 12
	andi t0, t0, 0x1ff
	slli t0, t0, 3
	la t2, \l0
	add t0, t0, t2
	PTE_MAKE t1, t3, \flags
	sd t1, 0(t0)
.endm

/* reg = address of the identity PTE (in leaf table l0) of the page holding `label`. */
.macro IDMAP_PTE reg, l0, label
	la \reg, \label
	srli \reg, \reg, 12
	andi \reg, \reg, 0x1ff
	slli \reg, \reg, 3
	la t0, \l0
	add \reg, \reg, t0
.endm

/* Sv39: root[2] -> l1[0] -> l0 (program), root[0] = devices. */
.macro VM_SV39_IDENTITY root, l1, l0
	IDMAP_FILL \l0
	PTE_LINK \root, 2, \l1
	PTE_LINK \l1, 0, \l0
	li t3, 0
	PTE_SET \root, 0, t3, (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
.endm

/* Sv48: root[0] -> l2; l2[2] -> l1[0] -> l0 (program), l2[0] = devices. */
.macro VM_SV48_IDENTITY root, l2, l1, l0
	IDMAP_FILL \l0
	PTE_LINK \root, 0, \l2
	PTE_LINK \l2, 2, \l1
	PTE_LINK \l1, 0, \l0
	li t3, 0
	PTE_SET \l2, 0, t3, (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
.endm

/* satp = mode | PPN(root); sfence.vma. */
.macro SATP_ON mode, root
	la t0, \root
	srli t0, t0, 12
	li t1, \mode
	or t0, t0, t1
	csrw satp, t0
	sfence.vma
.endm

/* Declare `n` zeroed, page-aligned pages starting at `name`, in .bss. */
.macro PAGES name, n
	.pushsection .bss
	.balign PAGE
\name:
	.zero (\n) * PAGE
	.popsection
.endm

#endif
