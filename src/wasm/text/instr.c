/*
 * Instructions of the text format (Wasm core 2.0, 6.5): plain instructions with their
 * immediates, structured blocks with labels (block ... end $l must repeat the label),
 * and folded instructions, which are encoded operands first: (op imm* folded*) is
 * folded* op imm*, and (if bt folded* (then ...) (else ...)) puts the conditions before
 * the if. Immediates are read by kind (text/instr.def); the opcode and what an index
 * refers to are left to the validator, except identifiers, which must be bound.
 */
#include "wasm/text/parse.h"

#include "core/alloc.h"
#include "wasm/wasm.h"

#include <errno.h>
#include <string.h>

static const struct text_instr *instr_of(const struct wat *p, const struct text_tok *t)
{
	return t->kind == TOK_KEYWORD && t->instr ? &p->syn->instrs[t->instr - 1] : NULL;
}

static bool at_structural(const struct wat *p, uint32_t code)
{
	const struct text_instr *in = instr_of(p, wat_tok(p));

	return in && in->prefix == PFX_P0 && in->code == code;
}

static void opcode(struct text_buf *b, const struct text_instr *in)
{
	if (in->prefix) {
		tb_byte(b, in->prefix);
		tb_u32(b, in->code);
	} else {
		tb_byte(b, (uint8_t)in->code);
	}
}

/* GC ref.test/ref.cast t: the code for (ref ht), plus one for (ref null ht), then ht. */
static int cast_imm(struct wat *p, const struct text_instr *in, struct text_buf *o)
{
	struct text_buf t = {0};
	uint8_t vt;
	int rc;

	if (wat_reftype(p, &vt))
		return -EINVAL;
	wat_put_valtype(p, &t, vt);
	if (t.oom || !t.len) {
		tb_fini(&t);
		return wat_fail(p, wat_tok(p), "out of memory");
	}
	rc = 0;
	tb_byte(o, in->prefix);
	if (t.p[0] == 0x64 || t.p[0] == 0x63) { /* (ref ht), (ref null ht) */
		tb_u32(o, in->code + (t.p[0] == 0x63));
		tb_put(o, t.p + 1, t.len - 1);
	} else { /* a shorthand: nullable, its own byte is the heap type */
		tb_u32(o, in->code + 1);
		tb_put(o, t.p, t.len);
	}
	tb_fini(&t);
	return rc;
}

static void mark(struct wat *p, const struct text_buf *b, const struct text_tok *t)
{
	if (p->marking)
		wat_mark(p, 0, b->len, t);
}

static const char *tok_text(const struct wat *p, const struct text_tok *t)
{
	return p->lx->src + t->off;
}

/* ----- labels ----- */

static int label_push(struct wat *p, const struct text_tok *id)
{
	if (p->nlabels == p->caplabels) {
		size_t cap = p->caplabels ? p->caplabels * 2 : 16;
		const struct text_tok **q = core_realloc(p->labels, cap * sizeof(*q));
		if (!q)
			return wat_nomem(p);
		p->labels = q;
		p->caplabels = cap;
	}
	p->labels[p->nlabels++] = id;
	return 0;
}

static bool same_id(const struct wat *p, const struct text_tok *a, const struct text_tok *b)
{
	uint32_t alen, blen;
	const char *an, *bn;

	if (!a || !b)
		return false;
	an = text_id_name(p->lx, a, &alen);
	bn = text_id_name(p->lx, b, &blen);
	return alen == blen && !memcmp(an, bn, alen);
}

/* A label: a NAT (relative depth) or the identifier of an enclosing block. */
static int label_index(struct wat *p, uint32_t *out)
{
	const struct text_tok *t = wat_tok(p);
	char buf[80];

	if (t->kind == TOK_ID) {
		for (size_t i = p->nlabels; i-- > 0;) {
			if (same_id(p, p->labels[i], t)) {
				*out = (uint32_t)(p->nlabels - 1 - i);
				p->pos++;
				return 0;
			}
		}
		return wat_fail(p, t, "unknown label %s",
				text_tok_show(p->lx, t, buf, sizeof(buf)));
	}
	if (t->kind != TOK_NAT)
		return wat_unexpected(p);
	{
		uint64_t v;
		if (text_nat(tok_text(p, t), t->len, &v) || v > UINT32_MAX)
			return wat_fail(p, t, "i32 constant out of range: %s",
					text_tok_show(p->lx, t, buf, sizeof(buf)));
		*out = (uint32_t)v;
	}
	p->pos++;
	return 0;
}

/* The optional label after end or else, which must repeat the block's (6.5.2). */
static int end_label(struct wat *p, const struct text_tok *label)
{
	const struct text_tok *t = wat_tok(p);
	char buf[80];

	if (t->kind != TOK_ID)
		return 0;
	if (!same_id(p, label, t))
		return wat_fail(p, t, "mismatching label %s",
				text_tok_show(p->lx, t, buf, sizeof(buf)));
	p->pos++;
	return 0;
}

/* ----- immediates ----- */

/* blocktype (6.5.2): a type use, encoded as empty, one value type or a type index. */
static int blocktype(struct wat *p, struct text_buf *b)
{
	struct text_sig sig = {0};
	uint32_t idx;
	bool explicit_idx = false, any;
	int rc;

	if (wat_at_open(p, KW_TYPE)) {
		rc = wat_typeuse(p, false, &sig, &idx, &explicit_idx);
		if (!rc)
			tb_s64(b, idx);
	} else {
		rc = wat_sig_clauses(p, false, &sig, &any);
		if (!rc && !sig.params.len && sig.results.len == 0)
			tb_byte(b, 0x40);
		else if (!rc && !sig.params.len && sig.results.len == 1)
			wat_put_valtype(p, b, sig.results.p[0]);
		else if (!rc && !(rc = wat_type_for(p, &sig.params, &sig.results, &idx)))
			tb_s64(b, idx);
	}
	wat_sig_fini(&sig);
	return rc;
}

static int int_literal(struct wat *p, unsigned bits, uint64_t *out)
{
	const struct text_tok *t = wat_tok(p);
	int rc;

	if (t->kind != TOK_NAT && t->kind != TOK_INT)
		return wat_unexpected(p);
	rc = text_int(tok_text(p, t), t->len, bits, out);
	if (rc)
		return wat_fail(p, t, "constant out of range");
	p->pos++;
	return 0;
}

static int float_literal(struct wat *p, unsigned bits, uint64_t *out)
{
	const struct text_tok *t = wat_tok(p);
	int rc;

	if (t->kind != TOK_NAT && t->kind != TOK_INT && t->kind != TOK_FLOAT)
		return wat_unexpected(p);
	rc = text_float(tok_text(p, t), t->len, bits, out);
	if (rc == -ENOMEM)
		return wat_nomem(p);
	if (rc)
		return wat_fail(p, t, "constant out of range");
	p->pos++;
	return 0;
}

static void put_le(struct text_buf *b, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		tb_byte(b, (uint8_t)(v >> (8 * i)));
}

static bool at_number(const struct wat *p)
{
	return wat_at(p, TOK_NAT) || wat_at(p, TOK_INT) || wat_at(p, TOK_FLOAT);
}

/* v128.const shape lane* (6.5.7) */
static int v128_const(struct wat *p, struct text_buf *b)
{
	static const struct {
		uint8_t kw, bits;
		bool fp;
	} shapes[] = {{KW_I8X16, 8, false},  {KW_I16X8, 16, false}, {KW_I32X4, 32, false},
		      {KW_I64X2, 64, false}, {KW_F32X4, 32, true},  {KW_F64X2, 64, true}};
	const struct text_tok *at = wat_tok(p);
	unsigned bits = 0, lanes, n = 0;
	bool fp = false;

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		if (wat_at_kw(p, shapes[i].kw)) {
			bits = shapes[i].bits;
			fp = shapes[i].fp;
		}
	}
	if (!bits)
		return wat_unexpected(p);
	p->pos++;
	lanes = 128 / bits;
	while (at_number(p) && n <= lanes) {
		n++;
		p->pos++;
	}
	if (n != lanes)
		return wat_fail(p, at, "wrong number of lane literals (%u, for %u lanes)", n,
				lanes);
	p->pos -= n;
	for (unsigned i = 0; i < lanes; i++) {
		uint64_t v;
		if (fp ? float_literal(p, bits, &v) : int_literal(p, bits, &v))
			return -EINVAL;
		put_le(b, v, bits / 8);
	}
	return 0;
}

/* A lane index (6.5.7): a NAT that fits a byte. Out of range (above 255, or negative in a
 * shuffle) is "i8 constant out of range", as 3.0 words it (2.0 said "malformed lane index"). */
static int lane(struct wat *p, struct text_buf *b)
{
	const struct text_tok *t = wat_tok(p);
	uint64_t v;

	if (t->kind != TOK_NAT)
		return wat_unexpected(p);
	if (text_nat(tok_text(p, t), t->len, &v) || v > 255)
		return wat_fail(p, t, "i8 constant out of range");
	tb_byte(b, (uint8_t)v);
	p->pos++;
	return 0;
}

/* i8x16.shuffle: exactly 16 lane indices. */
static int shuffle(struct wat *p, const struct text_tok *at, struct text_buf *b)
{
	unsigned n = 0;

	while (at_number(p)) {
		if (n < 16 && !wat_at(p, TOK_NAT))
			return wat_fail(p, wat_tok(p), "i8 constant out of range");
		if (n < 16 && lane(p, b))
			return -EINVAL;
		if (n >= 16)
			p->pos++;
		n++;
	}
	if (n != 16)
		return wat_fail(p, at, "invalid lane length (%u lane indices, 16 needed)", n);
	return 0;
}

/* memarg (6.5.6): memidx? offset=N? align=N?, the alignment a power of two (encoded as
 * log2, with flag 2**6 and the index after it for a memory other than 0). In a lane
 * instruction a lone number is the lane: a memory index there is an identifier, or a
 * number followed by another number or a memarg keyword. */
static int memarg(struct wat *p, const struct text_instr *in, struct text_buf *b, bool lane_next)
{
	uint64_t offset = 0, align = 1ull << in->align;
	const struct text_tok *t = wat_tok(p);
	uint32_t mem = 0;

	if (wat_at(p, TOK_ID) || (wat_at(p, TOK_NAT) && !lane_next)) {
		if (wat_index(p, SP_MEM, &mem))
			return -EINVAL;
	} else if (wat_at(p, TOK_NAT) && p->pos + 1 < p->lx->n) {
		const struct text_tok *n = &p->t[p->pos + 1];
		if ((n->kind == TOK_NAT || n->kw == KW_OFFSET_EQ || n->kw == KW_ALIGN_EQ) &&
		    wat_index(p, SP_MEM, &mem))
			return -EINVAL;
	}
	t = wat_tok(p);

	if (wat_at_kw(p, KW_OFFSET_EQ)) {
		/* 64 bits (3.0 memory64); validation refuses more than 32 for an i32 memory */
		if (text_nat(tok_text(p, t) + 7, t->len - 7, &offset))
			return wat_fail(p, t, "i64 constant out of range (offset)");
		p->pos++;
		t = wat_tok(p);
	}
	if (wat_at_kw(p, KW_ALIGN_EQ)) {
		if (text_nat(tok_text(p, t) + 6, t->len - 6, &align))
			return wat_fail(p, t, "i64 constant out of range (alignment)");
		if (!align || (align & (align - 1)))
			return wat_fail(p, t, "alignment must be a power of two");
		p->pos++;
	}
	tb_u32(b, (uint32_t)__builtin_ctzll(align) | (mem ? 0x40u : 0));
	if (mem)
		tb_u32(b, mem);
	tb_u64(b, offset);
	return 0;
}

/* memidx? for memory.size, memory.grow, memory.fill (0 when omitted). */
static int optional_mem(struct wat *p, uint32_t *mem)
{
	*mem = 0;
	return wat_at_index(p) ? wat_index(p, SP_MEM, mem) : 0;
}

static int optional_table(struct wat *p, uint32_t *idx)
{
	*idx = 0;
	return wat_at_index(p) ? wat_index(p, SP_TABLE, idx) : 0;
}

/* select (result t*)*: the typed form when a result clause is there (6.5.4). */
static int select_imm(struct wat *p, const struct text_instr *in, struct text_buf *o)
{
	struct text_buf types = {0};
	uint8_t t;

	if (!wat_at_open(p, KW_RESULT)) {
		opcode(o, in);
		return 0;
	}
	while (wat_at_open(p, KW_RESULT)) {
		p->pos += 2;
		while (!wat_at(p, TOK_RPAR)) {
			if (wat_valtype(p, &t)) {
				tb_fini(&types);
				return -EINVAL;
			}
			tb_byte(&types, t);
		}
		p->pos++;
	}
	tb_byte(o, 0x1c);
	tb_u32(o, (uint32_t)types.len);
	for (size_t i = 0; i < types.len; i++)
		wat_put_valtype(p, o, types.p[i]);
	tb_fini(&types);
	return 0;
}

static int br_table_imm(struct wat *p, struct text_buf *o)
{
	struct text_buf labels = {0};
	uint32_t n = 0, l;

	while (wat_at_index(p)) {
		if (label_index(p, &l)) {
			tb_fini(&labels);
			return -EINVAL;
		}
		tb_u32(&labels, l);
		n++;
	}
	if (!n)
		return wat_unexpected(p);
	tb_u32(o, n - 1);
	tb_append(o, &labels);
	tb_fini(&labels);
	return 0;
}

static int call_indirect_imm(struct wat *p, const struct text_instr *in, struct text_buf *o)
{
	struct text_sig sig = {0};
	uint32_t table, type;
	bool explicit_idx;
	int rc = optional_table(p, &table);

	if (!rc)
		rc = wat_typeuse(p, false, &sig, &type, &explicit_idx);
	wat_sig_fini(&sig);
	if (rc)
		return rc;
	opcode(o, in);
	tb_u32(o, type);
	tb_u32(o, table);
	return 0;
}

/* table.init x? y: with one index it is the element segment, in table 0 */
static int table_init_imm(struct wat *p, const struct text_instr *in, struct text_buf *o)
{
	uint32_t table = 0, elem;
	const struct text_tok *next = &p->t[p->pos + 1 < p->lx->n ? p->pos + 1 : p->pos];

	if (wat_at_index(p) && (next->kind == TOK_NAT || next->kind == TOK_ID) &&
	    wat_index(p, SP_TABLE, &table))
		return -EINVAL;
	if (wat_index(p, SP_ELEM, &elem))
		return -EINVAL;
	opcode(o, in);
	tb_u32(o, elem);
	tb_u32(o, table);
	return 0;
}

static int index_imm(struct wat *p, const struct text_instr *in, enum text_space sp,
		     struct text_buf *o)
{
	uint32_t idx;

	if (wat_index(p, sp, &idx))
		return -EINVAL;
	opcode(o, in);
	tb_u32(o, idx);
	return 0;
}

/* GC struct.get/set x y: y is a field index or an identifier of type x's fields. */
static int field_imm(struct wat *p, const struct text_instr *in, struct text_buf *o)
{
	const struct text_tok *t;
	uint32_t x, y;
	char buf[80];

	if (wat_index(p, SP_TYPE, &x))
		return -EINVAL;
	t = wat_tok(p);
	if (t->kind == TOK_ID) {
		const struct text_functype *f = x < p->ntypes ? &p->types[x] : NULL;
		bool found = false;
		for (y = 0; f && f->comp == 0x5f && y < f->nfields; y++) {
			if (same_id(p, p->fnames[f->fname_off + y], t)) {
				found = true;
				break;
			}
		}
		if (!found)
			return wat_fail(p, t, "unknown field %s",
					text_tok_show(p->lx, t, buf, sizeof(buf)));
		p->pos++;
	} else {
		uint64_t v;
		if (t->kind != TOK_NAT)
			return wat_unexpected(p);
		if (text_nat(tok_text(p, t), t->len, &v) || v > UINT32_MAX)
			return wat_fail(p, t, "i32 constant out of range: %s",
					text_tok_show(p->lx, t, buf, sizeof(buf)));
		y = (uint32_t)v;
		p->pos++;
	}
	opcode(o, in);
	tb_u32(o, x);
	tb_u32(o, y);
	return 0;
}

/* GC array.new_fixed x n, array.new_data x d, array.new_elem x e, array.copy x y */
static int type_and_imm(struct wat *p, const struct text_instr *in, struct text_buf *o)
{
	uint32_t x, y;
	const struct text_tok *t;
	char buf[80];

	if (wat_index(p, SP_TYPE, &x))
		return -EINVAL;
	switch (in->imm) {
	case IMM_TYPE_N: {
		uint64_t v;
		t = wat_tok(p);
		if (t->kind != TOK_NAT)
			return wat_unexpected(p);
		if (text_nat(tok_text(p, t), t->len, &v) || v > UINT32_MAX)
			return wat_fail(p, t, "i32 constant out of range: %s",
					text_tok_show(p->lx, t, buf, sizeof(buf)));
		y = (uint32_t)v;
		p->pos++;
		break;
	}
	case IMM_TYPE_DATA:
		p->uses_data_index = true;
		if (wat_index(p, SP_DATA, &y))
			return -EINVAL;
		break;
	case IMM_TYPE_ELEM:
		if (wat_index(p, SP_ELEM, &y))
			return -EINVAL;
		break;
	default:
		if (wat_index(p, SP_TYPE, &y))
			return -EINVAL;
		break;
	}
	opcode(o, in);
	tb_u32(o, x);
	tb_u32(o, y);
	return 0;
}

/* A reference type's heap type in binary into h; *nullable says whether it has null. */
static int cast_reftype(struct wat *p, struct text_buf *h, bool *nullable)
{
	struct text_buf t = {0};
	uint8_t vt;

	if (wat_reftype(p, &vt))
		return -EINVAL;
	wat_put_valtype(p, &t, vt);
	if (t.oom || !t.len) {
		tb_fini(&t);
		return wat_fail(p, wat_tok(p), "out of memory");
	}
	if (t.p[0] == 0x64 || t.p[0] == 0x63) { /* (ref ht), (ref null ht) */
		*nullable = t.p[0] == 0x63;
		tb_put(h, t.p + 1, t.len - 1);
	} else { /* a shorthand: nullable, its own byte is the heap type */
		*nullable = true;
		tb_put(h, t.p, t.len);
	}
	tb_fini(&t);
	return 0;
}

/* GC br_on_cast(_fail) l rt1 rt2: flags (bit 0: rt1 nullable, bit 1: rt2), l, ht1, ht2 */
static int br_on_cast_imm(struct wat *p, const struct text_instr *in, struct text_buf *o)
{
	struct text_buf h1 = {0}, h2 = {0};
	bool n1 = false, n2 = false;
	uint32_t l;
	int rc = -EINVAL;

	if (!label_index(p, &l) && !cast_reftype(p, &h1, &n1) && !cast_reftype(p, &h2, &n2)) {
		opcode(o, in);
		tb_byte(o, (uint8_t)(n1 | n2 << 1));
		tb_u32(o, l);
		tb_put(o, h1.p, h1.len);
		tb_put(o, h2.p, h2.len);
		rc = 0;
	}
	tb_fini(&h1);
	tb_fini(&h2);
	return rc;
}

/* The opcode and immediates of a non-block instruction, into o. */
static int op_imm(struct wat *p, const struct text_tok *at, const struct text_instr *in,
		  struct text_buf *o)
{
	uint64_t v;
	uint32_t x, y;

	switch (in->imm) {
	case IMM_NONE:
		opcode(o, in);
		return 0;
	case IMM_LABEL:
		if (label_index(p, &x))
			return -EINVAL;
		opcode(o, in);
		tb_u32(o, x);
		return 0;
	case IMM_BR_TABLE:
		opcode(o, in);
		return br_table_imm(p, o);
	case IMM_FUNC:
		return index_imm(p, in, SP_FUNC, o);
	case IMM_TYPE:
		return index_imm(p, in, SP_TYPE, o);
	case IMM_TAG:
		return index_imm(p, in, SP_TAG, o);
	case IMM_CAST:
		return cast_imm(p, in, o);
	case IMM_FIELD:
		return field_imm(p, in, o);
	case IMM_TYPE_N:
	case IMM_TYPE_DATA:
	case IMM_TYPE_ELEM:
	case IMM_TYPE2:
		return type_and_imm(p, in, o);
	case IMM_BR_ON_CAST:
		return br_on_cast_imm(p, in, o);
	case IMM_CALL_INDIRECT:
		return call_indirect_imm(p, in, o);
	case IMM_SELECT:
		return select_imm(p, in, o);
	case IMM_LOCAL:
		return index_imm(p, in, SP_LOCAL, o);
	case IMM_GLOBAL:
		return index_imm(p, in, SP_GLOBAL, o);
	case IMM_TABLE:
		if (optional_table(p, &x))
			return -EINVAL;
		opcode(o, in);
		tb_u32(o, x);
		return 0;
	case IMM_MEM:
		if (optional_mem(p, &x))
			return -EINVAL;
		opcode(o, in);
		tb_u32(o, x);
		return 0;
	case IMM_MEM2:
		/* memory.copy: both indices or neither */
		x = y = 0;
		if (wat_at_index(p) && (wat_index(p, SP_MEM, &x) || wat_index(p, SP_MEM, &y)))
			return -EINVAL;
		opcode(o, in);
		tb_u32(o, x);
		tb_u32(o, y);
		return 0;
	case IMM_MEMORY_INIT: {
		/* memory.init memidx? dataidx: two indices name the memory first */
		const struct text_tok *next = &p->t[p->pos + 1 < p->lx->n ? p->pos + 1 : p->pos];
		x = 0;
		p->uses_data_index = true;
		if (wat_at_index(p) && (next->kind == TOK_NAT || next->kind == TOK_ID) &&
		    wat_index(p, SP_MEM, &x))
			return -EINVAL;
		if (wat_index(p, SP_DATA, &y))
			return -EINVAL;
		opcode(o, in);
		tb_u32(o, y);
		tb_u32(o, x);
		return 0;
	}
	case IMM_DATA:
		p->uses_data_index = true;
		return index_imm(p, in, SP_DATA, o);
	case IMM_ELEM:
		return index_imm(p, in, SP_ELEM, o);
	case IMM_TABLE_INIT:
		return table_init_imm(p, in, o);
	case IMM_TABLE_COPY:
		x = y = 0;
		if (wat_at_index(p) && (wat_index(p, SP_TABLE, &x) || wat_index(p, SP_TABLE, &y)))
			return -EINVAL;
		opcode(o, in);
		tb_u32(o, x);
		tb_u32(o, y);
		return 0;
	case IMM_I32:
	case IMM_I64:
		if (int_literal(p, in->imm == IMM_I32 ? 32 : 64, &v))
			return -EINVAL;
		opcode(o, in);
		tb_s64(o, in->imm == IMM_I32 ? (int32_t)(uint32_t)v : (int64_t)v);
		return 0;
	case IMM_F32:
	case IMM_F64:
		if (float_literal(p, in->imm == IMM_F32 ? 32 : 64, &v))
			return -EINVAL;
		opcode(o, in);
		put_le(o, v, in->imm == IMM_F32 ? 4 : 8);
		return 0;
	case IMM_V128:
		opcode(o, in);
		return v128_const(p, o);
	case IMM_SHUFFLE:
		opcode(o, in);
		return shuffle(p, at, o);
	case IMM_HEAPTYPE:
		opcode(o, in);
		return wat_heaptype(p, o);
	case IMM_MEMARG:
		opcode(o, in);
		return memarg(p, in, o, false);
	case IMM_LANE:
		opcode(o, in);
		return lane(p, o);
	case IMM_MEMLANE:
		opcode(o, in);
		return memarg(p, in, o, true) || lane(p, o) ? -EINVAL : 0;
	case IMM_FENCE:
		opcode(o, in);
		tb_byte(o, 0x00);
		return 0;
	default: /* IMM_BLOCK and IMM_STRUCT are handled by the callers */
		return wat_fail(p, at, "unexpected token");
	}
}

/* ----- sequences ----- */

/* No instruction at the current token: catch and catch_all there (keywords for try_table's
 * clauses) are the legacy exception-handling instructions, named as such. */
static int not_instr(struct wat *p)
{
	const struct text_tok *t = wat_tok(p);
	int op = t->kind == TOK_KEYWORD ? wasm_legacy_eh_opcode(p->lx->src + t->off, t->len) : -1;
	char buf[80];

	if (op < 0)
		return wat_unexpected(p);
	return wat_fail(p, t,
			"unexpected token %s: legacy exception-handling instruction '%s' "
			"(0x%02x) " WASM_LEGACY_EH_HINT,
			text_tok_show(p->lx, t, buf, sizeof(buf)),
			wasm_legacy_eh_name((uint32_t)op), (unsigned)op);
}

/* try_table's catch clauses (3.0 exception handling): (catch x l), (catch_ref x l),
 * (catch_all l), (catch_all_ref l), as a vector; labels are those outside the try_table. */
static int catches(struct wat *p, struct text_buf *b)
{
	static const int kws[] = {KW_CATCH, KW_CATCH_REF, KW_CATCH_ALL, KW_CATCH_ALL_REF};
	struct text_buf v = {0};
	uint32_t n = 0, x;
	int rc = 0;

	for (;;) {
		int k = 0;
		while (k < 4 && !wat_at_open(p, kws[k]))
			k++;
		if (k == 4)
			break;
		p->pos += 2;
		tb_byte(&v, (uint8_t)k);
		if (k < 2) {
			rc = wat_index(p, SP_TAG, &x);
			if (rc)
				break;
			tb_u32(&v, x);
		}
		rc = label_index(p, &x);
		if (!rc)
			rc = wat_close(p);
		if (rc)
			break;
		tb_u32(&v, x);
		n++;
	}
	if (!rc) {
		tb_u32(b, n);
		tb_append(b, &v);
	}
	tb_fini(&v);
	return rc;
}

static bool at_open_else(const struct wat *p)
{
	const struct text_tok *n = &p->t[p->pos + 1 < p->lx->n ? p->pos + 1 : p->pos];
	const struct text_instr *in = instr_of(p, n);

	return wat_at(p, TOK_LPAR) && in && in->prefix == PFX_P0 && in->code == OPC_ELSE;
}

/*
 * Nested instructions are parsed with a stack of open forms on the heap, not by recursion:
 * a module nested as deeply as WASM_MAX_NESTING blocks (or folded operands nested more
 * deeply still: only memory bounds those) must not exhaust the C stack.
 *   N_PLAIN   block|loop|if|try_table label? blocktype instr* (else instr*)? end
 *   N_BLOCK   (block|loop|try_table label? blocktype instr*)
 *   N_IF_COND (if label? blocktype folded* ...: the conditions, before (then
 *   N_THEN, N_ELSE  ... (then instr*) (else instr*)?)
 *   N_OP      (op immediates folded*): its operands, then the op itself
 * Output goes straight to the caller's buffer, except an N_OP's instruction and an
 * N_IF_COND's head, kept in `buf` until their operands or conditions are written.
 */
enum { N_PLAIN, N_BLOCK, N_IF_COND, N_THEN, N_ELSE, N_OP };

struct nest {
	const struct text_instr *in;
	const struct text_tok *at, *label;
	struct text_buf buf;
	uint8_t kind;
	bool in_else; /* N_PLAIN: after its else */
};

struct nests {
	struct nest *v;
	size_t n, cap;
};

/* Whether a form of that kind is a block whose body is open (an if's is from its then):
 * those count in p->nesting, as the binary's control stack has them. */
static bool is_block(uint8_t kind)
{
	return kind != N_OP && kind != N_IF_COND;
}

/* One more block open, at token t: refused past WASM_MAX_NESTING. */
static int nest_enter(struct wat *p, const struct text_tok *t)
{
	if (p->nesting == WASM_MAX_NESTING)
		return wat_fail(p, t, WASM_NESTING_MSG, WASM_MAX_NESTING);
	p->nesting++;
	return 0;
}

/* Opens a form of that kind at the current token (its first keyword); *out: it. */
static int nest_push(struct wat *p, struct nests *s, uint8_t kind, struct nest **out)
{
	if (is_block(kind) && nest_enter(p, wat_tok(p)))
		return -EINVAL;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct nest *v = core_realloc(s->v, cap * sizeof(*v));
		if (!v) {
			p->nesting -= is_block(kind);
			return wat_nomem(p);
		}
		s->v = v;
		s->cap = cap;
	}
	*out = &s->v[s->n++];
	memset(*out, 0, sizeof(**out));
	(*out)->kind = kind;
	(*out)->at = wat_tok(p);
	return 0;
}

static void nest_pop(struct wat *p, struct nests *s)
{
	struct nest *f = &s->v[--s->n];

	p->nesting -= is_block(f->kind);
	tb_fini(&f->buf);
}

/* A block's start, at its keyword: label? blocktype (catch clauses)?; its label is bound. */
static int block_head(struct wat *p, struct nest *f, const struct text_instr *in,
		      struct text_buf *b)
{
	f->in = in;
	mark(p, b, wat_tok(p));
	p->pos++;
	if (wat_at(p, TOK_ID))
		f->label = &p->t[p->pos++];
	opcode(b, in);
	if (blocktype(p, b) || (in->imm == IMM_TRY_TABLE && catches(p, b)) ||
	    label_push(p, f->label))
		return -EINVAL;
	return 0;
}

/* A folded instruction, at its '('. */
static int open_folded(struct wat *p, struct nests *s, struct text_buf *b)
{
	const struct text_instr *in;
	struct nest *f;

	p->pos++;
	in = instr_of(p, wat_tok(p));
	if (!in)
		return not_instr(p);
	if (in->imm == IMM_STRUCT)
		return wat_unexpected(p);
	if (in->imm == IMM_BLOCK && in->code == OPC_IF) {
		if (nest_push(p, s, N_IF_COND, &f))
			return -EINVAL;
		f->in = in;
		p->pos++;
		if (wat_at(p, TOK_ID))
			f->label = &p->t[p->pos++];
		opcode(&f->buf, in);
		return blocktype(p, &f->buf);
	}
	if (in->imm == IMM_BLOCK || in->imm == IMM_TRY_TABLE)
		return nest_push(p, s, N_BLOCK, &f) || block_head(p, f, in, b) ? -EINVAL : 0;
	if (nest_push(p, s, N_OP, &f))
		return -EINVAL;
	f->in = in;
	p->pos++;
	return op_imm(p, f->at, in, &f->buf);
}

/* An N_OP's operands are written: its ')' ends it. */
static int close_op(struct wat *p, struct nests *s, struct text_buf *b)
{
	struct nest *f = &s->v[s->n - 1];
	int rc = wat_close(p);

	if (!rc) {
		mark(p, b, f->at);
		tb_append(b, &f->buf);
	}
	nest_pop(p, s);
	return rc;
}

/* An if's conditions are written: (then starts its first arm. */
static int if_then(struct wat *p, struct nest *f, struct text_buf *b)
{
	if (!wat_at_open(p, KW_THEN))
		return wat_unexpected(p);
	if (nest_enter(p, f->at))
		return -EINVAL;
	f->kind = N_THEN;
	mark(p, b, f->at);
	tb_append(b, &f->buf);
	if (label_push(p, f->label))
		return -EINVAL;
	p->pos += 2;
	return 0;
}

/* else or end (or another structural keyword) in a plain block's instructions. */
static int plain_struct(struct wat *p, struct nests *s, struct text_buf *b)
{
	struct nest *f = &s->v[s->n - 1];
	int rc;

	if (f->in->code == OPC_IF && !f->in_else && at_structural(p, OPC_ELSE)) {
		tb_byte(b, OPC_ELSE);
		p->pos++;
		f->in_else = true;
		return end_label(p, f->label);
	}
	if (!at_structural(p, OPC_END))
		return wat_unexpected(p);
	tb_byte(b, OPC_END);
	p->pos++;
	rc = end_label(p, f->label);
	p->nlabels--;
	nest_pop(p, s);
	return rc;
}

/* ')' (or the end of input) ends the instructions of the innermost form. */
static int seq_end(struct wat *p, struct nests *s, struct text_buf *b)
{
	struct nest *f = &s->v[s->n - 1];

	if (f->kind == N_PLAIN)
		return wat_unexpected(p); /* wants end */
	if (f->kind != N_BLOCK && wat_close(p))
		return -EINVAL; /* (then ...) or (else ...) */
	if (f->kind == N_THEN && at_open_else(p)) {
		tb_byte(b, OPC_ELSE);
		p->pos += 2;
		f->kind = N_ELSE;
		return 0;
	}
	tb_byte(b, OPC_END);
	p->nlabels--;
	nest_pop(p, s);
	return wat_close(p);
}

/* One step in a sequence of instructions (outermost when f is NULL), at token t. */
static int seq_step(struct wat *p, struct nests *s, struct nest *f, struct text_buf *b)
{
	const struct text_tok *t = wat_tok(p);
	const struct text_instr *in = instr_of(p, t);
	struct nest *g;

	if (t->kind == TOK_RPAR || t->kind == TOK_EOF)
		return seq_end(p, s, b);
	if (t->kind == TOK_LPAR)
		return open_folded(p, s, b);
	if (!in)
		return not_instr(p);
	if (in->imm == IMM_STRUCT)
		return f && f->kind == N_PLAIN ? plain_struct(p, s, b) : wat_unexpected(p);
	if (in->imm == IMM_BLOCK || in->imm == IMM_TRY_TABLE)
		return nest_push(p, s, N_PLAIN, &g) || block_head(p, g, in, b) ? -EINVAL : 0;
	mark(p, b, t);
	p->pos++;
	return op_imm(p, t, in, b);
}

/* Instructions until ')' or the end of input (folded: the one folded instruction at the
 * current '('), however deeply nested. */
static int instrs(struct wat *p, struct text_buf *b, bool folded)
{
	struct nests s = {0};
	int rc = folded ? open_folded(p, &s, b) : 0;

	while (!rc && (s.n || !folded)) {
		struct nest *f = s.n ? &s.v[s.n - 1] : NULL;
		const struct text_tok *t = wat_tok(p);

		if (!f && (t->kind == TOK_RPAR || t->kind == TOK_EOF))
			break;
		if (f && (f->kind == N_OP || f->kind == N_IF_COND)) {
			if (t->kind == TOK_LPAR &&
			    !(f->kind == N_IF_COND && wat_at_open(p, KW_THEN)))
				rc = open_folded(p, &s, b);
			else
				rc = f->kind == N_OP ? close_op(p, &s, b) : if_then(p, f, b);
			continue;
		}
		rc = seq_step(p, &s, f, b);
	}
	while (s.n)
		nest_pop(p, &s);
	core_free(s.v);
	return rc;
}

int wat_folded(struct wat *p, struct text_buf *b)
{
	return instrs(p, b, true);
}

int wat_instrs(struct wat *p, struct text_buf *b)
{
	return instrs(p, b, false);
}

int wat_expr(struct wat *p, struct text_buf *b)
{
	bool marking = p->marking;
	int rc;

	p->marking = false;
	rc = instrs(p, b, false);
	tb_byte(b, OPC_END);
	p->marking = marking;
	return rc;
}

int wat_body(struct wat *p, struct text_buf *b)
{
	int rc;

	p->nlabels = 0;
	p->nesting = 0;
	p->marking = true;
	rc = instrs(p, b, false);
	tb_byte(b, OPC_END);
	p->marking = false;
	return rc;
}
