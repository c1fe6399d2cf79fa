/*
 * Exception handling (WebAssembly 3.0, the exception-handling proposal): tags, exception
 * objects and their lifetime, and the handler lookup the interpreter's unwinding uses.
 *
 * An exnref is a pointer to a struct wasm_exn in a frame slot, a global, a table element
 * or another exception's values. Frame slots are copied freely by compiled code, so
 * references cannot be counted; instead the store keeps every exception on a list and a
 * mark-and-sweep collector frees the unreachable ones when a throw finds the list grown
 * to twice what the last collection kept (at least EXN_GC_MIN). The roots are the value
 * stack as the GC heap's collector walks it (wasm_gc_stack_roots: interpreter frames and
 * host-call arguments precisely from stack maps, translated frames found by the JIT's
 * frame walk and scanned with the same maps), the
 * values being thrown, every exnref global and table, the exception in flight, every GC
 * object's references, and the reference values of reachable exceptions (by their tag's
 * types). A loop that throws and catches forever runs in bounded memory. Each exception
 * is charged to the store's budget.
 */
#include "wasm/internal.h"

#include "core/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define EXN_GC_MIN 256u

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

struct gc {
	uintptr_t *all; /* every exception's address, sorted */
	size_t n;
	struct wasm_exn **work;
	size_t nwork;
};

/* Marks v if it is the address of an exception not marked yet. */
static void mark_value(struct gc *g, uint64_t v)
{
	size_t lo = 0, hi = g->n;
	uintptr_t p = (uintptr_t)v;

	if (!p)
		return;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (g->all[mid] < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < g->n && g->all[lo] == p) {
		struct wasm_exn *x = (struct wasm_exn *)p;
		if (!x->mark) {
			x->mark = true;
			g->work[g->nwork++] = x;
		}
	}
}

static void mark_fn(void *g, uint64_t v)
{
	mark_value(g, v);
}

static void mark_roots(struct wasm_store *s, struct gc *g, const union wasm_slot *top)
{
	/* GC objects may hold exnrefs: every object's references are roots (a collection
	 * of exceptions does not know which objects are reachable) */
	wasm_gc_each_ref(s, mark_fn, g);
	wasm_gc_stack_roots(s, top, mark_fn, g);
	mark_value(g, (uint64_t)(uintptr_t)s->exn);
	for (struct wasm_obj *o = s->objs; o; o = o->next) {
		if (o->kind == WASM_OBJ_GLOBAL) {
			struct wasm_global *gl = (struct wasm_global *)(void *)o;
			if (gl->type == WASM_EXNREF)
				mark_value(g, gl->v[0].i64);
		} else if (o->kind == WASM_OBJ_TABLE) {
			struct wasm_table *t = (struct wasm_table *)(void *)o;
			if (t->elem == WASM_EXNREF)
				for (uint32_t i = 0; i < t->size; i++)
					mark_value(g, t->elems[i]);
		}
	}
}

/* Frees the exceptions nothing reachable refers to. Without memory for its arrays it
 * frees nothing (the store only grows past its budget later). */
static void collect(struct wasm_store *s, const union wasm_slot *top)
{
	struct gc g = {0};
	struct wasm_exn **link;
	size_t i = 0;

	g.all = core_alloc((s->nexns + 1) * sizeof(*g.all));
	g.work = core_alloc((s->nexns + 1) * sizeof(*g.work));
	if (!g.all || !g.work)
		goto out;
	for (struct wasm_exn *x = s->exns; x; x = x->next) {
		x->mark = false;
		g.all[i++] = (uintptr_t)x;
	}
	g.n = i;
	qsort(g.all, g.n, sizeof(*g.all), cmp_ptr);
	mark_roots(s, &g, top);
	while (g.nwork) {
		struct wasm_exn *x = g.work[--g.nwork];
		wasm_exn_each_ref(x, mark_fn, &g);
	}
	link = &s->exns;
	while (*link) {
		struct wasm_exn *x = *link;
		if (x->mark) {
			link = &x->next;
			continue;
		}
		*link = x->next;
		wasm_store_refund(s, sizeof(*x) + x->nslots * sizeof(union wasm_slot));
		core_free(x);
		s->nexns--;
	}
out:
	core_free(g.all);
	core_free(g.work);
	s->exn_gc_at = s->nexns * 2 > EXN_GC_MIN ? s->nexns * 2 : EXN_GC_MIN;
}

enum wasm_trap wasm_exn_throw(struct wasm_store *s, struct wasm_tag *tag,
			      const union wasm_slot *vals, const union wasm_slot *top)
{
	uint32_t n = tag->type->param_slots;
	size_t size = sizeof(struct wasm_exn) + (size_t)n * sizeof(union wasm_slot);
	struct wasm_exn *x;

	/* the values are roots while a collection may run */
	wasm_gc_hold(s, vals, tag->type, 0, WASM_HOLD_PARAMS);
	if (s->nexns >= s->exn_gc_at || wasm_gc_stressed(s))
		collect(s, top);
	if (wasm_store_charge(s, size)) {
		collect(s, top);
		if (wasm_store_charge(s, size)) {
			s->hold_kind = WASM_HOLD_NONE;
			return WASM_TRAP_NOMEM;
		}
	}
	s->hold_kind = WASM_HOLD_NONE;
	x = core_alloc(size);
	if (!x) {
		wasm_store_refund(s, size);
		return WASM_TRAP_NOMEM;
	}
	x->tag = tag;
	x->nslots = n;
	x->mark = false;
	if (n)
		memcpy(x->vals, vals, (size_t)n * sizeof(union wasm_slot));
	x->next = s->exns;
	s->exns = x;
	s->nexns++;
	s->exn = x;
	return WASM_TRAP_EXCEPTION;
}

const struct wasm_handler *wasm_exn_find(const struct wasm_func *fn, const uint32_t *pc,
					 const struct wasm_exn *x)
{
	const struct wasm_code *code = fn->code;
	const struct wasm_handler *best = NULL;
	uint32_t at = (uint32_t)(pc - code->ops);

	for (uint32_t i = 0; i < code->nhandlers; i++) {
		const struct wasm_handler *h = &code->handlers[i];
		if (at < h->start || at >= h->end || (best && h->start <= best->start))
			continue;
		if (h->kind == WASM_CATCH_ALL || h->kind == WASM_CATCH_ALL_REF ||
		    fn->inst->tags[h->tag] == x->tag)
			best = h;
	}
	return best;
}

void wasm_exn_catch(struct wasm_store *s, const struct wasm_handler *h, union wasm_slot *fp)
{
	struct wasm_exn *x = s->exn;
	uint32_t k = 0;

	if (h->kind == WASM_CATCH || h->kind == WASM_CATCH_REF) {
		/* memmove: the label's slots may hold the values' old copies */
		memmove(fp + h->dst, x->vals, (size_t)x->nslots * sizeof(*fp));
		k = x->nslots;
	}
	if (h->kind == WASM_CATCH_REF || h->kind == WASM_CATCH_ALL_REF)
		fp[h->dst + k].ref = x;
	s->exn = NULL;
}

void wasm_exn_free_all(struct wasm_store *s)
{
	while (s->exns) {
		struct wasm_exn *x = s->exns;
		s->exns = x->next;
		core_free(x);
	}
	s->nexns = 0;
	s->exn = NULL;
}

bool wasm_tag_matches(const struct wasm_tag *t, const struct wasm_module *m, uint32_t typeidx)
{
	if (t->mod)
		return wasm_type_same(t->mod, t->typeidx, m, typeidx);
	return wasm_ftype_equal(t->type, &m->types[typeidx]);
}

int wasm_tag_create(struct wasm_store *s, const struct wasm_functype *type, struct wasm_tag **out)
{
	struct wasm_tag *t;
	uint8_t *buf;
	uint32_t slots = 0;

	if (type->nresults)
		return -EINVAL;
	if (wasm_store_charge(s, sizeof(*t) + type->nparams + 1))
		return -E2BIG;
	t = core_calloc(1, sizeof(*t) + type->nparams + 1);
	if (!t) {
		wasm_store_refund(s, sizeof(*t) + type->nparams + 1);
		return -ENOMEM;
	}
	buf = (uint8_t *)(t + 1);
	if (type->nparams)
		memcpy(buf, type->params, type->nparams);
	for (uint32_t i = 0; i < type->nparams; i++)
		slots += wasm_type_slots(buf[i]);
	t->own_type.comp = WASM_COMP_FUNC; /* a host tag's type is final, as a host function's */
	t->own_type.final = true;
	t->own_type.super = WASM_NO_SUPER;
	t->own_type.pub.nparams = type->nparams;
	t->own_type.pub.params = buf;
	t->own_type.param_slots = slots;
	t->type = &t->own_type;
	wasm_store_link(s, &t->obj, WASM_OBJ_TAG);
	*out = t;
	return 0;
}

enum wasm_trap wasm_tag_throw(struct wasm_store *s, struct wasm_tag *tag, const uint64_t *slots)
{
	enum wasm_trap t = wasm_exn_throw(s, tag, (const union wasm_slot *)(const void *)slots,
					  s->stack + s->sp);

	if (t == WASM_TRAP_EXCEPTION)
		wasm_exec_record_trap(s, t, NULL, NULL);
	return t;
}

struct wasm_tag *wasm_store_exception_tag(const struct wasm_store *s)
{
	return s->exn ? s->exn->tag : NULL;
}
