/*
 * Sdtrig triggers (RISC-V Debug Specification 1.0, chapter 5): TRIG_N address-match
 * triggers of type 2 (mcontrol) or 6 (mcontrol6) on instruction execution, loads and
 * stores, in any of M/S/U, matching equal, >= or < (unsigned), with action 0: a
 * breakpoint exception taken before the instruction (timing "before"), tval = the
 * address. CSRs tselect, tdata1-3, tinfo and tcontrol (mte/mpte), M-mode only.
 *
 * Cost only when armed: execute triggers are honoured where blocks are decoded (a
 * trigger's address becomes a block of its own that checks it, cpu/exec.c); load/store
 * triggers keep their pages out of the data TLB, so only accesses that could match reach
 * the check in mmu.c's slow paths. Hart thread only.
 */
#ifndef LODGE_CPU_TRIGGER_H
#define LODGE_CPU_TRIGGER_H

#include <stdbool.h>
#include <stdint.h>

struct hart;

/* Access kinds, as the load/store bits of mcontrol. */
#define TRIG_LOAD  1u
#define TRIG_STORE 2u

/* h->trig_mem: some load/store trigger is armed; one matches ranges (>=, <), so every
 * page may hold a match. */
#define TRIG_MEM_SOME 1u
#define TRIG_MEM_ALL  2u

/* tcontrol */
#define TCONTROL_MTE  (1ull << 3)
#define TCONTROL_MPTE (1ull << 7)

/* CSR access for 0x7a0-0x7a5 (csr.c has checked the privilege). Return 0, or -1 for a
 * CSR this module does not implement (illegal instruction). A write may set
 * h->trig_flush: the caller's block-boundary poll then drops the decoded blocks. */
int trig_csr_read(const struct hart *h, unsigned csr, uint64_t *v);
int trig_csr_write(struct hart *h, unsigned csr, uint64_t v);

/* While decoding blocks of privilege `priv`: is there an execute trigger at pc in that
 * mode? (Whether it fires also depends on state that changes without a new decode.) */
bool trig_exec_at(const struct hart *h, uint64_t pc, unsigned priv);

/* Does an execute trigger fire before the instruction at pc? Sets its hit bit. */
bool trig_exec_fires(struct hart *h, uint64_t pc);

/* Does a load/store trigger fire for an access of `size` bytes at va? `kinds` is
 * TRIG_LOAD, TRIG_STORE or both (AMOs). Sets the hit bit. Call only when h->trig_mem. */
bool trig_mem_fires(struct hart *h, uint64_t va, unsigned size, unsigned kinds);

/* Must the page holding va stay out of the data TLB (whose hits skip trig_mem_fires)
 * because an armed load/store trigger may match in it? */
bool trig_page_watched(const struct hart *h, uint64_t va);

#endif
