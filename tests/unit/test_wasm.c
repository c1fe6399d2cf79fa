/*
 * Unit tests for the wasm engine through its public API (wasm/wasm.h): load, instantiate
 * with a host function, calls, traps, fuel, memory access helpers, every truncation of a
 * valid module rejected cleanly, single-byte corruptions rejected with the right error
 * kind or run to a result or trap under fuel, allocation failure injected at every step
 * of load and instantiation (must fail with -ENOMEM or succeed, never crash or leak),
 * escaping of module-provided names, the store's memory budget, and the JIT tier through
 * the embedding API (several stores and instances, host calls from translated code, no
 * writable and executable mapping while translated code runs, its statistics, and
 * translated code running without /proc as in the daemon's sandboxes), and lazy
 * compilation (functions never called are never compiled, allocation failure at a first
 * call traps and the next call compiles, many threads making the first calls of one
 * module's functions at once), and a blocked host function giving up for a pause or an
 * interrupt (WASM_TRAP_AGAIN).
 */
#include "wasm/wasm.h"

#include "core/alloc.h"
#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Whether any mapping of the process is both writable and executable. */
static bool any_wx(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	bool wx = false;

	if (!f)
		return true;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char p[5];
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3 && p[1] == 'w' && p[2] == 'x')
			wx = true;
	}
	fclose(f);
	return wx;
}

/* A host function that checks W^X while translated code calls it. */
static enum wasm_trap host_check_wx(struct wasm_host_call *call, uint64_t *slots)
{
	int *bad = call->user;

	if (any_wx())
		(*bad)++;
	slots[0] = (uint32_t)slots[0] * 2u;
	return WASM_TRAP_NONE;
}

/* Two stores, two instances of one module in the first, everything translated at once:
 * each instance keeps its own memory and globals, host calls from translated code work,
 * fuel and interrupts stop translated loops, and no page is writable and executable. */
static int test_jit(void)
{
	static const uint8_t I32[] = {WASM_I32};
	struct wasm_functype t = {1, 1, I32, I32};
	struct wasm_module *m;
	struct wasm_store *s[2];
	struct wasm_instance *inst[3];
	struct wasm_error err;
	struct env e;
	uint32_t r = 0;
	int bad = 0;

	CHECK_EQ(wasm_module_load(module, sizeof(module), &m, &err), 0);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(wasm_store_create(NULL, &s[i]), 0);
		wasm_store_set_jit(s[i], WASM_JIT_EAGER);
		CHECK_EQ(wasm_func_create_host(s[i], &t, host_check_wx, &bad, &e.h), 0);
		CHECK_EQ(wasm_instance_create(s[i], m, resolve, &e, &inst[i], &err), 0);
	}
	CHECK_EQ(wasm_instance_create(s[0], m, resolve, &e, &inst[2], &err), 0);
	for (int i = 0; i < 3; i++) {
		struct wasm_store *st = s[i == 1];
		CHECK_EQ(call(st, inst[i], "add", 40, (uint32_t)i, &r), WASM_TRAP_NONE);
		CHECK_EQ(r, 40u + (uint32_t)i);
		CHECK_EQ(call(st, inst[i], "store", 8, 100u + (uint32_t)i, NULL), WASM_TRAP_NONE);
		CHECK_EQ(call(st, inst[i], "callh", 7, 0, &r), WASM_TRAP_NONE);
		CHECK_EQ(r, 70);
	}
	for (int i = 0; i < 3; i++) {
		uint32_t *p = wasm_memory_range(wasm_instance_memory(inst[i]), 8, 4);
		CHECK(p != NULL);
		CHECK_EQ(*p, 100u + (uint32_t)i);
	}
	CHECK_EQ(bad, 0);
	CHECK(!any_wx());
	wasm_store_set_fuel(s[1], 5000);
	CHECK_EQ(call(s[1], inst[1], "spin", 0, 0, NULL), WASM_TRAP_FUEL);
	CHECK_EQ(wasm_store_fuel(s[1]), 0);
	wasm_store_set_fuel(s[1], 0);
	wasm_store_interrupt(s[1]);
	CHECK_EQ(call(s[1], inst[1], "spin", 0, 0, NULL), WASM_TRAP_INTERRUPTED);
	wasm_store_destroy(s[0]);
	wasm_store_destroy(s[1]);
	wasm_module_destroy(m);
	return 0;
}

/* The store's code buffers mapped in this process (memfd "lodge-wasm-jit"), and whether
 * each is read-execute and shared. */
static int jit_buffers(bool *all_rx)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	*all_rx = true;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char p[5];
		if (strstr(line, "memfd:lodge-wasm-jit") &&
		    sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3) {
			n++;
			*all_rx = *all_rx && !strcmp(p, "r-xs");
		}
	}
	fclose(f);
	return n;
}

/* A store with the JIT on makes its code buffer's memfd at the first translation, not at
 * its creation: a program that translates nothing (hello) maps and writes no code. */
static int test_jit_buffer_lazy(void)
{
	struct wasm_jit_stats st;
	struct wasm_module *m;
	struct wasm_store *s;
	struct wasm_instance *inst;
	uint32_t r = 0;
	int calls = 0;
	bool rx;

	CHECK_EQ(jit_buffers(&rx), 0);
	CHECK_EQ(setup(NULL, &calls, &m, &s, &inst), 0);
	wasm_store_set_jit(s, 1000000); /* on, but nothing gets hot */
	CHECK_EQ(call(s, inst, "add", 1, 2, &r), WASM_TRAP_NONE);
	CHECK_EQ(r, 3);
	wasm_store_jit_stats(s, &st);
	CHECK_EQ(st.translated, 0);
	CHECK_EQ(st.code_bytes, 0);
	CHECK_EQ(jit_buffers(&rx), 0);
	wasm_store_set_jit(s, 1);
	CHECK_EQ(call(s, inst, "add", 20, 22, &r), WASM_TRAP_NONE);
	CHECK_EQ(r, 42);
	wasm_store_jit_stats(s, &st);
	CHECK_EQ(st.translated, 1);
	CHECK_EQ(st.entries, 1);
	CHECK(st.code_bytes > 0);
	CHECK_EQ(jit_buffers(&rx), 1);
	CHECK(rx);
	CHECK(!any_wx());
	teardown(m, s);
	CHECK_EQ(jit_buffers(&rx), 0);
	return 0;
}

/* In a child with /proc hidden (as in lodge daemon's sandboxes): translated code still
 * runs on the main thread, whose stack glibc finds only through /proc/self/maps. Exit
 * status 0: entered, 1: not, 2: no mount namespace to try in (not root). */
static int jit_without_proc(void)
{
	struct wasm_module *m;
	struct wasm_store *s;
	struct wasm_instance *inst;
	struct wasm_jit_stats st;
	uint32_t r = 0;
	int calls = 0;

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("none", "/proc", "tmpfs", 0, NULL))
		return errno == EPERM ? 2 : 1;
	if (access("/proc/self/maps", F_OK) == 0)
		return 1;
	if (setup(NULL, &calls, &m, &s, &inst))
		return 1;
	wasm_store_set_jit(s, 1);
	if (call(s, inst, "add", 2, 3, &r) != WASM_TRAP_NONE || r != 5)
		return 1;
	wasm_store_jit_stats(s, &st);
	teardown(m, s);
	return st.translated >= 1 && st.entries >= 1 ? 0 : 1;
}

static int test_jit_no_proc(void)
{
	struct wasm_jit_stats st;
	struct wasm_module *m;
	struct wasm_store *s;
	struct wasm_instance *inst;
	uint32_t r = 0;
	int calls = 0, status;
	pid_t pid;

	/* the counters themselves: nothing while off, then one translation and entry */
	CHECK_EQ(setup(NULL, &calls, &m, &s, &inst), 0);
	wasm_store_set_jit(s, WASM_JIT_OFF);
	CHECK_EQ(call(s, inst, "add", 1, 2, &r), WASM_TRAP_NONE);
	wasm_store_jit_stats(s, &st);
	CHECK_EQ(st.translated + st.entries, 0);
	wasm_store_set_jit(s, 1);
	CHECK_EQ(call(s, inst, "add", 1, 2, &r), WASM_TRAP_NONE);
	wasm_store_jit_stats(s, &st);
	CHECK_EQ(st.translated, 1);
	CHECK_EQ(st.entries, 1);
	CHECK(st.code_bytes > 0);
	teardown(m, s);

	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(jit_without_proc());
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	if (WEXITSTATUS(status) == 2) {
		printf("# jit_no_proc: not root, the /proc-less part was not run\n");
		return 0;
	}
	CHECK_EQ(WEXITSTATUS(status), 0);
	return 0;
}

static int test_lazy(void)
{
	struct wasm_module *m;
	struct wasm_store *s;
	struct wasm_instance *inst;
	uint32_t r = 0, compiled, defined;
	int calls = 0;

	CHECK_EQ(setup(NULL, &calls, &m, &s, &inst), 0);
	wasm_module_compiled(m, &compiled, &defined);
	CHECK_EQ(compiled, 0);
	CHECK_EQ(defined, 4);
	CHECK_EQ(call(s, inst, "add", 40, 2, &r), WASM_TRAP_NONE);
	CHECK_EQ(r, 42);
	/* callh's first call finds no memory to compile it (add took the scratch code
	 * array along): a trap at the call, nothing half done */
	core_alloc_fail_after(1);
	enum wasm_trap t = call(s, inst, "callh", 7, 0, &r);
	core_alloc_fail_after(0);
	CHECK_EQ(t, WASM_TRAP_NOMEM);
	wasm_module_compiled(m, &compiled, &defined);
	CHECK_EQ(compiled, 1);
	CHECK_EQ(call(s, inst, "callh", 7, 0, &r), WASM_TRAP_NONE);
	CHECK_EQ(r, 70);
	wasm_module_compiled(m, &compiled, &defined);
	CHECK_EQ(compiled, 2); /* add and callh; spin and store never ran */
	teardown(m, s);
	/* eagerly: all four at load */
	{
		struct wasm_error err;
		CHECK_EQ(wasm_module_load_eager(module, sizeof(module), &m, &err), 0);
		wasm_module_compiled(m, &compiled, &defined);
		CHECK_EQ(compiled, 4);
		wasm_module_destroy(m);
	}
	return 0;
}

struct lazy_thread {
	struct wasm_module *m;
	pthread_barrier_t *go;
	int jit; /* 0, or a WASM_JIT_* hotness */
	int fails;
};

static void *lazy_thread_main(void *arg)
{
	static const uint8_t I32[] = {WASM_I32};
	struct wasm_functype t = {1, 1, I32, I32};
	struct lazy_thread *lt = arg;
	struct wasm_store *s;
	struct wasm_instance *inst;
	struct wasm_error err;
	struct env e;
	uint32_t r = 0;
	int calls = 0;

	if (wasm_store_create(NULL, &s)) {
		lt->fails++;
		pthread_barrier_wait(lt->go);
		return NULL;
	}
	if (lt->jit)
		wasm_store_set_jit(s, (uint32_t)lt->jit);
	if (wasm_func_create_host(s, &t, host_double, &calls, &e.h) ||
	    wasm_instance_create(s, lt->m, resolve, &e, &inst, &err))
		lt->fails++;
	pthread_barrier_wait(lt->go);
	for (uint32_t i = 0; i < 50 && !lt->fails; i++) {
		if (call(s, inst, "add", 40, i, &r) != WASM_TRAP_NONE || r != 40 + i)
			lt->fails++;
		if (call(s, inst, "callh", i, 0, &r) != WASM_TRAP_NONE || r != i * 10)
			lt->fails++;
	}
	wasm_store_destroy(s);
	return NULL;
}

/* Threads, each with its store and instance of one module, make the first calls of its
 * functions at the same moment: each function is compiled once, and every call sees it
 * whole (run under TSan by make MODE=tsan unit). */
static int test_lazy_threads(void)
{
	enum { NT = 4, ROUNDS = 20 };

	for (int round = 0; round < ROUNDS; round++) {
		pthread_t th[NT];
		struct lazy_thread lt[NT];
		pthread_barrier_t go;
		struct wasm_error err;
		struct wasm_module *m;
		uint32_t compiled, defined;

		CHECK_EQ(wasm_module_load(module, sizeof(module), &m, &err), 0);
		CHECK_EQ(pthread_barrier_init(&go, NULL, NT), 0);
		for (int i = 0; i < NT; i++) {
			lt[i] = (struct lazy_thread){m, &go, round % 2 ? 1 : 0, 0};
			CHECK_EQ(pthread_create(&th[i], NULL, lazy_thread_main, &lt[i]), 0);
		}
		for (int i = 0; i < NT; i++) {
			pthread_join(th[i], NULL);
			CHECK_EQ(lt[i].fails, 0);
		}
		pthread_barrier_destroy(&go);
		wasm_module_compiled(m, &compiled, &defined);
		CHECK_EQ(compiled, 2);
		wasm_module_destroy(m);
	}
	return 0;
}

/* A host function that blocks until a pause or an interrupt is asked for (its wake fd,
 * 20 s at most), then gives up (WASM_TRAP_AGAIN); made again with nothing pending, it
 * doubles its argument. */
struct held_host {
	atomic_int attempts, waiting;
};

static enum wasm_trap host_until_held(struct wasm_host_call *call, uint64_t *slots)
{
	struct held_host *hh = call->user;
	int fd = wasm_host_call_wake_fd(call);
	struct pollfd p = {fd, POLLIN, 0};

	atomic_fetch_add(&hh->attempts, 1);
	if (fd < 0)
		return WASM_TRAP_HOST;
	if (!wasm_host_call_held(call)) {
		if (atomic_load(&hh->attempts) > 1)
			goto done; /* made again after the resume */
		atomic_store(&hh->waiting, 1);
		if (poll(&p, 1, 20000) != 1)
			return WASM_TRAP_HOST;
	}
	if (wasm_host_call_held(call))
		return WASM_TRAP_AGAIN; /* slots untouched */
done:
	slots[0] = (uint32_t)slots[0] * 2u;
	return WASM_TRAP_NONE;
}

struct held_run {
	struct wasm_store *s;
	struct wasm_instance *inst;
	enum wasm_trap trap;
	uint32_t result;
};

static void *held_run_main(void *opaque)
{
	struct held_run *r = opaque;

	r->trap = call(r->s, r->inst, "callh", 21, 0, &r->result);
	return NULL;
}

/* Waits up to 20 s for *flag (or the store parked) to become true. */
static bool held_wait(atomic_int *flag, struct wasm_store *s)
{
	for (int i = 0; i < 20000; i++) {
		if (flag ? atomic_load(flag) != 0 : wasm_store_parked(s))
			return true;
		usleep(1000);
	}
	return false;
}

/* A host call blocked in its host function does not hold a pause or an interrupt back:
 * woken through its wake fd it gives up (WASM_TRAP_AGAIN); paused, the code parks, and
 * after the resume the call is made again with its arguments as they were (callh: h(21)
 * times the global 5 = 210); interrupted, the run ends with WASM_TRAP_INTERRUPTED.
 * Interpreted and translated. */
static int test_host_again(void)
{
	static const uint8_t I32[] = {WASM_I32};
	struct wasm_functype t = {1, 1, I32, I32};

	for (int jit = 0; jit < 2; jit++) {
		for (int stop = 0; stop < 2; stop++) {
			struct held_host hh = {0, 0};
			struct held_run r = {0};
			struct wasm_module *m;
			struct wasm_error err;
			struct env e;
			pthread_t th;

			CHECK_EQ(wasm_module_load(module, sizeof(module), &m, &err), 0);
			CHECK_EQ(wasm_store_create(NULL, &r.s), 0);
			if (jit)
				wasm_store_set_jit(r.s, WASM_JIT_EAGER);
			CHECK_EQ(wasm_func_create_host(r.s, &t, host_until_held, &hh, &e.h), 0);
			CHECK_EQ(wasm_instance_create(r.s, m, resolve, &e, &r.inst, &err), 0);
			CHECK_EQ(pthread_create(&th, NULL, held_run_main, &r), 0);
			CHECK(held_wait(&hh.waiting, NULL));
			if (stop) {
				wasm_store_interrupt(r.s);
			} else {
				wasm_store_pause(r.s);
				CHECK(held_wait(NULL, r.s));
				CHECK_EQ(atomic_load(&hh.attempts), 1); /* given up, parked */
				wasm_store_resume(r.s);
			}
			pthread_join(th, NULL);
			if (stop) {
				CHECK_EQ(r.trap, WASM_TRAP_INTERRUPTED);
				CHECK_EQ(atomic_load(&hh.attempts), 1);
			} else {
				CHECK_EQ(r.trap, WASM_TRAP_NONE);
				CHECK_EQ(r.result, 210);
				CHECK_EQ(atomic_load(&hh.attempts), 2);
			}
			teardown(m, r.s);
		}
	}
	return 0;
}

static const struct unit_test tests[] = {
	{"lazy", test_lazy},
	{"lazy_threads", test_lazy_threads},
	{"jit", test_jit},
	{"jit_no_proc", test_jit_no_proc},
	{"jit_buffer_lazy", test_jit_buffer_lazy},
	{"call", test_call},
	{"memory", test_memory},
	{"fuel", test_fuel},
	{"truncated", test_truncated},
	{"bit_flips", test_bit_flips},
	{"alloc_failure", test_alloc_failure},
	{"name_escape", test_name_escape},
	{"budget", test_budget},
	{"host_again", test_host_again},
};

UNIT_MAIN("wasm", tests)
