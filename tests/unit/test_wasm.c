/*
 * Unit tests for the wasm engine through its public API (wasm/wasm.h): load, instantiate
 * with a host function, calls, traps, fuel, memory access helpers, every truncation of a
 * valid module rejected cleanly, single-byte corruptions rejected with the right error
 * kind or run to a result or trap under fuel, allocation failure injected at every step
 * of load and instantiation (must fail with -ENOMEM or succeed, never crash or leak),
 * escaping of module-provided names, and the store's memory budget.
 */
#include "wasm/wasm.h"

#include "core/alloc.h"
#include "harness.h"

#include <errno.h>
#include <stdlib.h>

/* tests/wasm/unit.wat: imports env.h (i32)->i32; memory 1..2; mutable global 5;
 * table with $add at 0; exports add, spin, callh (h(x) * g), store. */
static const uint8_t module[] = {
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x14, 0x04, 0x60, 0x01, 0x7f, 0x01,
	0x7f, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x00, 0x60, 0x02, 0x7f, 0x7f, 0x00,
	0x02, 0x09, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x01, 0x68, 0x00, 0x00, 0x03, 0x05, 0x04, 0x01,
	0x02, 0x00, 0x03, 0x04, 0x04, 0x01, 0x70, 0x00, 0x02, 0x05, 0x04, 0x01, 0x01, 0x01, 0x02,
	0x06, 0x06, 0x01, 0x7f, 0x01, 0x41, 0x05, 0x0b, 0x07, 0x27, 0x05, 0x06, 0x6d, 0x65, 0x6d,
	0x6f, 0x72, 0x79, 0x02, 0x00, 0x03, 0x61, 0x64, 0x64, 0x00, 0x01, 0x04, 0x73, 0x70, 0x69,
	0x6e, 0x00, 0x02, 0x05, 0x63, 0x61, 0x6c, 0x6c, 0x68, 0x00, 0x03, 0x05, 0x73, 0x74, 0x6f,
	0x72, 0x65, 0x00, 0x04, 0x09, 0x07, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x01, 0x01, 0x0a, 0x25,
	0x04, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00,
	0x0b, 0x0b, 0x09, 0x00, 0x20, 0x00, 0x10, 0x00, 0x23, 0x00, 0x6c, 0x0b, 0x09, 0x00, 0x20,
	0x00, 0x20, 0x01, 0x36, 0x02, 0x00, 0x0b};

static enum wasm_trap host_double(struct wasm_host_call *call, uint64_t *slots)
{
	int *calls = call->user;

	(*calls)++;
	slots[0] = (uint32_t)slots[0] * 2u;
	return WASM_TRAP_NONE;
}

struct env {
	struct wasm_func *h;
};

static int resolve(void *ctx, const char *module_name, const char *name, enum wasm_extern_kind kind,
		   struct wasm_extern *out)
{
	struct env *e = ctx;

	if (strcmp(module_name, "env") || strcmp(name, "h") || kind != WASM_EXTERN_FUNC)
		return -ENOENT;
	out->kind = WASM_EXTERN_FUNC;
	out->u.func = e->h;
	return 0;
}

/* Loads and instantiates the test module; returns 0 or the first failing rc. */
static int setup(const struct wasm_limits *lim, int *calls, struct wasm_module **m,
		 struct wasm_store **s, struct wasm_instance **inst)
{
	static const uint8_t I32[] = {WASM_I32};
	struct wasm_functype t = {1, 1, I32, I32};
	struct wasm_error err;
	struct env e;
	int rc;

	*m = NULL;
	*s = NULL;
	rc = wasm_module_load(module, sizeof(module), m, &err);
	if (rc)
		return rc;
	rc = wasm_store_create(lim, s);
	if (rc)
		return rc;
	rc = wasm_func_create_host(*s, &t, host_double, calls, &e.h);
	if (rc)
		return rc;
	return wasm_instance_create(*s, *m, resolve, &e, inst, &err);
}

static void teardown(struct wasm_module *m, struct wasm_store *s)
{
	wasm_store_destroy(s);
	wasm_module_destroy(m);
}

static enum wasm_trap call(struct wasm_store *s, struct wasm_instance *inst, const char *name,
			   uint32_t a, uint32_t b, uint32_t *result)
{
	struct wasm_extern ext;
	union wasm_value args[2], res[1];

	if (wasm_instance_export(inst, name, &ext) || ext.kind != WASM_EXTERN_FUNC)
		return WASM_TRAP_HOST;
	memset(args, 0, sizeof(args));
	memset(res, 0, sizeof(res));
	args[0].i32 = a;
	args[1].i32 = b;
	enum wasm_trap t = wasm_call(s, ext.u.func, args, res, NULL);
	if (result)
		*result = res[0].i32;
	return t;
}

static int test_call(void)
{
	struct wasm_module *m;
	struct wasm_store *s;
	struct wasm_instance *inst;
	uint32_t r = 0;
	int calls = 0;

	CHECK_EQ(setup(NULL, &calls, &m, &s, &inst), 0);
	CHECK_EQ(call(s, inst, "add", 40, 2, &r), WASM_TRAP_NONE);
	CHECK_EQ(r, 42);
	CHECK_EQ(call(s, inst, "add", 0xffffffffu, 2, &r), WASM_TRAP_NONE);
	CHECK_EQ(r, 1);
	CHECK_EQ(call(s, inst, "callh", 7, 0, &r), WASM_TRAP_NONE);
	CHECK_EQ(r, 70);
	CHECK_EQ(calls, 1);
	teardown(m, s);
	return 0;
}

static int test_memory(void)
{
	struct wasm_module *m;
	struct wasm_store *s;
	struct wasm_instance *inst;
	struct wasm_memory *mem;
	struct wasm_trap_info info;
	struct wasm_extern ext;
	union wasm_value args[2];
	uint32_t *p;
	int calls = 0;

	CHECK_EQ(setup(NULL, &calls, &m, &s, &inst), 0);
	mem = wasm_instance_memory(inst);
	CHECK(mem != NULL);
	CHECK_EQ(wasm_memory_size(mem), 65536);
	CHECK_EQ(call(s, inst, "store", 100, 0xdeadbeef, NULL), WASM_TRAP_NONE);
	p = wasm_memory_range(mem, 100, 4);
	CHECK(p != NULL);
	CHECK_EQ(*p, 0xdeadbeef);
	CHECK(wasm_memory_range(mem, 65533, 4) == NULL);
	CHECK(wasm_memory_range(mem, 65536, 0) != NULL);
	CHECK(wasm_memory_range(mem, ~0ull, 2) == NULL);
	CHECK_EQ(wasm_instance_export(inst, "store", &ext), 0);
	args[0].i32 = 65534;
	args[1].i32 = 1;
	CHECK_EQ(wasm_call(s, ext.u.func, args, NULL, &info), WASM_TRAP_MEM_OOB);
	CHECK_EQ(info.func, 4);
	CHECK(info.offset > 0);
	CHECK_EQ(wasm_memory_grow(mem, 1), 1);
	CHECK_EQ(wasm_memory_grow(mem, 1), -1); /* declared maximum is 2 pages */
	CHECK_EQ(call(s, inst, "store", 65534, 1, NULL), WASM_TRAP_NONE);
	teardown(m, s);
	return 0;
}

static int test_fuel(void)
{
	struct wasm_limits lim = {.fuel = 5000};
	struct wasm_module *m;
	struct wasm_store *s;
	struct wasm_instance *inst;
	int calls = 0;

	CHECK_EQ(setup(&lim, &calls, &m, &s, &inst), 0);
	CHECK_EQ(call(s, inst, "spin", 0, 0, NULL), WASM_TRAP_FUEL);
	CHECK_EQ(wasm_store_fuel(s), 0);
	wasm_store_set_fuel(s, 100);
	CHECK_EQ(call(s, inst, "add", 1, 2, NULL), WASM_TRAP_NONE);
	CHECK(wasm_store_fuel(s) < 100);
	wasm_store_interrupt(s);
	wasm_store_set_fuel(s, 0);
	CHECK_EQ(call(s, inst, "spin", 0, 0, NULL), WASM_TRAP_INTERRUPTED);
	teardown(m, s);
	return 0;
}

static int test_truncated(void)
{
	for (size_t n = 0; n < sizeof(module); n++) {
		struct wasm_module *m = NULL;
		struct wasm_error err;
		int rc = wasm_module_load(module, n, &m, &err);
		/* a prefix ending at a section boundary can itself be a valid module */
		if (rc == 0) {
			wasm_module_destroy(m);
			continue;
		}
		CHECK_EQ(rc, -EINVAL);
		CHECK_EQ(err.kind, WASM_ERR_MALFORMED);
	}
	return 0;
}

/* The outcome of running one corrupted module: 0 when it was one of the expected ones. */
struct flip_stats {
	unsigned rejected, unlinked, ran, calls;
};

static int run_flipped(struct wasm_module *m, struct flip_stats *st)
{
	static const char *const names[] = {"add", "spin", "callh", "store"};
	static const uint8_t I32[] = {WASM_I32};
	struct wasm_limits lim = {.fuel = 20000, .max_memory = 1u << 20};
	struct wasm_functype t = {1, 1, I32, I32};
	struct wasm_store *s;
	struct wasm_instance *inst;
	struct wasm_error err;
	struct env e;
	int calls = 0;

	CHECK_EQ(wasm_store_create(&lim, &s), 0);
	CHECK_EQ(wasm_func_create_host(s, &t, host_double, &calls, &e.h), 0);
	if (wasm_instance_create(s, m, resolve, &e, &inst, &err)) {
		/* a changed import, or a segment or start function that traps or spins */
		CHECK(err.kind == WASM_ERR_UNLINKABLE || err.kind == WASM_ERR_UNINSTANTIABLE ||
		      err.kind == WASM_ERR_LIMIT);
		CHECK(err.detail[0] != 0);
		st->unlinked++;
		wasm_store_destroy(s);
		return 0;
	}
	st->ran++;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		union wasm_value args[4], res[4];
		struct wasm_extern ext;
		enum wasm_trap trap;

		if (wasm_instance_export(inst, names[i], &ext) || ext.kind != WASM_EXTERN_FUNC ||
		    wasm_func_type(ext.u.func)->nparams > 4 ||
		    wasm_func_type(ext.u.func)->nresults > 4)
			continue;
		memset(args, 0, sizeof(args));
		wasm_store_set_fuel(s, 20000);
		trap = wasm_call(s, ext.u.func, args, res, NULL);
		/* a result, or a trap the code can cause: never a host failure or an exit */
		CHECK(trap != WASM_TRAP_HOST && trap != WASM_TRAP_EXIT &&
		      trap != WASM_TRAP_INTERRUPTED);
		CHECK(trap == WASM_TRAP_NONE || strcmp(wasm_trap_message(trap), "unknown trap"));
		st->calls++;
	}
	wasm_store_destroy(s);
	return 0;
}

static int test_bit_flips(void)
{
	uint8_t copy[sizeof(module)];
	struct flip_stats st = {0, 0, 0, 0};

	/* every single-byte corruption is either rejected as malformed or invalid, with a
	 * message and an offset inside the module, or loads and then links, runs and
	 * returns or traps under fuel */
	for (size_t i = 8; i < sizeof(module); i++) {
		for (int v = 0; v < 256; v += 37) {
			struct wasm_module *m = NULL;
			struct wasm_error err;
			int rc;

			memcpy(copy, module, sizeof(copy));
			copy[i] = (uint8_t)v;
			rc = wasm_module_load(copy, sizeof(copy), &m, &err);
			if (rc) {
				CHECK_EQ(rc, -EINVAL);
				CHECK(err.kind == WASM_ERR_MALFORMED ||
				      err.kind == WASM_ERR_INVALID);
				CHECK(err.detail[0] != 0);
				CHECK(err.offset >= -1 && err.offset <= (int64_t)sizeof(module));
				st.rejected++;
				continue;
			}
			rc = run_flipped(m, &st);
			wasm_module_destroy(m);
			if (rc)
				return rc;
		}
	}
	/* the corruptions exercise every outcome */
	CHECK(st.rejected > 100);
	CHECK(st.unlinked > 0);
	CHECK(st.ran > 10);
	CHECK(st.calls > 10);
	return 0;
}

static int test_name_escape(void)
{
	char buf[64], small[8];

	CHECK(!strcmp(wasm_name_escape("main", 4, buf, sizeof(buf)), "main"));
	CHECK(!strcmp(wasm_name_escape("a\nb\r\x1b[2J\x7f", 9, buf, sizeof(buf)),
		      "a\\x0ab\\x0d\\x1b[2J\\x7f"));
	CHECK(!strcmp(wasm_name_escape("q\"\\", 3, buf, sizeof(buf)), "q\\\"\\\\"));
	CHECK(!strcmp(wasm_name_escape("a\0b", 3, buf, sizeof(buf)), "a\\x00b"));
	/* UTF-8: printable kept, C1 and bidi controls escaped, invalid bytes escaped */
	CHECK(!strcmp(wasm_name_escape("\xc3\xa9t\xc3\xa9", 5, buf, sizeof(buf)),
		      "\xc3\xa9t\xc3\xa9"));
	CHECK(!strcmp(wasm_name_escape("\xc2\x9b"
				       "1m",
				       4, buf, sizeof(buf)),
		      "\\u{9b}1m"));
	CHECK(!strcmp(wasm_name_escape("\xe2\x80\xae"
				       "x",
				       4, buf, sizeof(buf)),
		      "\\u{202e}x"));
	CHECK(!strcmp(wasm_name_escape("\xff\xc3(", 3, buf, sizeof(buf)), "\\xff\\xc3("));
	CHECK(!strcmp(wasm_name_escape("\xed\xa0\x80", 3, buf, sizeof(buf)), "\\xed\\xa0\\x80"));
	/* cut to fit with "...", never inside an escape */
	CHECK(!strcmp(wasm_name_escape("abcdefgh", 8, small, sizeof(small)), "abcd..."));
	CHECK(!strcmp(wasm_name_escape("abcdefg", 7, small, sizeof(small)), "abcdefg"));
	CHECK(!strcmp(wasm_name_escape("a\n\n\n", 4, small, sizeof(small)), "a..."));
	CHECK(!strcmp(wasm_name_escape("abc", 3, small, 3), ""));
	return 0;
}

static int test_budget(void)
{
	struct wasm_limits big = {.max_memory = 256u << 10}, tight = {.max_memory = 100u << 10};
	struct wasm_limits stack = {.max_memory = 1u << 20, .stack_size = 1u << 20};
	struct wasm_module *m;
	struct wasm_store *s;
	struct wasm_instance *inst;
	struct wasm_table *t;
	int calls = 0;

	/* memory.grow past the budget returns -1; within it, the old size */
	CHECK_EQ(setup(&tight, &calls, &m, &s, &inst), 0);
	CHECK_EQ(wasm_memory_grow(wasm_instance_memory(inst), 1), -1);
	CHECK_EQ(wasm_table_create(s, WASM_FUNCREF, 10000, 10000, true, &t), -E2BIG);
	CHECK_EQ(wasm_table_create(s, WASM_FUNCREF, 100, 100, true, &t), 0);
	teardown(m, s);
	CHECK_EQ(setup(&big, &calls, &m, &s, &inst), 0);
	CHECK_EQ(wasm_memory_grow(wasm_instance_memory(inst), 1), 1);
	teardown(m, s);
	/* the value stack and its frames (twice 1 MiB) do not fit in 1 MiB */
	s = NULL;
	CHECK_EQ(wasm_store_create(&stack, &s), -E2BIG);
	CHECK(s == NULL);
	return 0;
}

static int test_alloc_failure(void)
{
	unsigned long n;

	for (n = 1; n < 500; n++) {
		struct wasm_module *m;
		struct wasm_store *s;
		struct wasm_instance *inst;
		int calls = 0, rc;

		core_alloc_fail_after(n);
		rc = setup(NULL, &calls, &m, &s, &inst);
		core_alloc_fail_after(0);
		teardown(m, s);
		if (rc == 0)
			break;
		CHECK_EQ(rc, -ENOMEM);
	}
	CHECK(n < 500); /* eventually everything succeeds */
	return 0;
}

static const struct unit_test tests[] = {
	{"call", test_call},
	{"memory", test_memory},
	{"fuel", test_fuel},
	{"truncated", test_truncated},
	{"bit_flips", test_bit_flips},
	{"alloc_failure", test_alloc_failure},
	{"name_escape", test_name_escape},
	{"budget", test_budget},
};

UNIT_MAIN("wasm", tests)
