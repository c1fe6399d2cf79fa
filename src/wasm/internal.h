/*
 * Engine-internal definitions shared by the files of src/wasm/ (never included from outside):
 * the decoded module, the compiled code format, run-time objects (instances, functions,
 * memories, tables, globals), the store and the byte reader used by decoder and compiler.
 *
 * Compiled code is an array of 32-bit words. Each op is one word (its dispatch address
 * offset in computed-goto builds, its enum value in switch builds) followed by operand
 * words: frame slot indices (fp-relative, 64-bit slots), immediates, and branch offsets
 * relative to the op's first word. The layout of each op is given next to it in
 * xops.def or follows the class rules stated in opcodes.def.
 */
#ifndef LODGE_WASM_INTERNAL_H
#define LODGE_WASM_INTERNAL_H

#include "wasm/wasm.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WASM_PAGE_SIZE 65536u
#define WASM_MAX_PAGES 65536u
/* a guard region's span: 4 GiB of i32 addresses, 4 GiB of offsets, and room for the
 * widest access (16 bytes) past both */
#define WASM_GUARD_BYTES ((UINT64_C(8) << 30) + WASM_PAGE_SIZE)
#define WASM_MAX_LOCALS	 50000u	   /* implementation limit, as in browsers */
#define WASM_MAX_TABLE	 10000000u /* implementation limit on table sizes */

/* One 64-bit frame slot; v128 values take two consecutive slots. */
union wasm_slot {
	uint64_t i64;
	uint32_t i32;
	float f32;
	double f64;
	void *ref;
};

/* Internal op numbers: every value-producing row of opcodes.def plus the XOP rows. */
enum wasm_op {
#define OP(N) WASM_OP_##N,
#include "wasm/ops.def"
#undef OP
	WASM_OP_COUNT
};

/* ----- value types (3.0) ----- */

/* A value type as the validator sees it. A number or vector type is its type byte
 * (WASM_I32 ...). A reference type is its heap type's code in bits 0-7: an abstract heap
 * type's own byte (0x70 func, 0x6f extern), or WASM_HT_IDX with a type index in bits 9-31
 * (a concrete type: (ref $t)); bit 8 (WASM_VT_NONNULL) says the null value is excluded.
 * So (ref null func) is WASM_FUNCREF and (ref null extern) WASM_EXTERNREF, 2.0's bytes,
 * and equal types are equal numbers within a module. The GC proposal adds its abstract
 * heap types (any, eq, i31, struct, array, none, ...) as further codes and struct/array
 * types behind WASM_HT_IDX; wasm_vt_sub() is where their subtyping goes. */
typedef uint32_t wasm_vt;
#define WASM_VT_NONNULL	 0x100u
#define WASM_HT_IDX	 0x01u /* a type index in bits 9-31 */
#define WASM_HT_BOT	 0x02u /* validation only: the heap type of unreachable code */
#define WASM_HT_NOFUNC	 0x73u /* the bottom of func (ref.null nofunc) */
#define WASM_HT_NOEXTERN 0x72u /* the bottom of extern */
/* GC (3.0): the abstract heap types of the any hierarchy */
#define WASM_HT_ANY    0x6eu
#define WASM_HT_EQ     0x6du
#define WASM_HT_I31    0x6cu
#define WASM_HT_STRUCT 0x6bu
#define WASM_HT_ARRAY  0x6au
#define WASM_HT_NONE   0x71u /* the bottom of any */
/* GC storage types of struct and array fields beside the value types: packed i8, i16 */
#define WASM_PACK_I8	  0x78u
#define WASM_PACK_I16	  0x77u
#define WASM_VT_IDX_SHIFT 9
#define WASM_VT_MAX_TYPES (1u << 22) /* type indices must fit (an implementation limit) */

/* exception handling (3.0): exnref is (ref null exn); noexn is the bottom of exn */
#define WASM_HT_EXN   0x69u
#define WASM_HT_NOEXN 0x74u

static inline wasm_vt wasm_vt_ref(uint32_t ht, bool nullable)
{
	return ht | (nullable ? 0 : WASM_VT_NONNULL);
}

static inline wasm_vt wasm_vt_idx(uint32_t typeidx, bool nullable)
{
	return WASM_HT_IDX | typeidx << WASM_VT_IDX_SHIFT | (nullable ? 0 : WASM_VT_NONNULL);
}

static inline uint32_t wasm_vt_code(wasm_vt t)
{
	return t & 0xffu;
}

/* The heap type part of a reference type (code and index, without the null bit). */
static inline uint32_t wasm_vt_heap(wasm_vt t)
{
	return t & ~WASM_VT_NONNULL;
}

static inline uint32_t wasm_vt_index(wasm_vt t)
{
	return t >> WASM_VT_IDX_SHIFT;
}

static inline bool wasm_vt_is_ref(wasm_vt t)
{
	uint32_t c = wasm_vt_code(t);

	return c == WASM_FUNCREF || c == WASM_EXTERNREF || c == WASM_HT_IDX || c == WASM_HT_BOT ||
	       c == WASM_HT_NOFUNC || c == WASM_HT_NOEXTERN || c == WASM_HT_EXN ||
	       c == WASM_HT_NOEXN || c == WASM_HT_ANY || c == WASM_HT_EQ || c == WASM_HT_I31 ||
	       c == WASM_HT_STRUCT || c == WASM_HT_ARRAY || c == WASM_HT_NONE;
}

static inline bool wasm_vt_nullable(wasm_vt t)
{
	return !(t & WASM_VT_NONNULL);
}

/* ----- module (decoded form) ----- */

struct wasm_module;

/* The composite types a defined type may be (their binary forms). */
#define WASM_COMP_FUNC	 0x60u
#define WASM_COMP_STRUCT 0x5fu
#define WASM_COMP_ARRAY	 0x5eu
/* The most supertypes a type may have above it (an implementation limit, as in the
 * engines: a deeper chain is invalid, "subtype depth limit"). */
#define WASM_MAX_SUBTYPE_DEPTH 63u
#define WASM_NO_SUPER	       UINT32_MAX

/* A defined type (the name is 2.0's: every type was a function type). A function type:
 * pub has one byte per value (a reference as WASM_FUNCREF or WASM_EXTERNREF, the run-time
 * representation), vparams/vresults the full types. GC: a struct or array type has
 * nfields storage types (value types or WASM_PACK_I8/I16) in fields and their
 * mutability in fmut (an array one); every type may be final and declare a supertype. */
struct wasm_ftype {
	struct wasm_functype pub;
	uint32_t param_slots;
	uint32_t result_slots;
	const wasm_vt *vparams;
	const wasm_vt *vresults;
	const struct wasm_module *mod; /* whose type indices vparams/vresults use (or NULL) */
	bool has_idx;		       /* some value names a type index */
	uint32_t rec_start, rec_len;   /* its recursion group (a type of its own in 2.0) */
	uint8_t comp;		       /* WASM_COMP_* */
	bool final;
	uint32_t super; /* the declared supertype's index, or WASM_NO_SUPER */
	uint32_t depth; /* supertypes above it */
	uint32_t nfields;
	const wasm_vt *fields;
	const uint8_t *fmut;
};

enum wasm_cexpr_kind {
	WASM_CE_CONST,
	WASM_CE_GLOBAL,
	WASM_CE_FUNC,
	WASM_CE_NULL,
	WASM_CE_BINOP, /* in a program: the i32/i64 add, sub or mul whose opcode is idx */
	WASM_CE_EXPR,  /* a program of v[0] instructions at module->ceops[idx] (postfix) */
	WASM_CE_I31,   /* in a program: ref.i31 of the i32 on top (3.0 GC) */
	/* GC (3.0), in a program only: idx is the type; v[0] the values popped */
	WASM_CE_STRUCT_NEW,	    /* struct.new idx: its fields */
	WASM_CE_STRUCT_NEW_DEFAULT, /* struct.new_default idx */
	WASM_CE_ARRAY_NEW,	    /* array.new idx: a value and the length */
	WASM_CE_ARRAY_NEW_DEFAULT,  /* array.new_default idx: the length */
	WASM_CE_ARRAY_NEW_FIXED,    /* array.new_fixed idx v[0] */
	WASM_CE_ANY_CONVERT,	    /* any.convert_extern */
	WASM_CE_EXTERN_CONVERT,	    /* extern.convert_any */
};

/* The most values an extended constant expression may hold on its stack (an
 * implementation limit, WASM_ERR_LIMIT). */
#define WASM_CE_MAX_DEPTH 64u

/* A constant expression: one instruction (2.0), or a program of them (3.0's extended
 * constant expressions: i32/i64 add, sub and mul over the single instructions). */
struct wasm_cexpr {
	uint8_t kind;
	wasm_vt type;
	uint32_t idx;
	uint64_t v[2];
};

struct wasm_tabletype {
	wasm_vt elem;
	bool has_init;		/* 3.0: elements start as init's value (else null) */
	struct wasm_cexpr init; /* read after the table section's other fields */
	bool has_max;
	bool is64;	   /* 3.0 memory64: i64 indices */
	uint32_t min, max; /* limits past 2^32-1 (is64 only) are kept as 2^32-1 */
};

struct wasm_memtype {
	bool has_max;
	bool is64;	   /* 3.0 memory64: i64 addresses */
	bool shared;	   /* threads: shared between threads (has_max then) */
	uint64_t min, max; /* pages (above 65536 only for is64; never instantiable) */
};

struct wasm_globaldef {
	wasm_vt type;
	bool mut;
	struct wasm_cexpr init;
};

struct wasm_import {
	char *module;
	char *name;
	uint32_t modlen, namelen; /* names may contain NUL bytes */
	uint8_t kind;
	uint32_t idx; /* index in its own index space */
};

struct wasm_export {
	char *name;
	uint32_t namelen; /* names may contain NUL bytes */
	uint8_t kind;
	uint32_t idx;
};

enum wasm_seg_mode { WASM_SEG_ACTIVE, WASM_SEG_PASSIVE, WASM_SEG_DECLARATIVE };

struct wasm_elemseg {
	uint8_t mode;
	wasm_vt type;
	uint32_t table;
	struct wasm_cexpr offset;
	uint32_t n;
	struct wasm_cexpr *items;
};

struct wasm_dataseg {
	uint8_t mode;
	uint32_t mem;
	struct wasm_cexpr offset;
	uint32_t len;
	uint8_t *bytes;
};

/* Internal pc (word index) -> module byte offset, one entry per compiled instruction. */
struct wasm_pcmap {
	uint32_t pc;
	uint32_t off;
};

/* An access whose address add the compiler folded into its offset (see exec.c). */
struct wasm_wrapfix {
	uint32_t pc;  /* word index of the op */
	uint32_t imm; /* the folded addend */
};

/* A catch clause of a try_table (3.0 exception handling): an exception thrown by an op in
 * [start, end) (word indices) that the clause matches is caught there: its values go to
 * the slots from dst on and the interpreter goes on at pad (a branch to the label). The
 * innermost try_table is the one with the greatest start; its clauses are in order. */
enum wasm_catch_kind { WASM_CATCH, WASM_CATCH_REF, WASM_CATCH_ALL, WASM_CATCH_ALL_REF };

struct wasm_handler {
	uint32_t start, end;
	uint32_t pad;
	uint32_t dst;
	uint32_t tag; /* WASM_CATCH(_REF): the instance's tag index */
	uint8_t kind; /* enum wasm_catch_kind */
};

struct wasm_code {
	uint32_t *ops;
	uint32_t nops;
	uint32_t frame_slots; /* params + locals + deepest operand stack */
	uint32_t param_slots;
	uint32_t local_slots; /* declared locals (zeroed at entry) */
	struct wasm_pcmap *map;
	uint32_t nmap;
	struct wasm_wrapfix *wrap; /* sorted by pc */
	uint32_t nwrap;
	/* Where a snapshot may stand (wasm/snapshot.c checks restored frames against it),
	 * ascending: pc << 1 for a loop's start, pc << 1 | 1 for a call op (a tail call
	 * op too: a stack map keyed by its end, as a call's return, lists the operand
	 * entries below its arguments). */
	uint32_t *points;
	uint32_t npoints;
	struct wasm_handler *handlers; /* try_table clauses (the JIT leaves such code alone) */
	uint32_t nhandlers;
	/* Precise stack roots (gc.c): the frame slots that may hold a reference a collector
	 * follows (any, extern or exn hierarchy; funcrefs never), as slot numbers: the
	 * locals' (roots wherever the function stands) first, then each safepoint's operand
	 * entries (each list followed by what snapshots read, below; gc.c reads the first
	 * ngc_locals and each safepoint's n). Safepoints ascend by key: a call op's end (its
	 * return pc) << 1, or an allocating op's (or throw's) start << 1 | 1; one with
	 * nothing to list is left out. */
	uint32_t *gc_slots;
	uint32_t ngc_locals;
	struct wasm_safepoint *safepoints;
	uint32_t nsafepoints;
	/* Snapshots (wasm/snap/snapshot.c): each gc_slots entry's type; the locals holding
	 * function references (nfn_locals of them, after the ngc_locals roots), then those
	 * holding i32 or f32 (nnarrow_locals: the interpreter writes a 32-bit value's low
	 * half only, so a snapshot zeroes the upper one); in each safepoint, after its n
	 * roots, its nfn operand slots holding function references, its ndead operand
	 * entries not in their slot (read from a local or a constant: the slot holds
	 * whatever was there before) and its nnarrow entries holding i32 or f32. And the
	 * maps of the points a pause parks at (keyed ascending): a loop's start << 1 (its
	 * operand entries holding references, roots then function references, then those
	 * holding i32 or f32, and top, its operand stack's top slot), and a
	 * (return_)call_ref op's start << 1 | 1 (the slot of the reference it calls, of type
	 * (ref null T) for its type T); their slots in gc_slots after the safepoints'. */
	wasm_vt *gc_types;
	uint32_t nfn_locals;
	uint32_t nnarrow_locals; /* then the i32 and f32 locals (a snapshot zero-extends them) */
	struct wasm_safepoint *loop_maps;
	uint32_t nloop_maps;
	/* Lazy compilation (wasm_module_load): the body was validated at load, which set
	 * the frame's layout (frame_slots, param_slots, local_slots); the other fields above
	 * are set at its first call (wasm_code_compile), then ready, with release order. */
	uint32_t body, body_len; /* the body's place in the module's bytes */
	atomic_bool ready;
};

struct wasm_module {
	struct wasm_ftype *types;
	uint32_t ntypes;
	uint32_t ntypes_seen; /* type indices a value type may name so far (decoding) */
	uint8_t *typebuf;
	wasm_vt *vtypebuf;    /* the full types of every ftype's values */
	uint32_t *type_canon; /* first type index structurally equal to each type */
	uint32_t ncanon;      /* type_canon is known below this index (decoding) */
	struct wasm_import *imports;
	uint32_t nimports;
	uint32_t *func_type; /* type index of every function, imports first */
	uint32_t nfuncs, nfunc_imports;
	struct wasm_tabletype *tables;
	uint32_t ntables, ntable_imports;
	struct wasm_memtype *mems;
	uint32_t nmems, nmem_imports;
	struct wasm_globaldef *globals;
	uint32_t nglobals, nglobal_imports;
	struct wasm_export *exports;
	uint32_t nexports;
	uint32_t *tag_type; /* 3.0 exception handling: type index of every tag, imports first */
	uint32_t ntags, ntag_imports;
	bool has_start;
	uint32_t start;
	struct wasm_elemseg *elems;
	uint32_t nelems;
	struct wasm_dataseg *datas;
	uint32_t ndatas;
	struct wasm_cexpr *ceops; /* the programs of WASM_CE_EXPR constant expressions */
	uint32_t nceops, capceops;
	bool has_datacount;
	uint32_t datacount;
	struct wasm_code *codes;  /* one per defined function */
	uint8_t *declared;	  /* per function: ref.func allowed */
	char **func_names;	  /* per function, from the name section (may be NULL) */
	uint32_t *func_name_lens; /* their lengths (names may contain NUL bytes) */
	uint32_t nfunc_names;	  /* entries of both: nfuncs when the name section was read,
				   * which a name section before the function section makes
				   * smaller than the final nfuncs */
	uint32_t load_flags;	  /* WASM_LOAD_* */
	bool bad_code_count;	  /* code section count differs from the function section */
	/* lazy compilation: a copy of the binary (bodies are compiled from it), and the lock
	 * that orders the compilations of the module's functions (from any thread) */
	uint8_t *bytes;
	pthread_mutex_t compile_lock;
	bool has_lock;
	struct wasm_cc_keep *keep; /* the compiler's scratch arrays (under compile_lock) */
	atomic_uint ncompiled;	   /* functions compiled so far */
};

/* ----- run-time objects ----- */

enum wasm_obj_kind {
	WASM_OBJ_INSTANCE,
	WASM_OBJ_FUNC,
	WASM_OBJ_MEMORY,
	WASM_OBJ_TABLE,
	WASM_OBJ_GLOBAL,
	WASM_OBJ_TAG
};

/* Header of everything a store owns (singly linked, freed by wasm_store_destroy). */
struct wasm_obj {
	struct wasm_obj *next;
	uint8_t kind;
};

struct wasm_jit_code;

struct wasm_func {
	struct wasm_obj obj; /* used for host functions only */
	const struct wasm_ftype *type;
	struct wasm_instance *inst;   /* NULL for host functions */
	const struct wasm_code *code; /* NULL for host functions */
	wasm_host_fn host;
	void *user;
	uint32_t index;
	struct wasm_ftype own_type; /* host functions: the copied type */
	/* The JIT tier (wasm/jit/, functions of instances only): translated code calls a
	 * function through these, which lead into the interpreter until it is translated. */
	const void *jit_local;	   /* from code of the same instance (memory registers set) */
	const void *jit_foreign;   /* from anywhere else */
	struct wasm_jit_code *jit; /* the translation, or NULL */
	int64_t hot;		   /* units of work left before it is translated */
	bool jit_failed;	   /* not translatable: it stays interpreted */
};

struct wasm_table {
	struct wasm_obj obj;
	struct wasm_store *store;	/* charged for its elements */
	uint8_t elem;			/* WASM_FUNCREF or WASM_EXTERNREF (the representation) */
	wasm_vt vt;			/* the full element type, for import matching */
	const struct wasm_module *vmod; /* whose type indices vt uses (NULL: none) */
	bool has_max;
	bool is64; /* indexed with i64 (memory64), for import matching */
	uint32_t size, max;
	uint64_t *elems;
};

struct wasm_memory {
	struct wasm_obj obj;
	struct wasm_store *store; /* charged for its pages */
	uint8_t *base;
	uint64_t size; /* bytes */
	uint32_t pages;
	uint32_t max_pages; /* the declared maximum, or 65536 (the budget is checked apart) */
	uint64_t type_max;  /* the declared maximum, for import matching */
	bool is64;	    /* addressed with i64 (memory64), for import matching */
	bool has_max;
	size_t reserved; /* bytes of address space mapped at base */
	/* a guard region (memory32 only): base starts WASM_GUARD_BYTES of address space,
	 * inaccessible past size (pages become readable and writable as the memory grows,
	 * and base never moves), so that translated code needs no bounds check: any i32
	 * address plus any offset lands inside it (wasm/jit/runtime.c turns the fault into
	 * the trap). False where the reservation failed (RLIMIT_AS): explicit checks. */
	bool guard;
	/* atomic: a post-copy migration's pages are still arriving (wasm/postcopy.h): a
	 * host call's buffer is faulted in before the kernel meets it (wasm_memory_range) */
	bool postcopy;
	/* threads: a shared memory maps its maximum at creation, so base never moves, and
	 * keeps the waiters of memory.atomic.wait (atomic.c) under wait_lock */
	bool shared;
	pthread_mutex_t wait_lock;
	struct wasm_waiter *waiters; /* FIFO, each on its waiting thread's stack */
};

struct wasm_global {
	struct wasm_obj obj;
	uint8_t type;			/* the representation (wasm_vt_byte) */
	wasm_vt vt;			/* the full type, for import matching */
	const struct wasm_module *vmod; /* whose type indices vt uses (NULL: none) */
	bool mut;
	union wasm_slot v[2];
};

/* An exception tag (3.0): tags are compared by identity (a tag imported from another
 * instance is the same object). */
struct wasm_tag {
	struct wasm_obj obj;
	const struct wasm_ftype *type; /* params; mod's type typeidx (mod NULL: own_type) */
	const struct wasm_module *mod;
	uint32_t typeidx;
	struct wasm_ftype own_type; /* host tags: the copied type */
};

/* An exception (the value an exnref refers to): its tag and the tag's parameter values.
 * Exceptions belong to their store and are freed by its collector (exn.c). */
struct wasm_exn {
	struct wasm_exn *next; /* the store's list */
	struct wasm_tag *tag;
	uint32_t nslots;
	bool mark;
	union wasm_slot vals[];
};

struct wasm_instance {
	struct wasm_obj obj;
	struct wasm_store *store;
	const struct wasm_module *mod;
	struct wasm_func **funcs;
	struct wasm_table **tables;
	struct wasm_memory **mems;
	struct wasm_global **globals;
	struct wasm_memory *mem0;
	struct wasm_func *own_funcs;
	uint64_t **elem_items;
	uint32_t *elem_len; /* 0 once dropped */
	uint32_t *data_len; /* 0 once dropped */

	/* 3.0 exception handling */
	struct wasm_tag **tags;
	struct wasm_tag *own_tags; /* the module's own tags */
};

/* A saved caller context on the call stack. */
struct wasm_safepoint {
	uint32_t key;	   /* see struct wasm_code */
	uint32_t first, n; /* its roots: gc_slots[first..first + n) */
	uint32_t nfn;	   /* then its function references' slots */
	uint32_t ndead;	   /* then its entries not in their slot (safepoints only) */
	uint32_t top;	   /* the operand stack's top slot there (loop starts only) */
	uint32_t nnarrow;  /* then its entries holding i32 or f32 (not call_ref maps) */
};

struct wasm_frame {
	const uint32_t *pc;
	union wasm_slot *fp;
	struct wasm_func *func;
	struct wasm_instance *inst; /* func->inst, kept to spare RETURN a dependent load */
};

struct wasm_jit;

/* Precise stack roots (gc.c): every stretch of the value stack in use, innermost first
 * (s->act), each a C local of whoever entered it:
 * - WASM_ACT_INTERP, an interpreter run (exec.c run): its frames are s->frames[fr0..frn)
 *   (callers at their call ops) and, when fn is set, fn standing at pc on fp (a call's
 *   return pc, or the start of an allocating op or throw: at_op). run() sets these
 *   whenever it leaves for code that may collect (calls out, allocation, throw).
 * - WASM_ACT_JIT, translated code entered on base: whenever it calls out of translated
 *   code (jit/runtime.c) its innermost frame notes where it stands: fn at pc on fp (fn
 *   NULL: no frame of its own, fp its callee's), its body's host stack address jsp, the
 *   entry frame's body jtop and call depth jdepth; wasm_jit_walk finds every frame from
 *   there through the return addresses, and each is scanned with the interpreter's map
 *   of its position (translated code uses the interpreter's slots).
 * - WASM_ACT_HOST, a host function called with its arguments at base (type: its
 *   callee's): the reference arguments as passed, kept until it returns. */
enum { WASM_ACT_INTERP, WASM_ACT_JIT, WASM_ACT_HOST };
#define WASM_ACT_HOST_REFS 8
struct wasm_act {
	struct wasm_act *prev;
	uint8_t kind;
	bool at_op;
	bool top; /* INTERP: the outermost run (exec.c run's `top`) */
	union wasm_slot *base;
	struct wasm_func *fn;
	const uint32_t *pc;
	union wasm_slot *fp;
	size_t fr0, frn;
	uintptr_t jsp, jtop;		   /* JIT */
	size_t jdepth;			   /* JIT */
	const struct wasm_ftype *type;	   /* HOST */
	uint32_t nrefs;			   /* HOST: reference arguments kept in refs */
	uint64_t refs[WASM_ACT_HOST_REFS]; /* HOST: the first ones (the rest: at base) */
};

/* Where the outermost interpreter run stands while it may park (wasm/snapshot.c): set just
 * before a fuel refill or a host call, cleared after. fn NULL: not at such a point (inside
 * translated code, a nested run, or between checks). */
struct wasm_resume {
	struct wasm_func *fn;
	const uint32_t *pc;  /* where to go on: a loop's start, a call op, or after a host call */
	const uint32_t *ret; /* a host call's return pc (pc becomes ret once it returned) */
	union wasm_slot *fp;
	size_t nframes; /* frames in s->frames below fn's */
	bool ticked;	/* the tick at pc was counted (s->fuel is one too high) */
};

#define WASM_GC_NCLASS 16 /* size classes of GC objects in slabs (gc.c): 16 to 256 bytes */
struct wasm_gc_slab;

struct wasm_store {
	struct wasm_limits lim;
	uint32_t jit_hot;     /* wasm_store_set_jit(): WASM_JIT_OFF, a threshold, or EAGER */
	struct wasm_jit *jit; /* created with the first instance while the JIT is on */
	atomic_int interrupt;
	atomic_int pause;  /* wasm_store_pause: park at the next interrupt check */
	atomic_int parked; /* code is parked in wait_resumed() */
	/* an eventfd a blocking host function polls (wasm_host_call_wake_fd), made at its
	 * first use, -1 before: pause and interrupt requests write to it */
	atomic_int wake_fd;
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	/* the program's monotonic clock (wasm_store_clock), under pause_lock: the host's,
	 * less the time the store stood parked (ns, added as each park ends), plus an offset
	 * a restore sets */
	uint64_t parked_ns;
	uint64_t park_since; /* host ns the main thread's park began; 0: running */
	int64_t clock_off;
	uint64_t fuel; /* left, when lim.fuel != 0 */
	union wasm_slot *stack;
	size_t stack_slots;
	size_t sp; /* first slot not used by active calls */
	struct wasm_frame *frames;
	size_t max_frames;
	size_t nframes; /* frames in use by active calls */
	struct wasm_obj *objs;
	struct wasm_trap_info trap; /* where the last trap happened */
	uint64_t budget;	    /* bytes the store may allocate for modules (lim.max_memory) */
	uint64_t used;		    /* bytes charged so far (wasm_store_charge) */
	unsigned runs;		    /* interpreter runs (exec.c run) active on the thread */
	atomic_bool snap_points;    /* park only where wasm/snap/ can save the state (at.fn) */
	struct wasm_resume at;
	bool skip_start; /* instantiation leaves out the start function (a restore) */
	/* thread stores (wasm_store_create_thread): a thread store charges its parent's
	 * budget (`used` above is then its own share, returned at destroy); the parent's
	 * interrupt, pause and resume reach its threads, listed under kids_lock */
	struct wasm_store *parent;
	struct wasm_store *kids, *kid_next, *kid_prev;
	pthread_mutex_t kids_lock;
	/* 3.0 exception handling (exn.c): every exception of the store (collected with the
	 * GC objects, gc.c), the one in flight (thrown and not caught yet), and how many
	 * there may be before a throw collects (wasm_gc_due) */
	struct wasm_exn *exns;
	struct wasm_exn *exn;
	size_t nexns, exn_gc_at;
	/* 3.0 GC (gc.c): objects of at most WASM_GC_NCLASS * 16 bytes in slabs of one size
	 * class each (gc_slabs, sorted by address; gc_partial: per class, the slabs with a
	 * free slot), larger ones in an open-addressing set of gc_cap (a power of two, or
	 * 0) slots, gc_nlarge of them used; gc_n objects in all; bytes charged (slabs and
	 * large objects); bytes allocated since the last collection and the point of the
	 * next one */
	struct wasm_gc_slab **gc_slabs;
	size_t gc_nslabs, gc_capslabs;
	struct wasm_gc_slab *gc_partial[WASM_GC_NCLASS];
	struct wasm_gcobj **gc_set;
	size_t gc_cap, gc_nlarge, gc_n;
	uint64_t gc_bytes, gc_since, gc_next;
	uint64_t gc_collections; /* collections so far (tests, statistics) */
	bool gc_stress;		 /* the test build's LODGE_TEST_HOOK=gc-stress: collect at every
				  * allocation and throw (wasm_gc_stressed) */
	uint64_t *gc_pins;	 /* references the embedder holds (wasm_anyref_pin), roots */
	size_t gc_npins, gc_cappins;
	struct wasm_act *act; /* the innermost stretch of the value stack in use */
	/* the values an allocation is being made for (struct.new's fields, array.new's
	 * elements, a throw's values), roots while it may collect: hold_n values of
	 * hold_type's fields (a struct, or a tag's params: hold_params), or of its element
	 * type (an array) */
	const union wasm_slot *hold;
	const struct wasm_ftype *hold_type;
	uint32_t hold_n;
	uint8_t hold_kind; /* WASM_HOLD_* */
};

enum { WASM_HOLD_NONE, WASM_HOLD_FIELDS, WASM_HOLD_ELEMS, WASM_HOLD_PARAMS };

/* Whether a collection runs at every allocation and throw: only in the test build
 * (LODGE_TEST_HOOKS), with LODGE_TEST_HOOK=gc-stress, so that a root missing from a stack
 * map shows at once instead of when pressure happens to collect at that point. */
#ifdef LODGE_TEST_HOOKS
#define wasm_gc_stressed(s) ((s)->gc_stress)
#else
#define wasm_gc_stressed(s) false
#endif

/* Not a trap: translated code left for the interpreter so that a pause can park where a
 * snapshot can save the state (wasm_jit_deopted says where to go on). Never leaves exec.c. */
#define WASM_TRAP_DEOPT ((enum wasm_trap)100)

/* The running thread's side of wasm_store_pause: waits until resumed or interrupted. */
void wasm_store_wait_resumed(struct wasm_store *s);
/* The same wherever the code stands (parked where a snapshot may not be able to save the
 * state): for a host call given up (WASM_TRAP_AGAIN) that cannot be left here. */
void wasm_store_park(struct wasm_store *s);

/* ----- byte reader (decode.c) ----- */

struct wasm_reader {
	const uint8_t *p, *end;
	const uint8_t *base; /* start of the module, for offsets */
	struct wasm_error *err;
	const char *section;
	int64_t func;
	bool bounded; /* end is a section's or function body's end, not the module's */
};

int wasm_rd_fail(struct wasm_reader *r, enum wasm_error_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Fails with the spec's wording for reading past the end: "unexpected end" at the end of
 * the module, "unexpected end of section or function" inside a bounded reader. */
int wasm_rd_eof(struct wasm_reader *r);
int wasm_rd_u8(struct wasm_reader *r, uint8_t *out) __attribute__((warn_unused_result));
int wasm_rd_u32(struct wasm_reader *r, uint32_t *out) __attribute__((warn_unused_result));
int wasm_rd_u64(struct wasm_reader *r, uint64_t *out) __attribute__((warn_unused_result));
int wasm_rd_s32(struct wasm_reader *r, int32_t *out) __attribute__((warn_unused_result));
int wasm_rd_s33(struct wasm_reader *r, int64_t *out) __attribute__((warn_unused_result));
int wasm_rd_s64(struct wasm_reader *r, int64_t *out) __attribute__((warn_unused_result));
int wasm_rd_bytes(struct wasm_reader *r, size_t n, const uint8_t **out)
	__attribute__((warn_unused_result));
/* A value type (3.0: with (ref null? ht)); a type index must be below m->ntypes_seen. */
int wasm_rd_valtype(struct wasm_reader *r, const struct wasm_module *m, wasm_vt *out)
	__attribute__((warn_unused_result));
/* A heap type (s33: an abstract type's code or a type index below m->ntypes_seen) as
 * the nullable reference type to it. */
int wasm_rd_heaptype(struct wasm_reader *r, const struct wasm_module *m, wasm_vt *out)
	__attribute__((warn_unused_result));
/* A memarg: alignment exponent, memory index (3.0: 0 unless flag 2**6 says one follows)
 * and offset (64 bits: 3.0 memory64). */
int wasm_rd_memarg(struct wasm_reader *r, uint32_t *align, uint32_t *mem, uint64_t *offset)
	__attribute__((warn_unused_result));

static inline uint32_t wasm_type_slots(wasm_vt t)
{
	return t == WASM_V128 ? 2u : 1u;
}

static inline bool wasm_is_reftype(wasm_vt t)
{
	return wasm_vt_is_ref(t);
}

/* The run-time representation of a value of type t: its own byte for numbers and
 * vectors, WASM_FUNCREF or WASM_EXTERNREF for references. */
static inline uint8_t wasm_vt_byte(wasm_vt t)
{
	uint32_t c = wasm_vt_code(t);

	if (c == WASM_EXTERNREF || c == WASM_HT_NOEXTERN)
		return WASM_EXTERNREF;
	if (c == WASM_HT_EXN || c == WASM_HT_NOEXN)
		return WASM_EXNREF;
	if (wasm_vt_is_ref(t))
		return WASM_FUNCREF;
	return (uint8_t)t;
}

/* wasm_vt_byte with the module whose type indices t uses: WASM_ANYREF for the any
 * hierarchy (its abstract types and struct and array types). */
uint8_t wasm_vt_rep(const struct wasm_module *m, wasm_vt t);
/* Whether type index i of m is a function type (GC: not a struct or array type). */
static inline bool wasm_type_is_func(const struct wasm_module *m, uint32_t i)
{
	return m->types[i].comp == WASM_COMP_FUNC;
}

/* Whether a (of module ma) is a subtype of b (of module mb); T_UNKNOWN (0) is below
 * everything. Types of different modules compare structurally. */
bool wasm_vt_sub(const struct wasm_module *ma, wasm_vt a, const struct wasm_module *mb, wasm_vt b);
/* Whether reference value v (a struct wasm_func pointer for a function reference, 0 for
 * null) is a value of type want of module m: the checks for references that come from
 * outside validated code (the embedding API, snapshot files). */
bool wasm_ref_fits(uint64_t v, const struct wasm_module *m, wasm_vt want);
/* GC (gc.c): whether reference value v (null, an i31, a function or host reference) of
 * validated code is of type t of module m: ref.test and ref.cast. */
bool wasm_gc_ref_test(const struct wasm_module *m, uint64_t v, wasm_vt t);
/* Whether concrete types ia of ma and ib of mb are the same (iso-recursive equivalence). */
bool wasm_type_same(const struct wasm_module *ma, uint32_t ia, const struct wasm_module *mb,
		    uint32_t ib);

/* Fills the error (with the given location) and returns -EINVAL. */
int wasm_fail(struct wasm_error *err, enum wasm_error_kind kind, const char *section, int64_t func,
	      int64_t off, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* ----- loading with options (decode.c) ----- */

/* Compile without superinstructions or peephole rewrites: the code the plain translation
 * gives, for differential tests of the optimised code against it (tests/fuzz). */
#define WASM_LOAD_PLAIN 1u
/* Compile every function at load (wasm_module_load_eager) rather than at its first call. */
#define WASM_LOAD_EAGER 2u

/* wasm_module_load() with WASM_LOAD_* flags. */
int wasm_module_load_flags(const uint8_t *bytes, size_t len, uint32_t flags,
			   struct wasm_module **out, struct wasm_error *err)
	__attribute__((warn_unused_result));

/* ----- compiler (compile.c) ----- */

/* Reads one opcode (with its 0xfc/0xfd prefix) into an index of the compiler's opcode table.
 * Returns 0, or -EINVAL ("illegal opcode", malformed) when the instruction set has none. */
int wasm_rd_opcode(struct wasm_reader *r, uint32_t *idx) __attribute__((warn_unused_result));

/* Validates and compiles defined function fidx from the body at r->p..r->end into
 * m->codes[fidx - nfunc_imports]; with validate_only, validates it and sets only the
 * frame's layout there. Returns 0, -EINVAL or -ENOMEM. Called by one thread at a time
 * per module (it uses m->keep). */
int wasm_compile_func(struct wasm_module *m, uint32_t fidx, struct wasm_reader *r,
		      bool validate_only) __attribute__((warn_unused_result));
void wasm_code_fini(struct wasm_code *code);
void wasm_cc_keep_destroy(struct wasm_cc_keep *k);

/* Compiles function f's code (of an instance) if this is its first use; any thread.
 * Returns 0, or -ENOMEM (the module was validated at load: nothing else can fail). */
int wasm_code_compile(const struct wasm_func *f) __attribute__((warn_unused_result));

/* Whether code is compiled (a plain load on x86-64). */
static inline bool wasm_code_ready(const struct wasm_code *code)
{
	return atomic_load_explicit(&code->ready, memory_order_acquire);
}

/* ----- fuel and interrupts (exec.c) ----- */

/* Ticks: one per call and per loop back-edge taken, counted down in `ticks` (a local of
 * the interpreter, a register in translated code) and charged to s->fuel in chunks. A
 * tick that finds ticks < 0 calls wasm_fuel_refuel, which charges the chunk, traps
 * WASM_TRAP_FUEL when no fuel is left and checks the store's interrupt flag. Handing a
 * run over (to a host function, between the interpreter and translated code) syncs the
 * ticks used back to s->fuel first and starts a new chunk after, so fuel is exact
 * whoever counts it. */
struct wasm_fuel {
	bool on;	/* the store has a fuel limit */
	int64_t chunk;	/* ticks handed out by the last refuel or sync */
	int64_t ticks;	/* of those, left (a tick at 0 makes it -1: refuel) */
	int64_t period; /* the most ticks between two refuels */
};

/* Starts counting (from s->fuel) with chunks of at most `period` ticks. */
void wasm_fuel_start(struct wasm_store *s, struct wasm_fuel *f, int64_t period);
/* Charges the ticks used to s->fuel and starts a new chunk. */
void wasm_fuel_sync(struct wasm_store *s, struct wasm_fuel *f);
/* The tick that ran out: WASM_TRAP_FUEL, WASM_TRAP_INTERRUPTED or WASM_TRAP_NONE. */
enum wasm_trap wasm_fuel_refuel(struct wasm_store *s, struct wasm_fuel *f);

/* ----- interpreter (exec.c) ----- */

/* Per-op dispatch words: the value stored in code for op i (label offset or enum value). */
const int32_t *wasm_exec_dispatch(void);

/* Runs f with its arguments in s->stack[s->sp...]; results replace them.
 * Returns a trap or WASM_TRAP_NONE; on a trap s->trap says where. */
enum wasm_trap wasm_exec_call(struct wasm_store *s, struct wasm_func *f);

/* For the JIT tier (wasm/jit/). wasm_exec_interp runs f in the interpreter like
 * wasm_exec_call but without its entry tick (the caller counted the call), its frames
 * numbered from s->nframes; callers set s->sp and s->nframes. */
enum wasm_trap wasm_exec_interp(struct wasm_store *s, struct wasm_func *f);
/* Goes on from a saved point (wasm/snapshot.c): s->frames[0..from->nframes) filled, the
 * slots in place, s->sp and s->nframes 0. Returns like wasm_exec_call. */
enum wasm_trap wasm_exec_resume(struct wasm_store *s, const struct wasm_resume *from);
/* Records where a trap happened: in fn (NULL: none) at internal pc (NULL: unknown). */
void wasm_exec_record_trap(struct wasm_store *s, enum wasm_trap trap, struct wasm_func *fn,
			   const uint32_t *pc);
/* A host function call as the interpreter makes it: arguments and results at fp, calls
 * numbered from nframes. Does not record the trap location. A host function that gives
 * up for a pause (WASM_TRAP_AGAIN, wasm.h) is called again once resumed, parked before
 * it meanwhile: at the outermost run's point if it has one, where a snapshot can stand;
 * else, with `leave` (translated code, or an interpreter run inside it, which can leave
 * for the outermost run there) and snapshots on, WASM_TRAP_AGAIN is returned and the
 * caller makes the call again; else parked where it is. */
enum wasm_trap wasm_exec_call_host(struct wasm_store *s, struct wasm_func *callee,
				   struct wasm_instance *caller, union wasm_slot *fp,
				   size_t nframes, bool leave);
/* The exact address of an out-of-bounds-looking access at pc whose address add was
 * folded into its offset (see exec.c), or a value no access fits below. */
uint64_t wasm_exec_wrapped_ea(const struct wasm_code *code, const uint32_t *pc, uint32_t x,
			      uint32_t off);
/* Bulk memory and table ops of the op at pc: a trap or WASM_TRAP_NONE. */
enum wasm_trap wasm_exec_bulk(struct wasm_instance *inst, const uint32_t *pc, enum wasm_op op,
			      union wasm_slot *fp);

/* ----- exception handling (exn.c) ----- */

/* Throws a new exception of tag with its values at vals: s->exn. top is the end of the
 * value stack in use (the collection a throw may run takes its roots below it). Returns
 * WASM_TRAP_EXCEPTION, or WASM_TRAP_EXN_LIMIT (no memory for it in the budget or the
 * host). */
enum wasm_trap wasm_exn_throw(struct wasm_store *s, struct wasm_tag *tag,
			      const union wasm_slot *vals, const union wasm_slot *top);
/* A new exception of tag, its values zero, on the store's list (not thrown; no
 * collection runs): a restored snapshot's (wasm/snap/snapshot.c). Returns 0, -E2BIG (the
 * store's budget refuses it) or -ENOMEM. */
int wasm_exn_new(struct wasm_store *s, struct wasm_tag *tag, struct wasm_exn **out);
/* The handler of fn's code that catches s->exn thrown by the op at pc (NULL: none). */
const struct wasm_handler *wasm_exn_find(const struct wasm_func *fn, const uint32_t *pc,
					 const struct wasm_exn *x);
/* Catches s->exn with h in the frame fp: its values (and the exnref) to fp[h->dst...]. */
void wasm_exn_catch(struct wasm_store *s, const struct wasm_handler *h, union wasm_slot *fp);
/* Frees every exception (the store's end). Exceptions are collected with the GC objects:
 * wasm_gc_collect marks both, wasm_exn_sweep (gc.c's section) frees the unreachable. */
void wasm_exn_free_all(struct wasm_store *s);
/* Whether tag t matches an import of type typeidx of module m. */
bool wasm_tag_matches(const struct wasm_tag *t, const struct wasm_module *m, uint32_t typeidx);

/* ----- GC objects (gc.c) ----- */

/* A struct, an array or a box (3.0 GC). References of the any hierarchy are: 0 (null),
 * an odd word (an i31, compile_gc.c), a word whose low two bits are 10 (a host value h
 * internalized by any.convert_extern: h << 2 | 2, for h below 2^62), or the address of
 * one of these objects (8-aligned). A box stands for what has no such word: an i31
 * externalized (WASM_GC_BOX_I31: the externref the host sees) or a host value of 2^62 or
 * more internalized. Objects belong to their store and are freed by its collector. */
enum wasm_gc_kind { WASM_GC_STRUCT = 1, WASM_GC_ARRAY, WASM_GC_BOX_I31, WASM_GC_BOX_HOST };

struct wasm_gcobj {
	const struct wasm_ftype *type; /* struct and array types (NULL for boxes) */
	uint32_t len;		       /* array: elements; struct: 64-bit slots */
	uint8_t kind;		       /* enum wasm_gc_kind */
	uint8_t esize;		       /* array: bytes per element (1, 2, 4, 8, 16) */
	bool refs;		       /* array: the elements are references */
	bool mark;
	uint64_t data[]; /* struct: a slot per field (two for v128); array: the elements */
};

/* Storage kinds of a field or element (the ops' kind word): how it is read and written. */
enum wasm_gc_ek { EK_8S, EK_8U, EK_16S, EK_16U, EK_32, EK_64, EK_128 };

/* Runs the GC op at pc (the XOPs STRUCT_NEW..EXTERN_CONVERT_ANY) with frame fp; top is
 * the end of the value stack in use (the collector's roots lie below it). */
enum wasm_trap wasm_gc_exec(struct wasm_store *s, struct wasm_instance *inst, const uint32_t *pc,
			    enum wasm_op op, union wasm_slot *fp, const union wasm_slot *top);
/* Allocates a zeroed object of `bytes` data bytes (top NULL: no collection may run, as
 * while instantiating, whose values live in C). WASM_TRAP_GC_LIMIT past the budget. */
enum wasm_trap wasm_gc_alloc(struct wasm_store *s, const union wasm_slot *top, uint8_t kind,
			     const struct wasm_ftype *type, uint32_t len, uint64_t bytes,
			     struct wasm_gcobj **out);
/* A struct of type t (of its module) with its fields from vals (one slot each, v128 two). */
enum wasm_trap wasm_gc_struct_new(struct wasm_store *s, const union wasm_slot *top,
				  const struct wasm_ftype *t, const union wasm_slot *vals,
				  uint64_t *out);
/* An array of type t of n elements, each vals[0] (NULL: zero), or vals[i] (each true). */
enum wasm_trap wasm_gc_array_new(struct wasm_store *s, const union wasm_slot *top,
				 const struct wasm_ftype *t, uint32_t n,
				 const union wasm_slot *vals, bool each, uint64_t *out);
/* any.convert_extern and extern.convert_any (see struct wasm_gcobj). */
enum wasm_trap wasm_gc_internalize(struct wasm_store *s, const union wasm_slot *top, uint64_t e,
				   uint64_t *out);
enum wasm_trap wasm_gc_externalize(struct wasm_store *s, const union wasm_slot *top, uint64_t a,
				   uint64_t *out);
/* Whether v is the address of a live object of s. */
bool wasm_gc_is_obj(const struct wasm_store *s, uint64_t v);
/* A collection now, with the roots below top (NULL: no value stack in use). */
void wasm_gc_collect(struct wasm_store *s, const union wasm_slot *top);
/* Frees every object (the store's end). */
void wasm_gc_free_all(struct wasm_store *s);
/* Calls fn for every value the value stack holds that may be a reference of the any,
 * extern or exn hierarchy (s->act: precisely, from stack maps, for interpreter and
 * translated frames, and host-call arguments; top is not needed any more), and for the
 * values held for an allocation (s->hold). */
void wasm_gc_stack_roots(struct wasm_store *s, const union wasm_slot *top,
			 void (*fn)(void *, uint64_t), void *ctx);
/* Holds vals for an allocation (s->hold): the values of t's fields (WASM_HOLD_FIELDS),
 * n slots of its element type (WASM_HOLD_ELEMS), or of a tag's params (WASM_HOLD_PARAMS);
 * the caller sets s->hold_kind back to WASM_HOLD_NONE after. */
void wasm_gc_hold(struct wasm_store *s, const union wasm_slot *vals, const struct wasm_ftype *t,
		  uint32_t n, uint8_t kind);
/* A host call's reference arguments (at args, of its callee's type t) into a. */
void wasm_gc_host_args(struct wasm_act *a, const struct wasm_ftype *t, const union wasm_slot *args);
/* Parameter i's type of t (a host function's or host tag's type has only its bytes). */
wasm_vt wasm_gc_param_type(const struct wasm_ftype *t, uint32_t i);
/* Calls fn for the values of exception x that are references of its tag's type. */
void wasm_exn_each_ref(const struct wasm_exn *x, void (*fn)(void *, uint64_t), void *ctx);
/* Whether values of type t (of module m, or NULL) are roots: references that are no
 * function references. */
bool wasm_gc_root_type(const struct wasm_module *m, wasm_vt t);
/* Frees the exceptions the collector left unmarked and unmarks the rest (gc.c's
 * collection, after marking objects and exceptions together): the survivors' bytes. */
uint64_t wasm_exn_sweep(struct wasm_store *s);
/* Whether the next allocation or throw collects first (the bytes allocated and thrown
 * since the last collection reach its limit, the exceptions have doubled since it, or
 * the test build's gc-stress). */
bool wasm_gc_due(const struct wasm_store *s);
/* Counts bytes of a new object or exception toward the next collection. */
void wasm_gc_allocated(struct wasm_store *s, uint64_t bytes);
/* The storage kind of a struct field or array element type. */
enum wasm_gc_ek wasm_gc_ek(wasm_vt t, bool sign);

/* ----- the threads proposal's atomics (atomic.c) ----- */

/* What each 0xFE code of atomics.def is (kind) and its access size (log2 bytes): one
 * table for the interpreter (atomic.c) and the JIT (jit/translate.c). */
enum wasm_akind {
	AK_NONE,
	AK_LOAD,
	AK_STORE,
	AK_RMW_ADD,
	AK_RMW_SUB,
	AK_RMW_AND,
	AK_RMW_OR,
	AK_RMW_XOR,
	AK_RMW_XCHG,
	AK_CMPXCHG,
	AK_WAIT,
	AK_NOTIFY,
	AK_FENCE,
};
struct wasm_atomic_row {
	uint8_t kind, log2;
};
#define WASM_ATOMIC_CODES 0x50
extern const struct wasm_atomic_row wasm_atomic_rows[WASM_ATOMIC_CODES];

/* The atomic access 0xFE code (a load, store, rmw or cmpxchg row of atomics.def) at
 * effective address ea of the memory mem[0..msize): v is the operand (cmpxchg: the
 * replacement, expect the expected value), *out the value loaded or the old value. Traps:
 * WASM_TRAP_UNALIGNED_ATOMIC, WASM_TRAP_MEM_OOB. Any thread may call it. */
enum wasm_trap wasm_atomic_access(uint8_t *mem, uint64_t msize, uint32_t code, uint64_t ea,
				  uint64_t v, uint64_t expect, uint64_t *out);
/* memory.atomic.wait32 (wide false) / wait64 at ea of m: *out = 0 (woken by a notify), 1
 * (the value was not expect), 2 (timeout_ns passed; negative: no timeout). Blocks the
 * calling thread; the store's interrupt (--timeout) ends the wait with
 * WASM_TRAP_INTERRUPTED. Traps: WASM_TRAP_UNSHARED (m is not shared), unaligned, out of
 * bounds. */
enum wasm_trap wasm_atomic_wait(struct wasm_store *s, struct wasm_memory *m, bool wide, uint64_t ea,
				uint64_t expect, int64_t timeout_ns, uint32_t *out);
/* memory.atomic.notify: wakes up to count waiters at ea of m, oldest first; *out = how
 * many (always 0 for an unshared memory, which nobody can wait on). */
enum wasm_trap wasm_atomic_notify(struct wasm_memory *m, uint64_t ea, uint32_t count,
				  uint32_t *out);
/* The shared-memory state of m (init: 0 or -errno) and its end. */
int wasm_atomic_mem_init(struct wasm_memory *m) __attribute__((warn_unused_result));
void wasm_atomic_mem_fini(struct wasm_memory *m);

/* ----- memories and tables (memory.c) ----- */

/* The store's memory budget. charge returns 0, or -E2BIG (charging nothing) when bytes do
 * not fit in what is left; refund gives bytes back after an allocation that failed. */
int wasm_store_charge(struct wasm_store *s, uint64_t bytes) __attribute__((warn_unused_result));
void wasm_store_refund(struct wasm_store *s, uint64_t bytes);
uint64_t wasm_store_budget_left(const struct wasm_store *s);

/* Return 0, -E2BIG (over the budget), -EINVAL (min above max), -EFBIG (table above
 * WASM_MAX_TABLE) or -ENOMEM. */
int wasm_memory_alloc(struct wasm_store *s, uint32_t min, uint32_t max, bool has_max, bool shared,
		      bool is64, struct wasm_memory **out) __attribute__((warn_unused_result));
/* memory.grow: returns the old page count or -1. */
int64_t wasm_memory_do_grow(struct wasm_memory *mem, uint32_t delta);
int wasm_table_alloc(struct wasm_store *s, uint8_t elem, uint32_t min, uint32_t max, bool has_max,
		     struct wasm_table **out) __attribute__((warn_unused_result));
/* table.grow: returns the old size or -1. */
int64_t wasm_table_do_grow(struct wasm_table *t, uint32_t delta, uint64_t init);
void wasm_store_link(struct wasm_store *s, struct wasm_obj *o, uint8_t kind);
/* With the JIT on, creates the store's JIT state on first use and prepares inst's
 * functions (inst NULL: every instance's). Returns 0, or -ENOMEM (the store then runs
 * interpreted from now on); a host without a translator just turns the JIT off. */
int wasm_store_jit_prepare(struct wasm_store *s, struct wasm_instance *inst)
	__attribute__((warn_unused_result));

/* Structural function type equality. */
bool wasm_ftype_equal(const struct wasm_ftype *a, const struct wasm_ftype *b);
/* Whether a function of type a may be used as one of type b: the same type, or (GC) a
 * declared subtype of it (import matching, call_indirect's check). */
bool wasm_ftype_match(const struct wasm_ftype *a, const struct wasm_ftype *b);

/* Function name for messages (name section, else an export name), or NULL; its length in
 * *len. Raw module bytes: escape it (wasm_name_escape) before showing it. */
const char *wasm_module_func_name(const struct wasm_module *m, uint32_t fidx, size_t *len);

#endif
