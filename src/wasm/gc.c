/*
 * The GC proposal's heap (WebAssembly 3.0): structs, arrays and boxes (struct wasm_gcobj
 * in internal.h, which says how every reference of the any hierarchy is represented),
 * their instructions, the run-time type tests (ref.test, ref.cast, br_on_cast), the
 * extern conversions and the store's collector.
 *
 * Objects of up to 256 bytes (header and data) live in 64 KiB slabs, one size class of 16
 * bytes each (a bit per slot, freed slots on a list, an empty slab back to the host at the
 * sweep); larger ones are blocks of their own in the store's open-addressing set
 * (s->gc_set). Whether a word is an object's address is a binary search of the sorted
 * slabs and a slot check, or one set probe. The collector is a mark-and-sweep: the roots are the
 * value stack in use, walked through its stretches (struct wasm_act, s->act; see
 * wasm_gc_stack_roots): interpreter frames precisely from the stack maps the compiler
 * records per safepoint (reference locals, and the operand entries holding references
 * at each call op, allocating op and throw), host-call arguments as passed, translated
 * frames with the same maps (each stands at a call op: wasm_jit_walk finds them from
 * the return addresses on the host stack). Then the values an allocation or a throw is made
 * for (s->hold), every reference global and table of the store (exnref ones too), every
 * instance's element segments, the embedder's pins and the exception in flight. The same
 * collector owns the store's exceptions (exn.c): from the roots, objects are traced precisely
 * from their types and exceptions from their tags' types, each through the other (an exnref
 * field, a struct in an exception's values), until neither has work left; then both heaps are
 * swept, so a cycle through objects and exceptions is freed like any garbage. It runs when the
 * bytes allocated and thrown since the last one reach twice what survived it (at least
 * GC_MIN), and again before an allocation or throw that would not fit in the store's budget
 * (--max-memory), which is charged for every slab, large object and exception. Collections
 * run only from the interpreter's GC ops and throws (whose functions the JIT leaves alone)
 * and wasm_store_gc (the embedder, a host function), never while instantiating (constant
 * expressions hold objects in C variables then).
 */
#include "wasm/internal.h"

#include "wasm/jit/jit.h"

#include "core/alloc.h"

#include <errno.h>
#include <string.h>

#define GC_MIN	      (1u << 20) /* bytes allocated before the first collection */
#define EXN_GC_MIN    256u	 /* exceptions before the first collection */
#define GC_OBJ_EXTRA  16u	 /* charged per object beside its size: its set slots */
#define HOST_INLINE   (1ull << 62)
#define GC_MAX_BYTES  (1ull << 40) /* no object is larger (then past any budget) */
#define GC_EMPTY_SLOT ((struct wasm_gcobj *)0)
#define SLAB_BYTES    (64u << 10)
#define SMALL_MAX     (WASM_GC_NCLASS * 16u) /* larger objects are each a block of their own */

/* ----- the object set ----- */

/* The home slot of address p: a full 64-bit mix (murmur3's finalizer), since
 * allocation addresses differ only in a few middle bits and linear probing needs them
 * spread over the whole table. */
static size_t slot_of(uintptr_t p, size_t mask)
{
	uint64_t h = (uint64_t)p;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (size_t)h & mask;
}

static void set_put(struct wasm_gcobj **set, size_t cap, struct wasm_gcobj *o)
{
	size_t i = slot_of((uintptr_t)o, cap - 1);

	while (set[i])
		i = (i + 1) & (cap - 1);
	set[i] = o;
}

/* ----- slabs: the objects of up to SMALL_MAX bytes ----- */

/* A slab holds objects of one size class (osize bytes, a multiple of 16) from SLAB_OBJ0
 * on: a bit per slot says which are allocated; freed slots are on a list through their
 * first word, and slots from bump on were never used. A slab is charged to the store's
 * budget whole while it exists, and freed when a sweep leaves it empty. */
struct wasm_gc_slab {
	uint32_t osize, nobj; /* bytes per object, slots it has room for */
	uint32_t bump;	      /* slots from here on were never used */
	uint32_t nlive;	      /* allocated slots */
	uint32_t cls;
	struct wasm_gc_slab *next; /* on s->gc_partial[cls] */
	struct wasm_gcobj *free;   /* freed slots */
	uint64_t used[SLAB_BYTES / 16 / 64];
};

#define SLAB_OBJ0 ((sizeof(struct wasm_gc_slab) + 15) & ~(size_t)15)

static struct wasm_gcobj *slab_obj(const struct wasm_gc_slab *sl, uint32_t i)
{
	return (struct wasm_gcobj *)(void *)((char *)(uintptr_t)sl + SLAB_OBJ0 +
					     (size_t)i * sl->osize);
}

static bool slab_used(const struct wasm_gc_slab *sl, uint32_t i)
{
	return sl->used[i / 64] >> (i % 64) & 1;
}

/* The slab whose bytes hold address v, if any (a binary search of the sorted slabs). */
static struct wasm_gc_slab *slab_of(const struct wasm_store *s, uintptr_t v)
{
	size_t lo = 0, hi = s->gc_nslabs;
	struct wasm_gc_slab *sl;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if ((uintptr_t)s->gc_slabs[mid] <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	sl = s->gc_slabs[lo - 1];
	return v < (uintptr_t)sl + SLAB_BYTES ? sl : NULL;
}

/* Adds a slab of class cls (charged to the budget) on its partial list: false when the
 * budget or the host refuses. */
static bool slab_add(struct wasm_store *s, uint32_t cls)
{
	struct wasm_gc_slab *sl;
	size_t at;

	if (s->gc_nslabs == s->gc_capslabs) {
		size_t cap = s->gc_capslabs ? 2 * s->gc_capslabs : 16;
		struct wasm_gc_slab **a = core_realloc(s->gc_slabs, cap * sizeof(*a));
		if (!a)
			return false;
		s->gc_slabs = a;
		s->gc_capslabs = cap;
	}
	if (wasm_store_charge(s, SLAB_BYTES))
		return false;
	sl = core_alloc(SLAB_BYTES);
	if (!sl) {
		wasm_store_refund(s, SLAB_BYTES);
		return false;
	}
	memset(sl, 0, sizeof(*sl));
	sl->cls = cls;
	sl->osize = (cls + 1) * 16;
	sl->nobj = (uint32_t)((SLAB_BYTES - SLAB_OBJ0) / sl->osize);
	for (at = s->gc_nslabs; at > 0 && (uintptr_t)s->gc_slabs[at - 1] > (uintptr_t)sl; at--)
		s->gc_slabs[at] = s->gc_slabs[at - 1];
	s->gc_slabs[at] = sl;
	s->gc_nslabs++;
	s->gc_bytes += SLAB_BYTES;
	sl->next = s->gc_partial[cls];
	s->gc_partial[cls] = sl;
	return true;
}

/* A zeroed object from the first slab of class cls with room (there is one). */
static struct wasm_gcobj *slab_take(struct wasm_store *s, uint32_t cls)
{
	struct wasm_gc_slab *sl = s->gc_partial[cls];
	struct wasm_gcobj *o;
	uint32_t i;

	if (sl->free) {
		o = sl->free;
		memcpy(&sl->free, o, sizeof(sl->free));
		i = (uint32_t)(((uintptr_t)o - (uintptr_t)sl - SLAB_OBJ0) / sl->osize);
	} else {
		i = sl->bump++;
		o = slab_obj(sl, i);
	}
	sl->used[i / 64] |= 1ull << (i % 64);
	sl->nlive++;
	if (!sl->free && sl->bump == sl->nobj)
		s->gc_partial[cls] = sl->next;
	memset(o, 0, sl->osize);
	return o;
}

bool wasm_gc_is_obj(const struct wasm_store *s, uint64_t v)
{
	const struct wasm_gc_slab *sl;
	size_t i;

	if (!v || (v & 7))
		return false;
	sl = slab_of(s, (uintptr_t)v);
	if (sl) {
		uintptr_t off = (uintptr_t)v - (uintptr_t)sl;
		if (off < SLAB_OBJ0 || (off - SLAB_OBJ0) % sl->osize)
			return false;
		i = (off - SLAB_OBJ0) / sl->osize;
		return i < sl->bump && slab_used(sl, (uint32_t)i);
	}
	if (!s->gc_cap)
		return false;
	i = slot_of((uintptr_t)v, s->gc_cap - 1);
	while (s->gc_set[i]) {
		if ((uint64_t)(uintptr_t)s->gc_set[i] == v)
			return true;
		i = (i + 1) & (s->gc_cap - 1);
	}
	return false;
}

/* Rebuilds the set with room for n objects: false without memory. */
static bool set_resize(struct wasm_store *s, size_t n)
{
	size_t cap = 64;
	struct wasm_gcobj **set;

	while (cap < 2 * n + 2)
		cap *= 2;
	set = core_calloc(cap, sizeof(*set));
	if (!set)
		return false;
	for (size_t i = 0; i < s->gc_cap; i++)
		if (s->gc_set[i])
			set_put(set, cap, s->gc_set[i]);
	core_free(s->gc_set);
	s->gc_set = set;
	s->gc_cap = cap;
	return true;
}

/* ----- storage kinds ----- */

enum wasm_gc_ek wasm_gc_ek(wasm_vt t, bool sign)
{
	switch (t) {
	case WASM_PACK_I8:
		return sign ? EK_8S : EK_8U;
	case WASM_PACK_I16:
		return sign ? EK_16S : EK_16U;
	case WASM_I32:
	case WASM_F32:
		return EK_32;
	case WASM_V128:
		return EK_128;
	default:
		return EK_64;
	}
}

static const uint8_t ek_size[] = {1, 1, 2, 2, 4, 8, 16};

/* Reads an element of kind k at p into d (one slot, two for EK_128). */
static void ek_load(union wasm_slot *d, const uint8_t *p, enum wasm_gc_ek k)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;

	switch (k) {
	case EK_8S:
		u8 = p[0];
		u32 = u8 & 0x80 ? 0xffffff00u | u8 : u8;
		d->i64 = u32;
		break;
	case EK_8U:
		u8 = *p;
		d->i64 = u8;
		break;
	case EK_16S:
		memcpy(&u16, p, 2);
		u32 = u16 & 0x8000 ? 0xffff0000u | u16 : u16;
		d->i64 = u32;
		break;
	case EK_16U:
		memcpy(&u16, p, 2);
		d->i64 = u16;
		break;
	case EK_32:
		memcpy(&u32, p, 4);
		d->i64 = u32;
		break;
	case EK_64:
		memcpy(&d->i64, p, 8);
		break;
	case EK_128:
		memcpy(d, p, 16);
		break;
	}
}

static void ek_store(uint8_t *p, const union wasm_slot *v, enum wasm_gc_ek k)
{
	memcpy(p, v, ek_size[k]); /* little-endian: the low bytes of the slot */
}

/* ----- allocation and collection ----- */

static bool ref_vt(wasm_vt t)
{
	return t != WASM_PACK_I8 && t != WASM_PACK_I16 && wasm_vt_is_ref(t);
}

struct mark {
	struct wasm_store *s;
	struct wasm_gcobj **work;
	size_t nwork;
	uintptr_t *xset; /* every exception's address: open addressing, xcap slots (2^k) */
	size_t xcap;
	struct wasm_exn **xwork;
	size_t nxwork;
};

/* Marks v if it is the address of an exception of the store not marked yet. */
static void mark_exn(struct mark *g, uint64_t v)
{
	struct wasm_exn *x;
	size_t i;

	if (!g->xcap)
		return;
	for (i = slot_of((uintptr_t)v, g->xcap - 1); g->xset[i] != v; i = (i + 1) & (g->xcap - 1))
		if (!g->xset[i])
			return;
	x = (struct wasm_exn *)(uintptr_t)v;
	if (x->mark)
		return;
	x->mark = true;
	g->xwork[g->nxwork++] = x;
}

/* Marks v if it is an object's or an exception's address (any other value: nothing). */
static void mark_value(struct mark *g, uint64_t v)
{
	struct wasm_gcobj *o;

	if (!v || (v & 7))
		return;
	if (!wasm_gc_is_obj(g->s, v)) {
		mark_exn(g, v);
		return;
	}
	o = (struct wasm_gcobj *)(uintptr_t)v;
	if (o->mark)
		return;
	o->mark = true;
	g->work[g->nwork++] = o;
}

/* Marks v, a reference of the any hierarchy held by an object: null, an i31, a host
 * word or a live object's address (validated code and the checked API put nothing else
 * there), so no set probe is needed. */
static void mark_any(struct mark *g, uint64_t v)
{
	struct wasm_gcobj *o = (struct wasm_gcobj *)(uintptr_t)v;

	if (!v || (v & 3) || o->mark)
		return;
	o->mark = true;
	g->work[g->nwork++] = o;
}

/* Whether field type t (of module m) is of the any hierarchy (else an externref, which
 * may hold any host value, or a function or exception reference, never an object). */
static bool any_vt(const struct wasm_module *m, wasm_vt t)
{
	return wasm_vt_rep(m, t) == WASM_ANYREF;
}

/* Marks what object o refers to: any-hierarchy fields directly, the others through the
 * set (an externref's host value is no object unless the set says so). */
static void trace(struct mark *g, struct wasm_gcobj *o)
{
	const struct wasm_module *m = o->type ? o->type->mod : NULL;

	if (o->kind == WASM_GC_STRUCT) {
		uint32_t off = 0;
		for (uint32_t i = 0; i < o->type->nfields; i++) {
			wasm_vt t = o->type->fields[i];
			if (ref_vt(t)) {
				if (any_vt(m, t))
					mark_any(g, o->data[off]);
				else
					mark_value(g, o->data[off]);
			}
			off += wasm_type_slots(t);
		}
	} else if (o->kind == WASM_GC_ARRAY && o->refs) {
		bool any = any_vt(m, o->type->fields[0]);
		for (uint32_t i = 0; i < o->len; i++) {
			if (any)
				mark_any(g, o->data[i]);
			else
				mark_value(g, o->data[i]);
		}
	}
}

bool wasm_gc_root_type(const struct wasm_module *m, wasm_vt t)
{
	uint32_t c = wasm_vt_code(t);

	if (t == WASM_PACK_I8 || t == WASM_PACK_I16 || !wasm_vt_is_ref(t))
		return false;
	if (c == WASM_FUNCREF || c == WASM_HT_NOFUNC)
		return false;
	if (c == WASM_HT_IDX && m && wasm_vt_index(t) < m->ntypes &&
	    wasm_type_is_func(m, wasm_vt_index(t)))
		return false;
	return true;
}

void wasm_gc_hold(struct wasm_store *s, const union wasm_slot *vals, const struct wasm_ftype *t,
		  uint32_t n, uint8_t kind)
{
	s->hold = vals;
	s->hold_type = t;
	s->hold_n = n;
	s->hold_kind = kind;
}

wasm_vt wasm_gc_param_type(const struct wasm_ftype *t, uint32_t i)
{
	return t->vparams ? t->vparams[i] : (wasm_vt)t->pub.params[i];
}

/* The roots of fn's frame at fp standing at safepoint key: its reference locals and the
 * safepoint's operand slots. */
static void frame_roots(const struct wasm_func *fn, const union wasm_slot *fp, uint32_t key,
			void (*cb)(void *, uint64_t), void *ctx)
{
	const struct wasm_code *code = fn->code;
	size_t lo = 0, hi = code->nsafepoints;

	for (uint32_t i = 0; i < code->ngc_locals; i++)
		cb(ctx, fp[code->gc_slots[i]].i64);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (code->safepoints[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < code->nsafepoints && code->safepoints[lo].key == key) {
		const struct wasm_safepoint *sp = &code->safepoints[lo];
		for (uint32_t i = 0; i < sp->n; i++)
			cb(ctx, fp[code->gc_slots[sp->first + i]].i64);
	}
}

/* The values held for an allocation (s->hold), by their types. */
static void hold_roots(const struct wasm_store *s, void (*cb)(void *, uint64_t), void *ctx)
{
	const struct wasm_ftype *t = s->hold_type;
	uint32_t off = 0;

	switch (s->hold_kind) {
	case WASM_HOLD_FIELDS:
		for (uint32_t i = 0; i < t->nfields; i++) {
			if (ref_vt(t->fields[i]))
				cb(ctx, s->hold[off].i64);
			off += wasm_type_slots(t->fields[i]);
		}
		break;
	case WASM_HOLD_ELEMS:
		if (ref_vt(t->fields[0]))
			for (uint32_t i = 0; i < s->hold_n; i++)
				cb(ctx, s->hold[i].i64);
		break;
	case WASM_HOLD_PARAMS:
		for (uint32_t i = 0; i < t->pub.nparams; i++) {
			if (wasm_gc_root_type(t->mod, wasm_gc_param_type(t, i)))
				cb(ctx, s->hold[off].i64);
			off += wasm_type_slots(wasm_gc_param_type(t, i));
		}
		break;
	default:
		break;
	}
}

void wasm_gc_host_args(struct wasm_act *a, const struct wasm_ftype *t, const union wasm_slot *args)
{
	uint32_t off = 0;

	a->nrefs = 0;
	for (uint32_t i = 0; i < t->pub.nparams; i++) {
		wasm_vt pt = wasm_gc_param_type(t, i);
		if (a->nrefs < WASM_ACT_HOST_REFS && wasm_gc_root_type(t->mod, pt))
			a->refs[a->nrefs++] = args[off].i64;
		off += wasm_type_slots(pt);
	}
}

void wasm_exn_each_ref(const struct wasm_exn *x, void (*cb)(void *, uint64_t), void *ctx)
{
	const struct wasm_ftype *t = x->tag->type;
	uint32_t off = 0;

	for (uint32_t i = 0; i < t->pub.nparams && off < x->nslots; i++) {
		wasm_vt pt = wasm_gc_param_type(t, i);
		if (wasm_gc_root_type(t->mod, pt))
			cb(ctx, x->vals[off].i64);
		off += wasm_type_slots(pt);
	}
}

struct jit_roots {
	void (*cb)(void *, uint64_t);
	void *ctx;
};

static void jit_frame_roots(void *ctx, struct wasm_func *f, const uint32_t *pc, bool at_op,
			    union wasm_slot *fp, size_t depth)
{
	const struct jit_roots *r = ctx;

	(void)depth;
	frame_roots(f, fp, (uint32_t)(pc - f->code->ops) << 1 | at_op, r->cb, r->ctx);
}

void wasm_gc_stack_roots(struct wasm_store *s, const union wasm_slot *top,
			 void (*cb)(void *, uint64_t), void *ctx)
{
	(void)top; /* every stretch is walked precisely: no end needed */
	hold_roots(s, cb, ctx);
	for (const struct wasm_act *a = s->act; a; a = a->prev) {
		switch (a->kind) {
		case WASM_ACT_INTERP:
			if (a->fn)
				frame_roots(a->fn, a->fp,
					    (uint32_t)(a->pc - a->fn->code->ops) << 1 | a->at_op,
					    cb, ctx);
			for (size_t k = a->frn; k-- > a->fr0;) {
				const struct wasm_frame *fr = &s->frames[k];
				frame_roots(fr->func, fr->fp,
					    (uint32_t)(fr->pc - fr->func->code->ops) << 1, cb, ctx);
			}
			break;
		case WASM_ACT_JIT: {
			/* translated frames: each at a call (cached values written back
			 * before it), scanned with the interpreter's map of that position */
			struct jit_roots r = {cb, ctx};
			(void)wasm_jit_walk(s->jit, a, jit_frame_roots, &r);
			break;
		}
		default: { /* WASM_ACT_HOST */
			const struct wasm_ftype *t = a->type;
			uint32_t off = 0, n = 0;
			for (uint32_t i = 0; i < a->nrefs; i++)
				cb(ctx, a->refs[i]);
			for (uint32_t i = 0; i < t->pub.nparams; i++) {
				wasm_vt pt = wasm_gc_param_type(t, i);
				if (wasm_gc_root_type(t->mod, pt) && n++ >= WASM_ACT_HOST_REFS)
					cb(ctx, a->base[off].i64);
				off += wasm_type_slots(pt);
			}
			break;
		}
		}
	}
}

static void mark_fn(void *g, uint64_t v)
{
	mark_value(g, v);
}

/* Whether values of representation rep may be objects or exceptions. */
static bool rep_traced(uint8_t rep)
{
	return rep == WASM_ANYREF || rep == WASM_EXTERNREF || rep == WASM_EXNREF;
}

static void mark_roots(struct wasm_store *s, struct mark *g, const union wasm_slot *top)
{
	wasm_gc_stack_roots(s, top, mark_fn, g);
	for (size_t i = 0; i < s->gc_npins; i++)
		mark_value(g, s->gc_pins[i]);
	mark_value(g, (uint64_t)(uintptr_t)s->exn);
	for (struct wasm_obj *o = s->objs; o; o = o->next) {
		if (o->kind == WASM_OBJ_GLOBAL) {
			struct wasm_global *gl = (struct wasm_global *)(void *)o;
			if (rep_traced(gl->type))
				mark_value(g, gl->v[0].i64);
		} else if (o->kind == WASM_OBJ_TABLE) {
			struct wasm_table *t = (struct wasm_table *)(void *)o;
			if (rep_traced(t->elem))
				for (uint32_t i = 0; i < t->size; i++)
					mark_value(g, t->elems[i]);
		} else if (o->kind == WASM_OBJ_INSTANCE) {
			struct wasm_instance *in = (struct wasm_instance *)(void *)o;
			for (uint32_t e = 0; in->elem_items && e < in->mod->nelems; e++) {
				if (wasm_vt_rep(in->mod, in->mod->elems[e].type) == WASM_FUNCREF)
					continue;
				for (uint32_t i = 0; in->elem_items[e] && i < in->elem_len[e]; i++)
					mark_value(g, in->elem_items[e][i]);
			}
		}
	}
}

static uint64_t obj_size(const struct wasm_gcobj *o, uint64_t data)
{
	(void)o;
	return sizeof(struct wasm_gcobj) + data + GC_OBJ_EXTRA;
}

static uint64_t data_bytes(const struct wasm_gcobj *o)
{
	if (o->kind == WASM_GC_ARRAY)
		return ((uint64_t)o->len * o->esize + 7) & ~7ull;
	if (o->kind == WASM_GC_STRUCT)
		return (uint64_t)o->len * 8;
	return 8;
}

/* Frees the unmarked objects of the slabs (a slab left empty goes back to the host) and
 * unmarks the rest; rebuilds the partial lists. Returns the bytes of the survivors. */
static uint64_t sweep_slabs(struct wasm_store *s)
{
	uint64_t live = 0;
	size_t keep = 0;

	for (uint32_t c = 0; c < WASM_GC_NCLASS; c++)
		s->gc_partial[c] = NULL;
	for (size_t k = 0; k < s->gc_nslabs; k++) {
		struct wasm_gc_slab *sl = s->gc_slabs[k];
		for (uint32_t w = 0; w * 64 < sl->bump; w++) {
			uint64_t bits = sl->used[w];
			while (bits) {
				uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(bits);
				struct wasm_gcobj *o = slab_obj(sl, i);
				bits &= bits - 1;
				if (o->mark) {
					o->mark = false;
					continue;
				}
				sl->used[w] &= ~(1ull << (i % 64));
				sl->nlive--;
				memcpy(o, &sl->free, sizeof(sl->free));
				sl->free = o;
			}
		}
		if (!sl->nlive) {
			wasm_store_refund(s, SLAB_BYTES);
			s->gc_bytes -= SLAB_BYTES;
			core_free(sl);
			continue;
		}
		live += (uint64_t)sl->nlive * sl->osize;
		s->gc_n += sl->nlive;
		s->gc_slabs[keep++] = sl;
		if (sl->free || sl->bump < sl->nobj) {
			sl->next = s->gc_partial[sl->cls];
			s->gc_partial[sl->cls] = sl;
		}
	}
	s->gc_nslabs = keep;
	return live;
}

void wasm_gc_collect(struct wasm_store *s, const union wasm_slot *top)
{
	struct mark g = {.s = s};
	struct wasm_gcobj **set;
	uint64_t live = 0;
	size_t n = 0, cap = 64;

	if (!s->gc_n && !s->nexns)
		return;
	/* everything that can fail comes before marking: outside a collection no object or
	 * exception is marked (the sweeps unmark the survivors, and new ones start unmarked) */
	while (cap < 2 * s->gc_nlarge + 2)
		cap *= 2;
	if (s->nexns)
		for (g.xcap = 64; g.xcap < 2 * s->nexns + 2;)
			g.xcap *= 2;
	g.work = core_alloc((s->gc_n + 1) * sizeof(*g.work));
	g.xset = core_calloc(g.xcap + 1, sizeof(*g.xset));
	g.xwork = core_alloc((s->nexns + 1) * sizeof(*g.xwork));
	set = core_calloc(cap, sizeof(*set));
	if (!g.work || !g.xset || !g.xwork || !set) {
		core_free(g.work);
		core_free(g.xset);
		core_free(g.xwork);
		core_free(set);
		return; /* frees nothing: the budget check fails cleanly later */
	}
	for (struct wasm_exn *x = s->exns; x; x = x->next) {
		size_t i = slot_of((uintptr_t)x, g.xcap - 1);
		while (g.xset[i])
			i = (i + 1) & (g.xcap - 1);
		g.xset[i] = (uintptr_t)x;
	}
	mark_roots(s, &g, top);
	/* objects and exceptions refer to each other: trace until neither has work left */
	while (g.nwork || g.nxwork) {
		while (g.nwork)
			trace(&g, g.work[--g.nwork]);
		while (g.nxwork)
			wasm_exn_each_ref(g.xwork[--g.nxwork], mark_fn, &g);
	}
	core_free(g.work);
	core_free(g.xset);
	core_free(g.xwork);
	s->gc_n = 0;
	live = sweep_slabs(s) + wasm_exn_sweep(s);
	/* the large objects: the survivors go to the new set */
	for (size_t i = 0; i < s->gc_cap; i++) {
		struct wasm_gcobj *o = s->gc_set[i];
		uint64_t size;
		if (!o)
			continue;
		size = obj_size(o, data_bytes(o));
		if (o->mark) {
			o->mark = false;
			set_put(set, cap, o);
			live += size;
			n++;
			continue;
		}
		wasm_store_refund(s, size);
		s->gc_bytes -= size;
		core_free(o);
	}
	core_free(s->gc_set);
	s->gc_set = set;
	s->gc_cap = cap;
	s->gc_nlarge = n;
	s->gc_n += n;
	s->gc_since = 0;
	s->gc_next = 2 * live > GC_MIN ? 2 * live : GC_MIN;
	s->exn_gc_at = 2 * s->nexns > EXN_GC_MIN ? 2 * s->nexns : EXN_GC_MIN;
	s->gc_collections++;
}

bool wasm_gc_due(const struct wasm_store *s)
{
	return s->gc_since >= s->gc_next || s->nexns >= s->exn_gc_at || wasm_gc_stressed(s);
}

void wasm_gc_allocated(struct wasm_store *s, uint64_t bytes)
{
	s->gc_since += bytes;
	if (!s->gc_next) {
		s->gc_next = GC_MIN;
		s->exn_gc_at = EXN_GC_MIN;
	}
}

/* A large object (its own block, in the set) of size bytes, charged: NULL when the
 * budget or the host refuses. */
static struct wasm_gcobj *large_alloc(struct wasm_store *s, uint64_t size)
{
	struct wasm_gcobj *o;

	if (wasm_store_charge(s, size))
		return NULL;
	if (2 * (s->gc_nlarge + 1) + 2 > s->gc_cap && !set_resize(s, 2 * (s->gc_nlarge + 1))) {
		wasm_store_refund(s, size);
		return NULL;
	}
	o = core_calloc(1, size - GC_OBJ_EXTRA);
	if (!o) {
		wasm_store_refund(s, size);
		return NULL;
	}
	set_put(s->gc_set, s->gc_cap, o);
	s->gc_nlarge++;
	s->gc_bytes += size;
	return o;
}

/* An object of size bytes (header and data): from a slab of its class when it is small
 * (a new slab when none has room), else a block of its own; NULL when refused. */
static struct wasm_gcobj *obj_alloc(struct wasm_store *s, uint64_t size, uint64_t *charged)
{
	if (size <= SMALL_MAX) {
		uint32_t cls = (uint32_t)((size + 15) / 16 - 1);
		if (!s->gc_partial[cls] && !slab_add(s, cls))
			return NULL;
		*charged = (cls + 1) * 16u;
		return slab_take(s, cls);
	}
	*charged = size + GC_OBJ_EXTRA;
	return large_alloc(s, size + GC_OBJ_EXTRA);
}

enum wasm_trap wasm_gc_alloc(struct wasm_store *s, const union wasm_slot *top, uint8_t kind,
			     const struct wasm_ftype *type, uint32_t len, uint64_t bytes,
			     struct wasm_gcobj **out)
{
	uint64_t size, charged = 0;
	struct wasm_gcobj *o;

	if (bytes > GC_MAX_BYTES)
		return WASM_TRAP_GC_LIMIT;
	size = sizeof(struct wasm_gcobj) + ((bytes + 7) & ~7ull);
	if (top && wasm_gc_due(s))
		wasm_gc_collect(s, top);
	o = obj_alloc(s, size, &charged);
	if (!o) {
		if (!top)
			return WASM_TRAP_GC_LIMIT;
		wasm_gc_collect(s, top);
		o = obj_alloc(s, size, &charged);
		if (!o)
			return WASM_TRAP_GC_LIMIT;
	}
	o->kind = kind;
	o->type = type;
	o->len = len;
	s->gc_n++;
	wasm_gc_allocated(s, charged);
	*out = o;
	return WASM_TRAP_NONE;
}

void wasm_gc_free_all(struct wasm_store *s)
{
	for (size_t k = 0; k < s->gc_nslabs; k++)
		core_free(s->gc_slabs[k]);
	core_free(s->gc_slabs);
	s->gc_slabs = NULL;
	s->gc_nslabs = s->gc_capslabs = 0;
	for (uint32_t c = 0; c < WASM_GC_NCLASS; c++)
		s->gc_partial[c] = NULL;
	for (size_t i = 0; i < s->gc_cap; i++)
		core_free(s->gc_set[i]);
	core_free(s->gc_set);
	s->gc_set = NULL;
	s->gc_cap = s->gc_n = s->gc_nlarge = 0;
	core_free(s->gc_pins);
	s->gc_pins = NULL;
	s->gc_npins = s->gc_cappins = 0;
}

/* ----- objects ----- */

static uint32_t struct_slots(const struct wasm_ftype *t)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < t->nfields; i++)
		n += wasm_type_slots(t->fields[i]);
	return n;
}

enum wasm_trap wasm_gc_struct_new(struct wasm_store *s, const union wasm_slot *top,
				  const struct wasm_ftype *t, const union wasm_slot *vals,
				  uint64_t *out)
{
	uint32_t n = struct_slots(t), off = 0;
	struct wasm_gcobj *o;
	enum wasm_trap trap;

	if (vals) /* the fields are roots while the allocation may collect */
		wasm_gc_hold(s, vals, t, 0, WASM_HOLD_FIELDS);
	trap = wasm_gc_alloc(s, top, WASM_GC_STRUCT, t, n, (uint64_t)n * 8, &o);
	s->hold_kind = WASM_HOLD_NONE;
	if (trap)
		return trap;
	for (uint32_t i = 0; vals && i < t->nfields; i++) {
		wasm_vt ft = t->fields[i];
		if (ft == WASM_PACK_I8)
			o->data[off] = vals[off].i64 & 0xff;
		else if (ft == WASM_PACK_I16)
			o->data[off] = vals[off].i64 & 0xffff;
		else if (ft == WASM_I32 || ft == WASM_F32)
			o->data[off] = vals[off].i32;
		else
			memcpy(&o->data[off], &vals[off], wasm_type_slots(ft) * 8);
		off += wasm_type_slots(ft);
	}
	*out = (uint64_t)(uintptr_t)o;
	return WASM_TRAP_NONE;
}

enum wasm_trap wasm_gc_array_new(struct wasm_store *s, const union wasm_slot *top,
				 const struct wasm_ftype *t, uint32_t n,
				 const union wasm_slot *vals, bool each, uint64_t *out)
{
	wasm_vt et = t->fields[0];
	enum wasm_gc_ek k = wasm_gc_ek(et, false);
	struct wasm_gcobj *o;
	enum wasm_trap trap;
	uint8_t *p;

	if (vals) /* the element values are roots while the allocation may collect */
		wasm_gc_hold(s, vals, t, each ? n * wasm_type_slots(et) : wasm_type_slots(et),
			     WASM_HOLD_ELEMS);
	trap = wasm_gc_alloc(s, top, WASM_GC_ARRAY, t, n, (uint64_t)n * ek_size[k], &o);
	s->hold_kind = WASM_HOLD_NONE;
	if (trap)
		return trap;
	o->esize = ek_size[k];
	o->refs = ref_vt(et);
	p = (uint8_t *)o->data;
	if (vals && each) {
		for (uint32_t i = 0; i < n; i++)
			ek_store(p + (size_t)i * o->esize, &vals[i * wasm_type_slots(et)], k);
	} else if (vals && (vals[0].i64 || (k == EK_128 && vals[1].i64))) {
		for (uint32_t i = 0; i < n; i++)
			ek_store(p + (size_t)i * o->esize, vals, k);
	}
	*out = (uint64_t)(uintptr_t)o;
	return WASM_TRAP_NONE;
}

static enum wasm_trap box(struct wasm_store *s, const union wasm_slot *top, uint8_t kind,
			  uint64_t v, uint64_t *out)
{
	struct wasm_gcobj *o;
	enum wasm_trap trap = wasm_gc_alloc(s, top, kind, NULL, 0, 8, &o);

	if (trap)
		return trap;
	o->data[0] = v;
	*out = (uint64_t)(uintptr_t)o;
	return WASM_TRAP_NONE;
}

enum wasm_trap wasm_gc_internalize(struct wasm_store *s, const union wasm_slot *top, uint64_t e,
				   uint64_t *out)
{
	if (!e) {
		*out = 0;
		return WASM_TRAP_NONE;
	}
	if (wasm_gc_is_obj(s, e)) { /* an any value externalized */
		const struct wasm_gcobj *o = (const struct wasm_gcobj *)(uintptr_t)e;
		*out = o->kind == WASM_GC_BOX_I31 ? o->data[0] : e;
		return WASM_TRAP_NONE;
	}
	if (e < HOST_INLINE) {
		*out = e << 2 | 2;
		return WASM_TRAP_NONE;
	}
	return box(s, top, WASM_GC_BOX_HOST, e, out);
}

enum wasm_trap wasm_gc_externalize(struct wasm_store *s, const union wasm_slot *top, uint64_t a,
				   uint64_t *out)
{
	const struct wasm_gcobj *o = (const struct wasm_gcobj *)(uintptr_t)a;

	if (!a) {
		*out = 0;
		return WASM_TRAP_NONE;
	}
	if (a & 1)
		return box(s, top, WASM_GC_BOX_I31, a, out);
	if ((a & 3) == 2) {
		*out = a >> 2;
		return WASM_TRAP_NONE;
	}
	*out = o->kind == WASM_GC_BOX_HOST ? o->data[0] : a;
	return WASM_TRAP_NONE;
}

/* ----- type tests ----- */

/* Whether object type a (of its module) is b of m or declares it above. */
static bool obj_type_sub(const struct wasm_ftype *a, const struct wasm_module *m, uint32_t b)
{
	for (uint32_t d = 0; d <= WASM_MAX_SUBTYPE_DEPTH; d++) {
		const struct wasm_module *am = a->mod;
		uint32_t ai = (uint32_t)(a - am->types);
		if (am == m ? am->type_canon[ai] == m->type_canon[b] : wasm_type_same(am, ai, m, b))
			return true;
		if (a->super == WASM_NO_SUPER)
			return false;
		a = &am->types[a->super];
	}
	return false;
}

bool wasm_gc_ref_test(const struct wasm_module *m, uint64_t v, wasm_vt t)
{
	const struct wasm_func *f = (const struct wasm_func *)(uintptr_t)v;
	const struct wasm_gcobj *o = (const struct wasm_gcobj *)(uintptr_t)v;
	bool obj = v && !(v & 3);
	uint32_t i;

	if (!v)
		return wasm_vt_nullable(t);
	switch (wasm_vt_code(t)) {
	case WASM_FUNCREF:
	case WASM_EXTERNREF:
	case WASM_HT_ANY:
		return true; /* validated: v is of t's hierarchy */
	case WASM_HT_EQ:
		return (v & 1) || (obj && (o->kind == WASM_GC_STRUCT || o->kind == WASM_GC_ARRAY));
	case WASM_HT_I31:
		return (v & 1) != 0;
	case WASM_HT_STRUCT:
		return obj && o->kind == WASM_GC_STRUCT;
	case WASM_HT_ARRAY:
		return obj && o->kind == WASM_GC_ARRAY;
	case WASM_HT_IDX:
		i = wasm_vt_index(t);
		if (!m || i >= m->ntypes)
			return false;
		if (wasm_type_is_func(m, i))
			return wasm_ftype_match(f->type, &m->types[i]);
		if (!obj || (o->kind != WASM_GC_STRUCT && o->kind != WASM_GC_ARRAY) ||
		    o->type->comp != m->types[i].comp)
			return false;
		return obj_type_sub(o->type, m, i);
	default: /* the bottoms */
		return false;
	}
}

/* ----- the instructions ----- */

static bool range_ok(uint32_t at, uint32_t n, uint32_t size)
{
	return (uint64_t)at + n <= size;
}

/* The element that slots a (an array reference) and i (an index) name, for array.get
 * and array.set: a trap for a null array or an index past its end. */
static enum wasm_trap array_elem(const union wasm_slot *fp, uint32_t a, uint32_t i, uint8_t **p)
{
	struct wasm_gcobj *o = fp[a].ref;

	if (!o)
		return WASM_TRAP_NULL_ARRAY;
	if (fp[i].i32 >= o->len)
		return WASM_TRAP_ARRAY_OOB;
	*p = (uint8_t *)o->data + (size_t)fp[i].i32 * o->esize;
	return WASM_TRAP_NONE;
}

enum wasm_trap wasm_gc_exec(struct wasm_store *s, struct wasm_instance *inst, const uint32_t *pc,
			    enum wasm_op op, union wasm_slot *fp, const union wasm_slot *top)
{
	const struct wasm_module *m = inst->mod;
	struct wasm_gcobj *o, *src;
	enum wasm_trap trap = WASM_TRAP_NONE;
	uint64_t r;

	switch (op) {
	case WASM_OP_STRUCT_NEW:
		trap = wasm_gc_struct_new(s, top, &m->types[pc[3]], fp + pc[2], &r);
		if (!trap)
			fp[pc[1]].i64 = r;
		return trap;
	case WASM_OP_STRUCT_NEW_DEFAULT:
		trap = wasm_gc_struct_new(s, top, &m->types[pc[2]], NULL, &r);
		if (!trap)
			fp[pc[1]].i64 = r;
		return trap;
	case WASM_OP_STRUCT_GET:
		o = fp[pc[2]].ref;
		if (!o)
			return WASM_TRAP_NULL_STRUCT;
		ek_load(&fp[pc[1]], (const uint8_t *)&o->data[pc[3]], (enum wasm_gc_ek)pc[4]);
		return WASM_TRAP_NONE;
	case WASM_OP_STRUCT_SET:
		o = fp[pc[1]].ref;
		if (!o)
			return WASM_TRAP_NULL_STRUCT;
		if (pc[4] == EK_128 || pc[4] == EK_64)
			ek_store((uint8_t *)&o->data[pc[3]], &fp[pc[2]], (enum wasm_gc_ek)pc[4]);
		else /* a slot each: the value zero-extended */
			o->data[pc[3]] = fp[pc[2]].i64 & (pc[4] == EK_32   ? 0xffffffffull
							  : pc[4] <= EK_8U ? 0xffull
									   : 0xffffull);
		return WASM_TRAP_NONE;
	case WASM_OP_ARRAY_NEW:
		trap = wasm_gc_array_new(s, top, &m->types[pc[4]], fp[pc[3]].i32, fp + pc[2], false,
					 &r);
		if (!trap)
			fp[pc[1]].i64 = r;
		return trap;
	case WASM_OP_ARRAY_NEW_DEFAULT:
		trap = wasm_gc_array_new(s, top, &m->types[pc[3]], fp[pc[2]].i32, NULL, false, &r);
		if (!trap)
			fp[pc[1]].i64 = r;
		return trap;
	case WASM_OP_ARRAY_NEW_FIXED:
		trap = wasm_gc_array_new(s, top, &m->types[pc[4]], pc[3], fp + pc[2], true, &r);
		if (!trap)
			fp[pc[1]].i64 = r;
		return trap;
	case WASM_OP_ARRAY_NEW_DATA: {
		const struct wasm_ftype *t = &m->types[pc[4]];
		uint32_t at = fp[pc[2]].i32, n = fp[pc[3]].i32;
		uint64_t es = ek_size[wasm_gc_ek(t->fields[0], false)];
		if ((uint64_t)at + (uint64_t)n * es > inst->data_len[pc[5]])
			return WASM_TRAP_MEM_OOB;
		trap = wasm_gc_array_new(s, top, t, n, NULL, false, &r);
		if (trap)
			return trap;
		o = (struct wasm_gcobj *)(uintptr_t)r;
		if (n)
			memcpy(o->data, m->datas[pc[5]].bytes + at, n * es);
		fp[pc[1]].i64 = r;
		return WASM_TRAP_NONE;
	}
	case WASM_OP_ARRAY_NEW_ELEM: {
		uint32_t at = fp[pc[2]].i32, n = fp[pc[3]].i32;
		if (!range_ok(at, n, inst->elem_len[pc[5]]))
			return WASM_TRAP_TABLE_OOB;
		trap = wasm_gc_array_new(s, top, &m->types[pc[4]], n, NULL, false, &r);
		if (trap)
			return trap;
		o = (struct wasm_gcobj *)(uintptr_t)r;
		if (n)
			memcpy(o->data, inst->elem_items[pc[5]] + at, n * 8ull);
		fp[pc[1]].i64 = r;
		return WASM_TRAP_NONE;
	}
	case WASM_OP_ARRAY_GET: {
		uint8_t *p;
		trap = array_elem(fp, pc[2], pc[3], &p);
		if (!trap)
			ek_load(&fp[pc[1]], p, (enum wasm_gc_ek)pc[4]);
		return trap;
	}
	case WASM_OP_ARRAY_SET: {
		uint8_t *p;
		trap = array_elem(fp, pc[1], pc[2], &p);
		if (!trap)
			ek_store(p, &fp[pc[3]], (enum wasm_gc_ek)pc[4]);
		return trap;
	}
	case WASM_OP_ARRAY_LEN:
		o = fp[pc[2]].ref;
		if (!o)
			return WASM_TRAP_NULL_ARRAY;
		fp[pc[1]].i64 = o->len;
		return WASM_TRAP_NONE;
	case WASM_OP_ARRAY_FILL: {
		uint32_t i = fp[pc[2]].i32, n = fp[pc[4]].i32;
		o = fp[pc[1]].ref;
		if (!o)
			return WASM_TRAP_NULL_ARRAY;
		if (!range_ok(i, n, o->len))
			return WASM_TRAP_ARRAY_OOB;
		for (uint32_t k = 0; k < n; k++)
			ek_store((uint8_t *)o->data + (size_t)(i + k) * o->esize, &fp[pc[3]],
				 (enum wasm_gc_ek)pc[5]);
		return WASM_TRAP_NONE;
	}
	case WASM_OP_ARRAY_COPY: {
		uint32_t di = fp[pc[2]].i32, si = fp[pc[4]].i32, n = fp[pc[5]].i32;
		o = fp[pc[1]].ref;
		src = fp[pc[3]].ref;
		if (!o || !src)
			return WASM_TRAP_NULL_ARRAY;
		if (!range_ok(di, n, o->len) || !range_ok(si, n, src->len))
			return WASM_TRAP_ARRAY_OOB;
		if (n)
			memmove((uint8_t *)o->data + (size_t)di * o->esize,
				(const uint8_t *)src->data + (size_t)si * o->esize,
				(size_t)n * o->esize);
		return WASM_TRAP_NONE;
	}
	case WASM_OP_ARRAY_INIT_DATA: {
		uint32_t i = fp[pc[2]].i32, at = fp[pc[3]].i32, n = fp[pc[4]].i32;
		o = fp[pc[1]].ref;
		if (!o)
			return WASM_TRAP_NULL_ARRAY;
		if (!range_ok(i, n, o->len))
			return WASM_TRAP_ARRAY_OOB;
		if ((uint64_t)at + (uint64_t)n * o->esize > inst->data_len[pc[5]])
			return WASM_TRAP_MEM_OOB;
		if (n)
			memcpy((uint8_t *)o->data + (size_t)i * o->esize,
			       m->datas[pc[5]].bytes + at, (size_t)n * o->esize);
		return WASM_TRAP_NONE;
	}
	case WASM_OP_ARRAY_INIT_ELEM: {
		uint32_t i = fp[pc[2]].i32, at = fp[pc[3]].i32, n = fp[pc[4]].i32;
		o = fp[pc[1]].ref;
		if (!o)
			return WASM_TRAP_NULL_ARRAY;
		if (!range_ok(i, n, o->len))
			return WASM_TRAP_ARRAY_OOB;
		if (!range_ok(at, n, inst->elem_len[pc[5]]))
			return WASM_TRAP_TABLE_OOB;
		if (n)
			memcpy(&o->data[i], inst->elem_items[pc[5]] + at, (size_t)n * 8);
		return WASM_TRAP_NONE;
	}
	case WASM_OP_ANY_CONVERT_EXTERN:
		trap = wasm_gc_internalize(s, top, fp[pc[2]].i64, &r);
		if (!trap)
			fp[pc[1]].i64 = r;
		return trap;
	case WASM_OP_EXTERN_CONVERT_ANY:
		trap = wasm_gc_externalize(s, top, fp[pc[2]].i64, &r);
		if (!trap)
			fp[pc[1]].i64 = r;
		return trap;
	default:
		return WASM_TRAP_UNREACHABLE;
	}
}

/* ----- the embedding API ----- */

enum wasm_anyref_kind wasm_anyref_kind(uintptr_t v, uintptr_t *host)
{
	const struct wasm_gcobj *o = (const struct wasm_gcobj *)v;

	*host = 0;
	if (!v)
		return WASM_ANYREF_NULL;
	if (v & 1)
		return WASM_ANYREF_I31;
	if ((v & 3) == 2) {
		*host = v >> 2;
		return WASM_ANYREF_HOST;
	}
	switch (o->kind) {
	case WASM_GC_STRUCT:
		return WASM_ANYREF_STRUCT;
	case WASM_GC_ARRAY:
		return WASM_ANYREF_ARRAY;
	default:
		*host = (uintptr_t)o->data[0];
		return WASM_ANYREF_HOST;
	}
}

int wasm_anyref_from_host(struct wasm_store *s, uintptr_t h, uintptr_t *out)
{
	uint64_t r;

	if (wasm_gc_internalize(s, NULL, h, &r))
		return -1;
	*out = (uintptr_t)r;
	return 0;
}

uint64_t wasm_store_gc_collections(const struct wasm_store *s)
{
	return s->gc_collections;
}

uint64_t wasm_store_gc_objects(const struct wasm_store *s)
{
	return s->gc_n;
}

int wasm_anyref_pin(struct wasm_store *s, uintptr_t v)
{
	if (s->gc_npins == s->gc_cappins) {
		size_t cap = s->gc_cappins ? s->gc_cappins * 2 : 16;
		uint64_t *p = core_realloc(s->gc_pins, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->gc_pins = p;
		s->gc_cappins = cap;
	}
	s->gc_pins[s->gc_npins++] = v;
	return 0;
}

void wasm_anyref_unpin(struct wasm_store *s, uintptr_t v)
{
	for (size_t i = s->gc_npins; i-- > 0;) {
		if (s->gc_pins[i] == v) {
			s->gc_pins[i] = s->gc_pins[--s->gc_npins];
			return;
		}
	}
}

void wasm_store_gc(struct wasm_store *s)
{
	wasm_gc_collect(s, s->stack + s->sp);
}
