/*
 * CSR file. Unimplemented CSRs raise illegal-instruction (OpenSBI and Linux probe with
 * trap handlers). WARL fields keep legal values only: satp ignores writes of an
 * unsupported MODE (Linux probes Sv57 -> Sv48 -> Sv39 this way), mtvec/stvec keep mode 0/1,
 * MPP ignores the reserved value 2. Writes that change translation or interrupt state
 * end the current block (the interpreter treats every CSR instruction as a block end).
 */
#include "cpu/csr.h"

#include "cpu/exec.h"
#include "cpu/fpu.h"
#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "cpu/trap.h"
#include "cpu/trigger.h"

enum {
	CSR_FFLAGS = 0x001,
	CSR_FRM = 0x002,
	CSR_FCSR = 0x003,
	CSR_CYCLE = 0xc00,
	CSR_TIME = 0xc01,
	CSR_INSTRET = 0xc02,
	CSR_HPM3 = 0xc03,
	CSR_HPM31 = 0xc1f,
	CSR_SSTATUS = 0x100,
	CSR_SIE = 0x104,
	CSR_STVEC = 0x105,
	CSR_SCOUNTEREN = 0x106,
	CSR_SENVCFG = 0x10a,
	CSR_SSCRATCH = 0x140,
	CSR_SEPC = 0x141,
	CSR_SCAUSE = 0x142,
	CSR_STVAL = 0x143,
	CSR_SIP = 0x144,
	CSR_STIMECMP = 0x14d,
	CSR_SATP = 0x180,
	CSR_MVENDORID = 0xf11,
	CSR_MARCHID = 0xf12,
	CSR_MIMPID = 0xf13,
	CSR_MHARTID = 0xf14,
	CSR_MCONFIGPTR = 0xf15,
	CSR_MSTATUS = 0x300,
	CSR_MISA = 0x301,
	CSR_MEDELEG = 0x302,
	CSR_MIDELEG = 0x303,
	CSR_MIE = 0x304,
	CSR_MTVEC = 0x305,
	CSR_MCOUNTEREN = 0x306,
	CSR_MENVCFG = 0x30a,
	CSR_MCOUNTINHIBIT = 0x320,
	CSR_MHPMEVENT3 = 0x323,
	CSR_MHPMEVENT31 = 0x33f,
	CSR_MSCRATCH = 0x340,
	CSR_MEPC = 0x341,
	CSR_MCAUSE = 0x342,
	CSR_MTVAL = 0x343,
	CSR_MIP = 0x344,
	CSR_MTINST = 0x34a,
	CSR_TSELECT = 0x7a0, /* tselect .. tcontrol: Sdtrig (trigger.c) */
	CSR_TCONTROL = 0x7a5,
	CSR_PMPCFG0 = 0x3a0,
	CSR_PMPCFG15 = 0x3af,
	CSR_PMPADDR0 = 0x3b0,
	CSR_PMPADDR63 = 0x3ef,
	CSR_MCYCLE = 0xb00,
	CSR_MINSTRET = 0xb02,
	CSR_MHPM3 = 0xb03,
	CSR_MHPM31 = 0xb1f,
};

#define SSTATUS_MASK                                                                               \
	(MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_UBE | MSTATUS_SPP | MSTATUS_VS | MSTATUS_FS |        \
	 MSTATUS_XS | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_UXL | MSTATUS_SD)
#define MSTATUS_WMASK                                                                              \
	(MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | MSTATUS_MPP |     \
	 MSTATUS_FS | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW |        \
	 MSTATUS_TSR)
#define SSTATUS_WMASK                                                                              \
	(MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR)
#define MEDELEG_MASK 0xb3ffull /* all synchronous causes but ecall-from-M and reserved */
#define MIDELEG_MASK (MIP_SSIP | MIP_STIP | MIP_SEIP)
#define MIE_MASK     (MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP | MIP_SEIP | MIP_MEIP)
#define MENVCFG_STCE (1ull << 63)
#define MENVCFG_MASK (MENVCFG_STCE | 1ull) /* STCE, FIOM */

static uint64_t mstatus_read(const struct hart *h)
{
	uint64_t s = h->mstatus;

	if ((s & MSTATUS_FS) == MSTATUS_FS)
		s |= MSTATUS_SD;
	return s;
}

/* Counter access from S/U needs the mcounteren (and, from U, scounteren) bit. */
static bool counter_ok(const struct hart *h, unsigned bit)
{
	if (h->priv < PRV_M && !((h->mcounteren >> bit) & 1))
		return false;
	if (h->priv < PRV_S && !((h->scounteren >> bit) & 1))
		return false;
	return true;
}

static bool sstc_on(const struct hart *h)
{
	return (h->menvcfg & MENVCFG_STCE) != 0;
}

/* mip including the timer bits computed from the clock. */
static uint64_t mip_now(struct hart *h)
{
	exec_update_timers(h);
	return hart_mip(h);
}

static int csr_read(struct hart *h, unsigned csr, uint64_t *v)
{
	switch (csr) {
	case CSR_FFLAGS:
	case CSR_FRM:
	case CSR_FCSR:
		if (!hart_fs_on(h))
			return -1;
		*v = csr == CSR_FFLAGS ? fpu_get_fflags(h)
		     : csr == CSR_FRM  ? h->frm
				       : (fpu_get_fflags(h) | (h->frm << 5));
		return 0;
	case CSR_CYCLE:
	case CSR_INSTRET:
		if (!counter_ok(h, csr - CSR_CYCLE))
			return -1;
		*v = h->instret - 1; /* this instruction was counted at block entry */
		return 0;
	case CSR_TIME:
		if (!counter_ok(h, 1))
			return -1;
		*v = hart_time(h);
		return 0;
	case CSR_MCYCLE:
	case CSR_MINSTRET:
		*v = h->instret - 1;
		return 0;
	case CSR_SSTATUS:
		*v = mstatus_read(h) & SSTATUS_MASK;
		return 0;
	case CSR_SIE:
		*v = h->mie & h->mideleg;
		return 0;
	case CSR_STVEC:
		*v = h->stvec;
		return 0;
	case CSR_SCOUNTEREN:
		*v = h->scounteren;
		return 0;
	case CSR_SENVCFG:
		*v = h->senvcfg;
		return 0;
	case CSR_SSCRATCH:
		*v = h->sscratch;
		return 0;
	case CSR_SEPC:
		*v = h->sepc;
		return 0;
	case CSR_SCAUSE:
		*v = h->scause;
		return 0;
	case CSR_STVAL:
		*v = h->stval;
		return 0;
	case CSR_SIP:
		*v = mip_now(h) & h->mideleg;
		return 0;
	case CSR_STIMECMP:
		/* S-mode needs menvcfg.STCE and mcounteren.TM; M-mode may always access it
		 * (OpenSBI probes it there to detect Sstc). */
		if (h->priv < PRV_M && (!sstc_on(h) || !(h->mcounteren & 2)))
			return -1;
		*v = h->stimecmp;
		return 0;
	case CSR_SATP:
		if (h->priv == PRV_S && (h->mstatus & MSTATUS_TVM))
			return -1;
		*v = h->satp;
		return 0;
	case CSR_MVENDORID:
	case CSR_MARCHID:
	case CSR_MIMPID:
	case CSR_MCONFIGPTR:
		*v = 0;
		return 0;
	case CSR_MHARTID:
		*v = h->mhartid;
		return 0;
	case CSR_MSTATUS:
		*v = mstatus_read(h);
		return 0;
	case CSR_MISA:
		*v = h->misa;
		return 0;
	case CSR_MEDELEG:
		*v = h->medeleg;
		return 0;
	case CSR_MIDELEG:
		*v = h->mideleg;
		return 0;
	case CSR_MIE:
		*v = h->mie;
		return 0;
	case CSR_MTVEC:
		*v = h->mtvec;
		return 0;
	case CSR_MCOUNTEREN:
		*v = h->mcounteren;
		return 0;
	case CSR_MENVCFG:
		*v = h->menvcfg;
		return 0;
	case CSR_MCOUNTINHIBIT:
		*v = h->mcountinhibit;
		return 0;
	case CSR_MSCRATCH:
		*v = h->mscratch;
		return 0;
	case CSR_MEPC:
		*v = h->mepc;
		return 0;
	case CSR_MCAUSE:
		*v = h->mcause;
		return 0;
	case CSR_MTVAL:
		*v = h->mtval;
		return 0;
	case CSR_MIP:
		*v = mip_now(h);
		return 0;
	case CSR_MTINST:
		*v = 0;
		return 0;
	}
	if (csr >= CSR_HPM3 && csr <= CSR_HPM31) {
		if (!counter_ok(h, csr - CSR_CYCLE))
			return -1;
		*v = 0;
		return 0;
	}
	if ((csr >= CSR_MHPM3 && csr <= CSR_MHPM31) ||
	    (csr >= CSR_MHPMEVENT3 && csr <= CSR_MHPMEVENT31)) {
		*v = 0;
		return 0;
	}
	if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15) {
		if (csr & 1)
			return -1; /* odd pmpcfg registers do not exist on RV64 */
		*v = h->pmpcfg[(csr - CSR_PMPCFG0) / 2];
		return 0;
	}
	if (csr >= CSR_PMPADDR0 && csr <= CSR_PMPADDR63) {
		*v = h->pmpaddr[csr - CSR_PMPADDR0];
		return 0;
	}
	if (csr >= CSR_TSELECT && csr <= CSR_TCONTROL)
		return trig_csr_read(h, csr, v);
	return -1;
}

static uint64_t tvec_legal(uint64_t old, uint64_t v)
{
	return (v & 3) < 2 ? v : (v & ~3ull) | (old & 3);
}

static void write_mstatus(struct hart *h, uint64_t v, uint64_t mask)
{
	uint64_t old = h->mstatus;

	if (((v & MSTATUS_MPP) >> 11) == 2)
		v = (v & ~MSTATUS_MPP) | (old & MSTATUS_MPP);
	h->mstatus = (old & ~mask) | (v & mask);
	if ((old ^ h->mstatus) & MSTATUS_MXR)
		mmu_flush_all(h); /* entries filled under MXR=1 may allow too much */
	hart_update_mode(h);
}

static void write_mip(struct hart *h, uint64_t v, uint64_t mask)
{
	if (sstc_on(h))
		mask &= ~MIP_STIP; /* STIP follows stimecmp */
	h->mip_sw = (h->mip_sw & ~mask) | (v & mask);
}

static int write_satp(struct hart *h, uint64_t v)
{
	unsigned mode = (unsigned)(v >> 60);

	if (h->priv == PRV_S && (h->mstatus & MSTATUS_TVM))
		return -1;
	if (mode != 0 && mode != 8 && mode != 9)
		return 0; /* WARL: unsupported modes leave satp unchanged */
	/* No ASID bits are implemented (ASIDLEN = 0), so every switch flushes. */
	h->satp = v & ((0xfull << 60) | ((1ull << 44) - 1));
	mmu_flush_all(h);
	exec_flush_jumps(h);
	hart_update_mode(h);
	return 0;
}

static int write_counter(struct hart *h, uint64_t v)
{
	h->instret = v;
	return 0;
}

static int csr_write(struct hart *h, unsigned csr, uint64_t v)
{
	switch (csr) {
	case CSR_FFLAGS:
		fpu_set_fflags(h, (uint32_t)v & 0x1f);
		hart_fs_dirty(h);
		return 0;
	case CSR_FRM:
		h->frm = (uint32_t)v & 7;
		hart_fs_dirty(h);
		return 0;
	case CSR_FCSR:
		fpu_set_fflags(h, (uint32_t)v & 0x1f);
		h->frm = (uint32_t)(v >> 5) & 7;
		hart_fs_dirty(h);
		return 0;
	case CSR_MCYCLE:
	case CSR_MINSTRET:
		return write_counter(h, v);
	case CSR_SSTATUS:
		write_mstatus(h, v, SSTATUS_WMASK);
		return 0;
	case CSR_SIE:
		h->mie = (h->mie & ~h->mideleg) | (v & h->mideleg & MIE_MASK);
		return 0;
	case CSR_STVEC:
		h->stvec = tvec_legal(h->stvec, v);
		return 0;
	case CSR_SCOUNTEREN:
		h->scounteren = v & 0xffffffff;
		return 0;
	case CSR_SENVCFG:
		h->senvcfg = v & 1;
		return 0;
	case CSR_SSCRATCH:
		h->sscratch = v;
		return 0;
	case CSR_SEPC:
		h->sepc = v & ~1ull;
		return 0;
	case CSR_SCAUSE:
		h->scause = v;
		return 0;
	case CSR_STVAL:
		h->stval = v;
		return 0;
	case CSR_SIP:
		write_mip(h, v, MIP_SSIP & h->mideleg);
		return 0;
	case CSR_STIMECMP:
		h->stimecmp = v;
		exec_update_timers(h);
		return 0;
	case CSR_SATP:
		return write_satp(h, v);
	case CSR_MSTATUS:
		write_mstatus(h, v, MSTATUS_WMASK);
		return 0;
	case CSR_MISA:
		return 0; /* WARL, fixed */
	case CSR_MEDELEG:
		h->medeleg = v & MEDELEG_MASK;
		return 0;
	case CSR_MIDELEG:
		h->mideleg = v & MIDELEG_MASK;
		return 0;
	case CSR_MIE:
		h->mie = v & MIE_MASK;
		return 0;
	case CSR_MTVEC:
		h->mtvec = tvec_legal(h->mtvec, v);
		return 0;
	case CSR_MCOUNTEREN:
		h->mcounteren = v & 0xffffffff;
		return 0;
	case CSR_MENVCFG:
		h->menvcfg = v & MENVCFG_MASK;
		exec_update_timers(h);
		return 0;
	case CSR_MCOUNTINHIBIT:
		h->mcountinhibit = v & ~2ull;
		return 0;
	case CSR_MSCRATCH:
		h->mscratch = v;
		return 0;
	case CSR_MEPC:
		h->mepc = v & ~1ull;
		return 0;
	case CSR_MCAUSE:
		h->mcause = v;
		return 0;
	case CSR_MTVAL:
		h->mtval = v;
		return 0;
	case CSR_MIP:
		write_mip(h, v, MIP_SSIP | MIP_STIP | MIP_SEIP);
		return 0;
	case CSR_MTINST:
		return 0;
	}
	if ((csr >= CSR_MHPM3 && csr <= CSR_MHPM31) ||
	    (csr >= CSR_MHPMEVENT3 && csr <= CSR_MHPMEVENT31))
		return 0;
	if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG15) {
		/* Each byte: R W X A(2) L; with no enforcement we keep what is written,
		 * minus the reserved bits 5-6 and the reserved R=0,W=1 combination. */
		uint64_t c = v & 0x9f9f9f9f9f9f9f9full;
		for (int b = 0; b < 8; b++)
			if (((c >> (8 * b)) & 3) == 2)
				c &= ~(3ull << (8 * b));
		h->pmpcfg[(csr - CSR_PMPCFG0) / 2] = c;
		return 0;
	}
	if (csr >= CSR_PMPADDR0 && csr <= CSR_PMPADDR63) {
		h->pmpaddr[csr - CSR_PMPADDR0] = v & ((1ull << 54) - 1);
		return 0;
	}
	if (csr >= CSR_TSELECT && csr <= CSR_TCONTROL)
		return trig_csr_write(h, csr, v);
	return -1;
}

int csr_op(struct hart *h, unsigned csr, enum csr_opkind op, uint64_t src, bool write,
	   uint64_t *old)
{
	uint64_t v, nv;

	if (h->priv < ((csr >> 8) & 3))
		return -1;
	if (write && (csr >> 10) == 3)
		return -1; /* read-only CSR */
	if (csr_read(h, csr, &v))
		return -1;
	*old = v;
	if (!write)
		return 0;
	/* Read-modify-write of mip/sip uses the software-written SEIP bit, not the PLIC's
	 * line (privileged spec 3.1.9). */
	if (csr == CSR_MIP || csr == CSR_SIP)
		v = (v & ~MIP_SEIP) | (h->mip_sw & MIP_SEIP);
	nv = op == CSR_RW ? src : op == CSR_RS ? (v | src) : (v & ~src);
	return csr_write(h, csr, nv);
}
