/*
 * The destination of a post-copy migration (docs/SNAPSHOT.md "Post-copy"), for system VMs
 * (machine/migrate.c: guest RAM) and WebAssembly programs (wasm/snap/postcopy.c: a linear
 * memory) alike. The target is one page-aligned mapping: the pages DISCARD names are
 * holes in it, registered with a userfaultfd (missing mode); a first touch of one waits in
 * the kernel while a thread asks the source for the page ("RQ") and puts it in place
 * (UFFDIO_COPY, which wakes the waiter). Pages the source streams meanwhile go in the
 * same way; at its second DONE (all there) the thread answers "PE" once "OK" went.
 *
 * The source is untrusted: a page not missing, a malformed section, DONE with pages
 * missing are refused; a source that is silent, trickles a section (each must arrive
 * within SNAP_STREAM_TIMEOUT_S of its first byte, plus its length at
 * SNAP_STREAM_MIN_RATE), or sends fewer than SNAP_PC_MIN_PAGES pages in a
 * SNAP_STREAM_TIMEOUT_S while it owes pages (after "OK", or pages asked for) is given up
 * on: the thread ends with the reason, and the target cannot go on (its memory is
 * incomplete).
 */
#ifndef LODGE_SNAPSHOT_POSTCOPY_H
#define LODGE_SNAPSHOT_POSTCOPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot/snapshot.h"

#define SNAP_PC_MIN_PAGES 16 /* pages a source owing some sends at least per timeout */

/* Walks a PAGES section: its u32 count (1..SNAP_PC_BATCH), then per page its u64 index
 * (bit 63 set: a zero page, no bytes follow) and SNAP_PAGE_SIZE bytes. Calls put(ctx,
 * page, bytes or NULL for a zero page) for each; -EINVAL for a page at or past npages, a
 * short, empty or overlong section, or what put refuses with -EINVAL (its other errors
 * pass through). The reader of the format for pre-copy and post-copy. */
#define SNAP_PC_BATCH 256
int snap_pages_walk(const uint8_t *p, size_t len, uint64_t npages,
		    int (*put)(void *ctx, uint64_t page, const uint8_t *bytes), void *ctx)
	__attribute__((warn_unused_result));

struct snap_pc_in;

/* How the thread ended, other than by snap_pc_in_fini's stop. */
struct snap_pc_end {
	int r;		  /* 0: every page arrived (and "PE" went); else -errno */
	const char *why;  /* r != 0: what went wrong, one line */
	uint64_t missing; /* pages still missing */
	uint64_t asked;	  /* pages asked for */
	uint64_t ns;	  /* since snap_pc_in_start */
	bool over;	  /* snap_pc_in_fini began (the target is ending anyway) */
};

struct snap_pc_target {
	uint8_t *base;	   /* the memory (page-aligned) */
	uint64_t npages;   /* its pages: what DISCARD must name */
	uint64_t reserved; /* bytes registered from base (>= npages pages; more read as zero) */
	bool *flag;	   /* set while pages arrive (the memory's own "post-copy" flag) */
	/* Called on the thread as it ends (not after a stop); on failure the target cannot
	 * go on. */
	void (*end)(void *ctx, const struct snap_pc_end *e);
	void *ctx;
};

/* POSTCOPY: makes a userfaultfd for later (user_only: for user-mode accesses alone) and
 * answers the source on fd (ready or not). Returns 0, or -errno with one line (this host
 * cannot; or the answer failed): *out is then NULL. */
int snap_pc_in_new(int fd, bool user_only, struct snap_pc_in **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* DISCARD: the pages still at the source; `exact`: the section must name max_pages pages,
 * else at most max_pages. 0 or -EINVAL / -ENOMEM with err. */
int snap_pc_in_discard(struct snap_pc_in *in, const uint8_t *p, size_t len, uint64_t max_pages,
		       bool exact, char *err, size_t errlen) __attribute__((warn_unused_result));
bool snap_pc_in_discarded(const struct snap_pc_in *in);
/* The pages DISCARD named. */
uint64_t snap_pc_in_npages(const struct snap_pc_in *in);
/* Drops the copies of the pages DISCARD named from t's memory, registers it and starts
 * the thread that serves its holes. 0 or -errno with err (the target must not run). */
int snap_pc_in_start(struct snap_pc_in *in, const struct snap_pc_target *t, char *err,
		     size_t errlen) __attribute__((warn_unused_result));
/* Answers "OK" with the stream's nonce (the target runs here). 0 or -errno. */
int snap_pc_in_ack(struct snap_pc_in *in, const uint8_t nonce[SNAP_STREAM_NONCE])
	__attribute__((warn_unused_result));
/* The pages not here yet; whether pages still arrive (any thread). */
uint64_t snap_pc_in_missing(const struct snap_pc_in *in);
bool snap_pc_in_active(const struct snap_pc_in *in);
/* Ends it and frees in (NULL: no-op). `wait`: once "OK" went, the thread takes the rest
 * (the source learns that everything arrived); else it stops at once. */
void snap_pc_in_fini(struct snap_pc_in *in, bool wait);

#endif
