/*
 * Text modules (Wasm core 2.0, 6.6): module fields, their abbreviations (inline exports
 * and imports, inline element and data segments of tables and memories, offsets written
 * as one folded instruction, type uses), identifiers, and the encoding of each field
 * into its binary section (chapter 5). Three passes over the fields: bind identifiers,
 * read type definitions, encode everything in order. Instructions are in instr.c.
 */
#include "wasm/text/parse.h"

#include "core/alloc.h"
#include "wasm/wasm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_BYTES 65536u

static const char *const space_dup[SP_COUNT] = {"type",	  "func", "table", "memory",
						"global", "elem", "data",  "local"};
static const char *const space_unknown[SP_COUNT] = {
	"type", "function", "table", "memory", "global", "elem segment", "data segment", "local"};

/* ----- errors and tokens ----- */

int wat_fail(struct wat *p, const struct text_tok *t, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return -EINVAL;
	p->failed = true;
	p->err->line = t ? t->line : 0;
	p->err->col = t ? t->col : 0;
	va_start(ap, fmt);
	vsnprintf(p->err->detail, sizeof(p->err->detail), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int wat_nomem(struct wat *p)
{
	wat_fail(p, wat_tok(p), "out of memory");
	p->nomem = true;
	return -ENOMEM;
}

int wat_unexpected(struct wat *p)
{
	const struct text_tok *t = wat_tok(p);
	char buf[80];

	if (t->kind == TOK_EOF)
		return wat_fail(p, t, "unexpected end of input");
	return wat_fail(p, t, "unexpected token %s", text_tok_show(p->lx, t, buf, sizeof(buf)));
}

/* Token i, or the final TOK_EOF past the end. */
static const struct text_tok *tok_at(const struct wat *p, size_t i)
{
	return &p->t[i < p->lx->n ? i : p->lx->n - 1];
}

const struct text_tok *wat_tok(const struct wat *p)
{
	return tok_at(p, p->pos);
}

bool wat_at(const struct wat *p, int kind)
{
	return wat_tok(p)->kind == kind;
}

bool wat_at_kw(const struct wat *p, int kw)
{
	return wat_tok(p)->kind == TOK_KEYWORD && wat_tok(p)->kw == kw;
}

bool wat_at_open(const struct wat *p, int kw)
{
	const struct text_tok *n = tok_at(p, p->pos + 1);

	return wat_at(p, TOK_LPAR) && n->kind == TOK_KEYWORD && n->kw == kw;
}

int wat_close(struct wat *p)
{
	if (!wat_at(p, TOK_RPAR))
		return wat_unexpected(p);
	p->pos++;
	return 0;
}

/* Steps over '(' keyword. */
static void open_kw(struct wat *p)
{
	p->pos += 2;
}

void wat_mark(struct wat *p, uint8_t sec, size_t off, const struct text_tok *t)
{
	if (p->npos == p->cappos) {
		size_t cap = p->cappos ? p->cappos * 2 : 256;
		struct text_rawpos *q = core_realloc(p->pos_list, cap * sizeof(*q));
		if (!q)
			return; /* positions only improve messages: losing some is harmless */
		p->pos_list = q;
		p->cappos = cap;
	}
	p->pos_list[p->npos++] = (struct text_rawpos){sec, (uint32_t)off, t->line, t->col};
}

/* ----- identifiers ----- */

static uint32_t name_hash(const char *s, uint32_t n)
{
	uint32_t h = 2166136261u;

	for (uint32_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

static struct text_name *name_slot(const struct text_names *m, const char *s, uint32_t n)
{
	uint32_t i = name_hash(s, n) & m->mask;

	while (m->slots[i].s && (m->slots[i].len != n || memcmp(m->slots[i].s, s, n) != 0))
		i = (i + 1) & m->mask;
	return &m->slots[i];
}

static int names_grow(struct text_names *m)
{
	struct text_names g = {.mask = m->mask ? m->mask * 2 + 1 : 15};

	g.slots = core_calloc((size_t)g.mask + 1, sizeof(*g.slots));
	if (!g.slots)
		return -ENOMEM;
	for (uint32_t i = 0; m->slots && i <= m->mask; i++)
		if (m->slots[i].s)
			*name_slot(&g, m->slots[i].s, m->slots[i].len) = m->slots[i];
	g.count = m->count;
	core_free(m->slots);
	*m = g;
	return 0;
}

static void names_fini(struct text_names *m)
{
	core_free(m->slots);
	memset(m, 0, sizeof(*m));
}

/* Binds identifier token id (may be NULL) to idx in space sp. */
static int bind(struct wat *p, enum text_space sp, const struct text_tok *id, uint32_t idx)
{
	struct text_names *m = &p->names[sp];
	struct text_name *slot;
	const char *name;
	uint32_t len;
	char buf[80];

	if (!id)
		return 0;
	if ((m->count + 1) * 2 > m->mask && names_grow(m))
		return wat_nomem(p);
	name = text_id_name(p->lx, id, &len);
	slot = name_slot(m, name, len);
	if (slot->s)
		return wat_fail(p, id, "duplicate %s %s", space_dup[sp],
				text_tok_show(p->lx, id, buf, sizeof(buf)));
	slot->s = name;
	slot->len = len;
	slot->idx = idx;
	m->count++;
	return 0;
}

bool wat_at_index(const struct wat *p)
{
	return wat_at(p, TOK_NAT) || wat_at(p, TOK_ID);
}

int wat_index(struct wat *p, enum text_space sp, uint32_t *out)
{
	const struct text_tok *t = wat_tok(p);
	char buf[80];

	if (t->kind == TOK_NAT) {
		uint64_t v;
		if (text_nat(p->lx->src + t->off, t->len, &v) || v > UINT32_MAX)
			return wat_fail(p, t, "i32 constant out of range: %s",
					text_tok_show(p->lx, t, buf, sizeof(buf)));
		*out = (uint32_t)v;
	} else if (t->kind == TOK_ID) {
		const struct text_names *m = &p->names[sp];
		uint32_t len;
		const char *name = text_id_name(p->lx, t, &len);
		const struct text_name *n = m->slots ? name_slot(m, name, len) : NULL;
		if (!n || !n->s)
			return wat_fail(p, t, "unknown %s %s", space_unknown[sp],
					text_tok_show(p->lx, t, buf, sizeof(buf)));
		*out = n->idx;
	} else {
		return wat_unexpected(p);
	}
	p->pos++;
	return 0;
}

/* ----- types ----- */

/* The abstract heap types' codes beside func and extern (binary 3.0) */
#define HT_NOFUNC   0x73
#define HT_NOEXTERN 0x72
#define HT_EXN	    0x69 /* 3.0 exception handling */
#define HT_NOEXN    0x74
/* GC's: the any hierarchy */
#define HT_ANY	  0x6e
#define HT_EQ	  0x6d
#define HT_I31	  0x6c
#define HT_STRUCT 0x6b
#define HT_ARRAY  0x6a
#define HT_NONE	  0x71

/* A heap type as its s33 value: an abstract type's code (negative) or a type index. */
static int heap_value(struct wat *p, int64_t *out)
{
	static const int kws[][2] = {
		{KW_FUNC, WASM_FUNCREF}, {KW_EXTERN, WASM_EXTERNREF},
		{KW_NOFUNC, HT_NOFUNC},	 {KW_NOEXTERN, HT_NOEXTERN},
		{KW_ANY, HT_ANY},	 {KW_EQ, HT_EQ},
		{KW_I31, HT_I31},	 {KW_STRUCT, HT_STRUCT},
		{KW_ARRAY, HT_ARRAY},	 {KW_HNONE, HT_NONE},
	};
	uint32_t idx;

	if (wat_at_kw(p, KW_EXN) || wat_at_kw(p, KW_NOEXN)) { /* 3.0 exception handling */
		*out = (wat_at_kw(p, KW_EXN) ? HT_EXN : HT_NOEXN) - 0x80;
		p->pos++;
		return 0;
	}

	for (size_t i = 0; wat_at(p, TOK_KEYWORD) && i < sizeof(kws) / sizeof(kws[0]); i++) {
		if (wat_tok(p)->kw == kws[i][0]) {
			*out = kws[i][1] - 0x80;
			p->pos++;
			return 0;
		}
	}
	if (!wat_at(p, TOK_NAT) && !wat_at(p, TOK_ID))
		return wat_unexpected(p);
	if (wat_index(p, SP_TYPE, &idx))
		return -EINVAL;
	*out = idx;
	return 0;
}

int wat_heaptype(struct wat *p, struct text_buf *b)
{
	int64_t v;

	if (heap_value(p, &v))
		return -EINVAL;
	tb_s64(b, v);
	return 0;
}

void wat_put_valtype(struct wat *p, struct text_buf *b, uint8_t t)
{
	if (t >= 0x80 && t - 0x80u < p->nreftypes)
		tb_put(b, p->reftype[t - 0x80], p->reftype_len[t - 0x80]);
	else
		tb_byte(b, t);
}

/* (ref null? ht) as one byte: funcref or externref for (ref null func/extern), else
 * 0x80 + its index in p->reftype (the same type, the same byte). */
static int ref_valtype(struct wat *p, uint8_t *out)
{
	const struct text_tok *at = wat_tok(p);
	struct text_buf enc = {0};
	bool nullable = false;
	int64_t v;

	p->pos += 2; /* ( ref */
	if (wat_at_kw(p, KW_NULL)) {
		nullable = true;
		p->pos++;
	}
	if (heap_value(p, &v) || wat_close(p))
		return -EINVAL;
	if (nullable && v < 0) { /* (ref null abstract): the abstract type's own byte */
		*out = (uint8_t)(v + 0x80);
		return 0;
	}
	tb_byte(&enc, nullable ? 0x63 : 0x64);
	tb_s64(&enc, v);
	if (enc.oom) {
		tb_fini(&enc);
		return wat_nomem(p);
	}
	for (uint32_t k = 0; k < p->nreftypes; k++) {
		if (p->reftype_len[k] == enc.len && !memcmp(p->reftype[k], enc.p, enc.len)) {
			*out = (uint8_t)(0x80 + k);
			tb_fini(&enc);
			return 0;
		}
	}
	if (p->nreftypes == WAT_MAX_REFTYPES || enc.len > sizeof(p->reftype[0])) {
		tb_fini(&enc);
		return wat_fail(p, at, "more than %u reference types in one module",
				WAT_MAX_REFTYPES);
	}
	memcpy(p->reftype[p->nreftypes], enc.p, enc.len);
	p->reftype_len[p->nreftypes] = (uint8_t)enc.len;
	*out = (uint8_t)(0x80 + p->nreftypes++);
	tb_fini(&enc);
	return 0;
}

int wat_valtype(struct wat *p, uint8_t *out)
{
	static const uint8_t map[][2] = {
		{KW_I32, WASM_I32},
		{KW_I64, WASM_I64},
		{KW_F32, WASM_F32},
		{KW_F64, WASM_F64},
		{KW_V128, WASM_V128},
		{KW_FUNCREF, WASM_FUNCREF},
		{KW_EXTERNREF, WASM_EXTERNREF},
		{KW_NULLFUNCREF, HT_NOFUNC},
		{KW_NULLEXTERNREF, HT_NOEXTERN},
		{KW_ANYREF, HT_ANY},
		{KW_EQREF, HT_EQ},
		{KW_I31REF, HT_I31},
		{KW_STRUCTREF, HT_STRUCT},
		{KW_ARRAYREF, HT_ARRAY},
		{KW_NULLREF, HT_NONE},
		{KW_EXNREF, HT_EXN},
		{KW_NULLEXNREF, HT_NOEXN},
	};

	if (wat_at_open(p, KW_REF))
		return ref_valtype(p, out);

	for (size_t i = 0; wat_at(p, TOK_KEYWORD) && i < sizeof(map) / sizeof(map[0]); i++) {
		if (wat_tok(p)->kw == map[i][0]) {
			*out = map[i][1];
			p->pos++;
			return 0;
		}
	}
	return wat_unexpected(p);
}

/* Whether a reference type starts here (wat_reftype would read one). */
static bool at_reftype(struct wat *p)
{
	static const int kws[] = {KW_FUNCREF,  KW_EXTERNREF, KW_NULLFUNCREF, KW_NULLEXTERNREF,
				  KW_ANYREF,   KW_EQREF,     KW_I31REF,	     KW_STRUCTREF,
				  KW_ARRAYREF, KW_NULLREF,   KW_EXNREF,	     KW_NULLEXNREF};

	for (size_t i = 0; i < sizeof(kws) / sizeof(kws[0]); i++)
		if (wat_at_kw(p, kws[i]))
			return true;
	return wat_at_open(p, KW_REF);
}

int wat_reftype(struct wat *p, uint8_t *out)
{
	if (!at_reftype(p))
		return wat_unexpected(p);
	return wat_valtype(p, out);
}

/* The type pool at offset off; NULL while it is empty (only empty signatures so far),
 * where offsetting its NULL pointer would be undefined. */
static const uint8_t *pool_at(const struct wat *p, size_t off)
{
	return p->typepool.p ? p->typepool.p + off : NULL;
}

static bool sig_equal(const struct wat *p, const struct text_functype *f,
		      const struct text_buf *params, const struct text_buf *results)
{
	const uint8_t *b = pool_at(p, f->off);

	return f->nparams == params->len && f->nresults == results->len &&
	       (!params->len || !memcmp(b, params->p, params->len)) &&
	       (!results->len || !memcmp(b + f->nparams, results->p, results->len));
}

static uint32_t sig_hash(const struct text_buf *params, const struct text_buf *results)
{
	uint32_t h = 2166136261u ^ (uint32_t)params->len;

	for (size_t i = 0; i < params->len; i++)
		h = (h ^ params->p[i]) * 16777619u;
	h = (h ^ 0xffu) * 16777619u;
	for (size_t i = 0; i < results->len; i++)
		h = (h ^ results->p[i]) * 16777619u;
	return h;
}

/* The slot of signature params -> results in the signature map: holding the smallest
 * index of a type with it, plus one, or 0 if there is none. */
static uint32_t *sig_slot(const struct wat *p, const struct text_buf *params,
			  const struct text_buf *results)
{
	uint32_t i = sig_hash(params, results) & p->sigmask;

	while (p->sigs[i] && !sig_equal(p, &p->types[p->sigs[i] - 1], params, results))
		i = (i + 1) & p->sigmask;
	return &p->sigs[i];
}

static void sig_bufs(const struct wat *p, size_t idx, struct text_buf *params,
		     struct text_buf *results)
{
	const struct text_functype *f = &p->types[idx];

	memset(params, 0, sizeof(*params));
	memset(results, 0, sizeof(*results));
	params->p = (uint8_t *)pool_at(p, f->off);
	params->len = f->nparams;
	results->p = (uint8_t *)pool_at(p, f->off + f->nparams);
	results->len = f->nresults;
}

static int sigs_grow(struct wat *p)
{
	uint32_t mask = p->sigmask ? p->sigmask * 2 + 1 : 63;
	uint32_t *old = p->sigs;

	p->sigs = core_calloc((size_t)mask + 1, sizeof(*p->sigs));
	if (!p->sigs) {
		p->sigs = old;
		return -ENOMEM;
	}
	core_free(old);
	p->sigmask = mask;
	for (size_t i = 0; i < p->ntypes; i++) {
		struct text_buf pa, re;
		uint32_t *slot;
		if (p->types[i].noinline)
			continue;
		sig_bufs(p, i, &pa, &re);
		slot = sig_slot(p, &pa, &re);
		if (!*slot)
			*slot = (uint32_t)i + 1;
	}
	return 0;
}

/* A new entry in p->types (not yet counted in p->ntypes), or NULL. */
static struct text_functype *new_type(struct wat *p)
{
	struct text_functype *f;

	if (p->ntypes == p->captypes) {
		size_t cap = p->captypes ? p->captypes * 2 : 16;
		f = core_realloc(p->types, cap * sizeof(*f));
		if (!f)
			return NULL;
		p->types = f;
		p->captypes = cap;
	}
	f = &p->types[p->ntypes];
	memset(f, 0, sizeof(*f));
	f->off = p->typepool.len;
	return f;
}

/* A function type; open: a sub type that is not final or has a supertype (its prefix is
 * written already). */
static int add_type_open(struct wat *p, const struct text_buf *params,
			 const struct text_buf *results, bool open)
{
	struct text_functype *f;
	struct text_buf pa, re;
	uint32_t *slot;

	f = new_type(p);
	if (!f)
		return -ENOMEM;
	f->nparams = (uint32_t)params->len;
	f->nresults = (uint32_t)results->len;
	f->comp = 0x60;
	f->noinline = p->in_rec || open;
	tb_append(&p->typepool, params);
	tb_append(&p->typepool, results);
	if (p->typepool.oom)
		return -ENOMEM;
	p->ntypes++;
	if ((p->ntypes + 1) * 2 > p->sigmask && sigs_grow(p))
		return -ENOMEM;
	sig_bufs(p, p->ntypes - 1, &pa, &re);
	slot = sig_slot(p, &pa, &re);
	if (!*slot && !p->types[p->ntypes - 1].noinline)
		*slot = (uint32_t)p->ntypes;
	tb_byte(&p->sec[SEC_TYPE], 0x60);
	tb_u32(&p->sec[SEC_TYPE], (uint32_t)params->len);
	for (size_t i = 0; i < params->len; i++)
		wat_put_valtype(p, &p->sec[SEC_TYPE], params->p[i]);
	tb_u32(&p->sec[SEC_TYPE], (uint32_t)results->len);
	for (size_t i = 0; i < results->len; i++)
		wat_put_valtype(p, &p->sec[SEC_TYPE], results->p[i]);
	if (!p->in_rec)
		p->secn[SEC_TYPE]++;
	return 0;
}

static int add_type(struct wat *p, const struct text_buf *params, const struct text_buf *results)
{
	return add_type_open(p, params, results, false);
}

int wat_type_for(struct wat *p, const struct text_buf *params, const struct text_buf *results,
		 uint32_t *out)
{
	uint32_t *slot = p->sigs ? sig_slot(p, params, results) : NULL;

	if (slot && *slot) {
		*out = *slot - 1;
		return 0;
	}
	if (p->ntypes >= UINT32_MAX)
		return wat_fail(p, wat_tok(p), "too many types");
	*out = (uint32_t)p->ntypes;
	return add_type(p, params, results) ? wat_nomem(p) : 0;
}

static int sig_name(struct text_sig *sig, const struct text_tok *name)
{
	if (sig->nnames == sig->capnames) {
		size_t cap = sig->capnames ? sig->capnames * 2 : 8;
		const struct text_tok **q = core_realloc(sig->names, cap * sizeof(*q));
		if (!q)
			return -ENOMEM;
		sig->names = q;
		sig->capnames = cap;
	}
	sig->names[sig->nnames++] = name;
	return 0;
}

void wat_sig_fini(struct text_sig *sig)
{
	tb_fini(&sig->params);
	tb_fini(&sig->results);
	core_free(sig->names);
	memset(sig, 0, sizeof(*sig));
}

/* (param $id t) | (param t*), or (result t*) when params is false. */
static int sig_clause(struct wat *p, bool param, bool names, struct text_sig *sig)
{
	const struct text_tok *id = NULL;
	uint8_t t;

	open_kw(p);
	if (param && names && wat_at(p, TOK_ID))
		id = &p->t[p->pos++];
	do {
		if (!id && wat_at(p, TOK_RPAR))
			break;
		if (wat_valtype(p, &t))
			return -EINVAL;
		tb_byte(param ? &sig->params : &sig->results, t);
		if (param && names && sig_name(sig, id))
			return wat_nomem(p);
	} while (!id);
	return wat_close(p);
}

int wat_sig_clauses(struct wat *p, bool names, struct text_sig *sig, bool *any)
{
	*any = false;
	while (wat_at_open(p, KW_PARAM)) {
		*any = true;
		if (sig_clause(p, true, names, sig))
			return -EINVAL;
	}
	while (wat_at_open(p, KW_RESULT)) {
		*any = true;
		if (sig_clause(p, false, false, sig))
			return -EINVAL;
	}
	if (sig->params.oom || sig->results.oom)
		return wat_nomem(p);
	/* a clause out of order: (type) first, then params, then results */
	if (wat_at_open(p, KW_PARAM) || wat_at_open(p, KW_TYPE)) {
		p->pos++;
		return wat_unexpected(p);
	}
	return 0;
}

int wat_typeuse(struct wat *p, bool names, struct text_sig *sig, uint32_t *typeidx,
		bool *explicit_idx)
{
	const struct text_tok *at = NULL;
	bool inline_sig;

	*explicit_idx = false;
	if (wat_at_open(p, KW_TYPE)) {
		open_kw(p);
		at = wat_tok(p);
		if (wat_index(p, SP_TYPE, typeidx) || wat_close(p))
			return -EINVAL;
		*explicit_idx = true;
	}
	if (wat_sig_clauses(p, names, sig, &inline_sig))
		return -EINVAL;
	if (!*explicit_idx)
		return wat_type_for(p, &sig->params, &sig->results, typeidx);
	if (*typeidx >= p->ntypes) {
		/* the validator reports an unknown index, unless the text needs the type */
		if (inline_sig)
			return wat_fail(p, at, "unknown type %u", *typeidx);
		return 0;
	}
	if (inline_sig) {
		if (!sig_equal(p, &p->types[*typeidx], &sig->params, &sig->results))
			return wat_fail(p, at, "inline function type does not match type %u",
					*typeidx);
		return 0;
	}
	{
		const struct text_functype *f = &p->types[*typeidx];
		tb_put(&sig->params, pool_at(p, f->off), f->nparams);
		tb_put(&sig->results, pool_at(p, f->off + f->nparams), f->nresults);
		for (uint32_t i = 0; names && i < f->nparams; i++)
			if (sig_name(sig, NULL))
				return wat_nomem(p);
	}
	return 0;
}

/* A storage type (GC fields): a value type, i8 or i16. */
static int storage_type(struct wat *p, uint8_t *out)
{
	if (wat_at_kw(p, KW_I8) || wat_at_kw(p, KW_I16)) {
		*out = wat_at_kw(p, KW_I8) ? 0x78 : 0x77;
		p->pos++;
		return 0;
	}
	return wat_valtype(p, out);
}

/* A field type: storagetype | (mut storagetype), as its binary form into b. */
static int field_type(struct wat *p, struct text_buf *b)
{
	bool mut = wat_at_open(p, KW_MUT);
	uint8_t t;

	if (mut)
		open_kw(p);
	if (storage_type(p, &t) || (mut && wat_close(p)))
		return -EINVAL;
	wat_put_valtype(p, b, t);
	tb_byte(b, mut);
	return 0;
}

static int add_fname(struct wat *p, const struct text_tok *id)
{
	if (p->nfnames == p->capfnames) {
		size_t cap = p->capfnames ? p->capfnames * 2 : 16;
		const struct text_tok **q = core_realloc(p->fnames, cap * sizeof(*q));
		if (!q)
			return wat_nomem(p);
		p->fnames = q;
		p->capfnames = cap;
	}
	p->fnames[p->nfnames++] = id;
	return 0;
}

/* (struct (field $id? ft) | (field ft*))*: the fields into b, their identifiers into
 * p->fnames from f->fname_off. */
static int struct_type(struct wat *p, struct text_functype *f, struct text_buf *b)
{
	char buf[80];

	open_kw(p);
	f->fname_off = p->nfnames;
	while (wat_at_open(p, KW_FIELD)) {
		const struct text_tok *id = NULL;
		open_kw(p);
		if (wat_at(p, TOK_ID)) {
			id = wat_tok(p);
			for (size_t k = f->fname_off; k < p->nfnames; k++) {
				const struct text_tok *o = p->fnames[k];
				if (o && o->len == id->len &&
				    !memcmp(p->lx->src + o->off, p->lx->src + id->off, id->len))
					return wat_fail(p, id, "duplicate field %s",
							text_tok_show(p->lx, id, buf, sizeof(buf)));
			}
			p->pos++;
			if (field_type(p, b) || add_fname(p, id))
				return -EINVAL;
			f->nfields++;
		} else {
			while (!wat_at(p, TOK_RPAR)) {
				if (field_type(p, b) || add_fname(p, NULL))
					return -EINVAL;
				f->nfields++;
			}
		}
		if (wat_close(p))
			return -EINVAL;
	}
	return wat_close(p);
}

/* (type $id? subtype): subtype = (sub final? $super? comptype) | comptype, comptype =
 * (func ...) | (struct ...) | (array fieldtype) */
static int type_field(struct wat *p)
{
	struct text_buf *sec = &p->sec[SEC_TYPE];
	bool sub = false, final = true, has_super = false;
	uint32_t super = 0;
	int rc = 0;

	wat_mark(p, SEC_TYPE, sec->len, wat_tok(p)); /* an invalid type is reported here */
	open_kw(p);
	if (wat_at(p, TOK_ID))
		p->pos++;
	if (wat_at_open(p, KW_SUB)) {
		open_kw(p);
		sub = true;
		final = wat_at_kw(p, KW_FINAL);
		if (final)
			p->pos++;
		if (wat_at_index(p)) {
			if (wat_index(p, SP_TYPE, &super))
				return -EINVAL;
			has_super = true;
		}
		tb_byte(sec, final ? 0x4f : 0x50);
		tb_u32(sec, has_super);
		if (has_super)
			tb_u32(sec, super);
	}
	if (wat_at_open(p, KW_FUNC)) {
		struct text_sig sig = {0};
		open_kw(p);
		while (!rc && wat_at_open(p, KW_PARAM))
			rc = sig_clause(p, true, true, &sig);
		while (!rc && wat_at_open(p, KW_RESULT))
			rc = sig_clause(p, false, false, &sig);
		if (!rc)
			rc = wat_close(p);
		if (!rc && add_type_open(p, &sig.params, &sig.results, !final || has_super))
			rc = wat_nomem(p);
		wat_sig_fini(&sig);
	} else if (wat_at_open(p, KW_STRUCT) || wat_at_open(p, KW_ARRAY)) {
		bool is_struct = wat_at_open(p, KW_STRUCT);
		struct text_functype *f = new_type(p);
		struct text_buf fields = {0};
		if (!f)
			return wat_nomem(p);
		f->noinline = true;
		f->comp = is_struct ? 0x5f : 0x5e;
		if (is_struct) {
			rc = struct_type(p, f, &fields);
		} else {
			open_kw(p);
			f->nfields = 1;
			rc = field_type(p, &fields);
			if (!rc)
				rc = wat_close(p);
		}
		if (!rc) {
			p->ntypes++;
			if (fields.oom)
				rc = wat_nomem(p);
			tb_byte(sec, f->comp);
			if (is_struct)
				tb_u32(sec, f->nfields);
			tb_append(sec, &fields);
			if (!p->in_rec)
				p->secn[SEC_TYPE]++;
		}
		tb_fini(&fields);
	} else {
		return wat_unexpected(p);
	}
	if (!rc && sub)
		rc = wat_close(p);
	return rc ? rc : wat_close(p);
}

static size_t skip_list(const struct wat *p, size_t i);

/* (rec (type ...)*): one recursion group (0x4e), whose types may name each other */
static int rec_field(struct wat *p)
{
	uint32_t n = 0;
	int rc = 0;

	open_kw(p);
	for (size_t j = p->pos; tok_at(p, j)->kind == TOK_LPAR && tok_at(p, j + 1)->kw == KW_TYPE;
	     j = skip_list(p, j))
		n++;
	tb_byte(&p->sec[SEC_TYPE], 0x4e);
	tb_u32(&p->sec[SEC_TYPE], n);
	p->in_rec = true;
	for (uint32_t i = 0; i < n && !rc; i++)
		rc = type_field(p);
	p->in_rec = false;
	p->secn[SEC_TYPE]++;
	return rc ? rc : wat_close(p);
}

/* ----- pass 1: identifiers ----- */

static enum text_space space_of(int kw)
{
	switch (kw) {
	case KW_FUNC:
		return SP_FUNC;
	case KW_TABLE:
		return SP_TABLE;
	case KW_MEMORY:
		return SP_MEM;
	case KW_GLOBAL:
		return SP_GLOBAL;
	case KW_TAG:
		return SP_TAG;
	default:
		return SP_COUNT;
	}
}

/* Imports precede every definition of a function, table, memory or global (6.6.13). */
static int import_order(struct wat *p, const struct text_tok *at)
{
	const char *what = p->defined_func     ? "function"
			   : p->defined_global ? "global"
			   : p->defined_table  ? "table"
			   : p->defined_mem    ? "memory"
					       : NULL;

	return what ? wat_fail(p, at, "import after %s", what) : 0;
}

static void define(struct wat *p, enum text_space sp)
{
	p->defined_func |= sp == SP_FUNC;
	p->defined_table |= sp == SP_TABLE;
	p->defined_mem |= sp == SP_MEM;
	p->defined_global |= sp == SP_GLOBAL;
}

/* Index just past the list opened at i (a '('). */
static size_t skip_list(const struct wat *p, size_t i)
{
	return (size_t)tok_at(p, i)->match + 1;
}

/* (func|table|memory|global $id? (export ...)* (import ...)? ...): binds the identifier,
 * counts inline element and data segments. */
static int scan_def(struct wat *p, size_t i, enum text_space sp)
{
	size_t j = i + 2;
	const struct text_tok *id = NULL;

	if (tok_at(p, j)->kind == TOK_ID)
		id = tok_at(p, j++);
	while (tok_at(p, j)->kind == TOK_LPAR && tok_at(p, j + 1)->kw == KW_EXPORT)
		j = skip_list(p, j);
	if (tok_at(p, j)->kind == TOK_LPAR && tok_at(p, j + 1)->kw == KW_IMPORT) {
		if (import_order(p, tok_at(p, j)))
			return -EINVAL;
	} else {
		define(p, sp);
		if (sp == SP_TABLE && tok_at(p, j)->kind == TOK_KEYWORD &&
		    tok_at(p, j + 1)->kind == TOK_LPAR && tok_at(p, j + 2)->kw == KW_ELEM)
			p->count[SP_ELEM]++;
		if (sp == SP_MEM && tok_at(p, j)->kind == TOK_LPAR &&
		    tok_at(p, j + 1)->kw == KW_DATA)
			p->count[SP_DATA]++;
	}
	return bind(p, sp, id, p->count[sp]++);
}

static int scan_field(struct wat *p, size_t i)
{
	const struct text_tok *kw = tok_at(p, i + 1), *id = tok_at(p, i + 2);

	if (id->kind != TOK_ID)
		id = NULL;
	switch (kw->kind == TOK_KEYWORD ? kw->kw : KW_NONE) {
	case KW_TYPE:
		return bind(p, SP_TYPE, id, p->count[SP_TYPE]++);
	case KW_REC: /* (rec (type $id? ...)*) */
		for (size_t j = i + 2;
		     tok_at(p, j)->kind == TOK_LPAR && tok_at(p, j + 1)->kw == KW_TYPE;
		     j = skip_list(p, j)) {
			const struct text_tok *tid = tok_at(p, j + 2);
			if (bind(p, SP_TYPE, tid->kind == TOK_ID ? tid : NULL, p->count[SP_TYPE]++))
				return -EINVAL;
		}
		return 0;
	case KW_IMPORT: {
		const struct text_tok *desc = tok_at(p, i + 5);
		enum text_space sp = space_of(desc->kw);
		if (tok_at(p, i + 4)->kind != TOK_LPAR || desc->kind != TOK_KEYWORD ||
		    sp == SP_COUNT)
			return 0; /* malformed: reported in order by pass 3 */
		if (import_order(p, tok_at(p, i)))
			return -EINVAL;
		id = tok_at(p, i + 6);
		return bind(p, sp, id->kind == TOK_ID ? id : NULL, p->count[sp]++);
	}
	case KW_FUNC:
	case KW_TABLE:
	case KW_MEMORY:
	case KW_GLOBAL:
	case KW_TAG:
		return scan_def(p, i, space_of(kw->kw));
	case KW_ELEM:
		return bind(p, SP_ELEM, id, p->count[SP_ELEM]++);
	case KW_DATA:
		return bind(p, SP_DATA, id, p->count[SP_DATA]++);
	case KW_EXPORT:
	case KW_START:
		return 0;
	default:
		p->pos = i + 1;
		return wat_unexpected(p);
	}
}

/* ----- pass 3: fields ----- */

/* A name (6.3.4): a string that must be UTF-8; appended as a binary name (5.2.4). */
static int name(struct wat *p, struct text_buf *b)
{
	struct text_buf s = {0};
	int rc = 0;

	if (!wat_at(p, TOK_STRING))
		return wat_unexpected(p);
	text_string(p->lx, wat_tok(p), &s);
	if (s.oom)
		rc = wat_nomem(p);
	else if (!text_utf8_valid(s.p, s.len))
		rc = wat_fail(p, wat_tok(p), "malformed UTF-8 encoding");
	if (!rc) {
		tb_u32(b, (uint32_t)s.len);
		tb_append(b, &s);
		p->pos++;
	}
	tb_fini(&s);
	return rc;
}

/* (export "name")* after a definition's identifier: exports of index idx of kind. */
static int inline_exports(struct wat *p, uint8_t kind, uint32_t idx)
{
	struct text_buf *e = &p->sec[SEC_EXPORT];

	while (wat_at_open(p, KW_EXPORT)) {
		wat_mark(p, SEC_EXPORT, e->len, wat_tok(p));
		open_kw(p);
		if (name(p, e) || wat_close(p))
			return -EINVAL;
		tb_byte(e, kind);
		tb_u32(e, idx);
		p->secn[SEC_EXPORT]++;
	}
	return 0;
}

/* (import "module" "name") of an inline import: writes both names. */
static int inline_import(struct wat *p)
{
	struct text_buf *b = &p->sec[SEC_IMPORT];

	wat_mark(p, SEC_IMPORT, b->len, wat_tok(p));
	open_kw(p);
	if (name(p, b) || name(p, b) || wat_close(p))
		return -EINVAL;
	p->secn[SEC_IMPORT]++;
	return 0;
}

/* The threads proposal's "shared" after a memory's limits: limits flag 2. */
static uint8_t shared(struct wat *p)
{
	if (!wat_at_kw(p, KW_SHARED))
		return 0;
	p->pos++;
	return 0x02;
}

/* memtype (6.4.5): i32? or i64 (3.0 memory64: flag 4), then limits, 64-bit numbers in
 * 3.0 (validation refuses more than 65536 pages for an i32 memory) */
static int memtype(struct wat *p, struct text_buf *b)
{
	const struct text_tok *t;
	uint64_t min, max;
	uint8_t is64 = 0;

	if (wat_at_kw(p, KW_I32)) {
		p->pos++;
	} else if (wat_at_kw(p, KW_I64)) {
		p->pos++;
		is64 = 0x04;
	}
	t = wat_tok(p);
	if (t->kind != TOK_NAT)
		return wat_unexpected(p);
	if (text_nat(p->lx->src + t->off, t->len, &min))
		return wat_fail(p, t, "i64 constant out of range");
	p->pos++;
	t = wat_tok(p);
	if (t->kind != TOK_NAT) {
		tb_byte(b, is64 | shared(p));
		tb_u64(b, min);
		return 0;
	}
	if (text_nat(p->lx->src + t->off, t->len, &max))
		return wat_fail(p, t, "i64 constant out of range");
	p->pos++;
	tb_byte(b, is64 | 0x01 | shared(p));
	tb_u64(b, min);
	tb_u64(b, max);
	return 0;
}

/* tabletype (6.4.6): i32? or i64 (3.0 memory64: flag 4), limits (64-bit numbers, which
 * validation checks against the index type), reftype; encoded reftype first */
static int tabletype(struct wat *p, struct text_buf *b)
{
	struct text_buf lim = {0};
	uint8_t rt, flag = 0;
	uint64_t min, max = 0;
	const struct text_tok *t;
	int rc = 0;

	if (wat_at_kw(p, KW_I32)) {
		p->pos++;
	} else if (wat_at_kw(p, KW_I64)) {
		p->pos++;
		flag = 0x04;
	}
	t = wat_tok(p);
	if (t->kind != TOK_NAT)
		return wat_unexpected(p);
	if (text_nat(p->lx->src + t->off, t->len, &min))
		return wat_fail(p, t, "i64 constant out of range");
	p->pos++;
	t = wat_tok(p);
	if (t->kind == TOK_NAT) {
		if (text_nat(p->lx->src + t->off, t->len, &max))
			return wat_fail(p, t, "i64 constant out of range");
		p->pos++;
		flag |= 0x01;
	}
	tb_byte(&lim, flag);
	tb_u64(&lim, min);
	if (flag & 0x01)
		tb_u64(&lim, max);
	rc = wat_reftype(p, &rt);
	if (!rc) {
		wat_put_valtype(p, b, rt);
		tb_append(b, &lim);
	}
	tb_fini(&lim);
	return rc;
}

/* globaltype (6.4.7): t | (mut t) */
static int globaltype(struct wat *p, struct text_buf *b)
{
	uint8_t t;

	if (wat_at_open(p, KW_MUT)) {
		open_kw(p);
		if (wat_valtype(p, &t) || wat_close(p))
			return -EINVAL;
		wat_put_valtype(p, b, t);
		tb_byte(b, 1);
		return 0;
	}
	if (wat_valtype(p, &t))
		return -EINVAL;
	wat_put_valtype(p, b, t);
	tb_byte(b, 0);
	return 0;
}

/* Function idx's identifier, for the name section (without its '$'). */
static void func_name(struct wat *p, uint32_t idx, const struct text_tok *id)
{
	uint32_t len;
	const char *name = text_id_name(p->lx, id, &len);

	tb_u32(&p->func_names, idx);
	tb_u32(&p->func_names, len);
	tb_put(&p->func_names, name, len);
	p->nfunc_names++;
}

/* A function's locals and body; params come from the type use. */
static int func_code(struct wat *p, const struct text_sig *sig, const struct text_tok *at)
{
	struct text_buf locals = {0}, fn = {0};
	struct text_buf *code = &p->sec[SEC_CODE];
	size_t mark0, nruns = 0;
	int rc = 0;

	names_fini(&p->names[SP_LOCAL]);
	p->nlocals = 0;
	for (size_t i = 0; i < sig->params.len && !rc; i++)
		rc = bind(p, SP_LOCAL, i < sig->nnames ? sig->names[i] : NULL, p->nlocals++);
	while (!rc && wat_at_open(p, KW_LOCAL)) {
		const struct text_tok *id = NULL;
		open_kw(p);
		if (wat_at(p, TOK_ID))
			id = &p->t[p->pos++];
		do {
			uint8_t t;
			if (!id && wat_at(p, TOK_RPAR))
				break;
			rc = wat_valtype(p, &t);
			if (!rc)
				rc = bind(p, SP_LOCAL, id, p->nlocals++);
			tb_byte(&locals, t);
		} while (!rc && !id);
		if (!rc)
			rc = wat_close(p);
	}
	if (rc) {
		tb_fini(&locals);
		return rc;
	}
	/* locals as runs of one type (5.5.13) */
	for (size_t i = 0; i < locals.len; i++)
		nruns += !i || locals.p[i] != locals.p[i - 1];
	tb_u32(&fn, (uint32_t)nruns);
	for (size_t i = 0, j; i < locals.len; i = j) {
		for (j = i; j < locals.len && locals.p[j] == locals.p[i]; j++)
			;
		tb_u32(&fn, (uint32_t)(j - i));
		wat_put_valtype(p, &fn, locals.p[i]);
	}
	if (locals.oom)
		fn.oom = true;
	tb_fini(&locals);
	mark0 = p->npos;
	rc = wat_body(p, &fn);
	if (!rc) {
		size_t base = code->len;
		struct text_buf size = {0};
		tb_u32(&size, (uint32_t)fn.len);
		base += size.len;
		tb_fini(&size);
		wat_mark(p, SEC_CODE, code->len, at);
		tb_u32(code, (uint32_t)fn.len);
		tb_append(code, &fn);
		p->secn[SEC_CODE]++;
		for (size_t i = mark0; i < p->npos; i++) {
			if (p->pos_list[i].sec == 0) {
				p->pos_list[i].sec = SEC_CODE;
				p->pos_list[i].off += (uint32_t)base;
			}
		}
	}
	tb_fini(&fn);
	return rc;
}

/* (func $id? (export ..)* (import ..)? typeuse (local ..)* instr*) */
static int func_field(struct wat *p)
{
	const struct text_tok *at = wat_tok(p);
	struct text_sig sig = {0};
	uint32_t idx = p->count[SP_FUNC]++, typeidx;
	bool import = false, explicit_idx;
	int rc;

	open_kw(p);
	if (wat_at(p, TOK_ID))
		func_name(p, idx, &p->t[p->pos++]);
	rc = inline_exports(p, 0, idx);
	if (!rc && wat_at_open(p, KW_IMPORT)) {
		import = true;
		rc = inline_import(p);
	}
	if (!rc)
		rc = wat_typeuse(p, true, &sig, &typeidx, &explicit_idx);
	if (!rc && import) {
		tb_byte(&p->sec[SEC_IMPORT], 0x00);
		tb_u32(&p->sec[SEC_IMPORT], typeidx);
	} else if (!rc) {
		wat_mark(p, SEC_FUNC, p->sec[SEC_FUNC].len, at);
		tb_u32(&p->sec[SEC_FUNC], typeidx);
		p->secn[SEC_FUNC]++;
		rc = func_code(p, &sig, at);
	}
	wat_sig_fini(&sig);
	return rc ? rc : wat_close(p);
}

/* An active segment's offset: (offset instr*) or one folded instruction (6.6.12). */
static int offset_expr(struct wat *p, struct text_buf *b)
{
	if (wat_at_open(p, KW_OFFSET)) {
		open_kw(p);
		return wat_expr(p, b) || wat_close(p) ? -EINVAL : 0;
	}
	if (!wat_at(p, TOK_LPAR))
		return wat_unexpected(p);
	if (wat_folded(p, b))
		return -EINVAL;
	tb_byte(b, OPC_END);
	return 0;
}

/* The next definition of space sp gets index count[sp]; inline segments are counted
 * as they come. */
static uint32_t next_index(struct wat *p, enum text_space sp)
{
	return p->count[sp]++;
}

/* An active element segment of table `table`, at offset 0, holding the element list
 * written inside (table ... (elem ...)): function indices or element expressions. */
static int inline_elem(struct wat *p, uint32_t table, uint8_t rt, bool is64, uint32_t *n)
{
	struct text_buf items = {0}, *e = &p->sec[SEC_ELEM];
	bool exprs = wat_at(p, TOK_LPAR);
	int rc = 0;

	*n = 0;
	while (!rc && !wat_at(p, TOK_RPAR)) {
		if (exprs) {
			if (wat_at_open(p, KW_ITEM)) {
				open_kw(p);
				rc = wat_expr(p, &items) || wat_close(p) ? -EINVAL : 0;
			} else if (wat_at(p, TOK_LPAR)) {
				rc = wat_folded(p, &items);
				tb_byte(&items, OPC_END);
			} else {
				rc = wat_unexpected(p);
			}
		} else if (rt != WASM_FUNCREF) {
			/* a table of another reference type: (ref.func f) expressions */
			uint32_t f;
			rc = wat_index(p, SP_FUNC, &f);
			tb_byte(&items, 0xd2);
			tb_u32(&items, f);
			tb_byte(&items, OPC_END);
		} else {
			uint32_t f;
			rc = wat_index(p, SP_FUNC, &f);
			tb_u32(&items, f);
		}
		(*n)++;
	}
	exprs = exprs || rt != WASM_FUNCREF;
	if (!rc) {
		/* flavors (5.5.12): 0 = table 0, funcref indices; 2 = any table, elemkind,
		 * indices; 4 = table 0, funcref expressions; 6 = any table, expressions */
		uint32_t flavor =
			(exprs ? 4 : 0) | (table || (exprs && rt != WASM_FUNCREF) ? 2 : 0);
		tb_u32(e, flavor);
		if (flavor & 2)
			tb_u32(e, table);
		tb_byte(e, is64 ? 0x42 : 0x41); /* i32.const 0 (i64 for a 64-bit table) end */
		tb_byte(e, 0x00);
		tb_byte(e, OPC_END);
		if (flavor & 2)
			wat_put_valtype(p, e, exprs ? rt : 0x00);
		tb_u32(e, *n);
		tb_append(e, &items);
		p->secn[SEC_ELEM]++;
		next_index(p, SP_ELEM);
	}
	tb_fini(&items);
	return rc;
}

/* (table $id? (export ..)* (import ..)? tabletype) | (table $id? (export ..)* reftype
 * (elem ...)) */
static int table_field(struct wat *p)
{
	const struct text_tok *at = wat_tok(p);
	uint32_t idx = next_index(p, SP_TABLE), n;
	struct text_buf *t = &p->sec[SEC_TABLE];
	uint8_t rt;
	bool is64 = false;

	open_kw(p);
	if (wat_at(p, TOK_ID))
		p->pos++;
	if (inline_exports(p, 1, idx))
		return -EINVAL;
	if (wat_at_open(p, KW_IMPORT)) {
		if (inline_import(p))
			return -EINVAL;
		tb_byte(&p->sec[SEC_IMPORT], 0x01);
		return tabletype(p, &p->sec[SEC_IMPORT]) || wat_close(p) ? -EINVAL : 0;
	}
	wat_mark(p, SEC_TABLE, t->len, at);
	if (wat_at_kw(p, KW_I64) || wat_at_kw(p, KW_I32)) {
		/* 3.0 memory64: an index type, then limits or the inline form */
		const struct text_tok *nx = tok_at(p, p->pos + 1);
		if (nx->kind != TOK_NAT) {
			is64 = wat_at_kw(p, KW_I64);
			p->pos++;
		}
	}
	if (!at_reftype(p) &&
	    (!wat_at(p, TOK_KEYWORD) || wat_at_kw(p, KW_I64) || wat_at_kw(p, KW_I32))) {
		struct text_buf tt = {0};
		int rc = tabletype(p, &tt);
		p->secn[SEC_TABLE]++;
		if (!rc && !wat_at(p, TOK_RPAR)) {
			/* 3.0: an initialiser expression for the elements */
			tb_byte(t, 0x40);
			tb_byte(t, 0x00);
			tb_append(t, &tt);
			rc = wat_expr(p, t);
		} else if (!rc) {
			tb_append(t, &tt);
		}
		tb_fini(&tt);
		return rc || wat_close(p) ? -EINVAL : 0;
	}
	if (wat_reftype(p, &rt))
		return -EINVAL;
	if (!wat_at_open(p, KW_ELEM))
		return wat_unexpected(p);
	open_kw(p);
	if (inline_elem(p, idx, rt, is64, &n) || wat_close(p))
		return -EINVAL;
	wat_put_valtype(p, t, rt);
	tb_byte(t, is64 ? 0x05 : 0x01);
	tb_u32(t, n);
	tb_u32(t, n);
	p->secn[SEC_TABLE]++;
	return wat_close(p);
}

/* Data strings (6.6.12): any number of strings, concatenated. */
static void datastring(struct wat *p, struct text_buf *b)
{
	while (wat_at(p, TOK_STRING))
		text_string(p->lx, &p->t[p->pos++], b);
}

/* (memory $id? (export ..)* (import ..)? limits) | (memory $id? (export ..)* (data ..)) */
static int memory_field(struct wat *p)
{
	const struct text_tok *at = wat_tok(p);
	uint32_t idx = next_index(p, SP_MEM);
	struct text_buf *m = &p->sec[SEC_MEM];
	bool is64 = false;

	open_kw(p);
	if (wat_at(p, TOK_ID))
		p->pos++;
	if (inline_exports(p, 2, idx))
		return -EINVAL;
	if (wat_at_open(p, KW_IMPORT)) {
		if (inline_import(p))
			return -EINVAL;
		tb_byte(&p->sec[SEC_IMPORT], 0x02);
		return memtype(p, &p->sec[SEC_IMPORT]) || wat_close(p) ? -EINVAL : 0;
	}
	wat_mark(p, SEC_MEM, m->len, at);
	p->secn[SEC_MEM]++;
	if (wat_at_kw(p, KW_I64) && tok_at(p, p->pos + 1)->kind == TOK_LPAR &&
	    tok_at(p, p->pos + 2)->kw == KW_DATA) {
		p->pos++;
		is64 = true;
	}
	if (wat_at_open(p, KW_DATA)) {
		struct text_buf bytes = {0}, *d = &p->sec[SEC_DATA];
		uint64_t pages;
		open_kw(p);
		datastring(p, &bytes);
		pages = (bytes.len + PAGE_BYTES - 1) / PAGE_BYTES;
		tb_byte(m, is64 ? 0x05 : 0x01);
		tb_u32(m, (uint32_t)pages);
		tb_u32(m, (uint32_t)pages);
		/* flavor 0 for memory 0, else 2 with the index (5.5.14) */
		tb_u32(d, idx ? 2 : 0);
		if (idx)
			tb_u32(d, idx);
		tb_byte(d, is64 ? 0x42 : 0x41);
		tb_byte(d, 0x00);
		tb_byte(d, OPC_END);
		tb_u32(d, (uint32_t)bytes.len);
		tb_append(d, &bytes);
		tb_fini(&bytes);
		p->secn[SEC_DATA]++;
		next_index(p, SP_DATA);
		return wat_close(p) || wat_close(p) ? -EINVAL : 0;
	}
	return memtype(p, m) || wat_close(p) ? -EINVAL : 0;
}

/* (global $id? (export ..)* (import ..)? globaltype expr?) */
static int global_field(struct wat *p)
{
	const struct text_tok *at = wat_tok(p);
	uint32_t idx = next_index(p, SP_GLOBAL);
	struct text_buf *g = &p->sec[SEC_GLOBAL];

	open_kw(p);
	if (wat_at(p, TOK_ID))
		p->pos++;
	if (inline_exports(p, 3, idx))
		return -EINVAL;
	if (wat_at_open(p, KW_IMPORT)) {
		if (inline_import(p))
			return -EINVAL;
		tb_byte(&p->sec[SEC_IMPORT], 0x03);
		return globaltype(p, &p->sec[SEC_IMPORT]) || wat_close(p) ? -EINVAL : 0;
	}
	wat_mark(p, SEC_GLOBAL, g->len, at);
	p->secn[SEC_GLOBAL]++;
	if (globaltype(p, g) || wat_expr(p, g))
		return -EINVAL;
	return wat_close(p);
}

/* A tag's type (3.0 exception handling): attribute 0, then a type use's index. */
static int tagtype(struct wat *p, struct text_buf *b)
{
	struct text_sig sig = {0};
	uint32_t typeidx;
	bool explicit_idx;
	int rc = wat_typeuse(p, false, &sig, &typeidx, &explicit_idx);

	wat_sig_fini(&sig);
	if (rc)
		return rc;
	tb_byte(b, 0x00);
	tb_u32(b, typeidx);
	return 0;
}

/* (tag $id? (export ..)* (import ..)? typeuse) */
static int tag_field(struct wat *p)
{
	const struct text_tok *at = wat_tok(p);
	uint32_t idx = next_index(p, SP_TAG);
	struct text_buf *g = &p->sec[SEC_TAG];

	open_kw(p);
	if (wat_at(p, TOK_ID))
		p->pos++;
	if (inline_exports(p, 4, idx))
		return -EINVAL;
	if (wat_at_open(p, KW_IMPORT)) {
		if (inline_import(p))
			return -EINVAL;
		tb_byte(&p->sec[SEC_IMPORT], 0x04);
		return tagtype(p, &p->sec[SEC_IMPORT]) || wat_close(p) ? -EINVAL : 0;
	}
	wat_mark(p, SEC_TAG, g->len, at);
	p->secn[SEC_TAG]++;
	return tagtype(p, g) || wat_close(p) ? -EINVAL : 0;
}

/* (import "module" "name" (func|table|memory|global $id? ...)) */
static int import_field(struct wat *p)
{
	struct text_buf *b = &p->sec[SEC_IMPORT];
	struct text_sig sig = {0};
	uint32_t typeidx, idx;
	bool explicit_idx;
	int kw, rc = 0;

	wat_mark(p, SEC_IMPORT, b->len, wat_tok(p));
	open_kw(p);
	if (name(p, b) || name(p, b))
		return -EINVAL;
	if (!wat_at(p, TOK_LPAR) || tok_at(p, p->pos + 1)->kind != TOK_KEYWORD ||
	    space_of(tok_at(p, p->pos + 1)->kw) == SP_COUNT) {
		if (wat_at(p, TOK_LPAR))
			p->pos++;
		return wat_unexpected(p);
	}
	kw = tok_at(p, p->pos + 1)->kw;
	open_kw(p);
	idx = next_index(p, space_of(kw));
	if (wat_at(p, TOK_ID) && kw == KW_FUNC)
		func_name(p, idx, wat_tok(p));
	if (wat_at(p, TOK_ID))
		p->pos++;
	p->secn[SEC_IMPORT]++;
	switch (kw) {
	case KW_FUNC:
		tb_byte(b, 0x00);
		rc = wat_typeuse(p, true, &sig, &typeidx, &explicit_idx);
		tb_u32(b, typeidx);
		wat_sig_fini(&sig);
		break;
	case KW_TABLE:
		tb_byte(b, 0x01);
		rc = tabletype(p, b);
		break;
	case KW_MEMORY:
		tb_byte(b, 0x02);
		rc = memtype(p, b);
		break;
	case KW_TAG:
		tb_byte(b, 0x04);
		rc = tagtype(p, b);
		break;
	default:
		tb_byte(b, 0x03);
		rc = globaltype(p, b);
		break;
	}
	return rc || wat_close(p) || wat_close(p) ? -EINVAL : 0;
}

/* (export "name" (func|table|memory|global x)) */
static int export_field(struct wat *p)
{
	static const uint8_t kinds[][2] = {
		{KW_FUNC, 0}, {KW_TABLE, 1}, {KW_MEMORY, 2}, {KW_GLOBAL, 3}, {KW_TAG, 4}};
	struct text_buf *e = &p->sec[SEC_EXPORT];
	uint32_t idx;

	wat_mark(p, SEC_EXPORT, e->len, wat_tok(p));
	open_kw(p);
	if (name(p, e))
		return -EINVAL;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		if (wat_at_open(p, kinds[k][0])) {
			open_kw(p);
			if (wat_index(p, space_of(kinds[k][0]), &idx) || wat_close(p))
				return -EINVAL;
			tb_byte(e, kinds[k][1]);
			tb_u32(e, idx);
			p->secn[SEC_EXPORT]++;
			return wat_close(p);
		}
	}
	if (wat_at(p, TOK_LPAR))
		p->pos++;
	return wat_unexpected(p);
}

/* (start x) */
static int start_field(struct wat *p)
{
	const struct text_tok *at = wat_tok(p);
	uint32_t idx;

	open_kw(p);
	if (wat_index(p, SP_FUNC, &idx))
		return -EINVAL;
	if (p->has_start)
		return wat_fail(p, at, "multiple start sections");
	p->has_start = true;
	wat_mark(p, SEC_START, 0, at);
	tb_u32(&p->sec[SEC_START], idx);
	return wat_close(p);
}

/* An element list (6.6.11): 'func' x* | reftype elemexpr*; with `bare`, also x* alone.
 * *exprs tells which form was used. */
static int elemlist(struct wat *p, bool bare, struct text_buf *items, uint32_t *n, uint8_t *rt,
		    bool *exprs)
{
	*n = 0;
	*rt = WASM_FUNCREF;
	*exprs = false;
	if (wat_at_kw(p, KW_FUNC)) {
		p->pos++;
	} else if (at_reftype(p)) {
		if (wat_reftype(p, rt))
			return -EINVAL;
		*exprs = true;
	} else if (!bare) {
		return wat_unexpected(p);
	}
	while (!wat_at(p, TOK_RPAR)) {
		if (!*exprs) {
			uint32_t f;
			if (wat_index(p, SP_FUNC, &f))
				return -EINVAL;
			tb_u32(items, f);
		} else if (wat_at_open(p, KW_ITEM)) {
			open_kw(p);
			if (wat_expr(p, items) || wat_close(p))
				return -EINVAL;
		} else if (wat_at(p, TOK_LPAR)) {
			if (wat_folded(p, items))
				return -EINVAL;
			tb_byte(items, OPC_END);
		} else {
			return wat_unexpected(p);
		}
		(*n)++;
	}
	return 0;
}

/* (elem $id? elemlist) passive | (elem $id? declare elemlist) | (elem $id? (table x)?
 * offset elemlist) active, where an active segment without a table may list bare
 * function indices (the MVP form). */
static int elem_field(struct wat *p)
{
	struct text_buf *e = &p->sec[SEC_ELEM], items = {0}, offset = {0};
	uint32_t table = 0, n, flavor;
	bool active = false, declare = false, explicit_table = false, exprs;
	uint8_t rt;
	int rc = 0;

	wat_mark(p, SEC_ELEM, e->len, wat_tok(p));
	open_kw(p);
	next_index(p, SP_ELEM);
	if (wat_at(p, TOK_ID))
		p->pos++;
	if (wat_at_kw(p, KW_DECLARE)) {
		declare = true;
		p->pos++;
	} else if (wat_at_open(p, KW_TABLE)) {
		open_kw(p);
		explicit_table = active = true;
		rc = wat_index(p, SP_TABLE, &table) || wat_close(p) || offset_expr(p, &offset);
	} else if (wat_at(p, TOK_LPAR) && !at_reftype(p)) {
		active = true;
		rc = offset_expr(p, &offset);
	}
	if (!rc)
		rc = elemlist(p, active && !explicit_table, &items, &n, &rt, &exprs);
	if (!rc) {
		/* flavors (5.5.12): bit 0 passive or declarative, bit 1 explicit table or
		 * declarative, bit 2 expressions */
		if (!active)
			flavor = declare ? 3 : 1;
		else
			flavor = table || (exprs && rt != WASM_FUNCREF) ? 2 : 0;
		flavor |= exprs ? 4 : 0;
		tb_u32(e, flavor);
		if (active && (flavor & 2))
			tb_u32(e, table);
		if (active)
			tb_append(e, &offset);
		if (flavor & 3)
			wat_put_valtype(p, e, exprs ? rt : 0x00);
		tb_u32(e, n);
		tb_append(e, &items);
		p->secn[SEC_ELEM]++;
		rc = wat_close(p);
	}
	tb_fini(&items);
	tb_fini(&offset);
	return rc ? -EINVAL : 0;
}

/* (data $id? string*) passive | (data $id? (memory x)? offset string*) active */
static int data_field(struct wat *p)
{
	struct text_buf *d = &p->sec[SEC_DATA], offset = {0}, bytes = {0};
	uint32_t mem = 0;
	bool active = false;
	int rc = 0;

	wat_mark(p, SEC_DATA, d->len, wat_tok(p));
	open_kw(p);
	next_index(p, SP_DATA);
	if (wat_at(p, TOK_ID))
		p->pos++;
	if (wat_at_open(p, KW_MEMORY)) {
		open_kw(p);
		active = true;
		rc = wat_index(p, SP_MEM, &mem) || wat_close(p) || offset_expr(p, &offset);
	} else if (wat_at(p, TOK_LPAR)) {
		active = true;
		rc = offset_expr(p, &offset);
	}
	if (!rc) {
		datastring(p, &bytes);
		/* flavors (5.5.14): 0 active in memory 0, 1 passive, 2 active with index */
		tb_u32(d, !active ? 1 : mem ? 2 : 0);
		if (active && mem)
			tb_u32(d, mem);
		if (active)
			tb_append(d, &offset);
		tb_u32(d, (uint32_t)bytes.len);
		tb_append(d, &bytes);
		p->secn[SEC_DATA]++;
		rc = wat_close(p);
	}
	tb_fini(&offset);
	tb_fini(&bytes);
	return rc ? -EINVAL : 0;
}

static int field(struct wat *p)
{
	switch (tok_at(p, p->pos + 1)->kw) {
	case KW_TYPE:
	case KW_REC:
		p->pos = skip_list(p, p->pos); /* read in pass 2 */
		return 0;
	case KW_IMPORT:
		return import_field(p);
	case KW_FUNC:
		return func_field(p);
	case KW_TABLE:
		return table_field(p);
	case KW_MEMORY:
		return memory_field(p);
	case KW_GLOBAL:
		return global_field(p);
	case KW_TAG:
		return tag_field(p);
	case KW_EXPORT:
		return export_field(p);
	case KW_START:
		return start_field(p);
	case KW_ELEM:
		return elem_field(p);
	case KW_DATA:
		return data_field(p);
	default:
		p->pos++;
		return wat_unexpected(p);
	}
}

/* ----- the module ----- */

/* The order of sections in a binary (5.5.2): data count before code. */
static const uint8_t section_order[] = {SEC_TYPE,      SEC_IMPORT, SEC_FUNC,   SEC_TABLE, SEC_MEM,
					SEC_TAG,       SEC_GLOBAL, SEC_EXPORT, SEC_START, SEC_ELEM,
					SEC_DATACOUNT, SEC_CODE,   SEC_DATA};

static int cmp_pos(const void *a, const void *b)
{
	const struct wasm_text_pos *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The "name" custom section (Wasm core 2.0, 7.4.2) with the functions' identifiers, so
 * that traps and errors can name them. */
static void name_section(struct wat *p, struct text_buf *bin)
{
	struct text_buf sub = {0}, body = {0};

	tb_u32(&sub, p->nfunc_names);
	tb_append(&sub, &p->func_names);
	tb_u32(&body, 4);
	tb_put(&body, "name", 4);
	tb_byte(&body, 1); /* function names */
	tb_u32(&body, (uint32_t)sub.len);
	tb_append(&body, &sub);
	tb_byte(bin, 0);
	tb_u32(bin, (uint32_t)body.len);
	tb_append(bin, &body);
	tb_fini(&sub);
	tb_fini(&body);
}

/* Writes the binary: header, then each section that has content. */
static int assemble(struct wat *p, struct wasm_text_binary *out)
{
	struct text_buf bin = {0};
	uint32_t start[SEC_MAX] = {0};
	static const uint8_t header[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};

	if (p->uses_data_index)
		tb_u32(&p->sec[SEC_DATACOUNT], p->secn[SEC_DATA]);
	tb_put(&bin, header, sizeof(header));
	for (size_t i = 0; i < sizeof(section_order); i++) {
		uint8_t id = section_order[i];
		struct text_buf body = {0};
		bool vector = id != SEC_START && id != SEC_DATACOUNT;
		if (vector && !p->secn[id])
			continue;
		if (!vector && !p->sec[id].len)
			continue;
		if (vector)
			tb_u32(&body, p->secn[id]);
		start[id] = (uint32_t)body.len; /* relative to the content, fixed below */
		tb_append(&body, &p->sec[id]);
		tb_byte(&bin, id);
		tb_u32(&bin, (uint32_t)body.len);
		start[id] += (uint32_t)bin.len;
		tb_append(&bin, &body);
		tb_fini(&body);
	}
	if (p->nfunc_names)
		name_section(p, &bin);
	for (size_t i = 0; i < SEC_MAX; i++)
		if (p->sec[i].oom)
			bin.oom = true;
	if (bin.oom || bin.len > UINT32_MAX) {
		tb_fini(&bin);
		return bin.oom ? wat_nomem(p) : wat_fail(p, NULL, "module too large");
	}
	out->pos = core_calloc(p->npos ? p->npos : 1, sizeof(*out->pos));
	if (!out->pos) {
		tb_fini(&bin);
		return wat_nomem(p);
	}
	for (size_t i = 0; i < p->npos; i++) {
		const struct text_rawpos *r = &p->pos_list[i];
		if (r->sec == 0 || r->sec >= SEC_MAX || !start[r->sec])
			continue;
		out->pos[out->npos++] =
			(struct wasm_text_pos){start[r->sec] + r->off, r->line, r->col};
	}
	qsort(out->pos, out->npos, sizeof(*out->pos), cmp_pos);
	out->bytes = bin.p;
	out->len = bin.len;
	return 0;
}

/* An error of pass 1 or 2 at field `field` waits until pass 3 has encoded the fields
 * before it: an error there comes first in the text, and so is the one to report. */
static void defer(struct wat *p, size_t field)
{
	if (p->failed && field < p->defer_at) {
		p->defer_at = field;
		p->defer_err = *p->err;
	}
	p->failed = false;
}

/* The fields in tokens [first, end): three passes (parse.h). */
static int module_fields(struct wat *p, size_t first, size_t end)
{
	size_t i;

	p->defer_at = SIZE_MAX;
	for (i = first; i < end; i = skip_list(p, i)) {
		if (tok_at(p, i)->kind != TOK_LPAR || tok_at(p, i + 1)->kind != TOK_KEYWORD) {
			p->pos = tok_at(p, i)->kind == TOK_LPAR ? i + 1 : i;
			wat_unexpected(p);
			defer(p, i);
			break;
		}
		if (scan_field(p, i))
			defer(p, i);
	}
	for (i = first; i < end && i < p->defer_at; i = skip_list(p, i)) {
		if (tok_at(p, i + 1)->kw != KW_TYPE && tok_at(p, i + 1)->kw != KW_REC)
			continue;
		p->pos = i;
		if (tok_at(p, i + 1)->kw == KW_REC ? rec_field(p) : type_field(p)) {
			defer(p, i);
			break;
		}
	}
	memset(p->count, 0, sizeof(p->count));
	p->pos = first;
	while (p->pos < end && p->pos < p->defer_at)
		if (field(p))
			return -EINVAL;
	if (p->defer_at != SIZE_MAX) {
		*p->err = p->defer_err;
		p->failed = true;
		return -EINVAL;
	}
	return 0;
}

static void wat_fini(struct wat *p)
{
	for (size_t i = 0; i < SP_COUNT; i++)
		names_fini(&p->names[i]);
	for (size_t i = 0; i < SEC_MAX; i++)
		tb_fini(&p->sec[i]);
	tb_fini(&p->typepool);
	tb_fini(&p->func_names);
	core_free(p->types);
	core_free(p->sigs);
	core_free(p->fnames);
	core_free(p->labels);
	core_free(p->pos_list);
}

int text_module_encode(const struct text_syntax *syn, const struct text_lexed *lx, size_t first,
		       size_t end, struct wasm_text_binary *out, struct wasm_text_error *err)
{
	struct wat p = {.syn = syn, .lx = lx, .t = lx->toks, .err = err};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = module_fields(&p, first, end);
	if (!rc)
		rc = assemble(&p, out);
	wat_fini(&p);
	if (p.nomem) {
		text_error_at(err, NULL, "out of memory");
		wasm_text_binary_fini(out);
		return -ENOMEM;
	}
	return rc ? -EINVAL : 0;
}

/* A whole source: "(module $id? field*)" or the fields alone (6.6.13). */
int text_source_module(const struct text_syntax *syn, const struct text_lexed *lx,
		       struct wasm_text_binary *out, struct wasm_text_error *err)
{
	const struct text_tok *t = lx->toks;
	size_t first = 0, end = lx->n - 1;

	if (lx->n > 2 && t[0].kind == TOK_LPAR && t[1].kind == TOK_KEYWORD &&
	    t[1].kw == KW_MODULE) {
		first = 2;
		if (t[2].kind == TOK_ID)
			first = 3;
		end = t[0].match;
		if (t[end].kind != TOK_RPAR) {
			text_error_at(err, &t[end], "unexpected end of input");
			return -EINVAL;
		}
		if (end + 1 != lx->n - 1) {
			char buf[80];
			text_error_at(err, &t[end + 1], "unexpected token %s%s",
				      text_tok_show(lx, &t[end + 1], buf, sizeof(buf)),
				      t[end + 1].kind == TOK_LPAR
					      ? " after the module: a module file holds one module "
						"(a .wast script's commands, such as register or "
						"assert_return, are not a module)"
					      : "");
			return -EINVAL;
		}
	}
	return text_module_encode(syn, lx, first, end, out, err);
}

int wasm_text_to_binary(const char *src, size_t len, struct wasm_text_binary *out,
			struct wasm_text_error *err)
{
	struct text_syntax *syn;
	struct text_lexed lx;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	if (text_syntax_create(&syn)) {
		text_error_at(err, NULL, "out of memory");
		return -ENOMEM;
	}
	rc = text_lex(syn, src, len, &lx, err);
	if (!rc) {
		rc = text_source_module(syn, &lx, out, err);
		text_lexed_fini(&lx);
	}
	text_syntax_destroy(syn);
	return rc;
}

void wasm_text_binary_fini(struct wasm_text_binary *b)
{
	core_free(b->bytes);
	core_free(b->pos);
	memset(b, 0, sizeof(*b));
}

int wasm_text_locate(const struct wasm_text_binary *b, int64_t offset, uint32_t *line,
		     uint32_t *col)
{
	size_t lo = 0, hi = b->npos;

	if (offset < 0 || !b->npos || (uint64_t)offset < b->pos[0].offset)
		return -ENOENT;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (b->pos[mid].offset <= (uint64_t)offset)
			lo = mid;
		else
			hi = mid;
	}
	*line = b->pos[lo].line;
	*col = b->pos[lo].col;
	return 0;
}

bool wasm_text_is_text(const uint8_t *src, size_t len)
{
	return len < 4 || memcmp(src, "\0asm", 4) != 0;
}
