/*
 * The script format of the WebAssembly spec tests (.wast; the reference interpreter's
 * "script" grammar, Wasm core 2.0 test suite): a sequence of modules, registrations,
 * actions and assertions. wasm_script_parse reads a whole script; text modules inside it
 * are encoded to binaries on the way (text.h), so a command holds either a binary or the
 * text error its module produced, and a runner only needs the binary engine.
 *
 * Module forms: (module $id? field*), (module $id? binary "..."*), and (module $id?
 * quote "..."*), whose strings are concatenated and parsed as text; 3.0 scripts also
 * have (module definition $id? ...), a module only loaded, and (module instance $I? $M?),
 * which instantiates definition $M (default: the last one) as $I. Values: (i32.const n)
 * and the other constants, (v128.const shape lane*), (ref.null func|extern),
 * (ref.extern n); results may also be nan:canonical / nan:arithmetic (per lane in
 * v128.const), (ref.func) / (ref.extern) for any non-null reference, and (either result+)
 * for any one of several (3.0's relaxed SIMD).
 */
#ifndef LODGE_WASM_TEXT_SCRIPT_H
#define LODGE_WASM_TEXT_SCRIPT_H

#include "wasm/text/text.h"
#include "wasm/wasm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wasm_script_kind {
	WASM_SCRIPT_MODULE,
	WASM_SCRIPT_REGISTER,
	WASM_SCRIPT_ACTION, /* a bare invoke or get */
	WASM_SCRIPT_ASSERT_RETURN,
	WASM_SCRIPT_ASSERT_TRAP,	/* an action that traps */
	WASM_SCRIPT_ASSERT_TRAP_MODULE, /* a module whose instantiation traps */
	WASM_SCRIPT_ASSERT_EXHAUSTION,
	WASM_SCRIPT_ASSERT_EXCEPTION, /* 3.0: an action that throws an uncaught exception */
	WASM_SCRIPT_ASSERT_MALFORMED,
	WASM_SCRIPT_ASSERT_INVALID,
	WASM_SCRIPT_ASSERT_UNLINKABLE,
	WASM_SCRIPT_ASSERT_UNINSTANTIABLE,
	WASM_SCRIPT_MODULE_INSTANCE, /* 3.0: (module instance $I? $M?) */
};

enum wasm_script_module_form {
	WASM_SCRIPT_TEXT,
	WASM_SCRIPT_BINARY,
	WASM_SCRIPT_QUOTE,
};

struct wasm_script_module {
	enum wasm_script_module_form form;
	char *name;		     /* "$id" or NULL */
	bool definition;	     /* 3.0: (module definition ...): load, do not instantiate */
	struct wasm_text_binary bin; /* the binary (when text_failed is false) */
	bool text_failed;	     /* a text or quote module that is malformed text */
	struct wasm_text_error text_err; /* then: why */
};

/* How a value or expected result is given. */
enum wasm_script_pattern {
	WASM_SCRIPT_EXACT,	    /* v (for references: v.ext is the ref.extern number) */
	WASM_SCRIPT_NAN_CANONICAL,  /* a NaN with the canonical payload, either sign */
	WASM_SCRIPT_NAN_ARITHMETIC, /* a NaN with the quiet bit set, either sign */
	WASM_SCRIPT_REF_NULL,
	WASM_SCRIPT_REF_NONNULL, /* (ref.func), (ref.extern) without a number: any non-null */
	WASM_SCRIPT_EITHER,	 /* (either result+): any one of alts (relaxed SIMD, 3.0) */
	WASM_SCRIPT_REF_I31,	 /* (ref.i31) as a result: any i31 reference (3.0 GC) */
	WASM_SCRIPT_REF_STRUCT,	 /* (ref.struct) as a result: any struct reference */
	WASM_SCRIPT_REF_ARRAY,	 /* (ref.array) as a result: any array reference */
	WASM_SCRIPT_REF_EQ,	 /* (ref.eq) as a result: any i31, struct or array reference */
	WASM_SCRIPT_REF_HOST,	 /* (ref.host n): host value n internalized (v.ext = n) */
};

struct wasm_script_value {
	uint8_t type;	   /* enum wasm_valtype */
	uint8_t pattern;   /* enum wasm_script_pattern (v128: see lanes) */
	uint8_t lane_bits; /* v128: 8, 16, 32 or 64 */
	bool lane_float;   /* v128: f32x4 or f64x2 */
	uint8_t lanes[16]; /* v128: each lane's enum wasm_script_pattern */
	union wasm_value v;
	struct wasm_script_value *alts; /* WASM_SCRIPT_EITHER: the results allowed */
	size_t nalts;
};

struct wasm_script_action {
	bool get;     /* (get ...) rather than (invoke ...) */
	char *module; /* "$id" or NULL: the current module */
	char *field;  /* the export name, NUL-terminated, field_len bytes (may hold NULs) */
	size_t field_len;
	struct wasm_script_value *args;
	size_t nargs;
};

struct wasm_script_cmd {
	enum wasm_script_kind kind;
	uint32_t line; /* of the command's module or action, else of the command */
	struct wasm_script_module module;
	struct wasm_script_action action;
	struct wasm_script_value *results; /* assert_return */
	size_t nresults;
	char *text;	  /* the expected message of a failure assertion, or NULL */
	char *as;	  /* register: the name to register under */
	char *reg_module; /* register: "$id" or NULL (the current module) */
	char *def;	  /* module instance: the definition's "$id", or NULL (the last one);
			   * the instance's own "$id" is module.name */
};

struct wasm_script;

/* Parses the script src[0..len). Returns 0 with *out, -EINVAL with *err filled when the
 * script itself is malformed (a malformed module inside an assertion is not: its command
 * records the error), or -ENOMEM. */
int wasm_script_parse(const char *src, size_t len, struct wasm_script **out,
		      struct wasm_text_error *err) __attribute__((warn_unused_result));

size_t wasm_script_count(const struct wasm_script *s);
const struct wasm_script_cmd *wasm_script_get(const struct wasm_script *s, size_t i);

/* Frees the script and all its commands. NULL is a no-op. */
void wasm_script_destroy(struct wasm_script *s);

#endif
