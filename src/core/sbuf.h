/*
 * Serialised state: a growable byte buffer that writes fixed-width little-endian
 * integers (struct sbuf), and a bounds-checked reader of the same (struct sreader).
 * Device and machine state is saved this way for snapshots and migration, so the bytes
 * never depend on the host (no pointers, no padding, fixed byte order).
 *
 * Errors are sticky: after an allocation failure (writer) or a read past the end
 * (reader), every later call does nothing and `err` stays set; check it once at the end.
 */
#ifndef LODGE_CORE_SBUF_H
#define LODGE_CORE_SBUF_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

struct sbuf {
	uint8_t *data;
	size_t len, cap;
	int err; /* 0 or -ENOMEM */
};

struct sreader {
	const uint8_t *data;
	size_t len, off;
	int err; /* 0 or -EINVAL (short or malformed input) */
};

/* Frees the buffer's memory and zeroes it (an all-zero sbuf is a valid empty one). */
void sbuf_fini(struct sbuf *b);
void sbuf_put(struct sbuf *b, const void *p, size_t n);
void sbuf_put_u8(struct sbuf *b, uint8_t v);
void sbuf_put_u16(struct sbuf *b, uint16_t v);
void sbuf_put_u32(struct sbuf *b, uint32_t v);
void sbuf_put_u64(struct sbuf *b, uint64_t v);

static inline void sreader_init(struct sreader *r, const void *data, size_t len)
{
	r->data = data;
	r->len = len;
	r->off = 0;
	r->err = 0;
}

/* Readers return 0 once `err` is set. sread copies n bytes or sets err. */
void sread(struct sreader *r, void *p, size_t n);
uint8_t sread_u8(struct sreader *r);
uint16_t sread_u16(struct sreader *r);
uint32_t sread_u32(struct sreader *r);
uint64_t sread_u64(struct sreader *r);

/* Marks the input malformed (a value out of range): sets err to -EINVAL. */
static inline void sreader_fail(struct sreader *r)
{
	if (!r->err)
		r->err = -EINVAL;
}

#endif
