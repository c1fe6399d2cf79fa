/*
 * Counter access gating (priv. 3.1.11, 4.1.5): from S, cycle/time/instret need the CY/TM/IR
 * bit in mcounteren; from U, in both mcounteren and scounteren; otherwise the read is an
 * illegal instruction. Each bit gates only its own counter. M is never gated.
 */
#include "test.h"

#define CY 1
#define TM 2
#define IR 4

/* ids id, id+1: reading `csr` must be illegal. */
.macro DENIED id, csr
	EXPECT(.Lres\@)
	csrr a2, \csr
	FAIL(\id)
.Lres\@:
	CHECK_EQ(\id + 1, s10, CAUSE_ILLEGAL)
.endm

/* Reading `csr` must work (an unexpected trap fails the test). */
.macro ALLOWED csr
	csrr a2, \csr
.endm

	TEST_START
	PMP_ALLOW_ALL

	/* M: always */
	csrw mcounteren, zero
	csrw scounteren, zero
	ALLOWED cycle
	ALLOWED time
	ALLOWED instret

	/* mcounteren = 0: S and U denied */
	MRET_TO MODE_S, .Ls1
.Ls1:
	DENIED 1, cycle
	DENIED 3, time
	DENIED 5, instret
	TO_M
	MRET_TO MODE_U, .Lu1
.Lu1:
	DENIED 7, cycle
	DENIED 9, time
	DENIED 11, instret
	TO_M

	/* one bit at a time, for S */
	li t0, CY
	csrw mcounteren, t0
	MRET_TO MODE_S, .Ls2
.Ls2:
	ALLOWED cycle
	DENIED 13, time
	DENIED 15, instret
	TO_M
	li t0, TM
	csrw mcounteren, t0
	MRET_TO MODE_S, .Ls3
.Ls3:
	DENIED 17, cycle
	ALLOWED time
	DENIED 19, instret
	TO_M
	li t0, IR
	csrw mcounteren, t0
	MRET_TO MODE_S, .Ls4
.Ls4:
	DENIED 21, cycle
	DENIED 23, time
	ALLOWED instret
	/* S sets scounteren: U still needs mcounteren too */
	li t0, CY | TM | IR
	csrw scounteren, t0
	csrr a2, scounteren
	CHECK_BITS(25, a2, 7, 7)
	TO_M

	/* mcounteren all, scounteren 0: S yes, U no */
	li t0, CY | TM | IR
	csrw mcounteren, t0
	csrw scounteren, zero
	MRET_TO MODE_U, .Lu2
.Lu2:
	DENIED 26, cycle
	DENIED 28, time
	DENIED 30, instret
	TO_M
	/* both: U yes; scounteren one bit */
	li t0, TM
	csrw scounteren, t0
	MRET_TO MODE_U, .Lu3
.Lu3:
	DENIED 32, cycle
	ALLOWED time
	DENIED 34, instret
	TO_M
	li t0, CY | TM | IR
	csrw scounteren, t0
	MRET_TO MODE_U, .Lu4
.Lu4:
	ALLOWED cycle
	ALLOWED time
	ALLOWED instret
	TO_M
	/* scounteren set but mcounteren clear: U denied */
	li t0, CY | IR
	csrw mcounteren, t0
	MRET_TO MODE_U, .Lu5
.Lu5:
	ALLOWED cycle
	DENIED 36, time
	ALLOWED instret
	TO_M

	PASS

	TRAP_HANDLERS
