/*
 * Private to the function compiler (compile.c, compile_ctrl.c, compile_ops.c): the
 * per-opcode table, the compiler state (struct wasm_cc) with its compile-time operand
 * stack and control stack, and the helpers the three files share. Nothing outside
 * src/wasm/compile*.c includes this; the short unprefixed names below (T_, K_, C_, CLS_,
 * S_) never leave these files.
 */
#ifndef LODGE_WASM_COMPILE_H
#define LODGE_WASM_COMPILE_H

#include "wasm/internal.h"

#include "core/util.h"

#include <stdbool.h>
#include <stdint.h>

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
	CLS_ATOMIC, /* atomics.def (threads): op is the XOP, neg the 0xFE code */
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
	S_COUNT
};

/* What the compiler knows about each opcode (from opcodes.def). */
struct wasm_cc_opinfo {
	uint8_t cls;
	uint8_t t1, t2, tout;
	uint16_t op;  /* internal op, or enum special */
	uint16_t neg; /* ICMP: the negated compare's op */
	uint8_t imm;  /* LOAD/STORE/LANEMEM: log2 natural alignment; lanes for lane ops */
	uint8_t store;
};

/* Table index of an opcode: one-byte opcodes, then the 0xFC and 0xFD prefixed ones. */
#define PBASE_P0	    0
#define PBASE_PFC	    256
#define PBASE_PFD	    512
#define PBASE_PFE	    (512 + 0x120)      /* threads: atomics.def, codes below 0x50 */
#define PBASE_PFB	    (PBASE_PFE + 0x50) /* 3.0 GC, codes below 0x20 */
#define WASM_CC_OPINFO_SIZE (PBASE_PFB + 0x20)

extern const struct wasm_cc_opinfo wasm_cc_opinfo[WASM_CC_OPINFO_SIZE];

enum entry_kind { K_SLOT, K_LOCAL, K_CONST };

/* A compile-time operand-stack entry. */
struct wasm_cc_entry {
	wasm_vt type;
	uint8_t kind;
	uint32_t home; /* its slot when materialised */
	uint32_t src;  /* K_LOCAL: the local's slot */
	uint64_t c;    /* K_CONST: the value (i32/i64/f32/f64 bits, or a null ref) */
};

enum ctrl_kind { C_FUNC, C_BLOCK, C_LOOP, C_IF, C_ELSE, C_TRY /* 3.0 try_table */ };

struct wasm_cc_ctrl {
	uint8_t kind;
	bool unreachable;
	bool dead_entry; /* the construct itself sits in unreachable code */
	uint32_t nparams, nresults;
	const wasm_vt *params, *results;
	wasm_vt one;	   /* a block type of one value: results point here */
	bool results_one;  /* results is &one (fixed up when the array moves) */
	uint32_t inits;	   /* c->ninit at the start: locals set inside are unset after */
	uint32_t height;   /* operand stack height below the params */
	uint32_t base;	   /* home slot of the first param/result */
	uint32_t loop_pc;  /* C_LOOP: branch target */
	uint32_t fixups;   /* head of the forward-branch patch list (index + 1) */
	uint32_t else_fix; /* C_IF: patch index + 1 of the jump to the else arm */

	/* C_TRY: its clauses, c->hd[hd0..hd0+hn) (their end is set at its end) */
	uint32_t hd0, hn;
};

struct wasm_cc_fixup {
	uint32_t word; /* code index of the offset word */
	uint32_t op;   /* code index of the branching op (offsets are relative to it) */
	uint32_t next;
};

/* The state of one function's compilation. */
struct wasm_cc {
	struct wasm_module *m;
	struct wasm_reader *r;
	const struct wasm_ftype *ft;
	const int32_t *disp;
	uint32_t nlocals;
	wasm_vt *ltype;
	/* 3.0 local initialisation: a non-defaultable local may be read only once set; set
	 * ones since each block's start are listed in init (unset again at its end) */
	bool *lset;
	uint32_t *init;
	uint32_t ninit, capinit;
	wasm_vt one; /* the block type just read, when it is one value type */
	uint32_t *lslot;
	/* local x is known to hold zero while zero_gen[x] == zgen (every label bumps zgen) */
	uint32_t *zero_gen;
	uint32_t zgen;
	uint32_t stack_base;
	struct wasm_cc_entry *vs;
	uint32_t nvs, capvs;
	uint32_t nlocalrefs;
	uint32_t top_slot, max_slot;
	struct wasm_cc_ctrl *cs;
	uint32_t ncs, capcs;
	uint32_t *code;
	uint32_t n, cap;
	struct wasm_pcmap *map;
	uint32_t nmap, capmap;
	struct wasm_cc_fixup *fx;
	uint32_t nfx, capfx;
	struct wasm_wrapfix *wrap;
	uint32_t nwrap, capwrap;
	uint32_t *points; /* struct wasm_code's */
	uint32_t npoints, cappoints;
	/* precise stack roots: each safepoint's operand slots that hold references (their
	 * lists in gcs; the locals' are added in front at the end) */
	struct wasm_safepoint *sps;
	uint32_t nsps, capsps;
	uint32_t *gcs;
	uint32_t ngcs, capgcs;
	wasm_vt *gcts; /* each gcs entry's type (snapshots check restored references) */
	uint32_t capgcts;
	/* each loop start's map (snapshots park there): its operand entries holding
	 * references, in lgcs/lgcts, keyed by the loop's start << 1; and each call_ref's
	 * reference slot, keyed by its start << 1 | 1 */
	struct wasm_safepoint *lps;
	uint32_t nlps, caplps;
	uint32_t *lgcs;
	wasm_vt *lgcts;
	uint32_t nlgcs, caplgcs, caplgcts;
	struct wasm_handler *hd; /* struct wasm_code's handlers (3.0 try_table) */
	uint32_t nhd, caphd;
	uint32_t capltype, caplslot, capzero, caplset; /* ltype, lslot, zero_gen, lset */
	bool dead;
	bool oom;
	bool plain; /* WASM_LOAD_PLAIN: no fusion, no peephole rewrites */
	/* peepholes: the last value-producing op, while nothing has been emitted after it */
	uint32_t last_end;    /* c->n right after it */
	uint32_t last_dst_at; /* code index of its destination word */
	uint32_t last_op;     /* its op (for compare+branch fusion) */
	uint32_t last_start;  /* its first word */
	/* the value-producing op before it, when it ended exactly where that one starts */
	uint32_t prev_start, prev_op, prev_dst_at, prev_end;
	uint32_t fence; /* code before this index is never rewritten (a label is here) */
	/* the last COPY or MOVE2 (copy_moves: 1 or 2), while nothing follows it: the next
	 * copy merges into it (MOVE2, MOVE3) */
	uint32_t copy_at, copy_end, copy_moves;
	/* the last I32_ADD_I into a local, while nothing follows it (see pair_final) */
	uint32_t incr_at, incr_end;
};

#define TRY(x)                                                                                     \
	do {                                                                                       \
		int rc_ = (x);                                                                     \
		if (rc_ < 0)                                                                       \
			return rc_;                                                                \
	} while (0)

/* ----- compile.c: errors, arrays, emission ----- */

/* Fails with "type mismatch: what" (WASM_ERR_INVALID); returns -EINVAL. */
int wasm_cc_mismatch(struct wasm_cc *c, const char *what);
/* Grows *arr (of *cap elements of size bytes) to hold need elements: 0 or -ENOMEM. */
int wasm_cc_grow_array(void **arr, uint32_t *cap, uint32_t need, size_t size) MUST_CHECK;
/* Records a loop's start (call false) or a call op (true) at c->n as a point a snapshot
 * may stand at (struct wasm_code.points). */
void wasm_cc_point(struct wasm_cc *c, bool call);
/* Records, for snapshots, that the call_ref op about to be emitted at c->n calls the
 * reference in slot (of type type, (ref null T)). */
void wasm_cc_call_ref_map(struct wasm_cc *c, uint32_t slot, wasm_vt type);
/* Records the stack map of a safepoint: the materialised operand entries now on the stack
 * that hold references a collector follows (and at a call's return, for snapshots, those
 * holding function references and the entries not in their slot). Call it right after a
 * call op is emitted (at_op false: keyed by its return pc, its arguments popped, its
 * results not pushed yet), or right before an allocating op or a throw is emitted (at_op
 * true: keyed by its start, its operands popped and its result not pushed yet; the
 * operands are held by the allocation itself, s->hold). */
void wasm_cc_safepoint(struct wasm_cc *c, bool at_op);
/* Emission appends words; in unreachable code it does nothing, and on allocation
 * failure it sets c->oom (checked once per instruction). */
void wasm_cc_emit(struct wasm_cc *c, uint32_t w);
void wasm_cc_emit_op(struct wasm_cc *c, enum wasm_op op);
void wasm_cc_emit_u64(struct wasm_cc *c, uint64_t v);
void wasm_cc_emit_copy(struct wasm_cc *c, uint32_t dst, uint32_t src, wasm_vt type);
/* Places the value of entry e in slot dst. */
void wasm_cc_emit_move(struct wasm_cc *c, uint32_t dst, const struct wasm_cc_entry *e);
/* Peephole bookkeeping: the op just emitted (first word start, internal op) wrote its
 * result through the word at dst_at; last_result_is() asks whether the code still ends
 * with that op and it wrote slot. */
void wasm_cc_mark_result(struct wasm_cc *c, uint32_t start, uint32_t op, uint32_t dst_at);
/* Fusion: drops the code from start on (the start of the last op, which the instruction
 * being compiled absorbs), with its pc-map and wrap entries. With current_offset the
 * fused op reports the current instruction's module offset. */
void wasm_cc_rewind(struct wasm_cc *c, uint32_t start, bool current_offset);
/* Records that the access op at pc has an address add of imm folded into its offset
 * (see wrapped_ea in exec.c); wrap_imm finds it again (0: none). */
void wasm_cc_add_wrap(struct wasm_cc *c, uint32_t pc, uint32_t imm);
uint32_t wasm_cc_wrap_imm(const struct wasm_cc *c, uint32_t pc);
/* A label (branch target) is at the current position: peepholes must not reach back
 * across it. */
void wasm_cc_label(struct wasm_cc *c);
bool wasm_cc_last_result_is(struct wasm_cc *c, uint32_t slot);

/* ----- compile.c: the operand stack ----- */

void wasm_cc_materialize(struct wasm_cc *c, struct wasm_cc_entry *e);
void wasm_cc_materialize_all(struct wasm_cc *c);
/* Before local slot `slot` is written: deferred reads of it take their value now. */
void wasm_cc_materialize_local(struct wasm_cc *c, uint32_t slot);
int wasm_cc_push(struct wasm_cc *c, wasm_vt type, struct wasm_cc_entry **out) MUST_CHECK;
/* Pushes a result and returns its home slot. */
int wasm_cc_push_result(struct wasm_cc *c, wasm_vt type, uint32_t *slot) MUST_CHECK;
/* Pops an operand of type want (T_UNKNOWN: any); *out receives the entry. */
int wasm_cc_pop(struct wasm_cc *c, wasm_vt want, struct wasm_cc_entry *out) MUST_CHECK;
/* The slot an operand can be read from (constants are written to their home first). */
uint32_t wasm_cc_use_slot(struct wasm_cc *c, struct wasm_cc_entry *e);
int wasm_cc_pop_types(struct wasm_cc *c, uint32_t n, const wasm_vt *types) MUST_CHECK;
int wasm_cc_push_types(struct wasm_cc *c, uint32_t n, const wasm_vt *types) MUST_CHECK;
/* Checks (without changing anything) that the top of the stack matches types[0..n). */
int wasm_cc_check_top(struct wasm_cc *c, uint32_t n, const wasm_vt *types) MUST_CHECK;
/* After a conditional branch the values left take the label's types (the validation
 * algorithm's pop-then-push; 3.0 subtyping makes them differ); in unreachable code missing
 * operands are added. */
int wasm_cc_refine_top(struct wasm_cc *c, uint32_t n, const wasm_vt *types) MUST_CHECK;

/* ----- compile_ctrl.c ----- */

/* Opens a control frame (block, loop, if, or the function body itself). */
int wasm_cc_push_ctrl(struct wasm_cc *c, uint8_t kind, uint32_t np, const wasm_vt *p, uint32_t nr,
		      const wasm_vt *res) MUST_CHECK;
/* Whether a <: b (types of this module). */
bool wasm_cc_sub(const struct wasm_cc *c, wasm_vt a, wasm_vt b);
/* Pops n values of types[0..n) into consecutive slots from *base (a call's arguments,
 * struct.new's fields). */
int wasm_cc_pop_args(struct wasm_cc *c, uint32_t n, const wasm_vt *types,
		     uint32_t *base) MUST_CHECK;
/* GC br_on_cast and br_on_cast_fail (sp S_BR_ON_CAST or S_BR_ON_CAST_FAIL). */
int wasm_cc_br_on_cast(struct wasm_cc *c, uint32_t sp) MUST_CHECK;
/* Compiles control instruction sp (enum special, S_UNREACHABLE..S_RETURN_CALL_INDIRECT); sets
 * *done at the function's final end. Returns 0, -EINVAL (error filled) or -ENOMEM. */
int wasm_cc_control(struct wasm_cc *c, uint32_t sp, bool *done) MUST_CHECK;

/* ----- compile_ops.c ----- */

/* Compiles any other instruction, given its opcode table index. */
int wasm_cc_operand(struct wasm_cc *c, uint32_t idx) MUST_CHECK;

/* ----- compile_gc.c ----- */

/* Compiles GC instruction sp (enum special, the opcodes.def GC block,
 * S_REF_EQ..S_EXTERN_CONVERT_ANY). */
int wasm_cc_gc(struct wasm_cc *c, uint32_t sp) MUST_CHECK;

#endif
