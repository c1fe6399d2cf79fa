/*
 * The JIT's private interface between the architecture-independent part (jit.c: the code
 * buffer, its two mappings, statistics) and a host architecture's translator
 * (x86_64.c: jit_arch_*). Hosts without a translator build no jit_arch_* and jit_create
 * reports -ENOTSUP.
 */
#ifndef LODGE_CPU_JIT_ARCH_H
#define LODGE_CPU_JIT_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/jit/jit.h"

struct jit {
	uint8_t *rw;	   /* the buffer, writable view */
	const uint8_t *rx; /* the same memory, executable view */
	size_t size, used;
	size_t reset_used; /* the trampoline's bytes, kept by jit_reset */
	int (*enter)(struct hart *h, const void *code, uint64_t icount); /* in rx */
	const uint8_t *exit; /* in rx: returns to jit_run's caller */
	uint64_t blocks;
};

#if defined(__x86_64__)
#define JIT_ARCH_SUPPORTED 1
/* Writes the enter/exit trampoline at j->rw + j->used; sets j->enter and j->exit. Returns
 * false if the buffer is too small. */
bool jit_arch_trampoline(struct jit *j);
/* Translates b at j->rw + j->used; on success returns the code's size in bytes; returns 0
 * when the block starts with an unsupported operation and -1 when the buffer is full. */
long jit_arch_translate(struct jit *j, struct hart *h, struct block_cache *bc, struct block *b);
#else
#define JIT_ARCH_SUPPORTED 0
#endif

#endif
