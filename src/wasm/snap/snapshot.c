/*
 * Snapshots of a running WebAssembly program (see snapshot.h and docs/SNAPSHOT.md).
 *
 * What makes a point savable: the outermost interpreter run publishes where it stands
 * (s->at: function, pc, frame, frames below) just before a fuel refill or a host call,
 * the only places a pause parks, and with snapshots on (s->snap_points) the store parks
 * nowhere else. Its callers' frames are in s->frames and every value in the slots of
 * s->stack, so the state is saved as indexes: a function by its index in the module, a
 * pc as a word index in its compiled code, a frame by its slot offset. Frame slots hold
 * raw 64-bit values with no type: the compiler's stack maps say which hold references
 * (GC objects, exceptions, functions), saved as ids and function indices, and which hold
 * nothing live (an operand entry not in its slot, the operand stack above its top),
 * saved as zero.
 */
#include "wasm/snapshot.h"

#include "core/alloc.h"
#include "core/sbuf.h"
#include "snapshot/snapshot.h"
#include "wasm/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define STATE_VERSION  2 /* 1: no GC heap, table elements as u32 (still read) */
#define MODULE_VERSION 1
#define NAME_MAX_LEN   4096

struct priv {
	struct snap_reader *r;
	uint8_t *state;
	size_t state_len;
	uint8_t *wasi;
	size_t wasi_len;
	const struct snap_section *ram; /* NULL: no memory content */
	struct wasm_resume at;
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

void wasm_store_set_snapshots(struct wasm_store *s, bool on)
{
	atomic_store(&s->snap_points, on);
}

bool wasm_snapshot_ready(const struct wasm_store *s)
{
	return wasm_store_parked(s) && s->at.fn != NULL;
}

/* ----- saving ----- */

/* A function reference as saved: 0 for null, index + 1 for a function of inst (one it
 * defines, or one it imports: the import is resolved again by name at restore). */
static int ref_index(const struct wasm_instance *inst, uint64_t v, uint32_t *out)
{
	const struct wasm_module *m = inst->mod;
	uintptr_t own = (uintptr_t)inst->own_funcs;
	uint32_t ndef = m->nfuncs - m->nfunc_imports;

	if (v == 0) {
		*out = 0;
		return 0;
	}
	if (v >= own && v < own + (uint64_t)ndef * sizeof(*inst->own_funcs) &&
	    (v - own) % sizeof(*inst->own_funcs) == 0) {
		uint32_t i = m->nfunc_imports + (uint32_t)((v - own) / sizeof(*inst->own_funcs));
		if ((uintptr_t)inst->funcs[i] == v) {
			*out = i + 1;
			return 0;
		}
	}
	for (uint32_t i = 0; i < m->nfunc_imports; i++) {
		if ((uintptr_t)inst->funcs[i] == v) {
			*out = i + 1;
			return 0;
		}
	}
	return -ENOTSUP;
}

static int func_index(const struct wasm_instance *inst, const struct wasm_func *f, uint32_t *out)
{
	if (!f || f->inst != inst || !f->code)
		return -ENOTSUP;
	*out = f->index;
	return 0;
}

/* ----- the GC heap: objects and exceptions as ids ----- */

/* A reference as saved (STATE version 2): 0 null; an odd word an i31 (as it is in a slot);
 * (id + 1) << 2 the heap's object or exception id; a function reference is its function
 * index + 1 instead. */
#define REF_ID(id) (((uint64_t)(id) + 1) << 2)

enum { HEAP_STRUCT = 1, HEAP_ARRAY, HEAP_I31, HEAP_EXN };

/* Saving: every object and exception reached from the roots gets an id, in the order
 * found (addrs is the queue the records are written from). */
struct heap_out {
	struct wasm_store *s;
	const struct wasm_instance *inst;
	uint64_t *addrs; /* by id */
	uint8_t *exn;	 /* by id: 1 for an exception */
	size_t n, cap;
	uint64_t *keys; /* address -> id: open addressing, keys[i] 0 for free */
	uint32_t *ids;
	size_t kcap;
	uint64_t *xs; /* the store's exceptions, sorted */
	size_t nxs;
	char *err;
	size_t errlen;
};

static size_t addr_slot(uint64_t a, size_t mask)
{
	a ^= a >> 33;
	a *= 0xff51afd7ed558ccdull;
	a ^= a >> 33;
	return (size_t)a & mask;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool is_exn(const struct heap_out *h, uint64_t v)
{
	return h->nxs && bsearch(&v, h->xs, h->nxs, sizeof(*h->xs), cmp_u64);
}

static void heap_out_fini(struct heap_out *h)
{
	core_free(h->addrs);
	core_free(h->exn);
	core_free(h->keys);
	core_free(h->ids);
	core_free(h->xs);
}

static int heap_out_init(struct heap_out *h, struct wasm_store *s, const struct wasm_instance *inst,
			 char *err, size_t errlen)
{
	size_t i = 0;

	memset(h, 0, sizeof(*h));
	h->s = s;
	h->inst = inst;
	h->err = err;
	h->errlen = errlen;
	if (!s->nexns)
		return 0;
	h->xs = core_alloc(s->nexns * sizeof(*h->xs));
	if (!h->xs)
		return fail(err, errlen, -ENOMEM, "out of memory");
	for (const struct wasm_exn *x = s->exns; x && i < s->nexns; x = x->next)
		h->xs[i++] = (uint64_t)(uintptr_t)x;
	h->nxs = i;
	qsort(h->xs, h->nxs, sizeof(*h->xs), cmp_u64);
	return 0;
}

/* The id of object or exception v (a new one at the queue's end if not seen yet). */
static int heap_id(struct heap_out *h, uint64_t v, bool exn, uint32_t *id)
{
	size_t i;

	if (2 * (h->n + 1) > h->kcap) {
		size_t cap = h->kcap ? 2 * h->kcap : 256;
		uint64_t *keys = core_calloc(cap, sizeof(*keys));
		uint32_t *ids = core_alloc(cap * sizeof(*ids));
		if (!keys || !ids) {
			core_free(keys);
			core_free(ids);
			return fail(h->err, h->errlen, -ENOMEM, "out of memory");
		}
		for (size_t k = 0; k < h->kcap; k++) {
			if (!h->keys[k])
				continue;
			for (i = addr_slot(h->keys[k], cap - 1); keys[i]; i = (i + 1) & (cap - 1))
				;
			keys[i] = h->keys[k];
			ids[i] = h->ids[k];
		}
		core_free(h->keys);
		core_free(h->ids);
		h->keys = keys;
		h->ids = ids;
		h->kcap = cap;
	}
	for (i = addr_slot(v, h->kcap - 1); h->keys[i]; i = (i + 1) & (h->kcap - 1)) {
		if (h->keys[i] == v) {
			*id = h->ids[i];
			return 0;
		}
	}
	if (h->n >= (1u << 30))
		return fail(h->err, h->errlen, -ENOTSUP, "the store holds too many GC objects");
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 256;
		uint64_t *a = core_realloc(h->addrs, cap * sizeof(*a));
		uint8_t *e;
		if (!a)
			return fail(h->err, h->errlen, -ENOMEM, "out of memory");
		h->addrs = a;
		e = core_realloc(h->exn, cap);
		if (!e)
			return fail(h->err, h->errlen, -ENOMEM, "out of memory");
		h->exn = e;
		h->cap = cap;
	}
	h->keys[i] = v;
	h->ids[i] = (uint32_t)h->n;
	h->addrs[h->n] = v;
	h->exn[h->n] = exn;
	*id = (uint32_t)h->n++;
	return 0;
}

/* Reference v of representation rep as saved (REF_ID). */
static int put_ref(struct heap_out *h, uint8_t rep, uint64_t v, uint64_t *out, const char *where)
{
	const struct wasm_gcobj *o = (const struct wasm_gcobj *)(uintptr_t)v;
	uint32_t id;
	int rc;

	*out = 0;
	if (!v)
		return 0;
	if (rep == WASM_FUNCREF) {
		if (ref_index(h->inst, v, &id))
			return fail(h->err, h->errlen, -ENOTSUP,
				    "%s holds a reference to a function of another instance (not "
				    "one the program defines or imports): it cannot be saved",
				    where);
		*out = id;
		return 0;
	}
	if (rep == WASM_ANYREF && (v & 1)) {
		*out = v; /* an i31 */
		return 0;
	}
	if (rep == WASM_EXNREF) {
		if (!is_exn(h, v))
			return fail(h->err, h->errlen, -ENOTSUP, "%s holds an unknown exception",
				    where);
		rc = heap_id(h, v, true, &id);
	} else {
		if ((v & 3) || !wasm_gc_is_obj(h->s, v) || o->kind == WASM_GC_BOX_HOST ||
		    (rep == WASM_ANYREF && o->kind == WASM_GC_BOX_I31))
			return fail(h->err, h->errlen, -ENOTSUP,
				    "%s holds a host reference (an externref from outside the "
				    "program): it cannot be saved",
				    where);
		rc = heap_id(h, v, false, &id);
	}
	if (rc)
		return rc;
	*out = REF_ID(id);
	return 0;
}

/* A value of type t (of module m) at p as saved: a reference by put_ref, else its slots. */
static int put_value(struct heap_out *h, struct sbuf *b, const struct wasm_module *m, wasm_vt t,
		     const uint64_t *p, const char *where)
{
	uint64_t v;
	int rc;

	if (t != WASM_PACK_I8 && t != WASM_PACK_I16 && wasm_vt_is_ref(t)) {
		rc = put_ref(h, wasm_vt_rep(m, t), p[0], &v, where);
		if (rc)
			return rc;
		sbuf_put_u64(b, v);
		return 0;
	}
	for (uint32_t i = 0; i < wasm_type_slots(t); i++)
		sbuf_put_u64(b, p[i]);
	return 0;
}

/* The records of every object and exception given an id, in id order (a record may give
 * further ids: the queue grows while it is written). */
static int put_heap(struct heap_out *h, struct sbuf *b)
{
	const struct wasm_module *m = h->inst->mod;
	char where[64];
	int rc;

	for (size_t id = 0; id < h->n; id++) {
		snprintf(where, sizeof(where), "GC object %zu", id);
		if (h->exn[id]) {
			const struct wasm_exn *x = (const struct wasm_exn *)(uintptr_t)h->addrs[id];
			const struct wasm_ftype *t = x->tag->type;
			uint32_t tag = 0, off = 0;
			while (tag < m->ntags && h->inst->tags[tag] != x->tag)
				tag++;
			if (tag == m->ntags)
				return fail(h->err, h->errlen, -ENOTSUP,
					    "an exception of another instance's tag is held: it "
					    "cannot be saved");
			sbuf_put_u8(b, HEAP_EXN);
			sbuf_put_u32(b, tag);
			for (uint32_t i = 0; i < t->pub.nparams; i++) {
				wasm_vt pt = wasm_gc_param_type(t, i);
				rc = put_value(h, b, t->mod, pt, &x->vals[off].i64, where);
				if (rc)
					return rc;
				off += wasm_type_slots(pt);
			}
			continue;
		}
		const struct wasm_gcobj *o = (const struct wasm_gcobj *)(uintptr_t)h->addrs[id];
		if (o->kind == WASM_GC_BOX_I31) {
			sbuf_put_u8(b, HEAP_I31);
			sbuf_put_u64(b, o->data[0]);
			continue;
		}
		if (o->type->mod != m)
			return fail(h->err, h->errlen, -ENOTSUP,
				    "a GC object of another module's type is held: it cannot be "
				    "saved");
		sbuf_put_u8(b, o->kind == WASM_GC_STRUCT ? HEAP_STRUCT : HEAP_ARRAY);
		sbuf_put_u32(b, (uint32_t)(o->type - m->types));
		if (o->kind == WASM_GC_STRUCT) {
			uint32_t off = 0;
			for (uint32_t i = 0; i < o->type->nfields; i++) {
				rc = put_value(h, b, m, o->type->fields[i], &o->data[off], where);
				if (rc)
					return rc;
				off += wasm_type_slots(o->type->fields[i]);
			}
		} else {
			sbuf_put_u32(b, o->len);
			if (o->refs) {
				for (uint32_t i = 0; i < o->len; i++) {
					rc = put_value(h, b, m, o->type->fields[0], &o->data[i],
						       where);
					if (rc)
						return rc;
				}
			} else {
				sbuf_put(b, o->data, (size_t)o->len * o->esize);
			}
		}
		if (b->err)
			return fail(h->err, h->errlen, b->err, "out of memory");
	}
	return 0;
}

/* ----- which frame slots hold references (the compiler's stack maps) ----- */

static uint32_t call_len(const struct wasm_func *f, uint32_t pc);
static uint32_t tail_len(const struct wasm_func *f, uint32_t pc);
static bool is_ref_vt(wasm_vt t);

/* The map entry of key among maps[0..n) (NULL: none). */
static const struct wasm_safepoint *find_map(const struct wasm_safepoint *maps, uint32_t n,
					     uint32_t key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (maps[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && maps[lo].key == key ? &maps[lo] : NULL;
}

typedef int (*ref_slot_fn)(void *ctx, uint32_t slot, wasm_vt t, const struct wasm_module *m);

/* Calls cb for the slots of key's entry among maps[0..n) that hold references. */
static int map_slots(const struct wasm_code *code, const struct wasm_safepoint *maps, uint32_t n,
		     uint32_t key, const struct wasm_module *m, ref_slot_fn cb, void *ctx)
{
	const struct wasm_safepoint *e = find_map(maps, n, key);
	int rc;

	for (uint32_t i = 0; e && i < e->n + e->nfn; i++) {
		uint32_t k = e->first + i;
		rc = cb(ctx, code->gc_slots[k], code->gc_types[k], m);
		if (rc)
			return rc;
	}
	return 0;
}

/* The type a call_ref op at pc of f's code calls (NULL: no map of it). */
static const struct wasm_ftype *call_ref_type(const struct wasm_func *f, uint32_t pc)
{
	const struct wasm_code *code = f->code;
	const struct wasm_module *m = f->inst->mod;
	const struct wasm_safepoint *e = find_map(code->loop_maps, code->nloop_maps, pc << 1 | 1);
	wasm_vt t;

	if (!e || e->nfn != 1)
		return NULL;
	t = code->gc_types[e->first];
	if (wasm_vt_code(t) != WASM_HT_IDX || wasm_vt_index(t) >= m->ntypes ||
	    !wasm_type_is_func(m, wasm_vt_index(t)))
		return NULL;
	return &m->types[wasm_vt_index(t)];
}

/* The callee type and frame base of the call or tail call op at pc of f's code (NULL: not
 * known). */
static const struct wasm_ftype *call_type(const struct wasm_func *f, uint32_t pc, uint32_t *base)
{
	const int32_t *disp = wasm_exec_dispatch();
	const struct wasm_instance *inst = f->inst;
	const uint32_t *op = f->code->ops + pc;

	if ((int32_t)op[0] == disp[WASM_OP_CALL_REF] ||
	    (int32_t)op[0] == disp[WASM_OP_RETURN_CALL_REF]) {
		*base = op[2];
		return call_ref_type(f, pc);
	}
	if ((int32_t)op[0] == disp[WASM_OP_CALL] || (int32_t)op[0] == disp[WASM_OP_RETURN_CALL]) {
		*base = op[2];
		return inst->funcs[op[1]]->type;
	}
	if ((int32_t)op[0] == disp[WASM_OP_CALL_LOCAL]) {
		*base = op[4];
		return inst->own_funcs[op[3]].type;
	}
	*base = op[4]; /* CALL_INDIRECT, RETURN_CALL_INDIRECT */
	return &inst->mod->types[op[1]];
}

/* Where f's frame stands at pc: the key of its maps; for the innermost frame at a loop's
 * start, that loop's map; at a call or tail call op (params) or after a call op, the
 * callee's type (NULL: not known) and frame base. */
struct stand {
	uint32_t key, pc, base;
	const struct wasm_safepoint *loop;
	const struct wasm_ftype *t;
	bool at_loop, call, params;
};

static void stand_at(const struct wasm_func *f, uint32_t pc, bool innermost, struct stand *st)
{
	const struct wasm_code *code = f->code;
	uint32_t len;
	bool loop = false;

	memset(st, 0, sizeof(*st));
	st->key = pc << 1;
	st->pc = pc;
	if (!innermost)
		return;
	for (uint32_t i = 0; i < code->npoints && !loop; i++)
		loop = code->points[i] == pc << 1;
	if (loop) {
		st->at_loop = true;
		st->loop = find_map(code->loop_maps, code->nloop_maps, pc << 1);
		return;
	}
	len = call_len(f, pc) ?: tail_len(f, pc);
	if (len) { /* at a call op: its arguments are on the stack too */
		bool listed = false;
		for (uint32_t i = 0; i < code->npoints && !listed; i++)
			listed = code->points[i] == (pc << 1 | 1);
		if (listed) {
			st->key = (pc + len) << 1;
			st->t = call_type(f, pc, &st->base);
			st->call = st->params = true;
			return;
		}
	}
	/* after a call op (no tail call returns there): its results are */
	for (uint32_t i = 0; i < code->npoints && !st->call; i++) {
		uint32_t at = code->points[i] >> 1;
		if ((code->points[i] & 1) && (len = call_len(f, at)) && at + len == pc) {
			st->t = call_type(f, at, &st->base);
			st->pc = at;
			st->call = true;
		}
	}
}

/* Calls cb for each slot (from the frame's base) of f's frame standing at pc that holds a
 * reference, with its type and the module whose indices it uses. innermost: the running
 * function, at a loop's start, a call op or after one; else a frame below, at a call's
 * return pc. 1: where it stands has no map (a call whose type is not known). */
static int ref_slots(const struct wasm_func *f, uint32_t pc, bool innermost, ref_slot_fn cb,
		     void *ctx)
{
	const struct wasm_code *code = f->code;
	const struct wasm_module *m = f->inst->mod;
	struct stand st;
	uint32_t off = 0;
	int rc;

	stand_at(f, pc, innermost, &st);
	if (st.call && !st.t)
		return 1;
	for (uint32_t i = 0; i < code->ngc_locals + code->nfn_locals; i++) {
		rc = cb(ctx, code->gc_slots[i], code->gc_types[i], m);
		if (rc)
			return rc;
	}
	if (st.at_loop)
		return map_slots(code, code->loop_maps, code->nloop_maps, st.key, m, cb, ctx);
	rc = map_slots(code, code->safepoints, code->nsafepoints, st.key, m, cb, ctx);
	if (rc || !st.call)
		return rc;
	if (st.params) {
		/* a call_ref's reference */
		rc = map_slots(code, code->loop_maps, code->nloop_maps, st.pc << 1 | 1, m, cb, ctx);
		for (uint32_t i = 0; i < st.t->pub.nparams && !rc; i++) {
			wasm_vt pt = wasm_gc_param_type(st.t, i);
			if (is_ref_vt(pt))
				rc = cb(ctx, st.base + off, pt, st.t->mod);
			off += wasm_type_slots(pt);
		}
		return rc;
	}
	for (uint32_t i = 0; i < st.t->pub.nresults; i++) {
		wasm_vt rt = st.t->vresults ? st.t->vresults[i] : (wasm_vt)st.t->pub.results[i];
		if (is_ref_vt(rt) && (rc = cb(ctx, st.base + off, rt, st.t->mod)))
			return rc;
		off += wasm_type_slots(rt);
	}
	return 0;
}

/* Zeroes the slots of f's frame at fp standing where stp says (stand_at) that hold nothing
 * live: the operand entries read from a local or a constant (their slots hold older
 * values), and for the innermost frame the slots above its operand stack's top up to
 * the frame's end (a frame below ends where the next begins). */
static void zero_dead(const struct wasm_func *f, const struct stand *stp, bool innermost,
		      uint64_t *fp)
{
	const struct wasm_code *code = f->code;
	const struct wasm_safepoint *sp;
	const struct stand st = *stp;
	uint32_t top;

	sp = st.at_loop ? NULL : find_map(code->safepoints, code->nsafepoints, st.key);
	for (uint32_t i = 0; sp && i < sp->ndead; i++) {
		uint32_t k = sp->first + sp->n + sp->nfn + i;
		for (uint32_t j = 0; j < wasm_type_slots(code->gc_types[k]); j++)
			fp[code->gc_slots[k] + j] = 0;
	}
	if (!innermost)
		return;
	/* the operand stack's top: a loop's, a call's arguments or results (at the op, with
	 * what it reads above them: a call_ref's reference, a call_indirect's element
	 * index), else (no map: nothing is live there) the locals' end */
	top = code->param_slots + code->local_slots;
	if (st.loop) {
		top = st.loop->top;
	} else if (st.t) {
		top = st.base + (st.params ? st.t->param_slots : st.t->result_slots);
		if (st.params) {
			const int32_t *disp = wasm_exec_dispatch();
			const uint32_t *op = code->ops + st.pc;
			uint32_t read = UINT32_MAX;
			if ((int32_t)op[0] == disp[WASM_OP_CALL_REF] ||
			    (int32_t)op[0] == disp[WASM_OP_RETURN_CALL_REF])
				read = op[1];
			else if ((int32_t)op[0] == disp[WASM_OP_CALL_INDIRECT] ||
				 (int32_t)op[0] == disp[WASM_OP_RETURN_CALL_INDIRECT])
				read = op[3];
			if (read != UINT32_MAX && read + 1 > top)
				top = read + 1;
		}
	}
	for (uint32_t k = top; k < code->frame_slots; k++)
		fp[k] = 0;
}

/* Whether a value of type t fills the low half of its slot only (i32, f32). */
static bool narrow_vt(wasm_vt t)
{
	return t == WASM_I32 || t == WASM_F32;
}

/* Zeroes the upper halves of the slots of f's frame at fp standing where stp says (stand_at)
 * that hold an i32 or f32: the interpreter writes their low halves only, so the upper
 * ones may hold an older value's bits, which a snapshot's bytes must not depend on. The
 * locals, the operand entries of the point's map and, for the innermost frame at or
 * after a call, the arguments or results by type (and a call_indirect's element index). */
static void zero_upper(const struct wasm_func *f, const struct stand *stp, uint64_t *fp)
{
	const struct wasm_code *code = f->code;
	const struct wasm_safepoint *sp;
	const struct stand st = *stp;
	uint32_t off = 0;

	for (uint32_t i = 0; i < code->nnarrow_locals; i++)
		fp[code->gc_slots[code->ngc_locals + code->nfn_locals + i]] &= UINT32_MAX;
	sp = st.at_loop ? st.loop : find_map(code->safepoints, code->nsafepoints, st.key);
	for (uint32_t i = 0; sp && i < sp->nnarrow; i++)
		fp[code->gc_slots[sp->first + sp->n + sp->nfn + sp->ndead + i]] &= UINT32_MAX;
	if (!st.t)
		return;
	for (uint32_t i = 0; i < (st.params ? st.t->pub.nparams : st.t->pub.nresults); i++) {
		wasm_vt t = st.params	     ? wasm_gc_param_type(st.t, i)
			    : st.t->vresults ? st.t->vresults[i]
					     : (wasm_vt)st.t->pub.results[i];
		if (narrow_vt(t))
			fp[st.base + off] &= UINT32_MAX;
		off += wasm_type_slots(t);
	}
	if (st.params) {
		const int32_t *disp = wasm_exec_dispatch();
		const uint32_t *op = code->ops + st.pc;
		if ((int32_t)op[0] == disp[WASM_OP_CALL_INDIRECT] ||
		    (int32_t)op[0] == disp[WASM_OP_RETURN_CALL_INDIRECT])
			fp[op[3]] &= UINT32_MAX; /* read as an i32 */
	}
}

struct slot_out {
	struct heap_out *h;
	uint64_t *slots; /* the value slots, references encoded in place */
	uint8_t *done;	 /* by slot: encoded already */
	uint64_t fp, top;
};

static int slot_out_cb(void *ctx, uint32_t slot, wasm_vt t, const struct wasm_module *m)
{
	struct slot_out *o = ctx;
	uint64_t at = o->fp + slot;
	char where[48];

	if (at >= o->top)
		return fail(o->h->err, o->h->errlen, -ENOTSUP,
			    "a stack map names slot %llu past the stack's top",
			    (unsigned long long)at);
	if (o->done[at])
		return 0;
	o->done[at] = 1;
	snprintf(where, sizeof(where), "value slot %llu", (unsigned long long)at);
	return put_ref(o->h, wasm_vt_rep(m, t), o->slots[at], &o->slots[at], where);
}

static int save_state(struct wasm_store *s, struct wasm_instance *inst, struct sbuf *b, char *err,
		      size_t errlen)
{
	const struct wasm_module *m = inst->mod;
	const struct wasm_resume *at = &s->at;
	struct heap_out h;
	struct slot_out so = {0};
	struct sbuf rest = {0};
	char where[64];
	uint64_t v;
	uint32_t idx;
	size_t top;
	int rc;

	rc = heap_out_init(&h, s, inst, err, errlen);
	if (rc)
		return rc;
	sbuf_put_u64(&rest, s->lim.fuel);
	sbuf_put_u64(&rest, s->lim.fuel ? s->fuel - (at->ticked ? 1 : 0) : 0);
	sbuf_put_u32(&rest, m->nmems);
	for (uint32_t i = 0; i < m->nmems; i++)
		sbuf_put_u32(&rest, inst->mems[i]->pages);
	sbuf_put_u32(&rest, m->ntables);
	for (uint32_t i = 0; i < m->ntables && !rc; i++) {
		const struct wasm_table *t = inst->tables[i];
		snprintf(where, sizeof(where), "table %u", i);
		sbuf_put_u32(&rest, t->size);
		for (uint32_t k = 0; k < t->size && !rc; k++) {
			rc = put_ref(&h, t->elem, t->elems[k], &v, where);
			sbuf_put_u64(&rest, v);
		}
	}
	if (!rc)
		sbuf_put_u32(&rest, m->nglobals);
	for (uint32_t i = 0; i < m->nglobals && !rc; i++) {
		const struct wasm_global *g = inst->globals[i];
		uint64_t v0 = g->v[0].i64, v1 = g->v[1].i64;
		snprintf(where, sizeof(where), "global %u", i);
		if (wasm_is_reftype(g->type))
			rc = put_ref(&h, g->type, v0, &v0, where);
		sbuf_put_u8(&rest, g->type);
		sbuf_put_u64(&rest, v0);
		sbuf_put_u64(&rest, v1);
	}
	if (!rc)
		sbuf_put_u32(&rest, m->nelems);
	for (uint32_t i = 0; i < m->nelems && !rc; i++) {
		bool dropped = inst->elem_len[i] == 0 && m->elems[i].n != 0;
		sbuf_put_u8(&rest, dropped);
		/* a segment of objects (made by its constant expressions): their identity */
		if (dropped || !inst->elem_len[i] || !inst->elem_items || !inst->elem_items[i] ||
		    wasm_vt_rep(m, m->elems[i].type) == WASM_FUNCREF)
			continue;
		snprintf(where, sizeof(where), "element segment %u", i);
		sbuf_put_u32(&rest, inst->elem_len[i]);
		for (uint32_t k = 0; k < inst->elem_len[i] && !rc; k++) {
			rc = put_ref(&h, wasm_vt_rep(m, m->elems[i].type), inst->elem_items[i][k],
				     &v, where);
			sbuf_put_u64(&rest, v);
		}
	}
	if (rc)
		goto out;
	sbuf_put_u32(&rest, m->ndatas);
	for (uint32_t i = 0; i < m->ndatas; i++)
		sbuf_put_u8(&rest, inst->data_len[i] == 0 && m->datas[i].len != 0);
	/* the frames, outermost first, then where the innermost stands */
	sbuf_put_u32(&rest, (uint32_t)at->nframes);
	for (size_t i = 0; i < at->nframes; i++) {
		const struct wasm_frame *f = &s->frames[i];
		if (func_index(inst, f->func, &idx)) {
			rc = fail(err, errlen, -ENOTSUP, "frame %zu is not this instance's", i);
			goto out;
		}
		sbuf_put_u32(&rest, idx);
		sbuf_put_u32(&rest, (uint32_t)(f->pc - f->func->code->ops));
		sbuf_put_u64(&rest, (uint64_t)(f->fp - s->stack));
	}
	if (func_index(inst, at->fn, &idx)) {
		rc = fail(err, errlen, -ENOTSUP, "the running function is not this instance's");
		goto out;
	}
	sbuf_put_u32(&rest, idx);
	sbuf_put_u32(&rest, (uint32_t)(at->pc - at->fn->code->ops));
	sbuf_put_u64(&rest, (uint64_t)(at->fp - s->stack));
	top = (size_t)(at->fp - s->stack) + at->fn->code->frame_slots;
	/* the value slots, each that a frame's stack map names as a reference by id */
	so.h = &h;
	so.top = top;
	so.slots = core_alloc((top + 1) * sizeof(*so.slots));
	so.done = core_calloc(top + 1, 1);
	if (!so.slots || !so.done) {
		rc = fail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < top; i++)
		so.slots[i] = s->stack[i].i64;
	/* slots holding nothing live are saved as zero (never a stale host address) */
	for (size_t i = 0; i <= at->nframes; i++) {
		bool inner = i == at->nframes;
		const struct wasm_func *f = inner ? at->fn : s->frames[i].func;
		const uint32_t *pc = inner ? at->pc : s->frames[i].pc;
		uint64_t *fp = so.slots + ((inner ? at->fp : s->frames[i].fp) - s->stack);
		struct stand st;
		stand_at(f, (uint32_t)(pc - f->code->ops), inner, &st);
		zero_dead(f, &st, inner, fp);
		zero_upper(f, &st, fp);
	}
	for (size_t i = 0; i <= at->nframes && !rc; i++) {
		bool inner = i == at->nframes;
		const struct wasm_func *f = inner ? at->fn : s->frames[i].func;
		const uint32_t *pc = inner ? at->pc : s->frames[i].pc;
		so.fp = (uint64_t)((inner ? at->fp : s->frames[i].fp) - s->stack);
		rc = ref_slots(f, (uint32_t)(pc - f->code->ops), inner, slot_out_cb, &so);
		if (rc > 0)
			rc = fail(err, errlen, -ENOTSUP,
				  "frame %zu stands at a call whose type is not known", i);
	}
	if (rc)
		goto out;
	sbuf_put_u64(&rest, top);
	for (size_t i = 0; i < top; i++)
		sbuf_put_u64(&rest, so.slots[i]);
	/* the heap first (a restore allocates it before anything refers to it) */
	sbuf_put_u32(b, STATE_VERSION);
	{
		struct sbuf heap = {0};
		rc = put_heap(&h, &heap);
		if (!rc) {
			sbuf_put_u32(b, (uint32_t)h.n);
			sbuf_put(b, heap.data, heap.len);
			sbuf_put(b, rest.data, rest.len);
		}
		sbuf_fini(&heap);
	}
	if (!rc && (b->err || rest.err))
		rc = fail(err, errlen, -ENOMEM, "out of memory");
out:
	core_free(so.slots);
	core_free(so.done);
	sbuf_fini(&rest);
	heap_out_fini(&h);
	return rc;
}

static int save(struct wasm_store *s, struct wasm_instance *inst, const struct wasi *w,
		const uint8_t *module, size_t len, const char *name, const char *path, bool ram,
		char *err, size_t errlen)
{
	const struct wasm_module *m = inst->mod;
	struct sbuf mod = {0}, state = {0}, wasi = {0};
	struct snap_writer *wr = NULL;
	size_t nlen = strlen(name);
	int rc;

	if (!wasm_snapshot_ready(s))
		return fail(err, errlen, -EBUSY,
			    "the program is not parked where it can be saved (pause it first)");
	if (s->exn)
		return fail(err, errlen, -ENOTSUP,
			    "an exception is in flight: its state cannot be saved");
	if (m->nimports != m->nfunc_imports)
		return fail(err, errlen, -ENOTSUP,
			    "the module imports a memory, table or global: not supported");
	if (nlen > NAME_MAX_LEN)
		nlen = NAME_MAX_LEN;
	sbuf_put_u32(&mod, MODULE_VERSION);
	sbuf_put_u32(&mod, (uint32_t)nlen);
	sbuf_put(&mod, name, nlen);
	sbuf_put_u64(&mod, s->lim.max_memory);
	sbuf_put_u64(&mod, s->lim.stack_size);
	sbuf_put_u64(&mod, len);
	sbuf_put(&mod, module, len);
	rc = mod.err ? fail(err, errlen, mod.err, "out of memory") : 0;
	if (!rc)
		rc = save_state(s, inst, &state, err, errlen);
	if (!rc)
		rc = wasi_save(w, &wasi, err, errlen);
	if (!rc) {
		rc = snap_writer_open(path, &wr);
		if (rc)
			fail(err, errlen, rc, "%s: %s", path, snap_path_error(rc));
	}
	if (!rc)
		rc = snap_write_section(wr, WASM_SNAP_SEC_MODULE, mod.data, mod.len);
	if (!rc)
		rc = snap_write_section(wr, WASM_SNAP_SEC_STATE, state.data, state.len);
	if (!rc)
		rc = snap_write_section(wr, WASM_SNAP_SEC_WASI, wasi.data, wasi.len);
	if (!rc && ram && inst->mem0 && inst->mem0->size)
		rc = snap_write_ram(wr, inst->mem0->base, 0, inst->mem0->size, SNAP_RAM_ZSTD);
	if (wr) {
		if (rc) {
			snap_writer_abort(wr);
			if (!err[0])
				fail(err, errlen, rc, "%s: %s", path, strerror(-rc));
		} else {
			rc = snap_writer_commit(wr);
			if (rc)
				fail(err, errlen, rc, "%s: %s", path, strerror(-rc));
		}
	}
	sbuf_fini(&mod);
	sbuf_fini(&state);
	sbuf_fini(&wasi);
	return rc;
}

int wasm_snapshot_save(struct wasm_store *s, struct wasm_instance *inst, const struct wasi *w,
		       const uint8_t *module, size_t len, const char *name, const char *path,
		       char *err, size_t errlen)
{
	return save(s, inst, w, module, len, name, path, true, err, errlen);
}

int wasm_snapshot_save_state(struct wasm_store *s, struct wasm_instance *inst, const struct wasi *w,
			     const uint8_t *module, size_t len, const char *name, const char *path,
			     char *err, size_t errlen)
{
	return save(s, inst, w, module, len, name, path, false, err, errlen);
}

/* ----- restoring ----- */

static void priv_free(struct priv *p)
{
	if (!p)
		return;
	snap_reader_close(p->r);
	core_free(p->state);
	core_free(p->wasi);
	core_free(p);
}

void wasm_snapshot_close(struct wasm_snapshot *snap)
{
	if (!snap)
		return;
	wasi_destroy(snap->wasi);
	wasm_store_destroy(snap->store);
	wasm_module_destroy(snap->mod);
	core_free(snap->module);
	core_free(snap->name);
	priv_free(snap->priv);
	core_free(snap);
}

static int open_sections(struct wasm_snapshot *snap, struct priv *p, const char *path, uint64_t cap,
			 char *err, size_t errlen)
{
	const struct snap_section *sec;
	const struct snap_section *want[3] = {NULL, NULL, NULL};
	uint8_t *mod = NULL;
	unsigned n;
	int rc;

	rc = snap_reader_open(path, &p->r, err, errlen);
	if (rc)
		return rc;
	sec = snap_sections(p->r, &n);
	_Static_assert(WASM_SNAP_SEC_MODULE == SNAP_WASM_SEC_MODULE, "one number for MODULE");
	if (n && sec[0].type == SNAP_SEC_MACHINE)
		return fail(err, errlen, -EINVAL,
			    "a system VM's snapshot, not a WebAssembly program's: restore it with "
			    "lodge run --restore");
	/* MODULE, STATE, WASI, then RAM or nothing */
	if (n < 3 || n > 4 || sec[0].type != WASM_SNAP_SEC_MODULE ||
	    sec[1].type != WASM_SNAP_SEC_STATE || sec[2].type != WASM_SNAP_SEC_WASI ||
	    (n == 4 && sec[3].type != SNAP_SEC_RAM))
		return fail(err, errlen, -EINVAL,
			    "corrupt: not a WebAssembly snapshot (its sections are not "
			    "MODULE, STATE, WASI[, RAM])");
	for (unsigned i = 0; i < 3; i++)
		want[i] = &sec[i];
	p->ram = n == 4 ? &sec[3] : NULL;
	rc = snap_read_section(p->r, want[0], &mod, err, errlen);
	if (!rc)
		rc = snap_read_section(p->r, want[1], &p->state, err, errlen);
	if (!rc)
		rc = snap_read_section(p->r, want[2], &p->wasi, err, errlen);
	if (rc) {
		core_free(mod);
		return rc;
	}
	p->state_len = (size_t)want[1]->len;
	p->wasi_len = (size_t)want[2]->len;
	{
		struct sreader r;
		struct wasm_limits lim = {0};
		uint32_t nlen;
		uint64_t len;
		struct wasm_error werr;

		sreader_init(&r, mod, (size_t)want[0]->len);
		if (sread_u32(&r) != MODULE_VERSION) {
			core_free(mod);
			return fail(err, errlen, -EINVAL,
				    "corrupt: unknown WebAssembly module record version");
		}
		nlen = sread_u32(&r);
		if (r.err || nlen > NAME_MAX_LEN || nlen > r.len - r.off) {
			core_free(mod);
			return fail(err, errlen, -EINVAL, "corrupt: a bad module name");
		}
		snap->name = core_alloc(nlen + 1u);
		if (!snap->name) {
			core_free(mod);
			return -ENOMEM;
		}
		sread(&r, snap->name, nlen);
		snap->name[nlen] = 0;
		/* shown in messages: printable ASCII only */
		for (uint32_t i = 0; i < nlen; i++)
			if (snap->name[i] < 0x20 || snap->name[i] > 0x7e)
				snap->name[i] = '?';
		lim.max_memory = sread_u64(&r);
		lim.stack_size = sread_u64(&r);
		len = sread_u64(&r);
		if (r.err || len != r.len - r.off || lim.stack_size > (1ull << 30)) {
			core_free(mod);
			return fail(err, errlen, -EINVAL, "corrupt: a bad module record");
		}
		snap->module = core_alloc(len ? (size_t)len : 1);
		if (!snap->module) {
			core_free(mod);
			return -ENOMEM;
		}
		sread(&r, snap->module, (size_t)len);
		snap->module_len = (size_t)len;
		core_free(mod);
		rc = wasm_module_load(snap->module, snap->module_len, &snap->mod, &werr);
		if (rc) {
			char msg[400];
			wasm_error_format(&werr, msg, sizeof(msg));
			return fail(err, errlen, -EINVAL, "corrupt: its module does not load: %s",
				    msg);
		}
		if (snap->mod->nimports != snap->mod->nfunc_imports || snap->mod->nmems > 1)
			return fail(err, errlen, -EINVAL,
				    "corrupt: its module is of a kind Lodge does not save");
		/* the destination's cap lowers the saved budget (0: the default 4 GiB) */
		if (cap && (!lim.max_memory || lim.max_memory > cap))
			lim.max_memory = cap;
		/* the fuel limit comes with the state; the store's other limits now */
		rc = wasm_store_create(&lim, &snap->store);
		if (rc)
			return fail(err, errlen, rc, "cannot create the store: %s",
				    rc == -E2BIG ? "its stack does not fit in its memory budget"
						 : strerror(-rc));
	}
	return 0;
}

int wasm_snapshot_open(const char *path, uint64_t cap, struct wasm_snapshot **out, char *err,
		       size_t errlen)
{
	struct wasm_snapshot *snap = core_calloc(1, sizeof(*snap));
	struct priv *p = core_calloc(1, sizeof(*p));
	int rc;

	if (!snap || !p) {
		core_free(snap);
		core_free(p);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	snap->priv = p;
	rc = open_sections(snap, p, path, cap, err, errlen);
	if (rc) {
		if (rc == -ENOMEM && !err[0])
			fail(err, errlen, rc, "out of memory");
		wasm_snapshot_close(snap);
		return rc;
	}
	*out = snap;
	return 0;
}

/* Whether a function of type a returns what one of type b does: as many results, each
 * a's a subtype of b's (with typed references, (ref $x) and (ref $y) are different). */
static bool same_results(const struct wasm_ftype *a, const struct wasm_ftype *b)
{
	if (a->pub.nresults != b->pub.nresults)
		return false;
	for (uint32_t i = 0; i < a->pub.nresults; i++) {
		wasm_vt ra = a->vresults ? a->vresults[i] : (wasm_vt)a->pub.results[i];
		wasm_vt rb = b->vresults ? b->vresults[i] : (wasm_vt)b->pub.results[i];
		if (!wasm_vt_sub(a->mod, ra, b->mod, rb))
			return false;
	}
	return true;
}

/* Whether the frame above a call of `called` may run `callee`: it is that function, or
 * one it reached by tail calls (return_call), which ran in its frame and returns what it
 * would have: the same result types. A host function makes no tail calls. */
static bool runs_in_frame(const struct wasm_func *called, const struct wasm_func *callee)
{
	return called == callee || (called->code && same_results(callee->type, called->type));
}

/* The op at pc of f's code is a call op: its length, the callee's frame base operand and
 * whether fn may be its callee (for the frame above). 0: not a call op. */
static uint32_t call_at(const struct wasm_func *f, uint32_t pc, const struct wasm_func *callee,
			uint32_t *base)
{
	const struct wasm_code *code = f->code;
	const int32_t *disp = wasm_exec_dispatch();
	const struct wasm_instance *inst = f->inst;
	const uint32_t *op = code->ops + pc;
	uint32_t left = code->nops - pc;

	if (pc >= code->nops)
		return 0;
	if ((int32_t)op[0] == disp[WASM_OP_CALL] && left >= 3) {
		if (op[1] >= inst->mod->nfuncs || !runs_in_frame(inst->funcs[op[1]], callee))
			return 0;
		*base = op[2];
		return 3;
	}
	if ((int32_t)op[0] == disp[WASM_OP_CALL_REF] && left >= 3) {
		/* the reference called was of the op's type: a function of a subtype */
		const struct wasm_ftype *t = call_ref_type(f, pc);
		if (!t || !same_results(callee->type, t))
			return 0;
		*base = op[2];
		return 3;
	}
	if ((int32_t)op[0] == disp[WASM_OP_CALL_LOCAL] && left >= 5) {
		if (op[3] >= inst->mod->nfuncs - inst->mod->nfunc_imports ||
		    !runs_in_frame(&inst->own_funcs[op[3]], callee))
			return 0;
		*base = op[4];
		return 5;
	}
	if ((int32_t)op[0] == disp[WASM_OP_CALL_INDIRECT] && left >= 5) {
		if (op[1] >= inst->mod->ntypes ||
		    !same_results(callee->type, &inst->mod->types[op[1]]))
			return 0;
		*base = op[4];
		return 5;
	}
	return 0;
}

/* The length of the call op (tail: the tail call op) at pc of f's code (0: none there). */
static uint32_t op_len(const struct wasm_func *f, uint32_t pc, bool tail)
{
	const int32_t *disp = wasm_exec_dispatch();
	int32_t w;

	if (pc >= f->code->nops)
		return 0;
	w = (int32_t)f->code->ops[pc];
	if (w == disp[tail ? WASM_OP_RETURN_CALL : WASM_OP_CALL] ||
	    w == disp[tail ? WASM_OP_RETURN_CALL_REF : WASM_OP_CALL_REF])
		return 3;
	if (w == disp[tail ? WASM_OP_RETURN_CALL_INDIRECT : WASM_OP_CALL_INDIRECT] ||
	    (!tail && w == disp[WASM_OP_CALL_LOCAL]))
		return 5;
	return 0;
}

static uint32_t call_len(const struct wasm_func *f, uint32_t pc)
{
	return op_len(f, pc, false);
}

static uint32_t tail_len(const struct wasm_func *f, uint32_t pc)
{
	return op_len(f, pc, true);
}

/* Whether pc is one of f's recorded points: a loop's start (loop_ok), or the start of
 * (call_ok) or the return from (ret_ok) a call op, or the start of a tail call op
 * (call_ok: nothing returns from one); the call op's start in *call. */
static bool point_ok(const struct wasm_func *f, uint32_t pc, bool loop_ok, bool call_ok,
		     bool ret_ok, uint32_t *call)
{
	const struct wasm_code *code = f->code;

	if (pc >= code->nops)
		return false;
	for (uint32_t i = 0; i < code->npoints; i++) {
		uint32_t at = code->points[i] >> 1, len;
		bool is_call = code->points[i] & 1;
		if (!is_call && loop_ok && at == pc)
			return true;
		if (is_call && call_ok && at == pc && tail_len(f, at)) {
			*call = at;
			return true;
		}
		if (!is_call || !(len = call_len(f, at)))
			continue;
		if ((call_ok && at == pc) || (ret_ok && at + len == pc)) {
			*call = at;
			return true;
		}
	}
	return false;
}

static struct wasm_func *own_func(struct wasm_instance *inst, uint32_t idx)
{
	const struct wasm_module *m = inst->mod;

	if (idx < m->nfunc_imports || idx >= m->nfuncs)
		return NULL;
	return &inst->own_funcs[idx - m->nfunc_imports];
}

/* Restoring: every object and exception is allocated first (pass 1), then filled (pass 2),
 * so records may refer to any id, cycles included. */
struct heap_in {
	struct wasm_store *s;
	const struct wasm_instance *inst;
	uint64_t *addrs; /* by id */
	uint8_t *kind;	 /* by id: HEAP_* */
	size_t *at;	 /* by id: where its values start in the state */
	uint32_t n;
	char *err;
	size_t errlen;
};

static void heap_in_fini(struct heap_in *h)
{
	core_free(h->addrs);
	core_free(h->kind);
	core_free(h->at);
}

#define HBAD(h, ...) fail((h)->err, (h)->errlen, -EINVAL, "corrupt: " __VA_ARGS__)

/* The bytes of element type t's values in an array. */
static uint32_t elem_size(wasm_vt t)
{
	switch (t) {
	case WASM_PACK_I8:
		return 1;
	case WASM_PACK_I16:
		return 2;
	case WASM_I32:
	case WASM_F32:
		return 4;
	case WASM_V128:
		return 16;
	default:
		return 8;
	}
}

static bool is_ref_vt(wasm_vt t)
{
	return t != WASM_PACK_I8 && t != WASM_PACK_I16 && wasm_vt_is_ref(t);
}

/* Whether function idx of inst (defined or imported) is a value of type want of module m:
 * its type as the module declares it (an import's as imported) a subtype of want's. */
static bool func_fits(const struct wasm_instance *inst, uint32_t idx, const struct wasm_module *m,
		      wasm_vt want)
{
	const struct wasm_module *im = inst->mod;

	return idx < im->nfuncs && wasm_vt_sub(im, wasm_vt_idx(im->func_type[idx], false), m, want);
}

/* Saved reference r (REF_ID) as a value of type want of module m (null allowed where
 * null_ok, else as want says): 0, or a refusal naming where. */
static int get_ref(struct heap_in *h, uint64_t r, const struct wasm_module *m, wasm_vt want,
		   bool null_ok, uint64_t *out, const char *where)
{
	uint8_t rep = wasm_vt_rep(m, want);
	uint64_t v;

	*out = 0;
	if (!r) {
		if (!null_ok && !wasm_vt_nullable(want))
			return HBAD(h, "%s: a null of a non-null type", where);
		return 0;
	}
	if (rep == WASM_FUNCREF) {
		if (r > h->inst->mod->nfuncs)
			return HBAD(h, "%s: function reference %llu", where, (unsigned long long)r);
		v = (uint64_t)(uintptr_t)h->inst->funcs[r - 1];
		if (!func_fits(h->inst, (uint32_t)(r - 1), m, want))
			return HBAD(h, "%s: a function of another type", where);
		*out = v;
		return 0;
	}
	if (r & 1) {
		if (rep != WASM_ANYREF || r >> 32 || !wasm_gc_ref_test(m, r, want))
			return HBAD(h, "%s: an i31 where its type holds none", where);
		*out = r;
		return 0;
	}
	if ((r & 3) || (r >> 2) - 1 >= h->n)
		return HBAD(h, "%s: reference %llu (the heap has %u objects)", where,
			    (unsigned long long)r, h->n);
	v = h->addrs[(r >> 2) - 1];
	switch (h->kind[(r >> 2) - 1]) {
	case HEAP_EXN:
		if (rep != WASM_EXNREF || wasm_vt_code(want) == WASM_HT_NOEXN)
			return HBAD(h, "%s: an exception where its type holds none", where);
		break;
	case HEAP_I31:
		if (rep != WASM_EXTERNREF || wasm_vt_code(want) == WASM_HT_NOEXTERN)
			return HBAD(h, "%s: a boxed i31 where its type holds none", where);
		break;
	default:
		if ((rep != WASM_ANYREF && rep != WASM_EXTERNREF) ||
		    wasm_vt_code(want) == WASM_HT_NOEXTERN ||
		    (rep == WASM_ANYREF && !wasm_gc_ref_test(m, v, want)))
			return HBAD(h, "%s: an object of another type", where);
		break;
	}
	*out = v;
	return 0;
}

/* A value of type t (of module m) to p[0..] from the state. */
static int get_value(struct heap_in *h, struct sreader *r, const struct wasm_module *m, wasm_vt t,
		     uint64_t *p, const char *where)
{
	uint64_t v;

	if (is_ref_vt(t))
		return get_ref(h, sread_u64(r), m, t, false, p, where);
	v = sread_u64(r);
	if ((t == WASM_PACK_I8 && v > 0xff) || (t == WASM_PACK_I16 && v > 0xffff) ||
	    ((t == WASM_I32 || t == WASM_F32) && v > 0xffffffffu))
		return HBAD(h, "%s: a value wider than its field", where);
	p[0] = v;
	if (t == WASM_V128)
		p[1] = sread_u64(r);
	return 0;
}

static uint32_t struct_bytes(const struct wasm_ftype *t)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < t->nfields; i++)
		n += wasm_type_slots(t->fields[i]) * 8;
	return n;
}

/* Pass 1: reads the records' heads, allocates each, and steps over its values. */
static int heap_alloc(struct heap_in *h, struct sreader *r)
{
	struct wasm_store *s = h->s;
	const struct wasm_module *m = h->inst->mod;
	uint64_t out;
	int rc = 0;

	h->n = sread_u32(r);
	/* a record is at least 9 bytes */
	if (r->err || h->n > (r->len - r->off) / 9)
		return HBAD(h, "%u GC objects", h->n);
	h->addrs = core_alloc(((size_t)h->n + 1) * sizeof(*h->addrs));
	h->kind = core_alloc((size_t)h->n + 1);
	h->at = core_alloc(((size_t)h->n + 1) * sizeof(*h->at));
	if (!h->addrs || !h->kind || !h->at)
		return fail(h->err, h->errlen, -ENOMEM, "out of memory");
	for (uint32_t id = 0; id < h->n; id++) {
		uint8_t kind = sread_u8(r);
		uint32_t ti = 0, len = 0;
		uint64_t bytes;
		const struct wasm_ftype *t = NULL;
		enum wasm_trap trap = WASM_TRAP_NONE;

		if (kind == HEAP_STRUCT || kind == HEAP_ARRAY) {
			ti = sread_u32(r);
			if (r->err || ti >= m->ntypes ||
			    m->types[ti].comp !=
				    (kind == HEAP_STRUCT ? WASM_COMP_STRUCT : WASM_COMP_ARRAY))
				return HBAD(h, "GC object %u: type %u", id, ti);
			t = &m->types[ti];
		}
		switch (kind) {
		case HEAP_STRUCT:
			bytes = struct_bytes(t);
			break;
		case HEAP_ARRAY:
			len = sread_u32(r);
			bytes = (uint64_t)len *
				(is_ref_vt(t->fields[0]) ? 8 : elem_size(t->fields[0]));
			break;
		case HEAP_I31:
			bytes = 8;
			break;
		case HEAP_EXN:
			ti = sread_u32(r);
			if (r->err || ti >= m->ntags)
				return HBAD(h, "GC object %u: tag %u", id, ti);
			bytes = (uint64_t)h->inst->tags[ti]->type->param_slots * 8;
			break;
		default:
			return HBAD(h, "GC object %u of kind %u", id, kind);
		}
		if (r->err || bytes > r->len - r->off)
			return HBAD(h, "GC object %u: its values are cut short", id);
		h->kind[id] = kind;
		h->at[id] = r->off;
		r->off += (size_t)bytes;
		switch (kind) {
		case HEAP_STRUCT:
			trap = wasm_gc_struct_new(s, NULL, t, NULL, &out);
			break;
		case HEAP_ARRAY:
			trap = wasm_gc_array_new(s, NULL, t, len, NULL, false, &out);
			break;
		case HEAP_I31:
			/* its value comes in pass 2 (any odd word boxes) */
			trap = wasm_gc_externalize(s, NULL, 1, &out);
			break;
		default: {
			struct wasm_exn *x;
			rc = wasm_exn_new(s, h->inst->tags[ti], &x);
			out = (uint64_t)(uintptr_t)x;
			break;
		}
		}
		if (trap || rc)
			return fail(h->err, h->errlen, rc == -ENOMEM ? -ENOMEM : -E2BIG,
				    "GC object %u (of %u) does not fit in the memory budget "
				    "(--max-memory)",
				    id, h->n);
		h->addrs[id] = out;
	}
	return 0;
}

/* Pass 2: fills every object's fields and every exception's values. */
static int heap_fill(struct heap_in *h, const uint8_t *state, size_t len)
{
	const struct wasm_module *m = h->inst->mod;
	char where[48];
	int rc;

	for (uint32_t id = 0; id < h->n; id++) {
		struct sreader r;
		sreader_init(&r, state, len);
		r.off = h->at[id];
		snprintf(where, sizeof(where), "GC object %u", id);
		if (h->kind[id] == HEAP_EXN) {
			struct wasm_exn *x = (struct wasm_exn *)(uintptr_t)h->addrs[id];
			const struct wasm_ftype *t = x->tag->type;
			uint32_t off = 0;
			for (uint32_t i = 0; i < t->pub.nparams; i++) {
				wasm_vt pt = wasm_gc_param_type(t, i);
				/* a number as thrown (an i32's slot may hold more bits) */
				if (is_ref_vt(pt)) {
					rc = get_ref(h, sread_u64(&r), t->mod, pt, false,
						     &x->vals[off].i64, where);
					if (rc)
						return rc;
				} else {
					for (uint32_t k = 0; k < wasm_type_slots(pt); k++)
						x->vals[off + k].i64 = sread_u64(&r);
				}
				off += wasm_type_slots(pt);
			}
			continue;
		}
		struct wasm_gcobj *o = (struct wasm_gcobj *)(uintptr_t)h->addrs[id];
		if (h->kind[id] == HEAP_I31) {
			uint64_t v = sread_u64(&r);
			if (!(v & 1) || v >> 32)
				return HBAD(h, "%s: a boxed i31 of 0x%llx", where,
					    (unsigned long long)v);
			o->data[0] = v;
		} else if (h->kind[id] == HEAP_STRUCT) {
			uint32_t off = 0;
			for (uint32_t i = 0; i < o->type->nfields; i++) {
				rc = get_value(h, &r, m, o->type->fields[i], &o->data[off], where);
				if (rc)
					return rc;
				off += wasm_type_slots(o->type->fields[i]);
			}
		} else if (o->refs) {
			for (uint32_t i = 0; i < o->len; i++) {
				rc = get_value(h, &r, m, o->type->fields[0], &o->data[i], where);
				if (rc)
					return rc;
			}
		} else {
			if (o->esize != elem_size(o->type->fields[0]))
				return HBAD(h, "%s: its element size", where);
			sread(&r, o->data, (size_t)o->len * o->esize);
		}
		if (r.err)
			return HBAD(h, "%s: its values are cut short", where);
	}
	return 0;
}

struct slot_in {
	struct heap_in *h;
	union wasm_slot *stack;
	uint8_t *done;
	uint64_t fp, top;
};

static int slot_in_cb(void *ctx, uint32_t slot, wasm_vt t, const struct wasm_module *m)
{
	struct slot_in *si = ctx;
	uint64_t at = si->fp + slot, v;
	uint32_t idx;
	char where[48];
	int rc;

	if (at >= si->top)
		return HBAD(si->h, "a reference slot %llu past the %llu value slots",
			    (unsigned long long)at, (unsigned long long)si->top);
	snprintf(where, sizeof(where), "value slot %llu", (unsigned long long)at);
	if (!si->done[at]) {
		/* a local not set yet may hold null whatever its type */
		rc = get_ref(si->h, si->stack[at].i64, m, t, true, &v, where);
		if (rc)
			return rc;
		si->stack[at].i64 = v;
		si->done[at] = wasm_vt_rep(m, t);
		return 0;
	}
	/* named twice: the value must fit both types */
	if (si->done[at] != wasm_vt_rep(m, t) ||
	    (si->stack[at].i64 && wasm_vt_rep(m, t) == WASM_ANYREF &&
	     !wasm_gc_ref_test(m, si->stack[at].i64, t)) ||
	    (wasm_vt_rep(m, t) == WASM_FUNCREF && si->stack[at].i64 &&
	     (ref_index(si->h->inst, si->stack[at].i64, &idx) ||
	      !func_fits(si->h->inst, idx - 1, m, t))))
		return HBAD(si->h, "%s: a reference of two types", where);
	return 0;
}

static int load_state2(struct wasm_snapshot *snap, struct priv *p, struct heap_in *h, char *err,
		       size_t errlen)
{
	struct wasm_store *s = snap->store;
	struct wasm_instance *inst = snap->inst;
	const struct wasm_module *m = inst->mod;
	struct sreader r;
	uint64_t fuel_lim, fuel;
	uint32_t n, nframes;
	struct wasm_func *prev = NULL;
	uint32_t prev_pc = 0;
	uint64_t prev_fp = 0, top;
	uint32_t version;
	char where[64];
	int rc;

#define BAD(...) fail(err, errlen, -EINVAL, "corrupt: " __VA_ARGS__)
	sreader_init(&r, p->state, p->state_len);
	version = sread_u32(&r);
	if (version != STATE_VERSION && version != 1)
		return BAD("unknown WebAssembly state version %u (this Lodge reads 1 and %u)",
			   version, STATE_VERSION);
	h->s = s;
	h->inst = inst;
	h->err = err;
	h->errlen = errlen;
	if (version >= 2) {
		rc = heap_alloc(h, &r);
		if (!rc)
			rc = heap_fill(h, p->state, p->state_len);
		if (rc)
			return rc;
	}
	fuel_lim = sread_u64(&r);
	fuel = sread_u64(&r);
	if (fuel > fuel_lim || (fuel_lim && !fuel))
		return BAD("fuel %llu of %llu", (unsigned long long)fuel,
			   (unsigned long long)fuel_lim);
	s->lim.fuel = fuel_lim;
	s->fuel = fuel;
	n = sread_u32(&r);
	if (r.err || n != m->nmems)
		return BAD("%u memories, the module has %u", n, m->nmems);
	for (uint32_t i = 0; i < n; i++) {
		struct wasm_memory *mem = inst->mems[i];
		uint32_t pages = sread_u32(&r);
		if (r.err || pages < mem->pages || pages > mem->max_pages)
			return BAD("memory %u of %u pages", i, pages);
		if (pages > mem->pages && wasm_memory_do_grow(mem, pages - mem->pages) < 0)
			return fail(err, errlen, -ENOMEM,
				    "memory %u of %u pages does not fit in the memory budget", i,
				    pages);
	}
	n = sread_u32(&r);
	if (r.err || n != m->ntables)
		return BAD("%u tables, the module has %u", n, m->ntables);
	for (uint32_t i = 0; i < n; i++) {
		struct wasm_table *t = inst->tables[i];
		uint32_t size = sread_u32(&r);
		if (r.err || size < t->size || (t->has_max && size > t->max) ||
		    size > WASM_MAX_TABLE || size > (r.len - r.off) / (version >= 2 ? 8 : 4))
			return BAD("table %u of %u elements", i, size);
		if (size > t->size && wasm_table_do_grow(t, size - t->size, 0) < 0)
			return fail(err, errlen, -ENOMEM,
				    "table %u of %u elements does not fit in the memory budget", i,
				    size);
		for (uint32_t k = 0; version >= 2 && k < size; k++) {
			snprintf(where, sizeof(where), "table %u, element %u", i, k);
			rc = get_ref(h, sread_u64(&r), t->vmod, t->vt, false, &t->elems[k], where);
			if (rc)
				return rc;
		}
		for (uint32_t k = 0; version < 2 && k < size; k++) {
			uint32_t v = sread_u32(&r);
			if (r.err || v > m->nfuncs || (v && t->elem != WASM_FUNCREF))
				return BAD("table %u, element %u: reference %u", i, k, v);
			t->elems[k] = v ? (uint64_t)(uintptr_t)inst->funcs[v - 1] : 0;
			/* 3.0: a typed table holds only values of its type */
			if (!wasm_ref_fits(t->elems[k], t->vmod, t->vt))
				return BAD("table %u, element %u: reference %u of another type", i,
					   k, v);
		}
	}
	n = sread_u32(&r);
	if (r.err || n != m->nglobals)
		return BAD("%u globals, the module has %u", n, m->nglobals);
	for (uint32_t i = 0; i < n; i++) {
		struct wasm_global *g = inst->globals[i];
		uint8_t type = sread_u8(&r);
		uint64_t v0 = sread_u64(&r), v1 = sread_u64(&r);
		if (r.err || type != g->type)
			return BAD("global %u of type 0x%x", i, type);
		if (wasm_is_reftype(type) && version >= 2) {
			snprintf(where, sizeof(where), "global %u", i);
			if (v1)
				return BAD("global %u: reference %llu", i, (unsigned long long)v0);
			rc = get_ref(h, v0, g->vmod, g->vt, false, &v0, where);
			if (rc)
				return rc;
			/* an immutable one too: the object's identity (its initialiser made
			 * another when instantiating) */
			if (type != WASM_FUNCREF)
				g->v[0].i64 = v0;
		} else if (wasm_is_reftype(type)) {
			if (v0 > m->nfuncs || (v0 && type != WASM_FUNCREF) || v1)
				return BAD("global %u: reference %llu", i, (unsigned long long)v0);
			v0 = v0 ? (uint64_t)(uintptr_t)inst->funcs[v0 - 1] : 0;
			if (g->mut && !wasm_ref_fits(v0, g->vmod, g->vt))
				return BAD("global %u: reference of another type", i);
		}
		if (g->mut) {
			g->v[0].i64 = v0;
			g->v[1].i64 = v1;
		}
	}
	n = sread_u32(&r);
	if (r.err || n != m->nelems)
		return BAD("%u element segments, the module has %u", n, m->nelems);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t dropped = sread_u8(&r);
		if (dropped > 1)
			return BAD("element segment %u", i);
		if (dropped)
			inst->elem_len[i] = 0;
		if (version < 2 || dropped || !inst->elem_len[i] || !inst->elem_items ||
		    !inst->elem_items[i] || wasm_vt_rep(m, m->elems[i].type) == WASM_FUNCREF)
			continue;
		uint32_t items = sread_u32(&r);
		if (r.err || items != inst->elem_len[i])
			return BAD("element segment %u of %u items, the module's has %u", i, items,
				   inst->elem_len[i]);
		snprintf(where, sizeof(where), "element segment %u", i);
		for (uint32_t k = 0; k < items; k++) {
			rc = get_ref(h, sread_u64(&r), m, m->elems[i].type, false,
				     &inst->elem_items[i][k], where);
			if (rc)
				return rc;
		}
	}
	n = sread_u32(&r);
	if (r.err || n != m->ndatas)
		return BAD("%u data segments, the module has %u", n, m->ndatas);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t dropped = sread_u8(&r);
		if (dropped > 1)
			return BAD("data segment %u", i);
		if (dropped)
			inst->data_len[i] = 0;
	}
	/* frames: each must stand just after a call op of its function whose callee is the
	 * next frame's function, and the next frame sits at that call's base */
	nframes = sread_u32(&r);
	if (r.err || nframes >= s->max_frames || nframes > (r.len - r.off) / 16)
		return BAD("%u call frames", nframes);
	for (uint32_t i = 0; i <= nframes; i++) {
		uint32_t fidx = sread_u32(&r), pc = sread_u32(&r), call = 0, base = 0;
		uint64_t fp = sread_u64(&r);
		struct wasm_func *f = own_func(inst, fidx);
		if (r.err || !f)
			return BAD("frame %u: function %u", i, fidx);
		/* a function on the saved stack: compiled in this process now (lazily
		 * compiled functions are compiled at their first call) */
		if (!wasm_code_ready(f->code) && wasm_code_compile(f))
			return fail(err, errlen, -ENOMEM, "out of memory compiling function %u",
				    fidx);
		if (fp > s->stack_slots || f->code->frame_slots > s->stack_slots - fp)
			return BAD("frame %u: slot %llu", i, (unsigned long long)fp);
		if (prev) {
			if (!point_ok(prev, prev_pc, false, false, true, &call) ||
			    !call_at(prev, call, f, &base) || fp != prev_fp + base)
				return BAD("frame %u does not follow from the call before it", i);
		} else if (fp != 0) {
			return BAD("the outermost frame at slot %llu", (unsigned long long)fp);
		}
		if (i < nframes) {
			if (pc >= f->code->nops)
				return BAD("frame %u: pc %u", i, pc);
			s->frames[i] =
				(struct wasm_frame){f->code->ops + pc, s->stack + fp, f, f->inst};
		} else {
			/* where the innermost goes on: a loop's start, a call, after a call */
			if (!point_ok(f, pc, true, true, true, &call))
				return BAD("the running function stands at pc %u", pc);
			p->at = (struct wasm_resume){
				f,    f->code->ops + pc, f->code->ops + pc, s->stack + fp, nframes,
				false};
		}
		prev = f;
		prev_pc = pc;
		prev_fp = fp;
	}
	top = sread_u64(&r);
	if (r.err || top > s->stack_slots || top != (r.len - r.off) / 8 || (r.len - r.off) % 8)
		return BAD("%llu value slots", (unsigned long long)top);
	for (uint64_t i = 0; i < top; i++)
		s->stack[i].i64 = sread_u64(&r);
	memset(s->stack + top, 0, (s->stack_slots - top) * sizeof(*s->stack));
	if (r.err)
		return BAD("the value slots are cut short");
	/* slots holding nothing live: ignored (zero since this Lodge saves them so; a file
	 * of an older one may hold its stale values there) */
	for (uint32_t i = 0; i <= nframes; i++) {
		bool inner = i == nframes;
		const struct wasm_func *f = inner ? p->at.fn : s->frames[i].func;
		const uint32_t *pc = inner ? p->at.pc : s->frames[i].pc;
		struct stand st;
		stand_at(f, (uint32_t)(pc - f->code->ops), inner, &st);
		zero_dead(f, &st, inner, &(inner ? p->at.fp : s->frames[i].fp)->i64);
	}
	/* the slots the frames' stack maps name as references: ids to objects */
	{
		struct slot_in si = {h, s->stack, core_calloc(top + 1, 1), 0, top};
		if (!si.done)
			return fail(err, errlen, -ENOMEM, "out of memory");
		rc = 0;
		for (uint32_t i = 0; i <= nframes && !rc; i++) {
			bool inner = i == nframes;
			const struct wasm_func *f = inner ? p->at.fn : s->frames[i].func;
			const uint32_t *pc = inner ? p->at.pc : s->frames[i].pc;
			si.fp = (uint64_t)((inner ? p->at.fp : s->frames[i].fp) - s->stack);
			rc = ref_slots(f, (uint32_t)(pc - f->code->ops), inner, slot_in_cb, &si);
			if (rc > 0)
				rc = BAD("frame %u stands at a call whose type is not known", i);
		}
		core_free(si.done);
		if (rc)
			return rc;
	}
	return 0;
#undef BAD
}

static int load_state(struct wasm_snapshot *snap, struct priv *p, char *err, size_t errlen)
{
	struct heap_in h = {0};
	int rc = load_state2(snap, p, &h, err, errlen);

	heap_in_fini(&h);
	return rc;
}

int wasm_snapshot_restore(struct wasm_snapshot *snap, const int stdio[3], char *err, size_t errlen)
{
	struct priv *p = snap->priv;
	struct wasm_error werr;
	struct wasm_memory *mem;
	int rc;

	rc = wasi_restore(snap->store, p->wasi, p->wasi_len, stdio, &snap->wasi, err, errlen);
	if (rc)
		return rc;
	snap->store->skip_start = true;
	rc = wasm_instance_create(snap->store, snap->mod, wasi_resolve, snap->wasi, &snap->inst,
				  &werr);
	snap->store->skip_start = false;
	if (rc) {
		char msg[400];
		wasm_error_format(&werr, msg, sizeof(msg));
		return fail(err, errlen, rc, "cannot instantiate the module: %s", msg);
	}
	rc = load_state(snap, p, err, errlen);
	if (rc)
		return rc;
	mem = snap->inst->mem0;
	if (snap->pages) {
		/* a pre-copy migration's: the memory's content came apart from the file */
		uint64_t n = mem ? mem->size / SNAP_PAGE_SIZE : 0;
		if (p->ram)
			return fail(err, errlen, -EINVAL,
				    "corrupt: a migration's state holds the memory too");
		for (uint64_t i = n; i < snap->npages; i++)
			if (snap->present[i / 64] >> (i % 64) & 1)
				return fail(
					err, errlen, -EINVAL,
					"corrupt: page %llu of memory sent, the memory has %llu",
					(unsigned long long)i, (unsigned long long)n);
		/* the pages move into place (page tables, no copy): the collection is one
		 * private anonymous mapping, as the memory is, and pages it never got are
		 * zero there too. MREMAP_DONTUNMAP leaves the collection's range mapped
		 * (empty), so no other thread can map into it before wasm_precopy_in_fini
		 * unmaps the whole room; a kernel without it (before 5.7) copies instead. */
		if (n && mremap(snap->pages, mem->size, mem->size,
				MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
				mem->base) == mem->base)
			return 0;
		if (n && madvise(mem->base, mem->size, MADV_DONTNEED) < 0)
			memset(mem->base, 0, mem->size);
		for (uint64_t i = 0; i < n && i < snap->npages; i++)
			if (snap->present[i / 64] >> (i % 64) & 1)
				memcpy(mem->base + i * SNAP_PAGE_SIZE,
				       snap->pages + i * SNAP_PAGE_SIZE, SNAP_PAGE_SIZE);
		return 0;
	}
	if ((mem && mem->size) != (p->ram != NULL))
		return fail(err, errlen, -EINVAL, "corrupt: memory and RAM section disagree");
	if (p->ram) {
		/* zero (the data segments), without touching the pages: the memory is an
		 * anonymous private mapping (memory.c) */
		if (madvise(mem->base, mem->size, MADV_DONTNEED) < 0)
			memset(mem->base, 0, mem->size);
		rc = snap_read_ram(p->r, p->ram, mem->base, 0, mem->size, false, false, err,
				   errlen);
		if (rc)
			return rc;
	}
	return 0;
}

enum wasm_trap wasm_snapshot_run(struct wasm_snapshot *snap, struct wasm_trap_info *info)
{
	struct wasm_store *s = snap->store;
	struct priv *p = snap->priv;
	enum wasm_trap trap;

	s->trap.trap = WASM_TRAP_NONE;
	s->trap.func = s->trap.offset = -1;
	s->trap.func_name = NULL;
	s->sp = 0;
	s->nframes = 0;
	trap = wasm_exec_resume(s, &p->at);
	if (info) {
		*info = s->trap;
		info->trap = trap;
	}
	return trap;
}
