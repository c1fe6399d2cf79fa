/*
 * Hart life cycle and the few entry points other threads use (kick, interrupt lines).
 * Everything else in struct hart belongs to the hart's own thread.
 */
#include "cpu/hart.h"

#include <errno.h>
#include <string.h>

#include "cpu/exec.h"
#include "cpu/mmu.h"
#include <time.h>

#include "core/clock.h"
#include "core/gmem.h"
#include "cpu/env.h"

#define MISA_RV64GC                                                                                \
	((2ull << 62) | (1u << ('A' - 'A')) | (1u << ('C' - 'A')) | (1u << ('D' - 'A')) |          \
	 (1u << ('F' - 'A')) | (1u << ('I' - 'A')) | (1u << ('M' - 'A')) | (1u << ('S' - 'A')) |   \
	 (1u << ('U' - 'A')))

uint64_t hart_env_now_ns(void)
{
	return core_now_ns();
}

/* Reads start_ns and paused_ns consistently. The data loads are acquires, so the second
 * count load cannot move before them; a reader that sees a value written after the count
 * went odd then sees the count changed and retries. */
static void clock_read(const struct hart_clock *c, uint64_t *start, uint64_t *paused)
{
	unsigned s1, s2;

	do {
		s1 = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
		*start = __atomic_load_n(&c->start_ns, __ATOMIC_ACQUIRE);
		*paused = __atomic_load_n(&c->paused_ns, __ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&c->seq, __ATOMIC_RELAXED);
	} while ((s1 & 1) || s1 != s2);
}

void hart_env_clock_set(struct hart_env *env, uint64_t start_ns, uint64_t paused_ns)
{
	struct hart_clock *c = &env->clock;
	unsigned seq = __atomic_load_n(&c->seq, __ATOMIC_RELAXED);

	/* Count odd, then the data (released after it), then the count even again. */
	__atomic_store_n(&c->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&c->start_ns, start_ns, __ATOMIC_RELEASE);
	__atomic_store_n(&c->paused_ns, paused_ns, __ATOMIC_RELEASE);
	__atomic_store_n(&c->seq, seq + 2, __ATOMIC_RELEASE);
}

uint64_t hart_env_time(const struct hart_env *env)
{
	uint64_t start, paused;

	clock_read(&env->clock, &start, &paused);
	return ((paused ? paused : hart_env_now_ns()) - start) / 100;
}

uint64_t hart_env_time_to_host(const struct hart_env *env, uint64_t ticks)
{
	uint64_t start, paused;

	clock_read(&env->clock, &start, &paused);
	if (ticks >= (UINT64_MAX - start) / 100)
		return UINT64_MAX;
	return start + ticks * 100;
}

int hart_init(struct hart *h, struct hart_env *env, unsigned id, uint64_t reset_pc)
{
	int r;

	memset(h, 0, sizeof(*h));
	if (env->linked >= HART_ENV_MAX)
		return -EINVAL;
	env->harts[env->linked++] = h;
	h->env = env;
	h->ram = env->mem->ram;
	h->ram_base = env->mem->base;
	h->ram_size = env->mem->size;
	h->code_pages = env->mem->page_flags;
	h->dirty_log = &env->mem->dirty_log;
	h->mhartid = id;
	h->misa = MISA_RV64GC;
	h->mstatus = (2ull << 32) | (2ull << 34); /* UXL = SXL = 64 */
	h->priv = PRV_M;
	h->pc = reset_pc;
	h->x[10] = id;
	h->mtimecmp = ~0ull;
	h->stimecmp = ~0ull;
	for (unsigned i = 0; i < TRIG_N; i++)
		h->trig[i].tdata1 = 15ull << 60; /* Sdtrig: disabled */
	mmu_flush_all(h);
	hart_update_mode(h);
	r = exec_cache_create(h);
	if (r < 0)
		return r;
	return 0;
}

void hart_fini(struct hart *h)
{
	for (unsigned i = 0; i < h->env->linked; i++)
		if (h->env->harts[i] == h)
			h->env->harts[i] = NULL;
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

void hart_set_timecmp(struct hart *h, uint64_t cmp)
{
	__atomic_store_n(&h->mtimecmp, cmp, __ATOMIC_RELEASE);
	hart_kick(h); /* re-evaluate MTIP now */
}

uint64_t hart_time(const struct hart *h)
{
	return hart_env_time(h->env);
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
