/*
 * SIMD helpers for the 0xFD rows of opcodes.def (Wasm core 2.0, 4.3 vector numerics):
 * lane-wise operations that GCC vector extensions do not express directly (saturation,
 * narrowing, widening, pairwise sums, float min/max/rounding, conversions, masks).
 * Header-only, included by exec.c after numeric.h. Lane 0 is the lowest-addressed lane.
 * Float lanes are handled as bits where Wasm requires bit-exact results (abs, neg,
 * extract/replace), so signalling NaNs pass through unchanged.
 */
#ifndef LODGE_WASM_SIMD_H
#define LODGE_WASM_SIMD_H

#include "wasm/numeric.h"

/* r[i] = EXPR over lanes i < N of a (type VT), result vector RT with element type ET. */
#define V_MAP1(NAME, VT, RT, ET, N, EXPR)                                                          \
	static inline v128 NAME(v128 va)                                                           \
	{                                                                                          \
		VT a = (VT)va;                                                                     \
		RT r = {0};                                                                        \
		for (int i = 0; i < (N); i++)                                                      \
			r[i] = (ET)(EXPR);                                                         \
		return (v128)r;                                                                    \
	}
#define V_MAP2(NAME, VT, RT, ET, N, EXPR)                                                          \
	static inline v128 NAME(v128 va, v128 vb)                                                  \
	{                                                                                          \
		VT a = (VT)va, b = (VT)vb;                                                         \
		RT r = {0};                                                                        \
		for (int i = 0; i < (N); i++)                                                      \
			r[i] = (ET)(EXPR);                                                         \
		return (v128)r;                                                                    \
	}

/* ----- splat and lanes ----- */
static inline v128 splat8(uint32_t x)
{
	u8x16 r = {0};
	for (int i = 0; i < 16; i++)
		r[i] = (uint8_t)x;
	return (v128)r;
}

static inline v128 splat16(uint32_t x)
{
	u16x8 r = {0};
	for (int i = 0; i < 8; i++)
		r[i] = (uint16_t)x;
	return (v128)r;
}

static inline v128 splat32(uint32_t x)
{
	u32x4 r = {x, x, x, x};
	return (v128)r;
}

static inline v128 splat64(uint64_t x)
{
	u64x2 r = {x, x};
	return r;
}

static inline v128 replace8(v128 a, uint32_t lane, uint32_t x)
{
	u8x16 r = (u8x16)a;
	r[lane & 15] = (uint8_t)x;
	return (v128)r;
}

static inline v128 replace16(v128 a, uint32_t lane, uint32_t x)
{
	u16x8 r = (u16x8)a;
	r[lane & 7] = (uint16_t)x;
	return (v128)r;
}

static inline v128 replace32(v128 a, uint32_t lane, uint32_t x)
{
	u32x4 r = (u32x4)a;
	r[lane & 3] = x;
	return (v128)r;
}

static inline v128 replace64(v128 a, uint32_t lane, uint64_t x)
{
	a[lane & 1] = x;
	return a;
}

static inline v128 swizzle(v128 va, v128 vb)
{
	u8x16 a = (u8x16)va, b = (u8x16)vb, r = {0};
	for (int i = 0; i < 16; i++)
		r[i] = b[i] < 16 ? a[b[i]] : 0;
	return (v128)r;
}

/* ----- loads that widen, splat or zero-extend ----- */
static inline v128 load_ext8(const uint8_t *p, bool s)
{
	u16x8 r = {0};
	for (int i = 0; i < 8; i++)
		r[i] = s ? (uint16_t)(int16_t)(int8_t)p[i] : p[i];
	return (v128)r;
}

static inline v128 load_ext16(const uint8_t *p, bool s)
{
	u32x4 r = {0};
	for (int i = 0; i < 4; i++) {
		uint16_t x = ld16(p + 2 * i);
		r[i] = s ? (uint32_t)(int32_t)(int16_t)x : x;
	}
	return (v128)r;
}

static inline v128 load_ext32(const uint8_t *p, bool s)
{
	u64x2 r = {0};
	for (int i = 0; i < 2; i++) {
		uint32_t x = ld32(p + 4 * i);
		r[i] = s ? (uint64_t)(int64_t)(int32_t)x : x;
	}
	return r;
}

static inline v128 load_zero32(const uint8_t *p)
{
	u32x4 r = {ld32(p), 0, 0, 0};
	return (v128)r;
}

static inline v128 load_zero64(const uint8_t *p)
{
	u64x2 r = {ld64(p), 0};
	return r;
}

/* ----- reductions ----- */
static inline uint32_t any_true(v128 a)
{
	return (a[0] | a[1]) != 0;
}

#define ALL_TRUE(NAME, VT, N)                                                                      \
	static inline uint32_t NAME(v128 va)                                                       \
	{                                                                                          \
		VT a = (VT)va;                                                                     \
		for (int i = 0; i < (N); i++)                                                      \
			if (a[i] == 0)                                                             \
				return 0;                                                          \
		return 1;                                                                          \
	}
ALL_TRUE(all_true8, u8x16, 16)
ALL_TRUE(all_true16, u16x8, 8)
ALL_TRUE(all_true32, u32x4, 4)
ALL_TRUE(all_true64, u64x2, 2)
#undef ALL_TRUE

#define BITMASK(NAME, VT, N)                                                                       \
	static inline uint32_t NAME(v128 va)                                                       \
	{                                                                                          \
		VT a = (VT)va;                                                                     \
		uint32_t m = 0;                                                                    \
		for (int i = 0; i < (N); i++)                                                      \
			m |= (uint32_t)(a[i] < 0) << i;                                            \
		return m;                                                                          \
	}
BITMASK(bitmask8, i8x16, 16)
BITMASK(bitmask16, i16x8, 8)
BITMASK(bitmask32, i32x4, 4)
BITMASK(bitmask64, i64x2, 2)
#undef BITMASK

/* ----- integer lane arithmetic ----- */
static inline int64_t sat(int64_t x, int64_t lo, int64_t hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

V_MAP1(abs8, i8x16, u8x16, uint8_t, 16, a[i] < 0 ? 0u - (uint8_t)a[i] : (uint8_t)a[i])
V_MAP1(abs16, i16x8, u16x8, uint16_t, 8, a[i] < 0 ? 0u - (uint16_t)a[i] : (uint16_t)a[i])
V_MAP1(abs32, i32x4, u32x4, uint32_t, 4, a[i] < 0 ? 0u - (uint32_t)a[i] : (uint32_t)a[i])
V_MAP1(abs64, i64x2, u64x2, uint64_t, 2, a[i] < 0 ? 0u - (uint64_t)a[i] : (uint64_t)a[i])
V_MAP1(popcnt8, u8x16, u8x16, uint8_t, 16, __builtin_popcount(a[i]))

V_MAP2(add_sat_s8, i8x16, i8x16, int8_t, 16, sat((int64_t)a[i] + b[i], INT8_MIN, INT8_MAX))
V_MAP2(add_sat_u8, u8x16, u8x16, uint8_t, 16, sat((int64_t)a[i] + b[i], 0, UINT8_MAX))
V_MAP2(sub_sat_s8, i8x16, i8x16, int8_t, 16, sat((int64_t)a[i] - b[i], INT8_MIN, INT8_MAX))
V_MAP2(sub_sat_u8, u8x16, u8x16, uint8_t, 16, sat((int64_t)a[i] - b[i], 0, UINT8_MAX))
V_MAP2(add_sat_s16, i16x8, i16x8, int16_t, 8, sat((int64_t)a[i] + b[i], INT16_MIN, INT16_MAX))
V_MAP2(add_sat_u16, u16x8, u16x8, uint16_t, 8, sat((int64_t)a[i] + b[i], 0, UINT16_MAX))
V_MAP2(sub_sat_s16, i16x8, i16x8, int16_t, 8, sat((int64_t)a[i] - b[i], INT16_MIN, INT16_MAX))
V_MAP2(sub_sat_u16, u16x8, u16x8, uint16_t, 8, sat((int64_t)a[i] - b[i], 0, UINT16_MAX))

V_MAP2(min_s8, i8x16, i8x16, int8_t, 16, a[i] < b[i] ? a[i] : b[i])
V_MAP2(min_u8, u8x16, u8x16, uint8_t, 16, a[i] < b[i] ? a[i] : b[i])
V_MAP2(max_s8, i8x16, i8x16, int8_t, 16, a[i] > b[i] ? a[i] : b[i])
V_MAP2(max_u8, u8x16, u8x16, uint8_t, 16, a[i] > b[i] ? a[i] : b[i])
V_MAP2(min_s16, i16x8, i16x8, int16_t, 8, a[i] < b[i] ? a[i] : b[i])
V_MAP2(min_u16, u16x8, u16x8, uint16_t, 8, a[i] < b[i] ? a[i] : b[i])
V_MAP2(max_s16, i16x8, i16x8, int16_t, 8, a[i] > b[i] ? a[i] : b[i])
V_MAP2(max_u16, u16x8, u16x8, uint16_t, 8, a[i] > b[i] ? a[i] : b[i])
V_MAP2(min_s32, i32x4, i32x4, int32_t, 4, a[i] < b[i] ? a[i] : b[i])
V_MAP2(min_u32, u32x4, u32x4, uint32_t, 4, a[i] < b[i] ? a[i] : b[i])
V_MAP2(max_s32, i32x4, i32x4, int32_t, 4, a[i] > b[i] ? a[i] : b[i])
V_MAP2(max_u32, u32x4, u32x4, uint32_t, 4, a[i] > b[i] ? a[i] : b[i])
V_MAP2(avgr_u8, u8x16, u8x16, uint8_t, 16, ((uint32_t)a[i] + b[i] + 1) >> 1)
V_MAP2(avgr_u16, u16x8, u16x8, uint16_t, 8, ((uint32_t)a[i] + b[i] + 1) >> 1)
V_MAP2(q15mulr, i16x8, i16x8, int16_t, 8,
       sat(((int64_t)a[i] * b[i] + 0x4000) >> 15, INT16_MIN, INT16_MAX))

/* Lanes of the result come from a then b, each narrowed with saturation. */
#define NARROW(NAME, VT, RT, ET, N, LO, HI)                                                        \
	static inline v128 NAME(v128 va, v128 vb)                                                  \
	{                                                                                          \
		VT a = (VT)va, b = (VT)vb;                                                         \
		RT r = {0};                                                                        \
		for (int i = 0; i < (N); i++) {                                                    \
			r[i] = (ET)sat(a[i], LO, HI);                                              \
			r[i + (N)] = (ET)sat(b[i], LO, HI);                                        \
		}                                                                                  \
		return (v128)r;                                                                    \
	}
NARROW(narrow_s8, i16x8, i8x16, int8_t, 8, INT8_MIN, INT8_MAX)
NARROW(narrow_u8, i16x8, u8x16, uint8_t, 8, 0, UINT8_MAX)
NARROW(narrow_s16, i32x4, i16x8, int16_t, 4, INT16_MIN, INT16_MAX)
NARROW(narrow_u16, i32x4, u16x8, uint16_t, 4, 0, UINT16_MAX)
#undef NARROW

/* Widening: lanes OFF..OFF+N of a (type VT) extended into RT. */
#define EXTEND(NAME, VT, RT, ET, N, OFF)                                                           \
	static inline v128 NAME(v128 va)                                                           \
	{                                                                                          \
		VT a = (VT)va;                                                                     \
		RT r = {0};                                                                        \
		for (int i = 0; i < (N); i++)                                                      \
			r[i] = (ET)a[i + (OFF)];                                                   \
		return (v128)r;                                                                    \
	}
EXTEND(ext_lo_s8, i8x16, i16x8, int16_t, 8, 0)
EXTEND(ext_hi_s8, i8x16, i16x8, int16_t, 8, 8)
EXTEND(ext_lo_u8, u8x16, u16x8, uint16_t, 8, 0)
EXTEND(ext_hi_u8, u8x16, u16x8, uint16_t, 8, 8)
EXTEND(ext_lo_s16, i16x8, i32x4, int32_t, 4, 0)
EXTEND(ext_hi_s16, i16x8, i32x4, int32_t, 4, 4)
EXTEND(ext_lo_u16, u16x8, u32x4, uint32_t, 4, 0)
EXTEND(ext_hi_u16, u16x8, u32x4, uint32_t, 4, 4)
EXTEND(ext_lo_s32, i32x4, i64x2, int64_t, 2, 0)
EXTEND(ext_hi_s32, i32x4, i64x2, int64_t, 2, 2)
EXTEND(ext_lo_u32, u32x4, u64x2, uint64_t, 2, 0)
EXTEND(ext_hi_u32, u32x4, u64x2, uint64_t, 2, 2)
#undef EXTEND

/* Extended multiply: lanes OFF.. of a and b widened to WT, multiplied (wrapping in UT). */
#define EXTMUL(NAME, VT, RT, UT, N, OFF)                                                           \
	static inline v128 NAME(v128 va, v128 vb)                                                  \
	{                                                                                          \
		VT a = (VT)va, b = (VT)vb;                                                         \
		RT r = {0};                                                                        \
		for (int i = 0; i < (N); i++)                                                      \
			r[i] = (UT)((int64_t)a[i + (OFF)] * (int64_t)b[i + (OFF)]);                \
		return (v128)r;                                                                    \
	}
EXTMUL(extmul_lo_s8, i8x16, u16x8, uint16_t, 8, 0)
EXTMUL(extmul_hi_s8, i8x16, u16x8, uint16_t, 8, 8)
EXTMUL(extmul_lo_u8, u8x16, u16x8, uint16_t, 8, 0)
EXTMUL(extmul_hi_u8, u8x16, u16x8, uint16_t, 8, 8)
EXTMUL(extmul_lo_s16, i16x8, u32x4, uint32_t, 4, 0)
EXTMUL(extmul_hi_s16, i16x8, u32x4, uint32_t, 4, 4)
EXTMUL(extmul_lo_u16, u16x8, u32x4, uint32_t, 4, 0)
EXTMUL(extmul_hi_u16, u16x8, u32x4, uint32_t, 4, 4)
EXTMUL(extmul_lo_s32, i32x4, u64x2, uint64_t, 2, 0)
EXTMUL(extmul_hi_s32, i32x4, u64x2, uint64_t, 2, 2)
#undef EXTMUL

/* u32 x u32 does not fit int64 signed multiply exactly; use unsigned. */
static inline v128 extmul_lo_u32(v128 va, v128 vb)
{
	u32x4 a = (u32x4)va, b = (u32x4)vb;
	u64x2 r = {(uint64_t)a[0] * b[0], (uint64_t)a[1] * b[1]};
	return r;
}

static inline v128 extmul_hi_u32(v128 va, v128 vb)
{
	u32x4 a = (u32x4)va, b = (u32x4)vb;
	u64x2 r = {(uint64_t)a[2] * b[2], (uint64_t)a[3] * b[3]};
	return r;
}

V_MAP1(extadd_s8, i8x16, u16x8, uint16_t, 8, (int32_t)a[2 * i] + a[2 * i + 1])
V_MAP1(extadd_u8, u8x16, u16x8, uint16_t, 8, (uint32_t)a[2 * i] + a[2 * i + 1])
V_MAP1(extadd_s16, i16x8, u32x4, uint32_t, 4, (int32_t)a[2 * i] + a[2 * i + 1])
V_MAP1(extadd_u16, u16x8, u32x4, uint32_t, 4, (uint32_t)a[2 * i] + a[2 * i + 1])
V_MAP2(dot_s16, i16x8, u32x4, uint32_t, 4,
       (uint32_t)((int64_t)a[2 * i] * b[2 * i] + (int64_t)a[2 * i + 1] * b[2 * i + 1]))

/* Shifts take the count modulo the lane width. */
static inline v128 shl8(v128 a, uint32_t n)
{
	return (v128)((u8x16)a << (uint8_t)(n & 7));
}
static inline v128 shr_s8(v128 a, uint32_t n)
{
	return (v128)((i8x16)a >> (int8_t)(n & 7));
}
static inline v128 shr_u8(v128 a, uint32_t n)
{
	return (v128)((u8x16)a >> (uint8_t)(n & 7));
}
static inline v128 shl16(v128 a, uint32_t n)
{
	return (v128)((u16x8)a << (uint16_t)(n & 15));
}
static inline v128 shr_s16(v128 a, uint32_t n)
{
	return (v128)((i16x8)a >> (int16_t)(n & 15));
}
static inline v128 shr_u16(v128 a, uint32_t n)
{
	return (v128)((u16x8)a >> (uint16_t)(n & 15));
}
static inline v128 shl32(v128 a, uint32_t n)
{
	return (v128)((u32x4)a << (n & 31));
}
static inline v128 shr_s32(v128 a, uint32_t n)
{
	return (v128)((i32x4)a >> (int32_t)(n & 31));
}
static inline v128 shr_u32(v128 a, uint32_t n)
{
	return (v128)((u32x4)a >> (n & 31));
}
static inline v128 shl64(v128 a, uint32_t n)
{
	return a << (uint64_t)(n & 63);
}
static inline v128 shr_s64(v128 a, uint32_t n)
{
	return (v128)((i64x2)a >> (int64_t)(n & 63));
}
static inline v128 shr_u64(v128 a, uint32_t n)
{
	return a >> (uint64_t)(n & 63);
}

/* ----- float lanes ----- */
static inline v128 fabs32x4(v128 a)
{
	return (v128)((u32x4)a & 0x7fffffffu);
}
static inline v128 fneg32x4(v128 a)
{
	return (v128)((u32x4)a ^ 0x80000000u);
}
static inline v128 fabs64x2(v128 a)
{
	return a & 0x7fffffffffffffffull;
}
static inline v128 fneg64x2(v128 a)
{
	return a ^ 0x8000000000000000ull;
}

V_MAP1(fsqrt32x4, f32x4, f32x4, float, 4, sqrtf(a[i]))
V_MAP1(fsqrt64x2, f64x2, f64x2, double, 2, sqrt(a[i]))
V_MAP1(fceil32x4, f32x4, f32x4, float, 4, fceil32(a[i]))
V_MAP1(ffloor32x4, f32x4, f32x4, float, 4, ffloor32(a[i]))
V_MAP1(ftrunc32x4, f32x4, f32x4, float, 4, ftrunc32(a[i]))
V_MAP1(fnearest32x4, f32x4, f32x4, float, 4, fnearest32(a[i]))
V_MAP1(fceil64x2, f64x2, f64x2, double, 2, fceil64(a[i]))
V_MAP1(ffloor64x2, f64x2, f64x2, double, 2, ffloor64(a[i]))
V_MAP1(ftrunc64x2, f64x2, f64x2, double, 2, ftrunc64(a[i]))
V_MAP1(fnearest64x2, f64x2, f64x2, double, 2, fnearest64(a[i]))
V_MAP2(fadd32x4, f32x4, f32x4, float, 4, fadd32(a[i], b[i]))
V_MAP2(fsub32x4, f32x4, f32x4, float, 4, fsub32(a[i], b[i]))
V_MAP2(fmul32x4, f32x4, f32x4, float, 4, fmul32(a[i], b[i]))
V_MAP2(fdiv32x4, f32x4, f32x4, float, 4, fdiv32(a[i], b[i]))
V_MAP2(fadd64x2, f64x2, f64x2, double, 2, fadd64(a[i], b[i]))
V_MAP2(fsub64x2, f64x2, f64x2, double, 2, fsub64(a[i], b[i]))
V_MAP2(fmul64x2, f64x2, f64x2, double, 2, fmul64(a[i], b[i]))
V_MAP2(fdiv64x2, f64x2, f64x2, double, 2, fdiv64(a[i], b[i]))
V_MAP2(fmin32x4, f32x4, f32x4, float, 4, fmin32(a[i], b[i]))
V_MAP2(fmax32x4, f32x4, f32x4, float, 4, fmax32(a[i], b[i]))
V_MAP2(fmin64x2, f64x2, f64x2, double, 2, fmin64(a[i], b[i]))
V_MAP2(fmax64x2, f64x2, f64x2, double, 2, fmax64(a[i], b[i]))
/* pmin/pmax: b < a ? b : a (no NaN or zero-sign special cases), bit-exact. */
V_MAP2(pmin32x4, f32x4, u32x4, uint32_t, 4, bits_f32(b[i] < a[i] ? b[i] : a[i]))
V_MAP2(pmax32x4, f32x4, u32x4, uint32_t, 4, bits_f32(a[i] < b[i] ? b[i] : a[i]))
V_MAP2(pmin64x2, f64x2, u64x2, uint64_t, 2, bits_f64(b[i] < a[i] ? b[i] : a[i]))
V_MAP2(pmax64x2, f64x2, u64x2, uint64_t, 2, bits_f64(a[i] < b[i] ? b[i] : a[i]))

V_MAP1(trunc_sat_s32x4, f32x4, u32x4, uint32_t, 4, sat_s32_f32(a[i]))
V_MAP1(trunc_sat_u32x4, f32x4, u32x4, uint32_t, 4, sat_u32_f32(a[i]))
V_MAP1(convert_s32x4, i32x4, f32x4, float, 4, (float)a[i])
V_MAP1(convert_u32x4, u32x4, f32x4, float, 4, (float)a[i])

static inline v128 trunc_sat_s64x2_zero(v128 va)
{
	f64x2 a = (f64x2)va;
	u32x4 r = {sat_s32_f64(a[0]), sat_s32_f64(a[1]), 0, 0};
	return (v128)r;
}

static inline v128 trunc_sat_u64x2_zero(v128 va)
{
	f64x2 a = (f64x2)va;
	u32x4 r = {sat_u32_f64(a[0]), sat_u32_f64(a[1]), 0, 0};
	return (v128)r;
}

static inline v128 convert_low_s32(v128 va)
{
	i32x4 a = (i32x4)va;
	f64x2 r = {(double)a[0], (double)a[1]};
	return (v128)r;
}

static inline v128 convert_low_u32(v128 va)
{
	u32x4 a = (u32x4)va;
	f64x2 r = {(double)a[0], (double)a[1]};
	return (v128)r;
}

static inline v128 demote_zero(v128 va)
{
	f64x2 a = (f64x2)va;
	f32x4 r = {(float)a[0], (float)a[1], 0.0f, 0.0f};
	return (v128)r;
}

static inline v128 promote_low(v128 va)
{
	f32x4 a = (f32x4)va;
	f64x2 r = {(double)a[0], (double)a[1]};
	return (v128)r;
}

/* ----- relaxed SIMD (Wasm 3.0): one deterministic choice per instruction ----- */
/* relaxed_madd/nmadd: fused (one rounding, IEEE fusedMultiplyAdd). nmadd is -(a*b) + c,
 * the same as fma(-a, b, c) exactly (negation is exact). */
static inline v128 fmadd32x4(v128 va, v128 vb, v128 vc)
{
	f32x4 a = (f32x4)va, b = (f32x4)vb, c = (f32x4)vc, r = {0};
	for (int i = 0; i < 4; i++)
		r[i] = fmaf(a[i], b[i], c[i]);
	return (v128)r;
}
static inline v128 fmadd64x2(v128 va, v128 vb, v128 vc)
{
	f64x2 a = (f64x2)va, b = (f64x2)vb, c = (f64x2)vc, r = {0};
	for (int i = 0; i < 2; i++)
		r[i] = fma(a[i], b[i], c[i]);
	return (v128)r;
}
/* relaxed dot products: b's lanes are signed too (what i7 inputs cannot tell apart), the
 * 16-bit pair sums wrap, and the i32 form adds pairs of those to c (the spec's
 * definition through extadd_pairwise). */
V_MAP2(rdot_s8, i8x16, u16x8, uint16_t, 8,
       (uint16_t)((int32_t)a[2 * i] * b[2 * i] + (int32_t)a[2 * i + 1] * b[2 * i + 1]))
static inline v128 rdot_add_s8(v128 a, v128 b, v128 vc)
{
	i16x8 d = (i16x8)rdot_s8(a, b);
	u32x4 c = (u32x4)vc, r = {0};
	for (int i = 0; i < 4; i++)
		r[i] = c[i] + (uint32_t)((int32_t)d[2 * i] + (int32_t)d[2 * i + 1]);
	return (v128)r;
}

#undef V_MAP1
#undef V_MAP2

#endif
