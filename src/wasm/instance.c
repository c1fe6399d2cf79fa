/*
 * Instantiation and calls (Wasm core 2.0, 4.5.4 "Instantiation", 4.5.5 "Invocation"):
 * resolves and type-checks imports (import matching, 4.5.2 with limits subtyping),
 * allocates the module's own functions, tables, memories and globals in the store,
 * initialises element then data segments in order (a trap leaves earlier writes in
 * place), runs the start function, and converts API values to and from frame slots.
 * The instance is linked into its store first, so functions it placed in shared tables
 * stay valid even when instantiation fails later. Everything allocated here is charged
 * to the store's memory budget (memory.c) before it is allocated.
 */
#include "wasm/internal.h"

#include "core/alloc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The reason first (the spec's wording), then the import's names, escaped and cut short. */
static int unlinkable(struct wasm_error *err, const struct wasm_import *im, const char *why)
{
	char mod[72], name[72];

	return wasm_fail(err, WASM_ERR_UNLINKABLE, "import", -1, -1, "%s: \"%s\".\"%s\"", why,
			 wasm_name_escape(im->module, im->modlen, mod, sizeof(mod)),
			 wasm_name_escape(im->name, im->namelen, name, sizeof(name)));
}

static bool limits_match(uint64_t have_min, bool have_has_max, uint64_t have_max, uint64_t min,
			 bool has_max, uint64_t max)
{
	if (have_min < min)
		return false;
	if (has_max && (!have_has_max || have_max > max))
		return false;
	return true;
}

static int link_import(struct wasm_instance *inst, const struct wasm_import *im,
		       const struct wasm_extern *ext, struct wasm_error *err)
{
	const struct wasm_module *m = inst->mod;

	if ((uint8_t)ext->kind != im->kind)
		return unlinkable(err, im, "incompatible import type (wrong kind)");
	switch (im->kind) {
	case WASM_EXTERN_FUNC: {
		const struct wasm_ftype *want = &m->types[m->func_type[im->idx]];
		if (!wasm_ftype_match(ext->u.func->type, want))
			return unlinkable(err, im, "incompatible import type (function signature)");
		inst->funcs[im->idx] = ext->u.func;
		return 0;
	}
	case WASM_EXTERN_TABLE: {
		const struct wasm_tabletype *want = &m->tables[im->idx];
		const struct wasm_table *t = ext->u.table;
		/* tables are mutable: the element types must be the same */
		if (!wasm_vt_sub(t->vmod, t->vt, m, want->elem) ||
		    !wasm_vt_sub(m, want->elem, t->vmod, t->vt) || t->is64 != want->is64 ||
		    !limits_match(t->size, t->has_max, t->max, want->min, want->has_max, want->max))
			return unlinkable(err, im, "incompatible import type (table)");
		inst->tables[im->idx] = ext->u.table;
		return 0;
	}
	case WASM_EXTERN_MEMORY: {
		const struct wasm_memtype *want = &m->mems[im->idx];
		const struct wasm_memory *mem = ext->u.memory;
		if (mem->is64 != want->is64 || mem->shared != want->shared ||
		    !limits_match(mem->pages, mem->has_max, mem->type_max, want->min, want->has_max,
				  want->max))
			return unlinkable(err, im, "incompatible import type (memory)");
		inst->mems[im->idx] = ext->u.memory;
		return 0;
	}
	case WASM_EXTERN_TAG:
		if (!ext->u.tag || !wasm_tag_matches(ext->u.tag, m, m->tag_type[im->idx]))
			return unlinkable(err, im, "incompatible import type (tag)");
		inst->tags[im->idx] = ext->u.tag;
		return 0;
	default: {
		const struct wasm_globaldef *want = &m->globals[im->idx];
		const struct wasm_global *g = ext->u.global;
		/* an immutable global's type may be a subtype, a mutable one's must be the
		 * same */
		if (g->mut != want->mut || !wasm_vt_sub(g->vmod, g->vt, m, want->type) ||
		    (g->mut && !wasm_vt_sub(m, want->type, g->vmod, g->vt)))
			return unlinkable(err, im, "incompatible import type (global)");
		inst->globals[im->idx] = ext->u.global;
		return 0;
	}
	}
}

static int resolve_imports(struct wasm_instance *inst, wasm_resolve_fn resolve, void *ctx,
			   struct wasm_error *err)
{
	const struct wasm_module *m = inst->mod;

	for (uint32_t i = 0; i < m->nimports; i++) {
		const struct wasm_import *im = &m->imports[i];
		struct wasm_extern ext;
		int rc;

		memset(&ext, 0, sizeof(ext));
		if (!resolve ||
		    resolve(ctx, im->module, im->name, (enum wasm_extern_kind)im->kind, &ext))
			return unlinkable(err, im, "unknown import");
		rc = link_import(inst, im, &ext, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* An extended-constant-expression operator (opcode op) on a and b. */
static uint64_t ce_binop(uint32_t op, uint64_t a, uint64_t b)
{
	switch (op) {
	case 0x6a:
		return (uint32_t)(a + b);
	case 0x6b:
		return (uint32_t)(a - b);
	case 0x6c:
		return (uint32_t)((uint32_t)a * (uint32_t)b);
	case 0x7c:
		return a + b;
	case 0x7d:
		return a - b;
	default:
		return a * b;
	}
}

/* A GC allocation or conversion of a constant expression program over the values
 * st[0..n) (two slots each): its result into *out. */
static enum wasm_trap eval_ce_gc(struct wasm_instance *inst, const struct wasm_cexpr *op,
				 union wasm_slot (*st)[2], uint32_t n, uint64_t *out)
{
	struct wasm_store *s = inst->store;
	const struct wasm_ftype *t = &inst->mod->types[op->idx];
	union wasm_slot vals[2 * WASM_CE_MAX_DEPTH];
	uint32_t k = 0;

	switch (op->kind) {
	case WASM_CE_STRUCT_NEW: /* the fields as struct.new takes them: v128 two slots */
		for (uint32_t i = 0; i < n; i++) {
			vals[k++] = st[i][0];
			if (t->fields[i] == WASM_V128)
				vals[k++] = st[i][1];
		}
		return wasm_gc_struct_new(s, NULL, t, vals, out);
	case WASM_CE_STRUCT_NEW_DEFAULT:
		return wasm_gc_struct_new(s, NULL, t, NULL, out);
	case WASM_CE_ARRAY_NEW:
		return wasm_gc_array_new(s, NULL, t, st[1][0].i32, st[0], false, out);
	case WASM_CE_ARRAY_NEW_DEFAULT:
		return wasm_gc_array_new(s, NULL, t, st[0][0].i32, NULL, false, out);
	case WASM_CE_ARRAY_NEW_FIXED:
		for (uint32_t i = 0; i < n; i++) {
			vals[k++] = st[i][0];
			if (t->fields[0] == WASM_V128)
				vals[k++] = st[i][1];
		}
		return wasm_gc_array_new(s, NULL, t, n, vals, true, out);
	case WASM_CE_ANY_CONVERT:
		return wasm_gc_internalize(s, NULL, st[0][0].i64, out);
	default: /* WASM_CE_EXTERN_CONVERT */
		return wasm_gc_externalize(s, NULL, st[0][0].i64, out);
	}
}

/* Evaluates a constant expression to its slot value(s): WASM_TRAP_GC_LIMIT when a GC
 * allocation does not fit in the budget (no collection runs while instantiating). */
static enum wasm_trap eval_cexpr(struct wasm_instance *inst, const struct wasm_cexpr *ce,
				 union wasm_slot *v)
{
	v[0].i64 = v[1].i64 = 0;
	switch (ce->kind) {
	case WASM_CE_CONST:
		v[0].i64 = ce->v[0];
		v[1].i64 = ce->v[1];
		break;
	case WASM_CE_GLOBAL:
		v[0] = inst->globals[ce->idx]->v[0];
		v[1] = inst->globals[ce->idx]->v[1];
		break;
	case WASM_CE_FUNC:
		v[0].i64 = (uint64_t)(uintptr_t)inst->funcs[ce->idx];
		break;
	case WASM_CE_NULL:
	case WASM_CE_BINOP:
	case WASM_CE_I31:
	default: /* the GC kinds occur in programs only */
		break;
	case WASM_CE_EXPR: {
		/* validated: the operands are there, one value is left */
		const struct wasm_cexpr *op = inst->mod->ceops + ce->idx;
		union wasm_slot st[WASM_CE_MAX_DEPTH][2];
		uint32_t d = 0;
		for (uint64_t k = 0; k < ce->v[0]; k++, op++) {
			enum wasm_trap trap;
			uint64_t r;
			if (op->kind == WASM_CE_I31) {
				st[d - 1][0].i64 = (st[d - 1][0].i64 & 0x7fffffffu) << 1 | 1;
				continue;
			}
			if (op->kind == WASM_CE_BINOP) {
				d--;
				st[d - 1][0].i64 =
					ce_binop(op->idx, st[d - 1][0].i64, st[d][0].i64);
				continue;
			}
			if (op->kind >= WASM_CE_STRUCT_NEW) {
				uint32_t n = (uint32_t)op->v[0];
				d -= n;
				trap = eval_ce_gc(inst, op, st + d, n, &r);
				if (trap)
					return trap;
				st[d][0].i64 = r;
				st[d++][1].i64 = 0;
				continue;
			}
			trap = eval_cexpr(inst, op, st[d++]);
			if (trap)
				return trap;
		}
		v[0] = st[0][0];
		v[1] = st[0][1];
		break;
	}
	}
	return WASM_TRAP_NONE;
}

/* Fails instantiation for an allocation of bytes for `what` that did not happen: over the
 * store's budget (an implementation limit the embedder sets) with `left` bytes of it
 * left, above the table size limit, or out of host memory. */
static int alloc_failed(struct wasm_instance *inst, struct wasm_error *err, int rc,
			const char *section, const char *what, uint64_t bytes, uint64_t left)
{
	if (rc == -E2BIG)
		return wasm_fail(err, WASM_ERR_LIMIT, section, -1, -1,
				 "%s needs %" PRIu64 " bytes, more than the %" PRIu64
				 " left of the memory budget (%" PRIu64 " bytes)",
				 what, bytes, left, inst->store->budget);
	if (rc == -EFBIG)
		return wasm_fail(err, WASM_ERR_LIMIT, section, -1, -1,
				 "%s is larger than the implementation limit of %u elements", what,
				 WASM_MAX_TABLE);
	return wasm_fail(err, WASM_ERR_NOMEM, section, -1, -1,
			 "%s: out of memory (%" PRIu64 " bytes)", what, bytes);
}

/* Fails instantiation for a GC object of a constant expression over the budget. */
static int gc_failed(struct wasm_error *err, const char *section, uint32_t i)
{
	return wasm_fail(err, WASM_ERR_LIMIT, section, -1, -1,
			 "%s %u: a struct or array of its initialiser does not fit in the "
			 "memory budget (raise --max-memory)",
			 section, i);
}

/* Allocates the instance's own bookkeeping, which grows with the module's index spaces
 * (*bytes of it). Returns 0, -E2BIG or -ENOMEM. */
static int alloc_arrays(struct wasm_instance *inst, uint64_t *bytes)
{
	const struct wasm_module *m = inst->mod;
	uint32_t ndef = m->nfuncs - m->nfunc_imports;

	*bytes = (m->nfuncs + 1ull) * sizeof(*inst->funcs) +
		 (m->ntables + 1ull) * sizeof(*inst->tables) +
		 (m->nmems + 1ull) * sizeof(*inst->mems) +
		 (m->nglobals + 1ull) * sizeof(*inst->globals) +
		 (ndef + 1ull) * sizeof(*inst->own_funcs) +
		 (m->nelems + 1ull) * (sizeof(*inst->elem_items) + sizeof(*inst->elem_len)) +
		 (m->ndatas + 1ull) * sizeof(*inst->data_len) +
		 (uint64_t)m->ntags * (sizeof(*inst->tags) + sizeof(*inst->own_tags));
	if (wasm_store_charge(inst->store, *bytes))
		return -E2BIG;
	inst->funcs = core_calloc(m->nfuncs + 1, sizeof(*inst->funcs));
	inst->tables = core_calloc(m->ntables + 1, sizeof(*inst->tables));
	inst->mems = core_calloc(m->nmems + 1, sizeof(*inst->mems));
	inst->globals = core_calloc(m->nglobals + 1, sizeof(*inst->globals));
	inst->own_funcs = core_calloc(ndef + 1, sizeof(*inst->own_funcs));
	inst->elem_items = core_calloc(m->nelems + 1, sizeof(*inst->elem_items));
	inst->elem_len = core_calloc(m->nelems + 1, sizeof(*inst->elem_len));
	inst->data_len = core_calloc(m->ndatas + 1, sizeof(*inst->data_len));
	inst->tags = core_calloc(m->ntags + 1, sizeof(*inst->tags));
	inst->own_tags = core_calloc(m->ntags - m->ntag_imports + 1, sizeof(*inst->own_tags));
	if (!inst->tags || !inst->own_tags)
		return -ENOMEM;
	if (!inst->funcs || !inst->tables || !inst->mems || !inst->globals || !inst->own_funcs ||
	    !inst->elem_items || !inst->elem_len || !inst->data_len)
		return -ENOMEM;
	return 0;
}

/* Before anything is allocated: the module's own tables and memories at their minimum
 * sizes must fit in what is left of the budget together, so that a module declaring far
 * too much (a thousand tables of ten million elements) is refused at once, naming the
 * first one past the budget. */
static int check_sizes(struct wasm_instance *inst, struct wasm_error *err)
{
	const struct wasm_module *m = inst->mod;
	uint64_t left = wasm_store_budget_left(inst->store);
	char what[64];

	for (uint32_t i = m->ntable_imports; i < m->ntables; i++) {
		uint64_t bytes = (uint64_t)m->tables[i].min * sizeof(uint64_t);
		if (bytes + sizeof(struct wasm_table) > left) {
			snprintf(what, sizeof(what), "table %u of %u elements", i,
				 m->tables[i].min);
			return alloc_failed(inst, err, -E2BIG, "table", what, bytes, left);
		}
		left -= bytes + sizeof(struct wasm_table);
	}
	for (uint32_t i = m->nmem_imports; i < m->nmems; i++) {
		uint64_t pages = m->mems[i].min, bytes = pages * WASM_PAGE_SIZE;
		if (pages > WASM_MAX_PAGES || bytes + sizeof(struct wasm_memory) > left) {
			snprintf(what, sizeof(what), "memory %u of %" PRIu64 " pages", i, pages);
			return alloc_failed(inst, err, -E2BIG, "memory", what, bytes, left);
		}
		left -= bytes + sizeof(struct wasm_memory);
	}
	return 0;
}

static int create_own(struct wasm_instance *inst, struct wasm_error *err)
{
	struct wasm_store *s = inst->store;
	const struct wasm_module *m = inst->mod;
	int rc;

	for (uint32_t i = m->nfunc_imports; i < m->nfuncs; i++) {
		struct wasm_func *f = &inst->own_funcs[i - m->nfunc_imports];
		f->type = &m->types[m->type_canon[m->func_type[i]]];
		f->inst = inst;
		f->code = &m->codes[i - m->nfunc_imports];
		f->index = i;
		inst->funcs[i] = f;
	}
	for (uint32_t i = m->ntag_imports; i < m->ntags; i++) {
		/* part of the instance (not store objects): a tag lives as long as it */
		struct wasm_tag *t = &inst->own_tags[i - m->ntag_imports];
		t->mod = m;
		t->typeidx = m->tag_type[i];
		t->type = &m->types[t->typeidx];
		inst->tags[i] = t;
	}
	for (uint32_t i = m->ntable_imports; i < m->ntables; i++) {
		const struct wasm_tabletype *t = &m->tables[i];
		char what[64];

		rc = wasm_table_alloc(s, wasm_vt_rep(m, t->elem), t->min, t->max, t->has_max,
				      &inst->tables[i]);
		if (!rc) {
			inst->tables[i]->is64 = t->is64;
			inst->tables[i]->vt = t->elem;
			inst->tables[i]->vmod = m;
		}
		if (rc) {
			snprintf(what, sizeof(what), "table %u of %u elements", i, t->min);
			return alloc_failed(inst, err, rc, "table", what,
					    (uint64_t)t->min * sizeof(uint64_t),
					    wasm_store_budget_left(s));
		}
	}
	for (uint32_t i = m->nmem_imports; i < m->nmems; i++) {
		const struct wasm_memtype *t = &m->mems[i];
		char what[64];

		/* memory64 types may declare more than 65536 pages: never allocatable */
		rc = t->min > WASM_MAX_PAGES
			     ? -E2BIG
			     : wasm_memory_alloc(s, (uint32_t)t->min,
						 (uint32_t)(t->max < WASM_MAX_PAGES
								    ? t->max
								    : WASM_MAX_PAGES),
						 t->has_max, t->shared, t->is64, &inst->mems[i]);
		if (!rc) {
			inst->mems[i]->type_max = t->max;
			inst->mems[i]->is64 = t->is64;
		}
		if (rc) {
			snprintf(what, sizeof(what), "memory %u of %" PRIu64 " pages", i, t->min);
			return alloc_failed(inst, err, rc, "memory", what,
					    (uint64_t)t->min * WASM_PAGE_SIZE,
					    wasm_store_budget_left(s));
		}
	}
	for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++) {
		struct wasm_global *g;

		rc = wasm_store_charge(s, sizeof(*g));
		g = rc ? NULL : core_calloc(1, sizeof(*g));
		if (!g)
			return alloc_failed(inst, err, rc ? rc : -ENOMEM, "global", "a global",
					    sizeof(*g), wasm_store_budget_left(s));
		g->type = wasm_vt_rep(m, m->globals[i].type);
		g->vt = m->globals[i].type;
		g->vmod = m;
		g->mut = m->globals[i].mut;
		wasm_store_link(s, &g->obj, WASM_OBJ_GLOBAL);
		inst->globals[i] = g;
		if (eval_cexpr(inst, &m->globals[i].init, g->v))
			return gc_failed(err, "global", i);
	}
	/* 3.0 table initialisers (they may read the globals) */
	for (uint32_t i = m->ntable_imports; i < m->ntables; i++) {
		struct wasm_table *t = inst->tables[i];
		union wasm_slot v[2];
		if (!m->tables[i].has_init)
			continue;
		if (eval_cexpr(inst, &m->tables[i].init, v))
			return gc_failed(err, "table", i);
		for (uint32_t k = 0; k < t->size; k++)
			t->elems[k] = v[0].i64;
	}
	inst->mem0 = m->nmems ? inst->mems[0] : NULL;
	return 0;
}

static int eval_segments(struct wasm_instance *inst, struct wasm_error *err)
{
	const struct wasm_module *m = inst->mod;

	uint64_t data = 0;

	/* the module's data stays alive for memory.init as long as the instance: count it */
	for (uint32_t i = 0; i < m->ndatas; i++)
		data += m->datas[i].len;
	if (wasm_store_charge(inst->store, data))
		return alloc_failed(inst, err, -E2BIG, "data", "the data segments", data,
				    wasm_store_budget_left(inst->store));
	for (uint32_t i = 0; i < m->nelems; i++) {
		const struct wasm_elemseg *e = &m->elems[i];
		uint64_t bytes = (e->n + 1ull) * sizeof(uint64_t);
		int rc = wasm_store_charge(inst->store, bytes);
		uint64_t *items = rc ? NULL : core_calloc(e->n + 1u, sizeof(uint64_t));
		char what[48];

		if (!items) {
			snprintf(what, sizeof(what), "element segment %u", i);
			return alloc_failed(inst, err, rc ? rc : -ENOMEM, "element", what, bytes,
					    wasm_store_budget_left(inst->store));
		}
		inst->elem_items[i] = items;
		for (uint32_t k = 0; k < e->n; k++) {
			union wasm_slot v[2];
			if (eval_cexpr(inst, &e->items[k], v))
				return gc_failed(err, "element", i);
			items[k] = v[0].i64;
		}
		inst->elem_len[i] = e->mode == WASM_SEG_PASSIVE ? e->n : 0;
	}
	for (uint32_t i = 0; i < m->ndatas; i++)
		inst->data_len[i] = m->datas[i].mode == WASM_SEG_PASSIVE ? m->datas[i].len : 0;
	return 0;
}

static int trapped(struct wasm_error *err, enum wasm_trap trap, const char *what, uint32_t i)
{
	int rc = wasm_fail(err, WASM_ERR_UNINSTANTIABLE, what, -1, -1, "segment %u: %s", i,
			   wasm_trap_message(trap));
	if (err)
		err->trap = trap;
	return rc;
}

/* Applies active segments, elements first, in order (as table.init/memory.init would). */
static int apply_segments(struct wasm_instance *inst, struct wasm_error *err)
{
	const struct wasm_module *m = inst->mod;

	for (uint32_t i = 0; i < m->nelems; i++) {
		const struct wasm_elemseg *e = &m->elems[i];
		struct wasm_table *t;
		union wasm_slot off[2];
		uint64_t at;

		if (e->mode != WASM_SEG_ACTIVE)
			continue;
		t = inst->tables[e->table];
		(void)eval_cexpr(inst, &e->offset, off); /* numbers only */
		at = t->is64 ? off[0].i64 : off[0].i32;
		if (e->n > t->size || at > t->size - e->n)
			return trapped(err, WASM_TRAP_TABLE_OOB, "element", i);
		if (e->n)
			memcpy(t->elems + at, inst->elem_items[i], e->n * sizeof(uint64_t));
	}
	for (uint32_t i = 0; i < m->ndatas; i++) {
		const struct wasm_dataseg *d = &m->datas[i];
		struct wasm_memory *mem;
		union wasm_slot off[2];
		uint64_t at;

		if (d->mode != WASM_SEG_ACTIVE)
			continue;
		mem = inst->mems[d->mem];
		(void)eval_cexpr(inst, &d->offset, off); /* numbers only */
		at = mem->is64 ? off[0].i64 : off[0].i32;
		if (d->len > mem->size || at > mem->size - d->len)
			return trapped(err, WASM_TRAP_MEM_OOB, "data", i);
		if (d->len)
			memcpy(mem->base + at, d->bytes, d->len);
	}
	return 0;
}

int wasm_instance_create(struct wasm_store *s, const struct wasm_module *m, wasm_resolve_fn resolve,
			 void *ctx, struct wasm_instance **out, struct wasm_error *err)
{
	struct wasm_instance *inst;
	uint64_t bytes;
	int rc;

	if (err) {
		memset(err, 0, sizeof(*err));
		err->func = err->offset = err->instr = -1;
	}
	inst = core_calloc(1, sizeof(*inst));
	if (!inst)
		return wasm_fail(err, WASM_ERR_NOMEM, NULL, -1, -1, "out of memory");
	inst->store = s;
	inst->mod = m;
	wasm_store_link(s, &inst->obj, WASM_OBJ_INSTANCE);
	rc = alloc_arrays(inst, &bytes);
	if (rc)
		return alloc_failed(inst, err, rc, NULL, "the instance's index spaces", bytes,
				    wasm_store_budget_left(s));
	rc = resolve_imports(inst, resolve, ctx, err);
	if (!rc)
		rc = check_sizes(inst, err);
	if (!rc)
		rc = create_own(inst, err);
	if (rc)
		return rc;
	/* before the segments: a failed instantiation may still leave its functions in an
	 * imported table, callable from translated code */
	if (wasm_store_jit_prepare(s, inst))
		s->jit_hot = WASM_JIT_OFF; /* out of memory for the JIT: interpret */
	rc = eval_segments(inst, err);
	if (!rc)
		rc = apply_segments(inst, err);
	if (rc)
		return rc;
	if (m->has_start && !s->skip_start) {
		struct wasm_trap_info info;
		enum wasm_trap t = wasm_call(s, inst->funcs[m->start], NULL, NULL, &info);
		if (t) {
			rc = wasm_fail(err, WASM_ERR_UNINSTANTIABLE, "start", (int64_t)m->start,
				       info.offset, "start function trapped: %s",
				       wasm_trap_message(t));
			if (err) {
				err->trap = t;
				err->exit_code = info.exit_code;
			}
			return rc;
		}
	}
	*out = inst;
	return 0;
}

int wasm_instance_export(struct wasm_instance *inst, const char *name, struct wasm_extern *out)
{
	return wasm_instance_export_n(inst, name, strlen(name), out);
}

int wasm_instance_export_n(struct wasm_instance *inst, const char *name, size_t len,
			   struct wasm_extern *out)
{
	const struct wasm_module *m = inst->mod;

	for (uint32_t i = 0; i < m->nexports; i++) {
		const struct wasm_export *e = &m->exports[i];
		if (e->namelen != len || memcmp(e->name, name, len))
			continue;
		out->kind = (enum wasm_extern_kind)e->kind;
		switch (e->kind) {
		case WASM_EXTERN_FUNC:
			out->u.func = inst->funcs[e->idx];
			break;
		case WASM_EXTERN_TABLE:
			out->u.table = inst->tables[e->idx];
			break;
		case WASM_EXTERN_MEMORY:
			out->u.memory = inst->mems[e->idx];
			break;
		case WASM_EXTERN_TAG:
			out->u.tag = inst->tags[e->idx];
			break;
		default:
			out->u.global = inst->globals[e->idx];
			break;
		}
		return 0;
	}
	return -ENOENT;
}

struct wasm_memory *wasm_instance_memory(struct wasm_instance *inst)
{
	return inst->mem0;
}

/* ----- calls ----- */

static uint32_t to_slots(const uint8_t *types, uint32_t n, const union wasm_value *v,
			 union wasm_slot *slot)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < n; i++) {
		switch (types[i]) {
		case WASM_V128:
			memcpy(&slot[k], v[i].v128, 16);
			k += 2;
			continue;
		case WASM_I32:
		case WASM_F32:
			slot[k].i64 = v[i].i32;
			break;
		case WASM_FUNCREF:
			slot[k].i64 = (uint64_t)(uintptr_t)v[i].func;
			break;
		case WASM_EXTERNREF:
			slot[k].i64 = v[i].ext;
			break;
		default:
			slot[k].i64 = v[i].i64;
			break;
		}
		k++;
	}
	return k;
}

static void from_slots(const uint8_t *types, uint32_t n, const union wasm_slot *slot,
		       union wasm_value *v)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < n; i++) {
		memset(&v[i], 0, sizeof(v[i]));
		switch (types[i]) {
		case WASM_V128:
			memcpy(v[i].v128, &slot[k], 16);
			k += 2;
			continue;
		case WASM_I32:
		case WASM_F32:
			v[i].i32 = slot[k].i32;
			break;
		case WASM_FUNCREF:
			v[i].func = (struct wasm_func *)(uintptr_t)slot[k].i64;
			break;
		case WASM_EXTERNREF:
			v[i].ext = (uintptr_t)slot[k].i64;
			break;
		default:
			v[i].i64 = slot[k].i64;
			break;
		}
		k++;
	}
}

bool wasm_ref_fits(uint64_t v, const struct wasm_module *m, wasm_vt want)
{
	const struct wasm_func *f = (const struct wasm_func *)(uintptr_t)v;
	const struct wasm_ftype *ft;

	if (!wasm_vt_is_ref(want))
		return true;
	if (!v)
		return wasm_vt_nullable(want);
	/* GC: no struct or array object comes from outside (a snapshot cannot hold one);
	 * an i31 or an internalized host value is a plain word (gc.c) */
	if (wasm_vt_code(want) == WASM_HT_ANY)
		return (v & 1) || (v & 3) == 2;
	if (wasm_vt_code(want) == WASM_HT_EQ || wasm_vt_code(want) == WASM_HT_I31)
		return (v & 1) != 0;
	if (wasm_vt_code(want) != WASM_HT_IDX)
		return wasm_vt_code(want) == WASM_FUNCREF || wasm_vt_code(want) == WASM_EXTERNREF;
	if (!m || wasm_vt_index(want) >= m->ntypes || !wasm_type_is_func(m, wasm_vt_index(want)))
		return false;
	ft = f->type;
	return m && ft->mod &&
	       wasm_type_same(ft->mod, (uint32_t)(ft - ft->mod->types), m, wasm_vt_index(want));
}

/* 3.0: a typed reference argument must be of its parameter's type (validated code relies
 * on it): a null for a non-nullable one is WASM_TRAP_NULL_REF, a function of another
 * type WASM_TRAP_INDIRECT_TYPE. */
static enum wasm_trap check_ref_args(const struct wasm_store *s, const struct wasm_ftype *t,
				     const union wasm_value *args)
{
	for (uint32_t i = 0; t->vparams && i < t->pub.nparams; i++) {
		wasm_vt want = t->vparams[i];
		if (!wasm_vt_is_ref(want))
			continue;
		if (wasm_vt_rep(t->mod, want) == WASM_ANYREF) {
			/* GC: a struct or array must be a live object of the store (any other
			 * even word would be dereferenced), and every value of the type */
			uint64_t v = args[i].ext;
			if (!v && !wasm_vt_nullable(want))
				return WASM_TRAP_NULL_REF;
			if (v && !(v & 3) && !wasm_gc_is_obj(s, v))
				return WASM_TRAP_CAST;
			if (!wasm_gc_ref_test(t->mod, v, want))
				return WASM_TRAP_CAST;
			continue;
		}
		if (wasm_vt_rep(t->mod, want) != WASM_FUNCREF) {
			/* externref: only the null check */
			if (!args[i].ext && !wasm_vt_nullable(want))
				return WASM_TRAP_NULL_REF;
			continue;
		}
		if (!wasm_ref_fits((uint64_t)(uintptr_t)args[i].func, t->mod, want))
			return args[i].func ? WASM_TRAP_INDIRECT_TYPE : WASM_TRAP_NULL_REF;
	}
	return WASM_TRAP_NONE;
}

enum wasm_trap wasm_call(struct wasm_store *s, struct wasm_func *f, const union wasm_value *args,
			 union wasm_value *results, struct wasm_trap_info *info)
{
	const struct wasm_ftype *t = f->type;
	uint32_t need = t->param_slots > t->result_slots ? t->param_slots : t->result_slots;
	enum wasm_trap trap;

	s->trap.trap = WASM_TRAP_NONE;
	s->trap.func = s->trap.offset = -1;
	s->trap.func_name = NULL;
	if (s->sp + need > s->stack_slots) {
		trap = WASM_TRAP_STACK_EXHAUSTED;
		s->trap.trap = trap;
	} else if ((trap = check_ref_args(s, t, args)) != WASM_TRAP_NONE) {
		s->trap.trap = trap;
	} else {
		to_slots(t->pub.params, t->pub.nparams, args, s->stack + s->sp);
		trap = wasm_exec_call(s, f);
		if (!trap)
			from_slots(t->pub.results, t->pub.nresults, s->stack + s->sp, results);
	}
	if (info) {
		*info = s->trap;
		info->trap = trap;
	}
	return trap;
}
