/*
 * Hart life cycle and the few entry points other threads use (kick, interrupt lines).
 * Everything else in struct hart belongs to the hart's own thread.
 */
#include "cpu/hart.h"

#include <errno.h>
#include <string.h>

#include "cpu/exec.h"
#include "cpu/mmu.h"
#include "machine/machine.h"

#define MISA_RV64GC                                                                                \
	((2ull << 62) | (1u << ('A' - 'A')) | (1u << ('C' - 'A')) | (1u << ('D' - 'A')) |          \
	 (1u << ('F' - 'A')) | (1u << ('I' - 'A')) | (1u << ('M' - 'A')) | (1u << ('S' - 'A')) |   \
	 (1u << ('U' - 'A')))

int hart_init(struct hart *h, struct vm *vm, unsigned id, uint64_t reset_pc)
{
	int r;

	memset(h, 0, sizeof(*h));
	h->vm = vm;
	h->ram = vm->ram;
	h->ram_base = vm->ram_base;
	h->ram_size = vm->ram_size;
	h->code_pages = vm->code_pages;
	h->mhartid = id;
	h->misa = MISA_RV64GC;
	h->mstatus = (2ull << 32) | (2ull << 34); /* UXL = SXL = 64 */
	h->priv = PRV_M;
	h->pc = reset_pc;
	h->x[10] = id;
	h->mtimecmp = ~0ull;
	h->stimecmp = ~0ull;
	mmu_flush_all(h);
	hart_update_mode(h);
	r = exec_cache_create(h);
	if (r < 0)
		return r;
	return 0;
}

void hart_fini(struct hart *h)
{
	exec_cache_destroy(h);
}

void hart_kick(struct hart *h)
{
	__atomic_store_n(&h->poll_at, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&h->kick, 1, __ATOMIC_RELEASE);
	exec_wake(h);
}

void hart_set_irq(struct hart *h, uint64_t mask, bool level)
{
	if (level)
		__atomic_fetch_or(&h->mip, mask, __ATOMIC_ACQ_REL);
	else
		__atomic_fetch_and(&h->mip, ~mask, __ATOMIC_ACQ_REL);
	hart_kick(h);
}

uint64_t hart_time(const struct hart *h)
{
	return vm_time(h->vm); /* 10 MHz from machine creation, paused time left out */
}

void hart_update_mode(struct hart *h)
{
	unsigned dpriv = h->priv;
	bool bare = (h->satp >> 60) == 0;
	enum tlb_regime ir, dr;

	if (h->priv == PRV_M && (h->mstatus & MSTATUS_MPRV))
		dpriv = (unsigned)((h->mstatus & MSTATUS_MPP) >> 11);
	ir = (bare || h->priv == PRV_M) ? REGIME_BARE : h->priv == PRV_U ? REGIME_U : REGIME_S;
	if (bare || dpriv == PRV_M)
		dr = REGIME_BARE;
	else if (dpriv == PRV_U)
		dr = REGIME_U;
	else
		dr = (h->mstatus & MSTATUS_SUM) ? REGIME_S_SUM : REGIME_S;
	h->itlb = h->tlb[ir][TLB_X];
	h->dtlb = h->tlb[dr][TLB_R];
	h->dtlb_w = h->tlb[dr][TLB_W];
	h->data_priv = dpriv;
}
