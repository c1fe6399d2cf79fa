/* Ends through the sifive_test finisher with exit code 3: the status must be 3. */
#include "guest.h"

	.section .text.init, "ax"
	.globl _start
_start:
	FAIL(3)
