/*
 * The JIT's x86-64 translator: one decoded block (cpu/block.h) becomes one stretch of host
 * code. Covered: RV64I integer operations, loads and stores, branches, jumps, M, and the F/D
 * loads, stores and arithmetic (double add/sub/mul/div/sqrt/fma to nearest-even inline,
 * the rest through fpu_exec). Any other operation ends the translated part and hands over
 * to the interpreter at that operation.
 *
 * Host registers while translated code runs:
 *   rbp  the hart (guest registers at rbp + offsetof(struct hart, x))
 *   r12  the retired-instruction count (the interpreter's local `icount`)
 *   rax, rcx, rdx, xmm0, xmm1  scratch
 *   rbx, r13, r14, r15, rsi, rdi  guest registers a0..a5 (x10..x15), global: loaded by the
 *        entry stub, kept across chained blocks, stored by the exit stub (so every return
 *        to the dispatcher or the interpreter finds them in memory)
 *   r8..r11  other guest registers cached for the block: the most used ones are loaded at
 *        block entry and written back (when changed) before the block is left; a block
 *        looping onto itself keeps them across iterations.
 *        Slow-path stubs save and restore rsi..r11 around their C calls.
 *
 * A conditional branch before a block's last op (a side exit, cpu/block.h SIDE_EXITS) jumps
 * out of line when taken (write back, un-count the ops after it, chain); the fall-through
 * path goes on in line. When its target is a later op of the same block (an if without
 * else), the taken path jumps there in line instead, un-counting the ops it skips.
 * A block-cached register whose first use in the block is a write that always runs is
 * not loaded at entry.
 *
 * Loads and stores check the software TLB inline (the same tag test as the interpreter)
 * and call a shared stub on a miss (mmu_load/mmu_store through jit_*_slow). A block
 * translated in M-mode while data accesses are untranslated (the bare regime: no MPRV)
 * reads RAM with a bounds check instead of the TLB test, behind a guard at its
 * entry that hands the block to the interpreter in any other regime (load_fast). A
 * stub is also called after a store while the dirty log is on (mmu_store_hook): the
 * write TLB never maps a page that holds decoded code or a watched word, so stores need
 * no test of the page's flags otherwise. A block ends by chaining: it polls when due (icount
 * against h->poll_at), else goes to the next block's code: by a direct jump once linked (chain_to),
 * which holds only while h->link_epoch is what it was when the jump was made; else by a lookup in
 * the same pc -> block table the interpreter uses (inline at each exit, so the host predicts each
 * jump by its own address), or back to the dispatcher through a shared stub. Every flush of that
 * table (fence.i, sfence.vma, satp, stores to code) bumps the epoch, so dropping the table entries
 * is still all invalidation needs.
 */
#include "cpu/jit/arch.h"

#if JIT_ARCH_SUPPORTED

#include <cpuid.h>
#include <stddef.h>
#include <string.h>

#include "cpu/arith.h"
#include "cpu/atomics.h"
#include "cpu/block.h"
#include "cpu/csr.h"
#include "core/gmem.h"
#include "cpu/decode.h"
#include "cpu/env.h"
#include "cpu/exec.h"
#include "cpu/fpu.h"
#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "cpu/trap.h"
#include "jit/x86.h"

/* Host registers: short names for enum x86_reg (the same numbers). */
enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

#define SINK	 32		       /* the interpreter's x0 write sink */
#define COLD_MAX (3 * (BLOCK_MAX + 1)) /* at most 3 a op: F store, inline F arithmetic */

/* Guest registers a0..a5 (x10..x15), the most used ones in compiled code, live in fixed
 * host registers for as long as translated code runs: loaded by the entry stub, stored by
 * the exit stub, kept across chained blocks. */
#define GLOBAL_FIRST 10
#define NGLOBAL	     6
#define GLOBAL_MASK  (((1ull << NGLOBAL) - 1) << GLOBAL_FIRST)
static const uint8_t global_regs[NGLOBAL] = {RBX, R13, R14, R15, RSI, RDI};
/* The other guest registers a block uses most are cached in these for the block. */
#define NCACHE 4
static const uint8_t cache_regs[NCACHE] = {R8, R9, R10, R11};

_Static_assert(sizeof(struct tlb_entry) == 16, "the inline TLB lookup scales by 16");
_Static_assert(offsetof(struct hart, tlb[0][TLB_W]) - offsetof(struct hart, tlb[0][TLB_R]) ==
		       TLB_SIZE * 16,
	       "a regime's write TLB follows its read TLB (tlb_fast's fixed offsets)");
_Static_assert(TLB_MASK == 0xff, "the inline TLB lookup masks 8 index bits");

/* ---- translation state ---- */

/* Shared stubs at the start of each buffer (jit_arch_stubs), by index in j->stub[]. */
enum {
	STUB_ENTER,
	STUB_EXIT,
	STUB_LEAVE,		    /* back to the dispatcher, the next pc in rax */
	STUB_NEXT,		    /* exec_jit_next(h, rax), then there or STUB_LEAVE */
	STUB_LINK,		    /* jit_link(h, rcx, rdx), then jmp rdx */
	STUB_LOAD,		    /* slow load: rax va, ecx info, rdx pc */
	STUB_STORE,		    /* + log2 size: rax va, rcx value, rdx pc */
	STUB_HOOK = STUB_STORE + 4, /* + log2 size: store hook, rax host address */
	STUB_CALL2 = STUB_HOOK + 4, /* rax = fn(rcx, rdx), pure helpers */
	STUB_FPU,		    /* eax = jit_fpu(h, rax) */
	STUB_AMO,		    /* rax:rdx = jit_amo(h, rax, rcx, rdx) */
	STUB_CSR,		    /* rax:rdx = jit_csr(h, rax, rcx, rdx) */
	STUB_SYS,		    /* rax:rdx = jit_sys(h, rax, rcx, rdx) */
	STUB_TRAP,		    /* the exception is taken: exit with JIT_EXIT_TRAP */
	STUB_INTERP,		    /* the interpreter takes over: rax pc, rcx JIT_INFO */
	STUB_CHAIN,		    /* + key: an exit to a constant target (chain_to) */
	STUB_COUNT = STUB_CHAIN + JC_PRIVS
};
_Static_assert(STUB_COUNT <= JIT_STUBS, "struct jit has room for the stubs");

enum cold_kind { COLD_LOAD, COLD_STORE, COLD_HOOK, COLD_INTERP, COLD_FAULT, COLD_EXIT, COLD_GUARD };

struct cold {
	enum cold_kind kind;
	unsigned idx;	/* operation index */
	uint64_t dirty; /* guest registers to write back before leaving */
	uint8_t *jump;	/* the rel32 of the branch to this stub */
	uintptr_t back; /* where the stub returns */
	bool va_later;	/* a bare load's: va is not in rax, the stub computes it (load_fast) */
};

struct tr {
	struct x86_emit e;
	struct jit *j;
	const struct block *b;
	const struct block *home; /* where b's operations live as long as the code (op_addr) */
	bool uses_ops;		  /* the code names an operation (op_addr) */
	uintptr_t entry;	  /* block start: loads the cached registers */
	uintptr_t body;		  /* after the loads: where a block looping onto itself returns */
	bool loops;		  /* the block's last op branches to its start */
	bool bare;		  /* loads read RAM directly (bare_loads) behind a guard at entry */
	/* The data TLB's offset in the hart, fixed by the guard at entry (see regime_fixed),
	 * or -1: the inline TLB test reads h->dtlb / h->dtlb_w. */
	int32_t tlb_off;
	int8_t host[33]; /* host register caching each guest register, or -1 */
	uint64_t dirty;	 /* cached registers changed since loaded */
	/* Side exits whose target is a later op of the block jump there in line: inner[i]
	 * is that op's index for the branch at op i (else 0), joins[k] marks such a target,
	 * and fwd[i] / fwd_dirty[i] hold the branch's jump (to patch) and dirty set. */
	uint8_t inner[BLOCK_MAX + 1];
	bool joins[BLOCK_MAX + 1];
	uint8_t *fwd[BLOCK_MAX + 1];
	uint64_t fwd_dirty[BLOCK_MAX + 1];
	struct cold cold[COLD_MAX];
	unsigned ncold;
};

/* The address of operation o, for a helper the code calls: in t->home, the copy of the
 * block that lives as long as the code. */
static uint64_t op_addr(struct tr *t, const struct op *o)
{
	t->uses_ops = true;
	return (uint64_t)(uintptr_t)&t->home->ops[o - t->b->ops];
}

static struct x86_rm xmem(unsigned g)
{
	return x86_m(RBP, (int32_t)(offsetof(struct hart, x) + 8 * g));
}

static struct x86_rm fmem(unsigned g)
{
	return x86_m(RBP, (int32_t)(offsetof(struct hart, f) + 8 * g));
}

/* A guest register as an operand: its cache register or its memory slot (x0 reads as
 * the zero in memory). */
static struct x86_rm greg(const struct tr *t, unsigned g)
{
	return t->host[g] >= 0 ? x86_r(t->host[g]) : xmem(g);
}

static void get(struct tr *t, int dst, unsigned g)
{
	if (g == 0)
		x86_alu(&t->e, false, X86_XOR, dst, x86_r(dst));
	else
		x86_mov(&t->e, true, dst, greg(t, g));
}

/* Guest register rd = host register src (no-op for the x0 sink). */
static void put(struct tr *t, unsigned rd, int src)
{
	if (rd == 0 || rd == SINK)
		return;
	x86_mov_store(&t->e, true, greg(t, rd), src);
	if (t->host[rd] >= 0)
		t->dirty |= 1ull << rd;
}

/* Stores the block-cached registers in `dirty` (the global ones stay: the exit stub
 * stores them when translated code returns). */
static void writeback(struct tr *t, uint64_t dirty)
{
	dirty &= ~GLOBAL_MASK;
	for (unsigned g = 1; g < 32; g++)
		if (dirty & (1ull << g))
			x86_mov_store(&t->e, true, xmem(g), t->host[g]);
}

static void exit_with(struct x86_emit *e, const struct jit *j, enum jit_exit why)
{
	if (why == 0)
		x86_alu(e, false, X86_XOR, RAX, x86_r(RAX));
	else
		x86_mov_imm(e, RAX, (uint64_t)why);
	x86_jmp_to(e, j->stub[STUB_EXIT]);
}

/* The pc -> block table lookup (key `key`) of the next pc in rax, in two steps: the entry
 * into rdx (using rcx), then the checks, which jump to STUB_NEXT when the table has no
 * translated block for the pc, else leave its code in rdx and fall through. */
static void lookup_entry(struct x86_emit *e, const struct jit *j, unsigned key)
{
	x86_mov(e, true, RCX, x86_r(RAX));
	x86_shift_imm(e, true, X86_SHR, x86_r(RCX), 1);
	x86_alu_imm(e, false, X86_AND, x86_r(RCX), (1 << JC_BITS) - 1);
	x86_mov_imm(e, RDX, (uint64_t)(uintptr_t)&j->bc->jc[key][0]);
	x86_mov(e, true, RDX, x86_mi(RDX, RCX, 3, 0));
}

static void lookup_check(struct x86_emit *e, const struct jit *j)
{
	uint8_t *to_next[3];

	x86_test(e, true, x86_r(RDX), RDX);
	to_next[0] = x86_jcc_fwd(e, X86_CC_E);
	x86_alu(e, true, X86_CMP, RAX, x86_m(RDX, offsetof(struct block, vpc)));
	to_next[1] = x86_jcc_fwd(e, X86_CC_NE);
	x86_mov(e, true, RDX, x86_m(RDX, offsetof(struct block, jit)));
	x86_test(e, true, x86_r(RDX), RDX);
	to_next[2] = x86_jcc_fwd(e, X86_CC_E);
	for (unsigned i = 0; i < 3; i++) /* not in the table (yet), or not translated */
		x86_patch(e, to_next[i], j->stub[STUB_NEXT]);
}

/* Chains to the next block; every guest register but the global ones is in memory. The
 * next pc is the constant `target`, or (dynamic, jalr) already in rax.
 *
 * A constant target is reached by a direct jump once linked: the exit is
 *	cmp r12, [rbp + poll_at]
 *	jae slow			(rel8)
 *	cmp dword [rbp + link_epoch], EPOCH
 *	jne slow			(rel8)
 *	jmp TARGET			(at first: jmp slow)
 *   slow:
 *	lea rcx, [rip + data]
 *	jmp STUB_CHAIN + key
 *   data:
 *	dq target
 * The shared STUB_CHAIN leaves through STUB_LEAVE when a poll is due, else looks the
 * target up in the pc -> block table (lookup_entry, lookup_check) and, while h->link_budget allows,
 * has STUB_LINK (jit_link) write the current epoch and the target's code into the site
 * (LINK_SITE bytes from EPOCH, found CHAIN_TAIL bytes before the data) before it jumps
 * there. A flush of the table bumps h->link_epoch (exec.c), so every direct jump made
 * before it falls back to the lookup, which finds what the table now holds: the same
 * invalidation as for the lookups. The slow path lives in the stub because constant
 * exits are a third of all code and every byte of it counts against the code budget;
 * once linked they do not run it.
 *
 * A dynamic target is looked up in the table right here, so that the host predicts each
 * exit's jump by its own address; when it is not there or not translated, STUB_NEXT
 * looks it up in the hash table. A poll due leaves through STUB_LEAVE (rax the next pc). */
#define CHAIN_TAIL 12 /* lea rcx, [rip + data] (7 bytes), jmp rel32 (5) */
static void chain_to(struct tr *t, bool dynamic, uint64_t target)
{
	struct x86_emit *e = &t->e;

	x86_insn(e, 0, true, 0x3b, R12, x86_m(RBP, offsetof(struct hart, poll_at)), false);
	if (dynamic) {
		x86_jcc_to(e, X86_CC_AE, t->j->stub[STUB_LEAVE]);
		lookup_entry(e, t->j, t->b->priv);
		lookup_check(e, t->j);
		x86_insn(e, 0, false, 0xff, 4, x86_r(RDX), false); /* jmp rdx */
		return;
	}
	uint8_t *poll = x86_jcc8_fwd(e, X86_CC_AE);
	/* cmp dword [rbp + link_epoch], imm32 (an imm32 that does not fit 8 bits, so that
	 * the encoder emits the 4-byte form) */
	x86_alu_imm(e, false, X86_CMP, x86_m(RBP, offsetof(struct hart, link_epoch)), 0x7fffffff);
	uint8_t *site = e->p - 4;
	uint8_t *miss = x86_jcc8_fwd(e, X86_CC_NE);
	uint8_t *jump = x86_jmp_fwd(e);
	if (!e->overflow && e->p - site != LINK_SITE)
		e->overflow = true; /* cannot happen: the layout jit_link patches */
	x86_patch8(e, poll, x86_here(e));
	x86_patch8(e, miss, x86_here(e));
	x86_patch(e, jump, x86_here(e));
	uint8_t *data = x86_lea_rip(e, RCX);
	x86_jmp_to(e, t->j->stub[STUB_CHAIN + t->b->priv]);
	x86_patch(e, data, x86_here(e));
	if (!e->overflow && e->p - site != LINK_SITE + CHAIN_TAIL)
		e->overflow = true; /* cannot happen: the layout STUB_CHAIN reads */
	x86_e64(e, target);
}

/* The edge of a block that loops onto itself: unless a poll is due it goes straight back
 * to the body, guest registers staying in host registers (the block was translated with
 * every register it writes counted dirty from the start, so exits write them back).
 * When the poll is due, it writes back and chains like any exit. */
static void loop_back(struct tr *t)
{
	struct x86_emit *e = &t->e;

	x86_insn(e, 0, true, 0x3b, R12, x86_m(RBP, offsetof(struct hart, poll_at)), false);
	x86_patch(e, x86_jcc_fwd(e, X86_CC_B), t->body);
	writeback(t, t->dirty);
	chain_to(t, false, t->b->vpc);
}

/* Hands over to the interpreter at operation idx (registers written back; the count has
 * all the block's operations). The code names no block: the interpreter decodes the
 * guest code at that pc again (the arena keeps only the headers of translated blocks). */
static void exit_interp(struct tr *t, unsigned idx)
{
	struct x86_emit *e = &t->e;
	const struct op *o = &t->b->ops[idx];

	x86_mov_imm(e, RAX, t->b->vpc + o->off);
	x86_mov_imm(e, RCX, JIT_INFO(t->b->n - idx, o->kind));
	x86_jmp_to(e, t->j->stub[STUB_INTERP]);
}

/* ---- slow paths (C, called from translated code) ---- */

/* Links the exit whose site (chain_to) is at `site` to `code`, its target's translated
 * code, at the current link epoch: writes the epoch and the jump's displacement. Called
 * while h->link_budget holds LINK_COST (cpu/block.h). */
static void jit_link(struct hart *h, const uint8_t *site, const uint8_t *code)
{
	struct jit *j = h->bc->jit;
	uint8_t patch[LINK_SITE];
	uint32_t epoch = h->link_epoch;
	int64_t rel = (int64_t)(code - (site + LINK_SITE));
	int32_t rel32 = (int32_t)rel;

	h->link_budget -= LINK_COST;
	if (rel != rel32)
		return;			/* cannot happen: one buffer */
	memcpy(patch, site, LINK_SITE); /* the jne between the two fields stays */
	memcpy(patch, &epoch, 4);
	memcpy(patch + LINK_SITE - 4, &rel32, 4);
	h->bc->stat_links++;
	/* pwrite to our memfd cannot fail; if it did, the exit would go on looking up */
	if (jitbuf_write(&j->buf, (size_t)(site - j->buf.rx), patch, LINK_SITE))
		h->link_budget = 0;
}

struct slow_ret {
	uint64_t value;
	uint64_t fault;
};

#define LOAD_SIGNED 16u

/* A load the inline TLB test did not cover. On a fault the exception is taken at pc. */
static struct slow_ret jit_load_slow(struct hart *h, uint64_t va, unsigned info, uint64_t pc)
{
	unsigned size = info & 15;
	uint64_t v;
	int r = mmu_load(h, va, size, &v);

	if (r) {
		h->pc = pc;
		hart_exception(h, (uint64_t)r, h->fault_tval);
		return (struct slow_ret){0, 1};
	}
	if (info & LOAD_SIGNED) {
		unsigned sh = 64 - 8 * size;
		v = (uint64_t)((int64_t)(v << sh) >> sh);
	}
	return (struct slow_ret){v, 0};
}

static int jit_store_slow(struct hart *h, uint64_t va, uint64_t val, unsigned size, uint64_t pc)
{
	int r = mmu_store(h, va, size, val);

	if (r) {
		h->pc = pc;
		hart_exception(h, (uint64_t)r, h->fault_tval);
		return 1;
	}
	return 0;
}

/* An F/D operation; nonzero (nothing changed) sends the interpreter to raise the trap. */
static int jit_fpu(struct hart *h, const struct op *o)
{
	if (!hart_fs_on(h))
		return 1;
	return fpu_exec(h, (enum op_kind)o->kind, o->rd, o->rs1, o->rs2, o->rs3, o->rm);
}

/* LR/SC and the AMOs (cpu/atomics.c). On a fault the exception is taken at h->pc, which
 * the translated code set to the operation's pc. */
static struct slow_ret jit_amo(struct hart *h, const struct op *o, uint64_t va, uint64_t src)
{
	uint64_t v;
	int r;

	if (o->imm) /* lr.rl: earlier stores before its load (cpu/decode.c, dec_amo) */
		gmem_barrier();
	r = hart_amo(h, o->kind, va, src, &v);
	if (r) {
		hart_exception(h, (uint64_t)r, h->fault_tval);
		return (struct slow_ret){0, 1};
	}
	return (struct slow_ret){v, 0};
}

/* A CSR instruction with source value src (rs1's value, or the immediate), h->instret
 * holding the retired-instruction count. `fault` set: the access is illegal and nothing
 * changed (the interpreter raises the exception). A write makes the hart poll at once,
 * as in the interpreter. */
static struct slow_ret jit_csr(struct hart *h, const struct op *o, uint64_t src, uint64_t unused)
{
	unsigned k = o->kind;
	enum csr_opkind kind = k == OP_CSRRW || k == OP_CSRRWI	 ? CSR_RW
			       : k == OP_CSRRS || k == OP_CSRRSI ? CSR_RS
								 : CSR_RC;
	bool write = kind == CSR_RW || o->rs1 != 0;
	uint64_t old;

	(void)unused;
	if (csr_op(h, (unsigned)o->imm, kind, src, write, &old))
		return (struct slow_ret){0, 1};
	if (write)
		__atomic_store_n(&h->poll_at, 0, __ATOMIC_RELAXED);
	return (struct slow_ret){old, 0};
}

/* mret, sret, sfence.vma (rs1's value in va) and fence.i, as the interpreter does them.
 * `fault` set: illegal here, nothing changed (the interpreter raises the exception). */
static struct slow_ret jit_sys(struct hart *h, const struct op *o, uint64_t va, uint64_t unused)
{
	(void)unused;
	switch (o->kind) {
	case OP_MRET:
	case OP_SRET:
		if (o->kind == OP_MRET ? hart_mret(h) : hart_sret(h))
			return (struct slow_ret){0, 1};
		__atomic_store_n(&h->poll_at, 0, __ATOMIC_RELAXED);
		break;
	case OP_SFENCE_VMA:
		if (h->priv == PRV_U || (h->priv == PRV_S && (h->mstatus & MSTATUS_TVM)))
			return (struct slow_ret){0, 1};
		if (o->rs1 != 0) {
			mmu_flush_va(h, va);
			exec_flush_jumps_page(h, va);
		} else {
			mmu_flush_all(h);
			exec_flush_jumps(h);
		}
		break;
	default: /* FENCE_I: blocks are checked against memory at their next lookup */
		h->bc->fence_epoch++;
		exec_flush_jumps(h);
		break;
	}
	return (struct slow_ret){0, 0};
}

enum { RD_W = 1, RS1_R = 2, RS2_R = 4 };

static bool is_amo(unsigned kind)
{
	return kind >= OP_LR_W && kind <= OP_AMOMAXU_D;
}

_Static_assert(OP_BGEU - OP_BEQ == 5, "the branches are consecutive in ops.def");

static bool is_branch(unsigned kind)
{
	return kind >= OP_BEQ && kind <= OP_BGEU;
}

/* Which operand fields an operation uses, or 0 if the JIT does not cover it. */
static unsigned op_uses(unsigned kind)
{
	switch (kind) {
	case OP_LUI:
	case OP_AUIPC:
	case OP_JAL:
		return RD_W;
	case OP_JALR:
	case OP_LB:
	case OP_LH:
	case OP_LW:
	case OP_LD:
	case OP_LBU:
	case OP_LHU:
	case OP_LWU:
	case OP_ADDI:
	case OP_SLTI:
	case OP_SLTIU:
	case OP_XORI:
	case OP_ORI:
	case OP_ANDI:
	case OP_SLLI:
	case OP_SRLI:
	case OP_SRAI:
	case OP_ADDIW:
	case OP_SLLIW:
	case OP_SRLIW:
	case OP_SRAIW:
		return RD_W | RS1_R;
	case OP_BEQ:
	case OP_BNE:
	case OP_BLT:
	case OP_BGE:
	case OP_BLTU:
	case OP_BGEU:
	case OP_SB:
	case OP_SH:
	case OP_SW:
	case OP_SD:
		return RS1_R | RS2_R;
	case OP_FLW: /* rd / rs2 name f registers */
	case OP_FLD:
	case OP_FSW:
	case OP_FSD:
		return RS1_R;
	case OP_CSRRW:
	case OP_CSRRS:
	case OP_CSRRC:
		return RD_W | RS1_R;
	case OP_CSRRWI:
	case OP_CSRRSI:
	case OP_CSRRCI:
		return RD_W;
	case OP_SFENCE_VMA:
		return RS1_R;
	case OP_ADD:
	case OP_SUB:
	case OP_SLL:
	case OP_SLT:
	case OP_SLTU:
	case OP_XOR:
	case OP_SRL:
	case OP_SRA:
	case OP_OR:
	case OP_AND:
	case OP_ADDW:
	case OP_SUBW:
	case OP_SLLW:
	case OP_SRLW:
	case OP_SRAW:
	case OP_MUL:
	case OP_MULH:
	case OP_MULHSU:
	case OP_MULHU:
	case OP_DIV:
	case OP_DIVU:
	case OP_REM:
	case OP_REMU:
	case OP_MULW:
	case OP_DIVW:
	case OP_DIVUW:
	case OP_REMW:
	case OP_REMUW:
		return RD_W | RS1_R | RS2_R;
	default:
		return is_amo(kind) ? RD_W | RS1_R | RS2_R : 0;
	}
}

static bool covered(unsigned kind)
{
	/* FENCE, BLOCK_NEXT, xRET and FENCE_I have no integer operands but are covered, and
	 * so are the F/D operations (through fpu_exec). */
	return op_uses(kind) != 0 || kind == OP_FENCE || kind == OP_BLOCK_NEXT || kind == OP_MRET ||
	       kind == OP_SRET || kind == OP_FENCE_I || (decode_op_flags(kind) & OPF_FPU);
}

/* Maps the global registers, then picks the other guest registers to keep in host
 * registers for the block: the most used ones. */
static void allocate(struct tr *t, unsigned nops)
{
	unsigned uses[33] = {0};

	for (unsigned i = 0; i < nops; i++) {
		const struct op *o = &t->b->ops[i];
		unsigned u = op_uses(o->kind);
		if ((u & RD_W) && o->rd < 32)
			uses[o->rd] += 1;
		if ((u & RS1_R) && o->rs1 < 32)
			uses[o->rs1] += 1;
		if ((u & RS2_R) && o->rs2 < 32)
			uses[o->rs2] += 1;
	}
	uses[0] = 0; /* x0 reads as the zero in memory; index 0 means "none" below */
	memset(t->host, -1, sizeof(t->host));
	for (unsigned k = 0; k < NGLOBAL; k++)
		t->host[GLOBAL_FIRST + k] = (int8_t)global_regs[k];
	for (unsigned k = 0; k < NCACHE; k++) {
		unsigned best = 0;
		for (unsigned g = 1; g < 32; g++)
			if (t->host[g] < 0 && uses[g] > uses[best])
				best = g;
		/* Loading and saving a register used once costs more than it saves, unless
		 * the block loops: then it is loaded once for all the iterations. */
		if (uses[best] < (t->loops ? 1u : 2u))
			break;
		t->host[best] = (int8_t)cache_regs[k];
	}
}

/* rax = rs1 + imm (the effective address). */
static void eff_addr(struct tr *t, const struct op *o)
{
	if (o->rs1 != 0 && t->host[o->rs1] >= 0) { /* lea rax, [rs1 + imm] */
		x86_insn(&t->e, 0, true, 0x8d, RAX, x86_m(t->host[o->rs1], (int32_t)o->imm), false);
		return;
	}
	get(t, RAX, o->rs1);
	if (o->imm)
		x86_alu_imm(&t->e, true, X86_ADD, x86_r(RAX), (int32_t)o->imm);
}

static struct cold *add_cold(struct tr *t, enum cold_kind kind, unsigned idx, uint8_t *jump)
{
	struct cold *c = &t->cold[t->ncold++];

	c->kind = kind;
	c->idx = idx;
	c->dirty = t->dirty;
	c->jump = jump;
	c->back = 0;
	c->va_later = false;
	return c;
}

/* The inline TLB test for va in rax: leaves the host address in rax or jumps to a stub.
 *	mov ecx, eax; shr ecx, 8; and ecx, TLB_MASK << 4	the entry's offset
 *	  (rorx ecx, eax, 8; and ecx, TLB_MASK << 4 on hosts with BMI2)
 *	add rcx, [rbp + dtlb]				the entry
 *	mov rdx, rax; and rdx, ~0xfff | (size - 1)	the tag va must have
 *	cmp rdx, [rcx]; jne slow
 *	add rax, [rcx + 8]				the host address
 * In a block whose guard at entry fixed the regime (t->tlb_off >= 0) the entry is at a
 * constant offset from the hart: no `add rcx, [rbp + dtlb]`, the compare and the add
 * address [rbp + rcx + off]. */
static struct cold *tlb_fast(struct tr *t, bool write, unsigned size, enum cold_kind kind,
			     unsigned idx)
{
	struct x86_emit *e = &t->e;
	size_t off = write ? offsetof(struct hart, dtlb_w) : offsetof(struct hart, dtlb);
	int32_t fixed = t->tlb_off < 0 ? -1 : t->tlb_off + (write ? (int32_t)(TLB_SIZE * 16) : 0);

	if (t->j->bmi2) { /* bits 12..19 of va land in bits 4..11 either way */
		x86_rorx(e, false, RCX, x86_r(RAX), 8);
	} else {
		x86_insn(e, 0, false, 0x8b, RCX, x86_r(RAX), false); /* mov ecx, eax */
		x86_shift_imm(e, false, X86_SHR, x86_r(RCX), 8);
	}
	x86_alu_imm(e, false, X86_AND, x86_r(RCX), TLB_MASK << 4);
	if (fixed < 0)
		x86_alu(e, true, X86_ADD, RCX, x86_m(RBP, (int32_t)off));
	x86_mov(e, true, RDX, x86_r(RAX));
	x86_alu_imm(e, true, X86_AND, x86_r(RDX), (int32_t)(~0xfffu | (size - 1)));
	struct x86_rm tag =
		fixed < 0 ? x86_m(RCX, offsetof(struct tlb_entry, tag))
			  : x86_mi(RBP, RCX, 0, fixed + (int32_t)offsetof(struct tlb_entry, tag));
	struct x86_rm add = fixed < 0 ? x86_m(RCX, offsetof(struct tlb_entry, addend))
				      : x86_mi(RBP, RCX, 0,
					       fixed + (int32_t)offsetof(struct tlb_entry, addend));
	x86_alu(e, true, X86_CMP, RDX, tag);
	struct cold *c = add_cold(t, kind, idx, x86_jcc_fwd(e, X86_CC_NE));
	x86_alu(e, true, X86_ADD, RAX, add);
	return c;
}

/* Whether the block's TLB tests use its translation regime's TLB at a fixed offset
 * (t->tlb_off), behind a guard at entry that hands the block to the interpreter in any
 * other regime: the data regime changes only at a CSR write, xRET or a trap, which all
 * end a block, so it holds for the whole block once the guard passed. Blocks are keyed
 * by privilege and, in S-mode, by mstatus.SUM (block.h, KEY_S_SUM), so the guard fails
 * only when MPRV or satp changed the regime under the same key. Worth it when the
 * guard is there anyway (bare loads), or when it saves more than it costs (2
 * instructions at entry against 1 per access): two accesses or more, or a block that
 * loops onto itself (the loop re-enters past the guard). */
static bool regime_fixed(const struct tr *t, unsigned n)
{
	const struct hart *h = t->j->hart;
	unsigned mem = 0;

	if (!h)
		return false;
	if (t->bare)
		return true;
	/* S/U code under satp Bare: not fixed to the bare regime, which it leaves for good
	 * once paging is on (as bare_loads) */
	if (h->priv < PRV_M && h->dtlb == h->tlb[REGIME_BARE][TLB_R])
		return false;
	for (unsigned i = 0; i < n; i++) {
		unsigned k = t->b->ops[i].kind;
		if ((k >= OP_LB && k <= OP_LWU) || k == OP_SB || k == OP_SH || k == OP_SW ||
		    k == OP_SD || k == OP_FLW || k == OP_FLD || k == OP_FSW || k == OP_FSD)
			mem++;
	}
	return mem >= 2 || (mem && t->loops);
}

/* Whether the block's loads may read guest RAM directly, without the TLB: while the
 * hart's data accesses are untranslated (the bare regime, as when the block is
 * translated: a guard at entry checks it), no load/store trigger is armed (arming one
 * drops all translations, cpu/trigger.c) and RAM is not being fetched by post-copy
 * migration, a load from RAM needs only the bounds check. RAM must lie where its bounds
 * fit the 32-bit immediates (below 2 GiB from at most 0x80000000). Only M-mode blocks:
 * blocks outlive satp writes (they are found by pc, privilege and physical address), so
 * S/U code translated while satp is Bare would run in the interpreter (its guard failing)
 * for as long as it lives once paging is on, as an identity-mapped kernel's does
 * (tests/guests/jit_bare_s.S); M-mode code leaves the bare regime only through MPRV. */
static bool bare_loads(const struct hart *h)
{
	return h && h->priv == PRV_M && h->dtlb == h->tlb[REGIME_BARE][TLB_R] && !h->trig_mem &&
	       !__atomic_load_n(&h->env->mem->postcopy, __ATOMIC_RELAXED) &&
	       h->ram_base <= 0x80000000u && h->ram_size >= 8 && h->ram_size <= 0x7fffffffu;
}

/* The host address of load o's `size` bytes at va = rs1 + imm: in the register returned,
 * or a jump to a stub (with va in rax). In the bare regime (t->bare)
 *	lea rdx, [rax - ram_base]; cmp rdx, ram_size - size; ja slow	in RAM
 *	add rdx, [rbp + ram]						host address
 * (a misaligned load reads the same bytes as mmu_load's, RAM being contiguous), where
 * rs1 in a host register gives the first as lea rdx, [rs1 + imm - ram_base] (va not in
 * rax: the stub computes it, c->va_later); else va in rax (eff_addr) and the TLB test
 * (tlb_fast). */
static struct cold *load_fast(struct tr *t, const struct op *o, unsigned size, unsigned idx,
			      int *reg)
{
	struct x86_emit *e = &t->e;
	const struct hart *h = t->j->hart;
	int64_t disp = (int64_t)(int32_t)o->imm - (int64_t)(t->bare ? h->ram_base : 0);
	bool later = t->bare && o->rs1 != 0 && t->host[o->rs1] >= 0 && disp >= INT32_MIN &&
		     disp <= INT32_MAX;

	if (!later)
		eff_addr(t, o);
	if (!t->bare) {
		*reg = RAX;
		return tlb_fast(t, false, size, COLD_LOAD, idx);
	}
	if (later)
		x86_insn(e, 0, true, 0x8d, RDX, x86_m(t->host[o->rs1], (int32_t)disp), false);
	else
		x86_insn(e, 0, true, 0x8d, RDX, x86_m(RAX, (int32_t) - (int64_t)h->ram_base),
			 false);
	x86_alu_imm(e, true, X86_CMP, x86_r(RDX), (int32_t)(h->ram_size - size));
	struct cold *c = add_cold(t, COLD_LOAD, idx, x86_jcc_fwd(e, X86_CC_A));
	c->va_later = later;
	x86_alu(e, true, X86_ADD, RDX, x86_m(RBP, offsetof(struct hart, ram)));
	*reg = RDX;
	return c;
}

/* After a store to host address rax: while the dirty log is on, mmu_store_hook logs the
 * page (a clean page is flagged GMEM_PAGE_TRACK). The write TLB never maps a page holding
 * decoded code or a watched word (cpu/mmu.c), so nothing else needs the hook here.
 *	mov rdx, [rbp + dirty_log]; cmp byte [rdx], 0; jne hook */
static void store_hook_check(struct tr *t, unsigned idx)
{
	struct x86_emit *e = &t->e;

	x86_mov(e, true, RDX, x86_m(RBP, offsetof(struct hart, dirty_log)));
	x86_insn(e, 0, false, 0x80, X86_CMP, x86_m(RDX, 0), false); /* cmp byte [rdx], 0 */
	x86_e8(e, 0);
	struct cold *hook = add_cold(t, COLD_HOOK, idx, x86_jcc_fwd(e, X86_CC_NE));
	hook->back = x86_here(e);
}

/* Size in bytes | LOAD_SIGNED, for loads (F loads: the raw bits). */
static unsigned load_info(unsigned kind)
{
	switch (kind) {
	case OP_LB:
		return 1 | LOAD_SIGNED;
	case OP_LH:
		return 2 | LOAD_SIGNED;
	case OP_LW:
		return 4 | LOAD_SIGNED;
	case OP_LBU:
		return 1;
	case OP_LHU:
		return 2;
	case OP_LWU:
	case OP_FLW:
		return 4;
	default: /* LD, FLD */
		return 8;
	}
}

static void emit_load(struct tr *t, const struct op *o, unsigned idx)
{
	struct x86_emit *e = &t->e;
	unsigned size = load_info(o->kind) & 15;
	int dst = (o->rd < 32 && t->host[o->rd] >= 0) ? t->host[o->rd] : RAX;
	int at;

	struct cold *c = load_fast(t, o, size, idx, &at);
	/* movsx r64, m8 / m16; movsxd r64, m32; mov r64, m64; movzx r32, m8 / m16; mov r32, m32 */
	static const struct {
		unsigned opc;
		bool w;
	} enc[] = {{0x0fbe, true},  {0x0fbf, true},  {0x63, true}, {0x8b, true},
		   {0x0fb6, false}, {0x0fb7, false}, {0x8b, false}};
	_Static_assert(OP_LWU - OP_LB == 6, "loads are consecutive in ops.def");
	x86_insn(e, 0, enc[o->kind - OP_LB].w, enc[o->kind - OP_LB].opc, dst, x86_m(at, 0), false);
	c->back = x86_here(e);
	if (dst == RAX)
		put(t, o->rd, RAX);
	else
		t->dirty |= 1ull << o->rd;
}

static unsigned store_size(unsigned kind)
{
	return kind == OP_SB ? 1 : kind == OP_SH ? 2 : kind == OP_SW || kind == OP_FSW ? 4 : 8;
}

/* log2 of store_size: the stubs of a store's slow path and hook are one per size. */
static unsigned store_lg(unsigned kind)
{
	return kind == OP_SB ? 0 : kind == OP_SH ? 1 : kind == OP_SW || kind == OP_FSW ? 2 : 3;
}

static void emit_store(struct tr *t, const struct op *o, unsigned idx)
{
	struct x86_emit *e = &t->e;
	unsigned size = store_size(o->kind);
	bool fp = o->kind == OP_FSW || o->kind == OP_FSD;

	int src = RCX;

	eff_addr(t, o);
	struct cold *c = tlb_fast(t, true, size, COLD_STORE, idx);
	if (fp) {
		x86_mov(e, true, RCX, fmem(o->rs2));
	} else if (o->rs2 == 0) { /* mov byte/word/dword/qword [rax], 0 */
		src = -1;
		if (size == 1) {
			x86_insn(e, 0, false, 0xc6, 0, x86_m(RAX, 0), false);
			x86_e8(e, 0);
		} else if (size == 2) { /* 66 c7 /0 imm16 */
			x86_insn(e, 0x66, false, 0xc7, 0, x86_m(RAX, 0), false);
			x86_e8(e, 0);
			x86_e8(e, 0);
		} else {
			x86_mov_rm_imm(e, size == 8, x86_m(RAX, 0), 0);
		}
	} else if (t->host[o->rs2] >= 0) {
		src = t->host[o->rs2]; /* straight from its host register */
	} else {
		get(t, RCX, o->rs2);
	}
	switch (src < 0 ? 0 : size) {
	case 0:
		break;
	case 1:
		x86_mov_store8(e, x86_m(RAX, 0), src);
		break;
	case 2:
		x86_mov_store16(e, x86_m(RAX, 0), src);
		break;
	case 4:
		x86_insn(e, 0, false, 0x89, src, x86_m(RAX, 0), false);
		break;
	default:
		x86_insn(e, 0, true, 0x89, src, x86_m(RAX, 0), false);
		break;
	}
	store_hook_check(t, idx);
	c->back = x86_here(e);
}

/* F/D needs mstatus.FS != Off: otherwise the interpreter raises the trap. */
static void fs_check(struct tr *t, unsigned idx)
{
	struct x86_emit *e = &t->e;

	x86_insn(e, 0, false, 0xf7, 0, x86_m(RBP, offsetof(struct hart, mstatus)), false);
	x86_e32(e, (uint32_t)MSTATUS_FS); /* test dword [mstatus], FS */
	add_cold(t, COLD_INTERP, idx, x86_jcc_fwd(e, X86_CC_E));
}

static void emit_fload(struct tr *t, const struct op *o, unsigned idx)
{
	struct x86_emit *e = &t->e;
	bool single = o->kind == OP_FLW;
	int at;

	fs_check(t, idx);
	struct cold *c = load_fast(t, o, single ? 4 : 8, idx, &at);
	x86_insn(e, 0, !single, 0x8b, RAX, x86_m(at, 0), false);
	c->back = x86_here(e); /* the stub joins with the value in rax */
	if (single) {	       /* NaN-box */
		x86_mov_imm(e, RDX, 0xffffffff00000000ull);
		x86_alu(e, true, X86_OR, RAX, x86_r(RDX));
	}
	x86_mov_store(e, true, fmem(o->rd), RAX);
	x86_alu_imm(e, true, X86_OR, x86_m(RBP, offsetof(struct hart, mstatus)),
		    (int32_t)MSTATUS_FS);
}

static void emit_fstore(struct tr *t, const struct op *o, unsigned idx)
{
	fs_check(t, idx);
	emit_store(t, o, idx);
}

/* D arithmetic rounding to nearest-even (static, or dynamic with frm = RNE) as the host's
 * SSE/FMA3 instruction, which is what fpu.c's own fast path computes (flags collect in
 * MXCSR, which fpu.c folds into fflags): fadd, fsub, fmul, fdiv, fsqrt and, on hosts with
 * FMA3, the four fused multiply-adds. A NaN result, or another rounding mode, goes to the
 * interpreter, which redoes the op (MXCSR flags are sticky, so raising them twice is
 * harmless) and produces the canonical NaN and the spec's flags. */
static bool emit_fpu_inline(struct tr *t, const struct op *o, unsigned idx)
{
	static const struct {
		unsigned kind, opc; /* SSE: F2 0F xx xmm0, m64; FMA3: VEX.66.0F38.W1 xx */
		bool fma;
	} ops[] = {
		{OP_FADD_D, 0x0f58, false}, {OP_FSUB_D, 0x0f5c, false},	 {OP_FMUL_D, 0x0f59, false},
		{OP_FDIV_D, 0x0f5e, false}, {OP_FSQRT_D, 0x0f51, false}, {OP_FMADD_D, 0xa9, true},
		{OP_FMSUB_D, 0xab, true},   {OP_FNMSUB_D, 0xad, true}, /* -(a*b) + c */
		{OP_FNMADD_D, 0xaf, true},			       /* -(a*b) - c */
	};
	struct x86_emit *e = &t->e;
	unsigned i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].kind == o->kind)
			break;
	if (i == sizeof(ops) / sizeof(ops[0]) || (ops[i].fma && !t->j->fma))
		return false;
	if (o->rm != 0 && o->rm != 7) /* RNE or DYN */
		return false;
	fs_check(t, idx);
	if (o->rm == 7) {
		x86_alu_imm(e, false, X86_CMP, x86_m(RBP, offsetof(struct hart, frm)), 0);
		add_cold(t, COLD_INTERP, idx, x86_jcc_fwd(e, X86_CC_NE));
	}
	if (o->kind == OP_FSQRT_D) {
		x86_e8(e, 0xf2);
		x86_insn(e, 0, false, 0x0f51, 0, fmem(o->rs1), false); /* sqrtsd xmm0, rs1 */
	} else if (ops[i].fma) {
		x86_e8(e, 0xf2);
		x86_insn(e, 0, false, 0x0f10, 0, fmem(o->rs1), false); /* movsd xmm0, rs1 */
		x86_e8(e, 0xf2);
		x86_insn(e, 0, false, 0x0f10, 1, fmem(o->rs2), false); /* movsd xmm1, rs2 */
		/* vfm*213sd xmm0, xmm1, rs3: xmm0 = +-(xmm1 * xmm0) +- rs3 */
		x86_e8(e, 0xc4);
		x86_e8(e, 0xe2);
		x86_e8(e, 0xf1);
		x86_insn(e, 0, false, ops[i].opc, 0, fmem(o->rs3), false);
	} else {
		x86_e8(e, 0xf2);
		x86_insn(e, 0, false, 0x0f10, 0, fmem(o->rs1), false); /* movsd xmm0, rs1 */
		x86_e8(e, 0xf2);
		x86_insn(e, 0, false, ops[i].opc, 0, fmem(o->rs2), false); /* op xmm0, rs2 */
	}
	x86_insn(e, 0x66, false, 0x0f2e, 0, x86_r(0), false); /* ucomisd xmm0, xmm0 */
	add_cold(t, COLD_INTERP, idx, x86_jcc_fwd(e, X86_CC_P));
	x86_e8(e, 0xf2);
	x86_insn(e, 0, false, 0x0f11, 0, fmem(o->rd), false); /* movsd rd, xmm0 */
	x86_alu_imm(e, true, X86_OR, x86_m(RBP, offsetof(struct hart, mstatus)),
		    (int32_t)MSTATUS_FS);
	return true;
}

/* An F/D arithmetic operation: a call to fpu_exec through jit_fpu. It may read and
 * write integer registers (moves, conversions, compares), so they go through memory. */
static void emit_fpu(struct tr *t, const struct op *o, unsigned idx)
{
	struct x86_emit *e = &t->e;

	writeback(t, t->dirty);
	t->dirty = 0;
	/* fpu_exec reads x[rs1] and writes x[rd]; rd is loaded again below, so memory must
	 * hold it too in case the operation does not write it (rd names an f register). */
	if (GLOBAL_MASK & (1ull << o->rs1))
		x86_mov_store(e, true, xmem(o->rs1), t->host[o->rs1]);
	if (o->rd < 32 && (GLOBAL_MASK & (1ull << o->rd)) && o->rd != o->rs1)
		x86_mov_store(e, true, xmem(o->rd), t->host[o->rd]);
	x86_mov_imm(e, RAX, op_addr(t, o));
	x86_call_to(e, t->j->stub[STUB_FPU]);
	x86_test(e, true, x86_r(RAX), RAX);
	add_cold(t, COLD_INTERP, idx, x86_jcc_fwd(e, X86_CC_NE));
	if (o->rd < 32 && t->host[o->rd] >= 0)
		x86_mov(e, true, t->host[o->rd], xmem(o->rd));
}

/* rd = fn(rs1, rs2) for a pure helper (mulhsu). */
static void emit_helper(struct tr *t, const struct op *o, const void *fn)
{
	struct x86_emit *e = &t->e;

	get(t, RCX, o->rs1);
	get(t, RDX, o->rs2);
	x86_mov_imm(e, RAX, (uint64_t)(uintptr_t)fn);
	x86_call_to(e, t->j->stub[STUB_CALL2]);
	put(t, o->rd, RAX);
}

/* DIV, DIVU, REM, REMU and their W forms inline, with the results the spec gives where
 * x86 would fault (unpriv. 13.2): x / 0 = all ones, x % 0 = x, MIN / -1 = MIN (neg),
 * MIN % -1 = 0; W forms on the low 32 bits, the result sign-extended.
 *	mov rcx, rs2; mov rax, rs1; test rcx, rcx; jz zero
 *	[cmp rcx, -1; je minus1]		signed
 *	cqo / xor edx, edx; idiv / div rcx	(rax, or rdx for a remainder)
 * rax = the result (movsxd for a W form), then rd = rax. */
static void emit_div(struct tr *t, const struct op *o)
{
	struct x86_emit *e = &t->e;
	unsigned k = o->kind;
	bool w = !(k == OP_DIVW || k == OP_DIVUW || k == OP_REMW || k == OP_REMUW);
	bool sign = k == OP_DIV || k == OP_REM || k == OP_DIVW || k == OP_REMW;
	bool rem = k == OP_REM || k == OP_REMU || k == OP_REMW || k == OP_REMUW;
	uint8_t *minus1 = NULL, *done[2];

	get(t, RCX, o->rs2);
	get(t, RAX, o->rs1);
	x86_test(e, w, x86_r(RCX), RCX);
	uint8_t *zero = x86_jcc_fwd(e, X86_CC_E);
	if (sign) {
		x86_alu_imm(e, w, X86_CMP, x86_r(RCX), -1);
		minus1 = x86_jcc_fwd(e, X86_CC_E);
		x86_cdq(e, w);
	} else {
		x86_alu(e, false, X86_XOR, RDX, x86_r(RDX));
	}
	x86_grp3(e, w, sign ? 7 : 6, x86_r(RCX)); /* idiv / div */
	if (rem)
		x86_mov(e, true, RAX, x86_r(RDX));
	done[0] = x86_jmp_fwd(e);
	x86_patch(e, zero, x86_here(e)); /* x / 0 = all ones; x % 0 = x (rax) */
	if (!rem)
		x86_mov_imm(e, RAX, ~0ull);
	if (sign) {
		done[1] = x86_jmp_fwd(e);
		x86_patch(e, minus1, x86_here(e)); /* x / -1 = -x (MIN stays MIN); x % -1 = 0 */
		if (rem)
			x86_alu(e, false, X86_XOR, RAX, x86_r(RAX));
		else
			x86_grp3(e, w, 3, x86_r(RAX)); /* neg */
		x86_patch(e, done[1], x86_here(e));
	}
	x86_patch(e, done[0], x86_here(e));
	if (!w)
		x86_movsxd(e, RAX, x86_r(RAX));
	put(t, o->rd, RAX);
}

/* h->pc = the pc of operation o (for a helper that may take an exception there). */
static void set_pc(struct tr *t, const struct op *o)
{
	x86_mov_imm(&t->e, RAX, t->b->vpc + o->off);
	x86_mov_store(&t->e, true, x86_m(RBP, offsetof(struct hart, pc)), RAX);
}

/* LR/SC or an AMO: a call to jit_amo (cpu/atomics.c does the access); the cached
 * registers stay in host registers. A fault leaves the block with the exception taken. */
static void emit_amo(struct tr *t, const struct op *o, unsigned idx)
{
	struct x86_emit *e = &t->e;

	set_pc(t, o);
	get(t, RCX, o->rs1);
	get(t, RDX, o->rs2);
	x86_mov_imm(e, RAX, op_addr(t, o));
	x86_call_to(e, t->j->stub[STUB_AMO]);
	x86_test(e, true, x86_r(RDX), RDX);
	add_cold(t, COLD_FAULT, idx, x86_jcc_fwd(e, X86_CC_NE));
	put(t, o->rd, RAX);
}

/* A CSR instruction (it ends the block): jit_csr with the retired-instruction count in
 * h->instret, which it may change (minstret writes); an illegal access is left to the
 * interpreter. Then the block chains on (a write has forced a poll, so it leaves). */
static void emit_csr(struct tr *t, const struct op *o, unsigned idx)
{
	struct x86_emit *e = &t->e;

	if (o->kind >= OP_CSRRWI)
		x86_mov_imm(e, RCX, o->rs1);
	else
		get(t, RCX, o->rs1);
	x86_mov_store(e, true, x86_m(RBP, offsetof(struct hart, instret)), R12);
	x86_mov_imm(e, RAX, op_addr(t, o));
	x86_call_to(e, t->j->stub[STUB_CSR]);
	x86_test(e, true, x86_r(RDX), RDX);
	add_cold(t, COLD_INTERP, idx, x86_jcc_fwd(e, X86_CC_NE));
	x86_mov(e, true, R12, x86_m(RBP, offsetof(struct hart, instret)));
	put(t, o->rd, RAX);
	writeback(t, t->dirty);
	t->dirty = 0;
	chain_to(t, false, block_end(t->b));
}

/* mret, sret, sfence.vma, fence.i (each ends the block) through jit_sys; an illegal one
 * is left to the interpreter. xRET continues at h->pc, maybe in another privilege: back
 * to the dispatcher. The fences chain on (through the tables they just cleared). */
static void emit_sys(struct tr *t, const struct op *o, unsigned idx)
{
	struct x86_emit *e = &t->e;

	writeback(t, t->dirty);
	t->dirty = 0;
	get(t, RCX, o->kind == OP_SFENCE_VMA ? o->rs1 : 0);
	x86_mov_imm(e, RAX, op_addr(t, o));
	x86_call_to(e, t->j->stub[STUB_SYS]);
	x86_test(e, true, x86_r(RDX), RDX);
	add_cold(t, COLD_INTERP, idx, x86_jcc_fwd(e, X86_CC_NE));
	if (o->kind == OP_MRET || o->kind == OP_SRET)
		exit_with(e, t->j, JIT_EXIT_PC);
	else
		chain_to(t, false, block_end(t->b));
}

/* Where an operation computes rd: rd's cache register, unless it is not cached or the
 * operation still reads rd as rs2 after writing rs1 into it (then rax). */
static int alu_dst(const struct tr *t, const struct op *o, bool reads_rs2)
{
	if (o->rd >= 32 || t->host[o->rd] < 0)
		return RAX;
	if (reads_rs2 && o->rs2 == o->rd && o->rs1 != o->rd)
		return RAX;
	return t->host[o->rd];
}

static int alu_op(unsigned kind)
{
	switch (kind) {
	case OP_ADD:
	case OP_ADDI:
	case OP_ADDW:
	case OP_ADDIW:
		return X86_ADD;
	case OP_SUB:
	case OP_SUBW:
		return X86_SUB;
	case OP_XOR:
	case OP_XORI:
		return X86_XOR;
	case OP_OR:
	case OP_ORI:
		return X86_OR;
	default: /* AND, ANDI */
		return X86_AND;
	}
}

static int shift_op(unsigned kind)
{
	switch (kind) {
	case OP_SLLI:
	case OP_SLLIW:
	case OP_SLL:
	case OP_SLLW:
		return X86_SHL;
	case OP_SRLI:
	case OP_SRLIW:
	case OP_SRL:
	case OP_SRLW:
		return X86_SHR;
	default: /* SRA* */
		return X86_SAR;
	}
}

static void movsxd(struct x86_emit *e, int r)
{
	x86_insn(e, 0, true, 0x63, r, x86_r(r), false); /* movsxd r, r32 */
}

/* Integer operations without memory access; the result goes straight into rd's cache
 * register where possible. */
static void emit_alu(struct tr *t, const struct op *o)
{
	struct x86_emit *e = &t->e;
	int32_t imm = (int32_t)o->imm;
	int d;

	if (o->rd == SINK)
		return; /* no side effects */
	switch (o->kind) {
	case OP_LUI:
	case OP_AUIPC:
		d = alu_dst(t, o, false);
		x86_mov_imm(e, d, (uint64_t)o->imm);
		break;
	case OP_ADDI:
		d = alu_dst(t, o, false);
		if (o->rs1 == 0) { /* li */
			x86_mov_imm(e, d, (uint64_t)o->imm);
			break;
		}
		if (d != RAX && o->rs1 != 0 && t->host[o->rs1] >= 0) {
			/* lea d, [rs1 + imm] */
			x86_insn(e, 0, true, 0x8d, d, x86_m(t->host[o->rs1], imm), false);
			break;
		}
		get(t, d, o->rs1);
		if (imm)
			x86_alu_imm(e, true, X86_ADD, x86_r(d), imm);
		break;
	case OP_XORI:
	case OP_ORI:
	case OP_ANDI:
		d = alu_dst(t, o, false);
		get(t, d, o->rs1);
		if (imm || o->kind == OP_ANDI)
			x86_alu_imm(e, true, alu_op(o->kind), x86_r(d), imm);
		break;
	case OP_ADDIW:
		d = alu_dst(t, o, false);
		if (o->rs1 != 0 && imm == 0) { /* sext.w: movsxd d, rs1 */
			x86_insn(e, 0, true, 0x63, d, greg(t, o->rs1), false);
			break;
		}
		if (o->rs1 != 0 && t->host[o->rs1] >= 0) { /* lea d32, [rs1 + imm] */
			x86_insn(e, 0, false, 0x8d, d, x86_m(t->host[o->rs1], imm), false);
			movsxd(e, d);
			break;
		}
		get(t, d, o->rs1);
		if (imm)
			x86_alu_imm(e, false, X86_ADD, x86_r(d), imm);
		movsxd(e, d);
		break;
	case OP_SLLI:
	case OP_SRLI:
	case OP_SRAI:
	case OP_SLLIW:
	case OP_SRLIW:
	case OP_SRAIW: {
		bool w = o->kind == OP_SLLI || o->kind == OP_SRLI || o->kind == OP_SRAI;
		d = alu_dst(t, o, false);
		get(t, d, o->rs1);
		x86_shift_imm(e, w, shift_op(o->kind), x86_r(d), (unsigned)o->imm & (w ? 63 : 31));
		if (!w)
			movsxd(e, d);
		break;
	}
	case OP_SLL:
	case OP_SRL:
	case OP_SRA:
	case OP_SLLW:
	case OP_SRLW:
	case OP_SRAW: {
		bool w = o->kind == OP_SLL || o->kind == OP_SRL || o->kind == OP_SRA;
		get(t, RCX, o->rs2); /* the count first: rd may be rs2 */
		d = alu_dst(t, o, false);
		get(t, d, o->rs1);
		x86_shift_cl(e, w, shift_op(o->kind), x86_r(d));
		if (!w)
			movsxd(e, d);
		break;
	}
	case OP_ADD:
	case OP_SUB:
	case OP_XOR:
	case OP_OR:
	case OP_AND:
	case OP_ADDW:
	case OP_SUBW: {
		bool w = o->kind != OP_ADDW && o->kind != OP_SUBW;
		if (o->kind == OP_ADD && o->rs1 == 0) { /* mv: rd = rs2 */
			d = alu_dst(t, o, false);
			get(t, d, o->rs2);
			break;
		}
		d = alu_dst(t, o, true);
		get(t, d, o->rs1);
		x86_alu(e, w, alu_op(o->kind), d, greg(t, o->rs2));
		if (!w)
			movsxd(e, d);
		break;
	}
	case OP_SLTI:
	case OP_SLTIU:
	case OP_SLT:
	case OP_SLTU: {
		bool sign = o->kind == OP_SLTI || o->kind == OP_SLT;
		d = RAX;
		get(t, RAX, o->rs1);
		if (o->kind == OP_SLTI || o->kind == OP_SLTIU)
			x86_alu_imm(e, true, X86_CMP, x86_r(RAX), imm);
		else
			x86_alu(e, true, X86_CMP, RAX, greg(t, o->rs2));
		x86_insn(e, 0, false, 0x0f90 + (sign ? X86_CC_L : X86_CC_B), 0, x86_r(RAX),
			 false);				       /* setcc al */
		x86_insn(e, 0, false, 0x0fb6, RAX, x86_r(RAX), false); /* movzx eax, al */
		break;
	}
	case OP_MUL:
	case OP_MULW: {
		bool w = o->kind == OP_MUL;
		d = alu_dst(t, o, true);
		get(t, d, o->rs1);
		x86_insn(e, 0, w, 0x0faf, d, greg(t, o->rs2), false);
		if (!w)
			movsxd(e, d);
		break;
	}
	default: /* MULH, MULHU: rdx:rax = rax * rs2 */
		get(t, RAX, o->rs1);
		x86_insn(e, 0, true, 0xf7, o->kind == OP_MULH ? 5 : 4, greg(t, o->rs2), false);
		put(t, o->rd, RDX);
		return;
	}
	put(t, o->rd, d);
}

/* rd = the low 32 bits of rs1, zero-extended (slli + srli by 32). */
static void emit_zext_w(struct tr *t, const struct op *o)
{
	int d;

	if (o->rd == SINK)
		return;
	d = alu_dst(t, o, false);
	if (o->rs1 == 0)
		x86_alu(&t->e, false, X86_XOR, d, x86_r(d));
	else
		x86_mov(&t->e, false, d, greg(t, o->rs1)); /* mov r32, r/m32 zero-extends */
	put(t, o->rd, d);
}

static void emit_branch(struct tr *t, const struct op *o)
{
	struct x86_emit *e = &t->e;
	int cc = X86_CC_E;

	switch (o->kind) {
	case OP_BNE:
		cc = X86_CC_NE;
		break;
	case OP_BLT:
		cc = X86_CC_L;
		break;
	case OP_BGE:
		cc = X86_CC_GE;
		break;
	case OP_BLTU:
		cc = X86_CC_B;
		break;
	case OP_BGEU:
		cc = X86_CC_AE;
		break;
	}
	bool side = o != &t->b->ops[t->b->n - 1];
	unsigned idx = (unsigned)(o - t->b->ops);
	unsigned skip = side && t->inner[idx] ? t->inner[idx] - idx - 1 : 0;
	if (skip) /* un-count the skipped ops; lea leaves the flags alone */
		x86_insn(e, 0, true, 0x8d, R12, x86_m(R12, -(int32_t)skip), false);
	if (!t->loops && !side) {
		writeback(t, t->dirty); /* both ways leave the block */
		t->dirty = 0;
	}
	if (o->rs1 != 0 && t->host[o->rs1] >= 0 && o->rs2 == 0) {
		x86_test(e, true, x86_r(t->host[o->rs1]), t->host[o->rs1]);
	} else if (o->rs1 != 0 && t->host[o->rs1] >= 0) {
		x86_alu(e, true, X86_CMP, t->host[o->rs1], greg(t, o->rs2));
	} else {
		get(t, RAX, o->rs1);
		x86_alu(e, true, X86_CMP, RAX, greg(t, o->rs2));
	}
	if (side && t->inner[idx]) { /* taken: on in line at a later op of the block */
		t->fwd[idx] = x86_jcc_fwd(e, cc);
		t->fwd_dirty[idx] = t->dirty;
		if (skip)
			x86_insn(e, 0, true, 0x8d, R12, x86_m(R12, (int32_t)skip), false);
		return;
	}
	if (side) { /* taken: out of line, the block goes on */
		add_cold(t, COLD_EXIT, idx, x86_jcc_fwd(e, cc));
		return;
	}
	if (t->loops) {
		/* The back edge falls through (x86 condition codes come in pairs differing in
		 * bit 0): one taken jump per iteration, the one back to the body. */
		uint8_t *out = x86_jcc_fwd(e, cc ^ 1);
		loop_back(t);
		x86_patch(e, out, x86_here(e));
		writeback(t, t->dirty);
		chain_to(t, false, block_end(t->b));
		return;
	}
	uint8_t *taken = x86_jcc_fwd(e, cc);
	chain_to(t, false, block_end(t->b));
	x86_patch(e, taken, x86_here(e));
	chain_to(t, false, (uint64_t)o->imm);
}

/* Finds the side exits (branches before the block's last op, within the n translated
 * ops) whose target is a later one of those ops: a forward branch over a few ops, as
 * compilers make for an if without else. Those jump there in line (emit_branch, join). */
static void find_inner(struct tr *t, unsigned n)
{
	const struct block *b = t->b;

	for (unsigned i = 0; i + 1 < n && i + 1 < b->n; i++) {
		const struct op *o = &b->ops[i];
		if (!is_branch(o->kind))
			continue;
		for (unsigned k = i + 1; k < n; k++)
			if (b->vpc + b->ops[k].off == (uint64_t)o->imm) {
				t->inner[i] = (uint8_t)k;
				t->joins[k] = true;
				break;
			}
	}
}

/* The guest registers the block surely writes before it reads them (the first op naming
 * one writes it, and runs whenever the block gets that far): their cache registers need
 * no load at entry, as nothing reads them before and nothing stores them unless written
 * (an exit before the write finds them clean). Not for a block looping onto itself,
 * whose exits store every register it writes. */
static uint64_t written_first(const struct tr *t, unsigned n)
{
	const struct block *b = t->b;
	uint64_t seen = 0, first = 0;
	bool maybe[BLOCK_MAX + 1] = {false}; /* skipped by an in-line forward branch */

	for (unsigned i = 0; i < n; i++)
		for (unsigned k = i + 1; k < t->inner[i]; k++)
			maybe[k] = true;
	for (unsigned i = 0; i < n; i++) {
		const struct op *o = &b->ops[i];
		unsigned u = op_uses(o->kind);
		if ((u & RS1_R) && o->rs1 < 32)
			seen |= 1ull << o->rs1;
		if ((u & RS2_R) && o->rs2 < 32)
			seen |= 1ull << o->rs2;
		if ((u & RD_W) && o->rd < 32 && !(seen & (1ull << o->rd))) {
			if (!maybe[i])
				first |= 1ull << o->rd;
			seen |= 1ull << o->rd;
		}
	}
	return first;
}

/* Op k is the target of in-line forward branches: they jump here, and whatever they
 * may have left dirty is dirty from here on. */
static void join(struct tr *t, unsigned k)
{
	for (unsigned i = 0; i < k; i++)
		if (t->inner[i] == k && t->fwd[i]) {
			x86_patch(&t->e, t->fwd[i], x86_here(&t->e));
			t->dirty |= t->fwd_dirty[i];
		}
}

/* Out-of-line paths: call a slow-path stub (which keeps the cached registers), then
 * return to the fast path, or write back and leave on a fault. */
static void emit_cold(struct tr *t, const struct cold *c)
{
	struct x86_emit *e = &t->e;
	const struct op *o = &t->b->ops[c->idx];
	uint64_t pc = t->b->vpc + o->off;
	uint8_t *fault = NULL; /* a jne rel8 to the fault path, or c->jump (COLD_FAULT) */

	x86_patch(e, c->jump, x86_here(e));
	switch (c->kind) {
	case COLD_LOAD:
		if (c->va_later) /* lea rax, [rs1 + imm]: rs1's register holds it still */
			x86_insn(e, 0, true, 0x8d, RAX, x86_m(t->host[o->rs1], (int32_t)o->imm),
				 false);
		x86_mov_imm(e, RCX, load_info(o->kind));
		x86_mov_imm(e, RDX, pc);
		x86_call_to(e, t->j->stub[STUB_LOAD]);
		x86_test(e, true, x86_r(RDX), RDX);
		fault = x86_jcc8_fwd(e, X86_CC_NE);
		if (o->kind != OP_FLW && o->kind != OP_FLD) { /* F loads join with rax */
			if (o->rd < 32 && t->host[o->rd] >= 0)
				x86_mov(e, true, t->host[o->rd], x86_r(RAX));
			else if (o->rd != 0 && o->rd != SINK)
				x86_mov_store(e, true, xmem(o->rd), RAX);
		}
		break;
	case COLD_STORE: {
		unsigned lg = store_lg(o->kind);
		if (o->kind == OP_FSW || o->kind == OP_FSD)
			x86_mov(e, true, RCX, fmem(o->rs2));
		else
			get(t, RCX, o->rs2);
		x86_mov_imm(e, RDX, pc);
		x86_call_to(e, t->j->stub[STUB_STORE + lg]);
		x86_test(e, true, x86_r(RAX), RAX);
		fault = x86_jcc8_fwd(e, X86_CC_NE);
		break;
	}
	case COLD_HOOK:
		x86_call_to(e, t->j->stub[STUB_HOOK + store_lg(o->kind)]);
		break;
	case COLD_INTERP:
		writeback(t, c->dirty);
		exit_interp(t, c->idx);
		return;
	case COLD_FAULT: /* the helper took the exception */
		fault = c->jump;
		break;
	case COLD_GUARD: /* not in the block's regime: the interpreter runs the block */
		x86_alu_imm(e, true, X86_ADD, x86_r(R12), t->b->n);
		exit_interp(t, 0);
		return;
	case COLD_EXIT: /* a side exit taken: the ops after it did not run */
		writeback(t, c->dirty);
		x86_alu_imm(e, true, X86_SUB, x86_r(R12), (int32_t)(t->b->n - 1 - c->idx));
		chain_to(t, false, (uint64_t)o->imm);
		return;
	}
	if (c->kind != COLD_FAULT)
		x86_jmp_to(e, c->back);
	if (fault) {
		/* The exception is taken; the instruction did not retire, nor did the rest
		 * of the block. */
		if (fault != c->jump)
			x86_patch8(e, fault, x86_here(e));
		writeback(t, c->dirty);
		x86_alu_imm(e, true, X86_SUB, x86_r(R12), (int32_t)(t->b->n - c->idx));
		x86_jmp_to(e, t->j->stub[STUB_TRAP]);
	}
}

long jit_arch_translate(struct jit *j, const struct block *b, const struct block *home,
			bool *uses_ops, uint8_t *buf, size_t cap, uintptr_t at)
{
	static const struct tr tr_zero;
	struct tr tr = tr_zero, *t = &tr;
	struct x86_emit *e = &t->e;
	unsigned n = 0;
	bool ended = false;

	/* The covered prefix; ops[b->n] is the terminating pseudo-op, if any. */
	while (covered(b->ops[n].kind)) {
		unsigned k = b->ops[n].kind;
		n++;
		if ((decode_op_flags(k) & OPF_END) && !(is_branch(k) && n < b->n))
			break; /* (a branch before the last op is a side exit) */
	}
	if (n == 0)
		return 0;
	e->buf = e->p = buf;
	e->end = buf + cap;
	e->base = at;
	t->j = j;
	t->b = b;
	t->home = home;
	{
		const struct op *last = &b->ops[n - 1];
		unsigned k = last->kind;
		t->loops = (uint64_t)last->imm == b->vpc && (k == OP_JAL || is_branch(k));
	}
	allocate(t, n);
	find_inner(t, n);

	t->entry = x86_here(e);
	t->bare = bare_loads(j->hart);
	t->tlb_off = -1;
	if (regime_fixed(t, n)) { /* cmp dword [rbp + dtlb], low half of the TLB's address */
		const struct hart *h = j->hart;
		t->tlb_off = (int32_t)((const uint8_t *)h->dtlb - (const uint8_t *)h);
		x86_alu_imm(e, false, X86_CMP, x86_m(RBP, offsetof(struct hart, dtlb)),
			    (int32_t)(uint32_t)(uintptr_t)h->dtlb);
		add_cold(t, COLD_GUARD, 0, x86_jcc_fwd(e, X86_CC_NE));
	}
	uint64_t set_first = t->loops ? 0 : written_first(t, n);
	for (unsigned g = 1; g < 32; g++)
		if (t->host[g] >= 0 && !(GLOBAL_MASK & (1ull << g)) && !(set_first & (1ull << g)))
			x86_mov(e, true, t->host[g], xmem(g));
	t->body = x86_here(e);
	x86_alu_imm(e, true, X86_ADD, x86_r(R12), b->n); /* the interpreter counts at entry too */
	if (t->loops) /* whatever the block writes may be unsaved when the body starts */
		for (unsigned i = 0; i < n; i++) {
			const struct op *o = &b->ops[i];
			if ((op_uses(o->kind) & RD_W) && o->rd < 32 && t->host[o->rd] >= 0)
				t->dirty |= 1ull << o->rd;
		}

	for (unsigned i = 0; i < n && !ended; i++) {
		const struct op *o = &b->ops[i];
		if (t->joins[i])
			join(t, i);
		switch (o->kind) {
		case OP_LB:
		case OP_LH:
		case OP_LW:
		case OP_LD:
		case OP_LBU:
		case OP_LHU:
		case OP_LWU:
			emit_load(t, o, i);
			break;
		case OP_SB:
		case OP_SH:
		case OP_SW:
		case OP_SD:
			emit_store(t, o, i);
			break;
		case OP_FLW:
		case OP_FLD:
			emit_fload(t, o, i);
			break;
		case OP_FSW:
		case OP_FSD:
			emit_fstore(t, o, i);
			break;
		case OP_FENCE:
			if (o->imm) /* stores before loads: the one order x86 does not keep */
				x86_mfence(&t->e);
			break;
		case OP_MULHSU:
			emit_helper(t, o, (const void *)mulh_su);
			break;
		case OP_DIV:
		case OP_DIVU:
		case OP_REM:
		case OP_REMU:
		case OP_DIVW:
		case OP_DIVUW:
		case OP_REMW:
		case OP_REMUW:
			emit_div(t, o);
			break;
		case OP_BEQ:
		case OP_BNE:
		case OP_BLT:
		case OP_BGE:
		case OP_BLTU:
		case OP_BGEU:
			emit_branch(t, o);
			ended = i + 1 == b->n;
			break;
		case OP_JAL:
			x86_mov_imm(e, RAX, block_end(b));
			put(t, o->rd, RAX);
			if (t->loops) {
				loop_back(t);
			} else {
				writeback(t, t->dirty);
				t->dirty = 0;
				chain_to(t, false, (uint64_t)o->imm);
			}
			ended = true;
			break;
		case OP_JALR:
			/* The target first: rd may be rs1. */
			get(t, RCX, o->rs1);
			if (o->imm)
				x86_alu_imm(e, true, X86_ADD, x86_r(RCX), (int32_t)o->imm);
			x86_alu_imm(e, true, X86_AND, x86_r(RCX), -2);
			x86_mov_imm(e, RAX, block_end(b));
			put(t, o->rd, RAX);
			writeback(t, t->dirty);
			t->dirty = 0;
			x86_mov(e, true, RAX, x86_r(RCX));
			chain_to(t, true, 0);
			ended = true;
			break;
		case OP_CSRRW:
		case OP_CSRRS:
		case OP_CSRRC:
		case OP_CSRRWI:
		case OP_CSRRSI:
		case OP_CSRRCI:
			emit_csr(t, o, i);
			ended = true;
			break;
		case OP_MRET:
		case OP_SRET:
		case OP_SFENCE_VMA:
		case OP_FENCE_I:
			emit_sys(t, o, i);
			ended = true;
			break;
		case OP_BLOCK_NEXT:
			writeback(t, t->dirty);
			t->dirty = 0;
			chain_to(t, false, block_end(b));
			ended = true;
			break;
		default:
			if (is_amo(o->kind)) {
				emit_amo(t, o, i);
			} else if ((o->kind == OP_LUI || o->kind == OP_AUIPC) && i + 1 < n &&
				   !t->joins[i + 1] && b->ops[i + 1].kind == OP_ADDI &&
				   b->ops[i + 1].rd == o->rd && b->ops[i + 1].rs1 == o->rd) {
				/* lui/auipc + addi to the same register (li, la): one constant */
				struct op k = *o;
				k.imm = (int64_t)((uint64_t)o->imm + (uint64_t)b->ops[i + 1].imm);
				emit_alu(t, &k);
				i++;
			} else if (o->kind == OP_SLLI && o->imm == 32 && i + 1 < n &&
				   !t->joins[i + 1] && b->ops[i + 1].kind == OP_SRLI &&
				   b->ops[i + 1].imm == 32 && b->ops[i + 1].rd == o->rd &&
				   b->ops[i + 1].rs1 == o->rd) {
				/* slli + srli by 32 (zext.w): mov d32, rs1 */
				emit_zext_w(t, o);
				i++;
			} else if (!(decode_op_flags(o->kind) & OPF_FPU)) {
				emit_alu(t, o);
			} else if (!emit_fpu_inline(t, o, i)) {
				emit_fpu(t, o, i);
			}
			break;
		}
	}
	if (!ended) {
		writeback(t, t->dirty);
		exit_interp(t, n);
	}
	for (unsigned i = 0; i < t->ncold; i++)
		emit_cold(t, &t->cold[i]);
	if (e->overflow)
		return -1;
	*uses_ops = t->uses_ops;
	return (long)(e->p - e->buf);
}

/* ---- shared stubs ---- */

static const uint8_t volatile_cache[] = {RSI, RDI, R8, R9, R10, R11};

/* A slow-path stub: keeps the caller-saved cache registers around a C call whose
 * arguments `args` (a callback) moves from the stub's inputs into place. */
static void begin_call_stub(struct x86_emit *e)
{
	for (unsigned i = 0; i < sizeof(volatile_cache); i++)
		x86_push(e, volatile_cache[i]);
	/* entered by a call from 16-byte aligned code: 8 + 6 * 8 pushed, so one more */
	x86_alu_imm(e, true, X86_SUB, x86_r(RSP), 8);
}

static void end_call_stub(struct x86_emit *e, const void *fn)
{
	x86_mov_imm(e, R11, (uint64_t)(uintptr_t)fn);
	x86_insn(e, 0, false, 0xff, 2, x86_r(R11), false); /* call r11 */
	x86_alu_imm(e, true, X86_ADD, x86_r(RSP), 8);
	for (unsigned i = sizeof(volatile_cache); i-- > 0;)
		x86_pop(e, volatile_cache[i]);
	x86_e8(e, 0xc3);
}

/* The host's FMA3 and BMI2, asked of CPUID here, when the first JIT is made, rather than
 * through __builtin_cpu_supports: that links libgcc's CPU-model constructor, which runs
 * its dozens of CPUID instructions (each a trap to the hypervisor in a virtual machine)
 * at the start of every lodge process, a Wasm guest's or `lodge --version` too. FMA's
 * VEX-encoded instructions also need the OS to save the AVX state (OSXSAVE, XCR0). */
static void host_features(struct jit *j)
{
	unsigned a, b, c, d, xcr0_lo, xcr0_hi;

	j->fma = false;
	j->bmi2 = false;
	if (__get_cpuid(1, &a, &b, &c, &d) && (c >> 12 & 1) && (c >> 27 & 1) && (c >> 28 & 1)) {
		__asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
		(void)xcr0_hi;
		j->fma = (xcr0_lo & 6) == 6; /* the SSE and AVX states */
	}
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d))
		j->bmi2 = b >> 8 & 1;
}

long jit_arch_stubs(struct jit *j, uint8_t *buf, size_t cap, uintptr_t at)
{
	struct x86_emit em = {.buf = buf, .p = buf, .end = buf + cap, .base = at};
	struct x86_emit *e = &em;
	static const uint8_t saved[] = {RBP, RBX, R12, R13, R14, R15};

	/* int enter(struct hart *h = rdi, const void *code = rsi, uint64_t icount = rdx) */
	host_features(j);
	j->stub[STUB_ENTER] = x86_here(e);
	for (unsigned i = 0; i < sizeof(saved); i++)
		x86_push(e, saved[i]);
	x86_alu_imm(e, true, X86_SUB, x86_r(RSP), 8); /* 16-byte aligned stack for calls */
	x86_mov(e, true, RBP, x86_r(RDI));
	x86_mov(e, true, R12, x86_r(RDX));
	x86_mov(e, true, RAX, x86_r(RSI));
	for (unsigned k = 0; k < NGLOBAL; k++)
		x86_mov(e, true, global_regs[k], xmem(GLOBAL_FIRST + k));
	x86_insn(e, 0, false, 0xff, 4, x86_r(RAX), false); /* jmp rax */

	/* exit: eax = enum jit_exit; the global registers go back to memory */
	j->stub[STUB_EXIT] = x86_here(e);
	for (unsigned k = 0; k < NGLOBAL; k++)
		x86_mov_store(e, true, xmem(GLOBAL_FIRST + k), global_regs[k]);
	x86_mov_store(e, true, x86_m(RBP, offsetof(struct hart, jit_icount)), R12);
	x86_alu_imm(e, true, X86_ADD, x86_r(RSP), 8);
	for (unsigned i = sizeof(saved); i-- > 0;)
		x86_pop(e, saved[i]);
	x86_e8(e, 0xc3);

	/* leave: rax = the next pc, every guest register in memory */
	j->stub[STUB_LEAVE] = x86_here(e);
	x86_mov_store(e, true, x86_m(RBP, offsetof(struct hart, pc)), RAX);
	exit_with(e, j, JIT_EXIT_PC);

	/* next: rax = the next pc, every guest register but the global ones in memory,
	 * entered by a jump from code whose stack is 16-byte aligned: the successor's code,
	 * found without going back to the dispatcher (the table of successors was flushed
	 * since it was filled), or leave. The caller-saved cache registers are kept around
	 * the call (6 pushes: the stack stays aligned). */
	j->stub[STUB_NEXT] = x86_here(e);
	x86_mov_store(e, true, x86_m(RBP, offsetof(struct hart, pc)), RAX);
	for (unsigned i = 0; i < sizeof(volatile_cache); i++)
		x86_push(e, volatile_cache[i]);
	x86_mov(e, true, RSI, x86_r(RAX));
	x86_mov(e, true, RDI, x86_r(RBP));
	x86_mov_imm(e, RAX, (uint64_t)(uintptr_t)exec_jit_next);
	x86_insn(e, 0, false, 0xff, 2, x86_r(RAX), false); /* call rax */
	for (unsigned i = sizeof(volatile_cache); i-- > 0;)
		x86_pop(e, volatile_cache[i]);
	x86_test(e, true, x86_r(RAX), RAX);
	{
		uint8_t *found = x86_jcc_fwd(e, X86_CC_NE);
		exit_with(e, j, JIT_EXIT_PC); /* h->pc is set */
		x86_patch(e, found, x86_here(e));
	}
	x86_insn(e, 0, false, 0xff, 4, x86_r(RAX), false); /* jmp rax */

	/* link: rcx the exit's site, rdx the target's code (chain_to), entered by a jump
	 * from code whose stack is 16-byte aligned; 8 pushes keep it so. */
	j->stub[STUB_LINK] = x86_here(e);
	for (unsigned i = 0; i < sizeof(volatile_cache); i++)
		x86_push(e, volatile_cache[i]);
	x86_push(e, RDX);
	x86_push(e, RAX);
	x86_mov(e, true, RSI, x86_r(RCX));
	x86_mov(e, true, RDI, x86_r(RBP));
	x86_mov_imm(e, RAX, (uint64_t)(uintptr_t)jit_link);
	x86_insn(e, 0, false, 0xff, 2, x86_r(RAX), false); /* call rax */
	x86_pop(e, RAX);
	x86_pop(e, RDX);
	for (unsigned i = sizeof(volatile_cache); i-- > 0;)
		x86_pop(e, volatile_cache[i]);
	x86_insn(e, 0, false, 0xff, 4, x86_r(RDX), false); /* jmp rdx */

	/* load: rax va, ecx info, rdx pc -> jit_load_slow(h, va, info, pc): rax value,
	 * rdx fault */
	j->stub[STUB_LOAD] = x86_here(e);
	begin_call_stub(e);
	x86_mov(e, true, R8, x86_r(RDX));
	x86_mov(e, true, RDX, x86_r(RCX));
	x86_mov(e, true, RCX, x86_r(R8));
	x86_mov(e, true, RSI, x86_r(RAX));
	x86_mov(e, true, RDI, x86_r(RBP));
	end_call_stub(e, (const void *)jit_load_slow);

	/* store: rax va, rcx value, rdx pc -> jit_store_slow(h, va, value, size, pc) */
	for (unsigned lg = 0; lg < 4; lg++) {
		j->stub[STUB_STORE + lg] = x86_here(e);
		begin_call_stub(e);
		x86_mov(e, true, R8, x86_r(RDX));
		x86_mov(e, true, RDX, x86_r(RCX));
		x86_mov_imm(e, RCX, 1u << lg);
		x86_mov(e, true, RSI, x86_r(RAX));
		x86_mov(e, true, RDI, x86_r(RBP));
		end_call_stub(e, (const void *)jit_store_slow);
	}

	/* hook: rax host address -> mmu_store_hook(h, p, size) */
	for (unsigned lg = 0; lg < 4; lg++) {
		j->stub[STUB_HOOK + lg] = x86_here(e);
		begin_call_stub(e);
		x86_mov_imm(e, RDX, 1u << lg);
		x86_mov(e, true, RSI, x86_r(RAX));
		x86_mov(e, true, RDI, x86_r(RBP));
		end_call_stub(e, (const void *)mmu_store_hook);
	}

	/* call2: rax = fn(rcx, rdx) */
	j->stub[STUB_CALL2] = x86_here(e);
	begin_call_stub(e);
	x86_mov(e, true, RDI, x86_r(RCX));
	x86_mov(e, true, RSI, x86_r(RDX));
	x86_insn(e, 0, false, 0xff, 2, x86_r(RAX), false); /* call rax */
	x86_alu_imm(e, true, X86_ADD, x86_r(RSP), 8);
	for (unsigned i = sizeof(volatile_cache); i-- > 0;)
		x86_pop(e, volatile_cache[i]);
	x86_e8(e, 0xc3);

	/* fpu: eax = jit_fpu(h, op = rax) */
	j->stub[STUB_FPU] = x86_here(e);
	begin_call_stub(e);
	x86_mov(e, true, RSI, x86_r(RAX));
	x86_mov(e, true, RDI, x86_r(RBP));
	end_call_stub(e, (const void *)jit_fpu);

	/* rax:rdx = fn(h, rax, rcx, rdx): jit_amo, jit_csr, jit_sys */
	static const void *const fns[] = {(const void *)jit_amo, (const void *)jit_csr,
					  (const void *)jit_sys};
	_Static_assert(STUB_CSR == STUB_AMO + 1 && STUB_SYS == STUB_AMO + 2, "in fns[] order");
	for (unsigned i = 0; i < 3; i++) {
		j->stub[STUB_AMO + i] = x86_here(e);
		begin_call_stub(e);
		x86_mov(e, true, R8, x86_r(RDX));
		x86_mov(e, true, RDX, x86_r(RCX));
		x86_mov(e, true, RCX, x86_r(R8));
		x86_mov(e, true, RSI, x86_r(RAX));
		x86_mov(e, true, RDI, x86_r(RBP));
		end_call_stub(e, fns[i]);
	}

	/* trap: the helper took the exception (registers written back, r12 un-counted) */
	j->stub[STUB_TRAP] = x86_here(e);
	exit_with(e, j, JIT_EXIT_TRAP);

	/* interp: rax the pc to interpret from, rcx JIT_INFO (exit_interp) */
	j->stub[STUB_INTERP] = x86_here(e);
	x86_mov_store(e, true, x86_m(RBP, offsetof(struct hart, jit_exit_pc)), RAX);
	x86_mov_store(e, true, x86_m(RBP, offsetof(struct hart, jit_exit_info)), RCX);
	exit_with(e, j, JIT_EXIT_INTERP);

	/* chain, one per key: rcx the data of a constant exit (chain_to), every guest
	 * register but the global ones in memory, the stack 16-byte aligned */
	for (unsigned key = 0; key < JC_PRIVS; key++) {
		j->stub[STUB_CHAIN + key] = x86_here(e);
		x86_mov(e, true, RAX, x86_m(RCX, 0)); /* the target */
		x86_insn(e, 0, true, 0x3b, R12, x86_m(RBP, offsetof(struct hart, poll_at)), false);
		x86_jcc_to(e, X86_CC_AE, j->stub[STUB_LEAVE]);
		x86_push(e, RCX); /* lookup_entry uses rcx */
		lookup_entry(e, j, key);
		x86_pop(e, RCX);
		lookup_check(e, j);
		x86_alu_imm(e, false, X86_CMP, x86_m(RBP, offsetof(struct hart, link_budget)),
			    LINK_COST);
		uint8_t *link = x86_jcc8_fwd(e, X86_CC_AE);
		x86_insn(e, 0, false, 0xff, 4, x86_r(RDX), false); /* no budget left: jmp rdx */
		x86_patch8(e, link, x86_here(e));
		x86_alu_imm(e, true, X86_SUB, x86_r(RCX), LINK_SITE + CHAIN_TAIL);
		x86_jmp_to(e, j->stub[STUB_LINK]);
	}

	if (e->overflow)
		return -1;
	return (long)(e->p - e->buf);
}

#endif
