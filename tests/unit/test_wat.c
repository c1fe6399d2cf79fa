/*
 * Unit tests for the text front end (wasm/text/text.h, wasm/text/script.h): the binary
 * each abbreviation stands for, folded and plain instructions alike, literals at their
 * edges, error messages with their line and column, validation errors traced back to the
 * text, the nesting bound, scripts and their commands, and allocation failure injected at
 * every step (must fail with -ENOMEM or succeed, never crash or leak).
 */
#include "wasm/text/script.h"
#include "wasm/text/text.h"
#include "wasm/wasm.h"

#include "core/alloc.h"
#include "harness.h"

#include <errno.h>
#include <stdlib.h>

static int encode(const char *src, struct wasm_text_binary *b, struct wasm_text_error *err)
{
	return wasm_text_to_binary(src, strlen(src), b, err);
}

/* Both texts encode, to the same bytes. */
static int same_binary(const char *a, const char *b)
{
	struct wasm_text_binary x, y;
	struct wasm_text_error err;
	int same;

	if (encode(a, &x, &err))
		return 0;
	if (encode(b, &y, &err)) {
		wasm_text_binary_fini(&x);
		return 0;
	}
	same = x.len == y.len && !memcmp(x.bytes, y.bytes, x.len);
	wasm_text_binary_fini(&x);
	wasm_text_binary_fini(&y);
	return same;
}

/* The text fails with a message starting with want, at line:col. */
static int fails_at(const char *src, const char *want, uint32_t line, uint32_t col)
{
	struct wasm_text_binary b;
	struct wasm_text_error err;

	if (encode(src, &b, &err) != -EINVAL) {
		wasm_text_binary_fini(&b);
		fprintf(stderr, "accepted: %.60s\n", src);
		return 0;
	}
	if (strncmp(err.detail, want, strlen(want)) || err.line != line || err.col != col) {
		fprintf(stderr, "%.60s: got %u:%u '%s', want %u:%u '%s'\n", src, err.line, err.col,
			err.detail, line, col, want);
		return 0;
	}
	return 1;
}

static int test_empty_module(void)
{
	static const uint8_t want[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
	struct wasm_text_binary b;
	struct wasm_text_error err;

	CHECK(encode("(module)", &b, &err) == 0);
	CHECK(b.len == sizeof(want) && !memcmp(b.bytes, want, sizeof(want)));
	wasm_text_binary_fini(&b);
	CHECK(same_binary("(module $m)", ""));
	CHECK(same_binary(";; nothing\n(module (; at all ;))", "(module)"));
	return 0;
}

/* A function with an export: the binary wat2wasm writes for it, byte for byte. */
static int test_function_bytes(void)
{
	static const uint8_t want[] = {
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x07, 0x01, 0x60, 0x02, 0x7f,
		0x7f, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00, 0x07, 0x07, 0x01, 0x03, 0x61, 0x64, 0x64,
		0x00, 0x00, 0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b};
	struct wasm_text_binary b;
	struct wasm_text_error err;

	CHECK(encode("(module (func (export \"add\") (param i32 i32) (result i32)\n"
		     "  local.get 0 local.get 1 i32.add))",
		     &b, &err) == 0);
	CHECK_EQ(b.len, sizeof(want));
	CHECK(!memcmp(b.bytes, want, sizeof(want)));
	wasm_text_binary_fini(&b);
	return 0;
}

static int test_abbreviations(void)
{
	/* inline exports and imports (6.6.4-6.6.8) */
	CHECK(same_binary("(func $f (export \"a\") (export \"b\"))",
			  "(func $f) (export \"a\" (func $f)) (export \"b\" (func 0))"));
	CHECK(same_binary("(func $f (import \"m\" \"n\") (param i32))",
			  "(type (func (param i32))) (import \"m\" \"n\" (func $f (type 0)))"));
	CHECK(same_binary("(global (import \"m\" \"g\") (mut i64))",
			  "(import \"m\" \"g\" (global (mut i64)))"));
	/* an inline element list: a table just large enough, filled from 0 */
	CHECK(same_binary("(table funcref (elem $f $f)) (func $f)",
			  "(table 2 2 funcref) (elem (i32.const 0) func $f $f) (func $f)"));
	/* inline data: a memory of ceil(len / 64 KiB) pages */
	CHECK(same_binary("(memory (data \"ab\" \"c\"))",
			  "(memory 1 1) (data (i32.const 0) \"abc\")"));
	/* an offset given as one folded instruction */
	CHECK(same_binary("(memory 1) (data (i32.const 8) \"x\")",
			  "(memory 1) (data (memory 0) (offset i32.const 8) \"x\")"));
	/* type uses: an inline signature reuses a matching explicit type */
	CHECK(same_binary("(type (func (param i32))) (func (param i32))",
			  "(type (func (param i32))) (func (type 0))"));
	return 0;
}

static int test_folded(void)
{
	CHECK(same_binary(
		"(func (result i32) (i32.add (i32.const 1) (i32.mul (i32.const 2) "
		"(i32.const 3))))",
		"(func (result i32) i32.const 1 i32.const 2 i32.const 3 i32.mul i32.add)"));
	CHECK(same_binary("(func (param i32) (if (local.get 0) (then nop) (else unreachable)))",
			  "(func (param i32) local.get 0 if nop else unreachable end)"));
	CHECK(same_binary("(func (block $b (br $b)))", "(func block $b br 0 end)"));
	CHECK(same_binary("(func (loop $l (block $b (br_table $b $l (i32.const 0)))))",
			  "(func loop block i32.const 0 br_table 0 1 end end)"));
	/* labels are looked up innermost first, so an inner $l shadows an outer one */
	CHECK(same_binary("(func block $l block $l br $l end end)",
			  "(func block block br 0 end end)"));
	return 0;
}

static int test_literals(void)
{
	/* underscores, hex, signs; i32 takes -2^31 .. 2^32-1 */
	CHECK(same_binary("(global i32 (i32.const 0xffff_ffff))", "(global i32 (i32.const -1))"));
	CHECK(same_binary("(global i64 (i64.const 1_000))", "(global i64 (i64.const 0x3e8))"));
	CHECK(fails_at("(global i32 (i32.const 4294967296))", "constant out of range", 1, 24));
	CHECK(fails_at("(global i32 (i32.const -2147483649))", "constant out of range", 1, 24));
	/* f32 rounds to nearest even, directly from the decimal or hex literal */
	CHECK(same_binary("(global f32 (f32.const 0x1.000001p0))", "(global f32 (f32.const 1))"));
	CHECK(same_binary("(global f32 (f32.const 0x1.000003p0))",
			  "(global f32 (f32.const 0x1.000004p0))"));
	CHECK(same_binary("(global f32 (f32.const 0x1.fffffefffffp127))",
			  "(global f32 (f32.const 0x1.fffffep127))"));
	CHECK(fails_at("(global f32 (f32.const 0x1.ffffffp127))", "constant out of range", 1, 24));
	CHECK(same_binary("(global f64 (f64.const nan))",
			  "(global f64 (f64.const nan:0x8_0000_0000_0000))"));
	CHECK(fails_at("(global f32 (f32.const nan:0x80_0000))", "constant out of range", 1, 24));
	CHECK(fails_at("(global f32 (f32.const 1__0))", "unknown operator 1__0", 1, 24));
	CHECK(fails_at("(global i32 (i32.const 0x))", "unknown operator 0x", 1, 24));
	return 0;
}

static int test_errors(void)
{
	CHECK(fails_at("(module\n  (func (get_local 0)))", "unknown operator get_local", 2, 10));
	CHECK(fails_at("(func\n\tblock $a end $b)", "mismatching label", 2, 15));
	CHECK(fails_at("(func (br $nowhere))", "unknown label $nowhere", 1, 11));
	CHECK(fails_at("(func (call $g))", "unknown function $g", 1, 13));
	CHECK(fails_at("(func $f) (func $f)", "duplicate func $f", 1, 17));
	CHECK(fails_at("(func) (import \"\" \"\" (func))", "import after function", 1, 8));
	CHECK(fails_at("(func (i32.const))", "unexpected token )", 1, 17));
	CHECK(fails_at("(type $t (func)) (func (type $t) (param i32))", "inline function type", 1,
		       30));
	CHECK(fails_at("(memory 1) (func (i32.load align=3 (i32.const 0)))",
		       "alignment must be a power of two", 1, 28));
	CHECK(fails_at("(func (export \"\\ff\"))", "malformed UTF-8 encoding", 1, 15));
	CHECK(fails_at("(func \"a\"x)", "unknown operator \"a\"x", 1, 7));
	CHECK(fails_at("(func (v128.const i32x4 1 2 3))", "wrong number of lane literals", 1, 19));
	CHECK(fails_at("(start 0) (func) (start 0)", "multiple start sections", 1, 18));
	CHECK(fails_at("(func) (; unclosed", "unclosed comment", 1, 8));
	CHECK(fails_at("(func) \"open", "unclosed string literal", 1, 8));
	CHECK(fails_at("(data \"\\q\")", "illegal escape", 1, 8));
	/* a line comment ends at CR as well as LF; columns count characters, not bytes */
	CHECK(fails_at(";; c\r(func \xc3\xa9)", "unknown operator \\xc3\\xa9", 2, 7));
	/* an error in a field reported before one that the first pass found further on */
	CHECK(fails_at("(func (i32.const)) (func $d) (func $d)", "unexpected token )", 1, 17));
	/* invalid UTF-8 in a comment */
	CHECK(fails_at("(module) ;; \xff", "malformed UTF-8 encoding", 1, 13));
	return 0;
}

/* A validation error at a binary offset traced back to its instruction in the text. */
static int test_locate(void)
{
	const char *src = "(module\n  (func (result i32)\n    i32.const 1\n    f32.neg))";
	struct wasm_text_binary b;
	struct wasm_text_error terr;
	struct wasm_module *m;
	struct wasm_error err;
	uint32_t line = 0, col = 0;

	CHECK(encode(src, &b, &terr) == 0);
	CHECK(wasm_module_load(b.bytes, b.len, &m, &err) != 0);
	CHECK(err.kind == WASM_ERR_INVALID);
	CHECK(wasm_text_locate(&b, err.offset, &line, &col) == 0);
	CHECK_EQ(line, 4);
	CHECK_EQ(col, 5);
	CHECK(wasm_text_locate(&b, 3, &line, &col) == -ENOENT);
	wasm_text_binary_fini(&b);
	return 0;
}

/* "(func " and n folded blocks, closed. */
static char *nested(size_t n)
{
	char *src = malloc(n * 8 + 32);
	size_t o = 0;

	if (!src)
		return NULL;
	o += (size_t)sprintf(src, "(func ");
	for (size_t i = 0; i < n; i++)
		o += (size_t)sprintf(src + o, "(block ");
	for (size_t i = 0; i <= n; i++)
		src[o++] = ')';
	src[o] = 0;
	return src;
}

/* WASM_MAX_NESTING blocks encode (the parser keeps them on the heap, not the C stack: the
 * binary's limit, which its validator checks), one more does not. */
static int test_nesting_bound(void)
{
	struct wasm_text_binary b;
	struct wasm_text_error terr;
	struct wasm_module *m;
	struct wasm_error err;
	char *src = nested(WASM_MAX_NESTING);
	int ok;

	CHECK(src);
	ok = encode(src, &b, &terr) == 0;
	free(src);
	CHECK(ok);
	CHECK_EQ(wasm_module_load(b.bytes, b.len, &m, &err), 0);
	wasm_module_destroy(m);
	wasm_text_binary_fini(&b);
	src = nested(WASM_MAX_NESTING + 1);
	CHECK(src);
	/* reported at the keyword of the first block past the bound */
	ok = fails_at(src, "blocks nested too deeply: more than 50000", 1,
		      7 + 7 * WASM_MAX_NESTING + 1);
	free(src);
	CHECK(ok);
	return 0;
}

static int test_text_is_text(void)
{
	CHECK(wasm_text_is_text((const uint8_t *)"(module)", 8));
	CHECK(!wasm_text_is_text((const uint8_t *)"\0asm\1\0\0\0", 8));
	return 0;
}

static const char script_src[] =
	"(module $M (func (export \"f\") (param i32) (result i32) local.get 0))\n"
	"(register \"m\" $M)\n"
	"(assert_return (invoke $M \"f\" (i32.const 7)) (i32.const 7))\n"
	"(assert_return\n  (invoke \"g\") (f32.const nan:canonical) (ref.extern 3)\n"
	"  (v128.const f64x2 nan:arithmetic -0x1p1))\n"
	"(assert_malformed (module quote \"(func\" \" (i32.const 0x))\") \"unknown operator\")\n"
	"(assert_invalid (module (func (result i32))) \"type mismatch\")\n"
	"(module binary \"\\00asm\" \"\\01\\00\\00\\00\")\n"
	"(assert_trap (module (func $s unreachable) (start $s)) \"unreachable\")\n";

static int test_script(void)
{
	struct wasm_script *s;
	struct wasm_text_error err;
	const struct wasm_script_cmd *c;

	CHECK(wasm_script_parse(script_src, sizeof(script_src) - 1, &s, &err) == 0);
	CHECK_EQ(wasm_script_count(s), 8);
	c = wasm_script_get(s, 0);
	CHECK(c->kind == WASM_SCRIPT_MODULE && !strcmp(c->module.name, "$M"));
	CHECK(!c->module.text_failed && c->module.bin.len > 8);
	c = wasm_script_get(s, 1);
	CHECK(c->kind == WASM_SCRIPT_REGISTER && !strcmp(c->as, "m"));
	c = wasm_script_get(s, 2);
	CHECK(c->kind == WASM_SCRIPT_ASSERT_RETURN && !strcmp(c->action.module, "$M"));
	CHECK(c->action.nargs == 1 && c->action.args[0].v.i32 == 7 && c->nresults == 1);
	c = wasm_script_get(s, 3);
	CHECK_EQ(c->line, 5); /* the line of the action, as wast2json numbered commands */
	CHECK(c->nresults == 3);
	CHECK(c->results[0].pattern == WASM_SCRIPT_NAN_CANONICAL);
	CHECK(c->results[1].type == WASM_EXTERNREF && c->results[1].v.ext == 3);
	CHECK(c->results[2].lanes[0] == WASM_SCRIPT_NAN_ARITHMETIC);
	CHECK(c->results[2].v.v128[15] == 0xc0); /* -2.0 in the high lane */
	c = wasm_script_get(s, 4);
	CHECK(c->kind == WASM_SCRIPT_ASSERT_MALFORMED && c->module.form == WASM_SCRIPT_QUOTE);
	CHECK(c->module.text_failed && !strncmp(c->module.text_err.detail, "unknown operator", 16));
	CHECK(!strcmp(c->text, "unknown operator"));
	c = wasm_script_get(s, 5);
	CHECK(c->kind == WASM_SCRIPT_ASSERT_INVALID && !c->module.text_failed);
	c = wasm_script_get(s, 6);
	CHECK(c->module.form == WASM_SCRIPT_BINARY && c->module.bin.len == 8);
	c = wasm_script_get(s, 7);
	CHECK(c->kind == WASM_SCRIPT_ASSERT_TRAP_MODULE);
	wasm_script_destroy(s);

	/* the script itself malformed: an error for the whole script */
	CHECK(wasm_script_parse("(assert_return (module))", 24, &s, &err) == -EINVAL);
	CHECK(!strncmp(err.detail, "unexpected token", 16));
	return 0;
}

/* Every allocation of a text module's encoding and of a script made to fail in turn. */
static int test_alloc_failures(void)
{
	const char *mod = "(module (type $t (func (param i32) (result i32)))\n"
			  "(func $f (export \"f\") (type $t) (local i64) (block $b (br $b))\n"
			  "  (i32.add (local.get 0) (i32.const 1)))\n"
			  "(table funcref (elem $f)) (memory (data \"abc\"))\n"
			  "(global $g (mut f32) (f32.const 1.5)) (elem declare func $f))";
	int ok = 0;

	for (unsigned long n = 1; n < 2000 && ok < 2; n++) {
		struct wasm_text_binary b;
		struct wasm_text_error err;
		struct wasm_script *s;
		int rc;

		core_alloc_fail_after(n);
		rc = encode(mod, &b, &err);
		core_alloc_fail_after(0);
		CHECK(rc == 0 || rc == -ENOMEM);
		if (rc == 0)
			wasm_text_binary_fini(&b);
		core_alloc_fail_after(n);
		rc = wasm_script_parse(script_src, sizeof(script_src) - 1, &s, &err);
		core_alloc_fail_after(0);
		CHECK(rc == 0 || rc == -ENOMEM);
		if (rc == 0) {
			wasm_script_destroy(s);
			ok++;
		}
	}
	CHECK(ok == 2);
	return 0;
}

/* 3.0 typed references: (ref null func) is funcref; a typed value type is 0x63/0x64 and
 * an s33 heap type; the embedding API refuses a typed argument of another type (validated
 * code calls it as its type says) and a null for a non-nullable one. */
static int test_typed_refs(void)
{
	static const char *src = "(module (type $t (func (result i32)))\n"
				 "  (type $u (func (result i64)))\n"
				 "  (func (export \"a\") (type $t) (i32.const 7))\n"
				 "  (func (export \"b\") (type $u) (i64.const 8))\n"
				 "  (func (export \"take\") (param (ref $t)) (result i32)\n"
				 "    (call_ref $t (local.get 0))))";
	static const uint8_t param[] = {0x60, 0x01, 0x64, 0x00, 0x00};
	struct wasm_text_binary b;
	struct wasm_text_error terr;
	struct wasm_module *m;
	struct wasm_store *s;
	struct wasm_instance *inst;
	struct wasm_error err;
	struct wasm_extern fa, fb, take;
	union wasm_value arg, res;
	int found = 0;

	CHECK(same_binary("(module (func (param (ref null func) (ref null extern))))",
			  "(module (func (param funcref externref)))"));
	CHECK(encode("(module (type $t (func)) (func (param (ref $t))))", &b, &terr) == 0);
	for (size_t i = 0; i + sizeof(param) <= b.len; i++)
		found |= !memcmp(b.bytes + i, param, sizeof(param));
	CHECK(found);
	wasm_text_binary_fini(&b);

	CHECK(encode(src, &b, &terr) == 0);
	CHECK(wasm_module_load(b.bytes, b.len, &m, &err) == 0);
	wasm_text_binary_fini(&b);
	CHECK(wasm_store_create(NULL, &s) == 0);
	CHECK(wasm_instance_create(s, m, NULL, NULL, &inst, &err) == 0);
	CHECK(wasm_instance_export(inst, "a", &fa) == 0);
	CHECK(wasm_instance_export(inst, "b", &fb) == 0);
	CHECK(wasm_instance_export(inst, "take", &take) == 0);
	arg.func = fa.u.func;
	CHECK(wasm_call(s, take.u.func, &arg, &res, NULL) == WASM_TRAP_NONE);
	CHECK_EQ(res.i32, 7);
	arg.func = fb.u.func;
	CHECK(wasm_call(s, take.u.func, &arg, &res, NULL) == WASM_TRAP_INDIRECT_TYPE);
	arg.func = NULL;
	CHECK(wasm_call(s, take.u.func, &arg, &res, NULL) == WASM_TRAP_NULL_REF);
	wasm_store_destroy(s);
	wasm_module_destroy(m);
	return 0;
}

static const struct unit_test tests[] = {
	{"empty_module", test_empty_module},
	{"function_bytes", test_function_bytes},
	{"abbreviations", test_abbreviations},
	{"folded", test_folded},
	{"literals", test_literals},
	{"errors", test_errors},
	{"locate", test_locate},
	{"nesting_bound", test_nesting_bound},
	{"text_is_text", test_text_is_text},
	{"script", test_script},
	{"alloc_failures", test_alloc_failures},
	{"typed_refs", test_typed_refs},
};

UNIT_MAIN("wat", tests)
