/*
 * Host clocks in nanoseconds, for deadlines, durations and statistics. Threads: any.
 */
#ifndef LODGE_CORE_CLOCK_H
#define LODGE_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Clock `id` (CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, ...) in ns. */
static inline uint64_t core_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC in ns: what deadlines and durations use (a change of the wall clock
 * does not move it). */
static inline uint64_t core_now_ns(void)
{
	return core_clock_ns(CLOCK_MONOTONIC);
}

#endif
