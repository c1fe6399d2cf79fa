/*
 * Never finishes: a tight loop with no memory traffic. `lodge run --bare --timeout N`
 * must stop it and exit with status 124. Also assembled as RV32 and at odd load
 * addresses for tests/cli/suite.sh (see guests.mk), so it uses RV32I instructions only.
 */
	.section .text.init, "ax"
	.globl _start
_start:
1:	j 1b
