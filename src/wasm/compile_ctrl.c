/*
 * Compilation of control instructions (Wasm core 2.0, 3.3.8 and 5.4.1): blocks, loops,
 * if/else, branches (br, br_if, br_table with their label value moves), return and
 * calls. Labels are resolved with forward patch lists (struct wasm_cc_fixup); loops branch
 * backwards to their header. A compare or eqz emitted just before a conditional branch is
 * fused into it. Nothing here recurses on the host stack.
 */
#include "wasm/compile.h"

#include "core/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ----- branch patching ----- */

static void add_fixup(struct wasm_cc *c, struct wasm_cc_ctrl *target, uint32_t op_at)
{
	if (c->dead)
		return;
	if (wasm_cc_grow_array((void **)&c->fx, &c->capfx, c->nfx + 1, sizeof(*c->fx))) {
		c->oom = true;
		return;
	}
	c->fx[c->nfx] = (struct wasm_cc_fixup){c->n - 1, op_at, target->fixups};
	target->fixups = ++c->nfx;
}

static void patch_list(struct wasm_cc *c, uint32_t head, uint32_t dest)
{
	while (head) {
		struct wasm_cc_fixup *f = &c->fx[head - 1];
		c->code[f->word] = (uint32_t)((int32_t)dest - (int32_t)f->op);
		head = f->next;
	}
}

/* Emits the offset word of a branch at op_at to the label of ctrl t. */
static void emit_target(struct wasm_cc *c, struct wasm_cc_ctrl *t, uint32_t op_at)
{
	if (t->kind == C_LOOP) {
		wasm_cc_emit(c, (uint32_t)((int32_t)t->loop_pc - (int32_t)op_at));
		return;
	}
	wasm_cc_emit(c, 0);
	add_fixup(c, t, op_at);
}

int wasm_cc_push_ctrl(struct wasm_cc *c, uint8_t kind, uint32_t np, const wasm_vt *p, uint32_t nr,
		      const wasm_vt *res)
{
	struct wasm_cc_ctrl *f, *old = c->cs;

	/* c->cs[0] is the function's own frame: c->ncs - 1 blocks enclose this one */
	if (c->ncs > WASM_MAX_NESTING)
		return wasm_rd_fail(c->r, WASM_ERR_LIMIT, WASM_NESTING_MSG, WASM_MAX_NESTING);
	if (wasm_cc_grow_array((void **)&c->cs, &c->capcs, c->ncs + 1, sizeof(*c->cs)))
		return -ENOMEM;
	for (uint32_t i = 0; c->cs != old && i < c->ncs; i++) /* the array moved */
		if (c->cs[i].results_one)
			c->cs[i].results = &c->cs[i].one;
	f = &c->cs[c->ncs++];
	if (nr == 1 && res == NULL) {
		/* a block type of one value: it is in c->one, passed as res == NULL */
		f->one = c->one;
		f->results_one = true;
	} else {
		f->results_one = false;
	}
	f->kind = kind;
	f->inits = c->ninit;
	f->unreachable = false;
	f->loop_pc = f->fixups = f->else_fix = 0;
	f->hd0 = f->hn = 0;
	f->dead_entry = c->dead;
	f->nparams = np, f->params = p;
	f->nresults = nr, f->results = f->results_one ? &f->one : res;
	f->height = c->nvs - np;
	f->base = np ? c->vs[f->height].home : c->top_slot;
	return 0;
}

/* ----- blocks and branches ----- */

/* At a block's end (or else): the locals set inside it count as unset again. */
static void reset_inits(struct wasm_cc *c, uint32_t to)
{
	while (c->ninit > to)
		c->lset[c->init[--c->ninit]] = false;
}

static void label_types(const struct wasm_cc_ctrl *f, uint32_t *n, const wasm_vt **types)
{
	if (f->kind == C_LOOP) {
		*n = f->nparams, *types = f->params;
	} else {
		*n = f->nresults, *types = f->results;
	}
}

/* Reads a block type (5.4.1): empty, one value type, or a type index. */
static int rd_blocktype(struct wasm_cc *c, uint32_t *np, const wasm_vt **p, uint32_t *nr,
			const wasm_vt **res)
{
	struct wasm_reader *r = c->r;
	int64_t idx;
	uint8_t b;

	*np = 0, *p = NULL, *nr = 0, *res = NULL;
	if (r->p >= r->end)
		return wasm_rd_eof(r);
	b = *r->p;
	if (b == 0x40) {
		r->p++;
		return 0;
	}
	if (b == T_I32 || b == T_I64 || b == T_F32 || b == T_F64 || b == T_V128 ||
	    b == WASM_FUNCREF || b == WASM_EXTERNREF || b == 0x63 || b == 0x64 ||
	    b == WASM_HT_NOFUNC || b == WASM_HT_NOEXTERN || b == WASM_HT_EXN ||
	    b == WASM_HT_NOEXN || b == WASM_HT_ANY || b == WASM_HT_EQ || b == WASM_HT_I31 ||
	    b == WASM_HT_STRUCT || b == WASM_HT_ARRAY || b == WASM_HT_NONE) {
		/* one value type: push_ctrl takes it from c->one (res NULL) */
		TRY(wasm_rd_valtype(r, c->m, &c->one));
		*nr = 1;
		return 0;
	}
	TRY(wasm_rd_s33(r, &idx));
	if (idx < 0)
		return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed block type");
	if ((uint64_t)idx >= c->m->ntypes)
		return wasm_rd_fail(r, WASM_ERR_INVALID, "unknown type %lld", (long long)idx);
	if (!wasm_type_is_func(c->m, (uint32_t)idx))
		return wasm_rd_fail(r, WASM_ERR_INVALID,
				    "type mismatch: block type %lld is not a function type",
				    (long long)idx);
	*np = c->m->types[idx].pub.nparams, *p = c->m->types[idx].vparams;
	*nr = c->m->types[idx].pub.nresults, *res = c->m->types[idx].vresults;
	return 0;
}

static void set_unreachable(struct wasm_cc *c)
{
	struct wasm_cc_ctrl *f = &c->cs[c->ncs - 1];

	while (c->nvs > f->height) {
		struct wasm_cc_entry *e = &c->vs[--c->nvs];
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
static void emit_label_moves(struct wasm_cc *c, uint32_t n, uint32_t dst)
{
	uint32_t first = c->nvs - n, end = dst;

	if (c->dead)
		return;
	for (uint32_t i = first; i < c->nvs; i++)
		end += wasm_type_slots(c->vs[i].type);
	for (uint32_t i = first; i < c->nvs; i++) {
		const struct wasm_cc_entry *e = &c->vs[i];
		if (e->kind == K_LOCAL && dst < c->stack_base && e->src < end)
			wasm_cc_emit_copy(c, e->home, e->src, e->type);
	}
	for (uint32_t i = first; i < c->nvs; i++) {
		struct wasm_cc_entry e = c->vs[i];
		if (e.kind == K_LOCAL && dst < c->stack_base && e.src < end)
			e.kind = K_SLOT;
		wasm_cc_emit_move(c, dst, &e);
		dst += wasm_type_slots(e.type);
	}
}

static bool label_needs_moves(struct wasm_cc *c, uint32_t n, uint32_t dst)
{
	for (uint32_t i = c->nvs - n; i < c->nvs; i++) {
		if (c->vs[i].kind != K_SLOT || c->vs[i].home != dst)
			return true;
		dst += wasm_type_slots(c->vs[i].type);
	}
	return false;
}

/* Returns the top nresults values. One scalar result needs no separate move: the op
 * that computed it writes slot 0 directly (handlers read their operands before they
 * write), or RET1 copies it. */
static void emit_return(struct wasm_cc *c)
{
	const struct wasm_cc_entry *e = c->nvs ? &c->vs[c->nvs - 1] : NULL;

	if (!c->dead && c->ft->pub.nresults == 1 && e->type != T_V128 && e->kind != K_CONST) {
		uint32_t src = e->kind == K_LOCAL ? e->src : e->home;
		if (e->kind == K_SLOT && wasm_cc_last_result_is(c, e->home)) {
			c->code[c->last_dst_at] = 0;
			src = 0;
		}
		if (src == 0) {
			wasm_cc_emit_op(c, WASM_OP_RETURN);
		} else {
			wasm_cc_emit_op(c, WASM_OP_RET1);
			wasm_cc_emit(c, src);
		}
		c->last_end = UINT32_MAX;
		return;
	}
	emit_label_moves(c, c->ft->pub.nresults, 0);
	wasm_cc_emit_op(c, WASM_OP_RETURN);
}

/* Unconditional branch to label depth (values already validated on the stack). */
static void emit_br(struct wasm_cc *c, uint32_t depth)
{
	struct wasm_cc_ctrl *t = &c->cs[c->ncs - 1 - depth];
	uint32_t n;
	const wasm_vt *types;
	uint32_t at;

	if (depth == c->ncs - 1) {
		emit_return(c);
		return;
	}
	label_types(t, &n, &types);
	emit_label_moves(c, n, t->base);
	at = c->n;
	wasm_cc_emit_op(c, t->kind == C_LOOP ? WASM_OP_BR_LOOP : WASM_OP_BR);
	emit_target(c, t, at);
}

static int rd_label(struct wasm_cc *c, uint32_t *depth)
{
	TRY(wasm_rd_u32(c->r, depth));
	if (*depth >= c->ncs)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown label %u", *depth);
	return 0;
}

/* The branch on a value being zero (zero) or non-zero, i32 or i64, forward or back. */
static enum wasm_op branch_op(bool zero, bool is64, bool back)
{
	static const enum wasm_op ops[2][2][2] = {
		{{WASM_OP_BR_NZ, WASM_OP_BRL_NZ}, {WASM_OP_BR_NZ64, WASM_OP_BRL_NZ64}},
		{{WASM_OP_BR_Z, WASM_OP_BRL_Z}, {WASM_OP_BR_Z64, WASM_OP_BRL_Z64}},
	};

	return ops[zero][is64][back];
}

/* The integer compares (internal op, its negation, 64-bit operands), for fusing a
 * compare into the conditional branch that consumes it. */
static const struct icmp {
	uint16_t op, neg;
	bool wide;
} icmps[] = {
#define SPECIAL(N, P, C)
#define UN(N, P, C, TI, TO, E)
#define BIN(N, P, C, TA, TB, TO, E)
#define IBIN(N, P, C, T, E)
#define ICMP(N, P, C, T, NEG, E) {WASM_OP_##N, WASM_OP_##NEG, T_##T == T_I64},
#define TBIN(N, P, C, T, F)
#define TUN(N, P, C, TI, TO, F)
#define LOAD(N, P, C, TO, A, E)
#define STORE(N, P, C, TI, A, S)
#define TERN(N, P, C, E)
#define EXTRACT(N, P, C, TO, L, E)
#define REPLACE(N, P, C, TI, L, E)
#define LANEMEM(N, P, C, A, L, ISSTORE)
#include "wasm/opcodes.def"
};

/* Emits "branch if cond" (negate: "branch if not cond") with an offset word still to be
 * filled; returns the op's code index. Fuses a compare or eqz that was emitted just
 * before into the branch. A loop back-edge (back) uses the BRL_ variants, which count
 * fuel when taken. */
static uint32_t emit_cond_branch(struct wasm_cc *c, struct wasm_cc_entry *cond, bool negate,
				 bool back)
{
	uint32_t at;

	if (!c->dead && cond->kind == K_SLOT && wasm_cc_last_result_is(c, cond->home)) {
		const struct icmp *oi = NULL;
		uint32_t op = c->last_op, a, w[2];
		bool imm = false, wide = false;

		for (uint32_t i = 0; i < ARRAY_SIZE(icmps) && !oi; i++) {
			if (icmps[i].op == op || icmps[i].op + 1u == op)
				oi = &icmps[i], imm = icmps[i].op != op;
		}
		if (oi) {
			uint32_t base = negate ? oi->neg : oi->op;
			wide = oi->wide;
			a = c->code[c->last_start + 2];
			w[0] = c->code[c->last_start + 3];
			w[1] = imm && wide ? c->code[c->last_start + 4] : 0;
			at = c->last_start;
			wasm_cc_rewind(c, at, false);
			/* ops.def order: N, N_I, BR_N, BR_N_I, BRL_N, BRL_N_I */
			wasm_cc_emit_op(c,
					(enum wasm_op)(base + (imm ? 3u : 2u) + (back ? 2u : 0u)));
			wasm_cc_emit(c, a);
			wasm_cc_emit(c, w[0]);
			if (imm && wide)
				wasm_cc_emit(c, w[1]);
			return at;
		}
		if (op == WASM_OP_I32_EQZ || op == WASM_OP_I64_EQZ) {
			bool is64 = op == WASM_OP_I64_EQZ;
			a = c->code[c->last_start + 2];
			at = c->last_start;
			wasm_cc_rewind(c, at, false);
			wasm_cc_emit_op(c, branch_op(!negate, is64, back));
			wasm_cc_emit(c, a);
			return at;
		}
	}
	{
		uint32_t s = wasm_cc_use_slot(c, cond);
		at = c->n;
		wasm_cc_emit_op(c, branch_op(negate, false, back));
		wasm_cc_emit(c, s);
	}
	return at;
}

static int op_block(struct wasm_cc *c, uint8_t kind)
{
	uint32_t np, nr;
	const wasm_vt *p, *res;
	struct wasm_cc_entry cond = {0};
	uint32_t at = 0;

	TRY(rd_blocktype(c, &np, &p, &nr, &res));
	if (kind == C_IF)
		TRY(wasm_cc_pop(c, T_I32, &cond));
	wasm_cc_materialize_all(c);
	TRY(wasm_cc_pop_types(c, np, p));
	TRY(wasm_cc_push_types(c, np, p));
	if (kind == C_IF)
		at = emit_cond_branch(c, &cond, true, false);
	TRY(wasm_cc_push_ctrl(c, kind, np, p, nr, res));
	if (kind == C_LOOP) {
		/* no op at the header: back-edges count the fuel (BR_LOOP, BRL_) */
		c->cs[c->ncs - 1].loop_pc = c->n;
		wasm_cc_label(c);
		wasm_cc_point(c, false);
	}
	if (kind == C_IF && !c->dead) {
		struct wasm_cc_ctrl *f = &c->cs[c->ncs - 1];
		wasm_cc_emit(c, 0);
		if (wasm_cc_grow_array((void **)&c->fx, &c->capfx, c->nfx + 1, sizeof(*c->fx)))
			return -ENOMEM;
		c->fx[c->nfx] = (struct wasm_cc_fixup){c->n - 1, at, 0};
		f->else_fix = ++c->nfx;
	}
	return 0;
}

/* Checks the results at the end of a block arm (already materialised in their slots). */
static int end_arm(struct wasm_cc *c)
{
	struct wasm_cc_ctrl *f = &c->cs[c->ncs - 1];

	TRY(wasm_cc_pop_types(c, f->nresults, f->results));
	if (c->nvs != f->height)
		return wasm_cc_mismatch(c, "values remaining on stack at end of block");
	return wasm_cc_push_types(c, f->nresults, f->results);
}

static int op_else(struct wasm_cc *c)
{
	struct wasm_cc_ctrl *f = &c->cs[c->ncs - 1];
	uint32_t at;

	if (f->kind != C_IF)
		return wasm_rd_fail(c->r, WASM_ERR_MALFORMED, "else without if");
	wasm_cc_materialize_all(c);
	TRY(end_arm(c));
	at = c->n;
	wasm_cc_emit_op(c, WASM_OP_BR);
	emit_target(c, f, at);
	c->dead = f->dead_entry;
	if (f->else_fix) {
		patch_list(c, f->else_fix, c->n);
		f->else_fix = 0;
	}
	c->nvs = f->height;
	c->top_slot = f->base;
	reset_inits(c, f->inits);
	TRY(wasm_cc_push_types(c, f->nparams, f->params));
	f->kind = C_ELSE;
	f->unreachable = false;
	wasm_cc_label(c);
	return 0;
}

static int op_end(struct wasm_cc *c, bool *done)
{
	struct wasm_cc_ctrl *f = &c->cs[c->ncs - 1];

	if (f->kind == C_TRY) /* its clauses cover the body up to here */
		for (uint32_t i = 0; i < f->hn; i++)
			c->hd[f->hd0 + i].end = c->n;

	if (f->kind == C_FUNC) {
		TRY(wasm_cc_check_top(c, f->nresults, f->results));
		if (c->nvs - f->height > f->nresults ||
		    (!f->unreachable && c->nvs - f->height != f->nresults))
			return wasm_cc_mismatch(c, "values remaining on stack at end of function");
		emit_return(c);
		c->ncs--;
		*done = true;
		return 0;
	}
	if (f->kind == C_IF) {
		/* the missing else arm passes its params on as results */
		bool ok = f->nparams == f->nresults;
		for (uint32_t i = 0; ok && i < f->nparams; i++)
			ok = wasm_cc_sub(c, f->params[i], f->results[i]);
		if (!ok)
			return wasm_cc_mismatch(
				c, "if without else must have matching param and result types");
	}
	reset_inits(c, f->inits);
	wasm_cc_materialize_all(c);
	TRY(end_arm(c));
	c->dead = f->dead_entry;
	if (f->else_fix)
		patch_list(c, f->else_fix, c->n);
	patch_list(c, f->fixups, c->n);
	c->ncs--;
	wasm_cc_label(c);
	return 0;
}

static int op_br(struct wasm_cc *c)
{
	uint32_t depth, n;
	const wasm_vt *types;

	TRY(rd_label(c, &depth));
	label_types(&c->cs[c->ncs - 1 - depth], &n, &types);
	TRY(wasm_cc_check_top(c, n, types));
	emit_br(c, depth);
	set_unreachable(c);
	return 0;
}

static int op_br_if(struct wasm_cc *c)
{
	uint32_t depth, n, at, skip;
	const wasm_vt *types;
	struct wasm_cc_entry cond;
	struct wasm_cc_ctrl *t;

	TRY(rd_label(c, &depth));
	TRY(wasm_cc_pop(c, T_I32, &cond));
	t = &c->cs[c->ncs - 1 - depth];
	label_types(t, &n, &types);
	TRY(wasm_cc_check_top(c, n, types));
	TRY(wasm_cc_refine_top(c, n, types));
	if (c->dead)
		return 0;
	if (depth == c->ncs - 1 || label_needs_moves(c, n, t->base)) {
		at = emit_cond_branch(c, &cond, true, false);
		wasm_cc_emit(c, 0);
		skip = c->n - 1;
		emit_br(c, depth);
		if (!c->oom)
			c->code[skip] = (uint32_t)((int32_t)c->n - (int32_t)at);
		wasm_cc_label(c);
	} else {
		at = emit_cond_branch(c, &cond, false, t->kind == C_LOOP);
		emit_target(c, t, at);
		c->last_end = UINT32_MAX;
	}
	return 0;
}

static int op_br_table(struct wasm_cc *c)
{
	uint32_t count, def, n, arity, at, tab;
	uint32_t *depths;
	const wasm_vt *types;
	struct wasm_cc_entry idx;
	int rc = 0;

	TRY(wasm_rd_u32(c->r, &count));
	if (count > (uint32_t)(c->r->end - c->r->p))
		return wasm_rd_eof(c->r);
	depths = core_alloc(((size_t)count + 1) * sizeof(uint32_t));
	if (!depths)
		return -ENOMEM;
	for (uint32_t i = 0; i <= count && !rc; i++)
		rc = rd_label(c, &depths[i]);
	if (!rc)
		rc = wasm_cc_pop(c, T_I32, &idx);
	if (rc)
		goto out;
	def = depths[count];
	label_types(&c->cs[c->ncs - 1 - def], &arity, &types);
	for (uint32_t i = 0; i <= count && !rc; i++) {
		label_types(&c->cs[c->ncs - 1 - depths[i]], &n, &types);
		if (n != arity)
			rc = wasm_cc_mismatch(c, "br_table labels have different arities");
		else
			rc = wasm_cc_check_top(c, n, types);
	}
	if (rc || c->dead)
		goto done;
	{
		uint32_t s = wasm_cc_use_slot(c, &idx);
		at = c->n;
		wasm_cc_emit_op(c, WASM_OP_BR_TABLE);
		wasm_cc_emit(c, s);
		wasm_cc_emit(c, count);
	}
	tab = c->n;
	for (uint32_t i = 0; i <= count; i++)
		wasm_cc_emit(c, 0);
	for (uint32_t i = 0; i <= count && !c->oom; i++) {
		struct wasm_cc_ctrl *t = &c->cs[c->ncs - 1 - depths[i]];
		/* loops (fuel) and labels needing value moves go through a BR_LOOP or
		 * moves+BR trampoline after the table */
		if (depths[i] != c->ncs - 1 && t->kind != C_LOOP &&
		    !label_needs_moves(c, arity, t->base)) {
			if (wasm_cc_grow_array((void **)&c->fx, &c->capfx, c->nfx + 1,
					       sizeof(*c->fx))) {
				c->oom = true;
			} else {
				c->fx[c->nfx] = (struct wasm_cc_fixup){tab + i, at, t->fixups};
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

static int op_return(struct wasm_cc *c)
{
	TRY(wasm_cc_check_top(c, c->ft->pub.nresults, c->ft->vresults));
	emit_return(c);
	set_unreachable(c);
	return 0;
}

/* ----- calls ----- */

/* Materialises the top n entries (call arguments) and returns the first one's slot. */
static uint32_t args_base(struct wasm_cc *c, uint32_t n)
{
	for (uint32_t i = c->nvs - n; i < c->nvs; i++)
		wasm_cc_materialize(c, &c->vs[i]);
	return n ? c->vs[c->nvs - n].home : c->top_slot;
}

static int call_common(struct wasm_cc *c, const struct wasm_ftype *t, uint32_t *base)
{
	TRY(wasm_cc_check_top(c, t->pub.nparams, t->vparams));
	if (!c->dead && c->nvs - c->cs[c->ncs - 1].height >= t->pub.nparams)
		*base = args_base(c, t->pub.nparams);
	else
		*base = c->top_slot;
	TRY(wasm_cc_pop_types(c, t->pub.nparams, t->vparams));
	*base = c->dead ? c->top_slot : *base;
	return 0;
}

int wasm_cc_pop_args(struct wasm_cc *c, uint32_t n, const wasm_vt *types, uint32_t *base)
{
	TRY(wasm_cc_check_top(c, n, types));
	if (!c->dead && c->nvs - c->cs[c->ncs - 1].height >= n)
		*base = args_base(c, n);
	else
		*base = c->top_slot;
	TRY(wasm_cc_pop_types(c, n, types));
	*base = c->dead ? c->top_slot : *base;
	return 0;
}

static int op_call(struct wasm_cc *c)
{
	uint32_t f, base;
	const struct wasm_ftype *t;

	TRY(wasm_rd_u32(c->r, &f));
	if (f >= c->m->nfuncs)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown function %u", f);
	t = &c->m->types[c->m->func_type[f]];
	TRY(call_common(c, t, &base));
	wasm_cc_point(c, true);
	if (f >= c->m->nfunc_imports) {
		/* a function of this module: its code is known now (compiled or not) */
		wasm_cc_emit_op(c, WASM_OP_CALL_LOCAL);
		wasm_cc_emit_u64(c, (uint64_t)(uintptr_t)&c->m->codes[f - c->m->nfunc_imports]);
		wasm_cc_emit(c, f - c->m->nfunc_imports);
	} else {
		wasm_cc_emit_op(c, WASM_OP_CALL);
		wasm_cc_emit(c, f);
	}
	wasm_cc_emit(c, base);
	wasm_cc_safepoint(c, false);
	TRY(wasm_cc_push_types(c, t->pub.nresults, t->vresults));
	c->last_end = UINT32_MAX;
	return 0;
}

/* Pops call_indirect's element index and returns the slot to read it from: an i64 index
 * (a memory64 table) goes through IDX64 into the slot it was popped from (free now, above
 * the arguments, read before the callee's frame is set up), trapping "undefined element"
 * past 2^32-1. */
static int pop_table_index(struct wasm_cc *c, uint32_t table, struct wasm_cc_entry *idx,
			   uint32_t *slot)
{
	bool is64 = c->m->tables[table].is64;
	uint32_t t;

	TRY(wasm_cc_pop(c, is64 ? T_I64 : T_I32, idx));
	*slot = wasm_cc_use_slot(c, idx);
	if (!is64)
		return 0;
	t = c->top_slot;
	if (t + 1 > c->max_slot)
		c->max_slot = t + 1;
	wasm_cc_emit_op(c, WASM_OP_IDX64);
	wasm_cc_emit(c, t);
	wasm_cc_emit(c, *slot);
	wasm_cc_emit(c, WASM_TRAP_UNDEFINED_ELEM);
	c->last_end = UINT32_MAX;
	*slot = t;
	return 0;
}

static int op_call_indirect(struct wasm_cc *c)
{
	uint32_t ti, table, base, is;
	const struct wasm_ftype *t;
	struct wasm_cc_entry idx;

	TRY(wasm_rd_u32(c->r, &ti));
	TRY(wasm_rd_u32(c->r, &table));
	if (ti >= c->m->ntypes)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown type %u", ti);
	if (!wasm_type_is_func(c->m, ti))
		return wasm_rd_fail(c->r, WASM_ERR_INVALID,
				    "type mismatch: type %u is not a function type", ti);
	if (table >= c->m->ntables)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown table %u", table);
	if (!wasm_cc_sub(c, c->m->tables[table].elem, WASM_FUNCREF))
		return wasm_cc_mismatch(c, "call_indirect on a table of externref");
	t = &c->m->types[ti];
	TRY(pop_table_index(c, table, &idx, &is));
	TRY(call_common(c, t, &base));
	wasm_cc_point(c, true);
	wasm_cc_emit_op(c, WASM_OP_CALL_INDIRECT);
	wasm_cc_emit(c, c->m->type_canon[ti]);
	wasm_cc_emit(c, table);
	wasm_cc_emit(c, is);
	wasm_cc_emit(c, base);
	wasm_cc_safepoint(c, false);
	TRY(wasm_cc_push_types(c, t->pub.nresults, t->vresults));
	c->last_end = UINT32_MAX;
	return 0;
}

/* ----- tail calls (3.0) ----- */

/* A tail call returns the callee's results as the function's own: they must be the same. */
static int check_tail_results(struct wasm_cc *c, const struct wasm_ftype *t)
{
	const struct wasm_functype *own = &c->ft->pub;

	if (t->pub.nresults != own->nresults)
		return wasm_cc_mismatch(c, "tail call to a function with other results");
	for (uint32_t i = 0; i < own->nresults; i++)
		if (!wasm_cc_sub(c, t->vresults[i], c->ft->vresults[i]))
			return wasm_cc_mismatch(c, "tail call to a function with other results");
	return 0;
}

/* return_call f: the arguments are validated and placed like call's; the interpreter moves
 * them to slot 0 and runs f in this frame (RETURN_CALL). Each tail call op is a point a
 * snapshot may stand at, as a call op (the interpreter's and the JIT's tick there parks),
 * with the stack map of a call's return keyed by its end (no frame returns there): the
 * operand entries below its arguments. */
static int op_return_call(struct wasm_cc *c)
{
	uint32_t f, base;
	const struct wasm_ftype *t;

	TRY(wasm_rd_u32(c->r, &f));
	if (f >= c->m->nfuncs)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown function %u", f);
	t = &c->m->types[c->m->func_type[f]];
	TRY(check_tail_results(c, t));
	TRY(call_common(c, t, &base));
	wasm_cc_point(c, true);
	wasm_cc_emit_op(c, WASM_OP_RETURN_CALL);
	wasm_cc_emit(c, f);
	wasm_cc_emit(c, base);
	wasm_cc_safepoint(c, false);
	set_unreachable(c);
	return 0;
}

static int op_return_call_indirect(struct wasm_cc *c)
{
	uint32_t ti, table, base, is;
	const struct wasm_ftype *t;
	struct wasm_cc_entry idx;

	TRY(wasm_rd_u32(c->r, &ti));
	TRY(wasm_rd_u32(c->r, &table));
	if (ti >= c->m->ntypes)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown type %u", ti);
	if (!wasm_type_is_func(c->m, ti))
		return wasm_rd_fail(c->r, WASM_ERR_INVALID,
				    "type mismatch: type %u is not a function type", ti);
	if (table >= c->m->ntables)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown table %u", table);
	if (!wasm_cc_sub(c, c->m->tables[table].elem, WASM_FUNCREF))
		return wasm_cc_mismatch(c, "return_call_indirect on a table of externref");
	t = &c->m->types[ti];
	TRY(check_tail_results(c, t));
	TRY(pop_table_index(c, table, &idx, &is));
	TRY(call_common(c, t, &base));
	wasm_cc_point(c, true);
	wasm_cc_emit_op(c, WASM_OP_RETURN_CALL_INDIRECT);
	wasm_cc_emit(c, c->m->type_canon[ti]);
	wasm_cc_emit(c, table);
	wasm_cc_emit(c, is);
	wasm_cc_emit(c, base);
	wasm_cc_safepoint(c, false);
	set_unreachable(c);
	return 0;
}

/* ----- typed function references (3.0) ----- */

/* call_ref t / return_call_ref t: the reference comes last, after the arguments. It is
 * read before the callee's frame is set up, so its slot above the arguments is free. */
static int op_call_ref(struct wasm_cc *c, bool tail)
{
	uint32_t ti, base, a;
	const struct wasm_ftype *t;
	struct wasm_cc_entry v;

	TRY(wasm_rd_u32(c->r, &ti));
	if (ti >= c->m->ntypes)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown type %u", ti);
	if (!wasm_type_is_func(c->m, ti))
		return wasm_rd_fail(c->r, WASM_ERR_INVALID,
				    "type mismatch: type %u is not a function type", ti);
	t = &c->m->types[ti];
	if (tail)
		TRY(check_tail_results(c, t));
	TRY(wasm_cc_pop(c, wasm_vt_idx(ti, true), &v));
	a = wasm_cc_use_slot(c, &v);
	TRY(call_common(c, t, &base));
	wasm_cc_point(c, true);
	wasm_cc_call_ref_map(c, a, wasm_vt_idx(ti, true));
	wasm_cc_emit_op(c, tail ? WASM_OP_RETURN_CALL_REF : WASM_OP_CALL_REF);
	wasm_cc_emit(c, a);
	wasm_cc_emit(c, base);
	wasm_cc_safepoint(c, false);
	if (tail) {
		set_unreachable(c);
		return 0;
	}
	TRY(wasm_cc_push_types(c, t->pub.nresults, t->vresults));
	c->last_end = UINT32_MAX;
	return 0;
}

/* Pops a reference of any type (in unreachable code: one of the bottom heap type). */
static int pop_ref(struct wasm_cc *c, struct wasm_cc_entry *v)
{
	TRY(wasm_cc_pop(c, T_UNKNOWN, v));
	if (v->type == T_UNKNOWN)
		v->type = WASM_HT_BOT;
	else if (!wasm_vt_is_ref(v->type))
		return wasm_cc_mismatch(c, "a reference expected");
	return 0;
}

/* Pushes entry v back (popped just before, its slot unchanged) with type t. */
static int repush(struct wasm_cc *c, struct wasm_cc_entry v, wasm_vt t)
{
	if (wasm_cc_grow_array((void **)&c->vs, &c->capvs, c->nvs + 1, sizeof(*c->vs)))
		return -ENOMEM;
	v.type = t;
	if (c->dead)
		v.home = c->top_slot; /* unreachable code may have refilled the stack */
	c->vs[c->nvs++] = v;
	c->top_slot = v.home + 1;
	if (c->top_slot > c->max_slot)
		c->max_slot = c->top_slot;
	if (v.kind == K_LOCAL)
		c->nlocalrefs++;
	return 0;
}

static int op_ref_as_non_null(struct wasm_cc *c)
{
	struct wasm_cc_entry v;
	uint32_t a;

	TRY(pop_ref(c, &v));
	a = wasm_cc_use_slot(c, &v);
	wasm_cc_emit_op(c, WASM_OP_REF_AS_NON_NULL);
	wasm_cc_emit(c, a);
	c->last_end = UINT32_MAX;
	TRY(repush(c, v, v.type | WASM_VT_NONNULL));
	return 0;
}

/* Branches to label depth when slot s is zero (zero) or not, as an i64 (is64) or an i32,
 * the label's values being on top: straight to the label when they are already in place
 * (BRL_ to a loop), else over the moves and the branch by the negated test. */
static void emit_branch_on(struct wasm_cc *c, uint32_t depth, uint32_t s, bool zero, bool is64)
{
	struct wasm_cc_ctrl *t = &c->cs[c->ncs - 1 - depth];
	const wasm_vt *types;
	uint32_t n, at = c->n, skip;

	label_types(t, &n, &types);
	if (depth == c->ncs - 1 || label_needs_moves(c, n, t->base)) {
		wasm_cc_emit_op(c, branch_op(!zero, is64, false));
		wasm_cc_emit(c, s);
		wasm_cc_emit(c, 0);
		skip = c->n - 1;
		emit_br(c, depth);
		if (!c->oom)
			c->code[skip] = (uint32_t)((int32_t)c->n - (int32_t)at);
		wasm_cc_label(c);
	} else {
		wasm_cc_emit_op(c, branch_op(zero, is64, t->kind == C_LOOP));
		wasm_cc_emit(c, s);
		emit_target(c, t, at);
		c->last_end = UINT32_MAX;
	}
}

/* br_on_null l: branch with the label's values if the reference is null, else go on
 * with it as non-null. br_on_non_null l: branch with the values and the (non-null)
 * reference if it is not null, else drop it. A reference is a pointer in its slot, so
 * the branches are BR_Z64 and BR_NZ64. */
static int op_br_on_null(struct wasm_cc *c, bool on_null)
{
	uint32_t depth, n, s;
	const wasm_vt *types;
	struct wasm_cc_entry v;
	struct wasm_cc_ctrl *t;
	wasm_vt nn;

	TRY(rd_label(c, &depth));
	TRY(pop_ref(c, &v));
	nn = v.type | WASM_VT_NONNULL;
	t = &c->cs[c->ncs - 1 - depth];
	label_types(t, &n, &types);
	if (on_null) {
		TRY(wasm_cc_check_top(c, n, types));
		TRY(wasm_cc_refine_top(c, n, types));
	} else {
		if (n == 0 || !wasm_cc_sub(c, nn, types[n - 1]))
			return wasm_cc_mismatch(c, "br_on_non_null to a label without a "
						   "reference type");
		TRY(wasm_cc_check_top(c, n - 1, types));
		TRY(wasm_cc_refine_top(c, n - 1, types));
	}
	s = wasm_cc_use_slot(c, &v);
	TRY(repush(c, v, nn));
	if (!c->dead) {
		if (on_null)
			c->nvs--; /* the branch carries the values below the reference */
		emit_branch_on(c, depth, s, on_null, true);
		if (on_null)
			c->nvs++;
	}
	if (!on_null) /* the reference was null: dropped */
		TRY(wasm_cc_pop(c, T_UNKNOWN, &v));
	return 0;
}

/* br_on_cast l rt1 rt2 (GC): branch with the reference as rt2 when it is one, else go
 * on with it as rt1 minus rt2; br_on_cast_fail the other way round. The test is REF_TEST
 * into a scratch slot above the stack, then BR_NZ or BR_Z on it (BRL_ to a loop). */
int wasm_cc_br_on_cast(struct wasm_cc *c, uint32_t sp)
{
	bool fail = sp == S_BR_ON_CAST_FAIL;
	uint32_t depth, n, s, tmp;
	wasm_vt rt1, rt2, diff, tbr, tfall;
	const wasm_vt *types;
	struct wasm_cc_entry v;
	struct wasm_cc_ctrl *t;
	uint8_t flags;

	TRY(wasm_rd_u8(c->r, &flags));
	if (flags > 3)
		return wasm_rd_fail(c->r, WASM_ERR_MALFORMED, "malformed br_on_cast flags %u",
				    flags);
	TRY(rd_label(c, &depth));
	TRY(wasm_rd_heaptype(c->r, c->m, &rt1));
	TRY(wasm_rd_heaptype(c->r, c->m, &rt2));
	if (!(flags & 1))
		rt1 |= WASM_VT_NONNULL;
	if (!(flags & 2))
		rt2 |= WASM_VT_NONNULL;
	if (!wasm_cc_sub(c, rt2, rt1))
		return wasm_cc_mismatch(c, "br_on_cast to a type not below its operand's");
	diff = wasm_vt_nullable(rt2) ? rt1 | WASM_VT_NONNULL : rt1;
	tbr = fail ? diff : rt2;
	tfall = fail ? rt2 : diff;
	TRY(wasm_cc_pop(c, rt1, &v));
	t = &c->cs[c->ncs - 1 - depth];
	label_types(t, &n, &types);
	if (n == 0 || !wasm_cc_sub(c, tbr, types[n - 1]))
		return wasm_cc_mismatch(c, "br_on_cast to a label without a matching reference "
					   "type");
	TRY(wasm_cc_check_top(c, n - 1, types));
	TRY(wasm_cc_refine_top(c, n - 1, types));
	s = wasm_cc_use_slot(c, &v);
	TRY(repush(c, v, tbr));
	if (!c->dead) {
		tmp = c->top_slot;
		if (tmp + 1 > c->max_slot)
			c->max_slot = tmp + 1;
		wasm_cc_emit_op(c, WASM_OP_REF_TEST);
		wasm_cc_emit(c, tmp), wasm_cc_emit(c, s), wasm_cc_emit(c, rt2);
		emit_branch_on(c, depth, tmp, fail, false);
	}
	c->vs[c->nvs - 1].type = tfall;
	return 0;
}

/* ----- exception handling (3.0) ----- */

static int rd_tag(struct wasm_cc *c, const struct wasm_ftype **t, uint32_t *tag)
{
	TRY(wasm_rd_u32(c->r, tag));
	if (*tag >= c->m->ntags)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown tag %u", *tag);
	*t = &c->m->types[c->m->tag_type[*tag]];
	return 0;
}

static const char *vt_name(wasm_vt t)
{
	switch (t) {
	case T_I32:
		return "i32";
	case T_I64:
		return "i64";
	case T_F32:
		return "f32";
	case T_F64:
		return "f64";
	case T_V128:
		return "v128";
	case WASM_FUNCREF:
		return "funcref";
	case WASM_EXTERNREF:
		return "externref";
	case WASM_HT_EXN:
		return "exnref";
	default:
		return "ref";
	}
}

/* Appends "[t1 t2 ...]" for types[0..n) to buf (of size bytes, NUL-terminated). */
static void put_types(char *buf, size_t size, const wasm_vt *types, uint32_t n, size_t step)
{
	size_t len = strlen(buf);

	snprintf(buf + len, size - len, "[");
	for (uint32_t i = 0; i < n; i++) {
		wasm_vt t = *(const wasm_vt *)(const void *)((const char *)types + i * step);
		len = strlen(buf);
		snprintf(buf + len, size - len, "%s%s", i ? " " : "", vt_name(t));
	}
	len = strlen(buf);
	snprintf(buf + len, size - len, "]");
}

/* The operands of throw x must be the tag's params; the message is the reference
 * interpreter's ("instruction requires [i32] but stack has [i64]"). */
static int check_throw_operands(struct wasm_cc *c, const struct wasm_ftype *t)
{
	const struct wasm_cc_ctrl *f = &c->cs[c->ncs - 1];
	uint32_t n = t->pub.nparams, avail = c->nvs - f->height, k = avail < n ? avail : n;
	char msg[200] = "instruction requires ";

	if (!wasm_cc_check_top(c, n, t->vparams))
		return 0;
	put_types(msg, sizeof(msg), t->vparams, n > 16 ? 16 : n, sizeof(wasm_vt));
	snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " but stack has ");
	put_types(msg, sizeof(msg), k ? &c->vs[c->nvs - k].type : NULL, k > 16 ? 16 : k,
		  sizeof(c->vs[0]));
	return wasm_cc_mismatch(c, msg);
}

/* throw x: the tag's params are placed as a call's arguments; THROW copies them into a
 * new exception. */
static int op_throw(struct wasm_cc *c)
{
	const struct wasm_ftype *t;
	uint32_t tag, base;

	TRY(rd_tag(c, &t, &tag));
	TRY(check_throw_operands(c, t));
	TRY(call_common(c, t, &base));
	wasm_cc_safepoint(c, true);
	wasm_cc_emit_op(c, WASM_OP_THROW);
	wasm_cc_emit(c, tag);
	wasm_cc_emit(c, base);
	set_unreachable(c);
	return 0;
}

static int op_throw_ref(struct wasm_cc *c)
{
	struct wasm_cc_entry v;
	uint32_t a;

	TRY(wasm_cc_pop(c, WASM_HT_EXN, &v));
	a = wasm_cc_use_slot(c, &v);
	wasm_cc_emit_op(c, WASM_OP_THROW_REF);
	wasm_cc_emit(c, a);
	set_unreachable(c);
	return 0;
}

/* Whether the values a catch clause hands its label, types[0..n) and (with ref) a
 * (ref exn), match the label's types. */
static bool catch_fits(struct wasm_cc *c, const struct wasm_cc_ctrl *l, uint32_t n,
		       const wasm_vt *types, bool ref)
{
	uint32_t ln;
	const wasm_vt *lt;

	label_types(l, &ln, &lt);
	if (ln != n + (ref ? 1u : 0u))
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (!wasm_cc_sub(c, types[i], lt[i]))
			return false;
	return !ref || wasm_cc_sub(c, WASM_HT_EXN | WASM_VT_NONNULL, lt[n]);
}

/* One catch clause of a try_table: validated against its label (outside the try_table)
 * and, in reachable code, compiled to a pad (a branch to the label, or a return) with its
 * handler entry. */
static int rd_catch(struct wasm_cc *c)
{
	struct wasm_handler h = {0};
	const struct wasm_ftype *t = NULL;
	struct wasm_cc_ctrl *l;
	uint32_t depth;
	uint8_t kind;

	TRY(wasm_rd_u8(c->r, &kind));
	if (kind > WASM_CATCH_ALL_REF)
		return wasm_rd_fail(c->r, WASM_ERR_MALFORMED, "malformed catch clause");
	if (kind == WASM_CATCH || kind == WASM_CATCH_REF)
		TRY(rd_tag(c, &t, &h.tag));
	TRY(rd_label(c, &depth));
	l = &c->cs[c->ncs - 1 - depth];
	if (!catch_fits(c, l, t ? t->pub.nparams : 0, t ? t->vparams : NULL,
			kind == WASM_CATCH_REF || kind == WASM_CATCH_ALL_REF))
		return wasm_cc_mismatch(c, "catch clause values do not match its label");
	if (c->dead)
		return 0;
	h.kind = kind;
	h.pad = c->n;
	if (depth == c->ncs - 1) {
		h.dst = 0; /* the function's label: the values are its results */
		wasm_cc_emit_op(c, WASM_OP_RETURN);
	} else {
		h.dst = l->base;
		wasm_cc_emit_op(c, l->kind == C_LOOP ? WASM_OP_BR_LOOP : WASM_OP_BR);
		emit_target(c, l, h.pad);
	}
	if (wasm_cc_grow_array((void **)&c->hd, &c->caphd, c->nhd + 1, sizeof(*c->hd)))
		return -ENOMEM;
	c->hd[c->nhd++] = h;
	return 0;
}

/* try_table bt catch* instr* end: a block whose body's exceptions the clauses may catch.
 * The clauses' pads come first, jumped over; the handler entries cover the body. */
static int op_try_table(struct wasm_cc *c)
{
	uint32_t np, nr, n, first = c->nhd, skip = 0, at = 0;
	const wasm_vt *p, *res;

	TRY(rd_blocktype(c, &np, &p, &nr, &res));
	wasm_cc_materialize_all(c);
	TRY(wasm_cc_pop_types(c, np, p));
	TRY(wasm_cc_push_types(c, np, p));
	TRY(wasm_rd_u32(c->r, &n));
	if (n > (uint32_t)(c->r->end - c->r->p) / 2)
		return wasm_rd_eof(c->r);
	if (n && !c->dead) {
		at = c->n;
		wasm_cc_emit_op(c, WASM_OP_BR);
		wasm_cc_emit(c, 0);
		skip = c->n - 1;
	}
	for (uint32_t i = 0; i < n; i++)
		TRY(rd_catch(c));
	if (n && !c->dead && !c->oom)
		c->code[skip] = (uint32_t)((int32_t)c->n - (int32_t)at);
	wasm_cc_label(c);
	for (uint32_t i = first; i < c->nhd; i++)
		c->hd[i].start = c->n;
	TRY(wasm_cc_push_ctrl(c, C_TRY, np, p, nr, res));
	c->cs[c->ncs - 1].hd0 = first;
	c->cs[c->ncs - 1].hn = c->nhd - first;
	return 0;
}

/* The control instructions (opcodes 0x00-0x13); *done is set after the function's end. */
int wasm_cc_control(struct wasm_cc *c, uint32_t sp, bool *done)
{
	switch (sp) {
	case S_UNREACHABLE:
		wasm_cc_emit_op(c, WASM_OP_UNREACHABLE);
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
	case S_RETURN_CALL:
		return op_return_call(c);
	case S_RETURN_CALL_INDIRECT:
		return op_return_call_indirect(c);
	case S_CALL_REF:
		return op_call_ref(c, false);
	case S_RETURN_CALL_REF:
		return op_call_ref(c, true);
	case S_REF_AS_NON_NULL:
		return op_ref_as_non_null(c);
	case S_BR_ON_NULL:
		return op_br_on_null(c, true);
	case S_BR_ON_NON_NULL:
		return op_br_on_null(c, false);
	case S_THROW:
		return op_throw(c);
	case S_THROW_REF:
		return op_throw_ref(c);
	case S_TRY_TABLE:
		return op_try_table(c);
	}
	return -EINVAL;
}
