/*
 * Exception handling (WebAssembly 3.0, the exception-handling proposal): tags, exception
 * objects and their lifetime, and the handler lookup the interpreter's unwinding uses.
 *
 * An exnref is a pointer to a struct wasm_exn in a frame slot, a global, a table element,
 * a GC object's field or element, or another exception's values. Frame slots are copied
 * freely by compiled code, so references cannot be counted; instead the store keeps
 * every exception on a list and the store's one collector (gc.c, wasm_gc_collect) traces
 * them with its objects: an exception is reachable from the roots (frames by their stack
 * maps, globals, tables, the exception in flight, the values being thrown, the
 * embedder's pins) or from a reachable object or exception, its values traced by its
 * tag's types, and wasm_exn_sweep frees the rest. So a cycle through objects and
 * exceptions is garbage like any other. A throw counts its exception's bytes toward the
 * next collection as an allocation does; each exception is charged to the store's budget,
 * and a throw the budget refuses collects first.
 */
#include "wasm/internal.h"

#include "core/alloc.h"

#include <errno.h>
#include <string.h>

uint64_t wasm_exn_sweep(struct wasm_store *s)
{
	struct wasm_exn **link = &s->exns;
	uint64_t live = 0;

	while (*link) {
		struct wasm_exn *x = *link;
		size_t size = sizeof(*x) + x->nslots * sizeof(union wasm_slot);
		if (x->mark) {
			x->mark = false;
			live += size;
			link = &x->next;
			continue;
		}
		*link = x->next;
		wasm_store_refund(s, size);
		core_free(x);
		s->nexns--;
	}
	return live;
}

enum wasm_trap wasm_exn_throw(struct wasm_store *s, struct wasm_tag *tag,
			      const union wasm_slot *vals, const union wasm_slot *top)
{
	uint32_t n = tag->type->param_slots;
	size_t size = sizeof(struct wasm_exn) + (size_t)n * sizeof(union wasm_slot);
	struct wasm_exn *x;

	/* the values are roots while a collection may run */
	wasm_gc_hold(s, vals, tag->type, 0, WASM_HOLD_PARAMS);
	if (wasm_gc_due(s))
		wasm_gc_collect(s, top);
	if (wasm_store_charge(s, size)) {
		wasm_gc_collect(s, top);
		if (wasm_store_charge(s, size)) {
			s->hold_kind = WASM_HOLD_NONE;
			return WASM_TRAP_EXN_LIMIT;
		}
	}
	s->hold_kind = WASM_HOLD_NONE;
	x = core_alloc(size);
	if (!x) {
		wasm_store_refund(s, size);
		return WASM_TRAP_EXN_LIMIT;
	}
	x->tag = tag;
	x->nslots = n;
	x->mark = false;
	if (n)
		memcpy(x->vals, vals, (size_t)n * sizeof(union wasm_slot));
	x->next = s->exns;
	s->exns = x;
	s->nexns++;
	wasm_gc_allocated(s, size);
	s->exn = x;
	return WASM_TRAP_EXCEPTION;
}

int wasm_exn_new(struct wasm_store *s, struct wasm_tag *tag, struct wasm_exn **out)
{
	uint32_t n = tag->type->param_slots;
	size_t size = sizeof(struct wasm_exn) + (size_t)n * sizeof(union wasm_slot);
	struct wasm_exn *x;

	if (wasm_store_charge(s, size))
		return -E2BIG;
	x = core_calloc(1, size);
	if (!x) {
		wasm_store_refund(s, size);
		return -ENOMEM;
	}
	x->tag = tag;
	x->nslots = n;
	x->next = s->exns;
	s->exns = x;
	s->nexns++;
	wasm_gc_allocated(s, size);
	*out = x;
	return 0;
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
