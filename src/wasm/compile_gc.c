/*
 * The GC proposal's instructions (WebAssembly 3.0, "Aggregate reference instructions"
 * and "Scalar reference instructions"): the opcodes.def GC block. An i31 is not
 * allocated: its value is the tagged word (v << 1) | 1 in the reference's slot, so it
 * is never null (0) and never an object pointer (even); ref.eq compares the words.
 */
#include "wasm/compile.h"

#include <errno.h>

/* ref.i31: i32 -> (ref i31) */
static int op_ref_i31(struct wasm_cc *c)
{
	struct wasm_cc_entry v;
	uint32_t a, d;

	TRY(wasm_cc_pop(c, T_I32, &v));
	a = wasm_cc_use_slot(c, &v);
	TRY(wasm_cc_push_result(c, wasm_vt_ref(WASM_HT_I31, false), &d));
	wasm_cc_emit_op(c, WASM_OP_REF_I31);
	wasm_cc_emit(c, d), wasm_cc_emit(c, a);
	return 0;
}

/* i31.get_s, i31.get_u: (ref null i31) -> i32, trapping on null */
static int op_i31_get(struct wasm_cc *c, bool sign)
{
	struct wasm_cc_entry v;
	uint32_t a, d;

	TRY(wasm_cc_pop(c, wasm_vt_ref(WASM_HT_I31, true), &v));
	a = wasm_cc_use_slot(c, &v);
	TRY(wasm_cc_push_result(c, T_I32, &d));
	wasm_cc_emit_op(c, sign ? WASM_OP_I31_GET_S : WASM_OP_I31_GET_U);
	wasm_cc_emit(c, d), wasm_cc_emit(c, a);
	return 0;
}

/* ref.eq: (ref null eq) x (ref null eq) -> i32 */
static int op_ref_eq(struct wasm_cc *c)
{
	struct wasm_cc_entry va, vb;
	uint32_t a, b, d;
	wasm_vt eq = wasm_vt_ref(WASM_HT_EQ, true);

	TRY(wasm_cc_pop(c, eq, &vb));
	TRY(wasm_cc_pop(c, eq, &va));
	a = wasm_cc_use_slot(c, &va);
	b = wasm_cc_use_slot(c, &vb);
	TRY(wasm_cc_push_result(c, T_I32, &d));
	wasm_cc_emit_op(c, WASM_OP_REF_EQ);
	wasm_cc_emit(c, d), wasm_cc_emit(c, a), wasm_cc_emit(c, b);
	return 0;
}

/* The top of the hierarchy heap type t (of this module) is in: func, extern or any. */
static wasm_vt top_of(const struct wasm_cc *c, wasm_vt t)
{
	uint32_t code = wasm_vt_code(t);

	if (code == WASM_FUNCREF || code == WASM_HT_NOFUNC ||
	    (code == WASM_HT_IDX && wasm_type_is_func(c->m, wasm_vt_index(t))))
		return WASM_FUNCREF;
	if (code == WASM_EXTERNREF || code == WASM_HT_NOEXTERN)
		return WASM_EXTERNREF;
	return WASM_HT_ANY;
}

/* ref.test rt, ref.cast rt: the operand must be in rt's hierarchy (of its top type). */
static int op_ref_test(struct wasm_cc *c, bool cast, bool nullable)
{
	struct wasm_cc_entry v;
	uint32_t a, d;
	wasm_vt rt;

	TRY(wasm_rd_heaptype(c->r, c->m, &rt));
	if (!nullable)
		rt |= WASM_VT_NONNULL;
	TRY(wasm_cc_pop(c, top_of(c, rt), &v));
	a = wasm_cc_use_slot(c, &v);
	TRY(wasm_cc_push_result(c, cast ? rt : T_I32, &d));
	wasm_cc_emit_op(c, cast ? WASM_OP_REF_CAST : WASM_OP_REF_TEST);
	wasm_cc_emit(c, d), wasm_cc_emit(c, a), wasm_cc_emit(c, rt);
	return 0;
}

int wasm_cc_gc(struct wasm_cc *c, uint32_t sp)
{
	switch (sp) {
	case S_REF_TEST:
	case S_REF_TEST_NULL:
		return op_ref_test(c, false, sp == S_REF_TEST_NULL);
	case S_REF_CAST:
	case S_REF_CAST_NULL:
		return op_ref_test(c, true, sp == S_REF_CAST_NULL);
	case S_REF_I31:
		return op_ref_i31(c);
	case S_I31_GET_S:
		return op_i31_get(c, true);
	case S_I31_GET_U:
		return op_i31_get(c, false);
	case S_REF_EQ:
		return op_ref_eq(c);
	}
	return -EINVAL;
}
