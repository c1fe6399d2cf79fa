/*
 * The WebAssembly JIT tier, as the rest of the engine sees it (exec.c, memory.c,
 * instance.c; never included from outside src/wasm/). A store with the JIT on owns one
 * struct wasm_jit: its W^X code buffer (jit/codebuf.h) with shared stubs, and the state
 * translated code runs with. Functions are translated per instance from their compiled
 * slot code (internal.h) into x86-64 code that keeps every interpreter semantic: the same
 * traps at the same code offsets, fuel and interrupt checks at calls and loop back-edges,
 * the value-stack and call-depth limits, and memory bounds. A function with an op the
 * translator does not cover stays interpreted as a whole. See docs/INTERNALS.md.
 */
#ifndef LODGE_WASM_JIT_JIT_H
#define LODGE_WASM_JIT_JIT_H

#include "wasm/internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wasm_jit;

/* Whether this host has a translator (x86-64). */
#if defined(__x86_64__)
#define WASM_JIT_SUPPORTED 1
#else
#define WASM_JIT_SUPPORTED 0
#endif

/* Creates the store's JIT state. Returns 0, -ENOTSUP on hosts without a translator, or a
 * negative errno (no memory, no memfd). The store keeps running interpreted on failure. */
int wasm_jit_create(struct wasm_store *s, struct wasm_jit **out)
	__attribute__((warn_unused_result));
void wasm_jit_destroy(struct wasm_jit *j);

/* Prepares the functions of a new instance for calls from translated code; with
 * s->jit_hot == WASM_JIT_EAGER also translates all of them. */
void wasm_jit_instance_init(struct wasm_jit *j, struct wasm_instance *inst);

/* Translates f (a function of this store, not yet translated). Returns 0, -ENOTSUP when
 * it uses an op the translator does not cover or its code would not fit (it stays
 * interpreted: f->jit_failed is set), -ENOMEM. */
int wasm_jit_compile(struct wasm_jit *j, struct wasm_func *f);

/* Counts one unit of hotness (n units) for f, translating it once it is hot. Returns
 * whether f has translated code now. */
bool wasm_jit_heat(struct wasm_jit *j, struct wasm_func *f, int64_t n);

/* Runs translated code: `code` is f's entry (f->jit->entry) or one of its loop entries
 * (wasm_jit_osr), fp its frame, depth its call depth (frames below it). Fuel comes from
 * and goes back to s->fuel. Returns WASM_TRAP_NONE (results in fp[0..]) or a trap whose
 * location s->trap already holds. */
enum wasm_trap wasm_jit_run(struct wasm_jit *j, const void *code, union wasm_slot *fp,
			    size_t depth);

/* The entry into f's translated code at loop header pc (a branch target of a loop
 * back-edge), or NULL. */
const void *wasm_jit_osr(const struct wasm_func *f, const uint32_t *pc);

/* Fills st for wasm_store_jit_stats. */
void wasm_jit_stats(const struct wasm_jit *j, struct wasm_jit_stats *st);

/* After wasm_jit_run returned WASM_TRAP_DEOPT: the function the innermost translated
 * frame ran, the pc (a loop's start, a call op or a host call op) and the frame where the
 * interpreter goes on, and its call depth: s->frames below it hold its callers (the
 * translated ones written there as interpreter frames). Its frame slots hold every value
 * (translated code wrote its cached slots back). */
void wasm_jit_deopted(const struct wasm_jit *j, struct wasm_func **f, const uint32_t **pc,
		      union wasm_slot **fp, size_t *nframes);

/* The frames of a stretch of translated code (a WASM_ACT_JIT whose code called out of
 * it: the JIT's C side notes where its innermost frame stands, in a), innermost first:
 * fn(ctx, f, pc, at_op, fp, depth) for f standing at pc (a call op's return pc, or with
 * at_op the start of a throw: the innermost frame only) on frame fp at call depth depth. Each level
 * is found from the return address on the host stack (a table per translated function). Returns
 * false when the walk did not end at the stretch's entry frame (cannot happen). */
typedef void (*wasm_jit_frame_fn)(void *ctx, struct wasm_func *f, const uint32_t *pc, bool at_op,
				  union wasm_slot *fp, size_t depth);
bool wasm_jit_walk(const struct wasm_jit *j, const struct wasm_act *a, wasm_jit_frame_fn fn,
		   void *ctx);

/* Leaving for the outermost interpreter run (a pause for a snapshot): when every
 * stretch of s->act is translated code or an interpreter run, the outermost being the
 * outermost run (no host function's C frame between), writes every frame of them to
 * s->frames as the interpreter's (translated ones at their calls' return pcs) and notes
 * that f goes on at pc on fp at call depth nframes (wasm_jit_deopted); then the caller
 * returns WASM_TRAP_DEOPT, which every run but the outermost passes on. Returns false
 * (nothing to do) otherwise. */
bool wasm_jit_deopt(struct wasm_jit *j, struct wasm_func *f, const uint32_t *pc,
		    union wasm_slot *fp, size_t nframes);

/* Whether the host stack has room here for C code to enter translated code. */
bool wasm_jit_stack_ok(struct wasm_jit *j);

/* ----- for the translator and its helpers (src/wasm/jit/) ----- */

/* A per-op fallback: computes the op at pc on frame fp exactly as the interpreter does;
 * p is the checked host address of memory rows. Returns a trap or WASM_TRAP_NONE. */
typedef enum wasm_trap (*wasm_jit_helper_fn)(union wasm_slot *fp, const uint32_t *pc, uint8_t *p);

/* The fallback for op, or NULL for ops that have none (control, calls, variables). */
wasm_jit_helper_fn wasm_jit_helper(enum wasm_op op);

#endif
