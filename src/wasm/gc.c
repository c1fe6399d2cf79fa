/*
 * The GC proposal's run-time type tests (ref.test, ref.cast). The values that exist so
 * far: null (0), i31s (odd words, compile_gc.c), function references (struct wasm_func
 * pointers) and host references (externref). There are no struct or array objects yet,
 * so no value is of a struct or array type.
 */
#include "wasm/internal.h"

bool wasm_gc_ref_test(const struct wasm_module *m, uint64_t v, wasm_vt t)
{
	const struct wasm_func *f = (const struct wasm_func *)(uintptr_t)v;
	uint32_t i;

	if (!v)
		return wasm_vt_nullable(t);
	switch (wasm_vt_code(t)) {
	case WASM_FUNCREF:
	case WASM_EXTERNREF:
	case WASM_HT_ANY:
		return true; /* validated: v is of t's hierarchy */
	case WASM_HT_EQ:
	case WASM_HT_I31:
		return (v & 1) != 0;
	case WASM_HT_IDX:
		i = wasm_vt_index(t);
		if (!m || i >= m->ntypes || !wasm_type_is_func(m, i))
			return false; /* a struct or array type: no objects yet */
		return wasm_ftype_match(f->type, &m->types[i]);
	default: /* struct, array (no objects yet) and the bottoms */
		return false;
	}
}
