/*
 * Unit tests of exception handling (WebAssembly 3.0) through the embedding API
 * (wasm/wasm.h): a host function raising an exception of a host tag that Wasm code
 * catches, an exception of Wasm code passing through a host frame that re-entered the
 * store (wasm_call inside a host function), an uncaught exception reported with its tag,
 * tag imports matched by type, and a host throwing 300000 times within an 8 MiB budget;
 * the same with every function translated (the JIT's handlers catch the host's exceptions
 * and those passed on by the host frame).
 */
#include "wasm/wasm.h"
#include "wasm/text/text.h"

#include "harness.h"

#include <errno.h>
#include <string.h>

static const char src[] =
	"(module\n"
	"  (import \"env\" \"t\" (tag $t (param i32)))\n"
	"  (import \"env\" \"h\" (func $h (param i32) (result i32)))\n"
	"  (tag $own (export \"own\") (param i32))\n"
	"  (func (export \"inner\") (param i32) (result i32) (throw $own (local.get 0)))\n"
	"  (func (export \"outer\") (param i32) (result i32)\n"
	"    (block $a (result i32)\n"
	"      (block $b (result i32)\n"
	"        (try_table (result i32) (catch $t $a) (catch $own $b)\n"
	"          (call $h (local.get 0)))\n"
	"        (return))\n"
	"      (i32.const 1000) (i32.add) (return))))\n";

struct ctx {
	struct wasm_tag *t;
	struct wasm_func *h;
	struct wasm_func *inner; /* set once instantiated */
	int reentered;
};

/* Odd x: throws t(x + 1). Even x: calls inner(x), which throws, and passes its exception
 * on. Zero: returns 7. */
static enum wasm_trap host(struct wasm_host_call *call, uint64_t *slots)
{
	struct ctx *c = call->user;
	uint32_t x = (uint32_t)slots[0];
	union wasm_value arg = {.i32 = x}, res = {0};
	enum wasm_trap t;

	if (x == 0) {
		slots[0] = 7;
		return WASM_TRAP_NONE;
	}
	if (x & 1) {
		uint64_t v = x + 1;
		return wasm_tag_throw(call->store, c->t, &v);
	}
	c->reentered++;
	t = wasm_call(call->store, c->inner, &arg, &res, NULL);
	return t;
}

static int resolve(void *ctx, const char *module_name, const char *name, enum wasm_extern_kind kind,
		   struct wasm_extern *out)
{
	struct ctx *c = ctx;

	if (strcmp(module_name, "env"))
		return -ENOENT;
	if (!strcmp(name, "t") && kind == WASM_EXTERN_TAG) {
		out->kind = WASM_EXTERN_TAG;
		out->u.tag = c->t;
		return 0;
	}
	if (!strcmp(name, "h") && kind == WASM_EXTERN_FUNC) {
		out->kind = WASM_EXTERN_FUNC;
		out->u.func = c->h;
		return 0;
	}
	return -ENOENT;
}

static int setup_jit(struct ctx *c, const uint8_t *tparams, uint32_t ntparams,
		     struct wasm_module **m, struct wasm_store **s, struct wasm_instance **inst,
		     struct wasm_error *err, bool jit)
{
	static const uint8_t I32[] = {WASM_I32};
	struct wasm_functype ht = {1, 1, I32, I32}, tt = {ntparams, 0, tparams, NULL};
	/* 8 MiB: the exceptions of the host_throw loop fit only if they are collected */
	struct wasm_limits lim = {.max_memory = 8u << 20};
	struct wasm_text_binary bin = {0};
	struct wasm_text_error terr;
	struct wasm_extern ext;
	int rc;

	memset(c, 0, sizeof(*c));
	rc = wasm_text_to_binary(src, sizeof(src) - 1, &bin, &terr);
	if (!rc)
		rc = wasm_module_load(bin.bytes, bin.len, m, err);
	wasm_text_binary_fini(&bin);
	if (!rc)
		rc = wasm_store_create(&lim, s);
	if (!rc && jit)
		wasm_store_set_jit(*s, 1);
	if (!rc)
		rc = wasm_tag_create(*s, &tt, &c->t);
	if (!rc)
		rc = wasm_func_create_host(*s, &ht, host, c, &c->h);
	if (!rc)
		rc = wasm_instance_create(*s, *m, resolve, c, inst, err);
	if (!rc)
		rc = wasm_instance_export(*inst, "inner", &ext);
	if (!rc)
		c->inner = ext.u.func;
	return rc;
}

static int setup(struct ctx *c, const uint8_t *tparams, uint32_t ntparams, struct wasm_module **m,
		 struct wasm_store **s, struct wasm_instance **inst, struct wasm_error *err)
{
	return setup_jit(c, tparams, ntparams, m, s, inst, err, false);
}

static enum wasm_trap outer(struct wasm_store *s, struct wasm_instance *inst, uint32_t x,
			    uint32_t *r)
{
	struct wasm_extern ext;
	union wasm_value arg = {.i32 = x}, res = {0};
	enum wasm_trap t;

	if (wasm_instance_export(inst, "outer", &ext))
		return WASM_TRAP_HOST;
	t = wasm_call(s, ext.u.func, &arg, &res, NULL);
	*r = res.i32;
	return t;
}

static int host_throw(bool jit)
{
	static const uint8_t I32[] = {WASM_I32};
	struct wasm_module *m = NULL;
	struct wasm_store *s = NULL;
	struct wasm_instance *inst;
	struct wasm_error err;
	struct wasm_jit_stats st;
	struct ctx c;
	uint32_t r = 0;

	CHECK_EQ(setup_jit(&c, I32, 1, &m, &s, &inst, &err, jit), 0);
	CHECK_EQ(outer(s, inst, 0, &r), WASM_TRAP_NONE);
	CHECK_EQ(r, 7);
	/* the host's exception of its own tag, caught by Wasm */
	CHECK_EQ(outer(s, inst, 5, &r), WASM_TRAP_NONE);
	CHECK_EQ(r, 6);
	/* Wasm's exception through the host frame that re-entered */
	CHECK_EQ(outer(s, inst, 4, &r), WASM_TRAP_NONE);
	CHECK_EQ(r, 1004);
	CHECK_EQ(c.reentered, 1);
	/* 300000 host throws (12 MB of exceptions): collected as they go */
	for (uint32_t i = 0; i < 300000; i++) {
		if (outer(s, inst, 2 * i + 1, &r) != WASM_TRAP_NONE || r != 2 * i + 2) {
			fprintf(stderr, "throw %u: %u\n", i, r);
			return 1;
		}
	}
	/* with the JIT forced, outer (with its handlers) and inner ran translated (x86-64:
	 * elsewhere the interpreter runs everything) */
	wasm_store_jit_stats(s, &st);
#if defined(__x86_64__)
	if (jit)
		CHECK_EQ(st.translated, 2);
#endif
	wasm_store_destroy(s);
	wasm_module_destroy(m);
	return 0;
}

static int test_host_throw(void)
{
	return host_throw(false);
}

static int test_host_throw_jit(void)
{
	return host_throw(true);
}

static int test_uncaught(void)
{
	static const uint8_t I32[] = {WASM_I32};
	struct wasm_module *m = NULL;
	struct wasm_store *s = NULL;
	struct wasm_instance *inst;
	struct wasm_error err;
	struct wasm_trap_info info;
	struct wasm_extern own;
	union wasm_value arg = {.i32 = 3}, res = {0};
	struct ctx c;

	CHECK_EQ(setup(&c, I32, 1, &m, &s, &inst, &err), 0);
	CHECK_EQ(wasm_instance_export(inst, "own", &own), 0);
	CHECK_EQ(own.kind, WASM_EXTERN_TAG);
	CHECK_EQ(wasm_call(s, c.inner, &arg, &res, &info), WASM_TRAP_EXCEPTION);
	CHECK_EQ(info.trap, WASM_TRAP_EXCEPTION);
	CHECK(wasm_store_exception_tag(s) == own.u.tag);
	CHECK(strcmp(wasm_trap_message(WASM_TRAP_EXCEPTION), "uncaught exception") == 0);
	wasm_store_destroy(s);
	wasm_module_destroy(m);
	return 0;
}

/* A host tag of another type does not match the import (param i32). */
static int test_tag_type(void)
{
	static const uint8_t I64[] = {WASM_I64};
	struct wasm_module *m = NULL;
	struct wasm_store *s = NULL;
	struct wasm_instance *inst;
	struct wasm_error err;
	struct wasm_functype bad = {0, 1, NULL, I64};
	struct wasm_tag *t;
	struct ctx c;

	CHECK(setup(&c, I64, 1, &m, &s, &inst, &err) != 0);
	CHECK_EQ(err.kind, WASM_ERR_UNLINKABLE);
	CHECK(strstr(err.detail, "incompatible import type") != NULL);
	CHECK_EQ(wasm_tag_create(s, &bad, &t), -EINVAL);
	wasm_store_destroy(s);
	wasm_module_destroy(m);
	return 0;
}

static const struct unit_test tests[] = {
	{"host_throw", test_host_throw},
	{"host_throw_jit", test_host_throw_jit},
	{"uncaught", test_uncaught},
	{"tag_type", test_tag_type},
};

UNIT_MAIN("wasm_exn", tests)
