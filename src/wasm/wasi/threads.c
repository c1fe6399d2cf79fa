/*
 * wasi-threads: the import ("wasi" "thread-spawn") (param i32 start_arg) (result i32), as
 * wasmtime implements the proposal. Each spawned thread is a host thread running a new
 * instance of the program's module in a thread store of the program's store
 * (wasm_store_create_thread: the same limits and memory budget, reached by the same
 * interrupt, pause and resume), importing the same shared memory and the same WASI host
 * functions (one fd table for all, see host.h), and entering the module's export
 * wasi_thread_start(tid, start_arg). A tid is positive and unique for the run (1 upwards,
 * at most 0x1fffffff, as wasi-libc keeps the top bits); thread-spawn returns -1 when no
 * thread can be started (more than max_threads running, out of budget or memory, tids
 * used up, a module without a well-typed wasi_thread_start). proc_exit or a trap in any
 * thread ends the whole program with that outcome: the first to end it is kept
 * (wasi_threads_finish), every other thread is interrupted and joined.
 */
#include "wasm/internal.h"
#include "wasm/wasi/host.h"
#include "wasm/wasi/wasi.h"

#include "core/alloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TID 0x1fffffffu
/* how long wasi_threads_finish waits for interrupted threads: they stop at their next loop
 * back-edge, call or 20 ms wait slice; only one blocked in a host call takes longer */
#define JOIN_MS 1000
/* how long a spawn that finds the budget held waits for a running thread to end: a thread
 * that signalled its joiner from Wasm still holds its store until its call returns, so a
 * program that joins one thread and starts the next can find it not yet ended */
#define ENDING_MS 2000

struct wasi_thread {
	struct wasi_threads *ts;
	struct wasm_store *store;
	struct wasm_instance *inst;
	struct wasm_func *start;
	uint32_t tid, arg;
	pthread_t th;
	bool done; /* its call returned (under ts->lock): to be joined and freed */
	struct wasi_thread *next;
};

struct wasi_threads {
	struct wasi *w;
	const struct wasm_module *mod;
	uint32_t jit_hot;
	unsigned max;	    /* spawned threads running at once */
	int64_t mem_import; /* the module's import of a shared memory (index), -1: none */
	struct wasm_memory *mem;
	struct wasm_func *spawn;
	pthread_mutex_t lock;	 /* the fields below */
	pthread_cond_t ended_cv; /* signalled when a thread's call returns, or on finishing */
	struct wasi_thread *list;
	unsigned live;
	uint64_t nended; /* threads whose call returned, ever */
	/* a spawn's wait for a thread to end timed out with nended at futile_at: until one
	 * ends, later spawns that find the budget held fail at once (a program that spawns
	 * until -1 while its threads block for good waited ENDING_MS at every attempt) */
	bool futile;
	uint64_t futile_at;
	uint32_t next_tid;
	bool finishing; /* no more spawns */
	/* the first outcome that ended the program: 0 none, 1 the main thread's, 2 a thread's */
	int ended;
	enum wasm_trap end_trap;
	struct wasm_trap_info end_info;
};

/* Claims the program's end for who (1 main, 2 a thread, with its outcome), under ts->lock.
 * Returns whether it was first. */
static bool claim_end(struct wasi_threads *ts, int who, enum wasm_trap trap,
		      const struct wasm_trap_info *info)
{
	if (ts->ended)
		return false;
	ts->ended = who;
	if (info) {
		ts->end_trap = trap;
		ts->end_info = *info;
	}
	return true;
}

static void *thread_main(void *arg)
{
	struct wasi_thread *t = arg;
	struct wasi_threads *ts = t->ts;
	union wasm_value args[2];
	struct wasm_trap_info info;
	enum wasm_trap trap;
	bool end = false;

	args[0].i64 = 0;
	args[1].i64 = 0;
	args[0].i32 = t->tid;
	args[1].i32 = t->arg;
	trap = wasm_call(t->store, t->start, args, NULL, &info);
#ifdef LODGE_TEST_HOOKS
	/* the test build: a thread slow to end after its call (the joiner woke already) */
	const char *hook = getenv("LODGE_TEST_HOOK");
	if (hook && !strcmp(hook, "slow-thread-end"))
		nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
#endif
	/* INTERRUPTED: the program is ending already, for a reason reported elsewhere */
	pthread_mutex_lock(&ts->lock);
	/* names in info point into the module, which outlives the run */
	if (trap != WASM_TRAP_NONE && trap != WASM_TRAP_INTERRUPTED &&
	    claim_end(ts, 2, trap, &info))
		end = true;
	ts->live--;
	t->done = true;
	ts->nended++;
	pthread_cond_broadcast(&ts->ended_cv);
	pthread_mutex_unlock(&ts->lock);
	if (end)
		wasm_store_interrupt(ts->w->store);
	return NULL;
}

/* Instantiates the module for a new thread in a thread store. Returns 0 or -1. */
static int thread_instance(struct wasi_threads *ts, struct wasi_thread *t)
{
	struct wasm_error err;
	struct wasm_extern ext;
	const struct wasm_functype *ft;

	if (wasm_store_create_thread(ts->w->store, &t->store))
		return -1;
	wasm_store_set_jit(t->store, ts->jit_hot);
	if (wasm_instance_create(t->store, ts->mod, wasi_resolve, ts->w, &t->inst, &err))
		return -1;
	if (wasm_instance_export(t->inst, "wasi_thread_start", &ext) ||
	    ext.kind != WASM_EXTERN_FUNC)
		return -1;
	ft = wasm_func_type(ext.u.func);
	if (ft->nparams != 2 || ft->nresults != 0 || ft->params[0] != WASM_I32 ||
	    ft->params[1] != WASM_I32)
		return -1;
	t->start = ext.u.func;
	return 0;
}

/* Joins the threads that have ended and frees their stores, so that a program starting
 * threads one after another for ever does not run out of budget. */
static void reap(struct wasi_threads *ts)
{
	struct wasi_thread *dead = NULL, **pp, *t;

	pthread_mutex_lock(&ts->lock);
	for (pp = &ts->list; (t = *pp) != NULL;) {
		if (t->done) {
			*pp = t->next;
			t->next = dead;
			dead = t;
		} else {
			pp = &t->next;
		}
	}
	pthread_mutex_unlock(&ts->lock);
	while ((t = dead) != NULL) {
		dead = t->next;
		pthread_join(t->th, NULL);
		wasm_store_destroy(t->store);
		core_free(t);
	}
}

/* Waits until a thread's call has returned since nended was `seen`, while some other
 * thread runs (live counts the spawn's own reservation), the program is not finishing and
 * the deadline has not passed. Returns whether one did. */
static bool wait_ending(struct wasi_threads *ts, uint64_t seen, const struct timespec *until)
{
	bool ended, timed_out = false;

	pthread_mutex_lock(&ts->lock);
	if (ts->futile && ts->futile_at == ts->nended) { /* waited in vain before */
		pthread_mutex_unlock(&ts->lock);
		return false;
	}
	while (ts->nended == seen && ts->live > 1 && !ts->finishing && !timed_out)
		timed_out = pthread_cond_timedwait(&ts->ended_cv, &ts->lock, until) == ETIMEDOUT;
	ended = ts->nended != seen;
	if (!ended && timed_out) {
		ts->futile = true;
		ts->futile_at = ts->nended;
	}
	pthread_mutex_unlock(&ts->lock);
	return ended;
}

/* Makes the new thread's instance. Where that fails (the budget, most likely) while other
 * threads run, it waits for one of them to end, reaps it and tries again, for at most
 * ENDING_MS. Returns 0 or -1. */
static int thread_instance_retry(struct wasi_threads *ts, struct wasi_thread *t)
{
	struct timespec until;
	uint64_t seen;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ENDING_MS / 1000;
	for (;;) {
		pthread_mutex_lock(&ts->lock);
		seen = ts->nended;
		pthread_mutex_unlock(&ts->lock);
		if (!thread_instance(ts, t))
			return 0;
		wasm_store_destroy(t->store);
		t->store = NULL;
		t->inst = NULL;
		t->start = NULL;
		if (!wait_ending(ts, seen, &until))
			return -1;
		reap(ts);
	}
}

/* thread-spawn(start_arg) -> tid, or -1 */
static enum wasm_trap thread_spawn(struct wasm_host_call *hc, uint64_t *slots)
{
	struct wasi_threads *ts = hc->user;
	struct wasi_thread *t;
	uint32_t arg = (uint32_t)slots[0];
	int32_t result = -1;

	slots[0] = (uint32_t)-1;
	reap(ts);
	pthread_mutex_lock(&ts->lock);
	if (ts->finishing || ts->live >= ts->max || ts->next_tid > MAX_TID) {
		pthread_mutex_unlock(&ts->lock);
		return WASM_TRAP_NONE;
	}
	ts->live++; /* reserved while the instance is made */
	pthread_mutex_unlock(&ts->lock);
	wasi_share(ts->w);
	t = core_calloc(1, sizeof(*t));
	if (t) {
		t->ts = ts;
		t->arg = arg;
	}
	/* instantiation runs the module's start function (wasi-libc's memory initialisation,
	 * guarded by an atomic) on this thread, in the new thread's store */
	if (t && !thread_instance_retry(ts, t)) {
		pthread_mutex_lock(&ts->lock);
		if (!ts->finishing && ts->next_tid <= MAX_TID) {
			t->tid = ts->next_tid++;
			if (!pthread_create(&t->th, NULL, thread_main, t)) {
				t->next = ts->list;
				ts->list = t;
				result = (int32_t)t->tid;
			}
		}
		pthread_mutex_unlock(&ts->lock);
	}
	if (result < 0) {
		if (t)
			wasm_store_destroy(t->store);
		core_free(t);
		pthread_mutex_lock(&ts->lock);
		ts->live--;
		pthread_mutex_unlock(&ts->lock);
	}
	slots[0] = (uint32_t)result;
	return WASM_TRAP_NONE;
}

int wasi_threads_enable(struct wasi *w, const struct wasm_module *m, unsigned max_threads,
			uint32_t jit_hot)
{
	struct wasi_threads *ts;
	uint8_t param = WASM_I32, result = WASM_I32;
	struct wasm_functype ft = {1, 1, &param, &result};

	if (w->threads)
		return -EBUSY;
	ts = core_calloc(1, sizeof(*ts));
	if (!ts)
		return -ENOMEM;
	ts->w = w;
	ts->mod = m;
	ts->jit_hot = jit_hot;
	ts->max = max_threads;
	ts->next_tid = 1;
	ts->mem_import = -1;
	pthread_mutex_init(&ts->lock, NULL);
	pthread_cond_init(&ts->ended_cv, NULL);
	for (uint32_t i = 0, k = 0; i < m->nimports; i++) {
		if (m->imports[i].kind != WASM_EXTERN_MEMORY)
			continue;
		if (m->mems[k].shared && ts->mem_import < 0)
			ts->mem_import = i;
		k++;
	}
	if (wasm_func_create_host(w->store, &ft, thread_spawn, ts, &ts->spawn)) {
		pthread_mutex_destroy(&ts->lock);
		pthread_cond_destroy(&ts->ended_cv);
		core_free(ts);
		return -ENOMEM;
	}
	w->threads = ts;
	return 0;
}

int wasi_threads_resolve(struct wasi *w, const char *module, const char *name,
			 enum wasm_extern_kind kind, struct wasm_extern *out)
{
	struct wasi_threads *ts = w->threads;
	const struct wasm_import *im;
	const struct wasm_memtype *mt;

	if (!ts)
		return -ENOENT;
	if (kind == WASM_EXTERN_FUNC && !strcmp(module, "wasi") && !strcmp(name, "thread-spawn")) {
		out->kind = WASM_EXTERN_FUNC;
		out->u.func = ts->spawn;
		return 0;
	}
	if (kind != WASM_EXTERN_MEMORY || ts->mem_import < 0)
		return -ENOENT;
	im = &ts->mod->imports[ts->mem_import];
	if (strcmp(module, im->module) || strcmp(name, im->name))
		return -ENOENT;
	/* the program's shared memory, made by the first instance (the main thread's) as the
	 * module asks for it, and imported by every thread's instance */
	if (!ts->mem) {
		mt = &ts->mod->mems[im->idx];
		if (mt->is64 || mt->min > 65536 || mt->max > 65536 ||
		    wasm_memory_create_shared(w->store, (uint32_t)mt->min, (uint32_t)mt->max,
					      &ts->mem))
			return -ENOENT;
	}
	out->kind = WASM_EXTERN_MEMORY;
	out->u.memory = ts->mem;
	return 0;
}

int wasi_threads_finish(struct wasi *w, enum wasm_trap *trap, struct wasm_trap_info *info)
{
	struct wasi_threads *ts = w->threads;
	struct wasi_thread *t;
	struct timespec until;
	int rc = 0;

	if (!ts)
		return 0;
	pthread_mutex_lock(&ts->lock);
	ts->finishing = true;
	pthread_cond_broadcast(&ts->ended_cv);
	if (!claim_end(ts, 1, *trap, NULL) && ts->ended == 2) {
		*trap = ts->end_trap;
		*info = ts->end_info;
	}
	pthread_mutex_unlock(&ts->lock);
	if (ts->list)
		wasm_store_interrupt(w->store);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += JOIN_MS / 1000;
	while ((t = ts->list) != NULL) {
		if (pthread_timedjoin_np(t->th, NULL, &until)) {
			rc = -EBUSY; /* blocked in a host call: left running, never freed */
			break;
		}
		ts->list = t->next;
		wasm_store_destroy(t->store);
		core_free(t);
	}
	return rc;
}

void wasi_threads_destroy(struct wasi *w)
{
	struct wasi_threads *ts = w->threads;

	if (!ts)
		return;
	pthread_mutex_destroy(&ts->lock);
	pthread_cond_destroy(&ts->ended_cv);
	core_free(ts);
	w->threads = NULL;
}
