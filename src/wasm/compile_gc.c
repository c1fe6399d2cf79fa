/*
 * The GC proposal's instructions (WebAssembly 3.0, "Aggregate reference instructions"
 * and "Scalar reference instructions"): the opcodes.def GC block. An i31 is not
 * allocated: its value is the tagged word (v << 1) | 1 in the reference's slot, so it
 * is never null (0) and never an object pointer (even); ref.eq compares the words.
 */
#include "wasm/compile.h"

#include "core/alloc.h"

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

/* ----- structs and arrays ----- */

/* Reads a type index that must name a struct (comp WASM_COMP_STRUCT) or array type. */
static int rd_comp_type(struct wasm_cc *c, uint8_t comp, uint32_t *x)
{
	TRY(wasm_rd_u32(c->r, x));
	if (*x >= c->m->ntypes)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown type %u", *x);
	if (c->m->types[*x].comp != comp)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "type mismatch: type %u is not %s type",
				    *x, comp == WASM_COMP_STRUCT ? "a struct" : "an array");
	return 0;
}

/* The value type of storage type t (packed types are i32 on the stack). */
static wasm_vt unpacked(wasm_vt t)
{
	return t == WASM_PACK_I8 || t == WASM_PACK_I16 ? T_I32 : t;
}

static bool defaultable(wasm_vt t)
{
	return !wasm_vt_is_ref(t) || t == WASM_PACK_I8 || t == WASM_PACK_I16 || wasm_vt_nullable(t);
}

/* struct.new x / struct.new_default x */
static int op_struct_new(struct wasm_cc *c, bool dflt)
{
	const struct wasm_ftype *t;
	uint32_t x, base = 0, d, n;
	wasm_vt *types;
	int rc = 0;

	TRY(rd_comp_type(c, WASM_COMP_STRUCT, &x));
	t = &c->m->types[x];
	n = t->nfields;
	if (dflt) {
		for (uint32_t i = 0; i < n; i++)
			if (!defaultable(t->fields[i]))
				return wasm_cc_mismatch(c, "struct.new_default of a field "
							   "without a default value");
	} else {
		types = core_alloc((n ? n : 1) * sizeof(*types));
		if (!types)
			return -ENOMEM;
		for (uint32_t i = 0; i < n; i++)
			types[i] = unpacked(t->fields[i]);
		rc = wasm_cc_pop_args(c, n, types, &base);
		core_free(types);
		TRY(rc);
	}
	wasm_cc_safepoint(c, true);
	TRY(wasm_cc_push_result(c, wasm_vt_idx(x, false), &d));
	wasm_cc_emit_op(c, dflt ? WASM_OP_STRUCT_NEW_DEFAULT : WASM_OP_STRUCT_NEW);
	wasm_cc_emit(c, d);
	if (!dflt)
		wasm_cc_emit(c, base);
	wasm_cc_emit(c, x);
	c->last_end = UINT32_MAX;
	return 0;
}

/* struct.get(_s/_u) x y, struct.set x y: the field's slot offset and storage type */
static int rd_field(struct wasm_cc *c, uint32_t *x, uint32_t *off, wasm_vt *ft, bool *mut)
{
	const struct wasm_ftype *t;
	uint32_t y;

	TRY(rd_comp_type(c, WASM_COMP_STRUCT, x));
	TRY(wasm_rd_u32(c->r, &y));
	t = &c->m->types[*x];
	if (y >= t->nfields)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown field %u", y);
	*off = 0;
	for (uint32_t i = 0; i < y; i++)
		*off += wasm_type_slots(t->fields[i]);
	*ft = t->fields[y];
	*mut = t->fmut[y] != 0;
	return 0;
}

static bool packed(wasm_vt t)
{
	return t == WASM_PACK_I8 || t == WASM_PACK_I16;
}

static int op_struct_get(struct wasm_cc *c, int sign) /* sign: -1 plain, 0 _u, 1 _s */
{
	struct wasm_cc_entry v;
	uint32_t x, off, a, d;
	wasm_vt ft;
	bool mut;

	TRY(rd_field(c, &x, &off, &ft, &mut));
	if (packed(ft) != (sign >= 0))
		return wasm_cc_mismatch(c, sign >= 0 ? "struct.get_s/u of a field not packed"
						     : "struct.get of a packed field");
	TRY(wasm_cc_pop(c, wasm_vt_idx(x, true), &v));
	a = wasm_cc_use_slot(c, &v);
	TRY(wasm_cc_push_result(c, unpacked(ft), &d));
	wasm_cc_emit_op(c, WASM_OP_STRUCT_GET);
	wasm_cc_emit(c, d), wasm_cc_emit(c, a), wasm_cc_emit(c, off);
	wasm_cc_emit(c, wasm_gc_ek(ft, sign == 1));
	c->last_end = UINT32_MAX;
	return 0;
}

static int op_struct_set(struct wasm_cc *c)
{
	struct wasm_cc_entry v, r;
	uint32_t x, off, a, b;
	wasm_vt ft;
	bool mut;

	TRY(rd_field(c, &x, &off, &ft, &mut));
	if (!mut)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "immutable field");
	TRY(wasm_cc_pop(c, unpacked(ft), &v));
	TRY(wasm_cc_pop(c, wasm_vt_idx(x, true), &r));
	b = wasm_cc_use_slot(c, &v);
	a = wasm_cc_use_slot(c, &r);
	wasm_cc_emit_op(c, WASM_OP_STRUCT_SET);
	wasm_cc_emit(c, a), wasm_cc_emit(c, b), wasm_cc_emit(c, off);
	wasm_cc_emit(c, wasm_gc_ek(ft, false));
	c->last_end = UINT32_MAX;
	return 0;
}

static wasm_vt elem_of(const struct wasm_cc *c, uint32_t x)
{
	return c->m->types[x].fields[0];
}

static int need_mutable_array(struct wasm_cc *c, uint32_t x)
{
	if (!c->m->types[x].fmut[0])
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "immutable array");
	return 0;
}

static int need_numeric(struct wasm_cc *c, uint32_t x)
{
	if (wasm_vt_is_ref(elem_of(c, x)) && !packed(elem_of(c, x)))
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "array type is not numeric or vector");
	return 0;
}

static int rd_data(struct wasm_cc *c, uint32_t *d)
{
	TRY(wasm_rd_u32(c->r, d));
	if (!c->m->has_datacount)
		return wasm_rd_fail(c->r, WASM_ERR_MALFORMED, "data count section required");
	if (*d >= c->m->datacount)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown data segment %u", *d);
	return 0;
}

/* An element segment whose items fit array type x's elements. */
static int rd_elem_for(struct wasm_cc *c, uint32_t x, uint32_t *e)
{
	TRY(wasm_rd_u32(c->r, e));
	if (*e >= c->m->nelems)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown elem segment %u", *e);
	if (!wasm_cc_sub(c, c->m->elems[*e].type, elem_of(c, x)))
		return wasm_cc_mismatch(c, "element segment of another type than the array's");
	return 0;
}

/* Pops the i32 operands n..1 (the last one first) into slots[0..n). */
static int pop_i32s(struct wasm_cc *c, uint32_t n, struct wasm_cc_entry *e)
{
	for (uint32_t i = n; i-- > 0;)
		TRY(wasm_cc_pop(c, T_I32, &e[i]));
	return 0;
}

static int op_array_new(struct wasm_cc *c, uint32_t sp)
{
	struct wasm_cc_entry e[2];
	uint32_t x, y = 0, d, a = 0, b = 0, base = 0;
	wasm_vt et;

	TRY(rd_comp_type(c, WASM_COMP_ARRAY, &x));
	et = elem_of(c, x);
	switch (sp) {
	case S_ARRAY_NEW:
		TRY(wasm_cc_pop(c, T_I32, &e[1]));
		TRY(wasm_cc_pop(c, unpacked(et), &e[0]));
		a = wasm_cc_use_slot(c, &e[0]);
		b = wasm_cc_use_slot(c, &e[1]);
		break;
	case S_ARRAY_NEW_DEFAULT:
		if (!defaultable(et))
			return wasm_cc_mismatch(c, "array.new_default of elements without a "
						   "default value");
		TRY(wasm_cc_pop(c, T_I32, &e[0]));
		a = wasm_cc_use_slot(c, &e[0]);
		break;
	case S_ARRAY_NEW_FIXED: {
		wasm_vt *types;
		int rc;
		TRY(wasm_rd_u32(c->r, &y));
		if (y > 10000)
			return wasm_rd_fail(c->r, WASM_ERR_INVALID,
					    "array.new_fixed of more than 10000 values");
		types = core_alloc((y ? y : 1) * sizeof(*types));
		if (!types)
			return -ENOMEM;
		for (uint32_t i = 0; i < y; i++)
			types[i] = unpacked(et);
		rc = wasm_cc_pop_args(c, y, types, &base);
		core_free(types);
		TRY(rc);
		break;
	}
	case S_ARRAY_NEW_DATA:
		TRY(need_numeric(c, x));
		TRY(rd_data(c, &y));
		TRY(pop_i32s(c, 2, e));
		a = wasm_cc_use_slot(c, &e[0]);
		b = wasm_cc_use_slot(c, &e[1]);
		break;
	default: /* S_ARRAY_NEW_ELEM */
		TRY(rd_elem_for(c, x, &y));
		TRY(pop_i32s(c, 2, e));
		a = wasm_cc_use_slot(c, &e[0]);
		b = wasm_cc_use_slot(c, &e[1]);
		break;
	}
	wasm_cc_safepoint(c, true);
	TRY(wasm_cc_push_result(c, wasm_vt_idx(x, false), &d));
	switch (sp) {
	case S_ARRAY_NEW:
		wasm_cc_emit_op(c, WASM_OP_ARRAY_NEW);
		wasm_cc_emit(c, d), wasm_cc_emit(c, a), wasm_cc_emit(c, b), wasm_cc_emit(c, x);
		break;
	case S_ARRAY_NEW_DEFAULT:
		wasm_cc_emit_op(c, WASM_OP_ARRAY_NEW_DEFAULT);
		wasm_cc_emit(c, d), wasm_cc_emit(c, a), wasm_cc_emit(c, x);
		break;
	case S_ARRAY_NEW_FIXED:
		wasm_cc_emit_op(c, WASM_OP_ARRAY_NEW_FIXED);
		wasm_cc_emit(c, d), wasm_cc_emit(c, base), wasm_cc_emit(c, y), wasm_cc_emit(c, x);
		break;
	default:
		wasm_cc_emit_op(c, sp == S_ARRAY_NEW_DATA ? WASM_OP_ARRAY_NEW_DATA
							  : WASM_OP_ARRAY_NEW_ELEM);
		wasm_cc_emit(c, d), wasm_cc_emit(c, a), wasm_cc_emit(c, b), wasm_cc_emit(c, x);
		wasm_cc_emit(c, y);
		break;
	}
	c->last_end = UINT32_MAX;
	return 0;
}

static int op_array_get(struct wasm_cc *c, int sign)
{
	struct wasm_cc_entry r, i;
	uint32_t x, a, b, d;
	wasm_vt et;

	TRY(rd_comp_type(c, WASM_COMP_ARRAY, &x));
	et = elem_of(c, x);
	if (packed(et) != (sign >= 0))
		return wasm_cc_mismatch(c, sign >= 0 ? "array.get_s/u of elements not packed"
						     : "array.get of packed elements");
	TRY(wasm_cc_pop(c, T_I32, &i));
	TRY(wasm_cc_pop(c, wasm_vt_idx(x, true), &r));
	a = wasm_cc_use_slot(c, &r);
	b = wasm_cc_use_slot(c, &i);
	TRY(wasm_cc_push_result(c, unpacked(et), &d));
	wasm_cc_emit_op(c, WASM_OP_ARRAY_GET);
	wasm_cc_emit(c, d), wasm_cc_emit(c, a), wasm_cc_emit(c, b);
	wasm_cc_emit(c, wasm_gc_ek(et, sign == 1));
	c->last_end = UINT32_MAX;
	return 0;
}

static int op_array_set(struct wasm_cc *c)
{
	struct wasm_cc_entry r, i, v;
	uint32_t x, a, b, e;
	wasm_vt et;

	TRY(rd_comp_type(c, WASM_COMP_ARRAY, &x));
	TRY(need_mutable_array(c, x));
	et = elem_of(c, x);
	TRY(wasm_cc_pop(c, unpacked(et), &v));
	TRY(wasm_cc_pop(c, T_I32, &i));
	TRY(wasm_cc_pop(c, wasm_vt_idx(x, true), &r));
	a = wasm_cc_use_slot(c, &r);
	b = wasm_cc_use_slot(c, &i);
	e = wasm_cc_use_slot(c, &v);
	wasm_cc_emit_op(c, WASM_OP_ARRAY_SET);
	wasm_cc_emit(c, a), wasm_cc_emit(c, b), wasm_cc_emit(c, e);
	wasm_cc_emit(c, wasm_gc_ek(et, false));
	c->last_end = UINT32_MAX;
	return 0;
}

static int op_array_len(struct wasm_cc *c)
{
	struct wasm_cc_entry r;
	uint32_t a, d;

	TRY(wasm_cc_pop(c, wasm_vt_ref(WASM_HT_ARRAY, true), &r));
	a = wasm_cc_use_slot(c, &r);
	TRY(wasm_cc_push_result(c, T_I32, &d));
	wasm_cc_emit_op(c, WASM_OP_ARRAY_LEN);
	wasm_cc_emit(c, d), wasm_cc_emit(c, a);
	c->last_end = UINT32_MAX;
	return 0;
}

static int op_array_fill(struct wasm_cc *c)
{
	struct wasm_cc_entry r, i, v, n;
	uint32_t x;
	uint32_t s[4];
	wasm_vt et;

	TRY(rd_comp_type(c, WASM_COMP_ARRAY, &x));
	TRY(need_mutable_array(c, x));
	et = elem_of(c, x);
	TRY(wasm_cc_pop(c, T_I32, &n));
	TRY(wasm_cc_pop(c, unpacked(et), &v));
	TRY(wasm_cc_pop(c, T_I32, &i));
	TRY(wasm_cc_pop(c, wasm_vt_idx(x, true), &r));
	s[0] = wasm_cc_use_slot(c, &r);
	s[1] = wasm_cc_use_slot(c, &i);
	s[2] = wasm_cc_use_slot(c, &v);
	s[3] = wasm_cc_use_slot(c, &n);
	wasm_cc_emit_op(c, WASM_OP_ARRAY_FILL);
	for (int k = 0; k < 4; k++)
		wasm_cc_emit(c, s[k]);
	wasm_cc_emit(c, wasm_gc_ek(et, false));
	c->last_end = UINT32_MAX;
	return 0;
}

/* Whether storage type a fits where b is expected (array.copy) */
static bool storage_sub(const struct wasm_cc *c, wasm_vt a, wasm_vt b)
{
	if (packed(a) || packed(b))
		return a == b;
	return wasm_cc_sub(c, a, b);
}

static int op_array_copy(struct wasm_cc *c)
{
	struct wasm_cc_entry e[5];
	uint32_t x, y;

	TRY(rd_comp_type(c, WASM_COMP_ARRAY, &x));
	TRY(rd_comp_type(c, WASM_COMP_ARRAY, &y));
	TRY(need_mutable_array(c, x));
	if (!storage_sub(c, elem_of(c, y), elem_of(c, x)))
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "array types do not match");
	TRY(wasm_cc_pop(c, T_I32, &e[4]));
	TRY(wasm_cc_pop(c, T_I32, &e[3]));
	TRY(wasm_cc_pop(c, wasm_vt_idx(y, true), &e[2]));
	TRY(wasm_cc_pop(c, T_I32, &e[1]));
	TRY(wasm_cc_pop(c, wasm_vt_idx(x, true), &e[0]));
	{
		uint32_t s[5];
		for (int k = 0; k < 5; k++)
			s[k] = wasm_cc_use_slot(c, &e[k]);
		wasm_cc_emit_op(c, WASM_OP_ARRAY_COPY);
		for (int k = 0; k < 5; k++)
			wasm_cc_emit(c, s[k]);
	}
	c->last_end = UINT32_MAX;
	return 0;
}

static int op_array_init(struct wasm_cc *c, bool data)
{
	struct wasm_cc_entry e[4];
	uint32_t x, y, s[4];

	TRY(rd_comp_type(c, WASM_COMP_ARRAY, &x));
	TRY(need_mutable_array(c, x));
	if (data) {
		TRY(need_numeric(c, x));
		TRY(rd_data(c, &y));
	} else {
		TRY(rd_elem_for(c, x, &y));
	}
	TRY(wasm_cc_pop(c, T_I32, &e[3]));
	TRY(wasm_cc_pop(c, T_I32, &e[2]));
	TRY(wasm_cc_pop(c, T_I32, &e[1]));
	TRY(wasm_cc_pop(c, wasm_vt_idx(x, true), &e[0]));
	for (int k = 0; k < 4; k++)
		s[k] = wasm_cc_use_slot(c, &e[k]);
	wasm_cc_emit_op(c, data ? WASM_OP_ARRAY_INIT_DATA : WASM_OP_ARRAY_INIT_ELEM);
	for (int k = 0; k < 4; k++)
		wasm_cc_emit(c, s[k]);
	wasm_cc_emit(c, y);
	c->last_end = UINT32_MAX;
	return 0;
}

/* any.convert_extern, extern.convert_any: the result is null when the operand may be */
static int op_convert(struct wasm_cc *c, bool to_any)
{
	struct wasm_cc_entry v;
	uint32_t a, d;

	TRY(wasm_cc_pop(c, to_any ? WASM_EXTERNREF : WASM_HT_ANY, &v));
	a = wasm_cc_use_slot(c, &v);
	/* may allocate a box (of an i31 or a host value: no object, so not held) */
	wasm_cc_safepoint(c, true);
	TRY(wasm_cc_push_result(c,
				wasm_vt_ref(to_any ? WASM_HT_ANY : WASM_EXTERNREF,
					    v.type == T_UNKNOWN || wasm_vt_nullable(v.type)),
				&d));
	wasm_cc_emit_op(c, to_any ? WASM_OP_ANY_CONVERT_EXTERN : WASM_OP_EXTERN_CONVERT_ANY);
	wasm_cc_emit(c, d), wasm_cc_emit(c, a);
	c->last_end = UINT32_MAX;
	return 0;
}

int wasm_cc_gc(struct wasm_cc *c, uint32_t sp)
{
	switch (sp) {
	case S_STRUCT_NEW:
	case S_STRUCT_NEW_DEFAULT:
		return op_struct_new(c, sp == S_STRUCT_NEW_DEFAULT);
	case S_STRUCT_GET:
		return op_struct_get(c, -1);
	case S_STRUCT_GET_S:
		return op_struct_get(c, 1);
	case S_STRUCT_GET_U:
		return op_struct_get(c, 0);
	case S_STRUCT_SET:
		return op_struct_set(c);
	case S_ARRAY_NEW:
	case S_ARRAY_NEW_DEFAULT:
	case S_ARRAY_NEW_FIXED:
	case S_ARRAY_NEW_DATA:
	case S_ARRAY_NEW_ELEM:
		return op_array_new(c, sp);
	case S_ARRAY_GET:
		return op_array_get(c, -1);
	case S_ARRAY_GET_S:
		return op_array_get(c, 1);
	case S_ARRAY_GET_U:
		return op_array_get(c, 0);
	case S_ARRAY_SET:
		return op_array_set(c);
	case S_ARRAY_LEN:
		return op_array_len(c);
	case S_ARRAY_FILL:
		return op_array_fill(c);
	case S_ARRAY_COPY:
		return op_array_copy(c);
	case S_ARRAY_INIT_DATA:
		return op_array_init(c, true);
	case S_ARRAY_INIT_ELEM:
		return op_array_init(c, false);
	case S_BR_ON_CAST:
	case S_BR_ON_CAST_FAIL:
		return wasm_cc_br_on_cast(c, sp);
	case S_ANY_CONVERT_EXTERN:
		return op_convert(c, true);
	case S_EXTERN_CONVERT_ANY:
		return op_convert(c, false);
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
