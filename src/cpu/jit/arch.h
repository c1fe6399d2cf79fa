/*
 * The JIT's private interface between the architecture-independent part (jit.c: the code
 * buffer, statistics) and a host architecture's translator (x86_64.c: jit_arch_*).
 * Hosts without a translator build no jit_arch_* and jit_create reports -ENOTSUP.
 */
#ifndef LODGE_CPU_JIT_ARCH_H
#define LODGE_CPU_JIT_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cpu/jit/jit.h"
#include "jit/codebuf.h"

/* The most code one translation may produce (more than any block needs). */
#define JIT_WINDOW (64u << 10)
#define JIT_STUBS  32
/* A linked exit's patched bytes: the epoch (imm32), a jne rel8, the jump (jmp rel32). */
#define LINK_SITE 11

struct jit {
	struct jitbuf buf;	   /* the W^X code buffer (src/jit/codebuf.h) */
	uint8_t *staging;	   /* JIT_WINDOW bytes where code is assembled */
	size_t reset_used;	   /* the shared stubs' bytes, kept by jit_reset */
	uintptr_t stub[JIT_STUBS]; /* shared stubs (entry, exit, chaining, slow paths) */
	uint64_t blocks;
	struct block_cache *bc;
	const struct hart *hart; /* the hart whose code this is (its state at translation) */
	FILE *perf_map;		 /* LODGE_PERF_MAP set: symbols for perf (/tmp/perf-PID.map) */
	bool fma;		 /* the host has FMA3 (x86-64) */
	bool bmi2;		 /* the host has BMI2 (x86-64: rorx) */
};

#if defined(__x86_64__)
#define JIT_ARCH_SUPPORTED 1
/* Assembles the shared stubs into buf (cap bytes) to run at address `at`; fills
 * j->stub[]. Returns the size, or -1 if cap is too small. stub[0] is the entry:
 * int enter(struct hart *h, const void *code, uint64_t icount). */
long jit_arch_stubs(struct jit *j, uint8_t *buf, size_t cap, uintptr_t at);
/* Assembles block b into buf to run at `at`; operations the code passes to helpers are
 * named at their place in `home` (jit_translate). Returns the size, 0 when the block
 * starts with an operation the JIT does not cover, -1 when cap is too small; *uses_ops
 * tells whether the code names any operation. */
long jit_arch_translate(struct jit *j, const struct block *b, const struct block *home,
			bool *uses_ops, uint8_t *buf, size_t cap, uintptr_t at);
#else
#define JIT_ARCH_SUPPORTED 0
#endif

#endif
