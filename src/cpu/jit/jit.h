/*
 * The JIT: translates hot decoded blocks (cpu/block.h) of RV64 integer code to host code.
 * The interpreter stays the reference and runs everything the JIT does not translate; a
 * translated block hands over to it at the first operation it does not cover. Code is
 * written into a memfd with pwrite and run from a read-execute mapping of it
 * (jit/codebuf.h), so no page is ever writable and executable at once.
 *
 * Translated code keeps the interpreter's invariants: the retired-instruction count, the
 * poll at block boundaries (h->poll_at), the pc -> block tables for chaining (so every
 * invalidation of the interpreter's shortcuts also cuts chains), precise exceptions.
 */
#ifndef LODGE_CPU_JIT_JIT_H
#define LODGE_CPU_JIT_JIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hart;
struct block;
struct block_cache;
struct jit;

/* Why translated code returned to the dispatcher. */
enum jit_exit {
	JIT_EXIT_PC,	 /* continue at h->pc (poll due, or the next block is not translated) */
	JIT_EXIT_INTERP, /* interpret from h->jit_exit_pc (h->jit_exit_info: JIT_INFO) */
	JIT_EXIT_TRAP,	 /* an exception was taken: h->pc is the trap handler */
};

/* What a JIT_EXIT_INTERP leaves in h->jit_exit_info: the instructions the block counted at
 * its entry but did not run (the interpreter decodes a block at h->jit_exit_pc and counts
 * it), and the kind of the operation there (statistics). */
#define JIT_INFO(uncount, kind) ((uint64_t)(uncount) | (uint64_t)(kind) << 16)
#define JIT_INFO_UNCOUNT(info)	((unsigned)(info)&0xffff)
#define JIT_INFO_KIND(info)	((unsigned)((info) >> 16) & 0xff)

/* The default number of dispatcher entries after which a block is translated. */
#define JIT_HOT_DEFAULT 32

/* Creates a code buffer of `size` bytes for hart h, whose block cache is bc. Returns 0, -ENOMEM,
 * or -ENOTSUP when there is no JIT for this host architecture (the interpreter runs everything). */
int jit_create(size_t size, struct block_cache *bc, struct hart *h, struct jit **out)
	__attribute__((warn_unused_result));
void jit_destroy(struct jit *j);

/* Drops all translated code (the block arena was flushed). */
void jit_reset(struct jit *j);
/* Drops all translated code as jit_reset does, then punches the code memfd past the stubs
 * so that its pages go back to the host (idle_trim, for an idle hart). */
void jit_release(struct jit *j);

/* Translates block b (of the hart that owns j) and sets b->jit. The code may pass some of
 * b's operations to helpers (CSR, AMO, FPU, xRET and fence instructions): it names them
 * at their place in `home`, the copy of b that lives as long as the code (b itself when
 * home is NULL), and *uses_ops tells whether it did; if not, the code needs no copy of
 * the operations (cpu/exec.c keeps only the header). Returns 0, -ENOSPC when the buffer
 * is full (flush, then decode and translate again), or -ENOTSUP when the block starts
 * with an operation the JIT does not cover or would need more than JIT_WINDOW bytes of
 * code (the interpreter runs it). */
int jit_translate(struct jit *j, struct block *b, const struct block *home, bool *uses_ops);

/* Runs translated code from `code` with the retired-instruction count *icount (updated).
 * Returns an enum jit_exit. */
int jit_run(struct jit *j, struct hart *h, const void *code, uint64_t *icount);

/* Bytes of code in the buffer and blocks translated since creation (statistics). */
size_t jit_bytes(const struct jit *j);
/* Bytes the code buffer holds at most (its budget). */
size_t jit_capacity(const struct jit *j);
uint64_t jit_blocks(const struct jit *j);

#endif
