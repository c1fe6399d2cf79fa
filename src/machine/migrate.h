/*
 * Live migration of a running machine to another Lodge process over TCP, pre-copy
 * (docs/SNAPSHOT.md "Live migration"): RAM is sent while the guest runs, then again the
 * pages it wrote meanwhile (gmem's dirty log), round after round until what is left is
 * small; then the machine pauses, the rest of RAM, every hart's and device's state and
 * the clock go, and the source waits for the destination's acknowledgement. The stream
 * is the snapshot's sections (snapshot/snapshot.h), checked as untrusted input.
 */
#ifndef LODGE_MACHINE_MIGRATE_H
#define LODGE_MACHINE_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vm_config;

/* How to migrate (NULL: pre-copy at full speed). */
struct vm_migrate_opts {
	/* Post-copy: after precopy_rounds rounds (0: none, the machine pauses at once) the
	 * machine pauses, its state goes and it runs at the destination, which fetches the
	 * pages still missing from here on first touch while the rest stream in behind.
	 * It ends when every page is there; a failure after the switch loses the machine
	 * (the source cannot run on: the destination has run it). */
	bool post_copy;
	unsigned precopy_rounds;
	uint64_t max_bandwidth; /* bytes per second on the stream (0: no limit) */
};

struct vm_migrate_stats {
	unsigned rounds;      /* pre-copy rounds, the first (all of RAM) included */
	uint64_t pages;	      /* pages sent, zero pages included */
	uint64_t blocks;      /* disk blocks sent (DISK_TRACK_BLOCK bytes), zero ones included */
	uint64_t bytes;	      /* bytes sent */
	uint64_t total_ns;    /* connect to acknowledgement */
	uint64_t downtime_ns; /* pause to acknowledgement (the destination then runs) */
	uint64_t post_pages;  /* post-copy: pages sent after the switch */
	uint64_t requested;   /* post-copy: of those, asked for by the destination (faults) */
};

/* The error of a post-copy migration that failed after the switch: the machine is
 * neither here (paused, its state gone) nor whole there; the caller stops it. */
#define VM_MIGRATE_LOST ENOTRECOVERABLE

/* Control thread (not a hart's or the I/O thread), the machine running or paused:
 * migrates it to `dest` ("HOST:PORT"). On success the destination runs the machine and
 * this one stays paused: the caller ends it. On failure (destination unreachable, gone,
 * refusing, too slow) the machine runs on as before (paused if it was) and err says
 * why. Writable disks: the destination says how they move (vm_incoming_fd): on shared
 * storage this machine closes its images once paused and the destination opens them
 * then (a failure after that opens them here again); or their blocks are copied with the
 * RAM into the destination's own images. Returns 0 or -errno. */
int vm_migrate(struct vm *vm, const char *dest, const struct vm_migrate_opts *o,
	       struct vm_migrate_stats *st, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The same over a connected stream socket `fd` (taken: closed on return), e.g. one the
 * daemon connected and handed over; `dest` names the peer in messages. The socket's
 * timeouts are the caller's (the daemon sets them before it hands the socket over). */
int vm_migrate_fd(struct vm *vm, int fd, const char *dest, const struct vm_migrate_opts *o,
		  struct vm_migrate_stats *st, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Takes one migration stream on the connected socket `fd` (not closed; the caller
 * accepted it: snap_stream_accept), creates the machine it describes (`tmpl` gives the
 * host settings: timeout, JIT, console) and loads it, acknowledges, and returns it ready
 * to run in *out. Any thread. A malformed stream is refused: -EINVAL (or -errno) with one
 * line in err, nothing left behind. Writable disks: with tmpl->disk_paths (one per such
 * disk, in order, each of the source's disk's size) their blocks are copied into those
 * images; without, the machine opens the source's images (shared storage) once the
 * source has closed them. A post-copy stream returns the machine ready to run with pages
 * still missing: a thread of its own (on a duplicate of `fd`) fetches them on first
 * touch (userfaultfd) and takes the rest as they come; if the source goes away first the
 * machine stops with VM_STOP_ERROR. */
int vm_incoming_fd(int fd, const struct vm_config *tmpl, struct vm **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Whether pages are still arriving (post-copy), and the end of that (vm_destroy: stops
 * the thread; a machine whose pages are missing must not run any more). */
bool vm_postcopy_active(const struct vm *vm);
void vm_postcopy_fini(struct vm *vm);

#endif
