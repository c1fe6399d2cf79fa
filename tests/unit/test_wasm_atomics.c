/*
 * Unit tests of the threads proposal's shared memories and atomics with real threads,
 * through the public API (wasm/wasm.h): one store per thread, each with an instance that
 * imports the same shared memory. memory.atomic.wait blocks until a notify from another
 * thread wakes it (0), its timeout passes (2), or the value differs (1); notify wakes at
 * most its count, at one address only; read-modify-writes from several threads lose no
 * update. The ThreadSanitizer build (make tsan) runs these too.
 */
#include "wasm/text/text.h"
#include "wasm/wasm.h"

#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

/* the memory's owner exports it; every other thread's instance imports it */
#define FUNCS                                                                                      \
	"(func (export \"wait\") (param i32 i32 i64) (result i32)\n"                               \
	"  (memory.atomic.wait32 (local.get 0) (local.get 1) (local.get 2)))\n"                    \
	"(func (export \"notify\") (param i32 i32) (result i32)\n"                                 \
	"  (memory.atomic.notify (local.get 0) (local.get 1)))\n"                                  \
	"(func (export \"count\") (param $a i32) (param $n i32) (result i32)\n"                    \
	"  (loop $l\n"                                                                             \
	"    (drop (i32.atomic.rmw.add (local.get $a) (i32.const 1)))\n"                           \
	"    (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))\n"                  \
	"  (i32.atomic.load (local.get $a)))\n"

static const char owner_wat[] = "(module (memory (export \"mem\") 1 1 shared)\n" FUNCS ")";
static const char user_wat[] = "(module (import \"m\" \"mem\" (memory 1 1 shared))\n" FUNCS ")";

#define NTHREADS 4

struct world {
	struct wasm_module *owner_mod, *user_mod;
	struct wasm_store *owner, *users[NTHREADS];
	struct wasm_instance *oinst, *uinst[NTHREADS];
	struct wasm_memory *mem;
};

static int load(const char *wat, struct wasm_module **out)
{
	struct wasm_text_binary bin = {0};
	struct wasm_text_error terr;
	struct wasm_error err;
	int rc = wasm_text_to_binary(wat, strlen(wat), &bin, &terr);

	if (!rc)
		rc = wasm_module_load(bin.bytes, bin.len, out, &err);
	wasm_text_binary_fini(&bin);
	return rc;
}

static int resolve(void *ctx, const char *module_name, const char *name, enum wasm_extern_kind kind,
		   struct wasm_extern *out)
{
	struct world *w = ctx;

	if (strcmp(module_name, "m") || strcmp(name, "mem") || kind != WASM_EXTERN_MEMORY)
		return -ENOENT;
	out->kind = WASM_EXTERN_MEMORY;
	out->u.memory = w->mem;
	return 0;
}

static void world_fini(struct world *w)
{
	for (int i = 0; i < NTHREADS; i++)
		wasm_store_destroy(w->users[i]); /* before the owner: they use its memory */
	wasm_store_destroy(w->owner);
	wasm_module_destroy(w->user_mod);
	wasm_module_destroy(w->owner_mod);
}

static int world_init(struct world *w)
{
	struct wasm_error err;
	struct wasm_extern ext;

	memset(w, 0, sizeof(*w));
	if (load(owner_wat, &w->owner_mod) || load(user_wat, &w->user_mod) ||
	    wasm_store_create(NULL, &w->owner) ||
	    wasm_instance_create(w->owner, w->owner_mod, resolve, w, &w->oinst, &err) ||
	    wasm_instance_export(w->oinst, "mem", &ext))
		return -1;
	w->mem = ext.u.memory;
	for (int i = 0; i < NTHREADS; i++)
		if (wasm_store_create(NULL, &w->users[i]) ||
		    wasm_instance_create(w->users[i], w->user_mod, resolve, w, &w->uinst[i], &err))
			return -1;
	return 0;
}

/* Calls export name of inst in s with up to 3 arguments; the i32 result, or -1 on a trap. */
static int64_t call(struct wasm_store *s, struct wasm_instance *inst, const char *name, uint64_t a,
		    uint64_t b, uint64_t c)
{
	struct wasm_extern ext;
	union wasm_value args[3] = {{.i64 = a}, {.i64 = b}, {.i64 = c}}, res[1];

	if (wasm_instance_export(inst, name, &ext) ||
	    wasm_call(s, ext.u.func, args, res, NULL) != WASM_TRAP_NONE)
		return -1;
	return (int64_t)res[0].i32;
}

struct job {
	struct world *w;
	int k;
	const char *fn;
	uint64_t a, b, c;
	int64_t result;
	double seconds;
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *run_job(void *arg)
{
	struct job *j = arg;
	double t0 = now();

	j->result = call(j->w->users[j->k], j->w->uinst[j->k], j->fn, j->a, j->b, j->c);
	j->seconds = now() - t0;
	return NULL;
}

/* Notifies address a from the owner's thread until `want` waiters woke in total (each
 * call wakes at most `per` of them), for up to 10 s. */
static int64_t wake(struct world *w, uint32_t a, uint32_t per, int64_t want)
{
	int64_t woken = 0;

	for (int i = 0; i < 10000 && woken < want; i++) {
		int64_t n = call(w->owner, w->oinst, "notify", a, per, 0);
		if (n < 0 || n > per)
			return -1;
		woken += n;
		if (woken < want)
			usleep(1000);
	}
	return woken;
}

/* A waiter sleeps until another thread's notify; count 0 wakes nobody; each waiter
 * wakes once; notify at another address wakes no one of them. */
static int test_wait_notify(void)
{
	struct world w;
	struct job j[NTHREADS];
	pthread_t t[NTHREADS];
	int rc = 1;

	if (world_init(&w)) {
		world_fini(&w);
		CHECK(!"set up the stores");
	}
	for (int i = 0; i < NTHREADS; i++) {
		/* three wait at 0, one at 4; the value there is 0 */
		/* a long timeout rather than none: a broken notify fails, never hangs */
		j[i] = (struct job){&w, i, "wait", i == 3 ? 4 : 0, 0, 20000000000ull, -2, 0};
		pthread_create(&t[i], NULL, run_job, &j[i]);
	}
	usleep(100000);
	if (call(w.owner, w.oinst, "notify", 0, 0, 0) != 0)
		goto out;
	if (wake(&w, 0, 1, 3) != 3) /* one at a time: three in all */
		goto out;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	if (j[0].result != 0 || j[1].result != 0 || j[2].result != 0)
		goto out;
	if (call(w.owner, w.oinst, "notify", 0, 10, 0) != 0) /* nobody left at 0 */
		goto out;
	if (wake(&w, 4, 0xffffffffu, 1) != 1)
		goto out;
	pthread_join(t[3], NULL);
	rc = j[3].result == 0 ? 0 : 1;
	world_fini(&w);
	CHECK(rc == 0);
	return 0;
out:
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	world_fini(&w);
	CHECK(!"waiters woke as notified");
	return 1;
}

/* A timeout ends a wait with 2, no earlier than asked; a differing value returns 1 at
 * once, even with no timeout. */
static int test_timeout(void)
{
	struct world w;
	struct job j = {0};
	pthread_t t;

	if (world_init(&w)) {
		world_fini(&w);
		CHECK(!"set up the stores");
	}
	j = (struct job){&w, 0, "wait", 8, 0, 50000000, -2, 0};
	pthread_create(&t, NULL, run_job, &j);
	pthread_join(t, NULL);
	CHECK(call(w.owner, w.oinst, "wait", 8, 1, (uint64_t)-1) == 1);
	world_fini(&w);
	CHECK_EQ(j.result, 2);
	CHECK(j.seconds >= 0.049);
	return 0;
}

/* Read-modify-writes from every thread at once: no update lost. */
static int test_rmw(void)
{
	struct world w;
	struct job j[NTHREADS];
	pthread_t t[NTHREADS];
	int64_t total;

	if (world_init(&w)) {
		world_fini(&w);
		CHECK(!"set up the stores");
	}
	for (int i = 0; i < NTHREADS; i++) {
		j[i] = (struct job){&w, i, "count", 16, 20000, 0, -2, 0};
		pthread_create(&t[i], NULL, run_job, &j[i]);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	total = call(w.owner, w.oinst, "count", 16, 1, 0);
	world_fini(&w);
	CHECK_EQ(total, NTHREADS * 20000 + 1);
	return 0;
}

static const struct unit_test tests[] = {
	{"wait_notify", test_wait_notify},
	{"timeout", test_timeout},
	{"rmw", test_rmw},
};

UNIT_MAIN("wasm_atomics", tests)
