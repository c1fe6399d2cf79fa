/*
 * M extension: mul/mulh/mulhu/mulhsu/mulw, div/divu/rem/remu and the W forms, with the
 * special results of the spec's table (unpriv. 13.2): x / 0 = all ones, x % 0 = x,
 * MIN / -1 = MIN and MIN % -1 = 0, for 64- and 32-bit forms (W results sign-extended).
 */
#include "test.h"

	TEST_START
/* mul/mulh/mulhu/mulhsu/mulw */
	TEST_RR 1, mul, 0x7, 0x3, 0x15
	TEST_RR 2, mulh, 0x7, 0x3, 0x0
	TEST_RR 3, mulhu, 0x7, 0x3, 0x0
	TEST_RR 4, mulhsu, 0x7, 0x3, 0x0
	TEST_RR 5, mulw, 0x7, 0x3, 0x15
	TEST_RR 6, mul, 0xfffffffffffffff9, 0x3, 0xffffffffffffffeb
	TEST_RR 7, mulh, 0xfffffffffffffff9, 0x3, 0xffffffffffffffff
	TEST_RR 8, mulhu, 0xfffffffffffffff9, 0x3, 0x2
	TEST_RR 9, mulhsu, 0xfffffffffffffff9, 0x3, 0xffffffffffffffff
	TEST_RR 10, mulw, 0xfffffffffffffff9, 0x3, 0xffffffffffffffeb
	TEST_RR 11, mul, 0x7, 0xfffffffffffffffd, 0xffffffffffffffeb
	TEST_RR 12, mulh, 0x7, 0xfffffffffffffffd, 0xffffffffffffffff
	TEST_RR 13, mulhu, 0x7, 0xfffffffffffffffd, 0x6
	TEST_RR 14, mulhsu, 0x7, 0xfffffffffffffffd, 0x6
	TEST_RR 15, mulw, 0x7, 0xfffffffffffffffd, 0xffffffffffffffeb
	TEST_RR 16, mul, 0xfffffffffffffff9, 0xfffffffffffffffd, 0x15
	TEST_RR 17, mulh, 0xfffffffffffffff9, 0xfffffffffffffffd, 0x0
	TEST_RR 18, mulhu, 0xfffffffffffffff9, 0xfffffffffffffffd, 0xfffffffffffffff6
	TEST_RR 19, mulhsu, 0xfffffffffffffff9, 0xfffffffffffffffd, 0xfffffffffffffff9
	TEST_RR 20, mulw, 0xfffffffffffffff9, 0xfffffffffffffffd, 0x15
	TEST_RR 21, mul, 0x123456789abcdef0, 0xfedcba9876543210, 0x236d88fe5618cf00
	TEST_RR 22, mulh, 0x123456789abcdef0, 0xfedcba9876543210, 0xffeb49923cc09532
	TEST_RR 23, mulhu, 0x123456789abcdef0, 0xfedcba9876543210, 0x121fa00ad77d7422
	TEST_RR 24, mulhsu, 0x123456789abcdef0, 0xfedcba9876543210, 0x121fa00ad77d7422
	TEST_RR 25, mulw, 0x123456789abcdef0, 0xfedcba9876543210, 0x5618cf00
	TEST_RR 26, mul, 0x8000000000000000, 0xffffffffffffffff, 0x8000000000000000
	TEST_RR 27, mulh, 0x8000000000000000, 0xffffffffffffffff, 0x0
	TEST_RR 28, mulhu, 0x8000000000000000, 0xffffffffffffffff, 0x7fffffffffffffff
	TEST_RR 29, mulhsu, 0x8000000000000000, 0xffffffffffffffff, 0x8000000000000000
	TEST_RR 30, mulw, 0x8000000000000000, 0xffffffffffffffff, 0x0
	TEST_RR 31, mul, 0xffffffffffffffff, 0xffffffffffffffff, 0x1
	TEST_RR 32, mulh, 0xffffffffffffffff, 0xffffffffffffffff, 0x0
	TEST_RR 33, mulhu, 0xffffffffffffffff, 0xffffffffffffffff, 0xfffffffffffffffe
	TEST_RR 34, mulhsu, 0xffffffffffffffff, 0xffffffffffffffff, 0xffffffffffffffff
	TEST_RR 35, mulw, 0xffffffffffffffff, 0xffffffffffffffff, 0x1
	TEST_RR 36, mul, 0x8000000000000000, 0x8000000000000000, 0x0
	TEST_RR 37, mulh, 0x8000000000000000, 0x8000000000000000, 0x4000000000000000
	TEST_RR 38, mulhu, 0x8000000000000000, 0x8000000000000000, 0x4000000000000000
	TEST_RR 39, mulhsu, 0x8000000000000000, 0x8000000000000000, 0xc000000000000000
	TEST_RR 40, mulw, 0x8000000000000000, 0x8000000000000000, 0x0
	TEST_RR 41, mul, 0x7fffffffffffffff, 0x2, 0xfffffffffffffffe
	TEST_RR 42, mulh, 0x7fffffffffffffff, 0x2, 0x0
	TEST_RR 43, mulhu, 0x7fffffffffffffff, 0x2, 0x0
	TEST_RR 44, mulhsu, 0x7fffffffffffffff, 0x2, 0x0
	TEST_RR 45, mulw, 0x7fffffffffffffff, 0x2, 0xfffffffffffffffe
	/* div/divu/rem/remu, incl. signs, overflow (MIN / -1 = MIN, rem 0) */
	TEST_RR 46, div, 0x14, 0x6, 0x3
	TEST_RR 47, divu, 0x14, 0x6, 0x3
	TEST_RR 48, rem, 0x14, 0x6, 0x2
	TEST_RR 49, remu, 0x14, 0x6, 0x2
	TEST_RR 50, div, 0xffffffffffffffec, 0x6, 0xfffffffffffffffd
	TEST_RR 51, divu, 0xffffffffffffffec, 0x6, 0x2aaaaaaaaaaaaaa7
	TEST_RR 52, rem, 0xffffffffffffffec, 0x6, 0xfffffffffffffffe
	TEST_RR 53, remu, 0xffffffffffffffec, 0x6, 0x2
	TEST_RR 54, div, 0x14, 0xfffffffffffffffa, 0xfffffffffffffffd
	TEST_RR 55, divu, 0x14, 0xfffffffffffffffa, 0x0
	TEST_RR 56, rem, 0x14, 0xfffffffffffffffa, 0x2
	TEST_RR 57, remu, 0x14, 0xfffffffffffffffa, 0x14
	TEST_RR 58, div, 0xffffffffffffffec, 0xfffffffffffffffa, 0x3
	TEST_RR 59, divu, 0xffffffffffffffec, 0xfffffffffffffffa, 0x0
	TEST_RR 60, rem, 0xffffffffffffffec, 0xfffffffffffffffa, 0xfffffffffffffffe
	TEST_RR 61, remu, 0xffffffffffffffec, 0xfffffffffffffffa, 0xffffffffffffffec
	TEST_RR 62, div, 0x8000000000000000, 0xffffffffffffffff, 0x8000000000000000
	TEST_RR 63, divu, 0x8000000000000000, 0xffffffffffffffff, 0x0
	TEST_RR 64, rem, 0x8000000000000000, 0xffffffffffffffff, 0x0
	TEST_RR 65, remu, 0x8000000000000000, 0xffffffffffffffff, 0x8000000000000000
	TEST_RR 66, div, 0x8000000000000000, 0x1, 0x8000000000000000
	TEST_RR 67, divu, 0x8000000000000000, 0x1, 0x8000000000000000
	TEST_RR 68, rem, 0x8000000000000000, 0x1, 0x0
	TEST_RR 69, remu, 0x8000000000000000, 0x1, 0x0
	TEST_RR 70, div, 0x123456789abcdef0, 0x10001, 0x123444445678
	TEST_RR 71, divu, 0x123456789abcdef0, 0x10001, 0x123444445678
	TEST_RR 72, rem, 0x123456789abcdef0, 0x10001, 0x8878
	TEST_RR 73, remu, 0x123456789abcdef0, 0x10001, 0x8878
	TEST_RR 74, div, 0xffffffffffffffff, 0x2, 0x0
	TEST_RR 75, divu, 0xffffffffffffffff, 0x2, 0x7fffffffffffffff
	TEST_RR 76, rem, 0xffffffffffffffff, 0x2, 0xffffffffffffffff
	TEST_RR 77, remu, 0xffffffffffffffff, 0x2, 0x1
	/* division by zero: quotient all ones, remainder = dividend */
	TEST_RR 78, div, 0x0, 0x0, 0xffffffffffffffff
	TEST_RR 79, divu, 0x0, 0x0, 0xffffffffffffffff
	TEST_RR 80, rem, 0x0, 0x0, 0x0
	TEST_RR 81, remu, 0x0, 0x0, 0x0
	TEST_RR 82, div, 0x1, 0x0, 0xffffffffffffffff
	TEST_RR 83, divu, 0x1, 0x0, 0xffffffffffffffff
	TEST_RR 84, rem, 0x1, 0x0, 0x1
	TEST_RR 85, remu, 0x1, 0x0, 0x1
	TEST_RR 86, div, 0xfffffffffffffffb, 0x0, 0xffffffffffffffff
	TEST_RR 87, divu, 0xfffffffffffffffb, 0x0, 0xffffffffffffffff
	TEST_RR 88, rem, 0xfffffffffffffffb, 0x0, 0xfffffffffffffffb
	TEST_RR 89, remu, 0xfffffffffffffffb, 0x0, 0xfffffffffffffffb
	TEST_RR 90, div, 0x8000000000000000, 0x0, 0xffffffffffffffff
	TEST_RR 91, divu, 0x8000000000000000, 0x0, 0xffffffffffffffff
	TEST_RR 92, rem, 0x8000000000000000, 0x0, 0x8000000000000000
	TEST_RR 93, remu, 0x8000000000000000, 0x0, 0x8000000000000000
	/* W forms: 32-bit operands (upper bits ignored), sign-extended results */
	TEST_RR 94, divw, 0x14, 0x6, 0x3
	TEST_RR 95, divuw, 0x14, 0x6, 0x3
	TEST_RR 96, remw, 0x14, 0x6, 0x2
	TEST_RR 97, remuw, 0x14, 0x6, 0x2
	TEST_RR 98, mulw, 0x14, 0x6, 0x78
	TEST_RR 99, divw, 0xffffffffffffffec, 0x6, 0xfffffffffffffffd
	TEST_RR 100, divuw, 0xffffffffffffffec, 0x6, 0x2aaaaaa7
	TEST_RR 101, remw, 0xffffffffffffffec, 0x6, 0xfffffffffffffffe
	TEST_RR 102, remuw, 0xffffffffffffffec, 0x6, 0x2
	TEST_RR 103, mulw, 0xffffffffffffffec, 0x6, 0xffffffffffffff88
	TEST_RR 104, divw, 0x80000000, 0xffffffff, 0xffffffff80000000
	TEST_RR 105, divuw, 0x80000000, 0xffffffff, 0x0
	TEST_RR 106, remw, 0x80000000, 0xffffffff, 0x0
	TEST_RR 107, remuw, 0x80000000, 0xffffffff, 0xffffffff80000000
	TEST_RR 108, mulw, 0x80000000, 0xffffffff, 0xffffffff80000000
	TEST_RR 109, divw, 0xffffffff80000000, 0xffffffffffffffff, 0xffffffff80000000
	TEST_RR 110, divuw, 0xffffffff80000000, 0xffffffffffffffff, 0x0
	TEST_RR 111, remw, 0xffffffff80000000, 0xffffffffffffffff, 0x0
	TEST_RR 112, remuw, 0xffffffff80000000, 0xffffffffffffffff, 0xffffffff80000000
	TEST_RR 113, mulw, 0xffffffff80000000, 0xffffffffffffffff, 0xffffffff80000000
	TEST_RR 114, divw, 0x123456789, 0x100000003, 0xbc1cd2d
	TEST_RR 115, divuw, 0x123456789, 0x100000003, 0xbc1cd2d
	TEST_RR 116, remw, 0x123456789, 0x100000003, 0x2
	TEST_RR 117, remuw, 0x123456789, 0x100000003, 0x2
	TEST_RR 118, mulw, 0x123456789, 0x100000003, 0x69d0369b
	TEST_RR 119, divw, 0xfffffff9, 0x2, 0xfffffffffffffffd
	TEST_RR 120, divuw, 0xfffffff9, 0x2, 0x7ffffffc
	TEST_RR 121, remw, 0xfffffff9, 0x2, 0xffffffffffffffff
	TEST_RR 122, remuw, 0xfffffff9, 0x2, 0x1
	TEST_RR 123, mulw, 0xfffffff9, 0x2, 0xfffffffffffffff2
	TEST_RR 124, divw, 0x5, 0x0, 0xffffffffffffffff
	TEST_RR 125, divuw, 0x5, 0x0, 0xffffffffffffffff
	TEST_RR 126, remw, 0x5, 0x0, 0x5
	TEST_RR 127, remuw, 0x5, 0x0, 0x5
	TEST_RR 128, mulw, 0x5, 0x0, 0x0
	TEST_RR 129, divw, 0xfffffffffffffffb, 0x0, 0xffffffffffffffff
	TEST_RR 130, divuw, 0xfffffffffffffffb, 0x0, 0xffffffffffffffff
	TEST_RR 131, remw, 0xfffffffffffffffb, 0x0, 0xfffffffffffffffb
	TEST_RR 132, remuw, 0xfffffffffffffffb, 0x0, 0xfffffffffffffffb
	TEST_RR 133, mulw, 0xfffffffffffffffb, 0x0, 0x0
	TEST_RR 134, divw, 0x80000000, 0x0, 0xffffffffffffffff
	TEST_RR 135, divuw, 0x80000000, 0x0, 0xffffffffffffffff
	TEST_RR 136, remw, 0x80000000, 0x0, 0xffffffff80000000
	TEST_RR 137, remuw, 0x80000000, 0x0, 0xffffffff80000000
	TEST_RR 138, mulw, 0x80000000, 0x0, 0x0
	TEST_RR 139, divw, 0x1700000000, 0x2300000000, 0xffffffffffffffff
	TEST_RR 140, divuw, 0x1700000000, 0x2300000000, 0xffffffffffffffff
	TEST_RR 141, remw, 0x1700000000, 0x2300000000, 0x0
	TEST_RR 142, remuw, 0x1700000000, 0x2300000000, 0x0
	TEST_RR 143, mulw, 0x1700000000, 0x2300000000, 0x0
	TEST_RR_SAME 144, mul, 0xffffffff, 0xfffffffe00000001
	TEST_RR_SAME 145, div, 0xfffffffffffffff7, 0x1
	TEST_RR_SAME 146, remu, 0x4d, 0x0

	PASS

	TRAP_HANDLERS
