/*
 * F and D extension arithmetic (unprivileged spec chapters 11-12, IEEE 754-2008 binary32 and
 * binary64). binary32 values live NaN-boxed in the 64-bit f registers: an improperly boxed
 * input reads as the canonical NaN, and every NaN result is the canonical NaN.
 *
 * The host's SSE unit computes add/sub/mul/div/sqrt/fma and float<->double in RNE, RTZ, RDN
 * and RUP (MXCSR.RC is switched around the op for the directed modes). x86 has no ties-away
 * mode, so RMM computes the op in a wider format rounded to odd (binary64 for binary32,
 * __float128 for binary64) and rounds that once more in software (round_pack), which gives
 * the correctly rounded result because the wide format has at least p + 2 bits. Compares,
 * min/max, sign injection, fclass and the int<->float conversions are integer code.
 */
#include "cpu/fpu.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "core/util.h"
#include "cpu/hart.h"

/*
 * Accrued flags are lazy. SSE detects tininess after rounding, as RISC-V does, so the sticky
 * MXCSR flags raised by the host ops are exactly the RISC-V flags of those ops. They stay in
 * MXCSR and are folded in when software reads fflags; h->fflags holds the flags raised by
 * the software paths and the value last written by fpu_set_fflags. This relies on:
 *  - one hart per host thread, and no other floating-point code running on that thread
 *    (it would add spurious flags): the rest of the emulator does no FP on hart threads;
 *  - fpu_set_fflags() having been called on the hart's thread before it runs guest code,
 *    which resets MXCSR (RNE, exceptions masked, no FTZ/DAZ, no flags);
 *  - MXCSR.RC being RNE outside this file's directed-rounding windows.
 * The software paths never execute a host FP op that could raise a flag of its own, except
 * inside windows that save and restore MXCSR.
 */
/* Flags are observable here, so the compiler must not speculate or fold FP operations. GCC's
 * default -ftrapping-math already keeps them in place; clang needs to be told. */
#ifdef __clang__
#pragma STDC FENV_ACCESS ON
#endif

#if !defined(__x86_64__)
#error "fpu.c drives the x86-64 SSE unit (MXCSR); port the mxcsr_* helpers for this host"
#endif

#define MXCSR_DEFAULT 0x1f80u /* all exceptions masked, RNE, no FTZ/DAZ, flags clear */
#define MXCSR_IE      0x01u
#define MXCSR_ZE      0x04u
#define MXCSR_OE      0x08u
#define MXCSR_UE      0x10u
#define MXCSR_PE      0x20u
#define MXCSR_RC      (3u << 13)
#define MXCSR_RC_RTZ  (3u << 13)

/* For the integer helpers on the float->int path, which is otherwise call-bound. */
#define ALWAYS_INLINE inline __attribute__((always_inline))

#define BOX32	 0xffffffff00000000ull
#define F32_SIGN 0x80000000ull
#define F64_SIGN 0x8000000000000000ull

/* A value's format: precision p (with the hidden bit), exponent range, and the encodings
 * that classification needs. Bit patterns of either width travel in a uint64_t. */
struct fmt {
	unsigned p;
	int emin, emax;
	unsigned width;
	uint64_t sign, inf, qnan;
};

static const struct fmt fmt_s = {24, -126, 127, 32, F32_SIGN, 0x7f800000, 0x7fc00000};
static const struct fmt fmt_d = {
	53, -1022, 1023, 64, F64_SIGN, 0x7ff0000000000000ull, 0x7ff8000000000000ull};

/* The arithmetic shapes; SUB and the FMA variants become these by negating operands,
 * which is exact and keeps signaling NaNs signaling. */
enum arith { AR_ADD, AR_MUL, AR_DIV, AR_SQRT, AR_FMA };

/* MXCSR.RC for RNE, RTZ, RDN, RUP (RMM never reaches the host unrounded). */
static const uint32_t mxcsr_rc[5] = {0u << 13, 3u << 13, 1u << 13, 2u << 13, 0u << 13};

/* ---- host FPU access ---- */

static inline uint32_t mxcsr_get(void)
{
	uint32_t v;

	__asm__ volatile("stmxcsr %0" : "=m"(v));
	return v;
}

static inline void mxcsr_set(uint32_t v)
{
	__asm__ volatile("ldmxcsr %0" : : "m"(v));
}

/* Pins a value in a register at this point of the instruction stream. Ops whose inputs pass
 * through a barrier after an ldmxcsr, and whose result passes through one before the next,
 * execute under that MXCSR: the compiler may not reorder volatile asms among themselves. */
#define FP_BARRIER(v) __asm__ volatile("" : "+x"(v))

static uint32_t fflags_of_mxcsr(uint32_t mx)
{
	return ((mx & MXCSR_IE) ? FFLAG_NV : 0) | ((mx & MXCSR_ZE) ? FFLAG_DZ : 0) |
	       ((mx & MXCSR_OE) ? FFLAG_OF : 0) | ((mx & MXCSR_UE) ? FFLAG_UF : 0) |
	       ((mx & MXCSR_PE) ? FFLAG_NX : 0);
}

static inline float s_val(uint64_t b)
{
	uint32_t w = (uint32_t)b;
	float f;

	memcpy(&f, &w, sizeof(f));
	return f;
}

static inline uint64_t s_bits(float f)
{
	uint32_t w;

	memcpy(&w, &f, sizeof(w));
	return w;
}

static inline double d_val(uint64_t b)
{
	double d;

	memcpy(&d, &b, sizeof(d));
	return d;
}

static inline uint64_t d_bits(double d)
{
	uint64_t b;

	memcpy(&b, &d, sizeof(b));
	return b;
}

/* sqrt through the instruction: the libm call path would also set errno. */
static inline float host_sqrt_s(float a)
{
	float r;

	__asm__("sqrtss %1, %0" : "=x"(r) : "x"(a));
	return r;
}

static inline double host_sqrt_d(double a)
{
	double r;

	__asm__("sqrtsd %1, %0" : "=x"(r) : "x"(a));
	return r;
}

/* One correctly rounded host op under the current MXCSR; glibc's fma/fmaf use the FMA
 * instructions where present and are correctly rounded with exact flags either way. */
static inline float host_op_s(enum arith op, float a, float b, float c)
{
	switch (op) {
	case AR_ADD:
		return a + b;
	case AR_MUL:
		return a * b;
	case AR_DIV:
		return a / b;
	case AR_SQRT:
		return host_sqrt_s(a);
	default:
		return fmaf(a, b, c);
	}
}

static inline double host_op_d(enum arith op, double a, double b, double c)
{
	switch (op) {
	case AR_ADD:
		return a + b;
	case AR_MUL:
		return a * b;
	case AR_DIV:
		return a / b;
	case AR_SQRT:
		return host_sqrt_d(a);
	default:
		return fma(a, b, c);
	}
}

/* The host op with MXCSR.RC = rc; the flags it raises stay in MXCSR. */
static NOINLINE float host_op_s_rc(enum arith op, float a, float b, float c, uint32_t rc)
{
	uint32_t mx = mxcsr_get();
	float r;

	mxcsr_set((mx & ~MXCSR_RC) | rc);
	FP_BARRIER(a);
	FP_BARRIER(b);
	FP_BARRIER(c);
	r = host_op_s(op, a, b, c);
	FP_BARRIER(r);
	mxcsr_set((mxcsr_get() & ~MXCSR_RC) | (mx & MXCSR_RC));
	return r;
}

static NOINLINE double host_op_d_rc(enum arith op, double a, double b, double c, uint32_t rc)
{
	uint32_t mx = mxcsr_get();
	double r;

	mxcsr_set((mx & ~MXCSR_RC) | rc);
	FP_BARRIER(a);
	FP_BARRIER(b);
	FP_BARRIER(c);
	r = host_op_d(op, a, b, c);
	FP_BARRIER(r);
	mxcsr_set((mxcsr_get() & ~MXCSR_RC) | (mx & MXCSR_RC));
	return r;
}

static NOINLINE float host_cvt_s_d_rc(double a, uint32_t rc)
{
	uint32_t mx = mxcsr_get();
	float r;

	mxcsr_set((mx & ~MXCSR_RC) | rc);
	FP_BARRIER(a);
	r = (float)a;
	FP_BARRIER(r);
	mxcsr_set((mxcsr_get() & ~MXCSR_RC) | (mx & MXCSR_RC));
	return r;
}

/* ---- classification on bit patterns (never touches host flags) ---- */

static inline bool is_nan(const struct fmt *f, uint64_t b)
{
	return (b & ~f->sign) > f->inf;
}

static inline bool is_snan(const struct fmt *f, uint64_t b)
{
	return is_nan(f, b) && !(b & (f->qnan & ~f->inf));
}

static inline bool is_finite(const struct fmt *f, uint64_t b)
{
	return (b & f->inf) != f->inf;
}

static inline bool is_zero(const struct fmt *f, uint64_t b)
{
	return (b & ~f->sign) == 0;
}

static inline bool is_inf(const struct fmt *f, uint64_t b)
{
	return (b & ~f->sign) == f->inf;
}

/* ---- software rounding ---- */

/* A finite value (-1)^neg * sig * 2^(exp - 63); sig is 0 or has bit 63 set. Infinities
 * unpack with a huge exp so that range checks reject them. */
struct unpacked {
	bool neg;
	int exp;
	uint64_t sig;
};

#define EXP_HUGE 100000

static ALWAYS_INLINE struct unpacked unpack(const struct fmt *f, uint64_t b)
{
	unsigned man_bits = f->p - 1;
	int bias = f->emax;
	unsigned e = (unsigned)((b & ~f->sign) >> man_bits);
	uint64_t m = b & ((1ull << man_bits) - 1);
	struct unpacked u = {.neg = (b & f->sign) != 0, .exp = 0, .sig = 0};
	int z;

	if (is_inf(f, b)) {
		u.exp = EXP_HUGE;
		u.sig = 1ull << 63;
	} else if (e != 0) {
		u.exp = (int)e - bias;
		u.sig = (m | 1ull << man_bits) << (63 - man_bits);
	} else if (m != 0) {
		/* subnormal: m * 2^(emin - man_bits), normalized */
		z = __builtin_clzll(m);
		u.exp = f->emin - (int)man_bits + 63 - z;
		u.sig = m << z;
	}
	return u;
}

/* A binary128 result of a wide op (normal or zero), its 113-bit significand squeezed into 64
 * bits with the rest ORed into bit 0, which keeps a rounded-to-odd value rounded to odd. */
static struct unpacked unpack_q(__float128 q)
{
	uint64_t w[2];
	struct unpacked u;
	unsigned e;

	memcpy(w, &q, sizeof(w)); /* little-endian: w[1] holds sign, exponent, top fraction */
	e = (unsigned)(w[1] >> 48) & 0x7fff;
	u.neg = (w[1] >> 63) != 0;
	u.exp = (int)e - 16383;
	u.sig = 0;
	if (e != 0)
		u.sig = 1ull << 63 | (w[1] & ((1ull << 48) - 1)) << 15 | w[0] >> 49 |
			((w[0] & ((1ull << 49) - 1)) != 0);
	return u;
}

/* v >> n, ORing the bits shifted out into bit 0 (n >= 1). */
static inline uint64_t shift_jam(uint64_t v, unsigned n)
{
	if (n >= 64)
		return v != 0;
	return (v >> n) | ((v << (64 - n)) != 0);
}

/* Rounds v to an integer after dropping its `drop` low bits (drop >= 1) in mode rm, for a
 * value of sign neg. Sets *inexact when a dropped bit was set. */
static ALWAYS_INLINE uint64_t round_bits(uint64_t v, unsigned drop, bool neg, unsigned rm,
					 bool *inexact)
{
	uint64_t q, rem, half;
	bool up;

	if (drop > 62) {
		/* keep a round bit and a sticky bit below the rounding point */
		v = shift_jam(v, drop - 62);
		drop = 62;
	}
	q = v >> drop;
	rem = v & ((1ull << drop) - 1);
	half = 1ull << (drop - 1);
	*inexact = rem != 0;
	switch (rm) {
	case RM_RNE:
		up = rem > half || (rem == half && (q & 1));
		break;
	case RM_RMM:
		up = rem >= half;
		break;
	case RM_RDN:
		up = neg && rem != 0;
		break;
	case RM_RUP:
		up = !neg && rem != 0;
		break;
	default:
		up = false;
		break;
	}
	return q + up;
}

static uint64_t overflow(const struct fmt *f, bool neg, unsigned rm, uint32_t *flags)
{
	bool to_inf =
		rm == RM_RNE || rm == RM_RMM || (rm == RM_RDN && neg) || (rm == RM_RUP && !neg);

	*flags |= FFLAG_OF | FFLAG_NX;
	return (neg ? f->sign : 0) | (to_inf ? f->inf : f->inf - 1);
}

/* Rounds u to format f in mode rm (0..4), adding NX/UF/OF to *flags. u.sig's bit 0 may be
 * a sticky bit: a value rounded to odd at >= p + 2 bits rounds exactly as the true value.
 * Tininess is detected after rounding (RISC-V): rounding to p bits with unbounded exponent. */
static uint64_t round_pack(const struct fmt *f, struct unpacked u, unsigned rm, uint32_t *flags)
{
	uint64_t sign = u.neg ? f->sign : 0;
	unsigned drop = 64 - f->p;
	bool tiny = false, nx, unused;
	uint64_t q;

	if (u.sig == 0)
		return sign;
	if (u.exp < f->emin) {
		/* only a value just under 2^emin can round up out of the tiny range */
		tiny = u.exp < f->emin - 1 ||
		       round_bits(u.sig, drop, u.neg, rm, &unused) >> f->p == 0;
		drop += (unsigned)(f->emin - u.exp);
	}
	q = round_bits(u.sig, drop, u.neg, rm, &nx);
	if (nx)
		*flags |= FFLAG_NX | (tiny ? FFLAG_UF : 0);
	if (u.exp < f->emin) {
		/* subnormal encoding; q == 2^(p-1) carries into the exponent field: 2^emin */
		return sign | q;
	}
	if (q >> f->p) {
		q >>= 1;
		u.exp++;
	}
	if (u.exp > f->emax)
		return overflow(f, u.neg, rm, flags);
	return sign | (((uint64_t)(u.exp + f->emax - 1) << (f->p - 1)) + q);
}

/* ---- register access and flags ---- */

static inline uint64_t rd_s(const struct hart *h, unsigned r)
{
	uint64_t v = h->f[r];

	return (v >> 32) == 0xffffffffu ? (v & 0xffffffffu) : fmt_s.qnan;
}

static inline uint64_t rd_f(const struct hart *h, const struct fmt *f, unsigned r)
{
	return f->width == 32 ? rd_s(h, r) : h->f[r];
}

/* FS is almost always Dirty already: test before writing, so that the common case does no
 * read-modify-write of mstatus (which the interpreter reads on every FP instruction). */
static inline void mark_dirty(struct hart *h)
{
	if (unlikely((h->mstatus & MSTATUS_FS) != MSTATUS_FS))
		hart_fs_dirty(h);
}

static inline void wr_f(struct hart *h, const struct fmt *f, unsigned rd, uint64_t v)
{
	h->f[rd] = f->width == 32 ? BOX32 | v : v;
	mark_dirty(h);
}

static inline void wr_x(struct hart *h, unsigned rd, uint64_t v)
{
	if (rd != 0)
		h->x[rd] = v;
}

/* Accrues flags raised by software paths. */
static inline void raise_flags(struct hart *h, uint32_t flags)
{
	if (flags) {
		h->fflags |= flags;
		mark_dirty(h);
	}
}

/* The effective rounding mode (0..4), or -1 when it is reserved. */
static inline int resolve_rm(const struct hart *h, unsigned rm)
{
	if (rm == RM_DYN)
		rm = h->frm;
	return rm <= RM_RMM ? (int)rm : -1;
}

/* ---- arithmetic ---- */

/* RMM needs no wide path when the RNE result is exact by construction: NaN or infinite
 * operands, division by zero, and sqrt (a square root is never a tie: its result is
 * normal and a midpoint squared does not fit in p bits). */
static bool rmm_needs_wide(const struct fmt *f, enum arith op, uint64_t a, uint64_t b, uint64_t c)
{
	switch (op) {
	case AR_SQRT:
		return false;
	case AR_DIV:
		return is_finite(f, a) && is_finite(f, b) && !is_zero(f, b);
	case AR_FMA:
		return is_finite(f, a) && is_finite(f, b) && is_finite(f, c);
	default:
		return is_finite(f, a) && is_finite(f, b);
	}
}

/* RMM for binary32, finite operands: the op in binary64 rounded to odd (RTZ, then the
 * inexact flag as the last bit), rounded again to binary32 in software. binary64 holds
 * every product of binary32 values exactly and never overflows or underflows here. */
static NOINLINE uint64_t rmm_s(struct hart *h, enum arith op, uint64_t a, uint64_t b, uint64_t c)
{
	double da = (double)s_val(a), db = (double)s_val(b), dc = (double)s_val(c), r;
	uint32_t mx = mxcsr_get(), flags = 0;
	uint64_t odd, res;

	mxcsr_set(MXCSR_DEFAULT | MXCSR_RC_RTZ);
	FP_BARRIER(da);
	FP_BARRIER(db);
	FP_BARRIER(dc);
	r = host_op_d(op, da, db, dc);
	FP_BARRIER(r);
	odd = d_bits(r) | ((mxcsr_get() & MXCSR_PE) != 0);
	mxcsr_set(mx); /* drops the wide op's flags; round_pack computes the real ones */
	res = round_pack(&fmt_s, unpack(&fmt_d, odd), RM_RMM, &flags);
	raise_flags(h, flags);
	return res;
}

/* RMM for binary64, finite operands: the same through binary128 (libgcc's soft-fp honours
 * MXCSR.RC and raises PE). A binary64 product is exact in binary128, so FMA rounds once. */
static NOINLINE uint64_t rmm_d(struct hart *h, enum arith op, uint64_t a, uint64_t b, uint64_t c)
{
	__float128 qa = (__float128)d_val(a), qb = (__float128)d_val(b), qc = (__float128)d_val(c);
	__float128 r;
	uint32_t mx = mxcsr_get(), flags = 0;
	struct unpacked u;
	uint64_t res;

	mxcsr_set(MXCSR_DEFAULT | MXCSR_RC_RTZ);
	FP_BARRIER(qa);
	FP_BARRIER(qb);
	FP_BARRIER(qc);
	switch (op) {
	case AR_ADD:
		r = qa + qb;
		break;
	case AR_MUL:
		r = qa * qb;
		break;
	case AR_DIV:
		r = qa / qb;
		break;
	default:
		r = qa * qb + qc;
		break;
	}
	FP_BARRIER(r);
	u = unpack_q(r);
	u.sig |= (mxcsr_get() & MXCSR_PE) != 0;
	mxcsr_set(mx);
	res = round_pack(&fmt_d, u, RM_RMM, &flags);
	raise_flags(h, flags);
	return res;
}

/* A NaN result: canonical, and FMA raises NV for inf * 0 even when the addend is a quiet
 * NaN (spec 11.6), which the host need not do. */
static uint64_t nan_result(struct hart *h, const struct fmt *f, enum arith op, uint64_t a,
			   uint64_t b)
{
	if (op == AR_FMA && ((is_inf(f, a) && is_zero(f, b)) || (is_zero(f, a) && is_inf(f, b))))
		raise_flags(h, FFLAG_NV);
	return f->qnan;
}

static NOINLINE uint64_t arith_s_slow(struct hart *h, enum arith op, uint64_t a, uint64_t b,
				      uint64_t c, unsigned mode)
{
	if (mode == RM_RMM) {
		if (rmm_needs_wide(&fmt_s, op, a, b, c))
			return rmm_s(h, op, a, b, c);
		mode = RM_RNE;
	}
	return s_bits(host_op_s_rc(op, s_val(a), s_val(b), s_val(c), mxcsr_rc[mode]));
}

static NOINLINE uint64_t arith_d_slow(struct hart *h, enum arith op, uint64_t a, uint64_t b,
				      uint64_t c, unsigned mode)
{
	if (mode == RM_RMM) {
		if (rmm_needs_wide(&fmt_d, op, a, b, c))
			return rmm_d(h, op, a, b, c);
		mode = RM_RNE;
	}
	return d_bits(host_op_d_rc(op, d_val(a), d_val(b), d_val(c), mxcsr_rc[mode]));
}

/* The common path, RNE, is the bare host op: MXCSR.RC is already RNE. */
static inline int arith_s(struct hart *h, enum arith op, unsigned rd, uint64_t a, uint64_t b,
			  uint64_t c, unsigned rm)
{
	int mode = resolve_rm(h, rm);
	uint64_t r;

	if (likely(mode == RM_RNE))
		r = s_bits(host_op_s(op, s_val(a), s_val(b), s_val(c)));
	else if (mode < 0)
		return -1;
	else
		r = arith_s_slow(h, op, a, b, c, (unsigned)mode);
	if (unlikely(is_nan(&fmt_s, r)))
		r = nan_result(h, &fmt_s, op, a, b);
	wr_f(h, &fmt_s, rd, r);
	return 0;
}

static inline int arith_d(struct hart *h, enum arith op, unsigned rd, uint64_t a, uint64_t b,
			  uint64_t c, unsigned rm)
{
	int mode = resolve_rm(h, rm);
	uint64_t r;

	if (likely(mode == RM_RNE))
		r = d_bits(host_op_d(op, d_val(a), d_val(b), d_val(c)));
	else if (mode < 0)
		return -1;
	else
		r = arith_d_slow(h, op, a, b, c, (unsigned)mode);
	if (unlikely(is_nan(&fmt_d, r)))
		r = nan_result(h, &fmt_d, op, a, b);
	wr_f(h, &fmt_d, rd, r);
	return 0;
}

/* FMADD, FMSUB, FNMSUB, FNMADD (k = 0..3) as one fma with negated operands:
 * a*b + c, a*b - c, -(a*b) + c, -(a*b) - c. */
static int fma_op(struct hart *h, const struct fmt *f, unsigned k, unsigned rd, unsigned rs1,
		  unsigned rs2, unsigned rs3, unsigned rm)
{
	uint64_t a = rd_f(h, f, rs1), b = rd_f(h, f, rs2), c = rd_f(h, f, rs3);

	if (k & 1)
		c ^= f->sign;
	if (k & 2)
		a ^= f->sign;
	if (f->width == 32)
		return arith_s(h, AR_FMA, rd, a, b, c, rm);
	return arith_d(h, AR_FMA, rd, a, b, c, rm);
}

/* ---- sign injection, min/max, compares, class (no rounding, rm is funct3) ---- */

static uint64_t sgnj(const struct fmt *f, unsigned k, uint64_t a, uint64_t b)
{
	uint64_t mag = a & ~f->sign;

	switch (k) {
	case 0:
		return mag | (b & f->sign);
	case 1:
		return mag | (~b & f->sign);
	default:
		return a ^ (b & f->sign);
	}
}

/* Orders non-NaN values as numbers, with -0 just below +0. */
static inline int64_t total_key(const struct fmt *f, uint64_t b)
{
	int64_t mag = (int64_t)(b & ~f->sign);

	return (b & f->sign) ? -mag - 1 : mag;
}

/* Orders non-NaN values as numbers, with -0 == +0. */
static inline int64_t num_key(const struct fmt *f, uint64_t b)
{
	int64_t mag = (int64_t)(b & ~f->sign);

	return (b & f->sign) ? -mag : mag;
}

/* IEEE 754-2019 minimumNumber / maximumNumber. */
static uint64_t minmax(struct hart *h, const struct fmt *f, bool max, uint64_t a, uint64_t b)
{
	bool na = is_nan(f, a), nb = is_nan(f, b);

	if (unlikely(na || nb)) {
		if (is_snan(f, a) || is_snan(f, b))
			raise_flags(h, FFLAG_NV);
		if (na && nb)
			return f->qnan;
		return na ? b : a;
	}
	return (total_key(f, a) < total_key(f, b)) != max ? a : b;
}

/* FEQ (quiet: NV only for a signaling NaN), FLT and FLE (signaling: NV for any NaN);
 * k = 0 FLE, 1 FLT, 2 FEQ as in funct3. */
static uint64_t compare(struct hart *h, const struct fmt *f, unsigned k, uint64_t a, uint64_t b)
{
	if (unlikely(is_nan(f, a) || is_nan(f, b))) {
		if (k != 2 || is_snan(f, a) || is_snan(f, b))
			raise_flags(h, FFLAG_NV);
		return 0;
	}
	switch (k) {
	case 0:
		return num_key(f, a) <= num_key(f, b);
	case 1:
		return num_key(f, a) < num_key(f, b);
	default:
		return num_key(f, a) == num_key(f, b);
	}
}

static uint64_t fclass(const struct fmt *f, uint64_t b)
{
	bool neg = (b & f->sign) != 0;
	uint64_t mag = b & ~f->sign;

	if (mag > f->inf)
		return (b & (f->qnan & ~f->inf)) ? 1u << 9 : 1u << 8;
	if (mag == f->inf)
		return neg ? 1u << 0 : 1u << 7;
	if (mag == 0)
		return neg ? 1u << 3 : 1u << 4;
	if (mag < (1ull << (f->p - 1)))
		return neg ? 1u << 2 : 1u << 5;
	return neg ? 1u << 1 : 1u << 6;
}

/* ---- conversions ---- */

/* FCVT.{W,WU,L,LU}.fmt (k = 0..3): rounds in mode rm, then saturates out-of-range values
 * and NaN (which converts as +max) with NV only; 32-bit results are sign-extended. */
static ALWAYS_INLINE uint64_t to_int(unsigned k, struct unpacked u, unsigned rm, uint32_t *flags)
{
	bool is_signed = !(k & 1), w64 = k >= 2;
	uint64_t max =
		w64 ? (is_signed ? INT64_MAX : UINT64_MAX) : (is_signed ? INT32_MAX : UINT32_MAX);
	uint64_t neg_lim = is_signed ? max + 1 : 0; /* largest magnitude of a negative result */
	uint64_t mag, v;
	bool nx = false;

	if (u.exp > 63)
		goto invalid;
	mag = u.exp == 63 ? u.sig : round_bits(u.sig, (unsigned)(63 - u.exp), u.neg, rm, &nx);
	if (mag > (u.neg ? neg_lim : max))
		goto invalid;
	if (nx)
		*flags |= FFLAG_NX;
	v = u.neg ? 0 - mag : mag;
	return w64 ? v : sext64(v, 32);
invalid:
	*flags |= FFLAG_NV;
	v = u.neg ? 0 - neg_lim : max;
	return w64 ? v : sext64(v, 32);
}

static int cvt_to_int(struct hart *h, const struct fmt *f, unsigned k, unsigned rd, uint64_t a,
		      unsigned rm)
{
	int mode = resolve_rm(h, rm);
	struct unpacked u;
	uint32_t flags = 0;
	uint64_t v;

	if (mode < 0)
		return -1;
	if (is_nan(f, a)) {
		u.neg = false;
		u.exp = EXP_HUGE;
		u.sig = 1ull << 63;
	} else {
		u = unpack(f, a);
	}
	v = to_int(k, u, (unsigned)mode, &flags);
	raise_flags(h, flags);
	wr_x(h, rd, v);
	return 0;
}

/* FCVT.fmt.{W,WU,L,LU} (k = 0..3): exact when the integer fits in p bits, else rounded. */
static int cvt_from_int(struct hart *h, const struct fmt *f, unsigned k, unsigned rd, uint64_t x,
			unsigned rm)
{
	int mode = resolve_rm(h, rm);
	struct unpacked u = {.neg = false, .exp = 0, .sig = 0};
	uint32_t flags = 0;
	uint64_t mag;
	int z;

	if (mode < 0)
		return -1;
	switch (k) {
	case 0:
		u.neg = (int32_t)x < 0;
		mag = (uint64_t)(int64_t)(int32_t)x;
		break;
	case 1:
		mag = (uint32_t)x;
		break;
	case 2:
		u.neg = (int64_t)x < 0;
		mag = x;
		break;
	default:
		mag = x;
		break;
	}
	if (u.neg)
		mag = 0 - mag;
	if (mag != 0) {
		z = __builtin_clzll(mag);
		u.exp = 63 - z;
		u.sig = mag << z;
	}
	wr_f(h, f, rd, round_pack(f, u, (unsigned)mode, &flags));
	raise_flags(h, flags);
	return 0;
}

/* FCVT.S.D rounds; RMM goes through round_pack since the value is already exact. */
static int cvt_s_d(struct hart *h, unsigned rd, uint64_t a, unsigned rm)
{
	int mode = resolve_rm(h, rm);
	uint32_t flags = 0;
	uint64_t r;

	if (mode < 0)
		return -1;
	if (likely(mode == RM_RNE)) {
		r = s_bits((float)d_val(a));
	} else if (mode == RM_RMM && is_finite(&fmt_d, a)) {
		r = round_pack(&fmt_s, unpack(&fmt_d, a), RM_RMM, &flags);
		raise_flags(h, flags);
	} else {
		r = s_bits(host_cvt_s_d_rc(d_val(a), mxcsr_rc[mode == RM_RMM ? RM_RNE : mode]));
	}
	if (unlikely(is_nan(&fmt_s, r)))
		r = fmt_s.qnan;
	wr_f(h, &fmt_s, rd, r);
	return 0;
}

/* FCVT.D.S is exact; the host raises NV for a signaling NaN. rm must still be legal. */
static int cvt_d_s(struct hart *h, unsigned rd, uint64_t a, unsigned rm)
{
	uint64_t r;

	if (resolve_rm(h, rm) < 0)
		return -1;
	r = d_bits((double)s_val(a));
	if (unlikely(is_nan(&fmt_d, r)))
		r = fmt_d.qnan;
	wr_f(h, &fmt_d, rd, r);
	return 0;
}

/* ---- dispatch ---- */

/* The dispatch below indexes operation families by their order in ops.def. */
#define FPU_ORDER(first, n, last) _Static_assert((first) + (n) == (last), #first " family order")
FPU_ORDER(OP_FMADD_S, 3, OP_FNMADD_S);
FPU_ORDER(OP_FMADD_D, 3, OP_FNMADD_D);
FPU_ORDER(OP_FSGNJ_S, 2, OP_FSGNJX_S);
FPU_ORDER(OP_FSGNJ_D, 2, OP_FSGNJX_D);
FPU_ORDER(OP_FCVT_W_S, 3, OP_FCVT_LU_S);
FPU_ORDER(OP_FCVT_W_D, 3, OP_FCVT_LU_D);
FPU_ORDER(OP_FCVT_S_W, 3, OP_FCVT_S_LU);
FPU_ORDER(OP_FCVT_D_W, 3, OP_FCVT_D_LU);
FPU_ORDER(OP_FNMADD_S, 1, OP_FADD_S); /* FADD_S..FMV_W_X: the binary32 group */
FPU_ORDER(OP_FMV_W_X, 1, OP_FMADD_D);

static int exec_s(struct hart *h, enum op_kind kind, unsigned rd, unsigned rs1, unsigned rs2,
		  unsigned rm)
{
	const struct fmt *f = &fmt_s;

	switch (kind) {
	case OP_FADD_S:
		return arith_s(h, AR_ADD, rd, rd_s(h, rs1), rd_s(h, rs2), 0, rm);
	case OP_FSUB_S:
		return arith_s(h, AR_ADD, rd, rd_s(h, rs1), rd_s(h, rs2) ^ F32_SIGN, 0, rm);
	case OP_FMUL_S:
		return arith_s(h, AR_MUL, rd, rd_s(h, rs1), rd_s(h, rs2), 0, rm);
	case OP_FDIV_S:
		return arith_s(h, AR_DIV, rd, rd_s(h, rs1), rd_s(h, rs2), 0, rm);
	case OP_FSQRT_S:
		return arith_s(h, AR_SQRT, rd, rd_s(h, rs1), 0, 0, rm);
	case OP_FSGNJ_S:
	case OP_FSGNJN_S:
	case OP_FSGNJX_S:
		wr_f(h, f, rd, sgnj(f, kind - OP_FSGNJ_S, rd_s(h, rs1), rd_s(h, rs2)));
		return 0;
	case OP_FMIN_S:
	case OP_FMAX_S:
		wr_f(h, f, rd, minmax(h, f, kind == OP_FMAX_S, rd_s(h, rs1), rd_s(h, rs2)));
		return 0;
	case OP_FLE_S:
		wr_x(h, rd, compare(h, f, 0, rd_s(h, rs1), rd_s(h, rs2)));
		return 0;
	case OP_FLT_S:
		wr_x(h, rd, compare(h, f, 1, rd_s(h, rs1), rd_s(h, rs2)));
		return 0;
	case OP_FEQ_S:
		wr_x(h, rd, compare(h, f, 2, rd_s(h, rs1), rd_s(h, rs2)));
		return 0;
	case OP_FCLASS_S:
		wr_x(h, rd, fclass(f, rd_s(h, rs1)));
		return 0;
	case OP_FMV_X_W:
		wr_x(h, rd, sext64(h->f[rs1], 32));
		return 0;
	case OP_FMV_W_X:
		wr_f(h, f, rd, h->x[rs1] & 0xffffffffu);
		return 0;
	case OP_FCVT_W_S:
	case OP_FCVT_WU_S:
	case OP_FCVT_L_S:
	case OP_FCVT_LU_S:
		return cvt_to_int(h, f, kind - OP_FCVT_W_S, rd, rd_s(h, rs1), rm);
	case OP_FCVT_S_W:
	case OP_FCVT_S_WU:
	case OP_FCVT_S_L:
	case OP_FCVT_S_LU:
		return cvt_from_int(h, f, kind - OP_FCVT_S_W, rd, h->x[rs1], rm);
	case OP_FCVT_S_D:
		return cvt_s_d(h, rd, h->f[rs1], rm);
	default:
		return -1;
	}
}

static int exec_d(struct hart *h, enum op_kind kind, unsigned rd, unsigned rs1, unsigned rs2,
		  unsigned rm)
{
	const struct fmt *f = &fmt_d;
	const uint64_t *fr = h->f;

	switch (kind) {
	case OP_FADD_D:
		return arith_d(h, AR_ADD, rd, fr[rs1], fr[rs2], 0, rm);
	case OP_FSUB_D:
		return arith_d(h, AR_ADD, rd, fr[rs1], fr[rs2] ^ F64_SIGN, 0, rm);
	case OP_FMUL_D:
		return arith_d(h, AR_MUL, rd, fr[rs1], fr[rs2], 0, rm);
	case OP_FDIV_D:
		return arith_d(h, AR_DIV, rd, fr[rs1], fr[rs2], 0, rm);
	case OP_FSQRT_D:
		return arith_d(h, AR_SQRT, rd, fr[rs1], 0, 0, rm);
	case OP_FSGNJ_D:
	case OP_FSGNJN_D:
	case OP_FSGNJX_D:
		wr_f(h, f, rd, sgnj(f, kind - OP_FSGNJ_D, fr[rs1], fr[rs2]));
		return 0;
	case OP_FMIN_D:
	case OP_FMAX_D:
		wr_f(h, f, rd, minmax(h, f, kind == OP_FMAX_D, fr[rs1], fr[rs2]));
		return 0;
	case OP_FLE_D:
		wr_x(h, rd, compare(h, f, 0, fr[rs1], fr[rs2]));
		return 0;
	case OP_FLT_D:
		wr_x(h, rd, compare(h, f, 1, fr[rs1], fr[rs2]));
		return 0;
	case OP_FEQ_D:
		wr_x(h, rd, compare(h, f, 2, fr[rs1], fr[rs2]));
		return 0;
	case OP_FCLASS_D:
		wr_x(h, rd, fclass(f, fr[rs1]));
		return 0;
	case OP_FMV_X_D:
		wr_x(h, rd, fr[rs1]);
		return 0;
	case OP_FMV_D_X:
		wr_f(h, f, rd, h->x[rs1]);
		return 0;
	case OP_FCVT_W_D:
	case OP_FCVT_WU_D:
	case OP_FCVT_L_D:
	case OP_FCVT_LU_D:
		return cvt_to_int(h, f, kind - OP_FCVT_W_D, rd, fr[rs1], rm);
	case OP_FCVT_D_W:
	case OP_FCVT_D_WU:
	case OP_FCVT_D_L:
	case OP_FCVT_D_LU:
		return cvt_from_int(h, f, kind - OP_FCVT_D_W, rd, h->x[rs1], rm);
	case OP_FCVT_D_S:
		return cvt_d_s(h, rd, rd_s(h, rs1), rm);
	default:
		return -1;
	}
}

int fpu_exec(struct hart *h, enum op_kind kind, unsigned rd, unsigned rs1, unsigned rs2,
	     unsigned rs3, unsigned rm)
{
	switch (kind) {
	case OP_FMADD_S:
	case OP_FMSUB_S:
	case OP_FNMSUB_S:
	case OP_FNMADD_S:
		return fma_op(h, &fmt_s, kind - OP_FMADD_S, rd, rs1, rs2, rs3, rm);
	case OP_FMADD_D:
	case OP_FMSUB_D:
	case OP_FNMSUB_D:
	case OP_FNMADD_D:
		return fma_op(h, &fmt_d, kind - OP_FMADD_D, rd, rs1, rs2, rs3, rm);
	case OP_FADD_S ... OP_FMV_W_X:
	case OP_FCVT_S_D:
		return exec_s(h, kind, rd, rs1, rs2, rm);
	default:
		return exec_d(h, kind, rd, rs1, rs2, rm);
	}
}

uint32_t fpu_get_fflags(struct hart *h)
{
	return (h->fflags | fflags_of_mxcsr(mxcsr_get())) & 0x1f;
}

void fpu_set_fflags(struct hart *h, uint32_t flags)
{
	h->fflags = flags & 0x1f;
	mxcsr_set(MXCSR_DEFAULT);
}
