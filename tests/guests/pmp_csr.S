/*
 * PMP CSRs (priv. 3.7): pmpaddr0-3 and pmpcfg0 are writable and read back (pmpaddr holds
 * address bits 55:2, so 54 bits; 4-byte granularity assumed, as in QEMU and Lodge);
 * pmpcfg2 too; the odd pmpcfg1 does not exist on RV64 (illegal). The test ends with
 * entry 0 covering all memory (NAPOT, RWX) so nothing is locked or denied.
 */
#include "test.h"

	TEST_START

	li t0, 0x12345
	csrw pmpaddr0, t0
	li t1, 0x20000000
	csrw pmpaddr1, t1
	li t2, 0x3fffffffffffff
	csrw pmpaddr2, t2
	li t3, 0x80001
	csrw pmpaddr3, t3
	csrr a2, pmpaddr0
	CHECK_EQ(1, a2, 0x12345)
	csrr a2, pmpaddr1
	CHECK_EQ(2, a2, 0x20000000)
	csrr a2, pmpaddr2
	CHECK_EQ(3, a2, 0x3fffffffffffff)
	csrr a2, pmpaddr3
	CHECK_EQ(4, a2, 0x80001)

	/* cfg: entry 0 NA4 R, entry 1 TOR RX, entry 2 NAPOT RWX, entry 3 off with R */
	li t0, (0x01 << 24) | (0x1f << 16) | (0x0d << 8) | 0x11
	csrw pmpcfg0, t0
	csrr a2, pmpcfg0
	CHECK_EQ(5, a2, (0x01 << 24) | (0x1f << 16) | (0x0d << 8) | 0x11)
	csrw pmpcfg0, zero
	csrr a2, pmpcfg0
	CHECK_EQ(6, a2, 0)
	li t0, 0x1f
	csrw pmpcfg2, t0
	csrr a2, pmpcfg2
	CHECK_EQ(7, a2, 0x1f)
	csrw pmpcfg2, zero

	/* pmpcfg1 is RV32-only */
	EXPECT(.Lcfg1)
	csrr a2, pmpcfg1
	FAIL(8)
.Lcfg1:
	CHECK_EQ(9, s10, CAUSE_ILLEGAL)

	PMP_ALLOW_ALL
	csrr a2, pmpcfg0
	CHECK_EQ(10, a2, 0x1f)
	csrr a2, pmpaddr0
	CHECK_BITS(11, a2, 0x3fffffffffffff, 0x3fffffffffffff)	/* bits 63:54: either */

	PASS

	TRAP_HANDLERS
