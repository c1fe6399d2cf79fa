/*
 * Function-body validation and compilation in one pass (Wasm core 2.0, 3.3 "Instructions"
 * and the validation algorithm of appendix A.3), producing slot-addressed internal code.
 *
 * Every operand-stack position has a fixed home slot in the frame (after params and
 * locals), so each op names its operands' slots directly. local.get and constants are
 * deferred: they stay "virtual" on the compile-time stack and consumers read the local's
 * slot or use an immediate-operand variant, so most local.get/const pairs cost nothing.
 * Invariants: at every block, loop, if, else and end, every stack entry is materialised
 * in its home slot; a deferred local is materialised before any write to that local.
 * Control flow never recurses on the host stack (explicit control stack).
 */
#include "wasm/internal.h"

#include "core/alloc.h"
#include "core/util.h"

#include <errno.h>
#include <string.h>

#define T_UNKNOWN 0 /* bottom type in unreachable code */
#define T_I32	  WASM_I32
#define T_I64	  WASM_I64
#define T_F32	  WASM_F32
#define T_F64	  WASM_F64
#define T_V128	  WASM_V128

enum op_class {
	CLS_NONE,
	CLS_SPECIAL,
	CLS_UN,
	CLS_BIN,
	CLS_IBIN,
	CLS_ICMP,
	CLS_TBIN,
	CLS_TUN,
	CLS_LOAD,
	CLS_STORE,
	CLS_TERN,
	CLS_EXTRACT,
	CLS_REPLACE,
	CLS_LANEMEM,
};

enum special {
#define SPECIAL(N, P, C) S_##N,
#define UN(N, P, C, TI, TO, E)
#define BIN(N, P, C, TA, TB, TO, E)
#define IBIN(N, P, C, T, E)
#define ICMP(N, P, C, T, NEG, E)
#define TBIN(N, P, C, T, F)
#define TUN(N, P, C, TI, TO, F)
#define LOAD(N, P, C, TO, A, E)
#define STORE(N, P, C, TI, A, S)
#define TERN(N, P, C, E)
#define EXTRACT(N, P, C, TO, L, E)
#define REPLACE(N, P, C, TI, L, E)
#define LANEMEM(N, P, C, A, L, ISSTORE)
#include "wasm/opcodes.def"
#undef SPECIAL
#undef UN
#undef BIN
#undef IBIN
#undef ICMP
#undef TBIN
#undef TUN
#undef LOAD
#undef STORE
#undef TERN
#undef EXTRACT
#undef REPLACE
#undef LANEMEM
	S_COUNT
};

struct opinfo {
	uint8_t cls;
	uint8_t t1, t2, tout;
	uint16_t op;  /* internal op, or enum special */
	uint16_t neg; /* ICMP: the negated compare's op */
	uint8_t imm;  /* LOAD/STORE/LANEMEM: log2 natural alignment; lanes for lane ops */
	uint8_t store;
};

#define PBASE_P0    0
#define PBASE_PFC   256
#define PBASE_PFD   512
#define OPINFO_SIZE (512 + 0x120)

static const struct opinfo opinfo[OPINFO_SIZE] = {
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
#undef SPECIAL
#undef UN
#undef BIN
#undef IBIN
#undef ICMP
#undef TBIN
#undef TUN
#undef LOAD
#undef STORE
#undef TERN
#undef EXTRACT
#undef REPLACE
#undef LANEMEM
};

/* log2 natural alignment of LANEMEM ops, by lane count. */
static uint8_t lanemem_align(uint8_t lanes)
{
	return lanes == 16 ? 0 : lanes == 8 ? 1 : lanes == 4 ? 2 : 3;
}

enum entry_kind { K_SLOT, K_LOCAL, K_CONST };

/* A compile-time operand-stack entry. */
struct ventry {
	uint8_t type;
	uint8_t kind;
	uint32_t home; /* its slot when materialised */
	uint32_t src;  /* K_LOCAL: the local's slot */
	uint64_t c;    /* K_CONST: the value (i32/i64/f32/f64 bits, or a null ref) */
};

enum ctrl_kind { C_FUNC, C_BLOCK, C_LOOP, C_IF, C_ELSE };

struct ctrl {
	uint8_t kind;
	bool unreachable;
	bool dead_entry; /* the construct itself sits in unreachable code */
	uint32_t nparams, nresults;
	const uint8_t *params, *results;
	uint32_t height;   /* operand stack height below the params */
	uint32_t base;	   /* home slot of the first param/result */
	uint32_t loop_pc;  /* C_LOOP: branch target */
	uint32_t fixups;   /* head of the forward-branch patch list (index + 1) */
	uint32_t else_fix; /* C_IF: patch index + 1 of the jump to the else arm */
};

struct fixup {
	uint32_t word; /* code index of the offset word */
	uint32_t op;   /* code index of the branching op (offsets are relative to it) */
	uint32_t next;
};

struct comp {
	struct wasm_module *m;
	struct wasm_reader *r;
	const struct wasm_ftype *ft;
	const int32_t *disp;
	uint32_t nlocals;
	uint8_t *ltype;
	uint32_t *lslot;
	uint32_t stack_base;
	struct ventry *vs;
	uint32_t nvs, capvs;
	uint32_t nlocalrefs;
	uint32_t top_slot, max_slot;
	struct ctrl *cs;
	uint32_t ncs, capcs;
	uint32_t *code;
	uint32_t n, cap;
	struct wasm_pcmap *map;
	uint32_t nmap, capmap;
	struct fixup *fx;
	uint32_t nfx, capfx;
	bool dead;
	bool oom;
	/* peepholes: the last value-producing op, while nothing has been emitted after it */
	uint32_t last_end;    /* c->n right after it */
	uint32_t last_dst_at; /* code index of its destination word */
	uint32_t last_op;     /* its op (for compare+branch fusion) */
	uint32_t last_start;  /* its first word */
};

#define TRY(x)                                                                                     \
	do {                                                                                       \
		int rc_ = (x);                                                                     \
		if (rc_ < 0)                                                                       \
			return rc_;                                                                \
	} while (0)

static int mismatch(struct comp *c, const char *what)
{
	return wasm_rd_fail(c->r, WASM_ERR_INVALID, "type mismatch: %s", what);
}

static int grow_array(void **arr, uint32_t *cap, uint32_t need, size_t size)
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

/* ----- code emission (no-ops in unreachable code) ----- */

static void emit(struct comp *c, uint32_t w)
{
	if (c->dead)
		return;
	if (grow_array((void **)&c->code, &c->cap, c->n + 1, sizeof(uint32_t))) {
		c->oom = true;
		return;
	}
	c->code[c->n++] = w;
}

static void emit_op(struct comp *c, enum wasm_op op)
{
	emit(c, (uint32_t)c->disp[op]);
}

static void emit_u64(struct comp *c, uint64_t v)
{
	emit(c, (uint32_t)v);
	emit(c, (uint32_t)(v >> 32));
}

/* Records that the op just emitted (starting at start, of internal op `op`) wrote its
 * result to the word at dst_at, for the local.set and compare+branch peepholes. */
static void mark_result(struct comp *c, uint32_t start, uint32_t op, uint32_t dst_at)
{
	if (c->dead)
		return;
	c->last_start = start;
	c->last_op = op;
	c->last_dst_at = dst_at;
	c->last_end = c->n;
}

static bool last_result_is(struct comp *c, uint32_t slot)
{
	return !c->dead && c->last_end == c->n && c->n > 0 && c->code[c->last_dst_at] == slot;
}

static void emit_const(struct comp *c, uint32_t dst, uint8_t type, uint64_t v)
{
	if (type == T_I32 || type == T_F32) {
		emit_op(c, WASM_OP_CONST32);
		emit(c, dst);
		emit(c, (uint32_t)v);
	} else {
		emit_op(c, WASM_OP_CONST64);
		emit(c, dst);
		emit_u64(c, v);
	}
}

static void emit_copy(struct comp *c, uint32_t dst, uint32_t src, uint8_t type)
{
	if (dst == src)
		return;
	emit_op(c, type == T_V128 ? WASM_OP_COPY2 : WASM_OP_COPY);
	emit(c, dst);
	emit(c, src);
}

/* Places the value of entry e in slot dst. */
static void emit_move(struct comp *c, uint32_t dst, const struct ventry *e)
{
	switch (e->kind) {
	case K_SLOT:
		emit_copy(c, dst, e->home, e->type);
		break;
	case K_LOCAL:
		emit_copy(c, dst, e->src, e->type);
		break;
	case K_CONST:
		emit_const(c, dst, e->type, e->c);
		break;
	}
}

static void materialize(struct comp *c, struct ventry *e)
{
	if (e->kind == K_SLOT)
		return;
	if (e->kind == K_LOCAL)
		c->nlocalrefs--;
	emit_move(c, e->home, e);
	e->kind = K_SLOT;
}

static void materialize_all(struct comp *c)
{
	for (uint32_t i = 0; i < c->nvs; i++)
		materialize(c, &c->vs[i]);
}

/* Before local slot `slot` is written: deferred reads of it take their value now. */
static void materialize_local(struct comp *c, uint32_t slot)
{
	if (!c->nlocalrefs)
		return;
	for (uint32_t i = 0; i < c->nvs; i++)
		if (c->vs[i].kind == K_LOCAL && c->vs[i].src == slot)
			materialize(c, &c->vs[i]);
}

/* ----- branch patching ----- */

static void add_fixup(struct comp *c, struct ctrl *target, uint32_t op_at)
{
	if (c->dead)
		return;
	if (grow_array((void **)&c->fx, &c->capfx, c->nfx + 1, sizeof(*c->fx))) {
		c->oom = true;
		return;
	}
	c->fx[c->nfx] = (struct fixup){c->n - 1, op_at, target->fixups};
	target->fixups = ++c->nfx;
}

static void patch_list(struct comp *c, uint32_t head, uint32_t dest)
{
	while (head) {
		struct fixup *f = &c->fx[head - 1];
		c->code[f->word] = (uint32_t)((int32_t)dest - (int32_t)f->op);
		head = f->next;
	}
}

/* Emits the offset word of a branch at op_at to the label of ctrl t. */
static void emit_target(struct comp *c, struct ctrl *t, uint32_t op_at)
{
	if (t->kind == C_LOOP) {
		emit(c, (uint32_t)((int32_t)t->loop_pc - (int32_t)op_at));
		return;
	}
	emit(c, 0);
	add_fixup(c, t, op_at);
}

/* ----- operand stack ----- */

static int push(struct comp *c, uint8_t type, struct ventry **out)
{
	struct ventry *e;

	if (grow_array((void **)&c->vs, &c->capvs, c->nvs + 1, sizeof(*c->vs)))
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
static int push_result(struct comp *c, uint8_t type, uint32_t *slot)
{
	struct ventry *e;

	TRY(push(c, type, &e));
	*slot = e->home;
	return 0;
}

/* Pops an operand of type want (T_UNKNOWN: any); *out receives the entry. */
static int pop(struct comp *c, uint8_t want, struct ventry *out)
{
	struct ctrl *f = &c->cs[c->ncs - 1];

	if (c->nvs == f->height) {
		if (!f->unreachable)
			return mismatch(c, "operand stack underflow");
		out->type = want;
		out->kind = K_SLOT;
		out->home = c->top_slot;
		return 0;
	}
	*out = c->vs[--c->nvs];
	c->top_slot = out->home;
	if (out->kind == K_LOCAL)
		c->nlocalrefs--;
	if (want != T_UNKNOWN && out->type != T_UNKNOWN && out->type != want)
		return mismatch(c, "wrong operand type");
	if (out->type == T_UNKNOWN)
		out->type = want;
	return 0;
}

/* The slot an operand can be read from (constants are written to their home first). */
static uint32_t use_slot(struct comp *c, struct ventry *e)
{
	if (e->kind == K_LOCAL)
		return e->src;
	if (e->kind == K_CONST)
		emit_const(c, e->home, e->type, e->c);
	return e->home;
}

static int pop_types(struct comp *c, uint32_t n, const uint8_t *types)
{
	struct ventry e;

	for (uint32_t i = n; i-- > 0;)
		TRY(pop(c, types[i], &e));
	return 0;
}

static int push_types(struct comp *c, uint32_t n, const uint8_t *types)
{
	for (uint32_t i = 0; i < n; i++)
		TRY(push(c, types[i], NULL));
	return 0;
}

/* Checks (without changing anything) that the top of the stack matches types[0..n). */
static int check_top(struct comp *c, uint32_t n, const uint8_t *types)
{
	struct ctrl *f = &c->cs[c->ncs - 1];
	uint32_t avail = c->nvs - f->height;

	for (uint32_t i = 0; i < n; i++) {
		const struct ventry *e;
		if (i >= avail) {
			if (!f->unreachable)
				return mismatch(c, "operand stack underflow at branch");
			continue;
		}
		e = &c->vs[c->nvs - 1 - i];
		if (e->type != T_UNKNOWN && e->type != types[n - 1 - i])
			return mismatch(c, "branch operand");
	}
	return 0;
}

/* After a conditional branch in unreachable code, missing or unknown operands take the
 * label's types (the validation algorithm's pop-then-push). */
static int refine_top(struct comp *c, uint32_t n, const uint8_t *types)
{
	struct ctrl *f = &c->cs[c->ncs - 1];
	uint32_t avail = c->nvs - f->height, missing = avail < n ? n - avail : 0;

	if (!f->unreachable || n == 0)
		return 0;
	if (grow_array((void **)&c->vs, &c->capvs, c->nvs + missing + 1, sizeof(*c->vs)))
		return -ENOMEM;
	memmove(&c->vs[f->height + missing], &c->vs[f->height], (avail) * sizeof(*c->vs));
	for (uint32_t i = 0; i < missing; i++)
		c->vs[f->height + i] = (struct ventry){.type = types[i], .kind = K_SLOT};
	c->nvs += missing;
	for (uint32_t i = 0; i < n; i++) {
		struct ventry *e = &c->vs[c->nvs - n + i];
		if (e->type == T_UNKNOWN)
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

/* ----- control ----- */

static int push_ctrl(struct comp *c, uint8_t kind, uint32_t np, const uint8_t *p, uint32_t nr,
		     const uint8_t *res)
{
	struct ctrl *f;

	if (grow_array((void **)&c->cs, &c->capcs, c->ncs + 1, sizeof(*c->cs)))
		return -ENOMEM;
	f = &c->cs[c->ncs++];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->dead_entry = c->dead;
	f->nparams = np, f->params = p;
	f->nresults = nr, f->results = res;
	f->height = c->nvs - np;
	f->base = np ? c->vs[f->height].home : c->top_slot;
	return 0;
}

static void label_types(const struct ctrl *f, uint32_t *n, const uint8_t **types)
{
	if (f->kind == C_LOOP) {
		*n = f->nparams, *types = f->params;
	} else {
		*n = f->nresults, *types = f->results;
	}
}

/* Reads a block type (5.4.1): empty, one value type, or a type index. */
static int rd_blocktype(struct comp *c, uint32_t *np, const uint8_t **p, uint32_t *nr,
			const uint8_t **res)
{
	struct wasm_reader *r = c->r;
	int64_t idx;
	uint8_t b;

	*np = 0, *p = NULL, *nr = 0, *res = NULL;
	if (r->p >= r->end)
		return wasm_rd_fail(r, WASM_ERR_MALFORMED, "unexpected end");
	b = *r->p;
	if (b == 0x40) {
		r->p++;
		return 0;
	}
	if (b == T_I32 || b == T_I64 || b == T_F32 || b == T_F64 || b == T_V128 ||
	    b == WASM_FUNCREF || b == WASM_EXTERNREF) {
		*nr = 1;
		*res = r->p++;
		return 0;
	}
	TRY(wasm_rd_s33(r, &idx));
	if (idx < 0)
		return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed block type");
	if ((uint64_t)idx >= c->m->ntypes)
		return wasm_rd_fail(r, WASM_ERR_INVALID, "unknown type %lld", (long long)idx);
	*np = c->m->types[idx].pub.nparams, *p = c->m->types[idx].pub.params;
	*nr = c->m->types[idx].pub.nresults, *res = c->m->types[idx].pub.results;
	return 0;
}

static void set_unreachable(struct comp *c)
{
	struct ctrl *f = &c->cs[c->ncs - 1];

	while (c->nvs > f->height) {
		struct ventry *e = &c->vs[--c->nvs];
		if (e->kind == K_LOCAL)
			c->nlocalrefs--;
	}
	c->top_slot = f->base;
	f->unreachable = true;
	c->dead = true;
}

/* Moves the top n label values into the slots starting at dst. Entries are not changed
 * (this code may sit on a conditional path). When dst is below the operand stack (a
 * function return into slots 0..), deferred locals that the moves would overwrite are
 * first copied to their home slots and read from there. */
static void emit_label_moves(struct comp *c, uint32_t n, uint32_t dst)
{
	uint32_t first = c->nvs - n, end = dst;

	if (c->dead)
		return;
	for (uint32_t i = first; i < c->nvs; i++)
		end += wasm_type_slots(c->vs[i].type);
	for (uint32_t i = first; i < c->nvs; i++) {
		const struct ventry *e = &c->vs[i];
		if (e->kind == K_LOCAL && dst < c->stack_base && e->src < end)
			emit_copy(c, e->home, e->src, e->type);
	}
	for (uint32_t i = first; i < c->nvs; i++) {
		struct ventry e = c->vs[i];
		if (e.kind == K_LOCAL && dst < c->stack_base && e.src < end)
			e.kind = K_SLOT;
		emit_move(c, dst, &e);
		dst += wasm_type_slots(e.type);
	}
}

static bool label_needs_moves(struct comp *c, uint32_t n, uint32_t dst)
{
	for (uint32_t i = c->nvs - n; i < c->nvs; i++) {
		if (c->vs[i].kind != K_SLOT || c->vs[i].home != dst)
			return true;
		dst += wasm_type_slots(c->vs[i].type);
	}
	return false;
}

static void emit_return(struct comp *c)
{
	emit_label_moves(c, c->ft->pub.nresults, 0);
	emit_op(c, WASM_OP_RETURN);
}

/* Unconditional branch to label depth (values already validated on the stack). */
static void emit_br(struct comp *c, uint32_t depth)
{
	struct ctrl *t = &c->cs[c->ncs - 1 - depth];
	uint32_t n;
	const uint8_t *types;
	uint32_t at;

	if (depth == c->ncs - 1) {
		emit_return(c);
		return;
	}
	label_types(t, &n, &types);
	emit_label_moves(c, n, t->base);
	at = c->n;
	emit_op(c, WASM_OP_BR);
	emit_target(c, t, at);
}

static int rd_label(struct comp *c, uint32_t *depth)
{
	TRY(wasm_rd_u32(c->r, depth));
	if (*depth >= c->ncs)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown label %u", *depth);
	return 0;
}

/* Emits "branch if cond" (negate: "branch if not cond") with an offset word still to be
 * filled; returns the op's code index. Fuses a compare or eqz that was emitted just
 * before into the branch. */
static uint32_t emit_cond_branch(struct comp *c, struct ventry *cond, bool negate)
{
	uint32_t at;

	if (!c->dead && cond->kind == K_SLOT && last_result_is(c, cond->home)) {
		const struct opinfo *oi = NULL;
		uint32_t op = c->last_op, a, w[2];
		bool imm = false, wide = false;

		for (uint32_t i = 0; i < OPINFO_SIZE && !oi; i++) {
			if (opinfo[i].cls == CLS_ICMP && opinfo[i].op == op)
				oi = &opinfo[i], imm = false;
			else if (opinfo[i].cls == CLS_ICMP && opinfo[i].op + 1u == op)
				oi = &opinfo[i], imm = true;
		}
		if (oi) {
			uint32_t base = negate ? oi->neg : oi->op;
			wide = oi->t1 == T_I64;
			a = c->code[c->last_start + 2];
			w[0] = c->code[c->last_start + 3];
			w[1] = imm && wide ? c->code[c->last_start + 4] : 0;
			c->n = c->last_start;
			at = c->n;
			emit_op(c, (enum wasm_op)(base + (imm ? 3u : 2u)));
			emit(c, a);
			emit(c, w[0]);
			if (imm && wide)
				emit(c, w[1]);
			return at;
		}
		if (op == WASM_OP_I32_EQZ || op == WASM_OP_I64_EQZ) {
			bool is64 = op == WASM_OP_I64_EQZ;
			a = c->code[c->last_start + 2];
			c->n = c->last_start;
			at = c->n;
			if (negate)
				emit_op(c, is64 ? WASM_OP_BR_NZ64 : WASM_OP_BR_NZ);
			else
				emit_op(c, is64 ? WASM_OP_BR_Z64 : WASM_OP_BR_Z);
			emit(c, a);
			return at;
		}
	}
	{
		uint32_t s = use_slot(c, cond);
		at = c->n;
		emit_op(c, negate ? WASM_OP_BR_Z : WASM_OP_BR_NZ);
		emit(c, s);
	}
	return at;
}

static int op_block(struct comp *c, uint8_t kind)
{
	uint32_t np, nr;
	const uint8_t *p, *res;
	struct ventry cond = {0};
	uint32_t at = 0;

	TRY(rd_blocktype(c, &np, &p, &nr, &res));
	if (kind == C_IF)
		TRY(pop(c, T_I32, &cond));
	materialize_all(c);
	TRY(pop_types(c, np, p));
	TRY(push_types(c, np, p));
	if (kind == C_IF)
		at = emit_cond_branch(c, &cond, true);
	TRY(push_ctrl(c, kind, np, p, nr, res));
	if (kind == C_LOOP) {
		c->cs[c->ncs - 1].loop_pc = c->n;
		emit_op(c, WASM_OP_LOOP);
	}
	if (kind == C_IF && !c->dead) {
		struct ctrl *f = &c->cs[c->ncs - 1];
		emit(c, 0);
		if (grow_array((void **)&c->fx, &c->capfx, c->nfx + 1, sizeof(*c->fx)))
			return -ENOMEM;
		c->fx[c->nfx] = (struct fixup){c->n - 1, at, 0};
		f->else_fix = ++c->nfx;
	}
	return 0;
}

/* Checks the results at the end of a block arm (already materialised in their slots). */
static int end_arm(struct comp *c)
{
	struct ctrl *f = &c->cs[c->ncs - 1];

	TRY(pop_types(c, f->nresults, f->results));
	if (c->nvs != f->height)
		return mismatch(c, "values remaining on stack at end of block");
	return push_types(c, f->nresults, f->results);
}

static int op_else(struct comp *c)
{
	struct ctrl *f = &c->cs[c->ncs - 1];
	uint32_t at;

	if (f->kind != C_IF)
		return wasm_rd_fail(c->r, WASM_ERR_MALFORMED, "else without if");
	materialize_all(c);
	TRY(end_arm(c));
	at = c->n;
	emit_op(c, WASM_OP_BR);
	emit_target(c, f, at);
	c->dead = f->dead_entry;
	if (f->else_fix) {
		patch_list(c, f->else_fix, c->n);
		f->else_fix = 0;
	}
	c->nvs = f->height;
	c->top_slot = f->base;
	TRY(push_types(c, f->nparams, f->params));
	f->kind = C_ELSE;
	f->unreachable = false;
	c->last_end = UINT32_MAX;
	return 0;
}

static int op_end(struct comp *c, bool *done)
{
	struct ctrl *f = &c->cs[c->ncs - 1];

	if (f->kind == C_FUNC) {
		TRY(check_top(c, f->nresults, f->results));
		if (c->nvs - f->height > f->nresults ||
		    (!f->unreachable && c->nvs - f->height != f->nresults))
			return mismatch(c, "values remaining on stack at end of function");
		emit_return(c);
		c->ncs--;
		*done = true;
		return 0;
	}
	if (f->kind == C_IF && (f->nparams != f->nresults ||
				(f->nparams && memcmp(f->params, f->results, f->nparams))))
		return mismatch(c, "if without else must have matching param and result types");
	materialize_all(c);
	TRY(end_arm(c));
	c->dead = f->dead_entry;
	if (f->else_fix)
		patch_list(c, f->else_fix, c->n);
	patch_list(c, f->fixups, c->n);
	c->ncs--;
	c->last_end = UINT32_MAX;
	return 0;
}

static int op_br(struct comp *c)
{
	uint32_t depth, n;
	const uint8_t *types;

	TRY(rd_label(c, &depth));
	label_types(&c->cs[c->ncs - 1 - depth], &n, &types);
	TRY(check_top(c, n, types));
	emit_br(c, depth);
	set_unreachable(c);
	return 0;
}

static int op_br_if(struct comp *c)
{
	uint32_t depth, n, at, skip;
	const uint8_t *types;
	struct ventry cond;
	struct ctrl *t;

	TRY(rd_label(c, &depth));
	TRY(pop(c, T_I32, &cond));
	t = &c->cs[c->ncs - 1 - depth];
	label_types(t, &n, &types);
	TRY(check_top(c, n, types));
	TRY(refine_top(c, n, types));
	if (c->dead)
		return 0;
	if (depth == c->ncs - 1 || label_needs_moves(c, n, t->base)) {
		at = emit_cond_branch(c, &cond, true);
		emit(c, 0);
		skip = c->n - 1;
		emit_br(c, depth);
		if (!c->oom)
			c->code[skip] = (uint32_t)((int32_t)c->n - (int32_t)at);
	} else {
		at = emit_cond_branch(c, &cond, false);
		emit_target(c, t, at);
	}
	c->last_end = UINT32_MAX;
	return 0;
}

static int op_br_table(struct comp *c)
{
	uint32_t count, def, n, arity, at, tab;
	uint32_t *depths;
	const uint8_t *types;
	struct ventry idx;
	int rc = 0;

	TRY(wasm_rd_u32(c->r, &count));
	if (count > (uint32_t)(c->r->end - c->r->p))
		return wasm_rd_fail(c->r, WASM_ERR_MALFORMED, "unexpected end");
	depths = core_alloc(((size_t)count + 1) * sizeof(uint32_t));
	if (!depths)
		return -ENOMEM;
	for (uint32_t i = 0; i <= count && !rc; i++)
		rc = rd_label(c, &depths[i]);
	if (!rc)
		rc = pop(c, T_I32, &idx);
	if (rc)
		goto out;
	def = depths[count];
	label_types(&c->cs[c->ncs - 1 - def], &arity, &types);
	for (uint32_t i = 0; i <= count && !rc; i++) {
		label_types(&c->cs[c->ncs - 1 - depths[i]], &n, &types);
		if (n != arity)
			rc = mismatch(c, "br_table labels have different arities");
		else
			rc = check_top(c, n, types);
	}
	if (rc || c->dead)
		goto done;
	{
		uint32_t s = use_slot(c, &idx);
		at = c->n;
		emit_op(c, WASM_OP_BR_TABLE);
		emit(c, s);
		emit(c, count);
	}
	tab = c->n;
	for (uint32_t i = 0; i <= count; i++)
		emit(c, 0);
	for (uint32_t i = 0; i <= count && !c->oom; i++) {
		struct ctrl *t = &c->cs[c->ncs - 1 - depths[i]];
		if (depths[i] != c->ncs - 1 && !label_needs_moves(c, arity, t->base)) {
			if (t->kind == C_LOOP) {
				c->code[tab + i] = (uint32_t)((int32_t)t->loop_pc - (int32_t)at);
			} else if (grow_array((void **)&c->fx, &c->capfx, c->nfx + 1,
					      sizeof(*c->fx))) {
				c->oom = true;
			} else {
				c->fx[c->nfx] = (struct fixup){tab + i, at, t->fixups};
				t->fixups = ++c->nfx;
			}
			continue;
		}
		c->code[tab + i] = (uint32_t)((int32_t)c->n - (int32_t)at);
		emit_br(c, depths[i]);
	}
done:
	set_unreachable(c);
out:
	core_free(depths);
	return rc;
}

static int op_return(struct comp *c)
{
	TRY(check_top(c, c->ft->pub.nresults, c->ft->pub.results));
	emit_return(c);
	set_unreachable(c);
	return 0;
}

/* ----- calls ----- */

/* Materialises the top n entries (call arguments) and returns the first one's slot. */
static uint32_t args_base(struct comp *c, uint32_t n)
{
	for (uint32_t i = c->nvs - n; i < c->nvs; i++)
		materialize(c, &c->vs[i]);
	return n ? c->vs[c->nvs - n].home : c->top_slot;
}

static int call_common(struct comp *c, const struct wasm_ftype *t, uint32_t *base)
{
	TRY(check_top(c, t->pub.nparams, t->pub.params));
	if (!c->dead && c->nvs - c->cs[c->ncs - 1].height >= t->pub.nparams)
		*base = args_base(c, t->pub.nparams);
	else
		*base = c->top_slot;
	TRY(pop_types(c, t->pub.nparams, t->pub.params));
	*base = c->dead ? c->top_slot : *base;
	return 0;
}

static int op_call(struct comp *c)
{
	uint32_t f, base;
	const struct wasm_ftype *t;

	TRY(wasm_rd_u32(c->r, &f));
	if (f >= c->m->nfuncs)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown function %u", f);
	t = &c->m->types[c->m->func_type[f]];
	TRY(call_common(c, t, &base));
	emit_op(c, WASM_OP_CALL);
	emit(c, f);
	emit(c, base);
	TRY(push_types(c, t->pub.nresults, t->pub.results));
	c->last_end = UINT32_MAX;
	return 0;
}

static int op_call_indirect(struct comp *c)
{
	uint32_t ti, table, base, is;
	const struct wasm_ftype *t;
	struct ventry idx;

	TRY(wasm_rd_u32(c->r, &ti));
	TRY(wasm_rd_u32(c->r, &table));
	if (ti >= c->m->ntypes)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown type %u", ti);
	if (table >= c->m->ntables)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown table %u", table);
	if (c->m->tables[table].elem != WASM_FUNCREF)
		return mismatch(c, "call_indirect on a table of externref");
	t = &c->m->types[ti];
	TRY(pop(c, T_I32, &idx));
	is = use_slot(c, &idx);
	TRY(call_common(c, t, &base));
	emit_op(c, WASM_OP_CALL_INDIRECT);
	emit(c, c->m->type_canon[ti]);
	emit(c, table);
	emit(c, is);
	emit(c, base);
	TRY(push_types(c, t->pub.nresults, t->pub.results));
	c->last_end = UINT32_MAX;
	return 0;
}

/* ----- variables ----- */

static int rd_local(struct comp *c, uint32_t *x)
{
	TRY(wasm_rd_u32(c->r, x));
	if (*x >= c->nlocals)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown local %u", *x);
	return 0;
}

static bool has_local_refs(struct comp *c, uint32_t slot)
{
	if (!c->nlocalrefs)
		return false;
	for (uint32_t i = 0; i < c->nvs; i++)
		if (c->vs[i].kind == K_LOCAL && c->vs[i].src == slot)
			return true;
	return false;
}

static int op_local_get(struct comp *c)
{
	uint32_t x;
	struct ventry *e;

	TRY(rd_local(c, &x));
	TRY(push(c, c->ltype[x], &e));
	e->kind = K_LOCAL;
	e->src = c->lslot[x];
	c->nlocalrefs++;
	return 0;
}

static int op_local_set(struct comp *c, bool tee)
{
	uint32_t x, slot;
	struct ventry v;

	TRY(rd_local(c, &x));
	TRY(pop(c, c->ltype[x], &v));
	slot = c->lslot[x];
	if (!c->dead) {
		if (v.kind == K_SLOT && last_result_is(c, v.home) && !has_local_refs(c, slot)) {
			c->code[c->last_dst_at] = slot;
			c->last_end = UINT32_MAX;
		} else {
			materialize_local(c, slot);
			emit_move(c, slot, &v);
		}
	}
	if (tee) {
		struct ventry *e;
		TRY(push(c, c->ltype[x], &e));
		e->kind = K_LOCAL;
		e->src = slot;
		c->nlocalrefs++;
	}
	return 0;
}

static int rd_global(struct comp *c, uint32_t *x)
{
	TRY(wasm_rd_u32(c->r, x));
	if (*x >= c->m->nglobals)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown global %u", *x);
	return 0;
}

static int op_global_get(struct comp *c)
{
	uint32_t x, d, at = c->n;
	uint8_t t;

	TRY(rd_global(c, &x));
	t = c->m->globals[x].type;
	TRY(push_result(c, t, &d));
	emit_op(c, t == T_V128 ? WASM_OP_GLOBAL_GET2 : WASM_OP_GLOBAL_GET);
	emit(c, d);
	emit(c, x);
	mark_result(c, at, WASM_OP_GLOBAL_GET, at + 1);
	return 0;
}

static int op_global_set(struct comp *c)
{
	uint32_t x, s;
	struct ventry v;
	uint8_t t;

	TRY(rd_global(c, &x));
	if (!c->m->globals[x].mut)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "global is immutable: %u", x);
	t = c->m->globals[x].type;
	TRY(pop(c, t, &v));
	s = use_slot(c, &v);
	emit_op(c, t == T_V128 ? WASM_OP_GLOBAL_SET2 : WASM_OP_GLOBAL_SET);
	emit(c, x);
	emit(c, s);
	return 0;
}

/* ----- parametric ----- */

static bool is_num_or_vec(uint8_t t)
{
	return t == T_I32 || t == T_I64 || t == T_F32 || t == T_F64 || t == T_V128 ||
	       t == T_UNKNOWN;
}

static int op_select(struct comp *c, bool typed)
{
	struct ventry cond, a, b;
	uint8_t t = T_UNKNOWN;
	uint32_t d, sa, sb, sc, at;

	if (typed) {
		uint32_t n;
		TRY(wasm_rd_u32(c->r, &n));
		if (n != 1)
			return wasm_rd_fail(c->r, WASM_ERR_INVALID, "invalid result arity");
		TRY(wasm_rd_valtype(c->r, &t));
	}
	TRY(pop(c, T_I32, &cond));
	TRY(pop(c, t, &b));
	TRY(pop(c, t == T_UNKNOWN ? b.type : t, &a));
	if (t == T_UNKNOWN) {
		t = a.type != T_UNKNOWN ? a.type : b.type;
		if (!is_num_or_vec(a.type) || !is_num_or_vec(b.type))
			return mismatch(c, "select without type needs numeric operands");
	}
	sc = use_slot(c, &cond);
	sb = use_slot(c, &b);
	sa = use_slot(c, &a);
	TRY(push_result(c, t, &d));
	at = c->n;
	emit_op(c, t == T_V128 ? WASM_OP_SELECT2 : WASM_OP_SELECT);
	emit(c, d);
	emit(c, sa);
	emit(c, sb);
	emit(c, sc);
	mark_result(c, at, WASM_OP_SELECT, at + 1);
	return 0;
}

/* ----- memory ----- */

static int need_memory(struct comp *c)
{
	if (c->m->nmems == 0)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown memory 0");
	return 0;
}

static int rd_zero(struct comp *c)
{
	uint8_t b;

	TRY(wasm_rd_u8(c->r, &b));
	if (b != 0)
		return wasm_rd_fail(c->r, WASM_ERR_MALFORMED, "zero byte expected");
	return 0;
}

static int rd_memarg(struct comp *c, uint8_t natural, uint32_t *offset)
{
	uint32_t align;

	TRY(wasm_rd_memarg(c->r, &align, offset));
	TRY(need_memory(c));
	if (align > natural)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID,
				    "alignment must not be larger than natural");
	return 0;
}

static int op_load(struct comp *c, const struct opinfo *oi)
{
	uint32_t off, d, a, at;
	struct ventry addr;

	TRY(rd_memarg(c, oi->imm, &off));
	TRY(pop(c, T_I32, &addr));
	a = use_slot(c, &addr);
	TRY(push_result(c, oi->tout, &d));
	at = c->n;
	emit_op(c, oi->op);
	emit(c, d);
	emit(c, a);
	emit(c, off);
	mark_result(c, at, oi->op, at + 1);
	return 0;
}

static int op_store(struct comp *c, const struct opinfo *oi)
{
	uint32_t off, a, v;
	struct ventry addr, val;

	TRY(rd_memarg(c, oi->imm, &off));
	TRY(pop(c, oi->t2, &val));
	TRY(pop(c, T_I32, &addr));
	v = use_slot(c, &val);
	a = use_slot(c, &addr);
	emit_op(c, oi->op);
	emit(c, a);
	emit(c, v);
	emit(c, off);
	return 0;
}

static int need_datacount(struct comp *c, uint32_t seg)
{
	if (!c->m->has_datacount)
		return wasm_rd_fail(c->r, WASM_ERR_MALFORMED, "data count section required");
	if (seg >= c->m->datacount)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown data segment %u", seg);
	return 0;
}

/* Ops whose operands are all i32 and that are laid out [imm.. operands..]. The slots are
 * emitted after the immediates, so the op word must go first: we pop into temporaries. */
static int op_mem_misc(struct comp *c, uint32_t sp)
{
	uint32_t seg = 0, d;
	struct ventry e;

	switch (sp) {
	case S_MEMORY_SIZE:
		TRY(rd_zero(c));
		TRY(need_memory(c));
		TRY(push_result(c, T_I32, &d));
		emit_op(c, WASM_OP_MEMORY_SIZE);
		emit(c, d);
		return 0;
	case S_MEMORY_GROW: {
		uint32_t a;
		TRY(rd_zero(c));
		TRY(need_memory(c));
		TRY(pop(c, T_I32, &e));
		a = use_slot(c, &e);
		TRY(push_result(c, T_I32, &d));
		emit_op(c, WASM_OP_MEMORY_GROW);
		emit(c, d);
		emit(c, a);
		return 0;
	}
	case S_MEMORY_INIT: {
		struct ventry v[3];
		uint32_t s[3];
		TRY(wasm_rd_u32(c->r, &seg));
		TRY(need_datacount(c, seg));
		TRY(rd_zero(c));
		TRY(need_memory(c));
		for (int i = 2; i >= 0; i--)
			TRY(pop(c, T_I32, &v[i]));
		for (int i = 0; i < 3; i++)
			s[i] = use_slot(c, &v[i]);
		emit_op(c, WASM_OP_MEMORY_INIT);
		emit(c, seg);
		for (int i = 0; i < 3; i++)
			emit(c, s[i]);
		return 0;
	}
	case S_DATA_DROP:
		TRY(wasm_rd_u32(c->r, &seg));
		TRY(need_datacount(c, seg));
		emit_op(c, WASM_OP_DATA_DROP);
		emit(c, seg);
		return 0;
	case S_MEMORY_COPY: {
		struct ventry v[3];
		uint32_t s[3];
		TRY(rd_zero(c));
		TRY(rd_zero(c));
		TRY(need_memory(c));
		for (int i = 2; i >= 0; i--)
			TRY(pop(c, T_I32, &v[i]));
		for (int i = 0; i < 3; i++)
			s[i] = use_slot(c, &v[i]);
		emit_op(c, WASM_OP_MEMORY_COPY);
		for (int i = 0; i < 3; i++)
			emit(c, s[i]);
		return 0;
	}
	case S_MEMORY_FILL: {
		struct ventry v[3];
		uint32_t s[3];
		TRY(rd_zero(c));
		TRY(need_memory(c));
		for (int i = 2; i >= 0; i--)
			TRY(pop(c, T_I32, &v[i]));
		for (int i = 0; i < 3; i++)
			s[i] = use_slot(c, &v[i]);
		emit_op(c, WASM_OP_MEMORY_FILL);
		for (int i = 0; i < 3; i++)
			emit(c, s[i]);
		return 0;
	}
	}
	return -EINVAL;
}

/* ----- tables and references ----- */

static int rd_table(struct comp *c, uint32_t *x)
{
	TRY(wasm_rd_u32(c->r, x));
	if (*x >= c->m->ntables)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown table %u", *x);
	return 0;
}

static int rd_elem(struct comp *c, uint32_t *x)
{
	TRY(wasm_rd_u32(c->r, x));
	if (*x >= c->m->nelems)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown elem segment %u", *x);
	return 0;
}

/* Pops operands of the given types (in stack order) and returns their slots. */
static int pop_operands(struct comp *c, uint32_t n, const uint8_t *types, uint32_t *slots)
{
	struct ventry e[4];

	for (uint32_t i = n; i-- > 0;)
		TRY(pop(c, types[i], &e[i]));
	for (uint32_t i = 0; i < n; i++)
		slots[i] = use_slot(c, &e[i]);
	return 0;
}

static int op_table(struct comp *c, uint32_t sp)
{
	uint32_t x, y, d, s[4];
	uint8_t t;

	switch (sp) {
	case S_TABLE_GET:
		TRY(rd_table(c, &x));
		TRY(pop_operands(c, 1, (const uint8_t[]){T_I32}, s));
		TRY(push_result(c, c->m->tables[x].elem, &d));
		emit_op(c, WASM_OP_TABLE_GET);
		emit(c, d), emit(c, x), emit(c, s[0]);
		return 0;
	case S_TABLE_SET:
		TRY(rd_table(c, &x));
		t = c->m->tables[x].elem;
		TRY(pop_operands(c, 2, (const uint8_t[]){T_I32, t}, s));
		emit_op(c, WASM_OP_TABLE_SET);
		emit(c, x), emit(c, s[0]), emit(c, s[1]);
		return 0;
	case S_TABLE_SIZE:
		TRY(rd_table(c, &x));
		TRY(push_result(c, T_I32, &d));
		emit_op(c, WASM_OP_TABLE_SIZE);
		emit(c, d), emit(c, x);
		return 0;
	case S_TABLE_GROW:
		TRY(rd_table(c, &x));
		t = c->m->tables[x].elem;
		TRY(pop_operands(c, 2, (const uint8_t[]){t, T_I32}, s));
		TRY(push_result(c, T_I32, &d));
		emit_op(c, WASM_OP_TABLE_GROW);
		emit(c, d), emit(c, x), emit(c, s[0]), emit(c, s[1]);
		return 0;
	case S_TABLE_FILL:
		TRY(rd_table(c, &x));
		t = c->m->tables[x].elem;
		TRY(pop_operands(c, 3, (const uint8_t[]){T_I32, t, T_I32}, s));
		emit_op(c, WASM_OP_TABLE_FILL);
		emit(c, x), emit(c, s[0]), emit(c, s[1]), emit(c, s[2]);
		return 0;
	case S_TABLE_COPY:
		TRY(rd_table(c, &x));
		TRY(rd_table(c, &y));
		if (c->m->tables[x].elem != c->m->tables[y].elem)
			return mismatch(c, "table.copy between tables of different types");
		TRY(pop_operands(c, 3, (const uint8_t[]){T_I32, T_I32, T_I32}, s));
		emit_op(c, WASM_OP_TABLE_COPY);
		emit(c, x), emit(c, y), emit(c, s[0]), emit(c, s[1]), emit(c, s[2]);
		return 0;
	case S_TABLE_INIT:
		TRY(rd_elem(c, &y));
		TRY(rd_table(c, &x));
		if (c->m->tables[x].elem != c->m->elems[y].type)
			return mismatch(c, "table.init from a segment of another type");
		TRY(pop_operands(c, 3, (const uint8_t[]){T_I32, T_I32, T_I32}, s));
		emit_op(c, WASM_OP_TABLE_INIT);
		emit(c, y), emit(c, x), emit(c, s[0]), emit(c, s[1]), emit(c, s[2]);
		return 0;
	case S_ELEM_DROP:
		TRY(rd_elem(c, &y));
		emit_op(c, WASM_OP_ELEM_DROP);
		emit(c, y);
		return 0;
	}
	return -EINVAL;
}

static int op_ref(struct comp *c, uint32_t sp)
{
	struct ventry *e, v;
	uint32_t x, d, a;
	uint8_t t;

	switch (sp) {
	case S_REF_NULL:
		TRY(wasm_rd_u8(c->r, &t));
		if (!wasm_is_reftype(t))
			return wasm_rd_fail(c->r, WASM_ERR_MALFORMED, "malformed reference type");
		TRY(push(c, t, &e));
		e->kind = K_CONST;
		e->c = 0;
		return 0;
	case S_REF_IS_NULL:
		TRY(pop(c, T_UNKNOWN, &v));
		if (v.type != T_UNKNOWN && !wasm_is_reftype(v.type))
			return mismatch(c, "ref.is_null needs a reference");
		a = use_slot(c, &v);
		TRY(push_result(c, T_I32, &d));
		emit_op(c, WASM_OP_REF_IS_NULL);
		emit(c, d), emit(c, a);
		return 0;
	case S_REF_FUNC:
		TRY(wasm_rd_u32(c->r, &x));
		if (x >= c->m->nfuncs)
			return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown function %u", x);
		if (!c->m->declared[x])
			return wasm_rd_fail(c->r, WASM_ERR_INVALID,
					    "undeclared function reference");
		TRY(push_result(c, WASM_FUNCREF, &d));
		emit_op(c, WASM_OP_REF_FUNC);
		emit(c, d), emit(c, x);
		return 0;
	}
	return -EINVAL;
}

/* ----- constants ----- */

static int op_const(struct comp *c, uint32_t sp)
{
	struct ventry *e;
	uint8_t t;
	uint64_t v = 0;

	switch (sp) {
	case S_I32_CONST: {
		int32_t x;
		TRY(wasm_rd_s32(c->r, &x));
		t = T_I32, v = (uint32_t)x;
		break;
	}
	case S_I64_CONST: {
		int64_t x;
		TRY(wasm_rd_s64(c->r, &x));
		t = T_I64, v = (uint64_t)x;
		break;
	}
	default: {
		const uint8_t *b;
		size_t n = sp == S_F32_CONST ? 4 : 8;
		TRY(wasm_rd_bytes(c->r, n, &b));
		memcpy(&v, b, n);
		t = sp == S_F32_CONST ? T_F32 : T_F64;
		break;
	}
	}
	TRY(push(c, t, &e));
	e->kind = K_CONST;
	e->c = v;
	return 0;
}

/* ----- numeric classes ----- */

static int op_numeric(struct comp *c, const struct opinfo *oi)
{
	struct ventry a, b;
	uint32_t d, sa, sb, at;

	if (oi->cls == CLS_UN || oi->cls == CLS_TUN) {
		TRY(pop(c, oi->t1, &a));
		sa = use_slot(c, &a);
		TRY(push_result(c, oi->tout, &d));
		at = c->n;
		emit_op(c, oi->op);
		emit(c, d), emit(c, sa);
		mark_result(c, at, oi->op, at + 1);
		return 0;
	}
	TRY(pop(c, oi->t2, &b));
	TRY(pop(c, oi->t1, &a));
	at = c->n;
	if ((oi->cls == CLS_IBIN || oi->cls == CLS_ICMP) && b.kind == K_CONST && !c->dead) {
		sa = use_slot(c, &a);
		TRY(push_result(c, oi->tout, &d));
		at = c->n;
		emit_op(c, (enum wasm_op)(oi->op + 1));
		emit(c, d), emit(c, sa);
		if (oi->t1 == T_I64)
			emit_u64(c, b.c);
		else
			emit(c, (uint32_t)b.c);
		mark_result(c, at, oi->op + 1u, at + 1);
		return 0;
	}
	sb = use_slot(c, &b);
	sa = use_slot(c, &a);
	TRY(push_result(c, oi->tout, &d));
	at = c->n;
	emit_op(c, oi->op);
	emit(c, d), emit(c, sa), emit(c, sb);
	mark_result(c, at, oi->op, at + 1);
	return 0;
}

static int op_tern(struct comp *c, const struct opinfo *oi)
{
	struct ventry v[3];
	uint32_t s[3], d, at;

	for (int i = 2; i >= 0; i--)
		TRY(pop(c, T_V128, &v[i]));
	for (int i = 0; i < 3; i++)
		s[i] = use_slot(c, &v[i]);
	TRY(push_result(c, T_V128, &d));
	at = c->n;
	emit_op(c, oi->op);
	emit(c, d), emit(c, s[0]), emit(c, s[1]), emit(c, s[2]);
	mark_result(c, at, oi->op, at + 1);
	return 0;
}

static int rd_lane(struct comp *c, uint8_t lanes, uint32_t *lane)
{
	uint8_t b = 0;

	*lane = 0;
	TRY(wasm_rd_u8(c->r, &b));
	if (b >= lanes)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "invalid lane index %u", b);
	*lane = b;
	return 0;
}

static int op_lane(struct comp *c, const struct opinfo *oi)
{
	struct ventry a, b;
	uint32_t lane, d, sa, sb = 0, at;

	TRY(rd_lane(c, oi->imm, &lane));
	if (oi->cls == CLS_REPLACE)
		TRY(pop(c, oi->t2, &b));
	TRY(pop(c, T_V128, &a));
	if (oi->cls == CLS_REPLACE)
		sb = use_slot(c, &b);
	sa = use_slot(c, &a);
	TRY(push_result(c, oi->tout, &d));
	at = c->n;
	emit_op(c, oi->op);
	emit(c, d), emit(c, sa);
	if (oi->cls == CLS_REPLACE)
		emit(c, sb);
	emit(c, lane);
	mark_result(c, at, oi->op, at + 1);
	return 0;
}

static int op_lanemem(struct comp *c, const struct opinfo *oi)
{
	struct ventry addr, v;
	uint32_t off, lane, sa, sv, d;

	TRY(rd_memarg(c, lanemem_align(oi->imm), &off));
	TRY(rd_lane(c, oi->imm, &lane));
	TRY(pop(c, T_V128, &v));
	TRY(pop(c, T_I32, &addr));
	sv = use_slot(c, &v);
	sa = use_slot(c, &addr);
	if (oi->store) {
		emit_op(c, oi->op);
		emit(c, sv), emit(c, sa), emit(c, off), emit(c, lane);
		return 0;
	}
	TRY(push_result(c, T_V128, &d));
	emit_op(c, oi->op);
	emit(c, d), emit(c, sv), emit(c, sa), emit(c, off), emit(c, lane);
	return 0;
}

static int op_simd_special(struct comp *c, uint32_t code)
{
	uint32_t d, sa, sb, at;
	struct ventry a, b;
	const uint8_t *bytes;
	uint32_t w[4];

	if (code == 0x0c) { /* v128.const */
		TRY(wasm_rd_bytes(c->r, 16, &bytes));
		memcpy(w, bytes, 16);
		TRY(push_result(c, T_V128, &d));
		emit_op(c, WASM_OP_CONST128);
		emit(c, d);
		for (int i = 0; i < 4; i++)
			emit(c, w[i]);
		return 0;
	}
	/* i8x16.shuffle */
	TRY(wasm_rd_bytes(c->r, 16, &bytes));
	for (int i = 0; i < 16; i++)
		if (bytes[i] >= 32)
			return wasm_rd_fail(c->r, WASM_ERR_INVALID, "invalid lane index %u",
					    bytes[i]);
	memcpy(w, bytes, 16);
	TRY(pop(c, T_V128, &b));
	TRY(pop(c, T_V128, &a));
	sb = use_slot(c, &b);
	sa = use_slot(c, &a);
	TRY(push_result(c, T_V128, &d));
	at = c->n;
	emit_op(c, WASM_OP_SHUFFLE);
	emit(c, d), emit(c, sa), emit(c, sb);
	for (int i = 0; i < 4; i++)
		emit(c, w[i]);
	mark_result(c, at, WASM_OP_SHUFFLE, at + 1);
	return 0;
}

/* ----- dispatch ----- */

static int op_special(struct comp *c, uint32_t sp, bool *done)
{
	switch (sp) {
	case S_UNREACHABLE:
		emit_op(c, WASM_OP_UNREACHABLE);
		set_unreachable(c);
		return 0;
	case S_NOP:
		return 0;
	case S_BLOCK:
		return op_block(c, C_BLOCK);
	case S_LOOP:
		return op_block(c, C_LOOP);
	case S_IF:
		return op_block(c, C_IF);
	case S_ELSE:
		return op_else(c);
	case S_END:
		return op_end(c, done);
	case S_BR:
		return op_br(c);
	case S_BR_IF:
		return op_br_if(c);
	case S_BR_TABLE:
		return op_br_table(c);
	case S_RETURN:
		return op_return(c);
	case S_CALL:
		return op_call(c);
	case S_CALL_INDIRECT:
		return op_call_indirect(c);
	case S_DROP: {
		struct ventry e;
		return pop(c, T_UNKNOWN, &e);
	}
	case S_SELECT:
		return op_select(c, false);
	case S_SELECT_T:
		return op_select(c, true);
	case S_LOCAL_GET:
		return op_local_get(c);
	case S_LOCAL_SET:
		return op_local_set(c, false);
	case S_LOCAL_TEE:
		return op_local_set(c, true);
	case S_GLOBAL_GET:
		return op_global_get(c);
	case S_GLOBAL_SET:
		return op_global_set(c);
	case S_TABLE_GET:
	case S_TABLE_SET:
	case S_TABLE_SIZE:
	case S_TABLE_GROW:
	case S_TABLE_FILL:
	case S_TABLE_COPY:
	case S_TABLE_INIT:
	case S_ELEM_DROP:
		return op_table(c, sp);
	case S_MEMORY_SIZE:
	case S_MEMORY_GROW:
	case S_MEMORY_INIT:
	case S_DATA_DROP:
	case S_MEMORY_COPY:
	case S_MEMORY_FILL:
		return op_mem_misc(c, sp);
	case S_I32_CONST:
	case S_I64_CONST:
	case S_F32_CONST:
	case S_F64_CONST:
		return op_const(c, sp);
	case S_REF_NULL:
	case S_REF_IS_NULL:
	case S_REF_FUNC:
		return op_ref(c, sp);
	}
	return -EINVAL;
}

static int rd_opcode(struct comp *c, uint32_t *idx)
{
	uint8_t b;
	uint32_t sub;

	*idx = 0;
	TRY(wasm_rd_u8(c->r, &b));
	if (b != 0xfc && b != 0xfd) {
		*idx = b;
	} else {
		TRY(wasm_rd_u32(c->r, &sub));
		if (sub >= 0x120)
			return wasm_rd_fail(c->r, WASM_ERR_MALFORMED, "illegal opcode 0x%02x 0x%x",
					    b, sub);
		*idx = (b == 0xfc ? PBASE_PFC : PBASE_PFD) + sub;
	}
	if (opinfo[*idx].cls == CLS_NONE && !(*idx == PBASE_PFD + 0x0c || *idx == PBASE_PFD + 0x0d))
		return wasm_rd_fail(c->r, WASM_ERR_MALFORMED, "illegal opcode 0x%x", *idx);
	return 0;
}

static int compile_instr(struct comp *c, uint32_t idx, bool *done)
{
	const struct opinfo *oi = &opinfo[idx];

	if (idx == PBASE_PFD + 0x0c || idx == PBASE_PFD + 0x0d)
		return op_simd_special(c, idx - PBASE_PFD);
	switch (oi->cls) {
	case CLS_SPECIAL:
		return op_special(c, oi->op, done);
	case CLS_LOAD:
		return op_load(c, oi);
	case CLS_STORE:
		return op_store(c, oi);
	case CLS_TERN:
		return op_tern(c, oi);
	case CLS_EXTRACT:
	case CLS_REPLACE:
		return op_lane(c, oi);
	case CLS_LANEMEM:
		return op_lanemem(c, oi);
	default:
		return op_numeric(c, oi);
	}
}

static void add_map(struct comp *c, uint32_t off)
{
	if (c->dead)
		return;
	if (c->nmap && c->map[c->nmap - 1].pc == c->n) {
		c->map[c->nmap - 1].off = off;
		return;
	}
	if (grow_array((void **)&c->map, &c->capmap, c->nmap + 1, sizeof(*c->map))) {
		c->oom = true;
		return;
	}
	c->map[c->nmap++] = (struct wasm_pcmap){c->n, off};
}

static int rd_locals(struct comp *c, uint32_t fidx)
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
		uint8_t ty;
		TRY(wasm_rd_u32(r, &n));
		TRY(wasm_rd_valtype(r, &ty));
		total += n;
		if (total > WASM_MAX_LOCALS)
			return wasm_rd_fail(r, WASM_ERR_MALFORMED, "too many locals");
	}
	c->nlocals = (uint32_t)total;
	c->ltype = core_alloc(total ? total : 1);
	c->lslot = core_alloc((total ? total : 1) * sizeof(uint32_t));
	if (!c->ltype || !c->lslot)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->pub.nparams; i++)
		c->ltype[i] = t->pub.params[i];
	r->p = save;
	for (uint32_t i = 0, k = t->pub.nparams; i < ngroups; i++) {
		uint32_t n;
		uint8_t ty;
		TRY(wasm_rd_u32(r, &n));
		TRY(wasm_rd_valtype(r, &ty));
		while (n--)
			c->ltype[k++] = ty;
	}
	for (uint32_t i = 0; i < c->nlocals; i++) {
		c->lslot[i] = slot;
		slot += wasm_type_slots(c->ltype[i]);
	}
	c->stack_base = slot;
	return 0;
}

static int compile_body(struct comp *c, uint32_t fidx)
{
	bool done = false;

	TRY(rd_locals(c, fidx));
	c->top_slot = c->max_slot = c->stack_base;
	TRY(push_ctrl(c, C_FUNC, 0, NULL, c->ft->pub.nresults, c->ft->pub.results));
	c->last_end = UINT32_MAX;
	while (!done) {
		uint32_t idx, off = (uint32_t)(c->r->p - c->r->base);
		if (c->r->p >= c->r->end)
			return wasm_rd_fail(
				c->r, WASM_ERR_MALFORMED,
				"unexpected end of function body (END opcode expected)");
		add_map(c, off);
		TRY(rd_opcode(c, &idx));
		TRY(compile_instr(c, idx, &done));
		if (c->oom)
			return -ENOMEM;
	}
	if (c->r->p != c->r->end)
		return wasm_rd_fail(c->r, WASM_ERR_MALFORMED,
				    "section size mismatch (code after function end)");
	return 0;
}

int wasm_compile_func(struct wasm_module *m, uint32_t fidx, struct wasm_reader *r)
{
	struct comp c;
	struct wasm_code *code = &m->codes[fidx - m->nfunc_imports];
	int rc;

	memset(&c, 0, sizeof(c));
	c.m = m;
	c.r = r;
	c.ft = &m->types[m->func_type[fidx]];
	c.disp = wasm_exec_dispatch();
	rc = compile_body(&c, fidx);
	if (rc == -ENOMEM || c.oom)
		rc = wasm_rd_fail(r, WASM_ERR_NOMEM, "out of memory");
	if (rc == 0) {
		code->ops = c.code;
		code->nops = c.n;
		code->map = c.map;
		code->nmap = c.nmap;
		code->param_slots = c.ft->param_slots;
		code->local_slots = c.stack_base - c.ft->param_slots;
		code->frame_slots =
			c.max_slot > c.ft->result_slots ? c.max_slot : c.ft->result_slots;
		c.code = NULL;
		c.map = NULL;
	}
	core_free(c.code);
	core_free(c.map);
	core_free(c.fx);
	core_free(c.cs);
	core_free(c.vs);
	core_free(c.lslot);
	core_free(c.ltype);
	return rc;
}

void wasm_code_fini(struct wasm_code *code)
{
	core_free(code->ops);
	core_free(code->map);
	code->ops = NULL;
	code->map = NULL;
}
