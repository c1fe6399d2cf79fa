/*
 * What a hart may ask of the machine it runs in. The board fills one struct hart_env and
 * hands it to every hart (TinyEMU's shape: the CPU is given its physical memory and a few
 * callbacks and never sees the board). cpu/ includes nothing from machine/ or devices/;
 * devices reach a hart only through hart_set_irq() and hart_set_timecmp(), which the
 * board wires to interrupt lines.
 *
 * Threads: fields are set before harts start and read-only afterwards, except start_ns,
 * which the board moves forward (atomically) when the machine resumes from a pause, so that
 * guest time does not jump.
 */
#ifndef LODGE_CPU_ENV_H
#define LODGE_CPU_ENV_H

#include <stdbool.h>
#include <stdint.h>

struct bus;
struct gmem;
struct hart;

struct hart_env {
	struct gmem *mem;     /* RAM, code-page flags and generations, the code epoch */
	struct bus *bus;      /* MMIO regions */
	unsigned nharts;      /* harts sharing this env (they split the caches' budgets) */
	unsigned jit_hot;     /* translate a block after this many entries; 0 = no JIT */
	uint64_t start_ns;    /* atomic: host CLOCK_MONOTONIC time at which `time` was 0 */
	uint64_t deadline_ns; /* host time at which the machine stops (--timeout), 0 = none */
	/* Hart thread, at its periodic poll: machine-wide work (timeout, panic, pause).
	 * Returns true when the hart must return from hart_run. */
	bool (*poll)(struct hart_env *env, struct hart *h, uint64_t now_ns);
	/* Hart thread: a store hit a page flagged GMEM_PAGE_WATCH (HTIF tohost). */
	void (*watch_hit)(struct hart_env *env, uint64_t pa);
};

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t hart_env_now_ns(void);

#endif
