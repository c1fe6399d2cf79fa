/*
 * Private to the WebAssembly JIT (src/wasm/jit/): the store's JIT state (struct wasm_jit,
 * with the fields translated code reads at fixed offsets), the per-op layout table, the
 * translation state (struct tr) and what the files share: analyze.c (op layouts, the scan
 * of a function, the choice of cached slots), translate.c (the driver, operands, control,
 * calls and memory), translate_num.c (numeric ops) and runtime.c (stubs, helpers that
 * translated code calls, entry).
 *
 * Host registers in translated code:
 *   rbx  fp: the frame (64-bit slots, as the interpreter's)
 *   r12  the base of the instance's memory 0
 *   r13  memory 0's size in bytes (0 without memory) where accesses are checked
 *        explicitly; with a guard region (wasm_memory.guard: no bounds checks) one more
 *        cache register
 *   r14  the struct wasm_jit
 *   r15  the fuel ticks left in the current chunk (struct wasm_fuel.ticks)
 *   rbp, rsi, rdi, r8..r11 (and r13)  the cache: up to seven (eight) frame slots chosen
 *        per function live here from entry to return (written back around calls and at
 *        return, reloaded after calls)
 *   xmm4..xmm15  the float cache: up to twelve more slots, those only f32/f64 ops and
 *        the float-aware moves use (the same rules; STUB_CCALL keeps them too)
 *   rax, rcx, rdx, xmm0..xmm3  scratch
 * Host stack: every translated call level takes 16 bytes (return address, pad), so the
 * call depth is a function of rsp and one compare bounds both it and the host stack.
 */
#ifndef LODGE_WASM_JIT_TR_H
#define LODGE_WASM_JIT_TR_H

#include "wasm/jit/jit.h"

#include "jit/codebuf.h"
#include "jit/x86.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#if WASM_JIT_SUPPORTED

#define R_FP	   X86_RBX
#define R_MEM	   X86_R12
#define R_MSIZE	   X86_R13
#define R_CTX	   X86_R14
#define R_TICKS	   X86_R15
#define NCACHE	   8  /* general-purpose cache registers (the last only with a guard) */
#define NXCACHE	   12 /* xmm cache registers: xmm4..xmm15 */
#define XCACHE0	   4  /* the first of them */
#define NCACHE_ALL (NCACHE + NXCACHE)

/* The shared stubs at the start of the store's code buffer. */
enum {
	STUB_ENTER,  /* int enter(struct wasm_jit *j, const void *code, union wasm_slot *fp) */
	STUB_UNWIND, /* jumped to with eax = a trap: back to the innermost enter, or (an
		      * exception a translated frame of this run caught: catch_at set) on
		      * at the handler's pad in that frame */
	STUB_CCALL,  /* called: rax = C function (j, rcx, rdx, fp), cache registers kept */
	STUB_TRAP,   /* jumped to: eax = trap, rcx = function, edx = pc index */
	STUB_INTERP, /* called as a function's code: rax = the function, not translated */
	STUB_COUNT
};

/* A call in translated code: the return address (an offset from the function's start)
 * of each call instruction to another function's code, the Wasm position it stands for
 * (the call op's return pc, a word index, where the interpreter's stack map and resume
 * point are) and the callee frame's offset (slots past the caller's). */
struct wasm_jit_ret {
	uint32_t off, ret, base, call;
};

/* One translated function. */
struct wasm_jit_code {
	struct wasm_jit_code *next; /* the store's list */
	struct wasm_func *f;
	uintptr_t start, end; /* the code's address range (hot and cold parts) */
	const void *local, *foreign;
	uint32_t nosr;
	struct {
		uint32_t pc; /* word index of a loop's start */
		const void *at;
	} * osr; /* sorted by pc */
	uint32_t nrets;
	struct wasm_jit_ret *rets; /* sorted by off */
	/* the entries at try_table handlers' pads (an exception caught in this frame goes
	 * on there, every cached slot loaded from the frame), sorted by pc */
	uint32_t npads;
	struct {
		uint32_t pc; /* word index of the pad */
		const void *at;
	} * pads;
};

struct wasm_jit {
	/* ----- read and written by translated code (offsets in the code) ----- */
	union wasm_slot *stack_end; /* s->stack + s->stack_slots */
	uintptr_t floor;	    /* a call with rsp at or below this leaves the fast path */
	uintptr_t entry_rsp;	    /* rsp in the innermost enter stub, for unwinding */
	uintptr_t floor_span;	    /* 16 * the calls the innermost run may still nest */
	uintptr_t host_floor;	    /* the lowest rsp translated code may call at */
	int64_t ticks;		    /* r15 while C code runs */
	uintptr_t site_rsp;	    /* rsp in STUB_CCALL, for the caller's depth */
	uint64_t site_arg;	    /* an extra argument of the C call in progress */
	/* an exception caught by a translated frame of the innermost run (wasm_jit_c_throw
	 * and the calls that may pass one on): STUB_UNWIND goes on at catch_at (a pad
	 * entry, cleared there) with rsp = catch_rsp (the frame's body) and rbx = catch_fp */
	uintptr_t catch_at, catch_rsp;
	union wasm_slot *catch_fp;
	/* ----- C only ----- */
	struct wasm_store *s;
	struct wasm_fuel fuel; /* the chunk translated code counts in r15 */
	size_t depth0;	       /* call depth of the function the innermost enter ran */
	uintptr_t c_floor;     /* C may enter translated code above this stack address */
	pthread_t thread;      /* whose stack c_floor and host_floor describe */
	bool have_thread;
	struct jitbuf buf;
	uintptr_t stub[STUB_COUNT];
	struct wasm_jit_code *codes;
	/* dispatch word -> internal op, sorted by word (ambiguous words: WASM_OP_COUNT) */
	struct revmap {
		int32_t word;
		uint16_t op;
	} * rev;
	uint8_t *staging;
	size_t staging_cap;
	FILE *perf_map; /* LODGE_PERF_MAP set: symbols for perf (/tmp/perf-PID.map) */
	bool lzcnt, tzcnt, popcnt, sse41, bmi2;
	uint64_t ntranslated, nfailed, nentries; /* wasm_jit_stats */
	/* guarded accesses of all translated code (sorted), for the signal handler; it
	 * counts the traps it raised in guard_traps */
	struct wasm_jit_site *sites;
	size_t nsites, capsites;
	uint64_t guard_traps;
	/* every translated function by address (code only grows: appended in order), for
	 * the frame walk (wasm_jit_walk) */
	struct wasm_jit_code **byaddr;
	size_t nbyaddr, capbyaddr;
	/* where translated code left for the interpreter (WASM_TRAP_DEOPT) */
	struct wasm_func *deopt_func;
	uint32_t deopt_pc;
	union wasm_slot *deopt_fp;
	size_t deopt_nframes;
};

/* ----- op layouts (analyze.c) ----- */

/* Operand word kinds in a layout string: d a (a scalar slot written / read), D A (a v128
 * slot pair), i (an immediate word), o (a branch offset), x (ignored). */
enum jop_kind {
	J_NONE, /* not an op (a hole in the table) */
	J_UN,
	J_BIN,
	J_IBIN,
	J_IBIN_I,
	J_ICMP,
	J_ICMP_I,
	J_BR_ICMP,
	J_BR_ICMP_I,
	J_BRL_ICMP,
	J_BRL_ICMP_I,
	J_TBIN,
	J_TUN,
	J_LOAD,
	J_LOAD_IDX,
	J_STORE,
	J_TERN,
	J_EXTRACT,
	J_REPLACE,
	J_LANE_LOAD,
	J_LANE_STORE,
	J_FUSE_LOAD,
	J_FUSE_IMM,
	J_FUSE_BIN,
	J_XOP,
};

struct jop {
	uint8_t kind;
	uint8_t ta, tb, to; /* operand and result types (WASM_I32...), 0 when none */
	uint8_t align;	    /* memory rows: log2 of the access size */
	uint16_t base;	    /* the plain op of _I, BR_, BRL_ and fused variants */
	uint16_t in;	    /* fused: the inner op */
	char layout[10];
};

extern const struct jop wasm_jit_ops[WASM_OP_COUNT];

/* Builds j->rev from the interpreter's dispatch table. Returns 0 or -ENOMEM. */
int wasm_jit_revmap(struct wasm_jit *j) __attribute__((warn_unused_result));
/* The internal op of a code word, or WASM_OP_COUNT (unknown or ambiguous). */
unsigned wasm_jit_op_of(const struct wasm_jit *j, uint32_t word);
/* Words the op at pc takes (BR_TABLE depends on its count), or 0 past the end. */
uint32_t wasm_jit_op_len(const uint32_t *pc, unsigned op, uint32_t left);

/* ----- translation state ----- */

#define W_LABEL 1u /* a branch lands on this word */
#define W_LOOP	2u /* a loop back-edge lands here: an OSR entry */
#define W_START 4u /* an op starts here */
#define W_PAD	8u /* a try_table handler's pad: an entry for exceptions caught here */

enum cold_kind {
	COLD_TRAP, /* trap with `arg` at pc */
	COLD_TICK, /* a call's or back-edge's tick ran out */
	COLD_WRAP, /* an access whose folded address add may have wrapped */
	COLD_DEEP, /* a call at the depth floor */
	COLD_OSR,  /* the OSR entry of a loop */
};

/* Guard regions: a stretch of translated code [start, end) whose memory accesses may
 * fault, and where the signal handler sends the thread when one does (a COLD_TRAP stub,
 * which reports the trap at the access's op). Kept sorted by address. */
struct wasm_jit_site {
	uintptr_t start, end, to;
};

struct cold {
	uint8_t kind;
	uint8_t size;	/* COLD_WRAP: access bytes */
	uint32_t pc;	/* word index the C side reports (a trap's or tick's location) */
	uint32_t arg;	/* COLD_TRAP: the trap; COLD_WRAP: the address slot; COLD_DEEP with
			 * size 1: the cache entry of a self-call's result, reloaded */
	int32_t disp;	/* COLD_WRAP: the access's displacement */
	uint8_t *jump;	/* the rel32 to patch to the stub (NULL: a guarded access's, reached
			 * from the signal handler) */
	uintptr_t at;	/* where the stub was emitted */
	uintptr_t back; /* where the stub continues */
};

struct fixup {
	uint8_t *at;	 /* rel32 (or a table entry when table is set) */
	uint32_t target; /* word index */
	uintptr_t table; /* for br_table entries: the table's address (entries are relative) */
};

struct tr {
	struct wasm_jit *j;
	struct wasm_func *f;
	const struct wasm_code *code;
	const uint32_t *ops;
	struct x86_emit e;
	uint8_t *wflags;  /* per code word: W_* */
	uint16_t *opat;	  /* per code word: the op starting there */
	uint32_t *hostat; /* per code word: its code offset from e.base, once emitted */
	int8_t *sreg;	  /* per frame slot: its cache entry, or -1 */
	uint32_t cslot[NCACHE_ALL];
	int creg[NCACHE_ALL]; /* a general-purpose register, or (xmm entries) an xmm one */
	unsigned ncache;
	uint32_t xmm;	  /* the cache entries that are xmm registers */
	uint32_t xoff;	  /* xmm entries the current op sees in memory (not xmm-aware) */
	uint32_t written; /* cache entries some op writes (may be dirty at a label) */
	uint32_t dirty;	  /* cache entries changed since written back */
	bool has_mem;	  /* the instance has a memory */
	bool guard;	  /* its memory 0 has a guard region: r13 is a cache register */
	struct {
		uint32_t start, end, cold; /* code offsets from e.buf; the cold stub */
	} * sites;
	uint32_t nsites, capsites;
	struct cold *cold;
	uint32_t ncold, capcold;
	struct fixup *fix;
	uint32_t nfix, capfix;
	uintptr_t trap_tail; /* per function: rcx = the function, then STUB_TRAP */
	/* bounds already checked on this straight-line path: address slot -> the end of
	 * the checked range (forgotten at labels, calls and writes to the slot) */
	struct {
		uint32_t slot;
		uint64_t end;
	} checked[8];
	unsigned nchecked;
	/* cache entries whose register holds its i32 zero-extended on this straight-line
	 * path (guard_index made it so; forgotten as checked is) */
	uint32_t zext;
	uint32_t zext_new; /* those the current op's result makes so (tr_zext_result) */
	bool fail;	   /* an op or a case this translator does not cover */
	/* self-calls: the entry after the loads of the parameters cached in general-purpose
	 * registers (the caller passes them there); whether the function has a tail call
	 * (then a return may come from another function, with other registers) */
	uintptr_t self_reg;
	bool has_tail;
	/* the calls emitted so far (off: from e.buf; ret: the call op's word index until
	 * install makes it the return pc) */
	struct wasm_jit_ret *rets;
	uint32_t nrets, caprets;
};

/* analyze.c: scans the code (op starts, labels, loop heads) and picks the cached slots;
 * returns 0, -ENOTSUP (an unknown op) or -ENOMEM. */
int wasm_jit_analyze(struct tr *t) __attribute__((warn_unused_result));

/* Whether operand k (a layout index) of op may live in an xmm cache register: the
 * translator reads and writes it there only through the xmm-aware calls below. */
bool wasm_jit_xmm_ok(unsigned op, unsigned k);

/* translate.c. A slot in the xmm cache is reached only through tr_get, tr_put,
 * tr_get_xmm, tr_put_xmm, tr_xmm_rm and tr_xreg; an op that is not xmm-aware for it
 * finds it written back to memory (t->xoff) and reloaded after. tr_slot on an xmm slot
 * refuses the translation (t->fail) rather than read a stale frame slot. */
struct x86_rm tr_slot(struct tr *t, uint32_t slot);
int tr_reg(const struct tr *t, uint32_t slot);	/* general-purpose cache register or -1 */
int tr_xreg(const struct tr *t, uint32_t slot); /* xmm cache register or -1 */
void tr_get(struct tr *t, bool w, int reg, uint32_t slot);
void tr_put(struct tr *t, bool w, uint32_t slot, int reg);
void tr_get_xmm(struct tr *t, bool dbl, int xmm, uint32_t slot);
void tr_put_xmm(struct tr *t, bool dbl, uint32_t slot, int xmm);
/* An xmm/m operand for slot: its xmm cache register, its memory, or (cached in a
 * general-purpose register) a copy in `spare`. */
struct x86_rm tr_xmm_rm(struct tr *t, bool dbl, uint32_t slot, int spare);
/* The jump to a cold stub of `kind` at pc (word index), continuing at `back` (0: here). */
struct cold *tr_cold(struct tr *t, uint8_t kind, uint8_t *jump, uint32_t pc);
/* Branch to a trap of kind `trap` at pc when cc holds. */
void tr_trap_if(struct tr *t, enum x86_cc cc, enum wasm_trap trap, uint32_t pc);
/* The condition code of an integer compare op (its plain form), and the compare of the
 * op at pc: operand a against the slot or immediate at word `word_b` of the op. */
enum x86_cc tr_icmp_cc(unsigned base);
void tr_cmp(struct tr *t, uint32_t pc, unsigned op, uint32_t a, uint32_t word_b);
/* The op's i32 result in slot d was written to d's general-purpose cache register (if it
 * has one) by 32-bit instructions only, so zero-extended: guarded accesses through it
 * need no zero-extension until it is written again. */
void tr_zext_result(struct tr *t, uint32_t d);
/* Grows *arr (of *cap elements of size bytes) to hold need: 0 or -ENOMEM. */
int tr_grow(void **arr, uint32_t *cap, uint32_t need, size_t size);
/* Calls a per-op fallback for the op at pc (p: rdx holds the checked address). */
void tr_helper(struct tr *t, uint32_t pc, unsigned op, bool p);
/* Writes back the cached slots the op at pc reads / reloads those it writes. */
void tr_sync_reads(struct tr *t, uint32_t pc, unsigned op);
void tr_reload_writes(struct tr *t, uint32_t pc, unsigned op);

/* translate_num.c: the numeric op at pc; returns false when not inlined (the caller
 * then uses the per-op fallback). */
bool tr_numeric(struct tr *t, uint32_t pc, unsigned op);

/* runtime.c */
uint64_t wasm_jit_ccall_addr(const struct wasm_jit *j);
/* C functions translated code calls through STUB_CCALL: (j, f, pc index, fp) */
struct wasm_jit_pair {
	uint64_t a, b;
};
uint64_t wasm_jit_c_tick(struct wasm_jit *j, struct wasm_func *f, uint32_t idx,
			 union wasm_slot *fp);
struct wasm_jit_pair wasm_jit_c_wrap(struct wasm_jit *j, struct wasm_func *f, uint32_t idx,
				     union wasm_slot *fp);
uint64_t wasm_jit_c_deep(struct wasm_jit *j, struct wasm_func *f, uint32_t idx,
			 union wasm_slot *fp);
uint64_t wasm_jit_c_host(struct wasm_jit *j, struct wasm_func *f, uint32_t idx,
			 union wasm_slot *fp);
/* the host function j->site_arg, tail-called: its arguments already at fp */
uint64_t wasm_jit_c_tail_host(struct wasm_jit *j, struct wasm_func *f, uint32_t idx,
			      union wasm_slot *fp);
uint64_t wasm_jit_c_op(struct wasm_jit *j, struct wasm_func *f, uint32_t idx, union wasm_slot *fp);
uint64_t wasm_jit_c_misc(struct wasm_jit *j, struct wasm_func *f, uint32_t idx,
			 union wasm_slot *fp);
uint64_t wasm_jit_c_trap(struct wasm_jit *j, struct wasm_func *f, uint32_t idx,
			 union wasm_slot *fp);
uint64_t wasm_jit_c_type(struct wasm_jit *j, struct wasm_func *f, uint32_t idx,
			 union wasm_slot *fp);
/* THROW and THROW_REF: the exception, then the handler that takes it in a translated
 * frame of this run (catch_at set), else the exception's way out of the run */
uint64_t wasm_jit_c_throw(struct wasm_jit *j, struct wasm_func *f, uint32_t idx,
			  union wasm_slot *fp);
uint64_t wasm_jit_c_throw_ref(struct wasm_jit *j, struct wasm_func *f, uint32_t idx,
			      union wasm_slot *fp);
/* GC: the object ops (wasm_gc_exec, standing at the op), and the reference ops REF_I31,
 * I31_GET_S/U, REF_EQ, REF_TEST and REF_CAST as the interpreter does them; site_arg is
 * the op */
uint64_t wasm_jit_c_gc(struct wasm_jit *j, struct wasm_func *f, uint32_t idx, union wasm_slot *fp);
uint64_t wasm_jit_c_ref(struct wasm_jit *j, struct wasm_func *f, uint32_t idx, union wasm_slot *fp);

/* Makes sure the handler of faults in guarded accesses (SIGSEGV, SIGBUS) is installed,
 * once per process; faults it does not own go on to the handler before it. Returns 0 or
 * a negative errno (then the caller checks accesses explicitly). */
int wasm_jit_guard_init(void) __attribute__((warn_unused_result));

/* Translates t->f into the buffer (runtime.c calls it). Returns 0, -ENOTSUP, -ENOSPC
 * (the buffer is full), -ENOMEM. */
int wasm_jit_translate(struct wasm_jit *j, struct wasm_func *f);

#endif

#endif
