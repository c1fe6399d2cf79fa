/*
 * The lexer of the text format (Wasm core 2.0, 6.2 and 6.3): white space, line and
 * nested block comments, and tokens. A token is the longest run of characters other than
 * white space, parentheses and comment starts, strings included as a whole; it is a
 * string, an identifier, a number or a keyword when it has exactly that form, and is
 * "reserved" otherwise, which the reference interpreter reports as an unknown operator.
 * Keywords must be known (keywords.def, the instruction table), so an unknown or
 * obsolete instruction name fails here, with its name. Comments and strings must be
 * UTF-8; a line comment ends at LF or CR, and CR, LF and CR LF each end a line.
 * WebAssembly 3.0 adds identifiers written $"..." (named by the string's bytes) and
 * annotations "(@id ...)", which are checked and dropped.
 */
#include "wasm/text/syntax.h"

#include "core/alloc.h"
#include "wasm/wasm.h"

#include <errno.h>
#include <string.h>

struct lexer {
	const struct text_syntax *syn;
	const uint8_t *s;
	size_t n, i;
	uint32_t line;
	size_t col_pos; /* the column of this offset on the current line is col */
	uint32_t col;
	struct text_lexed *out;
	size_t cap;
	uint32_t *stack; /* indices of the open '(' tokens */
	size_t depth, stack_cap;
	struct wasm_text_error *err;
};

static void newline(struct lexer *L, size_t next)
{
	L->line++;
	L->col_pos = next;
	L->col = 1;
}

/* The column of offset o on the current line (o never goes backwards). */
static uint32_t column(struct lexer *L, size_t o)
{
	for (; L->col_pos < o; L->col_pos++)
		if ((L->s[L->col_pos] & 0xc0) != 0x80)
			L->col++;
	return L->col;
}

static int fail_at(struct lexer *L, size_t o, const char *detail)
{
	struct text_tok t = {.line = L->line, .col = column(L, o)};

	text_error_at(L->err, &t, "%s", detail);
	return -EINVAL;
}

static bool is_idchar(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-./:<=>?@\\^_`|~", c));
}

static bool is_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A newline at offset i (CR LF counts once, at the LF). */
static bool at_newline(const struct lexer *L, size_t i)
{
	return L->s[i] == '\n' || (L->s[i] == '\r' && (i + 1 >= L->n || L->s[i + 1] != '\n'));
}

/* Skips a UTF-8 character at L->i that is not ASCII; fails if it is malformed. */
static int skip_utf8(struct lexer *L)
{
	size_t k = text_utf8_seq(L->s + L->i, L->n - L->i);

	if (!k)
		return fail_at(L, L->i, "malformed UTF-8 encoding");
	L->i += k;
	return 0;
}

static int block_comment(struct lexer *L)
{
	size_t start = L->i;
	uint32_t line = L->line, col = column(L, start);
	unsigned depth = 0;

	while (L->i < L->n) {
		uint8_t c = L->s[L->i];
		if (c == '(' && L->i + 1 < L->n && L->s[L->i + 1] == ';') {
			depth++;
			L->i += 2;
		} else if (c == ';' && L->i + 1 < L->n && L->s[L->i + 1] == ')') {
			L->i += 2;
			if (--depth == 0)
				return 0;
		} else if (c >= 0x80) {
			if (skip_utf8(L))
				return -EINVAL;
		} else {
			if (at_newline(L, L->i))
				newline(L, L->i + 1);
			L->i++;
		}
	}
	L->line = line;
	L->col = col;
	L->col_pos = start;
	return fail_at(L, start, "unclosed comment");
}

static int line_comment(struct lexer *L)
{
	while (L->i < L->n && L->s[L->i] != '\n' && L->s[L->i] != '\r') {
		if (L->s[L->i] >= 0x80) {
			if (skip_utf8(L))
				return -EINVAL;
		} else {
			L->i++;
		}
	}
	return 0;
}

static int skip_space(struct lexer *L)
{
	while (L->i < L->n) {
		uint8_t c = L->s[L->i];
		if (c == ' ' || c == '\t') {
			L->i++;
		} else if (c == '\n' || c == '\r') {
			if (at_newline(L, L->i))
				newline(L, L->i + 1);
			L->i++;
		} else if (c == ';' && L->i + 1 < L->n && L->s[L->i + 1] == ';') {
			if (line_comment(L))
				return -EINVAL;
		} else if (c == '(' && L->i + 1 < L->n && L->s[L->i + 1] == ';') {
			if (block_comment(L))
				return -EINVAL;
		} else {
			break;
		}
	}
	return 0;
}

/* \u{hexnum}: a Unicode scalar value. Returns the length of the escape after "\u", or 0. */
static size_t unicode_escape(const uint8_t *s, size_t n)
{
	uint32_t v = 0;
	size_t i = 1;

	if (n < 3 || s[0] != '{' || !is_hex(s[1]))
		return 0;
	for (; i < n && s[i] != '}'; i++) {
		if (s[i] == '_' && is_hex(s[i - 1]) && i + 1 < n && is_hex(s[i + 1]))
			continue;
		if (!is_hex(s[i]))
			return 0;
		v = v * 16 + (uint32_t)(s[i] <= '9' ? s[i] - '0' : (s[i] | 0x20) - 'a' + 10);
		if (v > 0x10ffff)
			return 0;
	}
	if (i >= n || (v >= 0xd800 && v < 0xe000))
		return 0;
	return i + 1;
}

/* A string literal starting at L->i ('"'); leaves L->i after the closing quote. */
static int string(struct lexer *L)
{
	size_t start = L->i++;

	while (L->i < L->n && L->s[L->i] != '"') {
		uint8_t c = L->s[L->i];
		if (c < 0x20 || c == 0x7f)
			return fail_at(L, L->i, "illegal control character in string literal");
		if (c >= 0x80) {
			if (skip_utf8(L))
				return -EINVAL;
			continue;
		}
		L->i++;
		if (c != '\\')
			continue;
		if (L->i >= L->n)
			break;
		c = L->s[L->i];
		if (strchr("ntr\"'\\", c) && c) {
			L->i++;
		} else if (L->i + 1 < L->n && is_hex(c) && is_hex(L->s[L->i + 1])) {
			L->i += 2;
		} else if (c == 'u' && unicode_escape(L->s + L->i + 1, L->n - L->i - 1)) {
			L->i += 1 + unicode_escape(L->s + L->i + 1, L->n - L->i - 1);
		} else {
			return fail_at(L, L->i - 1, "illegal escape");
		}
	}
	if (L->i >= L->n)
		return fail_at(L, start, "unclosed string literal");
	L->i++;
	return 0;
}

/* ----- numbers (6.3.1, 6.3.2) ----- */

/* digit ('_'? digit)*: the end of the longest match from s, or s when there is none. */
static const char *digits(const char *s, const char *end, bool hex)
{
	const char *p = s;

	while (p < end && (hex ? is_hex((uint8_t)*p) : (*p >= '0' && *p <= '9'))) {
		p++;
		if (p + 1 < end && *p == '_' &&
		    (hex ? is_hex((uint8_t)p[1]) : (p[1] >= '0' && p[1] <= '9')))
			p++;
	}
	return p;
}

/* Classifies s[0..n) as TOK_NAT, TOK_INT or TOK_FLOAT, or returns TOK_EOF if it is not a
 * number. */
static int number_kind(const char *s, size_t n)
{
	const char *p = s, *end = s + n, *q;
	bool sign = false, hex;

	if (p < end && (*p == '+' || *p == '-')) {
		sign = true;
		p++;
	}
	if ((end - p == 3 && !memcmp(p, "inf", 3)) || (end - p == 3 && !memcmp(p, "nan", 3)))
		return TOK_FLOAT;
	if (end - p > 6 && !memcmp(p, "nan:0x", 6))
		return digits(p + 6, end, true) == end && p[6] != '_' ? TOK_FLOAT : TOK_EOF;
	hex = end - p > 2 && p[0] == '0' && p[1] == 'x';
	if (hex)
		p += 2;
	q = digits(p, end, hex);
	if (q == p)
		return TOK_EOF;
	if (q == end)
		return sign ? TOK_INT : TOK_NAT;
	if (*q == '.') {
		const char *f = q + 1;
		q = f < end ? digits(f, end, hex) : f;
	}
	if (q < end && (hex ? (*q == 'p' || *q == 'P') : (*q == 'e' || *q == 'E'))) {
		const char *e = q + 1;
		if (e < end && (*e == '+' || *e == '-'))
			e++;
		q = digits(e, end, false);
		if (q == e)
			return TOK_EOF;
	}
	return q == end ? TOK_FLOAT : TOK_EOF;
}

/* offset=N, align=N: N is a NAT. */
static int memarg_kw(const char *s, size_t n)
{
	if (n > 7 && !memcmp(s, "offset=", 7) && number_kind(s + 7, n - 7) == TOK_NAT)
		return KW_OFFSET_EQ;
	if (n > 6 && !memcmp(s, "align=", 6) && number_kind(s + 6, n - 6) == TOK_NAT)
		return KW_ALIGN_EQ;
	return KW_NONE;
}

/* ----- tokens ----- */

static struct text_tok *push(struct lexer *L, int kind, size_t start)
{
	struct text_lexed *o = L->out;
	struct text_tok *t;

	if (o->n == L->cap) {
		size_t cap = L->cap ? L->cap * 2 : 256;
		struct text_tok *p = core_realloc(o->toks, cap * sizeof(*p));
		if (!p)
			return NULL;
		o->toks = p;
		L->cap = cap;
	}
	t = &o->toks[o->n++];
	memset(t, 0, sizeof(*t));
	t->kind = (uint8_t)kind;
	t->off = (uint32_t)start;
	t->len = (uint32_t)(L->i - start);
	t->line = L->line;
	t->col = column(L, start);
	return t;
}

static int unknown(struct lexer *L, const struct text_tok *t)
{
	char buf[80];
	int op = wasm_legacy_eh_opcode(L->out->src + t->off, t->len);

	text_tok_show(L->out, t, buf, sizeof(buf));
	if (op >= 0) /* try, delegate, rethrow: catch and catch_all are keywords (try_table) */
		text_error_at(L->err, t,
			      "unknown operator %s: legacy exception-handling instruction '%s' "
			      "(0x%02x) " WASM_LEGACY_EH_HINT,
			      buf, wasm_legacy_eh_name((uint32_t)op), (unsigned)op);
	else
		text_error_at(L->err, t, "unknown operator %s", buf);
	return -EINVAL;
}

/* $"..." (3.0): an identifier named by the string's decoded bytes, which must be a
 * non-empty UTF-8 name. */
static int quoted_id(struct lexer *L, struct text_tok *t)
{
	struct text_lexed *o = L->out;
	struct text_tok str = *t;
	size_t at;

	if (!o->names) {
		o->names = core_calloc(1, sizeof(*o->names));
		if (!o->names)
			return -ENOMEM;
	}
	at = o->names->len;
	str.off++;
	str.len--;
	text_string(o, &str, o->names);
	if (o->names->oom)
		return -ENOMEM;
	if (o->names->len - at > UINT32_MAX)
		return fail_at(L, t->off, "identifier too long");
	t->kind = TOK_ID;
	t->quoted = true;
	t->name = (uint32_t)at;
	t->name_len = (uint32_t)(o->names->len - at);
	if (!t->name_len) {
		text_error_at(L->err, t, "empty identifier");
		return -EINVAL;
	}
	if (!text_utf8_valid(o->names->p + at, t->name_len)) {
		text_error_at(L->err, t, "malformed UTF-8 encoding");
		return -EINVAL;
	}
	return 0;
}

/* Classifies the run s[start..L->i) that held `strings` string literals. */
static int classify(struct lexer *L, size_t start, unsigned strings, bool reserved)
{
	const char *s = (const char *)L->s + start;
	size_t n = L->i - start;
	const struct text_word *w;
	struct text_tok *t = push(L, TOK_KEYWORD, start);
	int k;

	if (!t)
		return -ENOMEM;
	/* one string, and the run ends with its closing quote: the run is that string (a
	 * quote after it would have started a second one) */
	if (strings == 1 && s[0] == '"' && s[n - 1] == '"') {
		t->kind = TOK_STRING;
		return 0;
	}
	if (strings == 1 && n > 2 && s[0] == '$' && s[1] == '"' && s[n - 1] == '"' && !reserved)
		return quoted_id(L, t);
	if (strings || reserved)
		return unknown(L, t);
	if (s[0] == '$' && n > 1) {
		t->kind = TOK_ID;
		return 0;
	}
	if (n == 1 && s[0] == '$') {
		text_error_at(L->err, t, "empty identifier");
		return -EINVAL;
	}
	k = number_kind(s, n);
	if (k != TOK_EOF) {
		t->kind = (uint8_t)k;
		return 0;
	}
	if (s[0] < 'a' || s[0] > 'z')
		return unknown(L, t);
	w = text_syntax_find(L->syn, s, n);
	if (w) {
		t->kw = w->kw;
		t->instr = w->instr;
		return 0;
	}
	t->kw = (uint16_t)memarg_kw(s, n);
	return t->kw ? 0 : unknown(L, t);
}

static int run(struct lexer *L)
{
	size_t start = L->i;
	unsigned strings = 0;
	bool reserved = false;

	while (L->i < L->n) {
		uint8_t c = L->s[L->i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' || c == ')')
			break;
		if (c == ';' && L->i + 1 < L->n && L->s[L->i + 1] == ';')
			break;
		if (c == '"') {
			size_t at = L->i, col_pos = L->col_pos;
			uint32_t col = L->col, line = L->line;
			if (string(L)) {
				/* $ and no well-formed string: the reference lexer sees "$" alone
				 */
				if (at == start + 1 && L->s[start] == '$') {
					L->col_pos = col_pos;
					L->col = col;
					L->line = line;
					return fail_at(L, start, "empty identifier");
				}
				return -EINVAL;
			}
			strings++;
		} else if (c >= 0x80) {
			if (skip_utf8(L))
				return -EINVAL;
			reserved = true;
		} else {
			reserved |= !is_idchar(c);
			L->i++;
		}
	}
	return classify(L, start, strings, reserved);
}

/* The id of an annotation at L->i (after "(@"): idchars, or a string naming it by its
 * decoded bytes, which must be a non-empty UTF-8 name. at: the "(@". */
static int annotation_id(struct lexer *L, size_t at)
{
	size_t start = L->i, col_pos = L->col_pos;
	uint32_t col = L->col;
	struct text_tok str = {.off = (uint32_t)start};
	struct text_buf name = {0};
	bool ok;

	if (L->i < L->n && L->s[L->i] == '"') {
		if (string(L)) {
			/* no well-formed string: as the reference lexer, an empty id */
			L->col_pos = col_pos;
			L->col = col;
			return fail_at(L, at, "empty annotation id");
		}
		str.len = (uint32_t)(L->i - start);
		text_string(L->out, &str, &name);
		if (name.oom) {
			tb_fini(&name);
			return -ENOMEM;
		}
		ok = text_utf8_valid(name.p, name.len);
		if (!name.len || !ok) {
			tb_fini(&name);
			return fail_at(L, at,
				       ok ? "empty annotation id" : "malformed UTF-8 encoding");
		}
		tb_fini(&name);
		return 0;
	}
	while (L->i < L->n && is_idchar(L->s[L->i]))
		L->i++;
	return L->i == start ? fail_at(L, at, "empty annotation id") : 0;
}

/* An annotation (3.0's text format, the custom annotations proposal): "(@id" and any
 * tokens with balanced parentheses up to its ")", all of which the lexer drops: Lodge
 * gives no annotation a meaning. Its tokens must still be well-formed: strings, comments,
 * and no character a token cannot hold. */
static int annotation(struct lexer *L)
{
	size_t at = L->i;
	uint32_t line = L->line, col = column(L, at);
	unsigned depth = 1;
	int rc;

	L->i += 2;
	rc = annotation_id(L, at);
	if (rc)
		return rc;
	while (depth) {
		uint8_t c;
		rc = skip_space(L);
		if (rc)
			return rc;
		if (L->i >= L->n) {
			L->line = line;
			L->col = col;
			L->col_pos = at;
			return fail_at(L, at, "unclosed annotation");
		}
		c = L->s[L->i];
		if (c == '(') {
			depth++;
			L->i++;
		} else if (c == ')') {
			depth--;
			L->i++;
		} else if (c == '"') {
			if (string(L))
				return -EINVAL;
		} else if (c >= 0x80) {
			if (!text_utf8_seq(L->s + L->i, L->n - L->i))
				return fail_at(L, L->i, "malformed UTF-8 encoding");
			return fail_at(L, L->i, "illegal character");
		} else if (c < 0x20 || c == 0x7f) {
			return fail_at(L, L->i, "illegal character");
		} else {
			L->i++;
		}
	}
	return 0;
}

static int paren(struct lexer *L, uint8_t c)
{
	size_t start = L->i++;
	struct text_tok *t = push(L, c == '(' ? TOK_LPAR : TOK_RPAR, start);

	if (!t)
		return -ENOMEM;
	if (c == '(') {
		if (L->depth == L->stack_cap) {
			size_t cap = L->stack_cap ? L->stack_cap * 2 : 64;
			uint32_t *p = core_realloc(L->stack, cap * sizeof(*p));
			if (!p)
				return -ENOMEM;
			L->stack = p;
			L->stack_cap = cap;
		}
		L->stack[L->depth++] = (uint32_t)(L->out->n - 1);
	} else if (L->depth) {
		L->out->toks[L->stack[--L->depth]].match = (uint32_t)(L->out->n - 1);
	}
	return 0;
}

static int lex_all(struct lexer *L)
{
	for (;;) {
		int rc = skip_space(L);
		if (rc)
			return rc;
		if (L->i >= L->n)
			break;
		if (L->s[L->i] == '(' && L->i + 1 < L->n && L->s[L->i + 1] == '@')
			rc = annotation(L);
		else if (L->s[L->i] == '(' || L->s[L->i] == ')')
			rc = paren(L, L->s[L->i]);
		else
			rc = run(L);
		if (rc)
			return rc;
	}
	if (!push(L, TOK_EOF, L->i))
		return -ENOMEM;
	while (L->depth)
		L->out->toks[L->stack[--L->depth]].match = (uint32_t)(L->out->n - 1);
	return 0;
}

int text_lex(const struct text_syntax *syn, const char *src, size_t len, struct text_lexed *out,
	     struct wasm_text_error *err)
{
	struct lexer L = {.syn = syn,
			  .s = (const uint8_t *)src,
			  .n = len,
			  .line = 1,
			  .col = 1,
			  .out = out,
			  .err = err};
	int rc;

	memset(out, 0, sizeof(*out));
	out->src = src;
	out->srclen = len;
	if (len > UINT32_MAX - 1) {
		text_error_at(err, NULL, "source too large (%zu bytes; at most 4 GiB)", len);
		return -EINVAL;
	}
	rc = lex_all(&L);
	core_free(L.stack);
	if (rc) {
		if (rc == -ENOMEM)
			text_error_at(err, NULL, "out of memory");
		text_lexed_fini(out);
	}
	return rc;
}

void text_lexed_fini(struct text_lexed *lx)
{
	if (lx->names) {
		tb_fini(lx->names);
		core_free(lx->names);
		lx->names = NULL;
	}
	core_free(lx->toks);
	lx->toks = NULL;
	lx->n = 0;
}
