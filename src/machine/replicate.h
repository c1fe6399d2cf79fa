/*
 * Continuous replication of a running machine to a standby, and failover (the Remus
 * design; docs/SNAPSHOT.md "Replication"). The primary pauses every interval, copies the
 * RAM pages written since the last checkpoint (gmem's dirty log), the disk blocks written
 * (disk_written_take), every hart's and device's state and the clock, resumes, and sends
 * that checkpoint over the migration stream's sections. Output the guest sends out
 * (console, network frames) is held back until the standby acknowledges the checkpoint
 * that covers it. The standby stages each checkpoint and commits it (RAM and its own
 * copy of the disks) only once it arrived whole and checksummed; when the primary's
 * stream dies it resumes the guest from the last committed checkpoint, at once
 * (automatic failover) or when asked to (vm_standby_failover).
 */
#ifndef LODGE_MACHINE_REPLICATE_H
#define LODGE_MACHINE_REPLICATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vm_config;

#define VM_REPL_MIN_INTERVAL_MS 5
#define VM_REPL_MAX_INTERVAL_MS 60000

struct vm_repl_stats {
	bool active;		 /* checkpoints are being taken and acknowledged */
	uint64_t checkpoints;	 /* acknowledged, the first (all of RAM) included */
	uint64_t first_pause_ns; /* paused for the first checkpoint (the pre-copy's rest) */
	uint64_t pause_last_ns;	 /* paused for the last checkpoint (the first one apart) */
	uint64_t pause_max_ns;
	uint64_t pause_total_ns; /* over checkpoints - 1 */
	uint64_t rpo_last_ns;	 /* between the last two acknowledged checkpoints */
	uint64_t rpo_max_ns;
	uint64_t rpo_total_ns; /* summed over checkpoints - 1 intervals */
	uint64_t bytes;	       /* sent */
	uint64_t first_ns;     /* the first checkpoint: connect to acknowledgement */
	char error[256];       /* why replication stopped, or "" */
};

struct vm_repl;

/* Control thread, the machine running or paused: connects to `dest` ("HOST:PORT"; or
 * uses the connected socket `fd` >= 0, taken), sends the first checkpoint (all of RAM,
 * pre-copied with the guest running, and every disk block written since the disks were
 * opened), and once the standby has acknowledged it, keeps taking one every
 * `interval_ms` on a thread of its own. Returns 0 with *out, or -errno with one line in
 * err (the machine then runs on as before, its output no longer held). */
int vm_replicate_start(struct vm *vm, const char *dest, int fd, unsigned interval_ms,
		       struct vm_repl **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Any thread. */
void vm_replicate_stats(struct vm_repl *r, struct vm_repl_stats *out);

/* Ends replication (NULL is a no-op): the thread stops after the checkpoint in flight;
 * with `done` (the guest stopped for good) the standby is told so and exits instead of
 * taking over. Held output is released. The machine must still exist. */
void vm_replicate_stop(struct vm_repl *r, bool done);

struct vm_standby_opts {
	const char *const *disks; /* the standby's copies of the writable disks, in order */
	unsigned ndisks;
	bool auto_failover;    /* take over when the stream dies or falls silent */
	unsigned heartbeat_ms; /* silence that counts as dead (auto; at least 2 intervals) */
};

struct vm_standby;

/* Main thread: stands by on the connected stream `fd` (not taken). */
int vm_standby_create(int fd, const struct vm_standby_opts *o, struct vm_standby **out)
	__attribute__((warn_unused_result));

/* Main thread: receives the machine and its checkpoints, creating the machine (`tmpl`
 * gives the host settings) on the way, until the stream ends. Then, if a checkpoint was
 * committed, waits for vm_standby_failover (unless auto) and returns 0 with the machine
 * loaded from the last committed checkpoint in *out, ready to run. -ENODATA: the primary
 * ended replication (its guest stopped); anything else: -errno with one line in err. */
int vm_standby_run(struct vm_standby *s, const struct vm_config *tmpl, struct vm **out, char *err,
		   size_t errlen) __attribute__((warn_unused_result));

/* Any thread: take over now (the stream, if alive, is cut). */
void vm_standby_failover(struct vm_standby *s);

/* Checkpoints committed so far; any thread. */
uint64_t vm_standby_committed(struct vm_standby *s);

void vm_standby_destroy(struct vm_standby *s);

#endif
