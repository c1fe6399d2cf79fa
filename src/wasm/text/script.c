/*
 * The .wast script reader (script.h): commands, actions, expected values, and the three
 * forms of modules, each encoded to a binary as it is read. The script and its text
 * modules share one token array; a quoted module is lexed on its own.
 */
#include "wasm/text/script.h"

#include "core/alloc.h"
#include "wasm/text/parse.h"

#include <errno.h>
#include <string.h>

#define REF_FUNC_CODE 0xd2 /* ref.func (5.4.5) */
#define REF_I31_CODE  0x1c /* ref.i31, 0xFB-prefixed (3.0 GC) */
#define REF_EQ_CODE   0xd3 /* ref.eq (3.0 GC) */

struct wasm_script {
	struct wasm_script_cmd *cmds;
	size_t n, cap;
};

static const struct text_instr *instr_at(const struct wat *w, size_t i)
{
	const struct text_tok *t = &w->t[i < w->lx->n ? i : w->lx->n - 1];

	return t->kind == TOK_KEYWORD && t->instr ? &w->syn->instrs[t->instr - 1] : NULL;
}

static int oom(struct wat *w)
{
	return wat_nomem(w);
}

/* The concatenated bytes of the strings at the cursor, NUL-terminated. */
static int strings(struct wat *w, struct text_buf *b)
{
	while (wat_at(w, TOK_STRING))
		text_string(w->lx, &w->t[w->pos++], b);
	tb_byte(b, 0);
	if (b->oom)
		return oom(w);
	b->len--;
	return 0;
}

static int copy_string(struct wat *w, char **out, size_t *len)
{
	struct text_buf b = {0};

	if (!wat_at(w, TOK_STRING))
		return wat_unexpected(w);
	text_string(w->lx, &w->t[w->pos++], &b);
	tb_byte(&b, 0);
	if (b.oom) {
		tb_fini(&b);
		return oom(w);
	}
	*out = (char *)b.p;
	if (len)
		*len = b.len - 1;
	return 0;
}

static int copy_id(struct wat *w, char **out)
{
	const struct text_tok *t = wat_tok(w);

	const char *name;
	uint32_t len;

	*out = NULL;
	if (t->kind != TOK_ID)
		return 0;
	name = text_id_name(w->lx, t, &len); /* "$" and the name, as the name is compared */
	*out = core_alloc((size_t)len + 2);
	if (!*out)
		return oom(w);
	(*out)[0] = '$';
	memcpy(*out + 1, name, len);
	(*out)[len + 1] = 0;
	w->pos++;
	return 0;
}

/* ----- modules ----- */

static int quote_module(struct wat *w, struct wasm_script_module *m, const struct text_buf *src)
{
	struct text_lexed lx;
	int rc = text_lex(w->syn, (const char *)src->p, src->len, &lx, &m->text_err);

	if (rc == -ENOMEM)
		return oom(w);
	if (!rc) {
		rc = text_source_module(w->syn, &lx, &m->bin, &m->text_err);
		text_lexed_fini(&lx);
		if (rc == -ENOMEM)
			return oom(w);
	}
	m->text_failed = rc != 0;
	return 0;
}

/* (module $id? binary "..."*) | (module $id? quote "..."*) | (module $id? field*) */
static int module(struct wat *w, struct wasm_script_module *m)
{
	size_t end = w->t[w->pos].match;
	int rc = 0;

	w->pos += 2;
	if (wat_at_kw(w, KW_DEFINITION)) {
		m->definition = true;
		w->pos++;
	}
	if (copy_id(w, &m->name))
		return -EINVAL;
	if (wat_at_kw(w, KW_BINARY) || wat_at_kw(w, KW_QUOTE)) {
		struct text_buf b = {0};
		m->form = wat_at_kw(w, KW_BINARY) ? WASM_SCRIPT_BINARY : WASM_SCRIPT_QUOTE;
		w->pos++;
		rc = strings(w, &b);
		if (!rc && m->form == WASM_SCRIPT_QUOTE) {
			rc = quote_module(w, m, &b);
			tb_fini(&b);
		} else if (!rc) {
			m->bin.bytes = b.p;
			m->bin.len = b.len;
		} else {
			tb_fini(&b);
		}
		return rc ? rc : wat_close(w);
	}
	m->form = WASM_SCRIPT_TEXT;
	rc = text_module_encode(w->syn, w->lx, w->pos, end, &m->bin, &m->text_err);
	if (rc == -ENOMEM)
		return oom(w);
	m->text_failed = rc != 0;
	w->pos = end;
	return wat_close(w);
}

/* ----- values ----- */

static int nan_pattern(struct wat *w, bool result, uint8_t *pattern)
{
	if (result && wat_at_kw(w, KW_NAN_CANONICAL))
		*pattern = WASM_SCRIPT_NAN_CANONICAL;
	else if (result && wat_at_kw(w, KW_NAN_ARITHMETIC))
		*pattern = WASM_SCRIPT_NAN_ARITHMETIC;
	else
		return 0;
	w->pos++;
	return 1;
}

static int number(struct wat *w, bool fp, unsigned bits, uint64_t *out)
{
	const struct text_tok *t = wat_tok(w);
	int rc;

	if (t->kind != TOK_NAT && t->kind != TOK_INT && (!fp || t->kind != TOK_FLOAT))
		return wat_unexpected(w);
	rc = fp ? text_float(w->lx->src + t->off, t->len, bits, out)
		: text_int(w->lx->src + t->off, t->len, bits, out);
	if (rc)
		return wat_fail(w, t, "constant out of range");
	w->pos++;
	return 0;
}

static int v128_value(struct wat *w, bool result, struct wasm_script_value *v)
{
	static const struct {
		uint8_t kw, bits;
		bool fp;
	} shapes[] = {{KW_I8X16, 8, false},  {KW_I16X8, 16, false}, {KW_I32X4, 32, false},
		      {KW_I64X2, 64, false}, {KW_F32X4, 32, true},  {KW_F64X2, 64, true}};
	unsigned lanes;

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		if (wat_at_kw(w, shapes[i].kw)) {
			v->lane_bits = shapes[i].bits;
			v->lane_float = shapes[i].fp;
		}
	}
	if (!v->lane_bits)
		return wat_unexpected(w);
	w->pos++;
	lanes = 128u / v->lane_bits;
	for (unsigned i = 0; i < lanes; i++) {
		uint64_t x = 0;
		if (v->lane_float && nan_pattern(w, result, &v->lanes[i]))
			continue;
		if (number(w, v->lane_float, v->lane_bits, &x))
			return -EINVAL;
		for (unsigned k = 0; k < v->lane_bits / 8u; k++)
			v->v.v128[i * v->lane_bits / 8u + k] = (uint8_t)(x >> (8 * k));
	}
	return 0;
}

static int values(struct wat *w, bool result, struct wasm_script_value **out, size_t *n);

/* Frees n values of v and v itself (either's alternatives, recursively). */
static void values_free(struct wasm_script_value *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		values_free(v[i].alts, v[i].nalts);
	core_free(v);
}

/* (t.const n), (v128.const ...), (ref.null t), (ref.extern n); with result, also NaN
 * patterns, (ref.func) and (ref.extern) for any non-null reference. */
static int value(struct wat *w, bool result, struct wasm_script_value *v)
{
	const struct text_instr *in = instr_at(w, w->pos + 1);
	uint64_t x = 0;
	int rc = 0;

	memset(v, 0, sizeof(*v));
	if (result && wat_at_open(w, KW_EITHER)) {
		w->pos += 2;
		v->pattern = WASM_SCRIPT_EITHER;
		if (values(w, true, &v->alts, &v->nalts)) {
			values_free(v->alts, v->nalts);
			v->alts = NULL;
			return -EINVAL;
		}
		if (!v->nalts)
			return wat_unexpected(w);
		v->type = v->alts[0].type;
		return wat_close(w);
	}
	if (wat_at_open(w, KW_REF_EXTERN)) {
		w->pos += 2;
		v->type = WASM_EXTERNREF;
		if (result && wat_at(w, TOK_RPAR))
			v->pattern = WASM_SCRIPT_REF_NONNULL;
		else if (!(rc = number(w, false, 64, &x)))
			v->v.ext = (uintptr_t)x;
		return rc ? rc : wat_close(w);
	}
	if (wat_at_open(w, KW_REF_HOST)) {
		w->pos += 2;
		v->type = WASM_ANYREF;
		v->pattern = WASM_SCRIPT_REF_HOST;
		if (!(rc = number(w, false, 64, &x)))
			v->v.ext = (uintptr_t)x;
		return rc ? rc : wat_close(w);
	}
	if (result && (wat_at_open(w, KW_REF_STRUCT) || wat_at_open(w, KW_REF_ARRAY))) {
		v->type = WASM_ANYREF;
		v->pattern = wat_at_open(w, KW_REF_STRUCT) ? WASM_SCRIPT_REF_STRUCT
							   : WASM_SCRIPT_REF_ARRAY;
		w->pos += 2;
		return wat_close(w);
	}
	if (!wat_at(w, TOK_LPAR) || !in)
		return wat_unexpected(w);
	w->pos += 2;
	switch (in->imm) {
	case IMM_I32:
	case IMM_I64:
		v->type = in->imm == IMM_I32 ? WASM_I32 : WASM_I64;
		rc = number(w, false, in->imm == IMM_I32 ? 32 : 64, &v->v.i64);
		break;
	case IMM_F32:
	case IMM_F64:
		v->type = in->imm == IMM_F32 ? WASM_F32 : WASM_F64;
		if (!nan_pattern(w, result, &v->pattern))
			rc = number(w, true, in->imm == IMM_F32 ? 32 : 64, &v->v.i64);
		break;
	case IMM_V128:
		v->type = WASM_V128;
		rc = v128_value(w, result, v);
		break;
	case IMM_HEAPTYPE:
		/* 3.0: any heap type; as a result, (ref.null) is a null of any type */
		v->pattern = WASM_SCRIPT_REF_NULL;
		v->type = WASM_FUNCREF;
		if (result && wat_at(w, TOK_RPAR))
			break;
		if (wat_at_kw(w, KW_EXTERN) || wat_at_kw(w, KW_NOEXTERN))
			v->type = WASM_EXTERNREF;
		else if (wat_at_kw(w, KW_ANY) || wat_at_kw(w, KW_EQ) || wat_at_kw(w, KW_I31) ||
			 wat_at_kw(w, KW_STRUCT) || wat_at_kw(w, KW_ARRAY) ||
			 wat_at_kw(w, KW_HNONE))
			v->type = WASM_ANYREF; /* GC: a null of the any hierarchy */
		else if (wat_at_kw(w, KW_EXN) || wat_at_kw(w, KW_NOEXN))
			v->type = WASM_EXNREF;
		else if (!wat_at_kw(w, KW_FUNC) && !wat_at_kw(w, KW_NOFUNC) && !wat_at(w, TOK_ID) &&
			 !wat_at(w, TOK_NAT))
			return wat_unexpected(w);
		w->pos++;
		break;
	case IMM_FUNC: /* (ref.func): a result that is any non-null funcref */
		if (!result || in->code != REF_FUNC_CODE)
			return wat_unexpected(w);
		v->type = WASM_FUNCREF;
		v->pattern = WASM_SCRIPT_REF_NONNULL;
		break;
	case IMM_NONE: /* (ref.i31), (ref.eq): a result that is any i31 (eq) reference */
		if (result && in->prefix == PFX_P0 && in->code == REF_EQ_CODE) {
			v->type = WASM_ANYREF;
			v->pattern = WASM_SCRIPT_REF_EQ;
			break;
		}
		if (!result || in->prefix != PFX_PFB || in->code != REF_I31_CODE)
			return wat_unexpected(w);
		v->type = WASM_ANYREF;
		v->pattern = WASM_SCRIPT_REF_I31;
		break;
	default:
		w->pos--;
		return wat_unexpected(w);
	}
	return rc ? rc : wat_close(w);
}

static int values(struct wat *w, bool result, struct wasm_script_value **out, size_t *n)
{
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	while (wat_at(w, TOK_LPAR)) {
		if (*n == cap) {
			struct wasm_script_value *q;
			cap = cap ? cap * 2 : 4;
			q = core_realloc(*out, cap * sizeof(*q));
			if (!q)
				return oom(w);
			*out = q;
		}
		if (value(w, result, &(*out)[*n]))
			return -EINVAL;
		(*n)++;
	}
	return 0;
}

/* (invoke $id? "name" value*) | (get $id? "name") */
static int action(struct wat *w, struct wasm_script_action *a)
{
	if (!wat_at_open(w, KW_INVOKE) && !wat_at_open(w, KW_GET))
		return wat_unexpected(w);
	a->get = wat_at_open(w, KW_GET);
	w->pos += 2;
	if (copy_id(w, &a->module) || copy_string(w, &a->field, &a->field_len))
		return -EINVAL;
	if (!a->get && values(w, false, &a->args, &a->nargs))
		return -EINVAL;
	return wat_close(w);
}

/* ----- commands ----- */

static uint32_t inner_line(const struct wat *w)
{
	const struct text_tok *t = wat_tok(w);

	return t->kind == TOK_LPAR ? t->line : 0;
}

/* assert_malformed, assert_invalid, ...: a module and the expected message. */
static int module_assertion(struct wat *w, struct wasm_script_cmd *c)
{
	if (!wat_at_open(w, KW_MODULE))
		return wat_unexpected(w);
	c->line = inner_line(w);
	if (module(w, &c->module))
		return -EINVAL;
	return copy_string(w, &c->text, NULL);
}

static int command_body(struct wat *w, struct wasm_script_cmd *c, int kw)
{
	switch (kw) {
	case KW_MODULE:
		if (wat_at_kw(w, KW_INSTANCE)) {
			c->kind = WASM_SCRIPT_MODULE_INSTANCE;
			w->pos++;
			return copy_id(w, &c->module.name) || copy_id(w, &c->def) ? -EINVAL : 0;
		}
		c->kind = WASM_SCRIPT_MODULE;
		w->pos -= 2;
		return module(w, &c->module) ? -EINVAL : 1;
	case KW_REGISTER:
		c->kind = WASM_SCRIPT_REGISTER;
		return copy_string(w, &c->as, NULL) || copy_id(w, &c->reg_module) ? -EINVAL : 0;
	case KW_INVOKE:
	case KW_GET:
		c->kind = WASM_SCRIPT_ACTION;
		w->pos -= 2;
		return action(w, &c->action) ? -EINVAL : 1;
	case KW_ASSERT_RETURN:
		c->kind = WASM_SCRIPT_ASSERT_RETURN;
		c->line = inner_line(w);
		return action(w, &c->action) || values(w, true, &c->results, &c->nresults) ? -EINVAL
											   : 0;
	case KW_ASSERT_TRAP:
		if (wat_at_open(w, KW_MODULE)) {
			c->kind = WASM_SCRIPT_ASSERT_TRAP_MODULE;
			return module_assertion(w, c);
		}
		c->kind = WASM_SCRIPT_ASSERT_TRAP;
		c->line = inner_line(w);
		return action(w, &c->action) || copy_string(w, &c->text, NULL) ? -EINVAL : 0;
	case KW_ASSERT_EXCEPTION:
		c->kind = WASM_SCRIPT_ASSERT_EXCEPTION;
		c->line = inner_line(w);
		return action(w, &c->action) ? -EINVAL : 0;
	case KW_ASSERT_EXHAUSTION:
		c->kind = WASM_SCRIPT_ASSERT_EXHAUSTION;
		c->line = inner_line(w);
		return action(w, &c->action) || copy_string(w, &c->text, NULL) ? -EINVAL : 0;
	case KW_ASSERT_MALFORMED:
		c->kind = WASM_SCRIPT_ASSERT_MALFORMED;
		return module_assertion(w, c);
	case KW_ASSERT_INVALID:
		c->kind = WASM_SCRIPT_ASSERT_INVALID;
		return module_assertion(w, c);
	case KW_ASSERT_UNLINKABLE:
		c->kind = WASM_SCRIPT_ASSERT_UNLINKABLE;
		return module_assertion(w, c);
	case KW_ASSERT_UNINSTANTIABLE:
		c->kind = WASM_SCRIPT_ASSERT_UNINSTANTIABLE;
		return module_assertion(w, c);
	default:
		w->pos--;
		return wat_unexpected(w);
	}
}

static void cmd_fini(struct wasm_script_cmd *c)
{
	core_free(c->module.name);
	wasm_text_binary_fini(&c->module.bin);
	core_free(c->action.module);
	core_free(c->action.field);
	core_free(c->action.args);
	values_free(c->results, c->nresults);
	core_free(c->text);
	core_free(c->as);
	core_free(c->reg_module);
	core_free(c->def);
}

static int command(struct wat *w, struct wasm_script *s)
{
	struct wasm_script_cmd *c;
	const struct text_tok *open = wat_tok(w);
	int rc;

	if (!wat_at(w, TOK_LPAR) || w->t[w->pos + 1].kind != TOK_KEYWORD) {
		if (wat_at(w, TOK_LPAR))
			w->pos++;
		return wat_unexpected(w);
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		c = core_realloc(s->cmds, cap * sizeof(*c));
		if (!c)
			return oom(w);
		s->cmds = c;
		s->cap = cap;
	}
	c = &s->cmds[s->n++];
	memset(c, 0, sizeof(*c));
	c->line = open->line;
	w->pos += 2;
	rc = command_body(w, c, w->t[w->pos - 1].kw);
	if (rc == 1) /* the command was a module or an action: it closed itself */
		return 0;
	if (!c->line)
		c->line = open->line;
	return rc ? rc : wat_close(w);
}

static bool is_field(const struct text_tok *t)
{
	static const uint8_t fields[] = {KW_TYPE,   KW_IMPORT, KW_FUNC,	 KW_TABLE, KW_MEMORY,
					 KW_GLOBAL, KW_EXPORT, KW_START, KW_ELEM,  KW_DATA};

	for (size_t i = 0; t->kind == TOK_KEYWORD && i < sizeof(fields); i++)
		if (t->kw == fields[i])
			return true;
	return false;
}

/* A script that starts with a module field is one module: its fields (the reference
 * interpreter's "inline module"). */
static int inline_module(struct wat *w, struct wasm_script *s)
{
	struct wasm_script_cmd *c = core_calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return oom(w);
	s->cmds = c;
	s->n = s->cap = 1;
	c->kind = WASM_SCRIPT_MODULE;
	c->line = w->t[0].line;
	rc = text_module_encode(w->syn, w->lx, 0, w->lx->n - 1, &c->module.bin,
				&c->module.text_err);
	if (rc == -ENOMEM)
		return oom(w);
	c->module.text_failed = rc != 0;
	w->pos = w->lx->n - 1;
	return 0;
}

int wasm_script_parse(const char *src, size_t len, struct wasm_script **out,
		      struct wasm_text_error *err)
{
	struct text_syntax *syn = NULL;
	struct wasm_script *s = core_calloc(1, sizeof(*s));
	struct text_lexed lx = {0};
	struct wat w = {0};
	int rc;

	memset(err, 0, sizeof(*err));
	if (!s || text_syntax_create(&syn)) {
		core_free(s);
		text_error_at(err, NULL, "out of memory");
		return -ENOMEM;
	}
	rc = text_lex(syn, src, len, &lx, err);
	if (!rc) {
		w.syn = syn;
		w.lx = &lx;
		w.t = lx.toks;
		w.err = err;
		if (lx.n > 2 && lx.toks[0].kind == TOK_LPAR && is_field(&lx.toks[1]))
			rc = inline_module(&w, s);
		while (!rc && !wat_at(&w, TOK_EOF))
			rc = command(&w, s);
		text_lexed_fini(&lx);
	}
	text_syntax_destroy(syn);
	if (rc) {
		wasm_script_destroy(s);
		return rc == -ENOMEM || w.nomem ? -ENOMEM : -EINVAL;
	}
	*out = s;
	return 0;
}

size_t wasm_script_count(const struct wasm_script *s)
{
	return s->n;
}

const struct wasm_script_cmd *wasm_script_get(const struct wasm_script *s, size_t i)
{
	return i < s->n ? &s->cmds[i] : NULL;
}

void wasm_script_destroy(struct wasm_script *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		cmd_fini(&s->cmds[i]);
	core_free(s->cmds);
	core_free(s);
}
