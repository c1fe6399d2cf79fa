/*
 * The WebAssembly text format (Wasm core 2.0, chapter 6): a .wat module is parsed and
 * encoded to the binary format (chapter 5), which wasm_module_load() then decodes and
 * validates, so validation is shared with binary modules. Everything the text grammar
 * rejects (lexical errors, unknown keywords, malformed literals, unbound identifiers,
 * abbreviations used wrongly) is a text error with its line and column; what is
 * well-formed text but invalid (type errors, indices out of range) is left for the
 * validator, which reports it against the binary.
 *
 * The parser is table-driven: instruction names come from wasm/opcodes.def (plus the few
 * rows of text/instr.def that the binary table lacks), keywords from text/keywords.def.
 */
#ifndef LODGE_WASM_TEXT_TEXT_H
#define LODGE_WASM_TEXT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A text error: where (1-based line and column, in characters) and what. The detail
 * starts with the WebAssembly reference interpreter's wording where it has one
 * ("unknown operator", "unexpected token", "constant out of range", ...). */
struct wasm_text_error {
	uint32_t line, col;
	char detail[256];
};

/* The binary form of a text module, and where its parts came from. */
struct wasm_text_binary {
	uint8_t *bytes; /* the module (core_alloc'd; wasm_text_binary_fini frees it) */
	size_t len;
	/* Sorted by offset: the byte offset of each encoded instruction and of each module
	 * field's start, with its text position, so that a validation error at a binary
	 * offset can be reported at a line and column (wasm_text_locate). */
	struct wasm_text_pos {
		uint32_t offset, line, col;
	} * pos;
	size_t npos;
};

/* Parses the text module src[0..len) (a "(module ...)" form, or just its fields) and
 * encodes it. Returns 0 with *out filled, -EINVAL with *err filled for malformed text,
 * or -ENOMEM. The source need not be NUL-terminated. Any thread; no state. */
int wasm_text_to_binary(const char *src, size_t len, struct wasm_text_binary *out,
			struct wasm_text_error *err) __attribute__((warn_unused_result));

/* Frees what wasm_text_to_binary produced; a zeroed struct is fine. */
void wasm_text_binary_fini(struct wasm_text_binary *b);

/* The text position of the construct that covers binary offset `offset` (the last
 * recorded position at or before it). Returns 0, or -ENOENT if none is recorded. */
int wasm_text_locate(const struct wasm_text_binary *b, int64_t offset, uint32_t *line,
		     uint32_t *col);

/* True if src[0..len) looks like a text module rather than a binary one: it does not
 * start with the binary magic "\0asm". */
bool wasm_text_is_text(const uint8_t *src, size_t len);

#endif
