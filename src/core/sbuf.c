/* Serialised state buffers (see sbuf.h). */
#include "core/sbuf.h"

#include <errno.h>
#include <string.h>

#include "core/alloc.h"

void sbuf_fini(struct sbuf *b)
{
	core_free(b->data);
	memset(b, 0, sizeof(*b));
}

void sbuf_put(struct sbuf *b, const void *p, size_t n)
{
	if (b->err || !n)
		return;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *d;
		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2) {
				b->err = -ENOMEM;
				return;
			}
			cap *= 2;
		}
		d = core_realloc(b->data, cap);
		if (!d) {
			b->err = -ENOMEM;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void put_le(struct sbuf *b, uint64_t v, unsigned n)
{
	uint8_t le[8];

	for (unsigned i = 0; i < n; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	sbuf_put(b, le, n);
}

void sbuf_put_u8(struct sbuf *b, uint8_t v)
{
	put_le(b, v, 1);
}

void sbuf_put_u16(struct sbuf *b, uint16_t v)
{
	put_le(b, v, 2);
}

void sbuf_put_u32(struct sbuf *b, uint32_t v)
{
	put_le(b, v, 4);
}

void sbuf_put_u64(struct sbuf *b, uint64_t v)
{
	put_le(b, v, 8);
}

void sread(struct sreader *r, void *p, size_t n)
{
	if (r->err || n > r->len - r->off) {
		r->err = -EINVAL;
		memset(p, 0, n);
		return;
	}
	memcpy(p, r->data + r->off, n);
	r->off += n;
}

static uint64_t get_le(struct sreader *r, unsigned n)
{
	uint8_t le[8];
	uint64_t v = 0;

	sread(r, le, n);
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)le[i] << (8 * i);
	return v;
}

uint8_t sread_u8(struct sreader *r)
{
	return (uint8_t)get_le(r, 1);
}

uint16_t sread_u16(struct sreader *r)
{
	return (uint16_t)get_le(r, 2);
}

uint32_t sread_u32(struct sreader *r)
{
	return (uint32_t)get_le(r, 4);
}

uint64_t sread_u64(struct sreader *r)
{
	return get_le(r, 8);
}
