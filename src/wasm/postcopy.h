/*
 * Post-copy live migration of a WebAssembly program (docs/SNAPSHOT.md, "Post-copy" under
 * "WebAssembly programs"), as system VMs have it (machine/migrate.c): the source pauses
 * the program after its pre-copy rounds (wasm/precopy.h), names the linear-memory pages
 * the destination does not have yet (DISCARD) and sends the state without them; the
 * destination restores it, leaves those pages as holes in a range registered with a
 * userfaultfd (missing mode), answers "OK" and runs the program at once. A first touch
 * of a hole (translated code, the interpreter, or the kernel through WASI, which
 * wasm_memory_range faults in first) waits while a thread asks the source for the page
 * ("RQ") and puts it in place (UFFDIO_COPY); the source streams the other pages behind
 * the ones asked for, then DONE, and the destination answers "PE" once it has them all.
 */
#ifndef LODGE_WASM_POSTCOPY_H
#define LODGE_WASM_POSTCOPY_H

#include "wasm/wasm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ----- the source ----- */

/* Whether inst's memory can go by post-copy: 0, or -EOPNOTSUPP with one line (it has no
 * guard region, so memory.grow could move it at the destination). */
int wasm_postcopy_check(struct wasm_instance *inst, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Sends POSTCOPY on fd and takes the destination's answer. 0, or -errno with one line
 * (-ECONNABORTED: it cannot). */
int wasm_postcopy_offer(int fd, char *err, size_t errlen) __attribute__((warn_unused_result));

/* DISCARD's payload (core_free it) for pages bits[0..npages): u64 npages, then the bits in u64
 * words. */
int wasm_postcopy_discard(uint64_t npages, const uint64_t *bits, uint8_t **out, size_t *len)
	__attribute__((warn_unused_result));

struct wasm_postcopy_stats {
	uint64_t pages;	    /* sent after the switch */
	uint64_t requested; /* of those, asked for */
	uint64_t bytes;
	uint64_t t_run; /* CLOCK_MONOTONIC ns of the destination's "OK" (0: none came) */
};

/* After the state and its DONE went on fd, the program parked here: answers the
 * destination's requests for pages first, streams the other pages of bits (cleared as
 * they go) from the memory at base behind them, at most `rate` bytes per second (0: no
 * limit), then DONE; returns 0 once the destination has them all ("PE"). -errno
 * otherwise; st->t_run says whether the program ran there (then it is lost here). Its "OK"
 * must repeat the stream's `nonce` (SNAP_STREAM_NONCE bytes; -EPROTO otherwise: no Lodge
 * destination). */
int wasm_postcopy_serve(int fd, const uint8_t *base, uint64_t *bits, uint64_t npages, uint64_t rate,
			const uint8_t *nonce, int ack_ms, struct wasm_postcopy_stats *st)
	__attribute__((warn_unused_result));

/* ----- the destination ----- */

struct wasm_postcopy_in;

/* POSTCOPY: a userfaultfd for later (fd: the stream), and the answer to the source.
 * Returns 0, or -errno with one line (this host cannot: the source was told so). */
int wasm_postcopy_in_new(int fd, struct wasm_postcopy_in **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* DISCARD: the pages still at the source (at most room_pages). 0 or -EINVAL with err. */
int wasm_postcopy_in_discard(struct wasm_postcopy_in *in, const uint8_t *p, size_t len,
			     uint64_t room_pages, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Whether DISCARD came. */
bool wasm_postcopy_in_discarded(const struct wasm_postcopy_in *in);

/* Called by the thread when the source is lost with pages still missing (after it
 * logged why): the program cannot go on. Not called once wasm_postcopy_in_fini began. */
typedef void (*wasm_postcopy_lost_fn)(void *ctx);

/* With inst restored (its memory's pages received so far in place): drops the pages
 * DISCARD named, registers the memory's mapping and starts the thread that serves its
 * holes. Returns 0 or -errno with err (the program must not run then). */
int wasm_postcopy_in_start(struct wasm_postcopy_in *in, struct wasm_instance *inst,
			   wasm_postcopy_lost_fn lost, void *ctx, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Answers "OK" with the stream's nonce (the program runs here). 0 or -errno. */
int wasm_postcopy_in_ack(struct wasm_postcopy_in *in, const uint8_t *nonce)
	__attribute__((warn_unused_result));
/* How many pages DISCARD named that have not arrived yet (the thread's count). */
uint64_t wasm_postcopy_in_missing(const struct wasm_postcopy_in *in);
/* Whether pages are still arriving. Any thread. */
bool wasm_postcopy_in_active(const struct wasm_postcopy_in *in);
/* Ends it and frees in (NULL: no-op). `wait`: the program is over; let the thread take
 * the rest (the source learns that everything arrived), else stop it at once. */
void wasm_postcopy_in_fini(struct wasm_postcopy_in *in, bool wait);

#endif
