/*
 * Per-op fallbacks for the JIT: one C function per numeric, memory and SIMD row of
 * opcodes.def, built from the row's own expression exactly as the interpreter's handler
 * (exec.c) is, so an op the translator does not inline still computes bit for bit what
 * the interpreter computes (NaN payloads included). Translated code calls them with the
 * frame, the op's first code word and, for memory rows, the checked host address of the
 * access; cached slots are written back before and reloaded after (translate.c).
 */
#include "wasm/jit/jit.h"

#include "wasm/numeric.h"

#include <string.h>

static inline v128 vload(const union wasm_slot *s)
{
	v128 v;
	memcpy(&v, s, 16);
	return v;
}

static inline void vstore(union wasm_slot *s, v128 v)
{
	memcpy(s, &v, 16);
}

/* GCC 12 takes the lane loops of simd.h (vectors set to {0}, then written lane by lane)
 * for reads of uninitialised lanes once each row is a function of its own. */
#if !defined(__clang__) /* clang has no such warning (and warns about the name) */
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "wasm/simd.h"

#define TYPE_I32  uint32_t
#define TYPE_I64  uint64_t
#define TYPE_F32  float
#define TYPE_F64  double
#define TYPE_V128 v128

#define GET_I32(x)  (fp[x].i32)
#define GET_I64(x)  (fp[x].i64)
#define GET_F32(x)  (fp[x].f32)
#define GET_F64(x)  (fp[x].f64)
#define GET_V128(x) vload(&fp[x])

#define SET_I32(d, v)  (fp[d].i32 = (uint32_t)(v))
#define SET_I64(d, v)  (fp[d].i64 = (uint64_t)(v))
#define SET_F32(d, v)  (fp[d].f32 = (float)(v))
#define SET_F64(d, v)  (fp[d].f64 = (double)(v))
#define SET_V128(d, v) vstore(&fp[d], (v128)(v))

#define HELPER(N) static enum wasm_trap h_##N(union wasm_slot *fp, const uint32_t *pc, uint8_t *p)

#define SPECIAL(N, P, C)
#define UN(N, P, C, TI, TO, E)                                                                     \
	HELPER(N)                                                                                  \
	{                                                                                          \
		TYPE_##TI a = GET_##TI(pc[2]);                                                     \
		(void)p;                                                                           \
		SET_##TO(pc[1], E);                                                                \
		return WASM_TRAP_NONE;                                                             \
	}
#define BIN(N, P, C, TA, TB, TO, E)                                                                \
	HELPER(N)                                                                                  \
	{                                                                                          \
		TYPE_##TA a = GET_##TA(pc[2]);                                                     \
		TYPE_##TB b = GET_##TB(pc[3]);                                                     \
		(void)p;                                                                           \
		SET_##TO(pc[1], E);                                                                \
		return WASM_TRAP_NONE;                                                             \
	}
#define IBIN(N, P, C, T, E)	 BIN(N, P, C, T, T, T, E)
#define ICMP(N, P, C, T, NEG, E) BIN(N, P, C, T, T, I32, E)
#define TBIN(N, P, C, T, F)                                                                        \
	HELPER(N)                                                                                  \
	{                                                                                          \
		TYPE_##T a = GET_##T(pc[2]);                                                       \
		TYPE_##T b = GET_##T(pc[3]), r;                                                    \
		enum wasm_trap t_ = F(a, b, &r);                                                   \
		(void)p;                                                                           \
		if (t_)                                                                            \
			return t_;                                                                 \
		SET_##T(pc[1], r);                                                                 \
		return WASM_TRAP_NONE;                                                             \
	}
#define TUN(N, P, C, TI, TO, F)                                                                    \
	HELPER(N)                                                                                  \
	{                                                                                          \
		TYPE_##TI a = GET_##TI(pc[2]);                                                     \
		TYPE_##TO r;                                                                       \
		enum wasm_trap t_ = F(a, &r);                                                      \
		(void)p;                                                                           \
		if (t_)                                                                            \
			return t_;                                                                 \
		SET_##TO(pc[1], r);                                                                \
		return WASM_TRAP_NONE;                                                             \
	}
/* memory rows: p is the checked address; the destination is pc[1] for N and N_IDX */
#define LOAD(N, P, C, TO, A, E)                                                                    \
	HELPER(N)                                                                                  \
	{                                                                                          \
		SET_##TO(pc[1], E);                                                                \
		return WASM_TRAP_NONE;                                                             \
	}
#define STORE(N, P, C, TI, A, S)                                                                   \
	HELPER(N)                                                                                  \
	{                                                                                          \
		TYPE_##TI v = GET_##TI(pc[2]);                                                     \
		S;                                                                                 \
		return WASM_TRAP_NONE;                                                             \
	}
#define TERN(N, P, C, E)                                                                           \
	HELPER(N)                                                                                  \
	{                                                                                          \
		v128 a = GET_V128(pc[2]);                                                          \
		v128 b = GET_V128(pc[3]);                                                          \
		v128 c = GET_V128(pc[4]);                                                          \
		(void)p;                                                                           \
		SET_V128(pc[1], E);                                                                \
		return WASM_TRAP_NONE;                                                             \
	}
#define EXTRACT(N, P, C, TO, L, E)                                                                 \
	HELPER(N)                                                                                  \
	{                                                                                          \
		v128 a = GET_V128(pc[2]);                                                          \
		uint32_t lane = pc[3];                                                             \
		(void)p;                                                                           \
		SET_##TO(pc[1], E);                                                                \
		return WASM_TRAP_NONE;                                                             \
	}
#define REPLACE(N, P, C, TI, L, E)                                                                 \
	HELPER(N)                                                                                  \
	{                                                                                          \
		v128 a = GET_V128(pc[2]);                                                          \
		TYPE_##TI b = GET_##TI(pc[3]);                                                     \
		uint32_t lane = pc[4];                                                             \
		(void)p;                                                                           \
		SET_V128(pc[1], E);                                                                \
		return WASM_TRAP_NONE;                                                             \
	}
#define LANEMEM(N, P, C, A, L, ISSTORE)                                                            \
	HELPER(N)                                                                                  \
	{                                                                                          \
		if (ISSTORE) {                                                                     \
			v128 v = GET_V128(pc[1]);                                                  \
			memcpy(p, (uint8_t *)&v + (pc[4] << (A)), 1u << (A));                      \
		} else {                                                                           \
			v128 v = GET_V128(pc[2]);                                                  \
			memcpy((uint8_t *)&v + (pc[5] << (A)), p, 1u << (A));                      \
			SET_V128(pc[1], v);                                                        \
		}                                                                                  \
		return WASM_TRAP_NONE;                                                             \
	}
#include "wasm/opcodes.def"

static enum wasm_trap h_SHUFFLE(union wasm_slot *fp, const uint32_t *pc, uint8_t *p)
{
	u8x16 a = (u8x16)GET_V128(pc[2]), b = (u8x16)GET_V128(pc[3]), r = {0};
	const uint8_t *lanes = (const uint8_t *)(pc + 4);

	(void)p;
	for (int i = 0; i < 16; i++)
		r[i] = lanes[i] < 16 ? a[lanes[i]] : b[lanes[i] - 16];
	SET_V128(pc[1], r);
	return WASM_TRAP_NONE;
}

wasm_jit_helper_fn wasm_jit_helper(enum wasm_op op)
{
	switch (op) {
#define SPECIAL(N, P, C)
#define UN(N, P, C, TI, TO, E)                                                                     \
	case WASM_OP_##N:                                                                          \
		return h_##N;
#define BIN(N, P, C, TA, TB, TO, E)                                                                \
	case WASM_OP_##N:                                                                          \
		return h_##N;
#define IBIN(N, P, C, T, E)                                                                        \
	case WASM_OP_##N:                                                                          \
		return h_##N;
#define ICMP(N, P, C, T, NEG, E)                                                                   \
	case WASM_OP_##N:                                                                          \
		return h_##N;
#define TBIN(N, P, C, T, F)                                                                        \
	case WASM_OP_##N:                                                                          \
		return h_##N;
#define TUN(N, P, C, TI, TO, F)                                                                    \
	case WASM_OP_##N:                                                                          \
		return h_##N;
#define LOAD(N, P, C, TO, A, E)                                                                    \
	case WASM_OP_##N:                                                                          \
		return h_##N;
#define STORE(N, P, C, TI, A, S)                                                                   \
	case WASM_OP_##N:                                                                          \
		return h_##N;
#define TERN(N, P, C, E)                                                                           \
	case WASM_OP_##N:                                                                          \
		return h_##N;
#define EXTRACT(N, P, C, TO, L, E)                                                                 \
	case WASM_OP_##N:                                                                          \
		return h_##N;
#define REPLACE(N, P, C, TI, L, E)                                                                 \
	case WASM_OP_##N:                                                                          \
		return h_##N;
#define LANEMEM(N, P, C, A, L, ISSTORE)                                                            \
	case WASM_OP_##N:                                                                          \
		return h_##N;
#include "wasm/opcodes.def"
	case WASM_OP_SHUFFLE:
		return h_SHUFFLE;
	default:
		return NULL;
	}
}
