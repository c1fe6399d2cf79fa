/*
 * WebAssembly spec-test runner: reads one .wast script with Lodge's own text front end
 * (wasm/text/script.h: text, binary and quoted modules, actions, assertions) and runs it
 * against the engine through its public API (wasm/wasm.h), with the "spectest" host
 * module. Prints "RESULT name passed=N failed=N skipped=N known=N" on stdout; with -v, one
 * line per failed command (line number and reason). Exit status: 0 if nothing failed.
 * 3.0 scripts' (module definition ...) only loads a module; (module instance $I? $M?)
 * instantiates it.
 *
 * Checks are strict: a quoted or text module under assert_malformed must be rejected by
 * the text parser (a text error), a binary one by the decoder (WASM_ERR_MALFORMED); an
 * assert_invalid module must parse and fail to validate (WASM_ERR_INVALID); and so on,
 * each with the expected text as a prefix of Lodge's message (of the error detail, or of
 * the trap message). -k FILE names the known differences
 * (tests/wasm-spec/known-differences.txt): commands where Lodge reports something else for
 * a reason given there. Such a command counts as known only while Lodge reports exactly
 * what the entry says; an entry that no longer applies, or names no command of the file,
 * is a failure.
 * -j runs with the JIT tier forced (every function translated at its first call or loop,
 * wasm_store_set_jit(s, 1)), -n with the interpreter only; the default is the engine's.
 */
#include "wasm/text/script.h"
#include "wasm/wasm.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VALUES 64
#define MAX_NAMED  256
#define MAX_KNOWN  64

struct named {
	const char *name;
	struct wasm_instance *inst;
};

/* One line of the known-differences file that concerns this .wast. */
struct known {
	int line;
	char got[200]; /* what Lodge reports: a prefix of "KIND: message" */
	bool used;
};

struct runner {
	const char *file;
	bool verbose;
	struct wasm_store *store;
	struct wasm_module **mods;
	size_t nmods, capmods;
	struct wasm_instance *current;
	struct named names[MAX_NAMED]; /* "$name" of module commands */
	size_t nnames;
	struct named regs[MAX_NAMED]; /* register "as" names */
	size_t nregs;
	struct {
		const char *name; /* "$id" of a (module definition ...), or NULL */
		struct wasm_module *mod;
	} defs[MAX_NAMED];
	size_t ndefs;
	struct wasm_func *sp_print[8];
	const char *sp_print_names[8];
	struct wasm_global *sp_g[4];
	struct wasm_table *sp_table, *sp_table64;
	struct wasm_memory *sp_memory;
	struct wasm_memory *sp_shared_memory; /* threads proposal: (memory 1 2 shared) */
	int line;
	unsigned passed, failed, skipped, known;
	struct known knowns[MAX_KNOWN];
	size_t nknowns;
};

static void fail(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct runner *r, const char *fmt, ...)
{
	va_list ap;

	r->failed++;
	if (!r->verbose)
		return;
	printf("  %s:%d: ", r->file, r->line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* ----- spectest ----- */

static enum wasm_trap sp_print_fn(struct wasm_host_call *call, uint64_t *slots)
{
	(void)call;
	(void)slots;
	return WASM_TRAP_NONE;
}

static int spectest_init(struct runner *r)
{
	static const uint8_t I32[] = {WASM_I32}, I64[] = {WASM_I64}, F32[] = {WASM_F32},
			     F64[] = {WASM_F64}, I32F32[] = {WASM_I32, WASM_F32},
			     F64F64[] = {WASM_F64, WASM_F64};
	const struct {
		const char *name;
		uint32_t n;
		const uint8_t *p;
	} prints[] = {
		{"print", 0, NULL},	      {"print_i32", 1, I32}, {"print_i64", 1, I64},
		{"print_f32", 1, F32},	      {"print_f64", 1, F64}, {"print_i32_f32", 2, I32F32},
		{"print_f64_f64", 2, F64F64},
	};
	union wasm_value v;

	for (size_t i = 0; i < sizeof(prints) / sizeof(prints[0]); i++) {
		struct wasm_functype t = {prints[i].n, 0, prints[i].p, NULL};
		if (wasm_func_create_host(r->store, &t, sp_print_fn, NULL, &r->sp_print[i]))
			return -ENOMEM;
		r->sp_print_names[i] = prints[i].name;
	}
	memset(&v, 0, sizeof(v));
	v.i32 = 666;
	if (wasm_global_create(r->store, WASM_I32, false, v, &r->sp_g[0]))
		return -ENOMEM;
	v.i64 = 666;
	if (wasm_global_create(r->store, WASM_I64, false, v, &r->sp_g[1]))
		return -ENOMEM;
	v.i64 = 0;
	v.f32 = 666.6f;
	if (wasm_global_create(r->store, WASM_F32, false, v, &r->sp_g[2]))
		return -ENOMEM;
	v.f64 = 666.6;
	if (wasm_global_create(r->store, WASM_F64, false, v, &r->sp_g[3]))
		return -ENOMEM;
	if (wasm_table_create(r->store, WASM_FUNCREF, 10, 20, true, &r->sp_table) ||
	    wasm_table_create64(r->store, WASM_FUNCREF, 10, 20, true, &r->sp_table64))
		return -ENOMEM;
	if (wasm_memory_create(r->store, 1, 2, true, &r->sp_memory) ||
	    wasm_memory_create_shared(r->store, 1, 2, &r->sp_shared_memory))
		return -ENOMEM;
	return 0;
}

static int spectest_resolve(struct runner *r, const char *name, struct wasm_extern *out)
{
	static const char *const gnames[] = {"global_i32", "global_i64", "global_f32",
					     "global_f64"};

	for (size_t i = 0; i < 8 && r->sp_print_names[i]; i++) {
		if (!strcmp(name, r->sp_print_names[i])) {
			out->kind = WASM_EXTERN_FUNC;
			out->u.func = r->sp_print[i];
			return 0;
		}
	}
	for (size_t i = 0; i < 4; i++) {
		if (!strcmp(name, gnames[i])) {
			out->kind = WASM_EXTERN_GLOBAL;
			out->u.global = r->sp_g[i];
			return 0;
		}
	}
	if (!strcmp(name, "table") || !strcmp(name, "table64")) {
		out->kind = WASM_EXTERN_TABLE;
		out->u.table = name[5] ? r->sp_table64 : r->sp_table;
		return 0;
	}
	if (!strcmp(name, "memory") || !strcmp(name, "shared_memory")) {
		out->kind = WASM_EXTERN_MEMORY;
		out->u.memory = name[0] == 's' ? r->sp_shared_memory : r->sp_memory;
		return 0;
	}
	return -ENOENT;
}

static struct wasm_instance *find(struct named *tab, size_t n, const char *name)
{
	for (size_t i = n; i-- > 0;)
		if (!strcmp(tab[i].name, name))
			return tab[i].inst;
	return NULL;
}

static int resolve(void *ctx, const char *module, const char *name, enum wasm_extern_kind kind,
		   struct wasm_extern *out)
{
	struct runner *r = ctx;
	struct wasm_instance *inst;

	(void)kind;
	if (!strcmp(module, "spectest"))
		return spectest_resolve(r, name, out);
	inst = find(r->regs, r->nregs, module);
	if (!inst)
		return -ENOENT;
	return wasm_instance_export(inst, name, out);
}

/* ----- modules ----- */

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

/* Loads a command's module. Returns 0, or -1 with err filled: a text error is reported
 * as WASM_ERR_MALFORMED with section "text" and the line and column in the detail. */
static int load(struct runner *r, const struct wasm_script_module *sm, struct wasm_module **out,
		struct wasm_error *err)
{
	if (sm->text_failed) {
		memset(err, 0, sizeof(*err));
		err->kind = WASM_ERR_MALFORMED;
		err->section = "text";
		err->func = -1;
		err->offset = -1;
		snprintf(err->detail, sizeof(err->detail), "%s", sm->text_err.detail);
		return -1;
	}
	if (wasm_module_load(sm->bin.bytes, sm->bin.len, out, err))
		return -1;
	if (r->nmods == r->capmods) {
		size_t cap = r->capmods ? r->capmods * 2 : 16;
		struct wasm_module **m = realloc(r->mods, cap * sizeof(*m));
		if (!m) {
			wasm_module_destroy(*out);
			snprintf(err->detail, sizeof(err->detail), "out of memory");
			err->kind = WASM_ERR_NOMEM;
			return -1;
		}
		r->mods = m;
		r->capmods = cap;
	}
	r->mods[r->nmods++] = *out;
	return 0;
}

/* "malformed (text 3:14): unknown operator" or the engine's formatted error. */
static void describe(const struct wasm_script_module *sm, const struct wasm_error *err, char *buf,
		     size_t size)
{
	if (sm->text_failed)
		snprintf(buf, size, "text %u:%u: %s", sm->text_err.line, sm->text_err.col,
			 sm->text_err.detail);
	else
		wasm_error_format(err, buf, size);
}

/* Instantiates m as the current instance, named name (NULL: no name). */
static void instantiate(struct runner *r, struct wasm_module *m, const char *name)
{
	struct wasm_instance *inst;
	struct wasm_error err;
	char msg[320];

	if (wasm_instance_create(r->store, m, resolve, r, &inst, &err)) {
		wasm_error_format(&err, msg, sizeof(msg));
		fail(r, "module: %s", msg);
		r->current = NULL;
		return;
	}
	r->current = inst;
	if (name && r->nnames < MAX_NAMED)
		r->names[r->nnames++] = (struct named){name, inst};
	r->passed++;
}

/* (module instance $I? $M?): definition $M, or the last one. */
static void cmd_module_instance(struct runner *r, const struct wasm_script_cmd *c)
{
	for (size_t i = r->ndefs; i-- > 0;) {
		if (!c->def || (r->defs[i].name && !strcmp(r->defs[i].name, c->def))) {
			instantiate(r, r->defs[i].mod, c->module.name);
			return;
		}
	}
	fail(r, "module instance: no such module definition");
}

static void cmd_module(struct runner *r, const struct wasm_script_cmd *c)
{
	struct wasm_module *m;
	struct wasm_error err;
	char msg[320];

	if (load(r, &c->module, &m, &err)) {
		describe(&c->module, &err, msg, sizeof(msg));
		fail(r, "module: %s", msg);
		r->current = NULL;
		return;
	}
	if (!c->module.definition) {
		instantiate(r, m, c->module.name);
		return;
	}
	if (r->ndefs == MAX_NAMED) {
		fail(r, "module definition: too many");
		return;
	}
	r->defs[r->ndefs].name = c->module.name;
	r->defs[r->ndefs++].mod = m;
	r->passed++;
}

static void cmd_register(struct runner *r, const struct wasm_script_cmd *c)
{
	struct wasm_instance *inst = r->current;

	if (c->reg_module)
		inst = find(r->names, r->nnames, c->reg_module);
	if (!inst || r->nregs == MAX_NAMED) {
		fail(r, "register: no such module");
		return;
	}
	r->regs[r->nregs++] = (struct named){c->as, inst};
	r->passed++;
}

/* ----- values ----- */

/* An argument as the API takes it: externref n is n + 1 (0 is null); (ref.host n) is
 * the anyref of host value n + 1. */
static union wasm_value arg_value(struct wasm_store *s, const struct wasm_script_value *v)
{
	union wasm_value x = v->v;

	if (v->pattern == WASM_SCRIPT_REF_HOST) {
		if (wasm_anyref_from_host(s, v->v.ext + 1, &x.ext))
			x.ext = 0;
	} else if (v->type == WASM_EXTERNREF)
		x.ext = v->pattern == WASM_SCRIPT_REF_NULL ? 0 : v->v.ext + 1;
	else if (v->type == WASM_FUNCREF)
		x.func = NULL;
	return x;
}

static bool float_matches(uint8_t pattern, uint64_t want, uint64_t got, int bits)
{
	uint64_t exp_mask = bits == 32 ? 0x7f800000u : 0x7ff0000000000000ull;
	uint64_t quiet = bits == 32 ? 0x00400000u : 0x0008000000000000ull;
	uint64_t payload = bits == 32 ? 0x007fffffu : 0x000fffffffffffffull;

	if (pattern == WASM_SCRIPT_NAN_CANONICAL)
		return (got & exp_mask) == exp_mask && (got & payload) == quiet;
	if (pattern == WASM_SCRIPT_NAN_ARITHMETIC)
		return (got & exp_mask) == exp_mask && (got & quiet);
	return got == want;
}

static const char *pattern_name(uint8_t pattern)
{
	return pattern == WASM_SCRIPT_NAN_CANONICAL    ? "nan:canonical"
	       : pattern == WASM_SCRIPT_NAN_ARITHMETIC ? "nan:arithmetic"
						       : "value";
}

static bool v128_matches(const struct wasm_script_value *exp, const union wasm_value *got,
			 char *why, size_t n)
{
	int bits = exp->lane_bits, bytes = bits / 8;

	for (int i = 0; i < 128 / bits; i++) {
		uint64_t x = 0, w = 0;
		memcpy(&x, got->v128 + i * bytes, (size_t)bytes);
		memcpy(&w, exp->v.v128 + i * bytes, (size_t)bytes);
		if (exp->lane_float ? !float_matches(exp->lanes[i], w, x, bits) : x != w) {
			snprintf(why, n, "v128 lane %d: want %s 0x%" PRIx64 ", got 0x%" PRIx64, i,
				 pattern_name(exp->lanes[i]), w, x);
			return false;
		}
	}
	return true;
}

static bool value_matches(const struct wasm_script_value *exp, const union wasm_value *got,
			  char *why, size_t n)
{
	if (exp->pattern == WASM_SCRIPT_EITHER) { /* any one of them; the last one's why */
		for (size_t i = 0; i < exp->nalts; i++) {
			if (value_matches(&exp->alts[i], got, why, n))
				return true;
		}
		return false;
	}
	switch (exp->type) {
	case WASM_I32:
		snprintf(why, n, "i32: want %" PRIu32 " got %" PRIu32, exp->v.i32, got->i32);
		return got->i32 == exp->v.i32;
	case WASM_I64:
		snprintf(why, n, "i64: want %" PRIu64 " got %" PRIu64, exp->v.i64, got->i64);
		return got->i64 == exp->v.i64;
	case WASM_F32:
		snprintf(why, n, "f32: want %s 0x%08" PRIx32 " got 0x%08" PRIx32,
			 pattern_name(exp->pattern), exp->v.i32, got->i32);
		return float_matches(exp->pattern, exp->v.i32, got->i32, 32);
	case WASM_F64:
		snprintf(why, n, "f64: want %s 0x%016" PRIx64 " got 0x%016" PRIx64,
			 pattern_name(exp->pattern), exp->v.i64, got->i64);
		return float_matches(exp->pattern, exp->v.i64, got->i64, 64);
	case WASM_V128:
		return v128_matches(exp, got, why, n);
	default:
		if (exp->pattern == WASM_SCRIPT_REF_STRUCT ||
		    exp->pattern == WASM_SCRIPT_REF_ARRAY || exp->pattern == WASM_SCRIPT_REF_EQ ||
		    exp->pattern == WASM_SCRIPT_REF_HOST) {
			uintptr_t host;
			enum wasm_anyref_kind k = wasm_anyref_kind(got->ext, &host);
			snprintf(why, n, "anyref: want %s, got kind %d (host value %" PRIuPTR ")",
				 exp->pattern == WASM_SCRIPT_REF_STRUCT	 ? "a struct"
				 : exp->pattern == WASM_SCRIPT_REF_ARRAY ? "an array"
				 : exp->pattern == WASM_SCRIPT_REF_EQ	 ? "an eq reference"
									 : "a host value",
				 (int)k, host);
			if (exp->pattern == WASM_SCRIPT_REF_HOST)
				return k == WASM_ANYREF_HOST && host == exp->v.ext + 1;
			if (exp->pattern == WASM_SCRIPT_REF_EQ)
				return k == WASM_ANYREF_I31 || k == WASM_ANYREF_STRUCT ||
				       k == WASM_ANYREF_ARRAY;
			return k == (exp->pattern == WASM_SCRIPT_REF_STRUCT ? WASM_ANYREF_STRUCT
									    : WASM_ANYREF_ARRAY);
		}
		if (exp->pattern == WASM_SCRIPT_REF_I31) {
			/* an i31 is the tagged word (v << 1) | 1 (wasm/compile_gc.c) */
			snprintf(why, n, "anyref: want an i31, got 0x%" PRIxPTR, got->ext);
			return (got->ext & 1) != 0;
		}
		snprintf(why, n, "%s: want %s, got %s",
			 exp->type == WASM_FUNCREF ? "funcref" : "externref",
			 exp->pattern == WASM_SCRIPT_REF_NULL	   ? "null"
			 : exp->pattern == WASM_SCRIPT_REF_NONNULL ? "non-null"
								   : "a reference",
			 got->ext ? "non-null" : "null");
		if (exp->pattern == WASM_SCRIPT_REF_NULL)
			return got->ext == 0;
		if (exp->pattern == WASM_SCRIPT_REF_NONNULL || exp->type == WASM_FUNCREF)
			return got->ext != 0;
		snprintf(why, n, "externref: want %" PRIuPTR " got %" PRIuPTR, exp->v.ext + 1,
			 got->ext);
		return got->ext == exp->v.ext + 1;
	}
}

/* ----- actions ----- */

/* Runs an action. Returns 0 and the trap (or none) with results, or -1 if it could not
 * be performed (message in why). */
static int do_action(struct runner *r, const struct wasm_script_action *a, enum wasm_trap *trap,
		     union wasm_value *res, uint32_t *nres, char *why, size_t n)
{
	struct wasm_instance *inst = r->current;
	struct wasm_extern ext;
	union wasm_value args[MAX_VALUES];
	const struct wasm_functype *ft;
	struct wasm_trap_info info;

	*trap = WASM_TRAP_NONE;
	*nres = 0;
	if (a->module)
		inst = find(r->names, r->nnames, a->module);
	if (!inst) {
		snprintf(why, n, "no module for action");
		return -1;
	}
	if (wasm_instance_export_n(inst, a->field, a->field_len, &ext)) {
		snprintf(why, n, "no export '%s'", a->field);
		return -1;
	}
	if (a->get) {
		if (ext.kind != WASM_EXTERN_GLOBAL) {
			snprintf(why, n, "'%s' is not a global", a->field);
			return -1;
		}
		res[0] = wasm_global_get(ext.u.global);
		*nres = 1;
		return 0;
	}
	if (ext.kind != WASM_EXTERN_FUNC) {
		snprintf(why, n, "'%s' is not a function", a->field);
		return -1;
	}
	ft = wasm_func_type(ext.u.func);
	if (a->nargs != ft->nparams || a->nargs > MAX_VALUES || ft->nresults > MAX_VALUES) {
		snprintf(why, n, "argument count mismatch");
		return -1;
	}
	for (size_t i = 0; i < a->nargs; i++)
		args[i] = arg_value(r->store, &a->args[i]);
	*trap = wasm_call(r->store, ext.u.func, args, res, &info);
	*nres = ft->nresults;
	return 0;
}

static void cmd_assert_return(struct runner *r, const struct wasm_script_cmd *c, bool action_only)
{
	union wasm_value res[MAX_VALUES];
	uint32_t nres;
	enum wasm_trap trap;
	char why[256];

	if (do_action(r, &c->action, &trap, res, &nres, why, sizeof(why))) {
		fail(r, "%s", why);
		return;
	}
	if (trap) {
		fail(r, "unexpected trap: %s", wasm_trap_message(trap));
		return;
	}
	if (action_only) {
		r->passed++;
		return;
	}
	if (c->nresults != nres) {
		fail(r, "result count %u, expected %zu", nres, c->nresults);
		return;
	}
	for (size_t i = 0; i < c->nresults; i++) {
		if (!value_matches(&c->results[i], &res[i], why, sizeof(why))) {
			fail(r, "result %zu: %s", i, why);
			return;
		}
	}
	r->passed++;
}

/* ----- expected failures ----- */

static const char *const kind_names[] = {
	[WASM_ERR_NONE] = "none",
	[WASM_ERR_MALFORMED] = "malformed",
	[WASM_ERR_INVALID] = "invalid",
	[WASM_ERR_LIMIT] = "limit",
	[WASM_ERR_UNLINKABLE] = "unlinkable",
	[WASM_ERR_UNINSTANTIABLE] = "uninstantiable",
	[WASM_ERR_NOMEM] = "nomem",
};

/* The expected text (NULL: any) is a prefix of what Lodge says. */
static bool text_matches(const char *want, const char *got)
{
	return !want || !strncmp(got, want, strlen(want));
}

static struct known *known_find(struct runner *r)
{
	for (size_t i = 0; i < r->nknowns; i++) {
		if (r->knowns[i].line == r->line) {
			r->knowns[i].used = true;
			return &r->knowns[i];
		}
	}
	return NULL;
}

/* Settles a checked command: ok is the strict verdict, want what the spec expects and got
 * what Lodge reported ("invalid: type mismatch: ..."). A command that differs counts as
 * known when the known-differences file lists it with exactly this report. */
static void settle(struct runner *r, bool ok, const char *want, const char *got)
{
	struct known *k = known_find(r);

	if (ok && !k)
		r->passed++;
	else if (ok)
		fail(r,
		     "listed in the known differences, but Lodge now reports what the spec "
		     "expects (%s): remove the entry",
		     got);
	else if (k && !strncmp(got, k->got, strlen(k->got)))
		r->known++;
	else if (k)
		fail(r, "known difference changed: the entry says '%s', Lodge reports '%s'", k->got,
		     got);
	else
		fail(r, "expected %s, got %s", want, got);
}

static void cmd_assert_trap(struct runner *r, const struct wasm_script_cmd *c, bool exhaustion)
{
	union wasm_value res[MAX_VALUES];
	uint32_t nres;
	enum wasm_trap trap;
	char why[256], want[256], got[256];

	if (do_action(r, &c->action, &trap, res, &nres, why, sizeof(why))) {
		fail(r, "%s", why);
		return;
	}
	snprintf(want, sizeof(want), "trap: %s", c->text ? c->text : "(any)");
	snprintf(got, sizeof(got), "trap: %s", trap ? wasm_trap_message(trap) : "none");
	settle(r,
	       trap && (!exhaustion || trap == WASM_TRAP_STACK_EXHAUSTED) &&
		       text_matches(c->text, wasm_trap_message(trap)),
	       want, got);
}

/* assert_exception (3.0): the action must end with an exception no handler caught. */
static void cmd_assert_exception(struct runner *r, const struct wasm_script_cmd *c)
{
	union wasm_value res[MAX_VALUES];
	uint32_t nres;
	enum wasm_trap trap;
	char why[256], got[256];

	if (do_action(r, &c->action, &trap, res, &nres, why, sizeof(why))) {
		fail(r, "%s", why);
		return;
	}
	snprintf(got, sizeof(got), "trap: %s", trap ? wasm_trap_message(trap) : "none");
	settle(r, trap == WASM_TRAP_EXCEPTION, "trap: uncaught exception", got);
}

/* assert_malformed, assert_invalid: the module must fail to load with that kind; a
 * malformed text or quoted module must fail in the text parser. */
static void cmd_assert_bad_module(struct runner *r, const struct wasm_script_cmd *c,
				  enum wasm_error_kind kind)
{
	bool text = c->module.form != WASM_SCRIPT_BINARY;
	struct wasm_module *m;
	struct wasm_error err;
	char want[320], got[400], msg[320];

	snprintf(want, sizeof(want), "%s%s: %s", kind_names[kind],
		 kind == WASM_ERR_MALFORMED && text ? " (text)" : "", c->text ? c->text : "(any)");
	if (load(r, &c->module, &m, &err) == 0) {
		settle(r, false, want, "accepted");
		return;
	}
	describe(&c->module, &err, msg, sizeof(msg));
	snprintf(got, sizeof(got), "%s%s: %s", kind_names[err.kind],
		 c->module.text_failed ? " (text)" : "", err.detail);
	settle(r,
	       err.kind == kind && text_matches(c->text, err.detail) &&
		       (kind != WASM_ERR_MALFORMED || c->module.text_failed == text),
	       want, got);
	if (r->verbose && err.kind != kind)
		printf("    (%s)\n", msg);
}

/* assert_unlinkable, assert_uninstantiable, assert_trap on a module: the module loads and
 * its instantiation fails with that kind; for a trap the text is the trap's. */
static void cmd_assert_bad_instance(struct runner *r, const struct wasm_script_cmd *c,
				    enum wasm_error_kind kind)
{
	const char *msg;
	struct wasm_module *m;
	struct wasm_instance *inst;
	struct wasm_error err;
	char want[320], got[320];

	if (load(r, &c->module, &m, &err)) {
		describe(&c->module, &err, got, sizeof(got));
		fail(r, "module did not load: %s", got);
		return;
	}
	snprintf(want, sizeof(want), "%s: %s", kind_names[kind], c->text ? c->text : "(any)");
	if (wasm_instance_create(r->store, m, resolve, r, &inst, &err) == 0) {
		settle(r, false, want, "instantiated");
		return;
	}
	msg = err.kind == WASM_ERR_UNINSTANTIABLE ? wasm_trap_message(err.trap) : err.detail;
	snprintf(got, sizeof(got), "%s: %s", kind_names[err.kind], msg);
	settle(r, err.kind == kind && text_matches(c->text, msg), want, got);
}

/* Reads the entries of the known-differences file for this .wast: lines
 * "NAME.wast:LINE | KIND: MESSAGE PREFIX | reason" ('#' starts a comment line). */
static int known_load(struct runner *r, const char *path)
{
	char name[128], line[1024];
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	snprintf(name, sizeof(name), "%s:", r->file);
	while (fgets(line, sizeof(line), f)) {
		char *got, *bar;
		struct known *k;

		if (strncmp(line, name, strlen(name)))
			continue;
		got = strchr(line, '|');
		bar = got ? strchr(got + 1, '|') : NULL;
		if (!bar || r->nknowns == MAX_KNOWN) {
			fclose(f);
			return -EINVAL;
		}
		k = &r->knowns[r->nknowns++];
		k->line = atoi(line + strlen(name));
		while (*++got == ' ')
			;
		while (bar > got && bar[-1] == ' ')
			bar--;
		snprintf(k->got, sizeof(k->got), "%.*s", (int)(bar - got), got);
	}
	fclose(f);
	return 0;
}

static void run_command(struct runner *r, const struct wasm_script_cmd *c)
{
	r->line = (int)c->line;
	switch (c->kind) {
	case WASM_SCRIPT_MODULE:
		cmd_module(r, c);
		break;
	case WASM_SCRIPT_REGISTER:
		cmd_register(r, c);
		break;
	case WASM_SCRIPT_MODULE_INSTANCE:
		cmd_module_instance(r, c);
		break;
	case WASM_SCRIPT_ACTION:
		cmd_assert_return(r, c, true);
		break;
	case WASM_SCRIPT_ASSERT_RETURN:
		cmd_assert_return(r, c, false);
		break;
	case WASM_SCRIPT_ASSERT_TRAP:
		cmd_assert_trap(r, c, false);
		break;
	case WASM_SCRIPT_ASSERT_EXHAUSTION:
		cmd_assert_trap(r, c, true);
		break;
	case WASM_SCRIPT_ASSERT_EXCEPTION:
		cmd_assert_exception(r, c);
		break;
	case WASM_SCRIPT_ASSERT_TRAP_MODULE:
	case WASM_SCRIPT_ASSERT_UNINSTANTIABLE:
		cmd_assert_bad_instance(r, c, WASM_ERR_UNINSTANTIABLE);
		break;
	case WASM_SCRIPT_ASSERT_UNLINKABLE:
		cmd_assert_bad_instance(r, c, WASM_ERR_UNLINKABLE);
		break;
	case WASM_SCRIPT_ASSERT_MALFORMED:
		cmd_assert_bad_module(r, c, WASM_ERR_MALFORMED);
		break;
	case WASM_SCRIPT_ASSERT_INVALID:
		cmd_assert_bad_module(r, c, WASM_ERR_INVALID);
		break;
	}
}

int main(int argc, char **argv)
{
	struct runner r;
	const char *path = NULL, *known = NULL, *base;
	struct wasm_script *script;
	struct wasm_text_error terr;
	char *text;
	uint32_t jit = WASM_JIT_HOT_DEFAULT;
	size_t len;

	memset(&r, 0, sizeof(r));
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-v"))
			r.verbose = true;
		else if (!strcmp(argv[i], "-j"))
			jit = 1;
		else if (!strcmp(argv[i], "-n"))
			jit = WASM_JIT_OFF;
		else if (!strcmp(argv[i], "-k") && i + 1 < argc)
			known = argv[++i];
		else
			path = argv[i];
	}
	if (!path) {
		fprintf(stderr,
			"usage: spec_runner [-v] [-j | -n] [-k KNOWN_DIFFERENCES] FILE.wast\n");
		return 2;
	}
	base = strrchr(path, '/');
	r.file = base ? base + 1 : path;
	if (known && known_load(&r, known)) {
		fprintf(stderr, "spec_runner: %s: cannot read it, or a line for %s is malformed\n",
			known, r.file);
		return 2;
	}
	text = (char *)read_file(path, &len);
	if (!text) {
		fprintf(stderr, "spec_runner: cannot read %s\n", path);
		return 2;
	}
	if (wasm_script_parse(text, len, &script, &terr)) {
		fprintf(stderr, "spec_runner: %s:%u:%u: %s\n", path, terr.line, terr.col,
			terr.detail);
		free(text);
		return 2;
	}
	if (wasm_store_create(NULL, &r.store)) {
		fprintf(stderr, "spec_runner: cannot start on %s\n", path);
		return 2;
	}
	wasm_store_set_jit(r.store, jit);
	if (spectest_init(&r)) {
		fprintf(stderr, "spec_runner: cannot start on %s\n", path);
		return 2;
	}
	for (size_t i = 0; i < wasm_script_count(script); i++) {
		run_command(&r, wasm_script_get(script, i));
		fflush(stdout);
	}
	for (size_t i = 0; i < r.nknowns; i++) {
		r.line = r.knowns[i].line;
		if (!r.knowns[i].used)
			fail(&r, "known-differences entry matches no checked command");
	}
	printf("RESULT %s passed=%u failed=%u skipped=%u known=%u\n", r.file, r.passed, r.failed,
	       r.skipped, r.known);
	wasm_store_destroy(r.store);
	for (size_t i = 0; i < r.nmods; i++)
		wasm_module_destroy(r.mods[i]);
	free(r.mods);
	wasm_script_destroy(script);
	free(text);
	return r.failed ? 1 : 0;
}
