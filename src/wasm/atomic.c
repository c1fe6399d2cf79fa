/*
 * The threads proposal's atomic instructions (WebAssembly threads, "Atomic memory
 * accesses" and "Wait and Notify operators"): the 0xFE rows of atomics.def. Every access
 * is a sequentially consistent __atomic builtin on host memory of its own width, so
 * accesses from several threads to a shared memory are real atomics. Misaligned accesses
 * trap before the bounds check ("unaligned atomic", as the reference interpreter).
 * memory.atomic.wait blocks on a condition variable per waiter, queued on the memory
 * under its wait_lock; notify wakes waiters at one address, oldest first.
 */
#include "wasm/internal.h"

#include "core/util.h"

#include <errno.h>
#include <time.h>

const struct wasm_atomic_row wasm_atomic_rows[WASM_ATOMIC_CODES] = {
#define ATOMIC(N, S, C, KIND, T, A) [C] = {AK_##KIND, A},
#include "wasm/atomics.def"
#undef ATOMIC
};

/* A thread blocked in memory.atomic.wait (on its own stack while it waits). */
struct wasm_waiter {
	uint64_t ea;
	pthread_cond_t cond;
	bool woken;
	struct wasm_waiter *next;
};

/* Trap checks shared by every access: alignment first, then bounds. */
static enum wasm_trap check(uint64_t msize, uint64_t ea, unsigned log2)
{
	uint64_t size = 1ull << log2;

	if (ea & (size - 1))
		return WASM_TRAP_UNALIGNED_ATOMIC;
	if (ea > msize || size > msize - ea)
		return WASM_TRAP_MEM_OOB;
	return WASM_TRAP_NONE;
}

#define SC __ATOMIC_SEQ_CST

/* One access of width T at p (an aligned host address). */
#define ACCESS(T)                                                                                  \
	static uint64_t access_##T(T *p, unsigned kind, T v, T expect)                             \
	{                                                                                          \
		switch (kind) {                                                                    \
		case AK_LOAD:                                                                      \
			return __atomic_load_n(p, SC);                                             \
		case AK_STORE:                                                                     \
			__atomic_store_n(p, v, SC);                                                \
			return 0;                                                                  \
		case AK_RMW_ADD:                                                                   \
			return __atomic_fetch_add(p, v, SC);                                       \
		case AK_RMW_SUB:                                                                   \
			return __atomic_fetch_sub(p, v, SC);                                       \
		case AK_RMW_AND:                                                                   \
			return __atomic_fetch_and(p, v, SC);                                       \
		case AK_RMW_OR:                                                                    \
			return __atomic_fetch_or(p, v, SC);                                        \
		case AK_RMW_XOR:                                                                   \
			return __atomic_fetch_xor(p, v, SC);                                       \
		case AK_RMW_XCHG:                                                                  \
			return __atomic_exchange_n(p, v, SC);                                      \
		default: /* AK_CMPXCHG: expect becomes the old value either way */                 \
			__atomic_compare_exchange_n(p, &expect, v, false, SC, SC);                 \
			return expect;                                                             \
		}                                                                                  \
	}
ACCESS(uint8_t)
ACCESS(uint16_t)
ACCESS(uint32_t)
ACCESS(uint64_t)
#undef ACCESS

enum wasm_trap wasm_atomic_access(uint8_t *mem, uint64_t msize, uint32_t code, uint64_t ea,
				  uint64_t v, uint64_t expect, uint64_t *out)
{
	unsigned kind = code < WASM_ATOMIC_CODES ? wasm_atomic_rows[code].kind : AK_NONE;
	unsigned log2 = code < WASM_ATOMIC_CODES ? wasm_atomic_rows[code].log2 : 0;
	enum wasm_trap t = check(msize, ea, log2);
	void *p = mem + ea;

	*out = 0;
	if (NEVER(kind < AK_LOAD || kind > AK_CMPXCHG)) /* the compiler emits no other */
		return WASM_TRAP_UNREACHABLE;
	if (t)
		return t;
	/* the operands are wrapped to the access width (an rmw8 on i32 uses v's low byte, and
	 * a cmpxchg8 compares with expect's low byte), the result zero-extended */
	switch (log2) {
	case 0:
		*out = access_uint8_t(p, kind, (uint8_t)v, (uint8_t)expect);
		break;
	case 1:
		*out = access_uint16_t(p, kind, (uint16_t)v, (uint16_t)expect);
		break;
	case 2:
		*out = access_uint32_t(p, kind, (uint32_t)v, (uint32_t)expect);
		break;
	default:
		*out = access_uint64_t(p, kind, v, expect);
		break;
	}
	return WASM_TRAP_NONE;
}

int wasm_atomic_mem_init(struct wasm_memory *m)
{
	int rc = pthread_mutex_init(&m->wait_lock, NULL);

	if (rc)
		return -rc;
	m->waiters = NULL;
	return 0;
}

void wasm_atomic_mem_fini(struct wasm_memory *m)
{
	pthread_mutex_destroy(&m->wait_lock);
}

static void unlink_waiter(struct wasm_memory *m, struct wasm_waiter *w)
{
	for (struct wasm_waiter **pp = &m->waiters; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			return;
		}
	}
}

static void add_ns(struct timespec *t, int64_t ns)
{
	t->tv_sec += ns / 1000000000;
	t->tv_nsec += ns % 1000000000;
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* How long one sleep lasts at most: the store's interrupt flag (--timeout, a shutdown)
 * is checked this often while a thread waits. */
#define WAIT_SLICE_NS 20000000

/* Sleeps w until notified, the deadline (NULL: none) or an interrupt; called and returns
 * with m->wait_lock held. */
static enum wasm_trap sleep_waiter(struct wasm_store *s, struct wasm_memory *m,
				   struct wasm_waiter *w, const struct timespec *deadline,
				   uint32_t *out)
{
	for (;;) {
		struct timespec now, until;
		if (w->woken) {
			*out = 0;
			return WASM_TRAP_NONE;
		}
		if (atomic_load(&s->interrupt))
			return WASM_TRAP_INTERRUPTED;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (deadline && !before(&now, deadline)) {
			*out = 2;
			return WASM_TRAP_NONE;
		}
		until = now;
		add_ns(&until, WAIT_SLICE_NS);
		if (deadline && before(deadline, &until))
			until = *deadline;
		pthread_cond_timedwait(&w->cond, &m->wait_lock, &until);
	}
}

enum wasm_trap wasm_atomic_wait(struct wasm_store *s, struct wasm_memory *m, bool wide, uint64_t ea,
				uint64_t expect, int64_t timeout_ns, uint32_t *out)
{
	struct wasm_waiter w = {.ea = ea};
	struct timespec deadline;
	pthread_condattr_t attr;
	uint64_t cur;
	enum wasm_trap t;

	*out = 0;
	if (!m->shared)
		return WASM_TRAP_UNSHARED;
	t = check(m->size, ea, wide ? 3 : 2);
	if (t)
		return t;
	if (timeout_ns >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		add_ns(&deadline, timeout_ns);
	}
	pthread_mutex_lock(&m->wait_lock);
	/* the compare happens under the lock a notify takes: no wake-up is lost between it
	 * and the sleep */
	cur = wide ? __atomic_load_n((uint64_t *)(void *)(m->base + ea), SC)
		   : __atomic_load_n((uint32_t *)(void *)(m->base + ea), SC);
	if (cur != (wide ? expect : (uint32_t)expect)) {
		pthread_mutex_unlock(&m->wait_lock);
		*out = 1;
		return WASM_TRAP_NONE;
	}
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cond, &attr);
	pthread_condattr_destroy(&attr);
	/* append: notify wakes the oldest waiters first */
	struct wasm_waiter **pp = &m->waiters;
	while (*pp)
		pp = &(*pp)->next;
	*pp = &w;
	t = sleep_waiter(s, m, &w, timeout_ns >= 0 ? &deadline : NULL, out);
	if (!w.woken)
		unlink_waiter(m, &w);
	pthread_mutex_unlock(&m->wait_lock);
	pthread_cond_destroy(&w.cond);
	return t;
}

enum wasm_trap wasm_atomic_notify(struct wasm_memory *m, uint64_t ea, uint32_t count, uint32_t *out)
{
	enum wasm_trap t = check(m->size, ea, 2);
	uint32_t n = 0;

	*out = 0;
	if (t || !m->shared)
		return t;
	pthread_mutex_lock(&m->wait_lock);
	for (struct wasm_waiter **pp = &m->waiters; *pp && n < count;) {
		struct wasm_waiter *w = *pp;
		if (w->ea != ea) {
			pp = &w->next;
			continue;
		}
		*pp = w->next; /* woken waiters leave the queue here, under the lock */
		w->woken = true;
		pthread_cond_signal(&w->cond);
		n++;
	}
	pthread_mutex_unlock(&m->wait_lock);
	*out = n;
	return WASM_TRAP_NONE;
}
