/*
 * Decoded blocks and the per-hart block cache: private to the interpreter (exec.c) and
 * the JIT (jit/), which translates a decoded block to host code.
 */
#ifndef LODGE_CPU_BLOCK_H
#define LODGE_CPU_BLOCK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define BLOCK_MAX 64
#define JC_BITS	  12
#define HT_BITS	  15
/* Decoded blocks of all harts share a budget (memory beyond guest RAM is a goal: a few
 * MiB); a hart whose arena fills drops its blocks and decodes again what it still runs. */
#define ARENA_BUDGET (2u << 20)
#define ARENA_MIN    (1u << 20)
/* Translated code (cpu/jit) has a budget of its own, split the same way. */
#define JIT_BUDGET (2u << 20)
#define JIT_MIN	   (1u << 20)
/* A hart that retired fewer than IDLE_TRIM_INSNS instructions in the IDLE_TRIM_NS (or
 * more) before it went to sleep in wfi is idle: it gives its decoded blocks and
 * translated code back to the host (exec.c, idle_trim). */
#define IDLE_TRIM_NS	1000000000ull
#define IDLE_TRIM_INSNS 2000000ull
#define POLL_INSNS	32768 /* about 15 us translated, 60 us interpreted */
/* Instructions a translation must retire, on average between two cache flushes, for
 * translating to pay (one costs several thousand interpreted instructions, mostly the
 * system call that installs it); below that the hot threshold doubles, up to JIT_HOT_MAX. */
#define JIT_PAYBACK	1024
#define JIT_HOT_MAX	4096
#define JIT_CHECK_EVERY 2048 /* translations between checks of what they retired */
#define JC_PRIVS	4    /* one table per privilege level (U, S, -, M) */
#define JC_LOG		512  /* jc slots remembered for a cheap flush */

struct jit;

struct op {
	const void *h; /* handler label */
	int64_t imm;
	uint8_t rd, rs1, rs2, rs3;
	uint8_t kind, rm;
	uint16_t off; /* byte offset of this instruction from the block's pc */
};

struct block {
	uint64_t vpc, ppa, end_pc;
	const uint32_t *genp; /* the physical page's write generation */
	uint32_t gen;
	uint32_t fence_epoch; /* bc->fence_epoch when last known to match memory */
	uint64_t hash;	      /* of the instruction bytes, to revalidate after fence.i */
	const void *jit;      /* translated host code, or NULL */
	uint32_t heat;	      /* entries through the dispatcher while not translated */
	uint16_t bytes;	      /* instruction bytes decoded (up to end_pc) */
	uint16_t n;	      /* instructions (the terminating pseudo-op is not one) */
	uint8_t priv;
	struct block *hnext;
	struct op ops[];
};

struct block_cache {
	struct block *jc[JC_PRIVS][1u << JC_BITS];
	struct block *ht[1u << HT_BITS];
	/* The jc slots filled since the last flush (priv << JC_BITS | index), so that a flush
	 * (Linux does one per context switch) clears those instead of all 4 x 4096; when
	 * more than JC_LOG were filled, the flush clears everything. */
	uint16_t jc_log[JC_LOG];
	unsigned jc_logged;
	uint8_t *arena;
	size_t used, size;
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
	uint64_t stat_relink;  /* exec_jit_next found the successor for translated code */
	uint64_t stat_trims;   /* idle_trim: both caches given back to the host */
	/* idle_trim's window: when it began, and the instructions retired by then. */
	uint64_t idle_mark_ns, idle_mark_instret;
	/* A one-instruction block for an instruction that straddles two pages. */
	struct block cross;
	struct op cross_ops[2];
};

_Static_assert(JC_PRIVS << JC_BITS <= 65536, "jc_log entries fit in 16 bits");

static inline unsigned jc_index(uint64_t pc)
{
	return (unsigned)(pc >> 1) & ((1u << JC_BITS) - 1);
}

#endif
