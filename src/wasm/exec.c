/*
 * The interpreter: runs compiled code (see internal.h for the format) with computed-goto
 * dispatch (GCC/clang), or a switch when WASM_SWITCH_DISPATCH is defined. Wasm-to-wasm calls
 * never recurse on the host stack: frames live in the store's value stack and return
 * addresses in its frame array, both bounded (-> "call stack exhausted" trap).
 * Hot state (pc, fp, memory base and size, fuel ticks) lives in locals; rule: memory base
 * and size are re-read after every call, return and memory.grow (another instance sharing
 * the memory, or a host function, may have grown it). Traps are returned, never longjmp'd.
 * With the JIT tier on (wasm/jit/), calls into translated functions, and loops of
 * functions translated while they run, continue in translated code (wasm_jit_run); the
 * interpreter resumes when that code returns, re-reading the memory base and size.
 */
#include "wasm/internal.h"

#include "wasm/jit/jit.h"
#include "wasm/numeric.h"
#include "core/util.h"

#include <string.h>
#include <sys/eventfd.h>

#if !defined(WASM_SWITCH_DISPATCH) && !defined(__GNUC__)
#define WASM_SWITCH_DISPATCH 1
#endif

/* How many loop iterations/calls run between interrupt checks without fuel. */
#define TICK_PERIOD 10000

#define TYPE_I32  uint32_t
#define TYPE_I64  uint64_t
#define TYPE_F32  float
#define TYPE_F64  double
#define TYPE_V128 v128

#define GET_I32(x)  (fp[x].i32)
#define GET_I64(x)  (fp[x].i64)
#define GET_F32(x)  (fp[x].f32)
#define GET_F64(x)  (fp[x].f64)
#define GET_V128(x) vload(&fp[x])

#define SET_I32(d, v)  (fp[d].i32 = (uint32_t)(v))
#define SET_I64(d, v)  (fp[d].i64 = (uint64_t)(v))
#define SET_F32(d, v)  (fp[d].f32 = (float)(v))
#define SET_F64(d, v)  (fp[d].f64 = (double)(v))
#define SET_V128(d, v) vstore(&fp[d], (v128)(v))

/* natural-width loads, as the LOAD rows of opcodes.def read them */
#define LOAD_I32(p) ld32(p)
#define LOAD_I64(p) ld64(p)
#define LOAD_F32(p) f32_bits(ld32(p))
#define LOAD_F64(p) f64_bits(ld64(p))

#define IMM_I32(p) ((p)[0])
#define IMM_I64(p) ((uint64_t)(p)[0] | (uint64_t)(p)[1] << 32)
#define IMMW_I32   1
#define IMMW_I64   2

static inline v128 vload(const union wasm_slot *s)
{
	v128 v;
	memcpy(&v, s, 16);
	return v;
}

static inline void vstore(union wasm_slot *s, v128 v)
{
	memcpy(s, &v, 16);
}

#include "wasm/simd.h"

const char *wasm_trap_message(enum wasm_trap trap)
{
	switch (trap) {
	case WASM_TRAP_NONE:
		return "no trap";
	case WASM_TRAP_UNREACHABLE:
		return "unreachable";
	case WASM_TRAP_MEM_OOB:
		return "out of bounds memory access";
	case WASM_TRAP_TABLE_OOB:
		return "out of bounds table access";
	case WASM_TRAP_UNDEFINED_ELEM:
		return "undefined element";
	case WASM_TRAP_UNINIT_ELEM:
		return "uninitialized element";
	case WASM_TRAP_INDIRECT_TYPE:
		return "indirect call type mismatch";
	case WASM_TRAP_DIV_ZERO:
		return "integer divide by zero";
	case WASM_TRAP_INT_OVERFLOW:
		return "integer overflow";
	case WASM_TRAP_INVALID_CONV:
		return "invalid conversion to integer";
	case WASM_TRAP_STACK_EXHAUSTED:
		return "call stack exhausted";
	case WASM_TRAP_FUEL:
		return "fuel exhausted";
	case WASM_TRAP_INTERRUPTED:
		return "interrupted";
	case WASM_TRAP_NULL_REF:
		return "null reference";
	case WASM_TRAP_HOST:
		return "host function failed";
	case WASM_TRAP_EXIT:
		return "exit";
	case WASM_TRAP_UNALIGNED_ATOMIC:
		return "unaligned atomic";
	case WASM_TRAP_UNSHARED:
		return "expected shared memory";
	case WASM_TRAP_NOMEM:
		return "out of memory (compiling a function at its first call)";
	case WASM_TRAP_EXCEPTION:
		return "uncaught exception";
	case WASM_TRAP_NULL_EXN_REF:
		return "null exception reference";
	case WASM_TRAP_NULL_FUNC_REF:
		return "null function reference";
	case WASM_TRAP_NULL_I31:
		return "null i31 reference";
	case WASM_TRAP_CAST:
		return "cast failure";
	case WASM_TRAP_NULL_STRUCT:
		return "null structure reference";
	case WASM_TRAP_NULL_ARRAY:
		return "null array reference";
	case WASM_TRAP_ARRAY_OOB:
		return "out of bounds array access";
	case WASM_TRAP_GC_LIMIT:
		return "out of memory: the GC heap (structs and arrays) would exceed the memory "
		       "budget (--max-memory) even after a collection";
	case WASM_TRAP_WASI_ALIGN:
		return "misaligned pointer: a WASI call was given a pointer not aligned for the "
		       "type it points to";
	case WASM_TRAP_EXN_LIMIT:
		return "out of memory: a thrown exception would exceed the memory budget "
		       "(--max-memory) even after a collection";
	case WASM_TRAP_AGAIN:
		return "a blocking host call was given up for a pause or an interrupt";
	}
	return "unknown trap";
}

/* Maps a pc inside f's code to the module offset of its instruction. */
static int64_t pc_to_offset(const struct wasm_code *code, const uint32_t *pc)
{
	uint32_t at = (uint32_t)(pc - code->ops), lo = 0, hi = code->nmap;

	if (!code->nmap)
		return -1;
	while (hi - lo > 1) {
		uint32_t mid = (lo + hi) / 2;
		if (code->map[mid].pc <= at)
			lo = mid;
		else
			hi = mid;
	}
	return code->map[lo].off;
}

void wasm_exec_record_trap(struct wasm_store *s, enum wasm_trap trap, struct wasm_func *fn,
			   const uint32_t *pc)
{
	s->trap.trap = trap;
	s->trap.func = fn ? (int64_t)fn->index : -1;
	s->trap.func_name_len = 0;
	s->trap.func_name = fn && fn->inst ? wasm_module_func_name(fn->inst->mod, fn->index,
								   &s->trap.func_name_len)
					   : NULL;
	s->trap.offset = fn && fn->code && pc ? pc_to_offset(fn->code, pc) : -1;
}

/* The compiler folds "i32.add x, imm" into the offset of the access that consumes it,
 * which is exact unless x + imm wraps around 2^32; then the folded address is >= 2^32,
 * beyond any memory, and lands here. For an op listed in code->wrap (the op at pc
 * folded imm) this returns Wasm's address (x + imm) mod 2^32 + (off - imm), else a value
 * no access fits below. */
static NOINLINE uint64_t wrapped_ea(const struct wasm_code *code, const uint32_t *pc, uint32_t x,
				    uint32_t off)
{
	uint32_t at = (uint32_t)(pc - code->ops), lo = 0, hi = code->nwrap;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (code->wrap[mid].pc < at) {
			lo = mid + 1;
		} else if (code->wrap[mid].pc > at) {
			hi = mid;
		} else {
			uint32_t imm = code->wrap[mid].imm;
			return (uint64_t)(uint32_t)(x + imm) + (off - imm);
		}
	}
	return UINT64_C(1) << 40;
}

uint64_t wasm_exec_wrapped_ea(const struct wasm_code *code, const uint32_t *pc, uint32_t x,
			      uint32_t off)
{
	return wrapped_ea(code, pc, x, off);
}

/* Called when the tick budget ran out: charge fuel, check for an interrupt. */
NOINLINE enum wasm_trap wasm_fuel_refuel(struct wasm_store *s, struct wasm_fuel *f)
{
	if (f->on) {
		s->fuel -= (uint64_t)f->chunk;
		f->chunk = 0;
		if (s->fuel == 0) {
			f->ticks = 0;
			return WASM_TRAP_FUEL;
		}
		f->chunk = s->fuel < (uint64_t)f->period ? (int64_t)s->fuel : f->period;
	} else {
		f->chunk = f->period;
	}
	f->ticks = f->chunk - 1;
	if (atomic_load_explicit(&s->pause, memory_order_relaxed))
		wasm_store_wait_resumed(s);
	if (atomic_load_explicit(&s->interrupt, memory_order_relaxed))
		return WASM_TRAP_INTERRUPTED;
	return WASM_TRAP_NONE;
}

/* Writes the fuel used so far back to the store and starts a new chunk. While a pause or
 * an interrupt is asked for, the new chunk is empty, so that the next tick refuels and
 * checks them: code that crosses between the interpreter and translated code at every
 * iteration (a loop calling a function of the other kind) syncs at each crossing and
 * would otherwise never use up a chunk, nor see a pause, a stop or a snapshot. */
void wasm_fuel_sync(struct wasm_store *s, struct wasm_fuel *f)
{
	if (f->on) {
		s->fuel -= (uint64_t)(f->chunk - f->ticks);
		f->chunk = s->fuel < (uint64_t)f->period ? (int64_t)s->fuel : f->period;
	} else {
		f->chunk = f->period;
	}
	if (unlikely(atomic_load_explicit(&s->pause, memory_order_relaxed) ||
		     atomic_load_explicit(&s->interrupt, memory_order_relaxed)))
		f->chunk = 0;
	f->ticks = f->chunk;
}

void wasm_fuel_start(struct wasm_store *s, struct wasm_fuel *f, int64_t period)
{
	f->on = s->lim.fuel != 0;
	f->period = period;
	f->chunk = f->ticks = 0;
	wasm_fuel_sync(s, f);
}

/* The tick budget ran out in fn: refuel, and count the chunk's ticks as fn's hotness
 * (a sample: fn is where the run is when a chunk ends, whoever used the rest). */
static NOINLINE enum wasm_trap tick_slow(struct wasm_store *s, struct wasm_fuel *f,
					 struct wasm_func *fn, bool jit)
{
	int64_t used = f->chunk;
	enum wasm_trap t = wasm_fuel_refuel(s, f);

	if (t == WASM_TRAP_NONE && jit && !fn->jit)
		wasm_jit_heat(s->jit, fn, used);
	return t;
}

/* Whether a call should go to f's translated code (translating f if it became hot). */
static inline bool jit_callee(struct wasm_store *s, struct wasm_func *f)
{
	if (f->jit)
		return true;
	if (f->jit_failed || --f->hot > 0)
		return false;
	return wasm_jit_heat(s->jit, f, 0);
}

/* Pause and interrupt requests, checked around host calls too: a program that spends its
 * time in host calls (a service sleeping in poll_oneoff) reaches few loop checks. */
static enum wasm_trap host_call_check(struct wasm_store *s)
{
	if (atomic_load_explicit(&s->pause, memory_order_relaxed))
		wasm_store_wait_resumed(s);
	if (atomic_load_explicit(&s->interrupt, memory_order_relaxed))
		return WASM_TRAP_INTERRUPTED;
	return WASM_TRAP_NONE;
}

int wasm_host_call_wake_fd(struct wasm_host_call *call)
{
	struct wasm_store *s = call->store;
	int fd = atomic_load(&s->wake_fd);

	if (fd < 0) {
		fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (fd < 0)
			return -1;
		atomic_store(&s->wake_fd, fd); /* then the flags are read (wake in memory.c) */
	}
	return fd;
}

bool wasm_host_call_held(const struct wasm_host_call *call)
{
	return atomic_load(&call->store->pause) || atomic_load(&call->store->interrupt);
}

/* Calls a host function whose arguments are at fp; results replace them. */
NOINLINE enum wasm_trap wasm_exec_call_host(struct wasm_store *s, struct wasm_func *callee,
					    struct wasm_instance *caller, union wasm_slot *fp,
					    size_t nframes, bool leave)
{
	struct wasm_host_call hc = {s, caller, callee->user, 0};
	size_t save_sp = s->sp, save_nf = s->nframes;
	struct wasm_act act;
	uint32_t need = callee->type->param_slots > callee->type->result_slots
				? callee->type->param_slots
				: callee->type->result_slots;
	enum wasm_trap t;

	if ((size_t)(fp - s->stack) + need > s->stack_slots)
		return WASM_TRAP_STACK_EXHAUSTED;
	for (;;) {
		t = host_call_check(s);
		if (t)
			return t;
		s->sp = (size_t)(fp - s->stack) + need;
		s->nframes = nframes;
		/* its reference arguments stay roots until it returns, whatever it writes
		 * there */
		act.prev = s->act;
		act.kind = WASM_ACT_HOST;
		act.base = fp;
		act.type = callee->type;
		wasm_gc_host_args(&act, callee->type, fp);
		s->act = &act;
		t = callee->host(&hc, (uint64_t *)(void *)fp);
		s->act = act.prev;
		s->sp = save_sp;
		s->nframes = save_nf;
		if (t != WASM_TRAP_AGAIN)
			break;
		/* given up for a pause or an interrupt, as if never called: host_call_check
		 * parks before the call where a snapshot can stand (s->at.pc still the call's)
		 * or ends the run */
		if (atomic_load(&s->interrupt) || !atomic_load(&s->pause))
			continue;
		if (!atomic_load(&s->snap_points) || (s->at.fn && s->runs == 1))
			continue;
		if (leave)
			return WASM_TRAP_AGAIN;
		wasm_store_park(s); /* where a snapshot cannot be taken: busy until a resume */
	}
	if (s->at.fn) /* the outermost run's host call returned: go on after it */
		s->at.pc = s->at.ret;
	if (t == WASM_TRAP_NONE)
		t = host_call_check(s);
	if (t == WASM_TRAP_EXIT)
		s->trap.exit_code = hc.exit_code;
	return t;
}

static bool mem_range_ok(uint64_t addr, uint64_t len, uint64_t size)
{
	return len <= size && addr <= size - len; /* no overflow with 64-bit operands */
}

/* An address operand of memory m: i64 for memory64, else i32. */
static inline uint64_t mem_operand(const struct wasm_memory *m, const union wasm_slot *v)
{
	return m->is64 ? v->i64 : v->i32;
}

/* ----- bulk memory and table ops (out of line: not hot) ----- */

static enum wasm_trap do_memory_init(struct wasm_instance *inst, struct wasm_memory *m,
				     const uint32_t *pc, union wasm_slot *fp)
{
	uint32_t seg = pc[1];
	uint64_t d = mem_operand(m, &fp[pc[2]]), src = fp[pc[3]].i32, n = fp[pc[4]].i32;

	if (!mem_range_ok(src, n, inst->data_len[seg]) || !mem_range_ok(d, n, m->size))
		return WASM_TRAP_MEM_OOB;
	if (n)
		memcpy(m->base + d, inst->mod->datas[seg].bytes + src, n);
	return WASM_TRAP_NONE;
}

static enum wasm_trap do_table_init(struct wasm_instance *inst, const uint32_t *pc,
				    union wasm_slot *fp)
{
	uint32_t seg = pc[1];
	struct wasm_table *t = inst->tables[pc[2]];
	uint64_t d = fp[pc[3]].i32, src = fp[pc[4]].i32, n = fp[pc[5]].i32;

	if (!mem_range_ok(src, n, inst->elem_len[seg]) || !mem_range_ok(d, n, t->size))
		return WASM_TRAP_TABLE_OOB;
	if (n)
		memcpy(t->elems + d, inst->elem_items[seg] + src, n * sizeof(uint64_t));
	return WASM_TRAP_NONE;
}

static enum wasm_trap do_table_copy(struct wasm_instance *inst, const uint32_t *pc,
				    union wasm_slot *fp)
{
	struct wasm_table *dt = inst->tables[pc[1]], *st = inst->tables[pc[2]];
	uint64_t d = fp[pc[3]].i32, src = fp[pc[4]].i32, n = fp[pc[5]].i32;

	if (!mem_range_ok(src, n, st->size) || !mem_range_ok(d, n, dt->size))
		return WASM_TRAP_TABLE_OOB;
	if (n)
		memmove(dt->elems + d, st->elems + src, n * sizeof(uint64_t));
	return WASM_TRAP_NONE;
}

static enum wasm_trap do_table_fill(struct wasm_instance *inst, const uint32_t *pc,
				    union wasm_slot *fp)
{
	struct wasm_table *t = inst->tables[pc[1]];
	uint64_t i = fp[pc[2]].i32, v = fp[pc[3]].i64, n = fp[pc[4]].i32;

	if (!mem_range_ok(i, n, t->size))
		return WASM_TRAP_TABLE_OOB;
	for (uint64_t k = 0; k < n; k++)
		t->elems[i + k] = v;
	return WASM_TRAP_NONE;
}

enum wasm_trap wasm_exec_bulk(struct wasm_instance *inst, const uint32_t *pc, enum wasm_op op,
			      union wasm_slot *fp)
{
	struct wasm_memory *m = inst->mem0;

	switch (op) {
	case WASM_OP_MEMORY_INIT:
		return do_memory_init(inst, m, pc, fp);
	case WASM_OP_TABLE_INIT:
		return do_table_init(inst, pc, fp);
	case WASM_OP_TABLE_COPY:
		return do_table_copy(inst, pc, fp);
	case WASM_OP_TABLE_FILL:
		return do_table_fill(inst, pc, fp);
	case WASM_OP_MEMORY_COPY: {
		uint64_t d = fp[pc[1]].i32, src = fp[pc[2]].i32, n = fp[pc[3]].i32;
		if (!mem_range_ok(src, n, m->size) || !mem_range_ok(d, n, m->size))
			return WASM_TRAP_MEM_OOB;
		if (n)
			memmove(m->base + d, m->base + src, n);
		return WASM_TRAP_NONE;
	}
	case WASM_OP_MEMORY_FILL: {
		uint64_t d = fp[pc[1]].i32, n = fp[pc[3]].i32;
		if (!mem_range_ok(d, n, m->size))
			return WASM_TRAP_MEM_OOB;
		if (n)
			memset(m->base + d, (int)(fp[pc[2]].i32 & 0xff), n);
		return WASM_TRAP_NONE;
	}
	default:
		return WASM_TRAP_UNREACHABLE;
	}
}

/* Runs translated code (wasm_jit_run) as a stretch of the value stack of its own
 * (struct wasm_act): a collection finds its frames with wasm_jit_walk and scans each
 * with its stack map. */
static enum wasm_trap jit_enter(struct wasm_store *s, const void *code, union wasm_slot *fp,
				size_t depth)
{
	struct wasm_act a;
	enum wasm_trap t;

	a.prev = s->act;
	a.kind = WASM_ACT_JIT;
	a.base = fp;
	a.fn = NULL;
	a.jsp = 0; /* set when its code calls out */
	s->act = &a;
	t = wasm_jit_run(s->jit, code, fp, depth);
	s->act = a.prev;
	return t;
}

/* The interpreter loop. With table_out set (and s NULL) it only returns the dispatch table.
 * tick_entry: count the entry as a call (not when translated code already did). */
static enum wasm_trap run(struct wasm_store *s, struct wasm_func *entry, bool tick_entry,
			  const struct wasm_resume *from, const int32_t **table_out)
{
#ifndef WASM_SWITCH_DISPATCH
#define LBL(N) (int32_t)((const char *)&&L_##N - (const char *)&&L_BASE)
	static const int32_t dispatch[] = {
#define OP(N) LBL(N),
#include "wasm/ops.def"
#undef OP
	};
#undef LBL
#define CASE(N) L_##N:
#define NEXT()	goto *(const void *)((const char *)&&L_BASE + (int32_t)pc[0])
	if (table_out) {
		*table_out = dispatch;
		return WASM_TRAP_NONE;
	}
#else
#define CASE(N) case WASM_OP_##N:
#define NEXT()	goto dispatch
	if (table_out)
		return WASM_TRAP_NONE;
#endif
	struct wasm_func *fn = entry, *callee;
	struct wasm_instance *inst = fn->inst;
	union wasm_slot *fp = s->stack + s->sp, *nfp;
	union wasm_slot *const stack_end = s->stack + s->stack_slots;
	struct wasm_frame *const fr_base = s->frames + s->nframes;
	struct wasm_frame *const fr_end = s->frames + s->max_frames;
	struct wasm_frame *fr = fr_base;
	const uint32_t *pc, *ret;
	const struct wasm_code *code;
	uint8_t *mem = NULL;
	uint64_t msize = 0;
	struct wasm_fuel fuel;
	enum wasm_trap trap = WASM_TRAP_NONE;
	/* translated code may run: calls to translated functions, hot loops */
	const bool jit = s->jit && s->jit_hot != WASM_JIT_OFF;
	/* the outermost run: only its state is all in s->frames and the slots (snapshots) */
	const bool top = s->runs++ == 0 && s->nframes == 0 && s->sp == 0;
	/* this run's stretch of the value stack, for precise roots (LEAVE) */
	struct wasm_act act = {.prev = s->act,
			       .kind = WASM_ACT_INTERP,
			       .top = top,
			       .base = fp,
			       .fr0 = s->nframes,
			       .frn = s->nframes};

#define RELOAD_MEM()                                                                               \
	do {                                                                                       \
		if (inst->mem0) {                                                                  \
			mem = inst->mem0->base;                                                    \
			msize = inst->mem0->size;                                                  \
		}                                                                                  \
	} while (0)
#define TRAP(t)                                                                                    \
	do {                                                                                       \
		trap = (t);                                                                        \
		goto trapped;                                                                      \
	} while (0)
/* Before leaving for code that may collect: where fn stands (f_ NULL: no frame of its own
 * here, its frame being translated code's or a host function's now), at pc_ (a call's
 * return pc, or at_op_: the start of an allocating op or a throw), and the frames below. */
#define LEAVE(f_, pc_, at_op_)                                                                     \
	do {                                                                                       \
		act.fn = (f_);                                                                     \
		act.pc = (pc_);                                                                    \
		act.fp = fp;                                                                       \
		act.at_op = (at_op_);                                                              \
		act.frn = (size_t)(fr - s->frames);                                                \
	} while (0)
/* Where a snapshot taken while parked goes on (the outermost run only). */
#define AT(pc_, ret_, ticked_)                                                                     \
	do {                                                                                       \
		if (top)                                                                           \
			s->at = (struct wasm_resume){                                              \
				fn, (pc_), (ret_), fp, (size_t)(fr - s->frames), (ticked_)};       \
	} while (0)
#define TICK(ticked_)                                                                              \
	do {                                                                                       \
		if (unlikely(--fuel.ticks < 0)) {                                                  \
			AT(pc, pc, ticked_);                                                       \
			enum wasm_trap t_ = tick_slow(s, &fuel, fn, jit);                          \
			s->at.fn = NULL;                                                           \
			if (t_)                                                                    \
				TRAP(t_);                                                          \
			if (!(ticked_) && !top && jit)                                             \
				NESTED_PAUSE(true);                                                \
		}                                                                                  \
	} while (0)
/* a loop back-edge (pc is the loop's start): a function translated meanwhile continues
 * in its translated code from there */
#define TICK_LOOP()                                                                                \
	do {                                                                                       \
		if (unlikely(--fuel.ticks < 0)) {                                                  \
			AT(pc, pc, true);                                                          \
			enum wasm_trap t_ = tick_slow(s, &fuel, fn, jit);                          \
			s->at.fn = NULL;                                                           \
			if (t_)                                                                    \
				TRAP(t_);                                                          \
			if (!top && jit)                                                           \
				NESTED_PAUSE(false);                                               \
			if (jit && fn->jit)                                                        \
				goto osr;                                                          \
		}                                                                                  \
	} while (0)
/* A run inside translated code (not the outermost) at a loop's start or a call op (pc)
 * while a pause for a snapshot waits: every frame goes to the outermost run, which goes
 * on here (wasm_jit_deopt), and this run returns WASM_TRAP_DEOPT up to it. At a call op
 * (uncount_) the tick just counted is given back: the outermost run counts it again. */
#define NESTED_PAUSE(uncount_)                                                                     \
	do {                                                                                       \
		if (unlikely(atomic_load_explicit(&s->pause, memory_order_relaxed) &&              \
			     atomic_load_explicit(&s->snap_points, memory_order_relaxed))) {       \
			LEAVE(NULL, NULL, false);                                                  \
			if (wasm_jit_deopt(s->jit, fn, pc, fp, (size_t)(fr - s->frames))) {        \
				fuel.ticks += (uncount_);                                          \
				trap = WASM_TRAP_DEOPT;                                            \
				goto propagate;                                                    \
			}                                                                          \
		}                                                                                  \
	} while (0)
/* Translated code left for the interpreter (WASM_TRAP_DEOPT), entered by this run on
 * frame fp_ at call depth fr: the outermost run goes on in the interpreter where the
 * innermost frame stood, every frame above its own now its frames (wasm_jit_deopted);
 * any other run passes it on. */
#define DEOPTED(f_, fp_)                                                                           \
	do {                                                                                       \
		struct wasm_func *df_;                                                             \
		union wasm_slot *dfp_;                                                             \
		size_t dn_;                                                                        \
		(void)(f_);                                                                        \
		if (!top) { /* a run inside translated code: the outermost goes on */              \
			trap = WASM_TRAP_DEOPT;                                                    \
			goto propagate;                                                            \
		}                                                                                  \
		wasm_jit_deopted(s->jit, &df_, &pc, &dfp_, &dn_);                                  \
		if (unlikely(s->frames + dn_ < fr || dfp_ < (fp_)))                                \
			TRAP(WASM_TRAP_HOST); /* cannot happen */                                  \
		fr = s->frames + dn_;                                                              \
		fn = df_;                                                                          \
		fp = dfp_;                                                                         \
		inst = fn->inst;                                                                   \
		RELOAD_MEM();                                                                      \
		/* the next check parks: the chunk ends here (the ticks used stay counted) */      \
		fuel.chunk -= fuel.ticks;                                                          \
		fuel.ticks = 0;                                                                    \
	} while (0)
/* p = the checked host address of a size-byte access at fp[addr_slot] + off. Out of
 * bounds, the op may still be fine: the compiler may have folded an address add into
 * off (see wrapped_ea); only then does the access go ahead, at the exact address. */
#define MEM_AT(addr_slot, off, size)                                                               \
	uint64_t ea = (uint64_t)fp[addr_slot].i32 + (off);                                         \
	if (unlikely(ea + (size) > msize)) {                                                       \
		ea = wrapped_ea(fn->code, pc, fp[addr_slot].i32, (off));                           \
		if (ea + (size) > msize)                                                           \
			TRAP(WASM_TRAP_MEM_OOB);                                                   \
	}                                                                                          \
	uint8_t *p = mem + ea

	s->act = &act;
	wasm_fuel_start(s, &fuel,
			jit && s->jit_hot < TICK_PERIOD ? (int64_t)s->jit_hot : TICK_PERIOD);
	if (from) {
		/* a restored snapshot (wasm/snapshot.c checked every frame and pc) */
		fp = from->fp;
		fr = fr_base + from->nframes;
		inst = fn->inst;
		pc = from->pc;
		RELOAD_MEM();
		NEXT();
	}
	RELOAD_MEM();
	if (unlikely(!wasm_code_ready(fn->code))) {
		pc = NULL;
		if (wasm_code_compile(fn))
			TRAP(WASM_TRAP_NOMEM);
	}
	pc = fn->code->ops;
	if (unlikely(fp + fn->code->frame_slots > stack_end))
		TRAP(WASM_TRAP_STACK_EXHAUSTED);
	memset(fp + fn->code->param_slots, 0, fn->code->local_slots * sizeof(*fp));
	if (tick_entry)
		TICK(true);
	if (jit && fn->jit && wasm_jit_stack_ok(s->jit)) {
		/* translated already: all of it runs there */
		wasm_fuel_sync(s, &fuel);
		LEAVE(NULL, NULL, false);
		trap = jit_enter(s, fn->jit_foreign, fp, (size_t)(fr - s->frames));
		fuel.chunk = fuel.ticks = 0;
		wasm_fuel_sync(s, &fuel);
		if (trap == WASM_TRAP_DEOPT) {
			DEOPTED(fn, fp);
			NEXT();
		}
		if (unlikely(trap))
			goto propagate;
		goto done;
	}

	/* one brace either way, so the two builds (and clang-format) agree on the nesting */
#ifndef WASM_SWITCH_DISPATCH
	NEXT();
	{
L_BASE:
		__attribute__((unused));
#else
dispatch:
	switch ((enum wasm_op)pc[0]) {
#endif

		/* ----- generated numeric, memory and SIMD handlers ----- */
#define SPECIAL(N, P, C)
#define UN(N, P, C, TI, TO, E)                                                                     \
	CASE(N)                                                                                    \
	{                                                                                          \
		TYPE_##TI a = GET_##TI(pc[2]);                                                     \
		SET_##TO(pc[1], E);                                                                \
		pc += 3;                                                                           \
		NEXT();                                                                            \
	}
#define BIN(N, P, C, TA, TB, TO, E)                                                                \
	CASE(N)                                                                                    \
	{                                                                                          \
		TYPE_##TA a = GET_##TA(pc[2]);                                                     \
		TYPE_##TB b = GET_##TB(pc[3]);                                                     \
		SET_##TO(pc[1], E);                                                                \
		pc += 4;                                                                           \
		NEXT();                                                                            \
	}
#define IBIN(N, P, C, T, E)                                                                        \
	BIN(N, P, C, T, T, T, E)                                                                   \
	CASE(N##_I)                                                                                \
	{                                                                                          \
		TYPE_##T a = GET_##T(pc[2]);                                                       \
		TYPE_##T b = IMM_##T(pc + 3);                                                      \
		SET_##T(pc[1], E);                                                                 \
		pc += 3 + IMMW_##T;                                                                \
		NEXT();                                                                            \
	}
#define ICMP(N, P, C, T, NEG, E)                                                                   \
	BIN(N, P, C, T, T, I32, E)                                                                 \
	CASE(N##_I)                                                                                \
	{                                                                                          \
		TYPE_##T a = GET_##T(pc[2]);                                                       \
		TYPE_##T b = IMM_##T(pc + 3);                                                      \
		SET_I32(pc[1], E);                                                                 \
		pc += 3 + IMMW_##T;                                                                \
		NEXT();                                                                            \
	}                                                                                          \
	CASE(BR_##N)                                                                               \
	{                                                                                          \
		TYPE_##T a = GET_##T(pc[1]);                                                       \
		TYPE_##T b = GET_##T(pc[2]);                                                       \
		if (E)                                                                             \
			pc += (int32_t)pc[3];                                                      \
		else                                                                               \
			pc += 4;                                                                   \
		NEXT();                                                                            \
	}                                                                                          \
	CASE(BR_##N##_I)                                                                           \
	{                                                                                          \
		TYPE_##T a = GET_##T(pc[1]);                                                       \
		TYPE_##T b = IMM_##T(pc + 2);                                                      \
		if (E)                                                                             \
			pc += (int32_t)pc[2 + IMMW_##T];                                           \
		else                                                                               \
			pc += 3 + IMMW_##T;                                                        \
		NEXT();                                                                            \
	}                                                                                          \
	CASE(BRL_##N)                                                                              \
	{                                                                                          \
		TYPE_##T a = GET_##T(pc[1]);                                                       \
		TYPE_##T b = GET_##T(pc[2]);                                                       \
		if (E) {                                                                           \
			pc += (int32_t)pc[3];                                                      \
			TICK_LOOP();                                                               \
		} else {                                                                           \
			pc += 4;                                                                   \
		}                                                                                  \
		NEXT();                                                                            \
	}                                                                                          \
	CASE(BRL_##N##_I)                                                                          \
	{                                                                                          \
		TYPE_##T a = GET_##T(pc[1]);                                                       \
		TYPE_##T b = IMM_##T(pc + 2);                                                      \
		if (E) {                                                                           \
			pc += (int32_t)pc[2 + IMMW_##T];                                           \
			TICK_LOOP();                                                               \
		} else {                                                                           \
			pc += 3 + IMMW_##T;                                                        \
		}                                                                                  \
		NEXT();                                                                            \
	}
#define TBIN(N, P, C, T, F)                                                                        \
	CASE(N)                                                                                    \
	{                                                                                          \
		TYPE_##T a = GET_##T(pc[2]);                                                       \
		TYPE_##T b = GET_##T(pc[3]), r;                                                    \
		enum wasm_trap t_ = F(a, b, &r);                                                   \
		if (unlikely(t_))                                                                  \
			TRAP(t_);                                                                  \
		SET_##T(pc[1], r);                                                                 \
		pc += 4;                                                                           \
		NEXT();                                                                            \
	}
#define TUN(N, P, C, TI, TO, F)                                                                    \
	CASE(N)                                                                                    \
	{                                                                                          \
		TYPE_##TI a = GET_##TI(pc[2]);                                                     \
		TYPE_##TO r;                                                                       \
		enum wasm_trap t_ = F(a, &r);                                                      \
		if (unlikely(t_))                                                                  \
			TRAP(t_);                                                                  \
		SET_##TO(pc[1], r);                                                                \
		pc += 3;                                                                           \
		NEXT();                                                                            \
	}
#define LOAD(N, P, C, TO, A, E)                                                                    \
	CASE(N)                                                                                    \
	{                                                                                          \
		MEM_AT(pc[2], pc[3], 1u << (A));                                                   \
		SET_##TO(pc[1], E);                                                                \
		pc += 4;                                                                           \
		NEXT();                                                                            \
	}                                                                                          \
	CASE(N##_IDX)                                                                              \
	{                                                                                          \
		uint32_t a_ = fp[pc[2]].i32 + (fp[pc[3]].i32 << pc[4]);                            \
		uint64_t ea = (uint64_t)a_ + pc[5];                                                \
		if (unlikely(ea + (1u << (A)) > msize))                                            \
			TRAP(WASM_TRAP_MEM_OOB);                                                   \
		uint8_t *p = mem + ea;                                                             \
		SET_##TO(pc[1], E);                                                                \
		pc += 6;                                                                           \
		NEXT();                                                                            \
	}
#define STORE(N, P, C, TI, A, S)                                                                   \
	CASE(N)                                                                                    \
	{                                                                                          \
		TYPE_##TI v = GET_##TI(pc[2]);                                                     \
		MEM_AT(pc[1], pc[3], 1u << (A));                                                   \
		S;                                                                                 \
		pc += 4;                                                                           \
		NEXT();                                                                            \
	}
#define TERN(N, P, C, E)                                                                           \
	CASE(N)                                                                                    \
	{                                                                                          \
		v128 a = GET_V128(pc[2]);                                                          \
		v128 b = GET_V128(pc[3]);                                                          \
		v128 c = GET_V128(pc[4]);                                                          \
		SET_V128(pc[1], E);                                                                \
		pc += 5;                                                                           \
		NEXT();                                                                            \
	}
#define EXTRACT(N, P, C, TO, L, E)                                                                 \
	CASE(N)                                                                                    \
	{                                                                                          \
		v128 a = GET_V128(pc[2]);                                                          \
		uint32_t lane = pc[3];                                                             \
		SET_##TO(pc[1], E);                                                                \
		pc += 4;                                                                           \
		NEXT();                                                                            \
	}
#define REPLACE(N, P, C, TI, L, E)                                                                 \
	CASE(N)                                                                                    \
	{                                                                                          \
		v128 a = GET_V128(pc[2]);                                                          \
		TYPE_##TI b = GET_##TI(pc[3]);                                                     \
		uint32_t lane = pc[4];                                                             \
		SET_V128(pc[1], E);                                                                \
		pc += 5;                                                                           \
		NEXT();                                                                            \
	}
#define LANEMEM(N, P, C, A, L, ISSTORE)                                                            \
	CASE(N)                                                                                    \
	{                                                                                          \
		if (ISSTORE) {                                                                     \
			v128 v = GET_V128(pc[1]);                                                  \
			MEM_AT(pc[2], pc[3], 1u << (A));                                           \
			memcpy(p, (uint8_t *)&v + (pc[4] << (A)), 1u << (A));                      \
			pc += 5;                                                                   \
		} else {                                                                           \
			v128 v = GET_V128(pc[2]);                                                  \
			MEM_AT(pc[3], pc[4], 1u << (A));                                           \
			memcpy((uint8_t *)&v + (pc[5] << (A)), p, 1u << (A));                      \
			SET_V128(pc[1], v);                                                        \
			pc += 6;                                                                   \
		}                                                                                  \
		NEXT();                                                                            \
	}
#define XOP(N, DOC)
#include "wasm/opcodes.def"
#undef XOP

		/* ----- superinstructions (fused.def) ----- */
#define FUSE_LOAD(N, BIN, T, COMM, E)                                                              \
	CASE(N)                                                                                    \
	{                                                                                          \
		MEM_AT(pc[3], pc[4], sizeof(TYPE_##T));                                            \
		TYPE_##T a = GET_##T(pc[2]);                                                       \
		TYPE_##T b = LOAD_##T(p);                                                          \
		SET_##T(pc[1], E);                                                                 \
		pc += 5;                                                                           \
		NEXT();                                                                            \
	}
#define FUSE_IMM(N, BIN, IN, T, COMM, E)                                                           \
	CASE(N)                                                                                    \
	{                                                                                          \
		TYPE_##T a = GET_##T(pc[2]);                                                       \
		TYPE_##T x = GET_##T(pc[3]);                                                       \
		TYPE_##T imm = IMM_##T(pc + 4);                                                    \
		SET_##T(pc[1], E);                                                                 \
		pc += 4 + IMMW_##T;                                                                \
		NEXT();                                                                            \
	}
#define FUSE_BIN(N, BIN, IN, T, COMM, E)                                                           \
	CASE(N)                                                                                    \
	{                                                                                          \
		TYPE_##T a = GET_##T(pc[2]);                                                       \
		TYPE_##T x = GET_##T(pc[3]);                                                       \
		TYPE_##T y = GET_##T(pc[4]);                                                       \
		SET_##T(pc[1], E);                                                                 \
		pc += 5;                                                                           \
		NEXT();                                                                            \
	}
#include "wasm/fused.def"
#undef FUSE_LOAD
#undef FUSE_IMM
#undef FUSE_BIN

		/* ----- internal ops (xops.def) ----- */
		CASE(UNREACHABLE)
		TRAP(WASM_TRAP_UNREACHABLE);
		CASE(COPY)
		fp[pc[1]] = fp[pc[2]];
		pc += 3;
		NEXT();
		CASE(MOVE2)
		fp[pc[1]] = fp[pc[2]];
		fp[pc[3]] = fp[pc[4]];
		pc += 5;
		NEXT();
		CASE(MOVE3)
		fp[pc[1]] = fp[pc[2]];
		fp[pc[3]] = fp[pc[4]];
		fp[pc[5]] = fp[pc[6]];
		pc += 7;
		NEXT();
		CASE(I32_ROTL_XOR_ROTL)
		fp[pc[1]].i32 = rotl32(fp[pc[2]].i32, pc[3]) ^ rotl32(fp[pc[4]].i32, pc[5]);
		pc += 6;
		NEXT();
		CASE(COPY_I32_LOAD_IDX)
		{
			fp[pc[1]] = fp[pc[2]];
			uint32_t a_ = fp[pc[5]].i32 + (fp[pc[6]].i32 << pc[7]);
			uint64_t ea = (uint64_t)a_ + pc[8];
			if (unlikely(ea + 4 > msize)) {
				pc += 3; /* the trap is the load's */
				TRAP(WASM_TRAP_MEM_OOB);
			}
			SET_I32(pc[4], ld32(mem + ea));
			pc += 9;
			NEXT();
		}
		CASE(I32_ADD_I2)
		fp[pc[1]].i32 = fp[pc[2]].i32 + pc[3];
		fp[pc[5]].i32 = fp[pc[6]].i32 + pc[7];
		pc += 8;
		NEXT();
		CASE(COPY2)
		{
			union wasm_slot lo = fp[pc[2]], hi = fp[pc[2] + 1];
			fp[pc[1]] = lo;
			fp[pc[1] + 1] = hi;
			pc += 3;
			NEXT();
		}
		CASE(CONST32)
		fp[pc[1]].i64 = pc[2];
		pc += 3;
		NEXT();
		CASE(CONST64)
		fp[pc[1]].i64 = IMM_I64(pc + 2);
		pc += 4;
		NEXT();
		CASE(CONST128)
		memcpy(&fp[pc[1]], pc + 2, 16);
		pc += 6;
		NEXT();
		CASE(BR)
		pc += (int32_t)pc[1];
		NEXT();
		CASE(BR_NZ)
		pc += fp[pc[1]].i32 ? (int32_t)pc[2] : 3;
		NEXT();
		CASE(BR_Z)
		pc += fp[pc[1]].i32 ? 3 : (int32_t)pc[2];
		NEXT();
		CASE(BR_NZ64)
		pc += fp[pc[1]].i64 ? (int32_t)pc[2] : 3;
		NEXT();
		CASE(BR_Z64)
		pc += fp[pc[1]].i64 ? 3 : (int32_t)pc[2];
		NEXT();
		/* loop back-edges: the same branches, counting one tick of fuel when taken */
		CASE(BR_LOOP)
		pc += (int32_t)pc[1];
		TICK_LOOP();
		NEXT();
		CASE(BRL_NZ)
		if (fp[pc[1]].i32) {
			pc += (int32_t)pc[2];
			TICK_LOOP();
		} else {
			pc += 3;
		}
		NEXT();
		CASE(BRL_Z)
		if (!fp[pc[1]].i32) {
			pc += (int32_t)pc[2];
			TICK_LOOP();
		} else {
			pc += 3;
		}
		NEXT();
		CASE(BRL_NZ64)
		if (fp[pc[1]].i64) {
			pc += (int32_t)pc[2];
			TICK_LOOP();
		} else {
			pc += 3;
		}
		NEXT();
		CASE(BRL_Z64)
		if (!fp[pc[1]].i64) {
			pc += (int32_t)pc[2];
			TICK_LOOP();
		} else {
			pc += 3;
		}
		NEXT();
		CASE(BR_TABLE)
		{
			uint32_t i = fp[pc[1]].i32, n = pc[2];
			pc += (int32_t)pc[3 + (i < n ? i : n)];
			NEXT();
		}
		CASE(CALL)
		callee = inst->funcs[pc[1]];
		nfp = fp + pc[2];
		ret = pc + 3;
		goto do_call;
		CASE(CALL_LOCAL)
		/* the code pointer comes with the op: no chain of loads through the callee */
		code = (const struct wasm_code *)(uintptr_t)IMM_I64(pc + 1);
		callee = &inst->own_funcs[pc[3]];
		nfp = fp + pc[4];
		ret = pc + 5;
		goto do_call_code;
		CASE(CALL_INDIRECT)
		{
			struct wasm_table *t = inst->tables[pc[2]];
			uint32_t i = fp[pc[3]].i32;
			const struct wasm_ftype *want = &inst->mod->types[pc[1]];
			if (unlikely(i >= t->size))
				TRAP(WASM_TRAP_UNDEFINED_ELEM);
			callee = (struct wasm_func *)(uintptr_t)t->elems[i];
			if (unlikely(!callee))
				TRAP(WASM_TRAP_UNINIT_ELEM);
			if (unlikely(callee->type != want && !wasm_ftype_match(callee->type, want)))
				TRAP(WASM_TRAP_INDIRECT_TYPE);
			nfp = fp + pc[4];
			ret = pc + 5;
			goto do_call;
		}
		CASE(RETURN_CALL)
		callee = inst->funcs[pc[1]];
		nfp = fp + pc[2];
		goto do_tail_call;
		CASE(RETURN_CALL_INDIRECT)
		{
			struct wasm_table *t = inst->tables[pc[2]];
			uint32_t i = fp[pc[3]].i32;
			const struct wasm_ftype *want = &inst->mod->types[pc[1]];
			if (unlikely(i >= t->size))
				TRAP(WASM_TRAP_UNDEFINED_ELEM);
			callee = (struct wasm_func *)(uintptr_t)t->elems[i];
			if (unlikely(!callee))
				TRAP(WASM_TRAP_UNINIT_ELEM);
			if (unlikely(callee->type != want && !wasm_ftype_match(callee->type, want)))
				TRAP(WASM_TRAP_INDIRECT_TYPE);
			nfp = fp + pc[4];
			goto do_tail_call;
		}
		CASE(RET1)
		fp[0] = fp[pc[1]];
		goto do_return;
		CASE(RETURN)
do_return:
		if (unlikely(fr == fr_base))
			goto done;
		fr--;
		pc = fr->pc;
		fp = fr->fp;
		fn = fr->func;
		if (unlikely(fr->inst != inst)) {
			inst = fr->inst;
			RELOAD_MEM();
		}
		NEXT();
		CASE(SELECT)
		{
			union wasm_slot a = fp[pc[2]], b = fp[pc[3]];
			fp[pc[1]] = fp[pc[4]].i32 ? a : b;
			pc += 5;
			NEXT();
		}
		CASE(SELECT2)
		{
			v128 a = GET_V128(pc[2]), b = GET_V128(pc[3]);
			SET_V128(pc[1], fp[pc[4]].i32 ? a : b);
			pc += 5;
			NEXT();
		}
		CASE(GLOBAL_GET)
		fp[pc[1]] = inst->globals[pc[2]]->v[0];
		pc += 3;
		NEXT();
		CASE(GLOBAL_GET2)
		{
			struct wasm_global *g = inst->globals[pc[2]];
			fp[pc[1]] = g->v[0];
			fp[pc[1] + 1] = g->v[1];
			pc += 3;
			NEXT();
		}
		CASE(GLOBAL_SET)
		inst->globals[pc[1]]->v[0] = fp[pc[2]];
		pc += 3;
		NEXT();
		CASE(GLOBAL_SET2)
		{
			struct wasm_global *g = inst->globals[pc[1]];
			g->v[0] = fp[pc[2]];
			g->v[1] = fp[pc[2] + 1];
			pc += 3;
			NEXT();
		}
		CASE(MEMORY_SIZE)
		fp[pc[1]].i32 = inst->mem0->pages;
		pc += 2;
		NEXT();
		CASE(MEMORY_GROW)
		fp[pc[1]].i32 = (uint32_t)wasm_memory_do_grow(inst->mem0, fp[pc[2]].i32);
		RELOAD_MEM();
		pc += 3;
		NEXT();
		CASE(MEMORY_INIT)
		trap = do_memory_init(inst, inst->mem0, pc, fp);
		if (unlikely(trap))
			TRAP(trap);
		pc += 5;
		NEXT();
		CASE(DATA_DROP)
		inst->data_len[pc[1]] = 0;
		pc += 2;
		NEXT();
		CASE(MEMORY_COPY)
		{
			uint64_t d = fp[pc[1]].i32, src = fp[pc[2]].i32, n = fp[pc[3]].i32;
			if (unlikely(!mem_range_ok(src, n, msize) || !mem_range_ok(d, n, msize)))
				TRAP(WASM_TRAP_MEM_OOB);
			if (n)
				memmove(mem + d, mem + src, n);
			pc += 4;
			NEXT();
		}
		CASE(MEMORY_FILL)
		{
			uint64_t d = fp[pc[1]].i32, n = fp[pc[3]].i32;
			if (unlikely(!mem_range_ok(d, n, msize)))
				TRAP(WASM_TRAP_MEM_OOB);
			if (n)
				memset(mem + d, (int)(fp[pc[2]].i32 & 0xff), n);
			pc += 4;
			NEXT();
		}
		/* multiple memories (3.0): ops on a memory other than 0 */
		CASE(USE_MEM)
		{
			struct wasm_memory *m_ = inst->mems[pc[1]];
			mem = m_->base;
			msize = m_->size;
			pc += 2;
			NEXT();
		}
		CASE(MEMORY_SIZE_M)
		fp[pc[1]].i32 = inst->mems[pc[2]]->pages;
		pc += 3;
		NEXT();
		CASE(MEMORY_GROW_M)
		fp[pc[1]].i32 = (uint32_t)wasm_memory_do_grow(inst->mems[pc[3]], fp[pc[2]].i32);
		RELOAD_MEM();
		pc += 4;
		NEXT();
		CASE(MEMORY_INIT_M)
		trap = do_memory_init(inst, inst->mems[pc[5]], pc, fp);
		if (unlikely(trap))
			TRAP(trap);
		pc += 6;
		NEXT();
		CASE(MEMORY_COPY_M)
		{
			struct wasm_memory *dm = inst->mems[pc[4]], *sm = inst->mems[pc[5]];
			uint64_t d = mem_operand(dm, &fp[pc[1]]), src = mem_operand(sm, &fp[pc[2]]);
			uint64_t n = dm->is64 && sm->is64 ? fp[pc[3]].i64 : fp[pc[3]].i32;
			if (unlikely(!mem_range_ok(src, n, sm->size) ||
				     !mem_range_ok(d, n, dm->size)))
				TRAP(WASM_TRAP_MEM_OOB);
			if (n)
				memmove(dm->base + d, sm->base + src, n);
			pc += 6;
			NEXT();
		}
		/* memory64 */
		CASE(ADDR64)
		{
			uint64_t a_ = fp[pc[2]].i64, ea = a_ + IMM_I64(pc + 3);
			if (unlikely(ea < a_ || ea > UINT32_MAX))
				TRAP(WASM_TRAP_MEM_OOB);
			fp[pc[1]].i64 = ea;
			pc += 5;
			NEXT();
		}
		CASE(MEMORY_SIZE64)
		fp[pc[1]].i64 = inst->mems[pc[2]]->pages;
		pc += 3;
		NEXT();
		CASE(MEMORY_GROW64)
		{
			uint64_t delta = fp[pc[2]].i64;
			fp[pc[1]].i64 = delta > WASM_MAX_PAGES
						? UINT64_MAX
						: (uint64_t)wasm_memory_do_grow(inst->mems[pc[3]],
										(uint32_t)delta);
			RELOAD_MEM();
			pc += 4;
			NEXT();
		}
		CASE(MEMORY_FILL64)
		{
			struct wasm_memory *m_ = inst->mems[pc[4]];
			uint64_t d = fp[pc[1]].i64, n = fp[pc[3]].i64;
			if (unlikely(!mem_range_ok(d, n, m_->size)))
				TRAP(WASM_TRAP_MEM_OOB);
			if (n)
				memset(m_->base + d, (int)(fp[pc[2]].i32 & 0xff), n);
			pc += 5;
			NEXT();
		}
		CASE(TABLE_GET)
		{
			struct wasm_table *t = inst->tables[pc[2]];
			uint32_t i = fp[pc[3]].i32;
			if (unlikely(i >= t->size))
				TRAP(WASM_TRAP_TABLE_OOB);
			fp[pc[1]].i64 = t->elems[i];
			pc += 4;
			NEXT();
		}
		CASE(TABLE_SET)
		{
			struct wasm_table *t = inst->tables[pc[1]];
			uint32_t i = fp[pc[2]].i32;
			if (unlikely(i >= t->size))
				TRAP(WASM_TRAP_TABLE_OOB);
			t->elems[i] = fp[pc[3]].i64;
			pc += 4;
			NEXT();
		}
		CASE(TABLE_INIT)
		trap = do_table_init(inst, pc, fp);
		if (unlikely(trap))
			TRAP(trap);
		pc += 6;
		NEXT();
		CASE(ELEM_DROP)
		inst->elem_len[pc[1]] = 0;
		pc += 2;
		NEXT();
		CASE(TABLE_COPY)
		trap = do_table_copy(inst, pc, fp);
		if (unlikely(trap))
			TRAP(trap);
		pc += 6;
		NEXT();
		CASE(TABLE_GROW)
		fp[pc[1]].i32 = (uint32_t)wasm_table_do_grow(inst->tables[pc[2]], fp[pc[4]].i32,
							     fp[pc[3]].i64);
		pc += 5;
		NEXT();
		CASE(IDX64)
		if (unlikely(fp[pc[2]].i64 > UINT32_MAX))
			TRAP((enum wasm_trap)pc[3]);
		fp[pc[1]].i64 = fp[pc[2]].i64;
		pc += 4;
		NEXT();
		CASE(TABLE_SIZE64)
		fp[pc[1]].i64 = inst->tables[pc[2]]->size;
		pc += 3;
		NEXT();
		CASE(TABLE_GROW64)
		{
			uint64_t n = fp[pc[4]].i64;
			fp[pc[1]].i64 =
				n > UINT32_MAX
					? UINT64_MAX
					: (uint64_t)wasm_table_do_grow(inst->tables[pc[2]],
								       (uint32_t)n, fp[pc[3]].i64);
			pc += 5;
			NEXT();
		}
		CASE(TABLE_SIZE)
		fp[pc[1]].i32 = inst->tables[pc[2]]->size;
		pc += 3;
		NEXT();
		CASE(TABLE_FILL)
		trap = do_table_fill(inst, pc, fp);
		if (unlikely(trap))
			TRAP(trap);
		pc += 5;
		NEXT();
		CASE(REF_FUNC)
		fp[pc[1]].i64 = (uint64_t)(uintptr_t)inst->funcs[pc[2]];
		pc += 3;
		NEXT();
		CASE(REF_IS_NULL)
		fp[pc[1]].i32 = fp[pc[2]].i64 == 0;
		pc += 3;
		NEXT();
		/* 3.0 typed function references */
		CASE(CALL_REF)
		callee = (struct wasm_func *)fp[pc[1]].ref;
		if (unlikely(!callee))
			TRAP(WASM_TRAP_NULL_FUNC_REF);
		nfp = fp + pc[2];
		ret = pc + 3;
		goto do_call;
		CASE(RETURN_CALL_REF)
		callee = (struct wasm_func *)fp[pc[1]].ref;
		if (unlikely(!callee))
			TRAP(WASM_TRAP_NULL_FUNC_REF);
		nfp = fp + pc[2];
		goto do_tail_call;
		CASE(REF_AS_NON_NULL)
		if (unlikely(!fp[pc[1]].i64))
			TRAP(WASM_TRAP_NULL_REF);
		pc += 2;
		NEXT();
		/* 3.0 exception handling */
		CASE(THROW)
		LEAVE(fn, pc, true);
		trap = wasm_exn_throw(s, inst->tags[pc[1]], fp + pc[2], fp + fn->code->frame_slots);
		if (unlikely(trap != WASM_TRAP_EXCEPTION))
			TRAP(trap);
		wasm_exec_record_trap(s, trap, fn, pc);
		goto exn_unwind;
		CASE(THROW_REF)
		if (unlikely(!fp[pc[1]].ref))
			TRAP(WASM_TRAP_NULL_EXN_REF);
		s->exn = fp[pc[1]].ref;
		wasm_exec_record_trap(s, WASM_TRAP_EXCEPTION, fn, pc);
		goto exn_unwind;
		/* 3.0 GC: an i31 is (v << 1) | 1 (compile_gc.c) */
		CASE(REF_I31)
		fp[pc[1]].i64 = (uint64_t)(fp[pc[2]].i32 & 0x7fffffffu) << 1 | 1;
		pc += 3;
		NEXT();
		CASE(I31_GET_S)
		if (unlikely(!fp[pc[2]].i64))
			TRAP(WASM_TRAP_NULL_I31);
		fp[pc[1]].i64 = (uint32_t)((int32_t)(uint32_t)fp[pc[2]].i64 >> 1);
		pc += 3;
		NEXT();
		CASE(I31_GET_U)
		if (unlikely(!fp[pc[2]].i64))
			TRAP(WASM_TRAP_NULL_I31);
		fp[pc[1]].i64 = (uint32_t)fp[pc[2]].i64 >> 1;
		pc += 3;
		NEXT();
		CASE(REF_EQ)
		fp[pc[1]].i64 = fp[pc[2]].i64 == fp[pc[3]].i64;
		pc += 4;
		NEXT();
		CASE(REF_TEST)
		fp[pc[1]].i64 = wasm_gc_ref_test(inst->mod, fp[pc[2]].i64, pc[3]);
		pc += 4;
		NEXT();
		CASE(REF_CAST)
		if (unlikely(!wasm_gc_ref_test(inst->mod, fp[pc[2]].i64, pc[3])))
			TRAP(WASM_TRAP_CAST);
		fp[pc[1]].i64 = fp[pc[2]].i64;
		pc += 4;
		NEXT();
		/* 3.0 GC objects (gc.c); the collector's roots are the stack below this frame */
		CASE(STRUCT_NEW)
		LEAVE(fn, pc, true);
		trap = wasm_gc_exec(s, inst, pc, WASM_OP_STRUCT_NEW, fp,
				    fp + fn->code->frame_slots);
		if (unlikely(trap))
			TRAP(trap);
		pc += 4;
		NEXT();
		CASE(STRUCT_NEW_DEFAULT)
		LEAVE(fn, pc, true);
		trap = wasm_gc_exec(s, inst, pc, WASM_OP_STRUCT_NEW_DEFAULT, fp,
				    fp + fn->code->frame_slots);
		if (unlikely(trap))
			TRAP(trap);
		pc += 3;
		NEXT();
		CASE(STRUCT_GET)
		LEAVE(fn, pc, true);
		trap = wasm_gc_exec(s, inst, pc, WASM_OP_STRUCT_GET, fp,
				    fp + fn->code->frame_slots);
		if (unlikely(trap))
			TRAP(trap);
		pc += 5;
		NEXT();
		CASE(STRUCT_SET)
		LEAVE(fn, pc, true);
		trap = wasm_gc_exec(s, inst, pc, WASM_OP_STRUCT_SET, fp,
				    fp + fn->code->frame_slots);
		if (unlikely(trap))
			TRAP(trap);
		pc += 5;
		NEXT();
		CASE(ARRAY_NEW)
		LEAVE(fn, pc, true);
		trap = wasm_gc_exec(s, inst, pc, WASM_OP_ARRAY_NEW, fp, fp + fn->code->frame_slots);
		if (unlikely(trap))
			TRAP(trap);
		pc += 5;
		NEXT();
		CASE(ARRAY_NEW_DEFAULT)
		LEAVE(fn, pc, true);
		trap = wasm_gc_exec(s, inst, pc, WASM_OP_ARRAY_NEW_DEFAULT, fp,
				    fp + fn->code->frame_slots);
		if (unlikely(trap))
			TRAP(trap);
		pc += 4;
		NEXT();
		CASE(ARRAY_NEW_FIXED)
		LEAVE(fn, pc, true);
		trap = wasm_gc_exec(s, inst, pc, WASM_OP_ARRAY_NEW_FIXED, fp,
				    fp + fn->code->frame_slots);
		if (unlikely(trap))
			TRAP(trap);
		pc += 5;
		NEXT();
		CASE(ARRAY_NEW_DATA)
		LEAVE(fn, pc, true);
		trap = wasm_gc_exec(s, inst, pc, WASM_OP_ARRAY_NEW_DATA, fp,
				    fp + fn->code->frame_slots);
		if (unlikely(trap))
			TRAP(trap);
		pc += 6;
		NEXT();
		CASE(ARRAY_NEW_ELEM)
		LEAVE(fn, pc, true);
		trap = wasm_gc_exec(s, inst, pc, WASM_OP_ARRAY_NEW_ELEM, fp,
				    fp + fn->code->frame_slots);
		if (unlikely(trap))
			TRAP(trap);
		pc += 6;
		NEXT();
		CASE(ARRAY_GET)
		LEAVE(fn, pc, true);
		trap = wasm_gc_exec(s, inst, pc, WASM_OP_ARRAY_GET, fp, fp + fn->code->frame_slots);
		if (unlikely(trap))
			TRAP(trap);
		pc += 5;
		NEXT();
		CASE(ARRAY_SET)
		LEAVE(fn, pc, true);
		trap = wasm_gc_exec(s, inst, pc, WASM_OP_ARRAY_SET, fp, fp + fn->code->frame_slots);
		if (unlikely(trap))
			TRAP(trap);
		pc += 5;
		NEXT();
		CASE(ARRAY_LEN)
		LEAVE(fn, pc, true);
		trap = wasm_gc_exec(s, inst, pc, WASM_OP_ARRAY_LEN, fp, fp + fn->code->frame_slots);
		if (unlikely(trap))
			TRAP(trap);
		pc += 3;
		NEXT();
		CASE(ARRAY_FILL)
		LEAVE(fn, pc, true);
		trap = wasm_gc_exec(s, inst, pc, WASM_OP_ARRAY_FILL, fp,
				    fp + fn->code->frame_slots);
		if (unlikely(trap))
			TRAP(trap);
		pc += 6;
		NEXT();
		CASE(ARRAY_COPY)
		LEAVE(fn, pc, true);
		trap = wasm_gc_exec(s, inst, pc, WASM_OP_ARRAY_COPY, fp,
				    fp + fn->code->frame_slots);
		if (unlikely(trap))
			TRAP(trap);
		pc += 6;
		NEXT();
		CASE(ARRAY_INIT_DATA)
		LEAVE(fn, pc, true);
		trap = wasm_gc_exec(s, inst, pc, WASM_OP_ARRAY_INIT_DATA, fp,
				    fp + fn->code->frame_slots);
		if (unlikely(trap))
			TRAP(trap);
		pc += 6;
		NEXT();
		CASE(ARRAY_INIT_ELEM)
		LEAVE(fn, pc, true);
		trap = wasm_gc_exec(s, inst, pc, WASM_OP_ARRAY_INIT_ELEM, fp,
				    fp + fn->code->frame_slots);
		if (unlikely(trap))
			TRAP(trap);
		pc += 6;
		NEXT();
		CASE(ANY_CONVERT_EXTERN)
		LEAVE(fn, pc, true);
		trap = wasm_gc_exec(s, inst, pc, WASM_OP_ANY_CONVERT_EXTERN, fp,
				    fp + fn->code->frame_slots);
		if (unlikely(trap))
			TRAP(trap);
		pc += 3;
		NEXT();
		CASE(EXTERN_CONVERT_ANY)
		LEAVE(fn, pc, true);
		trap = wasm_gc_exec(s, inst, pc, WASM_OP_EXTERN_CONVERT_ANY, fp,
				    fp + fn->code->frame_slots);
		if (unlikely(trap))
			TRAP(trap);
		pc += 3;
		NEXT();
		CASE(SHUFFLE)
		{
			u8x16 a = (u8x16)GET_V128(pc[2]), b = (u8x16)GET_V128(pc[3]), r = {0};
			const uint8_t *lanes = (const uint8_t *)(pc + 4);
			for (int i = 0; i < 16; i++)
				r[i] = lanes[i] < 16 ? a[lanes[i]] : b[lanes[i] - 16];
			SET_V128(pc[1], r);
			pc += 8;
			NEXT();
		}
		/* ----- threads (atomics.def): real atomics on the memory (atomic.c) ----- */
		CASE(ATOMIC_LOAD)
		{
			uint64_t r_;
			trap = wasm_atomic_access(mem, msize, pc[4],
						  (uint64_t)fp[pc[2]].i32 + pc[3], 0, 0, &r_);
			if (unlikely(trap))
				TRAP(trap);
			fp[pc[1]].i64 = r_;
			pc += 5;
			NEXT();
		}
		CASE(ATOMIC_STORE)
		{
			uint64_t r_;
			trap = wasm_atomic_access(mem, msize, pc[4],
						  (uint64_t)fp[pc[1]].i32 + pc[3], fp[pc[2]].i64, 0,
						  &r_);
			if (unlikely(trap))
				TRAP(trap);
			pc += 5;
			NEXT();
		}
		CASE(ATOMIC_RMW)
		{
			uint64_t r_;
			trap = wasm_atomic_access(mem, msize, pc[5],
						  (uint64_t)fp[pc[2]].i32 + pc[4], fp[pc[3]].i64, 0,
						  &r_);
			if (unlikely(trap))
				TRAP(trap);
			fp[pc[1]].i64 = r_;
			pc += 6;
			NEXT();
		}
		CASE(ATOMIC_CMPXCHG)
		{
			uint64_t r_;
			trap = wasm_atomic_access(mem, msize, pc[6],
						  (uint64_t)fp[pc[2]].i32 + pc[5], fp[pc[4]].i64,
						  fp[pc[3]].i64, &r_);
			if (unlikely(trap))
				TRAP(trap);
			fp[pc[1]].i64 = r_;
			pc += 7;
			NEXT();
		}
		CASE(ATOMIC_WAIT)
		{
			uint32_t r_;
			bool wide_ = pc[7] == 0x02;
			trap = wasm_atomic_wait(
				s, inst->mems[pc[6]], wide_, (uint64_t)fp[pc[2]].i32 + pc[5],
				wide_ ? fp[pc[3]].i64 : fp[pc[3]].i32, (int64_t)fp[pc[4]].i64, &r_);
			if (unlikely(trap))
				TRAP(trap);
			fp[pc[1]].i32 = r_;
			pc += 8;
			NEXT();
		}
		CASE(ATOMIC_NOTIFY)
		{
			uint32_t r_;
			trap = wasm_atomic_notify(inst->mems[pc[5]],
						  (uint64_t)fp[pc[2]].i32 + pc[4], fp[pc[3]].i32,
						  &r_);
			if (unlikely(trap))
				TRAP(trap);
			fp[pc[1]].i32 = r_;
			pc += 6;
			NEXT();
		}
		CASE(ATOMIC_FENCE)
		atomic_thread_fence(memory_order_seq_cst);
		pc += 1;
		NEXT();
#ifdef WASM_SWITCH_DISPATCH
	default:
		TRAP(WASM_TRAP_UNREACHABLE);
#endif
	}

	/* callee, nfp (its frame) and ret (the return pc) are set */
do_call:
	if (likely(callee->code != NULL)) {
		code = callee->code;
do_call_code:
		/* callee, code (its code), nfp (its frame) and ret (the return pc) are set */
		if (unlikely(!wasm_code_ready(code)) && wasm_code_compile(callee))
			TRAP(WASM_TRAP_NOMEM); /* at the call */
		{
			union wasm_slot *z = nfp + code->param_slots;
			if (unlikely(nfp + code->frame_slots > stack_end || fr == fr_end))
				TRAP(WASM_TRAP_STACK_EXHAUSTED);
			TICK(false); /* going on at the call op counts the call again */
			if (jit && jit_callee(s, callee) && wasm_jit_stack_ok(s->jit)) {
				wasm_fuel_sync(s, &fuel);
				LEAVE(fn, ret, false);
				trap = jit_enter(s, callee->jit_foreign, nfp,
						 (size_t)(fr - s->frames) + 1);
				fuel.chunk = fuel.ticks = 0;
				wasm_fuel_sync(s, &fuel);
				RELOAD_MEM();
				if (trap == WASM_TRAP_DEOPT) {
					*fr++ = (struct wasm_frame){ret, fp, fn, inst};
					DEOPTED(callee, nfp);
					NEXT();
				}
				if (unlikely(trap == WASM_TRAP_EXCEPTION))
					goto exn_unwind; /* pc: the call */
				if (unlikely(trap))
					goto propagate;
				pc = ret;
				NEXT();
			}
			*fr++ = (struct wasm_frame){ret, fp, fn, inst};
			/* declared locals start at zero; most functions have few (no memset) */
			for (uint32_t i = 0, n = code->local_slots; i < n; i++)
				z[i].i64 = 0;
			fp = nfp;
			fn = callee;
			pc = code->ops;
			/* memory base and size only change with the instance (memory.grow and
			 * host calls reload them where they happen) */
			if (unlikely(fn->inst != inst)) {
				inst = fn->inst;
				RELOAD_MEM();
			}
			NEXT();
		}
	}
	if (!top && jit)
		NESTED_PAUSE(false);
	wasm_fuel_sync(s, &fuel);
	AT(pc, ret, false);
	LEAVE(fn, ret, false);
	trap = wasm_exec_call_host(s, callee, inst, nfp, (size_t)(fr - s->frames), !top && jit);
	if (unlikely(trap == WASM_TRAP_AGAIN)) {
		/* given up for a pause in a run inside translated code: the outermost run
		 * makes the call again, parked before it; where the frames cannot leave, the
		 * call is made again here once resumed */
		NESTED_PAUSE(false);
		LEAVE(fn, ret, false);
		trap = wasm_exec_call_host(s, callee, inst, nfp, (size_t)(fr - s->frames), false);
	}
	s->at.fn = NULL;
	fuel.chunk = fuel.ticks = 0;
	wasm_fuel_sync(s, &fuel);
	if (unlikely(trap == WASM_TRAP_EXCEPTION)) {
		RELOAD_MEM();
		goto exn_unwind; /* pc: the call */
	}
	if (unlikely(trap))
		TRAP(trap);
	pc = ret;
	RELOAD_MEM();
	NEXT();

	/* A tail call: callee and nfp (its arguments) are set. The arguments move to slot 0 and
	 * the callee runs in this frame, in fn's place: no frame is pushed, so a chain of tail
	 * calls runs in constant space; its results are fn's, returned to fn's caller. */
do_tail_call:
	if (likely(callee->code != NULL)) {
		code = callee->code;
		if (unlikely(!wasm_code_ready(code)) && wasm_code_compile(callee))
			TRAP(WASM_TRAP_NOMEM); /* at the call */
		if (unlikely(fp + code->frame_slots > stack_end))
			TRAP(WASM_TRAP_STACK_EXHAUSTED);
		/* a point a snapshot can stand at, as a call op: fn at the tail call, its
		 * arguments not moved yet (going on at the op counts the call again), so a
		 * loop made only of tail calls parks too */
		TICK(false);
		memmove(fp, nfp, (size_t)callee->type->param_slots * sizeof(*fp));
		fn = callee;
		if (jit && jit_callee(s, callee) && wasm_jit_stack_ok(s->jit)) {
			wasm_fuel_sync(s, &fuel);
			LEAVE(NULL, NULL, false);
			trap = jit_enter(s, callee->jit_foreign, fp, (size_t)(fr - s->frames));
			fuel.chunk = fuel.ticks = 0;
			wasm_fuel_sync(s, &fuel);
			RELOAD_MEM();
			if (trap == WASM_TRAP_DEOPT) { /* a pause: the interpreter goes on in it */
				DEOPTED(callee, fp);
				NEXT();
			}
			if (unlikely(trap == WASM_TRAP_EXCEPTION))
				goto exn_pop; /* this frame was the tail callee's */
			if (unlikely(trap))
				goto propagate;
			goto do_return;
		}
		for (uint32_t i = 0, n = code->local_slots; i < n; i++)
			fp[code->param_slots + i].i64 = 0;
		pc = code->ops;
		if (unlikely(fn->inst != inst)) {
			inst = fn->inst;
			RELOAD_MEM();
		}
		NEXT();
	}
	memmove(fp, nfp, (size_t)callee->type->param_slots * sizeof(*fp));
	wasm_fuel_sync(s, &fuel);
	LEAVE(NULL, NULL, false);
	trap = wasm_exec_call_host(s, callee, inst, fp, (size_t)(fr - s->frames), false);
	fuel.chunk = fuel.ticks = 0;
	wasm_fuel_sync(s, &fuel);
	if (unlikely(trap == WASM_TRAP_EXCEPTION))
		goto exn_pop; /* this frame was the tail callee's */
	if (unlikely(trap))
		TRAP(trap);
	RELOAD_MEM();
	goto do_return;

	/* fn was translated while this loop ran: go on in its translated code from the loop's
	 * start (pc), until fn returns */
osr : {
	const void *entry_ = wasm_jit_osr(fn, pc);
	if (!entry_ || !wasm_jit_stack_ok(s->jit))
		NEXT();
	wasm_fuel_sync(s, &fuel);
	LEAVE(NULL, NULL, false);
	trap = jit_enter(s, entry_, fp, (size_t)(fr - s->frames));
	/* fn ran to its end (or trapped) in translated code */
	fuel.chunk = fuel.ticks = 0;
	wasm_fuel_sync(s, &fuel);
	RELOAD_MEM();
	if (trap == WASM_TRAP_DEOPT) {
		DEOPTED(fn, fp);
		NEXT();
	}
	if (unlikely(trap == WASM_TRAP_EXCEPTION))
		goto exn_pop; /* translated code searched fn's handlers */
	if (unlikely(trap))
		goto propagate;
	goto do_return;
}

	/* 3.0 exception handling: s->exn was thrown by the op at pc of fn (a throw, or a
	 * call it made). The innermost handler of this frame that catches it takes it;
	 * else the frame is left for its caller's, at the call (a return pc less one
	 * word lies inside the call op), up to this run's first frame. The operand stack
	 * needs no unwinding: a frame's slots are its own, and a handler's label says
	 * where its values go. */
exn_unwind : {
	const struct wasm_handler *h_ = wasm_exn_find(fn, pc, s->exn);
	if (h_) {
		wasm_exn_catch(s, h_, fp);
		pc = fn->code->ops + h_->pad;
		NEXT();
	}
}
exn_pop:
	if (fr == fr_base) {
		trap = WASM_TRAP_EXCEPTION;
		goto propagate; /* recorded at the throw */
	}
	fr--;
	pc = fr->pc - 1;
	fp = fr->fp;
	fn = fr->func;
	inst = fr->inst;
	RELOAD_MEM();
	goto exn_unwind;

trapped:
	if (trap != WASM_TRAP_EXIT)
		wasm_exec_record_trap(s, trap, fn, pc);
propagate: /* the trap's location is recorded already */
	if (trap != WASM_TRAP_FUEL)
		wasm_fuel_sync(s, &fuel);
	s->runs--;
	s->act = act.prev;
	return trap;
done:
	wasm_fuel_sync(s, &fuel);
	s->runs--;
	s->act = act.prev;
	return WASM_TRAP_NONE;
#undef CASE
#undef NEXT
#undef TRAP
#undef TICK
#undef AT
#undef LEAVE
#undef NESTED_PAUSE
#undef DEOPTED
#undef MEM_AT
#undef RELOAD_MEM
}

const int32_t *wasm_exec_dispatch(void)
{
#ifdef WASM_SWITCH_DISPATCH
	static const int32_t identity[WASM_OP_COUNT] = {
#define OP(N) WASM_OP_##N,
#include "wasm/ops.def"
#undef OP
	};
	return identity;
#else
	const int32_t *t = NULL;
	(void)run(NULL, NULL, false, NULL, &t);
	return t;
#endif
}

enum wasm_trap wasm_exec_call(struct wasm_store *s, struct wasm_func *f)
{
	if (!f->code)
		return wasm_exec_call_host(s, f, NULL, s->stack + s->sp, s->nframes, false);
	if (s->jit && s->jit_hot != WASM_JIT_OFF && !f->jit && !f->jit_failed)
		wasm_jit_heat(s->jit, f, 1);
	return run(s, f, true, NULL, NULL);
}

enum wasm_trap wasm_exec_interp(struct wasm_store *s, struct wasm_func *f)
{
	return run(s, f, false, NULL, NULL);
}

enum wasm_trap wasm_exec_resume(struct wasm_store *s, const struct wasm_resume *from)
{
	return run(s, from->fn, false, from, NULL);
}
