/*
 * WebAssembly spec-test runner: executes one wast2json output (a .json command list plus
 * .wasm modules beside it) against the engine through its public API (wasm/wasm.h), with
 * the "spectest" host module. Prints "RESULT name passed=N failed=N skipped=N known=N" on
 * stdout; with -v, one line per failed command (line number and reason). Text-format
 * modules (assert_malformed/invalid "module_type": "text") are counted as skipped: we have
 * no .wat parser. Exit status: 0 if nothing failed.
 *
 * Checks are strict: an assert_malformed module must fail to decode (WASM_ERR_MALFORMED),
 * an assert_invalid one to validate (WASM_ERR_INVALID), and so on, each with the expected
 * text as a prefix of Lodge's message (of the error detail, or of the trap message).
 * -k FILE names the known differences (tests/wasm-spec/known-differences.txt): commands
 * where Lodge reports something else for a reason given there. Such a command counts as
 * known only while Lodge reports exactly what the entry says; an entry that no longer
 * applies, or names no command of the file, is a failure.
 */
#include "wasm/wasm.h"

#include <cjson/cJSON.h>
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
	char *name;
	struct wasm_instance *inst;
};

/* One line of the known-differences file that concerns this .wast. */
struct known {
	int line;
	char got[200]; /* what Lodge reports: a prefix of "KIND: message" */
	bool used;
};

struct runner {
	const char *dir;
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
	struct wasm_func *sp_print[8];
	const char *sp_print_names[8];
	struct wasm_global *sp_g[4];
	struct wasm_table *sp_table;
	struct wasm_memory *sp_memory;
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
	if (wasm_table_create(r->store, WASM_FUNCREF, 10, 20, true, &r->sp_table))
		return -ENOMEM;
	if (wasm_memory_create(r->store, 1, 2, true, &r->sp_memory))
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
	if (!strcmp(name, "table")) {
		out->kind = WASM_EXTERN_TABLE;
		out->u.table = r->sp_table;
		return 0;
	}
	if (!strcmp(name, "memory")) {
		out->kind = WASM_EXTERN_MEMORY;
		out->u.memory = r->sp_memory;
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

/* Loads <dir>/<filename>. Returns 0, or -1 with err filled (or a message for I/O). */
static int load(struct runner *r, const char *filename, struct wasm_module **out,
		struct wasm_error *err)
{
	char path[4096];
	size_t len = 0;
	uint8_t *bytes;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", r->dir, filename);
	bytes = read_file(path, &len);
	if (!bytes) {
		snprintf(err->detail, sizeof(err->detail), "cannot read %.120s", filename);
		err->kind = WASM_ERR_NONE;
		return -1;
	}
	rc = wasm_module_load(bytes, len, out, err);
	free(bytes);
	if (rc)
		return -1;
	if (r->nmods == r->capmods) {
		size_t cap = r->capmods ? r->capmods * 2 : 16;
		struct wasm_module **m = realloc(r->mods, cap * sizeof(*m));
		if (!m) {
			wasm_module_destroy(*out);
			return -1;
		}
		r->mods = m;
		r->capmods = cap;
	}
	r->mods[r->nmods++] = *out;
	return 0;
}

static void cmd_module(struct runner *r, const cJSON *cmd)
{
	const cJSON *fn = cJSON_GetObjectItem(cmd, "filename");
	const cJSON *name = cJSON_GetObjectItem(cmd, "name");
	struct wasm_module *m;
	struct wasm_instance *inst;
	struct wasm_error err;
	char msg[256];

	if (!cJSON_IsString(fn)) {
		fail(r, "module without filename");
		return;
	}
	if (load(r, fn->valuestring, &m, &err)) {
		wasm_error_format(&err, msg, sizeof(msg));
		fail(r, "module %s: %s", fn->valuestring, msg);
		r->current = NULL;
		return;
	}
	if (wasm_instance_create(r->store, m, resolve, r, &inst, &err)) {
		wasm_error_format(&err, msg, sizeof(msg));
		fail(r, "module %s: %s", fn->valuestring, msg);
		r->current = NULL;
		return;
	}
	r->current = inst;
	if (cJSON_IsString(name) && r->nnames < MAX_NAMED)
		r->names[r->nnames++] = (struct named){name->valuestring, inst};
	r->passed++;
}

static void cmd_register(struct runner *r, const cJSON *cmd)
{
	const cJSON *as = cJSON_GetObjectItem(cmd, "as");
	const cJSON *name = cJSON_GetObjectItem(cmd, "name");
	struct wasm_instance *inst = r->current;

	if (cJSON_IsString(name))
		inst = find(r->names, r->nnames, name->valuestring);
	if (!inst || !cJSON_IsString(as) || r->nregs == MAX_NAMED) {
		fail(r, "register: no such module");
		return;
	}
	r->regs[r->nregs++] = (struct named){as->valuestring, inst};
	r->passed++;
}

/* ----- values ----- */

static uint64_t parse_u64(const char *s)
{
	return strtoull(s, NULL, 10);
}

static int parse_value(const cJSON *v, uint8_t *type, union wasm_value *out)
{
	const cJSON *t = cJSON_GetObjectItem(v, "type");
	const cJSON *val = cJSON_GetObjectItem(v, "value");
	const char *ts;

	if (!cJSON_IsString(t))
		return -1;
	ts = t->valuestring;
	memset(out, 0, sizeof(*out));
	if (!strcmp(ts, "i32") || !strcmp(ts, "f32")) {
		*type = ts[0] == 'i' ? WASM_I32 : WASM_F32;
		out->i32 = (uint32_t)parse_u64(val->valuestring);
	} else if (!strcmp(ts, "i64") || !strcmp(ts, "f64")) {
		*type = ts[0] == 'i' ? WASM_I64 : WASM_F64;
		out->i64 = parse_u64(val->valuestring);
	} else if (!strcmp(ts, "externref") || !strcmp(ts, "funcref")) {
		*type = ts[0] == 'e' ? WASM_EXTERNREF : WASM_FUNCREF;
		if (strcmp(val->valuestring, "null"))
			out->ext = (uintptr_t)parse_u64(val->valuestring) + 1;
	} else if (!strcmp(ts, "v128")) {
		const char *lt = cJSON_GetObjectItem(v, "lane_type")->valuestring;
		int bits = atoi(lt + 1), n = 128 / bits, i = 0;
		const cJSON *lane;
		*type = WASM_V128;
		cJSON_ArrayForEach(lane, val)
		{
			uint64_t x = parse_u64(lane->valuestring);
			if (i < n)
				memcpy(out->v128 + i * (bits / 8), &x, (size_t)bits / 8);
			i++;
		}
	} else {
		return -1;
	}
	return 0;
}

static bool float_matches(const char *want, uint64_t got, int bits)
{
	uint64_t exp_mask = bits == 32 ? 0x7f800000u : 0x7ff0000000000000ull;
	uint64_t quiet = bits == 32 ? 0x00400000u : 0x0008000000000000ull;
	uint64_t payload = bits == 32 ? 0x007fffffu : 0x000fffffffffffffull;

	if (!strcmp(want, "nan:canonical"))
		return (got & exp_mask) == exp_mask && (got & payload) == quiet;
	if (!strcmp(want, "nan:arithmetic"))
		return (got & exp_mask) == exp_mask && (got & quiet);
	return got == parse_u64(want);
}

static bool value_matches(const cJSON *exp, const union wasm_value *got, char *why, size_t n)
{
	const char *ts = cJSON_GetObjectItem(exp, "type")->valuestring;
	const cJSON *val = cJSON_GetObjectItem(exp, "value");

	if (!strcmp(ts, "i32") || !strcmp(ts, "f32")) {
		snprintf(why, n, "%s: want %s got %" PRIu32, ts, val->valuestring, got->i32);
		return ts[0] == 'i' ? got->i32 == (uint32_t)parse_u64(val->valuestring)
				    : float_matches(val->valuestring, got->i32, 32);
	}
	if (!strcmp(ts, "i64") || !strcmp(ts, "f64")) {
		snprintf(why, n, "%s: want %s got %" PRIu64, ts, val->valuestring, got->i64);
		return ts[0] == 'i' ? got->i64 == parse_u64(val->valuestring)
				    : float_matches(val->valuestring, got->i64, 64);
	}
	if (!strcmp(ts, "externref") || !strcmp(ts, "funcref")) {
		snprintf(why, n, "%s: want %s got %" PRIuPTR, ts, val->valuestring, got->ext);
		if (!strcmp(val->valuestring, "null"))
			return got->ext == 0;
		if (ts[0] == 'f')
			return got->ext != 0;
		return got->ext == (uintptr_t)parse_u64(val->valuestring) + 1;
	}
	if (!strcmp(ts, "v128")) {
		const char *lt = cJSON_GetObjectItem(exp, "lane_type")->valuestring;
		int bits = atoi(lt + 1), i = 0;
		const cJSON *lane;
		cJSON_ArrayForEach(lane, val)
		{
			uint64_t x = 0;
			memcpy(&x, got->v128 + i * (bits / 8), (size_t)bits / 8);
			if (lt[0] == 'f' ? !float_matches(lane->valuestring, x, bits)
					 : x != parse_u64(lane->valuestring)) {
				snprintf(why, n, "v128 lane %d (%s): want %s got %" PRIu64, i, lt,
					 lane->valuestring, x);
				return false;
			}
			i++;
		}
		return true;
	}
	snprintf(why, n, "unknown type %s", ts);
	return false;
}

/* ----- actions ----- */

/* JSON "\u0000" escapes were replaced by a marker (U+E123, absent from the suite) before parsing,
 * since cJSON strings are NUL-terminated: turn the marker back into NUL bytes for the lookup. */
static const char nul_marker[] = "\xee\x84\xa3";

static int export_lookup(struct wasm_instance *inst, const char *name, struct wasm_extern *out)
{
	char buf[1024];
	size_t n = 0;

	for (const char *p = name; *p && n < sizeof(buf); n++) {
		if (!strncmp(p, nul_marker, 3)) {
			buf[n] = 0;
			p += 3;
		} else {
			buf[n] = *p++;
		}
	}
	return wasm_instance_export_n(inst, buf, n, out);
}

static void mark_nuls(char *text)
{
	for (char *p = text; (p = strstr(p, "\\u0000")) != NULL; p += 6) {
		if (p > text && p[-1] == '\\')
			continue;
		memcpy(p, "\\ue123", 6);
	}
}

/* Runs an action. Returns 0 and the trap (or none) with results, or -1 if it could not
 * be performed (message in why). */
static int do_action(struct runner *r, const cJSON *act, enum wasm_trap *trap,
		     union wasm_value *res, uint32_t *nres, char *why, size_t n)
{
	const cJSON *type = cJSON_GetObjectItem(act, "type");
	const cJSON *mod = cJSON_GetObjectItem(act, "module");
	const cJSON *field = cJSON_GetObjectItem(act, "field");
	struct wasm_instance *inst = r->current;
	struct wasm_extern ext;

	*trap = WASM_TRAP_NONE;
	*nres = 0;
	if (cJSON_IsString(mod))
		inst = find(r->names, r->nnames, mod->valuestring);
	if (!inst || !cJSON_IsString(field)) {
		snprintf(why, n, "no module for action");
		return -1;
	}
	if (export_lookup(inst, field->valuestring, &ext)) {
		snprintf(why, n, "no export '%s'", field->valuestring);
		return -1;
	}
	if (!strcmp(type->valuestring, "get")) {
		if (ext.kind != WASM_EXTERN_GLOBAL) {
			snprintf(why, n, "'%s' is not a global", field->valuestring);
			return -1;
		}
		res[0] = wasm_global_get(ext.u.global);
		*nres = 1;
		return 0;
	}
	if (ext.kind != WASM_EXTERN_FUNC) {
		snprintf(why, n, "'%s' is not a function", field->valuestring);
		return -1;
	}
	{
		union wasm_value args[MAX_VALUES];
		const cJSON *a, *argv = cJSON_GetObjectItem(act, "args");
		const struct wasm_functype *ft = wasm_func_type(ext.u.func);
		struct wasm_trap_info info;
		uint32_t na = 0;
		uint8_t t;

		cJSON_ArrayForEach(a, argv)
		{
			if (na == MAX_VALUES || parse_value(a, &t, &args[na])) {
				snprintf(why, n, "bad argument");
				return -1;
			}
			na++;
		}
		if (na != ft->nparams || ft->nresults > MAX_VALUES) {
			snprintf(why, n, "argument count mismatch");
			return -1;
		}
		*trap = wasm_call(r->store, ext.u.func, args, res, &info);
		*nres = ft->nresults;
	}
	return 0;
}

static void cmd_assert_return(struct runner *r, const cJSON *cmd, bool action_only)
{
	union wasm_value res[MAX_VALUES];
	uint32_t nres;
	enum wasm_trap trap;
	char why[256];
	const cJSON *exp = cJSON_GetObjectItem(cmd, "expected"), *e;
	int i = 0;

	if (do_action(r, cJSON_GetObjectItem(cmd, "action"), &trap, res, &nres, why, sizeof(why))) {
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
	if ((uint32_t)cJSON_GetArraySize(exp) != nres) {
		fail(r, "result count %u, expected %d", nres, cJSON_GetArraySize(exp));
		return;
	}
	cJSON_ArrayForEach(e, exp)
	{
		const cJSON *eith = cJSON_GetObjectItem(e, "type");
		if (cJSON_IsString(eith) && !strcmp(eith->valuestring, "either")) {
			const cJSON *alt;
			bool ok = false;
			cJSON_ArrayForEach(alt, cJSON_GetObjectItem(e, "values")) ok =
				ok || value_matches(alt, &res[i], why, sizeof(why));
			if (!ok) {
				fail(r, "result %d: no alternative matches (%s)", i, why);
				return;
			}
		} else if (!value_matches(e, &res[i], why, sizeof(why))) {
			fail(r, "result %d: %s", i, why);
			return;
		}
		i++;
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

/* The expected text (NULL or absent: any) is a prefix of what Lodge says. */
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

static const char *cmd_text(const cJSON *cmd)
{
	const cJSON *text = cJSON_GetObjectItem(cmd, "text");

	return cJSON_IsString(text) ? text->valuestring : NULL;
}

static void cmd_assert_trap(struct runner *r, const cJSON *cmd, bool exhaustion)
{
	union wasm_value res[MAX_VALUES];
	uint32_t nres;
	enum wasm_trap trap;
	char why[256], want[256], got[256];
	const char *text = cmd_text(cmd);

	if (do_action(r, cJSON_GetObjectItem(cmd, "action"), &trap, res, &nres, why, sizeof(why))) {
		fail(r, "%s", why);
		return;
	}
	snprintf(want, sizeof(want), "trap: %s", text ? text : "(any)");
	snprintf(got, sizeof(got), "trap: %s", trap ? wasm_trap_message(trap) : "none");
	settle(r,
	       trap && (!exhaustion || trap == WASM_TRAP_STACK_EXHAUSTED) &&
		       text_matches(text, wasm_trap_message(trap)),
	       want, got);
}

/* assert_malformed, assert_invalid: the module must fail to load with that kind. */
static void cmd_assert_bad_binary(struct runner *r, const cJSON *cmd, enum wasm_error_kind kind)
{
	const cJSON *fn = cJSON_GetObjectItem(cmd, "filename");
	const char *text = cmd_text(cmd);
	struct wasm_module *m;
	struct wasm_error err;
	char want[320], got[320];

	if (load(r, fn->valuestring, &m, &err) == 0) {
		settle(r, false, kind_names[kind], "accepted");
		return;
	}
	if (err.kind == WASM_ERR_NONE) {
		fail(r, "%s", err.detail);
		return;
	}
	snprintf(want, sizeof(want), "%s: %s", kind_names[kind], text ? text : "(any)");
	snprintf(got, sizeof(got), "%s: %s", kind_names[err.kind], err.detail);
	settle(r, err.kind == kind && text_matches(text, err.detail), want, got);
}

/* assert_unlinkable, assert_uninstantiable (and assert_trap on a module): the module loads
 * and its instantiation fails with that kind; for a trap the text is the trap's. */
static void cmd_assert_bad_instance(struct runner *r, const cJSON *cmd, enum wasm_error_kind kind)
{
	const cJSON *fn = cJSON_GetObjectItem(cmd, "filename");
	const char *text = cmd_text(cmd), *msg;
	struct wasm_module *m;
	struct wasm_instance *inst;
	struct wasm_error err;
	char want[320], got[320];

	if (load(r, fn->valuestring, &m, &err)) {
		wasm_error_format(&err, got, sizeof(got));
		fail(r, "module %s did not load: %s", fn->valuestring, got);
		return;
	}
	snprintf(want, sizeof(want), "%s: %s", kind_names[kind], text ? text : "(any)");
	if (wasm_instance_create(r->store, m, resolve, r, &inst, &err) == 0) {
		settle(r, false, want, "instantiated");
		return;
	}
	msg = err.kind == WASM_ERR_UNINSTANTIABLE ? wasm_trap_message(err.trap) : err.detail;
	snprintf(got, sizeof(got), "%s: %s", kind_names[err.kind], msg);
	settle(r, err.kind == kind && text_matches(text, msg), want, got);
}

static void cmd_assert_bad_module(struct runner *r, const cJSON *cmd, enum wasm_error_kind kind)
{
	const cJSON *mt = cJSON_GetObjectItem(cmd, "module_type");

	if (cJSON_IsString(mt) && !strcmp(mt->valuestring, "text"))
		r->skipped++;
	else if (kind == WASM_ERR_MALFORMED || kind == WASM_ERR_INVALID)
		cmd_assert_bad_binary(r, cmd, kind);
	else
		cmd_assert_bad_instance(r, cmd, kind);
}

/* Reads the entries of the known-differences file for this .wast: lines
 * "NAME.wast:LINE | KIND: MESSAGE PREFIX | reason" ('#' starts a comment line). */
static int known_load(struct runner *r, const char *path)
{
	char name[128], line[1024];
	size_t n = strlen(r->file);
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	if (n > 5 && !strcmp(r->file + n - 5, ".json"))
		n -= 5;
	snprintf(name, sizeof(name), "%.*s.wast:", (int)n, r->file);
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

static void run_command(struct runner *r, const cJSON *cmd)
{
	const char *type = cJSON_GetObjectItem(cmd, "type")->valuestring;
	const cJSON *line = cJSON_GetObjectItem(cmd, "line");

	r->line = cJSON_IsNumber(line) ? line->valueint : 0;
	if (!strcmp(type, "module"))
		cmd_module(r, cmd);
	else if (!strcmp(type, "register"))
		cmd_register(r, cmd);
	else if (!strcmp(type, "assert_return"))
		cmd_assert_return(r, cmd, false);
	else if (!strcmp(type, "action"))
		cmd_assert_return(r, cmd, true);
	else if (!strcmp(type, "assert_trap") && cJSON_GetObjectItem(cmd, "filename"))
		cmd_assert_bad_module(r, cmd, WASM_ERR_UNINSTANTIABLE);
	else if (!strcmp(type, "assert_trap"))
		cmd_assert_trap(r, cmd, false);
	else if (!strcmp(type, "assert_exhaustion"))
		cmd_assert_trap(r, cmd, true);
	else if (!strcmp(type, "assert_malformed"))
		cmd_assert_bad_module(r, cmd, WASM_ERR_MALFORMED);
	else if (!strcmp(type, "assert_invalid"))
		cmd_assert_bad_module(r, cmd, WASM_ERR_INVALID);
	else if (!strcmp(type, "assert_unlinkable"))
		cmd_assert_bad_module(r, cmd, WASM_ERR_UNLINKABLE);
	else if (!strcmp(type, "assert_uninstantiable"))
		cmd_assert_bad_module(r, cmd, WASM_ERR_UNINSTANTIABLE);
	else
		fail(r, "unknown command type %s", type);
}

int main(int argc, char **argv)
{
	struct runner r;
	const char *path = NULL, *known = NULL;
	char *slash, *dir, *text, *base;
	size_t len;
	cJSON *root, *cmd;

	memset(&r, 0, sizeof(r));
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-v"))
			r.verbose = true;
		else if (!strcmp(argv[i], "-k") && i + 1 < argc)
			known = argv[++i];
		else
			path = argv[i];
	}
	if (!path) {
		fprintf(stderr, "usage: spec_runner [-v] [-k KNOWN_DIFFERENCES] FILE.json\n");
		return 2;
	}
	dir = strdup(path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else
		strcpy(dir, ".");
	r.dir = dir;
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
	text[len] = 0;
	if (strstr(text, "\\u0000")) {
		mark_nuls(text);
	}
	root = cJSON_Parse(text);
	if (!root || wasm_store_create(NULL, &r.store) || spectest_init(&r)) {
		fprintf(stderr, "spec_runner: cannot start on %s\n", path);
		return 2;
	}
	cJSON_ArrayForEach(cmd, cJSON_GetObjectItem(root, "commands"))
	{
		run_command(&r, cmd);
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
	cJSON_Delete(root);
	free(text);
	free(dir);
	return r.failed ? 1 : 0;
}
