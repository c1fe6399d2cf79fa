/*
 * Compilation of every non-control instruction (Wasm core 2.0, 3.3.1-3.3.7): variables,
 * parametric ops, memory and bulk memory, tables and references, constants, and the
 * numeric and SIMD classes of opcodes.def. Operands come from the compile-time stack
 * (compile.c); deferred locals and constants are read in place or become immediates.
 */
#include "wasm/compile.h"

#include "core/alloc.h"

#include <errno.h>
#include <string.h>

/* log2 natural alignment of LANEMEM ops, by lane count. */
static uint8_t lanemem_align(uint8_t lanes)
{
	return lanes == 16 ? 0 : lanes == 8 ? 1 : lanes == 4 ? 2 : 3;
}

/* ----- variables ----- */

static int rd_local(struct wasm_cc *c, uint32_t *x)
{
	TRY(wasm_rd_u32(c->r, x));
	if (*x >= c->nlocals)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown local %u", *x);
	return 0;
}

static bool has_local_refs(struct wasm_cc *c, uint32_t slot)
{
	if (!c->nlocalrefs)
		return false;
	for (uint32_t i = 0; i < c->nvs; i++)
		if (c->vs[i].kind == K_LOCAL && c->vs[i].src == slot)
			return true;
	return false;
}

static int op_local_get(struct wasm_cc *c)
{
	uint32_t x;
	struct wasm_cc_entry *e;

	TRY(rd_local(c, &x));
	if (!c->lset[x])
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "uninitialized local %u", x);
	TRY(wasm_cc_push(c, c->ltype[x], &e));
	e->kind = K_LOCAL;
	e->src = c->lslot[x];
	c->nlocalrefs++;
	return 0;
}

/* A non-defaultable local is set: readable until the end of the enclosing block. */
static int local_init(struct wasm_cc *c, uint32_t x)
{
	if (c->lset[x])
		return 0;
	if (wasm_cc_grow_array((void **)&c->init, &c->capinit, c->ninit + 1, sizeof(*c->init)))
		return -ENOMEM;
	c->init[c->ninit++] = x;
	c->lset[x] = true;
	return 0;
}

/* The op just emitted now writes a local: it is final (nothing can fuse it any more), so
 * it may become the second half of an in-place pair with the op right before it. The
 * first op's word changes to the pair's op; the second op's words stay where they are
 * (the pair's handler skips its op word), so nothing moves and no branch is affected.
 *   I32_ADD_I + I32_ADD_I      -> I32_ADD_I2 (loops step two induction variables)
 *   COPY + I32_LOAD_IDX        -> COPY_I32_LOAD_IDX (copy an index, load through it) */
static void pair_final(struct wasm_cc *c)
{
	uint32_t at = c->last_start;

	if (c->last_op == WASM_OP_I32_LOAD_IDX && c->copy_end == at && c->copy_moves == 1 &&
	    c->copy_at >= c->fence) {
		c->code[c->copy_at] = (uint32_t)c->disp[WASM_OP_COPY_I32_LOAD_IDX];
		c->copy_end = UINT32_MAX;
		return;
	}
	if (c->last_op != WASM_OP_I32_ADD_I)
		return;
	if (c->incr_end == at && c->incr_at >= c->fence) {
		c->code[c->incr_at] = (uint32_t)c->disp[WASM_OP_I32_ADD_I2];
		c->incr_end = UINT32_MAX;
		return;
	}
	c->incr_at = at;
	c->incr_end = c->n;
}

static int op_local_set(struct wasm_cc *c, bool tee)
{
	uint32_t x, slot;
	struct wasm_cc_entry v;

	TRY(rd_local(c, &x));
	TRY(wasm_cc_pop(c, c->ltype[x], &v));
	TRY(local_init(c, x));
	slot = c->lslot[x];
	if (v.kind == K_CONST && v.c == 0 && c->zero_gen[x] == c->zgen && !c->plain) {
		/* the local already holds zero (C compilers initialise locals explicitly,
		 * though Wasm zeroes them): nothing to do, deferred reads stay valid */
	} else if (!c->dead) {
		if (v.kind == K_SLOT && wasm_cc_last_result_is(c, v.home) &&
		    !has_local_refs(c, slot)) {
			c->code[c->last_dst_at] = slot;
			c->last_end = UINT32_MAX;
			pair_final(c);
		} else {
			wasm_cc_materialize_local(c, slot);
			wasm_cc_emit_move(c, slot, &v);
		}
		c->zero_gen[x] = v.kind == K_CONST && v.c == 0 ? c->zgen : 0;
	}
	if (tee) {
		struct wasm_cc_entry *e;
		TRY(wasm_cc_push(c, c->ltype[x], &e));
		e->kind = K_LOCAL;
		e->src = slot;
		c->nlocalrefs++;
	}
	return 0;
}

static int rd_global(struct wasm_cc *c, uint32_t *x)
{
	TRY(wasm_rd_u32(c->r, x));
	if (*x >= c->m->nglobals)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown global %u", *x);
	return 0;
}

static int op_global_get(struct wasm_cc *c)
{
	uint32_t x, d, at = c->n;
	wasm_vt t;

	TRY(rd_global(c, &x));
	t = c->m->globals[x].type;
	TRY(wasm_cc_push_result(c, t, &d));
	wasm_cc_emit_op(c, t == T_V128 ? WASM_OP_GLOBAL_GET2 : WASM_OP_GLOBAL_GET);
	wasm_cc_emit(c, d);
	wasm_cc_emit(c, x);
	wasm_cc_mark_result(c, at, WASM_OP_GLOBAL_GET, at + 1);
	return 0;
}

static int op_global_set(struct wasm_cc *c)
{
	uint32_t x, s;
	struct wasm_cc_entry v;
	wasm_vt t;

	TRY(rd_global(c, &x));
	if (!c->m->globals[x].mut)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "immutable global %u", x);
	t = c->m->globals[x].type;
	TRY(wasm_cc_pop(c, t, &v));
	s = wasm_cc_use_slot(c, &v);
	wasm_cc_emit_op(c, t == T_V128 ? WASM_OP_GLOBAL_SET2 : WASM_OP_GLOBAL_SET);
	wasm_cc_emit(c, x);
	wasm_cc_emit(c, s);
	return 0;
}

/* ----- parametric ----- */

static bool is_num_or_vec(wasm_vt t)
{
	return t == T_I32 || t == T_I64 || t == T_F32 || t == T_F64 || t == T_V128 ||
	       t == T_UNKNOWN;
}

static int op_select(struct wasm_cc *c, bool typed)
{
	struct wasm_cc_entry cond, a, b;
	wasm_vt t = T_UNKNOWN;
	uint32_t d, sa, sb, sc, at;

	if (typed) {
		uint32_t n;
		TRY(wasm_rd_u32(c->r, &n));
		if (n != 1)
			return wasm_rd_fail(c->r, WASM_ERR_INVALID, "invalid result arity");
		TRY(wasm_rd_valtype(c->r, c->m, &t));
	}
	TRY(wasm_cc_pop(c, T_I32, &cond));
	TRY(wasm_cc_pop(c, t, &b));
	TRY(wasm_cc_pop(c, t == T_UNKNOWN ? b.type : t, &a));
	if (t == T_UNKNOWN) {
		t = a.type != T_UNKNOWN ? a.type : b.type;
		if (!is_num_or_vec(a.type) || !is_num_or_vec(b.type))
			return wasm_cc_mismatch(c, "select without type needs numeric operands");
	}
	sc = wasm_cc_use_slot(c, &cond);
	sb = wasm_cc_use_slot(c, &b);
	sa = wasm_cc_use_slot(c, &a);
	TRY(wasm_cc_push_result(c, t, &d));
	at = c->n;
	wasm_cc_emit_op(c, t == T_V128 ? WASM_OP_SELECT2 : WASM_OP_SELECT);
	wasm_cc_emit(c, d);
	wasm_cc_emit(c, sa);
	wasm_cc_emit(c, sb);
	wasm_cc_emit(c, sc);
	wasm_cc_mark_result(c, at, WASM_OP_SELECT, at + 1);
	return 0;
}

/* ----- memory ----- */

static int need_memory(struct wasm_cc *c, uint32_t mem)
{
	if (mem >= c->m->nmems)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown memory %u", mem);
	return 0;
}

/* A memory index immediate (3.0; 2.0 had a zero byte here). */
static int rd_memidx(struct wasm_cc *c, uint32_t *mem)
{
	TRY(wasm_rd_u32(c->r, mem));
	return need_memory(c, *mem);
}

static int rd_memarg(struct wasm_cc *c, uint8_t natural, uint32_t *mem, uint64_t *offset)
{
	uint32_t align;

	TRY(wasm_rd_memarg(c->r, &align, mem, offset));
	TRY(need_memory(c, *mem));
	if (align > natural)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID,
				    "alignment must not be larger than natural");
	if (!c->m->mems[*mem].is64 && *offset > UINT32_MAX)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "offset out of range");
	return 0;
}

/* The address operand's type: i64 for a memory64 memory. */
static uint8_t addr_type(const struct wasm_cc *c, uint32_t mem)
{
	return c->m->mems[mem].is64 ? T_I64 : T_I32;
}

/* The address slot and offset an access to memory mem uses. An i64 address (memory64)
 * goes through ADDR64, which traps unless addr + off is below 2**32 (no memory is
 * larger) and leaves it in a scratch slot above everything just popped (the operands
 * of a store, up to 3 slots, are still to be read); the access then has offset 0. */
static void mem_addr(struct wasm_cc *c, uint32_t mem, struct wasm_cc_entry *addr, uint64_t off64,
		     uint32_t *a, uint32_t *off)
{
	uint32_t t;

	*a = wasm_cc_use_slot(c, addr);
	*off = (uint32_t)off64;
	if (!c->m->mems[mem].is64)
		return;
	t = c->top_slot + 3;
	if (t + 1 > c->max_slot)
		c->max_slot = t + 1;
	wasm_cc_emit_op(c, WASM_OP_ADDR64);
	wasm_cc_emit(c, t);
	wasm_cc_emit(c, *a);
	wasm_cc_emit_u64(c, off64);
	c->last_end = UINT32_MAX;
	*a = t;
	*off = 0;
}

/* An access to memory mem other than 0 is bracketed: USE_MEM mem, the op, USE_MEM 0 (the
 * op itself is the one for memory 0, which the interpreter keeps in registers). */
static void use_mem(struct wasm_cc *c, uint32_t mem)
{
	wasm_cc_emit_op(c, WASM_OP_USE_MEM);
	wasm_cc_emit(c, mem);
	c->last_end = UINT32_MAX;
}

/* Folds "x + imm" (the op just emitted) into the offset of the load at op: exact unless
 * x + imm wraps, which the interpreter catches (wrapped_ea in exec.c). Negative-looking
 * addends (x - 8 is x + 0xfffffff8) would wrap every time, so they stay separate. */
static int fold_address_add(struct wasm_cc *c, const struct wasm_cc_opinfo *oi, uint32_t off)
{
	uint32_t at = c->last_start, x = c->code[at + 2], imm = c->code[at + 3], d;

	if (imm >= 0x80000000u || off > UINT32_MAX - imm)
		return 0;
	wasm_cc_rewind(c, at, true);
	TRY(wasm_cc_push_result(c, oi->tout, &d));
	wasm_cc_emit_op(c, oi->op);
	wasm_cc_emit(c, d);
	wasm_cc_emit(c, x);
	wasm_cc_emit(c, off + imm);
	wasm_cc_add_wrap(c, at, imm);
	wasm_cc_mark_result(c, at, oi->op, at + 1);
	return 1;
}

/* "base + idx" and "base + (idx << k)" (I32_ADD, I32_ADD_SHL: the op just emitted)
 * become one indexed load N_IDX. */
static int fuse_indexed(struct wasm_cc *c, const struct wasm_cc_opinfo *oi, uint32_t off)
{
	uint32_t at = c->last_start, base = c->code[at + 2], idx = c->code[at + 3], shift = 0, d;

	if (c->last_op == WASM_OP_I32_ADD_SHL)
		shift = c->code[at + 4] & 31;
	wasm_cc_rewind(c, at, true);
	TRY(wasm_cc_push_result(c, oi->tout, &d));
	wasm_cc_emit_op(c, (enum wasm_op)(oi->op + 1)); /* ops.def: N, N_IDX */
	wasm_cc_emit(c, d);
	wasm_cc_emit(c, base);
	wasm_cc_emit(c, idx);
	wasm_cc_emit(c, shift);
	wasm_cc_emit(c, off);
	wasm_cc_mark_result(c, at, oi->op + 1u, at + 1);
	return 1;
}

static int op_load(struct wasm_cc *c, const struct wasm_cc_opinfo *oi)
{
	uint32_t off, d, a, at, mem;
	uint64_t off64;
	struct wasm_cc_entry addr;

	TRY(rd_memarg(c, oi->imm, &mem, &off64));
	TRY(wasm_cc_pop(c, addr_type(c, mem), &addr));
	off = (uint32_t)off64;
	if (mem || c->m->mems[mem].is64) {
		mem_addr(c, mem, &addr, off64, &a, &off);
		TRY(wasm_cc_push_result(c, oi->tout, &d));
		if (mem)
			use_mem(c, mem);
		wasm_cc_emit_op(c, oi->op);
		wasm_cc_emit(c, d);
		wasm_cc_emit(c, a);
		wasm_cc_emit(c, off);
		if (mem)
			use_mem(c, 0);
		c->last_end = UINT32_MAX;
		return 0;
	}
	if (addr.kind == K_SLOT && wasm_cc_last_result_is(c, addr.home)) {
		int fused = 0;
		if (c->last_op == WASM_OP_I32_ADD_I)
			fused = fold_address_add(c, oi, off);
		else if (c->last_op == WASM_OP_I32_ADD || c->last_op == WASM_OP_I32_ADD_SHL)
			fused = fuse_indexed(c, oi, off);
		if (fused)
			return fused < 0 ? fused : 0;
	}
	a = wasm_cc_use_slot(c, &addr);
	TRY(wasm_cc_push_result(c, oi->tout, &d));
	at = c->n;
	wasm_cc_emit_op(c, oi->op);
	wasm_cc_emit(c, d);
	wasm_cc_emit(c, a);
	wasm_cc_emit(c, off);
	wasm_cc_mark_result(c, at, oi->op, at + 1);
	return 0;
}

static int op_store(struct wasm_cc *c, const struct wasm_cc_opinfo *oi)
{
	uint32_t off, a, v, mem;
	uint64_t off64;
	struct wasm_cc_entry addr, val;

	TRY(rd_memarg(c, oi->imm, &mem, &off64));
	TRY(wasm_cc_pop(c, oi->t2, &val));
	TRY(wasm_cc_pop(c, addr_type(c, mem), &addr));
	v = wasm_cc_use_slot(c, &val);
	mem_addr(c, mem, &addr, off64, &a, &off);
	if (mem)
		use_mem(c, mem);
	wasm_cc_emit_op(c, oi->op);
	wasm_cc_emit(c, a);
	wasm_cc_emit(c, v);
	wasm_cc_emit(c, off);
	if (mem)
		use_mem(c, 0);
	return 0;
}

static int need_datacount(struct wasm_cc *c)
{
	if (!c->m->has_datacount)
		return wasm_rd_fail(c->r, WASM_ERR_MALFORMED, "data count section required");
	return 0;
}

static int need_data(struct wasm_cc *c, uint32_t seg)
{
	if (seg >= c->m->datacount)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown data segment %u", seg);
	return 0;
}

/* Ops whose operands are all i32 and that are laid out [imm.. operands..]. The slots are
 * emitted after the immediates, so the op word must go first: we pop into temporaries. */
static int op_mem_misc(struct wasm_cc *c, uint32_t sp)
{
	uint32_t seg = 0, d, mem;
	bool is64;
	struct wasm_cc_entry e;

	switch (sp) {
	case S_MEMORY_SIZE:
		TRY(rd_memidx(c, &mem));
		is64 = c->m->mems[mem].is64;
		TRY(wasm_cc_push_result(c, addr_type(c, mem), &d));
		wasm_cc_emit_op(c, is64	 ? WASM_OP_MEMORY_SIZE64
				   : mem ? WASM_OP_MEMORY_SIZE_M
					 : WASM_OP_MEMORY_SIZE);
		wasm_cc_emit(c, d);
		if (mem || is64)
			wasm_cc_emit(c, mem);
		return 0;
	case S_MEMORY_GROW: {
		uint32_t a;
		TRY(rd_memidx(c, &mem));
		is64 = c->m->mems[mem].is64;
		TRY(wasm_cc_pop(c, addr_type(c, mem), &e));
		a = wasm_cc_use_slot(c, &e);
		TRY(wasm_cc_push_result(c, addr_type(c, mem), &d));
		wasm_cc_emit_op(c, is64	 ? WASM_OP_MEMORY_GROW64
				   : mem ? WASM_OP_MEMORY_GROW_M
					 : WASM_OP_MEMORY_GROW);
		wasm_cc_emit(c, d);
		wasm_cc_emit(c, a);
		if (mem || is64)
			wasm_cc_emit(c, mem);
		return 0;
	}
	case S_MEMORY_INIT: {
		struct wasm_cc_entry v[3];
		uint32_t s[3];
		TRY(wasm_rd_u32(c->r, &seg));
		TRY(wasm_rd_u32(c->r, &mem));
		TRY(need_datacount(c));
		/* the memory first, as the validation rule lists it (3.3.5 memory.init) */
		TRY(need_memory(c, mem));
		TRY(need_data(c, seg));
		for (int i = 2; i >= 0; i--)
			TRY(wasm_cc_pop(c, i == 0 ? addr_type(c, mem) : T_I32, &v[i]));
		for (int i = 0; i < 3; i++)
			s[i] = wasm_cc_use_slot(c, &v[i]);
		/* MEMORY_INIT_M reads the destination as its memory's address type */
		wasm_cc_emit_op(c, mem || c->m->mems[mem].is64 ? WASM_OP_MEMORY_INIT_M
							       : WASM_OP_MEMORY_INIT);
		wasm_cc_emit(c, seg);
		for (int i = 0; i < 3; i++)
			wasm_cc_emit(c, s[i]);
		if (mem || c->m->mems[mem].is64)
			wasm_cc_emit(c, mem);
		return 0;
	}
	case S_DATA_DROP:
		TRY(wasm_rd_u32(c->r, &seg));
		TRY(need_datacount(c));
		TRY(need_data(c, seg));
		wasm_cc_emit_op(c, WASM_OP_DATA_DROP);
		wasm_cc_emit(c, seg);
		return 0;
	case S_MEMORY_COPY: {
		struct wasm_cc_entry v[3];
		uint32_t s[3], src;
		TRY(rd_memidx(c, &mem));
		TRY(rd_memidx(c, &src));
		/* the length is i64 only between two memory64 memories */
		is64 = c->m->mems[mem].is64 || c->m->mems[src].is64;
		TRY(wasm_cc_pop(
			c, addr_type(c, mem) == T_I64 && addr_type(c, src) == T_I64 ? T_I64 : T_I32,
			&v[2]));
		TRY(wasm_cc_pop(c, addr_type(c, src), &v[1]));
		TRY(wasm_cc_pop(c, addr_type(c, mem), &v[0]));
		for (int i = 0; i < 3; i++)
			s[i] = wasm_cc_use_slot(c, &v[i]);
		wasm_cc_emit_op(c,
				mem || src || is64 ? WASM_OP_MEMORY_COPY_M : WASM_OP_MEMORY_COPY);
		for (int i = 0; i < 3; i++)
			wasm_cc_emit(c, s[i]);
		if (mem || src || is64) {
			wasm_cc_emit(c, mem);
			wasm_cc_emit(c, src);
		}
		return 0;
	}
	case S_MEMORY_FILL: {
		struct wasm_cc_entry v[3];
		uint32_t s[3];
		TRY(rd_memidx(c, &mem));
		is64 = c->m->mems[mem].is64;
		for (int i = 2; i >= 0; i--)
			TRY(wasm_cc_pop(c, i == 1 ? T_I32 : addr_type(c, mem), &v[i]));
		for (int i = 0; i < 3; i++)
			s[i] = wasm_cc_use_slot(c, &v[i]);
		if (is64) {
			wasm_cc_emit_op(c, WASM_OP_MEMORY_FILL64);
			for (int i = 0; i < 3; i++)
				wasm_cc_emit(c, s[i]);
			wasm_cc_emit(c, mem);
			return 0;
		}
		if (mem)
			use_mem(c, mem);
		wasm_cc_emit_op(c, WASM_OP_MEMORY_FILL);
		for (int i = 0; i < 3; i++)
			wasm_cc_emit(c, s[i]);
		if (mem)
			use_mem(c, 0);
		return 0;
	}
	}
	return -EINVAL;
}

/* ----- tables and references ----- */

static int rd_table(struct wasm_cc *c, uint32_t *x)
{
	TRY(wasm_rd_u32(c->r, x));
	if (*x >= c->m->ntables)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown table %u", *x);
	return 0;
}

static int check_elem(struct wasm_cc *c, uint32_t x)
{
	if (x >= c->m->nelems)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown elem segment %u", x);
	return 0;
}

static int rd_elem(struct wasm_cc *c, uint32_t *x)
{
	TRY(wasm_rd_u32(c->r, x));
	return check_elem(c, *x);
}

/* Pops operands of the given types (in stack order) and returns their slots. */
static int pop_operands(struct wasm_cc *c, uint32_t n, const wasm_vt *types, uint32_t *slots)
{
	struct wasm_cc_entry e[4];

	for (uint32_t i = n; i-- > 0;)
		TRY(wasm_cc_pop(c, types[i], &e[i]));
	for (uint32_t i = 0; i < n; i++)
		slots[i] = wasm_cc_use_slot(c, &e[i]);
	return 0;
}

/* The index type of table x: i64 for a memory64 table. */
static uint8_t idx_type(const struct wasm_cc *c, uint32_t x)
{
	return c->m->tables[x].is64 ? T_I64 : T_I32;
}

/* Operand k of a table op, *s, of type type: an i64 goes through IDX64 into a scratch
 * slot above the operands just popped, trapping with the op's trap past 2^32-1. */
static void narrow(struct wasm_cc *c, wasm_vt type, uint32_t *s, uint32_t k)
{
	uint32_t t = c->top_slot + 4 + k;

	if (type != T_I64)
		return;
	if (t + 1 > c->max_slot)
		c->max_slot = t + 1;
	wasm_cc_emit_op(c, WASM_OP_IDX64);
	wasm_cc_emit(c, t);
	wasm_cc_emit(c, *s);
	wasm_cc_emit(c, WASM_TRAP_TABLE_OOB);
	c->last_end = UINT32_MAX;
	*s = t;
}

static int op_table(struct wasm_cc *c, uint32_t sp)
{
	uint32_t x, y, d, s[4];
	wasm_vt t, ix, iy, in;

	switch (sp) {
	case S_TABLE_GET:
		TRY(rd_table(c, &x));
		ix = idx_type(c, x);
		TRY(pop_operands(c, 1, (const wasm_vt[]){ix}, s));
		narrow(c, ix, &s[0], 0);
		TRY(wasm_cc_push_result(c, c->m->tables[x].elem, &d));
		wasm_cc_emit_op(c, WASM_OP_TABLE_GET);
		wasm_cc_emit(c, d), wasm_cc_emit(c, x), wasm_cc_emit(c, s[0]);
		return 0;
	case S_TABLE_SET:
		TRY(rd_table(c, &x));
		t = c->m->tables[x].elem;
		ix = idx_type(c, x);
		TRY(pop_operands(c, 2, (const wasm_vt[]){ix, t}, s));
		narrow(c, ix, &s[0], 0);
		wasm_cc_emit_op(c, WASM_OP_TABLE_SET);
		wasm_cc_emit(c, x), wasm_cc_emit(c, s[0]), wasm_cc_emit(c, s[1]);
		return 0;
	case S_TABLE_SIZE:
		TRY(rd_table(c, &x));
		TRY(wasm_cc_push_result(c, idx_type(c, x), &d));
		wasm_cc_emit_op(c,
				c->m->tables[x].is64 ? WASM_OP_TABLE_SIZE64 : WASM_OP_TABLE_SIZE);
		wasm_cc_emit(c, d), wasm_cc_emit(c, x);
		return 0;
	case S_TABLE_GROW:
		TRY(rd_table(c, &x));
		t = c->m->tables[x].elem;
		ix = idx_type(c, x);
		TRY(pop_operands(c, 2, (const wasm_vt[]){t, ix}, s));
		TRY(wasm_cc_push_result(c, ix, &d));
		wasm_cc_emit_op(c, ix == T_I64 ? WASM_OP_TABLE_GROW64 : WASM_OP_TABLE_GROW);
		wasm_cc_emit(c, d), wasm_cc_emit(c, x), wasm_cc_emit(c, s[0]),
			wasm_cc_emit(c, s[1]);
		return 0;
	case S_TABLE_FILL:
		TRY(rd_table(c, &x));
		t = c->m->tables[x].elem;
		ix = idx_type(c, x);
		TRY(pop_operands(c, 3, (const wasm_vt[]){ix, t, ix}, s));
		narrow(c, ix, &s[0], 0);
		narrow(c, ix, &s[2], 2);
		wasm_cc_emit_op(c, WASM_OP_TABLE_FILL);
		wasm_cc_emit(c, x), wasm_cc_emit(c, s[0]), wasm_cc_emit(c, s[1]),
			wasm_cc_emit(c, s[2]);
		return 0;
	case S_TABLE_COPY:
		TRY(rd_table(c, &x));
		TRY(rd_table(c, &y));
		if (!wasm_cc_sub(c, c->m->tables[y].elem, c->m->tables[x].elem))
			return wasm_cc_mismatch(c, "table.copy between tables of different types");
		/* the length is i64 only between two i64 tables */
		ix = idx_type(c, x), iy = idx_type(c, y);
		in = ix == T_I64 && iy == T_I64 ? T_I64 : T_I32;
		TRY(pop_operands(c, 3, (const wasm_vt[]){ix, iy, in}, s));
		narrow(c, ix, &s[0], 0);
		narrow(c, iy, &s[1], 1);
		narrow(c, in, &s[2], 2);
		wasm_cc_emit_op(c, WASM_OP_TABLE_COPY);
		wasm_cc_emit(c, x), wasm_cc_emit(c, y), wasm_cc_emit(c, s[0]),
			wasm_cc_emit(c, s[1]), wasm_cc_emit(c, s[2]);
		return 0;
	case S_TABLE_INIT:
		/* the segment index comes first, but the spec validates the table first */
		TRY(wasm_rd_u32(c->r, &y));
		TRY(rd_table(c, &x));
		TRY(check_elem(c, y));
		if (!wasm_cc_sub(c, c->m->elems[y].type, c->m->tables[x].elem))
			return wasm_cc_mismatch(c, "table.init from a segment of another type");
		ix = idx_type(c, x);
		TRY(pop_operands(c, 3, (const wasm_vt[]){ix, T_I32, T_I32}, s));
		narrow(c, ix, &s[0], 0);
		wasm_cc_emit_op(c, WASM_OP_TABLE_INIT);
		wasm_cc_emit(c, y), wasm_cc_emit(c, x), wasm_cc_emit(c, s[0]),
			wasm_cc_emit(c, s[1]), wasm_cc_emit(c, s[2]);
		return 0;
	case S_ELEM_DROP:
		TRY(rd_elem(c, &y));
		wasm_cc_emit_op(c, WASM_OP_ELEM_DROP);
		wasm_cc_emit(c, y);
		return 0;
	}
	return -EINVAL;
}

static int op_ref(struct wasm_cc *c, uint32_t sp)
{
	struct wasm_cc_entry *e, v;
	uint32_t x, d, a;
	wasm_vt t;

	switch (sp) {
	case S_REF_NULL:
		TRY(wasm_rd_heaptype(c->r, c->m, &t));
		TRY(wasm_cc_push(c, t, &e));
		e->kind = K_CONST;
		e->c = 0;
		return 0;
	case S_REF_IS_NULL:
		TRY(wasm_cc_pop(c, T_UNKNOWN, &v));
		if (v.type != T_UNKNOWN && !wasm_is_reftype(v.type))
			return wasm_cc_mismatch(c, "ref.is_null needs a reference");
		a = wasm_cc_use_slot(c, &v);
		TRY(wasm_cc_push_result(c, T_I32, &d));
		wasm_cc_emit_op(c, WASM_OP_REF_IS_NULL);
		wasm_cc_emit(c, d), wasm_cc_emit(c, a);
		return 0;
	case S_REF_FUNC:
		TRY(wasm_rd_u32(c->r, &x));
		if (x >= c->m->nfuncs)
			return wasm_rd_fail(c->r, WASM_ERR_INVALID, "unknown function %u", x);
		if (!c->m->declared[x])
			return wasm_rd_fail(c->r, WASM_ERR_INVALID,
					    "undeclared function reference");
		TRY(wasm_cc_push_result(c, wasm_vt_idx(c->m->func_type[x], false), &d));
		wasm_cc_emit_op(c, WASM_OP_REF_FUNC);
		wasm_cc_emit(c, d), wasm_cc_emit(c, x);
		return 0;
	}
	return -EINVAL;
}

/* ----- constants ----- */

static int op_const(struct wasm_cc *c, uint32_t sp)
{
	struct wasm_cc_entry *e;
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
	TRY(wasm_cc_push(c, t, &e));
	e->kind = K_CONST;
	e->c = v;
	return 0;
}

/* ----- numeric classes ----- */

static bool commutative(uint32_t op)
{
	switch (op) {
	case WASM_OP_I32_ADD:
	case WASM_OP_I32_MUL:
	case WASM_OP_I32_AND:
	case WASM_OP_I32_OR:
	case WASM_OP_I32_XOR:
	case WASM_OP_I32_EQ:
	case WASM_OP_I32_NE:
	case WASM_OP_I64_ADD:
	case WASM_OP_I64_MUL:
	case WASM_OP_I64_AND:
	case WASM_OP_I64_OR:
	case WASM_OP_I64_XOR:
	case WASM_OP_I64_EQ:
	case WASM_OP_I64_NE:
		return true;
	}
	return false;
}

/* The FUSE_LOAD superinstructions (fused.def): a BIN whose operand was just loaded. */
static const struct fused_load {
	uint16_t bin, fused, load;
	bool comm;
} fused_loads[] = {
#define FUSE_LOAD(N, BIN, T, COMM, E) {WASM_OP_##BIN, WASM_OP_##N, WASM_OP_##T##_LOAD, COMM},
#define FUSE_IMM(N, BIN, IN, T, COMM, E)
#define FUSE_BIN(N, BIN, IN, T, COMM, E)
#include "wasm/fused.def"
#undef FUSE_LOAD
#undef FUSE_IMM
#undef FUSE_BIN
};

/* The FUSE_IMM and FUSE_BIN superinstructions: a BIN whose operand another op just made
 * from x and an immediate (in = IN_I; 1 or 2 immediate words) or from x and y (in = IN). */
static const struct fused_pair {
	uint16_t bin, fused, in;
	bool comm;
	uint8_t imm_words;
} fused_pairs[] = {
#define FUSE_LOAD(N, BIN, T, COMM, E)
#define FUSE_IMM(N, BIN, IN, T, COMM, E)                                                           \
	{WASM_OP_##BIN, WASM_OP_##N, WASM_OP_##IN##_I, COMM, T_##T == T_I64 ? 2 : 1},
#define FUSE_BIN(N, BIN, IN, T, COMM, E) {WASM_OP_##BIN, WASM_OP_##N, WASM_OP_##IN, COMM, 0},
#include "wasm/fused.def"
#undef FUSE_LOAD
#undef FUSE_IMM
#undef FUSE_BIN
};

/* The operand of a and b that the op just emitted (internal op `op`) computed into a
 * temporary, when the other one is readable in place (not a constant); else NULL. */
static struct wasm_cc_entry *just_made(struct wasm_cc *c, uint32_t op, bool comm,
				       struct wasm_cc_entry *a, struct wasm_cc_entry *b)
{
	if (c->dead || c->last_op != op)
		return NULL;
	if (b->kind == K_SLOT && wasm_cc_last_result_is(c, b->home) && a->kind != K_CONST)
		return b;
	if (comm && a->kind == K_SLOT && wasm_cc_last_result_is(c, a->home) && b->kind != K_CONST)
		return a;
	return NULL;
}

/* rotl(x, k1) ^ rotl(y, k2), as hash functions compute: the XOR is being fused with the
 * second rotation (the last op) and its other operand is the temporary the first one,
 * just before, made. All three become one op at the first rotation's place. */
static bool rotations(struct wasm_cc *c, const struct wasm_cc_entry *other)
{
	uint32_t first = c->prev_start, second = c->last_start, w[4], d;

	if (other->kind != K_SLOT || other->home < c->stack_base || c->prev_end != second ||
	    c->prev_op != WASM_OP_I32_ROTL_I || c->code[c->prev_dst_at] != other->home)
		return false;
	w[0] = c->code[first + 2];
	w[1] = c->code[first + 3];
	w[2] = c->code[second + 2];
	w[3] = c->code[second + 3];
	wasm_cc_rewind(c, first, false);
	if (wasm_cc_push_result(c, T_I32, &d))
		return false; /* cannot happen: the stack just had these entries */
	wasm_cc_emit_op(c, WASM_OP_I32_ROTL_XOR_ROTL);
	wasm_cc_emit(c, d);
	for (int i = 0; i < 4; i++)
		wasm_cc_emit(c, w[i]);
	wasm_cc_mark_result(c, first, WASM_OP_I32_ROTL_XOR_ROTL, first + 1);
	return true;
}

/* BIN a b where a or b was just computed by "x IN imm" or "x IN y": one fused op
 * [d other x imm|y] at the inner op's place. Returns 1 when done. */
static int fuse_pair(struct wasm_cc *c, const struct wasm_cc_opinfo *oi, struct wasm_cc_entry *a,
		     struct wasm_cc_entry *b)
{
	for (uint32_t i = 0; i < ARRAY_SIZE(fused_pairs); i++) {
		const struct fused_pair *f = &fused_pairs[i];
		struct wasm_cc_entry *made, *other;
		uint32_t at, w[3], d;
		if (f->bin != oi->op)
			continue;
		made = just_made(c, f->in, f->comm, a, b);
		if (!made)
			continue;
		other = made == b ? a : b;
		at = c->last_start;
		if (f->fused == WASM_OP_I32_XOR_ROTL && rotations(c, other))
			return 1;
		/* the inner op's operand words: x, then imm (1 or 2 words) or y */
		w[0] = c->code[at + 2];
		w[1] = c->code[at + 3];
		w[2] = f->imm_words == 2 ? c->code[at + 4] : 0;
		wasm_cc_rewind(c, at, false);
		TRY(wasm_cc_push_result(c, oi->tout, &d));
		wasm_cc_emit_op(c, (enum wasm_op)f->fused);
		wasm_cc_emit(c, d);
		wasm_cc_emit(c, other->kind == K_LOCAL ? other->src : other->home);
		wasm_cc_emit(c, w[0]);
		wasm_cc_emit(c, w[1]);
		if (f->imm_words == 2)
			wasm_cc_emit(c, w[2]);
		wasm_cc_mark_result(c, at, f->fused, at + 1);
		return 1;
	}
	return 0;
}

/* BIN a b where a or b is the result of the load just emitted: one fused op
 * [d other addr offset] at the load's place. Returns 1 when done. */
static int fuse_load_operand(struct wasm_cc *c, const struct wasm_cc_opinfo *oi,
			     struct wasm_cc_entry *a, struct wasm_cc_entry *b)
{
	const struct fused_load *f = NULL;
	struct wasm_cc_entry *ld, *other;
	uint32_t at, addr, off, imm, d;

	for (uint32_t i = 0; i < ARRAY_SIZE(fused_loads) && !f; i++)
		if (fused_loads[i].bin == oi->op)
			f = &fused_loads[i];
	if (!f)
		return 0;
	ld = just_made(c, f->load, f->comm, a, b);
	if (!ld)
		return 0;
	other = ld == b ? a : b;
	at = c->last_start;
	addr = c->code[at + 2];
	off = c->code[at + 3];
	imm = wasm_cc_wrap_imm(c, at);
	wasm_cc_rewind(c, at, false);
	TRY(wasm_cc_push_result(c, oi->tout, &d));
	wasm_cc_emit_op(c, (enum wasm_op)f->fused);
	wasm_cc_emit(c, d);
	wasm_cc_emit(c, other->kind == K_LOCAL ? other->src : other->home);
	wasm_cc_emit(c, addr);
	wasm_cc_emit(c, off);
	wasm_cc_add_wrap(c, at, imm);
	wasm_cc_mark_result(c, at, f->fused, at + 1);
	return 1;
}

static int op_numeric(struct wasm_cc *c, const struct wasm_cc_opinfo *oi)
{
	struct wasm_cc_entry a, b;
	uint32_t d, sa, sb, at;

	if (oi->cls == CLS_UN || oi->cls == CLS_TUN) {
		TRY(wasm_cc_pop(c, oi->t1, &a));
		sa = wasm_cc_use_slot(c, &a);
		TRY(wasm_cc_push_result(c, oi->tout, &d));
		at = c->n;
		wasm_cc_emit_op(c, oi->op);
		wasm_cc_emit(c, d), wasm_cc_emit(c, sa);
		wasm_cc_mark_result(c, at, oi->op, at + 1);
		return 0;
	}
	TRY(wasm_cc_pop(c, oi->t2, &b));
	TRY(wasm_cc_pop(c, oi->t1, &a));
	if (a.kind == K_CONST && b.kind != K_CONST && commutative(oi->op) && !c->plain) {
		/* "const OP x" is "x OP const": use the immediate form */
		struct wasm_cc_entry t = a;
		a = b;
		b = t;
	}
	if (oi->cls == CLS_BIN || oi->cls == CLS_IBIN) {
		int fused = fuse_load_operand(c, oi, &a, &b);
		if (!fused && oi->cls == CLS_IBIN && b.kind != K_CONST)
			fused = fuse_pair(c, oi, &a, &b);
		if (fused)
			return fused < 0 ? fused : 0;
	}
	at = c->n;
	if ((oi->cls == CLS_IBIN || oi->cls == CLS_ICMP) && b.kind == K_CONST && !c->dead) {
		sa = wasm_cc_use_slot(c, &a);
		TRY(wasm_cc_push_result(c, oi->tout, &d));
		at = c->n;
		wasm_cc_emit_op(c, (enum wasm_op)(oi->op + 1));
		wasm_cc_emit(c, d), wasm_cc_emit(c, sa);
		if (oi->t1 == T_I64)
			wasm_cc_emit_u64(c, b.c);
		else
			wasm_cc_emit(c, (uint32_t)b.c);
		wasm_cc_mark_result(c, at, oi->op + 1u, at + 1);
		return 0;
	}
	sb = wasm_cc_use_slot(c, &b);
	sa = wasm_cc_use_slot(c, &a);
	TRY(wasm_cc_push_result(c, oi->tout, &d));
	at = c->n;
	wasm_cc_emit_op(c, oi->op);
	wasm_cc_emit(c, d), wasm_cc_emit(c, sa), wasm_cc_emit(c, sb);
	wasm_cc_mark_result(c, at, oi->op, at + 1);
	return 0;
}

static int op_tern(struct wasm_cc *c, const struct wasm_cc_opinfo *oi)
{
	struct wasm_cc_entry v[3];
	uint32_t s[3], d, at;

	for (int i = 2; i >= 0; i--)
		TRY(wasm_cc_pop(c, T_V128, &v[i]));
	for (int i = 0; i < 3; i++)
		s[i] = wasm_cc_use_slot(c, &v[i]);
	TRY(wasm_cc_push_result(c, T_V128, &d));
	at = c->n;
	wasm_cc_emit_op(c, oi->op);
	wasm_cc_emit(c, d), wasm_cc_emit(c, s[0]), wasm_cc_emit(c, s[1]), wasm_cc_emit(c, s[2]);
	wasm_cc_mark_result(c, at, oi->op, at + 1);
	return 0;
}

static int rd_lane(struct wasm_cc *c, uint8_t lanes, uint32_t *lane)
{
	uint8_t b = 0;

	*lane = 0;
	TRY(wasm_rd_u8(c->r, &b));
	if (b >= lanes)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "invalid lane index %u", b);
	*lane = b;
	return 0;
}

static int op_lane(struct wasm_cc *c, const struct wasm_cc_opinfo *oi)
{
	struct wasm_cc_entry a, b;
	uint32_t lane, d, sa, sb = 0, at;

	TRY(rd_lane(c, oi->imm, &lane));
	if (oi->cls == CLS_REPLACE)
		TRY(wasm_cc_pop(c, oi->t2, &b));
	TRY(wasm_cc_pop(c, T_V128, &a));
	if (oi->cls == CLS_REPLACE)
		sb = wasm_cc_use_slot(c, &b);
	sa = wasm_cc_use_slot(c, &a);
	TRY(wasm_cc_push_result(c, oi->tout, &d));
	at = c->n;
	wasm_cc_emit_op(c, oi->op);
	wasm_cc_emit(c, d), wasm_cc_emit(c, sa);
	if (oi->cls == CLS_REPLACE)
		wasm_cc_emit(c, sb);
	wasm_cc_emit(c, lane);
	wasm_cc_mark_result(c, at, oi->op, at + 1);
	return 0;
}

static int op_lanemem(struct wasm_cc *c, const struct wasm_cc_opinfo *oi)
{
	struct wasm_cc_entry addr, v;
	uint32_t off, lane, sa, sv, d, mem;
	uint64_t off64;

	TRY(rd_memarg(c, lanemem_align(oi->imm), &mem, &off64));
	TRY(rd_lane(c, oi->imm, &lane));
	TRY(wasm_cc_pop(c, T_V128, &v));
	TRY(wasm_cc_pop(c, addr_type(c, mem), &addr));
	sv = wasm_cc_use_slot(c, &v);
	mem_addr(c, mem, &addr, off64, &sa, &off);
	if (oi->store) {
		if (mem)
			use_mem(c, mem);
		wasm_cc_emit_op(c, oi->op);
		wasm_cc_emit(c, sv), wasm_cc_emit(c, sa), wasm_cc_emit(c, off),
			wasm_cc_emit(c, lane);
		if (mem)
			use_mem(c, 0);
		return 0;
	}
	TRY(wasm_cc_push_result(c, T_V128, &d));
	if (mem)
		use_mem(c, mem);
	wasm_cc_emit_op(c, oi->op);
	wasm_cc_emit(c, d), wasm_cc_emit(c, sv), wasm_cc_emit(c, sa), wasm_cc_emit(c, off),
		wasm_cc_emit(c, lane);
	if (mem)
		use_mem(c, 0);
	return 0;
}

static int op_simd_special(struct wasm_cc *c, uint32_t code)
{
	uint32_t d, sa, sb, at;
	struct wasm_cc_entry a, b;
	const uint8_t *bytes;
	uint32_t w[4];

	if (code == 0x0c) { /* v128.const */
		TRY(wasm_rd_bytes(c->r, 16, &bytes));
		memcpy(w, bytes, 16);
		TRY(wasm_cc_push_result(c, T_V128, &d));
		wasm_cc_emit_op(c, WASM_OP_CONST128);
		wasm_cc_emit(c, d);
		for (int i = 0; i < 4; i++)
			wasm_cc_emit(c, w[i]);
		return 0;
	}
	/* i8x16.shuffle */
	TRY(wasm_rd_bytes(c->r, 16, &bytes));
	for (int i = 0; i < 16; i++)
		if (bytes[i] >= 32)
			return wasm_rd_fail(c->r, WASM_ERR_INVALID, "invalid lane index %u",
					    bytes[i]);
	memcpy(w, bytes, 16);
	TRY(wasm_cc_pop(c, T_V128, &b));
	TRY(wasm_cc_pop(c, T_V128, &a));
	sb = wasm_cc_use_slot(c, &b);
	sa = wasm_cc_use_slot(c, &a);
	TRY(wasm_cc_push_result(c, T_V128, &d));
	at = c->n;
	wasm_cc_emit_op(c, WASM_OP_SHUFFLE);
	wasm_cc_emit(c, d), wasm_cc_emit(c, sa), wasm_cc_emit(c, sb);
	for (int i = 0; i < 4; i++)
		wasm_cc_emit(c, w[i]);
	wasm_cc_mark_result(c, at, WASM_OP_SHUFFLE, at + 1);
	return 0;
}

/* ----- dispatch ----- */

static int op_special(struct wasm_cc *c, uint32_t sp)
{
	switch (sp) {
	case S_DROP: {
		struct wasm_cc_entry e;
		return wasm_cc_pop(c, T_UNKNOWN, &e);
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

/* ----- threads: atomics.def ----- */

/* atomic.fence: a reserved zero byte (memory-order flags, only 0 so far). */
static int op_fence(struct wasm_cc *c)
{
	uint8_t b;

	TRY(wasm_rd_u8(c->r, &b));
	if (b != 0)
		return wasm_rd_fail(c->r, WASM_ERR_MALFORMED, "malformed atomic.fence flags");
	wasm_cc_emit_op(c, WASM_OP_ATOMIC_FENCE);
	c->last_end = UINT32_MAX;
	return 0;
}

/* The operands (after the address) of an atomic op, the last one on top of the stack. */
static int atomic_operands(struct wasm_cc *c, const struct wasm_cc_opinfo *oi, uint32_t *s,
			   uint32_t *n)
{
	uint8_t types[2] = {oi->t2, oi->t2};
	struct wasm_cc_entry v[2];

	*n = oi->op == WASM_OP_ATOMIC_CMPXCHG ? 2 : oi->op == WASM_OP_ATOMIC_LOAD ? 0 : 1;
	if (oi->op == WASM_OP_ATOMIC_WAIT) {
		*n = 2;
		types[1] = T_I64; /* the timeout */
	} else if (oi->op == WASM_OP_ATOMIC_NOTIFY) {
		types[0] = T_I32; /* the count */
	}
	for (uint32_t i = *n; i-- > 0;)
		TRY(wasm_cc_pop(c, types[i], &v[i]));
	for (uint32_t i = 0; i < *n; i++)
		s[i] = wasm_cc_use_slot(c, &v[i]);
	return 0;
}

/* Every atomic access, wait and notify: a memarg whose alignment must be exactly the
 * access size (a misaligned address traps at run time: "unaligned atomic"). */
static int op_atomic(struct wasm_cc *c, const struct wasm_cc_opinfo *oi)
{
	uint32_t mem, align, off, a, d = 0, s[2], n;
	uint64_t off64;
	struct wasm_cc_entry addr;
	bool wn = oi->op == WASM_OP_ATOMIC_WAIT || oi->op == WASM_OP_ATOMIC_NOTIFY;

	if (oi->op == WASM_OP_ATOMIC_FENCE)
		return op_fence(c);
	TRY(wasm_rd_memarg(c->r, &align, &mem, &off64));
	TRY(need_memory(c, mem));
	if (align != oi->imm)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "atomic alignment must be natural");
	if (!c->m->mems[mem].is64 && off64 > UINT32_MAX)
		return wasm_rd_fail(c->r, WASM_ERR_INVALID, "offset out of range");
	TRY(atomic_operands(c, oi, s, &n));
	TRY(wasm_cc_pop(c, addr_type(c, mem), &addr));
	mem_addr(c, mem, &addr, off64, &a, &off);
	if (oi->op != WASM_OP_ATOMIC_STORE)
		TRY(wasm_cc_push_result(c, wn ? T_I32 : oi->tout, &d));
	if (mem && !wn)
		use_mem(c, mem);
	wasm_cc_emit_op(c, oi->op);
	if (oi->op != WASM_OP_ATOMIC_STORE)
		wasm_cc_emit(c, d);
	wasm_cc_emit(c, a);
	for (uint32_t i = 0; i < n; i++)
		wasm_cc_emit(c, s[i]);
	wasm_cc_emit(c, off);
	if (wn)
		wasm_cc_emit(c, mem);
	if (oi->op != WASM_OP_ATOMIC_NOTIFY)
		wasm_cc_emit(c, oi->neg);
	if (mem && !wn)
		use_mem(c, 0);
	c->last_end = UINT32_MAX;
	return 0;
}

/* Every instruction other than control: variables, memory, tables, numeric, SIMD. */
int wasm_cc_operand(struct wasm_cc *c, uint32_t idx)
{
	const struct wasm_cc_opinfo *oi = &wasm_cc_opinfo[idx];

	if (idx == PBASE_PFD + 0x0c || idx == PBASE_PFD + 0x0d)
		return op_simd_special(c, idx - PBASE_PFD);
	switch (oi->cls) {
	case CLS_SPECIAL:
		return op_special(c, oi->op);
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
	case CLS_ATOMIC:
		return op_atomic(c, oi);
	default:
		return op_numeric(c, oi);
	}
}
