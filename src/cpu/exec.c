/*
 * The RV64GC interpreter: decoded-block cache and threaded-code dispatch.
 *
 * A block is a run of up to BLOCK_MAX instructions in one physical page, ending at a
 * control transfer, a CSR/system instruction or the page end. It is decoded once into
 * struct op entries whose `h` field is the address of the handler label (computed goto),
 * with registers pre-resolved (writes to x0 go to the sink x[32]) and pc-relative values
 * made absolute: blocks are keyed by (virtual pc, privilege; S-mode with mstatus.SUM
 * set has a key of its own, block.h KEY_S_SUM), so a block is only reached at the
 * virtual address it was decoded for. The physical page's generation counter
 * (vm->page_gen, bumped by stores to pages that hold decoded code) is checked on every
 * block entry; stale blocks are simply decoded again.
 *
 * Lookups go through a direct-mapped pc -> block table per privilege level (`jc`), and
 * fall back to a hash table after an instruction-TLB translation. A `jc` hit is trusted
 * without re-checking the page generation: the tables are flushed when translation changes
 * (satp, sfence.vma, fence.i; an sfence.vma of a page in which no block in the tables
 * starts, by a filter of pages, flushes nothing) and, via vm->code_epoch, at the next
 * poll after any hart
 * writes a code page (at once for the writing hart). Another hart may so run stale code for
 * at most POLL_INSNS instructions, which the spec allows: it must fence.i to see the change.
 * The retired-instruction count lives in a local between polls; interrupts, timers and stop
 * requests are polled when it reaches h->poll_at (every POLL_INSNS instructions, or at once
 * when another thread zeroes it in hart_kick or an instruction changes interrupt state).
 */
#include "cpu/exec.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/util.h"
#include "cpu/arith.h"
#include "cpu/atomics.h"
#include "cpu/block.h"
#include "cpu/csr.h"
#include "cpu/decode.h"
#include "cpu/fpu.h"
#include "cpu/jit/jit.h"
#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "cpu/trap.h"
#include "cpu/trigger.h"
#include "core/gmem.h"
#include "cpu/env.h"

_Static_assert(OP__COUNT <= 256, "op kind must fit in uint8_t");

/* A hart's share of a budget split between the harts: --jit-cache, or `dflt`. */
static size_t budget_share(const struct hart *h, size_t dflt)
{
	return (h->env->jit_cache ? h->env->jit_cache : dflt) /
	       (h->env->nharts ? h->env->nharts : 1);
}

int exec_cache_create(struct hart *h)
{
	struct block_cache *bc = core_calloc(1, sizeof(*bc));
	pthread_condattr_t ca;

	if (!bc)
		return -ENOMEM;
	bc->size = budget_share(h, ARENA_BUDGET) &
		   ~(size_t)0xffff; /* (the parts' 16ths stay page-aligned) */
	if (bc->size < ARENA_MIN)
		bc->size = ARENA_MIN;
	bc->hot_max = bc->size / 16 * ARENA_HOT_SIXTEENTHS;
	bc->size = bc->size / 16 * ARENA_SIXTEENTHS;
	bc->arena = mmap(NULL, bc->size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (bc->arena == MAP_FAILED) {
		core_free(bc);
		return -ENOMEM;
	}
	pthread_mutex_init(&bc->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&bc->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (h->env->jit_hot) {
		/* Translated code has a budget split like the decoded blocks'. Without a JIT
		 * for this host (or without memfd) bc->jit stays NULL and the interpreter runs
		 * everything. */
		size_t code = budget_share(h, JIT_BUDGET);
		int r = jit_create(((code < JIT_MIN ? JIT_MIN : code) & ~(size_t)0xffff) / 16 *
					   JIT_SIXTEENTHS,
				   bc, h, &bc->jit);
		if (r == 0)
			bc->jit_hot = bc->jit_hot_base = h->env->jit_hot;
		else if (r != -ENOTSUP)
			log_warn("hart %llu: no JIT (%s): interpreting only",
				 (unsigned long long)h->mhartid, strerror(-r));
	}
	h->bc = bc;
	h->link_budget = LINK_BUDGET_MAX;
	return 0;
}

void exec_cache_destroy(struct hart *h)
{
	struct block_cache *bc = h->bc;

	if (!bc)
		return;
	jit_destroy(bc->jit);
	munmap(bc->arena, bc->size);
	pthread_cond_destroy(&bc->cond);
	pthread_mutex_destroy(&bc->lock);
	core_free(bc);
	h->bc = NULL;
}

size_t exec_cache_bytes(const struct hart *h)
{
	return h->bc ? h->bc->used + h->bc->hot_used : 0;
}

size_t exec_jit_bytes(const struct hart *h)
{
	return h->bc ? jit_bytes(h->bc->jit) : 0;
}

void exec_cache_budget(const struct hart *h, size_t *arena, size_t *code)
{
	*arena = h->bc ? h->bc->size : 0;
	*code = h->bc ? jit_capacity(h->bc->jit) : 0;
}

uint64_t exec_jit_blocks(const struct hart *h)
{
	return h->bc ? jit_blocks(h->bc->jit) : 0;
}

int exec_jit_exits(const struct hart *h, struct exec_exit_stat *out, int n)
{
	const struct block_cache *bc = h->bc;
	int got = 0;

	if (!bc || !bc->jit)
		return 0;
	for (unsigned k = 0; k < OP__COUNT; k++) {
		uint64_t c = bc->stat_exit[k] + bc->stat_untranslated[k];
		int i;
		if (!c || (got == n && out[n - 1].count >= c))
			continue;
		i = got < n ? got++ : n - 1; /* insert into the top n, largest first */
		for (; i > 0 && out[i - 1].count < c; i--)
			out[i] = out[i - 1];
		out[i] = (struct exec_exit_stat){decode_op_name((enum op_kind)k), c,
						 bc->stat_untranslated[k]};
	}
	return got;
}

void exec_jit_counts(const struct hart *h, struct exec_jit_counts *out)
{
	const struct block_cache *bc = h->bc;

	*out = (struct exec_jit_counts){0};
	if (!bc)
		return;
	out->interp_insns = bc->stat_interp_insns;
	out->leaves = bc->stat_leave;
	out->flushes = bc->stat_flushes;
	out->cold_flushes = bc->stat_cold;
	out->decoded = bc->stat_decoded;
	out->relinks = bc->stat_relink;
	out->trims = bc->stat_trims;
	out->links = bc->stat_links;
}

unsigned exec_jit_hot(const struct hart *h)
{
	return h->bc && h->bc->jit ? h->bc->jit_hot : 0;
}

/* The pc -> block table is about to be flushed: translated code stops following the
 * direct jumps it made between blocks (cpu/jit/x86_64.c, chain_to). When the epoch wraps
 * (2^32 flushes), a jump made at the epoch it comes back to would match again: every
 * block and its code are dropped at the next poll, which comes before any such jump. */
static void new_link_epoch(struct hart *h)
{
	if (unlikely(++h->link_epoch == 0)) {
		h->trig_flush = true; /* exec_poll: exec_flush_all */
		__atomic_store_n(&h->poll_at, 0, __ATOMIC_RELAXED);
	}
}

/* Empties the pc -> block tables (the slots filled since the last time, from the log). */
static void clear_jc(struct block_cache *bc)
{
	if (bc->jc_logged > JC_LOG) {
		memset(bc->jc, 0, sizeof(bc->jc));
	} else {
		for (unsigned i = 0; i < bc->jc_logged; i++) {
			unsigned v = bc->jc_log[i];
			bc->jc[v >> JC_BITS][v & ((1u << JC_BITS) - 1)] = NULL;
		}
	}
	bc->jc_logged = 0;
}

void exec_flush_jumps(struct hart *h)
{
	struct block_cache *bc = h->bc;

	new_link_epoch(h);
	clear_jc(bc);
	memset(bc->jc_pages, 0, sizeof(bc->jc_pages));
}

void exec_flush_jumps_page(struct hart *h, uint64_t va)
{
	/* A 4 KiB page's pcs fill one contiguous run of 2048 slots; only U and S fetches
	 * (with SUM or without) are translated. */
	unsigned first = jc_index(va & ~0xfffull), n = 2048, bit = jc_page_bit(va);

	_Static_assert(JC_BITS >= 11, "a page must map to a contiguous run of slots");
	if (!(h->bc->jc_pages[bit / 64] >> (bit % 64) & 1))
		return; /* no block of this page in the table: nothing to drop */
	new_link_epoch(h);
	memset(&h->bc->jc[PRV_U][first], 0, n * sizeof(struct block *));
	memset(&h->bc->jc[PRV_S][first], 0, n * sizeof(struct block *));
	memset(&h->bc->jc[KEY_S_SUM][first], 0, n * sizeof(struct block *));
}

void exec_flush_all(struct hart *h)
{
	struct block_cache *bc = h->bc;

	new_link_epoch(h);
	memset(bc->jc, 0, sizeof(bc->jc));
	bc->jc_logged = 0;
	memset(bc->jc_pages, 0, sizeof(bc->jc_pages));
	memset(bc->ht, 0, sizeof(bc->ht));
	bc->used = 0;
	bc->hot_used = 0;
	bc->scratch_ok = false;
	if (bc->jit)
		jit_reset(bc->jit);
}

void exec_wake(struct hart *h)
{
	struct block_cache *bc = h->bc;

	pthread_mutex_lock(&bc->lock);
	pthread_cond_signal(&bc->cond);
	pthread_mutex_unlock(&bc->lock);
}

static void set_mip_bit(struct hart *h, uint64_t bit, bool on)
{
	uint64_t cur = __atomic_load_n(&h->mip, __ATOMIC_RELAXED);

	if (!!(cur & bit) == on)
		return;
	if (on)
		__atomic_fetch_or(&h->mip, bit, __ATOMIC_ACQ_REL);
	else
		__atomic_fetch_and(&h->mip, ~bit, __ATOMIC_ACQ_REL);
}

void exec_update_timers(struct hart *h)
{
	uint64_t t = hart_time(h);

	set_mip_bit(h, MIP_MTIP, t >= __atomic_load_n(&h->mtimecmp, __ATOMIC_ACQUIRE));
	if (h->menvcfg >> 63) { /* Sstc: STIP follows stimecmp */
		if (t >= h->stimecmp)
			h->mip_sw |= MIP_STIP;
		else
			h->mip_sw &= ~MIP_STIP;
	}
}

/* Sleeps in wfi until a kick or the next timer deadline (or the --timeout deadline).
 * Everything that must wake a sleeping hart kicks it (interrupt lines, stop and pause
 * requests), so the cap only bounds the damage of a missed kick: an idle guest whose
 * kernel sets no timer wakes WFI_SLEEP_MAX_NS apart, not 100 times a second. */
#define WFI_SLEEP_MAX_NS 1000000000ull
static void wfi_sleep(struct hart *h, uint64_t now_ns)
{
	struct block_cache *bc = h->bc;
	uint64_t wake = now_ns + WFI_SLEEP_MAX_NS, cmp;
	struct timespec ts;

	cmp = __atomic_load_n(&h->mtimecmp, __ATOMIC_ACQUIRE);
	if ((h->menvcfg >> 63) && h->stimecmp < cmp)
		cmp = h->stimecmp;
	if (cmp != ~0ull) {
		uint64_t at = hart_env_time_to_host(h->env, cmp);
		if (at < wake)
			wake = at;
	}
	if (h->env->deadline_ns && h->env->deadline_ns < wake)
		wake = h->env->deadline_ns;
	ts.tv_sec = (time_t)(wake / 1000000000ull);
	ts.tv_nsec = (long)(wake % 1000000000ull);
	pthread_mutex_lock(&bc->lock);
	if (!__atomic_load_n(&h->kick, __ATOMIC_ACQUIRE))
		pthread_cond_timedwait(&bc->cond, &bc->lock, &ts);
	pthread_mutex_unlock(&bc->lock);
}

/* An idle hart (wfi, and few instructions retired in the last second or more: a guest
 * waking for its timers now and then) drops its decoded blocks and translated code and
 * gives their pages back to the host: about 2 MiB of arena and up to 2 MiB of code per
 * hart, which an idle guest would otherwise hold for good (both caches are full after a
 * boot). It does so once per idle period: what the idle guest's wakes then run (its
 * timer interrupts, a few times a second) stays in the caches as far as they hold it,
 * until a busy window (IDLE_TRIM_INSNS or more, seen by exec_poll) ends the period. They
 * stay decoded, not translated: with the cold part as large as the hot part leaves them,
 * the wakes reach jit_hot between fills, and their code would stay resident (~230 KiB for
 * the default guest) for no gain (translated wakes took no less CPU: docs/INTERNALS.md,
 * "What an idle wake costs"). Trimming again whenever the
 * wakes refilled an eighth of the arena made an idle default guest trim every second or
 * two and decode and interpret its wakes afresh each time (56 trims in 75 s idle, 0.75
 * ms of CPU per wake). */
static void idle_trim(struct hart *h, uint64_t now)
{
	struct block_cache *bc = h->bc;

	if (now - bc->idle_mark_ns < IDLE_TRIM_NS)
		return;
	if (h->instret - bc->idle_mark_instret >= IDLE_TRIM_INSNS) {
		bc->idle_trimmed = false; /* busy: the next idle period trims again */
	} else if (!bc->idle_trimmed && bc->used + bc->hot_used > bc->size / 8) {
		exec_flush_all(h);
		(void)madvise(bc->arena, bc->size, MADV_DONTNEED); /* only memory is at stake */
		if (bc->jit)
			jit_release(bc->jit);
		bc->stat_trims++;
		bc->idle_trimmed = true;
	}
	bc->idle_mark_ns = now;
	bc->idle_mark_instret = h->instret;
}

/* The link budget (cpu/block.h, LINK_COST) grows by a unit per POLL_INSNS instructions
 * retired, not per poll: a guest under I/O polls far more often than that (each write of
 * sstatus or sie, each interrupt: a Linux guest running fio polled every few thousand
 * instructions), and a unit per poll let it write a direct jump into its code (a system
 * call) several hundred times a second per hart, redone after each of the table's
 * flushes. A guest that moves instret back (a write of minstret) gets the budget full. */
static void link_refill(struct hart *h)
{
	struct block_cache *bc = h->bc;
	uint64_t ran = h->instret - bc->link_mark;

	if (ran < POLL_INSNS)
		return;
	if (ran / POLL_INSNS >= LINK_BUDGET_MAX - h->link_budget)
		h->link_budget = LINK_BUDGET_MAX;
	else
		h->link_budget += (uint32_t)(ran / POLL_INSNS);
	bc->link_mark = h->instret;
}

/* Block-boundary work: stop requests, timers, timeout, interrupts, wfi. Returns true
 * when the hart must return from hart_run. */
static bool exec_poll(struct hart *h)
{
	struct hart_env *env = h->env;

	for (;;) {
		uint64_t now;
		uint32_t epoch;

		__atomic_store_n(&h->kick, 0, __ATOMIC_RELEASE);
		if (unlikely(h->trig_flush)) { /* blocks are decoded around execute triggers */
			h->trig_flush = false;
			exec_flush_all(h);
		}
		__atomic_store_n(&h->instret_seen, h->instret, __ATOMIC_RELAXED);
		/* busy again: blocks are translated again at once, not at the next wfi */
		if (unlikely(h->bc->idle_trimmed) &&
		    h->instret - h->bc->idle_mark_instret >= IDLE_TRIM_INSNS)
			h->bc->idle_trimmed = false;
		link_refill(h);
		epoch = __atomic_load_n(&env->mem->code_epoch, __ATOMIC_ACQUIRE);
		if (epoch != h->code_epoch) { /* some hart wrote a page holding code */
			h->code_epoch = epoch;
			exec_flush_jumps(h);
		}
		now = hart_env_now_ns();
		/* The machine may pause here and save this hart (cpu/state.h): fold the host
		 * FPU's flags, which only this thread can read, into h->fflags first. */
		h->fflags = fpu_get_fflags(h);
		if (env->poll(env, h, now))
			return true;
		exec_update_timers(h);
		if (hart_check_interrupts(h)) {
			h->wfi = false;
			return false;
		}
		if (!h->wfi)
			return false;
		if (hart_pending_irqs(h)) { /* wfi ends even if interrupts are disabled */
			h->wfi = false;
			return false;
		}
		idle_trim(h, now);
		wfi_sleep(h, now);
	}
}

/* The key of the hart's blocks in its current state (block.h, KEY_S_SUM). */
static inline unsigned exec_key(const struct hart *h)
{
	return h->priv == PRV_S && (h->mstatus & MSTATUS_SUM) ? KEY_S_SUM : h->priv;
}

static inline unsigned ht_index(uint64_t pc, unsigned priv)
{
	return (unsigned)((pc >> 1) ^ (pc >> (HT_BITS + 1)) ^ priv) & ((1u << HT_BITS) - 1);
}

/* The hot part of the block arena or the code buffer is full: both are dropped. If the translations
 * made since the last time retired fewer than JIT_PAYBACK instructions each, the caches are
 * thrashing (the working set does not fit, and code is translated again and again) and
 * translating costs more than it saves: a block must then be entered twice as often to be
 * translated (up to JIT_HOT_MAX). Once translations retire 8 times that again, the
 * threshold comes back down towards --jit-hot. */
static void cache_full(struct hart *h, uint64_t icount)
{
	struct block_cache *bc = h->bc;
	uint64_t made = jit_blocks(bc->jit) - bc->mark_blocks, ran = icount - bc->mark_icount;

	if (made && ran < made * JIT_PAYBACK) {
		if (bc->jit_hot < JIT_HOT_MAX)
			bc->jit_hot *= 2;
	} else if (made && ran / 8 >= made * JIT_PAYBACK && bc->jit_hot > bc->jit_hot_base) {
		bc->jit_hot =
			bc->jit_hot / 2 > bc->jit_hot_base ? bc->jit_hot / 2 : bc->jit_hot_base;
	}
	bc->mark_blocks += made;
	bc->mark_icount = icount;
	bc->stat_flushes++;
	exec_flush_all(h);
}

/* The cold part of the arena is full: its blocks (none translated) are dropped but for
 * those entered COLD_KEEP_HEAT times or more, which move to its front (COLD_KEEP_SHIFT).
 * The hash table loses the cold blocks (each one's chain is filtered: cheaper than
 * clearing the table and linking the hot part's blocks again, which read every hot block
 * header at every fill) and gets the kept ones at their new place. The pc -> block tables
 * may hold cold blocks, dropped or moved: they are emptied. The direct jumps between
 * translated blocks stay (no link epoch): they lead to hot blocks' code only, which this
 * does not touch, and the filter of pages keeps its bits, so an sfence.vma of a page
 * still finds the jumps into it (exec_flush_jumps_page). Under I/O a Linux guest fills
 * the cold part hundreds of times a second; undoing the jumps at each fill made the JIT
 * write them again (a system call each: cpu/jit/codebuf.h). Only the dispatcher calls
 * this (through lookup_slow), holding no pointer into the cold part. */
static void cold_full(struct hart *h)
{
	struct block_cache *bc = h->bc;
	const uint8_t *lo = bc->arena, *hi = bc->arena + bc->used;
	size_t off, kept = 0, keep_max = (bc->size - bc->hot_used) >> COLD_KEEP_SHIFT;

	bc->stat_cold++;
	clear_jc(bc);
	for (off = 0; off < bc->used;) {
		struct block *b = (struct block *)(void *)(bc->arena + off), **pp;

		off += block_bytes(b->n);
		if (b->dead) /* already unlinked (stale, or replaced by its hot copy) */
			continue;
		for (pp = &bc->ht[ht_index(b->vpc, b->priv)]; *pp;) {
			if ((const uint8_t *)*pp >= lo && (const uint8_t *)*pp < hi)
				*pp = (*pp)->hnext;
			else
				pp = &(*pp)->hnext;
		}
	}
	for (off = 0; off < bc->used;) {
		struct block *b = (struct block *)(void *)(bc->arena + off), *nb;
		size_t bytes = block_bytes(b->n);
		unsigned idx;

		off += bytes;
		if (b->dead || b->heat < COLD_KEEP_HEAT)
			continue;
		if (kept + bytes > keep_max)
			break;
		nb = (struct block *)(void *)(bc->arena + kept);
		if (nb != b)
			memmove(nb, b, bytes);
		kept += bytes;
		/* A block due for translation (translate_hot found no room) keeps its turn. */
		nb->heat = bc->jit && nb->heat == bc->jit_hot ? nb->heat - 1 : nb->heat >> 1;
		idx = ht_index(nb->vpc, nb->priv);
		nb->hnext = bc->ht[idx];
		bc->ht[idx] = nb;
	}
	bc->used = kept;
}

/* Every JIT_CHECK_EVERY translations: translations that retired almost nothing each (under
 * JIT_PAYBACK / 64 instructions: code run about once after translating it) back off at
 * once, without waiting for the caches to overflow first. Only raises the threshold, which
 * needs no flush: a block not yet translated has heat below the old one. */
static void jit_checkpoint(struct hart *h, uint64_t icount)
{
	struct block_cache *bc = h->bc;
	uint64_t made = jit_blocks(bc->jit) - bc->mark_blocks, ran = icount - bc->mark_icount;

	if (ran < made * (JIT_PAYBACK / 64) && bc->jit_hot < JIT_HOT_MAX)
		bc->jit_hot *= 2;
	bc->mark_blocks += made;
	bc->mark_icount = icount;
}

static void fill_op(struct op *o, const struct insn *in, unsigned flags, uint64_t pc, uint16_t off)
{
	o->kind = (uint8_t)in->kind;
	o->rd = (in->rd == 0 && !(flags & OPF_FP)) ? 32 : in->rd;
	o->rs1 = in->rs1;
	o->rs2 = in->rs2;
	o->rs3 = in->rs3;
	o->rm = in->rm;
	o->off = off;
	o->imm = in->imm;
	switch (in->kind) {
	case OP_JAL:
	case OP_BEQ:
	case OP_BNE:
	case OP_BLT:
	case OP_BGE:
	case OP_BLTU:
	case OP_BGEU:
	case OP_AUIPC:
		o->imm = (int64_t)(pc + (uint64_t)in->imm);
		break;
	default:
		break;
	}
}

static void fill_pseudo(struct op *o, enum op_kind k, uint16_t off)
{
	memset(o, 0, sizeof(*o));
	o->kind = (uint8_t)k;
	o->off = off;
}

static uint16_t read16(const uint8_t *p)
{
	/* Instructions are 2-byte aligned; another hart may be writing: atomic read. */
	return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_RELAXED);
}

/* The current write generation of b's physical page (b->gen when b was decoded). */
static inline uint32_t block_gen(const struct hart *h, const struct block *b)
{
	return __atomic_load_n(&h->env->mem->page_gen[(b->ppa - h->ram_base) >> 12],
			       __ATOMIC_ACQUIRE);
}

/* A hash of instruction bytes (an even count; halfword reads, as above), 8 bytes a step:
 * each step (xor, multiply by an odd constant, xor-shift) is a bijection of the running
 * value, so blocks that differ in one 8-byte word always hash differently. Every block
 * decoded and every block's first use after a fence.i hashes its bytes; FNV-1a a
 * halfword at a time was a chain of one multiply per 2 bytes. */
static uint64_t hash_code(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0xcbf29ce484222325ull ^ bytes;
	unsigned i = 0;

	for (; i + 8 <= bytes; i += 8) {
		uint64_t w = read16(p + i) | (uint64_t)read16(p + i + 2) << 16 |
			     (uint64_t)read16(p + i + 4) << 32 | (uint64_t)read16(p + i + 6) << 48;
		v = (v ^ w) * 0x9e3779b97f4a7c15ull;
		v ^= v >> 29;
	}
	for (; i < bytes; i += 2) {
		v = (v ^ read16(p + i)) * 0x9e3779b97f4a7c15ull;
		v ^= v >> 29;
	}
	return v;
}

/* Decodes the block at pc (physical ppa, host pointer `host`) into b, which has room for
 * BLOCK_MAX + 1 operations. */
static void decode_block(struct hart *h, struct block *b, uint64_t pc, uint64_t ppa,
			 const uint8_t *host)
{
	struct block_cache *bc = h->bc;
	unsigned page_left = 4096 - (unsigned)(pc & 0xfff), off = 0, n = 0, exits = 0;
	uint64_t ppn = (ppa - h->ram_base) >> 12;

	/* Flag the page first (its write-TLB entries go), then read its generation: a store
	 * racing with decoding either bumps the generation we read or is made visible by
	 * fence.i. */
	mmu_code_flag(h, ppn);
	b->gen = __atomic_load_n(&h->env->mem->page_gen[ppn], __ATOMIC_ACQUIRE);
	b->vpc = pc;
	b->ppa = ppa;
	b->priv = (uint8_t)exec_key(h);
	b->jit = NULL;
	b->heat = 0;
	for (;;) {
		struct insn in;
		unsigned flags;
		uint32_t raw = read16(host + off);
		unsigned len = decode_insn_len((uint16_t)raw);

		/* An execute trigger's address starts a block of its own: OP_TRIGGER. */
		if (unlikely(h->trig_exec) && trig_exec_at(h, pc + off, h->priv)) {
			fill_pseudo(&b->ops[n], off ? OP_BLOCK_NEXT : OP_TRIGGER, (uint16_t)off);
			break;
		}
		if (len > page_left - off) {
			fill_pseudo(&b->ops[n], OP_BLOCK_CROSS, (uint16_t)off);
			break;
		}
		if (len == 4)
			raw |= (uint32_t)read16(host + off + 2) << 16;
		decode(raw, &in);
		flags = decode_op_flags(in.kind);
		fill_op(&b->ops[n], &in, flags, pc + off, (uint16_t)off);
		n++;
		off += len;
		/* A forward conditional branch is a side exit: decoding goes on along its
		 * fall-through path (up to SIDE_EXITS of them). A backward one (a loop) ends
		 * the block. */
		if ((flags & OPF_END) &&
		    !(in.kind >= OP_BEQ && in.kind <= OP_BGEU &&
		      (uint64_t)b->ops[n - 1].imm > pc + off - len && ++exits <= SIDE_EXITS))
			break;
		if (n == BLOCK_MAX || off == page_left) {
			fill_pseudo(&b->ops[n], OP_BLOCK_NEXT, (uint16_t)off);
			break;
		}
	}
	b->n = (uint16_t)n;
	b->bytes = (uint16_t)off;
	b->fence_epoch = bc->fence_epoch;
	b->dead = 0;
	b->hnext = NULL;
	bc->stat_decoded++;
}

/* Decodes a new block at pc (physical ppa, host pointer `host`) into the arena's cold
 * part (dropping the cold blocks first when it is full). */
static struct block *build_block(struct hart *h, uint64_t pc, uint64_t ppa, const uint8_t *host)
{
	struct block_cache *bc = h->bc;
	size_t need = sizeof(struct block) + (BLOCK_MAX + 1) * sizeof(struct op);
	struct block *b;

	if (bc->used + need > bc->size - bc->hot_used)
		cold_full(h);
	b = (struct block *)(void *)(bc->arena + bc->used);
	decode_block(h, b, pc, ppa, host);
	b->hash = hash_code(host, b->bytes);
	bc->used += block_bytes(b->n);
	return b;
}

/* The block at pc in bc->scratch, for the interpreter to take over from translated code
 * there (JIT_EXIT_INTERP): the arena keeps no operations of translated blocks. It is in
 * no table, is never translated (its heat is past jit_hot) and is decoded again only when
 * it holds another block or its code may have changed (the page's generation, fence.i, a
 * flush): code that hands over at the same place again and again (an inline F operation
 * whose result is a NaN, each time) finds it ready, as it found the whole block's copy
 * before. The fetch at pc is made anyway (its mapping may have changed): a fetch fault
 * there is the exception taken. Returns the block, or NULL with the fetch exception in
 * *exc. */
static struct block *scratch_block(struct hart *h, uint64_t pc, int *exc)
{
	struct block_cache *bc = h->bc;
	struct block *b = &bc->scratch;
	uint64_t ppa;
	uint8_t *host;

	*exc = mmu_fetch(h, pc, &ppa, &host);
	if (*exc)
		return NULL;
	if (!bc->scratch_ok || b->vpc != pc || b->ppa != ppa || b->priv != exec_key(h) ||
	    b->gen != block_gen(h, b) || b->fence_epoch != bc->fence_epoch) {
		decode_block(h, b, pc, ppa, host);
		bc->scratch_ok = true;
	}
	b->heat = SCRATCH_HEAT;
	return b;
}

/* Records b in the pc -> block table (and the log of filled slots, for a cheap flush). */
static void remember(struct block_cache *bc, unsigned priv, uint64_t pc, struct block *b)
{
	unsigned bit = jc_page_bit(pc);

	bc->jc_pages[bit / 64] |= 1ull << (bit % 64);
	bc->jc[priv][jc_index(pc)] = b;
	if (bc->jc_logged < JC_LOG)
		bc->jc_log[bc->jc_logged] = (uint16_t)(priv << JC_BITS | jc_index(pc));
	if (bc->jc_logged <= JC_LOG)
		bc->jc_logged++;
}

static struct block *lookup_slow(struct hart *h, uint64_t pc, int *exc)
{
	struct block_cache *bc = h->bc;
	struct block **pp, *b;
	uint64_t ppa;
	uint8_t *host;
	unsigned idx, key;
	int r;

	r = mmu_fetch(h, pc, &ppa, &host);
	if (r) {
		*exc = r;
		return NULL;
	}
	key = exec_key(h);
	idx = ht_index(pc, key);
	for (pp = &bc->ht[idx]; (b = *pp) != NULL; pp = &b->hnext) {
		if (b->vpc != pc || b->priv != key || b->ppa != ppa)
			continue;
		if (b->gen == block_gen(h, b)) {
			if (b->fence_epoch == bc->fence_epoch)
				goto found;
			/* First use since a fence.i: keep the block if its bytes are
			 * unchanged (cheaper than decoding them again). */
			if (hash_code(host, b->bytes) == b->hash) {
				b->fence_epoch = bc->fence_epoch;
				goto found;
			}
		}
		*pp = b->hnext; /* stale: unlink and decode again */
		b->dead = 1;
		break;
	}
	b = build_block(h, pc, ppa, host);
	log_debug("hart %llu: decoded block pc=0x%llx priv=%u n=%u", (unsigned long long)h->mhartid,
		  (unsigned long long)pc, h->priv, b->n);
	b->hnext = bc->ht[idx];
	bc->ht[idx] = b;
found:
	remember(bc, key, pc, b);
	return b;
}

/* Translates the cold block b (entered jit_hot times), and puts a copy of it in the hot
 * part of the arena in b's place in the hash table and the pc -> block table. The copy
 * is only b's header unless the code passes operations to helpers (jit_translate): a
 * hand-over to the interpreter decodes the guest code again (scratch_block), so most
 * translated blocks keep 64 bytes of the arena, not their operations. Returns the copy,
 * or NULL with *err: -ENOSPC (the hot part is at its most, or the code buffer is full:
 * flush), -EAGAIN (the cold blocks reach up to the hot part: drop them, then b comes back
 * due) or -ENOTSUP (not translatable; b stays as it is). A block outside the cold part
 * (bc->cross) is translated in place. */
static struct block *translate_hot(struct block_cache *bc, struct block *b, int *err)
{
	size_t bytes = block_bytes(b->n);
	struct block *nb, **pp;
	bool uses_ops;

	if ((uint8_t *)b < bc->arena || (uint8_t *)b >= bc->arena + bc->used) {
		*err = jit_translate(bc->jit, b, NULL, &uses_ops);
		return *err ? NULL : b;
	}
	if (bc->hot_used + bytes > bc->hot_max) {
		*err = -ENOSPC;
		return NULL;
	}
	if (bc->used + bc->hot_used + bytes > bc->size) {
		*err = -EAGAIN;
		return NULL;
	}
	/* the whole copy's place, where the code names operations if it does */
	nb = (struct block *)(void *)(bc->arena + bc->size - bc->hot_used - bytes);
	*err = jit_translate(bc->jit, b, nb, &uses_ops);
	if (*err)
		return NULL;
	if (!uses_ops) {
		bytes = sizeof(struct block);
		nb = (struct block *)(void *)(bc->arena + bc->size - bc->hot_used - bytes);
	}
	memcpy(nb, b, bytes);
	b->jit = NULL;
	bc->hot_used += bytes;
	for (pp = &bc->ht[ht_index(b->vpc, b->priv)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == b) {
			*pp = nb;
			break;
		}
	}
	if (bc->jc[b->priv][jc_index(b->vpc)] == b)
		bc->jc[b->priv][jc_index(b->vpc)] = nb;
	b->dead = 1;
	return nb;
}

const void *exec_jit_next(struct hart *h, uint64_t pc)
{
	struct block_cache *bc = h->bc;
	struct block *b;
	uint64_t ppa;
	uint8_t *host;

	if (mmu_fetch(h, pc, &ppa, &host))
		return NULL; /* the dispatcher takes the fault */
	unsigned key = exec_key(h);

	for (b = bc->ht[ht_index(pc, key)]; b; b = b->hnext)
		if (b->vpc == pc && b->priv == key && b->ppa == ppa)
			break;
	/* Only a current translated block (as lookup_slow checks it); a stale one is for
	 * the dispatcher, which decodes it again. */
	if (!b || !b->jit || b->gen != block_gen(h, b))
		return NULL;
	if (b->fence_epoch != bc->fence_epoch) { /* first use since a fence.i */
		if (hash_code(host, b->bytes) != b->hash)
			return NULL;
		b->fence_epoch = bc->fence_epoch;
	}
	remember(bc, key, pc, b);
	bc->stat_relink++;
	return b->jit;
}

/* Builds the one-instruction block for the instruction at pc into bc->cross: one that
 * straddles a page, or one at an execute trigger's address. */
static int build_one(struct hart *h, uint64_t pc)
{
	struct block *b = &h->bc->cross;
	uint64_t ppa, ppa2;
	uint8_t *lo, *hi;
	uint32_t raw;
	struct insn in;
	int r;

	r = mmu_fetch(h, pc, &ppa, &lo);
	if (r)
		return r;
	raw = read16(lo);
	if (decode_insn_len((uint16_t)raw) == 4) {
		if (((pc + 2) & 0xfff) == 0) {
			r = mmu_fetch(h, pc + 2, &ppa2, &hi);
			if (r)
				return r;
		} else {
			hi = lo + 2;
		}
		raw |= (uint32_t)read16(hi) << 16;
	}
	decode(raw, &in);
	b->vpc = pc;
	b->ppa = ppa;
	b->bytes = (uint16_t)in.len;
	b->n = 1;
	b->priv = (uint8_t)exec_key(h);
	b->jit = NULL; /* reached again only through a branch to itself (same_block) */
	b->heat = 0;
	fill_op(&b->ops[0], &in, decode_op_flags(in.kind), pc, 0);
	fill_pseudo(&b->ops[1], OP_BLOCK_NEXT, (uint16_t)in.len);
	return 0;
}

/* The raw bits of the instruction at pc, for mtval on illegal instructions. */
static uint64_t refetch_insn(struct hart *h, uint64_t pc)
{
	uint64_t ppa;
	uint8_t *p, *p2;
	uint32_t raw;

	if (mmu_fetch(h, pc, &ppa, &p))
		return 0;
	raw = read16(p);
	if ((raw & 3) != 3)
		return raw;
	if (((pc + 2) & 0xfff) == 0) {
		if (mmu_fetch(h, pc + 2, &ppa, &p2))
			return 0;
		return raw | ((uint32_t)read16(p2) << 16);
	}
	return raw | ((uint32_t)read16(p + 2) << 16);
}

static inline void note_store(struct hart *h, uint8_t *p, unsigned size)
{
	if (unlikely(__atomic_load_n(&h->code_pages[(p - h->ram) >> 12], __ATOMIC_RELAXED)))
		mmu_store_hook(h, p, size);
}

int hart_run(struct hart *h)
{
	static const void *const labels[OP__COUNT] = {
#define X(name, flags) [OP_##name] = &&L_##name,
#define XF(name)       [OP_##name] = &&L_FPU,
#include "cpu/ops.def"
#undef X
#undef XF
	};
	uint64_t *const x = h->x;
	struct block_cache *const bc = h->bc;
	const struct op *op = NULL;
	struct block *b = NULL;
	struct block **jc = bc->jc[exec_key(h)];
	uint64_t pc = h->pc, exc_tval, icount = h->instret;
	int exc_cause;
	/* Traps taken since the last poll: a trap handler whose first instruction faults
	 * (mtvec at a hole, or at a faulting load) retires nothing, and polls, which come
	 * by retired instructions, would never come: no timer, no stop, no --timeout. */
	unsigned traps = 0;

	/* The host FPU's sticky flags are per thread and fold into fflags (fpu.c): start
	 * this thread from the guest's values, not from whatever host code left there. */
	fpu_set_fflags(h, h->fflags);

#define RD  x[op->rd]
#define RS1 x[op->rs1]
#define RS2 x[op->rs2]
#define NEXT()                                                                                     \
	do {                                                                                       \
		op++;                                                                              \
		goto *labels[op->kind];                                                            \
	} while (0)
#define JUMP(target)                                                                               \
	do {                                                                                       \
		pc = (target);                                                                     \
		goto next_block;                                                                   \
	} while (0)
#define OP_PC() (b->vpc + op->off)
#define RAISE(cause, tval)                                                                         \
	do {                                                                                       \
		exc_cause = (cause);                                                               \
		exc_tval = (tval);                                                                 \
		goto exception;                                                                    \
	} while (0)
#define RAISE_ILLEGAL() RAISE(EXC_ILLEGAL, refetch_insn(h, OP_PC()))
#define FORCE_POLL()	__atomic_store_n(&h->poll_at, 0, __ATOMIC_RELAXED)

#define LOAD(T, size)                                                                              \
	{                                                                                          \
		uint64_t va = RS1 + (uint64_t)op->imm;                                             \
		const struct tlb_entry *e = &h->dtlb[(va >> 12) & TLB_MASK];                       \
		if (likely(e->tag == (va & (~0xfffull | ((size)-1))))) {                           \
			RD = (uint64_t)__atomic_load_n((const T *)(e->addend + va),                \
						       __ATOMIC_RELAXED);                          \
		} else {                                                                           \
			uint64_t v_;                                                               \
			int r_ = mmu_load(h, va, size, &v_);                                       \
			if (unlikely(r_))                                                          \
				RAISE(r_, h->fault_tval);                                          \
			RD = (uint64_t)(T)v_;                                                      \
		}                                                                                  \
		NEXT();                                                                            \
	}
#define STORE(T, size, val)                                                                        \
	{                                                                                          \
		uint64_t va = RS1 + (uint64_t)op->imm;                                             \
		struct tlb_entry *e = &h->dtlb_w[(va >> 12) & TLB_MASK];                           \
		if (likely(__atomic_load_n(&e->tag, __ATOMIC_RELAXED) ==                           \
			   (va & (~0xfffull | ((size)-1))))) {                                     \
			uint8_t *p_ =                                                              \
				(uint8_t *)(__atomic_load_n(&e->addend, __ATOMIC_RELAXED) + va);   \
			__atomic_store_n((T *)(void *)p_, (T)(val), __ATOMIC_RELAXED);             \
			note_store(h, p_, size);                                                   \
		} else {                                                                           \
			int r_ = mmu_store(h, va, size, (uint64_t)(val));                          \
			if (unlikely(r_))                                                          \
				RAISE(r_, h->fault_tval);                                          \
		}                                                                                  \
		NEXT();                                                                            \
	}
/* A branch taken before the block's last op (a side exit) did not run the ops after it,
 * which the count at block entry included. */
#define BRANCH(cond)                                                                               \
	{                                                                                          \
		unsigned after_ = (unsigned)(b->n - 1 - (op - b->ops));                            \
		if (cond) {                                                                        \
			icount -= after_;                                                          \
			pc = (uint64_t)op->imm;                                                    \
			/* a loop onto this block: no lookup (but for a hand-over's scratch        \
			 * block, whose pc has a translated block or will have one) */             \
			if (pc == b->vpc && b != &bc->scratch)                                     \
				goto same_block;                                                   \
			goto next_block;                                                           \
		}                                                                                  \
		if (after_)                                                                        \
			NEXT();                                                                    \
		JUMP(block_end(b));                                                                \
	}
#define FP_CHECK()                                                                                 \
	do {                                                                                       \
		if (unlikely(!hart_fs_on(h)))                                                      \
			RAISE_ILLEGAL();                                                           \
	} while (0)

poll:
	h->pc = pc;
	h->instret = icount;
	if (exec_poll(h))
		return 0;
	pc = h->pc;
	icount = h->instret;
	__atomic_store_n(&h->poll_at, icount + POLL_INSNS, __ATOMIC_RELAXED);
	jc = bc->jc[exec_key(h)];
	goto lookup;

next_block:
	if (unlikely(icount >= __atomic_load_n(&h->poll_at, __ATOMIC_RELAXED)))
		goto poll;
lookup:
	b = jc[jc_index(pc)];
	if (unlikely(!b || b->vpc != pc)) {
		int r = 0;
		b = lookup_slow(h, pc, &r);
		if (unlikely(!b)) {
			h->pc = pc;
			/* an instruction address breakpoint outranks fetch faults */
			if (unlikely(h->trig_exec) && trig_exec_fires(h, pc)) {
				r = EXC_BREAKPOINT;
				h->fault_tval = pc;
			}
			hart_exception(h, (uint64_t)r, h->fault_tval);
			pc = h->pc;
			jc = bc->jc[exec_key(h)];
			goto trapped;
		}
	}
	goto enter_block;

trapped:
	if (unlikely(++traps >= TRAPS_PER_POLL)) {
		traps = 0;
		goto poll;
	}
	goto next_block;

same_block:
	if (unlikely(icount >= __atomic_load_n(&h->poll_at, __ATOMIC_RELAXED)))
		goto poll;
enter_block:
	if (b->jit)
		goto run_jit;
	if (bc->jit && ++b->heat == bc->jit_hot && !bc->idle_trimmed) {
		int r;
		struct block *nb = translate_hot(bc, b, &r);
		if (nb) {
			b = nb;
			if (unlikely(jit_blocks(bc->jit) - bc->mark_blocks >= JIT_CHECK_EVERY))
				jit_checkpoint(h, icount);
			goto run_jit;
		}
		if (r == -ENOSPC) { /* code buffer full: start over with both caches empty */
			cache_full(h, icount);
			goto lookup;
		}
		if (r == -EAGAIN) { /* no room for the copy: drop the cold blocks (b stays due) */
			cold_full(h);
			goto lookup;
		}
	}
	if (bc->jit) {
		bc->stat_interp_insns += b->n;
		if (unlikely(bc->idle_trimmed) && b->heat == bc->jit_hot)
			b->heat = 0; /* idle: its wakes stay interpreted (idle_trim) */
		else if (b->heat > bc->jit_hot && b->heat < SCRATCH_HEAT) /* translation failed */
			bc->stat_untranslated[b->ops[0].kind]++;
	}
	icount += b->n;
	op = b->ops;
	goto *labels[op->kind];

run_jit:
	switch (jit_run(bc->jit, h, b->jit, &icount)) {
	case JIT_EXIT_INTERP: {
		uint64_t info = h->jit_exit_info;
		int r;

		/* The block's operations from there on, decoded again, run as a block of
		 * their own (which counts itself at entry). */
		pc = h->jit_exit_pc;
		icount -= JIT_INFO_UNCOUNT(info);
		bc->stat_exit[JIT_INFO_KIND(info)]++;
		b = scratch_block(h, pc, &r);
		if (unlikely(!b)) {
			h->pc = pc;
			hart_exception(h, (uint64_t)r, h->fault_tval);
			pc = h->pc;
			jc = bc->jc[exec_key(h)];
			goto trapped;
		}
		bc->stat_interp_insns += b->n;
		icount += b->n;
		op = b->ops;
		goto *labels[op->kind];
	}
	case JIT_EXIT_TRAP: /* (the trap may change privilege) */
		bc->stat_leave++;
		pc = h->pc;
		jc = bc->jc[exec_key(h)];
		goto trapped;
	default: /* JIT_EXIT_PC */
		bc->stat_leave++;
		pc = h->pc;
		jc = bc->jc[exec_key(h)];
		goto next_block;
	}

exception:
	h->pc = OP_PC();
	icount -= (uint64_t)(b->n - (op - b->ops));
	hart_exception(h, (uint64_t)exc_cause, exc_tval);
	pc = h->pc;
	jc = bc->jc[exec_key(h)];
	goto trapped;

L_ILLEGAL:
	RAISE_ILLEGAL();
L_LUI:
	RD = (uint64_t)op->imm;
	NEXT();
L_AUIPC:
	RD = (uint64_t)op->imm;
	NEXT();
L_JAL:
	RD = block_end(b);
	JUMP((uint64_t)op->imm);
L_JALR : {
	uint64_t t = (RS1 + (uint64_t)op->imm) & ~1ull;
	RD = block_end(b);
	JUMP(t);
}
L_BEQ:
	BRANCH(RS1 == RS2);
L_BNE:
	BRANCH(RS1 != RS2);
L_BLT:
	BRANCH((int64_t)RS1 < (int64_t)RS2);
L_BGE:
	BRANCH((int64_t)RS1 >= (int64_t)RS2);
L_BLTU:
	BRANCH(RS1 < RS2);
L_BGEU:
	BRANCH(RS1 >= RS2);
L_LB:
	LOAD(int8_t, 1);
L_LH:
	LOAD(int16_t, 2);
L_LW:
	LOAD(int32_t, 4);
L_LD:
	LOAD(uint64_t, 8);
L_LBU:
	LOAD(uint8_t, 1);
L_LHU:
	LOAD(uint16_t, 2);
L_LWU:
	LOAD(uint32_t, 4);
L_SB:
	STORE(uint8_t, 1, RS2);
L_SH:
	STORE(uint16_t, 2, RS2);
L_SW:
	STORE(uint32_t, 4, RS2);
L_SD:
	STORE(uint64_t, 8, RS2);
L_ADDI:
	RD = RS1 + (uint64_t)op->imm;
	NEXT();
L_SLTI:
	RD = (int64_t)RS1 < op->imm;
	NEXT();
L_SLTIU:
	RD = RS1 < (uint64_t)op->imm;
	NEXT();
L_XORI:
	RD = RS1 ^ (uint64_t)op->imm;
	NEXT();
L_ORI:
	RD = RS1 | (uint64_t)op->imm;
	NEXT();
L_ANDI:
	RD = RS1 & (uint64_t)op->imm;
	NEXT();
L_SLLI:
	RD = RS1 << op->imm;
	NEXT();
L_SRLI:
	RD = RS1 >> op->imm;
	NEXT();
L_SRAI:
	RD = (uint64_t)((int64_t)RS1 >> op->imm);
	NEXT();
L_ADD:
	RD = RS1 + RS2;
	NEXT();
L_SUB:
	RD = RS1 - RS2;
	NEXT();
L_SLL:
	RD = RS1 << (RS2 & 63);
	NEXT();
L_SLT:
	RD = (int64_t)RS1 < (int64_t)RS2;
	NEXT();
L_SLTU:
	RD = RS1 < RS2;
	NEXT();
L_XOR:
	RD = RS1 ^ RS2;
	NEXT();
L_SRL:
	RD = RS1 >> (RS2 & 63);
	NEXT();
L_SRA:
	RD = (uint64_t)((int64_t)RS1 >> (RS2 & 63));
	NEXT();
L_OR:
	RD = RS1 | RS2;
	NEXT();
L_AND:
	RD = RS1 & RS2;
	NEXT();
L_ADDIW:
	RD = sext32(RS1 + (uint64_t)op->imm);
	NEXT();
L_SLLIW:
	RD = sext32((uint32_t)RS1 << op->imm);
	NEXT();
L_SRLIW:
	RD = sext32((uint32_t)RS1 >> op->imm);
	NEXT();
L_SRAIW:
	RD = (uint64_t)(int64_t)((int32_t)RS1 >> op->imm);
	NEXT();
L_ADDW:
	RD = sext32(RS1 + RS2);
	NEXT();
L_SUBW:
	RD = sext32(RS1 - RS2);
	NEXT();
L_SLLW:
	RD = sext32((uint32_t)RS1 << (RS2 & 31));
	NEXT();
L_SRLW:
	RD = sext32((uint32_t)RS1 >> (RS2 & 31));
	NEXT();
L_SRAW:
#ifdef LODGE_MUTANT_SRAW
	/* Deliberately wrong, for the differential suite's mutation check (tests/diff/
	 * suite.sh), which must notice: the word is shifted in logically (as srlw). */
	RD = sext32((uint32_t)RS1 >> (RS2 & 31));
#else
	RD = (uint64_t)(int64_t)((int32_t)RS1 >> (RS2 & 31));
#endif
	NEXT();
L_FENCE:
	if (op->imm) /* the rest is the host's own order (x86 TSO) */
		gmem_barrier();
	NEXT();
L_FENCE_I:
	/* Blocks (and their translations) stay; each is checked against memory by its
	 * content hash on its first lookup after this (lookup_slow). */
	bc->fence_epoch++;
	exec_flush_jumps(h);
	JUMP(block_end(b));
L_ECALL:
	RAISE(h->priv == PRV_U ? EXC_ECALL_U : h->priv == PRV_S ? EXC_ECALL_S : EXC_ECALL_M, 0);
L_EBREAK:
	RAISE(EXC_BREAKPOINT, OP_PC());

	/* CSR instructions end their block: a write may change translation or interrupts. */
#define CSR_INSN(kind, src, write)                                                                 \
	{                                                                                          \
		uint64_t old_, src_ = (src);                                                       \
		h->instret = icount;                                                               \
		if (csr_op(h, (unsigned)op->imm, kind, src_, write, &old_))                        \
			RAISE_ILLEGAL();                                                           \
		icount = h->instret;                                                               \
		RD = old_;                                                                         \
		if (write)                                                                         \
			FORCE_POLL();                                                              \
		JUMP(block_end(b));                                                                \
	}
L_CSRRW:
	CSR_INSN(CSR_RW, RS1, true);
L_CSRRS:
	CSR_INSN(CSR_RS, RS1, op->rs1 != 0);
L_CSRRC:
	CSR_INSN(CSR_RC, RS1, op->rs1 != 0);
L_CSRRWI:
	CSR_INSN(CSR_RW, op->rs1, true);
L_CSRRSI:
	CSR_INSN(CSR_RS, op->rs1, op->rs1 != 0);
L_CSRRCI:
	CSR_INSN(CSR_RC, op->rs1, op->rs1 != 0);
L_MRET:
	if (hart_mret(h))
		RAISE_ILLEGAL();
	FORCE_POLL();
	jc = bc->jc[exec_key(h)];
	JUMP(h->pc);
L_SRET:
	if (hart_sret(h))
		RAISE_ILLEGAL();
	FORCE_POLL();
	jc = bc->jc[exec_key(h)];
	JUMP(h->pc);
L_WFI:
	if (h->priv < PRV_M && (h->mstatus & MSTATUS_TW))
		RAISE_ILLEGAL();
	if (h->priv != PRV_U) /* in U-mode wfi completes at once (a bounded time) */
		h->wfi = true;
	pc = block_end(b);
	goto poll;
L_SFENCE_VMA:
	if (h->priv == PRV_U || (h->priv == PRV_S && (h->mstatus & MSTATUS_TVM)))
		RAISE_ILLEGAL();
	if (op->rs1 != 0) {
		mmu_flush_va(h, RS1);
		exec_flush_jumps_page(h, RS1);
	} else {
		mmu_flush_all(h);
		exec_flush_jumps(h);
	}
	JUMP(block_end(b));
L_MUL:
	RD = RS1 * RS2;
	NEXT();
L_MULH:
	RD = mulh_ss(RS1, RS2);
	NEXT();
L_MULHSU:
	RD = mulh_su(RS1, RS2);
	NEXT();
L_MULHU:
	RD = mulh_uu(RS1, RS2);
	NEXT();
L_DIV:
	RD = div_s(RS1, RS2);
	NEXT();
L_DIVU:
	RD = div_u(RS1, RS2);
	NEXT();
L_REM:
	RD = rem_s(RS1, RS2);
	NEXT();
L_REMU:
	RD = rem_u(RS1, RS2);
	NEXT();
L_MULW:
	RD = sext32(RS1 * RS2);
	NEXT();
L_DIVW:
	RD = divw_s(RS1, RS2);
	NEXT();
L_DIVUW:
	RD = divw_u(RS1, RS2);
	NEXT();
L_REMW:
	RD = remw_s(RS1, RS2);
	NEXT();
L_REMUW:
	RD = remw_u(RS1, RS2);
	NEXT();

	/* A: LR/SC and the AMOs (cpu/atomics.c, shared with the JIT). */
L_LR_W:
L_SC_W:
L_AMOSWAP_W:
L_AMOADD_W:
L_AMOXOR_W:
L_AMOAND_W:
L_AMOOR_W:
L_AMOMIN_W:
L_AMOMAX_W:
L_AMOMINU_W:
L_AMOMAXU_W:
L_LR_D:
L_SC_D:
L_AMOSWAP_D:
L_AMOADD_D:
L_AMOXOR_D:
L_AMOAND_D:
L_AMOOR_D:
L_AMOMIN_D:
L_AMOMAX_D:
L_AMOMINU_D:
L_AMOMAXU_D : {
	uint64_t v;
	int r;
	if (op->imm) /* lr.rl: earlier stores before its load (cpu/decode.c, dec_amo) */
		gmem_barrier();
	r = hart_amo(h, op->kind, RS1, RS2, &v);
	if (unlikely(r))
		RAISE(r, h->fault_tval);
	RD = v;
	NEXT();
}

	/* F/D loads and stores: rd/rs2 name f registers; binary32 values are NaN-boxed. */
L_FLW : {
	uint64_t va = RS1 + (uint64_t)op->imm, v;
	const struct tlb_entry *e = &h->dtlb[(va >> 12) & TLB_MASK];
	FP_CHECK();
	if (likely(e->tag == (va & (~0xfffull | 3)))) {
		v = __atomic_load_n((const uint32_t *)(e->addend + va), __ATOMIC_RELAXED);
	} else {
		int r = mmu_load(h, va, 4, &v);
		if (unlikely(r))
			RAISE(r, h->fault_tval);
	}
	h->f[op->rd] = 0xffffffff00000000ull | (uint32_t)v;
	hart_fs_dirty(h);
	NEXT();
}
L_FLD : {
	uint64_t va = RS1 + (uint64_t)op->imm, v;
	const struct tlb_entry *e = &h->dtlb[(va >> 12) & TLB_MASK];
	FP_CHECK();
	if (likely(e->tag == (va & (~0xfffull | 7)))) {
		v = __atomic_load_n((const uint64_t *)(e->addend + va), __ATOMIC_RELAXED);
	} else {
		int r = mmu_load(h, va, 8, &v);
		if (unlikely(r))
			RAISE(r, h->fault_tval);
	}
	h->f[op->rd] = v;
	hart_fs_dirty(h);
	NEXT();
}
L_FSW:
	FP_CHECK();
	STORE(uint32_t, 4, h->f[op->rs2]);
L_FSD:
	FP_CHECK();
	STORE(uint64_t, 8, h->f[op->rs2]);
L_FPU:
	FP_CHECK();
	if (unlikely(
		    fpu_exec(h, (enum op_kind)op->kind, op->rd, op->rs1, op->rs2, op->rs3, op->rm)))
		RAISE_ILLEGAL();
	NEXT();

L_BLOCK_NEXT:
	JUMP(block_end(b));
L_BLOCK_CROSS : {
	int r;
	pc = block_end(b); /* (an execute trigger here would have ended the block before) */
	r = build_one(h, pc);
	goto run_one;
L_TRIGGER:
	/* Before the instruction at an execute trigger's address (the block has no other
	 * op and counts none): the breakpoint, or the instruction on its own. */
	pc = b->vpc;
	if (trig_exec_fires(h, pc))
		RAISE(EXC_BREAKPOINT, pc);
	r = build_one(h, pc);
run_one:
	if (unlikely(r)) {
		h->pc = pc;
		hart_exception(h, (uint64_t)r, h->fault_tval);
		pc = h->pc;
		jc = bc->jc[exec_key(h)];
		goto next_block;
	}
	b = &bc->cross;
	icount += 1;
	op = b->ops;
	goto *labels[op->kind];
}
}
