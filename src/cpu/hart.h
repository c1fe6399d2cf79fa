/*
 * One RISC-V RV64GC hart: architectural state (registers, CSRs), its software TLB and its
 * decoded-block cache. A hart is run by exactly one host thread (hart_run); other threads
 * touch it only through the atomic fields marked below (mip, kick) and hart_kick().
 * Privileged spec 20211203 (M, S, U; Sv39/Sv48), unprivileged spec 20191213.
 */
#ifndef LODGE_CPU_HART_H
#define LODGE_CPU_HART_H

#include <stdbool.h>
#include <stdint.h>

#include "core/gmem.h"

struct hart_env;
struct block_cache;

enum { PRV_U = 0, PRV_S = 1, PRV_M = 3 };

/* Exception causes (mcause with interrupt bit clear). */
enum {
	EXC_INSN_MISALIGNED = 0,
	EXC_INSN_ACCESS = 1,
	EXC_ILLEGAL = 2,
	EXC_BREAKPOINT = 3,
	EXC_LOAD_MISALIGNED = 4,
	EXC_LOAD_ACCESS = 5,
	EXC_STORE_MISALIGNED = 6,
	EXC_STORE_ACCESS = 7,
	EXC_ECALL_U = 8,
	EXC_ECALL_S = 9,
	EXC_ECALL_M = 11,
	EXC_INSN_PAGE = 12,
	EXC_LOAD_PAGE = 13,
	EXC_STORE_PAGE = 15,
};

/* Interrupt numbers (bit positions in mip/mie). */
enum { IRQ_SSI = 1, IRQ_MSI = 3, IRQ_STI = 5, IRQ_MTI = 7, IRQ_SEI = 9, IRQ_MEI = 11 };

#define MIP_SSIP (1ull << IRQ_SSI)
#define MIP_MSIP (1ull << IRQ_MSI)
#define MIP_STIP (1ull << IRQ_STI)
#define MIP_MTIP (1ull << IRQ_MTI)
#define MIP_SEIP (1ull << IRQ_SEI)
#define MIP_MEIP (1ull << IRQ_MEI)

#define MSTATUS_SIE	 (1ull << 1)
#define MSTATUS_MIE	 (1ull << 3)
#define MSTATUS_SPIE	 (1ull << 5)
#define MSTATUS_UBE	 (1ull << 6)
#define MSTATUS_MPIE	 (1ull << 7)
#define MSTATUS_SPP	 (1ull << 8)
#define MSTATUS_VS	 (3ull << 9)
#define MSTATUS_MPP	 (3ull << 11)
#define MSTATUS_FS	 (3ull << 13)
#define MSTATUS_XS	 (3ull << 15)
#define MSTATUS_MPRV	 (1ull << 17)
#define MSTATUS_SUM	 (1ull << 18)
#define MSTATUS_MXR	 (1ull << 19)
#define MSTATUS_TVM	 (1ull << 20)
#define MSTATUS_TW	 (1ull << 21)
#define MSTATUS_TSR	 (1ull << 22)
#define MSTATUS_UXL	 (3ull << 32)
#define MSTATUS_SXL	 (3ull << 34)
#define MSTATUS_SD	 (1ull << 63)
#define MSTATUS_FS_SHIFT 13
#define FS_OFF		 0
#define FS_DIRTY	 3

/* Software TLB: direct mapped, one array per (translation regime, access kind).
 * An entry maps the 4 KiB page at `tag` to host memory: host = va + addend. Entries are
 * installed only for RAM; MMIO always takes the slow path. Invalid entries have tag ~0.
 * The write arrays never map a page flagged PAGE_CODE or PAGE_WATCH: a hart that flags a
 * page drops every hart's write entries for it (cpu/mmu.c), so other threads read and
 * clear write-entry tags, and all accesses to those are atomic. */
#define TLB_BITS 8
#define TLB_SIZE (1u << TLB_BITS)
#define TLB_MASK (TLB_SIZE - 1)

struct tlb_entry {
	uint64_t tag;
	uintptr_t addend;
};

enum tlb_kind { TLB_R, TLB_W, TLB_X, TLB_NKIND };
/* Regimes: bare (M-mode or satp=Bare), U, S without SUM, S with SUM. */
enum tlb_regime { REGIME_BARE, REGIME_U, REGIME_S, REGIME_S_SUM, REGIME_N };

enum access { ACC_READ, ACC_WRITE, ACC_FETCH };

/* Sdtrig address-match triggers (cpu/trigger.c). */
#define TRIG_N 4

struct trigger {
	uint64_t tdata1, tdata2;
};

struct hart {
	/* Hot state first: x[32] is a sink register for writes to x0 (rd = 0 is remapped). */
	uint64_t x[33];
	uint64_t f[32];
	uint64_t pc;
	unsigned priv;
	unsigned data_priv;  /* effective privilege for loads/stores (MPRV) */
	uint64_t poll_at;    /* poll when instret reaches this; others may zero it */
	uint32_t code_epoch; /* env->mem->code_epoch when the pc->block table was last flushed */
	/* Bumped whenever the pc -> block table is flushed for a change of translation or
	 * code (cpu/exec.c; not when the arena's cold part fills): translated code's
	 * direct jumps to other blocks are followed only while it equals the value they
	 * were made at (cpu/jit). */
	uint32_t link_epoch;
	/* Direct jumps translated code may still make (each costs a system call): refilled
	 * a little per instructions retired, so that a guest that flushes the table often
	 * pays little (cpu/block.h, LINK_COST). */
	uint32_t link_budget;
	struct tlb_entry *dtlb;	  /* tlb[data regime], R then W arrays: dtlb[0..], */
	struct tlb_entry *dtlb_w; /* current regime's write TLB */
	uint8_t *ram;		  /* host address of guest RAM */
	uint64_t ram_base, ram_size;
	uint8_t *code_pages; /* per-RAM-page flags (PAGE_*) = env->mem->page_flags */
	/* &env->mem->dirty_log: translated stores through the write TLB, which never maps a
	 * page flagged PAGE_CODE or PAGE_WATCH (cpu/mmu.c), check only this before the page's
	 * flags (a clean page is flagged GMEM_PAGE_TRACK while the dirty log is on). */
	const bool *dirty_log;

	/* CSRs */
	uint64_t mstatus, misa, medeleg, mideleg, mie, mtvec, mscratch, mepc, mcause, mtval;
	uint64_t mcounteren, menvcfg, mcountinhibit;
	uint64_t stvec, sscratch, sepc, scause, stval, satp, scounteren, senvcfg, stimecmp;
	uint64_t mip;	      /* atomic: devices set/clear bits from other threads */
	uint64_t mip_sw;      /* bits written by software (SSIP, STIP, SEIP) */
	uint64_t mtimecmp;    /* CLINT; written by the CLINT device on this hart's thread
			       * or others (atomic access) */
	uint32_t fflags, frm; /* fcsr; see fpu.c for how host flags are folded in */
	uint64_t pmpcfg[8], pmpaddr[64];
	uint64_t mhartid;
	uint64_t instret;      /* retired instructions (also cycle) */
	uint64_t instret_seen; /* atomic: instret at the last poll, for other threads */

	/* Sdtrig (cpu/trigger.c): the triggers and tcontrol, and what is armed. */
	struct trigger trig[TRIG_N];
	uint64_t tselect, tcontrol;
	bool trig_exec;	  /* an execute trigger is armed: blocks are decoded around it */
	uint8_t trig_mem; /* TRIG_MEM_*: load/store triggers armed */
	bool trig_flush;  /* execute triggers changed: drop decoded blocks at the next poll */

	/* LR/SC reservation: host address and the value loaded. */
	void *resv_ptr;
	uint64_t resv_val;

	/* Pending trap detail for the slow paths. */
	uint64_t fault_tval;

	/* Where translated code left off (cpu/jit): the retired-instruction count and, for
	 * JIT_EXIT_INTERP, the pc to interpret from and what the exit counted (JIT_INFO
	 * in cpu/jit/jit.h). */
	uint64_t jit_icount;
	uint64_t jit_exit_pc;
	uint64_t jit_exit_info;

	/* Cross-thread: nonzero asks the hart to poll at the next block boundary. */
	int kick;
	bool wfi; /* stalled in wfi */

	struct hart_env *env;
	struct block_cache *bc;
	struct tlb_entry *itlb;
	struct tlb_entry tlb[REGIME_N][TLB_NKIND][TLB_SIZE];
};

/* Per-RAM-page flags (core/gmem.h). Stores to a flagged page take the slow path. */
#define PAGE_CODE  GMEM_PAGE_CODE  /* decoded blocks exist for this page */
#define PAGE_WATCH GMEM_PAGE_WATCH /* the page holds a watched word (HTIF tohost) */

/* Initialises `h` as hart `id` of `vm` in its reset state (M-mode, pc = reset_pc).
 * Returns 0 or -ENOMEM. Caller owns `h` (it is large: allocate it). */
int hart_init(struct hart *h, struct hart_env *env, unsigned id, uint64_t reset_pc)
	__attribute__((warn_unused_result));
void hart_fini(struct hart *h);

/* Runs the hart on the calling thread until the machine asks it to stop
 * (the board's env->poll says so). Returns 0. */
int hart_run(struct hart *h);

/* Any thread: asks the hart to re-check interrupts and stop requests soon. */
void hart_kick(struct hart *h);

/* Any thread: sets the machine timer comparator (CLINT mtimecmp); MTIP follows it at
 * the hart's next poll. */
void hart_set_timecmp(struct hart *h, uint64_t cmp);

/* Any thread: sets or clears interrupt-pending bits driven by devices (MTIP, MSIP, MEIP,
 * SEIP) and kicks the hart. */
void hart_set_irq(struct hart *h, uint64_t mask, bool level);

/* ---- used by the interpreter's modules (trap.c, csr.c, mmu.c, fpu.c) ---- */

/* Enters the trap for exception `cause` with `tval`; h->pc must be the faulting pc. */
void hart_exception(struct hart *h, uint64_t cause, uint64_t tval);

/* If an enabled interrupt is pending, takes it (h->pc = interrupted pc) and returns true. */
bool hart_check_interrupts(struct hart *h);

/* Interrupts pending and enabled for the current privilege, ignoring global enables. */
uint64_t hart_pending_irqs(const struct hart *h);

/* The current time (CLINT mtime, 10 MHz). */
uint64_t hart_time(const struct hart *h);

/* Recomputes mode-dependent pointers (TLB regime) after priv/mstatus/satp change. */
void hart_update_mode(struct hart *h);

/* Makes the FP state dirty (mstatus.FS = Dirty). */
static inline void hart_fs_dirty(struct hart *h)
{
	h->mstatus |= MSTATUS_FS;
}

static inline bool hart_fs_on(const struct hart *h)
{
	return (h->mstatus & MSTATUS_FS) != 0;
}

#endif
