/*
 * Zicntr: cycle, time and instret advance; instret counts at least the instructions of a
 * known loop; time equals the CLINT mtime (read between two mtime reads); mcycle and
 * minstret are writable from M-mode and count on from the written value.
 */
#include "test.h"

#define LOOPS 1000

	TEST_START

	/* instret: a 1000-iteration loop of 2 instructions retires >= 2000 */
	rdinstret s0
	li a0, LOOPS
.Lloop:
	addi a0, a0, -1
	bnez a0, .Lloop
	rdinstret s1
	sub a2, s1, s0
	li a3, 2 * LOOPS
	bltu a2, a3, .Lfail1

	/* cycle advances */
	rdcycle s0
	li a0, LOOPS
.Lloop2:
	addi a0, a0, -1
	bnez a0, .Lloop2
	rdcycle s1
	bgeu s0, s1, .Lfail2

	/* time advances (bounded wait) */
	rdtime s0
	li a0, 50000000
.Lwait:
	rdtime s1
	bne s1, s0, .Ltime_ok
	addi a0, a0, -1
	bnez a0, .Lwait
	FAIL(3)
.Ltime_ok:
	bltu s1, s0, .Lfail4

	/* time is mtime: mtime(before) <= time <= mtime(after) */
	li a4, CLINT_MTIME
	ld s0, 0(a4)
	rdtime s1
	ld s2, 0(a4)
	bltu s1, s0, .Lfail5
	bltu s2, s1, .Lfail6

	/* mcycle / minstret: writable, count on from the written value */
	li s0, 0x100000000000
	csrw minstret, s0
	csrr s1, minstret
	bltu s1, s0, .Lfail7
	li a3, 0x100000
	add a3, a3, s0
	bgeu s1, a3, .Lfail8
	csrr s2, instret	/* the unprivileged alias reads the same counter */
	bltu s2, s1, .Lfail9
	bgeu s2, a3, .Lfail10
	csrw mcycle, s0
	csrr s1, mcycle
	bltu s1, s0, .Lfail11
	rdcycle s2
	bltu s2, s1, .Lfail12

	PASS
.Lfail1:
	FAIL(1)
.Lfail2:
	FAIL(2)
.Lfail4:
	FAIL(4)
.Lfail5:
	FAIL(5)
.Lfail6:
	FAIL(6)
.Lfail7:
	FAIL(7)
.Lfail8:
	FAIL(8)
.Lfail9:
	FAIL(9)
.Lfail10:
	FAIL(10)
.Lfail11:
	FAIL(11)
.Lfail12:
	FAIL(12)

	TRAP_HANDLERS
