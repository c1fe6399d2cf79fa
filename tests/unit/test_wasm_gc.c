/*
 * Unit tests of the GC proposal's type system (WebAssembly 3.0) on hostile type sections
 * built here: many recursion groups and large ones are canonicalized in bounded time,
 * subtype chains deeper than the limit and absurd group sizes are refused with the right
 * message, without a large allocation. The GC heap through the embedding API: references
 * the embedder pins survive collections, and references it passes in that are not live
 * objects of the store (or not of the parameter's type) are refused, never dereferenced.
 */
#include "wasm/wasm.h"
#include "wasm/text/text.h"

#include "harness.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *s, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void byte(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void leb(struct buf *b, uint64_t v)
{
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		byte(b, (uint8_t)(c | (v ? 0x80 : 0)));
	} while (v);
}

static void sleb(struct buf *b, int64_t v)
{
	for (;;) {
		uint8_t c = v & 0x7f;
		v >>= 7;
		if ((v == 0 && !(c & 0x40)) || (v == -1 && (c & 0x40))) {
			byte(b, c);
			return;
		}
		byte(b, c | 0x80);
	}
}

/* (sub $super? (struct (field i32) (field (ref null $ref)))) */
static void sub_struct(struct buf *b, int64_t super, uint32_t ref)
{
	byte(b, 0x50);
	leb(b, super >= 0);
	if (super >= 0)
		leb(b, (uint64_t)super);
	byte(b, 0x5f);
	leb(b, 2);
	byte(b, 0x7f);
	byte(b, 0);
	byte(b, 0x63);
	sleb(b, ref);
	byte(b, 0);
}

/* A module of the type section ngroups/types in b. */
static struct buf module_of(const struct buf *types, uint32_t ngroups)
{
	struct buf m = {0}, sec = {0};

	put(&m, "\0asm\1\0\0\0", 8);
	leb(&sec, ngroups);
	put(&sec, types->p, types->len);
	byte(&m, 1);
	leb(&m, sec.len);
	put(&m, sec.p, sec.len);
	free(sec.p);
	return m;
}

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 20000 groups of one type each, then two equal recursion groups of 20000 types: the
 * types are compared group by group through a hash of their structure, so this takes
 * a fraction of a second (comparing each with every earlier type took minutes). */
static int test_many_groups(void)
{
	enum { N = 20000 };
	struct buf t = {0}, m;
	struct wasm_module *mod = NULL;
	struct wasm_error err = {0};
	double t0;
	int rc;

	for (uint32_t i = 0; i < N; i++)
		sub_struct(&t, -1, i ? i - 1 : 0);
	for (uint32_t g = 1; g <= 2; g++) {
		byte(&t, 0x4e);
		leb(&t, N);
		for (uint32_t i = 0; i < N; i++)
			sub_struct(&t, -1, g * N + (i + 1) % N);
	}
	m = module_of(&t, N + 2);
	t0 = cpu_seconds();
	rc = wasm_module_load(m.p, m.len, &mod, &err);
	t0 = cpu_seconds() - t0;
	if (mod)
		wasm_module_destroy(mod);
	free(t.p);
	free(m.p);
	CHECK_EQ(rc, 0);
	CHECK(t0 < 20.0);
	return 0;
}

/* A chain of 64 supertypes above a type: "subtype depth limit"; 63 are fine. */
static int test_depth_limit(void)
{
	for (uint32_t n = 63; n <= 64; n++) {
		struct buf t = {0}, m;
		struct wasm_module *mod = NULL;
		struct wasm_error err = {0};
		int rc;

		for (uint32_t i = 0; i <= n; i++)
			sub_struct(&t, i ? (int64_t)i - 1 : -1, 0);
		m = module_of(&t, n + 1);
		rc = wasm_module_load(m.p, m.len, &mod, &err);
		if (mod)
			wasm_module_destroy(mod);
		free(t.p);
		free(m.p);
		if (n == 63) {
			CHECK_EQ(rc, 0);
		} else {
			CHECK(rc != 0);
			CHECK_EQ(err.kind, WASM_ERR_INVALID);
			CHECK(strstr(err.detail, "subtype depth limit"));
		}
	}
	return 0;
}

/* A recursion group claiming 2^31 types in a few bytes is refused before anything that
 * large is allocated. */
static int test_huge_group(void)
{
	struct buf t = {0}, m;
	struct wasm_module *mod = NULL;
	struct wasm_error err = {0};
	int rc;

	byte(&t, 0x4e);
	leb(&t, 1u << 31);
	sub_struct(&t, -1, 0);
	m = module_of(&t, 1);
	rc = wasm_module_load(m.p, m.len, &mod, &err);
	if (mod)
		wasm_module_destroy(mod);
	free(t.p);
	free(m.p);
	CHECK(rc != 0);
	CHECK_EQ(err.kind, WASM_ERR_MALFORMED);
	return 0;
}

static const char gc_src[] =
	"(module (type $s (struct (field i64)))\n"
	" (func (export \"mk\") (param i64) (result (ref $s)) (struct.new $s (local.get 0)))\n"
	" (func (export \"get\") (param (ref null $s)) (result i64)\n"
	"   (struct.get $s 0 (local.get 0)))\n"
	" (func (export \"churn\") (param $n i32) (local $i i32)\n"
	"   (loop $l (drop (struct.new $s (i64.const 7)))\n"
	"     (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
	"     (br_if $l (i32.lt_u (local.get $i) (local.get $n))))))\n";

static struct wasm_func *export_func(struct wasm_instance *inst, const char *name)
{
	struct wasm_extern ext;

	if (wasm_instance_export(inst, name, &ext) || ext.kind != WASM_EXTERN_FUNC)
		return NULL;
	return ext.u.func;
}

/* Pinned references survive collections under a 4 MiB budget that a million structs
 * (48 MB) overrun many times; bogus references from the embedder trap. */
static int test_pins(void)
{
	struct wasm_limits lim = {.max_memory = 4u << 20};
	struct wasm_text_binary bin = {0};
	struct wasm_text_error terr;
	struct wasm_module *m = NULL;
	struct wasm_store *s = NULL;
	struct wasm_instance *inst = NULL;
	struct wasm_error err;
	struct wasm_func *mk, *get, *churn;
	union wasm_value arg, res[1];
	uintptr_t kept[8];
	uint64_t bogus[2] = {0};

	CHECK_EQ(wasm_text_to_binary(gc_src, sizeof(gc_src) - 1, &bin, &terr), 0);
	CHECK_EQ(wasm_module_load(bin.bytes, bin.len, &m, &err), 0);
	wasm_text_binary_fini(&bin);
	CHECK_EQ(wasm_store_create(&lim, &s), 0);
	CHECK_EQ(wasm_instance_create(s, m, NULL, NULL, &inst, &err), 0);
	mk = export_func(inst, "mk");
	get = export_func(inst, "get");
	churn = export_func(inst, "churn");
	CHECK(mk && get && churn);
	for (int i = 0; i < 8; i++) {
		arg.i64 = 1000 + (uint64_t)i;
		CHECK_EQ(wasm_call(s, mk, &arg, res, NULL), WASM_TRAP_NONE);
		kept[i] = res[0].ext;
		CHECK_EQ(wasm_anyref_pin(s, kept[i]), 0);
	}
	arg.i32 = 1000000;
	CHECK_EQ(wasm_call(s, churn, &arg, res, NULL), WASM_TRAP_NONE);
	CHECK(wasm_store_gc_collections(s) > 0);
	wasm_store_gc(s);
	CHECK_EQ(wasm_store_gc_objects(s), 8); /* the pinned ones: the churn's are garbage */
	/* inside a live object (objects share slabs): no object's address */
	arg.ext = kept[0] + 16;
	CHECK_EQ(wasm_call(s, get, &arg, res, NULL), WASM_TRAP_CAST);
	for (int i = 0; i < 8; i++) {
		uintptr_t host;
		CHECK_EQ(wasm_anyref_kind(kept[i], &host), WASM_ANYREF_STRUCT);
		arg.ext = kept[i];
		CHECK_EQ(wasm_call(s, get, &arg, res, NULL), WASM_TRAP_NONE);
		CHECK_EQ(res[0].i64, 1000 + (uint64_t)i);
		wasm_anyref_unpin(s, kept[i]);
	}
	/* unpinned, held by nothing the store sees: the next collection frees them */
	wasm_store_gc(s);
	CHECK_EQ(wasm_store_gc_objects(s), 0);
	/* a freed object's address is refused too */
	arg.ext = kept[0];
	CHECK_EQ(wasm_call(s, get, &arg, res, NULL), WASM_TRAP_CAST);
	/* not an object of the store: refused before any code runs */
	arg.ext = (uintptr_t)bogus;
	CHECK_EQ(wasm_call(s, get, &arg, res, NULL), WASM_TRAP_CAST);
	/* an i31 is no struct */
	arg.ext = 85;
	CHECK_EQ(wasm_call(s, get, &arg, res, NULL), WASM_TRAP_CAST);
	/* null: the function's own trap */
	arg.ext = 0;
	CHECK_EQ(wasm_call(s, get, &arg, res, NULL), WASM_TRAP_NULL_STRUCT);
	wasm_store_destroy(s);
	wasm_module_destroy(m);
	return 0;
}

/* Precise stack roots: host functions that collect (and note how many objects are left)
 * while the module holds objects in each kind of place, or only a number that equals an
 * object's address. */
static const char roots_src[] =
	"(module (type $s (struct (field i64)))\n"
	" (type $cell (struct (field (mut exnref))))\n"
	" (import \"h\" \"gc\" (func $gc))\n"
	" (import \"h\" \"gc_ref\" (func $gc_ref (param anyref)))\n"
	" (import \"h\" \"nested\" (func $nested))\n"
	" (tag $e (param (ref $s)))\n"
	" (tag $ec (param (ref $cell)))\n"
	" (func (export \"mk\") (param i64) (result (ref $s)) (struct.new $s (local.get 0)))\n"
	/* an i64 that equals a dropped object's address keeps nothing */
	" (func (export \"num\") (param i64) (local i64) (local.set 1 (local.get 0))\n"
	"   (call $gc))\n"
	/* a reference parameter of an interpreted frame (struct.get keeps it interpreted) */
	" (func (export \"loc\") (param (ref null $s)) (result i64) (call $gc)\n"
	"   (struct.get $s 0 (local.get 0)))\n"
	/* an operand entry below a call */
	" (func (export \"opnd\") (result i64)\n"
	"   (struct.get $s 0 (block (result (ref $s)) (struct.new $s (i64.const 5)) (call $gc))))\n"
	/* a host call's argument, which the host overwrites before it collects */
	" (func (export \"arg\") (call $gc_ref (struct.new $s (i64.const 6))))\n"
	/* a translated frame (no GC instruction: the JIT takes it) */
	" (func (export \"tr\") (param anyref) (result anyref) (call $gc) (local.get 0))\n"
	/* translated frames two levels above the collection (translated code calling
	 * translated code), and above an interpreted function (struct.new keeps it so) that
	 * translated code called: a reference local keeps its object, an i64 equal to an
	 * object's address keeps nothing */
	" (func $inner (call $gc))\n"
	" (func $viaint (drop (struct.new $s (i64.const 1))) (call $gc))\n"
	" (func (export \"tr2\") (param anyref) (result anyref) (call $inner) (local.get 0))\n"
	" (func (export \"trint\") (param anyref) (result anyref) (call $viaint) (local.get 0))\n"
	" (func (export \"num2\") (param i64) (local i64) (local.set 1 (local.get 0))\n"
	"   (call $inner))\n"
	" (func (export \"numint\") (param i64) (local i64) (local.set 1 (local.get 0))\n"
	"   (call $viaint))\n"
	/* an exception's payload, held by an exnref local */
	" (func (export \"exn\") (result i64) (local $x exnref)\n"
	"   (local.set $x (block $h (result exnref)\n"
	"     (try_table (catch_all_ref $h) (throw $e (struct.new $s (i64.const 9))))\n"
	"     (unreachable)))\n"
	"   (call $gc)\n"
	"   (struct.get $s 0 (block $h2 (result (ref $s))\n"
	"     (try_table (catch $e $h2) (throw_ref (local.get $x))) (unreachable))))\n"
	/* a cycle through both heaps: a cell whose field holds the exception carrying it;
	 * with the param 0 nothing else holds it, else the exnref local keeps it, and the
	 * exception rethrown after the collection still carries its cell (1) */
	" (func (export \"cyc\") (param $keep i32) (result i32) (local $c (ref null $cell))\n"
	"   (local $x exnref)\n"
	"   (local.set $c (struct.new $cell (ref.null exn)))\n"
	"   (local.set $x (block $h (result exnref)\n"
	"     (try_table (catch_all_ref $h) (throw $ec (ref.as_non_null (local.get $c))))\n"
	"     (unreachable)))\n"
	"   (struct.set $cell 0 (local.get $c) (local.get $x))\n"
	"   (local.set $c (ref.null $cell))\n"
	"   (if (i32.eqz (local.get $keep)) (then (local.set $x (ref.null exn))))\n"
	"   (call $gc)\n"
	"   (if (result i32) (i32.eqz (local.get $keep)) (then (i32.const 0))\n"
	"     (else (local.set $c (call $carried (local.get $x)))\n"
	"       (ref.eq (call $carried (struct.get $cell 0 (local.get $c))) (local.get $c)))))\n"
	" (func $carried (param $x exnref) (result (ref $cell))\n"
	"   (block $h (result (ref $cell))\n"
	"     (try_table (catch $ec $h) (throw_ref (local.get $x))) (unreachable)))\n"
	/* the host's nested call of thr ends with its exception, which the host collects
	 * with and passes on: the exception in flight is all that holds it and its object */
	" (func (export \"thr\") (param i64) (throw $e (struct.new $s (local.get 0))))\n"
	" (func (export \"hostexn\") (result i64)\n"
	"   (struct.get $s 0 (block $h (result (ref $s))\n"
	"     (try_table (catch $e $h) (call $nested)) (unreachable)))))\n";

static uint64_t roots_seen; /* objects left by the last host collection */

static enum wasm_trap host_gc(struct wasm_host_call *call, uint64_t *slots)
{
	(void)slots;
	wasm_store_gc(call->store);
	roots_seen = wasm_store_gc_objects(call->store);
	return WASM_TRAP_NONE;
}

static enum wasm_trap host_gc_ref(struct wasm_host_call *call, uint64_t *slots)
{
	slots[0] = 0; /* its argument slot is the host's: the argument stays a root */
	return host_gc(call, slots);
}

/* Calls thr (77), which throws, collects, and passes its exception on. */
static enum wasm_trap host_nested(struct wasm_host_call *call, uint64_t *slots)
{
	union wasm_value arg = {.i64 = 77};
	enum wasm_trap t =
		wasm_call(call->store, export_func(call->caller, "thr"), &arg, NULL, NULL);

	(void)slots;
	if (t != WASM_TRAP_EXCEPTION)
		return WASM_TRAP_UNREACHABLE;
	wasm_store_gc(call->store);
	roots_seen = wasm_store_gc_objects(call->store);
	return t;
}

struct roots_ctx {
	struct wasm_func *gc, *gc_ref, *nested;
};

static int roots_resolve(void *ctx, const char *module, const char *name,
			 enum wasm_extern_kind kind, struct wasm_extern *out)
{
	struct roots_ctx *c = ctx;

	if (strcmp(module, "h") || kind != WASM_EXTERN_FUNC)
		return -ENOENT;
	out->kind = WASM_EXTERN_FUNC;
	if (!strcmp(name, "gc"))
		out->u.func = c->gc;
	else if (!strcmp(name, "gc_ref"))
		out->u.func = c->gc_ref;
	else if (!strcmp(name, "nested"))
		out->u.func = c->nested;
	else
		return -ENOENT;
	return 0;
}

static int roots_setup(uint32_t jit, struct wasm_module **m, struct wasm_store **s,
		       struct wasm_instance **inst)
{
	static const uint8_t ANY[] = {WASM_ANYREF};
	struct wasm_functype t0 = {0, 0, NULL, NULL}, t1 = {1, 0, ANY, NULL};
	struct wasm_text_binary bin = {0};
	struct wasm_text_error terr;
	struct wasm_error err;
	struct roots_ctx c;

	CHECK_EQ(wasm_text_to_binary(roots_src, sizeof(roots_src) - 1, &bin, &terr), 0);
	CHECK_EQ(wasm_module_load(bin.bytes, bin.len, m, &err), 0);
	wasm_text_binary_fini(&bin);
	CHECK_EQ(wasm_store_create(NULL, s), 0);
	wasm_store_set_jit(*s, jit);
	CHECK_EQ(wasm_func_create_host(*s, &t0, host_gc, NULL, &c.gc), 0);
	CHECK_EQ(wasm_func_create_host(*s, &t1, host_gc_ref, NULL, &c.gc_ref), 0);
	CHECK_EQ(wasm_func_create_host(*s, &t0, host_nested, NULL, &c.nested), 0);
	CHECK_EQ(wasm_instance_create(*s, *m, roots_resolve, &c, inst, &err), 0);
	return 0;
}

/* Interpreted: an object whose address only an i64 holds is freed (a conservative scan
 * kept it); objects held only by a reference local, an operand entry below a call, a
 * host call's argument or an exception an exnref local holds survive; a garbage cycle
 * through an object and an exception is freed. */
static int test_precise_roots(void)
{
	struct wasm_module *m = NULL;
	struct wasm_store *s = NULL;
	struct wasm_instance *inst = NULL;
	union wasm_value arg, res[1];

	if (roots_setup(WASM_JIT_OFF, &m, &s, &inst))
		return 1;
	arg.i64 = 1000;
	CHECK_EQ(wasm_call(s, export_func(inst, "mk"), &arg, res, NULL), WASM_TRAP_NONE);
	arg.i64 = res[0].ext; /* its address, as a number */
	roots_seen = 99;
	CHECK_EQ(wasm_call(s, export_func(inst, "num"), &arg, NULL, NULL), WASM_TRAP_NONE);
	CHECK_EQ(roots_seen, 0);

	arg.i64 = 7;
	CHECK_EQ(wasm_call(s, export_func(inst, "mk"), &arg, res, NULL), WASM_TRAP_NONE);
	arg.ext = res[0].ext;
	roots_seen = 99;
	CHECK_EQ(wasm_call(s, export_func(inst, "loc"), &arg, res, NULL), WASM_TRAP_NONE);
	CHECK_EQ(roots_seen, 1);
	CHECK_EQ(res[0].i64, 7);

	roots_seen = 99;
	CHECK_EQ(wasm_call(s, export_func(inst, "opnd"), NULL, res, NULL), WASM_TRAP_NONE);
	CHECK_EQ(roots_seen, 1);
	CHECK_EQ(res[0].i64, 5);

	roots_seen = 99;
	CHECK_EQ(wasm_call(s, export_func(inst, "arg"), NULL, NULL, NULL), WASM_TRAP_NONE);
	CHECK_EQ(roots_seen, 1);

	roots_seen = 99;
	CHECK_EQ(wasm_call(s, export_func(inst, "exn"), NULL, res, NULL), WASM_TRAP_NONE);
	CHECK_EQ(roots_seen, 1);
	CHECK_EQ(res[0].i64, 9);

	/* a cycle through an object and an exception: freed when nothing holds it (one
	 * collector for both heaps; each used to take the other's as roots), kept whole
	 * when a local holds the exception */
	arg.i32 = 0;
	roots_seen = 99;
	CHECK_EQ(wasm_call(s, export_func(inst, "cyc"), &arg, res, NULL), WASM_TRAP_NONE);
	CHECK_EQ(roots_seen, 0);
	arg.i32 = 1;
	roots_seen = 99;
	CHECK_EQ(wasm_call(s, export_func(inst, "cyc"), &arg, res, NULL), WASM_TRAP_NONE);
	CHECK_EQ(roots_seen, 1);
	CHECK_EQ(res[0].i32, 1);

	/* an exception a host function's nested call ended with, collected with while only
	 * the store's exception in flight holds it, then passed on and caught with its
	 * object */
	roots_seen = 99;
	CHECK_EQ(wasm_call(s, export_func(inst, "hostexn"), NULL, res, NULL), WASM_TRAP_NONE);
	CHECK_EQ(roots_seen, 1);
	CHECK_EQ(res[0].i64, 77);
	wasm_store_destroy(s);
	wasm_module_destroy(m);
	return 0;
}

/* Translated code (every function without GC instructions, translated at once): an
 * object held only in its frame survives a collection its call out makes, directly, two
 * translated levels down or from an interpreted callee; an object whose address only an
 * i64 in a translated frame holds is freed (the conservative scan of translated frames
 * kept it). */
static int test_translated_roots(void)
{
	struct wasm_module *m = NULL;
	struct wasm_store *s = NULL;
	struct wasm_instance *inst = NULL;
	union wasm_value arg, res[1];

	if (roots_setup(WASM_JIT_EAGER, &m, &s, &inst))
		return 1;
	arg.i64 = 8;
	CHECK_EQ(wasm_call(s, export_func(inst, "mk"), &arg, res, NULL), WASM_TRAP_NONE);
	arg.ext = res[0].ext;
	roots_seen = 99;
	CHECK_EQ(wasm_call(s, export_func(inst, "tr"), &arg, res, NULL), WASM_TRAP_NONE);
	CHECK_EQ(roots_seen, 1);
	CHECK_EQ(res[0].ext, arg.ext);
	CHECK_EQ(wasm_call(s, export_func(inst, "loc"), &arg, res, NULL), WASM_TRAP_NONE);
	CHECK_EQ(res[0].i64, 8);
	for (int i = 0; i < 2; i++) {
		roots_seen = 99;
		CHECK_EQ(wasm_call(s, export_func(inst, i ? "trint" : "tr2"), &arg, res, NULL),
			 WASM_TRAP_NONE);
		CHECK_EQ(roots_seen, 1);
		CHECK_EQ(res[0].ext, arg.ext);
	}
	{
		static const char *const num[] = {"num", "num2", "numint"};
		struct wasm_jit_stats st;
		for (int i = 0; i < 3; i++) {
			arg.i64 = 1000;
			CHECK_EQ(wasm_call(s, export_func(inst, "mk"), &arg, res, NULL),
				 WASM_TRAP_NONE);
			arg.i64 = res[0].ext; /* its address, as a number */
			roots_seen = 99;
			CHECK_EQ(wasm_call(s, export_func(inst, num[i]), &arg, NULL, NULL),
				 WASM_TRAP_NONE);
			CHECK_EQ(roots_seen, 0);
		}
		/* they ran translated: num, num2, numint, inner, tr, tr2, trint at least */
		wasm_store_jit_stats(s, &st);
		CHECK(st.translated >= 7);
	}
	/* the exception in flight through a host function is a root with the JIT too (its
	 * collection frees what only the embedder's variables held above) */
	CHECK_EQ(wasm_call(s, export_func(inst, "hostexn"), NULL, res, NULL), WASM_TRAP_NONE);
	CHECK_EQ(res[0].i64, 77);
	wasm_store_destroy(s);
	wasm_module_destroy(m);
	return 0;
}

static const struct unit_test tests[] = {
	{"pins", test_pins},
	{"precise_roots", test_precise_roots},
	{"translated_roots", test_translated_roots},
	{"many_groups", test_many_groups},
	{"depth_limit", test_depth_limit},
	{"huge_group", test_huge_group},
};

UNIT_MAIN("wasm_gc", tests)
