/*
 * What the translator knows about the internal code before emitting anything: the
 * layout of every internal op (generated from the same X-macro rows as the interpreter's
 * handlers, plus the hand-written XOP rows of xops.def), the map from code words back to
 * ops, and one scan per function that finds op starts, branch targets and loop heads and
 * picks the frame slots the function keeps in host registers: the most used scalar slots,
 * uses weighted by loop nesting (8x per level, up to three). A slot any op reads or
 * writes as half of a v128 is never cached, so the register and memory copies of a slot
 * can never disagree about a value nobody tracks. Slots used more as f32/f64 operands
 * than by ops whose translation is not xmm-aware (wasm_jit_xmm_ok; compile*.c reuses
 * operand-stack slots for values of any type) go to the xmm cache first; the
 * general-purpose registers take the most used of the rest.
 */
#include "wasm/jit/tr.h"

#if WASM_JIT_SUPPORTED

#include "core/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TY_I32	WASM_I32
#define TY_I64	WASM_I64
#define TY_F32	WASM_F32
#define TY_F64	WASM_F64
#define TY_V128 WASM_V128

/* layout letters by type: a written slot, a read slot, an immediate */
#define LD_I32	"d"
#define LD_I64	"d"
#define LD_F32	"d"
#define LD_F64	"d"
#define LD_V128 "D"
#define LA_I32	"a"
#define LA_I64	"a"
#define LA_F32	"a"
#define LA_F64	"a"
#define LA_V128 "A"
#define LI_I32	"i"
#define LI_I64	"ii"
#define AL_I32	2
#define AL_I64	3
#define AL_F32	2
#define AL_F64	3
#define LM_0	"DAaii"
#define LM_1	"Aaii"

/* clang-format off */
const struct jop wasm_jit_ops[WASM_OP_COUNT] = {
#define SPECIAL(N, P, C)
#define UN(N, P, C, TI, TO, E) \
	[WASM_OP_##N] = {J_UN, TY_##TI, 0, TY_##TO, 0, WASM_OP_##N, 0, LD_##TO LA_##TI},
#define BIN(N, P, C, TA, TB, TO, E) \
	[WASM_OP_##N] = {J_BIN, TY_##TA, TY_##TB, TY_##TO, 0, WASM_OP_##N, 0, LD_##TO LA_##TA LA_##TB},
#define IBIN(N, P, C, T, E) \
	[WASM_OP_##N] = {J_IBIN, TY_##T, TY_##T, TY_##T, 0, WASM_OP_##N, 0, "daa"}, \
	[WASM_OP_##N##_I] = {J_IBIN_I, TY_##T, TY_##T, TY_##T, 0, WASM_OP_##N, 0, "da" LI_##T},
#define ICMP(N, P, C, T, NEG, E) \
	[WASM_OP_##N] = {J_ICMP, TY_##T, TY_##T, TY_I32, 0, WASM_OP_##N, 0, "daa"}, \
	[WASM_OP_##N##_I] = {J_ICMP_I, TY_##T, TY_##T, TY_I32, 0, WASM_OP_##N, 0, "da" LI_##T}, \
	[WASM_OP_BR_##N] = {J_BR_ICMP, TY_##T, TY_##T, 0, 0, WASM_OP_##N, 0, "aao"}, \
	[WASM_OP_BR_##N##_I] = {J_BR_ICMP_I, TY_##T, TY_##T, 0, 0, WASM_OP_##N, 0, "a" LI_##T "o"}, \
	[WASM_OP_BRL_##N] = {J_BRL_ICMP, TY_##T, TY_##T, 0, 0, WASM_OP_##N, 0, "aao"}, \
	[WASM_OP_BRL_##N##_I] = {J_BRL_ICMP_I, TY_##T, TY_##T, 0, 0, WASM_OP_##N, 0, "a" LI_##T "o"},
#define TBIN(N, P, C, T, F) \
	[WASM_OP_##N] = {J_TBIN, TY_##T, TY_##T, TY_##T, 0, WASM_OP_##N, 0, "daa"},
#define TUN(N, P, C, TI, TO, F) \
	[WASM_OP_##N] = {J_TUN, TY_##TI, 0, TY_##TO, 0, WASM_OP_##N, 0, "da"},
#define LOAD(N, P, C, TO, A, E) \
	[WASM_OP_##N] = {J_LOAD, TY_I32, 0, TY_##TO, A, WASM_OP_##N, 0, LD_##TO "ai"}, \
	[WASM_OP_##N##_IDX] = {J_LOAD_IDX, TY_I32, 0, TY_##TO, A, WASM_OP_##N, 0, LD_##TO "aaii"},
#define STORE(N, P, C, TI, A, S) \
	[WASM_OP_##N] = {J_STORE, TY_I32, TY_##TI, 0, A, WASM_OP_##N, 0, "a" LA_##TI "i"},
#define TERN(N, P, C, E) \
	[WASM_OP_##N] = {J_TERN, TY_V128, TY_V128, TY_V128, 0, WASM_OP_##N, 0, "DAAA"},
#define EXTRACT(N, P, C, TO, L, E) \
	[WASM_OP_##N] = {J_EXTRACT, TY_V128, 0, TY_##TO, 0, WASM_OP_##N, 0, LD_##TO "Ai"},
#define REPLACE(N, P, C, TI, L, E) \
	[WASM_OP_##N] = {J_REPLACE, TY_V128, TY_##TI, TY_V128, 0, WASM_OP_##N, 0, "DA" LA_##TI "i"},
#define LANEMEM(N, P, C, A, L, ISSTORE) \
	[WASM_OP_##N] = {ISSTORE ? J_LANE_STORE : J_LANE_LOAD, TY_I32, TY_V128, TY_V128, A, \
			 WASM_OP_##N, 0, LM_##ISSTORE},
#include "wasm/opcodes.def"
#define FUSE_LOAD(N, BIN, T, COMM, E) \
	[WASM_OP_##N] = {J_FUSE_LOAD, TY_##T, TY_##T, TY_##T, AL_##T, WASM_OP_##BIN, 0, "daai"},
#define FUSE_IMM(N, BIN, IN, T, COMM, E) \
	[WASM_OP_##N] = {J_FUSE_IMM, TY_##T, TY_##T, TY_##T, 0, WASM_OP_##BIN, WASM_OP_##IN, \
			 "daa" LI_##T},
#define FUSE_BIN(N, BIN, IN, T, COMM, E) \
	[WASM_OP_##N] = {J_FUSE_BIN, TY_##T, TY_##T, TY_##T, 0, WASM_OP_##BIN, WASM_OP_##IN, "daaa"},
#include "wasm/fused.def"
#undef FUSE_LOAD
#undef FUSE_IMM
#undef FUSE_BIN
	/* xops.def, one by one (the layouts its rows document) */
	[WASM_OP_UNREACHABLE] = {J_XOP, 0, 0, 0, 0, WASM_OP_UNREACHABLE, 0, ""},
	[WASM_OP_COPY] = {J_XOP, 0, 0, 0, 0, WASM_OP_COPY, 0, "da"},
	[WASM_OP_MOVE2] = {J_XOP, 0, 0, 0, 0, WASM_OP_MOVE2, 0, "dada"},
	[WASM_OP_MOVE3] = {J_XOP, 0, 0, 0, 0, WASM_OP_MOVE3, 0, "dadada"},
	[WASM_OP_I32_ROTL_XOR_ROTL] = {J_XOP, 0, 0, 0, 0, WASM_OP_I32_ROTL_XOR_ROTL, 0, "daiai"},
	[WASM_OP_COPY_I32_LOAD_IDX] = {J_XOP, 0, 0, 0, 2, WASM_OP_COPY_I32_LOAD_IDX, 0, "daxdaaii"},
	[WASM_OP_I32_ADD_I2] = {J_XOP, 0, 0, 0, 0, WASM_OP_I32_ADD_I2, 0, "daixdai"},
	[WASM_OP_COPY2] = {J_XOP, 0, 0, 0, 0, WASM_OP_COPY2, 0, "DA"},
	[WASM_OP_CONST32] = {J_XOP, 0, 0, 0, 0, WASM_OP_CONST32, 0, "di"},
	[WASM_OP_CONST64] = {J_XOP, 0, 0, 0, 0, WASM_OP_CONST64, 0, "dii"},
	[WASM_OP_CONST128] = {J_XOP, 0, 0, 0, 0, WASM_OP_CONST128, 0, "Diiii"},
	[WASM_OP_BR] = {J_XOP, 0, 0, 0, 0, WASM_OP_BR, 0, "o"},
	[WASM_OP_BR_NZ] = {J_XOP, 0, 0, 0, 0, WASM_OP_BR_NZ, 0, "ao"},
	[WASM_OP_BR_Z] = {J_XOP, 0, 0, 0, 0, WASM_OP_BR_Z, 0, "ao"},
	[WASM_OP_BR_NZ64] = {J_XOP, 0, 0, 0, 0, WASM_OP_BR_NZ64, 0, "ao"},
	[WASM_OP_BR_Z64] = {J_XOP, 0, 0, 0, 0, WASM_OP_BR_Z64, 0, "ao"},
	[WASM_OP_BR_TABLE] = {J_XOP, 0, 0, 0, 0, WASM_OP_BR_TABLE, 0, "ai"},
	[WASM_OP_BR_LOOP] = {J_XOP, 0, 0, 0, 0, WASM_OP_BR_LOOP, 0, "o"},
	[WASM_OP_BRL_NZ] = {J_XOP, 0, 0, 0, 0, WASM_OP_BRL_NZ, 0, "ao"},
	[WASM_OP_BRL_Z] = {J_XOP, 0, 0, 0, 0, WASM_OP_BRL_Z, 0, "ao"},
	[WASM_OP_BRL_NZ64] = {J_XOP, 0, 0, 0, 0, WASM_OP_BRL_NZ64, 0, "ao"},
	[WASM_OP_BRL_Z64] = {J_XOP, 0, 0, 0, 0, WASM_OP_BRL_Z64, 0, "ao"},
	[WASM_OP_CALL] = {J_XOP, 0, 0, 0, 0, WASM_OP_CALL, 0, "ii"},
	[WASM_OP_CALL_LOCAL] = {J_XOP, 0, 0, 0, 0, WASM_OP_CALL_LOCAL, 0, "iiii"},
	[WASM_OP_CALL_INDIRECT] = {J_XOP, 0, 0, 0, 0, WASM_OP_CALL_INDIRECT, 0, "iiai"},
	[WASM_OP_RETURN] = {J_XOP, 0, 0, 0, 0, WASM_OP_RETURN, 0, ""},
	[WASM_OP_RET1] = {J_XOP, 0, 0, 0, 0, WASM_OP_RET1, 0, "a"},
	[WASM_OP_SELECT] = {J_XOP, 0, 0, 0, 0, WASM_OP_SELECT, 0, "daaa"},
	[WASM_OP_SELECT2] = {J_XOP, 0, 0, 0, 0, WASM_OP_SELECT2, 0, "DAAa"},
	[WASM_OP_GLOBAL_GET] = {J_XOP, 0, 0, 0, 0, WASM_OP_GLOBAL_GET, 0, "di"},
	[WASM_OP_GLOBAL_GET2] = {J_XOP, 0, 0, 0, 0, WASM_OP_GLOBAL_GET2, 0, "Di"},
	[WASM_OP_GLOBAL_SET] = {J_XOP, 0, 0, 0, 0, WASM_OP_GLOBAL_SET, 0, "ia"},
	[WASM_OP_GLOBAL_SET2] = {J_XOP, 0, 0, 0, 0, WASM_OP_GLOBAL_SET2, 0, "iA"},
	[WASM_OP_MEMORY_SIZE] = {J_XOP, 0, 0, 0, 0, WASM_OP_MEMORY_SIZE, 0, "d"},
	[WASM_OP_MEMORY_GROW] = {J_XOP, 0, 0, 0, 0, WASM_OP_MEMORY_GROW, 0, "da"},
	[WASM_OP_MEMORY_INIT] = {J_XOP, 0, 0, 0, 0, WASM_OP_MEMORY_INIT, 0, "iaaa"},
	[WASM_OP_DATA_DROP] = {J_XOP, 0, 0, 0, 0, WASM_OP_DATA_DROP, 0, "i"},
	[WASM_OP_MEMORY_COPY] = {J_XOP, 0, 0, 0, 0, WASM_OP_MEMORY_COPY, 0, "aaa"},
	[WASM_OP_MEMORY_FILL] = {J_XOP, 0, 0, 0, 0, WASM_OP_MEMORY_FILL, 0, "aaa"},
	[WASM_OP_TABLE_GET] = {J_XOP, 0, 0, 0, 0, WASM_OP_TABLE_GET, 0, "dia"},
	[WASM_OP_TABLE_SET] = {J_XOP, 0, 0, 0, 0, WASM_OP_TABLE_SET, 0, "iaa"},
	[WASM_OP_TABLE_INIT] = {J_XOP, 0, 0, 0, 0, WASM_OP_TABLE_INIT, 0, "iiaaa"},
	[WASM_OP_ELEM_DROP] = {J_XOP, 0, 0, 0, 0, WASM_OP_ELEM_DROP, 0, "i"},
	[WASM_OP_TABLE_COPY] = {J_XOP, 0, 0, 0, 0, WASM_OP_TABLE_COPY, 0, "iiaaa"},
	[WASM_OP_TABLE_GROW] = {J_XOP, 0, 0, 0, 0, WASM_OP_TABLE_GROW, 0, "diaa"},
	[WASM_OP_TABLE_SIZE] = {J_XOP, 0, 0, 0, 0, WASM_OP_TABLE_SIZE, 0, "di"},
	[WASM_OP_TABLE_FILL] = {J_XOP, 0, 0, 0, 0, WASM_OP_TABLE_FILL, 0, "iaaa"},
	[WASM_OP_REF_FUNC] = {J_XOP, 0, 0, 0, 0, WASM_OP_REF_FUNC, 0, "di"},
	[WASM_OP_REF_IS_NULL] = {J_XOP, 0, 0, 0, 0, WASM_OP_REF_IS_NULL, 0, "da"},
	[WASM_OP_SHUFFLE] = {J_XOP, 0, 0, 0, 0, WASM_OP_SHUFFLE, 0, "DAAiiii"},
	[WASM_OP_CALL_REF] = {J_XOP, 0, 0, 0, 0, WASM_OP_CALL_REF, 0, "ai"},
	[WASM_OP_RETURN_CALL] = {J_XOP, 0, 0, 0, 0, WASM_OP_RETURN_CALL, 0, "ii"},
	[WASM_OP_RETURN_CALL_INDIRECT] = {J_XOP, 0, 0, 0, 0, WASM_OP_RETURN_CALL_INDIRECT, 0, "iiai"},
	[WASM_OP_RETURN_CALL_REF] = {J_XOP, 0, 0, 0, 0, WASM_OP_RETURN_CALL_REF, 0, "ai"},
	[WASM_OP_REF_AS_NON_NULL] = {J_XOP, 0, 0, 0, 0, WASM_OP_REF_AS_NON_NULL, 0, "a"},
	[WASM_OP_THROW] = {J_XOP, 0, 0, 0, 0, WASM_OP_THROW, 0, "ii"},
	[WASM_OP_THROW_REF] = {J_XOP, 0, 0, 0, 0, WASM_OP_THROW_REF, 0, "a"},
	[WASM_OP_REF_I31] = {J_XOP, 0, 0, 0, 0, WASM_OP_REF_I31, 0, "da"},
	[WASM_OP_I31_GET_S] = {J_XOP, 0, 0, 0, 0, WASM_OP_I31_GET_S, 0, "da"},
	[WASM_OP_I31_GET_U] = {J_XOP, 0, 0, 0, 0, WASM_OP_I31_GET_U, 0, "da"},
	[WASM_OP_REF_EQ] = {J_XOP, 0, 0, 0, 0, WASM_OP_REF_EQ, 0, "daa"},
	[WASM_OP_REF_TEST] = {J_XOP, 0, 0, 0, 0, WASM_OP_REF_TEST, 0, "dai"},
	[WASM_OP_REF_CAST] = {J_XOP, 0, 0, 0, 0, WASM_OP_REF_CAST, 0, "dai"},
	/* GC objects in C (wasm_gc_exec): their operands may be v128 pairs or scalars by
	 * the kind word, so none is listed; everything cached is written back before and
	 * loaded again after (translate.c emit_gc) */
	[WASM_OP_STRUCT_NEW] = {J_XOP, 0, 0, 0, 0, WASM_OP_STRUCT_NEW, 0, "iii"},
	[WASM_OP_STRUCT_NEW_DEFAULT] = {J_XOP, 0, 0, 0, 0, WASM_OP_STRUCT_NEW_DEFAULT, 0, "ii"},
	[WASM_OP_STRUCT_GET] = {J_XOP, 0, 0, 0, 0, WASM_OP_STRUCT_GET, 0, "iiii"},
	[WASM_OP_STRUCT_SET] = {J_XOP, 0, 0, 0, 0, WASM_OP_STRUCT_SET, 0, "iiii"},
	[WASM_OP_ARRAY_NEW] = {J_XOP, 0, 0, 0, 0, WASM_OP_ARRAY_NEW, 0, "iiii"},
	[WASM_OP_ARRAY_NEW_DEFAULT] = {J_XOP, 0, 0, 0, 0, WASM_OP_ARRAY_NEW_DEFAULT, 0, "iii"},
	[WASM_OP_ARRAY_NEW_FIXED] = {J_XOP, 0, 0, 0, 0, WASM_OP_ARRAY_NEW_FIXED, 0, "iiii"},
	[WASM_OP_ARRAY_NEW_DATA] = {J_XOP, 0, 0, 0, 0, WASM_OP_ARRAY_NEW_DATA, 0, "iiiii"},
	[WASM_OP_ARRAY_NEW_ELEM] = {J_XOP, 0, 0, 0, 0, WASM_OP_ARRAY_NEW_ELEM, 0, "iiiii"},
	[WASM_OP_ARRAY_GET] = {J_XOP, 0, 0, 0, 0, WASM_OP_ARRAY_GET, 0, "iiii"},
	[WASM_OP_ARRAY_SET] = {J_XOP, 0, 0, 0, 0, WASM_OP_ARRAY_SET, 0, "iiii"},
	[WASM_OP_ARRAY_LEN] = {J_XOP, 0, 0, 0, 0, WASM_OP_ARRAY_LEN, 0, "ii"},
	[WASM_OP_ARRAY_FILL] = {J_XOP, 0, 0, 0, 0, WASM_OP_ARRAY_FILL, 0, "iiiii"},
	[WASM_OP_ARRAY_COPY] = {J_XOP, 0, 0, 0, 0, WASM_OP_ARRAY_COPY, 0, "iiiii"},
	[WASM_OP_ARRAY_INIT_DATA] = {J_XOP, 0, 0, 0, 0, WASM_OP_ARRAY_INIT_DATA, 0, "iiiii"},
	[WASM_OP_ARRAY_INIT_ELEM] = {J_XOP, 0, 0, 0, 0, WASM_OP_ARRAY_INIT_ELEM, 0, "iiiii"},
	[WASM_OP_ANY_CONVERT_EXTERN] = {J_XOP, 0, 0, 0, 0, WASM_OP_ANY_CONVERT_EXTERN, 0, "ii"},
	[WASM_OP_EXTERN_CONVERT_ANY] = {J_XOP, 0, 0, 0, 0, WASM_OP_EXTERN_CONVERT_ANY, 0, "ii"},
	[WASM_OP_ATOMIC_LOAD] = {J_XOP, 0, 0, 0, 0, WASM_OP_ATOMIC_LOAD, 0, "daii"},
	[WASM_OP_ATOMIC_STORE] = {J_XOP, 0, 0, 0, 0, WASM_OP_ATOMIC_STORE, 0, "aaii"},
	[WASM_OP_ATOMIC_RMW] = {J_XOP, 0, 0, 0, 0, WASM_OP_ATOMIC_RMW, 0, "daaii"},
	[WASM_OP_ATOMIC_CMPXCHG] = {J_XOP, 0, 0, 0, 0, WASM_OP_ATOMIC_CMPXCHG, 0, "daaaii"},
	[WASM_OP_ATOMIC_WAIT] = {J_XOP, 0, 0, 0, 0, WASM_OP_ATOMIC_WAIT, 0, "daaaiii"},
	[WASM_OP_ATOMIC_NOTIFY] = {J_XOP, 0, 0, 0, 0, WASM_OP_ATOMIC_NOTIFY, 0, "daaii"},
	[WASM_OP_ATOMIC_FENCE] = {J_XOP, 0, 0, 0, 0, WASM_OP_ATOMIC_FENCE, 0, ""},
};
/* clang-format on */

/* ----- code words back to ops ----- */

static int cmp_rev(const void *a, const void *b)
{
	const struct revmap *x = a, *y = b;

	return x->word < y->word ? -1 : x->word > y->word;
}

int wasm_jit_revmap(struct wasm_jit *j)
{
	const int32_t *disp = wasm_exec_dispatch();
	struct revmap *r = core_alloc(WASM_OP_COUNT * sizeof(*r));

	if (!r)
		return -ENOMEM;
	for (unsigned i = 0; i < WASM_OP_COUNT; i++)
		r[i] = (struct revmap){disp[i], (uint16_t)i};
	qsort(r, WASM_OP_COUNT, sizeof(*r), cmp_rev);
	/* two ops sharing a dispatch word (the compiler merged identical handlers) cannot
	 * be told apart: code holding that word is not translated */
	for (unsigned i = 1; i < WASM_OP_COUNT; i++)
		if (r[i].word == r[i - 1].word)
			r[i].op = r[i - 1].op = WASM_OP_COUNT;
	j->rev = r;
	return 0;
}

unsigned wasm_jit_op_of(const struct wasm_jit *j, uint32_t word)
{
	unsigned lo = 0, hi = WASM_OP_COUNT;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (j->rev[mid].word < (int32_t)word)
			lo = mid + 1;
		else if (j->rev[mid].word > (int32_t)word)
			hi = mid;
		else
			return j->rev[mid].op;
	}
	return WASM_OP_COUNT;
}

uint32_t wasm_jit_op_len(const uint32_t *pc, unsigned op, uint32_t left)
{
	uint32_t n;

	if (op >= WASM_OP_COUNT || wasm_jit_ops[op].kind == 0)
		return 0;
	if (op == WASM_OP_BR_TABLE) {
		if (left < 3 || pc[2] > left - 4)
			return 0;
		return pc[2] + 4;
	}
	n = 1 + (uint32_t)strlen(wasm_jit_ops[op].layout);
	return n <= left ? n : 0;
}

/* ----- the xmm cache's operands ----- */

static bool is_float(uint8_t ty)
{
	return ty == WASM_F32 || ty == WASM_F64;
}

/* Whether operand k (layout index) of op may be in an xmm register: 0 no, 1 yes (a move,
 * whatever the type), 2 yes and it is an f32/f64 operand. Every row here is translated
 * through the xmm-aware operand calls only (or through the per-op helper, which reads
 * and writes frames after the cache's write-back and before its reload). */
static int xmm_use(unsigned op, unsigned k)
{
	const struct jop *jo = &wasm_jit_ops[op];

	switch (jo->kind) {
	case J_BIN:
		if (!is_float(jo->ta))
			return 0;
		return (k == 0 ? is_float(jo->to) : k <= 2) ? 2 : 0;
	case J_UN:
		if (k == 0)
			return is_float(jo->to) ? 2 : 0;
		return k == 1 && is_float(jo->ta) ? 2 : 0;
	case J_LOAD:
	case J_LOAD_IDX:
		return k == 0 && is_float(jo->to) ? 2 : 0;
	case J_STORE:
		return k == 1 && is_float(jo->tb) ? 2 : 0;
	case J_FUSE_LOAD:
		return k <= 1 && is_float(jo->ta) ? 2 : 0;
	case J_XOP:
		switch (op) {
		case WASM_OP_COPY:
		case WASM_OP_MOVE2:
		case WASM_OP_MOVE3:
		case WASM_OP_RET1:
			return 1;
		case WASM_OP_CONST32:
		case WASM_OP_CONST64:
		case WASM_OP_GLOBAL_GET:
			return k == 0;
		case WASM_OP_GLOBAL_SET:
			return k == 1;
		case WASM_OP_SELECT: /* [d a b cond] */
			return k <= 2;
		default:
			return 0;
		}
	default:
		return 0;
	}
}

bool wasm_jit_xmm_ok(unsigned op, unsigned k)
{
	return op < WASM_OP_COUNT && xmm_use(op, k) != 0;
}

/* ----- the scan ----- */

struct scan {
	int32_t *depth;	  /* per word: +1 where a loop starts, -1 after it ends */
	uint64_t *score;  /* per slot */
	uint64_t *fscore; /* per slot: the part of score from f32/f64 operands */
	uint64_t *iscore; /* per slot: the part from operands of ops not xmm-aware */
	uint8_t *banned;  /* per slot: part of a v128 somewhere */
	uint8_t *written; /* per slot */
};

/* Marks the branch at word `at` of the op at pc. */
static int add_target(struct tr *t, struct scan *sc, uint32_t pc, uint32_t at, uint32_t len)
{
	int64_t target = (int64_t)pc + (int32_t)t->ops[at];

	if (target < 0 || target >= t->code->nops)
		return -ENOTSUP;
	t->wflags[target] |= W_LABEL;
	if (target <= pc) { /* a loop back-edge: the loop is [target, this op] */
		t->wflags[target] |= W_LOOP;
		sc->depth[target]++;
		sc->depth[pc + len]--;
	}
	return 0;
}

static int scan_ops(struct tr *t, struct scan *sc)
{
	const uint32_t n = t->code->nops;

	for (uint32_t pc = 0; pc < n;) {
		unsigned op = wasm_jit_op_of(t->j, t->ops[pc]);
		uint32_t len = wasm_jit_op_len(t->ops + pc, op, n - pc);
		const char *lay;

		if (!len)
			return -ENOTSUP;
		t->wflags[pc] |= W_START;
		t->opat[pc] = (uint16_t)op;
		if (op == WASM_OP_RETURN_CALL || op == WASM_OP_RETURN_CALL_INDIRECT ||
		    op == WASM_OP_RETURN_CALL_REF)
			t->has_tail = true;
		lay = wasm_jit_ops[op].layout;
		for (uint32_t k = 0; lay[k]; k++)
			if (lay[k] == 'o' && add_target(t, sc, pc, pc + 1 + k, len))
				return -ENOTSUP;
		if (op == WASM_OP_BR_TABLE)
			for (uint32_t k = 3; k < len; k++)
				if (add_target(t, sc, pc, pc + k, len))
					return -ENOTSUP;
		pc += len;
	}
	/* a handler's pad is where an exception caught in this frame goes on (an entry of
	 * its own, every cached slot loaded from the frame) */
	for (uint32_t i = 0; i < t->code->nhandlers; i++) {
		uint32_t pad = t->code->handlers[i].pad;
		if (pad >= n)
			return -ENOTSUP;
		t->wflags[pad] |= W_LABEL | W_PAD;
	}
	for (uint32_t pc = 0; pc < n; pc++)
		if ((t->wflags[pc] & W_LABEL) && !(t->wflags[pc] & W_START))
			return -ENOTSUP; /* a branch into the middle of an op */
	return 0;
}

/* Scores every slot operand (weighted by loop depth) and bans v128 slots. */
static int score_slots(struct tr *t, struct scan *sc)
{
	const uint32_t n = t->code->nops, nslots = t->code->frame_slots;
	int32_t depth = 0;

	for (uint32_t pc = 0; pc < n; pc++) {
		unsigned op;
		const char *lay;
		uint64_t w;

		depth += sc->depth[pc];
		if (!(t->wflags[pc] & W_START))
			continue;
		op = t->opat[pc];
		lay = wasm_jit_ops[op].layout;
		w = 1ull << (3 * (depth < 3 ? (depth > 0 ? depth : 0) : 3));
		for (uint32_t k = 0; lay[k]; k++) {
			uint32_t s = t->ops[pc + 1 + k];
			switch (lay[k]) {
			case 'd':
			case 'a':
				if (s >= nslots)
					return -ENOTSUP;
				sc->score[s] += w;
				switch (xmm_use(op, k)) {
				case 0:
					sc->iscore[s] += w;
					break;
				case 2:
					sc->fscore[s] += w;
					break;
				}
				if (lay[k] == 'd')
					sc->written[s] = 1;
				break;
			case 'D':
			case 'A':
				if (s >= nslots || s + 1 >= nslots)
					return -ENOTSUP;
				sc->banned[s] = sc->banned[s + 1] = 1;
				break;
			}
		}
	}
	return 0;
}

/* The cache registers, in the order slots get them (the most used first); r13 only
 * where memory 0 has a guard region (else it holds the memory's size). */
static const int cache_regs[NCACHE] = {X86_RSI, X86_RDI, X86_RBP, X86_R8,
				       X86_R9,	X86_R10, X86_R11, X86_R13};

/* Gives up to n registers of a class (cache_regs[i], or xmm XCACHE0 + i) to the most used
 * slots left that the class admits (xmm: used more as floats than otherwise). */
static void pick_class(struct tr *t, struct scan *sc, bool xmm, unsigned n)
{
	const uint32_t nslots = t->code->frame_slots;

	for (unsigned i = 0; i < n; i++) {
		uint64_t best = 2; /* a slot used once or twice is not worth a register */
		uint32_t pick = UINT32_MAX;
		unsigned c = t->ncache;
		for (uint32_t s = 0; s < nslots; s++) {
			if (sc->banned[s] || sc->score[s] <= best)
				continue;
			if (xmm && sc->fscore[s] <= sc->iscore[s])
				continue;
			best = sc->score[s], pick = s;
		}
		if (pick == UINT32_MAX)
			break;
		sc->score[pick] = 0;
		t->cslot[c] = pick;
		t->creg[c] = xmm ? XCACHE0 + (int)i : cache_regs[i];
		if (xmm)
			t->xmm |= 1u << c;
		t->sreg[pick] = (int8_t)c;
		if (sc->written[pick])
			t->written |= 1u << c;
		t->ncache++;
	}
}

static void pick_cache(struct tr *t, struct scan *sc)
{
	t->ncache = 0;
	t->written = 0;
	t->xmm = 0;
	pick_class(t, sc, true, NXCACHE);
	pick_class(t, sc, false, t->guard ? NCACHE : NCACHE - 1);
}

int wasm_jit_analyze(struct tr *t)
{
	const uint32_t n = t->code->nops, nslots = t->code->frame_slots;
	struct scan sc = {0};
	int rc = -ENOMEM;

	if (n == 0 || nslots >= (1u << 27))
		return -ENOTSUP;
	t->wflags = core_calloc(n, 1);
	t->opat = core_calloc(n, sizeof(*t->opat));
	t->hostat = core_calloc(n, sizeof(*t->hostat));
	t->sreg = core_alloc(nslots ? nslots : 1);
	sc.depth = core_calloc((size_t)n + 1, sizeof(*sc.depth));
	sc.score = core_calloc(nslots ? nslots : 1, sizeof(*sc.score));
	sc.fscore = core_calloc(nslots ? nslots : 1, sizeof(*sc.fscore));
	sc.banned = core_calloc(nslots ? nslots : 1, 1);
	sc.iscore = core_calloc(nslots ? nslots : 1, sizeof(*sc.iscore));
	sc.written = core_calloc(nslots ? nslots : 1, 1);
	if (!t->wflags || !t->opat || !t->hostat || !t->sreg || !sc.depth || !sc.score ||
	    !sc.fscore || !sc.iscore || !sc.banned || !sc.written)
		goto out;
	memset(t->sreg, -1, nslots ? nslots : 1);
	rc = scan_ops(t, &sc);
	if (!rc)
		rc = score_slots(t, &sc);
	if (!rc)
		pick_cache(t, &sc);
out:
	core_free(sc.depth);
	core_free(sc.score);
	core_free(sc.fscore);
	core_free(sc.banned);
	core_free(sc.iscore);
	core_free(sc.written);
	return rc;
}

#endif
