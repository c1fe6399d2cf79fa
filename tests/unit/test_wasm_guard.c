/*
 * Unit tests for guard regions (wasm/memory.c, wasm/jit/runtime.c): translated code makes
 * memory32 accesses without bounds checks, and a fault in the guard region becomes the
 * trap the interpreter gives, with the same code and location. Every access below runs
 * interpreted and translated (every function translated at once) and must agree: at the
 * edges of memory (the last byte, an access straddling the end, index 0xffffffff, offsets
 * near 2^31 and near 2^32, which translated code still checks explicitly), through
 * indexed and fused loads, a folded address add that wraps (exact, not a trap), atomics,
 * after memory.grow, on a thread of its own with a shared memory; the guard_traps counter
 * shows the faults were the guard's. A fault that is not translated code's stays a crash
 * (or goes to the handler that was there before), and where the 8 GiB reservation fails
 * (RLIMIT_AS) accesses are checked explicitly, with the same traps. Last, a translated
 * tail call into another instance: its caller's caller reads its own memory after.
 */
#include "wasm/text/text.h"
#include "wasm/wasm.h"

#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define FUNCS                                                                                      \
	"(func (export \"ld8\") (param i32) (result i32) (i32.load8_u (local.get 0)))\n"           \
	"(func (export \"ld32\") (param i32) (result i32) (i32.load (local.get 0)))\n"             \
	"(func (export \"ld64\") (param i32) (result i32)\n"                                       \
	"  (i32.wrap_i64 (i64.load offset=8 (local.get 0))))\n"                                    \
	"(func (export \"ldv\") (param i32) (result i32)\n"                                        \
	"  (i32x4.extract_lane 3 (v128.load (local.get 0))))\n"                                    \
	"(func (export \"ld_big\") (param i32) (result i32)\n"                                     \
	"  (i32.load offset=0x7ffffff0 (local.get 0)))\n"                                          \
	"(func (export \"ld_huge\") (param i32) (result i32)\n"                                    \
	"  (i32.load offset=0xfffffff0 (local.get 0)))\n"                                          \
	"(func (export \"ld_fold\") (param i32) (result i32)\n"                                    \
	"  (i32.load offset=4 (i32.add (local.get 0) (i32.const 0x100))))\n"                       \
	"(func (export \"ld_idx\") (param i32 i32) (result i32)\n"                                 \
	"  (i32.load (i32.add (local.get 0) (i32.shl (local.get 1) (i32.const 2)))))\n"            \
	"(func (export \"fused\") (param i32 i32) (result i32)\n"                                  \
	"  (i32.add (local.get 1) (i32.load (local.get 0))))\n"                                    \
	"(func (export \"st32\") (param i32 i32) (result i32)\n"                                   \
	"  (i32.store (local.get 0) (local.get 1)) (i32.const 7))\n"                               \
	"(func (export \"st16\") (param i32 i32) (result i32)\n"                                   \
	"  (i32.store16 offset=1 (local.get 0) (local.get 1)) (i32.const 7))\n"                    \
	"(func (export \"amo\") (param i32 i32) (result i32)\n"                                    \
	"  (i32.atomic.rmw.add (local.get 0) (local.get 1)))\n"                                    \
	"(func (export \"amo_or\") (param i32 i32) (result i32)\n"                                 \
	"  (i32.atomic.rmw.or (local.get 0) (local.get 1)))\n"                                     \
	"(func (export \"grow\") (param i32) (result i32) (memory.grow (local.get 0)))\n"

static const char plain_wat[] = "(module (memory (export \"mem\") 1 4)\n" FUNCS ")";
static const char shared_wat[] = "(module (memory (export \"mem\") 1 4 shared)\n" FUNCS ")";

struct box {
	struct wasm_module *m;
	struct wasm_store *s;
	struct wasm_instance *inst;
};

static int resolve(void *ctx, const char *module_name, const char *name, enum wasm_extern_kind kind,
		   struct wasm_extern *out)
{
	(void)ctx, (void)module_name, (void)name, (void)kind, (void)out;
	return -ENOENT;
}

static int box_open(struct box *b, const char *wat, uint32_t jit)
{
	struct wasm_text_binary bin = {0};
	struct wasm_text_error terr;
	struct wasm_error err;
	int rc;

	memset(b, 0, sizeof(*b));
	rc = wasm_text_to_binary(wat, strlen(wat), &bin, &terr);
	if (!rc)
		rc = wasm_module_load(bin.bytes, bin.len, &b->m, &err);
	wasm_text_binary_fini(&bin);
	if (!rc)
		rc = wasm_store_create(NULL, &b->s);
	if (!rc) {
		wasm_store_set_jit(b->s, jit);
		rc = wasm_instance_create(b->s, b->m, resolve, NULL, &b->inst, &err);
	}
	return rc;
}

static void box_close(struct box *b)
{
	wasm_store_destroy(b->s);
	wasm_module_destroy(b->m);
}

struct outcome {
	enum wasm_trap trap;
	int64_t func, offset;
	uint32_t value;
};

static struct outcome run(struct box *b, const char *name, uint32_t x, uint32_t y)
{
	struct wasm_extern ext;
	struct wasm_trap_info info;
	union wasm_value args[2], res[1];
	struct outcome o = {.trap = WASM_TRAP_HOST, .func = -2, .offset = -2};

	memset(args, 0, sizeof(args));
	memset(res, 0, sizeof(res));
	args[0].i32 = x;
	args[1].i32 = y;
	if (wasm_instance_export(b->inst, name, &ext) || ext.kind != WASM_EXTERN_FUNC)
		return o;
	o.trap = wasm_call(b->s, ext.u.func, args, res, &info);
	if (o.trap) {
		o.func = info.func;
		o.offset = info.offset;
	} else {
		o.func = o.offset = -1;
		o.value = res[0].i32;
	}
	return o;
}

static uint64_t guard_traps(struct box *b)
{
	struct wasm_jit_stats st;

	wasm_store_jit_stats(b->s, &st);
	return st.guard_traps;
}

/* The calls every test makes, with the trap each must give (0: none). */
static const struct access {
	const char *name;
	uint32_t x, y;
	enum wasm_trap want;
	bool checked; /* translated code checks it explicitly even with a guard region */
} accesses[] = {
	{"st32", 4, 0x11223344, 0, false},
	{"st32", 65532, 0x55667788, 0, false},
	{"ld8", 0, 0, 0, false},
	{"ld8", 65535, 0, 0, false},
	{"ld8", 65536, 0, WASM_TRAP_MEM_OOB, false},
	{"ld8", 0xffffffff, 0, WASM_TRAP_MEM_OOB, false},
	{"ld32", 65532, 0, 0, false},
	{"ld32", 65533, 0, WASM_TRAP_MEM_OOB, false}, /* straddles the end */
	{"ld32", 0x80000000, 0, WASM_TRAP_MEM_OOB, false},
	{"ld32", 0xfffffffc, 0, WASM_TRAP_MEM_OOB, false},
	{"ld32", 0xffffffff, 0, WASM_TRAP_MEM_OOB, false},
	{"ld64", 65520, 0, 0, false},
	{"ld64", 65521, 0, WASM_TRAP_MEM_OOB, false},
	{"ld64", 0xfffffff8, 0, WASM_TRAP_MEM_OOB, false}, /* + offset 8 is 2^32 */
	{"ldv", 65520, 0, 0, false},
	{"ldv", 65528, 0, WASM_TRAP_MEM_OOB, false},
	{"ldv", 0xffffffff, 0, WASM_TRAP_MEM_OOB, false},
	{"ld_big", 0, 0, WASM_TRAP_MEM_OOB, false},
	{"ld_big", 0xffffffff, 0, WASM_TRAP_MEM_OOB, false},
	{"ld_huge", 0, 0, WASM_TRAP_MEM_OOB, true}, /* no 32-bit displacement */
	{"ld_huge", 0xffffffff, 0, WASM_TRAP_MEM_OOB, true},
	{"ld_fold", 0, 0, 0, false},
	{"ld_fold", 0xffffff00, 0, 0, false},		     /* x + 0x100 wraps to 0: loads at 4 */
	/* a fold that may wrap takes the wrapped sum first, then faults like any other */
	{"ld_fold", 0xfffffeff, 0, WASM_TRAP_MEM_OOB, false},
	{"ld_fold", 65532 - 0x104, 0, 0, false},
	{"ld_fold", 65533 - 0x104, 0, WASM_TRAP_MEM_OOB, false},
	{"ld_idx", 65528, 1, 0, false},
	{"ld_idx", 65528, 2, WASM_TRAP_MEM_OOB, false},
	{"ld_idx", 0xffffffff, 0x40000000, WASM_TRAP_MEM_OOB, false},
	{"ld_idx", 4, 0x40000000, 0, false}, /* the index wraps: 4 + 2^32 is 4 */
	{"fused", 65532, 5, 0, false},
	{"fused", 65534, 5, WASM_TRAP_MEM_OOB, false},
	{"fused", 0xffffffff, 5, WASM_TRAP_MEM_OOB, false},
	{"st32", 65533, 1, WASM_TRAP_MEM_OOB, false},
	{"st32", 0xffffffff, 1, WASM_TRAP_MEM_OOB, false},
	{"st16", 65534, 0xabcd, WASM_TRAP_MEM_OOB, false},
	{"st16", 65533, 0xabcd, 0, false},
	{"ld32", 65532, 0, 0, false}, /* the straddling stores wrote nothing */
	{"amo", 8, 3, 0, false},
	{"amo", 65532, 1, 0, false},
	{"amo", 65536, 1, WASM_TRAP_MEM_OOB, false},
	{"amo", 0xfffffffc, 1, WASM_TRAP_MEM_OOB, false},
	{"amo", 65534, 1, WASM_TRAP_UNALIGNED_ATOMIC, false},
	{"amo_or", 65536, 1, WASM_TRAP_MEM_OOB, false},
	{"amo_or", 12, 0x30, 0, false},
	/* after growing by a page the next page is memory, the one after is not */
	{"grow", 1, 0, 0, false},
	{"st32", 65536, 0x99, 0, false},
	{"ld32", 65536, 0, 0, false},
	{"ld32", 131068, 0, 0, false},
	{"ld32", 131069, 0, WASM_TRAP_MEM_OOB, false},
	{"ld8", 131072, 0, WASM_TRAP_MEM_OOB, false},
	{"fused", 131070, 0, WASM_TRAP_MEM_OOB, false},
};

/* Runs every access in a (interpreted) and b (translated); both must give the listed
 * traps at the same places and the same values. *ntraps: the out-of-bounds traps a
 * guard region raises. */
static int compare(struct box *a, struct box *b, int *ntraps)
{
	*ntraps = 0;
	for (size_t i = 0; i < sizeof(accesses) / sizeof(accesses[0]); i++) {
		const struct access *c = &accesses[i];
		struct outcome x = run(a, c->name, c->x, c->y), y = run(b, c->name, c->x, c->y);

		if (x.trap != c->want || y.trap != c->want || x.func != y.func ||
		    x.offset != y.offset || x.value != y.value) {
			snprintf(
				unit_why, sizeof(unit_why),
				"%s(0x%x, 0x%x): interpreted trap %d func %lld at %lld value 0x%x, "
				"translated trap %d func %lld at %lld value 0x%x, want trap %d",
				c->name, c->x, c->y, x.trap, (long long)x.func, (long long)x.offset,
				x.value, y.trap, (long long)y.func, (long long)y.offset, y.value,
				c->want);
			return 1;
		}
		*ntraps += c->want == WASM_TRAP_MEM_OOB && !c->checked;
	}
	return 0;
}

static int check_both(const char *wat, bool want_guard)
{
	struct box a, b;
	int ntraps = 0, rc;

	CHECK_EQ(box_open(&a, wat, WASM_JIT_OFF), 0);
	CHECK_EQ(box_open(&b, wat, WASM_JIT_EAGER), 0);
	rc = compare(&a, &b, &ntraps);
	if (rc == 0) {
		/* the interpreter never faults; translated code faulted for exactly the traps
		 * it did not check (with a guard region) */
		if (guard_traps(&a) != 0 ||
		    guard_traps(&b) != (want_guard ? (uint64_t)ntraps : 0)) {
			snprintf(unit_why, sizeof(unit_why),
				 "guard traps: interpreted %llu, translated %llu of %d",
				 (unsigned long long)guard_traps(&a),
				 (unsigned long long)guard_traps(&b), ntraps);
			rc = 1;
		}
	}
	box_close(&a);
	box_close(&b);
	return rc;
}

static int test_edges(void)
{
	return check_both(plain_wat, true);
}

static int test_shared(void)
{
	return check_both(shared_wat, true);
}

static void *thread_main(void *arg)
{
	return (void *)(intptr_t)check_both(arg, true);
}

/* The same on threads of their own, two at once: each thread's faults are its own. */
static int test_threads(void)
{
	pthread_t th[2];
	void *r[2];

	for (int i = 0; i < 2; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, thread_main, (void *)shared_wat), 0);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(pthread_join(th[i], &r[i]), 0);
		CHECK_EQ((intptr_t)r[i], 0);
	}
	return 0;
}

/* In a child: translated code has faulted (the handler is installed), then a fault in
 * C code. */
static void fault_after_jit(void)
{
	struct box b;
	struct rlimit no_core = {0, 0};

	setrlimit(RLIMIT_CORE, &no_core);
	if (box_open(&b, plain_wat, WASM_JIT_EAGER) ||
	    run(&b, "ld32", 0xffffffff, 0).trap != WASM_TRAP_MEM_OOB || guard_traps(&b) != 1)
		_exit(3);
	*(volatile int *)(uintptr_t)rand() = 1; /* rand() is 0 or small: never mapped */
	_exit(4);
}

static void on_segv(int sig, siginfo_t *info, void *uctx)
{
	(void)sig, (void)info, (void)uctx;
	_exit(42);
}

static int test_other_faults(void)
{
	struct sigaction sa;
	int status;
	pid_t pid;

	/* no handler before ours (a sanitizer's is taken away): the default action */
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		srand(1);
		rand();
		fault_after_jit();
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFSIGNALED(status));
	CHECK_EQ(WTERMSIG(status), SIGSEGV);

	/* a handler before ours: it gets the fault */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_segv;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGSEGV, &sa, NULL);
		fault_after_jit();
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 42);
	return 0;
}

/* This process's address space in bytes (VmSize), or 0. */
static uint64_t vm_size(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}

/* RLIMIT_AS leaves no room for 8 GiB: memories are checked explicitly, same traps. */
static int test_no_room(void)
{
	int status;
	pid_t pid;
	uint64_t now = vm_size();

	CHECK(now > 0);
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {now + (3ull << 30), now + (3ull << 30)};
		if (setrlimit(RLIMIT_AS, &rl))
			_exit(2);
		if (check_both(plain_wat, false)) {
			fprintf(stderr, "no_room: %s\n", unit_why);
			_exit(1);
		}
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	return 0;
}

static const char callee_wat[] =
	"(module (memory (export \"mem\") 1) (data (i32.const 0) \"\\2a\")\n"
	"  (func (export \"peek\") (param i32) (result i32) (i32.load (local.get 0))))";
static const char caller_wat[] =
	"(module (import \"b\" \"peek\" (func $peek (param i32) (result i32)))\n"
	"  (memory 1) (data (i32.const 0) \"\\07\")\n"
	"  (func $hop (param i32) (result i32) (return_call $peek (local.get 0)))\n"
	"  (func (export \"run\") (param i32) (result i32)\n"
	"    (i32.add (call $hop (local.get 0)) (i32.load (i32.const 0)))))";

static int resolve_peek(void *ctx, const char *module_name, const char *name,
			enum wasm_extern_kind kind, struct wasm_extern *out)
{
	struct wasm_instance *b = ctx;

	if (strcmp(module_name, "b") || kind != WASM_EXTERN_FUNC)
		return -ENOENT;
	return wasm_instance_export(b, name, out);
}

/* run() = peek(0) in the other instance's memory (42) + its own memory's word (7). */
static int cross_tail(uint32_t jit, uint32_t *out)
{
	struct box b;
	struct wasm_module *m = NULL;
	struct wasm_instance *inst = NULL;
	struct wasm_text_binary bin = {0};
	struct wasm_text_error terr;
	struct wasm_error err;
	struct wasm_extern ext;
	union wasm_value args[1] = {{.i32 = 0}}, res[1];
	int rc;

	if (box_open(&b, callee_wat, jit))
		return -1;
	rc = wasm_text_to_binary(caller_wat, strlen(caller_wat), &bin, &terr);
	if (!rc)
		rc = wasm_module_load(bin.bytes, bin.len, &m, &err);
	wasm_text_binary_fini(&bin);
	if (!rc)
		rc = wasm_instance_create(b.s, m, resolve_peek, b.inst, &inst, &err);
	if (!rc)
		rc = wasm_instance_export(inst, "run", &ext);
	if (!rc)
		rc = wasm_call(b.s, ext.u.func, args, res, NULL) == WASM_TRAP_NONE ? 0 : -1;
	if (!rc)
		*out = res[0].i32;
	box_close(&b);
	wasm_module_destroy(m);
	return rc;
}

static int test_tail_cross_instance(void)
{
	uint32_t interp = 0, jit = 0;

	CHECK_EQ(cross_tail(WASM_JIT_OFF, &interp), 0);
	CHECK_EQ(cross_tail(WASM_JIT_EAGER, &jit), 0);
	CHECK_EQ(interp, 49);
	CHECK_EQ(jit, 49);
	return 0;
}

static const struct unit_test tests[] = {
	{"edges", test_edges},	   {"shared", test_shared},
	{"threads", test_threads}, {"other_faults", test_other_faults},
	{"no_room", test_no_room}, {"tail_cross_instance", test_tail_cross_instance},
};

UNIT_MAIN("wasm_guard", tests)
