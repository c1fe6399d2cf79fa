/*
 * The WebAssembly engine's embedding API (WebAssembly core 2.0: MVP, multi-value, sign
 * extension, non-trapping float-to-int, bulk memory, reference types, fixed-width SIMD).
 *
 * Life cycle: wasm_module_load() decodes, validates and compiles a binary once; a module is
 * immutable afterwards and may be instantiated many times. A wasm_store is one execution
 * context (think: a process): it owns every instance, host function, memory, table and global
 * created in it, the value/call stacks and the limits (fuel, memory, stack). Destroying the
 * store frees all of them. No global state: any number of stores may live in one process,
 * each used by one thread at a time (wasm_store_interrupt() and pause/resume excepted).
 *
 * Values cross the API as 64-bit slots (union wasm_value): i32/i64/f32/f64 in the low bits,
 * funcref as a struct wasm_func pointer, externref as a non-zero uintptr_t (0 is null),
 * v128 as 16 bytes (two slots wide inside host calls).
 */
#ifndef LODGE_WASM_WASM_H
#define LODGE_WASM_WASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A guest (linear-memory) address; never a host pointer. */
typedef uint32_t wasm_addr_t;

enum wasm_valtype {
	WASM_I32 = 0x7f,
	WASM_I64 = 0x7e,
	WASM_F32 = 0x7d,
	WASM_F64 = 0x7c,
	WASM_V128 = 0x7b,
	WASM_FUNCREF = 0x70,
	WASM_EXTERNREF = 0x6f,
	WASM_EXNREF = 0x69, /* 3.0 exception handling: (ref null exn) */
	WASM_ANYREF = 0x6e, /* GC (3.0): an i31, struct or array reference, or null */
};

enum wasm_extern_kind {
	WASM_EXTERN_FUNC = 0,
	WASM_EXTERN_TABLE = 1,
	WASM_EXTERN_MEMORY = 2,
	WASM_EXTERN_GLOBAL = 3,
	WASM_EXTERN_TAG = 4, /* 3.0 exception handling */
};

/* Run-time traps, returned up the interpreter (never longjmp). */
enum wasm_trap {
	WASM_TRAP_NONE = 0,
	WASM_TRAP_UNREACHABLE,
	WASM_TRAP_MEM_OOB,
	WASM_TRAP_TABLE_OOB,
	WASM_TRAP_UNDEFINED_ELEM,
	WASM_TRAP_UNINIT_ELEM,
	WASM_TRAP_INDIRECT_TYPE,
	WASM_TRAP_DIV_ZERO,
	WASM_TRAP_INT_OVERFLOW,
	WASM_TRAP_INVALID_CONV,
	WASM_TRAP_STACK_EXHAUSTED,
	WASM_TRAP_FUEL,
	WASM_TRAP_INTERRUPTED,
	WASM_TRAP_NULL_REF,
	WASM_TRAP_HOST, /* a host function failed */
	WASM_TRAP_EXIT, /* a host function asked to end the program (WASI proc_exit) */
	/* threads proposal */
	WASM_TRAP_UNALIGNED_ATOMIC, /* an atomic access not aligned to its size */
	WASM_TRAP_UNSHARED,	    /* memory.atomic.wait on a memory that is not shared */
	/* no memory to compile a function at its first call (lazy compilation) */
	WASM_TRAP_NOMEM,
	WASM_TRAP_NULL_FUNC_REF, /* call_ref of null (3.0) */
	/* 3.0 exception handling: an exception no handler caught (the store holds it until
	 * the next call; wasm_trap_info says where it was thrown) */
	WASM_TRAP_EXCEPTION,
	WASM_TRAP_NULL_EXN_REF, /* throw_ref of null */
	WASM_TRAP_NULL_I31,	/* i31.get_s/u of null (3.0 GC) */
	WASM_TRAP_CAST,		/* ref.cast of a value not of the type (3.0 GC) */
	WASM_TRAP_NULL_STRUCT,	/* struct.get/set of null (3.0 GC) */
	WASM_TRAP_NULL_ARRAY,	/* an array instruction on null (3.0 GC) */
	WASM_TRAP_ARRAY_OOB,	/* an array index or range out of bounds (3.0 GC) */
	WASM_TRAP_GC_LIMIT,	/* a struct or array does not fit in the memory budget (3.0 GC) */
	WASM_TRAP_WASI_ALIGN,	/* a WASI call got a pointer not aligned for its type (witx) */
	WASM_TRAP_EXN_LIMIT,	/* a thrown exception does not fit in the memory budget (3.0) */
	/* a host function gave a blocking call up for a pause or an interrupt, to be made
	 * again (wasm_host_fn below); never returned by the library's own calls */
	WASM_TRAP_AGAIN,
};

/* The spec's wording for a trap ("out of bounds memory access"). */
const char *wasm_trap_message(enum wasm_trap trap);

/* Front-end error kinds, grouped by phase. */
enum wasm_error_kind {
	WASM_ERR_NONE = 0,
	WASM_ERR_MALFORMED,	 /* decode: the binary does not follow the format */
	WASM_ERR_INVALID,	 /* validate: well-formed but ill-typed */
	WASM_ERR_LIMIT,		 /* an implementation limit was exceeded */
	WASM_ERR_UNLINKABLE,	 /* instantiate: an import is missing or has the wrong type */
	WASM_ERR_UNINSTANTIABLE, /* instantiate: a trap while initialising (segments, start) */
	WASM_ERR_NOMEM,
};

/* Filled by the front end on failure: what, where (section, function, byte offset), why. */
struct wasm_error {
	enum wasm_error_kind kind;
	const char *section; /* "code", "import", ... or NULL */
	int64_t func;	     /* function index, or -1 */
	int64_t offset;	     /* byte offset in the module, or -1 */
	int64_t instr;	     /* start of the function-body instruction it was found in, or -1 */
	enum wasm_trap trap; /* for WASM_ERR_UNINSTANTIABLE */
	int exit_code;	     /* for trap == WASM_TRAP_EXIT (the program's u32 status) */
	char detail[256];    /* module-provided names in it are escaped (wasm_name_escape) */
};

/* Formats "section code, function 3, offset 0x1a2: type mismatch: ..." into buf. */
void wasm_error_format(const struct wasm_error *err, char *buf, size_t size);

/* Makes a module-provided name (name[0..len), any bytes) safe to show on a terminal:
 * printable ASCII and well-formed UTF-8 stay as they are; control characters, DEL,
 * invalid UTF-8 bytes, '\' and '"' become \xNN, \\ and \"; C1 controls and invisible
 * or bidirectional formatting characters become \u{NNNN}. The result, cut with "..." to
 * fit, is written NUL-terminated into buf (size bytes, at least 4 to hold anything).
 * Returns buf. Any thread; no state. */
const char *wasm_name_escape(const char *name, size_t len, char *buf, size_t size);

/* The deepest nesting of blocks (block, loop, if, try_table) in a function that Lodge
 * takes, binary or text: one more is refused (WASM_ERR_LIMIT; text: at the block) with
 * WASM_NESTING_MSG, whose %u is this limit. Deeper nesting only costs memory (the binary's
 * validator and the text parser keep their blocks on the heap, not the C stack); the
 * limit keeps one function's control stack bounded. */
#define WASM_MAX_NESTING 50000u
#define WASM_NESTING_MSG "blocks nested too deeply: more than %u (Lodge's limit, binary or text)"

/* The legacy exception-handling proposal's instructions, which WebAssembly 3.0 replaced by
 * try_table and Lodge refuses (binary and text): try 0x06, catch 0x07, rethrow 0x09,
 * delegate 0x18, catch_all 0x19. wasm_legacy_eh_name: the name of that one-byte opcode,
 * or NULL; wasm_legacy_eh_opcode: the opcode of the one named by name[0..len), or -1.
 * A refusal ends its message with WASM_LEGACY_EH_HINT. Any thread; no state. */
const char *wasm_legacy_eh_name(uint32_t opcode);
int wasm_legacy_eh_opcode(const char *name, size_t len);
#define WASM_LEGACY_EH_HINT "is not supported: use try_table (WebAssembly 3.0 exceptions)"

union wasm_value {
	uint32_t i32;
	uint64_t i64;
	float f32;
	double f64;
	uint8_t v128[16];
	struct wasm_func *func;
	uintptr_t ext;
};

struct wasm_module;
struct wasm_store;
struct wasm_instance;
struct wasm_func;
struct wasm_memory;
struct wasm_table;
struct wasm_global;
struct wasm_tag;

struct wasm_functype {
	uint32_t nparams;
	uint32_t nresults;
	const uint8_t *params; /* enum wasm_valtype each */
	const uint8_t *results;
};

#define WASM_DEFAULT_MAX_MEMORY (4ull << 30) /* wasm_limits.max_memory 0 */

struct wasm_limits {
	uint64_t fuel; /* 0: unlimited. One unit per call and per loop iteration. */
	/* The store's memory budget in bytes (0: 4 GiB): everything modules can make it
	 * allocate counts against it together: linear memories and tables (at their current
	 * size), the segments and per-instance arrays of each instance, the value stack and
	 * frames. Past it instantiation fails (WASM_ERR_LIMIT) and memory.grow/table.grow
	 * return -1. */
	uint64_t max_memory;
	/* Bytes of value stack (0: 4 MiB, or a sixteenth of max_memory if less); also bounds
	 * the call depth. It and the frame array (as large again) are charged to max_memory. */
	uint64_t stack_size;
};

/* ----- modules ----- */

/* Decodes and validates bytes[0..len), every function included, so a module that fails
 * validation is refused here. Each function is compiled to the interpreter's code at its
 * first call (from a copy of bytes the module keeps: it does not keep a reference to
 * bytes). Returns 0 and the module in *out, or a negative errno with *err filled
 * (-EINVAL for malformed/invalid input, -ENOMEM). Any thread. */
int wasm_module_load(const uint8_t *bytes, size_t len, struct wasm_module **out,
		     struct wasm_error *err) __attribute__((warn_unused_result));
/* wasm_module_load(), compiling every function at load (and keeping no copy of bytes). */
int wasm_module_load_eager(const uint8_t *bytes, size_t len, struct wasm_module **out,
			   struct wasm_error *err) __attribute__((warn_unused_result));
/* How many of the module's defined functions have been compiled so far (by any of its
 * instances), and how many it defines. */
void wasm_module_compiled(const struct wasm_module *m, uint32_t *compiled, uint32_t *defined);

/* Frees the module. Every instance of it must have been destroyed first. NULL is a no-op. */
void wasm_module_destroy(struct wasm_module *m);

/* Import and export descriptions, for linkers. Index ranges from 0 to count-1. */
uint32_t wasm_module_import_count(const struct wasm_module *m);
void wasm_module_import(const struct wasm_module *m, uint32_t i, const char **module,
			const char **name, enum wasm_extern_kind *kind);
/* The type of imported function i (NULL if import i is not a function). */
const struct wasm_functype *wasm_module_import_functype(const struct wasm_module *m, uint32_t i);

/* ----- stores ----- */

/* Creates an empty store with the given limits (NULL: defaults). Returns 0, -ENOMEM, or
 * -E2BIG when the value stack alone does not fit in max_memory. */
int wasm_store_create(const struct wasm_limits *limits, struct wasm_store **out)
	__attribute__((warn_unused_result));

/* Frees the store and everything created in it. NULL is a no-op. */
void wasm_store_destroy(struct wasm_store *s);

/* A store for another thread of the same program (wasi-threads): its own value stack and
 * frames (as large as parent's), the parent's limits, and the parent's memory budget:
 * everything it allocates is charged there, and returned when it is destroyed. Fuel is
 * the thread's own (it starts with the parent's limit). wasm_store_interrupt, pause and
 * resume on the parent reach every thread store, including those created later. A thread
 * store's instances may import the parent's shared memories and host functions. Destroy
 * every thread store before its parent. Any thread. Returns 0, -ENOMEM, or -E2BIG when
 * the stacks do not fit in what is left of the budget. */
int wasm_store_create_thread(struct wasm_store *parent, struct wasm_store **out)
	__attribute__((warn_unused_result));

/* Asks running code to stop with WASM_TRAP_INTERRUPTED at its next loop or call, in
 * the store and its thread stores. May be called from another thread (not from a signal
 * handler once thread stores exist: it takes their list's lock). */
void wasm_store_interrupt(struct wasm_store *s);
/* The async-signal-safe part of wasm_store_interrupt, for a signal handler: sets s's own
 * flag only (and wakes a host call polling s's wake fd, WASM_TRAP_AGAIN), so code running
 * in s stops at its next loop or call (a memory.atomic.wait within its 20 ms slice), but
 * code parked by wasm_store_pause is not woken and thread stores are not reached: once s's code has
 * stopped, its thread calls wasm_store_interrupt (wasi_threads_finish does) for them. */
void wasm_store_interrupt_flag(struct wasm_store *s);

/* Any thread: asks running code to park at its next interrupt check (a loop back-edge or
 * a call, at most a few thousand of them away) until wasm_store_resume or
 * wasm_store_interrupt. Parked code waits on a condition variable and uses no CPU; a host
 * call in progress (a WASI call blocking on input) finishes first, unless it gives up
 * (WASM_TRAP_AGAIN: WASI poll_oneoff does). Returns at once. */
void wasm_store_pause(struct wasm_store *s);
void wasm_store_resume(struct wasm_store *s);
/* True while code is parked. Any thread. */
bool wasm_store_parked(const struct wasm_store *s);

/* The program's monotonic clock, in ns (WASI's CLOCK_MONOTONIC): it stands still while the
 * store (the main thread's) is parked by a pause, and goes on from where a snapshot left
 * it after wasm_store_set_clock. Any thread of the store or its thread stores. */
uint64_t wasm_store_clock(const struct wasm_store *s);
/* Sets the clock's current reading to ns (a restore: the saved reading). */
void wasm_store_set_clock(struct wasm_store *s, uint64_t ns);

/* ----- exception handling (3.0) ----- */

/* Creates a tag of the given parameter types (no results) in the store, for a host to
 * export or to throw with. Returns 0, -EINVAL (results given), -E2BIG or -ENOMEM. */
int wasm_tag_create(struct wasm_store *s, const struct wasm_functype *type, struct wasm_tag **out)
	__attribute__((warn_unused_result));
/* For a host function: throws an exception of tag with its parameters in slots (one per
 * value as wasm_host_fn passes them, v128 two). Returns WASM_TRAP_EXCEPTION, which the
 * host function returns; Wasm handlers up the stack may catch it. WASM_TRAP_EXN_LIMIT
 * when the exception cannot be allocated. */
enum wasm_trap wasm_tag_throw(struct wasm_store *s, struct wasm_tag *tag, const uint64_t *slots);
/* The tag of the exception a call ended with (WASM_TRAP_EXCEPTION), or NULL. */
struct wasm_tag *wasm_store_exception_tag(const struct wasm_store *s);

/* ----- GC (3.0) ----- */

/* What a reference of the any hierarchy (anyref, eqref, structref, ...: a value the
 * store returned, live) is. *host receives a host value that any.convert_extern made an
 * anyref (the externref it was). Struct and array references stay valid only while the
 * store can reach them (a global, a table, or a call's arguments and results in use):
 * the collector may free them once a call that allocates runs. */
enum wasm_anyref_kind {
	WASM_ANYREF_NULL,
	WASM_ANYREF_I31,
	WASM_ANYREF_STRUCT,
	WASM_ANYREF_ARRAY,
	WASM_ANYREF_HOST,
};
enum wasm_anyref_kind wasm_anyref_kind(uintptr_t v, uintptr_t *host);
/* The anyref of host value h (any.convert_extern of externref h, h non-zero).
 * Returns 0, or -1 when it needed an allocation past the store's budget. */
int wasm_anyref_from_host(struct wasm_store *s, uintptr_t h, uintptr_t *out)
	__attribute__((warn_unused_result));
/* Keeps reference v (a struct, array or any other anyref or externref value the store
 * gave) alive across later calls until unpinned: the embedder's handles are roots of
 * the collector. Pins nest (each pin needs its unpin). Returns 0 or -ENOMEM. */
int wasm_anyref_pin(struct wasm_store *s, uintptr_t v) __attribute__((warn_unused_result));
void wasm_anyref_unpin(struct wasm_store *s, uintptr_t v);
/* Runs a collection now (roots: globals, tables, segments, pins; no call may be active). */
void wasm_store_gc(struct wasm_store *s);
/* Collections the store's GC heap has had (for tests and statistics). */
uint64_t wasm_store_gc_collections(const struct wasm_store *s);
/* Structs, arrays and boxes in the store's GC heap now: after wasm_store_gc, those its
 * roots reach (for tests and statistics). */
uint64_t wasm_store_gc_objects(const struct wasm_store *s);

/* Sets the fuel left (0 = unlimited) and reads what is left. */
void wasm_store_set_fuel(struct wasm_store *s, uint64_t fuel);
uint64_t wasm_store_fuel(const struct wasm_store *s);

/* The JIT tier (x86-64 hosts; elsewhere the interpreter runs everything). Functions start
 * in the interpreter and are translated to host code once hot: after `hot` units of work
 * (calls into the function, and loop iterations while it runs, sampled), so 1 translates
 * every function at its first call or loop; WASM_JIT_EAGER translates every function when
 * its instance is created; WASM_JIT_OFF keeps everything interpreted. Results, traps and
 * their locations, fuel, and every limit are the same whichever runs. The default is
 * WASM_JIT_HOT_DEFAULT; a change applies to code run afterwards. Turning the JIT on here
 * also sets up its state (a memfd code buffer) at once rather than at the first
 * instantiation, so a caller may restrict system calls (seccomp) after this call; when
 * that set-up fails the store interprets everything. */
#define WASM_JIT_OFF	     0u
#define WASM_JIT_EAGER	     UINT32_MAX
#define WASM_JIT_HOT_DEFAULT 1000u
void wasm_store_set_jit(struct wasm_store *s, uint32_t hot);

/* What the JIT tier has done in this store so far (all zero while it is off). */
struct wasm_jit_stats {
	uint64_t translated;  /* functions translated */
	uint64_t failed;      /* functions left to the interpreter (an op not covered, no room) */
	uint64_t entries;     /* times the interpreter or the API entered translated code */
	uint64_t code_bytes;  /* of the store's code buffer in use (shared stubs included) */
	uint64_t guard_traps; /* out-of-bounds traps raised by a guard region's fault */
};
void wasm_store_jit_stats(const struct wasm_store *s, struct wasm_jit_stats *st);

/* ----- host functions ----- */

/* What a host function sees of its caller. */
struct wasm_host_call {
	struct wasm_store *store;
	struct wasm_instance *caller; /* the instance whose code made the call (may be NULL) */
	void *user;		      /* the pointer given to wasm_func_create_host */
	int exit_code;		      /* set with WASM_TRAP_EXIT */
};

/* A host function reads its arguments from slots[] and writes its results there (each
 * i32/i64/f32/f64/ref value is one slot, v128 two). Returns WASM_TRAP_NONE or a trap, or
 * WASM_TRAP_AGAIN (below). */
typedef enum wasm_trap (*wasm_host_fn)(struct wasm_host_call *call, uint64_t *slots);

/* A host function that blocks (WASI poll_oneoff sleeping) need not hold back a pause or
 * an interrupt (wasm_store_pause, wasm_store_interrupt, wasm_store_interrupt_flag) asked
 * for meanwhile: it polls wasm_host_call_wake_fd too, which becomes readable at such a
 * request, and once wasm_host_call_held says one is pending it gives up with
 * WASM_TRAP_AGAIN, having had no effect the program could see (nothing written, its
 * slots as they were). The call is then made again with the same arguments: at once
 * after a resume, or by a restored snapshot, taken while the program is parked before
 * the call; an interrupt ends the run with WASM_TRAP_INTERRUPTED instead. The eventfd
 * is the calling thread's store's, made at the first call (-1 when it cannot be: then
 * nothing wakes the host function); the host function may read it empty (it is
 * nonblocking). */
int wasm_host_call_wake_fd(struct wasm_host_call *call);
bool wasm_host_call_held(const struct wasm_host_call *call);

/* Creates a host function owned by the store. The type is copied. Returns 0 or -ENOMEM. */
int wasm_func_create_host(struct wasm_store *s, const struct wasm_functype *type, wasm_host_fn fn,
			  void *user, struct wasm_func **out) __attribute__((warn_unused_result));

const struct wasm_functype *wasm_func_type(const struct wasm_func *f);

/* ----- host-created memories, tables, globals (e.g. the spec tests' "spectest") ----- */

/* Memories and tables are charged to the store's budget: these return 0, -E2BIG when
 * min does not fit in what is left of it, -EINVAL for min above max, -EFBIG for a table
 * above the implementation limit (10 million elements), or -ENOMEM. */
int wasm_memory_create(struct wasm_store *s, uint32_t min_pages, uint32_t max_pages, bool has_max,
		       struct wasm_memory **out) __attribute__((warn_unused_result));
/* A shared memory (the threads proposal), which always has a maximum. */
int wasm_memory_create_shared(struct wasm_store *s, uint32_t min_pages, uint32_t max_pages,
			      struct wasm_memory **out) __attribute__((warn_unused_result));
int wasm_table_create(struct wasm_store *s, enum wasm_valtype elem, uint32_t min, uint32_t max,
		      bool has_max, struct wasm_table **out) __attribute__((warn_unused_result));
/* The same with i64 indices (WebAssembly 3.0 memory64), for modules importing one. */
int wasm_table_create64(struct wasm_store *s, enum wasm_valtype elem, uint32_t min, uint32_t max,
			bool has_max, struct wasm_table **out) __attribute__((warn_unused_result));
int wasm_global_create(struct wasm_store *s, enum wasm_valtype type, bool mutable_,
		       union wasm_value init, struct wasm_global **out)
	__attribute__((warn_unused_result));

union wasm_value wasm_global_get(const struct wasm_global *g);
enum wasm_valtype wasm_global_type(const struct wasm_global *g);

/* ----- linking and instantiation ----- */

struct wasm_extern {
	enum wasm_extern_kind kind;
	union {
		struct wasm_func *func;
		struct wasm_table *table;
		struct wasm_memory *memory;
		struct wasm_global *global;
		struct wasm_tag *tag; /* 3.0: an exception tag (compared by identity) */
	} u;
};

/* Called once per import: fill *out and return 0, or return -ENOENT if unknown. */
typedef int (*wasm_resolve_fn)(void *ctx, const char *module, const char *name,
			       enum wasm_extern_kind kind, struct wasm_extern *out);

/* Instantiates m in s: resolves and type-checks imports, creates memories, tables and
 * globals, applies the element and data segments and runs the start function.
 * Returns 0 and the instance (owned by the store), or -EINVAL/-ENOMEM with *err filled:
 * WASM_ERR_UNLINKABLE for import problems, WASM_ERR_UNINSTANTIABLE (err->trap set) when
 * a segment or the start function trapped. In that case objects that were already
 * modified (imported tables, memories) keep the changes, as the spec requires. */
int wasm_instance_create(struct wasm_store *s, const struct wasm_module *m, wasm_resolve_fn resolve,
			 void *ctx, struct wasm_instance **out, struct wasm_error *err)
	__attribute__((warn_unused_result));

/* Looks up an export by name. Returns 0 or -ENOENT. */
int wasm_instance_export(struct wasm_instance *inst, const char *name, struct wasm_extern *out)
	__attribute__((warn_unused_result));

/* The same for a name given by length (Wasm names may contain NUL bytes). */
int wasm_instance_export_n(struct wasm_instance *inst, const char *name, size_t len,
			   struct wasm_extern *out) __attribute__((warn_unused_result));

/* The instance's memory 0 (exported or not), or NULL. */
struct wasm_memory *wasm_instance_memory(struct wasm_instance *inst);

/* ----- calls ----- */

/* Where a trap happened. */
struct wasm_trap_info {
	enum wasm_trap trap;
	int64_t func;	       /* function index in its module, or -1 */
	const char *func_name; /* from the name section or exports, or NULL; raw module */
	size_t func_name_len;  /* bytes (it may hold anything, NULs too: see wasm_name_escape) */
	int64_t offset;	       /* byte offset of the instruction in the module, or -1 */
	int exit_code;	       /* for WASM_TRAP_EXIT: the u32 status, converted to int */
};

/* Calls f with args (nparams values) and stores its results (nresults values).
 * Returns WASM_TRAP_NONE, or the trap with *info filled (info may be NULL).
 * Re-entrant: a host function may call back into the store. */
enum wasm_trap wasm_call(struct wasm_store *s, struct wasm_func *f, const union wasm_value *args,
			 union wasm_value *results, struct wasm_trap_info *info);

/* ----- linear memory access for hosts ----- */

/* Current size in bytes. */
uint64_t wasm_memory_size(const struct wasm_memory *mem);

/* Returns a host pointer to [addr, addr+len) if the whole range lies inside the memory,
 * else NULL. The pointer is valid until the memory grows (re-read after any call). */
void *wasm_memory_range(struct wasm_memory *mem, uint64_t addr, uint64_t len);

/* Grows by delta pages; returns the old size in pages, or -1 (as memory.grow) past the
 * memory's maximum or the store's budget. */
int64_t wasm_memory_grow(struct wasm_memory *mem, uint32_t delta);

#endif
