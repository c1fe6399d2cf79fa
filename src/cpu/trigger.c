/*
 * Sdtrig triggers (Debug Specification 1.0 ch. 5, tinfo.version 1): see trigger.h.
 * tdata1 keeps only legal values (WARL): type 2 or 6 with the fields below, anything else
 * becomes type 15 (disabled). Not implemented, so written as 0: dmode (no Debug Mode),
 * action != 0, chain, select = 1 (data match), sizes other than "any", timing "after",
 * match values other than equal / >= / <, vs/vu, uncertain; maskmax reads 0. tdata3
 * (textra) reads 0: no context conditions.
 *
 * Re-entrancy (Native Triggers, 5.4): in M-mode a trigger fires only while tcontrol.mte
 * is set (a trap into M clears it, saving it in mpte; mret restores it); in S-mode with
 * breakpoints delegated (medeleg[3]) only while sstatus.SIE is set. The spec names the
 * two as alternatives; its tcontrol one wants medeleg[3] hard-wired to 0, which would
 * keep Linux from handling its own ebreaks, so S-mode gets the SIE rule instead.
 */
#include "cpu/trigger.h"

#include "cpu/exec.h"
#include "cpu/hart.h"
#include "cpu/mmu.h"

enum {
	CSR_TSELECT = 0x7a0,
	CSR_TDATA1 = 0x7a1,
	CSR_TDATA2 = 0x7a2,
	CSR_TDATA3 = 0x7a3,
	CSR_TINFO = 0x7a4,
	CSR_TCONTROL = 0x7a5,
};

#define TYPE_SHIFT    60
#define TYPE_MCONTROL 2ull
#define TYPE_MC6      6ull
#define TYPE_DISABLED 15ull

/* Fields at the same place in mcontrol and mcontrol6. */
#define T_LOAD	    (1ull << 0)
#define T_STORE	    (1ull << 1)
#define T_EXECUTE   (1ull << 2)
#define T_U	    (1ull << 3)
#define T_S	    (1ull << 4)
#define T_M	    (1ull << 6)
#define MATCH_SHIFT 7
#define MATCH_EQ    0u
#define MATCH_GE    2u
#define MATCH_LT    3u
#define MC_HIT	    (1ull << 20) /* mcontrol */
#define MC6_HIT0    (1ull << 22) /* mcontrol6: hit1:hit0 = 1, "before" */
#define MC6_HIT1    (1ull << 25)

#define T_KINDS (T_LOAD | T_STORE | T_EXECUTE)
#define T_MODES (T_U | T_S | T_M)

/* tinfo: version 1 (Sdtrig 1.0), types 2, 6 and 15. */
#define TINFO ((1ull << 24) | (1u << TYPE_MCONTROL) | (1u << TYPE_MC6) | (1u << TYPE_DISABLED))

static unsigned type_of(uint64_t t1)
{
	return (unsigned)(t1 >> TYPE_SHIFT);
}

static unsigned match_of(uint64_t t1)
{
	return (unsigned)(t1 >> MATCH_SHIFT) & 15;
}

static bool is_match_type(uint64_t t1)
{
	return type_of(t1) == TYPE_MCONTROL || type_of(t1) == TYPE_MC6;
}

/* The nearest legal tdata1 to v. */
static uint64_t legal_tdata1(uint64_t v)
{
	uint64_t keep = T_KINDS | T_MODES;
	unsigned match = match_of(v);

	if (match != MATCH_GE && match != MATCH_LT)
		match = MATCH_EQ;
	switch (type_of(v)) {
	case TYPE_MCONTROL:
		keep |= MC_HIT;
		break;
	case TYPE_MC6:
		keep |= MC6_HIT0 | MC6_HIT1;
		break;
	default: /* 0 (as when writing 0 to disable), 15, and types not implemented */
		return TYPE_DISABLED << TYPE_SHIFT;
	}
	return (v & ((0xfull << TYPE_SHIFT) | keep)) | (uint64_t)match << MATCH_SHIFT;
}

/* Does the trigger match an access covering bytes lo .. lo + size - 1 (any of them)? */
static bool addr_match(uint64_t t1, uint64_t t2, uint64_t lo, unsigned size)
{
	uint64_t hi = lo + size - 1;
	bool wraps = hi < lo;

	switch (match_of(t1)) {
	case MATCH_GE:
		return hi >= t2 || wraps;
	case MATCH_LT:
		return lo < t2 || (wraps && t2 != 0);
	default:
		return t2 - lo < size;
	}
}

static uint64_t mode_bit(unsigned priv)
{
	return priv == PRV_M ? T_M : priv == PRV_S ? T_S : T_U;
}

/* May a matching trigger take its breakpoint in the current mode (see the top)? */
static bool may_fire(const struct hart *h)
{
	switch (h->priv) {
	case PRV_M:
		return (h->tcontrol & TCONTROL_MTE) != 0;
	case PRV_S:
		return !((h->medeleg >> EXC_BREAKPOINT) & 1) || (h->mstatus & MSTATUS_SIE);
	default:
		return true;
	}
}

static void set_hit(struct hart *h, unsigned i)
{
	uint64_t *t1 = &h->trig[i].tdata1;

	if (type_of(*t1) == TYPE_MCONTROL)
		*t1 |= MC_HIT;
	else
		*t1 = (*t1 & ~MC6_HIT1) | MC6_HIT0;
}

/* The first trigger watching `kinds` in mode `priv` that matches the access, or -1. */
static int find(const struct hart *h, uint64_t kinds, unsigned priv, uint64_t va, unsigned size)
{
	uint64_t mode = mode_bit(priv);

	for (unsigned i = 0; i < TRIG_N; i++) {
		uint64_t t1 = h->trig[i].tdata1;
		if (is_match_type(t1) && (t1 & kinds) && (t1 & mode) &&
		    addr_match(t1, h->trig[i].tdata2, va, size))
			return (int)i;
	}
	return -1;
}

bool trig_exec_at(const struct hart *h, uint64_t pc, unsigned priv)
{
	/* Execute triggers compare the instruction's address only (its first byte), so a
	 * breakpoint is where the debugger put it, not on the second half of another
	 * instruction. */
	return find(h, T_EXECUTE, priv, pc, 1) >= 0;
}

bool trig_exec_fires(struct hart *h, uint64_t pc)
{
	int i;

	if (!may_fire(h))
		return false;
	i = find(h, T_EXECUTE, h->priv, pc, 1);
	if (i < 0)
		return false;
	set_hit(h, (unsigned)i);
	return true;
}

bool trig_mem_fires(struct hart *h, uint64_t va, unsigned size, unsigned kinds)
{
	int i;

	if (!may_fire(h))
		return false;
	i = find(h, kinds, h->priv, va, size);
	if (i < 0)
		return false;
	set_hit(h, (unsigned)i);
	return true;
}

bool trig_page_watched(const struct hart *h, uint64_t va)
{
	if (h->trig_mem & TRIG_MEM_ALL)
		return true;
	for (unsigned i = 0; i < TRIG_N; i++) {
		uint64_t t1 = h->trig[i].tdata1;
		if (is_match_type(t1) && (t1 & (T_LOAD | T_STORE)) && (t1 & T_MODES) &&
		    ((h->trig[i].tdata2 ^ va) & ~0xfffull) == 0)
			return true;
	}
	return false;
}

/* Recomputes the armed summaries after trigger i changed from `old` (its tdata1 and
 * tdata2 before). Decoded blocks are dropped at the next poll when any trigger came, went
 * or moved (an execute trigger splits blocks; translated loads that read RAM without the
 * TLB exist only while no load/store trigger is armed, cpu/jit); the data TLB at once
 * when a load/store trigger did. */
static void rearm(struct hart *h, unsigned i, const struct trigger *old)
{
	uint64_t t1 = h->trig[i].tdata1, o1 = old->tdata1;
	bool exec = false;
	unsigned mem = 0;

	if (!is_match_type(o1) || !(o1 & T_MODES))
		o1 = 0;
	if (!is_match_type(t1) || !(t1 & T_MODES))
		t1 = 0;
	for (unsigned k = 0; k < TRIG_N; k++) {
		uint64_t v = h->trig[k].tdata1;
		if (!is_match_type(v) || !(v & T_MODES))
			continue;
		exec |= (v & T_EXECUTE) != 0;
		if (v & (T_LOAD | T_STORE))
			mem |= TRIG_MEM_SOME | (match_of(v) != MATCH_EQ ? TRIG_MEM_ALL : 0);
	}
	h->trig_exec = exec;
	h->trig_mem = (uint8_t)mem;
	if ((o1 | t1) & (T_EXECUTE | T_LOAD | T_STORE)) {
		h->trig_flush = true;
		__atomic_store_n(&h->poll_at, 0, __ATOMIC_RELAXED);
	}
	if ((o1 | t1) & (T_LOAD | T_STORE))
		mmu_flush_all(h);
}

int trig_csr_read(const struct hart *h, unsigned csr, uint64_t *v)
{
	switch (csr) {
	case CSR_TSELECT:
		*v = h->tselect;
		return 0;
	case CSR_TDATA1:
		*v = h->trig[h->tselect].tdata1;
		return 0;
	case CSR_TDATA2:
		*v = h->trig[h->tselect].tdata2;
		return 0;
	case CSR_TDATA3:
		*v = 0;
		return 0;
	case CSR_TINFO:
		*v = TINFO;
		return 0;
	case CSR_TCONTROL:
		*v = h->tcontrol;
		return 0;
	}
	return -1;
}

int trig_csr_write(struct hart *h, unsigned csr, uint64_t v)
{
	struct trigger *t = &h->trig[h->tselect], old = *t;

	switch (csr) {
	case CSR_TSELECT:
		if (v < TRIG_N) /* WARL: an index past the last trigger is ignored */
			h->tselect = v;
		return 0;
	case CSR_TDATA1:
		t->tdata1 = legal_tdata1(v);
		rearm(h, (unsigned)h->tselect, &old);
		return 0;
	case CSR_TDATA2:
		t->tdata2 = v;
		rearm(h, (unsigned)h->tselect, &old);
		return 0;
	case CSR_TDATA3:
	case CSR_TINFO:
		return 0; /* textra: only all-zero is legal; tinfo: writes have no effect */
	case CSR_TCONTROL:
		h->tcontrol = v & (TCONTROL_MTE | TCONTROL_MPTE);
		return 0;
	}
	return -1;
}
