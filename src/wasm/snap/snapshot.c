/*
 * Snapshots of a running WebAssembly program (see snapshot.h and docs/SNAPSHOT.md).
 *
 * What makes a point savable: the outermost interpreter run publishes where it stands
 * (s->at: function, pc, frame, frames below) just before a fuel refill or a host call,
 * the only places a pause parks, and with snapshots on (s->snap_points) the store parks
 * nowhere else. Its callers' frames are in s->frames and every value in the slots of
 * s->stack, so the state is saved as indexes: a function by its index in the module, a
 * pc as a word index in its compiled code, a frame by its slot offset. Frame slots hold
 * raw 64-bit values with no type, so a module whose code keeps references in slots
 * (m->ref_values) is refused: a restored reference would be a host pointer taken from
 * the file. So is a store holding GC structs or arrays (in globals, tables, element
 * segments), whose saving is not implemented.
 */
#include "wasm/snapshot.h"

#include "core/alloc.h"
#include "core/sbuf.h"
#include "snapshot/snapshot.h"
#include "wasm/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define STATE_VERSION  1
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

/* A function reference as saved: 0 for null, index + 1 for a function of inst. */
static int ref_index(const struct wasm_instance *inst, uint64_t v, uint32_t *out)
{
	const struct wasm_module *m = inst->mod;

	if (v == 0) {
		*out = 0;
		return 0;
	}
	for (uint32_t i = 0; i < m->nfuncs; i++) {
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

static int save_state(struct wasm_store *s, struct wasm_instance *inst, struct sbuf *b, char *err,
		      size_t errlen)
{
	const struct wasm_module *m = inst->mod;
	const struct wasm_resume *at = &s->at;
	uint32_t idx;
	size_t top;

	sbuf_put_u32(b, STATE_VERSION);
	sbuf_put_u64(b, s->lim.fuel);
	sbuf_put_u64(b, s->lim.fuel ? s->fuel - (at->ticked ? 1 : 0) : 0);
	sbuf_put_u32(b, m->nmems);
	for (uint32_t i = 0; i < m->nmems; i++)
		sbuf_put_u32(b, inst->mems[i]->pages);
	sbuf_put_u32(b, m->ntables);
	for (uint32_t i = 0; i < m->ntables; i++) {
		const struct wasm_table *t = inst->tables[i];
		sbuf_put_u32(b, t->size);
		for (uint32_t k = 0; k < t->size; k++) {
			if (ref_index(inst, t->elems[k], &idx))
				return fail(err, errlen, -ENOTSUP,
					    "table %u holds a reference to a function of "
					    "another instance or a host object",
					    i);
			sbuf_put_u32(b, idx);
		}
	}
	sbuf_put_u32(b, m->nglobals);
	for (uint32_t i = 0; i < m->nglobals; i++) {
		const struct wasm_global *g = inst->globals[i];
		uint64_t v0 = g->v[0].i64, v1 = g->v[1].i64;
		if (wasm_is_reftype(g->type)) {
			if (ref_index(inst, v0, &idx))
				return fail(err, errlen, -ENOTSUP,
					    "global %u holds a reference to a host object", i);
			v0 = idx;
		}
		sbuf_put_u8(b, g->type);
		sbuf_put_u64(b, v0);
		sbuf_put_u64(b, v1);
	}
	sbuf_put_u32(b, m->nelems);
	for (uint32_t i = 0; i < m->nelems; i++)
		sbuf_put_u8(b, inst->elem_len[i] == 0 && m->elems[i].n != 0);
	sbuf_put_u32(b, m->ndatas);
	for (uint32_t i = 0; i < m->ndatas; i++)
		sbuf_put_u8(b, inst->data_len[i] == 0 && m->datas[i].len != 0);
	/* the frames, outermost first, then where the innermost stands */
	sbuf_put_u32(b, (uint32_t)at->nframes);
	for (size_t i = 0; i < at->nframes; i++) {
		const struct wasm_frame *f = &s->frames[i];
		if (func_index(inst, f->func, &idx))
			return fail(err, errlen, -ENOTSUP, "frame %zu is not this instance's", i);
		sbuf_put_u32(b, idx);
		sbuf_put_u32(b, (uint32_t)(f->pc - f->func->code->ops));
		sbuf_put_u64(b, (uint64_t)(f->fp - s->stack));
	}
	if (func_index(inst, at->fn, &idx))
		return fail(err, errlen, -ENOTSUP, "the running function is not this instance's");
	sbuf_put_u32(b, idx);
	sbuf_put_u32(b, (uint32_t)(at->pc - at->fn->code->ops));
	sbuf_put_u64(b, (uint64_t)(at->fp - s->stack));
	top = (size_t)(at->fp - s->stack) + at->fn->code->frame_slots;
	sbuf_put_u64(b, top);
	for (size_t i = 0; i < top; i++)
		sbuf_put_u64(b, s->stack[i].i64);
	if (b->err)
		return fail(err, errlen, b->err, "out of memory");
	return 0;
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
	if (m->ref_values)
		return fail(err, errlen, -ENOTSUP,
			    "the module keeps references in its locals or operands: its state "
			    "cannot be saved without host pointers");
	if (s->exn)
		return fail(err, errlen, -ENOTSUP,
			    "an exception is in flight: its state cannot be saved");
	if (s->gc_n)
		return fail(err, errlen, -ENOTSUP,
			    "the store holds GC struct or array references: saving them is not "
			    "implemented (a program that allocates none can be saved)");
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
			fail(err, errlen, rc, "%s: %s", path, strerror(-rc));
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
		if (snap->mod->ref_values || snap->mod->nimports != snap->mod->nfunc_imports ||
		    snap->mod->nmems > 1)
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

/* Whether a and b have the same result types. */
static bool same_results(const struct wasm_ftype *a, const struct wasm_ftype *b)
{
	if (a->pub.nresults != b->pub.nresults)
		return false;
	for (uint32_t i = 0; i < a->pub.nresults; i++)
		if (a->pub.results[i] != b->pub.results[i])
			return false;
	return true;
}

/* Whether the frame above a call of `called` may run `callee`: it is that function, or
 * one it reached by tail calls (return_call), which ran in its frame and returns what it
 * would have: the same result types. A host function makes no tail calls. */
static bool runs_in_frame(const struct wasm_func *called, const struct wasm_func *callee)
{
	return called == callee || (called->code && same_results(called->type, callee->type));
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

/* The length of the call op at pc of f's code (0: not a call op there). */
static uint32_t call_len(const struct wasm_func *f, uint32_t pc)
{
	const int32_t *disp = wasm_exec_dispatch();
	int32_t w;

	if (pc >= f->code->nops)
		return 0;
	w = (int32_t)f->code->ops[pc];
	if (w == disp[WASM_OP_CALL])
		return 3;
	if (w == disp[WASM_OP_CALL_LOCAL] || w == disp[WASM_OP_CALL_INDIRECT])
		return 5;
	return 0;
}

/* Whether pc is one of f's recorded points: a loop's start (loop_ok), or the start of
 * (call_ok) or the return from (ret_ok) a call op; the call op's start in *call. */
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

static int load_state(struct wasm_snapshot *snap, struct priv *p, char *err, size_t errlen)
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

#define BAD(...) fail(err, errlen, -EINVAL, "corrupt: " __VA_ARGS__)
	sreader_init(&r, p->state, p->state_len);
	if (sread_u32(&r) != STATE_VERSION)
		return BAD("unknown WebAssembly state version");
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
		    size > WASM_MAX_TABLE || size > (r.len - r.off) / 4)
			return BAD("table %u of %u elements", i, size);
		if (size > t->size && wasm_table_do_grow(t, size - t->size, 0) < 0)
			return fail(err, errlen, -ENOMEM,
				    "table %u of %u elements does not fit in the memory budget", i,
				    size);
		for (uint32_t k = 0; k < size; k++) {
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
		if (wasm_is_reftype(type)) {
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
	return r.err ? BAD("the value slots are cut short") : 0;
#undef BAD
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
