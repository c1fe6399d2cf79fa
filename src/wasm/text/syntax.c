/*
 * The keyword and instruction tables of the text format, built from wasm/opcodes.def,
 * text/instr.def and text/keywords.def into one hash table of words; the byte buffer the
 * encoder writes into; string literals and UTF-8 (Wasm core 2.0, 6.3.3).
 */
#include "wasm/text/syntax.h"

#include "core/alloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ----- the instruction table ----- */

struct instr_row {
	const char *cname; /* the opcodes.def row name, e.g. I32_TRUNC_SAT_F32_S */
	uint8_t prefix, imm, align, lanes;
	uint32_t code;
};

#include "wasm/text/instr.def"

#define ROW(N, P, C, IMM, A, L) {#N, PFX_##P, IMM, A, L, C},
static const struct instr_row rows[] = {
#define SPECIAL(N, P, C)		ROW(N, P, C, SPECIAL_IMM_##N, 0, 0)
#define UN(N, P, C, TI, TO, E)		ROW(N, P, C, IMM_NONE, 0, 0)
#define BIN(N, P, C, TA, TB, TO, E)	ROW(N, P, C, IMM_NONE, 0, 0)
#define IBIN(N, P, C, T, E)		ROW(N, P, C, IMM_NONE, 0, 0)
#define ICMP(N, P, C, T, NEG, E)	ROW(N, P, C, IMM_NONE, 0, 0)
#define TBIN(N, P, C, T, F)		ROW(N, P, C, IMM_NONE, 0, 0)
#define TUN(N, P, C, TI, TO, F)		ROW(N, P, C, IMM_NONE, 0, 0)
#define LOAD(N, P, C, TO, A, E)		ROW(N, P, C, IMM_MEMARG, A, 0)
#define STORE(N, P, C, TI, A, S)	ROW(N, P, C, IMM_MEMARG, A, 0)
#define TERN(N, P, C, E)		ROW(N, P, C, IMM_NONE, 0, 0)
#define EXTRACT(N, P, C, TO, L, E)	ROW(N, P, C, IMM_LANE, 0, L)
#define REPLACE(N, P, C, TI, L, E)	ROW(N, P, C, IMM_LANE, 0, L)
#define LANEMEM(N, P, C, A, L, ISSTORE) ROW(N, P, C, IMM_MEMLANE, A, L)
#include "wasm/opcodes.def"
};
#undef ROW

static const struct {
	const char *name;
	uint8_t prefix, imm;
	uint32_t code;
} extra_rows[] = {
#define TEXT_INSTR(S, P, C, IMM) {S, PFX_##P, IMM, C},
#include "wasm/text/instr.def"
};

/* threads: the atomic instructions (wasm/atomics.def), named there in full; each takes a
 * memarg but atomic.fence (kind FENCE), which has no immediate in text */
static const struct {
	const char *name;
	uint8_t imm, align;
	uint32_t code;
} atomic_rows[] = {
#define ATOMIC(N, S, C, KIND, T, A) {S, (uint8_t)(#KIND[0] == 'F' ? IMM_FENCE : IMM_MEMARG), A, C},
#include "wasm/atomics.def"
};

static const char *const hidden_rows[] = {
#define TEXT_HIDDEN(N) #N,
#include "wasm/text/instr.def"
};

static const char *const kw_names[] = {
	[KW_NONE] = NULL,
#define KW(N, S) [KW_##N] = S,
#include "wasm/text/keywords.def"
};

/* The row name's part before the first '_' names a type or index space: then that '_'
 * is the text name's '.' (I32_ADD -> i32.add); otherwise the name keeps its '_'s
 * (BR_IF -> br_if). */
static void text_name(const char *cname, char *out, size_t size)
{
	static const char *const dotted[] = {
		"I32",	 "I64",	  "F32",   "F64",    "V128",   "I8X16", "I16X8",  "I32X4",
		"I64X2", "F32X4", "F64X2", "LOCAL",  "GLOBAL", "TABLE", "MEMORY", "REF",
		"DATA",	 "ELEM",  "I31",   "STRUCT", "ARRAY",  "ANY",	"EXTERN"};
	const char *us = strchr(cname, '_');
	size_t i, n = strlen(cname);
	bool dot = false;

	for (i = 0; us && i < sizeof(dotted) / sizeof(dotted[0]); i++)
		if (strlen(dotted[i]) == (size_t)(us - cname) &&
		    !strncmp(cname, dotted[i], (size_t)(us - cname)))
			dot = true;
	for (i = 0; i < n && i + 1 < size; i++) {
		char c = cname[i];
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
		if (dot && cname + i == us)
			out[i] = '.';
	}
	out[i] = 0;
}

static uint32_t hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

static struct text_word *slot(const struct text_syntax *syn, const char *s, size_t n)
{
	uint32_t i = hash(s, n) & syn->mask;

	while (syn->words[i].name &&
	       (syn->words[i].len != n || memcmp(syn->words[i].name, s, n) != 0))
		i = (i + 1) & syn->mask;
	return &syn->words[i];
}

static void add_word(struct text_syntax *syn, const char *s, uint16_t kw, uint16_t instr)
{
	struct text_word *w = slot(syn, s, strlen(s));

	w->name = s;
	w->len = (uint32_t)strlen(s);
	if (kw)
		w->kw = kw;
	if (instr)
		w->instr = instr;
}

static bool hidden(const char *cname)
{
	for (size_t i = 0; i < sizeof(hidden_rows) / sizeof(hidden_rows[0]); i++)
		if (!strcmp(hidden_rows[i], cname))
			return true;
	return false;
}

int text_syntax_create(struct text_syntax **out)
{
	size_t nrows = sizeof(rows) / sizeof(rows[0]),
	       nextra = sizeof(extra_rows) / sizeof(extra_rows[0]),
	       natomic = sizeof(atomic_rows) / sizeof(atomic_rows[0]);
	size_t nkw = sizeof(kw_names) / sizeof(kw_names[0]), slots = 1;
	struct text_syntax *syn = core_calloc(1, sizeof(*syn));

	if (!syn)
		return -ENOMEM;
	while (slots < 2 * (nrows + nextra + natomic + nkw))
		slots *= 2;
	syn->mask = (uint32_t)slots - 1;
	syn->words = core_calloc(slots, sizeof(*syn->words));
	syn->instrs = core_calloc(nrows + nextra + natomic, sizeof(*syn->instrs));
	if (!syn->words || !syn->instrs) {
		text_syntax_destroy(syn);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nrows; i++) {
		struct text_instr *in = &syn->instrs[syn->ninstrs++];
		text_name(rows[i].cname, in->name, sizeof(in->name));
		in->prefix = rows[i].prefix;
		in->imm = rows[i].imm;
		in->align = rows[i].align;
		in->lanes = rows[i].lanes;
		in->code = rows[i].code;
	}
	for (size_t i = 0; i < nextra; i++) {
		struct text_instr *in = &syn->instrs[syn->ninstrs++];
		snprintf(in->name, sizeof(in->name), "%s", extra_rows[i].name);
		in->prefix = extra_rows[i].prefix;
		in->imm = extra_rows[i].imm;
		in->code = extra_rows[i].code;
	}
	for (size_t i = 0; i < natomic; i++) {
		struct text_instr *in = &syn->instrs[syn->ninstrs++];
		snprintf(in->name, sizeof(in->name), "%s", atomic_rows[i].name);
		in->prefix = PFX_PFE;
		in->imm = atomic_rows[i].imm;
		in->align = atomic_rows[i].align;
		in->code = atomic_rows[i].code;
	}
	for (size_t i = 0; i < syn->ninstrs; i++)
		if (i >= nrows || !hidden(rows[i].cname))
			add_word(syn, syn->instrs[i].name, KW_NONE, (uint16_t)(i + 1));
	for (size_t k = 1; k < nkw; k++)
		add_word(syn, kw_names[k], (uint16_t)k, 0);
	*out = syn;
	return 0;
}

void text_syntax_destroy(struct text_syntax *syn)
{
	if (!syn)
		return;
	core_free(syn->words);
	core_free(syn->instrs);
	core_free(syn);
}

const struct text_word *text_syntax_find(const struct text_syntax *syn, const char *s, size_t n)
{
	const struct text_word *w = slot(syn, s, n);

	return w->name ? w : NULL;
}

/* ----- byte buffers ----- */

void tb_put(struct text_buf *b, const void *p, size_t n)
{
	if (b->oom || n == 0)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		uint8_t *q;
		while (cap < b->len + n)
			cap *= 2;
		q = core_realloc(b->p, cap);
		if (!q) {
			b->oom = true;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void tb_byte(struct text_buf *b, uint8_t v)
{
	tb_put(b, &v, 1);
}

void tb_u32(struct text_buf *b, uint32_t v)
{
	uint8_t buf[5];
	size_t n = 0;

	do {
		buf[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			buf[n] |= 0x80;
		n++;
	} while (v);
	tb_put(b, buf, n);
}

void tb_u64(struct text_buf *b, uint64_t v)
{
	uint8_t buf[10];
	size_t n = 0;

	do {
		buf[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			buf[n] |= 0x80;
		n++;
	} while (v);
	tb_put(b, buf, n);
}

void tb_s64(struct text_buf *b, int64_t v)
{
	uint8_t buf[10];
	size_t n = 0;
	bool more = true;

	while (more) {
		uint8_t byte = (uint8_t)((uint64_t)v & 0x7f);
		/* arithmetic shift of a negative number: written out, not left to the compiler */
		v = v < 0 ? (int64_t) ~(~(uint64_t)v >> 7) : (int64_t)((uint64_t)v >> 7);
		if ((v == 0 && !(byte & 0x40)) || (v == -1 && (byte & 0x40)))
			more = false;
		else
			byte |= 0x80;
		buf[n++] = byte;
	}
	tb_put(b, buf, n);
}

void tb_s32(struct text_buf *b, int32_t v)
{
	tb_s64(b, v);
}

void tb_append(struct text_buf *b, const struct text_buf *from)
{
	if (from->oom)
		b->oom = true;
	tb_put(b, from->p, from->len);
}

void tb_fini(struct text_buf *b)
{
	core_free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ----- strings and UTF-8 ----- */

/* The length of the UTF-8 sequence at p (n bytes available), or 0 if it is malformed. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
	uint32_t c;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, c = p[0] & 0x1fu;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, c = p[0] & 0x0fu;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, c = p[0] & 0x07u;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3fu);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return len;
}

bool text_utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t k = utf8_seq(p + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

size_t text_utf8_seq(const uint8_t *p, size_t n)
{
	return utf8_seq(p, n);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void put_utf8(struct text_buf *b, uint32_t c)
{
	uint8_t u[4];

	if (c < 0x80) {
		tb_byte(b, (uint8_t)c);
	} else if (c < 0x800) {
		u[0] = (uint8_t)(0xc0 | c >> 6);
		u[1] = (uint8_t)(0x80 | (c & 0x3f));
		tb_put(b, u, 2);
	} else if (c < 0x10000) {
		u[0] = (uint8_t)(0xe0 | c >> 12);
		u[1] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
		u[2] = (uint8_t)(0x80 | (c & 0x3f));
		tb_put(b, u, 3);
	} else {
		u[0] = (uint8_t)(0xf0 | c >> 18);
		u[1] = (uint8_t)(0x80 | (c >> 12 & 0x3f));
		u[2] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
		u[3] = (uint8_t)(0x80 | (c & 0x3f));
		tb_put(b, u, 4);
	}
}

/* The lexer has checked the escapes, so this only decodes them. */
void text_string(const struct text_lexed *lx, const struct text_tok *t, struct text_buf *b)
{
	const char *s = lx->src + t->off + 1, *end = lx->src + t->off + t->len - 1;

	while (s < end) {
		const char *run = s;
		while (s < end && *s != '\\')
			s++;
		tb_put(b, run, (size_t)(s - run));
		if (s >= end)
			break;
		s++;
		switch (*s) {
		case 'n':
			tb_byte(b, '\n');
			s++;
			break;
		case 't':
			tb_byte(b, '\t');
			s++;
			break;
		case 'r':
			tb_byte(b, '\r');
			s++;
			break;
		case 'u': {
			uint32_t c = 0;
			for (s += 2; *s != '}'; s++)
				if (*s != '_')
					c = c * 16 + (uint32_t)hexval(*s);
			put_utf8(b, c);
			s++;
			break;
		}
		default:
			if (hexval(s[0]) >= 0 && s + 1 < end && hexval(s[1]) >= 0) {
				tb_byte(b, (uint8_t)(hexval(s[0]) * 16 + hexval(s[1])));
				s += 2;
			} else {
				tb_byte(b, (uint8_t)*s++); /* \" \' \\ */
			}
			break;
		}
	}
}

const char *text_id_name(const struct text_lexed *lx, const struct text_tok *t, uint32_t *len)
{
	if (t->quoted) {
		*len = t->name_len;
		return (const char *)lx->names->p + t->name;
	}
	*len = t->len - 1;
	return lx->src + t->off + 1;
}

/* ----- messages ----- */

void text_error_at(struct wasm_text_error *err, const struct text_tok *t, const char *fmt, ...)
{
	va_list ap;

	err->line = t ? t->line : 0;
	err->col = t ? t->col : 0;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
}

const char *text_tok_show(const struct text_lexed *lx, const struct text_tok *t, char *buf,
			  size_t size)
{
	const char *s = lx->src + t->off;
	size_t o = 0;

	if (t->kind == TOK_EOF) {
		snprintf(buf, size, "end of input");
		return buf;
	}
	for (uint32_t i = 0; i < t->len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (o + 9 >= size) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f)
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
	}
	buf[o] = 0;
	return buf;
}
