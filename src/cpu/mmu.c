/*
 * Sv39/Sv48 page-table walker, permission checks and software-TLB refills.
 * A/D bits are set by the walker (atomically, so concurrent harts agree), as the spec
 * allows. PTEs with reserved bits (63:54: Svpbmt/Svnapot are not implemented) fault.
 * PMP registers exist (csr.c) but do not restrict accesses: see docs/INTERNALS.md.
 */
#include "cpu/mmu.h"

#include <sched.h>

#include "core/util.h"
#include "cpu/trigger.h"
#include "core/bus.h"
#include "core/gmem.h"
#include "cpu/env.h"

#define PTE_V	     (1u << 0)
#define PTE_R	     (1u << 1)
#define PTE_W	     (1u << 2)
#define PTE_X	     (1u << 3)
#define PTE_U	     (1u << 4)
#define PTE_G	     (1u << 5)
#define PTE_A	     (1u << 6)
#define PTE_D	     (1u << 7)
#define PTE_PPN_MASK 0x003ffffffffffc00ull
#define PTE_RESERVED 0xffc0000000000000ull

static int page_fault(enum access acc)
{
	return acc == ACC_FETCH ? EXC_INSN_PAGE : acc == ACC_READ ? EXC_LOAD_PAGE : EXC_STORE_PAGE;
}

static int access_fault(enum access acc)
{
	return acc == ACC_FETCH	 ? EXC_INSN_ACCESS
	       : acc == ACC_READ ? EXC_LOAD_ACCESS
				 : EXC_STORE_ACCESS;
}

static bool leaf_allows(const struct hart *h, uint64_t pte, enum access acc, unsigned priv)
{
	if (pte & PTE_U) {
		if (priv == PRV_S && (acc == ACC_FETCH || !(h->mstatus & MSTATUS_SUM)))
			return false;
	} else if (priv == PRV_U) {
		return false;
	}
	switch (acc) {
	case ACC_FETCH:
		return (pte & PTE_X) != 0;
	case ACC_WRITE:
		return (pte & PTE_W) != 0;
	case ACC_READ:
		return (pte & PTE_R) || ((h->mstatus & MSTATUS_MXR) && (pte & PTE_X));
	}
	return false;
}

int mmu_translate(struct hart *h, uint64_t va, enum access acc, unsigned priv, uint64_t *pa)
{
	unsigned mode = (unsigned)(h->satp >> 60);
	unsigned levels, vabits;
	uint64_t table, pte, *ptep;
	int i;

	if (mode == 0 || priv == PRV_M) {
		*pa = va;
		return 0;
	}
	levels = mode == 8 ? 3 : 4;
	vabits = 12 + 9 * levels;
	if (sext64(va, vabits) != va)
		goto fault;
	table = (h->satp & ((1ull << 44) - 1)) << 12;
	for (i = (int)levels - 1; i >= 0; i--) {
		uint64_t idx = (va >> (12 + 9 * i)) & 511;
		ptep = gmem_ptr(h->env->mem, table + idx * 8, 8);
		if (!ptep) {
			h->fault_tval = va;
			return access_fault(acc);
		}
		pte = __atomic_load_n(ptep, __ATOMIC_ACQUIRE);
		if (!(pte & PTE_V) || (!(pte & PTE_R) && (pte & PTE_W)) || (pte & PTE_RESERVED))
			goto fault;
		if (pte & (PTE_R | PTE_X))
			break;
		if (pte & (PTE_A | PTE_D | PTE_U))
			goto fault; /* non-leaf A/D/U are reserved */
		table = ((pte & PTE_PPN_MASK) >> 10) << 12;
	}
	if (i < 0 || !leaf_allows(h, pte, acc, priv))
		goto fault;
	{
		uint64_t ppn = (pte & PTE_PPN_MASK) >> 10;
		uint64_t low = (1ull << (9 * i)) - 1;
		uint64_t want = pte | PTE_A | (acc == ACC_WRITE ? PTE_D : 0);

		if (ppn & low)
			goto fault; /* misaligned superpage */
		while (want != pte) {
			if (__atomic_compare_exchange_n(ptep, &pte, want, false, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE))
				break;
			/* Another hart changed the PTE: re-check it. */
			if (!(pte & PTE_V) || !leaf_allows(h, pte, acc, priv) ||
			    ((pte & PTE_PPN_MASK) >> 10) != ppn)
				goto fault;
			want = pte | PTE_A | (acc == ACC_WRITE ? PTE_D : 0);
		}
		/* The A/D update wrote guest RAM: the dirty log must see it. */
		if (want != pte && __atomic_load_n(&h->env->mem->dirty_log, __ATOMIC_RELAXED))
			gmem_written_host(h->env->mem, ptep, 8);
		*pa = ((ppn | ((va >> 12) & low)) << 12) | (va & 0xfff);
	}
	return 0;
fault:
	h->fault_tval = va;
	return page_fault(acc);
}

static void tlb_fill(struct hart *h, struct tlb_entry *tlb, uint64_t va, uint8_t *host)
{
	struct tlb_entry *e = &tlb[(va >> 12) & TLB_MASK];

	e->tag = va & ~0xfffull;
	e->addend = (uintptr_t)host - (uintptr_t)va;
	(void)h;
}

/* Flags of a page whose stores must reach mmu_store_hook: its write-TLB entries go. */
#define WTLB_NEVER (PAGE_CODE | PAGE_WATCH)

/* A write-TLB refill: only for a page with no PAGE_CODE or PAGE_WATCH flag. The entry is
 * published (a sequentially consistent exchange) before the flag is read again, and
 * mmu_code_flag sets the flag before it reads the entries: of a fill and a flagging
 * racing, one sees the other, so no entry for a flagged page survives both. */
static void wtlb_fill(struct hart *h, uint64_t va, uint8_t *host)
{
	struct tlb_entry *e = &h->dtlb_w[(va >> 12) & TLB_MASK];
	const uint8_t *flag = &h->code_pages[(host - h->ram) >> 12];

	if (__atomic_load_n(flag, __ATOMIC_RELAXED) & WTLB_NEVER)
		return;
	__atomic_store_n(&e->tag, ~0ull, __ATOMIC_RELAXED);
	__atomic_store_n(&e->addend, (uintptr_t)host - (uintptr_t)va, __ATOMIC_RELAXED);
	(void)__atomic_exchange_n(&e->tag, va & ~0xfffull, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(flag, __ATOMIC_SEQ_CST) & WTLB_NEVER)
		__atomic_store_n(&e->tag, ~0ull, __ATOMIC_RELAXED);
}

/* Drops every hart's write-TLB entries for the page at host address `page`. */
static void wtlb_drop_page(const struct hart_env *env, uintptr_t page)
{
	for (unsigned i = 0; i < env->linked; i++) {
		struct hart *o = env->harts[i];
		if (!o)
			continue;
		for (int r = 0; r < REGIME_N; r++)
			for (unsigned k = 0; k < TLB_SIZE; k++) {
				struct tlb_entry *e = &o->tlb[r][TLB_W][k];
				uint64_t tag = __atomic_load_n(&e->tag, __ATOMIC_SEQ_CST);
				uintptr_t add;
				if (tag == ~0ull)
					continue;
				add = __atomic_load_n(&e->addend, __ATOMIC_RELAXED);
				if (((add + (uintptr_t)tag) & ~(uintptr_t)0xfff) == page)
					__atomic_compare_exchange_n(&e->tag, &tag, ~0ull, false,
								    __ATOMIC_SEQ_CST,
								    __ATOMIC_RELAXED);
			}
	}
}

void mmu_code_flag(struct hart *h, uint64_t ppn)
{
	struct hart_env *env = h->env;

	/* The count goes up before the flag can be seen, so a hart that finds the flag set
	 * also finds the scan under way and waits for it. Usually the page is flagged
	 * already (another block of it): then no write to the shared count. */
	if (!(__atomic_load_n(&h->code_pages[ppn], __ATOMIC_SEQ_CST) & PAGE_CODE)) {
		__atomic_fetch_add(&env->wtlb_scans, 1, __ATOMIC_SEQ_CST);
		if (!(__atomic_fetch_or(&h->code_pages[ppn], PAGE_CODE, __ATOMIC_SEQ_CST) &
		      PAGE_CODE))
			wtlb_drop_page(env, (uintptr_t)(h->ram + (ppn << 12)));
		__atomic_fetch_sub(&env->wtlb_scans, 1, __ATOMIC_SEQ_CST);
	}
	/* A scan takes a few microseconds, unless its thread lost the host CPU. */
	for (unsigned spins = 0; __atomic_load_n(&env->wtlb_scans, __ATOMIC_SEQ_CST); spins++) {
		if (spins >= 64)
			sched_yield();
#if defined(__x86_64__)
		else
			__builtin_ia32_pause();
#endif
	}
}

void mmu_flush_all(struct hart *h)
{
	for (int r = 0; r < REGIME_N; r++)
		for (int k = 0; k < TLB_NKIND; k++)
			for (unsigned i = 0; i < TLB_SIZE; i++)
				__atomic_store_n(&h->tlb[r][k][i].tag, ~0ull, __ATOMIC_RELAXED);
}

void mmu_flush_va(struct hart *h, uint64_t va)
{
	uint64_t tag = va & ~0xfffull;
	unsigned idx = (unsigned)(va >> 12) & TLB_MASK;

	for (int r = REGIME_U; r < REGIME_N; r++)
		for (int k = 0; k < TLB_NKIND; k++)
			if (__atomic_load_n(&h->tlb[r][k][idx].tag, __ATOMIC_RELAXED) == tag)
				__atomic_store_n(&h->tlb[r][k][idx].tag, ~0ull, __ATOMIC_RELAXED);
}

void mmu_store_hook(struct hart *h, uint8_t *host, unsigned size)
{
	struct gmem *mem = h->env->mem;
	uint64_t off = (uint64_t)(host - mem->ram);
	uint64_t first = off >> 12, last = (off + size - 1) >> 12;

	for (uint64_t p = first; p <= last; p++) {
		uint8_t f = __atomic_load_n(&mem->page_flags[p], __ATOMIC_ACQUIRE);
		if (f & PAGE_CODE) {
			__atomic_fetch_and(&mem->page_flags[p], (uint8_t)~PAGE_CODE,
					   __ATOMIC_ACQ_REL);
			__atomic_fetch_add(&mem->page_gen[p], 1, __ATOMIC_ACQ_REL);
			/* Harts drop their pc -> block shortcuts at their next poll; this hart
			 * polls at its next block boundary. */
			__atomic_fetch_add(&mem->code_epoch, 1, __ATOMIC_RELEASE);
			__atomic_store_n(&h->poll_at, 0, __ATOMIC_RELAXED);
		}
		if (f & GMEM_PAGE_TRACK)
			gmem_dirty_page(mem, p);
		if (f & PAGE_WATCH)
			h->env->watch_hit(h->env, mem->base + off);
	}
}

/* Translates a data access and returns the host pointer (RAM) or NULL with *pa set (MMIO).
 * Refills the TLB for RAM pages. */
static int data_xlate(struct hart *h, uint64_t va, enum access acc, uint64_t *pa, uint8_t **host)
{
	int r = mmu_translate(h, va, acc, h->data_priv, pa);

	if (r)
		return r;
	*host = gmem_ptr(h->env->mem, *pa, 1);
	/* A page where a load/store trigger may match stays out: TLB hits skip the check. */
	if (*host && !(unlikely(h->trig_mem) && trig_page_watched(h, va))) {
		if (acc == ACC_WRITE)
			wtlb_fill(h, va, *host);
		else
			tlb_fill(h, h->dtlb, va, *host);
	}
	return 0;
}

/* A load/store trigger (Sdtrig) takes its breakpoint before the access, ahead of any
 * misaligned, page or access fault. */
static int trigger_check(struct hart *h, uint64_t va, unsigned size, unsigned kinds)
{
	if (likely(!h->trig_mem) || !trig_mem_fires(h, va, size, kinds))
		return 0;
	h->fault_tval = va;
	return EXC_BREAKPOINT;
}

/* Guest RAM accesses are atomics (see exec.c); odd sizes and misaligned parts of an
 * access split across pages are copied bytewise. */
static uint64_t ram_read(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	if (((uintptr_t)p & (size - 1)) == 0) {
		switch (size) {
		case 1:
			return __atomic_load_n(p, __ATOMIC_RELAXED);
		case 2:
			return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_RELAXED);
		case 4:
			return __atomic_load_n((const uint32_t *)(const void *)p, __ATOMIC_RELAXED);
		case 8:
			return __atomic_load_n((const uint64_t *)(const void *)p, __ATOMIC_RELAXED);
		}
	}
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)__atomic_load_n(p + i, __ATOMIC_RELAXED) << (8 * i);
	return v;
}

static void ram_write(uint8_t *p, unsigned size, uint64_t v)
{
	if (((uintptr_t)p & (size - 1)) == 0) {
		switch (size) {
		case 1:
			__atomic_store_n(p, (uint8_t)v, __ATOMIC_RELAXED);
			return;
		case 2:
			__atomic_store_n((uint16_t *)(void *)p, (uint16_t)v, __ATOMIC_RELAXED);
			return;
		case 4:
			__atomic_store_n((uint32_t *)(void *)p, (uint32_t)v, __ATOMIC_RELAXED);
			return;
		case 8:
			__atomic_store_n((uint64_t *)(void *)p, v, __ATOMIC_RELAXED);
			return;
		}
	}
	for (unsigned i = 0; i < size; i++)
		__atomic_store_n(p + i, (uint8_t)(v >> (8 * i)), __ATOMIC_RELAXED);
}

static int load_one_page(struct hart *h, uint64_t va, unsigned size, uint64_t *out)
{
	uint64_t pa;
	uint8_t *host;
	int r = data_xlate(h, va, ACC_READ, &pa, &host);

	if (r)
		return r;
	if (host) {
		*out = ram_read(host, size);
		return 0;
	}
	if ((pa & (size - 1)) || bus_read(h->env->bus, pa, size, out) < 0) {
		h->fault_tval = va;
		return EXC_LOAD_ACCESS;
	}
	return 0;
}

/* Writes a store's bytes to RAM at host p and tells the code-page watch about them. */
static void ram_store(struct hart *h, uint8_t *p, unsigned size, uint64_t val)
{
	ram_write(p, size, val);
	if (unlikely(__atomic_load_n(&h->code_pages[(p - h->ram) >> 12], __ATOMIC_RELAXED) |
		     __atomic_load_n(&h->code_pages[(p + size - 1 - h->ram) >> 12],
				     __ATOMIC_RELAXED)))
		mmu_store_hook(h, p, size);
}

static int store_one_page(struct hart *h, uint64_t va, unsigned size, uint64_t val)
{
	uint64_t pa;
	uint8_t *host;
	int r = data_xlate(h, va, ACC_WRITE, &pa, &host);

	if (r)
		return r;
	if (host) {
		ram_store(h, host, size, val);
		return 0;
	}
	if ((pa & (size - 1)) || bus_write(h->env->bus, pa, size, val) < 0) {
		h->fault_tval = va;
		return EXC_STORE_ACCESS;
	}
	return 0;
}

int mmu_load(struct hart *h, uint64_t va, unsigned size, uint64_t *out)
{
	unsigned first = 4096 - (unsigned)(va & 0xfff);
	uint64_t pa;
	uint8_t *lo, *hi;
	int r = trigger_check(h, va, size, TRIG_LOAD);

	if (r)
		return r;
	if (first >= size)
		return load_one_page(h, va, size, out);
	/* Misaligned across a page boundary: both parts must be RAM (a device read may have
	 * side effects, which a faulting load must not cause), read little-endian. */
	r = data_xlate(h, va, ACC_READ, &pa, &lo);
	if (!r)
		r = data_xlate(h, va + first, ACC_READ, &pa, &hi);
	if (!r && (!lo || !hi))
		r = EXC_LOAD_ACCESS;
	if (r) {
		h->fault_tval = va;
		return r;
	}
	*out = ram_read(lo, first) | (ram_read(hi, size - first) << (8 * first));
	return 0;
}

int mmu_store(struct hart *h, uint64_t va, unsigned size, uint64_t val)
{
	unsigned first = 4096 - (unsigned)(va & 0xfff);
	uint64_t pa;
	uint8_t *lo, *hi;
	int r = trigger_check(h, va, size, TRIG_STORE);

	if (r)
		return r;
	if (first >= size)
		return store_one_page(h, va, size, val);
	/* Misaligned across a page boundary. A faulting store must write nothing, so both
	 * parts are translated before either is written, and both must be RAM: the bus
	 * takes no misaligned accesses, and a store half in RAM (at its end) is a fault. */
	r = data_xlate(h, va, ACC_WRITE, &pa, &lo);
	if (!r)
		r = data_xlate(h, va + first, ACC_WRITE, &pa, &hi);
	if (!r && (!lo || !hi))
		r = EXC_STORE_ACCESS;
	if (r) {
		h->fault_tval = va;
		return r;
	}
	ram_store(h, lo, first, val);
	ram_store(h, hi, size - first, val >> (8 * first));
	return 0;
}

int mmu_atomic_ptr(struct hart *h, uint64_t va, unsigned size, enum access acc, unsigned trig,
		   void **out)
{
	uint64_t pa;
	uint8_t *host;
	int r = trigger_check(h, va, size, trig);

	if (r)
		return r;
	if (va & (size - 1)) {
		h->fault_tval = va;
		return acc == ACC_READ ? EXC_LOAD_MISALIGNED : EXC_STORE_MISALIGNED;
	}
	r = data_xlate(h, va, acc, &pa, &host);
	if (r)
		return r;
	if (!host) {
		h->fault_tval = va;
		return acc == ACC_READ ? EXC_LOAD_ACCESS : EXC_STORE_ACCESS;
	}
	*out = host;
	return 0;
}

int mmu_fetch(struct hart *h, uint64_t pc, uint64_t *ppa, uint8_t **host)
{
	struct tlb_entry *e = &h->itlb[(pc >> 12) & TLB_MASK];
	uint64_t pa;
	int r;

	if (likely(e->tag == (pc & ~0xfffull))) {
		*host = (uint8_t *)(e->addend + pc);
		*ppa = h->ram_base + (uint64_t)(*host - h->ram);
		return 0;
	}
	r = mmu_translate(h, pc, ACC_FETCH, h->priv, &pa);
	if (r)
		return r;
	*host = gmem_ptr(h->env->mem, pa, 2);
	if (!*host) {
		h->fault_tval = pc;
		return EXC_INSN_ACCESS;
	}
	tlb_fill(h, h->itlb, pc, *host);
	*ppa = pa;
	return 0;
}
