/*
 * libFuzzer target: instantiate and run, differentially. A module that loads is compiled
 * twice, optimised (superinstructions, peepholes) and plain (WASM_LOAD_PLAIN), and each is
 * instantiated in its own store with small limits (16 MiB of memory, a 256 KiB value
 * stack, fuel); every import is satisfied by a stub of the right type (host functions
 * return zeros; memories, tables and globals are created to match). The optimised code
 * runs a second time in a third store with the JIT tier forced (every function
 * translated at its first call or loop). Then every exported function is called with
 * zero arguments and a fresh fuel budget in all three. Traps are expected outcomes;
 * crashes, hangs, sanitizer reports and any difference between the two builds (trap,
 * results, memory) are bugs, and so is any difference between the interpreter and the
 * JIT running the same code: trap, trap location (function and code offset), results,
 * fuel left, memory, exported globals. White-box: reads import types from internal.h.
 */
#include "wasm/internal.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUEL	  20000
#define MAX_MEM	  (16u << 20)
#define MAX_TABLE 100000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct stubs {
	const struct wasm_module *m;
	struct wasm_store *s;
	uint32_t next; /* index of the import being resolved */
};

static enum wasm_trap stub_fn(struct wasm_host_call *call, uint64_t *slots)
{
	const struct wasm_functype *t = call->user;
	uint32_t n = 0;

	for (uint32_t i = 0; i < t->nresults; i++)
		n += wasm_type_slots(t->results[i]);
	memset(slots, 0, n * sizeof(*slots));
	return WASM_TRAP_NONE;
}

static int stub_import(struct stubs *st, const struct wasm_import *im, struct wasm_extern *out)
{
	const struct wasm_module *m = st->m;

	out->kind = (enum wasm_extern_kind)im->kind;
	switch (im->kind) {
	case WASM_EXTERN_FUNC: {
		const struct wasm_functype *t = &m->types[m->func_type[im->idx]].pub;
		return wasm_func_create_host(st->s, t, stub_fn, (void *)t, &out->u.func);
	}
	case WASM_EXTERN_TABLE: {
		const struct wasm_tabletype *t = &m->tables[im->idx];
		if (t->min > MAX_TABLE)
			return -ENOENT;
		return wasm_table_create(st->s, (enum wasm_valtype)t->elem, t->min, t->max,
					 t->has_max, &out->u.table);
	}
	case WASM_EXTERN_MEMORY: {
		const struct wasm_memtype *t = &m->mems[im->idx];
		return wasm_memory_create(st->s, t->min, t->max, t->has_max, &out->u.memory);
	}
	default: {
		const struct wasm_globaldef *g = &m->globals[im->idx];
		union wasm_value v;
		memset(&v, 0, sizeof(v));
		return wasm_global_create(st->s, (enum wasm_valtype)g->type, g->mut, v,
					  &out->u.global);
	}
	}
}

static int resolve(void *ctx, const char *module, const char *name, enum wasm_extern_kind kind,
		   struct wasm_extern *out)
{
	struct stubs *st = ctx;
	const struct wasm_import *im;

	(void)module, (void)name, (void)kind;
	if (st->next >= st->m->nimports)
		return -ENOENT;
	im = &st->m->imports[st->next++];
	return stub_import(st, im, out) ? -ENOENT : 0;
}

/* One compiled copy of the module, instantiated. */
struct side {
	struct wasm_module *m;
	struct wasm_store *s;
	struct wasm_instance *inst; /* NULL when instantiation failed */
	struct wasm_error err;
	struct stubs st;
};

static void mismatch(const char *what, uint32_t i)
{
	fprintf(stderr, "fuzz_wasm_run: optimised and plain code differ: %s (export %u)\n", what,
		i);
	abort();
}

static void jit_mismatch(const char *what, uint32_t i)
{
	fprintf(stderr, "fuzz_wasm_run: the interpreter and the JIT differ: %s (export %u)\n", what,
		i);
	abort();
}

/* Loads, and when that works instantiates; returns 0 if the module loaded. */
static int side_open(struct side *sd, const uint8_t *data, size_t size, uint32_t flags,
		     uint32_t jit)
{
	struct wasm_limits lim = {.fuel = FUEL, .max_memory = MAX_MEM, .stack_size = 256u << 10};

	memset(sd, 0, sizeof(*sd));
	if (wasm_module_load_flags(data, size, flags, &sd->m, &sd->err))
		return -1;
	if (wasm_store_create(&lim, &sd->s)) {
		wasm_module_destroy(sd->m);
		return -1;
	}
	wasm_store_set_jit(sd->s, jit);
	sd->st.m = sd->m, sd->st.s = sd->s, sd->st.next = 0;
	if (wasm_instance_create(sd->s, sd->m, resolve, &sd->st, &sd->inst, &sd->err))
		sd->inst = NULL;
	return 0;
}

static void side_close(struct side *sd)
{
	wasm_store_destroy(sd->s);
	wasm_module_destroy(sd->m);
}

/* Results agree bit for bit, except that any NaN equals any NaN. */
static bool same_value(uint8_t type, const union wasm_value *a, const union wasm_value *b)
{
	switch (type) {
	case WASM_I32:
		return a->i32 == b->i32;
	case WASM_F32:
		return a->i32 == b->i32 || (isnan(a->f32) && isnan(b->f32));
	case WASM_F64:
		return a->i64 == b->i64 || (isnan(a->f64) && isnan(b->f64));
	case WASM_V128:
		return !memcmp(a->v128, b->v128, 16);
	case WASM_FUNCREF:
	case WASM_EXTERNREF:
		return (a->ext == 0) == (b->ext == 0);
	default:
		return a->i64 == b->i64;
	}
}

static void call_all(struct side *o, struct side *p, struct side *j, uint32_t i)
{
	const struct wasm_export *e = &o->m->exports[i];
	union wasm_value args[64], ro[64], rp[64], rj[64];
	struct wasm_extern xo, xp, xj;
	struct wasm_trap_info io, ij;
	const struct wasm_functype *t;
	enum wasm_trap to, tp, tj;

	if (e->kind != WASM_EXTERN_FUNC ||
	    wasm_instance_export_n(o->inst, e->name, e->namelen, &xo) ||
	    wasm_instance_export_n(p->inst, e->name, e->namelen, &xp) ||
	    wasm_instance_export_n(j->inst, e->name, e->namelen, &xj))
		return;
	t = wasm_func_type(xo.u.func);
	if (t->nparams > 64 || t->nresults > 64)
		return;
	memset(args, 0, sizeof(args));
	memset(ro, 0, sizeof(ro));
	memset(rp, 0, sizeof(rp));
	memset(rj, 0, sizeof(rj));
	wasm_store_set_fuel(o->s, FUEL);
	wasm_store_set_fuel(p->s, FUEL);
	wasm_store_set_fuel(j->s, FUEL);
	to = wasm_call(o->s, xo.u.func, args, ro, &io);
	tp = wasm_call(p->s, xp.u.func, args, rp, NULL);
	tj = wasm_call(j->s, xj.u.func, args, rj, &ij);
	if (to != tp)
		mismatch("trap", i);
	for (uint32_t k = 0; !to && k < t->nresults; k++)
		if (!same_value(t->results[k], &ro[k], &rp[k]))
			mismatch("result", i);
	if (to != tj)
		jit_mismatch("trap", i);
	if (to && to != WASM_TRAP_EXIT && (io.func != ij.func || io.offset != ij.offset))
		jit_mismatch("trap location", i);
	for (uint32_t k = 0; !to && k < t->nresults; k++)
		if (!same_value(t->results[k], &ro[k], &rj[k]))
			jit_mismatch("result", i);
	if (wasm_store_fuel(o->s) != wasm_store_fuel(j->s))
		jit_mismatch("fuel left", i);
}

/* Exported globals hold the same values in both (NaNs alike). */
static void compare_globals(struct side *o, struct side *j)
{
	for (uint32_t i = 0; i < o->m->nexports; i++) {
		const struct wasm_export *e = &o->m->exports[i];
		struct wasm_extern xo, xj;
		union wasm_value vo, vj;
		if (e->kind != WASM_EXTERN_GLOBAL ||
		    wasm_instance_export_n(o->inst, e->name, e->namelen, &xo) ||
		    wasm_instance_export_n(j->inst, e->name, e->namelen, &xj))
			continue;
		vo = wasm_global_get(xo.u.global);
		vj = wasm_global_get(xj.u.global);
		if (!same_value((uint8_t)wasm_global_type(xo.u.global), &vo, &vj))
			jit_mismatch("global", i);
	}
}

static void compare_memory(struct side *o, struct side *p, void (*differ)(const char *, uint32_t))
{
	struct wasm_memory *mo = wasm_instance_memory(o->inst);
	struct wasm_memory *mp = wasm_instance_memory(p->inst);
	uint64_t n;

	if (!mo || !mp)
		return;
	n = wasm_memory_size(mo);
	if (n != wasm_memory_size(mp))
		differ("memory size", 0);
	if (n && memcmp(wasm_memory_range(mo, 0, n), wasm_memory_range(mp, 0, n), n))
		differ("memory contents", 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct side o, p, j;

	if (side_open(&o, data, size, 0, WASM_JIT_OFF))
		return 0;
	if (side_open(&p, data, size, WASM_LOAD_PLAIN, WASM_JIT_OFF)) {
		side_close(&o);
		return 0; /* out of memory in the second copy */
	}
	if (side_open(&j, data, size, 0, 1)) {
		side_close(&p);
		side_close(&o);
		return 0;
	}
	if (!o.inst != !p.inst || (!o.inst && o.err.trap != p.err.trap))
		mismatch("instantiation", 0);
	if (!o.inst != !j.inst || (!o.inst && o.err.trap != j.err.trap))
		jit_mismatch("instantiation", 0);
	if (o.inst) {
		for (uint32_t i = 0; i < o.m->nexports; i++)
			call_all(&o, &p, &j, i);
		compare_memory(&o, &p, mismatch);
		compare_memory(&o, &j, jit_mismatch);
		compare_globals(&o, &j);
	}
	side_close(&j);
	side_close(&p);
	side_close(&o);
	return 0;
}
