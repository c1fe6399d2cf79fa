/*
 * LR/SC and AMOs (unprivileged spec ch. 8) for the interpreter and the JIT. An LR records
 * the host address and the value it loaded; the SC succeeds only if the word still holds
 * that value (a compare-and-swap), which another hart's store to it breaks. The AMOs'
 * and SC's aq/rl bits need nothing: the host's locked instructions are sequentially
 * consistent. An LR is a plain host load, which x86 lets pass an earlier store: one with
 * the rl bit (lr.aqrl) gets a host barrier before it from its callers (the decoder marks
 * it, cpu/decode.c dec_amo); its aq needs nothing (TSO keeps loads before later accesses).
 */
#include "cpu/atomics.h"

#include <stdbool.h>

#include "cpu/arith.h"
#include "cpu/decode.h"
#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "cpu/trigger.h"

_Static_assert(OP_AMOMAXU_W - OP_LR_W == 10 && OP_AMOMAXU_D - OP_LR_D == 10 &&
		       OP_LR_D == OP_AMOMAXU_W + 1,
	       "the .W and .D atomics are two runs of 11 in the same order in ops.def");

static inline void note_store(struct hart *h, uint8_t *p, unsigned size)
{
	if (__atomic_load_n(&h->code_pages[(p - h->ram) >> 12], __ATOMIC_RELAXED))
		mmu_store_hook(h, p, size);
}

/* Host pointer for an atomic access: TLB fast path, else the walker. */
static inline int amo_ptr(struct hart *h, uint64_t va, unsigned size, enum access acc,
			  unsigned trig, void **p)
{
	struct tlb_entry *e = acc == ACC_WRITE ? &h->dtlb_w[(va >> 12) & TLB_MASK]
					       : &h->dtlb[(va >> 12) & TLB_MASK];

	/* (write entries are atomic: another hart may drop them, cpu/mmu.c) */
	if (__atomic_load_n(&e->tag, __ATOMIC_RELAXED) == (va & (~0xfffull | (size - 1)))) {
		*p = (void *)(__atomic_load_n(&e->addend, __ATOMIC_RELAXED) + va);
		return 0;
	}
	return mmu_atomic_ptr(h, va, size, acc, trig, p);
}

#define AMO_MINMAX(T, cmp)                                                                         \
	static inline T amo_##cmp##_##T(T *p, T v)                                                 \
	{                                                                                          \
		T old = __atomic_load_n(p, __ATOMIC_RELAXED), nv;                                  \
		do {                                                                               \
			nv = cmp(old, v) ? old : v;                                                \
		} while (!__atomic_compare_exchange_n(p, &old, nv, true, __ATOMIC_SEQ_CST,         \
						      __ATOMIC_RELAXED));                          \
		return old;                                                                        \
	}
#define LT_S32(a, b) ((int32_t)(a) < (int32_t)(b))
#define GT_S32(a, b) ((int32_t)(a) > (int32_t)(b))
#define LT_S64(a, b) ((int64_t)(a) < (int64_t)(b))
#define GT_S64(a, b) ((int64_t)(a) > (int64_t)(b))
#define LT_U(a, b)   ((a) < (b))
#define GT_U(a, b)   ((a) > (b))
AMO_MINMAX(uint32_t, LT_S32)
AMO_MINMAX(uint32_t, GT_S32)
AMO_MINMAX(uint32_t, LT_U)
AMO_MINMAX(uint32_t, GT_U)
AMO_MINMAX(uint64_t, LT_S64)
AMO_MINMAX(uint64_t, GT_S64)
AMO_MINMAX(uint64_t, LT_U)
AMO_MINMAX(uint64_t, GT_U)

/* The read-modify-write AMOs; `i` counts from LR (OP_AMOSWAP_* - OP_LR_* == 2). */
static uint32_t amo32(unsigned i, uint32_t *p, uint32_t v)
{
	switch (i) {
	case 2:
		return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
	case 3:
		return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
	case 4:
		return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST);
	case 5:
		return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST);
	case 6:
		return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);
	case 7:
		return amo_LT_S32_uint32_t(p, v);
	case 8:
		return amo_GT_S32_uint32_t(p, v);
	case 9:
		return amo_LT_U_uint32_t(p, v);
	default:
		return amo_GT_U_uint32_t(p, v);
	}
}

static uint64_t amo64(unsigned i, uint64_t *p, uint64_t v)
{
	switch (i) {
	case 2:
		return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
	case 3:
		return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
	case 4:
		return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST);
	case 5:
		return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST);
	case 6:
		return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);
	case 7:
		return amo_LT_S64_uint64_t(p, v);
	case 8:
		return amo_GT_S64_uint64_t(p, v);
	case 9:
		return amo_LT_U_uint64_t(p, v);
	default:
		return amo_GT_U_uint64_t(p, v);
	}
}

static int lr(struct hart *h, uint64_t va, unsigned size, uint64_t *rd)
{
	void *p;
	int r = amo_ptr(h, va, size, ACC_READ, TRIG_LOAD, &p);

	if (r)
		return r;
	if (size == 4)
		h->resv_val = __atomic_load_n((uint32_t *)p, __ATOMIC_SEQ_CST);
	else
		h->resv_val = __atomic_load_n((uint64_t *)p, __ATOMIC_SEQ_CST);
	h->resv_ptr = p;
	*rd = size == 4 ? sext32(h->resv_val) : h->resv_val;
	return 0;
}

static int sc(struct hart *h, uint64_t va, unsigned size, uint64_t src, uint64_t *rd)
{
	void *p;
	bool ok = false;
	int r = amo_ptr(h, va, size, ACC_WRITE, TRIG_STORE, &p);

	if (r)
		return r;
	if (h->resv_ptr == p) {
		if (size == 4) {
			uint32_t exp = (uint32_t)h->resv_val;
			ok = __atomic_compare_exchange_n((uint32_t *)p, &exp, (uint32_t)src, false,
							 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		} else {
			uint64_t exp = h->resv_val;
			ok = __atomic_compare_exchange_n((uint64_t *)p, &exp, src, false,
							 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		}
		if (ok)
			note_store(h, p, size);
	}
	h->resv_ptr = NULL;
	*rd = !ok;
	return 0;
}

int hart_amo(struct hart *h, unsigned kind, uint64_t va, uint64_t src, uint64_t *rd)
{
	bool d = kind >= OP_LR_D;
	unsigned i = kind - (d ? OP_LR_D : OP_LR_W), size = d ? 8 : 4;
	void *p;
	int r;

	if (i == 0)
		return lr(h, va, size, rd);
	if (i == 1)
		return sc(h, va, size, src, rd);
	r = amo_ptr(h, va, size, ACC_WRITE, TRIG_LOAD | TRIG_STORE, &p);
	if (r)
		return r;
	if (d)
		*rd = amo64(i, p, src);
	else
		*rd = sext32(amo32(i, p, (uint32_t)src));
	note_store(h, p, size);
	return 0;
}
