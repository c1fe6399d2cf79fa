/*
 * Table-style check macros for the unprivileged instruction tests. Each takes a check id
 * `id` (the FAIL status when the check fails, 1..199) and leaves its result in a2.
 * Operands go through a0/a1; t4-t6 are clobbered by CHECK_EQ/FAIL (guest.h). Programs
 * start with TEST_START and end with TRAP_HANDLERS (priv.h), so a stray trap fails.
 */
#ifndef LODGE_GUEST_TEST_H
#define LODGE_GUEST_TEST_H

#include "priv.h"

/* a2 = op(a, b) for a register-register instruction. */
.macro TEST_RR id, op, a, b, res
	li a0, \a
	li a1, \b
	\op a2, a0, a1
	CHECK_EQ(\id, a2, \res)
.endm

/* a2 = op(a, imm) for a register-immediate instruction. */
.macro TEST_RI id, op, a, imm, res
	li a0, \a
	\op a2, a0, \imm
	CHECK_EQ(\id, a2, \res)
.endm

/* rd = rs1 = rs2: the instruction must read both operands before writing rd. */
.macro TEST_RR_SAME id, op, a, res
	li a2, \a
	\op a2, a2, a2
	CHECK_EQ(\id, a2, \res)
.endm

/* The branch must be taken. */
.macro TEST_BR_TAKEN id, op, a, b
	li a0, \a
	li a1, \b
	\op a0, a1, .Ltaken\@
	FAIL(\id)
.Ltaken\@:
.endm

/* The branch must not be taken. */
.macro TEST_BR_NOT id, op, a, b
	li a0, \a
	li a1, \b
	\op a0, a1, .Lbad\@
	j .Lok\@
.Lbad\@:
	FAIL(\id)
.Lok\@:
.endm

#endif
