/*
 * Address translation (privileged spec 4.3-4.4: Sv39, Sv48; satp Bare) and the software
 * TLB's slow paths: page-table walks with A/D updates, permission checks, misaligned
 * accesses (emulated, also across pages), MMIO dispatch, and TLB refills. The inline fast
 * paths live in the interpreter. Return convention: 0 on success, otherwise the exception
 * cause to raise, with the faulting address in h->fault_tval (EXC_BREAKPOINT when a
 * load/store trigger fires, cpu/trigger.h). Hart thread only.
 */
#ifndef LODGE_CPU_MMU_H
#define LODGE_CPU_MMU_H

#include <stdint.h>

#include "cpu/hart.h"

/* Translates va for `acc` at privilege `priv` (with mstatus SUM/MXR). */
int mmu_translate(struct hart *h, uint64_t va, enum access acc, unsigned priv, uint64_t *pa);

/* Loads/stores of 1, 2, 4 or 8 bytes at va (any alignment) through the data regime. One
 * that faults has no effect: nothing is written (or read from a device). */
int mmu_load(struct hart *h, uint64_t va, unsigned size, uint64_t *out);
int mmu_store(struct hart *h, uint64_t va, unsigned size, uint64_t val);

/* For atomics: host pointer for an aligned `size`-byte RAM location writable at va
 * (store/AMO faults; non-RAM gives a store access fault). `acc` ACC_READ for LR. `trig`
 * says which load/store triggers (TRIG_LOAD, TRIG_STORE, cpu/trigger.h) the access
 * counts for: LR loads, SC stores, an AMO both. */
int mmu_atomic_ptr(struct hart *h, uint64_t va, unsigned size, enum access acc, unsigned trig,
		   void **out);

/* Instruction fetch: translates pc for execution; on success *ppa = physical address
 * and *host = host pointer of the same byte (in RAM). */
int mmu_fetch(struct hart *h, uint64_t pc, uint64_t *ppa, uint8_t **host);

/* Called after a store to a RAM page whose code_pages flag is set (decoded code, a
 * watched word, or a clean page while the dirty log is on). */
void mmu_store_hook(struct hart *h, uint8_t *host, unsigned size);

/* Flags RAM page `ppn` (an index) PAGE_CODE before a block is decoded from it. The
 * first to flag it drops the write-TLB entries mapping it on every hart of h->env (their
 * next store there takes the slow path and mmu_store_hook); one that finds it flagged
 * waits for such a drop under way to finish. Either way, when this returns no write-TLB
 * entry maps the page. Any hart's thread. */
void mmu_code_flag(struct hart *h, uint64_t ppn);

void mmu_flush_all(struct hart *h);
void mmu_flush_va(struct hart *h, uint64_t va);

#endif
