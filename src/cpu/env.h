/*
 * What a hart may ask of the machine it runs in. The board fills one struct hart_env and
 * hands it to every hart (TinyEMU's shape: the CPU is given its physical memory and a few
 * callbacks and never sees the board). cpu/ includes nothing from machine/ or devices/;
 * devices reach a hart only through hart_set_irq() and hart_set_timecmp(), which the
 * board wires to interrupt lines.
 *
 * Threads: fields are set before harts start and read-only afterwards, except the clock,
 * which the board stops while the machine is paused and moves forward when it resumes, so
 * that guest time does not jump (hart_env_clock_set).
 */
#ifndef LODGE_CPU_ENV_H
#define LODGE_CPU_ENV_H

#include <stdbool.h>
#include <stdint.h>

struct bus;
struct gmem;
struct hart;

/* The machine's time base: `time` (CLINT mtime) counts 10 MHz ticks from start_ns, host
 * CLOCK_MONOTONIC, and stands at paused_ns while paused. The two change together under
 * seq, a sequence count readers retry on (writers are rare: create, pause, resume). */
struct hart_clock {
	uint64_t start_ns;  /* atomic: host time at which `time` was 0 */
	uint64_t paused_ns; /* atomic: host time the pause began, 0 when running */
	unsigned seq;	    /* atomic: odd while the clock is being changed */
};

/* The most harts one env can have (the board's limit is the same or lower). */
#define HART_ENV_MAX 32

struct hart_env {
	struct gmem *mem; /* RAM, code-page flags and generations, the code epoch */
	struct bus *bus;  /* MMIO regions */
	unsigned nharts;  /* harts sharing this env (they split the caches' budgets) */
	unsigned jit_hot; /* translate a block after this many entries; 0 = no JIT */
	/* The budget of decoded blocks, and the same again of translated code, for all
	 * harts together (bytes; 0: ARENA_BUDGET and JIT_BUDGET, cpu/block.h) */
	uint64_t jit_cache;
	struct hart_clock clock;
	uint64_t deadline_ns; /* host time at which the machine stops (--timeout), 0 = none */
	/* Hart thread, at its periodic poll: machine-wide work (timeout, panic, pause).
	 * Returns true when the hart must return from hart_run. */
	bool (*poll)(struct hart_env *env, struct hart *h, uint64_t now_ns);
	/* Hart thread: a store hit a page flagged GMEM_PAGE_WATCH (HTIF tohost). */
	void (*watch_hit)(struct hart_env *env, uint64_t pa);
	/* The harts made with this env, registered by hart_init (before any runs), so that
	 * a hart that flags a page as code can drop the others' write-TLB entries for it
	 * (cpu/mmu.c, mmu_code_flag). The board leaves these zero. */
	struct hart *harts[HART_ENV_MAX];
	unsigned linked;
	unsigned wtlb_scans; /* atomic: mmu_code_flag scans under way (cpu/mmu.c) */
};

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t hart_env_now_ns(void);

/* The machine's time in 10 MHz ticks (paused time left out). Any thread. */
uint64_t hart_env_time(const struct hart_env *env);

/* The host time (ns) at which the machine's time reaches `ticks`, for sleeping until a
 * timer deadline; UINT64_MAX when out of range. Any thread. */
uint64_t hart_env_time_to_host(const struct hart_env *env, uint64_t ticks);

/* Sets the clock (one writer at a time: the board serialises). */
void hart_env_clock_set(struct hart_env *env, uint64_t start_ns, uint64_t paused_ns);

#endif
