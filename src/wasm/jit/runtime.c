/*
 * The JIT tier's run-time side: the store's code buffer with its shared stubs, entering
 * translated code from C (wasm_jit_run) and the C functions translated code calls for
 * what it does not do inline: fuel refills, traps, calls into the interpreter and to host
 * functions, calls at the host-stack floor, the exact address of a wrapped folded access,
 * per-op fallbacks, memory.grow and the bulk ops. Every one records a trap where the
 * interpreter would (the function and the op's code position) before translated code
 * unwinds to its innermost entry.
 *
 * Unwinding: a trap in translated code resets rsp to the innermost STUB_ENTER (whose
 * frame pointer the store's JIT state holds) and returns the trap from there; the frames
 * it drops are translated frames only (return address and pad), never C frames, because
 * every C function that runs translated code enters it through its own STUB_ENTER.
 *
 * The host stack: translated calls nest on the thread's stack, 16 bytes a level, down to
 * a floor (j->floor) kept a reserve above the stack's end; a call at the floor either is
 * past the store's call-depth limit (the interpreter's frame count: a trap, exactly where
 * the interpreter traps) or runs its callee in the interpreter, which uses its own
 * frame array. C code enters translated code only above j->c_floor.
 */
#include "wasm/jit/tr.h"

#include "core/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if WASM_JIT_SUPPORTED

#include <cpuid.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <ucontext.h>

#define JIT_BUF_SIZE	(128u << 20) /* address space; pages are allocated when written */
#define STUBS_MAX	1024	     /* bytes of the shared stubs' code, at most */
#define JIT_TICK_PERIOD 10000
#if defined(__SANITIZE_ADDRESS__)
#define STACK_RESERVE (2u << 20) /* C frames below the floor: helpers, the interpreter */
#else
#define STACK_RESERVE (512u << 10)
#endif
#define C_ROOM		     (64u << 10) /* at least this much room for translated frames on entry */
#define MAIN_STACK_UNLIMITED (8u << 20)	 /* the main stack assumed without RLIMIT_STACK */

#define CTX(field) x86_m(R_CTX, (int32_t)offsetof(struct wasm_jit, field))

/* ----- helpers for the C functions below ----- */

static const uint32_t *pc_of(struct wasm_func *f, uint32_t idx)
{
	return f->code->ops + idx;
}

static void record(struct wasm_jit *j, enum wasm_trap t, struct wasm_func *f, uint32_t idx)
{
	if (t != WASM_TRAP_EXIT)
		wasm_exec_record_trap(j->s, t, f, pc_of(f, idx));
}

/* The call depth of translated code whose body runs at rsp `body`. */
static size_t depth_of(const struct wasm_jit *j, uintptr_t body)
{
	return j->depth0 + (j->entry_rsp - 16 - body) / 16;
}

/* Hands the ticks translated code used back to s->fuel (before C code runs Wasm code or a
 * host function), and starts a new chunk after. */
static void fuel_out(struct wasm_jit *j)
{
	j->fuel.ticks = j->ticks;
	wasm_fuel_sync(j->s, &j->fuel);
}

static void fuel_in(struct wasm_jit *j)
{
	j->fuel.chunk = j->fuel.ticks = 0;
	wasm_fuel_sync(j->s, &j->fuel);
	j->ticks = j->fuel.ticks;
}

static enum wasm_trap tick(struct wasm_jit *j)
{
	enum wasm_trap t;

	j->fuel.ticks = j->ticks;
	t = wasm_fuel_refuel(j->s, &j->fuel);
	j->ticks = j->fuel.ticks;
	return t;
}

/* While a pause for a snapshot waits (see deopt_here below), ends the tick chunk (keeping the fuel
 * exact: the ticks used stay charged), so that the next call or back-edge comes back to C: a loop
 * that spends its time in calls reaches its back-edge's refill, where it can leave, at once. */
static void hurry(struct wasm_jit *j)
{
	struct wasm_store *s = j->s;

	if (!atomic_load_explicit(&s->snap_points, memory_order_relaxed) ||
	    !atomic_load_explicit(&s->pause, memory_order_relaxed))
		return;
	j->fuel.chunk -= j->fuel.ticks;
	j->fuel.ticks = 0;
	j->ticks = 0;
}

/* Runs f in the interpreter on frame fp at call depth `depth`. */
static enum wasm_trap interp(struct wasm_jit *j, struct wasm_func *f, union wasm_slot *fp,
			     size_t depth)
{
	struct wasm_store *s = j->s;
	size_t sp = s->sp, nframes = s->nframes;
	enum wasm_trap t;

	fuel_out(j);
	s->sp = (size_t)(fp - s->stack);
	s->nframes = depth;
	t = wasm_exec_interp(s, f);
	s->sp = sp;
	s->nframes = nframes;
	fuel_in(j);
	hurry(j);
	return t;
}

/* The words of the call op at idx of f's code (CALL, CALL_LOCAL, CALL_INDIRECT, CALL_REF). */
static uint32_t call_len(const struct wasm_jit *j, struct wasm_func *f, uint32_t idx)
{
	const uint32_t *pc = pc_of(f, idx);

	return wasm_jit_op_len(pc, wasm_jit_op_of(j, pc[0]), f->code->nops - idx);
}

/* The callee and its frame of the call op at pc (CALL, CALL_LOCAL, CALL_INDIRECT,
 * CALL_REF). */
static struct wasm_func *callee_of(struct wasm_jit *j, struct wasm_func *f, const uint32_t *pc,
				   union wasm_slot *fp, union wasm_slot **nfp)
{
	struct wasm_instance *inst = f->inst;

	switch (wasm_jit_op_of(j, pc[0])) {
	case WASM_OP_CALL:
		*nfp = fp + pc[2];
		return inst->funcs[pc[1]];
	case WASM_OP_CALL_LOCAL:
		*nfp = fp + pc[4];
		return &inst->own_funcs[pc[3]];
	case WASM_OP_CALL_REF: /* not null: checked */
		*nfp = fp + pc[2];
		return (struct wasm_func *)fp[pc[1]].ref;
	default: /* CALL_INDIRECT, its checks done */
		*nfp = fp + pc[4];
		return (struct wasm_func *)(uintptr_t)inst->tables[pc[2]]->elems[fp[pc[3]].i32];
	}
}

/* ----- where translated frames stand: the frame walk ----- */

/* Where the innermost translated frame of the running stretch (s->act, a WASM_ACT_JIT:
 * C helpers run with no inner stretch) stands as it calls out: f at pc on fp with its
 * body at host stack address body, or (f NULL) no frame of its own, fp being its callee's
 * frame and body 16 bytes below its caller's body. wasm_jit_walk reads it. */
static void stand(struct wasm_jit *j, struct wasm_func *f, const uint32_t *pc, union wasm_slot *fp,
		  uintptr_t body)
{
	struct wasm_act *a = j->s->act;

	a->fn = f;
	a->pc = pc;
	a->fp = fp;
	a->at_op = false;
	a->jsp = body;
	a->jtop = j->entry_rsp - 16;
	a->jdepth = j->depth0;
}

/* The call whose return address is r, and its function: a binary search of the
 * translated functions by address, then of the function's calls. NULL when r is no call
 * of translated code. */
static const struct wasm_jit_ret *ret_at(const struct wasm_jit *j, uintptr_t r,
					 struct wasm_func **f)
{
	size_t lo = 0, hi = j->nbyaddr;
	const struct wasm_jit_code *c;
	uint32_t off, a = 0, b;

	while (lo < hi) { /* the last function starting at or below r */
		size_t mid = (lo + hi) / 2;
		if (j->byaddr[mid]->start <= r)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || r >= (c = j->byaddr[lo - 1])->end)
		return NULL;
	off = (uint32_t)(r - c->start);
	b = c->nrets;
	while (a < b) {
		uint32_t mid = (a + b) / 2;
		if (c->rets[mid].off < off)
			a = mid + 1;
		else if (c->rets[mid].off > off)
			b = mid;
		else {
			*f = c->f;
			return &c->rets[mid];
		}
	}
	return NULL;
}

bool wasm_jit_walk(const struct wasm_jit *j, const struct wasm_act *a, wasm_jit_frame_fn fn,
		   void *ctx)
{
	uintptr_t body = a->jsp;
	union wasm_slot *fp = a->fp;

	if (!body) /* it never called out: nothing can have looked */
		return true;
	if (a->fn)
		fn(ctx, a->fn, a->pc, a->at_op, fp, a->jdepth + (a->jtop - body) / 16);
	/* each level: its pad, then the return address into its caller's call */
	while (body < a->jtop) {
		uintptr_t r = *(const uintptr_t *)(body + 8);
		struct wasm_func *f = NULL;
		const struct wasm_jit_ret *c = ret_at(j, r, &f);
		if (!c)
			return false;
		body += 16;
		fp -= c->base;
		fn(ctx, f, f->code->ops + c->ret, false, fp, a->jdepth + (a->jtop - body) / 16);
	}
	return body == a->jtop && fp == a->base;
}

/* Deoptimising: every frame of the walk becomes an interpreter frame in s->frames, at its
 * depth (the frame array's slots from the stretch's entry depth on are its callers'). */
static void to_frames(void *ctx, struct wasm_func *f, const uint32_t *pc, bool at_op,
		      union wasm_slot *fp, size_t depth)
{
	struct wasm_store *s = ctx;

	(void)at_op; /* a pause stands at calls and loop heads only */
	if (depth < s->max_frames)
		s->frames[depth] = (struct wasm_frame){pc, fp, f, f->inst};
}

bool wasm_jit_deopt(struct wasm_jit *j, struct wasm_func *f, const uint32_t *pc,
		    union wasm_slot *fp, size_t nframes)
{
	struct wasm_store *s = j->s;
	const struct wasm_act *a;

	for (a = s->act; a; a = a->prev)
		if (a->kind == WASM_ACT_HOST || (a->kind == WASM_ACT_JIT && !a->jsp) ||
		    (!a->prev && (a->kind != WASM_ACT_INTERP || !a->top)))
			return false; /* a host function's C frame: it cannot be left */
	if (nframes >= s->max_frames)
		return false;
	for (a = s->act; a; a = a->prev) {
		if (a->kind == WASM_ACT_JIT) {
			if (!wasm_jit_walk(j, a, to_frames, s))
				return false; /* cannot happen: every return address is a call's */
		} else if (a->fn) {	      /* a run that called translated code: its frame */
			to_frames(s, a->fn, a->pc, false, a->fp, a->frn);
		}
	}
	j->deopt_func = f;
	j->deopt_pc = (uint32_t)(pc - f->code->ops);
	j->deopt_fp = fp;
	j->deopt_nframes = nframes;
	return true;
}

/* With snapshots on and a pause asked for, translated code leaves for the interpreter
 * (WASM_TRAP_DEOPT, wasm_jit_deopt) at a loop back-edge, a call's tick or a host call, at
 * any depth: f goes on at idx (a loop's start or a call op) on fp. body: f's body's host
 * stack address. */
static bool deopt_here(struct wasm_jit *j, struct wasm_func *f, uint32_t idx, union wasm_slot *fp,
		       uintptr_t body)
{
	struct wasm_store *s = j->s;

	if (!atomic_load_explicit(&s->snap_points, memory_order_relaxed) ||
	    !atomic_load_explicit(&s->pause, memory_order_relaxed))
		return false;
	stand(j, NULL, NULL, fp, body);
	return wasm_jit_deopt(j, f, f->code->ops + idx, fp, depth_of(j, body));
}

void wasm_jit_deopted(const struct wasm_jit *j, struct wasm_func **f, const uint32_t **pc,
		      union wasm_slot **fp, size_t *nframes)
{
	*f = j->deopt_func;
	*pc = j->deopt_func->code->ops + j->deopt_pc;
	*fp = j->deopt_fp;
	*nframes = j->deopt_nframes;
}

/* ----- exceptions: unwinding to a handler of a translated frame ----- */

/* The entry at the pad (a word index) of f's translated code, or NULL (cannot happen:
 * every handler's pad has one). */
static const void *pad_entry(const struct wasm_func *f, uint32_t pad)
{
	const struct wasm_jit_code *c = f->jit;
	uint32_t lo = 0, hi = c ? c->npads : 0;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (c->pads[mid].pc < pad)
			lo = mid + 1;
		else if (c->pads[mid].pc > pad)
			hi = mid;
		else
			return c->pads[mid].at;
	}
	return NULL;
}

/* s->exn was thrown where the innermost translated frame of this run stands (stand():
 * at a throw op, at_op, or a call that passed it on) and is caught as the interpreter's
 * unwinding catches it: the innermost matching handler of that frame (at the throw op,
 * or inside the call op: its return pc less one), else of its caller's at its call, and
 * so on up to the run's entry frame (the frame walk's levels). A handler found takes the
 * exception (wasm_exn_catch writes its label's slots in that frame) and STUB_UNWIND,
 * where the caller goes next, goes on at its pad with rsp at that frame's body (the
 * frames below it are translated levels, nothing of C); else the exception leaves this
 * run as a trap does, for the code that entered it to unwind further. Returns
 * WASM_TRAP_EXCEPTION either way. */
static enum wasm_trap catch_here(struct wasm_jit *j)
{
	struct wasm_store *s = j->s;
	const struct wasm_act *a = s->act;
	uintptr_t body = a->jsp;
	union wasm_slot *fp = a->fp;
	struct wasm_func *f = a->fn;
	const uint32_t *pc = f ? (a->at_op ? a->pc : a->pc - 1) : NULL;

	if (!s->exn || !body)
		return WASM_TRAP_EXCEPTION;
	for (;;) {
		const struct wasm_jit_ret *c;
		if (f) {
			const struct wasm_handler *h = wasm_exn_find(f, pc, s->exn);
			const void *at = h ? pad_entry(f, h->pad) : NULL;
			if (at) {
				wasm_exn_catch(s, h, fp);
				j->catch_at = (uintptr_t)at;
				j->catch_rsp = body;
				j->catch_fp = fp;
				return WASM_TRAP_EXCEPTION;
			}
			if (h) /* no entry at its pad: cannot happen */
				return WASM_TRAP_EXCEPTION;
		}
		if (body >= a->jtop)
			return WASM_TRAP_EXCEPTION;
		c = ret_at(j, *(const uintptr_t *)(body + 8), &f);
		if (!c) /* cannot happen: every return address is a call's */
			return WASM_TRAP_EXCEPTION;
		body += 16;
		fp -= c->base;
		pc = f->code->ops + c->ret - 1;
	}
}

/* ----- C functions translated code calls (STUB_CCALL: j, f, pc index, fp) ----- */

/* as the interpreter: the frame stands at the throw (its stack map there, the values
 * being thrown held) while making the exception may collect */
uint64_t wasm_jit_c_throw(struct wasm_jit *j, struct wasm_func *f, uint32_t idx,
			  union wasm_slot *fp)
{
	const uint32_t *pc = pc_of(f, idx);
	struct wasm_store *s = j->s;
	enum wasm_trap t;

	stand(j, f, pc, fp, j->site_rsp + 8);
	s->act->at_op = true;
	t = wasm_exn_throw(s, f->inst->tags[pc[1]], fp + pc[2], fp + f->code->frame_slots);
	record(j, t, f, idx);
	return t == WASM_TRAP_EXCEPTION ? catch_here(j) : t;
}

uint64_t wasm_jit_c_gc(struct wasm_jit *j, struct wasm_func *f, uint32_t idx, union wasm_slot *fp)
{
	const uint32_t *pc = pc_of(f, idx);
	struct wasm_store *s = j->s;
	enum wasm_trap t;

	stand(j, f, pc, fp, j->site_rsp + 8);
	s->act->at_op = true;
	t = wasm_gc_exec(s, f->inst, pc, (enum wasm_op)j->site_arg, fp, fp + f->code->frame_slots);
	if (t)
		record(j, t, f, idx);
	return t;
}

/* as exec.c's rows of these ops (an i31 is (v << 1) | 1, compile_gc.c) */
uint64_t wasm_jit_c_ref(struct wasm_jit *j, struct wasm_func *f, uint32_t idx, union wasm_slot *fp)
{
	const uint32_t *pc = pc_of(f, idx);
	enum wasm_trap t = WASM_TRAP_NONE;

	switch (j->site_arg) { /* the op */
	case WASM_OP_REF_I31:
		fp[pc[1]].i64 = (uint64_t)(fp[pc[2]].i32 & 0x7fffffffu) << 1 | 1;
		break;
	case WASM_OP_I31_GET_S:
		if (!fp[pc[2]].i64)
			t = WASM_TRAP_NULL_I31;
		else
			fp[pc[1]].i64 = (uint32_t)((int32_t)(uint32_t)fp[pc[2]].i64 >> 1);
		break;
	case WASM_OP_I31_GET_U:
		if (!fp[pc[2]].i64)
			t = WASM_TRAP_NULL_I31;
		else
			fp[pc[1]].i64 = (uint32_t)fp[pc[2]].i64 >> 1;
		break;
	case WASM_OP_REF_EQ:
		fp[pc[1]].i64 = fp[pc[2]].i64 == fp[pc[3]].i64;
		break;
	case WASM_OP_REF_TEST:
		fp[pc[1]].i64 = wasm_gc_ref_test(f->inst->mod, fp[pc[2]].i64, pc[3]);
		break;
	default: /* REF_CAST */
		if (!wasm_gc_ref_test(f->inst->mod, fp[pc[2]].i64, pc[3]))
			t = WASM_TRAP_CAST;
		else
			fp[pc[1]].i64 = fp[pc[2]].i64;
		break;
	}
	if (t)
		record(j, t, f, idx);
	return t;
}

uint64_t wasm_jit_c_throw_ref(struct wasm_jit *j, struct wasm_func *f, uint32_t idx,
			      union wasm_slot *fp)
{
	const uint32_t *pc = pc_of(f, idx);
	struct wasm_store *s = j->s;

	if (!fp[pc[1]].ref) {
		record(j, WASM_TRAP_NULL_EXN_REF, f, idx);
		return WASM_TRAP_NULL_EXN_REF;
	}
	stand(j, f, pc, fp, j->site_rsp + 8);
	s->act->at_op = true;
	s->exn = fp[pc[1]].ref;
	record(j, WASM_TRAP_EXCEPTION, f, idx);
	return catch_here(j);
}

uint64_t wasm_jit_c_trap(struct wasm_jit *j, struct wasm_func *f, uint32_t idx, union wasm_slot *fp)
{
	enum wasm_trap t = (enum wasm_trap)j->site_arg;

	(void)fp;
	record(j, t, f, idx);
	return t;
}

/* Whether the op at idx is a call a pause may stand at: a call, or a tail call (its tick
 * comes before its arguments move, as in the interpreter), so that a loop made only of
 * tail calls parks too. */
static bool plain_call(const struct wasm_jit *j, struct wasm_func *f, uint32_t idx)
{
	unsigned op = wasm_jit_op_of(j, f->code->ops[idx]);

	return op == WASM_OP_CALL || op == WASM_OP_CALL_LOCAL || op == WASM_OP_CALL_INDIRECT ||
	       op == WASM_OP_RETURN_CALL || op == WASM_OP_RETURN_CALL_INDIRECT ||
	       op == WASM_OP_RETURN_CALL_REF;
}

uint64_t wasm_jit_c_tick(struct wasm_jit *j, struct wasm_func *f, uint32_t idx, union wasm_slot *fp)
{
	/* site_arg: 1 at a loop back-edge (the cached slots written back), 0 at a call, 2 at
	 * a call whose stub pushed rax twice */
	uintptr_t body = j->site_rsp + 8 + (j->site_arg == 2 ? 16 : 0);
	enum wasm_trap t;

	if (j->site_arg == 1 && deopt_here(j, f, idx, fp, body))
		return WASM_TRAP_DEOPT;
	/* at a call the interpreter makes the call again, counting its tick: uncounted here */
	if (j->site_arg != 1 && plain_call(j, f, idx) && deopt_here(j, f, idx, fp, body)) {
		j->ticks++;
		return WASM_TRAP_DEOPT;
	}
	t = tick(j);
	if (!t)
		hurry(j);
	if (t)
		record(j, t, f, idx);
	return t;
}

struct wasm_jit_pair wasm_jit_c_wrap(struct wasm_jit *j, struct wasm_func *f, uint32_t idx,
				     union wasm_slot *fp)
{
	const uint32_t *pc = pc_of(f, idx);
	const struct jop *jo = &wasm_jit_ops[wasm_jit_op_of(j, pc[0])];
	uint32_t off = jo->kind == J_FUSE_LOAD || jo->kind == J_LANE_LOAD ? pc[4] : pc[3];
	uint64_t ea = wasm_exec_wrapped_ea(f->code, pc, (uint32_t)j->site_arg, off);

	(void)fp;
	if (ea + (1u << jo->align) > f->inst->mem0->size) {
		record(j, WASM_TRAP_MEM_OOB, f, idx);
		return (struct wasm_jit_pair){WASM_TRAP_MEM_OOB, 0};
	}
	return (struct wasm_jit_pair){WASM_TRAP_NONE, ea};
}

uint64_t wasm_jit_c_deep(struct wasm_jit *j, struct wasm_func *f, uint32_t idx, union wasm_slot *fp)
{
	const uint32_t *pc = pc_of(f, idx);
	size_t depth = depth_of(j, j->site_rsp + 8);
	union wasm_slot *nfp;
	struct wasm_func *callee = callee_of(j, f, pc, fp, &nfp);
	enum wasm_trap t;

	if (depth >= j->s->max_frames) {
		record(j, WASM_TRAP_STACK_EXHAUSTED, f, idx);
		return WASM_TRAP_STACK_EXHAUSTED;
	}
	/* the host stack is low: the call's tick, then the callee in the interpreter */
	if (--j->ticks < 0) {
		t = tick(j);
		if (t) {
			record(j, t, f, idx);
			return t;
		}
	}
	stand(j, f, pc + call_len(j, f, idx), fp, j->site_rsp + 8);
	t = interp(j, callee, nfp, depth + 1);
	return t == WASM_TRAP_EXCEPTION ? catch_here(j) : t;
}

uint64_t wasm_jit_c_host(struct wasm_jit *j, struct wasm_func *f, uint32_t idx, union wasm_slot *fp)
{
	const uint32_t *pc = pc_of(f, idx);
	size_t depth = depth_of(j, j->site_rsp + 8);
	union wasm_slot *nfp;
	struct wasm_func *callee = callee_of(j, f, pc, fp, &nfp);
	enum wasm_trap t;

	if (deopt_here(j, f, idx, fp, j->site_rsp + 8)) /* the interpreter makes the call */
		return WASM_TRAP_DEOPT;
	stand(j, f, pc + call_len(j, f, idx), fp, j->site_rsp + 8);
	fuel_out(j);
	t = wasm_exec_call_host(j->s, callee, f->inst, nfp, depth, true);
	fuel_in(j);
	if (t == WASM_TRAP_AGAIN) {
		/* given up for a pause: the interpreter makes the call again, parked before it
		 * where a snapshot can stand; else it is made again here once resumed */
		if (deopt_here(j, f, idx, fp, j->site_rsp + 8))
			return WASM_TRAP_DEOPT;
		stand(j, f, pc + call_len(j, f, idx), fp, j->site_rsp + 8);
		fuel_out(j);
		t = wasm_exec_call_host(j->s, callee, f->inst, nfp, depth, false);
		fuel_in(j);
	}
	hurry(j);
	if (t == WASM_TRAP_EXCEPTION) /* recorded where it was thrown */
		return catch_here(j);
	if (t)
		record(j, t, f, idx);
	return t;
}

/* A tail call to a host function: no point a snapshot can stand at (as in the
 * interpreter, the arguments have moved), so no deopt here. */
uint64_t wasm_jit_c_tail_host(struct wasm_jit *j, struct wasm_func *f, uint32_t idx,
			      union wasm_slot *fp)
{
	struct wasm_func *callee = (struct wasm_func *)(uintptr_t)j->site_arg;
	size_t depth = depth_of(j, j->site_rsp + 8);
	enum wasm_trap t;

	stand(j, NULL, NULL, fp, j->site_rsp + 8); /* f's frame is the host call's now */
	fuel_out(j);
	t = wasm_exec_call_host(j->s, callee, f->inst, fp, depth, false);
	fuel_in(j);
	hurry(j);
	if (t == WASM_TRAP_EXCEPTION) /* f's frame is gone: its callers' handlers */
		return catch_here(j);
	if (t)
		record(j, t, f, idx);
	return t;
}

uint64_t wasm_jit_c_op(struct wasm_jit *j, struct wasm_func *f, uint32_t idx, union wasm_slot *fp)
{
	const uint32_t *pc = pc_of(f, idx);
	wasm_jit_helper_fn h = wasm_jit_helper((enum wasm_op)wasm_jit_op_of(j, pc[0]));
	enum wasm_trap t = h(fp, pc, (uint8_t *)(uintptr_t)j->site_arg);

	if (t)
		record(j, t, f, idx);
	return t;
}

uint64_t wasm_jit_c_misc(struct wasm_jit *j, struct wasm_func *f, uint32_t idx, union wasm_slot *fp)
{
	const uint32_t *pc = pc_of(f, idx);
	struct wasm_instance *inst = f->inst;
	enum wasm_op op = (enum wasm_op)wasm_jit_op_of(j, pc[0]);
	enum wasm_trap t = WASM_TRAP_NONE;

	switch (op) {
	case WASM_OP_MEMORY_GROW:
		fp[pc[1]].i32 = (uint32_t)wasm_memory_do_grow(inst->mem0, fp[pc[2]].i32);
		break;
	case WASM_OP_DATA_DROP:
		inst->data_len[pc[1]] = 0;
		break;
	case WASM_OP_ELEM_DROP:
		inst->elem_len[pc[1]] = 0;
		break;
	case WASM_OP_TABLE_GROW:
		fp[pc[1]].i32 = (uint32_t)wasm_table_do_grow(inst->tables[pc[2]], fp[pc[4]].i32,
							     fp[pc[3]].i64);
		break;
	case WASM_OP_ATOMIC_WAIT: { /* [d a e t off mem code], as the interpreter */
		uint32_t r = 0;
		bool wide = pc[7] == 0x02;
		t = wasm_atomic_wait(j->s, inst->mems[pc[6]], wide, (uint64_t)fp[pc[2]].i32 + pc[5],
				     wide ? fp[pc[3]].i64 : fp[pc[3]].i32, (int64_t)fp[pc[4]].i64,
				     &r);
		if (!t)
			fp[pc[1]].i32 = r;
		break;
	}
	case WASM_OP_ATOMIC_NOTIFY: { /* [d a n off mem] */
		uint32_t r = 0;
		t = wasm_atomic_notify(inst->mems[pc[5]], (uint64_t)fp[pc[2]].i32 + pc[4],
				       fp[pc[3]].i32, &r);
		if (!t)
			fp[pc[1]].i32 = r;
		break;
	}
	default:
		t = wasm_exec_bulk(inst, pc, op, fp);
		break;
	}
	if (t)
		record(j, t, f, idx);
	return t;
}

uint64_t wasm_jit_c_type(struct wasm_jit *j, struct wasm_func *f, uint32_t idx, union wasm_slot *fp)
{
	const uint32_t *pc = pc_of(f, idx);
	union wasm_slot *nfp;
	struct wasm_func *callee = callee_of(j, f, pc, fp, &nfp);

	if (wasm_ftype_match(callee->type, &f->inst->mod->types[pc[1]]))
		return WASM_TRAP_NONE;
	record(j, WASM_TRAP_INDIRECT_TYPE, f, idx);
	return WASM_TRAP_INDIRECT_TYPE;
}

/* STUB_INTERP's C side: f, not translated, is called from translated code whose body runs
 * at `caller`, or tail-called by the entry level (caller: the entry's own caller, at
 * entry_rsp; f takes the entry's depth). Returns (trap, 0), or (0, code) to go on in code:
 * f translated just now. */
static struct wasm_jit_pair c_interp(struct wasm_jit *j, struct wasm_func *f, union wasm_slot *fp,
				     uintptr_t caller)
{
	size_t depth = caller >= j->entry_rsp ? j->depth0 : depth_of(j, caller) + 1;
	enum wasm_trap t;

	if (wasm_jit_heat(j, f, 1))
		return (struct wasm_jit_pair){0, (uint64_t)(uintptr_t)f->jit_foreign};
	/* the callee's level is 16 bytes below its caller's body (the return address and
	 * STUB_INTERP's push); reached by a tail call from the entry frame, caller is the
	 * entry rsp itself, so its depth is the entry's (no caller's depth plus one, which
	 * would underflow) */
	stand(j, NULL, NULL, fp, caller - 16);
	t = interp(j, f, fp, depth);
	if (t == WASM_TRAP_EXCEPTION) /* the callers' handlers, from the caller's call on */
		t = catch_here(j);
	return (struct wasm_jit_pair){t, 0};
}

/* ----- stubs ----- */

static const int saved_regs[] = {X86_RBP, X86_RBX, X86_R12, X86_R13, X86_R14, X86_R15};
static const int volatile_cache[] = {X86_RSI, X86_RDI, X86_R8, X86_R9, X86_R10, X86_R11};

static void stub_enter(struct wasm_jit *j, struct x86_emit *e, uint8_t **unwind_exit)
{
	/* int enter(struct wasm_jit *j = rdi, const void *code = rsi, union wasm_slot *fp = rdx) */
	j->stub[STUB_ENTER] = x86_here(e);
	for (unsigned i = 0; i < 6; i++)
		x86_push(e, saved_regs[i]);
	x86_alu_imm(e, true, X86_SUB, x86_r(X86_RSP), 8); /* 16-byte aligned */
	x86_mov(e, true, R_CTX, x86_r(X86_RDI));
	x86_mov_store(e, true, CTX(entry_rsp), X86_RSP);
	x86_mov(e, true, R_FP, x86_r(X86_RDX));
	x86_mov(e, true, R_TICKS, CTX(ticks));
	/* floor = max(body rsp - the nesting left, host_floor) */
	x86_lea(e, true, X86_RAX, x86_m(X86_RSP, -16));
	x86_alu(e, true, X86_SUB, X86_RAX, CTX(floor_span));
	x86_alu(e, true, X86_CMP, X86_RAX, CTX(host_floor));
	x86_cmov(e, true, X86_CC_B, X86_RAX, CTX(host_floor));
	x86_mov_store(e, true, CTX(floor), X86_RAX);
	x86_alu(e, false, X86_XOR, R_MEM, x86_r(R_MEM));
	x86_alu(e, false, X86_XOR, R_MSIZE, x86_r(R_MSIZE));
	x86_call_rm(e, x86_r(X86_RSI));
	x86_alu(e, false, X86_XOR, X86_RAX, x86_r(X86_RAX));
	*unwind_exit = e->p;
	x86_mov_store(e, true, CTX(ticks), R_TICKS);
	x86_alu_imm(e, true, X86_ADD, x86_r(X86_RSP), 8);
	for (unsigned i = 6; i-- > 0;)
		x86_pop(e, saved_regs[i]);
	x86_ret(e);
}

static void stub_ccall(struct wasm_jit *j, struct x86_emit *e)
{
	/* rax = fn(j, rcx, rdx, fp); the cache registers kept (rbp is callee-saved in C;
	 * the xmm cache's low 64 bits, all a scalar slot holds, below the pushes) */
	j->stub[STUB_CCALL] = x86_here(e);
	x86_mov_store(e, true, CTX(site_rsp), X86_RSP);
	for (unsigned i = 0; i < 6; i++)
		x86_push(e, volatile_cache[i]);
	x86_alu_imm(e, true, X86_SUB, x86_r(X86_RSP), 8 + 8 * NXCACHE);
	for (unsigned i = 0; i < NXCACHE; i++)
		x86_sse_store(e, true, x86_m(X86_RSP, (int32_t)(8 * i)), XCACHE0 + (int)i);
	x86_mov_store(e, true, CTX(ticks), R_TICKS);
	x86_mov(e, true, X86_RDI, x86_r(R_CTX));
	x86_mov(e, true, X86_RSI, x86_r(X86_RCX));
	x86_mov(e, true, X86_RCX, x86_r(R_FP));
	x86_call_rm(e, x86_r(X86_RAX));
	x86_mov(e, true, R_TICKS, CTX(ticks));
	for (unsigned i = 0; i < NXCACHE; i++)
		x86_sse(e, true, 0x10, false, XCACHE0 + (int)i, x86_m(X86_RSP, (int32_t)(8 * i)));
	x86_alu_imm(e, true, X86_ADD, x86_r(X86_RSP), 8 + 8 * NXCACHE);
	for (unsigned i = 6; i-- > 0;)
		x86_pop(e, volatile_cache[i]);
	x86_ret(e);
}

static void stub_interp(struct wasm_jit *j, struct x86_emit *e)
{
	uint8_t *tail, *no_mem;

	/* called as the code of function rax (not translated) with rbx its frame */
	j->stub[STUB_INTERP] = x86_here(e);
	x86_push(e, X86_RAX);
	x86_mov_store(e, true, CTX(ticks), R_TICKS);
	x86_mov(e, true, X86_RDI, x86_r(R_CTX));
	x86_mov(e, true, X86_RSI, x86_r(X86_RAX));
	x86_mov(e, true, X86_RDX, x86_r(R_FP));
	x86_lea(e, true, X86_RCX, x86_m(X86_RSP, 16)); /* the caller's body rsp */
	x86_mov_imm(e, X86_RAX, (uint64_t)(uintptr_t)c_interp);
	x86_call_rm(e, x86_r(X86_RAX));
	x86_mov(e, true, R_TICKS, CTX(ticks));
	x86_pop(e, X86_RCX);
	x86_test(e, true, x86_r(X86_RDX), X86_RDX);
	tail = x86_jcc_fwd(e, X86_CC_NE);
	x86_test(e, false, x86_r(X86_RAX), X86_RAX);
	x86_jcc_to(e, X86_CC_NE, j->stub[STUB_UNWIND]);
	/* the callee's memory may have grown (or moved) */
	x86_mov(e, true, X86_RCX, x86_m(X86_RCX, offsetof(struct wasm_func, inst)));
	x86_mov(e, true, X86_RCX, x86_m(X86_RCX, offsetof(struct wasm_instance, mem0)));
	x86_test(e, true, x86_r(X86_RCX), X86_RCX);
	no_mem = x86_jcc_fwd(e, X86_CC_E);
	x86_mov(e, true, R_MEM, x86_m(X86_RCX, offsetof(struct wasm_memory, base)));
	x86_mov(e, true, R_MSIZE, x86_m(X86_RCX, offsetof(struct wasm_memory, size)));
	x86_patch(e, no_mem, x86_here(e));
	x86_ret(e);
	x86_patch(e, tail, x86_here(e));
	x86_jmp_rm(e, x86_r(X86_RDX));
}

static long emit_stubs(struct wasm_jit *j, uint8_t *buf, size_t cap, uintptr_t at)
{
	struct x86_emit em = {.buf = buf, .p = buf, .end = buf + cap, .base = at};
	struct x86_emit *e = &em;
	uint8_t *unwind_exit, *plain;

	stub_enter(j, e, &unwind_exit);
	/* unwind: eax = a trap; an exception a translated frame of this run caught goes on
	 * at its pad (catch_here) */
	j->stub[STUB_UNWIND] = x86_here(e);
	x86_mov(e, true, X86_RCX, CTX(catch_at));
	x86_test(e, true, x86_r(X86_RCX), X86_RCX);
	plain = x86_jcc_fwd(e, X86_CC_E);
	x86_alu(e, false, X86_XOR, X86_RDX, x86_r(X86_RDX));
	x86_mov_store(e, true, CTX(catch_at), X86_RDX);
	x86_mov(e, true, X86_RSP, CTX(catch_rsp));
	x86_mov(e, true, R_FP, CTX(catch_fp));
	x86_mov(e, true, R_TICKS, CTX(ticks));
	x86_jmp_rm(e, x86_r(X86_RCX));
	x86_patch(e, plain, x86_here(e));
	x86_mov(e, true, X86_RSP, CTX(entry_rsp));
	x86_jmp_to(e, em.base + (uintptr_t)(unwind_exit - em.buf));
	stub_ccall(j, e);
	/* trap: eax = the trap, rcx = the function, edx = the pc index */
	j->stub[STUB_TRAP] = x86_here(e);
	x86_mov_store(e, true, CTX(site_arg), X86_RAX);
	x86_mov_imm(e, X86_RAX, (uint64_t)(uintptr_t)wasm_jit_c_trap);
	x86_call_to(e, j->stub[STUB_CCALL]);
	x86_jmp_to(e, j->stub[STUB_UNWIND]);
	stub_interp(j, e);
	return e->overflow ? -1 : (long)(e->p - e->buf);
}

/* ----- guard regions: faults in translated code ----- */

/* The JIT state whose translated code this thread runs (innermost wasm_jit_run), for the
 * signal handler, which has no other way to find it: thread-local, so each thread of a
 * shared memory handles its own faults. The handlers that were there before ours are
 * the one process-wide piece, written once (pthread_once) before ours is installed. */
static __thread struct wasm_jit *running;
static struct sigaction fault_old[2]; /* SIGSEGV, SIGBUS */
static int guard_rc;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

/* The stub for a fault at rip, or 0: a binary search of j->sites. */
static uintptr_t site_at(const struct wasm_jit *j, uintptr_t rip)
{
	size_t lo = 0, hi = j->nsites;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (j->sites[mid].end <= rip)
			lo = mid + 1;
		else if (j->sites[mid].start > rip)
			hi = mid;
		else
			return j->sites[mid].to;
	}
	return 0;
}

/* A fault we do not own goes to the handler before ours, or (none) gets the default
 * action: restored here, the fault comes back when the instruction runs again, and a
 * signal sent by kill() is sent again once this handler returns. Async-signal-safe. */
static void pass_on(int sig, siginfo_t *info, void *uctx)
{
	const struct sigaction *old = &fault_old[sig == SIGBUS];

	if (old->sa_flags & SA_SIGINFO) {
		old->sa_sigaction(sig, info, uctx);
		return;
	}
	if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		return;
	}
	{
		struct sigaction dfl;
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		sigemptyset(&dfl.sa_mask);
		sigaction(sig, &dfl, NULL);
	}
	if (info->si_code <= 0)
		raise(sig);
}

/* SIGSEGV/SIGBUS: a guarded access of translated code whose address lies in its memory's
 * guard region (r12 holds the memory's base there) goes on at its trap stub, which
 * records the out-of-bounds trap at the access's op exactly as an explicit check would;
 * anything else is not ours. */
static void on_fault(int sig, siginfo_t *info, void *uctx)
{
	ucontext_t *uc = uctx;
	struct wasm_jit *j = running;
	uintptr_t rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	uintptr_t base = (uintptr_t)uc->uc_mcontext.gregs[REG_R12];
	uintptr_t addr = (uintptr_t)info->si_addr, to;

	if (j && info->si_code > 0 && addr - base < WASM_GUARD_BYTES &&
	    (to = site_at(j, rip)) != 0) {
		j->guard_traps++;
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)to;
		return;
	}
	pass_on(sig, info, uctx);
}

static void guard_install(void)
{
	static const int sigs[2] = {SIGSEGV, SIGBUS};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	for (unsigned i = 0; i < 2; i++)
		if (sigaction(sigs[i], NULL, &fault_old[i]) || sigaction(sigs[i], &sa, NULL)) {
			guard_rc = -errno;
			return;
		}
}

int wasm_jit_guard_init(void)
{
	pthread_once(&guard_once, guard_install);
	return guard_rc;
}

/* ----- the store's JIT state ----- */

static void cpu_features(struct wasm_jit *j)
{
	unsigned a, b, c, d;

	if (__get_cpuid(1, &a, &b, &c, &d)) {
		j->sse41 = (c >> 19) & 1;
		j->popcnt = (c >> 23) & 1;
	}
	if (__get_cpuid(0x80000001, &a, &b, &c, &d))
		j->lzcnt = (c >> 5) & 1;
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d))
		j->tzcnt = (b >> 3) & 1, j->bmi2 = (b >> 8) & 1;
}

/* The first translation's set-up: the stubs, assembled again at the buffer's start (the
 * same code at the same addresses as wasm_jit_create's), written (which makes the memfd),
 * and the host's CPU features. */
static int write_stubs(struct wasm_jit *j)
{
	uint8_t stubs[STUBS_MAX];
	const void *at;
	long n = emit_stubs(j, stubs, sizeof(stubs), jitbuf_next(&j->buf, 64));
	int rc = n < 0 ? -ENOSPC : jitbuf_append(&j->buf, stubs, (size_t)n, 64, &at);

	if (!rc)
		cpu_features(j);
	return rc;
}

int wasm_jit_create(struct wasm_store *s, struct wasm_jit **out)
{
	struct wasm_jit *j = core_calloc(1, sizeof(*j));
	uint8_t stubs[STUBS_MAX];
	int rc;

	if (!j)
		return -ENOMEM;
	j->s = s;
	j->stack_end = s->stack + s->stack_slots;
	j->host_floor = j->c_floor = UINTPTR_MAX;
	rc = jitbuf_init(&j->buf, JIT_BUF_SIZE, "lodge-wasm-jit");
	if (rc) {
		core_free(j);
		return rc;
	}
	/* the stubs' addresses now (functions not translated point at STUB_INTERP), their
	 * code at the first translation (write_stubs): a program that translates nothing
	 * makes no memfd and writes no page */
	if (emit_stubs(j, stubs, sizeof(stubs), jitbuf_next(&j->buf, 64)) < 0) {
		wasm_jit_destroy(j);
		return -ENOSPC;
	}
	if (getenv("LODGE_PERF_MAP")) {
		/* perf's convention for JIT symbols: /tmp/perf-PID.map, "start size name" */
		char path[64];
		snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
		j->perf_map = fopen(path, "a");
		if (j->perf_map)
			setvbuf(j->perf_map, NULL, _IOLBF, 0);
	}
	*out = j;
	return 0;
}

void wasm_jit_destroy(struct wasm_jit *j)
{
	if (!j)
		return;
	while (j->codes) {
		struct wasm_jit_code *c = j->codes;
		j->codes = c->next;
		core_free(c->osr);
		core_free(c->pads);
		core_free(c->rets);
		core_free(c);
	}
	jitbuf_fini(&j->buf);
	if (j->perf_map)
		fclose(j->perf_map);
	core_free(j->rev);
	core_free(j->staging);
	core_free(j->sites);
	core_free(j->byaddr);
	core_free(j);
}

void wasm_jit_instance_init(struct wasm_jit *j, struct wasm_instance *inst)
{
	const struct wasm_module *m = inst->mod;
	uint32_t hot = j->s->jit_hot;

	for (uint32_t i = 0; i < m->nfuncs - m->nfunc_imports; i++) {
		struct wasm_func *f = &inst->own_funcs[i];
		if (f->jit)
			continue;
		f->jit_local = f->jit_foreign = (const void *)j->stub[STUB_INTERP];
		f->hot = hot == WASM_JIT_EAGER ? 0 : (int64_t)hot;
	}
	if (hot == WASM_JIT_EAGER)
		for (uint32_t i = 0; i < m->nfuncs - m->nfunc_imports; i++)
			(void)wasm_jit_compile(j, &inst->own_funcs[i]);
}

int wasm_jit_compile(struct wasm_jit *j, struct wasm_func *f)
{
	int rc;

	if (f->jit)
		return 0;
	if (f->jit_failed || !f->code || !f->inst)
		return -ENOTSUP;
	/* the source is the function's internal code: compiled at its first call, or now
	 * (--jit-eager translates functions not called yet) */
	if (!wasm_code_ready(f->code) && wasm_code_compile(f))
		return -ENOMEM;
	/* the reverse map of the dispatch words is sorted at the first translation, not at
	 * the store's creation: a short program that translates nothing never needs it */
	if (!j->rev && wasm_jit_revmap(j))
		return -ENOMEM;
	if (!j->buf.used && write_stubs(j)) {
		f->jit_failed = true; /* no memfd: this function stays interpreted */
		j->nfailed++;
		return -ENOMEM;
	}
	rc = wasm_jit_translate(j, f);
	if (rc) {
		f->jit_failed = true;
		j->nfailed++;
		return rc;
	}
	j->ntranslated++;
	if (j->perf_map) {
		char name[80];
		size_t len = 0;
		const char *n = wasm_module_func_name(f->inst->mod, f->index, &len);
		fprintf(j->perf_map, "%lx %lx wasm:%u:%s\n",
			(unsigned long)(uintptr_t)f->jit_foreign,
			(unsigned long)(jitbuf_next(&j->buf, 1) - (uintptr_t)f->jit_foreign),
			f->index, n ? wasm_name_escape(n, len, name, sizeof(name)) : "");
	}
	return 0;
}

bool wasm_jit_heat(struct wasm_jit *j, struct wasm_func *f, int64_t n)
{
	if (f->jit)
		return true;
	if (!j || f->jit_failed || !f->code)
		return false;
	f->hot -= n;
	if (f->hot > 0)
		return false;
	return wasm_jit_compile(j, f) == 0;
}

/* The main thread's stack when glibc cannot tell: its pthread_getattr_np reads
 * /proc/self/maps for the main thread, and a sandbox (lodge daemon's guests) has no /proc.
 * The kernel copies the program's file name (AT_EXECFN) to the very top of the initial
 * stack, and the stack may grow to RLIMIT_STACK below that top (MAIN_STACK_UNLIMITED
 * when unlimited: assuming less only costs translated call depth). Returns false when
 * this is not the main thread or the current frame is not inside that range. */
static bool main_stack(void **lo, size_t *size)
{
	const char *fn = (const char *)getauxval(AT_EXECFN);
	uintptr_t here = (uintptr_t)__builtin_frame_address(0), top;
	size_t lim = MAIN_STACK_UNLIMITED;
	struct rlimit rl;

	if (!fn || gettid() != getpid())
		return false;
	if (!getrlimit(RLIMIT_STACK, &rl) && rl.rlim_cur != RLIM_INFINITY)
		lim = (size_t)rl.rlim_cur;
	top = ((uintptr_t)fn + strlen(fn) + 1 + 4095) & ~(uintptr_t)4095;
	if (here >= top || top - here >= lim)
		return false;
	*lo = (void *)(top - lim);
	*size = lim;
	return true;
}

/* The bounds of this thread's stack, and the floors derived from them. */
static void thread_bounds(struct wasm_jit *j)
{
	pthread_attr_t a;
	void *lo = NULL;
	size_t size = 0;
	bool known = false;

	j->thread = pthread_self();
	j->have_thread = true;
	j->host_floor = j->c_floor = UINTPTR_MAX; /* unknown: C never enters translated code */
	if (!pthread_getattr_np(j->thread, &a)) {
		known = !pthread_attr_getstack(&a, &lo, &size);
		pthread_attr_destroy(&a);
	}
	if (!known && !main_stack(&lo, &size))
		return;
	if (size > STACK_RESERVE + 2 * C_ROOM) {
		j->host_floor = (uintptr_t)lo + STACK_RESERVE;
		j->c_floor = j->host_floor + C_ROOM;
	}
}

bool wasm_jit_stack_ok(struct wasm_jit *j)
{
	if (!j->have_thread || !pthread_equal(j->thread, pthread_self()))
		thread_bounds(j);
	return (uintptr_t)__builtin_frame_address(0) > j->c_floor;
}

enum wasm_trap wasm_jit_run(struct wasm_jit *j, const void *code, union wasm_slot *fp, size_t depth)
{
	int (*enter)(struct wasm_jit *, const void *, union wasm_slot *) =
		(int (*)(struct wasm_jit *, const void *, union wasm_slot *))j->stub[STUB_ENTER];
	uintptr_t entry_rsp = j->entry_rsp, floor = j->floor, span = j->floor_span;
	struct wasm_jit *outer = running;
	size_t depth0 = j->depth0, max = j->s->max_frames;
	uint64_t left = depth < max ? (uint64_t)(max - depth) * 16 : 0;
	enum wasm_trap t;

	j->nentries++;
	j->depth0 = depth;
	j->floor_span = left < (1ull << 40) ? left : 1ull << 40;
	wasm_fuel_start(j->s, &j->fuel, JIT_TICK_PERIOD);
	j->ticks = j->fuel.ticks;
	running = j;
	t = (enum wasm_trap)enter(j, code, fp);
	running = outer;
	fuel_out(j);
	j->entry_rsp = entry_rsp;
	j->floor = floor;
	j->floor_span = span;
	j->depth0 = depth0;
	return t;
}

void wasm_jit_stats(const struct wasm_jit *j, struct wasm_jit_stats *st)
{
	st->translated = j->ntranslated;
	st->failed = j->nfailed;
	st->entries = j->nentries;
	st->code_bytes = j->buf.used;
	st->guard_traps = j->guard_traps;
}

const void *wasm_jit_osr(const struct wasm_func *f, const uint32_t *pc)
{
	const struct wasm_jit_code *c = f->jit;
	uint32_t at = (uint32_t)(pc - f->code->ops), lo = 0, hi = c ? c->nosr : 0;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (c->osr[mid].pc < at)
			lo = mid + 1;
		else if (c->osr[mid].pc > at)
			hi = mid;
		else
			return c->osr[mid].at;
	}
	return NULL;
}

#else /* no translator for this host: the interpreter runs everything */

int wasm_jit_create(struct wasm_store *s, struct wasm_jit **out)
{
	(void)s;
	*out = NULL;
	return -ENOTSUP;
}

void wasm_jit_destroy(struct wasm_jit *j)
{
	(void)j;
}

void wasm_jit_instance_init(struct wasm_jit *j, struct wasm_instance *inst)
{
	(void)j, (void)inst;
}

int wasm_jit_compile(struct wasm_jit *j, struct wasm_func *f)
{
	(void)j, (void)f;
	return -ENOTSUP;
}

bool wasm_jit_heat(struct wasm_jit *j, struct wasm_func *f, int64_t n)
{
	(void)j, (void)f, (void)n;
	return false;
}

bool wasm_jit_stack_ok(struct wasm_jit *j)
{
	(void)j;
	return false;
}

enum wasm_trap wasm_jit_run(struct wasm_jit *j, const void *code, union wasm_slot *fp, size_t depth)
{
	(void)j, (void)code, (void)fp, (void)depth;
	return WASM_TRAP_UNREACHABLE;
}

void wasm_jit_stats(const struct wasm_jit *j, struct wasm_jit_stats *st)
{
	(void)j;
	memset(st, 0, sizeof(*st));
}

const void *wasm_jit_osr(const struct wasm_func *f, const uint32_t *pc)
{
	(void)f, (void)pc;
	return NULL;
}

void wasm_jit_deopted(const struct wasm_jit *j, struct wasm_func **f, const uint32_t **pc,
		      union wasm_slot **fp, size_t *nframes)
{
	(void)j;
	*f = NULL;
	*pc = NULL;
	*fp = NULL;
	*nframes = 0;
}

bool wasm_jit_walk(const struct wasm_jit *j, const struct wasm_act *a, wasm_jit_frame_fn fn,
		   void *ctx)
{
	(void)j, (void)a, (void)fn, (void)ctx;
	return true;
}

bool wasm_jit_deopt(struct wasm_jit *j, struct wasm_func *f, const uint32_t *pc,
		    union wasm_slot *fp, size_t nframes)
{
	(void)j, (void)f, (void)pc, (void)fp, (void)nframes;
	return false;
}

#endif
