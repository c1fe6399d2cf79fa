/*
 * Linear memories, tables, globals and host functions, and the store that owns them
 * (Wasm core 2.0, 4.2 "Runtime Structure", 4.5.3 allocation and growth).
 * A memory is an anonymous mapping of exactly its current size; memory.grow remaps it
 * (the base may move, so every user re-reads it after anything that can grow memory).
 * The store's memory budget (wasm_limits.max_memory) is charged for everything a module
 * can make it allocate: the value stack and frames at creation, memories and tables by
 * their size (and on growth: memory.grow and table.grow return -1 past the budget), and
 * the per-instance data of instantiation (instance.c). Charges are returned only when the
 * store is destroyed, as the objects are.
 */
#include "wasm/internal.h"

#include "core/alloc.h"
#include "core/clock.h"
#include "wasm/jit/jit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#define DEFAULT_STACK (4u << 20)

/* The budget a store charges: its own, or its parent's for a thread store, shared by
 * threads, so `used` there changes atomically. */
static struct wasm_store *budget_owner(struct wasm_store *s)
{
	return s->parent ? s->parent : s;
}

int wasm_store_charge(struct wasm_store *s, uint64_t bytes)
{
	struct wasm_store *b = budget_owner(s);
	uint64_t used = __atomic_load_n(&b->used, __ATOMIC_RELAXED);

	do {
		if (bytes > b->budget - used)
			return -E2BIG;
	} while (!__atomic_compare_exchange_n(&b->used, &used, used + bytes, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	if (b != s)
		s->used += bytes; /* the thread store's share (its own thread only) */
	return 0;
}

void wasm_store_refund(struct wasm_store *s, uint64_t bytes)
{
	struct wasm_store *b = budget_owner(s);
	uint64_t used = __atomic_load_n(&b->used, __ATOMIC_RELAXED);

	while (!__atomic_compare_exchange_n(&b->used, &used, used - (bytes < used ? bytes : used),
					    true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	if (b != s)
		s->used -= bytes < s->used ? bytes : s->used;
}

uint64_t wasm_store_budget_left(const struct wasm_store *s)
{
	const struct wasm_store *b = s->parent ? s->parent : s;

	return b->budget - __atomic_load_n(&b->used, __ATOMIC_RELAXED);
}

/* The value stack's size: as asked, else 4 MiB or a sixteenth of the budget if that is less
 * (the stack and its frame array are charged together, about twice this). */
static size_t stack_bytes(const struct wasm_limits *lim, uint64_t budget)
{
	uint64_t n = lim->stack_size;

	if (!n)
		n = budget / 16 < DEFAULT_STACK ? budget / 16 : DEFAULT_STACK;
	return n < 4096 ? 4096 : (size_t)n;
}

void wasm_store_link(struct wasm_store *s, struct wasm_obj *o, uint8_t kind)
{
	o->kind = kind;
	o->next = s->objs;
	s->objs = o;
}

static int store_new(const struct wasm_limits *limits, struct wasm_store *parent,
		     struct wasm_store **out)
{
	struct wasm_store *s = core_calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	if (limits)
		s->lim = *limits;
	s->parent = parent;
	s->budget = s->lim.max_memory ? s->lim.max_memory : WASM_DEFAULT_MAX_MEMORY;
	s->lim.stack_size = stack_bytes(&s->lim, s->budget);
	s->fuel = s->lim.fuel;
	s->jit_hot = WASM_JIT_HOT_DEFAULT;
	s->stack_slots = s->lim.stack_size / sizeof(union wasm_slot);
	s->max_frames = s->lim.stack_size / 32;
	if (wasm_store_charge(s, s->stack_slots * sizeof(union wasm_slot) +
					 s->max_frames * sizeof(struct wasm_frame))) {
		core_free(s);
		return -E2BIG;
	}
	s->stack = core_alloc(s->stack_slots * sizeof(union wasm_slot));
	s->frames = core_alloc(s->max_frames * sizeof(struct wasm_frame));
	if (!s->stack || !s->frames) {
		if (parent)
			wasm_store_refund(s, s->used);
		core_free(s->stack);
		core_free(s->frames);
		core_free(s);
		return -ENOMEM;
	}
	atomic_init(&s->interrupt, 0);
	atomic_init(&s->pause, 0);
	atomic_init(&s->parked, 0);
	atomic_init(&s->wake_fd, -1);
	pthread_mutex_init(&s->pause_lock, NULL);
	pthread_cond_init(&s->pause_cond, NULL);
	pthread_mutex_init(&s->kids_lock, NULL);
	s->trap.func = s->trap.offset = -1;
#ifdef LODGE_TEST_HOOKS
	const char *hook = getenv("LODGE_TEST_HOOK");
	s->gc_stress = hook && !strcmp(hook, "gc-stress");
#endif
	*out = s;
	return 0;
}

int wasm_store_create(const struct wasm_limits *limits, struct wasm_store **out)
{
	return store_new(limits, NULL, out);
}

int wasm_store_create_thread(struct wasm_store *parent, struct wasm_store **out)
{
	struct wasm_store *s;
	int rc;

	if (parent->parent)
		parent = parent->parent; /* one level: every thread store hangs off the first */
	rc = store_new(&parent->lim, parent, &s);
	if (rc)
		return rc;
	pthread_mutex_lock(&parent->kids_lock);
	atomic_store(&s->interrupt, atomic_load(&parent->interrupt));
	atomic_store(&s->pause, atomic_load(&parent->pause));
	s->kid_next = parent->kids;
	if (parent->kids)
		parent->kids->kid_prev = s;
	parent->kids = s;
	pthread_mutex_unlock(&parent->kids_lock);
	*out = s;
	return 0;
}

static void free_instance(struct wasm_instance *inst)
{
	if (inst->elem_items)
		for (uint32_t i = 0; i < inst->mod->nelems; i++)
			core_free(inst->elem_items[i]);
	core_free(inst->elem_items);
	core_free(inst->elem_len);
	core_free(inst->data_len);
	core_free(inst->own_funcs);
	core_free(inst->tags);
	core_free(inst->own_tags);
	core_free(inst->funcs);
	core_free(inst->tables);
	core_free(inst->mems);
	core_free(inst->globals);
	core_free(inst);
}

static void free_obj(struct wasm_obj *o)
{
	switch (o->kind) {
	case WASM_OBJ_INSTANCE:
		free_instance((struct wasm_instance *)(void *)o);
		return;
	case WASM_OBJ_MEMORY: {
		struct wasm_memory *m = (struct wasm_memory *)(void *)o;
		if (m->base)
			munmap(m->base, m->reserved);
		if (m->shared)
			wasm_atomic_mem_fini(m);
		break;
	}
	case WASM_OBJ_TABLE:
		core_free(((struct wasm_table *)(void *)o)->elems);
		break;
	}
	core_free(o);
}

void wasm_store_destroy(struct wasm_store *s)
{
	if (!s)
		return;
	if (s->parent) {
		pthread_mutex_lock(&s->parent->kids_lock);
		if (s->kid_prev)
			s->kid_prev->kid_next = s->kid_next;
		else
			s->parent->kids = s->kid_next;
		if (s->kid_next)
			s->kid_next->kid_prev = s->kid_prev;
		pthread_mutex_unlock(&s->parent->kids_lock);
	}
	while (s->objs) {
		struct wasm_obj *o = s->objs;
		s->objs = o->next;
		free_obj(o);
	}
	wasm_exn_free_all(s);
	wasm_gc_free_all(s);
	wasm_jit_destroy(s->jit);
	core_free(s->stack);
	core_free(s->frames);
	if (s->parent)
		wasm_store_refund(s, s->used); /* its share of the parent's budget */
	if (atomic_load(&s->wake_fd) >= 0)
		close(atomic_load(&s->wake_fd));
	pthread_mutex_destroy(&s->kids_lock);
	pthread_mutex_destroy(&s->pause_lock);
	pthread_cond_destroy(&s->pause_cond);
	core_free(s);
}

int wasm_store_jit_prepare(struct wasm_store *s, struct wasm_instance *inst)
{
	int rc;

	if (s->jit_hot == WASM_JIT_OFF)
		return 0;
	if (!s->jit) {
		rc = wasm_jit_create(s, &s->jit);
		if (rc) {
			/* no translator on this host, or no memfd: interpret everything */
			s->jit = NULL;
			s->jit_hot = WASM_JIT_OFF;
			return rc == -ENOTSUP ? 0 : rc;
		}
		inst = NULL; /* instances created while the JIT was off, inst among them */
	}
	if (inst) {
		wasm_jit_instance_init(s->jit, inst);
		return 0;
	}
	/* every instance: created while the JIT was off, or under another threshold */
	for (struct wasm_obj *o = s->objs; o; o = o->next)
		if (o->kind == WASM_OBJ_INSTANCE)
			wasm_jit_instance_init(s->jit, (struct wasm_instance *)(void *)o);
	return 0;
}

void wasm_store_set_jit(struct wasm_store *s, uint32_t hot)
{
	s->jit_hot = hot;
	if (hot != WASM_JIT_OFF && wasm_store_jit_prepare(s, NULL))
		s->jit_hot = WASM_JIT_OFF;
}

void wasm_store_jit_stats(const struct wasm_store *s, struct wasm_jit_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (s->jit)
		wasm_jit_stats(s->jit, st);
}

/* Calls fn on each thread store of s (a parent), under its list's lock. */
static void each_kid(struct wasm_store *s, void (*fn)(struct wasm_store *))
{
	pthread_mutex_lock(&s->kids_lock);
	for (struct wasm_store *k = s->kids; k; k = k->kid_next)
		fn(k);
	pthread_mutex_unlock(&s->kids_lock);
}

/* Wakes a host function blocked polling s's wake_fd (after the flag it is to see is set:
 * one that makes the eventfd after this reads the flag; seq_cst on both sides). Only
 * write(2): async-signal-safe. */
static void wake(struct wasm_store *s)
{
	int fd = atomic_load(&s->wake_fd);
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0)
		return; /* EAGAIN: the count is near 2^64, the fd readable anyway */
}

static void interrupt_one(struct wasm_store *s)
{
	atomic_store(&s->interrupt, 1);
	wake(s);
	pthread_mutex_lock(&s->pause_lock); /* parked code must see it */
	pthread_cond_broadcast(&s->pause_cond);
	pthread_mutex_unlock(&s->pause_lock);
}

static void pause_one(struct wasm_store *s)
{
	atomic_store(&s->pause, 1);
	wake(s);
}

static void resume_one(struct wasm_store *s)
{
	pthread_mutex_lock(&s->pause_lock);
	atomic_store(&s->pause, 0);
	pthread_cond_broadcast(&s->pause_cond);
	pthread_mutex_unlock(&s->pause_lock);
}

void wasm_store_interrupt(struct wasm_store *s)
{
	interrupt_one(s);
	each_kid(s, interrupt_one);
}

void wasm_store_interrupt_flag(struct wasm_store *s)
{
	_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "a handler's store must be lock-free");
	atomic_store(&s->interrupt, 1);
	wake(s);
}

void wasm_store_pause(struct wasm_store *s)
{
	pause_one(s);
	each_kid(s, pause_one);
}

void wasm_store_resume(struct wasm_store *s)
{
	resume_one(s);
	each_kid(s, resume_one);
}

bool wasm_store_parked(const struct wasm_store *s)
{
	return atomic_load(&s->parked) != 0;
}

void wasm_store_wait_resumed(struct wasm_store *s)
{
	/* with snapshots on, park only where the whole state is in the store's arrays: at
	 * the outermost run's point (not in a run a host function started meanwhile) */
	if (atomic_load_explicit(&s->snap_points, memory_order_relaxed) &&
	    (!s->at.fn || s->runs != 1))
		return;
	wasm_store_park(s);
}

void wasm_store_park(struct wasm_store *s)
{
	pthread_mutex_lock(&s->pause_lock);
	if (!s->parent) /* the main thread's park is the program's pause: its clock stops */
		s->park_since = core_now_ns();
	atomic_store(&s->parked, 1);
	while (atomic_load(&s->pause) && !atomic_load(&s->interrupt))
		pthread_cond_wait(&s->pause_cond, &s->pause_lock);
	atomic_store(&s->parked, 0);
	if (!s->parent) {
		s->parked_ns += core_now_ns() - s->park_since;
		s->park_since = 0;
	}
	pthread_mutex_unlock(&s->pause_lock);
}

/* With root->pause_lock held: the host's monotonic time less the time the program stood
 * parked, up to now. */
static uint64_t unparked_ns(const struct wasm_store *root)
{
	return (root->park_since ? root->park_since : core_now_ns()) - root->parked_ns;
}

uint64_t wasm_store_clock(const struct wasm_store *s)
{
	struct wasm_store *root = (struct wasm_store *)(uintptr_t)(s->parent ? s->parent : s);
	uint64_t ns;

	pthread_mutex_lock(&root->pause_lock);
	ns = unparked_ns(root) + (uint64_t)root->clock_off;
	pthread_mutex_unlock(&root->pause_lock);
	return ns;
}

void wasm_store_set_clock(struct wasm_store *s, uint64_t ns)
{
	struct wasm_store *root = s->parent ? s->parent : s;

	pthread_mutex_lock(&root->pause_lock);
	root->clock_off = (int64_t)(ns - unparked_ns(root));
	pthread_mutex_unlock(&root->pause_lock);
}

void wasm_store_set_fuel(struct wasm_store *s, uint64_t fuel)
{
	s->lim.fuel = fuel;
	s->fuel = fuel;
}

uint64_t wasm_store_fuel(const struct wasm_store *s)
{
	return s->fuel;
}

/* ----- memories ----- */

/* Reserves a guard region for m (a memory32): address space only, committed as it grows.
 * False where the reservation fails (RLIMIT_AS, a full address space): m keeps the
 * explicit layout. */
static bool reserve_guard(struct wasm_memory *m)
{
	void *p = mmap(NULL, WASM_GUARD_BYTES, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return false;
	m->base = p;
	m->reserved = WASM_GUARD_BYTES;
	m->guard = true;
	return true;
}

static int map_pages(struct wasm_memory *m, uint32_t pages)
{
	size_t bytes = (size_t)pages * WASM_PAGE_SIZE;
	void *p;

	/* a guard region: the new pages become accessible where they are */
	if (m->guard) {
		if (bytes > m->size &&
		    mprotect(m->base + m->size, bytes - m->size, PROT_READ | PROT_WRITE))
			return -ENOMEM;
		return 0;
	}
	/* a shared memory has its maximum mapped from the start: other threads hold its
	 * base, so it never moves (the pages are only address space until touched) */
	if (m->shared && m->base)
		return 0;
	if (m->shared)
		bytes = (size_t)m->max_pages * WASM_PAGE_SIZE;
	if (bytes == 0)
		return 0;
	if (!m->base)
		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	else
		p = mremap(m->base, m->reserved, bytes, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		return -ENOMEM;
	m->base = p;
	m->reserved = bytes;
	return 0;
}

int wasm_memory_alloc(struct wasm_store *s, uint32_t min, uint32_t max, bool has_max, bool shared,
		      bool is64, struct wasm_memory **out)
{
	struct wasm_memory *m;
	uint64_t bytes = (uint64_t)min * WASM_PAGE_SIZE;

	if (min > (has_max ? max : WASM_MAX_PAGES))
		return -EINVAL;
	if (wasm_store_charge(s, bytes + sizeof(*m)))
		return -E2BIG;
	m = core_calloc(1, sizeof(*m));
	if (!m) {
		wasm_store_refund(s, bytes + sizeof(*m));
		return -ENOMEM;
	}
	m->store = s;
	m->max_pages = has_max ? max : WASM_MAX_PAGES;
	m->type_max = max;
	m->has_max = has_max;
	m->shared = shared && has_max;
	m->is64 = is64;
	/* memory64 keeps explicit checks in translated code (its addresses are 64 bits) */
	if (!is64)
		(void)reserve_guard(m);
	if (map_pages(m, min))
		goto err_unmap;
	if (m->shared && wasm_atomic_mem_init(m))
		goto err_unmap;
	m->pages = min;
	m->size = (uint64_t)min * WASM_PAGE_SIZE;
	wasm_store_link(s, &m->obj, WASM_OBJ_MEMORY);
	*out = m;
	return 0;

err_unmap:
	if (m->base)
		munmap(m->base, m->reserved);
	wasm_store_refund(s, bytes + sizeof(*m));
	core_free(m);
	return -ENOMEM;
}

int wasm_memory_create(struct wasm_store *s, uint32_t min_pages, uint32_t max_pages, bool has_max,
		       struct wasm_memory **out)
{
	return wasm_memory_alloc(s, min_pages, max_pages, has_max, false, false, out);
}

int wasm_memory_create_shared(struct wasm_store *s, uint32_t min_pages, uint32_t max_pages,
			      struct wasm_memory **out)
{
	return wasm_memory_alloc(s, min_pages, max_pages, true, true, false, out);
}

static int64_t grow(struct wasm_memory *m, uint32_t delta)
{
	uint32_t old = m->pages;

	if ((uint64_t)old + delta > m->max_pages)
		return -1;
	if (delta == 0)
		return old;
	if (wasm_store_charge(m->store, (uint64_t)delta * WASM_PAGE_SIZE))
		return -1;
	if (map_pages(m, old + delta)) {
		wasm_store_refund(m->store, (uint64_t)delta * WASM_PAGE_SIZE);
		return -1;
	}
	m->pages = old + delta;
	m->size = (uint64_t)m->pages * WASM_PAGE_SIZE;
	return old;
}

int64_t wasm_memory_do_grow(struct wasm_memory *m, uint32_t delta)
{
	int64_t r;

	if (!m->shared)
		return grow(m, delta);
	/* threads growing one shared memory at once each get their own old size */
	pthread_mutex_lock(&m->wait_lock);
	r = grow(m, delta);
	pthread_mutex_unlock(&m->wait_lock);
	return r;
}

int64_t wasm_memory_grow(struct wasm_memory *mem, uint32_t delta)
{
	return wasm_memory_do_grow(mem, delta);
}

uint64_t wasm_memory_size(const struct wasm_memory *mem)
{
	return mem->size;
}

void *wasm_memory_range(struct wasm_memory *mem, uint64_t addr, uint64_t len)
{
	if (addr > mem->size || len > mem->size - addr)
		return NULL;
	if (__atomic_load_n(&mem->postcopy, __ATOMIC_ACQUIRE) && len) {
		/* Post-copy: a page still at the source is a hole the kernel would not wait
		 * for under a user-mode-only userfaultfd (the daemon's sandbox): WASI's
		 * fd_read into it would fail with EFAULT. A read from here waits for it. */
		const volatile uint8_t *p = mem->base + addr;
		uint64_t first = addr & ~(uint64_t)4095, last = (addr + len - 1) & ~(uint64_t)4095;
		for (uint64_t a = first; a <= last; a += 4096)
			(void)p[a > addr ? a - addr : 0];
	}
	return mem->base + addr;
}

/* ----- tables ----- */

int wasm_table_alloc(struct wasm_store *s, uint8_t elem, uint32_t min, uint32_t max, bool has_max,
		     struct wasm_table **out)
{
	struct wasm_table *t;
	uint64_t bytes = (uint64_t)min * sizeof(uint64_t) + sizeof(*t);

	if (min > WASM_MAX_TABLE)
		return -EFBIG;
	if (wasm_store_charge(s, bytes))
		return -E2BIG;
	t = core_calloc(1, sizeof(*t));
	if (t)
		t->elems = core_calloc(min ? min : 1, sizeof(uint64_t));
	if (!t || !t->elems) {
		core_free(t);
		wasm_store_refund(s, bytes);
		return -ENOMEM;
	}
	t->store = s;
	t->elem = elem;
	t->vt = elem; /* a host-made table's full type is its byte (a module's sets it) */
	t->size = min;
	t->max = max;
	t->has_max = has_max;
	wasm_store_link(s, &t->obj, WASM_OBJ_TABLE);
	*out = t;
	return 0;
}

int wasm_table_create(struct wasm_store *s, enum wasm_valtype elem, uint32_t min, uint32_t max,
		      bool has_max, struct wasm_table **out)
{
	return wasm_table_alloc(s, (uint8_t)elem, min, max, has_max, out);
}

int wasm_table_create64(struct wasm_store *s, enum wasm_valtype elem, uint32_t min, uint32_t max,
			bool has_max, struct wasm_table **out)
{
	int rc = wasm_table_alloc(s, (uint8_t)elem, min, max, has_max, out);

	if (!rc)
		(*out)->is64 = true;
	return rc;
}

int64_t wasm_table_do_grow(struct wasm_table *t, uint32_t delta, uint64_t init)
{
	uint64_t want = (uint64_t)t->size + delta;
	uint64_t *e;

	if (want > (t->has_max ? t->max : UINT32_MAX) || want > WASM_MAX_TABLE)
		return -1;
	if (delta == 0)
		return t->size;
	if (wasm_store_charge(t->store, (uint64_t)delta * sizeof(uint64_t)))
		return -1;
	e = core_realloc(t->elems, (size_t)want * sizeof(uint64_t));
	if (!e) {
		wasm_store_refund(t->store, (uint64_t)delta * sizeof(uint64_t));
		return -1;
	}
	for (uint64_t i = t->size; i < want; i++)
		e[i] = init;
	t->elems = e;
	{
		uint32_t old = t->size;
		t->size = (uint32_t)want;
		return old;
	}
}

/* ----- globals and host functions ----- */

int wasm_global_create(struct wasm_store *s, enum wasm_valtype type, bool mutable_,
		       union wasm_value init, struct wasm_global **out)
{
	struct wasm_global *g = core_calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->type = (uint8_t)type;
	g->vt = (uint8_t)type;
	g->mut = mutable_;
	if (type == WASM_V128)
		memcpy(g->v, init.v128, 16);
	else if (type == WASM_FUNCREF)
		g->v[0].i64 = (uint64_t)(uintptr_t)init.func;
	else if (type == WASM_EXTERNREF)
		g->v[0].i64 = init.ext;
	else
		g->v[0].i64 = type == WASM_I32 || type == WASM_F32 ? init.i32 : init.i64;
	wasm_store_link(s, &g->obj, WASM_OBJ_GLOBAL);
	*out = g;
	return 0;
}

union wasm_value wasm_global_get(const struct wasm_global *g)
{
	union wasm_value v;

	memset(&v, 0, sizeof(v));
	if (g->type == WASM_V128)
		memcpy(v.v128, g->v, 16);
	else
		v.i64 = g->v[0].i64;
	return v;
}

enum wasm_valtype wasm_global_type(const struct wasm_global *g)
{
	return (enum wasm_valtype)g->type;
}

int wasm_func_create_host(struct wasm_store *s, const struct wasm_functype *type, wasm_host_fn fn,
			  void *user, struct wasm_func **out)
{
	size_t n = (size_t)type->nparams + type->nresults;
	struct wasm_func *f = core_calloc(1, sizeof(*f) + (n ? n : 1));
	uint8_t *types;

	if (!f)
		return -ENOMEM;
	types = (uint8_t *)(f + 1);
	if (type->nparams)
		memcpy(types, type->params, type->nparams);
	if (type->nresults)
		memcpy(types + type->nparams, type->results, type->nresults);
	f->own_type.comp = WASM_COMP_FUNC; /* a host function's type is final */
	f->own_type.final = true;
	f->own_type.super = WASM_NO_SUPER;
	f->own_type.pub.nparams = type->nparams;
	f->own_type.pub.nresults = type->nresults;
	f->own_type.pub.params = types;
	f->own_type.pub.results = types + type->nparams;
	for (uint32_t i = 0; i < type->nparams; i++)
		f->own_type.param_slots += wasm_type_slots(types[i]);
	for (uint32_t i = 0; i < type->nresults; i++)
		f->own_type.result_slots += wasm_type_slots(types[type->nparams + i]);
	f->type = &f->own_type;
	f->host = fn;
	f->user = user;
	wasm_store_link(s, &f->obj, WASM_OBJ_FUNC);
	*out = f;
	return 0;
}

const struct wasm_functype *wasm_func_type(const struct wasm_func *f)
{
	return &f->type->pub;
}
