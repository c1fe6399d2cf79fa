/*
 * Continuous replication of a running WebAssembly program to a standby process, and
 * failover (the Remus design, as machine/replicate.h does it for system VMs;
 * docs/SNAPSHOT.md "Replication"). Every interval the primary pauses the program where
 * its state can be saved, copies the pages of its memory written since the last
 * checkpoint (wasm/precopy.h's tracking: userfaultfd write-protect and PAGEMAP_SCAN) and
 * its state without the memory (wasm_snapshot_save_state), resumes it, and sends that
 * checkpoint. What the program writes to its stdio meanwhile is held (wasi_set_hold)
 * until the standby acknowledges the checkpoint that covers it. The standby stages each
 * checkpoint and commits it only once it arrived whole; when the primary's stream ends it
 * takes over from the last committed one: at once (automatic failover) or when asked to.
 *
 * The stream: the migration stream's header, REPLICATE (u32 version 3, u32 interval in
 * ms, u32 0; first, where a system VM's stream has MACHINE), then checkpoints: EPOCH n,
 * PAGES (wasm/precopy.h), FSJ (the program's directory records, wasm/wasi/journal.c:
 * checkpoint 0's carry their whole content), FILE (the state file's bytes), COMMIT (u64 n, u32
 * sections since EPOCH, u32 CRC-32 of their payloads), each answered "CK" and u64 n; DONE
 * when the program ended on the primary.
 */
#ifndef LODGE_WASM_REPLICATE_H
#define LODGE_WASM_REPLICATE_H

#include "wasm/precopy.h"
#include "wasm/wasm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wasi;

struct wasm_repl_stats {
	bool active;		 /* checkpoints are being taken and acknowledged */
	uint64_t checkpoints;	 /* acknowledged, the first included */
	uint64_t first_pause_ns; /* paused for the first checkpoint */
	uint64_t pause_last_ns;	 /* paused for the last checkpoint (the first one apart) */
	uint64_t pause_max_ns;
	uint64_t pause_total_ns; /* over checkpoints - 1 */
	uint64_t rpo_last_ns;	 /* between the last two acknowledged checkpoints */
	uint64_t rpo_max_ns;
	uint64_t rpo_total_ns; /* over checkpoints - 1 intervals */
	uint64_t bytes;	       /* sent */
	uint64_t first_ns;     /* the first checkpoint: start to acknowledgement */
	uint64_t held_max;     /* the most output held at once (bytes) */
	char error[256];       /* why replication stopped, or "" */
};

/* What the primary's caller does for a checkpoint (cli/cmd_wasm.c). park pauses the
 * program where its state can be saved (a program the user paused stays so): 0, or
 * -EAGAIN with err when it did not get there in time (it is resumed; the next interval
 * tries again). unpark undoes park. save writes the state without the memory to path. */
struct wasm_repl_hooks {
	void *opaque;
	int (*park)(void *opaque, char *err, size_t errlen);
	void (*unpark)(void *opaque);
	int (*save)(void *opaque, const char *path, char *err, size_t errlen);
};

struct wasm_repl;

/* Starts replicating inst (run through WASI w, which must have no sockets of its own
 * nor wasi-threads; its directories go with it, wasi_journal_begin) to dest ("HOST:PORT"; over the
 * connected socket fd >= 0 instead, taken), every interval_ms: sends the first checkpoint (the
 * memory pre-copied while the program runs) and returns once the standby acknowledged it; a thread
 * of its own takes the next ones. `path`: a file for the state at each checkpoint. Returns 0 with
 * *out, or -errno with one line in err (-EOPNOTSUPP: this program or host cannot be replicated);
 * the program then runs on as before. Worker thread. */
int wasm_replicate_start(struct wasm_instance *inst, struct wasi *w,
			 const struct wasm_repl_hooks *h, const char *dest, int fd,
			 unsigned interval_ms, const char *path, struct wasm_repl **out, char *err,
			 size_t errlen) __attribute__((warn_unused_result));

/* Any thread. */
void wasm_replicate_stats(struct wasm_repl *r, struct wasm_repl_stats *out);

/* Ends replication and frees r (NULL is a no-op): the thread stops after the checkpoint
 * in flight, the held output goes out. With `done` (the program ended) the standby is
 * told so and ends instead of taking over. The program must not be in a WASI call (it
 * ended, or it is parked); not on a thread that park waits for. */
void wasm_replicate_stop(struct wasm_repl *r, bool done);

struct wasm_standby;

/* Stands by on the connected stream fd (not taken). auto_failover: take over as soon as
 * the stream ends or is silent for heartbeat_ms (0: the default, 2 s). */
int wasm_standby_create(int fd, bool auto_failover, unsigned heartbeat_ms,
			struct wasm_standby **out) __attribute__((warn_unused_result));

/* Receives the checkpoints into in (the program's memory, wasm_precopy_in_init'd) until
 * the stream ends, then, if one was committed, waits for wasm_standby_failover (unless
 * automatic) and writes the last committed state to path (restore it with in's pages:
 * wasm_snapshot.pages). Returns 0, -ENODATA (the program ended on the primary: err says
 * so) or -errno with one line in err. */
int wasm_standby_run(struct wasm_standby *s, struct wasm_precopy_in *in, const char *path,
		     char *err, size_t errlen) __attribute__((warn_unused_result));

/* Its own copies of the program's directories (wasi_mirror_create; taken, freed with
 * s). Without them the program must have no directories. Before wasm_standby_run. */
struct wasi_mirror;
void wasm_standby_set_dirs(struct wasm_standby *s, struct wasi_mirror *m);

/* Any thread: take over now (the stream, if alive, is cut). */
void wasm_standby_failover(struct wasm_standby *s);

/* Checkpoints committed so far. Any thread. */
uint64_t wasm_standby_committed(struct wasm_standby *s);

void wasm_standby_destroy(struct wasm_standby *s);

#endif
