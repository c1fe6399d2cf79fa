/*
 * Hart state records (see state.h). Layout, all little-endian, version 1:
 *   u32 version, u32 hart id, x1..x31 (u64), f0..f31 (u64), u8 priv, u8 wfi, u8 fflags,
 *   u8 frm, then the u64 CSRs in HART_CSRS order, pmpcfg0..7 (the even ones: RV64),
 *   pmpaddr0..63, and tdata1/tdata2 of each of the TRIG_N triggers.
 * One list (HART_CSRS) drives saving and loading, so the two cannot drift apart.
 */
#include "cpu/state.h"

#include <errno.h>

#include "core/sbuf.h"
#include "cpu/exec.h"
#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "cpu/trigger.h"

#define CSR_TSELECT 0x7a0
#define CSR_TDATA1  0x7a1
#define CSR_TDATA2  0x7a2

/* Plain 64-bit CSR fields, in record order. */
#define HART_CSRS(X)                                                                               \
	X(pc)                                                                                      \
	X(mstatus)                                                                                 \
	X(medeleg)                                                                                 \
	X(mideleg)                                                                                 \
	X(mie)                                                                                     \
	X(mtvec)                                                                                   \
	X(mscratch)                                                                                \
	X(mepc)                                                                                    \
	X(mcause)                                                                                  \
	X(mtval)                                                                                   \
	X(mcounteren)                                                                              \
	X(menvcfg)                                                                                 \
	X(mcountinhibit)                                                                           \
	X(stvec)                                                                                   \
	X(sscratch)                                                                                \
	X(sepc)                                                                                    \
	X(scause)                                                                                  \
	X(stval)                                                                                   \
	X(satp)                                                                                    \
	X(scounteren)                                                                              \
	X(senvcfg)                                                                                 \
	X(stimecmp)                                                                                \
	X(mip_sw)                                                                                  \
	X(misa)                                                                                    \
	X(instret)                                                                                 \
	X(tselect)                                                                                 \
	X(tcontrol)

int hart_save(const struct hart *h, struct sbuf *out)
{
	sbuf_put_u32(out, HART_STATE_VERSION);
	sbuf_put_u32(out, (uint32_t)h->mhartid);
	for (unsigned i = 1; i < 32; i++)
		sbuf_put_u64(out, h->x[i]);
	for (unsigned i = 0; i < 32; i++)
		sbuf_put_u64(out, h->f[i]);
	sbuf_put_u8(out, (uint8_t)h->priv);
	sbuf_put_u8(out, h->wfi);
	sbuf_put_u8(out, (uint8_t)h->fflags);
	sbuf_put_u8(out, (uint8_t)h->frm);
#define X(f) sbuf_put_u64(out, h->f);
	HART_CSRS(X)
#undef X
	for (unsigned i = 0; i < 8; i++)
		sbuf_put_u64(out, h->pmpcfg[i]);
	for (unsigned i = 0; i < 64; i++)
		sbuf_put_u64(out, h->pmpaddr[i]);
	for (unsigned i = 0; i < TRIG_N; i++) {
		sbuf_put_u64(out, h->trig[i].tdata1);
		sbuf_put_u64(out, h->trig[i].tdata2);
	}
	return out->err;
}

/* Values a running hart can never hold would break invariants the interpreter relies on
 * (privilege indexes its tables, satp picks the page-table walk). */
static bool legal(const struct hart *h, uint64_t misa)
{
	uint64_t xl = (2ull << 32) | (2ull << 34);
	unsigned mode = (unsigned)(h->satp >> 60);

	if (h->priv != PRV_U && h->priv != PRV_S && h->priv != PRV_M)
		return false;
	if (mode != 0 && mode != 8 && mode != 9)
		return false;
	if ((h->mstatus & (MSTATUS_UXL | MSTATUS_SXL)) != xl ||
	    ((h->mstatus & MSTATUS_MPP) >> 11) == 2)
		return false;
	if (h->mip_sw & ~(MIP_SSIP | MIP_STIP | MIP_SEIP))
		return false;
	return misa == h->misa && h->fflags <= 0x1f && h->frm <= 7 && h->tselect < TRIG_N &&
	       !(h->pc & 1);
}

/* Triggers go through the CSR write path, which keeps only legal configurations and arms
 * what they ask for; a record that needed changing is refused. */
static int load_triggers(struct hart *h, const uint64_t *t, uint64_t tselect)
{
	for (unsigned i = 0; i < TRIG_N; i++) {
		trig_csr_write(h, CSR_TSELECT, i);
		trig_csr_write(h, CSR_TDATA1, t[2 * i]);
		trig_csr_write(h, CSR_TDATA2, t[2 * i + 1]);
		if (h->trig[i].tdata1 != t[2 * i])
			return -EINVAL;
	}
	h->tselect = tselect;
	return 0;
}

int hart_load(struct hart *h, struct sreader *in)
{
	uint64_t misa = h->misa, trig[2 * TRIG_N];
	int r;

	if (sread_u32(in) != HART_STATE_VERSION || sread_u32(in) != h->mhartid)
		return -EINVAL;
	for (unsigned i = 1; i < 32; i++)
		h->x[i] = sread_u64(in);
	for (unsigned i = 0; i < 32; i++)
		h->f[i] = sread_u64(in);
	h->priv = sread_u8(in);
	h->wfi = sread_u8(in) != 0;
	h->fflags = sread_u8(in);
	h->frm = sread_u8(in);
#define X(f) h->f = sread_u64(in);
	HART_CSRS(X)
#undef X
	for (unsigned i = 0; i < 8; i++)
		h->pmpcfg[i] = sread_u64(in);
	for (unsigned i = 0; i < 64; i++)
		h->pmpaddr[i] = sread_u64(in);
	for (unsigned i = 0; i < 2 * TRIG_N; i++)
		trig[i] = sread_u64(in);
	if (in->err)
		return in->err;
	if (!legal(h, misa)) {
		h->misa = misa;
		h->priv = PRV_M;
		h->satp = 0;
		h->tselect = 0;
		hart_update_mode(h);
		return -EINVAL;
	}
	h->x[0] = 0;
	h->resv_ptr = NULL;
	r = load_triggers(h, trig, h->tselect);
	mmu_flush_all(h);
	hart_update_mode(h);
	exec_flush_all(h);
	__atomic_store_n(&h->poll_at, 0, __ATOMIC_RELAXED); /* timers and interrupts at once */
	return r;
}
