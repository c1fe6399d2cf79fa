/*
 * Trap entry and return (privileged spec 3.1.6-3.1.9, 3.3.2, 4.1.1): exception and
 * interrupt delegation through medeleg/mideleg, interrupt priority, mret/sret.
 */
#include "cpu/trap.h"

#include <stddef.h>

#include "cpu/hart.h"
#include "cpu/trigger.h"

#define IRQ_BIT 0x8000000000000000ull

static void enter_trap(struct hart *h, uint64_t cause, uint64_t tval, bool irq)
{
	uint64_t deleg = irq ? h->mideleg : h->medeleg;
	uint64_t vec_off = 0;
	uint64_t ms = h->mstatus;

	h->resv_ptr = NULL;
	if (h->priv <= PRV_S && ((deleg >> cause) & 1)) {
		h->scause = cause | (irq ? IRQ_BIT : 0);
		h->sepc = h->pc;
		h->stval = tval;
		ms = (ms & ~(MSTATUS_SPIE | MSTATUS_SPP)) |
		     ((ms & MSTATUS_SIE) ? MSTATUS_SPIE : 0) | (h->priv == PRV_S ? MSTATUS_SPP : 0);
		ms &= ~MSTATUS_SIE;
		if (irq && (h->stvec & 3) == 1)
			vec_off = 4 * cause;
		h->pc = (h->stvec & ~3ull) + vec_off;
		h->priv = PRV_S;
	} else {
		/* Sdtrig: M-mode triggers stay off in the handler until it sets mte */
		h->tcontrol = (h->tcontrol & TCONTROL_MTE) ? TCONTROL_MPTE : 0;
		h->mcause = cause | (irq ? IRQ_BIT : 0);
		h->mepc = h->pc;
		h->mtval = tval;
		ms = (ms & ~(MSTATUS_MPIE | MSTATUS_MPP)) |
		     ((ms & MSTATUS_MIE) ? MSTATUS_MPIE : 0) | ((uint64_t)h->priv << 11);
		ms &= ~MSTATUS_MIE;
		if (irq && (h->mtvec & 3) == 1)
			vec_off = 4 * cause;
		h->pc = (h->mtvec & ~3ull) + vec_off;
		h->priv = PRV_M;
	}
	h->mstatus = ms;
	hart_update_mode(h);
}

void hart_exception(struct hart *h, uint64_t cause, uint64_t tval)
{
	enter_trap(h, cause, tval, false);
}

uint64_t hart_mip(const struct hart *h)
{
	return __atomic_load_n(&h->mip, __ATOMIC_ACQUIRE) | h->mip_sw;
}

uint64_t hart_pending_irqs(const struct hart *h)
{
	return hart_mip(h) & h->mie;
}

/* Highest-priority interrupt in `set`: MEI, MSI, MTI, SEI, SSI, STI. */
static int pick(uint64_t set)
{
	static const int order[] = {IRQ_MEI, IRQ_MSI, IRQ_MTI, IRQ_SEI, IRQ_SSI, IRQ_STI};

	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (set & (1ull << order[i]))
			return order[i];
	return -1;
}

bool hart_check_interrupts(struct hart *h)
{
	uint64_t pend = hart_pending_irqs(h);
	uint64_t m_en, s_en;
	int irq;

	if (!pend)
		return false;
	/* M-level interrupts: enabled below M, or in M with MIE. */
	m_en = (h->priv < PRV_M || (h->mstatus & MSTATUS_MIE)) ? pend & ~h->mideleg : 0;
	/* S-level (delegated): enabled in U, or in S with SIE; never preempt M. */
	s_en = (h->priv < PRV_S || (h->priv == PRV_S && (h->mstatus & MSTATUS_SIE)))
		       ? pend & h->mideleg
		       : 0;
	irq = pick(m_en);
	if (irq < 0)
		irq = pick(s_en);
	if (irq < 0)
		return false;
	enter_trap(h, (uint64_t)irq, 0, true);
	return true;
}

int hart_mret(struct hart *h)
{
	uint64_t ms = h->mstatus;
	unsigned mpp = (unsigned)((ms & MSTATUS_MPP) >> 11);

	if (h->priv < PRV_M)
		return -1;
	ms = (ms & ~MSTATUS_MIE) | ((ms & MSTATUS_MPIE) ? MSTATUS_MIE : 0);
	ms |= MSTATUS_MPIE;
	ms &= ~MSTATUS_MPP; /* MPP = U, the least-privileged mode */
	if (mpp != PRV_M)
		ms &= ~MSTATUS_MPRV;
	h->mstatus = ms;
	h->priv = mpp;
	h->pc = h->mepc;
	if (h->tcontrol & TCONTROL_MPTE)
		h->tcontrol |= TCONTROL_MTE;
	else
		h->tcontrol &= ~TCONTROL_MTE;
	h->resv_ptr = NULL;
	hart_update_mode(h);
	return 0;
}

int hart_sret(struct hart *h)
{
	uint64_t ms = h->mstatus;
	unsigned spp = (ms & MSTATUS_SPP) ? PRV_S : PRV_U;

	if (h->priv < PRV_S || (h->priv == PRV_S && (ms & MSTATUS_TSR)))
		return -1;
	ms = (ms & ~MSTATUS_SIE) | ((ms & MSTATUS_SPIE) ? MSTATUS_SIE : 0);
	ms |= MSTATUS_SPIE;
	ms &= ~(MSTATUS_SPP | MSTATUS_MPRV);
	h->mstatus = ms;
	h->priv = spp;
	h->pc = h->sepc;
	h->resv_ptr = NULL;
	hart_update_mode(h);
	return 0;
}
