/*
 * Function-body validation and compilation in one pass (Wasm core 2.0, 3.3 "Instructions"
 * and the validation algorithm of appendix A.3), producing slot-addressed internal code.
 * This file holds the driver (locals, the instruction loop, the pc map), code emission,
 * and the compile-time operand stack; control flow is in compile_ctrl.c and every other
 * instruction class in compile_ops.c (shared definitions: compile.h).
 *
 * Every operand-stack position has a fixed home slot in the frame (after params and
 * locals), so each op names its operands' slots directly. local.get and constants are
 * deferred: they stay "virtual" on the compile-time stack and consumers read the local's
 * slot or use an immediate-operand variant, so most local.get/const pairs cost nothing.
 * Invariants: at every block, loop, if, else and end, every stack entry is materialised
 * in its home slot; a deferred local is materialised before any write to that local.
 * Control flow never recurses on the host stack (explicit control stack).
 */
#include "wasm/compile.h"

#include "core/alloc.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

const struct wasm_cc_opinfo wasm_cc_opinfo[WASM_CC_OPINFO_SIZE] = {
#define SPECIAL(N, P, C)       [PBASE_##P + C] = {CLS_SPECIAL, 0, 0, 0, S_##N, 0, 0, 0},
#define UN(N, P, C, TI, TO, E) [PBASE_##P + C] = {CLS_UN, T_##TI, 0, T_##TO, WASM_OP_##N, 0, 0, 0},
#define BIN(N, P, C, TA, TB, TO, E)                                                                \
	[PBASE_##P + C] = {CLS_BIN, T_##TA, T_##TB, T_##TO, WASM_OP_##N, 0, 0, 0},
#define IBIN(N, P, C, T, E) [PBASE_##P + C] = {CLS_IBIN, T_##T, T_##T, T_##T, WASM_OP_##N, 0, 0, 0},
#define ICMP(N, P, C, T, NEG, E)                                                                   \
	[PBASE_##P + C] = {CLS_ICMP, T_##T, T_##T, T_I32, WASM_OP_##N, WASM_OP_##NEG, 0, 0},
#define TBIN(N, P, C, T, F) [PBASE_##P + C] = {CLS_TBIN, T_##T, T_##T, T_##T, WASM_OP_##N, 0, 0, 0},
#define TUN(N, P, C, TI, TO, F)                                                                    \
	[PBASE_##P + C] = {CLS_TUN, T_##TI, 0, T_##TO, WASM_OP_##N, 0, 0, 0},
#define LOAD(N, P, C, TO, A, E)                                                                    \
	[PBASE_##P + C] = {CLS_LOAD, T_I32, 0, T_##TO, WASM_OP_##N, 0, A, 0},
#define STORE(N, P, C, TI, A, S)                                                                   \
	[PBASE_##P + C] = {CLS_STORE, T_I32, T_##TI, 0, WASM_OP_##N, 0, A, 1},
#define TERN(N, P, C, E) [PBASE_##P + C] = {CLS_TERN, T_V128, T_V128, T_V128, WASM_OP_##N, 0, 0, 0},
#define EXTRACT(N, P, C, TO, L, E)                                                                 \
	[PBASE_##P + C] = {CLS_EXTRACT, T_V128, 0, T_##TO, WASM_OP_##N, 0, L, 0},
#define REPLACE(N, P, C, TI, L, E)                                                                 \
	[PBASE_##P + C] = {CLS_REPLACE, T_V128, T_##TI, T_V128, WASM_OP_##N, 0, L, 0},
#define LANEMEM(N, P, C, A, L, ISSTORE)                                                            \
	[PBASE_##P + C] = {CLS_LANEMEM, T_I32, T_V128, T_V128, WASM_OP_##N, 0, L, ISSTORE},
#include "wasm/opcodes.def"
/* threads (atomics.def): t1 the address, t2 the value type; imm log2 of the width */
#define AOP_LOAD     WASM_OP_ATOMIC_LOAD
#define AOP_STORE    WASM_OP_ATOMIC_STORE
#define AOP_RMW_ADD  WASM_OP_ATOMIC_RMW
#define AOP_RMW_SUB  WASM_OP_ATOMIC_RMW
#define AOP_RMW_AND  WASM_OP_ATOMIC_RMW
#define AOP_RMW_OR   WASM_OP_ATOMIC_RMW
#define AOP_RMW_XOR  WASM_OP_ATOMIC_RMW
#define AOP_RMW_XCHG WASM_OP_ATOMIC_RMW
#define AOP_CMPXCHG  WASM_OP_ATOMIC_CMPXCHG
#define AOP_WAIT     WASM_OP_ATOMIC_WAIT
#define AOP_NOTIFY   WASM_OP_ATOMIC_NOTIFY
#define AOP_FENCE    WASM_OP_ATOMIC_FENCE
#define ATOMIC(N, S, C, KIND, T, A)                                                                \
	[PBASE_PFE + C] = {CLS_ATOMIC, T_I32, T_##T, T_##T, AOP_##KIND, C, A, 0},
#include "wasm/atomics.def"
};

/* ----- code emission (no-ops in unreachable code) ----- */

int wasm_cc_mismatch(struct wasm_cc *c, const char *what)
{
	return wasm_rd_fail(c->r, WASM_ERR_INVALID, "type mismatch: %s", what);
}

int wasm_cc_grow_array(void **arr, uint32_t *cap, uint32_t need, size_t size)
{
	uint32_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	p = core_realloc(*arr, (size_t)ncap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

void wasm_cc_emit(struct wasm_cc *c, uint32_t w)
{
	if (c->dead)
		return;
	if (wasm_cc_grow_array((void **)&c->code, &c->cap, c->n + 1, sizeof(uint32_t))) {
		c->oom = true;
		return;
	}
	c->code[c->n++] = w;
}

void wasm_cc_emit_op(struct wasm_cc *c, enum wasm_op op)
{
	wasm_cc_emit(c, (uint32_t)c->disp[op]);
}

void wasm_cc_emit_u64(struct wasm_cc *c, uint64_t v)
{
	wasm_cc_emit(c, (uint32_t)v);
	wasm_cc_emit(c, (uint32_t)(v >> 32));
}

/* Records that the op just emitted (starting at start, of internal op `op`) wrote its
 * result to the word at dst_at, for the local.set and compare+branch peepholes. */
/* ----- peephole state: the last result, rewinding, labels ----- */

void wasm_cc_mark_result(struct wasm_cc *c, uint32_t start, uint32_t op, uint32_t dst_at)
{
	if (c->dead)
		return;
	c->prev_end = UINT32_MAX;
	if (c->last_end == start) {
		c->prev_start = c->last_start;
		c->prev_op = c->last_op;
		c->prev_dst_at = c->last_dst_at;
		c->prev_end = start;
	}
	c->last_start = start;
	c->last_op = op;
	c->last_dst_at = dst_at;
	c->last_end = c->n;
}

/* What push_slots lists of the operand entries. */
enum { SLOTS_ROOTS, SLOTS_FUNCS, SLOTS_DEAD, SLOTS_NARROW };

/* Whether a slot of type t holds a 32-bit value in its low half (i32, f32): the
 * interpreter writes only that half, so the upper one may hold an older value's bits,
 * which a snapshot saves as zero. */
static bool narrow_type(wasm_vt t)
{
	return t == T_I32 || t == T_F32;
}

/* Whether t is a reference a snapshot saves as a function index (never a root). */
static bool fn_ref_type(const struct wasm_module *m, wasm_vt t)
{
	return t != WASM_PACK_I8 && t != WASM_PACK_I16 && wasm_vt_is_ref(t) &&
	       !wasm_gc_root_type(m, t);
}

/* Appends the operand entries of a class (their homes and types) to a map's lists: the
 * ones in their slot holding GC references (SLOTS_ROOTS), function references
 * (SLOTS_FUNCS) or 32-bit numbers (SLOTS_NARROW), or the ones not in their slot
 * (SLOTS_DEAD: a deferred local.get or constant, whose slot holds an older value).
 * Non-zero (and c->oom) when out of memory. */
static int push_slots(struct wasm_cc *c, int what, uint32_t **homes, wasm_vt **types, uint32_t *n,
		      uint32_t *cap, uint32_t *capt)
{
	for (uint32_t i = 0; i < c->nvs; i++) {
		const struct wasm_cc_entry *e = &c->vs[i];
		bool in = what == SLOTS_DEAD	 ? e->kind != K_SLOT
			  : e->kind != K_SLOT	 ? false
			  : what == SLOTS_ROOTS	 ? wasm_gc_root_type(c->m, e->type)
			  : what == SLOTS_NARROW ? narrow_type(e->type)
						 : fn_ref_type(c->m, e->type);
		if (!in)
			continue;
		if (wasm_cc_grow_array((void **)homes, cap, *n + 1, sizeof(**homes)) ||
		    wasm_cc_grow_array((void **)types, capt, *n + 1, sizeof(**types))) {
			c->oom = true;
			return -1;
		}
		(*types)[*n] = e->type;
		(*homes)[(*n)++] = e->home;
	}
	return 0;
}

/* Records the map of the loop starting at c->n (a snapshot's innermost frame may stand
 * there): the operand entries holding references and 32-bit numbers, and the operand
 * stack's top. */
static void loop_map(struct wasm_cc *c)
{
	uint32_t first, roots, fns;

	if (c->nlps && c->lps[c->nlps - 1].key == c->n << 1) {
		/* nothing was emitted since: this one stands */
		c->nlgcs = c->lps[c->nlps - 1].first;
		c->nlps--;
	}
	first = c->nlgcs;
	if (c->dead || c->oom)
		return;
	if (push_slots(c, SLOTS_ROOTS, &c->lgcs, &c->lgcts, &c->nlgcs, &c->caplgcs, &c->caplgcts))
		return;
	roots = c->nlgcs - first;
	if (push_slots(c, SLOTS_FUNCS, &c->lgcs, &c->lgcts, &c->nlgcs, &c->caplgcs, &c->caplgcts))
		return;
	fns = c->nlgcs - first - roots;
	if (push_slots(c, SLOTS_NARROW, &c->lgcs, &c->lgcts, &c->nlgcs, &c->caplgcs, &c->caplgcts))
		return;
	if (wasm_cc_grow_array((void **)&c->lps, &c->caplps, c->nlps + 1, sizeof(*c->lps))) {
		c->oom = true;
		return;
	}
	c->lps[c->nlps++] = (struct wasm_safepoint){
		c->n << 1, first, roots, fns, 0, c->top_slot, c->nlgcs - first - roots - fns};
}

void wasm_cc_call_ref_map(struct wasm_cc *c, uint32_t slot, wasm_vt type)
{
	if (c->dead || c->oom)
		return;
	if (wasm_cc_grow_array((void **)&c->lgcs, &c->caplgcs, c->nlgcs + 1, sizeof(*c->lgcs)) ||
	    wasm_cc_grow_array((void **)&c->lgcts, &c->caplgcts, c->nlgcs + 1, sizeof(*c->lgcts)) ||
	    wasm_cc_grow_array((void **)&c->lps, &c->caplps, c->nlps + 1, sizeof(*c->lps))) {
		c->oom = true;
		return;
	}
	c->lgcts[c->nlgcs] = type;
	c->lgcs[c->nlgcs] = slot;
	c->lps[c->nlps++] = (struct wasm_safepoint){c->n << 1 | 1, c->nlgcs++, 0, 1, 0, 0, 0};
}

void wasm_cc_point(struct wasm_cc *c, bool call)
{
	/* unreachable code emits nothing: c->n is the next live op's, which no pause stands
	 * at (a loop's or call's point there would let a restore resume at it) */
	if (c->dead)
		return;
	if (c->npoints && c->points[c->npoints - 1] >> 1 == c->n)
		c->npoints--; /* nothing was emitted since: the later one stands */
	if (c->n >= (1u << 31) || wasm_cc_grow_array((void **)&c->points, &c->cappoints,
						     c->npoints + 1, sizeof(*c->points))) {
		c->oom = true;
		return;
	}
	c->points[c->npoints++] = c->n << 1 | (call ? 1u : 0u);
	if (!call)
		loop_map(c);
}

void wasm_cc_safepoint(struct wasm_cc *c, bool at_op)
{
	uint32_t first = c->ngcs, roots, fns = 0, dead = 0, narrow = 0;

	if (c->dead || c->oom)
		return;
	if (push_slots(c, SLOTS_ROOTS, &c->gcs, &c->gcts, &c->ngcs, &c->capgcs, &c->capgcts))
		return;
	roots = c->ngcs - first;
	/* a call's return, where snapshots find frames: function references, the
	 * entries whose slots hold stale values (a snapshot zeroes those) and the 32-bit
	 * ones (a snapshot zeroes their upper halves) too */
	if (!at_op) {
		if (push_slots(c, SLOTS_FUNCS, &c->gcs, &c->gcts, &c->ngcs, &c->capgcs,
			       &c->capgcts))
			return;
		fns = c->ngcs - first - roots;
		if (push_slots(c, SLOTS_DEAD, &c->gcs, &c->gcts, &c->ngcs, &c->capgcs, &c->capgcts))
			return;
		dead = c->ngcs - first - roots - fns;
		if (push_slots(c, SLOTS_NARROW, &c->gcs, &c->gcts, &c->ngcs, &c->capgcs,
			       &c->capgcts))
			return;
		narrow = c->ngcs - first - roots - fns - dead;
	}
	if (c->ngcs == first)
		return; /* nothing to list: no entry (locals are in every map) */
	if (c->n >= (1u << 31) ||
	    wasm_cc_grow_array((void **)&c->sps, &c->capsps, c->nsps + 1, sizeof(*c->sps))) {
		c->oom = true;
		return;
	}
	c->sps[c->nsps++] = (struct wasm_safepoint){
		c->n << 1 | (at_op ? 1u : 0u), first, roots, fns, dead, 0, narrow};
}

void wasm_cc_rewind(struct wasm_cc *c, uint32_t start, bool current_offset)
{
	uint32_t cur_off = c->nmap ? c->map[c->nmap - 1].off : 0;

	c->n = start;
	while (c->nmap && c->map[c->nmap - 1].pc > start)
		c->nmap--;
	if (current_offset && c->nmap && c->map[c->nmap - 1].pc == start)
		c->map[c->nmap - 1].off = cur_off;
	while (c->nwrap && c->wrap[c->nwrap - 1].pc >= start)
		c->nwrap--;
	while (c->npoints && c->points[c->npoints - 1] >> 1 >= start)
		c->npoints--;
	while (c->nlps && c->lps[c->nlps - 1].key >> 1 >= start) {
		c->nlgcs = c->lps[c->nlps - 1].first;
		c->nlps--;
	}
	/* a call op ending at start stays; an op starting at start or a call past it goes */
	while (c->nsps && (c->sps[c->nsps - 1].key >> 1) + (c->sps[c->nsps - 1].key & 1) > start) {
		c->ngcs = c->sps[c->nsps - 1].first;
		c->nsps--;
	}
	c->last_end = UINT32_MAX;
	c->prev_end = UINT32_MAX;
}

uint32_t wasm_cc_wrap_imm(const struct wasm_cc *c, uint32_t pc)
{
	for (uint32_t i = c->nwrap; i-- > 0 && c->wrap[i].pc >= pc;)
		if (c->wrap[i].pc == pc)
			return c->wrap[i].imm;
	return 0;
}

void wasm_cc_add_wrap(struct wasm_cc *c, uint32_t pc, uint32_t imm)
{
	if (c->dead || imm == 0)
		return;
	if (wasm_cc_grow_array((void **)&c->wrap, &c->capwrap, c->nwrap + 1, sizeof(*c->wrap))) {
		c->oom = true;
		return;
	}
	c->wrap[c->nwrap++] = (struct wasm_wrapfix){pc, imm};
}

void wasm_cc_label(struct wasm_cc *c)
{
	c->last_end = UINT32_MAX;
	c->fence = c->n;
	c->zgen++;
}

bool wasm_cc_last_result_is(struct wasm_cc *c, uint32_t slot)
{
	/* every rewrite of the last op starts from this question: plain code asks none */
	return !c->plain && !c->dead && c->last_end == c->n && c->n > 0 &&
	       c->code[c->last_dst_at] == slot;
}

/* ----- moves and the operand stack ----- */

static void emit_const(struct wasm_cc *c, uint32_t dst, wasm_vt type, uint64_t v)
{
	if (type == T_I32 || type == T_F32) {
		wasm_cc_emit_op(c, WASM_OP_CONST32);
		wasm_cc_emit(c, dst);
		wasm_cc_emit(c, (uint32_t)v);
	} else {
		wasm_cc_emit_op(c, WASM_OP_CONST64);
		wasm_cc_emit(c, dst);
		wasm_cc_emit_u64(c, v);
	}
}

void wasm_cc_emit_copy(struct wasm_cc *c, uint32_t dst, uint32_t src, wasm_vt type)
{
	if (dst == src)
		return;
	if (type != T_V128 && c->copy_end == c->n && c->copy_at >= c->fence && !c->dead &&
	    !c->plain) {
		/* a COPY or MOVE2 just before (no label between): one MOVE2 or MOVE3 */
		c->code[c->copy_at] =
			(uint32_t)c->disp[c->copy_moves == 1 ? WASM_OP_MOVE2 : WASM_OP_MOVE3];
		wasm_cc_emit(c, dst);
		wasm_cc_emit(c, src);
		c->copy_moves++;
		c->copy_end = c->copy_moves < 3 ? c->n : UINT32_MAX;
		return;
	}
	c->copy_at = c->n;
	c->copy_moves = 1;
	wasm_cc_emit_op(c, type == T_V128 ? WASM_OP_COPY2 : WASM_OP_COPY);
	wasm_cc_emit(c, dst);
	wasm_cc_emit(c, src);
	c->copy_end = type == T_V128 ? UINT32_MAX : c->n;
}

/* Places the value of entry e in slot dst. */
void wasm_cc_emit_move(struct wasm_cc *c, uint32_t dst, const struct wasm_cc_entry *e)
{
	switch (e->kind) {
	case K_SLOT:
		wasm_cc_emit_copy(c, dst, e->home, e->type);
		break;
	case K_LOCAL:
		wasm_cc_emit_copy(c, dst, e->src, e->type);
		break;
	case K_CONST:
		emit_const(c, dst, e->type, e->c);
		break;
	}
}

void wasm_cc_materialize(struct wasm_cc *c, struct wasm_cc_entry *e)
{
	if (e->kind == K_SLOT)
		return;
	if (e->kind == K_LOCAL)
		c->nlocalrefs--;
	wasm_cc_emit_move(c, e->home, e);
	e->kind = K_SLOT;
}

void wasm_cc_materialize_all(struct wasm_cc *c)
{
	for (uint32_t i = 0; i < c->nvs; i++)
		wasm_cc_materialize(c, &c->vs[i]);
}

/* Before local slot `slot` is written: deferred reads of it take their value now. */
void wasm_cc_materialize_local(struct wasm_cc *c, uint32_t slot)
{
	if (!c->nlocalrefs)
		return;
	for (uint32_t i = 0; i < c->nvs; i++)
		if (c->vs[i].kind == K_LOCAL && c->vs[i].src == slot)
			wasm_cc_materialize(c, &c->vs[i]);
}

int wasm_cc_push(struct wasm_cc *c, wasm_vt type, struct wasm_cc_entry **out)
{
	struct wasm_cc_entry *e;

	if (wasm_cc_grow_array((void **)&c->vs, &c->capvs, c->nvs + 1, sizeof(*c->vs)))
		return -ENOMEM;
	e = &c->vs[c->nvs++];
	e->type = type;
	e->kind = K_SLOT;
	e->home = c->top_slot;
	c->top_slot += wasm_type_slots(type);
	if (c->top_slot > c->max_slot)
		c->max_slot = c->top_slot;
	if (out)
		*out = e;
	return 0;
}

/* Pushes a result and returns its home slot. */
int wasm_cc_push_result(struct wasm_cc *c, wasm_vt type, uint32_t *slot)
{
	struct wasm_cc_entry *e;

	TRY(wasm_cc_push(c, type, &e));
	*slot = e->home;
	return 0;
}

bool wasm_cc_sub(const struct wasm_cc *c, wasm_vt a, wasm_vt b)
{
	return wasm_vt_sub(c->m, a, c->m, b);
}

/* Pops an operand of type want (T_UNKNOWN: any); *out receives the entry. */
int wasm_cc_pop(struct wasm_cc *c, wasm_vt want, struct wasm_cc_entry *out)
{
	struct wasm_cc_ctrl *f = &c->cs[c->ncs - 1];

	if (c->nvs == f->height) {
		if (!f->unreachable)
			return wasm_cc_mismatch(c, "operand stack underflow");
		out->type = want;
		out->kind = K_SLOT;
		out->home = c->top_slot;
		return 0;
	}
	*out = c->vs[--c->nvs];
	c->top_slot = out->home;
	if (out->kind == K_LOCAL)
		c->nlocalrefs--;
	/* the common case, equal types, without a call */
	if (want != T_UNKNOWN && out->type != want && !wasm_cc_sub(c, out->type, want))
		return wasm_cc_mismatch(c, "wrong operand type");
	if (out->type == T_UNKNOWN)
		out->type = want;
	return 0;
}

/* The slot an operand can be read from (constants are written to their home first). */
uint32_t wasm_cc_use_slot(struct wasm_cc *c, struct wasm_cc_entry *e)
{
	if (e->kind == K_LOCAL)
		return e->src;
	if (e->kind == K_CONST)
		emit_const(c, e->home, e->type, e->c);
	return e->home;
}

int wasm_cc_pop_types(struct wasm_cc *c, uint32_t n, const wasm_vt *types)
{
	struct wasm_cc_entry e;

	for (uint32_t i = n; i-- > 0;)
		TRY(wasm_cc_pop(c, types[i], &e));
	return 0;
}

int wasm_cc_push_types(struct wasm_cc *c, uint32_t n, const wasm_vt *types)
{
	for (uint32_t i = 0; i < n; i++)
		TRY(wasm_cc_push(c, types[i], NULL));
	return 0;
}

/* Checks (without changing anything) that the top of the stack matches types[0..n). */
int wasm_cc_check_top(struct wasm_cc *c, uint32_t n, const wasm_vt *types)
{
	struct wasm_cc_ctrl *f = &c->cs[c->ncs - 1];
	uint32_t avail = c->nvs - f->height;

	for (uint32_t i = 0; i < n; i++) {
		const struct wasm_cc_entry *e;
		if (i >= avail) {
			if (!f->unreachable)
				return wasm_cc_mismatch(c, "operand stack underflow at branch");
			continue;
		}
		e = &c->vs[c->nvs - 1 - i];
		if (e->type != types[n - 1 - i] && !wasm_cc_sub(c, e->type, types[n - 1 - i]))
			return wasm_cc_mismatch(c, "branch operand");
	}
	return 0;
}

/* After a conditional branch the values left take the label's types (the validation
 * algorithm's pop-then-push; 3.0 subtyping makes them differ); in unreachable code missing
 * operands are added. */
int wasm_cc_refine_top(struct wasm_cc *c, uint32_t n, const wasm_vt *types)
{
	struct wasm_cc_ctrl *f = &c->cs[c->ncs - 1];
	uint32_t avail = c->nvs - f->height, missing = avail < n ? n - avail : 0;

	if (n == 0)
		return 0;
	if (!f->unreachable) {
		/* 3.0: the values left for the fall-through path have the label's types */
		for (uint32_t i = 0; i < n; i++)
			c->vs[c->nvs - n + i].type = types[i];
		return 0;
	}
	if (wasm_cc_grow_array((void **)&c->vs, &c->capvs, c->nvs + missing + 1, sizeof(*c->vs)))
		return -ENOMEM;
	memmove(&c->vs[f->height + missing], &c->vs[f->height], (avail) * sizeof(*c->vs));
	for (uint32_t i = 0; i < missing; i++)
		c->vs[f->height + i] = (struct wasm_cc_entry){.type = types[i], .kind = K_SLOT};
	c->nvs += missing;
	for (uint32_t i = 0; i < n; i++) {
		struct wasm_cc_entry *e = &c->vs[c->nvs - n + i];
		e->type = types[i];
	}
	c->top_slot = f->base;
	for (uint32_t i = f->height; i < c->nvs; i++) {
		c->vs[i].home = c->top_slot;
		c->top_slot += wasm_type_slots(c->vs[i].type);
	}
	if (c->top_slot > c->max_slot)
		c->max_slot = c->top_slot;
	return 0;
}

/* ----- driver ----- */

int wasm_rd_opcode(struct wasm_reader *r, uint32_t *idx)
{
	uint8_t b;
	uint32_t sub;

	*idx = 0;
	TRY(wasm_rd_u8(r, &b));
	if (b != 0xfb && b != 0xfc && b != 0xfd && b != 0xfe) {
		*idx = b;
	} else {
		TRY(wasm_rd_u32(r, &sub));
		if (sub >= (b == 0xfe ? 0x50u : b == 0xfb ? 0x20u : 0x120u))
			return wasm_rd_fail(r, WASM_ERR_MALFORMED, "illegal opcode %02x %x", b,
					    sub);
		*idx = (b == 0xfb   ? PBASE_PFB
			: b == 0xfc ? PBASE_PFC
			: b == 0xfd ? PBASE_PFD
				    : PBASE_PFE) +
		       sub;
	}
	/* the opcode bytes in hex, as the reference interpreter prints them ("ff", "fc 12") */
	if (wasm_cc_opinfo[*idx].cls == CLS_NONE &&
	    !(*idx == PBASE_PFD + 0x0c || *idx == PBASE_PFD + 0x0d)) {
		if (*idx == b && wasm_legacy_eh_name(b))
			return wasm_rd_fail(r, WASM_ERR_MALFORMED,
					    "illegal opcode %02x: legacy exception-handling "
					    "instruction '%s' " WASM_LEGACY_EH_HINT,
					    b, wasm_legacy_eh_name(b));
		if (*idx < PBASE_PFC)
			return wasm_rd_fail(r, WASM_ERR_MALFORMED, "illegal opcode %02x", b);
		return wasm_rd_fail(r, WASM_ERR_MALFORMED, "illegal opcode %02x %x", b, sub);
	}
	return 0;
}

static int compile_instr(struct wasm_cc *c, uint32_t idx, bool *done)
{
	const struct wasm_cc_opinfo *oi = &wasm_cc_opinfo[idx];

	if (oi->cls == CLS_SPECIAL && (oi->op <= S_RETURN_CALL_INDIRECT ||
				       (oi->op >= S_CALL_REF && oi->op <= S_BR_ON_NON_NULL) ||
				       (oi->op >= S_THROW && oi->op <= S_TRY_TABLE)))
		return wasm_cc_control(c, oi->op, done);
	if (oi->cls == CLS_SPECIAL && oi->op >= S_REF_EQ && oi->op <= S_EXTERN_CONVERT_ANY)
		return wasm_cc_gc(c, oi->op);
	return wasm_cc_operand(c, idx);
}

static void add_map(struct wasm_cc *c, uint32_t off)
{
	if (c->dead)
		return;
	if (c->nmap && c->map[c->nmap - 1].pc == c->n) {
		c->map[c->nmap - 1].off = off;
		return;
	}
	if (wasm_cc_grow_array((void **)&c->map, &c->capmap, c->nmap + 1, sizeof(*c->map))) {
		c->oom = true;
		return;
	}
	c->map[c->nmap++] = (struct wasm_pcmap){c->n, off};
}

static int rd_locals(struct wasm_cc *c, uint32_t fidx)
{
	struct wasm_reader *r = c->r;
	const struct wasm_ftype *t = &c->m->types[c->m->func_type[fidx]];
	uint32_t ngroups, slot = 0;
	uint64_t total = t->pub.nparams;
	const uint8_t *save;

	TRY(wasm_rd_u32(r, &ngroups));
	save = r->p;
	for (uint32_t i = 0; i < ngroups; i++) {
		uint32_t n;
		wasm_vt ty;
		TRY(wasm_rd_u32(r, &n));
		TRY(wasm_rd_valtype(r, c->m, &ty));
		total += n;
		if (total > WASM_MAX_LOCALS)
			return wasm_rd_fail(r, WASM_ERR_MALFORMED, "too many locals");
	}
	c->nlocals = (uint32_t)total;
	if (wasm_cc_grow_array((void **)&c->ltype, &c->capltype, (uint32_t)total + 1,
			       sizeof(wasm_vt)) ||
	    wasm_cc_grow_array((void **)&c->lslot, &c->caplslot, (uint32_t)total + 1,
			       sizeof(uint32_t)) ||
	    wasm_cc_grow_array((void **)&c->zero_gen, &c->capzero, (uint32_t)total + 1,
			       sizeof(uint32_t)) ||
	    wasm_cc_grow_array((void **)&c->lset, &c->caplset, (uint32_t)total + 1, sizeof(bool)))
		return -ENOMEM;
	/* the arrays may come from an earlier function (struct wasm_cc_keep) */
	memset(c->zero_gen, 0, (size_t)total * sizeof(uint32_t));
	for (uint32_t i = 0; i < t->pub.nparams; i++) {
		c->ltype[i] = t->vparams[i];
		c->lset[i] = true;
	}
	r->p = save;
	for (uint32_t i = 0, k = t->pub.nparams; i < ngroups; i++) {
		uint32_t n;
		wasm_vt ty;
		TRY(wasm_rd_u32(r, &n));
		TRY(wasm_rd_valtype(r, c->m, &ty));
		while (n--) {
			/* only a non-nullable reference has no default value */
			c->lset[k] = !wasm_vt_is_ref(ty) || wasm_vt_nullable(ty);
			c->ltype[k++] = ty;
		}
	}
	for (uint32_t i = 0; i < c->nlocals; i++) {
		c->lslot[i] = slot;
		slot += wasm_type_slots(c->ltype[i]);
	}
	c->stack_base = slot;
	/* declared locals (not parameters) start at zero */
	c->zgen = 1;
	for (uint32_t i = t->pub.nparams; i < c->nlocals; i++)
		c->zero_gen[i] = c->zgen;
	return 0;
}

static int compile_body(struct wasm_cc *c, uint32_t fidx)
{
	bool done = false;

	TRY(rd_locals(c, fidx));
	c->top_slot = c->max_slot = c->stack_base;
	TRY(wasm_cc_push_ctrl(c, C_FUNC, 0, NULL, c->ft->pub.nresults, c->ft->vresults));
	c->last_end = UINT32_MAX;
	c->copy_end = UINT32_MAX;
	c->incr_end = UINT32_MAX;
	c->prev_end = UINT32_MAX;
	while (!done) {
		uint32_t idx, off = (uint32_t)(c->r->p - c->r->base);
		if (c->r->p >= c->r->end)
			return wasm_rd_fail(
				c->r, WASM_ERR_MALFORMED,
				"unexpected end of section or function (the function body "
				"ends before its END opcode)");
		add_map(c, off);
		int rc = wasm_rd_opcode(c->r, &idx);
		if (!rc)
			rc = compile_instr(c, idx, &done);
		if (rc) {
			/* the error's offset is where reading stopped, often past the
			 * immediates, at the next instruction: a text front end locates
			 * this one */
			if (c->r->err)
				c->r->err->instr = off;
			return rc;
		}
		if (c->oom)
			return -ENOMEM;
	}
	if (c->r->p != c->r->end)
		return wasm_rd_fail(c->r, WASM_ERR_MALFORMED,
				    "section size mismatch (code after function end)");
	return 0;
}

/* The scratch arrays of a function's compilation, kept from one function to the next
 * (so loading a module of many functions does not allocate them again for each): the
 * growable arrays of struct wasm_cc with their capacities, nothing else. */
struct wasm_cc_keep {
	struct wasm_cc c;
};

#define KEEP_FIELDS(X)                                                                             \
	X(code, cap)                                                                               \
	X(map, capmap)                                                                             \
	X(fx, capfx)                                                                               \
	X(wrap, capwrap)                                                                           \
	X(points, cappoints)                                                                       \
	X(sps, capsps)                                                                             \
	X(gcs, capgcs)                                                                             \
	X(gcts, capgcts)                                                                           \
	X(lps, caplps)                                                                             \
	X(lgcs, caplgcs)                                                                           \
	X(lgcts, caplgcts)                                                                         \
	X(hd, caphd)                                                                               \
	X(vs, capvs)                                                                               \
	X(cs, capcs)                                                                               \
	X(ltype, capltype)                                                                         \
	X(lslot, caplslot)                                                                         \
	X(zero_gen, capzero)                                                                       \
	X(lset, caplset)                                                                           \
	X(init, capinit)

/* Moves the arrays of *from into *to (whose own must be NULL). */
static void keep_move(struct wasm_cc *to, struct wasm_cc *from)
{
#define X(arr, capf)                                                                               \
	to->arr = from->arr;                                                                       \
	to->capf = from->capf;                                                                     \
	from->arr = NULL;                                                                          \
	from->capf = 0;
	KEEP_FIELDS(X)
#undef X
}

void wasm_cc_keep_destroy(struct wasm_cc_keep *k)
{
	if (!k)
		return;
#define X(arr, capf) core_free(k->c.arr);
	KEEP_FIELDS(X)
#undef X
	core_free(k);
}

/* Gives code its stack maps: the locals that hold roots, those that hold function
 * references, those that hold 32-bit numbers, then the safepoints' lists, then the loop
 * starts' (with each slot's type). Returns 0 or -ENOMEM. */
static int stack_maps(const struct wasm_cc *c, struct wasm_code *code)
{
	uint32_t nloc = 0, nfn = 0, nnarrow = 0, *slots;
	wasm_vt *types;
	struct wasm_safepoint *sps = NULL, *lps = NULL;
	size_t total;

	for (uint32_t i = 0; i < c->nlocals; i++) {
		nloc += wasm_gc_root_type(c->m, c->ltype[i]);
		nfn += fn_ref_type(c->m, c->ltype[i]);
		nnarrow += narrow_type(c->ltype[i]);
	}
	code->gc_slots = NULL;
	code->gc_types = NULL;
	code->ngc_locals = 0;
	code->nfn_locals = 0;
	code->nnarrow_locals = 0;
	code->safepoints = NULL;
	code->nsafepoints = 0;
	code->loop_maps = NULL;
	code->nloop_maps = 0;
	if (!nloc && !nfn && !nnarrow && !c->nsps && !c->nlps)
		return 0;
	total = (size_t)nloc + nfn + nnarrow + c->ngcs + c->nlgcs;
	slots = core_alloc((total + 1) * sizeof(*slots));
	types = core_alloc((total + 1) * sizeof(*types));
	if (c->nsps)
		sps = core_alloc((size_t)c->nsps * sizeof(*sps));
	if (c->nlps)
		lps = core_alloc((size_t)c->nlps * sizeof(*lps));
	if (!slots || !types || (c->nsps && !sps) || (c->nlps && !lps)) {
		core_free(slots);
		core_free(types);
		core_free(sps);
		core_free(lps);
		return -ENOMEM;
	}
	nloc = 0;
	for (uint32_t i = 0; i < c->nlocals; i++) {
		if (wasm_gc_root_type(c->m, c->ltype[i])) {
			types[nloc] = c->ltype[i];
			slots[nloc++] = c->lslot[i];
		}
	}
	for (uint32_t i = 0; i < c->nlocals; i++) {
		if (fn_ref_type(c->m, c->ltype[i])) {
			types[nloc] = c->ltype[i];
			slots[nloc++] = c->lslot[i];
		}
	}
	for (uint32_t i = 0; i < c->nlocals; i++) {
		if (narrow_type(c->ltype[i])) {
			types[nloc] = c->ltype[i];
			slots[nloc++] = c->lslot[i];
		}
	}
	if (c->ngcs) {
		memcpy(slots + nloc, c->gcs, (size_t)c->ngcs * sizeof(*slots));
		memcpy(types + nloc, c->gcts, (size_t)c->ngcs * sizeof(*types));
	}
	if (c->nlgcs) {
		memcpy(slots + nloc + c->ngcs, c->lgcs, (size_t)c->nlgcs * sizeof(*slots));
		memcpy(types + nloc + c->ngcs, c->lgcts, (size_t)c->nlgcs * sizeof(*types));
	}
	for (uint32_t i = 0; i < c->nsps; i++) {
		sps[i] = c->sps[i];
		sps[i].first += nloc;
	}
	for (uint32_t i = 0; i < c->nlps; i++) {
		lps[i] = c->lps[i];
		lps[i].first += nloc + c->ngcs;
	}
	code->gc_slots = slots;
	code->gc_types = types;
	code->ngc_locals = nloc - nfn - nnarrow;
	code->nfn_locals = nfn;
	code->nnarrow_locals = nnarrow;
	code->safepoints = sps;
	code->nsafepoints = c->nsps;
	code->loop_maps = lps;
	code->nloop_maps = c->nlps;
	return 0;
}

int wasm_compile_func(struct wasm_module *m, uint32_t fidx, struct wasm_reader *r,
		      bool validate_only)
{
	struct wasm_cc c;
	struct wasm_code *code = &m->codes[fidx - m->nfunc_imports];
	int rc;

	memset(&c, 0, sizeof(c));
	if (!m->keep) {
		m->keep = core_calloc(1, sizeof(*m->keep));
		if (!m->keep)
			return wasm_rd_fail(r, WASM_ERR_NOMEM, "out of memory");
	}
	keep_move(&c, &m->keep->c);
	c.m = m;
	c.r = r;
	c.ft = &m->types[m->func_type[fidx]];
	c.disp = wasm_exec_dispatch();
	c.plain = (m->load_flags & WASM_LOAD_PLAIN) != 0;
	rc = compile_body(&c, fidx);
	if (rc == -ENOMEM || c.oom)
		rc = wasm_rd_fail(r, WASM_ERR_NOMEM, "out of memory");
	if (rc == 0) {
		uint32_t locals = c.stack_base - c.ft->param_slots;
		uint32_t frame = c.max_slot > c.ft->result_slots ? c.max_slot : c.ft->result_slots;
		/* the frame's layout is known from validation on (the JIT's call checks read a
		 * callee's frame_slots before its first call compiled it), and other threads
		 * may read it meanwhile: a lazy compilation only finds the same */
		if (validate_only || m->load_flags & WASM_LOAD_EAGER) {
			code->param_slots = c.ft->param_slots;
			code->local_slots = locals;
			code->frame_slots = frame;
		}
		assert(code->frame_slots == frame && code->local_slots == locals);
	}
	if (rc == 0 && !validate_only && stack_maps(&c, code))
		rc = wasm_rd_fail(r, WASM_ERR_NOMEM, "out of memory");
	if (rc == 0 && !validate_only) {
		code->ops = c.code;
		code->nops = c.n;
		code->map = c.map;
		code->nmap = c.nmap;
		code->wrap = c.wrap;
		code->nwrap = c.nwrap;
		code->points = c.points;
		code->npoints = c.npoints;
		code->handlers = c.nhd ? c.hd : NULL;
		code->nhandlers = c.nhd;
		if (c.nhd) {
			c.hd = NULL;
			c.caphd = 0;
		}
		c.code = NULL;
		c.cap = 0;
		c.map = NULL;
		c.capmap = 0;
		c.wrap = NULL;
		c.capwrap = 0;
		c.points = NULL;
		c.cappoints = 0;
	}
	keep_move(&m->keep->c, &c);
	return rc;
}

int wasm_code_compile(const struct wasm_func *f)
{
	/* the module is const to its instances, but for this: compiling a body is done
	 * once, under its lock, and published through code->ready */
	struct wasm_module *m = (struct wasm_module *)f->inst->mod;
	struct wasm_code *code = (struct wasm_code *)f->code;
	uint32_t fidx = (uint32_t)(code - m->codes) + m->nfunc_imports;
	struct wasm_error err;
	struct wasm_reader r;
	int rc = 0;

	pthread_mutex_lock(&m->compile_lock);
	if (!atomic_load_explicit(&code->ready, memory_order_relaxed)) {
		r = (struct wasm_reader){m->bytes + code->body,
					 m->bytes + code->body + code->body_len,
					 m->bytes,
					 &err,
					 "code",
					 fidx,
					 true};
		rc = wasm_compile_func(m, fidx, &r, false);
		if (rc == 0) {
			atomic_fetch_add_explicit(&m->ncompiled, 1, memory_order_relaxed);
			atomic_store_explicit(&code->ready, true, memory_order_release);
		}
	}
	pthread_mutex_unlock(&m->compile_lock);
	return rc ? -ENOMEM : 0;
}

void wasm_code_fini(struct wasm_code *code)
{
	core_free(code->ops);
	core_free(code->map);
	core_free(code->wrap);
	core_free(code->points);
	core_free(code->handlers);
	core_free(code->gc_slots);
	core_free(code->gc_types);
	core_free(code->safepoints);
	core_free(code->loop_maps);
	code->gc_slots = NULL;
	code->gc_types = NULL;
	code->safepoints = NULL;
	code->loop_maps = NULL;
	code->ngc_locals = code->nfn_locals = code->nnarrow_locals = 0;
	code->nsafepoints = code->nloop_maps = 0;
	code->handlers = NULL;
	code->nhandlers = 0;
	code->points = NULL;
	code->ops = NULL;
	code->map = NULL;
	code->wrap = NULL;
}
