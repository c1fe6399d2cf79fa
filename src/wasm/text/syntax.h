/*
 * Private to src/wasm/text/: tokens, the lexer, the keyword and instruction tables,
 * literal conversion and the byte buffer the encoder writes into.
 *
 * The lexer turns a whole source into an array of tokens up front (Wasm core 2.0, 6.2:
 * the longest run of idchars and strings is one token; a run that is no keyword, id,
 * number or single string is "reserved" and rejected as an unknown operator), checks
 * that every string and comment is UTF-8, and pairs each '(' with its ')'.
 */
#ifndef LODGE_WASM_TEXT_SYNTAX_H
#define LODGE_WASM_TEXT_SYNTAX_H

#include "wasm/text/text.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ----- keywords and instructions ----- */

enum text_kw {
	KW_NONE = 0,
#define KW(N, S) KW_##N,
#include "wasm/text/keywords.def"
	KW_OFFSET_EQ, /* offset=N */
	KW_ALIGN_EQ,  /* align=N */
};

/* How an instruction's immediates are written (text/instr.def). */
enum text_imm {
	IMM_NONE,
	IMM_BLOCK,  /* block, loop, if: label? blocktype */
	IMM_STRUCT, /* else, end: only inside a block, with an optional label */
	IMM_LABEL,
	IMM_BR_TABLE,
	IMM_FUNC,
	IMM_CALL_INDIRECT,
	IMM_SELECT,
	IMM_LOCAL,
	IMM_GLOBAL,
	IMM_TABLE, /* an optional table index, 0 when omitted */
	IMM_MEM,   /* memory 0, encoded as a 0x00 byte */
	IMM_MEM2,  /* memory.copy: two 0x00 bytes */
	IMM_I32,
	IMM_I64,
	IMM_F32,
	IMM_F64,
	IMM_V128,
	IMM_SHUFFLE,
	IMM_HEAPTYPE,
	IMM_MEMORY_INIT,
	IMM_DATA,
	IMM_ELEM,
	IMM_TABLE_INIT,
	IMM_TABLE_COPY,
	IMM_MEMARG,
	IMM_LANE,
	IMM_MEMLANE,
	IMM_FENCE,	/* atomic.fence: no text immediates, a 0x00 byte in binary */
	IMM_TYPE,	/* a type index (call_ref) */
	IMM_TAG,	/* 3.0 exception handling: a tag index (throw) */
	IMM_TRY_TABLE,	/* try_table: label? blocktype catch clauses, then a block's body */
	IMM_CAST,	/* GC ref.test, ref.cast: a reference type; nullable adds 1 to the code */
	IMM_FIELD,	/* GC struct.get/set: a type index and a field (index or identifier) */
	IMM_TYPE_N,	/* GC array.new_fixed: a type index and a count */
	IMM_TYPE_DATA,	/* GC array.new_data, array.init_data: a type index and a data index */
	IMM_TYPE_ELEM,	/* GC array.new_elem, array.init_elem: a type and an element index */
	IMM_TYPE2,	/* GC array.copy: two type indices */
	IMM_BR_ON_CAST, /* GC br_on_cast(_fail): label, two reference types (flags byte first) */
};

enum text_prefix { PFX_P0 = 0, PFX_PFC = 0xfc, PFX_PFD = 0xfd, PFX_PFE = 0xfe, PFX_PFB = 0xfb };

/* Binary opcodes the parser treats structurally (Wasm core 5.4.1). */
#define OPC_BLOCK 0x02
#define OPC_LOOP  0x03
#define OPC_IF	  0x04
#define OPC_ELSE  0x05
#define OPC_END	  0x0b

struct text_instr {
	char name[40];
	uint8_t prefix; /* enum text_prefix */
	uint8_t imm;	/* enum text_imm */
	uint8_t align;	/* IMM_MEMARG, IMM_MEMLANE: log2 of the natural alignment */
	uint8_t lanes;	/* IMM_LANE, IMM_MEMLANE: number of lanes */
	uint32_t code;
};

/* The tables, built once by text_syntax_create and read-only afterwards. */
struct text_syntax {
	struct text_instr *instrs;
	size_t ninstrs;
	struct text_word {
		const char *name;
		uint32_t len;
		uint16_t kw;	/* enum text_kw, or KW_NONE */
		uint16_t instr; /* index + 1 into instrs, or 0 */
	} * words;
	uint32_t mask; /* words has mask + 1 slots */
};

int text_syntax_create(struct text_syntax **out) __attribute__((warn_unused_result));
void text_syntax_destroy(struct text_syntax *syn);

/* Looks a keyword token up; NULL if it is neither a keyword nor an instruction. */
const struct text_word *text_syntax_find(const struct text_syntax *syn, const char *s, size_t n);

/* ----- tokens ----- */

enum text_tok_kind {
	TOK_EOF,
	TOK_LPAR,
	TOK_RPAR,
	TOK_KEYWORD,
	TOK_ID,
	TOK_STRING,
	TOK_NAT,   /* unsigned integer: digits or 0x hex digits */
	TOK_INT,   /* signed integer */
	TOK_FLOAT, /* anything else numeric: fraction, exponent, inf, nan, nan:0x... */
};

struct text_tok {
	uint32_t off, len;  /* the token's bytes in the source */
	uint32_t line, col; /* 1-based */
	uint32_t match;	    /* TOK_LPAR: index of its ')' (of TOK_EOF when unclosed) */
	uint16_t kw;	    /* TOK_KEYWORD: enum text_kw */
	uint16_t instr;	    /* TOK_KEYWORD: instruction index + 1, or 0 */
	uint8_t kind;	    /* enum text_tok_kind */
	bool quoted;	    /* TOK_ID written $"...": its name is decoded at names + name */
	uint32_t name, name_len;
};

struct text_buf;

struct text_lexed {
	const char *src;
	size_t srclen;
	struct text_tok *toks; /* ends with one TOK_EOF */
	size_t n;
	struct text_buf *names; /* the decoded names of $"..." identifiers (NULL: none) */
};

/* A TOK_ID's name, without the '$': its characters, or for $"..." (3.0) the string's
 * decoded bytes, so $"fh" and $fh are the same identifier. Sets *len. */
const char *text_id_name(const struct text_lexed *lx, const struct text_tok *t, uint32_t *len);

/* Tokenizes src[0..len). Returns 0, -EINVAL with *err filled, or -ENOMEM. */
int text_lex(const struct text_syntax *syn, const char *src, size_t len, struct text_lexed *out,
	     struct wasm_text_error *err) __attribute__((warn_unused_result));
void text_lexed_fini(struct text_lexed *lx);

/* Sets *err to "detail" at the token's position (the detail is printf-formatted). */
void text_error_at(struct wasm_text_error *err, const struct text_tok *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes the token's text, escaped and cut to fit, into buf (for messages). */
const char *text_tok_show(const struct text_lexed *lx, const struct text_tok *t, char *buf,
			  size_t size);

/* ----- byte buffers ----- */

/* A growing byte buffer. Appends never fail on the spot: an allocation failure sets oom
 * and later appends do nothing, so callers check once, at the end. */
struct text_buf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

void tb_put(struct text_buf *b, const void *p, size_t n);
void tb_byte(struct text_buf *b, uint8_t v);
void tb_u32(struct text_buf *b, uint32_t v); /* unsigned LEB128 */
void tb_u64(struct text_buf *b, uint64_t v);
void tb_s32(struct text_buf *b, int32_t v); /* signed LEB128 */
void tb_s64(struct text_buf *b, int64_t v);
void tb_append(struct text_buf *b, const struct text_buf *from); /* from's oom carries over */
void tb_fini(struct text_buf *b);

/* Appends the decoded bytes of a TOK_STRING (escapes resolved). */
void text_string(const struct text_lexed *lx, const struct text_tok *t, struct text_buf *b);

/* The length of the well-formed UTF-8 sequence at p[0..n) (n >= 1), or 0. */
size_t text_utf8_seq(const uint8_t *p, size_t n);

/* True if p[0..n) is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
bool text_utf8_valid(const uint8_t *p, size_t n);

/* ----- literals (6.3.1, 6.3.2) ----- */

/* A TOK_NAT as an unsigned number; -ERANGE past UINT64_MAX. */
int text_nat(const char *s, size_t n, uint64_t *out) __attribute__((warn_unused_result));

/* A TOK_NAT or TOK_INT as a bits-wide integer (8..64), two's complement in *out: unsigned
 * up to 2^bits - 1, signed from -2^(bits-1). -ERANGE outside. */
int text_int(const char *s, size_t n, unsigned bits, uint64_t *out)
	__attribute__((warn_unused_result));

/* A numeric token as the bits of an f32 (bits 32) or f64 (bits 64), rounded to nearest
 * even. -ERANGE when a finite literal rounds to infinity or a NaN payload is 0 or does
 * not fit the significand. */
int text_float(const char *s, size_t n, unsigned bits, uint64_t *out)
	__attribute__((warn_unused_result));

#endif
