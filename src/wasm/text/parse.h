/*
 * Private to src/wasm/text/: the state of one module being parsed and encoded, shared by
 * parse.c (module fields, index spaces, types) and instr.c (instructions).
 *
 * A module is parsed in three passes over its fields (Wasm core 2.0, 6.6): the first
 * binds identifiers to indices (imports come first in every index space, so an index is
 * the field's position among its kind), the second reads the type definitions, the third
 * encodes every field in order into per-section buffers. Type uses without a matching
 * definition append a type after the explicit ones (6.6.3).
 */
#ifndef LODGE_WASM_TEXT_PARSE_H
#define LODGE_WASM_TEXT_PARSE_H

#include "wasm/text/syntax.h"

/* Index spaces (6.6: the identifier contexts). */
enum text_space {
	SP_TYPE,
	SP_FUNC,
	SP_TABLE,
	SP_MEM,
	SP_GLOBAL,
	SP_ELEM,
	SP_DATA,
	SP_LOCAL,
	SP_TAG, /* 3.0 exception handling */
	SP_COUNT
};

/* An identifier -> index map. */
struct text_names {
	struct text_name {
		const char *s; /* the identifier without '$' (NULL: empty slot) */
		uint32_t len, idx;
	} * slots;
	uint32_t mask, count;
};

/* A function type: params then results, in the parser's type pool. */
struct text_functype {
	uint32_t nparams, nresults;
	size_t off; /* in wat.typepool */
	/* in a (rec ...) group, a struct or array type (GC), or a sub type that is not
	 * final or has a supertype: never what an inline type use means */
	bool noinline;
	uint8_t comp;	  /* 0x60 func, 0x5f struct, 0x5e array */
	uint32_t nfields; /* struct and array types */
	size_t fname_off; /* their field identifiers' tokens in wat.fnames (NULL: none) */
};

/* A signature being read (a type use): value types, and parameter identifiers. */
struct text_sig {
	struct text_buf params, results;
	const struct text_tok **names; /* one per param (NULL: unnamed); funcs only */
	size_t nnames, capnames;
};

/* Binary section ids (5.5.2). */
enum text_sec {
	SEC_TYPE = 1,
	SEC_IMPORT = 2,
	SEC_FUNC = 3,
	SEC_TABLE = 4,
	SEC_MEM = 5,
	SEC_GLOBAL = 6,
	SEC_EXPORT = 7,
	SEC_START = 8,
	SEC_ELEM = 9,
	SEC_CODE = 10,
	SEC_DATA = 11,
	SEC_DATACOUNT = 12,
	SEC_TAG = 13, /* 3.0 exception handling: between memory and global */
	SEC_MAX = 14,
};

/* A text position recorded against an offset in a section buffer (sec), or against an
 * offset in the function body being encoded (sec 0). */
struct text_rawpos {
	uint8_t sec;
	uint32_t off, line, col;
};

/* The most distinct 3.0 reference types (other than funcref and externref) one text
 * module may use: an implementation limit of the text front end. */
#define WAT_MAX_REFTYPES 128

struct wat {
	/* 3.0 reference types: in the parser's byte strings of value types, a byte 0x80 + k
	 * stands for the binary encoding reftype[k] (0x63/0x64 and an s33 heap type), so a
	 * value type stays one byte there; wat_put_valtype writes the encoding out */
	uint8_t reftype[WAT_MAX_REFTYPES][8];
	uint8_t reftype_len[WAT_MAX_REFTYPES];
	uint32_t nreftypes;
	bool in_rec; /* reading the types of a (rec ...) group */
	const struct text_syntax *syn;
	const struct text_lexed *lx;
	const struct text_tok *t; /* lx->toks */
	size_t pos;		  /* the current token */
	struct wasm_text_error *err;
	bool failed;
	bool nomem;	 /* an allocation failed: the caller gets -ENOMEM */
	size_t defer_at; /* the field of the first error of passes 1 and 2 (SIZE_MAX: none) */
	struct wasm_text_error defer_err;

	uint32_t count[SP_COUNT];
	struct text_names names[SP_COUNT];
	bool defined_func, defined_table, defined_mem, defined_global; /* for "import after" */
	bool has_start;
	bool uses_data_index; /* memory.init/data.drop: the binary needs a data count */

	struct text_functype *types;
	size_t ntypes, captypes;
	struct text_buf typepool;
	uint32_t *sigs;			/* signature -> smallest type index + 1 (open addressing) */
	const struct text_tok **fnames; /* struct fields' identifiers (GC) */
	size_t nfnames, capfnames;
	uint32_t sigmask;

	struct text_buf func_names; /* the name section's function names */
	uint32_t nfunc_names;

	struct text_buf sec[SEC_MAX];
	uint32_t secn[SEC_MAX]; /* entries in each vector section */

	/* the function being encoded */
	uint32_t nlocals;
	const struct text_tok **labels; /* label identifiers, innermost last (NULL: none) */
	size_t nlabels, caplabels;
	unsigned nesting; /* blocks open around the current instruction (WASM_MAX_NESTING) */
	bool marking;	  /* record instruction positions (function bodies) */

	struct text_rawpos *pos_list;
	size_t npos, cappos;
};

/* ----- parse.c, used by instr.c ----- */

/* Records the first error (later ones are dropped); returns -EINVAL. */
int wat_fail(struct wat *p, const struct text_tok *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Records "out of memory" and that the failure is one (-ENOMEM comes back up). */
int wat_nomem(struct wat *p);
/* "unexpected token X" at the current token. */
int wat_unexpected(struct wat *p);

const struct text_tok *wat_tok(const struct wat *p);
bool wat_at(const struct wat *p, int kind);
bool wat_at_kw(const struct wat *p, int kw);
bool wat_at_open(const struct wat *p, int kw); /* '(' followed by keyword kw */
int wat_close(struct wat *p);		       /* expects ')' */

/* An index: a NAT, or an identifier bound in space sp. */
int wat_index(struct wat *p, enum text_space sp, uint32_t *out);
bool wat_at_index(const struct wat *p);

/* A value type (i32 ... externref) as its binary byte. */
int wat_valtype(struct wat *p, uint8_t *out);
/* Appends value type t (a byte from wat_valtype) in its binary encoding. */
void wat_put_valtype(struct wat *p, struct text_buf *b, uint8_t t);
/* A heap type (func, extern, nofunc, noextern, a type index), in binary (s33). */
int wat_heaptype(struct wat *p, struct text_buf *b);
int wat_reftype(struct wat *p, uint8_t *out);

/* (param ...)* (result ...)* into sig; *any tells whether there was a clause. */
int wat_sig_clauses(struct wat *p, bool names, struct text_sig *sig, bool *any);
/* (type x)? (param ...)* (result ...)*; with names, params may carry identifiers (funcs).
 * *typeidx is x, or the index of the matching (perhaps new) type. */
int wat_typeuse(struct wat *p, bool names, struct text_sig *sig, uint32_t *typeidx,
		bool *explicit_idx);
void wat_sig_fini(struct text_sig *sig);
/* The index of the type params -> results, appending it if there is none. */
int wat_type_for(struct wat *p, const struct text_buf *params, const struct text_buf *results,
		 uint32_t *out);

void wat_mark(struct wat *p, uint8_t sec, size_t off, const struct text_tok *t);

/* Encodes the module whose fields are tokens [first, end) of lx. */
int text_module_encode(const struct text_syntax *syn, const struct text_lexed *lx, size_t first,
		       size_t end, struct wasm_text_binary *out, struct wasm_text_error *err)
	__attribute__((warn_unused_result));
/* Encodes a whole source: one "(module ...)" or bare fields. */
int text_source_module(const struct text_syntax *syn, const struct text_lexed *lx,
		       struct wasm_text_binary *out, struct wasm_text_error *err)
	__attribute__((warn_unused_result));

/* ----- instr.c ----- */

/* Instructions up to the closing ')' of the enclosing form (not consumed). */
int wat_instrs(struct wat *p, struct text_buf *b);
/* A constant expression (global init, offset, element item): instructions up to ')', and
 * the end opcode. */
int wat_expr(struct wat *p, struct text_buf *b);
/* One folded instruction, at its '('. */
int wat_folded(struct wat *p, struct text_buf *b);
/* A function body: labels reset, instructions, end. */
int wat_body(struct wat *p, struct text_buf *b);

#endif
