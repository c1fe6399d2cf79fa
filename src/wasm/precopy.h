/*
 * Pre-copy live migration of a WebAssembly program's linear memory (docs/SNAPSHOT.md,
 * "WebAssembly live migration"). The source sends the memory while the program runs,
 * then round after round the pages it wrote meanwhile, found by the kernel: the memory
 * is registered with a userfaultfd in asynchronous write-protect mode and each round
 * asks /proc/self/pagemap (PAGEMAP_SCAN, Linux 6.7) for the pages written since the
 * last and write-protects them again in the same call. Then the program pauses, the
 * rest goes and the instance's state follows as a snapshot file without the memory
 * (wasm_snapshot_save_state). The destination collects the pages and fills the
 * restored memory with them (wasm_snapshot.pages).
 *
 * The stream: header, SNAP_SEC_PAGES sections (page index in the memory, bit 63 an
 * all-zero page), FILE sections, DONE; answered "OK" as a stop-and-copy stream is.
 */
#ifndef LODGE_WASM_PRECOPY_H
#define LODGE_WASM_PRECOPY_H

#include "wasm/wasm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opens /proc/self/pagemap and /proc/self/mem for later rounds (on descriptors >= min_fd),
 * before a sandbox hides /proc; once. Any errors show at wasm_precopy_start. */
void wasm_precopy_preopen(int min_fd);

struct wasm_precopy;

/* Starts tracking writes to inst's memory (the program may run). Returns 0, or -errno
 * with one line in err (-EOPNOTSUPP: this host cannot track them). */
int wasm_precopy_start(struct wasm_instance *inst, struct wasm_precopy **out, char *err,
		       size_t errlen) __attribute__((warn_unused_result));

/* One round: sends on fd every page written since the last round (the first: every
 * page that is not zero). `parked`: the program is paused, so pages are read in place;
 * otherwise they are read through /proc/self/mem, which fails cleanly where the memory
 * moved (memory.grow) meanwhile: those pages go again. *pages: how many were sent.
 * Returns 0 or -errno (the stream's). */
int wasm_precopy_round(struct wasm_precopy *t, int fd, bool parked, uint64_t *pages)
	__attribute__((warn_unused_result));

/* The same with each PAGES section given to put (ctx, SNAP_SEC_PAGES, payload, length),
 * whose nonzero return ends the round: replication keeps a checkpoint's pages in memory
 * (wasm/replicate.h). */
typedef int (*wasm_precopy_put_fn)(void *ctx, uint32_t type, const void *p, size_t len);
int wasm_precopy_round_to(struct wasm_precopy *t, wasm_precopy_put_fn put, void *ctx, bool parked,
			  uint64_t *pages) __attribute__((warn_unused_result));

/* Post-copy (wasm/postcopy.h), the program parked, instead of the last round: *bits
 * (t's own, valid until wasm_precopy_stop) marks every page of the memory's *npages the
 * destination does not have (written since it was sent, or never sent: all of them
 * before the first round), *base where the memory is. Returns 0 or -errno. */
int wasm_precopy_missing(struct wasm_precopy *t, uint8_t **base, uint64_t **bits, uint64_t *npages)
	__attribute__((warn_unused_result));

/* Bytes sent so far. */
uint64_t wasm_precopy_bytes(const struct wasm_precopy *t);

/* Stops tracking (the memory's pages become plainly writable again) and frees t. NULL
 * is a no-op. */
void wasm_precopy_stop(struct wasm_precopy *t);

/* The destination's collection of pages (wasm_snapshot.pages/present/npages). */
struct wasm_precopy_in {
	uint8_t *pages; /* address space for max_bytes, pages filled as they come */
	uint64_t *present;
	uint64_t npages;
	uint64_t received; /* pages taken, repeats included */
	uint64_t sections; /* PAGES sections: not 0 for a pre-copy stream, even an empty one */
};

/* Reserves room for a memory of up to max_bytes. Returns 0 or -ENOMEM. */
int wasm_precopy_in_init(struct wasm_precopy_in *in, uint64_t max_bytes)
	__attribute__((warn_unused_result));
/* A snap_stream_other_fn (snapshot/snapshot.h) for snap_stream_recv_file_cb: takes
 * PAGES sections into `opaque` (a wasm_precopy_in), refuses anything else and any
 * page outside the room. */
int wasm_precopy_in_section(void *opaque, uint32_t type, const uint8_t *p, size_t len, char *err,
			    size_t errlen) __attribute__((warn_unused_result));
/* Whether a PAGES payload would be taken whole (every page inside the room, the length
 * exact), without taking it: a replication standby checks a checkpoint before it applies
 * any of it. Returns 0 or -EINVAL with err. */
int wasm_precopy_in_check(struct wasm_precopy_in *in, const uint8_t *p, size_t len, char *err,
			  size_t errlen) __attribute__((warn_unused_result));
void wasm_precopy_in_fini(struct wasm_precopy_in *in);

#endif
