/*
 * Binary decoder and module-level validation (Wasm core 2.0: chapter 5 "Binary Format",
 * chapter 3 "Validation" for types, imports, exports, limits, constant expressions, segments
 * and the start function). Function bodies are handed to the compiler (compile.c), which
 * validates them while it translates. Owns struct wasm_module; the module never points into
 * the caller's bytes. Every count read from the input is checked against the bytes left
 * before anything is allocated for it.
 */
#include "wasm/internal.h"

#include "core/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int wasm_fail(struct wasm_error *err, enum wasm_error_kind kind, const char *section, int64_t func,
	      int64_t off, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return kind == WASM_ERR_NOMEM ? -ENOMEM : -EINVAL;
	err->kind = kind;
	err->section = section;
	err->func = func;
	err->offset = off;
	err->instr = -1;
	err->trap = WASM_TRAP_NONE;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
	return kind == WASM_ERR_NOMEM ? -ENOMEM : -EINVAL;
}

void wasm_error_format(const struct wasm_error *err, char *buf, size_t size)
{
	static const char *const kinds[] = {
		[WASM_ERR_NONE] = "no error",
		[WASM_ERR_MALFORMED] = "malformed module",
		[WASM_ERR_INVALID] = "invalid module",
		[WASM_ERR_LIMIT] = "implementation limit",
		[WASM_ERR_UNLINKABLE] = "link error",
		[WASM_ERR_UNINSTANTIABLE] = "instantiation failed",
		[WASM_ERR_NOMEM] = "out of memory",
	};
	char where[96] = "";
	size_t n = 0;

	if (err->section)
		n += (size_t)snprintf(where + n, sizeof(where) - n, "section %s, ", err->section);
	if (err->func >= 0 && n < sizeof(where))
		n += (size_t)snprintf(where + n, sizeof(where) - n, "function %lld, ",
				      (long long)err->func);
	if (err->offset >= 0 && n < sizeof(where))
		snprintf(where + n, sizeof(where) - n, "offset 0x%llx, ", (long long)err->offset);
	snprintf(buf, size, "%s: %s%s", kinds[err->kind], where, err->detail);
}

int wasm_rd_fail(struct wasm_reader *r, enum wasm_error_kind kind, const char *fmt, ...)
{
	va_list ap;
	char detail[sizeof(r->err->detail)];

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return wasm_fail(r->err, kind, r->section, r->func, r->p - r->base, "%s", detail);
}

int wasm_rd_eof(struct wasm_reader *r)
{
	return wasm_rd_fail(r, WASM_ERR_MALFORMED, "%s",
			    r->bounded ? "unexpected end of section or function"
				       : "unexpected end");
}

int wasm_rd_u8(struct wasm_reader *r, uint8_t *out)
{
	*out = 0;
	if (r->p >= r->end)
		return wasm_rd_eof(r);
	*out = *r->p++;
	return 0;
}

/* LEB128 with at most `bits` significant bits (5.2.2): the last byte may not continue and
 * its unused bits must be zero (unsigned) or copies of the sign bit (signed). */
static int rd_leb(struct wasm_reader *r, unsigned bits, bool sign, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b;

	*out = 0;
	for (;;) {
		if (r->p >= r->end)
			return wasm_rd_eof(r);
		b = *r->p++;
		if (bits - shift < 7) {
			unsigned left = bits - shift;
			if (b & 0x80)
				return wasm_rd_fail(r, WASM_ERR_MALFORMED,
						    "integer representation too long");
			if (!sign && (b >> left) != 0)
				return wasm_rd_fail(r, WASM_ERR_MALFORMED, "integer too large");
			if (sign) {
				uint8_t mask = (uint8_t)(0x7fu & ~((1u << (left - 1)) - 1));
				if ((b & mask) != 0 && (b & mask) != mask)
					return wasm_rd_fail(r, WASM_ERR_MALFORMED,
							    "integer too large");
			}
			v |= (uint64_t)(b & 0x7f) << shift;
			shift += 7;
			break;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	if (sign && shift < 64 && (b & 0x40))
		v |= ~0ull << shift;
	*out = v;
	return 0;
}

int wasm_rd_u32(struct wasm_reader *r, uint32_t *out)
{
	uint64_t v;
	int rc = rd_leb(r, 32, false, &v);

	*out = (uint32_t)v;
	return rc;
}

int wasm_rd_u64(struct wasm_reader *r, uint64_t *out)
{
	return rd_leb(r, 64, false, out);
}

int wasm_rd_s32(struct wasm_reader *r, int32_t *out)
{
	uint64_t v;
	int rc = rd_leb(r, 32, true, &v);

	*out = (int32_t)(uint32_t)v;
	return rc;
}

int wasm_rd_s33(struct wasm_reader *r, int64_t *out)
{
	uint64_t v;
	int rc = rd_leb(r, 33, true, &v);

	*out = (int64_t)v;
	return rc;
}

int wasm_rd_s64(struct wasm_reader *r, int64_t *out)
{
	uint64_t v;
	int rc = rd_leb(r, 64, true, &v);

	*out = (int64_t)v;
	return rc;
}

int wasm_rd_bytes(struct wasm_reader *r, size_t n, const uint8_t **out)
{
	*out = r->p;
	if ((size_t)(r->end - r->p) < n)
		return wasm_rd_eof(r);
	r->p += n;
	return 0;
}

#define TRY(x)                                                                                     \
	do {                                                                                       \
		int rc_ = (x);                                                                     \
		if (rc_ < 0)                                                                       \
			return rc_;                                                                \
	} while (0)

static bool is_numtype(uint8_t t)
{
	return t == WASM_I32 || t == WASM_I64 || t == WASM_F32 || t == WASM_F64 || t == WASM_V128;
}

/* The abstract heap types 3.0 without GC has (their codes are their s33 bytes). */
static bool is_abstract_heap(uint8_t b)
{
	return b == WASM_FUNCREF || b == WASM_EXTERNREF || b == WASM_HT_NOFUNC ||
	       b == WASM_HT_NOEXTERN || b == WASM_HT_EXN || b == WASM_HT_NOEXN ||
	       b == WASM_HT_ANY || b == WASM_HT_EQ || b == WASM_HT_I31 || b == WASM_HT_STRUCT ||
	       b == WASM_HT_ARRAY || b == WASM_HT_NONE;
}

int wasm_rd_heaptype(struct wasm_reader *r, const struct wasm_module *m, wasm_vt *out)
{
	const uint8_t *at = r->p;
	int64_t v;

	if (wasm_rd_s33(r, &v))
		return -EINVAL;
	if (v < 0) {
		/* a one-byte negative s33 is the code byte itself */
		uint8_t b = (uint8_t)(v & 0x7f);
		if (v < -64 || !is_abstract_heap(b)) {
			r->p = at;
			return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed heap type");
		}
		*out = b;
		return 0;
	}
	if ((uint64_t)v >= m->ntypes_seen)
		return wasm_rd_fail(r, WASM_ERR_INVALID, "unknown type %lld", (long long)v);
	*out = wasm_vt_idx((uint32_t)v, true);
	return 0;
}

int wasm_rd_valtype(struct wasm_reader *r, const struct wasm_module *m, wasm_vt *out)
{
	uint8_t b;

	if (wasm_rd_u8(r, &b))
		return -EINVAL;
	if (is_numtype(b) || is_abstract_heap(b)) {
		*out = b;
		return 0;
	}
	if (b == 0x63 || b == 0x64) { /* (ref null ht), (ref ht) */
		TRY(wasm_rd_heaptype(r, m, out));
		if (b == 0x64)
			*out |= WASM_VT_NONNULL;
		return 0;
	}
	r->p--;
	return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed value type 0x%02x", b);
}

int wasm_rd_memarg(struct wasm_reader *r, uint32_t *align, uint32_t *mem, uint64_t *offset)
{
	if (wasm_rd_u32(r, align))
		return -EINVAL;
	/* 3.0: flags below 2**6 are the alignment exponent (validation refuses one above
	 * natural); 2**6 says a memory index follows (multiple memories); more is malformed */
	if (*align >= 0x80)
		return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed memop flags (0x%x)", *align);
	*mem = 0;
	if (*align & 0x40) {
		*align &= ~0x40u;
		if (wasm_rd_u32(r, mem))
			return -EINVAL;
	}
	if (wasm_rd_u64(r, offset))
		return -EINVAL;
	return 0;
}

/* ----- helpers ----- */

static int nomem(struct wasm_reader *r)
{
	return wasm_rd_fail(r, WASM_ERR_NOMEM, "out of memory");
}

/* Reads a vector count *n. Each element takes at least min_size bytes, so no more than
 * left / min_size of them can be read: *cap (that plus one, at most *n) is how many to
 * make room for. Parsing then meets the first bad element, or the end, before it needs
 * more room, and reports that error as the spec's decoder would; an element count that
 * does exceed *cap (a wrong min_size) still fails cleanly in vec_full(). */
static int rd_vec(struct wasm_reader *r, size_t min_size, uint32_t *n, uint32_t *cap)
{
	uint64_t fit;

	TRY(wasm_rd_u32(r, n));
	fit = (uint64_t)(r->end - r->p) / min_size + 1;
	*cap = *n < fit ? *n : (uint32_t)fit;
	return 0;
}

/* Fails when element i does not fit the room rd_vec() gave (never, with a right min_size). */
static int vec_room(struct wasm_reader *r, uint32_t i, uint32_t cap)
{
	return i < cap ? 0 : wasm_rd_eof(r);
}

static bool utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		uint32_t cp, min;
		size_t len;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2, cp = c & 0x1fu, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, cp = c & 0x0fu, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, cp = c & 0x07u, min = 0x10000;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3fu);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/* Reads a name (5.2.4) into a new NUL-terminated string; *len_out gets its byte length. */
static int rd_name(struct wasm_reader *r, char **out, uint32_t *len_out)
{
	uint32_t n;
	const uint8_t *b;

	TRY(wasm_rd_u32(r, &n));
	TRY(wasm_rd_bytes(r, n, &b));
	if (!utf8_valid(b, n))
		return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed UTF-8 encoding");
	*out = core_alloc((size_t)n + 1);
	if (!*out)
		return nomem(r);
	memcpy(*out, b, n);
	(*out)[n] = 0;
	if (len_out)
		*len_out = n;
	return 0;
}

static int invalid(struct wasm_reader *r, const char *what, uint32_t idx)
{
	return wasm_rd_fail(r, WASM_ERR_INVALID, "%s %u", what, idx);
}

/* ----- types, limits ----- */

/* A reference type: funcref, externref or (ref null? ht). */
static int rd_reftype(struct wasm_reader *r, const struct wasm_module *m, wasm_vt *out)
{
	if (r->p < r->end && (r->p[0] == 0x63 || r->p[0] == 0x64 || is_abstract_heap(r->p[0])))
		return wasm_rd_valtype(r, m, out);
	if (r->p >= r->end)
		return wasm_rd_eof(r);
	return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed reference type");
}

/* One function type (after its 0x60) into t, its values at the ends of the type buffers. */
static int rd_functype(struct wasm_module *m, struct wasm_reader *r, struct wasm_ftype *t,
		       size_t *used)
{
	uint32_t np, nr;

	TRY(wasm_rd_u32(r, &np));
	t->pub.params = m->typebuf + *used;
	t->vparams = m->vtypebuf + *used;
	for (uint32_t k = 0; k < np; k++) {
		TRY(wasm_rd_valtype(r, m, &m->vtypebuf[*used]));
		t->param_slots += wasm_type_slots(m->vtypebuf[*used]);
		(*used)++;
	}
	TRY(wasm_rd_u32(r, &nr));
	t->pub.results = m->typebuf + *used;
	t->vresults = m->vtypebuf + *used;
	for (uint32_t k = 0; k < nr; k++) {
		TRY(wasm_rd_valtype(r, m, &m->vtypebuf[*used]));
		t->result_slots += wasm_type_slots(m->vtypebuf[*used]);
		(*used)++;
	}
	t->pub.nparams = np;
	t->pub.nresults = nr;
	for (size_t k = *used - np - nr; k < *used; k++) {
		m->typebuf[k] = wasm_vt_rep(m, m->vtypebuf[k]);
		if (wasm_vt_code(m->vtypebuf[k]) == WASM_HT_IDX)
			t->has_idx = true;
	}
	return 0;
}

/* One field of a struct or array type: a storage type and its mutability. */
static int rd_field(struct wasm_module *m, struct wasm_reader *r, size_t at)
{
	uint8_t mut;

	if (r->p < r->end && (r->p[0] == WASM_PACK_I8 || r->p[0] == WASM_PACK_I16))
		m->vtypebuf[at] = *r->p++;
	else
		TRY(wasm_rd_valtype(r, m, &m->vtypebuf[at]));
	TRY(wasm_rd_u8(r, &mut));
	if (mut > 1)
		return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed mutability");
	m->typebuf[at] = mut;
	return 0;
}

/* A composite type (after its form byte) into t: func, struct or array. */
static int rd_comptype(struct wasm_module *m, struct wasm_reader *r, uint8_t form,
		       struct wasm_ftype *t, size_t *used)
{
	uint32_t n = 1;

	t->comp = form;
	if (form == WASM_COMP_FUNC)
		return rd_functype(m, r, t, used);
	if (form == WASM_COMP_STRUCT)
		TRY(wasm_rd_u32(r, &n));
	/* each field takes at least two bytes of the section: the buffers cannot overflow */
	if (n > (size_t)(r->end - r->p))
		return wasm_rd_eof(r);
	t->nfields = n;
	t->fields = m->vtypebuf + *used;
	t->fmut = m->typebuf + *used;
	for (uint32_t k = 0; k < n; k++) {
		TRY(rd_field(m, r, *used));
		if (wasm_vt_code(m->vtypebuf[*used]) == WASM_HT_IDX)
			t->has_idx = true;
		(*used)++;
	}
	return 0;
}

/* Storage type a (of a field) below b: packed types only below themselves. */
static bool storage_sub(const struct wasm_module *m, wasm_vt a, wasm_vt b)
{
	if (a == WASM_PACK_I8 || a == WASM_PACK_I16 || b == WASM_PACK_I8 || b == WASM_PACK_I16)
		return a == b;
	return wasm_vt_sub(m, a, m, b);
}

/* Whether the composite type of t matches its declared supertype s's (the GC proposal's
 * subtyping rules: function parameters contravariant and results covariant; a struct
 * with at least s's fields, an array like s's element; a mutable field of the same type,
 * an immutable one of a subtype). */
static bool comp_sub(const struct wasm_module *m, const struct wasm_ftype *t,
		     const struct wasm_ftype *s)
{
	if (t->comp != s->comp)
		return false;
	if (t->comp == WASM_COMP_FUNC) {
		if (t->pub.nparams != s->pub.nparams || t->pub.nresults != s->pub.nresults)
			return false;
		for (uint32_t i = 0; i < t->pub.nparams; i++)
			if (!wasm_vt_sub(m, s->vparams[i], m, t->vparams[i]))
				return false;
		for (uint32_t i = 0; i < t->pub.nresults; i++)
			if (!wasm_vt_sub(m, t->vresults[i], m, s->vresults[i]))
				return false;
		return true;
	}
	if (t->nfields < s->nfields)
		return false;
	for (uint32_t i = 0; i < s->nfields; i++) {
		if (t->fmut[i] != s->fmut[i] || !storage_sub(m, t->fields[i], s->fields[i]))
			return false;
		if (t->fmut[i] && !storage_sub(m, s->fields[i], t->fields[i]))
			return false;
	}
	return true;
}

/* One subtype definition of a group (types[i]): sub, sub final or a bare composite type
 * (final, no supertype). */
static int rd_subtype(struct wasm_module *m, struct wasm_reader *r, uint8_t form, uint32_t i,
		      size_t *used)
{
	struct wasm_ftype *t = &m->types[i];

	t->final = true;
	t->super = WASM_NO_SUPER;
	if (form == 0x50 || form == 0x4f) {
		uint32_t n;
		t->final = form == 0x4f;
		TRY(wasm_rd_u32(r, &n));
		if (n > 1)
			return wasm_rd_fail(r, WASM_ERR_INVALID, "multiple supertypes");
		if (n == 1) {
			TRY(wasm_rd_u32(r, &t->super));
			/* a supertype comes before its subtypes (which keeps chains acyclic) */
			if (t->super >= i)
				return invalid(r, "unknown type", t->super);
		}
		TRY(wasm_rd_u8(r, &form));
	}
	if (form != WASM_COMP_FUNC && form != WASM_COMP_STRUCT && form != WASM_COMP_ARRAY) {
		/* a signed LEB128 byte (-0x20): a continuation bit makes it too long */
		if (form & 0x80)
			return wasm_rd_fail(r, WASM_ERR_MALFORMED,
					    "integer representation too long (function type)");
		return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed function type 0x%02x", form);
	}
	return rd_comptype(m, r, form, t, used);
}

/* The declared supertype of types[i], once its group is read: not final, of a matching
 * composite type, and not too deep. */
static int check_super(struct wasm_module *m, struct wasm_reader *r, uint32_t i)
{
	struct wasm_ftype *t = &m->types[i];
	const struct wasm_ftype *s;

	if (t->super == WASM_NO_SUPER)
		return 0;
	s = &m->types[t->super];
	if (s->final || !comp_sub(m, t, s))
		return wasm_rd_fail(r, WASM_ERR_INVALID, "sub type %u does not match type %u", i,
				    t->super);
	t->depth = s->depth + 1;
	if (t->depth > WASM_MAX_SUBTYPE_DEPTH)
		return wasm_rd_fail(r, WASM_ERR_INVALID,
				    "subtype depth limit: type %u has more than %u supertypes", i,
				    WASM_MAX_SUBTYPE_DEPTH);
	return 0;
}

/* The canonical groups of a type section so far, by a hash of their structure:
 * references out of a group hash as the canonical index they name, references into it
 * as their position, so groups that are the same hash the same. */
struct canon_map {
	uint32_t *slot; /* a canonical group's first type + 1 (0: empty) */
	uint64_t *hash;
	uint32_t mask;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ull;
}

static uint64_t hash_vt(const struct wasm_module *m, wasm_vt v, uint32_t start, uint32_t end)
{
	uint32_t x = wasm_vt_index(v);

	if (wasm_vt_code(v) != WASM_HT_IDX)
		return v;
	if (x >= start && x < end)
		return (uint64_t)(x - start) << 32 | 1u << 31 | (v & WASM_VT_NONNULL);
	return (uint64_t)m->type_canon[x] << 32 | (v & WASM_VT_NONNULL);
}

static uint64_t group_hash(const struct wasm_module *m, uint32_t start, uint32_t end)
{
	uint64_t h = mix(0xcbf29ce484222325ull, end - start);

	for (uint32_t i = start; i < end; i++) {
		const struct wasm_ftype *t = &m->types[i];
		uint32_t nv =
			t->comp == WASM_COMP_FUNC ? t->pub.nparams + t->pub.nresults : t->nfields;
		const wasm_vt *vs = t->comp == WASM_COMP_FUNC ? t->vparams : t->fields;
		h = mix(h, (uint64_t)t->comp << 8 | t->final);
		h = mix(h, t->super == WASM_NO_SUPER
				   ? ~0ull
				   : hash_vt(m, wasm_vt_idx(t->super, true), start, end));
		h = mix(h, (uint64_t)t->pub.nparams << 32 | nv);
		for (uint32_t k = 0; k < nv; k++)
			h = mix(h, hash_vt(m, vs[k], start, end) ^
					   (t->fmut ? (uint64_t)t->fmut[k] << 40 : 0));
	}
	return h;
}

/* type_canon for the group types[start..end): the types of the first earlier group that
 * is the same, else its own. */
static int canon_group(struct wasm_module *m, struct canon_map *cm, uint32_t start, uint32_t end)
{
	uint64_t h = group_hash(m, start, end);
	uint32_t i = (uint32_t)(h >> 20) & cm->mask;

	for (uint32_t k = start; k < end; k++)
		m->type_canon[k] = k;
	for (; cm->slot[i]; i = (i + 1) & cm->mask) {
		uint32_t g = cm->slot[i] - 1;
		if (cm->hash[i] == h && m->types[g].rec_len == end - start &&
		    wasm_type_same(m, g, m, start)) {
			for (uint32_t k = start; k < end; k++)
				m->type_canon[k] = g + (k - start);
			return 0;
		}
	}
	cm->slot[i] = start + 1;
	cm->hash[i] = h;
	return 0;
}

/* The type section: defined types, each a recursion group of its own or in a (rec ...)
 * group (0x4e), whose members may name each other. */
static int read_groups(struct wasm_module *m, struct wasm_reader *r, uint32_t n, uint32_t cap,
		       struct canon_map *cm);

static int parse_types(struct wasm_module *m, struct wasm_reader *r)
{
	uint32_t n, cap;

	struct canon_map cm = {0};
	int rc = 0;

	TRY(rd_vec(r, 2, &n, &cap));
	/* one slot per group at most half full (no more groups than the section's bytes
	 * hold: cap, not the count it claims) */
	for (cm.mask = 1; cm.mask < 2 * (uint64_t)cap; cm.mask = cm.mask * 2 + 1)
		;
	cm.slot = core_calloc((size_t)cm.mask + 1, sizeof(*cm.slot));
	cm.hash = core_calloc((size_t)cm.mask + 1, sizeof(*cm.hash));
	if (!cm.slot || !cm.hash) {
		core_free(cm.slot);
		core_free(cm.hash);
		return nomem(r);
	}
	rc = read_groups(m, r, n, cap, &cm);
	core_free(cm.slot);
	core_free(cm.hash);
	return rc;
}

static int read_groups(struct wasm_module *m, struct wasm_reader *r, uint32_t n, uint32_t cap,
		       struct canon_map *cm)
{
	/* each valtype below takes one byte of the section: typebuf cannot overflow */
	size_t used = 0, bytes = (size_t)(r->end - r->p);
	uint32_t ntypes = 0;

	m->types = core_calloc(cap ? cap : 1, sizeof(*m->types));
	m->typebuf = core_alloc(bytes ? bytes : 1);
	m->vtypebuf = core_alloc((bytes ? bytes : 1) * sizeof(wasm_vt));
	m->type_canon = core_calloc(cap ? cap : 1, sizeof(*m->type_canon));
	if (!m->types || !m->typebuf || !m->vtypebuf || !m->type_canon)
		return nomem(r);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t form;
		uint32_t members = 1, start = ntypes;
		bool rec = false;

		TRY(wasm_rd_u8(r, &form));
		if (form == 0x4e) { /* rec: a vector of types */
			TRY(wasm_rd_u32(r, &members));
			rec = true;
		}
		/* each member takes at least 2 bytes: the count fits the section's size */
		if (members > bytes / 2 + 1 || (uint64_t)start + members > WASM_VT_MAX_TYPES)
			return wasm_rd_eof(r);
		if (start + members > cap) {
			struct wasm_ftype *nt =
				core_realloc(m->types, (size_t)(start + members) * sizeof(*nt));
			uint32_t *nc;
			if (!nt)
				return nomem(r);
			memset(nt + cap, 0, (size_t)(start + members - cap) * sizeof(*nt));
			m->types = nt;
			nc = core_realloc(m->type_canon, (size_t)(start + members) * sizeof(*nc));
			if (!nc)
				return nomem(r);
			m->type_canon = nc;
			cap = start + members;
		}
		m->ntypes_seen = start + members;
		for (uint32_t k = 0; k < members; k++) {
			struct wasm_ftype *t = &m->types[start + k];
			if (rec || k)
				TRY(wasm_rd_u8(r, &form));
			m->ntypes = ntypes = start + k + 1;
			t->rec_start = start;
			t->rec_len = members;
			t->mod = m;
			TRY(rd_subtype(m, r, form, start + k, &used));
		}
		/* the representations of references to the group's own later types */
		for (uint32_t k = start; k < ntypes; k++) {
			struct wasm_ftype *t = &m->types[k];
			uint32_t nv = t->pub.nparams + t->pub.nresults;
			if (t->comp != WASM_COMP_FUNC || !t->has_idx)
				continue;
			for (uint32_t v = 0; v < nv; v++)
				m->typebuf[t->vparams - m->vtypebuf + v] =
					wasm_vt_rep(m, t->vparams[v]);
		}
		TRY(canon_group(m, cm, start, ntypes));
		/* types of groups before the next one compare by canonical index now */
		m->ncanon = ntypes;
		for (uint32_t k = start; k < ntypes; k++)
			TRY(check_super(m, r, k));
	}
	m->ntypes_seen = ntypes;
	return 0;
}

/* A table type. 3.0: the limits flags are a byte (bit 0: a maximum, bit 2: i64 indices,
 * memory64), the limits 64-bit numbers validated against the index type. */
static int rd_tabletype(struct wasm_reader *r, const struct wasm_module *m,
			struct wasm_tabletype *t)
{
	uint8_t flag;
	uint64_t lo, hi = 0;

	TRY(rd_reftype(r, m, &t->elem));
	TRY(wasm_rd_u8(r, &flag));
	if (flag & ~0x05u)
		return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed limits flags");
	t->is64 = flag & 0x04;
	t->has_max = flag & 0x01;
	TRY(wasm_rd_u64(r, &lo));
	if (t->has_max)
		TRY(wasm_rd_u64(r, &hi));
	if (!t->is64 && (lo > UINT32_MAX || hi > UINT32_MAX))
		return wasm_rd_fail(r, WASM_ERR_INVALID, "table size must be at most 2^32-1");
	if (t->has_max && hi < lo)
		return wasm_rd_fail(r, WASM_ERR_INVALID,
				    "size minimum must not be greater than maximum");
	t->min = lo > UINT32_MAX ? UINT32_MAX : (uint32_t)lo;
	t->max = hi > UINT32_MAX ? UINT32_MAX : (uint32_t)hi;
	return 0;
}

/* A memory type: limits whose flag may also say i64 addresses (3.0 memory64: flag 4),
 * with 64-bit limits then, and shared (the threads proposal: flag 2, with a maximum). */
static int rd_memtype(struct wasm_reader *r, struct wasm_memtype *t)
{
	uint8_t flag;

	/* 3.0: the flags are a byte (bit 0: a maximum, bit 2: i64 addresses), the limits
	 * 64-bit numbers validated against the address type */
	TRY(wasm_rd_u8(r, &flag));
	if (flag & ~0x07u)
		return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed limits flags");
	t->is64 = flag & 0x04;
	t->has_max = flag & 0x01;
	t->shared = flag & 0x02; /* threads proposal */
	t->max = 0;
	TRY(wasm_rd_u64(r, &t->min));
	if (t->has_max)
		TRY(wasm_rd_u64(r, &t->max));
	if (t->is64 && (t->min > (1ull << 48) || (t->has_max && t->max > (1ull << 48))))
		return wasm_rd_fail(r, WASM_ERR_INVALID, "memory size must be at most 2**48 pages");
	if (!t->is64 && (t->min > WASM_MAX_PAGES || (t->has_max && t->max > WASM_MAX_PAGES)))
		return wasm_rd_fail(r, WASM_ERR_INVALID,
				    "memory size must be at most 65536 pages (4GiB)");
	if (t->has_max && t->max < t->min)
		return wasm_rd_fail(r, WASM_ERR_INVALID,
				    "size minimum must not be greater than maximum");
	if (t->shared && !t->has_max)
		return wasm_rd_fail(r, WASM_ERR_INVALID, "shared memory must have maximum");
	return 0;
}

static int rd_globaltype(struct wasm_reader *r, const struct wasm_module *mod, wasm_vt *type,
			 bool *mut)
{
	uint8_t m;

	TRY(wasm_rd_valtype(r, mod, type));
	TRY(wasm_rd_u8(r, &m));
	if (m > 1)
		return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed mutability");
	*mut = m == 1;
	return 0;
}

/* ----- constant expressions (3.3.10) ----- */

static bool is_const_op(const uint8_t *p, const uint8_t *end)
{
	switch (p[0]) {
	case 0x41: /* t.const */
	case 0x42:
	case 0x43:
	case 0x44:
	case 0xd0: /* ref.null */
	case 0xd2: /* ref.func */
	case 0x23: /* global.get */
		return true;
	case 0xfd: /* v128.const */
		return end - p > 1 && p[1] == 0x0c;
	case 0xfb: /* ref.i31 and the GC allocations and conversions */
		return end - p > 1 &&
		       (p[1] == 0x1c || p[1] == 0x00 || p[1] == 0x01 || p[1] == 0x06 ||
			p[1] == 0x07 || p[1] == 0x08 || p[1] == 0x1a || p[1] == 0x1b);
	}
	return false;
}

/* The instruction at r->p cannot start or continue a constant expression: as the spec
 * checks, an instruction that is constant but one too many is a type error (a second value),
 * any other one is not constant, and a byte that is no instruction is malformed. */
static int bad_cexpr_op(struct wasm_reader *r, bool second)
{
	uint32_t idx;

	if (second && is_const_op(r->p, r->end))
		return wasm_rd_fail(
			r, WASM_ERR_INVALID,
			"type mismatch: constant expression leaves more than one value");
	TRY(wasm_rd_opcode(r, &idx));
	return wasm_rd_fail(r, WASM_ERR_INVALID, "constant expression required (opcode 0x%x)", idx);
}

/* Reads one operand instruction of a constant expression (a constant, ref.null,
 * ref.func or global.get) into ce; anything else is refused as bad_cexpr_op says. */
static int rd_ce_operand(struct wasm_module *m, struct wasm_reader *r, struct wasm_cexpr *ce,
			 bool second)
{
	const uint8_t *at = r->p;
	uint8_t op;

	memset(ce, 0, sizeof(*ce));
	TRY(wasm_rd_u8(r, &op));
	ce->kind = WASM_CE_CONST;
	switch (op) {
	case 0x41: {
		int32_t v;
		TRY(wasm_rd_s32(r, &v));
		ce->type = WASM_I32, ce->v[0] = (uint32_t)v;
		return 0;
	}
	case 0x42: {
		int64_t v;
		TRY(wasm_rd_s64(r, &v));
		ce->type = WASM_I64, ce->v[0] = (uint64_t)v;
		return 0;
	}
	case 0x43:
	case 0x44: {
		const uint8_t *b;
		size_t n = op == 0x43 ? 4 : 8;
		TRY(wasm_rd_bytes(r, n, &b));
		memcpy(&ce->v[0], b, n);
		ce->type = op == 0x43 ? WASM_F32 : WASM_F64;
		return 0;
	}
	case 0xfd: {
		uint32_t sub;
		const uint8_t *b;
		TRY(wasm_rd_u32(r, &sub));
		if (sub != 0x0c) {
			r->p = at;
			return bad_cexpr_op(r, second);
		}
		TRY(wasm_rd_bytes(r, 16, &b));
		memcpy(ce->v, b, 16);
		ce->type = WASM_V128;
		return 0;
	}
	case 0xd0:
		TRY(wasm_rd_heaptype(r, m, &ce->type));
		ce->kind = WASM_CE_NULL;
		return 0;
	case 0xd2:
		TRY(wasm_rd_u32(r, &ce->idx));
		if (ce->idx >= m->nfuncs)
			return invalid(r, "unknown function", ce->idx);
		m->declared[ce->idx] = 1;
		ce->kind = WASM_CE_FUNC, ce->type = wasm_vt_idx(m->func_type[ce->idx], false);
		return 0;
	case 0x23:
		TRY(wasm_rd_u32(r, &ce->idx));
		/* 3.0: the globals defined so far are in scope (a global's initialiser sees
		 * the globals before it; segments see all of them); 2.0 had imports only */
		if (ce->idx >= m->nglobals)
			return invalid(r, "unknown global", ce->idx);
		if (m->globals[ce->idx].mut)
			return wasm_rd_fail(r, WASM_ERR_INVALID,
					    "constant expression required (global %u)", ce->idx);
		ce->kind = WASM_CE_GLOBAL, ce->type = m->globals[ce->idx].type;
		return 0;
	}
	r->p = at;
	return bad_cexpr_op(r, second);
}

/* The extended-constant-expression operators (3.0): i32/i64 add, sub and mul. */
static bool is_ce_binop(uint8_t op)
{
	return (op >= 0x6a && op <= 0x6c) || (op >= 0x7c && op <= 0x7e);
}

/* Whether r is at ref.i31 (0xFB 0x1C, a GC constant instruction): then past it. */
static bool is_ce_i31(struct wasm_reader *r)
{
	const uint8_t *at = r->p;
	uint32_t sub;

	r->p++;
	if (wasm_rd_u32(r, &sub) == 0 && sub == 0x1c)
		return true;
	r->p = at;
	return false;
}

static wasm_vt ce_unpacked(wasm_vt t)
{
	return t == WASM_PACK_I8 || t == WASM_PACK_I16 ? WASM_I32 : t;
}

/* Pops n operands of types want[0..n) (want NULL: n of type one) off the type stack. */
static int ce_pop(struct wasm_module *m, struct wasm_reader *r, wasm_vt *types, uint32_t *depth,
		  uint32_t n, const wasm_vt *want, wasm_vt one)
{
	if (*depth < n)
		return wasm_rd_fail(r, WASM_ERR_INVALID,
				    "type mismatch: too few operands in a constant expression");
	for (uint32_t i = 0; i < n; i++) {
		wasm_vt w = want ? ce_unpacked(want[i]) : one;
		if (!wasm_vt_sub(m, types[*depth - n + i], m, w))
			return wasm_rd_fail(r, WASM_ERR_INVALID,
					    "type mismatch: operand of a GC instruction in a "
					    "constant expression");
	}
	*depth -= n;
	return 0;
}

/* A GC allocation or conversion (0xFB, r at the prefix) in a constant expression: checks
 * and pops its operands, pushes its result, and describes it in one. Returns 1 when it
 * is none of them (r unmoved). */
static int ce_gc(struct wasm_module *m, struct wasm_reader *r, wasm_vt *types, uint32_t *depth,
		 struct wasm_cexpr *one)
{
	const uint8_t *at = r->p;
	uint32_t sub, x = 0, n = 0;
	const struct wasm_ftype *t = NULL;
	wasm_vt res = 0;

	r->p++;
	if (wasm_rd_u32(r, &sub) || (sub != 0x00 && sub != 0x01 && sub != 0x06 && sub != 0x07 &&
				     sub != 0x08 && sub != 0x1a && sub != 0x1b)) {
		r->p = at;
		return 1;
	}
	memset(one, 0, sizeof(*one));
	if (sub <= 0x08) {
		TRY(wasm_rd_u32(r, &x));
		if (x >= m->ntypes)
			return invalid(r, "unknown type", x);
		t = &m->types[x];
		if (t->comp != (sub <= 0x01 ? WASM_COMP_STRUCT : WASM_COMP_ARRAY))
			return wasm_rd_fail(r, WASM_ERR_INVALID, "type mismatch: type %u", x);
		one->idx = x;
		res = wasm_vt_idx(x, false);
	}
	switch (sub) {
	case 0x00:
		TRY(ce_pop(m, r, types, depth, t->nfields, t->fields, 0));
		one->kind = WASM_CE_STRUCT_NEW, one->v[0] = t->nfields;
		break;
	case 0x01:
		for (uint32_t i = 0; i < t->nfields; i++)
			if (wasm_vt_is_ref(t->fields[i]) && t->fields[i] != WASM_PACK_I8 &&
			    t->fields[i] != WASM_PACK_I16 && !wasm_vt_nullable(t->fields[i]))
				return wasm_rd_fail(r, WASM_ERR_INVALID,
						    "type mismatch: struct.new_default of a "
						    "field without a default value");
		one->kind = WASM_CE_STRUCT_NEW_DEFAULT;
		break;
	case 0x06: {
		const wasm_vt two[2] = {t->fields[0], WASM_I32};
		TRY(ce_pop(m, r, types, depth, 2, two, 0));
	}
		one->kind = WASM_CE_ARRAY_NEW, one->v[0] = 2;
		break;
	case 0x07:
		if (wasm_vt_is_ref(t->fields[0]) && t->fields[0] != WASM_PACK_I8 &&
		    t->fields[0] != WASM_PACK_I16 && !wasm_vt_nullable(t->fields[0]))
			return wasm_rd_fail(r, WASM_ERR_INVALID,
					    "type mismatch: array.new_default of elements "
					    "without a default value");
		TRY(ce_pop(m, r, types, depth, 1, NULL, WASM_I32));
		one->kind = WASM_CE_ARRAY_NEW_DEFAULT, one->v[0] = 1;
		break;
	case 0x08:
		TRY(wasm_rd_u32(r, &n));
		TRY(ce_pop(m, r, types, depth, n, NULL, ce_unpacked(t->fields[0])));
		one->kind = WASM_CE_ARRAY_NEW_FIXED, one->v[0] = n;
		break;
	case 0x1a:
	case 0x1b: {
		bool to_any = sub == 0x1a;
		wasm_vt in = to_any ? WASM_EXTERNREF : WASM_HT_ANY;
		bool nullable;
		TRY(ce_pop(m, r, types, depth, 1, NULL, in));
		nullable = wasm_vt_nullable(types[*depth]);
		res = wasm_vt_ref(to_any ? WASM_HT_ANY : WASM_EXTERNREF, nullable);
		one->kind = to_any ? WASM_CE_ANY_CONVERT : WASM_CE_EXTERN_CONVERT;
		one->v[0] = 1;
		break;
	}
	}
	if (*depth == WASM_CE_MAX_DEPTH)
		return wasm_rd_fail(r, WASM_ERR_LIMIT,
				    "constant expression holds more than %u values",
				    WASM_CE_MAX_DEPTH);
	types[(*depth)++] = res;
	one->type = res;
	return 0;
}

static int ce_record(struct wasm_module *m, const struct wasm_cexpr *ce)
{
	if (m->nceops == m->capceops) {
		uint32_t cap = m->capceops ? m->capceops * 2 : 16;
		struct wasm_cexpr *n = core_realloc(m->ceops, (size_t)cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		m->ceops = n;
		m->capceops = cap;
	}
	m->ceops[m->nceops++] = *ce;
	return 0;
}

/* A constant expression of type want. One instruction is kept in ce itself; a longer one
 * (3.0 extended constant expressions: i32/i64 add, sub, mul over constants and globals)
 * goes to m->ceops as a postfix program, validated here with a stack of types. */
static int rd_cexpr(struct wasm_module *m, struct wasm_reader *r, wasm_vt want,
		    struct wasm_cexpr *ce)
{
	wasm_vt types[WASM_CE_MAX_DEPTH];
	uint32_t depth = 0, n = 0, first = m->nceops;
	struct wasm_cexpr one;
	bool gc = false; /* a GC allocation or conversion: always a program */
	int rc;

	memset(ce, 0, sizeof(*ce));
	for (;;) {
		uint8_t op;
		if (r->p >= r->end)
			return wasm_rd_eof(r);
		op = *r->p;
		if (op == 0x0b)
			break;
		if (op == 0xfb && is_ce_i31(r)) {
			if (depth < 1 || types[depth - 1] != WASM_I32)
				return wasm_rd_fail(r, WASM_ERR_INVALID,
						    "type mismatch: operand of ref.i31 in a "
						    "constant expression");
			types[depth - 1] = wasm_vt_ref(WASM_HT_I31, false);
			one = (struct wasm_cexpr){.kind = WASM_CE_I31, .type = types[depth - 1]};
		} else if (op == 0xfb && (rc = ce_gc(m, r, types, &depth, &one)) <= 0) {
			TRY(rc);
			gc = true;
		} else if (is_ce_binop(op)) {
			wasm_vt t = op <= 0x6c ? WASM_I32 : WASM_I64;
			r->p++;
			if (depth < 2 || types[depth - 1] != t || types[depth - 2] != t)
				return wasm_rd_fail(r, WASM_ERR_INVALID,
						    "type mismatch: operands of opcode 0x%x in a "
						    "constant expression",
						    op);
			depth--;
			one = (struct wasm_cexpr){.kind = WASM_CE_BINOP, .type = t, .idx = op};
		} else {
			TRY(rd_ce_operand(m, r, &one, depth > 0));
			if (depth == WASM_CE_MAX_DEPTH)
				return wasm_rd_fail(r, WASM_ERR_LIMIT,
						    "constant expression holds more than %u values",
						    WASM_CE_MAX_DEPTH);
			types[depth++] = one.type;
		}
		if (ce_record(m, &one))
			return wasm_rd_fail(r, WASM_ERR_NOMEM, "out of memory");
		n++;
	}
	r->p++;
	m->nceops = n == 1 && !gc ? first : m->nceops;
	if (depth == 0)
		return wasm_rd_fail(r, WASM_ERR_INVALID,
				    "type mismatch: empty constant expression");
	if (depth > 1)
		return wasm_rd_fail(
			r, WASM_ERR_INVALID,
			"type mismatch: constant expression leaves more than one value");
	if (!wasm_vt_sub(m, types[0], m, want))
		return wasm_rd_fail(r, WASM_ERR_INVALID, "type mismatch in constant expression");
	if (n == 1 && !gc) {
		*ce = one;
	} else {
		ce->kind = WASM_CE_EXPR, ce->type = want;
		ce->idx = first;
		ce->v[0] = n;
	}
	return 0;
}

/* ----- imports, functions, tables, memories, globals ----- */

/* Index spaces are allocated once the import and definition sections are known; until
 * then imports are collected with their types in temporary arrays grown here. */
static int grow(void **arr, uint32_t n, size_t size)
{
	void *p = core_realloc(*arr, ((size_t)n + 1) * size);

	if (!p)
		return -ENOMEM;
	*arr = p;
	return 0;
}

/* ----- tags (3.0 exception handling) ----- */

/* A tag type: attribute 0 (an exception) and the index of a function type without
 * results. Appends it to m->tag_type. */
static int rd_tagtype(struct wasm_module *m, struct wasm_reader *r)
{
	uint8_t attr;
	uint32_t t;

	TRY(wasm_rd_u8(r, &attr));
	if (attr != 0)
		return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed tag attribute %u", attr);
	TRY(wasm_rd_u32(r, &t));
	if (t >= m->ntypes)
		return invalid(r, "unknown type", t);
	if (m->types[t].pub.nresults)
		return wasm_rd_fail(r, WASM_ERR_INVALID, "non-empty tag result type");
	if (grow((void **)&m->tag_type, m->ntags, sizeof(uint32_t)))
		return nomem(r);
	m->tag_type[m->ntags++] = t;
	return 0;
}

static int parse_tags(struct wasm_module *m, struct wasm_reader *r)
{
	uint32_t n, cap;

	TRY(rd_vec(r, 2, &n, &cap));
	for (uint32_t i = 0; i < n; i++) {
		TRY(vec_room(r, i, cap));
		TRY(rd_tagtype(m, r));
	}
	return 0;
}

static int parse_import_desc(struct wasm_module *m, struct wasm_reader *r, struct wasm_import *im)
{
	TRY(wasm_rd_u8(r, &im->kind));
	switch (im->kind) {
	case WASM_EXTERN_FUNC: {
		uint32_t t;
		TRY(wasm_rd_u32(r, &t));
		if (t >= m->ntypes)
			return invalid(r, "unknown type", t);
		if (!wasm_type_is_func(m, t))
			return invalid(r, "type mismatch: not a function type:", t);
		if (grow((void **)&m->func_type, m->nfuncs, sizeof(uint32_t)))
			return nomem(r);
		m->func_type[m->nfuncs] = t;
		im->idx = m->nfuncs++;
		m->nfunc_imports++;
		return 0;
	}
	case WASM_EXTERN_TABLE:
		if (grow((void **)&m->tables, m->ntables, sizeof(*m->tables)))
			return nomem(r);
		TRY(rd_tabletype(r, m, &m->tables[m->ntables]));
		m->tables[m->ntables].has_init = false;
		im->idx = m->ntables++;
		m->ntable_imports++;
		return 0;
	case WASM_EXTERN_MEMORY:
		if (grow((void **)&m->mems, m->nmems, sizeof(*m->mems)))
			return nomem(r);
		TRY(rd_memtype(r, &m->mems[m->nmems]));
		im->idx = m->nmems++;
		m->nmem_imports++;
		return 0;
	case WASM_EXTERN_GLOBAL: {
		struct wasm_globaldef *g;
		if (grow((void **)&m->globals, m->nglobals, sizeof(*m->globals)))
			return nomem(r);
		g = &m->globals[m->nglobals];
		memset(g, 0, sizeof(*g));
		TRY(rd_globaltype(r, m, &g->type, &g->mut));
		im->idx = m->nglobals++;
		m->nglobal_imports++;
		return 0;
	}
	case WASM_EXTERN_TAG:
		TRY(rd_tagtype(m, r));
		im->idx = m->ntags - 1;
		m->ntag_imports++;
		return 0;
	default:
		return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed import kind %u", im->kind);
	}
}

static int parse_imports(struct wasm_module *m, struct wasm_reader *r)
{
	uint32_t n, cap;

	TRY(rd_vec(r, 4, &n, &cap));
	m->imports = core_calloc(cap ? cap : 1, sizeof(*m->imports));
	if (!m->imports)
		return nomem(r);
	for (uint32_t i = 0; i < n; i++) {
		struct wasm_import *im;

		TRY(vec_room(r, i, cap));
		im = &m->imports[i];
		m->nimports = i + 1;
		TRY(rd_name(r, &im->module, &im->modlen));
		TRY(rd_name(r, &im->name, &im->namelen));
		TRY(parse_import_desc(m, r, im));
	}
	return 0;
}

static int parse_functions(struct wasm_module *m, struct wasm_reader *r)
{
	uint32_t n, cap;
	uint32_t *ft;

	TRY(rd_vec(r, 1, &n, &cap));
	ft = core_realloc(m->func_type, ((size_t)m->nfuncs + cap + 1) * sizeof(uint32_t));
	if (!ft)
		return nomem(r);
	m->func_type = ft;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t t;
		TRY(vec_room(r, i, cap));
		TRY(wasm_rd_u32(r, &t));
		if (t >= m->ntypes)
			return invalid(r, "unknown type", t);
		if (!wasm_type_is_func(m, t))
			return invalid(r, "type mismatch: not a function type:", t);
		ft[m->nfuncs++] = t;
	}
	return 0;
}

static int parse_tables(struct wasm_module *m, struct wasm_reader *r)
{
	uint32_t n, cap;
	struct wasm_tabletype *t;

	TRY(rd_vec(r, 3, &n, &cap));
	t = core_realloc(m->tables, ((size_t)m->ntables + cap + 1) * sizeof(*t));
	if (!t)
		return nomem(r);
	m->tables = t;
	for (uint32_t i = 0; i < n; i++) {
		TRY(vec_room(r, i, cap));
		/* 3.0: 0x40 0x00 starts a table type with an initialiser expression */
		if (r->end - r->p >= 2 && r->p[0] == 0x40) {
			if (r->p[1] != 0x00)
				return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed table");
			r->p += 2;
			TRY(rd_tabletype(r, m, &t[m->ntables]));
			TRY(rd_cexpr(m, r, t[m->ntables].elem, &t[m->ntables].init));
			t[m->ntables].has_init = true;
		} else {
			TRY(rd_tabletype(r, m, &t[m->ntables]));
			t[m->ntables].has_init = false;
			if (!wasm_vt_nullable(t[m->ntables].elem))
				return wasm_rd_fail(r, WASM_ERR_INVALID,
						    "type mismatch: a table of a non-nullable "
						    "type needs an initialiser");
		}
		m->ntables++;
	}
	return 0;
}

static int parse_memories(struct wasm_module *m, struct wasm_reader *r)
{
	uint32_t n, cap;
	struct wasm_memtype *t;

	TRY(rd_vec(r, 2, &n, &cap));
	t = core_realloc(m->mems, ((size_t)m->nmems + cap + 1) * sizeof(*t));
	if (!t)
		return nomem(r);
	m->mems = t;
	for (uint32_t i = 0; i < n; i++) {
		TRY(vec_room(r, i, cap));
		TRY(rd_memtype(r, &t[m->nmems]));
		m->nmems++;
	}
	return 0;
}

static int parse_globals(struct wasm_module *m, struct wasm_reader *r)
{
	uint32_t n, cap;
	struct wasm_globaldef *g;

	TRY(rd_vec(r, 4, &n, &cap));
	g = core_realloc(m->globals, ((size_t)m->nglobals + cap + 1) * sizeof(*g));
	if (!g)
		return nomem(r);
	m->globals = g;
	for (uint32_t i = 0; i < n; i++) {
		struct wasm_globaldef *d;

		TRY(vec_room(r, i, cap));
		d = &g[m->nglobals];
		memset(d, 0, sizeof(*d));
		TRY(rd_globaltype(r, m, &d->type, &d->mut));
		TRY(rd_cexpr(m, r, d->type, &d->init));
		m->nglobals++;
	}
	return 0;
}

/* ----- exports, start ----- */

static int check_index(struct wasm_module *m, struct wasm_reader *r, uint8_t kind, uint32_t idx)
{
	static const char *const what[] = {"unknown function", "unknown table", "unknown memory",
					   "unknown global", "unknown tag"};
	uint32_t limit[] = {m->nfuncs, m->ntables, m->nmems, m->nglobals, m->ntags};

	if (idx >= limit[kind])
		return invalid(r, what[kind], idx);
	return 0;
}

static int parse_exports(struct wasm_module *m, struct wasm_reader *r)
{
	uint32_t n, cap;
	uint32_t *lens;

	TRY(rd_vec(r, 3, &n, &cap));
	m->exports = core_calloc(cap ? cap : 1, sizeof(*m->exports));
	lens = core_calloc(cap ? cap : 1, sizeof(*lens));
	if (!m->exports || !lens) {
		core_free(lens);
		return nomem(r);
	}
	for (uint32_t i = 0; i < n; i++) {
		struct wasm_export *e;
		int rc = vec_room(r, i, cap);

		if (rc) {
			core_free(lens);
			return rc;
		}
		e = &m->exports[i];
		m->nexports = i + 1;
		rc = rd_name(r, &e->name, &lens[i]);
		e->namelen = lens[i];
		if (!rc)
			rc = wasm_rd_u8(r, &e->kind);
		if (!rc && e->kind > WASM_EXTERN_TAG)
			rc = wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed export kind %u",
					  e->kind);
		if (!rc)
			rc = wasm_rd_u32(r, &e->idx);
		if (!rc)
			rc = check_index(m, r, e->kind, e->idx);
		for (uint32_t k = 0; !rc && k < i; k++)
			if (lens[k] == lens[i] && !memcmp(m->exports[k].name, e->name, lens[i]))
				rc = wasm_rd_fail(r, WASM_ERR_INVALID, "duplicate export name");
		if (rc) {
			core_free(lens);
			return rc;
		}
		if (e->kind == WASM_EXTERN_FUNC)
			m->declared[e->idx] = 1;
	}
	core_free(lens);
	return 0;
}

static int parse_start(struct wasm_module *m, struct wasm_reader *r)
{
	const struct wasm_ftype *t;

	TRY(wasm_rd_u32(r, &m->start));
	TRY(check_index(m, r, WASM_EXTERN_FUNC, m->start));
	t = &m->types[m->func_type[m->start]];
	if (t->pub.nparams || t->pub.nresults)
		return wasm_rd_fail(r, WASM_ERR_INVALID, "start function must have type [] -> []");
	m->has_start = true;
	return 0;
}

/* ----- element segments (5.5.12) ----- */

static int rd_elem_items(struct wasm_module *m, struct wasm_reader *r, struct wasm_elemseg *e,
			 bool exprs)
{
	uint32_t n, cap;

	TRY(rd_vec(r, 1, &n, &cap));
	e->items = core_calloc(cap ? cap : 1, sizeof(*e->items));
	if (!e->items)
		return nomem(r);
	for (uint32_t i = 0; i < n; i++) {
		struct wasm_cexpr *ce;

		TRY(vec_room(r, i, cap));
		ce = &e->items[i];
		e->n = i + 1;
		if (exprs) {
			TRY(rd_cexpr(m, r, e->type, ce));
			continue;
		}
		TRY(wasm_rd_u32(r, &ce->idx));
		TRY(check_index(m, r, WASM_EXTERN_FUNC, ce->idx));
		m->declared[ce->idx] = 1;
		ce->kind = WASM_CE_FUNC, ce->type = wasm_vt_idx(m->func_type[ce->idx], false);
	}
	return 0;
}

static int parse_elem(struct wasm_module *m, struct wasm_reader *r, struct wasm_elemseg *e)
{
	uint32_t flags;
	bool exprs;

	TRY(wasm_rd_u32(r, &flags));
	if (flags > 7)
		return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed elements segment kind %u",
				    flags);
	exprs = flags & 4;
	/* function indices: (ref func); expressions without a type: funcref */
	e->type = exprs ? WASM_FUNCREF : wasm_vt_ref(WASM_FUNCREF, false);
	e->mode = (flags & 1) ? ((flags & 2) ? WASM_SEG_DECLARATIVE : WASM_SEG_PASSIVE)
			      : WASM_SEG_ACTIVE;
	if (e->mode == WASM_SEG_ACTIVE) {
		if (flags & 2)
			TRY(wasm_rd_u32(r, &e->table));
		TRY(check_index(m, r, WASM_EXTERN_TABLE, e->table));
		TRY(rd_cexpr(m, r, m->tables[e->table].is64 ? WASM_I64 : WASM_I32, &e->offset));
	}
	if (flags & 3) {
		if (exprs) {
			TRY(rd_reftype(r, m, &e->type));
		} else {
			uint8_t k;
			TRY(wasm_rd_u8(r, &k));
			if (k != 0)
				return wasm_rd_fail(r, WASM_ERR_MALFORMED,
						    "malformed element kind");
		}
	}
	TRY(rd_elem_items(m, r, e, exprs));
	if (e->mode == WASM_SEG_ACTIVE && !wasm_vt_sub(m, e->type, m, m->tables[e->table].elem))
		return wasm_rd_fail(r, WASM_ERR_INVALID, "type mismatch: element segment");
	return 0;
}

static int parse_elems(struct wasm_module *m, struct wasm_reader *r)
{
	uint32_t n, cap;

	TRY(rd_vec(r, 2, &n, &cap));
	m->elems = core_calloc(cap ? cap : 1, sizeof(*m->elems));
	if (!m->elems)
		return nomem(r);
	for (uint32_t i = 0; i < n; i++) {
		TRY(vec_room(r, i, cap));
		m->nelems = i + 1;
		TRY(parse_elem(m, r, &m->elems[i]));
	}
	return 0;
}

/* ----- code and data ----- */

static int parse_code(struct wasm_module *m, struct wasm_reader *r)
{
	uint32_t n, ndef = m->nfuncs - m->nfunc_imports;

	TRY(wasm_rd_u32(r, &n));
	if (n != ndef) {
		/* reported once every section has been read (decode()), as the spec's
		 * decoder does: a section order error further on takes precedence */
		m->bad_code_count = true;
		r->p = r->end;
		return 0;
	}
	m->codes = core_calloc(n ? n : 1, sizeof(*m->codes));
	if (!m->codes)
		return nomem(r);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t size;
		struct wasm_reader body;

		TRY(wasm_rd_u32(r, &size));
		if (size > (size_t)(r->end - r->p))
			return wasm_rd_fail(r, WASM_ERR_MALFORMED,
					    "unexpected end of section or function (function "
					    "body size %u, %zu bytes left)",
					    size, (size_t)(r->end - r->p));
		body = *r;
		body.end = r->p + size;
		body.func = m->nfunc_imports + i;
		m->codes[i].body = (uint32_t)(r->p - r->base);
		m->codes[i].body_len = size;
		TRY(wasm_compile_func(m, m->nfunc_imports + i, &body,
				      !(m->load_flags & WASM_LOAD_EAGER)));
		if (m->load_flags & WASM_LOAD_EAGER) {
			atomic_init(&m->codes[i].ready, true);
			atomic_fetch_add_explicit(&m->ncompiled, 1, memory_order_relaxed);
		}
		r->p += size;
	}
	return 0;
}

static int parse_data(struct wasm_module *m, struct wasm_reader *r)
{
	uint32_t n, cap;

	TRY(rd_vec(r, 1, &n, &cap));
	if (m->has_datacount && n != m->datacount)
		return wasm_rd_fail(r, WASM_ERR_MALFORMED,
				    "data count and data section have inconsistent lengths");
	m->datas = core_calloc(cap ? cap : 1, sizeof(*m->datas));
	if (!m->datas)
		return nomem(r);
	for (uint32_t i = 0; i < n; i++) {
		struct wasm_dataseg *d;
		uint32_t flags;
		const uint8_t *b;

		TRY(vec_room(r, i, cap));
		d = &m->datas[i];
		m->ndatas = i + 1;
		TRY(wasm_rd_u32(r, &flags));
		if (flags > 2)
			return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed data segment kind %u",
					    flags);
		d->mode = flags == 1 ? WASM_SEG_PASSIVE : WASM_SEG_ACTIVE;
		if (flags == 2)
			TRY(wasm_rd_u32(r, &d->mem));
		if (d->mode == WASM_SEG_ACTIVE) {
			TRY(check_index(m, r, WASM_EXTERN_MEMORY, d->mem));
			TRY(rd_cexpr(m, r, m->mems[d->mem].is64 ? WASM_I64 : WASM_I32, &d->offset));
		}
		TRY(wasm_rd_u32(r, &d->len));
		TRY(wasm_rd_bytes(r, d->len, &b));
		d->bytes = core_alloc(d->len ? d->len : 1);
		if (!d->bytes)
			return nomem(r);
		memcpy(d->bytes, b, d->len);
	}
	return 0;
}

/* The "name" custom section: function names only, and leniently (errors ignored). */
static void parse_names(struct wasm_module *m, struct wasm_reader *r)
{
	while (r->p < r->end) {
		uint8_t id;
		uint32_t size, n;
		struct wasm_reader sub;

		if (wasm_rd_u8(r, &id) || wasm_rd_u32(r, &size) || size > (size_t)(r->end - r->p))
			return;
		sub = *r;
		sub.end = r->p + size;
		r->p += size;
		if (id != 1 || m->func_names || wasm_rd_u32(&sub, &n))
			continue;
		m->func_names = core_calloc(m->nfuncs ? m->nfuncs : 1, sizeof(char *));
		m->func_name_lens = core_calloc(m->nfuncs ? m->nfuncs : 1, sizeof(uint32_t));
		if (!m->func_names || !m->func_name_lens)
			return;
		m->nfunc_names = m->nfuncs; /* sections after this one may add functions */
		for (uint32_t i = 0; i < n; i++) {
			uint32_t idx, len;
			char *name;
			if (wasm_rd_u32(&sub, &idx) || rd_name(&sub, &name, &len))
				return;
			if (idx < m->nfunc_names && !m->func_names[idx]) {
				m->func_names[idx] = name;
				m->func_name_lens[idx] = len;
			} else {
				core_free(name);
			}
		}
	}
}

static int parse_custom(struct wasm_module *m, struct wasm_reader *r)
{
	char *name;

	TRY(rd_name(r, &name, NULL));
	if (!strcmp(name, "name")) {
		struct wasm_reader sub = *r;
		sub.err = NULL;
		parse_names(m, &sub);
	}
	core_free(name);
	r->p = r->end;
	return 0;
}

/* ----- sections ----- */

static const char *const section_names[] = {
	"custom", "type",  "import",  "function", "table", "memory",	 "global",
	"export", "start", "element", "code",	  "data",  "data count", "tag",
};

/* Position of each section id in the required order (custom sections excepted). */
static const uint8_t section_rank[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 11, 6};

static int alloc_declared(struct wasm_module *m, struct wasm_reader *r)
{
	if (m->declared)
		return 0;
	m->declared = core_calloc(m->nfuncs ? m->nfuncs : 1, 1);
	if (!m->declared)
		return nomem(r);
	return 0;
}

static int parse_section(struct wasm_module *m, struct wasm_reader *r, uint8_t id)
{
	if (id >= 4) /* 3.0: a table's initialiser may hold ref.func */
		TRY(alloc_declared(m, r));
	switch (id) {
	case 0:
		return parse_custom(m, r);
	case 1:
		return parse_types(m, r);
	case 2:
		return parse_imports(m, r);
	case 3:
		return parse_functions(m, r);
	case 4:
		return parse_tables(m, r);
	case 5:
		return parse_memories(m, r);
	case 6:
		return parse_globals(m, r);
	case 7:
		return parse_exports(m, r);
	case 8:
		return parse_start(m, r);
	case 9:
		return parse_elems(m, r);
	case 10:
		return parse_code(m, r);
	case 11:
		return parse_data(m, r);
	case 12:
		TRY(wasm_rd_u32(r, &m->datacount));
		m->has_datacount = true;
		return 0;
	case 13: /* 3.0 exception handling: between memory and global */
		return parse_tags(m, r);
	}
	return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed section id %u", id);
}

static int decode(struct wasm_module *m, struct wasm_reader *r)
{
	static const uint8_t magic[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
	uint8_t last_rank = 0;
	const uint8_t *hdr;

	/* the magic and the version are each read as a whole before they are compared */
	if (r->end - r->p < 4)
		return wasm_rd_eof(r);
	if (memcmp(r->p, magic, 4))
		return wasm_rd_fail(r, WASM_ERR_MALFORMED, "magic header not detected");
	if (r->end - r->p < 8)
		return wasm_rd_eof(r);
	if (memcmp(r->p + 4, magic + 4, 4))
		return wasm_rd_fail(r, WASM_ERR_MALFORMED, "unknown binary version");
	TRY(wasm_rd_bytes(r, 8, &hdr));
	while (r->p < r->end) {
		uint8_t id;
		uint32_t size;
		struct wasm_reader sec;

		r->section = NULL;
		TRY(wasm_rd_u8(r, &id));
		if (id > 13)
			return wasm_rd_fail(r, WASM_ERR_MALFORMED, "malformed section id %u", id);
		r->section = section_names[id];
		TRY(wasm_rd_u32(r, &size));
		if (size > (size_t)(r->end - r->p))
			return wasm_rd_fail(
				r, WASM_ERR_MALFORMED,
				"length out of bounds (section size %u, %zu bytes left)", size,
				(size_t)(r->end - r->p));
		if (id != 0) {
			if (section_rank[id] <= last_rank)
				return wasm_rd_fail(r, WASM_ERR_MALFORMED,
						    "unexpected content after last section");
			last_rank = section_rank[id];
		}
		sec = *r;
		sec.end = r->p + size;
		sec.bounded = true;
		TRY(parse_section(m, &sec, id));
		if (sec.p != sec.end)
			return wasm_rd_fail(&sec, WASM_ERR_MALFORMED, "section size mismatch");
		r->p = sec.end;
	}
	r->section = NULL;
	TRY(alloc_declared(m, r));
	if (m->bad_code_count || (!m->codes && m->nfuncs != m->nfunc_imports))
		return wasm_rd_fail(r, WASM_ERR_MALFORMED,
				    "function and code section have inconsistent lengths");
	if (m->has_datacount && m->datacount != m->ndatas)
		return wasm_rd_fail(r, WASM_ERR_MALFORMED,
				    "data count and data section have inconsistent lengths");
	return 0;
}

int wasm_module_load(const uint8_t *bytes, size_t len, struct wasm_module **out,
		     struct wasm_error *err)
{
	return wasm_module_load_flags(bytes, len, 0, out, err);
}

int wasm_module_load_eager(const uint8_t *bytes, size_t len, struct wasm_module **out,
			   struct wasm_error *err)
{
	return wasm_module_load_flags(bytes, len, WASM_LOAD_EAGER, out, err);
}

void wasm_module_compiled(const struct wasm_module *m, uint32_t *compiled, uint32_t *defined)
{
	*compiled = atomic_load_explicit(&m->ncompiled, memory_order_relaxed);
	*defined = m->nfuncs - m->nfunc_imports;
}

int wasm_module_load_flags(const uint8_t *bytes, size_t len, uint32_t flags,
			   struct wasm_module **out, struct wasm_error *err)
{
	struct wasm_reader r = {bytes, bytes + len, bytes, err, NULL, -1, false};
	struct wasm_module *m;
	int rc;

	if (err) {
		memset(err, 0, sizeof(*err));
		err->func = err->offset = err->instr = -1;
	}
	m = core_calloc(1, sizeof(*m));
	if (!m)
		return wasm_fail(err, WASM_ERR_NOMEM, NULL, -1, -1, "out of memory");
	m->load_flags = flags;
	atomic_init(&m->ncompiled, 0);
	rc = decode(m, &r);
	if (rc)
		goto err_destroy;
	if (flags & WASM_LOAD_EAGER || m->nfuncs == m->nfunc_imports) {
		wasm_cc_keep_destroy(m->keep);
		m->keep = NULL;
	} else {
		/* the bodies are compiled from a copy at their first calls */
		rc = -ENOMEM;
		m->bytes = core_alloc(len);
		if (!m->bytes || pthread_mutex_init(&m->compile_lock, NULL)) {
			wasm_fail(err, WASM_ERR_NOMEM, NULL, -1, -1, "out of memory");
			goto err_destroy;
		}
		m->has_lock = true;
		memcpy(m->bytes, bytes, len);
	}
	*out = m;
	return 0;
err_destroy:
	wasm_module_destroy(m);
	return rc;
}

void wasm_module_destroy(struct wasm_module *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; i < m->nimports; i++) {
		core_free(m->imports[i].module);
		core_free(m->imports[i].name);
	}
	for (uint32_t i = 0; i < m->nexports; i++)
		core_free(m->exports[i].name);
	for (uint32_t i = 0; i < m->nelems; i++)
		core_free(m->elems[i].items);
	core_free(m->ceops);
	for (uint32_t i = 0; i < m->ndatas; i++)
		core_free(m->datas[i].bytes);
	if (m->codes)
		for (uint32_t i = 0; i < m->nfuncs - m->nfunc_imports; i++)
			wasm_code_fini(&m->codes[i]);
	if (m->func_names)
		for (uint32_t i = 0; i < m->nfunc_names; i++)
			core_free(m->func_names[i]);
	core_free(m->func_names);
	core_free(m->func_name_lens);
	core_free(m->codes);
	core_free(m->declared);
	core_free(m->datas);
	core_free(m->elems);
	core_free(m->exports);
	core_free(m->tag_type);
	core_free(m->globals);
	core_free(m->mems);
	core_free(m->tables);
	core_free(m->func_type);
	core_free(m->imports);
	core_free(m->type_canon);
	core_free(m->typebuf);
	core_free(m->vtypebuf);
	core_free(m->types);
	wasm_cc_keep_destroy(m->keep);
	core_free(m->bytes);
	if (m->has_lock)
		pthread_mutex_destroy(&m->compile_lock);
	core_free(m);
}

/* Pairs of types of two modules found the same, so that comparing types that name
 * other types costs one comparison per pair (a chain of types naming earlier ones twice
 * would otherwise take exponential time). */
struct same_memo {
	uint64_t *keys; /* (ia + 1) << 32 | ib, 0: empty */
	uint32_t mask, n;
	bool oom;
};

static bool memo_has(const struct same_memo *mm, uint64_t key)
{
	if (!mm->keys)
		return false;
	for (uint32_t i = (uint32_t)(key * 0x9e3779b97f4a7c15ull >> 40) & mm->mask; mm->keys[i];
	     i = (i + 1) & mm->mask)
		if (mm->keys[i] == key)
			return true;
	return false;
}

static void memo_add(struct same_memo *mm, uint64_t key)
{
	if ((mm->n + 1) * 2 > mm->mask) {
		uint32_t mask = mm->mask ? mm->mask * 2 + 1 : 255;
		uint64_t *old = mm->keys, *k = core_calloc((size_t)mask + 1, sizeof(*k));
		if (!k) {
			mm->oom = true; /* then only slower */
			return;
		}
		mm->keys = k;
		for (uint32_t i = 0; old && i <= mm->mask; i++) {
			if (old[i]) {
				uint32_t j =
					(uint32_t)(old[i] * 0x9e3779b97f4a7c15ull >> 40) & mask;
				while (k[j])
					j = (j + 1) & mask;
				k[j] = old[i];
			}
		}
		core_free(old);
		mm->mask = mask;
	}
	for (uint32_t i = (uint32_t)(key * 0x9e3779b97f4a7c15ull >> 40) & mm->mask;;
	     i = (i + 1) & mm->mask) {
		if (!mm->keys[i]) {
			mm->keys[i] = key;
			mm->n++;
			return;
		}
	}
}

static bool same_group(const struct wasm_module *ma, uint32_t ia, const struct wasm_module *mb,
		       uint32_t ib, struct same_memo *mm, bool memo);

/* Value a of a type in ma's group starting at ga against b of mb's group at gb. */
static bool same_value(const struct wasm_module *ma, wasm_vt a, uint32_t ga,
		       const struct wasm_module *mb, wasm_vt b, uint32_t gb, uint32_t glen,
		       struct same_memo *mm)
{
	uint32_t x, y;
	bool xin, yin;

	if (wasm_vt_code(a) != WASM_HT_IDX || wasm_vt_code(b) != WASM_HT_IDX)
		return a == b;
	if ((a & WASM_VT_NONNULL) != (b & WASM_VT_NONNULL))
		return false;
	x = wasm_vt_index(a), y = wasm_vt_index(b);
	xin = x >= ga && x - ga < glen;
	yin = y >= gb && y - gb < glen;
	if (xin || yin) /* within the group: the same position */
		return xin && yin && x - ga == y - gb;
	return same_group(ma, x, mb, y, mm, true);
}

static bool same_ftype(const struct wasm_ftype *a, uint32_t ga, const struct wasm_ftype *b,
		       uint32_t gb, uint32_t glen, struct same_memo *mm)
{
	if (a->comp != b->comp || a->final != b->final ||
	    (a->super == WASM_NO_SUPER) != (b->super == WASM_NO_SUPER))
		return false;
	/* the supertypes compare as references to them do */
	if (a->super != WASM_NO_SUPER &&
	    !same_value(a->mod, wasm_vt_idx(a->super, true), ga, b->mod,
			wasm_vt_idx(b->super, true), gb, glen, mm))
		return false;
	if (a->comp != WASM_COMP_FUNC) {
		if (a->nfields != b->nfields)
			return false;
		for (uint32_t i = 0; i < a->nfields; i++)
			if (a->fmut[i] != b->fmut[i] ||
			    !same_value(a->mod, a->fields[i], ga, b->mod, b->fields[i], gb, glen,
					mm))
				return false;
		return true;
	}
	if (a->pub.nparams != b->pub.nparams || a->pub.nresults != b->pub.nresults)
		return false;
	for (uint32_t i = 0; i < a->pub.nparams; i++)
		if (!same_value(a->mod, a->vparams[i], ga, b->mod, b->vparams[i], gb, glen, mm))
			return false;
	for (uint32_t i = 0; i < a->pub.nresults; i++)
		if (!same_value(a->mod, a->vresults[i], ga, b->mod, b->vresults[i], gb, glen, mm))
			return false;
	return true;
}

/* Iso-recursive equivalence: the groups have the same shape, the types sit at the same
 * position in them, and references out of the groups name the same types. Types of one
 * module compare through type_canon (every earlier group's is known). Pairs found the
 * same below the top (memo) are remembered, so the top-level comparison (call_indirect
 * between instances) allocates nothing unless types name other types. */
static bool same_group(const struct wasm_module *ma, uint32_t ia, const struct wasm_module *mb,
		       uint32_t ib, struct same_memo *mm, bool memo)
{
	const struct wasm_ftype *ta = &ma->types[ia], *tb = &mb->types[ib];
	uint64_t key = ((uint64_t)ia + 1) << 32 | ib;

	if (ma == mb && ia == ib)
		return true;
	if (ma == mb && ia < ma->ncanon && ib < ma->ncanon)
		return ma->type_canon[ia] == ma->type_canon[ib];
	if (ta->rec_len != tb->rec_len || ia - ta->rec_start != ib - tb->rec_start)
		return false;
	if (ma != mb && memo_has(mm, key))
		return true;
	for (uint32_t k = 0; k < ta->rec_len; k++)
		if (!same_ftype(&ma->types[ta->rec_start + k], ta->rec_start,
				&mb->types[tb->rec_start + k], tb->rec_start, ta->rec_len, mm))
			return false;
	if (ma != mb && memo)
		memo_add(mm, key);
	return true;
}

bool wasm_type_same(const struct wasm_module *ma, uint32_t ia, const struct wasm_module *mb,
		    uint32_t ib)
{
	struct same_memo mm = {0};
	bool same;

	if (ma == mb && ia == ib)
		return true;
	same = same_group(ma, ia, mb, ib, &mm, false);
	core_free(mm.keys);
	return same;
}

/* The composite kind of concrete heap type ht of m (WASM_COMP_*), 0 when unknown. */
static uint8_t comp_of(const struct wasm_module *m, uint32_t ht)
{
	uint32_t i = wasm_vt_index(ht);

	return m && i < m->ntypes_seen ? m->types[i].comp : 0;
}

/* Whether concrete type ia of ma is the same as, or declares (through its chain of
 * supertypes), concrete type ib of mb. */
static bool idx_sub(const struct wasm_module *ma, uint32_t ia, const struct wasm_module *mb,
		    uint32_t ib)
{
	for (uint32_t t = ia, n = 0; t != WASM_NO_SUPER && n <= WASM_MAX_SUBTYPE_DEPTH; n++) {
		if (wasm_type_same(ma, t, mb, ib))
			return true;
		if (t >= ma->ntypes)
			return false; /* its group is being read: no supertype known yet */
		t = ma->types[t].super;
	}
	return false;
}

uint8_t wasm_vt_rep(const struct wasm_module *m, wasm_vt t)
{
	uint32_t c = wasm_vt_code(t);

	switch (c) {
	case WASM_HT_ANY:
	case WASM_HT_EQ:
	case WASM_HT_I31:
	case WASM_HT_STRUCT:
	case WASM_HT_ARRAY:
	case WASM_HT_NONE:
		return WASM_ANYREF;
	case WASM_HT_IDX: {
		uint8_t k = comp_of(m, t);
		return k == WASM_COMP_STRUCT || k == WASM_COMP_ARRAY ? WASM_ANYREF : WASM_FUNCREF;
	}
	default:
		return wasm_vt_byte(t);
	}
}

bool wasm_vt_sub(const struct wasm_module *ma, wasm_vt a, const struct wasm_module *mb, wasm_vt b)
{
	uint32_t ha, hb;
	uint8_t ca;

	if (a == 0 || (a == b && (ma == mb || wasm_vt_code(a) != WASM_HT_IDX)))
		return true;
	if (!wasm_vt_is_ref(a) || !wasm_vt_is_ref(b))
		return false;
	if (wasm_vt_nullable(a) && !wasm_vt_nullable(b))
		return false;
	ha = wasm_vt_code(a), hb = wasm_vt_code(b);
	if (ha == WASM_HT_BOT)
		return true;
	ca = ha == WASM_HT_IDX ? comp_of(ma, a) : 0;
	switch (hb) {
	case WASM_FUNCREF:
		return ha == WASM_FUNCREF || ha == WASM_HT_NOFUNC || ca == WASM_COMP_FUNC;
	case WASM_EXTERNREF:
		return ha == WASM_EXTERNREF || ha == WASM_HT_NOEXTERN;
	case WASM_HT_EXN: /* 3.0 exception handling */
		return ha == WASM_HT_EXN || ha == WASM_HT_NOEXN;
	case WASM_HT_ANY:
		if (ha == WASM_HT_ANY)
			return true;
		/* fall through */
	case WASM_HT_EQ:
		if (ha == WASM_HT_EQ || ha == WASM_HT_I31 || ha == WASM_HT_STRUCT ||
		    ha == WASM_HT_ARRAY)
			return true;
		return ha == WASM_HT_NONE || ca == WASM_COMP_STRUCT || ca == WASM_COMP_ARRAY;
	case WASM_HT_STRUCT:
		return ha == WASM_HT_STRUCT || ha == WASM_HT_NONE || ca == WASM_COMP_STRUCT;
	case WASM_HT_ARRAY:
		return ha == WASM_HT_ARRAY || ha == WASM_HT_NONE || ca == WASM_COMP_ARRAY;
	case WASM_HT_I31:
		return ha == WASM_HT_I31 || ha == WASM_HT_NONE;
	case WASM_HT_IDX:
		if (ha == WASM_HT_NOFUNC)
			return comp_of(mb, b) == WASM_COMP_FUNC;
		if (ha == WASM_HT_NONE)
			return comp_of(mb, b) == WASM_COMP_STRUCT ||
			       comp_of(mb, b) == WASM_COMP_ARRAY;
		return ha == WASM_HT_IDX && ma && mb &&
		       idx_sub(ma, wasm_vt_index(a), mb, wasm_vt_index(b));
	default:
		return ha == hb;
	}
}

bool wasm_ftype_equal(const struct wasm_ftype *a, const struct wasm_ftype *b)
{
	if (a->comp != b->comp || a->pub.nparams != b->pub.nparams ||
	    a->pub.nresults != b->pub.nresults)
		return false;
	if (a->comp != WASM_COMP_FUNC && (!a->mod || !b->mod))
		return false; /* struct and array types compare by their fields: wasm_type_same */
	if (a->comp != WASM_COMP_FUNC || a->has_idx || b->has_idx || a->rec_len > 1 ||
	    b->rec_len > 1 || !a->final || !b->final || a->super != b->super) {
		if (!a->mod || !b->mod)
			return false;
		return wasm_type_same(a->mod, (uint32_t)(a - a->mod->types), b->mod,
				      (uint32_t)(b - b->mod->types));
	}
	/* no type indices: the full types compare as numbers (a host function's are its
	 * bytes) */
	for (uint32_t i = 0; i < a->pub.nparams; i++)
		if ((a->vparams ? a->vparams[i] : a->pub.params[i]) !=
		    (b->vparams ? b->vparams[i] : b->pub.params[i]))
			return false;
	for (uint32_t i = 0; i < a->pub.nresults; i++)
		if ((a->vresults ? a->vresults[i] : a->pub.results[i]) !=
		    (b->vresults ? b->vresults[i] : b->pub.results[i]))
			return false;
	return true;
}

bool wasm_ftype_match(const struct wasm_ftype *a, const struct wasm_ftype *b)
{
	if (wasm_ftype_equal(a, b))
		return true;
	if (!a->mod || !b->mod || a->super == WASM_NO_SUPER)
		return false;
	return idx_sub(a->mod, (uint32_t)(a - a->mod->types), b->mod,
		       (uint32_t)(b - b->mod->types));
}

const char *wasm_module_func_name(const struct wasm_module *m, uint32_t fidx, size_t *len)
{
	*len = 0;
	if (m->func_names && m->func_name_lens && fidx < m->nfunc_names && m->func_names[fidx]) {
		*len = m->func_name_lens[fidx];
		return m->func_names[fidx];
	}
	for (uint32_t i = 0; i < m->nexports; i++) {
		if (m->exports[i].kind == WASM_EXTERN_FUNC && m->exports[i].idx == fidx) {
			*len = m->exports[i].namelen;
			return m->exports[i].name;
		}
	}
	return NULL;
}

uint32_t wasm_module_import_count(const struct wasm_module *m)
{
	return m->nimports;
}

void wasm_module_import(const struct wasm_module *m, uint32_t i, const char **module,
			const char **name, enum wasm_extern_kind *kind)
{
	*module = m->imports[i].module;
	*name = m->imports[i].name;
	*kind = (enum wasm_extern_kind)m->imports[i].kind;
}

const struct wasm_functype *wasm_module_import_functype(const struct wasm_module *m, uint32_t i)
{
	if (m->imports[i].kind != WASM_EXTERN_FUNC)
		return NULL;
	return &m->types[m->func_type[m->imports[i].idx]].pub;
}
