/*
 * The translator: one function's internal code (already validated, fused and laid out in
 * frame slots by compile*.c) becomes one stretch of x86-64 code, op by op in code order,
 * with the out-of-line paths (traps, ticks that ran out, wrapped folded addresses, calls
 * at the depth floor, loop entries for OSR) after the body. Registers: see tr.h.
 *
 * Exactness, op by op: every check the interpreter makes happens here at the same op, in
 * the same order, and reports the same code position: bounds (one compare of the end of
 * the access against the memory size in r13), division, the call stack (value slots
 * against stack_end, depth through rsp against j->floor), ticks at calls and loop
 * back-edges (r15), indirect call checks. Ops not inlined call the interpreter's own
 * expression for them (helpers.c), so nothing is approximated. Cached slots follow one
 * rule: a cached slot's register holds its value; memory holds it too unless the slot is
 * dirty, and everything that reads frames in memory (calls, helpers, return) comes after
 * a write-back.
 */
#include "wasm/jit/tr.h"

#if WASM_JIT_SUPPORTED

#include "core/alloc.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define CTX(field) x86_m(R_CTX, (int32_t)offsetof(struct wasm_jit, field))
#define SLOT(s)	   x86_m(R_FP, (int32_t)((s)*8))
#define CODE_ALIGN 16

/* ----- operands ----- */

/* the cache entry of slot, or -1 (not cached, or seen in memory by this op) */
static int entry(const struct tr *t, uint32_t slot)
{
	int8_t c = t->sreg[slot];

	return c >= 0 && !(t->xoff & (1u << c)) ? c : -1;
}

int tr_reg(const struct tr *t, uint32_t slot)
{
	int c = entry(t, slot);

	return c >= 0 && !(t->xmm & (1u << c)) ? t->creg[c] : -1;
}

int tr_xreg(const struct tr *t, uint32_t slot)
{
	int c = entry(t, slot);

	return c >= 0 && (t->xmm & (1u << c)) ? t->creg[c] : -1;
}

struct x86_rm tr_slot(struct tr *t, uint32_t slot)
{
	int r = tr_reg(t, slot);

	if (tr_xreg(t, slot) >= 0)
		t->fail = true; /* a path that is not xmm-aware: analyze.c's table is wrong */
	return r >= 0 ? x86_r(r) : SLOT(slot);
}

void tr_zext_result(struct tr *t, uint32_t d)
{
	if (tr_reg(t, d) >= 0)
		t->zext_new |= 1u << t->sreg[d];
}

static void mark_dirty(struct tr *t, uint32_t slot)
{
	t->dirty |= 1u << entry(t, slot);
}

void tr_get(struct tr *t, bool w, int reg, uint32_t slot)
{
	int r = tr_reg(t, slot), x = tr_xreg(t, slot);

	if (x >= 0)
		x86_movd_from_xmm(&t->e, w, x86_r(reg), x);
	else if (r != reg)
		x86_mov(&t->e, w, reg, r >= 0 ? x86_r(r) : SLOT(slot));
}

void tr_put(struct tr *t, bool w, uint32_t slot, int reg)
{
	int c = entry(t, slot);

	/* a 32-bit value too takes all 64 bits of its slot (the upper half is don't-care):
	 * a later 64-bit load of the slot (a copy, a reload) then gets the value forwarded
	 * from the store, where a narrower store would stall it */
	if (c < 0) {
		x86_mov_store(&t->e, true, SLOT(slot), reg);
		return;
	}
	if (t->xmm & (1u << c))
		x86_movd_to_xmm(&t->e, w, t->creg[c], x86_r(reg));
	else if (t->creg[c] != reg)
		x86_mov(&t->e, w, t->creg[c], x86_r(reg));
	t->dirty |= 1u << c;
}

/* movaps: the whole register, no dependency on the destination's old value */
static void xmov(struct tr *t, int dst, int src)
{
	if (dst != src)
		x86_sse_packed(&t->e, 0, 0x0f28, dst, x86_r(src));
}

void tr_get_xmm(struct tr *t, bool dbl, int xmm, uint32_t slot)
{
	int r = tr_reg(t, slot), x = tr_xreg(t, slot);

	if (x >= 0)
		xmov(t, xmm, x);
	else if (r >= 0)
		x86_movd_to_xmm(&t->e, dbl, xmm, x86_r(r));
	else
		x86_sse(&t->e, dbl, 0x10, false, xmm, SLOT(slot));
}

void tr_put_xmm(struct tr *t, bool dbl, uint32_t slot, int xmm)
{
	int c = entry(t, slot);

	if (c < 0) { /* all 64 bits, as tr_put */
		x86_sse_store(&t->e, true, SLOT(slot), xmm);
		return;
	}
	if (t->xmm & (1u << c))
		xmov(t, t->creg[c], xmm);
	else
		x86_movd_from_xmm(&t->e, dbl, x86_r(t->creg[c]), xmm);
	t->dirty |= 1u << c;
}

struct x86_rm tr_xmm_rm(struct tr *t, bool dbl, uint32_t slot, int spare)
{
	int r = tr_reg(t, slot), x = tr_xreg(t, slot);

	if (x >= 0)
		return x86_r(x);
	if (r < 0)
		return SLOT(slot);
	x86_movd_to_xmm(&t->e, dbl, spare, x86_r(r));
	return x86_r(spare);
}

/* ----- the cache around calls ----- */

/* cache entry c to its frame slot (all 64 bits: an f32's upper half is don't-care) */
static void store_entry(struct tr *t, unsigned c)
{
	if (t->xmm & (1u << c))
		x86_sse_store(&t->e, true, SLOT(t->cslot[c]), t->creg[c]);
	else
		x86_mov_store(&t->e, true, SLOT(t->cslot[c]), t->creg[c]);
}

static void flush(struct tr *t, uint32_t mask)
{
	for (unsigned c = 0; c < t->ncache; c++)
		if (mask & t->dirty & (1u << c))
			store_entry(t, c);
	t->dirty &= ~mask;
}

static void reload(struct tr *t, uint32_t mask)
{
	for (unsigned c = 0; c < t->ncache; c++) {
		if (!(mask & (1u << c)))
			continue;
		if (t->xmm & (1u << c))
			x86_sse(&t->e, true, 0x10, false, t->creg[c], SLOT(t->cslot[c]));
		else
			x86_mov(&t->e, true, t->creg[c], SLOT(t->cslot[c]));
	}
	t->dirty &= ~mask;
	t->zext &= ~mask; /* all 64 bits of the slot, whatever its upper half */
}

static uint32_t all_cached(const struct tr *t)
{
	return (1u << t->ncache) - 1;
}

/* The cache entries of the op's slot operands of layout kind `kind` ('a' or 'd'). */
static uint32_t operand_mask(const struct tr *t, uint32_t pc, unsigned op, char kind)
{
	const char *lay = wasm_jit_ops[op].layout;
	uint32_t mask = 0;

	for (uint32_t k = 0; lay[k]; k++) {
		int c;
		if (lay[k] != kind)
			continue;
		c = entry(t, t->ops[pc + 1 + k]);
		if (c >= 0)
			mask |= 1u << c;
	}
	return mask;
}

/* The xmm entries among the op's slot operands when one of them is at a position the
 * op's translation does not reach through the xmm-aware calls (0: none such). */
static uint32_t xmm_off_mask(const struct tr *t, uint32_t pc, unsigned op)
{
	const char *lay = wasm_jit_ops[op].layout;
	uint32_t mask = 0;
	bool need = false;

	for (uint32_t k = 0; lay[k]; k++) {
		int c;
		if (lay[k] != 'a' && lay[k] != 'd')
			continue;
		c = t->sreg[t->ops[pc + 1 + k]];
		if (c < 0 || !(t->xmm & (1u << c)))
			continue;
		mask |= 1u << c;
		need |= !wasm_jit_xmm_ok(op, k);
	}
	return need ? mask : 0;
}

void tr_sync_reads(struct tr *t, uint32_t pc, unsigned op)
{
	flush(t, operand_mask(t, pc, op, 'a'));
}

void tr_reload_writes(struct tr *t, uint32_t pc, unsigned op)
{
	reload(t, operand_mask(t, pc, op, 'd'));
}

static void load_mem(struct tr *t)
{
	struct wasm_memory *m = t->f->inst->mem0;

	if (!m)
		return;
	if (t->guard) { /* the base never moves; r13 is a cache register */
		x86_mov_imm(&t->e, R_MEM, (uint64_t)(uintptr_t)m->base);
		return;
	}
	x86_mov_imm(&t->e, X86_RAX, (uint64_t)(uintptr_t)m);
	x86_mov(&t->e, true, R_MEM, x86_m(X86_RAX, offsetof(struct wasm_memory, base)));
	x86_mov(&t->e, true, R_MSIZE, x86_m(X86_RAX, offsetof(struct wasm_memory, size)));
}

/* ----- out-of-line paths and C calls ----- */

int tr_grow(void **arr, uint32_t *cap, uint32_t need, size_t size)
{
	uint32_t ncap = *cap ? *cap : 16;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	p = core_realloc(*arr, (size_t)ncap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

struct cold *tr_cold(struct tr *t, uint8_t kind, uint8_t *jump, uint32_t pc)
{
	struct cold *c;

	if (tr_grow((void **)&t->cold, &t->capcold, t->ncold + 1, sizeof(*t->cold))) {
		t->fail = true;
		return NULL;
	}
	c = &t->cold[t->ncold++];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->jump = jump;
	c->pc = pc;
	c->back = x86_here(&t->e);
	return c;
}

void tr_trap_if(struct tr *t, enum x86_cc cc, enum wasm_trap trap, uint32_t pc)
{
	struct cold *c = tr_cold(t, COLD_TRAP, x86_jcc_fwd(&t->e, cc), pc);

	if (c)
		c->arg = trap;
}

/* call C fn(j, f, pc index, fp) through STUB_CCALL (cache registers kept); result in rax
 * (and rdx) */
static void ccall(struct tr *t, const void *fn, uint32_t pc)
{
	x86_mov_imm(&t->e, X86_RCX, (uint64_t)(uintptr_t)t->f);
	x86_mov_imm(&t->e, X86_RDX, pc);
	x86_mov_imm(&t->e, X86_RAX, (uint64_t)(uintptr_t)fn);
	x86_call_to(&t->e, t->j->stub[STUB_CCALL]);
}

/* after a C call returning a trap in eax: unwind when it is one */
static void unwind_if_trap(struct tr *t)
{
	x86_test(&t->e, false, x86_r(X86_RAX), X86_RAX);
	x86_jcc_to(&t->e, X86_CC_NE, t->j->stub[STUB_UNWIND]);
}

void tr_helper(struct tr *t, uint32_t pc, unsigned op, bool p)
{
	tr_sync_reads(t, pc, op);
	if (p)
		x86_mov_store(&t->e, true, CTX(site_arg), X86_RDX);
	ccall(t, (const void *)wasm_jit_c_op, pc);
	unwind_if_trap(t);
	tr_reload_writes(t, pc, op);
}

/* ----- branches ----- */

static void add_fix(struct tr *t, uint8_t *at, uint32_t target, uintptr_t table)
{
	if (tr_grow((void **)&t->fix, &t->capfix, t->nfix + 1, sizeof(*t->fix))) {
		t->fail = true;
		return;
	}
	t->fix[t->nfix++] = (struct fixup){at, target, table};
}

/* jcc (cc >= 0) or jmp to the op at word `target` */
static void branch(struct tr *t, int cc, uint32_t pc, uint32_t target)
{
	if (target <= pc) {
		uintptr_t to = t->e.base + t->hostat[target];
		if (cc < 0)
			x86_jmp_to(&t->e, to);
		else
			x86_jcc_to(&t->e, (enum x86_cc)cc, to);
		return;
	}
	add_fix(t, cc < 0 ? x86_jmp_fwd(&t->e) : x86_jcc_fwd(&t->e, (enum x86_cc)cc), target, 0);
}

static uint32_t target_of(const struct tr *t, uint32_t pc, uint32_t word)
{
	return (uint32_t)((int64_t)pc + (int32_t)t->ops[pc + word]);
}

/* One tick off r15, the flags set for the js to the refill */
static void tick(struct tr *t)
{
	x86_insn(&t->e, 0, true, 0xff, 1, x86_r(R_TICKS), false); /* dec r15 */
}

/* A taken loop back-edge: one tick (the trap, if any, is reported at the loop's start,
 * where the interpreter has moved pc to), then the jump back. */
static void loop_edge(struct tr *t, uint32_t pc, uint32_t target)
{
	struct cold *c;

	tick(t);
	branch(t, X86_CC_NS, pc, target);
	c = tr_cold(t, COLD_TICK, x86_jmp_fwd(&t->e), target);
	if (c) {
		c->back = t->e.base + t->hostat[target];
		c->arg = 1; /* a back-edge: may leave for the interpreter (runtime.c) */
	}
}

/* cmp a, b for integer compares: b is a slot, or an immediate when bslot is UINT32_MAX */
static void cmp_ab(struct tr *t, bool w, uint32_t a, uint32_t bslot, uint64_t imm)
{
	int ra = tr_reg(t, a);

	if (bslot == UINT32_MAX) {
		if (!w || x86_fits32((int64_t)imm)) {
			x86_alu_imm(&t->e, w, X86_CMP, tr_slot(t, a), (int32_t)imm);
		} else {
			x86_mov_imm(&t->e, X86_RCX, imm);
			x86_alu_store(&t->e, w, X86_CMP, tr_slot(t, a), X86_RCX);
		}
		return;
	}
	if (ra >= 0) {
		x86_alu(&t->e, w, X86_CMP, ra, tr_slot(t, bslot));
	} else if (tr_reg(t, bslot) >= 0) {
		x86_alu_store(&t->e, w, X86_CMP, SLOT(a), tr_reg(t, bslot));
	} else {
		x86_mov(&t->e, w, X86_RCX, SLOT(a));
		x86_alu(&t->e, w, X86_CMP, X86_RCX, SLOT(bslot));
	}
}

/* The condition code of an integer compare op (its plain form). */
enum x86_cc tr_icmp_cc(unsigned base)
{
	switch (base) {
	case WASM_OP_I32_EQ:
	case WASM_OP_I64_EQ:
		return X86_CC_E;
	case WASM_OP_I32_NE:
	case WASM_OP_I64_NE:
		return X86_CC_NE;
	case WASM_OP_I32_LT_S:
	case WASM_OP_I64_LT_S:
		return X86_CC_L;
	case WASM_OP_I32_LT_U:
	case WASM_OP_I64_LT_U:
		return X86_CC_B;
	case WASM_OP_I32_GT_S:
	case WASM_OP_I64_GT_S:
		return X86_CC_G;
	case WASM_OP_I32_GT_U:
	case WASM_OP_I64_GT_U:
		return X86_CC_A;
	case WASM_OP_I32_LE_S:
	case WASM_OP_I64_LE_S:
		return X86_CC_LE;
	case WASM_OP_I32_LE_U:
	case WASM_OP_I64_LE_U:
		return X86_CC_BE;
	case WASM_OP_I32_GE_S:
	case WASM_OP_I64_GE_S:
		return X86_CC_GE;
	default:
		return X86_CC_AE;
	}
}

void tr_cmp(struct tr *t, uint32_t pc, unsigned op, uint32_t a, uint32_t word_b)
{
	const struct jop *jo = &wasm_jit_ops[op];
	bool w = jo->ta == WASM_I64;
	bool imm = jo->kind == J_ICMP_I || jo->kind == J_BR_ICMP_I || jo->kind == J_BRL_ICMP_I;
	const uint32_t *p = t->ops + pc + word_b;

	if (imm)
		cmp_ab(t, w, a, UINT32_MAX, w ? (uint64_t)p[0] | (uint64_t)p[1] << 32 : p[0]);
	else
		cmp_ab(t, w, a, p[0], 0);
}

/* BR_cmp [a b off], BRL_cmp [a b off] and their _I forms [a imm off] */
static void emit_cmp_branch(struct tr *t, uint32_t pc, unsigned op)
{
	const struct jop *jo = &wasm_jit_ops[op];
	bool loop = jo->kind == J_BRL_ICMP || jo->kind == J_BRL_ICMP_I;
	uint32_t len = 1 + (uint32_t)strlen(jo->layout);
	uint32_t target = target_of(t, pc, len - 1);
	enum x86_cc cc = tr_icmp_cc(jo->base);

	tr_cmp(t, pc, op, t->ops[pc + 1], 2);
	if (!loop) {
		branch(t, (int)cc, pc, target);
		return;
	}
	{
		uint8_t *skip = x86_jcc_fwd(&t->e, (enum x86_cc)(cc ^ 1));
		loop_edge(t, pc, target);
		x86_patch(&t->e, skip, x86_here(&t->e));
	}
}

/* BR_NZ, BR_Z (64) and their loop forms [a off] */
static void emit_test_branch(struct tr *t, uint32_t pc, bool w, bool zero, bool loop)
{
	uint32_t a = t->ops[pc + 1], target = target_of(t, pc, 2);
	int ra = tr_reg(t, a);

	if (ra >= 0)
		x86_test(&t->e, w, x86_r(ra), ra);
	else
		x86_alu_imm(&t->e, w, X86_CMP, SLOT(a), 0);
	if (!loop) {
		branch(t, zero ? X86_CC_E : X86_CC_NE, pc, target);
		return;
	}
	{
		uint8_t *skip = x86_jcc_fwd(&t->e, zero ? X86_CC_NE : X86_CC_E);
		loop_edge(t, pc, target);
		x86_patch(&t->e, skip, x86_here(&t->e));
	}
}

/* BR_TABLE [a n off0 .. offn]: a jump table of 32-bit offsets right after the jump */
static void emit_br_table(struct tr *t, uint32_t pc)
{
	uint32_t n = t->ops[pc + 2];
	uint8_t *in_range, *tab;
	uintptr_t table;

	tr_get(t, false, X86_RAX, t->ops[pc + 1]);
	x86_mov_imm(&t->e, X86_RCX, n);
	x86_alu(&t->e, false, X86_CMP, X86_RAX, x86_r(X86_RCX));
	x86_cmov(&t->e, false, X86_CC_A, X86_RAX, x86_r(X86_RCX));
	tab = x86_lea_rip(&t->e, X86_RDX);
	x86_movsxd(&t->e, X86_RAX, x86_mi(X86_RDX, X86_RAX, 2, 0));
	x86_alu(&t->e, true, X86_ADD, X86_RAX, x86_r(X86_RDX));
	x86_jmp_rm(&t->e, x86_r(X86_RAX));
	table = x86_here(&t->e);
	x86_patch(&t->e, tab, table);
	in_range = t->e.p;
	for (uint32_t i = 0; i <= n; i++) {
		x86_e32(&t->e, 0);
		if (!t->e.overflow)
			add_fix(t, in_range + 4 * i, target_of(t, pc, 3 + i), table);
	}
}

/* ----- calls ----- */

enum call_kind { CALL_JIT_LOCAL, CALL_JIT_FOREIGN };

/* Records the call instruction just emitted (the call op at pc, its callee's frame at
 * slot base) for the frame walk: its return address stands for the call's return pc. */
static void call_ret(struct tr *t, uint32_t pc, uint32_t base)
{
	if (tr_grow((void **)&t->rets, &t->caprets, t->nrets + 1, sizeof(*t->rets))) {
		t->fail = true;
		return;
	}
	t->rets[t->nrets++] = (struct wasm_jit_ret){(uint32_t)(t->e.p - t->e.buf), pc, base, pc};
}

/* The checks of a call to a function with code (value slots, depth, tick), done where
 * the interpreter does them: before the callee runs, reported at the call. frame_reg:
 * -1 when the callee's frame size fs is known, else the register holding it. rbx stays
 * on the caller's frame (call_checks moves it). */
static uint8_t *call_checks_only(struct tr *t, uint32_t pc, uint32_t base, uint32_t fs,
				 int frame_reg, bool keep_rax)
{
	struct cold *c;
	uint8_t *deep;

	if (frame_reg < 0)
		x86_lea(&t->e, true, X86_RCX, SLOT(base + fs));
	else
		x86_lea(&t->e, true, X86_RCX, x86_mi(R_FP, frame_reg, 3, (int32_t)(base * 8)));
	x86_alu(&t->e, true, X86_CMP, X86_RCX, CTX(stack_end));
	tr_trap_if(t, X86_CC_A, WASM_TRAP_STACK_EXHAUSTED, pc);
	x86_alu(&t->e, true, X86_CMP, X86_RSP, CTX(floor));
	deep = x86_jcc_fwd(&t->e, X86_CC_BE);
	tick(t);
	c = tr_cold(t, COLD_TICK, x86_jcc_fwd(&t->e, X86_CC_S), pc);
	if (c) {
		c->size = keep_rax;
		c->arg = keep_rax ? 2 : 0; /* where the frame's body is (runtime.c) */
	}
	return deep;
}

/* rbx to the callee's frame at slot base */
static void enter_frame(struct tr *t, uint32_t base)
{
	if (base)
		x86_alu_imm(&t->e, true, X86_ADD, x86_r(R_FP), (int32_t)(base * 8));
}

/* The checks, then rbx to the callee's frame */
static uint8_t *call_checks(struct tr *t, uint32_t pc, uint32_t base, uint32_t fs, int frame_reg,
			    bool keep_rax)
{
	uint8_t *deep = call_checks_only(t, pc, base, fs, frame_reg, keep_rax);

	enter_frame(t, base);
	return deep;
}

static void call_done(struct tr *t, uint32_t pc, uint32_t base, uint8_t *deep, bool foreign)
{
	struct cold *c;

	if (base)
		x86_alu_imm(&t->e, true, X86_SUB, x86_r(R_FP), (int32_t)(base * 8));
	c = tr_cold(t, COLD_DEEP, deep, pc);
	(void)c; /* continues here, after the call */
	/* a callee of this instance may still return with another's memory in r12: it
	 * may have tail-called a function of another instance */
	(void)foreign;
	load_mem(t);
	reload(t, all_cached(t));
}

/* ----- self-calls: the callee's early return taken in line ----- */

/* What a slot holds on the way from the function's entry to an early return: unknown, a
 * constant, or a parameter plus a constant (wrapping at 32 bits unless w). */
enum { AV_UNK, AV_CONST, AV_PARAM };
struct av {
	uint8_t kind, w;
	uint32_t param;
	uint64_t c;
};

#define LEAF_MAX_SLOTS 64
#define LEAF_MAX_OPS   24

/* A self-call's callee that returns at once for some arguments: when parameter `param`
 * compared (cmp_imm, 64-bit when w) satisfies cc, the callee's ops up to its return
 * read nothing but its parameters and constants, make no call, take no back-edge and
 * cannot trap, and its result (nres 0 or 1) is `res`. */
struct leaf {
	uint32_t param;
	bool w;
	uint64_t imm;
	enum x86_cc cc;
	struct av res;
};

static struct av av_add(struct av x, struct av y, bool w)
{
	uint64_t m = w ? UINT64_MAX : UINT32_MAX;
	struct av r = {AV_UNK, 0, 0, 0};

	if (y.kind == AV_PARAM) {
		struct av tmp = x;
		x = y;
		y = tmp;
	}
	if (y.kind != AV_CONST || x.kind == AV_UNK)
		return r;
	if (x.kind == AV_PARAM && x.c && x.w != w)
		return r; /* a sum kept at another width */
	r.kind = x.kind;
	r.w = w;
	r.param = x.param;
	r.c = (x.c + y.c) & m;
	return r;
}

/* Walks the function's ops from pc with slot values av (nslots of them), at most one
 * conditional branch on a parameter allowed (guard); fills lf on reaching a return. */
static bool leaf_walk(const struct tr *t, struct av *av, uint32_t nslots, uint32_t pc, bool guard,
		      struct leaf *lf)
{
	const uint32_t n = t->code->nops, nres = t->f->type->result_slots;

	for (unsigned steps = 0; steps < LEAF_MAX_OPS && pc < n; steps++) {
		unsigned op = t->opat[pc];
		const struct jop *jo = &wasm_jit_ops[op];
		const uint32_t *p = t->ops + pc;
		uint32_t len = wasm_jit_op_len(p, op, n - pc);
		uint32_t target;
		struct av a;
		bool w;

		if (!len)
			return false;
		for (uint32_t k = 0; jo->layout[k] && k + 1 < len; k++)
			if ((jo->layout[k] == 'a' || jo->layout[k] == 'd') && p[1 + k] >= nslots)
				return false;
		switch (op) {
		case WASM_OP_CONST32:
			av[p[1]] = (struct av){AV_CONST, 0, 0, p[2]};
			break;
		case WASM_OP_CONST64:
			av[p[1]] =
				(struct av){AV_CONST, 1, 0, (uint64_t)p[2] | (uint64_t)p[3] << 32};
			break;
		case WASM_OP_COPY:
			av[p[1]] = av[p[2]];
			break;
		case WASM_OP_MOVE2:
			av[p[1]] = av[p[2]];
			av[p[3]] = av[p[4]];
			break;
		case WASM_OP_MOVE3:
			av[p[1]] = av[p[2]];
			av[p[3]] = av[p[4]];
			av[p[5]] = av[p[6]];
			break;
		case WASM_OP_I32_ADD:
		case WASM_OP_I64_ADD:
			av[p[1]] = av_add(av[p[2]], av[p[3]], op == WASM_OP_I64_ADD);
			break;
		case WASM_OP_I32_ADD_I:
			av[p[1]] = av_add(av[p[2]], (struct av){AV_CONST, 0, 0, p[3]}, false);
			break;
		case WASM_OP_I64_ADD_I:
			av[p[1]] = av_add(
				av[p[2]],
				(struct av){AV_CONST, 1, 0, (uint64_t)p[3] | (uint64_t)p[4] << 32},
				true);
			break;
		case WASM_OP_BR:
			target = target_of(t, pc, 1);
			if (target <= pc)
				return false;
			pc = target;
			continue;
		case WASM_OP_RETURN:
		case WASM_OP_RET1:
			/* a return before the branch on a parameter: the function returns at once
			 * whatever its arguments, and a self-call in it is dead code (the compiler
			 * keeps code after a block that returns); no test to make, nothing taken */
			if (guard || nres > 1 || (op == WASM_OP_RET1 && nres != 1))
				return false;
			a = nres ? av[op == WASM_OP_RET1 ? p[1] : 0]
				 : (struct av){AV_CONST, 0, 0, 0};
			if (a.kind == AV_UNK)
				return false;
			lf->res = a;
			return true;
		default: {
			bool z = op == WASM_OP_BR_Z || op == WASM_OP_BR_Z64;
			bool test = z || op == WASM_OP_BR_NZ || op == WASM_OP_BR_NZ64;
			struct av saved[LEAF_MAX_SLOTS];
			enum x86_cc cc;

			if (!guard || (!test && jo->kind != J_BR_ICMP_I))
				return false;
			a = av[p[1]];
			if (a.kind != AV_PARAM || a.c)
				return false;
			target = target_of(t, pc, len - 1);
			if (target <= pc)
				return false;
			if (test) {
				w = op == WASM_OP_BR_Z64 || op == WASM_OP_BR_NZ64;
				lf->imm = 0;
				cc = z ? X86_CC_E : X86_CC_NE;
			} else {
				w = jo->ta == WASM_I64;
				lf->imm = w ? (uint64_t)p[2] | (uint64_t)p[3] << 32 : p[2];
				cc = tr_icmp_cc(jo->base);
			}
			lf->param = a.param;
			lf->w = w;
			memcpy(saved, av, nslots * sizeof(*av));
			if (leaf_walk(t, av, nslots, target, false, lf)) {
				lf->cc = cc; /* the early return is the branch taken */
				return true;
			}
			memcpy(av, saved, nslots * sizeof(*av));
			if (leaf_walk(t, av, nslots, pc + len, false, lf)) {
				lf->cc = (enum x86_cc)(cc ^ 1);
				return true;
			}
			return false;
		}
		}
		pc += len;
	}
	return false;
}

/* Whether this function returns at once for some arguments (struct leaf), so that a
 * self-call at base can take that return in line. */
static bool leaf_of(const struct tr *t, uint32_t base, struct leaf *lf)
{
	const struct wasm_code *c = t->code;
	struct av av[LEAF_MAX_SLOTS];
	int cb;

	if (c->frame_slots > LEAF_MAX_SLOTS || t->has_tail || t->f->type->result_slots > 1)
		return false;
	for (uint32_t s = 0; s < c->frame_slots; s++) {
		av[s] = (struct av){AV_UNK, 0, 0, 0};
		if (s < c->param_slots)
			av[s] = (struct av){AV_PARAM, 1, s, 0};
		else if (s < c->param_slots + c->local_slots)
			av[s] = (struct av){AV_CONST, 1, 0, 0};
	}
	if (!leaf_walk(t, av, c->frame_slots, 0, true, lf))
		return false;
	/* the compare and the result read general-purpose registers or memory */
	cb = entry(t, base);
	if (tr_xreg(t, base + lf->param) >= 0 || (cb >= 0 && (t->xmm & (1u << cb))))
		return false;
	return lf->res.kind != AV_PARAM || tr_xreg(t, base + lf->res.param) < 0;
}

/* The early return of a self-call at base in line: its result to slot base, in its
 * cache register (if any) and memory. */
static void leaf_result(struct tr *t, uint32_t base, const struct leaf *lf)
{
	const struct av *r = &lf->res;
	int cb = entry(t, base), reg = cb >= 0 ? t->creg[cb] : X86_RAX;

	/* none, or the argument in slot base itself: there already (the flush before the
	 * call wrote it to memory too) */
	if (!t->f->type->result_slots || (r->kind == AV_PARAM && !r->param && !r->c))
		return;
	if (r->kind == AV_CONST) {
		x86_mov_imm(&t->e, reg, r->c);
	} else {
		tr_get(t, true, reg, base + r->param);
		if (r->c && (!r->w || x86_fits32((int64_t)r->c))) {
			x86_alu_imm(&t->e, r->w, X86_ADD, x86_r(reg), (int32_t)r->c);
		} else if (r->c) {
			x86_mov_imm(&t->e, X86_RCX, r->c);
			x86_alu(&t->e, true, X86_ADD, reg, x86_r(X86_RCX));
		}
	}
	x86_mov_store(&t->e, true, SLOT(base), reg);
}

/* A self-call's arguments (at slot base) to the registers that cache the callee's
 * parameters in general-purpose registers */
static void pass_params(struct tr *t, uint32_t base)
{
	for (unsigned k = 0; k < t->ncache; k++)
		if (!(t->xmm & (1u << k)) && t->cslot[k] < t->code->param_slots)
			tr_get(t, true, t->creg[k], base + t->cslot[k]);
}

/* A self-call (CALL_LOCAL of this function, its frame at slot base past this one's
 * parameters) passes the parameters cached in general-purpose registers there, and
 * enters after the prologue's loads of them (t->self_reg): the callee's first compare
 * of a parameter needs no store-to-load forwarding. Memory holds the arguments too (the
 * flush before), so the callee's cache starts clean either way. Without tail calls in
 * the function, every return leaves the first result in slot 0's register (RET1 and
 * RETURN write it there and to memory), so the caller takes it from there as well.
 * When the function returns at once for some arguments (leaf_of: a recursion's base
 * case, such as fib's n < 2), the call's checks and tick come first, then the test of
 * the argument, and for those arguments the result is computed here, in line: what
 * the callee would have done, with no call. */
static void self_call(struct tr *t, uint32_t pc, uint32_t base, uint32_t fs)
{
	const uint32_t nres = t->f->type->result_slots;
	int r0 = tr_reg(t, 0), cb = entry(t, base);
	uint32_t mask = 0;
	uint8_t *deep, *slow = NULL, *done = NULL;
	struct cold *c;
	struct leaf lf = {0};

	if (leaf_of(t, base, &lf)) {
		deep = call_checks_only(t, pc, base, fs, -1, false);
		cmp_ab(t, lf.w, base + lf.param, UINT32_MAX, lf.imm);
		slow = x86_jcc_fwd(&t->e, (enum x86_cc)(lf.cc ^ 1));
		leaf_result(t, base, &lf);
		done = x86_jmp_fwd(&t->e);
		x86_patch(&t->e, slow, x86_here(&t->e));
		pass_params(t, base);
		enter_frame(t, base);
	} else {
		/* the arguments to the registers first (the frame moves in call_checks);
		 * the checks keep them (their C calls save the cache registers), and the
		 * callee's slots below base never feed them (base >= the parameters) */
		pass_params(t, base);
		deep = call_checks(t, pc, base, fs, -1, false);
	}
	x86_call_to(&t->e, t->self_reg);
	call_ret(t, pc, base);
	if (base)
		x86_alu_imm(&t->e, true, X86_SUB, x86_r(R_FP), (int32_t)(base * 8));
	if (!t->has_tail && nres && r0 >= 0 && cb >= 0) {
		tr_put(t, true, base, r0);
		mask = 1u << cb;
	}
	c = tr_cold(t, COLD_DEEP, deep, pc);
	if (c && mask) { /* the interpreter ran the callee: the result is in memory only */
		c->size = 1;
		c->arg = (uint32_t)cb;
	}
	/* r12 is this instance's memory base as long as no tail call went elsewhere */
	if (!t->guard || t->has_tail)
		load_mem(t);
	reload(t, all_cached(t) & ~mask);
	t->dirty &= ~mask; /* the callee wrote it to memory too */
	if (done)	   /* the early return's path: registers and memory as after the call */
		x86_patch(&t->e, done, x86_here(&t->e));
}

static void emit_call_local(struct tr *t, uint32_t pc, uintptr_t self_local)
{
	const uint32_t *p = t->ops + pc;
	const struct wasm_code *cc =
		(const struct wasm_code *)(uintptr_t)(p[1] | (uint64_t)p[2] << 32);
	struct wasm_func *callee = &t->f->inst->own_funcs[p[3]];
	uint32_t base = p[4];
	uint8_t *deep;

	if (cc->frame_slots >= (1u << 27)) {
		t->fail = true;
		return;
	}
	flush(t, all_cached(t));
	if (callee == t->f && base >= t->code->param_slots) {
		self_call(t, pc, base, cc->frame_slots);
		return;
	}
	deep = call_checks(t, pc, base, cc->frame_slots, -1, false);
	if (callee == t->f) {
		x86_call_to(&t->e, self_local);
	} else if (callee->jit) {
		x86_call_to(&t->e, (uintptr_t)callee->jit_local);
	} else {
		x86_mov_imm(&t->e, X86_RAX, (uint64_t)(uintptr_t)callee);
		x86_call_rm(&t->e, x86_m(X86_RAX, offsetof(struct wasm_func, jit_local)));
	}
	call_ret(t, pc, base);
	call_done(t, pc, base, deep, false);
}

static void emit_call_host(struct tr *t, uint32_t pc)
{
	ccall(t, (const void *)wasm_jit_c_host, pc);
	unwind_if_trap(t);
	load_mem(t);
	reload(t, all_cached(t));
}

static void emit_call(struct tr *t, uint32_t pc)
{
	const uint32_t *p = t->ops + pc;
	struct wasm_func *callee = t->f->inst->funcs[p[1]];
	uint32_t base = p[2];
	uint8_t *deep;

	flush(t, all_cached(t));
	if (!callee->code) {
		emit_call_host(t, pc);
		return;
	}
	if (callee->code->frame_slots >= (1u << 27)) {
		t->fail = true;
		return;
	}
	deep = call_checks(t, pc, base, callee->code->frame_slots, -1, true);
	x86_mov_imm(&t->e, X86_RAX, (uint64_t)(uintptr_t)callee);
	x86_call_rm(&t->e, x86_m(X86_RAX, offsetof(struct wasm_func, jit_foreign)));
	call_ret(t, pc, base);
	call_done(t, pc, base, deep, true);
}

/* The call of the function rax points to (not null), its frame at slot base: translated
 * code or the interpreter through jit_foreign, a host function through C. */
static void call_func_rax(struct tr *t, uint32_t pc, uint32_t base)
{
	uint8_t *host, *deep, *done;

	x86_mov(&t->e, true, X86_RCX, x86_m(X86_RAX, offsetof(struct wasm_func, code)));
	x86_test(&t->e, true, x86_r(X86_RCX), X86_RCX);
	host = x86_jcc_fwd(&t->e, X86_CC_E);
	x86_mov(&t->e, false, X86_RCX, x86_m(X86_RCX, offsetof(struct wasm_code, frame_slots)));
	deep = call_checks(t, pc, base, 0, X86_RCX, true);
	x86_call_rm(&t->e, x86_m(X86_RAX, offsetof(struct wasm_func, jit_foreign)));
	call_ret(t, pc, base);
	if (base)
		x86_alu_imm(&t->e, true, X86_SUB, x86_r(R_FP), (int32_t)(base * 8));
	done = x86_jmp_fwd(&t->e);
	x86_patch(&t->e, host, x86_here(&t->e));
	ccall(t, (const void *)wasm_jit_c_host, pc);
	unwind_if_trap(t);
	x86_patch(&t->e, done, x86_here(&t->e));
	tr_cold(t, COLD_DEEP, deep, pc);
	load_mem(t);
	reload(t, all_cached(t));
}

/* ----- tail calls (RETURN_CALL, RETURN_CALL_INDIRECT, RETURN_CALL_REF) -----
 *
 * As the interpreter's do_tail_call: the callee takes this frame (its arguments move from
 * slot base to slot 0) and this call level, so tail calls run in constant host stack
 * and leave the call depth as it is. A callee with code: the value-stack check for its
 * frame here, the call's tick, the move, then this level's pad is popped and the callee's
 * code (translated, or STUB_INTERP with rax the callee) is jumped to, returning to this
 * function's caller. A host function: the move, the call through C, and this function
 * returns what it returned. Everything cached was written back before (flush). */

/* Moves n argument slots from base to 0 (n known here), or (n == UINT32_MAX) ecx of them */
static void tail_move(struct tr *t, uint32_t base, uint32_t n)
{
	if (base == 0)
		return;
	if (n == UINT32_MAX) {
		x86_lea(&t->e, true, X86_RSI, SLOT(base));
		x86_mov(&t->e, true, X86_RDI, x86_r(R_FP));
		x86_e8(&t->e, 0xf3); /* rep movsq: forward, so base > 0 overlaps safely */
		x86_e8(&t->e, 0x48);
		x86_e8(&t->e, 0xa5);
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		x86_mov(&t->e, true, X86_RCX, SLOT(base + i));
		x86_mov_store(&t->e, true, SLOT(i), X86_RCX);
	}
}

/* The tail call of the function rax points to (not null, its type checked); nparams its
 * parameter slots, or UINT32_MAX to read them from its type. */
static void tail_func_rax(struct tr *t, uint32_t pc, uint32_t base, uint32_t nparams)
{
	uint8_t *host;
	struct cold *c;

	x86_mov(&t->e, true, X86_RCX, x86_m(X86_RAX, offsetof(struct wasm_func, code)));
	x86_test(&t->e, true, x86_r(X86_RCX), X86_RCX);
	host = x86_jcc_fwd(&t->e, X86_CC_E);
	x86_mov(&t->e, false, X86_RCX, x86_m(X86_RCX, offsetof(struct wasm_code, frame_slots)));
	x86_lea(&t->e, true, X86_RCX, x86_mi(R_FP, X86_RCX, 3, 0));
	x86_alu(&t->e, true, X86_CMP, X86_RCX, CTX(stack_end));
	tr_trap_if(t, X86_CC_A, WASM_TRAP_STACK_EXHAUSTED, pc);
	tick(t);
	c = tr_cold(t, COLD_TICK, x86_jcc_fwd(&t->e, X86_CC_S), pc);
	if (c) {
		c->size = 1; /* keeps rax */
		c->arg = 2;  /* where the frame's body is: a pause may leave here (runtime.c) */
	}
	if (nparams == UINT32_MAX) {
		x86_mov(&t->e, true, X86_RCX, x86_m(X86_RAX, offsetof(struct wasm_func, type)));
		x86_mov(&t->e, false, X86_RCX,
			x86_m(X86_RCX, offsetof(struct wasm_ftype, param_slots)));
	}
	tail_move(t, base, nparams);
	x86_pop(&t->e, X86_RCX); /* this level's pad: the return address is the caller's */
	x86_jmp_rm(&t->e, x86_m(X86_RAX, offsetof(struct wasm_func, jit_foreign)));
	x86_patch(&t->e, host, x86_here(&t->e));
	if (nparams == UINT32_MAX) {
		x86_mov(&t->e, true, X86_RCX, x86_m(X86_RAX, offsetof(struct wasm_func, type)));
		x86_mov(&t->e, false, X86_RCX,
			x86_m(X86_RCX, offsetof(struct wasm_ftype, param_slots)));
	}
	tail_move(t, base, nparams);
	x86_mov_store(&t->e, true, CTX(site_arg), X86_RAX);
	ccall(t, (const void *)wasm_jit_c_tail_host, pc);
	unwind_if_trap(t);
	x86_pop(&t->e, X86_RCX); /* return: the results are in memory, nothing is cached */
	x86_ret(&t->e);
}

static void emit_return_call(struct tr *t, uint32_t pc)
{
	const uint32_t *p = t->ops + pc;
	struct wasm_func *callee = t->f->inst->funcs[p[1]];

	flush(t, all_cached(t));
	x86_mov_imm(&t->e, X86_RAX, (uint64_t)(uintptr_t)callee);
	tail_func_rax(t, pc, p[2], callee->type->param_slots);
}

static void emit_call_indirect(struct tr *t, uint32_t pc, bool tail)
{
	const uint32_t *p = t->ops + pc;
	struct wasm_instance *inst = t->f->inst;
	struct wasm_table *table = inst->tables[p[2]];
	const struct wasm_ftype *want = &inst->mod->types[p[1]];
	struct cold *c;

	flush(t, all_cached(t));
	tr_get(t, false, X86_RAX, p[3]);
	x86_mov_imm(&t->e, X86_RDX, (uint64_t)(uintptr_t)table);
	x86_alu(&t->e, false, X86_CMP, X86_RAX, x86_m(X86_RDX, offsetof(struct wasm_table, size)));
	tr_trap_if(t, X86_CC_AE, WASM_TRAP_UNDEFINED_ELEM, pc);
	x86_mov(&t->e, true, X86_RDX, x86_m(X86_RDX, offsetof(struct wasm_table, elems)));
	x86_mov(&t->e, true, X86_RAX, x86_mi(X86_RDX, X86_RAX, 3, 0));
	x86_test(&t->e, true, x86_r(X86_RAX), X86_RAX);
	tr_trap_if(t, X86_CC_E, WASM_TRAP_UNINIT_ELEM, pc);
	x86_mov_imm(&t->e, X86_RDX, (uint64_t)(uintptr_t)want);
	x86_alu_store(&t->e, true, X86_CMP, x86_m(X86_RAX, offsetof(struct wasm_func, type)),
		      X86_RDX);
	c = tr_cold(t, COLD_TRAP, x86_jcc_fwd(&t->e, X86_CC_NE), pc);
	if (c) { /* a structural type check in C; continues here when the types are equal */
		c->arg = WASM_TRAP_INDIRECT_TYPE;
		c->size = 1;
		c->back = x86_here(&t->e);
	}
	if (tail)
		tail_func_rax(t, pc, p[4], want->param_slots);
	else
		call_func_rax(t, pc, p[4]);
}

/* CALL_REF [a base]: the validator typed the reference, so only null traps */
static void emit_call_ref(struct tr *t, uint32_t pc, bool tail)
{
	const uint32_t *p = t->ops + pc;

	flush(t, all_cached(t));
	tr_get(t, true, X86_RAX, p[1]);
	x86_test(&t->e, true, x86_r(X86_RAX), X86_RAX);
	tr_trap_if(t, X86_CC_E, WASM_TRAP_NULL_FUNC_REF, pc);
	if (tail)
		tail_func_rax(t, pc, p[2], UINT32_MAX);
	else
		call_func_rax(t, pc, p[2]);
}

/* RETURN: the results are in slots 0..; the cached ones among them go to memory */
static void emit_return(struct tr *t)
{
	uint32_t nres = t->f->type->result_slots, mask = 0;

	for (unsigned c = 0; c < t->ncache; c++)
		if (t->cslot[c] < nres)
			mask |= 1u << c;
	flush(t, mask);
	x86_pop(&t->e, X86_RCX);
	x86_ret(&t->e);
}

/* ----- memory ----- */

/* The addend of a folded address add at pc that may wrap, or 0 (none) */
static uint32_t wrap_imm(const struct tr *t, uint32_t pc)
{
	uint32_t lo = 0, hi = t->code->nwrap;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (t->code->wrap[mid].pc < pc)
			lo = mid + 1;
		else if (t->code->wrap[mid].pc > pc)
			hi = mid;
		else
			return t->code->wrap[mid].imm;
	}
	return 0;
}

/* cmp reg, the size of memory 0 (in r13, or read from the memory with a guard region;
 * scratch is clobbered then) */
static void cmp_size(struct tr *t, int reg, int scratch)
{
	if (!t->guard) {
		x86_alu(&t->e, true, X86_CMP, reg, x86_r(R_MSIZE));
		return;
	}
	x86_mov_imm(&t->e, scratch, (uint64_t)(uintptr_t)&t->f->inst->mem0->size);
	x86_alu(&t->e, true, X86_CMP, reg, x86_m(scratch, 0));
}

/* Whether the access of `size` bytes at the i32 address in eax plus off goes unchecked,
 * the guard region catching it out of bounds: not when off does not fit a
 * displacement. */
static bool guarded(const struct tr *t, uint32_t off, unsigned size)
{
	return t->guard && (uint64_t)off + size <= INT32_MAX;
}

/* The displacement of a guarded access of the op at pc (addr_slot its address slot,
 * UINT32_MAX for indexed forms) whose address x is in eax. Where the op folded an
 * address add x + imm that may wrap, eax becomes the wrapped sum first, so the access
 * is [r12 + ((x + imm) mod 2^32) + (off - imm)]: the interpreter's wrapped_ea, with no
 * check (off - imm < 2^31 stays inside the guard region). */
static int32_t guard_disp(struct tr *t, uint32_t pc, uint32_t addr_slot, uint32_t off)
{
	uint32_t imm = addr_slot != UINT32_MAX ? wrap_imm(t, pc) : 0;

	if (imm) /* 32-bit: the sum wraps */
		x86_lea(&t->e, false, X86_RAX, x86_m(X86_RAX, (int32_t)imm));
	return (int32_t)(off - imm);
}

/* The code from start to here makes a guarded access of the op at trap_pc: a fault in it
 * is the out-of-bounds trap there (the signal handler jumps to a COLD_TRAP stub). Between
 * the address and the access nothing is written that the stub would need. */
static void guard_site(struct tr *t, uint8_t *start, uint32_t trap_pc)
{
	struct cold *c;

	if (tr_grow((void **)&t->sites, &t->capsites, t->nsites + 1, sizeof(*t->sites))) {
		t->fail = true;
		return;
	}
	c = tr_cold(t, COLD_TRAP, NULL, trap_pc);
	if (!c)
		return;
	c->arg = WASM_TRAP_MEM_OOB;
	t->sites[t->nsites].start = (uint32_t)(start - t->e.buf);
	t->sites[t->nsites].end = (uint32_t)(t->e.p - t->e.buf);
	t->sites[t->nsites++].cold = t->ncold - 1;
}

/* With the i32 address in eax (zero-extended; for indexed forms the wrapped sum), checks
 * that [eax + off, + size) lies in memory and returns the displacement of the access
 * [r12 + rax + disp]. Out of bounds: a trap at trap_pc, or first the exact address when
 * the op folded an address add (COLD_WRAP, from addr_slot). */
static int32_t mem_check(struct tr *t, uint32_t pc, uint32_t trap_pc, uint32_t off, unsigned size,
			 uint32_t addr_slot)
{
	int64_t end = (int64_t)off + size;
	bool wrap = addr_slot != UINT32_MAX && wrap_imm(t, pc);
	int32_t disp;
	uint8_t *jump;
	unsigned k;

	/* the same address slot was checked for at least this range on this path (and its
	 * value has not changed since): memory never shrinks, so the access is in bounds */
	for (k = 0; k < t->nchecked && !wrap; k++) {
		if (t->checked[k].slot != addr_slot)
			continue;
		if (t->checked[k].end < (uint64_t)end)
			break;
		if (end <= INT32_MAX)
			return (int32_t)off;
		x86_mov_imm(&t->e, X86_RDX, off);
		x86_alu(&t->e, true, X86_ADD, X86_RAX, x86_r(X86_RDX));
		return 0;
	}
	/* remember a check that passes for this slot (not where a wrapped address add may
	 * have passed it instead) */
	if (addr_slot != UINT32_MAX && !wrap) {
		if (k == t->nchecked && k < sizeof(t->checked) / sizeof(t->checked[0]))
			t->checked[t->nchecked++].slot = addr_slot;
		if (k < t->nchecked)
			t->checked[k].end = (uint64_t)end;
	}
	if (end <= INT32_MAX) {
		x86_lea(&t->e, true, X86_RDX, x86_m(X86_RAX, (int32_t)end));
		disp = (int32_t)off;
	} else {
		x86_mov_imm(&t->e, X86_RDX, off);
		x86_alu(&t->e, true, X86_ADD, X86_RAX, x86_r(X86_RDX));
		x86_lea(&t->e, true, X86_RDX, x86_m(X86_RAX, (int32_t)size));
		disp = 0;
	}
	cmp_size(t, X86_RDX, X86_RCX);
	jump = x86_jcc_fwd(&t->e, X86_CC_A);
	if (wrap) {
		struct cold *c = tr_cold(t, COLD_WRAP, jump, pc);
		if (c) {
			c->arg = addr_slot;
			c->disp = disp;
			c->size = (uint8_t)size;
		}
	} else {
		struct cold *c = tr_cold(t, COLD_TRAP, jump, trap_pc);
		if (c)
			c->arg = WASM_TRAP_MEM_OOB;
	}
	return disp;
}

/* eax = (base + (idx << shift)) mod 2^32 */
static void idx_addr(struct tr *t, uint32_t base, uint32_t idx, uint32_t shift)
{
	tr_get(t, false, X86_RAX, base);
	tr_get(t, false, X86_RCX, idx);
	if (shift <= 3) {
		x86_lea(&t->e, false, X86_RAX, x86_mi(X86_RAX, X86_RCX, shift, 0));
	} else {
		x86_shift_imm(&t->e, false, X86_SHL, x86_r(X86_RCX), shift & 31);
		x86_alu(&t->e, false, X86_ADD, X86_RAX, x86_r(X86_RCX));
	}
}

/* The scalar load of `op` (its plain LOAD row) from m into slot d. */
static bool load_into(struct tr *t, unsigned op, uint32_t d, struct x86_rm m)
{
	int rd = tr_reg(t, d), r = rd >= 0 ? rd : X86_RCX, x = tr_xreg(t, d);
	bool w = true;

	if (x >= 0 && (op == WASM_OP_F32_LOAD || op == WASM_OP_F64_LOAD)) {
		x86_sse(&t->e, op == WASM_OP_F64_LOAD, 0x10, false, x, m); /* movss/movsd */
		mark_dirty(t, d);
		return true;
	}
	switch (op) {
	case WASM_OP_I32_LOAD:
	case WASM_OP_F32_LOAD:
	case WASM_OP_I64_LOAD32_U:
		x86_mov(&t->e, false, r, m);
		w = op == WASM_OP_I64_LOAD32_U;
		break;
	case WASM_OP_I64_LOAD:
	case WASM_OP_F64_LOAD:
		x86_mov(&t->e, true, r, m);
		break;
	case WASM_OP_I32_LOAD8_S:
	case WASM_OP_I32_LOAD8_U:
	case WASM_OP_I32_LOAD16_S:
	case WASM_OP_I32_LOAD16_U:
		w = false;
		/* fall through */
	case WASM_OP_I64_LOAD8_U:
	case WASM_OP_I64_LOAD16_U:
		if (op == WASM_OP_I32_LOAD8_S || op == WASM_OP_I32_LOAD16_S)
			x86_movsx(&t->e, false, r, m, op == WASM_OP_I32_LOAD8_S ? 8 : 16);
		else
			x86_movzx(&t->e, false, r, m,
				  op == WASM_OP_I32_LOAD8_U || op == WASM_OP_I64_LOAD8_U ? 8 : 16);
		break;
	case WASM_OP_I64_LOAD8_S:
	case WASM_OP_I64_LOAD16_S:
		x86_movsx(&t->e, true, r, m, op == WASM_OP_I64_LOAD8_S ? 8 : 16);
		break;
	case WASM_OP_I64_LOAD32_S:
		x86_movsxd(&t->e, r, m);
		break;
	case WASM_OP_V128_LOAD:
		x86_movdqu_load(&t->e, 0, m);
		x86_movdqu_store(&t->e, SLOT(d), 0);
		return true;
	default:
		return false;
	}
	tr_put(t, w, d, r);
	if (!w) /* mov r32, movzx/movsx r32: zero-extended */
		tr_zext_result(t, d);
	return true;
}

static bool store_from(struct tr *t, unsigned op, uint32_t v, struct x86_rm m)
{
	int rv = tr_reg(t, v), r = rv >= 0 ? rv : X86_RCX, x = tr_xreg(t, v);

	if (x >= 0 && (op == WASM_OP_F32_STORE || op == WASM_OP_F64_STORE)) {
		x86_sse_store(&t->e, op == WASM_OP_F64_STORE, m, x);
		return true;
	}
	if (x >= 0) { /* analyze.c admits no other store of an xmm slot */
		t->fail = true;
		return true;
	}
	switch (op) {
	case WASM_OP_I32_STORE:
	case WASM_OP_F32_STORE:
	case WASM_OP_I64_STORE32:
		if (rv < 0)
			x86_mov(&t->e, false, r, SLOT(v));
		x86_mov_store(&t->e, false, m, r);
		return true;
	case WASM_OP_I64_STORE:
	case WASM_OP_F64_STORE:
		if (rv < 0)
			x86_mov(&t->e, true, r, SLOT(v));
		x86_mov_store(&t->e, true, m, r);
		return true;
	case WASM_OP_I32_STORE8:
	case WASM_OP_I64_STORE8:
		if (rv < 0)
			x86_mov(&t->e, false, r, SLOT(v));
		x86_mov_store8(&t->e, m, r);
		return true;
	case WASM_OP_I32_STORE16:
	case WASM_OP_I64_STORE16:
		if (rv < 0)
			x86_mov(&t->e, false, r, SLOT(v));
		x86_mov_store16(&t->e, m, r);
		return true;
	case WASM_OP_V128_STORE:
		x86_movdqu_load(&t->e, 0, SLOT(v));
		x86_movdqu_store(&t->e, m, 0);
		return true;
	default:
		return false;
	}
}

static struct x86_rm access(int32_t disp)
{
	return x86_mi(R_MEM, X86_RAX, 0, disp);
}

/* The index register and (in *disp) the displacement of a guarded access of the op at pc
 * through addr_slot with offset off. An address cached in a general-purpose register is
 * used from there: zero-extended in place once on a straight path (an i32's upper half is
 * don't-care, so `mov r32, r32` leaves its value as it is; t->zext remembers it until a
 * label, a call, a reload or a write of the slot), or, where the op folded an address
 * add that may wrap, the wrapped sum made from it by one 32-bit lea into eax (as
 * guard_disp). Else eax, loaded with the address, and guard_disp. */
static int guard_index(struct tr *t, uint32_t pc, uint32_t addr_slot, uint32_t off, int32_t *disp)
{
	int r = tr_reg(t, addr_slot), c = t->sreg[addr_slot];
	uint32_t imm = wrap_imm(t, pc);

	if (r < 0) {
		tr_get(t, false, X86_RAX, addr_slot);
		*disp = guard_disp(t, pc, addr_slot, off);
		return X86_RAX;
	}
	if (imm) {
		x86_lea(&t->e, false, X86_RAX, x86_m(r, (int32_t)imm));
		*disp = (int32_t)(off - imm);
		return X86_RAX;
	}
	if (!(t->zext & (1u << c))) {
		x86_mov(&t->e, false, r, x86_r(r));
		t->zext |= 1u << c;
	}
#ifdef WASM_JIT_CHECK_ZEXT
	else { /* the fuzz build: ud2 (a crash libFuzzer reports) unless the upper half is
		* zero, as t->zext claims; rax is free here, the flags dead */
		uint8_t *ok;
		x86_mov(&t->e, true, X86_RAX, x86_r(r));
		x86_shift_imm(&t->e, true, X86_SHR, x86_r(X86_RAX), 32);
		ok = x86_jcc_fwd(&t->e, X86_CC_E);
		x86_e8(&t->e, 0x0f);
		x86_e8(&t->e, 0x0b);
		x86_patch(&t->e, ok, x86_here(&t->e));
	}
#endif
	*disp = (int32_t)off;
	return r;
}

/* rdx = the checked host address, for a helper */
static void host_addr(struct tr *t, int32_t disp)
{
	x86_lea(&t->e, true, X86_RDX, access(disp));
}

static void emit_mem(struct tr *t, uint32_t pc, unsigned op)
{
	const struct jop *jo = &wasm_jit_ops[op];
	const uint32_t *p = t->ops + pc;
	unsigned size = 1u << jo->align;
	int32_t disp;

	if (!t->has_mem) { /* validation requires a memory: cannot happen */
		t->fail = true;
		return;
	}
	switch (jo->kind) {
	case J_LOAD: /* [d addr off] */
		if (guarded(t, p[3], size)) {
			int32_t gd;
			int ix = guard_index(t, pc, p[2], p[3], &gd);
			uint8_t *start = t->e.p;
			if (load_into(t, jo->base, p[1], x86_mi(R_MEM, ix, 0, gd))) {
				guard_site(t, start, pc);
				return;
			}
			/* emitted nothing: an op the helper loads, explicitly checked (from the
			 * address itself) */
		}
		tr_get(t, false, X86_RAX, p[2]);
		disp = mem_check(t, pc, pc, p[3], size, p[2]);
		if (!load_into(t, jo->base, p[1], access(disp))) {
			host_addr(t, disp);
			tr_helper(t, pc, op, true);
		}
		return;
	case J_LOAD_IDX: /* [d base idx shift off] */
		idx_addr(t, p[2], p[3], p[4]);
		if (guarded(t, p[5], size)) {
			uint8_t *start = t->e.p;
			if (load_into(t, jo->base, p[1], access((int32_t)p[5]))) {
				guard_site(t, start, pc);
				return;
			}
		}
		disp = mem_check(t, pc, pc, p[5], size, UINT32_MAX);
		if (!load_into(t, jo->base, p[1], access(disp))) {
			host_addr(t, disp);
			tr_helper(t, pc, op, true);
		}
		return;
	case J_STORE: /* [addr v off] */
		if (guarded(t, p[3], size)) {
			int32_t gd;
			int ix = guard_index(t, pc, p[1], p[3], &gd);
			uint8_t *start = t->e.p;
			if (store_from(t, op, p[2], x86_mi(R_MEM, ix, 0, gd))) {
				guard_site(t, start, pc);
				return;
			}
		}
		tr_get(t, false, X86_RAX, p[1]);
		disp = mem_check(t, pc, pc, p[3], size, p[1]);
		if (!store_from(t, op, p[2], access(disp))) {
			host_addr(t, disp);
			tr_helper(t, pc, op, true);
		}
		return;
	case J_LANE_LOAD: /* [d v addr off lane] */
		tr_get(t, false, X86_RAX, p[3]);
		disp = mem_check(t, pc, pc, p[4], size, p[3]);
		host_addr(t, disp);
		tr_helper(t, pc, op, true);
		return;
	case J_LANE_STORE: /* [v addr off lane] */
		tr_get(t, false, X86_RAX, p[2]);
		disp = mem_check(t, pc, pc, p[3], size, p[2]);
		host_addr(t, disp);
		tr_helper(t, pc, op, true);
		return;
	default:
		t->fail = true;
		return;
	}
}

/* ----- threads: atomics.def, on memory 0 (another memory's ops come with USE_MEM,
 * which is not translated) ----- */

/* rdx = the effective address of the atomic access [a + off], checked where and as the
 * interpreter checks it (wasm_atomic_access): alignment first, then bounds, trapping at
 * pc. Returns the host memory operand. */
static struct x86_rm atomic_addr(struct tr *t, uint32_t pc, uint32_t a, uint32_t off, unsigned log2)
{
	tr_get(t, false, X86_RDX, a);
	if (off > INT32_MAX) {
		x86_mov_imm(&t->e, X86_RCX, off);
		x86_alu(&t->e, true, X86_ADD, X86_RDX, x86_r(X86_RCX));
	} else if (off) {
		x86_lea(&t->e, true, X86_RDX, x86_m(X86_RDX, (int32_t)off));
	}
	if (log2) {
		x86_test_imm(&t->e, false, x86_r(X86_RDX), (int32_t)((1u << log2) - 1));
		tr_trap_if(t, X86_CC_NE, WASM_TRAP_UNALIGNED_ATOMIC, pc);
	}
	/* with a guard region the access itself faults (a + off < 8 GiB) */
	if (!t->guard) {
		x86_lea(&t->e, true, X86_RCX, x86_m(X86_RDX, (int32_t)(1u << log2)));
		x86_alu(&t->e, true, X86_CMP, X86_RCX, x86_r(R_MSIZE));
		tr_trap_if(t, X86_CC_A, WASM_TRAP_MEM_OOB, pc);
	}
	return x86_mi(R_MEM, X86_RDX, 0, 0);
}

/* reg = its low `bytes` bytes, zero-extended to 64 bits */
static void zext(struct tr *t, int reg, unsigned bytes)
{
	if (bytes < 4)
		x86_movzx(&t->e, false, reg, x86_r(reg), bytes * 8);
	else if (bytes == 4)
		x86_mov(&t->e, false, reg, x86_r(reg));
}

/* The accesses and read-modify-writes: lock-prefixed instructions (or xchg, locked by
 * itself) of the access's width, sequentially consistent as x86 orders them (a load is a
 * plain load, since every store is an xchg). Results are zero-extended to the whole slot,
 * as the interpreter writes them. */
static void emit_atomic(struct tr *t, uint32_t pc, unsigned op)
{
	const uint32_t *p = t->ops + pc;
	uint32_t code = op == WASM_OP_ATOMIC_LOAD      ? p[4]
			: op == WASM_OP_ATOMIC_STORE   ? p[4]
			: op == WASM_OP_ATOMIC_RMW     ? p[5]
			: op == WASM_OP_ATOMIC_CMPXCHG ? p[6]
						       : 0;
	unsigned kind = code < WASM_ATOMIC_CODES ? wasm_atomic_rows[code].kind : AK_NONE;
	unsigned log2 = code < WASM_ATOMIC_CODES ? wasm_atomic_rows[code].log2 : 0,
		 bytes = 1u << log2;
	bool w = bytes == 8;
	struct x86_rm m;
	uintptr_t retry;
	uint8_t *start = t->e.p; /* the guarded access, after its address */

	if (!t->has_mem || !kind || kind > AK_CMPXCHG) { /* the compiler emits no other */
		t->fail = true;
		return;
	}
	switch (kind) {
	case AK_LOAD: /* [d a off code] */
		m = atomic_addr(t, pc, p[2], p[3], log2);
		start = t->e.p;
		if (bytes < 4)
			x86_movzx(&t->e, false, X86_RCX, m, bytes * 8);
		else
			x86_mov(&t->e, w, X86_RCX, m);
		tr_put(t, true, p[1], X86_RCX);
		break;
	case AK_STORE: /* [a v off code] */
		m = atomic_addr(t, pc, p[1], p[3], log2);
		start = t->e.p;
		tr_get(t, true, X86_RCX, p[2]);
		x86_rmw(&t->e, bytes, 0x86, X86_RCX, m, false);
		break;
	case AK_RMW_ADD: /* [d a v off code] */
	case AK_RMW_SUB:
	case AK_RMW_XCHG:
		m = atomic_addr(t, pc, p[2], p[4], log2);
		start = t->e.p;
		tr_get(t, true, X86_RCX, p[3]);
		if (kind == AK_RMW_SUB)
			x86_grp3(&t->e, true, 3, x86_r(X86_RCX)); /* neg */
		x86_rmw(&t->e, bytes, kind == AK_RMW_XCHG ? 0x86 : 0x0fc0, X86_RCX, m,
			kind != AK_RMW_XCHG);
		zext(t, X86_RCX, bytes);
		tr_put(t, true, p[1], X86_RCX);
		break;
	case AK_RMW_AND: /* a compare-exchange loop: rax the old value, rcx the new */
	case AK_RMW_OR:
	case AK_RMW_XOR: {
		enum x86_alu alu = kind == AK_RMW_AND  ? X86_AND
				   : kind == AK_RMW_OR ? X86_OR
						       : X86_XOR;
		m = atomic_addr(t, pc, p[2], p[4], log2);
		start = t->e.p;
		if (bytes < 4)
			x86_movzx(&t->e, false, X86_RAX, m, bytes * 8);
		else
			x86_mov(&t->e, w, X86_RAX, m);
		retry = x86_here(&t->e);
		x86_mov(&t->e, true, X86_RCX, x86_r(X86_RAX));
		x86_alu(&t->e, true, alu, X86_RCX, tr_slot(t, p[3]));
		x86_rmw(&t->e, bytes, 0x0fb0, X86_RCX, m, true);
		x86_jcc_to(&t->e, X86_CC_NE, retry);
		zext(t, X86_RAX, bytes); /* a failed cmpxchg wrote only the access's width */
		tr_put(t, true, p[1], X86_RAX);
		break;
	}
	default: /* AK_CMPXCHG [d a e v off code]: rax the expected value, then the old one */
		m = atomic_addr(t, pc, p[2], p[5], log2);
		start = t->e.p;
		tr_get(t, true, X86_RAX, p[3]);
		tr_get(t, true, X86_RCX, p[4]);
		x86_rmw(&t->e, bytes, 0x0fb0, X86_RCX, m, true);
		zext(t, X86_RAX, bytes);
		tr_put(t, true, p[1], X86_RAX);
		break;
	}
	if (t->guard)
		guard_site(t, start, pc);
}

/* FUSE_LOAD [d a addr off]: d = a OP (the natural load of T at addr + off) */
static void emit_fuse_load(struct tr *t, uint32_t pc, unsigned op)
{
	const struct jop *jo = &wasm_jit_ops[op];
	const uint32_t *p = t->ops + pc;
	bool w = jo->ta == WASM_I64 || jo->ta == WASM_F64;
	unsigned size = 1u << jo->align;
	bool g = guarded(t, p[4], size);
	bool fl = jo->ta == WASM_F32 || jo->ta == WASM_F64;
	int ix = X86_RAX;
	uint8_t *start;
	int32_t disp;

	/* an integer op reads a into its destination's register before the access: then
	 * that register cannot be the index */
	if (g && (fl || tr_reg(t, p[1]) < 0 || tr_reg(t, p[1]) != tr_reg(t, p[3]))) {
		ix = guard_index(t, pc, p[3], p[4], &disp);
	} else {
		tr_get(t, false, X86_RAX, p[3]);
		disp = g ? guard_disp(t, pc, p[3], p[4]) : mem_check(t, pc, pc, p[4], size, p[3]);
	}
	start = t->e.p;
	if (fl) {
		unsigned opc = jo->base == WASM_OP_F32_ADD || jo->base == WASM_OP_F64_ADD   ? 0x58
			       : jo->base == WASM_OP_F32_SUB || jo->base == WASM_OP_F64_SUB ? 0x5c
											    : 0x59;
		int r = tr_xreg(t, p[1]) >= 0 ? tr_xreg(t, p[1]) : 0;
		tr_get_xmm(t, w, r, p[2]);
		x86_sse(&t->e, w, opc, false, r, x86_mi(R_MEM, ix, 0, disp));
		tr_put_xmm(t, w, p[1], r);
		if (g)
			guard_site(t, start, pc);
		return;
	}
	{
		int rd = tr_reg(t, p[1]);
		int r = rd >= 0 ? rd : X86_RCX;
		tr_get(t, w, r, p[2]);
		switch (jo->base) {
		case WASM_OP_I32_ADD:
		case WASM_OP_I64_ADD:
			x86_alu(&t->e, w, X86_ADD, r, x86_mi(R_MEM, ix, 0, disp));
			break;
		case WASM_OP_I32_SUB:
		case WASM_OP_I64_SUB:
			x86_alu(&t->e, w, X86_SUB, r, x86_mi(R_MEM, ix, 0, disp));
			break;
		case WASM_OP_I32_MUL:
		case WASM_OP_I64_MUL:
			x86_imul(&t->e, w, r, x86_mi(R_MEM, ix, 0, disp));
			break;
		case WASM_OP_I32_AND:
		case WASM_OP_I64_AND:
			x86_alu(&t->e, w, X86_AND, r, x86_mi(R_MEM, ix, 0, disp));
			break;
		case WASM_OP_I32_OR:
		case WASM_OP_I64_OR:
			x86_alu(&t->e, w, X86_OR, r, x86_mi(R_MEM, ix, 0, disp));
			break;
		default:
			x86_alu(&t->e, w, X86_XOR, r, x86_mi(R_MEM, ix, 0, disp));
			break;
		}
		tr_put(t, w, p[1], r);
	}
	if (g)
		guard_site(t, start, pc);
}

/* ----- the rest of the internal ops (xops.def) ----- */

static void copy(struct tr *t, uint32_t d, uint32_t s)
{
	int rd = tr_reg(t, d), rs = tr_reg(t, s), xd = tr_xreg(t, d), xs = tr_xreg(t, s);

	if (d == s)
		return;
	if (xd >= 0) {
		tr_get_xmm(t, true, xd, s);
		mark_dirty(t, d);
	} else if (xs >= 0) {
		if (rd >= 0) {
			x86_movd_from_xmm(&t->e, true, x86_r(rd), xs);
			mark_dirty(t, d);
		} else {
			x86_sse_store(&t->e, true, SLOT(d), xs);
		}
	} else if (rd >= 0) {
		x86_mov(&t->e, true, rd, tr_slot(t, s));
		t->dirty |= 1u << t->sreg[d];
	} else if (rs >= 0) {
		x86_mov_store(&t->e, true, SLOT(d), rs);
	} else {
		x86_mov(&t->e, true, X86_RCX, SLOT(s));
		x86_mov_store(&t->e, true, SLOT(d), X86_RCX);
	}
}

static void const64(struct tr *t, uint32_t d, uint64_t v)
{
	int rd = tr_reg(t, d), xd = tr_xreg(t, d);

	if (xd >= 0) {
		if (v == 0) {
			x86_sse_packed(&t->e, 0, 0x0f57, xd, x86_r(xd)); /* xorps */
		} else {
			x86_mov_imm(&t->e, X86_RCX, v);
			x86_movd_to_xmm(&t->e, true, xd, x86_r(X86_RCX));
		}
		mark_dirty(t, d);
	} else if (rd >= 0) {
		if (v == 0)
			x86_alu(&t->e, false, X86_XOR, rd, x86_r(rd));
		else
			x86_mov_imm(&t->e, rd, v);
		t->dirty |= 1u << t->sreg[d];
	} else if (x86_fits32((int64_t)v)) {
		x86_mov_rm_imm(&t->e, true, SLOT(d), (int32_t)v);
	} else {
		x86_mov_imm(&t->e, X86_RCX, v);
		x86_mov_store(&t->e, true, SLOT(d), X86_RCX);
	}
}

static void emit_select(struct tr *t, const uint32_t *p)
{
	int rc = tr_reg(t, p[4]);
	struct x86_rm b;

	tr_get(t, true, X86_RAX, p[2]);
	if (tr_xreg(t, p[3]) >= 0) {
		tr_get(t, true, X86_RDX, p[3]);
		b = x86_r(X86_RDX);
	} else {
		b = tr_slot(t, p[3]);
	}
	if (rc >= 0)
		x86_test(&t->e, false, x86_r(rc), rc);
	else
		x86_alu_imm(&t->e, false, X86_CMP, tr_slot(t, p[4]), 0);
	x86_cmov(&t->e, true, X86_CC_E, X86_RAX, b);
	tr_put(t, true, p[1], X86_RAX);
}

static void emit_select2(struct tr *t, const uint32_t *p)
{
	int rc = tr_reg(t, p[4]);
	uint8_t *keep;

	x86_movdqu_load(&t->e, 0, SLOT(p[2]));
	x86_movdqu_load(&t->e, 1, SLOT(p[3]));
	if (rc >= 0)
		x86_test(&t->e, false, x86_r(rc), rc);
	else
		x86_alu_imm(&t->e, false, X86_CMP, SLOT(p[4]), 0);
	keep = x86_jcc_fwd(&t->e, X86_CC_NE);
	x86_sse_packed(&t->e, 0, 0x0f28, 0, x86_r(1)); /* movaps xmm0, xmm1 */
	x86_patch(&t->e, keep, x86_here(&t->e));
	x86_movdqu_store(&t->e, SLOT(p[1]), 0);
}

static void emit_global(struct tr *t, const uint32_t *p, unsigned op)
{
	struct wasm_global *g;

	if (op == WASM_OP_GLOBAL_GET || op == WASM_OP_GLOBAL_GET2) {
		g = t->f->inst->globals[p[2]];
		x86_mov_imm(&t->e, X86_RAX, (uint64_t)(uintptr_t)&g->v[0]);
		if (op == WASM_OP_GLOBAL_GET2) {
			x86_movdqu_load(&t->e, 0, x86_m(X86_RAX, 0));
			x86_movdqu_store(&t->e, SLOT(p[1]), 0);
			return;
		}
		if (tr_reg(t, p[1]) >= 0) {
			x86_mov(&t->e, true, tr_reg(t, p[1]), x86_m(X86_RAX, 0));
			t->dirty |= 1u << t->sreg[p[1]];
		} else if (tr_xreg(t, p[1]) >= 0) {
			x86_sse(&t->e, true, 0x10, false, tr_xreg(t, p[1]), x86_m(X86_RAX, 0));
			mark_dirty(t, p[1]);
		} else {
			x86_mov(&t->e, true, X86_RCX, x86_m(X86_RAX, 0));
			x86_mov_store(&t->e, true, SLOT(p[1]), X86_RCX);
		}
		return;
	}
	g = t->f->inst->globals[p[1]];
	x86_mov_imm(&t->e, X86_RAX, (uint64_t)(uintptr_t)&g->v[0]);
	if (op == WASM_OP_GLOBAL_SET2) {
		x86_movdqu_load(&t->e, 0, SLOT(p[2]));
		x86_movdqu_store(&t->e, x86_m(X86_RAX, 0), 0);
		return;
	}
	if (tr_reg(t, p[2]) >= 0) {
		x86_mov_store(&t->e, true, x86_m(X86_RAX, 0), tr_reg(t, p[2]));
	} else if (tr_xreg(t, p[2]) >= 0) {
		x86_sse_store(&t->e, true, x86_m(X86_RAX, 0), tr_xreg(t, p[2]));
	} else {
		x86_mov(&t->e, true, X86_RCX, SLOT(p[2]));
		x86_mov_store(&t->e, true, x86_m(X86_RAX, 0), X86_RCX);
	}
}

/* TABLE_GET [d table i] and TABLE_SET [table i v], inline; the rest in C */
static void emit_table_access(struct tr *t, uint32_t pc, const uint32_t *p, bool set)
{
	struct wasm_table *table = t->f->inst->tables[set ? p[1] : p[2]];

	tr_get(t, false, X86_RAX, set ? p[2] : p[3]);
	x86_mov_imm(&t->e, X86_RDX, (uint64_t)(uintptr_t)table);
	x86_alu(&t->e, false, X86_CMP, X86_RAX, x86_m(X86_RDX, offsetof(struct wasm_table, size)));
	tr_trap_if(t, X86_CC_AE, WASM_TRAP_TABLE_OOB, pc);
	x86_mov(&t->e, true, X86_RDX, x86_m(X86_RDX, offsetof(struct wasm_table, elems)));
	if (set) {
		tr_get(t, true, X86_RCX, p[3]);
		x86_mov_store(&t->e, true, x86_mi(X86_RDX, X86_RAX, 3, 0), X86_RCX);
	} else {
		x86_mov(&t->e, true, X86_RCX, x86_mi(X86_RDX, X86_RAX, 3, 0));
		tr_put(t, true, p[1], X86_RCX);
	}
}

/* ops done in C (wasm_jit_c_misc): memory.grow, bulk memory and table ops */
static void emit_misc(struct tr *t, uint32_t pc, unsigned op, bool grows)
{
	tr_sync_reads(t, pc, op);
	ccall(t, (const void *)wasm_jit_c_misc, pc);
	unwind_if_trap(t);
	if (grows)
		load_mem(t);
	tr_reload_writes(t, pc, op);
}

static void emit_xop(struct tr *t, uint32_t pc, unsigned op, uintptr_t self_local)
{
	const uint32_t *p = t->ops + pc;

	switch (op) {
	case WASM_OP_UNREACHABLE: {
		struct cold *c = tr_cold(t, COLD_TRAP, x86_jmp_fwd(&t->e), pc);
		if (c)
			c->arg = WASM_TRAP_UNREACHABLE;
		return;
	}
	case WASM_OP_COPY:
		copy(t, p[1], p[2]);
		return;
	case WASM_OP_MOVE2:
		copy(t, p[1], p[2]);
		copy(t, p[3], p[4]);
		return;
	case WASM_OP_MOVE3:
		copy(t, p[1], p[2]);
		copy(t, p[3], p[4]);
		copy(t, p[5], p[6]);
		return;
	case WASM_OP_COPY2:
		x86_movdqu_load(&t->e, 0, SLOT(p[2]));
		x86_movdqu_store(&t->e, SLOT(p[1]), 0);
		return;
	case WASM_OP_CONST32:
		const64(t, p[1], p[2]);
		return;
	case WASM_OP_CONST64:
		const64(t, p[1], (uint64_t)p[2] | (uint64_t)p[3] << 32);
		return;
	case WASM_OP_CONST128:
		x86_mov_imm(&t->e, X86_RCX, (uint64_t)p[2] | (uint64_t)p[3] << 32);
		x86_mov_store(&t->e, true, SLOT(p[1]), X86_RCX);
		x86_mov_imm(&t->e, X86_RCX, (uint64_t)p[4] | (uint64_t)p[5] << 32);
		x86_mov_store(&t->e, true, SLOT(p[1] + 1), X86_RCX);
		return;
	case WASM_OP_BR:
		branch(t, -1, pc, target_of(t, pc, 1));
		return;
	case WASM_OP_BR_LOOP:
		loop_edge(t, pc, target_of(t, pc, 1));
		return;
	case WASM_OP_BR_NZ:
	case WASM_OP_BR_Z:
	case WASM_OP_BR_NZ64:
	case WASM_OP_BR_Z64:
		emit_test_branch(t, pc, op == WASM_OP_BR_NZ64 || op == WASM_OP_BR_Z64,
				 op == WASM_OP_BR_Z || op == WASM_OP_BR_Z64, false);
		return;
	case WASM_OP_BRL_NZ:
	case WASM_OP_BRL_Z:
	case WASM_OP_BRL_NZ64:
	case WASM_OP_BRL_Z64:
		emit_test_branch(t, pc, op == WASM_OP_BRL_NZ64 || op == WASM_OP_BRL_Z64,
				 op == WASM_OP_BRL_Z || op == WASM_OP_BRL_Z64, true);
		return;
	case WASM_OP_BR_TABLE:
		emit_br_table(t, pc);
		return;
	case WASM_OP_CALL:
		emit_call(t, pc);
		return;
	case WASM_OP_CALL_LOCAL:
		emit_call_local(t, pc, self_local);
		return;
	case WASM_OP_CALL_INDIRECT:
	case WASM_OP_RETURN_CALL_INDIRECT:
		emit_call_indirect(t, pc, op == WASM_OP_RETURN_CALL_INDIRECT);
		return;
	case WASM_OP_CALL_REF:
	case WASM_OP_RETURN_CALL_REF:
		emit_call_ref(t, pc, op == WASM_OP_RETURN_CALL_REF);
		return;
	case WASM_OP_RETURN_CALL:
		emit_return_call(t, pc);
		return;
	case WASM_OP_THROW:
	case WASM_OP_THROW_REF:
		/* in C (wasm_jit_c_throw), which always returns a trap: the exception (or a
		 * null exnref's trap, or no memory) unwinds, to a pad of a translated frame
		 * when one catches it (its entry loads every cached slot: all written back) */
		flush(t, all_cached(t));
		ccall(t,
		      op == WASM_OP_THROW ? (const void *)wasm_jit_c_throw
					  : (const void *)wasm_jit_c_throw_ref,
		      pc);
		x86_jmp_to(&t->e, t->j->stub[STUB_UNWIND]);
		return;
	case WASM_OP_REF_I31:
	case WASM_OP_I31_GET_S:
	case WASM_OP_I31_GET_U:
	case WASM_OP_REF_EQ:
	case WASM_OP_REF_TEST:
	case WASM_OP_REF_CAST:
		tr_sync_reads(t, pc, op);
		x86_mov_imm(&t->e, X86_RAX, op); /* the op: no lookup of its code word in C */
		x86_mov_store(&t->e, true, CTX(site_arg), X86_RAX);
		ccall(t, (const void *)wasm_jit_c_ref, pc);
		unwind_if_trap(t);
		tr_reload_writes(t, pc, op);
		return;
	case WASM_OP_STRUCT_NEW:
	case WASM_OP_STRUCT_NEW_DEFAULT:
	case WASM_OP_STRUCT_GET:
	case WASM_OP_STRUCT_SET:
	case WASM_OP_ARRAY_NEW:
	case WASM_OP_ARRAY_NEW_DEFAULT:
	case WASM_OP_ARRAY_NEW_FIXED:
	case WASM_OP_ARRAY_NEW_DATA:
	case WASM_OP_ARRAY_NEW_ELEM:
	case WASM_OP_ARRAY_GET:
	case WASM_OP_ARRAY_SET:
	case WASM_OP_ARRAY_LEN:
	case WASM_OP_ARRAY_FILL:
	case WASM_OP_ARRAY_COPY:
	case WASM_OP_ARRAY_INIT_DATA:
	case WASM_OP_ARRAY_INIT_ELEM:
	case WASM_OP_ANY_CONVERT_EXTERN:
	case WASM_OP_EXTERN_CONVERT_ANY:
		/* in C, standing at the op (the collector scans the frame with the op's stack
		 * map): every cached slot to memory first, all loaded again after (which slots
		 * the op writes, and whether as a v128 pair, depends on its kind word), and no
		 * bounds check remembered across it */
		flush(t, all_cached(t));
		x86_mov_imm(&t->e, X86_RAX, op);
		x86_mov_store(&t->e, true, CTX(site_arg), X86_RAX);
		ccall(t, (const void *)wasm_jit_c_gc, pc);
		unwind_if_trap(t);
		reload(t, all_cached(t));
		t->nchecked = 0;
		return;
	case WASM_OP_REF_AS_NON_NULL:
		x86_alu_imm(&t->e, true, X86_CMP, tr_slot(t, p[1]), 0);
		tr_trap_if(t, X86_CC_E, WASM_TRAP_NULL_REF, pc);
		return;
	case WASM_OP_ATOMIC_LOAD:
	case WASM_OP_ATOMIC_STORE:
	case WASM_OP_ATOMIC_RMW:
	case WASM_OP_ATOMIC_CMPXCHG:
		emit_atomic(t, pc, op);
		return;
	case WASM_OP_ATOMIC_FENCE:
		x86_mfence(&t->e);
		return;
	case WASM_OP_ATOMIC_WAIT: /* may block while other threads grow the memory */
		emit_misc(t, pc, op, true);
		return;
	case WASM_OP_ATOMIC_NOTIFY:
		emit_misc(t, pc, op, false);
		return;
	case WASM_OP_RET1:
		tr_get(t, true, X86_RCX, p[1]);
		x86_mov_store(&t->e, true, SLOT(0), X86_RCX);
		if (t->sreg[0] >= 0) { /* slot 0 now holds the result in memory */
			tr_put(t, true, 0, X86_RCX);
			t->dirty &= ~(1u << t->sreg[0]);
		}
		emit_return(t);
		return;
	case WASM_OP_RETURN:
		emit_return(t);
		return;
	case WASM_OP_SELECT:
		emit_select(t, p);
		return;
	case WASM_OP_SELECT2:
		emit_select2(t, p);
		return;
	case WASM_OP_GLOBAL_GET:
	case WASM_OP_GLOBAL_GET2:
	case WASM_OP_GLOBAL_SET:
	case WASM_OP_GLOBAL_SET2:
		emit_global(t, p, op);
		return;
	case WASM_OP_MEMORY_SIZE:
		x86_mov_imm(&t->e, X86_RAX, (uint64_t)(uintptr_t)t->f->inst->mem0);
		x86_mov(&t->e, false, X86_RAX, x86_m(X86_RAX, offsetof(struct wasm_memory, pages)));
		tr_put(t, false, p[1], X86_RAX);
		return;
	case WASM_OP_TABLE_SIZE:
		x86_mov_imm(&t->e, X86_RAX, (uint64_t)(uintptr_t)t->f->inst->tables[p[2]]);
		x86_mov(&t->e, false, X86_RAX, x86_m(X86_RAX, offsetof(struct wasm_table, size)));
		tr_put(t, false, p[1], X86_RAX);
		return;
	case WASM_OP_TABLE_GET:
	case WASM_OP_TABLE_SET:
		emit_table_access(t, pc, p, op == WASM_OP_TABLE_SET);
		return;
	case WASM_OP_REF_FUNC:
		x86_mov_imm(&t->e, X86_RAX, (uint64_t)(uintptr_t)t->f->inst->funcs[p[2]]);
		tr_put(t, true, p[1], X86_RAX);
		return;
	case WASM_OP_REF_IS_NULL:
		x86_alu(&t->e, false, X86_XOR, X86_RAX, x86_r(X86_RAX));
		x86_alu_imm(&t->e, true, X86_CMP, tr_slot(t, p[2]), 0);
		x86_setcc(&t->e, X86_CC_E, X86_RAX);
		tr_put(t, false, p[1], X86_RAX);
		return;
	case WASM_OP_MEMORY_GROW:
		emit_misc(t, pc, op, true);
		return;
	case WASM_OP_MEMORY_INIT:
	case WASM_OP_DATA_DROP:
	case WASM_OP_MEMORY_COPY:
	case WASM_OP_MEMORY_FILL:
	case WASM_OP_TABLE_INIT:
	case WASM_OP_ELEM_DROP:
	case WASM_OP_TABLE_COPY:
	case WASM_OP_TABLE_GROW:
	case WASM_OP_TABLE_FILL:
		emit_misc(t, pc, op, false);
		return;
	case WASM_OP_COPY_I32_LOAD_IDX: { /* [d1 s1 x d base idx shift off] */
		int32_t disp;
		copy(t, p[1], p[2]);
		idx_addr(t, p[5], p[6], p[7]);
		if (guarded(t, p[8], 4)) {
			uint8_t *start = t->e.p;
			load_into(t, WASM_OP_I32_LOAD, p[4], access((int32_t)p[8]));
			guard_site(t, start, pc + 3);
			return;
		}
		disp = mem_check(t, pc, pc + 3, p[8], 4, UINT32_MAX);
		load_into(t, WASM_OP_I32_LOAD, p[4], access(disp));
		return;
	}
	case WASM_OP_SHUFFLE:
		tr_helper(t, pc, op, false);
		return;
	default:
		if (!tr_numeric(t, pc, op))
			tr_helper(t, pc, op, false);
		return;
	}
}

/* ----- the function ----- */

/* After the op at pc: checked address slots it wrote are checked no more. */
static void forget_checked(struct tr *t, uint32_t pc, unsigned op)
{
	const char *lay = wasm_jit_ops[op].layout;

	if (op == WASM_OP_CALL || op == WASM_OP_CALL_LOCAL || op == WASM_OP_CALL_INDIRECT ||
	    op == WASM_OP_CALL_REF || op == WASM_OP_RETURN_CALL ||
	    op == WASM_OP_RETURN_CALL_INDIRECT || op == WASM_OP_RETURN_CALL_REF) {
		t->nchecked = 0;
		t->zext = 0;
		return;
	}
	for (uint32_t k = 0; lay[k]; k++) { /* a slot written: its register may be anything */
		int c;
		if (lay[k] != 'd' && lay[k] != 'D')
			continue;
		c = t->sreg[t->ops[pc + 1 + k]];
		if (c >= 0)
			t->zext &= ~(1u << c);
		if (lay[k] == 'D' && (c = t->sreg[t->ops[pc + 1 + k] + 1]) >= 0)
			t->zext &= ~(1u << c);
	}
	for (uint32_t k = 0; lay[k] && t->nchecked; k++) {
		uint32_t s = t->ops[pc + 1 + k];
		if (lay[k] != 'd' && lay[k] != 'D')
			continue;
		for (unsigned i = 0; i < t->nchecked; i++) {
			if (t->checked[i].slot == s ||
			    (lay[k] == 'D' && t->checked[i].slot == s + 1))
				t->checked[i--] = t->checked[--t->nchecked];
		}
	}
}

static void emit_op(struct tr *t, uint32_t pc, unsigned op, uintptr_t self_local)
{
	const struct jop *jo = &wasm_jit_ops[op];

	switch (jo->kind) {
	case J_BR_ICMP:
	case J_BR_ICMP_I:
	case J_BRL_ICMP:
	case J_BRL_ICMP_I:
		emit_cmp_branch(t, pc, op);
		return;
	case J_LOAD:
	case J_LOAD_IDX:
	case J_STORE:
	case J_LANE_LOAD:
	case J_LANE_STORE:
		emit_mem(t, pc, op);
		return;
	case J_FUSE_LOAD:
		emit_fuse_load(t, pc, op);
		return;
	case J_XOP:
		emit_xop(t, pc, op, self_local);
		return;
	default:
		if (!tr_numeric(t, pc, op))
			tr_helper(t, pc, op, false);
		return;
	}
}

/* An op whose translation is not xmm-aware for one of its xmm-cached operands sees
 * them all in memory: written back before, the ones it writes reloaded after. */
static void emit_op_xmm(struct tr *t, uint32_t pc, unsigned op, uintptr_t self_local)
{
	uint32_t off = xmm_off_mask(t, pc, op), wrote;

	if (!off) {
		emit_op(t, pc, op, self_local);
		return;
	}
	flush(t, off);
	wrote = off & operand_mask(t, pc, op, 'd');
	t->xoff = off;
	emit_op(t, pc, op, self_local);
	t->xoff = 0;
	reload(t, wrote);
}

/* Multi-byte nops up to the next multiple of `to` (a power of two). Loop heads and the
 * self-call entry start at a multiple of CODE_ALIGN, as compilers align loops and
 * functions: where they fell otherwise moved fib's and matmul's time by 10-15% from one
 * build to the next (the host's AMD front end; 2026-12-05, interleaved runs: aligned,
 * both were as fast as the best of the unaligned layouts). */
static void align_to(struct tr *t, unsigned to)
{
	static const uint8_t nops[9][9] = {
		{0},
		{0x90},
		{0x66, 0x90},
		{0x0f, 0x1f, 0x00},
		{0x0f, 0x1f, 0x40, 0x00},
		{0x0f, 0x1f, 0x44, 0x00, 0x00},
		{0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00},
		{0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00},
		{0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00},
	};
	unsigned n = (unsigned)(-x86_here(&t->e) & (to - 1));

	while (n) {
		unsigned k = n < 8 ? n : 8;
		for (unsigned i = 0; i < k; i++)
			x86_e8(&t->e, nops[k][i]);
		n -= k;
	}
}

/* Zeroes the declared locals and loads the cached parameters. A cached local is zeroed in
 * its register only: it starts dirty (and counts as written, so labels keep it dirty). */
static void prologue(struct tr *t)
{
	const struct wasm_code *c = t->code;
	uint32_t first = c->param_slots, n = c->local_slots;

	/* the parameters cached in general-purpose registers, then the entry of self-calls,
	 * which pass them there */
	for (unsigned k = 0; k < t->ncache; k++)
		if (!(t->xmm & (1u << k)) && t->cslot[k] < first)
			reload(t, 1u << k);
	align_to(t, CODE_ALIGN);
	t->self_reg = x86_here(&t->e);
	x86_push(&t->e, X86_RAX); /* the 16-byte frame: return address and this */
	t->dirty = 0;
	if (n > 16) {
		/* rdi may hold a parameter already (loaded above, or passed by a self-call) */
		x86_mov(&t->e, true, X86_RDX, x86_r(X86_RDI));
		x86_lea(&t->e, true, X86_RDI, SLOT(first));
		x86_mov_imm(&t->e, X86_RCX, n);
		x86_alu(&t->e, false, X86_XOR, X86_RAX, x86_r(X86_RAX));
		x86_e8(&t->e, 0xf3); /* rep stosq */
		x86_e8(&t->e, 0x48);
		x86_e8(&t->e, 0xab);
		x86_mov(&t->e, true, X86_RDI, x86_r(X86_RDX));
	} else if (n) {
		bool zero = false;
		for (uint32_t i = 0; i < n; i++) {
			if (t->sreg[first + i] >= 0)
				continue;
			if (!zero)
				x86_alu(&t->e, false, X86_XOR, X86_RAX, x86_r(X86_RAX));
			zero = true;
			x86_mov_store(&t->e, true, SLOT(first + i), X86_RAX);
		}
	}
	for (unsigned k = 0; k < t->ncache; k++) {
		uint32_t s = t->cslot[k];
		if (s < first) {
			if (t->xmm & (1u << k))
				reload(t, 1u << k);
		} else if (s < first + n) {
			if (t->xmm & (1u << k)) /* xorps */
				x86_sse_packed(&t->e, 0, 0x0f57, t->creg[k], x86_r(t->creg[k]));
			else
				x86_alu(&t->e, false, X86_XOR, t->creg[k], x86_r(t->creg[k]));
			if (n <= 16) {
				t->dirty |= 1u << k;
				t->written |= 1u << k;
			}
		}
	}
}

static void emit_cold(struct tr *t, struct cold *c)
{
	struct x86_emit *e = &t->e;

	c->at = x86_here(e);
	if (c->jump)
		x86_patch(e, c->jump, c->at);
	switch (c->kind) {
	case COLD_TRAP:
		if (c->size) { /* the indirect call's structural type check */
			x86_push(e, X86_RAX);
			x86_push(e, X86_RAX);
			ccall(t, (const void *)wasm_jit_c_type, c->pc);
			unwind_if_trap(t);
			x86_pop(e, X86_RAX);
			x86_pop(e, X86_RAX);
			x86_jmp_to(e, c->back);
			return;
		}
		x86_mov_imm(e, X86_RAX, c->arg);
		x86_mov_imm(e, X86_RDX, c->pc);
		x86_jmp_to(e, t->trap_tail);
		return;
	case COLD_TICK:
		if (c->size) {
			x86_push(e, X86_RAX);
			x86_push(e, X86_RAX);
		}
		x86_mov_imm(e, X86_RAX, c->arg);
		x86_mov_store(e, true, CTX(site_arg), X86_RAX);
		/* at a back-edge the interpreter may go on from here: every cached slot to
		 * its frame slot (the registers hold them all; cold path, once a chunk) */
		for (unsigned k = 0; c->arg == 1 && k < t->ncache; k++)
			store_entry(t, k);
		ccall(t, (const void *)wasm_jit_c_tick, c->pc);
		unwind_if_trap(t);
		if (c->size) {
			x86_pop(e, X86_RAX);
			x86_pop(e, X86_RAX);
		}
		x86_jmp_to(e, c->back);
		return;
	case COLD_WRAP:
		tr_get(t, false, X86_RAX, c->arg);
		x86_mov_store(e, true, CTX(site_arg), X86_RAX);
		ccall(t, (const void *)wasm_jit_c_wrap, c->pc);
		unwind_if_trap(t);
		x86_mov(e, true, X86_RAX, x86_r(X86_RDX));
		if (c->disp)
			x86_alu_imm(e, true, X86_SUB, x86_r(X86_RAX), c->disp);
		x86_jmp_to(e, c->back);
		return;
	case COLD_DEEP:
		ccall(t, (const void *)wasm_jit_c_deep, c->pc);
		unwind_if_trap(t);
		load_mem(t);
		if (c->size) /* a self-call's result entry (self_call) */
			reload(t, 1u << c->arg);
		x86_jmp_to(e, c->back);
		return;
	}
}

/* The entry at a handler's pad for an exception caught in this frame: STUB_UNWIND jumps
 * here with rsp at the frame's body and rbx its frame, which holds every value (cached
 * slots were written back at the throw or call; the handler wrote its label's slots). */
static uintptr_t emit_pad(struct tr *t, uint32_t pc)
{
	uintptr_t at = x86_here(&t->e);

	load_mem(t);
	reload(t, all_cached(t));
	x86_jmp_to(&t->e, t->e.base + t->hostat[pc]);
	return at;
}

/* The entry at a loop's start for code that was interpreted until now (OSR): the frame is
 * in memory, so every cached slot is loaded. */
static uintptr_t emit_osr(struct tr *t, uint32_t pc)
{
	uintptr_t at = x86_here(&t->e);

	load_mem(t);
	x86_push(&t->e, X86_RAX);
	reload(t, all_cached(t));
	x86_jmp_to(&t->e, t->e.base + t->hostat[pc]);
	return at;
}

static int emit_function(struct tr *t, uintptr_t *local, uintptr_t *foreign)
{
	const uint32_t n = t->code->nops;

	t->ncold = t->nfix = t->nchecked = t->nsites = t->nrets = 0;
	t->zext = 0;
	t->fail = false;
	*foreign = x86_here(&t->e);
	load_mem(t);
	*local = x86_here(&t->e);
	prologue(t);
	for (uint32_t pc = 0; pc < n && !t->fail; pc++) {
		if (!(t->wflags[pc] & W_START))
			continue;
		if (t->wflags[pc] & W_LOOP)
			align_to(t, CODE_ALIGN);
		t->hostat[pc] = (uint32_t)(t->e.p - t->e.buf);
		if (t->wflags[pc] & W_LABEL) {
			t->dirty = t->written;
			t->nchecked = 0;
			t->zext = 0;
		}
		t->zext_new = 0;
		emit_op_xmm(t, pc, t->opat[pc], *local);
		forget_checked(t, pc, t->opat[pc]);
		t->zext |= t->zext_new;
	}
	/* code ends in a return or a branch; nothing falls off the end */
	x86_e8(&t->e, 0x0f); /* ud2 */
	x86_e8(&t->e, 0x0b);
	t->trap_tail = x86_here(&t->e);
	x86_mov_imm(&t->e, X86_RCX, (uint64_t)(uintptr_t)t->f);
	x86_jmp_to(&t->e, t->j->stub[STUB_TRAP]);
	for (uint32_t i = 0; i < t->ncold && !t->e.overflow; i++)
		emit_cold(t, &t->cold[i]);
	for (uint32_t i = 0; i < t->nfix && !t->e.overflow; i++) {
		struct fixup *fx = &t->fix[i];
		uintptr_t to = t->e.base + t->hostat[fx->target];
		if (fx->table) {
			int32_t rel = (int32_t)((int64_t)to - (int64_t)fx->table);
			memcpy(fx->at, &rel, 4);
		} else {
			x86_patch(&t->e, fx->at, to);
		}
	}
	return t->fail ? -ENOTSUP : 0;
}

static void tr_free(struct tr *t)
{
	core_free(t->wflags);
	core_free(t->opat);
	core_free(t->hostat);
	core_free(t->sreg);
	core_free(t->cold);
	core_free(t->fix);
	core_free(t->sites);
	core_free(t->rets);
}

/* Makes room for n more sites in j->sites: 0 or -ENOMEM. */
static int tr_grow_sites(struct wasm_jit *j, size_t n)
{
	size_t cap = j->capsites ? j->capsites : 64;
	struct wasm_jit_site *p;

	if (j->nsites + n <= j->capsites)
		return 0;
	while (cap < j->nsites + n)
		cap *= 2;
	p = core_realloc(j->sites, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	j->sites = p;
	j->capsites = cap;
	return 0;
}

/* Installs the code staged in t->e and describes it in a new struct wasm_jit_code. */
static int install(struct tr *t, uintptr_t local, uintptr_t foreign, struct wasm_jit_code **out)
{
	struct wasm_jit *j = t->j;
	struct wasm_jit_code *jc;
	uint32_t nosr = 0, npads = 0, k = 0, kp = 0;
	const void *at;
	int rc;

	for (uint32_t pc = 0; pc < t->code->nops; pc++) {
		nosr += (t->wflags[pc] & W_LOOP) != 0;
		npads += (t->wflags[pc] & W_PAD) != 0;
	}
	jc = core_calloc(1, sizeof(*jc));
	if (!jc || (nosr && !(jc->osr = core_calloc(nosr, sizeof(*jc->osr)))) ||
	    (npads && !(jc->pads = core_calloc(npads, sizeof(*jc->pads)))) ||
	    (t->nrets && !(jc->rets = core_calloc(t->nrets, sizeof(*jc->rets))))) {
		if (jc) {
			core_free(jc->osr);
			core_free(jc->pads);
		}
		core_free(jc);
		return -ENOMEM;
	}
	/* OSR and pad entries go after everything else; their addresses are final now */
	for (uint32_t pc = 0; pc < t->code->nops; pc++) {
		if (t->wflags[pc] & W_LOOP) {
			jc->osr[k].pc = pc;
			jc->osr[k++].at = (const void *)emit_osr(t, pc);
		}
		if (t->wflags[pc] & W_PAD) {
			jc->pads[kp].pc = pc;
			jc->pads[kp++].at = (const void *)emit_pad(t, pc);
		}
	}
	if (t->e.overflow) {
		core_free(jc->osr);
		core_free(jc->pads);
		core_free(jc->rets);
		core_free(jc);
		return -EAGAIN;
	}
	rc = tr_grow_sites(j, t->nsites);
	if (!rc)
		rc = jitbuf_append(&j->buf, t->e.buf, (size_t)(t->e.p - t->e.buf), 16, &at);
	if (rc || (uintptr_t)at != t->e.base) {
		core_free(jc->osr);
		core_free(jc->pads);
		core_free(jc->rets);
		core_free(jc);
		return rc ? rc : -EIO;
	}
	/* the guarded accesses, after those of code before this (addresses only grow) */
	for (uint32_t i = 0; i < t->nsites; i++)
		j->sites[j->nsites++] = (struct wasm_jit_site){
			.start = t->e.base + t->sites[i].start,
			.end = t->e.base + t->sites[i].end,
			.to = t->cold[t->sites[i].cold].at,
		};
	/* the calls: each return address's Wasm position (the call op's return pc) */
	for (uint32_t i = 0; i < t->nrets; i++) {
		struct wasm_jit_ret r = t->rets[i];
		r.ret = r.call +
			wasm_jit_op_len(t->ops + r.call, t->opat[r.call], t->code->nops - r.call);
		jc->rets[i] = r;
	}
	jc->nrets = t->nrets;
	jc->f = t->f;
	jc->start = t->e.base;
	jc->end = t->e.base + (uintptr_t)(t->e.p - t->e.buf);
	jc->nosr = nosr;
	jc->npads = npads;
	jc->local = (const void *)local;
	jc->foreign = (const void *)foreign;
	*out = jc;
	return 0;
}

int wasm_jit_translate(struct wasm_jit *j, struct wasm_func *f)
{
	struct tr t;
	struct wasm_jit_code *jc = NULL;
	uintptr_t local, foreign;
	size_t cap;
	int rc;

	memset(&t, 0, sizeof(t));
	t.j = j;
	t.f = f;
	t.code = f->code;
	t.ops = f->code->ops;
	t.has_mem = f->inst->mem0 != NULL;
	t.guard = t.has_mem && f->inst->mem0->guard && wasm_jit_guard_init() == 0;
	rc = wasm_jit_analyze(&t);
	if (rc == 0 && j->nbyaddr == j->capbyaddr) { /* room for it in j->byaddr */
		size_t ncap = j->capbyaddr ? 2 * j->capbyaddr : 64;
		struct wasm_jit_code **nb = core_realloc(j->byaddr, ncap * sizeof(*nb));
		if (!nb)
			rc = -ENOMEM;
		else
			j->byaddr = nb, j->capbyaddr = ncap;
	}
	cap = (size_t)t.code->nops * 24 + 4096;
	while (rc == 0) {
		size_t room = jitbuf_room(&j->buf, 16);
		if (cap > room)
			cap = room;
		if (cap > j->staging_cap) {
			uint8_t *nb = core_realloc(j->staging, cap);
			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			j->staging = nb;
			j->staging_cap = cap;
		}
		t.e = (struct x86_emit){.buf = j->staging,
					.p = j->staging,
					.end = j->staging + cap,
					.base = jitbuf_next(&j->buf, 16)};
		rc = emit_function(&t, &local, &foreign);
		if (rc == 0)
			rc = install(&t, local, foreign, &jc);
		if (rc != -EAGAIN && !(rc == 0 && t.e.overflow))
			break;
		if (cap >= room) {
			rc = -ENOSPC;
			break;
		}
		cap *= 2;
		rc = 0;
	}
	tr_free(&t);
	if (rc)
		return rc;
	jc->next = j->codes;
	j->codes = jc;
	j->byaddr[j->nbyaddr++] = jc; /* addresses only grow: stays sorted */
	f->jit = jc;
	f->jit_local = jc->local;
	f->jit_foreign = jc->foreign;
	return 0;
}

#endif
