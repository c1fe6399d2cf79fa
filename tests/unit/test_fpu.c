/*
 * Unit tests for cpu/fpu.c: results and accrued flags of every F/D operation class, driven
 * through fpu_exec() on a bare hart. Tables hold bit patterns derived by hand from IEEE 754
 * and the RISC-V spec (chapters 11-12): ties and near-ties in all five rounding modes,
 * overflow/underflow boundaries, subnormals, signed zeros, NaN rules, conversion saturation,
 * NaN-boxing, fused multiply-add, fclass, reserved rounding modes.
 * Every case with a static rounding mode runs again through frm (rm = 7).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/fpu.h"
#include "cpu/hart.h"
#include "harness.h"

#define BOX	 0xffffffff00000000ull
#define SB(bits) (BOX | (uint64_t)(bits)) /* a boxed binary32 bit pattern */

enum { NX = FFLAG_NX, UF = FFLAG_UF, OF = FFLAG_OF, DZ = FFLAG_DZ, NV = FFLAG_NV };
enum { RNE = RM_RNE, RTZ = RM_RTZ, RDN = RM_RDN, RUP = RM_RUP, RMM = RM_RMM };

#define FS_INITIAL (1ull << MSTATUS_FS_SHIFT)

/* binary32 constants */
#define S_ONE	  SB(0x3f800000)
#define S_TWO	  SB(0x40000000)
#define S_HALF	  SB(0x3f000000)
#define S_MONE	  SB(0xbf800000)
#define S_PZERO	  SB(0x00000000)
#define S_NZERO	  SB(0x80000000)
#define S_PINF	  SB(0x7f800000)
#define S_NINF	  SB(0xff800000)
#define S_QNAN	  SB(0x7fc00000)
#define S_SNAN	  SB(0x7f800001)
#define S_MAX	  SB(0x7f7fffff)
#define S_NMAX	  SB(0xff7fffff)
#define S_MINSUB  SB(0x00000001)
#define S_MINNORM SB(0x00800000)
#define S_ULP1	  SB(0x34000000) /* 2^-23 */
#define S_HULP1	  SB(0x33800000) /* 2^-24: half an ulp of 1.0 */
#define S_1P1ULP  SB(0x3f800001) /* 1 + 2^-23 */
/* binary64 constants */
#define D_ONE	 0x3ff0000000000000ull
#define D_TWO	 0x4000000000000000ull
#define D_HALF	 0x3fe0000000000000ull
#define D_MONE	 0xbff0000000000000ull
#define D_PZERO	 0x0000000000000000ull
#define D_NZERO	 0x8000000000000000ull
#define D_PINF	 0x7ff0000000000000ull
#define D_NINF	 0xfff0000000000000ull
#define D_QNAN	 0x7ff8000000000000ull
#define D_SNAN	 0x7ff0000000000001ull
#define D_MAX	 0x7fefffffffffffffull
#define D_MINSUB 0x0000000000000001ull
#define D_HULP1	 0x3ca0000000000000ull /* 2^-53 */
#define D_1P1ULP 0x3ff0000000000001ull
#define D_1P26	 0x3ff0000004000000ull /* 1 + 2^-26 */
#define D_1P27	 0x3ff0000002000000ull /* 1 + 2^-27 */

struct fcase {
	enum op_kind k;
	unsigned rm;
	uint64_t a, b, c; /* rs1 (also x[rs1] for integer sources), rs2, rs3 */
	uint64_t want;	  /* f[rd], or x[rd] for integer destinations */
	uint32_t flags;
};

static bool int_dest(enum op_kind k)
{
	switch (k) {
	case OP_FCVT_W_S:
	case OP_FCVT_WU_S:
	case OP_FCVT_L_S:
	case OP_FCVT_LU_S:
	case OP_FCVT_W_D:
	case OP_FCVT_WU_D:
	case OP_FCVT_L_D:
	case OP_FCVT_LU_D:
	case OP_FMV_X_W:
	case OP_FMV_X_D:
	case OP_FEQ_S:
	case OP_FLT_S:
	case OP_FLE_S:
	case OP_FEQ_D:
	case OP_FLT_D:
	case OP_FLE_D:
	case OP_FCLASS_S:
	case OP_FCLASS_D:
		return true;
	default:
		return false;
	}
}

static struct hart *new_hart(void)
{
	struct hart *h = calloc(1, sizeof(*h));

	if (h) {
		h->mstatus = FS_INITIAL;
		fpu_set_fflags(h, 0);
	}
	return h;
}

/* Runs one case with the given rm field; returns 0 or fills unit_why. */
static int run_one(struct hart *h, const char *what, size_t i, const struct fcase *c, unsigned rm)
{
	uint64_t got;
	uint32_t fl;
	int rc;

	h->f[1] = c->a;
	h->x[1] = c->a;
	h->f[2] = c->b;
	h->f[3] = c->c;
	h->f[4] = 0x5a5a5a5a5a5a5a5aull;
	h->x[4] = 0x5a5a5a5a5a5a5a5aull;
	fpu_set_fflags(h, 0);
	rc = fpu_exec(h, c->k, 4, 1, 2, 3, rm);
	got = int_dest(c->k) ? h->x[4] : h->f[4];
	fl = fpu_get_fflags(h);
	if (rc == 0 && got == c->want && fl == c->flags)
		return 0;
	snprintf(unit_why, sizeof(unit_why),
		 "%s[%zu] %s rm=%u frm=%u a=%llx b=%llx c=%llx: rc %d got %llx flags %x, want "
		 "%llx flags %x",
		 what, i, decode_op_name(c->k), rm, h->frm, (unsigned long long)c->a,
		 (unsigned long long)c->b, (unsigned long long)c->c, rc, (unsigned long long)got,
		 fl, (unsigned long long)c->want, c->flags);
	return 1;
}

/* Runs a table; cases with a static mode run again as dynamic (rm = 7, frm = mode). */
static int run_cases(const char *what, const struct fcase *t, size_t n)
{
	struct hart *h = new_hart();
	int bad = 0;

	if (!h) {
		snprintf(unit_why, sizeof(unit_why), "out of memory");
		return 1;
	}
	for (size_t i = 0; i < n && !bad; i++) {
		h->frm = 0;
		bad = run_one(h, what, i, &t[i], t[i].rm);
		if (!bad && t[i].rm <= RMM) {
			h->frm = t[i].rm;
			bad = run_one(h, what, i, &t[i], RM_DYN);
		}
	}
	free(h);
	return bad;
}

#define RUN(t) run_cases(#t, t, sizeof(t) / sizeof(t[0]))

/* Ties and near-ties of addition in every mode, both signs, both formats. */
static int test_add_rounding(void)
{
	const struct fcase t[] = {
		/* 1 + 2^-24: exactly between 1 and 1+ulp (1 is even) */
		{OP_FADD_S, RNE, S_ONE, S_HULP1, 0, S_ONE, NX},
		{OP_FADD_S, RTZ, S_ONE, S_HULP1, 0, S_ONE, NX},
		{OP_FADD_S, RDN, S_ONE, S_HULP1, 0, S_ONE, NX},
		{OP_FADD_S, RUP, S_ONE, S_HULP1, 0, S_1P1ULP, NX},
		{OP_FADD_S, RMM, S_ONE, S_HULP1, 0, S_1P1ULP, NX},
		/* negative tie */
		{OP_FADD_S, RNE, S_MONE, SB(0xb3800000), 0, S_MONE, NX},
		{OP_FADD_S, RTZ, S_MONE, SB(0xb3800000), 0, S_MONE, NX},
		{OP_FADD_S, RDN, S_MONE, SB(0xb3800000), 0, SB(0xbf800001), NX},
		{OP_FADD_S, RUP, S_MONE, SB(0xb3800000), 0, S_MONE, NX},
		{OP_FADD_S, RMM, S_MONE, SB(0xb3800000), 0, SB(0xbf800001), NX},
		/* tie with an odd lower neighbour: RNE and RMM agree */
		{OP_FADD_S, RNE, S_1P1ULP, S_HULP1, 0, SB(0x3f800002), NX},
		{OP_FADD_S, RMM, S_1P1ULP, S_HULP1, 0, SB(0x3f800002), NX},
		{OP_FADD_S, RTZ, S_1P1ULP, S_HULP1, 0, S_1P1ULP, NX},
		/* just above the tie: 1 + 2^-24(1 + 2^-23) */
		{OP_FADD_S, RNE, S_ONE, SB(0x33800001), 0, S_1P1ULP, NX},
		{OP_FADD_S, RMM, S_ONE, SB(0x33800001), 0, S_1P1ULP, NX},
		{OP_FADD_S, RTZ, S_ONE, SB(0x33800001), 0, S_ONE, NX},
		{OP_FADD_S, RDN, S_ONE, SB(0x33800001), 0, S_ONE, NX},
		/* just below the tie: 1 + 2^-25(2 - 2^-23) */
		{OP_FADD_S, RNE, S_ONE, SB(0x337fffff), 0, S_ONE, NX},
		{OP_FADD_S, RMM, S_ONE, SB(0x337fffff), 0, S_ONE, NX},
		{OP_FADD_S, RUP, S_ONE, SB(0x337fffff), 0, S_1P1ULP, NX},
		/* exact */
		{OP_FADD_S, RMM, S_ONE, S_ULP1, 0, S_1P1ULP, 0},
		{OP_FSUB_S, RNE, S_ONE, S_HALF, 0, S_HALF, 0},
		/* binary64: 1 + 2^-53 and its negation */
		{OP_FADD_D, RNE, D_ONE, D_HULP1, 0, D_ONE, NX},
		{OP_FADD_D, RTZ, D_ONE, D_HULP1, 0, D_ONE, NX},
		{OP_FADD_D, RDN, D_ONE, D_HULP1, 0, D_ONE, NX},
		{OP_FADD_D, RUP, D_ONE, D_HULP1, 0, D_1P1ULP, NX},
		{OP_FADD_D, RMM, D_ONE, D_HULP1, 0, D_1P1ULP, NX},
		{OP_FSUB_D, RMM, D_MONE, D_HULP1, 0, 0xbff0000000000001ull, NX},
		{OP_FSUB_D, RNE, D_MONE, D_HULP1, 0, D_MONE, NX},
		{OP_FSUB_D, RDN, D_MONE, D_HULP1, 0, 0xbff0000000000001ull, NX},
		{OP_FSUB_D, RUP, D_MONE, D_HULP1, 0, D_MONE, NX},
		/* far apart: 1 + 2^-100 */
		{OP_FADD_D, RMM, D_ONE, 0x39b0000000000000ull, 0, D_ONE, NX},
		{OP_FADD_D, RUP, D_ONE, 0x39b0000000000000ull, 0, D_1P1ULP, NX},
		{OP_FADD_S, RMM, S_ONE, SB(0x0d800000), 0, S_ONE, NX},
		{OP_FADD_S, RUP, S_ONE, SB(0x0d800000), 0, S_1P1ULP, NX},
	};

	return RUN(t);
}

static int test_mul_div_sqrt(void)
{
	const struct fcase t[] = {
		/* 1/3 rounds up in RNE and RMM, down in RTZ */
		{OP_FDIV_S, RNE, S_ONE, SB(0x40400000), 0, SB(0x3eaaaaab), NX},
		{OP_FDIV_S, RMM, S_ONE, SB(0x40400000), 0, SB(0x3eaaaaab), NX},
		{OP_FDIV_S, RTZ, S_ONE, SB(0x40400000), 0, SB(0x3eaaaaaa), NX},
		{OP_FDIV_S, RDN, S_MONE, SB(0x40400000), 0, SB(0xbeaaaaab), NX},
		{OP_FDIV_D, RNE, D_ONE, 0x4008000000000000ull, 0, 0x3fd5555555555555ull, NX},
		{OP_FDIV_D, RUP, D_ONE, 0x4008000000000000ull, 0, 0x3fd5555555555556ull, NX},
		{OP_FDIV_D, RMM, D_ONE, 0x4008000000000000ull, 0, 0x3fd5555555555555ull, NX},
		/* products that tie: (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 ties in binary32 */
		{OP_FMUL_S, RNE, SB(0x3f800800), SB(0x3f800800), 0, SB(0x3f801000), NX},
		{OP_FMUL_S, RMM, SB(0x3f800800), SB(0x3f800800), 0, SB(0x3f801001), NX},
		{OP_FMUL_S, RTZ, SB(0x3f800800), SB(0x3f800800), 0, SB(0x3f801000), NX},
		/* binary64: (1 + 2^-26)(1 + 2^-27) = 1 + 2^-26 + 2^-27 + 2^-53 ties */
		{OP_FMUL_D, RNE, D_1P26, D_1P27, 0, 0x3ff0000006000000ull, NX},
		{OP_FMUL_D, RMM, D_1P26, D_1P27, 0, 0x3ff0000006000001ull, NX},
		{OP_FMUL_D, RUP, D_1P26, D_1P27, 0, 0x3ff0000006000001ull, NX},
		{OP_FMUL_D, RTZ, D_1P26, D_1P27, 0, 0x3ff0000006000000ull, NX},
		/* (1 + 2^-27)^2 = 1 + 2^-26 + 2^-54: a quarter ulp, not a tie */
		{OP_FMUL_D, RNE, D_1P27, D_1P27, 0, D_1P26, NX},
		{OP_FMUL_D, RMM, D_1P27, D_1P27, 0, D_1P26, NX},
		{OP_FMUL_D, RUP, D_1P27, D_1P27, 0, D_1P26 + 1, NX},
		/* sqrt: never a tie, RMM == RNE */
		{OP_FSQRT_S, RNE, SB(0x40800000), 0, 0, S_TWO, 0},
		{OP_FSQRT_S, RNE, S_TWO, 0, 0, SB(0x3fb504f3), NX},
		{OP_FSQRT_S, RMM, S_TWO, 0, 0, SB(0x3fb504f3), NX},
		{OP_FSQRT_S, RUP, S_TWO, 0, 0, SB(0x3fb504f4), NX},
		{OP_FSQRT_S, RDN, S_TWO, 0, 0, SB(0x3fb504f3), NX},
		{OP_FSQRT_D, RNE, D_TWO, 0, 0, 0x3ff6a09e667f3bcdull, NX},
		{OP_FSQRT_D, RTZ, D_TWO, 0, 0, 0x3ff6a09e667f3bccull, NX},
		{OP_FSQRT_D, RMM, D_TWO, 0, 0, 0x3ff6a09e667f3bcdull, NX},
		{OP_FSQRT_S, RNE, S_NZERO, 0, 0, S_NZERO, 0},
		{OP_FSQRT_D, RNE, D_NZERO, 0, 0, D_NZERO, 0},
		{OP_FSQRT_S, RNE, S_MONE, 0, 0, S_QNAN, NV},
		{OP_FSQRT_D, RMM, D_MONE, 0, 0, D_QNAN, NV},
		{OP_FSQRT_D, RNE, D_NINF, 0, 0, D_QNAN, NV},
		{OP_FSQRT_S, RNE, S_PINF, 0, 0, S_PINF, 0},
		/* division special cases */
		{OP_FDIV_S, RNE, S_ONE, S_PZERO, 0, S_PINF, DZ},
		{OP_FDIV_S, RMM, S_MONE, S_PZERO, 0, S_NINF, DZ},
		{OP_FDIV_D, RTZ, D_ONE, D_NZERO, 0, D_NINF, DZ},
		{OP_FDIV_D, RNE, D_PZERO, D_PZERO, 0, D_QNAN, NV},
		{OP_FDIV_S, RMM, S_PINF, S_PINF, 0, S_QNAN, NV},
		{OP_FDIV_S, RNE, S_PINF, S_PZERO, 0, S_PINF, 0},
		{OP_FDIV_D, RNE, D_ONE, D_NINF, 0, D_NZERO, 0},
		{OP_FMUL_S, RNE, S_PZERO, S_PINF, 0, S_QNAN, NV},
		{OP_FMUL_D, RMM, D_NINF, D_PZERO, 0, D_QNAN, NV},
		{OP_FMUL_D, RNE, D_NZERO, D_TWO, 0, D_NZERO, 0},
		{OP_FMUL_S, RMM, S_NZERO, S_TWO, 0, S_NZERO, 0},
	};

	return RUN(t);
}

/* Overflow in each mode, including the boundary max + ulp/2. */
static int test_overflow(void)
{
	const struct fcase t[] = {
		{OP_FMUL_S, RNE, S_MAX, S_TWO, 0, S_PINF, OF | NX},
		{OP_FMUL_S, RTZ, S_MAX, S_TWO, 0, S_MAX, OF | NX},
		{OP_FMUL_S, RDN, S_MAX, S_TWO, 0, S_MAX, OF | NX},
		{OP_FMUL_S, RUP, S_MAX, S_TWO, 0, S_PINF, OF | NX},
		{OP_FMUL_S, RMM, S_MAX, S_TWO, 0, S_PINF, OF | NX},
		{OP_FMUL_S, RDN, S_NMAX, S_TWO, 0, S_NINF, OF | NX},
		{OP_FMUL_S, RUP, S_NMAX, S_TWO, 0, S_NMAX, OF | NX},
		{OP_FMUL_S, RMM, S_NMAX, S_TWO, 0, S_NINF, OF | NX},
		{OP_FADD_D, RNE, D_MAX, D_MAX, 0, D_PINF, OF | NX},
		{OP_FADD_D, RTZ, D_MAX, D_MAX, 0, D_MAX, OF | NX},
		{OP_FADD_D, RMM, D_MAX, D_MAX, 0, D_PINF, OF | NX},
		{OP_FADD_D, RDN, D_MAX | D_NZERO, D_MAX | D_NZERO, 0, D_NINF, OF | NX},
		{OP_FADD_D, RUP, D_MAX | D_NZERO, D_MAX | D_NZERO, 0, D_MAX | D_NZERO, OF | NX},
		/* max + 2^103 (half its ulp) is the overflow threshold of RNE and RMM;
		 * RTZ/RDN round it to max without overflowing */
		{OP_FADD_S, RNE, S_MAX, SB(0x73000000), 0, S_PINF, OF | NX},
		{OP_FADD_S, RMM, S_MAX, SB(0x73000000), 0, S_PINF, OF | NX},
		{OP_FADD_S, RTZ, S_MAX, SB(0x73000000), 0, S_MAX, NX},
		{OP_FADD_S, RDN, S_MAX, SB(0x73000000), 0, S_MAX, NX},
		{OP_FADD_S, RUP, S_MAX, SB(0x73000000), 0, S_PINF, OF | NX},
		/* just under the threshold */
		{OP_FADD_S, RNE, S_MAX, SB(0x72ffffff), 0, S_MAX, NX},
		{OP_FADD_S, RMM, S_MAX, SB(0x72ffffff), 0, S_MAX, NX},
		{OP_FADD_D, RMM, D_MAX, 0x7c90000000000000ull, 0, D_PINF, OF | NX},
		{OP_FADD_D, RMM, D_MAX, 0x7c8fffffffffffffull, 0, D_MAX, NX},
		/* infinities are exact */
		{OP_FADD_S, RNE, S_PINF, S_ONE, 0, S_PINF, 0},
		{OP_FADD_S, RMM, S_PINF, S_NINF, 0, S_QNAN, NV},
		{OP_FSUB_D, RNE, D_PINF, D_PINF, 0, D_QNAN, NV},
		{OP_FDIV_S, RMM, S_MAX, SB(0x00000002), 0, S_PINF, OF | NX},
		{OP_FDIV_D, RMM, D_MAX, D_HALF, 0, D_PINF, OF | NX},
	};

	return RUN(t);
}

/* Underflow: subnormal results, tininess after rounding, ties at the bottom. */
static int test_underflow(void)
{
	const struct fcase t[] = {
		/* exact subnormal: no flags */
		{OP_FMUL_S, RNE, S_MINNORM, S_HALF, 0, SB(0x00400000), 0},
		{OP_FADD_S, RNE, S_MINSUB, S_MINSUB, 0, SB(0x00000002), 0},
		{OP_FSUB_D, RMM, 0x0010000000000000ull, D_MINSUB, 0, 0x000fffffffffffffull, 0},
		/* (1 + 2^-23) * max subnormal = (1 - 2^-46) 2^-126: tiny before rounding but
		 * not after in RNE/RUP/RMM (rounds to 2^-126 at 24 bits) -> no UF */
		{OP_FMUL_S, RNE, S_1P1ULP, SB(0x007fffff), 0, S_MINNORM, NX},
		{OP_FMUL_S, RUP, S_1P1ULP, SB(0x007fffff), 0, S_MINNORM, NX},
		{OP_FMUL_S, RMM, S_1P1ULP, SB(0x007fffff), 0, S_MINNORM, NX},
		{OP_FMUL_S, RTZ, S_1P1ULP, SB(0x007fffff), 0, SB(0x007fffff), UF | NX},
		{OP_FMUL_S, RDN, S_1P1ULP, SB(0x007fffff), 0, SB(0x007fffff), UF | NX},
		/* binary64 version */
		{OP_FMUL_D, RNE, D_1P1ULP, 0x000fffffffffffffull, 0, 0x0010000000000000ull, NX},
		{OP_FMUL_D, RMM, D_1P1ULP, 0x000fffffffffffffull, 0, 0x0010000000000000ull, NX},
		{OP_FMUL_D, RTZ, D_1P1ULP, 0x000fffffffffffffull, 0, 0x000fffffffffffffull,
		 UF | NX},
		/* tiny after rounding: (1 - 2^-24) 2^-126 is exact at 24 bits, not subnormal */
		{OP_FMUL_S, RNE, SB(0x3f7fffff), S_MINNORM, 0, S_MINNORM, UF | NX},
		{OP_FMUL_S, RMM, SB(0x3f7fffff), S_MINNORM, 0, S_MINNORM, UF | NX},
		{OP_FMUL_S, RTZ, SB(0x3f7fffff), S_MINNORM, 0, SB(0x007fffff), UF | NX},
		/* 2^-150: tie between 0 and the least subnormal */
		{OP_FMUL_S, RNE, S_MINSUB, S_HALF, 0, S_PZERO, UF | NX},
		{OP_FMUL_S, RMM, S_MINSUB, S_HALF, 0, S_MINSUB, UF | NX},
		{OP_FMUL_S, RUP, S_MINSUB, S_HALF, 0, S_MINSUB, UF | NX},
		{OP_FMUL_S, RTZ, S_MINSUB, S_HALF, 0, S_PZERO, UF | NX},
		{OP_FMUL_S, RNE, SB(0x80000001), S_HALF, 0, S_NZERO, UF | NX},
		{OP_FMUL_S, RMM, SB(0x80000001), S_HALF, 0, SB(0x80000001), UF | NX},
		{OP_FMUL_S, RDN, SB(0x80000001), S_HALF, 0, SB(0x80000001), UF | NX},
		{OP_FMUL_D, RNE, D_MINSUB, D_HALF, 0, D_PZERO, UF | NX},
		{OP_FMUL_D, RMM, D_MINSUB, D_HALF, 0, D_MINSUB, UF | NX},
		{OP_FMUL_D, RMM, D_MINSUB | D_NZERO, D_HALF, 0, D_MINSUB | D_NZERO, UF | NX},
		/* 5 * 2^-149 / 2 = 2.5 units: a quotient tie, only possible when subnormal */
		{OP_FDIV_S, RNE, SB(0x00000005), S_TWO, 0, SB(0x00000002), UF | NX},
		{OP_FDIV_S, RMM, SB(0x00000005), S_TWO, 0, SB(0x00000003), UF | NX},
		{OP_FDIV_D, RNE, 0x0000000000000005ull, D_TWO, 0, 0x0000000000000002ull, UF | NX},
		{OP_FDIV_D, RMM, 0x0000000000000005ull, D_TWO, 0, 0x0000000000000003ull, UF | NX},
		{OP_FDIV_D, RMM, 0x8000000000000005ull, D_TWO, 0, 0x8000000000000003ull, UF | NX},
		/* far below: 2^-149 * 2^-100 */
		{OP_FMUL_S, RNE, S_MINSUB, SB(0x0d800000), 0, S_PZERO, UF | NX},
		{OP_FMUL_S, RMM, S_MINSUB, SB(0x0d800000), 0, S_PZERO, UF | NX},
		{OP_FMUL_S, RUP, S_MINSUB, SB(0x0d800000), 0, S_MINSUB, UF | NX},
		{OP_FMUL_D, RMM, D_MINSUB, 0x39b0000000000000ull, 0, D_PZERO, UF | NX},
	};

	return RUN(t);
}

static int test_signed_zero(void)
{
	const struct fcase t[] = {
		{OP_FADD_S, RNE, S_PZERO, S_NZERO, 0, S_PZERO, 0},
		{OP_FADD_S, RDN, S_PZERO, S_NZERO, 0, S_NZERO, 0},
		{OP_FADD_S, RNE, S_NZERO, S_NZERO, 0, S_NZERO, 0},
		{OP_FSUB_S, RNE, S_ONE, S_ONE, 0, S_PZERO, 0},
		{OP_FSUB_S, RDN, S_ONE, S_ONE, 0, S_NZERO, 0},
		{OP_FSUB_S, RMM, S_ONE, S_ONE, 0, S_PZERO, 0},
		{OP_FSUB_S, RUP, S_ONE, S_ONE, 0, S_PZERO, 0},
		{OP_FSUB_D, RNE, D_ONE, D_ONE, 0, D_PZERO, 0},
		{OP_FSUB_D, RDN, D_ONE, D_ONE, 0, D_NZERO, 0},
		{OP_FSUB_D, RMM, D_ONE, D_ONE, 0, D_PZERO, 0},
		{OP_FADD_D, RMM, D_NZERO, D_NZERO, 0, D_NZERO, 0},
		{OP_FMUL_D, RMM, D_NZERO, D_PZERO, 0, D_NZERO, 0},
		{OP_FDIV_S, RNE, S_NZERO, S_ONE, 0, S_NZERO, 0},
	};

	return RUN(t);
}

/* NaN rules: canonical results, NV only for signaling inputs (and invalid operations). */
static int test_nan(void)
{
	const struct fcase t[] = {
		{OP_FADD_S, RNE, S_QNAN, S_ONE, 0, S_QNAN, 0},
		{OP_FADD_S, RNE, SB(0x7fc12345), S_ONE, 0, S_QNAN, 0},
		{OP_FADD_S, RNE, SB(0xffc00001), S_ONE, 0, S_QNAN, 0},
		{OP_FADD_S, RNE, S_SNAN, S_ONE, 0, S_QNAN, NV},
		{OP_FMUL_S, RMM, S_ONE, SB(0xff80dead), 0, S_QNAN, NV},
		{OP_FDIV_S, RTZ, S_QNAN, S_SNAN, 0, S_QNAN, NV},
		{OP_FSQRT_S, RNE, S_SNAN, 0, 0, S_QNAN, NV},
		{OP_FSQRT_S, RNE, S_QNAN, 0, 0, S_QNAN, 0},
		{OP_FADD_D, RNE, D_QNAN | 0x1234, D_ONE, 0, D_QNAN, 0},
		{OP_FADD_D, RUP, D_SNAN, D_ONE, 0, D_QNAN, NV},
		{OP_FSUB_D, RMM, D_ONE, D_SNAN | D_NZERO, 0, D_QNAN, NV},
		{OP_FMUL_D, RNE, D_QNAN, D_PINF, 0, D_QNAN, 0},
		{OP_FDIV_D, RNE, D_QNAN, D_PZERO, 0, D_QNAN, 0},
		{OP_FSQRT_D, RNE, D_SNAN, 0, 0, D_QNAN, NV},
	};

	return RUN(t);
}

static int test_fma(void)
{
	const struct fcase t[] = {
		/* (1+2^-23)^2 - (1+2^-22) = 2^-46 exactly; mul-then-add would give 0 */
		{OP_FMADD_S, RNE, S_1P1ULP, S_1P1ULP, SB(0xbf800002), SB(0x28800000), 0},
		{OP_FMSUB_S, RNE, S_1P1ULP, S_1P1ULP, SB(0x3f800002), SB(0x28800000), 0},
		{OP_FMADD_D, RNE, D_1P1ULP, D_1P1ULP, 0xbff0000000000002ull, 0x3970000000000000ull,
		 0},
		{OP_FNMSUB_D, RMM, D_1P1ULP, D_1P1ULP, 0x3ff0000000000002ull, 0xb970000000000000ull,
		 0},
		/* signs of the four forms: a=1 b=2 c=3 */
		{OP_FMADD_S, RNE, S_ONE, S_TWO, SB(0x40400000), SB(0x40a00000), 0},
		{OP_FMSUB_S, RNE, S_ONE, S_TWO, SB(0x40400000), S_MONE, 0},
		{OP_FNMSUB_S, RNE, S_ONE, S_TWO, SB(0x40400000), S_ONE, 0},
		{OP_FNMADD_S, RNE, S_ONE, S_TWO, SB(0x40400000), SB(0xc0a00000), 0},
		{OP_FNMADD_D, RNE, D_ONE, D_TWO, 0x4008000000000000ull, 0xc014000000000000ull, 0},
		/* ties: 1*1 + 2^-24 */
		{OP_FMADD_S, RNE, S_ONE, S_ONE, S_HULP1, S_ONE, NX},
		{OP_FMADD_S, RMM, S_ONE, S_ONE, S_HULP1, S_1P1ULP, NX},
		{OP_FMADD_S, RUP, S_ONE, S_ONE, S_HULP1, S_1P1ULP, NX},
		{OP_FNMADD_S, RMM, S_ONE, S_ONE, S_HULP1, SB(0xbf800001), NX},
		{OP_FMADD_D, RMM, D_ONE, D_ONE, D_HULP1, D_1P1ULP, NX},
		{OP_FMADD_D, RNE, D_ONE, D_ONE, D_HULP1, D_ONE, NX},
		{OP_FMADD_D, RTZ, D_ONE, D_ONE, D_HULP1, D_ONE, NX},
		/* (1 + 2^-26)(1 + 2^-27) is a tie; a tiny addend moves it off the tie, which
		 * only a single rounding sees */
		{OP_FMADD_D, RMM, D_1P26, D_1P27, D_PZERO, 0x3ff0000006000001ull, NX},
		{OP_FMADD_D, RNE, D_1P26, D_1P27, D_PZERO, 0x3ff0000006000000ull, NX},
		{OP_FMADD_D, RMM, D_1P26, D_1P27, 0xbc90000000000000ull, 0x3ff0000006000000ull,
		 NX}, /* - 2^-54 */
		{OP_FMADD_D, RNE, D_1P26, D_1P27, 0x3960000000000000ull, 0x3ff0000006000001ull,
		 NX}, /* + 2^-105 */
		{OP_FMSUB_D, RTZ, D_1P26, D_1P27, 0xb960000000000000ull, 0x3ff0000006000000ull, NX},
		{OP_FMADD_S, RMM, SB(0x3f800800), SB(0x3f800800), SB(0xa7800000), SB(0x3f801000),
		 NX}, /* (1 + 2^-12)^2 - 2^-48 */
		/* exact zero: sign depends on the mode */
		{OP_FMADD_S, RNE, S_ONE, S_ONE, S_MONE, S_PZERO, 0},
		{OP_FMADD_S, RDN, S_ONE, S_ONE, S_MONE, S_NZERO, 0},
		{OP_FMADD_S, RMM, S_ONE, S_ONE, S_MONE, S_PZERO, 0},
		{OP_FNMADD_D, RNE, D_ONE, D_ONE, D_MONE, D_PZERO, 0},
		{OP_FMADD_D, RMM, D_NZERO, D_ONE, D_NZERO, D_NZERO, 0},
		/* invalid: inf*0 even with a quiet NaN addend; inf - inf */
		{OP_FMADD_S, RNE, S_PZERO, S_PINF, S_QNAN, S_QNAN, NV},
		{OP_FMADD_D, RNE, D_PINF, D_NZERO, D_QNAN, D_QNAN, NV},
		{OP_FNMSUB_D, RMM, D_PINF, D_PZERO, D_QNAN, D_QNAN, NV},
		{OP_FMADD_S, RNE, S_PINF, S_ONE, S_NINF, S_QNAN, NV},
		{OP_FMSUB_D, RTZ, D_PINF, D_ONE, D_PINF, D_QNAN, NV},
		{OP_FMADD_S, RNE, S_QNAN, S_ONE, S_ONE, S_QNAN, 0},
		{OP_FMADD_S, RNE, S_ONE, S_ONE, S_SNAN, S_QNAN, NV},
		{OP_FMADD_D, RMM, D_ONE, D_SNAN, D_ONE, D_QNAN, NV},
		/* overflow and underflow */
		{OP_FMADD_S, RNE, S_MAX, S_TWO, S_NMAX, S_MAX, 0},
		{OP_FMADD_S, RMM, S_MAX, S_TWO, S_ONE, S_PINF, OF | NX},
		{OP_FMADD_D, RTZ, D_MAX, D_TWO, D_ONE, D_MAX, OF | NX},
		{OP_FMADD_S, RMM, S_MINSUB, S_HALF, S_PZERO, S_MINSUB, UF | NX},
		{OP_FMADD_S, RNE, S_MINSUB, S_HALF, S_PZERO, S_PZERO, UF | NX},
		{OP_FMADD_D, RMM, D_MINSUB, D_HALF, D_NZERO, D_MINSUB, UF | NX},
	};

	return RUN(t);
}

static int test_sgnj_minmax(void)
{
	const struct fcase t[] = {
		{OP_FSGNJ_S, 0, S_ONE, S_MONE, 0, S_MONE, 0},
		{OP_FSGNJN_S, 0, S_ONE, S_MONE, 0, S_ONE, 0},
		{OP_FSGNJX_S, 0, S_MONE, S_MONE, 0, S_ONE, 0},
		{OP_FSGNJ_S, 0, S_SNAN, S_ONE, 0, S_SNAN, 0}, /* no NV, payload kept */
		{OP_FSGNJ_D, 0, D_MONE, D_PZERO, 0, D_ONE, 0},
		{OP_FSGNJN_D, 0, D_ONE, D_ONE, 0, D_MONE, 0},
		{OP_FSGNJX_D, 0, D_MONE, D_NZERO, 0, D_ONE, 0},
		{OP_FMIN_S, 0, S_PZERO, S_NZERO, 0, S_NZERO, 0},
		{OP_FMIN_S, 0, S_NZERO, S_PZERO, 0, S_NZERO, 0},
		{OP_FMAX_S, 0, S_NZERO, S_PZERO, 0, S_PZERO, 0},
		{OP_FMAX_S, 0, S_PZERO, S_NZERO, 0, S_PZERO, 0},
		{OP_FMIN_S, 0, S_ONE, S_TWO, 0, S_ONE, 0},
		{OP_FMAX_S, 0, S_MONE, SB(0xc0000000), 0, S_MONE, 0},
		{OP_FMIN_S, 0, S_NINF, S_ONE, 0, S_NINF, 0},
		{OP_FMIN_S, 0, S_QNAN, S_ONE, 0, S_ONE, 0},
		{OP_FMAX_S, 0, S_ONE, S_QNAN, 0, S_ONE, 0},
		{OP_FMIN_S, 0, S_SNAN, S_ONE, 0, S_ONE, NV},
		{OP_FMAX_S, 0, S_MONE, S_SNAN, 0, S_MONE, NV},
		{OP_FMIN_S, 0, S_QNAN, SB(0x7fc12345), 0, S_QNAN, 0},
		{OP_FMAX_S, 0, S_SNAN, S_SNAN, 0, S_QNAN, NV},
		{OP_FMIN_S, 0, S_SNAN, S_QNAN, 0, S_QNAN, NV},
		{OP_FMIN_D, 0, D_PZERO, D_NZERO, 0, D_NZERO, 0},
		{OP_FMAX_D, 0, D_NZERO, D_PZERO, 0, D_PZERO, 0},
		{OP_FMAX_D, 0, D_MONE, D_NINF, 0, D_MONE, 0},
		{OP_FMIN_D, 0, D_TWO, D_ONE, 0, D_ONE, 0},
		{OP_FMIN_D, 0, D_QNAN, D_MONE, 0, D_MONE, 0},
		{OP_FMAX_D, 0, D_SNAN, D_MONE, 0, D_MONE, NV},
		{OP_FMAX_D, 0, D_QNAN | 5, D_QNAN | 7, 0, D_QNAN, 0},
	};

	return RUN(t);
}

static int test_compare(void)
{
	const struct fcase t[] = {
		{OP_FEQ_S, 0, S_ONE, S_ONE, 0, 1, 0},
		{OP_FEQ_S, 0, S_ONE, S_TWO, 0, 0, 0},
		{OP_FEQ_S, 0, S_PZERO, S_NZERO, 0, 1, 0},
		{OP_FLT_S, 0, S_NZERO, S_PZERO, 0, 0, 0},
		{OP_FLE_S, 0, S_NZERO, S_PZERO, 0, 1, 0},
		{OP_FLT_S, 0, S_MONE, S_ONE, 0, 1, 0},
		{OP_FLT_S, 0, SB(0xc0000000), S_MONE, 0, 1, 0},
		{OP_FLE_S, 0, S_TWO, S_ONE, 0, 0, 0},
		{OP_FLT_S, 0, S_NINF, S_NMAX, 0, 1, 0},
		{OP_FEQ_S, 0, S_QNAN, S_QNAN, 0, 0, 0},
		{OP_FEQ_S, 0, S_QNAN, S_ONE, 0, 0, 0},
		{OP_FEQ_S, 0, S_SNAN, S_ONE, 0, 0, NV},
		{OP_FLT_S, 0, S_QNAN, S_ONE, 0, 0, NV},
		{OP_FLE_S, 0, S_ONE, S_QNAN, 0, 0, NV},
		{OP_FLE_S, 0, S_ONE, S_SNAN, 0, 0, NV},
		{OP_FEQ_D, 0, D_PZERO, D_NZERO, 0, 1, 0},
		{OP_FEQ_D, 0, D_SNAN, D_SNAN, 0, 0, NV},
		{OP_FEQ_D, 0, D_QNAN, D_ONE, 0, 0, 0},
		{OP_FLT_D, 0, D_QNAN, D_ONE, 0, 0, NV},
		{OP_FLT_D, 0, D_MONE, D_NZERO, 0, 1, 0},
		{OP_FLE_D, 0, D_MINSUB, D_PZERO, 0, 0, 0},
		{OP_FLE_D, 0, D_PINF, D_PINF, 0, 1, 0},
		{OP_FLT_D, 0, D_PINF, D_PINF, 0, 0, 0},
	};

	return RUN(t);
}

static int test_fclass(void)
{
	const struct fcase t[] = {
		{OP_FCLASS_S, 0, S_NINF, 0, 0, 1 << 0, 0},
		{OP_FCLASS_S, 0, S_MONE, 0, 0, 1 << 1, 0},
		{OP_FCLASS_S, 0, SB(0x807fffff), 0, 0, 1 << 2, 0},
		{OP_FCLASS_S, 0, S_NZERO, 0, 0, 1 << 3, 0},
		{OP_FCLASS_S, 0, S_PZERO, 0, 0, 1 << 4, 0},
		{OP_FCLASS_S, 0, S_MINSUB, 0, 0, 1 << 5, 0},
		{OP_FCLASS_S, 0, S_MINNORM, 0, 0, 1 << 6, 0},
		{OP_FCLASS_S, 0, S_PINF, 0, 0, 1 << 7, 0},
		{OP_FCLASS_S, 0, S_SNAN, 0, 0, 1 << 8, 0},
		{OP_FCLASS_S, 0, SB(0xffbfffff), 0, 0, 1 << 8, 0},
		{OP_FCLASS_S, 0, S_QNAN, 0, 0, 1 << 9, 0},
		{OP_FCLASS_S, 0, 0x000000003f800000ull, 0, 0, 1 << 9, 0}, /* unboxed */
		{OP_FCLASS_D, 0, D_NINF, 0, 0, 1 << 0, 0},
		{OP_FCLASS_D, 0, D_MONE, 0, 0, 1 << 1, 0},
		{OP_FCLASS_D, 0, 0x800fffffffffffffull, 0, 0, 1 << 2, 0},
		{OP_FCLASS_D, 0, D_NZERO, 0, 0, 1 << 3, 0},
		{OP_FCLASS_D, 0, D_PZERO, 0, 0, 1 << 4, 0},
		{OP_FCLASS_D, 0, D_MINSUB, 0, 0, 1 << 5, 0},
		{OP_FCLASS_D, 0, D_MAX, 0, 0, 1 << 6, 0},
		{OP_FCLASS_D, 0, D_PINF, 0, 0, 1 << 7, 0},
		{OP_FCLASS_D, 0, D_SNAN, 0, 0, 1 << 8, 0},
		{OP_FCLASS_D, 0, 0xfff8000000000001ull, 0, 0, 1 << 9, 0},
	};

	return RUN(t);
}

#define W_MAX  0x000000007fffffffull
#define W_MIN  0xffffffff80000000ull
#define X_ONES 0xffffffffffffffffull
#define L_MAX  0x7fffffffffffffffull
#define L_MIN  0x8000000000000000ull

/* float -> int: the spec's saturation table (table 11.4) and rounding. */
static int test_cvt_to_int(void)
{
	const struct fcase t[] = {
		/* NaN -> max positive */
		{OP_FCVT_W_S, RNE, S_QNAN, 0, 0, W_MAX, NV},
		{OP_FCVT_WU_S, RNE, S_SNAN, 0, 0, X_ONES, NV},
		{OP_FCVT_L_S, RNE, SB(0xffc00000), 0, 0, L_MAX, NV},
		{OP_FCVT_LU_S, RNE, S_QNAN, 0, 0, X_ONES, NV},
		{OP_FCVT_W_D, RNE, D_QNAN | D_NZERO, 0, 0, W_MAX, NV},
		{OP_FCVT_WU_D, RNE, D_SNAN, 0, 0, X_ONES, NV},
		{OP_FCVT_L_D, RNE, D_QNAN, 0, 0, L_MAX, NV},
		{OP_FCVT_LU_D, RNE, D_QNAN, 0, 0, X_ONES, NV},
		{OP_FCVT_W_S, RNE, 0x0000000012345678ull, 0, 0, W_MAX, NV}, /* unboxed */
		/* infinities */
		{OP_FCVT_W_S, RNE, S_NINF, 0, 0, W_MIN, NV},
		{OP_FCVT_W_S, RNE, S_PINF, 0, 0, W_MAX, NV},
		{OP_FCVT_WU_S, RNE, S_NINF, 0, 0, 0, NV},
		{OP_FCVT_WU_D, RNE, D_PINF, 0, 0, X_ONES, NV},
		{OP_FCVT_L_D, RNE, D_NINF, 0, 0, L_MIN, NV},
		{OP_FCVT_L_S, RNE, S_PINF, 0, 0, L_MAX, NV},
		{OP_FCVT_LU_D, RNE, D_NINF, 0, 0, 0, NV},
		{OP_FCVT_LU_S, RNE, S_PINF, 0, 0, X_ONES, NV},
		/* range edges */
		{OP_FCVT_W_S, RNE, SB(0x4f000000), 0, 0, W_MAX, NV},	    /* 2^31 */
		{OP_FCVT_W_S, RNE, SB(0xcf000000), 0, 0, W_MIN, 0},	    /* -2^31 */
		{OP_FCVT_W_S, RNE, SB(0x4effffff), 0, 0, 0x7fffff80ull, 0}, /* 2^31-128 */
		{OP_FCVT_WU_S, RNE, SB(0x4f800000), 0, 0, X_ONES, NV},	    /* 2^32 */
		{OP_FCVT_WU_S, RNE, SB(0x4f7fffff), 0, 0, 0xffffffffffffff00ull, 0},
		{OP_FCVT_WU_S, RNE, S_MONE, 0, 0, 0, NV},
		{OP_FCVT_L_D, RNE, 0x43e0000000000000ull, 0, 0, L_MAX, NV}, /* 2^63 */
		{OP_FCVT_L_D, RNE, 0xc3e0000000000000ull, 0, 0, L_MIN, 0},  /* -2^63 */
		{OP_FCVT_L_D, RNE, 0xc3e0000000000001ull, 0, 0, L_MIN, NV},
		{OP_FCVT_LU_D, RNE, 0x43f0000000000000ull, 0, 0, X_ONES, NV}, /* 2^64 */
		{OP_FCVT_LU_D, RNE, 0x43efffffffffffffull, 0, 0, 0xfffffffffffff800ull, 0},
		{OP_FCVT_LU_S, RNE, SB(0x5f7fffff), 0, 0, 0xffffff0000000000ull, 0},
		{OP_FCVT_L_S, RNE, SB(0x5f000000), 0, 0, L_MAX, NV},
		{OP_FCVT_L_S, RNE, SB(0x4f000000), 0, 0, 0x80000000ull, 0}, /* 2^31 fits */
		{OP_FCVT_W_D, RNE, 0x41f0000000000000ull, 0, 0, W_MAX, NV}, /* 2^32 */
		{OP_FCVT_W_D, RNE, 0xc1e0000000200000ull, 0, 0, W_MIN, NV}, /* -2^31-1 */
		/* 2147483647.5: rounds out of range in RNE/RUP/RMM only */
		{OP_FCVT_W_D, RNE, 0x41dfffffffe00000ull, 0, 0, W_MAX, NV},
		{OP_FCVT_W_D, RMM, 0x41dfffffffe00000ull, 0, 0, W_MAX, NV},
		{OP_FCVT_W_D, RUP, 0x41dfffffffe00000ull, 0, 0, W_MAX, NV},
		{OP_FCVT_W_D, RTZ, 0x41dfffffffe00000ull, 0, 0, W_MAX, NX},
		{OP_FCVT_W_D, RDN, 0x41dfffffffe00000ull, 0, 0, W_MAX, NX},
		/* -2147483648.5 */
		{OP_FCVT_W_D, RNE, 0xc1e0000000100000ull, 0, 0, W_MIN, NX},
		{OP_FCVT_W_D, RTZ, 0xc1e0000000100000ull, 0, 0, W_MIN, NX},
		{OP_FCVT_W_D, RUP, 0xc1e0000000100000ull, 0, 0, W_MIN, NX},
		{OP_FCVT_W_D, RDN, 0xc1e0000000100000ull, 0, 0, W_MIN, NV},
		{OP_FCVT_W_D, RMM, 0xc1e0000000100000ull, 0, 0, W_MIN, NV},
		/* small negatives to unsigned: 0 if they round to 0, else invalid */
		{OP_FCVT_WU_D, RTZ, 0xbfe0000000000000ull, 0, 0, 0, NX},
		{OP_FCVT_WU_D, RNE, 0xbfe0000000000000ull, 0, 0, 0, NX},
		{OP_FCVT_WU_D, RUP, 0xbfe0000000000000ull, 0, 0, 0, NX},
		{OP_FCVT_WU_D, RDN, 0xbfe0000000000000ull, 0, 0, 0, NV},
		{OP_FCVT_WU_D, RMM, 0xbfe0000000000000ull, 0, 0, 0, NV},
		{OP_FCVT_LU_S, RNE, S_NZERO, 0, 0, 0, 0},
		{OP_FCVT_LU_S, RNE, SB(0xbf400000), 0, 0, 0, NV}, /* -0.75 -> -1 */
		/* rounding 2.5, -2.5, 3.5 */
		{OP_FCVT_W_S, RNE, SB(0x40200000), 0, 0, 2, NX},
		{OP_FCVT_W_S, RTZ, SB(0x40200000), 0, 0, 2, NX},
		{OP_FCVT_W_S, RDN, SB(0x40200000), 0, 0, 2, NX},
		{OP_FCVT_W_S, RUP, SB(0x40200000), 0, 0, 3, NX},
		{OP_FCVT_W_S, RMM, SB(0x40200000), 0, 0, 3, NX},
		{OP_FCVT_W_S, RNE, SB(0xc0200000), 0, 0, (uint64_t)-2, NX},
		{OP_FCVT_W_S, RTZ, SB(0xc0200000), 0, 0, (uint64_t)-2, NX},
		{OP_FCVT_W_S, RDN, SB(0xc0200000), 0, 0, (uint64_t)-3, NX},
		{OP_FCVT_W_S, RUP, SB(0xc0200000), 0, 0, (uint64_t)-2, NX},
		{OP_FCVT_W_S, RMM, SB(0xc0200000), 0, 0, (uint64_t)-3, NX},
		{OP_FCVT_L_D, RNE, 0x400c000000000000ull, 0, 0, 4, NX},
		{OP_FCVT_L_D, RMM, 0xc00c000000000000ull, 0, 0, (uint64_t)-4, NX},
		{OP_FCVT_L_D, RNE, 0x4004000000000000ull, 0, 0, 2, NX}, /* 2.5 */
		{OP_FCVT_L_D, RNE, 0x4004000000000001ull, 0, 0, 3, NX}, /* just above 2.5 */
		{OP_FCVT_L_D, RMM, 0x4003ffffffffffffull, 0, 0, 2, NX}, /* just below */
		/* tiny values */
		{OP_FCVT_W_S, RNE, S_MINSUB, 0, 0, 0, NX},
		{OP_FCVT_W_S, RUP, S_MINSUB, 0, 0, 1, NX},
		{OP_FCVT_W_D, RDN, D_MINSUB | D_NZERO, 0, 0, X_ONES, NX},
		{OP_FCVT_L_D, RMM, D_HALF, 0, 0, 1, NX},
		{OP_FCVT_L_D, RNE, D_HALF, 0, 0, 0, NX},
		/* exact */
		{OP_FCVT_L_D, RNE, 0xc05ec00000000000ull, 0, 0, (uint64_t)-123, 0},
		{OP_FCVT_W_S, RMM, S_MONE, 0, 0, X_ONES, 0},
		{OP_FCVT_WU_S, RNE, SB(0x4f000000), 0, 0, 0xffffffff80000000ull, 0},
		{OP_FCVT_LU_D, RNE, 0x43e0000000000000ull, 0, 0, 0x8000000000000000ull, 0},
		{OP_FCVT_L_D, RNE, 0x4330000000000001ull, 0, 0, 0x10000000000001ull, 0},
	};

	return RUN(t);
}

/* int -> float: rounding of integers wider than the significand. */
static int test_cvt_from_int(void)
{
	const struct fcase t[] = {
		/* 2^24 + 1 ties between 2^24 and 2^24 + 2 */
		{OP_FCVT_S_W, RNE, 16777217, 0, 0, SB(0x4b800000), NX},
		{OP_FCVT_S_W, RTZ, 16777217, 0, 0, SB(0x4b800000), NX},
		{OP_FCVT_S_W, RDN, 16777217, 0, 0, SB(0x4b800000), NX},
		{OP_FCVT_S_W, RUP, 16777217, 0, 0, SB(0x4b800001), NX},
		{OP_FCVT_S_W, RMM, 16777217, 0, 0, SB(0x4b800001), NX},
		{OP_FCVT_S_W, RNE, (uint64_t)-16777217, 0, 0, SB(0xcb800000), NX},
		{OP_FCVT_S_W, RDN, (uint64_t)-16777217, 0, 0, SB(0xcb800001), NX},
		{OP_FCVT_S_W, RUP, (uint64_t)-16777217, 0, 0, SB(0xcb800000), NX},
		{OP_FCVT_S_W, RMM, (uint64_t)-16777217, 0, 0, SB(0xcb800001), NX},
		/* 2^24 + 3 ties between 2^24 + 2 (odd) and 2^24 + 4 */
		{OP_FCVT_S_W, RNE, 16777219, 0, 0, SB(0x4b800002), NX},
		{OP_FCVT_S_W, RMM, 16777219, 0, 0, SB(0x4b800002), NX},
		/* only the low 32 bits count for W/WU */
		{OP_FCVT_S_W, RNE, 0x12345678ffffffffull, 0, 0, S_MONE, 0},
		{OP_FCVT_S_WU, RNE, 0x12345678ffffffffull, 0, 0, SB(0x4f800000), NX},
		{OP_FCVT_S_WU, RTZ, 0xffffffffull, 0, 0, SB(0x4f7fffff), NX},
		{OP_FCVT_S_W, RNE, 0x80000000ull, 0, 0, SB(0xcf000000), 0},
		{OP_FCVT_S_W, RNE, 0, 0, 0, S_PZERO, 0},
		{OP_FCVT_S_W, RDN, 0, 0, 0, S_PZERO, 0},
		{OP_FCVT_S_L, RNE, L_MIN, 0, 0, SB(0xdf000000), 0},
		{OP_FCVT_S_LU, RNE, X_ONES, 0, 0, SB(0x5f800000), NX},
		{OP_FCVT_S_LU, RTZ, X_ONES, 0, 0, SB(0x5f7fffff), NX},
		{OP_FCVT_S_L, RNE, X_ONES, 0, 0, S_MONE, 0},
		{OP_FCVT_S_L, RNE, 1, 0, 0, S_ONE, 0},
		/* binary64 */
		{OP_FCVT_D_W, RNE, (uint64_t)-5, 0, 0, 0xc014000000000000ull, 0},
		{OP_FCVT_D_W, RNE, 0x80000000ull, 0, 0, 0xc1e0000000000000ull, 0},
		{OP_FCVT_D_WU, RNE, 0xffffffffull, 0, 0, 0x41efffffffe00000ull, 0},
		{OP_FCVT_D_L, RNE, L_MIN, 0, 0, 0xc3e0000000000000ull, 0},
		{OP_FCVT_D_LU, RNE, X_ONES, 0, 0, 0x43f0000000000000ull, NX},
		{OP_FCVT_D_LU, RTZ, X_ONES, 0, 0, 0x43efffffffffffffull, NX},
		{OP_FCVT_D_LU, RDN, X_ONES, 0, 0, 0x43efffffffffffffull, NX},
		{OP_FCVT_D_L, RNE, (1ull << 53) + 1, 0, 0, 0x4340000000000000ull, NX},
		{OP_FCVT_D_L, RMM, (1ull << 53) + 1, 0, 0, 0x4340000000000001ull, NX},
		{OP_FCVT_D_L, RMM, 0 - ((1ull << 53) + 1), 0, 0, 0xc340000000000001ull, NX},
		{OP_FCVT_D_L, RUP, 0 - ((1ull << 53) + 1), 0, 0, 0xc340000000000000ull, NX},
		{OP_FCVT_D_LU, RNE, (1ull << 53) + 3, 0, 0, 0x4340000000000002ull, NX},
		{OP_FCVT_D_L, RNE, 0, 0, 0, D_PZERO, 0},
	};

	return RUN(t);
}

/* float <-> double */
static int test_cvt_fp(void)
{
	const struct fcase t[] = {
		/* 1 + 2^-24 is a binary32 tie */
		{OP_FCVT_S_D, RNE, 0x3ff0000010000000ull, 0, 0, S_ONE, NX},
		{OP_FCVT_S_D, RMM, 0x3ff0000010000000ull, 0, 0, S_1P1ULP, NX},
		{OP_FCVT_S_D, RUP, 0x3ff0000010000000ull, 0, 0, S_1P1ULP, NX},
		{OP_FCVT_S_D, RTZ, 0x3ff0000010000000ull, 0, 0, S_ONE, NX},
		{OP_FCVT_S_D, RMM, 0xbff0000010000000ull, 0, 0, SB(0xbf800001), NX},
		{OP_FCVT_S_D, RDN, 0xbff0000010000000ull, 0, 0, SB(0xbf800001), NX},
		{OP_FCVT_S_D, RNE, 0x3ff0000000000000ull, 0, 0, S_ONE, 0},
		/* overflow */
		{OP_FCVT_S_D, RNE, D_MAX, 0, 0, S_PINF, OF | NX},
		{OP_FCVT_S_D, RTZ, D_MAX, 0, 0, S_MAX, OF | NX},
		{OP_FCVT_S_D, RMM, D_MAX | D_NZERO, 0, 0, S_NINF, OF | NX},
		{OP_FCVT_S_D, RUP, D_MAX | D_NZERO, 0, 0, S_NMAX, OF | NX},
		/* (max + ulp/2) of binary32 as a double: the RNE/RMM overflow threshold */
		{OP_FCVT_S_D, RMM, 0x47efffffF0000000ull, 0, 0, S_PINF, OF | NX},
		{OP_FCVT_S_D, RNE, 0x47efffffefffffffull, 0, 0, S_MAX, NX},
		{OP_FCVT_S_D, RMM, 0x47efffffefffffffull, 0, 0, S_MAX, NX},
		/* underflow */
		{OP_FCVT_S_D, RNE, 0x3000000000000000ull, 0, 0, S_PZERO, UF | NX},
		{OP_FCVT_S_D, RUP, 0x3000000000000000ull, 0, 0, S_MINSUB, UF | NX},
		{OP_FCVT_S_D, RMM, 0x3000000000000000ull, 0, 0, S_PZERO, UF | NX},
		/* 2.5 units of 2^-149 */
		{OP_FCVT_S_D, RNE, 0x36b4000000000000ull, 0, 0, SB(0x00000002), UF | NX},
		{OP_FCVT_S_D, RMM, 0x36b4000000000000ull, 0, 0, SB(0x00000003), UF | NX},
		{OP_FCVT_S_D, RMM, 0x36a0000000000000ull, 0, 0, S_MINSUB, 0}, /* exact 2^-149 */
		/* (1 - 2^-32) 2^-126: not tiny after rounding */
		{OP_FCVT_S_D, RNE, 0x380fffffffe00000ull, 0, 0, S_MINNORM, NX},
		{OP_FCVT_S_D, RMM, 0x380fffffffe00000ull, 0, 0, S_MINNORM, NX},
		{OP_FCVT_S_D, RTZ, 0x380fffffffe00000ull, 0, 0, SB(0x007fffff), UF | NX},
		/* (1 - 2^-24) 2^-126: exact at 24 bits, so tiny */
		{OP_FCVT_S_D, RNE, 0x380fffffe0000000ull, 0, 0, S_MINNORM, UF | NX},
		{OP_FCVT_S_D, RMM, 0x380fffffe0000000ull, 0, 0, S_MINNORM, UF | NX},
		/* (1 - 2^-23) 2^-126 is the largest subnormal: exact */
		{OP_FCVT_S_D, RMM, 0x380fffffc0000000ull, 0, 0, SB(0x007fffff), 0},
		/* specials */
		{OP_FCVT_S_D, RNE, D_SNAN, 0, 0, S_QNAN, NV},
		{OP_FCVT_S_D, RMM, D_SNAN, 0, 0, S_QNAN, NV},
		{OP_FCVT_S_D, RNE, D_QNAN | 0x123456789ull, 0, 0, S_QNAN, 0},
		{OP_FCVT_S_D, RMM, D_NINF, 0, 0, S_NINF, 0},
		{OP_FCVT_S_D, RMM, D_NZERO, 0, 0, S_NZERO, 0},
		{OP_FCVT_S_D, RTZ, D_PZERO, 0, 0, S_PZERO, 0},
		{OP_FCVT_D_S, RNE, S_SNAN, 0, 0, D_QNAN, NV},
		{OP_FCVT_D_S, RNE, SB(0xffc00001), 0, 0, D_QNAN, 0},
		{OP_FCVT_D_S, RNE, 0x000000003f800000ull, 0, 0, D_QNAN, 0}, /* unboxed */
		{OP_FCVT_D_S, RNE, SB(0x3fc00000), 0, 0, 0x3ff8000000000000ull, 0},
		{OP_FCVT_D_S, RMM, S_MINSUB, 0, 0, 0x36a0000000000000ull, 0},
		{OP_FCVT_D_S, RTZ, S_NINF, 0, 0, D_NINF, 0},
		{OP_FCVT_D_S, RDN, S_NZERO, 0, 0, D_NZERO, 0},
	};

	return RUN(t);
}

/* NaN-boxing: unboxed binary32 inputs read as the canonical NaN; results are boxed. */
static int test_nan_boxing(void)
{
	const struct fcase t[] = {
		{OP_FADD_S, RNE, 0x000000003f800000ull, S_ONE, 0, S_QNAN, 0},
		{OP_FADD_S, RNE, S_ONE, 0xfffffffe3f800000ull, 0, S_QNAN, 0},
		{OP_FMADD_S, RNE, S_ONE, S_ONE, 0x7fffffff3f800000ull, S_QNAN, 0},
		{OP_FADD_S, RNE, S_ONE, S_ONE, 0, S_TWO, 0},
		{OP_FSGNJ_S, 0, 0x000000003f800000ull, S_MONE, 0, SB(0xffc00000), 0},
		{OP_FSGNJ_S, 0, S_ONE, D_MONE, 0, S_ONE, 0}, /* D_MONE reads as +qNaN */
		{OP_FSGNJX_S, 0, S_MONE, 0x0000000080000000ull, 0, S_MONE, 0},
		{OP_FMIN_S, 0, D_ONE, S_MONE, 0, S_MONE, 0},
		{OP_FMAX_S, 0, D_ONE, D_ONE, 0, S_QNAN, 0},
		{OP_FEQ_S, 0, D_ONE, D_ONE, 0, 0, 0},
		{OP_FLT_S, 0, D_ONE, S_ONE, 0, 0, NV},
		{OP_FCVT_S_D, RNE, D_ONE, 0, 0, S_ONE, 0},
		/* FMV.X.W moves the raw low 32 bits, sign-extended; FMV.W.X boxes */
		{OP_FMV_X_W, 0, 0x1234567887654321ull, 0, 0, 0xffffffff87654321ull, 0},
		{OP_FMV_X_W, 0, SB(0x3f800000), 0, 0, 0x3f800000ull, 0},
		{OP_FMV_W_X, 0, 0x123456789abcdef0ull, 0, 0, 0xffffffff9abcdef0ull, 0},
		{OP_FMV_X_D, 0, 0x123456789abcdef0ull, 0, 0, 0x123456789abcdef0ull, 0},
		{OP_FMV_D_X, 0, 0x7ff0000000000001ull, 0, 0, 0x7ff0000000000001ull, 0},
		/* double ops ignore boxing */
		{OP_FADD_D, RNE, SB(0), D_ONE, 0, D_QNAN, 0}, /* a qNaN with payload */
	};

	return RUN(t);
}

/* Quick check of one op through a fresh hart, for the state-handling tests. */
static int exec3(struct hart *h, enum op_kind k, uint64_t a, uint64_t b, unsigned rm)
{
	h->f[1] = a;
	h->f[2] = b;
	return fpu_exec(h, k, 4, 1, 2, 3, rm);
}

/* Reserved rounding modes are illegal and change nothing. */
static int test_reserved_rm(void)
{
	static const enum op_kind ks[] = {OP_FADD_S,   OP_FMUL_D,   OP_FSQRT_S,	 OP_FMADD_D,
					  OP_FCVT_W_S, OP_FCVT_D_L, OP_FCVT_S_D, OP_FCVT_D_S,
					  OP_FNMADD_S, OP_FDIV_D};
	struct hart *h = new_hart();

	CHECK(h != NULL);
	for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		for (unsigned rm = 5; rm <= 7; rm++) {
			for (unsigned frm = 0; frm <= 7; frm++) {
				bool illegal = rm != 7 || frm >= 5;

				h->frm = frm;
				h->mstatus = FS_INITIAL;
				h->f[4] = 0x1111;
				h->x[4] = 0x2222;
				fpu_set_fflags(h, 0);
				if (!illegal)
					continue;
				CHECK_EQ(exec3(h, ks[i], S_ONE, S_SNAN, rm), -1);
				CHECK_EQ(h->f[4], 0x1111);
				CHECK_EQ(h->x[4], 0x2222);
				CHECK_EQ(fpu_get_fflags(h), 0);
				CHECK_EQ(h->mstatus, FS_INITIAL);
			}
		}
	}
	/* funct3 of sign injection, min/max, compares is not a rounding mode */
	h->frm = 6;
	CHECK_EQ(exec3(h, OP_FMAX_D, D_ONE, D_TWO, 7), 0);
	CHECK_EQ(h->f[4], D_TWO);
	/* a legal dynamic mode works after an illegal one */
	h->frm = RTZ;
	CHECK_EQ(exec3(h, OP_FDIV_S, S_ONE, SB(0x40400000), 7), 0);
	CHECK_EQ(h->f[4], SB(0x3eaaaaaa));
	free(h);
	return 0;
}

/* Flags are sticky, readable and writable; FS becomes dirty when state changes. */
static int test_flags_and_fs(void)
{
	struct hart *h = new_hart();

	CHECK(h != NULL);
	CHECK_EQ(exec3(h, OP_FDIV_D, D_ONE, 0x4008000000000000ull, RNE), 0);
	CHECK_EQ(fpu_get_fflags(h), NX);
	CHECK_EQ(h->mstatus & MSTATUS_FS, MSTATUS_FS);
	CHECK_EQ(exec3(h, OP_FDIV_D, D_ONE, D_PZERO, RNE), 0); /* host flag */
	CHECK_EQ(exec3(h, OP_FEQ_S, S_SNAN, S_ONE, 0), 0);     /* software flag */
	CHECK_EQ(exec3(h, OP_FADD_D, D_ONE, D_ONE, RUP), 0);   /* no new flag */
	CHECK_EQ(fpu_get_fflags(h), NX | DZ | NV);
	CHECK_EQ(exec3(h, OP_FMUL_S, S_MAX, S_TWO, RMM), 0);
	CHECK_EQ(fpu_get_fflags(h), NX | DZ | NV | OF);
	fpu_set_fflags(h, UF);
	CHECK_EQ(fpu_get_fflags(h), UF);
	CHECK_EQ(exec3(h, OP_FADD_S, S_ONE, S_ONE, RNE), 0);
	CHECK_EQ(fpu_get_fflags(h), UF);
	fpu_set_fflags(h, 0xffffffff);
	CHECK_EQ(fpu_get_fflags(h), 0x1f);
	fpu_set_fflags(h, 0);
	CHECK_EQ(fpu_get_fflags(h), 0);

	/* integer results dirty FS only when they raise a flag */
	h->mstatus = FS_INITIAL;
	CHECK_EQ(exec3(h, OP_FLT_D, D_ONE, D_TWO, 0), 0);
	CHECK_EQ(h->x[4], 1);
	CHECK_EQ(exec3(h, OP_FCVT_W_D, D_TWO, 0, RNE), 0);
	CHECK_EQ(h->x[4], 2);
	CHECK_EQ(exec3(h, OP_FCLASS_D, D_TWO, 0, 0), 0);
	CHECK_EQ(exec3(h, OP_FMV_X_D, D_TWO, 0, 0), 0);
	CHECK_EQ(h->mstatus, FS_INITIAL);
	CHECK_EQ(exec3(h, OP_FCVT_W_D, D_HALF, 0, RNE), 0);
	CHECK_EQ(h->mstatus & MSTATUS_FS, MSTATUS_FS);
	h->mstatus = FS_INITIAL;
	CHECK_EQ(exec3(h, OP_FSGNJ_D, D_TWO, D_TWO, 0), 0);
	CHECK_EQ(h->mstatus & MSTATUS_FS, MSTATUS_FS);

	/* rd = 0 discards integer results */
	fpu_set_fflags(h, 0);
	h->x[0] = 0;
	h->f[1] = D_SNAN;
	CHECK_EQ(fpu_exec(h, OP_FCVT_L_D, 0, 1, 0, 0, RNE), 0);
	CHECK_EQ(fpu_exec(h, OP_FCLASS_D, 0, 1, 0, 0, 0), 0);
	CHECK_EQ(fpu_exec(h, OP_FMV_X_D, 0, 1, 0, 0, 0), 0);
	CHECK_EQ(h->x[0], 0);
	CHECK_EQ(fpu_get_fflags(h), NV);
	/* integer sources read x0 as zero */
	CHECK_EQ(fpu_exec(h, OP_FCVT_D_L, 5, 0, 0, 0, RNE), 0);
	CHECK_EQ(h->f[5], D_PZERO);
	CHECK_EQ(fpu_exec(h, OP_FMV_W_X, 5, 0, 0, 0, 0), 0);
	CHECK_EQ(h->f[5], SB(0));
	/* rd may equal a source */
	h->f[6] = S_ONE;
	CHECK_EQ(fpu_exec(h, OP_FADD_S, 6, 6, 6, 0, RNE), 0);
	CHECK_EQ(h->f[6], S_TWO);
	free(h);
	return 0;
}

static const struct unit_test tests[] = {
	{"add_rounding", test_add_rounding},
	{"mul_div_sqrt", test_mul_div_sqrt},
	{"overflow", test_overflow},
	{"underflow", test_underflow},
	{"signed_zero", test_signed_zero},
	{"nan", test_nan},
	{"fma", test_fma},
	{"sgnj_minmax", test_sgnj_minmax},
	{"compare", test_compare},
	{"fclass", test_fclass},
	{"cvt_to_int", test_cvt_to_int},
	{"cvt_from_int", test_cvt_from_int},
	{"cvt_fp", test_cvt_fp},
	{"nan_boxing", test_nan_boxing},
	{"reserved_rm", test_reserved_rm},
	{"flags_and_fs", test_flags_and_fs},
};

UNIT_MAIN("fpu", tests)
