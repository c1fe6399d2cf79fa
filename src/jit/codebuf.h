/*
 * A W^X buffer for generated code, shared by Lodge's translators. The code lives in a
 * memfd mapped once, read-execute; it is assembled elsewhere (a private staging buffer)
 * and copied in with pwrite, so the process never has a writable mapping of code at all:
 * no page is ever writable and executable, without mprotect calls, and each code page is
 * counted once in the RSS. The buffer is filled from the start; pages are allocated by
 * the kernel only when written. One buffer is used by one thread at a time.
 */
#ifndef LODGE_JIT_CODEBUF_H
#define LODGE_JIT_CODEBUF_H

#include <stddef.h>
#include <stdint.h>

struct jitbuf {
	int fd;		   /* memfd holding the code */
	const uint8_t *rx; /* its read-execute mapping */
	size_t size;	   /* bytes mapped */
	size_t used;	   /* bytes handed out so far */
	const char *name;  /* the memfd's, for /proc maps */
};

/* Creates a buffer of `size` bytes (rounded up to pages), named `name` (a string that
 * outlives the buffer) for /proc maps. Only its addresses are reserved now (rx, and so
 * jitbuf_next, are final): the memfd is made and mapped there by the first write, which
 * returns its errors. Returns 0, or a negative errno (the reservation's mmap failed). */
int jitbuf_init(struct jitbuf *b, size_t size, const char *name)
	__attribute__((warn_unused_result));
/* Unmaps and closes; a zeroed or failed buffer is a no-op. */
void jitbuf_fini(struct jitbuf *b);

/* Copies n bytes from src to offset `at` of the buffer (at + n <= size). Returns 0 or a
 * negative errno (the first write's memfd_create, ftruncate or mmap failed; pwrite
 * cannot fail for a memfd with room). The caller makes
 * sure no thread runs code in the range being replaced. */
int jitbuf_write(struct jitbuf *b, size_t at, const void *src, size_t n)
	__attribute__((warn_unused_result));

/* Appends n bytes at the next `align`-aligned offset (a power of two). Returns 0 and the
 * code's address in *out; -ENOSPC when it does not fit; or jitbuf_write's error. */
int jitbuf_append(struct jitbuf *b, const void *src, size_t n, size_t align, const void **out)
	__attribute__((warn_unused_result));

/* Gives the pages from `from` (rounded up to a page) to the end back to the host (they
 * read as zeroes after), so an idle owner holds no code it may never run again. The
 * caller makes sure no thread runs code there. Returns 0 or a negative errno. */
int jitbuf_release(struct jitbuf *b, size_t from);

/* The address where the next `align`-aligned append would land, and the bytes left
 * after it (for translators that assemble against the final address). */
uintptr_t jitbuf_next(const struct jitbuf *b, size_t align);
size_t jitbuf_room(const struct jitbuf *b, size_t align);

#endif
