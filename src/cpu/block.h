/*
 * Decoded blocks and the per-hart block cache: private to the interpreter (exec.c) and
 * the JIT (jit/), which translates a decoded block to host code.
 */
#ifndef LODGE_CPU_BLOCK_H
#define LODGE_CPU_BLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLOCK_MAX 64
#define JC_BITS	  12
/* The hash table of a hart's blocks: a few thousand live at once (the arena holds ~2,000
 * cold and ~3,000 hot ones), so 8,192 chains keep them ~1 deep in 64 KiB, which stays in
 * the host's cache; 32,768 (256 KiB) made most look-ups a cache miss. */
#define HT_BITS 13

/* Forward conditional branches a block may pass (side exits) before one ends it. */
#define SIDE_EXITS 3

/* Decoded blocks of all harts share a budget (memory beyond guest RAM is a goal: a few
 * MiB). A hart's arena has two parts: blocks are decoded into the cold part, from its
 * start up, and copied to the hot part, from its end down, when translated: the header
 * alone (64 bytes), or the whole block when its code passes operations to helpers
 * (cpu/jit/jit.h, jit_translate); a hand-over from translated code to the interpreter
 * decodes the guest code again (exec.c, scratch_block). The cold part has what the hot
 * part does not use. When the cold part fills, only it is dropped: translated blocks and
 * their code stay. When the hot part reaches its most or the code buffer fills,
 * everything is dropped and decoded again as it runs. */
#define ARENA_BUDGET (2u << 20)
#define ARENA_MIN    (1u << 20)
/* Of a hart's share of the budget, the arena takes 11/16: the hot part at most 3/16 of
 * the share, so the cold part at least half. Most code of a Linux guest under I/O (its
 * block, network and interrupt paths) runs once or twice between fills of the cold part
 * and is decoded again at each: with the cold part fixed at a quarter (and the hot part
 * at half) it filled ~800 times a second per hart under fio. A smaller hot part fills
 * sooner (a full flush), but it also caps translated code (about 3.4 bytes per byte of
 * hot blocks since ops are 16 bytes), which counts in the RSS beyond guest RAM (issue 9,
 * docs/INTERNALS.md): with 16-byte ops a hot quarter let a Debian boot's code grow by
 * 0.5 MiB, so the hot part and the arena are smaller by as much as that. */
#define ARENA_SIXTEENTHS     11
#define ARENA_HOT_SIXTEENTHS 3
/* When the cold part fills, the blocks entered at least COLD_KEEP_HEAT times since they
 * were decoded (or last kept) are not dropped but moved to its front, up to a
 * 1 / 2^COLD_KEEP_SHIFT of it; their heat is halved, so code not run again goes at a later
 * fill, and code run now and then still reaches jit_hot. Most blocks of a Linux boot run
 * once or twice per fill: the rest were being decoded again after every one. */
#define COLD_KEEP_HEAT	2
#define COLD_KEEP_SHIFT 1
/* Translated code (cpu/jit) has a budget of its own, split the same way (a hart's share at
 * least JIT_MIN); the code buffer takes JIT_SIXTEENTHS of the share. With the hot part
 * holding headers, the code buffer is what fills, and what it holds is resident: at the
 * whole share it filled to ~94% before each flush, and a Debian boot's RSS beyond guest
 * RAM grew by ~1 MiB (8.4 MiB with 1 hart, 8.6 with 2, against issue 9's 8); at 11/16,
 * 7.9 and 8.2; at 10/16, 7.6 and 7.9 (bench/boot-debian, 2 runs each). */
#define JIT_BUDGET     (2u << 20)
#define JIT_MIN	       (1u << 20)
#define JIT_SIXTEENTHS 10
/* A hart that retired fewer than IDLE_TRIM_INSNS instructions in the IDLE_TRIM_NS (or
 * more) before it went to sleep in wfi is idle: it gives its decoded blocks and
 * translated code back to the host (exec.c, idle_trim). */
#define IDLE_TRIM_NS	1000000000ull
#define IDLE_TRIM_INSNS 2000000ull
#define POLL_INSNS	32768 /* about 15 us translated, 60 us interpreted */
#define TRAPS_PER_POLL	4096  /* traps taken that retire nothing also poll (exec.c) */
/* Instructions a translation must retire, on average between two cache flushes, for
 * translating to pay (one costs several thousand interpreted instructions, mostly the
 * system call that installs it); below that the hot threshold doubles, up to JIT_HOT_MAX. */
#define JIT_PAYBACK	1024
#define JIT_HOT_MAX	4096
#define JIT_CHECK_EVERY 2048 /* translations between checks of what they retired */
/* Direct jumps between translated blocks (cpu/jit, chain_to): each costs a system call
 * (code is written through its memfd) and a flush of the pc -> block table for a change
 * of translation or of code (a Linux context switch, sfence.vma, fence.i) undoes them
 * all. So h->link_budget counts in units of LINK_COST per jump, refilled by one unit per
 * POLL_INSNS instructions retired (exec.c, link_refill) up to LINK_BUDGET_MAX: a burst of
 * 32 jumps, then one per LINK_COST x POLL_INSNS instructions (a million). The exits that
 * find budget are mostly the hottest ones, which look up most often. */
#define LINK_COST	32
#define LINK_BUDGET_MAX (32 * LINK_COST)
/* Blocks are keyed by (virtual pc, key): the key is the privilege level (U 0, S 1, M 3),
 * but S-mode with mstatus.SUM set has a key of its own, KEY_S_SUM (2, no privilege
 * level), so that kernel code run both with and without access to user pages (Linux's
 * uaccess windows, its trap entry) has a block and a translation for each: a translated
 * block reads its data regime's TLB at a fixed offset behind a guard at entry (cpu/jit),
 * which would otherwise hand every entry in the other SUM state to the interpreter.
 * SUM changes only at a CSR write, which forces a poll, where the dispatcher takes the
 * key again (exec.c, exec_key). */
#define KEY_S_SUM 2
#define JC_PRIVS  4   /* one table per key (U, S, S with SUM, M) */
#define JC_LOG	  512 /* jc slots remembered for a cheap flush */
/* A filter of the virtual pages that blocks in the pc -> block table start in: a bit per
 * hash of the page number, set by every fill (remember) and cleared only with the whole
 * table and the direct jumps (a new link epoch: cold_full empties the table but keeps
 * both). An sfence.vma of one page whose bit is clear has nothing to drop: no table
 * entry and no direct jump between translated blocks (made only to blocks found in the
 * table, and dropped with the table) is for a block of that page. A Linux boot fences
 * ~100,000 single pages, nearly all of them pages where no block starts; each used to
 * clear half of the table (a page's pcs fill half of its slots) and undo every direct
 * jump. */
#define JC_PAGE_BITS 12

struct jit;

/* A decoded instruction: 16 bytes, so that the arena holds more blocks (a Linux guest's
 * code does not fit it: every fill of the cold part means decoding again). The
 * interpreter dispatches on kind through its table of handler labels. */
struct op {
	int64_t imm;
	uint8_t rd, rs1, rs2, rs3;
	uint8_t kind, rm;
	uint16_t off; /* byte offset of this instruction from the block's pc */
};
_Static_assert(sizeof(struct op) == 16, "struct op stays 16 bytes");

struct block {
	uint64_t vpc, ppa;
	uint32_t gen;	      /* the physical page's write generation (exec.c, block_gen) */
	uint32_t fence_epoch; /* bc->fence_epoch when last known to match memory */
	uint64_t hash;	      /* of the instruction bytes, to revalidate after fence.i */
	const void *jit;      /* translated host code, or NULL */
	uint32_t heat;	      /* entries through the dispatcher while not translated */
	uint16_t bytes;	      /* instruction bytes decoded (up to block_end) */
	uint16_t n;	      /* instructions (the terminating pseudo-op is not one) */
	uint8_t priv;	      /* the key: privilege level, or KEY_S_SUM (JC_PRIVS) */
	uint8_t dead;	      /* a hot block unlinked from ht (stale): not linked again */
	struct block *hnext;
	struct op ops[];
};

_Static_assert(sizeof(struct block) == 64, "a block's header stays one cache line");

/* The pc after the block's last instruction. */
static inline uint64_t block_end(const struct block *b)
{
	return b->vpc + b->bytes;
}

struct block_cache {
	struct block *jc[JC_PRIVS][1u << JC_BITS];
	struct block *ht[1u << HT_BITS];
	/* The jc slots filled since the last flush (priv << JC_BITS | index), so that a flush
	 * (Linux does one per context switch) clears those instead of all 4 x 4096; when
	 * more than JC_LOG were filled, the flush clears everything. */
	uint16_t jc_log[JC_LOG];
	unsigned jc_logged;
	uint64_t jc_pages[(1u << JC_PAGE_BITS) / 64]; /* the filter of pages (JC_PAGE_BITS) */
	/* The arena, `size` bytes: cold blocks in [0, used), hot ones in
	 * [size - hot_used, size); hot_used stays at most hot_max. */
	uint8_t *arena;
	size_t used, size, hot_max, hot_used;
	uint32_t fence_epoch; /* bumped by fence.i */
	pthread_mutex_t lock; /* wfi sleep */
	pthread_cond_t cond;
	struct jit *jit;       /* NULL when the JIT is off */
	unsigned jit_hot;      /* dispatcher entries before a block is translated ... */
	unsigned jit_hot_base; /* ... as configured (--jit-hot); more while thrashing */
	/* At the last cache_full (exec.c): translations so far and instructions retired. */
	uint64_t mark_blocks, mark_icount;
	/* Statistics (--stats): where translated code handed over to the interpreter, by the
	 * operation's kind (JIT_EXIT_INTERP), entries of blocks the JIT could not translate
	 * (by their first operation), and instructions the interpreter ran. */
	uint64_t stat_exit[256];
	uint64_t stat_untranslated[256];
	uint64_t stat_interp_insns;
	uint64_t stat_leave;   /* JIT_EXIT_PC: no translated successor, or a poll due */
	uint64_t stat_flushes; /* cache_full: both caches dropped */
	uint64_t stat_cold;    /* cold_full: the cold part of the arena dropped */
	uint64_t stat_decoded; /* blocks decoded (build_block) */
	uint64_t stat_relink;  /* exec_jit_next found the successor for translated code */
	uint64_t stat_trims;   /* idle_trim: both caches given back to the host */
	uint64_t stat_links;   /* jit_link: direct jumps written into code */
	/* idle_trim's window: when it began, and the instructions retired by then; and
	 * whether this idle period has been trimmed (cleared by a busy window). */
	uint64_t idle_mark_ns, idle_mark_instret;
	bool idle_trimmed;
	uint64_t link_mark; /* h->instret when the link budget last grew (exec.c, link_refill) */
	/* A one-instruction block for an instruction that straddles two pages. */
	struct block cross;
	struct op cross_ops[2];
	/* Where the interpreter takes over from translated code (exec.c, scratch_block);
	 * scratch_ok: it holds a decoded block (cleared by exec_flush_all). */
	struct block scratch;
	struct op scratch_ops[BLOCK_MAX + 1];
	bool scratch_ok;
};

/* The heat of bc->scratch: past any jit_hot (and 2^31 entries from wrapping), so that it is
 * not translated. */
#define SCRATCH_HEAT 0x80000000u

_Static_assert(JC_PRIVS << JC_BITS <= 65536, "jc_log entries fit in 16 bits");

static inline unsigned jc_index(uint64_t pc)
{
	return (unsigned)(pc >> 1) & ((1u << JC_BITS) - 1);
}

/* The bit of the page filter (JC_PAGE_BITS) for the page of virtual address va. */
static inline unsigned jc_page_bit(uint64_t va)
{
	return (unsigned)(((va >> 12) * 0x9e3779b97f4a7c15ull) >> (64 - JC_PAGE_BITS));
}

/* Bytes a block of n instructions (and its terminating pseudo-op) takes in the arena. */
static inline size_t block_bytes(unsigned n)
{
	return (sizeof(struct block) + (n + 1) * sizeof(struct op) + 15) & ~(size_t)15;
}

#endif
