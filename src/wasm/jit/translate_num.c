/*
 * Numeric ops inline: integer arithmetic, compares, division (with the interpreter's
 * checks in its order: zero divisor first, then overflow), bit counts (with LZCNT, TZCNT,
 * POPCNT when the host has them), sign and zero extension, float arithmetic and compares
 * on SSE (the x86 operand order the interpreter's C gets too: a op b keeps a's NaN
 * payload), rounding with SSE4.1, float sign ops on the bits, conversions that SSE does
 * exactly, the integer superinstructions of fused.def, and the v128 ops that are one SSE
 * instruction (bitwise, integer add/sub/mul/eq, float add/sub/mul/div). Everything else
 * returns false and runs as the interpreter's own expression (helpers.c).
 */
#include "wasm/jit/tr.h"

#if WASM_JIT_SUPPORTED

#include <stddef.h>

#define NO_SLOT UINT32_MAX

enum ibin {
	IB_ADD,
	IB_SUB,
	IB_MUL,
	IB_AND,
	IB_OR,
	IB_XOR,
	IB_SHL,
	IB_SHR_S,
	IB_SHR_U,
	IB_ROTL,
	IB_ROTR
};

static bool ibin_of(unsigned base, enum ibin *k, bool *w)
{
	static const struct {
		uint16_t op32, op64;
		uint8_t k;
	} map[] = {
		{WASM_OP_I32_ADD, WASM_OP_I64_ADD, IB_ADD},
		{WASM_OP_I32_SUB, WASM_OP_I64_SUB, IB_SUB},
		{WASM_OP_I32_MUL, WASM_OP_I64_MUL, IB_MUL},
		{WASM_OP_I32_AND, WASM_OP_I64_AND, IB_AND},
		{WASM_OP_I32_OR, WASM_OP_I64_OR, IB_OR},
		{WASM_OP_I32_XOR, WASM_OP_I64_XOR, IB_XOR},
		{WASM_OP_I32_SHL, WASM_OP_I64_SHL, IB_SHL},
		{WASM_OP_I32_SHR_S, WASM_OP_I64_SHR_S, IB_SHR_S},
		{WASM_OP_I32_SHR_U, WASM_OP_I64_SHR_U, IB_SHR_U},
		{WASM_OP_I32_ROTL, WASM_OP_I64_ROTL, IB_ROTL},
		{WASM_OP_I32_ROTR, WASM_OP_I64_ROTR, IB_ROTR},
	};

	for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (map[i].op32 == base || map[i].op64 == base) {
			*k = (enum ibin)map[i].k;
			*w = map[i].op64 == base;
			return true;
		}
	}
	return false;
}

static bool commutes(enum ibin k)
{
	return k == IB_ADD || k == IB_MUL || k == IB_AND || k == IB_OR || k == IB_XOR;
}

static enum x86_shift shift_of(enum ibin k)
{
	switch (k) {
	case IB_SHL:
		return X86_SHL;
	case IB_SHR_S:
		return X86_SAR;
	case IB_SHR_U:
		return X86_SHR;
	case IB_ROTL:
		return X86_ROL;
	default:
		return X86_ROR;
	}
}

static enum x86_alu alu_of(enum ibin k)
{
	switch (k) {
	case IB_ADD:
		return X86_ADD;
	case IB_SUB:
		return X86_SUB;
	case IB_AND:
		return X86_AND;
	case IB_OR:
		return X86_OR;
	default:
		return X86_XOR;
	}
}

/* r = r k b, b an operand (register or memory) */
static void apply(struct tr *t, bool w, enum ibin k, int r, struct x86_rm b)
{
	if (k == IB_MUL)
		x86_imul(&t->e, w, r, b);
	else
		x86_alu(&t->e, w, alu_of(k), r, b);
}

/* r = r k imm */
static void apply_imm(struct tr *t, bool w, enum ibin k, int r, uint64_t imm)
{
	if (k >= IB_SHL) {
		x86_shift_imm(&t->e, w, shift_of(k), x86_r(r), (unsigned)(imm & (w ? 63 : 31)));
	} else if (w && !x86_fits32((int64_t)imm)) {
		x86_mov_imm(&t->e, X86_RDX, imm);
		apply(t, w, k, r, x86_r(X86_RDX));
	} else if (k == IB_MUL) {
		x86_imul_imm(&t->e, w, r, x86_r(r), (int32_t)imm);
	} else {
		x86_alu_imm(&t->e, w, alu_of(k), x86_r(r), (int32_t)imm);
	}
}

/* rotates by an immediate: rorx (BMI2) into r from any operand, else a move and rol/ror
 * in r. Returns false when the host has no rorx. */
static bool rotate_imm(struct tr *t, bool w, enum ibin k, int r, struct x86_rm a, uint64_t n)
{
	unsigned bits = w ? 64 : 32;

	if (!t->j->bmi2)
		return false;
	n &= bits - 1;
	x86_rorx(&t->e, w, r, a, k == IB_ROTL ? (unsigned)(bits - n) : (unsigned)n);
	return true;
}

/* d = a k b (b a slot, or the immediate imm when bslot is NO_SLOT) */
static void ibin(struct tr *t, bool w, enum ibin k, uint32_t d, uint32_t a, uint32_t bslot,
		 uint64_t imm)
{
	int rd = tr_reg(t, d), r;

	if (k >= IB_SHL && bslot != NO_SLOT) {
		/* the count goes to cl first: it may live in d's register */
		tr_get(t, false, X86_RCX, bslot);
		r = rd >= 0 ? rd : X86_RAX;
		tr_get(t, w, r, a);
		x86_shift_cl(&t->e, w, shift_of(k), x86_r(r));
		tr_put(t, w, d, r);
		if (!w)
			tr_zext_result(t, d);
		return;
	}
	if (bslot == NO_SLOT && (k == IB_ROTL || k == IB_ROTR) && t->j->bmi2) {
		r = rd >= 0 ? rd : X86_RAX;
		rotate_imm(t, w, k, r, tr_slot(t, a), imm);
		tr_put(t, w, d, r);
		return;
	}
	if (bslot == NO_SLOT && k == IB_MUL && (!w || x86_fits32((int64_t)imm))) {
		r = rd >= 0 ? rd : X86_RAX;
		x86_imul_imm(&t->e, w, r, tr_slot(t, a), (int32_t)imm);
		tr_put(t, w, d, r);
		if (!w)
			tr_zext_result(t, d);
		return;
	}
	if (bslot == NO_SLOT && k == IB_ADD && rd >= 0 && tr_reg(t, a) >= 0 && tr_reg(t, a) != rd &&
	    (!w || x86_fits32((int64_t)imm))) {
		/* d = a + imm between two registers: one lea (32-bit: the sum mod 2^32,
		 * zero-extended; 64-bit: imm is its sign-extended low half). No flags are
		 * read after an ibin. */
		x86_lea(&t->e, w, rd, x86_m(tr_reg(t, a), (int32_t)imm));
		tr_put(t, w, d, rd);
		if (!w)
			tr_zext_result(t, d);
		return;
	}
	if (bslot != NO_SLOT && rd >= 0 && bslot == d && a != d) {
		if (commutes(k)) { /* d = a k d, in place */
			apply(t, w, k, rd, tr_slot(t, a));
			t->dirty |= 1u << t->sreg[d];
			if (!w)
				tr_zext_result(t, d);
			return;
		}
		rd = -1;
	}
	r = rd >= 0 ? rd : X86_RAX;
	tr_get(t, w, r, a);
	if (bslot == NO_SLOT)
		apply_imm(t, w, k, r, imm);
	else
		apply(t, w, k, r, tr_slot(t, bslot));
	tr_put(t, w, d, r);
	if (!w)
		tr_zext_result(t, d);
}

static uint64_t imm_at(const uint32_t *p, bool w)
{
	return w ? (uint64_t)p[0] | (uint64_t)p[1] << 32 : p[0];
}

/* ----- division: the interpreter's checks, then idiv/div ----- */

static bool emit_div(struct tr *t, uint32_t pc, unsigned op)
{
	const uint32_t *p = t->ops + pc;
	bool w = op == WASM_OP_I64_DIV_S || op == WASM_OP_I64_DIV_U || op == WASM_OP_I64_REM_S ||
		 op == WASM_OP_I64_REM_U;
	bool sgn = op == WASM_OP_I32_DIV_S || op == WASM_OP_I64_DIV_S || op == WASM_OP_I32_REM_S ||
		   op == WASM_OP_I64_REM_S;
	bool rem = op == WASM_OP_I32_REM_S || op == WASM_OP_I64_REM_S || op == WASM_OP_I32_REM_U ||
		   op == WASM_OP_I64_REM_U;
	uint8_t *normal = NULL, *done = NULL;

	tr_get(t, w, X86_RCX, p[3]);
	x86_test(&t->e, w, x86_r(X86_RCX), X86_RCX);
	tr_trap_if(t, X86_CC_E, WASM_TRAP_DIV_ZERO, pc);
	tr_get(t, w, X86_RAX, p[2]);
	if (sgn) {
		x86_alu_imm(&t->e, w, X86_CMP, x86_r(X86_RCX), -1);
		normal = x86_jcc_fwd(&t->e, X86_CC_NE);
		if (rem) { /* x % -1 is 0 (idiv would fault on the minimum) */
			x86_alu(&t->e, false, X86_XOR, X86_RDX, x86_r(X86_RDX));
			done = x86_jmp_fwd(&t->e);
		} else {
			if (w)
				x86_mov_imm(&t->e, X86_RDX, 0x8000000000000000ull);
			else
				x86_mov_imm(&t->e, X86_RDX, 0x80000000u);
			x86_alu(&t->e, w, X86_CMP, X86_RAX, x86_r(X86_RDX));
			tr_trap_if(t, X86_CC_E, WASM_TRAP_INT_OVERFLOW, pc);
		}
		x86_patch(&t->e, normal, x86_here(&t->e));
		x86_cdq(&t->e, w);
		x86_grp3(&t->e, w, 7, x86_r(X86_RCX));
	} else {
		x86_alu(&t->e, false, X86_XOR, X86_RDX, x86_r(X86_RDX));
		x86_grp3(&t->e, w, 6, x86_r(X86_RCX));
	}
	if (done)
		x86_patch(&t->e, done, x86_here(&t->e));
	tr_put(t, w, p[1], rem ? X86_RDX : X86_RAX);
	return true;
}

/* ----- one-operand integer and bit ops ----- */

static bool emit_int_un(struct tr *t, uint32_t pc, unsigned op)
{
	const uint32_t *p = t->ops + pc;
	uint32_t d = p[1], a = p[2];
	int rd = tr_reg(t, d), r = rd >= 0 ? rd : X86_RAX;
	struct x86_rm ma;
	bool w64 = false;

	switch (op) { /* the reinterpretations may have an xmm operand: tr_get, tr_put */
	case WASM_OP_I32_REINTERPRET_F32:
	case WASM_OP_F32_REINTERPRET_I32:
	case WASM_OP_I64_REINTERPRET_F64:
	case WASM_OP_F64_REINTERPRET_I64:
		w64 = op == WASM_OP_I64_REINTERPRET_F64 || op == WASM_OP_F64_REINTERPRET_I64;
		tr_get(t, w64, r, a);
		tr_put(t, w64, d, r);
		return true;
	case WASM_OP_I32_EQZ:
	case WASM_OP_I64_EQZ:
	case WASM_OP_I32_CLZ:
	case WASM_OP_I32_CTZ:
	case WASM_OP_I32_POPCNT:
	case WASM_OP_I64_CLZ:
	case WASM_OP_I64_CTZ:
	case WASM_OP_I64_POPCNT:
	case WASM_OP_I32_WRAP_I64:
	case WASM_OP_I64_EXTEND_I32_U:
	case WASM_OP_I64_EXTEND_I32_S:
	case WASM_OP_I64_EXTEND32_S:
	case WASM_OP_I32_EXTEND8_S:
	case WASM_OP_I32_EXTEND16_S:
	case WASM_OP_I64_EXTEND8_S:
	case WASM_OP_I64_EXTEND16_S:
		ma = tr_slot(t, a);
		break;
	default:
		return false;
	}
	switch (op) {
	case WASM_OP_I32_EQZ:
	case WASM_OP_I64_EQZ:
		x86_alu(&t->e, false, X86_XOR, X86_RAX, x86_r(X86_RAX));
		x86_alu_imm(&t->e, op == WASM_OP_I64_EQZ, X86_CMP, ma, 0);
		x86_setcc(&t->e, X86_CC_E, X86_RAX);
		tr_put(t, false, d, X86_RAX);
		return true;
	case WASM_OP_I64_CLZ:
	case WASM_OP_I64_CTZ:
	case WASM_OP_I64_POPCNT:
		w64 = true;
		/* fall through */
	case WASM_OP_I32_CLZ:
	case WASM_OP_I32_CTZ:
	case WASM_OP_I32_POPCNT: {
		bool clz = op == WASM_OP_I32_CLZ || op == WASM_OP_I64_CLZ;
		bool ctz = op == WASM_OP_I32_CTZ || op == WASM_OP_I64_CTZ;
		if ((clz && !t->j->lzcnt) || (ctz && !t->j->tzcnt) ||
		    (!clz && !ctz && !t->j->popcnt))
			return false;
		x86_bitcount(&t->e, w64, clz ? 0xbd : ctz ? 0xbc : 0xb8, r, ma);
		tr_put(t, w64, d, r);
		return true;
	}
	case WASM_OP_I32_WRAP_I64:
		tr_get(t, false, r, a);
		tr_put(t, false, d, r);
		return true;
	case WASM_OP_I64_EXTEND_I32_U:
		x86_mov(&t->e, false, r, ma);
		tr_put(t, true, d, r);
		return true;
	case WASM_OP_I64_EXTEND_I32_S:
	case WASM_OP_I64_EXTEND32_S:
		x86_movsxd(&t->e, r, ma);
		tr_put(t, true, d, r);
		return true;
	case WASM_OP_I32_EXTEND8_S:
	case WASM_OP_I32_EXTEND16_S:
		x86_movsx(&t->e, false, r, ma, op == WASM_OP_I32_EXTEND8_S ? 8 : 16);
		tr_put(t, false, d, r);
		return true;
	case WASM_OP_I64_EXTEND8_S:
	case WASM_OP_I64_EXTEND16_S:
		x86_movsx(&t->e, true, r, ma, op == WASM_OP_I64_EXTEND8_S ? 8 : 16);
		tr_put(t, true, d, r);
		return true;
	default:
		return false;
	}
}

/* ----- floats ----- */

/* f32/f64 ops on the bits: abs, neg, copysign */
static bool emit_fbits(struct tr *t, uint32_t pc, unsigned op)
{
	const uint32_t *p = t->ops + pc;
	uint32_t d = p[1];
	int rd = tr_reg(t, d), r = rd >= 0 && tr_reg(t, p[2]) != rd ? rd : X86_RAX;

	switch (op) {
	case WASM_OP_F32_ABS:
		tr_get(t, false, r, p[2]);
		x86_alu_imm(&t->e, false, X86_AND, x86_r(r), 0x7fffffff);
		tr_put(t, false, d, r);
		return true;
	case WASM_OP_F32_NEG:
		tr_get(t, false, r, p[2]);
		x86_alu_imm(&t->e, false, X86_XOR, x86_r(r), (int32_t)0x80000000u);
		tr_put(t, false, d, r);
		return true;
	case WASM_OP_F64_ABS:
		tr_get(t, true, r, p[2]);
		x86_insn(&t->e, 0, true, 0x0fba, 6, x86_r(r), false); /* btr r, 63 */
		x86_e8(&t->e, 63);
		tr_put(t, true, d, r);
		return true;
	case WASM_OP_F64_NEG:
		tr_get(t, true, r, p[2]);
		x86_insn(&t->e, 0, true, 0x0fba, 7, x86_r(r), false); /* btc r, 63 */
		x86_e8(&t->e, 63);
		tr_put(t, true, d, r);
		return true;
	case WASM_OP_F32_COPYSIGN:
		tr_get(t, false, X86_RAX, p[2]);
		x86_alu_imm(&t->e, false, X86_AND, x86_r(X86_RAX), 0x7fffffff);
		tr_get(t, false, X86_RCX, p[3]);
		x86_alu_imm(&t->e, false, X86_AND, x86_r(X86_RCX), (int32_t)0x80000000u);
		x86_alu(&t->e, false, X86_OR, X86_RAX, x86_r(X86_RCX));
		tr_put(t, false, d, X86_RAX);
		return true;
	case WASM_OP_F64_COPYSIGN:
		tr_get(t, true, X86_RAX, p[2]);
		x86_insn(&t->e, 0, true, 0x0fba, 6, x86_r(X86_RAX), false); /* btr rax, 63 */
		x86_e8(&t->e, 63);
		tr_get(t, true, X86_RCX, p[3]);
		x86_shift_imm(&t->e, true, X86_SHR, x86_r(X86_RCX), 63);
		x86_shift_imm(&t->e, true, X86_SHL, x86_r(X86_RCX), 63);
		x86_alu(&t->e, true, X86_OR, X86_RAX, x86_r(X86_RCX));
		tr_put(t, true, d, X86_RAX);
		return true;
	default:
		return false;
	}
}

/* the SSE opcode (second byte) of a float BIN, or 0 */
static unsigned fbin_opc(unsigned op)
{
	switch (op) {
	case WASM_OP_F32_ADD:
	case WASM_OP_F64_ADD:
		return 0x58;
	case WASM_OP_F32_SUB:
	case WASM_OP_F64_SUB:
		return 0x5c;
	case WASM_OP_F32_MUL:
	case WASM_OP_F64_MUL:
		return 0x59;
	case WASM_OP_F32_DIV:
	case WASM_OP_F64_DIV:
		return 0x5e;
	default:
		return 0;
	}
}

/* float compares: ucomis sets CF/ZF/PF; an unordered (NaN) result sets all three */
static bool emit_fcmp(struct tr *t, uint32_t pc, unsigned op)
{
	const uint32_t *p = t->ops + pc;
	bool dbl = op >= WASM_OP_F64_EQ && op <= WASM_OP_F64_GE;
	unsigned k = op - (dbl ? WASM_OP_F64_EQ : WASM_OP_F32_EQ); /* eq ne lt gt le ge */
	uint32_t a = p[2], b = p[3];

	if (k == 2 || k == 4) { /* a < b is b > a: compare b with a */
		uint32_t x = a;
		a = b;
		b = x;
	}
	x86_alu(&t->e, false, X86_XOR, X86_RAX, x86_r(X86_RAX));
	tr_get_xmm(t, dbl, 0, a);
	x86_ucomis(&t->e, dbl, 0, tr_xmm_rm(t, dbl, b, 1));
	switch (k) {
	case 0: /* equal and ordered */
		x86_setcc(&t->e, X86_CC_E, X86_RAX);
		x86_setcc(&t->e, X86_CC_NP, X86_RCX);
		x86_alu(&t->e, false, X86_AND, X86_RAX, x86_r(X86_RCX));
		x86_movzx(&t->e, false, X86_RAX, x86_r(X86_RAX), 8);
		break;
	case 1: /* not equal, or unordered */
		x86_setcc(&t->e, X86_CC_NE, X86_RAX);
		x86_setcc(&t->e, X86_CC_P, X86_RCX);
		x86_alu(&t->e, false, X86_OR, X86_RAX, x86_r(X86_RCX));
		x86_movzx(&t->e, false, X86_RAX, x86_r(X86_RAX), 8);
		break;
	case 2:
	case 3:
		x86_setcc(&t->e, X86_CC_A, X86_RAX);
		break;
	default:
		x86_setcc(&t->e, X86_CC_AE, X86_RAX);
		break;
	}
	tr_put(t, false, p[1], X86_RAX);
	return true;
}

/* The register to compute the float result for slot d in: its xmm cache register, unless
 * that holds operand b, which the computation reads after writing the first operand. */
static int fdst(const struct tr *t, uint32_t d, uint32_t a, uint32_t b)
{
	int xd = tr_xreg(t, d);

	return xd >= 0 && (b == UINT32_MAX || b == a || tr_xreg(t, b) != xd) ? xd : 0;
}

static bool emit_float(struct tr *t, uint32_t pc, unsigned op)
{
	const uint32_t *p = t->ops + pc;
	unsigned opc = fbin_opc(op);
	bool dbl;
	int r = fdst(t, p[1], p[2], UINT32_MAX);

	if (opc) {
		dbl = op >= WASM_OP_F64_ADD;
		r = fdst(t, p[1], p[2], p[3]);
		tr_get_xmm(t, dbl, r, p[2]);
		x86_sse(&t->e, dbl, opc, false, r, tr_xmm_rm(t, dbl, p[3], 1));
		tr_put_xmm(t, dbl, p[1], r);
		return true;
	}
	switch (op) {
	case WASM_OP_F32_EQ:
	case WASM_OP_F32_NE:
	case WASM_OP_F32_LT:
	case WASM_OP_F32_GT:
	case WASM_OP_F32_LE:
	case WASM_OP_F32_GE:
	case WASM_OP_F64_EQ:
	case WASM_OP_F64_NE:
	case WASM_OP_F64_LT:
	case WASM_OP_F64_GT:
	case WASM_OP_F64_LE:
	case WASM_OP_F64_GE:
		return emit_fcmp(t, pc, op);
	case WASM_OP_F32_SQRT:
	case WASM_OP_F64_SQRT:
		dbl = op == WASM_OP_F64_SQRT;
		x86_sse(&t->e, dbl, 0x51, false, r, tr_xmm_rm(t, dbl, p[2], 1));
		tr_put_xmm(t, dbl, p[1], r);
		return true;
	case WASM_OP_F32_CEIL:
	case WASM_OP_F32_FLOOR:
	case WASM_OP_F32_TRUNC:
	case WASM_OP_F32_NEAREST:
	case WASM_OP_F64_CEIL:
	case WASM_OP_F64_FLOOR:
	case WASM_OP_F64_TRUNC:
	case WASM_OP_F64_NEAREST: {
		/* roundss quiets a signalling NaN keeping its payload, as a + a does */
		unsigned mode;
		if (!t->j->sse41)
			return false;
		dbl = op >= WASM_OP_F64_CEIL;
		switch (op) {
		case WASM_OP_F32_CEIL:
		case WASM_OP_F64_CEIL:
			mode = 2;
			break;
		case WASM_OP_F32_FLOOR:
		case WASM_OP_F64_FLOOR:
			mode = 1;
			break;
		case WASM_OP_F32_TRUNC:
		case WASM_OP_F64_TRUNC:
			mode = 3;
			break;
		default:
			mode = 0;
			break;
		}
		x86_round(&t->e, dbl, r, tr_xmm_rm(t, dbl, p[2], 1), mode | 8);
		tr_put_xmm(t, dbl, p[1], r);
		return true;
	}
	case WASM_OP_F32_CONVERT_I32_S:
	case WASM_OP_F64_CONVERT_I32_S:
	case WASM_OP_F32_CONVERT_I64_S:
	case WASM_OP_F64_CONVERT_I64_S:
	case WASM_OP_F32_CONVERT_I32_U:
	case WASM_OP_F64_CONVERT_I32_U: {
		bool from64 = op == WASM_OP_F32_CONVERT_I64_S || op == WASM_OP_F64_CONVERT_I64_S;
		struct x86_rm src = tr_slot(t, p[2]);
		dbl = op == WASM_OP_F64_CONVERT_I32_S || op == WASM_OP_F64_CONVERT_I64_S ||
		      op == WASM_OP_F64_CONVERT_I32_U;
		if (op == WASM_OP_F32_CONVERT_I32_U || op == WASM_OP_F64_CONVERT_I32_U) {
			/* a u32 is exact as an i64 */
			x86_mov(&t->e, false, X86_RAX, src);
			src = x86_r(X86_RAX);
			from64 = true;
		}
		x86_sse_packed(&t->e, 0, 0x0f57, r, x86_r(r)); /* xorps: no false dependency */
		x86_sse(&t->e, dbl, 0x2a, from64, r, src);
		tr_put_xmm(t, dbl, p[1], r);
		return true;
	}
	case WASM_OP_F32_DEMOTE_F64:
		x86_sse(&t->e, true, 0x5a, false, r, tr_xmm_rm(t, true, p[2], 1));
		tr_put_xmm(t, false, p[1], r);
		return true;
	case WASM_OP_F64_PROMOTE_F32:
		x86_sse(&t->e, false, 0x5a, false, r, tr_xmm_rm(t, false, p[2], 1));
		tr_put_xmm(t, true, p[1], r);
		return true;
	default:
		return emit_fbits(t, pc, op);
	}
}

/* ----- superinstructions ----- */

/* rcx = x k (y or imm), an inner op of fused.def */
static bool inner(struct tr *t, unsigned in, uint32_t x, uint32_t yslot, uint64_t imm)
{
	enum ibin k;
	bool w;

	if (in == WASM_OP_I32_LT_U || in == WASM_OP_I32_GE_U) {
		tr_get(t, false, X86_RDX, x);
		x86_alu(&t->e, false, X86_CMP, X86_RDX, tr_slot(t, yslot));
		x86_setcc(&t->e, in == WASM_OP_I32_LT_U ? X86_CC_B : X86_CC_AE, X86_RCX);
		x86_movzx(&t->e, false, X86_RCX, x86_r(X86_RCX), 8);
		return true;
	}
	if (!ibin_of(in, &k, &w))
		return false;
	if (yslot == NO_SLOT && (k == IB_ROTL || k == IB_ROTR) &&
	    rotate_imm(t, w, k, X86_RCX, tr_slot(t, x), imm))
		return true;
	tr_get(t, w, X86_RCX, x);
	if (yslot == NO_SLOT) {
		if (k >= IB_SHL)
			x86_shift_imm(&t->e, w, shift_of(k), x86_r(X86_RCX),
				      (unsigned)(imm & (w ? 63 : 31)));
		else
			apply_imm(t, w, k, X86_RCX, imm);
	} else {
		apply(t, w, k, X86_RCX, tr_slot(t, yslot));
	}
	return true;
}

static bool emit_fused(struct tr *t, uint32_t pc, unsigned op)
{
	const struct jop *jo = &wasm_jit_ops[op];
	const uint32_t *p = t->ops + pc;
	bool w = jo->ta == WASM_I64;
	int rd = tr_reg(t, p[1]), r;
	enum ibin k;
	bool w2;

	if (!ibin_of(jo->base, &k, &w2))
		return false;
	if (jo->kind == J_FUSE_IMM) {
		if (!inner(t, jo->in, p[3], NO_SLOT, imm_at(p + 4, w)))
			return false;
	} else if (!inner(t, jo->in, p[3], p[4], 0)) {
		return false;
	}
	r = rd >= 0 ? rd : X86_RAX;
	tr_get(t, w, r, p[2]);
	apply(t, w, k, r, x86_r(X86_RCX));
	tr_put(t, w, p[1], r);
	return true;
}

/* v128 ops that are one SSE instruction (legacy encoding: operands loaded with movdqu, as
 * frame slots are only 8-byte aligned). The float ones follow the same NaN rule as the
 * scalar ones (a's payload first), which the fallbacks (simd.h fadd32x4 etc.) name. */
static bool emit_simd(struct tr *t, uint32_t pc, unsigned op)
{
	static const struct {
		uint16_t op;
		uint16_t prefix;
		uint32_t opc;
		bool swap; /* the instruction computes b op a (pandn: ~dst & src) */
	} map[] = {
		{WASM_OP_V128_AND, 0x66, 0x0fdb, false},
		{WASM_OP_V128_OR, 0x66, 0x0feb, false},
		{WASM_OP_V128_XOR, 0x66, 0x0fef, false},
		{WASM_OP_V128_ANDNOT, 0x66, 0x0fdf, true},
		{WASM_OP_I8X16_ADD, 0x66, 0x0ffc, false},
		{WASM_OP_I16X8_ADD, 0x66, 0x0ffd, false},
		{WASM_OP_I32X4_ADD, 0x66, 0x0ffe, false},
		{WASM_OP_I64X2_ADD, 0x66, 0x0fd4, false},
		{WASM_OP_I8X16_SUB, 0x66, 0x0ff8, false},
		{WASM_OP_I16X8_SUB, 0x66, 0x0ff9, false},
		{WASM_OP_I32X4_SUB, 0x66, 0x0ffa, false},
		{WASM_OP_I64X2_SUB, 0x66, 0x0ffb, false},
		{WASM_OP_I16X8_MUL, 0x66, 0x0fd5, false},
		{WASM_OP_I32X4_MUL, 0x66, 0x0f3840, false},
		{WASM_OP_I8X16_EQ, 0x66, 0x0f74, false},
		{WASM_OP_I16X8_EQ, 0x66, 0x0f75, false},
		{WASM_OP_I32X4_EQ, 0x66, 0x0f76, false},
		{WASM_OP_F32X4_ADD, 0, 0x0f58, false},
		{WASM_OP_F32X4_SUB, 0, 0x0f5c, false},
		{WASM_OP_F32X4_MUL, 0, 0x0f59, false},
		{WASM_OP_F32X4_DIV, 0, 0x0f5e, false},
		{WASM_OP_F64X2_ADD, 0x66, 0x0f58, false},
		{WASM_OP_F64X2_SUB, 0x66, 0x0f5c, false},
		{WASM_OP_F64X2_MUL, 0x66, 0x0f59, false},
		{WASM_OP_F64X2_DIV, 0x66, 0x0f5e, false},
	};
	const uint32_t *p = t->ops + pc;

	for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (map[i].op != op)
			continue;
		if (op == WASM_OP_I32X4_MUL && !t->j->sse41)
			return false;
		x86_movdqu_load(&t->e, 0, x86_m(R_FP, (int32_t)(p[map[i].swap ? 3 : 2] * 8)));
		x86_movdqu_load(&t->e, 1, x86_m(R_FP, (int32_t)(p[map[i].swap ? 2 : 3] * 8)));
		x86_sse_packed(&t->e, map[i].prefix, map[i].opc, 0, x86_r(1));
		x86_movdqu_store(&t->e, x86_m(R_FP, (int32_t)(p[1] * 8)), 0);
		return true;
	}
	return false;
}

bool tr_numeric(struct tr *t, uint32_t pc, unsigned op)
{
	const struct jop *jo = &wasm_jit_ops[op];
	const uint32_t *p = t->ops + pc;
	enum ibin k;
	bool w;

	switch (jo->kind) {
	case J_IBIN:
		if (!ibin_of(op, &k, &w))
			return false;
		ibin(t, w, k, p[1], p[2], p[3], 0);
		return true;
	case J_IBIN_I:
		if (!ibin_of(jo->base, &k, &w))
			return false;
		ibin(t, w, k, p[1], p[2], NO_SLOT, imm_at(p + 3, w));
		return true;
	case J_ICMP:
	case J_ICMP_I:
		x86_alu(&t->e, false, X86_XOR, X86_RAX, x86_r(X86_RAX));
		tr_cmp(t, pc, op, p[2], 3);
		x86_setcc(&t->e, tr_icmp_cc(jo->base), X86_RAX);
		tr_put(t, false, p[1], X86_RAX);
		tr_zext_result(t, p[1]);
		return true;
	case J_TBIN:
		return emit_div(t, pc, op);
	case J_UN:
		if (jo->ta == WASM_V128 || jo->to == WASM_V128)
			return false;
		if (emit_int_un(t, pc, op))
			return true;
		return emit_float(t, pc, op);
	case J_BIN:
		if (jo->ta == WASM_V128)
			return jo->tb == WASM_V128 && emit_simd(t, pc, op);
		return emit_float(t, pc, op);
	case J_FUSE_IMM:
	case J_FUSE_BIN:
		return emit_fused(t, pc, op);
	case J_XOP:
		if (op == WASM_OP_I32_ROTL_XOR_ROTL && t->j->bmi2) { /* [d x k1 y k2] */
			int rd = tr_reg(t, p[1]), r = rd >= 0 ? rd : X86_RAX;
			rotate_imm(t, false, IB_ROTL, X86_RCX, tr_slot(t, p[4]), p[5]);
			rotate_imm(t, false, IB_ROTL, r, tr_slot(t, p[2]), p[3]);
			x86_alu(&t->e, false, X86_XOR, r, x86_r(X86_RCX));
			tr_put(t, false, p[1], r);
			return true;
		}
		if (op == WASM_OP_I32_ROTL_XOR_ROTL) { /* [d x k1 y k2] */
			tr_get(t, false, X86_RAX, p[2]);
			x86_shift_imm(&t->e, false, X86_ROL, x86_r(X86_RAX), p[3] & 31);
			tr_get(t, false, X86_RCX, p[4]);
			x86_shift_imm(&t->e, false, X86_ROL, x86_r(X86_RCX), p[5] & 31);
			x86_alu(&t->e, false, X86_XOR, X86_RAX, x86_r(X86_RCX));
			tr_put(t, false, p[1], X86_RAX);
			return true;
		}
		if (op == WASM_OP_I32_ADD_I2) { /* [d1 a1 imm1 x d2 a2 imm2] */
			ibin(t, false, IB_ADD, p[1], p[2], NO_SLOT, p[3]);
			ibin(t, false, IB_ADD, p[5], p[6], NO_SLOT, p[7]);
			return true;
		}
		return false;
	default:
		return false;
	}
}

#endif
