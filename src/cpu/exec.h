/*
 * The interpreter: decoded-block cache and the threaded-code execution loop (hart_run is
 * implemented here). Blocks are decoded once from guest memory into arrays of operations
 * with pre-resolved operands and handler addresses, keyed by (virtual pc, privilege) and
 * validated against the physical page's write generation, so stores to code, fence.i and
 * page-table changes invalidate them.
 */
#ifndef LODGE_CPU_EXEC_H
#define LODGE_CPU_EXEC_H

#include <stddef.h>
#include <stdint.h>

struct hart;

/* Allocates/frees h->bc. Returns 0 or -ENOMEM. */
int exec_cache_create(struct hart *h) __attribute__((warn_unused_result));
void exec_cache_destroy(struct hart *h);

/* Bytes of the block arena in use (statistics). */
size_t exec_cache_bytes(const struct hart *h);
/* Bytes of translated code (statistics; 0 without the JIT). */
size_t exec_jit_bytes(const struct hart *h);
/* This hart's share of --jit-cache (statistics): the block arena's bytes and the code
 * buffer's (0 without the JIT). */
void exec_cache_budget(const struct hart *h, size_t *arena, size_t *code);
/* Blocks translated since the start (statistics). */
uint64_t exec_jit_blocks(const struct hart *h);
/* Dispatcher entries that make a block hot now: --jit-hot, or more while the caches
 * thrash (statistics; 0 without the JIT). */
unsigned exec_jit_hot(const struct hart *h);

/* Where the JIT hands over to the interpreter (statistics, --stats): per operation kind,
 * exits of translated code at that operation plus entries of blocks that could not be
 * translated because they start with it. */
struct exec_exit_stat {
	const char *op;
	uint64_t count;
	uint64_t untranslated; /* of count: block entries, not exits */
};
/* Fills out[] with the n most frequent (largest first); returns how many (0 without the
 * JIT). Only the hart's own thread, or any thread once it stopped. */
int exec_jit_exits(const struct hart *h, struct exec_exit_stat *out, int n);
/* Counters (statistics): instructions the interpreter ran while the JIT was on, returns
 * of translated code to the dispatcher for the next pc, drops of both caches, drops of
 * the untranslated (cold) blocks only, successors found by exec_jit_next without a
 * return to the dispatcher, idle trims, blocks decoded, direct jumps written into
 * translated code (jit_link: a system call each). */
struct exec_jit_counts {
	uint64_t interp_insns, leaves, flushes, cold_flushes, relinks, trims, decoded, links;
};
void exec_jit_counts(const struct hart *h, struct exec_jit_counts *out);

/* For translated code whose successor at pc was not in the pc -> block table (filled
 * since the last flush of the table): the translated code of the current block at pc, now
 * also in the table, or NULL (no such block, or not translated: the dispatcher decides).
 * Hart thread; every guest register is in h->x. */
const void *exec_jit_next(struct hart *h, uint64_t pc);

/* Drops every decoded block (the block arena is full). */
void exec_flush_all(struct hart *h);
/* Drops the pc -> block shortcut tables (translation changed: satp, sfence.vma), or only
 * the entries for the page holding va (sfence.vma with an address). */
void exec_flush_jumps(struct hart *h);
void exec_flush_jumps_page(struct hart *h, uint64_t va);

/* Recomputes MTIP (mtimecmp) and, with Sstc, STIP (stimecmp) from the clock. */
void exec_update_timers(struct hart *h);

/* Any thread: wakes the hart if it sleeps in wfi. */
void exec_wake(struct hart *h);

#endif
