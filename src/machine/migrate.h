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

#include <stddef.h>
#include <stdint.h>

struct vm;
struct vm_config;

struct vm_migrate_stats {
	unsigned rounds;      /* pre-copy rounds, the first (all of RAM) included */
	uint64_t pages;	      /* pages sent, zero pages included */
	uint64_t blocks;      /* disk blocks sent (DISK_TRACK_BLOCK bytes), zero ones included */
	uint64_t bytes;	      /* bytes sent */
	uint64_t total_ns;    /* connect to acknowledgement */
	uint64_t downtime_ns; /* pause to acknowledgement (the destination then runs) */
};

/* Control thread (not a hart's or the I/O thread), the machine running or paused:
 * migrates it to `dest` ("HOST:PORT"). On success the destination runs the machine and
 * this one stays paused: the caller ends it. On failure (destination unreachable, gone,
 * refusing, too slow) the machine runs on as before (paused if it was) and err says
 * why. Writable disks: the destination says how they move (vm_incoming): on shared
 * storage this machine closes its images once paused and the destination opens them
 * then (a failure after that opens them here again); or their blocks are copied with the
 * RAM into the destination's own images. Returns 0 or -errno. */
int vm_migrate(struct vm *vm, const char *dest, struct vm_migrate_stats *st, char *err,
	       size_t errlen) __attribute__((warn_unused_result));

/* The same over a connected stream socket `fd` (taken: closed on return), e.g. one the
 * daemon connected and handed over; `dest` names the peer in messages. The socket's
 * timeouts are the caller's (the daemon sets them before it hands the socket over). */
int vm_migrate_fd(struct vm *vm, int fd, const char *dest, struct vm_migrate_stats *st, char *err,
		  size_t errlen) __attribute__((warn_unused_result));

/* Main thread: listens on `addr` ("HOST:PORT"), takes one migration stream, creates the
 * machine it describes (`tmpl` gives the host settings: timeout, JIT, console) and loads
 * it, acknowledges, and returns it ready to run in *out. A malformed stream is refused:
 * -EINVAL (or -errno) with one line in err, nothing left behind. Writable disks: with
 * tmpl->disk_paths (one per such disk, in order, each of the source's disk's size) their
 * blocks are copied into those images; without, the machine opens the source's images
 * (shared storage) once the source has closed them. */
int vm_incoming(const char *addr, const struct vm_config *tmpl, struct vm **out, char *err,
		size_t errlen) __attribute__((warn_unused_result));

/* The same on a connected socket `fd` (not closed). Any thread. */
int vm_incoming_fd(int fd, const struct vm_config *tmpl, struct vm **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
