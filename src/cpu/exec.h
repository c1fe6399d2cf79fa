/*
 * The interpreter: decoded-block cache and the threaded-code execution loop (hart_run is
 * implemented here). Blocks are decoded once from guest memory into arrays of operations
 * with pre-resolved operands and handler addresses, keyed by (virtual pc, privilege) and
 * validated against the physical page's write generation, so stores to code, fence.i and
 * page-table changes invalidate them.
 */
#ifndef LODGE_CPU_EXEC_H
#define LODGE_CPU_EXEC_H

struct hart;

/* Allocates/frees h->bc. Returns 0 or -ENOMEM. */
int exec_cache_create(struct hart *h) __attribute__((warn_unused_result));
void exec_cache_destroy(struct hart *h);

/* Drops every decoded block (fence.i). */
void exec_flush_all(struct hart *h);
/* Drops the pc -> block shortcut table (translation changed: satp, sfence.vma). */
void exec_flush_jumps(struct hart *h);

/* Recomputes MTIP (mtimecmp) and, with Sstc, STIP (stimecmp) from the clock. */
void exec_update_timers(struct hart *h);

/* Any thread: wakes the hart if it sleeps in wfi. */
void exec_wake(struct hart *h);

#endif
