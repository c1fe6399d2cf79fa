/*
 * Scalar and vector numeric helpers for the interpreter (Wasm core 2.0, 4.3 "Numerics"):
 * memory byte access, bit casts, rotates, float min/max, trapping and saturating
 * float-to-int conversions, and the 128-bit vector lane types. Header-only, no state;
 * included by exec.c only. Integer semantics use unsigned arithmetic throughout.
 */
#ifndef LODGE_WASM_NUMERIC_H
#define LODGE_WASM_NUMERIC_H

#include "wasm/wasm.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ----- vector lane types (GCC vector extensions) ----- */
typedef int8_t i8x16 __attribute__((vector_size(16)));
typedef uint8_t u8x16 __attribute__((vector_size(16)));
typedef int16_t i16x8 __attribute__((vector_size(16)));
typedef uint16_t u16x8 __attribute__((vector_size(16)));
typedef int32_t i32x4 __attribute__((vector_size(16)));
typedef uint32_t u32x4 __attribute__((vector_size(16)));
typedef int64_t i64x2 __attribute__((vector_size(16)));
typedef uint64_t u64x2 __attribute__((vector_size(16)));
typedef float f32x4 __attribute__((vector_size(16)));
typedef double f64x2 __attribute__((vector_size(16)));
typedef u64x2 v128;

/* ----- little-endian memory access (unaligned) ----- */
static inline uint16_t ld16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap16(v);
#endif
	return v;
}

static inline uint32_t ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

static inline uint64_t ld64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline void st16(uint8_t *p, uint16_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap16(v);
#endif
	memcpy(p, &v, 2);
}

static inline void st32(uint8_t *p, uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	memcpy(p, &v, 4);
}

static inline void st64(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	memcpy(p, &v, 8);
}

static inline v128 ld128(const uint8_t *p)
{
	v128 v;
	memcpy(&v, p, 16);
	return v;
}

static inline void st128(uint8_t *p, v128 v)
{
	memcpy(p, &v, 16);
}

/* ----- bit casts ----- */
static inline uint32_t bits_f32(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static inline uint64_t bits_f64(double f)
{
	uint64_t u;
	memcpy(&u, &f, 8);
	return u;
}

static inline float f32_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static inline double f64_bits(uint64_t u)
{
	double f;
	memcpy(&f, &u, 8);
	return f;
}

/* ----- integer ----- */
static inline uint32_t rotl32(uint32_t a, uint32_t b)
{
	b &= 31;
	return (a << b) | (a >> ((32 - b) & 31));
}

static inline uint32_t rotr32(uint32_t a, uint32_t b)
{
	b &= 31;
	return (a >> b) | (a << ((32 - b) & 31));
}

static inline uint64_t rotl64(uint64_t a, uint64_t b)
{
	b &= 63;
	return (a << b) | (a >> ((64 - b) & 63));
}

static inline uint64_t rotr64(uint64_t a, uint64_t b)
{
	b &= 63;
	return (a >> b) | (a << ((64 - b) & 63));
}

static inline enum wasm_trap div_s32(uint32_t a, uint32_t b, uint32_t *r)
{
	if (b == 0)
		return WASM_TRAP_DIV_ZERO;
	if (a == 0x80000000u && b == 0xffffffffu)
		return WASM_TRAP_INT_OVERFLOW;
	*r = (uint32_t)((int32_t)a / (int32_t)b);
	return WASM_TRAP_NONE;
}

static inline enum wasm_trap div_u32(uint32_t a, uint32_t b, uint32_t *r)
{
	if (b == 0)
		return WASM_TRAP_DIV_ZERO;
	*r = a / b;
	return WASM_TRAP_NONE;
}

static inline enum wasm_trap rem_s32(uint32_t a, uint32_t b, uint32_t *r)
{
	if (b == 0)
		return WASM_TRAP_DIV_ZERO;
	*r = b == 0xffffffffu ? 0 : (uint32_t)((int32_t)a % (int32_t)b);
	return WASM_TRAP_NONE;
}

static inline enum wasm_trap rem_u32(uint32_t a, uint32_t b, uint32_t *r)
{
	if (b == 0)
		return WASM_TRAP_DIV_ZERO;
	*r = a % b;
	return WASM_TRAP_NONE;
}

static inline enum wasm_trap div_s64(uint64_t a, uint64_t b, uint64_t *r)
{
	if (b == 0)
		return WASM_TRAP_DIV_ZERO;
	if (a == 0x8000000000000000ull && b == ~0ull)
		return WASM_TRAP_INT_OVERFLOW;
	*r = (uint64_t)((int64_t)a / (int64_t)b);
	return WASM_TRAP_NONE;
}

static inline enum wasm_trap div_u64(uint64_t a, uint64_t b, uint64_t *r)
{
	if (b == 0)
		return WASM_TRAP_DIV_ZERO;
	*r = a / b;
	return WASM_TRAP_NONE;
}

static inline enum wasm_trap rem_s64(uint64_t a, uint64_t b, uint64_t *r)
{
	if (b == 0)
		return WASM_TRAP_DIV_ZERO;
	*r = b == ~0ull ? 0 : (uint64_t)((int64_t)a % (int64_t)b);
	return WASM_TRAP_NONE;
}

static inline enum wasm_trap rem_u64(uint64_t a, uint64_t b, uint64_t *r)
{
	if (b == 0)
		return WASM_TRAP_DIV_ZERO;
	*r = a % b;
	return WASM_TRAP_NONE;
}

/* ----- rounding: libm may return a signalling NaN unchanged; Wasm wants it quieted ----- */
#define ROUND_FN(NAME, T, F)                                                                       \
	static inline T NAME(T a)                                                                  \
	{                                                                                          \
		if (isnan(a))                                                                      \
			return a + a;                                                              \
		return F(a);                                                                       \
	}
ROUND_FN(fceil32, float, ceilf)
ROUND_FN(ffloor32, float, floorf)
ROUND_FN(ftrunc32, float, truncf)
ROUND_FN(fnearest32, float, nearbyintf)
ROUND_FN(fceil64, double, ceil)
ROUND_FN(ffloor64, double, floor)
ROUND_FN(ftrunc64, double, trunc)
ROUND_FN(fnearest64, double, nearbyint)
#undef ROUND_FN

/* ----- float arithmetic with one NaN rule (4.3.3: NaN results may be any arithmetic NaN)
 * With two NaN operands the payload of the result is the implementation's choice; x86
 * returns the first source operand's, quieted, but a C compiler may swap the operands of
 * a commutative op, so the bits of a + b would depend on the compiler and its flags. These
 * name the choice: a's payload (quieted: a + a) when a is a NaN, else whatever a op b gives
 * (b's payload, or the default NaN of an invalid op), which is x86's rule for "a op b" (so
 * the interpreter, the JIT's fallbacks and the JIT's inline SSE agree on every NaN bit). */
#define FARITH(NAME, T, OP)                                                                        \
	static inline T NAME(T a, T b)                                                             \
	{                                                                                          \
		return isnan(a) ? a + a : a OP b;                                                  \
	}
FARITH(fadd32, float, +)
FARITH(fsub32, float, -)
FARITH(fmul32, float, *)
FARITH(fdiv32, float, /)
FARITH(fadd64, double, +)
FARITH(fsub64, double, -)
FARITH(fmul64, double, *)
FARITH(fdiv64, double, /)
#undef FARITH

/* ----- float min/max: NaN if either is NaN, and -0 < +0 (4.3.3) ----- */
static inline float fmin32(float a, float b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) ? a + a : b + b;
	if (a == 0 && b == 0)
		return signbit(a) ? a : b;
	return a < b ? a : b;
}

static inline float fmax32(float a, float b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) ? a + a : b + b;
	if (a == 0 && b == 0)
		return signbit(a) ? b : a;
	return a > b ? a : b;
}

static inline double fmin64(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) ? a + a : b + b;
	if (a == 0 && b == 0)
		return signbit(a) ? a : b;
	return a < b ? a : b;
}

static inline double fmax64(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) ? a + a : b + b;
	if (a == 0 && b == 0)
		return signbit(a) ? b : a;
	return a > b ? a : b;
}

/* ----- float -> int: trapping (4.3.4 trunc) ----- */
#define TRUNC_FN(NAME, FT, RT, CT, LO, HI)                                                         \
	static inline enum wasm_trap NAME(FT a, RT *r)                                             \
	{                                                                                          \
		if (isnan(a))                                                                      \
			return WASM_TRAP_INVALID_CONV;                                             \
		if (!(a > (LO) && a < (HI)))                                                       \
			return WASM_TRAP_INT_OVERFLOW;                                             \
		*r = (RT)(CT)a;                                                                    \
		return WASM_TRAP_NONE;                                                             \
	}
/* Bounds are exclusive and exactly representable: the result of truncation toward zero
 * must fit, so e.g. i32_s accepts (-2147483649, 2147483648). */
TRUNC_FN(trunc_s32_f32, float, uint32_t, int32_t, -2147483904.0f, 2147483648.0f)
TRUNC_FN(trunc_u32_f32, float, uint32_t, uint32_t, -1.0f, 4294967296.0f)
TRUNC_FN(trunc_s32_f64, double, uint32_t, int32_t, -2147483649.0, 2147483648.0)
TRUNC_FN(trunc_u32_f64, double, uint32_t, uint32_t, -1.0, 4294967296.0)
TRUNC_FN(trunc_s64_f32, float, uint64_t, int64_t, -9223373136366403584.0f, 9223372036854775808.0f)
TRUNC_FN(trunc_u64_f32, float, uint64_t, uint64_t, -1.0f, 18446744073709551616.0f)
TRUNC_FN(trunc_s64_f64, double, uint64_t, int64_t, -9223372036854777856.0, 9223372036854775808.0)
TRUNC_FN(trunc_u64_f64, double, uint64_t, uint64_t, -1.0, 18446744073709551616.0)
#undef TRUNC_FN

/* ----- float -> int: saturating (NaN -> 0) ----- */
#define SAT_FN(NAME, FT, RT, CT, LO, HI, MINV, MAXV)                                               \
	static inline RT NAME(FT a)                                                                \
	{                                                                                          \
		if (isnan(a))                                                                      \
			return 0;                                                                  \
		if (!(a > (LO)))                                                                   \
			return (RT)(MINV);                                                         \
		if (!(a < (HI)))                                                                   \
			return (RT)(MAXV);                                                         \
		return (RT)(CT)a;                                                                  \
	}
SAT_FN(sat_s32_f32, float, uint32_t, int32_t, -2147483904.0f, 2147483648.0f, INT32_MIN, INT32_MAX)
SAT_FN(sat_u32_f32, float, uint32_t, uint32_t, -1.0f, 4294967296.0f, 0, UINT32_MAX)
SAT_FN(sat_s32_f64, double, uint32_t, int32_t, -2147483649.0, 2147483648.0, INT32_MIN, INT32_MAX)
SAT_FN(sat_u32_f64, double, uint32_t, uint32_t, -1.0, 4294967296.0, 0, UINT32_MAX)
SAT_FN(sat_s64_f32, float, uint64_t, int64_t, -9223373136366403584.0f, 9223372036854775808.0f,
       INT64_MIN, INT64_MAX)
SAT_FN(sat_u64_f32, float, uint64_t, uint64_t, -1.0f, 18446744073709551616.0f, 0, UINT64_MAX)
SAT_FN(sat_s64_f64, double, uint64_t, int64_t, -9223372036854777856.0, 9223372036854775808.0,
       INT64_MIN, INT64_MAX)
SAT_FN(sat_u64_f64, double, uint64_t, uint64_t, -1.0, 18446744073709551616.0, 0, UINT64_MAX)
#undef SAT_FN

#endif
